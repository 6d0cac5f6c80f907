/*
 * fuzz_stream.c - libFuzzer target for a provider's stream decoder: the
 * SSE parser feeding the wire format's event handler and assembler, as
 * llm.c runs them (built once per wire format, see fuzz_body.c).
 *
 * Input: two bytes of chunking (fuzz_util.h), then the event stream.
 * Invariants: the stream is decoded in one piece and in the input's
 * chunks with the same outcome (status, and the same response); failures
 * are HL_ERR_PROVIDER (or HL_ERR_TOO_LARGE from the parser's cap) with a
 * message naming the provider; an assembled response passes
 * fuzz_check_response().
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_response.h"

/* Decode the stream; on HL_OK *json is the response's neutral JSON text. */
static hl_status decode(const hl__llm *l, const hl__llm_wire *w, const uint8_t *s, size_t n,
                        fuzz_chunks *chunks, char **json) {
  *json = NULL;
  hl__llm_stream *st_ = calloc(1, w->stream_size);
  FUZZ_CHECK(st_ != NULL, "calloc");
  st_->l = l;
  st_->r = hl_response_new();
  FUZZ_CHECK(st_->r != NULL, "response_new");

  hl__sse p;
  hl__sse_init(&p, w->stream_event, st_, 1 << 16);
  hl_status st = HL_OK;
  size_t at = 0;
  while (at < n && st == HL_OK) {
    size_t k = chunks ? fuzz_chunks_next(chunks) : n;
    if (k > n - at) k = n - at;
    st = hl__sse_feed(&p, (const char *)s + at, k);
    at += k;
  }
  if (st == HL_OK) st = hl__sse_finish(&p);
  hl__sse_free(&p);

  hl_response *out = NULL;
  if (st == HL_OK) st = w->stream_assemble(st_, &out);
  if (st == HL_OK) {
    FUZZ_CHECK(st_->r == NULL, "assembler kept the response it returned");
    *json = fuzz_check_response(l, w, out);
    hl_response_free(out);
  } else {
    FUZZ_CHECK(st == HL_ERR_PROVIDER || st == HL_ERR_TOO_LARGE, "stream: %s",
               hl_status_name(st));
    FUZZ_CHECK(out == NULL, "response set on failure");
    FUZZ_CHECK(st == HL_ERR_TOO_LARGE ||
                   strncmp(hl_last_error(), FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) == 0,
               "message does not name the provider: %s", hl_last_error());
  }
  w->stream_free(st_);
  hl_response_free(st_->r);
  free(st_);
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const hl__llm_wire *w = FUZZ_WIRE();
  hl__llm l = fuzz_llm(FUZZ_NAME);
  fuzz_chunks chunks;
  size_t used = fuzz_chunks_init(&chunks, data, size);

  char *a = NULL, *b = NULL;
  hl_status sa = decode(&l, w, data + used, size - used, NULL, &a);
  hl_status sb = decode(&l, w, data + used, size - used, &chunks, &b);
  FUZZ_CHECK(sa == sb, "outcome depends on chunking: %s / %s", hl_status_name(sa),
             hl_status_name(sb));
  if (sa == HL_OK) FUZZ_CHECK(strcmp(a, b) == 0, "response depends on chunking:\n  %s\n  %s", a, b);
  hl_free(a);
  hl_free(b);
  return 0;
}
