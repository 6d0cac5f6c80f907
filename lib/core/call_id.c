/*
 * call_id.c - which tool call the current thread runs, so that a tool can
 * learn its call id (hl_context_tool_call_id) without a new parameter in
 * every tool's signature.
 */
#include "hookline/context.h"
#include "core/tool_internal.h"

_Thread_local const char *hl__tool_call_id;

const char *hl_context_tool_call_id(const hl_context *ctx) {
  if (!ctx || !hl__tool_call_id || !hl__tool_call_id[0]) return NULL;
  return hl__tool_call_id;
}
