/*
 * hookline/gemini.h - the Google Gemini API provider.
 *
 * Speaks POST {base_url}/models/{model}:generateContent, and
 * :streamGenerateContent?alt=sse when the request streams, with the key
 * in the x-goog-api-key header (never in the URL, never in a log). It
 * encodes the request's system messages as "systemInstruction", the
 * history as "contents" with roles "user" and "model" (consecutive
 * messages of one role merged), tool calls as functionCall parts and tool
 * results as functionResponse parts (the result's JSON object as the
 * response, other text as {"result": text}, a failed tool's text as
 * {"error": text}), tools as one functionDeclarations list, tool choice
 * as toolConfig.functionCallingConfig (NONE, ANY, ANY with
 * allowedFunctionNames), and temperature, max_tokens, stop sequences and
 * a JSON Schema answer (responseMimeType application/json +
 * responseJsonSchema, which takes JSON Schema as it is, where the older
 * responseSchema takes only an OpenAPI subset) in generationConfig.
 * Images in user messages: a data: URL as inlineData (mimeType, data),
 * another URL as fileData (fileUri, and mimeType when the part has one).
 *
 * Thought signatures: a part of the answer that carries a
 * thoughtSignature keeps it in hl_part.signature (model.h); the agent's
 * history gives it back on the same part in the next request, as Gemini 3
 * requires in tool loops. Thought summaries (parts with "thought": true,
 * when includeThoughts is on) become HL_PART_REASONING parts named
 * "gemini" and go back as they came. Function-call ids the API did not
 * give are made up as "gemini-call-N" and not sent back.
 *
 * Answers: the candidate with index 0 (others are ignored). Finish: STOP
 * is STOP (TOOL_CALLS when the answer calls tools), MAX_TOKENS is LENGTH,
 * SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, LANGUAGE and
 * the IMAGE_ filters are CONTENT_FILTER, MALFORMED_FUNCTION_CALL, the
 * other tool errors, MALFORMED_RESPONSE and MISSING_THOUGHT_SIGNATURE are
 * ERROR, OTHER and the rest UNKNOWN. A prompt blocked by
 * promptFeedback.blockReason, a candidate that ends with no text or call
 * (thoughts aside) for any reason but MAX_TOKENS, and an "error" object in a
 * 2xx body or in the stream fail with HL_ERR_PROVIDER and the reason
 * ("gemini: no answer (finishReason SAFETY)"). STOP is no exception: a
 * candidate with no content, no parts, only empty text or only thoughts
 * that ends with STOP is how the API reports some blocked or failed
 * generations, so it fails too ("no answer (finishReason STOP, with no
 * text or call)"), streamed or not, as an answer filtered before any
 * word does in every format. MAX_TOKENS with nothing (the thinking took
 * the budget) is an empty answer, finish LENGTH. Usage: input = promptTokenCount + toolUsePromptTokenCount
 * (cachedContentTokenCount of them in usage.cached_tokens), output =
 * candidatesTokenCount + thoughtsTokenCount (the latter also in
 * usage.reasoning_tokens).
 *
 * Streaming: each server-sent event is a partial answer; text fragments
 * go to hl_context_emit_delta() and are joined, function calls and
 * signatures kept in order; the stream must end with a finishReason. The
 * assembled response equals the non-streamed one.
 *
 *   hl_provider *p = hl_gemini_new(NULL, NULL);   // key from GOOGLE_API_KEY or GEMINI_API_KEY
 *   hl_gemini_set_model(p, "gemini-2.5-flash");
 *   hl_agent_set_provider(agent, p);
 *   hl_provider_unref(p);
 *
 * HTTP (timeouts, retries, size cap, cancellation), errors, redaction of
 * the API key, events, lifetime: exactly as for the OpenAI provider
 * (openai.h). hl_provider_name() is "gemini".
 *
 * Thread-safety: a configured provider serves any number of threads at
 * once; configure it (set_* / add_*) before its first request;
 * hl_gemini_cancel() is thread-safe.
 */
#ifndef HOOKLINE_GEMINI_H
#define HOOKLINE_GEMINI_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "provider.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HL_GEMINI_DEFAULT_BASE_URL "https://generativelanguage.googleapis.com/v1beta"

/**
 * New Gemini provider. `base_url` NULL: GEMINI_BASE_URL from the
 * environment, else HL_GEMINI_DEFAULT_BASE_URL. `api_key` NULL:
 * GOOGLE_API_KEY, else GEMINI_API_KEY (Google's SDKs prefer the former
 * too), else none; "" means none. Copied. One reference, the caller's;
 * NULL on allocation failure (hl_last_error() says why).
 */
HL_API hl_provider *hl_gemini_new(const char *base_url, const char *api_key);

/** Model used when a request names none ("gemini-2.5-flash"; a leading
 *  "models/" is accepted). Copied; NULL unsets. A model name with
 *  characters unfit for a URL path fails the request with HL_ERR_INVALID. */
HL_API hl_status hl_gemini_set_model(hl_provider *provider, const char *model);

/** generationConfig.thinkingConfig sent with every request, e.g.
 *  {"thinkingBudget": 1024, "includeThoughts": true} or
 *  {"thinkingLevel": "low"}. Deep-copied; NULL removes it; not an object:
 *  HL_ERR_INVALID. */
HL_API hl_status hl_gemini_set_thinking(hl_provider *provider, const cJSON *thinking_config);

/** As hl_openai_add_header(). */
HL_API hl_status hl_gemini_add_header(hl_provider *provider, const char *name,
                                      const char *value);
/** As hl_openai_set_timeouts(). */
HL_API hl_status hl_gemini_set_timeouts(hl_provider *provider, long connect_ms,
                                        long total_ms, long idle_ms);
/** As hl_openai_set_retries(). */
HL_API hl_status hl_gemini_set_retries(hl_provider *provider, int max_retries,
                                       long base_delay_ms, long max_delay_ms);
/** As hl_openai_set_max_response_bytes(). */
HL_API hl_status hl_gemini_set_max_response_bytes(hl_provider *provider, size_t max_bytes);
/** As hl_openai_set_http_version(). */
HL_API hl_status hl_gemini_set_http_version(hl_provider *provider, hl_http_version version);
/** As hl_openai_set_ca_file(). */
HL_API hl_status hl_gemini_set_ca_file(hl_provider *provider, const char *path);
/** As hl_openai_cancel(). */
HL_API void hl_gemini_cancel(hl_provider *provider);

#ifdef __cplusplus
}
#endif
#endif
