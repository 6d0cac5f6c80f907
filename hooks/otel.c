/*
 * otel.c - the OpenTelemetry tracer (hookline/otel.h), on the exporter's
 * side: it turns the records the runs' threads put in the ring
 * (otel_record.c) into GenAI spans, and drains the ring into the export
 * queue.
 *
 * How records become spans. Each run in progress has a record here,
 * found by its invocation id, holding its invoke_agent span and the child
 * spans (chat, execute_tool, tools/call) not yet handed to the exporter.
 * The run tree comes from the events themselves: parent_invocation_id and
 * parent_call_id place a child run under the span that started it,
 * outer_call_id places a nested tool call (code mode) under the code
 * tool's span. A tool span opens at its first event (a before_tool hook
 * decision or TOOL_START) and takes the after_tool hook's decision too,
 * so spans are handed over at the next TURN_START (every call of the
 * turn is over) and at AGENT_END, not at TOOL_END. Span and trace ids
 * come with the records: the run's thread made them, because outgoing
 * requests name the current span while it runs.
 *
 * Threads: one consumer at a time, holding o->lock (the exporter thread,
 * or flush, stats and stop draining what is left); records arrive in the
 * order the runs' threads published them.
 *
 * The exporter's configuration and life cycle are in otel_config.c.
 */
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
    memcpy(out + i, &x, n - i < 8 ? n - i : 8);
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

/* A record's error (status and message) on span `s`. An interrupt or a
 * pending call is not a failure. */
static void set_error(ot_span *s, const ot_rec *r) {
  hl_status st = (hl_status)r->status;
  if (st == HL_OK || st == HL_INTERRUPTED || st == HL_PENDING) return;
  const char *msg = ot_rec_str(r, OT_S_ERROR);
  s->status = OT_STATUS_ERROR;
  free(s->status_msg);
  s->status_msg = strdup(msg && msg[0] ? msg : hl_strerror(st));
  ot_attr_set(s, "error.type", hl_status_name(st));
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

static size_t run_hash(const hl_otel *o, const char *id) {
  return (size_t)(ot_id_hash(id) % o->n_buckets);
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

/* ---- record handlers (o->lock held) ---------------------------------- */

static const char *provider_name(const char *p) {
  /* gen_ai.provider.name well-known values */
  if (!p) return NULL;
  if (strcmp(p, "openai-responses") == 0) return "openai";
  if (strcmp(p, "gemini") == 0) return "gcp.gemini";
  return p;
}

/* The string attribute `key` of span `s`, or NULL. */
static const char *attr_of(const ot_span *s, const char *key) {
  for (int i = 0; i < s->n_attrs; i++)
    if ((s->attrs[i].key == key || strcmp(s->attrs[i].key, key) == 0) && s->attrs[i].type == OT_STR)
      return s->attrs[i].s;
  return NULL;
}

/* [{"role":..., "parts":[{"type":"text","content":...}]}] (content capture). */
static void attr_text_message(ot_span *s, const char *key, const char *role, const char *text) {
  ot_buf b = {0};
  ot_buf_puts(&b, "[{\"role\":\"");
  ot_buf_puts(&b, role);
  ot_buf_puts(&b, "\",\"parts\":[{\"type\":\"text\",\"content\":");
  ot_buf_json_string(&b, text);
  ot_buf_puts(&b, "}]}]");
  if (!b.failed) ot_attr_str(s, key, b.p);
  free(b.p);
}

static void on_agent_start(hl_otel *o, const ot_rec *r) {
  const char *inv = ot_rec_str(r, OT_S_INV), *agent = ot_rec_str(r, OT_S_AGENT);
  ot_run *run = calloc(1, sizeof *run);
  if (!run) return;
  snprintf(run->id, sizeof run->id, "%s", inv);
  ot_span *s = new_span(o, inv, OT_AGENT, OT_KIND_INTERNAL, "invoke_agent", agent, r->time_ns);
  if (!s) {
    free(run);
    return;
  }
  memcpy(s->span_id, r->span_id, 8);
  run->agent = s;
  ot_run *parent = find_run(o, ot_rec_str(r, OT_S_PARENT_INV));
  if (parent) {
    ot_span *p = find_tool(parent, ot_rec_str(r, OT_S_PARENT_CALL), true);
    if (p && p->mcp) p = p->mcp;
    set_parent(s, p ? p : parent->agent);
  } else {
    memcpy(s->trace_id, r->trace_id, 16);
    if (r->flags & OT_R_REMOTE) {
      memcpy(s->parent_id, r->remote_id, 8);
      s->has_parent = true;
    }
  }
  ot_attr_lit(s, "gen_ai.operation.name", "invoke_agent");
  ot_attr_str(s, "gen_ai.agent.name", agent);
  ot_attr_str(s, "gen_ai.agent.id", inv);
  ot_attr_str(s, "gen_ai.conversation.id", ot_rec_str(r, OT_S_SESSION));
  ot_attr_str(s, "hookline.branch", ot_rec_str(r, OT_S_BRANCH));
  const char *text = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && text) attr_text_message(s, "gen_ai.input.messages", "user", text);
  size_t b = run_hash(o, run->id);
  run->next = o->runs[b];
  o->runs[b] = run;
}

static void on_agent_end(hl_otel *o, const ot_rec *r, ot_span **out, size_t *n) {
  ot_run *run = find_run(o, ot_rec_str(r, OT_S_INV));
  if (!run) return;
  unlink_run(o, run);
  ot_span *s = run->agent;
  s->end_ns = r->time_ns;
  s->ended = true;
  if (r->flags & OT_R_USAGE) {
    ot_attr_int(s, "gen_ai.usage.input_tokens", r->in_tokens);
    ot_attr_int(s, "gen_ai.usage.output_tokens", r->out_tokens);
  }
  set_error(s, r);
  const char *text = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && text) attr_text_message(s, "gen_ai.output.messages", "assistant", text);
  s->measured = true;
  s->duration_ms = r->duration_ms;
  hand_over_children(o, run, out, n);
  s->next = *out;
  *out = s;
  (*n)++;
  free(run);
}

static void on_lm_start(hl_otel *o, ot_run *run, const ot_rec *r) {
  const char *model = ot_rec_str(r, OT_S_NAME);
  ot_span *s = new_span(o, run->id, OT_CHAT, OT_KIND_CLIENT, "chat", model, r->time_ns);
  if (!s) return;
  memcpy(s->span_id, r->span_id, 8);
  set_parent(s, run->agent);
  ot_attr_lit(s, "gen_ai.operation.name", "chat");
  ot_attr_str(s, "gen_ai.provider.name", provider_name(ot_rec_str(r, OT_S_PROVIDER)));
  ot_attr_str(s, "gen_ai.request.model", model);
  /* the run's, as on its agent span */
  ot_attr_str(s, "gen_ai.agent.name", attr_of(run->agent, "gen_ai.agent.name"));
  ot_attr_str(s, "gen_ai.conversation.id", attr_of(run->agent, "gen_ai.conversation.id"));
  add_child(run, s);
}

/* The chat span a record is about: by the id the run's thread knew, else
 * the run's open one. */
static ot_span *chat_of(ot_run *run, const ot_rec *r) {
  ot_span *open = NULL;
  for (ot_span *s = run->spans; s; s = s->next) {
    if (s->role != OT_CHAT || s->ended) continue;
    if ((r->flags & OT_R_SPAN) && memcmp(s->span_id, r->span_id, 8) == 0) return s;
    if (!open) open = s;
  }
  return open;
}

static void on_api_request(hl_otel *o, ot_run *run, const ot_rec *r) {
  const char *msgs = ot_rec_str(r, OT_S_CONTENT);
  ot_span *s = o->capture && msgs ? chat_of(run, r) : NULL;
  if (s) ot_attr_str(s, "gen_ai.input.messages", msgs);
}

static void on_lm_end(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = chat_of(run, r);
  if (!s) return;
  s->end_ns = r->time_ns;
  s->ended = true;
  ot_attr_str(s, "gen_ai.response.model", ot_rec_str(r, OT_S_RESP_MODEL));
  ot_attr_str(s, "gen_ai.response.id", ot_rec_str(r, OT_S_RESP_ID));
  if (r->finish) ot_attr_reason(s, "gen_ai.response.finish_reasons", r->finish);
  const char *content = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && content) ot_attr_str(s, "gen_ai.output.messages", content);
  if (r->flags & OT_R_USAGE) {
    ot_attr_int(s, "gen_ai.usage.input_tokens", r->in_tokens);
    ot_attr_int(s, "gen_ai.usage.output_tokens", r->out_tokens);
  }
  set_error(s, r);
  s->measured = true;
  s->duration_ms = r->duration_ms;
}

/* The tool span of the call a record is about, opened if needed. */
static ot_span *tool_span(hl_otel *o, ot_run *run, const ot_rec *r) {
  const char *call_id = ot_rec_str(r, OT_S_CALL);
  ot_span *s = find_tool(run, call_id, true);
  if (s) return s;
  /* A hook event's name is the hook's: the tool's comes with OT_S_TOOL. */
  const char *tool = ot_rec_str(r, r->type != HL_EVENT_HOOK ? OT_S_NAME : OT_S_TOOL);
  s = new_span(o, run->id, OT_TOOL, OT_KIND_INTERNAL, "execute_tool", tool, r->time_ns);
  if (!s) return NULL;
  s->call_id = strdup(call_id ? call_id : "");
  ot_span *outer = find_tool(run, ot_rec_str(r, OT_S_OUTER_CALL), true);
  set_parent(s, outer ? outer : run->agent);
  ot_attr_lit(s, "gen_ai.operation.name", "execute_tool");
  ot_attr_str(s, "gen_ai.tool.name", tool);
  if (call_id && call_id[0]) ot_attr_str(s, "gen_ai.tool.call.id", call_id);
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

static void on_tool_start(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = tool_span(o, run, r);
  if (!s) return;
  const char *tool = ot_rec_str(r, OT_S_NAME);
  name_tool(s, tool);
  /* the id outgoing requests of the call name (a span a hook opened had
   * one of its own; nothing refers to it yet) */
  memcpy(s->span_id, r->span_id, 8);
  const char *args = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && args) ot_attr_str(s, "gen_ai.tool.call.arguments", args);
  const char *server = ot_rec_str(r, OT_S_SERVER);
  if (server && !s->mcp) {
    ot_span *m = new_span(o, run->id, OT_MCP, OT_KIND_CLIENT, "tools/call", tool, r->time_ns);
    if (m) {
      memcpy(m->span_id, r->span2_id, 8);
      set_parent(m, s);
      const char *call_id = ot_rec_str(r, OT_S_CALL);
      m->call_id = strdup(call_id ? call_id : "");
      ot_attr_lit(m, "mcp.method.name", "tools/call");
      ot_attr_lit(m, "gen_ai.operation.name", "execute_tool");
      ot_attr_str(m, "gen_ai.tool.name", tool);
      ot_attr_str(m, "hookline.mcp.server", server);
      add_child(run, m);
      s->mcp = m;
    }
  }
}

static void on_tool_end(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = find_tool(run, ot_rec_str(r, OT_S_CALL), true);
  if (!s) return;
  s->end_ns = r->time_ns;
  s->ended = true;
  set_error(s, r);
  const char *result = ot_rec_str(r, OT_S_CONTENT);
  if (o->capture && result) ot_attr_str(s, "gen_ai.tool.call.result", result);
  if (s->mcp) {
    s->mcp->end_ns = r->time_ns;
    s->mcp->ended = true;
    set_error(s->mcp, r);
  }
  s->measured = true;
  s->duration_ms = r->duration_ms;
}

static void on_hook(hl_otel *o, ot_run *run, const ot_rec *r) {
  ot_span *s = NULL;
  switch (r->hook_point) {
  case HL_HOOK_BEFORE_TOOL:
  case HL_HOOK_AFTER_TOOL:
  case HL_HOOK_AROUND_TOOL:
    s = find_tool(run, ot_rec_str(r, OT_S_CALL), false);
    if (!s) s = tool_span(o, run, r);
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
  if (!s->ended) s->end_ns = r->time_ns;
  ot_event *e = add_event(s, "hook", r->time_ns);
  event_attr(e, "hookline.hook.name", ot_rec_str(r, OT_S_NAME));
  event_attr(e, "hookline.hook.point", hl_hook_point_name((hl_hook_point)r->hook_point));
  event_attr(e, "hookline.hook.action", hl_hook_action_name((hl_hook_action)r->hook_action));
  if (r->status != HL_OK) event_attr(e, "hookline.hook.message", ot_rec_str(r, OT_S_ERROR));
  if (r->hook_action == HL_HOOK_ABORT) set_error(s, r);
}

_Static_assert(sizeof(ot_span) < 1008, "ot_span must stay a small malloc request");

void ot_trace_record(hl_otel *o, const ot_rec *r, ot_span **out, size_t *n) {
  if (!o->enabled) return;
  if (r->type == HL_EVENT_AGENT_START) {
    on_agent_start(o, r);
    return;
  }
  if (r->type == HL_EVENT_AGENT_END) {
    on_agent_end(o, r, out, n);
    return;
  }
  ot_run *run = find_run(o, ot_rec_str(r, OT_S_INV));
  if (!run) {
    /* Its AGENT_START was dropped (a full ring), or came before the
     * install: the span this record starts cannot be placed. Count it as
     * started and dropped, as the run's side counts a dropped record, so
     * that every span start counts once. */
    uint64_t lost = r->type == HL_EVENT_LM_START ? 1
                    : r->type == HL_EVENT_TOOL_START ? (ot_rec_str(r, OT_S_SERVER) ? 2 : 1)
                                                     : 0;
    if (lost) {
      atomic_fetch_add(&o->st_started, lost);
      atomic_fetch_add(&o->st_dropped, lost);
    }
    return;
  }
  switch (r->type) {
  case HL_EVENT_LM_START: on_lm_start(o, run, r); break;
  case HL_EVENT_LM_END: on_lm_end(o, run, r); break;
  case HL_EVENT_API_REQUEST: on_api_request(o, run, r); break;
  case HL_EVENT_TOOL_START: on_tool_start(o, run, r); break;
  case HL_EVENT_TOOL_END: on_tool_end(o, run, r); break;
  case HL_EVENT_HOOK: on_hook(o, run, r); break;
  /* The previous turn's spans go at the next turn's start rather than
   * at TURN_END, whose tool summary the library would otherwise build
   * for the tracer alone (~13k instructions a run of (b)); the last
   * turn's go with AGENT_END. */
  case HL_EVENT_TURN_START: hand_over_children(o, run, out, n); break;
  default: break;
  }
}

size_t ot_drain(hl_otel *o, bool wait) {
  if (!o->ring) return 0;
  if (wait) pthread_mutex_lock(&o->lock);
  else if (pthread_mutex_trylock(&o->lock) != 0) return 0;
  ot_span *out = NULL;
  size_t n = 0, read = 0;
  for (ot_rec *r; (r = ot_ring_peek(o)) != NULL; read++) {
    ot_trace_record(o, r, &out, &n);
    ot_ring_release(o, r);
  }
  atomic_store(&o->kick, false);
  pthread_mutex_unlock(&o->lock);
  if (out) ot_export_enqueue(o, out, n);
  return read;
}

/* ---- the end ------------------------------------------------------------ */

void ot_tracer_stop(hl_otel *o, ot_span **out, size_t *n) {
  atomic_store(&o->live_enabled, false); /* the observer, if still installed, now does nothing */
  ot_drain(o, true);                       /* what the runs published before */
  pthread_mutex_lock(&o->lock);
  o->enabled = false;
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
