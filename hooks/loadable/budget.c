/*
 * hooks/loadable/budget.c - the budget (guards.h) in loadable
 * form; the options are hl_budget_new()'s. State: the budget.
 */
#include "descriptor.h"

static hl_status budget_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_budget *b = hl_budget_new(options);
  if (!b)
    return hl_last_status();
  hl_status st = hl_budget_install(b, hooks);
  if (st != HL_OK) {
    hl_budget_unref(b);
    return st;
  }
  *state = b;
  return HL_OK;
}

static void budget_free(void *state)
{
  hl_budget_unref(state);
}

HL_BUILTIN_PLUGIN(budget, "budget",
                  "Token and cost limits per run, session and user; abort or switch model", budget_init, budget_free);
