/*
 * bench/paired_stats.h - confidence intervals for the benchmarks that
 * compare series measured side by side (bench/otel_bench.c): a median of
 * paired differences, and a percentile's change between two pooled
 * series. Both are distribution-free (no assumption that latencies are
 * normal, which they never are), so a noisy machine widens an interval
 * instead of biasing a figure.
 */
#ifndef HL_BENCH_PAIRED_STATS_H
#define HL_BENCH_PAIRED_STATS_H

#include <stddef.h>

/** A point estimate with its 95 % confidence interval [lo, hi]. */
typedef struct bench_ci {
  double est, lo, hi;
} bench_ci;

/** Median of the n values `v` with a 95 % confidence interval from order
 *  statistics (the ranks n/2 -+ 0.98 sqrt(n), the normal approximation of
 *  the binomial: true for any continuous distribution). Sorts `v` in
 *  place. n < 8: the interval is [min, max]. */
bench_ci bench_median_ci(double *v, size_t n);

/** The p-th percentile (0..100) of `b` less that of `a`, each pooled over
 *  `groups` groups of `per` values (group g is [g*per, (g+1)*per)), with a
 *  95 % interval from `resamples` bootstrap resamples of whole groups:
 *  group g of `a` and of `b` are drawn together, so what the two shared
 *  (the machine's load during one cycle of the alternation) stays paired.
 *  Deterministic (fixed seed). est is NAN when out of memory. */
bench_ci bench_percentile_change_ci(const double *a, const double *b, size_t groups, size_t per, double p,
                                    int resamples);

/** Which of `k` series comes `j`-th (0..k-1) in cycle `c` of an
 *  alternation: the k rotations of 0..k-1, then the same reversed, in
 *  turn, so that each series comes at each place equally often, after and
 *  before each other one (for k = 3, the six orders). bench/otel_bench.c
 *  orders its blocks the same way. */
int bench_series_at(int c, int j, int k);

/** The verdict of the rule bench/otel_bench.c states for a cost against a
 *  bound: "met" when the whole interval of `cost`, widened on both sides
 *  by the method's bias (the end of the A/A control's interval farther
 *  from 0), is below `bound`; "not met" when all of it is at or above;
 *  else "cannot tell". A static string. */
const char *bench_verdict(bench_ci cost, bench_ci aa, double bound);

#endif
