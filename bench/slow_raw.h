/*
 * bench/slow_raw.h - concurrent_slow's raw-libcurl floor (slow_raw.c).
 */
#ifndef HL_BENCH_SLOW_RAW_H
#define HL_BENCH_SLOW_RAW_H

/* Run `n` sessions of two sequential requests each (scenario (b)'s bodies)
 * against the mock server at `url` on this thread, spread over `multis`
 * multi handles; latency_us[i] gets session i's latency in microseconds
 * (< 0: failed). Returns the number of failed sessions. Not thread-safe
 * (one call at a time). */
int slow_raw_curl(const char *url, int n, int multis, double *latency_us);

#endif
