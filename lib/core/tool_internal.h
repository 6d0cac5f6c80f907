/*
 * lib/core/tool_internal.h - tool helpers shared inside lib/core.
 */
#ifndef HL_CORE_TOOL_INTERNAL_H
#define HL_CORE_TOOL_INTERNAL_H

#include "hookline/context.h"
#include "hookline/status.h"

/* HL_OK if `name` matches [A-Za-z0-9_-]{1,64}; HL_ERR_INVALID with a
 * message otherwise. */
hl_status hl__tool_name_check(const char *name);

#endif
