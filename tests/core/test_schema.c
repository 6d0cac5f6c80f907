/* test_schema.c - every rule of the supported JSON Schema subset, with a
 * passing and a failing value, and every declaration-time check. */
#include <string.h>

#include "check.h"
#include "hookline/json.h"
#include "hookline/tool.h"
#include "core/schema_internal.h"

static cJSON *parse(const char *text) {
  cJSON *v = NULL;
  if (hl_json_parse(text, (size_t)-1, &v) != HL_OK) fprintf(stderr, "parse: %s\n", hl_last_error());
  return v;
}

/* Validate `value` against `schema`; `msg` NULL means it must pass,
 * otherwise the exact message of the failure. */
static void expect(const char *schema, const char *value, const char *msg, int line) {
  cJSON *s = parse(schema), *v = parse(value);
  if (!s || !v) {
    fprintf(stderr, "line %d: fixture does not parse\n", line);
    check_failures_++;
  } else {
    if (hl_schema_check(s) != HL_OK) {
      fprintf(stderr, "line %d: schema rejected: %s\n", line, hl_last_error());
      check_failures_++;
    }
    hl_status st = hl_schema_validate(s, v);
    if (!msg && st != HL_OK) {
      fprintf(stderr, "line %d: expected pass, got %s\n", line, hl_last_error());
      check_failures_++;
    } else if (msg && (st != HL_ERR_INVALID_ARGUMENTS || strcmp(hl_last_error(), msg) != 0)) {
      fprintf(stderr, "line %d: expected \"%s\", got %s \"%s\"\n", line, msg, hl_status_name(st),
              st ? hl_last_error() : "");
      check_failures_++;
    }
  }
  cJSON_Delete(s);
  cJSON_Delete(v);
}
#define PASS(schema, value) expect(schema, value, NULL, __LINE__)
#define FAIL(schema, value, msg) expect(schema, value, msg, __LINE__)

/* hl_schema_check must refuse `schema` with a message containing `msg`. */
static void bad_schema(const char *schema, const char *msg, int line) {
  cJSON *s = parse(schema);
  hl_status st = s ? hl_schema_check(s) : HL_ERR_JSON;
  if (st != HL_ERR_SCHEMA || !strstr(hl_last_error(), msg)) {
    fprintf(stderr, "line %d: expected schema error \"%s\", got %s \"%s\"\n", line, msg,
            hl_status_name(st), st ? hl_last_error() : "");
    check_failures_++;
  }
  cJSON_Delete(s);
}
#define BAD_SCHEMA(schema, msg) bad_schema(schema, msg, __LINE__)

static void type_string(void) {
  PASS("{\"type\":\"string\"}", "\"x\"");
  FAIL("{\"type\":\"string\"}", "5", "$: expected string, got number");
}

static void type_number(void) {
  PASS("{\"type\":\"number\"}", "2.5");
  PASS("{\"type\":\"number\"}", "3");
  FAIL("{\"type\":\"number\"}", "\"3\"", "$: expected number, got string");
}

static void type_integer(void) {
  PASS("{\"type\":\"integer\"}", "3");
  PASS("{\"type\":\"integer\"}", "3.0");
  PASS("{\"type\":\"integer\"}", "-1e3");
  FAIL("{\"type\":\"integer\"}", "3.5", "$: expected integer, got number");
  FAIL("{\"type\":\"integer\"}", "\"3\"", "$: expected integer, got string");
}

static void type_boolean(void) {
  PASS("{\"type\":\"boolean\"}", "false");
  FAIL("{\"type\":\"boolean\"}", "0", "$: expected boolean, got number");
}

static void type_object(void) {
  PASS("{\"type\":\"object\"}", "{\"anything\":1}");
  FAIL("{\"type\":\"object\"}", "[]", "$: expected object, got array");
}

static void type_array(void) {
  PASS("{\"type\":\"array\"}", "[1,\"a\"]");
  FAIL("{\"type\":\"array\"}", "{}", "$: expected array, got object");
}

static void type_null(void) {
  PASS("{\"type\":\"null\"}", "null");
  FAIL("{\"type\":\"null\"}", "false", "$: expected null, got boolean");
}

static void type_list(void) {
  PASS("{\"type\":[\"string\",\"null\"]}", "null");
  PASS("{\"type\":[\"string\",\"null\"]}", "\"s\"");
  FAIL("{\"type\":[\"string\",\"null\"]}", "1", "$: expected string or null, got number");
}

static void no_type_accepts_anything(void) {
  PASS("{}", "[1,{\"a\":null}]");
  PASS("{\"description\":\"free\"}", "\"x\"");
}

static void required_properties(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                  "\"required\":[\"city\"]}";
  PASS(s, "{\"city\":\"Paris\"}");
  FAIL(s, "{}", "$: missing required property \"city\"");
  FAIL(s, "{\"town\":\"Paris\"}", "$: missing required property \"city\"");
}

static void property_types_name_the_path(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}";
  PASS(s, "{\"city\":\"Paris\",\"other\":1}");
  PASS(s, "{}");
  FAIL(s, "{\"city\":5}", "$.city: expected string, got number");
}

static void nested_objects(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"address\":{\"type\":\"object\","
                  "\"properties\":{\"zip\":{\"type\":\"string\"}},\"required\":[\"zip\"]}}}";
  PASS(s, "{\"address\":{\"zip\":\"75001\"}}");
  FAIL(s, "{\"address\":{\"zip\":75001}}", "$.address.zip: expected string, got number");
  FAIL(s, "{\"address\":{}}", "$.address: missing required property \"zip\"");
  FAIL(s, "{\"address\":\"Paris\"}", "$.address: expected object, got string");
}

static void arrays_of_objects(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
                  "{\"type\":\"object\",\"properties\":{\"qty\":{\"type\":\"integer\"}}}}}}";
  PASS(s, "{\"items\":[{\"qty\":1},{\"qty\":2},{\"qty\":3}]}");
  FAIL(s, "{\"items\":[{\"qty\":1},{\"qty\":2},{\"qty\":\"three\"}]}",
       "$.items[2].qty: expected integer, got string");
  FAIL(s, "{\"items\":[{\"qty\":1},7]}", "$.items[1]: expected object, got number");
}

static void odd_keys_are_quoted_in_paths(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"first name\":{\"type\":\"string\"}}}";
  FAIL(s, "{\"first name\":1}", "$[\"first name\"]: expected string, got number");
}

static void enum_values(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"unit\":{\"enum\":[\"c\",\"f\"]}}}";
  PASS(s, "{\"unit\":\"c\"}");
  FAIL(s, "{\"unit\":\"kelvin\"}", "$.unit: \"kelvin\" is not one of [\"c\",\"f\"]");
  PASS("{\"enum\":[1,null,{\"a\":[2]}]}", "{\"a\":[2]}");
  FAIL("{\"enum\":[1,null]}", "2", "$: 2 is not one of [1,null]");
}

static void const_value(void) {
  PASS("{\"const\":\"v1\"}", "\"v1\"");
  FAIL("{\"const\":\"v1\"}", "\"v2\"", "$: \"v2\" is not the constant \"v1\"");
}

static void additional_properties_false(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{}},\"additionalProperties\":false}";
  PASS(s, "{\"a\":1}");
  FAIL(s, "{\"a\":1,\"x\":2}", "$: unexpected property \"x\"");
}

static void additional_properties_schema(void) {
  const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
                  "\"additionalProperties\":{\"type\":\"number\"}}";
  PASS(s, "{\"a\":\"s\",\"x\":2,\"y\":3.5}");
  FAIL(s, "{\"a\":\"s\",\"x\":\"two\"}", "$.x: expected number, got string");
  PASS("{\"type\":\"object\",\"additionalProperties\":true}", "{\"q\":1}");
}

static void minimum_and_maximum(void) {
  const char *s = "{\"type\":\"number\",\"minimum\":1,\"maximum\":10}";
  PASS(s, "1");
  PASS(s, "10");
  FAIL(s, "0.5", "$: 0.5 is less than minimum 1");
  FAIL(s, "11", "$: 11 is greater than maximum 10");
}

static void string_lengths_count_characters(void) {
  const char *s = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
  PASS(s, "\"h\xc3\xa9\xc3\xa9\""); /* 3 characters, 5 bytes */
  FAIL(s, "\"a\"", "$: string of 1 characters is shorter than minLength 2");
  FAIL(s, "\"abcd\"", "$: string of 4 characters is longer than maxLength 3");
}

static void array_lengths(void) {
  const char *s = "{\"type\":\"array\",\"minItems\":1,\"maxItems\":2,\"items\":{\"type\":\"string\"}}";
  PASS(s, "[\"a\"]");
  FAIL(s, "[]", "$: array of 0 items is shorter than minItems 1");
  FAIL(s, "[\"a\",\"b\",\"c\"]", "$: array of 3 items is longer than maxItems 2");
  FAIL(s, "[\"a\",1]", "$[1]: expected string, got number");
}

static void annotations_are_accepted(void) {
  cJSON *s = parse("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":\"T\","
                   "\"description\":\"D\",\"type\":\"object\",\"properties\":{\"when\":{"
                   "\"type\":\"string\",\"format\":\"date\",\"default\":\"today\","
                   "\"examples\":[\"2024-01-01\"]}}}");
  REQUIRE(s != NULL);
  CHECK_INT(hl_schema_check(s), HL_OK);
  cJSON_Delete(s);
}

static void check_refuses_invalid_schemas(void) {
  BAD_SCHEMA("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"strin\"}}}",
             "schema $.properties.city.type: unknown type \"strin\"");
  BAD_SCHEMA("{\"type\":[\"string\",5]}", "schema $.type[1]: type names must be strings");
  BAD_SCHEMA("{\"type\":[]}", "schema $.type: must be a type name or a non-empty array");
  BAD_SCHEMA("{\"type\":7}", "schema $.type: must be a type name");
  BAD_SCHEMA("{\"properties\":[]}", "schema $.properties: must be an object, got array");
  BAD_SCHEMA("{\"properties\":{\"a\":\"string\"}}",
             "schema $.properties.a: a schema must be an object, got string");
  BAD_SCHEMA("{\"required\":\"city\"}", "schema $.required: must be an array of strings");
  BAD_SCHEMA("{\"required\":[\"a\",1]}", "schema $.required[1]: must be a string");
  BAD_SCHEMA("{\"additionalProperties\":\"no\"}",
             "schema $.additionalProperties: a schema must be an object, got string");
  BAD_SCHEMA("{\"items\":[{\"type\":\"string\"}]}", "schema $.items: a schema must be an object");
  BAD_SCHEMA("{\"enum\":[]}", "schema $.enum: must be a non-empty array, got an empty array");
  BAD_SCHEMA("{\"enum\":\"a\"}", "schema $.enum: must be a non-empty array, got string");
  BAD_SCHEMA("{\"minimum\":\"1\"}", "schema $.minimum: must be a number");
  BAD_SCHEMA("{\"minimum\":5,\"maximum\":1}", "schema $: minimum is greater than maximum");
  BAD_SCHEMA("{\"minLength\":-1}", "schema $.minLength: must be a non-negative integer");
  BAD_SCHEMA("{\"maxItems\":1.5}", "schema $.maxItems: must be a non-negative integer");
  BAD_SCHEMA("{\"description\":5}", "schema $.description: must be a string");
  BAD_SCHEMA("[]", "schema $: a schema must be an object, got array");
}

static void check_refuses_unsupported_keywords(void) {
  BAD_SCHEMA("{\"properties\":{\"a\":{\"$ref\":\"#/$defs/x\"}}}",
             "schema $.properties.a: unsupported keyword \"$ref\"");
  BAD_SCHEMA("{\"anyOf\":[{\"type\":\"string\"}]}", "schema $: unsupported keyword \"anyOf\"");
  BAD_SCHEMA("{\"oneOf\":[{}]}", "unsupported keyword \"oneOf\"");
  BAD_SCHEMA("{\"allOf\":[{}]}", "unsupported keyword \"allOf\"");
  BAD_SCHEMA("{\"type\":\"string\",\"pattern\":\"^a\"}", "unsupported keyword \"pattern\"");
  BAD_SCHEMA("{\"items\":{\"not\":{}}}", "schema $.items: unsupported keyword \"not\"");
}

static void deep_schemas_are_refused_not_overflowed(void) {
  /* 2000 nested "items": deeper than the limit, refused with a message. */
  enum { N = 2000 };
  static char buf[N * 12 + 16];
  size_t o = 0;
  for (int i = 0; i < N; i++) o += (size_t)sprintf(buf + o, "{\"items\":");
  o += (size_t)sprintf(buf + o, "{}");
  for (int i = 0; i < N; i++) buf[o++] = '}';
  buf[o] = '\0';
  cJSON *s = NULL;
  /* The parser already refuses this depth; build the tree by hand. */
  CHECK_INT(hl_json_parse(buf, o, &s), HL_ERR_JSON);
  cJSON *root = cJSON_CreateObject(), *cur = root;
  for (int i = 0; i < 600; i++) {
    cJSON *next = cJSON_CreateObject();
    cJSON_AddItemToObject(cur, "items", next);
    cur = next;
  }
  CHECK_INT(hl_schema_check(root), HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(), "nested deeper than 512 levels");
  /* Validation stops at the limit too, even for a schema nobody checked. */
  cJSON *v = cJSON_CreateArray(), *vc = v;
  for (int i = 0; i < 600; i++) {
    cJSON *next = cJSON_CreateArray();
    cJSON_AddItemToArray(vc, next);
    vc = next;
  }
  CHECK_INT(hl_schema_validate(root, v), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "nested deeper than 512 levels");
  cJSON_Delete(v);
  cJSON_Delete(root);
}

/* An MCP server's 2020-12 schema: the lenient check skips what is not
 * enforced (and nothing under it is looked at), refuses a bad value of a
 * keyword that is; the validator never applies a keyword whose meaning
 * depends on one it skips. */
static void lenient_check_for_full_json_schema(void) {
  const char *full = "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
                     "\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\",\"type\":\"nonsense\"}},"
                     "\"properties\":{\"t\":{\"type\":\"array\",\"prefixItems\":[{\"type\":\"integer\"}],"
                     "\"items\":{\"type\":\"string\"}},\"m\":{\"type\":\"object\",\"patternProperties\":"
                     "{\"^x\":{}},\"additionalProperties\":false},\"n\":{\"type\":\"object\","
                     "\"additionalProperties\":false},\"any\":true,\"r\":{\"$ref\":\"#/$defs/a\"}},"
                     "\"anyOf\":[{\"required\":[\"t\"]}],\"required\":[\"t\"]}";
  cJSON *sc = parse(full);
  CHECK_INT(hl_schema_check(sc), HL_ERR_SCHEMA);
  CHECK_INT(hl__schema_check_lenient(sc), HL_OK);
  struct {
    const char *value;
    hl_status want;
  } cases[] = {
      {"{\"t\":[1,\"two\",3]}", HL_OK},                    /* items is for after prefixItems */
      {"{\"t\":[1],\"m\":{\"xa\":1,\"y\":2}}", HL_OK},     /* patterns not evaluated: no additional check */
      {"{\"t\":[1],\"any\":{},\"r\":5}", HL_OK},           /* boolean schema, $ref not followed */
      {"{\"t\":[1],\"n\":{\"y\":2}}", HL_ERR_INVALID_ARGUMENTS}, /* additionalProperties alone still holds */
      {"{\"t\":\"no\"}", HL_ERR_INVALID_ARGUMENTS},          /* a type it knows */
      {"{}", HL_ERR_INVALID_ARGUMENTS},                       /* required */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *v = parse(cases[i].value);
    CHECK_INT(hl_schema_validate(sc, v), cases[i].want);
    cJSON_Delete(v);
  }
  cJSON_Delete(sc);
  sc = parse("{\"type\":\"object\",\"anyOf\":[{}],\"properties\":{\"a\":{\"minLength\":-1}}}");
  CHECK_INT(hl__schema_check_lenient(sc), HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(), "$.properties.a.minLength");
  cJSON_Delete(sc);
}

static void long_values_are_truncated_in_messages(void) {
  static char big[4000];
  memset(big, 'z', sizeof big - 1);
  cJSON *s = parse("{\"enum\":[\"a\"]}");
  cJSON *v = cJSON_CreateString(big);
  CHECK_INT(hl_schema_validate(s, v), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "...\" is not one of [\"a\"]");
  CHECK(strlen(hl_last_error()) < 400);
  cJSON_Delete(s);
  cJSON_Delete(v);
}

static void long_paths_are_shortened(void) {
  /* 12 levels of 60-character keys: a path longer than fits a message. */
  char key[61];
  memset(key, 'k', 60);
  key[60] = '\0';
  cJSON *schema = cJSON_CreateObject(), *value = cJSON_CreateObject();
  cJSON *s = schema, *v = value;
  for (int i = 0; i < 12; i++) {
    cJSON *props = cJSON_AddObjectToObject(s, "properties");
    s = cJSON_AddObjectToObject(props, key);
    v = i == 11 ? cJSON_AddNumberToObject(v, key, 1) : cJSON_AddObjectToObject(v, key);
  }
  cJSON_AddStringToObject(s, "type", "string");
  REQUIRE(hl_schema_check(schema) == HL_OK);
  CHECK_INT(hl_schema_validate(schema, value), HL_ERR_INVALID_ARGUMENTS);
  const char *msg = hl_last_error();
  CHECK(strncmp(msg, "$.kkkk", 6) == 0);
  CHECK_CONTAINS(msg, "k...: expected string, got number");
  CHECK(strlen(msg) < 600);
  cJSON_Delete(schema);
  cJSON_Delete(value);
}

int main(void) {
  RUN(type_string);
  RUN(lenient_check_for_full_json_schema);
  RUN(type_number);
  RUN(type_integer);
  RUN(type_boolean);
  RUN(type_object);
  RUN(type_array);
  RUN(type_null);
  RUN(type_list);
  RUN(no_type_accepts_anything);
  RUN(required_properties);
  RUN(property_types_name_the_path);
  RUN(nested_objects);
  RUN(arrays_of_objects);
  RUN(odd_keys_are_quoted_in_paths);
  RUN(enum_values);
  RUN(const_value);
  RUN(additional_properties_false);
  RUN(additional_properties_schema);
  RUN(minimum_and_maximum);
  RUN(string_lengths_count_characters);
  RUN(array_lengths);
  RUN(annotations_are_accepted);
  RUN(check_refuses_invalid_schemas);
  RUN(check_refuses_unsupported_keywords);
  RUN(deep_schemas_are_refused_not_overflowed);
  RUN(long_values_are_truncated_in_messages);
  RUN(long_paths_are_shortened);
  return CHECK_EXIT();
}
