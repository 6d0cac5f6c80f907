/*
 * tests/observe/test_prompt_estimate.c - LM_START's prompt_tokens is the
 * documented estimate of the request the provider is given (every part's
 * text in every message, ~4 bytes a token, rounded up), whichever way the
 * library gets it: from the sum a session keeps for its history (a request
 * that borrows the history), or by counting a request that is a copy (an
 * editing hook, an around_model wrap's own request); and after the
 * history was cut back and restored (a failed run, an interrupt and its
 * resume), loaded from JSON, cloned, reset or reloaded from a store; in
 * blocking and asynchronous runs.
 *
 * The provider is the test's own: it computes the estimate from the
 * request it receives, independently of the library, and the observer
 * records what LM_START said; each model call's two must be equal.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hookline.h>
#include "check.h"

#define MAX_CALLS 16

typedef struct recorder {
  pthread_mutex_t lock; /* asynchronous runs call from worker threads */
  int64_t sent[MAX_CALLS]; /* the estimate of each request the provider got */
  int64_t said[MAX_CALLS]; /* LM_START's prompt_tokens of each call */
  int n_sent, n_said;
} recorder;

static recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void rec_clear(void) {
  pthread_mutex_lock(&rec.lock);
  rec.n_sent = rec.n_said = 0;
  pthread_mutex_unlock(&rec.lock);
}

/* The estimate as observer.h documents it, computed from the request. */
static int64_t estimate_of(const hl_request *req) {
  size_t bytes = 0;
  for (size_t i = 0; i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    for (size_t j = 0; j < m->n_parts; j++)
      if (m->parts[j].text) bytes += strlen(m->parts[j].text);
  }
  return (int64_t)((bytes + 3) / 4);
}

/* The text of the last user message: what the run was asked. */
static const char *input_of(const hl_request *req) {
  for (size_t i = req->messages.count; i-- > 0;) {
    const hl_message *m = req->messages.items[i];
    if (m->role == HL_ROLE_USER && m->n_parts && m->parts[0].text) return m->parts[0].text;
  }
  return "";
}

/* A tool call (to "guarded", which needs approval, when the input says
 * "approval"), then the answer; "fail" in the input fails the second
 * call, after the tool's results are in the history. */
static hl_status measuring_complete(void *impl, hl_context *ctx, const hl_request *req,
                                    hl_response **out) {
  (void)impl, (void)ctx;
  pthread_mutex_lock(&rec.lock);
  if (rec.n_sent < MAX_CALLS) rec.sent[rec.n_sent++] = estimate_of(req);
  pthread_mutex_unlock(&rec.lock);
  const hl_message *last = req->messages.items[req->messages.count - 1];
  const char *input = input_of(req);
  if (last->role == HL_ROLE_TOOL && strstr(input, "fail"))
    return hl_fail(HL_ERR_PROVIDER, "the test's provider fails this call");
  hl_response *r = hl_response_new();
  if (!r) return HL_ERR_NOMEM;
  hl_status st;
  if (last->role == HL_ROLE_TOOL) {
    st = hl_message_add_text(r->message, "Both values are in.");
    r->finish = HL_FINISH_STOP;
  } else {
    cJSON *args = cJSON_Parse("{\"key\":\"alpha\"}");
    const char *tool = strstr(input, "approval") ? "guarded" : "lookup";
    st = hl_message_add_text(r->message, "Let me look.");
    if (st == HL_OK) st = hl_message_add_tool_call(r->message, "call_1", tool, args);
    if (st == HL_OK) st = hl_message_add_tool_call(r->message, "call_2", "lookup", args);
    cJSON_Delete(args);
    r->finish = HL_FINISH_TOOL_CALLS;
  }
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  *out = r;
  return HL_OK;
}

static int on_lm_start(const hl_event *ev, void *ud) {
  (void)ud;
  pthread_mutex_lock(&rec.lock);
  if (rec.n_said < MAX_CALLS) rec.said[rec.n_said++] = ev->prompt_tokens;
  pthread_mutex_unlock(&rec.lock);
  return 0;
}

static hl_status lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  char value[80];
  snprintf(value, sizeof value, "the value stored under %s, as of today",
           hl_json_get_string(args, "key"));
  *result = cJSON_CreateString(value);
  return *result ? HL_OK : HL_ERR_NOMEM;
}

static hl_agent *measured_agent(void) {
  static const hl_provider_ops ops = {.size = sizeof ops, .name = "measuring",
                                      .complete = measuring_complete};
  hl_provider *p = hl_provider_new(&ops, NULL);
  hl_agent *a = hl_agent_new("estimator");
  hl_tool *t = hl_tool_new("lookup", "Look a key up.", lookup, NULL);
  hl_tool *g = hl_tool_new("guarded", "Look a key up, with approval.", lookup, NULL);
  hl_observer *obs = hl_observer_new_ops(
      &(hl_observer_ops){.size = sizeof(hl_observer_ops), .lm_start = on_lm_start}, NULL);
  if (!p || !a || !t || !g || !obs) return NULL;
  hl_tool_param(t, "key", "string", "the key", true);
  hl_tool_param(g, "key", "string", "the key", true);
  hl_tool_set_needs_approval(g, true);
  hl_agent_set_provider(a, p);
  hl_agent_set_instruction(a, "You look values up and report them in one sentence.");
  hl_agent_add_tool(a, t);
  hl_agent_add_tool(a, g);
  hl_agent_add_observer(a, obs);
  hl_observer_unref(obs);
  hl_tool_unref(t);
  hl_tool_unref(g);
  hl_provider_unref(p);
  return a;
}

/* A history with every kind of part that has text: plain and multi-part
 * text, tool calls with their results (one an error), an image by URL,
 * reasoning with a summary. */
static hl_session *varied_history(void) {
  hl_session *s = hl_session_new("test", "u", "s-estimate");
  hl_message *u = hl_message_new_text(HL_ROLE_USER, "What is stored under alpha and beta?");
  hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
  hl_message *t = hl_message_new(HL_ROLE_TOOL);
  hl_message *img = hl_message_new(HL_ROLE_USER);
  hl_message *r = hl_message_new(HL_ROLE_ASSISTANT);
  if (!s || !u || !a || !t || !img || !r) return NULL;
  cJSON *args = cJSON_Parse("{\"key\":\"alpha\"}");
  bool ok = hl_message_add_text(a, "Two look-ups, ") == HL_OK &&
            hl_message_add_text(a, "one after the other.") == HL_OK &&
            hl_message_add_tool_call(a, "old_1", "lookup", args) == HL_OK &&
            hl_message_add_tool_call(a, "old_2", "lookup", args) == HL_OK &&
            hl_message_add_tool_result(t, "old_1", "lookup", "42, since Monday", false) == HL_OK &&
            hl_message_add_tool_result(t, "old_2", NULL, "no such key: beta", true) == HL_OK &&
            hl_message_add_text(img, "And what is in this picture?") == HL_OK &&
            hl_message_add_image_url(img, "https://example.com/a/picture.png", NULL) == HL_OK &&
            hl_message_add_reasoning(r, "openai-responses", "rs_1", "The user wants a caption.",
                                     NULL, NULL) == HL_OK &&
            hl_message_add_text(r, "Alpha is 42; beta is unknown; the picture shows a cat.") == HL_OK;
  cJSON_Delete(args);
  if (!ok) return NULL;
  hl_session_add_message(s, u);
  hl_session_add_message(s, a);
  hl_session_add_message(s, t);
  hl_session_add_message(s, img);
  hl_session_add_message(s, r);
  return s;
}

/* Every model call's LM_START said what the provider's request measures;
 * `calls` model calls were made. */
static void check_estimates(int calls) {
  pthread_mutex_lock(&rec.lock);
  CHECK_INT(rec.n_sent, calls);
  CHECK_INT(rec.n_said, calls);
  for (int i = 0; i < rec.n_sent && i < rec.n_said; i++) {
    CHECK(rec.sent[i] > 0);
    CHECK_INT(rec.said[i], rec.sent[i]);
  }
  pthread_mutex_unlock(&rec.lock);
}

static void run_ok(hl_agent *a, hl_session *s, const char *input) {
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, s, input, &answer), HL_OK);
  CHECK_STR(answer, "Both values are in.");
  hl_free(answer);
}

static void a_borrowed_history_of_every_part_kind(void) {
  hl_agent *a = measured_agent();
  hl_session *s = varied_history();
  REQUIRE(a && s);
  rec_clear();
  run_ok(a, s, "Look alpha up again.");
  check_estimates(2);
  /* the second request adds the tool calls and their results */
  CHECK(rec.sent[1] > rec.sent[0]);
  /* the next run on the same session: the history holds the first run's */
  int64_t before = rec.sent[1];
  rec_clear();
  run_ok(a, s, "And once more.");
  check_estimates(2);
  CHECK(rec.sent[0] > before);
  hl_session_free(s);
  hl_agent_unref(a);
}

/* The request it may edit, made longer: a part appended to the last
 * message, and the first part of that message replaced by a longer text
 * (as model.h lets a hook: hl_free() the old string, put a malloc'd one). */
static hl_hook_action lengthen(hl_context *ctx, const hl_before_model_args *args,
                               hl_before_model_out *out, void *ud) {
  (void)ctx, (void)args, (void)ud;
  hl_message *last = out->request->messages.items[out->request->messages.count - 1];
  if (last->n_parts && last->parts[0].text) {
    const char *more = " -- rewritten by the hook, longer than it was";
    size_t n = strlen(last->parts[0].text);
    char *longer = malloc(n + strlen(more) + 1);
    if (!longer) return hl_hook_abort("out of memory");
    memcpy(longer, last->parts[0].text, n);
    strcpy(longer + n, more);
    hl_free(last->parts[0].text);
    last->parts[0].text = longer;
  }
  if (hl_message_add_text(last, " (and answer politely, please)") != HL_OK)
    return hl_hook_abort("out of memory");
  return HL_HOOK_CONTINUE;
}

static void an_edited_request_is_counted_as_sent(void) {
  hl_agent *a = measured_agent();
  hl_session *s = varied_history();
  REQUIRE(a && s);
  REQUIRE(hl_hooks_add_before_model(hl_agent_hooks(a), "lengthen", HL_HOOK_EDIT_REQUEST, lengthen,
                                    NULL) == HL_OK);
  rec_clear();
  run_ok(a, s, "Look alpha up again.");
  check_estimates(2);
  hl_session_free(s);
  hl_agent_unref(a);
}

/* Calls the model with a request of its own: a copy whose instruction
 * says more. */
static hl_hook_action own_request(hl_context *ctx, const hl_around_model_args *args,
                                  hl_around_model_out *out, void *ud) {
  (void)ctx, (void)ud;
  hl_request *copy = hl_request_clone(args->request);
  if (!copy || hl_message_add_text(copy->messages.items[0], " Be brief.") != HL_OK) {
    hl_request_free(copy);
    return hl_hook_abort("out of memory");
  }
  hl_next_model(args->next, copy, &out->response);
  hl_request_free(copy);
  return HL_HOOK_CONTINUE;
}

static void an_around_wraps_request_is_counted_as_sent(void) {
  hl_agent *a = measured_agent();
  hl_session *s = varied_history();
  REQUIRE(a && s);
  REQUIRE(hl_hooks_add_around_model(hl_agent_hooks(a), "own", 0, own_request, NULL) == HL_OK);
  rec_clear();
  run_ok(a, s, "Look alpha up again.");
  check_estimates(2);
  hl_session_free(s);
  hl_agent_unref(a);
}

static void after_the_history_is_cut_back_and_restored(void) {
  hl_agent *a = measured_agent();
  hl_session *s = varied_history();
  REQUIRE(a && s);
  size_t history = hl_session_messages(s)->count;
  /* a failed run takes its three messages back */
  rec_clear();
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, s, "Look alpha up, then fail.", &answer), HL_ERR_PROVIDER);
  CHECK_INT(hl_session_messages(s)->count, history);
  check_estimates(2);
  rec_clear();
  run_ok(a, s, "Look alpha up again.");
  check_estimates(2);
  /* an interrupted run leaves the session as it was; its resume puts the
   * run's messages back and calls the model */
  history = hl_session_messages(s)->count;
  rec_clear();
  CHECK_INT(hl_agent_run(a, s, "Look alpha up, with approval.", &answer), HL_INTERRUPTED);
  CHECK_INT(hl_session_messages(s)->count, history);
  check_estimates(1);
  cJSON *state = hl_run_state_json();
  cJSON *decisions = cJSON_CreateObject();
  REQUIRE(state && decisions);
  CHECK_INT(hl_decision_approve(decisions, "call_1"), HL_OK);
  rec_clear();
  CHECK_INT(hl_agent_resume(a, s, state, decisions, &answer), HL_OK);
  CHECK_STR(answer, "Both values are in.");
  hl_free(answer);
  check_estimates(1);
  cJSON_Delete(decisions);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(a);
}

static void sessions_loaded_cloned_and_reset(void) {
  hl_agent *a = measured_agent();
  hl_session *s = varied_history();
  REQUIRE(a && s);
  cJSON *json = hl_session_to_json(s);
  hl_session *loaded = NULL;
  REQUIRE(json && hl_session_from_json(json, &loaded) == HL_OK);
  cJSON_Delete(json);
  hl_session *clone = hl_session_clone(s);
  REQUIRE(clone);
  hl_session *each[] = {loaded, clone};
  for (size_t i = 0; i < 2; i++) {
    rec_clear();
    run_ok(a, each[i], "Look alpha up again.");
    check_estimates(2);
  }
  hl_session_reset(s);
  CHECK_INT(hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "A fresh start.")), HL_OK);
  rec_clear();
  run_ok(a, s, "Look alpha up.");
  check_estimates(2);
  hl_session_free(loaded);
  hl_session_free(clone);
  hl_session_free(s);
  hl_agent_unref(a);
}

/* A stored session (store.h) writes through and is read again: a second
 * handle on the same log, reloaded after the first one's run. */
static void a_stored_session_reloaded(void) {
  hl_agent *a = measured_agent();
  hl_store *store = NULL;
  REQUIRE(a && hl_store_open("memory:", &store) == HL_OK);
  hl_session *first = NULL, *second = NULL;
  REQUIRE(hl_session_open(store, "test", "u", "s-stored", &first) == HL_OK);
  REQUIRE(hl_session_open(store, "test", "u", "s-stored", &second) == HL_OK);
  rec_clear();
  run_ok(a, first, "Look alpha up.");
  check_estimates(2);
  CHECK_INT(hl_session_reload(second), HL_OK);
  CHECK_INT(hl_session_messages(second)->count, hl_session_messages(first)->count);
  rec_clear();
  run_ok(a, second, "Look beta up.");
  check_estimates(2);
  hl_session_free(first);
  hl_session_free(second);
  hl_store_close(store);
  hl_agent_unref(a);
}

static void an_asynchronous_run(void) {
  hl_agent *a = measured_agent();
  hl_session *s = varied_history();
  REQUIRE(a && s);
  rec_clear();
  hl_run *run = NULL;
  REQUIRE(hl_run_start(a, s, "Look alpha up again.", NULL, &run) == HL_OK);
  CHECK_INT(hl_run_wait(run, 60000), HL_OK);
  CHECK_STR(hl_run_answer(run), "Both values are in.");
  hl_run_free(run);
  check_estimates(2);
  hl_session_free(s);
  hl_agent_unref(a);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(a_borrowed_history_of_every_part_kind);
  RUN(an_edited_request_is_counted_as_sent);
  RUN(an_around_wraps_request_is_counted_as_sent);
  RUN(after_the_history_is_cut_back_and_restored);
  RUN(sessions_loaded_cloned_and_reset);
  RUN(a_stored_session_reloaded);
  RUN(an_asynchronous_run);
  return CHECK_EXIT();
}
