/*
 * tests/plugins/test_config.c - the configuration file (config.h): one
 * call loads it, every bad value is reported with its JSON path, and an
 * agent built from it has the provider, model, instruction, tools and
 * plugins (built-in by name, .so by a path relative to the file) it names.
 *
 * Environment: BUILTIN_SO_DIR (the built-ins' .so files of this build).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "hookline/config.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void agent_from_config_has_what_the_file_says(void)
{
  const char *dir = getenv("BUILTIN_SO_DIR");
  REQUIRE(dir);
  char so[600], link_path[600];
  snprintf(so, sizeof so, "%s/tool_allowlist.so", dir);
  snprintf(link_path, sizeof link_path, "%s/plugins", tmpdir);
  mkdir(link_path, 0755);
  snprintf(link_path, sizeof link_path, "%s/plugins/allow.so", tmpdir);
  REQUIRE(symlink(so, link_path) == 0);
  write_file("script.json",
             "{\"rules\": [{\"match\": \"clean\", \"steps\": ["
             "  {\"tool_calls\": [{\"id\": \"c1\", \"name\": \"delete_all\", \"arguments\": {}},"
             "                   {\"id\": \"c2\", \"name\": \"search\", \"arguments\": {\"q\": 1}}]},"
             "  {\"text\": \"cleaned: {{result}}\"}]}],"
             " \"fallback\": {\"text\": \"fallback answer\"}}");
  write_file("agent.json",
             "{\"provider\": {\"type\": \"scripted\", \"script\": \"script.json\"},\n"
             " \"model\": \"top-model\",\n"
             " \"instruction\": \"Be brief.\",\n"
             " \"tools\": [\"search\", \"delete_all\"],\n"
             " \"plugins\": [\n"
             "   {\"name\": \"guardrail\", \"options\": {\"words\": [\"password\"], \"refusal\": \"No secrets.\"}},\n"
             "   {\"path\": \"plugins/allow.so\", \"options\": {\"allow\": [\"search\"]}},\n"
             "   {\"name\": \"logging\", \"enabled\": false}\n"
             " ],\n"
             " \"agents\": [{\"name\": \"helper\", \"model\": \"helper-model\", \"max_turns\": 4,\n"
             "              \"plugins\": [{\"name\": \"response_cache\", \"options\": {\"capacity\": 8}}]}],\n"
             " \"store\": {\"kind\": \"memory\"}\n"
             "}\n");
  char path[512];
  snprintf(path, sizeof path, "%s/agent.json", tmpdir);
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_load(path, &cfg), HL_OK);
  REQUIRE(cfg);
  CHECK_STR(hl_config_model(cfg, "helper"), "helper-model");
  CHECK_STR(hl_config_model(cfg, NULL), "top-model");
  CHECK_STR(hl_config_instruction(cfg, "helper"), "Be brief.");
  CHECK_STR(hl_json_get_string(hl_json_get(hl_config_json(cfg), "store"), "kind"), "memory");

  hl_tools *tools = hl_tools_new();
  fx_counter search = {0}, del = {0};
  hl_tool *t1 = fx_echo_tool("search", &search), *t2 = fx_echo_tool("delete_all", &del);
  hl_tools_add(tools, t1);
  hl_tools_add(tools, t2);
  hl_tool_unref(t1);
  hl_tool_unref(t2);
  hl_agent *agent = NULL;
  CHECK_INT(hl_config_build_agent(cfg, NULL, tools, NULL, &agent), HL_OK);
  REQUIRE(agent);
  CHECK_STR(hl_agent_name(agent), "helper");
  /* Top-level plugins first, in file order, then the agent's own. */
  hl_hooks *h = hl_agent_hooks(agent);
  CHECK_STR(hl_hooks_name_at(h, HL_HOOK_BEFORE_AGENT, 0), "guardrail");
  CHECK_STR(hl_hooks_name_at(h, HL_HOOK_BEFORE_TOOL, 0), "tool_allowlist");
  CHECK_STR(hl_hooks_name_at(h, HL_HOOK_BEFORE_MODEL, 0), "response_cache");
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 1);   /* logging was disabled */

  CHECK_RUN(agent, NULL, "what is my password?", "No secrets.");
  CHECK_RUN(agent, NULL, "clean the disk", "cleaned: {\"echo\":{\"q\":1}}");
  CHECK_INT(atomic_load(&del.calls), 0);      /* the .so allowlist denied it */
  CHECK_INT(atomic_load(&search.calls), 1);
  hl_provider *p = hl_agent_provider(agent);
  hl_request *req = hl_scripted_request(p, 0);
  REQUIRE(req);
  CHECK_STR(req->model, "helper-model");
  char *instr = hl_message_text(req->messages.items[0]);
  CHECK_STR(instr, "Be brief.");
  free(instr);
  hl_request_free(req);
  hl_agent_unref(agent);
  hl_tools_free(tools);
  hl_config_free(cfg);
}

/* The audit plugin loaded from its .so by a config file records another
 * plugin's decision (the tool allowlist denying a call): the observer it
 * brings along with its hooks is installed with them. */
static void audit_so_from_config_records_another_plugins_decision(void)
{
  const char *dir = getenv("BUILTIN_SO_DIR");
  REQUIRE(dir);
  write_file("audit_script.json",
             "{\"rules\": [{\"match\": \"clean\", \"steps\": ["
             "  {\"tool_calls\": [{\"id\": \"c1\", \"name\": \"delete_all\", \"arguments\": {}}]},"
             "  {\"text\": \"done\"}]}]}");
  char json[2000], path[512], log[512];
  snprintf(log, sizeof log, "%s/audit_cfg.jsonl", tmpdir);
  snprintf(json, sizeof json,
           "{\"provider\": {\"type\": \"scripted\", \"script\": \"audit_script.json\"},\n"
           " \"tools\": [\"delete_all\"],\n"
           " \"plugins\": [{\"name\": \"tool_allowlist\", \"options\": {\"allow\": [\"search\"]}},\n"
           "             {\"path\": \"%s/audit.so\", \"options\": {\"file\": \"%s\"}}]}\n",
           dir, log);
  write_file("audit_agent.json", json);
  snprintf(path, sizeof path, "%s/audit_agent.json", tmpdir);
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_load(path, &cfg), HL_OK);
  REQUIRE(cfg);
  hl_tools *tools = hl_tools_new();
  fx_counter del = {0};
  hl_tool *t = fx_echo_tool("delete_all", &del);
  hl_tools_add(tools, t);
  hl_tool_unref(t);
  hl_agent *agent = NULL;
  CHECK_INT(hl_config_build_agent(cfg, NULL, tools, NULL, &agent), HL_OK);
  REQUIRE(agent);
  CHECK_INT(hl_hooks_observer_count(hl_agent_hooks(agent)), 1);
  CHECK_RUN(agent, NULL, "clean the disk", "done");
  CHECK_INT(atomic_load(&del.calls), 0);
  hl_agent_unref(agent);   /* the last reference to the audit closes its file */
  hl_config_free(cfg);
  hl_tools_free(tools);

  FILE *f = fopen(log, "r");
  REQUIRE(f);
  fseek(f, 0, SEEK_END); /* fx_slurp reads up to the position */
  char *text = fx_slurp(f);
  fclose(f);
  REQUIRE(text);
  char *line = fx_find_line(text, "\"type\":\"hook\"");
  CHECK(line != NULL);
  if (line) {
    cJSON *rec = cJSON_Parse(line);
    CHECK_STR(hl_json_get_string(rec, "hook"), "tool_allowlist");
    CHECK_STR(hl_json_get_string(rec, "point"), "before_tool");
    CHECK_STR(hl_json_get_string(rec, "action"), "override");
    CHECK_STR(hl_json_get_string(rec, "call_id"), "c1");
    cJSON_Delete(rec);
    free(line);
  }
  CHECK_INT(fx_count_lines(text, "\"type\":\"hook\""), 1);
  CHECK_INT(fx_count_lines(text, "\"type\":\"tool_call\""), 1);
  free(text);

  /* Bad options: neither its hooks nor its observer stay behind. */
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load_text(h, "audit", "{\"file\": 5}", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.file");
  CHECK_INT(hl_hooks_observer_count(h), 0);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 0);
  hl_hooks_free(h);
}

/* Each bad document fails at load with the file name and the JSON path. */
static void bad_values_are_reported_with_their_path(void)
{
  static const struct {
    const char *json;
    hl_status st;
    const char *want;
  } cases[] = {
      {"[]", HL_ERR_INVALID, "t.json: $: expected an object, got array"},
      {"{\"modle\": \"x\"}", HL_ERR_INVALID, "t.json: $.modle: unknown key (known here: provider, model"},
      {"{\"model\": 4}", HL_ERR_INVALID, "$.model: expected a string, got integer"},
      {"{\"provider\": {\"type\": \"openia\"}}", HL_ERR_INVALID, "$.provider.type: unknown provider \"openia\""},
      {"{\"provider\": {}}", HL_ERR_INVALID, "$.provider: \"type\" is required"},
      {"{\"provider\": {\"type\": \"openai\", \"api_key\": \"sk-123\"}}", HL_ERR_INVALID,
       "$.provider.api_key: API keys do not belong in a config file"},
      {"{\"tools\": [\"a\", 2]}", HL_ERR_INVALID, "$.tools[1]: expected a string, got integer"},
      {"{\"plugins\": [{\"name\": \"guardrail\"}, {\"options\": {}}]}", HL_ERR_INVALID,
       "$.plugins[1]: give exactly one of \"name\""},
      {"{\"plugins\": [{\"name\": \"x\", \"path\": \"/x.so\"}]}", HL_ERR_INVALID,
       "$.plugins[0]: give exactly one of"},
      {"{\"plugins\": [{\"name\": \"x\", \"options\": []}]}", HL_ERR_INVALID,
       "$.plugins[0].options: expected an object, got array"},
      {"{\"plugins\": [{\"name\": \"x\", \"enabled\": \"yes\"}]}", HL_ERR_INVALID,
       "$.plugins[0].enabled: expected true or false, got string"},
      {"{\"mcp_servers\": [{\"url\": \"ftp://x\"}]}", HL_ERR_INVALID,
       "$.mcp_servers[0]: \"url\" must start with http://"},
      {"{\"mcp_servers\": [{\"command\": \"srv\", \"ca_file\": \"ca.pem\"}]}", HL_ERR_INVALID,
       "$.mcp_servers[0]: \"ca_file\" is for a server at an https:// \"url\""},
      {"{\"mcp_servers\": [{\"url\": \"https://x\", \"oauth\": {\"application_type\": \"desktop\"}}]}",
       HL_ERR_INVALID, "$.mcp_servers[0].oauth: \"application_type\" must be \"native\" or \"web\""},
      {"{\"mcp_servers\": [{\"url\": \"https://x\", \"oauth\": {\"assertion_file\": 3}}]}", HL_ERR_INVALID,
       "$.mcp_servers[0].oauth.assertion_file: expected a string"},
      {"{\"agents\": [{\"name\": \"a\"}, {\"instruction\": \"x\"}]}", HL_ERR_INVALID,
       "$.agents[1]: \"name\" is required"},
      {"{\"agents\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}", HL_ERR_INVALID,
       "$.agents[1]: a second agent named \"a\""},
      {"{\"agents\": [{\"name\": \"a\", \"max_turns\": -1}]}", HL_ERR_INVALID,
       "$.agents[0].max_turns: expected a non-negative integer"},
      {"{\"agents\": [{\"name\": \"a\", \"max_turns\": 1e300}]}", HL_ERR_INVALID,
       "$.agents[0].max_turns: expected a non-negative integer, got 1e+300 (at most 2147483647)"},
      {"{\"agents\": [{\"name\": \"a\", \"max_turns\": 2.5}]}", HL_ERR_INVALID,
       "$.agents[0].max_turns: expected a non-negative integer, got 2.5"},
      {"{\"agents\": [{\"name\": \"a\", \"plugins\": [{\"name\": 3}]}]}", HL_ERR_INVALID,
       "$.agents[0].plugins[0].name: expected a string, got integer"},
      {"{\"store\": 1}", HL_ERR_INVALID, "$.store: expected an object"},
      {"{\"model\": ", HL_ERR_JSON, "t.json: "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    hl_config *cfg = (hl_config *)&cfg;
    hl_status st = hl_config_parse(cases[i].json, "t.json", &cfg);
    if (st != cases[i].st)
      fprintf(stderr, "case %zu: %s\n", i, cases[i].json);
    CHECK_INT(st, cases[i].st);
    CHECK(cfg == NULL);
    CHECK_CONTAINS(hl_last_error(), cases[i].want);
  }
  hl_config *cfg = NULL;
  CHECK_INT(hl_config_load("/nonexistent/agent.json", &cfg), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), "/nonexistent/agent.json");
  /* A directory opens for reading but cannot be read: say why. */
  CHECK_INT(hl_config_load("/tmp", &cfg), HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), "config file \"/tmp\": Is a directory");
}

/* A plugin's own option errors come back with their place in the file,
 * and a failing plugin leaves none of the file's plugins installed. */
static void plugin_option_errors_have_file_paths_and_install_nothing(void)
{
  hl_config *cfg = NULL;
  REQUIRE(hl_config_parse("{\"plugins\": [{\"name\": \"guardrail\", \"options\": {\"words\": [\"x\"]}},"
                          "             {\"name\": \"response_cache\", \"options\": {\"capacity\": \"big\"}}]}",
                          "cfg.json", &cfg) == HL_OK);
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_config_install_plugins(cfg, NULL, h), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(),
                 "cfg.json: $.plugins[1].options.capacity: expected an integer from 1 to");
  CHECK_CONTAINS(hl_last_error(), "(plugin \"response_cache\")");
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++)
    CHECK_INT(hl_hooks_count(h, (hl_hook_point)p), 0);
  hl_config_free(cfg);

  REQUIRE(hl_config_parse("{\"plugins\": [{\"path\": \"/nonexistent/p.so\"}]}", "cfg.json", &cfg) ==
          HL_OK);
  CHECK_INT(hl_config_install_plugins(cfg, NULL, h), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), "cfg.json: $.plugins[0]: plugin \"/nonexistent/p.so\": cannot open");
  hl_config_free(cfg);

  /* Unknown tool names and a missing provider, at build time. */
  REQUIRE(hl_config_parse("{\"provider\": {\"type\": \"scripted\"}, \"tools\": [\"nope\"]}", "cfg.json",
                          &cfg) == HL_OK);
  hl_agent *a = (hl_agent *)&a;
  hl_tools *tools = hl_tools_new();
  CHECK_INT(hl_config_build_agent(cfg, NULL, tools, NULL, &a), HL_ERR_NOT_FOUND);
  CHECK(a == NULL);
  CHECK_CONTAINS(hl_last_error(), "cfg.json: $.tools[0]: no tool named \"nope\"");
  CHECK_INT(hl_config_build_agent(cfg, "ghost", tools, NULL, &a), HL_ERR_NOT_FOUND);
  hl_config_free(cfg);
  REQUIRE(hl_config_parse("{}", NULL, &cfg) == HL_OK);
  CHECK_INT(hl_config_build_agent(cfg, NULL, tools, NULL, &a), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "no provider");
  hl_config_free(cfg);
  REQUIRE(hl_config_parse("{\"provider\": {\"type\": \"openai\", \"api_key_env\": \"HL_TEST_NO_SUCH_KEY\"}}",
                          NULL, &cfg) == HL_OK);
  CHECK_INT(hl_config_build_agent(cfg, NULL, tools, NULL, &a), HL_ERR_AUTH);
  CHECK_CONTAINS(hl_last_error(), "HL_TEST_NO_SUCH_KEY is not set");
  hl_config_free(cfg);
  hl_tools_free(tools);
  hl_hooks_free(h);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-config-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 1;
  RUN(agent_from_config_has_what_the_file_says);
  RUN(bad_values_are_reported_with_their_path);
  RUN(plugin_option_errors_have_file_paths_and_install_nothing);
  RUN(audit_so_from_config_records_another_plugins_decision);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return CHECK_EXIT();
}
