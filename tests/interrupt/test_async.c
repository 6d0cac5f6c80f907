/*
 * tests/interrupt/test_async.c - interrupts and resume with asynchronous
 * runs (run.h): a run started with hl_run_start() that stops for approval
 * ends with HL_INTERRUPTED and its state is on its handle (hl_run_state(),
 * not the thread slot); hl_run_resume() continues it asynchronously. Over
 * HTTP (server.py on a loopback port) the runs go through the state
 * machine's steps on the worker pool; with the scripted provider a
 * sub-agent is interrupted inside a tool on a pool thread. Also the
 * blocking hl_agent_run()/hl_agent_resume() on the state machine, and
 * resume misuse that changes nothing.
 */
#include <stdatomic.h>

#include "check.h"
#include "fixture.h"
#include "../providers/test_server.h"

#define KEY "sk-interrupt-async-0011"
#define FINAL "Final: sunny in Paris | 12:00 CET"

static test_server srv;
static pthread_t main_thread;

static hl_status paris_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  fx_log_call("get_weather", args);
  char b[96];
  snprintf(b, sizeof b, "sunny in %s", hl_json_get_string(args, "city"));
  *result = cJSON_CreateString(b);
  return HL_OK;
}

static hl_status tz_time(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  fx_log_call("get_time", args);
  char b[96];
  snprintf(b, sizeof b, "12:00 %s", hl_json_get_string(args, "tz"));
  *result = cJSON_CreateString(b);
  return HL_OK;
}

/* server.py's "agent" scenario asks for get_weather and get_time, then
 * answers with the results; get_weather needs approval here. */
static hl_agent *http_agent(hl_provider *p, const char *model) {
  hl_agent *a = hl_agent_new("approver");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  hl_tool *w = fx_tool("get_weather", paris_weather, "city");
  hl_tool_set_needs_approval(w, true);
  fx_add(a, w);
  fx_add(a, fx_tool("get_time", tz_time, "tz"));
  return a;
}

/* One run and what its completion saw. */
typedef struct rec {
  hl_run *run;
  hl_session *session;
  char input[32];
  atomic_int calls;
  hl_status st;
  bool answer_null;
  bool state_in_done; /* hl_run_state() worked inside on_done */
  char answer[200];
  pthread_t thread;
} rec;

static void on_done(hl_run *run, hl_status st, const char *answer, const hl_usage *usage,
                    void *ud) {
  (void)usage;
  rec *r = ud;
  r->st = st;
  r->answer_null = answer == NULL;
  snprintf(r->answer, sizeof r->answer, "%s", answer ? answer : "");
  cJSON *s = hl_run_state(run);
  r->state_in_done = s != NULL;
  cJSON_Delete(s);
  r->thread = pthread_self();
  atomic_fetch_add(&r->calls, 1);
}

static hl_run_options opts_for(rec *r) {
  hl_run_options o = HL_RUN_OPTIONS_INIT;
  o.on_done = on_done;
  o.user_data = r;
  return o;
}

/* The path of the state's only pending call (caller frees). */
static char *only_pending_path(const cJSON *state) {
  cJSON *list = hl_run_state_pending(state);
  char *path = NULL;
  if (list && cJSON_GetArraySize(list) == 1)
    path = strdup(hl_json_get_string(cJSON_GetArrayItem(list, 0), "path"));
  cJSON_Delete(list);
  return path;
}

#define N_RUNS 40

/* Many runs interrupted at once on the pool: each completion says
 * HL_INTERRUPTED off the caller's thread, each handle has its own run's
 * state (its own input), none lands in the thread slot; then every run
 * is resumed asynchronously (half approved, half rejected). */
static void async_runs_interrupt_and_resume_async(void) {
  fx_log_reset();
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = http_agent(p, "agent@interrupt-async");
  static rec r[N_RUNS];
  for (int i = 0; i < N_RUNS; i++) {
    memset(&r[i], 0, sizeof r[i]);
    snprintf(r[i].input, sizeof r[i].input, "run %d", i);
    r[i].session = hl_session_new(NULL, NULL, NULL);
    hl_run_options o = opts_for(&r[i]);
    REQUIRE(hl_run_start(a, r[i].session, r[i].input, &o, &r[i].run) == HL_OK);
  }
  int interrupted = 0, own_state = 0, off_main = 0;
  cJSON *states[N_RUNS] = {0};
  for (int i = 0; i < N_RUNS; i++) {
    CHECK_INT(hl_run_wait(r[i].run, 120000), HL_INTERRUPTED);
    CHECK_STR(hl_last_error(), ""); /* not a failure */
    CHECK_INT(hl_run_status(r[i].run), HL_INTERRUPTED);
    CHECK(hl_run_answer(r[i].run) == NULL);
    CHECK_CONTAINS(hl_run_error(r[i].run), "get_weather");
    interrupted += r[i].st == HL_INTERRUPTED && r[i].answer_null && r[i].state_in_done &&
                   atomic_load(&r[i].calls) == 1;
    off_main += !pthread_equal(r[i].thread, main_thread);
    states[i] = hl_run_state(r[i].run);
    if (!states[i]) continue;
    const cJSON *pend = cJSON_GetArrayItem(hl_json_get(states[i], "pending"), 0);
    const cJSON *done = cJSON_GetArrayItem(hl_json_get(states[i], "results"), 0);
    own_state += !strcmp(hl_json_get_string(states[i], "input"), r[i].input) &&
                 !strcmp(hl_json_get_string(pend, "name"), "get_weather") &&
                 !strcmp(hl_json_get_string(done, "content"), "12:00 CET");
  }
  CHECK_INT(interrupted, N_RUNS);
  CHECK_INT(off_main, N_RUNS);
  CHECK_INT(own_state, N_RUNS);
  /* The blocking calls' slot is untouched by asynchronous runs. */
  CHECK(hl_run_state_json() == NULL);
  CHECK_INT(fx_ran("get_time"), N_RUNS);
  CHECK_INT(fx_ran("get_weather"), 0);
  CHECK_INT(test_server_count(&srv, "agent@interrupt-async"), N_RUNS);

  /* Resume each asynchronously, from the state only (the first handle
   * freed before: the second run needs nothing of it). */
  static rec r2[N_RUNS];
  for (int i = 0; i < N_RUNS; i++) {
    REQUIRE(states[i]);
    hl_run_free(r[i].run);
    memset(&r2[i], 0, sizeof r2[i]);
    r2[i].session = r[i].session;
    char *path = only_pending_path(states[i]);
    REQUIRE(path);
    cJSON *d = cJSON_CreateObject();
    if (i % 2) hl_decision_reject(d, path, "no weather today");
    else hl_decision_approve(d, path);
    free(path);
    hl_run_options o = opts_for(&r2[i]);
    REQUIRE(hl_run_resume(a, r2[i].session, states[i], d, &o, &r2[i].run) == HL_OK);
    cJSON_Delete(d); /* borrowed for the call only */
    cJSON_Delete(states[i]);
  }
  int approved = 0, rejected = 0;
  for (int i = 0; i < N_RUNS; i++) {
    CHECK_INT(hl_run_wait(r2[i].run, 120000), HL_OK);
    if (i % 2) rejected += !strcmp(r2[i].answer, "Final: no weather today | 12:00 CET");
    else approved += !strcmp(r2[i].answer, FINAL) && !strcmp(hl_run_answer(r2[i].run), FINAL);
    CHECK(hl_run_state(r2[i].run) == NULL);
    /* user, assistant (calls), tool results, assistant (final) */
    CHECK_INT(hl_session_messages(r2[i].session)->count, 4);
    hl_run_free(r2[i].run);
    hl_session_free(r2[i].session);
  }
  CHECK_INT(approved, N_RUNS / 2);
  CHECK_INT(rejected, N_RUNS / 2);
  CHECK_INT(fx_ran("get_weather"), N_RUNS / 2); /* approved ones only, once */
  CHECK_INT(fx_ran("get_time"), N_RUNS);        /* not run again */
  CHECK_INT(test_server_count(&srv, "agent@interrupt-async"), 2 * N_RUNS);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* hl_agent_run()/hl_agent_resume() on the same HTTP agent: the blocking
 * form of the state machine keeps the thread slot. */
static void blocking_run_interrupts_and_resumes_over_http(void) {
  fx_log_reset();
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = http_agent(p, "agent@interrupt-blocking");
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, s, "weather?", &answer), HL_INTERRUPTED);
  CHECK(answer == NULL);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  CHECK(hl_run_state_json() == NULL); /* handed over once */
  char *path = only_pending_path(state);
  REQUIRE(path);
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, path);
  free(path);
  CHECK_INT(hl_agent_resume(a, s, state, d, &answer), HL_OK);
  CHECK_STR(answer, FINAL);
  hl_free(answer);
  CHECK_INT(fx_ran("get_weather"), 1);
  CHECK_INT(fx_ran("get_time"), 1);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* A sub-agent (agent as tool) interrupted inside its tool call on a pool
 * thread: its state reaches the parent's call, the parent's handle has
 * the whole tree, and hl_run_resume() resumes it from the top. */
static void async_subagent_interrupt_resumes_from_the_top(void) {
  fx_log_reset();
  hl_provider *bm = hl_scripted_new(), *hm = hl_scripted_new();
  hl_response *resp = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"input\":\"clean up\"}"), *a2 = cJSON_Parse("{\"city\":\"Oslo\"}");
  hl_message_add_tool_call(resp->message, "b1", "helper", a1);
  hl_message_add_tool_call(resp->message, "b2", "get_weather", a2);
  cJSON_Delete(a1), cJSON_Delete(a2);
  hl_scripted_push(bm, resp);
  hl_scripted_push_tool_call(hm, "h1", "delete_file", "{\"path\":\"/tmp/z\"}");
  hl_agent *boss = fx_boss(bm, hm);
  hl_session *s = hl_session_new("app", "u", "async-sub");
  rec r = {0};
  hl_run_options o = opts_for(&r);
  REQUIRE(hl_run_start(boss, s, "tidy and weather", &o, &r.run) == HL_OK);
  CHECK_INT(hl_run_wait(r.run, 60000), HL_INTERRUPTED);
  CHECK(!pthread_equal(r.thread, main_thread));
  cJSON *state = hl_run_state(r.run);
  REQUIRE(state);
  CHECK(hl_run_state_json() == NULL);
  hl_run_free(r.run);
  const cJSON *p = cJSON_GetArrayItem(hl_json_get(state, "pending"), 0);
  CHECK_STR(hl_json_get_string(p, "interrupted_by"), "sub_agent");
  CHECK_STR(hl_json_get_string(hl_json_get(p, "state"), "agent"), "helper");
  char *path = only_pending_path(state);
  CHECK_STR(path, "b1/h1");
  free(path);
  CHECK_INT(fx_ran("delete_file"), 0);

  hl_scripted_push_text(hm, "cleaned");
  hl_scripted_push_text(bm, "all done");
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "b1/h1");
  rec r2 = {0};
  o = opts_for(&r2);
  REQUIRE(hl_run_resume(boss, s, state, d, &o, &r2.run) == HL_OK);
  CHECK_INT(hl_run_wait(r2.run, 60000), HL_OK);
  CHECK_STR(r2.answer, "all done");
  CHECK_INT(fx_ran("delete_file"), 1);
  CHECK_INT(fx_ran("get_weather"), 1);
  hl_run_free(r2.run);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_agent_unref(boss);
  hl_provider_unref(bm), hl_provider_unref(hm);
  hl_session_free(s);
}

/* Refused resumes start nothing: no handle, no callback, the session as
 * it was; hl_run_state() is NULL for runs that were not interrupted. */
static void async_resume_misuse_changes_nothing(void) {
  hl_provider *m = hl_scripted_new();
  fx_push_three_calls(m);
  hl_agent *a = fx_assistant(m);
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, s, "three", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  size_t before = hl_session_messages(s)->count;
  rec r = {0};
  hl_run_options o = opts_for(&r);
  hl_run *run = (hl_run *)&r; /* must be set to NULL */
  cJSON *empty = cJSON_CreateObject(); /* decisions missing for c2 and c3 */
  CHECK_INT(hl_run_resume(a, s, state, empty, &o, &run), HL_ERR_INVALID);
  CHECK(run == NULL);
  CHECK_CONTAINS(hl_last_error(), "c2");
  run = (hl_run *)&r;
  CHECK_INT(hl_run_resume(NULL, s, state, empty, &o, &run), HL_ERR_INVALID);
  CHECK(run == NULL);
  CHECK_INT(hl_run_resume(a, s, state, empty, &o, NULL), HL_ERR_INVALID);
  /* A session that changed since the interrupt (the interrupted run's
   * own messages are in the state, not in the session). */
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "c2");
  hl_decision_approve(d, "c3");
  hl_session *other = hl_session_new(NULL, NULL, NULL);
  REQUIRE(hl_session_add_message(other, hl_message_new_text(HL_ROLE_USER, "hi")) == HL_OK);
  CHECK_INT(hl_run_resume(a, other, state, d, &o, &run), HL_ERR_STATE);
  CHECK(run == NULL);
  CHECK_INT(hl_session_messages(s)->count, before);
  CHECK_INT(atomic_load(&r.calls), 0);
  CHECK(hl_run_state(NULL) == NULL);

  /* The good resume ends HL_OK: no state on its handle. */
  hl_scripted_push_text(m, "done");
  REQUIRE(hl_run_resume(a, s, state, d, &o, &run) == HL_OK);
  CHECK_INT(hl_run_wait(run, 60000), HL_OK);
  CHECK_STR(hl_run_answer(run), "done");
  CHECK(hl_run_state(run) == NULL);
  CHECK_INT(atomic_load(&r.calls), 1);
  hl_run_free(run);
  cJSON_Delete(empty);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(other);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_provider_unref(m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  main_thread = pthread_self();
  if (test_server_start(&srv) != 0) return 1;
  RUN(async_runs_interrupt_and_resume_async);
  RUN(blocking_run_interrupts_and_resumes_over_http);
  RUN(async_subagent_interrupt_resumes_from_the_top);
  RUN(async_resume_misuse_changes_nothing);
  test_server_stop(&srv);
  return CHECK_EXIT();
}
