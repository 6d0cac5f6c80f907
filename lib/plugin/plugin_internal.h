/*
 * lib/plugin/plugin_internal.h - what the config loader needs from the
 * plugin loader beyond the public API.
 */
#ifndef HL_PLUGIN_INTERNAL_H
#define HL_PLUGIN_INTERNAL_H

#include "hookline/plugin.h"

/* hl_plugin_load(), also copying into why[0..whylen) the message without
 * the "plugin \"x\": " prefix (so that a "$.key: ..." from the plugin's
 * init can be placed within a config file's path). */
hl_status hl__plugin_load(hl_hooks *hooks, const char *spec, const cJSON *options,
                          hl_plugin **out, char *why, size_t whylen);

#endif
