/*
 * call_scope.h - which tool call is running on this thread, so that what a
 * tool starts (a child run, a nested hl_context_call_tool()) knows the call
 * it happens inside: tracers nest spans as the run tree is (observer.h,
 * hl_event.parent_call_id and outer_call_id).
 *
 * A tool call pushes a scope for the time of its hooked path
 * (tool_exec.c); code that runs a tool's work on another thread (the
 * sandbox's parallel callbacks) takes a copy of the call id with
 * hl__call_scope_id() on the tool's thread and enters it on its own with
 * hl__call_scope_enter()/leave(). Thread-local: no lock, no allocation on
 * the hot path. Internal to the library.
 */
#ifndef HL_AGENT_CALL_SCOPE_H
#define HL_AGENT_CALL_SCOPE_H

#include "hookline/context.h"

typedef struct hl__call_scope {
  const hl_context *ctx;     /* the run the call belongs to */
  const char *call_id;       /* borrowed for the scope's life */
  const char *outer_call_id; /* the call of the same run this one is inside, or NULL */
  struct hl__call_scope *up; /* the scope this one was pushed over */
} hl__call_scope;

/* The innermost tool call running on this thread, or NULL. */
extern _Thread_local hl__call_scope *hl__current_call;

/* The id of the call of `ctx` running on this thread, copied (for free()),
 * or NULL when none (or out of memory: the trace is then flatter). */
char *hl__call_scope_id(const hl_context *ctx);

/* Enter `scope` (filled by the caller; it must outlive the leave) on this
 * thread, as the call `call_id` of ctx; leave restores what was there. */
void hl__call_scope_enter(hl__call_scope *scope, const hl_context *ctx, const char *call_id);
void hl__call_scope_leave(hl__call_scope *scope);

#endif
