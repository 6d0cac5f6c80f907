/*
 * status.c - status names and the per-thread last-error message.
 *
 * The message lives in a thread-local buffer so that failing functions can
 * report what went wrong without allocating (an out-of-memory failure must
 * still be reportable) and without any locking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/status.h"
#include "util.h"

/* The thread's last error lives in the thread's library state (util.h),
 * next to what observers' deliveries count, so that one thread-local
 * look-up per event serves both. */
static _Thread_local hl__thread_state hl_thread = {.error = {.status = HL_OK}};
#define HL_ERRBUF_SIZE sizeof hl_thread.error.message

/* Indexed by status value; the two tables must stay in enum order. */
static const char *const hl_descriptions[HL_STATUS_COUNT_] = {
    [HL_OK] = "ok",
    [HL_ERR_INVALID] = "invalid parameter",
    [HL_ERR_NOMEM] = "out of memory",
    [HL_ERR_JSON] = "malformed JSON",
    [HL_ERR_SCHEMA] = "invalid JSON Schema",
    [HL_ERR_INVALID_ARGUMENTS] = "invalid arguments",
    [HL_ERR_EXECUTION_FAILED] = "execution failed",
    [HL_ERR_NOT_FOUND] = "not found",
    [HL_ERR_TIMEOUT] = "timed out",
    [HL_ERR_EXISTS] = "already exists",
    [HL_ERR_ABORTED] = "aborted by a hook",
    [HL_ERR_CANCELLED] = "cancelled",
    [HL_ERR_MAX_TURNS] = "turn limit reached",
    [HL_ERR_PROVIDER] = "model provider failed",
    [HL_ERR_HTTP] = "HTTP error",
    [HL_ERR_NETWORK] = "network error",
    [HL_ERR_TOO_LARGE] = "too large",
    [HL_ERR_LIMIT] = "resource limit exceeded",
    [HL_ERR_SANDBOX] = "sandbox error",
    [HL_ERR_IO] = "I/O error",
    [HL_ERR_UNSUPPORTED] = "unsupported",
    [HL_ERR_STATE] = "wrong state",
    [HL_ERR_AUTH] = "authentication failed",
    [HL_ERR_RATE_LIMIT] = "rate limited",
    [HL_INTERRUPTED] = "interrupted, waiting for decisions",
    [HL_ERR_CONFLICT] = "conflicting concurrent write",
    [HL_PENDING] = "pending",
};

static const char *const hl_names[HL_STATUS_COUNT_] = {
    [HL_OK] = "Ok",
    [HL_ERR_INVALID] = "Invalid",
    [HL_ERR_NOMEM] = "NoMemory",
    [HL_ERR_JSON] = "InvalidJson",
    [HL_ERR_SCHEMA] = "InvalidSchema",
    [HL_ERR_INVALID_ARGUMENTS] = "InvalidArguments",
    [HL_ERR_EXECUTION_FAILED] = "ExecutionFailed",
    [HL_ERR_NOT_FOUND] = "NotFound",
    [HL_ERR_TIMEOUT] = "Timeout",
    [HL_ERR_EXISTS] = "AlreadyExists",
    [HL_ERR_ABORTED] = "Aborted",
    [HL_ERR_CANCELLED] = "Cancelled",
    [HL_ERR_MAX_TURNS] = "MaxTurns",
    [HL_ERR_PROVIDER] = "ProviderError",
    [HL_ERR_HTTP] = "HttpError",
    [HL_ERR_NETWORK] = "NetworkError",
    [HL_ERR_TOO_LARGE] = "TooLarge",
    [HL_ERR_LIMIT] = "LimitExceeded",
    [HL_ERR_SANDBOX] = "SandboxError",
    [HL_ERR_IO] = "IoError",
    [HL_ERR_UNSUPPORTED] = "Unsupported",
    [HL_ERR_STATE] = "InvalidState",
    [HL_ERR_AUTH] = "AuthError",
    [HL_ERR_RATE_LIMIT] = "RateLimited",
    [HL_INTERRUPTED] = "Interrupted",
    [HL_ERR_CONFLICT] = "Conflict",
    [HL_PENDING] = "Pending",
};

/* The enum may arrive as any int from an application (or a binding), so
 * check the range in unsigned arithmetic before indexing. */
static int hl_status_known(hl_status status) {
  return (unsigned)status < (unsigned)HL_STATUS_COUNT_;
}

const char *hl_strerror(hl_status status) {
  return hl_status_known(status) ? hl_descriptions[status] : "unknown status";
}

const char *hl_status_name(hl_status status) {
  return hl_status_known(status) ? hl_names[status] : "Unknown";
}

const char *hl_last_error(void) { return hl_thread.error.message; }

hl_status hl_last_status(void) { return hl_thread.error.status; }

_Thread_local hl__thread_state *hl__thread_state_ptr __attribute__((tls_model("initial-exec")));

hl__thread_state *hl__thread_state_first(void) { return hl__thread_state_ptr = &hl_thread; }

hl_status hl_failv(hl_status status, const char *fmt, va_list ap) {
  /* Format into a scratch buffer first: callers may pass hl_last_error()
   * itself as an argument ("context: %s", hl_last_error()). */
  char tmp[HL_ERRBUF_SIZE];
  if (fmt) {
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0) tmp[0] = '\0';
  } else {
    snprintf(tmp, sizeof tmp, "%s", hl_strerror(status));
  }
  memcpy(hl_thread.error.message, tmp, sizeof tmp);
  hl_thread.error.status = status;
  return status;
}

hl_status hl_fail(hl_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hl_status st = hl_failv(status, fmt, ap);
  va_end(ap);
  return st;
}

void hl_clear_error(void) {
  hl_thread.error.message[0] = '\0';
  hl_thread.error.status = HL_OK;
}

void hl_free(void *ptr) { free(ptr); }
