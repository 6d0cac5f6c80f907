/*
 * otel_print.c - captured JSON (tool arguments and results, messages) as
 * cJSON_PrintUnformatted() prints it, only as far as the exporter keeps it.
 *
 * Why: the run's thread prints captured content (the event is borrowed)
 * and the record keeps only its first characters: at most the attribute
 * value length limit, at most the record's 64 KB. cJSON prints a value
 * whole: a 1 MB tool input cost the run's thread ~11 M instructions and a
 * 1 MB malloc, to keep 64 KB or less of it. This printer writes the same
 * bytes and stops at the cut, so the export is what it was when the whole
 * text was printed and then cut.
 *
 * The text is cJSON's (1.7, read from its print functions): no spaces;
 * null, true, false; a number as "%1.15g", or "%1.17g" when that does
 * not read back within DBL_EPSILON (relative), NaN and infinities as
 * null, the locale's decimal point written as '.'; a string (or key)
 * quoted, with \" \\ \b \f \n \r \t and \u00xx (lowercase) for the other
 * control bytes, every other byte as it is (UTF-8 or not; a NULL string
 * is ""); a raw item's text as it is. cJSON refuses to print an invalid
 * item or a raw one without text: so does this, when it meets one before
 * the cut (after it, the text stops before reaching it). Nesting deeper
 * than HL_JSON_MAX_DEPTH (a tree built by hand: hl_json_parse() makes
 * none) ends the text there, where cJSON would recurse on.
 *
 * (lib/core/json_print.c, behind hl_json_print(), prints numbers with as
 * many digits as they need to read back exactly, and -0 as -0: other text
 * than cJSON's, and it has no cut.)
 */
#include <float.h>
#include <langinfo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "otel_internal.h"

typedef struct printer {
  ot_buf *b;
  size_t bytes, chars; /* left before the cut (chars SIZE_MAX: no limit) */
  bool cut;            /* the cut is reached: nothing more is written */
  bool refused;        /* cJSON would not print the value */
} printer;

/* ASCII text (punctuation, numbers, escapes): a character a byte. */
static void put(printer *w, const char *s, size_t n) {
  if (w->cut) return;
  size_t k = n < w->bytes ? n : w->bytes;
  if (k > w->chars) k = w->chars;
  ot_buf_put(w->b, s, k);
  w->bytes -= k;
  if (w->chars != SIZE_MAX) w->chars -= k;
  if (k < n) w->cut = true;
}

/* n bytes of a string's own text (s[n] is a byte of the string, or its
 * NUL): whole characters, as the exporter counts them. Without a limit
 * of characters, with room for all, and no character going on past them
 * (only a continuation byte can be inside one), a copy. */
static void put_text(printer *w, const char *s, size_t n) {
  if (w->cut) return;
  size_t k = n, chars = w->chars;
  if (chars != SIZE_MAX || n > w->bytes || ((unsigned char)s[n] & 0xC0) == 0x80) {
    k = ot_utf8_cut(s, n < w->bytes ? n : w->bytes, &chars);
    if (w->chars != SIZE_MAX) w->chars = chars;
  }
  ot_buf_put(w->b, s, k);
  w->bytes -= k;
  if (k < n) w->cut = true;
}

/* The longest run of a string that can be part of the text: a character
 * is at most 4 bytes, so the cut is within 4 * chars bytes. */
static size_t reach(const printer *w) {
  size_t r = w->chars > SIZE_MAX / 4 ? SIZE_MAX : 4 * w->chars;
  return r < w->bytes ? r : w->bytes;
}

static inline bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

/* A quoted string: runs copied as they are, escapes between them. Only
 * the part before the cut is read: a 1 MB string costs what is kept. */
static void put_string(printer *w, const char *s) {
  static const char hex[] = "0123456789abcdef";
  put(w, "\"", 1);
  if (!s) s = "";
  while (!w->cut) {
    size_t r = reach(w), n = 0;
    while (n < r && !needs_escape((unsigned char)s[n])) n++;
    put_text(w, s, n);
    if (n == r && s[n]) {
      w->cut = true; /* the run goes on past what fits */
      return;
    }
    unsigned char c = (unsigned char)s[n];
    if (!c) break;
    char e[6] = {'\\', (char)c};
    size_t len = 2;
    switch (c) {
    case '"': case '\\': break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default:
      memcpy(e + 1, "u00", 3);
      e[4] = hex[c >> 4];
      e[5] = hex[c & 15];
      len = 6;
    }
    put(w, e, len);
    s += n + 1;
  }
  put(w, "\"", 1);
}

/* cJSON's test of a number that reads back "close enough". */
static bool close_enough(double a, double b) {
  double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
  return fabs(a - b) <= m * DBL_EPSILON;
}

static void put_number(printer *w, double d) {
  if (isnan(d) || isinf(d)) {
    put(w, "null", 4);
    return;
  }
  char text[32];
  int n = snprintf(text, sizeof text, "%1.15g", d);
  char *end;
  double back = strtod(text, &end);
  if (end == text || !close_enough(back, d)) n = snprintf(text, sizeof text, "%1.17g", d);
  if (n < 0 || n > 25) { /* cJSON's buffer is 26 bytes: it refuses more */
    w->refused = w->cut = true;
    return;
  }
  /* printf's decimal point is the locale's (nl_langinfo: the thread's) */
  char point = nl_langinfo(RADIXCHAR)[0];
  for (int i = 0; i < n; i++)
    if (text[i] == point) text[i] = '.';
  put(w, text, (size_t)n);
}

static void put_value(printer *w, const cJSON *v, int depth) {
  if (w->cut) return;
  switch (v->type & 0xFF) {
  case cJSON_NULL: put(w, "null", 4); break;
  case cJSON_False: put(w, "false", 5); break;
  case cJSON_True: put(w, "true", 4); break;
  case cJSON_Number: put_number(w, v->valuedouble); break;
  case cJSON_String: put_string(w, v->valuestring); break;
  case cJSON_Raw:
    if (!v->valuestring) w->refused = w->cut = true;
    else put_text(w, v->valuestring, strnlen(v->valuestring, reach(w) < SIZE_MAX ? reach(w) + 1 : SIZE_MAX));
    break;
  case cJSON_Array:
  case cJSON_Object: {
    bool object = (v->type & 0xFF) == cJSON_Object;
    if (depth >= HL_JSON_MAX_DEPTH) {
      w->cut = true;
      return;
    }
    put(w, object ? "{" : "[", 1);
    for (const cJSON *c = v->child; c && !w->cut; c = c->next) {
      if (object) {
        put_string(w, c->string);
        put(w, ":", 1);
      }
      put_value(w, c, depth + 1);
      if (c->next) put(w, ",", 1);
    }
    put(w, object ? "}" : "]", 1);
    break;
  }
  default:
    w->refused = w->cut = true; /* cJSON_Invalid or a mix of types */
  }
}

bool ot_json_print_cut(ot_buf *b, const cJSON *v, size_t max_bytes, size_t max_chars) {
  printer w = {.b = b, .bytes = max_bytes, .chars = max_chars};
  if (v) put_value(&w, v, 0);
  return !w.refused && !b->failed;
}
