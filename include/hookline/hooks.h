/*
 * hookline/hooks.h - hook chains (ABI v2): one registration call, declared
 * effects, versioned argument structs, wrap and stream points.
 *
 * Hooks decide; observers (observer.h) watch. The full rules, H1-H19, with
 * the test that holds each, are in docs/hooks.md; this header is the
 * reference for the types.
 *
 * Points (H1, H15-H17):
 *   before_agent / after_agent    around one run of an agent
 *   before_model / after_model    around one model call
 *   before_tool  / after_tool     around one tool call
 *   around_model / around_tool    wrap the model call / the tool call; the
 *                                 hook gets a `next` it may call zero, one
 *                                 or several times (retry, timeout, cache,
 *                                 fallback model)
 *   model_chunk                   every streamed text or tool-argument
 *                                 delta; pass, edit, drop or abort
 *
 * A hook function has one shape at every point:
 *
 *   hl_hook_action fn(hl_context *ctx, const hl_X_args *args, hl_X_out *out,
 *                     void *user_data);
 *
 * `args` is what the hook sees (borrowed for the call), `out` is where it
 * puts what it produces. Both start with a `size` field that the library
 * sets to the size of the struct it was built with: fields are only ever
 * appended, and a hook compiled against a newer header tests
 * HL_HOOK_HAS(out, field) before it touches a field the running library may
 * not have. Hooks compiled against an older header simply do not see the
 * new fields.
 *
 * Return values (H2): HL_HOOK_CONTINUE (go on), HL_HOOK_OVERRIDE (the hook
 * put its value in `out`; the rest of the chain does not run, H3), or
 * HL_HOOK_ABORT (stop the run; `return hl_hook_abort("why")`, H10).
 * before_tool hooks also have HL_HOOK_INTERRUPT (H20, interrupt.h): the
 * call waits for a human's approve / reject / edit, the rest of the chain
 * does not run, the turn's other calls do, and the run returns
 * HL_INTERRUPTED with a state that hl_agent_resume() continues. Any other
 * point that returns it aborts the run (a hook bug, reported).
 *
 * Flags declare what a hook does, and the library holds it to them:
 *   HL_HOOK_OBSERVE        it only looks (0). It costs the run nothing but
 *                          the call: the history, the tool declarations and
 *                          the tool arguments it sees are the run's own,
 *                          borrowed and read-only.
 *   HL_HOOK_EDIT_REQUEST   before_model: out->request is the run's private
 *                          copy of the request, which the hook may change.
 *   HL_HOOK_EDIT_ARGS      before_tool: out->args is the call's own copy of
 *                          the arguments: edit it in place, or replace it
 *                          (cJSON_Delete the old tree, store a new one).
 *   HL_HOOK_EDIT_RESPONSE  after_model: out->edit is the response the run
 *                          will use (NULL after a failed call); edit it in
 *                          place.
 *   HL_HOOK_EDIT_CHUNK     model_chunk: out->text replaces the delta,
 *                          out->drop drops it.
 *   HL_HOOK_DECIDE         it may return OVERRIDE, ABORT or (before_tool)
 *                          INTERRUPT; at an around
 *                          point, it may call next other than exactly once.
 * The run copies what it would otherwise borrow (history, declarations,
 * arguments) only when some hook at that point declares the matching
 * EDIT flag, and it hashes the value around a hook (to report edits in a
 * HOOK trace event) only around such a hook when the run is observed.
 * A hook that acts beyond its flags (returns OVERRIDE or ABORT without
 * DECIDE, writes an edit field without the EDIT flag, calls next twice
 * without DECIDE) aborts the run with a message naming the hook and the
 * missing flag: a declaration that lies must not go unnoticed. Flags that
 * mean nothing at a point are refused by hl_hooks_add() (HL_ERR_INVALID).
 *
 * What OVERRIDE means at each point:
 *   before_agent  out->answer is the run's answer; no model or tool call
 *                 runs, after_agent does not run, AGENT_END fires (H4)
 *   after_agent   out->answer replaces the final answer
 *   before_model  out->response is used and the model is not called; no
 *                 around_model or after_model hook runs (H5)
 *   after_model   out->response replaces the response, also turning a
 *                 failed call into a success (H6)
 *   before_tool   out->result is the tool's result; the tool does not run
 *                 (no around_tool, TOOL_START or TOOL_END); after_tool runs
 *                 and sees it (H8)
 *   after_tool    out->result replaces the result, also after an error (H9)
 * Override values must be heap objects (char * from malloc, hl_response,
 * cJSON); the library takes them whatever the hook returns. A before_tool
 * or after_tool override without a value gives JSON null, an agent
 * override without one gives "", a model override without a response
 * aborts the run (a hook bug, reported).
 *
 * Around points (H15, H16): hooks nest in chain order, the first
 * registered outermost; the innermost next is the model call (with its
 * LM_START/LM_END) or the tool's execution (TOOL_START, validation, the
 * backend, TOOL_END). The wrap's outcome is out->response / out->result
 * when set; when not, out->status if the hook set one (its message is the
 * thread's hl_last_error(), so `out->status = hl_fail(...)` reads well);
 * otherwise the outcome of its last next call, so a pass-through wrap is
 * `hl_next_model(args->next, NULL, &out->response); return
 * HL_HOOK_CONTINUE;`. A wrap that never called next and produced nothing
 * is an error of the call (HL_ERR_STATE). CONTINUE and OVERRIDE mean the
 * same at around points; ABORT stops the run. after_model / after_tool see
 * the wrap's outcome.
 *
 * model_chunk (H17): runs on the provider's thread for each delta, before
 * observers (RESPONSE delta events) and the agent's token callback see it.
 * If some chunk hook declares EDIT_CHUNK, the run keeps what was passed on
 * and, when a hook edited or dropped something, the response that
 * after_model sees is made of exactly the streamed text and tool arguments
 * (a tool call whose streamed arguments no longer parse as JSON fails the
 * model call with HL_ERR_PROVIDER).
 *
 * Order (H11): for each point the global chain (hl_hooks_global()) runs
 * first, then the chains of the agent's ancestors from the root down (a
 * child inherits its parent's hooks, H14), then the agent's own chain, each
 * in registration order. The first override anywhere ends the point.
 *
 * Trace: every hook that returns OVERRIDE or ABORT, and every editing hook
 * that changed its value and continued, is reported to observers as an
 * HL_EVENT_HOOK event (hook name, point, action; for tool hooks the call
 * id and the arguments after the hook).
 *
 * Thread-safety: register hooks before runs start. Adding to or removing
 * from a chain while an agent that uses it runs is not allowed (dispatch
 * takes no lock, to stay in the nanoseconds). Tool hooks run on the
 * library's worker pool (run.h) when tools run in parallel, on several
 * threads at once, and must be thread-safe for their user_data; a tool
 * with a time limit runs on a pool thread but its hooks on the calling
 * thread; chunk hooks run on the thread that drives the model call.
 * Which thread that is, for blocking and asynchronous runs: run.h (in an
 * asynchronous run, hooks run on the library's worker pool, and chunk
 * hooks of an HTTP provider's call on the event loop's thread).
 */
#ifndef HOOKLINE_HOOKS_H
#define HOOKLINE_HOOKS_H

#include <stddef.h>
#include <stdbool.h>
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
  HL_HOOK_ABORT = 2,
  /** before_tool only, with HL_HOOK_DECIDE: stop the run at this tool-call
   *  boundary for a human's decision (interrupt.h). The other calls of the
   *  turn still run; the run returns HL_INTERRUPTED with its state.
   *  out->reason (optional, malloc'd) says why. */
  HL_HOOK_INTERRUPT = 3
} hl_hook_action;

typedef enum hl_hook_point {
  HL_HOOK_BEFORE_AGENT = 0,
  HL_HOOK_AFTER_AGENT = 1,
  HL_HOOK_BEFORE_MODEL = 2,
  HL_HOOK_AFTER_MODEL = 3,
  HL_HOOK_BEFORE_TOOL = 4,
  HL_HOOK_AFTER_TOOL = 5,
  HL_HOOK_AROUND_MODEL = 6,
  HL_HOOK_AROUND_TOOL = 7,
  HL_HOOK_MODEL_CHUNK = 8,
  HL_HOOK_POINT_COUNT = 9
} hl_hook_point;

/** What a hook declares it does (bit flags, see the top of this file). */
enum {
  HL_HOOK_OBSERVE = 0,
  HL_HOOK_EDIT_REQUEST = 1u << 0,
  HL_HOOK_EDIT_ARGS = 1u << 1,
  HL_HOOK_EDIT_RESPONSE = 1u << 2,
  HL_HOOK_EDIT_CHUNK = 1u << 3,
  HL_HOOK_DECIDE = 1u << 4
};

/** "before_agent", ..., "model_chunk" ("unknown" out of range). Static
 *  string; thread-safe. */
HL_API const char *hl_hook_point_name(hl_hook_point point);
/** "continue", "override", "abort", "interrupt" ("unknown"). Static;
 *  thread-safe. */
HL_API const char *hl_hook_action_name(hl_hook_action action);

/** True if the struct `s` points to (an args or out struct, or an
 *  hl_hook_def) has `field`, i.e. the library that filled it knows it. */
#define HL_HOOK_HAS(s, field) \
  ((s)->size >= offsetof(__typeof__(*(s)), field) + sizeof((s)->field))

/** The tool call a tool hook is about. Borrowed for the call. */
typedef struct hl_tool_call {
  const char *id;        /**< the model's call id ("" if it gave none) */
  const char *name;      /**< the tool name the model asked for */
  const hl_tool *tool;   /**< the declaration, or NULL for an unknown tool */
} hl_tool_call;

/** The continuation an around hook calls (opaque; valid during the hook). */
typedef struct hl_hook_next hl_hook_next;

/* ---- per-point argument and result structs (append-only) ---------- */

typedef struct hl_before_agent_args {
  size_t size;
  const char *input;             /**< the user's input */
} hl_before_agent_args;
typedef struct hl_before_agent_out {
  size_t size;
  char *answer;                  /**< OVERRIDE: the run's answer (malloc'd) */
} hl_before_agent_out;

typedef struct hl_after_agent_args {
  size_t size;
  const char *answer;            /**< the answer the run produced */
} hl_after_agent_args;
typedef struct hl_after_agent_out {
  size_t size;
  char *answer;                  /**< OVERRIDE: the replacement (malloc'd) */
} hl_after_agent_out;

typedef struct hl_before_model_args {
  size_t size;
  const hl_request *request;     /**< what the model will be sent */
} hl_before_model_args;
typedef struct hl_before_model_out {
  size_t size;
  hl_request *request;           /**< EDIT_REQUEST: the same request, editable; else NULL */
  hl_response *response;         /**< OVERRIDE: the response to use */
} hl_before_model_out;

typedef struct hl_after_model_args {
  size_t size;
  const hl_request *request;     /**< the request the model was sent */
  const hl_response *response;   /**< NULL if the call failed */
  const hl_error *error;         /**< the call's error ({HL_OK, ""} on success) */
} hl_after_model_args;
typedef struct hl_after_model_out {
  size_t size;
  hl_response *response;         /**< OVERRIDE: the replacement */
  hl_response *edit;             /**< EDIT_RESPONSE: args->response, editable; else NULL */
} hl_after_model_out;

typedef struct hl_before_tool_args {
  size_t size;
  const hl_tool_call *call;
  const cJSON *args;             /**< the arguments as they are now */
  /* appended for interrupts (test HL_HOOK_HAS(args, approved)) */
  bool approved;                 /**< the call runs on hl_agent_resume() after a human
                                      approved (or edited) it: an INTERRUPT is then
                                      taken as CONTINUE, the decision stands */
} hl_before_tool_args;
typedef struct hl_before_tool_out {
  size_t size;
  cJSON *args;                   /**< EDIT_ARGS: the call's own arguments (edit or
                                      replace; NULL becomes {}); else NULL */
  cJSON *result;                 /**< OVERRIDE: the tool's result */
  /* appended for interrupts (test HL_HOOK_HAS(out, reason)) */
  char *reason;                  /**< INTERRUPT: why the call waits (malloc'd; the
                                      library takes it whatever the hook returns) */
} hl_before_tool_out;

typedef struct hl_after_tool_args {
  size_t size;
  const hl_tool_call *call;
  const cJSON *args;             /**< the (edited) arguments the tool ran with */
  const cJSON *result;           /**< NULL on error */
  const hl_error *error;
} hl_after_tool_args;
typedef struct hl_after_tool_out {
  size_t size;
  cJSON *result;                 /**< OVERRIDE: the replacement */
} hl_after_tool_out;

typedef struct hl_around_model_args {
  size_t size;
  const hl_request *request;
  hl_hook_next *next;            /**< for hl_next_model() */
} hl_around_model_args;
typedef struct hl_around_model_out {
  size_t size;
  hl_response *response;         /**< the wrap's response (owned by the run) */
  hl_status status;              /**< or the wrap's error, when response is NULL */
} hl_around_model_out;

typedef struct hl_around_tool_args {
  size_t size;
  const hl_tool_call *call;
  const cJSON *args;
  hl_hook_next *next;            /**< for hl_next_tool() */
} hl_around_tool_args;
typedef struct hl_around_tool_out {
  size_t size;
  cJSON *result;                 /**< the wrap's result (owned by the run) */
  hl_status status;              /**< or the wrap's error, when result is NULL */
} hl_around_tool_out;

typedef enum hl_chunk_kind {
  HL_CHUNK_TEXT = 0,             /**< a piece of the answer's text */
  HL_CHUNK_TOOL_ARGS = 1         /**< a piece of a tool call's JSON arguments */
} hl_chunk_kind;

typedef struct hl_model_chunk_args {
  size_t size;
  hl_chunk_kind kind;
  const char *text;              /**< the delta as it is now (earlier hooks' edits applied) */
  size_t index;                  /**< HL_CHUNK_TOOL_ARGS: the call's position in the stream */
  const char *call_id;           /**< HL_CHUNK_TOOL_ARGS: the call id, NULL if not known yet */
  const char *tool_name;         /**< HL_CHUNK_TOOL_ARGS: the tool, NULL if not known yet */
  /** The end-of-stream call (added after the first ABI v2 release: read
   * it only when args->size > offsetof(hl_model_chunk_args, final)).
   * After the last delta of a streamed answer, hooks that declare
   * HL_HOOK_EDIT_CHUNK, and only they, are called once more with kind
   * HL_CHUNK_TEXT, text "" and final true, so that a hook which held
   * text back (to see a pattern split across deltas whole) passes it on
   * in out->text; later hooks see it as the text, and observers and the
   * token callback get it as the last delta when it is not empty. A
   * drop at this call only empties the text: later hooks still get the
   * call. A failed model call also gets it (the text passed on is then
   * discarded), so held state can be released. */
  bool final;
} hl_model_chunk_args;
typedef struct hl_model_chunk_out {
  size_t size;
  char *text;                    /**< EDIT_CHUNK: replacement delta (malloc'd) */
  bool drop;                     /**< EDIT_CHUNK: drop the delta */
} hl_model_chunk_out;

/* ---- hook functions ------------------------------------------------ */

#define HL_HOOK_FN_(point)                                                         \
  typedef hl_hook_action (*hl_##point##_fn)(hl_context *ctx, const hl_##point##_args *args, \
                                            hl_##point##_out *out, void *user_data)
HL_HOOK_FN_(before_agent);
HL_HOOK_FN_(after_agent);
HL_HOOK_FN_(before_model);
HL_HOOK_FN_(after_model);
HL_HOOK_FN_(before_tool);
HL_HOOK_FN_(after_tool);
HL_HOOK_FN_(around_model);
HL_HOOK_FN_(around_tool);
HL_HOOK_FN_(model_chunk);
#undef HL_HOOK_FN_

/** The function of a hook; set the member named after the def's point. */
typedef union hl_hook_fn {
  hl_before_agent_fn before_agent;
  hl_after_agent_fn after_agent;
  hl_before_model_fn before_model;
  hl_after_model_fn after_model;
  hl_before_tool_fn before_tool;
  hl_after_tool_fn after_tool;
  hl_around_model_fn around_model;
  hl_around_tool_fn around_tool;
  hl_model_chunk_fn model_chunk;
} hl_hook_fn;

/** Record why a hook aborts and return HL_HOOK_ABORT:
 *  `return hl_hook_abort("user %s is blocked", id);`. The message (copied,
 *  at most 1023 bytes) is kept per thread, so call it from the hook itself,
 *  on the thread the hook runs on. NULL fmt: "aborted by a hook". Out of
 *  memory for the copy: the run's error says "aborted (message lost: out
 *  of memory)". Call it only to return its value: a message recorded by a
 *  hook that returns another action stays on its thread until the next
 *  abort there takes it (or the thread exits, which frees it). */
HL_API hl_hook_action hl_hook_abort(const char *fmt, ...) HL_PRINTF(1, 2);

/**
 * around_model: call the next wrap, or the model. `request` NULL means
 * args->request; another request (say, a copy naming a fallback model) is
 * borrowed for the call. On HL_OK *response is the hook's (hand it on in
 * out->response, or hl_response_free() it); on failure *response is NULL
 * and the message is in hl_last_error(). HL_ERR_INVALID for a NULL or
 * finished `next`. Call it from the hook's own thread.
 */
HL_API hl_status hl_next_model(hl_hook_next *next, const hl_request *request,
                               hl_response **response);
/**
 * around_tool: call the next wrap, or the tool. `args` NULL means
 * args->args; other arguments are borrowed for the call. On HL_OK *result
 * is the hook's (hand it on in out->result or cJSON_Delete() it); a tool
 * error (unknown tool, invalid arguments, the tool failed) returns its
 * status with the message in hl_last_error().
 */
HL_API hl_status hl_next_tool(hl_hook_next *next, const cJSON *args, cJSON **result);

/* ---- registration -------------------------------------------------- */

/** A hook definition. Fill it with designated initialisers and
 *  `.size = sizeof(hl_hook_def)`: fields are only ever appended. */
typedef struct hl_hook_def {
  size_t size;                 /**< sizeof(hl_hook_def) of the caller's header */
  hl_hook_point point;
  const char *name;            /**< copied; labels traces and hl_hooks_remove(); NULL: "anonymous" */
  unsigned flags;              /**< HL_HOOK_OBSERVE or EDIT_* / DECIDE bits allowed at `point` */
  hl_hook_fn fn;               /**< the member for `point` */
  void *user_data;             /**< passed to fn */
  hl_free_fn free_user_data;   /**< if set, called with user_data once the hook is
                                    removed or its set freed (also when add fails) */
} hl_hook_def;

/** A set of chains, one per hook point. */
typedef struct hl_hooks hl_hooks;

/** New empty set, owned by the caller: free with hl_hooks_free(). NULL on
 *  out of memory. Thread-safe. */
HL_API hl_hooks *hl_hooks_new(void);
/** Free the set and, for each hook, its free_user_data. NULL is fine.
 *  Never while a run uses the set. For the global set (hl_hooks_global())
 *  this empties it instead. */
HL_API void hl_hooks_free(hl_hooks *hooks);
/** The process-wide chains, run before every agent's own. Never NULL.
 *  Configure at start-up, before any agent runs. */
HL_API hl_hooks *hl_hooks_global(void);

/**
 * Append the hook `def` describes to the chain of def->point (the def is
 * read, not kept). HL_ERR_INVALID (and free_user_data already called, so
 * nothing leaks) for NULL hooks or def, a size too small for the fields
 * read, a bad point, no function, or flags the point does not allow:
 *   before_agent, after_agent, after_tool, around_model, around_tool: DECIDE
 *   before_model: EDIT_REQUEST, DECIDE    after_model: EDIT_RESPONSE, DECIDE
 *   before_tool: EDIT_ARGS, DECIDE        model_chunk: EDIT_CHUNK, DECIDE
 * Configure-time only: not while a run uses the set.
 */
HL_API hl_status hl_hooks_add(hl_hooks *hooks, const hl_hook_def *def);

/* Convenience wrappers: hl_hooks_add() with no free function. */
HL_API hl_status hl_hooks_add_before_agent(hl_hooks *hooks, const char *name, unsigned flags,
                                           hl_before_agent_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_after_agent(hl_hooks *hooks, const char *name, unsigned flags,
                                          hl_after_agent_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_before_model(hl_hooks *hooks, const char *name, unsigned flags,
                                           hl_before_model_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_after_model(hl_hooks *hooks, const char *name, unsigned flags,
                                          hl_after_model_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_before_tool(hl_hooks *hooks, const char *name, unsigned flags,
                                          hl_before_tool_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_after_tool(hl_hooks *hooks, const char *name, unsigned flags,
                                         hl_after_tool_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_around_model(hl_hooks *hooks, const char *name, unsigned flags,
                                           hl_around_model_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_around_tool(hl_hooks *hooks, const char *name, unsigned flags,
                                          hl_around_tool_fn fn, void *user_data);
HL_API hl_status hl_hooks_add_model_chunk(hl_hooks *hooks, const char *name, unsigned flags,
                                          hl_model_chunk_fn fn, void *user_data);

/** Remove every hook called `name` from every chain, calling their
 *  free_user_data; HL_ERR_NOT_FOUND if none. Configure-time only. */
HL_API hl_status hl_hooks_remove(hl_hooks *hooks, const char *name);
/** Number of hooks at `point` (0 for NULL or a bad point). Reads only:
 *  safe while runs use the set, not while it is being changed. */
HL_API size_t hl_hooks_count(const hl_hooks *hooks, hl_hook_point point);
/** Name of the i-th hook at `point`, NULL past the end. Borrowed: valid
 *  until the hook is removed or the set freed. Reads only, as above. */
HL_API const char *hl_hooks_name_at(const hl_hooks *hooks, hl_hook_point point, size_t i);
/** Remove every hook, calling their free_user_data. Configure-time only. */
HL_API void hl_hooks_clear(hl_hooks *hooks);
/**
 * Move every hook of `src` to the end of the matching chain of `dst`, in
 * order, and its observers (hl_hooks_add_observer(), observer.h) after
 * dst's; `src` is left empty. All or nothing: on HL_ERR_NOMEM both sets
 * are unchanged. HL_ERR_INVALID for NULL sets or dst == src. Fill a
 * private set and move it to install a group of hooks whole or not at all
 * (the plugin loader does this with a plugin's init, plugin.h).
 * Configure-time only, for both sets.
 */
HL_API hl_status hl_hooks_move(hl_hooks *dst, hl_hooks *src);

#ifdef __cplusplus
}
#endif
#endif
