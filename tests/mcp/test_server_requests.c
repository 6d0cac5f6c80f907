/*
 * tests/mcp/test_server_requests.c - requests a server sends to the
 * client (ping, elicitation/create, ...) against hostile_server.py over
 * stdio: a flood of them cannot grow the client's memory without bound
 * (those over HL_MCP_MAX_QUEUED_REQUESTS get a JSON-RPC error, and are
 * counted), and a ping is answered while a handler takes its time.
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
 * a request the receiver cannot fulfil). The server reads its answers
 * more slowly than it sends (Python, and a loaded machine): refusals
 * over HL_MCP_MAX_QUEUED_REPLIES waiting for it stay unanswered, and
 * every request is one of handled, refused or counted unanswered. */
static void request_flood_is_bounded(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  atomic_store(&handler_ms, 20);
  CHECK_INT(hl_mcp_set_handler(m, "elicitation/create", slow_elicit, NULL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 0); /* ASan on a loaded machine: a minute or more */
  long before = peak_rss_kb();
  cJSON *r = call_json(m, "request_flood", "{\"method\":\"elicitation/create\",\"count\":100000,\"pad\":2000}");
  long grown = peak_rss_kb() - before;
  REQUIRE(r);
  const cJSON *errors = cJSON_GetObjectItem(r, "errors");
  long results = json_long(r, "results"), refused = json_long(errors, "-32603");
  fprintf(stderr, "request flood: peak RSS grew by %ld kB; %ld handled, %ld refused, %ld unanswered\n", grown,
          results, refused, json_long(r, "missing"));
  long missing = json_long(r, "missing");
  CHECK(grown < 64 * 1024);
  CHECK_INT(cJSON_GetArraySize(errors), 1);
  CHECK_INT(results + refused + missing, 100000);
  CHECK(results >= HL_MCP_MAX_QUEUED_REQUESTS && results <= atomic_load(&handled));
  CHECK(refused >= HL_MCP_MAX_QUEUED_REPLIES);
  CHECK_INT((long)hl_mcp_requests_refused(m), refused + missing);
  cJSON_Delete(r);
  /* The client still answers requests, and calls. */
  r = call_json(m, "ask", "{\"method\":\"ping\"}");
  CHECK(r && cJSON_GetObjectItem(r, "result"));
  cJSON_Delete(r);
  hl_mcp_free(m);
}

/* A million pings: answered by the transport (no handler, no queue of
 * the application's), never more than HL_MCP_MAX_QUEUED_REPLIES of
 * them waiting for a server that reads its answers slowly; those over
 * that were counted, left unanswered. */
static void ping_flood_is_bounded(void) {
  hl_mcp *m = hostile();
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 0);
  long before = peak_rss_kb();
  cJSON *r = call_json(m, "request_flood", "{\"method\":\"ping\",\"count\":1000000}");
  long grown = peak_rss_kb() - before;
  REQUIRE(r);
  long results = json_long(r, "results"), missing = json_long(r, "missing");
  fprintf(stderr, "ping flood: peak RSS grew by %ld kB; %ld answered, %ld unanswered\n", grown, results, missing);
  CHECK(grown < 64 * 1024);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r, "errors")), 0);
  CHECK_INT(results + missing, 1000000);
  CHECK(results > 0);
  CHECK_INT((long)hl_mcp_requests_refused(m), missing);
  cJSON_Delete(r);
  hl_mcp_free(m);
}

typedef struct asker {
  hl_mcp *m;
  const char *args;
  cJSON *answer;
  int64_t ms;
} asker;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
  RUN(ping_answered_while_a_handler_runs);
  RUN(requests_to_an_unconnected_client_are_freed);
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  CHECK_INT(zombies, 0);
  return CHECK_EXIT();
}
