/*
 * lib/core/tool_internal.h - tool helpers shared inside lib/core.
 */
#ifndef HL_CORE_TOOL_INTERNAL_H
#define HL_CORE_TOOL_INTERNAL_H

#include <stddef.h>

#include "hookline/context.h"
#include "hookline/status.h"
#include "hookline/tool.h"

/* HL_OK if `name` matches [A-Za-z0-9_-]{1,64}; HL_ERR_INVALID with a
 * message otherwise. */
hl_status hl__tool_name_check(const char *name);

/* `tool`'s schema as hl__jbuf_value() would write it (its length in
 * *len), printed when the schema last changed; NULL when it could not be
 * (out of memory): print hl_tool_schema() then. Owned by the tool, valid
 * until its schema changes (the configure-time API, never during a run). */
const char *hl__tool_schema_text(const hl_tool *tool, size_t *len);

#endif
