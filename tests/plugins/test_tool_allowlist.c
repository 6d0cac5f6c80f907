/*
 * tests/plugins/test_tool_allowlist.c - tools not on the list do not run;
 * the model sees a "denied" result instead.
 */
#include "check.h"
#include "fixture.h"

static void allowlist_denies_unlisted_tool_and_runs_listed(void)
{
  hl_provider *p = hl_scripted_new();
  hl_response *r = hl_response_new();
  cJSON *args = cJSON_Parse("{\"path\":\"/\"}");
  hl_message_add_tool_call(r->message, "c1", "search", args);
  hl_message_add_tool_call(r->message, "c2", "delete_all", args);
  cJSON_Delete(args);
  r->finish = HL_FINISH_TOOL_CALLS;
  hl_scripted_push(p, r);
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("careful", p);
  fx_counter search_calls = {0}, delete_calls = {0};
  hl_tool *t1 = fx_echo_tool("search", &search_calls);
  hl_tool *t2 = fx_echo_tool("delete_all", &delete_calls);
  hl_agent_add_tool(agent, t1);
  hl_agent_add_tool(agent, t2);
  hl_tool_unref(t1);
  hl_tool_unref(t2);
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(agent, events);

  hl_tool_allowlist *list = hl_tool_allowlist_new();
  REQUIRE(list);
  REQUIRE(hl_tool_allowlist_allow(list, "search") == HL_OK);
  REQUIRE(hl_tool_allowlist_allow(list, "search") == HL_OK);   /* idempotent */
  CHECK(hl_tool_allowlist_allows(list, "search"));
  CHECK(!hl_tool_allowlist_allows(list, "delete_all"));
  REQUIRE(hl_tool_allowlist_install(list, hl_agent_hooks(agent)) == HL_OK);

  CHECK_RUN(agent, NULL, "clean up", "done");
  CHECK_INT(atomic_load(&search_calls.calls), 1);
  CHECK_INT(atomic_load(&delete_calls.calls), 0);
  CHECK_INT(hl_tool_allowlist_denied(list), 1);
  /* What the model saw in its second request. */
  char *results = fx_request_tool_results(p, 1);
  CHECK_CONTAINS(results, "\"error\":\"denied\"");
  CHECK_CONTAINS(results, "delete_all");
  CHECK_CONTAINS(results, "\"echo\":{\"path\":\"/\"}");
  free(results);
  /* The denied tool never started. */
  cJSON *all = hl_observer_collected(events);
  int started_delete = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, all) {
    const char *type = hl_json_get_string(ev, "type");
    const char *tool = hl_json_get_string(ev, "tool");
    if (type && tool && !strcmp(type, "tool_start") && !strcmp(tool, "delete_all"))
      started_delete++;
  }
  CHECK_INT(started_delete, 0);
  cJSON_Delete(all);

  hl_tool_allowlist_unref(list);
  hl_observer_unref(events);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void empty_allowlist_denies_everything(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "anything", "{}");
  hl_scripted_push_text(p, "ok");
  hl_agent *agent = fx_agent("locked", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("anything", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_tool_allowlist *list = hl_tool_allowlist_new();
  REQUIRE(hl_tool_allowlist_install(list, hl_agent_hooks(agent)) == HL_OK);
  hl_tool_allowlist_unref(list);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "x", &ans), HL_OK);
  hl_free(ans);
  CHECK_INT(atomic_load(&c.calls), 0);
  char *results = fx_request_tool_results(p, 1);
  CHECK_CONTAINS(results, "not on the allowlist");
  free(results);
  CHECK_INT(hl_tool_allowlist_allow(NULL, "x"), HL_ERR_INVALID);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* Installed on a workflow agent, the allowlist governs its children too
 * (children inherit their parents' hooks, H14). */
static void allowlist_on_parent_governs_children(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "shell", "{\"cmd\":\"rm -rf /\"}");
  hl_scripted_push_text(p, "child done");
  hl_agent *child = fx_agent("worker", p);
  fx_counter shell_calls = {0};
  hl_tool *t = fx_echo_tool("shell", &shell_calls);
  hl_agent_add_tool(child, t);
  hl_tool_unref(t);
  hl_agent *parent = hl_sequential_agent_new("supervisor", HL_WORKFLOW_INPUT_SAME);
  hl_agent_add_sub_agent(parent, child);
  hl_agent_unref(child);
  hl_tool_allowlist *list = hl_tool_allowlist_new();
  hl_tool_allowlist_allow(list, "search");
  REQUIRE(hl_tool_allowlist_install(list, hl_agent_hooks(parent)) == HL_OK);
  CHECK_RUN(parent, NULL, "clean the disk", "child done");
  CHECK_INT(atomic_load(&shell_calls.calls), 0);
  CHECK_INT(hl_tool_allowlist_denied(list), 1);
  char *results = fx_request_tool_results(p, 1);
  CHECK_CONTAINS(results, "\"error\":\"denied\"");
  free(results);
  hl_tool_allowlist_unref(list);
  hl_agent_unref(parent);
  hl_provider_unref(p);
}

int main(void)
{
  RUN(allowlist_denies_unlisted_tool_and_runs_listed);
  RUN(empty_allowlist_denies_everything);
  RUN(allowlist_on_parent_governs_children);
  return CHECK_EXIT();
}
