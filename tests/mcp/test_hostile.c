/*
 * tests/mcp/test_hostile.c - the MCP client against a server that breaks
 * the protocol on purpose (hostile_server.py over stdio): each breach is
 * a clear error for the call it hits, the client and other servers go on,
 * nothing leaks (ASan) and no child process is left behind.
 * Also the parts of the protocol server-everything does not show:
 * pagination, server requests answered by handlers or refused, server
 * pings, progress and notifications/cancelled, list_changed, versions.
 */
#include <stdatomic.h>
#include <sys/resource.h>

#include "mcp_fixture.h"

static fx_events events = {.lock = PTHREAD_MUTEX_INITIALIZER};

static hl_mcp *hostile(const char *name, unsigned timeout_ms) {
  const char *argv[] = {"python3", fx_env("HL_MCP_HOSTILE"), NULL};
  hl_mcp *m = hl_mcp_new_stdio(name, argv);
  if (!m) return NULL;
  hl_mcp_set_timeout_ms(m, timeout_ms);
  hl_mcp_set_max_message_bytes(m, 1 << 20);
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  return m;
}

static hl_status call_text(hl_mcp *m, const char *tool, const char *args_json, char **text) {
  cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, tool, args, &res, NULL);
  cJSON_Delete(args);
  *text = res ? (cJSON_IsString(res) ? strdup(res->valuestring) : cJSON_PrintUnformatted(res)) : NULL;
  cJSON_Delete(res);
  return st;
}

/* A call that works after `tool` misbehaved: the client is still usable. */
static void still_works(hl_mcp *m) {
  char *t = NULL;
  CHECK_INT(call_text(m, "echo", "{\"text\":\"after\"}", &t), HL_OK);
  CHECK_STR(t, "echo: after");
  free(t);
}

static void pagination_and_stderr(void) {
  hl_mcp *m = hostile("hostile", 10000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK_STR(hl_mcp_protocol_version(m), "2025-11-25");
  hl_tools *tools = hl_mcp_tools(m);
  /* 15 tools over 8 pages of 2. */
  CHECK_INT(hl_tools_count(tools), 15);
  CHECK(hl_tools_find(tools, "rpc_error") != NULL);
  CHECK_STR(hl_mcp_tool_server(hl_tools_find(tools, "echo")), "hostile");
  hl_tools_free(tools);
  hl_tool *plain = hl_tool_new("plain", NULL, NULL, NULL);
  CHECK(hl_mcp_tool_server(plain) == NULL);
  hl_tool_unref(plain);
  still_works(m);
  hl_mcp_free(m);
  CHECK(fx_events_count(&events, "stderr_write hostile hostile: started") >= 1);
}

/* A descriptor the application left inheritable (no close-on-exec, as
 * sockets of libraries the application uses can be) does not reach the
 * server: only its stdin, stdout and stderr are the client's to give. */
static void server_inherits_no_descriptor(void) {
  int leak[2];
  REQUIRE(pipe(leak) == 0); /* (no O_CLOEXEC: inherited by a plain exec) */
  hl_mcp *m = hostile("fds", 10000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *t = NULL;
  CHECK_INT(call_text(m, "fds", NULL, &t), HL_OK);
  cJSON *fds = t ? cJSON_Parse(t) : NULL;
  CHECK(cJSON_IsArray(fds) && cJSON_GetArraySize(fds) >= 3);
  const cJSON *fd;
  cJSON_ArrayForEach(fd, fds) {
    CHECK(fd->valueint != leak[0] && fd->valueint != leak[1]);
  }
  cJSON_Delete(fds);
  free(t);
  hl_mcp_free(m);
  close(leak[0]);
  close(leak[1]);
}

static void breach(const char *tool, const char *args, hl_status want, const char *msg_part) {
  hl_mcp *m = hostile("hostile", 3000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *t = NULL;
  hl_status st = call_text(m, tool, args, &t);
  CHECK_INT(st, want);
  CHECK_CONTAINS(hl_last_error(), msg_part);
  CHECK_CONTAINS(hl_last_error(), "hostile");
  CHECK(t == NULL);
  free(t);
  if (strcmp(tool, "exit") != 0) still_works(m);
  hl_mcp_free(m);
}

static void garbage_line_fails_the_call(void) {
  breach("garbage", NULL, HL_ERR_JSON, "not JSON");
}

/* A raw NUL inside a string is not JSON, and no C string can hold it: the
 * call fails, where cJSON's own parser answered "a" for "a\0b". */
static void raw_nul_in_a_string_fails_the_call(void) {
  breach("garbage", "{\"kind\":\"nul\"}", HL_ERR_JSON, "NUL byte");
}

static void oversized_message_fails_the_call(void) {
  breach("huge", "{\"bytes\":2000000}", HL_ERR_TOO_LARGE, "cap");
}

static void answer_to_unknown_id_fails_the_call(void) {
  breach("unknown_id", NULL, HL_ERR_PROVIDER, "987654");
}

static void invalid_utf8_fails_the_call(void) {
  breach("bad_utf8", NULL, HL_ERR_PROVIDER, "UTF-8");
}

static void server_exit_mid_call(void) {
  breach("exit", NULL, HL_ERR_NETWORK, "exited with status 3");
  CHECK(fx_events_count(&events, "hostile: exiting mid-call") >= 1);
}

/* The server exits (status 3) while other threads' calls are in flight:
 * every call that fails says how it ended, "exited with status 3", not
 * which of the two the client noticed first (was: a call that started
 * after another's write met EPIPE, and before the event loop had seen
 * the exit, failed at once with "closed its stdin"). exit_later stops
 * reading stdin, then exits `after` seconds later (0: at once, the race
 * left to the scheduler). Rounds of both. */
typedef struct exit_caller {
  hl_mcp *m;
  int n;
  hl_status st;
  char msg[400];
} exit_caller;

static void *call_until_it_fails(void *arg) {
  exit_caller *c = arg;
  for (int i = 0;; i++) {
    char args[64], *t = NULL;
    snprintf(args, sizeof args, "{\"text\":\"c%d-%d\"}", c->n, i);
    c->st = call_text(c->m, "echo", args, &t);
    free(t);
    if (c->st != HL_OK) break;
  }
  snprintf(c->msg, sizeof c->msg, "%s", hl_last_error());
  return NULL;
}

static void exit_named_by_every_call_in_flight(void) {
  enum { ROUNDS = 6, CALLERS = 6 };
  int wrong = 0;
  for (int round = 0; round < ROUNDS; round++) {
    hl_mcp *m = hostile("hostile", 10000);
    REQUIRE(m);
    REQUIRE(hl_mcp_connect(m) == HL_OK);
    exit_caller c[CALLERS];
    pthread_t th[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
      c[i] = (exit_caller){.m = m, .n = i};
      pthread_create(&th[i], NULL, call_until_it_fails, &c[i]);
    }
    char *t = NULL;
    CHECK_INT(call_text(m, "exit_later", round % 2 ? "{\"after\":0}" : "{\"after\":0.3}", &t), HL_ERR_NETWORK);
    CHECK_CONTAINS(hl_last_error(), "mcp server \"hostile\" exited with status 3");
    free(t);
    for (int i = 0; i < CALLERS; i++) {
      pthread_join(th[i], NULL);
      CHECK_INT(c[i].st, HL_ERR_NETWORK);
      if (!strstr(c[i].msg, "mcp server \"hostile\" exited with status 3") && wrong++ < 5)
        fprintf(stderr, "round %d, caller %d: %s\n", round, i, c[i].msg);
    }
    hl_mcp_free(m);
  }
  CHECK_INT(wrong, 0);
}

static void never_answers_times_out_and_cancels(void) {
  hl_mcp *m = hostile("hostile", 20000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_mcp_set_timeout_ms(m, 500); /* allowed after connecting */
  char *t = NULL;
  CHECK_INT(call_text(m, "hang", NULL, &t), HL_ERR_TIMEOUT);
  CHECK_CONTAINS(hl_last_error(), "no answer to tools/call within 500 ms");
  /* The server was told: the hang call's id is among the cancelled. */
  CHECK_INT(call_text(m, "cancelled_ids", NULL, &t), HL_OK);
  CHECK(t && strcmp(t, "[]") != 0);
  free(t);
  hl_mcp_free(m);
}

static void tool_errors_are_execution_failed(void) {
  hl_mcp *m = hostile("hostile", 5000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *t = NULL;
  CHECK_INT(call_text(m, "error_result", NULL, &t), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "the tool failed on purpose");
  /* fuzz_mcp's finding (fixed in 5d86a1d): an isError result whose only
   * text item is empty still fails with a message, not with "". */
  CHECK_INT(call_text(m, "error_result", "{\"text\":\"\"}", &t), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "the tool reported an error");
  CHECK_INT(call_text(m, "rpc_error", NULL, &t), HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "error -32000: rpc failure on purpose");
  CHECK_INT(call_text(m, "no_such_tool", NULL, &t), HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "Unknown tool");
  hl_mcp_free(m);
}

static hl_status elicit(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *u) {
  (void)m;
  (void)u;
  CHECK_STR(method, "elicitation/create");
  const cJSON *msg = cJSON_GetObjectItem(params, "message");
  *result = cJSON_Parse("{\"action\":\"accept\",\"content\":{\"name\":\"Ada\"}}");
  cJSON_AddStringToObject(*result, "echo", cJSON_IsString(msg) ? msg->valuestring : "");
  return HL_OK;
}

#define URL_ELICITATION                                                                             \
  "{\"method\":\"elicitation/create\",\"params\":{\"mode\":\"url\",\"message\":\"open it\",\"url\":" \
  "\"https://example.com/connect\",\"elicitationId\":\"e1\"}}"

static void server_requests_answered_or_refused(void) {
  hl_mcp *m = hostile("hostile", 5000);
  REQUIRE(m);
  cJSON *roots = cJSON_Parse("[{\"uri\":\"file:///tmp/work\",\"name\":\"work\"}]");
  CHECK_INT(hl_mcp_set_roots(m, roots), HL_OK);
  cJSON_Delete(roots);
  CHECK_INT(hl_mcp_set_handler(m, "elicitation/create", elicit, NULL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *t = NULL;
  CHECK_INT(call_text(m, "ask", "{\"method\":\"roots/list\"}", &t), HL_OK);
  CHECK_CONTAINS(t, "file:///tmp/work");
  free(t);
  CHECK_INT(call_text(m, "ask", "{\"method\":\"elicitation/create\",\"params\":{\"message\":\"name?\"}}", &t),
            HL_OK);
  CHECK_CONTAINS(t, "\"action\": \"accept\"");
  CHECK_CONTAINS(t, "\"echo\": \"name?\"");
  free(t);
  /* Fields the handler left out get the requested schema's defaults. */
  CHECK_INT(call_text(m, "ask",
                      "{\"method\":\"elicitation/create\",\"params\":{\"message\":\"more\",\"requestedSchema\":"
                      "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"default\":\"X\"},"
                      "\"age\":{\"type\":\"integer\",\"default\":30}}}}}",
                      &t),
            HL_OK);
  CHECK_CONTAINS(t, "\"name\": \"Ada\"");
  CHECK_CONTAINS(t, "\"age\": 30");
  free(t);
  CHECK_INT(call_text(m, "ask", "{\"method\":\"sampling/createMessage\"}", &t), HL_OK);
  CHECK_CONTAINS(t, "-32601");
  free(t);
  /* URL mode was not declared (form only, the default): -32602 and the
   * handler does not run (2025-11-25 client/elicitation.mdx). */
  CHECK_INT(call_text(m, "ask", URL_ELICITATION, &t), HL_OK);
  CHECK_CONTAINS(t, "-32602");
  CHECK_CONTAINS(t, "elicitation mode \\\"url\\\", which this client did not declare");
  CHECK(strstr(t, "accept") == NULL);
  free(t);
  CHECK_INT(call_text(m, "ask", "{\"method\":\"ping\"}", &t), HL_OK);
  CHECK_CONTAINS(t, "\"result\": {}");
  free(t);
  /* Configuration after connecting is refused. */
  CHECK_INT(hl_mcp_set_prefix(m, "x_"), HL_ERR_STATE);
  hl_mcp_free(m);
}

/* With url mode declared the same request reaches the handler, and the
 * capability names both modes. */
static void url_elicitation_when_declared(void) {
  hl_mcp *m = hostile("hostile", 5000);
  REQUIRE(m);
  CHECK_INT(hl_mcp_set_elicitation_modes(m, 0), HL_ERR_INVALID);
  CHECK_INT(hl_mcp_set_elicitation_modes(m, 4), HL_ERR_INVALID);
  CHECK_INT(hl_mcp_set_handler(m, "elicitation/create", elicit, NULL), HL_OK);
  CHECK_INT(hl_mcp_set_elicitation_modes(m, HL_MCP_ELICIT_FORM | HL_MCP_ELICIT_URL), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  const cJSON *caps = cJSON_GetObjectItem(hl_mcp_server_info(m), "clientCapabilities");
  const cJSON *el = cJSON_GetObjectItem(caps, "elicitation");
  CHECK(cJSON_IsObject(cJSON_GetObjectItem(el, "form")) && cJSON_IsObject(cJSON_GetObjectItem(el, "url")));
  char *t = NULL;
  CHECK_INT(call_text(m, "ask", URL_ELICITATION, &t), HL_OK);
  CHECK_CONTAINS(t, "\"action\": \"accept\"");
  CHECK_CONTAINS(t, "\"echo\": \"open it\"");
  free(t);
  CHECK_INT(hl_mcp_set_elicitation_modes(m, HL_MCP_ELICIT_URL), HL_ERR_STATE);
  hl_mcp_free(m);
}

static void capabilities_follow_handlers(void) {
  /* Without handlers, server requests are refused with -32601. */
  hl_mcp *m = hostile("hostile", 5000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *t = NULL;
  CHECK_INT(call_text(m, "ask", "{\"method\":\"roots/list\"}", &t), HL_OK);
  CHECK_CONTAINS(t, "-32601");
  free(t);
  const cJSON *caps = cJSON_GetObjectItem(hl_mcp_server_info(m), "clientCapabilities");
  CHECK(caps && !cJSON_GetObjectItem(caps, "roots") && !cJSON_GetObjectItem(caps, "elicitation"));
  hl_mcp_free(m);
}

static void progress_events_and_noise(void) {
  setenv("HOSTILE_NOISE", "1", 1);
  hl_mcp *m = hostile("noisy", 5000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  fx_events_clear(&events);
  char *t = NULL;
  CHECK_INT(call_text(m, "slow", "{\"steps\":4}", &t), HL_OK);
  CHECK_STR(t, "slow done");
  free(t);
  CHECK_INT(fx_events_count(&events, "custom mcp.progress"), 4);
  CHECK_INT(fx_events_count(&events, "\"message\":\"step 4\""), 1);
  CHECK(fx_events_count(&events, "custom mcp.log") >= 1);
  CHECK_INT(hl_mcp_ping(m), HL_OK);
  hl_mcp_free(m);
  unsetenv("HOSTILE_NOISE");
}

static void list_changed_refreshes(void) {
  hl_mcp *m = hostile("hostile", 5000);
  REQUIRE(m);
  CHECK_INT(hl_mcp_set_prefix(m, "h_"), HL_OK);
  const char *excl[] = {"garbage", NULL};
  CHECK_INT(hl_mcp_set_exclude(m, excl), HL_OK);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_tools *reg = hl_mcp_tools(m);
  CHECK_INT(hl_tools_count(reg), 14);
  CHECK(hl_tools_find(reg, "h_echo") && !hl_tools_find(reg, "h_garbage") && !hl_tools_find(reg, "h_extra"));
  unsigned gen = hl_mcp_tools_generation(m);
  char *t = NULL;
  CHECK_INT(call_text(m, "add_tool", NULL, &t), HL_OK);
  free(t);
  /* (A refresh for the list_changed sent during initialize may land
   * first: wait for the list that has the new tool.) */
  hl_tools *now = NULL;
  for (int i = 0; i < 500; i++) {
    now = hl_mcp_tools(m);
    bool has = hl_tools_find(now, "h_extra") != NULL;
    hl_tools_free(now);
    if (has) break;
    fx_sleep_ms(20);
  }
  CHECK(hl_mcp_tools_generation(m) != gen);
  CHECK_INT(hl_mcp_sync_tools(m, reg), HL_OK);
  CHECK_INT(hl_tools_count(reg), 15);
  hl_tool *extra = hl_tools_find(reg, "h_extra");
  REQUIRE(extra);
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(extra, NULL, NULL, &res), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "extra tool") == 0);
  cJSON_Delete(res);
  hl_mcp_free(m);
  /* The registry's tools outlive the client: calls fail clearly. */
  CHECK_INT(hl_tool_invoke(hl_tools_find(reg, "h_echo"), NULL, NULL, &res), HL_ERR_STATE);
  CHECK_CONTAINS(hl_last_error(), "closed");
  hl_tools_free(reg);
}

static void versions(void) {
  setenv("HOSTILE_VERSION", "2025-03-26", 1);
  hl_mcp *m = hostile("old", 5000);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  CHECK_STR(hl_mcp_protocol_version(m), "2025-03-26");
  hl_mcp_free(m);
  setenv("HOSTILE_VERSION", "1999-01-01", 1);
  m = hostile("ancient", 5000);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_UNSUPPORTED);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "unsupported protocol version \"1999-01-01\"");
  hl_mcp_free(m);
  unsetenv("HOSTILE_VERSION");
  setenv("HOSTILE_INIT", "hang", 1);
  m = hostile("mute", 400);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_TIMEOUT);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "initialize");
  hl_mcp_free(m);
  unsetenv("HOSTILE_INIT");
}

static void bad_commands(void) {
  const char *argv[] = {"/nonexistent/server", NULL};
  hl_mcp *m = hl_mcp_new_stdio(NULL, argv);
  REQUIRE(m);
  CHECK_STR(hl_mcp_name(m), "server");
  CHECK_INT(hl_mcp_connect(m), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "cannot start /nonexistent/server");
  hl_mcp_free(m);
  CHECK(hl_mcp_new_command(NULL, "python3 'unterminated") == NULL);
  CHECK_CONTAINS(hl_last_error(), "unterminated");
  CHECK(hl_mcp_new_command(NULL, "   ") == NULL);
  CHECK(hl_mcp_new_http(NULL, "ftp://x") == NULL);
  CHECK(hl_mcp_new_stdio(NULL, NULL) == NULL);
  /* A command that is not an MCP server: stdout closes at once. */
  m = hl_mcp_new_command("true", "sh -c 'echo \"not a server\" >&2'");
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "\"true\" exited with status 0");
  hl_mcp_free(m);
}


/* Free the client while another thread is inside a call of it (held
 * there by an observer of the call's progress): hl_mcp_free waits for the
 * call to leave, which ends with HL_ERR_STATE (see fx_free_during_call). */
static void free_during_call(void) {
  hl_mcp *m = hostile("hostile", 20000);
  REQUIRE(m);
  CHECK_INT(fx_free_during_call(m, "slow"), 0);
}

/* hl_agent_cancel() during a call to a server that never answers: the
 * waiting call is woken by the run's cancellation (hl_context_on_cancel),
 * the run ends with HL_ERR_CANCELLED long before the 20 s limit, and the
 * server is sent notifications/cancelled for that call. */
typedef struct run_canceller {
  hl_agent *agent;
  atomic_bool tool_started;
} run_canceller;

static int note_tool_start(const hl_event *ev, void *user_data) {
  if (ev->type == HL_EVENT_TOOL_START) atomic_store(&((run_canceller *)user_data)->tool_started, true);
  return 0;
}

/* Cancels 300 ms after the tool call started, so that the call's request
 * is with the server (a fixed 700 ms from the run's start could come
 * before it on a loaded machine: the run then ends cancelled, with nothing
 * for the server to hear of). */
static void *cancel_after(void *arg) {
  run_canceller *c = arg;
  for (int i = 0; i < 1000 && !atomic_load(&c->tool_started); i++) fx_sleep_ms(10);
  fx_sleep_ms(300);
  hl_agent_cancel(c->agent);
  return NULL;
}

static void run_cancel_cancels_call(void) {
  hl_mcp *m = hostile("hostile", 20000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *t = NULL;
  CHECK_INT(call_text(m, "cancelled_ids", NULL, &t), HL_OK);
  CHECK_STR(t, "[]");
  free(t);
  hl_agent *a = hl_agent_new("canceller");
  hl_provider *p = hl_scripted_new();
  hl_agent_set_provider(a, p);
  hl_scripted_push_tool_call(p, "c1", "hang", "{}");
  hl_scripted_push_text(p, "not reached");
  hl_provider_unref(p);
  CHECK_INT(hl_mcp_add_to_agent(m, a), HL_OK);
  run_canceller c = {a, false};
  hl_observer *obs = hl_observer_new(note_tool_start, &c);
  hl_observer_set_events(obs, HL_EVENT_MASK(HL_EVENT_TOOL_START));
  CHECK_INT(hl_agent_add_observer(a, obs), HL_OK);
  hl_observer_unref(obs);
  pthread_t th;
  pthread_create(&th, NULL, cancel_after, &c);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_CANCELLED);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_join(th, NULL);
  CHECK(answer == NULL);
  CHECK(t1.tv_sec - t0.tv_sec < 10);
  /* The server heard of it: one request id among the cancelled. */
  CHECK_INT(call_text(m, "cancelled_ids", NULL, &t), HL_OK);
  CHECK(t && t[0] == '[' && t[1] >= '1' && t[1] <= '9' && !strchr(t, ','));
  free(t);
  still_works(m);
  hl_agent_unref(a);
  hl_mcp_free(m);
}

/* Calls from several threads at once: one of them reads the server's
 * stdout for all (hl__mcp_stdio_wait) and hands the others their answers,
 * or the event loop does; each gets its own answer, none waits for its
 * time limit. One thread's calls are slow ones with progress. */
typedef struct echo_worker {
  hl_mcp *m;
  int n, bad;
} echo_worker;

static void *echo_many(void *arg) {
  echo_worker *w = arg;
  for (int i = 0; i < 25; i++) {
    char args[64], want[64], *t = NULL;
    snprintf(args, sizeof args, "{\"text\":\"w%d-%d\"}", w->n, i);
    snprintf(want, sizeof want, "echo: w%d-%d", w->n, i);
    hl_status st = w->n == 0 ? call_text(w->m, "slow", "{\"steps\":2}", &t) : call_text(w->m, "echo", args, &t);
    if (st != HL_OK || !t || strcmp(t, w->n == 0 ? "slow done" : want) != 0) w->bad++;
    free(t);
  }
  return NULL;
}

static void parallel_calls(void) {
  hl_mcp *m = hostile("hostile", 20000);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  echo_worker w[5];
  pthread_t th[5];
  for (int i = 0; i < 5; i++) {
    w[i] = (echo_worker){m, i, 0};
    pthread_create(&th[i], NULL, echo_many, &w[i]);
  }
  for (int i = 0; i < 5; i++) {
    pthread_join(th[i], NULL);
    CHECK_INT(w[i].bad, 0);
  }
  still_works(m);
  hl_mcp_free(m);
}

/* Two servers at once: one breaking does not disturb the other. */
/* How many lines of `path` are `line`. */
static int lines_in(const char *path, const char *line) {
  FILE *f = fopen(path, "r");
  char buf[200];
  int n = 0;
  while (f && fgets(buf, sizeof buf, f)) {
    buf[strcspn(buf, "\n")] = '\0';
    n += strcmp(buf, line) == 0;
  }
  if (f) fclose(f);
  return n;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A legacy stdio server that ignores server/discover: a config file's
 * "era": "legacy" connects without the probe (and its 5 s wait); "auto"
 * probes; any other word is refused at load, naming the key. */
static void config_era(void) {
  char log[] = "/tmp/hl_hostile_log_XXXXXX";
  int fd = mkstemp(log);
  REQUIRE(fd >= 0);
  close(fd);
  setenv("HOSTILE_LOG", log, 1);
  setenv("HOSTILE_DISCOVER", "ignore", 1);
  const char *eras[] = {"legacy", "auto"};
  for (int i = 0; i < 2; i++) {
    truncate(log, 0);
    char text[1200];
    snprintf(text, sizeof text,
             "{\"mcp_servers\": [{\"name\": \"cfg\", \"command\": \"python3 %s\", \"era\": \"%s\"}]}",
             fx_env("HL_MCP_HOSTILE"), eras[i]);
    hl_config *cfg = NULL;
    REQUIRE(hl_config_parse(text, "era.json", &cfg) == HL_OK);
    hl_agent *a = hl_agent_new("era_agent");
    int64_t t0 = now_ms();
    CHECK_INT(hl_config_connect_mcp(cfg, NULL, a), HL_OK);
    int64_t took = now_ms() - t0;
    CHECK(hl_tools_find(hl_agent_tools(a), "echo") != NULL);
    CHECK_INT(lines_in(log, "initialize"), 1);
    CHECK_INT(lines_in(log, "server/discover"), i == 0 ? 0 : 1);
    fprintf(stderr, "config_era: \"%s\" connected in %lld ms\n", eras[i], (long long)took);
    if (i == 1) CHECK(took >= 5000); /* the probe's wait, which "legacy" spares */
    hl_agent_unref(a);
    hl_config_free(cfg);
  }
  unsetenv("HOSTILE_DISCOVER");
  unsetenv("HOSTILE_LOG");
  unlink(log);
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_parse("{\"mcp_servers\": [{\"command\": \"srv\", \"era\": \"2026\"}]}", "bad.json", &cfg),
            HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.mcp_servers[0]: \"era\" must be \"auto\", \"modern\" or \"legacy\", got \"2026\"");
  CHECK(cfg == NULL);
  CHECK_INT(hl_config_parse("{\"mcp_servers\": [{\"command\": \"srv\", \"era\": 1}]}", "bad.json", &cfg),
            HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "era");
}

static void other_server_unaffected(void) {
  hl_mcp *a = hostile("a", 5000), *b = hostile("b", 5000);
  REQUIRE(a && b);
  REQUIRE(hl_mcp_connect(a) == HL_OK);
  REQUIRE(hl_mcp_connect(b) == HL_OK);
  char *t = NULL;
  CHECK_INT(call_text(a, "exit", NULL, &t), HL_ERR_NETWORK);
  CHECK_INT(call_text(a, "echo", "{\"text\":\"x\"}", &t), HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_last_error(), "exited");
  still_works(b);
  hl_mcp_free(a);
  still_works(b);
  hl_mcp_free(b);
}

/* An observer slower than the server: 50 us per log event. */
typedef struct slow_obs {
  atomic_long logs, reports, dropped, protocol_errors, repeated;
  char protocol_error[300]; /* the last one's message (read after the call) */
  char last_message[300];   /* ... and its last_message ("": none) */
} slow_obs;

static int slow_fn(const hl_event *ev, void *user) {
  slow_obs *s = user;
  if (ev->type != HL_EVENT_CUSTOM) return 0;
  if (strcmp(ev->name, "mcp.log") == 0) {
    atomic_fetch_add(&s->logs, 1);
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
  } else if (strcmp(ev->name, "mcp.protocol_error") == 0) {
    struct timespec ts = {0, 1000000}; /* 1 ms: slower than the server */
    nanosleep(&ts, NULL);
    const cJSON *msg = cJSON_GetObjectItem(ev->data, "message");
    snprintf(s->protocol_error, sizeof s->protocol_error, "%s", cJSON_IsString(msg) ? msg->valuestring : "");
    const cJSON *last = cJSON_GetObjectItem(ev->data, "last_message");
    snprintf(s->last_message, sizeof s->last_message, "%s", cJSON_IsString(last) ? last->valuestring : "");
    /* Counted last: a test that waits for the count reads the texts
     * after they were written. */
    const cJSON *rep = cJSON_GetObjectItem(ev->data, "repeated");
    if (cJSON_IsNumber(rep)) atomic_fetch_add(&s->repeated, (long)rep->valuedouble);
    atomic_fetch_add(&s->protocol_errors, 1);
  } else if (strcmp(ev->name, "mcp.events_dropped") == 0) {
    atomic_fetch_add(&s->reports, 1);
    const cJSON *n = cJSON_GetObjectItem(ev->data, "dropped");
    if (cJSON_IsNumber(n)) atomic_fetch_add(&s->dropped, (long)n->valuedouble);
  }
  return 0;
}

#if defined(__SANITIZE_ADDRESS__)
/* ASan keeps freed memory (256 MB by default) to catch late uses: the
 * events the client drops would show as growth. 16 MB still catches
 * this suite's uses after free. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void) {
  return "quarantine_size_mb=16";
}
#endif

static long peak_rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* A hostile server's client whose observers include `s`, connected,
 * or NULL. */
static hl_mcp *slow_client(const char *name, slow_obs *s) {
  hl_mcp *m = hostile(name, 10000);
  if (!m) return NULL;
  hl_observer *obs = hl_observer_new(slow_fn, s);
  hl_mcp_add_observer(m, obs);
  hl_observer_unref(obs);
  if (hl_mcp_connect(m) != HL_OK) {
    hl_mcp_free(m);
    return NULL;
  }
  return m;
}

static void notification_flood_is_bounded(void) {
  /* Run first: the peak RSS is the process's, earlier tests' would hide
   * this one's. */
  static slow_obs s;
  hl_mcp *m = slow_client("flood", &s);
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 0); /* ASan on a loaded machine: a minute or more */
  long before = peak_rss_kb();
  char *t = NULL;
  CHECK_INT(call_text(m, "flood", "{\"count\":1000000}", &t), HL_OK);
  CHECK_STR(t, "flood done");
  free(t);
  long grown = peak_rss_kb() - before;
  fprintf(stderr, "flood: peak RSS grew by %ld kB; %ld logs emitted, %ld dropped in %ld reports\n", grown,
          (long)s.logs, (long)s.dropped, (long)s.reports);
  /* Unbounded, the queue held ~1 M events (~460 MB); bounded, ~1 MB
   * (ASan: ~40 MB, its quarantine of the dropped events). */
  CHECK(grown < 64 * 1024);
  /* Each of the 998,000 log messages reached the observer or was
   * counted as dropped (so may be the 1,000 progress notifications);
   * the application learnt it once per queue's worth of events it saw,
   * not once per event. */
  CHECK(s.dropped > 0 && s.reports >= 1);
  CHECK(s.reports <= s.logs / HL_MCP_MAX_QUEUED_EVENTS + 1);
  CHECK_INT((long)hl_mcp_events_dropped(m), (long)s.dropped);
  CHECK(s.logs + s.dropped >= 998000 && s.logs + s.dropped <= 999000);
  still_works(m);
  hl_mcp_free(m);
  fx_events_clear(&events); /* it keeps 512 lines: room for the next tests */
}

/* The same flood ends in a line that is not JSON: the queue is full of
 * log events then, yet the protocol error, what the user most needs to
 * see, reaches the observer (room is kept for it), before the call that
 * it fails returns. */
static void protocol_error_survives_a_flood(void) {
  static slow_obs s;
  hl_mcp *m = slow_client("flood", &s);
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 0);
  char *t = NULL;
  CHECK_INT(call_text(m, "flood", "{\"count\":100000,\"end\":\"garbage\"}", &t), HL_ERR_JSON);
  free(t);
  fprintf(stderr, "flood then garbage: %ld logs emitted, %ld dropped, %ld protocol errors\n", (long)s.logs,
          (long)s.dropped, (long)s.protocol_errors);
  CHECK(s.dropped > 0); /* the queue was full */
  CHECK_INT((long)s.protocol_errors, 1);
  CHECK_CONTAINS(s.protocol_error, "sent a message that is not JSON");
  CHECK_CONTAINS(s.protocol_error, "the flood ends in garbage");
  still_works(m);
  hl_mcp_free(m);
  fx_events_clear(&events); /* room for the next tests */
}

/* A server that sends nothing but garbage: the protocol errors beyond
 * the few kept waiting are coalesced into the last one's "repeated"
 * count, so every one is accounted for and none grows the queue; and
 * the last of them is still read: its text is the last event's
 * last_message (the lines differ by their number: the last is 1999). */
static void protocol_errors_coalesce(void) {
  static slow_obs s;
  hl_mcp *m = slow_client("garbage", &s);
  REQUIRE(m);
  char *t = NULL;
  CHECK_INT(call_text(m, "garbage", "{\"kind\":\"numbered\",\"count\":2000}", &t), HL_ERR_JSON);
  free(t);
  for (int i = 0; i < 1000 && s.protocol_errors + s.repeated < 2000; i++) fx_sleep_ms(10);
  fprintf(stderr, "2000 garbage lines: %ld protocol errors emitted, %ld more counted in them; the last: %s\n",
          (long)s.protocol_errors, (long)s.repeated, s.last_message[0] ? s.last_message : s.protocol_error);
  CHECK_INT((long)(s.protocol_errors + s.repeated), 2000);
  CHECK(s.repeated > 0);
  /* The last line is this event's own message only if it was not
   * coalesced: then nothing came after it to be. */
  CHECK_CONTAINS(s.last_message[0] ? s.last_message : s.protocol_error, "this is not json {1999\"");
  CHECK_INT((long)hl_mcp_events_dropped(m), 0);
  still_works(m);
  hl_mcp_free(m);
  fx_events_clear(&events);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(notification_flood_is_bounded);
  RUN(protocol_error_survives_a_flood);
  RUN(protocol_errors_coalesce);
  RUN(pagination_and_stderr);
  RUN(server_inherits_no_descriptor);
  RUN(garbage_line_fails_the_call);
  RUN(raw_nul_in_a_string_fails_the_call);
  RUN(oversized_message_fails_the_call);
  RUN(answer_to_unknown_id_fails_the_call);
  RUN(invalid_utf8_fails_the_call);
  RUN(server_exit_mid_call);
  RUN(exit_named_by_every_call_in_flight);
  RUN(never_answers_times_out_and_cancels);
  RUN(tool_errors_are_execution_failed);
  RUN(server_requests_answered_or_refused);
  RUN(url_elicitation_when_declared);
  RUN(capabilities_follow_handlers);
  RUN(progress_events_and_noise);
  RUN(list_changed_refreshes);
  RUN(versions);
  RUN(bad_commands);
  RUN(other_server_unaffected);
  RUN(config_era);
  RUN(run_cancel_cancels_call);
  RUN(parallel_calls);
  RUN(free_during_call);
  /* Every server this test started is gone: no child, no zombie. */
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  CHECK_INT(zombies, 0);
  fx_events_clear(&events);
  return CHECK_EXIT();
}
