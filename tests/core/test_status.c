/* test_status.c - status names and the per-thread last error. */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "hookline/status.h"

static void names_are_distinct_and_stable(void) {
  CHECK_STR(hl_status_name(HL_ERR_INVALID_ARGUMENTS), "InvalidArguments");
  CHECK_STR(hl_status_name(HL_ERR_EXECUTION_FAILED), "ExecutionFailed");
  CHECK_STR(hl_status_name(HL_ERR_NOT_FOUND), "NotFound");
  CHECK_STR(hl_status_name(HL_ERR_TIMEOUT), "Timeout");
  CHECK_STR(hl_strerror(HL_OK), "ok");
  CHECK_STR(hl_strerror(HL_ERR_TIMEOUT), "timed out");
  for (int a = 0; a < HL_STATUS_COUNT_; a++) {
    REQUIRE(hl_strerror((hl_status)a) != NULL);
    REQUIRE(hl_status_name((hl_status)a) != NULL);
    CHECK(strcmp(hl_strerror((hl_status)a), "unknown status") != 0);
    for (int b = a + 1; b < HL_STATUS_COUNT_; b++) {
      CHECK(strcmp(hl_strerror((hl_status)a), hl_strerror((hl_status)b)) != 0);
      CHECK(strcmp(hl_status_name((hl_status)a), hl_status_name((hl_status)b)) != 0);
    }
  }
}

static void out_of_range_status_is_named_unknown(void) {
  CHECK_STR(hl_strerror((hl_status)999), "unknown status");
  CHECK_STR(hl_status_name((hl_status)-1), "Unknown");
  CHECK_STR(hl_status_name(HL_STATUS_COUNT_), "Unknown");
}

static void fail_sets_message_and_status(void) {
  hl_clear_error();
  CHECK_STR(hl_last_error(), "");
  CHECK_INT(hl_last_status(), HL_OK);
  CHECK_INT(hl_fail(HL_ERR_NOT_FOUND, "no tool named \"%s\"", "x"), HL_ERR_NOT_FOUND);
  CHECK_STR(hl_last_error(), "no tool named \"x\"");
  CHECK_INT(hl_last_status(), HL_ERR_NOT_FOUND);
  hl_clear_error();
  CHECK_STR(hl_last_error(), "");
  CHECK_INT(hl_last_status(), HL_OK);
}

static void fail_may_quote_the_previous_message(void) {
  hl_fail(HL_ERR_JSON, "invalid JSON at byte 3");
  hl_fail(HL_ERR_SCHEMA, "tool \"w\": %s", hl_last_error());
  CHECK_STR(hl_last_error(), "tool \"w\": invalid JSON at byte 3");
  CHECK_INT(hl_last_status(), HL_ERR_SCHEMA);
}

static void long_messages_are_truncated(void) {
  static char big[5000];
  memset(big, 'a', sizeof big - 1);
  hl_fail(HL_ERR_IO, "%s", big);
  CHECK_INT(strlen(hl_last_error()), 1023);
  CHECK_INT(hl_last_status(), HL_ERR_IO);
}

static hl_status vwrap(hl_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hl_status r = hl_failv(st, fmt, ap);
  va_end(ap);
  return r;
}

static void failv_formats(void) {
  CHECK_INT(vwrap(HL_ERR_LIMIT, "%d of %s", 3, "four"), HL_ERR_LIMIT);
  CHECK_STR(hl_last_error(), "3 of four");
}

static void *other_thread(void *arg) {
  const char **seen = arg;
  seen[0] = strcmp(hl_last_error(), "") == 0 ? "empty" : "leaked";
  hl_fail(HL_ERR_TIMEOUT, "thread message");
  seen[1] = strcmp(hl_last_error(), "thread message") == 0 ? "own" : "wrong";
  return NULL;
}

static void last_error_is_per_thread(void) {
  hl_fail(HL_ERR_AUTH, "main message");
  const char *seen[2] = {0};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, other_thread, seen) == 0);
  pthread_join(th, NULL);
  CHECK_STR(seen[0], "empty");
  CHECK_STR(seen[1], "own");
  CHECK_STR(hl_last_error(), "main message");
  CHECK_INT(hl_last_status(), HL_ERR_AUTH);
}

static void free_accepts_null(void) {
  hl_free(NULL);
  hl_free(strdup("x"));
}

int main(void) {
  RUN(names_are_distinct_and_stable);
  RUN(out_of_range_status_is_named_unknown);
  RUN(fail_sets_message_and_status);
  RUN(fail_may_quote_the_previous_message);
  RUN(long_messages_are_truncated);
  RUN(failv_formats);
  RUN(last_error_is_per_thread);
  RUN(free_accepts_null);
  return CHECK_EXIT();
}
