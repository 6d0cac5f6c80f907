/*
 * test_agent_e2e.c - an hl_agent driving the OpenAI and Anthropic
 * providers over real HTTP against server.py: the model asks for two tool
 * calls, the tools run (arguments mutated by a before_tool hook), their
 * results travel back over the wire, the model answers with them. Every
 * hook point fires; the events carry the wire payloads and never the API
 * key; streaming reaches the token callback; hl_agent_cancel() ends a
 * hanging request.
 *
 *   test_agent_e2e [NAME...]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hookline.h"
#include "provider_fixture.h"
#include "test_server.h"
#include "wire_cases.h"

#define KEY "sk-e2e-SECRET-fedcba9876543210"

static test_server srv;

typedef struct wire {
  const char *name;
  hl_provider *(*make)(const char *base, const char *key);
  hl_status (*timeouts)(hl_provider *, long, long, long);
} wire;
static const wire OPENAI = {"openai", hl_openai_new, hl_openai_set_timeouts};
static const wire ANTHROPIC = {"anthropic", hl_anthropic_new, hl_anthropic_set_timeouts};
static const wire *W = &OPENAI;

/* ------------------------------------------------------------------ */
/* Tools and hooks                                                     */
/* ------------------------------------------------------------------ */

typedef struct counts {
  atomic_int before_agent, after_agent, before_model, after_model, before_tool, after_tool;
  atomic_int model_saw_response;
} counts;

static hl_hook_action h_before_agent(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)ctx;
  (void)answer;
  atomic_fetch_add(&((counts *)ud)->before_agent, 1);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action h_after_agent(hl_context *ctx, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *ud) {  /* v1 names */
  const char *answer = in_->answer;
  char **rep = &out_->answer;
  (void)ctx;
  (void)answer;
  (void)rep;
  atomic_fetch_add(&((counts *)ud)->after_agent, 1);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action h_before_model(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)ctx;
  (void)resp;
  (void)req;
  atomic_fetch_add(&((counts *)ud)->before_model, 1);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action h_after_model(hl_context *ctx, const hl_after_model_args *in_, hl_after_model_out *out_, void *ud) {  /* v1 names */
  const hl_request *req = in_->request;
  const hl_response *resp = in_->response;
  const hl_error *err = in_->error;
  hl_response **rep = &out_->response;
  (void)ctx;
  (void)req;
  (void)rep;
  counts *c = ud;
  atomic_fetch_add(&c->after_model, 1);
  if (resp && err->status == HL_OK) atomic_fetch_add(&c->model_saw_response, 1);
  return HL_HOOK_CONTINUE;
}

/* Rewrites get_weather's city: the tool, the events and the model must all
 * see "Lyon" although the model asked for Paris. */
static hl_hook_action h_before_tool(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx;
  (void)result;
  atomic_fetch_add(&((counts *)ud)->before_tool, 1);
  if (!strcmp(call->name, "get_weather")) {
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "city", "Lyon");
    cJSON_Delete(*args);
    *args = n;
  }
  return HL_HOOK_CONTINUE;
}

static hl_hook_action h_after_tool(hl_context *ctx, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  const cJSON *args = in_->args;
  const cJSON *result = in_->result;
  const hl_error *err = in_->error;
  cJSON **rep = &out_->result;
  (void)ctx;
  (void)call;
  (void)args;
  (void)result;
  (void)err;
  (void)rep;
  atomic_fetch_add(&((counts *)ud)->after_tool, 1);
  return HL_HOOK_CONTINUE;
}

typedef struct tokens {
  pthread_mutex_t lock;
  char text[1024];
  int n;
  int invalid_utf8;
} tokens;

static void on_token(const char *delta, void *ud) {
  tokens *t = ud;
  pthread_mutex_lock(&t->lock);
  if (!hl_utf8_valid(delta, strlen(delta))) t->invalid_utf8++;
  strncat(t->text, delta, sizeof t->text - strlen(t->text) - 1);
  t->n++;
  pthread_mutex_unlock(&t->lock);
}

static hl_agent *make_agent(hl_provider *p, const char *model, counts *c, hl_observer *obs) {
  hl_agent *a = hl_agent_new("assistant");
  if (!a) return NULL;
  hl_agent_set_instruction(a, "Answer with the tools.");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  hl_tool *w = hl_tool_new("get_weather", "Weather of a city", get_weather, NULL);
  hl_tool_param(w, "city", "string", "City name", true);
  hl_tool *t = hl_tool_new("get_time", "Time in a zone", get_time, NULL);
  hl_tool_param(t, "tz", "string", "Time zone", true);
  hl_agent_add_tool(a, w);
  hl_agent_add_tool(a, t);
  hl_tool_unref(w);
  hl_tool_unref(t);
  if (c) {
    hl_hooks *h = hl_agent_hooks(a);
    hl_hooks_add_before_agent(h, "count", HL_HOOK_OBSERVE, h_before_agent, c);
    hl_hooks_add_after_agent(h, "count", HL_HOOK_OBSERVE, h_after_agent, c);
    hl_hooks_add_before_model(h, "count", HL_HOOK_OBSERVE, h_before_model, c);
    hl_hooks_add_after_model(h, "count", HL_HOOK_OBSERVE, h_after_model, c);
    hl_hooks_add_before_tool(h, "mutate", HL_HOOK_EDIT_ARGS, h_before_tool, c);
    hl_hooks_add_after_tool(h, "count", HL_HOOK_OBSERVE, h_after_tool, c);
  }
  if (obs) hl_agent_add_observer(a, obs);
  return a;
}

/* ------------------------------------------------------------------ */

static void run_two_tools(bool stream) {
  char model[64];
  snprintf(model, sizeof model, "agent@%s-%s", W->name, stream ? "stream" : "plain");
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  counts c;
  memset(&c, 0, sizeof c);
  hl_observer *obs = hl_observer_collecting();
  REQUIRE(obs);
  hl_agent *a = make_agent(p, model, &c, obs);
  REQUIRE(a);
  tokens tk;
  memset(&tk, 0, sizeof tk);
  pthread_mutex_init(&tk.lock, NULL);
  if (stream) {
    hl_agent_set_stream(a, true);
    hl_agent_set_token_callback(a, on_token, &tk);
  }

  char *answer = NULL;
  hl_status st = hl_agent_run(a, NULL, "Weather and time in Paris?", &answer);
  if (st != HL_OK) fprintf(stderr, "run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  /* The server's final answer quotes the tool results it received. */
  CHECK_STR(answer, "Final: sunny in Lyon | 12:00 CET");
  hl_free(answer);

  /* Every hook point fired: once per run, per model call, per tool call. */
  CHECK_INT(atomic_load(&c.before_agent), 1);
  CHECK_INT(atomic_load(&c.after_agent), 1);
  CHECK_INT(atomic_load(&c.before_model), 2);
  CHECK_INT(atomic_load(&c.after_model), 2);
  CHECK_INT(atomic_load(&c.model_saw_response), 2);
  CHECK_INT(atomic_load(&c.before_tool), 2);
  CHECK_INT(atomic_load(&c.after_tool), 2);

  /* Events from the provider and around it. */
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_API_REQUEST), 2);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_API_RESPONSE), 2);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_LM_START), 2);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_LM_END), 2);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_TOOL_START), 2);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_TOOL_END), 2);
  cJSON *events = hl_observer_collected(obs);
  char *all = events ? cJSON_PrintUnformatted(events) : NULL;
  REQUIRE(all);
  CHECK(strstr(all, KEY) == NULL);
  CHECK(strstr(all, "SECRET") == NULL);
  /* The API_REQUEST payload is the wire format: the second one carries
   * the tool results the way this API wants them. */
  CHECK_CONTAINS(all, W == &OPENAI ? "tool_call_id" : "tool_use_id");
  CHECK_CONTAINS(all, "sunny in Lyon");
  free(all);
  cJSON_Delete(events);

  /* The server saw two requests; the second holds the results. */
  cJSON *stats = test_server_stats(&srv, model);
  CHECK_INT(hl_json_get_number(stats, "count", 0), 2);
  char *last = cJSON_PrintUnformatted(hl_json_get(stats, "last_body"));
  CHECK_CONTAINS(last, "12:00 CET");
  CHECK_CONTAINS(last, W == &OPENAI ? "\"call_1\"" : "\"toolu_1\"");
  free(last);
  cJSON_Delete(stats);

  if (stream) {
    /* Streamed fragments reached the token callback and RESPONSE deltas. */
    CHECK_STR(tk.text, "Final: sunny in Lyon | 12:00 CET");
    CHECK(tk.n > 1);
  }
  pthread_mutex_destroy(&tk.lock);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

static void agent_two_tool_calls_plain(void) { run_two_tools(false); }
static void agent_two_tool_calls_stream(void) { run_two_tools(true); }

/* A refused key: the run fails with the server's message; neither the
 * error nor any event contains the key. */
static void agent_auth_error_redacted(void) {
  char model[64];
  snprintf(model, sizeof model, "auth@%s-e2e", W->name);
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent *a = make_agent(p, model, NULL, obs);
  REQUIRE(a);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_AUTH);
  CHECK(answer == NULL);
  CHECK_CONTAINS(hl_last_error(), "Incorrect API key provided");
  CHECK(strstr(hl_last_error(), KEY) == NULL);
  CHECK(strstr(hl_last_error(), KEY) == NULL);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_API_RESPONSE), 1);
  cJSON *events = hl_observer_collected(obs);
  char *all = events ? cJSON_PrintUnformatted(events) : NULL;
  REQUIRE(all);
  CHECK(strstr(all, KEY) == NULL);
  CHECK_CONTAINS(all, "[REDACTED]");
  free(all);
  cJSON_Delete(events);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

/* The server cuts the stream inside multi-byte characters: every delta
 * the application gets is still whole UTF-8, and they add up to the text. */
static void agent_stream_utf8_deltas(void) {
  char model[64];
  snprintf(model, sizeof model, "utf8@%s-e2e", W->name);
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = make_agent(p, model, NULL, NULL);
  REQUIRE(a);
  tokens tk;
  memset(&tk, 0, sizeof tk);
  pthread_mutex_init(&tk.lock, NULL);
  hl_agent_set_stream(a, true);
  hl_agent_set_token_callback(a, on_token, &tk);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_OK);
  const char *want = "Hello, world! Caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80 done.";
  CHECK_STR(answer, want);
  CHECK_STR(tk.text, want);
  CHECK(tk.n > 1);
  CHECK_INT(tk.invalid_utf8, 0);
  hl_free(answer);
  pthread_mutex_destroy(&tk.lock);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

typedef struct cancel_arg {
  hl_agent *a;
} cancel_arg;

static void *cancel_soon(void *arg) {
  struct timespec ts = {0, 200 * 1000000L};
  nanosleep(&ts, NULL);
  hl_agent_cancel(((cancel_arg *)arg)->a);
  return NULL;
}

/* hl_agent_cancel() reaches a request that hangs in the provider. */
static void agent_cancel_hanging_request(void) {
  char model[64];
  snprintf(model, sizeof model, "hang@%s-e2e", W->name);
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  W->timeouts(p, 5000, 0, 60000); /* only the cancel can end it */
  hl_agent *a = make_agent(p, model, NULL, NULL);
  REQUIRE(a);
  cancel_arg ca = {a};
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, cancel_soon, &ca) == 0);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_CANCELLED);
  CHECK(answer == NULL);
  pthread_join(t, NULL);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* The tools' schemas reach the server as they are at each run: each
 * request carries a tool's own schema, and a parameter added or strict
 * mode set between two runs of one agent is in the next request (the
 * Chat Completions writer copies the text a tool printed at its last
 * change; the other wires build their tree). */
static const cJSON *sent_parameters(const char *model, const char *tool) {
  static cJSON *stats;
  cJSON_Delete(stats);
  stats = test_server_stats(&srv, model);
  const cJSON *tools = hl_json_get(hl_json_get(stats, "last_body"), "tools");
  const cJSON *d;
  cJSON_ArrayForEach(d, tools) {
    const cJSON *f = W == &OPENAI ? hl_json_get(d, "function") : d;
    const char *name = hl_json_get_string(f, "name");
    if (name && strcmp(name, tool) == 0)
      return hl_json_get(f, W == &OPENAI ? "parameters" : "input_schema");
  }
  return NULL;
}

static void agent_tool_schema_as_it_is_now(void) {
  char model[64];
  snprintf(model, sizeof model, "text@%s-schema", W->name);
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = make_agent(p, model, NULL, NULL);
  REQUIRE(a);
  hl_tool *w = hl_tools_at(hl_agent_tools(a), 0);
  REQUIRE(w && strcmp(hl_tool_name(w), "get_weather") == 0);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_OK);
  hl_free(answer);
  CHECK(hl_json_equal(sent_parameters(model, "get_weather"), hl_tool_schema(w)));
  const cJSON *units = hl_json_get(hl_json_get(sent_parameters(model, "get_weather"), "properties"), "units");
  CHECK(units == NULL);

  REQUIRE(hl_tool_param(w, "units", "string", "metric or imperial", false) == HL_OK);
  REQUIRE(hl_tool_set_strict(w, true) == HL_OK);
  answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "again", &answer), HL_OK);
  hl_free(answer);
  const cJSON *sent = sent_parameters(model, "get_weather");
  CHECK(hl_json_equal(sent, hl_tool_schema(w)));
  CHECK(hl_json_get(hl_json_get(sent, "properties"), "units") != NULL);
  CHECK(cJSON_IsFalse(hl_json_get(sent, "additionalProperties")));
  CHECK(hl_json_equal(sent_parameters(model, "get_time"), hl_tool_schema(hl_tools_at(hl_agent_tools(a), 1))));
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Every scenario runs on both wires; listed once. */
#define WIRE_SCENARIOS(X) \
  X(agent_two_tool_calls_plain) \
  X(agent_two_tool_calls_stream) \
  X(agent_auth_error_redacted) \
  X(agent_stream_utf8_deltas) \
  X(agent_cancel_hanging_request) \
  X(agent_tool_schema_as_it_is_now)

WIRE_SCENARIOS(BOTH)

#define BOTH_ROWS(fn) T2(fn),

static const test_case tests[] = {WIRE_SCENARIOS(BOTH_ROWS)};

int main(int argc, char **argv) {
  return run_cases(&srv, tests, sizeof tests / sizeof tests[0], argc, argv);
}
