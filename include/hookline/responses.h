/*
 * hookline/responses.h - the OpenAI Responses API provider.
 *
 * Speaks POST {base_url}/responses, the API OpenAI recommends for agents
 * and reasoning models. It encodes the request's system messages as
 * "instructions" and the rest of the history as input items: user and
 * assistant messages, "function_call" items for tool calls,
 * "function_call_output" items for tool results, and the "reasoning"
 * items of earlier answers, sent back exactly as they came. Tools are
 * function tools; tool choice, temperature, max_output_tokens and a JSON
 * Schema answer format (text.format; "strict": true when the schema meets
 * strict mode, as for openai.h) are passed on; images in user messages
 * become input_image parts (image_url: the URL or data: URL); stop
 * sequences have no equivalent in this API and are not sent.
 *
 * Reasoning across a tool loop: every "reasoning" output item becomes an
 * HL_PART_REASONING part of the assistant message (model.h), named
 * "openai-responses", holding the item's JSON (summary, and
 * encrypted_content when include asks for "reasoning.encrypted_content")
 * and its summary text. The agent keeps that message in its history, so
 * the next request of the loop sends the item back verbatim, followed by
 * the function calls it led to (their item ids, fc_..., are kept in the
 * parts' `signature`). With hl_responses_set_store(p, false) the server
 * keeps nothing, and "reasoning.encrypted_content" is requested so that
 * the reasoning can still travel with the history.
 *
 * Answers: output_text and refusal content become text (a refusal also
 * sets HL_FINISH_CONTENT_FILTER), function_call items become tool calls
 * (call_id as the id), other output item types are ignored. Finish:
 * completed is STOP or TOOL_CALLS, incomplete is LENGTH
 * (max_output_tokens) or CONTENT_FILTER (an error, HL_ERR_PROVIDER, when
 * no text or call came, reasoning aside); a "failed" or "cancelled"
 * response, an "error" object in a 2xx body, or a response still
 * "queued"/"in_progress" fail with HL_ERR_PROVIDER and the server's
 * message. Usage: input_tokens (cached_tokens of them in
 * usage.cached_tokens), output_tokens (reasoning_tokens of them in
 * usage.reasoning_tokens).
 *
 * Streaming (req->stream): output items are assembled by output_index
 * from response.output_item.added, response.output_text.delta,
 * response.refusal.delta, response.function_call_arguments.delta/.done
 * and response.output_item.done (the done item wins); the stream ends at
 * response.completed or response.incomplete. An item whose done event
 * never came is taken from that final response's output (by its id,
 * else at its index if of its type), so what only the done item carries
 * (a reasoning item's encrypted_content, a message's annotations) is
 * kept; only when the final output lacks it too is the item rebuilt
 * from its added event and deltas. Items of the final output that never
 * streamed go in at their index. response.failed and "error"
 * events fail the call with the server's message; event types not listed
 * here are ignored. Text deltas go to hl_context_emit_delta(), and the
 * assembled response equals the non-streamed one.
 *
 * Point it at a server:
 *
 *   hl_provider *p = hl_responses_new(NULL, NULL);  // OPENAI_BASE_URL, OPENAI_API_KEY
 *   hl_responses_set_model(p, "gpt-5-mini");
 *   hl_responses_set_reasoning(p, "low", "auto");
 *   hl_agent_set_provider(agent, p);
 *   hl_provider_unref(p);
 *
 * HTTP (timeouts, retries, size cap, cancellation), errors, redaction of
 * the API key, events, lifetime: exactly as for the Chat Completions
 * provider (openai.h). hl_provider_name() is "openai-responses".
 *
 * Thread-safety: a configured provider serves any number of threads at
 * once; configure it (set_* / add_*) before its first request;
 * hl_responses_cancel() is thread-safe.
 */
#ifndef HOOKLINE_RESPONSES_H
#define HOOKLINE_RESPONSES_H

#include <stdbool.h>
#include <stddef.h>
#include "status.h"
#include "provider.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default base URL (the same as Chat Completions'). */
#define HL_RESPONSES_DEFAULT_BASE_URL "https://api.openai.com/v1"

/**
 * New Responses API provider. `base_url` NULL: OPENAI_BASE_URL from the
 * environment, else HL_RESPONSES_DEFAULT_BASE_URL. `api_key` NULL:
 * OPENAI_API_KEY, else none ("" means none). Copied. One reference, the
 * caller's; NULL on allocation failure (hl_last_error() says why).
 */
HL_API hl_provider *hl_responses_new(const char *base_url, const char *api_key);

/** Model used when a request names none (copied; NULL unsets). */
HL_API hl_status hl_responses_set_model(hl_provider *provider, const char *model);

/** "reasoning": {"effort": effort, "summary": summary} for reasoning
 *  models. effort: "minimal", "low", "medium", "high" (passed as given);
 *  summary: "auto", "concise", "detailed". NULL leaves a field out; both
 *  NULL sends no "reasoning" object (the default). Copied into the JSON
 *  payload, so any text is safe; the server judges the values. */
HL_API hl_status hl_responses_set_reasoning(hl_provider *provider, const char *effort,
                                            const char *summary);

/** "store": whether the server keeps the response (the API's default is
 *  true; hookline sends nothing until this is called). With false,
 *  "reasoning.encrypted_content" is added to "include" so that reasoning
 *  items can be carried in the history. */
HL_API hl_status hl_responses_set_store(hl_provider *provider, bool store);

/** Add an entry to "include" (e.g. "reasoning.encrypted_content");
 *  copied; duplicates are sent once. Empty or NULL: HL_ERR_INVALID. */
HL_API hl_status hl_responses_add_include(hl_provider *provider, const char *item);

/** As hl_openai_add_header(). */
HL_API hl_status hl_responses_add_header(hl_provider *provider, const char *name,
                                         const char *value);
/** As hl_openai_set_timeouts(). */
HL_API hl_status hl_responses_set_timeouts(hl_provider *provider, long connect_ms,
                                           long total_ms, long idle_ms);
/** As hl_openai_set_retries(). */
HL_API hl_status hl_responses_set_retries(hl_provider *provider, int max_retries,
                                          long base_delay_ms, long max_delay_ms);
/** As hl_openai_set_max_response_bytes(). */
HL_API hl_status hl_responses_set_max_response_bytes(hl_provider *provider,
                                                     size_t max_bytes);
/** As hl_openai_set_http_version(). */
HL_API hl_status hl_responses_set_http_version(hl_provider *provider, hl_http_version version);
/** As hl_openai_set_ca_file(). */
HL_API hl_status hl_responses_set_ca_file(hl_provider *provider, const char *path);
/** As hl_openai_cancel(). */
HL_API void hl_responses_cancel(hl_provider *provider);

#ifdef __cplusplus
}
#endif
#endif
