/*
 * fuzz_json.c - libFuzzer target for the JSON parser (lib/core/json.c).
 *
 * Invariants: a parse either succeeds or fails with HL_ERR_JSON and a
 * message; what parses prints, and the print parses to an equal tree
 * (hl_json_equal) whose print is byte-identical (printing is stable); a
 * clone is equal to its original; a tree is equal to itself and to its
 * reparse whatever its keys (hl_json_equal is used by schema const/enum);
 * the arena parse (hl__json_parse_arena, a provider's answer) gives the
 * same status, the same message and an equal tree; hl_json_print_prefix()
 * writes the print's first bytes, cut back to the start of a character
 * (the text is valid UTF-8), at every buffer size for a short text and
 * at a few for a long one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "fuzz_util.h"
#include "hookline/json.h"

/* The arena parse of `text` against the plain one's outcome. */
static void check_arena(const char *text, size_t size, hl_status st, const cJSON *tree,
                        const char *message) {
  hl__json_arena arena = {0};
  cJSON *a = NULL;
  hl_status ast = hl__json_parse_arena(text, size, &arena, &a);
  FUZZ_CHECK(ast == st, "arena parse status %s, plain %s", hl_status_name(ast), hl_status_name(st));
  if (st != HL_OK) {
    FUZZ_CHECK(a == NULL, "arena tree set on failure");
    FUZZ_CHECK(strcmp(hl_last_error(), message) == 0, "arena message: %s; plain: %s", hl_last_error(),
               message);
  } else {
    FUZZ_CHECK(hl_json_equal(a, tree) && hl_json_equal(tree, a), "arena tree differs");
  }
  hl__json_arena_free(&arena);
}

/* hl_json_print_prefix(v) into exactly cap bytes against the whole
 * print `full` (len bytes). */
static void check_prefix(const cJSON *v, const char *full, size_t len, size_t cap) {
  char *buf = malloc(cap);
  FUZZ_CHECK(buf != NULL, "out of memory");
  size_t n = 0;
  bool complete = false;
  hl_status st = hl_json_print_prefix(v, buf, cap, &n, &complete);
  FUZZ_CHECK(st == HL_OK, "prefix of %zu bytes failed: %s", cap, hl_last_error());
  size_t want = cap - 1 < len ? cap - 1 : len;
  while (want < len && ((unsigned char)full[want] & 0xC0) == 0x80) want--; /* inside a character */
  FUZZ_CHECK(n == want && strlen(buf) == n && !memcmp(buf, full, n),
             "prefix of %zu bytes: %zu bytes \"%s\", want %zu of %s", cap, n, buf, want, full);
  FUZZ_CHECK(complete == (n == len), "prefix of %zu bytes: complete %d, %zu of %zu bytes", cap, complete, n,
             len);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  cJSON *t1 = NULL;
  hl_status st = hl_json_parse(text, size, &t1);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_JSON, "status %s", hl_status_name(st));
    FUZZ_CHECK(t1 == NULL, "tree set on failure");
    FUZZ_CHECK(strncmp(hl_last_error(), "invalid JSON at byte ", 21) == 0, "message: %s",
               hl_last_error());
    char message[2048];
    snprintf(message, sizeof message, "%s", hl_last_error());
    check_arena(text, size, st, NULL, message);
    return 0;
  }
  FUZZ_CHECK(t1 != NULL, "no tree on success");
  FUZZ_CHECK(hl_json_equal(t1, t1), "not equal to itself");
  check_arena(text, size, st, t1, NULL);

  char *p1 = NULL;
  st = hl_json_print(t1, &p1);
  FUZZ_CHECK(st == HL_OK, "print failed: %s", hl_status_name(st));
  FUZZ_CHECK(hl_utf8_valid(p1, strlen(p1)), "printed invalid UTF-8: %s", p1);

  size_t len = strlen(p1);
  if (len <= 256) {
    for (size_t cap = 1; cap <= len + 2; cap++) check_prefix(t1, p1, len, cap);
  } else {
    const size_t caps[] = {1, 2, 64, len / 2, len - 1, len, len + 1, len + 2};
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) check_prefix(t1, p1, len, caps[i]);
  }

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
