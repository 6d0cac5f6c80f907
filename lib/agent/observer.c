/*
 * observer.c - observers: delivery, reference counting, the built-ins
 * (noop, logging, collecting, composite) and the process-wide list.
 *
 * The one rule that shapes this file (H13): an observer can never change a
 * run. hl_observer_notify() returns nothing, counts a callback's non-zero
 * return instead of passing it on, and puts back the calling thread's
 * last-error message if the callback overwrote it, so the run that
 * produced the event sees exactly the state it had before.
 *
 * Each observer also carries the set of event types it wants
 * (hl_observer_set_events()): delivery skips the others, and the union
 * over a run's observers tells the library which events to build at all.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/observer.h"
#include "agent/observer_internal.h"
#include "core/util.h"

typedef enum hl_observer_kind {
  HL_OBS_FN,
  HL_OBS_OPS,
  HL_OBS_NOOP,
  HL_OBS_LOGGING,
  HL_OBS_COLLECTING,
  HL_OBS_COMPOSITE
} hl_observer_kind;

typedef struct hl_logging {
  FILE *out;
  char *prefix; /* "" for none */
} hl_logging;

typedef struct hl_collecting {
  pthread_mutex_t lock;
  cJSON *events;                       /* array of hl_event_to_json() copies */
  size_t counts[HL_EVENT_TYPE_COUNT];
  size_t total;
} hl_collecting;

typedef struct hl_composite {
  hl_observer **children;
  size_t count, cap;
} hl_composite;

struct hl_observer {
  atomic_uint refs;
  hl_observer_kind kind;
  /* The callback by event type: a struct-style observer's functions (NULL
   * = skip), a function-style observer's one function at every type, so
   * that delivering to either is one indexed load; NULL for the built-ins,
   * delivered by kind. */
  hl_observer_fn ops[HL_EVENT_TYPE_COUNT];
  void *user_data;
  hl_free_fn free_fn;
  _Atomic uint64_t failures;
  /* The types delivered (a composite: filter before its children's own);
   * atomic because hl_observer_set_events() may race a delivery. */
  _Atomic hl_event_mask wanted;
  union {
    hl_logging logging;
    hl_collecting collecting;
    hl_composite composite;
  } u;
};

static void hl_global_recompute(void);

static hl_observer *hl_observer_alloc(hl_observer_kind kind) {
  hl_observer *obs = calloc(1, sizeof *obs);
  if (!obs) {
    hl_fail(HL_ERR_NOMEM, "observer: out of memory");
    return NULL;
  }
  atomic_init(&obs->refs, 1);
  atomic_init(&obs->failures, 0);
  atomic_init(&obs->wanted, kind == HL_OBS_NOOP ? 0 : HL_EVENT_MASK_ALL);
  obs->kind = kind;
  return obs;
}

hl_observer *hl_observer_new(hl_observer_fn fn, void *user_data) {
  if (!fn) {
    hl_fail(HL_ERR_INVALID, "hl_observer_new: fn is NULL");
    return NULL;
  }
  hl_observer *obs = hl_observer_alloc(HL_OBS_FN);
  if (!obs) return NULL;
  for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++) obs->ops[t] = fn;
  obs->user_data = user_data;
  return obs;
}

hl_observer *hl_observer_new_ops(const hl_observer_ops *caller, void *user_data) {
  if (!caller) {
    hl_fail(HL_ERR_INVALID, "hl_observer_new_ops: ops is NULL");
    return NULL;
  }
  if (caller->size < offsetof(hl_observer_ops, agent_start) + sizeof(hl_observer_fn)) {
    hl_fail(HL_ERR_INVALID, "hl_observer_new_ops: ops->size is %zu; set it to sizeof(hl_observer_ops)",
            caller->size);
    return NULL;
  }
  /* A caller built against an older header has fewer functions: the rest
   * stay unset. */
  hl_observer_ops copy = {0};
  memcpy(&copy, caller, caller->size < sizeof copy ? caller->size : sizeof copy);
  const hl_observer_ops *ops = &copy;
  hl_observer *obs = hl_observer_alloc(HL_OBS_OPS);
  if (!obs) return NULL;
  /* Indexed by event type so delivery is one array load. */
  obs->ops[HL_EVENT_AGENT_START] = ops->agent_start;
  obs->ops[HL_EVENT_AGENT_END] = ops->agent_end;
  obs->ops[HL_EVENT_TURN_START] = ops->turn_start;
  obs->ops[HL_EVENT_TURN_END] = ops->turn_end;
  obs->ops[HL_EVENT_LM_START] = ops->lm_start;
  obs->ops[HL_EVENT_LM_END] = ops->lm_end;
  obs->ops[HL_EVENT_API_REQUEST] = ops->api_request;
  obs->ops[HL_EVENT_API_RESPONSE] = ops->api_response;
  obs->ops[HL_EVENT_RESPONSE] = ops->response;
  obs->ops[HL_EVENT_TOOL_START] = ops->tool_start;
  obs->ops[HL_EVENT_TOOL_END] = ops->tool_end;
  obs->ops[HL_EVENT_HOOK] = ops->hook;
  obs->ops[HL_EVENT_STDERR_WRITE] = ops->stderr_write;
  obs->ops[HL_EVENT_TRACE_COMPLETE] = ops->trace_complete;
  obs->ops[HL_EVENT_CUSTOM] = ops->custom;
  obs->ops[HL_EVENT_INTERRUPT] = ops->interrupt;
  obs->ops[HL_EVENT_RESUME] = ops->resume;
  /* An unset function is a type it does not want: not built for it. */
  hl_event_mask wanted = 0;
  for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++)
    if (obs->ops[t]) wanted |= HL_EVENT_MASK(t);
  atomic_init(&obs->wanted, wanted);
  obs->user_data = user_data;
  return obs;
}

hl_observer *hl_observer_ref(hl_observer *obs) {
  if (obs) atomic_fetch_add_explicit(&obs->refs, 1, memory_order_relaxed);
  return obs;
}

void hl_observer_unref(hl_observer *obs) {
  if (!obs) return;
  if (atomic_fetch_sub_explicit(&obs->refs, 1, memory_order_acq_rel) != 1) return;
  switch (obs->kind) {
  case HL_OBS_LOGGING:
    free(obs->u.logging.prefix);
    break;
  case HL_OBS_COLLECTING:
    cJSON_Delete(obs->u.collecting.events);
    pthread_mutex_destroy(&obs->u.collecting.lock);
    break;
  case HL_OBS_COMPOSITE:
    for (size_t i = 0; i < obs->u.composite.count; i++)
      hl_observer_unref(obs->u.composite.children[i]);
    free(obs->u.composite.children);
    break;
  default:
    break;
  }
  if (obs->free_fn) obs->free_fn(obs->user_data);
  free(obs);
}

void hl_observer_set_free_fn(hl_observer *obs, hl_free_fn free_fn) {
  if (obs) obs->free_fn = free_fn;
}

uint64_t hl_observer_failures(const hl_observer *obs) {
  if (!obs) return 0;
  return atomic_load_explicit(&((hl_observer *)obs)->failures, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Wanted event types                                                  */
/* ------------------------------------------------------------------ */

hl_status hl_observer_set_events(hl_observer *obs, hl_event_mask wanted) {
  if (!obs) return hl_fail(HL_ERR_INVALID, "hl_observer_set_events: obs is NULL");
  atomic_store(&obs->wanted, wanted & HL_EVENT_MASK_ALL);
  hl_global_recompute(); /* it, or a composite holding it, may be global */
  return HL_OK;
}

hl_event_mask hl_observer_events(const hl_observer *obs) {
  if (!obs) return 0;
  hl_event_mask own = atomic_load(&((hl_observer *)obs)->wanted);
  if (obs->kind != HL_OBS_COMPOSITE) return own;
  /* Cycles are refused by hl_observer_composite_add(): this ends. */
  hl_event_mask children = 0;
  for (size_t i = 0; i < obs->u.composite.count; i++)
    children |= hl_observer_events(obs->u.composite.children[i]);
  return own & children;
}

/* ------------------------------------------------------------------ */
/* Built-in behaviour                                                  */
/* ------------------------------------------------------------------ */

static int hl_logging_deliver(hl_logging *lg, const hl_event *ev) {
  if (ev->type == HL_EVENT_RESPONSE && ev->is_delta) return 0;
  char *line = hl_event_format(ev);
  if (!line) return -1;
  /* flockfile: lines from parallel tool calls come out whole, never
   * interleaved, even if another part of the program writes to `out`. */
  flockfile(lg->out);
  int rc = lg->prefix[0] ? fprintf(lg->out, "%s %s\n", lg->prefix, line)
                         : fprintf(lg->out, "%s\n", line);
  if (rc >= 0) rc = fflush(lg->out) == 0 ? rc : -1;
  funlockfile(lg->out);
  free(line);
  return rc < 0 ? -1 : 0;
}

static int hl_collecting_deliver(hl_collecting *c, const hl_event *ev) {
  /* Build the copy outside the lock: the lock only guards the list. */
  cJSON *copy = hl_event_to_json(ev);
  if (!copy) return -1;
  pthread_mutex_lock(&c->lock);
  int ok = cJSON_AddItemToArray(c->events, copy);
  if (ok) {
    c->counts[ev->type]++;
    c->total++;
  }
  pthread_mutex_unlock(&c->lock);
  if (!ok) {
    cJSON_Delete(copy);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Delivery                                                            */
/* ------------------------------------------------------------------ */

/* The caller's last error, saved around a callback that may call hl_fail()
 * or hl_clear_error() itself. Only copied when there is something to keep,
 * which keeps the common path (no error pending) free of copies; `now` is
 * the thread's own state, looked up once by the caller (hl__emit() with
 * its count of the event), so save and restore need no look-up. */
typedef struct hl_saved_error {
  hl__error_state *now;
  hl_status status;
  char message[sizeof ((hl__error_state *)0)->message];
  int saved;
} hl_saved_error;

static inline void hl_error_save(hl_saved_error *s, hl__error_state *now) {
  s->now = now;
  s->status = now->status;
  s->saved = s->status != HL_OK || now->message[0] != '\0';
  if (s->saved) {
    size_t n = strnlen(now->message, sizeof s->message - 1);
    memcpy(s->message, now->message, n);
    s->message[n] = '\0';
  }
}

static inline void hl_error_restore(const hl_saved_error *s) {
  const hl__error_state *now = s->now;
  if (!s->saved) {
    if (now->status != HL_OK || now->message[0]) hl_clear_error();
    return;
  }
  if (now->status == s->status && strcmp(now->message, s->message) == 0) return;
  hl_fail(s->status, "%s", s->message);
}

__attribute__((noinline)) static void hl_deliver_builtin(hl_observer *obs, const hl_event *ev);

/* Deliver without saving the caller's last error: the callers below save
 * and restore it once for all the observers of an event. Kept small so
 * that it is inlined into their loops: an observer that does not want
 * the type costs a load and a test, a function or struct-style one (the
 * OpenTelemetry exporter) an indexed load and its call; the built-ins go
 * out of line. */
static inline void hl_deliver(hl_observer *obs, const hl_event *ev) {
  if (!(atomic_load_explicit(&obs->wanted, memory_order_relaxed) & HL_EVENT_MASK(ev->type)))
    return;
  hl_observer_fn fn = obs->ops[ev->type];
  if (!fn) {
    hl_deliver_builtin(obs, ev);
    return;
  }
  if (fn(ev, obs->user_data) != 0) atomic_fetch_add_explicit(&obs->failures, 1, memory_order_relaxed);
}

/* The built-ins (and a struct-style observer without this type's
 * function, which does nothing). */
static void hl_deliver_builtin(hl_observer *obs, const hl_event *ev) {
  int rc;
  switch (obs->kind) {
  case HL_OBS_LOGGING:
    rc = hl_logging_deliver(&obs->u.logging, ev);
    break;
  case HL_OBS_COLLECTING:
    rc = hl_collecting_deliver(&obs->u.collecting, ev);
    break;
  case HL_OBS_COMPOSITE:
    /* Each child counts its own failures; one failing child does not keep
     * the others from seeing the event. */
    for (size_t i = 0; i < obs->u.composite.count; i++)
      hl_deliver(obs->u.composite.children[i], ev);
    return;
  default: /* noop; a struct-style observer's unset function */
    return;
  }
  if (rc != 0) atomic_fetch_add_explicit(&obs->failures, 1, memory_order_relaxed);
}

void hl_observer_notify(hl_observer *obs, const hl_event *ev) {
  if (!obs || !ev || (unsigned)ev->type >= (unsigned)HL_EVENT_TYPE_COUNT) return;
  hl_saved_error saved;
  hl_error_save(&saved, &hl__thread_state_here()->error);
  hl_deliver(obs, ev);
  hl_error_restore(&saved);
}

/* ------------------------------------------------------------------ */
/* Built-in constructors                                               */
/* ------------------------------------------------------------------ */

hl_observer *hl_observer_noop(void) { return hl_observer_alloc(HL_OBS_NOOP); }

hl_observer *hl_observer_logging(FILE *out, const char *prefix) {
  if (!out) {
    hl_fail(HL_ERR_INVALID, "hl_observer_logging: out is NULL");
    return NULL;
  }
  hl_observer *obs = hl_observer_alloc(HL_OBS_LOGGING);
  if (!obs) return NULL;
  obs->u.logging.out = out;
  obs->u.logging.prefix = strdup(prefix ? prefix : "");
  if (!obs->u.logging.prefix) {
    free(obs);
    hl_fail(HL_ERR_NOMEM, "hl_observer_logging: out of memory");
    return NULL;
  }
  return obs;
}

hl_observer *hl_observer_collecting(void) {
  hl_observer *obs = hl_observer_alloc(HL_OBS_COLLECTING);
  if (!obs) return NULL;
  obs->u.collecting.events = cJSON_CreateArray();
  if (!obs->u.collecting.events) {
    free(obs);
    hl_fail(HL_ERR_NOMEM, "hl_observer_collecting: out of memory");
    return NULL;
  }
  pthread_mutex_init(&obs->u.collecting.lock, NULL);
  return obs;
}

static hl_collecting *hl_as_collecting(hl_observer *obs, const char *fn) {
  if (!obs || obs->kind != HL_OBS_COLLECTING) {
    hl_fail(HL_ERR_INVALID, "%s: not a collecting observer", fn);
    return NULL;
  }
  return &obs->u.collecting;
}

size_t hl_observer_collected_count(hl_observer *obs, hl_event_type type) {
  hl_collecting *c = hl_as_collecting(obs, "hl_observer_collected_count");
  if (!c) return 0;
  pthread_mutex_lock(&c->lock);
  size_t n = 0;
  if (type == HL_EVENT_TYPE_COUNT)
    n = c->total;
  else if ((unsigned)type < (unsigned)HL_EVENT_TYPE_COUNT)
    n = c->counts[type];
  pthread_mutex_unlock(&c->lock);
  return n;
}

cJSON *hl_observer_collected(hl_observer *obs) {
  hl_collecting *c = hl_as_collecting(obs, "hl_observer_collected");
  if (!c) return NULL;
  pthread_mutex_lock(&c->lock);
  cJSON *copy = cJSON_Duplicate(c->events, 1);
  pthread_mutex_unlock(&c->lock);
  if (!copy) hl_fail(HL_ERR_NOMEM, "hl_observer_collected: out of memory");
  return copy;
}

void hl_observer_collected_clear(hl_observer *obs) {
  hl_collecting *c = hl_as_collecting(obs, "hl_observer_collected_clear");
  if (!c) return;
  cJSON *fresh = cJSON_CreateArray();
  if (!fresh) return; /* keep the old list rather than lose the object */
  pthread_mutex_lock(&c->lock);
  cJSON *old = c->events;
  c->events = fresh;
  memset(c->counts, 0, sizeof c->counts);
  c->total = 0;
  pthread_mutex_unlock(&c->lock);
  cJSON_Delete(old);
}

hl_observer *hl_observer_composite(void) { return hl_observer_alloc(HL_OBS_COMPOSITE); }

/* Would adding `child` under `parent` make a cycle (endless delivery)? */
static int hl_composite_reaches(const hl_observer *from, const hl_observer *target) {
  if (from == target) return 1;
  if (from->kind != HL_OBS_COMPOSITE) return 0;
  for (size_t i = 0; i < from->u.composite.count; i++)
    if (hl_composite_reaches(from->u.composite.children[i], target)) return 1;
  return 0;
}

hl_status hl_observer_composite_add(hl_observer *composite, hl_observer *child) {
  if (!composite || !child)
    return hl_fail(HL_ERR_INVALID, "hl_observer_composite_add: NULL argument");
  if (composite->kind != HL_OBS_COMPOSITE)
    return hl_fail(HL_ERR_INVALID, "hl_observer_composite_add: not a composite observer");
  if (hl_composite_reaches(child, composite))
    return hl_fail(HL_ERR_INVALID,
                   "hl_observer_composite_add: adding this child would make a cycle");
  hl_composite *c = &composite->u.composite;
  if (c->count == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 4;
    hl_observer **n = realloc(c->children, cap * sizeof *n);
    if (!n) return hl_fail(HL_ERR_NOMEM, "hl_observer_composite_add: out of memory");
    c->children = n;
    c->cap = cap;
  }
  c->children[c->count++] = hl_observer_ref(child);
  hl_global_recompute(); /* the composite may be a global observer already */
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Process-wide observers                                              */
/* ------------------------------------------------------------------ */

/* The global observers as an immutable, reference-counted snapshot that
 * is swapped atomically whenever the list changes (add, clear), RCU-like:
 * a run takes a reference to the snapshot current at its start
 * (hl__observer_snap_get(), one lock per run) and, at each event, only
 * compares that pointer with the current one (one atomic load). Equal: it
 * delivers through its own snapshot, which its reference keeps alive, with
 * no lock and no reference counting per event. Different (a global was
 * added or cleared mid-run): it takes the current snapshot for that one
 * event, under the lock, as every delivery did before. Observers are
 * notified outside the lock, so a slow global observer holds no lock and a
 * callback may even add or clear globals without deadlocking. The pointer
 * comparison cannot be fooled by a reused address: the run's reference
 * keeps its snapshot's memory from being reused. */
struct hl__observer_snap {
  atomic_uint refs;
  size_t n;
  hl_observer *obs[]; /* a reference each */
};

static pthread_mutex_t hl_global_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(hl__observer_snap *) hl_global_snap; /* NULL: no global observer */
/* The union of what the global observers want, readable lock-free: a run
 * reads it at every event (hl__observer_global_events(), inline), so a
 * global added mid-run is seen. */
_Atomic hl_event_mask hl__global_wanted;

/* Recompute hl__global_wanted; the caller holds hl_global_lock. */
static void hl_global_recompute_locked(void) {
  hl_event_mask m = 0;
  hl__observer_snap *s = atomic_load_explicit(&hl_global_snap, memory_order_relaxed);
  for (size_t i = 0; s && i < s->n; i++) m |= hl_observer_events(s->obs[i]);
  atomic_store(&hl__global_wanted, m);
}

static void hl_global_recompute(void) {
  pthread_mutex_lock(&hl_global_lock);
  hl_global_recompute_locked();
  pthread_mutex_unlock(&hl_global_lock);
}

void hl__observer_snap_put(hl__observer_snap *s) {
  if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < s->n; i++) hl_observer_unref(s->obs[i]);
  free(s);
}

hl__observer_snap *hl__observer_snap_get(void) {
  /* Nothing registered: no lock (the common case without globals). */
  if (!atomic_load_explicit(&hl_global_snap, memory_order_acquire)) return NULL;
  pthread_mutex_lock(&hl_global_lock);
  hl__observer_snap *s = atomic_load_explicit(&hl_global_snap, memory_order_relaxed);
  if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&hl_global_lock);
  return s;
}

hl_status hl_observer_add_global(hl_observer *obs) {
  if (!obs) return hl_fail(HL_ERR_INVALID, "hl_observer_add_global: obs is NULL");
  pthread_mutex_lock(&hl_global_lock);
  hl__observer_snap *old = atomic_load_explicit(&hl_global_snap, memory_order_relaxed);
  size_t n = old ? old->n : 0;
  hl__observer_snap *s = malloc(sizeof *s + (n + 1) * sizeof s->obs[0]);
  if (!s) {
    pthread_mutex_unlock(&hl_global_lock);
    return hl_fail(HL_ERR_NOMEM, "hl_observer_add_global: out of memory");
  }
  atomic_init(&s->refs, 1); /* the list's */
  s->n = n + 1;
  for (size_t i = 0; i < n; i++) s->obs[i] = hl_observer_ref(old->obs[i]);
  s->obs[n] = hl_observer_ref(obs);
  atomic_store_explicit(&hl_global_snap, s, memory_order_release);
  hl_global_recompute_locked();
  pthread_mutex_unlock(&hl_global_lock);
  hl__observer_snap_put(old); /* the list's reference; runs may hold theirs */
  return HL_OK;
}

void hl_observer_clear_global(void) {
  pthread_mutex_lock(&hl_global_lock);
  hl__observer_snap *old = atomic_exchange(&hl_global_snap, NULL);
  atomic_store(&hl__global_wanted, 0);
  pthread_mutex_unlock(&hl_global_lock);
  hl__observer_snap_put(old);
}

bool hl__observer_has_global(void) {
  return atomic_load_explicit(&hl_global_snap, memory_order_relaxed) != NULL;
}


/* The global observers through the current snapshot, for one event: the
 * list changed since the run took its own (rare: out of line, so that the
 * common path below stays a few cache lines). */
__attribute__((cold, noinline)) static void hl_deliver_current_global(const hl_event *ev) {
  hl__observer_snap *s = hl__observer_snap_get();
  for (size_t i = 0; s && i < s->n; i++) hl_deliver(s->obs[i], ev);
  hl__observer_snap_put(s);
}

/* The global observers (the caller saves its last error around them). */
static inline void hl_deliver_global(hl__observer_snap *mine, const hl_event *ev) {
  hl__observer_snap *cur = atomic_load_explicit(&hl_global_snap, memory_order_acquire);
  if (!cur) return;
  if (__builtin_expect(cur != mine, 0)) {
    hl_deliver_current_global(ev);
    return;
  }
  for (size_t i = 0; i < mine->n; i++) hl_deliver(mine->obs[i], ev);
}

void hl__observer_notify_global_snap(hl__observer_snap *mine, const hl_event *ev) {
  if (!ev || !atomic_load_explicit(&hl_global_snap, memory_order_relaxed)) return;
  hl_saved_error saved;
  hl_error_save(&saved, &hl__thread_state_here()->error);
  hl_deliver_global(mine, ev);
  hl_error_restore(&saved);
}

void hl__observer_notify_global(const hl_event *ev) { hl__observer_notify_global_snap(NULL, ev); }

/* hl__observer_emit() with an error pending on the calling thread: the
 * message copied aside and put back after the callbacks. Out of line (and
 * its 1 KB copy off the common path's stack): events mostly come with
 * none pending. */
__attribute__((cold, noinline)) static void hl_emit_saving(hl_observer *const *obs, size_t n,
                                                           hl__observer_snap *globals,
                                                           const hl_event *ev, hl__error_state *err) {
  hl_saved_error saved;
  hl_error_save(&saved, err);
  for (size_t i = 0; i < n; i++) hl_deliver(obs[i], ev);
  hl_deliver_global(globals, ev);
  hl_error_restore(&saved);
}

void hl__observer_emit(hl_observer *const *obs, size_t n, hl__observer_snap *globals,
                       const hl_event *ev, hl__error_state *err) {
  if ((unsigned)ev->type >= (unsigned)HL_EVENT_TYPE_COUNT) return;
  /* Once per event, not per observer. The common path (no error pending)
   * reads two fields before and after, and copies nothing: a run's thread
   * meets this code cold at each event over HTTP (the model server and
   * the kernel ran on its core in between), so its size is paid in
   * instruction-cache misses, event after event. */
  if (__builtin_expect(err->status != HL_OK || err->message[0] != '\0', 0)) {
    hl_emit_saving(obs, n, globals, ev, err);
    return;
  }
  for (size_t i = 0; i < n; i++) hl_deliver(obs[i], ev);
  hl_deliver_global(globals, ev);
  /* none was pending: one a callback left is cleared (hl_error_restore()) */
  if (__builtin_expect(err->status != HL_OK || err->message[0] != '\0', 0)) hl_clear_error();
}
