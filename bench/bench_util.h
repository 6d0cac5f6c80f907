/*
 * bench/bench_util.h - clocks, resource usage, percentiles and the mock
 * server's statistics for the C benchmark programs.
 *
 * Benchmarks print figures; they never assert timings.
 */
#ifndef HL_BENCH_UTIL_H
#define HL_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);
/** User + system CPU time of the process so far, in microseconds. */
double bench_cpu_us(void);
/** Peak resident set size of the process, in MiB. */
double bench_peak_rss_mb(void);
/** Current resident memory split into anonymous (heap, stacks) and
 *  file-backed (mapped shared libraries) parts, in MiB, from /proc/self/status.
 *  Both 0 if unavailable. */
void bench_rss_now_mb(double *anon_mb, double *file_mb);
/** p-th percentile (0..100) of n values, sorting them in place. */
double bench_percentile(double *values, size_t n, double p);

/** What the mock server says it did (GET {url}/stats). */
typedef struct bench_server_stats {
  double requests;
  double service_us;
  double connections;   /* TCP connections accepted since the server started */
  double h2_connections; /* of which served as h2c (HTTP/2, prior knowledge) */
  bool h2c;             /* the server speaks h2c (built with libnghttp2) */
  double late_us_max;   /* --delay-ms: the latest a delayed answer left, since the last reset */
  double cpu_us;        /* the server process's CPU time so far (0 if it does not say) */
  double tls_handshakes; /* --tls: TLS handshakes completed so far */
} bench_server_stats;

/** The CA file bench_server_stats_get() trusts for an https:// server (the
 *  mock server's --tls DIR/ca.pem); NULL: the system's. The string must
 *  stay valid. */
void bench_set_ca_file(const char *path);

/** Fetch the mock server's counters; false (and a message on stderr) on failure. */
bool bench_server_stats_get(const char *url, bench_server_stats *out);

/** Run this program again as `/proc/self/exe flag` and read the `n`
 *  numbers it prints on its standard output into `out`. False (nothing
 *  to read, a parse error, a failed child) on failure. */
bool bench_run_self(const char *flag, double *out, int n);

/** Value of "--name" in argv, or `def`. */
const char *bench_arg(int argc, char **argv, const char *name, const char *def);

#endif
