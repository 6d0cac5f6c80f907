/*
 * hookline/workflow.h - workflow agents (the agents/ folder): sequential,
 * parallel, loop, router and code agents.
 *
 * A workflow agent is an ordinary hl_agent made with hl_agent_new_custom():
 * it has a name, it runs with hl_agent_run(), it nests inside other
 * workflow agents, and hl_agent_as_tool() turns it into a tool. Its
 * children are the agents added with hl_agent_add_sub_agent(), run in the
 * order added. Children run through hl_context_run_agent(), so:
 *   - the hooks of the workflow agent and of everything above it (global
 *     chains, ancestors' chains) fire for every child, at every depth;
 *   - the observers see every child's events, tagged with the child's
 *     branch: "root/pipeline/reviewer";
 *   - cancelling the top agent cancels every child.
 *
 * Children of sequential, loop and router agents run on the workflow's own
 * session (HL_RUN_SHARED): they see the conversation so far and each
 * other's output keys (hl_agent_set_output_key()) in session state.
 *
 * Errors: a child that fails stops a sequential, loop or router agent,
 * which returns the child's status with a message naming the child. A
 * parallel agent isolates failures (see below), except an abort by a hook
 * (HL_ERR_ABORTED, H10) or a cancellation, which stop the whole run.
 *
 * Interrupts (interrupt.h): a child that stops for a human's decision
 * stops the workflow's run with HL_INTERRUPTED (not a failure: no
 * "workflow_child_failed" event). Sequential and loop stop at once; a
 * parallel agent lets its other branches finish and stops with every
 * waiting branch's calls in one state. hl_agent_resume() runs the
 * workflow again: children that had ended give their recorded answers
 * without running, the interrupted ones continue, later ones run. Paths
 * of the calls: "<child>/<call id>", "<child>#K/<call id>" for a loop's
 * K-th run of the child.
 *
 * Lifetime: each constructor returns one agent reference (hl_agent_unref()).
 * Constructors return NULL with the reason in hl_last_error() on bad
 * arguments or out of memory.
 *
 * Thread-safety: as for any agent (agent.h): configure (add sub-agents)
 * before running; a configured workflow agent may run on several threads
 * at once, each run on its own session.
 */
#ifndef HOOKLINE_WORKFLOW_H
#define HOOKLINE_WORKFLOW_H

#include <stdbool.h>
#include "status.h"
#include "agent.h"
#include "context.h"
#include "provider.h"
#include "sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What each child of a sequential or loop agent receives as input. */
typedef enum hl_workflow_input {
  /** Every child gets the workflow's own input (ADK style: children pass
   *  results along through session state and history). */
  HL_WORKFLOW_INPUT_SAME = 0,
  /** A pipeline: each child gets the previous child's answer; the first
   *  child gets the workflow's input (in a loop, the first child of
   *  iteration n > 1 gets the last child's answer of iteration n - 1). */
  HL_WORKFLOW_INPUT_PREVIOUS = 1
} hl_workflow_input;

/** Session state key that ends a loop when set to true. */
#define HL_WORKFLOW_ESCALATE_KEY "escalate"

/**
 * Sequential agent: runs its children one after another on the shared
 * session. Its answer is the last child's answer ("" with no children).
 */
HL_API hl_agent *hl_sequential_agent_new(const char *name, hl_workflow_input input);

/**
 * Parallel agent: runs all its children at the same time on the library's
 * worker pool (hl_work_parallel(), run.h: as many at once as the pool has
 * threads, its own thread taking a share; nested parallel agents cannot
 * deadlock a small pool),
 * every child on its own branch of the session: `mode` HL_RUN_ISOLATED (a
 * fresh history and a copy of the state) or HL_RUN_FORK (a copy of history
 * and state); HL_RUN_SHARED is refused (HL_ERR_INVALID) because one
 * history cannot take several conversations at once. Every child gets the
 * parallel agent's input.
 *
 * Gathering: each child's answer is stored in the parallel agent's session
 * state under the child's output key (hl_agent_set_output_key()) or, if it
 * has none, under the child's name. The answer is a JSON object text:
 *   {"results": {"web": "answer..", "papers": "answer.."},
 *    "errors":  {"broken": {"status": "ExecutionFailed", "message": ".."}}}
 * Each failure is also a CUSTOM event "workflow_child_failed" with
 * {"agent","status","message"}. The run returns HL_OK when at least one
 * child succeeded (or there are none); when all fail it returns the first
 * child's status. A child aborted by a hook or cancelled makes the run
 * return that status (after every child has finished).
 */
HL_API hl_agent *hl_parallel_agent_new(const char *name, hl_run_mode mode);

/**
 * Loop agent: runs its children in order, again and again, until
 *   - a child (or any hook or tool during a child's run) sets session state
 *     HL_WORKFLOW_ESCALATE_KEY to true, e.g. with hl_workflow_escalate();
 *     the loop stops right after that child and removes the key, so an
 *     enclosing loop does not stop too; or
 *   - `max_iterations` (>= 1) complete iterations have run.
 * Both endings are success; the answer is the last child answer produced.
 * A stale "escalate" left in state before the loop starts is removed. Each
 * iteration emits a CUSTOM event "loop_iteration" {"iteration": n}.
 * A child that escalates and then stops for a decision (interrupt.h) in
 * the same run: the loop notes where in session state key
 * "escalate@<the loop's branch>" ({"iteration": n, "child": i}), and the
 * resumed loop ends right after that child; the note is removed when the
 * loop starts (resumed or not).
 */
HL_API hl_agent *hl_loop_agent_new(const char *name, int max_iterations,
                                   hl_workflow_input input);

/** Set session state HL_WORKFLOW_ESCALATE_KEY to true through `ctx`: from
 *  a tool or a hook, this ends the enclosing loop agent after the current
 *  child. */
HL_API hl_status hl_workflow_escalate(hl_context *ctx);

/**
 * Router agent: one model call picks the child that handles the input.
 * The call is made by a temporary LLM agent "selector" run as a child
 * (branch "<router>/selector"), so hooks (a response cache, a guardrail)
 * and observers see it like any other model call. Its instruction lists
 * the children by name and description (hl_agent_set_description()) and
 * asks for one name. The answer picks a child if it is a child's name
 * (ignoring case, spaces, quotes and a final period) or else contains one
 * as a whole word (the earliest wins). Otherwise, or when the selector's
 * call fails (not when it is aborted or cancelled), the child named
 * `fallback` runs; with `fallback` NULL the run fails with
 * HL_ERR_NOT_FOUND. The chosen child runs on the shared session with the
 * router's input and its answer is the router's. A CUSTOM event "route"
 * {"agent": name, "fallback": bool} records the choice.
 *
 * `provider` (a reference is taken) and `model` (copied; NULL for the
 * provider's default) serve the selection call.
 */
HL_API hl_agent *hl_router_agent_new(const char *name, hl_provider *provider,
                                     const char *model, const char *fallback);

/**
 * Code agent: an LLM agent in "code mode". Its main tool is the sandbox's
 * "run_javascript" (hl_sandbox_code_tool(), `limits` copied, NULL =
 * defaults); the tools you add with hl_agent_add_tool() become async
 * functions inside that JavaScript instead of tools the model calls
 * directly. Its instruction teaches the model to write code that calls
 * them (await, Promise.all for parallel calls, try/catch on kind/message,
 * the last expression as the result). A before_model hook "code_mode"
 * moves the other tools' declarations out of each request into the system
 * message as a function reference (name, description, argument schema),
 * so the model sees one tool. Calls made from JavaScript go through
 * hl_context_call_tool(): hooks, events and schema validation apply as for
 * direct calls. hl_agent_set_instruction() replaces the code-mode
 * instruction (the function reference is still appended).
 *
 * `provider` gets a reference; `model` is copied (NULL: the provider's
 * default). NULL with HL_ERR_UNSUPPORTED when the build has no sandbox
 * (hl_sandbox_available()), HL_ERR_INVALID without a provider.
 */
HL_API hl_agent *hl_code_agent_new(const char *name, hl_provider *provider,
                                   const char *model, const hl_sandbox_limits *limits);

#ifdef __cplusplus
}
#endif
#endif
