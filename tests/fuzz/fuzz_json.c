/*
 * fuzz_json.c - libFuzzer target for the JSON parser (lib/core/json.c).
 *
 * Invariants: a parse either succeeds or fails with HL_ERR_JSON and a
 * message; what parses prints, and the print parses to an equal tree
 * (hl_json_equal) whose print is byte-identical (printing is stable); a
 * clone is equal to its original; a tree is equal to itself and to its
 * reparse whatever its keys (hl_json_equal is used by schema const/enum).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "hookline/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  cJSON *t1 = NULL;
  hl_status st = hl_json_parse(text, size, &t1);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_JSON, "status %s", hl_status_name(st));
    FUZZ_CHECK(t1 == NULL, "tree set on failure");
    FUZZ_CHECK(strncmp(hl_last_error(), "invalid JSON at byte ", 21) == 0, "message: %s",
               hl_last_error());
    return 0;
  }
  FUZZ_CHECK(t1 != NULL, "no tree on success");
  FUZZ_CHECK(hl_json_equal(t1, t1), "not equal to itself");

  char *p1 = NULL;
  st = hl_json_print(t1, &p1);
  FUZZ_CHECK(st == HL_OK, "print failed: %s", hl_status_name(st));
  FUZZ_CHECK(hl_utf8_valid(p1, strlen(p1)), "printed invalid UTF-8: %s", p1);

  cJSON *t2 = NULL;
  st = hl_json_parse(p1, strlen(p1), &t2);
  FUZZ_CHECK(st == HL_OK, "own print does not parse: %s", p1);
  FUZZ_CHECK(hl_json_equal(t1, t2), "reparse differs: %s", p1);
  FUZZ_CHECK(hl_json_equal(t2, t1), "equality not symmetric: %s", p1);

  char *p2 = NULL;
  FUZZ_CHECK(hl_json_print(t2, &p2) == HL_OK, "second print failed");
  FUZZ_CHECK(strcmp(p1, p2) == 0, "print not stable:\n  %s\n  %s", p1, p2);

  cJSON *c = hl_json_clone(t1);
  FUZZ_CHECK(c != NULL, "clone failed");
  FUZZ_CHECK(hl_json_equal(c, t1), "clone differs: %s", p1);

  /* The type name is one of the documented ones. */
  const char *tn = hl_json_type_name(t1);
  char padded[32];
  snprintf(padded, sizeof padded, " %s ", tn);
  FUZZ_CHECK(strstr(" string number integer boolean null object array ", padded) != NULL,
             "type %s", tn);

  hl_free(p1);
  hl_free(p2);
  cJSON_Delete(t1);
  cJSON_Delete(t2);
  cJSON_Delete(c);
  return 0;
}
