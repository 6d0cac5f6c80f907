/*
 * bench/otel_bench.c - what the OpenTelemetry exporter costs a run
 * (`make -C bench otel`).
 *
 * Scenario (b) (2 model calls, 3 tool calls) against the mock server, in
 * rounds of four batches: no exporter at all (off), a global observer that
 * does nothing and declares no event types, so it gets all of them
 * (noop_observer: what the library spends building every event for an
 * observer that wants everything), the exporter installed (a global
 * observer and the traceparent header) sending to the mock server's OTLP
 * endpoint (on), and no exporter again (off_b). The order rotates from
 * round to round. Alternating in one process exposes every series to the
 * same machine load; off_b against off is an A/A control: two identical
 * series whose difference is the noise, so a change of on against off
 * means something only when it is larger than that.
 *
 * The whole alternation (`rounds` rounds) is repeated `repeats` times;
 * each difference (on - off, off_b - off: median, p99, CPU per run) is
 * computed per repeat and reported as the median of the repeats with its
 * range [min, max]. A difference can come out negative: that is noise,
 * and the A/A figures show how much of it there is. p99_target_met is
 * true when the median p99 change of on against off is no larger than the
 * widest A/A p99 change (p99_noise_floor_pct). Per series (pooled over the
 * repeats): median, p99 and mean latency, and CPU per run of the whole
 * process (so the exporter thread's encoding and sending count, and the
 * flush at the end of each "on" batch too) and of the run's thread alone
 * (run_thread_cpu_*: what the exporter costs the thread that waits for
 * the answer; the process's figure less this one is the other threads').
 * One JSON object on stdout.
 *
 *   hl-bench-otel --url http://127.0.0.1:PORT [--repeats 5] [--rounds 10] [--runs 300]
 *                 [--provider openai|scripted] [--mode off|noop|on]
 *                 [--batches B] [--keep 1] [--noflush 1]
 *                 [--exporter-priority low|normal]
 *
 * --provider scripted takes HTTP out (the scripted provider plays the same
 * answers): the exporter's cost against the agent loop alone. --mode runs
 * `runs` runs of that one mode (after 50 warm-up runs without observers)
 * and prints one line {"mode":..., "runs":..., resource figures}: for
 * instruction counts under valgrind --tool=callgrind, where the
 * difference between two run counts gives the instructions of one run,
 * and for the resources a run uses (getrusage of the process and of the
 * run's thread: CPU, page faults, voluntary and involuntary context
 * switches, per run), which do not depend on the machine's load the way
 * wall times do. --batches B repeats (install, runs, flush, uninstall) B
 * times, as the alternation does for its "on" batches; --keep 1 keeps one
 * exporter for all of them (installed before each batch), as an
 * application does; --noflush 1 then flushes after the last batch only. There a turn's tool calls run
 * one after another on the run's thread (hl_agent_set_parallel_tools 1):
 * which thread runs a parallel call varies from process to process, and
 * the split between the run's thread and the others must repeat.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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
  double thread_cpu_us;      /* the run's thread alone (the rest: exporter, tool workers) */
} mode;

/* CPU time of the calling thread, in microseconds. */
static double thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static bool batch(hl_agent *agent, int runs, mode *m) {
  double cpu0 = bench_cpu_us(), tcpu0 = thread_cpu_us();
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
  m->thread_cpu_us += thread_cpu_us() - tcpu0;
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

enum { F_COST_P50, F_AA_P50, F_P99_PCT, F_AA_P99_PCT, F_CPU, F_AA_CPU, F_TCPU, F_AA_TCPU, F_COUNT };

/* Median, min and max of n figures (sorts them). */
static void summary(double *v, size_t n, double *med, double *lo, double *hi) {
  *med = bench_percentile(v, n, 50);
  *lo = v[0];
  *hi = v[n - 1];
}

static void report(const char *name, mode *m) {
  double sum = 0;
  for (size_t i = 0; i < m->n; i++) sum += m->lat[i];
  double mean = sum / (double)m->n;
  double p50 = bench_percentile(m->lat, m->n, 50), p99 = bench_percentile(m->lat, m->n, 99);
  printf("\"%s\":{\"runs\":%zu,\"latency_p50_us\":%.2f,\"latency_p99_us\":%.2f,\"latency_mean_us\":%.2f,"
         "\"cpu_us_per_run\":%.2f,\"run_thread_cpu_us_per_run\":%.2f}",
         name, m->n, p50, p99, mean, m->cpu_us / (double)m->n, m->thread_cpu_us / (double)m->n);
}

/* getrusage of the process and of the calling thread (the run's). */
typedef struct usage {
  double cpu_us, minflt, nvcsw, nivcsw;
  double t_cpu_us, t_minflt, t_nvcsw, t_nivcsw;
} usage;

static double tv_us(struct timeval a, struct timeval b) {
  return (double)(a.tv_sec + b.tv_sec) * 1e6 + (double)(a.tv_usec + b.tv_usec);
}

static usage usage_now(void) {
  struct rusage p, t;
  getrusage(RUSAGE_SELF, &p);
  getrusage(RUSAGE_THREAD, &t);
  return (usage){tv_us(p.ru_utime, p.ru_stime), (double)p.ru_minflt, (double)p.ru_nvcsw,
                 (double)p.ru_nivcsw, tv_us(t.ru_utime, t.ru_stime), (double)t.ru_minflt,
                 (double)t.ru_nvcsw, (double)t.ru_nivcsw};
}

static void usage_add_since(usage *acc, const usage *u0) {
  usage u = usage_now();
  acc->cpu_us += u.cpu_us - u0->cpu_us;
  acc->minflt += u.minflt - u0->minflt;
  acc->nvcsw += u.nvcsw - u0->nvcsw;
  acc->nivcsw += u.nivcsw - u0->nivcsw;
  acc->t_cpu_us += u.t_cpu_us - u0->t_cpu_us;
  acc->t_minflt += u.t_minflt - u0->t_minflt;
  acc->t_nvcsw += u.t_nvcsw - u0->t_nvcsw;
  acc->t_nivcsw += u.t_nivcsw - u0->t_nivcsw;
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  int rounds = atoi(bench_arg(argc, argv, "--rounds", "10"));
  int runs = atoi(bench_arg(argc, argv, "--runs", "300"));
  int repeats = atoi(bench_arg(argc, argv, "--repeats", "5"));
  bool scripted = !strcmp(bench_arg(argc, argv, "--provider", "openai"), "scripted");
  const char *only = bench_arg(argc, argv, "--mode", NULL);
  if (rounds < 1 || runs < 1 || repeats < 1) {
    fprintf(stderr, "otel bench: --repeats, --rounds and --runs must be >= 1\n");
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

  size_t cap = (size_t)repeats * (size_t)rounds * (size_t)runs;
  mode off = {.lat = malloc(cap * sizeof(double))}, on = {.lat = malloc(cap * sizeof(double))};
  mode noop = {.lat = malloc(cap * sizeof(double))}, off_b = {.lat = malloc(cap * sizeof(double))};
  if (!off.lat || !on.lat || !noop.lat || !off_b.lat) return 1;
  /* --exporter-priority normal: the exporter thread at the runs' priority
   * (low_priority -1) instead of nice +10, to measure what that buys */
  bool normal = !strcmp(bench_arg(argc, argv, "--exporter-priority", "low"), "normal");
  hl_otel_options o = {.size = sizeof o, .endpoint = url, .low_priority = normal ? -1 : 0};
  hl_otel_stats total = {0};
  mode warm = {.lat = malloc((size_t)runs * sizeof(double))};
  if (!warm.lat || !batch(agent, runs < 50 ? runs : 50, &warm)) return 1;
  if (only) {
    hl_agent_set_parallel_tools(agent, 1);
    bool is_noop = !strcmp(only, "noop"), is_on = !strcmp(only, "on");
    if (!is_noop && !is_on && strcmp(only, "off") != 0) {
      fprintf(stderr, "otel bench: --mode is off, noop or on\n");
      return 2;
    }
    /* --batches B: B times (install, `runs` runs, flush, uninstall), as
     * the alternation above does for each "on" batch; the resource figures
     * cover the runs and the flushes, not the installs. */
    int batches = atoi(bench_arg(argc, argv, "--batches", "1"));
    if (batches < 1) batches = 1;
    mode m = {.lat = malloc((size_t)runs * (size_t)batches * sizeof(double))};
    if (!m.lat) return 1;
    /* --keep: one exporter for all the batches (installed before each,
     * its observer removed after), as an application keeps one; with
     * --keep-noflush it is flushed only after the last batch. */
    bool keep = bench_arg(argc, argv, "--keep", NULL) != NULL;
    bool noflush = bench_arg(argc, argv, "--noflush", NULL) != NULL;
    hl_otel *kept = NULL;
    if (is_on && keep && !(kept = hl_otel_new(&o))) return 1;
    usage total_u = {0};
    for (int b = 0; b < batches; b++) {
      hl_otel *otel = NULL;
      if (is_noop) {
        hl_observer *nop = hl_observer_new(observe_nothing, NULL);
        hl_observer_add_global(nop);
        hl_observer_unref(nop);
      } else if (kept) {
        if (hl_otel_install(kept, NULL) != HL_OK) return 1;
      } else if (is_on && !(otel = otel_on(&o))) {
        return 1;
      }
      usage u0 = usage_now();
      if (!batch(agent, runs, &m)) return 1;
      if (otel || (kept && (!noflush || b == batches - 1))) hl_otel_flush(otel ? otel : kept, 10000);
      usage_add_since(&total_u, &u0);
      hl_observer_clear_global();
      hl_otel_free(otel);
    }
    if (kept) {
      hl_otel_stats st = {.size = sizeof st};
      hl_otel_get_stats(kept, &st);
      if (st.spans_dropped) fprintf(stderr, "otel bench: %llu spans dropped\n", (unsigned long long)st.spans_dropped);
    }
    hl_otel_free(kept);
    /* Per run: CPU of the process and of the run's thread (the rest is
     * the exporter's and libcurl's threads), page faults, context
     * switches (voluntary: waits; involuntary: preempted). */
    double n = (double)runs * batches;
    printf("{\"mode\":\"%s\",\"runs\":%d,\"batches\":%d,\"cpu_us_per_run\":%.2f,"
           "\"run_thread_cpu_us_per_run\":%.2f,\"faults_per_run\":%.3f,\"run_thread_faults_per_run\":%.3f,"
           "\"vcsw_per_run\":%.3f,\"ivcsw_per_run\":%.3f,\"run_thread_vcsw_per_run\":%.3f,"
           "\"run_thread_ivcsw_per_run\":%.3f,\"latency_p50_us\":%.2f}\n",
           only, runs, batches, total_u.cpu_us / n, total_u.t_cpu_us / n, total_u.minflt / n,
           total_u.t_minflt / n, total_u.nvcsw / n, total_u.nivcsw / n, total_u.t_nvcsw / n,
           total_u.t_nivcsw / n, bench_percentile(m.lat, m.n, 50));
    free(m.lat);
    free(off.lat);
    free(on.lat);
    free(noop.lat);
    free(off_b.lat);
    free(warm.lat);
    hl_agent_unref(agent);
    hl_tool_unref(t);
    hl_provider_unref(p);
    curl_global_cleanup();
    return 0;
  }
  /* One repeat: `rounds` rounds, each running the four series in an order
   * rotated by the round (so no series always follows the exporter's
   * flush or always comes first). off and off_b are the same thing (no
   * observer): their difference is the noise floor of every figure. */
  enum { S_OFF, S_NOOP, S_ON, S_OFF_B, S_COUNT };
  mode rep[S_COUNT];
  for (int i = 0; i < S_COUNT; i++) rep[i] = (mode){.lat = malloc(cap * sizeof(double))};
  mode *all[S_COUNT] = {&off, &noop, &on, &off_b};
  double *fig[F_COUNT];
  for (int f = 0; f < F_COUNT; f++) fig[f] = calloc((size_t)repeats, sizeof(double));
  for (int i = 0; i < S_COUNT; i++)
    if (!rep[i].lat) return 1;
  for (int f = 0; f < F_COUNT; f++)
    if (!fig[f]) return 1;
  for (int k = 0; k < repeats; k++) {
    for (int i = 0; i < S_COUNT; i++) rep[i].n = 0, rep[i].cpu_us = 0, rep[i].thread_cpu_us = 0;
    for (int r = 0; r < rounds; r++) {
      for (int j = 0; j < S_COUNT; j++) {
        int s = (j + r) % S_COUNT;
        if (s == S_OFF || s == S_OFF_B) {
          if (!batch(agent, runs, &rep[s])) return 1;
        } else if (s == S_NOOP) {
          /* a global observer that does nothing and wants every event: what
           * building all events costs, apart from any exporter */
          hl_observer *nop = hl_observer_new(observe_nothing, NULL);
          hl_observer_add_global(nop);
          hl_observer_unref(nop);
          bool ok = batch(agent, runs, &rep[s]);
          hl_observer_clear_global();
          if (!ok) return 1;
        } else {
          hl_otel *otel = otel_on(&o);
          if (!otel) return 1;
          if (!batch(agent, runs, &rep[s])) return 1;
          /* what is still queued is part of these runs' cost: send it */
          double cpu1 = bench_cpu_us();
          if (hl_otel_flush(otel, 10000) != HL_OK) fprintf(stderr, "otel bench: flush: %s\n", hl_last_error());
          rep[s].cpu_us += bench_cpu_us() - cpu1;
          hl_otel_stats st = {.size = sizeof st};
          hl_otel_get_stats(otel, &st);
          total.spans_started += st.spans_started;
          total.spans_exported += st.spans_exported;
          total.spans_dropped += st.spans_dropped;
          total.export_requests += st.export_requests;
          hl_observer_clear_global();
          hl_otel_free(otel);
        }
      }
    }
    /* this repeat's figures, then its runs into the pooled series */
    double p50[S_COUNT], p99[S_COUNT], cpu[S_COUNT], tcpu[S_COUNT];
    for (int i = 0; i < S_COUNT; i++) {
      memcpy(all[i]->lat + all[i]->n, rep[i].lat, rep[i].n * sizeof(double));
      all[i]->n += rep[i].n;
      all[i]->cpu_us += rep[i].cpu_us;
      all[i]->thread_cpu_us += rep[i].thread_cpu_us;
      cpu[i] = rep[i].cpu_us / (double)rep[i].n;
      tcpu[i] = rep[i].thread_cpu_us / (double)rep[i].n;
      p50[i] = bench_percentile(rep[i].lat, rep[i].n, 50);
      p99[i] = bench_percentile(rep[i].lat, rep[i].n, 99);
    }
    fig[F_COST_P50][k] = p50[S_ON] - p50[S_OFF];
    fig[F_AA_P50][k] = p50[S_OFF_B] - p50[S_OFF];
    fig[F_P99_PCT][k] = (p99[S_ON] - p99[S_OFF]) / p99[S_OFF] * 100;
    fig[F_AA_P99_PCT][k] = (p99[S_OFF_B] - p99[S_OFF]) / p99[S_OFF] * 100;
    fig[F_CPU][k] = cpu[S_ON] - cpu[S_OFF];
    fig[F_AA_CPU][k] = cpu[S_OFF_B] - cpu[S_OFF];
    fig[F_TCPU][k] = tcpu[S_ON] - tcpu[S_OFF];
    fig[F_AA_TCPU][k] = tcpu[S_OFF_B] - tcpu[S_OFF];
  }
  printf("{\"benchmark\":\"otel\",\"scenario\":\"tools\",\"runtime\":\"C, hookline %s%s\",\"repeats\":%d,"
         "\"rounds\":%d,\"runs\":%d,\"exporter_priority\":\"%s\",",
         HL_BENCH_VERSION, scripted ? ", scripted provider" : "", repeats, rounds, runs, normal ? "normal" : "low");
  report("off", &off);
  printf(",");
  report("off_b", &off_b);
  printf(",");
  report("on", &on);
  printf(",");
  report("noop_observer", &noop);
  static const char *const names[F_COUNT] = {"cost_us_per_run_p50", "aa_us_per_run_p50", "p99_change_pct",
                                             "aa_p99_change_pct", "cpu_cost_us_per_run", "aa_cpu_us_per_run",
                                             "run_thread_cpu_cost_us_per_run", "aa_run_thread_cpu_us_per_run"};
  double med[F_COUNT], lo[F_COUNT], hi[F_COUNT];
  for (int f = 0; f < F_COUNT; f++) {
    summary(fig[f], (size_t)repeats, &med[f], &lo[f], &hi[f]);
    printf(",\"%s\":%.2f,\"%s_range\":[%.2f,%.2f]", names[f], med[f], names[f], lo[f], hi[f]);
  }
  /* The noise floor of p99: the widest A/A difference seen. The exporter
   * changes p99 only when its median change lies outside it. */
  double floor_pct = fabs(lo[F_AA_P99_PCT]) > fabs(hi[F_AA_P99_PCT]) ? fabs(lo[F_AA_P99_PCT]) : fabs(hi[F_AA_P99_PCT]);
  double floor_p50 = fabs(lo[F_AA_P50]) > fabs(hi[F_AA_P50]) ? fabs(lo[F_AA_P50]) : fabs(hi[F_AA_P50]);
  printf(",\"p99_noise_floor_pct\":%.2f,\"p99_target_met\":%s,\"p50_noise_floor_us\":%.2f,"
         "\"p50_target_met\":%s,\"spans_per_run\":%.2f,\"spans_exported\":%llu,\"spans_dropped\":%llu,"
         "\"export_requests\":%llu,\"target_us\":10}\n",
         floor_pct, med[F_P99_PCT] <= floor_pct ? "true" : "false", floor_p50, med[F_COST_P50] < 10 ? "true" : "false",
         (double)total.spans_started / (double)on.n, (unsigned long long)total.spans_exported,
         (unsigned long long)total.spans_dropped, (unsigned long long)total.export_requests);
  for (int i = 0; i < S_COUNT; i++) free(rep[i].lat);
  for (int f = 0; f < F_COUNT; f++) free(fig[f]);
  free(off_b.lat);
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
