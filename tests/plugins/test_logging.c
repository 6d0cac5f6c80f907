/*
 * tests/plugins/test_logging.c - the logging plugin writes one line per
 * hook point, showing what the hooks before it did.
 */
#include "check.h"
#include "fixture.h"

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  (void)ud;
  double a = hl_json_get_number(args, "a", 0), b = hl_json_get_number(args, "b", 0);
  *result = cJSON_CreateNumber(a + b);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "oom");
}

static hl_tool *add_tool(void)
{
  hl_tool *t = hl_tool_new("add", "Adds a and b.", add_fn, NULL);
  hl_tool_param(t, "a", "number", "first", true);
  hl_tool_param(t, "b", "number", "second", true);
  return t;
}

/* before_tool: replace the arguments with {"a": a, "b": 41}. */
static hl_hook_action bump_b(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx;
  (void)call;
  (void)result;
  (void)ud;
  cJSON *fresh = cJSON_CreateObject();
  cJSON_AddNumberToObject(fresh, "a", hl_json_get_number(*args, "a", 0));
  cJSON_AddNumberToObject(fresh, "b", 41);
  cJSON_Delete(*args);
  *args = fresh;
  return HL_HOOK_CONTINUE;
}

/* before_tool: answer instead of the tool. */
static hl_hook_action answer_instead(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx;
  (void)call;
  (void)args;
  (void)ud;
  *result = cJSON_CreateObject();
  cJSON_AddBoolToObject(*result, "cached", 1);
  return HL_HOOK_OVERRIDE;
}

static void logging_lines_show_each_point_and_mutated_args(void)
{
  FILE *log = tmpfile();
  REQUIRE(log);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "the sum is 42");
  hl_agent *agent = fx_agent("calc", p);
  hl_tool *t = add_tool();
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  REQUIRE(hl_hooks_add_before_tool(hl_agent_hooks(agent), "bump", HL_HOOK_EDIT_ARGS, bump_b, NULL) == HL_OK);
  REQUIRE(hl_logging_hooks_install(hl_agent_hooks(agent), log, "test") == HL_OK);
  CHECK_INT(hl_hooks_count(hl_agent_hooks(agent), HL_HOOK_BEFORE_TOOL), 2);
  CHECK_STR(hl_hooks_name_at(hl_agent_hooks(agent), HL_HOOK_AFTER_MODEL, 0), "logging");

  CHECK_RUN(agent, NULL, "add one and two", "the sum is 42");

  char *text = fx_slurp(log);
  REQUIRE(text);
  CHECK_INT(fx_count_lines(text, "[test] before_agent "), 1);
  CHECK_INT(fx_count_lines(text, "[test] before_model "), 2);
  CHECK_INT(fx_count_lines(text, "[test] after_model "), 2);
  CHECK_INT(fx_count_lines(text, "[test] before_tool "), 1);
  CHECK_INT(fx_count_lines(text, "[test] after_tool "), 1);
  CHECK_INT(fx_count_lines(text, "[test] after_agent "), 1);
  CHECK_INT(fx_count_lines(text, "[test] "), 8);

  char *line = fx_find_line(text, "before_agent");
  CHECK_CONTAINS(line, "agent=calc");
  CHECK_CONTAINS(line, "inv=inv-");
  CHECK_CONTAINS(line, "input=\"add one and two\"");
  free(line);
  line = fx_find_line(text, "after_model branch");
  CHECK_CONTAINS(line, "finish=tool_calls");
  CHECK_CONTAINS(line, "tool_calls=[add]");
  CHECK_CONTAINS(line, "error=OK");
  free(line);
  /* The logger runs after "bump": it logs the replaced arguments. */
  line = fx_find_line(text, "before_tool");
  CHECK_CONTAINS(line, "call_id=c1 tool=add args={\"a\":1,\"b\":41}");
  free(line);
  line = fx_find_line(text, "after_tool");
  CHECK_CONTAINS(line, "args={\"a\":1,\"b\":41}");
  CHECK_CONTAINS(line, "result=42");
  CHECK_CONTAINS(line, "error=OK");
  free(line);
  /* The second model call is about the tool result. */
  line = fx_find_line(text, "turn=2 model=");
  CHECK_CONTAINS(line, "last_role=tool last=\"42\"");
  free(line);
  line = fx_find_line(text, "after_agent");
  CHECK_CONTAINS(line, "answer=\"the sum is 42\"");
  free(line);
  free(text);

  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(log);
}

static void logging_after_tool_shows_override_result(void)
{
  FILE *log = tmpfile();
  REQUIRE(log);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c9", "add", "{\"a\":5,\"b\":5}");
  hl_scripted_push_text(p, "ok");
  hl_agent *agent = fx_agent("calc", p);
  hl_tool *t = add_tool();
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_hooks_add_before_tool(hl_agent_hooks(agent), "shortcut", HL_HOOK_DECIDE, answer_instead, NULL);
  REQUIRE(hl_logging_hooks_install(hl_agent_hooks(agent), log, "") == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "add", &answer), HL_OK);
  hl_free(answer);
  char *text = fx_slurp(log);
  REQUIRE(text);
  /* The override ended the before_tool chain before the logger (H3)... */
  CHECK_INT(fx_count_lines(text, "before_tool"), 0);
  /* ...and after_tool shows the overriding hook's result. No prefix. */
  char *line = fx_find_line(text, "after_tool");
  CHECK(line && strncmp(line, "after_tool branch=", 18) == 0);
  CHECK_CONTAINS(line, "result={\"cached\":true}");
  free(line);
  free(text);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(log);
}

static void logging_escapes_text_one_line_per_hook(void)
{
  FILE *log = tmpfile();
  REQUIRE(log);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "two\nlines");
  hl_agent *agent = fx_agent("esc", p);
  REQUIRE(hl_logging_hooks_install(hl_agent_hooks(agent), log, "x") == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "say \"hi\"\nplease", &answer), HL_OK);
  hl_free(answer);
  char *text = fx_slurp(log);
  REQUIRE(text);
  CHECK_CONTAINS(text, "input=\"say \\\"hi\\\"\\nplease\"");
  CHECK_CONTAINS(text, "answer=\"two\\nlines\"");
  /* before_agent, before_model, after_model, after_agent: four lines. */
  int lines = 0;
  for (const char *c = text; *c; c++)
    lines += *c == '\n';
  CHECK_INT(lines, 4);
  free(text);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(log);
}

static void logging_after_model_shows_the_error(void)
{
  FILE *log = tmpfile();
  REQUIRE(log);
  hl_provider *p = hl_scripted_new();   /* empty script: the call fails */
  hl_agent *agent = fx_agent("failing", p);
  REQUIRE(hl_logging_hooks_install(hl_agent_hooks(agent), log, "t") == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "hello", &answer), HL_ERR_PROVIDER);
  CHECK(answer == NULL);
  char *text = fx_slurp(log);
  REQUIRE(text);
  char *line = fx_find_line(text, "after_model");
  CHECK_CONTAINS(line, "response=null");
  char want[64];
  snprintf(want, sizeof want, "error=%s:", hl_status_name(HL_ERR_PROVIDER));
  CHECK_CONTAINS(line, want);
  free(line);
  free(text);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(log);
}

static void logging_parallel_tool_lines_stay_whole(void)
{
  FILE *log = tmpfile();
  REQUIRE(log);
  hl_provider *p = hl_scripted_new();
  hl_response *r = hl_response_new();
  cJSON *args = cJSON_Parse("{\"a\":1,\"b\":1}");
  for (int i = 0; i < 6; i++) {
    char id[8];
    snprintf(id, sizeof id, "c%d", i);
    hl_message_add_tool_call(r->message, id, "add", args);
  }
  cJSON_Delete(args);
  r->finish = HL_FINISH_TOOL_CALLS;
  hl_scripted_push(p, r);
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("par", p);
  hl_agent_set_parallel_tools(agent, 6);
  hl_tool *t = add_tool();
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  REQUIRE(hl_logging_hooks_install(hl_agent_hooks(agent), log, "p") == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  char *text = fx_slurp(log);
  REQUIRE(text);
  CHECK_INT(fx_count_lines(text, "[p] before_tool branch="), 6);
  CHECK_INT(fx_count_lines(text, "[p] after_tool branch="), 6);
  /* Every line is a whole line: starts with the prefix. */
  int lines = 0, prefixed = 0;
  for (const char *l = text; l && *l;) {
    lines++;
    prefixed += strncmp(l, "[p] ", 4) == 0;
    const char *nl = strchr(l, '\n');
    l = nl ? nl + 1 : NULL;
  }
  CHECK_INT(lines, prefixed);
  CHECK_INT(lines, 6 + 6 + 2 + 2 + 2);
  free(text);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(log);
}

static void logging_rejects_bad_arguments(void)
{
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_logging_hooks_install(NULL, stderr, "x"), HL_ERR_INVALID);
  CHECK_INT(hl_logging_hooks_install(h, NULL, "x"), HL_ERR_INVALID);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_AGENT), 0);
  /* NULL prefix is allowed; the set frees the logger. */
  CHECK_INT(hl_logging_hooks_install(h, stderr, NULL), HL_OK);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_AFTER_TOOL), 1);
  hl_hooks_free(h);
}

static void logging_model_names_cannot_forge_lines(void)
{
  /* The model names the tool and the call id: a newline in either must
   * not start a line of its own that reads like the logger's. */
  FILE *log = tmpfile();
  REQUIRE(log);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1\n[t] after_agent forged=1", "add\r\n[t] before_tool x",
                             "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("forge", p);
  hl_tool *t = add_tool();
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  REQUIRE(hl_logging_hooks_install(hl_agent_hooks(agent), log, "t") == HL_OK);
  char *answer = NULL;
  hl_agent_run(agent, NULL, "go", &answer); /* the unknown tool's error goes to the model */
  hl_free(answer);
  char *text = fx_slurp(log);
  REQUIRE(text);
  /* No line begins with what the names carried; each begins with the
   * logger's prefix and a hook point's name. */
  int lines = 0;
  for (const char *l = text; *l; lines++) {
    CHECK(strncmp(l, "[t] after_agent forged", 22) != 0);
    CHECK(strncmp(l, "[t] before_tool x", 17) != 0);
    CHECK(strncmp(l, "[t] before_", 11) == 0 || strncmp(l, "[t] after_", 10) == 0);
    const char *nl = strchr(l, '\n');
    l = nl ? nl + 1 : l + strlen(l);
  }
  CHECK_INT(lines, 8); /* agent, model x2, tool x2 (before, after), agent */
  CHECK(strchr(text, '\r') == NULL);
  char *line = fx_find_line(text, "after_model branch");
  CHECK_CONTAINS(line, "tool_calls=[add\\r\\n[t]\\x20before_tool\\x20x]");
  free(line);
  free(text);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(log);
}

int main(void)
{
  RUN(logging_lines_show_each_point_and_mutated_args);
  RUN(logging_after_tool_shows_override_result);
  RUN(logging_escapes_text_one_line_per_hook);
  RUN(logging_after_model_shows_the_error);
  RUN(logging_parallel_tool_lines_stay_whole);
  RUN(logging_rejects_bad_arguments);
  RUN(logging_model_names_cannot_forge_lines);
  return CHECK_EXIT();
}
