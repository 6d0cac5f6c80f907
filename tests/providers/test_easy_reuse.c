/*
 * test_easy_reuse.c - the HTTP layer's spare libcurl handles carry nothing
 * of one request into the next. A spare is reset only when the options
 * of its last request differ in which ones were set (engine.h,
 * hl__engine_easy_get): these requests, one after another on one client
 * (so on one handle, over one connection), alternate those options, and
 * a server in this process records what each request was on the wire.
 *
 *   method_and_body_follow_each_request  DELETE, POST, GET, PUT, POST,
 *                                        POST, GET: each arrives with its
 *                                        own method and body (none for a
 *                                        GET or a DELETE), never the one
 *                                        before's
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "net/http.h"

/* ---- a server that records each request's method and body ----------- */

#define SEEN_MAX 16

typedef struct recorder {
  int listen_fd;
  int conn_fd; /* the connection being served, -1: none */
  int port;
  pthread_t thread;
  pthread_mutex_t lock;
  char seen[SEEN_MAX][96]; /* "METHOD body" ("METHOD -" without a body) */
  int n_seen;
  int connections;
} recorder;

/* One request from `fd` (head and Content-Length body) into `out`; false
 * when the client closed or sent something unreadable. */
static bool read_request(int fd, char *out, size_t out_size) {
  char buf[4096] = "";
  size_t len = 0;
  char *end = NULL;
  while (!(end = strstr(buf, "\r\n\r\n"))) {
    if (len + 1 >= sizeof buf) return false;
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n <= 0) return false;
    len += (size_t)n;
    buf[len] = '\0';
  }
  size_t head = (size_t)(end + 4 - buf);
  long body_len = 0;
  for (const char *h = strstr(buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
    if (strncasecmp(h + 2, "Content-Length:", 15) == 0) body_len = strtol(h + 17, NULL, 10);
  if (body_len < 0 || head + (size_t)body_len >= sizeof buf) return false;
  while (len < head + (size_t)body_len) {
    ssize_t n = read(fd, buf + len, head + (size_t)body_len - len);
    if (n <= 0) return false;
    len += (size_t)n;
  }
  buf[head + (size_t)body_len] = '\0';
  size_t m = strcspn(buf, " ");
  snprintf(out, out_size, "%.*s %s", (int)m, buf, body_len ? buf + head : "-");
  return true;
}

static void *serve(void *arg) {
  recorder *r = arg;
  for (;;) {
    int fd = accept(r->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    pthread_mutex_lock(&r->lock);
    r->connections++;
    r->conn_fd = fd;
    pthread_mutex_unlock(&r->lock);
    char line[96];
    while (read_request(fd, line, sizeof line)) {
      pthread_mutex_lock(&r->lock);
      if (r->n_seen < SEEN_MAX) snprintf(r->seen[r->n_seen++], sizeof r->seen[0], "%s", line);
      pthread_mutex_unlock(&r->lock);
      static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                  "Content-Length: 2\r\n\r\nok";
      if (write(fd, reply, sizeof reply - 1) != (ssize_t)(sizeof reply - 1)) break;
    }
    pthread_mutex_lock(&r->lock);
    r->conn_fd = -1;
    pthread_mutex_unlock(&r->lock);
    close(fd);
  }
}

static bool recorder_start(recorder *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  r->conn_fd = -1;
  r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (r->listen_fd < 0) return false;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(r->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(r->listen_fd, 8) != 0 ||
      getsockname(r->listen_fd, (struct sockaddr *)&a, &al) != 0)
    return false;
  r->port = ntohs(a.sin_port);
  return pthread_create(&r->thread, NULL, serve, r) == 0;
}

/* The library's pool keeps the connection open: it is shut here too. */
static void recorder_stop(recorder *r) {
  pthread_mutex_lock(&r->lock);
  if (r->conn_fd >= 0) shutdown(r->conn_fd, SHUT_RDWR);
  pthread_mutex_unlock(&r->lock);
  shutdown(r->listen_fd, SHUT_RDWR);
  close(r->listen_fd);
  pthread_join(r->thread, NULL);
  pthread_mutex_destroy(&r->lock);
}

/* ---- the test ------------------------------------------------------- */

static void method_and_body_follow_each_request(void) {
  recorder r;
  REQUIRE(recorder_start(&r));
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", r.port);
  hl__http *c = hl__http_new(NULL);
  REQUIRE(c);
  static const struct {
    const char *method, *body, *want;
  } steps[] = {
      {"DELETE", NULL, "DELETE -"},
      {NULL, "{\"a\":1}", "POST {\"a\":1}"},
      {NULL, NULL, "GET -"},
      {"PUT", "{\"b\":2}", "PUT {\"b\":2}"},
      {NULL, "{\"c\":3}", "POST {\"c\":3}"},
      {NULL, "{\"dd\":4}", "POST {\"dd\":4}"}, /* the same options as the one before */
      {NULL, NULL, "GET -"},
  };
  size_t n = sizeof steps / sizeof steps[0];
  for (size_t i = 0; i < n; i++) {
    hl__http_request req;
    memset(&req, 0, sizeof req);
    req.url = url;
    req.method = steps[i].method;
    req.body = steps[i].body;
    req.body_len = steps[i].body ? strlen(steps[i].body) : 0;
    hl__http_response resp;
    CHECK_INT(hl__http_request_send(c, &req, &resp), HL_OK);
    CHECK_INT(resp.status, 200);
    hl__http_response_clear(&resp);
  }
  hl__http_free(c);
  pthread_mutex_lock(&r.lock);
  CHECK_INT(r.n_seen, (int)n);
  for (size_t i = 0; i < n && i < (size_t)r.n_seen; i++) CHECK_STR(r.seen[i], steps[i].want);
  /* One connection throughout: the handles were reused, not the point
   * here, but a reset never closes one either. */
  CHECK_INT(r.connections, 1);
  pthread_mutex_unlock(&r.lock);
  recorder_stop(&r);
}

int main(void) {
  RUN(method_and_body_follow_each_request);
  return CHECK_EXIT();
}
