/*
 * hooks/plugin_options.h - reading a plugin's JSON options with errors
 * that name the path of the bad value ("$.words[2]: expected a string,
 * got number"), as plugin.h asks of every init. Compiled into libhookline
 * and again into each plugin .so; public API only.
 */
#ifndef HL_PLUGIN_OPTIONS_H
#define HL_PLUGIN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "hookline/status.h"

/* HL_ERR_INVALID "$.key: unknown option (known: a, b, c)" for a key of
 * `options` not in `known` (NULL-terminated): a typo must not be ignored. */
hl_status hl__opt_known(const cJSON *options, const char *const *known);

/* Each leaves *out at `fallback` when the key is absent (or JSON null)
 * and fails with the path when it has the wrong type or range. */
hl_status hl__opt_string(const cJSON *options, const char *key, const char *fallback,
                         const char **out);
hl_status hl__opt_bool(const cJSON *options, const char *key, bool fallback, bool *out);
/* An integer in [min, max]. */
hl_status hl__opt_int(const cJSON *options, const char *key, int64_t fallback, int64_t min,
                      int64_t max, int64_t *out);
/* A number >= min. */
hl_status hl__opt_number(const cJSON *options, const char *key, double fallback, double min,
                         double *out);
/* An array of strings (NULL when absent); each element is checked. */
hl_status hl__opt_strings(const cJSON *options, const char *key, const cJSON **out);
/* An object (NULL when absent). */
hl_status hl__opt_object(const cJSON *options, const char *key, const cJSON **out);
/* Like the above for an element of an array: path "$.key[i]". */
hl_status hl__opt_fail(hl_status st, const char *key, long index, const char *fmt, ...)
    HL_PRINTF(4, 5);

#endif
