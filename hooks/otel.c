/*
 * otel.c - the OpenTelemetry tracer (hookline/otel.h), on the exporter's
 * side: it turns the records the runs' threads put in the ring
 * (otel_record.c) into GenAI spans, and drains the ring into the export
 * queue.
 *
 * How records become spans. Each run in progress has a record here,
 * found by its key (a number the run's side gave it at AGENT_START, in
 * every record of the run), holding its invoke_agent span and the child
 * spans (chat, execute_tool, tools/call) not yet handed to the exporter.
 * The run tree comes from the events themselves: parent_invocation_id and
 * parent_call_id place a child run under the span that started it,
 * outer_call_id places a nested tool call (code mode) under the code
 * tool's span. A tool span opens at its first event (a before_tool hook
 * decision or TOOL_START) and takes the after_tool hook's decision too,
 * so spans are handed over at the next LM_START (every call of the
 * turn is over) and at AGENT_END, not at TOOL_END. Span and trace ids
 * come with the records: the run's thread made them, because outgoing
 * requests name the current span while it runs. Encoding happens here
 * too, once: a record's attributes and events go into its span's JSON
 * buffers as they are read, so the export only copies them behind the
 * span's ids and times (otel_json.c).
 *
 * Threads: one consumer at a time, holding o->lock (the exporter thread,
 * or flush, stats and stop draining what is left); records arrive in the
 * order the runs' threads published them.
 *
 * The exporter's configuration and life cycle are in otel_config.c.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hookline/agent.h"
#include "hookline/mcp.h"
#include "hookline/trace.h"
#include "otel_internal.h"

/* ---- small helpers ------------------------------------------------------ */

int64_t ot_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ot_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Ids need to be unique, not secret: xorshift per thread, seeded once from
 * the kernel. */
void ot_random_bytes(uint8_t *out, size_t n) {
  static _Thread_local uint64_t state;
  if (!state) {
    if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
      state = (uint64_t)ot_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&state;
    if (!state) state = 0x9e3779b97f4a7c15ULL;
  }
  for (size_t i = 0; i < n; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    uint64_t x = state * 0x2545F4914F6CDD1DULL;
    memcpy(out + i, &x, n - i < 8 ? n - i : 8);
  }
}

static void new_id(uint8_t *out, size_t n) {
  do ot_random_bytes(out, n);
  while (!memcmp(out, (const uint8_t[16]){0}, n)); /* all-zero ids are invalid */
}

/* The 8 hex digits of 4 bytes (in memory order), computed on one 64-bit
 * word: ids are written for every span (two or three each) and every
 * traceparent, and a table look-up per byte cost ~2.5 times as much. */
static inline void hex4(char *out, const uint8_t *in) {
  /* in[i] at bits 8i (one load on a little-endian machine) */
  uint32_t v = (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
  /* byte i to bytes 2i (its high nibble) and 2i+1 (its low one) of x */
  uint64_t hi = (v >> 4) & 0x0F0F0F0Fu, lo = v & 0x0F0F0F0Fu;
  hi = (hi | hi << 16) & 0x0000FFFF0000FFFFULL;
  hi = (hi | hi << 8) & 0x00FF00FF00FF00FFULL;
  lo = (lo | lo << 16) & 0x0000FFFF0000FFFFULL;
  lo = (lo | lo << 8) & 0x00FF00FF00FF00FFULL;
  uint64_t x = hi | lo << 8;
  /* nibble n to '0' + n, plus 'a' - '0' - 10 where n >= 10 */
  uint64_t ten = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
  x += 0x3030303030303030ULL + ten * ('a' - '0' - 10);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x); /* byte k of x to out[k] */
#endif
  memcpy(out, &x, 8);
}

void ot_hex(char *out, const uint8_t *in, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) hex4(out + 2 * i, in + i);
  for (; i < n; i++) {
    out[2 * i] = "0123456789abcdef"[in[i] >> 4];
    out[2 * i + 1] = "0123456789abcdef"[in[i] & 15];
  }
  out[2 * n] = '\0';
}

/* ---- spans ---------------------------------------------------------- */

/* Spans larger than this (captured content) give their buffers back
 * when recycled: the pool keeps ordinary spans' buffers only. */
#define OT_KEEP_BUF 16384
/* Spans per slab: one malloc for 64 spans (~110 KB), and one free. */
#define OT_SLAB 64

typedef struct ot_slab {
  struct ot_slab *next;
  size_t used;               /* spans handed out (the rest never touched) */
  ot_span spans[OT_SLAB];
} ot_slab;

static void buf_drop(ot_buf *b) {
  if (!b->borrowed) free(b->p);
  *b = (ot_buf){0};
}

void ot_spans_recycle(hl_otel *o, ot_span *first) {
  if (!first) return;
  size_t n = 0;
  ot_span *last = NULL;
  for (ot_span *s = first; s; s = s->next) {
    /* (span_get() gives a dropped buffer the span's own memory again) */
    if (s->strs.cap > OT_KEEP_BUF) buf_drop(&s->strs);
    if (s->attrs.cap > OT_KEEP_BUF) buf_drop(&s->attrs);
    if (s->events.cap > OT_KEEP_BUF) buf_drop(&s->events);
    last = s;
    n++;
  }
  pthread_mutex_lock(&o->pool_lock);
  last->next = o->pool;
  o->pool = first;
  o->n_pool += n;
  pthread_mutex_unlock(&o->pool_lock);
}

/* Every span ever made, wherever it is (o->lock held, the tracer stopped
 * and no span left in the queue): their grown buffers, then the slabs. */
void ot_span_pool_free(hl_otel *o) {
  for (ot_slab *sl = o->slabs, *next; sl; sl = next) {
    next = sl->next;
    for (size_t i = 0; i < sl->used; i++) {
      buf_drop(&sl->spans[i].strs);
      buf_drop(&sl->spans[i].attrs);
      buf_drop(&sl->spans[i].events);
    }
    free(sl);
  }
  o->slabs = NULL;
  o->spare = NULL;
  pthread_mutex_lock(&o->pool_lock);
  o->pool = NULL;
  o->n_pool = 0;
  pthread_mutex_unlock(&o->pool_lock);
}

/* A span never used, from the current slab or a new one; NULL when out
 * of memory. */
static ot_span *span_new(hl_otel *o) {
  ot_slab *sl = o->slabs;
  if (!sl || sl->used == OT_SLAB) {
    if (!(sl = malloc(sizeof *sl))) return NULL;
    sl->used = 0;
    sl->next = o->slabs;
    o->slabs = sl;
  }
  return &sl->spans[sl->used++];
}

/* An empty buffer: it keeps memory it grew into, else it gets its slice
 * of the span's own. */
static inline void buf_reset(ot_buf *b, char *own, size_t size) {
  if (!b->p || b->borrowed) *b = (ot_buf){.p = own, .cap = size, .borrowed = true};
  b->len = 0;
  b->failed = false;
  b->p[0] = '\0';
}

/* A span from the pool (o->lock held), emptied; NULL when out of memory. */
static ot_span *span_get(hl_otel *o) {
  ot_span *s = o->spare;
  if (!s) {
    pthread_mutex_lock(&o->pool_lock);
    s = o->pool;
    o->pool = NULL;
    o->n_pool = 0;
    pthread_mutex_unlock(&o->pool_lock);
  }
  ot_buf strs = {0}, attrs = {0}, events = {0};
  if (s) {
    o->spare = s->next;
    /* The next span's header, fetched while this one is filled: spare
     * spans were last touched a batch ago (~512 spans, ~1 MB) and had
     * left the cache, and the load of ->next that walks the list waited
     * for memory at every span (perf: ~15 % of the exporter thread's
     * time, most of it on that one load). */
    if (o->spare) ot_span_prefetch(o->spare);
    strs = s->strs, attrs = s->attrs, events = s->events;
  } else if (!(s = span_new(o))) {
    return NULL;
  }
  /* everything before the buffers' memory (which needs no zeroing) */
  memset(s, 0, offsetof(ot_span, mem));
  s->strs = strs;
  s->attrs = attrs;
  s->events = events;
  buf_reset(&s->strs, s->mem, OT_SPAN_STRS);
  buf_reset(&s->attrs, s->mem + OT_SPAN_STRS, OT_SPAN_ATTRS);
  buf_reset(&s->events, s->mem + OT_SPAN_STRS + OT_SPAN_ATTRS, OT_SPAN_EVENTS);
  return s;
}

/* Keep a copy of `v` in the span's strings: 1 + its offset, 0 for NULL
 * (or out of memory). */
static uint32_t keep(ot_span *s, const char *v) {
  if (!v) return 0;
  size_t at = s->strs.len;
  ot_buf_put(&s->strs, v, strlen(v) + 1);
  return s->strs.failed || at >= UINT32_MAX ? 0 : (uint32_t)at + 1;
}

/* Room for one more attribute on span `s` under the span limits
 * (hl_otel.limits): counted if so, counted as dropped if not. The
 * first attributes set are the ones kept, as the specification says. */
static inline bool attr_room(const hl_otel *o, ot_span *s) {
  if (s->n_attrs < o->limits.attrs) {
    s->n_attrs++;
    return true;
  }
  s->dropped_attrs++;
  return false;
}

/* Attributes, encoded now (if the span has room). KEY is a string
 * literal: the fragment before the value is one constant. */
#define OT_ATTR_PRE(key, type) ",{\"key\":\"" key "\",\"value\":{\"" type "\":"
#define ATTR_STR(o, s, key, v) attr_str((o), (s), OT_ATTR_PRE(key, "stringValue"), sizeof(OT_ATTR_PRE(key, "stringValue")) - 1, (v))
#define ATTR_INT(o, s, key, v) attr_int((o), (s), OT_ATTR_PRE(key, "intValue"), sizeof(OT_ATTR_PRE(key, "intValue")) - 1, (v))
#define ATTR_LIT(o, s, key, lit) \
  do { \
    if (attr_room((o), (s))) OT_PUT_LIT(&(s)->attrs, OT_ATTR_PRE(key, "stringValue") "\"" lit "\"}}"); \
  } while (0)

/* The attribute value length limit, as ot_buf_json_string_max() takes it. */
static inline size_t value_chars(const hl_otel *o) {
  return o->limits.value_chars == UINT32_MAX ? SIZE_MAX : o->limits.value_chars;
}

static void attr_str(const hl_otel *o, ot_span *s, const char *pre, size_t n, const char *v) {
  if (!v || !attr_room(o, s)) return;
  ot_buf_put(&s->attrs, pre, n);
  ot_buf_json_string_max(&s->attrs, v, value_chars(o));
  OT_PUT_LIT(&s->attrs, "}}");
}

static void attr_int(const hl_otel *o, ot_span *s, const char *pre, size_t n, int64_t v) {
  if (!attr_room(o, s)) return;
  ot_buf_put(&s->attrs, pre, n);
  OT_PUT_LIT(&s->attrs, "\"");
  ot_buf_i64(&s->attrs, v);
  OT_PUT_LIT(&s->attrs, "\"}}");
}

/* A record's error (status and message) on span `s`. An interrupt or a
 * pending call is not a failure. */
static void set_error(const hl_otel *o, ot_span *s, const ot_rec *r) {
  hl_status st = (hl_status)r->status;
  if (st == HL_OK || st == HL_INTERRUPTED || st == HL_PENDING) return;
  const char *msg = ot_rec_str(r, OT_S_ERROR);
  s->status = OT_STATUS_ERROR;
  s->s_msg = keep(s, msg && msg[0] ? msg : hl_strerror(st));
  /* error.type, written at the export: one attribute however often set
   * (the metrics read it even when the span had no room for it) */
  if (!s->error_type) s->error_attr = attr_room(o, s);
  s->error_type = hl_status_name(st);
}

/* A span named "<op> <what>" (`what` may be NULL). The caller sets its id. */
static ot_span *new_span(hl_otel *o, int role, int kind, const char *op, const char *what,
                         int64_t start_ns) {
  ot_span *s = span_get(o);
  if (!s) return NULL;
  s->op = op;
  s->s_what = keep(s, what);
  s->role = (uint8_t)role;
  s->kind = (uint8_t)kind;
  s->start_ns = s->end_ns = start_ns;
  s->value_chars = o->limits.value_chars;
  atomic_fetch_add(&o->st_started, 1);
  return s;
}

static void set_parent(ot_span *s, const ot_span *parent) {
  memcpy(s->trace_id, parent->trace_id, 16);
  memcpy(s->parent_id, parent->span_id, 8);
  s->has_parent = true;
}

/* ---- runs in progress ------------------------------------------------ */

typedef struct ot_run {
  struct ot_run *next; /* hash chain */
  uint64_t key;        /* the run's side's name for it (ot_rec.run) */
  ot_span *agent;
  ot_span *spans;      /* children not yet handed over, newest first */
  size_t n_spans;
  /* the agent span's encoded gen_ai.agent.name and gen_ai.conversation.id,
   * which its chat spans repeat: ranges of its attrs ([from, mid) and
   * [mid, to), each one attribute or none, counted one by one under the
   * span limits) */
  size_t share_from, share_mid, share_to;
} ot_run;

/* Keys count up: consecutive runs go to consecutive buckets. */
static size_t run_hash(const hl_otel *o, uint64_t key) { return (size_t)(key % o->n_buckets); }

static ot_run *find_run(hl_otel *o, uint64_t key) {
  if (!key) return NULL;
  for (ot_run *r = o->runs[run_hash(o, key)]; r; r = r->next)
    if (r->key == key) return r;
  return NULL;
}

static void unlink_run(hl_otel *o, ot_run *run) {
  ot_run **p = &o->runs[run_hash(o, run->key)];
  while (*p && *p != run) p = &(*p)->next;
  if (*p) *p = run->next;
}

static void run_put(hl_otel *o, ot_run *run) {
  run->next = o->spare_runs;
  o->spare_runs = run;
}

static void add_child(ot_run *run, ot_span *s) {
  s->next = run->spans;
  run->spans = s;
  run->n_spans++;
}

static bool same_call(const ot_span *s, const char *call_id) {
  const char *c = ot_span_str(s, s->s_call);
  return c && strcmp(c, call_id) == 0;
}

/* The newest tool span of `run` for `call_id`. */
static ot_span *find_tool(ot_run *run, const char *call_id, bool open_only) {
  if (!call_id) return NULL;
  for (ot_span *s = run->spans; s; s = s->next)
    if (s->role == OT_TOOL && !(open_only && s->ended) && same_call(s, call_id)) return s;
  return NULL;
}

static ot_span *find_role(ot_run *run, int role) {
  for (ot_span *s = run->spans; s; s = s->next)
    if (s->role == role) return s;
  return NULL;
}

/* Hand the run's child spans to the exporter (ending those still open at
 * their last event: a before_tool override has no TOOL_END). */
static void hand_over_children(ot_run *run, ot_span **out, size_t *n) {
  for (ot_span *s = run->spans, *next; s; s = next) {
    next = s->next;
    s->ended = true;
    s->next = *out;
    *out = s;
    (*n)++;
  }
  run->spans = NULL;
  run->n_spans = 0;
}

/* ---- record handlers (o->lock held) ---------------------------------- */

static const char *provider_name(const char *p) {
  /* gen_ai.provider.name well-known values */
  if (!p) return NULL;
  if (strcmp(p, "openai-responses") == 0) return "openai";
  if (strcmp(p, "gemini") == 0) return "gcp.gemini";
  return p;
}

/* [{"role":..., "parts":[{"type":"text","content":...}]}] (content capture). */
static void text_message(ot_buf *b, const char *role, const char *text) {
  OT_PUT_LIT(b, "[{\"role\":\"");
  ot_buf_puts(b, role);
  OT_PUT_LIT(b, "\",\"parts\":[{\"type\":\"text\",\"content\":");
  ot_buf_json_string(b, text);
  OT_PUT_LIT(b, "}]}]");
}

#define ATTR_MESSAGE(o, s, key, role, text)                                                   \
  do {                                                                                     \
    ot_buf m_ = {0};                                                                       \
    text_message(&m_, role, text);                                                         \
    if (!m_.failed) ATTR_STR(o, s, key, ot_buf_str(&m_));                                                \
    free(m_.p);                                                                            \
  } while (0)

static void on_agent_start(hl_otel *o, const ot_rec *r) {
  const char *inv = ot_rec_str(r, OT_S_INV), *agent = ot_rec_str(r, OT_S_AGENT);
  ot_run *run = o->spare_runs;
  if (run) o->spare_runs = run->next;
  else if (!(run = malloc(sizeof *run))) return;
  memset(run, 0, sizeof *run);
  run->key = r->run;
  ot_span *s = new_span(o, OT_AGENT, OT_KIND_INTERNAL, "invoke_agent", agent, r->time_ns);
  if (!s) {
    run_put(o, run);
    return;
  }
  memcpy(s->span_id, r->span_id, 8);
  run->agent = s;
  ot_run *parent = find_run(o, r->parent_run);
  if (parent) {
    ot_span *p = find_tool(parent, ot_rec_str(r, OT_S_PARENT_CALL), true);
    if (p && p->mcp) p = p->mcp;
    set_parent(s, p ? p : parent->agent);
  } else {
    memcpy(s->trace_id, r->trace_id, 16);
    if (r->flags & OT_R_REMOTE) {
      memcpy(s->parent_id, r->remote_id, 8);
      s->has_parent = true;
    }
  }
  ATTR_LIT(o, s, "gen_ai.operation.name", "invoke_agent");
  run->share_from = s->attrs.len;
  ATTR_STR(o, s, "gen_ai.agent.name", agent);
  run->share_mid = s->attrs.len;
  ATTR_STR(o, s, "gen_ai.conversation.id", ot_rec_str(r, OT_S_SESSION));
  run->share_to = s->attrs.len;
  ATTR_STR(o, s, "gen_ai.agent.id", inv);
  ATTR_STR(o, s, "hookline.branch", ot_rec_str(r, OT_S_BRANCH));
  const char *text = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && text) ATTR_MESSAGE(o, s, "gen_ai.input.messages", "user", text);
  size_t b = run_hash(o, run->key);
  run->next = o->runs[b];
  o->runs[b] = run;
}

static void on_agent_end(hl_otel *o, const ot_rec *r, ot_span **out, size_t *n) {
  ot_run *run = find_run(o, r->run);
  if (!run) return;
  unlink_run(o, run);
  ot_span *s = run->agent;
  s->end_ns = r->time_ns;
  s->ended = true;
  if (r->flags & OT_R_USAGE) {
    ATTR_INT(o, s, "gen_ai.usage.input_tokens", r->in_tokens);
    ATTR_INT(o, s, "gen_ai.usage.output_tokens", r->out_tokens);
  }
  set_error(o, s, r);
  const char *text = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && text) ATTR_MESSAGE(o, s, "gen_ai.output.messages", "assistant", text);
  s->measured = true;
  s->duration_ms = r->duration_ms;
  hand_over_children(run, out, n);
  s->next = *out;
  *out = s;
  (*n)++;
  run_put(o, run);
}

static void on_lm_start(hl_otel *o, ot_run *run, const ot_rec *r, ot_span **out, size_t *n) {
  /* The previous turn's spans go now: every call of that turn is over
   * (its after_tool hooks included) when the next model call starts.
   * Not at TURN_END, whose tool summary the library would build for the
   * tracer alone (~13k instructions a run of (b)), nor at TURN_START, an
   * event more per turn; the last turn's go with AGENT_END. */
  hand_over_children(run, out, n);
  const char *model = ot_rec_str(r, OT_S_NAME);
  ot_span *s = new_span(o, OT_CHAT, OT_KIND_CLIENT, "chat", model, r->time_ns);
  if (!s) return;
  memcpy(s->span_id, r->span_id, 8);
  set_parent(s, run->agent);
  const char *provider = provider_name(ot_rec_str(r, OT_S_PROVIDER));
  s->s_model = s->s_what;
  s->s_provider = keep(s, provider);
  ATTR_LIT(o, s, "gen_ai.operation.name", "chat");
  ATTR_STR(o, s, "gen_ai.provider.name", provider);
  ATTR_STR(o, s, "gen_ai.request.model", model);
  /* the run's, as on its agent span: copied encoded */
  const ot_buf *a = &run->agent->attrs;
  if (!a->failed && run->share_to <= a->len) {
    size_t cut[3] = {run->share_from, run->share_mid, run->share_to};
    for (int i = 0; i < 2; i++)
      if (cut[i + 1] > cut[i] && attr_room(o, s)) ot_buf_put(&s->attrs, a->p + cut[i], cut[i + 1] - cut[i]);
  }
  add_child(run, s);
}

/* The chat span a record is about: by the id the run's thread knew, else
 * the run's open one. */
static ot_span *chat_of(ot_run *run, const ot_rec *r) {
  ot_span *open = NULL;
  for (ot_span *s = run->spans; s; s = s->next) {
    if (s->role != OT_CHAT || s->ended) continue;
    if ((r->flags & OT_R_SPAN) && memcmp(s->span_id, r->span_id, 8) == 0) return s;
    if (!open) open = s;
  }
  return open;
}

static void on_api_request(hl_otel *o, ot_run *run, const ot_rec *r) {
  const char *msgs = ot_rec_str(r, OT_S_CONTENT);
  ot_span *s = o->capture && msgs ? chat_of(run, r) : NULL;
  if (s) ATTR_STR(o, s, "gen_ai.input.messages", msgs);
}

static void on_lm_end(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = chat_of(run, r);
  if (!s) return;
  s->end_ns = r->time_ns;
  s->ended = true;
  const char *resp_model = ot_rec_str(r, OT_S_RESP_MODEL);
  s->s_resp_model = keep(s, resp_model);
  ATTR_STR(o, s, "gen_ai.response.model", resp_model);
  ATTR_STR(o, s, "gen_ai.response.id", ot_rec_str(r, OT_S_RESP_ID));
  if (r->finish && attr_room(o, s)) {
    OT_PUT_LIT(&s->attrs, OT_ATTR_PRE("gen_ai.response.finish_reasons", "arrayValue") "{\"values\":[{\"stringValue\":");
    ot_buf_json_string_max(&s->attrs, r->finish, value_chars(o));
    OT_PUT_LIT(&s->attrs, "}]}}}");
  }
  const char *content = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && content) ATTR_STR(o, s, "gen_ai.output.messages", content);
  if (r->flags & OT_R_USAGE) {
    ATTR_INT(o, s, "gen_ai.usage.input_tokens", r->in_tokens);
    ATTR_INT(o, s, "gen_ai.usage.output_tokens", r->out_tokens);
    s->has_usage = true;
    s->in_tokens = r->in_tokens;
    s->out_tokens = r->out_tokens;
  }
  set_error(o, s, r);
  s->measured = true;
  s->duration_ms = r->duration_ms;
}

/* The tool span of the call a record is about, opened if needed. */
static ot_span *tool_span(hl_otel *o, ot_run *run, const ot_rec *r) {
  const char *call_id = ot_rec_str(r, OT_S_CALL);
  ot_span *s = find_tool(run, call_id, true);
  if (s) return s;
  /* A hook event's name is the hook's: the tool's comes with OT_S_TOOL. */
  const char *tool = ot_rec_str(r, r->type != HL_EVENT_HOOK ? OT_S_NAME : OT_S_TOOL);
  s = new_span(o, OT_TOOL, OT_KIND_INTERNAL, "execute_tool", tool, r->time_ns);
  if (!s) return NULL;
  if (r->type == HL_EVENT_HOOK) new_id(s->span_id, 8); /* TOOL_START brings the call's */
  s->s_tool = s->s_what;
  s->tool_attr = attr_room(o, s); /* gen_ai.tool.name, written at the export */
  s->s_call = keep(s, call_id ? call_id : "");
  ot_span *outer = find_tool(run, ot_rec_str(r, OT_S_OUTER_CALL), true);
  set_parent(s, outer ? outer : run->agent);
  ATTR_LIT(o, s, "gen_ai.operation.name", "execute_tool");
  if (call_id && call_id[0]) ATTR_STR(o, s, "gen_ai.tool.call.id", call_id);
  ATTR_LIT(o, s, "gen_ai.tool.type", "function");
  add_child(run, s);
  return s;
}

static void on_tool_start(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = tool_span(o, run, r);
  if (!s) return;
  const char *tool = ot_rec_str(r, OT_S_NAME);
  /* a span a hook opened learns the tool's name here */
  if (!s->s_what && tool) s->s_what = s->s_tool = keep(s, tool);
  /* the id outgoing requests of the call name (a span a hook opened had
   * one of its own; nothing refers to it yet) */
  memcpy(s->span_id, r->span_id, 8);
  const char *args = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && args) ATTR_STR(o, s, "gen_ai.tool.call.arguments", args);
  const char *server = ot_rec_str(r, OT_S_SERVER);
  if (server && !s->mcp) {
    ot_span *m = new_span(o, OT_MCP, OT_KIND_CLIENT, "tools/call", tool, r->time_ns);
    if (m) {
      memcpy(m->span_id, r->span2_id, 8);
      set_parent(m, s);
      const char *call_id = ot_rec_str(r, OT_S_CALL);
      m->s_tool = m->s_what;
      m->tool_attr = attr_room(o, m);
      m->s_call = keep(m, call_id ? call_id : "");
      ATTR_LIT(o, m, "mcp.method.name", "tools/call");
      ATTR_LIT(o, m, "gen_ai.operation.name", "execute_tool");
      ATTR_STR(o, m, "hookline.mcp.server", server);
      add_child(run, m);
      s->mcp = m;
    }
  }
}

/* The open tool span with id `id`. */
static ot_span *tool_by_id(ot_run *run, const uint8_t id[8]) {
  for (ot_span *s = run->spans; s; s = s->next)
    if (s->role == OT_TOOL && !s->ended && memcmp(s->span_id, id, 8) == 0) return s;
  return NULL;
}

static void on_tool_end(hl_otel *o, ot_run *run, const ot_rec *r) {
  /* by the id the run's thread knew, else by the call's id */
  ot_span *s = r->flags & OT_R_SPAN ? tool_by_id(run, r->span_id)
                                    : find_tool(run, ot_rec_str(r, OT_S_CALL), true);
  if (!s) return;
  s->end_ns = r->time_ns;
  s->ended = true;
  set_error(o, s, r);
  const char *result = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && result) ATTR_STR(o, s, "gen_ai.tool.call.result", result);
  if (s->mcp) {
    s->mcp->end_ns = r->time_ns;
    s->mcp->ended = true;
    set_error(o, s->mcp, r);
  }
  s->measured = true;
  s->duration_ms = r->duration_ms;
}

/* An event's attributes as they are written: room for OTEL_EVENT_ATTRIBUTE_
 * COUNT_LIMIT of them, the rest counted as dropped. */
typedef struct ot_event_attrs {
  ot_buf *b;
  uint32_t n, dropped;
} ot_event_attrs;

/* ,{"key":"<key>","value":{"stringValue":<value>}} inside an event's
 * attribute list (the first without its comma). */
static void event_attr(const hl_otel *o, ot_event_attrs *e, const char *pre, size_t n, const char *value) {
  if (!value) return;
  if (e->n >= o->limits.event_attrs) {
    e->dropped++;
    return;
  }
  if (!e->n++) pre++, n--;
  ot_buf_put(e->b, pre, n);
  ot_buf_json_string_max(e->b, value, value_chars(o));
  OT_PUT_LIT(e->b, "}}");
}
#define EVENT_ATTR(o, e, key, v) event_attr(o, e, OT_ATTR_PRE(key, "stringValue"), sizeof(OT_ATTR_PRE(key, "stringValue")) - 1, v)

static void on_hook(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = NULL;
  switch (r->hook_point) {
  case HL_HOOK_BEFORE_TOOL:
  case HL_HOOK_AFTER_TOOL:
  case HL_HOOK_AROUND_TOOL:
    s = find_tool(run, ot_rec_str(r, OT_S_CALL), false);
    if (!s) s = tool_span(o, run, r);
    break;
  case HL_HOOK_AFTER_MODEL:
  case HL_HOOK_AROUND_MODEL:
  case HL_HOOK_MODEL_CHUNK:
    s = find_role(run, OT_CHAT);
    break;
  default:
    break;
  }
  if (!s) s = run->agent;
  if (!s->ended) s->end_ns = r->time_ns;
  if (r->hook_action == HL_HOOK_ABORT) set_error(o, s, r);
  /* the span limits: the first events are kept */
  if (s->n_events >= o->limits.events) {
    s->dropped_events++;
    return;
  }
  s->n_events++;
  ot_buf *b = &s->events;
  OT_PUT_LIT(b, ",{\"timeUnixNano\":\"");
  ot_buf_i64(b, r->time_ns);
  OT_PUT_LIT(b, "\",\"name\":\"hook\",\"attributes\":[");
  ot_event_attrs e = {.b = b};
  EVENT_ATTR(o, &e, "hookline.hook.name", ot_rec_str(r, OT_S_NAME));
  EVENT_ATTR(o, &e, "hookline.hook.point", hl_hook_point_name((hl_hook_point)r->hook_point));
  EVENT_ATTR(o, &e, "hookline.hook.action", hl_hook_action_name((hl_hook_action)r->hook_action));
  if (r->status != HL_OK) EVENT_ATTR(o, &e, "hookline.hook.message", ot_rec_str(r, OT_S_ERROR));
  OT_PUT_LIT(b, "]");
  if (e.dropped) {
    OT_PUT_LIT(b, ",\"droppedAttributesCount\":");
    ot_buf_u64(b, e.dropped);
  }
  OT_PUT_LIT(b, "}");
}

void ot_trace_record(hl_otel *o, const ot_rec *r, ot_span **out, size_t *n) {
  if (!o->enabled) return;
  if (r->flags & OT_R_UNSAMPLED) {
    /* a run the sampler left out: its measurements, no span */
    ot_metrics_from_record(&o->metrics, r);
    if (r->type == HL_EVENT_AGENT_END) atomic_fetch_add(&o->st_unsampled, 1);
    return;
  }
  if (r->type == HL_EVENT_AGENT_START) {
    on_agent_start(o, r);
    return;
  }
  if (r->type == HL_EVENT_AGENT_END) {
    on_agent_end(o, r, out, n);
    return;
  }
  ot_run *run = find_run(o, r->run);
  if (!run) {
    /* Its AGENT_START was dropped (a full ring), or came before the
     * install: the span this record starts cannot be placed. Count it as
     * started and dropped, as the run's side counts a dropped record, so
     * that every span start counts once. */
    uint64_t lost = r->type == HL_EVENT_LM_START ? 1
                    : r->type == HL_EVENT_TOOL_START ? (ot_rec_str(r, OT_S_SERVER) ? 2 : 1)
                                                     : 0;
    if (lost) {
      atomic_fetch_add(&o->st_started, lost);
      atomic_fetch_add(&o->st_dropped, lost);
    }
    return;
  }
  switch (r->type) {
  case HL_EVENT_LM_START: on_lm_start(o, run, r, out, n); break;
  case HL_EVENT_LM_END: on_lm_end(o, run, r); break;
  case HL_EVENT_API_REQUEST: on_api_request(o, run, r); break;
  case HL_EVENT_TOOL_START: on_tool_start(o, run, r); break;
  case HL_EVENT_TOOL_END: on_tool_end(o, run, r); break;
  case HL_EVENT_HOOK: on_hook(o, run, r); break;
  default: break;
  }
}

size_t ot_drain(hl_otel *o, bool wait) {
  if (!o->ring) return 0;
  if (wait) pthread_mutex_lock(&o->lock);
  else if (pthread_mutex_trylock(&o->lock) != 0) return 0;
  /* What this drain reads was published since the last one began: the
   * ring is read on a timer (up to export_delay_ms apart when quiet), so
   * the spans' export_delay_ms counts from there, not from now. */
  int64_t began = ot_mono_ns(), since = o->drain_began_ns ? o->drain_began_ns : began;
  o->drain_began_ns = began;
  ot_span *out = NULL;
  size_t n = 0, read = 0;
  for (ot_rec *r; (r = ot_ring_peek(o)) != NULL; read++) {
    ot_trace_record(o, r, &out, &n);
    ot_ring_release(o, r);
  }
  ot_ring_sync(o);
  /* (written only when set: producers read the line at every record) */
  if (atomic_load_explicit(&o->kick, memory_order_relaxed)) atomic_store(&o->kick, false);
  pthread_mutex_unlock(&o->lock);
  if (out) {
    /* the metrics now: they lose nothing if the queue drops the spans */
    ot_metrics_from_spans(&o->metrics, out);
    ot_export_enqueue(o, out, n, since);
  }
  return read;
}

/* ---- the end ------------------------------------------------------------ */

void ot_tracer_stop(hl_otel *o, ot_span **out, size_t *n) {
  atomic_store(&o->live_enabled, false); /* the observer, if still installed, now does nothing */
  ot_drain(o, true);                       /* what the runs published before */
  pthread_mutex_lock(&o->lock);
  o->enabled = false;
  ot_span *first = *out;
  for (size_t b = 0; o->runs && b < o->n_buckets; b++) {
    for (ot_run *r = o->runs[b], *next; r; r = next) {
      next = r->next;
      hand_over_children(r, out, n);
      r->agent->end_ns = ot_now_ns();
      r->agent->next = *out;
      *out = r->agent;
      (*n)++;
      free(r);
    }
    o->runs[b] = NULL;
  }
  for (ot_run *r = o->spare_runs, *next; r; r = next) {
    next = r->next;
    free(r);
  }
  o->spare_runs = NULL;
  pthread_mutex_unlock(&o->lock);
  /* the spans handed over here (before `first`): their measurements */
  if (*out != first) {
    ot_span *s = *out;
    while (s->next != first) s = s->next;
    s->next = NULL;
    ot_metrics_from_spans(&o->metrics, *out);
    s->next = first;
  }
}
