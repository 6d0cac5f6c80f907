/*
 * lib/sandbox/code_mode.c - the sandbox as a tool ("code mode"): the model
 * writes JavaScript that calls the agent's other tools as async functions.
 *
 * Each run of the tool makes a fresh sandbox (microseconds, from the
 * snapshot), registers one callback per tool of the calling agent, and
 * routes every callback through hl_context_call_tool(): the before_tool
 * and after_tool chains and the TOOL_START/TOOL_END events apply to calls
 * made from inside JavaScript exactly as to the model's direct calls.
 * Callbacks run with no per-callback timeout here, so the sandbox always
 * waits for them: the context they use is valid only during this tool
 * call. The tools' own timeouts still apply inside hl_context_call_tool().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/agent.h"
#include "hookline/context.h"
#include "sandbox_internal.h"

#define CODE_TOOL_NAME "run_javascript"

static const char code_tool_description[] =
  "Run JavaScript in a sandbox. The agent's other tools are available as async "
  "functions that take one object argument, e.g. `const r = await tool_name({arg: 1})`; "
  "run several at once with `await Promise.all([...])`. listCallbacks() lists them with "
  "their parameter schemas. console.log output is returned as stdout, and the value of "
  "the last expression statement as result. Failed tool calls throw an Error with "
  "`kind` and `message`.";

typedef struct code_call {
  hl_context *ctx;
} code_call;

static hl_status call_agent_tool(const char *name, const cJSON *args, cJSON **result, void *ud) {
  code_call *cc = ud;
  return hl_context_call_tool(cc->ctx, name, args, result);
}

static hl_status run_code(hl_context *ctx, const cJSON *args, cJSON **result, void *user_data) {
  const hl_sandbox_limits *limits = user_data;
  const char *code = hl_json_get_string(args, "code");
  if (!code)
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "run_javascript: missing string \"code\"");
  hl_sandbox_limits l = *limits;
  l.callback_timeout_ms = 0; /* see the file comment */

  hl_sandbox *sb = NULL;
  hl_status st = hl_sandbox_new(&l, &sb);
  if (st)
    return st;
  code_call cc = {ctx};
  hl_agent *agent = ctx ? hl_context_agent(ctx) : NULL;
  hl_tools *tools = agent ? hl_agent_tools(agent) : NULL;
  size_t n = tools ? hl_tools_count(tools) : 0;
  for (size_t i = 0; i < n; i++) {
    hl_tool *t = hl_tools_at(tools, i);
    const char *tname = hl_tool_name(t);
    if (!tname || strcmp(tname, CODE_TOOL_NAME) == 0)
      continue;
    /* A tool whose name is not a JavaScript identifier (e.g. with '-')
     * cannot be a global function; it is left out rather than failing. */
    if (hl_sandbox_add_callback(sb, tname, hl_tool_description(t), call_agent_tool, &cc, NULL))
      continue;
    const cJSON *schema = hl_tool_schema(t);
    char *text = schema ? cJSON_PrintUnformatted(schema) : NULL;
    if (text)
      (void)hl_sandbox_callback_schema(sb, tname, text);
    free(text);
  }

  hl_sandbox_result res;
  st = hl_sandbox_execute(sb, code, &res);
  if (st == HL_OK) {
    cJSON *out = cJSON_CreateObject();
    cJSON *value = NULL;
    if (res.value_json)
      (void)hl_json_parse(res.value_json, (size_t)-1, &value);
    if (!out || !cJSON_AddItemToObject(out, "result", value ? value : cJSON_CreateNull()) ||
        !cJSON_AddStringToObject(out, "stdout", res.stdout_text) ||
        !cJSON_AddStringToObject(out, "stderr", res.stderr_text)) {
      cJSON_Delete(out);
      st = hl_fail(HL_ERR_NOMEM, "run_javascript: out of memory");
    } else {
      *result = out;
    }
  } else {
    /* The model sees the reason and what was printed before it. */
    st = hl_fail(st, "%s%s%s", res.error, res.stdout_len ? "\nstdout:\n" : "",
                 res.stdout_len ? res.stdout_text : "");
  }
  hl_sandbox_result_clear(&res);
  hl_sandbox_free(sb);
  return st;
}

hl_tool *hl_sandbox_code_tool(const hl_sandbox_limits *limits) {
  hl_sandbox_limits *l = malloc(sizeof *l);
  if (!l) {
    hl_fail(HL_ERR_NOMEM, "hl_sandbox_code_tool: out of memory");
    return NULL;
  }
  if (limits)
    *l = *limits;
  else
    hl_sandbox_limits_default(l);
  hl_tool *tool = hl_tool_new(CODE_TOOL_NAME, code_tool_description, run_code, l);
  if (!tool) {
    free(l);
    return NULL;
  }
  hl_tool_set_free_fn(tool, free);
  if (hl_tool_param(tool, "code", "string", "JavaScript to run (top-level await allowed)", true)) {
    hl_tool_unref(tool);
    return NULL;
  }
  return tool;
}
