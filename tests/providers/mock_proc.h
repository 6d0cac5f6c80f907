/*
 * tests/providers/mock_proc.h - start the benchmarks' mock model server
 * (bench/mock_server.c, built by tests/providers/meson.build; path in
 * $HL_TEST_MOCK_H2C) as a child process on an ephemeral port, in
 * cleartext (HTTP/1.1 and h2c) or over TLS (--tls: a throwaway CA whose
 * certificate it writes to DIR/ca.pem), and read its GET /stats counters.
 * Header-only: each test program includes it once.
 */
#ifndef HL_TEST_MOCK_PROC_H
#define HL_TEST_MOCK_PROC_H

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct mock {
  pid_t pid;
  char url[64];     /* http://127.0.0.1:PORT or https://127.0.0.1:PORT */
  char dir[64];     /* --tls: the temporary directory of ca.pem ("" otherwise) */
  char ca[96];      /* --tls: DIR/ca.pem */
} mock;

/* Start the server answering model requests after `delay_ms`; `tls`:
 * HTTPS only, with a CA of its own in a new temporary directory;
 * `h2_streams` (NULL: its default, 100,000): the HTTP/2 streams it allows
 * per connection (SETTINGS_MAX_CONCURRENT_STREAMS); `settings_late_ms`
 * (NULL: none): how long it stalls before the SETTINGS of each new HTTP/2
 * connection (--h2-settings-late-ms). */
static inline bool mock_start_full(mock *m, const char *delay_ms, bool tls, const char *h2_streams,
                                   const char *settings_late_ms) {
  memset(m, 0, sizeof *m);
  const char *bin = getenv("HL_TEST_MOCK_H2C");
  if (!bin) return false;
  if (tls) {
    snprintf(m->dir, sizeof m->dir, "/tmp/hl-mock-tls-XXXXXX");
    if (!mkdtemp(m->dir)) return false;
    snprintf(m->ca, sizeof m->ca, "%s/ca.pem", m->dir);
  }
  int fds[2];
  if (pipe(fds) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const char *argv[12] = {bin, "0", "--delay-ms", delay_ms};
    int argc = 4;
    if (tls) {
      argv[argc++] = "--tls";
      argv[argc++] = m->dir;
    }
    if (h2_streams) {
      argv[argc++] = "--h2-max-streams";
      argv[argc++] = h2_streams;
    }
    if (settings_late_ms) {
      argv[argc++] = "--h2-settings-late-ms";
      argv[argc++] = settings_late_ms;
    }
    argv[argc] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  char line[32] = {0};
  size_t n = 0;
  while (n < sizeof line - 1 && read(fds[0], line + n, 1) == 1 && line[n] != '\n') n++;
  close(fds[0]);
  int port = 0;
  m->pid = pid;
  if (sscanf(line, "port %d", &port) != 1 || port <= 0) return false;
  snprintf(m->url, sizeof m->url, "%s://127.0.0.1:%d", tls ? "https" : "http", port);
  return true;
}

static inline bool mock_start_streams(mock *m, const char *delay_ms, bool tls, const char *h2_streams) {
  return mock_start_full(m, delay_ms, tls, h2_streams, NULL);
}

static inline bool mock_start_opts(mock *m, const char *delay_ms, bool tls) {
  return mock_start_streams(m, delay_ms, tls, NULL);
}

static inline bool mock_start(mock *m, const char *delay_ms) { return mock_start_opts(m, delay_ms, false); }

/* Stop the server and remove its temporary directory. */
static inline void mock_stop(mock *m) {
  if (m->pid > 0) {
    kill(m->pid, SIGTERM);
    waitpid(m->pid, NULL, 0);
  }
  m->pid = 0;
  if (m->dir[0]) {
    unlink(m->ca);
    rmdir(m->dir);
    m->dir[0] = '\0';
  }
}

static inline size_t mock_collect_(char *d, size_t s, size_t n, void *u) {
  size_t have = strlen((char *)u), room = 4095 - have;
  strncat((char *)u, d, room < s * n ? room : s * n);
  return s * n;
}

/* A counter of the server's GET /stats, or -1. Over HTTP/1.1 on a
 * connection of its own (over TLS trusting the server's CA), so that it
 * adds one connection (and one TLS handshake), never an HTTP/2 one. */
static inline long mock_stat(const mock *m, const char *key) {
  char url[128], body[4096] = {0}, pat[64];
  snprintf(url, sizeof url, "%s/stats", m->url);
  CURL *e = curl_easy_init();
  if (!e) return -1;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  if (m->ca[0]) curl_easy_setopt(e, CURLOPT_CAINFO, m->ca);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mock_collect_);
  /* (void *): libcurl 8 type-checks WRITEDATA and rejects a char array. */
  curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)body);
  CURLcode rc = curl_easy_perform(e);
  curl_easy_cleanup(e);
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(body, pat);
  return rc == CURLE_OK && p ? atol(p + strlen(pat)) : -1;
}

#endif
