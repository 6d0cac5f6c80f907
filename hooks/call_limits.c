/*
 * hooks/call_limits.c - at most N model calls per run and N calls per
 * tool per run (guards.h).
 *
 * The counts live in a per-run table keyed by invocation id: a limit per
 * run must not be shared by two runs of the same agent, and parallel tool
 * calls of one run update the same counts (hence the table's lock).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/context.h"
#include "hookline/guards.h"
#include "hookline/json.h"
#include "plugin_options.h"
#include "plugin_util.h"
#include "run_table.h"

#define NO_LIMIT (-1)

typedef struct tool_limit {
  char *name;     /* "*" for every other tool */
  int64_t max;
} tool_limit;

struct hl_call_limits {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  int64_t model_max;
  tool_limit *tools;
  size_t n_tools;
  bool refuse;
  hl__run_table runs;
  atomic_uint_fast64_t tripped;
};

/* One run's counts: model calls, and calls per tool name. */
typedef struct run_counts {
  int64_t model;
  cJSON *tools;   /* {"name": count} */
} run_counts;

static void *counts_make(void)
{
  run_counts *c = calloc(1, sizeof *c);
  if (c && !(c->tools = cJSON_CreateObject())) {
    free(c);
    return NULL;
  }
  return c;
}

static void counts_destroy(void *value)
{
  run_counts *c = value;
  cJSON_Delete(c->tools);
  free(c);
}

static void limits_destroy(void *self)
{
  hl_call_limits *l = self;
  for (size_t i = 0; i < l->n_tools; i++)
    free(l->tools[i].name);
  free(l->tools);
  hl__run_table_destroy(&l->runs);
  free(l);
}

hl_call_limits *hl_call_limits_new(const cJSON *options)
{
  static const char *const known[] = {"model_calls", "tool_calls", "on_limit", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_call_limits *l = calloc(1, sizeof *l);
  if (!l || !opts) {
    free(l);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&l->ref, limits_destroy);
  hl__run_table_init(&l->runs, 4096, counts_make, counts_destroy);
  atomic_init(&l->tripped, 0);
  const char *on_limit;
  const cJSON *tools;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) ||
           (st = hl__opt_int(opts, "model_calls", NO_LIMIT, 0, INT32_MAX, &l->model_max)) ||
           (st = hl__opt_object(opts, "tool_calls", &tools)) ||
           (st = hl__opt_string(opts, "on_limit", "abort", &on_limit)))
    ;
  else if (strcmp(on_limit, "abort") != 0 && strcmp(on_limit, "refuse") != 0)
    st = hl_fail(HL_ERR_INVALID, "$.on_limit: expected \"abort\" or \"refuse\", got \"%.40s\"", on_limit);
  if (st == HL_OK) {
    l->refuse = strcmp(on_limit, "refuse") == 0;
    size_t n = (size_t)cJSON_GetArraySize(tools);
    l->tools = n ? calloc(n, sizeof *l->tools) : NULL;
    if (n && !l->tools)
      st = hl_fail(HL_ERR_NOMEM, "out of memory");
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
      if (st)
        break;
      int64_t max;
      char key[300];
      snprintf(key, sizeof key, "tool_calls.%s", t->string);
      cJSON *one = cJSON_CreateObject();
      if (!one || !cJSON_AddItemReferenceToObject(one, key, (cJSON *)t)) {
        cJSON_Delete(one);
        st = hl_fail(HL_ERR_NOMEM, "out of memory");
        break;
      }
      st = hl__opt_int(one, key, 0, 0, INT32_MAX, &max);
      cJSON_Delete(one);
      if (st)
        break;
      if (!(l->tools[l->n_tools].name = strdup(t->string))) {
        st = hl_fail(HL_ERR_NOMEM, "out of memory");
        break;
      }
      l->tools[l->n_tools++].max = max;
    }
  }
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(l);
    return NULL;
  }
  return l;
}

hl_call_limits *hl_call_limits_ref(hl_call_limits *limits)
{
  hl__plugin_retain(limits);
  return limits;
}

void hl_call_limits_unref(hl_call_limits *limits)
{
  hl__plugin_release(limits);
}

uint64_t hl_call_limits_tripped(const hl_call_limits *limits)
{
  return limits ? atomic_load(&((hl_call_limits *)limits)->tripped) : 0;
}

static int64_t tool_max(const hl_call_limits *l, const char *name)
{
  int64_t star = NO_LIMIT;
  for (size_t i = 0; i < l->n_tools; i++) {
    if (strcmp(l->tools[i].name, name) == 0)
      return l->tools[i].max;
    if (strcmp(l->tools[i].name, "*") == 0)
      star = l->tools[i].max;
  }
  return star;
}

static hl_hook_action limits_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                          hl_before_agent_out *out, void *ud)
{
  (void)args;
  (void)out;
  /* A fresh count for this run, even if an id were ever reused. */
  hl_call_limits *l = ud;
  hl__run_table_drop(&l->runs, hl_context_invocation_id(ctx));
  return HL_HOOK_CONTINUE;
}

static hl_hook_action limits_after_agent(hl_context *ctx, const hl_after_agent_args *args,
                                         hl_after_agent_out *out, void *ud)
{
  (void)args;
  (void)out;
  hl_call_limits *l = ud;
  hl__run_table_drop(&l->runs, hl_context_invocation_id(ctx));
  return HL_HOOK_CONTINUE;
}

static hl_hook_action limits_before_model(hl_context *ctx, const hl_before_model_args *args,
                                          hl_before_model_out *out, void *ud)
{
  (void)args;
  hl_call_limits *l = ud;
  if (l->model_max == NO_LIMIT)
    return HL_HOOK_CONTINUE;
  run_counts *c = hl__run_table_lock(&l->runs, hl_context_invocation_id(ctx));
  if (!c)
    return hl_hook_abort("call_limits: out of memory");
  int64_t n = ++c->model;
  hl__run_table_unlock(&l->runs);
  if (n <= l->model_max)
    return HL_HOOK_CONTINUE;
  atomic_fetch_add(&l->tripped, 1);
  char msg[200];
  snprintf(msg, sizeof msg, "the limit of %lld model calls per run was reached",
           (long long)l->model_max);
  if (!l->refuse)
    return hl_hook_abort("call_limits: %s", msg);
  char text[240];
  snprintf(text, sizeof text, "Stopped: %s.", msg);
  out->response = hl_response_new_text(text);
  return out->response ? HL_HOOK_OVERRIDE : hl_hook_abort("call_limits: %s", msg);
}

static hl_hook_action limits_before_tool(hl_context *ctx, const hl_before_tool_args *args,
                                         hl_before_tool_out *out, void *ud)
{
  hl_call_limits *l = ud;
  const char *name = args->call && args->call->name ? args->call->name : "";
  int64_t max = tool_max(l, name);
  if (max == NO_LIMIT)
    return HL_HOOK_CONTINUE;
  run_counts *c = hl__run_table_lock(&l->runs, hl_context_invocation_id(ctx));
  if (!c)
    return hl_hook_abort("call_limits: out of memory");
  cJSON *count = cJSON_GetObjectItemCaseSensitive(c->tools, name);
  int64_t n = count ? (int64_t)count->valuedouble + 1 : 1;
  if (count)
    cJSON_SetNumberValue(count, (double)n);
  else if (!cJSON_AddNumberToObject(c->tools, name, 1)) {
    hl__run_table_unlock(&l->runs);
    return hl_hook_abort("call_limits: out of memory");
  }
  hl__run_table_unlock(&l->runs);
  if (n <= max)
    return HL_HOOK_CONTINUE;
  atomic_fetch_add(&l->tripped, 1);
  char msg[200];
  snprintf(msg, sizeof msg, "tool \"%.64s\" may be called at most %lld times per run", name,
           (long long)max);
  if (!l->refuse)
    return hl_hook_abort("call_limits: %s", msg);
  cJSON *r = cJSON_CreateObject();
  if (!r || !cJSON_AddStringToObject(r, "error", "limit") ||
      !cJSON_AddStringToObject(r, "message", msg)) {
    cJSON_Delete(r);
    return hl_hook_abort("call_limits: %s", msg);
  }
  out->result = r;
  return HL_HOOK_OVERRIDE;
}

hl_status hl_call_limits_install(hl_call_limits *l, hl_hooks *hooks)
{
  if (!l || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_call_limits_install: NULL argument");
  hl_status st;
  if ((st = hl__plugin_add(l, hooks, HL_HOOK_BEFORE_AGENT, "call_limits", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.before_agent = limits_before_agent})) ||
      (st = hl__plugin_add(l, hooks, HL_HOOK_AFTER_AGENT, "call_limits", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_agent = limits_after_agent})) ||
      (st = hl__plugin_add(l, hooks, HL_HOOK_BEFORE_MODEL, "call_limits", HL_HOOK_DECIDE,
                           (hl_hook_fn){.before_model = limits_before_model})) ||
      (st = hl__plugin_add(l, hooks, HL_HOOK_BEFORE_TOOL, "call_limits", HL_HOOK_DECIDE,
                           (hl_hook_fn){.before_tool = limits_before_tool})))
    return hl__plugin_install_failed(hooks, "call_limits", "hl_call_limits_install", st);
  return HL_OK;
}
