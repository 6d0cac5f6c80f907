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

/* A context handed to a tool call that outlives its time limit (the call
 * goes on, abandoned, on a detached thread) must stay valid until the call
 * returns. Contexts belong to the agent layer, which installs how to keep
 * one (context.c, before the first context exists); lib/core knows nothing
 * else about them. Without a keeper nothing is kept (no context exists). */
typedef struct hl__ctx_keeper {
  void (*retain)(hl_context *ctx);
  void (*release)(hl_context *ctx);
} hl__ctx_keeper;
void hl__tool_set_ctx_keeper(const hl__ctx_keeper *keeper);

/* The id of the tool call running on this thread ("" or NULL: none), set
 * by the agent around a tool's function and carried to the worker thread
 * of a call with a time limit; read by hl_context_tool_call_id(). */
extern _Thread_local const char *hl__tool_call_id;

#endif
