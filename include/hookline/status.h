/*
 * hookline/status.h - status codes, error messages, export macro.
 *
 * Every hookline function that can fail returns an hl_status. HL_OK is 0,
 * so `if (st != HL_OK)` and `if (st)` both work. A failing function also
 * leaves a readable message that names what went wrong and where: read it
 * with hl_last_error() on the same thread, right after the call. That is
 * the one error store of the agent API (a failed hl_agent_run() leaves its
 * run's message there last, after its observers ran); there is no
 * per-object copy to keep in step.
 *
 * Thread-safety: everything here is thread-safe; the last-error message
 * is kept per thread.
 */
#ifndef HOOKLINE_STATUS_H
#define HOOKLINE_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HL_API __attribute__((visibility("default")))
#define HL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HL_API
#define HL_PRINTF(fmt, args)
#endif

/** One status enum for the whole library. Values are stable. */
typedef enum hl_status {
  HL_OK = 0,
  HL_ERR_INVALID = 1,        /**< bad parameter to a function (NULL, out of range) */
  HL_ERR_NOMEM = 2,          /**< out of memory */
  HL_ERR_JSON = 3,           /**< malformed JSON text (position in the message) */
  HL_ERR_SCHEMA = 4,         /**< a JSON Schema that is itself invalid */
  HL_ERR_INVALID_ARGUMENTS = 5, /**< tool arguments that violate the tool's schema */
  HL_ERR_EXECUTION_FAILED = 6,  /**< a tool (or sandboxed code) ran and failed */
  HL_ERR_NOT_FOUND = 7,      /**< unknown tool, callback, key or file */
  HL_ERR_TIMEOUT = 8,        /**< a time limit was reached */
  HL_ERR_EXISTS = 9,         /**< a name that is already taken (duplicate tool) */
  HL_ERR_ABORTED = 10,       /**< a hook aborted the run */
  HL_ERR_CANCELLED = 11,     /**< cancelled from another thread */
  HL_ERR_MAX_TURNS = 12,     /**< the agent reached its turn limit without an answer */
  HL_ERR_PROVIDER = 13,      /**< the model provider failed (bad response, refused) */
  HL_ERR_HTTP = 14,          /**< an HTTP error status from the server */
  HL_ERR_NETWORK = 15,       /**< could not connect, connection lost */
  HL_ERR_TOO_LARGE = 16,     /**< a size cap was exceeded (response, output, string) */
  HL_ERR_LIMIT = 17,         /**< a resource limit was exceeded (memory, invocations) */
  HL_ERR_SANDBOX = 18,       /**< the sandbox trapped or could not run the code */
  HL_ERR_IO = 19,            /**< file or stream I/O failed */
  HL_ERR_UNSUPPORTED = 20,   /**< not available in this build or for this object */
  HL_ERR_STATE = 21,         /**< object in the wrong state for this call (e.g. busy) */
  HL_ERR_AUTH = 22,          /**< the server refused the credentials (401/403) */
  HL_ERR_RATE_LIMIT = 23,    /**< the server kept answering 429 after all retries, or asked
                                  (Retry-After) to wait longer than the retry maximum */
  HL_INTERRUPTED = 24,       /**< not a failure: the run stopped at a tool-call boundary
                                  and waits for decisions (human approval); resume it */
  HL_ERR_CONFLICT = 25,      /**< a store write lost an optimistic-concurrency race:
                                  reload the session and retry */
  HL_PENDING = 26,           /**< not a failure: an asynchronous operation (a tool) will
                                  complete later */
  HL_STATUS_COUNT_           /**< not a status: number of values */
} hl_status;

/** Short static description of a status ("invalid arguments"). Never NULL. */
HL_API const char *hl_strerror(hl_status status);

/** Stable identifier of a status ("InvalidArguments", "Timeout", ...), the
 *  names the seeds use for error kinds. Never NULL. */
HL_API const char *hl_status_name(hl_status status);

/** The message of the last failure on the calling thread ("$.city: expected
 *  string, got number"). Never NULL; "" when nothing failed yet. The pointer
 *  stays valid until the next hookline call on this thread. */
HL_API const char *hl_last_error(void);

/** Status of the last failure on the calling thread (HL_OK if none). */
HL_API hl_status hl_last_status(void);

/** Set the calling thread's last error and return `status`, so that
 *  callbacks written by applications (tools, hooks, providers) can report
 *  failures the same way the library does: `return hl_fail(HL_ERR_EXECUTION_FAILED,
 *  "disk full: %s", path);`. The message is truncated at 1023 bytes. */
HL_API hl_status hl_fail(hl_status status, const char *fmt, ...) HL_PRINTF(2, 3);

/** va_list form of hl_fail(). */
HL_API hl_status hl_failv(hl_status status, const char *fmt, va_list ap);

/** Forget the calling thread's last error. */
HL_API void hl_clear_error(void);

/** A status with its message, as hooks and events see a run's error.
 *  `message` is borrowed from whoever passes the struct and is only valid
 *  during the callback that receives it. */
typedef struct hl_error {
  hl_status status;     /**< HL_OK when there is no error */
  const char *message;  /**< never NULL; "" when status is HL_OK */
} hl_error;

/** Free memory that hookline allocated and handed to you (strings returned
 *  through `char **out` parameters). Same as free(); exists so bindings and
 *  Windows-style heaps have one name to call. NULL is fine. */
HL_API void hl_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
