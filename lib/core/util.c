/*
 * util.c - allocation and string helpers for lib/core (see util.h).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

char *hl__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  if (copy) memcpy(copy, s, n);
  return copy;
}

char *hl__concat(const char *a, const char *sep, const char *b) {
  size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
  char *out = malloc(na + ns + nb + 1);
  if (!out) return NULL;
  memcpy(out, a, na);
  memcpy(out + na, sep, ns);
  memcpy(out + na + ns, b, nb + 1);
  return out;
}

hl_status hl__oom(void) { return hl_fail(HL_ERR_NOMEM, "out of memory"); }

hl_status hl__reserve(void **items, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return HL_OK;
  size_t ncap = *cap ? *cap : 4;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) return hl__oom();
    ncap *= 2;
  }
  if (ncap > SIZE_MAX / elem) return hl__oom();
  void *p = realloc(*items, ncap * elem);
  if (!p) return hl__oom();
  *items = p;
  *cap = ncap;
  return HL_OK;
}

bool hl__json_depth_ok(const cJSON *value, int max_depth) {
  if (!value) return true;
  if (!cJSON_IsArray(value) && !cJSON_IsObject(value)) return true;
  if (max_depth <= 0) return false;
  for (const cJSON *c = value->child; c; c = c->next)
    if (!hl__json_depth_ok(c, max_depth - 1)) return false;
  return true;
}

void hl__quote(char *buf, size_t size, const char *s) {
  if (size == 0) return;
  if (!s) {
    snprintf(buf, size, "null");
    return;
  }
  /* Keep 5 bytes for the closing `..."` and the NUL. */
  size_t o = 0;
  if (size < 8) {
    buf[0] = '\0';
    return;
  }
  buf[o++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    size_t n;
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      n = 2;
    } else if (*p < 0x20) {
      n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
    } else {
      esc[0] = (char)*p;
      n = 1;
    }
    if (o + n + 5 > size) {
      memcpy(buf + o, "...", 3);
      o += 3;
      break;
    }
    memcpy(buf + o, esc, n);
    o += n;
  }
  buf[o++] = '"';
  buf[o] = '\0';
}

size_t hl__utf8_invalid_at(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned c = u[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;      /* overlong */
      if (c == 0xED) hi = 0x9F;      /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;      /* overlong */
      if (c == 0xF4) hi = 0x8F;      /* above U+10FFFF */
    } else {
      return i;                      /* continuation byte, C0/C1, F5..FF */
    }
    if (len - i < n) return i;
    if (u[i + 1] < lo || u[i + 1] > hi) return i;
    for (size_t k = 2; k < n; k++)
      if ((u[i + k] & 0xC0) != 0x80) return i;
    i += n;
  }
  return len;
}

static int hl__hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int hl__percent_byte(const char *s, size_t n) {
  if (n < 3 || s[0] != '%') return -1;
  int hi = hl__hex_digit(s[1]), lo = hl__hex_digit(s[2]);
  return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

cJSON *hl__empty_object_schema(void) {
  cJSON *s = cJSON_CreateObject();
  if (!s || !cJSON_AddStringToObject(s, "type", "object") || !cJSON_AddObjectToObject(s, "properties")) {
    cJSON_Delete(s);
    return NULL;
  }
  return s;
}

bool hl__json_token_count(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  /* The comparisons are false for NaN; floor() keeps fractions out. The
   * cast happens only once the value is known to fit. */
  if (!(d >= 0 && d <= HL__TOKEN_COUNT_MAX) || floor(d) != d) return false;
  *out = (int64_t)d;
  return true;
}
