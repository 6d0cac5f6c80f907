/*
 * retry_after.c - parse a server's Retry-After / retry-after-ms wish into
 * milliseconds without trusting it (see retry_after.h).
 */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/retry_after.h"

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

/* True when only whitespace and line ends remain. */
static int at_end(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
  return *s == '\0';
}

double hl_retry_after_ms(const char *value, time_t now) {
  if (!value) return -1;
  const char *s = skip_ws(value);
  if (*s >= '0' && *s <= '9') {
    /* delta-seconds = 1*DIGIT. Accumulate in a double and saturate: the
     * number of digits is the server's choice. */
    double secs = 0;
    while (*s >= '0' && *s <= '9') {
      if (secs < HL_RETRY_AFTER_MAX_MS) secs = secs * 10 + (*s - '0');
      s++;
    }
    if (!at_end(s)) return -1;
    double ms = secs * 1000.0;
    return ms < HL_RETRY_AFTER_MAX_MS ? ms : HL_RETRY_AFTER_MAX_MS;
  }
  /* An HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"); curl_getdate also takes
   * the obsolete RFC 850 and asctime forms the RFC asks clients to accept. */
  char date[128];
  size_t n = strcspn(s, "\r\n");
  if (n == 0 || n >= sizeof date) return -1;
  memcpy(date, s, n);
  date[n] = '\0';
  time_t when = curl_getdate(date, NULL);
  if (when == (time_t)-1) return -1;
  double ms = difftime(when, now) * 1000.0;
  if (ms <= 0) return 0;
  return ms < HL_RETRY_AFTER_MAX_MS ? ms : HL_RETRY_AFTER_MAX_MS;
}

double hl__retry_after_ms_header(const char *value) {
  if (!value) return -1;
  const char *s = skip_ws(value);
  if (!((*s >= '0' && *s <= '9') || *s == '.')) return -1; /* no sign, "inf" or "nan" */
  char *end;
  double ms = strtod(s, &end);
  if (end == s || !at_end(end) || !(ms >= 0)) return -1;
  return ms < HL_RETRY_AFTER_MAX_MS ? ms : HL_RETRY_AFTER_MAX_MS;
}

void hl__retry_after_format(char *out, size_t size, double ms) {
  double secs = ms / 1000.0;
  if (secs == floor(secs) && secs < 1e12) snprintf(out, size, "%.0f", secs);
  else snprintf(out, size, "%g", secs);
}
