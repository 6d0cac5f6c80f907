/*
 * test_providers_v3.c - issue 17's second part over real HTTP on
 * 127.0.0.1 against server_v3.py: Anthropic extended thinking kept and
 * sent back byte for byte in a tool loop (plain, and streamed in 7-byte
 * chunks) and prompt caching; structured output for every provider
 * (valid, invalid then fixed, invalid twice: a clear error); images in
 * user messages per wire format and through the codecs; the price table
 * and the cost in LM_END, AGENT_END and TRACE_COMPLETE; the API key
 * redacted from 2xx answers.
 *
 *   test_providers_v3              run every test
 *   test_providers_v3 NAME...      run the named tests (meson runs one each)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "four_wires.h"
#include "hookline.h"
#include "provider_fixture.h"
#include "test_server.h"
#include "wire_cases.h"

#define KEY "sk-v3-SECRET-0123456789abcdef"
/* What server_v3.py sends (UTF-8 spelled out). */
#define THINKING "Let me think \xe2\x80\x94 weather first.\nThen \"time\"."
#define SIGNATURE "EqQBCkgIARABGAIiQL+sig/with+slashes==\xc3\xa9"
#define REDACTED "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"

static test_server srv;

#define V3(fn)                                                    \
  static void fn##_openai(void) { W = &OPENAI; fn(); }            \
  static void fn##_anthropic(void) { W = &ANTHROPIC; fn(); }      \
  static void fn##_responses(void) { W = &RESPONSES; fn(); }      \
  static void fn##_gemini(void) { W = &GEMINI; fn(); }
#define V3_ROWS(fn) T(fn##_openai), T(fn##_anthropic), T(fn##_responses), T(fn##_gemini),

/* "scenario@wire-tag" (Gemini: "scenario__wire-tag"): unique per test. */
static const char *mname(const char *scenario, const char *tag) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s%s%s-%s", scenario, W->sep, W->name, tag);
  return buf;
}

static cJSON *sent_body(const char *model) { return test_server_last_body(&srv, model); }

/* An agent on `p` with the get_weather tool and a collecting observer. */
static hl_agent *agent_on(hl_provider *p, const char *model, hl_observer *obs) {
  hl_agent *a = hl_agent_new("assistant");
  if (!a) return NULL;
  hl_agent_set_instruction(a, "Be brief.");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  if (obs) hl_agent_add_observer(a, obs);
  hl_tool *w = hl_tool_new("get_weather", "Weather of a city", get_weather, NULL);
  hl_tool_param(w, "city", "string", "City name", true);
  hl_agent_add_tool(a, w);
  hl_tool_unref(w);
  return a;
}

/* ------------------------------------------------------------------ */
/* Anthropic: extended thinking across a tool loop                      */
/* ------------------------------------------------------------------ */

/* The keys of `o`, in order, joined by ','. */
static void keys_of(const cJSON *o, char *out, size_t size) {
  out[0] = '\0';
  const cJSON *e;
  cJSON_ArrayForEach(e, o) {
    if (out[0]) strncat(out, ",", size - strlen(out) - 1);
    strncat(out, e->string ? e->string : "?", size - strlen(out) - 1);
  }
}

static void thinking_round_trip(bool stream) {
  const char *model = stream ? "x3think@anthropic-stream" : "x3think@anthropic-plain";
  hl_provider *p = hl_anthropic_new(srv.base, KEY);
  REQUIRE(p);
  CHECK_INT(hl_anthropic_set_thinking(p, 100), HL_ERR_INVALID); /* below the API's minimum */
  CHECK_INT(hl_anthropic_set_thinking(p, 2048), HL_OK);
  hl_agent *a = agent_on(p, model, NULL);
  REQUIRE(a);
  hl_agent_set_stream(a, stream);
  char *out = NULL;
  hl_status st = hl_agent_run(a, NULL, "Weather in Paris?", &out);
  if (st != HL_OK) fprintf(stderr, "  run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  CHECK_STR(out, "Final: sunny in Paris");
  hl_free(out);
  CHECK_INT(test_server_count(&srv, model), 2);

  /* The second request gives the first answer back: thinking and
   * redacted_thinking first, exactly as they came, then text and call. */
  cJSON *b = sent_body(model);
  REQUIRE(b);
  CHECK(json_is(hl_json_get(b, "thinking"), "{\"type\":\"enabled\",\"budget_tokens\":2048}"));
  const cJSON *asst = cJSON_GetArrayItem(hl_json_get(b, "messages"), 1);
  CHECK_STR(hl_json_get_string(asst, "role"), "assistant");
  const cJSON *content = hl_json_get(asst, "content");
  CHECK_INT(cJSON_GetArraySize(content), 4);
  const cJSON *th = cJSON_GetArrayItem(content, 0);
  char keys[128];
  keys_of(th, keys, sizeof keys);
  CHECK_STR(keys, "type,thinking,signature");
  CHECK_STR(hl_json_get_string(th, "type"), "thinking");
  CHECK_STR(hl_json_get_string(th, "thinking"), THINKING);
  CHECK_STR(hl_json_get_string(th, "signature"), SIGNATURE);
  const cJSON *rd = cJSON_GetArrayItem(content, 1);
  keys_of(rd, keys, sizeof keys);
  CHECK_STR(keys, "type,data");
  CHECK_STR(hl_json_get_string(rd, "type"), "redacted_thinking");
  CHECK_STR(hl_json_get_string(rd, "data"), REDACTED);
  CHECK(json_is(cJSON_GetArrayItem(content, 2), "{\"type\":\"text\",\"text\":\"Checking.\"}"));
  CHECK(json_is(cJSON_GetArrayItem(content, 3),
                "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\","
                "\"input\":{\"city\":\"Paris\"}}"));
  cJSON_Delete(b);

  /* Cache reads and writes are counted apart (and in the input). */
  hl_usage u = hl_agent_last_usage(a);
  CHECK_INT(u.input_tokens, 64);
  CHECK_INT(u.cached_tokens, 14);
  CHECK_INT(u.cache_creation_tokens, 10);
  hl_agent_unref(a);
  hl_provider_unref(p);
}
static void thinking_round_trip_plain(void) { thinking_round_trip(false); }
static void thinking_round_trip_stream(void) { thinking_round_trip(true); }

/* The first answer, plain and streamed, as parts: the same response. */
static void thinking_parts_stream_equals_plain(void) {
  hl_provider *p = hl_anthropic_new(srv.base, KEY);
  REQUIRE(p);
  cJSON *j[2] = {NULL, NULL};
  for (int s = 0; s < 2; s++) {
    hl_request *r = hl_request_new();
    hl_request_set_model(r, s ? "x3think@anthropic-parts-stream" : "x3think@anthropic-parts");
    hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Weather?"));
    r->stream = s == 1;
    hl_response *resp = NULL;
    CHECK_INT(hl_provider_complete(p, NULL, r, &resp), HL_OK);
    hl_request_free(r);
    if (!resp) continue;
    REQUIRE(resp->message->n_parts == 4);
    const hl_part *t = &resp->message->parts[0];
    CHECK_INT(t->kind, HL_PART_REASONING);
    CHECK_STR(t->name, "anthropic");
    CHECK_STR(t->text, THINKING);
    CHECK_STR(t->signature, SIGNATURE);
    CHECK_INT(resp->message->parts[1].kind, HL_PART_REASONING);
    CHECK(resp->message->parts[1].text == NULL);
    CHECK_INT(resp->message->parts[3].kind, HL_PART_TOOL_CALL);
    CHECK_INT(resp->finish, HL_FINISH_TOOL_CALLS);
    free(resp->model);
    resp->model = NULL;
    j[s] = hl_response_to_json(resp);
    hl_response_free(resp);
  }
  CHECK(j[0] && j[1] && hl_json_equal(j[0], j[1]));
  /* Another provider leaves Anthropic's thinking out of its request. */
  hl_response *back = NULL;
  REQUIRE(j[0] && hl_response_from_json(j[0], &back) == HL_OK);
  hl_provider *o = hl_openai_new(srv.base, KEY);
  hl_request *r = hl_request_new();
  hl_request_set_model(r, "x3echo@openai-thinking-left-out");
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Weather?"));
  hl_messages_push(&r->messages, hl_message_clone(back->message));
  hl_message *res = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(res, "toolu_1", "get_weather", "sunny", false);
  hl_messages_push(&r->messages, res);
  hl_response *resp = NULL;
  CHECK_INT(hl_provider_complete(o, NULL, r, &resp), HL_OK);
  cJSON *b = sent_body("x3echo@openai-thinking-left-out");
  char *s = b ? cJSON_PrintUnformatted(b) : NULL;
  REQUIRE(s);
  CHECK(strstr(s, "EqQBCkgI") == NULL && strstr(s, REDACTED) == NULL);
  CHECK_CONTAINS(s, "\"tool_call_id\":\"toolu_1\"");
  free(s);
  cJSON_Delete(b);
  hl_response_free(resp);
  hl_request_free(r);
  hl_response_free(back);
  hl_provider_unref(o);
  cJSON_Delete(j[0]);
  cJSON_Delete(j[1]);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Anthropic: prompt caching                                           */
/* ------------------------------------------------------------------ */

static hl_request *history_request(const char *model) {
  hl_request *r = hl_request_new();
  hl_request_set_model(r, model);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_SYSTEM, "Be brief."));
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Weather in Paris?"));
  hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = cJSON_Parse("{\"city\":\"Paris\"}");
  hl_message_add_tool_call(a, "c1", "get_weather", args);
  cJSON_Delete(args);
  hl_messages_push(&r->messages, a);
  hl_message *t = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(t, "c1", "get_weather", "sunny", false);
  hl_message_add_text(t, "And tomorrow?");
  hl_messages_push(&r->messages, t);
  hl_request_add_tool(r, "get_weather", "Weather of a city", NULL);
  hl_request_add_tool(r, "get_time", "Time of a zone", NULL);
  return r;
}

static void prompt_caching(void) {
  hl_provider *p = hl_anthropic_new(srv.base, KEY);
  REQUIRE(p);
  for (int on = 0; on < 2; on++) {
    const char *model = on ? "x3echo@anthropic-cache-on" : "x3echo@anthropic-cache-off";
    CHECK_INT(hl_anthropic_set_prompt_caching(p, on), HL_OK);
    hl_request *r = history_request(model);
    hl_response *resp = NULL;
    CHECK_INT(hl_provider_complete(p, NULL, r, &resp), HL_OK);
    hl_response_free(resp);
    hl_request_free(r);
    cJSON *b = sent_body(model);
    REQUIRE(b);
    if (!on) {
      char *s = cJSON_PrintUnformatted(b);
      CHECK(s && strstr(s, "cache_control") == NULL);
      free(s);
      CHECK_STR(hl_json_get_string(b, "system"), "Be brief.");
    } else {
      CHECK(json_is(hl_json_get(b, "system"),
                    "[{\"type\":\"text\",\"text\":\"Be brief.\",\"cache_control\":{\"type\":\"ephemeral\"}}]"));
      const cJSON *tools = hl_json_get(b, "tools");
      CHECK(hl_json_get(cJSON_GetArrayItem(tools, 0), "cache_control") == NULL);
      CHECK(json_is(hl_json_get(cJSON_GetArrayItem(tools, 1), "cache_control"),
                    "{\"type\":\"ephemeral\"}"));
      CHECK(json_is(hl_json_get(b, "messages"),
                    "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"}]},"
                    "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\",\"content\":\"sunny\"},"
                    "{\"type\":\"text\",\"text\":\"And tomorrow?\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]"));
    }
    cJSON_Delete(b);
  }
  /* Only the Anthropic provider has these switches. */
  hl_provider *o = hl_openai_new(srv.base, KEY);
  CHECK_INT(hl_anthropic_set_prompt_caching(o, true), HL_ERR_INVALID);
  CHECK_INT(hl_anthropic_set_thinking(o, 2048), HL_ERR_INVALID);
  hl_provider_unref(o);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Structured output                                                    */
/* ------------------------------------------------------------------ */

#define WEATHER_SCHEMA                                                                   \
  "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"                 \
  "\"temp\":{\"type\":\"integer\"}},\"required\":[\"city\",\"temp\"],"                   \
  "\"additionalProperties\":false}"

static hl_agent *structured_agent(hl_provider *p, const char *model, hl_observer *obs) {
  hl_agent *a = hl_agent_new("forecaster");
  if (!a) return NULL;
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  if (obs) hl_agent_add_observer(a, obs);
  cJSON *schema = cJSON_Parse(WEATHER_SCHEMA);
  hl_agent_set_response_schema(a, "weather", schema);
  cJSON_Delete(schema);
  return a;
}

/* How the request asked for the format, per wire. */
static void check_format_sent(const cJSON *b) {
  if (W == &OPENAI) {
    CHECK(json_is(hl_json_get(b, "response_format"),
                  "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"weather\",\"schema\":" WEATHER_SCHEMA
                  ",\"strict\":true}}"));
  } else if (W == &RESPONSES) {
    CHECK(json_is(hl_json_get(hl_json_get(b, "text"), "format"),
                  "{\"type\":\"json_schema\",\"name\":\"weather\",\"schema\":" WEATHER_SCHEMA
                  ",\"strict\":true}"));
  } else if (W == &ANTHROPIC) {
    CHECK(json_is(hl_json_get(b, "tools"),
                  "[{\"name\":\"weather\",\"description\":\"Give the final answer: its input is the whole answer.\","
                  "\"input_schema\":" WEATHER_SCHEMA "}]"));
    CHECK(json_is(hl_json_get(b, "tool_choice"), "{\"type\":\"tool\",\"name\":\"weather\"}"));
  } else {
    const cJSON *g = hl_json_get(b, "generationConfig");
    CHECK_STR(hl_json_get_string(g, "responseMimeType"), "application/json");
    CHECK(json_is(hl_json_get(g, "responseJsonSchema"), WEATHER_SCHEMA));
  }
}

static void structured_valid(void) {
  const char *model = mname("x3json_ok", "valid");
  hl_provider *p = W->make(srv.base, KEY);
  hl_agent *a = structured_agent(p, model, NULL);
  REQUIRE(p && a);
  char *out = NULL;
  hl_status st = hl_agent_run(a, NULL, "Weather in Paris as JSON", &out);
  if (st != HL_OK) fprintf(stderr, "  run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  cJSON *got = out ? cJSON_Parse(out) : NULL;
  CHECK(json_is(got, "{\"city\":\"Paris\",\"temp\":21}"));
  cJSON_Delete(got);
  hl_free(out);
  CHECK_INT(test_server_count(&srv, model), 1);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  check_format_sent(b);
  cJSON_Delete(b);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void structured_fixed(bool stream) {
  char model[128];
  snprintf(model, sizeof model, "%s", mname("x3json_fix", stream ? "fixed-stream" : "fixed"));
  hl_provider *p = W->make(srv.base, KEY);
  hl_observer *obs = hl_observer_collecting();
  hl_agent *a = structured_agent(p, model, obs);
  REQUIRE(p && a && obs);
  hl_agent_set_stream(a, stream); /* streamed in 7-byte chunks */
  char *out = NULL;
  hl_status st = hl_agent_run(a, NULL, "Weather in Paris as JSON", &out);
  if (st != HL_OK) fprintf(stderr, "  run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  cJSON *got = out ? cJSON_Parse(out) : NULL;
  CHECK(json_is(got, "{\"city\":\"Paris\",\"temp\":21}"));
  cJSON_Delete(got);
  hl_free(out);
  CHECK_INT(test_server_count(&srv, model), 2);
  /* The second request told the model what was wrong. */
  cJSON *b = sent_body(model);
  char *s = b ? cJSON_PrintUnformatted(b) : NULL;
  REQUIRE(s);
  CHECK_CONTAINS(s, "does not follow the required JSON Schema: $.temp: expected integer, got string");
  free(s);
  cJSON_Delete(b);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_CUSTOM), 1);
  cJSON *events = hl_observer_collected(obs);
  char *all = events ? cJSON_PrintUnformatted(events) : NULL;
  REQUIRE(all);
  CHECK_CONTAINS(all, "\"structured_output_invalid\"");
  free(all);
  cJSON_Delete(events);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

static void structured_invalid_then_fixed(void) { structured_fixed(false); }
static void structured_invalid_then_fixed_stream(void) { structured_fixed(true); }

static void structured_invalid_twice(void) {
  for (int retries = 1; retries >= 0; retries--) {
    const char *model = mname("x3json_bad", retries ? "twice" : "no-retry");
    char m[128];
    snprintf(m, sizeof m, "%s", model);
    hl_provider *p = W->make(srv.base, KEY);
    hl_agent *a = structured_agent(p, m, NULL);
    REQUIRE(p && a);
    if (!retries) CHECK_INT(hl_agent_set_response_retries(a, 0), HL_OK);
    CHECK_INT(hl_agent_set_response_retries(a, -1), HL_ERR_INVALID);
    char *out = NULL;
    CHECK_INT(hl_agent_run(a, NULL, "Weather in Paris as JSON", &out), HL_ERR_PROVIDER);
    CHECK(out == NULL);
    const char *err = hl_last_error();
    if (retries) {
      CHECK_CONTAINS(err, "agent \"forecaster\": the answer does not follow the response schema "
                          "\"weather\" after 2 attempts: the answer is not valid JSON");
      CHECK_INT(test_server_count(&srv, m), 2);
    } else {
      CHECK_CONTAINS(err, "after 1 attempt: $.temp: expected integer, got string");
      CHECK_INT(test_server_count(&srv, m), 1);
    }
    /* A failed run leaves the session as it was. */
    CHECK_INT(hl_session_messages(hl_agent_session(a))->count, 0);
    hl_agent_unref(a);
    hl_provider_unref(p);
  }
}

/* Anthropic: with extended thinking a forced tool choice is refused by
 * the API, so the system prompt asks for the answer tool instead; a tool
 * of the request that has the format's name is refused. */
static void anthropic_structured_with_thinking(void) {
  const char *model = "x3json_ok@anthropic-thinking";
  hl_provider *p = hl_anthropic_new(srv.base, KEY);
  REQUIRE(p);
  CHECK_INT(hl_anthropic_set_thinking(p, 2048), HL_OK);
  hl_agent *a = structured_agent(p, model, NULL);
  REQUIRE(a);
  hl_agent_set_instruction(a, "Be brief.");
  char *out = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "Weather in Paris as JSON", &out), HL_OK);
  cJSON *got = out ? cJSON_Parse(out) : NULL;
  CHECK(json_is(got, "{\"city\":\"Paris\",\"temp\":21}"));
  cJSON_Delete(got);
  hl_free(out);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  CHECK(hl_json_get(b, "tool_choice") == NULL);
  CHECK_STR(hl_json_get_string(b, "system"),
            "Be brief.\n\nGive your final answer by calling the tool \"weather\".");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(hl_json_get(b, "tools"), 0), "name"), "weather");
  cJSON_Delete(b);
  hl_tool *clash = hl_tool_new("weather", "A tool with the format's name", get_weather, NULL);
  hl_agent_add_tool(a, clash);
  hl_tool_unref(clash);
  CHECK_INT(hl_agent_run(a, NULL, "Again", &out), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "the response format \"weather\" has the name of a tool");
  CHECK_INT(test_server_count(&srv, model), 1); /* refused before sending */
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Images                                                              */
/* ------------------------------------------------------------------ */

#define PNG_B64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
#define IMG_URL "https://example.com/cat.jpg"

static void images_sent(void) {
  const char *model = mname("x3echo", "images");
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  hl_request *r = hl_request_new();
  hl_request_set_model(r, model);
  hl_message *u = hl_message_new(HL_ROLE_USER);
  CHECK_INT(hl_message_add_text(u, "What is in these?"), HL_OK);
  CHECK_INT(hl_message_add_image_url(u, IMG_URL, NULL), HL_OK);
  CHECK_INT(hl_message_add_image_base64(u, "image/png", PNG_B64), HL_OK);
  hl_messages_push(&r->messages, u);
  hl_response *resp = NULL;
  hl_status st = hl_provider_complete(p, NULL, r, &resp);
  if (st != HL_OK) fprintf(stderr, "  call failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  hl_response_free(resp);
  hl_request_free(r);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  if (W == &OPENAI) {
    CHECK(json_is(hl_json_get(b, "messages"),
                  "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is in these?\"},"
                  "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" IMG_URL "\"}},"
                  "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64," PNG_B64 "\"}}]}]"));
  } else if (W == &RESPONSES) {
    CHECK(json_is(hl_json_get(b, "input"),
                  "[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"What is in these?\"},"
                  "{\"type\":\"input_image\",\"image_url\":\"" IMG_URL "\"},"
                  "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64," PNG_B64 "\"}]}]"));
  } else if (W == &ANTHROPIC) {
    CHECK(json_is(hl_json_get(b, "messages"),
                  "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is in these?\"},"
                  "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"" IMG_URL "\"}},"
                  "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                  "\"data\":\"" PNG_B64 "\"}}]}]"));
  } else {
    CHECK(json_is(hl_json_get(b, "contents"),
                  "[{\"role\":\"user\",\"parts\":[{\"text\":\"What is in these?\"},"
                  "{\"fileData\":{\"fileUri\":\"" IMG_URL "\"}},"
                  "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"" PNG_B64 "\"}}]}]"));
  }
  cJSON_Delete(b);
  hl_provider_unref(p);
}

/* The neutral codec keeps images; bad ones are refused with a reason. */
static void images_codec(void) {
  hl_message *m = hl_message_new(HL_ROLE_USER);
  REQUIRE(m);
  CHECK_INT(hl_message_add_image_url(m, IMG_URL, "image/jpeg"), HL_OK);
  CHECK_INT(hl_message_add_image_base64(m, "image/png", PNG_B64), HL_OK);
  CHECK_INT(hl_message_add_image_url(m, "data:image/gif;base64,R0lGODlh", NULL), HL_OK);
  CHECK_STR(m->parts[2].name, "image/gif"); /* the data: URL's own type */
  cJSON *j = hl_message_to_json(m);
  REQUIRE(j);
  CHECK(json_is(j, "{\"role\":\"user\",\"content\":["
                   "{\"type\":\"image\",\"url\":\"" IMG_URL "\",\"media_type\":\"image/jpeg\"},"
                   "{\"type\":\"image\",\"url\":\"data:image/png;base64," PNG_B64 "\",\"media_type\":\"image/png\"},"
                   "{\"type\":\"image\",\"url\":\"data:image/gif;base64,R0lGODlh\",\"media_type\":\"image/gif\"}]}"));
  hl_message *back = NULL;
  CHECK_INT(hl_message_from_json(j, &back), HL_OK);
  cJSON *j2 = back ? hl_message_to_json(back) : NULL;
  CHECK(j2 && hl_json_equal(j, j2));
  hl_message *c = hl_message_clone(m);
  cJSON *j3 = c ? hl_message_to_json(c) : NULL;
  CHECK(j3 && hl_json_equal(j, j3));
  cJSON_Delete(j);
  cJSON_Delete(j2);
  cJSON_Delete(j3);
  hl_message_free(back);
  hl_message_free(c);
  size_t n = m->n_parts;
  CHECK_INT(hl_message_add_image_url(m, "file:///etc/passwd", NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "must be http(s) or data:");
  CHECK_INT(hl_message_add_image_url(m, "data:image/png,rawbytes", NULL), HL_ERR_INVALID);
  CHECK_INT(hl_message_add_image_url(m, "data:;base64,AAAA", NULL), HL_ERR_INVALID);
  CHECK_INT(hl_message_add_image_url(m, "https://a b", NULL), HL_ERR_INVALID);
  CHECK_INT(hl_message_add_image_url(m, IMG_URL, "jpeg"), HL_ERR_INVALID);
  CHECK_INT(hl_message_add_image_base64(m, "image/png", "not base64!"), HL_ERR_INVALID);
  CHECK_INT(hl_message_add_image_base64(m, "image/png", "AA=A"), HL_ERR_INVALID);
  CHECK_INT(hl_message_add_image_base64(m, NULL, PNG_B64), HL_ERR_INVALID);
  CHECK_INT(m->n_parts, n); /* nothing half-added */
  cJSON *bad = cJSON_Parse("{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"url\":\"ftp://x\"}]}");
  hl_message *none = NULL;
  CHECK_INT(hl_message_from_json(bad, &none), HL_ERR_JSON);
  CHECK(none == NULL);
  cJSON_Delete(bad);
  hl_message_free(m);
}

/* ------------------------------------------------------------------ */
/* Cost                                                                */
/* ------------------------------------------------------------------ */

static void price_table(void) {
  hl_price_clear();
  hl_price p = {.input = 2, .output = 10, .cached_input = 0.5, .cache_write = -1, .reasoning = -1};
  hl_price q = {.input = 1, .output = 1, .cached_input = -1, .cache_write = -1, .reasoning = -1};
  hl_price got;
  CHECK_INT(hl_price_get("gpt-x", &got), HL_ERR_NOT_FOUND);
  CHECK_INT(hl_price_set("gpt-x", &p), HL_OK);
  CHECK_INT(hl_price_set("gpt-*", &q), HL_OK);
  CHECK_INT(hl_price_set("gpt-x-2025*", &q), HL_OK);
  CHECK_INT(hl_price_get("gpt-x", &got), HL_OK); /* exact wins */
  CHECK(got.input == 2 && got.output == 10);
  CHECK_INT(hl_price_get("gpt-y", &got), HL_OK); /* the prefix */
  CHECK(got.input == 1);
  CHECK_INT(hl_price_get("gpt-x-2025-01-01", &got), HL_OK); /* the longest prefix */
  CHECK(got.input == 1);
  CHECK_INT(hl_price_get("gpx", &got), HL_ERR_NOT_FOUND);
  CHECK_INT(hl_price_set("", &p), HL_ERR_INVALID);
  CHECK_INT(hl_price_set("a*b", &p), HL_ERR_INVALID);
  hl_price neg = p;
  neg.input = -1;
  CHECK_INT(hl_price_set("neg", &neg), HL_ERR_INVALID);
  hl_price nan_price = p;
  nan_price.output = NAN;
  CHECK_INT(hl_price_set("nan", &nan_price), HL_ERR_INVALID);
  /* The formula: cached at its price, writes and reasoning as the plain ones. */
  hl_usage u = {.input_tokens = 1000, .output_tokens = 500, .cached_tokens = 200,
                .cache_creation_tokens = 100, .reasoning_tokens = 100};
  CHECK_INT(hl_usage_set_cost(&u, "gpt-x"), HL_OK);
  CHECK(u.has_cost && fabs(u.cost - (700 * 2 + 200 * 0.5 + 100 * 2 + 500 * 10) / 1e6) < 1e-12);
  hl_usage none = {.input_tokens = 5};
  CHECK_INT(hl_usage_set_cost(&none, "unknown-model"), HL_ERR_NOT_FOUND);
  CHECK(!none.has_cost);
  CHECK_INT(hl_price_set("gpt-x", NULL), HL_OK); /* removed: the prefix applies now */
  CHECK_INT(hl_price_get("gpt-x", &got), HL_OK);
  CHECK(got.input == 1);
  hl_price_clear();
  CHECK_INT(hl_price_get("gpt-y", &got), HL_ERR_NOT_FOUND);
}

/* The cost of one event of `type` in the collected events (-1: none). */
static double cost_of(const cJSON *events, const char *type, int nth) {
  const cJSON *e;
  int k = 0;
  cJSON_ArrayForEach(e, events) {
    if (strcmp(hl_json_get_string(e, "type") ? hl_json_get_string(e, "type") : "", type)) continue;
    if (k++ != nth) continue;
    return hl_json_get_number(hl_json_get(e, "usage"), "cost", -1);
  }
  return -1;
}

static void cost_in_events(void) {
  hl_price_clear();
  const char *model = mname("x3cost", "events");
  char m[128];
  snprintf(m, sizeof m, "%s", model);
  hl_price price = {.input = 2, .output = 10, .cached_input = 0.5, .cache_write = 3, .reasoning = 20};
  CHECK_INT(hl_price_set(m, &price), HL_OK);
  hl_provider *p = W->make(srv.base, KEY);
  hl_observer *obs = hl_observer_collecting();
  hl_agent *a = agent_on(p, m, obs);
  REQUIRE(p && obs && a);
  char *out = NULL;
  hl_status st = hl_agent_run(a, NULL, "Weather in Paris?", &out);
  if (st != HL_OK) fprintf(stderr, "  run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  CHECK_STR(out, "done");
  hl_free(out);
  /* Per call (server_v3.py's COST_USAGE): 1000 input of which 200 cached
   * (and for Anthropic 100 written), 500 output of which 100 reasoning
   * (Anthropic reports none). */
  double call = W == &ANTHROPIC ? (700 * 2 + 200 * 0.5 + 100 * 3 + 500 * 10) / 1e6
                                : (800 * 2 + 200 * 0.5 + 400 * 10 + 100 * 20) / 1e6;
  cJSON *events = hl_observer_collected(obs);
  REQUIRE(events);
  CHECK(fabs(cost_of(events, "lm_end", 0) - call) < 1e-12);
  CHECK(fabs(cost_of(events, "lm_end", 1) - call) < 1e-12);
  CHECK(fabs(cost_of(events, "api_response", 0) - call) < 1e-12);
  CHECK(fabs(cost_of(events, "agent_end", 0) - 2 * call) < 1e-12);
  CHECK(fabs(cost_of(events, "trace_complete", 0) - 2 * call) < 1e-12);
  if (fabs(cost_of(events, "agent_end", 0) - 2 * call) >= 1e-12)
    fprintf(stderr, "  agent_end cost %.9f, want %.9f\n", cost_of(events, "agent_end", 0), 2 * call);
  hl_usage u = hl_agent_last_usage(a);
  CHECK(u.has_cost && fabs(u.cost - 2 * call) < 1e-12);
  CHECK_INT(u.cached_tokens, 400);
  cJSON_Delete(events);
  /* Without a price: no cost. */
  hl_price_clear();
  hl_observer_collected_clear(obs);
  CHECK_INT(hl_agent_run(a, NULL, "Again?", &out), HL_OK);
  hl_free(out);
  CHECK(!hl_agent_last_usage(a).has_cost);
  events = hl_observer_collected(obs);
  CHECK(cost_of(events, "lm_end", 0) == -1);
  cJSON_Delete(events);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Key redaction                                                       */
/* ------------------------------------------------------------------ */

static void key_redacted_as(const char *scenario, bool stream) {
  const char *model = mname(scenario, stream ? "stream" : "plain");
  char m[128];
  snprintf(m, sizeof m, "%s", model);
  hl_provider *p = W->make(srv.base, KEY);
  hl_observer *obs = hl_observer_collecting();
  hl_agent *a = hl_agent_new("assistant");
  REQUIRE(p && obs && a);
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, m);
  hl_agent_set_stream(a, stream);
  hl_agent_add_observer(a, obs);
  char *out = NULL;
  hl_status st = hl_agent_run(a, NULL, "What is my key?", &out);
  if (st != HL_OK) fprintf(stderr, "  run failed: %s\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  CHECK_STR(out, "Your key is [REDACTED], keep it safe.");
  hl_free(out);
  CHECK_INT(test_server_count(&srv, m), 1);
  /* Not in API_RESPONSE (the decoded body, the response, its model), nor
   * in the RESPONSE event of the whole answer. */
  cJSON *events = hl_observer_collected(obs);
  REQUIRE(events);
  int seen = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, events) {
    const char *type = hl_json_get_string(e, "type");
    bool delta = cJSON_IsTrue(hl_json_get(e, "delta"));
    if (!type || delta || (strcmp(type, "api_response") && strcmp(type, "response"))) continue;
    char *s = cJSON_PrintUnformatted(e);
    REQUIRE(s);
    if (strstr(s, "SECRET")) fprintf(stderr, "  key in %s: %.300s\n", type, s);
    CHECK(strstr(s, "SECRET") == NULL);
    if (!strcmp(type, "api_response")) CHECK_CONTAINS(s, "[REDACTED]");
    free(s);
    seen++;
  }
  CHECK_INT(seen, 2);
  cJSON_Delete(events);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}
static void key_redacted_plain(void) { key_redacted_as("x3key", false); }
static void key_redacted_stream(void) { key_redacted_as("x3key", true); }
/* The key only in decoded strings ("\u0073k-..." on the wire): the
 * check that skips the walk over a body that cannot hold the key
 * (redact.c) must not skip this one. */
static void key_redacted_escaped(void) { key_redacted_as("x3keyesc", false); }

/* ------------------------------------------------------------------ */

#define V3_SCENARIOS(X) \
  X(structured_valid) X(structured_invalid_then_fixed) X(structured_invalid_then_fixed_stream) \
  X(structured_invalid_twice) \
  X(images_sent) X(cost_in_events) X(key_redacted_plain) X(key_redacted_stream) \
  X(key_redacted_escaped)

V3_SCENARIOS(V3)

static const test_case tests[] = {
    V3_SCENARIOS(V3_ROWS)
    T(thinking_round_trip_plain),
    T(thinking_round_trip_stream),
    T(thinking_parts_stream_equals_plain),
    T(prompt_caching),
    T(anthropic_structured_with_thinking),
    T(images_codec),
    T(price_table),
};

int main(int argc, char **argv) {
  return run_cases(&srv, tests, sizeof tests / sizeof tests[0], argc, argv);
}
