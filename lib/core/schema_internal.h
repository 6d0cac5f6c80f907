/*
 * lib/core/schema_internal.h - schema helpers shared with tool.c.
 */
#ifndef HL_CORE_SCHEMA_INTERNAL_H
#define HL_CORE_SCHEMA_INTERNAL_H

#include <cjson/cJSON.h>
#include "hookline/status.h"

/* hl_schema_check() with paths in messages starting at `root` (e.g.
 * "$.properties.city" when checking a sub-schema given on its own). */
hl_status hl__schema_check_at(const cJSON *schema, const char *root);

#endif
