/*
 * event.c - what an event looks like outside the process: its type names,
 * a JSON copy (for collectors, traces and tests) and one readable line (for
 * logs).
 *
 * Both encodings show only the fields an event of that type carries (the
 * table in observer.h), plus any other field the producer set. Fields that
 * are zero/NULL are left out, except where zero is information: a
 * duration, or "success" on the events that can fail.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "core/util.h"
#include "hookline/observer.h"
#include "hookline/tool.h"

static const char *const hl_event_names[HL_EVENT_TYPE_COUNT] = {
    [HL_EVENT_AGENT_START] = "agent_start",
    [HL_EVENT_AGENT_END] = "agent_end",
    [HL_EVENT_TURN_START] = "turn_start",
    [HL_EVENT_TURN_END] = "turn_end",
    [HL_EVENT_LM_START] = "lm_start",
    [HL_EVENT_LM_END] = "lm_end",
    [HL_EVENT_API_REQUEST] = "api_request",
    [HL_EVENT_API_RESPONSE] = "api_response",
    [HL_EVENT_RESPONSE] = "response",
    [HL_EVENT_TOOL_START] = "tool_start",
    [HL_EVENT_TOOL_END] = "tool_end",
    [HL_EVENT_HOOK] = "hook",
    [HL_EVENT_STDERR_WRITE] = "stderr_write",
    [HL_EVENT_TRACE_COMPLETE] = "trace_complete",
    [HL_EVENT_CUSTOM] = "custom",
    [HL_EVENT_INTERRUPT] = "interrupt",
    [HL_EVENT_RESUME] = "resume",
};

/* The enum may arrive as any int from an application or a binding. */
static int hl_event_type_known(hl_event_type type) {
  return (unsigned)type < (unsigned)HL_EVENT_TYPE_COUNT;
}

const char *hl_event_type_name(hl_event_type type) {
  return hl_event_type_known(type) ? hl_event_names[type] : "unknown";
}

/* What `name` means depends on the type: the key says it ("tool=calculator"
 * reads better than "name=calculator"). */
static const char *hl_event_name_key(hl_event_type type) {
  switch (type) {
  case HL_EVENT_LM_START:
  case HL_EVENT_LM_END:
    return "model";
  case HL_EVENT_API_REQUEST:
  case HL_EVENT_API_RESPONSE:
    return "provider";
  case HL_EVENT_TOOL_START:
  case HL_EVENT_TOOL_END:
    return "tool";
  case HL_EVENT_HOOK:
    return "hook";
  default:
    return "name";
  }
}

/* Events that report an outcome: they always say whether it succeeded. */
static int hl_event_has_outcome(hl_event_type type) {
  return type == HL_EVENT_AGENT_END || type == HL_EVENT_LM_END ||
         type == HL_EVENT_API_RESPONSE || type == HL_EVENT_TOOL_END;
}

/* Events that document a duration: zero is then a measurement, not unset. */
static int hl_event_has_duration(hl_event_type type) {
  return hl_event_has_outcome(type) || type == HL_EVENT_TRACE_COMPLETE;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static cJSON *hl_usage_json(const hl_usage *u) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (!cJSON_AddNumberToObject(o, "input_tokens", (double)u->input_tokens) ||
      !cJSON_AddNumberToObject(o, "output_tokens", (double)u->output_tokens) ||
      (u->has_cost && !cJSON_AddNumberToObject(o, "cost", u->cost)) ||
      (u->cached_tokens && !cJSON_AddNumberToObject(o, "cached_tokens", (double)u->cached_tokens)) ||
      (u->reasoning_tokens &&
       !cJSON_AddNumberToObject(o, "reasoning_tokens", (double)u->reasoning_tokens)) ||
      (u->cache_creation_tokens &&
       !cJSON_AddNumberToObject(o, "cache_creation_tokens", (double)u->cache_creation_tokens))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Adds `value` (taken) under `key`; a NULL value means allocation failed. */
static int hl_add(cJSON *obj, const char *key, cJSON *value) {
  if (!value) return 0;
  if (!cJSON_AddItemToObject(obj, key, value)) {
    cJSON_Delete(value);
    return 0;
  }
  return 1;
}

static int hl_add_str(cJSON *obj, const char *key, const char *s) {
  return !s || hl_add(obj, key, cJSON_CreateString(s));
}

static int hl_add_json(cJSON *obj, const char *key, const cJSON *v) {
  return !v || hl_add(obj, key, cJSON_Duplicate(v, 1));
}

/* The fields appended for tracers (the run tree, the session, the
 * provider, the tool), read only when the producer's struct has them
 * (HL_EVENT_HAS: an event built against an older header has a smaller
 * size). "provider" and "tool" are added where the name key is not
 * already theirs (LM events name the model; a tool hook's event names
 * the hook). */
static int hl_event_json_tree(cJSON *o, const hl_event *ev) {
  int ok = 1;
  if (HL_EVENT_HAS(ev, parent_invocation_id))
    ok = ok && hl_add_str(o, "parent_invocation_id", ev->parent_invocation_id);
  if (HL_EVENT_HAS(ev, parent_call_id)) ok = ok && hl_add_str(o, "parent_call_id", ev->parent_call_id);
  if (HL_EVENT_HAS(ev, outer_call_id)) ok = ok && hl_add_str(o, "outer_call_id", ev->outer_call_id);
  if (HL_EVENT_HAS(ev, session_id) && ev->session_id && ev->session_id[0])
    ok = ok && hl_add_str(o, "session_id", ev->session_id);
  if (HL_EVENT_HAS(ev, provider) && ev->provider && !cJSON_HasObjectItem(o, "provider"))
    ok = ok && hl_add_str(o, "provider", ev->provider);
  if (HL_EVENT_HAS(ev, tool) && ev->tool && !cJSON_HasObjectItem(o, "tool"))
    ok = ok && hl_add_str(o, "tool", hl_tool_name(ev->tool));
  return ok;
}

cJSON *hl_event_to_json(const hl_event *ev) {
  if (!ev) return NULL;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  int ok = hl_add_str(o, "type", hl_event_type_name(ev->type));
  if (ev->time_ns) ok = ok && hl_add(o, "time_ns", cJSON_CreateNumber((double)ev->time_ns));
  ok = ok && hl_add_str(o, "invocation_id", ev->invocation_id);
  ok = ok && hl_add_str(o, "agent", ev->agent_name);
  ok = ok && hl_add_str(o, "branch", ev->branch);
  if (ev->turn) ok = ok && hl_add(o, "turn", cJSON_CreateNumber(ev->turn));
  ok = ok && hl_add_str(o, hl_event_name_key(ev->type), ev->name);
  ok = ok && hl_add_str(o, "call_id", ev->call_id);
  ok = ok && hl_add_str(o, "text", ev->text);
  if (ev->is_delta) ok = ok && hl_add(o, "delta", cJSON_CreateTrue());
  ok = ok && hl_add_json(o, "args", ev->args);
  ok = ok && hl_add_json(o, "result", ev->result);
  ok = ok && hl_add_json(o, "data", ev->data);
  if (ev->response) ok = ok && hl_add(o, "response", hl_response_to_json(ev->response));
  if (ev->usage) ok = ok && hl_add(o, "usage", hl_usage_json(ev->usage));
  if (hl_event_has_outcome(ev->type))
    ok = ok && hl_add(o, "success", cJSON_CreateBool(ev->error.status == HL_OK));
  if (ev->error.status != HL_OK) {
    cJSON *err = cJSON_CreateObject();
    if (err) {
      if (!cJSON_AddStringToObject(err, "status", hl_status_name(ev->error.status)) ||
          !cJSON_AddStringToObject(err, "message",
                                   ev->error.message ? ev->error.message : "")) {
        cJSON_Delete(err);
        err = NULL;
      }
    }
    ok = ok && hl_add(o, "error", err);
  }
  if (ev->duration_ms != 0 || hl_event_has_duration(ev->type))
    ok = ok && hl_add(o, "duration_ms", cJSON_CreateNumber(ev->duration_ms));
  if (ev->prompt_tokens) ok = ok && hl_add(o, "prompt_tokens", cJSON_CreateNumber((double)ev->prompt_tokens));
  if (ev->turns) ok = ok && hl_add(o, "turns", cJSON_CreateNumber(ev->turns));
  if (ev->type == HL_EVENT_HOOK) {
    ok = ok && hl_add_str(o, "hook_point", hl_hook_point_name(ev->hook_point));
    ok = ok && hl_add_str(o, "hook_action", hl_hook_action_name(ev->hook_action));
  }
  ok = ok && hl_event_json_tree(o, ev);
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* ------------------------------------------------------------------ */
/* One line                                                            */
/* ------------------------------------------------------------------ */

/* Values longer than this are cut ("...") so that one huge tool result does
 * not turn a log into a dump; hl_event_to_json() keeps everything. */
#define HL_EVENT_VALUE_MAX 240

typedef struct hl_line {
  char *buf;
  size_t len, cap;
  int failed;
} hl_line;

static void hl_line_putn(hl_line *l, const char *s, size_t n) {
  if (l->failed) return;
  if (l->len + n + 1 > l->cap) {
    size_t cap = l->cap ? l->cap : 128;
    while (l->len + n + 1 > cap) cap *= 2;
    char *nb = realloc(l->buf, cap);
    if (!nb) {
      l->failed = 1;
      return;
    }
    l->buf = nb;
    l->cap = cap;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  l->buf[l->len] = '\0';
}

static void hl_line_puts(hl_line *l, const char *s) { hl_line_putn(l, s, strlen(s)); }

static void hl_line_printf(hl_line *l, const char *fmt, ...) HL_PRINTF(2, 3);
static void hl_line_printf(hl_line *l, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  hl_line_putn(l, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A value needs quotes when a reader splitting on spaces and '=' would
 * misread it, or when it holds bytes that would break the line. */
static int hl_needs_quotes(const char *s, size_t n) {
  if (n == 0) return 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return 1;
  }
  return 0;
}

/* Cut at `max` bytes without splitting a UTF-8 sequence. */
static size_t hl_cut(const char *s, size_t n, size_t max, int *cut) {
  *cut = 0;
  if (n <= max) return n;
  *cut = 1;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  return max;
}

static void hl_line_quoted(hl_line *l, const char *s, size_t n) {
  hl_line_putn(l, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': hl_line_puts(l, "\\\""); break;
    case '\\': hl_line_puts(l, "\\\\"); break;
    case '\n': hl_line_puts(l, "\\n"); break;
    case '\r': hl_line_puts(l, "\\r"); break;
    case '\t': hl_line_puts(l, "\\t"); break;
    default:
      if (c < 0x20 || c == 0x7f)
        hl_line_printf(l, "\\u%04x", c);
      else
        hl_line_putn(l, (const char *)&s[i], 1);
    }
  }
  hl_line_putn(l, "\"", 1);
}

/* " key=value", the value quoted when needed and cut when long. */
static void hl_line_kv(hl_line *l, const char *key, const char *value) {
  if (!value) return;
  int cut;
  size_t n = hl_cut(value, strlen(value), HL_EVENT_VALUE_MAX, &cut);
  hl_line_printf(l, " %s=", key);
  if (hl_needs_quotes(value, n))
    hl_line_quoted(l, value, n);
  else
    hl_line_putn(l, value, n);
  if (cut) hl_line_puts(l, "...");
}

/* JSON values are printed compactly (cJSON escapes control characters, so
 * they stay on one line) and are not quoted: `args={"x":1}`. */
static void hl_line_json(hl_line *l, const char *key, const cJSON *v) {
  if (!v) return;
  char *s = hl__json_print_exact(v); /* numbers exactly, as everywhere */
  if (!s) {
    l->failed = 1;
    return;
  }
  int cut;
  size_t n = hl_cut(s, strlen(s), HL_EVENT_VALUE_MAX, &cut);
  hl_line_printf(l, " %s=", key);
  hl_line_putn(l, s, n);
  if (cut) hl_line_puts(l, "...");
  cJSON_free(s);
}

static void hl_line_usage(hl_line *l, const hl_usage *u) {
  if (!u) return;
  hl_line_printf(l, " input_tokens=%" PRId64 " output_tokens=%" PRId64, u->input_tokens,
                 u->output_tokens);
  if (u->has_cost) hl_line_printf(l, " cost=%.6f", u->cost);
}

static void hl_line_response(hl_line *l, const hl_response *r) {
  if (!r || !r->message) return;
  char *text = hl_message_text(r->message);
  if (text && text[0]) hl_line_kv(l, "response", text);
  hl_free(text);
  size_t calls = hl_message_tool_call_count(r->message);
  if (calls) hl_line_printf(l, " tool_calls=%zu", calls);
  if (r->finish != HL_FINISH_UNKNOWN) hl_line_kv(l, "finish", hl_finish_reason_name(r->finish));
}

char *hl_event_format(const hl_event *ev) {
  if (!ev) return NULL;
  hl_line l = {0};
  hl_line_puts(&l, hl_event_type_name(ev->type));
  hl_line_kv(&l, "call_id", ev->call_id);
  hl_line_kv(&l, hl_event_name_key(ev->type), ev->name);
  if (ev->type == HL_EVENT_HOOK) {
    hl_line_kv(&l, "point", hl_hook_point_name(ev->hook_point));
    hl_line_kv(&l, "action", hl_hook_action_name(ev->hook_action));
  }
  if (ev->is_delta) hl_line_puts(&l, " delta=true");
  hl_line_kv(&l, "text", ev->text);
  hl_line_json(&l, "args", ev->args);
  hl_line_json(&l, "result", ev->result);
  hl_line_json(&l, "data", ev->data);
  hl_line_response(&l, ev->response);
  if (ev->prompt_tokens) hl_line_printf(&l, " prompt_tokens=%" PRId64, ev->prompt_tokens);
  hl_line_usage(&l, ev->usage);
  if (ev->turns) hl_line_printf(&l, " turns=%d", ev->turns);
  if (hl_event_has_outcome(ev->type))
    hl_line_puts(&l, ev->error.status == HL_OK ? " success=true" : " success=false");
  if (ev->error.status != HL_OK) {
    hl_line_kv(&l, "error", hl_status_name(ev->error.status));
    if (ev->error.message && ev->error.message[0])
      hl_line_kv(&l, "error_message", ev->error.message);
  }
  if (ev->duration_ms != 0 || hl_event_has_duration(ev->type))
    hl_line_printf(&l, " duration_ms=%.3f", ev->duration_ms);
  if (ev->turn) hl_line_printf(&l, " turn=%d", ev->turn);
  hl_line_kv(&l, "agent", ev->agent_name);
  hl_line_kv(&l, "branch", ev->branch);
  if (l.failed) {
    free(l.buf);
    hl_fail(HL_ERR_NOMEM, "hl_event_format: out of memory");
    return NULL;
  }
  return l.buf;
}
