/*
 * test_json_prefix.c - hl_json_print_prefix(): at every size of the
 * buffer its text is hl_json_print()'s cut to the whole characters that
 * fit (a reference walk over the whole text, character by character,
 * from its start), written into a buffer of exactly that size (ASan sees
 * a byte past it); what hl_json_print() refuses is refused when it comes
 * before the cut; and the printer reads no more of a value than it
 * prints: a 1 MB string whose bytes past the first 256 KB cannot be read,
 * and an array whose node after the cut cannot be read.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "guarded_text.h"
#include "hookline/json.h"

/* Bytes of the first character of s (NUL-terminated): a valid UTF-8
 * sequence, or a byte of its own. */
static size_t char_len(const char *s) {
  unsigned char c = (unsigned char)*s;
  size_t m = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  return m > 1 && strnlen(s, m) == m && hl_utf8_valid(s, m) ? m : 1;
}

/* The length of what fits in cap bytes: whole characters of `full` from
 * its start while they fit in cap - 1 bytes (the NUL takes one). */
static size_t fits(const char *full, size_t cap) {
  size_t i = 0;
  while (full[i] && i + char_len(full + i) <= cap - 1) i += char_len(full + i);
  return i;
}

/* hl_json_print_prefix() into a buffer of exactly cap bytes: the text
 * (the caller frees), or NULL when it failed; *complete as it said. */
static char *print_prefix(const cJSON *v, size_t cap, bool *complete) {
  char *buf = malloc(cap);
  size_t len = 0;
  if (!buf || hl_json_print_prefix(v, buf, cap, &len, complete) != HL_OK) {
    free(buf);
    return NULL;
  }
  if (strlen(buf) != len) fprintf(stderr, "  len %zu, the text has %zu bytes\n", len, strlen(buf));
  CHECK_INT(strlen(buf), len);
  return buf;
}

/* Every size of buffer, from 1 byte to more than the text needs. */
static void prefix_at_every_cut(const cJSON *v) {
  char *full = NULL;
  REQUIRE(hl_json_print(v, &full) == HL_OK);
  size_t len = strlen(full);
  for (size_t cap = 1; cap <= len + 2; cap++) {
    bool complete = !(cap - 1 >= len);
    char *got = print_prefix(v, cap, &complete);
    REQUIRE(got != NULL);
    size_t want = fits(full, cap);
    bool same = strlen(got) == want && !memcmp(got, full, want);
    CHECK(same);
    CHECK(complete == (cap - 1 >= len));
    if (!same || complete != (cap - 1 >= len))
      fprintf(stderr, "  %zu bytes of %s: \"%s\" (%s)\n", cap, full, got, complete ? "complete" : "cut");
    free(got);
  }
  hl_free(full);
}

static void prefix_of_strings(const char *const *strings, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cJSON *v = cJSON_CreateString(strings[i]);
    REQUIRE(v != NULL);
    prefix_at_every_cut(v);
    cJSON_Delete(v);
  }
}

static void strings_and_escapes(void) {
  char ctl[40];
  size_t k = 0;
  for (int c = 1; c < 0x20; c++) ctl[k++] = (char)c;
  memcpy(ctl + k, "\"\\/\x7f", 5);
  const char *strings[] = {"", "plain", ctl, "say \"hi\"\n\tto C:\\dir", "\x01\x02\x1f",
                           "a plain run longer than a word, then \"one\" escape and more plain text"};
  prefix_of_strings(strings, sizeof strings / sizeof *strings);
  /* named cut points: inside an escape, after it */
  cJSON *v = cJSON_CreateString("a\x01z");
  REQUIRE(v != NULL);
  bool complete = true;
  char *got = print_prefix(v, 6, &complete);
  CHECK_STR(got, "\"a\\u0"); /* the escape's first bytes: each is a character */
  CHECK(!complete);
  free(got);
  got = print_prefix(v, 9, &complete);
  CHECK_STR(got, "\"a\\u0001");
  CHECK(!complete);
  free(got);
  got = print_prefix(v, 11, &complete);
  CHECK_STR(got, "\"a\\u0001z\"");
  CHECK(complete);
  free(got);
  cJSON_Delete(v);
  /* a string whose value is NULL prints as "" (cJSON's rule) */
  cJSON *s = cJSON_CreateString("x");
  REQUIRE(s != NULL);
  cJSON_free(s->valuestring);
  s->valuestring = NULL;
  prefix_at_every_cut(s);
  cJSON_Delete(s);
}

static void unicode(void) {
  const char *strings[] = {
      "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87", /* é ☃ 😀 中文 */
      "\xff\xc3(\x80 lone and cut \xe2\x98",                                  /* not UTF-8 */
      "\xe2\x98\x83\n\xe2\x98\x83\"\xf0\x9f\x98\x80",                         /* next to escapes */
      "\xed\xa0\x80 surrogate, \xe0\x80\xaf overlong, \xf4\x90\x80\x80 past U+10FFFF",
  };
  prefix_of_strings(strings, sizeof strings / sizeof *strings);
  /* named cut points: inside a character, exactly after it */
  cJSON *v = cJSON_CreateString("\xe2\x98\x83x");
  REQUIRE(v != NULL);
  for (size_t cap = 2; cap <= 4; cap++) {
    char *got = print_prefix(v, cap, &(bool){false});
    CHECK_STR(got, "\"");
    free(got);
  }
  char *got = print_prefix(v, 5, &(bool){false});
  CHECK_STR(got, "\"\xe2\x98\x83");
  free(got);
  cJSON_Delete(v);
}

/* The numbers as hl_json_print() writes them (digits to read back
 * exactly, -0 with its sign), cut like the rest. */
static void numbers(void) {
  const double values[] = {0, -0.0, 1, -1, 42, 0.1, 1.0 / 3, 0.30000000000000004, 1e300, -1e-300,
                           1e15, 1e16, 123456789.125, 2147483647.0, 2147483648.0, -2147483649.0,
                           9007199254740993.0, 5e-324, 1.7976931348623157e308, -1e-7,
                           NAN, INFINITY, -INFINITY};
  cJSON *arr = cJSON_CreateArray();
  REQUIRE(arr != NULL);
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    cJSON *v = cJSON_CreateNumber(values[i]);
    REQUIRE(v != NULL);
    prefix_at_every_cut(v);
    cJSON_AddItemToArray(arr, v);
  }
  prefix_at_every_cut(arr);
  char *got = print_prefix(arr, 4096, &(bool){false});
  CHECK_CONTAINS(got, "[0,-0,1,-1,42,0.1,0.3333333333333333,0.30000000000000004,1e+300,");
  CHECK_CONTAINS(got, ",null,null,null]"); /* NaN, infinities */
  free(got);
  cJSON_Delete(arr);
}

static void nesting_and_keys(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("{\"k\\\"ey\\n\":[1,{\"a\":[]},{},[[true,false,null]],\"\\u2603\"],"
                        "\"\":{\"x\\u0001\":-0.5},\"tail\":\"end\"}", (size_t)-1, &v) == HL_OK);
  prefix_at_every_cut(v);
  cJSON_Delete(v);
  cJSON *empty[] = {cJSON_CreateArray(), cJSON_CreateObject(), cJSON_CreateNull(), cJSON_CreateTrue(),
                    cJSON_CreateFalse(), cJSON_CreateRaw("{\"raw\":\xe2\x98\x83}")};
  for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
    REQUIRE(empty[i] != NULL);
    prefix_at_every_cut(empty[i]);
    cJSON_Delete(empty[i]);
  }
  /* an object member without a key prints as "" */
  cJSON *o = cJSON_CreateObject();
  REQUIRE(o != NULL);
  cJSON_AddItemToArray(o, cJSON_CreateNumber(7));
  prefix_at_every_cut(o);
  cJSON_Delete(o);
}

/* What hl_json_print() refuses, refused when met before the cut (the
 * buffer then ""); after the cut, the text so far. */
static void refused_before_the_cut(void) {
  cJSON *a = cJSON_CreateArray(), *bad = cJSON_CreateNull();
  REQUIRE(a && bad);
  cJSON_AddItemToArray(a, cJSON_CreateString("first"));
  cJSON_AddItemToArray(a, bad);
  bad->type = cJSON_Invalid;
  char *full = NULL, buf[64];
  CHECK_INT(hl_json_print(a, &full), HL_ERR_INVALID);
  CHECK(full == NULL);
  size_t len = 99;
  CHECK_INT(hl_json_print_prefix(a, buf, sizeof buf, &len, NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "cannot print");
  CHECK_STR(buf, "");
  CHECK_INT(len, 0);
  bool complete = true;
  CHECK_INT(hl_json_print_prefix(a, buf, 6, &len, &complete), HL_OK); /* cut before it */
  CHECK_STR(buf, "[\"fir");
  CHECK(!complete);
  bad->type = cJSON_Raw; /* without text */
  CHECK_INT(hl_json_print_prefix(a, buf, sizeof buf, NULL, NULL), HL_ERR_INVALID);
  cJSON_Delete(a);
}

/* Nesting deeper than HL_JSON_MAX_DEPTH: refused when the text reaches
 * it, a prefix of brackets when the cut comes first; exactly the limit
 * prints whole. */
static void deep_before_and_after_the_cut(void) {
  cJSON *deep = cJSON_CreateArray(), *in = deep, *at_limit = NULL;
  REQUIRE(deep != NULL);
  for (int i = 1; i < HL_JSON_MAX_DEPTH + 10; i++) {
    cJSON *next = cJSON_CreateArray();
    REQUIRE(next != NULL);
    cJSON_AddItemToArray(in, next);
    in = next;
    if (i == 10) at_limit = next; /* HL_JSON_MAX_DEPTH levels from here down */
  }
  char *full = NULL;
  CHECK_INT(hl_json_print(deep, &full), HL_ERR_TOO_LARGE);
  static char buf[4 * HL_JSON_MAX_DEPTH];
  bool complete = true;
  size_t len = 0;
  CHECK_INT(hl_json_print_prefix(deep, buf, 101, &len, &complete), HL_OK);
  CHECK_INT(len, 100);
  CHECK(!complete && strspn(buf, "[") == 100);
  CHECK_INT(hl_json_print_prefix(deep, buf, sizeof buf, &len, &complete), HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "nesting deeper than 512 levels");
  CHECK_INT(hl_json_print_prefix(at_limit, buf, sizeof buf, &len, &complete), HL_OK);
  CHECK(complete && len == 2 * HL_JSON_MAX_DEPTH);
  REQUIRE(hl_json_print(at_limit, &full) == HL_OK);
  CHECK_STR(buf, full);
  hl_free(full);
  cJSON_Delete(deep);
}

/* A 1 MB string whose bytes past the first 256 KB cannot be read
 * (PROT_NONE): 64 KB of it printed, nothing past them read (a strlen()
 * would crash here). */
static void reads_no_string_past_the_cut(void) {
  guarded_text g;
  REQUIRE(guarded_text_init(&g));
  char *buf = malloc(64 << 10), *full = NULL;
  size_t len = 0;
  bool complete = true;
  REQUIRE(buf != NULL);
  CHECK_INT(hl_json_print_prefix(&g.obj, buf, 64 << 10, &len, &complete), HL_OK);
  CHECK(!complete && len >= (64 << 10) - 4 && len < 64 << 10);
  /* the text is hl_json_print()'s: checked on the readable part, ended */
  guarded_text_end(&g, true);
  REQUIRE(hl_json_print(&g.obj, &full) == HL_OK);
  CHECK(!strncmp(buf, full, len));
  CHECK(hl_utf8_valid(buf, len)); /* no character cut */
  hl_free(full);
  free(buf);
  guarded_text_free(&g);
}

/* An array whose node after the cut lies in memory that cannot be read:
 * the walk stops at the cut. */
static void reads_no_node_past_the_cut(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  char *mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mem != MAP_FAILED);
  REQUIRE(mprotect(mem + page, page, PROT_NONE) == 0);
  char text[] = "the first element, longer than the buffer";
  cJSON first = {.type = cJSON_String, .valuestring = text, .next = (cJSON *)(mem + page)};
  cJSON arr = {.type = cJSON_Array, .child = &first};
  char buf[16];
  bool complete = true;
  CHECK_INT(hl_json_print_prefix(&arr, buf, sizeof buf, NULL, &complete), HL_OK);
  CHECK_STR(buf, "[\"the first ele");
  CHECK(!complete);
  munmap(mem, 2 * page);
}

static void bad_arguments(void) {
  cJSON *v = cJSON_CreateString("x");
  REQUIRE(v != NULL);
  char buf[8] = "junk";
  CHECK_INT(hl_json_print_prefix(NULL, buf, sizeof buf, NULL, NULL), HL_ERR_INVALID);
  CHECK_STR(buf, "");
  CHECK_INT(hl_json_print_prefix(v, NULL, 8, NULL, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_json_print_prefix(v, buf, 0, NULL, NULL), HL_ERR_INVALID);
  /* len and complete may be NULL */
  CHECK_INT(hl_json_print_prefix(v, buf, sizeof buf, NULL, NULL), HL_OK);
  CHECK_STR(buf, "\"x\"");
  cJSON_Delete(v);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(strings_and_escapes);
  RUN(unicode);
  RUN(numbers);
  RUN(nesting_and_keys);
  RUN(refused_before_the_cut);
  RUN(deep_before_and_after_the_cut);
  RUN(reads_no_string_past_the_cut);
  RUN(reads_no_node_past_the_cut);
  RUN(bad_arguments);
  return CHECK_EXIT();
}
