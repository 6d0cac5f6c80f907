/*
 * bench/slow_bench.c - concurrent_slow, hookline's side: N sessions of
 * scenario (b) (2 model calls, 3 "lookup" tool calls) at once against the
 * mock server answering every model request after a delay (run.py starts
 * it with --delay-ms 1000), one application thread per session calling
 * the blocking hl_agent_run(), as an application that already has its
 * threads would.
 *
 *   hl-bench-slow --url http://127.0.0.1:PORT --sessions N [--stack-kb 64]
 *                 [--parallel-tools 0] [--api threads|async]
 *
 * --api async: the same sessions started with hl_run_start() from the main
 * thread, no application thread per session; each run's end comes by its
 * callback (latency measured from its start), the main thread waits for
 * the last one.
 *
 * --api raw-curl [--raw-multis M]: the floor, no hookline at all: the same
 * two requests per session with raw libcurl on one thread (slow_raw.c).
 *
 * --http 2: every request over HTTP/2 with prior knowledge to the mock
 * server's h2c side (hookline: hl_openai_set_http_version(HL_HTTP_VERSION_2);
 * raw-curl: CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, multiplexed, with
 * --raw-streams S streams per connection, --raw-host-conns C connections at
 * most (0: no cap), --raw-bufsize B bytes of receive buffer per transfer).
 * Exits 3 with a note when the mock server was built without h2c.
 * On libcurl < 7.89.0 (curl issue #10634: a reused h2c connection fails)
 * both hookline and raw-curl open a fresh h2c connection per request;
 * --raw-h2-one-conn 1 makes raw-curl multiplex anyway: one h2c connection
 * per multi handle (--raw-multis), opened by its first session, whose
 * answer the others wait for (slow_raw.c says how; that 1 s is in the
 * wall time and latencies). Not in run.py yet. Measured at load ~20-50:
 * 10,000 sessions over 32 connections, 0 failures, ~160-190 us CPU per
 * session, ~200 MB, but 7-12 s wall (libcurl 7.88 with hundreds of
 * streams per connection: not profiled yet).
 *
 * --url https://...: the mock server's TLS side (run.py starts it with
 * --tls DIR), trusting --ca DIR/ca.pem (hookline: hl_openai_set_ca_file();
 * raw-curl: CURLOPT_CAINFO). With --http 2 the requests go over HTTP/2
 * negotiated by ALPN and multiplexed (hookline: HL_HTTP_VERSION_AUTO,
 * what an application gets by default; raw-curl: CURL_HTTP_VERSION_2TLS
 * with PIPEWAIT); with --http 1.1 over HTTP/1.1 (one connection per
 * session in flight). The rows are named -h2tls and -tls.
 *
 * --host-conns C: hl_pool_setopt(HL_POOL_MAX_HOST_CONNECTIONS, C) before
 * the first request (0: the default); requests beyond the cap wait for a
 * connection, or over HTTP/2 become streams of the open ones. The row's
 * name gets "-capC". --max-streams S: hl_pool_setopt(HL_POOL_MAX_STREAMS, S)
 * (the mock's --h2-max-streams sets the server's limit).
 *
 * Prints one JSON object: wall time (first thread created to last run
 * done), client CPU (getrusage of this process only: the server is
 * another process), peak RSS, p50/p99 run latency, failures, and the
 * server's own figures over the same interval.
 *
 * What the benchmark sets up, not the library (process-wide choices
 * belong to the application):
 *  - the soft open-file limit is raised to the hard one (10,000 sessions
 *    need 10,000 sockets to an HTTP/1.1 server);
 *  - session threads get small stacks (--stack-kb);
 *  - on Linux >= 6.16 the process's private futex hash is sized for
 *    thousands of sleeping threads (--futex-slots, prctl PR_FUTEX_HASH):
 *    the kernel sizes it by CPUs (16 buckets on 2 cores), so with 10,000
 *    threads asleep every wake-up walked ~600 waiters of one bucket
 *    (measured: futex_wake was 20-40% of the process's CPU). 0 leaves the
 *    kernel's default.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_util.h"
#include "slow_raw.h"

static const char *INSTRUCTION = "You are a benchmark agent. Use the lookup tool when asked.";
static const char *TOOLS_INPUT = "Look up the keys a, b and c.";

static atomic_long g_tool_calls;

static hl_status lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(args, "key");
  char value[128];
  snprintf(value, sizeof value, "value-%s", cJSON_IsString(key) ? key->valuestring : "?");
  *result = cJSON_CreateString(value);
  atomic_fetch_add(&g_tool_calls, 1);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "lookup: out of memory");
}

typedef struct session_slot {
  hl_agent *agent;
  double latency_us;   /* < 0: failed */
} session_slot;

static atomic_int g_failed;
static atomic_flag g_err_printed = ATOMIC_FLAG_INIT;

static void *session_thread(void *arg) {
  session_slot *s = arg;
  uint64_t t0 = bench_now_ns();
  hl_session *session = hl_session_new("bench", "u", NULL);
  char *answer = NULL;
  hl_status st = session ? hl_agent_run(s->agent, session, TOOLS_INPUT, &answer) : HL_ERR_NOMEM;
  bool ok = st == HL_OK && answer && strstr(answer, "gamma");
  if (!ok) {
    atomic_fetch_add(&g_failed, 1);
    if (!atomic_flag_test_and_set(&g_err_printed))
      fprintf(stderr, "slow bench: a run failed: %s\n",
              st != HL_OK ? hl_last_error() : "wrong answer");
  }
  hl_free(answer);
  hl_session_free(session);
  s->latency_us = ok ? (double)(bench_now_ns() - t0) / 1e3 : -1;
  return NULL;
}

/* ---- the asynchronous API: no thread per session ---- */

typedef struct async_slot {
  hl_session *session;
  hl_run *run;
  uint64_t t0;
  double latency_us; /* < 0: failed */
} async_slot;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_left;

static void async_done(hl_run *run, hl_status st, const char *answer, const hl_usage *usage,
                       void *ud) {
  (void)usage;
  async_slot *s = ud;
  bool ok = st == HL_OK && answer && strstr(answer, "gamma");
  if (!ok) {
    atomic_fetch_add(&g_failed, 1);
    if (!atomic_flag_test_and_set(&g_err_printed))
      fprintf(stderr, "slow bench: a run failed: %s\n", st != HL_OK ? hl_run_error(run) : "wrong answer");
  }
  s->latency_us = ok ? (double)(bench_now_ns() - s->t0) / 1e3 : -1;
  pthread_mutex_lock(&g_mu);
  if (--g_left == 0) pthread_cond_signal(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

/* Start every session at once, wait for all; returns how many started. */
static int run_async(hl_agent *agent, async_slot *slots, int n) {
  g_left = n;
  int started = 0;
  hl_run_options o = HL_RUN_OPTIONS_INIT;
  o.on_done = async_done;
  for (int i = 0; i < n; i++) {
    slots[i].session = hl_session_new("bench", "u", NULL);
    slots[i].t0 = bench_now_ns();
    o.user_data = &slots[i];
    if (!slots[i].session || hl_run_start(agent, slots[i].session, TOOLS_INPUT, &o, &slots[i].run) != HL_OK) {
      fprintf(stderr, "slow bench: could not start run %d: %s\n", i, hl_last_error());
      slots[i].latency_us = -1;
      pthread_mutex_lock(&g_mu);
      g_left--;
      pthread_mutex_unlock(&g_mu);
      atomic_fetch_add(&g_failed, 1);
      continue;
    }
    started++;
  }
  pthread_mutex_lock(&g_mu);
  while (g_left > 0) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  return started;
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  int n = atoi(bench_arg(argc, argv, "--sessions", "1000"));
  long stack_kb = atol(bench_arg(argc, argv, "--stack-kb", "64"));
  int parallel = atoi(bench_arg(argc, argv, "--parallel-tools", "0"));
  long futex_slots = atol(bench_arg(argc, argv, "--futex-slots", "16384"));
  const char *api = bench_arg(argc, argv, "--api", "threads");
  bool async_api = !strcmp(api, "async");
  bool raw_api = !strcmp(api, "raw-curl");
  int raw_multis = atoi(bench_arg(argc, argv, "--raw-multis", "16"));
  const char *http = bench_arg(argc, argv, "--http", "1.1");
  bool h2 = !strcmp(http, "2");
  if (!h2 && strcmp(http, "1.1") != 0) {
    fprintf(stderr, "slow bench: --http 1.1|2\n");
    return 2;
  }
  const char *ca = bench_arg(argc, argv, "--ca", NULL);
  long host_conns = atol(bench_arg(argc, argv, "--host-conns", "0"));
  bool tls = strncmp(url, "https:", 6) == 0;
  slow_raw_h2 raw_h2 = {.max_streams = atol(bench_arg(argc, argv, "--raw-streams", "1000")),
                        .max_host_connections = atol(bench_arg(argc, argv, "--raw-host-conns", "0")),
                        .buffer_size = atol(bench_arg(argc, argv, "--raw-bufsize", "4096")),
                        .one_connection = atoi(bench_arg(argc, argv, "--raw-h2-one-conn", "0")) != 0};
  if (!async_api && !raw_api && strcmp(api, "threads") != 0) {
    fprintf(stderr, "slow bench: --api threads|async|raw-curl\n");
    return 2;
  }
  if (n <= 0 || stack_kb < 16) {
    fprintf(stderr, "slow bench: --sessions > 0 and --stack-kb >= 16\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
#ifndef PR_FUTEX_HASH
#define PR_FUTEX_HASH 78
#define PR_FUTEX_HASH_SET_SLOTS 1
#define PR_FUTEX_HASH_GET_SLOTS 2
#endif
  /* Fails harmlessly (EINVAL) on kernels without a private futex hash. */
  if (futex_slots > 0) prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_SET_SLOTS, futex_slots, 0, 0);
  long slots_now = prctl(PR_FUTEX_HASH, PR_FUTEX_HASH_GET_SLOTS, 0, 0, 0);

  char base[1024];
  snprintf(base, sizeof base, "%s/v1", url);
  hl_provider *p = hl_openai_new(base, "sk-bench-dummy");
  hl_agent *agent = hl_agent_new("bench");
  hl_tool *t = hl_tool_new("lookup", "Look up the value stored under a key.", lookup, NULL);
  if (!p || !agent || !t || hl_tool_param(t, "key", "string", "the key", true) != HL_OK) {
    fprintf(stderr, "slow bench: setup: %s\n", hl_last_error());
    return 1;
  }
  hl_openai_set_model(p, "mock-model");
  /* Over TLS, AUTO is HTTP/2 by ALPN (the default an application gets). */
  if (h2 && !tls) hl_openai_set_http_version(p, HL_HTTP_VERSION_2);
  if (!h2 && tls) hl_openai_set_http_version(p, HL_HTTP_VERSION_1_1);
  if (ca && hl_openai_set_ca_file(p, ca) != HL_OK) {
    fprintf(stderr, "slow bench: --ca: %s\n", hl_last_error());
    return 1;
  }
  long max_streams = atol(bench_arg(argc, argv, "--max-streams", "0"));
  if (max_streams > 0 && hl_pool_setopt(HL_POOL_MAX_STREAMS, max_streams) != HL_OK) {
    fprintf(stderr, "slow bench: --max-streams: %s\n", hl_last_error());
    return 1;
  }
  if (host_conns > 0 && hl_pool_setopt(HL_POOL_MAX_HOST_CONNECTIONS, host_conns) != HL_OK) {
    fprintf(stderr, "slow bench: --host-conns: %s\n", hl_last_error());
    return 1;
  }
  hl_agent_set_provider(agent, p);
  hl_agent_set_instruction(agent, INSTRUCTION);
  hl_agent_set_model(agent, "mock-model");
  hl_agent_add_tool(agent, t);
  if (parallel > 0) hl_agent_set_parallel_tools(agent, parallel);
  hl_tool_unref(t);
  hl_provider_unref(p);

  async_slot *aslots = async_api ? calloc((size_t)n, sizeof *aslots) : NULL;
  session_slot *slots = calloc((size_t)n, sizeof *slots);
  pthread_t *threads = calloc((size_t)n, sizeof *threads);
  double *lat = calloc((size_t)n, sizeof *lat);
  if (!slots || !threads || !lat) return 1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)stack_kb * 1024);

  bench_server_stats s0 = {0}, s1 = {0};
  bench_set_ca_file(ca);
  if (!bench_server_stats_get(url, &s0)) return 1;
  if (h2 && !s0.h2c) {
    fprintf(stderr, "slow bench: the mock server was built without libnghttp2 (no h2c): "
                    "no HTTP/2 rows (scripts/setup.d/nghttp2.sh installs libnghttp2-dev)\n");
    return 3;
  }
  double cpu0 = bench_cpu_us();
  uint64_t t0 = bench_now_ns();
  int started = 0;
  if (raw_api) {
    double *rl_lat = calloc((size_t)n, sizeof *rl_lat);
    if (!rl_lat) return 1;
    atomic_store(&g_failed, slow_raw_curl(url, n, raw_multis, h2 ? &raw_h2 : NULL, ca, rl_lat));
    started = n;
    for (int i = 0; i < n; i++) slots[i].latency_us = rl_lat[i];
    free(rl_lat);
  } else if (async_api) {
    if (!aslots) return 1;
    run_async(agent, aslots, n);
    started = n;
    for (int i = 0; i < n; i++) slots[i].latency_us = aslots[i].latency_us;
  }
  for (int i = 0; i < n && !async_api && !raw_api; i++) {
    slots[i].agent = agent;
    if (pthread_create(&threads[i], &attr, session_thread, &slots[i]) != 0) {
      fprintf(stderr, "slow bench: could not create thread %d\n", i);
      break;
    }
    started++;
  }
  for (int i = 0; i < started && !async_api && !raw_api; i++) pthread_join(threads[i], NULL);
  uint64_t wall_ns = bench_now_ns() - t0;
  double cpu = bench_cpu_us() - cpu0;
  if (!bench_server_stats_get(url, &s1)) return 1;

  size_t ok = 0;
  for (int i = 0; i < started; i++)
    if (slots[i].latency_us >= 0) lat[ok++] = slots[i].latency_us;
  int failures = atomic_load(&g_failed) + (n - started);
  double p50 = ok ? bench_percentile(lat, ok, 50) : 0, p99 = ok ? bench_percentile(lat, ok, 99) : 0;
  double requests = s1.requests - s0.requests;
  /* The row's name: the API, then the transport, then the cap. */
  char system[64];
  snprintf(system, sizeof system, "%s%s", raw_api ? "raw-curl" : async_api ? "hookline-async" : "hookline",
           tls ? (h2 ? "-h2tls" : "-tls") : (h2 ? "-h2" : ""));
  if (host_conns > 0) snprintf(system + strlen(system), sizeof system - strlen(system), "-cap%ld", host_conns);
  const char *http_desc = tls ? (h2 ? "2 (TLS, ALPN)" : "1.1 (TLS)") : h2 ? "2 (h2c, prior knowledge)" : "1.1";
  printf("{\"system\":\"%s\",\"scenario\":\"concurrent_slow\",\"api\":\"%s\","
         "\"runtime\":\"C, %s\",\"worker_threads\":%d,\"sessions\":%d,\"failures\":%d,"
         "\"wall_s\":%.3f,\"cpu_s\":%.3f,\"cpu_us_per_session\":%.1f,\"peak_rss_mb\":%.1f,"
         "\"latency_p50_ms\":%.1f,\"latency_p99_ms\":%.1f,\"model_calls\":%.0f,"
         "\"tool_calls\":%ld,\"server_service_us_per_request\":%.2f,\"server_late_ms_max\":%.1f,"
         "\"connections_opened\":%.0f,\"server_cpu_s\":%.3f,\"stack_kb\":%ld,\"open_files_limit\":%ld,"
         "\"futex_hash_slots\":%ld,\"http\":\"%s\",\"h2_connections\":%.0f,"
         "\"tls_handshakes\":%.0f,\"max_host_connections\":%ld,\"libcurl\":\"%s\"}\n",
         system,
         raw_api ? "raw libcurl multi on one thread, no hookline (the floor)"
         : async_api ? "hl_run_start, no thread per session"
                     : "blocking hl_agent_run, one thread per session",
         raw_api ? curl_version() : "hookline " HL_BENCH_VERSION, hl_worker_threads(), n, failures, (double)wall_ns / 1e9, cpu / 1e6, cpu / n,
         bench_peak_rss_mb(), p50 / 1e3, p99 / 1e3, requests, atomic_load(&g_tool_calls),
         requests > 0 ? (s1.service_us - s0.service_us) / requests : 0.0, s1.late_us_max / 1e3,
         s1.connections - s0.connections, (s1.cpu_us - s0.cpu_us) / 1e6, stack_kb,
         (long)rl.rlim_cur, slots_now, http_desc, s1.h2_connections - s0.h2_connections,
         s1.tls_handshakes - s0.tls_handshakes, host_conns,
         /* The libcurl this process loaded (run.py runs rows on two). */
         curl_version_info(CURLVERSION_NOW)->version);
  pthread_attr_destroy(&attr);
  for (int i = 0; aslots && i < n; i++) {
    hl_run_free(aslots[i].run);
    hl_session_free(aslots[i].session);
  }
  free(aslots);
  free(slots);
  free(threads);
  free(lat);
  hl_agent_unref(agent);
  return failures ? 1 : 0;
}
