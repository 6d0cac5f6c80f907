/*
 * bench/turn_bench.c - hookline's cost per run against its floor, the same
 * HTTP requests sent by raw libcurl, in one process (`make -C bench turn`).
 *
 * DESIGN.md's target: the framework overhead per run of scenario (b) (2
 * model calls, 3 tool calls) within 10 % of two raw libcurl round trips.
 * Two figures from two processes minutes apart cannot say that on a
 * machine whose speed drifts (their difference once came out negative),
 * so this program measures both sides itself, side by side:
 *
 *   hookline  one run of the scenario from a fresh session, the agent of
 *             hl-bench-agent (bench_agent.h), the library's defaults
 *             (the 3 tools on its worker pool), OpenAI provider
 *   raw       the same model requests, one after the other, on one
 *             keep-alive libcurl easy handle (as hl-bench-providers' raw
 *             loop): the request bytes hookline sent, no JSON built or
 *             parsed, no tools run. What no agent library can go below.
 *   raw_b     raw again: the A/A control
 *
 * The requests are the very ones hookline sends: before measuring, one run
 * goes through a recording relay (wire_tap.h) and the raw client is set
 * up from what it recorded (method, path, headers but Host and
 * Content-Length, which libcurl writes, body); the raw requests are then
 * sent through the relay once as well and must arrive byte for byte the
 * same ("same_requests"), else the program fails. Both sides talk to the
 * same mock server, which gives the same answers to the same requests.
 * (Nearly the same: the server numbers the tool calls it asks for with its
 * request counter, call_N_1 to call_N_3, and (b)'s second request quotes
 * those ids twice each, so hookline's later requests differ from the
 * recorded one in those digits: a few bytes in ~1.1 KB.)
 *
 * The alternation is bench/otel_bench.c's: `cycles` cycles of three blocks
 * of `block` runs (hookline, raw, raw_b) in an order that rotates through
 * the six permutations, so that a drifting machine meets every series
 * alike; per cycle, the median run of each block; the cost is the median
 * of the per-cycle differences hookline - raw, with a distribution-free
 * 95 % interval (paired_stats.h), and raw_b - raw by the same estimator is
 * the A/A control. The verdict is otel's rule (bench_verdict) against a
 * bound of 10 % of the raw pair's median run. Wall times are reported
 * whole (the server's service time is in both sides alike).
 *
 *   hl-bench-turn --url http://127.0.0.1:PORT [--scenario tools|chat]
 *                 [--cycles 400] [--block 16] [--parallel-tools N]
 *                 [--mode hookline|raw --runs N]
 *
 * chat is scenario (a): one model call against one raw round trip. One
 * JSON object on stdout; exit 1 when a run, a request or the check fails.
 *
 * --mode makes `runs` runs of one side only (after the recording and 20
 * warm-up runs of that side) and prints {"mode":...,"runs":N}: for
 * instruction counts under valgrind --tool=callgrind, where the
 * difference between two run counts is the instructions of that many
 * runs, which the machine's load does not move (bench/run.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_agent.h"
#include "bench_util.h"
#include "paired_stats.h"
#include "wire_tap.h"

/* ---- the raw client ------------------------------------------------- */

typedef struct raw_request {
  char url[1024];
  struct curl_slist *headers;
  const char *body;   /* the recorded request's (not owned) */
  size_t body_len;
} raw_request;

typedef struct raw_client {
  CURL *h;
  raw_request *req;
  size_t n;
  size_t received;
} raw_client;

static size_t sink(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  *(size_t *)ud += size * n;
  return size * n;
}

static bool is_header(const char *line, size_t len, const char *name) {
  size_t n = strlen(name);
  return len > n && line[n] == ':' && !strncasecmp(line, name, n);
}

/* The raw request that writes `w` again, sent to `base`: POST to the same
 * path with the same headers (libcurl writes Host and Content-Length
 * itself; a default of its own that hookline's request lacks, Accept or
 * Expect, is switched off with "Name:") and the same body. */
static bool raw_request_init(raw_request *r, const wire_request *w, const char *base) {
  const char *sp = strchr(w->head, ' ');
  const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
  if (strncmp(w->head, "POST ", 5) != 0 || !sp2 || strncmp(sp2, " HTTP/1.1\r\n", 11) != 0) {
    fprintf(stderr, "turn bench: not an HTTP/1.1 POST: %.60s\n", w->head);
    return false;
  }
  snprintf(r->url, sizeof r->url, "%s%.*s", base, (int)(sp2 - sp - 1), sp + 1);
  r->body = w->body;
  r->body_len = w->body_len;
  bool accept = false, expect = false;
  const char *line = strstr(w->head, "\r\n") + 2;
  for (const char *end; (end = strstr(line, "\r\n")) && end > line; line = end + 2) {
    size_t len = (size_t)(end - line);
    if (is_header(line, len, "Host") || is_header(line, len, "Content-Length")) continue;
    accept = accept || is_header(line, len, "Accept");
    expect = expect || is_header(line, len, "Expect");
    char copy[2048];
    if (len >= sizeof copy) return false;
    memcpy(copy, line, len);
    copy[len] = '\0';
    struct curl_slist *h = curl_slist_append(r->headers, copy);
    if (!h) return false;
    r->headers = h;
  }
  if (!accept) r->headers = curl_slist_append(r->headers, "Accept:");
  if (!expect) r->headers = curl_slist_append(r->headers, "Expect:");
  return r->headers != NULL;
}

static void raw_client_free(raw_client *c) {
  for (size_t i = 0; i < c->n; i++) curl_slist_free_all(c->req[i].headers);
  free(c->req);
  if (c->h) curl_easy_cleanup(c->h);
}

static bool raw_client_init(raw_client *c, const wire_request *w, size_t n, const char *base) {
  *c = (raw_client){.h = curl_easy_init(), .req = calloc(n, sizeof(raw_request)), .n = n};
  if (!c->h || !c->req) return false;
  for (size_t i = 0; i < n; i++)
    if (!raw_request_init(&c->req[i], &w[i], base)) return false;
  curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->received);
  curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  return true;
}

/* The requests of one run, one after the other on the one handle (its
 * connection kept alive from run to run); false on any failure. */
static bool raw_run(raw_client *c) {
  for (size_t i = 0; i < c->n; i++) {
    raw_request *r = &c->req[i];
    long code = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, r->url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    CURLcode rc = curl_easy_perform(c->h);
    if (rc == CURLE_OK) curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
      fprintf(stderr, "turn bench: raw request %zu: %s, HTTP %ld\n", i + 1, curl_easy_strerror(rc), code);
      return false;
    }
  }
  return true;
}

/* ---- what hookline sends -------------------------------------------- */

static bool same_request(const wire_request *a, const wire_request *b) {
  return a->head_len == b->head_len && a->body_len == b->body_len && !memcmp(a->head, b->head, a->head_len) &&
         !memcmp(a->body, b->body, a->body_len);
}

/* Records the requests of one hookline run (through a relay in front of
 * `url`), then sends them with raw libcurl through the same relay and
 * checks that they arrived identical. On success *out holds the
 * recording (*n requests) for the raw client. */
static bool capture(const bench_agent_opts *o, const char *url, wire_request **out, size_t *n) {
  wire_tap *tap = wire_tap_start(url);
  if (!tap) return false;
  hl_agent *agent = bench_agent_new(o, wire_tap_url(tap));
  bool ok = agent && bench_agent_run(agent, o->tools, "turn bench (recorded run)") >= 0;
  hl_agent_unref(agent);
  wire_request *hl = NULL, *raw = NULL;
  size_t n_hl = ok ? wire_tap_take(tap, &hl) : 0, n_raw = 0;
  raw_client check = {0};
  ok = ok && n_hl > 0 && raw_client_init(&check, hl, n_hl, wire_tap_url(tap)) && raw_run(&check);
  raw_client_free(&check);
  if (ok) n_raw = wire_tap_take(tap, &raw);
  wire_tap_stop(tap);
  if (ok && n_raw != n_hl) {
    fprintf(stderr, "turn bench: hookline sent %zu requests, the raw client %zu\n", n_hl, n_raw);
    ok = false;
  }
  for (size_t i = 0; ok && i < n_hl; i++)
    if (!same_request(&hl[i], &raw[i])) {
      fprintf(stderr, "turn bench: request %zu differs:\n--- hookline\n%s%s\n--- raw\n%s%s\n", i + 1, hl[i].head,
              hl[i].body, raw[i].head, raw[i].body);
      ok = false;
    }
  wire_requests_free(raw, n_raw);
  if (!ok) {
    wire_requests_free(hl, n_hl);
    return false;
  }
  *out = hl;
  *n = n_hl;
  return true;
}

/* ---- the alternation ------------------------------------------------ */

enum { S_HL, S_RAW, S_RAW_B, S_MAX };
static const char *const SERIES[S_MAX] = {"hookline", "raw", "raw_b"};

typedef struct series {
  double *lat;   /* per run, wall µs */
  double *med;   /* per cycle, the median run of its block */
  double cpu_us; /* the process's, over its blocks */
} series;

static bool run_block(int s, hl_agent *agent, bool tools, raw_client *raw, double *lat, int block) {
  for (int i = 0; i < block; i++) {
    if (s == S_HL) {
      if ((lat[i] = bench_agent_run(agent, tools, "turn bench")) < 0) return false;
      continue;
    }
    uint64_t t0 = bench_now_ns();
    if (!raw_run(raw)) return false;
    lat[i] = (double)(bench_now_ns() - t0) / 1e3;
  }
  return true;
}

static bench_ci paired(const series *a, const series *b, size_t cycles, double *tmp) {
  for (size_t c = 0; c < cycles; c++) tmp[c] = b->med[c] - a->med[c];
  return bench_median_ci(tmp, cycles);
}

static void print_ci(const char *name, bench_ci ci) {
  printf(",\"%s\":%.2f,\"%s_ci95\":[%.2f,%.2f]", name, ci.est, name, ci.lo, ci.hi);
}

/* --mode: `runs` runs of one side, nothing timed (for callgrind). */
static int one_side(const char *mode, hl_agent *agent, bool tools, raw_client *raw, int runs) {
  int s = !strcmp(mode, "hookline") ? S_HL : !strcmp(mode, "raw") ? S_RAW : -1;
  if (s < 0 || runs < 1) {
    fprintf(stderr, "turn bench: --mode hookline|raw, --runs >= 1\n");
    return 2;
  }
  double lat[20];
  if (!run_block(s, agent, tools, raw, lat, 20)) return 1; /* warm-up */
  for (int i = 0; i < runs; i++)
    if (!run_block(s, agent, tools, raw, lat, 1)) return 1;
  printf("{\"mode\":\"%s\",\"runs\":%d}\n", mode, runs);
  return 0;
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  const char *scenario = bench_arg(argc, argv, "--scenario", "tools");
  int cycles = atoi(bench_arg(argc, argv, "--cycles", "400"));
  int block = atoi(bench_arg(argc, argv, "--block", "16"));
  int parallel = atoi(bench_arg(argc, argv, "--parallel-tools", "0"));
  bool tools = !strcmp(scenario, "tools");
  if ((!tools && strcmp(scenario, "chat") != 0) || cycles < 6 || block < 1 || parallel < 0) {
    fprintf(stderr, "turn bench: --scenario tools|chat, --cycles >= 6, --block >= 1\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  bench_agent_opts o = {.tools = tools, .parallel = parallel};
  wire_request *reqs = NULL;
  size_t n_req = 0;
  if (!capture(&o, url, &reqs, &n_req)) return 1;
  hl_agent *agent = bench_agent_new(&o, url);
  raw_client raw = {0};
  if (!agent || !raw_client_init(&raw, reqs, n_req, url)) return 1;
  const char *only = bench_arg(argc, argv, "--mode", NULL);
  if (only) {
    int rc = one_side(only, agent, tools, &raw, atoi(bench_arg(argc, argv, "--runs", "100")));
    raw_client_free(&raw);
    wire_requests_free(reqs, n_req);
    hl_agent_unref(agent);
    curl_global_cleanup();
    return rc;
  }

  size_t n = (size_t)cycles * (size_t)block;
  series ser[S_MAX];
  double *tmp = malloc(n * sizeof *tmp);
  for (int s = 0; s < S_MAX; s++) {
    ser[s] = (series){.lat = malloc(n * sizeof(double)), .med = malloc((size_t)cycles * sizeof(double))};
    if (!ser[s].lat || !ser[s].med) return 1;
  }
  /* warm-up: connections, the worker pool, caches */
  for (int i = 0; i < 50; i++)
    if (bench_agent_run(agent, tools, "turn bench (warm-up)") < 0 || !raw_run(&raw)) return 1;

  bench_server_stats s0, s1;
  if (!tmp || !bench_server_stats_get(url, &s0)) return 1;
  long calls0 = bench_agent_tool_calls();
  for (int c = 0; c < cycles; c++)
    for (int j = 0; j < S_MAX; j++) {
      int s = bench_series_at(c, j, S_MAX);
      double *lat = ser[s].lat + (size_t)c * (size_t)block;
      double cpu0 = bench_cpu_us();
      if (!run_block(s, agent, tools, &raw, lat, block)) return 1;
      ser[s].cpu_us += bench_cpu_us() - cpu0;
      memcpy(tmp, lat, (size_t)block * sizeof *tmp);
      ser[s].med[c] = bench_percentile(tmp, (size_t)block, 50);
    }
  long calls = bench_agent_tool_calls() - calls0;
  if (!bench_server_stats_get(url, &s1)) return 1;
  /* Every series made n runs of n_req requests; hookline's 3 tool calls a run of (b). */
  double requests = s1.requests - s0.requests;
  if (requests != (double)(n * S_MAX * n_req) || calls != (long)(tools ? 3 * n : 0)) {
    fprintf(stderr, "turn bench: %.0f requests and %ld tool calls for %zu runs of each series\n", requests, calls,
            n);
    return 1;
  }

  printf("{\"benchmark\":\"turn\",\"scenario\":\"%s\",\"runtime\":\"C, hookline %s%s, libcurl %s\","
         "\"cycles\":%d,\"block\":%d,\"model_calls_per_run\":%zu,\"tool_calls_per_run\":%d,"
         "\"same_requests\":true,\"request_bytes\":[",
         scenario, HL_BENCH_VERSION, parallel == 1 ? ", tools one after another" : "",
         curl_version_info(CURLVERSION_NOW)->version, cycles, block, n_req, tools ? 3 : 0);
  for (size_t i = 0; i < n_req; i++) printf("%s%zu", i ? "," : "", reqs[i].head_len + reqs[i].body_len);
  printf("],\"server_us_per_request\":%.2f", (s1.service_us - s0.service_us) / requests);
  double p50[S_MAX];
  for (int s = 0; s < S_MAX; s++) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += ser[s].lat[i];
    memcpy(tmp, ser[s].lat, n * sizeof *tmp);
    p50[s] = bench_percentile(tmp, n, 50);
    printf(",\"%s\":{\"runs\":%zu,\"latency_p50_us\":%.2f,\"latency_p99_us\":%.2f,\"latency_mean_us\":%.2f,"
           "\"cpu_us_per_run\":%.2f}",
           SERIES[s], n, p50[s], bench_percentile(tmp, n, 99), sum / (double)n, ser[s].cpu_us / (double)n);
  }
  bench_ci cost = paired(&ser[S_RAW], &ser[S_HL], (size_t)cycles, tmp);
  bench_ci aa = paired(&ser[S_RAW], &ser[S_RAW_B], (size_t)cycles, tmp);
  print_ci("diff_us_p50", cost);
  print_ci("aa_us_p50", aa);
  /* The target: hookline's run within 10 % of the raw requests', i.e.
   * the difference below a tenth of the raw run (its median, whose own
   * interval is far narrower than the difference's). */
  double bound = 0.10 * p50[S_RAW];
  printf(",\"ratio_p50\":%.3f,\"target_pct\":10,\"bound_us\":%.2f,\"verdict\":\"%s\"}\n", p50[S_HL] / p50[S_RAW],
         bound, bench_verdict(cost, aa, bound));

  for (int s = 0; s < S_MAX; s++) free(ser[s].lat), free(ser[s].med);
  free(tmp);
  raw_client_free(&raw);
  wire_requests_free(reqs, n_req);
  hl_agent_unref(agent);
  curl_global_cleanup();
  return 0;
}
