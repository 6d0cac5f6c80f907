/*
 * tests/plugins/test_approval.c - the approval plugin on real runs: a call
 * of a matching tool stops the run (HL_INTERRUPTED) with its id, name and
 * arguments in the state while a non-matching call of the same response
 * runs; resume with approve, reject (the model sees the message) and edit;
 * bad options name the path of the bad value; loaded from a config file.
 */
#include "check.h"
#include "fixture.h"
#include "hookline/config.h"

/* The model asks for two calls at once, then answers with the last
 * tool result it got. */
static const char *SCRIPT =
    "{\"rules\": [{\"match\": \"tidy\", \"steps\": ["
    "  {\"tool_calls\": [{\"id\": \"c1\", \"name\": \"delete_file\", \"arguments\": {\"path\": \"/tmp/a\"}},"
    "                    {\"id\": \"c2\", \"name\": \"search\", \"arguments\": {\"q\": \"junk\"}}]},"
    "  {\"text\": \"finished\"}]}]}";

typedef struct world {
  hl_provider *model;
  hl_agent *agent;
  fx_counter del, search;
  hl_approval *approval;
} world;

static bool world_up(world *w, const char *options)
{
  memset(w, 0, sizeof *w);
  w->model = hl_scripted_new();
  if (!w->model || hl_scripted_load_json(w->model, SCRIPT) != HL_OK)
    return false;
  w->agent = fx_agent("janitor", w->model);
  hl_tool *d = fx_echo_tool("delete_file", &w->del), *s = fx_echo_tool("search", &w->search);
  hl_tool_param(d, "path", "string", "the file", true);
  hl_agent_add_tool(w->agent, d);
  hl_agent_add_tool(w->agent, s);
  hl_tool_unref(d);
  hl_tool_unref(s);
  cJSON *o = cJSON_Parse(options);
  w->approval = hl_approval_new(o);
  cJSON_Delete(o);
  return w->approval && hl_approval_install(w->approval, hl_agent_hooks(w->agent)) == HL_OK;
}

static void world_down(world *w)
{
  hl_approval_unref(w->approval);
  hl_agent_unref(w->agent);
  hl_provider_unref(w->model);
}

/* Run until the interrupt; the state, for cJSON_Delete(). */
static cJSON *run_to_interrupt(world *w, hl_session *s)
{
  char *answer = NULL;
  hl_status st = hl_agent_run(w->agent, s, "tidy up my files", &answer);
  CHECK_INT(st, HL_INTERRUPTED);
  CHECK(answer == NULL);
  return hl_run_state_json();
}

static void matching_call_interrupts_with_its_call_in_the_state(void)
{
  world w;
  REQUIRE(world_up(&w, "{\"tools\": [\"delete_*\", \"rm\"], \"reason\": \"deleting needs a person\"}"));
  CHECK(hl_approval_matches(w.approval, "delete_file"));
  CHECK(!hl_approval_matches(w.approval, "search"));
  hl_session *s = hl_session_new("app", "u", "s1");
  cJSON *state = run_to_interrupt(&w, s);
  REQUIRE(state);
  CHECK_INT(atomic_load(&w.del.calls), 0);      /* waits for a person */
  CHECK_INT(atomic_load(&w.search.calls), 1);   /* not matching: ran */
  CHECK_INT(hl_approval_requested(w.approval), 1);
  cJSON *pending = hl_run_state_pending(state);
  REQUIRE(pending);
  CHECK_INT(cJSON_GetArraySize(pending), 1);
  const cJSON *p = cJSON_GetArrayItem(pending, 0);
  CHECK_STR(hl_json_get_string(p, "id"), "c1");
  CHECK_STR(hl_json_get_string(p, "name"), "delete_file");
  CHECK_STR(hl_json_get_string(hl_json_get(p, "arguments"), "path"), "/tmp/a");
  CHECK_STR(hl_json_get_string(p, "interrupted_by"), "hook");
  CHECK_STR(hl_json_get_string(p, "hook"), "approval");
  CHECK_STR(hl_json_get_string(p, "reason"), "deleting needs a person");
  cJSON_Delete(pending);
  /* the call that ran is in the state with its result */
  const cJSON *r = cJSON_GetArrayItem(hl_json_get(state, "results"), 0);
  CHECK_STR(r ? hl_json_get_string(r, "id") : NULL, "c2");

  /* approve: the call runs once, with the model's arguments */
  cJSON *d = cJSON_CreateObject();
  hl_decision_approve(d, "c1");
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(w.agent, s, state, d, &answer), HL_OK);
  CHECK_STR(answer, "finished");
  CHECK_INT(atomic_load(&w.del.calls), 1);
  CHECK_INT(atomic_load(&w.search.calls), 1);    /* not run again */
  CHECK_INT(hl_approval_requested(w.approval), 1); /* not asked again */
  char *results = fx_request_tool_results(w.model, 1);
  CHECK_CONTAINS(results, "/tmp/a");
  free(results);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  world_down(&w);
}

static void reject_tells_the_model_and_runs_nothing(void)
{
  world w;
  REQUIRE(world_up(&w, "{\"tools\": [\"delete_file\"]}"));
  hl_session *s = hl_session_new("app", "u", "s2");
  cJSON *state = run_to_interrupt(&w, s);
  REQUIRE(state);
  cJSON *pending = hl_run_state_pending(state);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(pending, 0), "reason"),
            "the tool \"delete_file\" needs approval");
  cJSON_Delete(pending);
  cJSON *d = cJSON_CreateObject();
  hl_decision_reject(d, "c1", "No, keep my files.");
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(w.agent, s, state, d, &answer), HL_OK);
  CHECK_STR(answer, "finished");
  CHECK_INT(atomic_load(&w.del.calls), 0);
  char *results = fx_request_tool_results(w.model, 1);
  CHECK_CONTAINS(results, "No, keep my files.");
  free(results);
  hl_free(answer);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  world_down(&w);
}

static void edit_runs_the_call_with_new_arguments(void)
{
  world w;
  REQUIRE(world_up(&w, "{}"));   /* no list: every tool needs approval */
  hl_session *s = hl_session_new("app", "u", "s3");
  cJSON *state = run_to_interrupt(&w, s);
  REQUIRE(state);
  CHECK_INT(atomic_load(&w.search.calls), 0);
  cJSON *pending = hl_run_state_pending(state);
  CHECK_INT(cJSON_GetArraySize(pending), 2);
  cJSON_Delete(pending);
  cJSON *d = cJSON_CreateObject();
  cJSON *edited = cJSON_Parse("{\"path\": \"/tmp/only-this\"}");
  hl_decision_edit(d, "c1", edited);
  hl_decision_approve(d, "c2");
  char *answer = NULL;
  CHECK_INT(hl_agent_resume(w.agent, s, state, d, &answer), HL_OK);
  CHECK_STR(answer, "finished");
  CHECK_INT(atomic_load(&w.del.calls), 1);
  CHECK_INT(atomic_load(&w.search.calls), 1);
  char *results = fx_request_tool_results(w.model, 1);
  CHECK_CONTAINS(results, "/tmp/only-this");
  CHECK(results && !strstr(results, "/tmp/a\""));
  free(results);
  hl_free(answer);
  cJSON_Delete(edited);
  cJSON_Delete(d);
  cJSON_Delete(state);
  hl_session_free(s);
  world_down(&w);
}

static void bad_options_name_their_path(void)
{
  static const struct {
    const char *options, *message;
  } cases[] = {
      {"{\"tools\": \"delete_file\"}", "$.tools: expected an array of strings, got string"},
      {"{\"tools\": [\"ok\", 3]}", "$.tools[1]: expected a non-empty string, got integer"},
      {"{\"tools\": [\"ok\", \"db.[rw\"]}", "$.tools[1]: \"db.[rw\" is not a valid glob pattern"},
      {"{\"tools\": []}", "$.tools: empty"},
      {"{\"reason\": 42}", "$.reason: expected a string"},
      {"{\"tool\": [\"x\"]}", "$.tool: unknown option (known: tools, reason)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *o = cJSON_Parse(cases[i].options);
    CHECK(hl_approval_new(o) == NULL);
    CHECK_INT(hl_last_status(), HL_ERR_INVALID);
    CHECK_CONTAINS(hl_last_error(), cases[i].message);
    cJSON_Delete(o);
  }
  cJSON *arr = cJSON_CreateArray();
  CHECK(hl_approval_new(arr) == NULL);
  CHECK_CONTAINS(hl_last_error(), "$: options must be an object");
  cJSON_Delete(arr);
  /* in a config file: the path within the file, nothing installed */
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_parse("{\"provider\": {\"type\": \"scripted\"},\n"
                            " \"plugins\": [{\"name\": \"approval\", \"options\": {\"tools\": [\"a\", \"\"]}}]}",
                            "agent.json", &cfg),
            HL_OK);
  hl_agent *agent = NULL;
  if (cfg) {
    CHECK_INT(hl_config_build_agent(cfg, NULL, NULL, NULL, &agent), HL_ERR_INVALID);
    CHECK_CONTAINS(hl_last_error(), "agent.json");
    CHECK_CONTAINS(hl_last_error(), "$.plugins[0].options.tools[1]");
    CHECK(agent == NULL);
  }
  hl_config_free(cfg);
}

static void loaded_from_a_config_file(void)
{
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_parse("{\"provider\": {\"type\": \"scripted\"},\n"
                            " \"tools\": [\"delete_file\", \"search\"],\n"
                            " \"plugins\": [{\"name\": \"approval\",\n"
                            "              \"options\": {\"tools\": [\"delete_*\"], \"reason\": \"ask first\"}}]}",
                            "agent.json", &cfg),
            HL_OK);
  REQUIRE(cfg);
  hl_tools *tools = hl_tools_new();
  fx_counter del = {0}, search = {0};
  hl_tool *d = fx_echo_tool("delete_file", &del), *s = fx_echo_tool("search", &search);
  hl_tools_add(tools, d);
  hl_tools_add(tools, s);
  hl_tool_unref(d);
  hl_tool_unref(s);
  hl_agent *agent = NULL;
  CHECK_INT(hl_config_build_agent(cfg, NULL, tools, NULL, &agent), HL_OK);
  REQUIRE(agent);
  CHECK_STR(hl_hooks_name_at(hl_agent_hooks(agent), HL_HOOK_BEFORE_TOOL, 0), "approval");
  REQUIRE(hl_scripted_load_json(hl_agent_provider(agent), SCRIPT) == HL_OK);
  hl_session *sess = hl_session_new("app", "u", "s4");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, sess, "tidy up my files", &answer), HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  cJSON *pending = hl_run_state_pending(state);
  CHECK_INT(cJSON_GetArraySize(pending), 1);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(pending, 0), "reason"), "ask first");
  CHECK_INT(atomic_load(&search.calls), 1);
  CHECK_INT(atomic_load(&del.calls), 0);
  cJSON_Delete(pending);
  cJSON_Delete(state);
  hl_session_free(sess);
  hl_agent_unref(agent);
  hl_tools_free(tools);
  hl_config_free(cfg);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  RUN(matching_call_interrupts_with_its_call_in_the_state);
  RUN(reject_tells_the_model_and_runs_nothing);
  RUN(edit_runs_the_call_with_new_arguments);
  RUN(bad_options_name_their_path);
  RUN(loaded_from_a_config_file);
  return CHECK_EXIT();
}
