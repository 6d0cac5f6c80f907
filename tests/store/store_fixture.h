/*
 * tests/store/store_fixture.h - the model and tool the store's tests run
 * agents with: a loopback model that answers every user input with one
 * tool call and, once the tool's result is in, a final answer naming the
 * input; a "note" tool that counts its calls and keeps the call id it was
 * given (hl_context_tool_call_id). Deterministic, so any worker process
 * computes the same conversation.
 */
#ifndef HL_TEST_STORE_FIXTURE_H
#define HL_TEST_STORE_FIXTURE_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"

static atomic_int note_calls;
static char note_last_call_id[128];

/* The text of the last user message of `req` ("" if none), for hl_free(). */
static inline char *fixture_last_user(const hl_request *req) {
  for (size_t i = req->messages.count; i-- > 0;)
    if (req->messages.items[i]->role == HL_ROLE_USER) return hl_message_text(req->messages.items[i]);
  return strdup("");
}

/* user input -> call note(text=input); tool result -> "done: <input>";
 * the input "fail" -> a provider failure; the input "slow" -> the
 * call after the tool's (the run's first turn written) lasts until the
 * run is cancelled (at most 5 s), then HL_ERR_CANCELLED, as a real
 * provider's abandoned call; "slow to stop": the same, 1.5 s after the
 * cancel (a provider slow to notice it). */
static inline hl_status loop_complete(void *impl, hl_context *ctx, const hl_request *req,
                                      hl_response **out) {
  (void)impl;
  const hl_message *last = req->messages.count ? req->messages.items[req->messages.count - 1] : NULL;
  char *input = fixture_last_user(req);
  if (!input) return hl_fail(HL_ERR_NOMEM, "loop model: out of memory");
  bool late = !strcmp(input, "slow to stop");
  if ((late || !strcmp(input, "slow")) && last && last->role == HL_ROLE_TOOL) {
    for (int i = 0; i < 500 && !hl_context_cancelled(ctx); i++) usleep(10 * 1000);
    if (late) usleep(1500 * 1000);
    free(input);
    return hl_fail(HL_ERR_CANCELLED, "loop model: the run was cancelled");
  }
  if (!strcmp(input, "fail")) {
    free(input);
    return hl_fail(HL_ERR_PROVIDER, "loop model: asked to fail");
  }
  hl_response *r = NULL;
  if (last && last->role == HL_ROLE_TOOL) {
    char text[600];
    snprintf(text, sizeof text, "done: %s", input);
    r = hl_response_new_text(text);
  } else {
    r = hl_response_new();
    char id[48];
    snprintf(id, sizeof id, "call-%zu", req->messages.count);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "text", input);
    if (r) hl_message_add_tool_call(r->message, id, "note", args);
    if (r) r->finish = HL_FINISH_TOOL_CALLS;
    cJSON_Delete(args);
  }
  free(input);
  if (!r) return hl_fail(HL_ERR_NOMEM, "loop model: out of memory");
  *out = r;
  return HL_OK;
}

static inline hl_provider *loop_provider(void) {
  static const hl_provider_ops ops = {.size = sizeof(hl_provider_ops), .name = "loop", .complete = loop_complete};
  return hl_provider_new(&ops, NULL);
}

static inline hl_status note_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ud;
  atomic_fetch_add(&note_calls, 1);
  const char *id = hl_context_tool_call_id(ctx);
  snprintf(note_last_call_id, sizeof note_last_call_id, "%s", id ? id : "(none)");
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "noted", hl_json_get_string(args, "text") ? hl_json_get_string(args, "text") : "");
  cJSON_AddStringToObject(r, "call_id", id ? id : "");
  *result = r;
  return HL_OK;
}

/* An agent with the loop model and the note tool; the caller unrefs it. */
static inline hl_agent *fixture_agent(void) {
  hl_agent *a = hl_agent_new("worker");
  hl_provider *p = loop_provider();
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_tool *t = hl_tool_new("note", "Note a text", note_fn, NULL);
  hl_tool_param(t, "text", "string", "what to note", true);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  return a;
}

#endif
