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
 * A call of an asynchronous run's turn (run.h, hl_run_start) waits on no
 * thread at all: the step suspends the call (hl__tool_defer_suspend), the
 * run's step returns, and the completion (or the run's cancellation)
 * queues the call's resume job on the worker pool, which finishes the
 * call (hl__tool_defer_resumed: TOOL_END, after_tool) and the turn.
 * Elsewhere (a blocking run, a nested call, a sub-agent's run, around_tool
 * wraps) the step's thread sleeps, stepped aside from the worker pool
 * (core/taskpool.h): it holds no worker, the pool may start another thread
 * for other runs' work. And the call's record is listed
 * on its run's context (call.h) from hl_tool_defer() to the completion,
 * so that a child run the tool starts on a thread of its own is known to
 * run inside the call (traces, interrupts).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/call.h"
#include "core/taskpool.h"
#include "agent/tool_async.h"
#include "core/util.h"

/* Under c->mu: the suspended call's resume job, if it is to be queued now. */
static hl__job *fire(hl_tool_completion *c);

struct hl_tool_completion {
  atomic_int refs;           /* the step's and the completer's */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool woken;                /* a cancellation of the run */
  /* A suspended call (hl__tool_defer_suspend): its resume job, queued
   * once by whichever comes first, the completion or the cancellation. */
  hl__job *job;
  bool fired;
  hl_cancel_reg *reg;
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
  hl__job *job = fire(c);
  pthread_mutex_unlock(&c->mu);
  /* The resume job holds the step's reference: c outlives this release. */
  if (job) hl__jobs_submit(job);
  completion_release(c);
}

static hl__job *fire(hl_tool_completion *c) {
  if (!c->job || c->fired || (!c->done && !c->woken)) return NULL;
  c->fired = true;
  return c->job;
}

/* Under the cancellation lock (context.h): wake a waiting step, or queue
 * a suspended call's resume job (which then ends the call cancelled). */
static void wake_on_cancel(void *user) {
  hl_tool_completion *c = user;
  pthread_mutex_lock(&c->mu);
  c->woken = true;
  pthread_cond_broadcast(&c->cv);
  hl__job *job = fire(c);
  pthread_mutex_unlock(&c->mu);
  if (job) hl__jobs_submit(job);
}

bool hl__tool_defer_suspend(hl__tool_deferral *d, hl__job *job) {
  hl_tool_completion *c = d->c;
  if (!c) return false;
  /* Registered first: it may fire at once (a run already cancelled),
   * which takes c->mu. Without it (no memory), the caller waits. */
  hl_cancel_reg *reg = hl_context_on_cancel(d->ctx, wake_on_cancel, c);
  if (!reg) return false;
  pthread_mutex_lock(&c->mu);
  bool settled = c->done || c->woken;
  if (!settled) {
    c->job = job;
    c->reg = reg;
  }
  pthread_mutex_unlock(&c->mu);
  if (settled) {
    /* Completed (or cancelled) already: hl__tool_defer_finish() takes the
     * outcome without waiting. */
    hl_context_cancel_unregister(reg);
    return false;
  }
  /* From here the job may run on another thread at any moment: the
   * caller touches the call no more. */
  return true;
}

/* The outcome of a completion that came (or of a run cancelled first),
 * taken; releases the step's reference. */
static hl_status take_outcome(hl__tool_deferral *d, hl_tool_completion *c, cJSON **result) {
  pthread_mutex_lock(&c->mu);
  bool done = c->done;
  hl_status cst = c->status;
  cJSON *res = c->result;
  c->result = NULL;
  char *msg = c->message;
  c->message = NULL;
  pthread_mutex_unlock(&c->mu);
  hl__call_defer_end(d->call);
  completion_release(c);
  if (!done) {
    cJSON_Delete(res);
    free(msg);
    return hl_fail(HL_ERR_CANCELLED, "run cancelled while tool \"%s\" was pending", d->tool);
  }
  if (cst != HL_OK) {
    hl_status r = hl_fail(cst, "%s", msg ? msg : hl_strerror(cst));
    free(msg);
    cJSON_Delete(res);
    return r;
  }
  free(msg);
  if (!res && !(res = cJSON_CreateNull())) return hl__oom();
  *result = res;
  return HL_OK;
}

hl_status hl__tool_defer_resumed(hl__tool_deferral *d, cJSON **result) {
  *result = NULL;
  hl_tool_completion *c = d->c;
  d->c = NULL;
  /* Not from inside wake_on_cancel (this is the job it queued): waits for
   * it to return, so c->reg is ours to end. */
  hl_context_cancel_unregister(c->reg);
  c->reg = NULL;
  return take_outcome(d, c, result);
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
  pthread_mutex_unlock(&c->mu);
  hl__jobs_block_end();
  hl_context_cancel_unregister(reg);
  return take_outcome(d, c, result);
}
