/*
 * bench/agent_bench.c - hookline's side of the agent benchmarks.
 *
 * The same scenarios as the JS peers (bench/peers/harness.mjs), against the
 * same mock server, with the same tool and prompts:
 *
 *   chat                one model call, no tools
 *   chat_stream         the same, streamed (SSE)
 *   tools               the model asks for 3 "lookup" calls, then answers
 *   tools_stream        the same, streamed
 *   tools_concurrent50  50 sessions of "tools" at once (50 threads, one agent)
 *   agent_10_tools      "tools" with an agent that declares 10 tools (peak RSS)
 *
 * Each run starts from a fresh session, as the peers start from a fresh
 * conversation. One JSON line with the peers' fields goes to stdout.
 *
 *   hl-bench-agent --url http://127.0.0.1:PORT --scenario tools
 *                  [--budget-s 3] [--max-runs 20000] [--warmup 20]
 *                  [--provider openai|scripted] [--parallel-tools N]
 *
 * --provider scripted replaces the HTTP model with the scripted provider
 * (same answers, no network); it measures the agent loop alone.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_agent.h"
#include "bench_util.h"

typedef struct scenario {
  const char *name;
  bool tools, stream;
  int sessions;
  int extra_tools;   /* declared besides "lookup", never called */
} scenario;

static const scenario SCENARIOS[] = {
    {"chat", false, false, 1, 0},
    {"chat_stream", false, true, 1, 0},
    {"tools", true, false, 1, 0},
    {"tools_stream", true, true, 1, 0},
    {"tools_concurrent50", true, false, 50, 0},
    {"agent_10_tools", true, false, 1, 9},
};

static void on_token(const char *delta, void *user_data) {
  *(size_t *)user_data += strlen(delta);   /* consume the stream, as the peers do */
}

static hl_agent *make_agent(const scenario *sc, const char *url, bool scripted, int parallel) {
  bench_agent_opts o = {.tools = sc->tools, .stream = sc->stream, .extra_tools = sc->extra_tools,
                        .scripted = scripted, .parallel = parallel};
  return bench_agent_new(&o, url);
}

/* One run from a fresh session; returns its latency in microseconds or < 0. */
static double run_once(hl_agent *agent, const scenario *sc) {
  return bench_agent_run(agent, sc->tools, sc->name);
}

/* ---- 50 sessions at once: one thread per session, batches in lock step --- */

typedef struct pool {
  hl_agent *agent;
  const scenario *sc;
  pthread_barrier_t start, done;
  atomic_bool stop;
  double *lat;          /* one slot per session of the current batch */
  atomic_bool failed;
} pool;

typedef struct worker {
  pool *pool;
  int index;
} worker;

static void *session_thread(void *arg) {
  worker *w = arg;
  pool *pl = w->pool;
  for (;;) {
    pthread_barrier_wait(&pl->start);
    if (atomic_load(&pl->stop)) return NULL;
    double us = run_once(pl->agent, pl->sc);
    if (us < 0) atomic_store(&pl->failed, true);
    pl->lat[w->index] = us;
    pthread_barrier_wait(&pl->done);
  }
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  const char *name = bench_arg(argc, argv, "--scenario", "tools");
  double budget_s = atof(bench_arg(argc, argv, "--budget-s", "3"));
  long max_runs = atol(bench_arg(argc, argv, "--max-runs", "20000"));
  long warmup = atol(bench_arg(argc, argv, "--warmup", "20"));
  bool scripted = !strcmp(bench_arg(argc, argv, "--provider", "openai"), "scripted");
  int parallel = atoi(bench_arg(argc, argv, "--parallel-tools", "0"));   /* 0: the default */

  const scenario *sc = NULL;
  for (size_t i = 0; i < sizeof SCENARIOS / sizeof *SCENARIOS; i++)
    if (!strcmp(SCENARIOS[i].name, name)) sc = &SCENARIOS[i];
  if (!sc) {
    fprintf(stderr, "agent bench: unknown scenario %s\n", name);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  /* What the process holds before any agent exists: mostly libcurl and the
   * TLS, Kerberos, LDAP... libraries it loads, all mapped at start-up. */
  double rss_before_agent = bench_peak_rss_mb();
  hl_agent *agent = make_agent(sc, url, scripted, parallel);
  if (!agent) return 1;
  size_t streamed = 0;
  if (sc->stream) hl_agent_set_token_callback(agent, on_token, &streamed);

  int n = sc->sessions;
  size_t cap = (size_t)max_runs + (size_t)n;
  double *lat = malloc(cap * sizeof *lat);
  pool pl = {.agent = agent, .sc = sc, .lat = malloc((size_t)n * sizeof(double))};
  pthread_t *threads = NULL;
  worker *workers = NULL;
  if (!lat || !pl.lat) return 1;
  if (n > 1) {
    pthread_barrier_init(&pl.start, NULL, (unsigned)n + 1);
    pthread_barrier_init(&pl.done, NULL, (unsigned)n + 1);
    threads = calloc((size_t)n, sizeof *threads);
    workers = calloc((size_t)n, sizeof *workers);
    for (int i = 0; i < n; i++) {
      workers[i] = (worker){&pl, i};
      pthread_create(&threads[i], NULL, session_thread, &workers[i]);
    }
  }
  /* One batch: n runs (one when sequential); latencies appended to lat. */
  size_t count = 0;
  bool failed = false;
#define BATCH(record)                                                     \
  do {                                                                    \
    if (n == 1) {                                                         \
      double us = run_once(agent, sc);                                    \
      if (us < 0) failed = true;                                          \
      if (record) lat[count++] = us;                                      \
    } else {                                                              \
      pthread_barrier_wait(&pl.start);                                    \
      pthread_barrier_wait(&pl.done);                                     \
      if (atomic_load(&pl.failed)) failed = true;                         \
      if (record)                                                         \
        for (int k = 0; k < n; k++) lat[count++] = pl.lat[k];             \
    }                                                                     \
  } while (0)

  long warm_batches = (warmup + n - 1) / n;
  for (long i = 0; i < (warm_batches > 0 ? warm_batches : 1) && !failed; i++) BATCH(false);

  bench_server_stats s0 = {0}, s1 = {0};
  if (!scripted && !bench_server_stats_get(url, &s0)) return 1;
  long calls0 = bench_agent_tool_calls();
  double cpu0 = bench_cpu_us();
  uint64_t t0 = bench_now_ns();
  uint64_t deadline = t0 + (uint64_t)(budget_s * 1e9);
  while (!failed && (long)count < max_runs && (bench_now_ns() < deadline || count < 10))
    BATCH(true);
  uint64_t wall_ns = bench_now_ns() - t0;
  double cpu = bench_cpu_us() - cpu0;
  long calls = bench_agent_tool_calls() - calls0;
  if (!scripted && !bench_server_stats_get(url, &s1)) return 1;

  if (n > 1) {
    atomic_store(&pl.stop, true);
    pthread_barrier_wait(&pl.start);
    for (int i = 0; i < n; i++) pthread_join(threads[i], NULL);
  }
  if (failed || count == 0) return 1;
  double runs = (double)count;
  double tool_calls_per_run = (double)calls / runs;
  if (tool_calls_per_run != (sc->tools ? 3.0 : 0.0)) {
    fprintf(stderr, "agent bench: %s: %.2f tool calls per run\n", sc->name, tool_calls_per_run);
    return 1;
  }
  double wall_us = (double)wall_ns / 1e3;
  double server_us = s1.service_us - s0.service_us;
  double p50 = bench_percentile(lat, count, 50), p99 = bench_percentile(lat, count, 99);
  double anon_mb, file_mb;
  bench_rss_now_mb(&anon_mb, &file_mb);
  /* Sequential runs: time beyond the server's, for the median run (robust to
   * other work on the machine) and on average. Overlapping runs: null. */
  char overhead[64], overhead_mean[64];
  if (n > 1) {
    snprintf(overhead, sizeof overhead, "null");
    snprintf(overhead_mean, sizeof overhead_mean, "null");
  } else {
    snprintf(overhead, sizeof overhead, "%.1f", p50 - server_us / runs);
    snprintf(overhead_mean, sizeof overhead_mean, "%.1f", (wall_us - server_us) / runs);
  }
  printf("{\"system\":\"hookline\",\"scenario\":\"%s\",\"runtime\":\"C, hookline %s%s%s\","
         "\"runs\":%zu,\"sessions\":%d,\"wall_s\":%.3f,\"runs_per_s\":%.1f,"
         "\"model_calls_per_run\":%.2f,\"tool_calls_per_run\":%.0f,\"server_us_per_run\":%.2f,"
         "\"overhead_us\":%s,\"overhead_mean_us\":%s,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f,"
         "\"cpu_us_per_run\":%.1f,\"peak_rss_mb\":%.1f,\"rss_before_agent_mb\":%.1f,"
         "\"rss_anon_mb\":%.1f,\"rss_file_mb\":%.1f,\"tools_declared\":%d}\n",
         sc->name, HL_BENCH_VERSION, scripted ? ", scripted provider" : "",
         parallel == 1 ? ", tools one after another" : "", count, n,
         wall_us / 1e6, runs / (wall_us / 1e6),
         scripted ? 0.0 : (s1.requests - s0.requests) / runs, tool_calls_per_run,
         server_us / runs, overhead, overhead_mean, p50, p99, cpu / runs, bench_peak_rss_mb(), rss_before_agent,
         anon_mb, file_mb,
         sc->tools ? 1 + sc->extra_tools : 0);
  free(lat);
  free(pl.lat);
  free(threads);
  free(workers);
  hl_agent_unref(agent);
  curl_global_cleanup();
  return 0;
}
