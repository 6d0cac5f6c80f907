/*
 * hookline/provider.h - model providers: the interface every model speaks.
 *
 * A provider turns an hl_request into an hl_response. Built-in providers:
 * scripted (scripted.h), OpenAI-compatible (openai.h) and Anthropic
 * (anthropic.h). Applications write their own by filling hl_provider_ops
 * with `.size = sizeof(hl_provider_ops)`.
 *
 * Streaming: when req->stream is true a provider that can stream calls
 * hl_context_emit_delta() for each text fragment and
 * hl_context_emit_tool_delta() for each piece of a tool call's arguments as
 * they arrive, stops with the status they return when it is not HL_OK (a
 * model_chunk hook aborted), and still returns the complete assembled
 * response (which the agent makes consistent with the deltas when hooks
 * edited them). Providers emit API_REQUEST and
 * API_RESPONSE events with hl_context_emit(); the agent emits LM_START and
 * LM_END around the call.
 *
 * Lifetime: reference counted; an agent takes its own reference.
 *
 * Thread-safety: a provider may be called from several agents and threads
 * at once; implementations must allow that (the built-ins do).
 *
 * Threads: complete() runs on the caller's thread (an agent's run thread,
 * or a worker of the pool in an asynchronous run, run.h) and so do the
 * deltas and events it emits. start() (optional, below) answers without
 * blocking. The built-in HTTP providers
 * do their network work on the process's event loop (one per process, see
 * pool.h: its thread, or the waiting caller's own thread when nothing else
 * is in flight) while the calling thread waits; they still emit
 * every delta and event from the calling thread (openai.h).
 */
#ifndef HOOKLINE_PROVIDER_H
#define HOOKLINE_PROVIDER_H

#include "status.h"
#include "model.h"
#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_provider hl_provider;

/** Completion of an asynchronous model call (hl_provider_ops.start,
 *  hl_provider_start()). On HL_OK `response` is the callee's (free it with
 *  hl_response_free()); otherwise it is NULL and hl_last_error() on the
 *  calling thread holds the message. Called exactly once. */
typedef void (*hl_provider_done_fn)(hl_status status, hl_response *response,
                                    void *user_data);

/** A provider implementation. Set `size` to sizeof(hl_provider_ops):
 *  functions are only ever appended, and those past the size given are
 *  taken as unset. */
typedef struct hl_provider_ops {
  size_t size;
  /** Short name for events and messages ("openai"). */
  const char *name;
  /**
   * Answer `req`. `ctx` is NULL outside an agent run. On HL_OK set *out to
   * a new response (the caller takes it). On failure return a status with
   * a message set by hl_fail() and leave *out NULL. Poll
   * hl_context_cancelled(ctx) and return HL_ERR_CANCELLED promptly.
   */
  hl_status (*complete)(void *impl, hl_context *ctx, const hl_request *req,
                        hl_response **out);
  /** Free `impl` (last reference dropped). May be NULL. */
  void (*destroy)(void *impl);
  /**
   * Optional: answer `req` without blocking the calling thread. Return
   * HL_OK once the call is under way, and then call `done` exactly once,
   * from any thread (maybe before start returns); or return an error with
   * hl_fail() and never call `done`. `req` and `ctx` stay valid until
   * `done` runs; the deltas and events go through `ctx` from whichever
   * thread decodes the answer. The agent's asynchronous runs (run.h) use
   * it; without it they call complete() on a worker thread. The built-in
   * HTTP providers implement it on the process's event loop: encoding on
   * the caller's thread, sending, decoding, deltas, model_chunk hooks,
   * API_RESPONSE and `done` on the loop thread.
   */
  hl_status (*start)(void *impl, hl_context *ctx, const hl_request *req,
                     hl_provider_done_fn done, void *user_data);
} hl_provider_ops;

/** Wrap an implementation. `ops` is copied (ops->name is borrowed and must
 *  outlive the provider: use a string literal). Returns one reference, the
 *  caller's. NULL with HL_ERR_INVALID for NULL ops, an ops->size that does
 *  not cover `complete`, or no complete function. Thread-safe. */
HL_API hl_provider *hl_provider_new(const hl_provider_ops *ops, void *impl);
/** Take one more reference (returns `provider`; NULL is fine). Thread-safe. */
HL_API hl_provider *hl_provider_ref(hl_provider *provider);
/** Drop a reference; the last one calls ops->destroy(impl). NULL is fine.
 *  Thread-safe. */
HL_API void hl_provider_unref(hl_provider *provider);
/** ops->name ("provider" when unset, "" for NULL). Borrowed from ops.
 *  Thread-safe. */
HL_API const char *hl_provider_name(const hl_provider *provider);
/** The `impl` given to hl_provider_new(), still owned by the provider.
 *  Thread-safe (the pointer never changes). */
HL_API void *hl_provider_impl(const hl_provider *provider);

/** Call the provider directly, without an agent (ctx may be NULL). On HL_OK
 *  *out is the caller's (hl_response_free()); `req` stays the caller's.
 *  Checks its arguments and that a provider returning HL_OK produced a
 *  response. Thread-safe as far as the implementation is (see above). */
HL_API hl_status hl_provider_complete(hl_provider *provider, hl_context *ctx,
                                      const hl_request *req, hl_response **out);

/** Start an asynchronous call through ops->start (see there); `done` is
 *  called exactly once iff this returns HL_OK, and a response it gets
 *  always has a message. HL_ERR_UNSUPPORTED when the provider has no start
 *  function (call hl_provider_complete() on a thread that may block).
 *  `req` (and `ctx`) must stay valid until `done` runs. Thread-safe as far
 *  as the implementation is. */
HL_API hl_status hl_provider_start(hl_provider *provider, hl_context *ctx,
                                   const hl_request *req, hl_provider_done_fn done,
                                   void *user_data);
/** True if the provider has an asynchronous start function. */
HL_API bool hl_provider_can_start(const hl_provider *provider);

#ifdef __cplusplus
}
#endif
#endif
