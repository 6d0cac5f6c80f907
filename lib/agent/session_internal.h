/*
 * session_internal.h - what the agent loop needs from session.c beyond
 * the public API: the "one run at a time" flag and history rollback.
 */
#ifndef HL_SESSION_INTERNAL_H
#define HL_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "hookline/session.h"

/* Mark the session busy for a run. Returns false (and sets nothing) if a
 * run already holds it: the caller then fails with HL_ERR_STATE. Atomic,
 * callable from any thread. */
bool hl__session_try_begin(hl_session *session);

/* Release the flag taken by hl__session_try_begin(). */
void hl__session_end(hl_session *session);

/* True while a run holds the session. */
bool hl__session_busy(const hl_session *session);

/* Drop history messages past the first `count` (a failed run can undo what
 * it appended). No-op if the history is not longer than `count`. */
void hl__session_truncate(hl_session *session, size_t count);

/* Generate a random id of `hex_digits` lowercase hex digits (at most 64)
 * into `out` (hex_digits + 1 bytes). Uses getrandom()/dev/urandom; falls
 * back to a time-and-counter mix if neither works. The agent uses it for
 * invocation ids ("inv-" + 32 digits). */
void hl__random_hex(char *out, size_t hex_digits);

#endif
