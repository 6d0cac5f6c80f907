/*
 * tests/agents/test_nesting.c - workflow agents nest: hooks of every
 * ancestor fire for every descendant, observers see the whole tree with
 * branch paths, and a workflow can be another agent's tool.
 *
 *   app (sequential)
 *   ├── team (parallel)
 *   │   ├── refine (loop, 2 iterations)
 *   │   │   ├── writer   (calls tool "note")
 *   │   │   └── reviewer
 *   │   └── researcher
 *   └── summarizer
 */
#include "check.h"
#include "fixture.h"

static hl_status note_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  (void)args;
  (void)ud;
  *result = cJSON_CreateString("noted");
  return HL_OK;
}

static hl_agent *writer_agent(void)
{
  hl_agent *w = hl_agent_new("writer");
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < 2; i++) {
    hl_scripted_push_tool_call(p, "n1", "note", "{}");
    hl_scripted_push_text(p, "draft");
  }
  hl_agent_set_provider(w, p);
  hl_provider_unref(p);
  hl_tool *t = hl_tool_new("note", "Take a note.", note_fn, NULL);
  hl_agent_add_tool(w, t);
  hl_tool_unref(t);
  return w;
}

static hl_agent *build_tree(void)
{
  hl_agent *app = hl_sequential_agent_new("app", HL_WORKFLOW_INPUT_SAME);
  hl_agent *team = hl_parallel_agent_new("team", HL_RUN_ISOLATED);
  hl_agent *refine = hl_loop_agent_new("refine", 2, HL_WORKFLOW_INPUT_SAME);
  fx_adopt(refine, writer_agent());
  fx_adopt(refine, fx_llm("reviewer", (const char *[]){"r1", "r2", NULL}, NULL));
  fx_adopt(team, refine);
  fx_adopt(team, fx_llm("researcher", (const char *[]){"facts", NULL}, NULL));
  fx_adopt(app, team);
  fx_adopt(app, fx_llm("summarizer", (const char *[]){"summary", NULL}, NULL));
  return app;
}

static hl_agent *find(hl_agent *parent, const char *name)
{
  return hl_agent_find_sub_agent(parent, name);
}

static void nesting_three_levels_hooks_fire_at_every_level(void)
{
  hl_agent *app = build_tree();
  REQUIRE(app);
  hl_agent *team = find(app, "team");
  hl_agent *refine = find(team, "refine");
  REQUIRE(team && refine);
  fx_trace top = FX_TRACE_INIT, mid = FX_TRACE_INIT, low = FX_TRACE_INIT;
  /* Hooks at three levels: each sees its own subtree. */
  hl_hooks_add_before_agent(hl_agent_hooks(app), "top", HL_HOOK_OBSERVE, fx_record_agent, &top);
  hl_hooks_add_before_model(hl_agent_hooks(app), "top", HL_HOOK_OBSERVE, fx_record_model, &top);
  hl_hooks_add_before_tool(hl_agent_hooks(app), "top", HL_HOOK_OBSERVE, fx_record_tool, &top);
  hl_hooks_add_before_agent(hl_agent_hooks(team), "mid", HL_HOOK_OBSERVE, fx_record_agent, &mid);
  hl_hooks_add_before_model(hl_agent_hooks(refine), "low", HL_HOOK_OBSERVE, fx_record_model, &low);
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(app, events);

  CHECK_RUN(app, NULL, "owls", "summary");

  /* Top-level hooks saw every agent at every depth, with its path. */
  CHECK_INT(fx_trace_count(&top, "app"), 1);
  CHECK_INT(fx_trace_count(&top, "app/team"), 1);
  CHECK_INT(fx_trace_count(&top, "app/team/refine"), 1);
  CHECK_INT(fx_trace_count(&top, "app/team/refine/writer"), 2);
  CHECK_INT(fx_trace_count(&top, "app/team/refine/reviewer"), 2);
  CHECK_INT(fx_trace_count(&top, "app/team/researcher"), 1);
  CHECK_INT(fx_trace_count(&top, "app/summarizer"), 1);
  CHECK_INT(fx_trace_count(&top, "model app/team/refine/writer"), 4);
  CHECK_INT(fx_trace_count(&top, "model app/team/refine/reviewer"), 2);
  CHECK_INT(fx_trace_count(&top, "tool app/team/refine/writer note"), 2);
  /* Order: the summarizer ran after the whole team. */
  CHECK(fx_trace_index(&top, "app/summarizer") > fx_trace_index(&top, "app/team/researcher"));
  CHECK(fx_trace_index(&top, "app/summarizer") > fx_trace_index(&top, "app/team/refine/reviewer"));
  /* Middle level: only its subtree. */
  CHECK_INT(fx_trace_count(&mid, "app/team"), 1);
  CHECK_INT(fx_trace_count(&mid, "app/team/refine/writer"), 2);
  CHECK_INT(fx_trace_count(&mid, "app/team/researcher"), 1);
  CHECK_INT(fx_trace_count(&mid, "app"), 0);
  CHECK_INT(fx_trace_count(&mid, "app/summarizer"), 0);
  /* Lowest: the loop's own model calls only. */
  CHECK_INT(fx_trace_count(&low, "model app/team/refine/writer"), 4);
  CHECK_INT(fx_trace_count(&low, "model app/team/refine/reviewer"), 2);
  CHECK_INT(low.n, 6);
  if (check_failures_)
    fx_trace_dump(&top);

  /* The top observer received the deepest child's events, tagged. */
  cJSON *all = hl_observer_collected(events);
  int deep_tool_starts = 0, agent_starts = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, all) {
    const char *type = hl_json_get_string(ev, "type");
    const char *branch = hl_json_get_string(ev, "branch");
    if (!type || !branch)
      continue;
    if (!strcmp(type, "tool_start") && !strcmp(branch, "app/team/refine/writer"))
      deep_tool_starts++;
    if (!strcmp(type, "agent_start"))
      agent_starts++;
  }
  cJSON_Delete(all);
  CHECK_INT(deep_tool_starts, 2);
  /* app, team, refine, writer x2, reviewer x2, researcher, summarizer */
  CHECK_INT(agent_starts, 9);

  fx_trace_clear(&top);
  fx_trace_clear(&mid);
  fx_trace_clear(&low);
  hl_observer_unref(events);
  hl_agent_unref(app);
}

static void workflow_as_tool_of_llm_agent(void)
{
  hl_agent *pipeline = hl_sequential_agent_new("pipeline", HL_WORKFLOW_INPUT_PREVIOUS);
  hl_provider *pr;
  fx_adopt(pipeline, fx_llm("drafter", (const char *[]){"a draft", NULL}, NULL));
  fx_adopt(pipeline, fx_llm("reviewer", (const char *[]){"reviewed draft", NULL}, &pr));
  hl_agent_set_description(pipeline, "Drafts and reviews a text.");
  hl_tool *tool = hl_agent_as_tool(pipeline, NULL, NULL);
  REQUIRE(tool);
  CHECK_STR(hl_tool_name(tool), "pipeline");
  hl_agent_unref(pipeline);   /* the tool holds it */

  hl_provider *bp = hl_scripted_new();
  hl_scripted_push_tool_call(bp, "t1", "pipeline", "{\"input\":\"write a haiku\"}");
  hl_scripted_push_text(bp, "Here it is.");
  hl_agent *boss = hl_agent_new("boss");
  hl_agent_set_provider(boss, bp);
  hl_agent_add_tool(boss, tool);
  hl_tool_unref(tool);
  fx_trace trace = FX_TRACE_INIT;
  hl_hooks_add_before_agent(hl_agent_hooks(boss), "trace", HL_HOOK_OBSERVE, fx_record_agent, &trace);
  CHECK_RUN(boss, NULL, "need a haiku", "Here it is.");
  CHECK_INT(fx_trace_count(&trace, "boss"), 1);
  CHECK_INT(fx_trace_count(&trace, "boss/pipeline"), 1);
  CHECK_INT(fx_trace_count(&trace, "boss/pipeline/drafter"), 1);
  CHECK_INT(fx_trace_count(&trace, "boss/pipeline/reviewer"), 1);
  /* The workflow's answer is the tool result the boss model saw. */
  CHECK(fx_request_mentions(bp, 1, "reviewed draft"));
  /* The input came through the tool's argument. */
  CHECK(fx_request_mentions(pr, 0, "a draft"));
  fx_trace_clear(&trace);
  hl_agent_unref(boss);
  hl_provider_unref(bp);
}

int main(void)
{
  RUN(nesting_three_levels_hooks_fire_at_every_level);
  RUN(workflow_as_tool_of_llm_agent);
  return CHECK_EXIT();
}
