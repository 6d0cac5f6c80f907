/*
 * agents/code_agent.c - an LLM agent that works in "code mode": its one
 * visible tool runs JavaScript in the sandbox, and its other tools are
 * async functions inside that JavaScript.
 *
 * Why a hook: the agent's tools must stay on the agent (the code tool
 * calls them through hl_context_call_tool(), so hooks and events apply to
 * every call made from JavaScript), yet the model should see only
 * run_javascript and learn the others as functions. A before_model hook
 * does that at request time: it moves every other tool declaration out of
 * the request and into the system message as a function reference. Doing
 * it per request means tools added after construction are covered too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/agent.h"
#include "hookline/hooks.h"
#include "hookline/json.h"
#include "hookline/sandbox.h"
#include "hookline/workflow.h"

#define CODE_TOOL "run_javascript"

static const char code_mode_instruction[] =
    "You work in code mode. To act, call the tool " CODE_TOOL " with JavaScript "
    "in its `code` argument. Inside that code every function listed below is "
    "an async function taking one object argument:\n"
    "  const r = await get_weather({city: \"Oslo\"});\n"
    "Run independent calls at the same time with await Promise.all([...]). "
    "A failing function throws an error whose `kind` is InvalidArguments, "
    "ExecutionFailed, NotFound or Timeout and whose `message` says why; use "
    "try/catch to recover. The value of the last expression is returned to "
    "you as `result`, and console.log output as `stdout`. Do the whole task in "
    "as few runs as you can: loop, filter and combine results in the code "
    "instead of asking for one call at a time. There is no network, file "
    "system, require, process or timer. When you know the answer, reply with "
    "it in plain text without calling a tool.";

static bool declares_code_tool(const hl_request *req)
{
  for (size_t i = 0; i < req->n_tools; i++)
    if (req->tools[i].name && strcmp(req->tools[i].name, CODE_TOOL) == 0)
      return true;
  return false;
}

/* "- name(args): description\n  parameters: {schema}" per hidden tool. */
static char *function_reference(const hl_request *req)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  if (!out)
    return NULL;
  fputs("\n\nFunctions available inside " CODE_TOOL ":\n", out);
  size_t listed = 0;
  for (size_t i = 0; i < req->n_tools; i++) {
    const hl_tool_decl *d = &req->tools[i];
    if (!d->name || strcmp(d->name, CODE_TOOL) == 0)
      continue;
    char *schema = NULL;
    if (d->parameters)
      hl_json_print(d->parameters, &schema);
    fprintf(out, "- await %s(args): %s\n  args schema: %s\n", d->name,
            d->description ? d->description : "", schema ? schema : "{}");
    hl_free(schema);
    listed++;
  }
  if (listed == 0)
    fputs("(none: use plain JavaScript)\n", out);
  if (fclose(out) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

static void free_decl(hl_tool_decl *d)
{
  free(d->name);
  free(d->description);
  cJSON_Delete(d->parameters);
}

static hl_hook_action code_mode_before_model(hl_context *ctx, const hl_before_model_args *args,
                                             hl_before_model_out *out, void *ud)
{
  (void)ctx;
  (void)ud;
  (void)args;
  hl_request *req = out->request; /* the run's own copy: HL_HOOK_EDIT_REQUEST */
  /* Only requests of agents that have the code tool (not, say, a child
   * agent that inherited this hook). */
  if (!declares_code_tool(req))
    return HL_HOOK_CONTINUE;
  char *reference = function_reference(req);
  if (!reference)
    return hl_hook_abort("code agent: out of memory building the function reference");
  /* The reference goes into the system message (the instruction), or a new
   * one if the request has none. */
  hl_message *sys = req->messages.count > 0 && req->messages.items[0]->role == HL_ROLE_SYSTEM
                        ? req->messages.items[0]
                        : NULL;
  hl_status st;
  if (sys) {
    st = hl_message_add_text(sys, reference);
  } else {
    /* No instruction: prepend one. hl_messages has no insert, so rebuild. */
    hl_messages rebuilt = {0};
    st = hl_messages_push(&rebuilt, hl_message_new_text(HL_ROLE_SYSTEM, reference));
    for (size_t i = 0; st == HL_OK && i < req->messages.count; i++) {
      st = hl_messages_push(&rebuilt, req->messages.items[i]);
      req->messages.items[i] = NULL;
    }
    if (st == HL_OK) {
      hl_messages_clear(&req->messages);
      req->messages = rebuilt;
    } else {
      hl_messages_clear(&rebuilt);
    }
  }
  free(reference);
  if (st != HL_OK)
    return hl_hook_abort("code agent: could not extend the instruction");
  /* Keep only the code tool among the declarations. */
  size_t kept = 0;
  for (size_t i = 0; i < req->n_tools; i++) {
    if (req->tools[i].name && strcmp(req->tools[i].name, CODE_TOOL) == 0)
      req->tools[kept++] = req->tools[i];
    else
      free_decl(&req->tools[i]);
  }
  req->n_tools = kept;
  return HL_HOOK_CONTINUE;
}

hl_agent *hl_code_agent_new(const char *name, hl_provider *provider, const char *model,
                            const hl_sandbox_limits *limits)
{
  if (!provider) {
    hl_fail(HL_ERR_INVALID, "hl_code_agent_new: a provider is needed");
    return NULL;
  }
  if (!hl_sandbox_available()) {
    hl_fail(HL_ERR_UNSUPPORTED, "hl_code_agent_new: this build has no sandbox");
    return NULL;
  }
  hl_tool *code = hl_sandbox_code_tool(limits);
  if (!code)
    return NULL;
  hl_agent *agent = hl_agent_new(name);
  hl_status st = agent ? HL_OK : hl_last_status();
  if (st == HL_OK)
    st = hl_agent_set_instruction(agent, code_mode_instruction);
  if (st == HL_OK)
    st = hl_agent_set_provider(agent, provider);
  if (st == HL_OK && model)
    st = hl_agent_set_model(agent, model);
  if (st == HL_OK)
    st = hl_agent_add_tool(agent, code);
  if (st == HL_OK)
    st = hl_hooks_add_before_model(hl_agent_hooks(agent), "code_mode",
                                   HL_HOOK_EDIT_REQUEST | HL_HOOK_DECIDE,
                                   code_mode_before_model, NULL);
  hl_tool_unref(code);
  if (st != HL_OK) {
    hl_agent_unref(agent);
    return NULL;
  }
  return agent;
}
