/*
 * hookline/json.h - JSON helpers over cJSON.
 *
 * hookline speaks JSON through cJSON (a required dependency): tool arguments,
 * tool results, schemas and payloads are `cJSON *` values. These helpers add
 * what cJSON lacks for hostile input: clear error messages with positions,
 * nesting and size limits, UTF-8 validation, and NULL-safe accessors.
 *
 * Ownership: a function that returns `cJSON *` or writes `cJSON **out`
 * gives the caller a new tree to free with cJSON_Delete(). Functions that
 * return `const cJSON *` or `const char *` lend a pointer into the tree you
 * passed; it lives as long as that tree.
 *
 * Thread-safety: all functions are thread-safe on distinct trees.
 * hookline does not call cJSON_InitHooks(); do not change the cJSON
 * allocator after hookline objects exist.
 */
#ifndef HOOKLINE_JSON_H
#define HOOKLINE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Deepest nesting of arrays/objects hl_json_parse() accepts. */
#define HL_JSON_MAX_DEPTH 512

/**
 * Parse `len` bytes of JSON text (NUL bytes inside `text` are an error, not
 * an end). Rejects: malformed JSON, trailing garbage, invalid UTF-8, nesting
 * deeper than HL_JSON_MAX_DEPTH, and the escape \u0000 (cJSON strings are
 * NUL-terminated, so it would silently cut the string). On failure returns
 * HL_ERR_JSON with a
 * message such as "invalid JSON at byte 17: expected ',' or '}'", sets
 * *out to NULL and leaks nothing. On success *out is the caller's.
 * Pass len == (size_t)-1 to use strlen(text).
 */
HL_API hl_status hl_json_parse(const char *text, size_t len, cJSON **out);

/** Serialize compactly. *out is a NUL-terminated string for hl_free().
 *  HL_ERR_TOO_LARGE for a tree nested deeper than HL_JSON_MAX_DEPTH (built
 *  by hand; the parser never makes one); HL_ERR_INVALID for a node cJSON
 *  cannot print either (cJSON_Invalid, or a raw one without text). */
HL_API hl_status hl_json_print(const cJSON *value, char **out);

/** The first bytes of hl_json_print()'s text of `value`, into `buf`
 *  (`cap` bytes, the caller's): at most cap - 1 of them and a NUL, always
 *  NUL-terminated; *len (may be NULL) is their number. The cut never
 *  splits a UTF-8 character: a valid sequence that would not fit whole is
 *  left out (a byte of a string that is not valid UTF-8, which a tree
 *  built by hand may hold, counts as a character). *complete (may be
 *  NULL) is true when that is the whole text. The cost is bounded by
 *  `cap`, not by the value: the text is printed straight into `buf` (no
 *  allocation), and the walk stops at the cut, reading no string past
 *  it. Errors (buf then holds "", *len 0): HL_ERR_INVALID for a NULL
 *  value, a NULL buf or cap 0, or a node cJSON cannot print either
 *  (cJSON_Invalid, or a raw one without text) met before the cut;
 *  HL_ERR_TOO_LARGE for nesting deeper than HL_JSON_MAX_DEPTH met before
 *  the cut (where hl_json_print() refuses the whole tree, a cut before the
 *  deep part is printed). Thread-safe on distinct buffers (reads the tree
 *  only). */
HL_API hl_status hl_json_print_prefix(const cJSON *value, char *buf, size_t cap, size_t *len,
                                      bool *complete);

/** Deep copy; NULL on allocation failure, NULL input, or a tree nested
 *  deeper than HL_JSON_MAX_DEPTH (HL_ERR_TOO_LARGE). Caller frees. */
HL_API cJSON *hl_json_clone(const cJSON *value);

/** Add `item` to object `obj` under `key`, taking `item` in every case:
 *  true when added; false (and `item` freed) when `obj` or `item` is NULL
 *  or memory runs out copying the key. So a copy made in the argument,
 *  `hl_json_add(o, "k", hl_json_clone(v))`, never leaks, which a bare
 *  cJSON_AddItemToObject() does when it fails. Not thread-safe on `obj`. */
HL_API bool hl_json_add(cJSON *obj, const char *key, cJSON *item);

/** Structural equality (object key order does not matter). NULL == NULL.
 *  Objects with duplicate keys (kept by hl_json_parse) compare their
 *  same-named members in order: the k-th "a" of one with the k-th "a" of
 *  the other, so every value equals its copy. Numbers compare by value
 *  (1 == 1.0). Thread-safe (reads only). */
HL_API bool hl_json_equal(const cJSON *a, const cJSON *b);

/** True if `s[0..len)` is valid UTF-8 (no overlongs, no surrogates). */
HL_API bool hl_utf8_valid(const char *s, size_t len);

/** Name of a value's JSON type: "string", "number", "integer" (a number
 *  with no fraction), "boolean", "null", "object", "array"; "missing" for
 *  NULL. */
HL_API const char *hl_json_type_name(const cJSON *value);

/* Accessors: NULL-safe; `obj` may be NULL or not an object. */

/** obj[key] if it is a string, else NULL. Borrowed. */
HL_API const char *hl_json_get_string(const cJSON *obj, const char *key);
/** obj[key] as a number, or `fallback` when absent or not a number. */
HL_API double hl_json_get_number(const cJSON *obj, const char *key, double fallback);
/** obj[key] as a bool, or `fallback` when absent or not a boolean. */
HL_API bool hl_json_get_bool(const cJSON *obj, const char *key, bool fallback);
/** obj[key] (any type) or NULL. Borrowed. */
HL_API const cJSON *hl_json_get(const cJSON *obj, const char *key);

#ifdef __cplusplus
}
#endif
#endif
