/*
 * session_store.c - sessions that write through a store (store.h):
 * opening one replays its log; the sink attached to it appends each
 * change with the version it last saw; reload; what an unfinished run
 * looks like.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/store.h"
#include "agent/session_internal.h"
#include "core/util.h"
#include "agent/session_events.h"
#include "store/store_internal.h"

typedef struct hl_sstore {
  hl_store *store;   /* borrowed */
  /* The last version this session wrote or read. Written under the
   * session's write lock; read by hl_session_version() from any thread. */
  _Atomic int64_t version;
} hl_sstore;

/* The sink's state: the store, the ids (copied: the sink must not reach
 * back into the session, whose lock its caller may hold) and the version. */
typedef struct hl_sink_ud {
  hl_sstore base;
  char *app, *user, *id;
  /* A cancel cut this session's store call (hl_sink_interrupt): the
   * server is not answering, so the cancelled run's other writes (its
   * take-back) fail at once instead of waiting for it; the log then reads
   * as an unfinished run (store.h). Cleared when the run ends. */
  atomic_bool cut;
  /* The run was cancelled (whether or not a call was in progress): its
   * later writes are cut from their start, so one a hung server would
   * keep waiting ends within the cut's grace. Cleared when the run ends. */
  atomic_bool cancelled;
} hl_sink_ud;

static void hl_sink_interrupt(void *ud, bool cut) {
  hl_sink_ud *u = ud;
  if (cut) {
    atomic_store(&u->cancelled, true);
    hl__store_interrupt(u->base.store, u, &u->cut);
  } else {
    atomic_store(&u->cut, false);
    atomic_store(&u->cancelled, false);
  }
}

static hl_status hl_sink_append(void *ud, const hl__session_events *events) {
  hl_sink_ud *u = ud;
  if (atomic_load(&u->cut))
    return hl_fail(HL_ERR_CANCELLED, "store: session \"%.200s\": not written: the run was "
                   "cancelled while the store was not answering", u->id);
  int64_t nv = 0;
  int64_t v = atomic_load(&u->base.version);
  bool cancelled = atomic_load(&u->cancelled);
  hl_status st = hl__store_append_texts(u->base.store, u, cancelled, u->app, u->user, u->id, v,
                                        events, &nv);
  if (st == HL_OK) atomic_store(&u->base.version, nv);
  /* cut (the server silent, or the cut's budget spent): the run's writes
   * after it need not wait */
  if (st == HL_ERR_CANCELLED && cancelled) atomic_store(&u->cut, true);
  return st;
}

static void hl_sink_destroy(void *ud) {
  hl_sink_ud *u = ud;
  if (!u) return;
  free(u->app);
  free(u->user);
  free(u->id);
  free(u);
}

static hl_sink_ud *hl_sink_of(const hl_session *s) {
  return hl__session_sink_data(s, hl_sink_append);
}

/* A run_state event: an interrupt ("truncate": the run's messages taken
 * back, "state") or a resume ("messages": the run's messages restored,
 * "state": null), or a plain hl_session_set_run_state(). */
static hl_status hl_replay_run_state(hl_session *s, const cJSON *e) {
  const cJSON *state = cJSON_GetObjectItemCaseSensitive(e, "state");
  const cJSON *cut = cJSON_GetObjectItemCaseSensitive(e, "truncate");
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(e, "messages");
  if (state && !cJSON_IsNull(state) && !cJSON_IsObject(state))
    return hl_fail(HL_ERR_JSON, "run_state event whose \"state\" is not an object");
  if (cut && (!cJSON_IsNumber(cut) || cut->valuedouble < 0 || cut->valuedouble > 1e15))
    return hl_fail(HL_ERR_JSON, "run_state event whose \"truncate\" is not a count");
  if (msgs && !cJSON_IsArray(msgs))
    return hl_fail(HL_ERR_JSON, "run_state event whose \"messages\" is not an array");
  hl_messages list = {0};
  hl_status st = msgs ? hl_messages_from_json(msgs, &list) : HL_OK;
  if (st == HL_OK)
    st = hl__session_run_state_change(s, cut ? (size_t)cut->valuedouble : SIZE_MAX, &list,
                                      cJSON_IsObject(state) ? state : NULL);
  hl_messages_clear(&list);
  return st;
}

/* Apply one event of the log to `s` (which has no sink yet). */
static hl_status hl_replay_one(hl_session *s, const cJSON *e, int64_t version) {
  const char *type = cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring;
  char id[96];
  hl_status st = HL_OK;
  if (!strcmp(type, "message")) {
    hl_message *m = NULL;
    st = hl_message_from_json(cJSON_GetObjectItemCaseSensitive(e, "message"), &m);
    if (st == HL_OK) st = hl_session_add_message(s, m);
  } else if (!strcmp(type, "state")) {
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(e, "key");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(e, "value");
    if (!cJSON_IsString(key) || !value)
      st = hl_fail(HL_ERR_JSON, "state event without a string \"key\" and a \"value\"");
    else
      st = hl_session_state_set(s, key->valuestring, cJSON_IsNull(value) ? NULL : value);
  } else if (!strcmp(type, "truncate")) {
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(e, "count");
    /* Bounded before the conversion: a double past size_t's range does
     * not convert (undefined behaviour), and no session is that long. */
    if (!cJSON_IsNumber(count) || count->valuedouble < 0 || count->valuedouble > 1e15)
      st = hl_fail(HL_ERR_JSON, "truncate event without a \"count\" (a message count)");
    else
      hl__session_truncate(s, (size_t)count->valuedouble);
  } else if (!strcmp(type, "reset")) {
    st = hl_session_reset(s);
  } else if (!strcmp(type, "run_state")) {
    st = hl_replay_run_state(s, e);
  } /* other types: written by a newer hookline; skipped */
  if (st != HL_OK) {
    char why[700];
    snprintf(why, sizeof why, "%s", hl_last_error());
    hl__quote(id, sizeof id, hl_session_id(s));
    return hl_fail(st, "store: session %s: event %lld (%s): %s", id, (long long)version, type, why);
  }
  return HL_OK;
}

/* A fresh in-memory session with the log's contents; *version its length.
 * A session never written is empty, version 0. */
static hl_status hl_load_into(hl_store *store, const char *app, const char *user,
                              const char *id, hl_session **out, int64_t *version) {
  *out = NULL;
  *version = 0;
  hl_session *s = hl_session_new(app, user, id);
  if (!s) return hl_last_status();
  cJSON *events = NULL;
  hl_status st = hl_store_load(store, hl_session_app_name(s), hl_session_user_id(s),
                               hl_session_id(s), &events, version);
  if (st == HL_ERR_NOT_FOUND) {
    hl_clear_error();
    *out = s;
    return HL_OK;
  }
  int64_t v = 0;
  for (const cJSON *e = events ? events->child : NULL; st == HL_OK && e; e = e->next)
    st = hl_replay_one(s, e, ++v);
  cJSON_Delete(events);
  if (st != HL_OK) {
    hl_session_free(s);
    return st;
  }
  *out = s;
  return HL_OK;
}

/* What a stored session does around a run (below, with what an
 * unfinished run looks like). */
static void hl_sink_before_run(void *ud, hl_session *s, const char *input);
static hl__retry hl_sink_reload_for_retry(void *ud, hl_session *s, const char *input,
                                          char **answer);

hl_status hl_session_open(hl_store *store, const char *app, const char *user,
                          const char *session_id, hl_session **out) {
  if (out) *out = NULL;
  if (!store || !out) return hl_fail(HL_ERR_INVALID, "hl_session_open: store and out are required");
  hl_session *s = NULL;
  int64_t version = 0;
  hl_status st = hl_load_into(store, app, user, session_id, &s, &version);
  if (st != HL_OK) return st;
  hl_sink_ud *u = calloc(1, sizeof *u);
  if (!u || !(u->app = strdup(hl_session_app_name(s))) || !(u->user = strdup(hl_session_user_id(s))) ||
      !(u->id = strdup(hl_session_id(s)))) {
    hl_sink_destroy(u);
    hl_session_free(s);
    return hl__oom();
  }
  u->base.store = store;
  atomic_init(&u->base.version, version);
  hl__session_sink sink = {.append = hl_sink_append,
                           .destroy = hl_sink_destroy,
                           .before_run = hl_sink_before_run,
                           .reload_for_retry = hl_sink_reload_for_retry,
                           .interrupt = hl_sink_interrupt,
                           .ud = u};
  hl__session_set_sink(s, &sink);
  *out = s;
  return HL_OK;
}

bool hl_session_is_stored(const hl_session *s) { return hl_sink_of(s) != NULL; }

int64_t hl_session_version(const hl_session *s) {
  hl_sink_ud *u = hl_sink_of(s);
  return u ? atomic_load(&u->base.version) : 0;
}

/* `by_run`: the run that holds `s` reloads it (hl_agent_run() between
 * two attempts); anyone else is refused while a run holds it. */
static hl_status hl_reload(hl_session *s, bool by_run) {
  hl_sink_ud *u = hl_sink_of(s);
  if (!u) return hl_fail(HL_ERR_INVALID, "hl_session_reload: the session is not stored");
  hl_session *fresh = NULL;
  int64_t version = 0;
  hl_status st = hl_load_into(u->base.store, u->app, u->user, u->id, &fresh, &version);
  if (st != HL_OK) return st;
  st = hl__session_swap_contents(s, fresh, by_run);
  if (st == HL_OK) atomic_store(&u->base.version, version);
  hl_session_free(fresh);
  return st;
}

hl_status hl_session_reload(hl_session *s) { return hl_reload(s, false); }

char *hl_session_unfinished_input(const hl_session *s) {
  const hl_messages *h = hl_session_messages(s);
  if (!h || h->count == 0) return NULL;
  const hl_message *last = h->items[h->count - 1];
  if (last->role == HL_ROLE_SYSTEM) return NULL;
  if (last->role == HL_ROLE_ASSISTANT && hl_message_tool_call_count(last) == 0) return NULL;
  for (size_t i = h->count; i-- > 0;)
    if (h->items[i]->role == HL_ROLE_USER) return hl_message_text(h->items[i]);
  return NULL;
}

/* The sink's before_run (session_internal.h): only a stored session has
 * this sink, so there is nothing to check. */
static void hl_sink_before_run(void *ud, hl_session *s, const char *input) {
  (void)ud;
  char *pending = hl_session_unfinished_input(s);
  hl__session_set_resume(s, pending && input && strcmp(pending, input) == 0);
  free(pending);
}

/* The answer of the log's last run if it is a finished run of `input`. */
static char *hl_finished_answer(const hl_session *s, const char *input) {
  const hl_messages *h = hl_session_messages(s);
  if (!h || h->count < 2) return NULL;
  const hl_message *last = h->items[h->count - 1];
  if (last->role != HL_ROLE_ASSISTANT || hl_message_tool_call_count(last) != 0) return NULL;
  for (size_t i = h->count; i-- > 0;) {
    if (h->items[i]->role != HL_ROLE_USER) continue;
    char *text = hl_message_text(h->items[i]);
    bool same = text && input && strcmp(text, input) == 0;
    free(text);
    return same ? hl_message_text(last) : NULL;
  }
  return NULL;
}

/* The sink's reload_for_retry (session_internal.h). */
static hl__retry hl_sink_reload_for_retry(void *ud, hl_session *s, const char *input,
                                          char **answer) {
  (void)ud;
  *answer = NULL;
  char keep[1024];
  snprintf(keep, sizeof keep, "%s", hl_last_error());
  if (hl_reload(s, true) == HL_OK) {
    *answer = hl_finished_answer(s, input);
    return *answer ? HL__RETRY_DONE : HL__RETRY;
  }
  char why[700];
  snprintf(why, sizeof why, "%s", hl_last_error());
  hl_fail(HL_ERR_CONFLICT, "%s (and reloading failed: %s)", keep, why);
  return HL__RETRY_STOP;
}
