/*
 * trace.c - /trace: a readable timeline of the last turn, from the
 * collecting observer's events.
 *
 * The library emits a HOOK event only for decisive hooks (override, abort,
 * replaced tool arguments). Hooks that simply continue leave no event, but
 * their behaviour is fixed by the hook semantics: every hook of a chain
 * runs, in order, until one overrides or aborts. So for each hook point
 * the trace lists the chain (global hooks first, then the agent's) and
 * marks each hook with its HOOK event's action when there is one,
 * "continue" when there is none, and "skipped" after an override. Chain
 * lines are anchored on the events around the point (before_tool just
 * before TOOL_START of the same call, after_model just after LM_END, ...);
 * a HOOK event that no anchor claimed is printed where it happened.
 */
#include "chat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tracer {
  chat_app *app;
  FILE *out;
  const cJSON *events;
  int n;
  char *used; /* HOOK events already shown on a chain line */
  bool before_agent_overrode;
} tracer;

/* Compact, single-line rendering of a JSON value, cut at `max` bytes. */
static void put_value(FILE *out, const cJSON *v, size_t max) {
  char *s = NULL;
  if (!v || hl_json_print(v, &s) != HL_OK || !s) {
    fputs("null", out);
    return;
  }
  size_t len = strlen(s);
  if (len > max) {
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
    fwrite(s, 1, cut, out);
    fputs("...", out);
  } else {
    fputs(s, out);
  }
  hl_free(s);
}

/* A text as a quoted one-line JSON string, cut at `max`. */
static void put_text(FILE *out, const char *text, size_t max) {
  cJSON *s = cJSON_CreateString(text ? text : "");
  put_value(out, s, max);
  cJSON_Delete(s);
}

static const char *str(const cJSON *ev, const char *key) {
  const char *s = hl_json_get_string(ev, key);
  return s ? s : "";
}

static int num(const cJSON *ev, const char *key) {
  return (int)hl_json_get_number(ev, key, 0);
}

static bool is_type(const cJSON *ev, const char *type) {
  return strcmp(str(ev, "type"), type) == 0;
}

static void put_error(FILE *out, const cJSON *ev) {
  const cJSON *err = hl_json_get(ev, "error");
  fprintf(out, "failed: %s: %s", str(err, "status"), str(err, "message"));
}

/* The agent's chains for `point`, global first: name of the i-th hook, or
 * NULL past the end. */
static const char *chain_hook(chat_app *app, hl_hook_point point, size_t i) {
  hl_hooks *global = hl_hooks_global();
  size_t ng = hl_hooks_count(global, point);
  if (i < ng) return hl_hooks_name_at(global, point, i);
  return hl_hooks_name_at(hl_agent_hooks(app->agent), point, i - ng);
}

/* Find the first unused HOOK event at `point` for this occurrence (same
 * turn; same call for tool hooks) and hook `name`. */
static int find_hook_event(tracer *t, const char *point, const char *name, int turn,
                           const char *call_id) {
  for (int i = 0; i < t->n; i++) {
    const cJSON *ev = cJSON_GetArrayItem(t->events, i);
    if (t->used[i] || !is_type(ev, "hook")) continue;
    if (strcmp(str(ev, "hook_point"), point) != 0 || strcmp(str(ev, "hook"), name) != 0) continue;
    if (turn && num(ev, "turn") && num(ev, "turn") != turn) continue;
    if (call_id && *call_id && strcmp(str(ev, "call_id"), call_id) != 0) continue;
    return i;
  }
  return -1;
}

/* After a tool hook overrode: what the model received for that call, from
 * the TURN_END summary (the tool's own TOOL_END result is not it). */
static void given_to_model(tracer *t, const char *call_id, const char *indent) {
  for (int i = 0; i < t->n; i++) {
    const cJSON *ev = cJSON_GetArrayItem(t->events, i);
    if (!is_type(ev, "turn_end")) continue;
    const cJSON *item;
    cJSON_ArrayForEach(item, hl_json_get(ev, "data")) {
      if (strcmp(str(item, "call_id"), call_id) != 0) continue;
      fprintf(t->out, "%s    the model gets ", indent);
      put_text(t->out, str(item, "content"), 120);
      fputc('\n', t->out);
      return;
    }
  }
}

/* One line for a hook point: every hook of the chain and what it did.
 * Returns true if a hook overrode. */
static bool chain_line(tracer *t, hl_hook_point point, int turn, const char *call_id,
                       const char *tool, const char *indent) {
  if (!chain_hook(t->app, point, 0)) return false; /* no hooks here: nothing to show */
  const char *pname = hl_hook_point_name(point);
  fprintf(t->out, "%s%shook %-13s%s", indent, ui_cyan(&t->app->ui), pname, ui_reset(&t->app->ui));
  if (tool) fprintf(t->out, "%s: ", tool);
  bool stopped = false, overrode = false;
  for (size_t i = 0;; i++) {
    const char *name = chain_hook(t->app, point, i);
    if (!name) break;
    if (i) fputs(", ", t->out);
    if (stopped) {
      fprintf(t->out, "%s (skipped)", name);
      continue;
    }
    int at = find_hook_event(t, pname, name, turn, call_id);
    if (at < 0) {
      fprintf(t->out, "%s -> continue", name);
      continue;
    }
    t->used[at] = 1;
    const cJSON *ev = cJSON_GetArrayItem(t->events, at);
    const char *action = str(ev, "hook_action");
    fprintf(t->out, "%s -> %s", name, action);
    if (strcmp(action, "continue") == 0 && hl_json_get(ev, "args")) {
      fputs(" with new arguments ", t->out);
      put_value(t->out, hl_json_get(ev, "args"), 120);
    } else if (strcmp(action, "abort") == 0) {
      fputs(" (", t->out);
      fputs(str(hl_json_get(ev, "error"), "message"), t->out);
      fputs(")", t->out);
      stopped = true;
    } else if (strcmp(action, "override") == 0) {
      stopped = overrode = true;
    }
  }
  fputc('\n', t->out);
  if (overrode && call_id) given_to_model(t, call_id, indent);
  return overrode;
}

/* What the model answered in `turn`: text and tool calls, from the
 * response carried by a later API_RESPONSE or TURN_END event. */
static void model_answer(tracer *t, int from, int turn) {
  for (int i = from; i < t->n; i++) {
    const cJSON *ev = cJSON_GetArrayItem(t->events, i);
    if (num(ev, "turn") != turn) continue;
    if (!is_type(ev, "api_response") && !is_type(ev, "turn_end")) continue;
    const cJSON *msg = hl_json_get(hl_json_get(ev, "response"), "message");
    const cJSON *content = hl_json_get(msg, "content");
    if (!content) continue;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
      const char *type = str(part, "type");
      if (strcmp(type, "text") == 0 && *str(part, "text")) {
        fputs("      says ", t->out);
        put_text(t->out, str(part, "text"), 100);
        fputc('\n', t->out);
      } else if (strcmp(type, "tool_call") == 0) {
        fprintf(t->out, "      calls %s ", str(part, "name"));
        put_value(t->out, hl_json_get(part, "arguments"), 100);
        fputc('\n', t->out);
      }
    }
    return;
  }
}

/* True if the event that anchors the chain line of a `point` HOOK event
 * at index `at` comes later (before_* chains print just before the event
 * that follows them), so the chain line will be printed there. */
static bool anchor_follows(tracer *t, int at, const char *point, const char *call_id, int turn) {
  const char *anchor = NULL;
  if (strcmp(point, "before_tool") == 0)
    anchor = "tool_start";
  else if (strcmp(point, "before_model") == 0)
    anchor = "lm_start";
  else if (strcmp(point, "after_agent") == 0)
    anchor = "agent_end";
  if (!anchor) return false;
  for (int i = at + 1; i < t->n; i++) {
    const cJSON *ev = cJSON_GetArrayItem(t->events, i);
    if (!is_type(ev, anchor)) continue;
    if (strcmp(anchor, "tool_start") == 0 && strcmp(str(ev, "call_id"), call_id) != 0) continue;
    if (strcmp(anchor, "lm_start") == 0 && num(ev, "turn") != turn) continue;
    return true;
  }
  return false;
}

/* The model's tool call `call_id` from its responses, or NULL: calls
 * that no response contains were made by a tool (code mode calling tools
 * from JavaScript, composite tools), through hl_context_call_tool(). */
static const cJSON *model_call(tracer *t, const char *call_id) {
  for (int i = 0; i < t->n; i++) {
    const cJSON *ev = cJSON_GetArrayItem(t->events, i);
    const cJSON *content = hl_json_get(hl_json_get(hl_json_get(ev, "response"), "message"), "content");
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
      if (strcmp(str(part, "type"), "tool_call") == 0 && strcmp(str(part, "id"), call_id) == 0)
        return part;
    }
  }
  return NULL;
}

/* Nested tool calls are indented under the call that made them. */
static const char *tool_indent(tracer *t, const char *call_id) {
  return model_call(t, call_id) ? "  " : "      ";
}

/* The tool name of call `call_id`, from the model's responses. */
static const char *tool_name_for(tracer *t, const char *call_id) {
  const cJSON *call = model_call(t, call_id);
  return call ? str(call, "name") : "(nested call)";
}

void chat_print_trace(chat_app *app, const cJSON *events, FILE *out) {
  tracer t = {.app = app, .out = out, .events = events, .n = cJSON_GetArraySize(events)};
  if (t.n == 0) {
    fprintf(out, "No trace yet: ask something first, then /trace shows its hooks and events.\n");
    return;
  }
  t.used = calloc((size_t)t.n, 1);
  if (!t.used) {
    fprintf(out, "out of memory\n");
    return;
  }
  fprintf(out, "%sTrace of the last turn%s (%d events; hooks in dispatch order)\n",
          ui_bold(&app->ui), ui_reset(&app->ui), t.n);
  for (int i = 0; i < t.n; i++) {
    const cJSON *ev = cJSON_GetArrayItem(events, i);
    const char *type = str(ev, "type");
    int turn = num(ev, "turn");
    if (hl_json_get_bool(ev, "delta", false)) continue; /* streamed fragments */

    if (strcmp(type, "agent_start") == 0) {
      fprintf(out, "agent_start   agent=%s input=", str(ev, "agent"));
      put_text(out, str(ev, "text"), 100);
      fputc('\n', out);
      t.before_agent_overrode = chain_line(&t, HL_HOOK_BEFORE_AGENT, 0, NULL, NULL, "");
    } else if (strcmp(type, "turn_start") == 0) {
      fprintf(out, "turn %d\n", turn);
    } else if (strcmp(type, "lm_start") == 0) {
      chain_line(&t, HL_HOOK_BEFORE_MODEL, turn, NULL, NULL, "  ");
      fprintf(out, "  lm_start    model=%s\n", *str(ev, "model") ? str(ev, "model") : "(default)");
    } else if (strcmp(type, "lm_end") == 0) {
      fputs("  lm_end      ", out);
      if (hl_json_get_bool(ev, "success", true)) {
        const cJSON *u = hl_json_get(ev, "usage");
        fprintf(out, "ok in %.0f ms, tokens in=%d out=%d\n", hl_json_get_number(ev, "duration_ms", 0),
                num(u, "input_tokens"), num(u, "output_tokens"));
        model_answer(&t, i, turn);
      } else {
        put_error(out, ev);
        fputc('\n', out);
      }
      chain_line(&t, HL_HOOK_AFTER_MODEL, turn, NULL, NULL, "  ");
    } else if (strcmp(type, "tool_start") == 0) {
      const char *ind = tool_indent(&t, str(ev, "call_id"));
      chain_line(&t, HL_HOOK_BEFORE_TOOL, turn, str(ev, "call_id"), str(ev, "tool"), ind);
      fprintf(out, "%stool_start  %s ", ind, str(ev, "tool"));
      put_value(out, hl_json_get(ev, "args"), 120);
      fputc('\n', out);
    } else if (strcmp(type, "tool_end") == 0) {
      const char *ind = tool_indent(&t, str(ev, "call_id"));
      fprintf(out, "%stool_end    %s -> ", ind, str(ev, "tool"));
      if (hl_json_get_bool(ev, "success", true))
        put_value(out, hl_json_get(ev, "result"), 120);
      else
        put_error(out, ev);
      fprintf(out, " (%.1f ms)\n", hl_json_get_number(ev, "duration_ms", 0));
      chain_line(&t, HL_HOOK_AFTER_TOOL, turn, str(ev, "call_id"), str(ev, "tool"), ind);
    } else if (strcmp(type, "agent_end") == 0) {
      if (!t.before_agent_overrode) chain_line(&t, HL_HOOK_AFTER_AGENT, 0, NULL, NULL, "");
      fputs("agent_end     ", out);
      if (hl_json_get_bool(ev, "success", true)) {
        fputs("answer=", out);
        put_text(out, str(ev, "text"), 100);
      } else {
        put_error(out, ev);
      }
      fprintf(out, " (%.0f ms)\n", hl_json_get_number(ev, "duration_ms", 0));
    } else if (strcmp(type, "hook") == 0) {
      if (t.used[i]) continue;
      const char *point = str(ev, "hook_point");
      if (anchor_follows(&t, i, point, str(ev, "call_id"), turn)) continue;
      /* A decisive hook whose point has no anchor event (a before_tool
       * override means the tool never started): show its chain here. */
      for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
        if (strcmp(point, hl_hook_point_name((hl_hook_point)p)) != 0) continue;
        bool tool_point = p == HL_HOOK_BEFORE_TOOL || p == HL_HOOK_AFTER_TOOL;
        const char *call_id = str(ev, "call_id");
        chain_line(&t, (hl_hook_point)p, turn, tool_point ? call_id : NULL,
                   tool_point ? tool_name_for(&t, call_id) : NULL,
                   tool_point ? tool_indent(&t, call_id) : turn ? "  " : "");
      }
      if (!t.used[i]) { /* a hook no longer in the chains (removed since) */
        fprintf(out, "  hook %-13s%s -> %s\n", point, str(ev, "hook"), str(ev, "hook_action"));
        t.used[i] = 1;
      }
    } else if (strcmp(type, "api_response") == 0) {
      fprintf(out, "  api_response provider=%s %s\n", str(ev, "provider"),
              hl_json_get_bool(ev, "success", true) ? "ok" : "failed");
    } else if (strcmp(type, "custom") == 0) {
      fprintf(out, "  custom      %s ", str(ev, "name"));
      put_value(out, hl_json_get(ev, "data"), 120);
      fputc('\n', out);
    } else if (strcmp(type, "stderr_write") == 0) {
      fputs("  stderr      ", out);
      put_text(out, str(ev, "text"), 120);
      fputc('\n', out);
    } else if (strcmp(type, "trace_complete") == 0) {
      const cJSON *u = hl_json_get(ev, "usage");
      fprintf(out, "trace_complete turns=%d tokens in=%d out=%d\n", num(ev, "turns"),
              num(u, "input_tokens"), num(u, "output_tokens"));
    }
    /* turn_end, response, api_request, lm details: shown through the lines above. */
  }
  free(t.used);
}

/* cJSON prints a whole number beyond the int range in exponent form
 * ("time_ns": 1.7960168218966523e+18): valid JSON, but not what anyone
 * expects of a count of nanoseconds. Such numbers become raw literals
 * written as integers, in place (the tree is ours to print and free).
 * The digits are those of the double the event JSON holds: exact to
 * within 256 ns at today's epoch times. */
static void integers_as_integers(cJSON *node, int depth) {
  if (depth > 256) return; /* the library bounds event nesting well below this */
  for (cJSON *item = node ? node->child : NULL; item; item = item->next) {
    if (cJSON_IsNumber(item)) {
      double d = item->valuedouble;
      if (d == floor(d) && fabs(d) > 2147483647.0 && fabs(d) < 9.2e18) {
        char digits[32];
        int n = snprintf(digits, sizeof digits, "%.0f", d);
        char *copy = cJSON_malloc((size_t)n + 1);
        if (copy) { /* the item keeps its key and place; cJSON_Delete frees the text */
          memcpy(copy, digits, (size_t)n + 1);
          item->valuestring = copy;
          item->type = cJSON_Raw | (item->type & cJSON_StringIsConst);
        }
      }
    } else if (cJSON_IsArray(item) || cJSON_IsObject(item)) {
      integers_as_integers(item, depth + 1);
    }
  }
}

void chat_print_trace_json(cJSON *events, FILE *out) {
  integers_as_integers(events, 0);
  char *text = cJSON_Print(events);
  if (text) {
    fputs(text, out);
    fputc('\n', out);
  } else {
    fputs("cannot print the trace: out of memory\n", out);
  }
  free(text);
}
