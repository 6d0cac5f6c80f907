/* test_request_response.c - model request and response: fields, copies,
 * JSON round-trip, decode errors; finish reasons and usage. */
#include <string.h>

#include "check.h"
#include "hookline/json.h"
#include "hookline/model.h"

static cJSON *parse(const char *text) {
  cJSON *v = NULL;
  if (hl_json_parse(text, (size_t)-1, &v) != HL_OK) fprintf(stderr, "parse: %s\n", hl_last_error());
  return v;
}

static hl_request *full_request(void) {
  hl_request *r = hl_request_new();
  if (!r) return NULL;
  hl_request_set_model(r, "gpt-test");
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_SYSTEM, "You are terse."));
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Weather in Paris?"));
  cJSON *params = parse("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                        "\"required\":[\"city\"]}");
  hl_request_add_tool(r, "weather", "Current weather", params);
  hl_request_add_tool(r, "noop", NULL, NULL);
  cJSON_Delete(params);
  r->temperature = 0.25;
  r->max_tokens = 256;
  hl_request_add_stop(r, "END");
  hl_request_add_stop(r, "\n\n");
  r->tool_choice = HL_TOOL_CHOICE_NAMED;
  r->tool_choice_name = strdup("weather");
  cJSON *schema = parse("{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}}}");
  hl_request_set_response_schema(r, "answer_format", schema);
  cJSON_Delete(schema);
  r->stream = true;
  return r;
}

static void new_request_has_unset_defaults(void) {
  hl_request *r = hl_request_new();
  REQUIRE(r != NULL);
  CHECK(r->temperature < 0);
  CHECK_INT(r->max_tokens, 0);
  CHECK(r->model == NULL);
  CHECK_INT(r->messages.count, 0);
  CHECK_INT(r->tool_choice, HL_TOOL_CHOICE_AUTO);
  CHECK(!r->stream);
  cJSON *j = hl_request_to_json(r);
  cJSON *want = parse("{\"messages\":[]}");
  CHECK(hl_json_equal(j, want));
  cJSON_Delete(j);
  cJSON_Delete(want);
  hl_request_free(r);
}

static void setters_copy_their_input(void) {
  hl_request *r = full_request();
  REQUIRE(r != NULL);
  CHECK_STR(r->model, "gpt-test");
  REQUIRE(r->n_tools == 2);
  CHECK_STR(r->tools[0].name, "weather");
  CHECK_STR(r->tools[0].description, "Current weather");
  CHECK_STR(hl_json_get_string(r->tools[1].parameters, "type"), "object");
  CHECK(r->tools[1].description == NULL);
  REQUIRE(r->n_stop == 2);
  CHECK_STR(r->stop[1], "\n\n");
  CHECK_STR(r->response_format_name, "answer_format");
  CHECK(r->response_schema != NULL);
  CHECK_INT(hl_request_set_model(r, NULL), HL_OK);
  CHECK(r->model == NULL);
  CHECK_INT(hl_request_set_response_schema(r, "ignored", NULL), HL_OK);
  CHECK(r->response_schema == NULL && r->response_format_name == NULL);
  cJSON *arr = parse("[]");
  CHECK_INT(hl_request_add_tool(r, "bad", "d", arr), HL_ERR_INVALID);
  CHECK_INT(r->n_tools, 2);
  cJSON_Delete(arr);
  hl_request_free(r);
}

static void request_json_round_trip(void) {
  hl_request *r = full_request();
  REQUIRE(r != NULL);
  cJSON *j = hl_request_to_json(r);
  REQUIRE(j != NULL);
  CHECK_STR(hl_json_get_string(j, "model"), "gpt-test");
  CHECK(hl_json_get_number(j, "temperature", -1) == 0.25);
  CHECK(hl_json_get_number(j, "max_tokens", 0) == 256);
  CHECK_STR(hl_json_get_string(j, "tool_choice"), "named");
  CHECK_STR(hl_json_get_string(j, "tool_choice_name"), "weather");
  CHECK(hl_json_get_bool(j, "stream", false));
  hl_request *back = NULL;
  REQUIRE(hl_request_from_json(j, &back) == HL_OK);
  CHECK_STR(back->model, "gpt-test");
  CHECK(back->temperature == 0.25);
  CHECK_INT(back->max_tokens, 256);
  CHECK_INT(back->n_tools, 2);
  CHECK_INT(back->n_stop, 2);
  CHECK_INT(back->messages.count, 2);
  CHECK_INT(back->tool_choice, HL_TOOL_CHOICE_NAMED);
  CHECK_STR(back->tool_choice_name, "weather");
  CHECK_STR(back->response_format_name, "answer_format");
  CHECK(hl_json_equal(back->response_schema, r->response_schema));
  CHECK(back->stream);
  cJSON *j2 = hl_request_to_json(back);
  CHECK(hl_json_equal(j, j2));
  cJSON_Delete(j);
  cJSON_Delete(j2);
  hl_request_free(back);
  hl_request_free(r);
}

static void request_clone_is_deep(void) {
  hl_request *r = full_request();
  REQUIRE(r != NULL);
  hl_request *c = hl_request_clone(r);
  REQUIRE(c != NULL);
  cJSON *a = hl_request_to_json(r), *b = hl_request_to_json(c);
  CHECK(hl_json_equal(a, b));
  CHECK(c->tools[0].parameters != r->tools[0].parameters);
  CHECK(c->messages.items[0] != r->messages.items[0]);
  cJSON_Delete(a);
  cJSON_Delete(b);
  hl_request_free(r);
  hl_request_free(c);
}

static void request_decode_errors(void) {
  struct {
    const char *json, *msg;
  } cases[] = {
      {"[]", "request: expected object, got array"},
      {"{\"model\":3}", "request.model: expected string, got integer"},
      {"{\"temperature\":\"hot\"}", "request.temperature: expected number, got string"},
      {"{\"max_tokens\":1.5}", "request.max_tokens: expected a 32-bit integer, got number"},
      {"{\"max_tokens\":1e12}", "request.max_tokens: expected a 32-bit integer"},
      {"{\"stop\":[\"a\",1]}", "request.stop[1]: expected string, got integer"},
      {"{\"tool_choice\":\"sometimes\"}", "request.tool_choice: unknown value \"sometimes\""},
      {"{\"tools\":[{\"description\":\"x\"}]}", "request.tools[0]: missing string field \"name\""},
      {"{\"tools\":[{\"name\":\"x\",\"parameters\":[]}]}",
       "request.tools[0].parameters: expected object, got array"},
      {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
       "request.messages[0].content[0]: missing string field \"text\""},
      {"{\"response_schema\":true}", "request.response_schema: expected object, got boolean"},
      {"{\"stream\":\"yes\"}", "request.stream: expected boolean, got string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *j = parse(cases[i].json);
    REQUIRE(j != NULL);
    hl_request *r = (hl_request *)1;
    CHECK_INT(hl_request_from_json(j, &r), HL_ERR_JSON);
    CHECK(r == NULL);
    CHECK_CONTAINS(hl_last_error(), cases[i].msg);
    cJSON_Delete(j);
  }
}

static void finish_reasons(void) {
  const char *names[] = {"unknown", "stop", "tool_calls", "length", "content_filter", "error"};
  for (int i = 0; i < 6; i++) {
    CHECK_STR(hl_finish_reason_name((hl_finish_reason)i), names[i]);
    CHECK_INT(hl_finish_reason_parse(names[i]), i);
  }
  CHECK_INT(hl_finish_reason_parse("weird"), HL_FINISH_UNKNOWN);
  CHECK_INT(hl_finish_reason_parse(NULL), HL_FINISH_UNKNOWN);
}

static void usage_accumulates(void) {
  hl_usage acc = {0};
  hl_usage a = {.input_tokens = 10, .output_tokens = 5};
  hl_usage b = {.input_tokens = 1, .output_tokens = 2, .cost = 0.5, .has_cost = true};
  hl_usage_add(&acc, &a);
  CHECK_INT(acc.input_tokens, 10);
  CHECK(!acc.has_cost);
  hl_usage_add(&acc, &b);
  hl_usage_add(&acc, &b);
  CHECK_INT(acc.input_tokens, 12);
  CHECK_INT(acc.output_tokens, 9);
  CHECK(acc.has_cost);
  CHECK(acc.cost == 1.0);
}

/* A usage count is a whole number from 0 to 2^53, the same rule the
 * providers apply to what their servers send. */
static void response_usage_counts_are_whole_numbers_up_to_2_53(void) {
  const char *ok[] = {"0", "7", "9007199254740992", "1e3"};
  const char *bad[] = {"-1", "1.5", "9007199254740994", "1e300", "\"7\"", "null"};
  char text[160];
  for (size_t i = 0; i < sizeof ok / sizeof ok[0] + sizeof bad / sizeof bad[0]; i++) {
    bool good = i < sizeof ok / sizeof ok[0];
    const char *n = good ? ok[i] : bad[i - sizeof ok / sizeof ok[0]];
    snprintf(text, sizeof text,
             "{\"message\":{\"role\":\"assistant\",\"content\":[]},\"usage\":{\"input_tokens\":%s}}", n);
    cJSON *j = NULL;
    REQUIRE(hl_json_parse(text, (size_t)-1, &j) == HL_OK);
    hl_response *r = NULL;
    hl_status st = hl_response_from_json(j, &r);
    if ((st == HL_OK) != good) fprintf(stderr, "input_tokens %s: status %d\n", n, st);
    CHECK_INT(st, good ? HL_OK : HL_ERR_JSON);
    if (!good) CHECK_CONTAINS(hl_last_error(), "response.usage.input_tokens: expected a whole number from 0 to 2^53");
    hl_response_free(r);
    cJSON_Delete(j);
  }
}

static void response_round_trip(void) {
  hl_response *r = hl_response_new_text("It is sunny.");
  REQUIRE(r != NULL);
  CHECK_INT(r->finish, HL_FINISH_STOP);
  CHECK_INT(r->message->role, HL_ROLE_ASSISTANT);
  r->usage.input_tokens = 1234567890123LL;
  r->usage.output_tokens = 42;
  r->usage.cost = 0.0125;
  r->usage.has_cost = true;
  r->model = strdup("gpt-test-2");
  r->id = strdup("resp_1");
  cJSON *j = hl_response_to_json(r);
  REQUIRE(j != NULL);
  CHECK_STR(hl_json_get_string(j, "finish"), "stop");
  hl_response *back = NULL;
  REQUIRE(hl_response_from_json(j, &back) == HL_OK);
  CHECK_INT(back->usage.input_tokens, 1234567890123LL);
  CHECK_INT(back->usage.output_tokens, 42);
  CHECK(back->usage.has_cost && back->usage.cost == 0.0125);
  CHECK_STR(back->model, "gpt-test-2");
  CHECK_STR(back->id, "resp_1");
  char *text = hl_message_text(back->message);
  CHECK_STR(text, "It is sunny.");
  hl_free(text);
  cJSON *j2 = hl_response_to_json(back);
  CHECK(hl_json_equal(j, j2));
  hl_response *c = hl_response_clone(back);
  REQUIRE(c != NULL);
  cJSON *j3 = hl_response_to_json(c);
  CHECK(hl_json_equal(j, j3));
  cJSON_Delete(j);
  cJSON_Delete(j2);
  cJSON_Delete(j3);
  hl_response_free(r);
  hl_response_free(back);
  hl_response_free(c);
}

static void response_without_cost_keeps_none(void) {
  hl_response *r = hl_response_new();
  REQUIRE(r != NULL);
  CHECK_INT(r->message->n_parts, 0);
  r->finish = HL_FINISH_TOOL_CALLS;
  hl_message_add_tool_call(r->message, "c1", "weather", NULL);
  cJSON *j = hl_response_to_json(r);
  CHECK(hl_json_get(hl_json_get(j, "usage"), "cost") == NULL);
  hl_response *back = NULL;
  REQUIRE(hl_response_from_json(j, &back) == HL_OK);
  CHECK(!back->usage.has_cost);
  CHECK_INT(back->finish, HL_FINISH_TOOL_CALLS);
  CHECK_INT(hl_message_tool_call_count(back->message), 1);
  CHECK(back->model == NULL && back->id == NULL);
  cJSON_Delete(j);
  hl_response_free(r);
  hl_response_free(back);
}

static void response_decode_errors(void) {
  struct {
    const char *json, *msg;
  } cases[] = {
      {"{}", "response: missing field \"message\""},
      {"{\"message\":{\"role\":\"assistant\"}}", "response.message.content: expected array"},
      {"{\"message\":{\"role\":\"assistant\",\"content\":[]},\"usage\":[]}",
       "response.usage: expected object, got array"},
      {"{\"message\":{\"role\":\"assistant\",\"content\":[]},\"usage\":{\"input_tokens\":-1}}",
       "response.usage.input_tokens: expected a whole number from 0 to 2^53"},
      {"{\"message\":{\"role\":\"assistant\",\"content\":[]},\"usage\":{\"cost\":\"1\"}}",
       "response.usage.cost: expected number, got string"},
      {"{\"message\":{\"role\":\"assistant\",\"content\":[]},\"id\":7}",
       "response.id: expected string, got integer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cJSON *j = parse(cases[i].json);
    REQUIRE(j != NULL);
    hl_response *r = (hl_response *)1;
    CHECK_INT(hl_response_from_json(j, &r), HL_ERR_JSON);
    CHECK(r == NULL);
    CHECK_CONTAINS(hl_last_error(), cases[i].msg);
    cJSON_Delete(j);
  }
}

int main(void) {
  RUN(new_request_has_unset_defaults);
  RUN(setters_copy_their_input);
  RUN(request_json_round_trip);
  RUN(request_clone_is_deep);
  RUN(request_decode_errors);
  RUN(finish_reasons);
  RUN(usage_accumulates);
  RUN(response_round_trip);
  RUN(response_usage_counts_are_whole_numbers_up_to_2_53);
  RUN(response_without_cost_keeps_none);
  RUN(response_decode_errors);
  return CHECK_EXIT();
}
