/*
 * otel_internal.h - the parts of the OpenTelemetry exporter (hooks/otel*.c)
 * and what they share: a span as the tracer builds it, the export queue,
 * the metric points. Public API only (include/), plus libcurl.
 *
 *   otel_record.c   the run's side: the observer copies what a span needs
 *                   into a record of a lock-free ring; the ids and the
 *                   traceparent of outgoing requests
 *   otel.c          the tracer, on the exporter's side: records into spans
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
#include <string.h>

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

/* ---- records (the run's side to the tracer) ------------------------- */

/* The strings a record may carry, by index (ot_rec.off). */
enum {
  OT_S_INV, OT_S_PARENT_INV, OT_S_PARENT_CALL, OT_S_CALL, OT_S_OUTER_CALL, OT_S_AGENT,
  OT_S_SESSION, OT_S_BRANCH, OT_S_NAME, OT_S_PROVIDER, OT_S_TOOL, OT_S_SERVER,
  OT_S_RESP_MODEL, OT_S_RESP_ID, OT_S_ERROR, OT_S_CONTENT, OT_S_COUNT
};
enum { OT_R_USAGE = 1, OT_R_REMOTE = 2, OT_R_SPAN = 4 };
#define OT_REC_TEXT 192

/* What the run's thread copies out of one event: the ids it made, times,
 * numbers and the few strings a span needs, packed in `text` (or in
 * `heap`, malloc'd, when they do not fit: long names, captured content).
 * Everything else (names, attributes, JSON) is made on the exporter's
 * side. */
typedef struct ot_rec {
  int64_t time_ns;
  double duration_ms;
  int64_t in_tokens, out_tokens;
  const char *finish;        /* a literal (hl_finish_reason_name()) or NULL */
  char *heap;                /* the strings, when not in `text` (owned) */
  int32_t status;            /* hl_status of the event's error */
  uint8_t type, hook_point, hook_action, flags;
  uint8_t trace_id[16];      /* AGENT_START: the run's trace */
  uint8_t span_id[8];        /* the span the event opens or is about (OT_R_SPAN) */
  uint8_t span2_id[8];       /* TOOL_START of an MCP tool: its tools/call span */
  uint8_t remote_id[8];      /* AGENT_START with OT_R_REMOTE: the remote parent */
  uint16_t off[OT_S_COUNT];  /* 1 + offset of each string; 0: NULL */
  char text[OT_REC_TEXT];
} ot_rec;

/* A string of a record, or NULL. */
/* Hash of an invocation id, for the exporter's run table and the live-run
 * table. Ids end in random hex ("inv-" + 32 digits), so their last 16
 * characters hash well enough; this runs for every event. */
static inline uint64_t ot_id_hash(const char *id) {
  size_t n = strlen(id);
  uint64_t h = 1469598103934665603ULL ^ n;
  if (n >= 16) {
    uint64_t a, b;
    memcpy(&a, id + n - 16, 8);
    memcpy(&b, id + n - 8, 8);
    h ^= (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
  } else {
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ULL;
  }
  return h;
}

static inline const char *ot_rec_str(const ot_rec *r, int i) {
  return r->off[i] ? (r->heap ? r->heap : r->text) + r->off[i] - 1 : NULL;
}

/* A slot of the ring (Vyukov's bounded queue: `seq` says whose turn it is). */
typedef struct ot_cell {
  _Atomic size_t seq;
  ot_rec rec;
} ot_cell;

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

/* Append n bytes. Inline: the encoder appends dozens of fragments per
 * span, and the common case (room left) is a memcpy. */
void ot_buf_put_slow(ot_buf *b, const char *s, size_t n);
static inline void ot_buf_put(ot_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 <= b->cap) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
  } else {
    ot_buf_put_slow(b, s, n);
  }
}
static inline void ot_buf_puts(ot_buf *b, const char *s) { ot_buf_put(b, s, strlen(s)); }
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
  int nice_delta;            /* the exporter thread: nice levels below its creator */
  int creator_nice;          /* the nice value of hl_otel_new()'s thread */
  atomic_int exporter_nice;  /* what the exporter thread runs at */
  FILE *warn;
  hl_observer *observer;

  /* the tracer (otel.c), on the exporter's side: `lock` is held by
   * whoever drains the ring (the exporter thread; flush, stats and stop) */
  pthread_mutex_t lock;
  struct ot_run **runs;      /* hash table of runs in progress */
  size_t n_buckets;

  /* the ring of records (otel_record.c): producers (the runs' threads)
   * claim a slot with one compare-and-swap, the consumer holds `lock` */
  ot_cell *ring;
  size_t ring_cap;           /* a power of two */
  _Atomic size_t ring_head;  /* next slot to claim */
  size_t ring_tail;          /* next slot to read (under lock) */
  atomic_bool idle;          /* the exporter sleeps long: wake it for a record */
  atomic_bool kick;          /* a producer asked for a drain (ring half full) */
  atomic_bool live_enabled;  /* the observer acts (cleared at shutdown) */

  /* the runs in progress as the run's side knows them (their trace ids,
   * for children on other threads and for the traceparent) */
  pthread_mutex_t live_lock;
  struct ot_live **live;
  struct ot_live *live_free; /* recycled entries: no malloc per run */
  size_t n_live;

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

/* The ring (otel_record.c). init: false when out of memory. The consumer
 * (holding o->lock) peeks the oldest published record, handles it, then
 * releases the slot (freeing its heap). free: drops what is left. */
bool ot_ring_init(hl_otel *o, size_t cap);
ot_rec *ot_ring_peek(hl_otel *o);
void ot_ring_release(hl_otel *o, ot_rec *r);
void ot_ring_free(hl_otel *o);
void ot_live_free(hl_otel *o);
/* Turn one record into spans (o->lock held): finished ones are linked
 * into *out (otel.c). */
void ot_trace_record(hl_otel *o, const ot_rec *r, ot_span **out, size_t *n);
/* Drain the ring into spans and queue them. `wait`: take o->lock even if
 * busy (else give up when another drain holds it). Returns the number of
 * records read. */
size_t ot_drain(hl_otel *o, bool wait);
/* Wake the exporter thread (a drain is due). */
void ot_export_wake(hl_otel *o);

/* Queue finished spans (a list linked by ->next); drops them when full. */
void ot_export_enqueue(hl_otel *o, ot_span *first, size_t n);
hl_status ot_export_start(hl_otel *o);
hl_status ot_export_flush(hl_otel *o, unsigned deadline_ms);
void ot_export_stop(hl_otel *o, unsigned deadline_ms);
/* The one warning of an exporter (later ones are dropped). */
void ot_warn(hl_otel *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's nice value (Linux: per thread; 0 where unknown). */
int ot_thread_nice(void);

int64_t ot_now_ns(void);
int64_t ot_mono_ns(void);
void ot_random_bytes(uint8_t *out, size_t n);
void ot_hex(char *out, const uint8_t *in, size_t n);

#endif
