/*
 * test_http.c - pieces of the HTTP layer that need no server: redaction of
 * secrets and which statuses are retried.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "providers/http.h"

static void redact_replaces_every_occurrence(void) {
  char *t = strdup("key=sk-abc; again sk-abcsk-abc end");
  t = hl__redact(t, "sk-abc");
  CHECK_STR(t, "key=[REDACTED]; again [REDACTED][REDACTED] end");
  free(t);
}

static void redact_without_secret_keeps_text(void) {
  char *t = strdup("nothing to hide");
  char *same = hl__redact(t, NULL);
  CHECK(same == t);
  same = hl__redact(same, "");
  CHECK_STR(same, "nothing to hide");
  same = hl__redact(same, "absent");
  CHECK_STR(same, "nothing to hide");
  free(same);
}

static void redact_into_truncates_safely(void) {
  char out[16];
  hl__redact_into(out, sizeof out, "a sk-secret-key b", "sk-secret-key");
  CHECK_STR(out, "a [REDACTED] b");
  hl__redact_into(out, sizeof out, "0123456789abcdefghij", NULL);
  CHECK_STR(out, "0123456789abcde");
  /* A secret cut by the end of the buffer never leaks a prefix of itself. */
  hl__redact_into(out, 8, "xx sk-secret-key", "sk-secret-key");
  CHECK(strstr(out, "sk-") == NULL);
  hl__redact_into(out, sizeof out, NULL, "k");
  CHECK_STR(out, "");
}

static void retryable_statuses(void) {
  long yes[] = {408, 409, 429, 500, 502, 503, 504, 529};
  long no[] = {200, 400, 401, 403, 404, 413, 422};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) CHECK(hl__http_status_retryable(yes[i]));
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) CHECK(!hl__http_status_retryable(no[i]));
}

static void bad_request_arguments(void) {
  hl__http_response resp;
  CHECK_INT(hl__http_request_send(NULL, NULL, &resp), HL_ERR_INVALID);
  CHECK_INT(resp.status, 0);
  hl__http *c = hl__http_new(NULL);
  REQUIRE(c);
  hl__http_request req;
  memset(&req, 0, sizeof req);
  CHECK_INT(hl__http_request_send(c, &req, &resp), HL_ERR_INVALID);
  req.url = "notascheme://x";
  CHECK_INT(hl__http_request_send(c, &req, &resp), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "bad URL");
  hl__http_response_clear(&resp);
  hl__http_free(c);
}

int main(void) {
  RUN(redact_replaces_every_occurrence);
  RUN(redact_without_secret_keeps_text);
  RUN(redact_into_truncates_safely);
  RUN(retryable_statuses);
  RUN(bad_request_arguments);
  return CHECK_EXIT();
}
