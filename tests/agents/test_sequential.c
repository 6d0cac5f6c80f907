/*
 * tests/agents/test_sequential.c - the sequential agent runs its children
 * in order on one session; outputs flow through state and history.
 */
#include "check.h"
#include "fixture.h"

static void sequential_runs_children_in_order(void)
{
  hl_provider *pa, *pb, *pc;
  hl_agent *a = fx_llm("a", (const char *[]){"A-out", NULL}, &pa);
  hl_agent *b = fx_llm("b", (const char *[]){"B-out", NULL}, &pb);
  hl_agent *c = fx_llm("c", (const char *[]){"C-out", NULL}, &pc);
  hl_agent_set_output_key(a, "out_a");
  hl_agent_set_output_key(b, "out_b");
  hl_agent *seq = hl_sequential_agent_new("pipeline", HL_WORKFLOW_INPUT_SAME);
  REQUIRE(seq);
  fx_adopt(seq, a);
  fx_adopt(seq, b);
  fx_adopt(seq, c);
  CHECK_INT(hl_agent_sub_agent_count(seq), 3);
  fx_trace trace = FX_TRACE_INIT;
  hl_hooks_add_before_agent(hl_agent_hooks(seq), "trace", HL_HOOK_OBSERVE, fx_record_agent, &trace);

  hl_session *s = hl_session_new(NULL, NULL, NULL);
  CHECK_RUN(seq, s, "topic: owls", "C-out");
  /* Order, with branch paths. */
  REQUIRE(trace.n == 4);
  CHECK_STR(trace.items[0], "pipeline");
  CHECK_STR(trace.items[1], "pipeline/a");
  CHECK_STR(trace.items[2], "pipeline/b");
  CHECK_STR(trace.items[3], "pipeline/c");
  /* Outputs in state. */
  char *oa = fx_state(s, "out_a"), *ob = fx_state(s, "out_b");
  CHECK_STR(oa, "A-out");
  CHECK_STR(ob, "B-out");
  hl_free(oa);
  hl_free(ob);
  /* Shared session: c saw a's and b's answers in its history, and the
   * workflow's input. */
  CHECK(fx_request_mentions(pc, 0, "A-out"));
  CHECK(fx_request_mentions(pc, 0, "B-out"));
  char *last = fx_request_last(pc, 0);
  CHECK_STR(last, "topic: owls");
  hl_free(last);
  /* a ran first: it saw neither. */
  CHECK(!fx_request_mentions(pa, 0, "B-out"));
  fx_trace_clear(&trace);
  hl_session_free(s);
  hl_agent_unref(seq);
}

static void sequential_previous_mode_chains_answers(void)
{
  hl_provider *pb, *pc;
  hl_agent *a = fx_llm("draft", (const char *[]){"first draft", NULL}, NULL);
  hl_agent *b = fx_llm("edit", (const char *[]){"edited draft", NULL}, &pb);
  hl_agent *c = fx_llm("polish", (const char *[]){"final text", NULL}, &pc);
  hl_agent *seq = hl_sequential_agent_new("chain", HL_WORKFLOW_INPUT_PREVIOUS);
  fx_adopt(seq, a);
  fx_adopt(seq, b);
  fx_adopt(seq, c);
  CHECK_RUN(seq, NULL, "write", "final text");
  char *in_b = fx_request_last(pb, 0), *in_c = fx_request_last(pc, 0);
  CHECK_STR(in_b, "first draft");
  CHECK_STR(in_c, "edited draft");
  hl_free(in_b);
  hl_free(in_c);
  hl_agent_unref(seq);
}

static void sequential_stops_at_failing_child(void)
{
  hl_provider *pc;
  hl_agent *a = fx_llm("ok1", (const char *[]){"fine", NULL}, NULL);
  hl_agent *b = fx_llm("broken", NULL, NULL);   /* empty script: fails */
  hl_agent *c = fx_llm("never", (const char *[]){"unused", NULL}, &pc);
  hl_agent *seq = hl_sequential_agent_new("pipe", HL_WORKFLOW_INPUT_SAME);
  fx_adopt(seq, a);
  fx_adopt(seq, b);
  fx_adopt(seq, c);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(seq, NULL, "go", &ans), HL_ERR_PROVIDER);
  CHECK(ans == NULL);
  CHECK_CONTAINS(hl_last_error(), "broken");
  CHECK_INT(hl_scripted_request_count(pc), 0);
  hl_agent_unref(seq);
}

static void sequential_empty_and_bad_arguments(void)
{
  hl_agent *seq = hl_sequential_agent_new("empty", HL_WORKFLOW_INPUT_SAME);
  CHECK_RUN(seq, NULL, "anything", "");
  hl_agent_unref(seq);
  CHECK(hl_sequential_agent_new("bad", (hl_workflow_input)7) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(hl_sequential_agent_new("bad name!", HL_WORKFLOW_INPUT_SAME) == NULL);
}

int main(void)
{
  RUN(sequential_runs_children_in_order);
  RUN(sequential_previous_mode_chains_answers);
  RUN(sequential_stops_at_failing_child);
  RUN(sequential_empty_and_bad_arguments);
  return CHECK_EXIT();
}
