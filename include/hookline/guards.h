/*
 * hookline/guards.h - guard plugins for production agents (hooks/):
 * call limits, PII redaction, rate limiting, budgets, audit log, and a
 * guardrail that runs in parallel with the model.
 *
 * Each guard is configured by a JSON options object, the same one its
 * loadable form takes (hl_plugin_load(hooks, "call_limits", options, ...),
 * or a config file's "plugins" entry), so a guard is set up the same way
 * from C, from a config file and from a .so. hl_X_new(options) returns
 * NULL for bad options, with HL_ERR_INVALID and a message that starts
 * with the JSON path of the bad value ("$.tool_calls.search: expected an
 * integer from 0 to ..."); options NULL means {}.
 *
 * Ownership and thread-safety are those of plugins.h: new returns the
 * caller's reference, install makes the hook set hold its own, unref
 * when done; once installed, the hooks are safe from many threads and
 * many runs at once, and the counters may be read from any thread.
 * Per-run counts are kept per invocation id (hl_context_invocation_id()).
 */
#ifndef HOOKLINE_GUARDS_H
#define HOOKLINE_GUARDS_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Call limits                                                         */
/* ------------------------------------------------------------------ */

typedef struct hl_call_limits hl_call_limits;

/**
 * Options: {"model_calls": N, "tool_calls": {"search": N, "*": N},
 *           "on_limit": "abort" | "refuse"}
 *   model_calls  at most N model calls per run (absent: no limit)
 *   tool_calls   at most N calls of that tool per run; "*" applies to
 *                every tool without its own entry
 *   on_limit     "abort" (default): the run stops with HL_ERR_ABORTED and
 *                a message naming the limit. "refuse": a tool call over
 *                its limit gets the result {"error": "limit", "message":
 *                ...} that the model sees, and the model call over the
 *                limit is answered by the hook with the text "Stopped: ..."
 *                which ends the run (H5).
 */
HL_API hl_call_limits *hl_call_limits_new(const cJSON *options);
HL_API hl_call_limits *hl_call_limits_ref(hl_call_limits *limits);
HL_API void hl_call_limits_unref(hl_call_limits *limits);
/** Installs "call_limits" hooks at before_agent/after_agent (per-run
 *  state), before_model and before_tool. */
HL_API hl_status hl_call_limits_install(hl_call_limits *limits, hl_hooks *hooks);
/** Calls refused or aborted so far. */
HL_API uint64_t hl_call_limits_tripped(const hl_call_limits *limits);

#ifdef __cplusplus
}
#endif
#endif
