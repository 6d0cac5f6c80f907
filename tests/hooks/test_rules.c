/*
 * tests/hooks/test_rules.c - one test per hook rule H1..H14 of DESIGN.md,
 * each on a real agent driven by the scripted provider, asserting on what
 * the model was sent (the provider's recorded requests) and on what the
 * observers saw (a collecting observer).
 */
#include <time.h>

#include "fixture.h"

static test_log LOG;

/* ------------------------------------------------------------------ */
/* Hooks that write their point name to the log                        */
/* ------------------------------------------------------------------ */

static hl_hook_action log_before_agent(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)ctx, (void)answer;
  log_add(&LOG, ud ? ud : "before_agent");
  return HL_HOOK_CONTINUE;
}
static hl_hook_action log_after_agent(hl_context *ctx, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *ud) {  /* v1 names */
  const char *answer = in_->answer;
  char **repl = &out_->answer;
  (void)ctx, (void)answer, (void)repl;
  log_add(&LOG, ud ? ud : "after_agent");
  return HL_HOOK_CONTINUE;
}
static hl_hook_action log_before_model(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **r = &out_->response;
  (void)ctx, (void)req, (void)r;
  log_add(&LOG, ud ? ud : "before_model");
  return HL_HOOK_CONTINUE;
}
static hl_hook_action log_after_model(hl_context *ctx, const hl_after_model_args *in_, hl_after_model_out *out_, void *ud) {  /* v1 names */
  const hl_request *req = in_->request;
  const hl_response *resp = in_->response;
  const hl_error *err = in_->error;
  hl_response **repl = &out_->response;
  (void)ctx, (void)req, (void)resp, (void)err, (void)repl;
  log_add(&LOG, ud ? ud : "after_model");
  return HL_HOOK_CONTINUE;
}
static hl_hook_action log_before_tool(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx, (void)call, (void)args, (void)result;
  log_add(&LOG, ud ? ud : "before_tool");
  return HL_HOOK_CONTINUE;
}
static hl_hook_action log_after_tool(hl_context *ctx, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  const cJSON *args = in_->args;
  const cJSON *result = in_->result;
  const hl_error *err = in_->error;
  cJSON **repl = &out_->result;
  (void)ctx, (void)call, (void)args, (void)result, (void)err, (void)repl;
  log_add(&LOG, ud ? ud : "after_tool");
  return HL_HOOK_CONTINUE;
}

static void add_all_log_hooks(hl_hooks *h) {
  hl_hooks_add_before_agent(h, "log", HL_HOOK_OBSERVE, log_before_agent, NULL);
  hl_hooks_add_after_agent(h, "log", HL_HOOK_OBSERVE, log_after_agent, NULL);
  hl_hooks_add_before_model(h, "log", HL_HOOK_OBSERVE, log_before_model, NULL);
  hl_hooks_add_after_model(h, "log", HL_HOOK_OBSERVE, log_after_model, NULL);
  hl_hooks_add_before_tool(h, "log", HL_HOOK_OBSERVE, log_before_tool, NULL);
  hl_hooks_add_after_tool(h, "log", HL_HOOK_OBSERVE, log_after_tool, NULL);
}

/* ------------------------------------------------------------------ */
/* H1: six hook points                                                 */
/* ------------------------------------------------------------------ */

static void H1_six_hook_points_fire_at_their_places(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "three");
  hl_agent *a = make_agent("root", p);
  add_all_log_hooks(hl_agent_hooks(a));
  for (int pt = 0; pt <= HL_HOOK_AFTER_TOOL; pt++) /* the six before/after points */
    CHECK_INT(hl_hooks_count(hl_agent_hooks(a), (hl_hook_point)pt), 1);
  CHECK_STR(hl_hook_point_name(HL_HOOK_BEFORE_AGENT), "before_agent");
  CHECK_STR(hl_hook_point_name(HL_HOOK_AFTER_TOOL), "after_tool");

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "1+2?", &answer) == HL_OK);
  CHECK_STR(answer, "three");
  CHECK_STR(LOG.buf, "before_agent,before_model,after_model,before_tool,after_tool,"
                     "before_model,after_model,after_agent");
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H2: continue / override / abort                                     */
/* ------------------------------------------------------------------ */

static hl_hook_action h2_act(char **answer, void *ud) {
  hl_hook_action want = (hl_hook_action)(long)ud;
  if (want == HL_HOOK_OVERRIDE) *answer = strdup("overridden");
  if (want == HL_HOOK_ABORT) return hl_hook_abort("stopped by H2 (%d)", 42);
  return want;
}

static hl_hook_action h2_hook(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {
  (void)ctx, (void)in_;
  return h2_act(&out_->answer, ud);
}

static hl_hook_action h2_after(hl_context *ctx, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *ud) {  /* v1 names */
  const char *answer = in_->answer;
  char **replacement = &out_->answer;
  (void)answer;
  (void)ctx;
  return h2_act(replacement, ud);
}

/* Each action at before_agent (before the model) and at after_agent
 * (after it): continue keeps the model's answer, override puts the hook's
 * value in its place, abort fails the run with the hook's message. */
static void H2_hook_returns_continue_override_or_abort(void) {
  CHECK_STR(hl_hook_action_name(HL_HOOK_CONTINUE), "continue");
  CHECK_STR(hl_hook_action_name(HL_HOOK_OVERRIDE), "override");
  CHECK_STR(hl_hook_action_name(HL_HOOK_ABORT), "abort");
  const hl_hook_action actions[3] = {HL_HOOK_CONTINUE, HL_HOOK_OVERRIDE, HL_HOOK_ABORT};
  for (int after = 0; after < 2; after++) {
    for (int i = 0; i < 3; i++) {
      hl_provider *p = hl_scripted_new();
      hl_scripted_push_text(p, "from the model");
      hl_agent *a = make_agent("root", p);
      void *ud = (void *)(long)actions[i];
      if (after) hl_hooks_add_after_agent(hl_agent_hooks(a), "h2", HL_HOOK_DECIDE, h2_after, ud);
      else hl_hooks_add_before_agent(hl_agent_hooks(a), "h2", HL_HOOK_DECIDE, h2_hook, ud);
      char *answer = NULL;
      hl_status st = hl_agent_run(a, NULL, "hi", &answer);
      /* before_agent decides before the model; after_agent after it */
      int model_calls = actions[i] == HL_HOOK_CONTINUE || after ? 1 : 0;
      CHECK_INT(hl_scripted_request_count(p), model_calls);
      if (actions[i] == HL_HOOK_ABORT) {
        CHECK_INT(st, HL_ERR_ABORTED);
        CHECK(answer == NULL);
        CHECK_STR(hl_last_error(), "stopped by H2 (42)");
      } else {
        CHECK_INT(st, HL_OK);
        CHECK_STR(answer, actions[i] == HL_HOOK_OVERRIDE ? "overridden" : "from the model");
      }
      hl_free(answer);
      hl_agent_unref(a);
      hl_provider_unref(p);
    }
  }
}

/* ------------------------------------------------------------------ */
/* H3: registration order, first override ends the chain              */
/* ------------------------------------------------------------------ */

static hl_hook_action h3_override(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)ctx, (void)req;
  log_add(&LOG, ud);
  *resp = hl_response_new_text("answer from B");
  return HL_HOOK_OVERRIDE;
}

static void H3_hooks_run_in_order_and_first_override_ends_chain(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "from the model");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks *h = hl_agent_hooks(a);
  hl_hooks_add_before_model(h, "A", HL_HOOK_OBSERVE, log_before_model, "A");
  hl_hooks_add_before_model(h, "B", HL_HOOK_DECIDE, h3_override, "B");
  hl_hooks_add_before_model(h, "C", HL_HOOK_OBSERVE, log_before_model, "C");
  CHECK_STR(hl_hooks_name_at(h, HL_HOOK_BEFORE_MODEL, 0), "A");
  CHECK_STR(hl_hooks_name_at(h, HL_HOOK_BEFORE_MODEL, 2), "C");
  CHECK(hl_hooks_name_at(h, HL_HOOK_BEFORE_MODEL, 3) == NULL);

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "hi", &answer) == HL_OK);
  CHECK_STR(answer, "answer from B");
  CHECK_STR(LOG.buf, "A,B"); /* C did not run */
  CHECK_INT(hl_scripted_request_count(p), 0);
  CHECK_INT(hl_scripted_remaining(p), 1);
  /* The trace says which hook decided */
  cJSON *events = hl_observer_collected(obs);
  const cJSON *hook = event_nth(events, "hook", 0);
  CHECK_STR(hl_json_get_string(hook, "hook"), "B");
  CHECK_STR(hl_json_get_string(hook, "hook_point"), "before_model");
  CHECK_STR(hl_json_get_string(hook, "hook_action"), "override");
  CHECK_INT(event_count(events, "hook", NULL, NULL), 1);
  cJSON_Delete(events);

  /* Removing B lets C run and the model answer. */
  log_clear(&LOG);
  CHECK_INT(hl_hooks_remove(h, "B"), HL_OK);
  CHECK_INT(hl_hooks_remove(h, "B"), HL_ERR_NOT_FOUND);
  hl_free(answer);
  REQUIRE(hl_agent_run(a, NULL, "hi again", &answer) == HL_OK);
  CHECK_STR(answer, "from the model");
  CHECK_STR(LOG.buf, "A,C");
  hl_free(answer);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H4: before_agent override                                           */
/* ------------------------------------------------------------------ */

static hl_hook_action h4_canned(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)ctx, (void)ud;
  *answer = strdup("canned answer");
  return HL_HOOK_OVERRIDE;
}

static void H4_before_agent_override_skips_run_and_after_agent_but_not_agent_end(void) {
  log_clear(&LOG);
  atomic_store(&add_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_before_agent(hl_agent_hooks(a), "canned", HL_HOOK_DECIDE, h4_canned, NULL);
  hl_hooks_add_after_agent(hl_agent_hooks(a), "after", HL_HOOK_OBSERVE, log_after_agent, NULL);
  hl_hooks_add_before_model(hl_agent_hooks(a), "bm", HL_HOOK_OBSERVE, log_before_model, NULL);
  size_t history_before = hl_session_messages(hl_agent_session(a))->count;

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "hi", &answer) == HL_OK);
  CHECK_STR(answer, "canned answer");
  CHECK_INT(hl_scripted_request_count(p), 0); /* no model call */
  CHECK_INT(atomic_load(&add_calls), 0);      /* no tool call */
  CHECK_STR(LOG.buf, "");                     /* neither after_agent nor before_model */
  CHECK_INT(hl_session_messages(hl_agent_session(a))->count, history_before);

  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "agent_start", NULL, NULL), 1);
  const cJSON *end = event_nth(events, "agent_end", 0);
  REQUIRE(end != NULL);
  CHECK_STR(hl_json_get_string(end, "text"), "canned answer");
  CHECK(hl_json_get_bool(end, "success", false));
  CHECK_INT(event_count(events, "lm_start", NULL, NULL), 0);
  CHECK_INT(event_count(events, "turn_start", NULL, NULL), 0);
  cJSON_Delete(events);
  hl_free(answer);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H5: before_model edits in place; override skips the model           */
/* ------------------------------------------------------------------ */

static hl_hook_action h5_edit(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)ctx, (void)resp, (void)ud;
  hl_message *sys = req->messages.items[0];
  free(sys->parts[0].text);
  sys->parts[0].text = strdup("Patched instruction.");
  req->temperature = 0.25;
  return HL_HOOK_CONTINUE;
}

static hl_hook_action h5_cache(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)req, (void)ud;
  if (strcmp(hl_context_user_input(ctx), "cached question") != 0) return HL_HOOK_CONTINUE;
  *resp = hl_response_new_text("cached answer");
  return HL_HOOK_OVERRIDE;
}

static void H5_before_model_edits_request_and_override_skips_model(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "model answer");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_before_model(hl_agent_hooks(a), "edit", HL_HOOK_EDIT_REQUEST, h5_edit, NULL);
  hl_hooks_add_before_model(hl_agent_hooks(a), "cache", HL_HOOK_DECIDE, h5_cache, NULL);
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, log_after_model, NULL);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);

  char *answer = NULL;
  CHECK_RUN(a, NULL, "fresh question", "model answer");
  /* The edit in place is in the trace; "cache" continued unchanged. */
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "hook", NULL, NULL), 1);
  const cJSON *edit = event_nth(events, "hook", 0);
  CHECK_STR(hl_json_get_string(edit, "hook"), "edit");
  CHECK_STR(hl_json_get_string(edit, "hook_point"), "before_model");
  CHECK_STR(hl_json_get_string(edit, "hook_action"), "continue");
  cJSON_Delete(events);
  hl_observer_unref(obs);
  REQUIRE(hl_scripted_request_count(p) == 1);
  hl_request *seen = hl_scripted_request(p, 0);
  CHECK_STR(system_text(seen), "Patched instruction.");
  CHECK(seen->temperature == 0.25);
  hl_request_free(seen);
  CHECK_STR(LOG.buf, "after_model");
  /* The edit changed the request, not the agent */
  CHECK_STR(hl_agent_instruction(a), "You are a test agent.");

  log_clear(&LOG);
  REQUIRE(hl_agent_run(a, NULL, "cached question", &answer) == HL_OK);
  CHECK_STR(answer, "cached answer");
  CHECK_INT(hl_scripted_request_count(p), 1); /* the model was not called */
  CHECK_STR(LOG.buf, "");                     /* nor after_model (documented) */
  /* The overriding response is the run's response: it is in the history */
  const hl_messages *hist = hl_session_messages(hl_agent_session(a));
  char *last = hl_message_text(hist->items[hist->count - 1]);
  CHECK_STR(last, "cached answer");
  hl_free(last);
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H6: after_model sees request, response and error; may replace        */
/* ------------------------------------------------------------------ */

typedef struct h6_seen {
  int calls;
  hl_status error;
  char error_msg[256];
  int had_response;
  char response_text[64];
  char request_input[64];
  int recover; /* replace a failure with a response */
  int replace; /* replace a success */
} h6_seen;

static hl_hook_action h6_after(hl_context *ctx, const hl_after_model_args *in_, hl_after_model_out *out_, void *ud) {  /* v1 names */
  const hl_request *req = in_->request;
  const hl_response *resp = in_->response;
  const hl_error *err = in_->error;
  hl_response **repl = &out_->response;
  (void)ctx;
  h6_seen *s = ud;
  s->calls++;
  s->error = err->status;
  snprintf(s->error_msg, sizeof s->error_msg, "%s", err->message);
  s->had_response = resp != NULL;
  s->response_text[0] = '\0';
  if (resp) {
    char *t = hl_message_text(resp->message);
    snprintf(s->response_text, sizeof s->response_text, "%s", t);
    hl_free(t);
  }
  char *in = hl_message_text(req->messages.items[req->messages.count - 1]);
  snprintf(s->request_input, sizeof s->request_input, "%s", in);
  hl_free(in);
  if (err->status != HL_OK && s->recover) {
    *repl = hl_response_new_text("recovered");
    return HL_HOOK_OVERRIDE;
  }
  if (err->status == HL_OK && s->replace) {
    *repl = hl_response_new_text("replaced");
    return HL_HOOK_OVERRIDE;
  }
  return HL_HOOK_CONTINUE;
}

static void H6_after_model_sees_request_response_error_and_can_replace(void) {
  h6_seen seen = {0};
  hl_provider *p = hl_scripted_new(); /* empty script: every call fails */
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_after_model(hl_agent_hooks(a), "h6", HL_HOOK_DECIDE, h6_after, &seen);

  /* A failed call, observed only: the run fails with the provider's error */
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "question one", &answer), HL_ERR_PROVIDER);
  CHECK(answer == NULL);
  CHECK_INT(seen.calls, 1);
  CHECK_INT(seen.error, HL_ERR_PROVIDER);
  CHECK(seen.error_msg[0] != '\0');
  CHECK_INT(seen.had_response, 0);
  CHECK_STR(seen.request_input, "question one");

  /* The same failure turned into a response */
  seen.recover = 1;
  REQUIRE(hl_agent_run(a, NULL, "question two", &answer) == HL_OK);
  CHECK_STR(answer, "recovered");
  CHECK_INT(seen.error, HL_ERR_PROVIDER);
  hl_free(answer);

  /* A successful call: sees the response and replaces it */
  hl_scripted_push_text(p, "original");
  seen.replace = 1;
  REQUIRE(hl_agent_run(a, NULL, "question three", &answer) == HL_OK);
  CHECK_STR(answer, "replaced");
  CHECK_INT(seen.error, HL_OK);
  CHECK_INT(seen.had_response, 1);
  CHECK_STR(seen.response_text, "original");
  CHECK_STR(seen.request_input, "question three");
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H7: before_tool replaces the arguments                              */
/* ------------------------------------------------------------------ */

static hl_hook_action h7_mutate(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx, (void)result, (void)ud;
  if (strcmp(call->name, "add") != 0) return HL_HOOK_CONTINUE;
  cJSON_Delete(*args);
  *args = cJSON_Parse("{\"a\":10,\"b\":20}");
  return HL_HOOK_CONTINUE;
}

static char h7_after_args[256];
static hl_hook_action h7_after(hl_context *ctx, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  const cJSON *args = in_->args;
  const cJSON *result = in_->result;
  const hl_error *err = in_->error;
  cJSON **repl = &out_->result;
  (void)ctx, (void)call, (void)result, (void)err, (void)repl, (void)ud;
  snprintf(h7_after_args, sizeof h7_after_args, "%s", json_text(args));
  return HL_HOOK_CONTINUE;
}

static void H7_mutated_args_reach_tool_and_events(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "mutate", HL_HOOK_EDIT_ARGS, h7_mutate, NULL);
  hl_hooks_add_after_tool(hl_agent_hooks(a), "after", HL_HOOK_OBSERVE, h7_after, NULL);

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "add", &answer) == HL_OK);
  hl_free(answer);
  /* The tool ran with the new arguments: the model sees 30, not 3 */
  REQUIRE(hl_scripted_request_count(p) == 2);
  hl_request *second = hl_scripted_request(p, 1);
  const hl_message *res = last_message(second);
  REQUIRE(res && res->role == HL_ROLE_TOOL && res->n_parts == 1);
  CHECK_STR(res->parts[0].text, "30");
  CHECK(!res->parts[0].is_error);
  hl_request_free(second);
  /* after_tool saw them */
  CHECK_STR(h7_after_args, "{\"a\":10,\"b\":20}");
  /* TOOL_START, TOOL_END and the HOOK event report them */
  cJSON *events = hl_observer_collected(obs);
  const cJSON *start = event_nth(events, "tool_start", 0);
  const cJSON *end = event_nth(events, "tool_end", 0);
  const cJSON *hook = event_nth(events, "hook", 0);
  CHECK_STR(json_text(hl_json_get(start, "args")), "{\"a\":10,\"b\":20}");
  CHECK_STR(json_text(hl_json_get(end, "args")), "{\"a\":10,\"b\":20}");
  CHECK_STR(json_text(hl_json_get(end, "result")), "30");
  CHECK_STR(hl_json_get_string(end, "call_id"), "c1");
  CHECK_STR(hl_json_get_string(hook, "hook"), "mutate");
  CHECK_STR(hl_json_get_string(hook, "hook_point"), "before_tool");
  CHECK_STR(json_text(hl_json_get(hook, "args")), "{\"a\":10,\"b\":20}");
  cJSON_Delete(events);
  /* The history keeps what the model asked for; the result is from the
   * mutated call. */
  const hl_messages *hist = hl_session_messages(hl_agent_session(a));
  CHECK_STR(json_text(hist->items[1]->parts[0].args), "{\"a\":1,\"b\":2}");
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H8: before_tool override                                            */
/* ------------------------------------------------------------------ */

static hl_hook_action h8_deny(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx, (void)args, (void)ud;
  if (strcmp(call->name, "add") != 0) return HL_HOOK_CONTINUE;
  *result = cJSON_CreateString("denied");
  return HL_HOOK_OVERRIDE;
}

static void H8_before_tool_override_skips_tool_and_is_the_result(void) {
  atomic_store(&add_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "deny", HL_HOOK_DECIDE, h8_deny, NULL);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "later", HL_HOOK_OBSERVE, log_before_tool, NULL);
  log_clear(&LOG);

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "add", &answer) == HL_OK);
  hl_free(answer);
  CHECK_INT(atomic_load(&add_calls), 0);
  CHECK_STR(LOG.buf, ""); /* the chain ended at the override */
  hl_request *second = hl_scripted_request(p, 1);
  const hl_message *res = last_message(second);
  REQUIRE(res && res->n_parts == 1);
  CHECK_STR(res->parts[0].text, "denied");
  CHECK(!res->parts[0].is_error);
  hl_request_free(second);
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "tool_start", NULL, NULL), 0);
  CHECK_INT(event_count(events, "hook", "hook_action", "override"), 1);
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H9: after_tool sees everything and may replace                       */
/* ------------------------------------------------------------------ */

typedef struct h9_seen {
  int calls;
  char name[32];
  int had_decl;
  char args[256];
  char result[256];
  hl_status error;
  char error_msg[256];
} h9_seen;

static hl_hook_action h9_after(hl_context *ctx, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  const cJSON *args = in_->args;
  const cJSON *result = in_->result;
  const hl_error *err = in_->error;
  cJSON **repl = &out_->result;
  (void)ctx;
  h9_seen *s = ud;
  s->calls++;
  snprintf(s->name, sizeof s->name, "%s", call->name);
  s->had_decl = call->tool != NULL && strcmp(hl_tool_name(call->tool), call->name) == 0;
  snprintf(s->args, sizeof s->args, "%s", json_text(args));
  snprintf(s->result, sizeof s->result, "%s", json_text(result));
  s->error = err->status;
  snprintf(s->error_msg, sizeof s->error_msg, "%s", err->message);
  if (err->status != HL_OK) {
    *repl = cJSON_CreateString("fixed by after_tool");
    return HL_HOOK_OVERRIDE;
  }
  return HL_HOOK_CONTINUE;
}

static void H9_after_tool_sees_call_args_result_error_and_replaces(void) {
  h9_seen seen = {0};
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "fail", "{}");
  hl_scripted_push_tool_call(p, "c2", "add", "{\"a\":2,\"b\":5}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = make_agent("root", p);
  hl_tool *fail = make_fail_tool();
  hl_agent_add_tool(a, fail);
  hl_tool_unref(fail);
  hl_hooks_add_after_tool(hl_agent_hooks(a), "h9", HL_HOOK_DECIDE, h9_after, &seen);

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "go", &answer) == HL_OK);
  hl_free(answer);
  /* Second model call: the failure was replaced */
  hl_request *r1 = hl_scripted_request(p, 1);
  const hl_message *res = last_message(r1);
  REQUIRE(res && res->n_parts == 1);
  CHECK_STR(res->parts[0].text, "fixed by after_tool");
  CHECK(!res->parts[0].is_error);
  hl_request_free(r1);
  /* The last call seen was the successful add, not replaced */
  CHECK_INT(seen.calls, 2);
  CHECK_STR(seen.name, "add");
  CHECK(seen.had_decl);
  CHECK_STR(seen.args, "{\"a\":2,\"b\":5}");
  CHECK_STR(seen.result, "7");
  CHECK_INT(seen.error, HL_OK);
  hl_request *r2 = hl_scripted_request(p, 2);
  CHECK_STR(last_message(r2)->parts[0].text, "7");
  hl_request_free(r2);

  /* The failing call as after_tool saw it */
  h9_seen first = {0};
  hl_provider *p2 = hl_scripted_new();
  hl_scripted_push_tool_call(p2, "c1", "fail", "{}");
  hl_scripted_push_text(p2, "done");
  hl_agent_set_provider(a, p2);
  hl_hooks_clear(hl_agent_hooks(a));
  hl_hooks_add_after_tool(hl_agent_hooks(a), "h9", HL_HOOK_DECIDE, h9_after, &first);
  REQUIRE(hl_agent_run(a, NULL, "again", &answer) == HL_OK);
  hl_free(answer);
  CHECK_STR(first.name, "fail");
  CHECK_STR(first.result, "(null)");
  CHECK_INT(first.error, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(first.error_msg, "boom: the disk is on fire");
  hl_agent_unref(a);
  hl_provider_unref(p);
  hl_provider_unref(p2);
}

/* ------------------------------------------------------------------ */
/* H10: abort from any hook                                            */
/* ------------------------------------------------------------------ */

static int h10_point; /* which point aborts */

static hl_hook_action h10_ba(hl_context *c, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *u) {  /* v1 names */
  char **o = &out_->answer;
  (void)in_;
  (void)c, (void)o, (void)u;
  return h10_point == HL_HOOK_BEFORE_AGENT ? hl_hook_abort("abort at before_agent") : HL_HOOK_CONTINUE;
}
static hl_hook_action h10_aa(hl_context *c, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *u) {  /* v1 names */
  const char *a = in_->answer;
  char **o = &out_->answer;
  (void)c, (void)a, (void)u;
  *o = strdup("leaked unless freed"); /* out-values are the library's either way */
  return h10_point == HL_HOOK_AFTER_AGENT ? hl_hook_abort("abort at after_agent") : HL_HOOK_CONTINUE;
}
static hl_hook_action h10_bm(hl_context *c, const hl_before_model_args *in_, hl_before_model_out *out_, void *u) {  /* v1 names */
  hl_request *r = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **o = &out_->response;
  (void)c, (void)r, (void)u;
  if (h10_point != HL_HOOK_BEFORE_MODEL) return HL_HOOK_CONTINUE;
  *o = hl_response_new_text("must be freed");
  return hl_hook_abort("abort at before_model");
}
static hl_hook_action h10_am(hl_context *c, const hl_after_model_args *in_, hl_after_model_out *out_, void *u) {  /* v1 names */
  const hl_request *r = in_->request;
  const hl_response *p = in_->response;
  const hl_error *e = in_->error;
  hl_response **o = &out_->response;
  (void)c, (void)r, (void)p, (void)e, (void)o, (void)u;
  return h10_point == HL_HOOK_AFTER_MODEL ? hl_hook_abort("abort at after_model") : HL_HOOK_CONTINUE;
}
static hl_hook_action h10_bt(hl_context *c, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *u) {  /* v1 names */
  const hl_tool_call *t = in_->call;
  cJSON *a_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **a = out_->args ? &out_->args : &a_now_;
  cJSON **o = &out_->result;
  (void)c, (void)t, (void)a, (void)u;
  if (h10_point != HL_HOOK_BEFORE_TOOL) return HL_HOOK_CONTINUE;
  *o = cJSON_CreateString("must be freed");
  return hl_hook_abort("abort at before_tool");
}
static hl_hook_action h10_at(hl_context *c, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *u) {  /* v1 names */
  const hl_tool_call *t = in_->call;
  const cJSON *a = in_->args;
  const cJSON *r = in_->result;
  const hl_error *e = in_->error;
  cJSON **o = &out_->result;
  (void)c, (void)t, (void)a, (void)r, (void)e, (void)o, (void)u;
  /* Returning ABORT without hl_hook_abort() still aborts, with a message
   * naming the hook. */
  return h10_point == HL_HOOK_AFTER_TOOL ? HL_HOOK_ABORT : HL_HOOK_CONTINUE;
}

/* The points of ABI v2: a wrap that aborts instead of calling next, and
 * a chunk hook that aborts on the first streamed delta. Elsewhere they
 * pass everything through. */
static hl_hook_action h10_arm(hl_context *c, const hl_around_model_args *in, hl_around_model_out *out,
                              void *u) {
  (void)c, (void)u;
  if (h10_point == HL_HOOK_AROUND_MODEL) return hl_hook_abort("abort at around_model");
  hl_next_model(in->next, NULL, &out->response);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action h10_art(hl_context *c, const hl_around_tool_args *in, hl_around_tool_out *out,
                              void *u) {
  (void)c, (void)u;
  if (h10_point == HL_HOOK_AROUND_TOOL) return hl_hook_abort("abort at around_tool");
  hl_next_tool(in->next, NULL, &out->result);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action h10_mc(hl_context *c, const hl_model_chunk_args *in, hl_model_chunk_out *out,
                             void *u) {
  (void)c, (void)in, (void)out, (void)u;
  return h10_point == HL_HOOK_MODEL_CHUNK ? hl_hook_abort("abort at model_chunk") : HL_HOOK_CONTINUE;
}

static void H10_abort_from_any_hook_stops_run_with_its_error(void) {
  for (int pt = 0; pt < HL_HOOK_POINT_COUNT; pt++) {
    h10_point = pt;
    atomic_store(&add_calls, 0);
    hl_provider *p = hl_scripted_new();
    hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
    hl_scripted_push_text(p, "done");
    hl_agent *a = make_agent("root", p);
    hl_observer *obs = hl_observer_collecting();
    hl_agent_add_observer(a, obs);
    hl_hooks *h = hl_agent_hooks(a);
    hl_hooks_add_before_agent(h, "ba", HL_HOOK_DECIDE, h10_ba, NULL);
    hl_hooks_add_after_agent(h, "aa", HL_HOOK_DECIDE, h10_aa, NULL);
    hl_hooks_add_before_model(h, "bm", HL_HOOK_DECIDE, h10_bm, NULL);
    hl_hooks_add_after_model(h, "am", HL_HOOK_DECIDE, h10_am, NULL);
    hl_hooks_add_before_tool(h, "bt", HL_HOOK_DECIDE, h10_bt, NULL);
    hl_hooks_add_after_tool(h, "at", HL_HOOK_DECIDE, h10_at, NULL);
    hl_hooks_add_around_model(h, "arm", HL_HOOK_DECIDE, h10_arm, NULL);
    hl_hooks_add_around_tool(h, "art", HL_HOOK_DECIDE, h10_art, NULL);
    hl_hooks_add_model_chunk(h, "mc", HL_HOOK_DECIDE, h10_mc, NULL);
    hl_agent_set_stream(a, true); /* model_chunk sees streamed deltas only */

    char *answer = NULL;
    hl_status st = hl_agent_run(a, NULL, "go", &answer);
    CHECK_INT(st, HL_ERR_ABORTED);
    CHECK(answer == NULL);
    char want[64];
    if (pt == HL_HOOK_AFTER_TOOL)
      snprintf(want, sizeof want, "hook \"at\" aborted the run at after_tool");
    else
      snprintf(want, sizeof want, "abort at %s", hl_hook_point_name((hl_hook_point)pt));
    CHECK_STR(hl_last_error(), want);
    CHECK_STR(hl_last_error(), want);
    /* Nothing ran after the abort */
    size_t want_requests = (pt <= HL_HOOK_BEFORE_MODEL && pt != HL_HOOK_AFTER_AGENT) ||
                                   pt == HL_HOOK_AROUND_MODEL ? 0
                         : pt == HL_HOOK_AFTER_AGENT ? 2 : 1;
    CHECK_INT(hl_scripted_request_count(p), want_requests);
    CHECK_INT(atomic_load(&add_calls), pt == HL_HOOK_AFTER_TOOL || pt == HL_HOOK_AFTER_AGENT);
    /* The caller's session is as before the run */
    CHECK_INT(hl_session_messages(hl_agent_session(a))->count, 0);
    cJSON *events = hl_observer_collected(obs);
    const cJSON *end = event_nth(events, "agent_end", 0);
    CHECK_STR(hl_json_get_string(hl_json_get(end, "error"), "status"), "Aborted");
    CHECK_STR(hl_json_get_string(hl_json_get(end, "error"), "message"), want);
    CHECK_INT(event_count(events, "hook", "hook_action", "abort"), 1);
    cJSON_Delete(events);
    hl_observer_unref(obs);
    hl_agent_unref(a);
    hl_provider_unref(p);
  }
}

/* An abort in one of several parallel tool calls stops the run too. */
static hl_hook_action h10_abort_echo(hl_context *c, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *u) {  /* v1 names */
  const hl_tool_call *t = in_->call;
  cJSON *a_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **a = out_->args ? &out_->args : &a_now_;
  cJSON **o = &out_->result;
  (void)c, (void)a, (void)o, (void)u;
  if (strcmp(t->name, "echo") == 0) return hl_hook_abort("echo is forbidden");
  return HL_HOOK_CONTINUE;
}

static void H10_abort_in_parallel_tool_call_stops_run(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_load_json(p, "{\"responses\":[{\"tool_calls\":["
                           "{\"id\":\"c1\",\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":1}},"
                           "{\"id\":\"c2\",\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}},"
                           "{\"id\":\"c3\",\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":2}}]},"
                           "{\"text\":\"never\"}]}");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "no-echo", HL_HOOK_DECIDE, h10_abort_echo, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "echo is forbidden");
  CHECK_INT(hl_scripted_request_count(p), 1);
  CHECK(answer == NULL);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H11: global chains run first                                        */
/* ------------------------------------------------------------------ */

static hl_hook_action h11_global_override(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)req;
  log_add(&LOG, ud);
  if (strcmp(hl_context_user_input(ctx), "global answers") != 0) return HL_HOOK_CONTINUE;
  *resp = hl_response_new_text("from the global hook");
  return HL_HOOK_OVERRIDE;
}

static void H11_global_hooks_run_before_agent_hooks(void) {
  log_clear(&LOG);
  hl_hooks *global = hl_hooks_global();
  REQUIRE(global != NULL);
  hl_hooks_add_before_model(global, "G", HL_HOOK_DECIDE, h11_global_override, "G");
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "model");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_before_model(hl_agent_hooks(a), "A", HL_HOOK_OBSERVE, log_before_model, "A");

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "hello", &answer) == HL_OK);
  CHECK_STR(answer, "model");
  CHECK_STR(LOG.buf, "G,A");
  hl_free(answer);

  /* A global override ends the point before the agent's own hooks */
  log_clear(&LOG);
  REQUIRE(hl_agent_run(a, NULL, "global answers", &answer) == HL_OK);
  CHECK_STR(answer, "from the global hook");
  CHECK_STR(LOG.buf, "G");
  hl_free(answer);

  /* Other agents get the global chain too */
  hl_agent *b = make_agent("other", p);
  hl_scripted_push_text(p, "b's model");
  log_clear(&LOG);
  REQUIRE(hl_agent_run(b, NULL, "hi", &answer) == HL_OK);
  CHECK_STR(LOG.buf, "G");
  hl_free(answer);

  hl_hooks_clear(global);
  CHECK_INT(hl_hooks_count(global, HL_HOOK_BEFORE_MODEL), 0);
  hl_agent_unref(a);
  hl_agent_unref(b);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H12: the context                                                    */
/* ------------------------------------------------------------------ */

typedef struct h12_seen {
  char inv[64], inv_tool[64], agent[32], app[32], user[32], session[32], branch[64], input[64];
  void *user_data;
  int turn_in_tool;
  char state_in_tool[32];
  hl_session *session_ptr;
} h12_seen;

static hl_hook_action h12_before_agent(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)answer;
  h12_seen *s = ud;
  snprintf(s->inv, sizeof s->inv, "%s", hl_context_invocation_id(ctx));
  snprintf(s->agent, sizeof s->agent, "%s", hl_context_agent_name(ctx));
  snprintf(s->app, sizeof s->app, "%s", hl_context_app_name(ctx));
  snprintf(s->user, sizeof s->user, "%s", hl_context_user_id(ctx));
  snprintf(s->session, sizeof s->session, "%s", hl_context_session_id(ctx));
  snprintf(s->branch, sizeof s->branch, "%s", hl_context_branch(ctx));
  snprintf(s->input, sizeof s->input, "%s", hl_context_user_input(ctx));
  s->user_data = ud;
  s->session_ptr = hl_context_session(ctx);
  CHECK(hl_context_agent(ctx) != NULL);
  cJSON *v = cJSON_CreateString("set by before_agent");
  CHECK_INT(hl_context_state_set(ctx, "note", v), HL_OK);
  cJSON_Delete(v);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action h12_before_tool(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)call, (void)args, (void)result;
  h12_seen *s = ud;
  snprintf(s->inv_tool, sizeof s->inv_tool, "%s", hl_context_invocation_id(ctx));
  s->turn_in_tool = hl_context_turn(ctx);
  cJSON *v = hl_context_state_get(ctx, "note");
  snprintf(s->state_in_tool, sizeof s->state_in_tool, "%s", cJSON_IsString(v) ? v->valuestring : "");
  cJSON_Delete(v);
  return HL_HOOK_CONTINUE;
}

static void H12_context_has_ids_branch_input_state_and_user_data(void) {
  h12_seen seen = {0};
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "done");
  hl_scripted_push_text(p, "second run");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_before_agent(hl_agent_hooks(a), "ctx", HL_HOOK_OBSERVE, h12_before_agent, &seen);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "ctx", HL_HOOK_OBSERVE, h12_before_tool, &seen);
  hl_session *s = hl_session_new("app1", "user1", "session1");

  char *answer = NULL;
  REQUIRE(hl_agent_run(a, s, "what is 1+2", &answer) == HL_OK);
  hl_free(answer);
  CHECK_INT(strlen(seen.inv), 36);
  CHECK(strncmp(seen.inv, "inv-", 4) == 0);
  CHECK_STR(seen.inv_tool, seen.inv); /* one id for the whole run */
  CHECK_STR(seen.agent, "root");
  CHECK_STR(seen.app, "app1");
  CHECK_STR(seen.user, "user1");
  CHECK_STR(seen.session, "session1");
  CHECK_STR(seen.branch, "root");
  CHECK_STR(seen.input, "what is 1+2");
  CHECK(seen.user_data == &seen);
  CHECK(seen.session_ptr == s);
  CHECK_INT(seen.turn_in_tool, 1);
  CHECK_STR(seen.state_in_tool, "set by before_agent");
  char *note = hl_session_state_get_string(s, "note");
  CHECK_STR(note, "set by before_agent");
  hl_free(note);

  /* A new run, a new invocation id */
  char first[64];
  snprintf(first, sizeof first, "%s", seen.inv);
  REQUIRE(hl_agent_run(a, s, "again", &answer) == HL_OK);
  hl_free(answer);
  CHECK(strcmp(first, seen.inv) != 0);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H13: failing or slow observers                                      */
/* ------------------------------------------------------------------ */

static int h13_bad_observer(const hl_event *ev, void *ud) {
  (void)ev, (void)ud;
  hl_fail(HL_ERR_IO, "observer clobbers the last error");
  struct timespec ts = {0, 200000}; /* slow: 0.2 ms per event */
  nanosleep(&ts, NULL);
  return -1;
}

static char *h13_run(bool with_bad_observer, uint64_t *failures, hl_status *st) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":20,\"b\":22}");
  hl_scripted_load_json(p, "{\"responses\":[{\"text\":\"answer is {{result}}\"}]}");
  hl_agent *a = make_agent("root", p);
  hl_observer *bad = hl_observer_new(h13_bad_observer, NULL);
  if (with_bad_observer) hl_agent_add_observer(a, bad);
  char *answer = NULL;
  *st = hl_agent_run(a, NULL, "go", &answer);
  *failures = hl_observer_failures(bad);
  hl_observer_unref(bad);
  hl_agent_unref(a);
  hl_provider_unref(p);
  return answer;
}

static hl_hook_action h13_abort(hl_context *c, const hl_before_model_args *in_, hl_before_model_out *out_, void *u) {  /* v1 names */
  hl_request *r = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **o = &out_->response;
  (void)c, (void)r, (void)o, (void)u;
  return hl_hook_abort("only hooks stop runs");
}

static void H13_failing_or_slow_observer_never_changes_run(void) {
  uint64_t failures = 0;
  hl_status st_plain, st_bad;
  char *plain = h13_run(false, &failures, &st_plain);
  CHECK_INT(failures, 0);
  char *bad = h13_run(true, &failures, &st_bad);
  CHECK_INT(st_plain, HL_OK);
  CHECK_INT(st_bad, HL_OK);
  CHECK_STR(plain, "answer is 42");
  CHECK_STR(bad, plain);
  CHECK(failures > 5); /* every event failed, and the run did not care */
  hl_free(plain);
  hl_free(bad);

  /* With a failing observer, a hook's abort still comes through intact */
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "x");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_new(h13_bad_observer, NULL);
  hl_agent_add_observer(a, obs);
  hl_hooks_add_before_model(hl_agent_hooks(a), "stop", HL_HOOK_DECIDE, h13_abort, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "only hooks stop runs");
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H14: children inherit hooks and observers                           */
/* ------------------------------------------------------------------ */

static hl_hook_action h14_branch_logger(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **r = &out_->response;
  (void)req, (void)r, (void)ud;
  log_add(&LOG, hl_context_branch(ctx));
  return HL_HOOK_CONTINUE;
}

static void H14_child_inherits_hooks_and_observers_events_tagged_with_branch(void) {
  log_clear(&LOG);
  hl_provider *parent_model = hl_scripted_new();
  hl_scripted_push_tool_call(parent_model, "c1", "researcher", "{\"input\":\"find X\"}");
  hl_scripted_load_json(parent_model, "{\"responses\":[{\"text\":\"parent got: {{result}}\"}]}");
  hl_provider *child_model = hl_scripted_new();
  hl_scripted_push_tool_call(child_model, "k1", "echo", "{\"text\":\"X found\"}");
  hl_scripted_push_text(child_model, "X is found");

  hl_agent *root = make_agent("root", parent_model);
  hl_agent *child = make_agent("researcher", child_model);
  hl_observer *root_obs = hl_observer_collecting();
  hl_observer *child_obs = hl_observer_collecting();
  hl_agent_add_observer(root, root_obs);
  hl_agent_add_observer(child, child_obs);
  hl_hooks_add_before_model(hl_agent_hooks(root), "branch", HL_HOOK_OBSERVE, h14_branch_logger, NULL);
  hl_hooks_add_before_tool(hl_agent_hooks(root), "parent-bt", HL_HOOK_OBSERVE, log_before_tool, "parent-bt");
  hl_hooks_add_before_tool(hl_agent_hooks(child), "child-bt", HL_HOOK_OBSERVE, log_before_tool, "child-bt");
  hl_tool *as_tool = hl_agent_as_tool(child, NULL, NULL);
  REQUIRE(as_tool != NULL);
  hl_agent_add_tool(root, as_tool);
  hl_tool_unref(as_tool);

  CHECK_RUN(root, NULL, "research X", "parent got: X is found");
  /* The parent's hooks ran for the child's model and tool calls, before
   * the child's own (parent's first). */
  CHECK_STR(LOG.buf, "root,parent-bt,root/researcher,parent-bt,child-bt,root/researcher,root");

  /* The child's events reached the parent's observer, tagged */
  cJSON *events = hl_observer_collected(root_obs);
  CHECK_INT(event_count(events, "tool_start", "branch", "root/researcher"), 1);
  CHECK_INT(event_count(events, "tool_start", "branch", "root"), 1);
  CHECK_INT(event_count(events, "agent_start", "branch", "root/researcher"), 1);
  CHECK_INT(event_count(events, "agent_start", "agent", "researcher"), 1);
  CHECK_INT(event_count(events, "lm_start", "branch", "root/researcher"), 2);
  cJSON_Delete(events);
  /* The child's own observer sees only the child */
  events = hl_observer_collected(child_obs);
  CHECK_INT(event_count(events, "agent_start", NULL, NULL), 1);
  CHECK_INT(event_count(events, "agent_start", "branch", "root/researcher"), 1);
  CHECK_INT(event_count(events, "lm_start", "branch", "root"), 0);
  cJSON_Delete(events);

  hl_observer_unref(root_obs);
  hl_observer_unref(child_obs);
  hl_agent_unref(root);
  hl_agent_unref(child);
  hl_provider_unref(parent_model);
  hl_provider_unref(child_model);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);  /* "H7_" runs the H7 test alone (tests/hooks/meson.build) */
  log_init(&LOG);
  RUN(H1_six_hook_points_fire_at_their_places);
  RUN(H2_hook_returns_continue_override_or_abort);
  RUN(H3_hooks_run_in_order_and_first_override_ends_chain);
  RUN(H4_before_agent_override_skips_run_and_after_agent_but_not_agent_end);
  RUN(H5_before_model_edits_request_and_override_skips_model);
  RUN(H6_after_model_sees_request_response_error_and_can_replace);
  RUN(H7_mutated_args_reach_tool_and_events);
  RUN(H8_before_tool_override_skips_tool_and_is_the_result);
  RUN(H9_after_tool_sees_call_args_result_error_and_replaces);
  RUN(H10_abort_from_any_hook_stops_run_with_its_error);
  RUN(H10_abort_in_parallel_tool_call_stops_run);
  RUN(H11_global_hooks_run_before_agent_hooks);
  RUN(H12_context_has_ids_branch_input_state_and_user_data);
  RUN(H13_failing_or_slow_observer_never_changes_run);
  RUN(H14_child_inherits_hooks_and_observers_events_tagged_with_branch);
  return CHECK_EXIT();
}
