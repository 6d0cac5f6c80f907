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
 *
 * The same printer writes hl_json_print_prefix()'s first bytes of that
 * text into a caller's buffer (a fixed hl__jbuf): it stops where the
 * buffer is full, cut at a whole character, and reads no more of the tree
 * than it printed (a strnlen() of the room, not a strlen(), of a string).
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
 * calls find room, and the printer calls this for every piece). A fixed
 * buffer does not grow: the caller cuts the piece (put_cut()). */
static bool grow(out_buf *b, size_t n) {
  if (b->failed || b->fixed) return false;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->failed = true;
    b->stop = HL__JBUF_NOMEM;
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

/* The first k bytes of the piece s[0..n) (k < n), less a character they
 * would end inside: a valid UTF-8 sequence (as hl_utf8_valid() has them)
 * that starts before k and ends after it. A byte that is not part of a
 * valid sequence is a character of its own. Reads the 3 bytes on either
 * side of k at most. Where a piece ends the text goes on with an ASCII
 * byte (a quote, a comma, a backslash), so a cut inside one piece is the
 * cut of the whole text. */
static size_t char_cut(const char *s, size_t n, size_t k) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t j = 1; j <= 3 && j <= k; j++) {
    unsigned char c = u[k - j];
    if ((c & 0xC0) == 0x80) continue; /* a continuation byte: its start is further back */
    size_t m = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    bool split = m > j && n - (k - j) >= m && hl__utf8_invalid_at(s + k - j, m) == m;
    return split ? k - j : k;
  }
  return k;
}

/* A piece a fixed buffer has no room for: the bytes that fit, less a
 * character they would split, and the text stops there. (A growing
 * buffer that could not grow has failed already: nothing.) */
static void put_cut(out_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  size_t k = char_cut(s, n, b->cap - 1 - b->len);
  memcpy(b->p + b->len, s, k);
  b->len += k;
  b->p[b->len] = '\0';
  b->failed = true;
  b->stop = HL__JBUF_CUT;
}

static void put(out_buf *b, const char *s, size_t n) {
  if (!reserve(b, n)) {
    put_cut(b, s, n);
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* One byte: most of a tree's punctuation. */
static inline void put_char(out_buf *b, char c) {
  if (!reserve(b, 1)) {
    put_cut(b, &c, 1);
    return;
  }
  b->p[b->len++] = c;
  b->p[b->len] = '\0';
}

/* The length of s, or in a fixed buffer only as much of it as can be
 * printed and looked at by the cut (the room, and 3 bytes past it:
 * char_cut()): a 1 MB string costs what fits, not a strlen(). A string
 * so shortened does not fit, so its end is never printed. */
static inline size_t text_len(const out_buf *b, const char *s) {
  return b->fixed ? strnlen(s, b->cap - b->len + 2) : strlen(s);
}

static void put_str(out_buf *b, const char *s) { put(b, s, text_len(b, s)); }

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

/* The end of the run of bytes from u that need no escape, up to `end`:
 * eight bytes a test where eight are left, as copy_clean() (which copies
 * as it tests, into room a fixed buffer may not have). */
static const unsigned char *clean_end(const unsigned char *u, const unsigned char *end) {
  for (uint64_t x; end - u >= 8; u += 8) {
    memcpy(&x, u, 8);
    uint64_t bits = hl__word_escapes(x);
    if (bits) {
#ifdef HL__WORD_FIRST
      return u + hl__word_first(bits); /* the lowest flagged byte is exact */
#else
      break;
#endif
    }
  }
  while (u < end && !needs_escape(*u)) u++;
  return u;
}

/* Byte c (needs_escape()) escaped as cJSON does into e: \" \\ \b \f \n
 * \r \t, other control bytes as \u00xx (lower-case hex). Its length: 2
 * or 6. */
static inline size_t escape(unsigned char c, char *e) {
  static const char hex[] = "0123456789abcdef";
  e[0] = '\\';
  switch (c) {
  case '"': e[1] = '"'; return 2;
  case '\\': e[1] = '\\'; return 2;
  case '\b': e[1] = 'b'; return 2;
  case '\f': e[1] = 'f'; return 2;
  case '\n': e[1] = 'n'; return 2;
  case '\r': e[1] = 'r'; return 2;
  case '\t': e[1] = 't'; return 2;
  default:
    memcpy(e + 1, "u00", 3);
    e[4] = hex[c >> 4];
    e[5] = hex[c & 15];
    return 6;
  }
}

/* The rest of a string from u (a byte to escape, or its first byte when
 * `open`: the opening quote not written yet) where the buffer has no room
 * for all of it: a fixed buffer, piece by piece until one is cut. (A
 * growing buffer that could not grow: nothing.) */
static void put_string_rest(out_buf *b, const unsigned char *u, const unsigned char *end, bool open) {
  if (open) put_char(b, '"');
  while (u < end && !b->failed) {
    const unsigned char *run = u;
    u = clean_end(u, end);
    size_t n = (size_t)(u - run);
    if (n + 6 < b->cap - b->len) { /* the run and the longest escape fit: written in place */
      char *w = b->p + b->len;
      memcpy(w, run, n);
      w += n;
      if (u < end) w += escape(*u++, w);
      *w = '\0';
      b->len = (size_t)(w - b->p);
      continue;
    }
    put(b, (const char *)run, n);
    if (u == end) break;
    char e[6];
    put(b, e, escape(*u++, e));
  }
  put_char(b, '"');
}

/* `s` (n bytes) quoted and escaped as cJSON does (escape()). */
static void put_string_n(out_buf *b, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s, *end = u + n;
  /* Room for the quotes and every byte as it is; an escape asks for more. */
  if (!reserve(b, n + 2)) {
    put_string_rest(b, u, end, true);
    return;
  }
  char *w = b->p + b->len;
  *w++ = '"';
  for (;;) {
    copy_clean(&w, &u, end);
    if (u == end) break;
    /* The rest (this byte counted once) and the closing quote fit; the
     * escape takes up to 5 bytes more. */
    b->len = (size_t)(w - b->p);
    if (!reserve(b, (size_t)(end - u) + 6)) {
      put_string_rest(b, u, end, false);
      return;
    }
    w = b->p + b->len;
    w += escape(*u++, w);
  }
  *w++ = '"';
  b->len = (size_t)(w - b->p);
  *w = '\0';
}

static void put_string(out_buf *b, const char *s) { put_string_n(b, s, text_len(b, s)); }

/* `depth`: the arrays and objects around v. The recursion stops at
 * HL_JSON_MAX_DEPTH, checked here as the text goes (no walk of the tree
 * first: the prefix reads no more of it than it prints), and the walk
 * stops where the text does (a cut, an invalid node). */
static void put_value(out_buf *b, const cJSON *v, int depth) {
  switch (v->type & 0xFF) {
  case cJSON_NULL: put_str(b, "null"); break;
  case cJSON_False: put_str(b, "false"); break;
  case cJSON_True: put_str(b, "true"); break;
  case cJSON_Number: put_number(b, v); break;
  case cJSON_String: put_string(b, v->valuestring ? v->valuestring : ""); break;
  case cJSON_Raw:
    if (!v->valuestring) b->failed = true, b->stop = HL__JBUF_INVALID;
    else put_str(b, v->valuestring);
    break;
  case cJSON_Array:
  case cJSON_Object: {
    bool object = (v->type & 0xFF) == cJSON_Object;
    if (depth >= HL_JSON_MAX_DEPTH) {
      b->failed = true;
      b->stop = HL__JBUF_DEEP;
      break;
    }
    put_char(b, object ? '{' : '[');
    for (const cJSON *c = v->child; c && !b->failed; c = c->next) {
      if (object) {
        put_string(b, c->string ? c->string : "");
        put_char(b, ':');
      }
      put_value(b, c, depth + 1);
      if (c->next) put_char(b, ',');
    }
    put_char(b, object ? '}' : ']');
    break;
  }
  default:
    b->failed = true; /* cJSON_Invalid: cJSON refuses to print it too */
    b->stop = HL__JBUF_INVALID;
  }
}

void hl__jbuf_raw(hl__jbuf *b, const char *s, size_t n) { put(b, s, n); }
void hl__jbuf_string(hl__jbuf *b, const char *s) { put_string(b, s ? s : ""); }
void hl__jbuf_value(hl__jbuf *b, const cJSON *v) { put_value(b, v, 0); }

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
  put_value(&b, value, 0);
  if (b.failed) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* The status of a text that stopped short (`b->stop`), its message
 * naming `fn`. */
static hl_status stopped(const out_buf *b, const char *fn) {
  switch (b->stop) {
  case HL__JBUF_DEEP:
    return hl_fail(HL_ERR_TOO_LARGE, "%s: nesting deeper than %d levels", fn, HL_JSON_MAX_DEPTH);
  case HL__JBUF_INVALID:
    return hl_fail(HL_ERR_INVALID, "%s: a node cJSON cannot print either (invalid, or raw without text)",
                   fn);
  default:
    return hl__oom();
  }
}

/* The nesting is checked as the text is printed: no walk of the tree
 * first (that was ~2 % of the print). */
hl_status hl_json_print(const cJSON *value, char **out) {
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_json_print: out is NULL");
  *out = NULL;
  if (!value) return hl_fail(HL_ERR_INVALID, "hl_json_print: value is NULL");
  out_buf b = {0};
  put_value(&b, value, 0);
  if (b.failed) {
    free(b.p);
    return stopped(&b, "hl_json_print");
  }
  *out = b.p;
  return HL_OK;
}

hl_status hl_json_print_prefix(const cJSON *value, char *buf, size_t cap, size_t *len, bool *complete) {
  if (len) *len = 0;
  if (complete) *complete = false;
  if (!buf || !cap) return hl_fail(HL_ERR_INVALID, "hl_json_print_prefix: no buffer (buf NULL or cap 0)");
  buf[0] = '\0';
  if (!value) return hl_fail(HL_ERR_INVALID, "hl_json_print_prefix: value is NULL");
  out_buf b = {.p = buf, .cap = cap, .fixed = true};
  put_value(&b, value, 0);
  if (b.failed && b.stop != HL__JBUF_CUT) {
    buf[0] = '\0';
    return stopped(&b, "hl_json_print_prefix");
  }
  if (len) *len = b.len;
  if (complete) *complete = !b.failed;
  return HL_OK;
}
