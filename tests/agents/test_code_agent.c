/*
 * tests/agents/test_code_agent.c - the code agent: the model sees one tool,
 * run_javascript, writes code that calls the other tools as async
 * functions (in parallel with Promise.all), and every call goes through
 * the hooks. Runs the real sandbox; skipped (77) in builds without it.
 */
#include "check.h"
#include "fixture.h"

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  atomic_int *calls = ud;
  atomic_fetch_add(calls, 1);
  *result = cJSON_CreateNumber(hl_json_get_number(args, "a", 0) + hl_json_get_number(args, "b", 0));
  return HL_OK;
}

/* before_tool hook on the code agent: doubles "b" for add calls made from
 * JavaScript, proving they take the hooked path. */
static hl_hook_action double_b(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)result;
  fx_trace_add(ud, "tool %s %s", hl_context_branch(ctx), call->name);
  if (strcmp(call->name, "add") != 0)
    return HL_HOOK_CONTINUE;
  cJSON *b = cJSON_GetObjectItemCaseSensitive(*args, "b");
  if (cJSON_IsNumber(b))
    cJSON_SetNumberValue(b, b->valuedouble * 2);
  return HL_HOOK_CONTINUE;
}

static void code_agent_runs_tools_from_javascript(void)
{
  hl_provider *p = hl_scripted_new();
  cJSON *args = cJSON_CreateObject();
  cJSON_AddStringToObject(args, "code",
                          "const first = await add({a: 1, b: 1});\n"
                          "const [x, y] = await Promise.all([add({a: first, b: 1}), add({a: 10, b: 0})]);\n"
                          "console.log('sum', x + y);\n"
                          "x + y");
  hl_response *r = hl_response_new();
  hl_message_add_tool_call(r->message, "js1", "run_javascript", args);
  r->finish = HL_FINISH_TOOL_CALLS;
  cJSON_Delete(args);
  hl_scripted_push(p, r);
  hl_scripted_push_text(p, "The answer is 15.");
  hl_agent *coder = hl_code_agent_new("coder", p, "m", NULL);
  REQUIRE(coder);
  atomic_int calls = 0;
  hl_tool *add = hl_tool_new("add", "Adds a and b.", add_fn, &calls);
  hl_tool_param(add, "a", "number", "first", true);
  hl_tool_param(add, "b", "number", "second", true);
  hl_agent_add_tool(coder, add);
  hl_tool_unref(add);
  fx_trace trace = FX_TRACE_INIT;
  hl_hooks_add_before_tool(hl_agent_hooks(coder), "double", HL_HOOK_OBSERVE, double_b, &trace);

  CHECK_RUN(coder, NULL, "compute", "The answer is 15.");
  CHECK_INT(atomic_load(&calls), 3);
  /* first = 1 + 2 = 3; x = 3 + 2 = 5; y = 10 + 0 = 10; 15. */
  CHECK(fx_request_mentions(p, 1, "15"));
  CHECK(fx_request_mentions(p, 1, "sum 15"));
  CHECK_INT(fx_trace_count(&trace, "tool coder run_javascript"), 1);
  CHECK_INT(fx_trace_count(&trace, "tool coder add"), 3);
  /* The model saw one tool and the function reference. */
  hl_request *req = hl_scripted_request(p, 0);
  REQUIRE(req);
  CHECK_INT(req->n_tools, 1);
  CHECK_STR(req->tools[0].name, "run_javascript");
  char *sys = hl_message_text(req->messages.items[0]);
  CHECK_CONTAINS(sys, "code mode");
  CHECK_CONTAINS(sys, "await add(args): Adds a and b.");
  CHECK_CONTAINS(sys, "Promise.all");
  hl_free(sys);
  hl_request_free(req);
  fx_trace_clear(&trace);
  hl_agent_unref(coder);
  hl_provider_unref(p);
}

static void code_agent_reports_javascript_errors_to_model(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "js1", "run_javascript",
                             "{\"code\":\"await missing_tool({})\"}");
  hl_scripted_push_text(p, "that failed");
  hl_agent *coder = hl_code_agent_new("coder", p, NULL, NULL);
  REQUIRE(coder);
  CHECK_RUN(coder, NULL, "try", "that failed");
  CHECK(fx_request_mentions(p, 1, "missing_tool"));
  hl_agent_unref(coder);
  hl_provider_unref(p);
}

int main(void)
{
  if (!hl_sandbox_available()) {
    fprintf(stderr, "sandbox not in this build: skipped\n");
    hl_provider *p = hl_scripted_new();
    CHECK(hl_code_agent_new("coder", p, NULL, NULL) == NULL);
    CHECK_INT(hl_last_status(), HL_ERR_UNSUPPORTED);
    hl_provider_unref(p);
    return check_failures_ ? 1 : 77;
  }
  RUN(code_agent_runs_tools_from_javascript);
  RUN(code_agent_reports_javascript_errors_to_model);
  return CHECK_EXIT();
}
