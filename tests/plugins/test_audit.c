/*
 * tests/plugins/test_audit.c - the audit log read back: one JSON line per
 * run start/end, model call, tool call and hook decision, secrets
 * redacted; batch flushing; rotation by size keeps every record.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"

static char tmpdir[256];

static hl_audit *audit_at(const char *file, const char *extra)
{
  char json[1024];
  snprintf(json, sizeof json, "{\"file\": \"%s/%s\"%s%s}", tmpdir, file, extra[0] ? ", " : "", extra);
  cJSON *o = cJSON_Parse(json);
  hl_audit *a = hl_audit_new(o);
  cJSON_Delete(o);
  return a;
}

/* Every line of `file` parsed; NULL if a line is not JSON. */
static cJSON *read_back(const char *file)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmpdir, file);
  FILE *f = fopen(path, "r");
  cJSON *all = cJSON_CreateArray();
  if (!f)
    return all;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    cJSON *rec = cJSON_Parse(line);
    if (!rec) {
      fprintf(stderr, "not JSON: %s", line);
      cJSON_Delete(all);
      fclose(f);
      return NULL;
    }
    cJSON_AddItemToArray(all, rec);
  }
  fclose(f);
  return all;
}

static const cJSON *nth_of_type(const cJSON *all, const char *type, int n)
{
  const cJSON *rec;
  cJSON_ArrayForEach(rec, all) {
    const char *t = hl_json_get_string(rec, "type");
    if (t && strcmp(t, type) == 0 && n-- == 0)
      return rec;
  }
  return NULL;
}

static void records_read_back_with_secrets_redacted(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "deploy",
                             "{\"api_key\": \"hunter2\", \"note\": \"use sk-proj-abcdefghijklmnopqrstuvwx\"}");
  hl_scripted_push_text(p, "deployed");
  hl_agent *agent = fx_agent("ops", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("deploy", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_audit *a = audit_at("audit.jsonl", "");
  REQUIRE(a);
  /* A guardrail decides first; the observer that hl_audit_install()
   * attached to the set records its decision, once. */
  hl_guardrail *g = hl_guardrail_new("No.");
  hl_guardrail_block_word(g, "rm");
  hl_guardrail_install(g, hl_agent_hooks(agent));
  hl_guardrail_unref(g);
  REQUIRE(hl_audit_install(a, hl_agent_hooks(agent)) == HL_OK);
  CHECK_INT(hl_hooks_observer_count(hl_agent_hooks(agent)), 1);
  hl_session *s = hl_session_new("app", "alice", "s-9");
  CHECK_RUN(agent, s, "deploy with token sk-ant-api03-abcdefghijklmnop", "deployed");
  CHECK_RUN(agent, s, "rm everything", "No.");
  hl_session_free(s);
  CHECK_INT(hl_audit_errors(a), 0);

  cJSON *all = read_back("audit.jsonl");
  REQUIRE(all);
  /* run_start, model_call, tool_call, model_call, run_end, hook (guardrail). */
  CHECK_INT(cJSON_GetArraySize(all), 6);
  CHECK_INT(hl_audit_records(a), 6);
  const cJSON *start = nth_of_type(all, "run_start", 0);
  REQUIRE(start);
  CHECK_STR(hl_json_get_string(start, "input"), "deploy with token [SECRET]");
  CHECK_STR(hl_json_get_string(start, "user"), "alice");
  CHECK_STR(hl_json_get_string(start, "session"), "s-9");
  CHECK_STR(hl_json_get_string(start, "agent"), "ops");
  CHECK(strlen(hl_json_get_string(start, "ts")) == 24);
  const cJSON *model = nth_of_type(all, "model_call", 0);
  REQUIRE(model);
  CHECK_STR(hl_json_get_string(model, "finish"), "tool_calls");
  const cJSON *first_call = cJSON_GetArrayItem(hl_json_get(model, "tool_calls"), 0);
  CHECK_STR(cJSON_IsString(first_call) ? first_call->valuestring : NULL, "deploy");
  CHECK(cJSON_IsNull(hl_json_get(model, "error")));
  const cJSON *tool = nth_of_type(all, "tool_call", 0);
  REQUIRE(tool);
  CHECK_STR(hl_json_get_string(tool, "tool"), "deploy");
  CHECK_STR(hl_json_get_string(hl_json_get(tool, "args"), "api_key"), "[REDACTED]");
  CHECK_STR(hl_json_get_string(hl_json_get(tool, "args"), "note"), "use [SECRET]");
  CHECK_STR(hl_json_get_string(hl_json_get(hl_json_get(tool, "result"), "echo"), "api_key"),
            "[REDACTED]");
  const cJSON *end = nth_of_type(all, "run_end", 0);
  CHECK_STR(end ? hl_json_get_string(end, "answer") : NULL, "deployed");
  const cJSON *hook = nth_of_type(all, "hook", 0);
  REQUIRE(hook);
  CHECK_STR(hl_json_get_string(hook, "hook"), "guardrail");
  CHECK_STR(hl_json_get_string(hook, "point"), "before_agent");
  CHECK_STR(hl_json_get_string(hook, "action"), "override");
  /* Nothing secret anywhere in the file. */
  char *text = cJSON_PrintUnformatted(all);
  CHECK(text && !strstr(text, "hunter2") && !strstr(text, "abcdefghijklmnop"));
  free(text);
  cJSON_Delete(all);
  hl_audit_unref(a);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void batch_flush_waits_for_the_batch_or_the_close(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "one");
  hl_agent *agent = fx_agent("b", p);
  hl_audit *a = audit_at("batch.jsonl", "\"flush\": \"batch\", \"batch_size\": 10");
  REQUIRE(a && hl_audit_install(a, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "hi", "one");
  cJSON *all = read_back("batch.jsonl");
  CHECK_INT(cJSON_GetArraySize(all), 0);   /* 3 records, still buffered */
  cJSON_Delete(all);
  hl_audit_unref(a);
  hl_agent_unref(agent);                   /* the last reference closes the file */
  all = read_back("batch.jsonl");
  CHECK_INT(cJSON_GetArraySize(all), 3);
  cJSON_Delete(all);
  hl_provider_unref(p);
}

static void rotation_by_size_keeps_every_record(void)
{
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < 10; i++)
    hl_scripted_push_text(p, "an answer of some length to fill the log");
  hl_agent *agent = fx_agent("r", p);
  hl_audit *a = audit_at("rot.jsonl", "\"max_bytes\": 700, \"keep\": 20");
  REQUIRE(a && hl_audit_install(a, hl_agent_hooks(agent)) == HL_OK);
  for (int i = 0; i < 10; i++)
    CHECK_RUN(agent, NULL, "a question", "an answer of some length to fill the log");
  hl_audit_unref(a);
  hl_agent_unref(agent);
  int total = 0, files = 0;
  for (int i = 0; i <= 20; i++) {
    char name[64], path[600];
    if (i == 0)
      snprintf(name, sizeof name, "rot.jsonl");
    else
      snprintf(name, sizeof name, "rot.jsonl.%d", i);
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    struct stat sb;
    if (stat(path, &sb) != 0)
      continue;
    files++;
    CHECK(sb.st_size <= 700);
    cJSON *all = read_back(name);
    total += cJSON_GetArraySize(all);
    cJSON_Delete(all);
  }
  CHECK_INT(total, 30);   /* 10 runs x (run_start, model_call, run_end) */
  CHECK(files >= 4);
  hl_provider_unref(p);
}

static void bad_options(void)
{
  cJSON *o = cJSON_Parse("{}");
  CHECK(hl_audit_new(o) == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.file: required");
  cJSON_Delete(o);
  o = cJSON_Parse("{\"file\": \"/nonexistent-dir/a.jsonl\"}");
  CHECK(hl_audit_new(o) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), "/nonexistent-dir/a.jsonl");
  cJSON_Delete(o);
  CHECK(audit_at("x.jsonl", "\"flush\": \"never\"") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.flush: expected \"record\" or \"batch\"");
  CHECK(audit_at("x.jsonl", "\"keep\": 0") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.keep: expected an integer from 1");
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-audit-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 1;
  RUN(records_read_back_with_secrets_redacted);
  RUN(batch_flush_waits_for_the_batch_or_the_close);
  RUN(rotation_by_size_keeps_every_record);
  RUN(bad_options);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return CHECK_EXIT();
}
