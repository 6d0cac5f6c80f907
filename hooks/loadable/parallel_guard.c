/*
 * hooks/loadable/parallel_guard.c - the parallel guardrail (guards.h) in loadable
 * form; the options are hl_parallel_guard_new()'s. State: the parallel_guard.
 */
#include "descriptor.h"

static hl_status parallel_guard_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_parallel_guard *g = hl_parallel_guard_new(options);
  if (!g)
    return hl_last_status();
  hl_status st = hl_parallel_guard_install(g, hooks);
  if (st != HL_OK) {
    hl_parallel_guard_unref(g);
    return st;
  }
  *state = g;
  return HL_OK;
}

static void parallel_guard_free(void *state)
{
  hl_parallel_guard_unref(state);
}

HL_BUILTIN_PLUGIN(parallel_guard, "parallel_guard",
                  "Checks the input with a guard model while the main model call runs", parallel_guard_init, parallel_guard_free);
