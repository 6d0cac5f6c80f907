/*
 * call.h - the one record of a running tool call: which call of which run
 * this thread works for. It replaces three thread-locals that each knew a
 * part of it (the tracers' call scope, the store's tool call id, the
 * interrupt call frame).
 *
 * What reads it:
 *  - hl_context_tool_call_id() (the tool's idempotency key, store.h);
 *  - a child run started inside the call (hl_context_run_agent): its
 *    events name the call as parent_call_id, so tracers nest its span
 *    under the tool's (observer.h);
 *  - the call's own events (TOOL_START/END, hooks) name the call of the
 *    same run it is nested in (outer_call_id: hl_context_call_tool);
 *  - interrupts: a child run inside the call resumes from the state the
 *    call kept (child_resume) and hands back the state it stopped with
 *    (child_state), from whatever thread it runs on.
 *
 * How it travels: tool_exec.c makes one per call and makes it current on
 * the thread for the call's hooked path. A record is the context a thread
 * works in that core carries (core/carry.h): the worker pool carries the
 * current record with a job to the thread that runs it (core/taskpool.h: a
 * call with a time limit, the sandbox's callbacks, hl_work_parallel),
 * and a deferred call (hl_tool_defer) lists its record on its run's
 * context, so that a child run started on any thread while only that
 * call of the run is pending finds it (hl__call_find). Records are
 * reference counted: a thread that outlives the call (a timed-out tool)
 * keeps its record, and the record keeps its context, valid.
 *
 * Internal to the library.
 */
#ifndef HL_AGENT_CALL_H
#define HL_AGENT_CALL_H

#include <stdatomic.h>
#include <cjson/cJSON.h>

#include "core/carry.h"
#include "hookline/context.h"

typedef struct hl__call {
  hl__carried carried;        /* first: what the pool carries is the record */
  atomic_int refs;
  bool deferred;              /* beside refs: the record stays 120 bytes (one malloc size class) */
  hl_context *ctx;            /* the run the call belongs to (a reference) */
  char *id;                   /* the call's id ("" when it has none) */
  char *outer_id;             /* the call of the same run this one is inside, or NULL */
  struct hl__call *deferred_next; /* on ctx's list while deferred (under ctx->lock) */
  /* Interrupts: the saved state a child run inside this call resumes
   * from (taken once), and the state an interrupted child hands back. */
  _Atomic(const cJSON *) child_resume_state;
  const cJSON *child_resume_decisions;
  const char *child_resume_prefix;
  _Atomic(cJSON *) child_state;
  /* Interrupts of the nested calls this call makes (hl_context_call_tool,
   * interrupt.h): numbered from 1 in the order they are made; those that
   * wait for a decision are listed (under ctx->lock) and make this call
   * wait. When the call is run again on resume: the state's list of them
   * and the decisions, by path nested_prefix + "nested-K". */
  atomic_uint nested_seq;
  cJSON *nested_pending;
  const cJSON *nested_resume;
  const cJSON *nested_decisions;
  const char *nested_prefix;
} hl__call;

/* A new record for call `id` of `ctx` (NULL on no memory). Its outer call
 * is the record current on this thread when that is of the same run. */
hl__call *hl__call_new(hl_context *ctx, const char *id);
hl__call *hl__call_ref(hl__call *c);
void hl__call_unref(hl__call *c);

/* The record current on this thread (NULL: none, or a carried context
 * that is no call record). enter makes `c` current (borrowed: the caller
 * keeps it alive until the matching leave) and returns what was current,
 * record or not, which leave restores. */
hl__call *hl__call_current(void);
hl__carried *hl__call_enter(hl__call *c);
void hl__call_leave(hl__carried *prev);

/* The record of a call of `ctx` this thread works for: the current one
 * if it is of ctx, else the one deferred call of ctx pending (a child run
 * started by a deferred tool on a thread of its own); NULL if none or
 * several. A reference: unref it. */
hl__call *hl__call_find(const hl_context *ctx);

/* A deferred call lists / unlists its record on its run's context. */
void hl__call_defer_begin(hl__call *c);
void hl__call_defer_end(hl__call *c);

/* An interrupted child's state into the call (taken); false when the
 * call already has one (the caller keeps `state`). */
bool hl__call_put_child_state(hl__call *c, cJSON *state);
/* The call's child state, taken (NULL: none). */
cJSON *hl__call_take_child_state(hl__call *c);

/* A nested call that waits for a decision: its entry (taken) joins the
 * call's list; false on no memory (entry freed). Any thread. */
bool hl__call_add_nested(hl__call *c, cJSON *entry);
/* The call's list of waiting nested calls, taken (NULL: none). */
cJSON *hl__call_take_nested(hl__call *c);

#endif
