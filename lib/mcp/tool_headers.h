/*
 * lib/mcp/tool_headers.h - custom HTTP headers from tool parameters (MCP
 * 2026-07-28, SEP-2243): a tool's inputSchema property annotated with
 * "x-mcp-header": "Name" has its argument mirrored into an
 * "Mcp-Param-Name" header on tools/call over Streamable HTTP.
 *
 * The checks and the encoding are pure functions of their arguments (no
 * client state), so they are unit- and fuzz-tested on their own;
 * hl__mcp_param_headers() is the glue the HTTP transport calls.
 */
#ifndef HL_MCP_TOOL_HEADERS_H
#define HL_MCP_TOOL_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "hookline/status.h"

typedef struct hl_mcp hl_mcp;

/* Whether every x-mcp-header annotation of `input_schema` is valid: a
 * non-empty HTTP token, case-insensitively unique, on a string, integer or
 * boolean property reached from the root by "properties" keys only. On
 * false, `why` (of `why_size` bytes) says which annotation and what is
 * wrong. A schema without annotations (or not an object) is valid. */
bool hl__tool_headers_valid(const cJSON *input_schema, char *why, size_t why_size);

/* Whether a Mcp-Param-* or Mcp-Name value goes "=?base64?...?="-encoded:
 * anything but visible ASCII and inner spaces, or a value beginning like
 * the encoded form. */
bool hl__mcp_header_needs_base64(const char *value);

/* The header lines for a call with `args` of a tool whose (valid) schema
 * is `input_schema`: "Mcp-Param-Name: value" for every annotated property
 * whose value is present and not null ("Mcp-Param-Name;" for an empty
 * value, libcurl's spelling of a header with nothing after the colon).
 * *block receives one malloc'd block holding the lines (caller frees; NULL
 * when there are none) and *n_lines their count; lines[] (room for `room`)
 * points into it. HL_ERR_INVALID_ARGUMENTS when an annotated value is not
 * a string, boolean or integer within +-(2^53-1), HL_ERR_LIMIT when there
 * are more lines than `room`. */
hl_status hl__tool_header_lines(const cJSON *input_schema, const cJSON *args, const char **lines,
                                size_t room, size_t *n_lines, char **block);

/* The HTTP transport's call: for a tools/call of `tool` (the server's
 * name) whose JSON-RPC request text is `body`, append the tool's
 * Mcp-Param-* lines to hdrs[*n] (at most `room` of them), looking the
 * tool up in the client's last tools/list. A tool not in the list adds
 * nothing. *block as in hl__tool_header_lines(). Thread-safe (takes the
 * client's lock). */
hl_status hl__mcp_param_headers(hl_mcp *m, const char *tool, const char *body, const char **hdrs,
                                size_t *n, size_t room, char **block);

#endif
