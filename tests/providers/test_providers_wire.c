/*
 * test_providers_wire.c - the four providers against the parts of their
 * published wire formats that are easy to meet only in part, over real
 * HTTP on 127.0.0.1 against server_wire.py's canned answers: refusals,
 * every stop and finish reason, blocks and events a provider does not
 * keep, hostile streams. Each case asks plain and streamed where the
 * format has both.
 *
 *   test_providers_wire              run every test
 *   test_providers_wire NAME...      run the named tests (meson runs one each)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "four_wires.h"
#include "hookline.h"
#include "provider_fixture.h"
#include "test_server.h"
#include "wire_cases.h"

#define KEY "sk-wire-SECRET-0123456789abcdef"
#define REFUSAL "I can't help with that."

static test_server srv;

static const wire *const WIRES[] = {&OPENAI, &ANTHROPIC, &RESPONSES, &GEMINI};

/* "xw<scenario>@<wire>-<tag>" (Gemini: "__"): unique per test. */
static const char *mname(const char *scenario, const char *tag) {
  static char buf[160];
  snprintf(buf, sizeof buf, "xw%s%s%s-%s", scenario, W->sep, W->name, tag);
  return buf;
}

/* Ask `scenario` once, plain or streamed; *out the response or NULL. */
static hl_status ask(const char *scenario, bool stream, hl_response **out) {
  *out = NULL;
  hl_provider *p = W->make(srv.base, KEY);
  if (!p) return hl_last_status();
  hl_request *r = hl_request_new();
  hl_request_set_model(r, mname(scenario, stream ? "stream" : "plain"));
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Hi there"));
  r->stream = stream;
  hl_status st = hl_provider_complete(p, NULL, r, out);
  hl_request_free(r);
  hl_provider_unref(p);
  return st;
}

/* The answer to `scenario`, which must succeed. */
static hl_response *answer(const char *scenario, bool stream) {
  hl_response *r = NULL;
  hl_status st = ask(scenario, stream, &r);
  if (st != HL_OK) fprintf(stderr, "  %s (%s) failed: %s\n", scenario, stream ? "stream" : "plain",
                           hl_last_error());
  CHECK_INT(st, HL_OK);
  return r;
}

/* `scenario` must fail with `want`, its message saying `needle`. */
static void expect_failure(const char *scenario, bool stream, hl_status want, const char *needle) {
  hl_response *r = NULL;
  CHECK_INT(ask(scenario, stream, &r), want);
  CHECK(r == NULL);
  hl_response_free(r);
  CHECK_CONTAINS(hl_last_error(), needle);
}

static void check_text(const hl_response *r, const char *want) {
  char *t = hl_message_text(r->message);
  CHECK_STR(t, want);
  hl_free(t);
}

/* ------------------------------------------------------------------ */
/* Chat Completions                                                    */
/* ------------------------------------------------------------------ */

/* A refusal comes in message.refusal (delta.refusal when streamed) with
 * content null: it is the answer's text, finish content_filter, never an
 * empty answer that looks like a normal stop. */
static void openai_refusal(void) {
  W = &OPENAI;
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("refusal", s);
    REQUIRE(r);
    check_text(r, REFUSAL);
    CHECK_INT(r->finish, HL_FINISH_CONTENT_FILTER);
    CHECK_INT(r->usage.input_tokens, 9);
    CHECK_INT(r->usage.output_tokens, 4);
    hl_response_free(r);
  }
}

/* A server that numbers every streamed tool call 0 (each with its own
 * id): a fragment with a new id at an index already in use starts a new
 * call, and the fragments after it go to that call; the two calls were
 * one with both argument texts joined, which failed as invalid JSON. */
static void openai_tool_call_index_reused(void) {
  W = &OPENAI;
  hl_response *r = answer("reusedindex", true);
  REQUIRE(r);
  CHECK_INT(r->finish, HL_FINISH_TOOL_CALLS);
  REQUIRE(r->message->n_parts == 2);
  const hl_part *a = &r->message->parts[0], *b = &r->message->parts[1];
  CHECK_STR(a->id, "call_a");
  CHECK_STR(a->name, "get_weather");
  CHECK(json_is(a->args, "{\"city\":\"Paris\"}"));
  CHECK_STR(b->id, "call_b");
  CHECK_STR(b->name, "get_time");
  CHECK(json_is(b->args, "{\"tz\":\"CET\"}"));
  hl_response_free(r);
}

/* The answer is choice 0 (a missing index is 0), wherever it is in the
 * list: another choice (n > 1, or a server's extra one) was taken when it
 * came first, and its streamed fragments were joined into the answer. */
static void openai_other_choices_ignored(void) {
  W = &OPENAI;
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("twochoices", s);
    REQUIRE(r);
    check_text(r, "Hello");
    CHECK_INT(r->finish, HL_FINISH_STOP);
    hl_response_free(r);
  }
}

/* ------------------------------------------------------------------ */
/* Anthropic Messages                                                  */
/* ------------------------------------------------------------------ */

/* Every published stop_reason has its outcome: the context window
 * filling up cuts the answer like max_tokens; a refusal keeps the words
 * that came (content_filter) and is an error when none did (not an
 * empty answer that looks like a normal stop). pause_turn: below. */
static void anthropic_stop_reasons(void) {
  W = &ANTHROPIC;
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("ctxwindow", s);
    REQUIRE(r);
    check_text(r, "Cut sh");
    CHECK_INT(r->finish, HL_FINISH_LENGTH);
    hl_response_free(r);
    r = answer("refusedpart", s);
    REQUIRE(r);
    check_text(r, "Well, the first st");
    CHECK_INT(r->finish, HL_FINISH_CONTENT_FILTER);
    hl_response_free(r);
    expect_failure("refusednothing", s, HL_ERR_PROVIDER, "the model refused to answer (stop_reason refusal)");
  }
}

/* The paused content as the second request must carry it back: every
 * block as it came, the server tool's too, the streamed ones rebuilt
 * from their deltas (the query's input_json_delta, the citations_delta). */
#define PAUSED_BACK                                                                     \
  "{\"role\":\"assistant\",\"content\":["                                               \
  "{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\","        \
  "\"input\":{\"query\":\"weather Paris\"}},"                                           \
  "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\",\"content\":["   \
  "{\"type\":\"web_search_result\",\"url\":\"https://example.com/w\",\"title\":\"Weather\"," \
  "\"encrypted_content\":\"EqgfCioIARgB\",\"page_age\":null}]},"                        \
  "{\"type\":\"text\",\"text\":\"It is sunny. \",\"citations\":["                       \
  "{\"type\":\"web_search_result_location\",\"url\":\"https://example.com/w\","         \
  "\"title\":\"Weather\",\"encrypted_index\":\"Eo8BCioIAhgB\",\"cited_text\":\"sunny\"}]}]}"

/* The request after a pause: the user's message, then the paused content. */
static void check_paused_sent_back(const char *model) {
  CHECK_INT(test_server_count(&srv, model), 2);
  cJSON *b = test_server_last_body(&srv, model);
  REQUIRE(b);
  const cJSON *msgs = hl_json_get(b, "messages");
  CHECK_INT(cJSON_GetArraySize(msgs), 2);
  CHECK(json_is(cJSON_GetArrayItem(msgs, 1), PAUSED_BACK));
  cJSON_Delete(b);
}

/* A long server-tool turn the API paused (stop_reason pause_turn) is
 * continued inside the call: the paused content goes back as it came in
 * a second request, and the answer is both parts' words as one, usage
 * summed (9 + 9 in, 4 + 4 out). It was an error, so an agent using web
 * search failed. */
static void anthropic_pause_turn_continued(void) {
  W = &ANTHROPIC;
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("pauseturn", s);
    REQUIRE(r);
    check_text(r, "It is sunny. Take a hat.");
    CHECK_INT(r->finish, HL_FINISH_STOP);
    CHECK_INT(r->usage.input_tokens, 18);
    CHECK_INT(r->usage.output_tokens, 8);
    hl_response_free(r);
    check_paused_sent_back(mname("pauseturn", s ? "stream" : "plain"));
  }
}

/* The same through an asynchronous run (hl_run_start: the provider's
 * start function, the continuation started from the loop thread). */
static void anthropic_pause_turn_continued_async(void) {
  W = &ANTHROPIC;
  for (int s = 0; s < 2; s++) {
    char model[160];
    snprintf(model, sizeof model, "%s", mname("pauseturn", s ? "asyncstream" : "async"));
    hl_provider *p = W->make(srv.base, KEY);
    hl_agent *a = hl_agent_new("paused");
    hl_session *ses = hl_session_new(NULL, NULL, NULL);
    REQUIRE(p && a && ses);
    hl_agent_set_provider(a, p);
    hl_agent_set_model(a, model);
    hl_agent_set_stream(a, s);
    hl_run *run = NULL;
    CHECK_INT(hl_run_start(a, ses, "Hi there", NULL, &run), HL_OK);
    CHECK_INT(hl_run_wait(run, 10000), HL_OK);
    CHECK_STR(hl_run_answer(run), "It is sunny. Take a hat.");
    CHECK_INT(hl_run_usage(run).input_tokens, 18);
    hl_run_free(run);
    hl_session_free(ses);
    hl_agent_unref(a);
    hl_provider_unref(p);
    check_paused_sent_back(model);
  }
}

/* A turn that pauses again and again is continued 8 times, then an
 * error that says so: a server stuck pausing cannot loop forever. */
static void anthropic_pause_turn_bounded(void) {
  W = &ANTHROPIC;
  for (int s = 0; s < 2; s++) {
    expect_failure("pausesforever", s, HL_ERR_PROVIDER,
                   "paused its turn 9 times (stop_reason pause_turn)");
    CHECK_INT(test_server_count(&srv, mname("pausesforever", s ? "stream" : "plain")), 9);
  }
}

/* A server tool's blocks (server_tool_use, whose input streams as
 * input_json_delta like a client tool's, and web_search_tool_result) and
 * a citations_delta are not part of hookline's answer: left out, plain
 * and streamed alike, never an error. */
static void anthropic_server_tool_blocks_ignored(void) {
  W = &ANTHROPIC;
  for (int s = 0; s < 2; s++) {
    hl_response *r = answer("servertool", s);
    REQUIRE(r);
    check_text(r, "Sunny in Paris.");
    CHECK_INT(r->message->n_parts, 1);
    CHECK_INT(r->finish, HL_FINISH_STOP);
    hl_response_free(r);
  }
}

/* A content block started without a type (content_block null) has no
 * kind to put its deltas in: a clear error, not its text dropped. */
static void anthropic_untyped_block(void) {
  W = &ANTHROPIC;
  expect_failure("untypedblock", true, HL_ERR_PROVIDER, "content block 0 has no type");
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

/* A stream missing response.output_item.done for some items (the
 * reasoning item, every item, every item and ending incomplete) still
 * gives the answer the plain body gives: the items the done events
 * would have carried are taken from the final response's output. The
 * reasoning item's encrypted_content (only in its done item, never in
 * the added one) was lost, so the next request of a tool loop could not
 * send the reasoning back. */
static void responses_missing_item_done(void) {
  W = &RESPONSES;
  static const char *const which[] = {"reasoning", "all", "incomplete"};
  for (size_t i = 0; i < sizeof which / sizeof *which; i++) {
    char scenario[64];
    snprintf(scenario, sizeof scenario, "rsnodone-%s", which[i]);
    hl_response *plain = answer(scenario, false), *streamed = answer(scenario, true);
    REQUIRE(plain && streamed);
    REQUIRE(streamed->message->n_parts == 3);
    const hl_part *rs = &streamed->message->parts[0];
    CHECK_INT(rs->kind, HL_PART_REASONING);
    CHECK_STR(hl_json_get_string(rs->args, "encrypted_content"), "gAAAAB-encrypted-reasoning==");
    cJSON *a = hl_message_to_json(plain->message), *b = hl_message_to_json(streamed->message);
    CHECK(a && b && cJSON_Compare(a, b, true));
    cJSON_Delete(a);
    cJSON_Delete(b);
    CHECK_INT(streamed->finish, i == 2 ? HL_FINISH_LENGTH : HL_FINISH_TOOL_CALLS);
    CHECK_INT(streamed->finish, plain->finish);
    hl_response_free(plain);
    hl_response_free(streamed);
  }
}

/* ------------------------------------------------------------------ */
/* Gemini                                                              */
/* ------------------------------------------------------------------ */

/* Every published finishReason has its outcome. A candidate that ends
 * with no part for any reason but STOP or MAX_TOKENS (a filter, a
 * malformed response, a missing thought signature, OTHER, one published
 * later) is an error naming the reason, never an empty answer passing
 * for a normal one; with words before it they are kept, the finish
 * saying why they stopped. */
static void gemini_finish_reasons(void) {
  W = &GEMINI;
  static const struct {
    const char *reason;
    hl_finish_reason finish;
  } cases[] = {
      {"IMAGE_PROHIBITED_CONTENT", HL_FINISH_CONTENT_FILTER},
      {"IMAGE_RECITATION", HL_FINISH_CONTENT_FILTER},
      {"MALFORMED_RESPONSE", HL_FINISH_ERROR},
      {"MISSING_THOUGHT_SIGNATURE", HL_FINISH_ERROR},
      {"OTHER", HL_FINISH_UNKNOWN},
      {"FINISH_REASON_UNSPECIFIED", HL_FINISH_UNKNOWN},
      {"SOME_LATER_REASON", HL_FINISH_UNKNOWN},
  };
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
      char scenario[96], needle[96];
      snprintf(scenario, sizeof scenario, "gmfinish-%s-empty", cases[i].reason);
      snprintf(needle, sizeof needle, "no answer (finishReason %s)", cases[i].reason);
      expect_failure(scenario, s, HL_ERR_PROVIDER, needle);
      snprintf(scenario, sizeof scenario, "gmfinish-%s-text", cases[i].reason);
      hl_response *r = answer(scenario, s);
      REQUIRE(r);
      check_text(r, "Well, the first st");
      CHECK_INT(r->finish, cases[i].finish);
      hl_response_free(r);
    }
}

/* finishReason STOP with no text or call (no content at all, content
 * without parts, an empty text, only a thought) is how Gemini reports
 * some blocked or failed generations: an error, as an answer filtered
 * before any word is in every format, plain and streamed alike. It was
 * an empty answer passing for a normal one. */
static void gemini_stop_without_answer(void) {
  W = &GEMINI;
  static const char *const shapes[] = {"nocontent", "noparts", "emptytext", "thoughts"};
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
      char scenario[64];
      snprintf(scenario, sizeof scenario, "gmempty-%s", shapes[i]);
      expect_failure(scenario, s, HL_ERR_PROVIDER, "gemini: no answer (finishReason STOP");
    }
}

/* functionResponse.response is the result's JSON object when its text is
 * one (leading whitespace allowed), else {"result": text}, and {"error":
 * text} for a failed tool: an array, a text that only starts like an
 * object, plain and empty text. */
static void gemini_tool_result_shapes(void) {
  W = &GEMINI;
  static const char *const results[] = {" \n{\"a\":1}", "[1,2]", "{bad", "plain", "", "{\"x\":1}"};
  const char *model = mname("ok", "shapes");
  hl_request *req = hl_request_new();
  hl_request_set_model(req, model);
  hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "Go"));
  hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
  hl_message *t = hl_message_new(HL_ROLE_TOOL);
  for (size_t i = 0; i < sizeof results / sizeof *results; i++) {
    char id[8];
    snprintf(id, sizeof id, "c%zu", i);
    hl_message_add_tool_call(a, id, "f", NULL);
    hl_message_add_tool_result(t, id, "f", results[i], i == 5);
  }
  hl_messages_push(&req->messages, a);
  hl_messages_push(&req->messages, t);
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  hl_provider_unref(p);
  hl_request_free(req);
  cJSON *b = test_server_last_body(&srv, model);
  REQUIRE(b);
  CHECK(json_is(cJSON_GetArrayItem(hl_json_get(b, "contents"), 2),
                "{\"role\":\"user\",\"parts\":["
                "{\"functionResponse\":{\"id\":\"c0\",\"name\":\"f\",\"response\":{\"a\":1}}},"
                "{\"functionResponse\":{\"id\":\"c1\",\"name\":\"f\",\"response\":{\"result\":\"[1,2]\"}}},"
                "{\"functionResponse\":{\"id\":\"c2\",\"name\":\"f\",\"response\":{\"result\":\"{bad\"}}},"
                "{\"functionResponse\":{\"id\":\"c3\",\"name\":\"f\",\"response\":{\"result\":\"plain\"}}},"
                "{\"functionResponse\":{\"id\":\"c4\",\"name\":\"f\",\"response\":{\"result\":\"\"}}},"
                "{\"functionResponse\":{\"id\":\"c5\",\"name\":\"f\",\"response\":{\"error\":\"{\\\"x\\\":1}\"}}}]}"));
  cJSON_Delete(b);
}

/* ------------------------------------------------------------------ */
/* Every format                                                        */
/* ------------------------------------------------------------------ */

/* A stream event whose data is JSON but not an object (an array, as a
 * proxy batching chunks might send) is no event of any of the formats: a
 * clear error naming it. It was skipped as if empty (Chat Completions,
 * Responses: whatever it carried silently lost), and Gemini also leaked
 * its elements. */
static void stream_event_not_an_object(void) {
  for (size_t i = 0; i < sizeof WIRES / sizeof *WIRES; i++) {
    W = WIRES[i];
    expect_failure("arraydata", true, HL_ERR_PROVIDER, "stream event 2 is not a JSON object");
  }
}

/* An answer filtered or refused before any word of it (only the model's
 * reasoning, or nothing, came) is an error naming the reason in every
 * format, as Gemini's blocked candidates already were: not an empty
 * answer whose finish reason alone tells it from a normal one. */
static void filtered_before_any_word(void) {
  static const char *const says[] = {"openai: no answer (finish_reason content_filter)",
                                     "anthropic: the model refused to answer (stop_reason refusal)",
                                     "openai-responses: no answer (incomplete: content_filter)",
                                     "gemini: no answer (finishReason SAFETY)"};
  for (size_t i = 0; i < sizeof WIRES / sizeof *WIRES; i++) {
    W = WIRES[i];
    for (int s = 0; s < 2; s++) expect_failure("filtered", s, HL_ERR_PROVIDER, says[i]);
  }
}

/* What the cJSON encoders of Gemini and Anthropic printed for the
 * requests of gemini_request_text() and anthropic_request_text() below
 * (captured from those encoders at 781e899), which their writers must send byte for byte. */
static const char *const GEMINI_GOLDEN[] = {
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris?\"}]},{\"role"
    "\":\"model\",\"parts\":[{\"text\":\"Checking.\"},{\"functionCall\":{\"id\":\"c1\",\"name"
    "\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}},{\"functionCall\":{\"id\":\"c2\",\"na"
    "me\":\"get_time\",\"args\":{}}}]},{\"role\":\"user\",\"parts\":[{\"functionResponse\":{"
    "\"id\":\"c1\",\"name\":\"get_weather\",\"response\":{\"result\":\"sunny\"}}},{\"function"
    "Response\":{\"id\":\"c2\",\"name\":\"get_time\",\"response\":{\"error\":\"no tz\"}}},{\""
    "text\":\"Thanks\"}]},{\"role\":\"model\",\"parts\":[{\"text\":\"Thinking.\",\"thought\":"
    "true,\"thoughtSignature\":\"sig-own==\"},{\"text\":\"\",\"thoughtSignature\":\"sig-empty"
    "==\"},{\"functionCall\":{\"name\":\"search\",\"args\":{\"q\":[1,2.5,-3e-07,true,null,{\""
    "k\":\"\303\251\\n\"}],\"big\":12345678901}},\"thoughtSignature\":\"sig-call==\"},{\"func"
    "tionCall\":{\"id\":\"c3\",\"name\":\"get_time\",\"args\":{}}}]},{\"role\":\"user\",\"par"
    "ts\":[{\"functionResponse\":{\"name\":\"search\",\"response\":{\"temp\":21.5,\"ok\":true"
    "}}},{\"functionResponse\":{\"id\":\"c3\",\"name\":\"get_time\",\"response\":{\"error\":"
    "\"{broken\"}}},{\"text\":\"Look:\"},{\"inlineData\":{\"mimeType\":\"image/png\",\"data\""
    ":\"iVBORw0KGgo=\"}},{\"fileData\":{\"mimeType\":\"image/jpeg\",\"fileUri\":\"https://exa"
    "mple.com/a.jpg\"}},{\"text\":\"And again.\"}]},{\"role\":\"model\",\"parts\":[{\"text\":"
    "\"Prefill\"}]}],\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"},{\"text\":\"R"
    "ule \\\"two\\\": caf\303\251 \\\\ tab\\t bell\\u0007 end\\n\"}]},\"tools\":[{\"functionD"
    "eclarations\":[{\"name\":\"get_weather\",\"description\":\"Weather of a city\",\"paramet"
    "ersJsonSchema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"r"
    "equired\":[\"city\"]}},{\"name\":\"get_time\",\"parametersJsonSchema\":{\"type\":\"objec"
    "t\",\"properties\":{}}}]}],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\","
    "\"allowedFunctionNames\":[\"get_weather\"]}},\"generationConfig\":{\"temperature\":0.5,"
    "\"maxOutputTokens\":100,\"stopSequences\":[\"END\"],\"responseMimeType\":\"application/j"
    "son\",\"responseJsonSchema\":{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":"
    "\"string\"}}}}}",
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}]}",
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],\"tools\":[{\"function"
    "Declarations\":[{\"name\":\"f\",\"description\":\"Does f.\",\"parametersJsonSchema\":{\""
    "type\":\"object\",\"properties\":{}}}]}],\"toolConfig\":{\"functionCallingConfig\":{\"mo"
    "de\":\"ANY\"}},\"generationConfig\":{\"temperature\":1e-07,\"maxOutputTokens\":214748364"
    "7,\"stopSequences\":[\"A\",\"\342\202\254\"]}}",
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],\"tools\":[{\"function"
    "Declarations\":[{\"name\":\"f\",\"description\":\"Does f.\",\"parametersJsonSchema\":{\""
    "type\":\"object\",\"properties\":{}}}]}],\"toolConfig\":{\"functionCallingConfig\":{\"mo"
    "de\":\"NONE\"}},\"generationConfig\":{\"temperature\":1e-07,\"maxOutputTokens\":21474836"
    "47,\"stopSequences\":[\"A\",\"\342\202\254\"]}}",
    "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]}],\"generationConfig\":{"
    "\"thinkingConfig\":{\"thinkingBudget\":1024,\"includeThoughts\":true}}}"};
static const char *const ANTHROPIC_GOLDEN[] = {
    "{\"model\":\"xwok@anthropic-text0\",\"system\":\"Be brief.\\n\\nRule \\\"two\\\": caf"
    "\303\251 \\\\ tab\\t bell\\u0007 end\\n\",\"messages\":[{\"role\":\"user\",\"content\":["
    "{\"type\":\"text\",\"text\":\"Weather in Paris?\"}]},{\"role\":\"assistant\",\"content\""
    ":[{\"type\":\"text\",\"text\":\"Checking.\"},{\"type\":\"tool_use\",\"id\":\"c1\",\"name"
    "\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},{\"type\":\"tool_use\",\"id\":\"c2\","
    "\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_r"
    "esult\",\"tool_use_id\":\"c1\",\"content\":\"sunny\"},{\"type\":\"tool_result\",\"tool_u"
    "se_id\":\"c2\",\"content\":\"no tz\",\"is_error\":true},{\"type\":\"text\",\"text\":\"Th"
    "anks\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"Thi"
    "nking.\",\"signature\":\"sig-own==\"},{\"type\":\"tool_use\",\"id\":\"gemini-call-0\",\""
    "name\":\"search\",\"input\":{\"q\":[1,2.5,-3e-07,true,null,{\"k\":\"\303\251\\n\"}],\"bi"
    "g\":12345678901}},{\"type\":\"tool_use\",\"id\":\"c3\",\"name\":\"get_time\",\"input\":{"
    "}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"gemini-"
    "call-0\",\"content\":\" {\\\"temp\\\": 21.5, \\\"ok\\\": true}\"},{\"type\":\"tool_resul"
    "t\",\"tool_use_id\":\"c3\",\"content\":\"{broken\",\"is_error\":true},{\"type\":\"text\""
    ",\"text\":\"Look:\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
    "\"image/png\",\"data\":\"iVBORw0KGgo=\"}},{\"type\":\"image\",\"source\":{\"type\":\"url"
    "\",\"url\":\"https://example.com/a.jpg\"}},{\"type\":\"text\",\"text\":\"And again.\"}]}"
    ",{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Prefill\"}]}],\"max_"
    "tokens\":100,\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather of a city\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\""
    "required\":[\"city\"]}},{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"p"
    "roperties\":{}}},{\"name\":\"answer\",\"description\":\"Give the final answer: its input"
    " is the whole answer.\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"answer\""
    ":{\"type\":\"string\"}}}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"},"
    "\"temperature\":0.5,\"stop_sequences\":[\"END\"]}",
    "{\"model\":\"xwok@anthropic-text1\",\"messages\":[{\"role\":\"user\",\"content\":[{\"typ"
    "e\":\"text\",\"text\":\"Hi\"}]}],\"max_tokens\":4096}",
    "{\"model\":\"xwok@anthropic-text2\",\"messages\":[{\"role\":\"user\",\"content\":[{\"typ"
    "e\":\"text\",\"text\":\"Hi\"}]}],\"max_tokens\":2147483647,\"tools\":[{\"name\":\"f\",\""
    "description\":\"Does f.\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],\"t"
    "ool_choice\":{\"type\":\"any\"},\"temperature\":1e-07,\"stop_sequences\":[\"A\",\"\342"
    "\202\254\"]}",
    "{\"model\":\"xwok@anthropic-text3\",\"messages\":[{\"role\":\"user\",\"content\":[{\"typ"
    "e\":\"text\",\"text\":\"Hi\"}]}],\"max_tokens\":2147483647,\"tools\":[{\"name\":\"f\",\""
    "description\":\"Does f.\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],\"t"
    "ool_choice\":{\"type\":\"none\"},\"temperature\":1e-07,\"stop_sequences\":[\"A\",\"\342"
    "\202\254\"]}",
    "{\"model\":\"xwok@anthropic-cached0\",\"system\":[{\"type\":\"text\",\"text\":\"Be brief"
    ".\\n\\nRule \\\"two\\\": caf\303\251 \\\\ tab\\t bell\\u0007 end\\n\\n\\nGive your final"
    " answer by calling the tool \\\"answer\\\".\",\"cache_control\":{\"type\":\"ephemeral\"}"
    "}],\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather i"
    "n Paris?\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checkin"
    "g.\"},{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"get_weather\",\"input\":{\"city\":"
    "\"Paris\"}},{\"type\":\"tool_use\",\"id\":\"c2\",\"name\":\"get_time\",\"input\":{}}]},{"
    "\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\",\"conten"
    "t\":\"sunny\"},{\"type\":\"tool_result\",\"tool_use_id\":\"c2\",\"content\":\"no tz\",\""
    "is_error\":true},{\"type\":\"text\",\"text\":\"Thanks\"}]},{\"role\":\"assistant\",\"con"
    "tent\":[{\"type\":\"thinking\",\"thinking\":\"Thinking.\",\"signature\":\"sig-own==\"},{"
    "\"type\":\"tool_use\",\"id\":\"gemini-call-0\",\"name\":\"search\",\"input\":{\"q\":[1,2"
    ".5,-3e-07,true,null,{\"k\":\"\303\251\\n\"}],\"big\":12345678901}},{\"type\":\"tool_use"
    "\",\"id\":\"c3\",\"name\":\"get_time\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{"
    "\"type\":\"tool_result\",\"tool_use_id\":\"gemini-call-0\",\"content\":\" {\\\"temp\\\":"
    " 21.5, \\\"ok\\\": true}\"},{\"type\":\"tool_result\",\"tool_use_id\":\"c3\",\"content\""
    ":\"{broken\",\"is_error\":true},{\"type\":\"text\",\"text\":\"Look:\"},{\"type\":\"image"
    "\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo="
    "\"}},{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/a.jp"
    "g\"}},{\"type\":\"text\",\"text\":\"And again.\"}]},{\"role\":\"assistant\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"Prefill\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],"
    "\"max_tokens\":100,\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather of a c"
    "ity\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string"
    "\"}},\"required\":[\"city\"]}},{\"name\":\"get_time\",\"input_schema\":{\"type\":\"objec"
    "t\",\"properties\":{}}},{\"name\":\"answer\",\"description\":\"Give the final answer: it"
    "s input is the whole answer.\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"a"
    "nswer\":{\"type\":\"string\"}}},\"cache_control\":{\"type\":\"ephemeral\"}}],\"tool_choi"
    "ce\":{\"type\":\"tool\",\"name\":\"get_weather\"},\"temperature\":0.5,\"stop_sequences\""
    ":[\"END\"],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}}",
    "{\"model\":\"xwok@anthropic-cached1\",\"messages\":[{\"role\":\"user\",\"content\":[{\"t"
    "ype\":\"text\",\"text\":\"Hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],\"max_toke"
    "ns\":4096,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}}",
    "{\"model\":\"xwok@anthropic-cached2\",\"messages\":[{\"role\":\"user\",\"content\":[{\"t"
    "ype\":\"text\",\"text\":\"Hi\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],\"max_toke"
    "ns\":2147483647,\"tools\":[{\"name\":\"f\",\"description\":\"Does f.\",\"input_schema\":"
    "{\"type\":\"object\",\"properties\":{}},\"cache_control\":{\"type\":\"ephemeral\"}}],\"t"
    "emperature\":1e-07,\"stop_sequences\":[\"A\",\"\342\202\254\"],\"thinking\":{\"type\":\""
    "enabled\",\"budget_tokens\":2048}}"};

/* ------------------------------------------------------------------ */
/* Request text                                                        */
/* ------------------------------------------------------------------ */

/* The body `p` sends for `req` (asked of scenario "ok" as `model`), as
 * the server got it; the caller frees it. */
static char *sent_text(hl_provider *p, hl_request *req, const char *model) {
  hl_request_set_model(req, model);
  hl_response *r = NULL;
  hl_status st = hl_provider_complete(p, NULL, req, &r);
  if (st != HL_OK) fprintf(stderr, "  %s: %s\n", model, hl_last_error());
  CHECK_INT(st, HL_OK);
  hl_response_free(r);
  cJSON *s = test_server_stats(&srv, model);
  const char *raw = hl_json_get_string(s, "last_raw");
  char *out = raw ? strdup(raw) : NULL;
  cJSON_Delete(s);
  return out;
}

/* Every shape of history a writer meets, on top of rich_request():
 * another system text, strings with escapes and non-ASCII, thinking of
 * this provider and another's, an empty text with a signature, a call
 * with a made-up id, a result naming no tool whose text is a JSON
 * object, images, consecutive messages of one role, a message with
 * nothing to send. `own` is the provider's reasoning part data. */
static hl_request *every_shape(const char *provider, const char *own_json) {
  hl_request *r = rich_request("x");
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_SYSTEM,
                                                     "Rule \"two\": caf\xc3\xa9 \\ tab\t bell\x07 end\n"));
  hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *own = cJSON_Parse(own_json), *other = cJSON_Parse("{\"type\":\"x\"}");
  hl_message_add_reasoning(a, provider, NULL, "Thinking.", own, "sig-own==");
  hl_message_add_reasoning(a, "somebody-else", NULL, "Theirs.", other, "sig-other");
  hl_message_add_text(a, "");
  hl_message_set_signature(a, a->n_parts - 1, "sig-empty==");
  cJSON *args = cJSON_Parse("{\"q\":[1,2.5,-3e-7,true,null,{\"k\":\"\\u00e9\\n\"}],\"big\":12345678901}");
  hl_message_add_tool_call(a, "gemini-call-0", "search", args);
  hl_message_set_signature(a, a->n_parts - 1, "sig-call==");
  hl_message_add_tool_call(a, "c3", "get_time", NULL);
  hl_messages_push(&r->messages, a);
  hl_message *t = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(t, "gemini-call-0", NULL, " {\"temp\": 21.5, \"ok\": true}", false);
  hl_message_add_tool_result(t, "c3", "get_time", "{broken", true);
  hl_messages_push(&r->messages, t);
  hl_message *u = hl_message_new(HL_ROLE_USER);
  hl_message_add_text(u, "Look:");
  hl_message_add_image_url(u, "data:image/png;base64,iVBORw0KGgo=", NULL);
  hl_message_add_image_url(u, "https://example.com/a.jpg", "image/jpeg");
  hl_messages_push(&r->messages, u);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "And again."));
  hl_message *skip = hl_message_new(HL_ROLE_ASSISTANT);
  hl_message_add_reasoning(skip, "somebody-else", NULL, "Theirs.", other, NULL);
  hl_messages_push(&r->messages, skip);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_ASSISTANT, "Prefill"));
  cJSON_Delete(own);
  cJSON_Delete(other);
  cJSON_Delete(args);
  return r;
}

/* Smaller requests: one user text and nothing else; tools with another
 * tool choice, numbers to print, two stop sequences. */
static hl_request *plain_request(void) {
  hl_request *r = hl_request_new();
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Hi"));
  return r;
}

static hl_request *choice_request(hl_tool_choice choice) {
  hl_request *r = plain_request();
  hl_request_add_tool(r, "f", "Does f.", NULL);
  r->tool_choice = choice;
  r->temperature = 1e-7;
  r->max_tokens = 2147483647;
  hl_request_add_stop(r, "A");
  hl_request_add_stop(r, "\xe2\x82\xac");
  return r;
}

/* Compare the body sent for each request with the text it must be
 * (GOLDEN_PRINT=1: print the bodies instead). */
static void check_sent(hl_provider *p, hl_request *const *reqs, const char *const *want, size_t n,
                       const char *tag) {
  for (size_t i = 0; i < n; i++) {
    char tagi[48];
    snprintf(tagi, sizeof tagi, "%s%zu", tag, i);
    char *got = sent_text(p, reqs[i], mname("ok", tagi));
    if (getenv("GOLDEN_PRINT")) printf("%s\n", got ? got : "(none)");
    else CHECK_STR(got, want[i]);
    free(got);
    hl_request_free(reqs[i]);
  }
}

/* Gemini's request body, written straight into its buffer, is the text
 * the cJSON tree it replaced printed, byte for byte (the goldens are
 * that encoder's output for these requests). */
static void gemini_request_text(void) {
  W = &GEMINI;
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  cJSON *thinking = cJSON_Parse("{\"thinkingBudget\":1024,\"includeThoughts\":true}");
  hl_request *reqs[] = {
      every_shape("gemini", "{\"text\":\"Thinking.\",\"thought\":true,\"thoughtSignature\":\"sig-own==\"}"),
      plain_request(), choice_request(HL_TOOL_CHOICE_REQUIRED), choice_request(HL_TOOL_CHOICE_NONE)};
  check_sent(p, reqs, GEMINI_GOLDEN, 4, "text");
  CHECK_INT(hl_gemini_set_thinking(p, thinking), HL_OK);
  hl_request *more[] = {plain_request()};
  check_sent(p, more, GEMINI_GOLDEN + 4, 1, "thinking");
  cJSON_Delete(thinking);
  hl_provider_unref(p);
}

/* The same for Anthropic's, with and without prompt caching and
 * extended thinking (which change the system prompt and the blocks). */
static void anthropic_request_text(void) {
  W = &ANTHROPIC;
  hl_provider *p = W->make(srv.base, KEY);
  REQUIRE(p);
  static const char own[] = "{\"type\":\"thinking\",\"thinking\":\"Thinking.\",\"signature\":\"sig-own==\"}";
  hl_request *reqs[] = {every_shape("anthropic", own), plain_request(),
                        choice_request(HL_TOOL_CHOICE_REQUIRED), choice_request(HL_TOOL_CHOICE_NONE)};
  check_sent(p, reqs, ANTHROPIC_GOLDEN, 4, "text");
  CHECK_INT(hl_anthropic_set_prompt_caching(p, true), HL_OK);
  CHECK_INT(hl_anthropic_set_thinking(p, 2048), HL_OK);
  hl_request *more[] = {every_shape("anthropic", own), plain_request(),
                        choice_request(HL_TOOL_CHOICE_AUTO)};
  check_sent(p, more, ANTHROPIC_GOLDEN + 4, 3, "cached");
  /* The breakpoint skips a thinking block at the end, and replaces one a
   * block kept whole had (a paused turn's). */
  static const char raw[] = "{\"type\":\"server_tool_use\",\"cache_control\":{\"type\":\"x\"},\"id\":\"s1\"}";
  static const char *const ends[] = {own, raw};
  static const char *const want[] = {
      "{\"model\":\"xwok@anthropic-end0\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"Hi\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Sure.\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"thinking\",\"thinking\":"
      "\"Thinking.\",\"signature\":\"sig-own==\"}]}],\"max_tokens\":4096,\"thinking\":{\"type\":"
      "\"enabled\",\"budget_tokens\":2048}}",
      "{\"model\":\"xwok@anthropic-end1\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"text\",\"text\":\"Hi\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
      "\"Sure.\"},{\"type\":\"server_tool_use\",\"id\":\"s1\",\"cache_control\":{\"type\":"
      "\"ephemeral\"}}]}],\"max_tokens\":4096,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048}}"};
  hl_request *last[2];
  for (int i = 0; i < 2; i++) {
    last[i] = plain_request();
    hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
    cJSON *blk = cJSON_Parse(ends[i]);
    hl_message_add_text(a, "Sure.");
    hl_message_add_reasoning(a, "anthropic", NULL, NULL, blk, NULL);
    cJSON_Delete(blk);
    hl_messages_push(&last[i]->messages, a);
  }
  check_sent(p, last, want, 2, "end");
  hl_provider_unref(p);
}

int main(int argc, char **argv) {
  static const test_case tests[] = {
      T(openai_refusal),
      T(openai_tool_call_index_reused),
      T(openai_other_choices_ignored),
      T(anthropic_untyped_block),
      T(anthropic_stop_reasons),
      T(anthropic_server_tool_blocks_ignored),
      T(anthropic_pause_turn_continued),
      T(anthropic_pause_turn_continued_async),
      T(anthropic_pause_turn_bounded),
      T(responses_missing_item_done),
      T(gemini_finish_reasons),
      T(gemini_stop_without_answer),
      T(gemini_tool_result_shapes),
      T(stream_event_not_an_object),
      T(filtered_before_any_word),
      T(gemini_request_text),
      T(anthropic_request_text),
  };
  return run_cases(&srv, tests, sizeof tests / sizeof *tests, argc, argv);
}
