/*
 * subagent.c - children of a run: hl_context_run_agent() and agents used
 * as tools. A child run is an ordinary hl__invoke() whose context points
 * at its parent: that is all inheritance (hooks, observers, branch,
 * cancellation, abort) needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/call.h"
#include "agent/interrupt_internal.h"
#include "core/util.h"
#include "hookline/json.h"

/* Deeper than this is an agent calling itself without end; stop it with
 * an error before the stack does. */
#define HL_MAX_AGENT_DEPTH 32

/* A fresh history with a copy of the parent's state and ids. */
static hl_session *hl_isolated_session(const hl_session *parent) {
  hl_session *s = hl_session_new(hl_session_app_name(parent), hl_session_user_id(parent),
                                 hl_session_id(parent));
  if (!s) return NULL;
  cJSON *state = hl_session_state(parent);
  const cJSON *item;
  cJSON_ArrayForEach(item, state) {
    if (hl_session_state_set(s, item->string, item) != HL_OK) {
      cJSON_Delete(state);
      hl_session_free(s);
      return NULL;
    }
  }
  cJSON_Delete(state);
  return s;
}

hl_status hl_context_run_agent(hl_context *ctx, hl_agent *child, const char *input,
                               hl_run_mode mode, char **answer) {
  if (answer) *answer = NULL;
  if (!ctx || !child || !input || !answer)
    return hl_fail(HL_ERR_INVALID, "hl_context_run_agent: ctx, child, input and answer are required");
  if (atomic_load(&ctx->finished))
    return hl_fail(HL_ERR_STATE, "hl_context_run_agent: the run has ended");
  int depth = 0;
  for (hl_context *c = ctx; c; c = c->parent) depth++;
  if (depth >= HL_MAX_AGENT_DEPTH)
    return hl_fail(HL_ERR_LIMIT, "agent \"%s\" nested %d levels deep under \"%s\"", child->name,
                   depth, ctx->branch);
  if (hl_context_cancelled(ctx))
    return hl_fail(HL_ERR_CANCELLED, "run cancelled before sub-agent \"%s\" started", child->name);

  hl_session *session;
  bool owned = true;
  switch (mode) {
  case HL_RUN_SHARED:
    session = ctx->session;
    owned = false;
    break;
  case HL_RUN_ISOLATED:
    session = hl_isolated_session(ctx->session);
    break;
  case HL_RUN_FORK:
    session = hl_session_clone(ctx->session);
    break;
  default:
    return hl_fail(HL_ERR_INVALID, "hl_context_run_agent: unknown run mode %d", (int)mode);
  }
  if (!session) return hl_fail(HL_ERR_NOMEM, "no memory for the session of sub-agent \"%s\"", child->name);
  /* interrupt.c: the record of the tool call this child runs in, if it
   * runs in one of this run's calls (on this thread, on a pool thread the
   * call handed its work to, or on a deferred call's own thread: call.h):
   * a resumed call hands the child its saved state (once), and an
   * interrupted child hands its state back. */
  hl__call *rec = hl__call_find(ctx);
  /* resume_custom.c: a custom agent's body (not inside a tool call of its
   * run) records its children, so that it can be resumed. */
  if (!rec && ctx->agent->kind == HL__AGENT_CUSTOM)
    return hl__custom_run_child(ctx, child, session, owned, input, answer);
  hl__resume resume = {0};
  const cJSON *saved_state = rec ? atomic_load(&rec->child_resume_state) : NULL;
  if (saved_state) {
    const char *saved = hl_json_get_string(saved_state, "agent");
    if (!saved || strcmp(saved, child->name) != 0) {
      hl__call_unref(rec);
      if (owned) hl_session_free(session);
      return hl_fail(HL_ERR_STATE, "resume: the call's saved sub-agent is \"%s\", but the tool ran \"%s\"",
                     saved ? saved : "", child->name);
    }
    if (hl__resume_kind_check(child, saved_state) != HL_OK) {
      hl__call_unref(rec);
      if (owned) hl_session_free(session);
      return HL_ERR_STATE;
    }
    /* Taken once: a second child of the same call starts fresh. */
    if (atomic_compare_exchange_strong(&rec->child_resume_state, &saved_state, NULL))
      resume = (hl__resume){.state = saved_state, .decisions = rec->child_resume_decisions,
                            .prefix = rec->child_resume_prefix};
  }
  /* hl__invoke marks the tree aborted when a hook aborts anywhere in the
   * child (hl__ctx_abort walks up), so the parent stops too (H10). */
  cJSON *state = NULL;
  hl_status st = hl__invoke_ex(child, ctx, session, owned, input, resume.state ? &resume : NULL,
                               answer, &state);
  if (st != HL_INTERRUPTED) {
    hl__call_unref(rec);
    return st;
  }
  if (state && hl__call_put_child_state(rec, state)) {
    hl__call_unref(rec);
    return HL_INTERRUPTED;
  }
  hl__call_unref(rec);
  cJSON_Delete(state);
  return hl_fail(HL_ERR_UNSUPPORTED,
                 "sub-agent \"%s\" was interrupted for a decision where its state cannot be "
                 "kept (not inside a tool call of \"%s\" this thread can be traced to: a "
                 "thread of the application's own while several deferred calls of the run "
                 "are pending, or a second interrupted child of the same call)", child->name,
                 ctx->agent->name);
}

/* ------------------------------------------------------------------ */
/* Agent as tool                                                       */
/* ------------------------------------------------------------------ */

/* The user_data of an agent's tool. Every live one is listed in a
 * process-wide registry so that a tool can be traced back to the agent it
 * runs (hl__tool_agent): that is how hl_agent_add_tool() and
 * hl_agent_add_sub_agent() see a reference cycle coming. user_data alone
 * cannot tell, since any tool's user_data may be anything. */
typedef struct hl_agent_tool {
  hl_agent *child;
  hl_tool *tool;
  bool own_schema; /* the caller's schema: the child gets the arguments as JSON text */
} hl_agent_tool;

static pthread_mutex_t hl_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static hl_agent_tool **hl_registry;
static size_t hl_registry_n, hl_registry_cap;

static hl_status hl_registry_add(hl_agent_tool *at) {
  pthread_mutex_lock(&hl_registry_lock);
  hl_status st = hl__reserve((void **)&hl_registry, &hl_registry_cap, hl_registry_n + 1,
                             sizeof *hl_registry);
  if (st == HL_OK) hl_registry[hl_registry_n++] = at;
  pthread_mutex_unlock(&hl_registry_lock);
  return st;
}

static void hl_registry_remove(const hl_agent_tool *at) {
  pthread_mutex_lock(&hl_registry_lock);
  for (size_t i = 0; i < hl_registry_n; i++) {
    if (hl_registry[i] != at) continue;
    hl_registry[i] = hl_registry[--hl_registry_n];
    break;
  }
  if (hl_registry_n == 0) { /* leave nothing behind for leak checkers */
    free(hl_registry);
    hl_registry = NULL;
    hl_registry_cap = 0;
  }
  pthread_mutex_unlock(&hl_registry_lock);
}

hl_agent *hl__tool_agent(const hl_tool *tool) {
  hl_agent *child = NULL;
  pthread_mutex_lock(&hl_registry_lock);
  for (size_t i = 0; i < hl_registry_n && !child; i++)
    if (hl_registry[i]->tool == tool) child = hl_registry[i]->child;
  pthread_mutex_unlock(&hl_registry_lock);
  return child;
}

/* Agents already searched by one hl__agent_reaches() call: each agent is
 * expanded once, so a wide tree of shared agents stays linear. */
#define HL_REACH_MAX 256
typedef struct hl_reach {
  const hl_agent *seen[HL_REACH_MAX];
  size_t n;
} hl_reach;

static bool hl_reaches(hl_reach *r, const hl_agent *from, const hl_agent *target) {
  if (!from) return false;
  if (from == target) return true;
  for (size_t i = 0; i < r->n; i++)
    if (r->seen[i] == from) return false;
  /* Past this many agents, give up rather than refuse a valid set-up. */
  if (r->n == HL_REACH_MAX) return false;
  r->seen[r->n++] = from;
  /* Every reference an agent holds to another agent: sub-agents, the
   * agents its tools run, and the original of a fork. */
  for (size_t i = 0; i < from->n_subs; i++)
    if (hl_reaches(r, from->subs[i], target)) return true;
  for (size_t i = 0; i < hl_tools_count(from->tools); i++)
    if (hl_reaches(r, hl__tool_agent(hl_tools_at(from->tools, i)), target)) return true;
  return hl_reaches(r, from->origin, target);
}

bool hl__agent_reaches(const hl_agent *from, const hl_agent *target) {
  hl_reach r;
  r.n = 0;
  return hl_reaches(&r, from, target);
}

static hl_status hl_agent_tool_fn(hl_context *ctx, const cJSON *args, cJSON **result,
                                  void *user_data) {
  const hl_agent_tool *at = user_data;
  hl_agent *child = at->child;
  char *printed = NULL; /* a tool with its own schema: the arguments as JSON text */
  const char *input = NULL;
  if (at->own_schema) {
    if (hl_json_print(args, &printed) != HL_OK) return hl_last_status();
    input = printed;
  } else if (!(input = hl_json_get_string(args, "input"))) {
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "$: missing required property \"input\"");
  }
  char *answer = NULL;
  hl_status st;
  if (ctx) {
    st = hl_context_run_agent(ctx, child, input, HL_RUN_ISOLATED, &answer);
  } else {
    /* Called outside a run (hl_tool_invoke by hand): a top-level run on
     * a throwaway session. */
    hl_session *s = hl_session_new(NULL, NULL, NULL);
    if (!s) return hl__oom();
    st = hl_agent_run(child, s, input, &answer);
    hl_session_free(s);
  }
  hl_free(printed);
  if (st != HL_OK) return st; /* message already set by the child's run */
  *result = cJSON_CreateString(answer);
  hl_free(answer);
  return *result ? HL_OK : hl__oom();
}

static void hl_agent_tool_free(void *user_data) {
  hl_agent_tool *at = user_data;
  hl_registry_remove(at);
  hl_agent_unref(at->child);
  free(at);
}

hl_tool *hl_agent_as_tool(hl_agent *child, const char *description, const char *schema_json) {
  if (!child) {
    hl_fail(HL_ERR_INVALID, "hl_agent_as_tool: child is NULL");
    return NULL;
  }
  char fallback[128];
  if (!description) description = child->description;
  if (!description) {
    snprintf(fallback, sizeof fallback, "Ask the agent \"%s\".", child->name);
    description = fallback;
  }
  hl_agent_tool *at = calloc(1, sizeof *at);
  if (!at) {
    hl__oom();
    return NULL;
  }
  hl_tool *tool = hl_tool_new(child->name, description, hl_agent_tool_fn, at);
  if (!tool || (schema_json ? hl_tool_set_schema(tool, schema_json)
                            : hl_tool_param(tool, "input", "string", "What to ask the agent.", true)) != HL_OK) {
    hl_tool_unref(tool);
    free(at);
    return NULL;
  }
  *at = (hl_agent_tool){.child = child, .tool = tool, .own_schema = schema_json != NULL};
  if (hl_registry_add(at) != HL_OK) {
    hl_tool_unref(tool);
    free(at);
    return NULL;
  }
  hl_agent_ref(child);
  hl_tool_set_free_fn(tool, hl_agent_tool_free);
  return tool;
}
