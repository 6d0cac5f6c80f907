/*
 * tools.c - native tools of the chatbot.
 *
 * calculator: evaluates arithmetic with calc.c (never a shell, never eval).
 * clock: the current date and time, local or UTC.
 * Both return plain text results, which is what models read best.
 * run_javascript: the sandbox's code tool, when the library has the sandbox.
 * run_python: the same for Python, when the library has the Python guest.
 */
#include "tools.h"
#include "calc.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Error messages quote at most the start of what they are about: a
 * 6,000-character expression quoted whole would bury the actual error
 * (and hl_fail's message buffer would cut the error off entirely). */
#define QUOTE_MAX 80

/* The first QUOTE_MAX bytes of `s` (cut on a UTF-8 boundary), with "..."
 * when cut. `buf` needs QUOTE_MAX + 4 bytes. */
static const char *quote_start(const char *s, char *buf) {
  size_t n = strlen(s);
  if (n <= QUOTE_MAX) return s;
  n = QUOTE_MAX;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  memcpy(buf, s, n);
  memcpy(buf + n, "...", 4);
  return buf;
}

static hl_status calculator_fn(hl_context *ctx, const cJSON *args, cJSON **result,
                               void *user_data) {
  (void)ctx;
  (void)user_data;
  const char *expr = hl_json_get_string(args, "expression");
  if (!expr) /* the schema makes this unreachable; stay safe anyway */
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "missing \"expression\"");
  double value;
  char err[256];
  if (calc_eval(expr, &value, err, sizeof err) != 0) {
    char quoted[QUOTE_MAX + 4];
    return hl_fail(HL_ERR_EXECUTION_FAILED, "cannot evaluate \"%s\": %s",
                   quote_start(expr, quoted), err);
  }
  char text[64];
  calc_format(value, text, sizeof text);
  *result = cJSON_CreateString(text);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "out of memory");
}

static hl_status clock_fn(hl_context *ctx, const cJSON *args, cJSON **result,
                          void *user_data) {
  (void)ctx;
  (void)user_data;
  bool utc = hl_json_get_bool(args, "utc", false);
  time_t now = time(NULL);
  struct tm tm;
  if (!(utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)))
    return hl_fail(HL_ERR_EXECUTION_FAILED, "cannot read the system clock");
  char text[128];
  /* Both a human form and ISO 8601, so the model can quote either. */
  /* gmtime_r's zone name is "GMT"; people (and the question) say UTC. */
  size_t n = strftime(text, sizeof text,
                      utc ? "%A %d %B %Y, %H:%M:%S UTC (%Y-%m-%dT%H:%M:%SZ)"
                          : "%A %d %B %Y, %H:%M:%S %Z (%Y-%m-%dT%H:%M:%S%z)",
                      &tm);
  if (n == 0) return hl_fail(HL_ERR_EXECUTION_FAILED, "cannot format the time");
  *result = cJSON_CreateString(text);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "out of memory");
}

static hl_status add_native(hl_agent *agent, hl_tool *tool) {
  if (!tool) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  hl_status st = hl_agent_add_tool(agent, tool);
  hl_tool_unref(tool); /* the agent holds its own reference */
  return st;
}

static hl_tool *make_calculator(void) {
  hl_tool *t = hl_tool_new(
      "calculator",
      "Evaluate an arithmetic expression exactly. Supports + - * / % ^ (power), "
      "parentheses, unary minus and decimals, e.g. \"(17*23) - 2^3\". Use it for "
      "any arithmetic instead of computing in your head.",
      calculator_fn, NULL);
  if (!t) return NULL;
  if (hl_tool_param(t, "expression", "string", "the expression to evaluate", true) != HL_OK ||
      hl_tool_set_strict(t, true) != HL_OK) {
    hl_tool_unref(t);
    return NULL;
  }
  return t;
}

static hl_tool *make_clock(void) {
  hl_tool *t = hl_tool_new(
      "clock",
      "The current date and time on this computer (local time zone, or UTC when "
      "\"utc\" is true).",
      clock_fn, NULL);
  if (!t) return NULL;
  if (hl_tool_param(t, "utc", "boolean", "give the time in UTC", false) != HL_OK ||
      hl_tool_set_strict(t, true) != HL_OK) {
    hl_tool_unref(t);
    return NULL;
  }
  return t;
}

/* Code mode in Python (MicroPython in the same Wasm sandbox), next to
 * run_javascript, with the same tight limits. Absent, silently, from a
 * library built without the MicroPython module. */
static hl_status add_python(hl_agent *agent, const hl_sandbox_limits *limits) {
  if (!hl_sandbox_language_available(HL_SANDBOX_PYTHON)) return HL_OK;
  hl_tool *py = hl_sandbox_python_tool(limits);
  if (!py) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  return add_native(agent, py);
}

hl_status chat_add_tools(hl_agent *agent, bool *have_js) {
  *have_js = false;
  hl_status st = add_native(agent, make_calculator());
  if (st == HL_OK) st = add_native(agent, make_clock());
  if (st != HL_OK || !hl_sandbox_available()) return st;
  /* Code mode: model-written JavaScript in the Wasm sandbox, where the
   * other tools are async functions (await calculator({expression})).
   * Tight limits: a chat answer should never wait long on a program. */
  hl_sandbox_limits limits;
  hl_sandbox_limits_default(&limits);
  limits.timeout_ms = 10000;
  limits.max_callbacks = 100;
  limits.max_output_bytes = 64 * 1024;
  hl_tool *js = hl_sandbox_code_tool(&limits);
  if (!js) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  st = add_native(agent, js);
  if (st == HL_OK) *have_js = true;
  if (st == HL_OK) st = add_python(agent, &limits);
  return st;
}
