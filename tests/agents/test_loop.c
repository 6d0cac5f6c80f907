/*
 * tests/agents/test_loop.c - the loop agent ends when a child escalates
 * (from a tool or from a hook) or after max iterations.
 */
#include "check.h"
#include "fixture.h"

static hl_status approve_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)args;
  (void)ud;
  hl_status st = hl_workflow_escalate(ctx);
  *result = cJSON_CreateString("approved");
  return st;
}

static hl_agent *reviewer_with_tool(hl_provider **provider)
{
  hl_agent *r = hl_agent_new("reviewer");
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "needs work");
  hl_scripted_push_tool_call(p, "a1", "approve", "{}");
  hl_scripted_push_text(p, "approved, ship it");
  hl_scripted_push_text(p, "never used");
  hl_agent_set_provider(r, p);
  *provider = p;
  hl_provider_unref(p);
  hl_tool *t = hl_tool_new("approve", "Approve the draft.", approve_fn, NULL);
  hl_agent_add_tool(r, t);
  hl_tool_unref(t);
  return r;
}

static void loop_ends_when_tool_escalates(void)
{
  hl_provider *pw, *pr;
  hl_agent *writer = fx_llm("writer", (const char *[]){"draft 1", "draft 2", "draft 3", NULL}, &pw);
  hl_agent *reviewer = reviewer_with_tool(&pr);
  hl_agent *loop = hl_loop_agent_new("refine", 5, HL_WORKFLOW_INPUT_PREVIOUS);
  REQUIRE(loop);
  fx_adopt(loop, writer);
  fx_adopt(loop, reviewer);
  fx_trace trace = FX_TRACE_INIT;
  hl_hooks_add_before_agent(hl_agent_hooks(loop), "trace", HL_HOOK_OBSERVE, fx_record_agent, &trace);
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(loop, events);
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  CHECK_RUN(loop, s, "write about owls", "approved, ship it");
  CHECK_INT(fx_trace_count(&trace, "refine/writer"), 2);
  CHECK_INT(fx_trace_count(&trace, "refine/reviewer"), 2);
  CHECK_INT(fx_custom_count(events, "loop_iteration"), 2);
  CHECK_INT(hl_scripted_remaining(pw), 1);
  CHECK_INT(hl_scripted_remaining(pr), 1);
  /* PREVIOUS: the writer's second input is the reviewer's feedback. */
  char *in = fx_request_last(pw, 1);
  CHECK_STR(in, "needs work");
  hl_free(in);
  /* The flag was consumed. */
  cJSON *flag = hl_session_state_get(s, HL_WORKFLOW_ESCALATE_KEY);
  CHECK(flag == NULL);
  cJSON_Delete(flag);
  fx_trace_clear(&trace);
  hl_observer_unref(events);
  hl_session_free(s);
  hl_agent_unref(loop);
}

static void loop_stops_at_max_iterations(void)
{
  hl_provider *pw, *pr;
  hl_agent *loop = hl_loop_agent_new("stubborn", 3, HL_WORKFLOW_INPUT_SAME);
  fx_adopt(loop, fx_llm("writer", (const char *[]){"d1", "d2", "d3", "d4", NULL}, &pw));
  fx_adopt(loop, fx_llm("critic", (const char *[]){"no", "no", "still no", "x", NULL}, &pr));
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(loop, events);
  CHECK_RUN(loop, NULL, "try", "still no");
  CHECK_INT(hl_scripted_request_count(pw), 3);
  CHECK_INT(hl_scripted_request_count(pr), 3);
  CHECK_INT(fx_custom_count(events, "loop_iteration"), 3);
  hl_observer_unref(events);
  hl_agent_unref(loop);
}

/* after_agent hook on the critic: "LGTM" ends the loop. */
static hl_hook_action escalate_on_lgtm(hl_context *ctx, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *ud) {  /* v1 names */
  const char *answer = in_->answer;
  char **replacement = &out_->answer;
  (void)replacement;
  (void)ud;
  if (answer && strstr(answer, "LGTM"))
    hl_workflow_escalate(ctx);
  return HL_HOOK_CONTINUE;
}

static void loop_ends_when_hook_escalates_mid_iteration(void)
{
  hl_provider *pw, *pc, *pt;
  hl_agent *loop = hl_loop_agent_new("hooked", 10, HL_WORKFLOW_INPUT_SAME);
  fx_adopt(loop, fx_llm("writer", (const char *[]){"d1", "d2", "d3", NULL}, &pw));
  hl_agent *critic = fx_llm("critic", (const char *[]){"meh", "LGTM", "x", NULL}, &pc);
  hl_hooks_add_after_agent(hl_agent_hooks(critic), "lgtm", HL_HOOK_OBSERVE, escalate_on_lgtm, NULL);
  fx_adopt(loop, critic);
  fx_adopt(loop, fx_llm("tail", (const char *[]){"t1", "t2", NULL}, &pt));
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  /* A stale flag from before must not end the loop at once. */
  cJSON *yes = cJSON_CreateTrue();
  hl_session_state_set(s, HL_WORKFLOW_ESCALATE_KEY, yes);
  cJSON_Delete(yes);
  CHECK_RUN(loop, s, "go", "LGTM");
  CHECK_INT(hl_scripted_request_count(pw), 2);
  CHECK_INT(hl_scripted_request_count(pc), 2);
  /* Stopped right after the critic: the tail ran in iteration 1 only. */
  CHECK_INT(hl_scripted_request_count(pt), 1);
  hl_session_free(s);
  hl_agent_unref(loop);
}

static void inner_loop_escalation_does_not_end_outer_loop(void)
{
  hl_provider *pi, *po;
  hl_agent *outer = hl_loop_agent_new("outer", 2, HL_WORKFLOW_INPUT_SAME);
  hl_agent *inner = hl_loop_agent_new("inner", 5, HL_WORKFLOW_INPUT_SAME);
  hl_agent *quick = fx_llm("quick", (const char *[]){"LGTM", "LGTM", NULL}, &pi);
  hl_hooks_add_after_agent(hl_agent_hooks(quick), "lgtm", HL_HOOK_OBSERVE, escalate_on_lgtm, NULL);
  fx_adopt(inner, quick);
  fx_adopt(outer, inner);
  fx_adopt(outer, fx_llm("after", (const char *[]){"a1", "a2", NULL}, &po));
  CHECK_RUN(outer, NULL, "go", "a2");
  CHECK_INT(hl_scripted_request_count(pi), 2);
  CHECK_INT(hl_scripted_request_count(po), 2);
  hl_agent_unref(outer);
}

static void loop_failing_child_stops_it(void)
{
  hl_agent *loop = hl_loop_agent_new("fragile", 3, HL_WORKFLOW_INPUT_SAME);
  fx_adopt(loop, fx_llm("once", (const char *[]){"only one", NULL}, NULL));
  char *ans = NULL;
  CHECK_INT(hl_agent_run(loop, NULL, "go", &ans), HL_ERR_PROVIDER);
  CHECK(ans == NULL);
  CHECK_CONTAINS(hl_last_error(), "once");
  hl_agent_unref(loop);
  CHECK(hl_loop_agent_new("zero", 0, HL_WORKFLOW_INPUT_SAME) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK_INT(hl_workflow_escalate(NULL), HL_ERR_INVALID);
}

int main(void)
{
  RUN(loop_ends_when_tool_escalates);
  RUN(loop_stops_at_max_iterations);
  RUN(loop_ends_when_hook_escalates_mid_iteration);
  RUN(inner_loop_escalation_does_not_end_outer_loop);
  RUN(loop_failing_child_stops_it);
  return CHECK_EXIT();
}
