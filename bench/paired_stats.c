/*
 * bench/paired_stats.c - confidence intervals for side-by-side series
 * (paired_stats.h).
 */
#include "paired_stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

bench_ci bench_median_ci(double *v, size_t n) {
  bench_ci ci = {NAN, NAN, NAN};
  if (n == 0) return ci;
  ci.est = bench_percentile(v, n, 50); /* sorts v */
  size_t k = 0;
  if (n >= 8) {
    double r = floor((double)n / 2 - 0.98 * sqrt((double)n));
    k = r > 0 ? (size_t)r : 0;
  }
  ci.lo = v[k];
  ci.hi = v[n - 1 - k];
  return ci;
}

/* xorshift64*: the resampling needs speed and repeatability, not quality
 * beyond uniform draws. */
static uint64_t next_rand(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

/* The p-th percentile of the groups listed in `pick` (group indexes). */
static double pooled_percentile(const double *x, const size_t *pick, size_t groups, size_t per, double p,
                                double *tmp) {
  for (size_t g = 0; g < groups; g++) memcpy(tmp + g * per, x + pick[g] * per, per * sizeof *tmp);
  return bench_percentile(tmp, groups * per, p);
}

bench_ci bench_percentile_change_ci(const double *a, const double *b, size_t groups, size_t per, double p,
                                    int resamples) {
  bench_ci ci = {NAN, NAN, NAN};
  if (!groups || !per || resamples < 1) return ci;
  size_t *pick = malloc(groups * sizeof *pick);
  double *tmp = malloc(groups * per * sizeof *tmp);
  double *diffs = malloc((size_t)resamples * sizeof *diffs);
  if (pick && tmp && diffs) {
    for (size_t g = 0; g < groups; g++) pick[g] = g;
    ci.est = pooled_percentile(b, pick, groups, per, p, tmp) - pooled_percentile(a, pick, groups, per, p, tmp);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int r = 0; r < resamples; r++) {
      for (size_t g = 0; g < groups; g++) pick[g] = (size_t)(next_rand(&seed) % groups);
      diffs[r] = pooled_percentile(b, pick, groups, per, p, tmp) - pooled_percentile(a, pick, groups, per, p, tmp);
    }
    bench_percentile(diffs, (size_t)resamples, 50); /* (sorts them) */
    ci.lo = diffs[(size_t)(0.025 * (resamples - 1))];
    ci.hi = diffs[(size_t)(0.975 * (resamples - 1) + 0.5)];
  }
  free(pick);
  free(tmp);
  free(diffs);
  return ci;
}
