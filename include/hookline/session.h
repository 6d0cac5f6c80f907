/*
 * hookline/session.h - a conversation: message history and key-value state.
 *
 * A run appends the user's input, the model's messages and tool results to
 * its session; the next run on the same session continues the
 * conversation. State is a JSON object that hooks, tools and workflow
 * agents share (output keys, flags such as "escalate").
 *
 * Ownership: hl_session_new() returns a session the caller frees with
 * hl_session_free(), after every run that uses it has returned.
 *
 * Thread-safety: state functions are locked and may be called from any
 * thread, also during a run. The history belongs to the running agent
 * while a run is in progress on the session, from hl_agent_run() or
 * hl_run_start() until it returns or its run ends: the run's requests and
 * its turn's response borrow history messages, so the functions that
 * change the history (hl_session_add_message, hl_session_reset,
 * hl_session_reload in store.h) refuse with HL_ERR_STATE meanwhile, also
 * when called by a hook, tool or observer of that very run. Reading is
 * not refused: read it (hl_session_messages) while no run is in progress,
 * or from the run's own hooks and tools with none of its sub-agents
 * running on the session beside them. One run at a time per session: a
 * second concurrent run gets HL_ERR_STATE.
 */
#ifndef HOOKLINE_SESSION_H
#define HOOKLINE_SESSION_H

#include <cjson/cJSON.h>
#include "status.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hl_session hl_session;

/** New empty session. NULL ids get defaults: app "hookline", user "user",
 *  session a fresh random id. Strings are copied. */
HL_API hl_session *hl_session_new(const char *app_name, const char *user_id,
                                  const char *session_id);
HL_API void hl_session_free(hl_session *session);
/** Deep copy of history and state (a fork), with the same ids. */
HL_API hl_session *hl_session_clone(const hl_session *session);
/** Forget history and state; keep the ids. HL_ERR_STATE (nothing
 *  changed) while a run is in progress on the session, HL_ERR_INVALID for
 *  NULL; a stored session whose store refuses the reset is left as it was,
 *  with the store's status (store.h). */
HL_API hl_status hl_session_reset(hl_session *session);

HL_API const char *hl_session_app_name(const hl_session *session);
HL_API const char *hl_session_user_id(const hl_session *session);
HL_API const char *hl_session_id(const hl_session *session);

/** The history (borrowed; valid until the session changes). Read it, do
 *  not change its messages in place: the session keeps figures about them
 *  (the text size LM_START's estimate reads) and model requests borrow
 *  them; add messages with hl_session_add_message(). */
HL_API const hl_messages *hl_session_messages(const hl_session *session);
/** Append a message; the session takes ownership (also on failure).
 *  HL_ERR_STATE (nothing appended) while a run is in progress on the
 *  session: the run appends its own messages. */
HL_API hl_status hl_session_add_message(hl_session *session, hl_message *msg);

/** Copy of state `key` or NULL. Caller frees. */
HL_API cJSON *hl_session_state_get(const hl_session *session, const char *key);
/** State `key` as a new string for hl_free() if it is a string, else NULL. */
HL_API char *hl_session_state_get_string(const hl_session *session, const char *key);
/** Set `key` to a copy of `value`; NULL removes the key. */
HL_API hl_status hl_session_state_set(hl_session *session, const char *key,
                                      const cJSON *value);
HL_API hl_status hl_session_state_set_string(hl_session *session, const char *key,
                                             const char *value);
/** Copy of the whole state object. Caller frees. */
HL_API cJSON *hl_session_state(const hl_session *session);

/*
 * Runs that stop for approval (interrupt.h). When a top-level run on a
 * session ends with HL_INTERRUPTED, its state is kept on the session until
 * it is resumed (hl_agent_resume(agent, session, state, decisions, ...),
 * hl_run_resume(), which clear it) or a new run (hl_agent_run(),
 * hl_run_start()) abandons it: the run state is cleared first and the new
 * input starts a new turn. A stored session also writes every change of
 * it to its log (store.h: the run_state event), so another worker can
 * resume the run.
 */

/** Set the session's run state to a copy of `state` (an opaque JSON
 *  object, borrowed; NULL clears it); a stored session writes it first as
 *  a run_state event, and a write the store refuses leaves the session as
 *  it was, with the store's status. HL_ERR_INVALID for a NULL session or
 *  a state that is not an object. Works on in-memory sessions too.
 *  Thread-safe; writes of one session are serialized. */
HL_API hl_status hl_session_set_run_state(hl_session *session, const cJSON *state);
/** Copy of the run state set, replayed or left by an interrupted run;
 *  NULL if none. Caller frees (cJSON_Delete). Thread-safe. */
HL_API cJSON *hl_session_run_state(const hl_session *session);

/** {"app_name":..,"user_id":..,"session_id":..,"state":{..},"messages":[..]} */
HL_API cJSON *hl_session_to_json(const hl_session *session);
HL_API hl_status hl_session_from_json(const cJSON *json, hl_session **out);

#ifdef __cplusplus
}
#endif
#endif
