/*
 * hookline/observer.h - events and observers.
 *
 * Observers watch every event of a run; they cannot change it (H13: an
 * observer that fails or is slow never changes the result of a run; only a
 * hook's abort stops a run). Two styles: one function for every event, or
 * a struct of per-event functions where unset ones are skipped; both carry
 * a user_data pointer.
 *
 * Lifetime: observers are reference counted; an agent that receives one
 * takes its own reference. An hl_event and everything it points to is
 * borrowed for the duration of the callback only: copy what you keep
 * (hl_event_to_json() does).
 *
 * Thread-safety: events are delivered synchronously on the thread that
 * produced them, and parallel tool calls produce events on several
 * threads of the library's worker pool at once (as do sub-agents run by
 * a tool with a time limit, the sandbox's parallel callbacks and the
 * parallel workflow agent's children), so observer callbacks must be
 * thread-safe for their user_data. Which thread produces which event in
 * blocking and asynchronous runs (worker pool, event loop): run.h.
 * The built-in observers are. Creating and configuring an observer is not
 * thread-safe; attach it before runs start.
 */
#ifndef HOOKLINE_OBSERVER_H
#define HOOKLINE_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "model.h"
#include "hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hl_event_type {
  HL_EVENT_AGENT_START = 0,   /**< text = user input */
  HL_EVENT_AGENT_END,         /**< text = answer (NULL on error), error, usage, duration_ms */
  HL_EVENT_TURN_START,        /**< turn */
  HL_EVENT_TURN_END,          /**< response, data = array of tool results */
  HL_EVENT_LM_START,          /**< name = model, prompt_tokens (an estimate: the bytes of
                                   every part's text in the request's messages, / 4
                                   rounded up; costs the same at any history length) */
  HL_EVENT_LM_END,            /**< name = model, usage, response (NULL on error), error (success = error.status == HL_OK), duration_ms */
  HL_EVENT_API_REQUEST,       /**< name = provider, data = the wire payload (API keys never included) */
  HL_EVENT_API_RESPONSE,      /**< name = provider, data = the decoded body, usage, duration_ms, error */
  HL_EVENT_RESPONSE,          /**< text = the answer text; is_delta: a streamed fragment */
  HL_EVENT_TOOL_START,        /**< name = tool, call_id, args (after before_tool mutation) */
  HL_EVENT_TOOL_END,          /**< name = tool, call_id, args, result (NULL on error), error, duration_ms */
  HL_EVENT_HOOK,              /**< name = hook name, hook_point, hook_action; for tool hooks call_id, args, tool */
  HL_EVENT_STDERR_WRITE,      /**< text */
  HL_EVENT_TRACE_COMPLETE,    /**< turns, usage (sum of the run), duration_ms */
  HL_EVENT_CUSTOM,            /**< name, data */
  HL_EVENT_INTERRUPT,         /**< the run stopped for approval (interrupt.h): call_id = the
                                   first waiting call, data = {"calls":[ids]}, error =
                                   {HL_INTERRUPTED, why} */
  HL_EVENT_RESUME,            /**< hl_agent_resume() continues the run: data = the
                                   decisions of this run's calls, turn = the resumed turn */
  HL_EVENT_TYPE_COUNT
} hl_event_type;

/** "agent_start", "tool_end", ... */
HL_API const char *hl_event_type_name(hl_event_type type);

/** One event. Fields not listed for a type above are zero/NULL. Fields
 *  are only ever appended: `size` is the size of the struct the library
 *  filled in (it sets it on every event it delivers), so an observer built
 *  against a newer header reads a new field only if
 *  HL_EVENT_HAS(event, field). Events given to hl_context_emit() need not
 *  set it. */
typedef struct hl_event {
  size_t size;
  hl_event_type type;
  int64_t time_ns;             /**< CLOCK_REALTIME, nanoseconds */
  const char *invocation_id;
  const char *agent_name;
  const char *branch;          /**< "root", "root/researcher" */
  int turn;
  const char *name;
  const char *call_id;
  const char *text;
  bool is_delta;
  const cJSON *args;
  const cJSON *result;
  const cJSON *data;
  const hl_response *response;
  const hl_usage *usage;
  hl_error error;
  double duration_ms;
  int64_t prompt_tokens;
  int turns;
  hl_hook_point hook_point;
  hl_hook_action hook_action;
  /* Appended for tracers (OpenTelemetry): the run tree's identity and the
   * GenAI attributes. Test with HL_EVENT_HAS(event, parent_invocation_id). */
  /** Every event of a child run (sub-agent, agent-as-tool, forked run):
   *  the invocation id of the run that started it; NULL at top level. */
  const char *parent_invocation_id;
  /** Every event of a child run started from inside a tool call of its
   *  parent (agent-as-tool, a tool running an agent): that call's id in
   *  the parent run; NULL otherwise (a workflow agent's children). */
  const char *parent_call_id;
  /** TOOL_START, TOOL_END and tool-point HOOK events of a call made from
   *  inside another tool call of the same run (hl_context_call_tool() from
   *  a tool: the sandbox's code mode): the outer call's id; else NULL. */
  const char *outer_call_id;
  /** Every event of a run: the id of its session (the conversation). */
  const char *session_id;
  /** LM_START, LM_END: the provider's name (hl_provider_name()). */
  const char *provider;
  /** TOOL_START, TOOL_END and tool-point HOOK events: the tool (NULL for
   *  an unknown tool). Borrowed
   *  like the rest: for hl_tool_name(), hl_mcp_tool_server() and such. */
  const struct hl_tool *tool;
} hl_event;

#define HL_EVENT_HAS(ev, field) \
  ((ev)->size >= offsetof(hl_event, field) + sizeof((ev)->field))

/** The event as JSON (deep copy, caller frees): {"type":"tool_start",
 *  "branch":..., "tool":..., "args":{...}, ...}. Fields that are unset are
 *  left out. The appended tracer fields appear when the event's `size`
 *  covers them (HL_EVENT_HAS): "parent_invocation_id", "parent_call_id",
 *  "outer_call_id", "session_id" (non-empty), "provider" (LM events) and
 *  "tool" (a tool hook's event: hl_tool_name() of `tool`). Thread-safe
 *  (reads only the event). */
HL_API cJSON *hl_event_to_json(const hl_event *event);
/** One readable line without newline, `key=value` pairs:
 *  "tool_start call_id=c1 tool=calculator args={\"x\":1}". For hl_free(). */
HL_API char *hl_event_format(const hl_event *event);

typedef struct hl_observer hl_observer;

/** Function style: receives every event. Return 0; non-zero marks a
 *  failure, which is counted (hl_observer_failures()) and otherwise ignored. */
typedef int (*hl_observer_fn)(const hl_event *event, void *user_data);

/** Struct style: one optional function per event type. Set `size` to
 *  sizeof(hl_observer_ops): functions are only ever appended, and those
 *  past the size given are taken as unset. */
typedef struct hl_observer_ops {
  size_t size;
  hl_observer_fn agent_start, agent_end, turn_start, turn_end, lm_start, lm_end,
      api_request, api_response, response, tool_start, tool_end, hook,
      stderr_write, trace_complete, custom;
  /* appended (interrupts): set size to sizeof(hl_observer_ops) to use them */
  hl_observer_fn interrupt, resume;
} hl_observer_ops;

/* ---- wanted event types --------------------------------------------- */

/** A set of event types: bit (1 << type) for each type in the set. */
typedef uint32_t hl_event_mask;
/** The set holding only `type`. */
#define HL_EVENT_MASK(type) ((hl_event_mask)1u << (unsigned)(type))
/** Every event type (what an observer that declares nothing gets). */
#define HL_EVENT_MASK_ALL ((hl_event_mask)((1u << HL_EVENT_TYPE_COUNT) - 1u))
_Static_assert(HL_EVENT_TYPE_COUNT <= 32, "hl_event_mask has 32 bits");

/**
 * Declare the event types `obs` wants (a union of HL_EVENT_MASK() bits;
 * bits of unknown types are ignored). The observer is then called only for
 * those, and the library does not build an event (no allocation, no copy,
 * no JSON: the scripted provider's request copy for API_REQUEST, the tool
 * summary of TURN_END, the prompt estimate of LM_START) that no observer
 * of the run wants. What is built is decided from the union over the
 * run's observers (the agent's, its ancestors', its hook sets' and the
 * global ones), so declaring few types is what makes observing cheap.
 *
 * Defaults, when nothing is declared: a function-style observer, logging
 * and collecting want everything (HL_EVENT_MASK_ALL); a struct-style one
 * wants the types whose function is set; noop wants nothing; a composite
 * wants what its children want (its own declaration, if any, narrows
 * that further). hl_observer_set_events(obs, HL_EVENT_MASK_ALL) restores
 * "everything".
 *
 * Takes effect for the runs that start after the call (a run decides
 * once, at its start, from its observers; global observers are read at
 * each event). HL_ERR_INVALID for NULL. Thread-safe, but meant for
 * configuration time, like the rest of an observer's set-up.
 */
HL_API hl_status hl_observer_set_events(hl_observer *obs, hl_event_mask wanted);
/** The types `obs` wants now (see the defaults above; a composite's is its
 *  children's union). 0 for NULL. Thread-safe. */
HL_API hl_event_mask hl_observer_events(const hl_observer *obs);

/** New function-style observer. One reference, the caller's. */
HL_API hl_observer *hl_observer_new(hl_observer_fn fn, void *user_data);
/** New struct-style observer; `ops` is copied. NULL with HL_ERR_INVALID
 *  for NULL ops or an ops->size that does not cover its first function. */
HL_API hl_observer *hl_observer_new_ops(const hl_observer_ops *ops, void *user_data);
HL_API hl_observer *hl_observer_ref(hl_observer *obs);
HL_API void hl_observer_unref(hl_observer *obs);
/** Release user_data with `free_fn` when the observer is freed. */
HL_API void hl_observer_set_free_fn(hl_observer *obs, hl_free_fn free_fn);
/** Deliver one event (what the library does for each event). Thread-safe. */
HL_API void hl_observer_notify(hl_observer *obs, const hl_event *event);
/** How many callbacks reported failure so far. */
HL_API uint64_t hl_observer_failures(const hl_observer *obs);

/* Built-ins */

/** Does nothing. */
HL_API hl_observer *hl_observer_noop(void);
/** Writes hl_event_format() lines, prefixed ("[app] tool_start ..."), to
 *  `out` (borrowed; must outlive the observer). Deltas are not logged. */
HL_API hl_observer *hl_observer_logging(FILE *out, const char *prefix);
/** Keeps a JSON copy of every event. */
HL_API hl_observer *hl_observer_collecting(void);
/** Collected events of `type` (HL_EVENT_TYPE_COUNT for all) so far. */
HL_API size_t hl_observer_collected_count(hl_observer *collecting, hl_event_type type);
/** Copy of the collected events as a JSON array (caller frees). */
HL_API cJSON *hl_observer_collected(hl_observer *collecting);
/** Forget the collected events. */
HL_API void hl_observer_collected_clear(hl_observer *collecting);
/** Fans every event out to its children, in the order added. */
HL_API hl_observer *hl_observer_composite(void);
/** Add a child to a composite (takes a reference). */
HL_API hl_status hl_observer_composite_add(hl_observer *composite, hl_observer *child);

/** True if some observer of the run of `ctx` wants events of `type`
 *  (hl_observer_set_events()): lets code that emits events with
 *  hl_context_emit() (a provider, a tool, a plugin) skip building an event
 *  nobody will see. False for NULL or an unknown type. Thread-safe; one
 *  load or two. */
HL_API bool hl_context_wants_event(const hl_context *ctx, hl_event_type type);

/**
 * Attach an observer to a hook set: it is notified of the events of every
 * run that uses the set (an agent's own set, hl_agent_hooks(): that
 * agent's runs and their children; the global set: every run), as if it
 * were added to each of them. This is how a plugin brings an observer
 * along (plugin.h): its init adds the observer to the set it is given,
 * and the loader moves it with the hooks, all or nothing.
 *
 * `name` (copied) ties the observer to hooks of the same name:
 * hl_hooks_remove(hooks, name) drops it too, and hl_hooks_clear() and
 * hl_hooks_free() drop every one. The set takes its own reference.
 * HL_ERR_INVALID for NULL arguments, HL_ERR_NOMEM. Configure-time only,
 * like hl_hooks_add(): not while a run uses the set (runs that started
 * before keep the observers they had).
 */
HL_API hl_status hl_hooks_add_observer(hl_hooks *hooks, const char *name, hl_observer *obs);
/** Observers attached to `hooks` (hl_hooks_add_observer()). */
HL_API size_t hl_hooks_observer_count(const hl_hooks *hooks);

/** Process-wide observers, notified of every run's events after the
 *  agent's own. Takes a reference. Configure at start-up; thread-safe
 *  (the list is an immutable snapshot swapped atomically: a run reads it
 *  without a lock while it is unchanged, and one added or cleared mid-run
 *  is seen from the run's next event). */
HL_API hl_status hl_observer_add_global(hl_observer *obs);
/** Drop every global observer (tests). Thread-safe. A run in progress
 *  keeps a reference to the list it started with until it ends (it no
 *  longer notifies them), so an observer's free_fn may run then. */
HL_API void hl_observer_clear_global(void);

#ifdef __cplusplus
}
#endif
#endif
