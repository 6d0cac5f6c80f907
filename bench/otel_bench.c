/*
 * bench/otel_bench.c - what the OpenTelemetry exporter costs a run
 * (`make -C bench otel`).
 *
 * Scenario (b) (2 model calls, 3 tool calls, the tools one after another
 * on the run's thread so that its CPU clock sees all of a run's work) in
 * many short blocks: `cycles` cycles of three blocks of `block` runs each,
 * no exporter (off), the exporter's observer installed (on), no exporter
 * again (off_b), in an order that rotates through the six permutations
 * from cycle to cycle. One exporter lives for the whole alternation, as
 * in an application; "on" installs its observer (hl_otel_install), "off"
 * removes it (its traceparent header function stays installed: with no
 * run of it in progress it adds nothing, for a thread-local look-up and a
 * counter read per request). It sends to the OTLP receiver at
 * --otlp-url (default: --url).
 *
 * Why short blocks and paired differences: a noisy machine drifts over
 * seconds, and a long batch of "on" meets a different machine than a long
 * batch of "off". Within one cycle (three blocks, ~20 ms over HTTP) the
 * drift is small, so each cycle gives one difference (the median run of
 * its "on" block less that of its "off" block) in which the drift
 * cancels. The cost is the median of those `cycles` differences, with a
 * distribution-free 95 % interval (order statistics, paired_stats.h). The
 * same estimator applied to off_b against off is the A/A control: its
 * interval must contain 0, and its width is the noise the method leaves.
 * p99 needs many runs: it is taken over the pooled runs of each series,
 * its change with a bootstrap interval over whole cycles.
 *
 * Pinning (--pin 1, the default when two CPUs are allowed): the run's
 * thread (and the tool workers it starts) on the first CPU, the
 * exporter's thread on the second, so that the two never queue for one
 * core when two are free; bench/run.py pins the model server with the
 * run (they take turns: the run waits for the answer) and the OTLP
 * receiver with the exporter. What the exporter still costs the run
 * then is its own work on the run's thread plus what sharing the machine
 * (caches, memory) costs, which is what an application with a free core
 * sees. --pin 0 lets the scheduler place them.
 *
 * Per run: its wall time and the run thread's CPU (CLOCK_THREAD_CPUTIME_ID
 * around it), so that each series has quantiles of both (p50 to p99.9):
 * on - off quantile by quantile tells a constant cost (the same at every
 * quantile) from a stretch (growing as the quantile does: the exporter's
 * work on the run's thread takes longer in a slow run, like the rest of
 * it) and from a tail of its own (only at the top); the run thread's CPU
 * has its p99 change and A/A as wall time has. For the whole
 * alternation, the exporter thread's CPU (its own CPU clock, read from
 * /proc/self/task), divided by the "on" runs: the work the exporter does
 * off the run's path. One JSON object on stdout.
 *
 * --variants 1 takes the exporter apart in the same alternation, five
 * blocks a cycle: also header_only (the traceparent header function
 * writes a fixed line of the same length, no observer) and record_only
 * (the observer, no header); --variants 2 also spin_only, a control: the
 * header function burns --spin N multiplications (default 2000) at each
 * model request and writes nothing, a cost on the run's thread that
 * touches no memory, to set against the exporter's growing with the
 * quantile. --detail 1 takes, per run, the exporter
 * thread's CPU during it (> 0: the exporter worked while it ran) and the
 * run thread's context switches and page faults; --dump FILE writes one
 * CSV line per run, to look at single runs (the tail of "on" against
 * that of "off").
 *
 *   hl-bench-otel --url http://127.0.0.1:PORT [--otlp-url URL] [--cycles 300] [--block 16]
 *                 [--pin 1] [--cpus A,B] [--provider openai|scripted]
 *                 [--variants 1|2] [--spin N] [--detail 1] [--dump FILE]
 *                 [--mode off|noop|on] [--runs N] [--batches B] [--keep 1] [--noflush 1]
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
 * times; --keep 1 keeps one exporter for all of them (installed before
 * each batch), as an application does; --noflush 1 then flushes after
 * the last batch only.
 */
#include <dirent.h>
#include <math.h>
#include <sched.h> /* sched_setaffinity, CPU_SET: _GNU_SOURCE, set by the build */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_util.h"
#include "paired_stats.h"

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
  double *lat;               /* per run: wall time, us */
  double *cpu;               /* per run: the run thread's CPU, us (NULL: not kept) */
  double *detail;            /* per run: OT_DETAIL figures (NULL: not taken) */
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

static double task_cpu_us(pid_t tid);

/* --detail 1, per run: what else happened during it. The exporter
 * thread's CPU (its clock read before and after the run: > 0 when it
 * worked while the run ran, on its own core), and the run thread's
 * involuntary and voluntary context switches and page faults
 * (getrusage). Each costs the run a system call or two, in every series
 * alike. */
enum { OT_D_EXPORTER_CPU, OT_D_IVCSW, OT_D_VCSW, OT_D_MINFLT, OT_DETAIL };
static pid_t exporter_tid; /* 0: unknown, not read */

static void detail_now(double d[OT_DETAIL]) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  d[OT_D_EXPORTER_CPU] = exporter_tid ? task_cpu_us(exporter_tid) : 0;
  d[OT_D_IVCSW] = (double)ru.ru_nivcsw;
  d[OT_D_VCSW] = (double)ru.ru_nvcsw;
  d[OT_D_MINFLT] = (double)ru.ru_minflt;
}

static bool batch(hl_agent *agent, int runs, mode *m) {
  double cpu0 = bench_cpu_us(), tcpu0 = thread_cpu_us();
  for (int i = 0; i < runs; i++) {
    double d0[OT_DETAIL];
    if (m->detail) detail_now(d0);
    double c0 = m->cpu ? thread_cpu_us() : 0;
    uint64_t t0 = bench_now_ns();
    hl_session *s = hl_session_new("bench", "u", NULL);
    char *answer = NULL;
    hl_status st = hl_agent_run(agent, s, "Look up the keys a, b and c.", &answer);
    bool ok = st == HL_OK && answer && strstr(answer, "gamma");
    if (!ok) fprintf(stderr, "otel bench: run failed: %s\n", st ? hl_last_error() : answer);
    hl_free(answer);
    hl_session_free(s);
    if (!ok) return false;
    m->lat[m->n] = (double)(bench_now_ns() - t0) / 1e3;
    if (m->cpu) m->cpu[m->n] = thread_cpu_us() - c0;
    if (m->detail) {
      double *d = m->detail + m->n * OT_DETAIL;
      detail_now(d);
      for (int k = 0; k < OT_DETAIL; k++) d[k] -= d0[k];
    }
    m->n++;
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

/* An exporter that exports: OTEL_SDK_DISABLED=true in the environment
 * would make it inert, and "on" would measure nothing. */
static hl_otel *otel_new(const hl_otel_options *o) {
  hl_otel *otel = hl_otel_new(o);
  if (!otel) {
    fprintf(stderr, "otel bench: %s\n", hl_last_error());
    return NULL;
  }
  if (!hl_otel_enabled(otel)) {
    fprintf(stderr, "otel bench: the exporter is disabled (OTEL_SDK_DISABLED?): nothing to measure\n");
    hl_otel_free(otel);
    return NULL;
  }
  return otel;
}

static hl_otel *otel_on(const hl_otel_options *o) {
  hl_otel *otel = otel_new(o);
  if (otel && hl_otel_install(otel, NULL) != HL_OK) {
    fprintf(stderr, "otel bench: %s\n", hl_last_error());
    hl_otel_free(otel);
    return NULL;
  }
  return otel;
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

/* --mode: `runs` runs of one mode, `batches` times; one JSON line of the
 * resources they used (getrusage) for the callgrind and resource rows. */
static int one_mode(hl_agent *agent, const hl_otel_options *o, const char *only, int runs, int argc,
                    char **argv) {
  hl_agent_set_parallel_tools(agent, 1);
  bool is_noop = !strcmp(only, "noop"), is_on = !strcmp(only, "on");
  if (!is_noop && !is_on && strcmp(only, "off") != 0) {
    fprintf(stderr, "otel bench: --mode is off, noop or on\n");
    return 2;
  }
  /* --batches B: B times (install, `runs` runs, flush, uninstall); the
   * resource figures cover the runs and the flushes, not the installs. */
  int batches = atoi(bench_arg(argc, argv, "--batches", "1"));
  if (batches < 1) batches = 1;
  mode m = {.lat = malloc((size_t)runs * (size_t)batches * sizeof(double))};
  if (!m.lat) return 1;
  /* --keep: one exporter for all the batches (installed before each,
   * its observer removed after), as an application keeps one; with
   * --noflush it is flushed only after the last batch. */
  bool keep = bench_arg(argc, argv, "--keep", NULL) != NULL;
  bool noflush = bench_arg(argc, argv, "--noflush", NULL) != NULL;
  hl_otel *kept = NULL;
  if (is_on && keep && !(kept = otel_new(o))) return 1;
  usage total_u = {0};
  for (int b = 0; b < batches; b++) {
    hl_otel *otel = NULL;
    if (is_noop) {
      hl_observer *nop = hl_observer_new(observe_nothing, NULL);
      hl_observer_add_global(nop);
      hl_observer_unref(nop);
    } else if (kept) {
      if (hl_otel_install(kept, NULL) != HL_OK) return 1;
    } else if (is_on && !(otel = otel_on(o))) {
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
  return 0;
}

/* ---- the alternation ------------------------------------------------- */

/* The threads of this process, by id (/proc/self/task); n of at most cap. */
static size_t task_ids(pid_t *ids, size_t cap) {
  size_t n = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d)) && n < cap;)
    if (e->d_name[0] != '.') ids[n++] = (pid_t)atoi(e->d_name);
  closedir(d);
  return n;
}

/* The one thread in `after` that is not in `before` (the exporter
 * hl_otel_new() started), or 0 when that is not exactly one. */
static pid_t new_task(const pid_t *before, size_t nb, const pid_t *after, size_t na) {
  pid_t found = 0;
  for (size_t i = 0; i < na; i++) {
    bool old = false;
    for (size_t j = 0; j < nb && !old; j++) old = after[i] == before[j];
    if (!old) {
      if (found) return 0;
      found = after[i];
    }
  }
  return found;
}

/* CPU time of thread `tid` of this process, in microseconds, from its
 * CPU clock (the clock id Linux builds from a thread id, as glibc's
 * pthread_getcpuclockid() does); -1 when it cannot be read. */
static double task_cpu_us(pid_t tid) {
  clockid_t clock = (clockid_t)((~(unsigned)tid) << 3) | 6; /* CPUCLOCK_SCHED | PERTHREAD */
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static bool pin(pid_t tid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(tid, sizeof set, &set) == 0;
}

/* The two CPUs to pin to: --cpus A,B, else the first two this process
 * may use; false when there are not two. */
static bool pick_cpus(int argc, char **argv, int cpu[2]) {
  const char *arg = bench_arg(argc, argv, "--cpus", NULL);
  if (arg) return sscanf(arg, "%d,%d", &cpu[0], &cpu[1]) == 2 && cpu[0] != cpu[1];
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return false;
  int n = 0;
  for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &set)) cpu[n++] = c;
  return n == 2;
}

/* The series of the alternation. --variants 1 adds two that take the
 * exporter apart: its traceparent header alone (a fixed line of the same
 * length on every model request, nothing recorded) and its recording
 * alone (the observer, no header). */
enum { S_OFF, S_ON, S_OFF_B, S_HDR, S_REC, S_SPIN, S_MAX };
static const char *const SERIES[S_MAX] = {"off", "on", "off_b", "header_only", "record_only", "spin_only"};

/* Series j (of k) of cycle c: the k rotations of 0..k-1, then the same
 * reversed, in turn: each series comes at each place equally often, after
 * and before each other one; for k = 3 these are the six orders. */
static int series_at(int c, int j, int k) {
  int r = c % k;
  return (c / k) % 2 ? (r + k - 1 - j) % k : (r + j) % k;
}

/* What the traceparent header function writes (--variants 1 installs
 * bench_header in place of the exporter's): nothing, a fixed line, or the
 * exporter's. Set between blocks by the run's thread, which alone calls
 * it (the model requests are built on it). */
enum { H_NONE, H_FIXED, H_OTEL, H_SPIN };
static _Atomic int header_mode;
static unsigned spin_iters;       /* --spin: H_SPIN's iterations a request */
static volatile uint64_t spin_sink; /* (keeps the loop) */

/* --variants 2's control: a cost of the same size as the exporter's on
 * the run's thread that touches no memory (a chain of multiplications,
 * at each model request). If on - off grows with the quantile but this
 * does not, what stretches the exporter's cost is its memory, not the
 * machine slowing every instruction of a slow run. */
static bool spin(void) {
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (unsigned i = 0; i < spin_iters; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  spin_sink = x;
  return false;
}

static bool bench_header(hl_context *ctx, char *line, size_t size, void *user_data) {
  static const char key[] = "traceparent: ";
  static const char fixed[] = "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  int m = atomic_load_explicit(&header_mode, memory_order_relaxed);
  if (m == H_SPIN) return spin();
  if (m == H_FIXED && size >= sizeof fixed) {
    memcpy(line, fixed, sizeof fixed);
    return true;
  }
  if (m != H_OTEL || size < sizeof key) return false;
  memcpy(line, key, sizeof key - 1);
  return hl_otel_traceparent(user_data, ctx, line + sizeof key - 1, size - (sizeof key - 1)) == HL_OK;
}

static void print_ci(const char *name, bench_ci ci) {
  printf(",\"%s\":%.2f,\"%s_ci95\":[%.2f,%.2f]", name, ci.est, name, ci.lo, ci.hi);
}

/* Per cycle, the figure of series `s` less that of off (`per[series][cycle]`). */
static bench_ci paired(double *const per[S_MAX], int s, size_t cycles, double *tmp) {
  for (size_t c = 0; c < cycles; c++) tmp[c] = per[s][c] - per[S_OFF][c];
  return bench_median_ci(tmp, cycles);
}

/* The verdict a rule gives an interval against a bound: below it, above
 * it, or straddling it, once widened on both sides by the method's bias as
 * the A/A control bounds it (the farther end of its interval from 0: two
 * identical series differing by up to that much is what the method can
 * make of nothing). A narrow A/A interval that misses 0 by a hair no
 * longer hides a cost far from the bound; a wide one still says "cannot
 * tell" near it. */
static const char *verdict(bench_ci cost, bench_ci aa, double bound) {
  double bias = fabs(aa.lo) > fabs(aa.hi) ? fabs(aa.lo) : fabs(aa.hi);
  if (cost.hi + bias < bound) return "met";
  if (cost.lo - bias >= bound) return "not met";
  return "cannot tell";
}

/* Quantiles printed per series, of wall time and of the run thread's CPU:
 * on - off quantile by quantile says whether the exporter shifts every
 * run by the same (a constant difference), stretches it (a difference
 * growing with the quantile as the quantile does) or adds a tail of its
 * own (a difference only at the top). */
static const double QUANTILES[] = {50, 75, 90, 95, 99, 99.9};
#define N_QUANTILES (sizeof QUANTILES / sizeof QUANTILES[0])

static void print_quantiles(const char *name, const double *v, size_t n, double *tmp) {
  memcpy(tmp, v, n * sizeof *tmp);
  printf(",\"%s\":[", name);
  for (size_t q = 0; q < N_QUANTILES; q++) printf("%s%.2f", q ? "," : "", bench_percentile(tmp, n, QUANTILES[q]));
  printf("]");
}

/* --dump FILE: one CSV line per run (series, cycle, wall, CPU and the
 * --detail figures) for a look at single runs. */
static bool dump_runs(const char *path, int k, int cycles, int block, double *const lat[S_MAX],
                      double *const cpu[S_MAX], double *const detail[S_MAX]) {
  FILE *f = fopen(path, "w");
  if (!f) return false;
  fprintf(f, "series,cycle,wall_us,cpu_us%s\n", detail[0] ? ",exporter_cpu_us,ivcsw,vcsw,minflt" : "");
  for (int s = 0; s < k; s++)
    for (size_t i = 0; i < (size_t)cycles * (size_t)block; i++) {
      fprintf(f, "%s,%zu,%.3f,%.3f", SERIES[s], i / (size_t)block, lat[s][i], cpu[s][i]);
      if (detail[s])
        for (int d = 0; d < OT_DETAIL; d++) fprintf(f, ",%.3f", detail[s][i * OT_DETAIL + d]);
      fputc('\n', f);
    }
  return fclose(f) == 0;
}

static int alternate(hl_agent *agent, hl_otel_options *o, int argc, char **argv, bool scripted, bool pinned,
                     const int cpu[2]) {
  int cycles = atoi(bench_arg(argc, argv, "--cycles", "300"));
  int block = atoi(bench_arg(argc, argv, "--block", "16"));
  if (cycles < 6 || block < 1) {
    fprintf(stderr, "otel bench: --cycles must be >= 6 and --block >= 1\n");
    return 2;
  }
  bool variants = atoi(bench_arg(argc, argv, "--variants", "0")) != 0;
  bool want_detail = atoi(bench_arg(argc, argv, "--detail", "0")) != 0;
  const char *dump = bench_arg(argc, argv, "--dump", NULL);
  int k = !variants ? S_OFF_B + 1 : atoi(bench_arg(argc, argv, "--variants", "0")) >= 2 ? S_MAX : S_SPIN;
  spin_iters = (unsigned)atoi(bench_arg(argc, argv, "--spin", "2000"));
  hl_agent_set_parallel_tools(agent, 1);
  pid_t before[256], after[256];
  size_t nb = task_ids(before, 256);
  hl_otel *otel = otel_new(o);
  if (!otel) return 1;
  pid_t exporter = new_task(before, nb, after, task_ids(after, 256));
  /* (the run's thread stays where it is pinned; "pinned" says both are) */
  if (pinned && (!exporter || !pin(exporter, cpu[1]))) pinned = false;
  double exporter_cpu0 = exporter ? task_cpu_us(exporter) : -1;

  size_t n = (size_t)cycles * (size_t)block;
  double *lat[S_MAX] = {0}, *rcpu[S_MAX] = {0}, *detail[S_MAX] = {0}, *med[S_MAX] = {0}, *tcpu[S_MAX] = {0};
  for (int i = 0; i < k; i++) {
    lat[i] = malloc(n * sizeof(double));
    rcpu[i] = malloc(n * sizeof(double));
    med[i] = malloc((size_t)cycles * sizeof(double));
    tcpu[i] = malloc((size_t)cycles * sizeof(double));
    if (want_detail) detail[i] = malloc(n * OT_DETAIL * sizeof(double));
    if (!lat[i] || !rcpu[i] || !med[i] || !tcpu[i] || (want_detail && !detail[i])) return 1;
  }
  double *tmp = malloc(n * sizeof(double));
  mode warm = {.lat = malloc((size_t)block * 4 * sizeof(double))};
  if (!tmp || !warm.lat) return 1;
  /* warm-up: the exporter's span pool, the observer's first install */
  if (hl_otel_install(otel, NULL) != HL_OK || !batch(agent, block * 2, &warm)) return 1;
  hl_observer_clear_global();
  if (!batch(agent, block * 2, &warm)) return 1;
  /* after the exporter's first install, which sets its own (once) */
  if (variants && hl_trace_set_header_fn(bench_header, otel) != HL_OK) return 1;
  if (want_detail) exporter_tid = exporter;

  for (int c = 0; c < cycles; c++) {
    for (int j = 0; j < k; j++) {
      int s = series_at(c, j, k);
      bool observed = s == S_ON || s == S_REC;
      atomic_store(&header_mode, s == S_HDR ? H_FIXED : s == S_ON ? H_OTEL : s == S_SPIN ? H_SPIN : H_NONE);
      if (observed && hl_otel_install(otel, NULL) != HL_OK) return 1;
      size_t at = (size_t)c * (size_t)block;
      mode m = {.lat = lat[s] + at, .cpu = rcpu[s] + at, .detail = detail[s] ? detail[s] + at * OT_DETAIL : NULL};
      bool ok = batch(agent, block, &m);
      if (observed) hl_observer_clear_global();
      if (!ok) return 1;
      memcpy(tmp, m.lat, (size_t)block * sizeof(double));
      med[s][c] = bench_percentile(tmp, (size_t)block, 50);
      tcpu[s][c] = m.thread_cpu_us / block;
    }
  }
  exporter_tid = 0;
  hl_status fst = hl_otel_flush(otel, 10000);
  double exporter_cpu = exporter_cpu0 >= 0 ? task_cpu_us(exporter) - exporter_cpu0 : -1;
  hl_otel_stats st = {.size = sizeof st};
  hl_otel_get_stats(otel, &st);
  if (dump && !dump_runs(dump, k, cycles, block, lat, rcpu, detail))
    fprintf(stderr, "otel bench: cannot write %s\n", dump);

  printf("{\"benchmark\":\"otel\",\"scenario\":\"tools, one after another\",\"runtime\":\"C, hookline %s%s\","
         "\"cycles\":%d,\"block\":%d,\"pinned\":%s,\"cpus\":[%d,%d]",
         HL_BENCH_VERSION, scripted ? ", scripted provider" : "", cycles, block, pinned ? "true" : "false",
         pinned ? cpu[0] : -1, pinned ? cpu[1] : -1);
  printf(",\"quantiles\":[");
  for (size_t q = 0; q < N_QUANTILES; q++) printf("%s%g", q ? "," : "", QUANTILES[q]);
  printf("]");
  for (int s = 0; s < k; s++) {
    double sum = 0, cpu_sum = 0;
    for (size_t i = 0; i < n; i++) sum += lat[s][i];
    for (int c = 0; c < cycles; c++) cpu_sum += tcpu[s][c];
    memcpy(tmp, lat[s], n * sizeof(double));
    double p50 = bench_percentile(tmp, n, 50), p99 = bench_percentile(tmp, n, 99);
    printf(",\"%s\":{\"runs\":%zu,\"latency_p50_us\":%.2f,\"latency_p99_us\":%.2f,\"latency_mean_us\":%.2f,"
           "\"run_thread_cpu_us_per_run\":%.2f",
           SERIES[s], n, p50, p99, sum / (double)n, cpu_sum / cycles);
    print_quantiles("wall_q", lat[s], n, tmp);
    print_quantiles("cpu_q", rcpu[s], n, tmp);
    printf("}");
  }
  /* The cost and its A/A control, by the same estimator. */
  bench_ci cost = paired(med, S_ON, (size_t)cycles, tmp), aa = paired(med, S_OFF_B, (size_t)cycles, tmp);
  bench_ci tcost = paired(tcpu, S_ON, (size_t)cycles, tmp), taa = paired(tcpu, S_OFF_B, (size_t)cycles, tmp);
  bench_ci p99 = bench_percentile_change_ci(lat[S_OFF], lat[S_ON], (size_t)cycles, (size_t)block, 99, 400);
  bench_ci p99aa = bench_percentile_change_ci(lat[S_OFF], lat[S_OFF_B], (size_t)cycles, (size_t)block, 99, 400);
  bench_ci cp99 = bench_percentile_change_ci(rcpu[S_OFF], rcpu[S_ON], (size_t)cycles, (size_t)block, 99, 400);
  bench_ci cp99aa = bench_percentile_change_ci(rcpu[S_OFF], rcpu[S_OFF_B], (size_t)cycles, (size_t)block, 99, 400);
  print_ci("cost_us_per_run_p50", cost);
  print_ci("aa_us_per_run_p50", aa);
  print_ci("run_thread_cpu_cost_us_per_run", tcost);
  print_ci("aa_run_thread_cpu_us_per_run", taa);
  print_ci("p99_change_us", p99);
  print_ci("aa_p99_change_us", p99aa);
  print_ci("p99_run_thread_cpu_change_us", cp99);
  print_ci("aa_p99_run_thread_cpu_change_us", cp99aa);
  /* The exporter taken apart (--variants): each part against off. */
  for (int s = S_HDR; s < k; s++) {
    char name[64];
    snprintf(name, sizeof name, "%s_cost_us_per_run_p50", SERIES[s]);
    print_ci(name, paired(med, s, (size_t)cycles, tmp));
    snprintf(name, sizeof name, "%s_run_thread_cpu_cost_us_per_run", SERIES[s]);
    print_ci(name, paired(tcpu, s, (size_t)cycles, tmp));
    snprintf(name, sizeof name, "%s_p99_change_us", SERIES[s]);
    print_ci(name, bench_percentile_change_ci(lat[S_OFF], lat[s], (size_t)cycles, (size_t)block, 99, 400));
  }
  /* The rules: the cost's whole interval below 10 us; p99 "unchanged"
   * read as no rise of 10 us or more (the same allowance), its interval
   * below that. Either needs the A/A interval to hold 0, and no span
   * dropped: a dropped record costs the run less than a kept one. */
  bool dropped = st.spans_dropped > 0;
  printf(",\"target_us\":10,\"p50_verdict\":\"%s\",\"p99_verdict\":\"%s\"",
         dropped ? "cannot tell" : verdict(cost, aa, 10), dropped ? "cannot tell" : verdict(p99, p99aa, 10));
  if (exporter_cpu >= 0)
    printf(",\"exporter_thread_cpu_us_per_run\":%.2f", exporter_cpu / (double)n);
  printf(",\"flush_ok\":%s,\"spans_per_run\":%.2f,\"spans_exported\":%llu,\"spans_dropped\":%llu,"
         "\"export_requests\":%llu,\"run_wakeups\":%llu}\n",
         fst == HL_OK ? "true" : "false", (double)st.spans_started / (double)(n * (variants ? 2 : 1) + (size_t)block * 2),
         (unsigned long long)st.spans_exported, (unsigned long long)st.spans_dropped,
         (unsigned long long)st.export_requests, (unsigned long long)st.run_wakeups);
  hl_otel_free(otel);
  for (int i = 0; i < k; i++) free(lat[i]), free(rcpu[i]), free(detail[i]), free(med[i]), free(tcpu[i]);
  free(tmp);
  free(warm.lat);
  return 0;
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  int runs = atoi(bench_arg(argc, argv, "--runs", "300"));
  bool scripted = !strcmp(bench_arg(argc, argv, "--provider", "openai"), "scripted");
  const char *only = bench_arg(argc, argv, "--mode", NULL);
  if (runs < 1) {
    fprintf(stderr, "otel bench: --runs must be >= 1\n");
    return 2;
  }
  /* Pinned before any thread starts, so the tool workers and libcurl's
   * threads the run starts inherit the run's CPU. */
  int cpu[2] = {-1, -1};
  bool pinned = !only && atoi(bench_arg(argc, argv, "--pin", "1")) && pick_cpus(argc, argv, cpu) && pin(0, cpu[0]);
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
  /* --exporter-priority normal: the exporter thread at the runs' priority
   * (low_priority -1) instead of nice +10, to measure what that buys */
  bool normal = !strcmp(bench_arg(argc, argv, "--exporter-priority", "low"), "normal");
  hl_otel_options o = {.size = sizeof o, .endpoint = bench_arg(argc, argv, "--otlp-url", url),
                       .low_priority = normal ? -1 : 0};
  mode warm = {.lat = malloc(50 * sizeof(double))};
  if (!warm.lat || !batch(agent, runs < 50 ? runs : 50, &warm)) return 1;
  free(warm.lat);
  int rc = only ? one_mode(agent, &o, only, runs, argc, argv) : alternate(agent, &o, argc, argv, scripted, pinned, cpu);
  hl_agent_unref(agent);
  hl_tool_unref(t);
  hl_provider_unref(p);
  curl_global_cleanup();
  return rc;
}
