/*
 * test_scripted.c - the scripted provider: queue order, rules with
 * captures and placeholders, JSON scripts and their errors, exhaustion,
 * request recording, thread safety, delays cancelled from another thread,
 * streaming deltas and API events, a stream stopped by cancellation.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hookline.h"
#include "check.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static hl_request *make_request(const char *user_text) {
  hl_request *req = hl_request_new();
  if (!req) return NULL;
  hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_SYSTEM, "You are terse."));
  if (user_text) hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, user_text));
  return req;
}

/* Append what an agent appends after a tool-call response: the assistant
 * message and the tool results. */
static void append_tool_round(hl_request *req, const hl_response *resp, const char *result) {
  hl_messages_push(&req->messages, hl_message_clone(resp->message));
  hl_message *res = hl_message_new(HL_ROLE_TOOL);
  for (size_t i = 0; i < resp->message->n_parts; i++) {
    const hl_part *p = &resp->message->parts[i];
    if (p->kind == HL_PART_TOOL_CALL) hl_message_add_tool_result(res, p->id, p->name, result, false);
  }
  hl_messages_push(&req->messages, res);
}

static char *text_of(const hl_response *resp) {
  return resp ? hl_message_text(resp->message) : NULL;
}

/* `p` answers `req` with exactly the text `want`. */
static void expect_text(hl_provider *p, const hl_request *req, const char *want) {
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  char *t = text_of(r);
  CHECK_STR(t, want);
  hl_free(t);
  hl_response_free(r);
}

static const hl_part *first_call(const hl_response *resp) {
  if (!resp) return NULL;
  for (size_t i = 0; i < resp->message->n_parts; i++)
    if (resp->message->parts[i].kind == HL_PART_TOOL_CALL) return &resp->message->parts[i];
  return NULL;
}

/* ------------------------------------------------------------------ */
/* queue                                                               */
/* ------------------------------------------------------------------ */

static void scripted_queue_answers_in_order_then_exhausts(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  CHECK_STR(hl_provider_name(p), "scripted");
  CHECK_INT(hl_scripted_push_text(p, "first"), HL_OK);
  CHECK_INT(hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}"), HL_OK);
  hl_response *custom = hl_response_new_text("third");
  custom->usage.input_tokens = 11;
  custom->usage.output_tokens = 3;
  CHECK_INT(hl_scripted_push(p, custom), HL_OK);
  CHECK_INT(hl_scripted_remaining(p), 3);

  hl_request *req = make_request("hi");
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  char *t = text_of(r);
  CHECK_STR(t, "first");
  CHECK_INT(r->finish, HL_FINISH_STOP);
  hl_free(t);
  hl_response_free(r);
  CHECK_INT(hl_scripted_remaining(p), 2);

  r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  const hl_part *call = first_call(r);
  REQUIRE(call);
  CHECK_STR(call->id, "c1");
  CHECK_STR(call->name, "add");
  CHECK_INT(hl_json_get_number(call->args, "b", 0), 2);
  CHECK_INT(r->finish, HL_FINISH_TOOL_CALLS);
  hl_response_free(r);

  r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  t = text_of(r);
  CHECK_STR(t, "third");
  CHECK_INT(r->usage.input_tokens, 11);
  CHECK_INT(r->usage.output_tokens, 3);
  hl_free(t);
  hl_response_free(r);
  CHECK_INT(hl_scripted_remaining(p), 0);

  r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_ERR_PROVIDER);
  CHECK(r == NULL);
  CHECK_CONTAINS(hl_last_error(), "script exhausted");
  CHECK_INT(hl_scripted_request_count(p), 4); /* the failed one is recorded too */

  /* refilling works after exhaustion */
  CHECK_INT(hl_scripted_push_text(p, "again"), HL_OK);
  expect_text(p, req, "again");

  /* bad input */
  CHECK_INT(hl_scripted_push_tool_call(p, "c", "t", "[1]"), HL_ERR_INVALID);
  CHECK_INT(hl_scripted_push_tool_call(p, "c", "t", "{oops"), HL_ERR_JSON);
  CHECK_INT(hl_scripted_push_tool_call(p, "c", NULL, "{}"), HL_ERR_INVALID);
  CHECK_INT(hl_scripted_push_text(p, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_scripted_push(p, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_scripted_remaining(p), 0);
  hl_request_free(req);
  hl_provider_unref(p);
}

static hl_status other_complete(void *impl, hl_context *ctx, const hl_request *req,
                                hl_response **out) {
  (void)impl;
  (void)ctx;
  (void)req;
  *out = hl_response_new_text("other");
  return HL_OK;
}
static const hl_provider_ops other_ops = {
    .size = sizeof(hl_provider_ops), .name = "scripted", .complete = other_complete};

static void scripted_functions_refuse_other_providers(void) {
  /* same name, different provider: must not be mistaken for ours */
  int impl = 0;
  hl_provider *other = hl_provider_new(&other_ops, &impl);
  REQUIRE(other);
  CHECK_INT(hl_scripted_push_text(other, "x"), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "not a scripted provider");
  CHECK_INT(hl_scripted_push(other, hl_response_new_text("x")), HL_ERR_INVALID);
  CHECK_INT(hl_scripted_load_json(other, "{}"), HL_ERR_INVALID);
  CHECK_INT(hl_scripted_request_count(other), 0);
  CHECK(hl_scripted_request(other, 0) == NULL);
  hl_scripted_set_delay_ms(other, 5);
  CHECK_INT(hl_scripted_push_text(NULL, "x"), HL_ERR_INVALID);
  hl_provider_unref(other);
}

/* ------------------------------------------------------------------ */
/* rules                                                               */
/* ------------------------------------------------------------------ */

static const char *weather_script =
    "{\"rules\": ["
    "  {\"match\": \"weather in ([a-z]+)\", \"steps\": ["
    "     {\"tool_calls\": [{\"id\": \"w1\", \"name\": \"get_weather\","
    "                        \"arguments\": {\"city\": \"$1\", \"note\": \"asked: {{input}}\","
    "                                        \"nested\": [\"$1!\"]}}]},"
    "     {\"text\": \"It is {{result}} in $1.\"}]},"
    "  {\"match\": \"^(hello|hi)\\\\b\", \"steps\": [{\"text\": \"$1 to you\"}]}"
    " ],"
    " \"fallback\": {\"text\": \"I cannot help with: {{input}} ($1 stays)\"}}";

static void scripted_rules_fill_captures_input_and_result(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  CHECK_INT(hl_scripted_load_json(p, weather_script), HL_OK);
  CHECK_INT(hl_scripted_remaining(p), 0); /* rules are not queued */

  /* case-insensitive match; step 1 is the tool call with $1 filled in */
  hl_request *req = make_request("What is the WEATHER in Paris today?");
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  const hl_part *call = first_call(r);
  REQUIRE(call);
  CHECK_STR(call->name, "get_weather");
  CHECK_STR(hl_json_get_string(call->args, "city"), "Paris");
  CHECK_STR(hl_json_get_string(call->args, "note"), "asked: What is the WEATHER in Paris today?");
  CHECK_STR(cJSON_GetArrayItem(hl_json_get(call->args, "nested"), 0)->valuestring, "Paris!");

  /* step 2 sees the tool result */
  append_tool_round(req, r, "sunny and 21C");
  hl_response_free(r);
  r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  char *t = text_of(r);
  CHECK_STR(t, "It is sunny and 21C in Paris.");
  hl_free(t);

  /* the rule's steps are used up: the fallback answers (no $1 there) */
  hl_messages_push(&req->messages, hl_message_clone(r->message));
  hl_response_free(r);
  expect_text(p, req, "I cannot help with: What is the WEATHER in Paris today? ($1 stays)");

  /* a new user message starts the rules again: the second rule */
  hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "Hello there"));
  expect_text(p, req, "Hello to you");
  hl_request_free(req);

  /* queued responses come before rules */
  CHECK_INT(hl_scripted_push_text(p, "queued {{input}}"), HL_OK);
  req = make_request("weather in rome");
  expect_text(p, req, "queued weather in rome");
  r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  CHECK_STR(hl_json_get_string(first_call(r)->args, "city"), "rome");
  hl_response_free(r);
  hl_request_free(req);

  /* no user message at all: rules see "", the fallback answers */
  req = make_request(NULL);
  expect_text(p, req, "I cannot help with:  ($1 stays)");
  hl_request_free(req);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* JSON scripts                                                        */
/* ------------------------------------------------------------------ */

static void expect_script_error(hl_provider *p, const char *script, const char *needle) {
  hl_status st = hl_scripted_load_json(p, script);
  CHECK_INT(st, HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), needle);
}

static void scripted_json_errors_name_the_field_and_add_nothing(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  expect_script_error(p, "{\"responses\": [", "invalid JSON");
  expect_script_error(p, "[]", "$: expected object");
  expect_script_error(p, "{\"respones\": []}", "$.respones: unknown field");
  expect_script_error(p, "{\"responses\": {}}", "$.responses: expected array");
  expect_script_error(p, "{\"responses\": [{\"text\": \"ok\"}, {\"text\": 1}]}",
                      "$.responses[1].text: expected string");
  expect_script_error(p, "{\"responses\": [{}]}", "$.responses[0]: a step needs");
  expect_script_error(p, "{\"responses\": [{\"text\": \"a\", \"tool_call\": []}]}",
                      "$.responses[0].tool_call: unknown field");
  expect_script_error(p, "{\"responses\": [{\"tool_calls\": [{\"id\": \"c\"}]}]}",
                      "$.responses[0].tool_calls[0].name: missing");
  expect_script_error(p,
                      "{\"responses\": [{\"tool_calls\": [{\"name\": \"t\", "
                      "\"arguments\": \"{}\"}]}]}",
                      "$.responses[0].tool_calls[0].arguments: expected object");
  expect_script_error(p, "{\"responses\": [{\"text\": \"a\", \"usage\": {\"input_tokens\": -1}}]}",
                      "$.responses[0].usage.input_tokens");
  expect_script_error(p, "{\"responses\": [{\"text\": \"a\", \"delay_ms\": 1.5}]}",
                      "$.responses[0].delay_ms");
  expect_script_error(p, "{\"rules\": [{\"match\": \"(\", \"steps\": [{\"text\": \"x\"}]}]}",
                      "$.rules[0].match: invalid regular expression");
  expect_script_error(p, "{\"rules\": [{\"match\": \"x\"}]}", "$.rules[0].steps: missing");
  expect_script_error(p, "{\"rules\": [{\"match\": \"x\", \"steps\": []}]}",
                      "$.rules[0].steps: expected at least one step");
  expect_script_error(p, "{\"rules\": [{\"match\": \"x\", \"steps\": [{\"text\": 2}]}]}",
                      "$.rules[0].steps[0].text");
  expect_script_error(p, "{\"fallback\": \"hi\"}", "$.fallback: expected object");
  /* every failed load left the script empty */
  CHECK_INT(hl_scripted_remaining(p), 0);
  hl_request *req = make_request("x");
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_ERR_PROVIDER);
  hl_request_free(req);
  CHECK_INT(hl_scripted_load_json(p, NULL), HL_ERR_INVALID);
  hl_provider_unref(p);
}

static void scripted_load_file_reads_usage_and_ids(void) {
  char path[] = "/tmp/hl_scripted_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const char *script =
      "{\"responses\": ["
      " {\"text\": \"Let me look.\", \"tool_calls\": [{\"name\": \"a\"}, "
      "   {\"name\": \"b\", \"arguments\": {\"k\": [1, {\"z\": null}]}}],"
      "  \"usage\": {\"input_tokens\": 30, \"output_tokens\": 4, \"cost\": 0.5}},"
      " {\"text\": \"done\"}]}";
  CHECK(write(fd, script, strlen(script)) == (ssize_t)strlen(script));
  close(fd);
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  CHECK_INT(hl_scripted_load_file(p, path), HL_OK);
  CHECK_INT(hl_scripted_load_file(p, path), HL_OK); /* adds to what is there */
  CHECK_INT(hl_scripted_remaining(p), 4);
  unlink(path);
  CHECK_INT(hl_scripted_load_file(p, path), HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), path);

  hl_request *req = make_request("go");
  hl_request_set_model(req, "model-x");
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  REQUIRE(r);
  CHECK_INT(hl_message_tool_call_count(r->message), 2);
  CHECK_INT(r->finish, HL_FINISH_TOOL_CALLS);
  CHECK_INT(r->usage.input_tokens, 30);
  CHECK_INT(r->usage.output_tokens, 4);
  CHECK(r->usage.has_cost && r->usage.cost == 0.5);
  CHECK_STR(r->model, "model-x");
  CHECK(r->id != NULL);
  /* ids default to call_<n> */
  CHECK_STR(r->message->parts[1].id, "call_1");
  CHECK_STR(r->message->parts[2].id, "call_2");
  cJSON *expect = cJSON_Parse("{\"k\":[1,{\"z\":null}]}");
  CHECK(hl_json_equal(r->message->parts[2].args, expect));
  CHECK(cJSON_IsObject(r->message->parts[1].args));
  cJSON_Delete(expect);
  char *t = text_of(r);
  CHECK_STR(t, "Let me look.");
  hl_free(t);
  hl_response_free(r);
  hl_request_free(req);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* recording and threads                                               */
/* ------------------------------------------------------------------ */

static void scripted_records_deep_copies_of_requests(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  hl_scripted_push_text(p, "a");
  hl_scripted_push_text(p, "b");
  hl_request *req = make_request("first question");
  hl_request_set_model(req, "m1");
  cJSON *schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\"}}}");
  hl_request_add_tool(req, "lookup", "find things", schema);
  req->temperature = 0.5;
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  /* change the caller's request afterwards: the record must not move */
  hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "second question"));
  hl_request_set_model(req, "m2");
  r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  hl_request_free(req);

  CHECK_INT(hl_scripted_request_count(p), 2);
  hl_request *r0 = hl_scripted_request(p, 0);
  hl_request *r1 = hl_scripted_request(p, 1);
  REQUIRE(r0 && r1);
  CHECK_STR(r0->model, "m1");
  CHECK_INT(r0->messages.count, 2);
  char *sys = hl_message_text(r0->messages.items[0]);
  CHECK_STR(sys, "You are terse.");
  hl_free(sys);
  CHECK_INT(r0->n_tools, 1);
  CHECK_STR(r0->tools[0].name, "lookup");
  CHECK(hl_json_equal(r0->tools[0].parameters, schema));
  CHECK(r0->temperature == 0.5);
  CHECK_STR(r1->model, "m2");
  CHECK_INT(r1->messages.count, 3);
  /* each call returns a fresh copy */
  hl_request *again = hl_scripted_request(p, 0);
  CHECK(again != r0 && again->messages.items[0] != r0->messages.items[0]);
  hl_request_free(again);
  CHECK(hl_scripted_request(p, 2) == NULL);
  hl_request_free(r0);
  hl_request_free(r1);
  cJSON_Delete(schema);
  hl_provider_unref(p);
}

#define SC_THREADS 8
#define SC_CALLS 50

typedef struct sc_job {
  hl_provider *p;
  int seen[SC_THREADS * SC_CALLS];
  int failures;
} sc_job;

static void *scripted_worker(void *arg) {
  sc_job *job = arg;
  hl_request *req = make_request("parallel");
  for (int i = 0; i < SC_CALLS; i++) {
    hl_response *r = NULL;
    if (hl_provider_complete(job->p, NULL, req, &r) != HL_OK) {
      job->failures++;
      continue;
    }
    char *t = text_of(r);
    int n = t ? atoi(t) : -1;
    if (n >= 0 && n < SC_THREADS * SC_CALLS) job->seen[n]++;
    hl_free(t);
    hl_response_free(r);
    (void)hl_scripted_remaining(job->p);
  }
  hl_request_free(req);
  return NULL;
}

static void scripted_serves_threads_each_response_once(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  for (int i = 0; i < SC_THREADS * SC_CALLS; i++) {
    char t[16];
    snprintf(t, sizeof t, "%d", i);
    hl_scripted_push_text(p, t);
  }
  pthread_t th[SC_THREADS];
  sc_job *jobs = calloc(SC_THREADS, sizeof *jobs);
  REQUIRE(jobs);
  for (int i = 0; i < SC_THREADS; i++) {
    jobs[i].p = p;
    pthread_create(&th[i], NULL, scripted_worker, &jobs[i]);
  }
  for (int i = 0; i < SC_THREADS; i++) pthread_join(th[i], NULL);
  int total_failures = 0;
  for (int n = 0; n < SC_THREADS * SC_CALLS; n++) {
    int times = 0;
    for (int i = 0; i < SC_THREADS; i++) times += jobs[i].seen[n];
    if (times != 1) CHECK_INT(times, 1);
  }
  for (int i = 0; i < SC_THREADS; i++) total_failures += jobs[i].failures;
  CHECK_INT(total_failures, 0);
  CHECK_INT(hl_scripted_remaining(p), 0);
  CHECK_INT(hl_scripted_request_count(p), SC_THREADS * SC_CALLS);
  free(jobs);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* inside an agent: delay + cancel, streaming, events                  */
/* ------------------------------------------------------------------ */

typedef struct run_job {
  hl_agent *agent;
  hl_session *session;
  const char *input;
  hl_status status;
  char *answer;
  char message[512];
} run_job;

static void *run_worker(void *arg) {
  run_job *job = arg;
  job->status = hl_agent_run(job->agent, job->session, job->input, &job->answer);
  snprintf(job->message, sizeof job->message, "%s", hl_last_error());
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void scripted_delay_is_cancelled_from_another_thread(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  /* ten minutes: only cancellation can end this run within the test timeout */
  CHECK_INT(hl_scripted_load_json(p, "{\"responses\":[{\"text\":\"late\",\"delay_ms\":600000}]}"),
            HL_OK);
  hl_agent *agent = hl_agent_new("sleeper");
  REQUIRE(agent);
  hl_agent_set_provider(agent, p);
  hl_observer *col = hl_observer_collecting();
  hl_agent_add_observer(agent, col);
  hl_session *session = hl_session_new(NULL, NULL, NULL);
  run_job job = {.agent = agent, .session = session, .input = "wait for it"};
  pthread_t th;
  pthread_create(&th, NULL, run_worker, &job);
  /* wait until the provider has the request, then cancel */
  for (int i = 0; i < 2000 && hl_scripted_request_count(p) == 0; i++) sleep_ms(5);
  CHECK_INT(hl_scripted_request_count(p), 1);
  hl_agent_cancel(agent);
  pthread_join(th, NULL);
  CHECK_INT(job.status, HL_ERR_CANCELLED);
  CHECK(job.answer == NULL);
  /* the provider reported the cancelled call like a real one */
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_API_REQUEST), 1);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_API_RESPONSE), 1);
  cJSON *events = hl_observer_collected(col);
  cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    if (strcmp(hl_json_get_string(ev, "type"), "api_response") == 0) {
      CHECK(!hl_json_get_bool(ev, "success", true));
      CHECK_STR(hl_json_get_string(hl_json_get(ev, "error"), "status"), "Cancelled");
    }
  }
  cJSON_Delete(events);
  hl_free(job.answer);
  hl_session_free(session);
  hl_observer_unref(col);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void scripted_global_delay_still_answers(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  hl_scripted_set_delay_ms(p, 20);
  hl_scripted_push_text(p, "patient");
  hl_request *req = make_request("x");
  expect_text(p, req, "patient");
  hl_request_free(req);
  hl_provider_unref(p);
}

static char deltas[256];
static void on_token(const char *delta, void *ud) {
  (void)ud;
  strncat(deltas, delta, sizeof deltas - strlen(deltas) - 1);
}

static void scripted_streams_words_and_emits_api_events(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  CHECK_INT(hl_scripted_load_json(p,
                                  "{\"responses\":[{\"text\":\"The sky  is\\nblue today.\","
                                  "\"usage\":{\"input_tokens\":9,\"output_tokens\":5}}]}"),
            HL_OK);
  hl_agent *agent = hl_agent_new("streamer");
  REQUIRE(agent);
  hl_agent_set_provider(agent, p);
  hl_agent_set_stream(agent, true);
  deltas[0] = '\0';
  hl_agent_set_token_callback(agent, on_token, NULL);
  hl_observer *col = hl_observer_collecting();
  hl_agent_add_observer(agent, col);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "colour of the sky?", &answer), HL_OK);
  CHECK_STR(answer, "The sky  is\nblue today.");
  CHECK_STR(deltas, "The sky  is\nblue today.");

  /* one delta per word (each with its trailing whitespace) */
  cJSON *events = hl_observer_collected(col);
  int n_deltas = 0;
  char joined[256] = "";
  cJSON *ev;
  const cJSON *request_payload = NULL, *response_payload = NULL;
  cJSON_ArrayForEach(ev, events) {
    const char *type = hl_json_get_string(ev, "type");
    if (strcmp(type, "response") == 0 && hl_json_get_bool(ev, "delta", false)) {
      n_deltas++;
      strncat(joined, hl_json_get_string(ev, "text"), sizeof joined - strlen(joined) - 1);
    } else if (strcmp(type, "api_request") == 0) {
      CHECK_STR(hl_json_get_string(ev, "provider"), "scripted");
      request_payload = hl_json_get(ev, "data");
    } else if (strcmp(type, "api_response") == 0) {
      CHECK(hl_json_get_bool(ev, "success", false));
      CHECK_INT(hl_json_get_number(hl_json_get(ev, "usage"), "input_tokens", 0), 9);
      response_payload = hl_json_get(ev, "data");
    }
  }
  CHECK_INT(n_deltas, 5);
  CHECK_STR(joined, "The sky  is\nblue today.");
  /* the payloads are the neutral JSON of the request and the response */
  hl_request *seen_req = NULL;
  CHECK(request_payload && hl_request_from_json(request_payload, &seen_req) == HL_OK);
  if (seen_req) {
    CHECK(seen_req->stream);
    char *u = hl_message_text(seen_req->messages.items[seen_req->messages.count - 1]);
    CHECK_STR(u, "colour of the sky?");
    hl_free(u);
  }
  hl_request_free(seen_req);
  hl_response *seen_resp = NULL;
  CHECK(response_payload && hl_response_from_json(response_payload, &seen_resp) == HL_OK);
  if (seen_resp) {
    char *t = hl_message_text(seen_resp->message);
    CHECK_STR(t, "The sky  is\nblue today.");
    hl_free(t);
  }
  hl_response_free(seen_resp);
  cJSON_Delete(events);
  hl_free(answer);
  hl_observer_unref(col);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* A token callback that cancels the run at the third word, as Ctrl-C in
 * a chatbot showing the words one by one would. */
static int cancel_words_seen;
static hl_agent *cancel_target;
static void cancel_at_third_word(const char *delta, void *ud) {
  (void)delta;
  (void)ud;
  if (++cancel_words_seen == 3) hl_agent_cancel(cancel_target);
}

static void scripted_stream_stops_when_the_run_is_cancelled(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  CHECK_INT(hl_scripted_push_text(p, "one two three four five six seven eight nine ten"), HL_OK);
  hl_agent *agent = hl_agent_new("streamer");
  REQUIRE(agent);
  hl_agent_set_provider(agent, p);
  hl_agent_set_stream(agent, true);
  cancel_words_seen = 0;
  cancel_target = agent;
  hl_agent_set_token_callback(agent, cancel_at_third_word, NULL);
  char *answer = NULL;
  /* The rest of the answer is not streamed and the run ends cancelled. */
  CHECK_INT(hl_agent_run(agent, NULL, "count", &answer), HL_ERR_CANCELLED);
  CHECK_INT(cancel_words_seen, 3);
  CHECK(answer == NULL);
  hl_free(answer);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

int main(void) {
  RUN(scripted_queue_answers_in_order_then_exhausts);
  RUN(scripted_functions_refuse_other_providers);
  RUN(scripted_rules_fill_captures_input_and_result);
  RUN(scripted_json_errors_name_the_field_and_add_nothing);
  RUN(scripted_load_file_reads_usage_and_ids);
  RUN(scripted_records_deep_copies_of_requests);
  RUN(scripted_serves_threads_each_response_once);
  RUN(scripted_global_delay_still_answers);
  RUN(scripted_delay_is_cancelled_from_another_thread);
  RUN(scripted_streams_words_and_emits_api_events);
  RUN(scripted_stream_stops_when_the_run_is_cancelled);
  return CHECK_EXIT();
}
