/*
 * agent_internal.h - the structures shared by the files of the agent core
 * (hooks.c, hook_dispatch.c, stream.c, context.c, agent.c, run.c,
 * tool_exec.c, subagent.c).
 * Not part of the public API.
 *
 * The shape of a run: hl_agent_run() (or hl_context_run_agent() for a
 * child) calls hl__invoke(), which builds an hl_context, fires the agent
 * hooks and events around the body (the model loop for an LLM agent, the
 * user's function for a custom agent) and tears the context down. The
 * context carries the flattened hook and observer stacks so that dispatch
 * is a walk over two small arrays: no lock, no allocation.
 */
#ifndef HL_AGENT_INTERNAL_H
#define HL_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hookline/agent.h"
#include "hookline/context.h"
#include "hookline/hooks.h"
#include "hookline/observer.h"
#include "agent/observer_internal.h"
#include "hookline/provider.h"
#include "hookline/session.h"
#include "core/tool_internal.h"

#define HL__MSG_MAX 1024

/* ------------------------------------------------------------------ */
/* Hook chains (hooks.c)                                               */
/* ------------------------------------------------------------------ */

typedef struct hl__hook {
  hl_hook_fn fn;
  void *user_data;
  hl_free_fn free_fn;  /* NULL in a fork's copies: the original owns user_data */
  unsigned flags;      /* what the hook declared (HL_HOOK_EDIT_*, HL_HOOK_DECIDE) */
  char *name;          /* never NULL: "anonymous" when registered without one */
} hl__hook;

typedef struct hl__hook_chain {
  hl__hook *items;
  size_t count, cap;
  unsigned flags;      /* union of the items' flags */
} hl__hook_chain;

/* An observer a plugin brought along (hl_hooks_add_observer()): named
 * like its hooks, so that removing them by name removes it too. */
typedef struct hl__hooks_observer {
  char *name;
  hl_observer *obs; /* a reference */
} hl__hooks_observer;

struct hl_hooks {
  hl__hook_chain chains[HL_HOOK_POINT_COUNT];
  hl__hooks_observer *observers;
  size_t n_observers, cap_observers;
};

/* Take the message of this thread's last hl_hook_abort() (hooks.c):
 * copies it into out[n] (truncated, NUL-terminated), frees it and
 * returns true; false (out untouched) when no hl_hook_abort() is pending,
 * so that a hook returning ABORT without calling it does not pick up a
 * stale message of an earlier run. Only the calling thread's message. */
bool hl__abort_take(char *out, size_t n);

/* Append copies of every hook of `src` to `dst` without their free
 * functions (the state they release stays owned by `src`). */
hl_status hl__hooks_copy_into(hl_hooks *dst, const hl_hooks *src);

/* Run the chain of `point` (a before/after point or model_chunk) over the
 * context's hook stack (global, ancestors root first, own). `args` and
 * `out` are the point's structs, sizes set by the caller; the caller puts
 * the editable value (request, arguments, response) in out's edit field,
 * or NULL when it made none (no hook at the point declares the EDIT
 * flag). On return args' mirror of it (args->request, args->args) holds
 * the value after the hooks, out's override field the override value.
 * Emits HL_EVENT_HOOK for overrides, aborts and edits (edits looked for
 * only around editing hooks of an observed run). On ABORT the run is
 * marked aborted and hl_last_error() holds the message. */
hl_hook_action hl__dispatch(hl_context *ctx, hl_hook_point point, void *args, void *out);

/* The innermost step of an around chain: the model call (value is the
 * hl_request, *result an hl_response) or the tool's execution (value the
 * cJSON arguments, *result the cJSON result). Message in hl_last_error(). */
typedef hl_status (*hl__inner_fn)(hl_context *ctx, void *data, const void *value,
                                  void **result);
/* Run the around chain of `point` (HL_HOOK_AROUND_MODEL or _TOOL) with
 * `inner` at its centre. HL_ERR_ABORTED when a hook aborted the run. */
hl_status hl__around(hl_context *ctx, hl_hook_point point, const hl_tool_call *call,
                     const void *value, hl__inner_fn inner, void *data, void **result);

/* Flags declared at `point` by any hook of the context's stack. */
unsigned hl__ctx_hook_flags(const hl_context *ctx, hl_hook_point point);

/* Streaming (stream.c): one model call's deltas through model_chunk. */
typedef struct hl__stream_call {
  char *id;
  size_t index;
  char *args;
  size_t len, cap;
} hl__stream_call;
typedef struct hl__stream {
  bool keep;            /* an EDIT_CHUNK hook exists: keep what passes */
  bool edited;          /* a hook changed or dropped a delta */
  bool streamed;        /* some delta went through the chain: end-of-stream call due */
  char *text;
  size_t len, cap;
  hl__stream_call *calls;
  size_t n_calls;
} hl__stream;
/* Before a provider call: forget the previous call's deltas. */
void hl__stream_begin(hl_context *ctx);
/* After it: when a hook edited the stream, make `resp` say what was
 * streamed. Frees what the stream kept. */
hl_status hl__stream_end(hl_context *ctx, hl_response *resp);

/* ------------------------------------------------------------------ */
/* Agent (agent.c)                                                     */
/* ------------------------------------------------------------------ */

typedef enum hl__agent_kind { HL__AGENT_LLM, HL__AGENT_CUSTOM } hl__agent_kind;

struct hl_agent {
  atomic_uint refs;
  hl__agent_kind kind;
  char *name;
  char *instruction;
  /* The instruction as a system message, kept with it by its setter
   * (NULL when it is NULL or ""): requests that borrow the history borrow
   * it too instead of building one per model call (run.c, issue 12). */
  hl_message *system_msg;
  char *description;
  char *model;
  char *output_key;
  hl_provider *provider;
  hl_tools *tools;
  hl_hooks *hooks;
  hl_observer **observers;
  size_t n_observers, cap_observers;
  hl_agent **subs;
  size_t n_subs, cap_subs;
  int max_turns;
  int parallel_tools;
  double temperature;
  int max_tokens;
  char **stop;
  size_t n_stop, cap_stop;
  hl_tool_choice tool_choice;
  char *tool_choice_name;
  char *response_format_name;
  cJSON *response_schema;
  int response_retries; /* asks again after a schema violation (structured.c) */
  bool stream;
  hl_token_fn token_fn;
  void *token_user_data;
  hl_session *session; /* used when hl_agent_run() gets NULL */

  /* custom agents */
  hl_agent_run_fn custom_fn;
  void *custom_user_data;
  hl_free_fn custom_free;

  /* A fork keeps its original alive: the copied hooks' user_data and a
   * custom agent's user_data belong to it. */
  hl_agent *origin;

  /* hl_agent_cancel() bumps this; a run is cancelled once it differs from
   * the value the run saw when it started. */
  atomic_uint_fast64_t cancel_gen;

  pthread_mutex_t lock; /* last_usage */
  hl_usage last_usage;
};

/* The agent a tool made by hl_agent_as_tool() runs (borrowed), or NULL
 * for any other tool (subagent.c). */
hl_agent *hl__tool_agent(const hl_tool *tool);
/* True if `from` holds `target`, itself or through the references it
 * keeps (sub-agents, agents its tools run, a fork's original): giving
 * `target` a reference to `from` would then make a cycle. Configure-time,
 * like the lists it walks. */
bool hl__agent_reaches(const hl_agent *from, const hl_agent *target);


/* ------------------------------------------------------------------ */
/* Context (context.c)                                                 */
/* ------------------------------------------------------------------ */

struct hl_context {
  /* A context normally dies with its run, but a tool that outlived its
   * time limit still runs on a detached thread with this pointer; such a
   * thread holds a reference (hl__ctx_retain) so that polling
   * hl_context_cancelled() stays safe after the run returned. */
  atomic_uint refs;
  atomic_bool finished; /* the run returned: ctx functions become no-ops */
  hl_agent *agent;      /* a reference is held for the context's life */
  hl_context *parent;   /* a reference is held too (cancellation walks up) */
  hl_session *session;
  bool owns_session;
  char invocation_id[40];
  /* For tracers (hl_event.parent_call_id, session_id): the parent's tool
   * call this run was started inside (owned; NULL if none) and the
   * session's id (borrowed from the session, which outlives the events). */
  char *parent_call_id;
  const char *session_id;
  char *branch;
  char *input;
  int turn;
  int schema_retries; /* asks again after a response-schema violation (structured.c) */
  uint_fast64_t cancel_gen;
  /* Set by hl_run_cancel() for an asynchronous run (run_async.c): the
   * run's own flag, which outlives the context. NULL otherwise. */
  const atomic_bool *run_cancel;
  /* A top-level run on a stored session: its cancel also cuts the
   * session's store call in progress (hl__session_watch_cancel). */
  hl_cancel_reg *store_cut;
  /* Set by hl_context_cancel(): this run and those below it. */
  atomic_bool self_cancel;
  int64_t start_ns;

  /* Flattened stacks. hooks: global, ancestors root first, own.
   * observers: own, then the parent's stack (which ends at the root's);
   * the global observers are notified after these. */
  hl_hooks **hooks;
  size_t n_hooks;
  hl__stream stream;    /* the current model call's deltas (stream.c) */
  hl_observer **observers;
  size_t n_observers;
  /* The union of what `observers` want (hl_observer_set_events()), fixed
   * at the start; the global observers' is read at each event. */
  hl_event_mask wants;
  /* The global observers when the run started (a reference; NULL: none):
   * delivery through it needs no lock while the list is unchanged. */
  struct hl__observer_snap *globals;

  atomic_uint nested_calls; /* ids for hl_context_call_tool() */

  pthread_mutex_t lock; /* fields below */
  hl_usage usage;       /* this run's model calls and its children's */
  int turns;
  bool aborted;
  /* Allocated at the abort, the rare case: an inline HL__MSG_MAX buffer
   * made every run's context a "large" malloc request, and each of those
   * makes glibc consolidate its fast bins (~14k instructions a run). */
  char *abort_msg;
  /* Deferred tool calls of this run still pending (agent/call.h). */
  struct hl__call *deferred_calls;

  /* Interrupts (interrupt.c, resume.c): the waiting turn's calls as
   * {"results": [...], "pending": [...]}, set on the run's own thread
   * once its tool calls are done; the resume this run continues, or NULL. */
  cJSON *interrupt_calls;
  const struct hl__resume *resume;
  /* A custom agent's children and their outcomes (resume_custom.c), under
   * lock; NULL until its body starts one. */
  struct hl__custom_rec *custom;
};

/* Build a context for a run of `agent` under `parent` (NULL: top level).
 * The session is borrowed unless owns_session. */
hl_status hl__ctx_new(hl_agent *agent, hl_context *parent, hl_session *session,
                      bool owns_session, const char *input, hl_context **out);
/* The run is over: drop the session (freed if owned) and make every
 * context function a harmless no-op for late callers. Then release. */
void hl__ctx_finish(hl_context *ctx);
/* Reference counting. A context handed to work that may outlive the run
 * (a tool call abandoned at its time limit) is retained until the work is
 * done; in between the pointer stays valid and, once the run returned,
 * every hl_context_* function is a harmless no-op. Work handed to the
 * pool keeps it through the call's record (call.h). Both accept NULL.
 * Thread-safe. */
void hl__ctx_retain(hl_context *ctx);
void hl__ctx_release(hl_context *ctx);

/* Fill in time, ids, branch and turn, then deliver to the observer stack
 * and to the global observers. Cheap when nobody listens. */
void hl__emit(hl_context *ctx, hl_event *event);

/* structured.c: check a final answer against the agent's response schema
 * (HL_OK at once without one). A violation with retries left emits
 * CUSTOM "structured_output_invalid", counts in *retries_used and sets
 * *retry to the user message that tells the model what was wrong (the
 * caller's); with none left it fails (HL_ERR_PROVIDER, the violation in
 * the message). */
hl_status hl__structured_check(hl_context *ctx, const char *text, int *retries_used,
                               hl_message **retry);
/* True if some observer would see an event of this run. */
bool hl__ctx_observed(const hl_context *ctx);
/* True if some observer of this run wants events of `type`: build an
 * event (and whatever it carries) only then. */
bool hl__ctx_wants(const hl_context *ctx, hl_event_type type);

/* Mark the run aborted with `message` (the first abort wins) and, since a
 * hook's abort stops the whole tree, its ancestors too. */
void hl__ctx_abort(hl_context *ctx, const char *message);
/* Copy of the abort state: true and the message if the run was aborted. */
bool hl__ctx_aborted(hl_context *ctx, char *msg, size_t size);
/* The abort message as a malloc'd copy if the run was aborted (NULL when
 * it was not, or without memory: hl__ctx_aborted(ctx, NULL, 0) tells).
 * For frames under a tool call, where a message buffer would add to the
 * stack of every thread that runs tools. */
char *hl__ctx_abort_message(hl_context *ctx);
/* usage += add, under the lock. */
void hl__ctx_add_usage(hl_context *ctx, const hl_usage *add);
/* The one announcement of a cancellation (context_cancel.c): call the
 * cancel functions of every registration whose run is now cancelled, then
 * the process's internal listener (the HTTP loop, core/cancel_notify.h).
 * hl_agent_cancel() and hl_run_cancel() call it, after the cancellation
 * is visible to hl_context_cancelled(). Any thread. */
void hl__ctx_notify_cancel(void);

int64_t hl__now_ns(void);
int64_t hl__mono_ns(void);

/* ------------------------------------------------------------------ */
/* Runs (run.c), tools (tool_exec.c)                                   */
/* ------------------------------------------------------------------ */

/* One run of `agent` as described in agent.h. On HL_OK *answer is the
 * caller's; otherwise the status with its message in hl_last_error(). */
hl_status hl__invoke(hl_agent *agent, hl_context *parent, hl_session *session,
                     bool owns_session, const char *input, char **answer);

/* The outcome of one tool call as the model will see it. */
typedef struct hl__tool_outcome {
  cJSON *result;        /* owned; NULL on error */
  hl_status status;     /* HL_OK or the error kind */
  char *message;        /* owned error message, NULL on success */
  bool aborted;         /* a hook aborted the run */
  struct hl__pending *pending; /* the call waits for a decision (interrupt.c) */
} hl__tool_outcome;

/* The full hooked path of one call: before_tool, TOOL_START, the backend,
 * TOOL_END, after_tool. Takes ownership of `args` (NULL means {}). */
void hl__tool_call_exec(hl_context *ctx, const char *call_id, const char *name,
                        cJSON *args, hl__tool_outcome *out);
void hl__tool_outcome_clear(hl__tool_outcome *out);

/* Run the tool calls of `assistant` (in parallel when several) and return
 * the message of their results in the model's order in *results (always
 * set, also when the run was aborted, so the history stays well formed).
 * *summary gets TURN_END's data, or NULL when no observer listens. */
hl_status hl__run_tool_calls(hl_context *ctx, const hl_message *assistant,
                             hl_message **results, cJSON **summary);

/* The same for a caller that need not wait (an asynchronous run's turn):
 * with `done` set, a call whose tool deferred its result (hl_tool_defer)
 * is suspended instead of waited for; then this returns HL_PENDING, no
 * thread waits, `assistant` must stay alive, and when the last suspended
 * call ends (on a pool thread) done(user, status, results, summary) gets
 * what hl__run_tool_calls() would have returned (results and summary
 * owned). Any other status: as hl__run_tool_calls(), `done` not called. */
typedef void (*hl__tools_done_fn)(void *user, hl_status st, hl_message *results, cJSON *summary);
hl_status hl__run_tool_calls_async(hl_context *ctx, const hl_message *assistant,
                                   hl_message **results, cJSON **summary,
                                   hl__tools_done_fn done, void *user);

/* For tests: the budget under which a response's calls after the first,
 * by their tools' estimates (core/tool_internal.h), run on the run's
 * thread without waking a worker (0 restores the default, 20 us).
 * Thread-safe. A test that counts wake-ups sets it high, so that a
 * sanitizer's slowness cannot make a quick call look slow. */
void hl__tools_set_quick_batch_ns(long long ns);

/* A continued unfinished run (store.h): if the history ends in tool calls
 * without results, run them (again: at-least-once) and append their
 * results. HL_OK when there were none (unfinished_run.c). */
hl_status hl__continue_unfinished_run(hl_context *ctx);

#endif
