/*
 * providers/llm.h - what the HTTP model providers (openai.c, anthropic.c)
 * share: configuration, and the whole of one call (hl__llm_complete())
 * with its events and error messages. A wire format only encodes the
 * request, decodes the answer and assembles its stream (hl__llm_wire).
 * Internal to lib/providers.
 *
 * Thread-safety: an hl__llm is configured (set_*, add_header) before its
 * first request; after that hl__llm_complete() runs on any number of
 * threads at once (each call has its own state; the requests share the
 * process's event loop and connection pool, see http.h).
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

/* Parse tool-call arguments text into an object. Empty text is {}.
 * HL_ERR_PROVIDER with a message naming the tool on failure. */
hl_status hl__llm_parse_args(const hl__llm *llm, const char *text, size_t len,
                             const char *tool, const char *id, cJSON **out);

/* Duplicate a string or fail with HL_ERR_NOMEM. */
hl_status hl__llm_strdup(const char *s, char **out);

/* Add `item` to `array`, or free it; false on allocation failure (item
 * NULL included, so a failed cJSON_Create* can be passed straight in). */
bool hl__llm_push(cJSON *array, cJSON *item);

/* Copy the answer's top-level "id" and "model" into `r` (first one wins:
 * a stream repeats them in every chunk). HL_ERR_NOMEM on failure. */
hl_status hl__llm_set_ids(hl_response *r, const cJSON *j);

/* ------------------------------------------------------------------ */
/* One call, whatever the wire format                                   */
/* ------------------------------------------------------------------ */

/* The state of one streamed answer. A wire format's own stream state
 * starts with this struct, so hl__llm_complete() can set it up. */
typedef struct hl__llm_stream {
  const hl__llm *l;
  hl_context *ctx;   /* for hl_context_emit_delta(); may be NULL */
  hl_response *r;    /* collects id, model, usage, finish; owned here */
  size_t events;     /* events seen, for error messages */
} hl__llm_stream;

/* What a wire format (openai.c, anthropic.c) plugs into hl__llm_complete(). */
typedef struct hl__llm_wire {
  const char *path; /* appended to base_url: "/chat/completions" */
  /* Header line sent before the key (NULL: none); not secret. */
  void (*fixed_header)(const hl__llm *l, char *buf, size_t size);
  const char *key_header; /* the key follows it: "Authorization: Bearer " */
  /* The request payload for `model`; message set on failure. */
  hl_status (*encode)(const hl__llm *l, const hl_request *req, const char *model, cJSON **out);
  /* A whole (2xx, valid JSON) answer into a new response. */
  hl_status (*decode)(const hl__llm *l, const cJSON *body, hl_response **out);
  /* Streaming: the state's size (a struct starting with hl__llm_stream),
   * the SSE event handler (user: that state), the response built from
   * the state once the stream ended well (taking s->r), and freeing what
   * the state holds beyond hl__llm_stream. */
  size_t stream_size;
  hl__sse_event_fn stream_event;
  hl_status (*stream_assemble)(hl__llm_stream *s, hl_response **out);
  void (*stream_free)(hl__llm_stream *s);
} hl__llm_wire;

/*
 * Complete `req` over `w`: pick the model, encode, send with the key
 * header, decode the body or assemble the stream, emit API_RESPONSE.
 * *out: a new response on success (the caller's), else NULL with the
 * status's message set.
 */
hl_status hl__llm_complete(hl__llm *llm, const hl__llm_wire *w, hl_context *ctx,
                           const hl_request *req, hl_response **out);

/* Parse a stream event's data as JSON, or fail with HL_ERR_PROVIDER
 * naming the event's number. */
hl_status hl__llm_parse_event(const hl__llm_stream *s, const char *data, size_t len,
                              cJSON **out);

#endif
