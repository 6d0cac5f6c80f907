/*
 * agent.c - the agent object: configuration, reference counting,
 * sub-agent lists, forks and custom agents. The run itself is in run.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "core/util.h"
#include "hookline/json.h"

static bool hl_agent_name_ok(const char *name) {
  if (!name) return false;
  size_t n = strlen(name);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-'))
      return false;
  }
  return true;
}

static hl_agent *hl_agent_alloc(const char *name, const char *fn_name) {
  if (!hl_agent_name_ok(name)) {
    char q[96];
    hl__quote(q, sizeof q, name ? name : "(null)");
    hl_fail(HL_ERR_INVALID, "%s: agent name %s must match [A-Za-z0-9_-]{1,64}", fn_name, q);
    return NULL;
  }
  hl_agent *a = calloc(1, sizeof *a);
  if (!a) {
    hl__oom();
    return NULL;
  }
  atomic_init(&a->refs, 1);
  atomic_init(&a->cancel_gen, 0);
  pthread_mutex_init(&a->lock, NULL);
  a->kind = HL__AGENT_LLM;
  a->max_turns = 10;
  a->response_retries = 1;
  a->parallel_tools = 8;
  a->temperature = -1;
  a->name = hl__strdup(name);
  a->tools = hl_tools_new();
  a->hooks = hl_hooks_new();
  a->session = hl_session_new(NULL, NULL, NULL);
  if (!a->name || !a->tools || !a->hooks || !a->session) {
    hl_agent_unref(a);
    hl__oom();
    return NULL;
  }
  return a;
}

hl_agent *hl_agent_new(const char *name) { return hl_agent_alloc(name, "hl_agent_new"); }

hl_agent *hl_agent_new_custom(const char *name, hl_agent_run_fn fn, void *user_data) {
  if (!fn) {
    hl_fail(HL_ERR_INVALID, "hl_agent_new_custom: run function is NULL");
    return NULL;
  }
  hl_agent *a = hl_agent_alloc(name, "hl_agent_new_custom");
  if (!a) return NULL;
  a->kind = HL__AGENT_CUSTOM;
  a->custom_fn = fn;
  a->custom_user_data = user_data;
  return a;
}

hl_status hl_agent_set_free_fn(hl_agent *agent, hl_free_fn free_fn) {
  if (!agent)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_free_fn: agent is NULL");
  if (agent->kind != HL__AGENT_CUSTOM)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_free_fn: \"%s\" is not a custom agent "
                   "(only hl_agent_new_custom() takes user_data)", agent->name);
  agent->custom_free = free_fn;
  return HL_OK;
}

hl_agent *hl_agent_ref(hl_agent *agent) {
  if (agent) atomic_fetch_add_explicit(&agent->refs, 1, memory_order_relaxed);
  return agent;
}

void hl_agent_unref(hl_agent *a) {
  if (!a) return;
  if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
  if (a->custom_free) a->custom_free(a->custom_user_data);
  hl_hooks_free(a->hooks);
  hl_tools_free(a->tools);
  for (size_t i = 0; i < a->n_observers; i++) hl_observer_unref(a->observers[i]);
  free(a->observers);
  for (size_t i = 0; i < a->n_subs; i++) hl_agent_unref(a->subs[i]);
  free(a->subs);
  for (size_t i = 0; i < a->n_stop; i++) free(a->stop[i]);
  free(a->stop);
  hl_provider_unref(a->provider);
  hl_session_free(a->session);
  cJSON_Delete(a->response_schema);
  free(a->response_format_name);
  free(a->tool_choice_name);
  free(a->output_key);
  free(a->model);
  free(a->description);
  free(a->instruction);
  hl_message_free(a->system_msg);
  free(a->name);
  hl_agent_unref(a->origin);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

/* Replace an owned string field with a copy of `value` (NULL clears). */
static hl_status hl_set_string(char **field, const char *value) {
  char *copy = NULL;
  if (value && !(copy = hl__strdup(value))) return hl__oom();
  free(*field);
  *field = copy;
  return HL_OK;
}

#define HL_REQUIRE_AGENT(a, fn)                                      \
  do {                                                               \
    if (!(a)) return hl_fail(HL_ERR_INVALID, fn ": agent is NULL"); \
  } while (0)

const char *hl_agent_name(const hl_agent *agent) { return agent ? agent->name : ""; }

hl_status hl_agent_set_instruction(hl_agent *agent, const char *instruction) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_instruction");
  hl_message *sys = NULL;
  if (instruction && instruction[0] && !(sys = hl_message_new_text(HL_ROLE_SYSTEM, instruction)))
    return hl__oom();
  hl_status st = hl_set_string(&agent->instruction, instruction);
  if (st != HL_OK) {
    hl_message_free(sys);
    return st;
  }
  hl_message_free(agent->system_msg);
  agent->system_msg = sys;
  return HL_OK;
}
const char *hl_agent_instruction(const hl_agent *agent) {
  return agent ? agent->instruction : NULL;
}
hl_status hl_agent_set_description(hl_agent *agent, const char *description) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_description");
  return hl_set_string(&agent->description, description);
}
const char *hl_agent_description(const hl_agent *agent) {
  return agent ? agent->description : NULL;
}

hl_status hl_agent_set_provider(hl_agent *agent, hl_provider *provider) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_provider");
  hl_provider_ref(provider);
  hl_provider_unref(agent->provider);
  agent->provider = provider;
  return HL_OK;
}
hl_provider *hl_agent_provider(const hl_agent *agent) { return agent ? agent->provider : NULL; }

hl_status hl_agent_set_model(hl_agent *agent, const char *model) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_model");
  return hl_set_string(&agent->model, model);
}

hl_status hl_agent_add_tool(hl_agent *agent, hl_tool *tool) {
  HL_REQUIRE_AGENT(agent, "hl_agent_add_tool");
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_agent_add_tool: tool is NULL");
  hl_agent *runs = hl__tool_agent(tool);
  if (runs && hl__agent_reaches(runs, agent))
    return hl_fail(HL_ERR_INVALID,
                   "hl_agent_add_tool: tool \"%s\" runs agent \"%s\", which holds agent \"%s\" "
                   "(or is it): the references would form a cycle that is never freed",
                   hl_tool_name(tool), runs->name, agent->name);
  return hl_tools_add(agent->tools, tool);
}
hl_tools *hl_agent_tools(hl_agent *agent) { return agent ? agent->tools : NULL; }
hl_hooks *hl_agent_hooks(hl_agent *agent) { return agent ? agent->hooks : NULL; }

hl_status hl_agent_add_observer(hl_agent *agent, hl_observer *obs) {
  HL_REQUIRE_AGENT(agent, "hl_agent_add_observer");
  if (!obs) return hl_fail(HL_ERR_INVALID, "hl_agent_add_observer: observer is NULL");
  if (hl__reserve((void **)&agent->observers, &agent->cap_observers, agent->n_observers + 1,
                  sizeof *agent->observers) != HL_OK)
    return HL_ERR_NOMEM;
  agent->observers[agent->n_observers++] = hl_observer_ref(obs);
  return HL_OK;
}

hl_status hl_agent_set_max_turns(hl_agent *agent, int max_turns) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_max_turns");
  if (max_turns < 1)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_max_turns: %d is not a turn limit (>= 1)", max_turns);
  agent->max_turns = max_turns;
  return HL_OK;
}
hl_status hl_agent_set_parallel_tools(hl_agent *agent, int max_threads) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_parallel_tools");
  if (max_threads < 1)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_parallel_tools: %d threads (>= 1)", max_threads);
  agent->parallel_tools = max_threads;
  return HL_OK;
}
hl_status hl_agent_set_temperature(hl_agent *agent, double temperature) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_temperature");
  if (!(temperature >= 0) && temperature != -1)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_temperature: %g (>= 0, or -1 for unset)", temperature);
  agent->temperature = temperature;
  return HL_OK;
}
hl_status hl_agent_set_max_tokens(hl_agent *agent, int max_tokens) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_max_tokens");
  if (max_tokens < 0)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_max_tokens: %d (>= 1, or 0 for unset)", max_tokens);
  agent->max_tokens = max_tokens;
  return HL_OK;
}

hl_status hl_agent_add_stop(hl_agent *agent, const char *stop) {
  HL_REQUIRE_AGENT(agent, "hl_agent_add_stop");
  if (!stop) return hl_fail(HL_ERR_INVALID, "hl_agent_add_stop: stop is NULL");
  if (hl__reserve((void **)&agent->stop, &agent->cap_stop, agent->n_stop + 1,
                  sizeof *agent->stop) != HL_OK)
    return HL_ERR_NOMEM;
  char *copy = hl__strdup(stop);
  if (!copy) return hl__oom();
  agent->stop[agent->n_stop++] = copy;
  return HL_OK;
}

hl_status hl_agent_set_tool_choice(hl_agent *agent, hl_tool_choice choice, const char *name) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_tool_choice");
  if ((unsigned)choice > HL_TOOL_CHOICE_NAMED)
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_tool_choice: unknown choice %d", (int)choice);
  if (choice == HL_TOOL_CHOICE_NAMED && (!name || !*name))
    return hl_fail(HL_ERR_INVALID, "hl_agent_set_tool_choice: a named choice needs the tool's name");
  hl_status st = hl_set_string(&agent->tool_choice_name, choice == HL_TOOL_CHOICE_NAMED ? name : NULL);
  if (st == HL_OK) agent->tool_choice = choice;
  return st;
}

hl_status hl_agent_set_response_schema(hl_agent *agent, const char *name,
                                       const cJSON *schema) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_response_schema");
  if (!schema) {
    cJSON_Delete(agent->response_schema);
    agent->response_schema = NULL;
    return hl_set_string(&agent->response_format_name, NULL);
  }
  cJSON *copy = hl_json_clone(schema);
  if (!copy) return hl__oom();
  hl_status st = hl_set_string(&agent->response_format_name, name ? name : "response");
  if (st != HL_OK) {
    cJSON_Delete(copy);
    return st;
  }
  cJSON_Delete(agent->response_schema);
  agent->response_schema = copy;
  return HL_OK;
}

hl_status hl_agent_set_stream(hl_agent *agent, bool stream) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_stream");
  agent->stream = stream;
  return HL_OK;
}
hl_status hl_agent_set_token_callback(hl_agent *agent, hl_token_fn fn, void *user_data) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_token_callback");
  agent->token_fn = fn;
  agent->token_user_data = user_data;
  return HL_OK;
}

hl_status hl_agent_set_output_key(hl_agent *agent, const char *key) {
  HL_REQUIRE_AGENT(agent, "hl_agent_set_output_key");
  return hl_set_string(&agent->output_key, key);
}
const char *hl_agent_output_key(const hl_agent *agent) {
  return agent ? agent->output_key : NULL;
}

hl_session *hl_agent_session(hl_agent *agent) { return agent ? agent->session : NULL; }

void hl_agent_cancel(hl_agent *agent) {
  if (!agent) return;
  atomic_fetch_add_explicit(&agent->cancel_gen, 1, memory_order_acq_rel);
  /* After the bump: whoever registers from now on sees the run cancelled
   * (sandboxes, tools waiting on hl_context_on_cancel()); the one
   * announcement also tells the HTTP event loop to look (it does not
   * poll). */
  hl__ctx_notify_cancel();
}

/* A number for the calling thread that no other thread of the process
 * ever gets (pthread_t values are reused after a thread ends). */
hl_usage hl_agent_last_usage(const hl_agent *agent) {
  hl_usage u = {0};
  if (!agent) return u;
  hl_agent *a = (hl_agent *)agent; /* the lock is not part of the value */
  pthread_mutex_lock(&a->lock);
  u = a->last_usage;
  pthread_mutex_unlock(&a->lock);
  return u;
}

/* ------------------------------------------------------------------ */
/* Sub-agent lists                                                     */
/* ------------------------------------------------------------------ */

hl_status hl_agent_add_sub_agent(hl_agent *agent, hl_agent *child) {
  HL_REQUIRE_AGENT(agent, "hl_agent_add_sub_agent");
  if (!child) return hl_fail(HL_ERR_INVALID, "hl_agent_add_sub_agent: child is NULL");
  if (hl__agent_reaches(child, agent))
    return hl_fail(HL_ERR_INVALID,
                   "hl_agent_add_sub_agent: agent \"%s\" holds agent \"%s\" (or is it): the "
                   "references would form a cycle that is never freed",
                   child->name, agent->name);
  if (hl__reserve((void **)&agent->subs, &agent->cap_subs, agent->n_subs + 1,
                  sizeof *agent->subs) != HL_OK)
    return HL_ERR_NOMEM;
  agent->subs[agent->n_subs++] = hl_agent_ref(child);
  return HL_OK;
}
size_t hl_agent_sub_agent_count(const hl_agent *agent) { return agent ? agent->n_subs : 0; }
hl_agent *hl_agent_sub_agent_at(const hl_agent *agent, size_t i) {
  return agent && i < agent->n_subs ? agent->subs[i] : NULL;
}
hl_agent *hl_agent_find_sub_agent(const hl_agent *agent, const char *name) {
  if (!agent || !name) return NULL;
  for (size_t i = 0; i < agent->n_subs; i++)
    if (strcmp(agent->subs[i]->name, name) == 0) return agent->subs[i];
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Fork                                                                */
/* ------------------------------------------------------------------ */

static hl_status hl_fork_copy(hl_agent *f, const hl_agent *a) {
  hl_status st = HL_OK;
  if ((a->instruction && hl_agent_set_instruction(f, a->instruction) != HL_OK) ||
      (a->description && !(f->description = hl__strdup(a->description))) ||
      (a->model && !(f->model = hl__strdup(a->model))) ||
      (a->output_key && !(f->output_key = hl__strdup(a->output_key))) ||
      (a->tool_choice_name && !(f->tool_choice_name = hl__strdup(a->tool_choice_name))))
    return hl__oom();
  f->provider = hl_provider_ref(a->provider);
  for (size_t i = 0; st == HL_OK && i < hl_tools_count(a->tools); i++)
    st = hl_tools_add(f->tools, hl_tools_at(a->tools, i));
  if (st == HL_OK) st = hl__hooks_copy_into(f->hooks, a->hooks);
  for (size_t i = 0; st == HL_OK && i < a->n_observers; i++)
    st = hl_agent_add_observer(f, a->observers[i]);
  for (size_t i = 0; st == HL_OK && i < a->n_subs; i++) st = hl_agent_add_sub_agent(f, a->subs[i]);
  for (size_t i = 0; st == HL_OK && i < a->n_stop; i++) st = hl_agent_add_stop(f, a->stop[i]);
  if (st == HL_OK && a->response_schema)
    st = hl_agent_set_response_schema(f, a->response_format_name, a->response_schema);
  if (st != HL_OK) return st;
  f->max_turns = a->max_turns;
  f->response_retries = a->response_retries;
  f->parallel_tools = a->parallel_tools;
  f->temperature = a->temperature;
  f->max_tokens = a->max_tokens;
  f->tool_choice = a->tool_choice;
  f->stream = a->stream;
  f->token_fn = a->token_fn;
  f->token_user_data = a->token_user_data;
  return HL_OK;
}

hl_agent *hl_agent_fork(const hl_agent *agent, const char *name) {
  if (!agent) {
    hl_fail(HL_ERR_INVALID, "hl_agent_fork: agent is NULL");
    return NULL;
  }
  hl_agent *f = hl_agent_alloc(name ? name : agent->name, "hl_agent_fork");
  if (!f) return NULL;
  f->kind = agent->kind;
  f->custom_fn = agent->custom_fn;
  f->custom_user_data = agent->custom_user_data; /* owned by the origin */
  f->origin = hl_agent_ref((hl_agent *)agent);
  if (hl_fork_copy(f, agent) != HL_OK) {
    hl_status st = hl_last_status();
    char msg[HL__MSG_MAX];
    snprintf(msg, sizeof msg, "%s", hl_last_error());
    hl_agent_unref(f);
    hl_fail(st ? st : HL_ERR_NOMEM, "hl_agent_fork: %s", msg);
    return NULL;
  }
  return f;
}
