/*
 * reuse_guard.c - drop an idle HTTP/1.x connection that received bytes
 * nobody asked for, before a request is sent on it (see reuse_guard.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "net/reuse_guard.h"

#define PORTS 65536

/* The inode number of descriptor `fd`; false if it has none (closed). */
static bool inode_of(int fd, uint32_t *ino) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  *ino = (uint32_t)st.st_ino;
  return true;
}

void hl__reuse_guard_idle(hl__reuse_guard *g, curl_socket_t sock, long local_port) {
  if (sock == CURL_SOCKET_BAD || sock < 0 || local_port <= 0 || local_port >= PORTS) return;
  /* Asked every time, also for the descriptor recorded last at this port:
   * its number may name a new socket by now. */
  uint32_t ino;
  if (!inode_of((int)sock, &ino)) return;
  if (!g->by_port && !(g->by_port = calloc(PORTS, sizeof *g->by_port))) return;
  g->by_port[local_port] = (hl__reuse_idle){.fd_plus1 = (int)sock + 1, .ino = ino};
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
 * name one connection of the host: this tells the connection being
 * reused from another one that shares its local port. */
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
  if (!g->by_port || local_port <= 0 || local_port >= PORTS || !peer_ip || !local_ip) return false;
  hl__reuse_idle *e = &g->by_port[local_port];
  if (!e->fd_plus1) return false;
  long connects = 1;
  if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects) != CURLE_OK || connects != 0)
    return false; /* a connection of its own: nothing came before the request */
  int fd = e->fd_plus1 - 1;
  /* A peek first, the common case's only system call: it consumes
   * nothing, whatever the descriptor is now. */
  char byte;
  if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return false;
  uint32_t ino;
  if (!inode_of(fd, &ino) || ino != e->ino) {
    e->fd_plus1 = 0; /* the recorded socket was closed since */
    return false;
  }
  /* The recorded socket, but maybe another connection from the same
   * local port (to another server) than the one being reused: its entry
   * stays for its own reuse. */
  if (!is_connection(fd, local_ip, local_port, peer_ip, peer_port)) return false;
  /* Not close(): the descriptor stays libcurl's until it closes it after
   * the failed send. */
  shutdown(fd, SHUT_RDWR);
  e->fd_plus1 = 0;
  return true;
}
