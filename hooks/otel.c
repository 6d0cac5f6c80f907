/*
 * otel.c - the OpenTelemetry tracer (hookline/otel.h): an observer that
 * turns a run's events into GenAI spans and metrics, and the traceparent
 * of the span current on a thread for outgoing requests (trace.h).
 *
 * How events become spans. Each run in progress has a record, found by
 * its invocation id, holding its invoke_agent span and the child spans
 * (chat, execute_tool, tools/call) not yet handed to the exporter. The
 * run tree comes from the events themselves: parent_invocation_id and
 * parent_call_id place a child run under the span that started it,
 * outer_call_id places a nested tool call (code mode) under the code
 * tool's span. A tool span opens at its first event (a before_tool hook
 * decision or TOOL_START) and takes the after_tool hook's decision too,
 * so spans are handed over at TURN_END (every call of the turn is over)
 * and at AGENT_END, not at TOOL_END.
 *
 * Threads: observers are called on the thread that produced the event,
 * parallel tool calls on several at once; one lock guards the records.
 * The span current on each thread (a model or tool call in progress) is
 * thread-local, which is what the header function needs: the library
 * calls it on the thread that builds the request.
 *
 * The exporter's configuration and life cycle are in otel_config.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hookline/agent.h"
#include "hookline/mcp.h"
#include "hookline/trace.h"
#include "otel_internal.h"

/* ---- small helpers ------------------------------------------------------ */

int64_t ot_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ot_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Ids need to be unique, not secret: xorshift per thread, seeded once from
 * the kernel. */
void ot_random_bytes(uint8_t *out, size_t n) {
  static _Thread_local uint64_t state;
  if (!state) {
    if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
      state = (uint64_t)ot_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&state;
    if (!state) state = 0x9e3779b97f4a7c15ULL;
  }
  for (size_t i = 0; i < n; i += 8) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    uint64_t x = state * 0x2545F4914F6CDD1DULL;
    for (size_t j = 0; j < 8 && i + j < n; j++) out[i + j] = (uint8_t)(x >> (8 * j));
  }
}

static void new_id(uint8_t *out, size_t n) {
  do ot_random_bytes(out, n);
  while (!memcmp(out, (const uint8_t[16]){0}, n)); /* all-zero ids are invalid */
}

void ot_hex(char *out, const uint8_t *in, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

static bool unhex(const char *s, uint8_t *out, size_t n) {
  for (size_t i = 0; i < 2 * n; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
    else out[i / 2] |= (uint8_t)v;
  }
  return true;
}

/* ---- spans ---------------------------------------------------------- */

void ot_span_free(ot_span *s) {
  if (!s) return;
  for (int i = 0; i < s->n_attrs; i++)
    if (!s->attrs[i].lit) free(s->attrs[i].s);
  for (ot_event *e = s->events, *next; e; e = next) {
    next = e->next;
    for (int i = 0; i < e->n_attrs; i++) free(e->attrs[i].s);
    free(e);
  }
  free(s->name);
  free(s->status_msg);
  free(s->call_id);
  free(s);
}

/* A new slot at the end. Keys are literals, so one key is one pointer. */
static ot_attr *attr_slot(ot_span *s) {
  return s->n_attrs < OT_MAX_ATTRS ? &s->attrs[s->n_attrs++] : NULL;
}

/* The slot of `key`, emptied, or a new one. */
static ot_attr *attr_slot_of(ot_span *s, const char *key) {
  for (int i = 0; i < s->n_attrs; i++)
    if (s->attrs[i].key == key || strcmp(s->attrs[i].key, key) == 0) {
      if (!s->attrs[i].lit) free(s->attrs[i].s);
      s->attrs[i].s = NULL;
      return &s->attrs[i];
    }
  return attr_slot(s);
}

static void put_str(ot_span *s, ot_attr *a, const char *key, const char *value, bool lit) {
  if (!a) return;
  char *v = lit ? (char *)value : strdup(value);
  if (!v) {
    /* out of memory: the attribute is left out */
    if (a == &s->attrs[s->n_attrs - 1]) s->n_attrs--;
    else *a = (ot_attr){.key = key, .type = OT_STR, .lit = true, .s = (char *)""};
    return;
  }
  *a = (ot_attr){.key = key, .type = OT_STR, .lit = lit, .s = v};
}

void ot_attr_str(ot_span *s, const char *key, const char *value) {
  if (value) put_str(s, attr_slot(s), key, value, false);
}

void ot_attr_lit(ot_span *s, const char *key, const char *literal) {
  if (literal) put_str(s, attr_slot(s), key, literal, true);
}

void ot_attr_set(ot_span *s, const char *key, const char *value) {
  if (value) put_str(s, attr_slot_of(s, key), key, value, false);
}

void ot_attr_int(ot_span *s, const char *key, int64_t value) {
  ot_attr *a = attr_slot(s);
  if (a) *a = (ot_attr){.key = key, .type = OT_INT, .i = value};
}

void ot_attr_reason(ot_span *s, const char *key, const char *reason) {
  char *copy = strdup(reason);
  ot_attr *a = copy ? attr_slot_of(s, key) : NULL;
  if (!a) {
    free(copy);
    return;
  }
  *a = (ot_attr){.key = key, .type = OT_STRARR, .s = copy};
}

/* The compact JSON of `v` as an attribute (content capture only). */
static void attr_json(ot_span *s, const char *key, const cJSON *v) {
  if (!v) return;
  char *text = cJSON_PrintUnformatted(v);
  ot_attr_str(s, key, text);
  cJSON_free(text);
}

static void set_error(ot_span *s, const hl_error *err) {
  if (err->status == HL_OK || err->status == HL_INTERRUPTED || err->status == HL_PENDING) return;
  s->status = OT_STATUS_ERROR;
  free(s->status_msg);
  s->status_msg = strdup(err->message && err->message[0] ? err->message : hl_strerror(err->status));
  ot_attr_set(s, "error.type", hl_status_name(err->status));
}

static ot_span *new_span(hl_otel *o, const char *inv, int role, int kind, const char *op,
                         const char *what, int64_t start_ns) {
  ot_span *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  size_t lo = strlen(op), lw = what ? strlen(what) : 0;
  s->name = malloc(lo + 1 + lw + 1);
  if (!s->name) {
    free(s);
    return NULL;
  }
  memcpy(s->name, op, lo);
  if (lw) {
    s->name[lo] = ' ';
    memcpy(s->name + lo + 1, what, lw + 1);
  } else {
    s->name[lo] = '\0';
  }
  s->role = role;
  s->kind = kind;
  s->start_ns = s->end_ns = start_ns;
  s->owner = o;
  size_t li = inv ? strlen(inv) : 0;
  if (li >= sizeof s->inv) li = sizeof s->inv - 1;
  memcpy(s->inv, inv ? inv : "", li);
  s->inv[li] = '\0';
  new_id(s->span_id, 8);
  atomic_fetch_add(&o->st_started, 1);
  return s;
}

static void set_parent(ot_span *s, const ot_span *parent) {
  memcpy(s->trace_id, parent->trace_id, 16);
  memcpy(s->parent_id, parent->span_id, 8);
  s->has_parent = true;
}

static ot_event *add_event(ot_span *s, const char *name, int64_t time_ns) {
  ot_event *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->name = name;
  e->time_ns = time_ns;
  if (s->events_tail) s->events_tail->next = e;
  else s->events = e;
  s->events_tail = e;
  return e;
}

static void event_attr(ot_event *e, const char *key, const char *value) {
  if (!e || !value || e->n_attrs >= OT_EVENT_ATTRS) return;
  char *copy = strdup(value);
  if (copy) e->attrs[e->n_attrs++] = (ot_attr){.key = key, .type = OT_STR, .s = copy};
}

/* ---- runs in progress ------------------------------------------------ */

typedef struct ot_run {
  struct ot_run *next; /* hash chain */
  char id[48];
  ot_span *agent;
  ot_span *spans;      /* children not yet handed over, newest first */
  size_t n_spans;
} ot_run;

/* Invocation ids end in random hex ("inv-" + 32 digits): their last 16
 * characters hash well enough, and this runs for every event. */
static size_t run_hash(const hl_otel *o, const char *id) {
  size_t n = strlen(id);
  uint64_t h = 1469598103934665603ULL ^ n;
  if (n >= 16) {
    uint64_t a, b;
    memcpy(&a, id + n - 16, 8);
    memcpy(&b, id + n - 8, 8);
    h ^= a * 0x9e3779b97f4a7c15ULL;
    h ^= (b + (h << 6) + (h >> 2)) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
  } else {
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ULL;
  }
  return (size_t)(h % o->n_buckets);
}

static ot_run *find_run(hl_otel *o, const char *id) {
  if (!id) return NULL;
  for (ot_run *r = o->runs[run_hash(o, id)]; r; r = r->next)
    if (strcmp(r->id, id) == 0) return r;
  return NULL;
}

static void unlink_run(hl_otel *o, ot_run *run) {
  ot_run **p = &o->runs[run_hash(o, run->id)];
  while (*p && *p != run) p = &(*p)->next;
  if (*p) *p = run->next;
}

static void add_child(ot_run *run, ot_span *s) {
  s->next = run->spans;
  run->spans = s;
  run->n_spans++;
}

/* The newest tool span of `run` for `call_id`. */
static ot_span *find_tool(ot_run *run, const char *call_id, bool open_only) {
  if (!call_id) return NULL;
  for (ot_span *s = run->spans; s; s = s->next)
    if (s->role == OT_TOOL && s->call_id && strcmp(s->call_id, call_id) == 0 &&
        !(open_only && s->ended))
      return s;
  return NULL;
}

static ot_span *find_role(ot_run *run, int role) {
  for (ot_span *s = run->spans; s; s = s->next)
    if (s->role == role) return s;
  return NULL;
}

static bool span_in_run(const ot_run *run, const ot_span *s) {
  if (s == run->agent) return true;
  for (const ot_span *c = run->spans; c; c = c->next)
    if (c == s) return true;
  return false;
}

/* Hand the run's child spans to the exporter (ending those still open at
 * their last event: a before_tool override has no TOOL_END). */
static void hand_over_children(hl_otel *o, ot_run *run, ot_span **out, size_t *n) {
  for (ot_span *s = run->spans, *next; s; s = next) {
    next = s->next;
    if (!s->ended) s->ended = true;
    s->next = *out;
    *out = s;
    (*n)++;
  }
  run->spans = NULL;
  run->n_spans = 0;
  (void)o;
}

/* The span current on this thread (a model or tool call in progress). */
static _Thread_local ot_span *ot_current;

/* The remote parent of the next top-level run on this thread. */
static _Thread_local struct {
  bool set;
  uint8_t trace[16], span[8];
} ot_remote;

/* ---- event handlers (o->lock held) ----------------------------------- */

static const char *provider_name(const char *p) {
  /* gen_ai.provider.name well-known values */
  if (!p) return NULL;
  if (strcmp(p, "openai-responses") == 0) return "openai";
  if (strcmp(p, "gemini") == 0) return "gcp.gemini";
  return p;
}

static void on_agent_start(hl_otel *o, const hl_event *ev) {
  ot_run *run = calloc(1, sizeof *run);
  if (!run) return;
  snprintf(run->id, sizeof run->id, "%s", ev->invocation_id);
  ot_span *s = new_span(o, ev->invocation_id, OT_AGENT, OT_KIND_INTERNAL, "invoke_agent",
                        ev->agent_name, ev->time_ns);
  if (!s) {
    free(run);
    return;
  }
  run->agent = s;
  ot_run *parent = find_run(o, ev->parent_invocation_id);
  if (parent) {
    ot_span *p = find_tool(parent, ev->parent_call_id, true);
    if (p && p->mcp) p = p->mcp;
    set_parent(s, p ? p : parent->agent);
  } else if (!ev->parent_invocation_id && ot_remote.set) {
    memcpy(s->trace_id, ot_remote.trace, 16);
    memcpy(s->parent_id, ot_remote.span, 8);
    s->has_parent = true;
    ot_remote.set = false;
  } else {
    new_id(s->trace_id, 16);
  }
  ot_attr_lit(s, "gen_ai.operation.name", "invoke_agent");
  ot_attr_str(s, "gen_ai.agent.name", ev->agent_name);
  ot_attr_str(s, "gen_ai.agent.id", ev->invocation_id);
  if (ev->session_id && ev->session_id[0]) ot_attr_str(s, "gen_ai.conversation.id", ev->session_id);
  ot_attr_str(s, "hookline.branch", ev->branch);
  if (o->capture && ev->text) {
    cJSON *msgs = cJSON_CreateArray(), *m = cJSON_CreateObject(), *parts = cJSON_CreateArray(),
          *p = cJSON_CreateObject();
    if (msgs && m && parts && p) {
      cJSON_AddStringToObject(p, "type", "text");
      cJSON_AddStringToObject(p, "content", ev->text);
      cJSON_AddItemToArray(parts, p);
      cJSON_AddStringToObject(m, "role", "user");
      cJSON_AddItemToObject(m, "parts", parts);
      cJSON_AddItemToArray(msgs, m);
      attr_json(s, "gen_ai.input.messages", msgs);
      cJSON_Delete(msgs);
    } else {
      cJSON_Delete(msgs), cJSON_Delete(m), cJSON_Delete(parts), cJSON_Delete(p);
    }
  }
  size_t b = run_hash(o, run->id);
  run->next = o->runs[b];
  o->runs[b] = run;
}

static void on_agent_end(hl_otel *o, const hl_event *ev, ot_span **out, size_t *n) {
  ot_run *run = find_run(o, ev->invocation_id);
  if (!run) return;
  unlink_run(o, run);
  ot_span *s = run->agent;
  s->end_ns = ev->time_ns;
  s->ended = true;
  if (ev->usage) {
    ot_attr_int(s, "gen_ai.usage.input_tokens", ev->usage->input_tokens);
    ot_attr_int(s, "gen_ai.usage.output_tokens", ev->usage->output_tokens);
  }
  set_error(s, &ev->error);
  if (o->capture && ev->text) {
    cJSON *msgs = cJSON_CreateArray(), *m = cJSON_CreateObject(), *parts = cJSON_CreateArray(),
          *p = cJSON_CreateObject();
    if (msgs && m && parts && p) {
      cJSON_AddStringToObject(p, "type", "text");
      cJSON_AddStringToObject(p, "content", ev->text);
      cJSON_AddItemToArray(parts, p);
      cJSON_AddStringToObject(m, "role", "assistant");
      cJSON_AddItemToObject(m, "parts", parts);
      cJSON_AddItemToArray(msgs, m);
      attr_json(s, "gen_ai.output.messages", msgs);
      cJSON_Delete(msgs);
    } else {
      cJSON_Delete(msgs), cJSON_Delete(m), cJSON_Delete(parts), cJSON_Delete(p);
    }
  }
  s->measured = true;
  s->duration_ms = ev->duration_ms;
  hand_over_children(o, run, out, n);
  s->next = *out;
  *out = s;
  (*n)++;
  free(run);
}

static void on_lm_start(hl_otel *o, ot_run *run, const hl_event *ev) {
  ot_span *s = new_span(o, run->id, OT_CHAT, OT_KIND_CLIENT, "chat", ev->name, ev->time_ns);
  if (!s) return;
  set_parent(s, run->agent);
  ot_attr_lit(s, "gen_ai.operation.name", "chat");
  ot_attr_str(s, "gen_ai.provider.name", provider_name(ev->provider));
  ot_attr_str(s, "gen_ai.request.model", ev->name);
  ot_attr_str(s, "gen_ai.agent.name", ev->agent_name);
  if (ev->session_id && ev->session_id[0]) ot_attr_str(s, "gen_ai.conversation.id", ev->session_id);
  add_child(run, s);
  s->tls_prev = ot_current;
  ot_current = s;
}

/* The chat span of this thread's model call in `run`. */
static ot_span *current_chat(ot_run *run) {
  ot_span *s = ot_current;
  if (s && s->role == OT_CHAT && !s->ended && span_in_run(run, s)) return s;
  for (s = run->spans; s; s = s->next)
    if (s->role == OT_CHAT && !s->ended) return s;
  return NULL;
}

static void on_api_request(hl_otel *o, ot_run *run, const hl_event *ev) {
  if (!o->capture || !ev->data) return;
  ot_span *s = current_chat(run);
  if (!s) return;
  const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(ev->data, "messages");
  if (!msgs) msgs = cJSON_GetObjectItemCaseSensitive(ev->data, "input");
  if (!msgs) msgs = cJSON_GetObjectItemCaseSensitive(ev->data, "contents");
  attr_json(s, "gen_ai.input.messages", msgs ? msgs : ev->data);
}

static void on_lm_end(hl_otel *o, ot_run *run, const hl_event *ev) {
  ot_span *s = current_chat(run);
  if (!s) return;
  if (ot_current == s) ot_current = s->tls_prev;
  s->end_ns = ev->time_ns;
  s->ended = true;
  const hl_response *r = HL_EVENT_HAS(ev, provider) ? ev->response : NULL;
  if (r) {
    ot_attr_str(s, "gen_ai.response.model", r->model);
    ot_attr_str(s, "gen_ai.response.id", r->id);
    ot_attr_reason(s, "gen_ai.response.finish_reasons", hl_finish_reason_name(r->finish));
    if (o->capture && r->message) {
      cJSON *m = hl_message_to_json(r->message);
      cJSON *arr = cJSON_CreateArray();
      if (m && arr && cJSON_AddItemToArray(arr, m)) {
        m = NULL;
        attr_json(s, "gen_ai.output.messages", arr);
      }
      cJSON_Delete(m);
      cJSON_Delete(arr);
    }
  }
  if (ev->usage) {
    ot_attr_int(s, "gen_ai.usage.input_tokens", ev->usage->input_tokens);
    ot_attr_int(s, "gen_ai.usage.output_tokens", ev->usage->output_tokens);
  }
  set_error(s, &ev->error);
  s->measured = true;
  s->duration_ms = ev->duration_ms;
}

/* The tool span of the call an event is about, opened if needed. */
static ot_span *tool_span(hl_otel *o, ot_run *run, const hl_event *ev) {
  ot_span *s = find_tool(run, ev->call_id, true);
  if (s) return s;
  /* A hook event's name is the hook's: the tool's comes from ev->tool. */
  const char *tool = ev->type != HL_EVENT_HOOK ? ev->name : ev->tool ? hl_tool_name(ev->tool) : NULL;
  s = new_span(o, run->id, OT_TOOL, OT_KIND_INTERNAL, "execute_tool", tool, ev->time_ns);
  if (!s) return NULL;
  s->call_id = strdup(ev->call_id ? ev->call_id : "");
  ot_span *outer = find_tool(run, ev->outer_call_id, true);
  set_parent(s, outer ? outer : run->agent);
  ot_attr_lit(s, "gen_ai.operation.name", "execute_tool");
  ot_attr_str(s, "gen_ai.tool.name", tool);
  if (ev->call_id && ev->call_id[0]) ot_attr_str(s, "gen_ai.tool.call.id", ev->call_id);
  ot_attr_lit(s, "gen_ai.tool.type", "function");
  add_child(run, s);
  return s;
}

/* A span opened by a hook event learns the tool's name at TOOL_START. */
static void name_tool(ot_span *s, const char *tool) {
  if (!tool || strchr(s->name, ' ')) return;
  size_t n = strlen("execute_tool ") + strlen(tool) + 1;
  char *name = malloc(n);
  if (!name) return;
  snprintf(name, n, "execute_tool %s", tool);
  free(s->name);
  s->name = name;
  ot_attr_set(s, "gen_ai.tool.name", tool);
}

static void on_tool_start(hl_otel *o, ot_run *run, const hl_event *ev) {
  ot_span *s = tool_span(o, run, ev);
  if (!s) return;
  name_tool(s, ev->name);
  if (o->capture) attr_json(s, "gen_ai.tool.call.arguments", ev->args);
  s->tls_prev = ot_current;
  ot_current = s;
  const char *server = HL_EVENT_HAS(ev, tool) && ev->tool ? hl_mcp_tool_server(ev->tool) : NULL;
  if (server && !s->mcp) {
    ot_span *m = new_span(o, run->id, OT_MCP, OT_KIND_CLIENT, "tools/call", ev->name, ev->time_ns);
    if (m) {
      set_parent(m, s);
      m->call_id = strdup(ev->call_id ? ev->call_id : "");
      ot_attr_lit(m, "mcp.method.name", "tools/call");
      ot_attr_lit(m, "gen_ai.operation.name", "execute_tool");
      ot_attr_str(m, "gen_ai.tool.name", ev->name);
      ot_attr_str(m, "hookline.mcp.server", server);
      add_child(run, m);
      s->mcp = m;
      m->tls_prev = s;
      ot_current = m;
    }
  }
}

static void on_tool_end(hl_otel *o, ot_run *run, const hl_event *ev) {
  ot_span *s = find_tool(run, ev->call_id, true);
  if (!s) {
    ot_current = NULL; /* its run moved on (an abandoned call): forget it */
    return;
  }
  ot_current = s->tls_prev;
  s->end_ns = ev->time_ns;
  s->ended = true;
  set_error(s, &ev->error);
  if (o->capture) attr_json(s, "gen_ai.tool.call.result", ev->result);
  if (s->mcp) {
    s->mcp->end_ns = ev->time_ns;
    s->mcp->ended = true;
    set_error(s->mcp, &ev->error);
  }
  s->measured = true;
  s->duration_ms = ev->duration_ms;
}

static void on_hook(hl_otel *o, ot_run *run, const hl_event *ev) {
  ot_span *s = NULL;
  switch (ev->hook_point) {
  case HL_HOOK_BEFORE_TOOL:
  case HL_HOOK_AFTER_TOOL:
  case HL_HOOK_AROUND_TOOL:
    s = find_tool(run, ev->call_id, false);
    if (!s) s = tool_span(o, run, ev);
    break;
  case HL_HOOK_AFTER_MODEL:
  case HL_HOOK_AROUND_MODEL:
  case HL_HOOK_MODEL_CHUNK:
    s = find_role(run, OT_CHAT);
    break;
  default:
    break;
  }
  if (!s) s = run->agent;
  if (!s->ended) s->end_ns = ev->time_ns;
  ot_event *e = add_event(s, "hook", ev->time_ns);
  event_attr(e, "hookline.hook.name", ev->name);
  event_attr(e, "hookline.hook.point", hl_hook_point_name(ev->hook_point));
  event_attr(e, "hookline.hook.action", hl_hook_action_name(ev->hook_action));
  if (ev->error.status != HL_OK) event_attr(e, "hookline.hook.message", ev->error.message);
  if (ev->hook_action == HL_HOOK_ABORT) set_error(s, &ev->error);
}

_Static_assert(sizeof(ot_span) < 1008, "ot_span must stay a small malloc request");

int ot_on_event(const hl_event *ev, void *user_data) {
  hl_otel *o = user_data;
  if (!ev->invocation_id || !HL_EVENT_HAS(ev, tool)) return 0;
  ot_span *out = NULL;
  size_t n = 0;
  pthread_mutex_lock(&o->lock);
  if (!o->enabled) {
    pthread_mutex_unlock(&o->lock);
    return 0;
  }
  if (ev->type == HL_EVENT_AGENT_START) {
    on_agent_start(o, ev);
  } else if (ev->type == HL_EVENT_AGENT_END) {
    on_agent_end(o, ev, &out, &n);
  } else {
    ot_run *run = find_run(o, ev->invocation_id);
    if (run) {
      switch (ev->type) {
      case HL_EVENT_LM_START: on_lm_start(o, run, ev); break;
      case HL_EVENT_LM_END: on_lm_end(o, run, ev); break;
      case HL_EVENT_API_REQUEST: on_api_request(o, run, ev); break;
      case HL_EVENT_TOOL_START: on_tool_start(o, run, ev); break;
      case HL_EVENT_TOOL_END: on_tool_end(o, run, ev); break;
      case HL_EVENT_HOOK: on_hook(o, run, ev); break;
      /* The previous turn's spans go at the next turn's start rather than
       * at TURN_END, whose tool summary the library would otherwise build
       * for the tracer alone (~13k instructions a run of (b)); the last
       * turn's go with AGENT_END. */
      case HL_EVENT_TURN_START: hand_over_children(o, run, &out, &n); break;
      default: break;
      }
    }
  }
  pthread_mutex_unlock(&o->lock);
  if (out) ot_export_enqueue(o, out, n);
  return 0;
}

/* ---- trace context ----------------------------------------------------- */

static bool current_ids(hl_otel *o, hl_context *ctx, uint8_t trace[16], uint8_t span[8]) {
  if (!ctx) return false;
  bool found = false;
  pthread_mutex_lock(&o->lock);
  ot_run *run = o->enabled ? find_run(o, hl_context_invocation_id(ctx)) : NULL;
  if (run) {
    ot_span *s = ot_current;
    if (!(s && s->owner == o && span_in_run(run, s))) s = run->agent;
    memcpy(trace, s->trace_id, 16);
    memcpy(span, s->span_id, 8);
    found = true;
  }
  pthread_mutex_unlock(&o->lock);
  return found;
}

bool ot_header_fn(hl_context *ctx, char *line, size_t size, void *user_data) {
  char tp[64];
  if (hl_otel_traceparent(user_data, ctx, tp, sizeof tp) != HL_OK) return false;
  snprintf(line, size, "traceparent: %s", tp);
  return true;
}

hl_status hl_otel_traceparent(hl_otel *otel, hl_context *ctx, char *out, size_t size) {
  if (!otel || !ctx || !out || size < 56)
    return hl_fail(HL_ERR_INVALID, "hl_otel_traceparent: otel, ctx and a buffer of 56 bytes are required");
  uint8_t trace[16], span[8];
  if (!current_ids(otel, ctx, trace, span))
    return hl_fail(HL_ERR_NOT_FOUND, "hl_otel_traceparent: no span for this run");
  char t[33], s[17];
  ot_hex(t, trace, 16);
  ot_hex(s, span, 8);
  snprintf(out, size, "00-%s-%s-01", t, s);
  return HL_OK;
}

hl_status hl_otel_set_parent(const char *tp) {
  if (!tp) {
    ot_remote.set = false;
    return HL_OK;
  }
  uint8_t trace[16], span[8], zero[16] = {0};
  /* version (not ff) - trace id - span id - flags, lowercase hex */
  if (strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' ||
      (tp[55] != '\0' && tp[55] != '-') || !unhex(tp, trace, 1) || trace[0] == 0xff ||
      (trace[0] == 0 && tp[55] != '\0') || !unhex(tp + 3, trace, 16) ||
      !unhex(tp + 36, span, 8) || !unhex(tp + 53, zero + 8, 1) || !memcmp(trace, zero, 8) ||
      !memcmp(span, zero, 8))
    return hl_fail(HL_ERR_INVALID, "hl_otel_set_parent: not a W3C traceparent: \"%.80s\"", tp);
  if (!memcmp(trace, (const uint8_t[16]){0}, 16))
    return hl_fail(HL_ERR_INVALID, "hl_otel_set_parent: the trace id is all zeros");
  memcpy(ot_remote.trace, trace, 16);
  memcpy(ot_remote.span, span, 8);
  ot_remote.set = true;
  return HL_OK;
}

/* ---- the end ------------------------------------------------------------ */

void ot_tracer_stop(hl_otel *o, ot_span **out, size_t *n) {
  pthread_mutex_lock(&o->lock);
  o->enabled = false; /* the observer, if still installed, now does nothing */
  for (size_t b = 0; o->runs && b < o->n_buckets; b++) {
    for (ot_run *r = o->runs[b], *next; r; r = next) {
      next = r->next;
      hand_over_children(o, r, out, n);
      r->agent->end_ns = ot_now_ns();
      r->agent->next = *out;
      *out = r->agent;
      (*n)++;
      free(r);
    }
    o->runs[b] = NULL;
  }
  pthread_mutex_unlock(&o->lock);
}
