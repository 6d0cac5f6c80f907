/*
 * test_sse.c - the SSE parser on recorded streams, fed split at every byte
 * boundary (and byte by byte): the events must come out the same however
 * the network cuts the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net/sse.h"

typedef struct collected {
  char out[8192]; /* "event|data\n" per event */
  size_t len;
  int count;
} collected;

static hl_status collect(const char *event, const char *data, size_t len, void *user) {
  collected *c = user;
  CHECK_INT(strlen(data), len); /* NUL-terminated, no embedded NUL here */
  int n = snprintf(c->out + c->len, sizeof c->out - c->len, "%s|%s\n", event, data);
  if (n > 0) c->len += (size_t)n;
  c->count++;
  return HL_OK;
}

/* Parse `stream` cut at `cut` (and at every byte after `bytewise`). */
static void parse_split(const char *stream, size_t len, size_t cut, bool bytewise, collected *c) {
  hl__sse p;
  memset(c, 0, sizeof *c);
  hl__sse_init(&p, collect, c, 0);
  if (bytewise) {
    for (size_t i = 0; i < len; i++) CHECK_INT(hl__sse_feed(&p, stream + i, 1), HL_OK);
  } else {
    CHECK_INT(hl__sse_feed(&p, stream, cut), HL_OK);
    CHECK_INT(hl__sse_feed(&p, stream + cut, len - cut), HL_OK);
  }
  CHECK_INT(hl__sse_finish(&p), HL_OK);
  hl__sse_free(&p);
}

/* Every split of `stream` gives `expected`. */
static void every_split(const char *stream, const char *expected, int events) {
  size_t len = strlen(stream);
  collected c;
  for (size_t cut = 0; cut <= len; cut++) {
    parse_split(stream, len, cut, false, &c);
    if (strcmp(c.out, expected) != 0 || c.count != events) {
      fprintf(stderr, "split at %zu:\n got: %s\nwant: %s\n", cut, c.out, expected);
      CHECK(0);
      return;
    }
  }
  parse_split(stream, len, 0, true, &c);
  CHECK_STR(c.out, expected);
  CHECK_INT(c.count, events);
}

/* A recorded OpenAI stream (trimmed), with a multi-byte character. */
static const char openai_lf[] =
    "data: {\"choices\":[{\"delta\":{\"content\":\"Caf\xc3\xa9 \xe2\x82\xac\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\"}}]}}]}\n\n"
    "data: [DONE]\n\n";
static const char openai_expected[] =
    "|{\"choices\":[{\"delta\":{\"content\":\"Caf\xc3\xa9 \xe2\x82\xac\"}}]}\n"
    "|{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\"}}]}}]}\n"
    "|[DONE]\n";

static void sse_openai_lf_every_split(void) { every_split(openai_lf, openai_expected, 3); }

static void sse_crlf_every_split(void) {
  every_split("data: {\"x\":1}\r\n\r\nevent: ping\r\ndata: {}\r\n\r\ndata: [DONE]\r\n\r\n",
              "|{\"x\":1}\nping|{}\n|[DONE]\n", 3);
}

static void sse_cr_only_every_split(void) {
  every_split("data: a\r\rdata: b\r\r", "|a\n|b\n", 2);
}

static void sse_comments_and_keepalives(void) {
  every_split(": stream opened\n\n: keep-alive\nevent: message_start\n:\ndata: {\"t\":1}\n\n"
              ":\n\n: ping\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
              "message_start|{\"t\":1}\nping|{\"type\":\"ping\"}\n", 2);
}

static void sse_multiline_data_joined(void) {
  every_split("data: {\"a\":\ndata:1}\n\ndata\n\n", "|{\"a\":\n1}\n|\n", 2);
}

static void sse_anthropic_recorded(void) {
  every_split(
      "event: message_start\n"
      "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\xf0\x9f\x98\x80\"}}\n\n"
      "event: message_stop\n"
      "data: {\"type\":\"message_stop\"}\n\n",
      "message_start|{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\"}}\n"
      "content_block_delta|{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\xf0\x9f\x98\x80\"}}\n"
      "message_stop|{\"type\":\"message_stop\"}\n",
      3);
}

static void sse_bom_skipped_and_fields_ignored(void) {
  every_split("\xef\xbb\xbfid: 7\nretry: 100\ndata: x\n\n", "|x\n", 1);
  every_split("\xef\xbb\xbf\xef\xbb\xbf""data: x\n\n", "", 0); /* only the first BOM is skipped */
}

static void sse_event_without_data_not_dispatched(void) {
  every_split("event: lonely\n\ndata: y\n\n", "|y\n", 1);
}

/* WHATWG: at the end of the stream an event without its blank line is
 * discarded, whether its last line ended or not. */
static void sse_unterminated_last_event_not_dispatched(void) {
  every_split("data: a\n\ndata: [DONE]", "|a\n", 1);
  every_split("data: a\n\ndata: [DONE]\n", "|a\n", 1);
  every_split("data: a\r\n\r\nevent: x\r\ndata: b\r\n", "|a\n", 1);
}

/* A line without a colon is a field named by the whole line with an
 * empty value: "data" alone is an empty data line. */
static void sse_field_without_colon(void) {
  every_split("data\n\ndata\ndata\n\ndata:x\n\n", "|\n|\n\n|x\n", 3);
}

/* Parse `stream` (`len` bytes, NULs allowed) at every split and byte by
 * byte: the events, the last event ID (NULL: none set) and the retry
 * delay must come out the same. */
static void resume_fields_every_split(const char *stream, size_t len, const char *events, const char *id,
                                      long retry) {
  for (size_t cut = 0; cut <= len + 1; cut++) {
    collected c;
    memset(&c, 0, sizeof c);
    hl__sse p;
    hl__sse_init(&p, collect, &c, 0);
    if (cut <= len) {
      CHECK_INT(hl__sse_feed(&p, stream, cut), HL_OK);
      CHECK_INT(hl__sse_feed(&p, stream + cut, len - cut), HL_OK);
    } else {
      for (size_t i = 0; i < len; i++) CHECK_INT(hl__sse_feed(&p, stream + i, 1), HL_OK);
    }
    CHECK_INT(hl__sse_finish(&p), HL_OK);
    const char *got = hl__sse_last_event_id(&p);
    bool same = strcmp(c.out, events) == 0 && (id ? got && strcmp(got, id) == 0 : got == NULL) &&
                hl__sse_retry_ms(&p) == retry;
    if (!same) {
      fprintf(stderr, "split at %zu: events \"%s\" id %s retry %ld\n", cut, c.out, got ? got : "(none)",
              hl__sse_retry_ms(&p));
      CHECK(0);
      hl__sse_free(&p);
      return;
    }
    hl__sse_free(&p);
  }
}
#define RESUME(s, events, id, retry) resume_fields_every_split(s, sizeof s - 1, events, id, retry)

static void sse_id_and_retry(void) {
  /* Set by id and retry lines, kept from event to event. */
  RESUME("id: 7\nretry: 2500\ndata: x\n\ndata: y\n\n", "|x\n|y\n", "7", 2500);
  /* The last event ID is taken at a blank line, data or not: the
   * priming event (an id and an empty data line), an id alone. */
  RESUME("id: p0\ndata:\n\n", "|\n", "p0", -1);
  RESUME("id: 9\n\n", "", "9", -1);
  /* "id" with an empty value (or no colon) resets it. */
  RESUME("id: 1\ndata: a\n\nid\ndata: b\n\n", "|a\n|b\n", "", -1);
  /* An id containing NUL is ignored. */
  RESUME("id: 1\n\nid: a\0b\ndata: x\n\n", "|x\n", "1", -1);
  /* No blank line yet: the stream has not set it; an id after the last
   * blank line is not taken either. */
  RESUME("id: 3\ndata: x\n", "", NULL, -1);
  RESUME("id: 1\ndata: a\n\nid: 2\ndata: b", "|a\n", "1", -1);
  /* retry: only ASCII digits; anything else is ignored, the last valid
   * one counts; no space after the colon is fine. */
  RESUME("retry: 100\nretry: 10x\nretry: -5\nretry: \nretry\nretry:  7\ndata: x\n\n", "|x\n", "", 100);
  RESUME("retry:5000\n\n", "", "", 5000);
  RESUME("retry: 99999999999999999999\n\n", "", "", 1000000000);
  /* A retry line at the end without its line end is discarded. */
  RESUME("retry: 10\n\nretry: 20", "", "", 10);
  /* BOM, CR line ends and comments around them. */
  RESUME("\xef\xbb\xbf: hi\rid: a\rretry: 5\rdata: x\r\r", "|x\n", "a", 5);
  /* Longer than HL__SSE_MAX_ID - 1 bytes: ignored. */
  char longid[HL__SSE_MAX_ID + 20];
  memset(longid, 'i', sizeof longid);
  memcpy(longid, "id: ", 4);
  memcpy(longid + sizeof longid - 4, "\n\n\n", 3);
  longid[sizeof longid - 1] = '\0';
  resume_fields_every_split(longid, strlen(longid), "", "", -1);
}

static void sse_oversized_event_is_an_error(void) {
  collected c;
  memset(&c, 0, sizeof c);
  hl__sse p;
  hl__sse_init(&p, collect, &c, 16);
  CHECK_INT(hl__sse_feed(&p, "data: 0123456789", 16), HL_OK);
  hl_status st = hl__sse_feed(&p, "0123456789abcdef\n\n", 18);
  CHECK_INT(st, HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "larger than 16 bytes");
  CHECK_INT(hl__sse_feed(&p, "data: x\n\n", 9), HL_ERR_TOO_LARGE); /* sticky */
  CHECK_INT(c.count, 0);
  hl__sse_free(&p);
}

/* Feed `s` to a parser with a 16-byte cap in pieces of `step` bytes. */
static hl_status feed_in_steps(const char *s, size_t step, collected *c) {
  size_t n = strlen(s);
  memset(c, 0, sizeof *c);
  hl__sse p;
  hl__sse_init(&p, collect, c, 16);
  hl_status st = HL_OK;
  for (size_t i = 0; i < n && st == HL_OK; i += step)
    st = hl__sse_feed(&p, s + i, i + step <= n ? step : n - i);
  if (st == HL_OK) st = hl__sse_finish(&p);
  hl__sse_free(&p);
  return st;
}

/* The cap holds however the network cuts the stream: a line over it fails
 * whether it comes in one piece or byte by byte, and so does an event
 * whose data lines add up to more. It used to be checked only when a
 * buffer grew (by doubling, from 256 bytes), so a long line in pieces, or
 * a second data line, passed (found by tests/fuzz/fuzz_sse.c). */
static void sse_cap_same_for_every_split(void) {
  static const char *over[] = {
      "id: 0123456789abcdefghij\n\ndata: x\n\n",           /* a 24-byte line */
      ": a comment of more than sixteen bytes\ndata: x\n\n", /* a 38-byte comment */
      "data: 0123456789\ndata: abcdefghij\n\n",           /* 21 bytes of data */
  };
  const char *under = "data: 0123456789\n\ndata: abcdef\ndata: 012\n\n";
  collected c;
  for (size_t step = 1; step <= 40; step++) {
    for (size_t k = 0; k < sizeof over / sizeof over[0]; k++) {
      hl_status st = feed_in_steps(over[k], step, &c);
      if (st != HL_ERR_TOO_LARGE)
        fprintf(stderr, "case %zu in pieces of %zu bytes: %s\n", k, step, hl_status_name(st));
      CHECK_INT(st, HL_ERR_TOO_LARGE);
    }
    CHECK_INT(feed_in_steps(under, step, &c), HL_OK);
    CHECK_STR(c.out, "|0123456789\n|abcdef\n012\n");
  }
}

static hl_status refuse(const char *event, const char *data, size_t len, void *user) {
  (void)event;
  (void)data;
  (void)len;
  (*(int *)user)++;
  return hl_fail(HL_ERR_PROVIDER, "refused");
}

static void sse_callback_error_stops_parser(void) {
  int calls = 0;
  hl__sse p;
  hl__sse_init(&p, refuse, &calls, 0);
  CHECK_INT(hl__sse_feed(&p, "data: a\n\ndata: b\n\n", 18), HL_ERR_PROVIDER);
  CHECK_INT(calls, 1);
  CHECK_STR(hl_last_error(), "refused");
  hl__sse_free(&p);
}

int main(void) {
  RUN(sse_openai_lf_every_split);
  RUN(sse_crlf_every_split);
  RUN(sse_cr_only_every_split);
  RUN(sse_comments_and_keepalives);
  RUN(sse_multiline_data_joined);
  RUN(sse_anthropic_recorded);
  RUN(sse_bom_skipped_and_fields_ignored);
  RUN(sse_event_without_data_not_dispatched);
  RUN(sse_unterminated_last_event_not_dispatched);
  RUN(sse_field_without_colon);
  RUN(sse_id_and_retry);
  RUN(sse_oversized_event_is_an_error);
  RUN(sse_callback_error_stops_parser);
  RUN(sse_cap_same_for_every_split);
  return CHECK_EXIT();
}
