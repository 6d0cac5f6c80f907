/*
 * session_store.h - what the agent's run needs from stored sessions
 * (session_store.c): continuing an unfinished run, and reloading after a
 * lost race. Both are no-ops for in-memory sessions.
 */
#ifndef HL_SESSION_STORE_H
#define HL_SESSION_STORE_H

#include <stdbool.h>
#include "hookline/session.h"

/* How often hl_agent_run() reloads and retries after HL_ERR_CONFLICT. */
#define HL__STORE_CONFLICT_RETRIES 3

/* Before a top-level run of `input`: if `session` is stored and its log
 * ends in an unfinished run of the same input, mark the session so that
 * the run continues it (hl__session_take_resume). */
void hl__store_before_run(hl_session *session, const char *input);

/* After a run of `input` failed with HL_ERR_CONFLICT: reload a stored
 * session from its store. Returns HL__RETRY if the run should be tried
 * again; HL__RETRY_DONE with *answer (for hl_free) if the fresh log ends
 * in a finished run of the same input (a twin writer, such as a worker
 * thought dead, did the turn: doing it again would ask it twice);
 * HL__RETRY_STOP (the conflict's message kept in hl_last_error()) for an
 * in-memory session or when the reload failed. */
typedef enum { HL__RETRY_STOP, HL__RETRY, HL__RETRY_DONE } hl__retry;
hl__retry hl__store_reload_for_retry(hl_session *session, const char *input, char **answer);

#endif
