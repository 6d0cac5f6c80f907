/*
 * tests/otel/test_otel_reply.c - what the exporter reads of a collector's
 * answer (hooks/otel_reply.c), white box: the Retry-After header, fed to
 * libcurl's header function as libcurl gives it (one line, CRLF
 * included). The collector is another process: its wish must not
 * overflow the exporter's arithmetic (retry_after_s is multiplied by 1000
 * in otel_export.c), whatever digits it sends.
 */
#include <hookline.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "otel_internal.h"

/* The reply's retry_after_s after one header line. */
static long after_header(const char *line) {
  ot_reply r = {0};
  char buf[256];
  snprintf(buf, sizeof buf, "%s", line);
  ot_reply_header(buf, 1, strlen(buf), &r);
  return r.retry_after_s;
}

static void retry_after_seconds(void) {
  CHECK_INT(after_header("Retry-After: 7\r\n"), 7);
  CHECK_INT(after_header("retry-after:\t3 \r\n"), 3);
  CHECK_INT(after_header("Retry-After: 0\r\n"), 0);
  /* not delay-seconds: no wish */
  CHECK_INT(after_header("Retry-After: -5\r\n"), 0);
  CHECK_INT(after_header("Retry-After: 1.5\r\n"), 0);
  CHECK_INT(after_header("Retry-After: 5 minutes\r\n"), 0);
  CHECK_INT(after_header("Retry-After: \r\n"), 0);
}

/* A wish too long for any export is kept within a bound that the
 * exporter can multiply to milliseconds: was LONG_MAX (strtol's
 * saturation), then `* 1000` in otel_export.c overflowed. */
static void retry_after_huge(void) {
  long s = after_header("Retry-After: 99999999999999999999999999999999\r\n");
  CHECK(s > 5); /* longer than the exporter's backoff cap: it waits the cap */
  CHECK(s <= OT_RETRY_AFTER_MAX_S);
  CHECK(s <= (long)(9.2e18 / 1000));
}

static void retry_after_date(void) {
  char line[128], date[64];
  time_t later = time(NULL) + 30;
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
  snprintf(line, sizeof line, "Retry-After: %s\r\n", date);
  long s = after_header(line);
  CHECK(s >= 29 && s <= 30);
  time_t past = time(NULL) - 30;
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&past));
  snprintf(line, sizeof line, "Retry-After: %s\r\n", date);
  CHECK_INT(after_header(line), 0);
}

/* A new response (after a redirect or 100 Continue) forgets the wish of
 * the one before. */
static void retry_after_new_response(void) {
  ot_reply r = {0};
  char a[] = "Retry-After: 9\r\n", b[] = "HTTP/1.1 200 OK\r\n";
  ot_reply_header(a, 1, strlen(a), &r);
  CHECK_INT(r.retry_after_s, 9);
  ot_reply_header(b, 1, strlen(b), &r);
  CHECK_INT(r.retry_after_s, 0);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(retry_after_seconds);
  RUN(retry_after_huge);
  RUN(retry_after_date);
  RUN(retry_after_new_response);
  return CHECK_EXIT();
}
