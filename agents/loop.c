/*
 * agents/loop.c - repeat sub-agents until one escalates or the iterations
 * run out.
 *
 * Escalation is a flag in session state, not a return code, so that any
 * party of a child's run can raise it: the child's own tool, a hook on
 * the child, or a grandchild running on the shared session.
 *
 * Across an interrupt (interrupt.h): a child may escalate and then stop
 * for a decision in the same run. On resume the body runs again from the
 * start, which clears the flag (a stale one must not end a fresh loop),
 * and the children before the interrupted one replay: they must not see
 * the flag either. So when a child stops for a decision with the flag
 * set, the loop notes where (iteration and child) under its own key,
 * "escalate@<branch>"; a resumed body takes that note and ends the loop
 * after that child, as if the flag were still set. A fresh run removes a
 * note that an interrupted run left and that was never resumed.
 */
#include <stdio.h>
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

/* Where an interrupted child had escalated (see the top): iteration 0 is
 * none. */
typedef struct escalated_at {
  int iteration;
  int child;
} escalated_at;

/* The key of this loop's note: "escalate@<branch>". */
static void note_key(hl_context *ctx, char *key, size_t size)
{
  snprintf(key, size, "%s@%s", HL_WORKFLOW_ESCALATE_KEY, hl_context_branch(ctx));
}

/* A resumed body's note (then removed); a fresh run only removes it. */
static hl_status note_take(hl_context *ctx, const char *key, escalated_at *at)
{
  at->iteration = 0;
  at->child = 0;
  if (hl_context_resumed(ctx)) {
    cJSON *note = hl_context_state_get(ctx, key);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(note, "iteration");
    const cJSON *child = cJSON_GetObjectItemCaseSensitive(note, "child");
    if (cJSON_IsNumber(it) && cJSON_IsNumber(child) && it->valueint >= 1 && child->valueint >= 0) {
      at->iteration = it->valueint;
      at->child = child->valueint;
    }
    cJSON_Delete(note);
  }
  return hl_context_state_set(ctx, key, NULL);
}

static hl_status note_put(hl_context *ctx, const char *key, int iteration, int child)
{
  cJSON *note = cJSON_CreateObject();
  if (!note || !cJSON_AddNumberToObject(note, "iteration", iteration) ||
      !cJSON_AddNumberToObject(note, "child", child)) {
    cJSON_Delete(note);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  hl_status st = hl_context_state_set(ctx, key, note);
  cJSON_Delete(note);
  return st;
}

/* Run child `i` of iteration `it`; *last becomes its answer. When the
 * child (or a hook on it) asked to end the loop, set *escalated and
 * consume the flag: it ends this loop, not an enclosing one. `carried`:
 * this child had escalated before the interrupt that this run resumes.
 * A child that stops for a decision after escalating leaves the note. */
static hl_status loop_step(hl_context *ctx, hl_agent *child, const char *child_input,
                           char **last, bool *escalated, bool carried, const char *key,
                           int it, int i)
{
  char *out = NULL;
  hl_status st = hl__workflow_run_child(ctx, "loop", child, child_input, HL_RUN_SHARED, &out);
  if (st == HL_INTERRUPTED && (carried || hl__workflow_state_true(ctx, HL_WORKFLOW_ESCALATE_KEY))) {
    hl_status nst = note_put(ctx, key, it, i);
    return nst != HL_OK ? nst : st;
  }
  if (st != HL_OK)
    return st;
  hl_free(*last);   /* only now: it may have been child_input */
  *last = out;
  if (!carried && !hl__workflow_state_true(ctx, HL_WORKFLOW_ESCALATE_KEY))
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
  /* A flag left over from an earlier run must not end this one at once
   * (nor replayed children of a resumed one: see the top). */
  char key[512];
  note_key(ctx, key, sizeof key);
  escalated_at at;
  hl_status st = note_take(ctx, key, &at);
  if (st == HL_OK)
    st = hl_context_state_set(ctx, HL_WORKFLOW_ESCALATE_KEY, NULL);
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
      bool carried = it == at.iteration && (int)i == at.child;
      st = loop_step(ctx, hl_agent_sub_agent_at(self, i), child_input, &last, &done, carried, key,
                     it, (int)i);
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
