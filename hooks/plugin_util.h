/*
 * hooks/plugin_util.h - helpers shared by the plugins in hooks/. Not public:
 * the plugins themselves use only include/, and so does this file.
 */
#ifndef HL_PLUGIN_UTIL_H
#define HL_PLUGIN_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hookline/hooks.h"

/* Reference count embedded first in every plugin object, so that one
 * release function fits every hook's free_user_data. */
typedef struct hl__plugin_ref {
  atomic_uint count;
  void (*destroy)(void *self);
} hl__plugin_ref;

/* Start at one reference (the creator's). */
void hl__plugin_ref_init(hl__plugin_ref *ref, void (*destroy)(void *self));
/* Take one more reference. `self` begins with an hl__plugin_ref. */
void hl__plugin_retain(void *self);
/* Drop one reference; the last one calls destroy. NULL is fine. Also the
 * free_user_data of every hook the install functions add. */
void hl__plugin_release(void *self);

/* Add a hook whose user_data is the plugin `self`: the hook holds its own
 * reference, dropped when it is removed or its set freed. On failure
 * nothing is taken. */
hl_status hl__plugin_add(void *self, hl_hooks *hooks, hl_hook_point point, const char *name,
                         unsigned flags, hl_hook_fn fn);

/* An install function failed half way with `st`: remove the hooks it
 * added (all named `hook_name`) and return `st` with the message prefixed
 * by `fn_name`. The plugin object stays attached and is freed with the set. */
hl_status hl__plugin_install_failed(hl_hooks *hooks, const char *hook_name,
                                    const char *fn_name, hl_status st);

/* strdup that reports out of memory through hl_fail (NULL then). */
char *hl__plugin_strdup(const char *s);

/* Write `s` to `out` as a JSON string literal, at most `max` bytes of the
 * source, with "..." appended inside the quotes when cut. NULL prints null. */
void hl__plugin_put_quoted(FILE *out, const char *s, size_t max);

/* Write `s` (NULL: nothing) as one unquoted word of a `key=value` line:
 * \n \r \t by name, every other byte <= ' ', a backslash and DEL as \xHH,
 * so that a name a model chose can neither split the word nor forge a
 * line (logging.c: tool names, call ids). */
void hl__plugin_put_word(FILE *out, const char *s);

/* Write `value` as compact JSON, cut at `max` bytes with "...". NULL prints
 * null. */
void hl__plugin_put_json(FILE *out, const cJSON *value, size_t max);

/* FNV-1a 64-bit hash of s[0..len) (request_hash.c). */
uint64_t hl__fnv1a64(const char *s, size_t len);

#endif
