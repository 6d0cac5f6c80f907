/*
 * tests/mcp/test_agent_hooks.c - an agent on the scripted provider calls
 * server-everything's tools (stdio) through a before_tool hook that
 * replaces the arguments: the server receives the mutated arguments, and
 * TOOL_START/TOOL_END report them (H7 for MCP tools). Kept in one small
 * file because it is the suite's only use of the hook API.
 */
#include "mcp_fixture.h"

static fx_events events = {.lock = PTHREAD_MUTEX_INITIALIZER};

static hl_hook_action mutate(hl_context *ctx, const hl_before_tool_args *a, hl_before_tool_out *out,
                             void *user) {
  (void)ctx;
  (void)user;
  if (strcmp(a->call->name, "echo") == 0) {
    cJSON_Delete(out->args);
    out->args = cJSON_Parse("{\"message\":\"mutated by hook\"}");
  }
  return HL_HOOK_CONTINUE;
}

static void agent_hook_mutates_arguments(void) {
  const char *argv[] = {"node", fx_everything(), "stdio", NULL};
  hl_mcp *m = hl_mcp_new_stdio("everything", argv);
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 30000);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_agent *a = hl_agent_new("mcp_agent");
  hl_provider *p = hl_scripted_new();
  hl_agent_set_provider(a, p);
  CHECK_INT(hl_mcp_add_to_agent(m, a), HL_OK);
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  hl_agent_add_observer(a, obs);
  hl_observer_unref(obs);
  hl_scripted_push_tool_call(p, "c1", "echo", "{\"message\":\"original\"}");
  hl_scripted_push_text(p, "done");
  CHECK_INT(hl_hooks_add_before_tool(hl_agent_hooks(a), "mutate", HL_HOOK_EDIT_ARGS, mutate, NULL), HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  CHECK_STR(answer, "done");
  hl_free(answer);
  /* The server saw the mutated arguments, and so did the events. */
  CHECK_INT(fx_events_count(&events, "tool_end echo - \"Echo: mutated by hook\""), 1);
  CHECK_INT(fx_events_count(&events, "tool_start echo - {\"message\":\"original\"}"), 0);
  CHECK_INT(fx_events_count(&events, "tool_start echo - {\"message\":\"mutated by hook\"}"), 1);
  hl_provider_unref(p);
  hl_agent_unref(a);
  hl_mcp_free(m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(agent_hook_mutates_arguments);
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  fx_events_clear(&events);
  return CHECK_EXIT();
}
