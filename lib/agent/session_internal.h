/*
 * session_internal.h - what the agent loop needs from session.c beyond
 * the public API: the "one run at a time" flag and history rollback.
 */
#ifndef HL_SESSION_INTERNAL_H
#define HL_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "hookline/context.h"
#include "hookline/session.h"

/* Mark the session busy for a run. Returns false (and sets nothing) if a
 * run already holds it: the caller then fails with HL_ERR_STATE. Atomic,
 * callable from any thread. */
bool hl__session_try_begin(hl_session *session);

/* Release the flag taken by hl__session_try_begin(). While the flag is
 * taken, the public functions that change the history
 * (hl_session_add_message, hl_session_reset, hl_session_reload) refuse
 * with HL_ERR_STATE: the run borrows history messages (its requests, the
 * turn's response) and would read them freed. The run itself changes
 * the history through the functions below. */
void hl__session_end(hl_session *session);

/* True while a run holds the session. */
bool hl__session_busy(const hl_session *session);

/* hl_session_add_message() for the run that holds the session: never
 * refused for the run's own claim. */
hl_status hl__session_append(hl_session *session, hl_message *msg);

/* Drop history messages past the first `count` (a failed run can undo what
 * it appended). No-op if the history is not longer than `count`. */
void hl__session_truncate(hl_session *session, size_t count);

/* If `list` ends with the session's whole history, borrowed (the very
 * messages, as a request that no hook edits holds them), true with *n =
 * the history's length and *bytes = hl__message_text_bytes() of those
 * messages summed, which the session keeps as messages come and go: O(1)
 * however long the history. False when it does not (a copy of the
 * history, another request): the caller counts for itself. Locked. */
bool hl__session_borrowed_text_bytes(const hl_session *session, const hl_messages *list,
                                     size_t *n, size_t *bytes);

/* Generate a random id of `hex_digits` lowercase hex digits (at most 64)
 * into `out` (hex_digits + 1 bytes). Uses getrandom()/dev/urandom; falls
 * back to a time-and-counter mix if neither works. The agent uses it for
 * invocation ids ("inv-" + 32 digits). */
void hl__random_hex(char *out, size_t hex_digits);

/* The run on this session continues the log's unfinished run instead of
 * appending its input (set by hl_agent_run for a stored session, taken
 * by the top-level LLM loop). */
void hl__session_set_resume(hl_session *session, bool on);
bool hl__session_take_resume(hl_session *session);

/* Write-through (lib/store/session_store.c attaches one): append() gets
 * each change as an event encoded as JSON text (agent/session_events.h;
 * borrowed), after the held ones (see hl__session_hold_next), to write as
 * one group before the change is made; a failure keeps the change from
 * happening. Called with the session's write lock held,
 * from whichever thread makes the change. destroy(ud) when the session
 * is freed or another sink replaces it.
 *
 * The sink also does what a stored session needs around a run, so that
 * the agent knows the store only through this struct (store/ builds on
 * agent/, not the other way round): hl__session_before_run() and
 * hl__session_reload_for_retry() call before_run and reload_for_retry
 * (NULL: nothing to do). The sink is attached when the session is opened
 * (hl_session_open), before any run can use it. */
struct hl__session_events;
typedef hl_status (*hl__sink_append_fn)(void *ud, const struct hl__session_events *events);
/* What hl_agent_run() does after a run failed with HL_ERR_CONFLICT. */
typedef enum { HL__RETRY_STOP, HL__RETRY, HL__RETRY_DONE } hl__retry;
/* How often hl_agent_run() reloads and retries after HL_ERR_CONFLICT. */
#define HL__STORE_CONFLICT_RETRIES 3
typedef struct hl__session_sink {
  hl__sink_append_fn append;
  void (*destroy)(void *ud);
  void (*before_run)(void *ud, hl_session *session, const char *input);
  hl__retry (*reload_for_retry)(void *ud, hl_session *session, const char *input,
                                char **answer);
  /* `cut` true: the run on the session was cancelled: cut its store call
   * in progress, if any, and then fail the run's writes at once (any
   * thread, with the cancel lock held: must not block); false: the run
   * ended, writes go to the store again. May be NULL. */
  void (*interrupt)(void *ud, bool cut);
  void *ud;
} hl__session_sink;
void hl__session_set_sink(hl_session *session, const hl__session_sink *sink);
/* Before a top-level run of `input`: if `session` is stored and its log
 * ends in an unfinished run of the same input, mark the session so that
 * the run continues it (hl__session_take_resume). No-op for an in-memory
 * session. Called by the thread that holds the session's run claim. */
void hl__session_before_run(hl_session *session, const char *input);
/* After a run of `input` failed with HL_ERR_CONFLICT: reload a stored
 * session from its store. Returns HL__RETRY if the run should be tried
 * again; HL__RETRY_DONE with *answer (for hl_free) if the fresh log ends
 * in a finished run of the same input (a twin writer, such as a worker
 * thought dead, did the turn: doing it again would ask it twice);
 * HL__RETRY_STOP (the conflict's message kept in hl_last_error()) for an
 * in-memory session or when the reload failed. *answer is NULL unless
 * HL__RETRY_DONE. Called by the thread that holds the run claim. */
hl__retry hl__session_reload_for_retry(hl_session *session, const char *input, char **answer);
/* For a top-level run's context on `session`: a hl_context_on_cancel()
 * registration that hands the run's cancel to the sink's interrupt, so
 * that a store call waiting on a hung server ends at once (store.h). NULL
 * (nothing to unregister) for a session without one. The run hands it to
 * hl__session_unwatch_cancel() when it closes, after its last write. */
hl_cancel_reg *hl__session_watch_cancel(hl_session *session, hl_context *ctx);
void hl__session_unwatch_cancel(hl_session *session, hl_cancel_reg *reg);
/* A turn boundary as one append: the next hl_session_add_message() on a
 * stored session is made in memory at once, but its event is held and
 * written by the session's next write of a change that is not held,
 * together with every held event, as one group (the sink then gets them
 * all). The agent holds the user's input and each assistant
 * message that asks for tools, so that a turn (input, calls, results or
 * answer) is one transaction. A truncate that takes held messages back, a
 * reload or freeing the session forgets them (the turn in flight). No-op
 * for an in-memory session. Thread-safe. */
void hl__session_hold_next(hl_session *session);
/* The sink's ud if the attached sink uses `append`, else NULL. */
void *hl__session_sink_data(const hl_session *session, hl__sink_append_fn append);
/* An interrupted run's state and the history, changed together as one
 * run_state event (store.h) written through the sink, then in memory:
 * the history cut back to `truncate` messages (SIZE_MAX: not cut; an
 * interrupted run takes its messages back), then the messages of
 * `append` added (may be NULL; a resumed run restores the interrupted
 * run's messages; taken on HL_OK, left in the list otherwise), then the
 * run state set to a copy of `state` (NULL clears it). On failure nothing
 * changed. hl_session_set_run_state() is this with neither. */
hl_status hl__session_run_state_change(hl_session *session, size_t truncate,
                                       hl_messages *append, const cJSON *state);
/* Clear the run state if there is one (a new run abandons an interrupted
 * one); HL_OK without a write when there is none. */
hl_status hl__session_drop_run_state(hl_session *session);
/* Exchange history, state and run state of `a` and `b` (a reload).
 * `by_run`: the caller is the run that holds `a` (hl_agent_run() reloading
 * between two attempts); otherwise HL_ERR_STATE, nothing exchanged, while a
 * run holds `a`. */
hl_status hl__session_swap_contents(hl_session *a, hl_session *b, bool by_run);

#endif
