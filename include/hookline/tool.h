/*
 * hookline/tool.h - tools: declaration, JSON Schema validation, registry,
 * and the native C function backend.
 *
 * A tool has a name, a description and a JSON Schema for its arguments,
 * given raw (hl_tool_set_schema) or built (hl_tool_param). Before a tool
 * runs, its arguments are validated against the schema; a violation is an
 * HL_ERR_INVALID_ARGUMENTS result that the model sees, with the path of the
 * offending value ("$.city: expected string, got number").
 *
 * Supported JSON Schema subset: type (string, number, integer, boolean,
 * object, array, null, or an array of those), properties, required,
 * additionalProperties (false or a schema), items, enum, const, minimum,
 * maximum, minLength, maxLength, minItems, maxItems, description, title,
 * default ($ref, anyOf/oneOf/allOf are rejected as unsupported at
 * declaration time so nothing is silently unchecked).
 *
 * Lifetime: tools are reference counted because one tool may be shared by
 * several agents and registries. hl_tool_new() returns one reference owned
 * by the caller; a registry or agent that receives the tool takes its own
 * reference. Drop yours with hl_tool_unref().
 *
 * Thread-safety: configure a tool (param, schema, timeout) before sharing
 * it; after that, a tool is immutable and may be called from any number of
 * threads at once, so its function must be thread-safe for its user_data.
 * Refcounting is atomic. A registry is safe for concurrent readers; adding
 * while others read requires outside locking.
 */
#ifndef HOOKLINE_TOOL_H
#define HOOKLINE_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_context hl_context;   /* see context.h */
typedef struct hl_tool hl_tool;
typedef struct hl_tools hl_tools;

/* ------------------------------------------------------------------ */
/* JSON Schema                                                         */
/* ------------------------------------------------------------------ */

/** Check that `schema` is a schema hookline can enforce. On failure
 *  HL_ERR_SCHEMA with a message naming the path in the schema
 *  ("schema $.properties.city.type: unknown type \"strin\""). */
HL_API hl_status hl_schema_check(const cJSON *schema);

/** Validate `value` against `schema` (assumed checked). HL_OK or
 *  HL_ERR_INVALID_ARGUMENTS with the first violation's path and reason in
 *  hl_last_error(): "$.items[2].qty: expected integer, got string",
 *  "$: missing required property \"city\"", "$.unit: \"kelvin\" is not one
 *  of [\"c\",\"f\"]", "$: unexpected property \"x\"". */
HL_API hl_status hl_schema_validate(const cJSON *schema, const cJSON *value);

/* ------------------------------------------------------------------ */
/* Tools                                                               */
/* ------------------------------------------------------------------ */

/**
 * A native tool function.
 *
 * `args` are the validated (and possibly hook-mutated) arguments, borrowed
 * for the call. On success set `*result` to a new cJSON value (a string
 * for plain text, or any JSON) and return HL_OK; the library takes it.
 * On failure return a status (usually HL_ERR_EXECUTION_FAILED) with a
 * message set through hl_fail(); the model then sees an error result with
 * that message. If you set *result and fail, the library frees it.
 * `ctx` is the run's context (cancellation, session state, nested tool
 * calls); it is NULL when the tool is called outside an agent run.
 * Called on threads of the library's worker pool when a model asks for
 * several tools at once or the tool has a time limit, and always on a
 * worker-pool thread in an asynchronous run (run.h). A function that
 * blocks holds its pool thread: size the pool for the blocking tools you
 * expect at once (hl_set_worker_threads()), or defer (hl_tool_defer()),
 * which holds none.
 * May return HL_PENDING after hl_tool_defer() to complete later.
 */
typedef hl_status (*hl_tool_fn)(hl_context *ctx, const cJSON *args,
                                cJSON **result, void *user_data);

/** Releases user_data. The one convention of the API: an object made with
 *  user_data (tool, observer, custom agent) takes its free function from
 *  hl_X_set_free_fn() and calls it once, when its last reference goes; a
 *  hook definition carries it in hl_hook_def.free_user_data. A constructor
 *  that fails leaves user_data to the caller. */
typedef void (*hl_free_fn)(void *user_data);

/** New native tool with an empty object schema ({"type":"object",
 *  "properties":{}}). `name` must match [A-Za-z0-9_-]{1,64}: NULL and
 *  HL_ERR_INVALID in hl_last_error() otherwise. Strings are copied. */
HL_API hl_tool *hl_tool_new(const char *name, const char *description,
                            hl_tool_fn fn, void *user_data);
/** Take another reference. Returns `tool`. */
HL_API hl_tool *hl_tool_ref(hl_tool *tool);
/** Drop a reference; the last one frees the tool (and calls its free_fn). */
HL_API void hl_tool_unref(hl_tool *tool);
/** Function to release user_data when the tool is freed. */
HL_API void hl_tool_set_free_fn(hl_tool *tool, hl_free_fn free_fn);

/** Schema builder: add a property. `type` is one of "string", "number",
 *  "integer", "boolean", "object", "array". HL_ERR_SCHEMA for an unknown
 *  type, HL_ERR_EXISTS for a duplicate parameter name. */
HL_API hl_status hl_tool_param(hl_tool *tool, const char *name, const char *type,
                               const char *description, bool required);
/** Like hl_tool_param() for a string restricted to `values` (NULL-terminated). */
HL_API hl_status hl_tool_param_enum(hl_tool *tool, const char *name,
                                    const char *description, bool required,
                                    const char *const *values);
/** Add a property with a full sub-schema (deep-copied, checked), for nested
 *  objects and arrays. */
HL_API hl_status hl_tool_param_schema(hl_tool *tool, const char *name,
                                      const cJSON *schema, bool required);
/** Replace the whole schema from JSON text. HL_ERR_JSON for malformed text,
 *  HL_ERR_SCHEMA for an invalid schema; the tool keeps its old schema then. */
HL_API hl_status hl_tool_set_schema(hl_tool *tool, const char *schema_json);
/** Forbid properties not declared (additionalProperties: false). */
HL_API hl_status hl_tool_set_strict(hl_tool *tool, bool strict);
/** Time limit for one call in milliseconds (0 = none, the default). A call
 *  over the limit yields HL_ERR_TIMEOUT; the native function is left to
 *  finish on its thread and its late result is discarded.
 *  With a limit, each call runs the function on a thread of the library's
 *  worker pool (run.h) with a private copy of the arguments, inside the
 *  same tool call (hl_context_tool_call_id() answers, a sub-agent it runs
 *  nests under the call and may stop for approval); the calling thread
 *  waits aside from the pool. A call no pool thread took before the
 *  deadline never runs; one that outlives it stops counting against the
 *  pool's size. The call holds a reference to the tool, so the tool's
 *  free_fn may run on the pool thread. A function that outlives its limit
 *  keeps a valid `ctx` (the call holds a reference to it), but once the
 *  run that called it has ended, context functions do nothing
 *  (hl_context_cancelled() is true). */
HL_API void hl_tool_set_timeout_ms(hl_tool *tool, unsigned timeout_ms);

/** The tool's name and description (NULL if none), borrowed: valid while
 *  the tool lives. */
HL_API const char *hl_tool_name(const hl_tool *tool);
HL_API const char *hl_tool_description(const hl_tool *tool);
/** The argument schema, borrowed (valid while the tool lives and is not
 *  reconfigured). */
HL_API const cJSON *hl_tool_schema(const hl_tool *tool);
/** Every call of this tool needs a human's approval (interrupt.h): when an
 *  agent's run reaches a call of it, the call does not run (no before_tool
 *  hook, no TOOL_START); the turn's other calls do, and the run returns
 *  HL_INTERRUPTED with a state for hl_agent_resume(). Default false.
 *  HL_ERR_INVALID for a NULL tool. Configure-time: not while a run uses
 *  the tool. hl_tool_invoke() by hand ignores the flag. */
HL_API hl_status hl_tool_set_needs_approval(hl_tool *tool, bool needs_approval);
/** The flag set by hl_tool_set_needs_approval() (false for NULL). */
HL_API bool hl_tool_needs_approval(const hl_tool *tool);
/** The limit set by hl_tool_set_timeout_ms() (0: none). */
HL_API unsigned hl_tool_timeout_ms(const hl_tool *tool);
/** The user_data given to hl_tool_new(); still owned by the tool. */
HL_API void *hl_tool_user_data(const hl_tool *tool);

/**
 * Validate `args` against the schema and call the tool once, honouring its
 * timeout. No hooks or events: this is the bare backend call (the agent
 * wraps it in before_tool/after_tool; use hl_context_call_tool() for the
 * hooked path). HL_ERR_INVALID_ARGUMENTS, HL_ERR_EXECUTION_FAILED,
 * HL_ERR_TIMEOUT, HL_ERR_CANCELLED or the tool's own status; message in
 * hl_last_error(). On success *result is the caller's (JSON null when the
 * function set none). `args` NULL means {}. A failing function's message is
 * kept as is; one that failed without hl_fail() gets "tool "x" failed: ...".
 */
HL_API hl_status hl_tool_invoke(hl_tool *tool, hl_context *ctx,
                                const cJSON *args, cJSON **result);

/* ------------------------------------------------------------------ */
/* Asynchronous tools                                                  */
/* ------------------------------------------------------------------ */

/** The completion handle of a deferred tool call. */
typedef struct hl_tool_completion hl_tool_completion;

/**
 * Inside a tool function called by an agent run: defer this call's result.
 * Returns the call's completion handle; the function then returns
 * HL_PENDING (setting no result), and later, from any thread, someone
 * calls hl_tool_complete() exactly once with the outcome. Meanwhile the
 * call is in progress as far as hooks and events go (TOOL_END and
 * after_tool come with the completion), and the run's cancellation ends
 * the wait with HL_ERR_CANCELLED (a late completion is then dropped).
 * In a run started with hl_run_start() (run.h), no thread waits at all
 * (whatever the provider: one without an asynchronous start, such as the
 * scripted provider, blocks a worker for its model call only): the run's step goes on with the turn's other calls
 * and then lets go; the completion (or the run's cancellation) queues the
 * rest of the call (TOOL_END, after_tool) on the worker pool, and the
 * last pending call of the turn continues the run there (never inside
 * hl_tool_complete(), unless the pool has no thread and cannot start
 * one). Thousands of runs can be pending on a pool of one worker.
 * Elsewhere (hl_agent_run(), a run whose body blocks: custom agents,
 * around_model or around_tool hooks;
 * a nested hl_context_call_tool(); a sub-agent's run) the thread that
 * called the function waits for the completion without polling and
 * without holding a worker of the pool (it waits aside, and the pool may
 * start another thread meanwhile; run.h). A child run that
 * the completer starts (hl_context_run_agent() with the call's ctx) runs
 * inside this call, on whatever thread, as long as it is its run's only
 * deferred call pending (or runs on the pool, hl_work_parallel()): it
 * nests under the call in traces and may stop for approval (the
 * completer then completes with its HL_INTERRUPTED status).
 *
 * NULL with HL_ERR_STATE when the call cannot be deferred: outside a tool
 * function called by a run (hl_tool_invoke() called directly), from
 * another thread than the function's, for a tool with a time limit, or a
 * second time. If the function takes a handle and then returns something
 * other than HL_PENDING, that answer counts and the handle must still be
 * completed (its completion is ignored).
 */
HL_API hl_tool_completion *hl_tool_defer(hl_context *ctx);

/**
 * Complete a deferred call, from any thread, exactly once: `status` HL_OK
 * with `result` (taken; NULL means JSON null), or an error status (the
 * model sees "<StatusName>: <message>"; `message` is copied, NULL uses
 * the status's text; `result` is freed). The handle is released: do not
 * use it again. A second completion is ignored. NULL is ignored.
 * A completion after the run was cancelled (or ended) is harmless: it is
 * dropped. Does not run hooks or the run's next step on the calling
 * thread (see hl_tool_defer()); thread-safe.
 */
HL_API void hl_tool_complete(hl_tool_completion *completion, hl_status status,
                             cJSON *result, const char *message);

/* ------------------------------------------------------------------ */
/* Registry                                                            */
/* ------------------------------------------------------------------ */

/** New empty registry. Free with hl_tools_free(). */
HL_API hl_tools *hl_tools_new(void);
/** Drop the registry's references to its tools and free it. */
HL_API void hl_tools_free(hl_tools *tools);
/** Add a tool; the registry takes its own reference. HL_ERR_EXISTS if a tool
 *  of that name is present. */
HL_API hl_status hl_tools_add(hl_tools *tools, hl_tool *tool);
/** Find by name; borrowed pointer or NULL. */
HL_API hl_tool *hl_tools_find(const hl_tools *tools, const char *name);
/** Number of tools in the registry (0 for NULL). */
HL_API size_t hl_tools_count(const hl_tools *tools);
/** The i-th tool in insertion order (borrowed), NULL past the end. */
HL_API hl_tool *hl_tools_at(const hl_tools *tools, size_t i);
/** Remove by name; HL_ERR_NOT_FOUND if absent. */
HL_API hl_status hl_tools_remove(hl_tools *tools, const char *name);

#ifdef __cplusplus
}
#endif
#endif
