/*
 * tests/providers/test_reuse_guard.c - the reuse guard
 * (lib/providers/reuse_guard.h) on real TCP connections over 127.0.0.1:
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
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../check.h"
#include "providers/reuse_guard.h"

static int port_of(int fd, bool peer) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len) : getsockname(fd, (struct sockaddr *)&sa, &len);
  return r == 0 ? ntohs(sa.sin_port) : -1;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

/* A listening socket on 127.0.0.1, on an ephemeral port. */
static int listener(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = loopback(0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* A connection to listener `l` from local port `local_port` (0: any; else
 * shared with other sockets, SO_REUSEADDR); *server gets its other end. */
static int connect_to(int l, int local_port, int *server) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in local = loopback(local_port), peer = loopback(port_of(l, false));
  if ((local_port && bind(fd, (struct sockaddr *)&local, sizeof local) != 0) ||
      connect(fd, (struct sockaddr *)&peer, sizeof peer) != 0 || (*server = accept(l, NULL, NULL)) < 0) {
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
  return hl__reuse_guard_check(g, easy, "127.0.0.1", "127.0.0.1", port_of(fd, true), port_of(fd, false));
}

/* Can a request still go out on `fd`? */
static bool sendable(int fd) { return send(fd, "GET", 3, MSG_NOSIGNAL) == 3; }

static void dirty_connection_is_shut_down(void) {
  hl__reuse_guard g = {0};
  CURL *easy = curl_easy_init();
  int l = listener(), s = -1;
  REQUIRE(easy && l >= 0);
  int c = connect_to(l, 0, &s);
  REQUIRE(c >= 0);
  hl__reuse_guard_idle(&g, c, port_of(c, false));
  CHECK(!check_reuse(&g, easy, c)); /* nothing unread: reused as it is */
  CHECK(sendable(c));
  CHECK_INT(send(s, "HTTP/1.1 200 OK\r\n", 17, 0), 17); /* unasked */
  REQUIRE(readable(c));
  CHECK(check_reuse(&g, easy, c));
  CHECK(!sendable(c));
  CHECK_INT(errno, EPIPE);
  close(c);
  close(s);
  close(l);
  curl_easy_cleanup(easy);
  free(g.by_port);
}

static void stale_entry_never_hits_another_connection(void) {
  hl__reuse_guard g = {0};
  CURL *easy = curl_easy_init();
  int l1 = listener(), l2 = listener(), s1 = -1, s2 = -1;
  REQUIRE(easy && l1 >= 0 && l2 >= 0);
  int c1 = connect_to(l1, 0, &s1);
  REQUIRE(c1 >= 0);
  int port = port_of(c1, false);
  hl__reuse_guard_idle(&g, c1, port);
  /* The server hangs up first (its side keeps the TIME_WAIT), then the
   * client: the descriptor number and the local port are free. */
  close(s1);
  close(c1);
  /* The lowest free number: c1's (s1's was above it). */
  int c2 = connect_to(l2, port, &s2);
  REQUIRE(c2 == c1);
  REQUIRE(port_of(c2, false) == port);
  CHECK_INT(send(s2, "x", 1, 0), 1);
  REQUIRE(readable(c2));
  /* The entry's number and port, the reused connection's own addresses:
   * only the inode tells that it is not the socket recorded. */
  CHECK(!check_reuse(&g, easy, c2));
  CHECK(sendable(c2));
  CHECK_INT(g.by_port[port].fd_plus1, 0); /* found stale, dropped */
  close(c2);
  close(s2);
  close(l1);
  close(l2);
  curl_easy_cleanup(easy);
  free(g.by_port);
}

static void shared_local_port(void) {
  hl__reuse_guard g = {0};
  CURL *easy = curl_easy_init();
  int l1 = listener(), l2 = listener(), s1 = -1, s2 = -1;
  REQUIRE(easy && l1 >= 0 && l2 >= 0);
  int c1 = connect_to(l1, 0, &s1);
  REQUIRE(c1 >= 0);
  int port = port_of(c1, false);
  close(c1);
  close(s1);
  /* Two connections from one local port, to two servers. */
  c1 = connect_to(l1, port, &s1);
  int c2 = connect_to(l2, port, &s2);
  REQUIRE(c1 >= 0 && c2 >= 0);
  hl__reuse_guard_idle(&g, c1, port);
  CHECK_INT(send(s1, "x", 1, 0), 1);
  CHECK_INT(send(s2, "y", 1, 0), 1);
  REQUIRE(readable(c1) && readable(c2));
  CHECK(!check_reuse(&g, easy, c2)); /* not the one recorded */
  CHECK(sendable(c1) && sendable(c2));
  CHECK(check_reuse(&g, easy, c1)); /* its own reuse */
  CHECK(!sendable(c1));
  CHECK(sendable(c2));
  close(c1);
  close(c2);
  close(s1);
  close(s2);
  close(l1);
  close(l2);
  curl_easy_cleanup(easy);
  free(g.by_port);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  RUN(dirty_connection_is_shut_down);
  RUN(stale_entry_never_hits_another_connection);
  RUN(shared_local_port);
  return CHECK_EXIT();
}
