/*
 * tool_async.c - asynchronous tools (hl_tool_defer / hl_tool_complete in
 * tool.h): a tool function takes a completion handle, returns HL_PENDING,
 * and some other thread completes the call later.
 *
 * The run's tool step (tool_exec.c) opens a deferral around the tool
 * function on its thread; hl_tool_defer() finds it through a thread-local
 * pointer (so only a call made by the agent can be deferred, and only
 * from inside its function). When the function returns HL_PENDING, the
 * step sleeps on the completion's condition variable (no polling) until
 * hl_tool_complete() or a cancellation of the run wakes it. The handle is
 * shared by the step and the completer and freed by whichever lets go
 * last, so a completion that comes after the run gave up is harmless.
 *
 * While it waits, the step's thread steps aside from the worker pool
 * (taskpool.h): a pending call holds no worker, the pool may start
 * another thread for other runs' work. And the call's record is listed
 * on its run's context (call.h) from hl_tool_defer() to the completion,
 * so that a child run the tool starts on a thread of its own is known to
 * run inside the call (traces, interrupts).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/call.h"
#include "agent/taskpool.h"
#include "agent/tool_async.h"
#include "core/util.h"

struct hl_tool_completion {
  atomic_int refs;           /* the step's and the completer's */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool woken;                /* a cancellation of the run */
  hl_status status;
  cJSON *result;
  char *message;
};

static _Thread_local hl__tool_deferral *current;

static void completion_release(hl_tool_completion *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  cJSON_Delete(c->result);
  free(c->message);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
}

void hl__tool_defer_open(hl__tool_deferral *d, hl_context *ctx, const char *tool) {
  d->ctx = ctx;
  d->tool = tool;
  d->c = NULL;
  d->call = hl__call_current();
  if (d->call && d->call->ctx != ctx) d->call = NULL;
  d->prev = current;
  current = d;
}

void hl__tool_defer_close(hl__tool_deferral *d) { current = d->prev; }

hl_tool_completion *hl_tool_defer(hl_context *ctx) {
  hl__tool_deferral *d = current;
  if (!ctx || !d || d->ctx != ctx) {
    hl_fail(HL_ERR_STATE, "hl_tool_defer: only a tool function called by an agent run (without "
                          "a time limit) can defer its result, from its own thread");
    return NULL;
  }
  if (d->c) {
    hl_fail(HL_ERR_STATE, "hl_tool_defer: this call was already deferred");
    return NULL;
  }
  hl_tool_completion *c = calloc(1, sizeof *c);
  if (!c) {
    hl__oom();
    return NULL;
  }
  atomic_init(&c->refs, 2);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  d->c = c;
  hl__call_defer_begin(d->call);
  return c;
}

void hl_tool_complete(hl_tool_completion *c, hl_status status, cJSON *result,
                      const char *message) {
  if (!c) {
    cJSON_Delete(result);
    return;
  }
  pthread_mutex_lock(&c->mu);
  if (c->done) { /* a second completion: ignored */
    pthread_mutex_unlock(&c->mu);
    cJSON_Delete(result);
    return;
  }
  c->done = true;
  if (status == HL_PENDING || (unsigned)status >= (unsigned)HL_STATUS_COUNT_)
    status = HL_ERR_EXECUTION_FAILED;
  c->status = status;
  if (status == HL_OK) {
    c->result = result;
  } else {
    cJSON_Delete(result);
    c->message = hl__strdup(message && *message ? message : hl_strerror(status));
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  completion_release(c);
}

static void wake_on_cancel(void *user) {
  hl_tool_completion *c = user;
  pthread_mutex_lock(&c->mu);
  c->woken = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

hl_status hl__tool_defer_finish(hl__tool_deferral *d, hl_status st, cJSON **result) {
  hl_tool_completion *c = d->c;
  d->c = NULL;
  if (st != HL_PENDING) {
    hl__call_defer_end(d->call);
    /* Answered at once after all: the completion, when it comes, is
     * ignored. */
    if (c) completion_release(c);
    return st;
  }
  cJSON_Delete(*result);
  *result = NULL;
  if (!c) {
    hl__call_defer_end(d->call);
    return hl_fail(HL_ERR_EXECUTION_FAILED,
                   "tool \"%s\" returned HL_PENDING without calling hl_tool_defer()", d->tool);
  }
  hl_cancel_reg *reg = hl_context_on_cancel(d->ctx, wake_on_cancel, c);
  hl__jobs_block_begin();
  pthread_mutex_lock(&c->mu);
  while (!c->done && !c->woken) pthread_cond_wait(&c->cv, &c->mu);
  bool done = c->done;
  hl_status cst = c->status;
  cJSON *res = c->result;
  c->result = NULL;
  char *msg = c->message;
  c->message = NULL;
  pthread_mutex_unlock(&c->mu);
  hl__jobs_block_end();
  hl_context_cancel_unregister(reg);
  hl__call_defer_end(d->call);
  completion_release(c);
  if (!done)
    return hl_fail(HL_ERR_CANCELLED, "run cancelled while tool \"%s\" was pending", d->tool);
  if (cst != HL_OK) {
    hl_status r = hl_fail(cst, "%s", msg ? msg : hl_strerror(cst));
    free(msg);
    return r;
  }
  free(msg);
  if (!res && !(res = cJSON_CreateNull())) return hl__oom();
  *result = res;
  return HL_OK;
}
