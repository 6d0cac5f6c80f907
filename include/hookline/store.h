/*
 * hookline/store.h - durable sessions: a session store opened by URL, and
 * sessions that write through it at every turn boundary.
 *
 * A stored session is an append-only log of events, each a JSON object
 * with a string "type":
 *   {"type":"message","message":{...}}       a history message (model.h JSON)
 *   {"type":"state","key":K,"value":V}       a state change (V null: removed)
 *   {"type":"run_state","state":{...}|null}  an interrupted run's state (opaque),
 *      with "truncate":N when a run stopped for approval (its messages
 *      taken back to the first N, in the same event) or "messages":[...]
 *      when it was resumed (its messages put back, the state cleared)
 *   {"type":"truncate","count":N}            a failed run took its messages back
 *   {"type":"reset"}                         history and state forgotten
 * Event N of a session has version N (1, 2, ...); the session's version is
 * its number of events. An append names the version its writer last saw
 * and succeeds only if that is still the session's version: a writer that
 * lost the race gets HL_ERR_CONFLICT and nothing is written (optimistic
 * concurrency). Unknown event types are kept and skipped on replay.
 *
 * Backends, chosen by the URL given to hl_store_open():
 *   memory:                    in this process only (tests, caches)
 *   sqlite:PATH                a file (WAL journal, 5 s busy timeout); the
 *                              embedded default, shared by processes on a host
 *   postgresql://... or postgres://...   libpq connection URI; without a
 *                              connect_timeout in it (or PGCONNECT_TIMEOUT
 *                              in the environment) connecting gives up
 *                              after 10 s (HL_ERR_NETWORK), also when the
 *                              server accepted and never answered
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] hiredis; see hl_store_set_ttl();
 *                              USER and PASSWORD percent-decoded ('@' as
 *                              %40, '%' as %25; a bad escape HL_ERR_INVALID)
 * SQLite and PostgreSQL keep a schema version and migrate older databases
 * when opened; a database written by a newer hookline is refused
 * (HL_ERR_UNSUPPORTED), never written. A backend this build was made
 * without gives HL_ERR_UNSUPPORTED.
 *
 * Durability. Every append (one event or a group, hl_store_append_events)
 * is one transaction (SQLite), one statement (PostgreSQL) or one script
 * (Redis): when it returns HL_OK all its events are stored, when it fails
 * none is, and a process killed at any moment leaves the log as it was
 * before or after it, never between. How long a stored append lasts:
 *   sqlite:     WAL with synchronous=NORMAL: a committed append survives
 *               the process being killed at any moment (the WAL is in the
 *               operating system's hands); a power loss or kernel crash may
 *               take back the last appends (never corrupt the file, never
 *               leave part of an append): no fsync per append, one per WAL
 *               checkpoint. (FULL, an fsync per append, would make it
 *               survive power loss at the cost of a disk flush each.)
 *   postgresql: as the server is configured (synchronous_commit, fsync).
 *   redis:      as the server is configured (appendonly, appendfsync).
 *   memory:     until the process ends.
 * A session opened with hl_session_open() writes one append per turn
 * boundary (see there), so a crash loses at most the turn in flight.
 *
 * Errors: bad arguments HL_ERR_INVALID; a server that cannot be reached,
 * went away, or sent nothing for 10 s in the middle of a call (hung)
 * HL_ERR_NETWORK (the next call reconnects; a write that timed out may
 * have been stored, which the version check turns into a conflict, never
 * a double append; PostgreSQL migrations wait 300 s); a run cancelled
 * (hl_run_cancel(), hl_agent_cancel()) while its session's write waits
 * on a PostgreSQL or Redis server (for its answer, to take a large
 * write's bytes, or to complete the write's reconnect), or on another
 * connection's lock on an SQLite file, stops waiting within a quarter
 * second (if the server does not answer, or the lock does not come free,
 * by then), and a second
 * after the cancel at the latest (a server that keeps sending its answer
 * a byte at a time, never a quarter second silent; a write begun after
 * the cancel: a second after its start), and ends with
 * HL_ERR_CANCELLED (SQLite: nothing written; a server's connection is
 * dropped and reconnected by the next call, and the write cut may or may
 * not have been stored, as after a timeout); the run's other writes, its
 * take-back included, are not tried, so the log reads as an unfinished
 * run (see hl_session_open; direct hl_store_*() calls are not cut). The
 * same holds for the writes of a run cancelled before them (during its
 * model call, say): each still completes if the server answers within
 * that quarter second (and the second after its start), and is cut if
 * it would wait on a hung or trickling one; an SQLite database
 * another connection kept locked for the whole 5 s busy timeout
 * HL_ERR_TIMEOUT (nothing written); a failed write to
 * disk (full disk, read-only file) HL_ERR_IO; a corrupt event (not a JSON
 * object with a "type") HL_ERR_JSON naming the session and version; a log
 * with missing events (truncated) HL_ERR_IO (SQLite: a hole; its log is
 * its event rows, the version the last one's number, so rows deleted from
 * the end behind its back read as a shorter log); a session never written
 * HL_ERR_NOT_FOUND; an SQLite log past 2^32 - 1 events HL_ERR_TOO_LARGE, and
 * so is a load whose events pass the load limit (hl_store_set_load_max:
 * the message names the session; the connection stays usable) or a Redis
 * reply that would take more than HL_STORE_LOAD_MAX of memory (a load's
 * reply is the session's whole log; the connection is dropped). A
 * connection found dead before a call (the server restarted since the
 * last one) is reconnected first, so that call works. A store opens on a
 * read-only PostgreSQL database or standby, a Redis replica, or an SQLite
 * file it may not write (permissions, a read-only mount; its schema must
 * be this hookline's, nothing can migrate it; with no -shm file beside it
 * and none creatable, it is read as immutable: no other process may write
 * it meanwhile), and reads it; its writes fail with HL_ERR_IO naming the
 * refusal. Session ids, app names and user ids may hold any
 * characters but NUL (they are bound as parameters, never spliced into a
 * command), up to 512 bytes each. Bytes that are not UTF-8 (in ids or in
 * an event's text) are kept exactly by SQLite, Redis and memory; a
 * PostgreSQL store (UTF-8 text columns) refuses them with HL_ERR_INVALID
 * naming the field, nothing written (a run whose tool returns such bytes
 * fails with it).
 *
 * Thread-safety: an hl_store may be used from several threads at once;
 * its calls are serialized on one connection (open one store per thread
 * for parallel database work). Several processes may share one database.
 *
 * Ownership: hl_store_open() returns a handle the caller closes with
 * hl_store_close() after every session opened on it is freed.
 */
#ifndef HOOKLINE_STORE_H
#define HOOKLINE_STORE_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_store hl_store;

/** The schema version this build writes (SQLite, PostgreSQL). */
#define HL_STORE_SCHEMA_VERSION 4

/** Open (and for SQLite/PostgreSQL create or migrate) the store at `url`.
 *  On HL_OK *out is the caller's. Not thread-safe with respect to *out. */
HL_API hl_status hl_store_open(const char *url, hl_store **out);
/** Close the connection and free the handle. NULL is fine. */
HL_API void hl_store_close(hl_store *store);
/** "memory", "sqlite", "postgresql" or "redis". Borrowed, static. */
HL_API const char *hl_store_backend(const hl_store *store);

/** The most bytes of stored events (their JSON text) one load may read,
 *  and the default load limit: 512 MiB, Redis's largest value. */
#define HL_STORE_LOAD_MAX ((size_t)512 << 20)

/**
 * Set the load limit: a load (hl_store_load(), hl_session_open(),
 * hl_session_reload()) of a session whose events' text adds up to more
 * than `bytes` fails with HL_ERR_TOO_LARGE naming the session, before the
 * events past it are read: a log grown huge (or one huge event from a
 * faulty or hostile writer) cannot take this process's memory. The load
 * holds the events decoded so far and, from PostgreSQL and SQLite, one
 * stored row at a time (Redis: the reply, which also has
 * HL_STORE_LOAD_MAX of memory as its budget). `bytes` 0 restores the
 * default, HL_STORE_LOAD_MAX; more than that is HL_ERR_INVALID. Appends
 * are not limited. Thread-safe.
 */
HL_API hl_status hl_store_set_load_max(hl_store *store, size_t bytes);

/** Redis only: sessions expire `seconds` after their last write (0: never,
 *  the default). Other backends: HL_ERR_UNSUPPORTED. Thread-safe. */
HL_API hl_status hl_store_set_ttl(hl_store *store, int64_t seconds);

/**
 * Append `event` (borrowed; a JSON object with a string "type") to the
 * session's log if its version is still `expected_version` (0 for a
 * session not written yet). On HL_OK *new_version (may be NULL) is
 * expected_version + 1. HL_ERR_CONFLICT if another writer got there first:
 * nothing was written; reload and decide again. Thread-safe.
 */
HL_API hl_status hl_store_append(hl_store *store, const char *app, const char *user,
                                 const char *session_id, int64_t expected_version,
                                 const cJSON *event, int64_t *new_version);

/**
 * Append the events of the array `events` (borrowed; 1 to 1,000 JSON
 * objects with a string "type") as one group: one version check against
 * `expected_version`, then event i gets version expected_version + 1 + i,
 * all of them or none (one transaction, statement or script, so one
 * commit or round trip for the lot). On HL_OK *new_version (may be NULL)
 * is expected_version + the number of events. HL_ERR_CONFLICT as
 * hl_store_append(): nothing was written. An empty array or an item that
 * is not an event: HL_ERR_INVALID, nothing written. Thread-safe.
 */
HL_API hl_status hl_store_append_events(hl_store *store, const char *app, const char *user,
                                        const char *session_id, int64_t expected_version,
                                        const cJSON *events, int64_t *new_version);

/**
 * The whole log: *events (the caller's, cJSON_Delete()) is an array whose
 * item i is the event of version i + 1; *version (may be NULL) its length.
 * HL_ERR_NOT_FOUND for a session never written (or expired, or deleted).
 * Thread-safe.
 */
HL_API hl_status hl_store_load(hl_store *store, const char *app, const char *user,
                               const char *session_id, cJSON **events, int64_t *version);

/**
 * The sessions of one app and user, most recently written first:
 * *sessions (the caller's) is an array of {"id", "version", "created",
 * "updated" (Unix seconds), "title" (the first user message, shortened;
 * may be absent), "bytes" (size of the log)}. Thread-safe.
 */
HL_API hl_status hl_store_list(hl_store *store, const char *app, const char *user,
                               cJSON **sessions);

/** Delete a session and its log. HL_ERR_NOT_FOUND if there is none.
 *  Thread-safe. */
HL_API hl_status hl_store_delete(hl_store *store, const char *app, const char *user,
                                 const char *session_id);

/* ------------------------------------------------------------------ */
/* Sessions that write through a store                                  */
/* ------------------------------------------------------------------ */

/**
 * Open session `session_id` of `app`/`user` (NULL ids as hl_session_new():
 * defaults, and a fresh random session id) from `store`: its log is read
 * and replayed (an unknown id gives an empty session of version 0), and
 * from then on every change writes through before it is made in memory:
 * hl_session_add_message() (so every run appends the user's input, each
 * assistant message and each turn's tool results; see "Turn boundaries"),
 * hl_session_state_set(), hl_session_reset(), a failed run taking its
 * messages back, hl_session_set_run_state(). A write the store refuses
 * leaves the session as it was and returns the store's status; a run then
 * fails with it, except for HL_ERR_CONFLICT: hl_agent_run() reloads the
 * session and retries the run (up to 3 times) on the fresh version. If the
 * fresh log ends in a finished run of the same input (another writer, such
 * as a worker thought dead, did this very turn), that run's answer is
 * returned instead of asking again. A failed run's messages are taken back
 * with a truncate event; when even that cannot be written (the store is
 * gone), the log keeps them and reads as an unfinished run.
 *
 * Turn boundaries. A run writes one append per turn boundary, each one
 * transaction (see "Durability" above): after each model call, what the
 * turn added since the last boundary, as one group: the user's input
 * (with the first turn), the assistant message, and when it asked for
 * tools, their results (written once the tools ran: the log never has a
 * call without its result). A run whose model answers at once is one
 * append; scenario (b) (a call, tools, an answer) is two. A state change
 * made while the turn holds messages (by a hook or a tool during the
 * turn) is held with them and written in the boundary's append, in the
 * order it was made; hl_session_state_set() then returns HL_OK before
 * the store has it, and a store failure shows at the boundary, failing
 * the run. A run that fails keeps its state changes (its messages are
 * taken back): they are written then. Other changes (state set between
 * runs, an interrupt's run state, a reset) are written when they are
 * made, taking any held messages along in the same append.
 *
 * Crash safety: a process killed at any moment loses at most the turn in
 * flight: what was added since the last boundary (for the first turn the
 * user's input too, which the application still has: running the same
 * input again asks the model again), state changes made during the turn
 * included. hl_agent_run() on a session whose
 * log ends in an unfinished run (hl_session_unfinished_input(): a write
 * made mid-turn took the input or a call along, or a log of an older
 * hookline) with the same input continues that run instead of
 * starting a new one: the input is not appended again, and
 * tool calls whose results were not recorded run again (at-least-once:
 * a tool with side effects uses hl_context_tool_call_id() as its
 * idempotency key), then the model is asked as usual.
 *
 * `store` is borrowed and must outlive the session. On HL_OK *out is the
 * caller's (hl_session_free()). Copies made by hl_session_clone() are
 * in-memory only. Thread-safety as session.h; writes of one session are
 * serialized.
 */
HL_API hl_status hl_session_open(hl_store *store, const char *app, const char *user,
                                 const char *session_id, hl_session **out);

/** True if `session` writes through a store. */
HL_API bool hl_session_is_stored(const hl_session *session);
/** The log version this session has seen (0 for an in-memory session). */
HL_API int64_t hl_session_version(const hl_session *session);
/** Read the log again and make the session say what it says (other
 *  writers' events included). HL_ERR_STATE (nothing changed) while a run
 *  is in progress on the session (session.h); HL_ERR_INVALID for an
 *  in-memory session. */
HL_API hl_status hl_session_reload(hl_session *session);

/**
 * If the log ends in a run that never finished (its last message is the
 * user's input, tool calls without results, or tool results the model has
 * not answered), a copy of that run's input for hl_free(); else NULL.
 * Works on in-memory sessions too. Not during a run on this session.
 */
HL_API char *hl_session_unfinished_input(const hl_session *session);

/*
 * Runs that stop for approval (interrupt.h) on a stored session. The run
 * state an interrupted run leaves on its session (hl_session_run_state(),
 * hl_session_set_run_state(): session.h) is written to the log in one
 * run_state event, together with the history put back as it was before
 * the run: any worker that opens the session from the store then finds
 * the pending calls with hl_session_run_state() (hl_run_state_pending()
 * lists them) and resumes with hl_agent_resume(agent, session, state,
 * decisions, ...) or hl_run_resume(). If the store refuses that write, the
 * run fails with the store's status instead (taken back like any failed
 * run).
 *
 * A resume's first write restores the run's messages and clears the run
 * state, again as one event, before any tool call runs. It is the
 * resume's claim: of two workers resuming the same interrupted run, the
 * one whose session is stale (the other wrote first) gets HL_ERR_CONFLICT
 * with nothing run; a call is never executed twice by two resumes. (The
 * loser's hl_session_reload() then shows the run resumed, or interrupted
 * again.) A resumed run that fails later is taken back like any failed
 * run: the run state stays cleared. A new run abandoning an interrupted
 * one (session.h) writes the clearing as one more event.
 */

#ifdef __cplusplus
}
#endif
#endif
