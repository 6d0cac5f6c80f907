/*
 * hookline/context.h - the invocation context seen by hooks, tools and
 * providers during an agent run.
 *
 * A context describes one run of one agent (an "invocation"): who runs
 * (agent name, branch in a multi-agent tree), for whom (app, user and
 * session ids), on what (the user's input, the session state), and lets
 * callbacks act on the run: read and write session state, call another
 * tool through the hook chains, run a child agent that inherits hooks and
 * observers, emit events, check for cancellation.
 *
 * Lifetime: a context is lent to the callback that receives it and is valid
 * only during that call. Strings returned by accessors are valid as long as
 * the context. Never store a context pointer.
 *
 * Thread-safety: parallel tool calls receive contexts of the same run on
 * different threads. Every function here is safe to call from them at
 * once (state access is locked; events are delivered to observers from the
 * calling thread).
 */
#ifndef HOOKLINE_CONTEXT_H
#define HOOKLINE_CONTEXT_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_context hl_context;
typedef struct hl_agent hl_agent;
typedef struct hl_session hl_session;
struct hl_event;

/** Unique id of this run ("inv-" followed by 32 hex digits). Never NULL. */
HL_API const char *hl_context_invocation_id(const hl_context *ctx);
/** Name of the agent that runs. */
HL_API const char *hl_context_agent_name(const hl_context *ctx);
/** The running agent (borrowed). */
HL_API hl_agent *hl_context_agent(const hl_context *ctx);
/** Path of the agent in the multi-agent tree: "root", "root/researcher". */
HL_API const char *hl_context_branch(const hl_context *ctx);
/** The ids of the run's session (hl_session_new()); borrowed like every
 *  string here. */
HL_API const char *hl_context_app_name(const hl_context *ctx);
HL_API const char *hl_context_user_id(const hl_context *ctx);
HL_API const char *hl_context_session_id(const hl_context *ctx);
/** The user's input that started this run. Never NULL. */
HL_API const char *hl_context_user_input(const hl_context *ctx);
/** The session the run works on (borrowed). Use the state functions below
 *  rather than touching its messages while the run is in progress. */
HL_API hl_session *hl_context_session(const hl_context *ctx);
/** Current turn number, starting at 1 (0 before the first model call). */
HL_API int hl_context_turn(const hl_context *ctx);
/** True when this run continues an interrupted one (interrupt.h): the run
 *  of hl_agent_resume() or hl_run_resume(), and a child that a resumed
 *  custom agent's body resumes from its recorded state; false for a fresh
 *  run (a child that runs afresh under a resumed body included) and for
 *  NULL. A custom agent's body uses it to tell what it kept in session
 *  state for its own resume (the loop agent: an escalation made before
 *  the interrupt) from what an abandoned interrupted run left behind.
 *  Reads the context only; thread-safe like the other accessors. */
HL_API bool hl_context_resumed(const hl_context *ctx);
/** Inside a tool's function: the id of the tool call it serves (the
 *  model's call id, the same when a stored session's unfinished run is
 *  continued and the call runs again: use it as an idempotency key, see
 *  store.h). NULL outside a tool call or when the call has no id. Borrowed,
 *  valid during the call. Known on the thread the function was called on,
 *  on pool threads running work the call handed over (a time limit,
 *  hl_work_parallel(), the sandbox's callbacks), and, while the call is
 *  deferred (hl_tool_defer) and is its run's only deferred call, on any
 *  thread. */
HL_API const char *hl_context_tool_call_id(const hl_context *ctx);

/** Copy of session state `key`, or NULL if absent. Caller frees. */
HL_API cJSON *hl_context_state_get(const hl_context *ctx, const char *key);
/** Set session state `key` to a copy of `value` (NULL removes the key). */
HL_API hl_status hl_context_state_set(hl_context *ctx, const char *key, const cJSON *value);

/** True once the run was cancelled (hl_agent_cancel(), hl_run_cancel(),
 *  hl_context_cancel() of it or of a run above it). Long-running tools
 *  and providers poll this and return HL_ERR_CANCELLED. */
HL_API bool hl_context_cancelled(const hl_context *ctx);

/**
 * Cancel the run of `ctx` and the runs it started (sub-agents, agents used
 * as tools), not its parent, not its siblings, not other runs of the same
 * agent: what hl_run_cancel() does for a run handle, for code that holds
 * only the context (a hook, or a thread a hook started, such as the
 * parallel guard's). A model call in flight is abandoned at once and the
 * cancel functions (hl_context_on_cancel()) are called. Harmless on a run
 * that is over. `ctx` must still be valid: call it from a hook or tool
 * before that returns, or from a thread it waits for. Thread-safe.
 */
HL_API void hl_context_cancel(hl_context *ctx);

/** Called once when a run is cancelled; see hl_context_on_cancel(). */
typedef void (*hl_cancel_fn)(void *user_data);
/** A registration made by hl_context_on_cancel(). */
typedef struct hl_cancel_reg hl_cancel_reg;

/**
 * Be told when the run is cancelled instead of polling
 * hl_context_cancelled() (for work that cannot poll, such as code running
 * in the sandbox). `fn(user_data)` is called at most once: on the thread
 * that calls hl_agent_cancel() for this run's agent or an ancestor's, or
 * at once on the calling thread if the run is already cancelled or over.
 * It runs with a process-wide lock held: it must be short, must not block
 * and must not call hl_context_on_cancel(), hl_context_cancel_unregister()
 * or hl_agent_cancel(); setting a flag or waking a waiter is the intended
 * use. Returns the registration, which the caller must hand to
 * hl_context_cancel_unregister() before `user_data` goes away and before
 * the tool call that lent `ctx` returns; NULL if ctx or fn is NULL or
 * memory ran out (then poll instead). Thread-safe.
 */
HL_API hl_cancel_reg *hl_context_on_cancel(hl_context *ctx, hl_cancel_fn fn, void *user_data);

/** End a registration (NULL is fine). On return `fn` is not running and
 *  will not run. Thread-safe; not from inside `fn`. */
HL_API void hl_context_cancel_unregister(hl_cancel_reg *reg);

/**
 * Call the running agent's tool `name` with `args` through the full tool
 * path: before_tool chain (which may edit the arguments, override or
 * abort), around_tool wraps, TOOL_START, schema validation, the backend,
 * TOOL_END, after_tool chain. This is how code-mode sandboxes and composite tools reach other
 * tools. `args` is borrowed (copied inside). On HL_OK *result is the
 * caller's. A before/after_tool abort returns HL_ERR_ABORTED and also
 * aborts the enclosing run. HL_INTERRUPTED: the called tool waits for a
 * human decision (approval): it did not run, the enclosing run stops
 * after this tool returns (hand the status on), and on resume this tool
 * runs again from the start while the nested call gets its decision
 * (interrupt.h, "nested call"). Called from a tool call's own thread or
 * a thread working for it (hl_work_parallel(), a deferred call's).
 */
HL_API hl_status hl_context_call_tool(hl_context *ctx, const char *name,
                                      const cJSON *args, cJSON **result);

/** How a child agent's run relates to the parent's session. */
typedef enum hl_run_mode {
  HL_RUN_SHARED = 0,   /**< the child works on the parent's session (history and state) */
  HL_RUN_ISOLATED = 1, /**< a fresh history and a copy of the state; nothing flows back */
  HL_RUN_FORK = 2      /**< a copy of the session (history and state); nothing flows back */
} hl_run_mode;

/**
 * Run `child` as a sub-agent of the current run. The child inherits the
 * global, parent and own hook chains and observers (parent's first); its
 * events reach the parent's observers with branch "<parent branch>/<child
 * name>". Cancelling the parent cancels the child. On HL_OK *answer is a
 * string for hl_free(); on failure the child's status and message.
 * HL_INTERRUPTED when the child stopped for a decision (interrupt.h) and
 * this call is made directly by a tool of the run: return that status
 * from the tool, and the parent's run stops with the child's state nested
 * under the call (on resume the tool runs again and this call resumes the
 * child). Anywhere else (a custom agent's function, a nested call) an
 * interrupted child gives HL_ERR_UNSUPPORTED.
 * Thread-safe: a parallel workflow agent calls it from several threads,
 * which requires HL_RUN_ISOLATED or HL_RUN_FORK.
 */
HL_API hl_status hl_context_run_agent(hl_context *ctx, hl_agent *child,
                                      const char *input, hl_run_mode mode,
                                      char **answer);

/** Emit a CUSTOM event (`name` and `data` borrowed; data may be NULL). */
HL_API void hl_context_emit_custom(hl_context *ctx, const char *name, const cJSON *data);
/** Emit a STDERR_WRITE event (`text` borrowed). */
HL_API void hl_context_emit_stderr(hl_context *ctx, const char *text);
/** For streaming providers: one delta of the answer's text. It goes
 *  through the model_chunk hooks (hooks.h), which may edit or drop it,
 *  then to observers (a RESPONSE delta event) and the agent's token
 *  callback. HL_ERR_ABORTED (message in hl_last_error()) when a hook
 *  aborted the run: the provider stops reading and returns that status.
 *  NULL ctx or text: HL_OK, nothing happens. Call it from the thread
 *  that drives the model call. */
HL_API hl_status hl_context_emit_delta(hl_context *ctx, const char *text);
/** For streaming providers: one delta of the JSON arguments of the tool
 *  call at `index` in the stream (`call_id` and `tool_name` when known,
 *  else NULL; both borrowed). Through the model_chunk hooks only (no
 *  event). Returns as hl_context_emit_delta(). */
HL_API hl_status hl_context_emit_tool_delta(hl_context *ctx, size_t index, const char *call_id,
                                            const char *tool_name, const char *partial_json);
/** Emit any event; the library fills in time, invocation id, agent name,
 *  branch and turn. For providers (API_REQUEST, API_RESPONSE). NULL ctx is
 *  a no-op. */
HL_API void hl_context_emit(hl_context *ctx, struct hl_event *event);

#ifdef __cplusplus
}
#endif
#endif
