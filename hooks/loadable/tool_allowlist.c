/*
 * hooks/loadable/tool_allowlist.c - the tool allowlist in loadable form.
 * Options: {"allow": ["search", "calculator"]}. State: the allowlist.
 */
#include "descriptor.h"

static hl_status allowlist_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  static const char *const known[] = {"allow", NULL};
  const cJSON *allow, *item;
  hl_status st;
  if ((st = hl__opt_known(options, known)) || (st = hl__opt_strings(options, "allow", &allow)))
    return st;
  hl_tool_allowlist *list = hl_tool_allowlist_new();
  if (!list)
    return HL_ERR_NOMEM;
  cJSON_ArrayForEach(item, allow) {
    if ((st = hl_tool_allowlist_allow(list, item->valuestring)))
      goto fail;
  }
  if ((st = hl_tool_allowlist_install(list, hooks)))
    goto fail;
  *state = list;
  return HL_OK;
fail:
  hl_tool_allowlist_unref(list);
  return st;
}

static void allowlist_free(void *state)
{
  hl_tool_allowlist_unref(state);
}

HL_BUILTIN_PLUGIN(tool_allowlist, "tool_allowlist", "Only the listed tools may run",
                  allowlist_init, allowlist_free);
