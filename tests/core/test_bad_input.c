/* test_bad_input.c - hostile input to every public function of the core:
 * malformed JSON, 100 000-deep nesting, 50 MB strings, NUL bytes, invalid
 * UTF-8, wrong types and NULL pointers. Each gets a status and a message;
 * nothing crashes and nothing leaks (the sanitized run checks that). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hookline/json.h"
#include "hookline/model.h"
#include "hookline/tool.h"

#define DEEP 100000
#define BIG (50u * 1024u * 1024u)

static cJSON *parse(const char *text) {
  cJSON *v = NULL;
  if (hl_json_parse(text, (size_t)-1, &v) != HL_OK) fprintf(stderr, "parse: %s\n", hl_last_error());
  return v;
}

/* Expect HL_ERR_JSON from hl_json_parse(text, len) with `needle` in the message. */
static void expect_json_error(const char *text, size_t len, const char *needle, int line) {
  cJSON *v = (cJSON *)1;
  hl_status st = hl_json_parse(text, len, &v);
  if (st != HL_ERR_JSON || v != NULL || !strstr(hl_last_error(), needle)) {
    fprintf(stderr, "line %d: expected JSON error \"%s\", got %s \"%s\"\n", line, needle,
            hl_status_name(st), hl_last_error());
    check_failures_++;
  }
  if (st == HL_OK) cJSON_Delete(v);
}
#define JSON_ERROR(text, len, needle) expect_json_error(text, len, needle, __LINE__)

/* ---- nesting ------------------------------------------------------- */

static char *repeat(const char *unit, size_t times, const char *tail) {
  size_t u = strlen(unit), t = strlen(tail);
  char *s = malloc(u * times + t + 1);
  if (!s) return NULL;
  for (size_t i = 0; i < times; i++) memcpy(s + i * u, unit, u);
  memcpy(s + u * times, tail, t + 1);
  return s;
}

static void deep_arrays_are_refused(void) {
  char *s = repeat("[", DEEP, "");
  REQUIRE(s != NULL);
  JSON_ERROR(s, (size_t)-1, "invalid JSON at byte 512: nesting deeper than 512 levels");
  free(s);
  /* Balanced, so only the depth is wrong. */
  s = malloc(2 * DEEP + 1);
  REQUIRE(s != NULL);
  memset(s, '[', DEEP);
  memset(s + DEEP, ']', DEEP);
  s[2 * DEEP] = '\0';
  JSON_ERROR(s, 2 * DEEP, "nesting deeper than 512 levels");
  free(s);
}

static void deep_objects_and_mixed_nesting_are_refused(void) {
  char *s = repeat("{\"a\":", DEEP, "1");
  REQUIRE(s != NULL);
  JSON_ERROR(s, (size_t)-1, "nesting deeper than 512 levels");
  free(s);
  s = repeat("[{\"k\":", DEEP / 2, "null");
  REQUIRE(s != NULL);
  JSON_ERROR(s, (size_t)-1, "nesting deeper than 512 levels");
  free(s);
  s = repeat("]", DEEP, "");
  REQUIRE(s != NULL);
  JSON_ERROR(s, (size_t)-1, "byte 0: unexpected ']'");
  free(s);
}

/* A 100 000-deep tree built through the cJSON API (no parser involved);
 * read as a schema it is {"items":{"items":...}}. */
static cJSON **build_deep_chain(void) {
  cJSON **nodes = malloc(DEEP * sizeof *nodes);
  if (!nodes) return NULL;
  for (size_t i = 0; i < DEEP; i++) {
    nodes[i] = cJSON_CreateObject();
    if (i) cJSON_AddItemToObject(nodes[i - 1], "items", nodes[i]);
  }
  return nodes;
}

/* cJSON_Delete recurses, so take the chain apart from the bottom. */
static void free_deep_chain(cJSON **nodes) {
  for (size_t i = DEEP - 1; i > 0; i--) {
    nodes[i - 1]->child = NULL;
    cJSON_Delete(nodes[i]);
  }
  cJSON_Delete(nodes[0]);
  free(nodes);
}

static void deep_trees_from_the_api_are_refused(void) {
  cJSON **nodes = build_deep_chain();
  REQUIRE(nodes != NULL);
  cJSON *deep = nodes[0];
  char *out = (char *)1;
  CHECK_INT(hl_json_print(deep, &out), HL_ERR_TOO_LARGE);
  CHECK(out == NULL);
  CHECK_CONTAINS(hl_last_error(), "nesting deeper than 512");
  CHECK(hl_json_clone(deep) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_TOO_LARGE);
  CHECK(!hl_json_equal(deep, nodes[1]));
  CHECK_INT(hl_schema_check(deep), HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(), "nested deeper than 512 levels");
  cJSON *arr = parse("[[[[[[1]]]]]]");
  CHECK_INT(hl_schema_validate(deep, arr), HL_OK); /* descends only as deep as the value */
  cJSON_Delete(arr);
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  REQUIRE(m != NULL);
  CHECK_INT(hl_message_add_tool_call(m, "c1", "t", deep), HL_ERR_TOO_LARGE);
  CHECK_INT(m->n_parts, 0);
  hl_message_free(m);
  hl_request *r = hl_request_new();
  REQUIRE(r != NULL);
  CHECK_INT(hl_request_add_tool(r, "t", "d", deep), HL_ERR_TOO_LARGE);
  CHECK_INT(hl_request_set_response_schema(r, "f", deep), HL_ERR_TOO_LARGE);
  CHECK_INT(r->n_tools, 0);
  hl_request_free(r);
  free_deep_chain(nodes);
}

/* ---- big strings --------------------------------------------------- */

static char *big_json_string(char fill, size_t n) {
  char *s = malloc(n + 3);
  if (!s) return NULL;
  s[0] = '"';
  memset(s + 1, fill, n);
  s[n + 1] = '"';
  s[n + 2] = '\0';
  return s;
}

static hl_status echo_len(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_CreateNumber((double)strlen(hl_json_get_string(args, "text")));
  return HL_OK;
}

static void fifty_megabyte_strings(void) {
  char *text = big_json_string('x', BIG);
  REQUIRE(text != NULL);
  cJSON *v = NULL;
  REQUIRE(hl_json_parse(text, BIG + 2, &v) == HL_OK);
  CHECK_INT(strlen(v->valuestring), BIG);
  /* As a tool argument: accepted by a plain string parameter ... */
  hl_tool *t = hl_tool_new("len", "d", echo_len, NULL);
  REQUIRE(t != NULL);
  hl_tool_param(t, "text", "string", NULL, true);
  cJSON *args = cJSON_CreateObject();
  cJSON_AddItemReferenceToObject(args, "text", v);
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_OK);
  CHECK(cJSON_IsNumber(res) && res->valuedouble == (double)BIG);
  cJSON_Delete(res);
  /* ... refused by maxLength and by enum with a short message. */
  REQUIRE(hl_tool_set_schema(t, "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\","
                                "\"maxLength\":100}}}") == HL_OK);
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$.text: string of 52428800 characters is longer than maxLength 100");
  REQUIRE(hl_tool_set_schema(t, "{\"type\":\"object\",\"properties\":{\"text\":{\"enum\":[\"a\"]}}}") ==
          HL_OK);
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "$.text: \"xxxx");
  CHECK(strlen(hl_last_error()) < 1024);
  cJSON_Delete(args);
  hl_tool_unref(t);
  /* As a name: refused without copying it into the message. */
  CHECK(hl_tool_new(v->valuestring, "d", echo_len, NULL) == NULL);
  CHECK_STR(hl_last_error(), "invalid tool name: longer than 64 characters");
  hl_role role;
  CHECK_INT(hl_role_parse(v->valuestring, &role), HL_ERR_INVALID);
  CHECK(strlen(hl_last_error()) < 1024);
  /* As message text: kept whole and round-tripped. */
  hl_message *m = hl_message_new_text(HL_ROLE_USER, v->valuestring);
  REQUIRE(m != NULL);
  cJSON *mj = hl_message_to_json(m);
  hl_message *back = NULL;
  CHECK_INT(hl_message_from_json(mj, &back), HL_OK);
  CHECK(back && strlen(back->parts[0].text) == BIG);
  hl_message_free(back);
  cJSON_Delete(mj);
  hl_message_free(m);
  cJSON_Delete(v);
  /* Invalid UTF-8 at the very end of 50 MB is found, with its offset. */
  text[BIG] = '\xff';
  JSON_ERROR(text, BIG + 2, "invalid JSON at byte 52428800: invalid UTF-8 in string");
  /* Unterminated 50 MB string. */
  text[BIG + 1] = 'x';
  JSON_ERROR(text, BIG + 2, "byte 0: unterminated string");
  free(text);
  /* 50 MB of whitespace and then nothing. */
  char *ws = malloc(BIG + 1);
  REQUIRE(ws != NULL);
  memset(ws, ' ', BIG);
  ws[BIG] = '\0';
  JSON_ERROR(ws, BIG, "byte 52428800: unexpected end of input");
  free(ws);
}

/* ---- NUL bytes and UTF-8 ------------------------------------------- */

static void nul_bytes_inside_the_length(void) {
  JSON_ERROR("{\"a\":\0}", 7, "invalid JSON at byte 5: NUL byte, expected a JSON value");
  JSON_ERROR("\"ab\0cd\"", 7, "invalid JSON at byte 3: NUL byte in string");
  JSON_ERROR("[1]\0", 4, "invalid JSON at byte 3: trailing characters");
  JSON_ERROR("\0", 1, "byte 0: NUL byte");
  JSON_ERROR("{\"k\0\":1}", 7, "byte 3: NUL byte in string");
  /* With len = -1 the text ends at the first NUL. */
  cJSON *v = NULL;
  CHECK_INT(hl_json_parse("[1]\0garbage", (size_t)-1, &v), HL_OK);
  cJSON_Delete(v);
  JSON_ERROR("\"\\u0000\"", (size_t)-1, "\\u0000 in string is not supported");
}

static void invalid_utf8_everywhere(void) {
  JSON_ERROR("\"\xc0\xaf\"", (size_t)-1, "invalid UTF-8 in string");         /* overlong '/' */
  JSON_ERROR("\"\xed\xb0\x80\"", (size_t)-1, "invalid UTF-8 in string");     /* surrogate */
  JSON_ERROR("\"\xf8\x88\x80\x80\x80\"", (size_t)-1, "invalid UTF-8 in string");
  JSON_ERROR("\"\xe2\x82\"", (size_t)-1, "invalid UTF-8 in string");         /* truncated */
  JSON_ERROR("\"\xc3\xa9\x80\"", (size_t)-1, "invalid UTF-8 in string");     /* stray continuation */
  JSON_ERROR("{\"\xff\":1}", (size_t)-1, "byte 2: invalid UTF-8 in string"); /* in a key */
  JSON_ERROR("[\xc3\xa9]", (size_t)-1, "byte 1: unexpected byte 0xC3");      /* outside strings */
  /* Tool names and parameter names must be clean too. */
  CHECK(hl_tool_new("bad\xff", "d", echo_len, NULL) == NULL);
  CHECK_CONTAINS(hl_last_error(), "invalid tool name \"bad\xff\"");
  hl_tool *t = hl_tool_new("ok", "d", echo_len, NULL);
  REQUIRE(t != NULL);
  CHECK_INT(hl_tool_param(t, "p\xff", "string", NULL, false), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "non-empty UTF-8");
  hl_tool_unref(t);
}

static void malformed_json_corpus(void) {
  const char *bad[] = {
      "{", "}", "[", "]", "{]", "[}", "{\"a\"}", "{\"a\":}", "{\"a\"::1}", "{1:2}", "[1 2]",
      "[,1]", "[1,,2]", "\"", "\"\\\"", "\"\\u\"", "\"\\uZZZZ\"", "+1", ".5", "1.e5", "0x10",
      "NaN", "Infinity", "-Infinity", "True", "nulll", "[true false]", "{\"a\":1}}", "/* c */1",
      "[1,]", "{\"a\":1,}", "\"\x01\"", "\xef\xbb\xbf[]", "[\"a\" \"b\"]", "{'a':1}", "[-]",
      "--1", "1e", "1E+", "00", "-01", "[1]]", "{\"a\":[}", "\"tab\there\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *v = (cJSON *)1;
    hl_status st = hl_json_parse(bad[i], (size_t)-1, &v);
    if (st != HL_ERR_JSON || v != NULL || strncmp(hl_last_error(), "invalid JSON at byte ", 21) != 0) {
      fprintf(stderr, "bad[%zu] = %s: got %s \"%s\"\n", i, bad[i], hl_status_name(st), hl_last_error());
      check_failures_++;
      if (st == HL_OK) cJSON_Delete(v);
    }
  }
}

/* Random mutations of a valid document: each parse either succeeds or
 * reports a positioned error; whatever parses goes through every decoder. */
static void mutation_fuzz(void) {
  const char *seed =
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\",\"id\":\"c\",\"name\":\"w\","
      "\"arguments\":{\"city\":\"P\\u00e9ris\",\"n\":[1,2.5e3,-0,true,null]}},{\"type\":\"text\","
      "\"text\":\"hi\"}],\"message\":{\"role\":\"user\",\"content\":[]},\"type\":\"object\"}";
  size_t n = strlen(seed);
  char buf[512];
  uint32_t rng = 12345;
  int parsed = 0;
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(buf, seed, n);
    size_t len = n;
    int edits = 1 + (int)((rng >> 3) % 4);
    for (int e = 0; e < edits && len > 1; e++) {
      rng = rng * 1664525u + 1013904223u;
      size_t pos = (rng >> 8) % len;
      switch ((rng >> 4) % 3) {
      case 0: buf[pos] = (char)(rng >> 24); break;                       /* replace */
      case 1: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break; /* delete */
      default: len = pos + 1; break;                                     /* truncate */
      }
    }
    cJSON *v = NULL;
    hl_status st = hl_json_parse(buf, len, &v);
    if (st == HL_OK) {
      parsed++;
      hl_message *m = NULL;
      hl_request *r = NULL;
      hl_response *resp = NULL;
      hl_messages list = {0};
      if (hl_message_from_json(v, &m) == HL_OK) hl_message_free(m);
      if (hl_request_from_json(v, &r) == HL_OK) hl_request_free(r);
      if (hl_response_from_json(v, &resp) == HL_OK) hl_response_free(resp);
      hl_messages_from_json(hl_json_get(v, "content"), &list);
      hl_messages_clear(&list);
      if (hl_schema_check(v) == HL_OK) hl_schema_validate(v, v);
      char *s = NULL;
      if (hl_json_print(v, &s) == HL_OK) hl_free(s);
      cJSON_Delete(v);
    } else if (st != HL_ERR_JSON || strncmp(hl_last_error(), "invalid JSON at byte ", 21) != 0) {
      fprintf(stderr, "fuzz %d: %s \"%s\"\n", iter, hl_status_name(st), hl_last_error());
      check_failures_++;
      break;
    }
  }
  CHECK(parsed > 0); /* some mutations stay valid JSON, exercising the decoders */
}

/* ---- wrong types --------------------------------------------------- */

static void wrong_types_in_documents(void) {
  cJSON *j = parse("{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":[1]}]}");
  hl_message *m = NULL;
  CHECK_INT(hl_message_from_json(j, &m), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "message.content[0].text: expected string, got array");
  cJSON_Delete(j);
  j = parse("\"just a string\"");
  hl_request *r = NULL;
  CHECK_INT(hl_request_from_json(j, &r), HL_ERR_JSON);
  CHECK_STR(hl_last_error(), "request: expected object, got string");
  hl_messages list = {0};
  CHECK_INT(hl_messages_from_json(j, &list), HL_ERR_JSON);
  CHECK_STR(hl_last_error(), "messages: expected array, got string");
  cJSON *schema = parse("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},"
                        "\"b\":{\"type\":\"boolean\"}}}");
  cJSON *args = parse("{\"n\":true}");
  CHECK_INT(hl_schema_validate(schema, args), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$.n: expected integer, got boolean");
  cJSON_Delete(args);
  args = parse("{\"b\":\"true\"}");
  CHECK_INT(hl_schema_validate(schema, args), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$.b: expected boolean, got string");
  cJSON_Delete(args);
  cJSON_Delete(schema);
  cJSON_Delete(j);
}

/* ---- NULL pointers ------------------------------------------------- */

/* Expect status `want` and a non-empty message from expression `call`. */
#define NULL_STATUS(call, want)                                                 \
  do {                                                                          \
    hl_clear_error();                                                           \
    hl_status st_ = (call);                                                     \
    CHECK_INT(st_, want);                                                       \
    CHECK(hl_last_error()[0] != '\0');                                          \
  } while (0)

static void null_pointers_json_and_status(void) {
  cJSON *v = NULL;
  char *s = NULL;
  NULL_STATUS(hl_json_parse(NULL, 5, &v), HL_ERR_INVALID);
  NULL_STATUS(hl_json_parse("1", 1, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_json_print(NULL, &s), HL_ERR_INVALID);
  CHECK(s == NULL);
  cJSON *one = parse("1");
  NULL_STATUS(hl_json_print(one, NULL), HL_ERR_INVALID);
  CHECK(hl_json_clone(NULL) == NULL);
  CHECK(!hl_json_equal(one, NULL));
  CHECK(!hl_utf8_valid(NULL, 5));
  CHECK(hl_utf8_valid(NULL, 0));
  CHECK_STR(hl_json_type_name(NULL), "missing");
  CHECK(hl_json_get_string(NULL, NULL) == NULL);
  CHECK(hl_json_get_bool(NULL, NULL, true) == true);
  cJSON_Delete(one);
  const char *no_format = NULL;
  NULL_STATUS(hl_fail(HL_ERR_IO, no_format, 0), HL_ERR_IO);
  CHECK_STR(hl_last_error(), "I/O error");
  hl_free(NULL);
}

static void null_pointers_model(void) {
  hl_message *m = hl_message_new(HL_ROLE_USER);
  REQUIRE(m != NULL);
  hl_role role;
  NULL_STATUS(hl_role_parse(NULL, &role), HL_ERR_INVALID);
  NULL_STATUS(hl_role_parse("user", NULL), HL_ERR_INVALID);
  CHECK_STR(hl_role_name((hl_role)42), "unknown");
  CHECK(hl_message_new((hl_role)42) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(hl_message_new_text(HL_ROLE_USER, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  hl_message_free(NULL);
  CHECK(hl_message_clone(NULL) == NULL);
  NULL_STATUS(hl_message_add_text(NULL, "x"), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_text(m, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_tool_call(NULL, "i", "n", NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_tool_call(m, NULL, "n", NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_tool_call(m, "i", NULL, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_tool_result(NULL, "i", "n", "c", false), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_tool_result(m, NULL, "n", "c", false), HL_ERR_INVALID);
  NULL_STATUS(hl_message_add_tool_result(m, "i", "n", NULL, false), HL_ERR_INVALID);
  CHECK_INT(m->n_parts, 0);
  CHECK(hl_message_text(NULL) == NULL);
  CHECK_INT(hl_message_tool_call_count(NULL), 0);
  CHECK(hl_message_to_json(NULL) == NULL);
  hl_message *out = NULL;
  NULL_STATUS(hl_message_from_json(NULL, &out), HL_ERR_INVALID);
  cJSON *obj = parse("{}");
  NULL_STATUS(hl_message_from_json(obj, NULL), HL_ERR_INVALID);
  hl_messages list = {0};
  NULL_STATUS(hl_messages_push(NULL, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_messages_push(&list, NULL), HL_ERR_INVALID);
  hl_messages_clear(NULL);
  NULL_STATUS(hl_messages_copy(NULL, &list), HL_ERR_INVALID);
  NULL_STATUS(hl_messages_copy(&list, NULL), HL_ERR_INVALID);
  CHECK(hl_messages_to_json(NULL) == NULL);
  NULL_STATUS(hl_messages_from_json(NULL, &list), HL_ERR_INVALID);
  NULL_STATUS(hl_messages_from_json(obj, NULL), HL_ERR_INVALID);
  hl_message_free(m);

  hl_request *r = hl_request_new();
  REQUIRE(r != NULL);
  hl_request_free(NULL);
  CHECK(hl_request_clone(NULL) == NULL);
  NULL_STATUS(hl_request_set_model(NULL, "m"), HL_ERR_INVALID);
  NULL_STATUS(hl_request_add_tool(NULL, "t", "d", NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_request_add_tool(r, NULL, "d", NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_request_add_stop(NULL, "s"), HL_ERR_INVALID);
  NULL_STATUS(hl_request_add_stop(r, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_request_set_response_schema(NULL, "n", obj), HL_ERR_INVALID);
  CHECK(hl_request_to_json(NULL) == NULL);
  hl_request *rout = NULL;
  NULL_STATUS(hl_request_from_json(NULL, &rout), HL_ERR_INVALID);
  NULL_STATUS(hl_request_from_json(obj, NULL), HL_ERR_INVALID);
  hl_request_free(r);

  CHECK_STR(hl_finish_reason_name((hl_finish_reason)99), "unknown");
  hl_usage u = {0};
  hl_usage_add(NULL, &u);
  hl_usage_add(&u, NULL);
  CHECK(hl_response_new_text(NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  hl_response_free(NULL);
  CHECK(hl_response_clone(NULL) == NULL);
  CHECK(hl_response_to_json(NULL) == NULL);
  hl_response *resp = NULL;
  NULL_STATUS(hl_response_from_json(NULL, &resp), HL_ERR_INVALID);
  NULL_STATUS(hl_response_from_json(obj, NULL), HL_ERR_INVALID);
  cJSON_Delete(obj);
}

static void null_pointers_tools(void) {
  cJSON *obj = parse("{}");
  NULL_STATUS(hl_schema_check(NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_schema_validate(NULL, obj), HL_ERR_INVALID);
  NULL_STATUS(hl_schema_validate(obj, NULL), HL_ERR_INVALID);
  CHECK(hl_tool_ref(NULL) == NULL);
  hl_tool_unref(NULL);
  hl_tool_set_free_fn(NULL, NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  hl_tool_set_timeout_ms(NULL, 5);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  hl_tool *t = hl_tool_new("t", "d", echo_len, NULL);
  REQUIRE(t != NULL);
  NULL_STATUS(hl_tool_param(NULL, "p", "string", "d", false), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_param(t, NULL, "string", "d", false), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_param(t, "p", NULL, "d", false), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_param_enum(t, "p", "d", false, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_param_enum(NULL, "p", "d", false, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_param_schema(t, "p", NULL, false), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_param_schema(NULL, "p", obj, false), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_set_schema(NULL, "{}"), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_set_schema(t, NULL), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_set_strict(NULL, true), HL_ERR_INVALID);
  CHECK(hl_tool_name(NULL) == NULL);
  CHECK(hl_tool_description(NULL) == NULL);
  CHECK(hl_tool_schema(NULL) == NULL);
  CHECK_INT(hl_tool_timeout_ms(NULL), 0);
  CHECK(hl_tool_user_data(NULL) == NULL);
  cJSON *res = NULL;
  NULL_STATUS(hl_tool_invoke(NULL, NULL, obj, &res), HL_ERR_INVALID);
  NULL_STATUS(hl_tool_invoke(t, NULL, obj, NULL), HL_ERR_INVALID);

  hl_tools *reg = hl_tools_new();
  REQUIRE(reg != NULL);
  hl_tools_free(NULL);
  NULL_STATUS(hl_tools_add(NULL, t), HL_ERR_INVALID);
  NULL_STATUS(hl_tools_add(reg, NULL), HL_ERR_INVALID);
  CHECK(hl_tools_find(NULL, "t") == NULL);
  CHECK(hl_tools_find(reg, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK_INT(hl_tools_count(NULL), 0);
  CHECK(hl_tools_at(NULL, 0) == NULL);
  NULL_STATUS(hl_tools_remove(NULL, "t"), HL_ERR_INVALID);
  NULL_STATUS(hl_tools_remove(reg, NULL), HL_ERR_INVALID);
  hl_tools_free(reg);
  hl_tool_unref(t);
  cJSON_Delete(obj);
}

int main(void) {
  RUN(deep_arrays_are_refused);
  RUN(deep_objects_and_mixed_nesting_are_refused);
  RUN(deep_trees_from_the_api_are_refused);
  RUN(fifty_megabyte_strings);
  RUN(nul_bytes_inside_the_length);
  RUN(invalid_utf8_everywhere);
  RUN(malformed_json_corpus);
  RUN(mutation_fuzz);
  RUN(wrong_types_in_documents);
  RUN(null_pointers_json_and_status);
  RUN(null_pointers_model);
  RUN(null_pointers_tools);
  return CHECK_EXIT();
}
