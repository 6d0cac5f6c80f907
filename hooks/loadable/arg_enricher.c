/*
 * hooks/loadable/arg_enricher.c - the argument enricher in loadable form.
 * Options: {"rules": [{"tool": "search" | "*", "fields": {...},
 *                      "override": false}]}. State: the enricher.
 */
#include "descriptor.h"

static hl_status enricher_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  static const char *const known[] = {"rules", NULL};
  static const char *const rule_keys[] = {"tool", "fields", "override", NULL};
  const cJSON *rules = NULL, *rule;
  hl_status st;
  if ((st = hl__opt_known(options, known)))
    return st;
  rules = cJSON_GetObjectItemCaseSensitive(options, "rules");
  if (rules && !cJSON_IsArray(rules))
    return hl__opt_fail(HL_ERR_INVALID, "rules", -1, "expected an array of rules, got %s",
                        hl_json_type_name(rules));
  hl_arg_enricher *e = hl_arg_enricher_new();
  if (!e)
    return HL_ERR_NOMEM;
  long i = 0;
  cJSON_ArrayForEach(rule, rules) {
    const char *tool;
    const cJSON *fields;
    bool override;
    char *text = NULL;
    if (!cJSON_IsObject(rule)) {
      st = hl__opt_fail(HL_ERR_INVALID, "rules", i, "expected an object, got %s",
                        hl_json_type_name(rule));
      goto fail;
    }
    /* The helpers name "$.key"; say which rule it is in. */
    if ((st = hl__opt_known(rule, rule_keys)) || (st = hl__opt_string(rule, "tool", "*", &tool)) ||
        (st = hl__opt_object(rule, "fields", &fields)) ||
        (st = hl__opt_bool(rule, "override", false, &override))) {
      char why[512];
      snprintf(why, sizeof why, "%s", hl_last_error());
      hl_fail(st, "$.rules[%ld].%s", i, why + 2);
      goto fail;
    }
    if (!fields) {
      st = hl_fail(HL_ERR_INVALID, "$.rules[%ld].fields: required (an object of fields to add)", i);
      goto fail;
    }
    if ((st = hl_json_print(fields, &text)))
      goto fail;
    st = hl_arg_enricher_add(e, tool, text, override);
    hl_free(text);
    if (st)
      goto fail;
    i++;
  }
  if ((st = hl_arg_enricher_install(e, hooks)))
    goto fail;
  *state = e;
  return HL_OK;
fail:
  hl_arg_enricher_unref(e);
  return st;
}

static void enricher_free(void *state)
{
  hl_arg_enricher_unref(state);
}

HL_BUILTIN_PLUGIN(arg_enricher, "arg_enricher", "Adds or forces fields in tool arguments",
                  enricher_init, enricher_free);
