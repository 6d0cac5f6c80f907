/*
 * tests/interrupt/test_workflow.c - interrupts under workflow agents
 * (agents/: sequential, loop, parallel; issue 12): a child that stops for
 * approval stops the workflow's run with HL_INTERRUPTED; resume runs the
 * workflow's body again, where the children that had ended give their
 * recorded answers without a model call, and the interrupted child
 * resumes from its own state.
 *
 *   sequential_approve / _reject / _edit   the pipeline (fixture.h): the
 *        publisher's delete_file waits at path "publisher/p1"; what the
 *        publisher's model saw after each decision; the writer's model is
 *        called once in all
 *   loop_second_iteration   a loop whose child's call is interrupted on
 *        the second iteration only (path "checker#2/k1"): the first
 *        iteration is not run again
 *   loop_escalate_kept      a loop's child escalates (hl_workflow_escalate)
 *        and, in the same turn, waits for approval: on resume the loop
 *        ends after that child (the next child and iteration do not run),
 *        whether resumed in this process or from the session and state as
 *        JSON text (as another process would); a fresh run of the same
 *        loop on that session is not ended by what the interrupted one left
 *   parallel_every_pending  three branches: two wait (one decision each,
 *        both in one state), the third finishes before the run stops and
 *        is not run again on resume
 *   parallel_in_sequential  a parallel agent inside a sequential one:
 *        path "fan/a/a1", replays at both levels
 *   async_resume            the pipeline through hl_run_start() /
 *        hl_run_resume(), with the state on the handle
 *   workflow_in_agent_tool  the pipeline as a tool of an LLM agent: the
 *        path "t1/publisher/p1" through both kinds of levels
 *   bad_states              a custom state of another version, a custom
 *        state given to an LLM agent and the reverse: clear errors
 *
 *   test_workflow [NAME]
 */
#include "check.h"
#include "fixture.h"

/* The content of the tool result for `id` in the last request of `model`. */
static char *last_result(hl_provider *model, const char *id, bool *is_error) {
  size_t n = hl_scripted_request_count(model);
  cJSON *res = fx_results_at(model, n ? n - 1 : 0);
  const char *c = hl_json_get_string(hl_json_get(res, id), "content");
  char *out = strdup(c ? c : "(none)");
  if (is_error) *is_error = hl_json_get_bool(hl_json_get(res, id), "is_error", false);
  cJSON_Delete(res);
  return out;
}

/* Run the pipeline until it waits; resume it with `decision` for
 * "publisher/p1"; check the answer and what the publisher's model saw. */
static void pipeline_resumed(const char *decision_json, const char *want_result, bool want_error,
                             const char *want_ran) {
  fx_log_reset();
  hl_provider *wm = hl_scripted_new(), *pm = hl_scripted_new();
  hl_agent *seq = fx_pipeline(wm, pm);
  REQUIRE(seq);
  hl_session *s = hl_session_new("app", "user", "seq");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(seq, s, "write it", &answer), HL_INTERRUPTED);
  CHECK(answer == NULL);
  CHECK_STR(hl_last_error(), "");
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  char paths[256];
  fx_pending_paths(state, paths, sizeof paths);
  CHECK_STR(paths, "publisher/p1");
  /* The listing names the child that waits. */
  cJSON *list = hl_run_state_pending(state);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "agent"), "publisher");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "branch"), "pipeline/publisher");
  cJSON_Delete(list);
  CHECK_INT(fx_ran("delete_file"), 0);
  CHECK_INT((int)hl_scripted_request_count(wm), 1);
  CHECK_INT((int)hl_scripted_request_count(pm), 1);
  /* The session is as before the run; the run's messages are in the state. */
  CHECK_INT((int)hl_session_messages(s)->count, 0);

  /* Through text, as to a file. */
  char *text = cJSON_PrintUnformatted(state);
  cJSON_Delete(state);
  state = cJSON_Parse(text);
  free(text);
  cJSON *d = cJSON_Parse(decision_json);
  REQUIRE(d);
  CHECK_INT(hl_agent_resume(seq, s, state, d, &answer), HL_OK);
  CHECK_STR(hl_last_error(), "");
  char want_answer[256];
  snprintf(want_answer, sizeof want_answer, "published: %s", want_result);
  CHECK_STR(answer ? answer : "", want_answer);
  /* The writer ended before the interrupt: its answer was replayed, its
   * model not called again. The publisher's model was called once more. */
  CHECK_INT((int)hl_scripted_request_count(wm), 1);
  CHECK_INT((int)hl_scripted_request_count(pm), 2);
  bool err = false;
  char *seen = last_result(pm, "p1", &err);
  CHECK_STR(seen, want_result);
  CHECK(err == want_error);
  free(seen);
  CHECK_STR(fx_log, want_ran);
  /* The shared session has the whole conversation: writer's input and
   * answer, the publisher's input, call, result and answer. */
  CHECK_INT((int)hl_session_messages(s)->count, 6);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(seq);
  hl_provider_unref(wm);
  hl_provider_unref(pm);
}

static void sequential_approve(void) {
  pipeline_resumed("{\"publisher/p1\": {\"action\": \"approve\"}}", "deleted /tmp/old", false,
                   "delete_file {\"path\":\"/tmp/old\"}\n");
}

static void sequential_reject(void) {
  pipeline_resumed("{\"publisher/p1\": {\"action\": \"reject\", \"message\": \"keep it\"}}",
                   "keep it", true, "");
}

static void sequential_edit(void) {
  pipeline_resumed("{\"publisher/p1\": {\"action\": \"edit\", \"arguments\": {\"path\": \"/tmp/older\"}}}",
                   "deleted /tmp/older", false, "delete_file {\"path\":\"/tmp/older\"}\n");
}

/* ---- loop ---- */

static int second_time_seen;

/* Interrupts publish the second time it is asked for (not yet approved). */
static hl_hook_action second_time(hl_context *ctx, const hl_before_tool_args *args,
                                  hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)out, (void)ud;
  if (strcmp(args->call->name, "delete_file") != 0 || args->approved) return HL_HOOK_CONTINUE;
  return ++second_time_seen == 2 ? HL_HOOK_INTERRUPT : HL_HOOK_CONTINUE;
}

static void loop_second_iteration(void) {
  fx_log_reset();
  second_time_seen = 0;
  hl_provider *cm = hl_scripted_new();
  hl_agent *checker = fx_child("checker", cm,
                               "{\"rules\": [{\"match\": \".\", \"steps\": ["
                               "{\"tool_calls\": [{\"id\": \"k1\", \"name\": \"get_weather\", "
                               "\"arguments\": {\"city\": \"Rome\"}}]},"
                               "{\"tool_calls\": [{\"id\": \"k2\", \"name\": \"delete_file\", "
                               "\"arguments\": {\"path\": \"/tmp/k\"}}]},"
                               "{\"text\": \"checked: {{result}}\"}]}]}");
  /* delete_file asks the hook, not the approval flag, here. */
  hl_tool_set_needs_approval(hl_tools_find(hl_agent_tools(checker), "delete_file"), false);
  hl_hooks_add_before_tool(hl_agent_hooks(checker), "second_time", HL_HOOK_DECIDE, second_time, NULL);
  hl_agent *lp = hl_loop_agent_new("review", 2, HL_WORKFLOW_INPUT_SAME);
  REQUIRE(lp && checker);
  hl_agent_add_sub_agent(lp, checker);
  hl_agent_unref(checker);
  hl_session *s = hl_session_new("app", "user", "loop");
  char *answer = NULL, paths[256];
  cJSON *state = fx_run_to_interrupt(lp, s, "check", paths, sizeof paths);
  REQUIRE(state);
  CHECK_STR(paths, "checker#2/k2");
  /* Iteration 1: three model calls; iteration 2: two before the stop. */
  CHECK_INT((int)hl_scripted_request_count(cm), 5);
  CHECK_INT(fx_ran("get_weather"), 2);
  CHECK_INT(fx_ran("delete_file"), 1);

  cJSON *d = cJSON_CreateObject(), *args = cJSON_Parse("{\"path\": \"/tmp/k2\"}");
  CHECK_INT(hl_decision_edit(d, "checker#2/k2", args), HL_OK);
  cJSON_Delete(args);
  CHECK_INT(hl_agent_resume(lp, s, state, d, &answer), HL_OK);
  CHECK_STR(answer ? answer : "", "checked: deleted /tmp/k2");
  /* Only the interrupted iteration went on: one more model call, no
   * tool of iteration 1 again. */
  CHECK_INT((int)hl_scripted_request_count(cm), 6);
  CHECK_INT(fx_ran("get_weather"), 2);
  CHECK_INT(fx_ran("delete_file"), 2);
  CHECK_INT(second_time_seen, 2);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(lp);
  hl_provider_unref(cm);
}

/* ---- loop: an escalation made before the interrupt ---- */

static hl_status escalate_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  fx_log_call("escalate", args);
  *result = cJSON_CreateString("escalated");
  return hl_workflow_escalate(ctx);
}

/* The loop "review" of "checker" (escalates and deletes /tmp/k, which
 * needs approval, in one turn; then answers) and "other" (answers "other
 * ran"), at most 3 iterations. */
static hl_agent *escalating_loop(hl_provider *cm, hl_provider *om) {
  hl_agent *checker = fx_child("checker", cm,
                               "{\"rules\": [{\"match\": \".\", \"steps\": ["
                               "{\"tool_calls\": [{\"id\": \"e1\", \"name\": \"escalate\", "
                               "\"arguments\": {}}, {\"id\": \"k1\", \"name\": \"delete_file\", "
                               "\"arguments\": {\"path\": \"/tmp/k\"}}]},"
                               "{\"text\": \"checked: {{result}}\"}]}]}");
  hl_agent *other = fx_child("other", om, "{\"fallback\": {\"text\": \"other ran\"}}");
  hl_agent *lp = hl_loop_agent_new("review", 3, HL_WORKFLOW_INPUT_SAME);
  if (!checker || !other || !lp) return NULL;
  fx_add(checker, hl_tool_new("escalate", "end the loop", escalate_tool, NULL));
  hl_agent_add_sub_agent(lp, checker);
  hl_agent_add_sub_agent(lp, other);
  hl_agent_unref(checker);
  hl_agent_unref(other);
  return lp;
}

static void loop_escalate_resumed(bool through_text) {
  fx_log_reset();
  hl_provider *cm = hl_scripted_new(), *om = hl_scripted_new();
  hl_agent *lp = escalating_loop(cm, om);
  REQUIRE(lp);
  hl_session *s = hl_session_new("app", "user", "loop-esc");
  char *answer = NULL, paths[256];
  cJSON *state = fx_run_to_interrupt(lp, s, "check", paths, sizeof paths);
  REQUIRE(state);
  CHECK_STR(paths, "checker/k1");
  CHECK_INT(fx_ran("escalate"), 1);
  CHECK_INT(fx_ran("delete_file"), 0);
  CHECK_INT((int)hl_scripted_request_count(om), 0);
  if (through_text) {
    /* As another process would: the session and the state as JSON text. */
    cJSON *sj = hl_session_to_json(s);
    char *stext = cJSON_PrintUnformatted(sj), *ttext = cJSON_PrintUnformatted(state);
    cJSON_Delete(sj);
    cJSON_Delete(state);
    hl_session_free(s);
    sj = cJSON_Parse(stext);
    REQUIRE(sj);
    s = NULL;
    CHECK_INT(hl_session_from_json(sj, &s), HL_OK);
    REQUIRE(s);
    state = cJSON_Parse(ttext);
    REQUIRE(state);
    cJSON_Delete(sj);
    free(stext);
    free(ttext);
  }
  cJSON *d = cJSON_CreateObject();
  CHECK_INT(hl_decision_approve(d, "checker/k1"), HL_OK);
  CHECK_INT(hl_agent_resume(lp, s, state, d, &answer), HL_OK);
  /* The loop ended right after checker: "other" never ran, no second
   * iteration (before the fix the escalation was cleared on resume and
   * the answer was "other ran" of the third iteration). */
  CHECK_STR(answer ? answer : "", "checked: deleted /tmp/k");
  CHECK_INT((int)hl_scripted_request_count(om), 0);
  CHECK_INT((int)hl_scripted_request_count(cm), 2);
  CHECK_INT(fx_ran("escalate"), 1);
  CHECK_INT(fx_ran("delete_file"), 1);
  /* The flag is consumed: nothing of it is left in the session. */
  cJSON *flag = hl_session_state_get(s, HL_WORKFLOW_ESCALATE_KEY);
  CHECK(flag == NULL);
  cJSON_Delete(flag);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(lp);
  hl_provider_unref(cm);
  hl_provider_unref(om);
}

static void loop_escalate_kept(void) {
  loop_escalate_resumed(false);
  loop_escalate_resumed(true);

  /* An interrupted run that is never resumed: a fresh run of a loop of
   * the same name on that session is not ended by what it left (its
   * first child, at the position of the interrupted one, does not
   * escalate: the loop goes on to "other"). */
  fx_log_reset();
  hl_provider *cm = hl_scripted_new(), *om = hl_scripted_new(), *pm = hl_scripted_new();
  hl_agent *lp = escalating_loop(cm, om);
  REQUIRE(lp);
  hl_session *s = hl_session_new("app", "user", "loop-esc-fresh");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(lp, s, "check", &answer), HL_INTERRUPTED);
  cJSON_Delete(hl_run_state_json());
  hl_agent *plain = fx_child("plain", pm, "{\"fallback\": {\"text\": \"plain ran\"}}");
  hl_agent *other = fx_child("other", om, "{\"fallback\": {\"text\": \"other ran\"}}");
  hl_agent *fresh = hl_loop_agent_new("review", 1, HL_WORKFLOW_INPUT_SAME);
  REQUIRE(plain && other && fresh);
  hl_agent_add_sub_agent(fresh, plain);
  hl_agent_add_sub_agent(fresh, other);
  CHECK_INT(hl_agent_run(fresh, s, "check", &answer), HL_OK);
  CHECK_STR(answer ? answer : "", "other ran");
  CHECK_INT((int)hl_scripted_request_count(om), 1);
  hl_free(answer);
  hl_agent_unref(plain);
  hl_agent_unref(other);
  hl_agent_unref(fresh);
  hl_session_free(s);
  hl_agent_unref(lp);
  hl_provider_unref(cm);
  hl_provider_unref(om);
  hl_provider_unref(pm);
}

/* ---- parallel ---- */

static const char *branch_rules(char *buf, size_t size, const char *id, const char *path) {
  snprintf(buf, size,
           "{\"rules\": [{\"match\": \".\", \"steps\": ["
           "{\"tool_calls\": [{\"id\": \"%s\", \"name\": \"delete_file\", \"arguments\": {\"path\": \"%s\"}}]},"
           "{\"text\": \"%s: {{result}}\"}]}]}", id, path, id);
  return buf;
}

static void parallel_every_pending(void) {
  fx_log_reset();
  hl_provider *am = hl_scripted_new(), *bm = hl_scripted_new(), *cm = hl_scripted_new();
  char r1[512], r2[512];
  hl_agent *a = fx_child("a", am, branch_rules(r1, sizeof r1, "a1", "/tmp/a"));
  hl_agent *b = fx_child("b", bm, branch_rules(r2, sizeof r2, "b1", "/tmp/b"));
  hl_agent *c = fx_child("c", cm, "{\"rules\": [{\"match\": \".\", \"steps\": [{\"text\": \"c done\"}]}]}");
  hl_agent *par = hl_parallel_agent_new("fan", HL_RUN_ISOLATED);
  REQUIRE(par && a && b && c);
  hl_agent_add_sub_agent(par, a);
  hl_agent_add_sub_agent(par, b);
  hl_agent_add_sub_agent(par, c);
  hl_agent_unref(a), hl_agent_unref(b), hl_agent_unref(c);
  hl_observer *col = hl_observer_collecting();
  hl_agent_add_observer(par, col);
  hl_session *s = hl_session_new("app", "user", "par");
  char *answer = NULL, paths[256];
  cJSON *state = fx_run_to_interrupt(par, s, "go", paths, sizeof paths);
  REQUIRE(state);
  /* Both waiting branches in one state, in child order. */
  CHECK(!strcmp(paths, "a/a1,b/b1") || !strcmp(paths, "b/b1,a/a1"));
  CHECK_INT((int)hl_scripted_request_count(cm), 1);
  CHECK_INT(fx_ran("delete_file"), 0);

  /* A decision missing for one of them: refused before anything runs. */
  cJSON *d = cJSON_Parse("{\"a/a1\": {\"action\": \"approve\"}}");
  CHECK_INT(hl_agent_resume(par, s, state, d, &answer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "b/b1");
  cJSON_Delete(d);

  d = cJSON_Parse("{\"a/a1\": {\"action\": \"approve\"}, "
                  "\"b/b1\": {\"action\": \"reject\", \"message\": \"not b\"}}");
  CHECK_INT(hl_agent_resume(par, s, state, d, &answer), HL_OK);
  cJSON *out = cJSON_Parse(answer ? answer : "");
  const cJSON *results = hl_json_get(out, "results");
  CHECK_STR(hl_json_get_string(results, "a"), "a1: deleted /tmp/a");
  CHECK_STR(hl_json_get_string(results, "b"), "b1: not b");
  /* c finished before the stop: its answer recorded, its model not called again. */
  CHECK_STR(hl_json_get_string(results, "c"), "c done");
  CHECK_INT((int)hl_scripted_request_count(cm), 1);
  CHECK_INT((int)hl_scripted_request_count(am), 2);
  CHECK_INT((int)hl_scripted_request_count(bm), 2);
  CHECK_STR(fx_log, "delete_file {\"path\":\"/tmp/a\"}\n");
  /* No branch was reported failed for waiting. */
  cJSON *evs = hl_observer_collected(col);
  char *evtext = cJSON_PrintUnformatted(evs);
  CHECK(evtext && !strstr(evtext, "workflow_child_failed"));
  free(evtext);
  cJSON_Delete(evs);
  cJSON_Delete(out);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(par);
  hl_observer_unref(col);
  hl_provider_unref(am), hl_provider_unref(bm), hl_provider_unref(cm);
}

/* A parallel agent inside a sequential one: the path goes through both
 * custom levels ("fan/a/a1"); on resume the writer (outer level) and the
 * branch c (inner level) are replayed, only branch a goes on. */
static void parallel_in_sequential(void) {
  fx_log_reset();
  hl_provider *wm = hl_scripted_new(), *am = hl_scripted_new(), *cm = hl_scripted_new();
  char r1[512];
  hl_agent *w = fx_child("writer", wm, FX_WRITER_RULES);
  hl_agent *a = fx_child("a", am, branch_rules(r1, sizeof r1, "a1", "/tmp/a"));
  hl_agent *c = fx_child("c", cm, "{\"rules\": [{\"match\": \".\", \"steps\": [{\"text\": \"c done\"}]}]}");
  hl_agent *fan = hl_parallel_agent_new("fan", HL_RUN_FORK);
  hl_agent *outer = hl_sequential_agent_new("outer", HL_WORKFLOW_INPUT_SAME);
  REQUIRE(w && a && c && fan && outer);
  hl_agent_add_sub_agent(fan, a);
  hl_agent_add_sub_agent(fan, c);
  hl_agent_add_sub_agent(outer, w);
  hl_agent_add_sub_agent(outer, fan);
  hl_agent_unref(w), hl_agent_unref(a), hl_agent_unref(c), hl_agent_unref(fan);
  hl_session *s = hl_session_new("app", "user", "nest");
  char *answer = NULL, paths[256];
  cJSON *state = fx_run_to_interrupt(outer, s, "go", paths, sizeof paths);
  REQUIRE(state);
  CHECK_STR(paths, "fan/a/a1");
  cJSON *d = cJSON_Parse("{\"fan/a/a1\": {\"action\": \"approve\"}}");
  CHECK_INT(hl_agent_resume(outer, s, state, d, &answer), HL_OK);
  cJSON *out = cJSON_Parse(answer ? answer : "");
  const cJSON *results = hl_json_get(out, "results");
  CHECK_STR(hl_json_get_string(results, "a"), "a1: deleted /tmp/a");
  CHECK_STR(hl_json_get_string(results, "c"), "c done");
  CHECK_INT((int)hl_scripted_request_count(wm), 1);
  CHECK_INT((int)hl_scripted_request_count(cm), 1);
  CHECK_INT((int)hl_scripted_request_count(am), 2);
  /* The forked branch saw the writer's turn in its history, on resume too. */
  hl_request *req = hl_scripted_request(am, 1);
  bool saw_draft = false;
  for (size_t i = 0; req && i < req->messages.count; i++) {
    char *t = hl_message_text(req->messages.items[i]);
    saw_draft = saw_draft || (t && !strcmp(t, "draft"));
    hl_free(t);
  }
  CHECK(saw_draft);
  hl_request_free(req);
  cJSON_Delete(out);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(outer);
  hl_provider_unref(wm), hl_provider_unref(am), hl_provider_unref(cm);
}

/* ---- asynchronous runs ---- */

static void async_resume(void) {
  fx_log_reset();
  hl_provider *wm = hl_scripted_new(), *pm = hl_scripted_new();
  hl_agent *seq = fx_pipeline(wm, pm);
  hl_session *s = hl_session_new("app", "user", "async");
  hl_run *run = NULL;
  REQUIRE(hl_run_start(seq, s, "write it", NULL, &run) == HL_OK);
  CHECK_INT(hl_run_wait(run, 60000), HL_INTERRUPTED);
  cJSON *state = hl_run_state(run);
  REQUIRE(state);
  hl_run_free(run);
  cJSON *d = cJSON_Parse("{\"publisher/p1\": {\"action\": \"approve\"}}");
  REQUIRE(hl_run_resume(seq, s, state, d, NULL, &run) == HL_OK);
  CHECK_INT(hl_run_wait(run, 60000), HL_OK);
  CHECK_STR(hl_run_answer(run) ? hl_run_answer(run) : "", "published: deleted /tmp/old");
  CHECK_INT((int)hl_scripted_request_count(wm), 1);
  CHECK_INT((int)hl_scripted_request_count(pm), 2);
  hl_run_free(run);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(seq);
  hl_provider_unref(wm);
  hl_provider_unref(pm);
}

/* ---- a workflow as a tool of an LLM agent ---- */

static void workflow_in_agent_tool(void) {
  fx_log_reset();
  hl_provider *wm = hl_scripted_new(), *pm = hl_scripted_new(), *top = hl_scripted_new();
  hl_agent *seq = fx_pipeline(wm, pm);
  hl_agent *lead = hl_agent_new("lead");
  hl_agent_set_provider(lead, top);
  fx_add(lead, hl_agent_as_tool(seq, "Writes and publishes.", NULL));
  hl_scripted_push_tool_call(top, "t1", "pipeline", "{\"input\": \"the news\"}");
  hl_scripted_load_json(top, "{\"fallback\": {\"text\": \"lead: {{result}}\"}}");
  hl_session *s = hl_session_new("app", "user", "tool");
  char *answer = NULL, paths[256];
  cJSON *state = fx_run_to_interrupt(lead, s, "do it", paths, sizeof paths);
  REQUIRE(state);
  CHECK_STR(paths, "t1/publisher/p1");
  cJSON *d = cJSON_Parse("{\"t1/publisher/p1\": {\"action\": \"approve\"}}");
  CHECK_INT(hl_agent_resume(lead, s, state, d, &answer), HL_OK);
  CHECK_STR(answer ? answer : "", "lead: published: deleted /tmp/old");
  CHECK_INT((int)hl_scripted_request_count(wm), 1);
  CHECK_INT((int)hl_scripted_request_count(pm), 2);
  CHECK_INT((int)hl_scripted_request_count(top), 2);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(lead);
  hl_agent_unref(seq);
  hl_provider_unref(wm), hl_provider_unref(pm), hl_provider_unref(top);
}

/* ---- states that do not fit ---- */

static void bad_states(void) {
  hl_provider *wm = hl_scripted_new(), *pm = hl_scripted_new();
  hl_agent *seq = fx_pipeline(wm, pm);
  hl_session *s = hl_session_new("app", "user", "bad");
  char *answer = NULL;
  cJSON *state = fx_run_to_interrupt(seq, s, "write it", NULL, 0);
  REQUIRE(state);
  cJSON *d = cJSON_Parse("{\"publisher/p1\": {\"action\": \"approve\"}}");
  /* Another version of the custom part. */
  cJSON *other = cJSON_Duplicate(state, true);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItem(other, "custom"), "version", cJSON_CreateNumber(7));
  CHECK_INT(hl_agent_resume(seq, s, other, d, &answer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.custom.version: custom agent state version 7");
  cJSON_Delete(other);
  /* A recorded child without an outcome. */
  other = cJSON_Duplicate(state, true);
  cJSON_DeleteItemFromObject(
      cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(other, "custom"), "children"), 0), "status");
  CHECK_INT(hl_agent_resume(seq, s, other, d, &answer), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "$.custom.children[0].status");
  cJSON_Delete(other);
  /* The workflow's state given to an LLM agent, and an LLM state to it. */
  hl_agent *llm = hl_agent_new("pipeline");
  hl_agent_set_provider(llm, wm);
  CHECK_INT(hl_agent_resume(llm, s, state, d, &answer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "is an LLM agent");
  cJSON *inner = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(state, "custom"), "children"), 1), "state");
  cJSON *d2 = cJSON_Parse("{\"p1\": {\"action\": \"approve\"}}");
  cJSON_ReplaceItemInObject(inner, "agent", cJSON_CreateString("pipeline"));
  CHECK_INT(hl_agent_resume(seq, s, inner, d2, &answer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "is a custom agent");
  CHECK(answer == NULL);
  cJSON_Delete(d2);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(llm);
  hl_agent_unref(seq);
  hl_provider_unref(wm), hl_provider_unref(pm);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(sequential_approve);
  RUN(sequential_reject);
  RUN(sequential_edit);
  RUN(loop_second_iteration);
  RUN(loop_escalate_kept);
  RUN(parallel_every_pending);
  RUN(parallel_in_sequential);
  RUN(async_resume);
  RUN(workflow_in_agent_tool);
  RUN(bad_states);
  return CHECK_EXIT();
}
