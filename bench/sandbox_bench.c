/*
 * bench/sandbox_bench.c - hookline's Wasm sandbox: creation and evaluation.
 *
 * The same snippets as the Node peers (bench/peers/quickjs.mjs, pyodide.mjs):
 *   eval             "1+2"
 *   eval + callback  one call of a host function that returns its argument
 *                    + 1. hookline's tools are async functions taking
 *                    one object, so the snippet is "await host({x: 41})"
 *                    (a promise and a job-queue turn more than the peers'
 *                    synchronous host(41)).
 * plus hookline's own target: 3 callbacks of 100 ms each under Promise.all.
 *
 * Cold create is the first sandbox of a fresh process: the program runs
 * itself (--cold-child) once per sample and reports the median, with the
 * template snapshot file the build wrote (the normal case) and without it
 * (HOOKLINE_SANDBOX_SNAPSHOT="": QuickJS initialised at run time).
 *
 *   hl-bench-sandbox [--iterations 2000] [--creates 200] [--cold-samples 21]
 *
 * Prints one JSON line with the peers' fields.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hookline.h>

#include "bench_util.h"

static hl_status host(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(args, "x");
  *result = cJSON_CreateNumber((cJSON_IsNumber(x) ? x->valuedouble : 0) + 1);
  return HL_OK;
}

static hl_status slow(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)args;
  (void)ud;
  struct timespec ts = {0, 100 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0) {
  }
  *result = cJSON_CreateString("done");
  return HL_OK;
}

/* Execute `code`, check its value, return microseconds or < 0. */
static double execute(hl_sandbox *sb, const char *code, const char *want) {
  hl_sandbox_result res = HL_SANDBOX_RESULT_INIT;
  uint64_t t0 = bench_now_ns();
  hl_status st = hl_sandbox_execute(sb, NULL, code, &res);
  double us = (double)(bench_now_ns() - t0) / 1e3;
  bool ok = st == HL_OK && res.value_json && !strcmp(res.value_json, want);
  if (!ok)
    fprintf(stderr, "sandbox bench: %s -> %s (%s)\n", code, res.value_json ? res.value_json : "none",
            hl_last_error());
  hl_sandbox_result_clear(&res);
  return ok ? us : -1;
}

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall-clock microseconds per execution; *cpu_us gets this thread's CPU
 * time per execution (a single callback runs on the executing thread), the
 * figure that a loaded machine (others' builds on the same cores) blurs
 * least. */
static double per_call_us(hl_sandbox *sb, const char *code, const char *want, long n,
                          double *cpu_us) {
  for (int i = 0; i < 50; i++)
    if (execute(sb, code, want) < 0) return -1;
  uint64_t t0 = bench_now_ns(), c0 = thread_cpu_ns();
  for (long i = 0; i < n; i++)
    if (execute(sb, code, want) < 0) return -1;
  *cpu_us = (double)(thread_cpu_ns() - c0) / 1e3 / (double)n;
  return (double)(bench_now_ns() - t0) / 1e3 / (double)n;
}

extern char **environ;

/* The 1-minute load average when the figures were taken (they mean
 * little on a machine running many times more work than it has cores). */
static double load_average(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

static double cpu_us_now(struct rusage *ru) {
  getrusage(RUSAGE_SELF, ru);
  return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e6 +
         (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

/* --cold-child: time the process's first sandbox; print its wall
 * microseconds, its CPU microseconds (user + sys, getrusage: a loaded
 * machine blurs it less) and the page faults it took (ru_minflt). */
static int cold_child(void) {
  hl_sandbox *sb = NULL;
  struct rusage r0, r1;
  double c0 = cpu_us_now(&r0);
  uint64_t t0 = bench_now_ns();
  hl_status st = hl_sandbox_new(NULL, &sb);
  double us = (double)(bench_now_ns() - t0) / 1e3;
  double cpu = cpu_us_now(&r1) - c0;
  if (st != HL_OK) {
    fprintf(stderr, "sandbox bench: %s\n", hl_last_error());
    return 1;
  }
  hl_sandbox_free(sb);
  printf("%.2f %.1f %ld\n", us, cpu, r1.ru_minflt - r0.ru_minflt);
  return 0;
}

typedef struct cold_figures {
  double wall_us, cpu_us, minflt; /* medians */
} cold_figures;

/* Medians of `samples` fresh processes' first sandbox; false if a child
 * failed. With `no_file`, the child initialises QuickJS at run time. */
static bool cold_medians(long samples, bool no_file, cold_figures *out) {
  double *v = calloc((size_t)samples * 3, sizeof *v);
  if (!v) return false;
  double *cpu = v + samples, *flt = v + 2 * samples;
  char *child_argv[] = {"/proc/self/exe", "--cold-child", NULL};
  long got = 0;
  if (no_file) setenv("HOOKLINE_SANDBOX_SNAPSHOT", "", 1);
  for (long i = 0; i < samples; i++) {
    int fds[2];
    if (pipe(fds) != 0) break;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, child_argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char buf[128] = {0};
    ssize_t n = rc == 0 ? read(fds[0], buf, sizeof buf - 1) : -1;
    close(fds[0]);
    int status = 0;
    if (rc == 0) waitpid(pid, &status, 0);
    if (n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        sscanf(buf, "%lf %lf %lf", &v[got], &cpu[got], &flt[got]) == 3)
      got++;
  }
  if (no_file) unsetenv("HOOKLINE_SANDBOX_SNAPSHOT");
  bool ok = got == samples;
  if (ok) {
    out->wall_us = bench_percentile(v, (size_t)got, 50);
    out->cpu_us = bench_percentile(cpu, (size_t)got, 50);
    out->minflt = bench_percentile(flt, (size_t)got, 50);
  }
  free(v);
  return ok;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--cold-child") == 0) return cold_child();
  long cold_samples = atol(bench_arg(argc, argv, "--cold-samples", "21"));
  long iterations = atol(bench_arg(argc, argv, "--iterations", "2000"));
  long creates = atol(bench_arg(argc, argv, "--creates", "200"));
  if (iterations < 1 || creates < 1) return 2;
  if (!hl_sandbox_available()) {
    fprintf(stderr, "sandbox bench: this build has no sandbox (meson -Dsandbox=enabled)\n");
    return 3;
  }
  if (cold_samples < 1) return 2;
  /* Cold: the first sandbox of a fresh process, with and without the
   * build's snapshot file. */
  cold_figures cold, cold_init;
  if (!cold_medians(cold_samples, false, &cold) || !cold_medians(cold_samples, true, &cold_init)) {
    fprintf(stderr, "sandbox bench: a cold child failed\n");
    return 1;
  }
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(NULL, &sb) != HL_OK) {
    fprintf(stderr, "sandbox bench: %s\n", hl_last_error());
    return 1;
  }
  hl_sandbox_free(sb);
  uint64_t t0;

  t0 = bench_now_ns();
  for (long i = 0; i < creates; i++) {
    if (hl_sandbox_new(NULL, &sb) != HL_OK) return 1;
    hl_sandbox_free(sb);
  }
  double create_us = (double)(bench_now_ns() - t0) / 1e3 / (double)creates;

  hl_tool *host_tool = hl_tool_new("host", "argument + 1", host, NULL);
  hl_tool *slow_tool = hl_tool_new("slow", "waits 100 ms", slow, NULL);
  if (!host_tool || !slow_tool ||
      hl_tool_param(host_tool, "x", "number", "the argument", true) != HL_OK ||
      hl_sandbox_new(NULL, &sb) != HL_OK || hl_sandbox_add_tool(sb, host_tool, NULL) != HL_OK ||
      hl_sandbox_add_tool(sb, slow_tool, NULL) != HL_OK) {
    fprintf(stderr, "sandbox bench: setup: %s\n", hl_last_error());
    return 1;
  }
  hl_tool_unref(host_tool); /* the sandbox holds its own references */
  hl_tool_unref(slow_tool);
  double eval_cpu_us = 0, cb_cpu_us = 0;
  double eval_us = per_call_us(sb, "1+2", "3", iterations, &eval_cpu_us);
  double cb_us = per_call_us(sb, "await host({x: 41})", "42", iterations, &cb_cpu_us);
  double par_us = execute(sb, "(await Promise.all([slow(), slow(), slow()])).length", "3");
  hl_sandbox_free(sb);
  if (eval_us < 0 || cb_us < 0 || par_us < 0) return 1;
  printf("{\"system\":\"hookline\",\"runtime\":\"C, hookline %s\",\"cold_create_us\":%.2f,"
         "\"cold_create_cpu_us\":%.1f,\"cold_create_minflt\":%.0f,"
         "\"cold_create_runtime_init_us\":%.2f,\"create_us\":%.2f,\"eval_us\":%.2f,\"eval_callback_us\":%.2f,"
         "\"eval_cpu_us\":%.2f,\"eval_callback_cpu_us\":%.2f,\"load_average\":%.1f,"
         "\"parallel_3x100ms_callbacks_ms\":%.1f,\"peak_rss_mb\":%.1f}\n",
         HL_BENCH_VERSION, cold.wall_us, cold.cpu_us, cold.minflt, cold_init.wall_us, create_us, eval_us, cb_us, eval_cpu_us, cb_cpu_us, load_average(), par_us / 1e3, bench_peak_rss_mb());
  return 0;
}
