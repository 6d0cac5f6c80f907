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

static uint64_t attrs_hash(int metric, const char *const *values, int n) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)metric;
  for (int i = 0; i < n; i++) {
    for (const char *c = values[i] ? values[i] : ""; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    h = (h ^ (values[i] ? 0xff : 0xfe)) * 1099511628211ULL;
  }
  return h;
}

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
  uint64_t hash = attrs_hash(metric, values, n);
  pthread_mutex_lock(&m->lock);
  ot_point *p = m->points;
  while (p && !(p->hash == hash && same_attrs(p, metric, keys, values, n))) p = p->next;
  if (!p && (p = new_point(metric, keys, values, n)) != NULL) {
    p->hash = hash;
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

/* The value of attribute `key` of span `s` (keys are literals of the
 * tracer: compared by pointer first). */
static const ot_attr *span_attr(const ot_span *s, const char *key) {
  for (int i = 0; i < s->n_attrs; i++)
    if (s->attrs[i].key == key || strcmp(s->attrs[i].key, key) == 0) return &s->attrs[i];
  return NULL;
}

static const char *span_str(const ot_span *s, const char *key) {
  const ot_attr *a = span_attr(s, key);
  return a && a->type == OT_STR ? a->s : NULL;
}

void ot_metrics_from_spans(ot_metrics *m, const ot_span *s, size_t n) {
  for (size_t k = 0; s && k < n; s = s->next, k++) {
    if (!s->measured) continue;
    const char *op = span_str(s, "gen_ai.operation.name");
    const char *error = span_str(s, "error.type");
    if (s->role == OT_CHAT) {
      const char *provider = span_str(s, "gen_ai.provider.name");
      const char *model = span_str(s, "gen_ai.request.model");
      const char *keys[] = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                            "error.type"};
      const char *values[] = {op, provider, model, error};
      ot_metrics_record(m, OT_METRIC_DURATION, s->duration_ms / 1000.0, keys, values, 4);
      const ot_attr *in = span_attr(s, "gen_ai.usage.input_tokens");
      const ot_attr *out = span_attr(s, "gen_ai.usage.output_tokens");
      if (in && out) {
        const char *tkeys[] = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                               "gen_ai.response.model", "gen_ai.token.type"};
        const char *tvalues[] = {op, provider, model, span_str(s, "gen_ai.response.model"), "input"};
        ot_metrics_record(m, OT_METRIC_TOKENS, (double)in->i, tkeys, tvalues, 5);
        tvalues[4] = "output";
        ot_metrics_record(m, OT_METRIC_TOKENS, (double)out->i, tkeys, tvalues, 5);
      }
    } else if (s->role == OT_TOOL || s->role == OT_AGENT) {
      const char *keys[] = {"gen_ai.operation.name", "gen_ai.tool.name", "error.type"};
      const char *values[] = {op, s->role == OT_TOOL ? span_str(s, "gen_ai.tool.name") : NULL, error};
      ot_metrics_record(m, OT_METRIC_DURATION, s->duration_ms / 1000.0, keys, values, 3);
    }
  }
}
