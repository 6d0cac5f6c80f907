/*
 * bench/mcp_bench.c - the `mcp` benchmark, hookline's side: client CPU
 * and wall time per tools/call round trip (server-everything's `echo`)
 * over stdio or Streamable HTTP. Prints one JSON object; asserts nothing.
 *
 *   hl-bench-mcp stdio "node .../index.js stdio" CALLS
 *   hl-bench-mcp http http://127.0.0.1:PORT/mcp CALLS
 *
 * CPU is this process's (every thread: caller, event loop, reader),
 * from getrusage(RUSAGE_SELF); a stdio server is a child and not counted.
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

/* This process's CPU (every thread) in µs; *sys gets the kernel's part,
 * *csw the context switches (a thread going to sleep or preempted). */
static double cpu_us(double *sys, double *csw) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *sys = ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
  *csw = (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
  return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + *sys;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: hl-bench-mcp stdio|http COMMAND|URL CALLS\n");
    return 2;
  }
  int calls = atoi(argv[3]);
  if (calls < 1) calls = 1;
  hl_mcp *m = strcmp(argv[1], "http") == 0 ? hl_mcp_new_http("everything", argv[2])
                                            : hl_mcp_new_command("everything", argv[2]);
  if (!m || hl_mcp_connect(m) != HL_OK) {
    printf("{\"error\": \"%s\"}\n", m ? hl_mcp_errmsg(m) : hl_last_error());
    hl_mcp_free(m);
    return 1;
  }
  cJSON *args = cJSON_Parse("{\"message\":\"hello\"}");
  int warmup = calls / 10 + 5;
  for (int i = 0; i < warmup; i++) {
    cJSON *r = NULL;
    hl_mcp_call(m, NULL, "echo", args, &r, NULL);
    cJSON_Delete(r);
  }
  double *wall = calloc((size_t)calls, sizeof *wall);
  int failed = 0;
  double s0, s1, w0, w1;
  double c0 = cpu_us(&s0, &w0), t0 = now_us();
  for (int i = 0; i < calls; i++) {
    double s = now_us();
    cJSON *r = NULL;
    if (hl_mcp_call(m, NULL, "echo", args, &r, NULL) != HL_OK) failed++;
    cJSON_Delete(r);
    wall[i] = now_us() - s;
  }
  double t1 = now_us(), c1 = cpu_us(&s1, &w1);
  qsort(wall, (size_t)calls, sizeof *wall, cmp_double);
  printf("{\"system\": \"hookline\", \"transport\": \"%s\", \"calls\": %d, \"failed\": %d, "
         "\"wall_us_median\": %.1f, \"wall_us_mean\": %.1f, \"cpu_us_per_call\": %.1f, "
         "\"cpu_sys_us_per_call\": %.1f, \"context_switches_per_call\": %.2f}\n",
         argv[1], calls, failed, wall[calls / 2], (t1 - t0) / calls, (c1 - c0) / calls, (s1 - s0) / calls,
         (w1 - w0) / calls);
  free(wall);
  cJSON_Delete(args);
  hl_mcp_free(m);
  return failed ? 1 : 0;
}
