/*
 * unfinished_run.c - continuing a session's unfinished run, one whose
 * process died mid-turn (hl_session_unfinished_input(), store.h): the tool
 * calls of the last assistant message that have no recorded results run
 * again, since nothing can tell whether they ran; tools see the same call
 * ids (hl_context_tool_call_id) and can use them to run once. Part of the
 * run (run.c calls it instead of appending the input again), whatever the
 * session's log is kept in.
 */
#include "agent/agent_internal.h"
#include "agent/session_internal.h"

hl_status hl__continue_unfinished_run(hl_context *ctx) {
  const hl_messages *h = hl_session_messages(ctx->session);
  if (!h || h->count == 0) return HL_OK;
  const hl_message *last = h->items[h->count - 1];
  if (last->role != HL_ROLE_ASSISTANT || hl_message_tool_call_count(last) == 0) return HL_OK;
  /* A copy: tools may append to (and a failed child truncate) the history. */
  hl_message *calls = hl_message_clone(last);
  if (!calls) return hl_fail(HL_ERR_NOMEM, "resume: out of memory");
  hl_message *results = NULL;
  cJSON *summary = NULL;
  hl_status st = hl__run_tool_calls(ctx, calls, &results, &summary);
  hl_message_free(calls);
  cJSON_Delete(summary);
  if (!results) return st;
  /* Appended even when a hook aborted: no tool call without its result. */
  hl_status app = hl__session_append(ctx->session, results);
  return st != HL_OK ? st : app;
}
