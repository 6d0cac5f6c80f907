/*
 * reuse_guard.c - drop an idle HTTP/1.x connection that received bytes
 * nobody asked for, before a request is sent on it (see reuse_guard.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "providers/reuse_guard.h"

#define PORTS 65536

void hl__reuse_guard_idle(hl__reuse_guard *g, curl_socket_t sock, long local_port) {
  if (sock == CURL_SOCKET_BAD || sock < 0 || local_port <= 0 || local_port >= PORTS) return;
  if (!g->fd_by_port && !(g->fd_by_port = calloc(PORTS, sizeof *g->fd_by_port))) return;
  g->fd_by_port[local_port] = (int)sock + 1;
}

/* Does `sa` hold the address `ip` (libcurl's numeric text) and `port`? */
static bool same_address(const struct sockaddr_storage *sa, const char *ip, int port) {
  unsigned char want[sizeof(struct in6_addr)];
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return ntohs(in->sin_port) == port && inet_pton(AF_INET, ip, want) == 1 &&
           memcmp(&in->sin_addr, want, sizeof in->sin_addr) == 0;
  }
  if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    return ntohs(in6->sin6_port) == port && inet_pton(AF_INET6, ip, want) == 1 &&
           memcmp(&in6->sin6_addr, want, sizeof in6->sin6_addr) == 0;
  }
  return false;
}

/* Is `fd` the TCP connection between these two ends? Its four addresses
 * name one connection of the host: this tells a recorded socket from
 * whatever took its number since. */
static bool is_connection(int fd, const char *local_ip, int local_port, const char *peer_ip,
                          int peer_port) {
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0 || !same_address(&sa, local_ip, local_port))
    return false;
  len = sizeof sa;
  return getpeername(fd, (struct sockaddr *)&sa, &len) == 0 && same_address(&sa, peer_ip, peer_port);
}

bool hl__reuse_guard_check(hl__reuse_guard *g, CURL *easy, const char *peer_ip,
                           const char *local_ip, int peer_port, int local_port) {
  if (!g->fd_by_port || local_port <= 0 || local_port >= PORTS || !peer_ip || !local_ip) return false;
  long connects = 1;
  if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK || connects != 0)
    return false; /* a connection of its own: nothing came before the request */
  int fd = g->fd_by_port[local_port] - 1;
  /* In use from now on; the transfer records it again when it ends. */
  g->fd_by_port[local_port] = 0;
  if (fd < 0) return false;
  /* A peek first, the common case's only system call: it consumes
   * nothing, whatever the descriptor is now. */
  char byte;
  if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return false;
  if (!is_connection(fd, local_ip, local_port, peer_ip, peer_port)) return false;
  /* Not close(): the descriptor stays libcurl's until it closes it after
   * the failed send. */
  shutdown(fd, SHUT_RDWR);
  return true;
}
