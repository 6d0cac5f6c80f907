/*
 * json.c - a strict JSON parser that builds cJSON trees, and NULL-safe
 * helpers over cJSON.
 *
 * Why not cJSON_Parse: it recurses without a depth limit in the versions
 * Debian ships (a 100 000-deep array overflows the stack), it accepts
 * invalid UTF-8 and silently truncates strings at an escaped \u0000, it
 * only reports *where* it failed and not why, and it writes a process-global
 * error variable on every call (a data race when threads parse at once).
 * This parser is a small recursive-descent parser whose recursion is bounded
 * by HL_JSON_MAX_DEPTH, and it reports "invalid JSON at byte N: reason".
 */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "json_word.h"
#include "util.h"

typedef struct json_parser {
  const char *s;
  size_t len;
  size_t pos;
  int depth;
  bool failed;
  size_t err_pos;
  char err[160];
  hl__json_arena *arena;    /* nodes and strings go there, or NULL: cJSON's */
} json_parser;

/* One block of an arena: the nodes and strings of a tree, back to back. */
typedef struct arena_block {
  struct arena_block *next;
  size_t used, size;
  max_align_t data[];
} arena_block;

/* Each thread keeps the first block of its last arena for its next
 * parse (up to SPARE_MAX bytes): a provider's worker parses answer after
 * answer, and a block of a few KB from malloc and back to free cost ~700
 * instructions per answer (issue 12). Freed when the thread exits. Small:
 * an application's own threads that run agents keep theirs for as long
 * as they live, so a rare large answer's block is not worth keeping (8 KB
 * holds the first block of an answer up to ~1.9 KB of text). */
#define SPARE_MAX (8 * 1024)
static pthread_key_t spare_key;
static bool spare_ok;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static void spare_init(void) { spare_ok = pthread_key_create(&spare_key, free) == 0; }

/* The thread's spare block if it has `size` bytes of room (it is then
 * the caller's), else NULL. */
static arena_block *spare_take(size_t size) {
  pthread_once(&spare_once, spare_init);
  arena_block *s = spare_ok ? pthread_getspecific(spare_key) : NULL;
  if (!s || s->size < size) return NULL;
  pthread_setspecific(spare_key, NULL);
  return s;
}

/* Keep `b` as the thread's spare (the larger of it and the one kept), or
 * free it. */
static void spare_give(arena_block *b) {
  pthread_once(&spare_once, spare_init);
  arena_block *s = spare_ok && b->size <= SPARE_MAX ? pthread_getspecific(spare_key) : NULL;
  if (!spare_ok || b->size > SPARE_MAX || (s && s->size >= b->size) ||
      pthread_setspecific(spare_key, b) != 0) {
    free(b);
    return;
  }
  free(s);
}

/* Memory for the tree: cJSON's allocator, or the arena (16-byte slots;
 * blocks grow, the first sized from the text). The slow half: a new
 * block, or cJSON's allocator. */
static void *jp_alloc_slow(json_parser *p, size_t n) {
  if (!p->arena) return cJSON_malloc(n);
  n = (n + 15) & ~(size_t)15;
  arena_block *b = p->arena->blocks;
  if (!b || b->size - b->used < n) {
    /* A tree takes about four times its text (a 64-byte node per value,
     * a 16-byte slot per string): most bodies fit the first block. */
    size_t size = b ? b->size * 2 : p->len * 4 + 512;
    if (size < n) size = n;
    arena_block *nb = b ? NULL : spare_take(size);
    if (nb) size = nb->size;
    else nb = malloc(sizeof *nb + size);
    if (!nb) return NULL;
    nb->next = b;
    nb->used = 0;
    nb->size = size;
    p->arena->blocks = b = nb;
  }
  void *r = (unsigned char *)b->data + b->used;
  b->used += n;
  return r;
}

/* The fast half, inlined into every node and string of a parse: room in
 * the current block (issue 12: the call alone was ~15 of its ~30
 * instructions, ~140 calls per session of concurrent_slow). */
static inline void *jp_alloc(json_parser *p, size_t n) {
  arena_block *b = p->arena ? p->arena->blocks : NULL;
  size_t r16 = (n + 15) & ~(size_t)15;
  if (b && b->size - b->used >= r16) {
    void *r = (unsigned char *)b->data + b->used;
    b->used += r16;
    return r;
  }
  return jp_alloc_slow(p, n);
}

/* A new node of `type` (zeroed as cJSON makes them). */
static cJSON *jp_node(json_parser *p, int type) {
  if (!p->arena) {
    switch (type) {
    case cJSON_Object: return cJSON_CreateObject();
    case cJSON_Array: return cJSON_CreateArray();
    case cJSON_True: return cJSON_CreateTrue();
    case cJSON_False: return cJSON_CreateFalse();
    default: {
      /* A string gets its buffer from jp_string: not cJSON_CreateString(""),
       * which would allocate a "" only to free it. */
      cJSON *v = cJSON_CreateNull();
      if (v) v->type = type;
      return v;
    }
    }
  }
  cJSON *v = jp_alloc(p, sizeof *v);
  if (v) {
    memset(v, 0, sizeof *v);
    v->type = type;
  }
  return v;
}

/* Nothing of an arena's tree is freed but the arena. */
static void jp_free(json_parser *p, void *ptr) {
  if (!p->arena) cJSON_free(ptr);
}
static void jp_delete(json_parser *p, cJSON *v) {
  if (!p->arena) cJSON_Delete(v);
}

static void jp_fail(json_parser *p, size_t at, const char *fmt, ...) HL_PRINTF(3, 4);

static void jp_fail(json_parser *p, size_t at, const char *fmt, ...) {
  if (p->failed) return; /* keep the first, innermost reason */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
  p->failed = true;
  p->err_pos = at;
}

/* Describe the byte at `at` for an "unexpected ..." message. */
static void jp_fail_unexpected(json_parser *p, size_t at, const char *expected) {
  if (at >= p->len) {
    jp_fail(p, at, "unexpected end of input, expected %s", expected);
    return;
  }
  unsigned char c = (unsigned char)p->s[at];
  if (c == 0)
    jp_fail(p, at, "NUL byte, expected %s", expected);
  else if (c >= 0x21 && c < 0x7F)
    jp_fail(p, at, "unexpected '%c', expected %s", c, expected);
  else
    jp_fail(p, at, "unexpected byte 0x%02X, expected %s", c, expected);
}

static void jp_skip_ws_loop(json_parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

/* Compact JSON (what servers send) has no blank between tokens: the next
 * byte is checked inline, the loop called only for a blank. */
static inline void jp_skip_ws(json_parser *p) {
  if (p->pos < p->len && (unsigned char)p->s[p->pos] > ' ') return;
  jp_skip_ws_loop(p);
}

static int jp_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at p->s[at]; -1 if malformed. */
static long jp_hex4(json_parser *p, size_t at) {
  if (p->len - at < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = jp_hex(p->s[at + (size_t)i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static size_t utf8_encode(unsigned long cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The high bit of each byte of `w` that may end a plain run of a string:
 * below 0x20, 0x80 or above, '"' or '\\' (json_word.h: no byte that
 * matches is missed, the lowest flagged byte is a true match). */
static uint64_t word_special(uint64_t w) { return hl__word_escapes(w) | (w & HL__WORD_HIGHS); }

/* From `end`, the offset of the first byte of the string that may not be
 * plain (word_special), or where fewer than eight bytes are left. */
static size_t skip_plain_words(const unsigned char *s, size_t end, size_t len) {
  while (end + 8 <= len) {
    uint64_t w;
    memcpy(&w, s + end, 8);
    uint64_t m = word_special(w);
    if (m) {
#ifdef HL__WORD_FIRST
      /* Straight to the first flagged byte: keys and short values end
       * inside their first word, and the byte loop after this was ~5,000
       * instructions per session of concurrent_slow. Elsewhere the byte
       * loop finds it. */
      end += hl__word_first(m);
#endif
      return end;
    }
    end += 8;
  }
  return end;
}

/* Parse the string starting at the opening quote at p->pos into a new
 * NUL-terminated buffer allocated with cJSON_malloc (so cJSON can own it).
 * Escapes only shrink text, so the raw span bounds the decoded size. */
static char *jp_string(json_parser *p) {
  size_t start = p->pos + 1, end = start;
  const unsigned char *s = (const unsigned char *)p->s;
  /* Find the closing quote; note whether the string is plain (printable
   * ASCII, no escape): most are, and are then copied whole instead of
   * decoded byte by byte (issue 12: this loop was most of parsing). */
  bool plain = true;
  for (;;) {
    /* Eight bytes at a time while none is special (a word test), then
     * byte by byte up to the special one. */
    end = skip_plain_words(s, end, p->len);
    while (end < p->len && (unsigned char)(s[end] - 0x20) < 0x60 && s[end] != '"' && s[end] != '\\')
      end++;
    if (end >= p->len || s[end] == '"') break;
    plain = false;
    end += s[end] == '\\' ? 2 : 1;
  }
  if (end >= p->len) {
    jp_fail(p, p->pos, "unterminated string");
    return NULL;
  }
  char *out = jp_alloc(p, end - start + 1);
  if (!out) {
    jp_fail(p, p->pos, "out of memory for a string of %zu bytes", end - start);
    return NULL;
  }
  if (plain) {
    /* An arena slot is at least 16 bytes (jp_alloc rounds up), so a short
     * string there (most keys and values of an answer) is copied as one
     * fixed 16-byte move, its bytes past the end overwritten by the NUL
     * or left unused, instead of a memcpy call (issue 12: ~80 per session
     * of concurrent_slow). The text must have the 16 bytes to read. */
    if (p->arena && end - start < 16 && p->len - start >= 16)
      memcpy(out, p->s + start, 16);
    else
      memcpy(out, p->s + start, end - start);
    out[end - start] = '\0';
    p->pos = end + 1;
    return out;
  }
  size_t o = 0, i = start;
  while (i < end) {
    unsigned char c = (unsigned char)p->s[i];
    if (c == '\\') {
      char e = p->s[i + 1];
      const char *simple = strchr("\"\\/bfnrt", e);
      if (e != '\0' && simple) {
        static const char decoded[] = "\"\\/\b\f\n\r\t";
        out[o++] = decoded[simple - "\"\\/bfnrt"];
        i += 2;
        continue;
      }
      if (e != 'u') {
        jp_fail(p, i, "invalid escape in string");
        goto fail;
      }
      long cp = jp_hex4(p, i + 2);
      if (cp < 0) {
        jp_fail(p, i, "invalid \\u escape in string");
        goto fail;
      }
      size_t used = 6;
      if (cp == 0) {
        /* cJSON strings are NUL-terminated: an embedded NUL would silently
         * cut the string short, so refuse it instead. */
        jp_fail(p, i, "\\u0000 in string is not supported");
        goto fail;
      }
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        jp_fail(p, i, "unpaired UTF-16 surrogate in string");
        goto fail;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = -1;
        if (i + 12 <= end && p->s[i + 6] == '\\' && p->s[i + 7] == 'u') lo = jp_hex4(p, i + 8);
        if (lo < 0xDC00 || lo > 0xDFFF) {
          jp_fail(p, i, "unpaired UTF-16 surrogate in string");
          goto fail;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 12;
      }
      o += utf8_encode((unsigned long)cp, out + o);
      i += used;
    } else if (c < 0x20) {
      if (c == 0)
        jp_fail(p, i, "NUL byte in string");
      else
        jp_fail(p, i, "unescaped control character 0x%02X in string", c);
      goto fail;
    } else if (c < 0x80) {
      out[o++] = (char)c;
      i++;
    } else {
      /* Validate one UTF-8 sequence; it may not cross the closing quote. */
      size_t n = 1;
      while (n < 4 && i + n < end && ((unsigned char)p->s[i + n] & 0xC0) == 0x80) n++;
      if (hl__utf8_invalid_at(p->s + i, n) != n) {
        jp_fail(p, i, "invalid UTF-8 in string");
        goto fail;
      }
      memcpy(out + o, p->s + i, n);
      o += n;
      i += n;
    }
  }
  out[o] = '\0';
  p->pos = end + 1;
  return out;
fail:
  jp_free(p, out);
  return NULL;
}

/* strtod in the "C" locale: the application may have called setlocale()
 * with a locale whose decimal point is a comma. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static cJSON *jp_number(json_parser *p) {
  size_t start = p->pos, i = start;
  const char *s = p->s;
#define DIGIT(k) ((k) < p->len && s[k] >= '0' && s[k] <= '9')
  if (i < p->len && s[i] == '-') i++;
  if (!DIGIT(i)) goto bad;
  if (s[i] == '0') {
    i++;
  } else {
    while (DIGIT(i)) i++;
  }
  if (i < p->len && s[i] == '.') {
    i++;
    if (!DIGIT(i)) goto bad;
    while (DIGIT(i)) i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
    if (!DIGIT(i)) goto bad;
    while (DIGIT(i)) i++;
  }
#undef DIGIT
  if (i - start <= 16 && !memchr(s + start, '.', i - start) && !memchr(s + start, 'e', i - start) &&
      !memchr(s + start, 'E', i - start)) {
    /* An integer of at most 15 digits (ids, counts: most numbers) is exact
     * in a double: the value strtod would give, without its cost. */
    size_t k = start + (s[start] == '-');
    if (i - k <= 15) {
      int64_t v = 0;
      for (; k < i; k++) v = v * 10 + (s[k] - '0');
      double d = s[start] == '-' ? -(double)v : (double)v;
      cJSON *num = jp_node(p, cJSON_Number);
      if (!num) {
        jp_fail(p, start, "out of memory");
        return NULL;
      }
      num->valuedouble = d;
      num->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
      p->pos = i;
      return num;
    }
  }
  {
    /* Copy: the text is not NUL-terminated at the number's end. */
    char small[64];
    size_t n = i - start;
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) {
      jp_fail(p, start, "out of memory");
      return NULL;
    }
    memcpy(buf, s + start, n);
    buf[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    double d = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != small) free(buf);
    if (isinf(d)) {
      jp_fail(p, start, "number out of range");
      return NULL;
    }
    cJSON *num = jp_node(p, cJSON_Number);
    if (num) {
      /* As cJSON_CreateNumber() stores it. */
      num->valuedouble = d;
      num->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    }
    if (!num) {
      jp_fail(p, start, "out of memory");
      return NULL;
    }
    p->pos = i;
    return num;
  }
bad:
  jp_fail(p, start, "invalid number");
  return NULL;
}

static cJSON *jp_value(json_parser *p);

/* Arrays and objects share the loop; `object` selects key handling. */
static cJSON *jp_container(json_parser *p, bool object) {
  size_t open_at = p->pos;
  char close = object ? '}' : ']';
  if (++p->depth > HL_JSON_MAX_DEPTH) {
    jp_fail(p, open_at, "nesting deeper than %d levels", HL_JSON_MAX_DEPTH);
    return NULL;
  }
  cJSON *c = jp_node(p, object ? cJSON_Object : cJSON_Array);
  if (!c) {
    jp_fail(p, open_at, "out of memory");
    return NULL;
  }
  p->pos++;
  jp_skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    p->depth--;
    return c;
  }
  for (;;) {
    char *key = NULL;
    jp_skip_ws(p);
    if (object) {
      if (p->pos >= p->len || p->s[p->pos] != '"') {
        jp_fail_unexpected(p, p->pos, "a string key");
        goto fail;
      }
      key = jp_string(p);
      if (!key) goto fail;
      jp_skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') {
        jp_free(p, key);
        jp_fail_unexpected(p, p->pos, "':'");
        goto fail;
      }
      p->pos++;
    }
    cJSON *item = jp_value(p);
    if (!item) {
      jp_free(p, key);
      goto fail;
    }
    /* The key was allocated with cJSON_malloc, so the item can own it
     * directly; cJSON_AddItemToArray appends in O(1) to objects too. */
    item->string = key;
    cJSON_AddItemToArray(c, item);
    jp_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->len && p->s[p->pos] == close) {
      p->pos++;
      break;
    }
    jp_fail_unexpected(p, p->pos, object ? "',' or '}'" : "',' or ']'");
    goto fail;
  }
  p->depth--;
  return c;
fail:
  jp_delete(p, c);
  return NULL;
}

static cJSON *jp_literal(json_parser *p, const char *word, int type) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
    jp_fail_unexpected(p, p->pos, "a JSON value");
    return NULL;
  }
  cJSON *v = jp_node(p, type);
  if (!v) {
    jp_fail(p, p->pos, "out of memory");
    return NULL;
  }
  p->pos += n;
  return v;
}


static cJSON *jp_value(json_parser *p) {
  jp_skip_ws(p);
  if (p->pos >= p->len) {
    jp_fail_unexpected(p, p->pos, "a JSON value");
    return NULL;
  }
  char c = p->s[p->pos];
  switch (c) {
  case '{': return jp_container(p, true);
  case '[': return jp_container(p, false);
  case '"': {
    size_t at = p->pos;
    char *str = jp_string(p);
    if (!str) return NULL;
    /* cJSON_CreateString would copy; hand over our buffer instead. */
    cJSON *v = jp_node(p, cJSON_String);
    if (!v) {
      jp_free(p, str);
      jp_fail(p, at, "out of memory");
      return NULL;
    }
    v->valuestring = str;
    return v;
  }
  case 't': return jp_literal(p, "true", cJSON_True);
  case 'f': return jp_literal(p, "false", cJSON_False);
  case 'n': return jp_literal(p, "null", cJSON_NULL);
  default:
    if (c == '-' || (c >= '0' && c <= '9')) return jp_number(p);
    jp_fail_unexpected(p, p->pos, "a JSON value");
    return NULL;
  }
}

static hl_status parse(const char *text, size_t len, hl__json_arena *arena, cJSON **out) {
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_json_parse: out is NULL");
  *out = NULL;
  if (!text) return hl_fail(HL_ERR_INVALID, "hl_json_parse: text is NULL");
  if (len == (size_t)-1) len = strlen(text);
  json_parser p = {.s = text, .len = len, .arena = arena};
  cJSON *v = jp_value(&p);
  if (v) {
    jp_skip_ws(&p);
    if (p.pos < p.len) {
      jp_fail(&p, p.pos, "trailing characters after the JSON value");
      jp_delete(&p, v);
      v = NULL;
    }
  }
  if (!v) return hl_fail(HL_ERR_JSON, "invalid JSON at byte %zu: %s", p.err_pos, p.err);
  *out = v;
  return HL_OK;
}

hl_status hl_json_parse(const char *text, size_t len, cJSON **out) {
  return parse(text, len, NULL, out);
}

hl_status hl__json_parse_arena(const char *text, size_t len, hl__json_arena *arena, cJSON **out) {
  return parse(text, len, arena, out);
}

void hl__json_arena_free(hl__json_arena *arena) {
  arena_block *b = arena->blocks;
  while (b) {
    arena_block *next = b->next;
    /* The first block (the list's last) may serve the thread's next parse. */
    if (next) free(b);
    else spare_give(b);
    b = next;
  }
  arena->blocks = NULL;
}

static cJSON *clone_rec(const cJSON *v, int depth) {
  if (depth > HL_JSON_MAX_DEPTH) return NULL;
  cJSON *c;
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
    c = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!c) return NULL;
    for (const cJSON *ch = v->child; ch; ch = ch->next) {
      cJSON *cc = clone_rec(ch, depth + 1);
      if (!cc) {
        cJSON_Delete(c);
        return NULL;
      }
      cJSON_AddItemToArray(c, cc);
    }
  } else {
    /* Scalars carry no children, so cJSON_Duplicate does not recurse. */
    c = cJSON_Duplicate(v, false);
    if (!c) return NULL;
    if (c->string && !(c->type & cJSON_StringIsConst)) cJSON_free(c->string);
    c->string = NULL;
    c->type &= ~cJSON_StringIsConst;
  }
  if (v->string) {
    c->string = cJSON_malloc(strlen(v->string) + 1);
    if (!c->string) {
      cJSON_Delete(c);
      return NULL;
    }
    strcpy(c->string, v->string);
  }
  return c;
}

bool hl_json_add(cJSON *obj, const char *key, cJSON *item) {
  if (item && obj && cJSON_AddItemToObject(obj, key, item)) return true;
  cJSON_Delete(item);
  return false;
}

cJSON *hl_json_clone(const cJSON *value) {
  if (!value) return NULL;
  cJSON *c = clone_rec(value, 0);
  if (!c) {
    if (!hl__json_depth_ok(value, HL_JSON_MAX_DEPTH))
      hl_fail(HL_ERR_TOO_LARGE, "hl_json_clone: nesting deeper than %d levels", HL_JSON_MAX_DEPTH);
    else
      hl__oom();
    return NULL;
  }
  /* The copy is a free-standing value: the key belongs to a parent only. */
  if (c->string) {
    cJSON_free(c->string);
    c->string = NULL;
  }
  return c;
}

/* Duplicate keys: JSON allows them without giving them a meaning, and the
 * parser keeps them all. Equality pairs the k-th member named K of one
 * object with the k-th member named K of the other (a lookup by key alone
 * would compare every duplicate with the first one, and a value would not
 * equal its own copy). With the member counts equal, this pairing is a
 * bijection, so equality stays reflexive and symmetric. */
static size_t occurrence(const cJSON *obj, const cJSON *member) {
  size_t k = 0;
  for (const cJSON *x = obj->child; x && x != member; x = x->next)
    if (x->string && strcmp(x->string, member->string) == 0) k++;
  return k;
}

static const cJSON *nth_member(const cJSON *obj, const char *key, size_t k) {
  for (const cJSON *y = obj->child; y; y = y->next)
    if (y->string && strcmp(y->string, key) == 0 && k-- == 0) return y;
  return NULL;
}

static bool equal_rec(const cJSON *a, const cJSON *b, int depth) {
  if (a == b) return true;
  if (!a || !b) return false;
  if (depth > HL_JSON_MAX_DEPTH) return false;
  int ta = a->type & 0xFF, tb = b->type & 0xFF;
  if (ta != tb) return false;
  switch (ta) {
  case cJSON_False:
  case cJSON_True:
  case cJSON_NULL:
    return true;
  case cJSON_Number:
    return a->valuedouble == b->valuedouble;
  case cJSON_String:
  case cJSON_Raw:
    return a->valuestring && b->valuestring && strcmp(a->valuestring, b->valuestring) == 0;
  case cJSON_Array: {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
      if (!equal_rec(x, y, depth + 1)) return false;
    return !x && !y;
  }
  case cJSON_Object: {
    size_t na = 0, nb = 0;
    for (const cJSON *x = a->child; x; x = x->next) na++;
    for (const cJSON *y = b->child; y; y = y->next) nb++;
    if (na != nb) return false;
    for (const cJSON *x = a->child; x; x = x->next) {
      if (!x->string) return false;
      const cJSON *y = nth_member(b, x->string, occurrence(a, x));
      if (!y || !equal_rec(x, y, depth + 1)) return false;
    }
    return true;
  }
  default:
    return false;
  }
}

bool hl_json_equal(const cJSON *a, const cJSON *b) { return equal_rec(a, b, 0); }

bool hl_utf8_valid(const char *s, size_t len) {
  if (!s) return len == 0;
  return hl__utf8_invalid_at(s, len) == len;
}

const char *hl_json_type_name(const cJSON *value) {
  if (!value) return "missing";
  switch (value->type & 0xFF) {
  case cJSON_False:
  case cJSON_True: return "boolean";
  case cJSON_NULL: return "null";
  case cJSON_Number: {
    double d = value->valuedouble;
    return (isfinite(d) && floor(d) == d) ? "integer" : "number";
  }
  case cJSON_String: return "string";
  case cJSON_Array: return "array";
  case cJSON_Object: return "object";
  case cJSON_Raw: return "raw";
  default: return "invalid";
  }
}

const cJSON *hl_json_get(const cJSON *obj, const char *key) {
  if (!obj || !key || (obj->type & 0xFF) != cJSON_Object) return NULL;
  /* cJSON_GetObjectItemCaseSensitive's walk (the first member of that
   * name; a member without a name ends it, as there), with the first byte
   * compared before strcmp: a model answer's decoding looks up ~16 keys,
   * most past several others (issue 12: ~160 instructions a lookup). */
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (!c->string) return NULL;
    if (c->string[0] == key[0] && strcmp(c->string, key) == 0) return c;
  }
  return NULL;
}

const char *hl_json_get_string(const cJSON *obj, const char *key) {
  const cJSON *v = hl_json_get(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

double hl_json_get_number(const cJSON *obj, const char *key, double fallback) {
  const cJSON *v = hl_json_get(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

bool hl_json_get_bool(const cJSON *obj, const char *key, bool fallback) {
  const cJSON *v = hl_json_get(obj, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}
