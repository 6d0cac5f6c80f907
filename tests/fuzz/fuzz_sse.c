/*
 * fuzz_sse.c - libFuzzer target for the SSE parser (lib/net/sse.c).
 *
 * Input: two bytes of chunking (see fuzz_util.h), then the stream. The
 * stream is parsed three times: in one piece, in the input's chunks, and
 * finely (byte by byte, or for a long input byte by byte at both ends and
 * in chunks of 1..32 bytes between: fuzz_util.h's fuzz_fine). Invariants:
 * the three give the same events (name and data, embedded NUL bytes
 * included) and the same final status; every event's
 * data is NUL-terminated at data_len; an event name never exceeds its
 * buffer; the parser fails only with HL_ERR_TOO_LARGE (a small cap is set
 * so that the fuzzer reaches it).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "net/sse.h"

#define CAP 512

typedef struct events {
  char *log;   /* "name\x01data\x02" per event */
  size_t len, cap;
  size_t count;
} events;

static void append(events *e, const char *s, size_t n) {
  if (n == 0) return;
  if (e->len + n > e->cap) {
    e->cap = (e->len + n) * 2 + 64;
    e->log = realloc(e->log, e->cap);
    if (!e->log) abort();
  }
  memcpy(e->log + e->len, s, n);
  e->len += n;
}

static hl_status on_event(const char *event, const char *data, size_t len, void *user) {
  events *e = user;
  FUZZ_CHECK(data[len] == '\0', "data not NUL-terminated at data_len");
  FUZZ_CHECK(len <= CAP, "event of %zu bytes passed the %d-byte cap", len, CAP);
  size_t n = strlen(event);
  FUZZ_CHECK(n < sizeof ((hl__sse *)0)->event, "event name overflow");
  append(e, event, n);
  append(e, "\x01", 1);
  append(e, data, len);
  append(e, "\x02", 1);
  e->count++;
  return HL_OK;
}

/* Parse in chunks from `chunks`, or finely from `fine`, or else in one
 * piece. */
static hl_status parse(const uint8_t *s, size_t n, fuzz_chunks *chunks, fuzz_fine *fine,
                       events *e) {
  hl__sse p;
  hl__sse_init(&p, on_event, e, CAP);
  hl_status st = HL_OK;
  size_t at = 0;
  while (at < n && st == HL_OK) {
    size_t k = chunks ? fuzz_chunks_next(chunks) : fine ? fuzz_fine_next(fine, at) : n;
    if (k > n - at) k = n - at;
    st = hl__sse_feed(&p, (const char *)s + at, k);
    at += k;
  }
  if (st == HL_OK) st = hl__sse_finish(&p);
  else FUZZ_CHECK(hl__sse_finish(&p) == st, "a failure is not sticky");
  hl__sse_free(&p);
  FUZZ_CHECK(st == HL_OK || st == HL_ERR_TOO_LARGE, "status %s", hl_status_name(st));
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_chunks chunks;
  size_t used = fuzz_chunks_init(&chunks, data, size);
  const uint8_t *s = data + used;
  size_t n = size - used;
  fuzz_fine fine;
  fuzz_fine_init(&fine, s, n);

  events whole = {0}, split = {0}, finely = {0};
  hl_status a = parse(s, n, NULL, NULL, &whole);
  hl_status b = parse(s, n, &chunks, NULL, &split);
  hl_status c = parse(s, n, NULL, &fine, &finely);
  FUZZ_CHECK(a == b && b == c, "status depends on chunking: %s %s %s", hl_status_name(a),
             hl_status_name(b), hl_status_name(c));
  /* After a failure the events before it may differ by chunking (a cap is
   * hit at a different point); on success they must be identical. */
  if (a == HL_OK) {
    FUZZ_CHECK(whole.count == split.count && whole.count == finely.count,
               "event count depends on chunking: %zu %zu %zu", whole.count, split.count,
               finely.count);
    FUZZ_CHECK(whole.len == split.len && whole.len == finely.len, "events depend on chunking");
    FUZZ_CHECK(whole.len == 0 || (memcmp(whole.log, split.log, whole.len) == 0 &&
                                  memcmp(whole.log, finely.log, whole.len) == 0),
               "events depend on chunking");
  }
  free(whole.log);
  free(split.log);
  free(finely.log);
  return 0;
}
