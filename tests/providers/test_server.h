/*
 * tests/providers/test_server.h - start the local model server
 * (server.py, path in $HL_TEST_SERVER) on an ephemeral port and read what
 * it saw; test_server_start_tls(): the same server over HTTPS (server.py
 * --tls: a throwaway CA whose certificate it writes to a new temporary
 * directory, ALPN http/1.1 only). Header-only: each test program includes
 * it once.
 */
#ifndef HL_TEST_SERVER_H
#define HL_TEST_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hookline/json.h"
#include "net/http.h"
#include "spawn_script.h"

typedef struct test_server {
  pid_t pid;
  int port;
  char base[64];     /* "http://127.0.0.1:PORT/v1" (https:// over TLS) */
  hl__http *http;    /* for /__stats */
  char dir[64];      /* over TLS: the temporary directory of ca.pem ("" otherwise) */
  char ca[96];       /* over TLS: DIR/ca.pem, the CA to trust */
} test_server;

static inline void test_server_stop(test_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
  }
  hl__http_free(s->http);
  if (s->dir[0]) {
    unlink(s->ca);
    rmdir(s->dir);
  }
  memset(s, 0, sizeof *s);
}

static inline int test_server_start_opts(test_server *s, bool tls) {
  memset(s, 0, sizeof *s);
  const char *script = getenv("HL_TEST_SERVER");
  if (!script) {
    fprintf(stderr, "HL_TEST_SERVER is not set\n");
    return -1;
  }
  if (tls) {
    snprintf(s->dir, sizeof s->dir, "/tmp/hl-test-tls-XXXXXX");
    if (!mkdtemp(s->dir)) {
      s->dir[0] = '\0';
      return -1;
    }
    snprintf(s->ca, sizeof s->ca, "%s/ca.pem", s->dir);
  }
  pid_t pid = spawn_script_args(script, tls ? "--tls" : NULL, s->ca, &s->port);
  if (pid < 0) {
    test_server_stop(s);
    return -1;
  }
  s->pid = pid;
  if (s->port <= 0) {
    fprintf(stderr, "test server did not start\n");
    test_server_stop(s);
    return -1;
  }
  snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d/v1", tls ? "https" : "http", s->port);
  s->http = hl__http_new(NULL);
  if (s->http && tls && hl__http_set_ca_file(s->http, s->ca, "test server") != HL_OK) {
    fprintf(stderr, "%s\n", hl_last_error());
    test_server_stop(s);
    return -1;
  }
  return s->http ? 0 : -1;
}

static inline int test_server_start(test_server *s) { return test_server_start_opts(s, false); }

static inline int test_server_start_tls(test_server *s) { return test_server_start_opts(s, true); }

/* What the server saw for `model`: {"count", "times", "peers", "last_body",
 * "last_headers"}. Caller frees; NULL on failure. */
static inline cJSON *test_server_stats(test_server *s, const char *model) {
  char url[512];
  char *esc = NULL;
  /* Model names in the tests are [A-Za-z0-9@_-]: only '@' needs escaping. */
  size_t k = 0;
  char q[256];
  for (const char *p = model; *p && k < sizeof q - 4; p++) {
    if (*p == '@') {
      memcpy(q + k, "%40", 3);
      k += 3;
    } else {
      q[k++] = *p;
    }
  }
  q[k] = '\0';
  (void)esc;
  snprintf(url, sizeof url, "%s://127.0.0.1:%d/__stats?model=%s", s->dir[0] ? "https" : "http",
           s->port, q);
  hl__http_request req;
  memset(&req, 0, sizeof req);
  req.url = url;
  hl__http_response resp;
  cJSON *out = NULL;
  if (hl__http_request_send(s->http, &req, &resp) == HL_OK && resp.status == 200)
    hl_json_parse(resp.body, resp.body_len, &out);
  hl__http_response_clear(&resp);
  return out;
}

/* What a client says of server.py's "nothttp" replies. libcurl hands the
 * bytes of a reply that is not HTTP over (as an HTTP/0.9 body, which the
 * HTTP layer allows for this) and the message quotes them, `quote`; but
 * from libcurl 8.7.0 on, only on a fresh connection: on one that already
 * carried an HTTP/1.x answer it fails with "Invalid status line" and
 * keeps them (curl commit df1fcb41e2). */
static inline const char *test_not_http_says(bool reused_connection, const char *quote) {
  if (reused_connection && curl_version_info(CURLVERSION_NOW)->version_num >= 0x080700)
    return "did not answer in valid HTTP: Invalid status line";
  return quote;
}

static inline int test_server_count(test_server *s, const char *model) {
  cJSON *st = test_server_stats(s, model);
  int n = st ? (int)hl_json_get_number(st, "count", -1) : -1;
  cJSON_Delete(st);
  return n;
}

/* The body of the last request `s` got for `model` (caller frees), or
 * NULL when there is none. */
static inline cJSON *test_server_last_body(test_server *s, const char *model) {
  cJSON *st = test_server_stats(s, model);
  cJSON *body = st ? cJSON_DetachItemFromObject(st, "last_body") : NULL;
  cJSON_Delete(st);
  return body;
}

/* Monotonic time in seconds. */
static inline double test_server_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (up to `limit_s` seconds, polling every 20 ms) until `s` saw
 * `want` requests for `model`; false when it did not in time. */
static inline bool test_server_wait_count(test_server *s, const char *model, int want,
                                          double limit_s) {
  double end = test_server_now_s() + limit_s;
  struct timespec step = {0, 20 * 1000000L};
  while (test_server_now_s() < end) {
    if (test_server_count(s, model) >= want)
      return true;
    nanosleep(&step, NULL);
  }
  return false;
}

#endif
