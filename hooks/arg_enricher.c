/*
 * hooks/arg_enricher.c - add or force fields in tool arguments.
 *
 * The before_tool hook replaces the arguments through the pointer it is
 * given (H7): it builds an enriched copy, frees the old tree and puts the
 * copy in its place, so the tool, the TOOL_START/TOOL_END events and the
 * after_tool hooks all see the enriched arguments.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/hooks.h"
#include "hookline/json.h"
#include "hookline/plugins.h"
#include "plugin_util.h"

typedef struct enrich_rule {
  char *tool;       /* NULL: every tool */
  cJSON *fields;    /* an object */
  bool override;
} enrich_rule;

struct hl_arg_enricher {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  enrich_rule *rules;
  size_t n_rules, cap_rules;
  atomic_uint_fast64_t applied;
};

static void enricher_destroy(void *self)
{
  hl_arg_enricher *e = self;
  for (size_t i = 0; i < e->n_rules; i++) {
    free(e->rules[i].tool);
    cJSON_Delete(e->rules[i].fields);
  }
  free(e->rules);
  free(e);
}

hl_arg_enricher *hl_arg_enricher_new(void)
{
  hl_arg_enricher *e = calloc(1, sizeof *e);
  if (!e) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&e->ref, enricher_destroy);
  atomic_init(&e->applied, 0);
  return e;
}

hl_arg_enricher *hl_arg_enricher_ref(hl_arg_enricher *enricher)
{
  hl__plugin_retain(enricher);
  return enricher;
}

void hl_arg_enricher_unref(hl_arg_enricher *enricher)
{
  hl__plugin_release(enricher);
}

hl_status hl_arg_enricher_add(hl_arg_enricher *enricher, const char *tool,
                              const char *fields_json, bool override)
{
  if (!enricher || !fields_json)
    return hl_fail(HL_ERR_INVALID, "hl_arg_enricher_add: NULL argument");
  cJSON *fields = NULL;
  hl_status st = hl_json_parse(fields_json, (size_t)-1, &fields);
  if (st != HL_OK)
    return st;
  if (!cJSON_IsObject(fields)) {
    cJSON_Delete(fields);
    return hl_fail(HL_ERR_INVALID, "hl_arg_enricher_add: fields must be a JSON object");
  }
  char *name = NULL;
  if (tool && strcmp(tool, "*") != 0 && !(name = strdup(tool))) {
    cJSON_Delete(fields);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  if (enricher->n_rules == enricher->cap_rules) {
    size_t cap = enricher->cap_rules ? enricher->cap_rules * 2 : 4;
    enrich_rule *grown = realloc(enricher->rules, cap * sizeof *grown);
    if (!grown) {
      free(name);
      cJSON_Delete(fields);
      return hl_fail(HL_ERR_NOMEM, "out of memory");
    }
    enricher->rules = grown;
    enricher->cap_rules = cap;
  }
  enricher->rules[enricher->n_rules++] = (enrich_rule){name, fields, override};
  return HL_OK;
}

/* Merge one rule's fields into `args` (an object we own). Returns false on
 * out of memory; *changed tells whether anything was written. */
static bool apply_rule(cJSON *args, const enrich_rule *r, bool *changed)
{
  for (const cJSON *f = r->fields->child; f; f = f->next) {
    cJSON *present = cJSON_GetObjectItemCaseSensitive(args, f->string);
    if (present && (!r->override || hl_json_equal(present, f)))
      continue;
    cJSON *value = cJSON_Duplicate(f, true);
    if (!value)
      return false;
    if (present) {
      if (!cJSON_ReplaceItemInObjectCaseSensitive(args, f->string, value)) {
        cJSON_Delete(value);
        return false;
      }
    } else if (!cJSON_AddItemToObject(args, f->string, value)) {
      cJSON_Delete(value);
      return false;
    }
    *changed = true;
  }
  return true;
}

static hl_hook_action enricher_before_tool(hl_context *ctx, const hl_before_tool_args *a,
                                           hl_before_tool_out *out, void *ud)
{
  (void)ctx;
  hl_arg_enricher *e = ud;
  const hl_tool_call *call = a->call;
  const char *name = call && call->name ? call->name : "";
  cJSON **args = &out->args; /* the call's own copy (HL_HOOK_EDIT_ARGS) */
  if (!*args)
    return HL_HOOK_CONTINUE;
  cJSON *copy = NULL;
  bool changed = false;
  for (size_t i = 0; i < e->n_rules; i++) {
    const enrich_rule *r = &e->rules[i];
    if (r->tool && strcmp(r->tool, name) != 0)
      continue;
    if (!copy) {
      /* Arguments that are not an object (the schema check will reject
       * them anyway) are left alone rather than silently replaced. */
      if (*args && !cJSON_IsObject(*args))
        return HL_HOOK_CONTINUE;
      copy = *args ? cJSON_Duplicate(*args, true) : cJSON_CreateObject();
      if (!copy)
        return hl_hook_abort("arg_enricher: out of memory enriching \"%s\"", name);
    }
    if (!apply_rule(copy, r, &changed)) {
      cJSON_Delete(copy);
      return hl_hook_abort("arg_enricher: out of memory enriching \"%s\"", name);
    }
  }
  if (!changed) {
    cJSON_Delete(copy);
    return HL_HOOK_CONTINUE;
  }
  /* Replace by pointer: the old tree is ours to free (hooks.h). It can
   * abort only when out of memory: a DECIDE it must declare. */
  cJSON_Delete(*args);
  *args = copy;
  atomic_fetch_add(&e->applied, 1);
  return HL_HOOK_CONTINUE;
}

hl_status hl_arg_enricher_install(hl_arg_enricher *enricher, hl_hooks *hooks)
{
  if (!enricher || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_arg_enricher_install: NULL argument");
  return hl__plugin_add(enricher, hooks, HL_HOOK_BEFORE_TOOL, "arg_enricher",
                        HL_HOOK_EDIT_ARGS | HL_HOOK_DECIDE,
                        (hl_hook_fn){.before_tool = enricher_before_tool});
}

uint64_t hl_arg_enricher_applied(const hl_arg_enricher *enricher)
{
  return enricher ? atomic_load(&((hl_arg_enricher *)enricher)->applied) : 0;
}
