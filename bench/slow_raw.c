/*
 * bench/slow_raw.c - concurrent_slow's floor: the same HTTP work as N
 * sessions of scenario (b) (two sequential requests per session, the very
 * request bodies hookline sends, against the same mock server), done with
 * raw libcurl and no hookline: one thread, curl_multi_socket_action()
 * over epoll, one easy handle per session reused for its second request
 * (so it keeps its connection), one header list shared by all.
 *
 * What it leaves out is what an agent library adds: JSON encoding and
 * decoding, hooks, events, tools, history. Its CPU per session and peak
 * RSS are therefore the floor that hookline's figures are measured
 * against (hl-bench-slow --api raw-curl).
 *
 * With h2 (hl-bench-slow --http 2) the same requests go over HTTP/2 with
 * prior knowledge to the mock server's h2c side, multiplexed: streams of
 * a few connections instead of one connection per session (the settings
 * are slow_raw_h2's, from the command line). At an https:// URL (the mock
 * server's --tls side) they go over TLS trusting the given CA file:
 * HTTP/2 negotiated by ALPN, multiplexed with PIPEWAIT (libcurl 7.88's
 * h2c reuse bug does not touch it), or HTTP/1.1 with one connection per
 * session in flight.
 *
 * Like engine.c it may spread the transfers over several multi handles
 * (--raw-multis): libcurl 7.88 scans a multi handle's whole connection
 * cache on several per-transfer paths, which is quadratic with 10,000
 * connections in one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <curl/curl.h>

#include "bench_util.h"
#include "slow_raw.h"

/* What hl-bench-slow's agent sends (captured from hookline 0.1.0 with
 * strace): the first turn, and the second with the three tool results. */
static const char BODY1[] =
    "{\"model\":\"mock-model\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a benchmark "
    "agent. Use the lookup tool when asked.\"},{\"role\":\"user\",\"content\":\"Look up the keys a, "
    "b and c.\"}],\"tools\":[{\"function\":{\"name\":\"lookup\",\"description\":\"Look up the value "
    "stored under a key.\",\"parameters\":{\"type\":\"object\",\"properties\":{\"key\":{\"type\":"
    "\"string\",\"description\":\"the key\"}},\"required\":[\"key\"]}},\"type\":\"function\"}]}";
static const char BODY2[] =
    "{\"model\":\"mock-model\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a benchmark "
    "agent. Use the lookup tool when asked.\"},{\"role\":\"user\",\"content\":\"Look up the keys a, "
    "b and c.\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"function\":{\"name\":"
    "\"lookup\",\"arguments\":\"{\\\"key\\\":\\\"a\\\"}\"},\"id\":\"call_1_1\",\"type\":\"function\"},"
    "{\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"key\\\":\\\"b\\\"}\"},\"id\":\"call_1_2\","
    "\"type\":\"function\"},{\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"key\\\":\\\"c\\\"}"
    "\"},\"id\":\"call_1_3\",\"type\":\"function\"}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1_1\","
    "\"content\":\"value-a\"},{\"role\":\"tool\",\"tool_call_id\":\"call_1_2\",\"content\":\"value-b\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1_3\",\"content\":\"value-c\"}],\"tools\":[{\"function\":"
    "{\"name\":\"lookup\",\"description\":\"Look up the value stored under a key.\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"key\":{\"type\":\"string\",\"description\":\"the key\"}},"
    "\"required\":[\"key\"]}},\"type\":\"function\"}]}";

#define MAX_MULTIS 128

typedef struct raw_session {
  CURL *easy;
  int step;        /* 1: first request in flight, 2: second */
  int multi;       /* index of its multi handle */
  char *buf;       /* the answer of the request in flight */
  size_t len, cap;
  uint64_t t0;
  double *latency; /* < 0: failed */
} raw_session;

typedef struct raw_multi {
  CURLM *m;
  bool opened;     /* one-connection h2c mode: its connection is up */
  long due_ms;     /* -1: no timeout wanted */
} raw_multi;

static int g_ep, g_n_multis;
static raw_multi g_multis[MAX_MULTIS];
static int g_left, g_failed;
/* h2c on libcurl < 7.89.0 with --raw-h2-one-conn (see slow_raw_curl): the
 * sessions not started yet, started once the first one has its answer. */
static bool g_one_conn;
static struct raw_session *g_all;
static int g_n_all;

static long now_ms(void) { return (long)(bench_now_ns() / 1000000u); }

static size_t on_write(char *data, size_t size, size_t n, void *user) {
  raw_session *s = user;
  size_t len = size * n;
  if (s->len + len + 1 > s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 2048;
    while (nc < s->len + len + 1) nc *= 2;
    char *nb = realloc(s->buf, nc);
    if (!nb) return 0;
    s->buf = nb;
    s->cap = nc;
  }
  memcpy(s->buf + s->len, data, len);
  s->len += len;
  s->buf[s->len] = '\0';
  return len;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)e;
  raw_multi *rm = userp;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(g_ep, EPOLL_CTL_DEL, fd, NULL);
    return 0;
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  ev.data.u64 = ((uint64_t)(rm - g_multis) << 32) | (uint32_t)fd;
  if (epoll_ctl(g_ep, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
    epoll_ctl(g_ep, EPOLL_CTL_MOD, fd, &ev);
  if (!socketp) curl_multi_assign(rm->m, fd, (void *)1);
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  raw_multi *rm = userp;
  rm->due_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  return 0;
}

static void session_end(raw_session *s, bool ok) {
  *s->latency = ok ? (double)(bench_now_ns() - s->t0) / 1e3 : -1;
  if (!ok) g_failed++;
  g_left--;
}

static bool start(raw_session *s, const char *body) {
  s->len = 0;
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
  return curl_multi_add_handle(g_multis[s->multi].m, s->easy) == CURLM_OK;
}

static void read_done(raw_multi *rm) {
  CURLMsg *msg;
  int q;
  while ((msg = curl_multi_info_read(rm->m, &q))) {
    if (msg->msg != CURLMSG_DONE) continue;
    raw_session *s = NULL;
    CURL *e = msg->easy_handle;
    CURLcode rc = msg->data.result;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
    curl_multi_remove_handle(rm->m, e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    bool ok = rc == CURLE_OK && code == 200 && s->buf;
    if (!ok && g_failed == 0)
      fprintf(stderr, "slow raw: a request failed: %s (HTTP %ld)\n", curl_easy_strerror(rc), code);
    if (g_one_conn && !rm->opened) {
      /* This multi handle's h2c connection is up: its other sessions
       * multiplex on it. */
      rm->opened = true;
      int k = (int)(rm - g_multis);
      for (int i = k + g_n_multis; i < g_n_all; i += g_n_multis)
        if (!start(&g_all[i], BODY1)) session_end(&g_all[i], false);
    }
    if (ok && s->step == 1 && strstr(s->buf, "tool_calls")) {
      s->step = 2;
      /* Session 0 too: its second request reuses the connection. */
      if (g_one_conn) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
      if (start(s, BODY2)) continue;
      ok = false;
    }
    session_end(s, ok && s->step == 2 && strstr(s->buf, "gamma"));
  }
}

int slow_raw_curl(const char *url, int n, int multis, const slow_raw_h2 *h2, const char *ca_file,
                  double *latency_us) {
  bool tls = strncmp(url, "https:", 6) == 0;
  /* HTTP/2: one multi handle, a handful of connections, no cache to
   * partition. Seen over TLS with libcurl 7.88 at 3,000 sessions (load
   * 12-15): up to 1,000 streams per connection (the default) opens a
   * connection per request while the next one's handshake runs once the
   * first is full (1,320 connections); all 3,000 on one connection, or the
   * sessions over 3 or 16 multi handles, completed with normal CPU but
   * took 66-136 s of wall time (not investigated yet). */
  if (h2 && (tls || !(h2->one_connection && curl_version_info(CURLVERSION_NOW)->version_num < 0x075900)))
    multis = 1;
  if (multis < 1) multis = 1;
  if (multis > MAX_MULTIS) multis = MAX_MULTIS;
  char endpoint[1024];
  snprintf(endpoint, sizeof endpoint, "%s/v1/chat/completions", url);
  g_ep = epoll_create1(0);
  for (int i = 0; i < multis; i++) {
    g_multis[i].m = curl_multi_init();
    g_multis[i].due_ms = -1;
    curl_multi_setopt(g_multis[i].m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(g_multis[i].m, CURLMOPT_SOCKETDATA, &g_multis[i]);
    curl_multi_setopt(g_multis[i].m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(g_multis[i].m, CURLMOPT_TIMERDATA, &g_multis[i]);
    curl_multi_setopt(g_multis[i].m, CURLMOPT_MAXCONNECTS, (long)(n / multis + 1));
    if (h2) {
      curl_multi_setopt(g_multis[i].m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
      curl_multi_setopt(g_multis[i].m, CURLMOPT_MAX_CONCURRENT_STREAMS, h2->max_streams);
      if (h2->max_host_connections > 0)
        curl_multi_setopt(g_multis[i].m, CURLMOPT_MAX_HOST_CONNECTIONS, h2->max_host_connections);
    }
  }
  struct curl_slist *hdrs = NULL;
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Accept: application/json");
  hdrs = curl_slist_append(hdrs, "Authorization: Bearer sk-bench-dummy");
  hdrs = curl_slist_append(hdrs, "Expect:");
  raw_session *ss = calloc((size_t)n, sizeof *ss);
  if (!ss || g_ep < 0 || !hdrs) return n;
  g_left = n;
  g_n_multis = multis;
  g_failed = 0;
  /* libcurl < 7.89.0's h2c reuse bug (curl issue #10634); not over TLS. */
  bool old_curl = !tls && curl_version_info(CURLVERSION_NOW)->version_num < 0x075900;
  if (h2 && old_curl && h2->one_connection) {
    g_one_conn = true;
    g_all = ss;
    g_n_all = n;
  }
  for (int i = 0; i < n; i++) {
    raw_session *s = &ss[i];
    s->latency = &latency_us[i];
    s->multi = i % multis;
    s->step = 1;
    s->t0 = bench_now_ns();
    CURL *e = s->easy = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, endpoint);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, h2 ? h2->buffer_size : 4096L);
    /* libcurl >= 8.7.0's send buffer, held per transfer: its minimum, as
     * hookline sets it (lib/net/http.c). */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    if (ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    if (tls) {
      /* h2 by ALPN, waiting for the first connection to multiplex on it
       * rather than opening one per session meanwhile; or HTTP/1.1. */
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)(h2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1));
      if (h2) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    } else if (h2) {
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
      if (old_curl && h2->one_connection) {
        /* libcurl < 7.89.0 breaks a reused h2c connection when the
         * transfer asks for prior knowledge (curl issue #10634: it
         * starts a second HTTP/2 layer on it), not when it asks for
         * CURL_HTTP_VERSION_2_0. So each multi handle gets one h2c
         * connection: its first session opens it with prior knowledge;
         * its other sessions start once that one answered and ask for
         * 2_0, and so do all second requests; they find the connection
         * as long as it has room (--raw-streams >= sessions / multis),
         * else libcurl opens one with "Upgrade: h2c", which the mock
         * answers as HTTP/1.1. The openers' 1 s is in every session's
         * latency and in the wall time. */
        if (i >= multis) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
      } else if (old_curl) {
        /* libcurl < 7.89.0 fails a request on a reused h2c connection
         * (curl issue #10634): a fresh connection per request, as
         * hookline does there (lib/net/http.c). */
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
      } else {
        /* Wait for a connection that multiplexes instead of opening one
         * per transfer while the first is being set up. */
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
      }
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)s);
    if (e && old_curl && h2 && h2->one_connection && i >= multis) continue; /* held (above) */
    if (!e || !start(s, BODY1)) session_end(s, false);
  }
  struct epoll_event evs[256];
  while (g_left > 0) {
    long now = now_ms(), wait = -1;
    for (int i = 0; i < multis; i++) {
      long d = g_multis[i].due_ms;
      if (d >= 0 && (wait < 0 || d - now < wait)) wait = d - now < 0 ? 0 : d - now;
    }
    int k = epoll_wait(g_ep, evs, 256, wait < 0 ? 1000 : (int)wait);
    int running;
    for (int i = 0; i < k; i++) {
      int mask = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                 (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                 (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
      raw_multi *rm = &g_multis[evs[i].data.u64 >> 32];
      curl_multi_socket_action(rm->m, (curl_socket_t)(uint32_t)evs[i].data.u64, mask, &running);
    }
    now = now_ms();
    for (int i = 0; i < multis; i++) {
      if (g_multis[i].due_ms >= 0 && g_multis[i].due_ms <= now) {
        g_multis[i].due_ms = -1;
        curl_multi_socket_action(g_multis[i].m, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      read_done(&g_multis[i]);
    }
  }
  for (int i = 0; i < n; i++) {
    curl_easy_cleanup(ss[i].easy);
    free(ss[i].buf);
  }
  for (int i = 0; i < multis; i++) curl_multi_cleanup(g_multis[i].m);
  curl_slist_free_all(hdrs);
  free(ss);
  return g_failed;
}
