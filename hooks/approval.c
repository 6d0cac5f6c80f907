/*
 * hooks/approval.c - tool calls that need a person's approval
 * (guards.h): a before_tool hook that answers HL_HOOK_INTERRUPT for the
 * tools whose names match the configured names or glob patterns.
 *
 * The engine does the rest (interrupt.h): the other calls of the same
 * response still run, the run returns HL_INTERRUPTED with the waiting
 * calls (id, name, arguments, this hook's name and reason) in its state,
 * and hl_agent_resume() runs, edits or rejects them as decided. On resume
 * the engine tells the hook the call was approved (args->approved), so
 * the hook lets it through rather than asking again.
 */
#include <fnmatch.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/guards.h"
#include "hookline/json.h"
#include "plugin_options.h"
#include "plugin_util.h"

struct hl_approval {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  char **patterns;      /* names or fnmatch(3) globs */
  size_t n_patterns;
  char *reason;         /* NULL: a sentence naming the tool */
  atomic_uint_fast64_t requested;
};

static void approval_destroy(void *self)
{
  hl_approval *a = self;
  for (size_t i = 0; i < a->n_patterns; i++)
    free(a->patterns[i]);
  free(a->patterns);
  free(a->reason);
  free(a);
}

/* A glob that can never match (an unclosed '[') is a typo that would
 * silently let every call through: refuse it. */
static bool glob_well_formed(const char *p)
{
  for (; *p; p++) {
    if (*p == '\\' && p[1]) {
      p++;
    } else if (*p == '[') {
      const char *q = p + 1;
      if (*q == '!' || *q == '^')
        q++;
      if (*q == ']')
        q++;
      while (*q && *q != ']')
        q++;
      if (!*q)
        return false;
      p = q;
    }
  }
  return true;
}

static hl_status read_patterns(hl_approval *a, const cJSON *opts)
{
  const cJSON *tools = NULL;
  hl_status st = hl__opt_strings(opts, "tools", &tools);
  if (st != HL_OK)
    return st;
  if (tools && cJSON_GetArraySize(tools) == 0)
    return hl_fail(HL_ERR_INVALID,
                   "$.tools: empty: no tool would need approval (leave \"tools\" out for every tool)");
  size_t n = tools ? (size_t)cJSON_GetArraySize(tools) : 1;
  a->patterns = calloc(n, sizeof *a->patterns);
  if (!a->patterns)
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  if (!tools) {
    /* No list: every tool waits for approval (the safe default). */
    if (!(a->patterns[0] = hl__plugin_strdup("*")))
      return HL_ERR_NOMEM;
    a->n_patterns = 1;
    return HL_OK;
  }
  long i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, tools) {
    const char *p = item->valuestring;
    if (!p[0])
      return hl__opt_fail(HL_ERR_INVALID, "tools", i, "empty name or pattern");
    if (!glob_well_formed(p))
      return hl__opt_fail(HL_ERR_INVALID, "tools", i,
                          "\"%.80s\" is not a valid glob pattern (unclosed '[')", p);
    if (!(a->patterns[a->n_patterns] = hl__plugin_strdup(p)))
      return HL_ERR_NOMEM;
    a->n_patterns++;
    i++;
  }
  return HL_OK;
}

hl_approval *hl_approval_new(const cJSON *options)
{
  static const char *const known[] = {"tools", "reason", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_approval *a = calloc(1, sizeof *a);
  if (!a || !opts) {
    free(a);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&a->ref, approval_destroy);
  atomic_init(&a->requested, 0);
  const char *reason = NULL;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) || (st = read_patterns(a, opts)) ||
           (st = hl__opt_string(opts, "reason", NULL, &reason)))
    ;
  else if (reason && !(a->reason = hl__plugin_strdup(reason)))
    st = HL_ERR_NOMEM;
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(a);
    return NULL;
  }
  return a;
}

hl_approval *hl_approval_ref(hl_approval *a)
{
  hl__plugin_retain(a);
  return a;
}

void hl_approval_unref(hl_approval *a)
{
  hl__plugin_release(a);
}

bool hl_approval_matches(const hl_approval *a, const char *tool)
{
  if (!a || !tool)
    return false;
  for (size_t i = 0; i < a->n_patterns; i++)
    if (fnmatch(a->patterns[i], tool, 0) == 0)
      return true;
  return false;
}

static hl_hook_action approval_before_tool(hl_context *ctx, const hl_before_tool_args *args,
                                           hl_before_tool_out *out, void *ud)
{
  (void)ctx;
  hl_approval *a = ud;
  /* Resumed after a decision: that decision stands. */
  if (HL_HOOK_HAS(args, approved) && args->approved)
    return HL_HOOK_CONTINUE;
  const char *name = args->call && args->call->name ? args->call->name : "";
  if (!hl_approval_matches(a, name))
    return HL_HOOK_CONTINUE;
  atomic_fetch_add(&a->requested, 1);
  if (HL_HOOK_HAS(out, reason)) {
    char text[200];
    if (!a->reason)
      snprintf(text, sizeof text, "the tool \"%.120s\" needs approval", name);
    /* Without memory for the reason the call still waits: only the text
     * is lost, never the approval. */
    out->reason = strdup(a->reason ? a->reason : text);
  }
  return HL_HOOK_INTERRUPT;
}

hl_status hl_approval_install(hl_approval *a, hl_hooks *hooks)
{
  if (!a || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_approval_install: NULL argument");
  return hl__plugin_add(a, hooks, HL_HOOK_BEFORE_TOOL, "approval", HL_HOOK_DECIDE,
                        (hl_hook_fn){.before_tool = approval_before_tool});
}

uint64_t hl_approval_requested(const hl_approval *a)
{
  return a ? atomic_load(&((hl_approval *)a)->requested) : 0;
}
