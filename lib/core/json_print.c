/*
 * json_print.c - the compact JSON printer behind hl_json_print().
 *
 * Why not cJSON_PrintUnformatted: it prints a number with "%1.15g" and
 * keeps that text when it reads back within one DBL_EPSILON of the value,
 * so the last bits are lost: 0.30000000000000004 prints as 0.3 and
 * 9007199254740991 (2^53 - 1, exactly representable) as
 * 9.00719925474099e+15; a session or tool result saved and loaded again
 * holds another number (found by tests/fuzz/fuzz_json.c). This printer writes the same text as cJSON
 * except that a number gets as many digits (15, 16 or 17) as it needs to
 * read back exactly, in any locale, and -0 keeps its sign.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "util.h"

typedef hl__jbuf out_buf;

/* Room for n more bytes and the NUL; false once an allocation failed. */
static bool reserve(out_buf *b, size_t n) {
  if (b->failed) return false;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return false;
    }
    b->p = p;
    b->cap = cap;
  }
  return true;
}

static void put(out_buf *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void put_str(out_buf *b, const char *s) { put(b, s, strlen(s)); }

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* The shortest of %1.15g, %1.16g, %1.17g that reads back as `d` (17 digits
 * always do). The decimal point is '.', whatever the locale. */
static void put_number(out_buf *b, const cJSON *v) {
  double d = v->valuedouble;
  char text[64];
  if (isnan(d) || isinf(d)) {
    put_str(b, "null"); /* as cJSON: JSON has no NaN or infinity */
    return;
  }
  if (d == 0 && signbit(d)) {
    put_str(b, "-0"); /* cJSON prints 0: the sign is part of the value */
    return;
  }
  if (d == (double)v->valueint) {
    /* Integers (ids, counts) are most numbers sent: no snprintf. */
    char *w = text + sizeof text;
    long long n = v->valueint;
    unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
    do *--w = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (n < 0) *--w = '-';
    put(b, w, (size_t)(text + sizeof text - w));
    return;
  }
  pthread_once(&c_locale_once, c_locale_init);
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(text, sizeof text, "%1.*g", digits, d);
    for (char *c = text; *c; c++)
      if (*c == ',') *c = '.'; /* a locale's decimal comma: %g prints no other */
    double back = c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
    if (back == d) break;
  }
  put_str(b, text);
}

static void put_string(out_buf *b, const char *s) {
  /* Most strings need no escape: quoted and copied in one go. */
  size_t n = 0;
  const unsigned char *u = (const unsigned char *)s;
  while (u[n] >= 0x20 && u[n] != '"' && u[n] != '\\') n++;
  if (!u[n]) {
    if (!reserve(b, n + 2)) return;
    char *w = b->p + b->len;
    w[0] = '"';
    memcpy(w + 1, s, n);
    w[n + 1] = '"';
    b->len += n + 2;
    b->p[b->len] = '\0';
    return;
  }
  put(b, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(b, run, (size_t)(s - run));
    run = s + 1;
    char esc[8];
    switch (c) {
    case '"': put(b, "\\\"", 2); break;
    case '\\': put(b, "\\\\", 2); break;
    case '\b': put(b, "\\b", 2); break;
    case '\f': put(b, "\\f", 2); break;
    case '\n': put(b, "\\n", 2); break;
    case '\r': put(b, "\\r", 2); break;
    case '\t': put(b, "\\t", 2); break;
    default:
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(b, esc, 6);
    }
  }
  put(b, run, (size_t)(s - run));
  put(b, "\"", 1);
}

/* Recursion is bounded: hl_json_print() checked the depth first. */
static void put_value(out_buf *b, const cJSON *v) {
  switch (v->type & 0xFF) {
  case cJSON_NULL: put_str(b, "null"); break;
  case cJSON_False: put_str(b, "false"); break;
  case cJSON_True: put_str(b, "true"); break;
  case cJSON_Number: put_number(b, v); break;
  case cJSON_String: put_string(b, v->valuestring ? v->valuestring : ""); break;
  case cJSON_Raw:
    if (!v->valuestring) b->failed = true;
    else put_str(b, v->valuestring);
    break;
  case cJSON_Array:
  case cJSON_Object: {
    bool object = (v->type & 0xFF) == cJSON_Object;
    put(b, object ? "{" : "[", 1);
    for (const cJSON *c = v->child; c; c = c->next) {
      if (object) {
        put_string(b, c->string ? c->string : "");
        put(b, ":", 1);
      }
      put_value(b, c);
      if (c->next) put(b, ",", 1);
    }
    put(b, object ? "}" : "]", 1);
    break;
  }
  default:
    b->failed = true; /* cJSON_Invalid: cJSON refuses to print it too */
  }
}

void hl__jbuf_raw(hl__jbuf *b, const char *s, size_t n) { put(b, s, n); }
void hl__jbuf_string(hl__jbuf *b, const char *s) { put_string(b, s ? s : ""); }
void hl__jbuf_value(hl__jbuf *b, const cJSON *v) { put_value(b, v); }

void hl__jbuf_reserve(hl__jbuf *b, size_t n) { reserve(b, n); }

void hl__jbuf_int(hl__jbuf *b, long long n) {
  char text[24], *w = text + sizeof text;
  unsigned long long u = n < 0 ? 0ull - (unsigned long long)n : (unsigned long long)n;
  do *--w = (char)('0' + u % 10);
  while ((u /= 10) > 0);
  if (n < 0) *--w = '-';
  put(b, w, (size_t)(text + sizeof text - w));
}

char *hl__json_print_exact(const cJSON *value) {
  out_buf b = {0};
  put_value(&b, value);
  if (b.failed) {
    free(b.p);
    return NULL;
  }
  return b.p;
}
