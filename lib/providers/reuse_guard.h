/*
 * providers/reuse_guard.h - never reuse an HTTP/1.x connection on which
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
 * before anything is sent on it) on every transfer that stays HTTP/1.x,
 * and tells the guard which socket each such transfer left idle in the
 * pool, by its local port (the callback learns the connection's addresses,
 * not its socket). When a transfer then reuses a connection whose socket
 * holds unread bytes, the guard shuts the socket down: libcurl's send
 * fails on a reused connection, and libcurl 7.88 answers that by closing
 * it and sending the request again on a fresh connection
 * (Curl_retry_request), unseen by hookline and by the server.
 *
 * Limits. Bytes that arrive after the request left cannot be told from
 * its answer (the window is one round trip: the server sent them before
 * it read the request). Over TLS, excess that came in the same TLS record
 * as the end of the body is decrypted and held inside the TLS library,
 * where no socket check sees it (http.c keeps the 4 KB receive buffer
 * there, in which libcurl sees excess of a small answer itself).
 *
 * Internal to lib/providers. One guard per event loop, used only by the
 * thread that drives that loop (not thread-safe).
 */
#ifndef HL_PROVIDERS_REUSE_GUARD_H
#define HL_PROVIDERS_REUSE_GUARD_H

#include <curl/curl.h>
#include <stdbool.h>

typedef struct hl__reuse_guard {
  /* Socket + 1 of the idle connection with that local port (0: none);
   * 65,536 entries allocated at the first record, pages touched only for
   * the ports in use. A stale entry (the connection closed since, the
   * number reused) is harmless: a socket is touched only after its
   * addresses matched the connection being reused. */
  int *fd_by_port;
} hl__reuse_guard;

/* A transfer that stays HTTP/1.x ended well and left its connection
 * (socket `sock`, local port `local_port`) idle in the pool. Nothing is
 * recorded when memory for the table runs out (the check is then
 * skipped, as before the guard). */
void hl__reuse_guard_idle(hl__reuse_guard *g, curl_socket_t sock, long local_port);

/* The check of CURLOPT_PREREQFUNCTION for the transfer on `easy`
 * (arguments as libcurl passes them): if the transfer reuses a
 * connection (CURLINFO_NUM_CONNECTS 0) recorded idle whose socket holds
 * unread bytes, shut that socket down (libcurl then retries on a fresh
 * connection, see the top). True when it did. */
bool hl__reuse_guard_check(hl__reuse_guard *g, CURL *easy, const char *peer_ip,
                           const char *local_ip, int peer_port, int local_port);

#endif
