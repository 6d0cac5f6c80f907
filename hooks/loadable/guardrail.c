/*
 * hooks/loadable/guardrail.c - the input guardrail in loadable form.
 * Options: {"refusal": "...", "words": ["..."], "patterns": ["regex"]}.
 * State: the hl_guardrail.
 */
#include "descriptor.h"

static hl_status guardrail_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  static const char *const known[] = {"refusal", "words", "patterns", NULL};
  const char *refusal;
  const cJSON *words, *patterns, *item;
  hl_status st;
  if ((st = hl__opt_known(options, known)) ||
      (st = hl__opt_string(options, "refusal", NULL, &refusal)) ||
      (st = hl__opt_strings(options, "words", &words)) ||
      (st = hl__opt_strings(options, "patterns", &patterns)))
    return st;
  hl_guardrail *g = hl_guardrail_new(refusal);
  if (!g)
    return HL_ERR_NOMEM;
  long i = 0;
  cJSON_ArrayForEach(item, words) {
    if ((st = hl_guardrail_block_word(g, item->valuestring)))
      goto fail;
    i++;
  }
  i = 0;
  cJSON_ArrayForEach(item, patterns) {
    if ((st = hl_guardrail_block_regex(g, item->valuestring))) {
      char why[512];
      snprintf(why, sizeof why, "%s", hl_last_error());
      st = hl__opt_fail(st, "patterns", i, "%s", why);
      goto fail;
    }
    i++;
  }
  if ((st = hl_guardrail_install(g, hooks)))
    goto fail;
  *state = g;
  return HL_OK;
fail:
  hl_guardrail_unref(g);
  return st;
}

static void guardrail_free(void *state)
{
  hl_guardrail_unref(state);
}

HL_BUILTIN_PLUGIN(guardrail, "guardrail", "Refuses inputs with blocked words or patterns",
                  guardrail_init, guardrail_free);
