/*
 * session_events.c - a turn's events as JSON texts in one buffer
 * (session_events.h). A message is most of what a turn writes: it is
 * encoded straight from the hl_message, where building its cJSON tree,
 * wrapping it in an event and printing that cost a turn of scenario (b)
 * some eighty allocations.
 */
#include <stdlib.h>
#include <string.h>

#include "core/message_write.h"
#include "agent/session_events.h"

/* Close event n (its text ends at buf.len). */
static hl_status ev_close(hl__session_events *ev, size_t start) {
  if (!ev->buf.failed &&
      hl__reserve((void **)&ev->ends, &ev->cap, ev->n + 1, sizeof *ev->ends) == HL_OK) {
    ev->ends[ev->n++] = ev->buf.len;
    return HL_OK;
  }
  ev->buf.failed = false;
  ev->buf.len = start;
  if (ev->buf.p) ev->buf.p[start] = '\0';
  return hl_fail(HL_ERR_NOMEM, "store: out of memory");
}

/* Undo a partly written event after an encoding error. */
static hl_status ev_undo(hl__session_events *ev, size_t start, hl_status st) {
  ev->buf.failed = false;
  ev->buf.len = start;
  if (ev->buf.p) ev->buf.p[start] = '\0';
  return st;
}

hl_status hl__session_events_add_message(hl__session_events *ev, const hl_message *msg) {
  size_t start = ev->buf.len;
  static const char head[] = "{\"type\":\"message\",\"message\":";
  hl__jbuf_raw(&ev->buf, head, sizeof head - 1);
  /* event > message > content > part > arguments: four levels above */
  hl_status st = hl__message_write_json(&ev->buf, msg, HL__SESSION_EVENT_DEPTH - 4);
  if (st != HL_OK && st != HL_ERR_NOMEM) return ev_undo(ev, start, st);
  hl__jbuf_raw(&ev->buf, "}", 1);
  return ev_close(ev, start);
}

hl_status hl__session_events_add_state(hl__session_events *ev, const char *key,
                                       const cJSON *value) {
  if (value && !hl__json_depth_ok(value, HL__SESSION_EVENT_DEPTH - 1))
    return hl_fail(HL_ERR_INVALID, "store: a state value nested deeper than %d levels",
                   HL__SESSION_EVENT_DEPTH - 1);
  size_t start = ev->buf.len;
  static const char head[] = "{\"type\":\"state\",\"key\":";
  hl__jbuf_raw(&ev->buf, head, sizeof head - 1);
  hl__jbuf_string(&ev->buf, key);
  hl__jbuf_raw(&ev->buf, ",\"value\":", 9);
  if (value) hl__jbuf_value(&ev->buf, value);
  else hl__jbuf_raw(&ev->buf, "null", 4);
  hl__jbuf_raw(&ev->buf, "}", 1);
  return ev_close(ev, start);
}

hl_status hl__session_events_add_json(hl__session_events *ev, const cJSON *event) {
  if (!cJSON_IsObject(event) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(event, "type")))
    return hl_fail(HL_ERR_INVALID, "an event is a JSON object with a string \"type\"");
  if (!hl__json_depth_ok(event, HL__SESSION_EVENT_DEPTH))
    return hl_fail(HL_ERR_INVALID, "an event nested deeper than %d levels",
                   HL__SESSION_EVENT_DEPTH);
  size_t start = ev->buf.len;
  hl__jbuf_value(&ev->buf, event);
  return ev_close(ev, start);
}

bool hl__session_events_title_from(hl__session_events *ev, const hl_message *msg) {
  if (ev->title || ev->n == 0 || msg->role != HL_ROLE_USER) return true;
  ev->title = hl__session_title_of(msg);
  ev->title_at = ev->n - 1;
  return true;
}

void hl__session_events_cut(hl__session_events *ev, size_t n) {
  if (n >= ev->n) return;
  ev->n = n;
  ev->buf.len = n ? ev->ends[n - 1] : 0;
  if (ev->buf.p) ev->buf.p[ev->buf.len] = '\0';
  if (ev->title && ev->title_at >= n) {
    free(ev->title);
    ev->title = NULL;
  }
}

void hl__session_events_filter(hl__session_events *ev,
                               bool (*keep)(const char *text, size_t len, void *ud), void *ud) {
  size_t out = 0, len = 0, start = 0;
  bool title_kept = false;
  for (size_t i = 0; i < ev->n; start = ev->ends[i++]) {
    size_t n = ev->ends[i] - start;
    if (!keep(ev->buf.p + start, n, ud)) continue;
    memmove(ev->buf.p + len, ev->buf.p + start, n);
    len += n;
    if (ev->title && ev->title_at == i) {
      ev->title_at = out;
      title_kept = true;
    }
    ev->ends[out++] = len;
  }
  ev->n = out;
  ev->buf.len = len;
  if (ev->buf.p) ev->buf.p[len] = '\0';
  if (ev->title && !title_kept) {
    free(ev->title);
    ev->title = NULL;
  }
}

bool hl__session_events_is_message(const char *text, size_t len) {
  static const char head[] = "{\"type\":\"message\"";
  return len >= sizeof head - 1 && memcmp(text, head, sizeof head - 1) == 0;
}

void hl__session_events_clear(hl__session_events *ev) { hl__session_events_cut(ev, 0); }

void hl__session_events_free(hl__session_events *ev) {
  free(ev->buf.p);
  free(ev->ends);
  free(ev->title);
  memset(ev, 0, sizeof *ev);
}

char *hl__session_title_of(const hl_message *msg) {
  char *text = msg ? hl_message_text(msg) : NULL;
  if (!text) return NULL;
  for (char *p = text; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
  size_t n = strlen(text), cut = 60;
  if (n <= 60) return text;
  while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--; /* UTF-8 boundary */
  text[cut] = '\0';
  return text;
}
