/*
 * otel_metrics.c - the GenAI histograms (gen_ai.client.token.usage,
 * gen_ai.client.operation.duration): one point per metric and attribute
 * set, cumulative since the exporter started.
 *
 * The number of attribute sets is small (operation x provider x model x
 * token type x error type), so a list searched linearly is enough; the
 * lock is held for a few comparisons per model or tool call.
 */
#include <stdlib.h>
#include <string.h>

#include "otel_internal.h"

static bool same_attrs(const ot_point *p, int metric, const char *const *keys,
                       const char *const *values, int n) {
  if (p->metric != metric) return false;
  int j = 0;
  for (int i = 0; i < n; i++) {
    if (!values[i]) continue;
    if (j >= p->n_attrs || strcmp(p->keys[j], keys[i]) != 0 || strcmp(p->values[j], values[i]) != 0)
      return false;
    j++;
  }
  return j == p->n_attrs;
}

static ot_point *new_point(int metric, const char *const *keys, const char *const *values, int n) {
  ot_point *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->metric = metric;
  for (int i = 0; i < n && p->n_attrs < OT_MAX_POINT_ATTRS; i++) {
    if (!values[i]) continue;
    char *v = strdup(values[i]);
    if (!v) {
      for (int k = 0; k < p->n_attrs; k++) free(p->values[k]);
      free(p);
      return NULL;
    }
    p->keys[p->n_attrs] = keys[i];
    p->values[p->n_attrs++] = v;
  }
  return p;
}

void ot_metrics_record(ot_metrics *m, int metric, double value, const char *const *keys,
                       const char *const *values, int n) {
  const double *bounds;
  int n_bounds = ot_metric_bounds(metric, &bounds);
  int bucket = 0;
  while (bucket < n_bounds && value > bounds[bucket]) bucket++; /* (prev, bound] */
  pthread_mutex_lock(&m->lock);
  ot_point *p = m->points;
  while (p && !same_attrs(p, metric, keys, values, n)) p = p->next;
  if (!p && (p = new_point(metric, keys, values, n)) != NULL) {
    p->next = m->points;
    m->points = p;
  }
  if (p) {
    if (p->count == 0 || value < p->min) p->min = value;
    if (p->count == 0 || value > p->max) p->max = value;
    p->count++;
    p->sum += value;
    p->buckets[bucket]++;
    m->dirty = true;
  }
  pthread_mutex_unlock(&m->lock);
}

void ot_metrics_free(ot_metrics *m) {
  ot_point *p = m->points;
  while (p) {
    ot_point *next = p->next;
    for (int i = 0; i < p->n_attrs; i++) free(p->values[i]);
    free(p);
    p = next;
  }
  m->points = NULL;
}
