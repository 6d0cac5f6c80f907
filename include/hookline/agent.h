/*
 * hookline/agent.h - the agent: a model, tools, hooks and observers driven
 * in a loop until the model gives a final answer.
 *
 * One run (hl_agent_run):
 *   AGENT_START; before_agent chain (override ends the run, H4)
 *   per turn, up to max_turns:
 *     TURN_START; build the request (instruction, history, tools)
 *     before_model chain; LM_START; provider; LM_END; after_model chain
 *     RESPONSE
 *     the response's tool calls, in parallel on worker threads when there
 *     are several, unless their tools' calls have been quick (run.h: which
 *     thread runs what), each: before_tool, TOOL_START, validate, backend,
 *     TOOL_END, after_tool; results appended in the model's order
 *     TURN_END; no tool calls means this is the final answer
 *   after_agent chain (may replace the answer); AGENT_END; TRACE_COMPLETE
 *
 * History: a run appends the user's input, each assistant message and one
 * tool message per turn (a TOOL_RESULT part per call, in the model's
 * order) to the session. A run that fails (any status) takes its messages
 * back out, so the session is exactly as before it (state writes stay);
 * the events tell what happened. A before_agent override adds nothing.
 * Tool failures are not run failures: unknown tool (NotFound), arguments
 * against the schema (InvalidArguments), the tool's own error
 * (ExecutionFailed ...) and Timeout become results with is_error set and
 * text "<StatusName>: <message>", which the model sees.
 *
 * Usage of a run (hl_agent_last_usage, AGENT_END, TRACE_COMPLETE) is the
 * sum of its model calls and those of its sub-agent runs.
 *
 * Lifetime: reference counted (an agent used as a tool of another agent is
 * shared). hl_agent_new() returns one reference, the caller's.
 *
 * Thread-safety: configure an agent before running it. Separate agents may
 * run on separate threads at once. One agent may run several sessions at
 * once from several threads (its configuration is read-only during runs).
 * hl_agent_cancel() may be called from any thread at any time.
 */
#ifndef HOOKLINE_AGENT_H
#define HOOKLINE_AGENT_H

#include <stdbool.h>
#include "status.h"
#include "model.h"
#include "tool.h"
#include "context.h"
#include "hooks.h"
#include "observer.h"
#include "session.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/** New LLM agent named `name` ([A-Za-z0-9_-]{1,64}; it is also its tool
 *  name and its branch segment). Defaults: max_turns 10, parallel tools 8,
 *  no provider (a run then fails with HL_ERR_STATE). */
HL_API hl_agent *hl_agent_new(const char *name);
/** Take one more reference (returns `agent`; NULL is fine). Thread-safe. */
HL_API hl_agent *hl_agent_ref(hl_agent *agent);
/** Drop a reference; the last one frees the agent with its tools, hooks
 *  (running their free_user_data functions), observers, sub-agents,
 *  provider references and its own session. NULL is fine. Thread-safe,
 *  but the last reference must not go while the agent runs. */
HL_API void hl_agent_unref(hl_agent *agent);

/* The setters below are configure-time: not while the agent runs. The
 * getters return borrowed values, valid until the matching setter or the
 * last unref, and may be called while the agent runs. */

/** The agent's name ("" for NULL). */
HL_API const char *hl_agent_name(const hl_agent *agent);
/** The instruction (system prompt). Copied; NULL clears. */
HL_API hl_status hl_agent_set_instruction(hl_agent *agent, const char *instruction);
HL_API const char *hl_agent_instruction(const hl_agent *agent);
/** What the agent does, for routers and agent-as-tool. Copied. */
HL_API hl_status hl_agent_set_description(hl_agent *agent, const char *description);
HL_API const char *hl_agent_description(const hl_agent *agent);
/** The model provider (the agent takes a reference; replaces any previous). */
HL_API hl_status hl_agent_set_provider(hl_agent *agent, hl_provider *provider);
HL_API hl_provider *hl_agent_provider(const hl_agent *agent);
/** Model name sent in requests (copied). */
HL_API hl_status hl_agent_set_model(hl_agent *agent, const char *model);
/** Add a tool (the agent takes a reference). HL_ERR_EXISTS on a duplicate
 *  name. HL_ERR_INVALID for a tool made by hl_agent_as_tool() whose agent
 *  is this agent or holds it (through its tools, sub-agents or, for a
 *  fork, its original): the references would form a cycle and never be
 *  freed. Adding through hl_tools_add(hl_agent_tools()) skips this check. */
HL_API hl_status hl_agent_add_tool(hl_agent *agent, hl_tool *tool);
/** The agent's tool registry (borrowed). */
HL_API hl_tools *hl_agent_tools(hl_agent *agent);
/** The agent's own hook chains (borrowed). */
HL_API hl_hooks *hl_agent_hooks(hl_agent *agent);
/** Add an observer (the agent takes a reference). */
HL_API hl_status hl_agent_add_observer(hl_agent *agent, hl_observer *obs);

/* Setters: configure-time, like every agent setter. Each returns HL_OK,
 * or HL_ERR_INVALID (with a message, the agent unchanged) for a NULL
 * agent or a value it refuses: nothing is silently clamped. */

/** Turn limit (>= 1). A run that needs more fails with HL_ERR_MAX_TURNS. */
HL_API hl_status hl_agent_set_max_turns(hl_agent *agent, int max_turns);
/** How many tool calls of one response run at once (>= 1; 1 = one after
 *  another; default 8), on the library's worker pool (run.h: its size
 *  bounds them too) with the run's own thread taking a share. An upper
 *  bound: calls to tools whose calls have been taking microseconds run on
 *  the run's thread, one after another, since waking a worker would cost
 *  more than they take (run.h). */
HL_API hl_status hl_agent_set_parallel_tools(hl_agent *agent, int max_threads);
/** Generation parameters copied into every request: temperature -1 and
 *  max_tokens 0 mean unset; other negative values (or NaN) are refused. */
HL_API hl_status hl_agent_set_temperature(hl_agent *agent, double temperature);
HL_API hl_status hl_agent_set_max_tokens(hl_agent *agent, int max_tokens);
HL_API hl_status hl_agent_add_stop(hl_agent *agent, const char *stop);
/** HL_TOOL_CHOICE_NAMED needs `name` (copied); other choices ignore it. */
HL_API hl_status hl_agent_set_tool_choice(hl_agent *agent, hl_tool_choice choice,
                                          const char *name);
/** Ask for a JSON answer following `schema` (copied; NULL clears), named
 *  `name` (NULL: "response") where the wire format names it. Each
 *  provider asks in its own way (openai.h, responses.h, anthropic.h,
 *  gemini.h); the run then checks the final answer against the schema and,
 *  when it is not JSON or violates it, emits CUSTOM
 *  "structured_output_invalid" ({"error","attempt","retry"}), tells the
 *  model what was wrong in a user message and asks again (each retry is a
 *  turn), up to hl_agent_set_response_retries() times; after that the run
 *  fails with HL_ERR_PROVIDER naming the violation. */
HL_API hl_status hl_agent_set_response_schema(hl_agent *agent, const char *name,
                                              const cJSON *schema);
/** How many times a run asks again after an answer that violates the
 *  response schema (0 to 100; default 1). */
HL_API hl_status hl_agent_set_response_retries(hl_agent *agent, int retries);
/** Stream responses: RESPONSE delta events and the token callback. */
HL_API hl_status hl_agent_set_stream(hl_agent *agent, bool stream);
/** Called with each streamed text fragment (from the run's thread). */
typedef void (*hl_token_fn)(const char *delta, void *user_data);
HL_API hl_status hl_agent_set_token_callback(hl_agent *agent, hl_token_fn fn, void *user_data);
/** Store each run's final answer in session state under `key` (copied;
 *  NULL: don't), like ADK's output_key. */
HL_API hl_status hl_agent_set_output_key(hl_agent *agent, const char *key);
HL_API const char *hl_agent_output_key(const hl_agent *agent);

/**
 * Run the agent on `input`. `session` holds the history the run continues
 * and is extended by it; NULL uses a session owned by the agent
 * (hl_agent_session()). On HL_OK *answer is the final answer for hl_free().
 * On failure *answer is NULL and the status says why: HL_ERR_MAX_TURNS,
 * HL_ERR_ABORTED (a hook), HL_ERR_CANCELLED, HL_ERR_STATE (no provider, or
 * the session is busy), or the provider's error. The message is in
 * hl_last_error() (status.h: the one place every failing call leaves its
 * message, per thread, so concurrent runs each read their own).
 *
 * It is the blocking form of hl_run_start() (run.h): the same run, with
 * the calling thread as its executor. Every hook, tool (the first of
 * parallel calls, the others on the library's worker pool; a tool with a
 * time limit on the pool, its hooks here; run.h), observer event and the
 * token callback run on the calling thread, except that for a
 * non-streaming agent with an HTTP provider the model call travels on the
 * process's event loop and API_RESPONSE is emitted there (the caller
 * sleeps meanwhile). A streaming agent's deltas, model_chunk hooks and
 * token callback run on the calling thread. To hold thousands of runs
 * without a thread each, use hl_run_start().
 *
 * HL_INTERRUPTED (not a failure, no message) when a tool call waits for a
 * human's decision: take the state with hl_run_state_json() and continue
 * with hl_agent_resume() (interrupt.h).
 */
HL_API hl_status hl_agent_run(hl_agent *agent, hl_session *session,
                              const char *input, char **answer);
/** Cancel every run of this agent in progress and their whole trees:
 *  sub-agents, tools waiting on hl_context_on_cancel() (a running sandbox
 *  among them) and model calls in flight. The runs return
 *  HL_ERR_CANCELLED soon after. Thread-safe, async-signal-unsafe.
 *  A run started after this call is not affected. */
HL_API void hl_agent_cancel(hl_agent *agent);
/** The session used when hl_agent_run() gets NULL (borrowed). */
HL_API hl_session *hl_agent_session(hl_agent *agent);
/** Usage summed over the model calls of the agent's run that finished
 *  last, on any thread (a sub-agent run of it counts too). Returned by
 *  value, read under the agent's lock: thread-safe, but with concurrent
 *  runs use the AGENT_END / TRACE_COMPLETE events to get one run's usage. */
HL_API hl_usage hl_agent_last_usage(const hl_agent *agent);

/* ------------------------------------------------------------------ */
/* Sub-agents                                                          */
/* ------------------------------------------------------------------ */

/** A copy of `agent` named `name` (NULL: same name): same provider, tools,
 *  observers (shared references) and copies of its hook chains. Pair it
 *  with hl_session_clone() to fork a conversation. Returns one reference
 *  (the caller's); the fork keeps `agent` alive, since the copied hooks'
 *  user_data belong to it. NULL with the error set on failure. Safe while
 *  `agent` runs (reads its configuration only). */
HL_API hl_agent *hl_agent_fork(const hl_agent *agent, const char *name);

/** A tool named after `child` that runs the child as a sub-agent
 *  (HL_RUN_ISOLATED) of the calling run; the child's answer is the tool
 *  result. `description` NULL uses the child's. `schema_json` NULL gives
 *  the tool one argument {"input": string}, which is the child's input;
 *  otherwise it is the JSON Schema of the tool's arguments (an object
 *  schema, as hl_tool_set_schema() takes: HL_ERR_JSON / HL_ERR_SCHEMA /
 *  HL_ERR_INVALID when it is not one), the arguments are validated
 *  against it, and the child's input is their compact JSON text.
 *  The tool holds a reference to the child, so it cannot be added to the
 *  child or to an agent the child holds (see hl_agent_add_tool()). Returns a new reference (the
 *  caller's; hl_tool_unref()), NULL with the error set on failure.
 *  Thread-safe for distinct children; configure-time for one child. */
HL_API hl_tool *hl_agent_as_tool(hl_agent *child, const char *description,
                                 const char *schema_json);

/* ------------------------------------------------------------------ */
/* Custom agents (workflow agents in agents/ are built on this)        */
/* ------------------------------------------------------------------ */

/** The body of a custom agent: compute *answer (for hl_free()) from
 *  `input`, usually by running children with hl_context_run_agent().
 *  A child that returns HL_INTERRUPTED (a call waits for a human's
 *  decision) should be handed on: the agent's run then stops with
 *  HL_INTERRUPTED whatever the body returns, and hl_agent_resume() runs
 *  the body again from the start, where the children that had ended
 *  return their recorded answers without running and the interrupted one
 *  continues (interrupt.h): what the body does besides running children
 *  happens at least once, so keep it idempotent. */
typedef hl_status (*hl_agent_run_fn)(hl_context *ctx, const char *input,
                                     char **answer, void *user_data);

/** An agent whose run is `fn` instead of the model loop. before/after_agent
 *  hooks, AGENT_START/AGENT_END and TRACE_COMPLETE happen around it as for
 *  any agent; it nests, and can be a tool (hl_agent_as_tool). Returns one
 *  reference (the caller's), or NULL with user_data still the caller's.
 *  To hand user_data over, set its free function with
 *  hl_agent_set_free_fn(), as for tools and observers. `fn` runs on the
 *  thread of each run and must be thread-safe for user_data if the agent
 *  runs on several threads. */
HL_API hl_agent *hl_agent_new_custom(const char *name, hl_agent_run_fn fn, void *user_data);

/** Release a custom agent's user_data with `free_fn` when its last
 *  reference goes (the one convention of the API: hl_tool_set_free_fn(),
 *  hl_observer_set_free_fn(); a hook, which is a definition rather than an
 *  object, carries it in hl_hook_def.free_user_data). HL_ERR_INVALID for
 *  NULL or an agent that is not custom (it has no user_data).
 *  Configure-time: not while the agent runs. */
HL_API hl_status hl_agent_set_free_fn(hl_agent *agent, hl_free_fn free_fn);

/** Sub-agents listed on an agent, for composites and routers (the agent
 *  takes a reference). HL_ERR_INVALID for NULL, or a child that is this
 *  agent or holds it (a reference cycle, see hl_agent_add_tool()). Order
 *  is kept. Adding is configure-time; the lookups return borrowed agents
 *  (valid while `agent` holds them) and are safe during runs. */
HL_API hl_status hl_agent_add_sub_agent(hl_agent *agent, hl_agent *child);
HL_API size_t hl_agent_sub_agent_count(const hl_agent *agent);
HL_API hl_agent *hl_agent_sub_agent_at(const hl_agent *agent, size_t i);
HL_API hl_agent *hl_agent_find_sub_agent(const hl_agent *agent, const char *name);

#ifdef __cplusplus
}
#endif
#endif
