/* test_json.c - the strict JSON parser and the cJSON helpers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/util.h"
#include "hookline/json.h"

/* Parse `text`, expect HL_ERR_JSON and a message containing `needle`. */
static void expect_error(const char *text, const char *needle) {
  cJSON *v = (cJSON *)1;
  hl_status st = hl_json_parse(text, (size_t)-1, &v);
  CHECK_INT(st, HL_ERR_JSON);
  CHECK(v == NULL);
  CHECK_CONTAINS(hl_last_error(), needle);
  if (st == HL_OK) cJSON_Delete(v);
}

static void parses_and_prints_round_trip(void) {
  const char *doc = "{\"s\":\"h\\u00e9llo \\\"q\\\" \\\\ \\n\\t\",\"i\":-12,\"f\":2.5e-3,"
                    "\"b\":true,\"n\":null,\"a\":[1,[],{}],\"o\":{\"k\":false}}";
  cJSON *v = NULL;
  REQUIRE(hl_json_parse(doc, (size_t)-1, &v) == HL_OK);
  CHECK_STR(hl_json_get_string(v, "s"), "h\xc3\xa9llo \"q\" \\ \n\t");
  CHECK(hl_json_get_number(v, "i", 0) == -12);
  CHECK(hl_json_get_number(v, "f", 0) == 2.5e-3);
  CHECK(hl_json_get_bool(v, "b", false) == true);
  CHECK(cJSON_IsNull(hl_json_get(v, "n")));
  CHECK_INT(cJSON_GetArraySize(hl_json_get(v, "a")), 3);
  char *text = NULL;
  REQUIRE(hl_json_print(v, &text) == HL_OK);
  cJSON *again = NULL;
  REQUIRE(hl_json_parse(text, strlen(text), &again) == HL_OK);
  CHECK(hl_json_equal(v, again));
  hl_free(text);
  cJSON_Delete(v);
  cJSON_Delete(again);
}

/* The parser and the printer take plain text 8 bytes at a time and fall
 * back to one byte at a time around anything special: each special piece
 * (quote, backslash, control byte, escape, 2- and 4-byte UTF-8, DEL) at
 * every position of strings of 0-40 bytes prints as cJSON prints it,
 * and the printed text parses back to the same string; a raw control
 * byte, a raw invalid UTF-8 byte and an unterminated string at every
 * position are refused. */
static void strings_at_every_block_position(void) {
  const char *special[] = {"\"", "\\", "\n", "\x01", "\x1f", "\xc3\xa9", "\xf0\x9f\x98\x80",
                           "\x7f", "/", " "};
  for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
    for (size_t len = 0; len <= 40; len++) {
      for (size_t at = 0; at <= len; at++) {
        char str[64];
        memset(str, 'a', len);
        str[len] = '\0';
        size_t sl = strlen(special[k]);
        memmove(str + at + sl, str + at, len - at + 1);
        memcpy(str + at, special[k], sl);
        cJSON *v = cJSON_CreateString(str);
        REQUIRE(v);
        char *mine = NULL, *theirs = cJSON_PrintUnformatted(v);
        REQUIRE(hl_json_print(v, &mine) == HL_OK && theirs);
        CHECK_STR(mine, theirs);
        cJSON *back = NULL;
        CHECK_INT(hl_json_parse(mine, strlen(mine), &back), HL_OK);
        CHECK_STR(cJSON_IsString(back) ? back->valuestring : "(not a string)", str);
        /* The same string spelled with \u escapes for every 'a'. */
        char esc[512];
        size_t n = 0;
        esc[n++] = '"';
        for (const char *c = mine + 1; c[1]; c++) {
          if (*c == 'a') n += (size_t)snprintf(esc + n, sizeof esc - n, "\\u0061");
          else esc[n++] = *c;
        }
        esc[n++] = '"';
        esc[n] = '\0';
        cJSON *back2 = NULL;
        CHECK_INT(hl_json_parse(esc, n, &back2), HL_OK);
        CHECK_STR(cJSON_IsString(back2) ? back2->valuestring : "(not a string)", str);
        free(theirs);
        hl_free(mine);
        cJSON_Delete(v);
        cJSON_Delete(back);
        cJSON_Delete(back2);
      }
    }
  }
  const char *bad[] = {"\x01", "\x1f", "\xff", "\xc3"};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    for (size_t len = 0; len <= 24; len++) {
      for (size_t at = 0; at <= len; at++) {
        char text[64];
        size_t n = 0;
        text[n++] = '"';
        for (size_t i = 0; i < len; i++) {
          if (i == at) text[n++] = bad[k][0];
          text[n++] = 'b';
        }
        if (at == len) text[n++] = bad[k][0];
        size_t closed = n;
        text[n++] = '"';
        text[n] = '\0';
        cJSON *v = NULL;
        CHECK_INT(hl_json_parse(text, n, &v), HL_ERR_JSON);
        cJSON_Delete(v);
        v = NULL;
        /* Without its closing quote. */
        CHECK_INT(hl_json_parse(text, closed, &v), HL_ERR_JSON);
        cJSON_Delete(v);
      }
    }
  }
}

/* Two special bytes at every pair of positions of strings of 0-19 bytes
 * print as cJSON prints them: the printer looks at a string's last bytes
 * again through a word that ends at the string's end, and a byte it
 * escaped just before (a control byte next to a space, 0x1f then 0x20)
 * must not make it escape a clean one after. */
static void two_specials_print_as_cjson(void) {
  const char special[] = {'"', '\\', '\n', '\x01', '\x1f', ' ', '!', '\x7f', '\xc3', 'a'};
  for (size_t k1 = 0; k1 < sizeof special; k1++) {
    for (size_t k2 = 0; k2 < sizeof special; k2++) {
      for (size_t len = 2; len < 20; len++) {
        for (size_t i = 0; i < len; i++) {
          for (size_t j = i + 1; j < len; j++) {
            char str[24];
            memset(str, 'b', len);
            str[len] = '\0';
            str[i] = special[k1];
            str[j] = special[k2];
            cJSON *v = cJSON_CreateString(str);
            REQUIRE(v);
            char *mine = NULL, *theirs = cJSON_PrintUnformatted(v);
            REQUIRE(hl_json_print(v, &mine) == HL_OK && theirs);
            CHECK_STR(mine, theirs);
            free(theirs);
            hl_free(mine);
            cJSON_Delete(v);
          }
        }
      }
    }
  }
}

static void scalars_at_top_level(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("  \"x\"  ", (size_t)-1, &v) == HL_OK);
  CHECK_STR(v->valuestring, "x");
  cJSON_Delete(v);
  REQUIRE(hl_json_parse("-0.5E+2", (size_t)-1, &v) == HL_OK);
  CHECK(v->valuedouble == -50.0);
  cJSON_Delete(v);
  REQUIRE(hl_json_parse("false", (size_t)-1, &v) == HL_OK);
  CHECK(cJSON_IsFalse(v));
  cJSON_Delete(v);
}

static void surrogate_pairs_decode_to_utf8(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("\"\\ud83d\\ude00\"", (size_t)-1, &v) == HL_OK);
  CHECK_STR(v->valuestring, "\xf0\x9f\x98\x80");
  cJSON_Delete(v);
}

static void length_bounds_the_text(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("[1]garbage", 3, &v) == HL_OK);
  CHECK_INT(cJSON_GetArraySize(v), 1);
  cJSON_Delete(v);
}

static void errors_name_the_byte_and_reason(void) {
  expect_error("{\"a\":1,}", "invalid JSON at byte 7: unexpected '}', expected a string key");
  expect_error("{\"a\":1 \"b\":2}", "invalid JSON at byte 7: unexpected '\"', expected ',' or '}'");
  expect_error("[1,2", "invalid JSON at byte 4: unexpected end of input, expected ',' or ']'");
  expect_error("[1] x", "invalid JSON at byte 4: trailing characters after the JSON value");
  expect_error("", "invalid JSON at byte 0: unexpected end of input");
  expect_error("   ", "invalid JSON at byte 3: unexpected end of input");
  expect_error("{\"a\" 1}", "invalid JSON at byte 5: unexpected '1', expected ':'");
  expect_error("01", "byte 1: trailing characters");
  expect_error("-", "byte 0: invalid number");
  expect_error("1.", "byte 0: invalid number");
  expect_error("1e+", "byte 0: invalid number");
  expect_error("1e999", "number out of range");
  expect_error("tru", "byte 0: unexpected 't'");
  expect_error("nul", "expected a JSON value");
  expect_error("\"abc", "byte 0: unterminated string");
  expect_error("\"a\\x\"", "byte 2: invalid escape");
  expect_error("\"\\u12\"", "invalid \\u escape");
  expect_error("\"\\ud800\"", "unpaired UTF-16 surrogate");
  expect_error("\"\\udc00\"", "unpaired UTF-16 surrogate");
  expect_error("\"\\ud800\\u0041\"", "unpaired UTF-16 surrogate");
  expect_error("\"\\u0000\"", "\\u0000 in string is not supported");
  expect_error("\"a\tb\"", "byte 2: unescaped control character 0x09");
  expect_error("[1,]", "byte 3: unexpected ']', expected a JSON value");
  expect_error("{,}", "expected a string key");
  expect_error("'x'", "unexpected '''");
  expect_error("\xef\xbb\xbf{}", "unexpected byte 0xEF");
}

static void depth_limit_is_exact(void) {
  char buf[2 * HL_JSON_MAX_DEPTH + 1];
  for (int i = 0; i < HL_JSON_MAX_DEPTH; i++) {
    buf[i] = '[';
    buf[HL_JSON_MAX_DEPTH + i] = ']';
  }
  buf[2 * HL_JSON_MAX_DEPTH] = '\0';
  cJSON *v = NULL;
  CHECK_INT(hl_json_parse(buf, (size_t)-1, &v), HL_OK);
  cJSON_Delete(v);
  /* One more level is refused, at the bracket that opens it. */
  char deeper[2 * (HL_JSON_MAX_DEPTH + 1) + 1];
  for (int i = 0; i <= HL_JSON_MAX_DEPTH; i++) {
    deeper[i] = '[';
    deeper[HL_JSON_MAX_DEPTH + 1 + i] = ']';
  }
  deeper[2 * (HL_JSON_MAX_DEPTH + 1)] = '\0';
  CHECK_INT(hl_json_parse(deeper, (size_t)-1, &v), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "byte 512: nesting deeper than 512 levels");
}

static void equality_ignores_key_order(void) {
  cJSON *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  REQUIRE(hl_json_parse("{\"x\":1,\"y\":[true,null,\"s\"]}", (size_t)-1, &a) == HL_OK);
  REQUIRE(hl_json_parse("{\"y\":[true,null,\"s\"],\"x\":1.0}", (size_t)-1, &b) == HL_OK);
  REQUIRE(hl_json_parse("{\"y\":[null,true,\"s\"],\"x\":1}", (size_t)-1, &c) == HL_OK);
  REQUIRE(hl_json_parse("{\"x\":1,\"y\":[true,null,\"s\"],\"z\":0}", (size_t)-1, &d) == HL_OK);
  CHECK(hl_json_equal(a, b));
  CHECK(!hl_json_equal(a, c)); /* array order matters */
  CHECK(!hl_json_equal(a, d));
  CHECK(!hl_json_equal(d, a));
  CHECK(hl_json_equal(NULL, NULL));
  CHECK(!hl_json_equal(a, NULL));
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
  cJSON_Delete(d);
}

static void equality_is_reflexive_with_duplicate_keys(void) {
  /* JSON allows duplicate keys; two parses of the same text must compare
   * equal (schema const/enum and the argument enricher rely on it), and
   * members with the same key pair up in order. */
  const char *texts[] = {
      "{\"a\":1,\"a\":2}",
      "{\"a\":{\"k\":1,\"k\":[1]},\"b\":0,\"a\":null}",
      "[{\"x\":\"1\",\"x\":\"2\",\"x\":\"3\"}]",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    cJSON *a = NULL, *b = NULL;
    REQUIRE(hl_json_parse(texts[i], (size_t)-1, &a) == HL_OK);
    REQUIRE(hl_json_parse(texts[i], (size_t)-1, &b) == HL_OK);
    if (!hl_json_equal(a, b)) fprintf(stderr, "not equal to itself: %s\n", texts[i]);
    CHECK(hl_json_equal(a, b));
    cJSON_Delete(a);
    cJSON_Delete(b);
  }
  cJSON *a = NULL, *b = NULL, *c = NULL;
  REQUIRE(hl_json_parse("{\"a\":1,\"a\":2}", (size_t)-1, &a) == HL_OK);
  REQUIRE(hl_json_parse("{\"a\":1,\"b\":2}", (size_t)-1, &b) == HL_OK);
  REQUIRE(hl_json_parse("{\"a\":2,\"a\":1}", (size_t)-1, &c) == HL_OK);
  CHECK(!hl_json_equal(a, b)); /* same size, other keys */
  CHECK(!hl_json_equal(b, a));
  CHECK(!hl_json_equal(a, c)); /* duplicates pair up in order */
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
}

static void clone_is_deep_and_independent(void) {
  cJSON *a = NULL;
  REQUIRE(hl_json_parse("{\"k\":{\"n\":[1,2,{\"z\":\"w\"}]}}", (size_t)-1, &a) == HL_OK);
  cJSON *b = hl_json_clone(a);
  REQUIRE(b != NULL);
  CHECK(hl_json_equal(a, b));
  CHECK(b->string == NULL);
  cJSON_AddNumberToObject(cJSON_GetObjectItem(b, "k"), "extra", 1);
  CHECK(!hl_json_equal(a, b));
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "k"), "extra") == NULL);
  /* Cloning a member gives a free-standing value without its key. */
  cJSON *m = hl_json_clone(cJSON_GetObjectItem(a, "k"));
  REQUIRE(m != NULL);
  CHECK(m->string == NULL);
  cJSON_Delete(m);
  cJSON_Delete(a);
  cJSON_Delete(b);
  CHECK(hl_json_clone(NULL) == NULL);
}

static void utf8_validation(void) {
  CHECK(hl_utf8_valid("", 0));
  CHECK(hl_utf8_valid("ascii", 5));
  CHECK(hl_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
  CHECK(!hl_utf8_valid("\xc0\x80", 2));         /* overlong NUL */
  CHECK(!hl_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
  CHECK(!hl_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  CHECK(!hl_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
  CHECK(!hl_utf8_valid("\xc3", 1));             /* truncated */
  CHECK(!hl_utf8_valid("\x80", 1));             /* lone continuation */
  CHECK(!hl_utf8_valid("\xff", 1));
  CHECK(hl_utf8_valid("a\0b", 3));              /* NUL is a valid code point */
}

static void invalid_utf8_in_strings_is_refused(void) {
  expect_error("\"ok \xff\"", "byte 4: invalid UTF-8 in string");
  expect_error("\"\xc3\"", "byte 1: invalid UTF-8 in string");
  expect_error("\"\xed\xa0\x80\"", "invalid UTF-8");
  expect_error("{\"k\xc0\xaf\":1}", "invalid UTF-8");
}

static void type_names(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("[1,1.5,\"s\",true,null,{},[],3.0]", (size_t)-1, &v) == HL_OK);
  const char *want[] = {"integer", "number", "string", "boolean", "null", "object", "array", "integer"};
  int i = 0;
  for (cJSON *e = v->child; e; e = e->next, i++) CHECK_STR(hl_json_type_name(e), want[i]);
  cJSON_Delete(v);
}

/* cJSON's allocator, failing from the n-th call on (hl_json_add's
 * out-of-memory path: cJSON copies the key with it). */
static int fail_after = -1;
static void *failing_malloc(size_t n) {
  if (fail_after == 0) return NULL;
  if (fail_after > 0) fail_after--;
  return malloc(n);
}

/* The item is the callee's whatever happens: ASan's leak check fails the
 * test if one of these paths kept it. */
static void add_takes_the_item_in_every_case(void) {
  cJSON *o = cJSON_CreateObject();
  REQUIRE(o != NULL);
  CHECK(hl_json_add(o, "a", cJSON_CreateNumber(1)));
  CHECK(hl_json_get_number(o, "a", 0) == 1);
  CHECK(!hl_json_add(o, "b", NULL));
  CHECK(!hl_json_add(NULL, "c", cJSON_CreateString("freed")));
  cJSON *item = cJSON_CreateString("also freed");
  REQUIRE(item != NULL);
  cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = failing_malloc, .free_fn = free});
  fail_after = 0; /* the key's copy fails */
  bool added = hl_json_add(o, "d", item);
  cJSON_InitHooks(NULL);
  fail_after = -1;
  CHECK(!added);
  CHECK(hl_json_get(o, "d") == NULL);
  CHECK_INT(cJSON_GetArraySize(o), 1);
  cJSON_Delete(o);
}

static void accessors_fall_back(void) {
  cJSON *v = NULL;
  REQUIRE(hl_json_parse("{\"s\":1,\"n\":\"x\",\"b\":0}", (size_t)-1, &v) == HL_OK);
  CHECK(hl_json_get_string(v, "s") == NULL);
  CHECK(hl_json_get_number(v, "n", 7) == 7);
  CHECK(hl_json_get_bool(v, "b", true) == true);
  CHECK(hl_json_get(v, "missing") == NULL);
  CHECK(hl_json_get(v->child, "s") == NULL); /* not an object */
  CHECK(hl_json_get(NULL, "s") == NULL);
  CHECK(hl_json_get(v, NULL) == NULL);
  CHECK(hl_json_get_number(NULL, "x", 4) == 4);
  cJSON_Delete(v);
}

/* Printing keeps every bit of a number: cJSON's printer stops at 15
 * digits when the text reads back within an epsilon, which changed
 * 0.30000000000000004 into 0.3 and 2^53 - 1 into 9007199254740990 (found
 * by fuzz_json). */
static void numbers_print_exactly(void) {
  static const char *texts[] = {"1234567890123457", "1732950123456789", "0.30000000000000004",
                                "777777777777777777777", "-9007199254740991", "5e-324",
                                "1.7976931348623157e308", "0.1", "[2.5,1e+21,-0.5]", "-0"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    cJSON *a = NULL, *b = NULL;
    char *printed = NULL;
    REQUIRE(hl_json_parse(texts[i], (size_t)-1, &a) == HL_OK);
    REQUIRE(hl_json_print(a, &printed) == HL_OK);
    REQUIRE(hl_json_parse(printed, (size_t)-1, &b) == HL_OK);
    if (!hl_json_equal(a, b)) fprintf(stderr, "%s printed as %s\n", texts[i], printed);
    CHECK(hl_json_equal(a, b));
    CHECK(signbit(a->valuedouble) == signbit(b->valuedouble));
    hl_free(printed);
    cJSON_Delete(a);
    cJSON_Delete(b);
  }
  /* Short numbers print as before (as cJSON does). */
  cJSON *v = NULL;
  char *printed = NULL;
  REQUIRE(hl_json_parse("{\"a\":[0.1,2.5,-3,1e+21,\"x\\n\\u0001\"]}", (size_t)-1, &v) == HL_OK);
  REQUIRE(hl_json_print(v, &printed) == HL_OK);
  CHECK_STR(printed, "{\"a\":[0.1,2.5,-3,1e+21,\"x\\n\\u0001\"]}");
  hl_free(printed);
  cJSON_Delete(v);
}

/* A provider's answer is parsed into an arena (providers/llm.c): the same
 * checks, messages and tree as hl_json_parse(), for valid and invalid
 * texts, integers on both sides of the fast path (15 digits, then
 * strtod), strings with and without escapes, and plain strings of 15,
 * 16 and 17 bytes with and without 16 bytes of text after their start
 * (a short string is copied into its 16-byte arena slot as one fixed
 * move only when the text has those 16 bytes to read). */
static void arena_parse_matches_the_heap_parse(void) {
  const char *docs[] = {
      ("{\"id\":\"chatcmpl-1\",\"created\":1700000000,\"choices\":[{\"index\":0,\"message\":"
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"function\":"
      "{\"name\":\"f\",\"arguments\":\"{\\\"k\\\":\\\"v\\\"}\"}}]}}],"
      "\"usage\":{\"prompt_tokens\":20}}"),
      ("[0,-0,7,-7,999999999999999,-999999999999999,1000000000000000,-1234567890123456,"
      "12345678901234567890,2147483647,2147483648,-2147483649,0.5,1e2,-1E-2,3.0]"),
      "\"plain text of some length, more than eight bytes\"",
      "\"h\\u00e9llo \\\"q\\\" \\\\ \\n\\t \xc3\xa9\"",
      "{\"a\":[true,false,null,{},[]],\"b\":{\"c\":{\"d\":\"e\"}}}",
      ("{\"k15\":\"123456789012345\",\"k16\":\"1234567890123456\",\"k17\":\"12345678901234567\","
      "\"\":\"\",\"end\":\"123456789012345\"}"),
      "[\"123456789012345\"]", "\"ab\"", "[\"\",\"x\"]",
      "{\"a\":1,}", "[1,2", "\"unterminated", "\"bad \x01 control\"", "01", "-", "1.e5",
      "{\"k\" 1}", "[\"\\u0000\"]", "\"\xff\"", "{} x",
  };
  for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
    cJSON *heap = NULL, *arena_tree = NULL;
    hl_status hs = hl_json_parse(docs[i], (size_t)-1, &heap);
    char heap_err[256];
    snprintf(heap_err, sizeof heap_err, "%s", hs == HL_OK ? "" : hl_last_error());
    hl__json_arena arena = {0};
    hl_status as = hl__json_parse_arena(docs[i], strlen(docs[i]), &arena, &arena_tree);
    CHECK_INT(as, hs);
    if (hs != HL_OK) {
      CHECK_STR(hl_last_error(), heap_err);
      CHECK(arena_tree == NULL);
    } else {
      CHECK(hl_json_equal(heap, arena_tree));
      char *a = NULL, *b = NULL;
      REQUIRE(hl_json_print(heap, &a) == HL_OK && hl_json_print(arena_tree, &b) == HL_OK);
      CHECK_STR(b, a);
      hl_free(a);
      hl_free(b);
    }
    hl__json_arena_free(&arena);
    cJSON_Delete(heap);
  }
  /* Integers through the fast path keep what strtod gives, -0 its sign. */
  const char *ints[] = {"0", "-0", "1", "-1", "123456789012345", "-123456789012345", "999999999999999"};
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    cJSON *v = NULL;
    REQUIRE(hl_json_parse(ints[i], (size_t)-1, &v) == HL_OK);
    double want = strtod(ints[i], NULL);
    CHECK(v->valuedouble == want && signbit(v->valuedouble) == signbit(want));
    cJSON_Delete(v);
  }
}

int main(void) {
  RUN(numbers_print_exactly);
  RUN(parses_and_prints_round_trip);
  RUN(arena_parse_matches_the_heap_parse);
  RUN(strings_at_every_block_position);
  RUN(two_specials_print_as_cjson);
  RUN(scalars_at_top_level);
  RUN(surrogate_pairs_decode_to_utf8);
  RUN(length_bounds_the_text);
  RUN(errors_name_the_byte_and_reason);
  RUN(depth_limit_is_exact);
  RUN(equality_ignores_key_order);
  RUN(equality_is_reflexive_with_duplicate_keys);
  RUN(clone_is_deep_and_independent);
  RUN(utf8_validation);
  RUN(invalid_utf8_in_strings_is_refused);
  RUN(type_names);
  RUN(accessors_fall_back);
  RUN(add_takes_the_item_in_every_case);
  return CHECK_EXIT();
}
