/*
 * lib/sandbox/code_mode.c - the sandbox as a tool ("code mode"): the model
 * writes JavaScript that calls the agent's other tools as async functions.
 *
 * Each call runs in the sandbox of the calling agent session
 * (code_sessions.c): what one call defines is there in the next, until the
 * model asks for a fresh state (argument `reset`). The calling agent's
 * tools are (re)added to it for every call, and the code is executed with
 * the run's context, so that the sandbox routes every call through
 * hl_context_call_tool(): the before_tool and after_tool chains and the
 * TOOL_START/TOOL_END events apply to calls made from inside JavaScript
 * exactly as to the model's direct calls. The tools' own timeouts apply
 * inside hl_context_call_tool().
 * Tool names that are not JavaScript names are adapted ('-' becomes '_',
 * a leading digit gets a '_'); listCallbacks() shows the names to use.
 * A call without a session (no context) runs in a fresh sandbox.
 * Cancelling the agent run (hl_agent_cancel) cancels the
 * running JavaScript through a cancel notification of the context: the
 * tool returns HL_ERR_CANCELLED within the sandbox's grace period instead
 * of running on until its timeout.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code_mode_internal.h"
#include "hookline/agent.h"
#include "hookline/context.h"
#include "hookline/json.h"

#define CODE_TOOL_NAME "run_javascript"

static const char code_tool_description[] =
  "Run JavaScript in a sandbox. The agent's other tools are available as async "
  "functions that take one object argument, e.g. `const r = await tool_name({arg: 1})`; "
  "run several at once with `await Promise.all([...])`. listCallbacks() lists them with "
  "their parameter schemas. console.log output is returned as stdout, and the value of "
  "the last expression statement as result. Failed tool calls throw an Error with "
  "`kind` and `message`. State persists between calls in this conversation: functions, "
  "`var`s and `globalThis` properties defined in one call exist in the next (top-level "
  "`let`/`const` too, but they cannot be declared again: prefer `var` or globalThis for "
  "what you redefine). Pass `reset: true` to start from a fresh state.";

/* Session state key that counts the tool's calls in a session: a call
 * that finds earlier calls there but no JavaScript state in this process
 * knows that the state was lost (and says so). */
#define CALLS_STATE_KEY "hookline.code_mode"
#define CODE_TOOL_MAGIC 0x636f6465u

/* The Python variant (hl_sandbox_python_tool()). */
#define PY_TOOL_NAME "run_python"
static const char py_tool_description[] =
  "Run Python (MicroPython 1.27) in a sandbox. The agent's other tools are available as "
  "async functions taking keyword arguments, e.g. `r = await tool_name(arg=1)`; run several "
  "at once with `await asyncio.gather(...)`. list_callbacks() lists them with their "
  "parameter schemas. print() output is returned as stdout, and the value of the last "
  "expression statement as result. Failed tool calls raise CallbackError with `kind` and "
  "`message`. There is no file system or network. State persists between calls in this "
  "conversation: functions and variables defined in one call exist in the next. Pass "
  "`reset: true` to start from a fresh state.";
#define PY_CALLS_STATE_KEY "hookline.code_mode.python"
static const char py_lost_note[] =
  "The Python state of this conversation's earlier run_python calls is gone (the "
  "conversation was resumed in another process, or its state was dropped to make room): "
  "define again what you need.";

static bool is_python(const code_tool *ct) { return ct->limits.language == HL_SANDBOX_PYTHON; }
static const char *calls_key(const code_tool *ct) {
  return is_python(ct) ? PY_CALLS_STATE_KEY : CALLS_STATE_KEY;
}

static const char redeclaration_note[] =
  "run_javascript keeps its state between calls, and a top-level const or let cannot be "
  "declared again: use var (or assign to globalThis) for names you redefine, or pass "
  "reset: true to start from a fresh state.";

static const char lost_note[] =
  "The JavaScript state of this conversation's earlier run_javascript calls is gone (the "
  "conversation was resumed in another process, or its state was dropped to make room): "
  "define again what you need.";

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

/* Does the sandbox hold exactly the agent's tools, in order? Then the
 * call need not redefine them (JavaScript's view stays as it is). */
static bool tools_match(const hl_sandbox *sb, hl_tool *const *want, char (*names)[72], size_t n) {
  if (sb->n_callbacks != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (sb->callbacks[i]->tool != want[i] || strcmp(sb->callbacks[i]->name, names[i]) != 0)
      return false;
  return true;
}

/* Give the sandbox the agent's tools under their JavaScript names; a
 * tool whose name cannot become a JavaScript name (a reserved word, a
 * clash) is left out. */
static hl_status sync_tools(hl_sandbox *sb, hl_context *ctx) {
  hl_agent *agent = ctx ? hl_context_agent(ctx) : NULL;
  hl_tools *tools = agent ? hl_agent_tools(agent) : NULL;
  size_t n = tools ? hl_tools_count(tools) : 0;
  hl_tool **want = calloc(n ? n : 1, sizeof *want);
  char (*names)[72] = calloc(n ? n : 1, sizeof *names);
  if (!want || !names) {
    free(want);
    free(names);
    return hl_fail(HL_ERR_NOMEM, "run_javascript: out of memory");
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    hl_tool *t = hl_tools_at(tools, i);
    const char *tname = hl_tool_name(t);
    if (!tname || strcmp(tname, CODE_TOOL_NAME) == 0 || strcmp(tname, PY_TOOL_NAME) == 0 ||
        strlen(tname) > 64)
      continue;
    want[k] = t;
    js_name_of(tname, names[k], sizeof names[k]);
    k++;
  }
  if (!tools_match(sb, want, names, k)) {
    while (sb->n_callbacks)
      (void)hl_sandbox_remove_tool(sb, sb->callbacks[sb->n_callbacks - 1]->name);
    for (size_t i = 0; i < k; i++)
      (void)hl_sandbox_add_tool(sb, want[i], names[i]);
  }
  free(want);
  free(names);
  return HL_OK;
}

/* Called by hl_agent_cancel() (any thread, under the context's cancel
 * lock): only flags the sandbox and moves its watchdog deadline. */
static void cancel_sandbox(void *sb) { hl__sb_cancel(sb); }

/* The session's sandbox for this call: kept, restored from the state
 * file, reset, or new. Sets *lost when earlier calls' state is gone, and
 * `why` (cap bytes) to the reason when a state file was there but could
 * not be used (corrupt, from another build, ...); empty otherwise. */
static hl_status session_sandbox(code_tool *ct, hl_context *ctx, code_session *s, bool reset,
                                 bool *lost, char *why, size_t cap) {
  *lost = false;
  why[0] = 0;
  char *path = hl__code_state_path(ct, s->id);
  if (reset && path)
    unlink(path);
  if (s->sb) {
    hl_status st = reset ? hl_sandbox_reset(s->sb) : HL_OK;
    free(path);
    return st;
  }
  hl_status st = HL_ERR_NOT_FOUND;
  if (path && !reset) {
    hl_sandbox_snapshot *snap = NULL;
    st = hl_sandbox_snapshot_load(path, &snap);
    if (st == HL_OK) {
      st = hl_sandbox_new_from_snapshot(snap, &ct->limits, &s->sb);
      hl_sandbox_snapshot_free(snap);
    }
    /* No file is the usual case of a state that is gone; a file that is
     * there and unusable has a reason worth telling. */
    if (st != HL_OK && st != HL_ERR_NOT_FOUND)
      snprintf(why, cap, "%s", hl_last_error());
  }
  free(path);
  if (st == HL_OK)
    return HL_OK;
  if (!reset && ctx) {
    cJSON *prev = hl_context_state_get(ctx, calls_key(ct));
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(prev, "calls");
    *lost = cJSON_IsNumber(calls) && calls->valuedouble > 0;
    cJSON_Delete(prev);
  }
  return hl_sandbox_new(&ct->limits, &s->sb);
}

/* Count the call in the session's state (see CALLS_STATE_KEY). */
static void count_call(const code_tool *ct, hl_context *ctx) {
  cJSON *prev = hl_context_state_get(ctx, calls_key(ct));
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive(prev, "calls");
  double n = cJSON_IsNumber(calls) ? calls->valuedouble : 0;
  cJSON_Delete(prev);
  cJSON *v = cJSON_CreateObject();
  if (v && cJSON_AddNumberToObject(v, "calls", n + 1))
    (void)hl_context_state_set(ctx, calls_key(ct), v);
  cJSON_Delete(v);
}

static hl_status execute_in(hl_sandbox *sb, hl_context *ctx, const char *code, const char *note,
                            cJSON **result) {
  /* NULL when out of memory: the code then runs to its own end. */
  hl_cancel_reg *reg = ctx ? hl_context_on_cancel(ctx, cancel_sandbox, sb) : NULL;
  hl_sandbox_result res = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, ctx, code, &res);
  hl_context_cancel_unregister(reg);
  cJSON *value = NULL;
  if (st == HL_OK && res.value_json && hl_json_parse(res.value_json, (size_t)-1, &value) != HL_OK)
    /* Never a silent null: the sandbox makes its JSON parseable (lone
     * surrogates and U+0000 become U+FFFD), so this is a bug to report. */
    st = hl_fail(HL_ERR_EXECUTION_FAILED, "run_javascript: the result is not usable JSON: %s",
                 hl_last_error());
  if (st == HL_OK) {
    cJSON *out = cJSON_CreateObject();
    if (!hl_json_add(out, "result", value ? value : cJSON_CreateNull()) ||
        !cJSON_AddStringToObject(out, "stdout", res.stdout_text) ||
        !cJSON_AddStringToObject(out, "stderr", res.stderr_text) ||
        (note && !cJSON_AddStringToObject(out, "note", note))) {
      cJSON_Delete(out);
      st = hl_fail(HL_ERR_NOMEM, "run_javascript: out of memory");
    } else {
      *result = out;
    }
  } else {
    /* State lasts between calls, so code run a second time fails on its
     * own top-level const/let: tell the model how to write it instead. */
    if (!note && strstr(hl_last_error(), "SyntaxError: redeclaration of "))
      note = redeclaration_note;
    if (note || (res.status != HL_OK && res.stdout_len))
      /* The model sees the reason and what was printed before it. */
      st = hl_fail(st, "%s%s%s%s%s", hl_last_error(), res.stdout_len ? "\nstdout:\n" : "",
                   res.stdout_len ? res.stdout_text : "", note ? "\nnote: " : "", note ? note : "");
  }
  hl_sandbox_result_clear(&res);
  return st;
}

static hl_status run_code(hl_context *ctx, const cJSON *args, cJSON **result, void *user_data) {
  code_tool *ct = user_data;
  const char *code = hl_json_get_string(args, "code");
  if (!code)
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "%s: missing string \"code\"",
                   is_python(ct) ? PY_TOOL_NAME : CODE_TOOL_NAME);
  const cJSON *reset_arg = cJSON_GetObjectItemCaseSensitive(args, "reset");
  bool reset = cJSON_IsTrue(reset_arg);
  const char *sid = ctx ? hl_context_session_id(ctx) : NULL;
  code_session *s = sid ? hl__code_session_acquire(ct, sid) : NULL;
  hl_status st;
  if (!s) {
    /* No session (or no room): a sandbox for this call alone. */
    hl_sandbox *sb = NULL;
    st = hl_sandbox_new(&ct->limits, &sb);
    if (st == HL_OK)
      st = sync_tools(sb, ctx);
    if (st == HL_OK)
      st = execute_in(sb, ctx, code, NULL, result);
    hl_sandbox_free(sb);
    return st;
  }
  bool lost = false;
  char why[384];
  st = session_sandbox(ct, ctx, s, reset, &lost, why, sizeof why);
  if (st == HL_OK)
    st = sync_tools(s->sb, ctx);
  if (st == HL_OK) {
    const char *note = lost ? (is_python(ct) ? py_lost_note : lost_note) : NULL;
    char note_why[1024];
    if (note && why[0]) {
      snprintf(note_why, sizeof note_why, "%s Its saved state could not be loaded: %s", note,
               why);
      note = note_why;
    }
    st = execute_in(s->sb, ctx, code, note, result);
    hl_status saved = hl__code_state_save(ct, s->id, s->sb);
    if (saved != HL_OK && st == HL_OK)
      /* The call worked; only its durability failed: tell the model's
       * caller through the result, not by failing the call. */
      (void)cJSON_AddStringToObject(*result, "note", hl_last_error());
    s->calls++;
    count_call(ct, ctx);
  }
  hl__code_session_release(ct, s);
  return st;
}

code_tool *hl__code_tool_of(hl_tool *tool) {
  code_tool *ct = tool ? hl_tool_user_data(tool) : NULL;
  return ct && ct->magic == CODE_TOOL_MAGIC ? ct : NULL;
}

static void code_tool_free(void *p) {
  code_tool *ct = p;
  hl__code_sessions_destroy(ct);
  ct->magic = 0;
  free(ct);
}

hl_tool *hl_sandbox_code_tool(const hl_sandbox_limits *limits) {
  if (limits && limits->size < offsetof(hl_sandbox_limits, timeout_ms) + sizeof limits->timeout_ms) {
    hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool: limits->size is %zu: fill the limits with "
            "hl_sandbox_limits_default() first", limits->size);
    return NULL;
  }
  code_tool *ct = calloc(1, sizeof *ct);
  if (!ct) {
    hl_fail(HL_ERR_NOMEM, "hl_sandbox_code_tool: out of memory");
    return NULL;
  }
  ct->magic = CODE_TOOL_MAGIC;
  hl__code_sessions_init(ct);
  /* Fields past the caller's size keep their defaults. */
  hl_sandbox_limits_default(&ct->limits);
  if (limits)
    memcpy(&ct->limits, limits, limits->size < sizeof ct->limits ? limits->size : sizeof ct->limits);
  ct->limits.size = sizeof ct->limits;
  if (is_python(ct) && !hl_sandbox_language_available(HL_SANDBOX_PYTHON)) {
    code_tool_free(ct);
    hl_fail(HL_ERR_UNSUPPORTED, "hl_sandbox_python_tool: this build has no Python guest (run "
            "scripts/setup.sh, then rebuild)");
    return NULL;
  }
  hl_tool *tool = is_python(ct) ? hl_tool_new(PY_TOOL_NAME, py_tool_description, run_code, ct)
                                : hl_tool_new(CODE_TOOL_NAME, code_tool_description, run_code, ct);
  if (!tool) {
    code_tool_free(ct);
    return NULL;
  }
  hl_tool_set_free_fn(tool, code_tool_free);
  if (hl_tool_param(tool, "code", "string",
                    is_python(ct) ? "Python to run (top-level await allowed)"
                                  : "JavaScript to run (top-level await allowed)", true) ||
      hl_tool_param(tool, "reset", "boolean",
                    "true: forget what earlier calls defined and start from a fresh state", false)) {
    hl_tool_unref(tool);
    return NULL;
  }
  return tool;
}
