/*
 * agents/workflow_util.h - helpers shared by the workflow agents. Not
 * public: the agents use only include/, and so does this file.
 */
#ifndef HL_WORKFLOW_UTIL_H
#define HL_WORKFLOW_UTIL_H

#include <stdbool.h>

#include "hookline/agent.h"
#include "hookline/context.h"
#include "hookline/status.h"

/* Run `child` under `ctx` and report a failure with a message that names
 * the workflow (`kind` "sequential", `self` its name) and the child,
 * keeping the child's status. On HL_OK *answer is the caller's. */
hl_status hl__workflow_run_child(hl_context *ctx, const char *kind, hl_agent *child,
                                 const char *input, hl_run_mode mode, char **answer);

/* A NULL-free copy of `s` for hl_free(); NULL (with HL_ERR_NOMEM set) on
 * out of memory. */
char *hl__workflow_strdup(const char *s);

/* True if state `key` of the run's session is JSON true. */
bool hl__workflow_state_true(hl_context *ctx, const char *key);

/* A status that must stop the whole run rather than one branch of it: a
 * hook's abort (H10) or a cancellation. */
bool hl__workflow_fatal(hl_status st);

#endif
