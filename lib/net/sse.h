/*
 * net/sse.h - an incremental parser for server-sent events.
 *
 * Feed it the response body in whatever pieces the network delivers (a
 * line, a UTF-8 character or a CRLF pair may be split anywhere); it calls
 * back once per complete event. Follows the WHATWG event-stream rules
 * (HTML "Server-sent events", parsing an event stream): lines end with
 * LF, CRLF or CR; a line starting with ':' is a comment (keep-alive); a
 * line without a colon is a field with an empty value; "field: value"
 * loses one leading space; several data lines join with '\n'; a blank
 * line dispatches; an event with no data line is not dispatched; a UTF-8
 * BOM at the start is skipped; `id` sets the last event ID unless its
 * value contains NUL, `retry` the reconnection time when its value is
 * only ASCII digits; at the end of the stream an event without its blank
 * line is discarded, not dispatched. One deviation: an id longer than
 * HL__SSE_MAX_ID - 1 bytes is ignored like one with a NUL (a
 * Last-Event-ID header of any size would follow from it). The model
 * providers use it for their streams, the MCP client for its answers
 * (which resume with the id and retry fields).
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

#define HL__SSE_MAX_ID 256

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
  char id[HL__SSE_MAX_ID];      /* the last event ID buffer */
  char last_id[HL__SSE_MAX_ID]; /* ... as of the last blank line */
  bool id_pending;   /* an id field came since the last blank line */
  bool blank_seen;   /* a blank line came: last_id is the stream's */
  long retry_ms;     /* the last valid retry field, -1: none */
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
/* The stream ended: an unterminated last line and an event without its
 * blank line are discarded (WHATWG: a stream cut in the middle of an
 * event must not deliver half of it). Returns HL_OK or the sticky
 * failure. */
hl_status hl__sse_finish(hl__sse *p);
/* The last event ID as of the stream's last blank line (each blank line
 * sets it from the id fields before it, "" when there was none), or NULL
 * before the first blank line: then the stream has not changed the ID a
 * reconnection sends (Last-Event-ID). Borrowed until the next feed. */
const char *hl__sse_last_event_id(const hl__sse *p);
/* Start a reconnection's parser from the last event ID the stream had
 * (WHATWG: the buffer is the EventSource's, it outlives a connection):
 * events without an id field leave it as it was. Call after init. */
void hl__sse_set_last_event_id(hl__sse *p, const char *id);
/* The reconnection time the stream asked for (ms), -1 if none. */
long hl__sse_retry_ms(const hl__sse *p);
/* Free buffers; `p` may be initialised again. */
void hl__sse_free(hl__sse *p);

#endif
