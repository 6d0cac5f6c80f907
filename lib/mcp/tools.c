/*
 * lib/mcp/tools.c - an MCP server's tools as hookline tools: tools/list
 * with cursor pagination and its ttlMs, the mapping of each Tool to an
 * hl_tool (prefix, include/exclude filter, input and output schema kept
 * as the server wrote them, tools with invalid x-mcp-header annotations
 * left out over HTTP: tool_headers.c), tools/call with the result mapped
 * to what the model sees, and keeping registries and agents in sync
 * after notifications/tools/list_changed or a ttlMs run out.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "tool_headers.h"
#include "hookline/agent.h"
#include "hookline/json.h"
#include "core/schema_internal.h"
#include "core/tool_internal.h"
#include "core/util.h"

#define MAX_PAGES 1000

/* What an hl_tool made from an MCP tool carries. */
typedef struct mcp_tool {
  hl_mcp *m;                 /* a reference */
  char *remote;              /* the server's name for it */
  cJSON *output_schema;      /* checked, or NULL */
} mcp_tool;

static hl_status call_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *user);

/* Every live mcp_tool, so that hl_mcp_tool_server() can tell an MCP tool
 * from any other by its user_data without reading foreign memory. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static mcp_tool **live;
static size_t n_live, cap_live;
/* n_live, readable without the lock: with no MCP tool alive (most
 * processes) hl_mcp_tool_server() answers without taking it. A tool the
 * caller holds was added before it was handed over, so its count is seen. */
static atomic_size_t any_live;

static bool live_add(mcp_tool *t) {
  pthread_mutex_lock(&live_lock);
  bool ok = hl__reserve((void **)&live, &cap_live, n_live + 1, sizeof *live) == HL_OK;
  if (ok) live[n_live++] = t;
  atomic_store_explicit(&any_live, n_live, memory_order_release);
  pthread_mutex_unlock(&live_lock);
  return ok;
}

static void mcp_tool_free(void *user) {
  mcp_tool *t = user;
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < n_live; i++)
    if (live[i] == t) {
      live[i] = live[--n_live];
      break;
    }
  atomic_store_explicit(&any_live, n_live, memory_order_release);
  if (n_live == 0) {
    free(live);
    live = NULL;
    cap_live = 0;
  }
  pthread_mutex_unlock(&live_lock);
  hl__mcp_unref(t->m);
  free(t->remote);
  cJSON_Delete(t->output_schema);
  free(t);
}

const char *hl_mcp_tool_server(const hl_tool *tool) {
  if (!tool || !atomic_load_explicit(&any_live, memory_order_acquire)) return NULL;
  void *u = hl_tool_user_data(tool);
  const char *name = NULL;
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < n_live && !name; i++)
    if (live[i] == u) name = hl_mcp_name(live[i]->m);
  pthread_mutex_unlock(&live_lock);
  return name;
}

const cJSON *hl__mcp_tool_output_schema(const hl_tool *tool) {
  const mcp_tool *u = hl_tool_user_data(tool);
  return u ? u->output_schema : NULL;
}

/* A server's schema (an object) as hookline keeps it: unchanged, so the
 * model and the application see every keyword the server wrote ($schema,
 * $defs, $ref, allOf, if/then/else, ...). *enforce: whether hookline's
 * validator can check the part it knows (hl__schema_check_lenient); the
 * rest is the server's to validate. $ref is never dereferenced (MCP
 * 2026-07-28, "$ref Resolution": no network fetch), so a hostile schema's
 * cycles or remote URIs cost nothing; its depth is bounded by the JSON
 * parser's and the checker's HL_JSON_MAX_DEPTH. NULL: not an object, or
 * out of memory. */
static cJSON *kept_schema(const cJSON *schema, bool *enforce) {
  *enforce = false;
  if (!cJSON_IsObject(schema)) return NULL;
  cJSON *c = cJSON_Duplicate(schema, 1);
  if (c) *enforce = hl__schema_check_lenient(c) == HL_OK;
  return c;
}

static bool listed(char **list, const char *name) {
  for (size_t i = 0; list && list[i]; i++)
    if (strcmp(list[i], name) == 0) return true;
  return false;
}

static void note(hl_mcp *m, const char *tool, const char *text) {
  cJSON *d = cJSON_CreateObject();
  if (!d) return;
  cJSON_AddStringToObject(d, "tool", tool);
  cJSON_AddStringToObject(d, "message", text);
  hl__mcp_event(m, NULL, "mcp.note", d);
}

/* The first $ref (or $dynamicRef) in `schema` that points outside the
 * schema itself (anything but a "#..." fragment), or NULL. The values of
 * const, enum, default and examples are data, not schemas: not looked
 * into. Depth is bounded by the JSON parser's (HL_JSON_MAX_DEPTH). */
static const char *external_ref(const cJSON *schema) {
  if (!cJSON_IsObject(schema) && !cJSON_IsArray(schema)) return NULL;
  const cJSON *c;
  cJSON_ArrayForEach(c, schema) {
    const char *k = cJSON_IsObject(schema) ? c->string : NULL;
    if (k && (strcmp(k, "$ref") == 0 || strcmp(k, "$dynamicRef") == 0) && cJSON_IsString(c) &&
        c->valuestring[0] != '#')
      return c->valuestring;
    if (k && (strcmp(k, "const") == 0 || strcmp(k, "enum") == 0 || strcmp(k, "default") == 0 ||
              strcmp(k, "examples") == 0))
      continue;
    const char *found = external_ref(c);
    if (found) return found;
  }
  return NULL;
}

/* Whether the Tool object `t` has a $ref outside its inputSchema or
 * outputSchema, then named in a note: the client never fetches one
 * (2026-07-28 basic/index.mdx "$ref Resolution": no network
 * dereferencing), and a schema that cannot be validated for an
 * unresolved external $ref SHOULD be rejected rather than treated as
 * permissive (tools.mdx refers there), so the tool is left out. */
static bool unresolvable(hl_mcp *m, const char *name, const cJSON *t) {
  static const char *const schemas[] = {"inputSchema", "outputSchema"};
  for (size_t i = 0; i < 2; i++) {
    const char *ref = external_ref(cJSON_GetObjectItemCaseSensitive(t, schemas[i]));
    if (!ref) continue;
    char shown[200], text[400];
    hl__quote(shown, sizeof shown, ref);
    snprintf(text, sizeof text,
             "left out: its %s has a $ref outside the schema (%s), which hookline does not fetch, so the "
             "schema cannot be validated",
             schemas[i], shown);
    note(m, name, text);
    return true;
  }
  return false;
}

/* One hl_tool for the server's Tool object, or NULL (left out). */
static hl_tool *map_tool(hl_mcp *m, const cJSON *t) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
  if (!cJSON_IsString(name) || !name->valuestring[0]) return NULL;
  const char *remote = name->valuestring;
  if (m->include && !listed(m->include, remote)) return NULL;
  if (listed(m->exclude, remote)) return NULL;
  const cJSON *exec = cJSON_GetObjectItemCaseSensitive(t, "execution");
  const cJSON *task = cJSON_GetObjectItemCaseSensitive(exec, "taskSupport");
  if (cJSON_IsString(task) && strcmp(task->valuestring, "required") == 0) {
    note(m, remote, "left out: it requires task-augmented calls, which hookline does not support yet");
    return NULL;
  }
  if (unresolvable(m, remote, t)) return NULL;
  /* hookline names: [A-Za-z0-9_-]{1,64}; anything else becomes '_'. */
  char local[65];
  snprintf(local, sizeof local, "%s%s", m->prefix ? m->prefix : "", remote);
  for (char *c = local; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          *c == '-'))
      *c = '_';
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t, "description");
  const cJSON *title = cJSON_GetObjectItemCaseSensitive(t, "title");
  mcp_tool *u = calloc(1, sizeof *u);
  if (!u || !(u->remote = strdup(remote))) {
    free(u);
    return NULL;
  }
  u->m = m;
  hl__mcp_ref(m);
  if (!live_add(u)) {
    hl__mcp_unref(m);
    free(u->remote);
    free(u);
    return NULL;
  }
  hl_tool *tool = hl_tool_new(local,
                              cJSON_IsString(desc) ? desc->valuestring
                              : cJSON_IsString(title) ? title->valuestring : NULL,
                              call_fn, u);
  if (!tool) {
    mcp_tool_free(u);
    return NULL;
  }
  hl_tool_set_free_fn(tool, mcp_tool_free);
  /* A tool's arguments are an object: a server that leaves inputSchema
   * out (or its type) gets the object type, which every provider wants. */
  bool enforce;
  cJSON *in = kept_schema(cJSON_GetObjectItemCaseSensitive(t, "inputSchema"), &enforce);
  if (!in && (in = cJSON_CreateObject())) enforce = true;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(in, "type");
  if (in && !type) cJSON_AddStringToObject(in, "type", "object");
  else if (!cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0) enforce = false;
  if (!in) {
    hl_tool_unref(tool);
    return NULL;
  }
  hl__tool_declare_schema(tool, in, enforce);
  if (!enforce)
    note(m, remote, "its inputSchema cannot be enforced by hookline; the server validates the arguments");
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(t, "outputSchema");
  if (out) {
    u->output_schema = kept_schema(out, &enforce);
    if (!enforce) {
      cJSON_Delete(u->output_schema);
      u->output_schema = NULL;
      note(m, remote, "its outputSchema cannot be enforced by hookline");
    }
  }
  return tool;
}

/* Over Streamable HTTP a tool whose x-mcp-header annotations are invalid
 * is left out of the list altogether (MCP 2026-07-28: the client must
 * exclude it, so that one bad definition does not take the others down);
 * stdio has no headers and keeps it. */
static void drop_invalid_headers(hl_mcp *m, cJSON *raw) {
  if (m->kind != HL__MCP_HTTP) return;
  for (cJSON *t = raw ? raw->child : NULL, *next; t; t = next) {
    next = t->next;
    char why[400];
    if (hl__tool_headers_valid(cJSON_GetObjectItemCaseSensitive(t, "inputSchema"), why, sizeof why)) continue;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    char text[480];
    snprintf(text, sizeof text, "left out: invalid inputSchema: %s", why);
    note(m, cJSON_IsString(name) ? name->valuestring : "", text);
    cJSON_Delete(cJSON_DetachItemViaPointer(raw, t));
  }
}

void hl__mcp_set_tools(hl_mcp *m, cJSON *raw) {
  size_t n = (size_t)cJSON_GetArraySize(raw), k = 0;
  hl_tool **tools = calloc(n ? n : 1, sizeof *tools);
  if (!tools) {
    cJSON_Delete(raw);
    return;
  }
  drop_invalid_headers(m, raw);
  const cJSON *t;
  cJSON_ArrayForEach(t, raw) {
    hl_tool *tool = map_tool(m, t);
    if (!tool) continue;
    bool dup = false;
    for (size_t i = 0; i < k && !dup; i++) dup = strcmp(hl_tool_name(tools[i]), hl_tool_name(tool)) == 0;
    if (dup) {
      note(m, hl_tool_name(tool), "left out: another tool has the same name");
      hl_tool_unref(tool);
      continue;
    }
    tools[k++] = tool;
  }
  pthread_mutex_lock(&m->lock);
  hl_tool **old = m->tools;
  size_t old_n = m->n_tools;
  cJSON *old_raw = m->tools_raw;
  m->tools = tools;
  m->n_tools = k;
  m->tools_raw = raw;
  atomic_fetch_add(&m->generation, 1);
  pthread_mutex_unlock(&m->lock);
  for (size_t i = 0; i < old_n; i++) hl_tool_unref(old[i]);
  free(old);
  cJSON_Delete(old_raw);
  cJSON *d = cJSON_CreateObject();
  if (d) cJSON_AddNumberToObject(d, "tools", (double)k);
  hl__mcp_event(m, NULL, "mcp.tools_changed", d);
}

void hl__mcp_tools_clear(hl_mcp *m) {
  pthread_mutex_lock(&m->lock);
  hl_tool **old = m->tools;
  size_t n = m->n_tools;
  m->tools = NULL;
  m->n_tools = 0;
  cJSON_Delete(m->tools_raw);
  m->tools_raw = NULL;
  pthread_mutex_unlock(&m->lock);
  for (size_t i = 0; i < n; i++) hl_tool_unref(old[i]);
  free(old);
}

/* The ttlMs of a list result (MCP 2026-07-28, server/utilities/caching):
 * how long it may be taken as fresh; -1 when the server gave none (older
 * revisions), a negative one counts as 0, and a year caps it. */
static int64_t ttl_of(const cJSON *result) {
  const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(result, "ttlMs");
  if (!cJSON_IsNumber(ttl) || ttl->valuedouble != ttl->valuedouble) return -1;
  if (ttl->valuedouble <= 0) return 0;
  return ttl->valuedouble < 365.0 * 86400000 ? (int64_t)ttl->valuedouble : (int64_t)365 * 86400000;
}

hl_status hl__mcp_list_tools(hl_mcp *m) {
  cJSON *all = cJSON_CreateArray();
  if (!all) return hl__oom();
  char *cursor = NULL;
  /* The list is as fresh as its stalest page (each page has its own
   * ttlMs); the clock starts when the first page came. */
  int64_t started = hl__engine_now_ms(), ttl = -1;
  for (int page = 0;; page++) {
    if (page == MAX_PAGES) {
      free(cursor);
      cJSON_Delete(all);
      return hl_fail(HL_ERR_LIMIT, "mcp server \"%s\": tools/list: more than %d pages", m->name, MAX_PAGES);
    }
    cJSON *params = NULL;
    if (cursor) {
      params = cJSON_CreateObject();
      cJSON_AddStringToObject(params, "cursor", cursor);
    }
    cJSON *result = NULL;
    hl_status st = hl_mcp_request(m, NULL, "tools/list", params, &result);
    cJSON_Delete(params);
    free(cursor);
    cursor = NULL;
    if (st) {
      cJSON_Delete(all);
      return st;
    }
    cJSON *tools = cJSON_GetObjectItemCaseSensitive(result, "tools");
    if (!cJSON_IsArray(tools)) {
      cJSON_Delete(result);
      cJSON_Delete(all);
      return hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": tools/list: no tools array in the result", m->name);
    }
    int64_t page_ttl = ttl_of(result);
    if (page_ttl >= 0 && (ttl < 0 || page_ttl < ttl)) ttl = page_ttl;
    cJSON *t;
    while ((t = cJSON_DetachItemFromArray(tools, 0))) cJSON_AddItemToArray(all, t);
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(result, "nextCursor");
    if (cJSON_IsString(next) && next->valuestring[0]) cursor = strdup(next->valuestring);
    cJSON_Delete(result);
    if (!cursor) break;
  }
  hl__mcp_set_tools(m, all);
  pthread_mutex_lock(&m->lock);
  m->tools_stale_ms = ttl < 0 ? 0 : started + ttl;
  pthread_mutex_unlock(&m->lock);
  return HL_OK;
}

/* List again when the list's ttlMs has run out, at the moment a list is
 * needed (an agent's run starts, a registry is synced): the spec's
 * freshness check on access, not a poll. A server that gave no ttlMs
 * (before 2026-07-28) is listed again on notifications/tools/list_changed
 * only, which also wins over a ttlMs not yet run out (the worker lists at
 * once). A failed listing keeps the list it has (stale is allowed on
 * errors). cacheScope needs nothing here: the list is this client's own,
 * never shared with another authorization context. */
static void refresh_if_stale(hl_mcp *m) {
  pthread_mutex_lock(&m->lock);
  bool stale = m->connected && m->tools_stale_ms && hl__engine_now_ms() >= m->tools_stale_ms;
  pthread_mutex_unlock(&m->lock);
  if (stale && hl__mcp_list_tools(m) != HL_OK) {
    cJSON *d = cJSON_CreateObject();
    if (d) cJSON_AddStringToObject(d, "message", hl_last_error());
    hl__mcp_event(m, NULL, "mcp.note", d);
  }
}

hl_status hl_mcp_refresh_tools(hl_mcp *m) {
  if (!m) return hl_fail(HL_ERR_INVALID, "hl_mcp_refresh_tools: NULL client");
  return hl__mcp_list_tools(m);
}

unsigned hl_mcp_tools_generation(const hl_mcp *m) {
  return m ? atomic_load(&((hl_mcp *)m)->generation) : 0;
}

hl_tools *hl_mcp_tools(hl_mcp *m) {
  if (!m) {
    hl_fail(HL_ERR_INVALID, "hl_mcp_tools: NULL client");
    return NULL;
  }
  hl_tools *reg = hl_tools_new();
  if (!reg) return NULL;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < m->n_tools; i++) hl_tools_add(reg, m->tools[i]);
  pthread_mutex_unlock(&m->lock);
  return reg;
}

cJSON *hl_mcp_tools_json(hl_mcp *m) {
  if (!m) return NULL;
  pthread_mutex_lock(&m->lock);
  cJSON *c = m->tools_raw ? cJSON_Duplicate(m->tools_raw, 1) : cJSON_CreateArray();
  pthread_mutex_unlock(&m->lock);
  return c;
}

static bool is_ours(const hl_tool *t, const hl_mcp *m) {
  /* Ours: the native function is call_fn and the user_data names this client. */
  return hl_tool_user_data(t) && hl_mcp_tool_server(t) && ((mcp_tool *)hl_tool_user_data(t))->m == m;
}

static hl_status sync_tools(hl_mcp *m, hl_tools *registry) {
  hl_tools *now = hl_mcp_tools(m);
  if (!now) return hl_last_status();
  /* Drop this client's tools that are gone or replaced. */
  for (size_t i = hl_tools_count(registry); i-- > 0;) {
    hl_tool *t = hl_tools_at(registry, i);
    if (is_ours(t, m) && hl_tools_find(now, hl_tool_name(t)) != t) hl_tools_remove(registry, hl_tool_name(t));
  }
  hl_status st = HL_OK;
  for (size_t i = 0; i < hl_tools_count(now); i++) {
    hl_tool *t = hl_tools_at(now, i);
    if (hl_tools_find(registry, hl_tool_name(t)) == t) continue;
    hl_status s = hl_tools_add(registry, t);
    if (s && st == HL_OK) st = hl__mcp_fail(m, s, "mcp server \"%s\": %s", m->name, hl_last_error());
  }
  hl_tools_free(now);
  return st;
}

hl_status hl_mcp_sync_tools(hl_mcp *m, hl_tools *registry) {
  if (!m || !registry) return hl_fail(HL_ERR_INVALID, "hl_mcp_sync_tools: NULL client or registry");
  refresh_if_stale(m);
  return sync_tools(m, registry);
}

/* The agent link: an observer of the agent that syncs its registry when
 * the agent starts a run and the list changed since the last sync. */
typedef struct agent_link {
  hl_mcp *m;
  hl_agent *agent;           /* borrowed: the agent owns this observer */
  unsigned gen;
} agent_link;

static int on_agent_start(const hl_event *ev, void *user) {
  agent_link *l = user;
  /* Only this agent's own runs (a child's events reach it too, H14). */
  if (!ev->agent_name || strcmp(ev->agent_name, hl_agent_name(l->agent)) != 0) return 0;
  refresh_if_stale(l->m);
  unsigned g = hl_mcp_tools_generation(l->m);
  if (g == l->gen) return 0;
  l->gen = g;
  return sync_tools(l->m, hl_agent_tools(l->agent)) == HL_OK ? 0 : 1;
}

static void agent_link_free(void *user) {
  agent_link *l = user;
  hl__mcp_unref(l->m);
  free(l);
}

hl_status hl_mcp_add_to_agent(hl_mcp *m, hl_agent *agent) {
  if (!m || !agent) return hl_fail(HL_ERR_INVALID, "hl_mcp_add_to_agent: NULL client or agent");
  agent_link *l = calloc(1, sizeof *l);
  if (!l) return hl__oom();
  l->m = m;
  l->agent = agent;
  l->gen = hl_mcp_tools_generation(m);
  hl_status st = sync_tools(m, hl_agent_tools(agent));
  if (st) {
    free(l);
    return st;
  }
  hl_observer_ops ops = {.size = sizeof ops, .agent_start = on_agent_start};
  hl_observer *obs = hl_observer_new_ops(&ops, l);
  if (!obs) {
    free(l);
    return hl_last_status();
  }
  hl__mcp_ref(m);
  hl_observer_set_free_fn(obs, agent_link_free);
  st = hl_agent_add_observer(agent, obs);
  hl_observer_unref(obs);
  return st;
}

/* ------------------------------------------------------------------ */
/* calls and results                                                   */
/* ------------------------------------------------------------------ */

static bool add_copy(cJSON *to, const char *key, const cJSON *from) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, key);
  return !v || hl_json_add(to, key, cJSON_Duplicate(v, 1));
}

/* One content item as the model sees it (known types keep their fields). */
static cJSON *map_content(const cJSON *c) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
  if (!cJSON_IsString(type)) return NULL;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "type", type->valuestring);
  const char *t = type->valuestring;
  if (strcmp(t, "text") == 0) {
    add_copy(o, "text", c);
  } else if (strcmp(t, "image") == 0 || strcmp(t, "audio") == 0) {
    add_copy(o, "mimeType", c);
    add_copy(o, "data", c);
  } else if (strcmp(t, "resource_link") == 0) {
    static const char *const k[] = {"uri", "name", "title", "description", "mimeType", "size"};
    for (size_t i = 0; i < 6; i++) add_copy(o, k[i], c);
  } else if (strcmp(t, "resource") == 0) {
    add_copy(o, "resource", c);
  } else {
    cJSON_Delete(o);
    return cJSON_Duplicate(c, 1);
  }
  add_copy(o, "annotations", c);
  return o;
}

hl_status hl__mcp_map_result(hl_mcp *m, const char *tool, const cJSON *result, const cJSON *output_schema,
                             cJSON **out) {
  *out = NULL;
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(result, "content");
  const cJSON *structured = cJSON_GetObjectItemCaseSensitive(result, "structuredContent");
  bool is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError"));
  if (!cJSON_IsObject(result) || (content && !cJSON_IsArray(content)))
    return hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": tool \"%s\": malformed result", m->name, tool);
  /* Text of all text items, joined: the whole answer when that is all. */
  size_t text_len = 0, n_text = 0, n_items = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, content) {
    n_items++;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0 && cJSON_IsString(text)) {
      text_len += strlen(text->valuestring) + 1;
      n_text++;
    }
  }
  char *joined = malloc(text_len + 1);
  if (!joined) return hl__oom();
  joined[0] = '\0';
  size_t off = 0;
  cJSON_ArrayForEach(c, content) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
    if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0 && cJSON_IsString(text)) {
      size_t l = strlen(text->valuestring);
      if (off) joined[off++] = '\n';
      memcpy(joined + off, text->valuestring, l);
      off += l;
      joined[off] = '\0';
    }
  }
  if (is_error) {
    /* Empty text items give an empty join: still an error with a message. */
    hl_status st = hl_fail(HL_ERR_EXECUTION_FAILED, "%s", joined[0] ? joined : "the tool reported an error");
    free(joined);
    return st;
  }
  if (structured) {
    if (output_schema && hl_schema_validate(output_schema, structured) != HL_OK) {
      char why[600];
      snprintf(why, sizeof why, "%s", hl_last_error());
      free(joined);
      return hl_fail(HL_ERR_EXECUTION_FAILED,
                     "mcp server \"%s\": tool \"%s\": structuredContent does not match its outputSchema: %s",
                     m->name, tool, why);
    }
    free(joined);
    *out = cJSON_Duplicate(structured, 1);
    return *out ? HL_OK : hl__oom();
  }
  if (output_schema) {
    free(joined);
    return hl_fail(HL_ERR_EXECUTION_FAILED,
                   "mcp server \"%s\": tool \"%s\" declares an outputSchema but sent no structuredContent",
                   m->name, tool);
  }
  if (n_text == n_items) {
    *out = cJSON_CreateString(joined);
    free(joined);
    return *out ? HL_OK : hl__oom();
  }
  free(joined);
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return hl__oom();
  cJSON_ArrayForEach(c, content) {
    cJSON *item = map_content(c);
    if (item) cJSON_AddItemToArray(arr, item);
  }
  *out = arr;
  return HL_OK;
}

static hl_status call_remote(hl_mcp *m, hl_context *ctx, const char *name, const cJSON *args,
                             const cJSON *output_schema, cJSON **result, cJSON **raw) {
  if (result) *result = NULL;
  if (raw) *raw = NULL;
  if (!m->connected) return hl_fail(HL_ERR_STATE, "mcp server \"%s\": not connected", m->name);
  cJSON *resp;
  hl_status st = HL_OK;
  for (int attempt = 0; attempt < 2; attempt++) {
    cJSON *params = cJSON_CreateObject();
    /* The caller's arguments by reference (printed, never changed or freed
     * here): no copy per call. */
    if (!params || !cJSON_AddStringToObject(params, "name", name) ||
        !(args ? cJSON_AddItemReferenceToObject(params, "arguments", (cJSON *)args)
               : hl_json_add(params, "arguments", cJSON_CreateObject()))) {
      cJSON_Delete(params);
      return hl__oom();
    }
    int http_code;
    st = hl__mcp_roundtrip_coded(m, ctx, "tools/call", params, name, &resp, &http_code);
    /* HeaderMismatch (-32020): the Mcp-Param headers sent do not match
     * what the server expects. A modern server's refusal arrives as the
     * JSON-RPC error itself (session.c hands a 400's error body to the
     * caller), a legacy server's as an HTTP 400 whose body is that error. */
    const cJSON *code = st ? NULL : cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(resp, "error"),
                                                                     "code");
    bool refused = cJSON_IsNumber(code) && code->valuedouble == -32020;
    if (attempt || !(refused || (st == HL_ERR_HTTP && http_code == -32020))) break;
    /* The server wants Mcp-Param headers this list does not annotate:
     * its tools changed. List them again (MCP 2026-07-28 asks that), then
     * try once more; a listing that fails leaves the first answer. */
    char first[700];
    snprintf(first, sizeof first, "%s", hl_last_error());
    if (hl__mcp_list_tools(m) != HL_OK) {
      if (!refused) st = hl_fail(HL_ERR_HTTP, "%s", first);
      break;
    }
    cJSON_Delete(resp);
    resp = NULL;
  }
  if (st) return st;
  cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
  if (err) {
    char text[600];
    hl__jsonrpc_error_text(err, text, sizeof text);
    if (raw) *raw = cJSON_DetachItemFromObjectCaseSensitive(resp, "error");
    cJSON_Delete(resp);
    return hl_fail(HL_ERR_EXECUTION_FAILED, "mcp server \"%s\": tool \"%s\": %s", m->name, name, text);
  }
  cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "result");
  cJSON *mapped = NULL;
  st = hl__mcp_map_result(m, name, res, output_schema, &mapped);
  if (raw) *raw = cJSON_DetachItemFromObjectCaseSensitive(resp, "result");
  cJSON_Delete(resp);
  if (st == HL_OK && result) *result = mapped;
  else cJSON_Delete(mapped);
  return st;
}

static hl_status call_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *user) {
  mcp_tool *t = user;
  return call_remote(t->m, ctx, t->remote, args, t->output_schema, result, NULL);
}

hl_status hl_mcp_call(hl_mcp *m, hl_context *ctx, const char *name, const cJSON *args, cJSON **result,
                      cJSON **raw) {
  if (!m || !name) return hl_fail(HL_ERR_INVALID, "hl_mcp_call: NULL client or tool name");
  /* Use the declared outputSchema of that tool, if the list has it. */
  cJSON *schema = NULL;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < m->n_tools; i++) {
    mcp_tool *u = hl_tool_user_data(m->tools[i]);
    if (strcmp(u->remote, name) == 0 && u->output_schema) schema = cJSON_Duplicate(u->output_schema, 1);
  }
  pthread_mutex_unlock(&m->lock);
  hl_status st = call_remote(m, ctx, name, args, schema, result, raw);
  cJSON_Delete(schema);
  return st;
}
