/*
 * otel_record.c - the exporter's side on the run's thread: the observer
 * copies what a span needs out of each event into a preallocated slot of
 * a bounded lock-free ring, and the W3C traceparent of outgoing requests.
 *
 * Why: an event is borrowed for the callback only, and building spans
 * from it (allocations, attribute copies, a lock on the table of runs)
 * cost a run ~17k instructions over (b)'s 14 events. Here a record is a
 * memcpy of a few short strings and numbers into a slot claimed with one
 * compare-and-swap: no JSON, no malloc (unless the strings do not fit the
 * slot, or content is captured), no lock. The exporter thread reads the
 * ring in order and makes the spans (otel.c). When the ring is full the
 * record is dropped and counted (a span it would have started counts as
 * started and dropped), as the span queue drops when full.
 *
 * What must be known on the run's thread: the ids. Outgoing requests
 * carry the traceparent of the span current on the thread (a model or
 * tool call), synchronously, so span ids are made here and travel in the
 * records; the exporter uses them. The current spans live in a small
 * thread-local stack (frames), keyed by the run's invocation id pointer
 * (the event's pointer is the context's: hl_context_invocation_id()).
 * A run's trace id and key (the number its records carry instead of its
 * invocation id) are in its AGENT_START frame and copied into the frames
 * of its calls; a child run or a tool call on another thread finds them
 * in the table of live runs, under a lock taken at a run's start and end
 * and for such a lookup only.
 */
#include <stdlib.h>
#include <string.h>

#include "hookline/agent.h"
#include "hookline/context.h"
#include "hookline/json.h"
#include "hookline/mcp.h"
#include "hookline/tool.h"
#include "hookline/trace.h"
#include "otel_internal.h"

/* ---- the ring -------------------------------------------------------- */

/* The ring is Vyukov's bounded queue with one change: the consumer does
 * not write a slot back when it is done with it, it publishes how far it
 * has read (ring_done, every OT_DONE_EVERY records and at the end of a
 * drain). So the run's thread, claiming a slot, reads nothing the
 * exporter thread wrote since (the slot's `seq` was: a load from the
 * other core's cache at every record, which the run's thread waited
 * for), only ring_done, a line that changes once in OT_DONE_EVERY
 * records; its writes to the slot go through the store buffer. A slot is
 * free when it is less than a lap ahead of ring_done; it is published
 * when its seq is its position + 1 (zeroed memory: nothing published). */
#define OT_DONE_EVERY 64

bool ot_ring_init(hl_otel *o, size_t cap) {
  size_t c = 1024;
  while (c < cap && c < 8192) c *= 2;
  /* cache-line aligned slots (sizeof is a multiple of the line) */
  o->ring = aligned_alloc(OT_CACHE_LINE, c * sizeof *o->ring);
  if (!o->ring) return false;
  memset(o->ring, 0, c * sizeof *o->ring);
  o->ring_cap = c;
  atomic_init(&o->ring_head, 0);
  atomic_init(&o->ring_done, 0);
  o->ring_tail = 0;
  return true;
}

/* Claim the next slot, or NULL when the ring is full; *used_out: the
 * slots taken before it that the consumer has not read (as far as
 * ring_done says). */
__attribute__((noinline)) static ot_cell *ring_claim_loop(hl_otel *o, size_t *pos_out, size_t *used_out) {
  size_t pos = atomic_load_explicit(&o->ring_head, memory_order_relaxed);
  for (;;) {
    /* acquire: the consumer's reads of the slot happened before */
    size_t used = pos - atomic_load_explicit(&o->ring_done, memory_order_acquire);
    if (used >= o->ring_cap) return NULL; /* a lap ahead of what the consumer has read: full */
    if (atomic_compare_exchange_weak_explicit(&o->ring_head, &pos, pos + 1, memory_order_relaxed,
                                              memory_order_relaxed)) {
      *pos_out = pos;
      *used_out = used;
      return &o->ring[pos & (o->ring_cap - 1)];
    }
  }
}

/* The same, its first try in line (room, and no other thread claiming
 * at the same moment), inlined into every record's path; the loop that
 * tries again, and a full ring, out of line. */
__attribute__((always_inline)) static inline ot_cell *ring_claim(hl_otel *o, size_t *pos_out,
                                                                  size_t *used_out) {
  size_t pos = atomic_load_explicit(&o->ring_head, memory_order_relaxed);
  size_t used = pos - atomic_load_explicit(&o->ring_done, memory_order_acquire); /* (as above) */
  if (__builtin_expect(used < o->ring_cap, 1) &&
      __builtin_expect(atomic_compare_exchange_weak_explicit(&o->ring_head, &pos, pos + 1, memory_order_relaxed,
                                                             memory_order_relaxed),
                       1)) {
    *pos_out = pos;
    *used_out = used;
    return &o->ring[pos & (o->ring_cap - 1)];
  }
  return ring_claim_loop(o, pos_out, used_out);
}

/* The next record's slot, asked for now with the intent to write it:
 * its lines were last read by the exporter thread on another core, so
 * the record's stores first had to take them back (a cross-core request
 * per line, 2-3 lines a record, 12 records a run of (b)). Back to back
 * (the scripted provider) the hardware prefetcher does that; over HTTP,
 * with the model server and the kernel between two events on the same
 * core, it did not, and the stores waited. PREFETCHW takes a line
 * exclusive (x86-64: AMD since K6, Intel since Broadwell, a NOP before);
 * GCC emits it only with -mprfchw, hence the asm. Elsewhere the builtin.
 * Measured in BENCHMARKS.md (otel): the recording's part of a run's cost
 * over HTTP. */
static inline void prefetch_for_write(const char *p) {
  for (int i = 0; i < 3; i++) {
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char(*)[OT_CACHE_LINE])(p + i * OT_CACHE_LINE)));
#else
    __builtin_prefetch(p + i * OT_CACHE_LINE, 1, 3);
#endif
  }
}

/* A run's thread wakes the exporter (ring_publish(), below). */
__attribute__((noinline)) static void ring_kick(hl_otel *o) {
  if (!atomic_exchange(&o->kick, true)) {
    atomic_fetch_add_explicit(&o->st_run_wakeups, 1, memory_order_relaxed);
    ot_export_wake(o);
  }
}

__attribute__((always_inline)) static inline void ring_publish(hl_otel *o, ot_cell *c, size_t pos, size_t used) {
  atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
  prefetch_for_write((const char *)&o->ring[(pos + 1) & (o->ring_cap - 1)]); /* (see above) */
  /* The exporter reads the ring on its own timer, paced to find it at
   * most an eighth full (otel_export.c), so a run does not make the
   * system call that wakes it: a futex wake of a thread asleep on another
   * CPU cost the run's thread ~20 us of wall time and ~30 us of CPU in
   * the bench's virtual machine, once per ~85 runs of (b) when every
   * 2048th record and the first after a quiet tick woke the exporter:
   * about 1 % of the runs, where p99 sits (BENCHMARKS.md, otel). Only a
   * ring half full, i.e. an exporter that did not keep up (a burst after
   * a quiet spell, a starved thread), wakes it, once until its next
   * drain (which clears `kick`); hl_otel_stats.run_wakeups counts them. */
  if (__builtin_expect(used >= o->ring_cap / 2, 0) && !atomic_load_explicit(&o->kick, memory_order_relaxed))
    ring_kick(o);
}

ot_rec *ot_ring_peek(hl_otel *o) {
  ot_cell *c = &o->ring[o->ring_tail & (o->ring_cap - 1)];
  size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
  return seq == o->ring_tail + 1 ? &c->rec : NULL;
}

void ot_ring_release(hl_otel *o, ot_rec *r) {
  if (r->heap) { /* (most records have none: no call, no write to the slot) */
    free(r->heap);
    r->heap = NULL;
  }
  o->ring_tail++;
  if ((o->ring_tail & (OT_DONE_EVERY - 1)) == 0) ot_ring_sync(o);
}

void ot_ring_sync(hl_otel *o) {
  /* release: producers may reuse the slots read so far */
  if (atomic_load_explicit(&o->ring_done, memory_order_relaxed) != o->ring_tail)
    atomic_store_explicit(&o->ring_done, o->ring_tail, memory_order_release);
}

void ot_ring_free(hl_otel *o) {
  if (!o->ring) return;
  /* No producer is left (the observer's reference is gone): free the
   * heap of every record still published. */
  for (size_t i = 0; i < o->ring_cap; i++) free(o->ring[i].rec.heap);
  free(o->ring);
  o->ring = NULL;
}

/* ---- filling a record ----------------------------------------------- */

/* Strings go straight into r->text, one strlen and one memcpy each;
 * when they do not fit (long names, captured content) the record moves
 * them into one malloc'd block that grows as needed (then a string that
 * cannot be stored, out of memory or past 64 KB in all, is cut at a whole
 * character or left out). `at`: bytes used; `cap`: room in the current
 * block. */
typedef struct rec_pack {
  ot_rec *r;
  char *base;
  size_t at, cap;
} rec_pack;

static void pack_begin(rec_pack *p, ot_rec *r) {
  memset(r->off, 0, sizeof r->off);
  r->heap = NULL;
  *p = (rec_pack){.r = r, .base = r->text, .cap = sizeof r->text};
}

/* Room for n more bytes, or as many as can be had; returns the room. */
static size_t pack_grow(rec_pack *p, size_t n) {
  size_t want = p->at + n;
  if (want > UINT16_MAX) want = UINT16_MAX; /* offsets are 16-bit */
  if (want > p->cap) {
    size_t cap = p->cap * 2 > want ? p->cap * 2 : want;
    if (cap > UINT16_MAX) cap = UINT16_MAX;
    char *h = p->r->heap ? realloc(p->r->heap, cap) : malloc(cap);
    if (h) {
      if (!p->r->heap) memcpy(h, p->r->text, p->at);
      p->r->heap = p->base = h;
      p->cap = cap;
    }
  }
  return p->cap - p->at;
}

static void pack_slow(rec_pack *p, int idx, const char *s, size_t n) {
  size_t room = pack_grow(p, n + 1);
  if (room == 0) return; /* left out */
  if (n + 1 > room) n = ot_utf8_cut(s, room - 1, &(size_t){SIZE_MAX}); /* cut, as the limit cuts */
  memcpy(p->base + p->at, s, n);
  p->base[p->at + n] = '\0';
  p->r->off[idx] = (uint16_t)(p->at + 1);
  p->at += n + 1;
}

/* The first n bytes of s as string idx.
 * (always inlined: ~20 calls a run, and gcc kept it out of line) */
__attribute__((always_inline)) static inline void pack_n(rec_pack *p, int idx, const char *s, size_t n) {
  if (p->at + n + 1 > p->cap) {
    pack_slow(p, idx, s, n);
    return;
  }
  memcpy(p->base + p->at, s, n);
  p->base[p->at + n] = '\0';
  p->r->off[idx] = (uint16_t)(p->at + 1);
  p->at += n + 1;
}

__attribute__((always_inline)) static inline void pack(rec_pack *p, int idx, const char *s) {
  if (s) pack_n(p, idx, s, strlen(s));
}

/* The attribute value length limit in characters (SIZE_MAX: none). */
static size_t content_chars(const hl_otel *o) {
  return o->limits.value_chars == UINT32_MAX ? SIZE_MAX : o->limits.value_chars;
}

/* Captured content, only as much of it as the exporter keeps: cut to the
 * attribute value length limit here, by the exporter's own cut
 * (ot_utf8_cut), so that a 10 MB tool result is not copied on the
 * run's thread to be cut on the other. The exported value is the same:
 * the attribute that carries the content has at least as many characters
 * as the content (JSON escapes only lengthen it, a message wraps it), so
 * its first `limit` characters come from the content's first `limit`. */
static void pack_content(rec_pack *p, const hl_otel *o, const char *s) {
  if (!s) return;
  size_t chars = content_chars(o);
  /* (the record keeps 64 KB at most: no strlen of a 10 MB text) */
  pack_n(p, OT_S_CONTENT, s, ot_utf8_cut(s, UINT16_MAX, &chars));
}

/* Captured JSON (tool arguments and results, messages), printed here as
 * the event is borrowed: straight into the record's strings and only as
 * far as the record keeps it, by hl_json_print_prefix() (hl_json_print()'s
 * text, the walk stopped at the cut: a 1 MB tool input costs what is
 * kept). The record keeps 64 KB at most (its offsets are 16-bit) and, with
 * a value length limit, that many characters, cut by the exporter's cut
 * (ot_utf8_cut). The print is tried into the room the record has, then
 * into `limit` bytes (enough when the characters are ASCII, escapes
 * included), then into all that can be kept (4 bytes a character): each
 * try bounded, most texts printed once, the record's block grown only as
 * far as needed and given back down to what it holds (not 64 KB a record
 * in the ring for 1 KB of text). Left out when hl_json_print() would
 * refuse it before the cut. */
__attribute__((noinline)) static void pack_json(rec_pack *p, const hl_otel *o, const cJSON *v) {
  if (!v || p->at >= UINT16_MAX) return; /* no room for a NUL: left out */
  size_t chars = content_chars(o), max = UINT16_MAX - p->at; /* the text and its NUL */
  if (chars < (max - 1) / 4) max = 4 * chars + 1;
  const size_t tries[] = {p->cap - p->at, chars < max ? chars + 1 : max, max};
  size_t printed = 0, len = 0; /* the cap of the last print (0: none) */
  bool complete = false;
  for (size_t i = 0; i < sizeof tries / sizeof *tries && !complete; i++) {
    size_t want = tries[i] < max ? tries[i] : max;
    if (want <= printed) continue;
    size_t room = p->cap - p->at < want ? pack_grow(p, want) : want;
    if (room <= printed) break; /* no more memory: what the last print has */
    if (hl_json_print_prefix(v, p->base + p->at, room < want ? room : want, &len, &complete) != HL_OK)
      return;
    printed = room < want ? room : want;
    size_t left = chars;
    if (chars != SIZE_MAX && (ot_utf8_cut(p->base + p->at, len, &left), left == 0)) break;
  }
  if (!printed) return;
  char *text = p->base + p->at;
  if (chars != SIZE_MAX) text[len = ot_utf8_cut(text, len, &chars)] = '\0';
  /* (the record's last string: its block ends here) */
  char *fit = p->r->heap && p->cap > p->at + len + 1 ? realloc(p->r->heap, p->at + len + 1) : NULL;
  if (fit) p->r->heap = p->base = fit, p->cap = p->at + len + 1;
  p->r->off[OT_S_CONTENT] = (uint16_t)(p->at + 1);
  p->at += len + 1;
}

/* ---- the thread's current spans --------------------------------------- */

enum { F_AGENT, F_CHAT, F_TOOL, F_MCP };
#define OT_FRAMES 16

typedef struct ot_frame {
  const hl_otel *o;
  const void *inv;           /* the run's invocation id pointer (a key only) */
  const void *call;          /* a tool call's id pointer (a key only) */
  uint64_t run;              /* the run's key (0: unknown) */
  uint8_t trace[16], span[8];
  bool has_trace;
  bool sampled;              /* the trace's sampling decision */
  uint8_t kind;
} ot_frame;

typedef struct ot_stack {
  ot_frame f[OT_FRAMES];
  int n;
  uint64_t rng;              /* the ids' generator (xorshift), seeded once */
} ot_stack;

/* The thread's stack, allocated on its first record: a static
 * _Thread_local stack cost every thread of the application ~1 KB of the
 * library's static TLS, recording or not. The pointer is reached once per
 * event, initial-exec: one load, where the default model of a shared
 * library calls __tls_get_addr() (one pointer of static TLS, as engine.c's
 * `cur`). The key only frees the stack when its thread exits. */
static _Thread_local ot_stack *ot_tls __attribute__((tls_model("initial-exec")));
static pthread_key_t ot_tls_key;
static pthread_once_t ot_tls_once = PTHREAD_ONCE_INIT;
static bool ot_tls_keyed;

static void stack_free(void *p) {
  free(p);
  ot_tls = NULL; /* a later event on this exiting thread makes a new one */
}
static void stack_key(void) { ot_tls_keyed = pthread_key_create(&ot_tls_key, stack_free) == 0; }

/* The thread's first stack, from a function the compiler does not see
 * through: with the thread-local's address a constant it propagated it
 * into the helpers below (frames, ids), and each made its own
 * __tls_get_addr call (~9 a run). gcc's noipa says so; clang (the fuzz
 * build) has only noinline. NULL when out of memory (or out of keys: a
 * stack nothing would free). */
#if defined(__clang__)
#define OT_OPAQUE __attribute__((noinline))
#else
#define OT_OPAQUE __attribute__((noipa))
#endif
OT_OPAQUE static ot_stack *thread_stack_new(void) {
  ot_stack *t;
  pthread_once(&ot_tls_once, stack_key);
  if (!ot_tls_keyed || !(t = calloc(1, sizeof *t))) return NULL;
  if (pthread_setspecific(ot_tls_key, t) != 0) {
    free(t);
    return NULL;
  }
  return ot_tls = t;
}

/* The thread's stack (its pointer read in line: one look-up an event). */
static inline ot_stack *thread_stack(void) {
  ot_stack *t = ot_tls;
  return __builtin_expect(t != NULL, 1) ? t : thread_stack_new();
}

/* The remote parent of the next top-level run on this thread. */
static _Thread_local struct {
  bool set, sampled;
  uint8_t trace[16], span[8];
} ot_remote;

/* n (8 or 16) random bytes, not all zero (an invalid id). The state is in
 * the thread's stack of frames, reached once per event: ot_random_bytes()
 * would cost a thread-local look-up per id. */
__attribute__((noinline)) static void ids_seed(ot_stack *t) {
  ot_random_bytes((uint8_t *)&t->rng, sizeof t->rng);
}

__attribute__((always_inline)) static inline void ids(ot_stack *t, uint8_t *out, size_t n) {
  if (__builtin_expect(!t->rng, 0)) ids_seed(t);
  uint64_t x, any = 0;
  do {
    for (size_t i = 0; i < n; i += 8) {
      t->rng ^= t->rng << 13;
      t->rng ^= t->rng >> 7;
      t->rng ^= t->rng << 17;
      x = t->rng * 0x2545F4914F6CDD1DULL;
      memcpy(out + i, &x, 8);
      any |= x;
    }
  } while (!any);
}

/* Room for `k` more frames: forgotten ones (abandoned calls) go, oldest
 * first. */
__attribute__((noinline)) static void frame_forget(ot_stack *t, int k) {
  int drop = t->n + k - OT_FRAMES;
  memmove(&t->f[0], &t->f[drop], (size_t)(t->n - drop) * sizeof t->f[0]);
  t->n -= drop;
}

static inline void frame_reserve(ot_stack *t, int k) {
  if (__builtin_expect(t->n + k > OT_FRAMES, 0)) frame_forget(t, k);
}

static ot_frame *frame_push(ot_stack *t) {
  frame_reserve(t, 1);
  return &t->f[t->n++];
}

/* The newest frame of `o` for run `inv` (of `kind`, or any when < 0; of
 * call `call` when set). */
static int frame_find(const ot_stack *t, const hl_otel *o, const void *inv, int kind, const void *call) {
  for (int i = t->n - 1; i >= 0; i--) {
    const ot_frame *f = &t->f[i];
    if (f->o == o && f->inv == inv && (kind < 0 || f->kind == kind) && (!call || f->call == call))
      return i;
  }
  return -1;
}

static void frame_remove(ot_stack *t, int i) {
  if (i < 0) return;
  t->n--;
  if (i < t->n) /* (mostly the newest: nothing to move) */
    memmove(&t->f[i], &t->f[i + 1], (size_t)(t->n - i) * sizeof t->f[0]);
}

/* ---- runs in progress (the run's side) ------------------------------ */

typedef struct ot_live {
  struct ot_live *next;
  char inv[48];
  uint64_t run;
  uint8_t trace[16], span[8];
  bool sampled;
} ot_live;

/* Run keys: one counter for the process, so that a key never names two
 * runs, not even of two exporters (a thread's frames may outlive one). */
static _Atomic uint64_t ot_run_serial;

#define OT_LIVE_BUCKETS 256

static size_t live_hash(const char *id) { return (size_t)(ot_id_hash(id) % OT_LIVE_BUCKETS); }

/* The trace (and span, key, sampling decision: each may be NULL) of live
 * run `inv`. */
static bool live_lookup(hl_otel *o, const char *inv, uint8_t trace[16], uint8_t span[8],
                        uint64_t *run, bool *sampled) {
  /* No run in progress: nothing to find. A run of this thread was added
   * before (program order), one of another thread before the hand-over
   * (a lock or a queue) that brought its work here. */
  if (!inv || !atomic_load_explicit(&o->n_live, memory_order_relaxed)) return false;
  bool found = false;
  pthread_mutex_lock(&o->live_lock);
  for (ot_live *l = o->live ? o->live[live_hash(inv)] : NULL; l; l = l->next)
    if (strcmp(l->inv, inv) == 0) {
      if (trace) memcpy(trace, l->trace, 16);
      if (span) memcpy(span, l->span, 8);
      if (run) *run = l->run;
      if (sampled) *sampled = l->sampled;
      found = true;
      break;
    }
  pthread_mutex_unlock(&o->live_lock);
  return found;
}

static void live_add(hl_otel *o, const char *inv, const uint8_t trace[16], const uint8_t span[8],
                     uint64_t run, bool sampled) {
  pthread_mutex_lock(&o->live_lock);
  ot_live *l = o->live_free;
  if (l) o->live_free = l->next;
  else l = malloc(sizeof *l);
  if (l && (o->live || (o->live = calloc(OT_LIVE_BUCKETS, sizeof *o->live)) != NULL)) {
    size_t n = strlen(inv);
    if (n >= sizeof l->inv) n = sizeof l->inv - 1;
    memcpy(l->inv, inv, n);
    l->inv[n] = '\0';
    memcpy(l->trace, trace, 16);
    memcpy(l->span, span, 8);
    l->run = run;
    l->sampled = sampled;
    size_t b = live_hash(l->inv);
    l->next = o->live[b];
    o->live[b] = l;
    atomic_fetch_add_explicit(&o->n_live, 1, memory_order_relaxed);
  } else {
    free(l); /* out of memory: children on other threads start their own trace */
  }
  pthread_mutex_unlock(&o->live_lock);
}

static void live_remove(hl_otel *o, const char *inv) {
  pthread_mutex_lock(&o->live_lock);
  ot_live **p = o->live ? &o->live[live_hash(inv)] : NULL;
  while (p && *p && strcmp((*p)->inv, inv) != 0) p = &(*p)->next;
  if (p && *p) {
    ot_live *l = *p;
    *p = l->next;
    l->next = o->live_free;
    o->live_free = l;
    atomic_fetch_sub_explicit(&o->n_live, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&o->live_lock);
}

void ot_live_free(hl_otel *o) {
  for (size_t b = 0; o->live && b < OT_LIVE_BUCKETS; b++)
    for (ot_live *l = o->live[b], *next; l; l = next) {
      next = l->next;
      free(l);
    }
  for (ot_live *l = o->live_free, *next; l; l = next) {
    next = l->next;
    free(l);
  }
  free(o->live);
  o->live = NULL;
  o->live_free = NULL;
}

/* The trace id of run `inv` (a pointer of this thread's events, and its
 * text for the table). */
static bool trace_of(const ot_stack *t, hl_otel *o, const char *inv, uint8_t trace[16]) {
  int i = frame_find(t, o, inv, -1, NULL);
  for (; i >= 0; i--)
    if (t->f[i].o == o && t->f[i].inv == inv && t->f[i].has_trace) {
      memcpy(trace, t->f[i].trace, 16);
      return true;
    }
  return live_lookup(o, inv, trace, NULL, NULL, NULL);
}

/* The key of run `inv` (0: unknown) and, into `trace` when it is known,
 * its trace id, and its sampling decision (true when unknown): from this
 * thread's newest frame of the run (the run's or a call's, which copied
 * them), else from the table of live runs (a child run's or a tool
 * call's first event on another thread). */
__attribute__((noinline)) static uint64_t run_of_live(hl_otel *o, const char *inv, uint8_t trace[16],
                                                             bool *has_trace, bool *sampled) {
  uint64_t run = 0;
  *has_trace = live_lookup(o, inv, trace, NULL, &run, sampled);
  return run;
}

__attribute__((always_inline)) static inline uint64_t run_of(const ot_stack *t, hl_otel *o, const char *inv,
                                                             uint8_t trace[16], bool *has_trace, bool *sampled) {
  int i = frame_find(t, o, inv, -1, NULL);
  *sampled = true;
  if (__builtin_expect(i >= 0 && t->f[i].run, 1)) {
    *has_trace = t->f[i].has_trace;
    *sampled = t->f[i].sampled;
    if (*has_trace) memcpy(trace, t->f[i].trace, 16);
    return t->f[i].run;
  }
  return run_of_live(o, inv, trace, has_trace, sampled);
}

/* ---- the observer ------------------------------------------------------ */

/* A record dropped (the ring full, or no memory for the thread's spans):
 * a span it would have started counts as started and dropped, so that
 * hl_otel_get_stats() adds up. `mcp`: a tool call of an MCP server's tool
 * (two spans). */
__attribute__((noinline)) static void count_dropped(hl_otel *o, int type, bool mcp) {
  uint64_t spans = type == HL_EVENT_AGENT_START || type == HL_EVENT_LM_START ? 1
                   : type == HL_EVENT_TOOL_START ? (mcp ? 2 : 1)
                                                 : 0;
  if (spans) {
    atomic_fetch_add(&o->st_started, spans);
    atomic_fetch_add(&o->st_dropped, spans);
  }
}

/* The end of a model call, a tool call or a run the sampler left out:
 * what the metrics need of it (ot_metrics_from_record), no span. */
__attribute__((noinline)) static int unsampled_end(hl_otel *o, const hl_event *ev, int type) {
  if (type != HL_EVENT_LM_END && type != HL_EVENT_TOOL_END && type != HL_EVENT_AGENT_END) return 0;
  size_t pos, used;
  ot_cell *c = ring_claim(o, &pos, &used);
  if (!c) return 0; /* (no span is lost: only a measurement) */
  ot_rec *r = &c->rec;
  r->type = (uint8_t)type;
  r->flags = OT_R_UNSAMPLED;
  r->run = 0;
  r->time_ns = ev->time_ns;
  r->duration_ms = ev->duration_ms;
  r->status = (int32_t)ev->error.status;
  r->finish = NULL;
  if (ev->usage && type == HL_EVENT_LM_END) {
    r->flags |= OT_R_USAGE;
    r->in_tokens = ev->usage->input_tokens;
    r->out_tokens = ev->usage->output_tokens;
  }
  rec_pack p;
  pack_begin(&p, r);
  if (type != HL_EVENT_AGENT_END) pack(&p, OT_S_NAME, ev->name);
  if (type == HL_EVENT_LM_END) {
    pack(&p, OT_S_PROVIDER, ev->provider);
    pack(&p, OT_S_RESP_MODEL, ev->response ? ev->response->model : NULL);
  }
  ring_publish(o, c, pos, used);
  return 0;
}

/* ---- the observer: one path per event type ------------------------------
 *
 * Why this shape: over HTTP the model server and the kernel run on the
 * run's core between two events, so each event meets this code (and the
 * library's delivery before it) with the instruction cache cold and pays
 * for every 64-byte line of code it runs: the cost is per event and per
 * line, not per instruction (BENCHMARKS.md, otel: the recording's part of
 * a run's cost). So each event type has a function of its own, a straight
 * line from the thread's frames to the ring's publish (the claim, the
 * record's head and the publish inlined into each), and what a run of (b)
 * does not do is out of line (noinline): drops, unsampled runs, content,
 * errors, strings that do not fit the slot, forgotten frames, a run known
 * only from the table of live runs. */

/* A record being written: its slot (ring_claim()) and its strings. */
typedef struct rec_out {
  ot_cell *c;
  size_t pos, used;
  rec_pack p;
} rec_out;

/* The ring full: the record is dropped and counted, with one warning. */
__attribute__((noinline)) static void ring_full(hl_otel *o, int type, bool mcp) {
  count_dropped(o, type, mcp);
  ot_warn(o, "the export queue is full (%zu events waiting): spans are dropped", o->ring_cap);
}

/* Claim the slot of the event's record and write what every record has
 * (the caller adds its type's own); false when the ring is full (the
 * record dropped and counted). `mcp`: a tool call of an MCP server's
 * tool (two spans, for the count of dropped ones). */
__attribute__((always_inline)) static inline bool rec_open(rec_out *out, hl_otel *o, const hl_event *ev,
                                                           int type, uint8_t flags, uint64_t run,
                                                           const uint8_t span[8], bool mcp) {
  out->c = ring_claim(o, &out->pos, &out->used);
  if (__builtin_expect(!out->c, 0)) {
    ring_full(o, type, mcp);
    return false;
  }
  ot_rec *r = &out->c->rec;
  r->type = (uint8_t)type;
  r->flags = flags;
  r->run = run;
  r->time_ns = ev->time_ns;
  r->duration_ms = ev->duration_ms;
  r->status = (int32_t)ev->error.status;
  r->hook_point = (uint8_t)ev->hook_point;
  r->hook_action = (uint8_t)ev->hook_action;
  r->finish = NULL;
  memcpy(r->span_id, span, 8);
  if (ev->usage) {
    r->flags |= OT_R_USAGE;
    r->in_tokens = ev->usage->input_tokens;
    r->out_tokens = ev->usage->output_tokens;
  }
  pack_begin(&out->p, r);
  return true;
}

/* The event's error message (its status's text when it has none). */
__attribute__((noinline)) static void pack_error(rec_pack *p, const hl_event *ev) {
  pack(p, OT_S_ERROR, ev->error.message && ev->error.message[0] ? ev->error.message
                                                               : hl_strerror(ev->error.status));
}

/* What every record has last (its error, captured JSON printed into it
 * up to the cut), and the publish. */
__attribute__((always_inline)) static inline int rec_close(rec_out *out, hl_otel *o, const hl_event *ev,
                                                           const cJSON *json) {
  if (__builtin_expect(ev->error.status != HL_OK, 0)) pack_error(&out->p, ev);
  if (__builtin_expect(json != NULL, 0)) pack_json(&out->p, o, json);
  ring_publish(o, out->c, out->pos, out->used);
  return 0;
}

static const uint8_t no_span[8];

/* A run's start: its trace (a child run joins its parent's trace and
 * decision; a top-level run the caller's, hl_otel_set_parent(), else
 * starts one: a new trace is the sampler's to decide), its span and key,
 * its frame and its entry in the table of live runs. */
__attribute__((always_inline)) static inline int on_agent_start(hl_otel *o, ot_stack *t, const hl_event *ev) {
  const char *inv = ev->invocation_id;
  uint8_t trace[16], span[8], remote[8] = {0};
  uint8_t flags = 0;
  uint64_t parent_run = 0;
  bool sampled = true, has_trace = false;
  int caller = -1;
  if (ev->parent_invocation_id) {
    parent_run = run_of(t, o, ev->parent_invocation_id, trace, &has_trace, &sampled);
  } else if (ot_remote.set) {
    memcpy(trace, ot_remote.trace, 16);
    memcpy(remote, ot_remote.span, 8);
    flags |= OT_R_REMOTE;
    ot_remote.set = false;
    caller = ot_remote.sampled;
  }
  if (!has_trace) {
    if (caller < 0) ids(t, trace, 16);
    sampled = ot_sample(o, trace, caller);
  }
  ids(t, span, 8);
  flags |= OT_R_SPAN;
  uint64_t run = atomic_fetch_add_explicit(&ot_run_serial, 1, memory_order_relaxed) + 1;
  ot_frame *f = frame_push(t);
  *f = (ot_frame){.o = o, .inv = inv, .run = run, .has_trace = true, .sampled = sampled, .kind = F_AGENT};
  memcpy(f->trace, trace, 16);
  memcpy(f->span, span, 8);
  live_add(o, inv, trace, span, run, sampled);
  if (!sampled) return 0; /* (not an end: nothing for the metrics) */

  rec_out out;
  if (!rec_open(&out, o, ev, HL_EVENT_AGENT_START, flags, run, span, false)) return 0;
  ot_rec *r = &out.c->rec;
  memcpy(r->trace_id, trace, 16);
  r->parent_run = parent_run;
  if (flags & OT_R_REMOTE) memcpy(r->remote_id, remote, 8);
  pack(&out.p, OT_S_INV, inv);
  pack(&out.p, OT_S_PARENT_CALL, ev->parent_call_id);
  pack(&out.p, OT_S_AGENT, ev->agent_name);
  pack(&out.p, OT_S_SESSION, ev->session_id && ev->session_id[0] ? ev->session_id : NULL);
  pack(&out.p, OT_S_BRANCH, ev->branch);
  if (__builtin_expect(o->capture, 0)) pack_content(&out.p, o, ev->text);
  return rec_close(&out, o, ev, NULL);
}

/* A run's end: its frame and its entry in the table go. */
__attribute__((always_inline)) static inline int on_agent_end(hl_otel *o, ot_stack *t, const hl_event *ev) {
  const char *inv = ev->invocation_id;
  uint64_t run = 0;
  bool sampled = true;
  int i = frame_find(t, o, inv, F_AGENT, NULL);
  if (__builtin_expect(i >= 0, 1)) run = t->f[i].run, sampled = t->f[i].sampled;
  else live_lookup(o, inv, NULL, NULL, &run, &sampled);
  frame_remove(t, i);
  live_remove(o, inv);
  if (!sampled) return unsampled_end(o, ev, HL_EVENT_AGENT_END);

  rec_out out;
  if (!rec_open(&out, o, ev, HL_EVENT_AGENT_END, 0, run, no_span, false)) return 0;
  if (__builtin_expect(o->capture, 0)) pack_content(&out.p, o, ev->text);
  return rec_close(&out, o, ev, NULL);
}

/* A model call's start: its span, a frame for the traceparent of its
 * request. */
__attribute__((always_inline)) static inline int on_lm_start(hl_otel *o, ot_stack *t, const hl_event *ev) {
  const char *inv = ev->invocation_id;
  uint8_t trace[16], span[8];
  bool sampled, has_trace;
  uint64_t run = run_of(t, o, inv, trace, &has_trace, &sampled);
  ids(t, span, 8);
  ot_frame *f = frame_push(t);
  *f = (ot_frame){.o = o, .inv = inv, .run = run, .has_trace = has_trace, .sampled = sampled, .kind = F_CHAT};
  memcpy(f->span, span, 8);
  if (has_trace) memcpy(f->trace, trace, 16);
  if (!sampled) return 0; /* (not an end) */

  rec_out out;
  if (!rec_open(&out, o, ev, HL_EVENT_LM_START, OT_R_SPAN, run, span, false)) return 0;
  pack(&out.p, OT_S_NAME, ev->name);
  pack(&out.p, OT_S_PROVIDER, ev->provider);
  return rec_close(&out, o, ev, NULL);
}

/* A model call's end (its frame goes), or its request's payload (content
 * capture only). */
__attribute__((always_inline)) static inline int on_lm_end(hl_otel *o, ot_stack *t, const hl_event *ev) {
  const char *inv = ev->invocation_id;
  int type = ev->type;
  uint8_t trace[16], span[8] = {0};
  uint8_t flags = 0;
  uint64_t run = 0;
  bool sampled = true, has_trace;
  int i = frame_find(t, o, inv, F_CHAT, NULL);
  if (__builtin_expect(i >= 0, 1)) {
    run = t->f[i].run;
    sampled = t->f[i].sampled;
    memcpy(span, t->f[i].span, 8);
    flags |= OT_R_SPAN;
    if (type == HL_EVENT_LM_END) frame_remove(t, i);
  }
  if (__builtin_expect(!run, 0)) run = run_of(t, o, inv, trace, &has_trace, &sampled);
  if (!sampled) return unsampled_end(o, ev, type);

  rec_out out;
  if (!rec_open(&out, o, ev, type, flags, run, span, false)) return 0;
  const cJSON *json = NULL; /* captured content, printed by rec_close */
  cJSON *made = NULL;
  if (type == HL_EVENT_LM_END) {
    const hl_response *resp = ev->response;
    if (resp) {
      pack(&out.p, OT_S_RESP_MODEL, resp->model);
      pack(&out.p, OT_S_RESP_ID, resp->id);
      out.c->rec.finish = hl_finish_reason_name(resp->finish);
      if (__builtin_expect(o->capture && resp->message != NULL, 0)) {
        cJSON *m = hl_message_to_json(resp->message), *arr = cJSON_CreateArray();
        if (m && arr && cJSON_AddItemToArray(arr, m)) m = NULL;
        else cJSON_Delete(arr), arr = NULL;
        cJSON_Delete(m);
        json = made = arr;
      }
    }
  } else { /* HL_EVENT_API_REQUEST */
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(ev->data, "messages");
    if (!msgs) msgs = cJSON_GetObjectItemCaseSensitive(ev->data, "input");
    if (!msgs) msgs = cJSON_GetObjectItemCaseSensitive(ev->data, "contents");
    json = msgs ? msgs : ev->data;
  }
  int rc = rec_close(&out, o, ev, json);
  cJSON_Delete(made);
  return rc;
}

/* A tool call's start: its span (and an MCP tool's tools/call span), its
 * frames. */
__attribute__((always_inline)) static inline int on_tool_start(hl_otel *o, ot_stack *t, const hl_event *ev) {
  const char *inv = ev->invocation_id;
  uint8_t trace[16], span[8], span2[8];
  bool sampled, has_trace;
  const char *server = ev->tool ? hl_mcp_tool_server(ev->tool) : NULL;
  frame_reserve(t, server ? 2 : 1);
  uint64_t run = run_of(t, o, inv, trace, &has_trace, &sampled);
  ids(t, span, 8);
  ot_frame *f = frame_push(t);
  *f = (ot_frame){.o = o, .inv = inv, .call = ev->call_id, .run = run, .has_trace = has_trace,
                  .sampled = sampled, .kind = F_TOOL};
  memcpy(f->span, span, 8);
  if (has_trace) memcpy(f->trace, trace, 16);
  if (server) {
    ids(t, span2, 8);
    ot_frame *m = frame_push(t); /* room reserved: f did not move */
    *m = *f;
    m->kind = F_MCP;
    memcpy(m->span, span2, 8);
  }
  if (!sampled) return 0; /* (not an end) */

  rec_out out;
  if (!rec_open(&out, o, ev, HL_EVENT_TOOL_START, OT_R_SPAN, run, span, server != NULL)) return 0;
  if (server) memcpy(out.c->rec.span2_id, span2, 8);
  pack(&out.p, OT_S_CALL, ev->call_id);
  pack(&out.p, OT_S_OUTER_CALL, ev->outer_call_id);
  pack(&out.p, OT_S_NAME, ev->name);
  pack(&out.p, OT_S_SERVER, server);
  return rec_close(&out, o, ev, __builtin_expect(o->capture, 0) ? ev->args : NULL);
}

/* A tool call's end: its frames go. */
__attribute__((always_inline)) static inline int on_tool_end(hl_otel *o, ot_stack *t, const hl_event *ev) {
  const char *inv = ev->invocation_id;
  uint8_t trace[16], span[8] = {0};
  uint8_t flags = 0;
  uint64_t run = 0;
  bool sampled = true, has_trace;
  frame_remove(t, frame_find(t, o, inv, F_MCP, ev->call_id));
  /* the call's span by its id, when this thread started it */
  int i = frame_find(t, o, inv, F_TOOL, ev->call_id);
  if (__builtin_expect(i >= 0, 1)) {
    run = t->f[i].run;
    sampled = t->f[i].sampled;
    memcpy(span, t->f[i].span, 8);
    flags |= OT_R_SPAN;
    frame_remove(t, i);
  }
  if (__builtin_expect(!run, 0)) run = run_of(t, o, inv, trace, &has_trace, &sampled);
  if (!sampled) return unsampled_end(o, ev, HL_EVENT_TOOL_END);

  rec_out out;
  if (!rec_open(&out, o, ev, HL_EVENT_TOOL_END, flags, run, span, false)) return 0;
  /* (the span's id says which call, when this thread knew it) */
  if (!(flags & OT_R_SPAN)) pack(&out.p, OT_S_CALL, ev->call_id);
  return rec_close(&out, o, ev, __builtin_expect(o->capture, 0) ? ev->result : NULL);
}

/* A hook's decision (a span event of the run's or the call's span). */
__attribute__((always_inline)) static inline int on_hook(hl_otel *o, ot_stack *t, const hl_event *ev) {
  uint8_t trace[16];
  bool sampled, has_trace;
  uint64_t run = run_of(t, o, ev->invocation_id, trace, &has_trace, &sampled);
  if (!sampled) return 0; /* (not an end) */

  rec_out out;
  if (!rec_open(&out, o, ev, HL_EVENT_HOOK, 0, run, no_span, false)) return 0;
  pack(&out.p, OT_S_CALL, ev->call_id);
  pack(&out.p, OT_S_OUTER_CALL, ev->outer_call_id);
  pack(&out.p, OT_S_NAME, ev->name);
  pack(&out.p, OT_S_TOOL, ev->tool ? hl_tool_name(ev->tool) : NULL);
  return rec_close(&out, o, ev, NULL);
}

/* No memory for the thread's frames: the event is dropped. */
__attribute__((noinline)) static void no_stack(hl_otel *o, const hl_event *ev) {
  count_dropped(o, ev->type, ev->tool && hl_mcp_tool_server(ev->tool));
  ot_warn(o, "out of memory for a thread's current spans: its events are dropped");
}

/* What every event's path checks first, then the thread's frames; NULL:
 * the event is not recorded. The ids, the run's key and the frames come
 * first: they are needed whether or not the record finds room in the
 * ring. */
__attribute__((always_inline)) static inline ot_stack *on_begin(hl_otel *o, const hl_event *ev) {
  if (!ev->invocation_id || !HL_EVENT_HAS(ev, tool)) return NULL;
  if (!atomic_load_explicit(&o->live_enabled, memory_order_acquire)) return NULL;
  ot_stack *t = thread_stack();
  if (__builtin_expect(!t, 0)) no_stack(o, ev);
  return t;
}

/* Each entry in one piece: called by the library through its address,
 * and by ot_on_event(), for which gcc split the entries' first tests
 * from their bodies (a call more, a line more). The rare paths are out of
 * line (noinline helpers), not marked cold: from the paths that lead to
 * cold calls gcc guessed the common ones cold too, and moved TOOL_END's
 * whole record writing into the function's cold part, far away. */
#if defined(__clang__)
#define OT_ONE_PIECE __attribute__((noinline))
#else
#define OT_ONE_PIECE __attribute__((noipa))
#endif

/* The observer's functions, one per event type it reads (OT_EVENTS):
 * the library calls the type's own (hl_observer_new_ops()), so that no
 * dispatch on the type runs in between. */
#define OT_ENTRY(name, body)                                  \
  OT_ONE_PIECE static int name(const hl_event *ev, void *user_data) { \
    hl_otel *o = user_data;                                   \
    ot_stack *t = on_begin(o, ev);                            \
    return t ? body(o, t, ev) : 0;                            \
  }
OT_ENTRY(ot_on_agent_start, on_agent_start)
OT_ENTRY(ot_on_agent_end, on_agent_end)
OT_ENTRY(ot_on_lm_start, on_lm_start)
OT_ENTRY(ot_on_lm_end, on_lm_end)
OT_ENTRY(ot_on_tool_start, on_tool_start)
OT_ENTRY(ot_on_tool_end, on_tool_end)
OT_ENTRY(ot_on_hook, on_hook)
#undef OT_ENTRY

/* The request's payload: read only when content is captured. */
static int ot_on_api_request(const hl_event *ev, void *user_data) {
  hl_otel *o = user_data;
  return o->capture && ev->data ? ot_on_lm_end(ev, user_data) : 0;
}

const hl_observer_ops ot_observer_ops = {
    .size = sizeof(hl_observer_ops),
    .agent_start = ot_on_agent_start,
    .agent_end = ot_on_agent_end,
    .lm_start = ot_on_lm_start,
    .lm_end = ot_on_lm_end,
    .api_request = ot_on_api_request,
    .tool_start = ot_on_tool_start,
    .tool_end = ot_on_tool_end,
    .hook = ot_on_hook,
};

int ot_on_event(const hl_event *ev, void *user_data) {
  switch (ev->type) {
  case HL_EVENT_AGENT_START:
    return ot_on_agent_start(ev, user_data);
  case HL_EVENT_AGENT_END:
    return ot_on_agent_end(ev, user_data);
  case HL_EVENT_LM_START:
    return ot_on_lm_start(ev, user_data);
  case HL_EVENT_LM_END:
    return ot_on_lm_end(ev, user_data);
  case HL_EVENT_API_REQUEST:
    return ot_on_api_request(ev, user_data);
  case HL_EVENT_TOOL_START:
    return ot_on_tool_start(ev, user_data);
  case HL_EVENT_TOOL_END:
    return ot_on_tool_end(ev, user_data);
  case HL_EVENT_HOOK:
    return ot_on_hook(ev, user_data);
  default: /* not a type the tracer reads (OT_EVENTS) */
    return 0;
  }
}

/* ---- trace context ----------------------------------------------------- */

static bool current_ids(hl_otel *o, hl_context *ctx, uint8_t trace[16], uint8_t span[8], bool *sampled) {
  if (!ctx || !atomic_load(&o->live_enabled)) return false;
  const char *inv = hl_context_invocation_id(ctx);
  const ot_stack *t = thread_stack();
  int i = t ? frame_find(t, o, inv, -1, NULL) : -1;
  if (i >= 0) {
    memcpy(span, t->f[i].span, 8);
    *sampled = t->f[i].sampled;
    if (t->f[i].has_trace) {
      memcpy(trace, t->f[i].trace, 16);
      return true;
    }
    return trace_of(t, o, inv, trace);
  }
  /* no call in progress here: the run's span */
  return live_lookup(o, inv, trace, span, NULL, sampled);
}

/* "00-<trace>-<span>-<flags>" and its NUL (OT_TRACEPARENT_LEN + 1 bytes)
 * at `out`, written in place: a snprintf of it cost ~650 instructions,
 * twice per model request (once more for the header line). The flags
 * carry the sampling decision, so that the services downstream agree. */
#define OT_TRACEPARENT_LEN 55
static void traceparent_write(char *out, const uint8_t trace[16], const uint8_t span[8], bool sampled) {
  memcpy(out, "00-", 3);
  ot_hex(out + 3, trace, 16);
  out[35] = '-';
  ot_hex(out + 36, span, 8);
  memcpy(out + 52, sampled ? "-01" : "-00", 4); /* with the NUL */
}

bool ot_header_fn(hl_context *ctx, char *line, size_t size, void *user_data) {
  static const char key[] = "traceparent: ";
  uint8_t trace[16], span[8];
  bool sampled = true;
  if (!user_data || size < sizeof key + OT_TRACEPARENT_LEN || !current_ids(user_data, ctx, trace, span, &sampled))
    return false;
  memcpy(line, key, sizeof key - 1);
  traceparent_write(line + sizeof key - 1, trace, span, sampled);
  return true;
}

hl_status hl_otel_traceparent(hl_otel *otel, hl_context *ctx, char *out, size_t size) {
  if (!otel || !ctx || !out || size < OT_TRACEPARENT_LEN + 1)
    return hl_fail(HL_ERR_INVALID, "hl_otel_traceparent: otel, ctx and a buffer of 56 bytes are required");
  uint8_t trace[16], span[8];
  bool sampled = true;
  if (!current_ids(otel, ctx, trace, span, &sampled))
    return hl_fail(HL_ERR_NOT_FOUND, "hl_otel_traceparent: no span for this run");
  traceparent_write(out, trace, span, sampled);
  return HL_OK;
}

static bool unhex(const char *s, uint8_t *out, size_t n) {
  for (size_t i = 0; i < 2 * n; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
    else out[i / 2] |= (uint8_t)v;
  }
  return true;
}

hl_status hl_otel_set_parent(const char *tp) {
  if (!tp) {
    ot_remote.set = false;
    return HL_OK;
  }
  uint8_t trace[16], span[8], zero[16] = {0};
  /* version (not ff) - trace id - span id - flags, lowercase hex */
  if (strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' ||
      (tp[55] != '\0' && tp[55] != '-') || !unhex(tp, trace, 1) || trace[0] == 0xff ||
      (trace[0] == 0 && tp[55] != '\0') || !unhex(tp + 3, trace, 16) ||
      !unhex(tp + 36, span, 8) || !unhex(tp + 53, zero + 8, 1) || !memcmp(trace, zero, 8) ||
      !memcmp(span, zero, 8))
    return hl_fail(HL_ERR_INVALID, "hl_otel_set_parent: not a W3C traceparent: \"%.80s\"", tp);
  if (!memcmp(trace, (const uint8_t[16]){0}, 16))
    return hl_fail(HL_ERR_INVALID, "hl_otel_set_parent: the trace id is all zeros");
  memcpy(ot_remote.trace, trace, 16);
  memcpy(ot_remote.span, span, 8);
  ot_remote.sampled = zero[8] & 1; /* the trace-flags' sampled bit */
  ot_remote.set = true;
  return HL_OK;
}
