/*
 * llm.c - configuration and the call path shared by the HTTP model
 * providers: headers, API_REQUEST/API_RESPONSE events, SSE plumbing,
 * turning an HTTP error answer into a status with the server's message,
 * and hl__llm_complete(), which runs one call through a wire format.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hookline/json.h"
#include "hookline/observer.h"
#include "hookline/pool.h"
#include "net/excerpt.h"
#include "core/price_internal.h"
#include "core/util.h"
#include "providers/llm.h"
#include "hookline/trace.h"
#include "net/retry_after.h"

hl_status hl__buf_append(hl__buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + n + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) return hl_fail(HL_ERR_NOMEM, "out of memory assembling a response");
    b->p = np;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return HL_OK;
}

void hl__buf_free(hl__buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

hl_status hl__llm_strdup(const char *s, char **out) {
  *out = NULL;
  if (!s) return HL_OK;
  *out = strdup(s);
  return *out ? HL_OK : hl_fail(HL_ERR_NOMEM, "out of memory");
}

/* Milliseconds on the monotonic clock, for duration_ms. */
static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

hl__llm *hl__llm_new(const char *name, const char *base_url, const char *env_base,
                     const char *default_base, const char *api_key, const char *env_key) {
  hl__llm *l = calloc(1, sizeof *l);
  if (!l) {
    hl_fail(HL_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  l->magic = HL__LLM_MAGIC;
  l->name = name;
  l->max_tokens = 4096;
  if (!base_url) base_url = getenv(env_base);
  if (!base_url || !*base_url) base_url = default_base;
  if (!api_key) api_key = getenv(env_key);
  l->base_url = strdup(base_url);
  if (l->base_url) {
    size_t n = strlen(l->base_url);
    while (n > 0 && l->base_url[n - 1] == '/') l->base_url[--n] = '\0';
  }
  if (api_key && *api_key) l->api_key = strdup(api_key);
  l->http = hl__http_new(NULL);
  if (!l->base_url || (api_key && *api_key && !l->api_key) || !l->http) {
    hl__llm_free(l);
    hl_fail(HL_ERR_NOMEM, "%s: out of memory", name);
    return NULL;
  }
  return l;
}

/* What every call of a provider through one wire sends the same: base
 * URL, key and the wire's path are fixed once the provider exists. Made
 * once instead of per call: two blocks of every request in flight (issue
 * 12, memory per session). */
typedef struct hl__llm_target {
  const hl__llm_wire *wire;
  const char *url;
  char *key;                 /* the key header line, or NULL: no key */
  size_t key_len;            /* for the scrub */
  char text[];               /* url, then key */
} llm_target;

static void target_free(llm_target *t) {
  if (!t) return;
  if (t->key) memset(t->key, 0, t->key_len); /* scrub the key */
  free(t);
}

/* The provider's target for `w`, made at the first call; NULL when the
 * path depends on the model (make_path), when the provider's calls go
 * through another wire too, or when memory ran out: the call then makes
 * its own (call_prepare). Any thread. */
static const llm_target *target_of(hl__llm *l, const hl__llm_wire *w) {
  llm_target *t = __atomic_load_n(&l->target, __ATOMIC_ACQUIRE);
  if (t) return t->wire == w ? t : NULL;
  if (w->make_path) return NULL;
  size_t ul = strlen(l->base_url) + strlen(w->path);
  size_t kl = l->api_key ? strlen(w->key_header) + strlen(l->api_key) : 0;
  if (!(t = malloc(sizeof *t + ul + 1 + (l->api_key ? kl + 1 : 0)))) return NULL;
  t->wire = w;
  snprintf(t->text, ul + 1, "%s%s", l->base_url, w->path);
  t->url = t->text;
  t->key = NULL;
  t->key_len = kl;
  if (l->api_key) {
    t->key = t->text + ul + 1;
    snprintf(t->key, kl + 1, "%s%s", w->key_header, l->api_key);
  }
  llm_target *none = NULL;
  if (!__atomic_compare_exchange_n(&l->target, &none, t, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    target_free(t); /* another call made it first */
    t = none;
  }
  return t->wire == w ? t : NULL;
}

void hl__llm_free(hl__llm *l) {
  if (!l) return;
  target_free(l->target);
  hl__http_free(l->http);
  free(l->base_url);
  if (l->api_key) {
    /* Do not leave the key lying around in freed memory. */
    volatile char *k = l->api_key;
    while (*k) *k++ = '\0';
    free(l->api_key);
  }
  free(l->model);
  for (size_t i = 0; i < l->n_headers; i++) free(l->headers[i]);
  free(l->headers);
  free(l->version);
  cJSON_Delete(l->options);
  free(l);
}

hl__llm *hl__llm_of(hl_provider *provider, const char *name) {
  /* `name` is the provider's static name array: pointer identity tells
   * our providers apart from an application's provider of the same name. */
  if (!provider || hl_provider_name(provider) != name) {
    hl_fail(HL_ERR_INVALID, "not a %s provider", name);
    return NULL;
  }
  hl__llm *l = hl_provider_impl(provider);
  if (!l || l->magic != HL__LLM_MAGIC) {
    hl_fail(HL_ERR_INVALID, "not a %s provider", name);
    return NULL;
  }
  return l;
}

hl_status hl__llm_set_model(hl__llm *l, const char *model) {
  char *m = NULL;
  if (hl__llm_strdup(model, &m) != HL_OK) return HL_ERR_NOMEM;
  free(l->model);
  l->model = m;
  return HL_OK;
}

hl_status hl__llm_add_header(hl__llm *l, const char *name, const char *value) {
  if (!name || !*name || !value)
    return hl_fail(HL_ERR_INVALID, "%s: header name and value are required", l->name);
  if (strpbrk(name, ":\r\n \t") || strpbrk(value, "\r\n"))
    return hl_fail(HL_ERR_INVALID, "%s: invalid header name or value for \"%s\"", l->name, name);
  size_t n = strlen(name) + strlen(value) + 3;
  char *line = malloc(n);
  char **nh = realloc(l->headers, (l->n_headers + 1) * sizeof *nh);
  if (!line || !nh) {
    free(line);
    if (nh) l->headers = nh;
    return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  }
  snprintf(line, n, "%s: %s", name, value);
  l->headers = nh;
  l->headers[l->n_headers++] = line;
  return HL_OK;
}

hl_status hl__llm_set_timeouts(hl__llm *l, long connect_ms, long total_ms, long idle_ms) {
  hl__http_options o = *hl__http_get_options(l->http);
  if (connect_ms >= 0) o.connect_timeout_ms = connect_ms;
  if (total_ms >= 0) o.timeout_ms = total_ms;
  if (idle_ms >= 0) o.idle_timeout_ms = idle_ms;
  hl__http_set_options(l->http, &o);
  return HL_OK;
}

hl_status hl__llm_set_retries(hl__llm *l, int max_retries, long base_ms, long max_ms) {
  hl__http_options o = *hl__http_get_options(l->http);
  if (max_retries >= 0) o.max_retries = max_retries;
  if (base_ms >= 0) o.retry_base_ms = base_ms;
  if (max_ms >= 0) o.retry_max_ms = max_ms;
  hl__http_set_options(l->http, &o);
  return HL_OK;
}

hl_status hl__llm_set_max_response_bytes(hl__llm *l, size_t max_bytes) {
  hl__http_options o = *hl__http_get_options(l->http);
  o.max_response_bytes = max_bytes;
  hl__http_set_options(l->http, &o);
  return HL_OK;
}

hl_status hl__llm_set_http_version(hl__llm *l, int version) {
  if (version != HL_HTTP_VERSION_AUTO && version != HL_HTTP_VERSION_1_1 && version != HL_HTTP_VERSION_2)
    return hl_fail(HL_ERR_INVALID, "%s: HTTP version must be HL_HTTP_VERSION_AUTO, _1_1 or _2, not %d",
                   l->name, version);
  hl__http_options o = *hl__http_get_options(l->http);
  o.http_version = version;
  hl__http_set_options(l->http, &o);
  return HL_OK;
}

hl_status hl__llm_set_ca_file(hl__llm *l, const char *path) {
  return hl__http_set_ca_file(l->http, path, l->name);
}

hl_status hl__llm_set_option(hl__llm *l, const char *key, cJSON *value) {
  if (!l->options && !(l->options = cJSON_CreateObject())) {
    cJSON_Delete(value);
    return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(l->options, key);
  if (value && !cJSON_AddItemToObject(l->options, key, value)) {
    cJSON_Delete(value);
    return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  }
  return HL_OK;
}

hl_status hl__llm_apply_options(const hl__llm *l, cJSON *payload) {
  const cJSON *opt;
  cJSON_ArrayForEach(opt, l->options) {
    cJSON_DeleteItemFromObjectCaseSensitive(payload, opt->string);
    cJSON *v = cJSON_Duplicate(opt, 1);
    if (!v || !cJSON_AddItemToObject(payload, opt->string, v)) {
      cJSON_Delete(v);
      return hl_fail(HL_ERR_NOMEM, "%s: out of memory encoding the request", l->name);
    }
  }
  return HL_OK;
}

void hl__llm_close_fields(hl__jbuf *b, const hl__llm *l, size_t open, const char *skip) {
  const cJSON *opt;
  cJSON_ArrayForEach(opt, l->options) {
    if (skip && opt->string && !strcmp(opt->string, skip)) continue;
    hl__jbuf_raw(b, ",", 1);
    hl__llm_key(b, opt->string ? opt->string : "");
    hl__jbuf_value(b, opt);
  }
  hl__jbuf_raw(b, "}", 1);
  if (!b->failed && b->len > open + 1 && b->p[open] == ',') {
    memmove(b->p + open, b->p + open + 1, b->len - open);
    b->len--;
  }
}

void hl__llm_write_decl(hl__jbuf *b, const char *name, const char *description,
                        const char *schema_key, const char *schema_text, size_t schema_len,
                        const cJSON *parameters) {
  hl__llm_lit(b, "\"name\":");
  hl__jbuf_string(b, name);
  if (description) {
    hl__llm_lit(b, ",\"description\":");
    hl__jbuf_string(b, description);
  }
  /* The schema as it is (a non-object too); none: an empty object
   * schema. */
  hl__llm_lit(b, schema_key);
  if (schema_text) hl__jbuf_raw(b, schema_text, schema_len);
  else if (parameters) hl__jbuf_value(b, parameters);
  else hl__llm_lit(b, "{\"type\":\"object\",\"properties\":{}}");
}

const char *hl__llm_model(const hl__llm *l, const hl_request *req) {
  if (req->model && *req->model) return req->model;
  if (l->model) return l->model;
  hl_fail(HL_ERR_INVALID, "%s: no model: set one on the agent, the request or with the provider's set_model", l->name);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static void emit_request(hl__llm *l, hl_context *ctx, const cJSON *payload) {
  if (!ctx) return;
  hl_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = HL_EVENT_API_REQUEST;
  ev.name = l->name;
  ev.data = payload;
  ev.error.message = "";
  hl_context_emit(ctx, &ev);
}

/* Emit API_RESPONSE (data, response, usage, duration, error) and return
 * `st`, keeping its message intact whatever the observers do. */
static hl_status finish(hl__llm *l, hl_context *ctx, double start_ms, const cJSON *data,
                        const hl_response *resp, hl_status st) {
  if (!ctx) return st;
  /* Observers run arbitrary code that may overwrite this thread's last
   * error; keep the message to restore it. */
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", st != HL_OK ? hl_last_error() : "");
  hl_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = HL_EVENT_API_RESPONSE;
  ev.name = l->name;
  ev.data = data;
  ev.response = st == HL_OK ? resp : NULL;
  ev.usage = st == HL_OK && resp ? &resp->usage : NULL;
  ev.duration_ms = now_ms() - start_ms;
  ev.error.status = st;
  ev.error.message = msg;
  hl_context_emit(ctx, &ev);
  if (st != HL_OK) hl_fail(st, "%s", msg);
  return st;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/* The first bytes of a streamed body, kept to show what came back when it
 * turns out not to be an event stream. */
typedef struct body_head {
  char bytes[HL__EXCERPT_BYTES + 1]; /* one more: the excerpt marks a cut */
  size_t len;
} body_head;

typedef struct sse_sink {
  hl__sse parser;
  body_head *head;
} sse_sink;

static hl_status sink_data(const char *data, size_t len, void *user) {
  sse_sink *s = user;
  size_t room = sizeof s->head->bytes - s->head->len;
  size_t n = len < room ? len : room;
  memcpy(s->head->bytes + s->head->len, data, n);
  s->head->len += n;
  return hl__sse_feed(&s->parser, data, len);
}

/* Does the Content-Type say server-sent events? */
static bool is_event_stream(const char *content_type) {
  if (!content_type) return false;
  while (*content_type == ' ') content_type++;
  return strncasecmp(content_type, "text/event-stream", 17) == 0;
}

/* The message for a 2xx answer to a streaming request that could not be
 * read as a stream and is not labelled as one (an HTML page from a proxy,
 * a JSON body from a server that ignored "stream"): name the content type
 * and show how the body starts, instead of "the stream ended early". */
static hl_status not_an_event_stream(const hl__llm *l, const char *path,
                                     const hl__http_response *resp, const body_head *head) {
  char url[512], raw[600], ctype[200], start[HL__EXCERPT_BYTES * 4 + 16];
  snprintf(raw, sizeof raw, "%s%s", l->base_url, path);
  hl__redact_into(url, sizeof url, raw, l->api_key);
  if (resp->content_type)
    hl__excerpt(ctype, sizeof ctype, resp->content_type, strlen(resp->content_type), l->api_key);
  else
    snprintf(ctype, sizeof ctype, "(none)");
  hl__excerpt(start, sizeof start, head->bytes, head->len, l->api_key);
  return hl_fail(HL_ERR_PROVIDER,
                 "%s: the answer from %s to a streaming request is not an event stream: "
                 "HTTP %ld with Content-Type %s, starting %s",
                 l->name, url, resp->status, ctype, start);
}

static bool ctx_cancelled(void *user) { return hl_context_cancelled(user); }

/* The server's own words from an error body: error.message, error (a
 * string), message or detail; else the start of the raw body. */
static void error_text(const char *body, char *out, size_t size) {
  out[0] = '\0';
  if (!body || !*body) return;
  cJSON *j = NULL;
  if (hl_json_parse(body, strlen(body), &j) == HL_OK && j) {
    const cJSON *err = hl_json_get(j, "error");
    const char *m = NULL;
    if (cJSON_IsString(err)) m = err->valuestring;
    if (!m) m = hl_json_get_string(err, "message");
    if (!m) m = hl_json_get_string(j, "message");
    if (!m) m = hl_json_get_string(j, "detail");
    if (m) snprintf(out, size, "%s", m);
    cJSON_Delete(j);
    if (m) return;
  }
  hl_clear_error();
  snprintf(out, size, "%.200s", body);
  /* One line in messages: a raw HTML error page has newlines. */
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
}

/*
 * One call, in three steps shared by the blocking path (hl__llm_complete)
 * and the asynchronous one (hl__llm_start):
 *   call_prepare: pick the model, encode, build URL and headers (the key
 *                 goes only into `key`), set up the stream state, emit
 *                 API_REQUEST;
 *   (the HTTP request: hl__http_request_send or hl__http_request_start);
 *   call_conclude: a non-2xx answer becomes an error with the mapped status
 *                 and the server's error.message; otherwise decode the body
 *                 or assemble the stream; emit API_RESPONSE.
 * call_free() releases the call and scrubs the key.
 */
/* Room for a wire's fixed header line. */
#define HL__LLM_FIXED_MAX 128

/* What only a streamed call needs, allocated with its streaming state:
 * inside every call they were 300 bytes of each request in flight,
 * streamed or not (issue 12, memory per session). */
typedef struct llm_stream_io {
  sse_sink sink;
  body_head head;
} llm_stream_io;

typedef struct llm_call {
  hl__llm *l;
  const hl__llm_wire *w;
  const char *path;          /* the wire's path, or `own_path` */
  /* own_path, trace_line and model are malloc'd as long as they need:
   * fixed buffers of 512, 512 and 256 bytes were 1.3 KB per call in
   * flight whether used or not (issue 12, memory per session). */
  char *own_path;            /* the path made for the model (Gemini), or NULL */
  hl_context *ctx;
  double start;
  cJSON *payload;
  char *fixed;               /* the wire's fixed header line (Anthropic's version), or
                                NULL: HL__LLM_FIXED_MAX bytes when the wire has one */
  const char *url;           /* the target's, or own_url */
  char *own_url;
  char *key;                 /* the auth header line when the call has no target
                                (malloc'd: the key's size), or NULL */
  const hl_request *req;     /* valid until the call ends (llm.h): a retry encodes it
                                again */
  char *body;                /* NULL once sent (http.h, body_sent) */
  const char **hdrs;         /* hdrs_in, or malloc'd when more are needed */
  const char *hdrs_in[6];
  char *trace_line;          /* a tracer's traceparent (hookline/trace.h), or NULL */
  char *model;               /* the model asked for, for the price table */
  llm_stream_io *io;         /* with s: its parser and first bytes */
  hl__llm_stream *s;         /* streaming state, or NULL */
  hl__http_request hr;
  hl__http_response resp;
  /* asynchronous calls */
  hl_provider_done_fn done;
  void *done_user;
} llm_call;

static void call_free(llm_call *c) {
  if (c->s) {
    c->w->stream_free(c->s);
    hl_response_free(c->s->r);
    free(c->s);
  }
  if (c->io) {
    hl__sse_free(&c->io->sink.parser);
    free(c->io);
  }
  free(c->fixed);
  if (c->key) {
    memset(c->key, 0, strlen(c->key)); /* scrub the key */
    free(c->key);
  }
  hl__http_response_clear(&c->resp);
  cJSON_Delete(c->payload);
  free(c->own_path);
  free(c->trace_line);
  free(c->model);
  free(c->body);
  free(c->own_url);
  if (c->hdrs != c->hdrs_in) free(c->hdrs);
}

/* Each thread writes its request bodies into a buffer of its own, kept
 * from one body to the next (up to SCRATCH_KEEP bytes; freed when the
 * thread exits), and the body is then copied out at its size: a fresh
 * 4 KB buffer per body, cut to size after, cost ~2,100 instructions a
 * request in the allocator (a block of that size is never one of
 * malloc's per-thread caches), the copy ~100. */
#define SCRATCH_KEEP (64 * 1024)
static pthread_key_t scratch_key;
static bool scratch_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_free(void *p) {
  hl__jbuf *b = p;
  free(b->p);
  free(b);
}
static void scratch_init(void) { scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

/* The thread's buffer, empty, or NULL (then the caller makes its own). */
static hl__jbuf *scratch_take(void) {
  pthread_once(&scratch_once, scratch_init);
  if (!scratch_ok) return NULL;
  hl__jbuf *b = pthread_getspecific(scratch_key);
  if (!b) {
    if (!(b = calloc(1, sizeof *b))) return NULL;
    if (pthread_setspecific(scratch_key, b) != 0) {
      free(b);
      return NULL;
    }
  }
  b->len = 0;
  b->failed = false;
  b->stop = 0;
  return b;
}

/* Done with the thread's buffer: a large one is not kept. */
static void scratch_done(hl__jbuf *b) {
  if (b->cap > SCRATCH_KEEP) {
    free(b->p);
    b->p = NULL;
    b->cap = 0;
  }
  b->len = 0;
}

/* Encode c->req into c->body (and hr's body and length): written by the
 * wire, or its tree (*payload, the caller's) printed. */
static hl_status make_body(llm_call *c, cJSON **payload) {
  hl__llm *l = c->l;
  const hl__llm_wire *w = c->w;
  if (w->write) {
    hl__jbuf own = {0}, *b = scratch_take();
    if (!b) b = &own;
    /* One allocation for most requests, not the doublings from 256
     * bytes (once per thread with the thread's buffer). */
    hl__jbuf_reserve(b, 4095);
    hl_status st = w->write(l, c->req, c->model, b);
    if (st == HL_OK && b->failed) st = hl_fail(HL_ERR_NOMEM, "%s: out of memory encoding the request", l->name);
    if (st == HL_OK && !(c->body = malloc(b->len + 1)))
      st = hl_fail(HL_ERR_NOMEM, "%s: out of memory encoding the request", l->name);
    if (st == HL_OK) {
      if (b->len) memcpy(c->body, b->p, b->len);
      c->body[b->len] = '\0';
    }
    size_t body_len = b->len;
    if (b == &own) free(own.p);
    else scratch_done(b);
    if (st != HL_OK) return st;
    c->hr.body = c->body;
    c->hr.body_len = body_len;
    return HL_OK;
  } else {
    hl_status st = w->encode(l, c->req, c->model, payload);
    if (st != HL_OK) return st;
    if (!(c->body = hl__json_print_exact(*payload)))
      return hl_fail(HL_ERR_NOMEM, "%s: out of memory encoding the request", l->name);
  }
  /* Without the printer's spare room (up to half of its doubled buffer). */
  size_t body_len = strlen(c->body);
  char *fit = realloc(c->body, body_len + 1);
  if (fit) c->body = fit;
  c->hr.body = c->body;
  c->hr.body_len = body_len;
  return HL_OK;
}

/* libcurl sent the body and reads it no more (http.h): the answer may
 * take minutes, and a body held meanwhile was ~1 KB of every run in
 * flight (issue 12). Loop thread. */
static void body_sent(void *user) {
  llm_call *c = user;
  free(c->body);
  c->body = NULL;
  c->hr.body = NULL;
}

/* A retry after body_sent(): encoded again from the request, which is
 * unchanged (the run waits for this call). A Chat Completions call may
 * name max_tokens' field as learnt meanwhile (llm.h). Loop thread. */
static hl_status body_again(void *user) {
  llm_call *c = user;
  cJSON *payload = NULL;
  hl_status st = make_body(c, &payload);
  cJSON_Delete(payload);
  return st;
}

static hl_status call_prepare(llm_call *c, hl__llm *l, const hl__llm_wire *w, hl_context *ctx,
                              const hl_request *req) {
  c->l = l;
  c->w = w;
  c->path = w->path;
  c->ctx = ctx;
  c->start = now_ms();
  const char *model = hl__llm_model(l, req);
  if (!model) return HL_ERR_INVALID;
  if (!(c->model = strdup(model))) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  /* A path that depends on the model (Gemini): the call's own, so
   * everything below reads c->path. */
  hl_status st = HL_OK;
  if (w->make_path) {
    char path[512];
    st = w->make_path(l, model, req->stream, path, sizeof path);
    if (st != HL_OK) return st;
    if (!(c->own_path = strdup(path))) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
    c->path = c->own_path;
  }
  c->req = req;
  memset(&c->hr, 0, sizeof c->hr);
  if ((st = make_body(c, &c->payload)) != HL_OK) return st;

  const char *auth[2];
  size_t n_auth = 0;
  if (w->fixed_header) {
    if (!(c->fixed = malloc(HL__LLM_FIXED_MAX))) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
    w->fixed_header(l, c->fixed, HL__LLM_FIXED_MAX);
    auth[n_auth++] = c->fixed;
  }
  const llm_target *target = target_of(l, w);
  if (l->api_key) {
    if (strlen(l->api_key) > 1024 - 32)
      return hl_fail(HL_ERR_INVALID, "%s: API key too long", l->name);
    if (!target && !(c->key = hl__concat(w->key_header, "", l->api_key)))
      return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
    auth[n_auth++] = target ? target->key : c->key;
  }
  if (req->stream) {
    c->io = calloc(1, sizeof *c->io);
    c->s = c->io ? calloc(1, w->stream_size) : NULL;
    if (!c->s) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
    c->s->l = l;
    c->s->ctx = ctx;
    c->s->r = hl_response_new();
    if (!c->s->r) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
    hl__sse_init(&c->io->sink.parser, w->stream_event, c->s,
                 hl__http_get_options(l->http)->max_response_bytes);
    c->io->sink.head = &c->io->head;
  }

  /* A written body: the tree for API_REQUEST only when someone listens. */
  if (!c->payload && ctx && hl_context_wants_event(ctx, HL_EVENT_API_REQUEST) &&
      hl_json_parse(c->body, strlen(c->body), &c->payload) != HL_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", hl_last_error());
    return hl_fail(hl_last_status(), "%s: the request for its API_REQUEST event: %s", l->name, why);
  }
  c->url = target ? target->url : (c->own_url = hl__concat(l->base_url, "", c->path));
  size_t max_hdrs = l->n_headers + n_auth + 3;
  c->hdrs = max_hdrs <= sizeof c->hdrs_in / sizeof *c->hdrs_in ? c->hdrs_in
                                                                : malloc(max_hdrs * sizeof *c->hdrs);
  if (!c->url || !c->hdrs) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  size_t nh = 0;
  c->hdrs[nh++] = "Content-Type: application/json";
  /* Accept only where it changes the answer: a streamed call asks for
   * server-sent events. No wire (OpenAI, Anthropic, Gemini) requires one
   * on a JSON call, and libcurl 7.88 writes every request header one byte
   * at a time (~90 instructions a byte); the empty "Accept:" also keeps
   * libcurl's own default Accept (any type) out of the request. */
  c->hdrs[nh++] = c->s ? "Accept: text/event-stream" : "Accept:";
  for (size_t i = 0; i < n_auth; i++) c->hdrs[nh++] = auth[i];
  for (size_t i = 0; i < l->n_headers; i++) c->hdrs[nh++] = l->headers[i];
  /* A tracer's traceparent (hookline/trace.h), built on this thread. */
  char trace_line[512];
  if (hl_trace_header(ctx, trace_line, sizeof trace_line)) {
    if (!(c->trace_line = strdup(trace_line))) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
    c->hdrs[nh++] = c->trace_line;
  }

  emit_request(l, ctx, c->payload);
  /* The encoded body is all the call needs from here on: the tree (the
   * whole history, the tool schemas) would otherwise stay allocated for
   * as long as the model takes to answer, per call in flight. */
  cJSON_Delete(c->payload);
  c->payload = NULL;

  hl__http_request *hr = &c->hr;
  hr->url = c->url;
  hr->body_sent = body_sent;
  hr->body_again = body_again;
  hr->body_user = c;
  hr->headers = c->hdrs;
  hr->n_headers = nh;
  hr->secret = l->api_key;
  hr->what = l->name;
  if (c->s) {
    hr->on_data = sink_data;
    hr->data_user = &c->io->sink;
  }
  if (ctx) {
    hr->cancelled = ctx_cancelled;
    hr->cancel_user = ctx;
  }
  return HL_OK;
}

/* A non-2xx answer as an error with the server's words. */
static hl_status http_error(llm_call *c) {
  hl__llm *l = c->l;
  hl__http_response *resp = &c->resp;
  char text[700];
  char redacted_url[512];
  error_text(resp->body, text, sizeof text);
  hl__redact_into(redacted_url, sizeof redacted_url, c->url, l->api_key);
  hl_status mapped = HL_ERR_HTTP;
  if (resp->status == 401 || resp->status == 403) mapped = HL_ERR_AUTH;
  else if (resp->status == 429) mapped = HL_ERR_RATE_LIMIT;
  char attempts[48] = "";
  if (resp->attempts > 1) snprintf(attempts, sizeof attempts, " (after %d attempts)", resp->attempts);
  char wish[160] = "";
  if (resp->retry_after_refused_ms > 0) {
    char asked[48], most[48];
    long max_ms = hl__http_get_options(l->http)->retry_max_ms;
    hl__retry_after_format(asked, sizeof asked, resp->retry_after_refused_ms);
    /* 0 stands for http.c's default cap of 60 s. */
    hl__retry_after_format(most, sizeof most, max_ms > 0 ? (double)max_ms : 60000.0);
    snprintf(wish, sizeof wish, " (server asked to retry after %s s, more than the %s s maximum)",
             asked, most);
  }
  char msg[1400];
  snprintf(msg, sizeof msg, "%s: HTTP %ld from %s%s%s%s%s", l->name, resp->status, redacted_url,
           attempts, wish, text[0] ? ": " : "", text);
  char safe[1400];
  hl__redact_into(safe, sizeof safe, msg, l->api_key);
  return hl_fail(mapped, "%s", safe);
}

/* After the HTTP request returned `st`: the response (*out) or an error. */
static hl_status call_conclude(llm_call *c, hl_status st, hl_response **out) {
  hl__llm *l = c->l;
  hl__http_response *resp = &c->resp;
  bool ok2xx = resp->status >= 200 && resp->status < 300;
  cJSON *data = NULL;
  hl_response *r = NULL;
  /* Could the answer's strings hold the key? A stream: assume so. */
  bool may_hold = true;
  /* A body that needs no redaction is parsed into an arena: its tree is
   * only read (decode, API_RESPONSE) and dropped here, and one block
   * replaces two or three allocations per value (issue 12). */
  hl__json_arena arena = {0};
  bool in_arena = false;
  if (st == HL_OK && c->s && ok2xx) st = hl__sse_finish(&c->io->sink.parser);
  if (st == HL_OK && !ok2xx) st = http_error(c);
  if (c->s) {
    if (st == HL_OK) st = c->w->stream_assemble(c->s, &r);
    /* A stream that could not be read, from an answer not labelled as one:
     * what came back says more than how the parse failed. A well-formed
     * stream with a wrong label is still accepted. */
    if (st == HL_ERR_PROVIDER && ok2xx && !is_event_stream(resp->content_type))
      st = not_an_event_stream(l, c->path, resp, &c->io->head);
    if (st == HL_OK) data = hl_response_to_json(r);
  } else if (st == HL_OK) {
    /* Decided on the text, before it is freed below (redact.c). */
    may_hold = hl__llm_body_may_hold(resp->body, resp->body_len, l->api_key);
    in_arena = !may_hold;
    const char *text = resp->body ? resp->body : "";
    size_t len = resp->body ? resp->body_len : 0;
    if ((in_arena ? hl__json_parse_arena(text, len, &arena, &data) : hl_json_parse(text, len, &data)) !=
        HL_OK) {
      char why[512], ctype[200], start[HL__EXCERPT_BYTES * 4 + 16];
      snprintf(why, sizeof why, "%s", hl_last_error());
      if (resp->content_type)
        hl__excerpt(ctype, sizeof ctype, resp->content_type, strlen(resp->content_type), l->api_key);
      else
        snprintf(ctype, sizeof ctype, "(none)");
      hl__excerpt(start, sizeof start, resp->body, resp->body ? resp->body_len : 0, l->api_key);
      st = hl_fail(HL_ERR_PROVIDER,
                   "%s: response body is not valid JSON: %s (Content-Type %s, starting %s)",
                   l->name, why, ctype, start);
    } else {
      st = c->w->decode(l, data, &r);
    }
  }
  hl__http_response_clear(resp);
  /* A 2xx echoing the key (openai.h): out of the body, the answer and the
   * message of a body that failed to decode. */
  if (l->api_key && st != HL_OK) {
    char safe[1400];
    hl__redact_into(safe, sizeof safe, hl_last_error(), l->api_key);
    hl_fail(st, "%s", safe);
  }
  hl_status rst = may_hold ? hl__llm_redact(l, data, st == HL_OK ? r : NULL) : HL_OK;
  if (st == HL_OK) st = rst;
  if (st == HL_OK && !r->usage.has_cost) hl__usage_price(&r->usage, r->model, c->model); /* price.h */
  st = finish(l, c->ctx, c->start, data, r, st);
  if (in_arena) hl__json_arena_free(&arena);
  else cJSON_Delete(data);
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  *out = r;
  return HL_OK;
}

hl_status hl__llm_parse_args(const hl__llm *l, const char *text, size_t len, const char *tool,
                             const char *id, cJSON **out) {
  *out = NULL;
  size_t i = 0;
  while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')) i++;
  if (i == len) {
    *out = cJSON_CreateObject();
    return *out ? HL_OK : hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  }
  cJSON *args = NULL;
  if (hl_json_parse(text, len, &args) != HL_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", hl_last_error());
    return hl_fail(HL_ERR_PROVIDER,
                   "%s: arguments of tool call \"%s\" (id %s) are not valid JSON: %s",
                   l->name, tool ? tool : "?", id ? id : "?", why);
  }
  if (!cJSON_IsObject(args)) {
    cJSON_Delete(args);
    return hl_fail(HL_ERR_PROVIDER,
                   "%s: arguments of tool call \"%s\" (id %s) are not a JSON object",
                   l->name, tool ? tool : "?", id ? id : "?");
  }
  *out = args;
  return HL_OK;
}

bool hl__llm_has_answer(const hl_message *m) {
  for (size_t i = 0; i < m->n_parts; i++) {
    const hl_part *p = &m->parts[i];
    if (p->kind == HL_PART_TOOL_CALL || (p->kind == HL_PART_TEXT && p->text && *p->text)) return true;
  }
  return false;
}

bool hl__llm_push(cJSON *array, cJSON *item) {
  if (!item) return false;
  if (!cJSON_AddItemToArray(array, item)) {
    cJSON_Delete(item);
    return false;
  }
  return true;
}

hl_status hl__llm_set_ids(hl_response *r, const cJSON *j) {
  const char *id = hl_json_get_string(j, "id");
  const char *model = hl_json_get_string(j, "model");
  if (id && !r->id && hl__llm_strdup(id, &r->id) != HL_OK) return HL_ERR_NOMEM;
  if (model && !r->model && hl__llm_strdup(model, &r->model) != HL_OK) return HL_ERR_NOMEM;
  return HL_OK;
}

void hl__llm_token_count(const cJSON *obj, const char *key, int64_t *out) {
  hl__json_token_count(hl_json_get(obj, key), out); /* the one rule (core/util.h) */
}

void *hl__llm_slot(const hl__llm_stream *s, void **items, size_t *n, size_t size,
                   const cJSON *index, size_t max, const char *what) {
  double idx = cJSON_IsNumber(index) ? index->valuedouble : -1;
  if (!(idx >= 0 && idx < (double)max) || idx != (double)(size_t)idx) {
    hl_fail(HL_ERR_PROVIDER, "%s: stream event %zu has a bad %s", s->l->name, s->events, what);
    return NULL;
  }
  size_t k = (size_t)idx;
  if (k >= *n) {
    char *grown = realloc(*items, (k + 1) * size);
    if (!grown) {
      hl_fail(HL_ERR_NOMEM, "%s: out of memory", s->l->name);
      return NULL;
    }
    memset(grown + *n * size, 0, (k + 1 - *n) * size);
    *items = grown;
    *n = k + 1;
  }
  return (char *)*items + k * size;
}

hl_status hl__llm_parse_event(const hl__llm_stream *s, const char *data, size_t len,
                              cJSON **out) {
  *out = NULL;
  if (hl_json_parse(data, len, out) == HL_OK) {
    /* Every format's events are objects; anything else (an array of
     * chunks from a batching proxy) would read as an empty event. */
    if (cJSON_IsObject(*out)) return HL_OK;
    cJSON_Delete(*out);
    *out = NULL;
    return hl_fail(HL_ERR_PROVIDER, "%s: stream event %zu is not a JSON object", s->l->name,
                   s->events);
  }
  char why[512];
  snprintf(why, sizeof why, "%s", hl_last_error());
  return hl_fail(HL_ERR_PROVIDER, "%s: malformed JSON in stream event %zu: %s", s->l->name,
                 s->events, why);
}

/* ------------------------------------------------------------------ */
/* One call                                                            */
/* ------------------------------------------------------------------ */

hl_status hl__llm_complete(hl__llm *l, const hl__llm_wire *w, hl_context *ctx,
                           const hl_request *req, hl_response **out) {
  *out = NULL;
  llm_call c;
  memset(&c, 0, sizeof c);
  hl_status st = call_prepare(&c, l, w, ctx, req);
  if (st == HL_OK) {
    st = hl__http_request_send(l->http, &c.hr, &c.resp);
    st = call_conclude(&c, st, out);
  }
  call_free(&c);
  return st;
}

/* The HTTP request of an asynchronous call ended (loop thread). */
static void on_http_done(hl_status st, hl__http_response *resp, void *user) {
  llm_call *c = user;
  c->resp = *resp;
  hl_response *r = NULL;
  st = call_conclude(c, st, &r);
  char msg[1400];
  snprintf(msg, sizeof msg, "%s", st == HL_OK ? "" : hl_last_error());
  hl_provider_done_fn done = c->done;
  void *done_user = c->done_user;
  call_free(c);
  free(c);
  if (st != HL_OK) hl_fail(st, "%s", msg);
  done(st, r, done_user);
}

hl_status hl__llm_start(hl__llm *l, const hl__llm_wire *w, hl_context *ctx,
                        const hl_request *req, hl_provider_done_fn done, void *user) {
  llm_call *c = calloc(1, sizeof *c);
  if (!c) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", l->name);
  c->done = done;
  c->done_user = user;
  hl_status st = call_prepare(c, l, w, ctx, req);
  /* The request's encoded copy is all the call needs from `req`. */
  if (st == HL_OK) st = hl__http_request_start(l->http, &c->hr, on_http_done, c);
  if (st != HL_OK) {
    call_free(c);
    free(c);
  }
  return st;
}

hl_status hl__llm_provider_complete(void *impl, hl_context *ctx, const hl_request *req,
                                    hl_response **out) {
  hl__llm *l = impl;
  return hl__llm_complete(l, l->wire, ctx, req, out);
}

hl_status hl__llm_provider_start(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_provider_done_fn done, void *user) {
  hl__llm *l = impl;
  return hl__llm_start(l, l->wire, ctx, req, done, user);
}

void hl__llm_provider_destroy(void *impl) { hl__llm_free(impl); }

hl_provider *hl__llm_provider_new(const hl_provider_ops *ops, const hl__llm_wire *wire,
                                  const char *base_url, const char *env_base,
                                  const char *default_base, const char *api_key,
                                  const char *env_key) {
  hl__llm *l = hl__llm_new(ops->name, base_url, env_base, default_base, api_key, env_key);
  if (!l) return NULL;
  l->wire = wire;
  hl_provider *p = hl_provider_new(ops, l);
  if (!p) {
    hl__llm_free(l);
    hl_fail(HL_ERR_NOMEM, "%s: out of memory", ops->name);
  }
  return p;
}
