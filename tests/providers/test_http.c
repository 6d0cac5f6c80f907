/*
 * test_http.c - pieces of the HTTP layer that need no server: redaction of
 * secrets, which statuses are retried, reading a server's Retry-After
 * wish, and the excerpts of unexpected answers quoted in messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "net/excerpt.h"
#include "net/http.h"
#include "net/retry_after.h"

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

static void redact_into_replaces_every_occurrence(void) {
  char out[64];
  hl__redact_into(out, sizeof out, "sk-abcsk-abc mid sk-abc", "sk-abc");
  CHECK_STR(out, "[REDACTED][REDACTED] mid [REDACTED]");
  hl__redact_into(out, sizeof out, "no key here", "sk-abc");
  CHECK_STR(out, "no key here");
  /* The mask itself cut by the end of the buffer. */
  hl__redact_into(out, 10, "ab sk-abc", "sk-abc");
  CHECK_STR(out, "ab [REDAC");
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

/* Only http:// and https:// go out: libcurl would read a file:// URL
 * (here a file that exists, so a leak would show as its bytes in the
 * body) and guesses FTP for a scheme-less "ftp." host. */
static void only_http_and_https_urls(void) {
  char path[] = "/tmp/hl-test-http-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "SECRET-FILE-BYTES", 17) == 17);
  close(fd);
  char file_url[64];
  snprintf(file_url, sizeof file_url, "file://%s", path);
  char upper_file_url[64];
  snprintf(upper_file_url, sizeof upper_file_url, "FILE://%s", path);
  const char *refused[] = {file_url, upper_file_url, "ftp://127.0.0.1:1/x", "ftp.example.invalid/x",
                           "127.0.0.1:1/v1", "gopher://127.0.0.1:1/", "dict://127.0.0.1:1/"};
  hl__http_options o;
  hl__http_options_default(&o);
  o.max_retries = 0; /* the closed port below: one attempt */
  hl__http *c = hl__http_new(&o);
  REQUIRE(c);
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    hl__http_request req;
    memset(&req, 0, sizeof req);
    req.url = refused[i];
    hl__http_response resp;
    CHECK_INT(hl__http_request_send(c, &req, &resp), HL_ERR_INVALID);
    CHECK_CONTAINS(hl_last_error(), "only http:// and https:// URLs");
    CHECK(resp.body == NULL);
    hl__http_response_clear(&resp);
  }
  /* The scheme's case does not matter: this one is sent (and refused by
   * the closed port, a network error, not a bad URL). */
  hl__http_request req;
  memset(&req, 0, sizeof req);
  req.url = "HTTP://127.0.0.1:1/v1";
  hl__http_response resp;
  CHECK_INT(hl__http_request_send(c, &req, &resp), HL_ERR_NETWORK);
  hl__http_response_clear(&resp);
  hl__http_free(c);
  unlink(path);
}

/* Retry-After is delta-seconds or an HTTP-date; anything else is no wish.
 * Server-controlled sizes saturate instead of overflowing. */
static void retry_after_values(void) {
  time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
  CHECK(hl_retry_after_ms("86400", now) == 86400000.0);
  CHECK(hl_retry_after_ms(" 5 \r\n", now) == 5000.0);
  CHECK(hl_retry_after_ms("0", now) == 0.0);
  CHECK(hl_retry_after_ms("Tue, 14 Nov 2023 22:14:00 GMT", now) == 40000.0);
  CHECK(hl_retry_after_ms("Tue, 14 Nov 2023 22:13:00 GMT\r\n", now) == 0.0); /* past */
  CHECK(hl_retry_after_ms("Tuesday, 14-Nov-23 22:14:00 GMT", now) == 40000.0); /* RFC 850 */
  CHECK(hl_retry_after_ms("99999999999999999999999999999999999999", now) == HL_RETRY_AFTER_MAX_MS);
  const char *none[] = {"", "-5", "1.5", "1e300", "inf", "nan", "0x10", "5 s", "soon", NULL};
  for (int i = 0; none[i]; i++) {
    if (hl_retry_after_ms(none[i], now) != -1) fprintf(stderr, "Retry-After \"%s\" read as a wish\n", none[i]);
    CHECK(hl_retry_after_ms(none[i], now) == -1);
  }
  CHECK(hl_retry_after_ms(NULL, now) == -1);
  /* retry-after-ms: a decimal number of milliseconds. */
  CHECK(hl__retry_after_ms_header(" 1200") == 1200.0);
  CHECK(hl__retry_after_ms_header("1.5\r\n") == 1.5);
  CHECK(hl__retry_after_ms_header("1e300") == HL_RETRY_AFTER_MAX_MS);
  CHECK(hl__retry_after_ms_header("-1") == -1);
  CHECK(hl__retry_after_ms_header("inf") == -1);
  CHECK(hl__retry_after_ms_header("nan") == -1);
  CHECK(hl__retry_after_ms_header("12abc") == -1);
  char s[48];
  hl__retry_after_format(s, sizeof s, 86400000.0);
  CHECK_STR(s, "86400");
  hl__retry_after_format(s, sizeof s, 1500.0);
  CHECK_STR(s, "1.5");
}

/* Excerpts: bounded, escaped, one line, never a byte of the key. */
static void excerpts_are_bounded_escaped_and_redacted(void) {
  char out[HL__EXCERPT_BYTES * 4 + 16];
  hl__excerpt(out, sizeof out, "SSH-2.0-OpenSSH\r\n", 17, NULL);
  CHECK_STR(out, "\"SSH-2.0-OpenSSH\\r\\n\"");
  hl__excerpt(out, sizeof out, "a\0b\xff\"", 5, NULL);
  CHECK_STR(out, "\"a\\x00b\\xFF\\\"\"");
  hl__excerpt(out, sizeof out, "<p>key sk-123456 bad</p>", 24, "sk-123456");
  CHECK_STR(out, "\"<p>key [REDACTED] bad</p>\"");
  /* A long answer is cut at HL__EXCERPT_BYTES, and a key cut in half by
   * that bound leaves no prefix of itself behind. */
  char big[400];
  memset(big, 'x', sizeof big);
  memcpy(big + HL__EXCERPT_BYTES - 4, "sk-123456", 9);
  hl__excerpt(out, sizeof out, big, sizeof big, "sk-123456");
  CHECK(strstr(out, "sk-") == NULL);
  CHECK(strlen(out) <= HL__EXCERPT_BYTES + 5);
  CHECK(strcmp(out + strlen(out) - 3, "...") == 0);
  hl__excerpt(out, sizeof out, NULL, 3, NULL);
  CHECK_STR(out, "\"\"");
}

int main(void) {
  RUN(redact_replaces_every_occurrence);
  RUN(redact_without_secret_keeps_text);
  RUN(redact_into_truncates_safely);
  RUN(redact_into_replaces_every_occurrence);
  RUN(retryable_statuses);
  RUN(bad_request_arguments);
  RUN(only_http_and_https_urls);
  RUN(retry_after_values);
  RUN(excerpts_are_bounded_escaped_and_redacted);
  return CHECK_EXIT();
}
