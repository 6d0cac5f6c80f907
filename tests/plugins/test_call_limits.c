/*
 * tests/plugins/test_call_limits.c - at most N model calls per run and N
 * calls per tool per run; abort or refuse; fresh counts for every run.
 */
#include "check.h"
#include "fixture.h"

static hl_call_limits *limits_from(const char *json)
{
  cJSON *o = cJSON_Parse(json);
  hl_call_limits *l = hl_call_limits_new(o);
  cJSON_Delete(o);
  return l;
}

/* A model that asks for a tool call every time. */
static hl_provider *looping_model(int calls)
{
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < calls; i++) {
    char id[16];
    snprintf(id, sizeof id, "c%d", i);
    hl_scripted_push_tool_call(p, id, "search", "{\"q\":\"again\"}");
  }
  hl_scripted_push_text(p, "finally");
  return p;
}

static void model_call_limit_aborts_the_run(void)
{
  hl_provider *p = looping_model(5);
  hl_agent *agent = fx_agent("looper", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("search", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_call_limits *l = limits_from("{\"model_calls\": 2}");
  REQUIRE(l);
  REQUIRE(hl_call_limits_install(l, hl_agent_hooks(agent)) == HL_OK);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "search forever", &ans), HL_ERR_ABORTED);
  CHECK_CONTAINS(hl_last_error(), "the limit of 2 model calls per run was reached");
  CHECK(ans == NULL);
  CHECK_INT(hl_scripted_request_count(p), 2);
  CHECK_INT(hl_call_limits_tripped(l), 1);
  hl_call_limits_unref(l);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void model_call_limit_refuse_ends_with_an_answer_and_resets_per_run(void)
{
  hl_provider *p = looping_model(6);
  hl_agent *agent = fx_agent("looper", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("search", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_call_limits *l = limits_from("{\"model_calls\": 3, \"on_limit\": \"refuse\"}");
  REQUIRE(l && hl_call_limits_install(l, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "search", "Stopped: the limit of 3 model calls per run was reached.");
  CHECK_INT(hl_scripted_request_count(p), 3);
  CHECK_INT(atomic_load(&c.calls), 3);
  /* The next run counts from zero: 3 more model calls reach the model. */
  CHECK_RUN(agent, NULL, "search", "Stopped: the limit of 3 model calls per run was reached.");
  CHECK_INT(hl_scripted_request_count(p), 6);
  CHECK_INT(hl_call_limits_tripped(l), 2);
  hl_call_limits_unref(l);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void tool_limits_per_tool_and_wildcard(void)
{
  hl_provider *p = hl_scripted_new();
  hl_response *r = hl_response_new();
  const char *calls[][2] = {{"s1", "search"}, {"s2", "search"}, {"f1", "fetch"},
                            {"f2", "fetch"},  {"f3", "fetch"},  {"s3", "search"}};
  for (size_t i = 0; i < 6; i++)
    hl_message_add_tool_call(r->message, calls[i][0], calls[i][1], NULL);
  r->finish = HL_FINISH_TOOL_CALLS;
  hl_scripted_push(p, r);
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("tools", p);
  hl_agent_set_parallel_tools(agent, 1);   /* the order of the calls decides which are refused */
  fx_counter search = {0}, fetch = {0};
  hl_tool *t1 = fx_echo_tool("search", &search), *t2 = fx_echo_tool("fetch", &fetch);
  hl_agent_add_tool(agent, t1);
  hl_agent_add_tool(agent, t2);
  hl_tool_unref(t1);
  hl_tool_unref(t2);
  hl_call_limits *l =
      limits_from("{\"tool_calls\": {\"search\": 1, \"*\": 2}, \"on_limit\": \"refuse\"}");
  REQUIRE(l && hl_call_limits_install(l, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "go", "done");
  CHECK_INT(atomic_load(&search.calls), 1);
  CHECK_INT(atomic_load(&fetch.calls), 2);
  char *results = fx_request_tool_results(p, 1);
  CHECK_INT(fx_count_lines(results, "\"error\":\"limit\""), 3);
  CHECK_CONTAINS(results, "tool \\\"search\\\" may be called at most 1 times per run");
  CHECK_CONTAINS(results, "tool \\\"fetch\\\" may be called at most 2 times per run");
  free(results);
  CHECK_INT(hl_call_limits_tripped(l), 3);
  hl_call_limits_unref(l);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void bad_options_and_loadable_form(void)
{
  CHECK(limits_from("{\"model_calls\": -1}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.model_calls: expected an integer from 0");
  CHECK(limits_from("{\"tool_calls\": {\"search\": \"x\"}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.tool_calls.search: expected an integer");
  CHECK(limits_from("{\"on_limit\": \"explode\"}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.on_limit: expected \"abort\" or \"refuse\"");
  CHECK(limits_from("{\"model_call\": 1}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.model_call: unknown option");
  hl_call_limits *l = hl_call_limits_new(NULL);   /* no limits at all */
  CHECK(l != NULL);
  hl_call_limits_unref(l);

  hl_provider *p = looping_model(3);
  hl_agent *agent = fx_agent("loaded", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("search", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_plugin *plugin = NULL;
  REQUIRE(hl_plugin_load_text(hl_agent_hooks(agent), "call_limits", "{\"model_calls\": 1}",
                              &plugin) == HL_OK);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "x", &ans), HL_ERR_ABORTED);
  CHECK_INT(hl_call_limits_tripped(hl_plugin_state(plugin)), 1);
  hl_plugin_free(plugin);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  RUN(model_call_limit_aborts_the_run);
  RUN(model_call_limit_refuse_ends_with_an_answer_and_resets_per_run);
  RUN(tool_limits_per_tool_and_wildcard);
  RUN(bad_options_and_loadable_form);
  return CHECK_EXIT();
}
