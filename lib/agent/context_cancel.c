/*
 * context_cancel.c - the one way a cancellation is announced: work that
 * cannot poll hl_context_cancelled() (a sandbox running JavaScript, a
 * pending asynchronous tool, an MCP request) registers a function that
 * hl_agent_cancel() / hl_run_cancel() call, and the HTTP event loop,
 * which serves every run and cannot register per run, listens to every
 * announcement (core/cancel_notify.h).
 *
 * One process-wide list under one lock, not a list per agent: a run is
 * cancelled by cancelling its agent or any ancestor's, which
 * hl_context_cancelled() already decides by walking up; only runs with
 * something to stop register, so the list is short and hl_agent_cancel()
 * checks each entry with that walk. Calling the functions under the lock
 * is what lets hl_context_cancel_unregister() promise that the function
 * is neither running nor going to run once it returns.
 */
#include <stdlib.h>

#include "agent/agent_internal.h"
#include "core/cancel_notify.h"

struct hl_cancel_reg {
  hl_context *ctx; /* a reference is held while registered */
  hl_cancel_fn fn;
  void *user_data;
  bool fired;
  hl_cancel_reg *prev, *next;
};

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static hl_cancel_reg *cancel_regs;
/* Locked. */
static void fire_if_cancelled(hl_cancel_reg *r) {
  if (!r->fired && hl_context_cancelled(r->ctx)) {
    r->fired = true;
    r->fn(r->user_data);
  }
}

hl_cancel_reg *hl_context_on_cancel(hl_context *ctx, hl_cancel_fn fn, void *user_data) {
  if (!ctx || !fn) return NULL;
  hl_cancel_reg *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  hl__ctx_retain(ctx);
  r->ctx = ctx;
  r->fn = fn;
  r->user_data = user_data;
  pthread_mutex_lock(&cancel_lock);
  r->next = cancel_regs;
  if (cancel_regs) cancel_regs->prev = r;
  cancel_regs = r;
  /* A cancel that came before the insertion found nothing to call. */
  fire_if_cancelled(r);
  pthread_mutex_unlock(&cancel_lock);
  return r;
}

void hl_context_cancel_unregister(hl_cancel_reg *r) {
  if (!r) return;
  pthread_mutex_lock(&cancel_lock);
  if (r->prev) r->prev->next = r->next;
  else cancel_regs = r->next;
  if (r->next) r->next->prev = r->prev;
  pthread_mutex_unlock(&cancel_lock);
  hl__ctx_release(r->ctx);
  free(r);
}

void hl__ctx_notify_cancel(void) {
  pthread_mutex_lock(&cancel_lock);
  for (hl_cancel_reg *r = cancel_regs; r; r = r->next) fire_if_cancelled(r);
  pthread_mutex_unlock(&cancel_lock);
  hl__cancel_announce();
}
