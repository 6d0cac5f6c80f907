/*
 * store.c - the session store's front end: opens a backend by URL, checks
 * arguments, turns events into text and back, and serializes calls.
 *
 * Decoding lives here, not in the backends, so that every backend gives
 * the same clear error for a corrupt row (not JSON, not an event object)
 * and for a log with holes (a version missing, fewer rows than the session
 * says it has), and the fuzz target reaches it without a database.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookline/store.h"
#include "core/util.h"
#include "store/store_internal.h"
#include "store/store_decode.h"
#include "agent/session_events.h"

#define HL_STORE_ID_MAX 512

struct hl_store {
  const hl__store_ops *ops;
  void *impl;
  pthread_mutex_t lock;
  int64_t ttl;
  size_t load_max; /* hl_store_set_load_max(); under the lock */
  /* hl__store_interrupt(): whose append runs (NULL: none or not one that
   * can be cut). Under cut_lock, which is never held while waiting. */
  pthread_mutex_t cut_lock;
  const void *busy;
};

static hl_status hl_check_key(const char *fn, const char *app, const char *user,
                              const char *id) {
  const char *what[3] = {"app", "user", "session id"};
  const char *v[3] = {app, user, id};
  for (int i = 0; i < 3; i++) {
    if (!v[i]) return hl_fail(HL_ERR_INVALID, "%s: %s is NULL", fn, what[i]);
    size_t n = strlen(v[i]);
    if (n == 0) return hl_fail(HL_ERR_INVALID, "%s: %s is empty", fn, what[i]);
    if (n > HL_STORE_ID_MAX)
      return hl_fail(HL_ERR_INVALID, "%s: %s is longer than %d bytes", fn, what[i],
                     HL_STORE_ID_MAX);
  }
  return HL_OK;
}

hl_status hl_store_open(const char *url, hl_store **out) {
  if (out) *out = NULL;
  if (!url || !out) return hl_fail(HL_ERR_INVALID, "hl_store_open: url and out are required");
  const hl__store_ops *ops = NULL;
  void *impl = NULL;
  hl_status st;
  if (strncmp(url, "memory:", 7) == 0) {
    ops = &hl__store_memory_ops;
    st = hl__store_memory_open(url + 7, &impl);
  } else if (strncmp(url, "sqlite:", 7) == 0) {
    const char *path = url + 7;
    if (strncmp(path, "//", 2) == 0) path += 2; /* sqlite:///abs/path and sqlite://rel */
    ops = &hl__store_sqlite_ops;
    st = hl__store_sqlite_open(path, &impl);
  } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
    ops = &hl__store_pg_ops;
    st = hl__store_pg_open(url, &impl);
  } else if (strncmp(url, "redis://", 8) == 0) {
    ops = &hl__store_redis_ops;
    st = hl__store_redis_open(url, &impl);
  } else {
    char q[128];
    hl__quote(q, sizeof q, url);
    return hl_fail(HL_ERR_INVALID,
                   "hl_store_open: unknown store URL %s (memory:, sqlite:PATH, "
                   "postgresql://..., redis://...)", q);
  }
  if (st != HL_OK) return st;
  hl_store *s = calloc(1, sizeof *s);
  if (!s) {
    ops->close(impl);
    return hl__oom();
  }
  s->ops = ops;
  s->impl = impl;
  s->load_max = HL_STORE_LOAD_MAX;
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->cut_lock, NULL);
  *out = s;
  return HL_OK;
}

void hl_store_close(hl_store *s) {
  if (!s) return;
  s->ops->close(s->impl);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->cut_lock);
  free(s);
}

const char *hl_store_backend(const hl_store *s) { return s ? s->ops->name : ""; }

hl_status hl_store_set_ttl(hl_store *s, int64_t seconds) {
  if (!s || seconds < 0) return hl_fail(HL_ERR_INVALID, "hl_store_set_ttl: bad argument");
  if (!s->ops->has_ttl)
    return hl_fail(HL_ERR_UNSUPPORTED, "hl_store_set_ttl: the %s store has no expiry "
                   "(Redis only)", s->ops->name);
  pthread_mutex_lock(&s->lock);
  s->ttl = seconds;
  pthread_mutex_unlock(&s->lock);
  return HL_OK;
}

hl_status hl_store_set_load_max(hl_store *s, size_t bytes) {
  if (!s || bytes > HL_STORE_LOAD_MAX)
    return hl_fail(HL_ERR_INVALID, "hl_store_set_load_max: %s", s ? "more than HL_STORE_LOAD_MAX"
                                                                  : "store is NULL");
  pthread_mutex_lock(&s->lock);
  s->load_max = bytes ? bytes : HL_STORE_LOAD_MAX;
  pthread_mutex_unlock(&s->lock);
  return HL_OK;
}

static double hl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Most groups are a turn boundary's few events: these fit on the stack. */
#define HL_STORE_GROUP_STACK 8

static hl_status hl_check_append(const char *fn, hl_store *s, const char *app,
                                 const char *user, const char *id, int64_t expected, size_t n) {
  if (!s) return hl_fail(HL_ERR_INVALID, "%s: store is NULL", fn);
  hl_status st = hl_check_key(fn, app, user, id);
  if (st != HL_OK) return st;
  if (expected < 0) return hl_fail(HL_ERR_INVALID, "%s: negative version", fn);
  if (n == 0) return hl_fail(HL_ERR_INVALID, "%s: no events", fn);
  if (n > HL_STORE_GROUP_MAX)
    return hl_fail(HL_ERR_INVALID, "%s: more than %d events in one append", fn,
                   HL_STORE_GROUP_MAX);
  return HL_OK;
}

void hl__store_interrupt(hl_store *s, const void *owner, atomic_bool *cut_flag) {
  if (!s || !owner || !s->ops->interrupt) return;
  pthread_mutex_lock(&s->cut_lock);
  if (s->busy == owner) {
    atomic_store(cut_flag, true);
    s->ops->interrupt(s->impl, hl__store_now_ms()); /* the budget counts from the cancel */
  }
  pthread_mutex_unlock(&s->cut_lock);
}

/* `owner`'s call starts (NULL: it ended) on s, whose lock the caller
 * holds; `cut`: cut from its start (its run was cancelled already; the
 * budget counts from now). */
static void hl_store_busy(hl_store *s, const void *owner, bool cut) {
  if (!s->ops->interrupt) return;
  pthread_mutex_lock(&s->cut_lock);
  if (!owner && s->busy) s->ops->interrupt(s->impl, 0); /* a cut it may not have seen */
  if (owner && cut) s->ops->interrupt(s->impl, hl__store_now_ms());
  s->busy = owner;
  pthread_mutex_unlock(&s->cut_lock);
}

/* Hand the encoded events to the backend as one append; `owner` (may be
 * NULL) is whose hl__store_interrupt() may cut it, `cancelled` cuts it
 * from its start. */
static hl_status hl_append_texts(hl_store *s, const void *owner, bool cancelled, const char *app,
                                 const char *user, const char *id, int64_t expected,
                                 const hl__session_events *ev, int64_t *new_version) {
  const char *stack_text[HL_STORE_GROUP_STACK];
  size_t stack_len[HL_STORE_GROUP_STACK];
  size_t n = ev->n;
  const char **text = n <= HL_STORE_GROUP_STACK ? stack_text : calloc(n, sizeof *text);
  size_t *len = n <= HL_STORE_GROUP_STACK ? stack_len : calloc(n, sizeof *len);
  hl_status st = text && len ? HL_OK : hl__oom();
  for (size_t i = 0, start = 0; st == HL_OK && i < n; start = ev->ends[i++]) {
    text[i] = ev->buf.p + start;
    len[i] = ev->ends[i] - start;
  }
  if (st == HL_OK) {
    hl__skey k = {app, user, id};
    int64_t v = 0;
    pthread_mutex_lock(&s->lock);
    hl__sappend a = {expected, n, text, len, ev->buf.len, ev->title, hl_now(), s->ttl};
    if (owner) hl_store_busy(s, owner, cancelled);
    st = s->ops->append(s->impl, &k, &a, &v);
    if (owner) hl_store_busy(s, NULL, false);
    pthread_mutex_unlock(&s->lock);
    if (st == HL_OK && new_version) *new_version = v;
  }
  if (text != stack_text) free(text);
  if (len != stack_len) free(len);
  return st;
}

hl_status hl__store_append_texts(hl_store *s, const void *owner, bool cancelled,
                                 const char *app, const char *user, const char *id,
                                 int64_t expected, const hl__session_events *ev,
                                 int64_t *new_version) {
  if (new_version) *new_version = 0;
  hl_status st = hl_check_append("store append", s, app, user, id, expected, ev ? ev->n : 0);
  return st == HL_OK ? hl_append_texts(s, owner, cancelled, app, user, id, expected, ev, new_version)
                     : st;
}

/* Check and encode `events[0..n)`, then hand them to the backend as one
 * append. `fn` names the public function for messages. */
static hl_status hl_append_group(hl_store *s, const char *fn, const char *app, const char *user,
                                 const char *id, int64_t expected, const cJSON *const *events,
                                 size_t n, int64_t *new_version) {
  if (new_version) *new_version = 0;
  hl_status st = hl_check_append(fn, s, app, user, id, expected, n);
  if (st != HL_OK) return st;
  hl__session_events ev = {0};
  for (size_t i = 0; st == HL_OK && i < n; i++) {
    st = hl__session_events_add_json(&ev, events[i]);
    if (st == HL_ERR_INVALID) {
      char why[300];
      snprintf(why, sizeof why, "%s", hl_last_error());
      st = hl_fail(HL_ERR_INVALID, "%s: %s (event %zu is not)", fn, why, i + 1);
    }
    if (st == HL_OK && !ev.title) {
      ev.title = hl__store_event_title(events[i]);
      ev.title_at = i;
    }
  }
  if (st == HL_OK) st = hl_append_texts(s, NULL, false, app, user, id, expected, &ev, new_version);
  hl__session_events_free(&ev);
  return st;
}

hl_status hl_store_append(hl_store *s, const char *app, const char *user, const char *id,
                          int64_t expected, const cJSON *event, int64_t *new_version) {
  const cJSON *one[1] = {event};
  return hl_append_group(s, "hl_store_append", app, user, id, expected, one, 1, new_version);
}

hl_status hl_store_append_events(hl_store *s, const char *app, const char *user, const char *id,
                                 int64_t expected, const cJSON *events, int64_t *new_version) {
  if (new_version) *new_version = 0;
  if (!cJSON_IsArray(events))
    return hl_fail(HL_ERR_INVALID, "hl_store_append_events: events is not a JSON array");
  size_t n = 0;
  for (const cJSON *e = events->child; e; e = e->next) n++;
  if (n == 0 || n > HL_STORE_GROUP_MAX)
    return hl_append_group(s, "hl_store_append_events", app, user, id, expected, NULL, n,
                           new_version);
  const cJSON *stack[HL_STORE_GROUP_STACK];
  const cJSON **list = n <= HL_STORE_GROUP_STACK ? stack : calloc(n, sizeof *list);
  if (!list) return hl__oom();
  size_t i = 0;
  for (const cJSON *e = events->child; e; e = e->next) list[i++] = e;
  hl_status st = hl_append_group(s, "hl_store_append_events", app, user, id, expected, list, n,
                                 new_version);
  if (list != stack) free(list);
  return st;
}

hl_status hl_store_load(hl_store *s, const char *app, const char *user, const char *id,
                        cJSON **events, int64_t *version) {
  if (events) *events = NULL;
  if (version) *version = 0;
  if (!s || !events) return hl_fail(HL_ERR_INVALID, "hl_store_load: store and events are required");
  hl_status st = hl_check_key("hl_store_load", app, user, id);
  if (st != HL_OK) return st;
  hl__store_decoder d;
  if (hl__store_decoder_init(&d, id) != HL_OK) return hl_last_status();
  hl__skey k = {app, user, id};
  int64_t recorded = 0;
  pthread_mutex_lock(&s->lock);
  d.max_bytes = s->load_max;
  st = s->ops->load(s->impl, &k, d.max_bytes, hl__store_decoder_row, &d, &recorded);
  pthread_mutex_unlock(&s->lock);
  if (st == HL_OK) st = hl__store_decoder_finish(&d, recorded);
  else if (d.status != HL_OK) st = hl__store_decoder_finish(&d, recorded);
  if (st != HL_OK) {
    hl__store_decoder_free(&d);
    return st;
  }
  *events = d.events;
  if (version) *version = recorded;
  return HL_OK;
}

hl_status hl_store_list(hl_store *s, const char *app, const char *user, cJSON **out) {
  if (out) *out = NULL;
  if (!s || !out) return hl_fail(HL_ERR_INVALID, "hl_store_list: store and out are required");
  hl_status st = hl_check_key("hl_store_list", app, user, "-");
  if (st != HL_OK) return st;
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return hl__oom();
  pthread_mutex_lock(&s->lock);
  st = s->ops->list(s->impl, app, user, arr);
  pthread_mutex_unlock(&s->lock);
  if (st != HL_OK) {
    cJSON_Delete(arr);
    return st;
  }
  *out = arr;
  return HL_OK;
}

hl_status hl_store_delete(hl_store *s, const char *app, const char *user, const char *id) {
  if (!s) return hl_fail(HL_ERR_INVALID, "hl_store_delete: store is NULL");
  hl_status st = hl_check_key("hl_store_delete", app, user, id);
  if (st != HL_OK) return st;
  hl__skey k = {app, user, id};
  pthread_mutex_lock(&s->lock);
  st = s->ops->del(s->impl, &k);
  pthread_mutex_unlock(&s->lock);
  return st;
}

size_t hl__store_fmt_i64(char *buf, int64_t v) {
  char digits[24];
  size_t d = 0, n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do digits[d++] = (char)('0' + u % 10); while ((u /= 10) > 0);
  if (v < 0) buf[n++] = '-';
  while (d) buf[n++] = digits[--d];
  buf[n] = '\0';
  return n;
}

size_t hl__store_fmt_time(char *buf, double t) {
  if (!(t >= 0 && t < 9e12)) return (size_t)snprintf(buf, 40, "%.6f", t); /* not a clock time */
  int64_t us = (int64_t)(t * 1e6 + 0.5);
  size_t n = hl__store_fmt_i64(buf, us / 1000000);
  buf[n++] = '.';
  int64_t frac = us % 1000000;
  for (int64_t div = 100000; div > 0; div /= 10) buf[n++] = (char)('0' + (frac / div) % 10);
  buf[n] = '\0';
  return n;
}

bool hl__store_list_item(cJSON *out, const char *id, int64_t version, double created,
                         double updated, const char *title, int64_t bytes) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return false;
  bool ok = cJSON_AddStringToObject(o, "id", id) &&
            cJSON_AddNumberToObject(o, "version", (double)version) &&
            cJSON_AddNumberToObject(o, "created", created) &&
            cJSON_AddNumberToObject(o, "updated", updated) &&
            (!title || cJSON_AddStringToObject(o, "title", title)) &&
            cJSON_AddNumberToObject(o, "bytes", (double)bytes);
  if (!ok || !cJSON_AddItemToArray(out, o)) {
    cJSON_Delete(o);
    return false;
  }
  return true;
}
