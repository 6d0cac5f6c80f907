/*
 * lib/mcp/http.c - the Streamable HTTP transport: every client message is
 * a POST to the endpoint (Accept: application/json, text/event-stream);
 * a request's answer comes back as one JSON body or as an SSE stream that
 * may carry notifications and server requests before the response; the
 * session id the server assigns at initialize (Mcp-Session-Id) and the
 * negotiated MCP-Protocol-Version go on every later request; close sends
 * DELETE. A stream that drops before its response is resumed with GET and
 * Last-Event-ID after the server's `retry:` delay.
 *
 * Requests run on the library's event loop (net/http.h), as the model
 * providers' do: the calling thread waits, and its run's cancellation
 * (hl_agent_cancel) or the client's close end the request at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hookline/json.h"
#include "mcp_internal.h"
#include "tool_headers.h"
#include "oauth.h"
#include "hookline/trace.h"
#include "core/sha256.h"
#include "net/http.h"
#include "net/sse.h"

#define MAX_RESUMES 5

typedef struct stream {
  hl_mcp *m;
  hl__mcp_pending *p;
  hl_context *ctx;
  int mode;                  /* 0 unknown, 1 JSON body, 2 SSE */
  char *body;                /* JSON mode: the body so far */
  size_t len, cap;
  hl__sse sse;               /* SSE mode: this answer's parser */
  char event_id[HL__SSE_MAX_ID]; /* the last event ID, for Last-Event-ID */
  long retry_ms;             /* last retry: field, -1 none */
  char head[48];             /* the answer's first bytes, for messages */
  size_t head_len;
} stream;

static bool grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t c = *cap ? *cap : 1024;
  while (c < need) c *= 2;
  char *nb = realloc(*buf, c);
  if (!nb) return false;
  *buf = nb;
  *cap = c;
  return true;
}

/* One event of the answer's stream: its data is one message. */
static hl_status on_event(const char *event, const char *data, size_t len, void *user) {
  (void)event;
  stream *s = user;
  /* The priming event (an id and empty data) carries no message. */
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r')) i++;
  if (i < len) hl__mcp_receive(s->m, data + i, len - i, s->p, s->ctx);
  return HL_OK;
}

/* Keep what the stream said about resuming it: the parser's state goes
 * with each answer, the last event ID and delay outlive it. */
static void keep_resume_fields(stream *s) {
  const char *id = hl__sse_last_event_id(&s->sse);
  if (id) snprintf(s->event_id, sizeof s->event_id, "%s", id);
  if (hl__sse_retry_ms(&s->sse) >= 0) s->retry_ms = hl__sse_retry_ms(&s->sse);
}

static hl_status sse_feed(stream *s, const char *d, size_t n) {
  hl_status st = hl__sse_feed(&s->sse, d, n);
  keep_resume_fields(s);
  if (st == HL_ERR_TOO_LARGE)
    return hl_fail(HL_ERR_TOO_LARGE, "mcp server \"%s\": sent a message of more than %zu bytes (the cap)",
                   s->m->name, s->m->max_message);
  return st;
}

static bool pending_done(hl_mcp *m, hl__mcp_pending *p);

/* Whether the request's deadline (moved by progress) has passed. */
static bool past_deadline(hl_mcp *m, hl__mcp_pending *p) {
  pthread_mutex_lock(&m->lock);
  int64_t d = p->deadline_ms;
  pthread_mutex_unlock(&m->lock);
  return d && hl__engine_now_ms() >= d;
}

/* on_data's way to end a stream that stays open after the answer arrived
 * (a resumed GET stream does; a POST stream should close by itself). */
#define ANSWER_COMPLETE "mcp: answer complete"

static hl_status on_data(const char *d, size_t n, void *user) {
  hl_status st = HL_OK;
  stream *s = user;
  if (s->head_len < sizeof s->head - 1) {
    size_t k = n < sizeof s->head - 1 - s->head_len ? n : sizeof s->head - 1 - s->head_len;
    memcpy(s->head + s->head_len, d, k);
    s->head_len += k;
    s->head[s->head_len] = '\0';
  }
  if (s->mode == 0) {
    size_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')) i++;
    if (i == n) return HL_OK;
    s->mode = (d[i] == '{' || d[i] == '[') ? 1 : 2;
    /* The cap is the message's (hl__mcp_receive() checks it exactly);
     * the margin lets a line hold "data: " and a message at the cap. */
    if (s->mode == 2) {
      hl__sse_init(&s->sse, on_event, s, s->m->max_message + 16);
      /* A resumed stream goes on from the last event ID seen: one whose
       * events carry no id must not reset it (was: to "", and the next
       * resumption sent no Last-Event-ID at all). */
      hl__sse_set_last_event_id(&s->sse, s->event_id);
    }
  }
  if (s->mode == 2) {
    st = sse_feed(s, d, n);
    if (st == HL_OK && s->p && pending_done(s->m, s->p)) st = hl_fail(HL_ERR_CANCELLED, ANSWER_COMPLETE);
    if (st == HL_OK && s->p && s->p->resets && past_deadline(s->m, s->p))
      st = hl_fail(HL_ERR_TIMEOUT, "mcp server \"%s\": no progress within %u ms", s->m->name,
                   atomic_load(&s->m->timeout_ms));
    return st;
  }
  if (s->len + n > s->m->max_message)
    return hl_fail(HL_ERR_TOO_LARGE, "mcp server \"%s\": sent a message of more than %zu bytes (the cap)",
                   s->m->name, s->m->max_message);
  if (!grow(&s->body, &s->cap, s->len + n + 1)) return hl_fail(HL_ERR_NOMEM, "out of memory");
  memcpy(s->body + s->len, d, n);
  s->len += n;
  s->body[s->len] = '\0';
  return HL_OK;
}

static void stream_end(stream *s) {
  if (s->mode == 1 && s->len) hl__mcp_receive(s->m, s->body, s->len, s->p, s->ctx);
  if (s->mode == 2) {
    /* An event without its blank line is discarded (WHATWG): half a
     * message is none; a legacy stream resumes from the last id. */
    hl__sse_finish(&s->sse);
    keep_resume_fields(s);
    hl__sse_free(&s->sse);
  }
  s->mode = 0;
  s->len = 0;
}

static void stream_free(stream *s) {
  free(s->body);
  hl__sse_free(&s->sse);
}

hl_status hl__mcp_http_decode(hl_mcp *m, hl__mcp_pending *p, const char *d, size_t n,
                              size_t (*next)(void *user), void *user) {
  stream s = {.m = m, .p = p, .retry_ms = -1};
  hl_status st = HL_OK;
  for (size_t off = 0; off < n && st == HL_OK;) {
    size_t k = next ? next(user) : n - off;
    if (k > n - off) k = n - off;
    st = on_data(d + off, k, &s);
    off += k;
  }
  /* As send_once: on_data ends a stream once its answer arrived. */
  if (st == HL_ERR_CANCELLED && p && pending_done(m, p)) st = HL_OK;
  if (st == HL_OK) stream_end(&s);
  stream_free(&s);
  return st;
}

bool hl__mcp_cancelled(void *user) {
  hl__mcp_cancel *c = user;
  if (c->ctx && hl_context_cancelled(c->ctx)) return true;
  pthread_mutex_lock(&c->m->lock);
  bool closed = c->m->closed;
  pthread_mutex_unlock(&c->m->lock);
  return closed;
}

hl_status hl__mcp_http_start(hl_mcp *m) {
  hl__http_options o;
  hl__http_options_default(&o);
  o.max_retries = 0; /* a tool call must never run twice behind our back */
  o.timeout_ms = m->timeout_ms ? (long)m->timeout_ms : 0;
  o.idle_timeout_ms = m->timeout_ms ? (long)m->timeout_ms : 0;
  if (atomic_load(&m->progress_resets)) {
    /* Progress extends a request: the whole request is capped by the total
     * only; silence longer than the limit still ends it (idle), and
     * on_data ends one whose progress stopped while other bytes came. */
    o.timeout_ms = (long)m->max_total_ms;
  }
  /* Capped per message instead (streams are long), other bodies per
   * request (HL__MCP_MAX_OTHER_BODY). */
  o.max_response_bytes = 0;
  m->http = hl__http_new(&o);
  if (!m->http) return hl_last_status();
  /* The client's answers: no time limit of the requests' (a server that
   * reads slowly takes its time, and a POST that receives nothing while
   * it sends is not idle), the dead peer's rule instead (send_http). */
  o.timeout_ms = 0;
  o.idle_timeout_ms = 0;
  m->answer_http = hl__http_new(&o);
  if (!m->answer_http) return hl_last_status();
  /* Checked again: the file may have gone since hl_mcp_set_ca_file(). */
  hl_status st = m->ca_file ? hl__http_set_ca_file(m->http, m->ca_file, "mcp") : HL_OK;
  return st == HL_OK && m->ca_file ? hl__http_set_ca_file(m->answer_http, m->ca_file, "mcp") : st;
}

/* "Mcp-Name: VALUE" in `buf` when it fits, else malloc'd (NULL: out of
 * memory; the caller frees what is not `buf`): the value as is when it
 * is a plain header value, else "=?base64?...?=" of its UTF-8
 * (streamable-http.mdx "Value Encoding"; the rule the Mcp-Param-*
 * values follow, tool_headers.h). */
static char *name_header(const char *v, char *buf, size_t size) {
  size_t n = strlen(v);
  bool plain = n > 0 && !hl__mcp_header_needs_base64(v);
  if (plain && n + 11 <= size) {
    memcpy(buf, "Mcp-Name: ", 10);
    memcpy(buf + 10, v, n + 1);
    return buf;
  }
  if (plain) return hl__concat("Mcp-Name:", " ", v);
  char *b = malloc(HL_BASE64_SIZE(n));
  if (!b) return NULL;
  hl__base64(v, n, false, b);
  char *line = hl__concat("Mcp-Name: =?base64?", b, "?=");
  free(b);
  return line;
}

static void listen_settled(long status, void *user);

/* Send one HTTP request with the session's headers, and the OAuth access
 * token `token` (NULL: none), which goes to this URL only. `listen`: on
 * the subscription's client (no time limits), telling connect when its
 * answer's headers came. */
static hl_status send_http(hl_mcp *m, const char *method, const char *body, const char *last_event_id,
                           stream *s, hl_context *ctx, bool capture, const char *token, const hl__mcp_rpc *rpc,
                           bool listen, bool answer, hl__http_response *resp) {
  const char *hdrs[43];
  char session[400], version[64], last[300], mcp_method[160], name_buf[256];
  size_t n = 0;
  char *auth = NULL, *proof = NULL;
  hl_status ast = hl__oauth_auth_lines(m, method ? method : body ? "POST" : "GET", token, &auth, &proof);
  if (ast) return ast;
  /* The standard headers of 2026-07-28 (SEP-2243), on every POST to a
   * modern server (and the probe); a legacy one has no use for them. */
  bool standard = rpc && m->era != HL__MCP_ERA_LEGACY;
  char *name = standard && rpc->name ? name_header(rpc->name, name_buf, sizeof name_buf) : NULL;
  if (standard && rpc->name && !name) {
    free(auth);
    free(proof);
    return hl__oom();
  }
  if (auth) hdrs[n++] = auth;
  if (proof) hdrs[n++] = proof;
  if (standard && rpc->method &&
      snprintf(mcp_method, sizeof mcp_method, "Mcp-Method: %s", rpc->method) < (int)sizeof mcp_method)
    hdrs[n++] = mcp_method;
  if (name) hdrs[n++] = name;
  hdrs[n++] = body ? "Content-Type: application/json" : "Content-Type:";
  hdrs[n++] = body ? "Accept: application/json, text/event-stream" : "Accept: text/event-stream";
  pthread_mutex_lock(&m->lock);
  if (m->session_id) {
    snprintf(session, sizeof session, "Mcp-Session-Id: %s", m->session_id);
    hdrs[n++] = session;
  }
  /* Set by connect while the worker may already answer server requests. */
  if (m->protocol_header) {
    snprintf(version, sizeof version, "MCP-Protocol-Version: %s", m->version);
    hdrs[n++] = version;
  }
  pthread_mutex_unlock(&m->lock);
  if (last_event_id) {
    snprintf(last, sizeof last, "Last-Event-ID: %s", last_event_id);
    hdrs[n++] = last;
  }
  for (size_t i = 0; i < m->n_headers && n < 39; i++) hdrs[n++] = m->headers[i];
  /* A tracer's traceparent (hookline/trace.h), built on the caller's thread. */
  char trace_line[512];
  if (hl_trace_header(ctx, trace_line, sizeof trace_line)) hdrs[n++] = trace_line;
  /* tools/call: the tool's x-mcp-header arguments (tool_headers.h). */
  char *params_block = NULL;
  hl_status pst = hl__mcp_param_headers(m, s && s->p ? s->p->tool : NULL, body, hdrs, &n,
                                        sizeof hdrs / sizeof hdrs[0] - n, &params_block);
  if (pst) {
    free(auth);
    free(proof);
    return pst;
  }
  /* Header values (tokens) never show in messages: the layer's messages
   * name the URL only; the first extra header's value is redacted too. */
  const char *secret = token;
  if (!secret && m->n_headers) {
    secret = strchr(m->headers[0], ':') + 1;
    while (*secret == ' ') secret++;
  }
  char what[200];
  snprintf(what, sizeof what, "mcp server \"%s\"", m->name);
  hl__mcp_cancel cc = {m, ctx};
  hl__http_request req = {
      .url = m->url,
      .body = body,
      .body_len = body ? strlen(body) : 0,
      .headers = hdrs,
      .n_headers = n,
      .secret = secret && *secret ? secret : NULL,
      .what = what,
      .on_data = s ? on_data : NULL,
      .data_user = s,
      .cancelled = hl__mcp_cancelled,
      .cancel_user = &cc,
      .method = method,
      .capture_header = capture ? "Mcp-Session-Id" : NULL,
      .on_headers = listen ? listen_settled : NULL,
      .headers_user = m,
      .capture_challenge = m->oauth != NULL,
      .max_buffered_bytes = HL__MCP_MAX_OTHER_BODY, /* messages go to on_data, capped there */
      /* A modern input round gets what is left of the call's limit. */
      .timeout_ms = s && s->p && !s->p->resets ? (long)s->p->limit_ms : 0,
      /* An answer of the client's: the dead peer's rule, no time limit. */
      .stall_ms = answer ? HL_MCP_ANSWER_TIMEOUT_MS : 0,
  };
  hl__http *client = listen ? m->listen_http : answer ? m->answer_http : m->http;
  hl_status st = hl__http_request_send(client, &req, resp);
  if (st == HL_OK && m->oauth) hl__dpop_keep_nonce(m->oauth, m->url, resp->dpop_nonce);
  free(auth);
  free(proof);
  if (name != name_buf) free(name);
  free(params_block);
  return st;
}

static hl_status http_status_error(hl_mcp *m, const hl__http_response *r) {
  char body[200] = "";
  if (r->body) snprintf(body, sizeof body, ": %.160s", r->body);
  for (char *c = body; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  hl_status st = r->status == 401 || r->status == 403 ? HL_ERR_AUTH
                 : r->status == 429                     ? HL_ERR_RATE_LIMIT
                                                        : HL_ERR_HTTP;
  if (r->status == 404 && m->session_id)
    return hl_fail(HL_ERR_STATE, "mcp server \"%s\": the session expired (HTTP 404)%s", m->name, body);
  return hl_fail(st, "mcp server \"%s\": HTTP %ld%s", m->name, r->status, body);
}

/* The code of the JSON-RPC error that is the body of a failed answer
 * `r`, 0 when the body is no such error. */
static int body_rpc_code(const hl__http_response *r) {
  cJSON *msg = NULL;
  if (!r->body || hl_json_parse(r->body, r->body_len, &msg) != HL_OK) return 0;
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "error"), "code");
  double v = cJSON_IsNumber(code) && !cJSON_GetObjectItemCaseSensitive(msg, "result") ? code->valuedouble : 0;
  cJSON_Delete(msg);
  return v >= -2147483648.0 && v <= 2147483647.0 && v == (int)v ? (int)v : 0;
}

static bool pending_done(hl_mcp *m, hl__mcp_pending *p) {
  pthread_mutex_lock(&m->lock);
  bool d = p->done;
  pthread_mutex_unlock(&m->lock);
  return d;
}

/* Whether a 2xx answer's Content-Type is one MCP answers with; a missing
 * one is given the benefit of the doubt (the body decides). */
static bool json_or_sse(const char *type) {
  if (!type || !*type) return true;
  size_t n = strcspn(type, "; \t");
  return (n == 16 && strncasecmp(type, "application/json", n) == 0) ||
         (n == 17 && strncasecmp(type, "text/event-stream", n) == 0);
}

/* Star out `secret` in `text`, also where `text` (a cut-off start of a
 * body) ends with the secret's first 3 or more bytes. */
static void blank_out(char *text, const char *secret) {
  size_t vl = strlen(secret), tl = strlen(text);
  for (char *at; vl && (at = strstr(text, secret));) memset(at, '*', vl);
  for (size_t k = tl < vl ? tl : vl - 1; vl && k >= 3; k--)
    if (memcmp(text + tl - k, secret, k) == 0) {
      memset(text + tl - k, '*', k);
      break;
    }
}

static hl_status wrong_type(hl_mcp *m, const hl__http_response *r, const stream *s, const char *token) {
  char start[sizeof s->head];
  snprintf(start, sizeof start, "%s", s->head);
  for (char *c = start; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == '"') *c = ' ';
  /* Header values are secrets (a page may echo the token back). */
  for (size_t i = 0; i < m->n_headers; i++) {
    const char *v = strchr(m->headers[i], ':') + 1;
    while (*v == ' ') v++;
    blank_out(start, v);
  }
  if (token) blank_out(start, token);
  return hl_fail(HL_ERR_PROVIDER,
                 "mcp server \"%s\": answered with HTTP %ld and Content-Type \"%.100s\", starting \"%s%s\", "
                 "which is neither JSON nor an event stream",
                 m->name, r->status, r->content_type, start, s->head_len >= sizeof s->head - 1 ? "..." : "");
}

/* A 401 or 403 for OAuth (oauth.h) to look at: the status and the
 * WWW-Authenticate values (malloc'd, may be NULL). */
typedef struct auth_answer {
  long status;
  char *challenge;
} auth_answer;

/* A modern server answers a request it refuses (unsupported version,
 * missing capability, header mismatch) with 400 and a JSON-RPC error:
 * that error is the request's response (its id may be null), for the
 * era detection and the caller to read. During the probe any other 4xx
 * but 401, 403 and 429 (OAuth's and a rate limit's) answers too, as an
 * error of code 0: no modern server's, so the server is legacy
 * (streamable-http.mdx "Backward Compatibility"). False: no such body. */
static bool error_body_answers(hl_mcp *m, const hl__http_response *r, hl__mcp_pending *p, hl_context *ctx) {
  if (!p || m->era == HL__MCP_ERA_LEGACY || r->status < 400 || r->status >= 500) return false;
  cJSON *msg = NULL;
  if (r->body) (void)hl_json_parse(r->body, r->body_len, &msg); /* not JSON: msg stays NULL */
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");
  if (!cJSON_IsObject(err) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(err, "code")) ||
      cJSON_GetObjectItemCaseSensitive(msg, "result")) {
    cJSON_Delete(msg);
    msg = NULL;
    if (m->era != HL__MCP_ERA_UNKNOWN || r->status == 401 || r->status == 403 || r->status == 429) return false;
    char text[80];
    snprintf(text, sizeof text, "HTTP %ld without a JSON-RPC error", r->status);
    msg = cJSON_CreateObject();
    cJSON *e = msg ? cJSON_AddObjectToObject(msg, "error") : NULL;
    if (!e || !cJSON_AddNumberToObject(e, "code", 0) || !cJSON_AddStringToObject(e, "message", text)) {
      cJSON_Delete(msg);
      return false;
    }
  }
  cJSON *id = cJSON_CreateNumber((double)p->id);
  if (!id || (cJSON_GetObjectItemCaseSensitive(msg, "id") ? !cJSON_ReplaceItemInObject(msg, "id", id)
                                                          : !cJSON_AddItemToObject(msg, "id", id))) {
    cJSON_Delete(id);
    cJSON_Delete(msg);
    return false;
  }
  hl__mcp_dispatch(m, msg, p, ctx);
  return pending_done(m, p);
}

static hl_status send_once(hl_mcp *m, const char *text, const hl__mcp_rpc *rpc, hl__mcp_pending *p,
                           hl_context *ctx, bool answer, bool *expired, const char *token, auth_answer *auth) {
  stream s = {.m = m, .p = p, .ctx = ctx, .retry_ms = -1};
  hl__http_response r = {0};
  /* A request sent without a session is an initialize: keep the id the
   * server assigns. */
  pthread_mutex_lock(&m->lock);
  bool initialize = p && !m->session_id && m->era == HL__MCP_ERA_LEGACY;
  pthread_mutex_unlock(&m->lock);
  hl_status st = send_http(m, NULL, text, NULL, &s, ctx, initialize, token, rpc, false, answer, &r);
  if (st == HL_ERR_CANCELLED && p && pending_done(m, p)) { /* ended by on_data: answered */
    st = HL_OK;
    if (!r.status) r.status = 200;
  }
  if (st == HL_OK && r.status >= 200 && r.status < 300 && r.status != 202 && !json_or_sse(r.content_type)) {
    /* A proxy's page or anything else that is no MCP answer: say what came
     * (what was read of it as SSE is no message either). */
    st = wrong_type(m, &r, &s, token);
  } else if (st == HL_OK && r.status >= 200 && r.status < 300) {
    stream_end(&s);
    if (initialize && r.captured) {
      pthread_mutex_lock(&m->lock);
      free(m->session_id);
      m->session_id = r.captured;
      r.captured = NULL;
      pthread_mutex_unlock(&m->lock);
    }
    /* A stream that ended before the response: resume it where it broke
     * (legacy servers; a modern one's streams are not resumable, the
     * request goes again instead: hl__mcp_roundtrip()). */
    for (int tries = 0; p && m->era == HL__MCP_ERA_LEGACY && !pending_done(m, p) && s.event_id[0] &&
                        tries < MAX_RESUMES;
         tries++) {
      if (s.retry_ms > 0) {
        long ms = s.retry_ms < 30000 ? s.retry_ms : 30000;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
      }
      char last[256];
      snprintf(last, sizeof last, "%s", s.event_id);
      hl__http_response_clear(&r);
      st = send_http(m, NULL, NULL, last, &s, ctx, false, token, NULL, false, false, &r);
      if (st == HL_ERR_CANCELLED && pending_done(m, p)) {
        st = HL_OK;
        break;
      }
      if (st != HL_OK) break;
      if (r.status < 200 || r.status >= 300) {
        st = http_status_error(m, &r);
        break;
      }
      stream_end(&s);
    }
  } else if (st == HL_OK && r.status == 202 && p) {
    st = hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": answered a request with 202 Accepted", m->name);
  } else if (st == HL_OK && error_body_answers(m, &r, p, ctx)) {
    /* the error is the response */
  } else if (st == HL_OK) {
    pthread_mutex_lock(&m->lock);
    *expired = r.status == 404 && m->session_id && !initialize;
    pthread_mutex_unlock(&m->lock);
    if (p && r.status >= 400 && r.status < 500) p->http_rpc_code = body_rpc_code(&r);
    st = http_status_error(m, &r);
    if (auth && (r.status == 401 || r.status == 403)) {
      auth->status = r.status;
      auth->challenge = r.challenge;
      r.challenge = NULL;
    }
  }
  /* HL_ERR_CANCELLED and HL_ERR_TIMEOUT: roundtrip() words them and sends
   * notifications/cancelled. */
  hl__http_response_clear(&r);
  stream_free(&s);
  return st;
}

static hl_status send_message(hl_mcp *m, const char *text, const hl__mcp_rpc *rpc, hl__mcp_pending *p,
                              hl_context *ctx, bool answer) {
  char *session = NULL;
  pthread_mutex_lock(&m->lock);
  if (m->session_id) session = strdup(m->session_id);
  pthread_mutex_unlock(&m->lock);
  bool expired = false;
  hl_status st;
  /* With OAuth: a 401 or 403 to a request is the authorization's to
   * answer (oauth.c), then the same message goes again: the server did
   * not take it. Not for a notification: notifications/cancelled is sent
   * by the thread of a run just cancelled, which must not wait on an
   * authorization server or ask the user to sign in; the next request
   * renews the token. */
  for (int rounds = 0;;) {
    char *token = m->oauth ? hl__oauth_token(m, ctx) : NULL;
    auth_answer auth = {0};
    st = send_once(m, text, rpc, p, ctx, answer, &expired, token, &auth);
    bool again = false;
    if (auth.status && m->oauth && p) {
      char msg[700];
      snprintf(msg, sizeof msg, "%s", hl_last_error());
      hl_status ost = hl__oauth_challenge(m, auth.status, auth.challenge, token, &rounds, ctx);
      if (ost == HL_OK) again = true;
      else if (ost == HL_ERR_NOT_FOUND) hl_fail(st, "%s", msg); /* not OAuth's: the HTTP error stands */
      else st = ost;
    }
    free(auth.challenge);
    if (token) memset(token, 0, strlen(token));
    free(token);
    if (!again) break;
  }
  if (expired && m->connected) {
    /* 404 for our session: the server forgot it. The protocol says to
     * start a new one with initialize, then the request goes again. */
    hl_status keep = st;
    char msg[700];
    snprintf(msg, sizeof msg, "%s", hl_last_error());
    if (hl__mcp_reinitialize(m, session) == HL_OK) {
      expired = false;
      char *token = m->oauth ? hl__oauth_token(m, ctx) : NULL;
      st = send_once(m, text, rpc, p, ctx, answer, &expired, token, NULL);
      free(token);
    } else {
      st = hl_fail(keep, "%s (and a new session could not be started: %s)", msg, hl_last_error());
    }
  }
  free(session);
  return st;
}

hl_status hl__mcp_http_send(hl_mcp *m, const char *text, const hl__mcp_rpc *rpc, hl__mcp_pending *p,
                            hl_context *ctx) {
  return send_message(m, text, rpc, p, ctx, false);
}

hl_status hl__mcp_http_answer(hl_mcp *m, const char *text) {
  return send_message(m, text, NULL, NULL, NULL, true);
}

/* The GET stream's first answer arrived (or none will): hl_mcp_connect()
 * may go on. Loop thread or listener. */
static void listen_settled(long status, void *user) {
  (void)status;
  hl_mcp *m = user;
  pthread_mutex_lock(&m->lock);
  if (!m->listen_ready) {
    m->listen_ready = true;
    pthread_cond_broadcast(&m->cond);
  }
  pthread_mutex_unlock(&m->lock);
}

/* Renewals of the GET stream's token in a row (a server that keeps
 * refusing fresh tokens is not asked forever). */
#define MAX_STREAM_RENEWALS 3

/* A long-lived stream refused with 401 (a revoked or expired token
 * `token`): whether a new token was got for it at once, MAX_STREAM_RENEWALS
 * times in a row at most (*renewals counts them). It never starts an
 * authorization itself: the next request does. */
static bool renewed_token(hl_mcp *m, hl_status st, long status, const char *token, int *renewals) {
  if (st != HL_OK || status != 401 || !m->oauth || *renewals >= MAX_STREAM_RENEWALS ||
      hl__oauth_renew(m, token) != HL_OK)
    return false;
  (*renewals)++;
  return true;
}

/* The standalone GET stream: where an HTTP server sends what belongs to
 * no request (list_changed after initialize, log messages, its own
 * requests). Reopened when it drops (with Last-Event-ID), at once with a
 * refreshed token after a 401 (a revoked or expired token), given up when
 * the server does not offer one (405), on another 4xx or after repeated
 * failures. */
static void *listener_main(void *arg) {
  hl_mcp *m = arg;
  stream s = {.m = m, .retry_ms = -1};
  int failures = 0, renewals = 0;
  for (;;) {
    pthread_mutex_lock(&m->lock);
    bool stop = m->closed;
    pthread_mutex_unlock(&m->lock);
    if (stop) break;
    hl__http_response r = {0};
    char last[256];
    snprintf(last, sizeof last, "%s", s.event_id);
    hl__http *saved = m->http;
    (void)saved;
    const char *hdrs[40];
    char session[400], version[64], lasth[300];
    size_t n = 0;
    hdrs[n++] = "Accept: text/event-stream";
    pthread_mutex_lock(&m->lock);
    if (m->session_id) {
      snprintf(session, sizeof session, "Mcp-Session-Id: %s", m->session_id);
      hdrs[n++] = session;
    }
    pthread_mutex_unlock(&m->lock);
    snprintf(version, sizeof version, "MCP-Protocol-Version: %s", m->version);
    hdrs[n++] = version;
    if (last[0]) {
      snprintf(lasth, sizeof lasth, "Last-Event-ID: %s", last);
      hdrs[n++] = lasth;
    }
    char *token = m->oauth ? hl__oauth_token(m, NULL) : NULL;
    char *auth = NULL, *proof = NULL; /* a signer's failure: sent without; a 401 tells */
    hl__oauth_auth_lines(m, "GET", token, &auth, &proof);
    if (auth) hdrs[n++] = auth;
    if (proof) hdrs[n++] = proof;
    for (size_t i = 0; i < m->n_headers && n < 40; i++) hdrs[n++] = m->headers[i];
    hl__mcp_cancel cc = {m, NULL};
    char what[200];
    snprintf(what, sizeof what, "mcp server \"%s\" (GET stream)", m->name);
    hl__http_request req = {.url = m->url, .headers = hdrs, .n_headers = n, .what = what,
                            .on_data = on_data, .data_user = &s, .cancelled = hl__mcp_cancelled,
                            .cancel_user = &cc, .on_headers = listen_settled, .headers_user = m,
                            .secret = token, .max_buffered_bytes = HL__MCP_MAX_OTHER_BODY,
                            .capture_challenge = m->oauth != NULL};
    hl_status st = hl__http_request_send(m->listen_http, &req, &r);
    if (st == HL_OK && m->oauth) hl__dpop_keep_nonce(m->oauth, m->url, r.dpop_nonce);
    free(auth);
    free(proof);
    listen_settled(0, m); /* failed before any answer: nobody waits for it */
    if (st == HL_OK && r.status >= 200 && r.status < 300) {
      stream_end(&s);
      failures = renewals = 0;
    } else {
      failures++;
    }
    long status = r.status;
    hl__http_response_clear(&r);
    bool renewed = renewed_token(m, st, status, token, &renewals);
    free(token);
    if (renewed) continue;
    /* 405: the server offers no GET stream. 404: the session expired
     * (a call renews it; try again with the new one). */
    if (st == HL_ERR_CANCELLED || (st == HL_OK && status >= 400 && status < 500 && status != 404) ||
        failures >= 5)
      break;
    long ms = s.retry_ms > 0 ? (s.retry_ms < 30000 ? s.retry_ms : 30000) : 1000;
    /* Wait out the delay on the client's condition: hl_mcp_free()
     * broadcasts it when it closes, so close does not wait for the delay
     * (and nothing wakes before it). */
    int64_t until = hl__engine_now_ms() + ms;
    pthread_mutex_lock(&m->lock);
    while (!m->closed && hl__mcp_wait(m, until)) {
    }
    pthread_mutex_unlock(&m->lock);
  }
  stream_free(&s);
  listen_settled(0, m);
  return NULL;
}

/* Failed subscriptions/listen streams in a row before the client gives
 * up on list changes (the tools stay as last listed). */
#define MAX_LISTEN_FAILURES 8
/* How long a subscriptions/listen stream must have stayed open for its
 * end to reset the backoff. */
#define LISTEN_HEALTHY_MS 10000

/* 2026-07-28: subscriptions/listen (basic/patterns/subscriptions.mdx), a
 * POST whose answer stream stays open and carries the
 * notifications/tools/list_changed the client opted in to; progress and
 * log messages come on each request's own stream instead. Not
 * resumable: when the stream ends it is opened again as a new request
 * (new id), after 1 s doubling up to 30 s while it keeps failing or
 * ending within LISTEN_HEALTHY_MS, and the tools are listed again (a change may have come meanwhile). Given up on
 * a JSON-RPC error or a 4xx (the server offers none), after
 * MAX_LISTEN_FAILURES in a row, or at close. */
static void *subscribe_main(void *arg) {
  hl_mcp *m = arg;
  int failures = 0, renewals = 0;
  long backoff_ms = 1000;
  for (bool first = true;; first = false) {
    hl__mcp_pending lp = {0};
    pthread_mutex_lock(&m->lock);
    bool stop = m->closed;
    lp.id = m->next_id++;
    if (!stop) { /* its response (a graceful end, or a refusal) is kept */
      lp.next = m->pending;
      m->pending = &lp;
    }
    pthread_mutex_unlock(&m->lock);
    if (stop) break;
    if (!first) hl__mcp_worker_refresh(m); /* what changed while it was closed */
    cJSON *params = cJSON_CreateObject();
    cJSON *want = params ? cJSON_AddObjectToObject(params, "notifications") : NULL;
    if (want) cJSON_AddBoolToObject(want, "toolsListChanged", 1);
    params = want ? hl__mcp_with_meta(m, params) : (cJSON_Delete(params), NULL);
    char *text = params ? hl__jsonrpc_request(lp.id, "subscriptions/listen", params) : NULL;
    cJSON_Delete(params);
    stream s = {.m = m, .p = &lp, .retry_ms = -1};
    hl__http_response r = {0};
    char *token = m->oauth ? hl__oauth_token(m, NULL) : NULL;
    hl__mcp_rpc rpc = {"subscriptions/listen", NULL};
    int64_t opened_ms = hl__engine_now_ms();
    hl_status st = text ? send_http(m, NULL, text, NULL, &s, NULL, false, token, &rpc, true, false, &r) : hl__oom();
    free(text);
    listen_settled(0, m); /* failed before any answer: nobody waits for it */
    if (st == HL_ERR_CANCELLED && pending_done(m, &lp)) st = HL_OK; /* ended by its response */
    if (st == HL_OK && r.status >= 200 && r.status < 300) stream_end(&s);
    stream_free(&s);
    pthread_mutex_lock(&m->lock);
    for (hl__mcp_pending **pp = &m->pending; *pp; pp = &(*pp)->next)
      if (*pp == &lp) {
        *pp = lp.next;
        break;
      }
    bool refused = lp.response && cJSON_GetObjectItemCaseSensitive(lp.response, "error");
    bool graceful = lp.response && !refused;
    pthread_mutex_unlock(&m->lock);
    cJSON_Delete(lp.response);
    cJSON_Delete(lp.notes);
    long status = r.status;
    hl__http_response_clear(&r);
    bool renewed = renewed_token(m, st, status, token, &renewals);
    free(token);
    if (renewed) continue;
    renewals = 0;
    if (refused || st == HL_ERR_CANCELLED || (st == HL_OK && status >= 400 && status < 500)) break;
    /* A stream the server ended (gracefully or not) after it was open a
     * while resets the backoff. One that ended at once (a server that
     * acknowledges and hangs up every time, a proxy cutting idle streams)
     * doubles it, else such a server is asked again, with a tools/list,
     * every second forever; only streams that never opened count towards
     * giving up. */
    bool opened = st == HL_OK && status >= 200 && status < 300 && (graceful || s.head_len);
    bool lived = opened && hl__engine_now_ms() - opened_ms >= LISTEN_HEALTHY_MS;
    if (lived) {
      failures = 0;
      backoff_ms = 1000;
    } else if (!opened && ++failures >= MAX_LISTEN_FAILURES) {
      break;
    }
    int64_t until = hl__engine_now_ms() + backoff_ms;
    if (!lived) backoff_ms = backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
    pthread_mutex_lock(&m->lock);
    while (!m->closed && hl__mcp_wait(m, until)) {
    }
    pthread_mutex_unlock(&m->lock);
  }
  listen_settled(0, m);
  return NULL;
}

/* How long connect waits for the GET stream (or subscriptions/listen) to
 * open (a server that sends its headers only with a first event would
 * otherwise stall it). */
#define LISTEN_WAIT_MS 5000

void hl__mcp_http_listen(hl_mcp *m) {
  hl__http_options o;
  hl__http_options_default(&o);
  o.max_retries = 0;
  o.timeout_ms = 0;
  o.idle_timeout_ms = 0;
  o.max_response_bytes = 0;
  m->listen_http = hl__http_new(&o);
  if (!m->listen_http) return;
  /* The same trust as the requests' client (which checked the file); if
   * the file went since, no GET stream rather than one trusting the
   * system's store instead. */
  if (m->ca_file && hl__http_set_ca_file(m->listen_http, m->ca_file, "mcp") != HL_OK) {
    hl__http_free(m->listen_http);
    m->listen_http = NULL;
    return;
  }
  if (pthread_create(&m->listener, NULL, m->era == HL__MCP_ERA_MODERN ? subscribe_main : listener_main, m) != 0)
    return;
  m->listener_running = true;
  /* Wait until the server has answered the GET: a server sends what
   * belongs to no request (its requests, list_changed) only on an open GET
   * stream and drops it otherwise, so a call made right after connect
   * whose tool asks the client something there would wait forever. */
  long wait_ms = m->timeout_ms && m->timeout_ms < LISTEN_WAIT_MS ? (long)m->timeout_ms : LISTEN_WAIT_MS;
  int64_t deadline = hl__engine_now_ms() + wait_ms;
  pthread_mutex_lock(&m->lock);
  while (!m->listen_ready && !m->closed && hl__mcp_wait(m, deadline)) {
  }
  pthread_mutex_unlock(&m->lock);
}

void hl__mcp_http_close(hl_mcp *m) {
  if (m->listen_http) hl__http_cancel_all(m->listen_http);
  if (m->listener_running) {
    /* The loop may have started a new GET after the cancel: repeat. */
    for (;;) {
      pthread_mutex_lock(&m->lock);
      bool dummy = m->closed;
      pthread_mutex_unlock(&m->lock);
      (void)dummy;
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100 * 1000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      if (pthread_timedjoin_np(m->listener, NULL, &ts) == 0) break;
      hl__http_cancel_all(m->listen_http);
    }
    m->listener_running = false;
  }
  if (m->listen_http) hl__http_free(m->listen_http);
  m->listen_http = NULL;
  if (!m->http) return;
  if (m->session_id) {
    hl__http_response r = {0};
    /* Not cancelled by `closed`: this request is the close itself. */
    const char *hdrs[20];
    char session[400], version[64];
    size_t n = 0;
    snprintf(session, sizeof session, "Mcp-Session-Id: %s", m->session_id);
    hdrs[n++] = session;
    if (m->protocol_header) {
      snprintf(version, sizeof version, "MCP-Protocol-Version: %s", m->version);
      hdrs[n++] = version;
    }
    char *token = m->oauth ? hl__oauth_token(m, NULL) : NULL;
    char *auth = NULL, *proof = NULL; /* a signer's failure: sent without; a 401 tells */
    hl__oauth_auth_lines(m, "DELETE", token, &auth, &proof);
    if (auth) hdrs[n++] = auth;
    if (proof) hdrs[n++] = proof;
    for (size_t i = 0; i < m->n_headers && n < 20; i++) hdrs[n++] = m->headers[i];
    hl__http_options o = *hl__http_get_options(m->http);
    o.timeout_ms = 5000;
    hl__http_set_options(m->http, &o);
    hl__http_request req = {.url = m->url, .headers = hdrs, .n_headers = n, .what = "mcp", .method = "DELETE",
                            .secret = token, .max_buffered_bytes = HL__MCP_MAX_OTHER_BODY};
    hl__http_request_send(m->http, &req, &r); /* 405: the server keeps sessions itself */
    hl__http_response_clear(&r);
    free(auth);
    free(proof);
    free(token);
  }
  hl__http_free(m->http);
  m->http = NULL;
  hl__http_free(m->answer_http); /* its only user, the sender, was joined */
  m->answer_http = NULL;
}
