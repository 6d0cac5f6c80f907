/*
 * agents/parallel.c - run sub-agents at the same time, on the library's
 * worker pool (hl_work_parallel, run.h): no threads of its own, and a
 * parallel agent nested in a tool or in another parallel agent cannot
 * exhaust the pool into a deadlock.
 *
 * Every child runs on its own branch of the session (a fresh or forked
 * copy), so the children cannot see or disturb each other; the parallel
 * agent then gathers what they produced into its own session state and
 * its answer. One child's failure costs only that child's result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/agent.h"
#include "hookline/json.h"
#include "hookline/run.h"
#include "hookline/workflow.h"
#include "workflow_util.h"

typedef struct parallel {
  hl_run_mode mode;
} parallel;

typedef struct branch {
  hl_context *ctx;
  hl_agent *child;
  const char *input;
  hl_run_mode mode;
  hl_status status;
  char *answer;
  char message[768];   /* the child's error, read on its own thread */
} branch;

static void branch_main(void *arg, size_t i)
{
  branch *b = &((branch *)arg)[i];
  b->status = hl__workflow_run_child(b->ctx, "parallel", b->child, b->input,
                                     b->mode, &b->answer);
  if (b->status != HL_OK)
    snprintf(b->message, sizeof b->message, "%s", hl_last_error());
}

/* Where a child's answer goes in state: its output key, else its name. */
static const char *result_key(hl_agent *child)
{
  const char *key = hl_agent_output_key(child);
  return key && key[0] ? key : hl_agent_name(child);
}

static void report_failure(hl_context *ctx, const branch *b)
{
  cJSON *data = cJSON_CreateObject();
  if (data && cJSON_AddStringToObject(data, "agent", hl_agent_name(b->child)) &&
      cJSON_AddStringToObject(data, "status", hl_status_name(b->status)) &&
      cJSON_AddStringToObject(data, "message", b->message))
    hl_context_emit_custom(ctx, "workflow_child_failed", data);
  cJSON_Delete(data);
}

/* Build the answer and store the results; HL_ERR_NOMEM on failure. */
static hl_status gather(hl_context *ctx, branch *branches, size_t n, char **answer)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *results = root ? cJSON_AddObjectToObject(root, "results") : NULL;
  cJSON *errors = root ? cJSON_AddObjectToObject(root, "errors") : NULL;
  if (!results || !errors) {
    cJSON_Delete(root);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  hl_status st = HL_OK;
  for (size_t i = 0; i < n && st == HL_OK; i++) {
    branch *b = &branches[i];
    const char *name = hl_agent_name(b->child);
    if (b->status == HL_OK) {
      cJSON *text = cJSON_CreateString(b->answer);
      if (!text || !cJSON_AddItemToObject(results, name, text)) {
        cJSON_Delete(text);
        st = hl_fail(HL_ERR_NOMEM, "out of memory");
        break;
      }
      st = hl_context_state_set(ctx, result_key(b->child), text);
    } else {
      cJSON *err = cJSON_AddObjectToObject(errors, name);
      if (!err || !cJSON_AddStringToObject(err, "status", hl_status_name(b->status)) ||
          !cJSON_AddStringToObject(err, "message", b->message))
        st = hl_fail(HL_ERR_NOMEM, "out of memory");
    }
  }
  if (st == HL_OK)
    st = hl_json_print(root, answer);
  cJSON_Delete(root);
  return st;
}

static hl_status parallel_run(hl_context *ctx, const char *input, char **answer,
                              void *user_data)
{
  const parallel *par = user_data;
  hl_agent *self = hl_context_agent(ctx);
  size_t n = hl_agent_sub_agent_count(self);
  branch *branches = calloc(n ? n : 1, sizeof *branches);
  if (!branches)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    branch *b = &branches[i];
    b->ctx = ctx;
    b->child = hl_agent_sub_agent_at(self, i);
    b->input = input;
    b->mode = par->mode;
  }
  /* Returns when every child has ended. */
  hl_work_parallel(n, branch_main, branches);
  size_t failed = 0, first_failed = n, interrupted = 0;
  hl_status fatal = HL_OK;
  size_t fatal_at = n;
  for (size_t i = 0; i < n; i++) {
    branch *b = &branches[i];
    if (b->status == HL_OK)
      continue;
    if (b->status == HL_INTERRUPTED) {   /* waits for a decision: not a failure */
      interrupted++;
      continue;
    }
    failed++;
    if (first_failed == n)
      first_failed = i;
    if (hl__workflow_fatal(b->status) && fatal == HL_OK) {
      fatal = b->status;
      fatal_at = i;
    }
  }
  /* Children stopped for a decision (the others have finished): the run
   * stops with every pending call at once, and this body runs again on
   * resume, where the finished children give their recorded outcomes
   * (interrupt.h). Failures are reported then, once. */
  if (interrupted && fatal == HL_OK) {
    for (size_t i = 0; i < n; i++)
      hl_free(branches[i].answer);
    free(branches);
    return HL_INTERRUPTED;
  }
  /* Report after the children, from this thread: observers get the events in
   * child order, whatever order the threads finished in. */
  for (size_t i = 0; i < n; i++)
    if (branches[i].status != HL_OK)
      report_failure(ctx, &branches[i]);

  hl_status st;
  if (fatal != HL_OK)
    st = hl_fail(fatal, "%s", branches[fatal_at].message);
  else if (n > 0 && failed == n)
    st = hl_fail(branches[first_failed].status, "%s", branches[first_failed].message);
  else
    st = gather(ctx, branches, n, answer);
  for (size_t i = 0; i < n; i++)
    hl_free(branches[i].answer);
  free(branches);
  return st;
}

hl_agent *hl_parallel_agent_new(const char *name, hl_run_mode mode)
{
  if (mode != HL_RUN_ISOLATED && mode != HL_RUN_FORK) {
    hl_fail(HL_ERR_INVALID, "hl_parallel_agent_new: mode must be HL_RUN_ISOLATED "
                            "or HL_RUN_FORK (children cannot share one history)");
    return NULL;
  }
  parallel *par = calloc(1, sizeof *par);
  if (!par) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  par->mode = mode;
  hl_agent *agent = hl_agent_new_custom(name, parallel_run, par);
  if (!agent) {
    free(par);
    return NULL;
  }
  hl_agent_set_free_fn(agent, free); /* a custom agent: cannot fail */
  return agent;
}
