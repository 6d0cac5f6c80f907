/*
 * session.c - a conversation: ids, message history, key-value state, and
 * the busy flag that keeps two runs off one session.
 *
 * One mutex guards both history and state. State is touched by hooks and
 * tools on worker threads during a run, so it must be locked; history is
 * only changed by the run that holds the busy flag (the public functions
 * that change it refuse while a run holds it: the run borrows its
 * messages), but taking the same lock for it makes clone and to_json see
 * a consistent pair.
 *
 * A session opened from a store (lib/store/session_store.c) has a sink:
 * every change is first written through it as an event, under a second
 * mutex (wlock) that keeps the log's order the order of the changes, and
 * made in memory only once the store took it. One exception makes a turn
 * boundary one append: messages the run marks (hl__session_hold_next: the
 * user's input, an assistant message that asks for tools) are made in
 * memory and held, and written together with the next write (the tool
 * results, the answer, a state change) as one group; the turn in flight
 * is what a crash loses.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hookline/json.h"
#include "hookline/session.h"
#include "agent/session_internal.h"
#include "core/model_internal.h"
#include "agent/session_events.h"

struct hl_session {
  /* In the session's own block, after the struct: three allocations per
   * session were 3 x 16 bytes of malloc's overhead and three more blocks
   * for every run in flight (issue 12). */
  char *app_name;
  char *user_id;
  char *session_id;
  pthread_mutex_t lock; /* history and state */
  hl_messages messages;
  /* hl__message_text_bytes() of the history's messages, summed as they
   * come and go (under lock, as messages): LM_START's prompt estimate
   * reads it instead of walking the history at every model call. */
  size_t text_bytes;
  cJSON *state;         /* always an object */
  atomic_bool busy;
  pthread_mutex_t wlock; /* serializes write-through; taken before lock */
  hl__session_sink sink; /* append NULL: in memory only */
  cJSON *run_state;     /* an interrupted run's state, or NULL */
  atomic_bool resume;   /* the next run continues the log's unfinished run */
  /* Under wlock: the next message's event is to be held (hold_next); the
   * held events (as JSON text, session_events.h; empty when none), written
   * with the next write as one group; they are the events of messages
   * held_at, held_at + 1, ... (a truncate drops those it takes back). */
  bool hold_next;
  hl__session_events held;
  size_t held_at;
};

/* Write the held events and the one just added after them (the change
 * being made) through the sink, as one group (store.h: one transaction).
 * Call with wlock held and a sink attached. On a failure the held events
 * stay held and the last one is dropped (its change is not made): their
 * messages are in memory, and a later write must not put tool results in
 * the log without their call. */
static hl_status hl_session_flush(hl_session *s) {
  hl_status st = s->sink.append(s->sink.ud, &s->held);
  if (st == HL_OK) hl__session_events_clear(&s->held);
  else hl__session_events_cut(&s->held, s->held.n - 1);
  return st;
}

/* Write `event` (owned; NULL means out of memory; the rare events: reset,
 * truncate, run_state) through the sink after the held events. Call with
 * wlock held. HL_OK without a sink. */
static hl_status hl_session_write(hl_session *s, cJSON *event) {
  if (!s->sink.append) {
    cJSON_Delete(event);
    return HL_OK;
  }
  if (!event) return hl_fail(HL_ERR_NOMEM, "session: out of memory");
  hl_status st = hl__session_events_add_json(&s->held, event);
  cJSON_Delete(event);
  return st == HL_OK ? hl_session_flush(s) : st;
}

/* Which held events a truncate to `count` messages keeps: the events of
 * messages before it, and every state change (made in memory, taken back
 * by nothing). */
typedef struct hl_keep {
  size_t next_message, count, messages_kept;
} hl_keep;

static bool hl_keep_held(const char *text, size_t len, void *ud) {
  hl_keep *k = ud;
  if (!hl__session_events_is_message(text, len)) return true;
  if (k->next_message++ >= k->count) return false;
  k->messages_kept++;
  return true;
}

/* Forget the held events of messages `count` and later (they are being
 * taken back, never written), all of them for 0, but not the held state
 * changes. Returns how many held message events are left. Call with
 * wlock held. */
static size_t hl_session_drop_held(hl_session *s, size_t count) {
  s->hold_next = false;
  hl_keep k = {s->held_at, count, 0};
  if (s->held.n) hl__session_events_filter(&s->held, hl_keep_held, &k);
  return k.messages_kept;
}

static cJSON *hl_event_new(const char *type) {
  cJSON *e = cJSON_CreateObject();
  if (e && !cJSON_AddStringToObject(e, "type", type)) {
    cJSON_Delete(e);
    return NULL;
  }
  return e;
}

/* HL_ERR_STATE for `fn` when a run holds the session and the caller is
 * not that run. Call with wlock held: hl__session_try_begin() takes it
 * too, so no run can begin between this check and the change it guards. */
static hl_status hl_refuse_if_running(const hl_session *s, bool by_run, const char *fn) {
  if (by_run || !atomic_load(&((hl_session *)s)->busy)) return HL_OK;
  return hl_fail(HL_ERR_STATE,
                 "%s: session \"%s\" has a run in progress; its history is the run's until "
                 "the run returns",
                 fn, s->session_id);
}

/* The lock is logically mutable: readers of a const session take it too. */
static void hl_session_lock(const hl_session *s) {
  pthread_mutex_lock((pthread_mutex_t *)&s->lock);
}
static void hl_session_unlock(const hl_session *s) {
  pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
}

/* ------------------------------------------------------------------ */
/* Random ids                                                          */
/* ------------------------------------------------------------------ */

static int hl_random_bytes(unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += (size_t)r;
  }
  if (got == n) return 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  return got == n ? 0 : -1;
}

void hl__random_hex(char *out, size_t hex_digits) {
  static const char digits[] = "0123456789abcdef";
  unsigned char bytes[32];
  if (hex_digits > 64) hex_digits = 64;
  size_t n = (hex_digits + 1) / 2;
  if (hl_random_bytes(bytes, n) != 0) {
    /* No kernel randomness (seccomp, chroot without /dev): ids must still
     * be unique within the process, which time plus a counter gives. */
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t c = atomic_fetch_add(&counter, 1) + 1;
    for (size_t i = 0; i < n; i++) {
      /* splitmix64 steps over (time, counter, position) */
      uint64_t z = x + c * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      bytes[i] = (unsigned char)(z ^ (z >> 31));
    }
  }
  for (size_t i = 0; i < hex_digits; i++) {
    unsigned char b = bytes[i / 2];
    out[i] = digits[(i % 2) ? (b & 0xF) : (b >> 4)];
  }
  out[hex_digits] = '\0';
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

hl_session *hl_session_new(const char *app_name, const char *user_id,
                           const char *session_id) {
  char fresh[33];
  if (!session_id) {
    hl__random_hex(fresh, 32);
    session_id = fresh;
  }
  if (!app_name) app_name = "hookline";
  if (!user_id) user_id = "user";
  size_t na = strlen(app_name) + 1, nu = strlen(user_id) + 1, ns = strlen(session_id) + 1;
  hl_session *s = calloc(1, sizeof *s + na + nu + ns);
  if (!s) goto oom;
  s->app_name = memcpy((char *)(s + 1), app_name, na);
  s->user_id = memcpy(s->app_name + na, user_id, nu);
  s->session_id = memcpy(s->user_id + nu, session_id, ns);
  s->state = cJSON_CreateObject();
  if (!s->state) goto oom;
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->wlock, NULL);
  atomic_init(&s->busy, false);
  atomic_init(&s->resume, false);
  return s;
oom:
  free(s);
  hl_fail(HL_ERR_NOMEM, "hl_session_new: out of memory");
  return NULL;
}

void hl_session_free(hl_session *s) {
  if (!s) return;
  if (s->sink.destroy) s->sink.destroy(s->sink.ud);
  hl__session_events_free(&s->held); /* a turn in flight: never written */
  hl_messages_clear(&s->messages);
  cJSON_Delete(s->state);
  cJSON_Delete(s->run_state);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->wlock);
  free(s); /* the ids with it */
}

hl_session *hl_session_clone(const hl_session *src) {
  if (!src) {
    hl_fail(HL_ERR_INVALID, "hl_session_clone: session is NULL");
    return NULL;
  }
  hl_session *s = hl_session_new(src->app_name, src->user_id, src->session_id);
  if (!s) return NULL;
  hl_session_lock(src);
  cJSON *state = cJSON_Duplicate(src->state, 1);
  hl_status st = hl_messages_copy(&s->messages, &src->messages);
  s->text_bytes = src->text_bytes; /* the copies have the same text */
  hl_session_unlock(src);
  if (!state || st != HL_OK) {
    cJSON_Delete(state);
    hl_session_free(s);
    hl_fail(HL_ERR_NOMEM, "hl_session_clone: out of memory");
    return NULL;
  }
  cJSON_Delete(s->state);
  s->state = state;
  return s;
}

hl_status hl_session_reset(hl_session *s) {
  if (!s) return hl_fail(HL_ERR_INVALID, "hl_session_reset: session is NULL");
  pthread_mutex_lock(&s->wlock);
  hl_status st = hl_refuse_if_running(s, false, "hl_session_reset");
  if (st != HL_OK) {
    pthread_mutex_unlock(&s->wlock);
    return st;
  }
  /* A reset the store refuses leaves the session as it was (store.h). */
  if ((st = hl_session_write(s, hl_event_new("reset"))) != HL_OK) {
    pthread_mutex_unlock(&s->wlock);
    return st;
  }
  cJSON *fresh = cJSON_CreateObject();
  hl_session_lock(s);
  cJSON_Delete(s->run_state);
  s->run_state = NULL;
  hl_messages_clear(&s->messages);
  s->text_bytes = 0;
  if (fresh) {
    cJSON_Delete(s->state);
    s->state = fresh;
  } else { /* no memory for a new object: empty the old one in place */
    while (s->state->child) cJSON_Delete(cJSON_DetachItemViaPointer(s->state, s->state->child));
  }
  hl_session_unlock(s);
  pthread_mutex_unlock(&s->wlock);
  return HL_OK;
}

const char *hl_session_app_name(const hl_session *s) { return s ? s->app_name : NULL; }
const char *hl_session_user_id(const hl_session *s) { return s ? s->user_id : NULL; }
const char *hl_session_id(const hl_session *s) { return s ? s->session_id : NULL; }

/* ------------------------------------------------------------------ */
/* History                                                             */
/* ------------------------------------------------------------------ */

const hl_messages *hl_session_messages(const hl_session *s) {
  return s ? &s->messages : NULL;
}

bool hl__session_borrowed_text_bytes(const hl_session *s, const hl_messages *list, size_t *n,
                                     size_t *bytes) {
  hl_session_lock(s);
  const hl_messages *h = &s->messages;
  /* The same first and last message, and as many: the list's tail is the
   * history itself (a copy's messages are other objects). Nothing can
   * change a history message in the middle while the request borrows
   * them: the history only grows or is cut back from its end. */
  bool same = h->count <= list->count &&
              (h->count == 0 || (list->items[list->count - h->count] == h->items[0] &&
                                 list->items[list->count - 1] == h->items[h->count - 1]));
  if (same) {
    *n = h->count;
    *bytes = s->text_bytes;
  }
  hl_session_unlock(s);
  return same;
}

/* Drop the history's messages past the first `count`. Call with the lock. */
static void hl_history_cut(hl_session *s, size_t count) {
  while (s->messages.count > count) {
    hl_message *m = s->messages.items[--s->messages.count];
    s->messages.items[s->messages.count] = NULL;
    s->text_bytes -= hl__message_text_bytes(m);
    hl_message_free(m);
  }
}

/* Append `msg` (taken: freed on failure). Call with the lock. */
static hl_status hl_history_push(hl_session *s, hl_message *msg) {
  size_t bytes = hl__message_text_bytes(msg); /* before the push, which may free it */
  hl_status st = hl_messages_push(&s->messages, msg);
  if (st == HL_OK) s->text_bytes += bytes;
  return st;
}

/* True if the history has a user message (whose event gave the session
 * its title when it was written). Call with wlock held. */
static bool hl_session_has_user(const hl_session *s) {
  for (size_t i = 0; i < s->messages.count; i++)
    if (s->messages.items[i]->role == HL_ROLE_USER) return true;
  return false;
}

/* Append `msg` (taken, also on failure) for the run that holds the
 * session (`by_run`) or, when no run holds it, for anyone. */
static hl_status hl_session_append(hl_session *s, hl_message *msg, bool by_run,
                                   const char *fn) {
  if (!s || !msg) {
    hl_message_free(msg);
    return hl_fail(HL_ERR_INVALID, "%s: NULL argument", fn);
  }
  pthread_mutex_lock(&s->wlock);
  hl_status st = hl_refuse_if_running(s, by_run, fn);
  if (st != HL_OK) {
    pthread_mutex_unlock(&s->wlock);
    hl_message_free(msg);
    return st;
  }
  if (s->sink.append) {
    size_t held = s->held.n;
    st = hl__session_events_add_message(&s->held, msg);
    /* The session's title is its first user message's (store.h). */
    if (st == HL_OK && msg->role == HL_ROLE_USER && !hl_session_has_user(s) &&
        !hl__session_events_title_from(&s->held, msg))
      st = hl_fail(HL_ERR_NOMEM, "session: out of memory");
    if (st == HL_OK && s->hold_next) {
      /* Held, not written: the next write takes it along (a turn boundary). */
      if (held == 0) s->held_at = s->messages.count;
    } else if (st == HL_OK) {
      st = hl_session_flush(s);
    } else {
      hl__session_events_cut(&s->held, held);
    }
  }
  s->hold_next = false;
  if (st != HL_OK) {
    pthread_mutex_unlock(&s->wlock);
    hl_message_free(msg);
    return st;
  }
  hl_session_lock(s);
  st = hl_history_push(s, msg); /* frees msg on failure */
  hl_session_unlock(s);
  if (st != HL_OK) hl_session_drop_held(s, s->messages.count); /* its event, if held */
  pthread_mutex_unlock(&s->wlock);
  return st;
}

hl_status hl_session_add_message(hl_session *s, hl_message *msg) {
  return hl_session_append(s, msg, false, "hl_session_add_message");
}

hl_status hl__session_append(hl_session *s, hl_message *msg) {
  return hl_session_append(s, msg, true, "hl_session_add_message");
}

void hl__session_truncate(hl_session *s, size_t count) {
  if (!s) return;
  pthread_mutex_lock(&s->wlock);
  /* Held messages being taken back were never written: forget them, and
   * write a truncate only if the log has messages past `count`. */
  size_t held_messages = 0;
  for (size_t i = 0, start = 0; i < s->held.n; start = s->held.ends[i++])
    held_messages += hl__session_events_is_message(s->held.buf.p + start, s->held.ends[i] - start);
  size_t written = s->messages.count - held_messages;
  size_t kept = hl_session_drop_held(s, count);
  if (s->sink.append && written > count) {
    /* Best effort: when the store is gone (or another writer won), the log
     * keeps the run, which then reads as unfinished (store.h). */
    cJSON *e = hl_event_new("truncate");
    if (e && !cJSON_AddNumberToObject(e, "count", (double)count)) cJSON_Delete(e), e = NULL;
    if (hl_session_write(s, e) != HL_OK) hl_clear_error();
  } else if (s->sink.append && s->held.n && kept == 0) {
    /* State changes of the run taken back stay made: written now, as
     * they would have been with the turn's boundary. Best effort, as
     * above. */
    if (s->sink.append(s->sink.ud, &s->held) != HL_OK) hl_clear_error();
    hl__session_events_clear(&s->held);
  }
  hl_session_lock(s);
  hl_history_cut(s, count);
  hl_session_unlock(s);
  pthread_mutex_unlock(&s->wlock);
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

cJSON *hl_session_state_get(const hl_session *s, const char *key) {
  if (!s || !key) {
    hl_fail(HL_ERR_INVALID, "hl_session_state_get: NULL argument");
    return NULL;
  }
  hl_session_lock(s);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->state, key);
  cJSON *copy = v ? cJSON_Duplicate(v, 1) : NULL;
  hl_session_unlock(s);
  if (v && !copy) hl_fail(HL_ERR_NOMEM, "hl_session_state_get: out of memory");
  return copy;
}

char *hl_session_state_get_string(const hl_session *s, const char *key) {
  if (!s || !key) {
    hl_fail(HL_ERR_INVALID, "hl_session_state_get_string: NULL argument");
    return NULL;
  }
  char *out = NULL;
  hl_session_lock(s);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->state, key);
  if (cJSON_IsString(v) && v->valuestring) out = strdup(v->valuestring);
  hl_session_unlock(s);
  return out;
}

hl_status hl_session_state_set(hl_session *s, const char *key, const cJSON *value) {
  if (!s || !key) return hl_fail(HL_ERR_INVALID, "hl_session_state_set: NULL argument");
  cJSON *copy = NULL;
  if (value) {
    copy = cJSON_Duplicate(value, 1);
    if (!copy) return hl_fail(HL_ERR_NOMEM, "hl_session_state_set: out of memory");
  }
  pthread_mutex_lock(&s->wlock);
  hl_status st = HL_OK;
  if (s->sink.append) {
    /* A turn in flight (held messages): the change joins its boundary's
     * append (store.h); otherwise it is written now. */
    size_t held = s->held.n;
    st = hl__session_events_add_state(&s->held, key, copy);
    if (st == HL_OK && held == 0) st = hl_session_flush(s);
    if (st != HL_OK) {
      pthread_mutex_unlock(&s->wlock);
      cJSON_Delete(copy);
      return st;
    }
  }
  hl_session_lock(s);
  if (!copy) {
    cJSON_DeleteItemFromObjectCaseSensitive(s->state, key);
  } else if (cJSON_GetObjectItemCaseSensitive(s->state, key)) {
    if (!cJSON_ReplaceItemInObjectCaseSensitive(s->state, key, copy)) st = HL_ERR_NOMEM;
  } else if (!cJSON_AddItemToObject(s->state, key, copy)) {
    st = HL_ERR_NOMEM;
  }
  hl_session_unlock(s);
  pthread_mutex_unlock(&s->wlock);
  if (st != HL_OK) {
    cJSON_Delete(copy);
    return hl_fail(st, "hl_session_state_set: out of memory");
  }
  return HL_OK;
}

hl_status hl_session_state_set_string(hl_session *s, const char *key, const char *value) {
  if (!value) return hl_session_state_set(s, key, NULL);
  cJSON *v = cJSON_CreateString(value);
  if (!v) return hl_fail(HL_ERR_NOMEM, "hl_session_state_set_string: out of memory");
  hl_status st = hl_session_state_set(s, key, v);
  cJSON_Delete(v);
  return st;
}

cJSON *hl_session_state(const hl_session *s) {
  if (!s) {
    hl_fail(HL_ERR_INVALID, "hl_session_state: session is NULL");
    return NULL;
  }
  hl_session_lock(s);
  cJSON *copy = cJSON_Duplicate(s->state, 1);
  hl_session_unlock(s);
  if (!copy) hl_fail(HL_ERR_NOMEM, "hl_session_state: out of memory");
  return copy;
}

/* ------------------------------------------------------------------ */
/* One run at a time                                                   */
/* ------------------------------------------------------------------ */

bool hl__session_try_begin(hl_session *s) {
  if (!s) return false;
  bool expected = false;
  /* Under wlock: a change that hl_refuse_if_running() let through is
   * complete before the run begins (the run reads the history at once). */
  pthread_mutex_lock(&s->wlock);
  bool won = atomic_compare_exchange_strong(&s->busy, &expected, true);
  pthread_mutex_unlock(&s->wlock);
  return won;
}

void hl__session_end(hl_session *s) {
  if (s) atomic_store(&s->busy, false);
}

bool hl__session_busy(const hl_session *s) {
  return s && atomic_load(&((hl_session *)s)->busy);
}

void hl__session_set_resume(hl_session *s, bool on) {
  if (s) atomic_store(&s->resume, on);
}

bool hl__session_take_resume(hl_session *s) {
  return s && atomic_exchange(&s->resume, false);
}

/* ------------------------------------------------------------------ */
/* Write-through (store.h)                                             */
/* ------------------------------------------------------------------ */

void hl__session_set_sink(hl_session *s, const hl__session_sink *sink) {
  pthread_mutex_lock(&s->wlock);
  if (s->sink.destroy) s->sink.destroy(s->sink.ud);
  s->sink = sink ? *sink : (hl__session_sink){0};
  pthread_mutex_unlock(&s->wlock);
}

void *hl__session_sink_data(const hl_session *s, hl__sink_append_fn append) {
  return s && append && s->sink.append == append ? s->sink.ud : NULL;
}

static void hl_session_cut(void *ud) {
  hl_session *s = ud;
  s->sink.interrupt(s->sink.ud, true);
}

hl_cancel_reg *hl__session_watch_cancel(hl_session *s, hl_context *ctx) {
  /* the sink is attached when the session is opened, before any run */
  return s && s->sink.interrupt ? hl_context_on_cancel(ctx, hl_session_cut, s) : NULL;
}

void hl__session_unwatch_cancel(hl_session *s, hl_cancel_reg *reg) {
  if (!reg) return;
  hl_context_cancel_unregister(reg); /* hl_session_cut has returned, for good */
  s->sink.interrupt(s->sink.ud, false);
}

void hl__session_before_run(hl_session *s, const char *input) {
  if (s && s->sink.before_run) s->sink.before_run(s->sink.ud, s, input);
}

hl__retry hl__session_reload_for_retry(hl_session *s, const char *input, char **answer) {
  *answer = NULL;
  if (!s || !s->sink.reload_for_retry) return HL__RETRY_STOP;
  return s->sink.reload_for_retry(s->sink.ud, s, input, answer);
}

void hl__session_hold_next(hl_session *s) {
  if (!s) return;
  pthread_mutex_lock(&s->wlock);
  s->hold_next = s->sink.append != NULL;
  pthread_mutex_unlock(&s->wlock);
}

hl_status hl__session_swap_contents(hl_session *a, hl_session *b, bool by_run) {
  pthread_mutex_lock(&a->wlock);
  hl_status st = hl_refuse_if_running(a, by_run, "hl_session_reload");
  if (st != HL_OK) {
    pthread_mutex_unlock(&a->wlock);
    return st;
  }
  a->hold_next = false;
  hl__session_events_clear(&a->held); /* the fresh contents are the log's */
  hl_session_lock(a);
  hl_session_lock(b);
  hl_messages m = a->messages;
  a->messages = b->messages;
  b->messages = m;
  size_t bytes = a->text_bytes;
  a->text_bytes = b->text_bytes;
  b->text_bytes = bytes;
  cJSON *t = a->state;
  a->state = b->state;
  b->state = t;
  t = a->run_state;
  a->run_state = b->run_state;
  b->run_state = t;
  hl_session_unlock(b);
  hl_session_unlock(a);
  pthread_mutex_unlock(&a->wlock);
  return HL_OK;
}

/* Room in `list` for `more` messages beyond its count. Call with the lock. */
static bool hl_messages_reserve(hl_messages *list, size_t more) {
  size_t need = list->count + more;
  if (need <= list->cap_) return true;
  size_t cap = list->cap_ ? list->cap_ : 8;
  while (cap < need) cap *= 2;
  hl_message **items = realloc(list->items, cap * sizeof *items);
  if (!items) return false;
  list->items = items;
  list->cap_ = cap;
  return true;
}

/* The run_state event of an interrupt or a resume (session_internal.h). */
static cJSON *hl_run_state_event(size_t truncate, const hl_messages *append, const cJSON *state) {
  cJSON *e = hl_event_new("run_state");
  if (!e) return NULL;
  if (truncate != SIZE_MAX && !cJSON_AddNumberToObject(e, "truncate", (double)truncate)) goto oom;
  if (append) {
    cJSON *msgs = hl_messages_to_json(append);
    if (!msgs || !cJSON_AddItemToObject(e, "messages", msgs)) {
      cJSON_Delete(msgs);
      goto oom;
    }
  }
  cJSON *v = state ? cJSON_Duplicate(state, 1) : cJSON_CreateNull();
  if (!v || !cJSON_AddItemToObject(e, "state", v)) {
    cJSON_Delete(v);
    goto oom;
  }
  return e;
oom:
  cJSON_Delete(e);
  return NULL;
}

hl_status hl__session_run_state_change(hl_session *s, size_t truncate, hl_messages *append,
                                       const cJSON *state) {
  if (!s) return hl_fail(HL_ERR_INVALID, "hl_session_set_run_state: session is NULL");
  if (state && !cJSON_IsObject(state))
    return hl_fail(HL_ERR_INVALID, "hl_session_set_run_state: a run state is a JSON object");
  cJSON *copy = state ? cJSON_Duplicate(state, 1) : NULL;
  if (state && !copy) return hl_fail(HL_ERR_NOMEM, "hl_session_set_run_state: out of memory");
  if (append && append->count == 0) append = NULL;
  pthread_mutex_lock(&s->wlock);
  if (truncate != SIZE_MAX && s->messages.count <= truncate) truncate = SIZE_MAX; /* no cut */
  /* Room first, so that nothing can fail once the store took the event. */
  hl_session_lock(s);
  bool room = !append || hl_messages_reserve(&s->messages, append->count);
  hl_session_unlock(s);
  hl_status st = room ? HL_OK : hl_fail(HL_ERR_NOMEM, "session: out of memory");
  /* One event: the history cut back (an interrupt), the run's messages
   * restored (a resume) and the run state are durable together or not at
   * all. */
  if (st == HL_OK && s->sink.append)
    st = hl_session_write(s, hl_run_state_event(truncate, append, copy));
  if (st == HL_OK) {
    hl_session_lock(s);
    if (truncate != SIZE_MAX) hl_history_cut(s, truncate);
    for (size_t i = 0; append && i < append->count; i++) {
      s->text_bytes += hl__message_text_bytes(append->items[i]);
      s->messages.items[s->messages.count++] = append->items[i]; /* room reserved above */
      append->items[i] = NULL;
    }
    if (append) append->count = 0;
    cJSON_Delete(s->run_state);
    s->run_state = copy;
    copy = NULL;
    hl_session_unlock(s);
  }
  pthread_mutex_unlock(&s->wlock);
  cJSON_Delete(copy);
  return st;
}

hl_status hl_session_set_run_state(hl_session *s, const cJSON *state) {
  return hl__session_run_state_change(s, SIZE_MAX, NULL, state);
}

hl_status hl__session_drop_run_state(hl_session *s) {
  if (!s) return HL_OK;
  hl_session_lock(s);
  bool has = s->run_state != NULL;
  hl_session_unlock(s);
  return has ? hl__session_run_state_change(s, SIZE_MAX, NULL, NULL) : HL_OK;
}

cJSON *hl_session_run_state(const hl_session *s) {
  if (!s) return NULL;
  hl_session_lock(s);
  cJSON *copy = s->run_state ? cJSON_Duplicate(s->run_state, 1) : NULL;
  hl_session_unlock(s);
  return copy;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

cJSON *hl_session_to_json(const hl_session *s) {
  if (!s) {
    hl_fail(HL_ERR_INVALID, "hl_session_to_json: session is NULL");
    return NULL;
  }
  cJSON *o = cJSON_CreateObject();
  if (!o) goto oom;
  if (!cJSON_AddStringToObject(o, "app_name", s->app_name) ||
      !cJSON_AddStringToObject(o, "user_id", s->user_id) ||
      !cJSON_AddStringToObject(o, "session_id", s->session_id))
    goto oom;
  hl_session_lock(s);
  cJSON *state = cJSON_Duplicate(s->state, 1);
  cJSON *messages = hl_messages_to_json(&s->messages);
  hl_session_unlock(s);
  int ok = state && cJSON_AddItemToObject(o, "state", state);
  if (!ok) cJSON_Delete(state);
  int ok2 = messages && cJSON_AddItemToObject(o, "messages", messages);
  if (!ok2) cJSON_Delete(messages);
  if (!ok || !ok2) goto oom;
  return o;
oom:
  cJSON_Delete(o);
  hl_fail(HL_ERR_NOMEM, "hl_session_to_json: out of memory");
  return NULL;
}

/* Optional string member: absent or null gives NULL; any other type is an
 * error naming the field. */
static hl_status hl_opt_string(const cJSON *json, const char *key, const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) return HL_OK;
  if (!cJSON_IsString(v))
    return hl_fail(HL_ERR_JSON, "session.%s: expected string, got %s", key,
                   hl_json_type_name(v));
  *out = v->valuestring;
  return HL_OK;
}

hl_status hl_session_from_json(const cJSON *json, hl_session **out) {
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_session_from_json: out is NULL");
  *out = NULL;
  if (!json) return hl_fail(HL_ERR_INVALID, "hl_session_from_json: json is NULL");
  if (!cJSON_IsObject(json))
    return hl_fail(HL_ERR_JSON, "session: expected object, got %s", hl_json_type_name(json));
  const char *app = NULL, *user = NULL, *id = NULL;
  hl_status st;
  if ((st = hl_opt_string(json, "app_name", &app)) != HL_OK ||
      (st = hl_opt_string(json, "user_id", &user)) != HL_OK ||
      (st = hl_opt_string(json, "session_id", &id)) != HL_OK)
    return st;
  const cJSON *state = cJSON_GetObjectItemCaseSensitive(json, "state");
  if (state && !cJSON_IsNull(state) && !cJSON_IsObject(state))
    return hl_fail(HL_ERR_JSON, "session.state: expected object, got %s",
                   hl_json_type_name(state));
  const cJSON *messages = cJSON_GetObjectItemCaseSensitive(json, "messages");
  if (messages && !cJSON_IsNull(messages) && !cJSON_IsArray(messages))
    return hl_fail(HL_ERR_JSON, "session.messages: expected array, got %s",
                   hl_json_type_name(messages));

  hl_session *s = hl_session_new(app, user, id);
  if (!s) return hl_last_status();
  if (cJSON_IsArray(messages)) {
    st = hl_messages_from_json(messages, &s->messages);
    if (st != HL_OK) {
      /* Copy first: hl_fail() writes the buffer hl_last_error() points to. */
      char why[900];
      snprintf(why, sizeof why, "%s", hl_last_error());
      hl_session_free(s);
      return hl_fail(st, "session.messages: %s", why);
    }
    for (size_t i = 0; i < s->messages.count; i++)
      s->text_bytes += hl__message_text_bytes(s->messages.items[i]);
  }
  if (cJSON_IsObject(state)) {
    cJSON *copy = cJSON_Duplicate(state, 1);
    if (!copy) {
      hl_session_free(s);
      return hl_fail(HL_ERR_NOMEM, "hl_session_from_json: out of memory");
    }
    cJSON_Delete(s->state);
    s->state = copy;
  }
  *out = s;
  return HL_OK;
}
