/*
 * hookline/anthropic.h - the Anthropic Messages provider.
 *
 * Speaks POST {base_url}/messages with the x-api-key and anthropic-version
 * headers. It encodes the system prompt (the request's system messages),
 * the conversation as content blocks (text, tool_use, tool_result: tool
 * results travel in a user message, consecutive messages of one role are
 * merged as the API requires), tools with input_schema, tool choice,
 * max_tokens (required by the API: the request's, else the provider's
 * default, 4096), temperature and stop sequences. A JSON Schema response
 * format has no direct equivalent: the schema is appended to the system
 * prompt as an instruction. It decodes text, tool_use blocks, stop reason
 * and usage (input tokens include the cache reads and writes; a count
 * that is not a whole number from 0 to 2^53 is ignored as if absent). With req->stream it reads the event stream (message_start,
 * content_block_start/delta/stop with text_delta and input_json_delta,
 * message_delta, message_stop, ping, error): text fragments go to
 * hl_context_emit_delta() and the assembled response equals the
 * non-streamed one.
 *
 * Point it at a server:
 *
 *   // Anthropic (key from ANTHROPIC_API_KEY)
 *   hl_provider *p = hl_anthropic_new(NULL, NULL);
 *   hl_anthropic_set_model(p, "claude-sonnet-4-5");
 *   hl_agent_set_provider(agent, p);
 *   hl_provider_unref(p);
 *
 * HTTP, errors, redaction of the API key, events, lifetime and
 * thread-safety: exactly as for the OpenAI provider (openai.h); an
 * "overloaded_error" (HTTP 529) is retried like any 5xx.
 *
 * Thread-safety: a configured provider serves any number of threads at
 * once; configure it (set_* / add_*) before its first request;
 * hl_anthropic_cancel() is thread-safe.
 */
#ifndef HOOKLINE_ANTHROPIC_H
#define HOOKLINE_ANTHROPIC_H

#include <stddef.h>
#include "status.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HL_ANTHROPIC_DEFAULT_BASE_URL "https://api.anthropic.com/v1"
#define HL_ANTHROPIC_DEFAULT_VERSION "2023-06-01"

/**
 * New Anthropic provider. `base_url` NULL: ANTHROPIC_BASE_URL from the
 * environment, else HL_ANTHROPIC_DEFAULT_BASE_URL. `api_key` NULL:
 * ANTHROPIC_API_KEY from the environment, else none ("" means none).
 * Copied. One reference, the caller's; NULL on allocation failure.
 */
HL_API hl_provider *hl_anthropic_new(const char *base_url, const char *api_key);

/** Model used when a request names none (copied; NULL unsets). */
HL_API hl_status hl_anthropic_set_model(hl_provider *provider, const char *model);
/** max_tokens sent when the request has none (default 4096; must be > 0). */
HL_API hl_status hl_anthropic_set_max_tokens(hl_provider *provider, int max_tokens);
/** The anthropic-version header (default HL_ANTHROPIC_DEFAULT_VERSION). Copied. */
HL_API hl_status hl_anthropic_set_version(hl_provider *provider, const char *version);
/** Extra header for every request ("anthropic-beta"...). As hl_openai_add_header(). */
HL_API hl_status hl_anthropic_add_header(hl_provider *provider, const char *name,
                                         const char *value);
/** As hl_openai_set_timeouts(). */
HL_API hl_status hl_anthropic_set_timeouts(hl_provider *provider, long connect_ms,
                                           long total_ms, long idle_ms);
/** As hl_openai_set_retries(). */
HL_API hl_status hl_anthropic_set_retries(hl_provider *provider, int max_retries,
                                          long base_delay_ms, long max_delay_ms);
/** As hl_openai_set_max_response_bytes(). */
HL_API hl_status hl_anthropic_set_max_response_bytes(hl_provider *provider,
                                                     size_t max_bytes);
/** As hl_openai_cancel(). */
HL_API void hl_anthropic_cancel(hl_provider *provider);

#ifdef __cplusplus
}
#endif
#endif
