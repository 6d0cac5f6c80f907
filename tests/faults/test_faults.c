/*
 * test_faults.c - fault injection: every way a server or the network can
 * break an answer, against every client that speaks HTTP to a model.
 *
 * The server is tests/providers/server.py (path in $HL_TEST_SERVER),
 * started on a random 127.0.0.1 port for the program and stopped at its
 * end; the scenario is the model name up to '@'. Each row of `faults`
 * says what the server does and how the call must end, for a plain (JSON)
 * and a streamed (event-stream) answer: success after a retry, or a clear
 * error of the right status category, within the row's time limit,
 * naming the client, never showing the key, and asking the server no
 * more often than the row says. Leaks are the ASan build's to find.
 *
 * Clients are rows too (`clients`): a new provider is one more row with
 * its own `call` (and its route in server.py); MCP over Streamable HTTP
 * is two (server.py's /mcp/ route), each with its own column of outcomes.
 * The "_tls" clients are the providers over HTTPS, in their default HTTP
 * version mode (HTTP/2 if ALPN picks it) with the CA file set, against a
 * second server.py that speaks TLS and offers only http/1.1 by ALPN (a
 * self-hosted OpenAI-compatible server behind TLS); they meet the faults
 * whose row says `over_tls`, with the plain and streamed outcomes. Without
 * the openssl command (which makes that server's throwaway CA), those
 * rows skip.
 *
 *   test_faults CASE CLIENT     one case against one client (meson)
 *   test_faults                 every case against every client
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hookline/anthropic.h"
#include "hookline/mcp.h"
#include "hookline/model.h"
#include "hookline/openai.h"
#include "hookline/provider.h"
#include "test_server.h"

#define KEY "sk-test-SECRET-0123456789abcdef"

/* How one call must end. */
typedef struct outcome {
  hl_status status;   /* HL_OK: the answer arrived (after retries) */
  const char *says;   /* in the message (errors only) */
  int requests;       /* how many requests the server saw */
  /* The call is made on a connection that already carried an answer (MCP's
   * initialize): `says` is then test_not_http_says()'s for the not-HTTP row. */
  bool reused;
} outcome;

typedef struct fault {
  const char *name;      /* the meson test name's first half */
  const char *scenario;  /* server.py's */
  outcome plain, stream;
  /* MCP over Streamable HTTP (tools/call answered by one JSON body or by
   * an SSE stream). MCP never retries a tools/call by itself: the tool
   * may have run, and running it twice is not the client's call. */
  outcome mcp_json, mcp_sse;
  double limit_s;        /* the call ends within this, every retry included */
  long total_timeout_ms; /* the client's total timeout; 0: 30 s */
  /* The client calls a second time for the same model once the first
   * call ended and AGAIN_AFTER_MS passed (the server answers it normally):
   * it must get the answer, never what the fault left on a connection.
   * `requests` then counts both calls. */
  bool again;
  /* With `again`: both calls' requests came on one connection (the
   * client ports server.py saw). */
  bool one_connection;
  bool over_tls; /* also met by the _tls clients */
} fault;

/* How long an `again` row waits between its calls: the "lateexcess"
 * server sends its excess 50 ms after the answer, so by then it sits on
 * the idle pooled connection. */
#define AGAIN_AFTER_MS 300

/* The whole spec. Clients retry 3 times with 10 ms backoff capped at 5 s,
 * time out after 5 s without a byte, cap answers at 8 MiB. */
static const fault faults[] = {
    /* The connection is reset half-way through the first answer. Nothing
     * was handed over in the plain case, so it is retried; streamed text
     * already reached the application, so it is not. */
    {"reset_mid_answer", "reset",
     .plain = {HL_OK, NULL, 2},
     .stream = {HL_ERR_NETWORK, "mid-stream", 1},
     .mcp_json = {HL_ERR_NETWORK, "mid-stream", 1},
     .mcp_sse = {HL_ERR_NETWORK, "mid-stream", 1}, 15, 0},
    /* The answer ends early but cleanly, with an honest length. */
    {"truncated_answer", "truncated",
     .plain = {HL_ERR_PROVIDER, "not valid JSON", 1},
     .stream = {HL_ERR_PROVIDER, "stream ended before", 1},
     .mcp_json = {HL_ERR_JSON, "sent a message that is not JSON", 1},
     .mcp_sse = {HL_ERR_PROVIDER, "ended its answer without a response", 1}, 15, 0},
    /* A proxy's HTML page with status 200. */
    {"html_instead_of_answer", "html",
     .plain = {HL_ERR_PROVIDER, "Content-Type \"text/html; charset=utf-8\", starting \"<!DOCTYPE html>", 1},
     .stream = {HL_ERR_PROVIDER, "is not an event stream: HTTP 200 with Content-Type \"text/html", 1},
     .mcp_json = {HL_ERR_PROVIDER, "Content-Type \"text/html; charset=utf-8\", starting \"<!DOCTYPE html>", 1},
     .mcp_sse = {HL_ERR_PROVIDER, "Content-Type \"text/html; charset=utf-8\", starting \"<!DOCTYPE html>", 1}, 15, 0},
    /* Content-Length says less than is sent: the client reads that much. */
    {"content_length_too_short", "clshort",
     .plain = {HL_ERR_PROVIDER, "not valid JSON", 1},
     .stream = {HL_ERR_PROVIDER, "stream ended before", 1},
     .mcp_json = {HL_ERR_JSON, "sent a message that is not JSON", 1},
     .mcp_sse = {HL_ERR_PROVIDER, "ended its answer without a response", 1}, 15, 0},
    /* Content-Length says more than is sent, then the server hangs up. */
    {"content_length_too_long", "cllong",
     .plain = {HL_ERR_NETWORK, "after 4 attempts", 4},
     .stream = {HL_ERR_NETWORK, "mid-stream", 1},
     .mcp_json = {HL_ERR_NETWORK, "mid-stream", 1},
     /* The response (the last event) arrived whole before the break:
      * the client ends the stream on it, and that is the answer. */
     .mcp_sse = {HL_OK, NULL, 1}, 15, 0},
    /* One byte per second, headers included: the total timeout ends it. */
    {"one_byte_per_second", "drip",
     .plain = {HL_ERR_TIMEOUT, "timed out", 1},
     .stream = {HL_ERR_TIMEOUT, "timed out", 1},
     .mcp_json = {HL_ERR_TIMEOUT, "tools/call timed out", 1},
     .mcp_sse = {HL_ERR_TIMEOUT, "tools/call timed out", 1}, 15, 3000},
    /* 429 asking for a day: fail at once, saying so. */
    {"retry_after_a_day", "r429long",
     .plain = {HL_ERR_RATE_LIMIT, "server asked to retry after 86400 s, more than the 5 s maximum", 1},
     .stream = {HL_ERR_RATE_LIMIT, "server asked to retry after 86400 s, more than the 5 s maximum", 1},
     .mcp_json = {HL_ERR_RATE_LIMIT, "HTTP 429: slow down", 1},
     .mcp_sse = {HL_ERR_RATE_LIMIT, "HTTP 429: slow down", 1}, 8, 0},
    /* 503 asking for a day, as an HTTP date. */
    {"retry_after_a_day_as_date", "r503longdate",
     .plain = {HL_ERR_HTTP, "more than the 5 s maximum", 1},
     .stream = {HL_ERR_HTTP, "more than the 5 s maximum", 1},
     .mcp_json = {HL_ERR_HTTP, "HTTP 503: come back tomorrow", 1},
     .mcp_sse = {HL_ERR_HTTP, "HTTP 503: come back tomorrow", 1}, 8, 0},
    /* One line of 20 MB (a JSON body, or one event). */
    {"line_of_20_mb", "hugeline",
     .plain = {HL_ERR_TOO_LARGE, "larger than", 1},
     .stream = {HL_ERR_TOO_LARGE, "larger than", 1},
     .mcp_json = {HL_ERR_TOO_LARGE, "sent a message of more than 8388608 bytes (the cap)", 1},
     .mcp_sse = {HL_ERR_TOO_LARGE, "sent a message of more than 8388608 bytes (the cap)", 1}, 20, 0},
    /* Invalid UTF-8 inside the answer's text. */
    {"invalid_utf8", "badutf8",
     .plain = {HL_ERR_PROVIDER, "invalid UTF-8", 1},
     .stream = {HL_ERR_PROVIDER, "invalid UTF-8", 1},
     .mcp_json = {HL_ERR_PROVIDER, "sent invalid UTF-8", 1},
     .mcp_sse = {HL_ERR_PROVIDER, "sent invalid UTF-8", 1}, 15, 0},
    /* Another protocol on the port. */
    {"reply_not_http", "nothttp",
     .plain = {HL_ERR_PROVIDER, "did not answer in HTTP: it sent \"SSH-2.0-OpenSSH", 1},
     .stream = {HL_ERR_PROVIDER, "did not answer in HTTP: it sent \"SSH-2.0-OpenSSH", 1},
     .mcp_json = {HL_ERR_PROVIDER, "did not answer in HTTP: it sent \"SSH-2.0-OpenSSH", 1, true},
     .mcp_sse = {HL_ERR_PROVIDER, "did not answer in HTTP: it sent \"SSH-2.0-OpenSSH", 1, true}, 15, 0},
    /* A complete answer, then a second, unasked-for response on the same
     * keep-alive connection (server.py's SMUGGLED text), in the same send
     * or 50 ms later while the connection is idle in the pool. The first
     * call has its answer; the next request must never take the smuggled
     * one for its own (libcurl 7.88 reads a body only up to its
     * Content-Length and reuses a connection that has unread bytes). */
    /* Over TLS, the excess sent apart comes in TLS records of its own,
     * which wait on the socket of the idle connection; excess in the
     * record of the answer's end is read with it (see reuse_guard.h). */
    {"excess_after_answer", "excess",
     .plain = {HL_OK, NULL, 2},
     .stream = {HL_OK, NULL, 2},
     .mcp_json = {HL_OK, NULL, 2},
     .mcp_sse = {HL_OK, NULL, 2}, 15, 0, .again = true, .over_tls = true},
    {"excess_50ms_after_answer", "lateexcess",
     .plain = {HL_OK, NULL, 2},
     .stream = {HL_OK, NULL, 2},
     .mcp_json = {HL_OK, NULL, 2},
     .mcp_sse = {HL_OK, NULL, 2}, 15, 0, .again = true, .over_tls = true},
    /* No fault, the control of the two rows above: the second call
     * reuses the first one's connection, which the reuse guard checked
     * and left alone (over TLS too, where a record that is not part of an
     * answer, such as a session ticket, would pass for unasked bytes). */
    {"healthy_keep_alive", "text",
     .plain = {HL_OK, NULL, 2},
     .stream = {HL_OK, NULL, 2},
     .mcp_json = {HL_OK, NULL, 2},
     .mcp_sse = {HL_OK, NULL, 2}, 15, 0, .again = true, .one_connection = true, .over_tls = true},
    /* The second call's request, sent on the first one's keep-alive
     * connection, is read whole and the connection closed unanswered:
     * libcurl sends it again on a new connection by itself, the body with
     * it (a model call's body is freed once sent and made again for that,
     * http.h), and the server checks that it is the request's JSON. */
    {"connection_closed_unanswered_on_reuse", "dropsecond",
     .plain = {HL_OK, NULL, 3},
     .stream = {HL_OK, NULL, 3},
     .mcp_json = {HL_OK, NULL, 3},
     .mcp_sse = {HL_OK, NULL, 3}, 15, 0, .again = true},
    /* 500 once, then the answer. */
    {"server_error_then_success", "r500once",
     .plain = {HL_OK, NULL, 2},
     .stream = {HL_OK, NULL, 2},
     /* Not retried (see above): the server's 500 is the answer. */
     .mcp_json = {HL_ERR_HTTP, "HTTP 500: internal failure", 1},
     .mcp_sse = {HL_ERR_HTTP, "HTTP 500: internal failure", 1}, 15, 0},
};

/* ------------------------------------------------------------------ */
/* Clients                                                             */
/* ------------------------------------------------------------------ */

static test_server srv;
static test_server srv_tls; /* started for the first _tls client */

typedef struct client client;
struct client {
  const char *name;   /* the meson test name's second half */
  const char *says;   /* every error message names it */
  size_t want;        /* which outcome of a fault applies: offsetof(fault, ...) */
  /* One call for `model` against base URL `base`: HL_OK with the answer's
   * text in *text (hl_free), or the error with hl_last_error() set. */
  hl_status (*call)(const client *c, const fault *f, const char *model, char **text);
  hl_provider *(*make)(const char *base, const char *key);
  hl_status (*timeouts)(hl_provider *, long, long, long);
  hl_status (*retries)(hl_provider *, int, long, long);
  /* Over HTTPS to srv_tls, trusting its CA (NULL: http:// to srv). */
  hl_status (*ca_file)(hl_provider *, const char *);
};

static test_server *server_of(const client *c) { return c->ca_file ? &srv_tls : &srv; }

/* A model provider: a fresh one per call, so no connection outlives a case. */
static hl_status call_provider(const client *c, const fault *f, const char *model, char **text) {
  *text = NULL;
  hl_provider *p = c->make(server_of(c)->base, KEY);
  if (!p) return hl_last_status();
  if (c->ca_file && c->ca_file(p, srv_tls.ca) != HL_OK) {
    hl_status st = hl_last_status();
    hl_provider_unref(p);
    return st;
  }
  c->retries(p, 3, 10, 5000);
  c->timeouts(p, 5000, f->total_timeout_ms ? f->total_timeout_ms : 30000, 5000);
  hl_request *req = hl_request_new();
  hl_status st = req ? HL_OK : HL_ERR_NOMEM;
  if (st == HL_OK) {
    hl_request_set_model(req, model);
    hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "Hi there"));
    req->stream = c->want == offsetof(fault, stream);
    hl_response *r = NULL;
    st = hl_provider_complete(p, NULL, req, &r);
    if (st == HL_OK) *text = hl_message_text(r->message);
    hl_response_free(r);
  }
  /* The row judges the call's own message, whatever cleaning up does. */
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", hl_last_error());
  hl_request_free(req);
  hl_provider_unref(p);
  if (st != HL_OK) hl_fail(st, "%s", msg);
  return st;
}

/* MCP over Streamable HTTP: a fresh client per call connects (initialize
 * and tools/list answer normally), then calls the server's tool "hello",
 * whose answer the fault breaks: one JSON body ("plain", mcp_json) or an
 * SSE stream of two progress notifications and the response ("stream",
 * mcp_sse). The key goes in an Authorization header. */
static hl_status call_mcp(const client *c, const fault *f, const char *model, char **text) {
  (void)c;
  *text = NULL;
  char url[300], auth[100];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp/%s", srv.port, model);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", KEY);
  hl_mcp *m = hl_mcp_new_http("faults", url);
  if (!m) return hl_last_status();
  hl_mcp_add_header(m, auth);
  hl_mcp_set_timeout_ms(m, f->total_timeout_ms ? (unsigned)f->total_timeout_ms : 30000);
  /* The cap on one message: the 8 MiB the providers have. */
  hl_mcp_set_max_message_bytes(m, 8u << 20);
  hl_status st = hl_mcp_connect(m);
  char msg[2048] = "";
  if (st != HL_OK) {
    snprintf(msg, sizeof msg, "connect failed (not the fault under test): %s", hl_mcp_errmsg(m));
  } else {
    cJSON *result = NULL;
    st = hl_mcp_call(m, NULL, "hello", NULL, &result, NULL);
    if (st == HL_OK) *text = cJSON_IsString(result) ? strdup(result->valuestring) : cJSON_PrintUnformatted(result);
    else snprintf(msg, sizeof msg, "%s", hl_last_error());
    cJSON_Delete(result);
  }
  hl_mcp_free(m);
  if (st != HL_OK) hl_fail(st, "%s", msg);
  return st;
}

static const client clients[] = {
    {"openai_plain", "openai", offsetof(fault, plain), call_provider, hl_openai_new, hl_openai_set_timeouts,
     hl_openai_set_retries, NULL},
    {"openai_stream", "openai", offsetof(fault, stream), call_provider, hl_openai_new, hl_openai_set_timeouts,
     hl_openai_set_retries, NULL},
    {"anthropic_plain", "anthropic", offsetof(fault, plain), call_provider, hl_anthropic_new,
     hl_anthropic_set_timeouts, hl_anthropic_set_retries, NULL},
    {"anthropic_stream", "anthropic", offsetof(fault, stream), call_provider, hl_anthropic_new,
     hl_anthropic_set_timeouts, hl_anthropic_set_retries, NULL},
    {"mcp_json", "mcp server \"faults\"", offsetof(fault, mcp_json), call_mcp, NULL, NULL, NULL, NULL},
    {"mcp_sse", "mcp server \"faults\"", offsetof(fault, mcp_sse), call_mcp, NULL, NULL, NULL, NULL},
    {"openai_plain_tls", "openai", offsetof(fault, plain), call_provider, hl_openai_new,
     hl_openai_set_timeouts, hl_openai_set_retries, hl_openai_set_ca_file},
    {"openai_stream_tls", "openai", offsetof(fault, stream), call_provider, hl_openai_new,
     hl_openai_set_timeouts, hl_openai_set_retries, hl_openai_set_ca_file},
    {"anthropic_plain_tls", "anthropic", offsetof(fault, plain), call_provider, hl_anthropic_new,
     hl_anthropic_set_timeouts, hl_anthropic_set_retries, hl_anthropic_set_ca_file},
    {"anthropic_stream_tls", "anthropic", offsetof(fault, stream), call_provider, hl_anthropic_new,
     hl_anthropic_set_timeouts, hl_anthropic_set_retries, hl_anthropic_set_ca_file},
};

/* What server.py answers when nothing breaks. */
#define TEXT "Hello, world! Caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80 done."

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The one assertion of a row: client `c` meets fault `f` and the call ends
 * as the row says. */
static void expect_outcome(const fault *f, const client *c) {
  const outcome *want = (const outcome *)((const char *)f + c->want);
  char model[128];
  snprintf(model, sizeof model, "%s@%s", f->scenario, c->name);
  char *text = NULL;
  double t0 = now_s();
  hl_status st = c->call(c, f, model, &text);
  double took = now_s() - t0;
  char msg[2048];
  snprintf(msg, sizeof msg, "%s", st == HL_OK ? "" : hl_last_error());
  fprintf(stderr, "%s / %s: %s in %.2f s: %s\n", f->name, c->name, hl_status_name(st), took, msg);

  CHECK_INT(st, want->status);
  if (want->status == HL_OK) {
    CHECK_STR(text, TEXT);
  } else {
    CHECK_CONTAINS(msg, want->reused ? test_not_http_says(true, want->says) : want->says);
    CHECK_CONTAINS(msg, c->says);
    CHECK(strstr(msg, KEY) == NULL && strstr(msg, "SECRET") == NULL);
  }
  CHECK(took < f->limit_s);
  hl_free(text);
  if (f->again) {
    struct timespec pause = {0, AGAIN_AFTER_MS * 1000000L};
    nanosleep(&pause, NULL);
    st = c->call(c, f, model, &text);
    fprintf(stderr, "%s / %s, again: %s: %s\n", f->name, c->name, hl_status_name(st),
            st != HL_OK ? hl_last_error() : text ? text : "(no text)");
    CHECK_INT(st, HL_OK);
    CHECK_STR(text, TEXT);
    hl_free(text);
  }
  CHECK_INT(test_server_count(server_of(c), model), want->requests);
  if (f->one_connection) {
    cJSON *st = test_server_stats(server_of(c), model);
    const cJSON *peers = hl_json_get(st, "peers");
    CHECK_INT(cJSON_GetArraySize(peers), 2);
    if (cJSON_GetArraySize(peers) == 2)
      CHECK_INT(cJSON_GetArrayItem(peers, 0)->valueint, cJSON_GetArrayItem(peers, 1)->valueint);
    cJSON_Delete(st);
  }
}

int main(int argc, char **argv) {
  size_t nf = sizeof faults / sizeof faults[0], nc = sizeof clients / sizeof clients[0];
  if (argc != 1 && argc != 3) {
    fprintf(stderr, "usage: %s [CASE CLIENT]\n", argv[0]);
    return 2;
  }
  if (test_server_start(&srv) != 0) return 1;
  /* Set by meson when it found the openssl command (server.py --tls). */
  bool tls_ok = getenv("HL_TEST_TLS_SERVER") != NULL;
  int ran = 0, skipped = 0;
  for (size_t i = 0; i < nf; i++)
    for (size_t k = 0; k < nc; k++) {
      if (argc == 3 && (strcmp(argv[1], faults[i].name) || strcmp(argv[2], clients[k].name)))
        continue;
      if (clients[k].ca_file && !faults[i].over_tls) continue;
      if (clients[k].ca_file && !tls_ok) {
        fprintf(stderr, "skip %s %s: no openssl command for the TLS server\n", faults[i].name,
                clients[k].name);
        skipped++;
        continue;
      }
      if (clients[k].ca_file && !srv_tls.pid && test_server_start_tls(&srv_tls) != 0) {
        test_server_stop(&srv);
        return 1;
      }
      int before = check_failures_;
      expect_outcome(&faults[i], &clients[k]);
      fprintf(stderr, "%s %s %s\n", check_failures_ == before ? "ok  " : "FAIL", faults[i].name,
              clients[k].name);
      ran++;
    }
  test_server_stop(&srv);
  test_server_stop(&srv_tls);
  if (ran == 0 && skipped > 0) return 77;
  if (ran == 0) {
    fprintf(stderr, "no case matched\n"); /* a typo in meson.build must not pass */
    return 1;
  }
  return CHECK_EXIT();
}
