/*
 * context.c - the invocation context: identity of a run, its hook and
 * observer stacks, cancellation, abort state, usage, and event emission.
 *
 * One context per run, shared by the run's thread and its tool workers;
 * everything mutable after creation is either atomic or under ctx->lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "agent/call.h"
#include "agent/observer_internal.h"
#include "core/util.h"

int64_t hl__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t hl__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Invocation ids: a process-random key mixed with a counter through
 * splitmix64, which is a bijection, so ids never repeat within a process
 * and do not collide across processes in practice. One syscall per
 * process instead of one per run. */
static uint64_t hl_splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static pthread_once_t hl_id_once = PTHREAD_ONCE_INIT;
static uint64_t hl_id_key[2];
static atomic_uint_fast64_t hl_id_counter;

static void hl_id_init(void) {
  if (getrandom(hl_id_key, sizeof hl_id_key, 0) != (ssize_t)sizeof hl_id_key) {
    hl_id_key[0] = (uint64_t)hl__now_ns();
    hl_id_key[1] = (uint64_t)hl__mono_ns() ^ ((uint64_t)getpid() << 32);
  }
}

static void hl_new_invocation_id(char out[40]) {
  pthread_once(&hl_id_once, hl_id_init);
  uint64_t n = atomic_fetch_add(&hl_id_counter, 1);
  uint64_t a = hl_splitmix(n ^ hl_id_key[0]);
  uint64_t b = hl_splitmix(n + hl_id_key[1]);
  /* "inv-" and 32 hex digits, written by hand: snprintf's %016llx cost
   * ~1,500 instructions per run (issue 12). */
  static const char hex[] = "0123456789abcdef";
  memcpy(out, "inv-", 4);
  for (int i = 0; i < 16; i++) {
    out[4 + i] = hex[(a >> (60 - 4 * i)) & 15];
    out[20 + i] = hex[(b >> (60 - 4 * i)) & 15];
  }
  out[36] = '\0';
}

/* Append `p` unless already there: the same chain set or observer can be
 * reached twice (an agent nested in itself, a fork sharing observers) and
 * must still run or be notified once. */
static bool hl_push_unique(void **arr, size_t *n, void *p) {
  for (size_t i = 0; i < *n; i++)
    if (arr[i] == p) return false;
  arr[(*n)++] = p;
  return true;
}

hl_status hl__ctx_new(hl_agent *agent, hl_context *parent, hl_session *session,
                      bool owns_session, const char *input, hl_context **out) {
  *out = NULL;
  if (!input) input = "";
  size_t n_parent_hooks = parent ? parent->n_hooks : 1;
  size_t n_parent_obs = parent ? parent->n_observers : 0;
  /* Observers that hook sets brought (plugins): the agent's own set's and
   * the global set's; an ancestor's set's are in the parent's stack. */
  size_t n_set_obs = agent->hooks->n_observers + hl_hooks_global()->n_observers;
  size_t n_hooks_max = n_parent_hooks + 1;
  size_t n_obs_max = n_parent_obs + agent->n_observers + n_set_obs + 1;
  size_t input_size = strlen(input) + 1;
  size_t branch_size = (parent ? strlen(parent->branch) + 1 : 0) + strlen(agent->name) + 1;
  /* One block: the context, its hook and observer stacks, its input and
   * branch. Five blocks were 5 x 16 bytes of malloc's own overhead and
   * four allocations per run in flight (issue 12, memory per session). */
  hl_context *ctx = calloc(1, sizeof *ctx + (n_hooks_max + n_obs_max) * sizeof(void *) +
                                  input_size + branch_size);
  if (!ctx) return hl__oom();
  ctx->hooks = (hl_hooks **)(ctx + 1);
  ctx->observers = (hl_observer **)(ctx->hooks + n_hooks_max);
  ctx->input = (char *)(ctx->observers + n_obs_max);
  ctx->branch = ctx->input + input_size;
  memcpy(ctx->input, input, input_size);
  if (parent)
    snprintf(ctx->branch, branch_size, "%s/%s", parent->branch, agent->name);
  else
    memcpy(ctx->branch, agent->name, branch_size);
  atomic_init(&ctx->refs, 1);
  atomic_init(&ctx->finished, false);
  atomic_init(&ctx->self_cancel, false);
  ctx->agent = hl_agent_ref(agent);
  ctx->parent = parent;
  hl__ctx_retain(parent);
  ctx->session = session;
  ctx->owns_session = owns_session;
  ctx->cancel_gen = atomic_load(&agent->cancel_gen);
  ctx->start_ns = hl__mono_ns();
  atomic_init(&ctx->nested_calls, 0);
  pthread_mutex_init(&ctx->lock, NULL);
  hl_new_invocation_id(ctx->invocation_id);
  ctx->globals = hl__observer_snap_get();

  ctx->session_id = session ? hl_session_id(session) : NULL;
  /* Started from inside one of the parent's tool calls (agent-as-tool,
   * on whatever thread the call's work runs: call.h)? Copied: the call's
   * id may go before a late child. */
  if (parent) {
    hl__call *in = hl__call_find(parent);
    if (in && in->id[0] && !(ctx->parent_call_id = hl__strdup(in->id))) {
      hl__call_unref(in);
      ctx->owns_session = false; /* the caller still owns it on failure */
      hl__ctx_release(ctx);
      return hl__oom();
    }
    hl__call_unref(in);
  }

  /* Hooks: global, ancestors root first (the parent's stack already has
   * that order), then the agent's own. */
  if (parent) {
    memcpy(ctx->hooks, parent->hooks, parent->n_hooks * sizeof *ctx->hooks);
    ctx->n_hooks = parent->n_hooks;
  } else {
    ctx->hooks[ctx->n_hooks++] = hl_hooks_global();
  }
  hl_push_unique((void **)ctx->hooks, &ctx->n_hooks, agent->hooks);

  /* Observers: own first, then the parent's (own, its parent's, ...). */
  for (size_t i = 0; i < agent->n_observers; i++)
    hl_push_unique((void **)ctx->observers, &ctx->n_observers, agent->observers[i]);
  for (size_t i = 0; i < n_parent_obs; i++)
    hl_push_unique((void **)ctx->observers, &ctx->n_observers, parent->observers[i]);
  /* Then those of the hook sets the run uses (hl_hooks_add_observer()). */
  for (size_t i = 0; i < agent->hooks->n_observers; i++)
    hl_push_unique((void **)ctx->observers, &ctx->n_observers, agent->hooks->observers[i].obs);
  if (!parent)
    for (size_t i = 0; i < hl_hooks_global()->n_observers; i++)
      hl_push_unique((void **)ctx->observers, &ctx->n_observers,
                     hl_hooks_global()->observers[i].obs);
  /* The run holds references: an observer may not disappear mid-run. */
  for (size_t i = 0; i < ctx->n_observers; i++) {
    hl_observer_ref(ctx->observers[i]);
    ctx->wants |= hl_observer_events(ctx->observers[i]);
  }

  *out = ctx;
  return HL_OK;
}

void hl__ctx_retain(hl_context *ctx) {
  if (ctx) atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
}

void hl__ctx_finish(hl_context *ctx) {
  pthread_mutex_lock(&ctx->lock);
  atomic_store(&ctx->finished, true);
  hl_session *owned = ctx->owns_session ? ctx->session : NULL;
  ctx->session = NULL;
  ctx->owns_session = false;
  pthread_mutex_unlock(&ctx->lock);
  hl_session_free(owned);
  hl__ctx_release(ctx);
}

void hl__ctx_release(hl_context *ctx) {
  if (!ctx) return;
  if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1) return;
  /* hooks, observers, input and branch are in the context's block. */
  for (size_t i = 0; i < ctx->n_observers; i++) hl_observer_unref(ctx->observers[i]);
  hl__observer_snap_put(ctx->globals);
  free(ctx->parent_call_id);
  free(ctx->abort_msg);
  if (ctx->owns_session) hl_session_free(ctx->session);
  pthread_mutex_destroy(&ctx->lock);
  hl__ctx_release(ctx->parent);
  hl_agent_unref(ctx->agent);
  free(ctx);
}

bool hl__ctx_observed(const hl_context *ctx) {
  return (ctx->wants | hl__observer_global_events()) != 0;
}

bool hl__ctx_wants(const hl_context *ctx, hl_event_type type) {
  return ((ctx->wants | hl__observer_global_events()) & HL_EVENT_MASK(type)) != 0;
}

bool hl_context_wants_event(const hl_context *ctx, hl_event_type type) {
  if (!ctx || (unsigned)type >= (unsigned)HL_EVENT_TYPE_COUNT) return false;
  return hl__ctx_wants(ctx, type);
}

/* The call an event of a tool call is nested in, from the call's record
 * current on this thread (a thread-local look-up). */
static void hl_name_outer_call(const hl_context *ctx, hl_event *ev) {
  hl__call *rec = hl__call_current();
  if (rec && rec->ctx == ctx && rec->id == ev->call_id) ev->outer_call_id = rec->outer_id;
}

void hl__emit(hl_context *ctx, hl_event *ev) {
  if (!hl__ctx_wants(ctx, ev->type)) return;
  /* one thread-local look-up for the count and the observers' save of
   * the caller's last error */
  hl__thread_state *here = hl__thread_state_here();
  here->built.emitted[ev->type]++;
  ev->size = sizeof *ev;
  ev->time_ns = hl__now_ns();
  ev->invocation_id = ctx->invocation_id;
  ev->agent_name = ctx->agent->name;
  ev->branch = ctx->branch;
  ev->turn = ctx->turn;
  ev->parent_invocation_id = ctx->parent ? ctx->parent->invocation_id : NULL;
  ev->parent_call_id = ctx->parent_call_id;
  ev->session_id = ctx->session_id;
  /* A tool call's own events (TOOL_START/END, its hooks) are emitted
   * with its record current: name the call it is nested in, if any.
   * TOOL_START and TOOL_END come with it named by their emitter
   * (tool_exec.c), which holds the record. */
  if (ev->call_id && ev->type != HL_EVENT_TOOL_START && ev->type != HL_EVENT_TOOL_END)
    hl_name_outer_call(ctx, ev);
  if (!ev->error.message) ev->error.message = "";
  hl__observer_emit(ctx->observers, ctx->n_observers, ctx->globals, ev, &here->error);
}

void hl__ctx_abort(hl_context *ctx, const char *message) {
  for (hl_context *c = ctx; c; c = c->parent) {
    pthread_mutex_lock(&c->lock);
    if (!c->aborted) {
      c->aborted = true;
      c->abort_msg = hl__strdup(message ? message : ""); /* NULL: no memory */
    }
    pthread_mutex_unlock(&c->lock);
  }
}

bool hl__ctx_aborted(hl_context *ctx, char *msg, size_t size) {
  pthread_mutex_lock(&ctx->lock);
  bool aborted = ctx->aborted;
  if (aborted && msg)
    snprintf(msg, size, "%s", ctx->abort_msg ? ctx->abort_msg : "aborted (message lost: out of memory)");
  pthread_mutex_unlock(&ctx->lock);
  return aborted;
}

char *hl__ctx_abort_message(hl_context *ctx) {
  pthread_mutex_lock(&ctx->lock);
  char *copy = ctx->aborted ? hl__strdup(ctx->abort_msg ? ctx->abort_msg
                                                        : "aborted (message lost: out of memory)")
                            : NULL;
  pthread_mutex_unlock(&ctx->lock);
  return copy;
}

void hl__ctx_add_usage(hl_context *ctx, const hl_usage *add) {
  pthread_mutex_lock(&ctx->lock);
  hl_usage_add(&ctx->usage, add);
  pthread_mutex_unlock(&ctx->lock);
}

/* ------------------------------------------------------------------ */
/* Public accessors                                                    */
/* ------------------------------------------------------------------ */

const char *hl_context_invocation_id(const hl_context *ctx) {
  return ctx ? ctx->invocation_id : "";
}
const char *hl_context_agent_name(const hl_context *ctx) {
  return ctx ? ctx->agent->name : "";
}
hl_agent *hl_context_agent(const hl_context *ctx) { return ctx ? ctx->agent : NULL; }
const char *hl_context_branch(const hl_context *ctx) { return ctx ? ctx->branch : ""; }
const char *hl_context_app_name(const hl_context *ctx) {
  hl_session *s = hl_context_session(ctx);
  return s ? hl_session_app_name(s) : "";
}
const char *hl_context_user_id(const hl_context *ctx) {
  hl_session *s = hl_context_session(ctx);
  return s ? hl_session_user_id(s) : "";
}
const char *hl_context_session_id(const hl_context *ctx) {
  hl_session *s = hl_context_session(ctx);
  return s ? hl_session_id(s) : "";
}
const char *hl_context_user_input(const hl_context *ctx) { return ctx ? ctx->input : ""; }
hl_session *hl_context_session(const hl_context *ctx) {
  if (!ctx) return NULL;
  hl_context *c = (hl_context *)ctx;
  pthread_mutex_lock(&c->lock);
  hl_session *s = c->session;
  pthread_mutex_unlock(&c->lock);
  return s;
}
int hl_context_turn(const hl_context *ctx) { return ctx ? ctx->turn : 0; }
/* ctx->resume is set when the run opens and stays for the whole run. */
bool hl_context_resumed(const hl_context *ctx) { return ctx && ctx->resume; }

/* State goes through ctx->lock so that a late tool thread cannot race the
 * end of the run that frees (or hands back) the session. */
cJSON *hl_context_state_get(const hl_context *ctx, const char *key) {
  if (!ctx || !key) return NULL;
  hl_context *c = (hl_context *)ctx;
  pthread_mutex_lock(&c->lock);
  cJSON *v = c->session ? hl_session_state_get(c->session, key) : NULL;
  pthread_mutex_unlock(&c->lock);
  return v;
}

hl_status hl_context_state_set(hl_context *ctx, const char *key, const cJSON *value) {
  if (!ctx || !key) return hl_fail(HL_ERR_INVALID, "hl_context_state_set: ctx and key are required");
  pthread_mutex_lock(&ctx->lock);
  hl_status st = ctx->session ? hl_session_state_set(ctx->session, key, value)
                              : hl_fail(HL_ERR_STATE, "hl_context_state_set: the run has ended");
  pthread_mutex_unlock(&ctx->lock);
  return st;
}

bool hl_context_cancelled(const hl_context *ctx) {
  /* A run that is over is as good as cancelled for whoever still asks. */
  if (ctx && atomic_load(&ctx->finished)) return true;
  /* Walking up makes "cancelling the parent cancels the child" free: no
   * list of live children to maintain. Trees are a few levels deep. */
  for (const hl_context *c = ctx; c; c = c->parent)
    if (atomic_load_explicit(&c->agent->cancel_gen, memory_order_acquire) != c->cancel_gen ||
        (c->run_cancel && atomic_load_explicit(c->run_cancel, memory_order_acquire)) ||
        atomic_load_explicit(&c->self_cancel, memory_order_acquire))
      return true;
  return false;
}

void hl_context_cancel(hl_context *ctx) {
  if (!ctx || atomic_load(&ctx->finished)) return;
  atomic_store_explicit(&ctx->self_cancel, true, memory_order_release);
  /* As hl_run_cancel(): the one announcement reaches the registrations
   * (tools, sandboxes) and the HTTP loop, which ends a model call in
   * flight at once. */
  hl__ctx_notify_cancel();
}

void hl_context_emit_custom(hl_context *ctx, const char *name, const cJSON *data) {
  if (!ctx || atomic_load(&ctx->finished)) return;
  hl_event ev = {.type = HL_EVENT_CUSTOM, .name = name ? name : "", .data = data};
  hl__emit(ctx, &ev);
}

void hl_context_emit_stderr(hl_context *ctx, const char *text) {
  if (!ctx || atomic_load(&ctx->finished)) return;
  hl_event ev = {.type = HL_EVENT_STDERR_WRITE, .text = text ? text : ""};
  hl__emit(ctx, &ev);
}

void hl_context_emit(hl_context *ctx, struct hl_event *event) {
  if (!ctx || !event || atomic_load(&ctx->finished)) return;
  if ((unsigned)event->type >= HL_EVENT_TYPE_COUNT) return;
  /* hl__emit() leaves these to the library's emitter */
  if (event->call_id && (event->type == HL_EVENT_TOOL_START || event->type == HL_EVENT_TOOL_END))
    hl_name_outer_call(ctx, event);
  hl__emit(ctx, event);
}
