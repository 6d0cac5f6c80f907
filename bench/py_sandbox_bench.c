/*
 * bench/py_sandbox_bench.c - the sandbox's Python guest: cold create (the
 * first Python sandbox of the process), create, eval, eval with one
 * callback, 3 parallel 100 ms callbacks through asyncio.gather. Prints one
 * JSON object (bench/run.py --only sandbox_py puts it next to Pyodide on
 * Node). Wall times are medians; CPU (user + system, getrusage) is given
 * next to them because the machine is shared. Exits 3 without the Python
 * guest. Asserts no timing.
 */
#include <hookline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

int main(int argc, char **argv) {
  int iterations = 2000, creates = 100;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--iterations") == 0)
      iterations = atoi(argv[++i]);
    else if (strcmp(argv[i], "--creates") == 0)
      creates = atoi(argv[++i]);
  }
  if (!hl_sandbox_language_available(HL_SANDBOX_PYTHON)) {
    printf("{\"system\":\"hookline-python\",\"error\":\"no Python guest in this build\"}\n");
    return 3;
  }
  double t0 = now_us(), c0 = cpu_us();
  hl_sandbox *first = py_new();
  double cold_us = now_us() - t0, cold_cpu_us = cpu_us() - c0;
  hl_sandbox_free(first);

  double *v = malloc(creates * sizeof *v);
  c0 = cpu_us();
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
  hl_tool *host = hl_tool_new("host", "x + 1", host_fn, NULL);
  hl_tool *slow = hl_tool_new("sleep100", "sleeps 100 ms", sleep_fn, NULL);
  hl_tool_param(host, "x", "number", "x", true);
  hl_sandbox_add_tool(sb, host, NULL);
  hl_sandbox_add_tool(sb, slow, NULL);
  hl_tool_unref(host);
  hl_tool_unref(slow);

  double eval_us, eval_cpu, cb_us, cb_cpu, par_us, par_cpu;
  time_code(sb, "1+2", "3", iterations, &eval_us, &eval_cpu);
  time_code(sb, "await host(x=41)", "42", iterations, &cb_us, &cb_cpu);
  time_code(sb, "import asyncio\nlen(await asyncio.gather(sleep100(), sleep100(), sleep100()))",
            "3", 5, &par_us, &par_cpu);
  hl_sandbox_free(sb);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"system\":\"hookline-python\",\"runtime\":\"C, MicroPython 1.27 via wasm2c\","
         "\"cold_create_us\":%.1f,\"cold_create_cpu_us\":%.1f,\"create_us\":%.1f,"
         "\"create_cpu_us\":%.1f,\"eval_us\":%.2f,\"eval_cpu_us\":%.2f,"
         "\"eval_callback_us\":%.2f,\"eval_callback_cpu_us\":%.2f,"
         "\"parallel_3x100ms_callbacks_ms\":%.1f,\"peak_rss_mb\":%.1f}\n",
         cold_us, cold_cpu_us, create_us, create_cpu_us, eval_us, eval_cpu, cb_us, cb_cpu,
         par_us / 1e3, ru.ru_maxrss / 1024.0);
  return 0;
}
