/*
 * net/sse.h - an incremental parser for server-sent events.
 *
 * Feed it the response body in whatever pieces the network delivers (a
 * line, a UTF-8 character or a CRLF pair may be split anywhere); it calls
 * back once per complete event. Follows the WHATWG event-stream rules that
 * matter for model APIs: lines end with LF, CRLF or CR; a line starting
 * with ':' is a comment (keep-alive); "field: value" loses one leading
 * space; several data lines join with '\n'; a blank line dispatches; an
 * event with no data line is not dispatched; a UTF-8 BOM at the start is
 * skipped.
 *
 * Internal to the library (tests and bench may use it). Not thread-safe:
 * one parser per stream.
 */
#ifndef HL_NET_SSE_H
#define HL_NET_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "hookline/status.h"

/* One complete event. `event` is the "event:" field ("" when absent);
 * `data` is NUL-terminated and `data_len` long. Both are borrowed for the
 * call. Return HL_OK to go on; any other status (set with hl_fail) stops
 * the parser and is returned by hl__sse_feed(). */
typedef hl_status (*hl__sse_event_fn)(const char *event, const char *data,
                                      size_t data_len, void *user);

typedef struct hl__sse {
  hl__sse_event_fn on_event;
  void *user;
  size_t max_event;  /* cap on one line / one event's data (bytes) */
  char *line;        /* the current, unfinished line */
  size_t line_len, line_cap;
  char *data;        /* data lines of the current event */
  size_t data_len, data_cap;
  bool has_data;
  char event[64];    /* "event:" field, truncated (names are short) */
  bool last_cr;      /* previous chunk ended in CR: a following LF is part of it */
  size_t bom_seen;   /* bytes of a leading BOM matched so far (3 = done) */
  hl_status failed;  /* sticky error */
} hl__sse;

/* Initialise `p` (no allocation yet). max_event 0 means 16 MiB. */
void hl__sse_init(hl__sse *p, hl__sse_event_fn on_event, void *user, size_t max_event);
/* Parse `len` more bytes. Returns HL_OK, the callback's error, or
 * HL_ERR_TOO_LARGE / HL_ERR_NOMEM. After a failure every later call
 * returns the same status. */
hl_status hl__sse_feed(hl__sse *p, const char *bytes, size_t len);
/* The stream ended: an unterminated last line is taken as if a newline
 * followed, and a pending event is dispatched (lenient: some servers omit
 * the final blank line). */
hl_status hl__sse_finish(hl__sse *p);
/* Free buffers; `p` may be initialised again. */
void hl__sse_free(hl__sse *p);

#endif
