/*
 * hookline/pool.h - the process's HTTP connection pool: its limits.
 *
 * Every HTTP request of every provider (OpenAI, Anthropic, and whatever
 * runs on them) goes through the process's event loops (one per CPU, at
 * most 4: hookline/engine.h), each a library thread driving libcurl multi
 * handles. A loop's handles own its connection pool and DNS cache, shared
 * by the runs pinned to that loop (a run's requests, or a blocking
 * caller's thread's, all use one loop): keep-alive connections are
 * reused by any later request to the same host, HTTP/2 connections are
 * multiplexed when the server offers HTTP/2 (over TLS, by ALPN), and
 * requests beyond the connection caps wait in a queue for a free
 * connection instead of failing. (With more than a few hundred requests in
 * flight at once the pool is split internally into up to 32 partitions,
 * filled one after the other, because libcurl scans its connection list on
 * every transfer; the caps below are shared out between them, and between
 * the loops: a cap under 512 keeps every request on one loop, so that it
 * holds exactly.) An idle HTTP/1.1 connection on which the server sent
 * bytes nobody asked for (more than its Content-Length said, a second
 * response after the first) is never reused, whatever HTTP version the
 * request asked for (over https:// in the default mode, a server that
 * offers only HTTP/1.1 by ALPN gets this too): the request that would have
 * taken it goes out on a new connection, so it cannot read those bytes as
 * its answer. (Over TLS, bytes that came in the same TLS record as the
 * end of an answer are held by the TLS library, out of this check's
 * sight unless libcurl read them with the answer's end; bytes a server
 * sends after a request left cannot be told from its answer. HTTP/2
 * connections are not checked: bytes between requests are normal there.)
 *
 * The defaults follow the process's open-file limit (RLIMIT_NOFILE, soft)
 * read when the loop starts (the first request): three quarters of it for
 * the per-host cap, the total cap and the idle connections kept, at least
 * 16 each. An application expecting N concurrent requests to one HTTP/1.1
 * server (one connection each) raises its soft limit before the first
 * request, or sets the caps here. The library never changes the limit
 * itself.
 *
 *   hl_pool_setopt(HL_POOL_MAX_HOST_CONNECTIONS, 256);  // at most 256 sockets per host
 *
 * Thread-safety: both functions may be called from any thread at any time;
 * a new value applies to requests started afterwards (caps of the multi
 * handle apply as soon as the loop sees them).
 */
#ifndef HOOKLINE_POOL_H
#define HOOKLINE_POOL_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hl_pool_option {
  /** Connections open at once to one host:port (CURLMOPT_MAX_HOST_CONNECTIONS);
   *  0 = no cap. Requests beyond it queue. */
  HL_POOL_MAX_HOST_CONNECTIONS = 1,
  /** Connections open at once in total (CURLMOPT_MAX_TOTAL_CONNECTIONS);
   *  0 = no cap. Requests beyond it queue. */
  HL_POOL_MAX_TOTAL_CONNECTIONS = 2,
  /** Idle keep-alive connections kept for reuse (CURLMOPT_MAXCONNECTS);
   *  at least 1. */
  HL_POOL_MAX_IDLE_CONNECTIONS = 3,
  /** Seconds a resolved host name is cached (CURLOPT_DNS_CACHE_TIMEOUT);
   *  default 60, -1 = forever, 0 = no cache. */
  HL_POOL_DNS_CACHE_SECONDS = 4,
  /** 1 (default): multiplex requests over HTTP/2 connections when the
   *  server offers it; 0: one request per connection at a time. */
  HL_POOL_MULTIPLEX = 5,
  /** HTTP/2 streams (requests) at most on one connection
   *  (CURLMOPT_MAX_CONCURRENT_STREAMS), 1 to 2147483647; the server's own
   *  limit (SETTINGS_MAX_CONCURRENT_STREAMS) wins when it is lower. Default
   *  1000, not libcurl's 100: with libcurl 7.88 a request that finds every
   *  connection full opens a new one, and so does every request after it
   *  until that connection's TLS handshake is done, so a low limit under a
   *  burst of requests opened hundreds of connections where a few would do
   *  (BENCHMARKS.md, concurrent_slow). The pool also puts no more
   *  requests in one of its partitions than this, so that they fit one
   *  connection: against a server that allows fewer streams than 1000
   *  (many allow 100 to 256), set this to the server's limit, and a burst
   *  of N requests opens about N / limit connections instead of one per
   *  request (measured: 1,000 sessions against a server allowing 128, 622
   *  connections and 1,627 us CPU per session left at 1000; 9 and 392 us
   *  at 128). A lower value also spreads the requests over more
   *  connections (a load balancer that balances connections). */
  HL_POOL_MAX_STREAMS = 6,
} hl_pool_option;

/** Which HTTP version a provider speaks (hl_openai_set_http_version() and
 *  its peers; "http_version" in a config file's provider section):
 *  - HL_HTTP_VERSION_AUTO (default): libcurl's choice: HTTP/2 over https://
 *    when the server offers it by ALPN, else HTTP/1.1; HTTP/1.1 over http://.
 *  - HL_HTTP_VERSION_1_1: HTTP/1.1 always (one request per connection at a
 *    time).
 *  - HL_HTTP_VERSION_2: HTTP/2. Over https:// by ALPN (falling back to
 *    HTTP/1.1 if the server does not offer it); over http:// with prior
 *    knowledge (h2c: the server must speak HTTP/2 on that port, as
 *    vLLM-style gateways, Envoy or nghttpx can; an HTTP/1.1-only server
 *    fails the request with HL_ERR_NETWORK).
 *  With HTTP/2 and HL_POOL_MULTIPLEX on (the default), concurrent requests
 *  to one host share a few connections as streams instead of one
 *  connection each; each request keeps its own timeouts, retries, size
 *  cap, streaming and cancellation (a cancelled request resets its
 *  stream, not the connection). One limit: libcurl before 7.89.0 (Debian
 *  12 has 7.88.1) fails a request on a reused h2c connection (curl issue
 *  #10634), so there each h2c request (http://) opens a connection of its
 *  own and closes it: correct, but not multiplexed, and at scale dearer than
 *  HTTP/1.1 with keep-alive (10,000 concurrent runs: about twice the CPU,
 *  connections and memory; BENCHMARKS.md, concurrent_slow): leave h2c off
 *  with such a libcurl. HTTP/2 over https:// is not affected. */
typedef enum hl_http_version {
  HL_HTTP_VERSION_AUTO = 0,
  HL_HTTP_VERSION_1_1 = 1,
  HL_HTTP_VERSION_2 = 2,
} hl_http_version;

/** Set one limit of the process's pool. HL_ERR_INVALID (with a message)
 *  for an unknown option or a value out of range: negative caps, idle < 1,
 *  DNS cache < -1, multiplex other than 0/1, streams < 1. Thread-safe. */
HL_API hl_status hl_pool_setopt(hl_pool_option option, long value);

/** Read one limit as it applies now (the default's value when unset; a
 *  default tied to the open-file limit is computed from the current
 *  limit until the loop starts). HL_ERR_INVALID for an unknown option or
 *  a NULL `value`. Thread-safe. */
HL_API hl_status hl_pool_getopt(hl_pool_option option, long *value);

#ifdef __cplusplus
}
#endif
#endif
