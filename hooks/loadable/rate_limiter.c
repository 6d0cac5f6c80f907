/*
 * hooks/loadable/rate_limiter.c - the rate limiter (guards.h) in loadable
 * form; the options are hl_rate_limiter_new()'s. State: the limiter.
 */
#include "descriptor.h"

static hl_status rl_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  hl_rate_limiter *rl = hl_rate_limiter_new(options);
  if (!rl)
    return hl_last_status();
  hl_status st = hl_rate_limiter_install(rl, hooks);
  if (st != HL_OK) {
    hl_rate_limiter_unref(rl);
    return st;
  }
  *state = rl;
  return HL_OK;
}

static void rl_free(void *state)
{
  hl_rate_limiter_unref(state);
}

HL_BUILTIN_PLUGIN(rate_limiter, "rate_limiter",
                  "Token buckets per user, model and tool; wait, refuse or abort", rl_init, rl_free);
