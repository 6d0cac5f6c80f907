/*
 * test_providers.c - the OpenAI and Anthropic providers over real HTTP on
 * 127.0.0.1 against server.py, one test per scenario and wire format.
 *
 *   test_providers              run every test
 *   test_providers NAME...      run the named tests (meson runs one each)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "hookline/anthropic.h"
#include "hookline/json.h"
#include "hookline/model.h"
#include "hookline/openai.h"
#include "hookline/provider.h"
#include "provider_fixture.h"
#include "test_server.h"
#include "wire_cases.h"

#define KEY "sk-test-SECRET-0123456789abcdef"

/* What server.py answers (UTF-8 spelled out). */
#define TEXT "Hello, world! Caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80 done."
#define TOOLS_TEXT "Let me check \xe2\x98\x83."

static test_server srv;

typedef struct wire {
  const char *name;
  hl_provider *(*make)(const char *base, const char *key);
  void (*cancel)(hl_provider *);
  hl_status (*timeouts)(hl_provider *, long, long, long);
  hl_status (*retries)(hl_provider *, int, long, long);
  hl_status (*max_bytes)(hl_provider *, size_t);
  const char *call_prefix;
} wire;

static const wire OPENAI = {"openai", hl_openai_new, hl_openai_cancel, hl_openai_set_timeouts,
                            hl_openai_set_retries, hl_openai_set_max_response_bytes, "call_"};
static const wire ANTHROPIC = {"anthropic", hl_anthropic_new, hl_anthropic_cancel,
                               hl_anthropic_set_timeouts, hl_anthropic_set_retries,
                               hl_anthropic_set_max_response_bytes, "toolu_"};
static const wire *W = &OPENAI;

/* A provider on the local server; quick retries so the tests stay short
 * (Retry-After still rules when the server sends it). */
static hl_provider *provider(void) {
  hl_provider *p = W->make(srv.base, KEY);
  if (p) W->retries(p, 3, 10, 5000);
  return p;
}

/* "scenario@wire-tag": the scenario for the server, unique per test. */
static const char *model_name(const char *scenario, const char *tag) {
  static char buf[128];
  snprintf(buf, sizeof buf, "%s@%s-%s", scenario, W->name, tag);
  return buf;
}

static hl_request *simple_request(const char *model, bool stream) {
  hl_request *r = hl_request_new();
  if (!r) return NULL;
  hl_request_set_model(r, model);
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_SYSTEM, "You are terse."));
  hl_messages_push(&r->messages, hl_message_new_text(HL_ROLE_USER, "Hi there"));
  r->stream = stream;
  return r;
}

/* Ask `p` with a simple conversation. */
static hl_status ask(hl_provider *p, const char *model, bool stream, hl_response **out) {
  *out = NULL;
  hl_request *r = simple_request(model, stream);
  if (!r) return HL_ERR_NOMEM;
  hl_status st = hl_provider_complete(p, NULL, r, out);
  hl_request_free(r);
  return st;
}

static char *text_of(const hl_response *r) { return r ? hl_message_text(r->message) : NULL; }

static void check_text_response(const hl_response *r) {
  REQUIRE(r && r->message);
  char *t = text_of(r);
  CHECK_STR(t, TEXT);
  hl_free(t);
  CHECK_INT(r->message->n_parts, 1);
  CHECK_INT(r->finish, HL_FINISH_STOP);
  CHECK_INT(r->usage.input_tokens, 11);
  CHECK_INT(r->usage.output_tokens, 7);
}

static void check_tool_call(const hl_part *p, int i, const char *name, const char *args_json) {
  char id[32];
  snprintf(id, sizeof id, "%s%d", W->call_prefix, i);
  CHECK_INT(p->kind, HL_PART_TOOL_CALL);
  CHECK_STR(p->id, id);
  CHECK_STR(p->name, name);
  cJSON *want = NULL;
  REQUIRE(hl_json_parse(args_json, (size_t)-1, &want) == HL_OK);
  if (!hl_json_equal(p->args, want)) {
    char *got = p->args ? cJSON_PrintUnformatted(p->args) : NULL;
    fprintf(stderr, "tool call %d args: got %s want %s\n", i, got ? got : "(null)", args_json);
    free(got);
    CHECK(0);
  }
  cJSON_Delete(want);
}

static void check_tools_response(const hl_response *r) {
  REQUIRE(r && r->message);
  REQUIRE(r->message->n_parts == 4);
  CHECK_INT(r->message->parts[0].kind, HL_PART_TEXT);
  CHECK_STR(r->message->parts[0].text, TOOLS_TEXT);
  check_tool_call(&r->message->parts[1], 0, "get_weather", "{\"city\":\"Paris\",\"unit\":\"celsius\"}");
  check_tool_call(&r->message->parts[2], 1, "get_time", "{\"tz\":\"Europe/Paris\"}");
  check_tool_call(&r->message->parts[3], 2, "add",
                  "{\"a\":1,\"b\":2.5,\"note\":\"\xc3\xa9t\xc3\xa9 \\\"quoted\\\"\"}");
  CHECK_INT(hl_message_tool_call_count(r->message), 3);
  CHECK_INT(r->finish, HL_FINISH_TOOL_CALLS);
  CHECK_INT(r->usage.input_tokens, 11);
  CHECK_INT(r->usage.output_tokens, 7);
}

/* Ask for `scenario` on a fresh provider: it must succeed and pass
 * `check`. */
static void expect_answer(const char *scenario, const char *tag, bool stream,
                          void (*check)(const hl_response *)) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  CHECK_INT(ask(p, model_name(scenario, tag), stream, &r), HL_OK);
  check(r);
  hl_response_free(r);
  hl_provider_unref(p);
}

/* Ask `p` for `model`: the call must fail with `want`, hand back no
 * response and say `needle`. */
static void expect_failure(hl_provider *p, const char *model, bool stream, hl_status want,
                           const char *needle) {
  hl_response *r = NULL;
  CHECK_INT(ask(p, model, stream, &r), want);
  CHECK(r == NULL);
  hl_response_free(r);
  CHECK_CONTAINS(hl_last_error(), needle);
}

/* ------------------------------------------------------------------ */
/* Plain answers and streams                                           */
/* ------------------------------------------------------------------ */

static void text_plain(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  const char *model = model_name("text", "plain");
  CHECK_INT(ask(p, model, false, &r), HL_OK);
  check_text_response(r);
  if (r) CHECK_STR(r->model, model);
  if (r) CHECK(r->id && *r->id);
  hl_response_free(r);
  hl_provider_unref(p);
}

static void text_stream_lf(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  CHECK_INT(ask(p, model_name("text", "lf"), true, &r), HL_OK);
  check_text_response(r);
  hl_response_free(r);
  /* The request asked for a stream (and OpenAI for the usage chunk). */
  cJSON *st = test_server_stats(&srv, model_name("text", "lf"));
  const cJSON *body = hl_json_get(st, "last_body");
  CHECK(hl_json_get_bool(body, "stream", false));
  if (W == &OPENAI)
    CHECK(hl_json_get_bool(hl_json_get(body, "stream_options"), "include_usage", false));
  const cJSON *h = hl_json_get(st, "last_headers");
  CHECK_STR(hl_json_get_string(h, "accept"), "text/event-stream");
  CHECK_STR(hl_json_get_string(h, "content-type"), "application/json");
  cJSON_Delete(st);
  hl_provider_unref(p);
}

static void text_stream_crlf(void) { expect_answer("crlf", "t", true, check_text_response); }

static void stream_comments_keepalives(void) {
  expect_answer("comments", "t", true, check_text_response);
}

static void check_text_utf8(const hl_response *r) {
  check_text_response(r);
  char *t = text_of(r);
  CHECK(t && hl_utf8_valid(t, strlen(t)));
  hl_free(t);
}

static void stream_utf8_split_across_chunks(void) {
  expect_answer("utf8", "t", true, check_text_utf8);
}

static void parallel_tool_calls_plain(void) {
  expect_answer("tools", "plain", false, check_tools_response);
}

static void parallel_tool_calls_stream(void) {
  expect_answer("tools", "stream", true, check_tools_response);
}

/* The assembled stream is the very response the plain call gives. */
static void stream_equals_plain(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = model_name("tools", "same");
  hl_response *a = NULL, *b = NULL;
  CHECK_INT(ask(p, model, false, &a), HL_OK);
  CHECK_INT(ask(p, model, true, &b), HL_OK);
  cJSON *ja = hl_response_to_json(a), *jb = hl_response_to_json(b);
  CHECK(ja && jb && hl_json_equal(ja, jb));
  cJSON_Delete(ja);
  cJSON_Delete(jb);
  hl_response_free(a);
  hl_response_free(b);
  hl_provider_unref(p);
}

/* The server sends the stream one byte per chunk, flushed each time. */
static void stream_split_every_byte(void) {
  expect_answer("bytes", "t", true, check_tools_response);
}

/* ------------------------------------------------------------------ */
/* Malformed answers                                                   */
/* ------------------------------------------------------------------ */

static void malformed_json_chunk(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  expect_failure(p, model_name("badjson", "stream"), true, HL_ERR_PROVIDER,
                 "malformed JSON in stream event");
  CHECK_CONTAINS(hl_last_error(), W->name);
  CHECK_INT(hl_last_status(), HL_ERR_PROVIDER);
  /* A malformed plain body too. */
  expect_failure(p, model_name("badjson", "plain"), false, HL_ERR_PROVIDER, "not valid JSON");
  hl_provider_unref(p);
}

static void error_event_mid_stream(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = model_name("streamerror", "t");
  expect_failure(p, model, true, HL_ERR_PROVIDER, "Overloaded");
  if (W == &ANTHROPIC) CHECK_CONTAINS(hl_last_error(), "overloaded_error");
  CHECK_INT(test_server_count(&srv, model), 1);
  hl_provider_unref(p);
}

static void hostile_index_in_stream(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  expect_failure(p, model_name("badindex", "t"), true, HL_ERR_PROVIDER, "index");
  hl_provider_unref(p);
}

static void client_error_4xx_not_retried(void) {
  char base[128];
  snprintf(base, sizeof base, "%s/nowhere", srv.base); /* the server answers 404 */
  hl_provider *p = W->make(base, KEY);
  REQUIRE(p);
  W->retries(p, 3, 10, 100);
  expect_failure(p, "text@x", false, HL_ERR_HTTP, "HTTP 404");
  CHECK_CONTAINS(hl_last_error(), "no route");
  CHECK(strstr(hl_last_error(), "attempts") == NULL);
  hl_provider_unref(p);
}

static void malformed_tool_arguments(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  expect_failure(p, model_name("badargs", "stream"), true, HL_ERR_PROVIDER,
                 "arguments of tool call \"get_weather\"");
  expect_failure(p, model_name("badargs", "plain"), false, HL_ERR_PROVIDER, "get_weather");
  hl_provider_unref(p);
}

/* The response survives hookline's own JSON round trip (sessions and
 * traces store it that way) with the same usage. */
static void check_round_trip(const hl_response *r) {
  REQUIRE(r);
  cJSON *j = hl_response_to_json(r);
  REQUIRE(j);
  hl_response *back = NULL;
  CHECK_INT(hl_response_from_json(j, &back), HL_OK);
  if (back) {
    CHECK_INT(back->usage.input_tokens, r->usage.input_tokens);
    CHECK_INT(back->usage.output_tokens, r->usage.output_tokens);
  }
  hl_response_free(back);
  cJSON_Delete(j);
}

/* Token counts are server-controlled: negative, fractional, 1e300, over
 * 2^53, not a number, an input total over 2^53. Each bad count is ignored
 * (0), the answer still arrives, and it survives the round trip; the
 * largest valid count, 2^53, is kept. Plain and streamed alike. */
static void usage_counts_out_of_range_are_ignored(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  /* server.py's BAD_USAGE: input, output; Anthropic's cache read in the
   * third pushes its input total (5 + 2^53) out of range. */
  const struct { const char *scenario; long long in; } bad[] = {
      {"badusage", 0},                            /* 1e300, -5 */
      {"badusage2", 0},                           /* 3.5, 2^53 + 2 */
      {"badusage3", W == &OPENAI ? 5 : 0},        /* 5, "7", cache read 2^53 */
  };
  for (int stream = 0; stream < 2; stream++) {
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      hl_response *r = NULL;
      CHECK_INT(ask(p, model_name(bad[i].scenario, stream ? "stream" : "plain"), stream, &r), HL_OK);
      REQUIRE(r);
      char *t = text_of(r);
      CHECK_STR(t, TEXT);
      hl_free(t);
      if (r->usage.input_tokens != bad[i].in || r->usage.output_tokens)
        fprintf(stderr, "%s stream=%d: usage %lld/%lld\n", bad[i].scenario, stream,
                (long long)r->usage.input_tokens, (long long)r->usage.output_tokens);
      CHECK_INT(r->usage.input_tokens, bad[i].in);
      CHECK_INT(r->usage.output_tokens, 0);
      check_round_trip(r);
      hl_response_free(r);
    }
    hl_response *r = NULL;
    CHECK_INT(ask(p, model_name("maxusage", stream ? "stream" : "plain"), stream, &r), HL_OK);
    REQUIRE(r);
    CHECK_INT(r->usage.input_tokens, 9007199254740992LL);
    CHECK_INT(r->usage.output_tokens, 7);
    check_round_trip(r);
    hl_response_free(r);
  }
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Transport failures and retries                                      */
/* ------------------------------------------------------------------ */

static void connection_closed_mid_stream(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = model_name("close", "stream");
  /* Text already reached the application: no retry, a clear error. */
  expect_failure(p, model, true, HL_ERR_NETWORK, "mid-stream");
  CHECK_INT(test_server_count(&srv, model), 1);
  hl_provider_unref(p);
}

static void connection_closed_mid_body_retried(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  const char *model = model_name("close", "plain");
  /* Nothing was handed over yet: the request is retried and succeeds. */
  CHECK_INT(ask(p, model, false, &r), HL_OK);
  check_text_response(r);
  hl_response_free(r);
  CHECK_INT(test_server_count(&srv, model), 2);
  hl_provider_unref(p);
}

/* Seconds between the server's first and second request for `model`. */
static double attempt_gap(const char *model, int *count) {
  cJSON *st = test_server_stats(&srv, model);
  const cJSON *times = hl_json_get(st, "times");
  *count = (int)hl_json_get_number(st, "count", 0);
  double gap = cJSON_GetArraySize(times) >= 2
                   ? cJSON_GetArrayItem(times, 1)->valuedouble - cJSON_GetArrayItem(times, 0)->valuedouble
                   : 0;
  cJSON_Delete(st);
  return gap;
}

static void retry_429_after_retry_after(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  char model[128];
  snprintf(model, sizeof model, "%s", model_name("r429", "t"));
  CHECK_INT(ask(p, model, false, &r), HL_OK);
  check_text_response(r);
  hl_response_free(r);
  int count = 0;
  double gap = attempt_gap(model, &count);
  CHECK_INT(count, 2);
  /* Behaviour, not speed: the client waited for the server's Retry-After:
   * 1 instead of its own 10 ms backoff. */
  if (gap < 0.95) fprintf(stderr, "gap between attempts %.3f s\n", gap);
  CHECK(gap >= 0.95);
  hl_provider_unref(p);
}

static void retry_429_retry_after_ms_and_date(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  char model[128];
  int count = 0;
  snprintf(model, sizeof model, "%s", model_name("r429ms", "t"));
  CHECK_INT(ask(p, model, false, &r), HL_OK);
  hl_response_free(r);
  double gap = attempt_gap(model, &count);
  CHECK_INT(count, 2);
  if (gap < 1.15) fprintf(stderr, "retry-after-ms gap %.3f s\n", gap);
  CHECK(gap >= 1.15); /* 1200 ms, not the "Retry-After: 0" next to it */
  snprintf(model, sizeof model, "%s", model_name("r429date", "t"));
  CHECK_INT(ask(p, model, true, &r), HL_OK);
  hl_response_free(r);
  gap = attempt_gap(model, &count);
  CHECK_INT(count, 2);
  if (gap < 0.95) fprintf(stderr, "Retry-After date gap %.3f s\n", gap);
  CHECK(gap >= 0.95); /* an HTTP date 2 s ahead, whole seconds */
  hl_provider_unref(p);
}

static void retry_500_three_times_then_success(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  char model[128];
  snprintf(model, sizeof model, "%s", model_name("r500", "t"));
  CHECK_INT(ask(p, model, true, &r), HL_OK);
  check_text_response(r);
  hl_response_free(r);
  CHECK_INT(test_server_count(&srv, model), 4);
  /* With fewer retries than failures the server's message comes back. */
  W->retries(p, 1, 1, 10);
  snprintf(model, sizeof model, "%s", model_name("r500", "few"));
  expect_failure(p, model, false, HL_ERR_HTTP, "HTTP 500");
  CHECK_CONTAINS(hl_last_error(), "internal failure 2");
  CHECK_CONTAINS(hl_last_error(), "after 2 attempts");
  CHECK_INT(test_server_count(&srv, model), 2);
  hl_provider_unref(p);
}

/* A server that asks to wait longer than the retry maximum (5 s here) is
 * not waited for: the call fails at once with the server's wish in the
 * message, whether it asks in seconds, as an HTTP date or in ms. */
static void retry_after_longer_than_maximum_fails_at_once(void) {
  const struct { const char *scenario; hl_status status; const char *says; } rows[] = {
      {"r429long", HL_ERR_RATE_LIMIT, "server asked to retry after 86400 s, more than the 5 s maximum"},
      {"r503longdate", HL_ERR_HTTP, "more than the 5 s maximum"},
      {"r429longms", HL_ERR_RATE_LIMIT, "server asked to retry after 1e+12 s"},
  };
  hl_provider *p = provider();
  REQUIRE(p);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char model[128];
    snprintf(model, sizeof model, "%s", model_name(rows[i].scenario, "t"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_failure(p, model, i == 1, rows[i].status, rows[i].says);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (s >= 8) fprintf(stderr, "%s took %.1f s\n", rows[i].scenario, s);
    CHECK(s < 8); /* behaviour: no wait at all (before the fix, 3 waits of 5 s) */
    CHECK_INT(test_server_count(&srv, model), 1);
  }
  hl_provider_unref(p);
}

/* Another protocol on the port: a protocol error quoting what came back
 * (test_not_http_says: on a fresh connection with every libcurl), not a
 * "bad URL", and no retry. */
static void reply_that_is_not_http(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  /* A few binary bytes on a connection left open (the first connection
   * of the program): named at once, not after the idle timeout (30 s). */
  W->timeouts(p, 5000, 0, 30000);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  expect_failure(p, model_name("nothttpopen", "t"), true, HL_ERR_PROVIDER,
                 "did not answer in HTTP: it sent \"\\x16\\x03\\x01\\x00\\xA5\"");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK(t1.tv_sec - t0.tv_sec < 10);
  /* The plain call comes on a fresh connection too (the one above is
   * closed); the streamed one on the connection of test_server_count. */
  for (int stream = 0; stream < 2; stream++) {
    const char *model = model_name("nothttp", stream ? "stream" : "plain");
    expect_failure(p, model, stream, HL_ERR_PROVIDER,
                   test_not_http_says(stream, "did not answer in HTTP: it sent "
                                              "\"SSH-2.0-OpenSSH_9.2p1 Debian-2\\r\\n\""));
    CHECK(strstr(hl_last_error(), "bad URL") == NULL);
    CHECK_INT(test_server_count(&srv, model), 1);
  }
  hl_provider_unref(p);
}

/* A proxy's HTML page with status 200: the message names the content
 * type and quotes the start of the body (with the key in it redacted),
 * for a stream instead of "the stream ended before [DONE]". */
static void html_answer_named_by_content_type(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  for (int stream = 0; stream < 2; stream++) {
    const char *model = model_name("html", stream ? "stream" : "plain");
    expect_failure(p, model, stream, HL_ERR_PROVIDER,
                   stream ? "to a streaming request is not an event stream: HTTP 200 with Content-Type"
                          : "response body is not valid JSON");
    const char *msg = hl_last_error();
    CHECK_CONTAINS(msg, "\"text/html; charset=utf-8\"");
    CHECK_CONTAINS(msg, "starting \"<!DOCTYPE html>\\n<html><head><title>Gateway</title>");
    CHECK(strstr(msg, "before") == NULL);
    CHECK(strstr(msg, "SECRET") == NULL);
    CHECK(strstr(msg, "sk-") == NULL);
  }
  hl_provider_unref(p);
}

static void unauthorized_401_not_retried(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_response *r = NULL;
  char model[128];
  snprintf(model, sizeof model, "%s", model_name("auth", "t"));
  CHECK_INT(ask(p, model, false, &r), HL_ERR_AUTH);
  const char *msg = hl_last_error();
  CHECK_CONTAINS(msg, "HTTP 401");
  CHECK_CONTAINS(msg, "Incorrect API key provided");
  CHECK(strstr(msg, KEY) == NULL);
  CHECK(strstr(msg, "SECRET") == NULL);
  CHECK_CONTAINS(msg, "[REDACTED]");
  CHECK_INT(test_server_count(&srv, model), 1);
  /* The key did go to the server, in the right header. */
  cJSON *st = test_server_stats(&srv, model);
  const cJSON *h = hl_json_get(st, "last_headers");
  if (W == &OPENAI) CHECK_STR(hl_json_get_string(h, "authorization"), "Bearer " KEY);
  else CHECK_STR(hl_json_get_string(h, "x-api-key"), KEY);
  cJSON_Delete(st);
  hl_provider_unref(p);
}

static void server_never_answers_times_out(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  W->timeouts(p, 2000, 0, 300);
  const char *model = model_name("hang", "t");
  expect_failure(p, model, false, HL_ERR_TIMEOUT, "idle timeout");
  CHECK_INT(test_server_count(&srv, model), 1);
  /* The total timeout as well. */
  W->timeouts(p, 2000, 400, 0);
  model = model_name("hang", "total");
  expect_failure(p, model, true, HL_ERR_TIMEOUT, "timed out");
  CHECK_INT(test_server_count(&srv, model), 1); /* the request was sent: no retry */
  /* A stream that stops in the middle: the idle timeout ends it. */
  W->timeouts(p, 2000, 0, 300);
  model = model_name("hangstream", "idle");
  expect_failure(p, model, true, HL_ERR_TIMEOUT, "idle timeout");
  CHECK_INT(test_server_count(&srv, model), 1);
  hl_provider_unref(p);
}

static void response_over_size_cap(void) {
  hl_provider *p = provider(); /* default cap: 8 MiB; the answer is 20 MB */
  REQUIRE(p);
  expect_failure(p, model_name("big", "plain"), false, HL_ERR_TOO_LARGE, "larger than the cap");
  expect_failure(p, model_name("big", "stream"), true, HL_ERR_TOO_LARGE, "larger than");
  /* With a larger cap the same answer is fine. */
  W->max_bytes(p, 64u << 20);
  hl_response *r = NULL;
  CHECK_INT(ask(p, model_name("big", "ok"), false, &r), HL_OK);
  char *t = text_of(r);
  CHECK(t && strlen(t) == 20u * 1024 * 1024);
  hl_free(t);
  hl_response_free(r);
  hl_provider_unref(p);
}

typedef struct canceller {
  hl_provider *p;
  int delay_ms;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;
  struct timespec ts = {0, c->delay_ms * 1000000L};
  nanosleep(&ts, NULL);
  W->cancel(c->p);
  return NULL;
}

static void cancel_from_another_thread(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  /* Long timeouts: only the cancellation can end these requests. */
  W->timeouts(p, 5000, 0, 60000);
  const char *scenarios[2] = {"hang", "hangstream"};
  for (int i = 0; i < 2; i++) {
    canceller c = {p, 200};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, cancel_later, &c) == 0);
    hl_response *r = NULL;
    CHECK_INT(ask(p, model_name(scenarios[i], "cancel"), i == 1, &r), HL_ERR_CANCELLED);
    CHECK_CONTAINS(hl_last_error(), "cancelled");
    CHECK(r == NULL);
    pthread_join(t, NULL);
  }
  /* A request started after the cancel runs normally. */
  hl_response *r = NULL;
  CHECK_INT(ask(p, model_name("text", "after-cancel"), false, &r), HL_OK);
  hl_response_free(r);
  hl_provider_unref(p);
}

static void connection_refused_is_network_error(void) {
  hl_provider *p = W->make("http://127.0.0.1:1/v1", KEY);
  REQUIRE(p);
  W->retries(p, 2, 1, 10);
  expect_failure(p, "m", false, HL_ERR_NETWORK, "127.0.0.1:1");
  CHECK_CONTAINS(hl_last_error(), "after 3 attempts");
  hl_provider_unref(p);
}

static void keep_alive_reuses_connection(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  char model[128];
  snprintf(model, sizeof model, "%s", model_name("text", "ka"));
  for (int i = 0; i < 3; i++) {
    hl_response *r = NULL;
    CHECK_INT(ask(p, model, i == 1, &r), HL_OK);
    hl_response_free(r);
  }
  cJSON *st = test_server_stats(&srv, model);
  const cJSON *peers = hl_json_get(st, "peers");
  REQUIRE(cJSON_GetArraySize(peers) == 3);
  CHECK_INT(cJSON_GetArrayItem(peers, 0)->valueint, cJSON_GetArrayItem(peers, 1)->valueint);
  CHECK_INT(cJSON_GetArrayItem(peers, 1)->valueint, cJSON_GetArrayItem(peers, 2)->valueint);
  cJSON_Delete(st);
  hl_provider_unref(p);
}

typedef struct par_arg {
  hl_provider *p;
  int ok;
  char model[128];
} par_arg;

static void *par_worker(void *arg) {
  par_arg *a = arg;
  for (int i = 0; i < 5; i++) {
    hl_response *r = NULL;
    if (ask(a->p, a->model, i % 2 == 1, &r) == HL_OK) {
      char *t = text_of(r);
      if (t && !strcmp(t, TEXT)) a->ok++;
      hl_free(t);
    }
    hl_response_free(r);
  }
  return NULL;
}

static void one_provider_many_threads(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  par_arg args[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    args[i].p = p;
    args[i].ok = 0;
    snprintf(args[i].model, sizeof args[i].model, "%s", model_name("text", "threads"));
    REQUIRE(pthread_create(&t[i], NULL, par_worker, &args[i]) == 0);
  }
  int ok = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    ok += args[i].ok;
  }
  CHECK_INT(ok, 20);
  CHECK_INT(test_server_count(&srv, model_name("text", "threads")), 20);
  hl_provider_unref(p);
}

static void no_model_is_invalid(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  hl_request *r = simple_request("x", false);
  REQUIRE(r);
  hl_request_set_model(r, NULL);
  hl_response *out = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, r, &out), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "no model");
  hl_request_free(r);
  hl_provider_unref(p);
}

static void setters_reject_other_providers(void) {
  hl_provider *p = provider();
  REQUIRE(p);
  if (W == &OPENAI) {
    CHECK_INT(hl_anthropic_set_model(p, "x"), HL_ERR_INVALID);
    CHECK_INT(hl_openai_add_header(p, "Bad:Name", "v"), HL_ERR_INVALID);
    CHECK_INT(hl_openai_add_header(p, "X-Ok", "line\r\nbreak"), HL_ERR_INVALID);
    CHECK_INT(hl_openai_add_header(p, "X-Ok", "fine"), HL_OK);
  } else {
    CHECK_INT(hl_openai_set_model(p, "x"), HL_ERR_INVALID);
    CHECK_INT(hl_anthropic_set_max_tokens(p, 0), HL_ERR_INVALID);
    CHECK_INT(hl_anthropic_set_version(p, "bad\nversion"), HL_ERR_INVALID);
  }
  hl_provider_unref(p);
}

/* A content block that starts twice is a broken stream: a clear error,
 * and nothing of the first start leaks (the ASan build checks). */
static void anthropic_block_started_twice(void) {
  W = &ANTHROPIC;
  hl_provider *p = provider();
  REQUIRE(p);
  expect_failure(p, "dupstart@anthropic-t", true, HL_ERR_PROVIDER, "content block 1 started twice");
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Wire encoding                                                       */
/* ------------------------------------------------------------------ */

static cJSON *sent_body(const char *model) { return test_server_last_body(&srv, model); }

static void openai_wire_encoding(void) {
  W = &OPENAI;
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = "echo@openai-enc";
  hl_request *req = rich_request(model);
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  hl_request_free(req);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  CHECK(json_is(hl_json_get(b, "messages"),
                "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
                "{\"role\":\"assistant\",\"content\":\"Checking.\",\"tool_calls\":["
                "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
                "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]},"
                "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"},"
                "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"no tz\"},"
                "{\"role\":\"user\",\"content\":\"Thanks\"}]"));
  CHECK(json_is(hl_json_get(b, "tools"),
                "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather of a city\","
                "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},"
                "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]"));
  CHECK(json_is(hl_json_get(b, "tool_choice"), "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}"));
  CHECK(json_is(hl_json_get(b, "response_format"),
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"answer\",\"schema\":"
                "{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}}}}}"));
  CHECK(hl_json_get_number(b, "temperature", 0) == 0.5);
  CHECK_INT(hl_json_get_number(b, "max_tokens", 0), 100);
  CHECK(json_is(hl_json_get(b, "stop"), "[\"END\"]"));
  CHECK(hl_json_get(b, "stream") == NULL);
  CHECK_STR(hl_json_get_string(b, "model"), model);
  cJSON_Delete(b);
  hl_provider_unref(p);
}

/* Numbers in tool-call arguments reach the server exactly (regression:
 * cJSON's printer kept 15 digits, so 0.30000000000000004 was sent as 0.3
 * and 2^53-1 lost its last digit). */
static void openai_numbers_sent_exactly(void) {
  W = &OPENAI;
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = "echo@openai-numbers";
  hl_request *req = hl_request_new();
  REQUIRE(req);
  REQUIRE(hl_request_set_model(req, model) == HL_OK);
  hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_USER, "sum"));
  hl_message *a = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = NULL;
  REQUIRE(hl_json_parse("{\"x\":0.30000000000000004,\"n\":9007199254740991}", (size_t)-1, &args) == HL_OK);
  hl_message_add_tool_call(a, "c1", "add", args);
  cJSON_Delete(args);
  hl_messages_push(&req->messages, a);
  hl_message *t = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(t, "c1", "add", "ok", false);
  hl_messages_push(&req->messages, t);
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  hl_request_free(req);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  const cJSON *m1 = cJSON_GetArrayItem(hl_json_get(b, "messages"), 1);
  const cJSON *tc = cJSON_GetArrayItem(hl_json_get(m1, "tool_calls"), 0);
  const char *sent = hl_json_get_string(hl_json_get(tc, "function"), "arguments");
  CHECK_STR(sent ? sent : "", "{\"x\":0.30000000000000004,\"n\":9007199254740991}");
  cJSON_Delete(b);
  hl_provider_unref(p);
}

static void anthropic_wire_encoding(void) {
  W = &ANTHROPIC;
  hl_provider *p = provider();
  REQUIRE(p);
  const char *model = "echo@anthropic-enc";
  hl_request *req = rich_request(model);
  hl_response *r = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, req, &r), HL_OK);
  hl_response_free(r);
  hl_request_free(req);
  cJSON *b = sent_body(model);
  REQUIRE(b);
  CHECK_STR(hl_json_get_string(b, "system"), "Be brief.");
  CHECK(json_is(hl_json_get(b, "messages"),
                "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"}]},"
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"},"
                "{\"type\":\"tool_use\",\"id\":\"c1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
                "{\"type\":\"tool_use\",\"id\":\"c2\",\"name\":\"get_time\",\"input\":{}}]},"
                "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"c1\",\"content\":\"sunny\"},"
                "{\"type\":\"tool_result\",\"tool_use_id\":\"c2\",\"content\":\"no tz\",\"is_error\":true},"
                "{\"type\":\"text\",\"text\":\"Thanks\"}]}]"));
  CHECK(json_is(hl_json_get(b, "tools"),
                "[{\"name\":\"get_weather\",\"description\":\"Weather of a city\",\"input_schema\":"
                "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}},"
                "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}},"
                /* the response schema travels as the answer tool (anthropic.h) */
                "{\"name\":\"answer\",\"description\":\"Give the final answer: its input is the whole answer.\","
                "\"input_schema\":{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\"}}}}]"));
  CHECK(json_is(hl_json_get(b, "tool_choice"), "{\"type\":\"tool\",\"name\":\"get_weather\"}"));
  CHECK_INT(hl_json_get_number(b, "max_tokens", 0), 100);
  CHECK(hl_json_get_number(b, "temperature", 0) == 0.5);
  CHECK(json_is(hl_json_get(b, "stop_sequences"), "[\"END\"]"));
  cJSON_Delete(b);
  /* Headers: key and version; a default max_tokens when the request has none. */
  cJSON *st = test_server_stats(&srv, model);
  const cJSON *h = hl_json_get(st, "last_headers");
  CHECK_STR(hl_json_get_string(h, "anthropic-version"), HL_ANTHROPIC_DEFAULT_VERSION);
  CHECK_STR(hl_json_get_string(h, "x-api-key"), KEY);
  CHECK(hl_json_get(h, "authorization") == NULL);
  cJSON_Delete(st);
  hl_response *r2 = NULL;
  CHECK_INT(ask(p, "echo@anthropic-maxtok", false, &r2), HL_OK);
  hl_response_free(r2);
  b = sent_body("echo@anthropic-maxtok");
  CHECK_INT(hl_json_get_number(b, "max_tokens", 0), 4096);
  cJSON_Delete(b);
  hl_provider_unref(p);
}

static void extra_headers_and_no_key(void) {
  hl_provider *p = W->make(srv.base, "");
  REQUIRE(p);
  if (W == &OPENAI) {
    CHECK_INT(hl_openai_add_header(p, "X-Custom", "yes"), HL_OK);
    CHECK_INT(hl_openai_set_model(p, "echo@openai-hdr"), HL_OK);
  } else {
    CHECK_INT(hl_anthropic_add_header(p, "X-Custom", "yes"), HL_OK);
    CHECK_INT(hl_anthropic_set_model(p, "echo@anthropic-hdr"), HL_OK);
    CHECK_INT(hl_anthropic_set_version(p, "2099-01-01"), HL_OK);
  }
  hl_request *r = simple_request("x", false);
  hl_request_set_model(r, NULL); /* the provider's default model is used */
  hl_response *out = NULL;
  CHECK_INT(hl_provider_complete(p, NULL, r, &out), HL_OK);
  hl_response_free(out);
  hl_request_free(r);
  char model[64];
  snprintf(model, sizeof model, "echo@%s-hdr", W->name);
  cJSON *st = test_server_stats(&srv, model);
  const cJSON *h = hl_json_get(st, "last_headers");
  CHECK_STR(hl_json_get_string(h, "x-custom"), "yes");
  /* A JSON call sends no Accept at all (neither its own nor libcurl's
   * default): no wire requires one. */
  CHECK(hl_json_get(h, "accept") == NULL);
  CHECK_STR(hl_json_get_string(h, "content-type"), "application/json");
  CHECK(hl_json_get(h, "authorization") == NULL);
  CHECK(hl_json_get(h, "x-api-key") == NULL);
  if (W == &ANTHROPIC) CHECK_STR(hl_json_get_string(h, "anthropic-version"), "2099-01-01");
  cJSON_Delete(st);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */

/* Every scenario that runs on both wires, listed once. */
#define WIRE_SCENARIOS(X) \
  X(text_plain) \
  X(text_stream_lf) \
  X(text_stream_crlf) \
  X(stream_comments_keepalives) \
  X(stream_utf8_split_across_chunks) \
  X(parallel_tool_calls_plain) \
  X(parallel_tool_calls_stream) \
  X(stream_equals_plain) \
  X(stream_split_every_byte) \
  X(malformed_json_chunk) \
  X(malformed_tool_arguments) \
  X(error_event_mid_stream) \
  X(hostile_index_in_stream) \
  X(usage_counts_out_of_range_are_ignored) \
  X(client_error_4xx_not_retried) \
  X(connection_closed_mid_stream) \
  X(connection_closed_mid_body_retried) \
  X(retry_429_after_retry_after) \
  X(retry_500_three_times_then_success) \
  X(retry_429_retry_after_ms_and_date) \
  X(retry_after_longer_than_maximum_fails_at_once) \
  X(reply_that_is_not_http) \
  X(html_answer_named_by_content_type) \
  X(unauthorized_401_not_retried) \
  X(server_never_answers_times_out) \
  X(response_over_size_cap) \
  X(cancel_from_another_thread) \
  X(connection_refused_is_network_error) \
  X(keep_alive_reuses_connection) \
  X(one_provider_many_threads) \
  X(no_model_is_invalid) \
  X(setters_reject_other_providers) \
  X(extra_headers_and_no_key)

WIRE_SCENARIOS(BOTH)

#define BOTH_ROWS(fn) T2(fn),

static const test_case tests[] = {
    WIRE_SCENARIOS(BOTH_ROWS)
    T(openai_wire_encoding),
    T(openai_numbers_sent_exactly),
    T(anthropic_wire_encoding),
    T(anthropic_block_started_twice),
};

int main(int argc, char **argv) {
  return run_cases(&srv, tests, sizeof tests / sizeof tests[0], argc, argv);
}
