/*
 * hooks/guardrail.c - refuse user inputs with blocked words or patterns.
 *
 * The check runs in before_agent, so a refused input never reaches a
 * model or a tool: the override's refusal is the run's answer (H4).
 */
#include <ctype.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookline/context.h"
#include "hookline/hooks.h"
#include "hookline/plugins.h"
#include "plugin_util.h"

#define DEFAULT_REFUSAL "I can't help with that request."

typedef struct rule {
  char *text;       /* the word or the pattern, as given (reported) */
  bool is_regex;
  regex_t re;       /* is_regex only */
} rule;

struct hl_guardrail {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  char *refusal;
  rule *rules;
  size_t n_rules, cap_rules;
  atomic_uint_fast64_t blocked;
};

static void guardrail_destroy(void *self)
{
  hl_guardrail *g = self;
  for (size_t i = 0; i < g->n_rules; i++) {
    if (g->rules[i].is_regex)
      regfree(&g->rules[i].re);
    free(g->rules[i].text);
  }
  free(g->rules);
  free(g->refusal);
  free(g);
}

hl_guardrail *hl_guardrail_new(const char *refusal)
{
  hl_guardrail *g = calloc(1, sizeof *g);
  if (!g) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  g->refusal = hl__plugin_strdup(refusal ? refusal : DEFAULT_REFUSAL);
  if (!g->refusal) {
    free(g);
    return NULL;
  }
  hl__plugin_ref_init(&g->ref, guardrail_destroy);
  atomic_init(&g->blocked, 0);
  return g;
}

hl_guardrail *hl_guardrail_ref(hl_guardrail *guardrail)
{
  hl__plugin_retain(guardrail);
  return guardrail;
}

void hl_guardrail_unref(hl_guardrail *guardrail)
{
  hl__plugin_release(guardrail);
}

static rule *rule_slot(hl_guardrail *g)
{
  if (g->n_rules == g->cap_rules) {
    size_t cap = g->cap_rules ? g->cap_rules * 2 : 8;
    rule *grown = realloc(g->rules, cap * sizeof *grown);
    if (!grown)
      return NULL;
    g->rules = grown;
    g->cap_rules = cap;
  }
  rule *r = &g->rules[g->n_rules];
  memset(r, 0, sizeof *r);
  return r;
}

hl_status hl_guardrail_block_word(hl_guardrail *guardrail, const char *word)
{
  if (!guardrail || !word || !word[0])
    return hl_fail(HL_ERR_INVALID, "hl_guardrail_block_word: empty word");
  rule *r = rule_slot(guardrail);
  if (!r || !(r->text = strdup(word)))
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  guardrail->n_rules++;
  return HL_OK;
}

hl_status hl_guardrail_block_regex(hl_guardrail *guardrail, const char *pattern)
{
  if (!guardrail || !pattern)
    return hl_fail(HL_ERR_INVALID, "hl_guardrail_block_regex: NULL argument");
  rule *r = rule_slot(guardrail);
  if (!r || !(r->text = strdup(pattern)))
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  int rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);
  if (rc != 0) {
    char why[256];
    regerror(rc, &r->re, why, sizeof why);
    free(r->text);
    r->text = NULL;
    return hl_fail(HL_ERR_INVALID, "guardrail pattern \"%s\": %s", pattern, why);
  }
  r->is_regex = true;
  guardrail->n_rules++;
  return HL_OK;
}

static bool is_word_char(unsigned char c)
{
  /* Bytes >= 0x80 belong to UTF-8 letters: treat them as word characters
   * so "café" does not match inside "cafés". */
  return isalnum(c) || c == '_' || c >= 0x80;
}

/* `word` occurs in `text` with no word character right before or after it. */
static bool contains_word(const char *text, const char *word)
{
  size_t wlen = strlen(word);
  for (const char *p = text; *p; p++) {
    if (strncasecmp(p, word, wlen) != 0)
      continue;
    bool starts = p == text || !is_word_char((unsigned char)p[-1]) ||
                  !is_word_char((unsigned char)word[0]);
    bool ends = !is_word_char((unsigned char)p[wlen]) ||
                !is_word_char((unsigned char)word[wlen - 1]);
    if (starts && ends)
      return true;
  }
  return false;
}

const char *hl_guardrail_check(const hl_guardrail *guardrail, const char *input)
{
  if (!guardrail || !input)
    return NULL;
  for (size_t i = 0; i < guardrail->n_rules; i++) {
    const rule *r = &guardrail->rules[i];
    bool hit = r->is_regex ? regexec(&r->re, input, 0, NULL, 0) == 0
                           : contains_word(input, r->text);
    if (hit)
      return r->text;
  }
  return NULL;
}

static hl_hook_action guardrail_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                             hl_before_agent_out *out, void *ud)
{
  hl_guardrail *g = ud;
  const char *rule_text = hl_guardrail_check(g, args->input);
  if (!rule_text)
    return HL_HOOK_CONTINUE;
  char *refusal = strdup(g->refusal);
  if (!refusal)   /* cannot answer, but must not let the input through */
    return hl_hook_abort("guardrail: input blocked (out of memory for the refusal)");
  atomic_fetch_add(&g->blocked, 1);
  cJSON *data = cJSON_CreateObject();
  if (data && cJSON_AddStringToObject(data, "rule", rule_text))
    hl_context_emit_custom(ctx, "guardrail_blocked", data);
  cJSON_Delete(data);
  out->answer = refusal;
  return HL_HOOK_OVERRIDE;
}

hl_status hl_guardrail_install(hl_guardrail *guardrail, hl_hooks *hooks)
{
  if (!guardrail || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_guardrail_install: NULL argument");
  return hl__plugin_add(guardrail, hooks, HL_HOOK_BEFORE_AGENT, "guardrail", HL_HOOK_DECIDE,
                        (hl_hook_fn){.before_agent = guardrail_before_agent});
}

uint64_t hl_guardrail_blocked(const hl_guardrail *guardrail)
{
  return guardrail ? atomic_load(&((hl_guardrail *)guardrail)->blocked) : 0;
}
