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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "json_word.h"
#include "util.h"

typedef hl__jbuf out_buf;

/* The buffer grown to hold n more bytes and the NUL (out of line: most
 * calls find room, and the printer calls this for every piece). */
static bool grow(out_buf *b, size_t n) {
  if (b->failed) return false;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

/* Room for n more bytes and the NUL; false once an allocation failed. */
static inline bool reserve(out_buf *b, size_t n) {
  if (!b->failed && b->len + n + 1 <= b->cap) return true;
  return grow(b, n);
}

static void put(out_buf *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* One byte: most of a tree's punctuation. */
static inline void put_char(out_buf *b, char c) {
  if (!reserve(b, 1)) return;
  b->p[b->len++] = c;
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

/* Bytes a JSON string cannot hold as they are: control bytes, '"', '\\'.
 * Everything else, UTF-8 (valid or not) and DEL included, is copied. */
static inline bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

/* Copies the run of bytes at *up that need no escape to *wp, advancing
 * both, up to the first byte that needs one or `end`. Eight bytes at a
 * time, each word stored whole as it is tested (bytes past the run are
 * written over next), where more than eight are left: the output has
 * room for every byte left, so a store never passes it. Most strings
 * (names, ids, prose) have no escape, and a byte-by-byte scan and copy
 * was most of the printer's cost (issue 12). A last word shorter than
 * eight bytes is read as the run's last eight, the bytes already looked
 * at ignored: only if they are the run's own (clean) bytes, since a byte
 * escaped before the run (0x1f) would borrow from the next one (a space)
 * and flag it. */
static void copy_clean(char **wp, const unsigned char **up, const unsigned char *end) {
  char *w = *wp;
  const unsigned char *u = *up, *start = u;
  uint64_t x;
#ifdef HL__WORD_FIRST
  /* The lowest flagged byte is exact (json_word.h). */
  uint64_t bits;
  for (; end - u >= 8; u += 8, w += 8) {
    memcpy(&x, u, 8);
    memcpy(w, &x, 8);
    if ((bits = hl__word_escapes(x))) {
      size_t k = hl__word_first(bits);
      *wp = w + k;
      *up = u + k;
      return;
    }
  }
  if (u < end && end - start >= 8) {
    size_t left = (size_t)(end - u), seen = 8 - left; /* 1..7 bytes before u */
    memcpy(&x, end - 8, 8);
    memcpy(w - seen, &x, 8); /* the seen bytes again, as they were copied */
    bits = hl__word_escapes(x) & (~0ull << (8 * seen)); /* no borrow comes from bytes found clean */
    size_t k = bits ? hl__word_first(bits) - seen : left;
    *wp = w + k;
    *up = u + k;
    return;
  }
#else
  (void)start;
  for (; end - u >= 8; u += 8, w += 8) {
    memcpy(&x, u, 8);
    if (hl__word_escapes(x)) break;
    memcpy(w, &x, 8);
  }
#endif
  while (u < end && !needs_escape(*u)) *w++ = (char)*u++;
  *wp = w;
  *up = u;
}

/* `s` (n bytes) quoted and escaped as cJSON does: \" \\ \b \f \n \r \t,
 * other control bytes as \u00xx (lower-case hex). */
static void put_string_n(out_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s, *end = u + n;
  /* Room for the quotes and every byte as it is; an escape asks for more. */
  if (!reserve(b, n + 2)) return;
  char *w = b->p + b->len;
  *w++ = '"';
  for (;;) {
    copy_clean(&w, &u, end);
    if (u == end) break;
    /* The rest (this byte counted once) and the closing quote fit; the
     * escape takes up to 5 bytes more. */
    b->len = (size_t)(w - b->p);
    if (!reserve(b, (size_t)(end - u) + 6)) return;
    w = b->p + b->len;
    unsigned char c = *u++;
    *w++ = '\\';
    switch (c) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '\b': *w++ = 'b'; break;
    case '\f': *w++ = 'f'; break;
    case '\n': *w++ = 'n'; break;
    case '\r': *w++ = 'r'; break;
    case '\t': *w++ = 't'; break;
    default:
      memcpy(w, "u00", 3);
      w[3] = hex[c >> 4];
      w[4] = hex[c & 15];
      w += 5;
    }
  }
  *w++ = '"';
  b->len = (size_t)(w - b->p);
  *w = '\0';
}

static void put_string(out_buf *b, const char *s) { put_string_n(b, s, strlen(s)); }

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
    put_char(b, object ? '{' : '[');
    for (const cJSON *c = v->child; c; c = c->next) {
      if (object) {
        put_string(b, c->string ? c->string : "");
        put_char(b, ':');
      }
      put_value(b, c);
      if (c->next) put_char(b, ',');
    }
    put_char(b, object ? '}' : ']');
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
