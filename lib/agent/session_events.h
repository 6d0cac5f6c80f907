/*
 * session_events.h - a session's changes as the events a store writes:
 * JSON texts back to back in one buffer, encoded straight from the change
 * (a message, a state value) without a cJSON tree, and the title a user
 * message gives a session. A stored session collects a turn boundary's
 * events here (session.c) and hands them to its sink as one append
 * (session_internal.h; lib/store/store.c: hl__store_append_texts). The
 * encoding is the agent layer's, next to the session that makes the
 * changes, so that the store builds on it and the session needs nothing
 * of lib/store/; the store reads the same events back (store_decode.c).
 */
#ifndef HL_SESSION_EVENTS_H
#define HL_SESSION_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "hookline/model.h"
#include "core/util.h"

/* Events nest at most this deep (an event object is one level), so that
 * any stored log reads back with the JSON parser's limits to spare. */
#define HL__SESSION_EVENT_DEPTH 200

/* Event i is buf.p[i ? ends[i - 1] : 0 .. ends[i]). `title` (malloc'd or
 * NULL) is the session title of the user message at event `title_at`.
 * Start from {0}; not thread-safe (the session's write lock guards it). */
typedef struct hl__session_events {
  hl__jbuf buf;
  size_t *ends;
  size_t n, cap;
  char *title;
  size_t title_at;
} hl__session_events;

/* Each adds one event, all of it or nothing (on failure the list is as it
 * was): HL_OK, HL_ERR_NOMEM, or HL_ERR_INVALID for JSON nested deeper than
 * HL__SESSION_EVENT_DEPTH allows (messages set). */
hl_status hl__session_events_add_message(hl__session_events *ev, const hl_message *msg);
/* {"type":"state","key":K,"value":V}; `value` NULL writes null (removed). */
hl_status hl__session_events_add_state(hl__session_events *ev, const char *key,
                                       const cJSON *value);
/* Any event given as cJSON (a JSON object with a string "type"). */
hl_status hl__session_events_add_json(hl__session_events *ev, const cJSON *event);
/* Set the title from `msg` (a user message) for event ev->n - 1 if the list
 * has none; false only when out of memory. */
bool hl__session_events_title_from(hl__session_events *ev, const hl_message *msg);
/* Keep the first `n` events (and the title only if its event is kept). */
void hl__session_events_cut(hl__session_events *ev, size_t n);
/* Keep the events for which keep(text, len, ud) says true, in order (the
 * title only if its event is kept). */
void hl__session_events_filter(hl__session_events *ev,
                               bool (*keep)(const char *text, size_t len, void *ud), void *ud);
/* True if event text[0..len) is a message event (as this file writes them). */
bool hl__session_events_is_message(const char *text, size_t len);
/* Empty the list, keeping its buffers for the next events. */
void hl__session_events_clear(hl__session_events *ev);
void hl__session_events_free(hl__session_events *ev);

/* The title a session gets from its first user message `msg`: its text on
 * one line, at most 60 bytes (cut at a character boundary); NULL if it has
 * no text (or out of memory). malloc'd. */
char *hl__session_title_of(const hl_message *msg);

#endif
