/*
 * otel_reply.c - what the exporter reads of a collector's answer (OTLP/HTTP,
 * JSON encoding): the body, bounded; a partial success of a 200 (how many
 * spans or data points were rejected, and why); the google.rpc.Status
 * message of a failure; Retry-After in both of its forms; and the text of
 * a collector made fit for one line of a warning.
 *
 * Why bounded and cleaned: the collector is another process, perhaps not
 * a friendly one. Its answer is kept up to OT_REPLY_MAX bytes (the rest
 * is read and dropped, so the connection stays reusable) and its words
 * reach the user's terminal only as printable text.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hookline/retry_after.h"
#include "otel_internal.h"

size_t ot_reply_body(char *p, size_t size, size_t n, void *ud) {
  ot_reply *r = ud;
  size_t len = size * n, room = OT_REPLY_MAX - r->body.len;
  if (len > room) r->truncated = true;
  if (room) ot_buf_put(&r->body, p, len < room ? len : room);
  return len;
}

/* Retry-After (hookline/retry_after.h: delay-seconds or an HTTP-date),
 * as whole seconds from now, rounded up and at most OT_RETRY_AFTER_MAX_S
 * (0: none, or a date already past). The header's value comes as libcurl
 * gives it, not NUL-terminated. */
static long retry_after(const char *v, size_t n) {
  char text[128];
  if (n >= sizeof text) return 0; /* longer than any date: not one */
  memcpy(text, v, n);
  text[n] = '\0';
  double ms = hl_retry_after_ms(text, time(NULL));
  if (ms <= 0) return 0;
  double s = ceil(ms / 1000.0);
  return s < OT_RETRY_AFTER_MAX_S ? (long)s : OT_RETRY_AFTER_MAX_S;
}

size_t ot_reply_header(char *p, size_t size, size_t n, void *ud) {
  ot_reply *r = ud;
  size_t len = size * n;
  /* a new response (a redirect's, or 100 Continue's, came first) */
  if (len > 5 && strncmp(p, "HTTP/", 5) == 0) r->retry_after_s = 0;
  if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) r->retry_after_s = retry_after(p + 12, len - 12);
  return len;
}

void ot_reply_reset(ot_reply *r) {
  r->body.len = 0;
  r->body.failed = false;
  r->truncated = false;
  r->retry_after_s = 0;
}

void ot_clean_text(char *out, size_t size, const char *in) {
  size_t w = 0;
  if (!size) return;
  const unsigned char *s = (const unsigned char *)(in ? in : "");
  while (*s) {
    size_t len = 1;
    bool keep;
    if (*s < 0x80) {
      keep = *s >= 0x20 && *s != 0x7f;
    } else {
      /* a whole UTF-8 sequence, never a C1 control (U+0080-U+009F:
       * U+009B is a CSI to a terminal) */
      len = *s >= 0xf0 && *s <= 0xf4 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc2 && *s <= 0xdf ? 2 : 0;
      keep = len != 0;
      for (size_t i = 1; keep && i < len; i++) keep = (s[i] & 0xc0) == 0x80;
      if (keep && s[0] == 0xc2 && s[1] < 0xa0) keep = false;
      if (!keep) len = 1;
    }
    if (keep) {
      if (w + len >= size) break;
      memcpy(out + w, s, len);
      w += len;
    }
    s += len;
  }
  out[w] = '\0';
}

/* An int64 of the protobuf JSON mapping: a number or a decimal string. */
static uint64_t json_count(const cJSON *v) {
  if (cJSON_IsNumber(v)) return v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
  if (cJSON_IsString(v) && isdigit((unsigned char)v->valuestring[0])) {
    char *end;
    unsigned long long n = strtoull(v->valuestring, &end, 10);
    return *end == '\0' ? (uint64_t)n : 0;
  }
  return 0;
}

static cJSON *parse_body(ot_reply *r) {
  if (r->truncated || !r->body.len) return NULL;
  return cJSON_ParseWithLength(r->body.p, r->body.len);
}

bool ot_reply_partial(ot_reply *r, const char *rejected_key, uint64_t *rejected, char *msg, size_t size) {
  *rejected = 0;
  if (size) msg[0] = '\0';
  cJSON *root = parse_body(r);
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "partialSuccess");
  bool any = false;
  if (cJSON_IsObject(ps)) {
    *rejected = json_count(cJSON_GetObjectItemCaseSensitive(ps, rejected_key));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
    if (cJSON_IsString(m)) ot_clean_text(msg, size, m->valuestring);
    /* empty (0 and "") means a full success (the OTLP specification) */
    any = *rejected || (size && msg[0]);
  }
  cJSON_Delete(root);
  return any;
}

void ot_reply_status_message(ot_reply *r, char *msg, size_t size) {
  if (size) msg[0] = '\0';
  cJSON *root = parse_body(r);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
  if (cJSON_IsString(m)) ot_clean_text(msg, size, m->valuestring);
  cJSON_Delete(root);
}
