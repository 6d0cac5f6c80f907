/*
 * net/http.h - the one HTTP layer of hookline, over libcurl.
 *
 * What it adds to libcurl, and why:
 *  - one event loop and one connection pool for the process (engine.h):
 *    a request is a small state machine run by the loop thread; the
 *    calling thread submits it and sleeps on a condition variable until
 *    it ends, so thousands of requests in flight cost no thread wake-ups;
 *    keep-alive connections, HTTP/2 multiplexing and the DNS cache are
 *    shared by every client (hookline/pool.h sets the pool's limits);
 *  - timeouts: connect, total (curl's, driven by the loop's timer), and
 *    "idle" (no byte received for that long, which is also how a server
 *    that never answers is detected): a timer of the loop;
 *  - retries with exponential backoff and jitter on connection errors and
 *    on 408/409/429/5xx, honouring Retry-After / retry-after-ms, never on
 *    other 4xx and never once streamed bytes reached the caller; the wait
 *    is a timer of the loop, not a sleeping thread; a server that asks to
 *    wait longer than retry_max_ms gets no retry: its answer comes back at
 *    once (retry_after_refused_ms says what it asked);
 *  - a reply that is not HTTP is an HL_ERR_PROVIDER error quoting its
 *    first bytes (not a "bad URL");
 *  - a response size cap;
 *  - cancellation from another thread without polling:
 *    hl__http_cancel_all() and hl_agent_cancel() (through
 *    core/cancel_notify.h) wake the loop, which checks the requests it
 *    serves and ends the cancelled ones at once;
 *  - secrets (API keys) redacted from every message it produces;
 *  - only http:// and https:// URLs (any case): anything else, a URL
 *    without a scheme too, fails with HL_ERR_INVALID before libcurl sees
 *    it (libcurl would read file:// URLs or guess FTP for an "ftp." host).
 *
 * Which thread runs what: libcurl, header parsing, buffering of whole
 * bodies, timers and retries run on the loop thread (the library's, or
 * the application's thread inside hl_engine_process(), hookline/engine.h).
 * For hl__http_request_start() the sink and the completion run there too;
 * the rest of this paragraph is about hl__http_request_send(). The streaming sink
 * (on_data) always runs on the thread that called hl__http_request_send():
 * the loop hands it the bytes (pausing the transfer while 1 MiB waits
 * unconsumed), so decoders, observers and token callbacks never run on
 * the loop thread. The `cancelled` predicate runs on the loop thread (it
 * must be thread-safe, as hl_context_cancelled() is) when a cancellation
 * is announced, before each attempt and before each retry.
 *
 * Internal to the library; tests and bench/ use it directly.
 *
 * Thread-safety: a client is used from many threads at once. Options must
 * be set before the requests that should see them (each request copies
 * them when it starts).
 */
#ifndef HL_NET_HTTP_H
#define HL_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "hookline/status.h"

typedef struct hl__http hl__http;

typedef struct hl__http_options {
  long connect_timeout_ms;   /* TCP/TLS connect; default 10 s */
  long timeout_ms;           /* whole request, 0 = none; default 600 s */
  long idle_timeout_ms;      /* no byte received for this long; default 120 s */
  int max_retries;           /* retries after the first attempt; default 3 */
  long retry_base_ms;        /* first backoff; doubles each retry; default 500 */
  long retry_max_ms;         /* cap on one wait, Retry-After included; default 60 s */
  size_t max_response_bytes; /* cap on a response body; default 8 MiB */
  int http_version;          /* hl_http_version (hookline/pool.h); default AUTO */
  const char *ca_file;       /* PEM file of the CAs trusted for https:// (CURLOPT_CAINFO);
                                NULL (default): libcurl's, the system's store. The string
                                is the client's (hl__http_set_ca_file()): copying the
                                options copies the pointer, valid while the client is */
} hl__http_options;

/* Defaults as documented above. */
void hl__http_options_default(hl__http_options *opts);

/* New client with `opts` (copied; NULL = defaults). NULL on failure, with
 * hl_last_error() set. Free with hl__http_free() once no request runs. */
hl__http *hl__http_new(const hl__http_options *opts);
void hl__http_free(hl__http *client);
/* The client's options (read-only view; change them with set_options). */
const hl__http_options *hl__http_get_options(const hl__http *client);
/* Replace the options (requests started afterwards use them). */
void hl__http_set_options(hl__http *client, const hl__http_options *opts);

/* Trust the CA certificates in the PEM file `path` (instead of the
 * system's store) for this client's https:// requests started afterwards;
 * NULL or "" goes back to the system's store. Verification stays on: a
 * server whose certificate does not chain to one of them fails with
 * HL_ERR_NETWORK and a message saying so. Checked here: HL_ERR_NOT_FOUND
 * for a file that does not exist, HL_ERR_IO for one that cannot be read,
 * HL_ERR_INVALID for one without a PEM certificate; `what` ("openai")
 * starts the message. The path is copied; earlier copies stay allocated
 * until hl__http_free(), so a request that started with one keeps a
 * valid pointer. Not thread-safe with other setters of the client. */
hl_status hl__http_set_ca_file(hl__http *client, const char *path, const char *what);
/* The check hl__http_set_ca_file() makes of `path` (non-NULL, non-empty),
 * for a caller that keeps the path until it has a client (MCP over
 * HTTP): the same statuses and messages. */
hl_status hl__http_check_ca_file(const char *path, const char *what);

/* Cancel every request of this client in progress, from any thread: they
 * end promptly with HL_ERR_CANCELLED. Requests started later run normally. */
void hl__http_cancel_all(hl__http *client);

/* Streaming sink: receives the body of a 2xx response as it arrives, on the
 * thread that called hl__http_request_send(). Return
 * HL_OK to go on; another status (message set with hl_fail) ends the
 * request with that status. */
typedef hl_status (*hl__http_data_fn)(const char *data, size_t len, void *user);
/* Cancellation predicate (may be NULL), checked on the loop thread when a
 * cancellation is announced (hl__ctx_notify_cancel()), before each attempt and
 * before each retry: never polled on a timer. Must be thread-safe. */
typedef bool (*hl__http_cancel_fn)(void *user);

typedef struct hl__http_request {
  const char *url;
  const char *body;          /* POST body (NULL: GET) */
  size_t body_len;
  const char *const *headers;/* "Name: value" lines */
  size_t n_headers;
  const char *secret;        /* redacted from every message (may be NULL) */
  const char *what;          /* message prefix, e.g. "openai" (may be NULL) */
  hl__http_data_fn on_data;  /* NULL: buffer the 2xx body into the response */
  void *data_user;
  hl__http_cancel_fn cancelled;
  void *cancel_user;
  const char *method;        /* e.g. "DELETE"; NULL: POST with a body, else GET (MCP) */
  const char *capture_header;/* a response header whose value resp->captured gets (MCP's
                                Mcp-Session-Id); NULL: none */
  /* Keep the answer's WWW-Authenticate values in resp->challenge (MCP's
   * OAuth reads a 401's or 403's challenge) and its DPoP-Nonce in
   * resp->dpop_nonce. */
  bool capture_challenge;
  /* Called with the status once a final (non-1xx) response's headers have
   * all arrived, before its body: MCP waits for its GET stream to be open.
   * Runs on the loop thread: must be short and thread-safe. May be NULL. */
  void (*on_headers)(long status, void *user);
  void *headers_user;
  /* A body that may go once sent (a model call's: ~1 KB of every request
   * in flight while the model thinks). `body_sent` is called on the loop
   * thread once libcurl has sent the whole body: `body` may be freed from
   * there on. Before the request is sent again (a retry, or libcurl's
   * resend on a new connection), `body_again` is called on the loop
   * thread and must set `body` and `body_len` again (the status with its
   * message set on failure, which ends the attempt). Both NULL: the body
   * stays until the call ends. */
  void (*body_sent)(void *user);
  hl_status (*body_again)(void *user);
  void *body_user;
  /* A cap on the body this layer buffers into resp->body (a non-2xx
   * answer's, or any answer's without on_data), for a client whose
   * max_response_bytes is 0 because its streams are long (MCP): an error
   * page must not grow without bound. Over it the request ends with
   * HL_ERR_TOO_LARGE, the message naming the status and the cap. 0: no
   * cap but the client's. */
  size_t max_buffered_bytes;
  /* This request's whole-request limit when shorter than the client's
   * timeout_ms (a request given what is left of a longer exchange's
   * limit); 0: the client's. */
  long timeout_ms;
  /* A server that stalls the request: it ends with HL_ERR_TIMEOUT once,
   * for this long, the server took no byte of the body (libcurl's upload
   * counter did not move, nor did the connection's send queue shrink:
   * the kernel takes megabytes at once, a slow reader drains them) and,
   * once the body was all taken, did not end its answer. Bytes of the
   * answer are no progress: meant for a body whose answer is short (MCP's
   * answers to a server get 202 without a body), where a server that
   * reads slowly is alive and one that takes nothing, or trickles its
   * answer, is not. Looked at every second (a timer of the loop); the
   * connect counts, a wait for a connection of the pool too. The last
   * part of a body, in the server's receive buffer, is out of sight.
   * 0: none. Besides the client's timeouts: a client without them (0)
   * serves it alone. */
  long stall_ms;
} hl__http_request;

typedef struct hl__http_response {
  long status;               /* final HTTP status (0 if none was received) */
  char *body;                /* buffered body, NUL-terminated (malloc'd), or NULL */
  size_t body_len;
  char *content_type;        /* malloc'd or NULL */
  int attempts;              /* how many requests were sent */
  /* > 0: the final answer was retryable but asked (Retry-After or
   * retry-after-ms) to wait this many ms, more than retry_max_ms, so it
   * was not retried; 0 otherwise. */
  double retry_after_refused_ms;
  char *captured;            /* value of req->capture_header (malloc'd) or NULL */
  char *challenge;           /* req->capture_challenge: the WWW-Authenticate values joined
                                with ", " (capped at 8 KiB, malloc'd), or NULL */
  char *dpop_nonce;          /* req->capture_challenge: the DPoP-Nonce value (malloc'd) or NULL */
} hl__http_response;

/*
 * Send the request, retrying as described above. Returns HL_OK when a
 * response arrived, whatever its status: a 2xx body went to on_data (or
 * into resp->body); a non-2xx body is always buffered into resp->body so
 * that the caller can read the server's error message (redacted). Returns
 * an error for transport failures: HL_ERR_NETWORK, HL_ERR_TIMEOUT,
 * HL_ERR_TOO_LARGE, HL_ERR_CANCELLED, or the status of on_data. Retryable
 * statuses are retried first; the last answer is what resp holds. Free
 * *resp with hl__http_response_clear() in every case.
 */
hl_status hl__http_request_send(hl__http *client, const hl__http_request *req,
                                hl__http_response *resp);
void hl__http_response_clear(hl__http_response *resp);

/* Completion of an asynchronous request: `st` and *resp as
 * hl__http_request_send() would return them (the message of a failure set
 * on the calling thread, hl_last_error()); *resp is the callee's to clear
 * with hl__http_response_clear(). Runs once, on the loop thread. */
typedef void (*hl__http_done_fn)(hl_status st, hl__http_response *resp, void *user);

/*
 * Start the request without waiting: the loop runs it as
 * hl__http_request_send() would, and calls `done` on the loop thread when
 * it ended. Differences: `req->on_data` runs on the loop thread (it must
 * not block: every request of the process waits meanwhile), and `req` with
 * everything it points to must stay valid until `done` runs. Returns HL_OK
 * once queued (then `done` runs exactly once, maybe before this returns),
 * else an error with its message set and `done` never runs. Thread-safe.
 */
hl_status hl__http_request_start(hl__http *client, const hl__http_request *req,
                                 hl__http_done_fn done, void *user);

/* Replace every occurrence of `secret` (if non-empty) in the NUL-terminated
 * `text` by "[REDACTED]", in place when it fits, else into a new buffer.
 * Returns the possibly reallocated text (NULL only on allocation failure,
 * then `text` is freed). */
char *hl__redact(char *text, const char *secret);
/* Redact into a fixed buffer (messages): copies `text` to `out` with every
 * `secret` replaced, truncating at out_size - 1. */
void hl__redact_into(char *out, size_t out_size, const char *text, const char *secret);

/* True for statuses this layer retries: 408, 409, 429, 5xx. */
bool hl__http_status_retryable(long status);

#endif
