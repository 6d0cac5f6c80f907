/*
 * bench/otel_bench.c - what the OpenTelemetry exporter costs a run
 * (`make -C bench otel`).
 *
 * Scenario (b) (2 model calls, 3 tool calls) against the mock server, in
 * rounds that alternate: a batch of runs with no exporter at all, then a
 * batch with the exporter installed (a global observer and the traceparent
 * header), sending to the mock server's OTLP endpoint. Alternating in one
 * process exposes both modes to the same machine load. Per mode: median,
 * p99 and mean latency, and CPU per run of the whole process (so the
 * exporter thread's encoding and sending count, and the flush at the end
 * of each "on" batch too). A third batch per round runs with a global
 * observer that does nothing and declares no event types, so it gets all
 * of them ("noop_observer"): what the library spends building every event
 * for an observer that wants everything; the exporter declares the types
 * it reads (hl_observer_set_events()), so it should cost less than that.
 * One JSON object on stdout.
 *
 *   hl-bench-otel --url http://127.0.0.1:PORT [--rounds 10] [--runs 300]
 *                 [--provider openai|scripted] [--mode off|noop|on]
 *
 * --provider scripted takes HTTP out (the scripted provider plays the same
 * answers): the exporter's cost against the agent loop alone. --mode runs
 * `runs` runs of that one mode (after 50 warm-up runs without observers)
 * and prints nothing but {"mode":..., "runs":...}: for instruction counts
 * under valgrind --tool=callgrind, where the difference between two run
 * counts gives the instructions of one run. There a turn's tool calls run
 * one after another on the run's thread (hl_agent_set_parallel_tools 1):
 * which thread runs a parallel call varies from process to process, and
 * the split between the run's thread and the others must repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_util.h"

static const char *SCRIPT =
    "{\"rules\":[{\"match\":\"look up\",\"steps\":["
    "{\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"lookup\",\"arguments\":{\"key\":\"a\"}},"
    "{\"id\":\"call_2\",\"name\":\"lookup\",\"arguments\":{\"key\":\"b\"}},"
    "{\"id\":\"call_3\",\"name\":\"lookup\",\"arguments\":{\"key\":\"c\"}}]},"
    "{\"text\":\"The values are alpha, beta and gamma.\"}]}]}";

static hl_status lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(args, "key");
  char value[64];
  snprintf(value, sizeof value, "value-%s", cJSON_IsString(key) ? key->valuestring : "?");
  *result = cJSON_CreateString(value);
  return HL_OK;
}

typedef struct mode {
  double *lat;
  size_t n;
  double cpu_us;
} mode;

static bool batch(hl_agent *agent, int runs, mode *m) {
  double cpu0 = bench_cpu_us();
  for (int i = 0; i < runs; i++) {
    uint64_t t0 = bench_now_ns();
    hl_session *s = hl_session_new("bench", "u", NULL);
    char *answer = NULL;
    hl_status st = hl_agent_run(agent, s, "Look up the keys a, b and c.", &answer);
    bool ok = st == HL_OK && answer && strstr(answer, "gamma");
    if (!ok) fprintf(stderr, "otel bench: run failed: %s\n", st ? hl_last_error() : answer);
    hl_free(answer);
    hl_session_free(s);
    if (!ok) return false;
    m->lat[m->n++] = (double)(bench_now_ns() - t0) / 1e3;
  }
  m->cpu_us += bench_cpu_us() - cpu0;
  return true;
}

/* Observes nothing, declares nothing: gets every event type. */
static int observe_nothing(const hl_event *ev, void *ud) {
  (void)ev, (void)ud;
  return 0;
}

static hl_otel *otel_on(const hl_otel_options *o) {
  hl_otel *otel = hl_otel_new(o);
  if (!otel || hl_otel_install(otel, NULL) != HL_OK) {
    fprintf(stderr, "otel bench: %s\n", hl_last_error());
    return NULL;
  }
  return otel;
}

static void report(const char *name, mode *m) {
  double sum = 0;
  for (size_t i = 0; i < m->n; i++) sum += m->lat[i];
  double mean = sum / (double)m->n;
  double p50 = bench_percentile(m->lat, m->n, 50), p99 = bench_percentile(m->lat, m->n, 99);
  printf("\"%s\":{\"runs\":%zu,\"latency_p50_us\":%.2f,\"latency_p99_us\":%.2f,\"latency_mean_us\":%.2f,"
         "\"cpu_us_per_run\":%.2f}",
         name, m->n, p50, p99, mean, m->cpu_us / (double)m->n);
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  int rounds = atoi(bench_arg(argc, argv, "--rounds", "10"));
  int runs = atoi(bench_arg(argc, argv, "--runs", "300"));
  bool scripted = !strcmp(bench_arg(argc, argv, "--provider", "openai"), "scripted");
  const char *only = bench_arg(argc, argv, "--mode", NULL);
  if (rounds < 1 || runs < 1) {
    fprintf(stderr, "otel bench: --rounds and --runs must be >= 1\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  hl_provider *p;
  if (scripted) {
    p = hl_scripted_new();
    if (p) hl_scripted_load_json(p, SCRIPT);
  } else {
    char base[1024];
    snprintf(base, sizeof base, "%s/v1", url);
    p = hl_openai_new(base, "sk-bench-dummy");
  }
  hl_agent *agent = hl_agent_new("bench");
  hl_tool *t = hl_tool_new("lookup", "Look up the value stored under a key.", lookup, NULL);
  if (!p || !agent || !t) return 1;
  hl_tool_param(t, "key", "string", "the key", true);
  hl_agent_set_provider(agent, p);
  hl_agent_set_model(agent, "mock-model");
  hl_agent_add_tool(agent, t);

  size_t cap = (size_t)rounds * (size_t)runs;
  mode off = {.lat = malloc(cap * sizeof(double))}, on = {.lat = malloc(cap * sizeof(double))};
  mode noop = {.lat = malloc(cap * sizeof(double))};
  if (!off.lat || !on.lat || !noop.lat) return 1;
  hl_otel_options o = {.size = sizeof o, .endpoint = url};
  hl_otel_stats total = {0};
  mode warm = {.lat = malloc((size_t)runs * sizeof(double))};
  if (!warm.lat || !batch(agent, runs < 50 ? runs : 50, &warm)) return 1;
  if (only) {
    hl_otel *otel = NULL;
    hl_agent_set_parallel_tools(agent, 1);
    if (!strcmp(only, "noop")) {
      hl_observer *nop = hl_observer_new(observe_nothing, NULL);
      hl_observer_add_global(nop);
      hl_observer_unref(nop);
    } else if (!strcmp(only, "on")) {
      if (!(otel = otel_on(&o))) return 1;
    } else if (strcmp(only, "off") != 0) {
      fprintf(stderr, "otel bench: --mode is off, noop or on\n");
      return 2;
    }
    mode m = {.lat = malloc((size_t)runs * sizeof(double))};
    if (!m.lat || !batch(agent, runs, &m)) return 1;
    if (otel) hl_otel_flush(otel, 10000);
    hl_observer_clear_global();
    hl_otel_free(otel);
    printf("{\"mode\":\"%s\",\"runs\":%d}\n", only, runs);
    free(m.lat);
    free(off.lat);
    free(on.lat);
    free(noop.lat);
    free(warm.lat);
    hl_agent_unref(agent);
    hl_tool_unref(t);
    hl_provider_unref(p);
    curl_global_cleanup();
    return 0;
  }
  for (int r = 0; r < rounds; r++) {
    if (!batch(agent, runs, &off)) return 1;
    /* a global observer that does nothing and wants every event: what
     * building all events costs, apart from any exporter */
    hl_observer *nop = hl_observer_new(observe_nothing, NULL);
    hl_observer_add_global(nop);
    hl_observer_unref(nop);
    bool ok = batch(agent, runs, &noop);
    hl_observer_clear_global();
    if (!ok) return 1;
    hl_otel *otel = otel_on(&o);
    if (!otel) return 1;
    if (!batch(agent, runs, &on)) return 1;
    /* what is still queued is part of these runs' cost: send it */
    double cpu1 = bench_cpu_us();
    if (hl_otel_flush(otel, 10000) != HL_OK) fprintf(stderr, "otel bench: flush: %s\n", hl_last_error());
    on.cpu_us += bench_cpu_us() - cpu1;
    hl_otel_stats st = {.size = sizeof st};
    hl_otel_get_stats(otel, &st);
    total.spans_started += st.spans_started;
    total.spans_exported += st.spans_exported;
    total.spans_dropped += st.spans_dropped;
    total.export_requests += st.export_requests;
    hl_observer_clear_global();
    hl_otel_free(otel);
  }
  double off_p50 = bench_percentile(off.lat, off.n, 50), on_p50 = bench_percentile(on.lat, on.n, 50);
  double off_p99 = bench_percentile(off.lat, off.n, 99), on_p99 = bench_percentile(on.lat, on.n, 99);
  double off_mean = 0, on_mean = 0;
  for (size_t i = 0; i < off.n; i++) off_mean += off.lat[i] / (double)off.n;
  for (size_t i = 0; i < on.n; i++) on_mean += on.lat[i] / (double)on.n;
  printf("{\"benchmark\":\"otel\",\"scenario\":\"tools\",\"runtime\":\"C, hookline %s%s\",\"rounds\":%d,",
         HL_BENCH_VERSION, scripted ? ", scripted provider" : "", rounds);
  report("off", &off);
  printf(",");
  report("on", &on);
  printf(",");
  report("noop_observer", &noop);
  printf(",\"cost_us_per_run_p50\":%.2f,\"cost_us_per_run_mean\":%.2f,\"cpu_cost_us_per_run\":%.2f,"
         "\"p99_change_pct\":%.1f,\"spans_per_run\":%.2f,\"spans_exported\":%llu,\"spans_dropped\":%llu,"
         "\"export_requests\":%llu,\"target_us\":10}\n",
         on_p50 - off_p50, on_mean - off_mean,
         on.cpu_us / (double)on.n - off.cpu_us / (double)off.n,
         off_p99 > 0 ? (on_p99 - off_p99) / off_p99 * 100 : 0.0,
         (double)total.spans_started / (double)on.n, (unsigned long long)total.spans_exported,
         (unsigned long long)total.spans_dropped, (unsigned long long)total.export_requests);
  free(off.lat);
  free(on.lat);
  free(noop.lat);
  free(warm.lat);
  hl_agent_unref(agent);
  hl_tool_unref(t);
  hl_provider_unref(p);
  curl_global_cleanup();
  return 0;
}
