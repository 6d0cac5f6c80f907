/*
 * bench/bench_util.c - helpers shared by the C benchmark programs.
 */
#include "bench_util.h"

#include <curl/curl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* VmHWM, the high-water mark of this process image. Not getrusage()'s
 * ru_maxrss: Linux carries that over exec(), so a program started by a
 * large parent (the Python runner) would report the parent's size. */
double bench_peak_rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "VmHWM: %ld", &kb) == 1) {
        fclose(f);
        return (double)kb / 1024.0;
      }
    }
    fclose(f);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;   /* ru_maxrss is in KiB on Linux */
}

void bench_rss_now_mb(double *anon_mb, double *file_mb) {
  *anon_mb = *file_mb = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  long kb;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "RssAnon: %ld", &kb) == 1) *anon_mb = (double)kb / 1024.0;
    if (sscanf(line, "RssFile: %ld", &kb) == 1) *file_mb = (double)kb / 1024.0;
  }
  fclose(f);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_percentile(double *values, size_t n, double p) {
  if (n == 0) return 0;
  qsort(values, n, sizeof *values, cmp_double);
  /* nearest rank, as the JS harness computes it */
  double rank = ceil(p / 100.0 * (double)n);
  size_t i = rank < 1 ? 0 : (size_t)rank - 1;
  return values[i < n ? i : n - 1];
}

typedef struct text {
  char data[512];
  size_t len;
} text;

static size_t collect(char *p, size_t size, size_t n, void *ud) {
  text *t = ud;
  size_t len = size * n;
  size_t room = sizeof t->data - 1 - t->len;
  size_t take = len < room ? len : room;
  memcpy(t->data + t->len, p, take);
  t->len += take;
  t->data[t->len] = '\0';
  return len;
}

static const char *g_ca_file;
void bench_set_ca_file(const char *path) { g_ca_file = path; }

/* A fresh handle per call: stats are read twice per measurement, outside it. */
bool bench_server_stats_get(const char *url, bench_server_stats *out) {
  char full[1024];
  snprintf(full, sizeof full, "%s/stats", url);
  text t = {.len = 0};
  t.data[0] = '\0';
  CURL *h = curl_easy_init();
  if (!h) return false;
  curl_easy_setopt(h, CURLOPT_URL, full);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  /* HTTP/1.1 on a connection of its own: counted as one connection (and
   * one TLS handshake), never as an HTTP/2 one. */
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  if (g_ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, g_ca_file);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  const char *r = strstr(t.data, "\"requests\":");
  const char *s = strstr(t.data, "\"service_us\":");
  if (rc != CURLE_OK || !r || !s) {
    fprintf(stderr, "bench: cannot read %s: %s\n", full,
            rc != CURLE_OK ? curl_easy_strerror(rc) : t.data);
    return false;
  }
  out->requests = strtod(r + 11, NULL);
  out->service_us = strtod(s + 13, NULL);
  /* Only the epoll mock reports these (0 otherwise). */
  const char *c = strstr(t.data, "\"connections\":");
  const char *l = strstr(t.data, "\"late_us_max\":");
  const char *u = strstr(t.data, "\"cpu_us\":");
  out->connections = c ? strtod(c + 14, NULL) : 0;
  const char *h2c = strstr(t.data, "\"h2_connections\":");
  out->h2_connections = h2c ? strtod(h2c + 17, NULL) : 0;
  out->h2c = strstr(t.data, "\"h2c\":true") != NULL;
  out->late_us_max = l ? strtod(l + 14, NULL) : 0;
  out->cpu_us = u ? strtod(u + 9, NULL) : 0;
  const char *hs = strstr(t.data, "\"tls_handshakes\":");
  out->tls_handshakes = hs ? strtod(hs + 17, NULL) : 0;
  return true;
}

const char *bench_arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

extern char **environ;

bool bench_run_self(const char *flag, double *out, int n) {
  char *child_argv[] = {"/proc/self/exe", (char *)flag, NULL};
  int fds[2];
  if (pipe(fds) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, child_argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  char buf[512] = {0};
  size_t len = 0;
  ssize_t k;
  while (rc == 0 && len < sizeof buf - 1 && (k = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)k;
  close(fds[0]);
  int status = 0;
  if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return false;
  char *p = buf;
  for (int i = 0; i < n; i++) {
    char *end;
    out[i] = strtod(p, &end);
    if (end == p) return false;
    p = end;
  }
  return true;
}
