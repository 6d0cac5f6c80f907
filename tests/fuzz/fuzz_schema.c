/*
 * fuzz_schema.c - libFuzzer target for the JSON Schema subset
 * (lib/core/schema.c): compile (check) a schema and validate a document,
 * both taken from the input: "SCHEMA\0DOCUMENT" (without a NUL byte the
 * schema validates itself).
 *
 * Invariants: check answers HL_OK or HL_ERR_SCHEMA with a message;
 * validate answers HL_OK or HL_ERR_INVALID_ARGUMENTS with a message that
 * names a path ("$..."); the answer is the same for reparsed copies; a
 * document always validates against {"const": doc} and {"enum": [doc]};
 * {"not": S} answers the opposite of S; {"allOf": [S, S]} the same as S.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "hookline/json.h"
#include "hookline/tool.h"

static hl_status validate(const cJSON *schema, const cJSON *doc, char *msg, size_t size) {
  hl_status st = hl_schema_validate(schema, doc);
  snprintf(msg, size, "%s", st == HL_OK ? "" : hl_last_error());
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_INVALID_ARGUMENTS, "validate: %s", hl_status_name(st));
    FUZZ_CHECK(msg[0] == '$', "message without a path: %s", msg);
  }
  return st;
}

/* {key: value} as a new schema, `value` copied (or wrapped in an array). */
static cJSON *wrap(const char *key, const cJSON *value, int copies) {
  cJSON *s = cJSON_CreateObject();
  cJSON *v = hl_json_clone(value);
  if (!s || !v) abort();
  if (copies > 0) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) abort();
    cJSON_AddItemToArray(arr, v);
    for (int i = 1; i < copies; i++) cJSON_AddItemToArray(arr, hl_json_clone(value));
    v = arr;
  }
  cJSON_AddItemToObject(s, key, v);
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *nul = memchr(text, '\0', size);
  size_t schema_len = nul ? (size_t)(nul - text) : size;
  const char *doc_text = nul ? nul + 1 : text;
  size_t doc_len = nul ? size - schema_len - 1 : size;

  cJSON *schema = NULL, *doc = NULL;
  if (hl_json_parse(text, schema_len, &schema) != HL_OK) return 0;
  if (hl_json_parse(doc_text, doc_len, &doc) != HL_OK) {
    cJSON_Delete(schema);
    return 0;
  }

  hl_status st = hl_schema_check(schema);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_SCHEMA, "check: %s", hl_status_name(st));
    FUZZ_CHECK(hl_last_error()[0] != '\0', "check failed without a message");
  } else {
    char m1[512], m2[512];
    hl_status v1 = validate(schema, doc, m1, sizeof m1);

    /* The same answer from reparsed copies. */
    char *sp = NULL, *dp = NULL;
    FUZZ_CHECK(hl_json_print(schema, &sp) == HL_OK && hl_json_print(doc, &dp) == HL_OK, "print");
    cJSON *schema2 = NULL, *doc2 = NULL;
    FUZZ_CHECK(hl_json_parse(sp, (size_t)-1, &schema2) == HL_OK, "reparse schema");
    FUZZ_CHECK(hl_json_parse(dp, (size_t)-1, &doc2) == HL_OK, "reparse document");
    FUZZ_CHECK(hl_schema_check(schema2) == HL_OK, "reparsed schema rejected: %s", sp);
    hl_status v2 = validate(schema2, doc2, m2, sizeof m2);
    FUZZ_CHECK(v1 == v2 && strcmp(m1, m2) == 0, "reparse changed the answer: %s / %s", m1, m2);

    /* Compositions whose answer is known. Skipped at the depth limit,
     * where one more level is rightly refused. */
    cJSON *not_s = wrap("not", schema, 0);
    if (hl_schema_check(not_s) == HL_OK) {
      hl_status vn = validate(not_s, doc, m2, sizeof m2);
      FUZZ_CHECK((vn == HL_OK) != (v1 == HL_OK), "not: %s / %s\n  schema %s\n  doc %s",
                 hl_status_name(v1), hl_status_name(vn), sp, dp);
    }
    cJSON *all = wrap("allOf", schema, 2);
    if (hl_schema_check(all) == HL_OK) {
      hl_status va = validate(all, doc, m2, sizeof m2);
      FUZZ_CHECK(va == v1, "allOf [S, S]: %s / %s\n  schema %s\n  doc %s", hl_status_name(v1),
                 hl_status_name(va), sp, dp);
    }
    cJSON_Delete(not_s);
    cJSON_Delete(all);
    hl_free(sp);
    hl_free(dp);
    cJSON_Delete(schema2);
    cJSON_Delete(doc2);
  }

  /* Whatever the schema, a document is its own const and enum. */
  cJSON *c = wrap("const", doc, 0), *e = wrap("enum", doc, 1);
  char m[512];
  if (hl_schema_check(c) == HL_OK)
    FUZZ_CHECK(validate(c, doc, m, sizeof m) == HL_OK, "not its own const: %s", m);
  if (hl_schema_check(e) == HL_OK)
    FUZZ_CHECK(validate(e, doc, m, sizeof m) == HL_OK, "not its own enum: %s", m);
  cJSON_Delete(c);
  cJSON_Delete(e);
  cJSON_Delete(schema);
  cJSON_Delete(doc);
  return 0;
}
