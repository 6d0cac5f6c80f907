/*
 * interrupt.c - a run that stops for human approval: the record of the
 * waiting turn, the state document built at the end of the run, the
 * thread's state slot, the list of pending calls and the decision helpers
 * (interrupt.h). Resuming is resume.c.
 *
 * The state is built from what the run already has (the session's new
 * messages, the context's usage and turn), so that nothing but the turn's
 * record has to be kept while a run is not interrupted: a run that is
 * never interrupted pays one NULL test per turn.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "agent/session_internal.h"
#include "core/util.h"
#include "hookline/json.h"

void hl__pending_free(hl__pending *p) {
  if (!p) return;
  free(p->hook);
  free(p->reason);
  cJSON_Delete(p->child);
  cJSON_Delete(p->nested);
  free(p);
}

/* ------------------------------------------------------------------ */
/* The thread's slot                                                   */
/* ------------------------------------------------------------------ */

/* A key with a destructor, not a _Thread_local pointer: a state nobody
 * took is freed when its thread exits. */
static pthread_key_t hl_slot_key;
static pthread_once_t hl_slot_once = PTHREAD_ONCE_INIT;
static bool hl_slot_ok;

static void hl_slot_free(void *p) { cJSON_Delete(p); }
static void hl_slot_init(void) { hl_slot_ok = pthread_key_create(&hl_slot_key, hl_slot_free) == 0; }

void hl__state_put(cJSON *state) {
  pthread_once(&hl_slot_once, hl_slot_init);
  if (!hl_slot_ok) {
    cJSON_Delete(state);
    return;
  }
  cJSON_Delete(pthread_getspecific(hl_slot_key));
  pthread_setspecific(hl_slot_key, state);
}

cJSON *hl__state_take(void) {
  pthread_once(&hl_slot_once, hl_slot_init);
  if (!hl_slot_ok) return NULL;
  cJSON *s = pthread_getspecific(hl_slot_key);
  pthread_setspecific(hl_slot_key, NULL);
  return s;
}

cJSON *hl_run_state_json(void) { return hl__state_take(); }

/* ------------------------------------------------------------------ */
/* The waiting turn                                                    */
/* ------------------------------------------------------------------ */

static bool hl_add_str(cJSON *o, const char *key, const char *s) {
  return !s || cJSON_AddStringToObject(o, key, s) != NULL;
}

static bool hl_add_taken(cJSON *o, const char *key, cJSON *v) {
  if (!v) return false;
  if (!cJSON_AddItemToObject(o, key, v)) {
    cJSON_Delete(v);
    return false;
  }
  return true;
}

hl_status hl__interrupt_turn(hl_context *ctx, hl__turn_call *calls, size_t n) {
  cJSON *rec = cJSON_CreateObject();
  cJSON *results = cJSON_AddArrayToObject(rec, "results");
  cJSON *pending = cJSON_AddArrayToObject(rec, "pending");
  bool ok = rec && results && pending;
  for (size_t i = 0; ok && i < n; i++) {
    const hl_part *p = calls[i].part;
    cJSON *item = cJSON_CreateObject();
    ok = item && cJSON_AddItemToArray(calls[i].pending ? pending : results, item);
    if (!ok) {
      cJSON_Delete(item);
      break;
    }
    ok = hl_add_str(item, "id", p->id ? p->id : "") && hl_add_str(item, "name", p->name ? p->name : "");
    if (ok && !calls[i].pending) {
      ok = hl_add_str(item, "content", calls[i].text ? calls[i].text : "") &&
           cJSON_AddBoolToObject(item, "is_error", calls[i].is_error);
      continue;
    }
    hl__pending *w = calls[i].pending;
    ok = ok && hl_add_taken(item, "arguments", p->args ? hl_json_clone(p->args) : cJSON_CreateObject()) &&
         hl_add_str(item, "interrupted_by", w->by) && hl_add_str(item, "hook", w->hook) &&
         hl_add_str(item, "reason", w->reason);
    if (ok && w->child) {
      ok = cJSON_AddItemToObject(item, "state", w->child) != 0;
      if (ok) w->child = NULL;
    }
    if (ok && w->nested) {
      ok = cJSON_AddItemToObject(item, "nested", w->nested) != 0;
      if (ok) w->nested = NULL;
    }
  }
  for (size_t i = 0; i < n; i++) {
    free(calls[i].text);
    calls[i].text = NULL;
    hl__pending_free(calls[i].pending);
    calls[i].pending = NULL;
  }
  if (!ok) {
    cJSON_Delete(rec);
    return hl__oom();
  }
  cJSON_Delete(ctx->interrupt_calls);
  ctx->interrupt_calls = rec;
  return HL_INTERRUPTED;
}

/* The ids of what waits: the pending calls of an LLM agent's turn, or the
 * children of a custom agent that stopped for a decision. */
static cJSON *hl_waiting(const cJSON *rec) {
  const cJSON *custom = cJSON_GetObjectItemCaseSensitive(rec, "custom");
  if (!custom) return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(rec, "pending"), true);
  cJSON *list = cJSON_CreateArray();
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(custom, "children")) {
    if (!list || !cJSON_GetObjectItemCaseSensitive(e, "state")) continue;
    cJSON *item = cJSON_CreateObject();
    if (!item || !cJSON_AddItemToArray(list, item)) {
      cJSON_Delete(item);
      continue;
    }
    cJSON_AddStringToObject(item, "id", hl_json_get_string(e, "id"));
    cJSON_AddStringToObject(item, "name", hl_json_get_string(e, "agent"));
  }
  return list;
}

void hl__interrupt_message(hl_context *ctx, char *buf, size_t size) {
  if (cJSON_GetObjectItemCaseSensitive(ctx->interrupt_calls, "custom")) {
    cJSON *w = hl_waiting(ctx->interrupt_calls);
    int n = cJSON_GetArraySize(w);
    const char *first = hl_json_get_string(cJSON_GetArrayItem(w, 0), "id");
    snprintf(buf, size, "run of agent \"%s\" interrupted: %d child run%s wait%s for a decision (\"%s\"%s)",
             ctx->agent->name, n, n == 1 ? "" : "s", n == 1 ? "s" : "", first ? first : "",
             n > 1 ? ", ..." : "");
    cJSON_Delete(w);
    return;
  }
  const cJSON *pending = cJSON_GetObjectItemCaseSensitive(ctx->interrupt_calls, "pending");
  int n = cJSON_GetArraySize(pending);
  const cJSON *first = cJSON_GetArrayItem(pending, 0);
  snprintf(buf, size, "run of agent \"%s\" interrupted: %d tool call%s wait%s for a decision (%s \"%s\"%s)",
           ctx->agent->name, n, n == 1 ? "" : "s", n == 1 ? "s" : "",
           hl_json_get_string(first, "id") ? hl_json_get_string(first, "id") : "",
           hl_json_get_string(first, "name") ? hl_json_get_string(first, "name") : "",
           n > 1 ? ", ..." : "");
}

static cJSON *hl_usage_to_json(const hl_usage *u) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (!cJSON_AddNumberToObject(o, "input_tokens", (double)u->input_tokens) ||
      !cJSON_AddNumberToObject(o, "output_tokens", (double)u->output_tokens) ||
      (u->has_cost && !cJSON_AddNumberToObject(o, "cost", u->cost)) ||
      !cJSON_AddNumberToObject(o, "cached_tokens", (double)u->cached_tokens) ||
      !cJSON_AddNumberToObject(o, "reasoning_tokens", (double)u->reasoning_tokens)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static cJSON *hl_build_state(hl_context *ctx, size_t history_len, const hl_usage *usage) {
  cJSON *st = cJSON_CreateObject();
  bool ok = st && cJSON_AddNumberToObject(st, "version", HL_RUN_STATE_VERSION) &&
            hl_add_str(st, "kind", "hookline/run_state") && hl_add_str(st, "agent", ctx->agent->name) &&
            hl_add_str(st, "branch", ctx->branch) && hl_add_str(st, "input", ctx->input) &&
            cJSON_AddNumberToObject(st, "turn", ctx->turn) &&
            hl_add_taken(st, "usage", hl_usage_to_json(usage)) &&
            cJSON_AddNumberToObject(st, "history", (double)history_len);
  cJSON *msgs = ok ? cJSON_AddArrayToObject(st, "messages") : NULL;
  const hl_messages *list = hl_session_messages(ctx->session);
  ok = ok && msgs;
  for (size_t i = history_len; ok && list && i < list->count; i++) {
    cJSON *m = hl_message_to_json(list->items[i]);
    ok = m && cJSON_AddItemToArray(msgs, m);
    if (!ok) cJSON_Delete(m);
  }
  /* The waiting turn's "results" and "pending" (an LLM agent), or the
   * "custom" record of a custom agent's children (resume_custom.c). */
  while (ok && ctx->interrupt_calls && ctx->interrupt_calls->child) {
    cJSON *v = cJSON_DetachItemViaPointer(ctx->interrupt_calls, ctx->interrupt_calls->child);
    char key[32];
    snprintf(key, sizeof key, "%s", v->string ? v->string : "");
    ok = cJSON_AddItemToObject(st, key, v);
    if (!ok) cJSON_Delete(v);
  }
  if (!ok) {
    cJSON_Delete(st);
    return NULL;
  }
  return st;
}

hl_status hl__interrupt_end(hl_context *ctx, hl_status outcome, size_t history_len,
                            const hl_usage *usage, cJSON **out) {
  *out = NULL;
  hl__custom_free(ctx); /* a custom body's record, if the run ended before its end */
  if (outcome != HL_INTERRUPTED || !ctx->interrupt_calls) {
    cJSON_Delete(ctx->interrupt_calls);
    ctx->interrupt_calls = NULL;
    return HL_OK;
  }
  /* The event first: it names the calls, which the state then takes. */
  if (hl__ctx_wants(ctx, HL_EVENT_INTERRUPT)) {
    cJSON *data = cJSON_CreateObject();
    cJSON *ids = data ? cJSON_AddArrayToObject(data, "calls") : NULL;
    cJSON *waiting = hl_waiting(ctx->interrupt_calls);
    const cJSON *item;
    cJSON_ArrayForEach(item, waiting) {
      const char *id = hl_json_get_string(item, "id");
      if (ids) cJSON_AddItemToArray(ids, cJSON_CreateString(id ? id : ""));
    }
    cJSON_Delete(waiting);
    char msg[HL__MSG_MAX];
    hl__interrupt_message(ctx, msg, sizeof msg);
    const cJSON *first = cJSON_GetArrayItem(ids, 0);
    hl_event ev = {.type = HL_EVENT_INTERRUPT, .data = data,
                   .call_id = first ? first->valuestring : NULL,
                   .error = {HL_INTERRUPTED, msg}};
    hl__emit(ctx, &ev);
    cJSON_Delete(data);
  }
  cJSON *state = hl_build_state(ctx, history_len, usage);
  cJSON_Delete(ctx->interrupt_calls);
  ctx->interrupt_calls = NULL;
  if (!state) return hl__oom();
  *out = state;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Decisions                                                           */
/* ------------------------------------------------------------------ */

static hl_status hl_decide(cJSON *decisions, const char *path, const char *action,
                           const char *key, cJSON *value, const char *fn) {
  if (!cJSON_IsObject(decisions) || !path) {
    cJSON_Delete(value);
    return hl_fail(HL_ERR_INVALID, "%s: decisions must be a JSON object and path non-NULL", fn);
  }
  cJSON *d = cJSON_CreateObject();
  bool ok = d && cJSON_AddStringToObject(d, "action", action);
  if (ok && key) {
    ok = value && cJSON_AddItemToObject(d, key, value);
    if (ok) value = NULL;
  }
  cJSON_Delete(value);
  if (!ok) {
    cJSON_Delete(d);
    return hl__oom();
  }
  cJSON_DeleteItemFromObjectCaseSensitive(decisions, path);
  if (!cJSON_AddItemToObject(decisions, path, d)) {
    cJSON_Delete(d);
    return hl__oom();
  }
  return HL_OK;
}

hl_status hl_decision_approve(cJSON *decisions, const char *path) {
  return hl_decide(decisions, path, "approve", NULL, NULL, "hl_decision_approve");
}

hl_status hl_decision_reject(cJSON *decisions, const char *path, const char *message) {
  return hl_decide(decisions, path, "reject", message ? "message" : NULL,
                   message ? cJSON_CreateString(message) : NULL, "hl_decision_reject");
}

hl_status hl_decision_edit(cJSON *decisions, const char *path, const cJSON *arguments) {
  if (!cJSON_IsObject(arguments))
    return hl_fail(HL_ERR_INVALID, "hl_decision_edit: arguments must be a JSON object");
  return hl_decide(decisions, path, "edit", "arguments", hl_json_clone(arguments),
                   "hl_decision_edit");
}
