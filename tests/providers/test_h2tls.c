/*
 * tests/providers/test_h2tls.c - hookline over HTTPS with a private CA,
 * HTTP/2 negotiated by ALPN and multiplexed: the OpenAI provider at
 * https:// with hl_openai_set_ca_file() against the benchmarks' mock
 * server over TLS (bench/mock_server.c --tls: a throwaway CA made at
 * start-up, ALPN h2 and http/1.1; GET /stats counts accepted connections,
 * completed TLS handshakes and HTTP/2 connections).
 *
 * What it proves:
 *  - N concurrent runs of scenario (b) (2N model requests), started with
 *    hl_run_start() and again from N threads calling hl_agent_run(),
 *    complete over far fewer than N connections, every one of them HTTP/2:
 *    the pool multiplexes (CURLPIPE_MULTIPLEX, PIPEWAIT) over TLS;
 *  - HL_POOL_MAX_HOST_CONNECTIONS 1 holds over h2: every request of the N
 *    runs on one connection (requests beyond it wait for a stream);
 *  - 300 runs at once, more requests in flight than libcurl's default of
 *    100 streams per connection, still share a few connections (a
 *    regression test: with that default they opened hundreds), also on
 *    a cold pool, before any server's SETTINGS were read, and
 *    HL_POOL_MAX_STREAMS caps the streams per connection; against a server
 *    that allows 20 streams, with the pool told so, 300 runs fill about 15
 *    connections, not one per request;
 *  - HTTP/1.1 over TLS (HL_HTTP_VERSION_1_1) keeps reusing its one
 *    connection: the reuse guard, which checks a pooled HTTP/1.1
 *    connection's socket before a request goes out on it
 *    (lib/net/reuse_guard.h), drops none that did nothing wrong;
 *  - a server whose certificate the CA file does not vouch for (another
 *    server's CA, or none: the system's store) fails the run with
 *    HL_ERR_NETWORK and a message that names the TLS verification, the CA
 *    file and the URL, without a retry, and no handshake completes;
 *  - set_ca_file refuses a missing file (HL_ERR_NOT_FOUND), a file with no
 *    certificate (HL_ERR_INVALID) and another kind of provider, each with
 *    the reason; "ca_file" in a config file is resolved against the
 *    file's directory and a bad one is refused with its JSON path.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "hookline.h"
#include "mock_agent.h"
#include "mock_proc.h"

/* An agent of scenario (b) on the OpenAI provider at m's https:// URL,
 * trusting `ca` (NULL: the system's store). */
static hl_agent *agent_for(const mock *m, const char *ca, hl_http_version version) {
  char base[96];
  snprintf(base, sizeof base, "%s/v1", m->url);
  hl_provider *p = hl_openai_new(base, "sk-test");
  if (!p) return NULL;
  hl_openai_set_http_version(p, version);
  hl_openai_set_retries(p, 1, 10, 100);
  if (ca && hl_openai_set_ca_file(p, ca) != HL_OK) {
    fprintf(stderr, "set_ca_file: %s\n", hl_last_error());
    hl_provider_unref(p);
    return NULL;
  }
  hl_agent *a = mock_agent("h2tls", p);
  hl_provider_unref(p);
  return a;
}

#define RUNS 40

static int run_async(hl_agent *a) { return mock_run_async(a, RUNS); }

typedef struct slot {
  hl_agent *a;
  bool ok;
} slot;

static void *blocking_run(void *arg) {
  slot *s = arg;
  hl_session *ss = hl_session_new("t", "u", NULL);
  char *answer = NULL;
  hl_status st = hl_agent_run(s->a, ss, "Look up a, b and c.", &answer);
  s->ok = st == HL_OK && answer && strstr(answer, "gamma");
  if (!s->ok) fprintf(stderr, "blocking run: %s\n", st != HL_OK ? hl_last_error() : "wrong answer");
  hl_free(answer);
  hl_session_free(ss);
  return NULL;
}

/* RUNS threads, each calling the blocking hl_agent_run() at once. */
static int run_threads(hl_agent *a) {
  pthread_t th[RUNS];
  slot s[RUNS];
  int started = 0, ok = 0;
  for (int i = 0; i < RUNS; i++) {
    s[i] = (slot){.a = a};
    if (pthread_create(&th[i], NULL, blocking_run, &s[i]) != 0) break;
    started++;
  }
  for (int i = 0; i < started; i++) {
    pthread_join(th[i], NULL);
    ok += s[i].ok;
  }
  return ok;
}

/* What the server saw between two snapshots, less the /stats requests'
 * own connections (each one HTTP/1.1 connection with one handshake). */
typedef struct seen {
  long requests, connections, handshakes, h2;
} seen;

static seen snapshot(const mock *m) {
  seen s = {.requests = mock_stat(m, "requests"), .connections = mock_stat(m, "connections"),
            .handshakes = mock_stat(m, "tls_handshakes"), .h2 = mock_stat(m, "h2_connections")};
  return s;
}

static seen since(const mock *m, seen before) {
  seen now = snapshot(m);
  /* The four /stats requests of snapshot() each opened a connection. */
  seen d = {.requests = now.requests - before.requests,
            .connections = now.connections - before.connections - 4,
            .handshakes = now.handshakes - before.handshakes - 4, .h2 = now.h2 - before.h2};
  return d;
}

static void check_multiplexed_n(const char *what, int runs, seen d, long least, long most) {
  fprintf(stderr, "%s: %d runs, %ld requests over %ld connections (%ld TLS handshakes, %ld h2)\n",
          what, runs, d.requests, d.connections, d.handshakes, d.h2);
  CHECK_INT(d.requests, 2 * runs);
  /* Every connection of the runs was TLS and spoke HTTP/2 ... */
  CHECK_INT(d.handshakes, d.connections);
  CHECK_INT(d.h2, d.connections);
  /* ... and there were far fewer of them than runs in flight. */
  CHECK(d.connections >= least);
  CHECK(d.connections <= most);
}

static void check_multiplexed(const char *what, seen d, long most) {
  check_multiplexed_n(what, RUNS, d, 1, most);
}

/* Concurrent runs, asynchronous then blocking, over few h2 connections;
 * HL_HTTP_VERSION_AUTO (ALPN's choice) for the first, 2 for the second. */
static void runs_multiplexed_over_tls(void) {
  mock m;
  REQUIRE(mock_start_opts(&m, "300", true));
  REQUIRE(mock_stat(&m, "requests") == 0); /* /stats answers over TLS, trusting m.ca */
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  seen before = snapshot(&m);
  CHECK_INT(run_async(a), RUNS);
  /* One or two event loops (one per CPU), each with its own pool: a
   * connection or two each at most, never one per run. */
  check_multiplexed("async over h2/TLS", since(&m, before), 8);
  hl_agent_unref(a);
  mock_stop(&m);

  /* A fresh server: the pool's connections to the first one are of no
   * use to it, so these runs open their own. */
  REQUIRE(mock_start_opts(&m, "300", true));
  a = agent_for(&m, m.ca, HL_HTTP_VERSION_2);
  REQUIRE(a);
  before = snapshot(&m);
  CHECK_INT(run_threads(a), RUNS);
  check_multiplexed("threads over h2/TLS", since(&m, before), 8);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* The pool's cap on connections per host holds over HTTP/2: requests
 * beyond it become streams of the one connection. */
static void host_cap_over_tls(void) {
  mock m;
  REQUIRE(mock_start_opts(&m, "300", true));
  CHECK_INT(hl_pool_setopt(HL_POOL_MAX_HOST_CONNECTIONS, 1), HL_OK);
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  seen before = snapshot(&m);
  CHECK_INT(run_async(a), RUNS);
  seen d = since(&m, before);
  check_multiplexed("async over h2/TLS, one connection per host", d, 1);
  hl_agent_unref(a);
  mock_stop(&m);
}

#define MANY 300

/* More requests in flight than libcurl's default of 100 streams per
 * connection: still a few connections. With that default, each request
 * that found the connections full opened one, and so did every request
 * after it until that connection's handshake was done: 1,000 sessions of
 * concurrent_slow opened 604 connections (engine.c, HL_POOL_MAX_STREAMS).
 * The connections are warm first (16 runs at once: each loop's pool gets
 * one, its server's SETTINGS read): this checks the steady state, the
 * pool's own cap; cold_burst_over_few_connections the start-up. */
#define WARM 16
static void many_runs_over_few_connections(void) {
  mock m;
  REQUIRE(mock_start_opts(&m, "300", true));
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  seen before = snapshot(&m);
  CHECK_INT(mock_run_async(a, WARM), WARM);
  CHECK_INT(mock_run_async(a, MANY), MANY);
  check_multiplexed_n("16 then 300 async runs over h2/TLS", WARM + MANY, since(&m, before), 1, 8);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* 300 runs at once on a cold pool (no connection yet, this process's
 * first requests). A new HTTP/2 connection takes 100 streams until the
 * server's SETTINGS arrive; libcurl opened a connection for each request
 * beyond them until then (50-54 connections on a loaded machine, 3 of 5
 * runs at load 2-4). The server here sends its SETTINGS 200 ms late on
 * every connection, as a loaded one did, so that the burst is certain
 * rather than a matter of load. The engine gives a partition of its pool
 * at most 100 such requests until one got its headers (engine.c, the
 * start-up burst): ceil(n / 100) connections for a loop's n first
 * requests, 4 to 6 for 300 over 2 loops (one per CPU; more loops take
 * fewer each), and the second model call of each run reuses them. */
static void cold_burst_over_few_connections(void) {
  mock m;
  REQUIRE(mock_start_full(&m, "300", true, NULL, "200"));
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  seen before = snapshot(&m);
  CHECK_INT(mock_run_async(a, MANY), MANY);
  check_multiplexed_n("300 async runs at once over h2/TLS, cold pool", MANY, since(&m, before), 1, 8);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* HL_POOL_MAX_STREAMS is a cap on streams per connection: 40 runs at
 * once with at most 5 streams each need 8 connections or more. */
static void max_streams_over_tls(void) {
  mock m;
  REQUIRE(mock_start_opts(&m, "300", true));
  CHECK_INT(hl_pool_setopt(HL_POOL_MAX_STREAMS, 5), HL_OK);
  long v = 0;
  CHECK_INT(hl_pool_getopt(HL_POOL_MAX_STREAMS, &v), HL_OK);
  CHECK_INT(v, 5);
  CHECK_INT(hl_pool_setopt(HL_POOL_MAX_STREAMS, 0), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "streams per connection");
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  seen before = snapshot(&m);
  CHECK_INT(run_async(a), RUNS);
  check_multiplexed_n("async over h2/TLS, 5 streams per connection", RUNS, since(&m, before),
                      RUNS / 5, RUNS);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* A server that allows only 20 streams per connection, and the pool told
 * so: 300 runs at once fill about 15 connections, one per partition of
 * the pool (engine.c), not one per request. Without the partitions sized
 * to the streams, libcurl 7.88 opened a connection for each request that
 * found the connections full while the next one's handshake ran. */
static void server_stream_limit_over_tls(void) {
  mock m;
  REQUIRE(mock_start_streams(&m, "300", true, "20"));
  CHECK_INT(hl_pool_setopt(HL_POOL_MAX_STREAMS, 20), HL_OK);
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  seen before = snapshot(&m);
  CHECK_INT(mock_run_async(a, MANY), MANY);
  check_multiplexed_n("300 async runs over h2/TLS, 20 streams per connection", MANY, since(&m, before),
                      MANY / 20, 40);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* Runs one after the other over HTTP/1.1 and TLS share one connection:
 * before each request the reuse guard peeks at the idle connection's
 * socket (TLS records the library has not read would show there), and a
 * healthy one has nothing unread. */
static void http11_over_tls_reuses_its_connection(void) {
  mock m;
  REQUIRE(mock_start_opts(&m, "0", true));
  hl_agent *a = agent_for(&m, m.ca, HL_HTTP_VERSION_1_1);
  REQUIRE(a);
  seen before = snapshot(&m);
  enum { SEQ = 5 };
  for (int i = 0; i < SEQ; i++) {
    slot one = {.a = a};
    blocking_run(&one); /* on this thread: its loop's pool, one run after the other */
    CHECK(one.ok);
  }
  seen d = since(&m, before);
  fprintf(stderr, "HTTP/1.1 over TLS: %ld requests over %ld connections (%ld handshakes, %ld h2)\n",
          d.requests, d.connections, d.handshakes, d.h2);
  CHECK_INT(d.requests, 2 * SEQ);
  CHECK_INT(d.connections, 1);
  CHECK_INT(d.handshakes, 1);
  CHECK_INT(d.h2, 0);
  hl_agent_unref(a);
  mock_stop(&m);
}

/* A certificate the CA file does not vouch for: a clear error, at once. */
static void wrong_ca_fails(void) {
  mock good, other;
  REQUIRE(mock_start_opts(&good, "0", true));
  REQUIRE(mock_start_opts(&other, "0", true));
  /* The other server's CA for this server. */
  hl_agent *a = agent_for(&good, other.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  long req0 = mock_stat(&good, "requests");
  long hs0 = mock_stat(&good, "tls_handshakes");
  hl_session *s = hl_session_new("t", "u", NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, s, "Look up a.", &answer), HL_ERR_NETWORK);
  const char *msg = hl_last_error();
  CHECK_CONTAINS(msg, "TLS certificate of https://127.0.0.1:");
  CHECK_CONTAINS(msg, "not verified by the CA file");
  CHECK_CONTAINS(msg, other.ca);
  CHECK(answer == NULL);
  /* No handshake completed (the one /stats request aside), no request
   * reached the server. */
  CHECK_INT(mock_stat(&good, "tls_handshakes") - hs0, 1);
  CHECK_INT(mock_stat(&good, "requests") - req0, 0);
  hl_free(answer);
  hl_agent_unref(a);

  /* No CA file: the system's store does not know the mock's CA either. */
  a = agent_for(&good, NULL, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  answer = NULL;
  CHECK_INT(hl_agent_run(a, s, "Look up a.", &answer), HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_last_error(), "not verified by the system's CA certificates");
  hl_free(answer);
  hl_agent_unref(a);

  /* The right one works on the same server. */
  a = agent_for(&good, good.ca, HL_HTTP_VERSION_AUTO);
  REQUIRE(a);
  answer = NULL;
  CHECK_INT(hl_agent_run(a, s, "Look up a.", &answer), HL_OK);
  CHECK(answer && strstr(answer, "gamma"));
  hl_free(answer);
  hl_agent_unref(a);
  hl_session_free(s);
  mock_stop(&good);
  mock_stop(&other);
}

/* Bad CA files are refused when set, with the reason; config files. */
static void ca_file_errors(void) {
  mock m;
  REQUIRE(mock_start_opts(&m, "0", true));
  hl_provider *p = hl_openai_new("https://127.0.0.1:1/v1", NULL);
  REQUIRE(p);
  CHECK_INT(hl_openai_set_ca_file(p, "/nonexistent/hookline-ca.pem"), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), "/nonexistent/hookline-ca.pem");
  CHECK_CONTAINS(hl_last_error(), "No such file");
  char notpem[128];
  snprintf(notpem, sizeof notpem, "%s/not.pem", m.dir);
  FILE *f = fopen(notpem, "w");
  REQUIRE(f);
  fputs("this is not a certificate\n", f);
  fclose(f);
  CHECK_INT(hl_openai_set_ca_file(p, notpem), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "no PEM certificate");
  CHECK_INT(hl_openai_set_ca_file(p, m.ca), HL_OK);
  CHECK_INT(hl_openai_set_ca_file(p, NULL), HL_OK); /* back to the system's store */
  hl_provider_unref(p);
  hl_provider *sp = hl_scripted_new();
  CHECK_INT(hl_openai_set_ca_file(sp, m.ca), HL_ERR_INVALID);
  hl_provider_unref(sp);
  /* Each HTTP provider has the option. */
  hl_provider *an = hl_anthropic_new("https://127.0.0.1:1/v1", NULL);
  hl_provider *rs = hl_responses_new("https://127.0.0.1:1/v1", NULL);
  hl_provider *gm = hl_gemini_new("https://127.0.0.1:1/v1", NULL);
  CHECK_INT(hl_anthropic_set_ca_file(an, m.ca), HL_OK);
  CHECK_INT(hl_responses_set_ca_file(rs, m.ca), HL_OK);
  CHECK_INT(hl_gemini_set_ca_file(gm, "/nonexistent/ca.pem"), HL_ERR_NOT_FOUND);
  hl_provider_unref(an);
  hl_provider_unref(rs);
  hl_provider_unref(gm);

  /* A config file next to ca.pem: "ca_file": "ca.pem" is that file. */
  char cfg_path[128], text[512];
  snprintf(cfg_path, sizeof cfg_path, "%s/agent.json", m.dir);
  f = fopen(cfg_path, "w");
  REQUIRE(f);
  fprintf(f, "{\"provider\": {\"type\": \"openai\", \"base_url\": \"%s/v1\", \"ca_file\": \"ca.pem\"},"
             " \"model\": \"mock-model\"}", m.url);
  fclose(f);
  hl_config *cfg = NULL;
  REQUIRE(hl_config_load(cfg_path, &cfg) == HL_OK);
  p = NULL;
  CHECK_INT(hl_config_make_provider(cfg, &p), HL_OK);
  REQUIRE(p);
  hl_agent *a = hl_agent_new("cfg");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, "mock-model");
  hl_provider_unref(p);
  hl_session *s = hl_session_new("t", "u", NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, s, "Hello", &answer), HL_OK);
  CHECK(answer && strstr(answer, "mock"));
  hl_free(answer);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_config_free(cfg);

  snprintf(text, sizeof text,
           "{\"provider\": {\"type\": \"openai\", \"base_url\": \"%s/v1\", \"ca_file\": \"missing.pem\"}}",
           m.url);
  cfg = NULL;
  REQUIRE(hl_config_parse(text, cfg_path, &cfg) == HL_OK);
  p = NULL;
  CHECK_INT(hl_config_make_provider(cfg, &p), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), "$.provider.ca_file");
  CHECK_CONTAINS(hl_last_error(), "missing.pem");
  CHECK(p == NULL);
  hl_config_free(cfg);
  cfg = NULL;
  CHECK_INT(hl_config_parse("{\"provider\": {\"type\": \"scripted\", \"ca_file\": \"ca.pem\"}}",
                            "bad.json", &cfg), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "$.provider.ca_file");
  hl_config_free(cfg);
  unlink(notpem);
  unlink(cfg_path);
  mock_stop(&m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  if (!getenv("HL_TEST_MOCK_H2C") || !getenv("HL_TEST_MOCK_TLS")) {
    printf("skipped: built without libnghttp2 or OpenSSL (scripts/setup.d/nghttp2.sh, tls.sh)\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  RUN(runs_multiplexed_over_tls);
  RUN(host_cap_over_tls);
  RUN(many_runs_over_few_connections);
  RUN(cold_burst_over_few_connections);
  RUN(max_streams_over_tls);
  RUN(server_stream_limit_over_tls);
  RUN(http11_over_tls_reuses_its_connection);
  RUN(wrong_ca_fails);
  RUN(ca_file_errors);
  return CHECK_EXIT();
}
