/*
 * strict.c - may a JSON Schema go to OpenAI with "strict": true? Strict
 * structured output (Chat Completions' json_schema, Responses'
 * text.format) makes the model follow the schema exactly, but the API
 * refuses a schema in which some object allows extra properties or has an
 * optional one. Such a schema is sent without strict (the run still
 * checks the answer and asks again, see structured.c in lib/agent).
 */
#include <string.h>

#include "hookline/json.h"
#include "providers/llm.h"

static bool strict_ok(const cJSON *s, int depth);

static bool all_strict(const cJSON *container, int depth) {
  const cJSON *e;
  cJSON_ArrayForEach(e, container) if (!strict_ok(e, depth + 1)) return false;
  return true;
}

static bool listed(const cJSON *required, const char *name) {
  const cJSON *r;
  cJSON_ArrayForEach(r, required) if (cJSON_IsString(r) && !strcmp(r->valuestring, name)) return true;
  return false;
}

static bool strict_ok(const cJSON *s, int depth) {
  if (depth > 64) return false;
  if (!cJSON_IsObject(s)) return true;
  const cJSON *props = hl_json_get(s, "properties");
  const char *type = hl_json_get_string(s, "type");
  if (props || (type && !strcmp(type, "object"))) {
    if (!cJSON_IsFalse(hl_json_get(s, "additionalProperties"))) return false;
    const cJSON *required = hl_json_get(s, "required");
    const cJSON *p;
    cJSON_ArrayForEach(p, props) if (!listed(required, p->string)) return false;
    if (!all_strict(props, depth)) return false;
  }
  static const char *const lists[] = {"anyOf", "$defs", "definitions"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
    if (!all_strict(hl_json_get(s, lists[i]), depth)) return false;
  return strict_ok(hl_json_get(s, "items"), depth + 1);
}

bool hl__llm_schema_strict_ok(const cJSON *schema) { return strict_ok(schema, 0); }
