/*
 * test_providers_v2.c - the OpenAI Responses and Gemini providers over
 * real HTTP on 127.0.0.1 against server_v2.py: plain and streamed answers
 * (streams cut into 7-byte chunks, argument fragments interleaved across
 * calls), reasoning items and thought signatures sent back byte for byte,
 * usage, finish reasons, errors in 2xx bodies and in streams, key
 * redaction, and an agent end to end over each provider.
 *
 *   test_providers_v2              run every test
 *   test_providers_v2 NAME...      run the named tests (meson runs one each)
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

#define KEY "sk-v2-SECRET-0123456789abcdef"

/* What server_v2.py answers (UTF-8 spelled out). */
#define TEXT "Hello, world! Caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80 done."
#define TOOLS_TEXT "Let me check \xe2\x98\x83."
#define SUMMARY "Weather first, then \xe2\x8f\xb0 time."
#define SIG_TEXT "c2lnLXRleHQ="
#define SIG_CALL "c2lnLWNhbGwtMA=="
#define REASONING_ITEM                                                                        \
  "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"" \
  SUMMARY "\"}],\"encrypted_content\":\"gAAAAB-encrypted-reasoning==\"}"

static test_server srv;

typedef struct wire {
  const char *name;
  hl_provider *(*make)(const char *base, const char *key);
  hl_status (*retries)(hl_provider *, int, long, long);
  const char *sep; /* between scenario and tag in a model name */
} wire;

static const wire RESPONSES = {"responses", hl_responses_new, hl_responses_set_retries, "@"};
static const wire GEMINI = {"gemini", hl_gemini_new, hl_gemini_set_retries, "__"};
static const wire *W = &RESPONSES;

#define V2(fn)                                                    \
  static void fn##_responses(void) { W = &RESPONSES; fn(); }      \
  static void fn##_gemini(void) { W = &GEMINI; fn(); }
#define V2_ROWS(fn) T(fn##_responses), T(fn##_gemini),

static hl_provider *provider(void) {
  hl_provider *p = W->make(srv.base, KEY);
  if (p) W->retries(p, 3, 10, 5000);
  return p;
}

/* "scenario@responses-tag" or "scenario__gemini-tag": unique per test. */
static const char *mname(const char *scenario, const char *tag) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s%s%s-%s", scenario, W->sep, W->name, tag);
  return buf;
}

static hl_request *simple_request(const char *model, bool stream) {
  hl_request *r = hl_request_new();
  hl_request_set_model(r, model);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_SYSTEM, "You are terse."));
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Hi there"));
  r->stream = stream;
  return r;
}

static hl_status ask(hl_provider *p, const char *model, bool stream, hl_response **out) {
  hl_request *r = simple_request(model, stream);
  hl_status st = hl_provider_complete(p, NULL, r, out);
  hl_request_free(r);
  return st;
}

/* Ask for `scenario` plain or streamed; the response (NULL on failure). */
static hl_response *answer(const char *scenario, const char *tag, bool stream) {
  hl_provider *p = provider();
  CHECK(p != NULL);
  if (!p) return NULL;
  hl_response *r = NULL;
  hl_status st = ask(p, mname(scenario, tag), stream, &r);
  if (st != HL_OK) fprintf(stderr, "  %s failed: %s\n", scenario, hl_last_error());
  CHECK_INT(st, HL_OK);
  hl_provider_unref(p);
  return r;
}

/* The call must fail with `want` and say `needle`. */
static void expect_failure(const char *scenario, const char *tag, bool stream, hl_status want,
                           const char *needle) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  CHECK_INT(ask(p, mname(scenario, tag), stream, &r), want);
  CHECK(r == NULL);
  hl_response_free(r);
  CHECK_CONTAINS(hl_last_error(), needle);
  hl_provider_unref(p);
}

static cJSON *stats_of(const char *model) {
  cJSON *st = test_server_stats(&srv, model);
  CHECK(st != NULL);
  return st ? st : cJSON_CreateObject();
}

static cJSON *sent_body(const char *model) {
  cJSON *st = stats_of(model);
  cJSON *body = cJSON_DetachItemFromObject(st, "last_body");
  cJSON_Delete(st);
  return body;
}

static void check_args(const hl_part *p, const char *name, const char *args) {
  CHECK_INT(p->kind, HL_PART_TOOL_CALL);
  CHECK_STR(p->name, name);
  CHECK(json_is(p->args, args));
}

/* ------------------------------------------------------------------ */
/* Plain text, usage, the request line                                 */
/* ------------------------------------------------------------------ */

static void check_text(const hl_response *r) {
  REQUIRE(r);
  char *t = hl_message_text(r->message);
  CHECK_STR(t, TEXT);
  hl_free(t);
  CHECK_INT(r->message->n_parts, 1);
  CHECK_INT(r->finish, HL_FINISH_STOP);
  /* Responses: input 11 (4 cached), output 7 (3 reasoning). Gemini: input
   * 9 + 2 tool-use prompt (5 cached), output 4 + 3 thoughts. */
  CHECK_INT(r->usage.input_tokens, 11);
  CHECK_INT(r->usage.output_tokens, 7);
  CHECK_INT(r->usage.cached_tokens, W == &GEMINI ? 5 : 4);
  CHECK_INT(r->usage.reasoning_tokens, 3);
  CHECK_STR(r->id, W == &GEMINI ? "gm-resp-1" : "resp_1");
  /* Gemini's text part carries the thought signature it came with. */
  if (W == &GEMINI) CHECK_STR(r->message->parts[0].signature, SIG_TEXT);
  else CHECK_STR(r->message->parts[0].signature, "msg_1");
}

static void text(bool stream) {
  const char *tag = stream ? "stream" : "plain";
  hl_response *r = answer("text", tag, stream);
  check_text(r);
  /* The usage survives hookline's JSON. */
  cJSON *j = hl_response_to_json(r);
  hl_response *back = NULL;
  CHECK_INT(hl_response_from_json(j, &back), HL_OK);
  REQUIRE(back);
  CHECK_INT(back->usage.cached_tokens, r->usage.cached_tokens);
  CHECK_INT(back->usage.reasoning_tokens, 3);
  CHECK_STR(back->message->parts[0].signature, r->message->parts[0].signature);
  hl_response_free(back);
  cJSON_Delete(j);
  hl_response_free(r);

  cJSON *st = stats_of(mname("text", tag));
  const cJSON *h = hl_json_get(st, "last_headers");
  const char *path = hl_json_get_string(h, ":path");
  if (W == &GEMINI) {
    char want[256];
    snprintf(want, sizeof want, "/v1/models/%s:%s", mname("text", tag),
             stream ? "streamGenerateContent?alt=sse" : "generateContent");
    CHECK_STR(path, want);
    CHECK_STR(hl_json_get_string(h, "x-goog-api-key"), KEY);
    CHECK(hl_json_get(h, "authorization") == NULL);
    const cJSON *b = hl_json_get(st, "last_body");
    CHECK(json_is(hl_json_get(b, "systemInstruction"), "{\"parts\":[{\"text\":\"You are terse.\"}]}"));
    CHECK(json_is(hl_json_get(b, "contents"), "[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi there\"}]}]"));
  } else {
    CHECK_STR(path, "/v1/responses");
    CHECK_STR(hl_json_get_string(h, "authorization"), "Bearer " KEY);
    const cJSON *b = hl_json_get(st, "last_body");
    CHECK_STR(hl_json_get_string(b, "instructions"), "You are terse.");
    CHECK(json_is(hl_json_get(b, "input"), "[{\"role\":\"user\",\"content\":\"Hi there\"}]"));
    CHECK(cJSON_IsTrue(hl_json_get(b, "stream")) == stream);
  }
  cJSON_Delete(st);
}

static void text_plain(void) { text(false); }
static void text_stream(void) { text(true); }

/* ------------------------------------------------------------------ */
/* Tool calls with reasoning                                           */
/* ------------------------------------------------------------------ */

static void check_tools(const hl_response *r) {
  REQUIRE(r);
  hl_message *m = r->message;
  REQUIRE(m->n_parts == 5);
  /* The reasoning first, kept whole for the next request. */
  CHECK_INT(m->parts[0].kind, HL_PART_REASONING);
  CHECK_STR(m->parts[0].text, SUMMARY);
  if (W == &GEMINI) {
    CHECK_STR(m->parts[0].name, "gemini");
    CHECK(json_is(m->parts[0].args, "{\"text\":\"" SUMMARY "\",\"thought\":true}"));
  } else {
    CHECK_STR(m->parts[0].name, "openai-responses");
    CHECK_STR(m->parts[0].id, "rs_1");
    CHECK(json_is(m->parts[0].args, REASONING_ITEM));
  }
  CHECK_INT(m->parts[1].kind, HL_PART_TEXT);
  CHECK_STR(m->parts[1].text, TOOLS_TEXT);
  check_args(&m->parts[2], "get_weather", "{\"city\":\"Paris\",\"unit\":\"celsius\"}");
  check_args(&m->parts[3], "get_time", "{\"tz\":\"Europe/Paris\"}");
  check_args(&m->parts[4], "add", "{\"a\":1,\"b\":2.5,\"note\":\"\xc3\xa9t\xc3\xa9 \\\"quoted\\\"\"}");
  if (W == &GEMINI) {
    /* No ids from the API: made up, distinct. Only the first call of a
     * parallel set carries the signature. */
    CHECK_STR(m->parts[2].id, "gemini-call-0");
    CHECK_STR(m->parts[4].id, "gemini-call-2");
    CHECK_STR(m->parts[2].signature, SIG_CALL);
    CHECK(m->parts[3].signature == NULL);
    CHECK(m->parts[4].signature == NULL);
  } else {
    CHECK_STR(m->parts[2].id, "call_0");
    CHECK_STR(m->parts[4].id, "call_2");
    CHECK_STR(m->parts[2].signature, "fc_0");
    CHECK_STR(m->parts[4].signature, "fc_2");
  }
  CHECK_INT(r->finish, HL_FINISH_TOOL_CALLS);
  /* Reasoning never leaks into the answer's text. */
  char *t = hl_message_text(m);
  CHECK_STR(t, TOOLS_TEXT);
  hl_free(t);
}

static void tools_plain(void) {
  hl_response *r = answer("tools", "plain", false);
  check_tools(r);
  hl_response_free(r);
}

static void tools_stream(void) {
  hl_response *r = answer("tools", "stream", true);
  check_tools(r);
  hl_response_free(r);
}

/* The streamed and the plain answer are the same response. */
static void stream_equals_plain(void) {
  const char *scen[] = {"text", "tools", "unknown"};
  for (size_t i = 0; i < 3; i++) {
    hl_response *a = answer(scen[i], "eq-plain", false);
    hl_response *b = answer(scen[i], "eq-stream", true);
    REQUIRE(a && b);
    cJSON *ja = hl_response_to_json(a), *jb = hl_response_to_json(b);
    /* The model names differ by their tag; the rest must not. */
    cJSON_DeleteItemFromObject(ja, "model");
    cJSON_DeleteItemFromObject(jb, "model");
    char *sb = cJSON_PrintUnformatted(jb);
    CHECK(json_is(ja, sb));
    free(sb);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    hl_response_free(a);
    hl_response_free(b);
  }
}

/* The tools answer goes back in the history with the tool results: the
 * reasoning item / thought signatures reach the server as they came. */
static void reasoning_round_trip(bool stream) {
  hl_provider *p = provider();
  REQUIRE(p);
  if (W == &RESPONSES) {
    CHECK_INT(hl_responses_set_store(p, false), HL_OK);
    CHECK_INT(hl_responses_set_reasoning(p, "low", "auto"), HL_OK);
  } else {
    cJSON *tc = cJSON_Parse("{\"thinkingBudget\":512,\"includeThoughts\":true}");
    CHECK_INT(hl_gemini_set_thinking(p, tc), HL_OK);
    cJSON_Delete(tc);
  }
  hl_request *req = simple_request(mname("tools", stream ? "rt1-stream" : "rt1-plain"), stream);
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  REQUIRE(r);
  hl_message *results = hl_message_new(HL_ROLE_TOOL);
  for (size_t i = 0; i < r->message->n_parts; i++) {
    const hl_part *c = &r->message->parts[i];
    if (c->kind != HL_PART_TOOL_CALL) continue;
    /* Gemini needs the tool's name: the history's call supplies it. */
    hl_message_add_tool_result(results, c->id, NULL, i == 3 ? "bad zone" : "{\"ok\":true}", i == 3);
  }
  hl_messages_push(&req->messages, hl_message_clone(r->message));
  hl_messages_push(&req->messages, results);
  const char *model2 = mname("echo", stream ? "rt2-stream" : "rt2-plain");
  hl_request_set_model(req, model2);
  hl_response_free(r);
  r = NULL;
  hl_status st = hl_provider_complete(p, NULL, req, &r);
  if (st != HL_OK) fprintf(stderr, "  second call: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  hl_response_free(r);
  hl_request_free(req);
  cJSON *b = sent_body(model2);
  REQUIRE(b);
  if (W == &RESPONSES) {
    CHECK(json_is(hl_json_get(b, "input"),
                  "[{\"role\":\"user\",\"content\":\"Hi there\"}," REASONING_ITEM ","
                  "{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":"
                  "[{\"type\":\"output_text\",\"text\":\"" TOOLS_TEXT "\"}]},"
                  "{\"type\":\"function_call\",\"id\":\"fc_0\",\"call_id\":\"call_0\",\"name\":\"get_weather\","
                  "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"celsius\\\"}\"},"
                  "{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_time\","
                  "\"arguments\":\"{\\\"tz\\\":\\\"Europe/Paris\\\"}\"},"
                  "{\"type\":\"function_call\",\"id\":\"fc_2\",\"call_id\":\"call_2\",\"name\":\"add\","
                  "\"arguments\":\"{\\\"a\\\":1,\\\"b\\\":2.5,\\\"note\\\":\\\"\xc3\xa9t\xc3\xa9 \\\\\\\"quoted\\\\\\\"\\\"}\"},"
                  "{\"type\":\"function_call_output\",\"call_id\":\"call_0\",\"output\":\"{\\\"ok\\\":true}\"},"
                  "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"bad zone\"},"
                  "{\"type\":\"function_call_output\",\"call_id\":\"call_2\",\"output\":\"{\\\"ok\\\":true}\"}]"));
    CHECK(cJSON_IsFalse(hl_json_get(b, "store")));
    CHECK(json_is(hl_json_get(b, "include"), "[\"reasoning.encrypted_content\"]"));
    CHECK(json_is(hl_json_get(b, "reasoning"), "{\"effort\":\"low\",\"summary\":\"auto\"}"));
  } else {
    CHECK(json_is(hl_json_get(b, "contents"),
                  "[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi there\"}]},"
                  "{\"role\":\"model\",\"parts\":[{\"text\":\"" SUMMARY "\",\"thought\":true},"
                  "{\"text\":\"" TOOLS_TEXT "\"},"
                  "{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\",\"unit\":\"celsius\"}},"
                  "\"thoughtSignature\":\"" SIG_CALL "\"},"
                  "{\"functionCall\":{\"name\":\"get_time\",\"args\":{\"tz\":\"Europe/Paris\"}}},"
                  "{\"functionCall\":{\"name\":\"add\",\"args\":{\"a\":1,\"b\":2.5,\"note\":\"\xc3\xa9t\xc3\xa9 \\\"quoted\\\"\"}}}]},"
                  "{\"role\":\"user\",\"parts\":["
                  "{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"ok\":true}}},"
                  "{\"functionResponse\":{\"name\":\"get_time\",\"response\":{\"error\":\"bad zone\"}}},"
                  "{\"functionResponse\":{\"name\":\"add\",\"response\":{\"ok\":true}}}]}]"));
    CHECK(json_is(hl_json_get(b, "generationConfig"),
                  "{\"thinkingConfig\":{\"thinkingBudget\":512,\"includeThoughts\":true}}"));
  }
  cJSON_Delete(b);
  hl_provider_unref(p);
}

static void reasoning_round_trip_plain(void) { reasoning_round_trip(false); }
static void reasoning_round_trip_stream(void) { reasoning_round_trip(true); }

/* ------------------------------------------------------------------ */
/* The whole request                                                   */
/* ------------------------------------------------------------------ */

/* rich_request() (provider_fixture.h) with someone else's reasoning in
 * the assistant turn: no provider but its own sends it. */
static hl_request *rich_request_v2(const char *model) {
  hl_request *r = rich_request(model);
  cJSON *other = cJSON_Parse("{\"type\":\"thinking\",\"thinking\":\"hm\"}");
  hl_message_add_reasoning(r->messages.items[2], "anthropic", NULL, "hm", other, "anthropic-sig");
  cJSON_Delete(other);
  return r;
}

static void wire_encoding(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = mname("echo", "enc");
  hl_request *req = rich_request_v2(model);
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  hl_request_free(req);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  if (W == &RESPONSES) {
    CHECK(json_is(b,
                  "{\"model\":\"echo@responses-enc\",\"instructions\":\"Be brief.\",\"input\":["
                  "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
                  "{\"role\":\"assistant\",\"content\":\"Checking.\"},"
                  "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
                  "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"get_time\",\"arguments\":\"{}\"},"
                  "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"sunny\"},"
                  "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":\"no tz\"},"
                  "{\"role\":\"user\",\"content\":\"Thanks\"}],"
                  "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"Weather of a city\","
                  "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}},"
                  "{\"type\":\"function\",\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}],"
                  "\"tool_choice\":{\"type\":\"function\",\"name\":\"get_weather\"},"
                  "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"answer\",\"schema\":"
                  "{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}}}}},"
                  "\"temperature\":0.5,\"max_output_tokens\":100}"));
  } else {
    CHECK(json_is(b,
                  "{\"contents\":["
                  "{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris?\"}]},"
                  "{\"role\":\"model\",\"parts\":[{\"text\":\"Checking.\"},"
                  "{\"functionCall\":{\"id\":\"c1\",\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}},"
                  "{\"functionCall\":{\"id\":\"c2\",\"name\":\"get_time\",\"args\":{}}}]},"
                  "{\"role\":\"user\",\"parts\":["
                  "{\"functionResponse\":{\"id\":\"c1\",\"name\":\"get_weather\",\"response\":{\"result\":\"sunny\"}}},"
                  "{\"functionResponse\":{\"id\":\"c2\",\"name\":\"get_time\",\"response\":{\"error\":\"no tz\"}}},"
                  "{\"text\":\"Thanks\"}]}],"
                  "\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"}]},"
                  "\"tools\":[{\"functionDeclarations\":["
                  "{\"name\":\"get_weather\",\"description\":\"Weather of a city\","
                  "\"parametersJsonSchema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}},"
                  "{\"name\":\"get_time\",\"parametersJsonSchema\":{\"type\":\"object\",\"properties\":{}}}]}],"
                  "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"get_weather\"]}},"
                  "\"generationConfig\":{\"temperature\":0.5,\"maxOutputTokens\":100,\"stopSequences\":[\"END\"],"
                  "\"responseMimeType\":\"application/json\",\"responseJsonSchema\":"
                  "{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}}}}}"));
  }
  cJSON_Delete(b);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Finish reasons, odd answers, errors                                  */
/* ------------------------------------------------------------------ */

static void finish_reasons(void) {
  for (int s = 0; s < 2; s++) {
    const char *tag = s ? "stream" : "plain";
    const char *cut = W == &GEMINI ? "maxtokens" : "incomplete";
    hl_response *r = answer(cut, tag, s);
    REQUIRE(r);
    CHECK_INT(r->finish, HL_FINISH_LENGTH);
    char *t = hl_message_text(r->message);
    CHECK_STR(t, "Cut sh");
    hl_free(t);
    hl_response_free(r);
    /* Refused (Responses) or stopped by a filter part way (Gemini): the
     * words that came, and the reason. */
    r = answer(W == &GEMINI ? "safetypartial" : "refusal", tag, s);
    REQUIRE(r);
    CHECK_INT(r->finish, HL_FINISH_CONTENT_FILTER);
    t = hl_message_text(r->message);
    CHECK_STR(t, W == &GEMINI ? "Well, the first st" : "I can't help with that.");
    hl_free(t);
    hl_response_free(r);
  }
}

/* Unknown event types, output item types, part kinds and fields. */
static void unknown_things_ignored(void) {
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("unknown", s ? "stream" : "plain", s);
    REQUIRE(r);
    char *t = hl_message_text(r->message);
    CHECK_STR(t, TEXT);
    hl_free(t);
    CHECK_INT(r->message->n_parts, 1);
    hl_response_free(r);
  }
}

static void errors_in_2xx_and_streams(void) {
  expect_failure("bodyerror", "plain", false, HL_ERR_PROVIDER, "backend exploded");
  expect_failure("streamerror", "stream", true, HL_ERR_PROVIDER,
                 W == &GEMINI ? "The model is overloaded" : "Slow down mid-stream");
  expect_failure("cut", "stream", true, HL_ERR_PROVIDER, "the stream ended before");
  if (W == &RESPONSES) {
    expect_failure("failed", "plain", false, HL_ERR_PROVIDER, "The model crashed");
    expect_failure("streamfailed", "stream", true, HL_ERR_PROVIDER, "The model crashed");
    expect_failure("badargs", "plain", false, HL_ERR_PROVIDER, "not valid JSON");
    expect_failure("badindex", "stream", true, HL_ERR_PROVIDER, "bad output_index");
  } else {
    expect_failure("blocked", "plain", false, HL_ERR_PROVIDER, "blocked (blockReason SAFETY)");
    expect_failure("blocked", "stream", true, HL_ERR_PROVIDER, "blocked (blockReason SAFETY)");
    expect_failure("safety", "plain", false, HL_ERR_PROVIDER, "finishReason SAFETY");
    expect_failure("safety", "stream", true, HL_ERR_PROVIDER, "finishReason SAFETY");
  }
}

/* Two candidates, index 1 first: the answer is candidate 0's. */
static void multiple_candidates(void) {
  W = &GEMINI;
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("multi", s ? "stream" : "plain", s);
    REQUIRE(r);
    char *t = hl_message_text(r->message);
    CHECK_STR(t, TEXT);
    hl_free(t);
    hl_response_free(r);
  }
}

/* A stream with only the final response event, and one whose calls never
 * get an output_item.done: both still make the answer. */
static void responses_sparse_streams(void) {
  W = &RESPONSES;
  hl_response *r = answer("onlyfinal", "stream", true);
  REQUIRE(r);
  char *t = hl_message_text(r->message);
  CHECK_STR(t, TEXT);
  hl_free(t);
  hl_response_free(r);
  r = answer("donemarker", "stream", true);
  REQUIRE(r);
  t = hl_message_text(r->message);
  CHECK_STR(t, TEXT);
  hl_free(t);
  hl_response_free(r);
  expect_failure("cutdone", "stream", true, HL_ERR_PROVIDER, "ended before response.completed");
  r = answer("nodone", "stream", true);
  REQUIRE(r && r->message->n_parts == 1);
  check_args(&r->message->parts[0], "get_weather", "{\"city\":\"Paris\"}");
  CHECK_STR(r->message->parts[0].signature, "fc_0");
  hl_response_free(r);
}

/* Usage in a chunk of its own after the finishReason counts; a part
 * with nothing but a signature goes back in its place. */
static void gemini_stream_edges(void) {
  W = &GEMINI;
  hl_response *r = answer("lateusage", "stream", true);
  REQUIRE(r);
  CHECK_INT(r->usage.input_tokens, 11);
  CHECK_INT(r->usage.output_tokens, 7);
  CHECK_STR(r->id, "gm-resp-1");
  hl_response_free(r);
  for (int s = 0; s < 2; s++) {
    hl_provider *p = provider();
    REQUIRE(p);
    hl_request *req = simple_request(mname("sigonly", s ? "stream" : "plain"), s);
    CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
    REQUIRE(r && r->message->n_parts == 2);
    CHECK_INT(r->message->parts[1].kind, HL_PART_REASONING);
    hl_messages_push(&req->messages, hl_message_clone(r->message));
    hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "more"));
    const char *model2 = mname("echo", s ? "sig-stream" : "sig-plain");
    hl_request_set_model(req, model2);
    hl_response_free(r);
    r = NULL;
    CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
    hl_response_free(r);
    hl_request_free(req);
    cJSON *b = sent_body(model2);
    CHECK(json_is(hl_json_get(b, "contents"),
                  "[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi there\"}]},"
                  "{\"role\":\"model\",\"parts\":[{\"text\":\"" TEXT "\"},"
                  "{\"thoughtSignature\":\"" SIG_TEXT "\"}]},"
                  "{\"role\":\"user\",\"parts\":[{\"text\":\"more\"}]}]"));
    cJSON_Delete(b);
    hl_provider_unref(p);
  }
}

static void gemini_bad_model_name(void) {
  W = &GEMINI;
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  CHECK_INT(ask(p, "../../v1/secrets?x=1", false, &r), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "not usable in a URL");
  CHECK(r == NULL);
  hl_provider_unref(p);
}

static void auth_error_redacted(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  const char *model = mname("auth", "t");
  CHECK_INT(ask(p, model, false, &r), HL_ERR_AUTH);
  const char *msg = hl_last_error();
  CHECK_CONTAINS(msg, "HTTP 401");
  CHECK_CONTAINS(msg, "API key not valid");
  CHECK(strstr(msg, "SECRET") == NULL);
  CHECK_CONTAINS(msg, "[REDACTED]");
  CHECK_INT(test_server_count(&srv, model), 1);
  hl_provider_unref(p);
}

/* A server that never answers: the idle timeout ends the call, and so
 * does the provider's cancel from another thread. */
typedef struct canceller {
  hl_provider *p;
  atomic_bool done;
} canceller;

/* Cancel every 100 ms until the call returns: a cancel only reaches
 * requests already in progress, and a loaded machine may start it late. */
static void *cancel_soon(void *arg) {
  canceller *c = arg;
  while (!atomic_load(&c->done)) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    if (W == &GEMINI) hl_gemini_cancel(c->p);
    else hl_responses_cancel(c->p);
  }
  return NULL;
}

static void hang_timeout_and_cancel(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_status (*timeouts)(hl_provider *, long, long, long) =
      W == &GEMINI ? hl_gemini_set_timeouts : hl_responses_set_timeouts;
  CHECK_INT(timeouts(p, -1, -1, 400), HL_OK);
  CHECK_INT(W->retries(p, 0, -1, -1), HL_OK);
  hl_response *r = NULL;
  CHECK_INT(ask(p, mname("hang", "timeout"), true, &r), HL_ERR_TIMEOUT);
  CHECK(r == NULL);
  CHECK_INT(timeouts(p, -1, -1, 0), HL_OK);
  canceller c = {p, false};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, cancel_soon, &c) == 0);
  CHECK_INT(ask(p, mname("hang", "cancel"), false, &r), HL_ERR_CANCELLED);
  atomic_store(&c.done, true);
  pthread_join(th, NULL);
  CHECK(r == NULL);
  hl_provider_unref(p);
}

static void retry_429(void) {
  hl_response *r = answer("r429", "t", false);
  REQUIRE(r);
  CHECK_INT(test_server_count(&srv, mname("r429", "t")), 2);
  hl_response_free(r);
}

/* Only HTTP providers of that format accept their setters. */
static void setters_reject_other_providers(void) {
  hl_provider *o = hl_openai_new("http://127.0.0.1:1/v1", "");
  hl_provider *g = hl_gemini_new("http://127.0.0.1:1/v1", "");
  REQUIRE(o && g);
  CHECK_INT(hl_responses_set_store(o, false), HL_ERR_INVALID);
  CHECK_INT(hl_responses_set_model(g, "x"), HL_ERR_INVALID);
  CHECK_INT(hl_gemini_set_model(o, "x"), HL_ERR_INVALID);
  cJSON *arr = cJSON_CreateArray();
  CHECK_INT(hl_gemini_set_thinking(g, arr), HL_ERR_INVALID);
  cJSON_Delete(arr);
  hl_provider_unref(o);
  hl_provider_unref(g);
}

/* Gemini's key: the argument, else GOOGLE_API_KEY, else GEMINI_API_KEY. */
static void gemini_key_from_environment(void) {
  W = &GEMINI;
  setenv("GEMINI_API_KEY", "gemini-env-key", 1);
  unsetenv("GOOGLE_API_KEY");
  const char *model = mname("text", "envkey");
  for (int k = 0; k < 2; k++) {
    if (k == 1) setenv("GOOGLE_API_KEY", "google-env-key", 1);
    hl_provider *p = hl_gemini_new(srv.base, NULL);
    REQUIRE(p);
    hl_response *r = NULL;
    CHECK_INT(ask(p, model, false, &r), HL_OK);
    hl_response_free(r);
    cJSON *st = stats_of(model);
    CHECK_STR(hl_json_get_string(hl_json_get(st, "last_headers"), "x-goog-api-key"),
              k ? "google-env-key" : "gemini-env-key");
    cJSON_Delete(st);
    hl_provider_unref(p);
  }
  unsetenv("GEMINI_API_KEY");
  unsetenv("GOOGLE_API_KEY");
}

/* Chat Completions (issue 17 item 4): max_completion_tokens learnt from
 * the server's refusal once and remembered; reasoning_effort and
 * parallel_tool_calls as options. */
static hl_status ask_openai(hl_provider *p, const char *model, bool tools) {
  hl_request *req = simple_request(model, false);
  req->max_tokens = 50;
  if (tools) hl_request_add_tool(req, "get_time", "Time", NULL);
  hl_response *r = NULL;
  hl_status st = hl_provider_complete(p, NULL, req, &r);
  if (st == HL_OK) {
    char *t = hl_message_text(r->message);
    CHECK_STR(t, TEXT);
    hl_free(t);
  }
  hl_response_free(r);
  hl_request_free(req);
  return st;
}

static void openai_completion_options(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  const char *model = "nomaxtokens@v2-openai-learn";
  CHECK_INT(ask_openai(p, model, false), HL_OK);
  CHECK_INT(test_server_count(&srv, model), 2); /* refused, then asked again */
  cJSON *b = sent_body(model);
  CHECK_INT(hl_json_get_number(b, "max_completion_tokens", 0), 50);
  CHECK(hl_json_get(b, "max_tokens") == NULL);
  CHECK(hl_json_get(b, "parallel_tool_calls") == NULL);
  CHECK(hl_json_get(b, "reasoning_effort") == NULL);
  cJSON_Delete(b);
  /* Remembered: one request now, with the options. */
  CHECK_INT(hl_openai_set_reasoning_effort(p, "low"), HL_OK);
  CHECK_INT(hl_openai_set_parallel_tool_calls(p, false), HL_OK);
  CHECK_INT(ask_openai(p, model, true), HL_OK);
  CHECK_INT(test_server_count(&srv, model), 3);
  b = sent_body(model);
  CHECK_INT(hl_json_get_number(b, "max_completion_tokens", 0), 50);
  CHECK_STR(hl_json_get_string(b, "reasoning_effort"), "low");
  CHECK(cJSON_IsFalse(hl_json_get(b, "parallel_tool_calls")));
  cJSON_Delete(b);
  /* Without tools the API refuses parallel_tool_calls: not sent. */
  CHECK_INT(ask_openai(p, model, false), HL_OK);
  b = sent_body(model);
  CHECK(hl_json_get(b, "parallel_tool_calls") == NULL);
  cJSON_Delete(b);
  hl_provider_unref(p);

  /* Told to always use max_tokens: the refusal is the answer. */
  p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  model = "nomaxtokens@v2-openai-fixed";
  CHECK_INT(hl_openai_set_max_completion_tokens(p, false), HL_OK);
  CHECK_INT(ask_openai(p, model, false), HL_ERR_HTTP);
  CHECK_CONTAINS(hl_last_error(), "max_completion_tokens");
  CHECK_INT(test_server_count(&srv, model), 1);
  /* And told to use max_completion_tokens: right the first time. */
  CHECK_INT(hl_openai_set_max_completion_tokens(p, true), HL_OK);
  model = "nomaxtokens@v2-openai-always";
  CHECK_INT(ask_openai(p, model, false), HL_OK);
  CHECK_INT(test_server_count(&srv, model), 1);
  CHECK_INT(hl_openai_set_reasoning_effort(hl_provider_ref(p), NULL), HL_OK);
  hl_provider_unref(p);
  hl_provider_unref(p);
}

/* A resend whose body comes out another length (http.c, before_send):
 * the body of a call in flight goes once sent; libcurl sends the request
 * again on a new connection when its keep-alive connection dies
 * unanswered, and the body made again for that names max_tokens' field as
 * the provider knows it then. Here another call of the same provider
 * learns max_completion_tokens while the first is held by the server
 * (server_v2.py, droplearnt): the resend's body is 11 bytes longer than
 * the length libcurl took at the transfer's start, so it is not sent;
 * without retries the call fails saying why, with them the next attempt
 * sends the new body whole. */
typedef struct held_call {
  hl_provider *p;
  const char *model;
  hl_status first, st;
  char why[512];
} held_call;

/* Two calls on one thread: a blocking caller's requests go through its
 * thread's loop (net/engine.h) and so its connections; the first
 * is answered and leaves the keep-alive connection the second goes out
 * on. */
static void *ask_held(void *arg) {
  held_call *h = arg;
  h->first = ask_openai(h->p, h->model, false);
  h->st = ask_openai(h->p, h->model, false);
  snprintf(h->why, sizeof h->why, "%s", h->st == HL_OK ? "" : hl_last_error());
  return NULL;
}

static void openai_resend_body_of_another_length(void) {
  for (int retries = 0; retries <= 1; retries++) {
    hl_provider *p = hl_openai_new(srv.base, KEY);
    REQUIRE(p);
    CHECK_INT(hl_openai_set_retries(p, retries ? 2 : 0, 10, 1000), HL_OK);
    char held[64], learner[64];
    snprintf(held, sizeof held, "droplearnt@v2-resend-%d", retries);
    snprintf(learner, sizeof learner, "nomaxtokens@v2-resend-%d", retries);
    held_call h = {p, held, HL_OK, HL_OK, ""};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, ask_held, &h) == 0);
    for (int i = 0; i < 10000 && test_server_count(&srv, held) < 2; i++)
      nanosleep(&(struct timespec){0, 1000000}, NULL);
    CHECK_INT(test_server_count(&srv, held), 2); /* read whole, held */
    CHECK_INT(ask_openai(p, learner, false), HL_OK); /* refused, learnt, asked again */
    pthread_join(th, NULL);
    CHECK_INT(h.first, HL_OK);
    if (retries == 0) {
      /* Only the resend of a request whose body came out another length
       * says this: libcurl did send it again (the connection was reused),
       * and before_send() refused the new body. */
      CHECK_INT(h.st, HL_ERR_NETWORK);
      CHECK_CONTAINS(h.why, "needed sending again on a new connection");
      CHECK_INT(test_server_count(&srv, held), 2); /* the resend never left */
    } else {
      CHECK_INT(h.st, HL_OK);
      CHECK_INT(test_server_count(&srv, held), 3);
      cJSON *b = sent_body(held);
      CHECK_INT(hl_json_get_number(b, "max_completion_tokens", 0), 50);
      CHECK(hl_json_get(b, "max_tokens") == NULL);
      cJSON_Delete(b);
    }
    hl_provider_unref(p);
  }
}

/* Reasoning parts and signatures in hookline's own JSON and copies, and
 * the older providers leave them out of their requests. */
static void reasoning_parts_in_history(void) {
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *item = cJSON_Parse(REASONING_ITEM);
  CHECK_INT(hl_message_add_reasoning(m, "openai-responses", "rs_1", SUMMARY, item, NULL), HL_OK);
  CHECK_INT(hl_message_add_text(m, "ok"), HL_OK);
  CHECK_INT(hl_message_set_signature(m, 1, SIG_TEXT), HL_OK);
  CHECK_INT(hl_message_set_signature(m, 7, "x"), HL_ERR_INVALID);
  cJSON *arr = cJSON_CreateArray();
  CHECK_INT(hl_message_add_reasoning(m, "gemini", NULL, NULL, arr, NULL), HL_ERR_INVALID);
  cJSON_Delete(arr);
  hl_message *c = hl_message_clone(m);
  REQUIRE(c);
  cJSON *j = hl_message_to_json(c);
  hl_message *back = NULL;
  CHECK_INT(hl_message_from_json(j, &back), HL_OK);
  REQUIRE(back && back->n_parts == 2);
  CHECK_INT(back->parts[0].kind, HL_PART_REASONING);
  CHECK_STR(back->parts[0].name, "openai-responses");
  CHECK_STR(back->parts[0].id, "rs_1");
  CHECK_STR(back->parts[0].text, SUMMARY);
  CHECK(json_is(back->parts[0].args, REASONING_ITEM));
  CHECK_STR(back->parts[1].signature, SIG_TEXT);
  char *t = hl_message_text(back);
  CHECK_STR(t, "ok");
  hl_free(t);

  /* Chat Completions and Anthropic over the same server: no trace of it. */
  hl_provider *ps[2] = {hl_openai_new(srv.base, KEY), hl_anthropic_new(srv.base, KEY)};
  const char *models[2] = {"echo@v2-openai-reasoning", "echo@v2-anthropic-reasoning"};
  for (int i = 0; i < 2; i++) {
    REQUIRE(ps[i]);
    hl_request *req = simple_request(models[i], false);
    hl_messages_push(&req->messages, hl_message_clone(back));
    hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "and?"));
    hl_response *r = NULL;
    CHECK_INT(hl_provider_complete(ps[i], NULL, req, &r), HL_OK);
    hl_response_free(r);
    hl_request_free(req);
    cJSON *b = sent_body(models[i]);
    char *s = cJSON_PrintUnformatted(b);
    CHECK(s && strstr(s, "encrypted") == NULL && strstr(s, "rs_1") == NULL);
    CHECK_CONTAINS(s, "\"ok\"");
    free(s);
    cJSON_Delete(b);
    hl_provider_unref(ps[i]);
  }
  cJSON_Delete(j);
  cJSON_Delete(item);
  hl_message_free(back);
  hl_message_free(c);
  hl_message_free(m);
}

/* ------------------------------------------------------------------ */
/* An agent end to end                                                 */
/* ------------------------------------------------------------------ */

typedef struct tokens {
  pthread_mutex_t lock;
  char text[1024];
  int n;
} tokens;

static void on_token(const char *delta, void *ud) {
  tokens *t = ud;
  pthread_mutex_lock(&t->lock);
  strncat(t->text, delta, sizeof t->text - strlen(t->text) - 1);
  t->n++;
  pthread_mutex_unlock(&t->lock);
}

static void agent_run(bool stream) {
  const char *model = mname("agent", stream ? "stream" : "plain");
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = hl_agent_new("assistant");
  hl_observer *obs = hl_observer_collecting();
  REQUIRE(a && obs);
  hl_agent_set_instruction(a, "Answer with the tools.");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  hl_agent_add_observer(a, obs);
  hl_tool *w = hl_tool_new("get_weather", "Weather of a city", get_weather, NULL);
  hl_tool_param(w, "city", "string", "City name", true);
  hl_tool *t = hl_tool_new("get_time", "Time in a zone", get_time, NULL);
  hl_tool_param(t, "tz", "string", "Time zone", true);
  hl_agent_add_tool(a, w);
  hl_agent_add_tool(a, t);
  hl_tool_unref(w);
  hl_tool_unref(t);
  tokens tk;
  memset(&tk, 0, sizeof tk);
  pthread_mutex_init(&tk.lock, NULL);
  if (stream) {
    hl_agent_set_stream(a, true);
    hl_agent_set_token_callback(a, on_token, &tk);
  }
  char *out = NULL;
  hl_status st = hl_agent_run(a, NULL, "Weather and time in Paris?", &out);
  if (st != HL_OK) fprintf(stderr, "  run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  CHECK_STR(out, "Final: sunny in Paris | 12:00 CET");
  hl_free(out);
  if (stream) {
    CHECK_STR(tk.text, "Final: sunny in Paris | 12:00 CET");
    CHECK(tk.n > 1);
  }
  /* The second request carried the first answer's reasoning state. */
  cJSON *b = sent_body(model);
  char *s = cJSON_PrintUnformatted(b);
  REQUIRE(s);
  CHECK_INT(test_server_count(&srv, model), 2);
  if (W == &RESPONSES) {
    CHECK_CONTAINS(s, "\"encrypted_content\":\"gAAAAB-encrypted-reasoning==\"");
    CHECK_CONTAINS(s, "\"id\":\"fc_0\"");
    CHECK_CONTAINS(s, "\"call_id\":\"call_1\",\"output\":\"12:00 CET\"");
  } else {
    CHECK_CONTAINS(s, "\"thoughtSignature\":\"" SIG_CALL "\"");
    CHECK_CONTAINS(s, "\"name\":\"get_time\",\"response\":{\"result\":\"12:00 CET\"}");
  }
  free(s);
  cJSON_Delete(b);
  /* Usage reached the observers; the key did not. */
  cJSON *events = hl_observer_collected(obs);
  char *all = events ? cJSON_PrintUnformatted(events) : NULL;
  REQUIRE(all);
  CHECK(strstr(all, "SECRET") == NULL);
  CHECK_CONTAINS(all, "\"reasoning_tokens\":3");
  free(all);
  cJSON_Delete(events);
  pthread_mutex_destroy(&tk.lock);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

typedef struct chunks {
  pthread_mutex_t lock;
  char text[1024], tools[1024];
  int abort_at; /* abort on this text chunk (1-based), 0: never */
  int n_text;
} chunks;

static hl_hook_action on_chunk(hl_context *ctx, const hl_model_chunk_args *a,
                               hl_model_chunk_out *out, void *ud) {
  (void)ctx;
  (void)out;
  chunks *c = ud;
  pthread_mutex_lock(&c->lock);
  bool stop = false;
  if (a->kind == HL_CHUNK_TEXT) {
    strncat(c->text, a->text, sizeof c->text - strlen(c->text) - 1);
    stop = ++c->n_text == c->abort_at;
  } else {
    char line[256];
    snprintf(line, sizeof line, "%zu:%s:%s|", a->index, a->tool_name ? a->tool_name : "?", a->text);
    strncat(c->tools, line, sizeof c->tools - strlen(c->tools) - 1);
  }
  pthread_mutex_unlock(&c->lock);
  return stop ? hl_hook_abort("enough") : HL_HOOK_CONTINUE;
}

/* model_chunk sees every streamed delta of these providers: the text and
 * the tool calls' arguments; an abort from it stops the stream. */
static void model_chunk_sees_streams(void) {
  for (int abort = 0; abort < 2; abort++) {
    hl_provider *p = W->make(srv.base, KEY);
    hl_agent *a = hl_agent_new("assistant");
    REQUIRE(p && a);
    hl_agent_set_provider(a, p);
    hl_agent_set_model(a, mname("agent", abort ? "chunk-abort" : "chunk"));
    hl_agent_set_stream(a, true);
    hl_tool *w = hl_tool_new("get_weather", "Weather of a city", get_weather, NULL);
    hl_tool_param(w, "city", "string", "City name", true);
    hl_tool *t = hl_tool_new("get_time", "Time in a zone", get_time, NULL);
    hl_tool_param(t, "tz", "string", "Time zone", true);
    hl_agent_add_tool(a, w);
    hl_agent_add_tool(a, t);
    hl_tool_unref(w);
    hl_tool_unref(t);
    chunks c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    c.abort_at = abort ? 2 : 0;
    CHECK_INT(hl_hooks_add_model_chunk(hl_agent_hooks(a), "chunks", HL_HOOK_DECIDE, on_chunk, &c),
              HL_OK);
    char *out = NULL;
    hl_status st = hl_agent_run(a, NULL, "Weather and time in Paris?", &out);
    if (!abort) {
      CHECK_INT(st, HL_OK);
      CHECK_STR(c.text, "Final: sunny in Paris | 12:00 CET");
      /* Responses streams the arguments in fragments, interleaved, indexed
       * by output item (the reasoning item is 0); Gemini's come whole. */
      if (W == &GEMINI)
        CHECK_STR(c.tools, "0:get_weather:{\"city\":\"Paris\"}|1:get_time:{\"tz\":\"CET\"}|");
      else {
        CHECK_STR(c.tools, "1:get_weather:{\"ci|2:get_time:{\"tz|1:get_weather:ty\":|"
                           "2:get_time:\": \"|1:get_weather: \"Pa|2:get_time:CET\"|"
                           "1:get_weather:ris\"|2:get_time:}|1:get_weather:}|");
      }
    } else {
      CHECK_INT(st, HL_ERR_ABORTED);
      CHECK_INT(c.n_text, 2); /* nothing after the abort */
    }
    hl_free(out);
    pthread_mutex_destroy(&c.lock);
    hl_agent_unref(a);
    hl_provider_unref(p);
  }
}

static void agent_plain(void) { agent_run(false); }
static void agent_stream(void) { agent_run(true); }

/* ------------------------------------------------------------------ */

#define V2_SCENARIOS(X) \
  X(text_plain) X(text_stream) X(tools_plain) X(tools_stream) X(stream_equals_plain) \
  X(reasoning_round_trip_plain) X(reasoning_round_trip_stream) X(wire_encoding) \
  X(finish_reasons) X(unknown_things_ignored) X(errors_in_2xx_and_streams) \
  X(auth_error_redacted) X(retry_429) X(agent_plain) X(agent_stream) \
  X(hang_timeout_and_cancel) X(model_chunk_sees_streams)

V2_SCENARIOS(V2)

static const test_case tests[] = {
    V2_SCENARIOS(V2_ROWS)
    T(multiple_candidates),
    T(responses_sparse_streams),
    T(gemini_bad_model_name),
    T(gemini_stream_edges),
    T(gemini_key_from_environment),
    T(setters_reject_other_providers),
    T(reasoning_parts_in_history),
    T(openai_completion_options),
    T(openai_resend_body_of_another_length),
};

int main(int argc, char **argv) {
  return run_cases(&srv, tests, sizeof tests / sizeof tests[0], argc, argv);
}
