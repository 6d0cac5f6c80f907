/*
 * tool_async.h - the agent side of asynchronous tools (tool_async.c):
 * the tool step opens a deferral around the tool function, and finishes
 * it with the function's status (waiting for the completion on
 * HL_PENDING). Internal to lib/agent.
 */
#ifndef HL_AGENT_TOOL_ASYNC_H
#define HL_AGENT_TOOL_ASYNC_H

#include <stdbool.h>

#include "core/taskpool.h"
#include "hookline/tool.h"

typedef struct hl__tool_deferral {
  hl_context *ctx;
  const char *tool;
  hl_tool_completion *c;      /* set by hl_tool_defer() */
  struct hl__call *call;      /* the call's record (call.h), borrowed */
  struct hl__tool_deferral *prev;
} hl__tool_deferral;

/* Around the tool function, on the thread that calls it. */
void hl__tool_defer_open(hl__tool_deferral *d, hl_context *ctx, const char *tool);
void hl__tool_defer_close(hl__tool_deferral *d);
/* The function returned `st` (and maybe *result): HL_PENDING waits for
 * the completion (or the run's cancellation) and returns its outcome;
 * anything else is returned as is. */
hl_status hl__tool_defer_finish(hl__tool_deferral *d, hl_status st, cJSON **result);

/* The function returned HL_PENDING after hl_tool_defer(), and the caller
 * can let go of the call instead of waiting (an asynchronous run's turn):
 * true when the call is suspended, `job` then runs once on the worker
 * pool when the completion (or the run's cancellation) comes, and must
 * call hl__tool_defer_resumed(); meanwhile no thread waits, and the
 * caller must not touch `d` again. False: finish with
 * hl__tool_defer_finish() (completed already, cancelled, or no memory). */
bool hl__tool_defer_suspend(hl__tool_deferral *d, hl__job *job);
/* In the resume job: the call's outcome (as hl__tool_defer_finish()). */
hl_status hl__tool_defer_resumed(hl__tool_deferral *d, cJSON **result);

#endif
