/*
 * net/reuse_guard.h - never reuse an HTTP/1.x connection on which
 * the server sent bytes nobody asked for.
 *
 * Why. libcurl 7.88 reads a body exactly up to its Content-Length: bytes
 * a server sends beyond it (a wrong length, or a whole second response
 * smuggled after the first) stay unread on the keep-alive connection,
 * unless they came in the same read as the end of the body (then libcurl
 * closes the connection, "excess found in a read"). Its check before it
 * reuses an idle connection (Curl_conn_is_alive in lib/cf-socket.c: a
 * zero-timeout poll, then a one-byte MSG_PEEK) takes a socket with unread
 * bytes for a live one; only a bare FIN counts as dead. The next request
 * on that connection then read those bytes as (the start of) its answer.
 * Over HTTP/1.x nothing may arrive on an idle connection: any byte found
 * there before a request is sent cannot be that request's answer.
 *
 * How. The engine (engine.c) arms libcurl's pre-request callback
 * (CURLOPT_PREREQFUNCTION: called once a connection was picked or made,
 * before anything is sent on it) on every transfer, whatever HTTP version
 * it asked for, and records in the guard the socket that a transfer left
 * idle in the pool when its response was HTTP/1.x (CURLINFO_HTTP_VERSION):
 * over https:// in the default mode ALPN decides, and a server that
 * offers only http/1.1 (most self-hosted OpenAI-compatible servers behind
 * TLS) gets the guard as plain http:// does. An HTTP/2 connection is never
 * recorded, so never peeked at nor shut down: it is shared by the streams
 * in flight on it, and bytes on it between requests are normal (another
 * stream's data, a PING, SETTINGS). When a transfer then reuses a recorded
 * connection whose socket holds unread bytes, the guard shuts the socket
 * down: libcurl's send fails on a reused connection, and libcurl 7.88
 * answers that by closing it and sending the request again on a fresh
 * connection (Curl_retry_request), unseen by hookline and by the server.
 * Over TLS the bytes peeked at are the encrypted records that came unasked
 * (the TLS library reads a record only when asked for data): their
 * presence is enough to know the connection is dirty.
 *
 * Which socket. The callback learns the connection's addresses, not its
 * socket, so recorded sockets are found by local port; each entry keeps
 * the socket's inode (fstat), which names one socket for its whole life.
 * A socket is shut down only if it is the one recorded (same inode: a
 * descriptor closed since and its number taken by another socket, of this
 * loop or any thread's, is left alone) and it is the connection being
 * reused (its four addresses are those libcurl reports for it; a local
 * port can serve connections to several servers). An entry is kept across
 * reuses (a connection that serves an HTTP/1.x response again records the
 * same) and dropped when its socket is found closed or replaced.
 *
 * Limits. Bytes that arrive after the request left cannot be told from
 * its answer (the window is one round trip: the server sent them before
 * it read the request). Over TLS, excess that came in the same TLS record
 * as the end of the body is decrypted and held inside the TLS library
 * (OpenSSL), where no socket check sees it: libcurl sees it only when its
 * read of the body's end takes it too (http.c keeps the 4 KB receive
 * buffer over TLS for that, enough for a small answer's end and what
 * follows it in the record); excess held there beyond that read can
 * answer the next request on the connection.
 *
 * Internal to lib/net. One guard per event loop, used only by the
 * thread that drives that loop (not thread-safe).
 */
#ifndef HL_NET_REUSE_GUARD_H
#define HL_NET_REUSE_GUARD_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

/* An idle HTTP/1.x connection's socket, as recorded. */
typedef struct hl__reuse_idle {
  int fd_plus1; /* its descriptor + 1; 0: no entry */
  /* Its inode's number. Linux numbers socket inodes with 32 bits
   * (get_next_ino), so these are all of it. */
  uint32_t ino;
} hl__reuse_idle;

typedef struct hl__reuse_guard {
  /* By local port; 65,536 entries allocated at the first record, pages
   * touched only for the ports in use. */
  hl__reuse_idle *by_port;
} hl__reuse_guard;

/* A transfer ended well with an HTTP/1.x response and left its
 * connection (socket `sock`, local port `local_port`) idle in the pool.
 * Never call it for an HTTP/2 connection. Nothing is recorded when memory
 * for the table runs out or the socket cannot be examined (the check is
 * then skipped for that connection, as before the guard). */
void hl__reuse_guard_idle(hl__reuse_guard *g, curl_socket_t sock, long local_port);

/* The check of CURLOPT_PREREQFUNCTION for the transfer on `easy`
 * (arguments as libcurl passes them): if the transfer reuses a
 * connection (CURLINFO_NUM_CONNECTS 0) recorded idle whose socket holds
 * unread bytes, shut that socket down (libcurl then retries on a fresh
 * connection, see the top). True when it did. */
bool hl__reuse_guard_check(hl__reuse_guard *g, CURL *easy, const char *peer_ip,
                           const char *local_ip, int peer_port, int local_port);

#endif
