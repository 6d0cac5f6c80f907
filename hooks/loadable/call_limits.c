/*
 * hooks/loadable/call_limits.c - call limits (guards.h) in loadable form;
 * the options are hl_call_limits_new()'s. State: the hl_call_limits.
 */
#include "descriptor.h"

static hl_status limits_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_call_limits *l = hl_call_limits_new(options);
  if (!l)
    return hl_last_status();
  hl_status st = hl_call_limits_install(l, hooks);
  if (st != HL_OK) {
    hl_call_limits_unref(l);
    return st;
  }
  *state = l;
  return HL_OK;
}

static void limits_free(void *state)
{
  hl_call_limits_unref(state);
}

HL_BUILTIN_PLUGIN(call_limits, "call_limits", "At most N model calls and N calls per tool per run",
                  limits_init, limits_free);
