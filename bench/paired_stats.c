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

/* The k-th smallest of v[0..n) (k < n), v reordered: quickselect
 * (median-of-three pivots), linear on average; a sort of each resample
 * was ~25 ms at 256k values, 400 resamples and two series a figure. */
static double select_kth(double *v, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (hi > lo) {
    size_t mid = lo + (hi - lo) / 2;
    /* median of three to v[mid], then Hoare's partition around it */
    if (v[mid] < v[lo]) { double t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
    if (v[hi] < v[lo]) { double t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
    if (v[hi] < v[mid]) { double t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
    double pivot = v[mid];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        double t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k];
  }
  return v[k];
}

/* The p-th percentile of the groups listed in `pick` (group indexes), by
 * nearest rank as bench_percentile() takes it. */
static double pooled_percentile(const double *x, const size_t *pick, size_t groups, size_t per, double p,
                                double *tmp) {
  size_t n = groups * per;
  for (size_t g = 0; g < groups; g++) memcpy(tmp + g * per, x + pick[g] * per, per * sizeof *tmp);
  double rank = ceil(p / 100.0 * (double)n);
  size_t k = rank < 1 ? 0 : (size_t)rank - 1;
  return select_kth(tmp, n, k < n ? k : n - 1);
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

int bench_series_at(int c, int j, int k) {
  int r = c % k;
  return (c / k) % 2 ? (r + k - 1 - j) % k : (r + j) % k;
}

const char *bench_verdict(bench_ci cost, bench_ci aa, double bound) {
  double bias = fabs(aa.lo) > fabs(aa.hi) ? fabs(aa.lo) : fabs(aa.hi);
  if (cost.hi + bias < bound) return "met";
  if (cost.lo - bias >= bound) return "not met";
  return "cannot tell";
}
