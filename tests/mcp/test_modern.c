/*
 * tests/mcp/test_modern.c - the client against modern_server.py, a server
 * of the stateless 2026-07-28 revision, over stdio and Streamable HTTP:
 * era detection both ways (a modern server never gets initialize, a
 * legacy-only one gets it after server/discover), the retry after
 * UnsupportedProtocolVersionError (at connect and for a call) and the
 * failure without a common version, the _meta and standard headers of every request (the server
 * refuses a request without them), the log level in _meta, multi
 * round-trip requests (two rounds, the requestState checked byte for byte
 * by the server and here; a server that asks forever; an input request
 * without a handler), subscriptions/listen driving a tool list change
 * (and reopened after the server dropped it), a response stream that
 * breaks before the response (re-issued with a new id), and a timed-out
 * call's cancellation (stdio: notifications/cancelled; HTTP: the closed
 * stream only).
 */
#include <stdatomic.h>

#include "mcp_fixture.h"

static fx_events events = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The requestStates modern_server.py sends (UTF-8 of its Python text). */
#define STATE1 "r1:caf\xc3\xa9 \"q\" \\ \xe2\x80\xa8 \xf0\x9f\x98\x80 {\"x\":[1,2]}"

typedef struct server {
  bool http;
  pid_t pid;
  int port;
  hl_mcp *m;
} server;

static atomic_int url_elicitations; /* URL mode requests name_handler saw */

static hl_status name_handler(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *user) {
  (void)m, (void)method, (void)user;
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(params, "mode");
  if (cJSON_IsString(mode) && strcmp(mode->valuestring, "url") == 0) atomic_fetch_add(&url_elicitations, 1);
  *result = cJSON_Parse("{\"action\":\"accept\",\"content\":{\"name\":\"Ada\"}}");
  return HL_OK;
}

/* A client of modern_server.py in `mode` (MODERN_MODE), not connected
 * yet, with an elicitation handler, roots and the event observer. */
static hl_mcp *open_client(server *s, bool http, const char *mode) {
  memset(s, 0, sizeof *s);
  s->http = http;
  if (http) {
    setenv("MODERN_MODE", mode, 1);
    s->pid = spawn_script_args(fx_env("HL_MCP_MODERN"), "--http", NULL, &s->port);
    unsetenv("MODERN_MODE");
    if (s->pid > 0 && s->port <= 0) fx_stop(s->pid);
    if (s->pid <= 0 || s->port <= 0) return NULL;
    char url[100];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", s->port);
    s->m = hl_mcp_new_http("modern", url);
  } else {
    const char *argv[] = {"python3", fx_env("HL_MCP_MODERN"), NULL};
    s->m = hl_mcp_new_stdio("modern", argv);
    if (s->m) hl_mcp_set_env(s->m, "MODERN_MODE", mode);
  }
  if (!s->m) return NULL;
  hl_mcp_set_timeout_ms(s->m, 20000);
  hl_mcp_set_handler(s->m, "elicitation/create", name_handler, NULL);
  cJSON *roots = cJSON_Parse("[{\"uri\":\"file:///srv/ada\",\"name\":\"ada\"}]");
  hl_mcp_set_roots(s->m, roots);
  cJSON_Delete(roots);
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  hl_mcp_add_observer(s->m, obs);
  hl_observer_unref(obs);
  return s->m;
}

static void close_client(server *s) {
  hl_mcp_free(s->m);
  if (s->http) fx_stop(s->pid);
}

static hl_status call_text(hl_mcp *m, const char *tool, char **text) {
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, tool, NULL, &res, NULL);
  *text = cJSON_IsString(res) ? strdup(res->valuestring) : strdup(st ? hl_last_error() : "(not text)");
  cJSON_Delete(res);
  return st;
}

/* What the server recorded: an array of {method, id, meta, headers, ...}
 * (stdio: through its __log tool, which is then the last entry). */
static cJSON *server_log(server *s) {
  if (s->http) return fx_server_json(s->port, "/__log", NULL);
  char *t = NULL;
  cJSON *log = call_text(s->m, "__log", &t) == HL_OK ? cJSON_Parse(t) : NULL;
  free(t);
  return log;
}

static int count_method(const cJSON *log, const char *method) {
  int n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, log) {
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(e, "method");
    if (cJSON_IsString(mm) && strcmp(mm->valuestring, method) == 0) n++;
  }
  return n;
}

static const char *str_at(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* The calls of tool `name` in the log, in order. */
static int calls_of(const cJSON *log, const char *name, const cJSON **out, int max) {
  int n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, log) if (strcmp(str_at(e, "method"), "tools/call") == 0 && strcmp(str_at(e, "name"), name) == 0 &&
                                 n < max) out[n++] = e;
  return n;
}

static void modern_era(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK_STR(hl_mcp_protocol_version(m), "2026-07-28");
  CHECK(hl_mcp_is_modern(m));
  const cJSON *info = cJSON_GetObjectItemCaseSensitive(hl_mcp_server_info(m), "serverInfo");
  CHECK_STR(str_at(info, "name"), "modern");
  hl_tools *t = hl_mcp_tools(m);
  CHECK_INT(hl_tools_count(t), 12);
  hl_tools_free(t);

  char *text = NULL;
  CHECK_INT(call_text(m, "echo", &text), HL_OK);
  CHECK_STR(text, "echo: ");
  free(text);
  /* A name that is no plain header value: Mcp-Name in base64 (the HTTP
   * server refuses a request whose header does not decode to the name). */
  CHECK_INT(call_text(m, "caf\xc3\xa9", &text), HL_OK);
  CHECK_STR(text, "caf\xc3\xa9 au lait");
  free(text);
  /* The revision's error codes are named: -32021 (a capability the
   * server requires), and -32602 to resources/read (not found). */
  CHECK_INT(call_text(m, "needs_sampling", &text), HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(text, "error -32021");
  CHECK_CONTAINS(text, "requires a client capability this client did not declare");
  free(text);
  cJSON *params = cJSON_Parse("{\"uri\":\"file:///nope\"}"), *res = NULL;
  CHECK_INT(hl_mcp_request(m, NULL, "resources/read", params, &res), HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "error -32602: Resource not found (the resource was not found)");
  cJSON_Delete(params);
  CHECK(res == NULL);
  /* ping: server/discover (the revision has no ping). */
  CHECK_INT(hl_mcp_ping(m), HL_OK);

  /* The log level goes in _meta; the server logs only when asked. */
  fx_events_clear(&events);
  CHECK_INT(call_text(m, "log", &text), HL_OK);
  CHECK_STR(text, "level: None");
  free(text);
  CHECK_INT(hl_mcp_set_log_level(m, "loud"), HL_ERR_INVALID);
  CHECK_INT(hl_mcp_set_log_level(m, "debug"), HL_OK);
  CHECK_INT(call_text(m, "log", &text), HL_OK);
  CHECK_STR(text, "level: debug");
  free(text);
  for (int i = 0; i < 100 && !fx_events_count(&events, "log for debug"); i++) fx_sleep_ms(20);
  CHECK_INT(fx_events_count(&events, "mcp.log"), 1);

  cJSON *log = server_log(&s);
  REQUIRE(cJSON_IsArray(log));
  CHECK_STR(str_at(cJSON_GetArrayItem(log, 0), "method"), "server/discover");
  CHECK_INT(count_method(log, "initialize"), 0);
  CHECK_INT(count_method(log, "notifications/initialized"), 0);
  CHECK_INT(count_method(log, "GET"), 0);
  CHECK_INT(count_method(log, "ping"), 0);
  CHECK_INT(count_method(log, "logging/setLevel"), 0);
  CHECK_INT(count_method(log, "server/discover"), 2);
  const cJSON *e;
  int checked = 0;
  cJSON_ArrayForEach(e, log) {
    if (cJSON_GetObjectItemCaseSensitive(e, "refused")) {
      CHECK_STR(str_at(e, "refused"), "");
      continue;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(e, "meta");
    CHECK_STR(str_at(meta, "io.modelcontextprotocol/protocolVersion"), "2026-07-28");
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(meta, "io.modelcontextprotocol/clientCapabilities");
    /* Exactly what the application gave handlers for. */
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "elicitation")));
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(caps, "roots")));
    CHECK(!cJSON_GetObjectItemCaseSensitive(caps, "sampling"));
    CHECK_STR(str_at(cJSON_GetObjectItemCaseSensitive(meta, "io.modelcontextprotocol/clientInfo"), "name"),
              "hookline");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "headers");
    if (http) {
      CHECK_STR(str_at(h, "mcp-method"), str_at(e, "method"));
      CHECK_STR(str_at(h, "mcp-protocol-version"), "2026-07-28");
      CHECK(!cJSON_GetObjectItemCaseSensitive(h, "mcp-session-id"));
      if (strcmp(str_at(e, "name"), "caf\xc3\xa9") == 0) CHECK_STR(str_at(h, "mcp-name"), "=?base64?Y2Fmw6k=?=");
      else if (strcmp(str_at(e, "method"), "tools/call") == 0) CHECK_STR(str_at(h, "mcp-name"), str_at(e, "name"));
    }
    checked++;
  }
  CHECK(checked >= 8);
  cJSON_Delete(log);
  close_client(&s);
}

static void legacy_era(bool http, const char *mode) {
  server s;
  hl_mcp *m = open_client(&s, http, mode);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK_STR(hl_mcp_protocol_version(m), "2025-11-25");
  CHECK(!hl_mcp_is_modern(m));
  char *text = NULL;
  CHECK_INT(call_text(m, "echo", &text), HL_OK);
  CHECK_STR(text, "echo: ");
  free(text);
  if (http) { /* the stdio legacy server has no __log tool */
    cJSON *log = server_log(&s);
    CHECK_STR(str_at(cJSON_GetArrayItem(log, 0), "method"), "server/discover");
    CHECK_STR(str_at(cJSON_GetArrayItem(log, 1), "method"), "initialize");
    CHECK_INT(count_method(log, "server/discover"), 1);
    CHECK_INT(count_method(log, "notifications/initialized"), 1);
    /* After the fallback, legacy requests: no _meta version. */
    const cJSON *calls[2];
    REQUIRE(calls_of(log, "echo", calls, 2) == 1);
    CHECK(!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(calls[0], "meta"),
                                            "io.modelcontextprotocol/protocolVersion"));
    cJSON_Delete(log);
  }
  close_client(&s);
}

static void version_retry(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "reject_once");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK(hl_mcp_is_modern(m));
  cJSON *log = server_log(&s);
  CHECK_INT(count_method(log, "server/discover"), 2); /* refused, then again: never initialize */
  CHECK_INT(count_method(log, "initialize"), 0);
  cJSON_Delete(log);
  close_client(&s);
}

/* After connect: a call refused with -32022 that lists our version goes
 * again once (a new id); one that no longer lists it fails, named. */
static void call_version_retry(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "reject_call");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *text = NULL;
  CHECK_INT(call_text(m, "echo", &text), HL_OK);
  CHECK_STR(text, "echo: ");
  free(text);
  cJSON *log = server_log(&s);
  const cJSON *c[3];
  REQUIRE(calls_of(log, "echo", c, 3) == 2);
  CHECK(cJSON_GetObjectItemCaseSensitive(c[0], "id")->valueint != cJSON_GetObjectItemCaseSensitive(c[1], "id")->valueint);
  cJSON_Delete(log);
  close_client(&s);

  m = open_client(&s, http, "moved_on");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK_INT(call_text(m, "echo", &text), HL_ERR_UNSUPPORTED);
  CHECK_CONTAINS(text, "no longer supports protocol version 2026-07-28");
  CHECK_CONTAINS(text, "\"2099-01-01\"");
  free(text);
  close_client(&s);
}

static void no_common_version(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "future");
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_UNSUPPORTED);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "\"2099-01-01\"");
  CHECK_CONTAINS(hl_mcp_errmsg(m), "no protocol version in common");
  if (http) {
    cJSON *log = fx_server_json(s.port, "/__log", NULL);
    CHECK_INT(count_method(log, "initialize"), 0); /* a modern server: no fallback */
    cJSON_Delete(log);
  }
  close_client(&s);
}

/* A server that refuses 2026-07-28 while listing it (every time): connect
 * fails after one retry, saying so, not "no protocol version in common". */
static void contrary_version(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "contrary");
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_UNSUPPORTED);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "twice while saying it supports it");
  close_client(&s);
}
static void stdio_contrary_version(void) { contrary_version(false); }
static void http_contrary_version(void) { contrary_version(true); }

/* A method name is an HTTP header value to a modern server (Mcp-Method):
 * one with CR/LF would add headers of the caller's choosing to the
 * request; it is refused before anything is sent. */
static void method_injection(void) {
  server s;
  hl_mcp *m = open_client(&s, true, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *res = NULL;
  CHECK_INT(hl_mcp_request(m, NULL, "tools/list\r\nX-Injected: yes", NULL, &res), HL_ERR_INVALID);
  CHECK(res == NULL);
  CHECK_INT(hl_mcp_request(m, NULL, "tools/list\x7f", NULL, &res), HL_ERR_INVALID);
  cJSON *log = server_log(&s);
  const cJSON *e;
  cJSON_ArrayForEach(e, log) CHECK(!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "headers"),
                                                                     "x-injected"));
  cJSON_Delete(log);
  CHECK_INT(hl_mcp_request(m, NULL, "tools/list", NULL, &res), HL_OK); /* the client is still fine */
  cJSON_Delete(res);
  close_client(&s);
}

/* A Mcp-Name value that begins like the Base64 form goes encoded even
 * without the form's end, as Mcp-Param-* values do (a server that checks
 * the prefix alone would decode it): the uri reaches the server intact
 * (-32602, no resource; not -32020) and the header is the encoded form. */
static void sentinel_name(void) {
  server s;
  hl_mcp *m = open_client(&s, true, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *params = cJSON_Parse("{\"uri\":\"=?base64?not-encoded\"}");
  CHECK_INT(hl_mcp_request(m, NULL, "resources/read", params, NULL), HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "error -32602");
  cJSON_Delete(params);
  cJSON *log = server_log(&s);
  const cJSON *e;
  int seen = 0;
  cJSON_ArrayForEach(e, log) if (strcmp(str_at(e, "method"), "resources/read") == 0) {
    seen++;
    CHECK_STR(str_at(cJSON_GetObjectItemCaseSensitive(e, "headers"), "mcp-name"),
              "=?base64?PT9iYXNlNjQ/bm90LWVuY29kZWQ=?=");
  }
  CHECK_INT(seen, 1);
  cJSON_Delete(log);
  close_client(&s);
}

/* A server request on the probe's stream: the worker answers it (an HTTP
 * POST with the MCP-Protocol-Version header) while connect records what
 * it found (TSan: no race). */
static void probe_request(void) {
  server s;
  hl_mcp *m = open_client(&s, true, "probe_request");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK(hl_mcp_is_modern(m));
  bool answered = false;
  for (int i = 0; i < 100 && !answered; i++) {
    cJSON *log = server_log(&s);
    const cJSON *e;
    cJSON_ArrayForEach(e, log) answered = answered || (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "id")) &&
                                                      strcmp(str_at(e, "id"), "s1") == 0);
    cJSON_Delete(log);
    if (!answered) fx_sleep_ms(20);
  }
  CHECK(answered);
  close_client(&s);
}

/* The time limit covers a request's input rounds together: two rounds of
 * 1 s each under a 1.5 s limit time out at about 1.5 s (the second round
 * waits for what is left of the limit), over either transport. */
static void rounds_time_limit(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "modern");
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 1500); /* HTTP: before connect */
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *text = NULL;
  int64_t t0 = mono_ms();
  CHECK_INT(call_text(m, "slow_rounds", &text), HL_ERR_TIMEOUT);
  int64_t took = mono_ms() - t0;
  CHECK(took < 1900);
  free(text);
  close_client(&s);
}
static void stdio_rounds_time_limit(void) { rounds_time_limit(false); }
static void http_rounds_time_limit(void) { rounds_time_limit(true); }

static void mrtr(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  /* Two rounds: the elicitation handler, then roots/list (hl_mcp_set_roots). */
  char *text = NULL;
  CHECK_INT(call_text(m, "two_rounds", &text), HL_OK);
  CHECK_STR(text, "done: Ada at file:///srv/ada");
  free(text);
  /* A server that asks forever: bounded. */
  CHECK_INT(call_text(m, "ask_forever", &text), HL_ERR_LIMIT);
  CHECK_CONTAINS(text, "still asked for input after 10 rounds");
  free(text);
  /* Sampling was never declared (no handler): the call fails, named. */
  CHECK_INT(call_text(m, "ask_sampling", &text), HL_ERR_PROVIDER);
  CHECK_CONTAINS(text, "sampling/createMessage");
  free(text);
  /* 17 inputs in one round (the cap is 16), and an input request naming
   * a method no input request may (tools/call): refused, no handler run. */
  /* A URL mode elicitation, not declared (form only, the default): the
   * call fails naming it and the handler does not run. */
  const char *hostile[] = {"{\"many\":true}", "at most 16", "{\"other\":true}", "names no method",
                           "{\"url\":true}", "elicitation mode \"url\", which this client did not declare"};
  for (int i = 0; i < 6; i += 2) {
    cJSON *args = cJSON_Parse(hostile[i]), *res = NULL;
    CHECK_INT(hl_mcp_call(m, NULL, "ask_sampling", args, &res, NULL), HL_ERR_PROVIDER);
    CHECK_CONTAINS(hl_last_error(), hostile[i + 1]);
    CHECK(res == NULL);
    cJSON_Delete(args);
  }

  cJSON *log = server_log(&s);
  const cJSON *c[12];
  REQUIRE(calls_of(log, "two_rounds", c, 12) == 3);
  /* New ids; the states came back as sent, byte for byte; each retry
   * carries only its own round's answers. */
  const cJSON *i0 = cJSON_GetObjectItemCaseSensitive(c[0], "id"), *i1 = cJSON_GetObjectItemCaseSensitive(c[1], "id"),
              *i2 = cJSON_GetObjectItemCaseSensitive(c[2], "id");
  CHECK(i0->valueint != i1->valueint && i1->valueint != i2->valueint && i0->valueint != i2->valueint);
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c[0], "state")));
  CHECK_STR(str_at(c[1], "state"), STATE1);
  CHECK_STR(str_at(c[2], "state"), "r2:AP9vcGFxdWU=:Ada");
  const cJSON *r1 = cJSON_GetObjectItemCaseSensitive(c[1], "responses");
  CHECK_STR(str_at(cJSON_GetObjectItemCaseSensitive(r1, "who"), "action"), "accept");
  CHECK(!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c[2], "responses"), "who"));
  CHECK_INT(calls_of(log, "ask_forever", c, 12), 10);
  CHECK_STR(str_at(c[9], "state"), "again-9");
  /* The calls in between carried none of it. */
  const cJSON *other[4];
  REQUIRE(calls_of(log, "ask_sampling", other, 4) == 4); /* each asked once, none retried */
  CHECK_INT(atomic_load(&url_elicitations), 0);
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(other[0], "state")));
  cJSON_Delete(log);
  close_client(&s);
}

/* URL mode declared: the input request reaches the handler, and every
 * request's _meta declares both modes. */
static void url_elicitation(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "modern");
  REQUIRE(m);
  CHECK_INT(hl_mcp_set_elicitation_modes(m, HL_MCP_ELICIT_FORM | HL_MCP_ELICIT_URL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  int before = atomic_load(&url_elicitations);
  cJSON *args = cJSON_Parse("{\"url\":true}"), *res = NULL;
  CHECK_INT(hl_mcp_call(m, NULL, "ask_sampling", args, &res, NULL), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "url: accept") == 0);
  cJSON_Delete(res);
  cJSON_Delete(args);
  CHECK_INT(atomic_load(&url_elicitations), before + 1);
  cJSON *log = server_log(&s);
  const cJSON *c[2];
  REQUIRE(calls_of(log, "ask_sampling", c, 2) == 2);
  const cJSON *caps = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c[0], "meta"),
                                                       "io.modelcontextprotocol/clientCapabilities");
  const cJSON *el = cJSON_GetObjectItemCaseSensitive(caps, "elicitation");
  CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(el, "form")));
  CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(el, "url")));
  cJSON_Delete(log);
  close_client(&s);
}
static void stdio_url_elicitation(void) { url_elicitation(false); }
static void http_url_elicitation(void) { url_elicitation(true); }

/* Wait up to 20 s for the tool list's generation to pass `gen` (a bound
 * for a loaded machine; it passes in milliseconds when the client works). */
static bool refreshed(hl_mcp *m, unsigned gen) {
  for (int i = 0; i < 1000; i++) {
    if (hl_mcp_tools_generation(m) > gen) return true;
    fx_sleep_ms(20);
  }
  return false;
}

static void list_changed(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *text = NULL;
  if (http) {
    /* The server drops the stream: the client opens it again (a new
     * request, a new id) and lists the tools again. */
    unsigned gen = hl_mcp_tools_generation(m);
    CHECK_INT(call_text(m, "drop_listen", &text), HL_OK);
    CHECK_STR(text, "dropped 1");
    free(text);
    CHECK(refreshed(m, gen));
    int listens = 0;
    for (int i = 0; i < 400 && listens < 2; i++) {
      cJSON *log = server_log(&s);
      listens = count_method(log, "subscriptions/listen");
      cJSON_Delete(log);
      if (listens < 2) fx_sleep_ms(50);
    }
    CHECK_INT(listens, 2);
  }
  unsigned gen = hl_mcp_tools_generation(m);
  CHECK_INT(call_text(m, "add_tool", &text), HL_OK);
  free(text);
  CHECK(refreshed(m, gen));
  hl_tools *t = hl_mcp_tools(m);
  CHECK(hl_tools_find(t, "extra") != NULL);
  hl_tools_free(t);
  cJSON *log = server_log(&s);
  const cJSON *e;
  cJSON_ArrayForEach(e, log) if (strcmp(str_at(e, "method"), "subscriptions/listen") == 0) {
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(e, "meta");
    CHECK_STR(str_at(meta, "io.modelcontextprotocol/protocolVersion"), "2026-07-28");
  }
  cJSON_Delete(log);
  close_client(&s);
}

static void dropped_stream(void) {
  server s;
  hl_mcp *m = open_client(&s, true, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *text = NULL;
  CHECK_INT(call_text(m, "drop_once", &text), HL_OK);
  CHECK_STR(text, "second try");
  free(text);
  cJSON *log = server_log(&s);
  const cJSON *c[4];
  REQUIRE(calls_of(log, "drop_once", c, 4) == 2);
  CHECK(cJSON_GetObjectItemCaseSensitive(c[0], "id")->valueint != cJSON_GetObjectItemCaseSensitive(c[1], "id")->valueint);
  CHECK(!cJSON_GetObjectItemCaseSensitive(c[1], "headers") ||
        !cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c[1], "headers"), "last-event-id"));
  cJSON_Delete(log);
  close_client(&s);
}

/* A server that breaks every stream: the request is re-issued (the
 * spec's MUST) a bounded number of times, then fails saying so; the
 * server saw the first try and the re-issues, nothing more. */
static void every_stream_broken(void) {
  server s;
  hl_mcp *m = open_client(&s, true, "modern");
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *text = NULL;
  CHECK_INT(call_text(m, "drop_always", &text), HL_ERR_PROVIDER);
  CHECK_CONTAINS(text, "ended its answer without a response");
  CHECK_CONTAINS(text, "3 times (the first try and 2 re-issues)");
  free(text);
  cJSON *log = server_log(&s);
  const cJSON *c[8];
  CHECK_INT(calls_of(log, "drop_always", c, 8), 3);
  cJSON_Delete(log);
  /* The client goes on. */
  CHECK_INT(call_text(m, "echo", &text), HL_OK);
  free(text);
  close_client(&s);
}

/* A server whose subscriptions/listen streams end as soon as they open
 * (`mode`: dropped, or ended with their response) must not be asked
 * again every second forever: a stream that lived a moment is no healthy
 * one, so the reopening backs off (1 s, 2 s, 4 s: at 0, 1 and 3 s in the
 * 6.5 s watched, 7 at a steady 1 s), each with one tools/list; and
 * hl_mcp_free() ends the thread at once while it waits. */
static void flapping_listen(const char *mode) {
  server s;
  hl_mcp *m = open_client(&s, true, mode);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  fx_sleep_ms(6500);
  cJSON *log = server_log(&s);
  int listens = count_method(log, "subscriptions/listen"), lists = count_method(log, "tools/list");
  cJSON_Delete(log);
  CHECK(listens >= 2);
  CHECK(listens <= 4);
  CHECK(lists <= listens + 1);
  int64_t t0 = mono_ms();
  hl_mcp_free(s.m);
  CHECK(mono_ms() - t0 < 1000);
  fx_stop(s.pid);
}
static void http_listen_dropped(void) { flapping_listen("listen_drop"); }
static void http_listen_ended(void) { flapping_listen("listen_end"); }

/* A timed-out call: over stdio notifications/cancelled names it; over
 * HTTP closing its stream is the cancellation, and nothing else is sent. */
static void cancellation(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "modern");
  REQUIRE(m);
  /* The 500 ms limit is the call's: set after the connect, so that a
   * slow start of the server's interpreter on a loaded machine does not
   * take the place of the timeout under test. */
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 500);
  char *text = NULL;
  CHECK_INT(call_text(m, "slow", &text), HL_ERR_TIMEOUT);
  free(text);
  fx_sleep_ms(2200); /* the server is done with it (stdio: it answers late, dropped) */
  hl_mcp_set_timeout_ms(m, 20000);
  cJSON *log = server_log(&s);
  CHECK_INT(count_method(log, "notifications/cancelled"), http ? 0 : 1);
  const cJSON *c[2];
  CHECK_INT(calls_of(log, "slow", c, 2), 1); /* a timeout is no broken stream: not re-issued */
  cJSON_Delete(log);
  close_client(&s);
}

static void stdio_cancellation(void) { cancellation(false); }
static void http_cancellation(void) { cancellation(true); }
static void stdio_modern(void) { modern_era(false); }
static void http_modern(void) { modern_era(true); }
static void stdio_legacy(void) { legacy_era(false, "legacy"); }
static void http_legacy(void) { legacy_era(true, "legacy"); }
/* A 404 with an HTML page to the probe: no modern error, so legacy. */
static void http_legacy_page(void) { legacy_era(true, "legacy_page"); }

/* hl_mcp_set_era(LEGACY): initialize at once, no probe. */
static void forced_legacy(bool http) {
  server s;
  hl_mcp *m = open_client(&s, http, "legacy");
  REQUIRE(m);
  CHECK_INT(hl_mcp_set_era(m, (hl_mcp_era)7), HL_ERR_INVALID);
  REQUIRE(hl_mcp_set_era(m, HL_MCP_ERA_LEGACY) == HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK_INT(hl_mcp_set_era(m, HL_MCP_ERA_AUTO), HL_ERR_STATE);
  CHECK_STR(hl_mcp_protocol_version(m), "2025-11-25");
  char *text = NULL;
  CHECK_INT(call_text(m, "echo", &text), HL_OK);
  CHECK_STR(text, "echo: ");
  free(text);
  if (http) {
    cJSON *log = server_log(&s);
    CHECK_STR(str_at(cJSON_GetArrayItem(log, 0), "method"), "initialize");
    CHECK_INT(count_method(log, "server/discover"), 0);
    cJSON_Delete(log);
  }
  close_client(&s);
}
static void stdio_forced_legacy(void) { forced_legacy(false); }
static void http_forced_legacy(void) { forced_legacy(true); }

/* hl_mcp_set_era(MODERN) against a legacy server: connect fails, and the
 * server never sees initialize. */
static void http_forced_modern_on_legacy(void) {
  server s;
  hl_mcp *m = open_client(&s, true, "legacy");
  REQUIRE(m);
  REQUIRE(hl_mcp_set_era(m, HL_MCP_ERA_MODERN) == HL_OK);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_UNSUPPORTED);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "hl_mcp_set_era");
  cJSON *log = server_log(&s);
  CHECK_INT(count_method(log, "server/discover"), 1);
  CHECK_INT(count_method(log, "initialize"), 0);
  cJSON_Delete(log);
  close_client(&s);
}
static void stdio_version_retry(void) { version_retry(false); }
static void http_version_retry(void) { version_retry(true); }
static void stdio_no_common_version(void) { no_common_version(false); }
static void stdio_call_version_retry(void) { call_version_retry(false); }
static void http_call_version_retry(void) { call_version_retry(true); }
static void http_no_common_version(void) { no_common_version(true); }
static void stdio_mrtr(void) { mrtr(false); }
static void http_mrtr(void) { mrtr(true); }
static void stdio_list_changed(void) { list_changed(false); }
static void http_list_changed(void) { list_changed(true); }

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(stdio_modern);
  RUN(http_modern);
  RUN(stdio_legacy);
  RUN(http_legacy);
  RUN(http_legacy_page);
  RUN(stdio_forced_legacy);
  RUN(http_forced_legacy);
  RUN(http_forced_modern_on_legacy);
  RUN(stdio_version_retry);
  RUN(http_version_retry);
  RUN(stdio_call_version_retry);
  RUN(http_call_version_retry);
  RUN(stdio_no_common_version);
  RUN(http_no_common_version);
  RUN(stdio_contrary_version);
  RUN(http_contrary_version);
  RUN(method_injection);
  RUN(probe_request);
  RUN(sentinel_name);
  RUN(stdio_mrtr);
  RUN(http_mrtr);
  RUN(stdio_url_elicitation);
  RUN(http_url_elicitation);
  RUN(stdio_rounds_time_limit);
  RUN(http_rounds_time_limit);
  RUN(stdio_list_changed);
  RUN(http_list_changed);
  RUN(dropped_stream);
  RUN(every_stream_broken);
  RUN(http_listen_dropped);
  RUN(http_listen_ended);
  RUN(stdio_cancellation);
  RUN(http_cancellation);
  fx_events_clear(&events);
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  return CHECK_EXIT();
}
