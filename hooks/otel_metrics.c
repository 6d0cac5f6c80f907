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
    /* keys are literals of the tracer: the same pointer, mostly */
    if (j >= p->n_attrs || (p->keys[j] != keys[i] && strcmp(p->keys[j], keys[i]) != 0) ||
        (p->values[j] != values[i] && strcmp(p->values[j], values[i]) != 0))
      return false;
    j++;
  }
  return j == p->n_attrs;
}

static void point_free(ot_point *p) {
  for (int k = 0; k < p->n_attrs; k++)
    if (!(p->lits & (1u << k))) free(p->values[k]);
  free(p);
}

/* `lits`: bit i set when values[i] is a string literal of the tracer
 * (the operation, the error type, the token type): kept as the pointer,
 * so that the next look-up finds it equal without strcmp. */
static ot_point *new_point(int metric, const char *const *keys, const char *const *values, int n,
                           unsigned lits) {
  ot_point *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->metric = metric;
  for (int i = 0; i < n && p->n_attrs < OT_MAX_POINT_ATTRS; i++) {
    if (!values[i]) continue;
    bool lit = lits & (1u << i);
    char *v = lit ? (char *)values[i] : strdup(values[i]);
    if (!v) {
      point_free(p);
      return NULL;
    }
    if (lit) p->lits |= 1u << p->n_attrs;
    p->keys[p->n_attrs] = keys[i];
    p->values[p->n_attrs++] = v;
  }
  return p;
}

/* One value into its point; m->lock held. `slot` (or -1): the kind of
 * measurement, whose last point is tried first (a run's model calls and
 * tools mostly repeat the attributes of the one before). */
static void record_locked(ot_metrics *m, int slot, int metric, double value, const char *const *keys,
                          const char *const *values, int n, unsigned lits) {
  const double *bounds;
  int n_bounds = ot_metric_bounds(metric, &bounds);
  int bucket = 0;
  while (bucket < n_bounds && value > bounds[bucket]) bucket++; /* (prev, bound] */
  ot_point *p = slot >= 0 ? m->last[slot] : NULL;
  if (!p || !same_attrs(p, metric, keys, values, n)) {
    uint64_t hash = attrs_hash(metric, values, n);
    p = m->points;
    while (p && !(p->hash == hash && same_attrs(p, metric, keys, values, n))) p = p->next;
    if (!p && (p = new_point(metric, keys, values, n, lits)) != NULL) {
      p->hash = hash;
      p->next = m->points;
      m->points = p;
    }
    if (slot >= 0) m->last[slot] = p;
  }
  if (p) {
    if (p->count == 0 || value < p->min) p->min = value;
    if (p->count == 0 || value > p->max) p->max = value;
    p->count++;
    p->sum += value;
    p->buckets[bucket]++;
    m->dirty = true;
  }
}

void ot_metrics_record(ot_metrics *m, int metric, double value, const char *const *keys,
                       const char *const *values, int n) {
  pthread_mutex_lock(&m->lock);
  record_locked(m, -1, metric, value, keys, values, n, 0);
  pthread_mutex_unlock(&m->lock);
}

void ot_metrics_free(ot_metrics *m) {
  ot_point *p = m->points;
  while (p) {
    ot_point *next = p->next;
    point_free(p);
    p = next;
  }
  m->points = NULL;
  memset(m->last, 0, sizeof m->last);
}

/* One measurement of a chat, a tool call or a run. */
typedef struct ot_measure {
  int role;                  /* OT_CHAT, OT_TOOL, OT_AGENT */
  const char *op, *provider, *model, *resp_model, *tool, *error_type;
  double duration_ms;
  bool has_usage;
  int64_t in_tokens, out_tokens;
} ot_measure;

static void measure_locked(ot_metrics *m, const ot_measure *x) {
  static const char *const chat_keys[] = {"gen_ai.operation.name", "gen_ai.provider.name",
                                          "gen_ai.request.model", "error.type"};
  static const char *const token_keys[] = {"gen_ai.operation.name", "gen_ai.provider.name",
                                           "gen_ai.request.model", "gen_ai.response.model",
                                           "gen_ai.token.type"};
  static const char *const tool_keys[] = {"gen_ai.operation.name", "gen_ai.tool.name", "error.type"};
  if (x->role == OT_CHAT) {
    const char *values[] = {x->op, x->provider, x->model, x->error_type};
    record_locked(m, OT_SLOT_CHAT, OT_METRIC_DURATION, x->duration_ms / 1000.0, chat_keys, values, 4, 1u << 0 | 1u << 3);
    if (x->has_usage) {
      const char *tvalues[] = {x->op, x->provider, x->model, x->resp_model, "input"};
      record_locked(m, OT_SLOT_TOKENS_IN, OT_METRIC_TOKENS, (double)x->in_tokens, token_keys, tvalues, 5, 1u << 0 | 1u << 4);
      tvalues[4] = "output";
      record_locked(m, OT_SLOT_TOKENS_OUT, OT_METRIC_TOKENS, (double)x->out_tokens, token_keys, tvalues, 5, 1u << 0 | 1u << 4);
    }
  } else if (x->role == OT_TOOL || x->role == OT_AGENT) {
    const char *values[] = {x->op, x->role == OT_TOOL ? x->tool : NULL, x->error_type};
    record_locked(m, x->role == OT_TOOL ? OT_SLOT_TOOL : OT_SLOT_AGENT, OT_METRIC_DURATION,
                  x->duration_ms / 1000.0, tool_keys, values, 3, 1u << 0 | 1u << 2);
  }
}

/* The measurements of finished spans: the strings they kept (no look-up
 * among their attributes, which are already encoded). */
void ot_metrics_from_spans(ot_metrics *m, const ot_span *s) {
  bool locked = false;
  for (; s; s = s->next) {
    if (!s->measured) continue;
    if (!locked) {
      pthread_mutex_lock(&m->lock);
      locked = true;
    }
    ot_measure x = {.role = s->role, .op = s->op, .provider = ot_span_str(s, s->s_provider),
                    .model = ot_span_str(s, s->s_model), .resp_model = ot_span_str(s, s->s_resp_model),
                    .tool = ot_span_str(s, s->s_tool), .error_type = s->error_type,
                    .duration_ms = s->duration_ms, .has_usage = s->has_usage,
                    .in_tokens = s->in_tokens, .out_tokens = s->out_tokens};
    measure_locked(m, &x);
  }
  if (locked) pthread_mutex_unlock(&m->lock);
}

void ot_metrics_from_record(ot_metrics *m, const ot_rec *r) {
  hl_status st = (hl_status)r->status;
  ot_measure x = {.duration_ms = r->duration_ms,
                  /* as a span's status (otel.c): an interrupt or a pending call is no error */
                  .error_type = st == HL_OK || st == HL_INTERRUPTED || st == HL_PENDING ? NULL : hl_status_name(st)};
  switch (r->type) {
  case HL_EVENT_LM_END:
    x.role = OT_CHAT;
    x.op = "chat";
    x.provider = ot_rec_str(r, OT_S_PROVIDER);
    x.model = ot_rec_str(r, OT_S_NAME);
    x.resp_model = ot_rec_str(r, OT_S_RESP_MODEL);
    x.has_usage = r->flags & OT_R_USAGE;
    x.in_tokens = r->in_tokens;
    x.out_tokens = r->out_tokens;
    break;
  case HL_EVENT_TOOL_END:
    x.role = OT_TOOL;
    x.op = "execute_tool";
    x.tool = ot_rec_str(r, OT_S_NAME);
    break;
  case HL_EVENT_AGENT_END:
    x.role = OT_AGENT;
    x.op = "invoke_agent";
    break;
  default:
    return;
  }
  pthread_mutex_lock(&m->lock);
  measure_locked(m, &x);
  pthread_mutex_unlock(&m->lock);
}
