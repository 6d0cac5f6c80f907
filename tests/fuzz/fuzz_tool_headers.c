/*
 * fuzz_tool_headers.c - libFuzzer target for what an MCP server's tool
 * definition and a model's arguments reach in lib/mcp/tool_headers.c
 * (x-mcp-header annotations, Mcp-Param-* lines) and in the lenient schema
 * check of lib/core/schema.c, both taken from the input:
 * "INPUT_SCHEMA\0ARGUMENTS" (without a NUL byte the schema is its own
 * arguments).
 *
 * Invariants: an invalid schema comes with a reason; a valid one gives
 * header lines or HL_ERR_INVALID_ARGUMENTS/HL_ERR_LIMIT with a message;
 * every line is "Mcp-Param-" + one of the schema's annotations + ": " and
 * a value of visible ASCII and inner spaces (or ";" for an empty value),
 * so no header can be split or injected, and a "=?base64?" value is
 * well-formed Base64; the lenient check answers HL_OK or HL_ERR_SCHEMA,
 * and a schema it passes validates any document to HL_OK or
 * HL_ERR_INVALID_ARGUMENTS.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "hookline/json.h"
#include "hookline/tool.h"
#include "core/schema_internal.h"
#include "mcp/tool_headers.h"

/* Whether `name` is some property's x-mcp-header in `s` (any depth). */
static bool annotation_of(const cJSON *s, const char *name, size_t len) {
  if (!s) return false;
  if (s->string && strcmp(s->string, "x-mcp-header") == 0 && cJSON_IsString(s) &&
      strlen(s->valuestring) == len && strncmp(s->valuestring, name, len) == 0)
    return true;
  for (const cJSON *c = s->child; c; c = c->next)
    if (annotation_of(c, name, len)) return true;
  return false;
}

static void check_line(const cJSON *schema, const char *line) {
  FUZZ_CHECK(strncmp(line, "Mcp-Param-", 10) == 0, "line without the prefix: %s", line);
  const char *name = line + 10, *end = name + strcspn(name, ":;");
  FUZZ_CHECK(*end && end > name, "line without a name or separator: %s", line);
  FUZZ_CHECK(annotation_of(schema, name, (size_t)(end - name)), "header not annotated: %s", line);
  if (*end == ';') {
    FUZZ_CHECK(end[1] == '\0', "text after ';': %s", line);
    return;
  }
  FUZZ_CHECK(end[1] == ' ' && end[2] && end[2] != ' ', "value not after \": \": %s", line);
  const char *v = end + 2;
  size_t n = strlen(v);
  FUZZ_CHECK(v[n - 1] != ' ', "value ends in a space: %s", line);
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK((unsigned char)v[i] >= 0x20 && (unsigned char)v[i] <= 0x7e, "unsafe byte 0x%02x in %s",
               (unsigned char)v[i], line);
  if (strncmp(v, "=?base64?", 9) == 0) {
    FUZZ_CHECK(n >= 11 && strcmp(v + n - 2, "?=") == 0, "unterminated base64 form: %s", line);
    size_t b = n - 11;
    FUZZ_CHECK(b % 4 == 0 && strspn(v + 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") >= b,
               "bad base64: %s", line);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *nul = memchr(text, '\0', size);
  size_t schema_len = nul ? (size_t)(nul - text) : size;
  cJSON *schema = NULL, *args = NULL;
  if (hl_json_parse(text, schema_len, &schema) != HL_OK) return 0;
  if (hl_json_parse(nul ? nul + 1 : text, nul ? size - schema_len - 1 : size, &args) != HL_OK) {
    cJSON_Delete(schema);
    return 0;
  }

  char why[400];
  if (!hl__tool_headers_valid(schema, why, sizeof why)) {
    FUZZ_CHECK(why[0], "invalid without a reason");
  } else {
    const char *lines[40];
    size_t n = 0;
    char *block = NULL;
    hl_status st = hl__tool_header_lines(schema, args, lines, 40, &n, &block);
    if (st != HL_OK) {
      FUZZ_CHECK(st == HL_ERR_INVALID_ARGUMENTS || st == HL_ERR_LIMIT, "lines: %s", hl_status_name(st));
      FUZZ_CHECK(hl_last_error()[0], "lines failed without a message");
      FUZZ_CHECK(!block && n == 0, "lines left after a failure");
    }
    for (size_t i = 0; i < n; i++) check_line(schema, lines[i]);
    free(block);
  }

  hl_status st = hl__schema_check_lenient(schema);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_SCHEMA, "lenient check: %s", hl_status_name(st));
  } else {
    st = hl_schema_validate(schema, args);
    FUZZ_CHECK(st == HL_OK || st == HL_ERR_INVALID_ARGUMENTS, "validate: %s", hl_status_name(st));
  }
  cJSON_Delete(schema);
  cJSON_Delete(args);
  return 0;
}
