/*
 * hookline/openai.h - the OpenAI Chat Completions provider.
 *
 * Speaks POST {base_url}/chat/completions, so it serves OpenAI and every
 * OpenAI-compatible server: Ollama, vLLM, llama.cpp server, LM Studio,
 * OpenRouter. It encodes the messages (tool calls as assistant
 * "tool_calls", tool results as "tool" messages), tool declarations
 * (functions with JSON Schema), tool choice, a JSON Schema response format
 * ("response_format": {"type": "json_schema", ...}, with "strict": true
 * when the schema meets strict mode: every object has
 * additionalProperties false and lists all its properties as required),
 * images in user messages (content parts of type image_url; a data: URL
 * goes as it is), temperature,
 * max_tokens and stop; it decodes choice 0 (others are ignored, in a
 * body and in a stream's chunks): text, several parallel tool calls,
 * a refusal (message.refusal, delta.refusal when streamed: the answer's
 * text, finish HL_FINISH_CONTENT_FILTER), finish reason (content_filter
 * with no text or call: HL_ERR_PROVIDER) and usage (prompt_tokens_details.cached_tokens in
 * usage.cached_tokens, completion_tokens_details.reasoning_tokens in
 * usage.reasoning_tokens; a token count that is not a whole number from
 * 0 to 2^53 is ignored: 0). With req->stream it streams over server-sent
 * events (tool-call argument fragments assembled by index, a new id at an
 * index already in use starting a new call, usage through
 * stream_options.include_usage, end at [DONE]): each text fragment goes to
 * hl_context_emit_delta() (RESPONSE delta events and the agent's token
 * callback) and the assembled response equals the non-streamed one.
 *
 * Point it at a server:
 *
 *   // OpenAI (key from OPENAI_API_KEY)
 *   hl_provider *p = hl_openai_new(NULL, NULL);
 *   hl_openai_set_model(p, "gpt-4o-mini");
 *
 *   // Ollama on this machine (no key needed)
 *   hl_provider *p = hl_openai_new("http://localhost:11434/v1", NULL);
 *   hl_openai_set_model(p, "llama3.2");
 *
 *   hl_agent_set_provider(agent, p);
 *   hl_provider_unref(p);
 *
 * Reasoning models (o-series, gpt-5): they refuse "max_tokens"; the
 * provider learns that from the server's error, asks again once with
 * "max_completion_tokens" and keeps using it (or is told either way with
 * hl_openai_set_max_completion_tokens()). hl_openai_set_reasoning_effort()
 * and hl_openai_set_parallel_tool_calls() add those request fields.
 *
 * HTTP (one libcurl layer for every provider, driven by the process's one
 * event loop and connection pool: hookline/pool.h): keep-alive connection
 * reuse across every provider and run of the process, HTTP/2 multiplexing
 * when the server offers it, connect / total / idle timeouts, retries with
 * exponential backoff and jitter on connection errors and HTTP
 * 408/409/429/5xx honouring Retry-After (never on other 4xx, never after
 * streamed text reached the application), a response size cap, and
 * cancellation: hl_agent_cancel() on the running agent, or
 * hl_openai_cancel() on the provider, wakes the loop, which ends the
 * request at once (nothing polls).
 *
 * Which thread runs what: a call blocks the thread that made it (the
 * agent's run thread, or yours for hl_provider_complete()) while the
 * process's event loop does the network work: on the library's loop
 * thread, or, when no other request is in flight, on the calling thread
 * itself (it drives the loop until its answer is there, which saves two
 * thread hand-offs per request). Every
 * piece of code a call runs on your behalf runs on the calling thread:
 * decoding the answer, the streamed deltas (hl_context_emit_delta(): the
 * RESPONSE delta events, observers and the agent's token callback) and the
 * API_REQUEST / API_RESPONSE events. The loop thread runs no application
 * code; a slow observer or token callback slows only its own call (the
 * transfer is paused once 1 MiB waits unconsumed).
 *
 * Errors: HL_ERR_AUTH (401/403), HL_ERR_RATE_LIMIT (429 after every
 * retry, or at once when its Retry-After asks for longer than the retry
 * maximum: the message says how long it asked), HL_ERR_HTTP (other
 * statuses), HL_ERR_NETWORK, HL_ERR_TIMEOUT, HL_ERR_TOO_LARGE,
 * HL_ERR_CANCELLED, HL_ERR_PROVIDER (a malformed response, e.g. tool-call
 * arguments that are not a JSON object; a reply that is not HTTP, quoted;
 * a 2xx that is neither the JSON nor the event stream asked for, with its
 * Content-Type and the start of its body quoted, bounded and redacted).
 * The message names the provider and the URL and carries the server's
 * error.message. The API key never appears in a message, a log line or an
 * event: it is sent in the Authorization header only and every occurrence
 * of it in a server's answer is replaced by "[REDACTED]": in error
 * messages, and in a 2xx answer's decoded body (API_RESPONSE's data), the
 * response (texts, ids, model, tool arguments, signatures, reasoning) and
 * the message of a body that fails to decode. One limit: a streamed
 * fragment (RESPONSE delta event, token callback, model_chunk) is passed
 * on as it arrives, so a key the server spells across fragments reaches
 * those; the assembled answer and its events are redacted.
 *
 * Events (when called by an agent): API_REQUEST with the wire payload as
 * `data`; API_RESPONSE with the decoded body as `data` (for a stream:
 * hookline's neutral response JSON), the response, usage, duration_ms and
 * the error of a failed call.
 *
 * Lifetime: the functions returning hl_provider* give one reference, the
 * caller's (hl_provider_unref()).
 *
 * Thread-safety: a configured provider serves any number of threads and
 * agents at once (their requests share the process's connection pool). The
 * hl_openai_set_* / add_* functions are not thread-safe: configure the
 * provider before its first request. hl_openai_cancel() is thread-safe.
 */
#ifndef HOOKLINE_OPENAI_H
#define HOOKLINE_OPENAI_H

#include <stdbool.h>
#include <stddef.h>
#include "status.h"
#include "provider.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default base URL. */
#define HL_OPENAI_DEFAULT_BASE_URL "https://api.openai.com/v1"

/**
 * New OpenAI-compatible provider. `base_url` NULL: the OPENAI_BASE_URL
 * environment variable, else HL_OPENAI_DEFAULT_BASE_URL. `api_key` NULL:
 * the OPENAI_API_KEY environment variable, else no key (fine for local
 * servers); "" means no key. Both strings are copied. NULL on allocation
 * failure (hl_last_error() says why).
 */
HL_API hl_provider *hl_openai_new(const char *base_url, const char *api_key);

/** Model used when a request names none (copied; NULL unsets). A request
 *  with no model and no default fails with HL_ERR_INVALID. */
HL_API hl_status hl_openai_set_model(hl_provider *provider, const char *model);

/** Add an HTTP header sent with every request ("OpenAI-Organization",
 *  "HTTP-Referer"...). Copied. Name without ':' or line breaks, value
 *  without line breaks: HL_ERR_INVALID otherwise. */
HL_API hl_status hl_openai_add_header(hl_provider *provider, const char *name,
                                      const char *value);

/** Timeouts in milliseconds, each 0 for "none" and < 0 for "leave as is":
 *  connect (default 10 000), total for one attempt (default 600 000), and
 *  idle: no byte received for that long, also before the first one
 *  (default 120 000). */
HL_API hl_status hl_openai_set_timeouts(hl_provider *provider, long connect_ms,
                                        long total_ms, long idle_ms);

/** Retries after the first attempt (default 3), the first backoff (default
 *  500 ms, doubling each retry, with jitter) and the longest single wait
 *  including Retry-After (default 60 000 ms). < 0 leaves a value as is. */
HL_API hl_status hl_openai_set_retries(hl_provider *provider, int max_retries,
                                       long base_delay_ms, long max_delay_ms);

/** Largest response body accepted, in bytes (default 8 MiB; 0 = no cap).
 *  A larger response fails with HL_ERR_TOO_LARGE. */
HL_API hl_status hl_openai_set_max_response_bytes(hl_provider *provider, size_t max_bytes);

/** HTTP version of the provider's requests (hl_http_version, hookline/pool.h):
 *  HL_HTTP_VERSION_AUTO (default: HTTP/2 by ALPN over https://, HTTP/1.1
 *  over http://), HL_HTTP_VERSION_1_1, or HL_HTTP_VERSION_2 (over http://
 *  with prior knowledge, h2c: concurrent requests become streams of a few
 *  connections). HL_ERR_INVALID for another value or another provider.
 *  Not thread-safe: set it before the first request (as every setter). */
HL_API hl_status hl_openai_set_http_version(hl_provider *provider, hl_http_version version);

/** Trust the CA certificates of the PEM file `path` for this provider's
 *  https:// requests, instead of the system's store: for a server whose
 *  certificate comes from a private CA (a corporate proxy, a self-signed
 *  test or on-premises server). Verification of the server's certificate
 *  and host name stays on, always. NULL or "" goes back to the system's
 *  store (the default).
 *
 *  The file is checked now: HL_ERR_NOT_FOUND when it does not exist,
 *  HL_ERR_IO when it cannot be read, HL_ERR_INVALID when it holds no PEM
 *  certificate (or for another provider), each with a message naming the
 *  file and the reason; the provider keeps its previous setting then. A
 *  request to a server whose certificate the file does not vouch for
 *  fails with HL_ERR_NETWORK and a message saying "TLS certificate of
 *  <url> not verified by the CA file <path>" with the TLS library's reason.
 *  HTTP/2 multiplexing (hookline/pool.h) is unaffected: requests that
 *  trust the same file share connections.
 *
 *  Ownership: `path` is copied; the file itself is read by libcurl when
 *  it makes a connection (it may cache what it read), so keep it in place
 *  while the provider is used. Not thread-safe: set it
 *  before the first request (as every setter). Config files:
 *  "ca_file" in the provider section (hookline/config.h). */
HL_API hl_status hl_openai_set_ca_file(hl_provider *provider, const char *path);

/** Which field carries the request's max_tokens. By default "max_tokens"
 *  until a server refuses it the way OpenAI's reasoning models do (an
 *  error naming "max_completion_tokens"): then the request is sent again
 *  once with "max_completion_tokens", which this provider keeps using.
 *  true: always "max_completion_tokens"; false: always "max_tokens" (no
 *  detection). */
HL_API hl_status hl_openai_set_max_completion_tokens(hl_provider *provider, bool use);

/** "reasoning_effort" sent with every request ("minimal", "low",
 *  "medium", "high"; copied, passed as given); NULL stops sending it. */
HL_API hl_status hl_openai_set_reasoning_effort(hl_provider *provider, const char *effort);

/** "parallel_tool_calls" sent with every request that declares tools
 *  (the API refuses it without). Not sent until this is called. */
HL_API hl_status hl_openai_set_parallel_tool_calls(hl_provider *provider, bool parallel);

/** Cancel every request of this provider in progress (any thread): they
 *  return HL_ERR_CANCELLED promptly. Requests started later are not
 *  affected. Does nothing for a provider that is not an OpenAI one. */
HL_API void hl_openai_cancel(hl_provider *provider);

#ifdef __cplusplus
}
#endif
#endif
