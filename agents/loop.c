/*
 * agents/loop.c - repeat sub-agents until one escalates or the iterations
 * run out.
 *
 * Escalation is a flag in session state, not a return code, so that any
 * party of a child's run can raise it: the child's own tool, a hook on
 * the child, or a grandchild running on the shared session.
 */
#include <stdlib.h>

#include "hookline/agent.h"
#include "hookline/workflow.h"
#include "workflow_util.h"

typedef struct loop {
  int max_iterations;
  hl_workflow_input input;
} loop;

hl_status hl_workflow_escalate(hl_context *ctx)
{
  if (!ctx)
    return hl_fail(HL_ERR_INVALID, "hl_workflow_escalate: NULL context");
  cJSON *yes = cJSON_CreateTrue();
  if (!yes)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  hl_status st = hl_context_state_set(ctx, HL_WORKFLOW_ESCALATE_KEY, yes);
  cJSON_Delete(yes);
  return st;
}

static void emit_iteration(hl_context *ctx, int iteration)
{
  cJSON *data = cJSON_CreateObject();
  if (data && cJSON_AddNumberToObject(data, "iteration", iteration))
    hl_context_emit_custom(ctx, "loop_iteration", data);
  cJSON_Delete(data);
}

/* Run one child; *last becomes its answer. When the child (or a hook on
 * it) asked to end the loop, set *escalated and consume the flag: it ends
 * this loop, not an enclosing one. */
static hl_status loop_step(hl_context *ctx, hl_agent *child, const char *child_input,
                           char **last, bool *escalated)
{
  char *out = NULL;
  hl_status st = hl__workflow_run_child(ctx, "loop", child, child_input, HL_RUN_SHARED, &out);
  if (st != HL_OK)
    return st;
  hl_free(*last);   /* only now: it may have been child_input */
  *last = out;
  if (!hl__workflow_state_true(ctx, HL_WORKFLOW_ESCALATE_KEY))
    return HL_OK;
  *escalated = true;
  return hl_context_state_set(ctx, HL_WORKFLOW_ESCALATE_KEY, NULL);
}

static hl_status loop_run(hl_context *ctx, const char *input, char **answer,
                          void *user_data)
{
  const loop *lp = user_data;
  hl_agent *self = hl_context_agent(ctx);
  size_t n = hl_agent_sub_agent_count(self);
  /* A flag left over from an earlier run must not end this one at once. */
  hl_status st = hl_context_state_set(ctx, HL_WORKFLOW_ESCALATE_KEY, NULL);
  if (st != HL_OK)
    return st;
  char *last = hl__workflow_strdup("");
  if (!last)
    return HL_ERR_NOMEM;
  bool produced = false;   /* has any child answered yet (PREVIOUS mode) */
  bool done = false;
  for (int it = 1; it <= lp->max_iterations && n > 0 && !done && st == HL_OK; it++) {
    emit_iteration(ctx, it);
    for (size_t i = 0; i < n && !done && st == HL_OK; i++) {
      const char *child_input =
          lp->input == HL_WORKFLOW_INPUT_PREVIOUS && produced ? last : input;
      st = loop_step(ctx, hl_agent_sub_agent_at(self, i), child_input, &last, &done);
      produced = true;
    }
  }
  if (st != HL_OK) {
    hl_free(last);
    return st;
  }
  *answer = last;
  return HL_OK;
}

hl_agent *hl_loop_agent_new(const char *name, int max_iterations, hl_workflow_input input)
{
  if (max_iterations < 1) {
    hl_fail(HL_ERR_INVALID, "hl_loop_agent_new: max_iterations must be at least 1, got %d",
            max_iterations);
    return NULL;
  }
  if (input != HL_WORKFLOW_INPUT_SAME && input != HL_WORKFLOW_INPUT_PREVIOUS) {
    hl_fail(HL_ERR_INVALID, "hl_loop_agent_new: unknown input mode %d", (int)input);
    return NULL;
  }
  loop *lp = calloc(1, sizeof *lp);
  if (!lp) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  lp->max_iterations = max_iterations;
  lp->input = input;
  hl_agent *agent = hl_agent_new_custom(name, loop_run, lp);
  if (!agent) {
    free(lp);
    return NULL;
  }
  hl_agent_set_free_fn(agent, free); /* a custom agent: cannot fail */
  return agent;
}
