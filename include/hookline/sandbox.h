/*
 * hookline/sandbox.h - the in-process WebAssembly JavaScript sandbox.
 *
 * Model-written JavaScript runs in QuickJS compiled to WebAssembly and
 * translated to C (wasm2c): it lives in its own linear memory and reaches
 * the host only through the tools you add (hl_sandbox_add_tool(): ordinary
 * hl_tool objects, see tool.h). Inside JavaScript:
 *
 *   - each tool is an async function taking one object:
 *       const t = await get_time();
 *       const r = await echo({message: "hi", repeat: 3});
 *     Arguments are validated against the tool's JSON Schema before
 *     its function runs.
 *   - a failing tool rejects with a CallbackError whose `kind` is
 *     "InvalidArguments", "ExecutionFailed", "NotFound" or "Timeout" and
 *     whose `message` is the reason; catch it with try/catch.
 *   - `await Promise.all([a(), b(), c()])` runs the three tools at the
 *     same time on the library's worker pool (run.h; at most 16 at once
 *     and no more than the pool's size; more wait their turn).
 *   - listCallbacks() returns [{name, description, parameters}].
 *   - console.log/info/debug write to stdout, console.error/warn to stderr;
 *     both are captured in the result as UTF-8: a lone surrogate or U+0000
 *     in the output becomes U+FFFD.
 *   - top-level await works; the value of the last expression statement is
 *     the result's return value (as JSON).
 *   - there is no require, process, fetch, file system, timer or module
 *     loader; Date uses UTC.
 *
 * Sessions: one sandbox keeps its global variables and functions from one
 * execution to the next; hl_sandbox_reset() clears them. A new sandbox
 * starts from a snapshot of an initialised instance (copy-on-write memory),
 * so creating one takes microseconds.
 *
 * Limits: each execution has a wall-clock timeout, the linear memory has a
 * cap, tool calls have a count limit and an optional per-call timeout, and
 * stdout + stderr together have a byte cap. Hitting a limit ends the
 * execution with a status naming it; the sandbox stays usable. JavaScript
 * is stopped with an uncatchable error; code that still keeps running (an
 * async function turns even that error into a rejected promise) is stopped
 * at the WebAssembly level, and then the session is reset (the message in
 * hl_last_error() says so). The timeout holds whatever the code does: code that
 * does not get stopped by the uncatchable error within 10 ms of its
 * thread's CPU time past the (wall-clock) deadline (a long built-in over a
 * big string, an exception unwinding deep recursion) is stopped by a
 * watchdog thread (one per process, started by the first execution) at its
 * next WebAssembly call, and the session is reset. CPU time, so that a
 * thread the machine did not run across its deadline still gets its chance
 * to stop cleanly; on an idle machine that is 10 ms of wall time. A tool
 * call's own time counts, but a running tool is waited for.
 *
 * Isolation: the JavaScript lives in its own linear memory, every access
 * to it is bounds-checked, and a WebAssembly trap (out-of-bounds access,
 * call-stack exhaustion, unreachable) unwinds only the thread it happened
 * on: the execution fails with HL_ERR_SANDBOX and the session is reset.
 * No signal handler is ever installed. The wasm call depth is limited
 * from the native stack the calling thread has left, so a thread with a
 * small stack (under ~256 KiB free) gets a trap instead of a stack
 * overflow; give executing threads at least 1 MiB.
 *
 * Builds without the sandbox (meson -Dsandbox=disabled, or wasm2c or the
 * QuickJS module missing): every function exists; hl_sandbox_available()
 * is false and the others return HL_ERR_UNSUPPORTED (or NULL).
 *
 * Thread-safety: one sandbox is used by one thread at a time (executions
 * are not reentrant); different sandboxes run in parallel on different
 * threads without any locking. Tools run on the executing thread or,
 * when several are pending at once or a callback timeout is set, on
 * threads of the library's worker pool (run.h; inside the code tool's
 * call, whose id and children they see): a tool function must be
 * thread-safe for its user_data (as tool.h asks of every tool).
 *
 * The first sandbox of a process maps the template snapshot that the build
 * wrote next to the library (hookline-sandbox.snap, installed with it):
 * a fraction of a millisecond. When that file is missing or comes from
 * another build (it carries a build id), the first sandbox initialises
 * QuickJS itself instead (about 10 ms) and prints one line saying why to
 * stderr. The environment variable HOOKLINE_SANDBOX_SNAPSHOT names another
 * file, or, set to the empty string, always initialises at run time
 * (without the note). Either way under a once-only lock.
 *
 * The Python guest does the same with its own template file,
 * hookline-python.snap (MicroPython started and the prelude loaded, by
 * the build; installed next to the library): missing, corrupt (it carries
 * a checksum) or from another build, the first Python sandbox boots
 * MicroPython itself (a few milliseconds) with one line on stderr saying
 * why. HOOKLINE_PY_SANDBOX_SNAPSHOT names another file, or, empty, always
 * boots at run time (without the note).
 */
#ifndef HOOKLINE_SANDBOX_H
#define HOOKLINE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_sandbox hl_sandbox;
typedef struct hl_tool hl_tool;        /* see tool.h */
typedef struct hl_context hl_context;  /* see context.h */

/** True when this build of hookline includes the sandbox. */
HL_API bool hl_sandbox_available(void);

/** The language a sandbox runs (hl_sandbox_limits.language). */
typedef enum hl_sandbox_language {
  /** QuickJS: everything this header describes (the default). */
  HL_SANDBOX_JAVASCRIPT = 0,
  /** MicroPython 1.27 (npm @micropython/micropython-webassembly-pyscript,
   *  fetched by scripts/setup.d/micropython.sh), run the same way: its
   *  own linear memory, hookline's imports only (no file system, no
   *  network; the clock and random numbers). Inside Python:
   *    - each tool is an async function taking keyword arguments or one
   *      dict: `r = await echo(message="hi")`, `await echo({"message": "hi"})`;
   *    - a failing tool raises CallbackError, whose `kind` and `message`
   *      are those of the JavaScript guest;
   *    - `await asyncio.gather(a(), b(), c())` runs the three tools at once
   *      (asyncio is the sandbox's own: run, gather, sleep, create_task);
   *    - list_callbacks() returns [{name, description, parameters}];
   *    - print() writes stdout, sys.stderr stderr; top-level await works;
   *      the value of a last expression statement is the result's value
   *      (as JSON; what JSON cannot hold, as its repr());
   *    - open(), os and every file system call fail with OSError; `js`
   *      is an empty object.
   *  Limits as for JavaScript, with the same statuses: at the timeout
   *  Python gets a KeyboardInterrupt (the session survives), and code
   *  that goes on anyway is stopped 30 ms later (the session is reset);
   *  MemoryError and "maximum recursion depth exceeded" end with
   *  HL_ERR_LIMIT (a Python sandbox has a 256 KiB C stack: about 1,100
   *  nested Python calls, each also taking ~2 KiB of the executing
   *  thread's stack; on a thread with a small stack, very deep recursion
   *  ends in a trap that resets the session instead). Garbage is collected between executions (when the memory is
   *  past half its limit): one execution can allocate up to the limit.
   *  A new Python sandbox is a copy-on-write copy of one instance
   *  initialised at the first use in the process (a few milliseconds,
   *  under a once-only lock): microseconds. Snapshots work as for
   *  JavaScript (hl_sandbox_snapshot_take() keeps the Python globals:
   *  variables, functions, classes, imported modules; files carry their
   *  own format and a checksum, see hl_sandbox_snapshot_load()), and so
   *  does the code tool's state directory. */
  HL_SANDBOX_PYTHON = 1,
} hl_sandbox_language;

/** True when this build can run `language` (JavaScript: the QuickJS
 *  module was there at build time; Python: the MicroPython one).
 *  Thread-safe. */
HL_API bool hl_sandbox_language_available(hl_sandbox_language language);

/** Limits of one sandbox. Zero means "no limit" only where stated.
 *  Versioned: fill it with hl_sandbox_limits_default() (which sets `size`)
 *  and then change fields. Fields are only ever appended; those past the
 *  `size` a caller was compiled with keep their defaults. */
typedef struct hl_sandbox_limits {
  /** sizeof(hl_sandbox_limits) as the caller knows it; set by
   *  hl_sandbox_limits_default(). Must cover at least `timeout_ms`. */
  size_t size;
  /** Wall-clock limit of one execution in milliseconds, JavaScript and
   *  tool calls together (0 = none). Default 30000. Ends with HL_ERR_TIMEOUT
   *  within about 10 ms of the limit (plus scheduling delays and, after
   *  a hard stop, the reset). */
  unsigned timeout_ms;
  /** Cap on the sandbox's linear memory in bytes. Default 64 MiB; at least
   *  32 MiB (smaller values are raised), at most 2 GiB. Allocation beyond it
   *  fails inside JavaScript; an execution that ends that way returns
   *  HL_ERR_LIMIT. */
  size_t memory_bytes;
  /** Tool calls per execution (0 = none). Default 1000. The call over the
   *  limit ends the execution with HL_ERR_LIMIT. */
  unsigned max_callbacks;
  /** Time limit of one tool call in milliseconds (0 = none, the default: a
   *  call is waited for however long it takes). A call over its limit
   *  rejects with kind "Timeout"; its function is left to finish on its
   *  worker thread and its late result is dropped. Independent of the
   *  tool's own hl_tool_set_timeout_ms(), which also applies. */
  unsigned callback_timeout_ms;
  /** Cap on stdout + stderr bytes per execution (0 = none). Default 1 MiB.
   *  Output past it is dropped and the execution ends with
   *  HL_ERR_TOO_LARGE. */
  size_t max_output_bytes;
  /** The guest language (HL_SANDBOX_JAVASCRIPT by default). With
   *  HL_SANDBOX_PYTHON, hl_sandbox_new() makes a Python sandbox (every
   *  function of this header applies to it, "JavaScript" read as
   *  "Python") and hl_sandbox_code_tool() a
   *  "run_python" tool. HL_ERR_UNSUPPORTED when the build cannot run it
   *  (hl_sandbox_language_available()). */
  hl_sandbox_language language;
} hl_sandbox_limits;

/** Fill `limits` with the defaults above, `size` included. */
HL_API void hl_sandbox_limits_default(hl_sandbox_limits *limits);

/** New sandbox with `limits` (copied; NULL = defaults). HL_ERR_INVALID for
 *  limits whose `size` does not cover `timeout_ms` (not filled by
 *  hl_sandbox_limits_default()). On HL_OK *out is the caller's, to free
 *  with hl_sandbox_free(). */
HL_API hl_status hl_sandbox_new(const hl_sandbox_limits *limits, hl_sandbox **out);

/** Free the sandbox, drop its references to its tools, and free its
 *  memory. NULL is fine. Tool calls abandoned after a timeout keep running
 *  on their threads (each holds its own reference to the tool); they no
 *  longer touch the sandbox. */
HL_API void hl_sandbox_free(hl_sandbox *sandbox);

/** Clear the session: a fresh JavaScript global scope from the snapshot.
 *  Added tools stay. */
HL_API hl_status hl_sandbox_reset(hl_sandbox *sandbox);

/* ------------------------------------------------------------------ */
/* Tools                                                               */
/* ------------------------------------------------------------------ */

/**
 * Make `tool` (see tool.h: hl_tool_new(), hl_tool_param(),
 * hl_tool_set_schema(), hl_tool_set_free_fn()) callable from JavaScript as
 * the async function `js_name`, or under the tool's own name when
 * `js_name` is NULL. The sandbox takes its own reference to the tool; the
 * caller keeps theirs. JavaScript sees the tool's description and schema
 * (listCallbacks()); arguments are validated against the schema before the
 * tool's function runs, and the tool's timeout applies. A failing tool
 * function (hl_fail()) rejects with a CallbackError whose kind is
 * hl_status_name() of its status when that is InvalidArguments, NotFound
 * or Timeout, and "ExecutionFailed" for any other.
 *
 * `js_name` (or the tool's name) must be a JavaScript identifier:
 * [A-Za-z_$][A-Za-z0-9_$]*, at most 64 bytes, not a name the sandbox
 * defines itself such as console or listCallbacks (HL_ERR_INVALID).
 * HL_ERR_EXISTS if the name is taken, HL_ERR_STATE while the sandbox
 * executes (from inside a tool). The tool's schema is read when an
 * execution starts: configure the tool before adding it. Not thread-safe
 * with execution.
 */
HL_API hl_status hl_sandbox_add_tool(hl_sandbox *sandbox, hl_tool *tool, const char *js_name);

/** Remove the tool JavaScript calls `js_name` (the sandbox drops its
 *  reference). HL_ERR_NOT_FOUND if absent, HL_ERR_STATE while executing. */
HL_API hl_status hl_sandbox_remove_tool(hl_sandbox *sandbox, const char *js_name);

/** Number of tools added. */
HL_API size_t hl_sandbox_tool_count(const hl_sandbox *sandbox);

/* ------------------------------------------------------------------ */
/* Execution                                                           */
/* ------------------------------------------------------------------ */

/** What one execution produced: data only. The reason of a failure is
 *  where every hookline failure leaves it, in hl_last_error().
 *  Versioned: declare it as `hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;`
 *  (sets `size`); fields are only ever appended and those past the
 *  caller's `size` are not written. Every string is owned by the result
 *  and NUL-terminated; free them all with hl_sandbox_result_clear(). */
typedef struct hl_sandbox_result {
  size_t size;             /**< sizeof(hl_sandbox_result) as the caller knows it */
  char *stdout_text;       /**< console.log output ("" if none) */
  size_t stdout_len;
  char *stderr_text;       /**< console.error output ("" if none) */
  size_t stderr_len;
  char *value_json;        /**< the completion value as JSON; NULL when the
                                code produced none (undefined, a function)
                                or failed. Lone surrogates and U+0000 in
                                its strings become U+FFFD, so that
                                hl_json_parse() accepts it. */
  uint64_t duration_us;    /**< wall-clock time of the execution */
  unsigned callback_count; /**< tool calls started */
  hl_status status;        /**< HL_OK, or the error kind (same as returned) */
} hl_sandbox_result;

/** Initialiser of an empty result of the caller's version. */
#define HL_SANDBOX_RESULT_INIT {.size = sizeof(hl_sandbox_result)}

/**
 * Run `code` (UTF-8 JavaScript, a global script with top-level await) in
 * the sandbox's session and wait for it, its tool calls and every promise
 * it awaits.
 *
 * `ctx` is the agent run the code belongs to, or NULL. With a context, a
 * call of a tool that is one of the running agent's tools (the same
 * object) goes through hl_context_call_tool(): before_tool/around_tool/
 * after_tool hooks and TOOL_START/TOOL_END events apply exactly as for a
 * direct call (argument edits, override and abort included). Any other
 * call is the bare hl_tool_invoke(tool, ctx, ...) (validated, timed, no
 * hooks); its function receives `ctx` (NULL without one). A context is
 * borrowed for this call only, so with one the limits' callback_timeout_ms
 * does not apply (every call is waited for; the tools' own timeouts do).
 *
 * Fills *result (whose `size` must be set, HL_SANDBOX_RESULT_INIT, and
 * which must not hold strings from an earlier call: clear it first) even
 * on failure, and returns its status; on failure the reason ("Error:
 * boom", "execution timed out after 100 ms") is in hl_last_error():
 *   HL_OK                     completed
 *   HL_ERR_EXECUTION_FAILED   uncaught exception or syntax error, or the
 *                             code awaits something that can never settle
 *   HL_ERR_INVALID_ARGUMENTS, HL_ERR_NOT_FOUND, HL_ERR_TIMEOUT
 *                             an uncaught CallbackError of that kind
 *   HL_ERR_TIMEOUT            the execution timeout
 *   HL_ERR_LIMIT              memory (out of memory, stack overflow) or
 *                             the tool call count limit
 *   HL_ERR_TOO_LARGE          the output cap
 *   HL_ERR_SANDBOX            a WebAssembly trap; the session was reset
 *                             (the message says so)
 *   HL_ERR_INVALID, HL_ERR_NOMEM, HL_ERR_UNSUPPORTED, HL_ERR_STATE
 *                             bad parameters (a result without `size`),
 *                             or called while executing
 */
HL_API hl_status hl_sandbox_execute(hl_sandbox *sandbox, hl_context *ctx, const char *code,
                                    hl_sandbox_result *result);

/** Free the strings of a result and zero it, keeping its `size`. NULL is
 *  fine. */
HL_API void hl_sandbox_result_clear(hl_sandbox_result *result);

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

typedef struct hl_sandbox_snapshot hl_sandbox_snapshot;

/** Capture the sandbox's JavaScript or Python state (linear memory and
 *  globals) so that new sandboxes can start from it, e.g. after defining
 *  helper functions once. Not while it executes (HL_ERR_STATE). On HL_OK
 *  *out is the caller's. Owner thread of the sandbox. */
HL_API hl_status hl_sandbox_snapshot_take(hl_sandbox *sandbox, hl_sandbox_snapshot **out);

/** New sandbox whose session starts as `snapshot` (which may be freed
 *  afterwards). Tools are not part of a snapshot: add them to the new
 *  sandbox. The memory limit is raised to the snapshot's size if
 *  lower. The snapshot's language decides the sandbox's: a Python
 *  snapshot makes a Python sandbox whatever `limits->language` says; a
 *  JavaScript snapshot with `limits->language` HL_SANDBOX_PYTHON is
 *  HL_ERR_INVALID. Thread-safe: any threads may make sandboxes from one
 *  snapshot at once. */
HL_API hl_status hl_sandbox_new_from_snapshot(const hl_sandbox_snapshot *snapshot,
                                              const hl_sandbox_limits *limits,
                                              hl_sandbox **out);

/** Free a snapshot. NULL is fine. Thread-safe with sandboxes made from it. */
HL_API void hl_sandbox_snapshot_free(hl_sandbox_snapshot *snapshot);

/** Write `snapshot` to the file `path` (replaced atomically: written
 *  under a temporary name, then renamed), e.g. to keep a session's
 *  JavaScript state across processes. The file is sparse: it takes the
 *  disk space of the memory actually used (a few hundred KiB for a fresh
 *  session). HL_ERR_IO with the reason when it cannot be written.
 *  Thread-safe (the snapshot is only read). */
HL_API hl_status hl_sandbox_snapshot_save(const hl_sandbox_snapshot *snapshot, const char *path);

/** Read a snapshot written by hl_sandbox_snapshot_save() (by this build of
 *  hookline: a file from another build, whose memory layout may differ, is
 *  refused with HL_ERR_INVALID "... is from another build of hookline").
 *  Python snapshot files also carry a format version and a checksum of
 *  their memory image, verified here (reading the file's data once): a
 *  truncated or damaged file is HL_ERR_INVALID ("... is truncated",
 *  "... is corrupt").
 *  The memory image is mapped copy-on-write from the file, not read: keep
 *  the file in place (replace it only by renaming over it) while the
 *  snapshot or sandboxes made from it live. HL_ERR_NOT_FOUND when the file
 *  is missing, HL_ERR_INVALID when it is not a usable snapshot. On HL_OK
 *  *out is the caller's (hl_sandbox_snapshot_free()). */
HL_API hl_status hl_sandbox_snapshot_load(const char *path, hl_sandbox_snapshot **out);

/* ------------------------------------------------------------------ */
/* Code mode                                                           */
/* ------------------------------------------------------------------ */

/**
 * A tool named "run_javascript" (arguments: `code`, a string; `reset`, an
 * optional boolean) that runs the code in a sandbox holding the calling
 * agent's other tools, executed with the run's context
 * (hl_sandbox_execute()): each tool call made from JavaScript goes through
 * hl_context_call_tool(), so before_tool/after_tool hooks and
 * TOOL_START/TOOL_END events apply exactly as for a direct call (argument
 * mutation, override and abort included). The tool's result is an object
 * {"result": <return value>, "stdout": "...", "stderr": "..."} (plus
 * "note" when there is something the model should know, see below); a
 * failed execution is a tool error with the execution's status and
 * message. Cancelling the agent run (hl_agent_cancel) stops the running
 * code within a few milliseconds with HL_ERR_CANCELLED.
 *
 * Memory: each agent session (hl_context_session_id()) has its own
 * sandbox, kept between the tool's calls: functions, variables and objects
 * one call defines are there in the next call of the same session. Each
 * session's sandbox is bounded by `limits` (memory above all); at most 32
 * sessions are kept (hl_sandbox_code_tool_set_max_sessions()), the least
 * recently used one is dropped to make room. `reset: true` starts the
 * session from a fresh state before running the code. A trap resets the
 * session too (the error says so). Calls of one session run one at a time;
 * different sessions run in parallel. A call without a context runs in a
 * fresh sandbox.
 *
 * Across processes: with a state directory
 * (hl_sandbox_code_tool_set_state_dir()) every session's state is saved
 * there after each call and restored by the session's first call in a
 * process that does not hold it, so a conversation resumed elsewhere (a
 * durable session store) keeps its JavaScript state. Without one, or when
 * the file is gone, that first call runs in a fresh state and its result
 * carries "note": "The JavaScript state of this conversation's earlier
 * run_javascript calls is gone ...". The tool counts its calls in the
 * session state key "hookline.code_mode" ({"calls": n}) to know that
 * earlier calls happened.
 *
 * `limits` is copied (NULL = defaults). Returns a new tool reference (see
 * tool.h) or NULL with the reason in hl_last_error() (HL_ERR_UNSUPPORTED
 * without the sandbox). Thread-safe: one code tool serves any number of
 * agents and runs at once.
 */
HL_API hl_tool *hl_sandbox_code_tool(const hl_sandbox_limits *limits);

/** hl_sandbox_code_tool() for Python: a tool named "run_python" (arguments
 *  `code` and `reset`, result {"result", "stdout", "stderr"}) whose code
 *  runs in a Python sandbox of the calling session, with the agent's
 *  other tools as functions whose calls are awaited (see README.md). `limits` is
 *  copied (NULL = defaults) and its language set to Python. Sessions keep
 *  their Python state between calls, and across processes with a state
 *  directory (hl_sandbox_code_tool_set_state_dir()), as run_javascript
 *  does. Returns a new tool reference or NULL with the
 *  reason in hl_last_error() (HL_ERR_UNSUPPORTED without the MicroPython
 *  module). Thread-safe, as hl_sandbox_code_tool(). */
HL_API hl_tool *hl_sandbox_python_tool(const hl_sandbox_limits *limits);

/** Keep every session's JavaScript (or Python) state of `code_tool` (made
 *  by hl_sandbox_code_tool() or hl_sandbox_python_tool()) in directory `dir` (which must exist and be
 *  writable; NULL stops saving): one snapshot file per session,
 *  <dir>/<hex of the session id>.snap, written after each call (a few
 *  hundred KiB to a few MiB each, sparse) and read by the session's first
 *  call in a process that does not hold it. Files of sessions that ended
 *  are the caller's to remove (or hl_sandbox_code_tool_forget()).
 *  HL_ERR_INVALID for another tool, HL_ERR_IO when `dir` is not a writable
 *  directory. Thread-safe. */
HL_API hl_status hl_sandbox_code_tool_set_state_dir(hl_tool *code_tool, const char *dir);

/** At most `max_sessions` (>= 1, default 32) sessions keep a sandbox in
 *  memory; idle ones over the bound are dropped at once (their state file,
 *  if any, stays). Thread-safe. */
HL_API hl_status hl_sandbox_code_tool_set_max_sessions(hl_tool *code_tool, size_t max_sessions);

/** Drop session `session_id`'s JavaScript state: its sandbox and its state
 *  file. HL_ERR_NOT_FOUND when there was none. Thread-safe; a call running
 *  in that session finishes in its sandbox, which is then freed. */
HL_API hl_status hl_sandbox_code_tool_forget(hl_tool *code_tool, const char *session_id);

#ifdef __cplusplus
}
#endif
#endif
