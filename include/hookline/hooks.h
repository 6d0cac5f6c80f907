/*
 * hookline/hooks.h - hook chains: before/after agent, model and tool.
 *
 * Hooks decide; observers (observer.h) watch. There are six hook points
 * (H1). Each hook returns an hl_hook_action (H2):
 *
 *   HL_HOOK_CONTINUE  go on with the next hook, then the normal work
 *   HL_HOOK_OVERRIDE  the hook put a value in its out-parameter; that value
 *                     is used and the rest of this chain does not run (H3)
 *   HL_HOOK_ABORT     stop the run; return hl_hook_abort("why") so the
 *                     caller of hl_agent_run() gets HL_ERR_ABORTED and
 *                     that message (H10)
 *
 * What an override means at each point:
 *   before_agent  *answer is the run's answer; no model or tool call runs,
 *                 after_agent does not run, AGENT_END still fires (H4)
 *   after_agent   *replacement replaces the final answer
 *   before_model  the hook may edit `req` in place and continue; on
 *                 override *response is used and the model is not called (H5)
 *   after_model   sees the request, the response (NULL if the call failed)
 *                 and the call's error; *replacement replaces the response,
 *                 which also turns a failed call into a success (H6)
 *   before_tool   `*args` may be replaced (free the old tree, put a new
 *                 one); the new arguments are what the tool runs with and
 *                 what TOOL_START/TOOL_END and after_tool see (H7); on
 *                 override *result is the tool's result and the tool does
 *                 not run (H8)
 *   after_tool    sees the call, the (mutated) arguments, the result (NULL
 *                 on error) and the error; *replacement replaces the
 *                 result, also turning an error into a success (H9)
 *
 * Which after-hooks run after a before-override (as in ADK):
 *   before_agent override  after_agent does not run (H4)
 *   before_model override  after_model does not run (the response did not
 *                          come from the model)
 *   before_tool override   after_tool does run and sees the override value
 *                          as the result; TOOL_START/TOOL_END are not
 *                          emitted, since no tool ran
 * after_agent runs only when the run produced an answer (not after a
 * failure). A before_tool override with no value gives a JSON null
 * result; a before/after_agent override with none gives ""; a model
 * override with no response aborts the run (a hook bug, reported).
 *
 * Trace: every hook that returns OVERRIDE or ABORT, every before_tool
 * hook that changes the arguments (replaced or edited in place) and every
 * before_model hook that edits the request and continues is reported to
 * observers as an HL_EVENT_HOOK event (hook name, point, action, and for
 * tool hooks the call id and the arguments after the hook). Changes are
 * found by hashing the arguments or the request around the hook, which is
 * done only when some observer watches the run. Hooks that continue
 * without a change are not reported, so that the common path stays a
 * plain function call.
 *
 * Abort: hl_hook_abort("...") sets the message; a hook that returns
 * HL_HOOK_ABORT without it (or returns a value that is not an action)
 * aborts with a message naming the hook. An abort anywhere in a tree of
 * agents (a child run, a tool's nested hl_context_call_tool, a parallel
 * tool call) stops the whole tree: the top-level caller gets
 * HL_ERR_ABORTED with the hook's message.
 *
 * Out-values (answers, responses, JSON results) must be heap objects: the
 * library takes ownership whether the hook returns OVERRIDE or not. Inputs
 * are borrowed for the call.
 *
 * Order (H11): for each point the global chain (hl_hooks_global()) runs
 * first, then the chains of the agent's ancestors from the root down (a
 * child inherits its parent's hooks, H14), then the agent's own chain.
 * Within a chain, hooks run in registration order. The first override
 * anywhere ends the point.
 *
 * Every hook receives the run's context (H12, context.h) and the user_data
 * given at registration.
 *
 * Thread-safety: register hooks before runs start. Adding to or removing
 * from a chain while an agent that uses it is running is not allowed
 * (dispatch takes no lock, to stay in the nanoseconds). Tool hooks are
 * called on worker threads when tools run in parallel, so they must be
 * thread-safe for their user_data.
 */
#ifndef HOOKLINE_HOOKS_H
#define HOOKLINE_HOOKS_H

#include <cjson/cJSON.h>
#include "status.h"
#include "model.h"
#include "tool.h"
#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hl_hook_action {
  HL_HOOK_CONTINUE = 0,
  HL_HOOK_OVERRIDE = 1,
  HL_HOOK_ABORT = 2
} hl_hook_action;

typedef enum hl_hook_point {
  HL_HOOK_BEFORE_AGENT = 0,
  HL_HOOK_AFTER_AGENT = 1,
  HL_HOOK_BEFORE_MODEL = 2,
  HL_HOOK_AFTER_MODEL = 3,
  HL_HOOK_BEFORE_TOOL = 4,
  HL_HOOK_AFTER_TOOL = 5,
  HL_HOOK_POINT_COUNT = 6
} hl_hook_point;

/** "before_agent", ..., "after_tool" ("unknown" out of range). Static
 *  string; thread-safe. */
HL_API const char *hl_hook_point_name(hl_hook_point point);
/** "continue", "override", "abort" ("unknown"). Static; thread-safe. */
HL_API const char *hl_hook_action_name(hl_hook_action action);

/** The tool call a tool hook is about. Borrowed for the call. */
typedef struct hl_tool_call {
  const char *id;        /**< the model's call id */
  const char *name;      /**< the tool name the model asked for */
  const hl_tool *tool;   /**< the declaration, or NULL for an unknown tool */
} hl_tool_call;

typedef hl_hook_action (*hl_before_agent_fn)(hl_context *ctx, char **answer,
                                             void *user_data);
typedef hl_hook_action (*hl_after_agent_fn)(hl_context *ctx, const char *answer,
                                            char **replacement, void *user_data);
typedef hl_hook_action (*hl_before_model_fn)(hl_context *ctx, hl_request *req,
                                             hl_response **response, void *user_data);
typedef hl_hook_action (*hl_after_model_fn)(hl_context *ctx, const hl_request *req,
                                            const hl_response *response,
                                            const hl_error *error,
                                            hl_response **replacement, void *user_data);
typedef hl_hook_action (*hl_before_tool_fn)(hl_context *ctx, const hl_tool_call *call,
                                            cJSON **args, cJSON **result,
                                            void *user_data);
typedef hl_hook_action (*hl_after_tool_fn)(hl_context *ctx, const hl_tool_call *call,
                                           const cJSON *args, const cJSON *result,
                                           const hl_error *error, cJSON **replacement,
                                           void *user_data);

/** Record why a hook aborts and return HL_HOOK_ABORT:
 *  `return hl_hook_abort("user %s is blocked", id);`. The message (copied,
 *  at most 1023 bytes) is kept per thread, so call it from the hook itself,
 *  on the thread the hook runs on. NULL fmt: "aborted by a hook". */
HL_API hl_hook_action hl_hook_abort(const char *fmt, ...) HL_PRINTF(1, 2);

/** A set of six chains, one per hook point. */
typedef struct hl_hooks hl_hooks;

/** New empty set, owned by the caller: free with hl_hooks_free(). NULL on
 *  out of memory. Thread-safe. */
HL_API hl_hooks *hl_hooks_new(void);
/** Free the set; runs the free functions registered with hl_hooks_on_free().
 *  NULL is fine. Never while a run uses the set. For the global set
 *  (hl_hooks_global()) this empties it instead. */
HL_API void hl_hooks_free(hl_hooks *hooks);
/** The process-wide chains, run before every agent's own. Never NULL.
 *  Configure at start-up, before any agent runs. */
HL_API hl_hooks *hl_hooks_global(void);

/* Append a hook to a chain. `name` (copied) labels the hook in traces and
 * events and is used by hl_hooks_remove(); it may be NULL ("anonymous").
 * `user_data` stays the caller's (see hl_hooks_on_free() to tie its life
 * to the set). HL_ERR_INVALID for NULL hooks or fn. Configure-time only:
 * not while a run uses the set (see Thread-safety above). */
HL_API hl_status hl_hooks_add_before_agent(hl_hooks *hooks, const char *name,
                                           hl_before_agent_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_after_agent(hl_hooks *hooks, const char *name,
                                          hl_after_agent_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_before_model(hl_hooks *hooks, const char *name,
                                           hl_before_model_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_after_model(hl_hooks *hooks, const char *name,
                                          hl_after_model_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_before_tool(hl_hooks *hooks, const char *name,
                                          hl_before_tool_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_after_tool(hl_hooks *hooks, const char *name,
                                         hl_after_tool_fn fn, void *user_data);

/** Call free_fn(user_data) when the set is freed (plugin state), in the
 *  order registered. Configure-time only. */
HL_API hl_status hl_hooks_on_free(hl_hooks *hooks, hl_free_fn free_fn, void *user_data);
/** Remove every hook called `name` from every chain; HL_ERR_NOT_FOUND if
 *  none. Their user_data is not freed (that is hl_hooks_on_free()'s job).
 *  Configure-time only. */
HL_API hl_status hl_hooks_remove(hl_hooks *hooks, const char *name);
/** Number of hooks at `point` (0 for NULL or a bad point). Reads only:
 *  safe while runs use the set, not while it is being changed. */
HL_API size_t hl_hooks_count(const hl_hooks *hooks, hl_hook_point point);
/** Name of the i-th hook at `point`, NULL past the end. Borrowed: valid
 *  until the hook is removed or the set freed. Reads only, as above. */
HL_API const char *hl_hooks_name_at(const hl_hooks *hooks, hl_hook_point point, size_t i);
/** Remove every hook (free functions are kept until hl_hooks_free()).
 *  Configure-time only. */
HL_API void hl_hooks_clear(hl_hooks *hooks);

#ifdef __cplusplus
}
#endif
#endif
