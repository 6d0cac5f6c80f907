/*
 * hooks.c - the hooks the chatbot registers on its agent.
 *
 * Its own two hooks show the two things hooks do best:
 *   normalize-math (before_tool) mutates arguments: people type "12 × 7"
 *     or "12 x 7"; the calculator wants "12 * 7". /trace shows the
 *     arguments before and after.
 *   cap-tool-result (after_tool) replaces results: a tool that returns a
 *     huge text would flood the model's context, so results beyond
 *     CAP_BYTES are cut, with a note saying so.
 * Plugins from hooks/ (plugins.h): the input guardrail (always), the tool
 * allowlist (--allow-tools) and file logging (--log).
 */
#include "chat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CAP_BYTES 16000

/* Rewrite "×", "÷" and a letter x between operands into * and /. Returns a
 * new string for free(), or NULL when nothing needs rewriting. */
static char *normalize_expression(const char *expr) {
  if (!strstr(expr, "×") && !strstr(expr, "÷") && !strchr(expr, 'x') && !strchr(expr, 'X'))
    return NULL;
  char *out = malloc(strlen(expr) + 1); /* never grows: 2-byte glyphs become 1 byte */
  if (!out) return NULL;
  size_t o = 0;
  for (const char *p = expr; *p;) {
    if (strncmp(p, "×", strlen("×")) == 0) {
      out[o++] = '*';
      p += strlen("×");
    } else if (strncmp(p, "÷", strlen("÷")) == 0) {
      out[o++] = '/';
      p += strlen("÷");
    } else if (*p == 'x' || *p == 'X') {
      out[o++] = '*';
      p++;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  return out;
}

static hl_hook_action normalize_math(hl_context *ctx, const hl_before_tool_args *in,
                                     hl_before_tool_out *out, void *user_data) {
  (void)ctx;
  (void)user_data;
  const hl_tool_call *call = in->call;
  cJSON **args = &out->args; /* ours to replace: HL_HOOK_EDIT_ARGS */
  if (!call->name || strcmp(call->name, "calculator") != 0) return HL_HOOK_CONTINUE;
  const char *expr = hl_json_get_string(*args, "expression");
  if (!expr) return HL_HOOK_CONTINUE; /* schema validation will explain */
  char *fixed = normalize_expression(expr);
  if (!fixed) return HL_HOOK_CONTINUE;
  cJSON *replaced = hl_json_clone(*args);
  if (replaced && cJSON_ReplaceItemInObject(replaced, "expression", cJSON_CreateString(fixed))) {
    cJSON_Delete(*args); /* H7: the tool and the trace see the new arguments */
    *args = replaced;
  } else {
    cJSON_Delete(replaced);
  }
  free(fixed);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action cap_tool_result(hl_context *ctx, const hl_after_tool_args *in,
                                      hl_after_tool_out *out, void *user_data) {
  (void)ctx;
  (void)user_data;
  const cJSON *result = in->result;
  cJSON **replacement = &out->result;
  if (!result) return HL_HOOK_CONTINUE;
  char *printed = NULL;
  const char *text = NULL;
  if (cJSON_IsString(result)) {
    text = result->valuestring;
  } else if (hl_json_print(result, &printed) == HL_OK) {
    text = printed;
  }
  size_t len = text ? strlen(text) : 0;
  if (len <= CAP_BYTES) {
    hl_free(printed);
    return HL_HOOK_CONTINUE;
  }
  size_t keep = CAP_BYTES;
  while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80) keep--; /* UTF-8 boundary */
  char note[96];
  snprintf(note, sizeof note, "\n[cut by the cap-tool-result hook: %zu of %zu bytes shown]", keep,
           len);
  char *cut = malloc(keep + strlen(note) + 1);
  if (cut) {
    memcpy(cut, text, keep);
    strcpy(cut + keep, note);
    *replacement = cJSON_CreateString(cut);
    free(cut);
  }
  hl_free(printed);
  return *replacement ? HL_HOOK_OVERRIDE : HL_HOOK_CONTINUE;
}

/* The input guardrail keeps secrets out of the model's context: a message
 * that contains an API key or a private key is answered locally and never
 * sent. Patterns are POSIX extended regexes, matched case-insensitively. */
/* Each pattern starts at a word boundary and needs a long unbroken run of
 * key characters, so hyphenated prose ("ask-me-anything-...") passes. */
static const char *const secret_patterns[] = {
    "(^|[^a-z0-9])sk-([a-z0-9]+-)*[a-z0-9_]{20,}",                /* OpenAI, Anthropic */
    "-----BEGIN [a-z ]*PRIVATE KEY-----",                         /* PEM private keys */
    "(^|[^a-z0-9])(ghp|gho|ghs|github_pat)_[a-z0-9_]{20,}",       /* GitHub tokens */
    "(^|[^a-z0-9])AKIA[0-9A-Z]{16}([^a-z0-9]|$)",                 /* AWS access key ids */
    NULL,
};

static hl_status add_guardrail(hl_hooks *hooks) {
  hl_guardrail *g = hl_guardrail_new(
      "That message looks like it contains a secret (an API key or a private key), so "
      "the input guardrail kept it from the model. Remove the secret and ask again.");
  if (!g) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  hl_status st = HL_OK;
  for (size_t i = 0; st == HL_OK && secret_patterns[i]; i++)
    st = hl_guardrail_block_regex(g, secret_patterns[i]);
  if (st == HL_OK) st = hl_guardrail_install(g, hooks);
  hl_guardrail_unref(g); /* the hook set holds its own reference */
  return st;
}

/* --allow-tools a,b: the allowlist plugin refuses every other tool; the
 * model sees the refusal as the tool's result and can explain it. Names
 * that are not tools of this chatbot are an error, not a silent no-op. */
static hl_status add_allowlist(chat_app *app, hl_hooks *hooks) {
  hl_tool_allowlist *list = hl_tool_allowlist_new();
  if (!list) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  hl_status st = HL_OK;
  hl_tools *tools = hl_agent_tools(app->agent);
  for (const char *p = app->opt.allow_tools; st == HL_OK && *p;) {
    size_t len = strcspn(p, ",");
    char name[80];
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
    if (*name && !hl_tools_find(tools, name))
      st = hl_fail(HL_ERR_NOT_FOUND, "--allow-tools: there is no tool \"%s\" (see /tools)", name);
    else if (*name)
      st = hl_tool_allowlist_allow(list, name);
    p += len + (p[len] == ',');
  }
  if (st == HL_OK) st = hl_tool_allowlist_install(list, hooks);
  hl_tool_allowlist_unref(list);
  return st;
}

/* --log FILE: the logging plugin writes one line per hook point, and a
 * logging observer one line per event, to the same file. */
static hl_status add_logging(chat_app *app, hl_hooks *hooks) {
  app->log_file = fopen(app->opt.log_path, "a");
  if (!app->log_file)
    return hl_fail(HL_ERR_IO, "cannot open log file %s: %s", app->opt.log_path, strerror(errno));
  setvbuf(app->log_file, NULL, _IOLBF, 0);
  hl_status st = hl_logging_hooks_install(hooks, app->log_file, "hook");
  if (st != HL_OK) return st;
  hl_observer *log = hl_observer_logging(app->log_file, "event");
  if (!log) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  st = hl_agent_add_observer(app->agent, log);
  hl_observer_unref(log);
  return st;
}

hl_status chat_add_hooks(chat_app *app) {
  hl_hooks *hooks = hl_agent_hooks(app->agent);
  hl_status st;
  /* Order matters (H3): refusals first, then the rewriting, and the logger
   * last so that its lines show what the other hooks did. */
  if ((st = add_guardrail(hooks)) != HL_OK) return st;
  if (app->opt.allow_tools && (st = add_allowlist(app, hooks)) != HL_OK) return st;
  if ((st = hl_hooks_add_before_tool(hooks, "normalize-math", HL_HOOK_EDIT_ARGS,
                                     normalize_math, NULL)) != HL_OK)
    return st;
  if ((st = hl_hooks_add_after_tool(hooks, "cap-tool-result", HL_HOOK_DECIDE,
                                     cap_tool_result, NULL)) != HL_OK)
    return st;
  if (app->opt.log_path && (st = add_logging(app, hooks)) != HL_OK) return st;
  return HL_OK;
}
