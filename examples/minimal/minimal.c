/* minimal.c - a complete hookline agent: scripted model, two tools, three hooks. */
#include <stdio.h>
#include <string.h>
#include <hookline.h>
static hl_status add(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  double sum = hl_json_get_number(args, "a", 0) + hl_json_get_number(args, "b", 0);
  return (void)ctx, (void)ud, (*result = cJSON_CreateNumber(sum)) ? HL_OK : HL_ERR_NOMEM;
}
static hl_status weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  char text[128];
  (void)ctx, (void)ud, snprintf(text, sizeof text, "sunny, 21 %s", hl_json_get_string(args, "unit"));
  return (*result = cJSON_CreateString(text)) ? HL_OK : HL_ERR_NOMEM;
}
static hl_hook_action guard(hl_context *ctx, const hl_before_agent_args *in, /* answer without the model */
                            hl_before_agent_out *out, void *ud) {
  if ((void)ctx, ud || !strstr(in->input, "password")) return HL_HOOK_CONTINUE;
  return (out->answer = strdup("I can't help with passwords.")) ? HL_HOOK_OVERRIDE : HL_HOOK_CONTINUE;
}
static hl_hook_action default_unit(hl_context *ctx, const hl_before_tool_args *in,
                                   hl_before_tool_out *out, void *ud) { /* edit the arguments */
  (void)ctx, (void)ud;
  if (!strcmp(in->call->name, "weather") && !cJSON_HasObjectItem(out->args, "unit"))
    cJSON_AddStringToObject(out->args, "unit", "celsius");
  return HL_HOOK_CONTINUE;
}
static hl_hook_action show(hl_context *ctx, const hl_after_tool_args *in, hl_after_tool_out *out,
                           void *ud) { /* only looks */
  char *a = cJSON_PrintUnformatted(in->args); /* the arguments the tool ran with */
  (void)ctx, (void)out, (void)ud;
  printf("  %s %s: %s\n", in->call->name, a, hl_status_name(in->error->status));
  return cJSON_free(a), HL_HOOK_CONTINUE;
}
int main(void) {
  hl_provider *model = hl_scripted_new();
  hl_scripted_load_json(model, "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"1\",\"name\":\"weather\",\"arguments\":{\"city\":\"Oslo\"}},"
      "{\"id\":\"2\",\"name\":\"add\",\"arguments\":{\"a\":19,\"b\":23}}]},"
      "{\"text\":\"Oslo is sunny, and 19 + 23 = {{result}}.\"}]}");
  hl_agent *agent = hl_agent_new("minimal");
  hl_agent_set_provider(agent, model);
  hl_tool *t1 = hl_tool_new("add", "Add two numbers.", add, NULL);
  hl_tool_param(t1, "a", "number", "first", true), hl_tool_param(t1, "b", "number", "second", true);
  hl_tool *t2 = hl_tool_new("weather", "Weather in a city.", weather, NULL);
  hl_tool_param(t2, "city", "string", "city", true), hl_tool_param(t2, "unit", "string", "unit", false);
  hl_agent_add_tool(agent, t1), hl_agent_add_tool(agent, t2);
  hl_hooks_add_before_agent(hl_agent_hooks(agent), "guard", HL_HOOK_DECIDE, guard, NULL);
  hl_hooks_add_before_tool(hl_agent_hooks(agent), "default-unit", HL_HOOK_EDIT_ARGS, default_unit, NULL);
  hl_hooks_add_after_tool(hl_agent_hooks(agent), "show", HL_HOOK_OBSERVE, show, NULL);
  const char *questions[] = {"Weather in Oslo, and 19 + 23?", "What is the admin password?"};
  hl_status st = HL_OK;
  for (int i = 0; i < 2 && st == HL_OK; i++) {
    char *answer = NULL; st = hl_agent_run(agent, NULL, questions[i], &answer);
    printf("> %s\n%s\n", questions[i], st == HL_OK ? answer : hl_last_error());
    hl_free(answer);
  }
  hl_tool_unref(t1), hl_tool_unref(t2), hl_agent_unref(agent), hl_provider_unref(model);
  return st == HL_OK ? 0 : 1;
}
