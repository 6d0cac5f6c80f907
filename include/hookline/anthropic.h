/*
 * hookline/anthropic.h - the Anthropic Messages provider.
 *
 * Speaks POST {base_url}/messages with the x-api-key and anthropic-version
 * headers. It encodes the system prompt (the request's system messages),
 * the conversation as content blocks (text, tool_use, tool_result: tool
 * results travel in a user message, consecutive messages of one role are
 * merged as the API requires), tools with input_schema, tool choice,
 * max_tokens (required by the API: the request's, else the provider's
 * default, 4096), temperature, stop sequences and images in user messages (a data: URL as
 * a base64 source, any other URL as a url source).
 *
 * Structured output (a request's response_schema) travels as a forced
 * tool call: a tool named after the response format ("response" when it
 * has no name) whose input_schema is the schema, with tool_choice naming
 * it (or "any" when the request has tools of its own, so the model may
 * call them first); the call's input comes back as the answer, one text
 * part holding its JSON, finish STOP. A tool of the request with that
 * name is refused (HL_ERR_INVALID). With extended thinking, which the API
 * does not allow with a forced choice, the system prompt asks for the
 * call instead.
 *
 * Extended thinking (hl_anthropic_set_thinking()): thinking and
 * redacted_thinking blocks come back as HL_PART_REASONING parts named
 * "anthropic" holding the block as it came (`args`; `text` is the
 * thinking, `signature` its signature) and are sent back unchanged, in
 * their place, in the next request of a tool loop, as the API requires;
 * other providers leave them out.
 *
 * Prompt caching (hl_anthropic_set_prompt_caching()): cache_control
 * breakpoints ({"type":"ephemeral"}) on the system prompt (then sent as a
 * block list), the last tool and the last block of the conversation so
 * far.
 *
 * It decodes text, tool_use and thinking blocks, the stop reason
 * (end_turn and stop_sequence: HL_FINISH_STOP; tool_use; max_tokens and
 * model_context_window_exceeded: HL_FINISH_LENGTH; refusal:
 * HL_FINISH_CONTENT_FILTER with the words that came, HL_ERR_PROVIDER when
 * none did, thinking aside; pause_turn: see below) and usage
 * (input tokens include the cache reads and writes, which are also in
 * usage.cached_tokens and usage.cache_creation_tokens; a count that is
 * not a whole number from 0 to 2^53 is ignored as if absent). With
 * req->stream it reads the event stream (message_start,
 * content_block_start/delta/stop with text_delta, input_json_delta,
 * thinking_delta and signature_delta, message_delta, message_stop, ping,
 * error): text fragments go to hl_context_emit_delta() and the assembled
 * response equals the non-streamed one. Blocks of other kinds (a server
 * tool's server_tool_use and results, future kinds) and their deltas are
 * left out of the answer, streamed or not.
 *
 * A paused turn (stop_reason pause_turn, which a server tool's long run
 * causes, such as a web search the request's options declared) is
 * continued inside the same model call, as the API asks: a new request,
 * the same one with the paused content (every block as it came, server
 * tool blocks and citations too) as an assistant message at its end,
 * and after a further pause with all of it so far. The answer is the
 * paused parts' words, calls and thinking followed by the last part's,
 * its usage the sum of all; each HTTP request has its own API_REQUEST
 * and API_RESPONSE events. At most 8 continuations: a ninth pause is
 * HL_ERR_PROVIDER ("paused its turn 9 times"). Streamed, the deltas of
 * every part reach hl_context_emit_delta() as they come.
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

#include <stdbool.h>
#include <stddef.h>
#include "status.h"
#include "provider.h"
#include "pool.h"

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
/** Extended thinking with a budget of `budget_tokens` (>= 1024, below
 *  max_tokens as the API requires); 0 turns it off (the default). Sent as
 *  "thinking": {"type":"enabled","budget_tokens":N}. */
HL_API hl_status hl_anthropic_set_thinking(hl_provider *provider, int budget_tokens);
/** Prompt caching on or off (default off): cache_control breakpoints on
 *  the system prompt, the tool list and the conversation so far. */
HL_API hl_status hl_anthropic_set_prompt_caching(hl_provider *provider, bool on);
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
/** As hl_openai_set_http_version(). */
HL_API hl_status hl_anthropic_set_http_version(hl_provider *provider, hl_http_version version);
/** As hl_openai_set_ca_file(). */
HL_API hl_status hl_anthropic_set_ca_file(hl_provider *provider, const char *path);
/** As hl_openai_cancel(). */
HL_API void hl_anthropic_cancel(hl_provider *provider);

#ifdef __cplusplus
}
#endif
#endif
