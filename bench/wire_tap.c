/*
 * bench/wire_tap.c - a recording HTTP/1.1 relay on loopback (wire_tap.h).
 *
 * Blocking sockets and one thread per connection: it relays a handful of
 * requests once, before any measurement, so simplicity wins over speed.
 */
#include "wire_tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TAP_MAX_CONNS = 16 };

typedef struct tap_conn {
  wire_tap *tap;
  int cfd, ufd;   /* the client's connection, ours to upstream (-1: none yet) */
  pthread_t thread;
} tap_conn;

struct wire_tap {
  int lfd;
  struct sockaddr_in upstream;
  char url[64];
  pthread_t acceptor;
  pthread_mutex_t mu;   /* guards reqs, conns, n_conns */
  wire_request *reqs;
  size_t n_reqs, cap_reqs;
  tap_conn conns[TAP_MAX_CONNS];
  size_t n_conns;
  atomic_bool stopping;
};

/* A connection's unread bytes: a message is parsed off its front. */
typedef struct inbuf {
  char *d;
  size_t len, cap;
} inbuf;

static bool write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

static bool fill(int fd, inbuf *b) {
  if (b->cap - b->len < 4096) {
    size_t cap = b->cap ? b->cap * 2 : 16384;
    char *d = realloc(b->d, cap);
    if (!d) return false;
    b->d = d;
    b->cap = cap;
  }
  ssize_t r = recv(fd, b->d + b->len, b->cap - b->len - 1, 0);
  if (r <= 0) return false;
  b->len += (size_t)r;
  b->d[b->len] = '\0';
  return true;
}

/* The value of header `name` in head[0..len) (lines after the first),
 * or NULL; *vlen its length. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen) {
  size_t nl = strlen(name);
  const char *end = head + len;
  for (const char *line = memchr(head, '\n', len); line && line + 1 < end;
       line = memchr(line + 1, '\n', (size_t)(end - line - 1))) {
    const char *s = line + 1;
    if ((size_t)(end - s) > nl + 1 && !strncasecmp(s, name, nl) && s[nl] == ':') {
      const char *v = s + nl + 1, *e = memchr(v, '\r', (size_t)(end - v));
      while (v < e && *v == ' ') v++;
      *vlen = e ? (size_t)(e - v) : 0;
      return v;
    }
  }
  return NULL;
}

/* Reads until b holds one whole message at its front: *head_len bytes of
 * head, then a body of Content-Length bytes (none: 0); false on EOF, an
 * error, or a message this relay does not carry (chunked, Expect). */
static bool read_message(int fd, inbuf *b, size_t *head_len, size_t *total) {
  char *eoh;
  while (!b->d || !(eoh = strstr(b->d, "\r\n\r\n")))
    if (!fill(fd, b)) return false;
  *head_len = (size_t)(eoh - b->d) + 4;
  size_t vlen = 0, clen = 0;
  if (header(b->d, *head_len, "Transfer-Encoding", &vlen) || header(b->d, *head_len, "Expect", &vlen)) {
    fprintf(stderr, "wire tap: chunked or Expect: not relayed\n");
    return false;
  }
  const char *v = header(b->d, *head_len, "Content-Length", &vlen);
  if (v) clen = strtoul(v, NULL, 10);
  *total = *head_len + clen;
  while (b->len < *total)
    if (!fill(fd, b)) return false;
  return true;
}

static void consume(inbuf *b, size_t n) {
  memmove(b->d, b->d + n, b->len - n);
  b->len -= n;
  b->d[b->len] = '\0';
}

static char *dup_bytes(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

static bool record(wire_tap *t, const char *msg, size_t head_len, size_t total) {
  wire_request r = {dup_bytes(msg, head_len), head_len, dup_bytes(msg + head_len, total - head_len),
                    total - head_len};
  pthread_mutex_lock(&t->mu);
  bool ok = r.head && r.body;
  if (ok && t->n_reqs == t->cap_reqs) {
    size_t cap = t->cap_reqs ? t->cap_reqs * 2 : 8;
    wire_request *a = realloc(t->reqs, cap * sizeof *a);
    if (a) t->reqs = a, t->cap_reqs = cap;
    else ok = false;
  }
  if (ok) t->reqs[t->n_reqs++] = r;
  pthread_mutex_unlock(&t->mu);
  if (!ok) free(r.head), free(r.body);
  return ok;
}

static void *relay(void *arg) {
  tap_conn *c = arg;
  wire_tap *t = c->tap;
  inbuf in = {0}, out = {0};
  for (;;) {
    size_t head_len, total;
    if (!read_message(c->cfd, &in, &head_len, &total) || !record(t, in.d, head_len, total)) break;
    if (c->ufd < 0) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      if (fd < 0) break;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      pthread_mutex_lock(&t->mu);
      c->ufd = fd; /* (before connect: wire_tap_stop() can shut it down) */
      pthread_mutex_unlock(&t->mu);
      if (atomic_load(&t->stopping)) break;
      if (connect(fd, (struct sockaddr *)&t->upstream, sizeof t->upstream) != 0) {
        perror("wire tap: connect to upstream");
        break;
      }
    }
    if (!write_all(c->ufd, in.d, total)) break;
    consume(&in, total);
    if (!read_message(c->ufd, &out, &head_len, &total) || !write_all(c->cfd, out.d, total)) break;
    consume(&out, total);
  }
  free(in.d);
  free(out.d);
  shutdown(c->cfd, SHUT_RDWR);
  return NULL;
}

static void *accept_loop(void *arg) {
  wire_tap *t = arg;
  for (;;) {
    int fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 || atomic_load(&t->stopping)) {
      if (fd >= 0) close(fd);
      return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_mutex_lock(&t->mu);
    tap_conn *c = t->n_conns < TAP_MAX_CONNS ? &t->conns[t->n_conns] : NULL;
    if (c) {
      *c = (tap_conn){t, fd, -1, 0};
      if (pthread_create(&c->thread, NULL, relay, c) == 0) t->n_conns++;
      else c = NULL;
    }
    pthread_mutex_unlock(&t->mu);
    if (!c) {
      fprintf(stderr, "wire tap: connection refused (%d open at most)\n", TAP_MAX_CONNS);
      close(fd);
    }
  }
}

wire_tap *wire_tap_start(const char *upstream) {
  unsigned a, b, c, d, port;
  if (sscanf(upstream, "http://%u.%u.%u.%u:%u", &a, &b, &c, &d, &port) != 5 || a > 255 || b > 255 || c > 255 ||
      d > 255 || port > 65535) {
    fprintf(stderr, "wire tap: upstream %s is not http://IPv4:PORT\n", upstream);
    return NULL;
  }
  wire_tap *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->upstream = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                     .sin_addr.s_addr = htonl(a << 24 | b << 16 | c << 8 | d)};
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof me;
  t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&me, sizeof me) != 0 || listen(t->lfd, 16) != 0 ||
      getsockname(t->lfd, (struct sockaddr *)&me, &len) != 0) {
    perror("wire tap: listen");
    if (t->lfd >= 0) close(t->lfd);
    free(t);
    return NULL;
  }
  snprintf(t->url, sizeof t->url, "http://127.0.0.1:%u", (unsigned)ntohs(me.sin_port));
  pthread_mutex_init(&t->mu, NULL);
  if (pthread_create(&t->acceptor, NULL, accept_loop, t) != 0) {
    close(t->lfd);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return NULL;
  }
  return t;
}

const char *wire_tap_url(const wire_tap *t) {
  return t->url;
}

size_t wire_tap_take(wire_tap *t, wire_request **out) {
  pthread_mutex_lock(&t->mu);
  *out = t->reqs;
  size_t n = t->n_reqs;
  t->reqs = NULL;
  t->n_reqs = t->cap_reqs = 0;
  pthread_mutex_unlock(&t->mu);
  return n;
}

void wire_requests_free(wire_request *r, size_t n) {
  for (size_t i = 0; i < n; i++) free(r[i].head), free(r[i].body);
  free(r);
}

void wire_tap_stop(wire_tap *t) {
  if (!t) return;
  atomic_store(&t->stopping, true);
  shutdown(t->lfd, SHUT_RDWR); /* wakes accept() (Linux) */
  pthread_join(t->acceptor, NULL);
  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; i < t->n_conns; i++) {
    shutdown(t->conns[i].cfd, SHUT_RDWR);
    if (t->conns[i].ufd >= 0) shutdown(t->conns[i].ufd, SHUT_RDWR);
  }
  size_t n = t->n_conns;
  pthread_mutex_unlock(&t->mu);
  for (size_t i = 0; i < n; i++) {
    pthread_join(t->conns[i].thread, NULL);
    close(t->conns[i].cfd);
    if (t->conns[i].ufd >= 0) close(t->conns[i].ufd);
  }
  close(t->lfd);
  wire_requests_free(t->reqs, t->n_reqs);
  pthread_mutex_destroy(&t->mu);
  free(t);
}
