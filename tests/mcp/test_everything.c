/*
 * tests/mcp/test_everything.c - the MCP client against the reference
 * server (@modelcontextprotocol/server-everything, pinned) over stdio and
 * over Streamable HTTP on a random 127.0.0.1 port: handshake, its tools
 * and their result types, progress, cancellation, list_changed, MCP tools
 * in an agent and in the sandbox (Promise.all). Hooks that mutate MCP
 * arguments: test_agent_hooks.c. `test_everything stdio|http [filter]`.
 */
#include "mcp_fixture.h"

static const char *transport;
static char url[128];
static fx_events events = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A connected client with a time limit and hl_mcp_set_timeout_on_progress(). */
static hl_mcp *open_server_with(unsigned timeout_ms, bool progress_resets, unsigned max_total_ms) {
  hl_mcp *m;
  if (strcmp(transport, "http") == 0) {
    m = hl_mcp_new_http("everything", url);
  } else {
    const char *argv[] = {"node", fx_everything(), "stdio", NULL};
    m = hl_mcp_new_stdio("everything", argv);
  }
  if (!m) return NULL;
  /* stdio: node may take seconds to start on a loaded machine; the limits
   * can change after connecting (HTTP: they cannot, the server is up). */
  bool stdio = strcmp(transport, "stdio") == 0;
  hl_mcp_set_timeout_ms(m, stdio ? 30000 : timeout_ms);
  if (!stdio && hl_mcp_set_timeout_on_progress(m, progress_resets, max_total_ms) != HL_OK) {
    hl_mcp_free(m);
    return NULL;
  }
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  if (hl_mcp_connect(m) != HL_OK) {
    fprintf(stderr, "connect: %s\n", hl_mcp_errmsg(m));
    hl_mcp_free(m);
    return NULL;
  }
  if (stdio) {
    hl_mcp_set_timeout_ms(m, timeout_ms);
    hl_mcp_set_timeout_on_progress(m, progress_resets, max_total_ms);
  }
  return m;
}

static hl_mcp *open_server(void) { return open_server_with(30000, false, 0); }

static cJSON *call(hl_mcp *m, const char *tool, const char *args_json, hl_status *st) {
  cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
  cJSON *res = NULL;
  *st = hl_mcp_call(m, NULL, tool, args, &res, NULL);
  cJSON_Delete(args);
  return res;
}

static void handshake_and_tools(void) {
  hl_mcp *m = open_server();
  REQUIRE(m);
  CHECK_STR(hl_mcp_protocol_version(m), "2025-11-25");
  const cJSON *info = cJSON_GetObjectItem(hl_mcp_server_info(m), "serverInfo");
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(info, "name")), "mcp-servers/everything");
  cJSON *raw = hl_mcp_tools_json(m);
  hl_tools *tools = hl_mcp_tools(m);
  /* 13 advertised; simulate-research-query requires tasks: left out. */
  CHECK_INT(cJSON_GetArraySize(raw), 13);
  CHECK_INT(hl_tools_count(tools), 12);
  CHECK(hl_tools_find(tools, "echo") && hl_tools_find(tools, "get-sum"));
  CHECK(hl_tools_find(tools, "simulate-research-query") == NULL);
  CHECK(fx_events_count(&events, "mcp.note") >= 1);
  /* The schema came along: hookline itself refuses bad arguments. */
  cJSON *res = NULL;
  cJSON *bad = cJSON_Parse("{\"message\":42}");
  CHECK_INT(hl_tool_invoke(hl_tools_find(tools, "echo"), NULL, bad, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "$.message");
  cJSON_Delete(bad);
  cJSON_Delete(raw);
  hl_tools_free(tools);
  CHECK_INT(hl_mcp_ping(m), HL_OK);
  /* Unknown methods are JSON-RPC errors. */
  cJSON *r = NULL;
  CHECK_INT(hl_mcp_request(m, NULL, "no/such/method", NULL, &r), HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "-32601");
  hl_mcp_free(m);
}

static void result_types(void) {
  hl_mcp *m = open_server();
  REQUIRE(m);
  hl_status st;
  cJSON *r = call(m, "echo", "{\"message\":\"hello\"}", &st);
  CHECK_INT(st, HL_OK);
  CHECK(cJSON_IsString(r) && strcmp(r->valuestring, "Echo: hello") == 0);
  cJSON_Delete(r);
  r = call(m, "get-sum", "{\"a\":2,\"b\":40}", &st);
  CHECK_INT(st, HL_OK);
  CHECK_CONTAINS(cJSON_GetStringValue(r), "is 42");
  cJSON_Delete(r);
  /* Structured content, validated against the tool's outputSchema. */
  r = call(m, "get-structured-content", "{\"location\":\"Chicago\"}", &st);
  CHECK_INT(st, HL_OK);
  CHECK(cJSON_IsNumber(cJSON_GetObjectItem(r, "temperature")));
  CHECK(cJSON_IsString(cJSON_GetObjectItem(r, "conditions")));
  cJSON_Delete(r);
  /* An image: an array with the text and the image item. */
  r = call(m, "get-tiny-image", NULL, &st);
  CHECK_INT(st, HL_OK);
  REQUIRE(cJSON_IsArray(r));
  const cJSON *img = NULL, *it;
  cJSON_ArrayForEach(it, r) if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "type")), "image") == 0) img = it;
  REQUIRE(img);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(img, "mimeType")), "image/png");
  CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(img, "data"))) > 100);
  cJSON_Delete(r);
  r = call(m, "get-resource-links", "{\"count\":2}", &st);
  CHECK_INT(st, HL_OK);
  char *s = cJSON_PrintUnformatted(r);
  CHECK_CONTAINS(s, "\"type\":\"resource_link\"");
  CHECK_CONTAINS(s, "\"uri\":");
  free(s);
  cJSON_Delete(r);
  r = call(m, "get-resource-reference", "{\"resourceType\":\"Text\",\"resourceId\":1}", &st);
  CHECK_INT(st, HL_OK);
  s = cJSON_PrintUnformatted(r);
  CHECK_CONTAINS(s, "\"type\":\"resource\"");
  free(s);
  cJSON_Delete(r);
  /* Bad arguments and unknown tools come back as isError results. */
  r = call(m, "get-sum", "{\"a\":\"x\"}", &st);
  CHECK_INT(st, HL_ERR_EXECUTION_FAILED);
  CHECK(r == NULL);
  r = call(m, "no-such-tool", NULL, &st);
  CHECK_INT(st, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "no-such-tool");
  hl_mcp_free(m);
}

/* Log messages that belong to no request (over HTTP: the GET stream). */
static void log_notifications(void) {
  hl_mcp *m = open_server();
  REQUIRE(m);
  fx_events_clear(&events);
  CHECK_INT(hl_mcp_set_log_level(m, "debug"), HL_OK);
  hl_status st;
  cJSON *r = call(m, "toggle-simulated-logging", NULL, &st);
  CHECK_INT(st, HL_OK);
  cJSON_Delete(r);
  /* The server logs every 5 s. */
  for (int i = 0; i < 400 && fx_events_count(&events, "custom mcp.log") == 0; i++) fx_sleep_ms(50);
  CHECK(fx_events_count(&events, "custom mcp.log") >= 1);
  CHECK(fx_events_count(&events, "\"server\":\"everything\"") >= 1);
  hl_mcp_free(m);
}

static void progress_events(void) {
  hl_mcp *m = open_server();
  REQUIRE(m);
  fx_events_clear(&events);
  hl_status st;
  cJSON *r = call(m, "trigger-long-running-operation", "{\"duration\":0.4,\"steps\":4}", &st);
  CHECK_INT(st, HL_OK);
  CHECK_CONTAINS(cJSON_GetStringValue(r), "Long running operation completed");
  cJSON_Delete(r);
  CHECK_INT(fx_events_count(&events, "custom mcp.progress"), 4);
  CHECK_INT(fx_events_count(&events, "\"progress\":4,\"total\":4"), 1);
  hl_mcp_free(m);
}

static void list_changed_handled(void) {
  /* The server sends list_changed right after initialized: over stdio
   * the client lists again (generation 2) and keeps the same tools. Over
   * HTTP it goes to the GET stream, which may not be open yet at that
   * moment (the client lists after `initialized` anyway). */
  fx_events_clear(&events);
  hl_mcp *m = open_server();
  REQUIRE(m);
  if (strcmp(transport, "stdio") == 0) {
    for (int i = 0; i < 500 && hl_mcp_tools_generation(m) < 2; i++) fx_sleep_ms(10);
    CHECK(hl_mcp_tools_generation(m) >= 2);
    CHECK(fx_events_count(&events, "mcp.tools_changed") >= 2);
  }
  hl_tools *t = hl_mcp_tools(m);
  CHECK_INT(hl_tools_count(t), 12);
  hl_tools_free(t);
  hl_mcp_free(m);
}

/* ---- in an agent --------------------------------------------------- */

static hl_agent *agent_with(hl_mcp *m, hl_provider **prov) {
  hl_agent *a = hl_agent_new("mcp_agent");
  hl_provider *p = hl_scripted_new();
  hl_agent_set_provider(a, p);
  *prov = p;
  hl_provider_unref(p);
  CHECK_INT(hl_mcp_add_to_agent(m, a), HL_OK);
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  hl_agent_add_observer(a, obs);
  hl_observer_unref(obs);
  return a;
}

typedef struct canceller {
  hl_agent *agent;
  long after_ms;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;
  fx_sleep_ms(c->after_ms);
  hl_agent_cancel(c->agent);
  return NULL;
}

static void agent_cancel_cancels_call(void) {
  hl_mcp *m = open_server();
  REQUIRE(m);
  hl_provider *p;
  hl_agent *a = agent_with(m, &p);
  hl_scripted_push_tool_call(p, "c1", "trigger-long-running-operation", "{\"duration\":30,\"steps\":30}");
  hl_scripted_push_text(p, "not reached");
  fx_events_clear(&events);
  canceller c = {a, 1500};
  pthread_t th;
  pthread_create(&th, NULL, cancel_later, &c);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_CANCELLED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(th, NULL);
  CHECK(answer == NULL);
  /* Well before the 30 s operation would have ended. */
  CHECK(t1.tv_sec - t0.tv_sec < 20);
  /* The client is still usable after the cancellation. */
  hl_status st;
  cJSON *r = call(m, "echo", "{\"message\":\"still here\"}", &st);
  CHECK_INT(st, HL_OK);
  cJSON_Delete(r);
  hl_agent_unref(a);
  hl_mcp_free(m);
}

static void timeout_cancels_call(void) {
  hl_mcp *m = open_server();
  REQUIRE(m);
  if (strcmp(transport, "stdio") == 0) {
    hl_mcp_set_timeout_ms(m, 300);
    hl_status st;
    cJSON *r = call(m, "trigger-long-running-operation", "{\"duration\":5,\"steps\":5}", &st);
    CHECK_INT(st, HL_ERR_TIMEOUT);
    CHECK(r == NULL);
    hl_mcp_set_timeout_ms(m, 30000);
    r = call(m, "echo", "{\"message\":\"after timeout\"}", &st);
    CHECK_INT(st, HL_OK);
    cJSON_Delete(r);
  }
  hl_mcp_free(m);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Progress extends a call's time limit (hl_mcp_set_timeout_on_progress):
 * a 4 s operation reporting progress every 0.5 s, under a 2 s limit, times
 * out without the option, runs to its end with it, and still times out at
 * the option's total cap (3 s). */
static void progress_extends_timeout(void) {
  const char *op = "{\"duration\":4,\"steps\":8}";
  hl_status st;
  hl_mcp *m = open_server_with(2000, false, 0);
  REQUIRE(m);
  cJSON *r = call(m, "trigger-long-running-operation", op, &st);
  CHECK_INT(st, HL_ERR_TIMEOUT);
  cJSON_Delete(r);
  hl_mcp_free(m);

  m = open_server_with(2000, true, 0);
  REQUIRE(m);
  fx_events_clear(&events);
  r = call(m, "trigger-long-running-operation", op, &st);
  CHECK_INT(st, HL_OK);
  CHECK_CONTAINS(cJSON_GetStringValue(r), "Long running operation completed");
  cJSON_Delete(r);
  CHECK_INT(fx_events_count(&events, "custom mcp.progress"), 8);
  hl_mcp_free(m);

  m = open_server_with(2000, true, 3000);
  REQUIRE(m);
  int64_t t0 = mono_ms();
  r = call(m, "trigger-long-running-operation", op, &st);
  int64_t took = mono_ms() - t0;
  CHECK_INT(st, HL_ERR_TIMEOUT);
  if (strcmp(transport, "stdio") == 0) CHECK_CONTAINS(hl_last_error(), "within its total limit of 3000 ms");
  cJSON_Delete(r);
  /* Progress carried it past the 2 s limit, to the cap. */
  CHECK(took >= 2900);
  /* Still usable after the timeout. */
  r = call(m, "echo", "{\"message\":\"after\"}", &st);
  CHECK_INT(st, HL_OK);
  cJSON_Delete(r);
  hl_mcp_free(m);
  /* HTTP: not after connect. */
  if (strcmp(transport, "http") == 0) {
    m = open_server();
    REQUIRE(m);
    CHECK_INT(hl_mcp_set_timeout_on_progress(m, true, 0), HL_ERR_STATE);
    hl_mcp_free(m);
  }
}

static void sandbox_promise_all(void) {
  if (!hl_sandbox_available()) {
    fprintf(stderr, "sandbox not built\n");
    check_failures_++;
    return;
  }
  hl_mcp *m = open_server();
  REQUIRE(m);
  hl_provider *p;
  hl_agent *a = agent_with(m, &p);
  hl_tool *code = hl_sandbox_code_tool(NULL);
  REQUIRE(code);
  hl_agent_add_tool(a, code);
  hl_tool_unref(code);
  hl_scripted_push_tool_call(p, "c1", "run_javascript",
                             "{\"code\":\"const [e, s] = await Promise.all([echo({message: 'one'}), "
                             "get_sum({a: 2, b: 3})]);\\ne + ' | ' + s\"}");
  hl_scripted_push_text(p, "done");
  fx_events_clear(&events);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  CHECK_INT(fx_events_count(&events, "tool_start echo"), 1);
  CHECK_INT(fx_events_count(&events, "tool_start get-sum"), 1);
  CHECK_INT(fx_events_count(&events, "tool_end run_javascript - {\"result\":\"Echo: one | The sum of 2 and 3 is 5.\""), 1);
  hl_agent_unref(a);
  hl_mcp_free(m);
}

int main(int argc, char **argv) {
  transport = argc > 1 ? argv[1] : "stdio";
  CHECK_ARGS(argc - 1, argv + 1);
  pid_t server = 0;
  if (strcmp(transport, "http") == 0) {
    server = fx_start_everything_http(url, sizeof url);
    fprintf(stderr, "server-everything at %s\n", url);
  }
  RUN(handshake_and_tools);
  RUN(result_types);
  RUN(progress_events);
  RUN(list_changed_handled);
  RUN(log_notifications);
  RUN(agent_cancel_cancels_call);
  RUN(timeout_cancels_call);
  RUN(progress_extends_timeout);
  RUN(sandbox_promise_all);
  fx_stop(server);
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  fx_events_clear(&events);
  return CHECK_EXIT();
}
