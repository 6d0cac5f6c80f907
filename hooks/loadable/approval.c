/*
 * hooks/loadable/approval.c - tool calls that wait for a person's
 * approval (guards.h) in loadable form; the options are
 * hl_approval_new()'s. State: the approval object (its counter).
 */
#include "descriptor.h"

static hl_status approval_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_approval *a = hl_approval_new(options);
  if (!a)
    return hl_last_status();
  hl_status st = hl_approval_install(a, hooks);
  if (st != HL_OK) {
    hl_approval_unref(a);
    return st;
  }
  *state = a;
  return HL_OK;
}

static void approval_free(void *state)
{
  hl_approval_unref(state);
}

HL_BUILTIN_PLUGIN(approval, "approval",
                  "Tool calls matching names or glob patterns wait for a person's approval",
                  approval_init, approval_free);
