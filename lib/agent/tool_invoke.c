/*
 * tool_invoke.c - hl_tool_invoke() (tool.h): one call of a tool, its
 * arguments validated against its schema, within its time limit.
 *
 * A call with a time limit runs on the library's worker pool
 * (core/taskpool.h), carrying the call's record (call.h): the tool knows
 * its call id there, and a child run it starts nests under the call and
 * can be interrupted. The caller waits with a deadline, stepped aside
 * from the pool; at the deadline it takes the job back if no thread
 * started it, or leaves it to finish alone (abandoned).
 *
 * Why this is the agent layer's and not lib/core/tool.c's, which declares
 * tools and runs the native function once (hl__tool_run): what a timed
 * call needs besides a thread is all the run's. The record it carries
 * must be of the call's context, and a context without one (a hook
 * calling hl_tool_invoke() by hand with its run's context) gets a record
 * of its own, made here, which also keeps the context alive for a
 * function that outlives its limit; the run's cancellation ends the
 * wait. Kept in core, the timed call would need a way back up for each of
 * those (a record made for a context, the context's life); here it uses
 * them directly, and core needs nothing of agent/: the pool carries
 * whatever record is current as an opaque context (core/carry.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent/call.h"
#include "core/taskpool.h"
#include "core/tool_internal.h"
#include "core/util.h"
#include "hookline/json.h"
#include "hookline/tool.h"

/* State shared by a caller waiting with a deadline and the pool thread
 * running the function. Whoever drops the last reference frees it, so a
 * caller that gave up can return at once and the late worker cleans up.
 * The job carries the call's record, which keeps the run's context valid
 * (and inert once the run ended) for a late function. */
typedef struct timed_call {
  hl__job job;
  atomic_int refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool cancelled;     /* the run was cancelled while the caller waited */
  hl_tool *tool;      /* the worker's own reference */
  hl_context *ctx;
  cJSON *args;        /* a copy: the caller's arguments may be gone when a late worker runs */
  cJSON *result;      /* set by the worker; taken by the caller or freed by the last owner */
  hl_status status;
  char message[1024];
} timed_call;

static void timed_call_release(timed_call *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  cJSON_Delete(c->args);
  cJSON_Delete(c->result);
  free(c);
}

/* hl_context_on_cancel: a call still in the pool's queue is not waited
 * for once its run is cancelled. */
static void timed_call_cancelled(void *arg) {
  timed_call *c = arg;
  pthread_mutex_lock(&c->mu);
  c->cancelled = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void timed_call_job(hl__job *job) {
  timed_call *c = (timed_call *)job;
  hl_tool *tool = c->tool;
  cJSON *res = NULL;
  hl_status st = hl__tool_run(tool, c->ctx, c->args, &res);
  pthread_mutex_lock(&c->mu);
  c->status = st;
  c->result = res;
  snprintf(c->message, sizeof c->message, "%s", hl_last_error());
  c->done = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  timed_call_release(c);
  hl_tool_unref(tool); /* last: may run the tool's free_fn on this thread */
}

static hl_status invoke_with_timeout(hl_tool *tool, unsigned timeout_ms, hl_context *ctx,
                                     const cJSON *args, cJSON **result) {
  timed_call *c = calloc(1, sizeof *c);
  if (!c) return hl__oom();
  c->args = hl_json_clone(args);
  if (!c->args) {
    free(c);
    return hl_last_status() ? hl_last_status() : hl__oom();
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc_cv = pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc_cv != 0) {
    cJSON_Delete(c->args);
    free(c);
    return hl_fail(HL_ERR_LIMIT, "tool \"%s\": cannot create a condition variable",
                   hl_tool_name(tool));
  }
  pthread_mutex_init(&c->mu, NULL);
  atomic_init(&c->refs, 2);
  c->tool = hl_tool_ref(tool);
  c->ctx = ctx;
  c->job.fn = timed_call_job;

  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  /* Carries this thread's call record (call.h), which keeps ctx;
   * a context without one (hl_tool_invoke by hand with a run's context)
   * gets a record of its own, without a call id. */
  hl__call *rec = hl__call_current(), *own = NULL;
  if (ctx && (!rec || rec->ctx != ctx)) rec = own = hl__call_new(ctx, "");
  hl__carried *prev = hl__call_enter(rec);
  hl__jobs_submit_here(&c->job);
  hl__call_leave(prev);
  hl__call_unref(own);
  hl_cancel_reg *reg = ctx ? hl_context_on_cancel(ctx, timed_call_cancelled, c) : NULL;
  hl__jobs_block_begin();
  pthread_mutex_lock(&c->mu);
  bool dropped = false; /* cancelled before any thread took it */
  while (!c->done) {
    if (c->cancelled && !dropped && (dropped = hl__jobs_cancel(&c->job))) break;
    if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT) break;
  }
  bool done = c->done, never_ran = dropped;
  hl_status st = HL_ERR_TIMEOUT;
  if (done) {
    st = c->status;
    *result = c->result;
    c->result = NULL;
    if (st != HL_OK) hl_fail(st, "%s", c->message);
  } else if (!never_ran && !(never_ran = hl__jobs_cancel(&c->job))) {
    /* Left to finish alone: its thread no longer counts as the pool's
     * (under c->mu, the function cannot report done meanwhile). */
    hl__jobs_abandon(&c->job);
  }
  pthread_mutex_unlock(&c->mu);
  hl__jobs_block_end();
  hl_context_cancel_unregister(reg);
  if (never_ran) {
    /* No thread took it in time (a saturated pool): it never runs. */
    hl_tool_unref(tool);
    timed_call_release(c);
  }
  timed_call_release(c);
  if (dropped)
    return hl_fail(HL_ERR_CANCELLED, "run cancelled before tool \"%s\" got a thread",
                   hl_tool_name(tool));
  if (!done)
    return hl_fail(HL_ERR_TIMEOUT, "tool \"%s\" timed out after %u ms", hl_tool_name(tool),
                   timeout_ms);
  if (st == HL_OK) hl_clear_error();
  return st;
}

hl_status hl_tool_invoke(hl_tool *tool, hl_context *ctx, const cJSON *args, cJSON **result) {
  if (!result) return hl_fail(HL_ERR_INVALID, "hl_tool_invoke: result is NULL");
  *result = NULL;
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_tool_invoke: tool is NULL");
  /* A call without arguments is a call with none: {}. */
  cJSON *empty = NULL;
  if (!args && !(args = empty = cJSON_CreateObject())) return hl__oom();
  hl_status st = hl__tool_validate(tool, args);
  unsigned timeout_ms = hl_tool_timeout_ms(tool);
  if (st == HL_OK)
    st = timeout_ms ? invoke_with_timeout(tool, timeout_ms, ctx, args, result)
                    : hl__tool_run(tool, ctx, args, result);
  cJSON_Delete(empty);
  return st;
}
