/*
 * otel_json.c - OTLP/HTTP JSON encoding (the protobuf JSON mapping that
 * OTLP specifies): trace and span ids as lowercase hex, enums as integers,
 * 64-bit integers (times, counts, int attributes) as decimal strings.
 *
 * Written with a plain string builder rather than cJSON because it runs
 * for every batch on the exporter thread and a tree per span would cost
 * a dozen allocations per attribute.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "otel_internal.h"

void ot_buf_put_slow(ot_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}


void ot_buf_printf(ot_buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  ot_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at `s` (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))) return 0; /* overlong, surrogate */
  if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))) return 0;  /* overlong, > U+10FFFF */
  return n;
}

/* A JSON string literal. Bytes that are not UTF-8 (a tool's binary
 * output, a server's message) become U+FFFD: one invalid byte must not
 * make the collector refuse the whole batch. */
void ot_buf_json_string(ot_buf *b, const char *s) {
  ot_buf_put(b, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x80) {
      size_t n = utf8_len((const unsigned char *)s);
      if (n) {
        s += n - 1;
        continue;
      }
      ot_buf_put(b, run, (size_t)(s - run));
      ot_buf_puts(b, "\\ufffd");
      run = s + 1;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    ot_buf_put(b, run, (size_t)(s - run));
    run = s + 1;
    switch (c) {
    case '"': ot_buf_puts(b, "\\\""); break;
    case '\\': ot_buf_puts(b, "\\\\"); break;
    case '\n': ot_buf_puts(b, "\\n"); break;
    case '\r': ot_buf_puts(b, "\\r"); break;
    case '\t': ot_buf_puts(b, "\\t"); break;
    default: ot_buf_printf(b, "\\u%04x", c);
    }
  }
  ot_buf_put(b, run, (size_t)(s - run));
  ot_buf_put(b, "\"", 1);
}

/* Decimal digits of v, without printf (this runs for every span). */
static void put_u64(ot_buf *b, uint64_t v) {
  char tmp[24];
  int i = sizeof tmp;
  do tmp[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  ot_buf_put(b, tmp + i, sizeof tmp - (size_t)i);
}

static void put_i64(ot_buf *b, int64_t v) {
  if (v < 0) {
    ot_buf_put(b, "-", 1);
    put_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    put_u64(b, (uint64_t)v);
  }
}

/* "<hex>" of n bytes. */
static void put_hex(ot_buf *b, const uint8_t *id, size_t n) {
  char hex[40];
  ot_hex(hex, id, n);
  ot_buf_put(b, "\"", 1);
  ot_buf_put(b, hex, 2 * n);
  ot_buf_put(b, "\"", 1);
}

/* A double as JSON: NaN and infinities are not JSON numbers. */
static void put_double(ot_buf *b, double d) {
  if (!isfinite(d)) d = 0;
  ot_buf_printf(b, "%.15g", d);
}

static void put_attr(ot_buf *b, const ot_attr *a) {
  /* keys are the tracer's literals, plain ASCII: no escaping to do */
  ot_buf_puts(b, "{\"key\":\"");
  ot_buf_puts(b, a->key);
  ot_buf_puts(b, "\",\"value\":{");
  switch (a->type) {
  case OT_STR:
    ot_buf_puts(b, "\"stringValue\":");
    ot_buf_json_string(b, a->s ? a->s : "");
    break;
  case OT_INT:
    ot_buf_puts(b, "\"intValue\":\"");
    put_i64(b, a->i);
    ot_buf_put(b, "\"", 1);
    break;
  case OT_DBL:
    ot_buf_puts(b, "\"doubleValue\":");
    put_double(b, a->d);
    break;
  case OT_BOOL: ot_buf_puts(b, a->i ? "\"boolValue\":true" : "\"boolValue\":false"); break;
  case OT_STRARR:
    ot_buf_puts(b, "\"arrayValue\":{\"values\":[{\"stringValue\":");
    ot_buf_json_string(b, a->s ? a->s : "");
    ot_buf_puts(b, "}]}");
    break;
  }
  ot_buf_puts(b, "}}");
}

static void put_attrs(ot_buf *b, const ot_attr *attrs, int n) {
  ot_buf_puts(b, "\"attributes\":[");
  for (int i = 0; i < n; i++) {
    if (i) ot_buf_put(b, ",", 1);
    put_attr(b, &attrs[i]);
  }
  ot_buf_put(b, "]", 1);
}

static void put_span(ot_buf *b, const ot_span *s) {
  ot_buf_puts(b, "{\"traceId\":");
  put_hex(b, s->trace_id, 16);
  ot_buf_puts(b, ",\"spanId\":");
  put_hex(b, s->span_id, 8);
  if (s->has_parent) {
    ot_buf_puts(b, ",\"parentSpanId\":");
    put_hex(b, s->parent_id, 8);
  }
  ot_buf_puts(b, ",\"name\":");
  ot_buf_json_string(b, s->name ? s->name : "");
  ot_buf_puts(b, s->kind == OT_KIND_CLIENT ? ",\"kind\":3,\"startTimeUnixNano\":\"" : ",\"kind\":1,\"startTimeUnixNano\":\"");
  put_i64(b, s->start_ns);
  ot_buf_puts(b, "\",\"endTimeUnixNano\":\"");
  put_i64(b, s->end_ns >= s->start_ns ? s->end_ns : s->start_ns);
  ot_buf_puts(b, "\",");
  put_attrs(b, s->attrs, s->n_attrs);
  ot_buf_puts(b, ",\"events\":[");
  for (const ot_event *e = s->events; e; e = e->next) {
    if (e != s->events) ot_buf_put(b, ",", 1);
    ot_buf_puts(b, "{\"timeUnixNano\":\"");
    put_i64(b, e->time_ns);
    ot_buf_puts(b, "\",\"name\":");
    ot_buf_json_string(b, e->name);
    ot_buf_put(b, ",", 1);
    put_attrs(b, e->attrs, e->n_attrs);
    ot_buf_put(b, "}", 1);
  }
  /* Every span says its status (some receivers require the field). */
  ot_buf_puts(b, s->status == OT_STATUS_ERROR ? "],\"status\":{\"code\":2"
                 : s->status == OT_STATUS_OK  ? "],\"status\":{\"code\":1"
                                              : "],\"status\":{\"code\":0");
  if (s->status_msg) {
    ot_buf_puts(b, ",\"message\":");
    ot_buf_json_string(b, s->status_msg);
  }
  ot_buf_puts(b, "}}");
}

static void put_scope(ot_buf *b) {
  ot_buf_puts(b, "\"scope\":{\"name\":\"hookline\",\"version\":\"0.1.0\"}");
}

bool ot_json_spans(ot_buf *b, const char *resource_json, ot_span *spans, size_t n) {
  ot_buf_puts(b, "{\"resourceSpans\":[{\"resource\":");
  ot_buf_puts(b, resource_json);
  ot_buf_puts(b, ",\"scopeSpans\":[{");
  put_scope(b);
  ot_buf_puts(b, ",\"spans\":[");
  size_t i = 0;
  for (ot_span *s = spans; s && i < n; s = s->next, i++) {
    if (i) ot_buf_put(b, ",", 1);
    put_span(b, s);
  }
  ot_buf_puts(b, "]}]}]}");
  return !b->failed;
}

/* ---- metrics -------------------------------------------------------- */

/* Bucket boundaries the GenAI semantic conventions recommend. */
static const double token_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144,
                                      1048576, 4194304, 16777216, 67108864};
static const double duration_bounds[] = {0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
                                         1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};

int ot_metric_bounds(int metric, const double **bounds) {
  if (metric == OT_METRIC_TOKENS) {
    *bounds = token_bounds;
    return (int)(sizeof token_bounds / sizeof *token_bounds);
  }
  *bounds = duration_bounds;
  return (int)(sizeof duration_bounds / sizeof *duration_bounds);
}

static const struct {
  const char *name, *unit, *description;
} metric_info[OT_METRIC_COUNT] = {
    [OT_METRIC_TOKENS] = {"gen_ai.client.token.usage", "{token}",
                          "Number of input and output tokens used"},
    [OT_METRIC_DURATION] = {"gen_ai.client.operation.duration", "s",
                            "GenAI operation duration (model calls, tool calls, agent runs)"},
};

bool ot_json_metrics(ot_buf *b, const char *resource_json, ot_metrics *m, int64_t now_ns) {
  pthread_mutex_lock(&m->lock);
  if (!m->points || !m->dirty) {
    pthread_mutex_unlock(&m->lock);
    return false;
  }
  m->dirty = false;
  ot_buf_puts(b, "{\"resourceMetrics\":[{\"resource\":");
  ot_buf_puts(b, resource_json);
  ot_buf_puts(b, ",\"scopeMetrics\":[{");
  put_scope(b);
  ot_buf_puts(b, ",\"metrics\":[");
  bool first_metric = true;
  for (int metric = 0; metric < OT_METRIC_COUNT; metric++) {
    bool any = false;
    for (ot_point *p = m->points; p && !any; p = p->next) any = p->metric == metric;
    if (!any) continue;
    if (!first_metric) ot_buf_put(b, ",", 1);
    first_metric = false;
    ot_buf_puts(b, "{\"name\":");
    ot_buf_json_string(b, metric_info[metric].name);
    ot_buf_puts(b, ",\"unit\":");
    ot_buf_json_string(b, metric_info[metric].unit);
    ot_buf_puts(b, ",\"description\":");
    ot_buf_json_string(b, metric_info[metric].description);
    /* cumulative: each point's counts since start_ns */
    ot_buf_puts(b, ",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[");
    const double *bounds;
    int n_bounds = ot_metric_bounds(metric, &bounds);
    bool first_point = true;
    for (ot_point *p = m->points; p; p = p->next) {
      if (p->metric != metric) continue;
      if (!first_point) ot_buf_put(b, ",", 1);
      first_point = false;
      ot_buf_puts(b, "{\"attributes\":[");
      for (int i = 0; i < p->n_attrs; i++) {
        if (i) ot_buf_put(b, ",", 1);
        ot_attr a = {.key = p->keys[i], .type = OT_STR, .s = p->values[i]};
        put_attr(b, &a);
      }
      ot_buf_printf(b,
                    "],\"startTimeUnixNano\":\"%" PRId64 "\",\"timeUnixNano\":\"%" PRId64
                    "\",\"count\":\"%" PRIu64 "\",\"sum\":",
                    m->start_ns, now_ns, p->count);
      put_double(b, p->sum);
      ot_buf_puts(b, ",\"min\":");
      put_double(b, p->min);
      ot_buf_puts(b, ",\"max\":");
      put_double(b, p->max);
      ot_buf_puts(b, ",\"bucketCounts\":[");
      for (int i = 0; i <= n_bounds; i++)
        ot_buf_printf(b, "%s\"%" PRIu64 "\"", i ? "," : "", p->buckets[i]);
      ot_buf_puts(b, "],\"explicitBounds\":[");
      for (int i = 0; i < n_bounds; i++) {
        if (i) ot_buf_put(b, ",", 1);
        put_double(b, bounds[i]);
      }
      ot_buf_puts(b, "]}");
    }
    ot_buf_puts(b, "]}}");
  }
  pthread_mutex_unlock(&m->lock);
  ot_buf_puts(b, "]}]}]}");
  return !b->failed;
}
