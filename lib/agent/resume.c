/*
 * resume.c - reading an interrupted run's state back: the checks that run
 * before anything is applied, the list of pending calls, and the resumed
 * run's first step (the interrupted turn finished with the decisions).
 *
 * One walk over the state (hl_state_walk) serves all three: it checks
 * every field, names the path of the first bad one, and, as asked, checks
 * the decisions, collects the pending paths, or lists the pending calls.
 * Checking everything first is what makes a bad state or decision leave
 * the session untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "agent/session_internal.h"
#include "core/model_internal.h"
#include "core/util.h"
#include "hookline/json.h"

#define HL_PATH_MAX 512
#define HL_REJECTED_DEFAULT "The user rejected this tool call."

/* What a walk does besides checking. */
typedef struct hl_walk {
  const cJSON *decisions; /* check them (NULL: don't) */
  cJSON *paths;           /* collect the pending paths (NULL: don't) */
  cJSON *list;            /* list the pending calls (NULL: don't) */
} hl_walk;

static const char *hl_type(const cJSON *v) { return v ? hl_json_type_name(v) : "nothing"; }

/* A required member of `type` ("string", "object", "array", "integer",
 * "bool"); HL_ERR_JSON naming the path otherwise. */
static hl_status hl_member(const cJSON *obj, const char *key, const char *type,
                           const char *where, const cJSON **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  bool ok = false;
  if (!strcmp(type, "string")) ok = cJSON_IsString(v);
  else if (!strcmp(type, "object")) ok = cJSON_IsObject(v);
  else if (!strcmp(type, "array")) ok = cJSON_IsArray(v);
  else if (!strcmp(type, "bool")) ok = cJSON_IsBool(v);
  else if (!strcmp(type, "integer"))
    ok = cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e9 &&
         v->valuedouble == (double)(long long)v->valuedouble;
  if (!ok)
    return hl_fail(HL_ERR_JSON, "%s.%s: expected %s%s, got %s", where, key,
                   !strcmp(type, "integer") ? "a non-negative " : "", type, hl_type(v));
  *out = v;
  return HL_OK;
}

static hl_status hl_opt_string(const cJSON *obj, const char *key, const char *where) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v && !cJSON_IsString(v))
    return hl_fail(HL_ERR_JSON, "%s.%s: expected string, got %s", where, key, hl_type(v));
  return HL_OK;
}

/* The agent a pending sub_agent call ran: the agent of an agent tool, or
 * a sub-agent listed on `agent` by the state's name. NULL when neither
 * (a tool that runs an agent of its own): that level's edits are then
 * checked when the call runs, like any call's arguments. */
static hl_agent *hl_child_agent(const hl_agent *agent, const char *tool_name, const char *name) {
  if (!agent) return NULL;
  hl_agent *child = hl__tool_agent(hl_tools_find(agent->tools, tool_name));
  if (child && !strcmp(child->name, name)) return child;
  return hl_agent_find_sub_agent(agent, name);
}

static hl_status hl_check_decision(const hl_agent *agent, const cJSON *d, const char *path,
                                   const char *tool_name) {
  if (!d)
    return hl_fail(HL_ERR_INVALID, "decisions: no decision for pending call \"%s\" (tool \"%s\")",
                   path, tool_name);
  if (!cJSON_IsObject(d))
    return hl_fail(HL_ERR_INVALID, "decisions[\"%s\"]: expected an object, got %s", path, hl_type(d));
  const char *action = hl_json_get_string(d, "action");
  if (!action)
    return hl_fail(HL_ERR_INVALID, "decisions[\"%s\"].action: expected \"approve\", \"reject\" or \"edit\"",
                   path);
  if (!strcmp(action, "approve")) return HL_OK;
  if (!strcmp(action, "reject")) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "message");
    if (m && !cJSON_IsString(m))
      return hl_fail(HL_ERR_INVALID, "decisions[\"%s\"].message: expected string, got %s", path, hl_type(m));
    return HL_OK;
  }
  if (strcmp(action, "edit") != 0)
    return hl_fail(HL_ERR_INVALID, "decisions[\"%s\"].action: unknown action \"%s\" (approve, reject or edit)",
                   path, action);
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(d, "arguments");
  if (!cJSON_IsObject(args))
    return hl_fail(HL_ERR_INVALID, "decisions[\"%s\"].arguments: expected an object, got %s", path,
                   hl_type(args));
  const hl_tool *tool = agent ? hl_tools_find(agent->tools, tool_name) : NULL;
  if (tool && hl_schema_validate(hl_tool_schema(tool), args) != HL_OK)
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "decisions[\"%s\"].arguments: %s", path, hl_last_error());
  return HL_OK;
}

/* Check the state of one level (`where` is its JSON path, `prefix` the
 * call path of its calls) and its sub-states; `agent` NULL: no check
 * against an agent. */
static hl_status hl_state_walk(const hl_agent *agent, const cJSON *state, const char *where,
                               const char *prefix, const hl_walk *w) {
  if (!cJSON_IsObject(state))
    return hl_fail(HL_ERR_JSON, "%s: expected a run state object, got %s", where, hl_type(state));
  const cJSON *v;
  hl_status st = hl_member(state, "version", "integer", where, &v);
  if (st != HL_OK) return st;
  if (v->valueint != HL_RUN_STATE_VERSION)
    return hl_fail(HL_ERR_INVALID, "%s.version: state version %d; this library reads version %d",
                   where, v->valueint, HL_RUN_STATE_VERSION);
  const char *kind = hl_json_get_string(state, "kind");
  if (kind && strcmp(kind, "hookline/run_state") != 0)
    return hl_fail(HL_ERR_INVALID, "%s.kind: \"%s\" is not a hookline run state", where, kind);
  const cJSON *name, *input, *turn, *history, *usage, *messages, *results, *pending, *branch;
  if ((st = hl_member(state, "agent", "string", where, &name)) ||
      (st = hl_member(state, "branch", "string", where, &branch)) ||
      (st = hl_member(state, "input", "string", where, &input)) ||
      (st = hl_member(state, "turn", "integer", where, &turn)) ||
      (st = hl_member(state, "history", "integer", where, &history)) ||
      (st = hl_member(state, "usage", "object", where, &usage)) ||
      (st = hl_member(state, "messages", "array", where, &messages)) ||
      (st = hl_member(state, "results", "array", where, &results)) ||
      (st = hl_member(state, "pending", "array", where, &pending)))
    return st;
  if (agent && strcmp(name->valuestring, agent->name) != 0)
    return hl_fail(HL_ERR_INVALID, "%s.agent: the state is of agent \"%s\", not \"%s\"", where,
                   name->valuestring, agent->name);
  if (turn->valueint < 1) return hl_fail(HL_ERR_JSON, "%s.turn: expected a turn >= 1", where);
  const cJSON *u;
  cJSON_ArrayForEach(u, usage) {
    if (!cJSON_IsNumber(u))
      return hl_fail(HL_ERR_JSON, "%s.usage.%s: expected number, got %s", where, u->string, hl_type(u));
  }
  if (cJSON_GetArraySize(pending) == 0)
    return hl_fail(HL_ERR_INVALID, "%s.pending: no call waits for a decision", where);

  /* The messages decode, and the last one holds the interrupted calls. */
  char at[HL_PATH_MAX];
  snprintf(at, sizeof at, "%s.messages", where);
  hl_messages list = {0};
  if ((st = hl__messages_from_json_at(messages, &list, at)) != HL_OK) return st;
  const hl_message *last = list.count ? list.items[list.count - 1] : NULL;
  if (!last || last->role != HL_ROLE_ASSISTANT || hl_message_tool_call_count(last) == 0) {
    hl_messages_clear(&list);
    return hl_fail(HL_ERR_INVALID, "%s: the last message is not the model's tool calls", at);
  }
  /* Every call of it is in results or pending, once; nothing else is. */
  size_t n_calls = hl_message_tool_call_count(last);
  size_t seen = 0;
  for (int k = 0; k < 2 && st == HL_OK; k++) {
    const cJSON *arr = k ? pending : results;
    const char *what = k ? "pending" : "results";
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr) {
      snprintf(at, sizeof at, "%s.%s[%d]", where, what, i++);
      const cJSON *id, *tool, *x;
      if (!cJSON_IsObject(item)) {
        st = hl_fail(HL_ERR_JSON, "%s: expected an object, got %s", at, hl_type(item));
        break;
      }
      if ((st = hl_member(item, "id", "string", at, &id)) ||
          (st = hl_member(item, "name", "string", at, &tool)))
        break;
      bool found = false;
      for (size_t j = 0; j < last->n_parts && !found; j++)
        found = last->parts[j].kind == HL_PART_TOOL_CALL &&
                !strcmp(last->parts[j].id ? last->parts[j].id : "", id->valuestring);
      if (!found) {
        st = hl_fail(HL_ERR_INVALID, "%s.id: \"%s\" is not a call of the last message", at,
                     id->valuestring);
        break;
      }
      seen++;
      if (!k) {
        if ((st = hl_member(item, "content", "string", at, &x)) ||
            (st = hl_member(item, "is_error", "bool", at, &x)))
          break;
        continue;
      }
      const cJSON *args, *by;
      if ((st = hl_member(item, "arguments", "object", at, &args)) ||
          (st = hl_member(item, "interrupted_by", "string", at, &by)) ||
          (st = hl_opt_string(item, "hook", at)) || (st = hl_opt_string(item, "reason", at)))
        break;
      const char *b = by->valuestring;
      if (strcmp(b, "hook") && strcmp(b, "approval") && strcmp(b, "sub_agent")) {
        st = hl_fail(HL_ERR_INVALID, "%s.interrupted_by: unknown \"%s\" (hook, approval or sub_agent)",
                     at, b);
        break;
      }
      char path[HL_PATH_MAX];
      if ((size_t)snprintf(path, sizeof path, "%s%s", prefix, id->valuestring) >= sizeof path) {
        st = hl_fail(HL_ERR_INVALID, "%s.id: the call path is too long", at);
        break;
      }
      if (!strcmp(b, "sub_agent")) {
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(item, "state");
        const char *sub_name = hl_json_get_string(sub, "agent");
        hl_agent *child = sub_name ? hl_child_agent(agent, tool->valuestring, sub_name) : NULL;
        if (agent && sub_name && !child && hl__tool_agent(hl_tools_find(agent->tools, tool->valuestring))) {
          st = hl_fail(HL_ERR_INVALID, "%s.state.agent: tool \"%s\" of agent \"%s\" runs no agent \"%s\"",
                       at, tool->valuestring, agent->name, sub_name);
          break;
        }
        char sub_where[HL_PATH_MAX + 8], sub_prefix[HL_PATH_MAX + 2];
        snprintf(sub_where, sizeof sub_where, "%s.state", at);
        snprintf(sub_prefix, sizeof sub_prefix, "%s/", path);
        if ((st = hl_state_walk(child, sub, sub_where, sub_prefix, w)) != HL_OK) break;
        continue;
      }
      if (w->paths && !cJSON_AddItemToArray(w->paths, cJSON_CreateString(path))) {
        st = hl__oom();
        break;
      }
      if (w->decisions &&
          (st = hl_check_decision(agent, cJSON_GetObjectItemCaseSensitive(w->decisions, path), path,
                                  tool->valuestring)) != HL_OK)
        break;
      if (w->list) {
        cJSON *e = cJSON_CreateObject();
        bool ok = e && cJSON_AddItemToArray(w->list, e);
        if (!ok) cJSON_Delete(e);
        ok = ok && cJSON_AddStringToObject(e, "path", path) &&
             cJSON_AddStringToObject(e, "id", id->valuestring) &&
             cJSON_AddStringToObject(e, "name", tool->valuestring) &&
             cJSON_AddItemToObject(e, "arguments", hl_json_clone(args)) &&
             cJSON_AddStringToObject(e, "agent", name->valuestring) &&
             cJSON_AddStringToObject(e, "branch", branch->valuestring) &&
             cJSON_AddStringToObject(e, "interrupted_by", b);
        const char *hook = hl_json_get_string(item, "hook"), *why = hl_json_get_string(item, "reason");
        ok = ok && (!hook || cJSON_AddStringToObject(e, "hook", hook)) &&
             (!why || cJSON_AddStringToObject(e, "reason", why));
        if (!ok) {
          st = hl__oom();
          break;
        }
      }
    }
  }
  if (st == HL_OK && seen != n_calls)
    st = hl_fail(HL_ERR_INVALID, "%s: %zu calls in results and pending, but the last message has %zu",
                 where, seen, n_calls);
  hl_messages_clear(&list);
  return st;
}

cJSON *hl_run_state_pending(const cJSON *state) {
  cJSON *list = cJSON_CreateArray();
  if (!list) {
    hl__oom();
    return NULL;
  }
  hl_walk w = {.list = list};
  if (hl_state_walk(NULL, state, "$", "", &w) != HL_OK) {
    cJSON_Delete(list);
    return NULL;
  }
  return list;
}

/* ------------------------------------------------------------------ */
/* hl_agent_resume                                                     */
/* ------------------------------------------------------------------ */

static hl_status hl_check_all(const hl_agent *agent, const cJSON *state, const cJSON *decisions) {
  if (!cJSON_IsObject(decisions))
    return hl_fail(HL_ERR_INVALID, "decisions: expected an object keyed by call path, got %s",
                   hl_type(decisions));
  cJSON *paths = cJSON_CreateArray();
  if (!paths) return hl__oom();
  hl_walk w = {.decisions = decisions, .paths = paths};
  hl_status st = hl_state_walk(agent, state, "$", "", &w);
  const cJSON *d;
  cJSON_ArrayForEach(d, decisions) {
    if (st != HL_OK) break;
    bool known = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, paths) known = known || !strcmp(p->valuestring, d->string);
    if (!known)
      st = hl_fail(HL_ERR_INVALID, "decisions[\"%s\"]: no pending call has this path", d->string);
  }
  cJSON_Delete(paths);
  return st;
}

static size_t hl_history_of(const cJSON *state) {
  return (size_t)cJSON_GetObjectItemCaseSensitive(state, "history")->valuedouble;
}

static hl_status hl_session_matches(hl_session *session, const cJSON *state) {
  const hl_messages *h = hl_session_messages(session);
  size_t have = h ? h->count : 0, want = hl_history_of(state);
  if (have != want)
    return hl_fail(HL_ERR_STATE,
                   "resume: the session has %zu messages, the run was interrupted with %zu: "
                   "resume with the session as it was saved then", have, want);
  return HL_OK;
}

hl_status hl_agent_resume(hl_agent *agent, hl_session *session, const cJSON *state,
                          const cJSON *decisions, char **answer) {
  if (answer) *answer = NULL;
  if (!agent || !state || !decisions || !answer)
    return hl_fail(HL_ERR_INVALID, "hl_agent_resume: agent, state, decisions and answer are required");
  if (agent->kind != HL__AGENT_LLM)
    return hl_fail(HL_ERR_INVALID, "hl_agent_resume: agent \"%s\" is a custom agent, which is never interrupted",
                   agent->name);
  hl_status st = hl_check_all(agent, state, decisions);
  if (st != HL_OK) return st;
  if (!session) session = agent->session;
  if (!hl__session_try_begin(session))
    return hl_fail(HL_ERR_STATE, "session \"%s\" is busy with another run", hl_session_id(session));
  st = hl_session_matches(session, state);
  if (st == HL_OK) {
    hl__resume r = {state, decisions, ""};
    st = hl__invoke_ex(agent, NULL, session, false, hl_json_get_string(state, "input"), &r, answer);
  }
  hl__session_end(session);
  return st;
}

/* ------------------------------------------------------------------ */
/* The resumed turn                                                    */
/* ------------------------------------------------------------------ */

static void hl_usage_from_json(const cJSON *u, hl_usage *out) {
  *out = (hl_usage){0};
  out->input_tokens = (int64_t)hl_json_get_number(u, "input_tokens", 0);
  out->output_tokens = (int64_t)hl_json_get_number(u, "output_tokens", 0);
  out->cached_tokens = (int64_t)hl_json_get_number(u, "cached_tokens", 0);
  out->reasoning_tokens = (int64_t)hl_json_get_number(u, "reasoning_tokens", 0);
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(u, "cost");
  if (cJSON_IsNumber(cost)) {
    out->cost = cost->valuedouble;
    out->has_cost = true;
  }
}

static const cJSON *hl_find_call(const cJSON *arr, const char *id) {
  const cJSON *item;
  cJSON_ArrayForEach(item, arr) {
    const char *i = hl_json_get_string(item, "id");
    if (i && !strcmp(i, id)) return item;
  }
  return NULL;
}

/* Put the saved messages back into the session. */
static hl_status hl_restore_messages(hl_context *ctx, const cJSON *state) {
  hl_messages list = {0};
  hl_status st = hl__messages_from_json_at(cJSON_GetObjectItemCaseSensitive(state, "messages"),
                                           &list, "$.messages");
  for (size_t i = 0; st == HL_OK && i < list.count; i++) {
    st = hl_session_add_message(ctx->session, list.items[i]);
    list.items[i] = NULL; /* the session took it (or freed it) */
  }
  for (size_t i = 0; i < list.count; i++) hl_message_free(list.items[i]);
  list.count = 0;
  hl_messages_clear(&list);
  return st;
}

/* RESUME: this level's decisions, by call id. */
static void hl_emit_resume(hl_context *ctx, const hl__resume *r) {
  if (!hl__ctx_observed(ctx)) return;
  cJSON *data = cJSON_CreateObject();
  const cJSON *item;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r->state, "pending")) {
    const char *id = hl_json_get_string(item, "id");
    char path[HL_PATH_MAX];
    snprintf(path, sizeof path, "%s%s", r->prefix, id);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->decisions, path);
    cJSON *v = d ? hl_json_clone(d) : cJSON_CreateObject();
    if (v && !d) cJSON_AddStringToObject(v, "action", "resume_sub_agent");
    if (data && v) cJSON_AddItemToObject(data, id, v);
    else cJSON_Delete(v);
  }
  hl_event ev = {.type = HL_EVENT_RESUME, .data = data};
  hl__emit(ctx, &ev);
  cJSON_Delete(data);
}

/* Run (or reject) one pending call as decided. */
static void hl_decide_call(hl_context *ctx, const hl__resume *r, const hl_part *part,
                           const cJSON *pending, hl__turn_call *tc) {
  char path[HL_PATH_MAX], prefix[HL_PATH_MAX + 2];
  snprintf(path, sizeof path, "%s%s", r->prefix, part->id ? part->id : "");
  const char *name = part->name ? part->name : "";
  const cJSON *child = cJSON_GetObjectItemCaseSensitive(pending, "state");
  hl__tool_outcome out = {0};
  if (child) {
    snprintf(prefix, sizeof prefix, "%s/", path);
    hl__resume sub = {child, r->decisions, prefix};
    hl__tool_call_resume(ctx, part->id ? part->id : "", name, hl_json_clone(part->args), &sub, &out);
  } else {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->decisions, path);
    const char *action = hl_json_get_string(d, "action");
    if (!strcmp(action, "reject")) {
      const char *m = hl_json_get_string(d, "message");
      tc->text = hl__strdup(m ? m : HL_REJECTED_DEFAULT);
      tc->is_error = true;
      return;
    }
    const cJSON *args = !strcmp(action, "edit") ? cJSON_GetObjectItemCaseSensitive(d, "arguments")
                                                : part->args;
    hl__tool_call_resume(ctx, part->id ? part->id : "", name, args ? hl_json_clone(args) : NULL, NULL, &out);
  }
  if (out.pending) {
    tc->pending = out.pending;
    out.pending = NULL;
  } else {
    tc->text = hl__tool_result_text(&out);
    tc->is_error = out.status != HL_OK;
  }
  hl__tool_outcome_clear(&out);
}

hl_status hl__resume_turn(hl_context *ctx, const hl__resume *r, int *next_turn) {
  hl_status st = hl_session_matches(ctx->session, r->state);
  if (st != HL_OK) return st;
  if ((st = hl_restore_messages(ctx, r->state)) != HL_OK) return st;
  int turn = (int)hl_json_get_number(r->state, "turn", 1);
  hl_usage saved;
  hl_usage_from_json(cJSON_GetObjectItemCaseSensitive(r->state, "usage"), &saved);
  pthread_mutex_lock(&ctx->lock);
  /* A child's usage went to its parent when it was interrupted: only the
   * top-level run carries the saved total on. */
  if (!ctx->parent) ctx->usage = saved;
  ctx->turns = turn;
  pthread_mutex_unlock(&ctx->lock);
  ctx->turn = turn;
  hl_emit_resume(ctx, r);

  const hl_messages *h = hl_session_messages(ctx->session);
  const hl_message *assistant = h->items[h->count - 1];
  size_t n = hl_message_tool_call_count(assistant);
  hl__turn_call *calls = calloc(n, sizeof *calls);
  if (!calls) return hl__oom();
  const cJSON *results = cJSON_GetObjectItemCaseSensitive(r->state, "results");
  const cJSON *pending = cJSON_GetObjectItemCaseSensitive(r->state, "pending");
  size_t k = 0, waiting = 0;
  for (size_t i = 0; i < assistant->n_parts && st == HL_OK; i++) {
    const hl_part *part = &assistant->parts[i];
    if (part->kind != HL_PART_TOOL_CALL) continue;
    hl__turn_call *tc = &calls[k++];
    tc->part = part;
    const char *pid = part->id ? part->id : "";
    const cJSON *done = hl_find_call(results, pid);
    if (done) { /* ran before the interrupt: not again */
      tc->text = hl__strdup(hl_json_get_string(done, "content"));
      tc->is_error = hl_json_get_bool(done, "is_error", false);
    } else {
      hl_decide_call(ctx, r, part, hl_find_call(pending, pid), tc);
    }
    if (tc->pending) waiting++;
    else if (!tc->text) st = hl__oom();
  }
  if (st == HL_OK && waiting && !hl__ctx_aborted(ctx, NULL, 0) && !hl_context_cancelled(ctx)) {
    st = hl__interrupt_turn(ctx, calls, n); /* takes texts and pendings */
    free(calls);
    return st;
  }
  /* The turn's results, in the model's order, as hl__run_tool_calls
   * gives them; a call still waiting under an abort or cancel reads as
   * such (the run stops right after). */
  hl_message *msg = st == HL_OK ? hl_message_new(HL_ROLE_TOOL) : NULL;
  if (st == HL_OK && !msg) st = hl__oom();
  bool observed = hl__ctx_observed(ctx);
  cJSON *sum = observed && st == HL_OK ? cJSON_CreateArray() : NULL;
  for (size_t i = 0; i < n && st == HL_OK; i++) {
    const char *text = calls[i].pending ? "Interrupted: the run stopped before a decision" : calls[i].text;
    bool err = calls[i].pending || calls[i].is_error;
    st = hl_message_add_tool_result(msg, calls[i].part->id ? calls[i].part->id : "", calls[i].part->name, text, err);
    cJSON *item = sum ? cJSON_CreateObject() : NULL;
    if (item) {
      cJSON_AddStringToObject(item, "call_id", calls[i].part->id ? calls[i].part->id : "");
      cJSON_AddStringToObject(item, "tool", calls[i].part->name ? calls[i].part->name : "");
      cJSON_AddStringToObject(item, "content", text);
      cJSON_AddBoolToObject(item, "is_error", err);
      cJSON_AddItemToArray(sum, item);
    }
  }
  for (size_t i = 0; i < n; i++) {
    free(calls[i].text);
    hl__pending_free(calls[i].pending);
  }
  free(calls);
  if (st == HL_OK) {
    st = hl_session_add_message(ctx->session, msg);
    msg = NULL;
  }
  hl_message_free(msg);
  if (st == HL_OK) {
    hl_event te = {.type = HL_EVENT_TURN_END, .data = sum};
    hl__emit(ctx, &te);
  }
  cJSON_Delete(sum);
  *next_turn = turn + 1;
  return st;
}
