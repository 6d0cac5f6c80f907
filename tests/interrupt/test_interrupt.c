/*
 * tests/interrupt/test_interrupt.c - interrupts and resume in one process
 * (the second-process resume is test_process.c): the hook action (H20) and
 * the approval flag, a mixed turn whose finished call is not run again,
 * reject and edit as the model sees them, an interrupt inside a sub-agent
 * resumed from the top, the events, and bad states and decisions that
 * change nothing.
 */
#include "check.h"
#include "fixture.h"

/* Run the assistant on the three-call turn: returns the state (caller
 * frees) and leaves the agent and model for the caller. */
static cJSON *interrupted_assistant(hl_agent **agent, hl_provider **model, hl_session *s) {
  *model = hl_scripted_new();
  fx_push_three_calls(*model);
  *agent = fx_assistant(*model);
  char *answer = (char *)"unset";
  hl_status st = hl_agent_run(*agent, s, "weather, cleanup, mail", &answer);
  CHECK_INT(st, HL_INTERRUPTED);
  CHECK(answer == NULL);
  return hl_run_state_json();
}

static void H20_interrupt_hook_and_approval_flag_stop_after_the_turn(void) {
  fx_log_reset();
  hl_session *s = hl_session_new("app", "u", "s1");
  hl_agent *agent;
  hl_provider *model;
  cJSON *state = interrupted_assistant(&agent, &model, s);
  REQUIRE(state);
  /* Not a failure: no error is left behind. */
  CHECK_INT(hl_last_status(), HL_OK);
  CHECK_STR(hl_last_error(), "");
  /* The call that needs nothing ran; the other two did not. */
  CHECK_INT(fx_ran("get_weather"), 1);
  CHECK_INT(fx_ran("delete_file"), 0);
  CHECK_INT(fx_ran("send_email"), 0);
  /* The session is as before the run; the state has the run's messages. */
  CHECK_INT(hl_session_messages(s)->count, 0);
  CHECK_INT(hl_json_get_number(state, "version", 0), 1);
  CHECK_STR(hl_json_get_string(state, "agent"), "assistant");
  CHECK_INT(hl_json_get_number(state, "turn", 0), 1);
  CHECK_INT(hl_json_get_number(state, "history", -1), 0);
  CHECK_INT(cJSON_GetArraySize(hl_json_get(state, "messages")), 2); /* user, assistant */
  const cJSON *results = hl_json_get(state, "results");
  CHECK_INT(cJSON_GetArraySize(results), 1);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(results, 0), "id"), "c1");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(results, 0), "content"), "sunny in Oslo");
  const cJSON *pending = hl_json_get(state, "pending");
  CHECK_INT(cJSON_GetArraySize(pending), 2);
  const cJSON *p2 = cJSON_GetArrayItem(pending, 0), *p3 = cJSON_GetArrayItem(pending, 1);
  CHECK_STR(hl_json_get_string(p2, "id"), "c2");
  CHECK_STR(hl_json_get_string(p2, "interrupted_by"), "approval");
  CHECK_STR(hl_json_get_string(hl_json_get(p2, "arguments"), "path"), "/tmp/x");
  CHECK_STR(hl_json_get_string(p3, "id"), "c3");
  CHECK_STR(hl_json_get_string(p3, "interrupted_by"), "hook");
  CHECK_STR(hl_json_get_string(p3, "hook"), "email_guard");
  CHECK_STR(hl_json_get_string(p3, "reason"), "emails need a human");
  /* A second take gets nothing: the state was handed over. */
  CHECK(hl_run_state_json() == NULL);
  /* The list an approval prompt shows. */
  cJSON *list = hl_run_state_pending(state);
  REQUIRE(list);
  CHECK_INT(cJSON_GetArraySize(list), 2);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "path"), "c2");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "name"), "delete_file");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 1), "branch"), "assistant");
  cJSON_Delete(list);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

static void mixed_turn_resumed_runs_only_the_decided_calls(void) {
  fx_log_reset();
  fx_guard_seen_approved = 0;
  hl_session *s = hl_session_new("app", "u", "s2");
  hl_agent *agent;
  hl_provider *model;
  cJSON *state = interrupted_assistant(&agent, &model, s);
  REQUIRE(state);
  hl_scripted_push_text(model, "all done");
  cJSON *d = cJSON_CreateObject();
  CHECK_INT(hl_decision_approve(d, "c2"), HL_OK);
  CHECK_INT(hl_decision_approve(d, "c3"), HL_OK);
  char *answer = NULL;
  hl_status st = hl_agent_resume(agent, s, state, d, &answer);
  CHECK_INT(st, HL_OK);
  CHECK_STR(answer, "all done");
  hl_free(answer);
  /* get_weather ran once in all (before the interrupt), the others once. */
  CHECK_INT(fx_ran("get_weather"), 1);
  CHECK_INT(fx_ran("delete_file"), 1);
  CHECK_INT(fx_ran("send_email"), 1);
  /* The guard saw the approved call and its INTERRUPT counted as continue. */
  CHECK_INT(fx_guard_seen_approved, 1);
  /* What the model saw: the three results, in its order. */
  REQUIRE(hl_scripted_request_count(model) == 2);
  hl_request *req = hl_scripted_request(model, 1);
  cJSON *res = fx_results_of(req);
  CHECK_STR(hl_json_get_string(hl_json_get(res, "c1"), "content"), "sunny in Oslo");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "c2"), "content"), "deleted /tmp/x");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "c3"), "content"), "sent to bob");
  const hl_message *last = req->messages.items[req->messages.count - 1];
  CHECK_STR(last->parts[0].id, "c1");
  CHECK_STR(last->parts[2].id, "c3");
  cJSON_Delete(res);
  hl_request_free(req);
  /* The session holds the whole conversation now. */
  CHECK_INT(hl_session_messages(s)->count, 4);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

static void reject_and_edit_are_what_the_model_sees(void) {
  fx_log_reset();
  hl_session *s = hl_session_new("app", "u", "s3");
  hl_agent *agent;
  hl_provider *model;
  cJSON *state = interrupted_assistant(&agent, &model, s);
  REQUIRE(state);
  hl_scripted_push_text(model, "ok");
  cJSON *d = cJSON_CreateObject();
  cJSON *edited = cJSON_Parse("{\"path\":\"/tmp/y\"}");
  CHECK_INT(hl_decision_edit(d, "c2", edited), HL_OK);
  CHECK_INT(hl_decision_reject(d, "c3", "no emails today"), HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(agent, s, state, d, &answer), HL_OK);
  hl_free(answer);
  CHECK_INT(fx_ran("delete_file {\"path\":\"/tmp/y\"}"), 1);
  CHECK_INT(fx_ran("send_email"), 0);
  hl_request *req = hl_scripted_request(model, 1);
  cJSON *res = fx_results_of(req);
  CHECK_STR(hl_json_get_string(hl_json_get(res, "c2"), "content"), "deleted /tmp/y");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "c3"), "content"), "no emails today");
  CHECK(cJSON_IsTrue(hl_json_get(hl_json_get(res, "c3"), "is_error")));
  cJSON_Delete(res);
  hl_request_free(req);
  cJSON_Delete(edited);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

/* A hook must declare DECIDE to interrupt, and only before_tool may. */
static hl_hook_action interrupt_anyway(hl_context *ctx, const hl_before_tool_args *args,
                                       hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)args, (void)out, (void)ud;
  return HL_HOOK_INTERRUPT;
}
static hl_hook_action interrupt_after(hl_context *ctx, const hl_after_tool_args *args,
                                      hl_after_tool_out *out, void *ud) {
  (void)ctx, (void)args, (void)out, (void)ud;
  return HL_HOOK_INTERRUPT;
}

static void H20_interrupt_needs_decide_and_before_tool(void) {
  for (int k = 0; k < 2; k++) {
    hl_provider *model = hl_scripted_new();
    hl_scripted_push_tool_call(model, "c1", "get_weather", "{\"city\":\"Rome\"}");
    hl_agent *a = hl_agent_new("a");
    hl_agent_set_provider(a, model);
    fx_add(a, fx_tool("get_weather", fx_weather, "city"));
    if (k == 0)
      hl_hooks_add_before_tool(hl_agent_hooks(a), "liar", HL_HOOK_OBSERVE, interrupt_anyway, NULL);
    else
      hl_hooks_add_after_tool(hl_agent_hooks(a), "late", HL_HOOK_DECIDE, interrupt_after, NULL);
    char *answer = NULL;
    CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_ABORTED);
    CHECK_CONTAINS(hl_last_error(), k == 0 ? "returned interrupt without declaring HL_HOOK_DECIDE"
                                           : "returned interrupt, which only before_tool hooks may");
    CHECK(hl_run_state_json() == NULL);
    hl_agent_unref(a);
    hl_provider_unref(model);
  }
}

static void subagent_interrupt_bubbles_up_and_resumes_from_the_top(void) {
  fx_log_reset();
  hl_provider *bm = hl_scripted_new(), *hm = hl_scripted_new();
  hl_response *r = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"input\":\"clean up\"}"), *a2 = cJSON_Parse("{\"city\":\"Oslo\"}");
  hl_message_add_tool_call(r->message, "b1", "helper", a1);
  hl_message_add_tool_call(r->message, "b2", "get_weather", a2);
  cJSON_Delete(a1), cJSON_Delete(a2);
  hl_scripted_push(bm, r);
  hl_scripted_push_tool_call(hm, "h1", "delete_file", "{\"path\":\"/tmp/z\"}");
  hl_agent *boss = fx_boss(bm, hm);
  hl_observer *col = hl_observer_collecting();
  hl_agent_add_observer(boss, col);
  hl_session *s = hl_session_new("app", "u", "s4");
  char *answer = NULL;
  REQUIRE(hl_agent_run(boss, s, "tidy and weather", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  CHECK_INT(fx_ran("get_weather"), 1);
  CHECK_INT(fx_ran("delete_file"), 0);
  const cJSON *p = cJSON_GetArrayItem(hl_json_get(state, "pending"), 0);
  CHECK_STR(hl_json_get_string(p, "id"), "b1");
  CHECK_STR(hl_json_get_string(p, "interrupted_by"), "sub_agent");
  const cJSON *child = hl_json_get(p, "state");
  CHECK_STR(hl_json_get_string(child, "agent"), "helper");
  CHECK_STR(hl_json_get_string(child, "branch"), "boss/helper");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(hl_json_get(child, "pending"), 0), "id"), "h1");
  cJSON *list = hl_run_state_pending(state);
  REQUIRE(list);
  CHECK_INT(cJSON_GetArraySize(list), 1);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "path"), "b1/h1");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "agent"), "helper");
  cJSON_Delete(list);
  /* Both runs reported their interrupt, each on its branch. */
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_INTERRUPT), 2);

  hl_scripted_push_text(hm, "cleaned");
  hl_scripted_push_text(bm, "all done");
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "b1/h1");
  CHECK_INT(hl_agent_resume(boss, s, state, d, &answer), HL_OK);
  CHECK_STR(answer, "all done");
  hl_free(answer);
  CHECK_INT(fx_ran("get_weather"), 1);
  CHECK_INT(fx_ran("delete_file"), 1);
  /* The helper's model saw its tool's result, the boss's model both. */
  REQUIRE(hl_scripted_request_count(hm) == 2);
  hl_request *hreq = hl_scripted_request(hm, 1);
  cJSON *hres = fx_results_of(hreq);
  CHECK_STR(hl_json_get_string(hl_json_get(hres, "h1"), "content"), "deleted /tmp/z");
  hl_request *breq = hl_scripted_request(bm, 1);
  cJSON *bres = fx_results_of(breq);
  CHECK_STR(hl_json_get_string(hl_json_get(bres, "b1"), "content"), "cleaned");
  CHECK_STR(hl_json_get_string(hl_json_get(bres, "b2"), "content"), "sunny in Oslo");
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_RESUME), 2);
  cJSON_Delete(hres), cJSON_Delete(bres);
  hl_request_free(hreq), hl_request_free(breq);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_observer_unref(col);
  hl_agent_unref(boss);
  hl_provider_unref(bm), hl_provider_unref(hm);
  hl_session_free(s);
}

static void events_name_the_waiting_calls(void) {
  hl_session *s = hl_session_new("app", "u", "s5");
  hl_provider *model = hl_scripted_new();
  fx_push_three_calls(model);
  hl_agent *agent = fx_assistant(model);
  /* The three calls on worker threads: the interrupt is per call. */
  hl_agent_set_parallel_tools(agent, 3);
  hl_observer *col = hl_observer_collecting();
  hl_agent_add_observer(agent, col);
  char *answer = NULL;
  REQUIRE(hl_agent_run(agent, s, "go", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  cJSON *events = hl_observer_collected(col);
  const cJSON *ev, *interrupt = NULL, *end = NULL;
  cJSON_ArrayForEach(ev, events) {
    const char *type = hl_json_get_string(ev, "type");
    if (!strcmp(type, "interrupt")) interrupt = ev;
    if (!strcmp(type, "agent_end")) end = ev;
  }
  REQUIRE(interrupt && end);
  const cJSON *ids = hl_json_get(hl_json_get(interrupt, "data"), "calls");
  CHECK_INT(cJSON_GetArraySize(ids), 2);
  CHECK_STR(cJSON_GetArrayItem(ids, 0)->valuestring, "c2");
  CHECK_STR(cJSON_GetArrayItem(ids, 1)->valuestring, "c3");
  CHECK_STR(hl_json_get_string(hl_json_get(end, "error"), "status"), hl_status_name(HL_INTERRUPTED));
  cJSON_Delete(events);
  hl_observer_collected_clear(col);
  hl_scripted_push_text(model, "fine");
  cJSON *d = cJSON_CreateObject();
  hl_decision_reject(d, "c2", NULL);
  hl_decision_reject(d, "c3", NULL);
  CHECK_INT(hl_agent_resume(agent, s, state, d, &answer), HL_OK);
  hl_free(answer);
  events = hl_observer_collected(col);
  const cJSON *resume = NULL;
  cJSON_ArrayForEach(ev, events) if (!strcmp(hl_json_get_string(ev, "type"), "resume")) resume = ev;
  REQUIRE(resume);
  CHECK_STR(hl_json_get_string(hl_json_get(hl_json_get(resume, "data"), "c2"), "action"), "reject");
  cJSON_Delete(events);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_observer_unref(col);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

/* Each bad state or decision: the status, a message naming the place,
 * and nothing applied (the session unchanged, no tool ran, the model not
 * called). */
static void expect_refused(hl_agent *agent, hl_session *s, hl_provider *model, const cJSON *state,
                           const char *decisions_json, hl_status want, const char *msg) {
  cJSON *d = decisions_json ? cJSON_Parse(decisions_json) : cJSON_CreateString("x");
  size_t before = hl_session_messages(s)->count, calls = hl_scripted_request_count(model);
  fx_log_reset();
  char *answer = (char *)"unset";
  hl_status st = hl_agent_resume(agent, s, state, d, &answer);
  CHECK_INT(st, want);
  if (st != want) fprintf(stderr, "  (%s)\n", hl_last_error());
  CHECK_CONTAINS(hl_last_error(), msg);
  CHECK(answer == NULL);
  CHECK_INT(hl_session_messages(s)->count, before);
  CHECK_INT(hl_scripted_request_count(model), calls);
  CHECK_STR(fx_log, "");
  cJSON_Delete(d);
}

static void bad_states_and_decisions_are_refused_and_change_nothing(void) {
  hl_session *s = hl_session_new("app", "u", "s6");
  hl_agent *agent;
  hl_provider *model;
  cJSON *state = interrupted_assistant(&agent, &model, s);
  REQUIRE(state);
  const char *good = "{\"c2\":{\"action\":\"approve\"},\"c3\":{\"action\":\"approve\"}}";

  expect_refused(agent, s, model, state, "{\"c2\":{\"action\":\"approve\"}}", HL_ERR_INVALID,
                 "no decision for pending call \"c3\"");
  expect_refused(agent, s, model, state,
                 "{\"c2\":{\"action\":\"approve\"},\"c3\":{\"action\":\"approve\"},\"c9\":{\"action\":\"approve\"}}",
                 HL_ERR_INVALID, "decisions[\"c9\"]: no pending call has this path");
  expect_refused(agent, s, model, state,
                 "{\"c2\":{\"action\":\"maybe\"},\"c3\":{\"action\":\"approve\"}}", HL_ERR_INVALID,
                 "decisions[\"c2\"].action: unknown action \"maybe\"");
  expect_refused(agent, s, model, state,
                 "{\"c2\":{\"action\":\"edit\",\"arguments\":{\"path\":5}},\"c3\":{\"action\":\"approve\"}}",
                 HL_ERR_INVALID_ARGUMENTS, "decisions[\"c2\"].arguments: $.path");
  expect_refused(agent, s, model, state, NULL, HL_ERR_INVALID, "decisions: expected an object");

  cJSON *bad = hl_json_clone(state);
  cJSON_ReplaceItemInObject(bad, "version", cJSON_CreateNumber(2));
  expect_refused(agent, s, model, bad, good, HL_ERR_INVALID, "$.version: state version 2");
  cJSON_Delete(bad);
  bad = hl_json_clone(state);
  cJSON_DeleteItemFromObject(bad, "messages");
  expect_refused(agent, s, model, bad, good, HL_ERR_JSON, "$.messages: expected array");
  cJSON_Delete(bad);
  bad = hl_json_clone(state);
  cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "pending"), 0), "id",
                            cJSON_CreateString("zz"));
  expect_refused(agent, s, model, bad, good, HL_ERR_INVALID,
                 "$.pending[0].id: \"zz\" is not a call of the last message");
  cJSON_Delete(bad);
  bad = hl_json_clone(state);
  cJSON_ReplaceItemInObject(bad, "agent", cJSON_CreateString("someone_else"));
  expect_refused(agent, s, model, bad, good, HL_ERR_INVALID,
                 "$.agent: the state is of agent \"someone_else\", not \"assistant\"");
  cJSON_Delete(bad);
  cJSON *text = cJSON_CreateString("not a state");
  expect_refused(agent, s, model, text, good, HL_ERR_JSON, "$: expected a run state object");
  cJSON_Delete(text);
  CHECK(hl_run_state_pending(text = cJSON_CreateArray()) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_JSON);
  cJSON_Delete(text);

  /* A session that moved on since the interrupt. */
  hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "something else"));
  expect_refused(agent, s, model, state, good, HL_ERR_STATE, "the session has 1 messages");

  /* The good decisions still work on the session as it was. */
  hl_session_reset(s);
  hl_scripted_push_text(model, "done");
  cJSON *d = cJSON_Parse(good);
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(agent, s, state, d, &answer), HL_OK);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

static void bad_child_state_is_named_by_its_path(void) {
  hl_provider *bm = hl_scripted_new(), *hm = hl_scripted_new();
  hl_scripted_push_tool_call(bm, "b1", "helper", "{\"input\":\"x\"}");
  hl_scripted_push_tool_call(hm, "h1", "delete_file", "{\"path\":\"/a\"}");
  hl_agent *boss = fx_boss(bm, hm);
  hl_session *s = hl_session_new("app", "u", "s7");
  char *answer = NULL;
  REQUIRE(hl_agent_run(boss, s, "go", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  cJSON *bad = hl_json_clone(state);
  cJSON *child = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(bad, "pending"), 0), "state");
  cJSON_ReplaceItemInObject(child, "pending", cJSON_CreateArray());
  expect_refused(boss, s, bm, bad, "{\"b1/h1\":{\"action\":\"approve\"}}", HL_ERR_INVALID,
                 "$.pending[0].state.pending: no call waits");
  cJSON_Delete(bad);
  /* A decision keyed by the bare child id is not the call's path. */
  expect_refused(boss, s, bm, state, "{\"h1\":{\"action\":\"approve\"}}", HL_ERR_INVALID,
                 "no decision for pending call \"b1/h1\"");
  cJSON_Delete(state);
  hl_agent_unref(boss);
  hl_provider_unref(bm), hl_provider_unref(hm);
  hl_session_free(s);
}

/* A resumed child that stops again: the parent stops again with a new
 * state (its finished calls still kept), and a second resume finishes. */
static void a_resumed_subagent_can_be_interrupted_again(void) {
  fx_log_reset();
  hl_provider *bm = hl_scripted_new(), *hm = hl_scripted_new();
  hl_response *r = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"input\":\"clean up\"}"), *a2 = cJSON_Parse("{\"city\":\"Rome\"}");
  hl_message_add_tool_call(r->message, "b1", "helper", a1);
  hl_message_add_tool_call(r->message, "b2", "get_weather", a2);
  cJSON_Delete(a1), cJSON_Delete(a2);
  hl_scripted_push(bm, r);
  hl_scripted_push_tool_call(hm, "h1", "delete_file", "{\"path\":\"/a\"}");
  hl_scripted_push_tool_call(hm, "h2", "delete_file", "{\"path\":\"/b\"}");
  hl_scripted_push_text(hm, "kept /b");
  hl_scripted_push_text(bm, "finished");
  hl_agent *boss = fx_boss(bm, hm);
  hl_session *s = hl_session_new("app", "u", "s8");
  char *answer = NULL;
  REQUIRE(hl_agent_run(boss, s, "go", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "b1/h1");
  CHECK_INT(hl_agent_resume(boss, s, state, d, &answer), HL_INTERRUPTED);
  CHECK_INT(hl_last_status(), HL_OK);
  cJSON *again = hl_run_state_json();
  REQUIRE(again);
  cJSON *list = hl_run_state_pending(again);
  REQUIRE(list);
  CHECK_INT(cJSON_GetArraySize(list), 1);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "path"), "b1/h2");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(hl_json_get(again, "results"), 0), "content"),
            "sunny in Rome");
  CHECK_INT(fx_ran("delete_file"), 1);
  cJSON_Delete(list);
  cJSON_Delete(d);
  d = cJSON_CreateObject();
  hl_decision_reject(d, "b1/h2", "keep /b");
  CHECK_INT(hl_agent_resume(boss, s, again, d, &answer), HL_OK);
  CHECK_STR(answer, "finished");
  hl_free(answer);
  CHECK_INT(fx_ran("delete_file"), 1);
  CHECK_INT(fx_ran("get_weather"), 1);
  /* The helper's last request: its first result and the rejection. */
  REQUIRE(hl_scripted_request_count(hm) == 3);
  hl_request *hreq = hl_scripted_request(hm, 2);
  cJSON *hres = fx_results_of(hreq);
  CHECK_STR(hl_json_get_string(hl_json_get(hres, "h2"), "content"), "keep /b");
  CHECK_INT(hreq->messages.count, 5); /* user, call h1, result, call h2, result */
  cJSON *bres = NULL;
  hl_request *breq = hl_scripted_request(bm, 1);
  bres = fx_results_of(breq);
  CHECK_STR(hl_json_get_string(hl_json_get(bres, "b1"), "content"), "kept /b");
  CHECK_STR(hl_json_get_string(hl_json_get(bres, "b2"), "content"), "sunny in Rome");
  cJSON_Delete(hres), cJSON_Delete(bres);
  hl_request_free(hreq), hl_request_free(breq);
  cJSON_Delete(d);
  cJSON_Delete(state);
  cJSON_Delete(again);
  hl_agent_unref(boss);
  hl_provider_unref(bm), hl_provider_unref(hm);
  hl_session_free(s);
}

/* A custom agent of the application's own: its body runs a child with
 * hl_context_run_agent() and wraps the answer. The child's interrupt
 * stops the custom agent's run (paths "assistant/c2", "assistant/c3");
 * on resume the body runs again and the child continues from its state. */
static int wrapper_bodies;

static hl_status wrapper_body(hl_context *ctx, const char *input, char **answer, void *ud) {
  hl_agent *child = ud;
  wrapper_bodies++;
  char *inner = NULL;
  hl_status st = hl_context_run_agent(ctx, child, input, HL_RUN_SHARED, &inner);
  if (st != HL_OK) return st;
  size_t n = strlen(inner) + 16;
  *answer = malloc(n);
  snprintf(*answer, n, "wrapped: %s", inner);
  hl_free(inner);
  return HL_OK;
}

static void interrupt_under_a_custom_agent_resumes(void) {
  fx_log_reset();
  wrapper_bodies = 0;
  hl_provider *model = hl_scripted_new();
  fx_push_three_calls(model);
  hl_scripted_push_text(model, "all done");
  hl_agent *assistant = fx_assistant(model);
  hl_agent *wrapper = hl_agent_new_custom("wrapper", wrapper_body, assistant);
  hl_agent_add_sub_agent(wrapper, assistant);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(wrapper, NULL, "go", &answer), HL_INTERRUPTED);
  CHECK(answer == NULL);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  cJSON *list = hl_run_state_pending(state);
  CHECK_INT(cJSON_GetArraySize(list), 2);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "path"), "assistant/c2");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 1), "path"), "assistant/c3");
  cJSON_Delete(list);
  CHECK_INT(fx_ran("get_weather"), 1);
  CHECK_INT(fx_ran("delete_file"), 0);
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "assistant/c2");
  hl_decision_reject(d, "assistant/c3", "no mail");
  CHECK_INT(hl_agent_resume(wrapper, NULL, state, d, &answer), HL_OK);
  CHECK_STR(answer ? answer : "", "wrapped: all done");
  CHECK_INT(wrapper_bodies, 2);
  CHECK_INT(fx_ran("get_weather"), 1); /* ran before the interrupt: not again */
  CHECK_INT(fx_ran("delete_file"), 1);
  CHECK_INT(fx_ran("send_email"), 0);
  CHECK_INT((int)hl_scripted_request_count(model), 2);
  hl_request *req = hl_scripted_request(model, 1);
  cJSON *res = fx_results_of(req);
  CHECK_STR(hl_json_get_string(hl_json_get(res, "c3"), "content"), "no mail");
  cJSON_Delete(res);
  hl_request_free(req);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_agent_unref(wrapper);
  hl_agent_unref(assistant);
  hl_provider_unref(model);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(H20_interrupt_hook_and_approval_flag_stop_after_the_turn);
  RUN(H20_interrupt_needs_decide_and_before_tool);
  RUN(mixed_turn_resumed_runs_only_the_decided_calls);
  RUN(reject_and_edit_are_what_the_model_sees);
  RUN(subagent_interrupt_bubbles_up_and_resumes_from_the_top);
  RUN(events_name_the_waiting_calls);
  RUN(bad_states_and_decisions_are_refused_and_change_nothing);
  RUN(bad_child_state_is_named_by_its_path);
  RUN(a_resumed_subagent_can_be_interrupted_again);
  RUN(interrupt_under_a_custom_agent_resumes);
  return CHECK_EXIT();
}
