/*
 * tests/interrupt/test_nested.c - interrupts from nested calls
 * (hl_context_call_tool, issue 12): the composer's cleanup tool calls
 * delete_file (needs approval) through its context. The run stops with
 * the nested call pending at path "o1/nested-1" (beside the model's own
 * delete_file call o2); on resume the cleanup tool runs again from the
 * start (at-least-once) and its nested call gets the decision without
 * asking again: approve runs it, reject gives the tool the human's
 * message as the nested call's error, edit runs it with the new
 * arguments. A nested call that differs on the re-run asks again; bad
 * decisions are refused before anything runs. A nested call that runs a
 * sub-agent (an agent tool) which stops for approval: path
 * "d1/nested-1/h1"; on resume the outer tool runs again and the
 * sub-agent continues from its state.
 */
#include "check.h"
#include "fixture.h"

typedef struct interrupted {
  hl_provider *model;
  hl_agent *agent;
  hl_session *session;
  cJSON *state;
} interrupted;

/* The composer run up to its interrupt; the model answers `final` next. */
static void interrupt_composer(interrupted *x, const char *final) {
  fx_log_reset();
  x->model = hl_scripted_new();
  fx_push_cleanup(x->model);
  hl_scripted_push_text(x->model, final);
  x->agent = fx_composer(x->model);
  x->session = hl_session_new("app", "u", "nested");
  x->state = fx_run_to_interrupt(x->agent, x->session, "clean up", NULL, 0);
  REQUIRE(x->state);
}

static void done(interrupted *x) {
  cJSON_Delete(x->state);
  hl_agent_unref(x->agent);
  hl_provider_unref(x->model);
  hl_session_free(x->session);
}

/* The tool results the model got after the resume (its second request). */
static cJSON *results_after_resume(hl_provider *model) {
  CHECK_INT(hl_scripted_request_count(model), 2);
  return fx_results_at(model, 1);
}

static const char *content(const cJSON *results, const char *id) {
  return hl_json_get_string(hl_json_get(results, id), "content");
}

static void nested_call_interrupts_the_run_with_its_path(void) {
  interrupted x;
  interrupt_composer(&x, "unused");
  /* Nothing was deleted; cleanup ran once, up to its nested call. */
  CHECK_INT(fx_ran("delete_file"), 0);
  CHECK_INT(fx_ran("cleanup"), 1);
  const cJSON *p0 = cJSON_GetArrayItem(hl_json_get(x.state, "pending"), 0);
  CHECK_STR(hl_json_get_string(p0, "id"), "o1");
  CHECK_STR(hl_json_get_string(p0, "interrupted_by"), "nested_call");
  cJSON *list = hl_run_state_pending(x.state);
  REQUIRE(list);
  CHECK_INT(cJSON_GetArraySize(list), 2);
  const cJSON *n = cJSON_GetArrayItem(list, 0);
  CHECK_STR(hl_json_get_string(n, "path"), "o1/nested-1");
  CHECK_STR(hl_json_get_string(n, "name"), "delete_file");
  CHECK_STR(hl_json_get_string(n, "outer_call"), "o1");
  CHECK_STR(hl_json_get_string(n, "interrupted_by"), "approval");
  CHECK_STR(hl_json_get_string(hl_json_get(n, "arguments"), "path"), "/tmp/n");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 1), "path"), "o2");
  cJSON_Delete(list);
  /* The session is as before the run: the messages travel in the state. */
  CHECK_INT(hl_session_messages(x.session)->count, 0);
  done(&x);
}

static void approve_runs_the_nested_call_on_the_rerun(void) {
  interrupted x;
  interrupt_composer(&x, "all clean");
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "o1/nested-1");
  hl_decision_approve(d, "o2");
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(x.agent, x.session, x.state, d, &answer), HL_OK);
  CHECK_STR(answer ? answer : "", "all clean");
  hl_free(answer);
  /* cleanup ran again from the start (at-least-once); each delete once. */
  CHECK_INT(fx_ran("cleanup"), 2);
  CHECK_INT(fx_ran("delete_file"), 2);
  cJSON *r = results_after_resume(x.model);
  CHECK_STR(content(r, "o1"), "cleaned: deleted /tmp/n");
  CHECK_STR(content(r, "o2"), "deleted /tmp/m");
  cJSON_Delete(r);
  cJSON_Delete(d);
  done(&x);
}

static void reject_is_the_nested_calls_error(void) {
  interrupted x;
  interrupt_composer(&x, "kept it");
  cJSON *d = cJSON_CreateObject();
  hl_decision_reject(d, "o1/nested-1", "not that one");
  hl_decision_approve(d, "o2");
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(x.agent, x.session, x.state, d, &answer), HL_OK);
  hl_free(answer);
  /* Before: cleanup up to its nested call. Resume: cleanup again (its
   * nested delete rejected, so not run), then o2. */
  CHECK_STR(fx_log, "cleanup {\"path\":\"/tmp/n\"}\ncleanup {\"path\":\"/tmp/n\"}\n"
                    "delete_file {\"path\":\"/tmp/m\"}\n");
  cJSON *r = results_after_resume(x.model);
  CHECK_STR(content(r, "o1"), "refused (ExecutionFailed): not that one");
  CHECK(!cJSON_IsTrue(hl_json_get(hl_json_get(r, "o1"), "is_error"))); /* the tool's own answer */
  cJSON_Delete(r);
  cJSON_Delete(d);
  done(&x);
}

static void edit_runs_the_nested_call_with_new_arguments(void) {
  interrupted x;
  interrupt_composer(&x, "edited");
  cJSON *d = cJSON_CreateObject();
  cJSON *args = cJSON_Parse("{\"path\":\"/tmp/other\"}");
  hl_decision_edit(d, "o1/nested-1", args);
  hl_decision_reject(d, "o2", NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(x.agent, x.session, x.state, d, &answer), HL_OK);
  hl_free(answer);
  CHECK_INT(fx_ran("delete_file {\"path\":\"/tmp/other\"}"), 1);
  CHECK_INT(fx_ran("delete_file"), 1);
  cJSON *r = results_after_resume(x.model);
  CHECK_STR(content(r, "o1"), "cleaned: deleted /tmp/other");
  CHECK_STR(content(r, "o2"), "The user rejected this tool call.");
  cJSON_Delete(r);
  cJSON_Delete(args);
  cJSON_Delete(d);
  done(&x);
}

/* The re-run calls delete_file with other arguments than the state
 * recorded: the approval was for another call, so it asks again. */
static void a_different_nested_call_asks_again(void) {
  interrupted x;
  interrupt_composer(&x, "unused");
  cJSON *state = cJSON_Duplicate(x.state, true);
  cJSON *p0 = cJSON_GetArrayItem(hl_json_get(state, "pending"), 0);
  cJSON *n0 = cJSON_GetArrayItem(hl_json_get(p0, "nested"), 0);
  cJSON_ReplaceItemInObject(n0, "arguments", cJSON_Parse("{\"path\":\"/tmp/elsewhere\"}"));
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "o1/nested-1");
  hl_decision_approve(d, "o2");
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(x.agent, x.session, state, d, &answer), HL_INTERRUPTED);
  cJSON *again = hl_run_state_json();
  REQUIRE(again);
  cJSON *list = hl_run_state_pending(again);
  CHECK_INT(cJSON_GetArraySize(list), 1);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "path"), "o1/nested-1");
  CHECK_STR(hl_json_get_string(hl_json_get(cJSON_GetArrayItem(list, 0), "arguments"), "path"),
            "/tmp/n");
  /* o2 ran (approved); the nested delete did not. */
  CHECK_INT(fx_ran("delete_file"), 1);
  cJSON_Delete(list);
  cJSON_Delete(again);
  cJSON_Delete(state);
  cJSON_Delete(d);
  done(&x);
}

static void bad_nested_decisions_change_nothing(void) {
  interrupted x;
  interrupt_composer(&x, "unused");
  char *answer = NULL;
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "o2");
  CHECK_INT(hl_agent_resume(x.agent, x.session, x.state, d, &answer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "o1/nested-1");
  cJSON *bad = cJSON_Parse("{\"file\":\"/tmp/n\"}");
  hl_decision_edit(d, "o1/nested-1", bad);
  CHECK_INT(hl_agent_resume(x.agent, x.session, x.state, d, &answer), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "decisions[\"o1/nested-1\"].arguments");
  hl_decision_approve(d, "o1/nested-2");
  hl_decision_approve(d, "o1/nested-1");
  CHECK_INT(hl_agent_resume(x.agent, x.session, x.state, d, &answer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "o1/nested-2");
  /* A state whose nested entry is broken is named by its JSON path. */
  cJSON *state = cJSON_Duplicate(x.state, true);
  cJSON *p0 = cJSON_GetArrayItem(hl_json_get(state, "pending"), 0);
  cJSON_DeleteItemFromObject(cJSON_GetArrayItem(hl_json_get(p0, "nested"), 0), "name");
  cJSON_DeleteItemFromObject(d, "o1/nested-2");
  CHECK_INT(hl_agent_resume(x.agent, x.session, state, d, &answer), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "$.pending[0].nested[0].name");
  CHECK(answer == NULL);
  CHECK_INT(fx_ran("delete_file"), 0);
  CHECK_INT(fx_ran("cleanup"), 1);
  CHECK_INT(hl_scripted_request_count(x.model), 1);
  cJSON_Delete(state);
  cJSON_Delete(bad);
  cJSON_Delete(d);
  done(&x);
}

/* ---- a sub-agent interrupted inside a nested call ---- */

static int delegations;

/* Asks the helper agent (a tool of the same run) through its context, and
 * hands its HL_INTERRUPTED on. */
static hl_status fx_delegate(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  delegations++;
  cJSON *in = cJSON_Parse("{\"input\": \"clean /tmp/h\"}");
  cJSON *r = NULL;
  hl_status st = hl_context_call_tool(ctx, "helper", in, &r);
  cJSON_Delete(in);
  if (st != HL_OK) return st;
  char buf[256];
  snprintf(buf, sizeof buf, "delegated: %s", cJSON_IsString(r) ? r->valuestring : "?");
  cJSON_Delete(r);
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static void subagent_in_nested_call(const char *decision, const char *want, int want_deletes) {
  fx_log_reset();
  delegations = 0;
  hl_provider *top = hl_scripted_new(), *hm = hl_scripted_new();
  hl_scripted_load_json(top, "{\"responses\": [{\"tool_calls\": [{\"id\": \"d1\", \"name\": \"delegate\", "
                             "\"arguments\": {\"path\": \"x\"}}]}, {\"text\": \"dispatcher: {{result}}\"}]}");
  hl_scripted_load_json(hm, "{\"rules\": [{\"match\": \".\", \"steps\": [{\"tool_calls\": [{\"id\": \"h1\", "
                            "\"name\": \"delete_file\", \"arguments\": {\"path\": \"/tmp/h\"}}]},"
                            "{\"text\": \"helper: {{result}}\"}]}]}");
  hl_agent *helper = hl_agent_new("helper");
  hl_agent_set_provider(helper, hm);
  fx_add_guarded_delete(helper);
  hl_agent *disp = hl_agent_new("dispatcher");
  hl_agent_set_provider(disp, top);
  fx_add(disp, hl_agent_as_tool(helper, "Deletes files.", NULL));
  fx_add(disp, fx_tool("delegate", fx_delegate, "path"));
  hl_agent_unref(helper);
  hl_session *s = hl_session_new("app", "u", "nested-sub");
  char *answer = NULL, paths[256];
  cJSON *state = fx_run_to_interrupt(disp, s, "go", paths, sizeof paths);
  REQUIRE(state);
  CHECK_STR(paths, "d1/nested-1/h1");
  cJSON *list = hl_run_state_pending(state);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "agent"), "helper");
  cJSON_Delete(list);
  CHECK_INT(fx_ran("delete_file"), 0);
  cJSON *d = cJSON_Parse(decision);
  CHECK_INT(hl_agent_resume(disp, s, state, d, &answer), HL_OK);
  CHECK_STR(answer ? answer : "", want);
  /* The outer tool ran again (at least once); the helper's first turn
   * was not asked again: one more helper model call, not two. */
  CHECK_INT(delegations, 2);
  CHECK_INT((int)hl_scripted_request_count(hm), 2);
  CHECK_INT((int)hl_scripted_request_count(top), 2);
  CHECK_INT(fx_ran("delete_file"), want_deletes);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(disp);
  hl_provider_unref(top), hl_provider_unref(hm);
}

static void subagent_in_nested_call_approve(void) {
  subagent_in_nested_call("{\"d1/nested-1/h1\": {\"action\": \"approve\"}}",
                          "dispatcher: delegated: helper: deleted /tmp/h", 1);
}

static void subagent_in_nested_call_reject(void) {
  subagent_in_nested_call("{\"d1/nested-1/h1\": {\"action\": \"reject\", \"message\": \"no\"}}",
                          "dispatcher: delegated: helper: no", 0);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(nested_call_interrupts_the_run_with_its_path);
  RUN(approve_runs_the_nested_call_on_the_rerun);
  RUN(reject_is_the_nested_calls_error);
  RUN(edit_runs_the_nested_call_with_new_arguments);
  RUN(a_different_nested_call_asks_again);
  RUN(bad_nested_decisions_change_nothing);
  RUN(subagent_in_nested_call_approve);
  RUN(subagent_in_nested_call_reject);
  return CHECK_EXIT();
}
