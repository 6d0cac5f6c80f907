/*
 * resume.c - what a run that continues an interrupted one does first
 * (hl_agent_resume() and hl_run_resume() start it, run_async.c): the
 * interrupted turn finished with the decisions (the calls that ran keep their saved results, the decided ones run,
 * rejected ones answer with the human's message). The state and the
 * decisions were checked whole by resume_check.c before this runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "agent/session_internal.h"
#include "core/model_internal.h"
#include "core/util.h"
#include "hookline/json.h"

#define HL_REJECTED_DEFAULT "The user rejected this tool call."

/* ------------------------------------------------------------------ */
/* The session check                                                   */
/* ------------------------------------------------------------------ */

static size_t hl_history_of(const cJSON *state) {
  return (size_t)cJSON_GetObjectItemCaseSensitive(state, "history")->valuedouble;
}

hl_status hl__resume_session_matches(hl_session *session, const cJSON *state) {
  const hl_messages *h = hl_session_messages(session);
  size_t have = h ? h->count : 0, want = hl_history_of(state);
  if (have != want)
    return hl_fail(HL_ERR_STATE,
                   "resume: the session has %zu messages, the run was interrupted with %zu: "
                   "resume with the session as it was saved then", have, want);
  return HL_OK;
}

/* (hl_agent_resume() and hl_run_resume() are in run_async.c: a resumed
 * run is an ordinary run of the state machine whose first step is the
 * interrupted turn, hl__resume_turn() below.) */

/* ------------------------------------------------------------------ */
/* The resumed turn                                                    */
/* ------------------------------------------------------------------ */

void hl__usage_from_json(const cJSON *u, hl_usage *out) {
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
hl_status hl__resume_restore_messages(hl_context *ctx, const cJSON *state) {
  hl_messages list = {0};
  hl_status st = hl__messages_from_json_at(cJSON_GetObjectItemCaseSensitive(state, "messages"),
                                           &list, "$.messages");
  /* The top-level run: the messages come back and the session's run state
   * is cleared in one write. That write is the resume's claim on a stored
   * session: of two workers resuming the same state, the second one's
   * write conflicts (HL_ERR_CONFLICT) before any call ran. */
  if (st == HL_OK && !ctx->parent)
    st = hl__session_run_state_change(ctx->session, SIZE_MAX, &list, NULL);
  for (size_t i = 0; st == HL_OK && i < list.count; i++) {
    st = hl__session_append(ctx->session, list.items[i]);
    list.items[i] = NULL; /* the session took it (or freed it) */
  }
  for (size_t i = 0; i < list.count; i++) hl_message_free(list.items[i]);
  list.count = 0;
  hl_messages_clear(&list);
  return st;
}

/* RESUME: this level's decisions, by call id. */
static void hl_emit_resume(hl_context *ctx, const hl__resume *r) {
  if (!hl__ctx_wants(ctx, HL_EVENT_RESUME)) return;
  cJSON *data = cJSON_CreateObject();
  const cJSON *item;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r->state, "pending")) {
    const char *id = hl_json_get_string(item, "id");
    char path[HL_PATH_MAX];
    snprintf(path, sizeof path, "%s%s", r->prefix, id);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->decisions, path);
    cJSON *v = d ? hl_json_clone(d) : cJSON_CreateObject();
    if (v && !d) cJSON_AddStringToObject(v, "action", "resume_sub_agent");
    hl_json_add(data, id, v);
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
  const cJSON *nested = cJSON_GetObjectItemCaseSensitive(pending, "nested");
  hl__tool_outcome out = {0};
  if (nested) {
    /* The call waited for its nested calls: it runs again from the start
     * (approved), and they find their decisions under its path. */
    snprintf(prefix, sizeof prefix, "%s/", path);
    hl__resume sub = {.decisions = r->decisions, .prefix = prefix, .nested = nested};
    hl__tool_call_resume(ctx, part->id ? part->id : "", name, hl_json_clone(part->args), &sub, &out);
  } else if (child) {
    snprintf(prefix, sizeof prefix, "%s/", path);
    hl__resume sub = {.state = child, .decisions = r->decisions, .prefix = prefix};
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
  hl_status st = hl__resume_session_matches(ctx->session, r->state);
  if (st != HL_OK) return st;
  if ((st = hl__resume_restore_messages(ctx, r->state)) != HL_OK) return st;
  int turn = (int)hl_json_get_number(r->state, "turn", 1);
  hl_usage saved;
  hl__usage_from_json(cJSON_GetObjectItemCaseSensitive(r->state, "usage"), &saved);
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
  bool observed = hl__ctx_wants(ctx, HL_EVENT_TURN_END);
  cJSON *sum = observed && st == HL_OK ? cJSON_CreateArray() : NULL;
  if (sum) hl__event_built.payloads++;
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
    st = hl__session_append(ctx->session, msg);
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
