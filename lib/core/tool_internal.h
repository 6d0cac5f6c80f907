/*
 * lib/core/tool_internal.h - tool helpers shared inside the library (lib/core;
 * lib/agent, whose hl_tool_invoke() runs the function through hl__tool_run).
 */
#ifndef HL_CORE_TOOL_INTERNAL_H
#define HL_CORE_TOOL_INTERNAL_H

#include <stdbool.h>
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

/* Replace `tool`'s schema with `schema` (taken; an object), declared to
 * the model as it is, without hl_schema_check(): a schema from elsewhere
 * (an MCP server's) that may use keywords hookline does not enforce. With
 * `enforce` the arguments are validated against it (the caller made sure
 * hl__schema_check_lenient() passes); without, they are not (whoever
 * runs the tool validates). Configure time only, like hl_tool_set_schema. */
void hl__tool_declare_schema(hl_tool *tool, cJSON *schema, bool enforce);

/* Validate `args` against `tool`'s schema, unless it is not enforced
 * (hl__tool_declare_schema); hl_schema_validate()'s status and message. */
hl_status hl__tool_validate(const hl_tool *tool, const cJSON *args);

/* Run `tool`'s function once on this thread, with no validation and no
 * time limit. Guarantees the contract callers rely on: a failure always
 * has a message and the matching status in hl_last_error()/
 * hl_last_status(), and success always has a result in *out (the
 * caller's; JSON null when the function set none). Any thread; the tool
 * must stay alive for the call. */
hl_status hl__tool_run(hl_tool *tool, hl_context *ctx, const cJSON *args, cJSON **out);

/* How long `tool`'s calls take: hl__tool_note_ns() after each call (the
 * time between TOOL_START and TOOL_END), hl__tool_expected_ns() for the
 * estimate, 0 when no call was measured yet. The parallel calls of one
 * response run one after another on the run's thread when their tools'
 * estimates say that waking a worker would cost more than it saves
 * (lib/agent/tool_exec.c). Any thread, no lock; NULL ignored (0). */
void hl__tool_note_ns(hl_tool *tool, long long ns);
long long hl__tool_expected_ns(const hl_tool *tool);

#endif
