/*
 * agents/workflow_util.c - helpers shared by the workflow agents.
 */
#include "workflow_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *hl__workflow_strdup(const char *s)
{
  char *copy = strdup(s ? s : "");
  if (!copy)
    hl_fail(HL_ERR_NOMEM, "out of memory");
  return copy;
}

hl_status hl__workflow_run_child(hl_context *ctx, const char *kind, hl_agent *child,
                                 const char *input, hl_run_mode mode, char **answer)
{
  *answer = NULL;
  hl_status st = hl_context_run_agent(ctx, child, input ? input : "", mode, answer);
  if (st == HL_OK) {
    if (!*answer)   /* defensive: treat a missing answer as empty */
      *answer = hl__workflow_strdup("");
    return *answer ? HL_OK : HL_ERR_NOMEM;
  }
  hl_free(*answer);
  *answer = NULL;
  /* Stopped for a decision (interrupt.h): not a failure, no message. */
  if (st == HL_INTERRUPTED)
    return st;
  /* Copy first: hl_fail() formats into the same per-thread buffer. */
  char why[768];
  snprintf(why, sizeof why, "%s", hl_last_error());
  return hl_fail(st, "%s agent \"%s\": child \"%s\" failed: %s", kind,
                 hl_context_agent_name(ctx), hl_agent_name(child), why);
}

bool hl__workflow_state_true(hl_context *ctx, const char *key)
{
  cJSON *value = hl_context_state_get(ctx, key);
  bool yes = cJSON_IsTrue(value);
  cJSON_Delete(value);
  return yes;
}

bool hl__workflow_fatal(hl_status st)
{
  return st == HL_ERR_ABORTED || st == HL_ERR_CANCELLED;
}
