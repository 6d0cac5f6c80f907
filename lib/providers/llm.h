/*
 * providers/llm.h - what the HTTP model providers (openai.c, anthropic.c)
 * share: configuration, sending one call with events, error messages.
 * Internal to lib/providers.
 */
#ifndef HL_PROVIDERS_LLM_H
#define HL_PROVIDERS_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "hookline/context.h"
#include "hookline/model.h"
#include "hookline/provider.h"
#include "hookline/status.h"
#include "providers/http.h"
#include "providers/sse.h"

#define HL__LLM_MAGIC 0x686c6c6du /* "hllm" */

typedef struct hl__llm {
  uint32_t magic;
  const char *name;      /* "openai", "anthropic" (static) */
  hl__http *http;
  char *base_url;        /* no trailing '/' */
  char *api_key;         /* NULL: none */
  char *model;           /* default model or NULL */
  char **headers;        /* extra "Name: value" lines */
  size_t n_headers;
  int max_tokens;        /* default max_tokens (Anthropic) */
  char *version;         /* anthropic-version */
} hl__llm;

/* A growable string. Zero-initialise. */
typedef struct hl__buf {
  char *p;
  size_t len, cap;
} hl__buf;
hl_status hl__buf_append(hl__buf *b, const char *s, size_t n);
void hl__buf_free(hl__buf *b);

/* New configuration; base_url/api_key NULL fall back to the environment
 * variables env_base/env_key, then default_base / no key. */
hl__llm *hl__llm_new(const char *name, const char *base_url, const char *env_base,
                     const char *default_base, const char *api_key, const char *env_key);
void hl__llm_free(hl__llm *llm);
/* The configuration behind `provider` if it is an HTTP provider named
 * `name`, else NULL (hl_fail set). */
hl__llm *hl__llm_of(hl_provider *provider, const char *name);

hl_status hl__llm_set_model(hl__llm *llm, const char *model);
hl_status hl__llm_add_header(hl__llm *llm, const char *name, const char *value);
hl_status hl__llm_set_timeouts(hl__llm *llm, long connect_ms, long total_ms, long idle_ms);
hl_status hl__llm_set_retries(hl__llm *llm, int max_retries, long base_ms, long max_ms);
hl_status hl__llm_set_max_response_bytes(hl__llm *llm, size_t max_bytes);

/* The model for `req`: its own or the default; NULL with hl_fail set. */
const char *hl__llm_model(const hl__llm *llm, const hl_request *req);

/* Milliseconds on the monotonic clock, for duration_ms. */
double hl__llm_now_ms(void);

/*
 * Send `payload` to base_url + path with the provider's headers plus
 * `auth` (n_auth lines; they are the only place the key goes). Emits
 * API_REQUEST. When `on_event` is set the 2xx body is parsed as
 * server-sent events as it arrives; otherwise resp->body holds it.
 * A non-2xx answer becomes an error with the mapped status and the
 * server's error.message. On failure returns the status with its message
 * set; resp is cleared by the caller in every case.
 */
hl_status hl__llm_send(hl__llm *llm, hl_context *ctx, const char *path,
                       const char *const *auth, size_t n_auth, const cJSON *payload,
                       hl__sse_event_fn on_event, void *event_user,
                       hl__http_response *resp);

/* Emit API_RESPONSE (data, response, usage, duration, error) and return
 * `st`, keeping its message intact whatever the observers do. */
hl_status hl__llm_finish(hl__llm *llm, hl_context *ctx, double start_ms, const cJSON *data,
                         const hl_response *resp, hl_status st);

/* Parse tool-call arguments text into an object. Empty text is {}.
 * HL_ERR_PROVIDER with a message naming the tool on failure. */
hl_status hl__llm_parse_args(const hl__llm *llm, const char *text, size_t len,
                             const char *tool, const char *id, cJSON **out);

/* Duplicate a string or fail with HL_ERR_NOMEM. */
hl_status hl__llm_strdup(const char *s, char **out);

#endif
