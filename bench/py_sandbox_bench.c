/*
 * bench/py_sandbox_bench.c - the sandbox's Python guest: cold create (the
 * first Python sandbox of a fresh process: the program runs itself with
 * --cold-child once per sample and reports the medians, with the template
 * file the build wrote and without it, HOOKLINE_PY_SANDBOX_SNAPSHOT=""),
 * create, eval, eval with one callback (medians over 9 fresh processes,
 * --hot-child: this virtual machine runs one process up to 1.6x slower
 * than the next for its whole life), 3 parallel 100 ms callbacks
 * through asyncio.gather. Prints one JSON object (bench/run.py --only
 * sandbox_py puts it next to Pyodide on Node). Wall times are medians; CPU
 * (user + system, getrusage) is given next to them because the machine is
 * shared. Exits 3 without the Python guest. Asserts no timing.
 *
 *   hl-bench-sandbox-py [--iterations 2000] [--hot-samples 9] [--creates 100]
 *                       [--cold-samples 21]
 *   hl-bench-sandbox-py --profile CODE WANT N
 *
 * --profile runs CODE (whose value must be WANT) N times in one Python
 * sandbox with the `host` tool, after a warm-up, inside profiled_loop():
 *   valgrind --tool=callgrind --toggle-collect=profiled_loop
 * counts the instructions of exactly those executions.
 */
#include <hookline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n ? v[n / 2] : 0;
}

static hl_sandbox *py_new(void) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.language = HL_SANDBOX_PYTHON;
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(&l, &sb) != HL_OK) {
    fprintf(stderr, "hl_sandbox_new: %s\n", hl_last_error());
    exit(1);
  }
  return sb;
}

static hl_status host_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_CreateNumber(hl_json_get_number(args, "x", 0) + 1);
  return HL_OK;
}

static hl_status sleep_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  struct timespec ts = {0, 100 * 1000000L};
  nanosleep(&ts, NULL);
  *result = cJSON_CreateBool(1);
  return HL_OK;
}

/* Median wall time and mean CPU time of `code` per execution. */
static void time_code(hl_sandbox *sb, const char *code, const char *expect, int n, double *wall,
                      double *cpu) {
  double *v = malloc(n * sizeof *v);
  double c0 = cpu_us();
  for (int i = 0; i < n; i++) {
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    double t0 = now_us();
    hl_status st = hl_sandbox_execute(sb, NULL, code, &r);
    v[i] = now_us() - t0;
    if (st != HL_OK || !r.value_json || strcmp(r.value_json, expect) != 0) {
      fprintf(stderr, "%s: %s (%s)\n", code, hl_last_error(), r.value_json ? r.value_json : "");
      exit(1);
    }
    hl_sandbox_result_clear(&r);
  }
  *cpu = (cpu_us() - c0) / n;
  *wall = median(v, (size_t)n);
  free(v);
}

static void add_tools(hl_sandbox *sb) {
  hl_tool *host = hl_tool_new("host", "x + 1", host_fn, NULL);
  hl_tool *slow = hl_tool_new("sleep100", "sleeps 100 ms", sleep_fn, NULL);
  hl_tool_param(host, "x", "number", "x", true);
  hl_sandbox_add_tool(sb, host, NULL);
  hl_sandbox_add_tool(sb, slow, NULL);
  hl_tool_unref(host);
  hl_tool_unref(slow);
}

/* The measured loop of --profile (not inlined: callgrind's toggle names it). */
__attribute__((noinline)) static long profiled_loop(hl_sandbox *sb, const char *code,
                                                    const char *want, long n) {
  long ok = 0;
  for (long i = 0; i < n; i++) {
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    if (hl_sandbox_execute(sb, NULL, code, &r) == HL_OK && r.value_json &&
        strcmp(r.value_json, want) == 0)
      ok++;
    hl_sandbox_result_clear(&r);
  }
  return ok;
}

static int profile(const char *code, const char *want, long n) {
  hl_sandbox *sb = py_new();
  add_tools(sb);
  long warm = profiled_loop(sb, code, want, 5) == 5;
  long ok = warm ? profiled_loop(sb, code, want, n) : 0;
  hl_sandbox_free(sb);
  if (ok != n) {
    fprintf(stderr, "profile: %s did not give %s\n", code, want);
    return 1;
  }
  return 0;
}

/* --cold-child: the process's first Python sandbox; prints its wall and
 * CPU microseconds, its page faults (ru_minflt) and the wall microseconds
 * of the process's first `1+2`. */
static int cold_child(void) {
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double c0 = cpu_us(), t0 = now_us();
  hl_sandbox *sb = py_new();
  double us = now_us() - t0, cpu = cpu_us() - c0;
  getrusage(RUSAGE_SELF, &r1);
  double t1 = now_us();
  hl_sandbox_result res = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, NULL, "1+2", &res);
  double first_us = now_us() - t1;
  int ok = st == HL_OK && res.value_json && strcmp(res.value_json, "3") == 0;
  hl_sandbox_result_clear(&res);
  hl_sandbox_free(sb);
  if (!ok) {
    fprintf(stderr, "cold child: first eval: %s\n", hl_last_error());
    return 1;
  }
  printf("%.2f %.1f %ld %.2f\n", us, cpu, r1.ru_minflt - r0.ru_minflt, first_us);
  return 0;
}

typedef struct cold_figures {
  double wall_us, cpu_us, minflt, first_eval_us; /* medians */
} cold_figures;

/* Medians of `samples` fresh processes' first Python sandbox; false if a
 * child failed. With `no_file`, each child boots MicroPython itself. */
static int cold_medians(long samples, int no_file, cold_figures *out) {
  double *v = calloc((size_t)samples * 4, sizeof *v);
  if (!v)
    return 0;
  double *cpu = v + samples, *flt = v + 2 * samples, *first = v + 3 * samples;
  long got = 0;
  if (no_file)
    setenv("HOOKLINE_PY_SANDBOX_SNAPSHOT", "", 1);
  for (long i = 0; i < samples; i++) {
    double f[4];
    if (!bench_run_self("--cold-child", f, 4))
      break;
    v[got] = f[0], cpu[got] = f[1], flt[got] = f[2], first[got] = f[3];
    got++;
  }
  if (no_file)
    unsetenv("HOOKLINE_PY_SANDBOX_SNAPSHOT");
  int ok = got == samples;
  if (ok) {
    out->wall_us = bench_percentile(v, (size_t)got, 50);
    out->cpu_us = bench_percentile(cpu, (size_t)got, 50);
    out->minflt = bench_percentile(flt, (size_t)got, 50);
    out->first_eval_us = bench_percentile(first, (size_t)got, 50);
  }
  free(v);
  return ok;
}

static double load_average(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1)
      l = -1;
    fclose(f);
  }
  return l;
}

/* --hot-child: eval and eval + 1 callback in this process (medians of
 * `iterations` executions each); prints wall and CPU microseconds of each. */
static int hot_child(int iterations) {
  hl_sandbox *sb = py_new();
  add_tools(sb);
  double eval_us, eval_cpu, cb_us, cb_cpu;
  time_code(sb, "1+2", "3", iterations, &eval_us, &eval_cpu);
  time_code(sb, "await host(x=41)", "42", iterations, &cb_us, &cb_cpu);
  hl_sandbox_free(sb);
  printf("%.3f %.3f %.3f %.3f\n", eval_us, cb_us, eval_cpu, cb_cpu);
  return 0;
}

int main(int argc, char **argv) {
  int iterations = 2000, creates = 100;
  long cold_samples = 21, hot_samples = 9;
  if (!hl_sandbox_language_available(HL_SANDBOX_PYTHON)) {
    printf("{\"system\":\"hookline-python\",\"error\":\"no Python guest in this build\"}\n");
    return 3;
  }
  if (argc > 1 && strcmp(argv[1], "--cold-child") == 0)
    return cold_child();
  if (argc > 1 && strcmp(argv[1], "--hot-child") == 0)
    return hot_child(iterations);
  if (argc > 4 && strcmp(argv[1], "--profile") == 0)
    return profile(argv[2], argv[3], atol(argv[4]));
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--iterations") == 0)
      iterations = atoi(argv[++i]);
    else if (strcmp(argv[i], "--creates") == 0)
      creates = atoi(argv[++i]);
    else if (strcmp(argv[i], "--cold-samples") == 0)
      cold_samples = atol(argv[++i]);
    else if (strcmp(argv[i], "--hot-samples") == 0)
      hot_samples = atol(argv[++i]);
  }
  if (cold_samples < 1 || iterations < 1 || creates < 1 || hot_samples < 1 || hot_samples > 64)
    return 2;
  double load_before = load_average();
  cold_figures cold, cold_boot;
  if (!cold_medians(cold_samples, 0, &cold) || !cold_medians(cold_samples, 1, &cold_boot)) {
    fprintf(stderr, "py sandbox bench: a cold child failed\n");
    return 1;
  }
  hl_sandbox *first = py_new();
  hl_sandbox_free(first);

  double *v = malloc(creates * sizeof *v);
  double c0 = cpu_us();
  for (int i = 0; i < creates; i++) {
    double s = now_us();
    hl_sandbox *sb = py_new();
    v[i] = now_us() - s;
    hl_sandbox_free(sb);
  }
  double create_cpu_us = (cpu_us() - c0) / creates;
  double create_us = median(v, (size_t)creates);
  free(v);

  hl_sandbox *sb = py_new();
  add_tools(sb);

  double col[4][64];
  for (long i = 0; i < hot_samples; i++) {
    double v[4];
    if (!bench_run_self("--hot-child", v, 4)) {
      fprintf(stderr, "py sandbox bench: a hot child failed\n");
      return 1;
    }
    for (int k = 0; k < 4; k++)
      col[k][i] = v[k];
  }
  double eval_us = bench_percentile(col[0], (size_t)hot_samples, 50);
  double cb_us = bench_percentile(col[1], (size_t)hot_samples, 50);
  double cb_min = col[1][0], cb_max = col[1][hot_samples - 1]; /* sorted by the call above */
  double eval_cpu = bench_percentile(col[2], (size_t)hot_samples, 50);
  double cb_cpu = bench_percentile(col[3], (size_t)hot_samples, 50);
  double par_us, par_cpu;
  time_code(sb, "import asyncio\nlen(await asyncio.gather(sleep100(), sleep100(), sleep100()))",
            "3", 5, &par_us, &par_cpu);
  hl_sandbox_free(sb);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"system\":\"hookline-python\",\"runtime\":\"C, MicroPython 1.27 via wasm2c\","
         "\"cold_create_us\":%.1f,\"cold_create_cpu_us\":%.1f,\"cold_create_minflt\":%.0f,"
         "\"cold_first_eval_us\":%.1f,\"cold_create_no_file_us\":%.1f,"
         "\"cold_create_no_file_cpu_us\":%.1f,\"cold_samples\":%ld,\"create_us\":%.1f,"
         "\"create_cpu_us\":%.1f,\"eval_us\":%.2f,\"eval_cpu_us\":%.2f,"
         "\"eval_callback_us\":%.2f,\"eval_callback_cpu_us\":%.2f,"
         "\"eval_callback_us_min\":%.2f,\"eval_callback_us_max\":%.2f,\"hot_samples\":%ld,"
         "\"parallel_3x100ms_callbacks_ms\":%.1f,\"load_average_before\":%.2f,"
         "\"load_average_after\":%.2f,\"peak_rss_mb\":%.1f}\n",
         cold.wall_us, cold.cpu_us, cold.minflt, cold.first_eval_us, cold_boot.wall_us,
         cold_boot.cpu_us, cold_samples, create_us, create_cpu_us, eval_us, eval_cpu, cb_us, cb_cpu,
         cb_min, cb_max, hot_samples, par_us / 1e3, load_before, load_average(), ru.ru_maxrss / 1024.0);
  return 0;
}
