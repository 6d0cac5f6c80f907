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

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "hookline/context.h"
#include "hookline/model.h"
#include "hookline/provider.h"
#include "hookline/status.h"
#include "core/util.h"
#include "net/http.h"
#include "net/sse.h"

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
  const struct hl__llm_wire *wire; /* set by hl__llm_provider_new() */
  int max_tokens_field;  /* Chat Completions: HL__LLM_MAX_TOKENS_*; read and
                            written with __atomic builtins (a request may
                            learn it while others encode) */
  cJSON *options;        /* provider options the encoder reads (Responses'
                            reasoning/store/include, Gemini's thinkingConfig),
                            or NULL */
  unsigned flags;        /* provider-specific switches its encoder reads
                            (Anthropic: HL__ANTHROPIC_CACHE) */
  /* The request URL and key header line of calls through one wire, made
   * by the first call and shared by all (llm.c, target_of()); read and
   * written with __atomic builtins. NULL: not made yet. */
  struct hl__llm_target *target;
} hl__llm;

/* hl__llm.flags of the Anthropic provider: cache_control breakpoints. */
#define HL__ANTHROPIC_CACHE 1u

/* Which field carries the request's max_tokens (Chat Completions). */
#define HL__LLM_MAX_TOKENS_AUTO 0       /* max_tokens until the server refuses it */
#define HL__LLM_MAX_TOKENS 1            /* always max_tokens */
#define HL__LLM_MAX_COMPLETION_TOKENS 2 /* always max_completion_tokens */

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
/* hl_http_version (hookline/pool.h); HL_ERR_INVALID for another value. */
hl_status hl__llm_set_http_version(hl__llm *llm, int version);
/* The CA file trusted for https:// (hl__http_set_ca_file(); NULL: the
 * system's store). */
hl_status hl__llm_set_ca_file(hl__llm *llm, const char *path);

/* Set options[key] = value (taken, also on failure; NULL removes key). */
hl_status hl__llm_set_option(hl__llm *llm, const char *key, cJSON *value);

/* Copy every option into `payload` (replacing fields of the same name). */
hl_status hl__llm_apply_options(const hl__llm *llm, cJSON *payload);

/* Pieces of a request body written straight into a buffer (a wire's
 * `write`), each the text a cJSON tree of it would print
 * (hl__json_print_exact()): `s` as it is (a literal fragment); "k": (the
 * caller writes the value); a number as cJSON_CreateNumber() stores it
 * and the printer prints it. Inline: a writer calls them a few times
 * per part, and out of line they cost Chat Completions' writer ~8 % more
 * instructions. */
static inline void hl__llm_lit(hl__jbuf *b, const char *s) { hl__jbuf_raw(b, s, strlen(s)); }

static inline void hl__llm_key(hl__jbuf *b, const char *k) {
  hl__jbuf_string(b, k);
  hl__jbuf_raw(b, ":", 1);
}

static inline void hl__llm_number(hl__jbuf *b, double d) {
  cJSON n;
  memset(&n, 0, sizeof n);
  n.type = cJSON_Number;
  n.valuedouble = d;
  n.valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
  hl__jbuf_value(b, &n);
}

/* A body's top-level fields for a writer: each written as ,"key": by
 * hl__llm_field() after the object's '{' (at b->len == `open`), unless a
 * provider option (hl__llm_set_option) replaces it (false: the caller
 * writes no value); hl__llm_close_fields() then writes the options, as
 * hl__llm_apply_options() puts them at the end of a tree (but the one
 * named `skip`, NULL for none), the closing '}', and drops the comma
 * before the first field. */
static inline bool hl__llm_field(hl__jbuf *b, const hl__llm *l, const char *k) {
  if (l->options && cJSON_GetObjectItemCaseSensitive(l->options, k)) return false;
  hl__jbuf_raw(b, ",", 1);
  hl__llm_key(b, k);
  return true;
}
void hl__llm_close_fields(hl__jbuf *b, const hl__llm *l, size_t open, const char *skip);

/* A tool declaration's "name":..,"description":.. (when it has one) and
 * its schema after `schema_key` (",\"parameters\":"): `schema_text`
 * (`schema_len` bytes: a tool's own schema as it printed it,
 * hl__request_tool_schema_text()) when not NULL, else `parameters`
 * printed, else an empty object schema. No braces around them. */
void hl__llm_write_decl(hl__jbuf *b, const char *name, const char *description,
                        const char *schema_key, const char *schema_text, size_t schema_len,
                        const cJSON *parameters);

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
  /* Instead of `path`, when the path depends on the model or on
   * streaming (Gemini's /models/{model}:generateContent): write it into
   * buf; message set on failure (a model name unfit for a URL). */
  hl_status (*make_path)(const hl__llm *l, const char *model, bool stream, char *buf,
                         size_t size);
  /* Header line sent before the key (NULL: none); not secret. */
  void (*fixed_header)(const hl__llm *l, char *buf, size_t size);
  const char *key_header; /* the key follows it: "Authorization: Bearer " */
  /* The request payload for `model`; message set on failure. A wire
   * sets one of the two: `encode` builds a tree (printed for the body),
   * `write` writes the body's text straight into `b` (no tree; the one
   * an API_REQUEST observer gets is parsed back from the text, only when
   * one listens). */
  hl_status (*encode)(const hl__llm *l, const hl_request *req, const char *model, cJSON **out);
  hl_status (*write)(const hl__llm *l, const hl_request *req, const char *model, hl__jbuf *b);
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

/*
 * The same call without blocking (hl_provider_ops.start): encodes `req`
 * and emits API_REQUEST on the calling thread, then the process's event
 * loop sends it; the stream is decoded (deltas, model_chunk hooks), the
 * answer assembled, API_RESPONSE emitted and `done` called on the loop
 * thread, exactly once. HL_OK once started; otherwise the status with its
 * message set and `done` is never called. `req` must stay valid until
 * `done` runs (a retry with other fields re-encodes it).
 */
hl_status hl__llm_start(hl__llm *llm, const hl__llm_wire *w, hl_context *ctx,
                        const hl_request *req, hl_provider_done_fn done, void *user);

/* Set *out to obj[key] when it is a token count a JSON number carries
 * exactly (a whole number from 0 to 2^53); leave it alone otherwise
 * (absent, negative, fractional, huge: a hostile server's count). */
void hl__llm_token_count(const cJSON *obj, const char *key, int64_t *out);

/* The public functions every HTTP provider has besides its constructor,
 * defined once for a provider whose static name array is `name`:
 * hl_<prefix>_set_model, _add_header, _set_timeouts, _set_retries,
 * _set_max_response_bytes, _set_http_version, _set_ca_file and _cancel (documented in
 * openai.h). */
#define HL__LLM_COMMON_API(prefix, name)                                                     \
  hl_status hl_##prefix##_set_model(hl_provider *p, const char *model) {                     \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_set_model(l, model) : HL_ERR_INVALID;                                 \
  }                                                                                          \
  hl_status hl_##prefix##_add_header(hl_provider *p, const char *hname, const char *value) { \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_add_header(l, hname, value) : HL_ERR_INVALID;                         \
  }                                                                                          \
  hl_status hl_##prefix##_set_timeouts(hl_provider *p, long c_ms, long t_ms, long i_ms) {    \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_set_timeouts(l, c_ms, t_ms, i_ms) : HL_ERR_INVALID;                   \
  }                                                                                          \
  hl_status hl_##prefix##_set_retries(hl_provider *p, int n, long base_ms, long max_ms) {    \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_set_retries(l, n, base_ms, max_ms) : HL_ERR_INVALID;                  \
  }                                                                                          \
  hl_status hl_##prefix##_set_max_response_bytes(hl_provider *p, size_t max_bytes) {         \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_set_max_response_bytes(l, max_bytes) : HL_ERR_INVALID;                \
  }                                                                                          \
  hl_status hl_##prefix##_set_http_version(hl_provider *p, hl_http_version version) {        \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_set_http_version(l, (int)version) : HL_ERR_INVALID;                   \
  }                                                                                          \
  hl_status hl_##prefix##_set_ca_file(hl_provider *p, const char *path) {                    \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    return l ? hl__llm_set_ca_file(l, path) : HL_ERR_INVALID;                                \
  }                                                                                          \
  void hl_##prefix##_cancel(hl_provider *p) {                                                \
    hl__llm *l = hl__llm_of(p, name);                                                        \
    if (l) hl__http_cancel_all(l->http);                                                     \
    else hl_clear_error();                                                                   \
  }

/* A whole provider over `wire`: the configuration (arguments as
 * hl__llm_new(), the name from ops->name) inside an hl_provider whose
 * static `ops` has that name array (it identifies the provider, see
 * hl__llm_of()), .complete = hl__llm_provider_complete and .destroy =
 * hl__llm_provider_destroy. One reference, the caller's; NULL with
 * hl_fail set. */
hl_provider *hl__llm_provider_new(const hl_provider_ops *ops, const hl__llm_wire *wire,
                                  const char *base_url, const char *env_base,
                                  const char *default_base, const char *api_key,
                                  const char *env_key);
hl_status hl__llm_provider_complete(void *impl, hl_context *ctx, const hl_request *req,
                                    hl_response **out);
void hl__llm_provider_destroy(void *impl);
hl_status hl__llm_provider_start(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_provider_done_fn done, void *user);

/* Element `index` (a JSON number from the stream, untrusted) of the
 * growable array *items of *n elements of `size` bytes, grown with zeroed
 * elements as needed. NULL with hl_fail set when the index is missing,
 * not a whole number, or >= max ("stream event N has a bad <what>"), or
 * on allocation failure. */
void *hl__llm_slot(const hl__llm_stream *s, void **items, size_t *n, size_t size,
                   const cJSON *index, size_t max, const char *what);

/* Does `m` hold any of an answer: a text part with text, or a tool
 * call? (Reasoning alone is none: a filtered answer with no word of it
 * is an error in every format, not an empty answer.) */
bool hl__llm_has_answer(const hl_message *m);

/* Does `schema` meet OpenAI's strict mode (every object closed with
 * additionalProperties false, every property required)? (strict.c) */
bool hl__llm_schema_strict_ok(const cJSON *schema);

/* Replace every occurrence of the API key in the strings of `data` and
 * `r` (either may be NULL) by "[REDACTED]" (redact.c). HL_ERR_NOMEM on
 * allocation failure. */
hl_status hl__llm_redact(const hl__llm *l, cJSON *data, hl_response *r);

/* Can the strings decoded from the JSON text `body` (`len` bytes,
 * NUL-terminated) hold `secret`? False only when they cannot: the text
 * does not contain the secret, has no "\u" escape, and the secret has
 * none of the characters that the other escapes stand for ('"', '\\',
 * '/', control characters), so every decoded string is a piece of the
 * text as it is. Then hl__llm_redact() would find nothing (redact.c). */
bool hl__llm_body_may_hold(const char *body, size_t len, const char *secret);

/* The two wire formats (openai.c, anthropic.c), so that tests and the fuzz
 * targets can drive their decoders without a server. Static, never NULL. */
const hl__llm_wire *hl__openai_wire(void);
const hl__llm_wire *hl__anthropic_wire(void);

/* Parse a stream event's data as a JSON object, or fail with
 * HL_ERR_PROVIDER naming the event's number (also for JSON that is not
 * an object). */
hl_status hl__llm_parse_event(const hl__llm_stream *s, const char *data, size_t len,
                              cJSON **out);

#endif
