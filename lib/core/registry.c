/*
 * registry.c - a named set of tools in insertion order.
 *
 * Lookup is a linear scan: agents hold a handful to a few dozen tools, and
 * comparing a few short names beats hashing for that size.
 */
#include <stdlib.h>
#include <string.h>

#include "hookline/tool.h"
#include "util.h"

struct hl_tools {
  hl_tool **items;
  size_t count;
  size_t cap;
};

hl_tools *hl_tools_new(void) {
  hl_tools *t = calloc(1, sizeof *t);
  if (!t) hl__oom();
  return t;
}

void hl_tools_free(hl_tools *tools) {
  if (!tools) return;
  for (size_t i = 0; i < tools->count; i++) hl_tool_unref(tools->items[i]);
  free(tools->items);
  free(tools);
}

static size_t index_of(const hl_tools *tools, const char *name) {
  for (size_t i = 0; i < tools->count; i++)
    if (strcmp(hl_tool_name(tools->items[i]), name) == 0) return i;
  return (size_t)-1;
}

hl_status hl_tools_add(hl_tools *tools, hl_tool *tool) {
  if (!tools || !tool) return hl_fail(HL_ERR_INVALID, "hl_tools_add: NULL registry or tool");
  if (index_of(tools, hl_tool_name(tool)) != (size_t)-1)
    return hl_fail(HL_ERR_EXISTS, "a tool named \"%s\" is already registered", hl_tool_name(tool));
  hl_status st = hl__reserve((void **)&tools->items, &tools->cap, tools->count + 1, sizeof(hl_tool *));
  if (st) return st;
  tools->items[tools->count++] = hl_tool_ref(tool);
  return HL_OK;
}

hl_tool *hl_tools_find(const hl_tools *tools, const char *name) {
  if (!tools || !name) {
    hl_fail(HL_ERR_INVALID, "hl_tools_find: NULL registry or name");
    return NULL;
  }
  size_t i = index_of(tools, name);
  return i == (size_t)-1 ? NULL : tools->items[i];
}

size_t hl_tools_count(const hl_tools *tools) { return tools ? tools->count : 0; }

hl_tool *hl_tools_at(const hl_tools *tools, size_t i) {
  return tools && i < tools->count ? tools->items[i] : NULL;
}

hl_status hl_tools_remove(hl_tools *tools, const char *name) {
  if (!tools || !name) return hl_fail(HL_ERR_INVALID, "hl_tools_remove: NULL registry or name");
  size_t i = index_of(tools, name);
  if (i == (size_t)-1) {
    char q[96];
    hl__quote(q, sizeof q, name);
    return hl_fail(HL_ERR_NOT_FOUND, "no tool named %s", q);
  }
  hl_tool *t = tools->items[i];
  memmove(&tools->items[i], &tools->items[i + 1], (tools->count - i - 1) * sizeof(hl_tool *));
  tools->count--;
  hl_tool_unref(t);
  return HL_OK;
}
