/*
 * hookline/interrupt.h - human approval: runs that stop at a tool-call
 * boundary (HL_INTERRUPTED), their state as a JSON document, and resume.
 *
 * A run is interrupted when one of the tool calls of a model response
 * needs a decision: a before_tool hook registered with HL_HOOK_DECIDE
 * returned HL_HOOK_INTERRUPT (hooks.h, rule H20), or the tool was flagged
 * with hl_tool_set_needs_approval() (tool.h). The other calls of the same
 * response still run and their results are kept; the run then returns
 * HL_INTERRUPTED, which is not a failure (hl_last_error() is left clear),
 * after an HL_EVENT_INTERRUPT event and AGENT_END (error.status
 * HL_INTERRUPTED). The session is left as it was before the run, as after
 * a failure: the run's messages travel in the state. The state is also
 * kept on the session (hl_session_run_state(); a stored session writes it
 * to its store, where another worker can resume it: store.h) until the
 * run is resumed or a new run starts on the session.
 *
 * The state (version 1) is a JSON object:
 *
 *   {"version": 1, "kind": "hookline/run_state",
 *    "agent": "assistant", "branch": "assistant", "input": "...",
 *    "turn": 2, "usage": {"input_tokens": .., "output_tokens": ..},
 *    "history": 4,            // messages the session had before the run
 *    "messages": [...],       // what the run added (hl_message_to_json),
 *                             // ending with the model's tool calls
 *    "results": [{"id", "name", "content", "is_error"}],  // calls that ran
 *    "pending": [{"id", "name", "arguments",
 *                 "interrupted_by": "hook" | "approval" | "sub_agent" | "nested_call",
 *                 "hook": "name", "reason": "...",       // when given
 *                 "state": {...},    // sub_agent: the child's own state
 *                 "nested": [...]}]} // nested_call: its waiting nested calls
 *                                    // (each may be a sub_agent with a "state")
 *
 * An interrupt inside a sub-agent (an agent used as a tool, or a tool that
 * runs a child with hl_context_run_agent()) bubbles up: the child's state
 * is nested under the parent's pending call, and the top-level run
 * returns HL_INTERRUPTED. A pending call is named by its path: its call
 * id, prefixed by the ids of the parent calls it is nested in, separated
 * by '/' ("call_7/call_1"). An interrupt in a tool with a time limit
 * fails the run with HL_ERR_UNSUPPORTED.
 *
 * Custom agents (hl_agent_new_custom(), agent.h; the workflow agents
 * sequential, loop and parallel of workflow.h are custom agents). A C
 * function cannot be frozen in the middle, so a custom agent is resumed
 * by running its body again from the start. While the body runs, every
 * child it starts with hl_context_run_agent() (not from inside a tool
 * call) is recorded with its outcome. When a child returns HL_INTERRUPTED
 * (hand it on: sequential and loop stop at once, parallel lets its other
 * branches finish), the custom agent's run stops with HL_INTERRUPTED,
 * whatever the body returned (its answer is dropped), unless the run was
 * aborted or cancelled meanwhile. Its state has no "turn", "results" or
 * "pending"; instead:
 *
 *   {"version": 1, "kind": "hookline/run_state", "agent": "pipeline",
 *    "branch", "input", "usage", "history",
 *    "messages": [...],  // what its children added to its session
 *    "custom": {"version": 1,           // refused when it differs
 *      "children": [{"id": "writer", "agent": "writer", "input": "...",
 *                    "status": "Ok", "answer": "..."},        // ended
 *                   {"id": "publisher", "agent": "publisher", "input": "...",
 *                    "state": {...}}]}}  // interrupted: its own state
 *
 * A child's id is its agent's name, with "#K" for the K-th run of that
 * agent in one body (a loop's second iteration: "checker#2"); its calls'
 * paths start with it ("publisher/call_1", "checker#2/call_1"; under an
 * agent tool "call_3/publisher/call_1"). Several children may wait at
 * once (a parallel agent's branches): one decision per pending call of
 * each. On resume the body runs again (on the thread that runs the
 * resumed run, like any body) over the session as it was at the
 * interrupt: a child with the id, agent and input of one recorded as
 * ended returns that recorded answer (or failure) at once, without
 * running (no model call, no hooks, no events); the interrupted child
 * continues from its state with the decisions; any other child runs
 * normally. So what the body does besides running children (state
 * writes, its own tools or I/O) happens again (at least once); and the
 * session state a child wrote before the interrupt is there when the
 * body runs again (the loop agent keeps an escalation raised by the
 * interrupted child before it stopped: the resumed loop ends after that
 * child, workflow.h). A recorded child the body does not run again is
 * dropped, with the decisions for its calls.
 *
 * A nested call (a tool that calls another tool with
 * hl_context_call_tool(), context.h) that needs a decision returns
 * HL_INTERRUPTED to the calling tool without running; the tool should
 * hand that status on. Whatever the tool returns, its call then waits
 * ("interrupted_by": "nested_call", with the waiting nested calls in
 * "nested": [{"id": "nested-K", "name", "arguments", "interrupted_by",
 * "hook"?, "reason"?}]), and the run stops after the turn as for any
 * waiting call. The nested call's path is the outer call's path, '/',
 * and "nested-K", K counting the nested calls the outer call made from
 * 1 ("call_3/nested-1"). A C function cannot be frozen in the middle, so
 * on resume the outer tool runs again from the start (at least once, as
 * with the store: make its other effects idempotent): its nested call
 * number K, if it is the same tool with the same arguments as recorded,
 * gets its decision without asking again (approve: it runs; edit: it
 * runs with the new arguments; reject: hl_context_call_tool() returns
 * HL_ERR_EXECUTION_FAILED with the human's message as its error, which
 * the outer tool sees); a nested call that differs asks again (the run
 * is interrupted anew). A nested call that runs a sub-agent (an agent
 * tool) which stops for a decision waits the same way, with
 * "interrupted_by": "sub_agent" and the child's "state" in its entry; its
 * calls' paths continue below the nested call's ("call_3/nested-1/call_1"),
 * and on resume the re-run outer tool's nested call K (same tool, same
 * arguments) resumes the sub-agent from that state. A nested call that
 * needs a decision made outside any tool call (from a hook) fails with
 * HL_ERR_UNSUPPORTED: there is no call whose re-run would ask again.
 *
 * Decisions are a JSON object keyed by path, one per pending call at
 * every level:
 *   {"call_1": {"action": "approve"},
 *    "call_2": {"action": "reject", "message": "not today"},
 *    "call_7/call_1": {"action": "edit", "arguments": {"city": "Paris"}}}
 * approve runs the call as the model asked; edit runs it with the new
 * arguments (validated against the tool's schema before anything runs);
 * reject runs nothing and the model sees `message` as the call's result
 * (marked as an error). An approved or edited call goes through the whole
 * tool path (before_tool with args->approved true, where an INTERRUPT
 * counts as CONTINUE; around_tool; TOOL_START/END; after_tool).
 *
 * Thread-safety: every function here is thread-safe; the state slot is
 * per thread, like hl_last_error().
 */
#ifndef HOOKLINE_INTERRUPT_H
#define HOOKLINE_INTERRUPT_H

#include <stdbool.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_agent hl_agent;

/** The state format this library writes and reads. */
#define HL_RUN_STATE_VERSION 1

/**
 * The state of the last run on the calling thread that returned
 * HL_INTERRUPTED (hl_agent_run() or hl_agent_resume()), handed over: the
 * caller owns it (cJSON_Delete) and a second call returns NULL. NULL when
 * no run was interrupted since. A state not taken is freed by the next
 * interrupted run on the thread, or when the thread exits. Asynchronous
 * runs (run.h) keep their state on the handle instead: hl_run_state(),
 * and hl_run_resume() continues them.
 */
HL_API cJSON *hl_run_state_json(void);

/**
 * The calls of `state` that wait for a decision, at every level of
 * nesting, as a new JSON array (caller frees) of
 * {"path", "id", "name", "arguments", "agent", "branch",
 *  "interrupted_by", "hook"?, "reason"?, "outer_call"?} in the order of
 * the state ("outer_call": the id of the call a nested call was made from):
 * what an approval prompt shows. NULL with HL_ERR_INVALID or HL_ERR_JSON
 * (message naming the bad field, "$.pending[1].arguments: ...") for a
 * state that is not one. `state` is borrowed.
 */
HL_API cJSON *hl_run_state_pending(const cJSON *state);

/** Add a decision for the call at `path` to `decisions` (a JSON object,
 *  made by the caller; an earlier decision for the path is replaced).
 *  reject: `message` (copied; NULL gives "The user rejected this tool
 *  call.") is what the model sees. edit: `arguments` (copied) must be an
 *  object; it is checked against the schema by hl_agent_resume().
 *  HL_ERR_INVALID for NULL or non-object arguments, HL_ERR_NOMEM. */
HL_API hl_status hl_decision_approve(cJSON *decisions, const char *path);
HL_API hl_status hl_decision_reject(cJSON *decisions, const char *path, const char *message);
HL_API hl_status hl_decision_edit(cJSON *decisions, const char *path, const cJSON *arguments);

/**
 * Continue an interrupted run of `agent` with `decisions` (see the top of
 * this file). `session` must be the run's session as it was when the run
 * returned HL_INTERRUPTED (NULL: the agent's own), in this process or
 * loaded in another one with hl_session_from_json(); `state` is the
 * document hl_run_state_json() gave, possibly parsed back from text. Both
 * borrowed.
 *
 * Everything is checked before anything runs: a state that is malformed
 * or of another version (HL_ERR_JSON / HL_ERR_INVALID, message naming the
 * path), of another agent or a sub-agent the agent does not hold, a
 * custom agent's state for an LLM agent or the reverse (HL_ERR_INVALID), a session that changed since (HL_ERR_STATE), a
 * decision missing for a pending call, a decision for an unknown path or
 * with an unknown action (HL_ERR_INVALID), edited arguments that violate
 * the tool's schema (HL_ERR_INVALID_ARGUMENTS): the session is untouched.
 *
 * Then the run goes on from the interrupted turn: the calls that ran are
 * not run again (the model gets their saved results), the decided calls
 * run, and the model loop continues as in hl_agent_run(), with the same
 * statuses (a custom agent's body runs again, its ended children
 * replayed: see the top); it may return HL_INTERRUPTED again (a new state). On HL_OK
 * *answer is for hl_free(). Events: AGENT_START, then HL_EVENT_RESUME
 * (no before_agent hooks: they ran when the run started; a custom
 * agent's RESUME data is {"children": [the ids that resume]}), the turn,
 * ..., after_agent, AGENT_END. Thread-safe like hl_agent_run() (one run per
 * session at a time).
 */
HL_API hl_status hl_agent_resume(hl_agent *agent, hl_session *session, const cJSON *state,
                                 const cJSON *decisions, char **answer);

#ifdef __cplusplus
}
#endif
#endif
