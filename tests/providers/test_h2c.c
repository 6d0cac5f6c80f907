/*
 * tests/providers/test_h2c.c - hookline over HTTP/2 with prior knowledge
 * (h2c): the OpenAI provider with HL_HTTP_VERSION_2 (and "http_version":
 * "2" in a config file) against the benchmarks' mock server
 * (bench/mock_server.c, built here with libnghttp2; path in
 * $HL_TEST_MOCK_H2C), which serves a connection as h2c when it starts
 * with the HTTP/2 preface and counts those connections on GET /stats.
 *
 * What it proves: runs of scenario (b) (a model call, three tool calls,
 * a model call) complete over h2c, every request of them really went over
 * HTTP/2 (the server's h2 connection count), and many concurrent runs
 * share few connections where libcurl can reuse an h2c connection
 * (>= 7.89.0), each request has a connection of its own where it cannot
 * (7.88, curl issue #10634: hookline then opens a fresh connection per
 * request instead of failing); the idle timeout still ends a request whose
 * answer does not come; a bad "http_version" in a config file is refused
 * with its JSON path; the setter refuses a value out of range.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "hookline.h"
#include "mock_agent.h"
#include "mock_proc.h"

static hl_agent *agent_on(hl_provider *p) { return mock_agent("h2c", p); }

#define RUNS 40

/* RUNS runs at once (hl_run_start), all over h2c. */
static void runs_over_h2c(void) {
  mock m;
  REQUIRE(mock_start(&m, "300"));
  REQUIRE(mock_stat(&m, "h2c") != -1);
  char base[96];
  snprintf(base, sizeof base, "%s/v1", m.url);
  hl_provider *p = hl_openai_new(base, "sk-test");
  REQUIRE(p);
  CHECK_INT(hl_openai_set_http_version(p, HL_HTTP_VERSION_2), HL_OK);
  hl_agent *a = agent_on(p);
  hl_provider_unref(p);
  REQUIRE(a);
  long conns0 = mock_stat(&m, "connections"), h2_0 = mock_stat(&m, "h2_connections");
  int ok = mock_run_async(a, RUNS);
  CHECK_INT(ok, RUNS);
  long requests = mock_stat(&m, "requests");
  /* minus our own /stats connections after conns0: h2_0, requests and this one */
  long conns = mock_stat(&m, "connections") - conns0 - 3;
  long h2 = mock_stat(&m, "h2_connections") - h2_0;
  CHECK_INT(requests, 2 * RUNS);
  /* Every model request went over HTTP/2: no HTTP/1.1 connection but ours. */
  CHECK_INT(conns, h2);
  if (curl_version_info(CURLVERSION_NOW)->version_num >= 0x075900) {
    /* Multiplexed: 80 requests on a handful of connections. */
    CHECK(h2 >= 1 && h2 <= 8);
  } else {
    /* libcurl 7.88: a connection per request (see http.c), none reused. */
    CHECK_INT(h2, 2 * RUNS);
  }
  fprintf(stderr, "h2c: %d runs, %ld requests over %ld h2c connections (%s)\n", RUNS, requests,
          h2, curl_version());
  hl_agent_unref(a);
  mock_stop(&m);
}

/* The idle timeout ends a request whose answer does not come, over h2c
 * as over HTTP/1.1 (the timer of the request, not of the connection). */
static void idle_timeout_over_h2c(void) {
  mock m;
  REQUIRE(mock_start(&m, "5000"));
  char base[96];
  snprintf(base, sizeof base, "%s/v1", m.url);
  hl_provider *p = hl_openai_new(base, "sk-test");
  REQUIRE(p);
  hl_openai_set_http_version(p, HL_HTTP_VERSION_2);
  hl_openai_set_timeouts(p, -1, -1, 400);
  hl_openai_set_retries(p, 0, -1, -1);
  hl_agent *a = agent_on(p);
  hl_provider_unref(p);
  REQUIRE(a);
  hl_session *s = hl_session_new("t", "u", NULL);
  char *answer = NULL;
  hl_status st = hl_agent_run(a, s, "Look up a.", &answer);
  CHECK_INT(st, HL_ERR_TIMEOUT);
  CHECK_CONTAINS(hl_last_error(), "idle timeout");
  CHECK(mock_stat(&m, "h2_connections") >= 1);
  hl_free(answer);
  hl_session_free(s);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* "http_version" in a config file: "2" makes the provider speak h2c; a
 * bad value is refused with its path. */
static void config_http_version(void) {
  mock m;
  REQUIRE(mock_start(&m, "0"));
  char text[512];
  snprintf(text, sizeof text,
           "{\"provider\": {\"type\": \"openai\", \"base_url\": \"%s/v1\", \"http_version\": \"2\"},"
           " \"model\": \"mock-model\"}", m.url);
  hl_config *cfg = NULL;
  REQUIRE(hl_config_parse(text, "h2c.json", &cfg) == HL_OK);
  hl_provider *p = NULL;
  CHECK_INT(hl_config_make_provider(cfg, &p), HL_OK);
  REQUIRE(p);
  hl_agent *a = agent_on(p);
  hl_provider_unref(p);
  REQUIRE(a);
  hl_session *s = hl_session_new("t", "u", NULL);
  char *answer = NULL;
  long h2_0 = mock_stat(&m, "h2_connections");
  CHECK_INT(hl_agent_run(a, s, "Look up a, b and c.", &answer), HL_OK);
  CHECK(answer && strstr(answer, "gamma"));
  CHECK(mock_stat(&m, "h2_connections") - h2_0 >= 1);
  hl_free(answer);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_config_free(cfg);

  cfg = NULL;
  CHECK_INT(hl_config_parse("{\"provider\": {\"type\": \"openai\", \"http_version\": \"3\"}}",
                            "bad.json", &cfg), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.provider.http_version");
  hl_config_free(cfg);
  cfg = NULL;
  CHECK_INT(hl_config_parse("{\"provider\": {\"type\": \"scripted\", \"http_version\": \"2\"}}",
                            "bad.json", &cfg), HL_ERR_INVALID);
  hl_config_free(cfg);

  p = hl_openai_new("http://127.0.0.1:1/v1", NULL);
  CHECK_INT(hl_openai_set_http_version(p, (hl_http_version)7), HL_ERR_INVALID);
  CHECK_INT(hl_openai_set_http_version(p, HL_HTTP_VERSION_1_1), HL_OK);
  hl_provider_unref(p);
  hl_provider *sp = hl_scripted_new();
  CHECK_INT(hl_openai_set_http_version(sp, HL_HTTP_VERSION_2), HL_ERR_INVALID);
  hl_provider_unref(sp);
  mock_stop(&m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  if (!getenv("HL_TEST_MOCK_H2C")) {
    printf("skipped: built without libnghttp2 (scripts/setup.d/nghttp2.sh installs libnghttp2-dev)\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  RUN(runs_over_h2c);
  RUN(idle_timeout_over_h2c);
  RUN(config_http_version);
  return CHECK_EXIT();
}
