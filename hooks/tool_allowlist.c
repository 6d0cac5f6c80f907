/*
 * hooks/tool_allowlist.c - only the listed tools may run.
 *
 * A before_tool override (H8) answers a call to any other tool with a
 * "denied" result instead of running it, so the model learns the tool is
 * off limits and can carry on, rather than the whole run failing.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/hooks.h"
#include "hookline/plugins.h"
#include "plugin_util.h"

struct hl_tool_allowlist {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  char **names;
  size_t n_names, cap_names;
  atomic_uint_fast64_t denied;
};

static void allowlist_destroy(void *self)
{
  hl_tool_allowlist *list = self;
  for (size_t i = 0; i < list->n_names; i++)
    free(list->names[i]);
  free(list->names);
  free(list);
}

hl_tool_allowlist *hl_tool_allowlist_new(void)
{
  hl_tool_allowlist *list = calloc(1, sizeof *list);
  if (!list) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&list->ref, allowlist_destroy);
  atomic_init(&list->denied, 0);
  return list;
}

hl_tool_allowlist *hl_tool_allowlist_ref(hl_tool_allowlist *list)
{
  hl__plugin_retain(list);
  return list;
}

void hl_tool_allowlist_unref(hl_tool_allowlist *list)
{
  hl__plugin_release(list);
}

bool hl_tool_allowlist_allows(const hl_tool_allowlist *list, const char *name)
{
  if (!list || !name)
    return false;
  /* Linear: allowlists are a handful of names, and a scan of short strings
   * beats hashing them at that size. */
  for (size_t i = 0; i < list->n_names; i++)
    if (strcmp(list->names[i], name) == 0)
      return true;
  return false;
}

hl_status hl_tool_allowlist_allow(hl_tool_allowlist *list, const char *name)
{
  if (!list || !name || !name[0])
    return hl_fail(HL_ERR_INVALID, "hl_tool_allowlist_allow: empty tool name");
  if (hl_tool_allowlist_allows(list, name))
    return HL_OK;
  if (list->n_names == list->cap_names) {
    size_t cap = list->cap_names ? list->cap_names * 2 : 8;
    char **grown = realloc(list->names, cap * sizeof *grown);
    if (!grown)
      return hl_fail(HL_ERR_NOMEM, "out of memory");
    list->names = grown;
    list->cap_names = cap;
  }
  char *copy = strdup(name);
  if (!copy)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  list->names[list->n_names++] = copy;
  return HL_OK;
}

static hl_hook_action allowlist_before_tool(hl_context *ctx, const hl_before_tool_args *args,
                                            hl_before_tool_out *out, void *ud)
{
  (void)ctx;
  hl_tool_allowlist *list = ud;
  const hl_tool_call *call = args->call;
  const char *name = call && call->name ? call->name : "";
  if (hl_tool_allowlist_allows(list, name))
    return HL_HOOK_CONTINUE;
  char message[160];
  snprintf(message, sizeof message, "tool \"%.64s\" is not on the allowlist", name);
  cJSON *denial = cJSON_CreateObject();
  if (!denial || !cJSON_AddStringToObject(denial, "error", "denied") ||
      !cJSON_AddStringToObject(denial, "message", message)) {
    cJSON_Delete(denial);
    /* Without a denial result the only safe outcome is to stop. */
    return hl_hook_abort("tool_allowlist: %s (out of memory)", message);
  }
  atomic_fetch_add(&list->denied, 1);
  out->result = denial;
  return HL_HOOK_OVERRIDE;
}

hl_status hl_tool_allowlist_install(hl_tool_allowlist *list, hl_hooks *hooks)
{
  if (!list || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_tool_allowlist_install: NULL argument");
  return hl__plugin_add(list, hooks, HL_HOOK_BEFORE_TOOL, "tool_allowlist", HL_HOOK_DECIDE,
                        (hl_hook_fn){.before_tool = allowlist_before_tool});
}

uint64_t hl_tool_allowlist_denied(const hl_tool_allowlist *list)
{
  return list ? atomic_load(&((hl_tool_allowlist *)list)->denied) : 0;
}
