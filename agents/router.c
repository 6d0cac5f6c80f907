/*
 * agents/router.c - one model call picks the sub-agent that handles the
 * input.
 *
 * The selection call is made by a short-lived LLM agent run as a child of
 * the router, not by calling the provider directly: that way the model
 * call goes through the hook chains (caches, guardrails, logging) and the
 * observers like every other call, on branch "<router>/selector".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookline/agent.h"
#include "hookline/provider.h"
#include "hookline/workflow.h"
#include "workflow_util.h"

#define SELECTOR_NAME "selector"

typedef struct router {
  hl_provider *provider;
  char *model;
  char *fallback;
} router;

static void router_free(void *user_data)
{
  router *r = user_data;
  hl_provider_unref(r->provider);
  free(r->model);
  free(r->fallback);
  free(r);
}

/* "Pick one of: - name: description ..." built from the current children. */
static char *selector_instruction(hl_agent *self)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  if (!out)
    return NULL;
  fputs("You are a router. Choose the one agent best suited to handle the "
        "user's message. Agents:\n", out);
  size_t n = hl_agent_sub_agent_count(self);
  for (size_t i = 0; i < n; i++) {
    hl_agent *child = hl_agent_sub_agent_at(self, i);
    const char *desc = hl_agent_description(child);
    fprintf(out, "- %s: %s\n", hl_agent_name(child), desc && desc[0] ? desc : "(no description)");
  }
  fputs("Reply with the agent's name only, nothing else.", out);
  if (fclose(out) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

static bool is_name_char(unsigned char c)
{
  return isalnum(c) || c == '_' || c == '-';
}

/* The child the selector's answer names, or NULL. Exact name first (after
 * trimming decoration models like to add), then the earliest whole-word
 * mention. */
static hl_agent *parse_choice(hl_agent *self, const char *text)
{
  size_t n = hl_agent_sub_agent_count(self);
  const char *start = text;
  while (*start && (isspace((unsigned char)*start) || strchr("\"'`*", *start)))
    start++;
  size_t len = strlen(start);
  while (len > 0 && (isspace((unsigned char)start[len - 1]) ||
                     strchr("\"'`*.", start[len - 1])))
    len--;
  for (size_t i = 0; i < n; i++) {
    hl_agent *child = hl_agent_sub_agent_at(self, i);
    const char *name = hl_agent_name(child);
    if (strlen(name) == len && strncasecmp(start, name, len) == 0)
      return child;
  }
  hl_agent *best = NULL;
  const char *best_at = NULL;
  for (size_t i = 0; i < n; i++) {
    hl_agent *child = hl_agent_sub_agent_at(self, i);
    const char *name = hl_agent_name(child);
    size_t nlen = strlen(name);
    for (const char *p = text; *p; p++) {
      if (best_at && p >= best_at)
        break;
      if (strncasecmp(p, name, nlen) != 0)
        continue;
      if ((p == text || !is_name_char((unsigned char)p[-1])) &&
          !is_name_char((unsigned char)p[nlen])) {
        best = child;
        best_at = p;
        break;
      }
    }
  }
  return best;
}

/* Ask the model. On HL_OK *choice is the selector's answer (for hl_free). */
static hl_status select_child(hl_context *ctx, const router *r, hl_agent *self,
                              const char *input, char **choice)
{
  *choice = NULL;
  char *instruction = selector_instruction(self);
  hl_agent *selector = instruction ? hl_agent_new(SELECTOR_NAME) : NULL;
  hl_status st = HL_OK;
  if (!selector)
    st = hl_fail(HL_ERR_NOMEM, "router: cannot create the selector");
  if (st == HL_OK)
    st = hl_agent_set_instruction(selector, instruction);
  if (st == HL_OK)
    st = hl_agent_set_provider(selector, r->provider);
  if (st == HL_OK && r->model)
    st = hl_agent_set_model(selector, r->model);
  if (st == HL_OK) {
    /* One call, no tools: the answer is the name. */
    hl_agent_set_max_turns(selector, 1);
    /* Isolated: the routing exchange stays out of the conversation. */
    st = hl_context_run_agent(ctx, selector, input, HL_RUN_ISOLATED, choice);
  }
  hl_agent_unref(selector);
  free(instruction);
  return st;
}

static void emit_route(hl_context *ctx, hl_agent *chosen, bool fallback)
{
  cJSON *data = cJSON_CreateObject();
  if (data && cJSON_AddStringToObject(data, "agent", hl_agent_name(chosen)) &&
      cJSON_AddBoolToObject(data, "fallback", fallback))
    hl_context_emit_custom(ctx, "route", data);
  cJSON_Delete(data);
}

static hl_status router_run(hl_context *ctx, const char *input, char **answer,
                            void *user_data)
{
  const router *r = user_data;
  hl_agent *self = hl_context_agent(ctx);
  char *choice = NULL;
  hl_status st = select_child(ctx, r, self, input, &choice);
  if (hl__workflow_fatal(st) || st == HL_ERR_NOMEM) {
    hl_free(choice);
    return st;
  }
  char why[512] = "";
  hl_agent *chosen = NULL;
  if (st == HL_OK) {
    chosen = parse_choice(self, choice);
    if (!chosen)
      snprintf(why, sizeof why, "the selector answered \"%.200s\", which names no sub-agent",
               choice);
  } else {
    snprintf(why, sizeof why, "the selection call failed: %s", hl_last_error());
  }
  hl_free(choice);
  bool fell_back = false;
  if (!chosen) {
    if (!r->fallback)
      return hl_fail(HL_ERR_NOT_FOUND, "router agent \"%s\": %s and there is no fallback",
                     hl_context_agent_name(ctx), why);
    chosen = hl_agent_find_sub_agent(self, r->fallback);
    if (!chosen)
      return hl_fail(HL_ERR_NOT_FOUND,
                     "router agent \"%s\": %s and the fallback \"%s\" is not a sub-agent",
                     hl_context_agent_name(ctx), why, r->fallback);
    fell_back = true;
  }
  emit_route(ctx, chosen, fell_back);
  return hl__workflow_run_child(ctx, "router", chosen, input, HL_RUN_SHARED, answer);
}

hl_agent *hl_router_agent_new(const char *name, hl_provider *provider, const char *model,
                              const char *fallback)
{
  if (!provider) {
    hl_fail(HL_ERR_INVALID, "hl_router_agent_new: a provider is needed for the selection call");
    return NULL;
  }
  router *r = calloc(1, sizeof *r);
  if (!r || (model && !(r->model = strdup(model))) ||
      (fallback && !(r->fallback = strdup(fallback)))) {
    if (r) {
      free(r->model);
      free(r);
    }
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  r->provider = hl_provider_ref(provider);
  hl_agent *agent = hl_agent_new_custom(name, router_run, r);
  if (!agent) {
    router_free(r);
    return NULL;
  }
  hl_agent_set_free_fn(agent, router_free); /* a custom agent: cannot fail */
  return agent;
}
