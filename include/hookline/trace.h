/*
 * hookline/trace.h - trace context on outgoing HTTP requests.
 *
 * A tracer (the OpenTelemetry exporter, otel.h, or your own) installs one
 * process-wide function that the library calls whenever it builds an HTTP
 * request on behalf of a run: each model provider request (OpenAI,
 * Responses, Anthropic, Gemini) and each MCP request over Streamable
 * HTTP. The function may write one header line, typically the W3C
 * `traceparent` of the span the request belongs to, so that the server's
 * own spans join the run's trace.
 *
 * It is called on the thread that builds the request, which is the
 * thread of the model call or of the tool call (the one whose events the
 * observers just saw), before the request is handed to the event loop.
 * It must be fast, must not block and must be thread-safe.
 *
 * Thread-safety: hl_trace_set_header_fn() is configure-time (before runs
 * start, or after they ended); the library reads the function without a
 * lock.
 */
#ifndef HOOKLINE_TRACE_H
#define HOOKLINE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include "status.h"
#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Write one complete header line without CR/LF ("traceparent: 00-...")
 *  into `line` (`size` bytes, at least 256) and return true, or return
 *  false to add nothing. `ctx` is the run the request belongs to (NULL
 *  for a request made outside a run, such as hl_mcp_connect()). */
typedef bool (*hl_trace_header_fn)(hl_context *ctx, char *line, size_t size, void *user_data);

/** Install `fn` (NULL removes it) with its user_data. Replaces the
 *  previous one: one tracer per process. HL_OK, or HL_ERR_NOMEM. */
HL_API hl_status hl_trace_set_header_fn(hl_trace_header_fn fn, void *user_data);

/** What the library does for each request (for custom HTTP tools that
 *  want the same header): call the installed function, if any. False
 *  when none is installed or it added nothing; `line` is then "". */
HL_API bool hl_trace_header(hl_context *ctx, char *line, size_t size);

#ifdef __cplusplus
}
#endif
#endif
