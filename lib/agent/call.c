/*
 * call.c - the record of a running tool call (call.h): its life, the
 * thread's current record, the deferred calls of a run, and
 * hl_context_tool_call_id().
 *
 * The thread's current record is core's carried context (core/carry.h),
 * not a thread-local of its own: that is the pointer the worker pool
 * carries with a job, so a record made current here is the one a job
 * submitted from this thread runs inside, without core knowing what a
 * call record is.
 */
#include <stdlib.h>

#include "agent/agent_internal.h"
#include "agent/call.h"
#include "core/util.h"

static void carried_ref(hl__carried *c) { hl__call_ref((hl__call *)c); }
static void carried_unref(hl__carried *c) { hl__call_unref((hl__call *)c); }
static const hl__carried_ops call_ops = {carried_ref, carried_unref};

/* The carried context as a record (`carried` is hl__call's first member),
 * NULL when it is none or of another kind. */
static hl__call *as_call(hl__carried *c) { return c && c->ops == &call_ops ? (hl__call *)c : NULL; }

hl__call *hl__call_new(hl_context *ctx, const char *id) {
  hl__call *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->id = hl__strdup(id ? id : "");
  hl__call *up = hl__call_current();
  if (up && up->ctx == ctx && up->id[0]) c->outer_id = hl__strdup(up->id);
  if (!c->id || (up && up->ctx == ctx && up->id[0] && !c->outer_id)) {
    free(c->id);
    free(c->outer_id);
    free(c);
    return NULL;
  }
  c->carried.ops = &call_ops;
  atomic_init(&c->refs, 1);
  atomic_init(&c->child_resume_state, NULL);
  atomic_init(&c->child_state, NULL);
  atomic_init(&c->nested_seq, 0);
  c->ctx = ctx;
  hl__ctx_retain(ctx);
  return c;
}

hl__call *hl__call_ref(hl__call *c) {
  if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void hl__call_unref(hl__call *c) {
  if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  cJSON_Delete(atomic_load(&c->child_state));
  cJSON_Delete(c->nested_pending);
  free(c->id);
  free(c->outer_id);
  hl__ctx_release(c->ctx);
  free(c);
}

hl__call *hl__call_current(void) { return as_call(hl__carry_current()); }

hl__carried *hl__call_enter(hl__call *c) { return hl__carry_enter(c ? &c->carried : NULL); }

void hl__call_leave(hl__carried *prev) { hl__carry_leave(prev); }

hl__call *hl__call_find(const hl_context *ctx) {
  if (!ctx) return NULL;
  hl__call *current = hl__call_current();
  if (current && current->ctx == ctx) return hl__call_ref(current);
  /* Another thread: a deferred tool's own thread or one it handed the
   * work to. Only one deferred call of the run can be meant. */
  hl_context *c = (hl_context *)ctx;
  pthread_mutex_lock(&c->lock);
  hl__call *only = c->deferred_calls && !c->deferred_calls->deferred_next ? c->deferred_calls : NULL;
  hl__call_ref(only);
  pthread_mutex_unlock(&c->lock);
  return only;
}

void hl__call_defer_begin(hl__call *c) {
  if (!c || c->deferred) return;
  pthread_mutex_lock(&c->ctx->lock);
  c->deferred = true;
  c->deferred_next = c->ctx->deferred_calls;
  c->ctx->deferred_calls = c;
  pthread_mutex_unlock(&c->ctx->lock);
}

void hl__call_defer_end(hl__call *c) {
  if (!c || !c->deferred) return;
  pthread_mutex_lock(&c->ctx->lock);
  for (hl__call **pp = &c->ctx->deferred_calls; *pp; pp = &(*pp)->deferred_next) {
    if (*pp != c) continue;
    *pp = c->deferred_next;
    break;
  }
  c->deferred = false;
  c->deferred_next = NULL;
  pthread_mutex_unlock(&c->ctx->lock);
}

bool hl__call_put_child_state(hl__call *c, cJSON *state) {
  cJSON *none = NULL;
  return c && state && atomic_compare_exchange_strong(&c->child_state, &none, state);
}

cJSON *hl__call_take_child_state(hl__call *c) {
  return c ? atomic_exchange(&c->child_state, NULL) : NULL;
}

bool hl__call_add_nested(hl__call *c, cJSON *entry) {
  pthread_mutex_lock(&c->ctx->lock);
  if (!c->nested_pending) c->nested_pending = cJSON_CreateArray();
  bool ok = c->nested_pending && cJSON_AddItemToArray(c->nested_pending, entry);
  pthread_mutex_unlock(&c->ctx->lock);
  if (!ok) cJSON_Delete(entry);
  return ok;
}

cJSON *hl__call_take_nested(hl__call *c) {
  pthread_mutex_lock(&c->ctx->lock);
  cJSON *list = c->nested_pending;
  c->nested_pending = NULL;
  pthread_mutex_unlock(&c->ctx->lock);
  return list;
}

const char *hl_context_tool_call_id(const hl_context *ctx) {
  if (!ctx) return NULL;
  hl__call *current = hl__call_current();
  if (current && current->ctx == ctx) return current->id[0] ? current->id : NULL;
  /* A deferred call's record lives until the call completes, which is as
   * long as the id is promised (context.h). */
  hl__call *c = hl__call_find(ctx);
  const char *id = c && c->id[0] ? c->id : NULL;
  hl__call_unref(c);
  return id;
}
