/*
 * config.c - --config FILE: a hookline configuration file (hookline/config.h)
 * for the chatbot. It may choose the provider and model (command-line
 * flags win), the instruction, which of the chatbot's tools the agent
 * keeps, plugins loaded by name or by path (appended after the chatbot's
 * own hooks, in file order) and MCP servers. A bad file stops the start
 * with the library's message, which names the file and the JSON path.
 */
#include <string.h>

#include "chat.h"

hl_status chat_config_load(chat_app *app) {
  if (!app->opt.config_path) return HL_OK;
  return hl_config_load(app->opt.config_path, &app->config);
}

/* The file's provider, unless --provider, --base-url or --script chose one. */
hl_status chat_config_provider(chat_app *app, bool *made) {
  *made = false;
  if (!app->config || app->opt.provider || app->opt.base_url || app->opt.script_path) return HL_OK;
  const cJSON *p = hl_json_get(hl_config_json(app->config), "provider");
  if (!p) return HL_OK;
  hl_status st = hl_config_make_provider(app->config, &app->provider);
  if (st != HL_OK) return st;
  const char *type = hl_json_get_string(p, "type");
  const char *model = app->opt.model ? app->opt.model : hl_config_model(app->config, NULL);
  snprintf(app->provider_name, sizeof app->provider_name, "%s", type);
  snprintf(app->model_desc, sizeof app->model_desc, "%s%s%s (from %s)", type,
           model ? " model " : "", model ? model : "", app->opt.config_path);
  *made = true;
  return HL_OK;
}

/* Model and instruction, then the tool list: tools the file does not
 * name are removed; a name that is not one of the chatbot's tools is an
 * error with its path. */
hl_status chat_config_agent(chat_app *app) {
  if (!app->config) return HL_OK;
  hl_status st;
  const char *model = hl_config_model(app->config, NULL);
  if (model && !app->opt.model && (st = hl_agent_set_model(app->agent, model)) != HL_OK) return st;
  const char *instruction = hl_config_instruction(app->config, NULL);
  if (instruction && (st = hl_agent_set_instruction(app->agent, instruction)) != HL_OK) return st;
  const cJSON *keep = hl_config_tools(app->config, NULL), *name;
  if (!keep) return HL_OK;
  hl_tools *tools = hl_agent_tools(app->agent);
  int i = 0;
  cJSON_ArrayForEach(name, keep) {
    if (!hl_tools_find(tools, name->valuestring))
      return hl_fail(HL_ERR_NOT_FOUND, "%s: $.tools[%d]: hookline-chat has no tool \"%s\" (see /tools)",
                     app->opt.config_path, i, name->valuestring);
    i++;
  }
  for (size_t k = hl_tools_count(tools); k-- > 0;) {
    const char *have = hl_tool_name(hl_tools_at(tools, k));
    bool listed = false;
    cJSON_ArrayForEach(name, keep) listed = listed || strcmp(name->valuestring, have) == 0;
    if (!listed && (st = hl_tools_remove(tools, have)) != HL_OK) return st;
  }
  return HL_OK;
}

/* Servers with "oauth" sign in through a listener on 127.0.0.1 opened
 * now (the redirect_uri names its port) and keep their tokens in the
 * user's token file (examples/common/mcp_oauth.h). The URL goes to
 * stderr: stdout may be --json's. */
static hl_status prepare_oauth(chat_app *app) {
  const cJSON *list = hl_json_get(hl_config_json(app->config), "mcp_servers"), *m;
  bool wanted = false;
  cJSON_ArrayForEach(m, list) wanted = wanted || hl_json_get(m, "oauth") != NULL;
  if (!wanted) return HL_OK;
  hl_status st = chat_open_oauth(app);
  if (st != HL_OK) return st;
  hl_mcp_oauth o = ex_mcp_oauth_options(&app->oauth);
  o.client_name = "hookline-chat";
  return hl_config_set_mcp_oauth(app->config, &o);
}

/* Plugins after the chatbot's own hooks, then the file's MCP servers. */
hl_status chat_config_plugins(chat_app *app) {
  if (!app->config) return HL_OK;
  hl_status st = hl_config_install_plugins(app->config, NULL, hl_agent_hooks(app->agent));
  if (st != HL_OK) return st;
  if ((st = prepare_oauth(app)) != HL_OK) return st;
  return hl_config_connect_mcp(app->config, NULL, app->agent);
}
