/*
 * agents/sequential.c - run sub-agents one after another.
 */
#include <stdlib.h>

#include "hookline/agent.h"
#include "hookline/workflow.h"
#include "workflow_util.h"

typedef struct sequential {
  hl_workflow_input input;
} sequential;

static hl_status sequential_run(hl_context *ctx, const char *input, char **answer,
                                void *user_data)
{
  const sequential *seq = user_data;
  hl_agent *self = hl_context_agent(ctx);
  size_t n = hl_agent_sub_agent_count(self);
  char *last = hl__workflow_strdup("");
  if (!last)
    return HL_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    hl_agent *child = hl_agent_sub_agent_at(self, i);
    const char *child_input =
        seq->input == HL_WORKFLOW_INPUT_PREVIOUS && i > 0 ? last : input;
    char *out = NULL;
    hl_status st = hl__workflow_run_child(ctx, "sequential", child, child_input,
                                          HL_RUN_SHARED, &out);
    if (st != HL_OK) {
      hl_free(last);
      return st;
    }
    hl_free(last);
    last = out;
  }
  *answer = last;
  return HL_OK;
}

hl_agent *hl_sequential_agent_new(const char *name, hl_workflow_input input)
{
  if (input != HL_WORKFLOW_INPUT_SAME && input != HL_WORKFLOW_INPUT_PREVIOUS) {
    hl_fail(HL_ERR_INVALID, "hl_sequential_agent_new: unknown input mode %d", (int)input);
    return NULL;
  }
  sequential *seq = calloc(1, sizeof *seq);
  if (!seq) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  seq->input = input;
  hl_agent *agent = hl_agent_new_custom(name, sequential_run, seq);
  if (!agent) {
    free(seq);   /* a failed constructor leaves user_data to the caller */
    return NULL;
  }
  hl_agent_set_free_fn(agent, free); /* a custom agent: cannot fail */
  return agent;
}
