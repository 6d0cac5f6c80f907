/*
 * bench/slow_raw.h - concurrent_slow's raw-libcurl floor (slow_raw.c).
 */
#ifndef HL_BENCH_SLOW_RAW_H
#define HL_BENCH_SLOW_RAW_H

/* HTTP/2 settings of the floor (NULL: HTTP/1.1, one connection per
 * session in flight). */
typedef struct slow_raw_h2 {
  long max_streams;          /* CURLMOPT_MAX_CONCURRENT_STREAMS per connection */
  long max_host_connections; /* CURLMOPT_MAX_HOST_CONNECTIONS (0: none) */
  long buffer_size;          /* CURLOPT_BUFFERSIZE per transfer */
  bool one_connection;       /* libcurl < 7.89.0: every session multiplexed on one
                                h2c connection, opened by session 0 (slow_raw.c) */
} slow_raw_h2;

/* Run `n` sessions of two sequential requests each (scenario (b)'s bodies)
 * against the mock server at `url` on this thread, spread over `multis`
 * multi handles (HTTP/1.1) or multiplexed over HTTP/2 (`h2` not NULL: one
 * multi handle; with prior knowledge on http://, negotiated by ALPN on
 * https://); `ca_file` (may be NULL): the CA to trust for https://.
 * latency_us[i] gets session i's latency in microseconds (< 0: failed).
 * Returns the number of failed sessions. Not thread-safe (one call at a
 * time). */
int slow_raw_curl(const char *url, int n, int multis, const slow_raw_h2 *h2, const char *ca_file,
                  double *latency_us);

#endif
