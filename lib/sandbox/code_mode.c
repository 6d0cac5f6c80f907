/*
 * lib/sandbox/code_mode.c - the sandbox as a tool ("code mode"): the model
 * writes JavaScript that calls the agent's other tools as async functions.
 *
 * Each run of the tool makes a fresh sandbox (microseconds, from the
 * snapshot), adds the calling agent's tools to it, and executes the code
 * with the run's context, so that the sandbox routes every call through
 * hl_context_call_tool(): the before_tool and after_tool chains and the
 * TOOL_START/TOOL_END events apply to calls made from inside JavaScript
 * exactly as to the model's direct calls. The tools' own timeouts apply
 * inside hl_context_call_tool().
 * Tool names that are not JavaScript names are adapted ('-' becomes '_',
 * a leading digit gets a '_'); listCallbacks() shows the names to use.
 * Each call of the tool runs in a fresh sandbox: nothing persists from one
 * call to the next. Cancelling the agent run (hl_agent_cancel) cancels the
 * running JavaScript through a cancel notification of the context: the
 * tool returns HL_ERR_CANCELLED within the sandbox's grace period instead
 * of running on until its timeout.
 */
#include <stddef.h>
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

/* Tool names allow '-' and a leading digit, JavaScript names do not:
 * "get-weather" becomes get_weather, "3d" becomes _3d. */
static void js_name_of(const char *tool, char *out, size_t cap) {
  size_t n = 0;
  if (tool[0] >= '0' && tool[0] <= '9')
    out[n++] = '_';
  for (const char *p = tool; *p && n + 1 < cap; p++)
    out[n++] = *p == '-' ? '_' : *p;
  out[n] = 0;
}

/* Add `t` under its JavaScript name; a tool whose name cannot become a
 * JavaScript name (a reserved word, a clash) is left out. */
static void add_agent_tool(hl_sandbox *sb, hl_tool *t) {
  const char *tname = hl_tool_name(t);
  if (!tname || strcmp(tname, CODE_TOOL_NAME) == 0 || strlen(tname) > 64)
    return;
  char js[72];
  js_name_of(tname, js, sizeof js);
  (void)hl_sandbox_add_tool(sb, t, js);
}

/* Called by hl_agent_cancel() (any thread, under the context's cancel
 * lock): only flags the sandbox and moves its watchdog deadline. */
static void cancel_sandbox(void *sb) { hl__sb_cancel(sb); }

static hl_status run_code(hl_context *ctx, const cJSON *args, cJSON **result, void *user_data) {
  const hl_sandbox_limits *limits = user_data;
  const char *code = hl_json_get_string(args, "code");
  if (!code)
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "run_javascript: missing string \"code\"");
  hl_sandbox *sb = NULL;
  hl_status st = hl_sandbox_new(limits, &sb);
  if (st)
    return st;
  hl_agent *agent = ctx ? hl_context_agent(ctx) : NULL;
  hl_tools *tools = agent ? hl_agent_tools(agent) : NULL;
  size_t n = tools ? hl_tools_count(tools) : 0;
  for (size_t i = 0; i < n; i++)
    add_agent_tool(sb, hl_tools_at(tools, i));

  /* NULL when out of memory: the code then runs to its own end. */
  hl_cancel_reg *reg = ctx ? hl_context_on_cancel(ctx, cancel_sandbox, sb) : NULL;
  hl_sandbox_result res = HL_SANDBOX_RESULT_INIT;
  st = hl_sandbox_execute(sb, ctx, code, &res);
  hl_context_cancel_unregister(reg);
  cJSON *value = NULL;
  if (st == HL_OK && res.value_json && hl_json_parse(res.value_json, (size_t)-1, &value) != HL_OK)
    /* Never a silent null: the sandbox makes its JSON parseable (lone
     * surrogates and U+0000 become U+FFFD), so this is a bug to report. */
    st = hl_fail(HL_ERR_EXECUTION_FAILED, "run_javascript: the result is not usable JSON: %s",
                 hl_last_error());
  if (st == HL_OK) {
    cJSON *out = cJSON_CreateObject();
    if (!out)
      cJSON_Delete(value);
    if (!out || !cJSON_AddItemToObject(out, "result", value ? value : cJSON_CreateNull()) ||
        !cJSON_AddStringToObject(out, "stdout", res.stdout_text) ||
        !cJSON_AddStringToObject(out, "stderr", res.stderr_text)) {
      cJSON_Delete(out);
      st = hl_fail(HL_ERR_NOMEM, "run_javascript: out of memory");
    } else {
      *result = out;
    }
  } else if (res.status != HL_OK && res.stdout_len) {
    /* The model sees the reason and what was printed before it. */
    st = hl_fail(st, "%s\nstdout:\n%s", hl_last_error(), res.stdout_text);
  }
  hl_sandbox_result_clear(&res);
  hl_sandbox_free(sb);
  return st;
}

hl_tool *hl_sandbox_code_tool(const hl_sandbox_limits *limits) {
  if (limits && limits->size < offsetof(hl_sandbox_limits, timeout_ms) + sizeof limits->timeout_ms) {
    hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool: limits->size is %zu: fill the limits with "
            "hl_sandbox_limits_default() first", limits->size);
    return NULL;
  }
  hl_sandbox_limits *l = malloc(sizeof *l);
  if (!l) {
    hl_fail(HL_ERR_NOMEM, "hl_sandbox_code_tool: out of memory");
    return NULL;
  }
  /* Fields past the caller's size keep their defaults. */
  hl_sandbox_limits_default(l);
  if (limits)
    memcpy(l, limits, limits->size < sizeof *l ? limits->size : sizeof *l);
  l->size = sizeof *l;
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
