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

/* hl_schema_check() for a schema written for a full JSON Schema validator
 * (an MCP server's, 2020-12): the keywords hookline does not enforce
 * ($ref, anyOf, if, pattern, ...) and boolean schemas are skipped instead
 * of refused, and nothing under them is looked at. HL_OK means
 * hl_schema_validate() enforces the rest and never fails a value the
 * whole schema accepts; HL_ERR_SCHEMA when a keyword it does enforce has
 * a bad value. */
hl_status hl__schema_check_lenient(const cJSON *schema);

#endif
