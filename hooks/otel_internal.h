/*
 * otel_internal.h - the parts of the OpenTelemetry exporter (hooks/otel*.c)
 * and what they share: a span as the tracer builds it, the export queue,
 * the metric points. Public API only (include/), plus libcurl.
 *
 *   otel_record.c   the run's side: the observer copies what a span needs
 *                   into a record of a lock-free ring; the ids and the
 *                   traceparent of outgoing requests
 *   otel.c          the tracer, on the exporter's side: records into spans
 *   otel_config.c   options, install, flush, shutdown
 *   otel_env.c      the OTEL_* variables; each signal's settings
 *   otel_export.c   the bounded queue and the exporter thread (OTLP/HTTP)
 *   otel_reply.c    what is read of the collector's answers
 *   otel_json.c     OTLP JSON encoding of spans and metrics
 *   otel_metrics.c  the GenAI histograms
 */
#ifndef HL_OTEL_INTERNAL_H
#define HL_OTEL_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hookline/otel.h"

/* What the exporter aligns and prefetches by. */
#define OT_CACHE_LINE 64

/* ---- JSON text -------------------------------------------------------- */

typedef struct ot_buf {
  char *p;
  size_t len, cap;
  bool failed;
  bool borrowed;             /* p is someone else's memory (a span's own): copied out to grow */
} ot_buf;

/* Append n bytes. Inline: the encoder appends dozens of fragments per
 * span, and the common case (room left) is a memcpy. The text is not
 * NUL-terminated as it grows (a store per fragment, ~600 instructions a
 * run of (b)), but a byte is always left for it: ot_buf_str(). */
void ot_buf_put_slow(ot_buf *b, const char *s, size_t n);
static inline void ot_buf_put(ot_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 <= b->cap) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
  } else {
    ot_buf_put_slow(b, s, n);
  }
}
/* The text as a C string (NUL-terminated now), or NULL when empty and
 * never allocated. */
static inline char *ot_buf_str(ot_buf *b) {
  if (b->p) b->p[b->len] = '\0';
  return b->p;
}
static inline void ot_buf_puts(ot_buf *b, const char *s) { ot_buf_put(b, s, strlen(s)); }
/* A string literal: its length is known at compile time. */
#define OT_PUT_LIT(b, lit) ot_buf_put((b), "" lit, sizeof(lit) - 1)
void ot_buf_printf(ot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quotes included), or only its escaped characters. */
void ot_buf_json_string(ot_buf *b, const char *s);
void ot_buf_json_chars(ot_buf *b, const char *s);
/* The same, of at most `max_chars` characters of `s` (whole UTF-8
 * sequences; a byte that is not UTF-8 counts as one): the attribute value
 * length limit. SIZE_MAX (no limit, the default): ot_buf_json_string(),
 * called straight from the encoder (~180 instructions a run of (b)). */
void ot_buf_json_prefix(ot_buf *b, const char *s, size_t max_chars);
/* The bytes of the longest prefix of `s` (NUL-terminated) made of whole
 * characters (as the above counts them), at most `max_bytes` of them and
 * at most *chars characters; *chars less the characters taken (SIZE_MAX:
 * no limit, left as it is). The exporter's one cut: the value length
 * limit here and on the run's thread (otel_record.c), of strings and of
 * captured JSON, and the record's 64 KB there. */
size_t ot_utf8_cut(const char *s, size_t max_bytes, size_t *chars);
static inline void ot_buf_json_string_max(ot_buf *b, const char *s, size_t max_chars) {
  if (max_chars == SIZE_MAX) ot_buf_json_string(b, s);
  else ot_buf_json_prefix(b, s, max_chars);
}
/* Decimal digits, without printf. */
void ot_buf_u64(ot_buf *b, uint64_t v);
void ot_buf_i64(ot_buf *b, int64_t v);

/* ---- spans ---------------------------------------------------------- */

enum { OT_KIND_INTERNAL = 1, OT_KIND_CLIENT = 3 };
enum { OT_STATUS_UNSET = 0, OT_STATUS_OK = 1, OT_STATUS_ERROR = 2 };
enum { OT_AGENT, OT_CHAT, OT_TOOL, OT_MCP };

/* A span as the tracer builds it. Its attributes and events are encoded
 * as OTLP JSON once, when their record is read ("," + one attribute or
 * event per fragment, in `attrs` and `events`); the export copies them
 * into the batch behind the span's ids and times. What may still change
 * or what the metrics read (the name's second word, the tool's name, the
 * error, the models) is kept as text in `strs` and written at the export.
 * Spans are recycled with their buffers (otel.c): once the buffers have
 * grown to a span's size, making a span allocates nothing. */
#define OT_SPAN_STRS 192
#define OT_SPAN_ATTRS 1024
#define OT_SPAN_EVENTS 320

typedef struct ot_span {
  struct ot_span *next;      /* in its run's list, then in the export queue */
  uint8_t trace_id[16], span_id[8], parent_id[8];
  bool has_parent, ended;
  /* The span limits (hl_otel.limits): what was kept and what dropped
   * (OTLP's droppedAttributesCount, droppedEventsCount). The attributes
   * written at the export (gen_ai.tool.name, error.type) are counted when
   * they are known: tool_attr, error_attr say they were kept. */
  bool tool_attr, error_attr;
  uint32_t n_attrs, dropped_attrs, n_events, dropped_events;
  uint32_t value_chars;      /* the value length limit (UINT32_MAX: none), for those two */
  /* The operation's own measurement (LM_END, TOOL_END, AGENT_END): the
   * metrics take it when the span is handed over. */
  bool measured, has_usage;
  uint8_t kind, role;
  int status;
  const char *op;            /* literal: the operation, the name's first word */
  const char *error_type;    /* literal (hl_status_name()) or NULL */
  int64_t start_ns, end_ns;
  double duration_ms;
  int64_t in_tokens, out_tokens;
  /* 1 + offset in strs, 0: none */
  uint32_t s_what, s_call, s_tool, s_msg, s_provider, s_model, s_resp_model, s_server;
  ot_buf strs;               /* NUL-terminated strings, appended */
  ot_buf attrs;              /* encoded attributes, each with a leading ',' */
  ot_buf events;             /* encoded events, each with a leading ',' */
  struct ot_span *mcp;       /* OT_TOOL of an MCP tool: its tools/call span */
  /* The buffers' first memory, in the span's own allocation (a span of
   * (b) fits: one malloc per span, and none once recycled). */
  char mem[OT_SPAN_STRS + OT_SPAN_ATTRS + OT_SPAN_EVENTS];
} ot_span;

/* A string of a span, or NULL. */
static inline const char *ot_span_str(const ot_span *s, uint32_t off) {
  return off ? s->strs.p + off - 1 : NULL;
}

/* Ask for the cache lines of span `s` that making it (otel.c) and
 * encoding it (otel_json.c) touch first: its header, up to the buffers'
 * memory, and the head of each buffer's own memory. Spans are reused and
 * queued a batch apart (~512 spans, ~1 MB), out of the cache by then, and
 * reached through ->next: each waited for memory when first touched.
 * Always inlined: as a function of its own, gcc 12 found it free of side
 * effects and dropped its calls. */
__attribute__((always_inline)) static inline void ot_span_prefetch(const ot_span *s) {
  for (size_t off = 0; off < offsetof(ot_span, mem); off += OT_CACHE_LINE)
    __builtin_prefetch((const char *)s + off);
  __builtin_prefetch(s->mem);
  __builtin_prefetch(s->mem + OT_SPAN_STRS);
  __builtin_prefetch(s->mem + OT_SPAN_STRS + OT_SPAN_ATTRS);
}

/* Give spans (a list linked by ->next) back to the tracer's pool
 * (any thread). Spans are carved from slabs and live until
 * ot_span_pool_free() (hl_otel's end): their number is the most that
 * were alive at once. */
void ot_spans_recycle(hl_otel *o, ot_span *first);
void ot_span_pool_free(hl_otel *o);

/* ---- records (the run's side to the tracer) ------------------------- */

/* The strings a record may carry, by index (ot_rec.off). The run's
 * invocation id comes with AGENT_START only (gen_ai.agent.id): the run's
 * other records name it by its key (ot_rec.run). */
enum {
  OT_S_INV, OT_S_PARENT_CALL, OT_S_CALL, OT_S_OUTER_CALL, OT_S_AGENT,
  OT_S_SESSION, OT_S_BRANCH, OT_S_NAME, OT_S_PROVIDER, OT_S_TOOL, OT_S_SERVER,
  OT_S_RESP_MODEL, OT_S_RESP_ID, OT_S_ERROR, OT_S_CONTENT, OT_S_COUNT
};
/* OT_R_UNSAMPLED: an end (LM_END, TOOL_END, AGENT_END) of a run the
 * sampler left out, for the metrics only (otel_record.c). */
enum { OT_R_USAGE = 1, OT_R_REMOTE = 2, OT_R_SPAN = 4, OT_R_UNSAMPLED = 8 };
#define OT_REC_TEXT 192

/* What the run's thread copies out of one event: the ids it made, times,
 * numbers and the few strings a span needs, packed in `text` (or in
 * `heap`, malloc'd, when they do not fit: long names, captured content).
 * Everything else (names, attributes, JSON) is made on the exporter's
 * side. A run is named by its key, a number the run's side gives it at
 * AGENT_START (otel_record.c): the exporter finds the run by comparing
 * numbers, and the run's side copies no invocation id per event. */
typedef struct ot_rec {
  /* What every record has first, what some have after `text`: a record
   * writes only the cache lines it uses (its slot's first 2-3 of 6 for
   * most events), and the exporter thread reads only those. */
  int64_t time_ns;
  double duration_ms;
  int64_t in_tokens, out_tokens;
  const char *finish;        /* a literal (hl_finish_reason_name()) or NULL */
  char *heap;                /* the strings, when not in `text` (owned) */
  uint64_t run;              /* the run's key; 0: unknown (its AGENT_START was not seen) */
  int32_t status;            /* hl_status of the event's error */
  uint8_t type, hook_point, hook_action, flags;
  uint8_t span_id[8];        /* the span the event opens or is about (OT_R_SPAN) */
  uint16_t off[OT_S_COUNT];  /* 1 + offset of each string; 0: NULL */
  char text[OT_REC_TEXT];
  uint8_t trace_id[16];      /* AGENT_START: the run's trace */
  uint64_t parent_run;       /* AGENT_START of a child run: its parent's key (0: none known) */
  uint8_t span2_id[8];       /* TOOL_START of an MCP tool: its tools/call span */
  uint8_t remote_id[8];      /* AGENT_START with OT_R_REMOTE: the remote parent */
} ot_rec;

/* Hash of an invocation id, for the live-run table (otel_record.c). Ids
 * end in random hex ("inv-" + 32 digits), so their last 16 characters
 * hash well enough; this runs at a run's start and end, and for events
 * of a run on a thread that has no frame of it. */
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

/* A string of a record, or NULL. */
static inline const char *ot_rec_str(const ot_rec *r, int i) {
  return r->off[i] ? (r->heap ? r->heap : r->text) + r->off[i] - 1 : NULL;
}

/* A slot of the ring (a bounded queue: `seq` says that it is published,
 * otel_record.c), aligned to cache lines: a slot shares none with its
 * neighbours, so the exporter reading one does not take a line from the
 * run's thread writing the next. */
typedef struct ot_cell {
  alignas(OT_CACHE_LINE) _Atomic size_t seq;
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
  unsigned lits;            /* bit j: values[j] is a literal, not owned */
  uint64_t count, buckets[OT_MAX_BOUNDS + 1];
  double sum, min, max;
} ot_point;

/* The kinds of measurement a span makes (ot_metrics_from_spans): the
 * point each last went to is tried first. */
enum { OT_SLOT_CHAT, OT_SLOT_TOKENS_IN, OT_SLOT_TOKENS_OUT, OT_SLOT_TOOL, OT_SLOT_AGENT, OT_SLOT_COUNT };

typedef struct ot_metrics {
  pthread_mutex_t lock;
  ot_point *points;
  ot_point *last[OT_SLOT_COUNT];
  int64_t start_ns;
  bool dirty;               /* something recorded since the last export */
} ot_metrics;

/* The measurements of an unsampled run's end record (OT_R_UNSAMPLED): what
 * its span would have given. */
void ot_metrics_from_record(ot_metrics *m, const ot_rec *r);
/* Record one value; keys/values pairs (values copied, NULL skipped). */
void ot_metrics_record(ot_metrics *m, int metric, double value, const char *const *keys,
                       const char *const *values, int n);
void ot_metrics_free(ot_metrics *m);
/* Record the measurements of finished spans (a list linked by ->next),
 * taking the lock once; the tracer calls it when it hands spans over. */
void ot_metrics_from_spans(ot_metrics *m, const ot_span *first);
/* The bucket boundaries of `metric` (static); returns their number. */
int ot_metric_bounds(int metric, const double **bounds);

/* ---- OTLP JSON -------------------------------------------------------- */

/* {"resourceSpans":[...]} for `n` spans of the list. */
bool ot_json_spans(ot_buf *b, const char *resource_json, ot_span *spans, size_t n);
/* {"resourceMetrics":[...]}; false when there is nothing to send. */
bool ot_json_metrics(ot_buf *b, const char *resource_json, ot_metrics *m, int64_t now_ns);

/* ---- configuration (otel_env.c) -------------------------------------- */

enum { OT_SIG_TRACES, OT_SIG_METRICS, OT_SIG_COUNT };

/* How one signal is exported. */
typedef struct ot_signal {
  bool on;                   /* exported at all (OTEL_*_EXPORTER, the protocol) */
  char *url;
  char **headers;            /* "Key: value" lines */
  size_t n_headers;
  unsigned timeout_ms;       /* one export, retries included */
  bool gzip;                 /* bodies gzipped (Content-Encoding: gzip) */
  char *ca, *cert, *key;     /* TLS: PEM files, NULL: libcurl's defaults */
} ot_signal;

/* A field of hl_otel_options the caller's struct has (its size says so):
 * fields are only appended. */
#define OT_HAS_OPTION(opts, field) \
  ((opts)->size >= offsetof(hl_otel_options, field) + sizeof((opts)->field))

/* gzip `n` bytes of `in` into out (its memory reused, grown as needed;
 * out->len its size). False when out of memory or built without zlib
 * (ot_gzip_available() false). */
bool ot_gzip(ot_buf *out, const char *in, size_t n);
bool ot_gzip_available(void);

/* Samplers (OTEL_TRACES_SAMPLER), in the specification's order. */
enum { OT_SAMPLE_ON, OT_SAMPLE_OFF, OT_SAMPLE_RATIO, OT_SAMPLE_PB_ON, OT_SAMPLE_PB_OFF, OT_SAMPLE_PB_RATIO };

/* hl_otel_new()'s reading of options and environment: the variables it
 * warned of (each once). */
typedef struct ot_cfg {
  hl_otel *o;
  const hl_otel_options *opts;
  char warned[24][48];
  int n_warned;
} ot_cfg;

/* The same, once per item of the list `value` that `var` (a variable, or
 * the option that set it) holds (OTEL_PROPAGATORS). */
void ot_cfg_warn_item(ot_cfg *c, const char *var, const char *value, const char *item, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* OTEL_PROPAGATORS, or the option: whether outgoing requests carry the
 * traceparent (tracecontext listed, the default); what is not spoken
 * here is warned of, never a failure. */
bool ot_propagators_config(ot_cfg *c);
/* The variable's value, NULL when unset or empty. */
const char *ot_env(const char *name);
/* A warning about variable `var` (its value quoted, cleaned), once. */
void ot_cfg_warn(ot_cfg *c, const char *var, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A warning about `name` with the value that was not valid: an option's
 * (hl_otel_options.<field>, not in the environment), or a variable's. */
void ot_cfg_warn_value(ot_cfg *c, const char *name, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* `opt` when set (non-zero), else the variable as a positive integer
 * (milliseconds; a count), else `def`; a bad value is warned of. */
unsigned ot_cfg_ms(ot_cfg *c, unsigned opt, const char *name, unsigned def);
size_t ot_cfg_count(ot_cfg *c, size_t opt, const char *name, size_t def);
/* A boolean variable: "true" (any case) is true; unset, empty or "false"
 * false; anything else false with a warning. */
bool ot_cfg_true(ot_cfg *c, const char *name);
/* "k=v,k2=v2" (trimmed; values percent-decoded, keys as written, %00
 * and bad escapes kept): fn gets malloc'd key and value
 * (and owns them). False when out of memory. */
typedef void (*ot_kv_fn)(void *ud, char *key, char *value);
bool ot_parse_list(const char *list, ot_kv_fn fn, void *ud);
/* The sampler and its ratio into c->o (o->sampler, o->ratio_bound). False
 * with HL_ERR_INVALID for a bad option; a bad variable is warned of. */
bool ot_sampler_config(ot_cfg *c);
/* The sampler's decision for a new trace (otel_record.c): `remote` the
 * caller's sampled flag, or -1 when the trace is not a caller's. */
bool ot_sample(const hl_otel *o, const uint8_t trace[16], int remote);
/* Signal `which` (OT_SIG_*) from the options and the environment, its
 * URL from `base` unless its own is set. False when out of memory. */
bool ot_signal_config(ot_cfg *c, ot_signal *s, int which, const char *base);
void ot_signal_free(ot_signal *s);

/* Span limits (the SDK's SpanLimits: OTEL_[SPAN_]ATTRIBUTE_*_LIMIT,
 * OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT). Resource
 * attributes are exempt, as the specification says. */
typedef struct ot_limits {
  uint32_t value_chars;      /* characters of a string value; UINT32_MAX: none */
  uint32_t attrs, events, event_attrs; /* per span, per span, per event */
} ot_limits;
/* The specification's defaults: no length limit, 128 of each. */
#define OT_LIMITS_DEFAULT ((ot_limits){.value_chars = UINT32_MAX, .attrs = 128, .events = 128, .event_attrs = 128})
/* The limits from the options and the environment into c->o->limits. */
void ot_limits_config(ot_cfg *c);

/* ---- the exporter --------------------------------------------------- */

struct hl_otel {
  atomic_uint refs;          /* the owner's, and the observer's */
  bool enabled;              /* under lock: the observer acts */
  atomic_bool header_installed; /* hl_trace_set_header_fn() was ours */
  bool propagate;            /* install the traceparent header function (OTEL_PROPAGATORS) */
  ot_limits limits;
  ot_signal sig[OT_SIG_COUNT]; /* traces, metrics */
  char *resource_json;       /* {"attributes":[...]} */
  size_t max_queue, max_batch;
  unsigned export_delay_ms, metrics_interval_ms;
  int sampler;               /* OT_SAMPLE_* */
  uint64_t ratio_bound;      /* *traceidratio: a trace id whose last 56 bits are below is sampled */
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
  ot_span *spare;            /* spans to reuse (under `lock`) */
  struct ot_slab *slabs;     /* where spans come from, 64 a malloc (under `lock`) */
  struct ot_run *spare_runs; /* run records to reuse (under `lock`) */
  int64_t drain_began_ns;    /* monotonic start of the last drain (under `lock`) */

  /* spans given back after their export (any thread: pool_lock); the
   * tracer takes them all at once when `spare` is empty */
  pthread_mutex_t pool_lock;
  ot_span *pool;
  size_t n_pool;

  /* the ring of records (otel_record.c): producers (the runs' threads)
   * claim a slot with one compare-and-swap, the consumer holds `lock`.
   * Each group below has cache lines of its own: what the run's thread
   * writes for every record (ring_head), what the exporter writes for
   * every record (ring_tail, its own), what the exporter writes every 64
   * records and the run's thread reads for every record (ring_done),
   * what both read for every record and rarely change (the rest).
   * Sharing one line, they made the two threads take it from each other
   * at every record while a drain ran. */
  alignas(OT_CACHE_LINE) _Atomic size_t ring_head; /* next slot to claim */
  alignas(OT_CACHE_LINE) size_t ring_tail;         /* next slot to read (under lock) */
  alignas(OT_CACHE_LINE) _Atomic size_t ring_done; /* the slots before it are read: free */
  alignas(OT_CACHE_LINE) ot_cell *ring;
  size_t ring_cap;           /* a power of two */
  atomic_bool live_enabled;  /* the observer acts (cleared at shutdown) */
  atomic_bool kick;          /* a producer asked for a drain (ring half full) */
  bool capture;              /* record content (here: every event reads it, and this line) */

  /* the runs in progress as the run's side knows them (their trace ids,
   * for children on other threads and for the traceparent) */
  alignas(OT_CACHE_LINE) pthread_mutex_t live_lock;
  struct ot_live **live;
  struct ot_live *live_free; /* recycled entries: no malloc per run */
  /* written under live_lock, read without it: a look-up in an empty
   * table (a request of a run the exporter does not observe) takes no
   * lock */
  atomic_size_t n_live;

  alignas(OT_CACHE_LINE) ot_metrics metrics;

  /* the queue and the thread (otel_export.c) */
  alignas(OT_CACHE_LINE) pthread_mutex_t qlock;
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
  atomic_bool warned_partial; /* the one warning of partial successes */

  atomic_uint_fast64_t st_started, st_exported, st_dropped, st_requests, st_failures,
      st_metric_exports, st_run_wakeups, st_rejected_spans, st_rejected_points, st_unsampled;
};

/* The event types the observer reads (API_REQUEST only when content is
 * captured): what it declares (otel_config.c) and what it takes. */
#define OT_EVENTS                                                                               \
  (HL_EVENT_MASK(HL_EVENT_AGENT_START) | HL_EVENT_MASK(HL_EVENT_AGENT_END) |                   \
   HL_EVENT_MASK(HL_EVENT_LM_START) | HL_EVENT_MASK(HL_EVENT_LM_END) |                         \
   HL_EVENT_MASK(HL_EVENT_TOOL_START) | HL_EVENT_MASK(HL_EVENT_TOOL_END) |                     \
   HL_EVENT_MASK(HL_EVENT_HOOK) | HL_EVENT_MASK(HL_EVENT_API_REQUEST))

/* The tracer (otel_record.c, otel.c): the observer's functions (one per
 * event type it reads, user_data the hl_otel), the same for any event
 * (ot_on_event: it calls the type's own, and ignores the types not in
 * OT_EVENTS), the header function of hookline/trace.h, and the end: stop
 * acting and hand over the runs still in progress (their spans ended now)
 * in a list for the queue. */
extern const hl_observer_ops ot_observer_ops;
int ot_on_event(const hl_event *ev, void *user_data);
bool ot_header_fn(hl_context *ctx, char *line, size_t size, void *user_data);
void ot_tracer_stop(hl_otel *o, ot_span **out, size_t *n);

/* The ring (otel_record.c). init: false when out of memory. The consumer
 * (holding o->lock) peeks the oldest published record, handles it, then
 * releases the slot (freeing its heap); sync hands the released slots
 * back to the producers (release does every 64 slots; a drain calls it
 * when it ends). free: drops what is left. */
bool ot_ring_init(hl_otel *o, size_t cap);
ot_rec *ot_ring_peek(hl_otel *o);
void ot_ring_release(hl_otel *o, ot_rec *r);
void ot_ring_sync(hl_otel *o);
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
/* The exporter's pace of reading the ring: the ring's head and the time
 * at the last reading, and the tick it chose then. ot_pace_next() takes
 * a reading (`now`) and returns the next tick, in ns (otel_export.c). */
typedef struct ot_pace {
  size_t head;
  int64_t at, tick;
} ot_pace;
int64_t ot_pace_next(hl_otel *o, ot_pace *p, int64_t now);

/* Queue finished spans (a list linked by ->next); drops them when full.
 * `since_ns`: the monotonic time they may have waited from (0: now), so
 * that export_delay_ms counts from there. */
void ot_export_enqueue(hl_otel *o, ot_span *first, size_t n, int64_t since_ns);
hl_status ot_export_start(hl_otel *o);
hl_status ot_export_flush(hl_otel *o, unsigned deadline_ms);
void ot_export_stop(hl_otel *o, unsigned deadline_ms);
/* The one warning of an exporter about lost spans (later ones are dropped). */
void ot_warn(hl_otel *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A warning printed once per `flag` (a kind of problem of its own, such
 * as a partial success), followed by `tail`. */
void ot_warn_once(hl_otel *o, atomic_bool *flag, const char *tail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- the collector's answer (otel_reply.c) ---------------------------- */

/* The most of an answer's body kept (a collector's answer is a few bytes:
 * {} or a partial success or a google.rpc.Status). */
#define OT_REPLY_MAX 65536
/* The most of a collector's text put in a warning. */
#define OT_REPLY_TEXT 256

/* The longest Retry-After kept, in seconds: far beyond any export's
 * deadline (the exporter waits at most its backoff cap anyway), and small
 * enough for otel_export.c to count it in milliseconds in a long. */
#define OT_RETRY_AFTER_MAX_S 3600

typedef struct ot_reply {
  ot_buf body;               /* at most OT_REPLY_MAX bytes; reused from request to request */
  bool truncated;            /* the body was longer: not parsed */
  long retry_after_s;        /* Retry-After, in seconds from now (rounded up, at most
                                OT_RETRY_AFTER_MAX_S); 0: none */
} ot_reply;

/* libcurl's write and header functions (user data: the ot_reply). */
size_t ot_reply_body(char *p, size_t size, size_t n, void *ud);
size_t ot_reply_header(char *p, size_t size, size_t n, void *ud);
/* Before each request. */
void ot_reply_reset(ot_reply *r);
/* A 2xx answer's partialSuccess: the count of `rejected_key`
 * ("rejectedSpans", "rejectedDataPoints") into *rejected and its
 * errorMessage, cleaned (ot_clean_text), into msg. False when there is
 * none (or it is empty, which means a full success). */
bool ot_reply_partial(ot_reply *r, const char *rejected_key, uint64_t *rejected, char *msg, size_t size);
/* A failure's google.rpc.Status "message", cleaned, into msg ("" when the
 * body is not one). */
void ot_reply_status_message(ot_reply *r, char *msg, size_t size);
/* `in` made fit for one line of a terminal, into out (at most size - 1
 * bytes, NUL-terminated): control characters (C0, DEL, C1) and bytes that
 * are not UTF-8 are dropped, a sequence that does not fit is left out. */
void ot_clean_text(char *out, size_t size, const char *in);

/* The calling thread's nice value (Linux: per thread; 0 where unknown). */
int ot_thread_nice(void);

int64_t ot_now_ns(void);
int64_t ot_mono_ns(void);
void ot_random_bytes(uint8_t *out, size_t n);
void ot_hex(char *out, const uint8_t *in, size_t n);

#endif
