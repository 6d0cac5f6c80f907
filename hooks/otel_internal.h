/*
 * otel_internal.h - the parts of the OpenTelemetry exporter (hooks/otel*.c)
 * and what they share: a span as the tracer builds it, the export queue,
 * the metric points. Public API only (include/), plus libcurl.
 *
 *   otel.c          the tracer: the observer that turns events into spans,
 *                   the traceparent of outgoing requests
 *   otel_config.c   options, the OTEL_* variables, install, flush, shutdown
 *   otel_export.c   the bounded queue and the exporter thread (OTLP/HTTP)
 *   otel_json.c     OTLP JSON encoding of spans and metrics
 *   otel_metrics.c  the GenAI histograms
 */
#ifndef HL_OTEL_INTERNAL_H
#define HL_OTEL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hookline/otel.h"

/* ---- spans ---------------------------------------------------------- */

enum { OT_STR, OT_INT, OT_DBL, OT_BOOL, OT_STRARR };
enum { OT_KIND_INTERNAL = 1, OT_KIND_CLIENT = 3 };
enum { OT_STATUS_UNSET = 0, OT_STATUS_OK = 1, OT_STATUS_ERROR = 2 };
enum { OT_AGENT, OT_CHAT, OT_TOOL, OT_MCP };

/* An attribute. `key` is a string literal; `s` is owned (OT_STR, and
 * OT_STRARR: one element, the finish reason) unless `lit` says it is a
 * literal (operation names and such: no copy on the run's thread). */
typedef struct ot_attr {
  const char *key;
  int type;
  bool lit;
  char *s;
  union {
    int64_t i;
    double d;
  };
} ot_attr;

/* 16 is more than any span takes (a chat span with content: 13). Keep a
 * span under 1 KiB: glibc consolidates its fast bins on every larger
 * request, which cost thousands of instructions per span. */
#define OT_MAX_ATTRS 16
#define OT_EVENT_ATTRS 4

typedef struct ot_event {
  struct ot_event *next;
  int64_t time_ns;
  const char *name;          /* literal */
  ot_attr attrs[OT_EVENT_ATTRS];
  int n_attrs;
} ot_event;

typedef struct ot_span {
  struct ot_span *next;      /* in its run's list, then in the export queue */
  uint8_t trace_id[16], span_id[8], parent_id[8];
  bool has_parent;
  int kind, role;
  char *name;
  int64_t start_ns, end_ns;
  bool ended;
  /* The operation's own measurement (LM_END, TOOL_END, AGENT_END): the
   * metrics are computed from it on the exporter thread, not the run's. */
  bool measured;
  double duration_ms;
  int status;
  char *status_msg;
  ot_attr attrs[OT_MAX_ATTRS];
  int n_attrs;
  ot_event *events, *events_tail;
  /* the tracer's bookkeeping */
  char *call_id;             /* OT_TOOL, OT_MCP */
  char inv[48];              /* the run's invocation id */
  struct ot_span *tls_prev;  /* the span current on this thread before */
  struct ot_span *mcp;       /* OT_TOOL of an MCP tool: its tools/call span */
  hl_otel *owner;
} ot_span;

void ot_span_free(ot_span *s);
/* Append attributes (copies strings; NULL values are skipped). Appending
 * does not look for an attribute of the same key: ot_attr_set does. */
void ot_attr_str(ot_span *s, const char *key, const char *value);
void ot_attr_lit(ot_span *s, const char *key, const char *literal);
void ot_attr_set(ot_span *s, const char *key, const char *value);
void ot_attr_int(ot_span *s, const char *key, int64_t value);
void ot_attr_reason(ot_span *s, const char *key, const char *reason);

/* ---- metrics -------------------------------------------------------- */

#define OT_MAX_POINT_ATTRS 6
#define OT_MAX_BOUNDS 16
enum { OT_METRIC_TOKENS, OT_METRIC_DURATION, OT_METRIC_COUNT };

typedef struct ot_point {
  struct ot_point *next;
  uint64_t hash;            /* of the metric and values: most lookups end here */
  int metric;
  const char *keys[OT_MAX_POINT_ATTRS]; /* literals */
  char *values[OT_MAX_POINT_ATTRS];
  int n_attrs;
  uint64_t count, buckets[OT_MAX_BOUNDS + 1];
  double sum, min, max;
} ot_point;

typedef struct ot_metrics {
  pthread_mutex_t lock;
  ot_point *points;
  int64_t start_ns;
  bool dirty;               /* something recorded since the last export */
} ot_metrics;

/* Record one value; keys/values pairs (values copied, NULL skipped). */
void ot_metrics_record(ot_metrics *m, int metric, double value, const char *const *keys,
                       const char *const *values, int n);
void ot_metrics_free(ot_metrics *m);
/* Record the measurements of `n` finished spans (exporter thread, and the
 * run's thread only for spans dropped from a full queue). */
void ot_metrics_from_spans(ot_metrics *m, const ot_span *first, size_t n);
/* The bucket boundaries of `metric` (static); returns their number. */
int ot_metric_bounds(int metric, const double **bounds);

/* ---- JSON ----------------------------------------------------------- */

typedef struct ot_buf {
  char *p;
  size_t len, cap;
  bool failed;
} ot_buf;

void ot_buf_put(ot_buf *b, const char *s, size_t n);
void ot_buf_puts(ot_buf *b, const char *s);
void ot_buf_printf(ot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ot_buf_json_string(ot_buf *b, const char *s);

/* {"resourceSpans":[...]} for `n` spans of the list. */
bool ot_json_spans(ot_buf *b, const char *resource_json, ot_span *spans, size_t n);
/* {"resourceMetrics":[...]}; false when there is nothing to send. */
bool ot_json_metrics(ot_buf *b, const char *resource_json, ot_metrics *m, int64_t now_ns);

/* ---- the exporter --------------------------------------------------- */

struct hl_otel {
  atomic_uint refs;          /* the owner's, and the observer's */
  bool enabled;              /* under lock: the observer acts */
  atomic_bool header_installed; /* hl_trace_set_header_fn() was ours */
  bool capture;              /* record content */
  char *traces_url, *metrics_url;
  char **headers;            /* "Key: value" lines */
  size_t n_headers;
  char *resource_json;       /* {"attributes":[...]} */
  size_t max_queue, max_batch;
  unsigned export_delay_ms, metrics_interval_ms, timeout_ms;
  FILE *warn;
  hl_observer *observer;

  /* the tracer (otel.c) */
  pthread_mutex_t lock;
  struct ot_run **runs;      /* hash table of runs in progress */
  size_t n_buckets;

  ot_metrics metrics;

  /* the queue and the thread (otel_export.c) */
  pthread_mutex_t qlock;
  pthread_cond_t qcond, done_cond;
  ot_span *q_head, *q_tail;
  size_t q_len;
  int64_t q_oldest_ns;       /* monotonic time the oldest queued span arrived */
  uint64_t flush_gen, flushed_gen;
  bool flush_failed;
  bool stop;
  atomic_bool abandon;       /* shutdown deadline passed: cut the request */
  pthread_t thread;
  bool thread_started;
  atomic_bool warned;

  atomic_uint_fast64_t st_started, st_exported, st_dropped, st_requests, st_failures,
      st_metric_exports;
};

/* The tracer (otel.c): the observer's function, the header function of
 * hookline/trace.h, and the end: stop acting and hand over the runs still
 * in progress (their spans ended now) in a list for the queue. */
int ot_on_event(const hl_event *ev, void *user_data);
bool ot_header_fn(hl_context *ctx, char *line, size_t size, void *user_data);
void ot_tracer_stop(hl_otel *o, ot_span **out, size_t *n);

/* Queue finished spans (a list linked by ->next); drops them when full. */
void ot_export_enqueue(hl_otel *o, ot_span *first, size_t n);
hl_status ot_export_start(hl_otel *o);
hl_status ot_export_flush(hl_otel *o, unsigned deadline_ms);
void ot_export_stop(hl_otel *o, unsigned deadline_ms);
/* The one warning of an exporter (later ones are dropped). */
void ot_warn(hl_otel *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int64_t ot_now_ns(void);
int64_t ot_mono_ns(void);
void ot_random_bytes(uint8_t *out, size_t n);
void ot_hex(char *out, const uint8_t *in, size_t n);

#endif
