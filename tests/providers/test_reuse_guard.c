/*
 * tests/providers/test_reuse_guard.c - the reuse guard
 * (lib/net/reuse_guard.h) on real TCP connections over loopback:
 * which socket it shuts down before a request would reuse a connection,
 * and which it must leave alone. libcurl's part (calling the check before
 * a request, resending after the shutdown) is the faults suite's
 * (excess_*): here the check gets the addresses libcurl would pass, and a
 * fresh easy handle, which has made no connection (CURLINFO_NUM_CONNECTS
 * 0, as for a reused connection).
 *
 * What it proves:
 *  - an idle recorded connection with nothing unread is left alone; one
 *    on which the server sent bytes is shut down (a send on it fails);
 *  - a stale entry never hits another connection: the recorded socket
 *    closed and its descriptor number taken by a new connection from the
 *    same local port, which has bytes unread and is the one being reused,
 *    is left alone (the socket's inode differs), and the entry is gone;
 *  - two live connections from one local port to two servers: checking
 *    the one not recorded leaves the recorded (dirty) one for its own
 *    reuse, which then shuts it down.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../check.h"
#include "net/reuse_guard.h"

static int port_of(int fd, bool peer) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len) : getsockname(fd, (struct sockaddr *)&sa, &len);
  return r == 0 ? ntohs(sa.sin_port) : -1;
}

/* The clients' own loopback address. A port that connect() picked is
 * shared with other processes' connections to other servers (the kernel
 * keeps only the four addresses unique), and a bind() of that port on
 * 127.0.0.1 then fails whenever one of them holds it too (EADDRINUSE
 * under load): on an address of their own, the clients bind ports that
 * nobody else uses. */
#define CLIENT_IP "127.0.0.21"

static struct sockaddr_in loopback(const char *ip, int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

/* A listening socket on 127.0.0.1, on an ephemeral port. */
static int listener(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = loopback("127.0.0.1", 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* A connection to listener `l` from CLIENT_IP and local port `local_port`
 * (0: any; else shared with other sockets, SO_REUSEADDR); *server gets
 * its other end. */
static int connect_to(int l, int local_port, int *server) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in local = loopback(CLIENT_IP, local_port), peer = loopback("127.0.0.1", port_of(l, false));
  const char *failed = NULL;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) failed = "bind";
  else if (connect(fd, (struct sockaddr *)&peer, sizeof peer) != 0) failed = "connect";
  else if ((*server = accept(l, NULL, NULL)) < 0) failed = "accept";
  if (failed) {
    fprintf(stderr, "%s from port %d: %s\n", failed, local_port, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Until `fd` has a byte to read (2 s at most). */
static bool readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 2000) == 1;
}

/* The check as libcurl's pre-request callback would run it for a request
 * reusing the connection on `fd`. */
static bool check_reuse(hl__reuse_guard *g, CURL *easy, int fd) {
  return hl__reuse_guard_check(g, easy, "127.0.0.1", CLIENT_IP, port_of(fd, true), port_of(fd, false));
}

/* Can a request still go out on `fd`? */
static bool sendable(int fd) { return send(fd, "GET", 3, MSG_NOSIGNAL) == 3; }

/* What each test has: a guard, an easy handle for its checks, two
 * servers listening, a connection to the first (c1, its server's end s1,
 * its local port). */
typedef struct rig {
  hl__reuse_guard g;
  CURL *easy;
  int l1, l2, c1, s1, port;
} rig;

static bool rig_open(rig *r) {
  *r = (rig){.easy = curl_easy_init(), .l1 = listener(), .l2 = listener(), .c1 = -1, .s1 = -1};
  if (r->l1 >= 0) r->c1 = connect_to(r->l1, 0, &r->s1);
  r->port = r->c1 >= 0 ? port_of(r->c1, false) : -1;
  return r->easy && r->l2 >= 0 && r->port > 0;
}

/* Close c1 and s1 (the server's end first: it keeps the TIME_WAIT, and
 * the local port is free again). */
static void rig_hang_up(rig *r) {
  if (r->s1 >= 0) close(r->s1);
  if (r->c1 >= 0) close(r->c1);
  r->c1 = r->s1 = -1;
}

static void rig_close(rig *r) {
  rig_hang_up(r);
  if (r->l1 >= 0) close(r->l1);
  if (r->l2 >= 0) close(r->l2);
  curl_easy_cleanup(r->easy);
  free(r->g.by_port);
}

static void dirty_connection_is_shut_down(void) {
  rig r;
  if (rig_open(&r)) {
    hl__reuse_guard_idle(&r.g, r.c1, r.port);
    CHECK(!check_reuse(&r.g, r.easy, r.c1)); /* nothing unread: reused as it is */
    CHECK(sendable(r.c1));
    CHECK_INT(send(r.s1, "HTTP/1.1 200 OK\r\n", 17, 0), 17); /* unasked */
    CHECK(readable(r.c1));
    CHECK(check_reuse(&r.g, r.easy, r.c1));
    CHECK(!sendable(r.c1));
    CHECK_INT(errno, EPIPE);
  } else {
    CHECK(!"set up");
  }
  rig_close(&r);
}

static void stale_entry_never_hits_another_connection(void) {
  rig r;
  int s2 = -1, c2 = -1, fd = -1;
  if (rig_open(&r)) {
    fd = r.c1;
    hl__reuse_guard_idle(&r.g, r.c1, r.port);
    rig_hang_up(&r);
    /* The lowest free number: c1's (s1's was above it). */
    c2 = connect_to(r.l2, r.port, &s2);
  }
  CHECK(c2 >= 0 && c2 == fd && port_of(c2, false) == r.port);
  if (c2 >= 0 && c2 == fd && port_of(c2, false) == r.port) {
    CHECK_INT(send(s2, "x", 1, 0), 1);
    CHECK(readable(c2));
    /* The entry's number and port, the reused connection's own
     * addresses: only the inode tells that it is not the socket
     * recorded. */
    CHECK(!check_reuse(&r.g, r.easy, c2));
    CHECK(sendable(c2));
    CHECK_INT(r.g.by_port[r.port].fd_plus1, 0); /* found stale, dropped */
  }
  if (c2 >= 0) {
    close(c2);
    close(s2);
  }
  rig_close(&r);
}

static void shared_local_port(void) {
  rig r;
  int s2 = -1, c2 = -1;
  if (rig_open(&r)) {
    /* Two connections from one local port, to two servers. */
    rig_hang_up(&r);
    r.c1 = connect_to(r.l1, r.port, &r.s1);
    c2 = connect_to(r.l2, r.port, &s2);
  }
  CHECK(r.c1 >= 0 && c2 >= 0);
  if (r.c1 >= 0 && c2 >= 0) {
    hl__reuse_guard_idle(&r.g, r.c1, r.port);
    CHECK_INT(send(r.s1, "x", 1, 0), 1);
    CHECK_INT(send(s2, "y", 1, 0), 1);
    CHECK(readable(r.c1) && readable(c2));
    CHECK(!check_reuse(&r.g, r.easy, c2)); /* not the one recorded */
    CHECK(sendable(r.c1) && sendable(c2));
    CHECK(check_reuse(&r.g, r.easy, r.c1)); /* its own reuse */
    CHECK(!sendable(r.c1));
    CHECK(sendable(c2));
  }
  if (c2 >= 0) {
    close(c2);
    close(s2);
  }
  rig_close(&r);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  RUN(dirty_connection_is_shut_down);
  RUN(stale_entry_never_hits_another_connection);
  RUN(shared_local_port);
  return CHECK_EXIT();
}
