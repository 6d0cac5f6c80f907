/*
 * hooks/builtin_plugins.c - the table of plugins linked into libhookline,
 * so that hl_plugin_load() finds them by name without a .so (and programs
 * linked statically have them all).
 */
#include <string.h>

#include "hookline/plugin.h"

#define HL_BUILTIN_LIST(X) \
  X(logging) X(response_cache) X(guardrail) X(tool_allowlist) X(arg_enricher) \
  X(call_limits) X(pii) X(rate_limiter) \
  X(budget) X(audit) X(parallel_guard) X(approval)

#define HL_DECLARE(id) extern const hl_plugin_descriptor hl__plugin_##id;
HL_BUILTIN_LIST(HL_DECLARE)
#undef HL_DECLARE

static const hl_plugin_descriptor *const builtins[] = {
#define HL_ENTRY(id) &hl__plugin_##id,
    HL_BUILTIN_LIST(HL_ENTRY)
#undef HL_ENTRY
};

const hl_plugin_descriptor *hl_plugin_builtin_at(size_t i)
{
  return i < sizeof builtins / sizeof *builtins ? builtins[i] : NULL;
}

const hl_plugin_descriptor *hl_plugin_builtin(const char *name)
{
  for (size_t i = 0; name && i < sizeof builtins / sizeof *builtins; i++)
    if (strcmp(builtins[i]->name, name) == 0)
      return builtins[i];
  return NULL;
}
