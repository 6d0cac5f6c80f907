/*
 * tests/store/slow_proxy.h - a TCP proxy in the test process, in front of
 * the test's real PostgreSQL (its unix socket) or Redis (TCP), that can
 * turn into the servers the store's cut must not wait for:
 *
 *   PROXY_FORWARD  bytes pass both ways as they come
 *   PROXY_TRICKLE  the server's bytes reach the client one at a time,
 *                  PROXY_TRICKLE_MS apart: a server never silent for the
 *                  cut's grace, whose answer takes seconds
 *   PROXY_DEAF     the connections open are dropped and new ones are
 *                  never accepted: the listen queue is kept full, so a
 *                  client's SYN goes unanswered and its connect hangs
 *   PROXY_MUTE     the connections open are dropped and new ones wait in
 *                  the listen queue, never accepted: the client's connect
 *                  completes (the kernel's handshake), and nothing it
 *                  sends is ever answered (a stopped server)
 *
 * One thread polls the listener and every connection; the test switches
 * the mode at any time (proxy_mode).
 */
#ifndef HL_TEST_SLOW_PROXY_H
#define HL_TEST_SLOW_PROXY_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { PROXY_FORWARD, PROXY_TRICKLE, PROXY_DEAF, PROXY_MUTE };
#define PROXY_TRICKLE_MS 150 /* under the cut's 250 ms grace, with room for a loaded machine */
#define PROXY_PAIRS 32

typedef struct slow_proxy {
  int listener, port, filler;
  struct sockaddr_storage up; /* the real server */
  socklen_t up_len;
  int client[PROXY_PAIRS], server[PROXY_PAIRS]; /* -1: free slot */
  long long trickled_at[PROXY_PAIRS];           /* ms of the last byte trickled */
  atomic_int mode;
  atomic_bool stop;
  pthread_t thread;
} slow_proxy;

static inline long long proxy_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static inline void proxy_drop(slow_proxy *p, int i) {
  close(p->client[i]);
  close(p->server[i]);
  p->client[i] = p->server[i] = -1;
}

/* Write all of buf (the peer is a live client or server). */
static inline bool proxy_write(int fd, const char *buf, ssize_t n) {
  for (ssize_t w; n > 0; buf += w, n -= w)
    if ((w = send(fd, buf, (size_t)n, MSG_NOSIGNAL)) <= 0) return false;
  return true;
}

static inline void proxy_accept(slow_proxy *p) {
  int c = accept(p->listener, NULL, NULL);
  if (c < 0) return;
  int s = socket(p->up.ss_family, SOCK_STREAM, 0);
  int i = 0;
  while (i < PROXY_PAIRS && p->client[i] >= 0) i++;
  if (s < 0 || i == PROXY_PAIRS || connect(s, (struct sockaddr *)&p->up, p->up_len) != 0) {
    close(c);
    if (s >= 0) close(s);
    return;
  }
  p->client[i] = c;
  p->server[i] = s;
  p->trickled_at[i] = 0;
}

/* PROXY_DEAF begins: drop every connection, shrink the listen queue to
 * one and fill it, so that the kernel answers no SYN either. */
static inline void proxy_go_deaf(slow_proxy *p) {
  for (int i = 0; i < PROXY_PAIRS; i++)
    if (p->client[i] >= 0) proxy_drop(p, i);
  listen(p->listener, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  p->filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (p->filler >= 0) connect(p->filler, (struct sockaddr *)&a, sizeof a);
}

static inline void *proxy_main(void *arg) {
  slow_proxy *p = arg;
  char buf[65536];
  int was = PROXY_FORWARD;
  while (!atomic_load(&p->stop)) {
    int mode = atomic_load(&p->mode);
    if (mode == PROXY_DEAF && was != PROXY_DEAF) proxy_go_deaf(p);
    if (mode == PROXY_MUTE && was != PROXY_MUTE)
      for (int i = 0; i < PROXY_PAIRS; i++)
        if (p->client[i] >= 0) proxy_drop(p, i);
    if (mode != PROXY_DEAF && was == PROXY_DEAF) {
      listen(p->listener, 16);
      if (p->filler >= 0) close(p->filler);
      p->filler = -1;
    }
    was = mode;
    struct pollfd f[1 + 2 * PROXY_PAIRS];
    int where[1 + 2 * PROXY_PAIRS], n = 0;
    long long now = proxy_ms();
    if (mode != PROXY_DEAF && mode != PROXY_MUTE) {
      f[n] = (struct pollfd){.fd = p->listener, .events = POLLIN};
      where[n++] = -1;
    }
    for (int i = 0; i < PROXY_PAIRS; i++) {
      if (p->client[i] < 0) continue;
      f[n] = (struct pollfd){.fd = p->client[i], .events = POLLIN};
      where[n++] = i;
      bool due = mode != PROXY_TRICKLE || now - p->trickled_at[i] >= PROXY_TRICKLE_MS;
      f[n] = (struct pollfd){.fd = p->server[i], .events = due ? POLLIN : 0};
      where[n++] = PROXY_PAIRS + i;
    }
    if (poll(f, (nfds_t)n, 10) <= 0) continue;
    for (int k = 0; k < n; k++) {
      if (!f[k].revents) continue;
      if (where[k] < 0) {
        proxy_accept(p);
        continue;
      }
      int i = where[k] % PROXY_PAIRS;
      bool from_server = where[k] >= PROXY_PAIRS;
      if (p->client[i] < 0) continue; /* dropped by its other half */
      int in = from_server ? p->server[i] : p->client[i];
      int out = from_server ? p->client[i] : p->server[i];
      size_t want = from_server && mode == PROXY_TRICKLE ? 1 : sizeof buf;
      ssize_t got = recv(in, buf, want, 0);
      if (got <= 0 || !proxy_write(out, buf, got)) {
        proxy_drop(p, i);
        continue;
      }
      if (from_server) p->trickled_at[i] = proxy_ms();
    }
  }
  return NULL;
}

/* Listen on 127.0.0.1 (a free port, p->port) in front of the server at
 * `up` (`unix_path` set: that unix socket; else 127.0.0.1:tcp_port). */
static inline bool proxy_start(slow_proxy *p, const char *unix_path, int tcp_port) {
  memset(p, 0, sizeof *p);
  p->filler = -1;
  for (int i = 0; i < PROXY_PAIRS; i++) p->client[i] = p->server[i] = -1;
  if (unix_path) {
    struct sockaddr_un *u = (struct sockaddr_un *)&p->up;
    u->sun_family = AF_UNIX;
    snprintf(u->sun_path, sizeof u->sun_path, "%s", unix_path);
    p->up_len = sizeof *u;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&p->up;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)tcp_port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->up_len = sizeof *a;
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  p->listener = socket(AF_INET, SOCK_STREAM, 0);
  if (p->listener < 0 || bind(p->listener, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(p->listener, 16) != 0 || getsockname(p->listener, (struct sockaddr *)&a, &len) != 0)
    return false;
  p->port = ntohs(a.sin_port);
  atomic_init(&p->mode, PROXY_FORWARD);
  atomic_init(&p->stop, false);
  return pthread_create(&p->thread, NULL, proxy_main, p) == 0;
}

/* Switch the mode; returns once the proxy thread has seen it. */
static inline void proxy_mode(slow_proxy *p, int mode) {
  atomic_store(&p->mode, mode);
  usleep(50 * 1000); /* the thread looks at it every 10 ms */
}

static inline void proxy_stop(slow_proxy *p) {
  atomic_store(&p->stop, true);
  pthread_join(p->thread, NULL);
  for (int i = 0; i < PROXY_PAIRS; i++)
    if (p->client[i] >= 0) proxy_drop(p, i);
  if (p->filler >= 0) close(p->filler);
  close(p->listener);
}

#endif
