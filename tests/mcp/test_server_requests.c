/*
 * tests/mcp/test_server_requests.c - requests a server sends to the
 * client (ping, elicitation/create, ...) against hostile_server.py over
 * stdio: a flood of them cannot grow the client's memory without bound
 * (those over HL_MCP_MAX_QUEUED_REQUESTS get a JSON-RPC error, and are
 * counted), a server that reads its answers slowly still gets every one
 * (back-pressure), one that never reads them fails the session within
 * HL_MCP_ANSWER_TIMEOUT_MS, and a ping is answered while a handler takes
 * its time, over stdio and over HTTP (hostile_http.py).
 * A process of its own: the peak RSS it measures is this flood's alone.
 */
#include <stdatomic.h>
#include <sys/resource.h>

#include "mcp_fixture.h"
#include "mcp/mcp_internal.h"

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed memory (256 MB by default) to catch late uses: the
 * requests the client refuses would show as growth. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void) {
  return "quarantine_size_mb=16";
}
#endif

static hl_mcp *hostile(void) {
  const char *argv[] = {"python3", fx_env("HL_MCP_HOSTILE"), NULL};
  hl_mcp *m = hl_mcp_new_stdio("hostile", argv);
  if (m) hl_mcp_set_max_message_bytes(m, 1 << 20);
  return m;
}

/* A tool's text result parsed as JSON (NULL: the call failed). */
static cJSON *call_json(hl_mcp *m, const char *tool, const char *args_json) {
  cJSON *args = cJSON_Parse(args_json);
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, tool, args, &res, NULL);
  cJSON_Delete(args);
  cJSON *j = st == HL_OK && cJSON_IsString(res) ? cJSON_Parse(res->valuestring) : NULL;
  if (st != HL_OK) fprintf(stderr, "%s failed: %s\n", tool, hl_last_error());
  cJSON_Delete(res);
  return j;
}

static long json_long(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItem(j, key);
  return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* The most answers seen waiting in the client's queue while a call runs
 * (read under the client's lock, every millisecond). */
typedef struct sampler {
  hl_mcp *m;
  atomic_bool stop;
  size_t most;
  pthread_t t;
} sampler;

static void *sample(void *arg) {
  sampler *s = arg;
  while (!atomic_load(&s->stop)) {
    pthread_mutex_lock(&s->m->lock);
    if (s->m->n_replies > s->most) s->most = s->m->n_replies;
    pthread_mutex_unlock(&s->m->lock);
    fx_sleep_ms(1);
  }
  return NULL;
}

static void sampler_start(sampler *s, hl_mcp *m) {
  s->m = m;
  atomic_store(&s->stop, false);
  s->most = 0;
  pthread_create(&s->t, NULL, sample, s);
}

static size_t sampler_stop(sampler *s) {
  atomic_store(&s->stop, true);
  pthread_join(s->t, NULL);
  return s->most;
}

/* The queue's bound: the cap, and the requests of one read of stdout (32
 * KB) that were read before the reader held back (a ping is > 40 bytes). */
#define REPLIES_BOUND (HL_MCP_MAX_QUEUED_REPLIES + 32768 / 40)

static atomic_int handled;
static atomic_long handler_ms; /* how long a handler takes */

/* An application that asks its user: slow. */
static hl_status slow_elicit(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *u) {
  (void)m;
  (void)method;
  (void)params;
  (void)u;
  atomic_fetch_add(&handled, 1);
  fx_sleep_ms(atomic_load(&handler_ms));
  *result = cJSON_Parse("{\"action\":\"decline\"}");
  return HL_OK;
}

/* 100,000 elicitations of 2 KB each while the handler takes 20 ms over
 * one: queued, they held ~300 MB. Now HL_MCP_MAX_QUEUED_REQUESTS wait
 * and the others are refused at once with -32603 (the spec's code for
 * a request the receiver cannot fulfil). The server stops reading for
 * 2 s once it has sent them (a slow reader; Python reads more slowly
 * than it writes anyway): the answers wait within their cap while the
 * client holds back, none is lost (was: those over the cap were dropped
 * silently), and every request is handled or refused. */
static void request_flood_is_bounded(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  atomic_store(&handler_ms, 20);
  CHECK_INT(hl_mcp_set_handler(m, "elicitation/create", slow_elicit, NULL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 0); /* ASan on a loaded machine: a minute or more */
  long before = peak_rss_kb();
  sampler smp;
  sampler_start(&smp, m);
  cJSON *r = call_json(m, "request_flood",
                       "{\"method\":\"elicitation/create\",\"count\":100000,\"pad\":2000,\"pause\":2}");
  size_t most = sampler_stop(&smp);
  long grown = peak_rss_kb() - before;
  REQUIRE(r);
  const cJSON *errors = cJSON_GetObjectItem(r, "errors");
  long results = json_long(r, "results"), refused = json_long(errors, "-32603");
  fprintf(stderr, "request flood: peak RSS grew by %ld kB; %ld handled, %ld refused, %ld unanswered; "
          "at most %zu answers waited\n", grown, results, refused, json_long(r, "missing"), most);
  CHECK(grown < 64 * 1024);
  CHECK(most >= HL_MCP_MAX_QUEUED_REPLIES && most <= REPLIES_BOUND); /* it held back */
  CHECK_INT(cJSON_GetArraySize(errors), 1);
  CHECK_INT(json_long(r, "missing"), 0);
  CHECK_INT(results + refused, 100000);
  CHECK(results >= HL_MCP_MAX_QUEUED_REQUESTS && results <= atomic_load(&handled));
  CHECK_INT((long)hl_mcp_requests_refused(m), refused);
  cJSON_Delete(r);
  /* The client still answers requests, and calls. */
  r = call_json(m, "ask", "{\"method\":\"ping\"}");
  CHECK(r && cJSON_GetObjectItem(r, "result"));
  cJSON_Delete(r);
  hl_mcp_free(m);
}

/* 300,000 pings from a server that stops reading for 2 s once it has
 * sent them: answered by the transport (no handler, no queue of the
 * application's), never more than REPLIES_BOUND of them waiting while
 * the client holds back, and every one answered (was: those over
 * HL_MCP_MAX_QUEUED_REPLIES were dropped, counted as refused). */
static void ping_flood_is_bounded(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 0);
  long before = peak_rss_kb();
  sampler smp;
  sampler_start(&smp, m);
  cJSON *r = call_json(m, "request_flood", "{\"method\":\"ping\",\"count\":300000,\"pause\":2}");
  size_t most = sampler_stop(&smp);
  long grown = peak_rss_kb() - before;
  REQUIRE(r);
  long results = json_long(r, "results"), missing = json_long(r, "missing");
  fprintf(stderr, "ping flood: peak RSS grew by %ld kB; %ld answered, %ld unanswered; at most %zu answers waited\n",
          grown, results, missing, most);
  CHECK(grown < 64 * 1024);
  CHECK(most >= HL_MCP_MAX_QUEUED_REPLIES && most <= REPLIES_BOUND);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r, "errors")), 0);
  CHECK_INT(results, 300000);
  CHECK_INT(missing, 0);
  CHECK_INT((long)hl_mcp_requests_refused(m), 0);
  cJSON_Delete(r);
  hl_mcp_free(m);
}

static fx_events events = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server that floods pings and never reads a byte again: the answers
 * fill the client's queue (within its bound, the client holds back),
 * and HL_MCP_ANSWER_TIMEOUT_MS later the session fails: the call in
 * flight ends with the dead peer's error (was: it waited for ever with
 * no time limit set), the observers get it as mcp.protocol_error, and
 * the next call fails at once with the same words. */
static void never_reader_is_a_dead_peer(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 0); /* no time limit: only the dead peer's ends it */
  sampler smp;
  sampler_start(&smp, m);
  int64_t t0 = now_ms();
  cJSON *args = cJSON_Parse("{\"method\":\"ping\",\"count\":100000,\"never_read\":true}");
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, "request_flood", args, &res, NULL);
  int64_t took = now_ms() - t0;
  size_t most = sampler_stop(&smp);
  fprintf(stderr, "never reader: failed in %lld ms (%s); at most %zu answers waited\n", (long long)took,
          hl_last_error(), most);
  CHECK_INT(st, HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_last_error(), "took none of the client's answers for 10 s");
  CHECK_CONTAINS(hl_last_error(), "a dead peer");
  CHECK(took >= HL_MCP_ANSWER_TIMEOUT_MS && took < HL_MCP_ANSWER_TIMEOUT_MS + 5000);
  CHECK(most <= REPLIES_BOUND);
  CHECK(res == NULL);
  CHECK_INT(fx_events_count(&events, "mcp.protocol_error"), 1);
  CHECK_INT(fx_events_count(&events, "a dead peer"), 1);
  t0 = now_ms();
  CHECK_INT(hl_mcp_call(m, NULL, "echo", args, &res, NULL), HL_ERR_NETWORK);
  CHECK(now_ms() - t0 < 1000);
  CHECK_CONTAINS(hl_last_error(), "a dead peer");
  cJSON_Delete(args);
  hl_mcp_free(m);
  fx_events_clear(&events);
}

typedef struct asker {
  hl_mcp *m;
  const char *args;
  cJSON *answer;
  int64_t ms;
} asker;

static void *ask(void *arg) {
  asker *a = arg;
  int64_t t0 = now_ms();
  a->answer = call_json(a->m, "ask", a->args);
  a->ms = now_ms() - t0;
  return NULL;
}

/* The server pings while the application's handler answers an
 * elicitation (a user thinking): the ping is the transport's, answered
 * at once, not after the handler. */
static void ping_answered_while_a_handler_runs(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  atomic_store(&handled, 0);
  atomic_store(&handler_ms, 3000);
  CHECK_INT(hl_mcp_set_handler(m, "elicitation/create", slow_elicit, NULL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 20000);
  asker slow = {m, "{\"method\":\"elicitation/create\",\"params\":{\"message\":\"name?\"}}", NULL, 0};
  asker ping = {m, "{\"method\":\"ping\"}", NULL, 0};
  pthread_t t1, t2;
  pthread_create(&t1, NULL, ask, &slow);
  while (atomic_load(&handled) == 0) fx_sleep_ms(5); /* the handler runs */
  pthread_create(&t2, NULL, ask, &ping);
  pthread_join(t2, NULL);
  pthread_join(t1, NULL);
  fprintf(stderr, "ping answered in %lld ms while the handler ran (%lld ms)\n", (long long)ping.ms,
          (long long)slow.ms);
  CHECK(ping.answer && cJSON_GetObjectItem(ping.answer, "result"));
  CHECK(ping.ms < 1500);
  CHECK(slow.answer && slow.ms >= 3000);
  cJSON_Delete(ping.answer);
  cJSON_Delete(slow.answer);
  hl_mcp_free(m);
}

/* A client (not connected) of a hostile_http.py started for it (*server). */
static hl_mcp *hostile_http(pid_t *server) {
  int port = 0;
  *server = fx_start_port_printer(fx_env("HL_MCP_HOSTILE_HTTP"), &port);
  if (*server <= 0) return NULL;
  char url[100];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
  return hl_mcp_new_http("hh", url);
}

/* Over HTTP: pings on a call's stream, and the server never answers the
 * POSTs that carry the client's answers. HL_MCP_MAX_QUEUED_REPLIES wait,
 * the stream's thread waits for room (the stream is not read), and
 * HL_MCP_ANSWER_TIMEOUT_MS later the session fails: the call ends with
 * the dead peer's error (was: the answers over the cap were dropped and
 * the call waited for its stream for ever). */
static void http_never_reader_is_a_dead_peer(void) {
  pid_t server = -1;
  hl_mcp *m = hostile_http(&server);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 0);
  sampler smp;
  sampler_start(&smp, m);
  int64_t t0 = now_ms();
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, "ping_flood_unread", NULL, &res, NULL);
  int64_t took = now_ms() - t0;
  size_t most = sampler_stop(&smp);
  fprintf(stderr, "http never reader: failed in %lld ms (%s); at most %zu answers waited\n", (long long)took,
          hl_last_error(), most);
  CHECK_INT(st, HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_last_error(), "a dead peer");
  CHECK(took >= HL_MCP_ANSWER_TIMEOUT_MS && took < HL_MCP_ANSWER_TIMEOUT_MS + 5000);
  CHECK_INT((long)most, HL_MCP_MAX_QUEUED_REPLIES); /* the reader waited at the cap */
  CHECK(res == NULL);
  hl_mcp_free(m);
  fx_stop(server);
}

/* One answer's POST stalls: the server never reads it ("unread"), or
 * reads it and trickles a response that never ends ("trickle": a byte
 * every 2 s), while the call's stream waits, silent, for the answer. No
 * progress of that POST for HL_MCP_ANSWER_TIMEOUT_MS is a dead peer, as
 * a full queue is: the call in flight ends with the dead peer's error and
 * the next call at once (was: the sender was held until hl_mcp_free(),
 * the call waited for ever with no time limit set). Both servers at once:
 * one wait of the real bound. */
typedef struct stalled {
  const char *how;
  hl_status st, next_st;
  char msg[400], next_msg[400];
  int64_t ms;
  int protocol_errors;
} stalled;

static void *call_with_a_stalled_answer(void *arg) {
  stalled *x = arg;
  pid_t server = -1;
  hl_mcp *m = hostile_http(&server);
  fx_events seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(fx_events_fn, &seen);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  x->st = HL_ERR_STATE; /* not connected */
  hl_mcp_set_timeout_ms(m, 0); /* no time limit: only the dead peer's ends the call */
  if (m && hl_mcp_connect(m) == HL_OK) {
    char args[64];
    snprintf(args, sizeof args, "{\"how\":\"%s\"}", x->how);
    cJSON *a = cJSON_Parse(args), *res = NULL;
    int64_t t0 = now_ms();
    x->st = hl_mcp_call(m, NULL, "answer_stalls", a, &res, NULL);
    x->ms = now_ms() - t0;
    snprintf(x->msg, sizeof x->msg, "%s", hl_last_error());
    cJSON_Delete(res);
    res = NULL;
    x->next_st = hl_mcp_call(m, NULL, "json_echo", a, &res, NULL);
    snprintf(x->next_msg, sizeof x->next_msg, "%s", hl_last_error());
    cJSON_Delete(res);
    cJSON_Delete(a);
    x->protocol_errors = fx_events_count(&seen, "mcp.protocol_error");
  }
  hl_mcp_free(m);
  fx_events_clear(&seen);
  fx_stop(server);
  return NULL;
}

static void http_stalled_answer_is_a_dead_peer(void) {
  stalled x[2] = {{.how = "unread"}, {.how = "trickle"}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, call_with_a_stalled_answer, &x[i]);
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    fprintf(stderr, "http answer %s: the call failed in %lld ms (%s)\n", x[i].how, (long long)x[i].ms, x[i].msg);
    CHECK_INT(x[i].st, HL_ERR_NETWORK);
    CHECK_CONTAINS(x[i].msg, "took none of the client's answers for 10 s");
    CHECK_CONTAINS(x[i].msg, "a dead peer");
    CHECK(x[i].ms >= HL_MCP_ANSWER_TIMEOUT_MS && x[i].ms < HL_MCP_ANSWER_TIMEOUT_MS + 5000);
    CHECK_INT(x[i].next_st, HL_ERR_NETWORK);
    CHECK_CONTAINS(x[i].next_msg, "a dead peer");
    CHECK_INT(x[i].protocol_errors, 1);
  }
}

/* hl_mcp_free() while an answer's POST stalls and a call waits: it ends
 * both at once (the call with HL_ERR_STATE), not after the dead peer's
 * bound nor the server's pleasure. */
typedef struct caller {
  hl_mcp *m;
  hl_status st;
} caller;

static void *call_answer_stalls(void *arg) {
  caller *c = arg;
  cJSON *a = cJSON_Parse("{\"how\":\"unread\"}"), *res = NULL;
  c->st = hl_mcp_call(c->m, NULL, "answer_stalls", a, &res, NULL);
  cJSON_Delete(a);
  cJSON_Delete(res);
  return NULL;
}

/* Whether hostile_http.py on `port` logged the POST it leaves unread. */
static bool answer_left_unread(int port) {
  cJSON *log = fx_server_json(port, "/__log", NULL);
  bool found = false;
  const cJSON *e;
  cJSON_ArrayForEach(e, log) {
    const cJSON *method = cJSON_GetObjectItem(e, "method");
    found = found || (cJSON_IsString(method) && strcmp(method->valuestring, "answer unread") == 0);
  }
  cJSON_Delete(log);
  return found;
}

static void http_free_during_a_stalled_answer(void) {
  int port = 0;
  pid_t server = fx_start_port_printer(fx_env("HL_MCP_HOSTILE_HTTP"), &port);
  REQUIRE(server > 0);
  char url[100];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
  hl_mcp *m = hl_mcp_new_http("hh", url);
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 0);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  caller c = {m, HL_OK};
  pthread_t t;
  pthread_create(&t, NULL, call_answer_stalls, &c);
  int64_t t0 = now_ms();
  while (!answer_left_unread(port) && now_ms() - t0 < 5000) fx_sleep_ms(20);
  CHECK(answer_left_unread(port));
  t0 = now_ms();
  hl_mcp_free(m);
  int64_t took = now_ms() - t0;
  pthread_join(t, NULL);
  fprintf(stderr, "http free during a stalled answer: %lld ms\n", (long long)took);
  CHECK(took < 2000);
  CHECK_INT(c.st, HL_ERR_STATE);
  fx_stop(server);
}

/* A server that reads the client's answers slowly (4 KB every 50 ms):
 * large sampling answers (a 1 MB one takes it ~13 s, past
 * HL_MCP_ANSWER_TIMEOUT_MS, and the kernel takes the whole of it at once:
 * the socket's send queue shrinking is the progress) all arrive, whole
 * and in order, with no dead peer; the client's own time limit (2 s,
 * which progress resets for the call) is not the answers' (was: a POST
 * that received nothing for it was cut, and the answer lost). */
static hl_status sample_text(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *u) {
  (void)m;
  (void)method;
  (void)u;
  const cJSON *max = cJSON_GetObjectItem(params, "maxTokens");
  size_t n = cJSON_IsNumber(max) ? (size_t)max->valuedouble : 0;
  char *text = malloc(n + 1);
  if (!text) return hl_fail(HL_ERR_NOMEM, "out of memory");
  memset(text, 'x', n);
  text[n] = '\0';
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "role", "assistant");
  cJSON *content = cJSON_AddObjectToObject(*result, "content");
  cJSON_AddStringToObject(content, "type", "text");
  cJSON_AddStringToObject(content, "text", text);
  cJSON_AddStringToObject(*result, "model", "test");
  free(text);
  return HL_OK;
}

static void http_slow_reader_gets_every_answer(void) {
  pid_t server = -1;
  hl_mcp *m = hostile_http(&server);
  REQUIRE(m);
  fx_events seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(fx_events_fn, &seen);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  CHECK_INT(hl_mcp_set_handler(m, "sampling/createMessage", sample_text, NULL), HL_OK);
  hl_mcp_set_timeout_ms(m, 2000);
  CHECK_INT(hl_mcp_set_timeout_on_progress(m, true, 0), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  int64_t t0 = now_ms();
  cJSON *r = call_json(m, "slow_reader", "{\"sizes\":[1048576,1000,20000,10]}");
  int64_t took = now_ms() - t0;
  CHECK(r != NULL);
  if (!r) {
    hl_mcp_free(m);
    fx_events_clear(&seen);
    fx_stop(server);
    return;
  }
  char *shown = cJSON_PrintUnformatted(r);
  fprintf(stderr, "http slow reader: %lld ms: %s\n", (long long)took, shown);
  free(shown);
  const cJSON *ids = cJSON_GetObjectItem(r, "ids"), *order = cJSON_GetObjectItem(r, "order");
  const cJSON *sizes = cJSON_GetObjectItem(r, "sizes");
  CHECK_INT(cJSON_GetArraySize(ids), 4);
  CHECK_INT(cJSON_GetArraySize(order), 4); /* every answer arrived */
  for (int i = 0; i < 4 && i < cJSON_GetArraySize(order) && i < cJSON_GetArraySize(ids); i++)
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(order, i)), cJSON_GetStringValue(cJSON_GetArrayItem(ids, i)));
  const long want[4] = {1048576, 1000, 20000, 10}; /* whole */
  for (int i = 0; i < 4 && i < cJSON_GetArraySize(sizes); i++)
    CHECK_INT((long)cJSON_GetNumberValue(cJSON_GetArrayItem(sizes, i)), want[i]);
  CHECK(took > HL_MCP_ANSWER_TIMEOUT_MS); /* the bound was passed, no verdict */
  CHECK_INT(fx_events_count(&seen, "mcp.protocol_error"), 0);
  CHECK_INT((long)hl_mcp_requests_refused(m), 0);
  cJSON_Delete(r);
  hl_mcp_free(m);
  fx_events_clear(&seen);
  fx_stop(server);
}

/* The same server exits 2 s into its flood, while the client holds back
 * (stdout not read): the sender's write fails (EPIPE), which ends the
 * session and has stdout read to its end, so the exit is seen and the
 * call fails at once, not after HL_MCP_ANSWER_TIMEOUT_MS (with the cut
 * line the server died writing, or the exit), and the next calls at once
 * with the exit's words. Without that, nothing read stdout again: the call
 * waited for the dead-peer bound, and the close for its 4 s of grace. */
static void server_exit_while_held_back(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 8000); /* a limit below the dead peer's: its end is not what ends the call */
  int64_t t0 = now_ms();
  cJSON *args = cJSON_Parse("{\"method\":\"ping\",\"count\":100000,\"never_read\":true,\"exit_after\":2}");
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, "request_flood", args, &res, NULL);
  int64_t took = now_ms() - t0;
  fprintf(stderr, "server exit while held back: failed in %lld ms (%s)\n", (long long)took, hl_last_error());
  CHECK(st == HL_ERR_NETWORK || st == HL_ERR_JSON);
  CHECK(took >= 2000 && took < 7000);
  CHECK(res == NULL);
  /* The next calls fail at once, with the exit's words (was: "closed
   * its stdin" until the loop had read stdout to its end and reaped the
   * server; test_hostile's exit_named_by_every_call_in_flight). */
  t0 = now_ms();
  for (int i = 0; i < 3; i++) {
    CHECK_INT(hl_mcp_call(m, NULL, "echo", args, &res, NULL), HL_ERR_NETWORK);
    CHECK_CONTAINS(hl_last_error(), "exited with status 4");
  }
  CHECK(now_ms() - t0 < 1000);
  cJSON_Delete(args);
  t0 = now_ms();
  hl_mcp_free(m);
  CHECK(now_ms() - t0 < 1000);
}

/* The same over HTTP: hostile_http.py sends an elicitation on a call's
 * stream, then, while the handler takes 3 s, a ping. Its answer is
 * POSTed by the sender thread at once (was: by the worker, after the
 * handler returned: ~3 s). */
static void http_ping_answered_while_a_handler_runs(void) {
  pid_t server = -1;
  hl_mcp *m = hostile_http(&server);
  REQUIRE(m);
  atomic_store(&handled, 0);
  atomic_store(&handler_ms, 3000);
  CHECK_INT(hl_mcp_set_handler(m, "elicitation/create", slow_elicit, NULL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *r = call_json(m, "ask_then_ping", "{}");
  REQUIRE(r);
  long ping_ms = json_long(r, "ping_ms");
  fprintf(stderr, "http: ping answered in %ld ms while the handler ran\n", ping_ms);
  CHECK(ping_ms >= 0 && ping_ms < 1000);
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "ping"), "result") != NULL);
  const cJSON *elicit = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "elicit"), "result");
  CHECK(cJSON_IsString(cJSON_GetObjectItem(elicit, "action")) &&
        strcmp(cJSON_GetObjectItem(elicit, "action")->valuestring, "decline") == 0);
  CHECK_INT(atomic_load(&handled), 1);
  cJSON_Delete(r);
  hl_mcp_free(m);
  fx_stop(server);
}

/* Server requests read by a client that never connected (no worker ran:
 * the fuzz target's way in) are freed with it: ASan's leak check. */
static void requests_to_an_unconnected_client_are_freed(void) {
  hl_mcp *m = hl_mcp_new_http("fz", "http://127.0.0.1:9/mcp");
  REQUIRE(m);
  hl__mcp_pending p = {.id = 1};
  const char *body = "[{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"},"
                     "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"roots/list\"}]";
  CHECK_INT(hl__mcp_http_decode(m, &p, body, strlen(body), NULL, NULL), HL_OK);
  CHECK(m->replies != NULL && m->jobs != NULL); /* the ping's answer, the request */
  cJSON_Delete(p.response);
  cJSON_Delete(p.notes);
  hl_mcp_free(m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(request_flood_is_bounded);
  RUN(ping_flood_is_bounded);
  RUN(never_reader_is_a_dead_peer);
  RUN(server_exit_while_held_back);
  RUN(ping_answered_while_a_handler_runs);
  RUN(http_ping_answered_while_a_handler_runs);
  RUN(http_never_reader_is_a_dead_peer);
  RUN(http_stalled_answer_is_a_dead_peer);
  RUN(http_free_during_a_stalled_answer);
  RUN(http_slow_reader_gets_every_answer);
  RUN(requests_to_an_unconnected_client_are_freed);
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  CHECK_INT(zombies, 0);
  return CHECK_EXIT();
}
