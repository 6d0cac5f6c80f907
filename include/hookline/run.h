/*
 * hookline/run.h - asynchronous runs: start a run, get its end by callback,
 * cancel it or wait for it. hl_agent_run() (agent.h) is the blocking call
 * built on the same engine.
 *
 *   static void done(hl_run *run, hl_status st, const char *answer,
 *                    const hl_usage *usage, void *ud) { ... }
 *   hl_run_options o = HL_RUN_OPTIONS_INIT;
 *   o.on_done = done;
 *   hl_run *run;
 *   if (hl_run_start(agent, session, "hello", &o, &run) == HL_OK) {
 *     ...                         // the calling thread is free meanwhile
 *     hl_run_wait(run, -1);       // or never wait: the callback says it all
 *     hl_run_free(run);
 *   }
 *
 * How a run advances. A run is a state machine (before_agent -> build the
 * request, before_model -> model call in flight -> after_model -> tool
 * calls -> after_tool ... -> after_agent) advanced by events. While its
 * model call is in flight a run holds no thread: the HTTP providers send
 * it on the process's event loop (pool.h) and the answer's arrival
 * schedules the next step. Each step runs on a thread of the library's
 * bounded worker pool (hl_set_worker_threads()). What may block runs
 * there, on one worker for as long as it blocks, never on the loop:
 *  - tool calls (the calls of one response in parallel, as in a blocking
 *    run), sub-agents (agent-as-tool) and their whole runs; but an
 *    asynchronous tool (hl_tool_defer(), tool.h) that is pending holds no
 *    thread: its completion queues the rest of the call and of the turn
 *    on the pool;
 *  - a provider without an asynchronous start (the scripted provider,
 *    custom providers): its complete() on the step's worker;
 *  - around_model hooks, which call next 0..n times: the model call then
 *    happens inside the hook, blocking, on the step's worker;
 *  - a custom agent's body and workflow agents (sequential, parallel,
 *    loop): the whole body on one worker.
 *
 * Which thread runs what (for hooks, observers, tools, callbacks):
 *  - before_agent, before_model, after_model, before_tool, after_tool,
 *    after_agent hooks, the around hooks, tools, and every observer event
 *    except those listed next: on a worker-pool thread (for
 *    hl_agent_run(), on the thread that called it);
 *  - with an HTTP provider's asynchronous call: API_RESPONSE, streamed
 *    deltas (RESPONSE with is_delta), model_chunk hooks and the token
 *    callback run on the thread that decodes the answer, the event loop's
 *    thread (or the application's thread that calls hl_engine_process(),
 *    engine.h; or, for hl_agent_run() when no other request is in flight,
 *    the thread that called it, which then drives the loop itself rather
 *    than wait to be woken by the loop's thread). They must not block:
 *    every request of the process waits meanwhile. API_REQUEST runs on the
 *    step's worker;
 *  - the completion callback (on_done): on the thread that finished the
 *    run's last step, a worker-pool thread (never the calling thread of
 *    hl_run_start(), never while a lock of the library is held);
 *  - the parallel tool calls of one response, each with its
 *    before_tool/after_tool/around hooks and TOOL_START/TOOL_END events:
 *    the first on the step's own thread, which goes on to the next ones
 *    as it finishes; the others on worker-pool threads, woken at once,
 *    unless every one of them goes to a tool whose recent calls were
 *    quick (tens of microseconds together: waking a thread would cost
 *    more): then the step's own thread runs them one after another, and
 *    should one of them be slow this time, or wait for its siblings, the
 *    rest are started on workers a few milliseconds later. The step's own
 *    thread also takes any the pool has no thread for. In blocking and
 *    asynchronous runs alike;
 *  - a tool with a time limit (hl_tool_set_timeout_ms()), and what it
 *    starts (a sub-agent's hooks, tools and events): on a worker-pool
 *    thread, while the calling thread waits; its hooks and events on the
 *    calling thread;
 *  - a deferred tool's wait (hl_tool_defer()) holds no worker: the thread
 *    that called the function waits aside from the pool, which may start
 *    another for other work; TOOL_END and after_tool then run on it;
 *  - the sandbox's host callbacks awaited together (sandbox.h) and the
 *    parallel workflow agent's children (workflow.h): on worker-pool
 *    threads, the waiting thread taking a share;
 *  - hl_context_on_cancel() functions: on the thread that cancels
 *    (hl_run_cancel(), hl_agent_cancel()).
 * The steps of one run never overlap, except that one response's tool
 * calls run in parallel (as in hl_agent_run()).
 *
 * Thread-safety: hl_run_start() may be called from any thread, for any
 * number of runs at once (one run per session at a time, as always).
 * hl_run_cancel(), hl_run_wait() and the getters may be called from any
 * thread; hl_run_free() once, by the owner of the handle.
 */
#ifndef HOOKLINE_RUN_H
#define HOOKLINE_RUN_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "status.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_agent hl_agent;
typedef struct hl_session hl_session;
typedef struct hl_run hl_run;

/** A run ended. `status` is its outcome (HL_OK or the error; the message
 *  is hl_run_error(run)); `answer` is the final answer on HL_OK, else NULL,
 *  borrowed (also available later from hl_run_answer()); `usage` the run's
 *  token counts, borrowed. Called exactly once per started run, on a
 *  worker-pool thread (see the top). It may call hl_run_free(run). */
typedef void (*hl_run_done_fn)(hl_run *run, hl_status status, const char *answer,
                               const hl_usage *usage, void *user_data);

/** Options of a run. Initialise with HL_RUN_OPTIONS_INIT (sets `size`):
 *  fields are only ever appended. */
typedef struct hl_run_options {
  size_t size;
  hl_run_done_fn on_done; /**< may be NULL (then wait for the run) */
  void *user_data;        /**< handed to on_done; the run does not own it */
} hl_run_options;

#define HL_RUN_OPTIONS_INIT {sizeof(hl_run_options), NULL, NULL}

/**
 * Start a run of `agent` on `session` (NULL: the agent's own session)
 * with `input` (copied), and return at once. On HL_OK *run is a new handle,
 * the caller's (hl_run_free()), and on_done will be called exactly once.
 * Otherwise *run is NULL, on_done is never called, and the status says why:
 * HL_ERR_INVALID (NULL agent, input or run; opts->size too small),
 * HL_ERR_STATE (the session is busy with another run), HL_ERR_NOMEM.
 * The agent and the session must stay alive (and the agent unchanged)
 * until the run ended. `opts` may be NULL (no callback).
 */
HL_API hl_status hl_run_start(hl_agent *agent, hl_session *session, const char *input,
                              const hl_run_options *opts, hl_run **run);

/** Ask the run to stop: it ends soon with HL_ERR_CANCELLED (a model call
 *  in flight is abandoned at once, a tool in progress is asked through its
 *  context and its result dropped, a stored session's write waiting on its
 *  server is cut, and so are the run's later writes the server does not
 *  answer within a quarter second: store.h). Harmless on an ended run.
 *  Any thread. */
HL_API void hl_run_cancel(hl_run *run);

/** Wait until the run ended (timeout_ms < 0: no limit) and return its
 *  status; HL_ERR_TIMEOUT (the run goes on) when the time ran out first.
 *  The status's message is hl_run_error(run). Any thread, but not from
 *  inside a step of the same run (its hooks, tools, on_done). */
HL_API hl_status hl_run_wait(hl_run *run, long timeout_ms);

/** True once the run ended (its on_done has returned). Any thread. */
HL_API bool hl_run_done(const hl_run *run);

/** After the end: the status, the message ("" on success), the answer
 *  (borrowed until hl_run_free(); NULL on failure) and the usage. Before
 *  the end: HL_PENDING, "", NULL, zeros. */
HL_API hl_status hl_run_status(const hl_run *run);
HL_API const char *hl_run_error(const hl_run *run);
HL_API const char *hl_run_answer(const hl_run *run);
HL_API hl_usage hl_run_usage(const hl_run *run);

/**
 * Interrupts (interrupt.h). A run that stops at a tool-call boundary for
 * a human's decision ends with HL_INTERRUPTED: not a failure (on_done gets
 * it with a NULL answer, hl_run_wait() returns it, hl_last_error() is
 * empty; hl_run_error() says which calls wait). Its state is on the
 * handle: hl_run_state() returns a new copy (caller frees with
 * cJSON_Delete) once the run ended with HL_INTERRUPTED (also from inside
 * on_done), else NULL. Any thread. (The thread slot behind
 * hl_run_state_json() is for the blocking calls only.)
 */
HL_API cJSON *hl_run_state(const hl_run *run);

/**
 * The asynchronous hl_agent_resume() (interrupt.h): everything is checked
 * before anything runs, with the same statuses (then *run is NULL, on_done
 * is never called and the session is untouched), plus HL_ERR_STATE when
 * the session is busy. On HL_OK the run goes on from the interrupted turn
 * as hl_run_start()'s runs do (same threads, same callbacks) and may end
 * with HL_INTERRUPTED again (a new state, hl_run_state()). `state` and
 * `decisions` are borrowed for the call only (copied); the agent and the
 * session must stay alive until the run ended. Any thread.
 */
HL_API hl_status hl_run_resume(hl_agent *agent, hl_session *session, const cJSON *state,
                               const cJSON *decisions, const hl_run_options *opts,
                               hl_run **run);

/** Release the handle. A run still in flight is cancelled first; its
 *  on_done still runs, and its memory goes when it ended. NULL is fine. */
HL_API void hl_run_free(hl_run *run);

/** Size of the library's one worker pool: 1..1024. Every piece of work
 *  of the library that may block runs on it: run steps, the parallel tool
 *  calls of a response, tool calls with a time limit, the sandbox's
 *  batches of host callbacks, the parallel workflow agent's children
 *  (hl_work_parallel()). The size bounds how many of them run at once
 *  (a slow tool, a custom agent's body, a provider without start):
 *  beyond it, further work waits in line (model calls in flight still
 *  travel). A thread that only waits for other work (a group of jobs it
 *  cannot help with any more, a tool's time limit, a pending
 *  asynchronous tool) does not count while it waits, and whoever waits
 *  for a group of jobs runs the ones nobody took yet itself: nested work
 *  (a tool that runs a sub-agent whose tools run in parallel) completes
 *  on a pool of one thread. At most 1024 threads exist at once. Default:
 *  the environment variable HOOKLINE_WORKER_THREADS, else
 *  max(8, 4 x CPUs) capped at 64. Threads start on demand and stay;
 *  after lowering the size, busy threads beyond it leave when their work
 *  ends. HL_ERR_INVALID out of range. Thread-safe. */
HL_API hl_status hl_set_worker_threads(int n);
/** The pool's current size. Thread-safe. */
HL_API int hl_worker_threads(void);

/** One piece of work of hl_work_parallel(): called once per index. */
typedef void (*hl_work_fn)(void *arg, size_t index);

/** Run fn(arg, i) for every i in [0, n) at the same time, on the
 *  library's worker pool (up to its size; the calling thread takes part),
 *  and return when every call has returned. For work that blocks and that
 *  an agent or a tool wants in parallel (the parallel workflow agent runs
 *  its children with it) without threads of its own: nested use cannot
 *  deadlock (see hl_set_worker_threads()). Called from inside a tool
 *  call, the calls run inside that call wherever they run: a child run
 *  they start (hl_context_run_agent()) nests under the tool call in
 *  events and traces and can stop for approval, and
 *  hl_context_tool_call_id() answers there. The order in which indexes
 *  run is not defined. `arg` is borrowed; fn must be safe to call from
 *  several threads at once. HL_OK; HL_ERR_INVALID when fn is NULL (n 0
 *  does nothing). Any thread, any number at once. */
HL_API hl_status hl_work_parallel(size_t n, hl_work_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
