/*
 * tests/providers/provider_fixture.h - what several provider test
 * programs share besides the server (test_server.h) and the case table
 * (wire_cases.h): comparing a sent body with the JSON a test expects
 * (printing both when they differ), the get_weather / get_time tools of
 * the end-to-end agents, and the "rich" request that carries every kind
 * of message part and option. Header-only: one test program includes it
 * once; what it does not use costs nothing (static inline).
 */
#ifndef HL_TEST_PROVIDER_FIXTURE_H
#define HL_TEST_PROVIDER_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"

/* True when `got` equals the JSON text `want_text`; otherwise false, with
 * both on stderr (and a note when want_text itself is not JSON). */
static inline bool json_is(const cJSON *got, const char *want_text) {
  cJSON *want = cJSON_Parse(want_text);
  if (!want) fprintf(stderr, "  bad expected JSON: %s\n", want_text);
  bool eq = want && hl_json_equal(got, want);
  if (!eq) {
    char *g = got ? cJSON_PrintUnformatted(got) : NULL;
    fprintf(stderr, "  got:  %s\n  want: %s\n", g ? g : "(null)", want_text);
    free(g);
  }
  cJSON_Delete(want);
  return eq;
}

/* Tools of the end-to-end agents: "sunny in <city>", "12:00 <tz>". */
static inline hl_status get_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  char buf[128];
  snprintf(buf, sizeof buf, "sunny in %s", hl_json_get_string(args, "city"));
  *result = cJSON_CreateString(buf);
  return *result ? HL_OK : HL_ERR_NOMEM;
}

static inline hl_status get_time(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  char buf[128];
  snprintf(buf, sizeof buf, "12:00 %s", hl_json_get_string(args, "tz"));
  *result = cJSON_CreateString(buf);
  return *result ? HL_OK : HL_ERR_NOMEM;
}

/* A conversation with everything in it: system, user, an assistant turn
 * (messages.items[2]) with text and two tool calls, their results (one
 * failed), a user follow-up, two tools, a named tool choice, a response
 * schema and sampling options. Free with hl_request_free(). */
static inline hl_request *rich_request(const char *model) {
  hl_request *r = hl_request_new();
  hl_request_set_model(r, model);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_SYSTEM, "Be brief."));
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Weather in Paris?"));
  hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = cJSON_Parse("{\"city\":\"Paris\"}");
  hl_message_add_text(a, "Checking.");
  hl_message_add_tool_call(a, "c1", "get_weather", args);
  hl_message_add_tool_call(a, "c2", "get_time", NULL);
  cJSON_Delete(args);
  hl_messages_push(&r->messages, a);
  hl_message *t = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(t, "c1", "get_weather", "sunny", false);
  hl_message_add_tool_result(t, "c2", "get_time", "no tz", true);
  hl_messages_push(&r->messages, t);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Thanks"));
  cJSON *schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                              "\"required\":[\"city\"]}");
  hl_request_add_tool(r, "get_weather", "Weather of a city", schema);
  hl_request_add_tool(r, "get_time", NULL, NULL);
  r->tool_choice = HL_TOOL_CHOICE_NAMED;
  r->tool_choice_name = strdup("get_weather");
  cJSON *answer = cJSON_Parse("{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}}}");
  hl_request_set_response_schema(r, "answer", answer);
  cJSON_Delete(answer);
  cJSON_Delete(schema);
  r->temperature = 0.5;
  r->max_tokens = 100;
  hl_request_add_stop(r, "END");
  return r;
}

#endif
