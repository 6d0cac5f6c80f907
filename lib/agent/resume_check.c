/*
 * resume_check.c - reading an interrupted run's state back before anything
 * is applied: one walk over the state (hl_state_walk) checks every field
 * and names the path of the first bad one, and, as asked, checks the
 * decisions against the pending calls and the tools' schemas, or lists
 * the pending calls (hl_run_state_pending). Checking everything first is
 * what makes a bad state or decision leave the session untouched
 * (resume.c runs only after hl__resume_check said yes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "core/model_internal.h"
#include "core/tool_internal.h"
#include "core/util.h"
#include "hookline/json.h"

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
  if (tool && hl__tool_validate(tool, args) != HL_OK)
    return hl_fail(HL_ERR_INVALID_ARGUMENTS, "decisions[\"%s\"].arguments: %s", path, hl_last_error());
  return HL_OK;
}

/* One call that waits for a decision, at `path`: collected, its decision
 * checked, listed (with the outer call's id when it is a nested call). */
static hl_status hl_leaf(const hl_agent *agent, const hl_walk *w, const char *path,
                         const char *id, const char *tool, const cJSON *args, const char *agent_name,
                         const char *branch, const char *by, const cJSON *item, const char *outer) {
  hl_status st;
  if (w->paths && !cJSON_AddItemToArray(w->paths, cJSON_CreateString(path))) return hl__oom();
  if (w->decisions &&
      (st = hl_check_decision(agent, cJSON_GetObjectItemCaseSensitive(w->decisions, path), path,
                              tool)) != HL_OK)
    return st;
  if (!w->list) return HL_OK;
  cJSON *e = cJSON_CreateObject();
  bool ok = e && cJSON_AddItemToArray(w->list, e);
  if (!ok) cJSON_Delete(e);
  ok = ok && cJSON_AddStringToObject(e, "path", path) && cJSON_AddStringToObject(e, "id", id) &&
       cJSON_AddStringToObject(e, "name", tool) &&
       hl_json_add(e, "arguments", hl_json_clone(args)) &&
       cJSON_AddStringToObject(e, "agent", agent_name) &&
       cJSON_AddStringToObject(e, "branch", branch) &&
       cJSON_AddStringToObject(e, "interrupted_by", by) &&
       (!outer || cJSON_AddStringToObject(e, "outer_call", outer));
  const char *hook = hl_json_get_string(item, "hook"), *why = hl_json_get_string(item, "reason");
  ok = ok && (!hook || cJSON_AddStringToObject(e, "hook", hook)) &&
       (!why || cJSON_AddStringToObject(e, "reason", why));
  return ok ? HL_OK : hl__oom();
}

static hl_status hl_state_walk(const hl_agent *agent, const cJSON *state, const char *where,
                               const char *prefix, const hl_walk *w);

/* A call that waits for its nested calls (hl_context_call_tool): each of
 * them, at path "<call path>/nested-K", waits like a call of its own. */
static hl_status hl_nested_walk(const hl_agent *agent, const cJSON *item, const char *at,
                                const char *path, const char *agent_name, const char *branch,
                                const hl_walk *w) {
  const cJSON *nested;
  hl_status st = hl_member(item, "nested", "array", at, &nested);
  if (st != HL_OK) return st;
  if (cJSON_GetArraySize(nested) == 0)
    return hl_fail(HL_ERR_INVALID, "%s.nested: no nested call waits for a decision", at);
  const char *outer = hl_json_get_string(item, "id");
  int i = 0;
  const cJSON *n;
  cJSON_ArrayForEach(n, nested) {
    char nat[HL_PATH_MAX + 32], npath[HL_PATH_MAX];
    snprintf(nat, sizeof nat, "%s.nested[%d]", at, i++);
    if (!cJSON_IsObject(n))
      return hl_fail(HL_ERR_JSON, "%s: expected an object, got %s", nat, hl_type(n));
    const cJSON *id, *tool, *args, *by;
    if ((st = hl_member(n, "id", "string", nat, &id)) ||
        (st = hl_member(n, "name", "string", nat, &tool)) ||
        (st = hl_member(n, "arguments", "object", nat, &args)) ||
        (st = hl_member(n, "interrupted_by", "string", nat, &by)) ||
        (st = hl_opt_string(n, "hook", nat)) || (st = hl_opt_string(n, "reason", nat)))
      return st;
    if (strncmp(id->valuestring, "nested-", 7) != 0)
      return hl_fail(HL_ERR_INVALID, "%s.id: \"%s\" is not a nested call id (nested-K)", nat,
                     id->valuestring);
    if (strcmp(by->valuestring, "hook") && strcmp(by->valuestring, "approval") &&
        strcmp(by->valuestring, "sub_agent"))
      return hl_fail(HL_ERR_INVALID, "%s.interrupted_by: unknown \"%s\" (hook, approval or sub_agent)",
                     nat, by->valuestring);
    if ((size_t)snprintf(npath, sizeof npath, "%s/%s", path, id->valuestring) >= sizeof npath)
      return hl_fail(HL_ERR_INVALID, "%s.id: the call path is too long", nat);
    if (!strcmp(by->valuestring, "sub_agent")) {
      /* A sub-agent run by the nested call: its own state, its calls
       * under "<nested path>/". */
      const cJSON *sub = cJSON_GetObjectItemCaseSensitive(n, "state");
      const char *sub_name = hl_json_get_string(sub, "agent");
      hl_agent *child = sub_name ? hl_child_agent(agent, tool->valuestring, sub_name) : NULL;
      char sub_where[HL_PATH_MAX + 48], sub_prefix[HL_PATH_MAX + 2];
      snprintf(sub_where, sizeof sub_where, "%s.state", nat);
      snprintf(sub_prefix, sizeof sub_prefix, "%s/", npath);
      if ((st = hl_state_walk(child, sub, sub_where, sub_prefix, w)) != HL_OK) return st;
      continue;
    }
    if ((st = hl_leaf(agent, w, npath, id->valuestring, tool->valuestring, args, agent_name, branch,
                      by->valuestring, n, outer)) != HL_OK)
      return st;
  }
  return HL_OK;
}

/* A custom agent's state (resume_custom.c): its messages, and the record
 * of its children, of which at least one waits with a state of its own
 * (walked with the path prefix "<prefix><child id>/"). */
static hl_status hl_custom_walk(const hl_agent *agent, const cJSON *state, const char *where,
                                const char *prefix, const hl_walk *w) {
  const cJSON *name, *input, *history, *usage, *messages, *branch, *custom, *v, *children;
  hl_status st;
  if ((st = hl_member(state, "agent", "string", where, &name)) ||
      (st = hl_member(state, "branch", "string", where, &branch)) ||
      (st = hl_member(state, "input", "string", where, &input)) ||
      (st = hl_member(state, "history", "integer", where, &history)) ||
      (st = hl_member(state, "usage", "object", where, &usage)) ||
      (st = hl_member(state, "messages", "array", where, &messages)) ||
      (st = hl_member(state, "custom", "object", where, &custom)))
    return st;
  if (agent && strcmp(name->valuestring, agent->name) != 0)
    return hl_fail(HL_ERR_INVALID, "%s.agent: the state is of agent \"%s\", not \"%s\"", where,
                   name->valuestring, agent->name);
  if (agent && agent->kind != HL__AGENT_CUSTOM)
    return hl_fail(HL_ERR_INVALID, "%s: a custom agent's state, but agent \"%s\" is an LLM agent",
                   where, agent->name);
  const cJSON *u;
  cJSON_ArrayForEach(u, usage) {
    if (!cJSON_IsNumber(u))
      return hl_fail(HL_ERR_JSON, "%s.usage.%s: expected number, got %s", where, u->string, hl_type(u));
  }
  char at[HL_PATH_MAX + 64];
  snprintf(at, sizeof at, "%s.messages", where);
  hl_messages list = {0};
  if ((st = hl__messages_from_json_at(messages, &list, at)) != HL_OK) return st;
  hl_messages_clear(&list);
  snprintf(at, sizeof at, "%s.custom", where);
  if ((st = hl_member(custom, "version", "integer", at, &v)) != HL_OK) return st;
  if (v->valueint != HL__CUSTOM_STATE_VERSION)
    return hl_fail(HL_ERR_INVALID, "%s.version: custom agent state version %d; this library reads "
                   "version %d", at, v->valueint, HL__CUSTOM_STATE_VERSION);
  if ((st = hl_member(custom, "children", "array", at, &children)) != HL_OK) return st;
  int i = 0, waiting = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, children) {
    char cat[HL_PATH_MAX + 96];
    snprintf(cat, sizeof cat, "%s.children[%d]", at, i++);
    if (!cJSON_IsObject(c)) return hl_fail(HL_ERR_JSON, "%s: expected an object, got %s", cat, hl_type(c));
    const cJSON *id, *cagent, *cin, *x;
    if ((st = hl_member(c, "id", "string", cat, &id)) ||
        (st = hl_member(c, "agent", "string", cat, &cagent)) ||
        (st = hl_member(c, "input", "string", cat, &cin)))
      return st;
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(c, "state");
    if (!sub) {
      if ((st = hl_member(c, "status", "string", cat, &x)) != HL_OK) return st;
      if (!hl__custom_status_known(x->valuestring))
        return hl_fail(HL_ERR_INVALID, "%s.status: \"%s\" is not the status of a child that ended",
                       cat, x->valuestring);
      bool ok = !strcmp(x->valuestring, hl_status_name(HL_OK));
      if ((st = hl_member(c, ok ? "answer" : "message", "string", cat, &x)) != HL_OK) return st;
      continue;
    }
    waiting++;
    char sub_where[HL_PATH_MAX + 128], sub_prefix[HL_PATH_MAX + 2];
    snprintf(sub_where, sizeof sub_where, "%s.state", cat);
    if ((size_t)snprintf(sub_prefix, sizeof sub_prefix, "%s%s/", prefix, id->valuestring) >=
        sizeof sub_prefix - 1)
      return hl_fail(HL_ERR_INVALID, "%s.id: the call path is too long", cat);
    hl_agent *child = agent ? hl_agent_find_sub_agent(agent, cagent->valuestring) : NULL;
    if ((st = hl_state_walk(child, sub, sub_where, sub_prefix, w)) != HL_OK) return st;
  }
  if (!waiting)
    return hl_fail(HL_ERR_INVALID, "%s.children: no child waits for a decision", at);
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
  if (cJSON_GetObjectItemCaseSensitive(state, "custom"))
    return hl_custom_walk(agent, state, where, prefix, w);
  if (agent && agent->kind == HL__AGENT_CUSTOM)
    return hl_fail(HL_ERR_INVALID, "%s: an LLM agent's state, but agent \"%s\" is a custom agent",
                   where, agent->name);
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
      if (strcmp(b, "hook") && strcmp(b, "approval") && strcmp(b, "sub_agent") &&
          strcmp(b, "nested_call")) {
        st = hl_fail(HL_ERR_INVALID,
                     "%s.interrupted_by: unknown \"%s\" (hook, approval, sub_agent or nested_call)",
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
      if (!strcmp(b, "nested_call")) {
        if ((st = hl_nested_walk(agent, item, at, path, name->valuestring, branch->valuestring,
                                 w)) != HL_OK)
          break;
        continue;
      }
      if ((st = hl_leaf(agent, w, path, id->valuestring, tool->valuestring, args,
                        name->valuestring, branch->valuestring, b, item, NULL)) != HL_OK)
        break;
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

hl_status hl__resume_check(const hl_agent *agent, const cJSON *state, const cJSON *decisions) {
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
