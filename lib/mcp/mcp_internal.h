/*
 * lib/mcp/mcp_internal.h - the MCP client's private state, shared by the
 * files of lib/mcp: jsonrpc.c (message framing and ids), session.c
 * (requests, dispatch, initialize), era.c (the 2026-07-28 revision: era
 * detection, per-request _meta, input_required rounds), stdio.c and
 * http.c (the transports;
 * http.c's OAuth in oauth.h),
 * tools.c (tools/list and hl_tool mapping), worker.c (server requests,
 * list refreshes and events off the event loop).
 *
 * Threads: a stdio server's pipes are read by the library's event loop
 * (net/engine.h); what the loop must not run (observers, handlers,
 * requests of its own) goes to the client's worker thread, or to the
 * caller whose answer it preceded. HTTP requests run on the same loop,
 * their answers are decoded on the calling thread.
 */
#ifndef HL_MCP_INTERNAL_H
#define HL_MCP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hookline/mcp.h"
#include "hookline/context.h"
#include "net/engine.h"

#define HL_MCP_DEFAULT_TIMEOUT_MS 60000u
#define HL_MCP_DEFAULT_MAX_MESSAGE (16u << 20)
/* Cap on an HTTP answer's body that is no MCP message (an error page, a
 * 401's body, DELETE's answer): only its start is ever quoted. */
#define HL__MCP_MAX_OTHER_BODY (64u << 10)

typedef enum { HL__MCP_STDIO, HL__MCP_HTTP } hl__mcp_kind;

/* Which generation of the protocol the server speaks (2026-07-28
 * basic/versioning.mdx): unknown while connect probes, legacy (the
 * initialize handshake, sessions: 2025-11-25 and before) or modern
 * (stateless: every request carries _meta). A property of the server,
 * established once by hl_mcp_connect(). */
typedef enum { HL__MCP_ERA_UNKNOWN, HL__MCP_ERA_LEGACY, HL__MCP_ERA_MODERN } hl__mcp_era;

/* One request waiting for its answer. Lives on the requesting thread's
 * stack; linked into mcp->pending under mcp->lock while it waits. */
typedef struct hl__mcp_pending {
  int64_t id;
  const char *tool;          /* for progress events (may be NULL) */
  bool done;
  cJSON *response;           /* the whole response message, once done */
  hl_status fail;            /* transport/protocol failure instead of a response */
  char failmsg[600];
  cJSON *notes;              /* progress events to emit on the waiting thread */
  size_t n_notes, notes_bytes; /* ... how many, how large (HL_MCP_MAX_QUEUED_*) */
  bool cancelled;            /* its run was cancelled (hl_context_on_cancel) */
  int64_t deadline_ms;       /* monotonic; 0: no time limit (progress may move it) */
  int64_t started_ms;
  unsigned limit_ms;         /* the client's limits when it started */
  unsigned total_ms;         /* progress_resets only: the cap (0: none) */
  bool resets;               /* progress restarts limit_ms */
  uint64_t events_before;    /* queued events that came before its answer */
  int http_rpc_code;         /* failed with an HTTP 4xx whose body is a JSON-RPC
                              * error: its code (0: none; legacy servers) */
  struct hl__mcp_pending *next;
} hl__mcp_pending;

/* What the standard HTTP headers of a message say (2026-07-28
 * streamable-http.mdx): its method, and for tools/call and prompts/get
 * params.name, for resources/read params.uri (NULL: none). */
typedef struct hl__mcp_rpc {
  const char *method;
  const char *name;
} hl__mcp_rpc;

typedef struct hl__mcp_handler {
  char *method;
  hl_mcp_request_fn fn;
  void *user;
} hl__mcp_handler;

/* An event for the observers, queued by a thread that must not run them
 * (the event loop): a CUSTOM event (name, data), a stderr line (text), or
 * the report of `dropped` events dropped in a row over the queue's caps. */
typedef struct hl__mcp_later {
  char *name;
  char *text;
  cJSON *data;
  size_t weight;             /* its bytes, counted against HL_MCP_MAX_QUEUED_BYTES */
  uint64_t dropped;
  bool reserved;             /* a protocol error: never dropped (HL__MCP_RESERVED_ERRORS) */
  uint64_t repeats;          /* ... the protocol errors that came after it, coalesced */
  struct hl__mcp_later *next;
} hl__mcp_later;

/* Protocol errors queued beside the observers' caps: what a user must
 * see when a server misbehaves is never dropped by a flood of log
 * events. Beyond this many waiting, a new one is counted in the last
 * one's `repeated` instead (a server that sends only garbage). */
#define HL__MCP_RESERVED_ERRORS 8

/* The stdio transport's state (stdio.c). */
typedef struct hl__mcp_io hl__mcp_io;

typedef struct hl__mcp_job {
  cJSON *msg;                /* a server request; NULL: refresh the tool list */
  size_t weight;             /* msg's bytes, counted against HL_MCP_MAX_QUEUED_REQUEST_BYTES */
  struct hl__mcp_job *next;
} hl__mcp_job;

/* An answer of the client's (a ping's result, a refusal, a handler's
 * result) waiting for the sender thread (worker.c). */
typedef struct hl__mcp_reply {
  char *text;
  struct hl__mcp_reply *next;
} hl__mcp_reply;

struct hl_mcp {
  atomic_int refs;
  char *name;
  bool name_given;           /* false: hl_mcp_name() prefers serverInfo.name */
  hl__mcp_kind kind;

  /* configuration (before connect) */
  char **argv;
  char **env;                /* "KEY=value" or "KEY" (removed) */
  size_t n_env;
  char *cwd;
  char *url;
  char **headers;
  size_t n_headers;
  char *ca_file;             /* HTTP: PEM file of trusted CAs (NULL: the system's) */
  struct hl__oauth *oauth;   /* HTTP: OAuth (oauth.h), NULL: none */
  atomic_uint timeout_ms;     /* may change after connect (atomic) */
  atomic_bool progress_resets; /* notifications/progress restart a request's time limit */
  atomic_uint max_total_ms;  /* ... up to this much in all (0: no cap) */
  size_t max_message;
  char *prefix;
  char **include, **exclude;
  hl_observer **obs;
  size_t n_obs;
  hl__mcp_handler *handlers;
  size_t n_handlers;
  cJSON *roots;
  unsigned elicit_modes;     /* HL_MCP_ELICIT_* declared (0: form only) */

  /* state, under lock */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool connect_tried, connected, closed, dead;
  char dead_msg[600];        /* how the session ended ("exited with status 3") */
  /* Stdio: a write met EPIPE before the loop saw the server go; dead_msg
   * ("closed its stdin") is not final before this time (hl__engine_now_ms)
   * or io_done, whichever comes first (hl__mcp_dead_words). 0: final. */
  int64_t dead_unsure_until;
  char errmsg[1024];
  char version[32];
  hl__mcp_era era;           /* set by connect, then fixed */
  hl_mcp_era want_era;       /* hl_mcp_set_era(): AUTO unless configured */
  char log_level[16];        /* modern: requests' _meta logLevel ("": none) */
  cJSON *init_result;
  int64_t next_id;
  int active;                /* requests in roundtrip(); hl_mcp_free waits for 0 */
  hl__mcp_pending *pending;
  cJSON *tools_raw;          /* array of the server's Tool objects */
  hl_tool **tools;           /* mapped (filtered, prefixed) */
  size_t n_tools;
  int64_t tools_stale_ms;    /* when the list goes stale (ttlMs, tools.c); 0: never */
  atomic_uint generation;

  /* events queued for the observers (hl__mcp_event_later): emitted in
   * order by the worker, or by a caller whose answer came after them */
  hl__mcp_later *evq, *evq_tail;
  size_t ev_queued, ev_bytes; /* events in evq (reports aside), their weight */
  uint64_t ev_posted, ev_done;
  atomic_ullong ev_dropped;  /* over the caps, since the client was made */
  hl__mcp_later *ev_report;  /* the queued report that counts new drops, or NULL */
  size_t ev_errors;          /* protocol errors in evq (not counted in ev_queued) */
  hl__mcp_later *ev_last_error; /* the last of them, or NULL */
  bool ev_emitting;

  /* worker thread: server requests, list refreshes and queued events */
  pthread_t worker;
  pthread_cond_t jobs_cond;  /* the worker's own, so answers never wake it */
  bool worker_running, worker_stop;
  hl__mcp_job *jobs, *jobs_tail;
  size_t req_queued, req_bytes; /* server requests in jobs, their weight */
  atomic_ullong req_refused; /* over the caps (hl_mcp_requests_refused) */
  /* sender thread: every answer of the client goes out through it */
  pthread_t sender;
  bool sender_running;
  pthread_cond_t replies_cond; /* the sender's: an answer is queued */
  pthread_cond_t space_cond; /* an answer left (monotonic): readers blocked on a full queue */
  hl__mcp_reply *replies, *replies_tail;
  size_t n_replies;
  atomic_bool replies_full;  /* HL_MCP_MAX_QUEUED_REPLIES reached: stdout is not read */

  /* stdio transport */
  pid_t pid;
  int in_fd;                 /* the server's stdin (the client writes) */
  pthread_mutex_t write_lock;
  hl__mcp_io *io;            /* its stdout and stderr on the event loop */
  bool io_done;              /* under lock: the loop saw the server go */
  bool reaped;
  int exit_status;

  /* HTTP transport */
  struct hl__http *http;
  struct hl__http *listen_http; /* the GET stream's client (no timeouts) */
  struct hl__http *answer_http; /* the sender's: no timeouts, stall_ms instead */
  pthread_t listener;
  bool listener_running;
  bool listen_ready;         /* the GET stream is open, or will not be (under lock) */
  char *session_id;
  pthread_mutex_t reinit_lock; /* one new session at a time after a 404 */
  int protocol_header;       /* send MCP-Protocol-Version once negotiated */
};

/* ---- session.c ---- */
/* HL_OK while the client may still be configured (before connect). */
hl_status hl__mcp_configurable(hl_mcp *m, const char *what);
void hl__mcp_ref(hl_mcp *m);
void hl__mcp_unref(hl_mcp *m);
/* Record the client's last error and return `st` (also hl_fail). */
hl_status hl__mcp_fail(hl_mcp *m, hl_status st, const char *fmt, ...) HL_PRINTF(3, 4);
/* Send a request (params taken, may be NULL) and wait for its response
 * (whole message, caller frees). A JSON-RPC error response is returned as
 * HL_OK: look at "error". Modern era: the params get the revision's _meta,
 * and a -32022 naming our version, input_required rounds (the handlers
 * answer) and a broken stream are dealt with here: the response is the
 * final one. */
hl_status hl__mcp_roundtrip(hl_mcp *m, hl_context *ctx, const char *method, cJSON *params,
                            const char *tool, cJSON **response);
/* The same, and when the request failed with an HTTP error whose body
 * is a JSON-RPC error (a legacy server's 400; a modern one's is the
 * response), *http_rpc_code gets its code, else 0: what the error is,
 * read from the body, never from the message's text. */
hl_status hl__mcp_roundtrip_coded(hl_mcp *m, hl_context *ctx, const char *method, cJSON *params,
                                  const char *tool, cJSON **response, int *http_rpc_code);
/* Send a notification (params taken, may be NULL). */
hl_status hl__mcp_notify(hl_mcp *m, const char *method, cJSON *params);
/* Handle one message from the server (taken). `current` is the request
 * whose HTTP stream carried it (NULL for stdio), `ctx` its run. */
void hl__mcp_dispatch(hl_mcp *m, cJSON *msg, hl__mcp_pending *current, hl_context *ctx);
/* Handle one raw message text: size, UTF-8 and JSON checks, then dispatch. */
void hl__mcp_receive(hl_mcp *m, const char *text, size_t len, hl__mcp_pending *current,
                     hl_context *ctx);
/* Fail every request in flight (transport/protocol failure). */
void hl__mcp_fail_pending(hl_mcp *m, hl_status st, const char *msg);
/* The server broke the protocol: queue the "mcp.protocol_error" event
 * (never dropped), then fail every request in flight with `st`, `msg`. */
void hl__mcp_protocol_failure(hl_mcp *m, hl_status st, const char *msg);
/* Tell the client's observers (any thread). */
void hl__mcp_event(hl_mcp *m, hl_context *ctx, const char *name, cJSON *data /* taken */);
void hl__mcp_stderr_event(hl_mcp *m, const char *text);
/* Emit the progress events queued on `p` (waiting thread). */
void hl__mcp_flush_notes(hl_mcp *m, hl__mcp_pending *p, hl_context *ctx);
/* Queue an event for the observers (data taken) or a stderr line (text
 * copied) from a thread that must not run them (the event loop); the
 * worker emits it, or a caller whose answer came after it, before
 * that answer is returned: observers see what came first first. */
void hl__mcp_event_later(hl_mcp *m, const char *name, cJSON *data);
void hl__mcp_stderr_later(hl_mcp *m, const char *text);
/* Both are bounded (HL_MCP_MAX_QUEUED_EVENTS and _BYTES in mcp.h): what
 * is over is dropped and counted, and reported by one queued
 * "mcp.events_dropped" event per run of drops. */
/* What a message costs in memory, roughly: its nodes and their strings. */
size_t hl__mcp_json_weight(const cJSON *j);
/* Whether one more item of `weight` bytes fits beside `queued` items of
 * `bytes`, under the caps `max_n` and `max_bytes`. One item always fits,
 * however large: a message the size cap of hl_mcp_set_max_message_bytes()
 * let in is delivered alone. */
bool hl__mcp_fits(size_t queued, size_t bytes, size_t weight, size_t max_n, size_t max_bytes);
/* Emit queued events, in order, until `upto` of them were emitted
 * (UINT64_MAX: until none is queued). Not on the event loop. */
void hl__mcp_emit_later(hl_mcp *m, uint64_t upto);
/* Wait on m->cond (m->lock held) until woken or `deadline_ms`
 * (hl__engine_now_ms() clock; 0: no limit). False once the deadline passed. */
bool hl__mcp_wait(hl_mcp *m, int64_t deadline_ms);
/* How the session ended (m->dead; m->lock held) into `buf`: dead_msg once
 * final. A stdio server whose stdin refused a write (EPIPE) is usually
 * exiting: its exit is waited for (until m->dead_unsure_until) so that
 * every call names it, whichever of the two the client noticed first. */
void hl__mcp_dead_words(hl_mcp *m, char *buf, size_t size);

/* The client's capabilities as declared (initialize, and every modern
 * request's _meta): roots, sampling, elicitation only where the
 * application registered a handler (roots: or set roots). New object. */
cJSON *hl__mcp_client_capabilities(const hl_mcp *m);
/* {"name":"hookline","version":...}, new object. */
cJSON *hl__mcp_client_info(void);

/* HTTP: the session `expired` got 404: initialize a new one (unless
 * another thread already did). */
hl_status hl__mcp_reinitialize(hl_mcp *m, const char *expired);

/* ---- jsonrpc.c ---- */
char *hl__jsonrpc_request(int64_t id, const char *method, const cJSON *params);
char *hl__jsonrpc_notification(const char *method, const cJSON *params);
char *hl__jsonrpc_result(const cJSON *id, const cJSON *result);
char *hl__jsonrpc_error(const cJSON *id, int code, const char *message);
/* The request id of a response as an integer; false if it is not one. */
bool hl__jsonrpc_int_id(const cJSON *id, int64_t *out);
/* "error CODE: message" of a JSON-RPC error object into buf, with what
 * the MCP 2026-07-28 codes (-32020 to -32022) mean. */
void hl__jsonrpc_error_text(const cJSON *error, char *buf, size_t size);

/* ---- stdio.c ---- */
/* Spawn the server and hand its stdout and stderr to the event loop. */
hl_status hl__mcp_stdio_start(hl_mcp *m);
/* Write one message (waits while the server's stdin is full). A server
 * that takes none of its bytes for HL_MCP_ANSWER_TIMEOUT_MS is a dead
 * peer (hl__mcp_dead_peer()): HL_ERR_NETWORK with the session's message,
 * as for every write after it that finds stdin full. */
hl_status hl__mcp_stdio_send(hl_mcp *m, const char *text);
/* The same without waiting (a reading thread, the event loop among
 * them): false when it cannot go out at once, or failed. */
bool hl__mcp_stdio_try_send(hl_mcp *m, const char *text);
/* Read stdout again after the answers' queue was full (any thread). */
void hl__mcp_stdio_resume(hl_mcp *m);
/* A caller waits for `p` (m->lock held, and held again on return): it
 * reads the server's stdout itself while nobody else does, else sleeps
 * until woken; returns when something may have changed for `p`. */
void hl__mcp_stdio_wait(hl_mcp *m, hl__mcp_pending *p);
/* Wake the caller reading stdout (any thread): a cancel or the close. */
void hl__mcp_stdio_wake(hl_mcp *m);
void hl__mcp_stdio_close(hl_mcp *m);

/* ---- http.c ---- */
/* What ends an HTTP request of the client early: the client's close, or
 * the cancellation of the run `ctx` (may be NULL) that made it. */
typedef struct hl__mcp_cancel {
  hl_mcp *m;
  hl_context *ctx;
} hl__mcp_cancel;
/* hl__http_cancel_fn over a hl__mcp_cancel (any thread). */
bool hl__mcp_cancelled(void *cancel);
hl_status hl__mcp_http_start(hl_mcp *m);
/* POST one message (`rpc`, may be NULL: its Mcp-Method and Mcp-Name
 * headers). For a request (`p` not NULL) the answer's JSON or SSE
 * stream is read and dispatched until it ends. */
hl_status hl__mcp_http_send(hl_mcp *m, const char *text, const hl__mcp_rpc *rpc, hl__mcp_pending *p,
                            hl_context *ctx);
/* POST one answer of the client's (the sender thread), on its own HTTP
 * client: no time limit, but HL_ERR_TIMEOUT when the server makes no
 * progress with it for HL_MCP_ANSWER_TIMEOUT_MS (takes no byte of it,
 * or, once it took it all, does not end its response): a dead peer. */
hl_status hl__mcp_http_answer(hl_mcp *m, const char *text);
void hl__mcp_http_close(hl_mcp *m);
/* Open the standalone GET stream (legacy, after the handshake), or
 * subscriptions/listen's stream (modern), on a thread of its own that
 * keeps it open; returns once the server answered it (or 5 s). */
void hl__mcp_http_listen(hl_mcp *m);
/* What the transport does with the body of an answer to request `p`,
 * without a connection: `n` bytes fed in pieces of next(user) bytes (NULL:
 * all at once), JSON or SSE as the first byte says, then ended as at EOF.
 * HL_OK or the first failure (too large), as a live POST would see it.
 * For the fuzz target (tests/fuzz/fuzz_mcp.c), like hl__openai_wire. */
hl_status hl__mcp_http_decode(hl_mcp *m, hl__mcp_pending *p, const char *d, size_t n,
                              size_t (*next)(void *user), void *user);

/* ---- era.c ---- */
/* The modern revision hookline speaks. */
#define HL__MCP_MODERN_VERSION "2026-07-28"
/* Find out which era the server speaks (server/discover, with a retry
 * on UnsupportedProtocolVersionError): HL_OK with m->era MODERN (and
 * m->version, m->init_result set) or LEGACY (the caller runs the
 * initialize handshake), else the failure (recorded). */
hl_status hl__mcp_discover(hl_mcp *m);
/* The era hl_mcp_set_era() asked for, then (AUTO, MODERN) discovery:
 * as hl__mcp_discover(), and HL_ERR_UNSUPPORTED when MODERN was asked
 * and the server is legacy. */
hl_status hl__mcp_choose_era(hl_mcp *m);
/* A modern request's params (taken; NULL: a new object) with the
 * revision's _meta keys added; NULL when out of memory. */
cJSON *hl__mcp_with_meta(hl_mcp *m, cJSON *params);
/* What the server asked of a modern request, given its whole response
 * `resp` (borrowed): 0 nothing (a result or an error for the caller);
 * 1 retry as is (UnsupportedProtocolVersionError naming our version);
 * 2 input_required: `params` (borrowed) got inputResponses and
 * requestState for the retry, the handlers having run; -1 a failure
 * (hl_last_error(), the call fails with it). */
int hl__mcp_modern_next(hl_mcp *m, const char *method, const cJSON *resp, cJSON *params);
/* A modern server that announces tools.listChanged: subscribe to
 * notifications/tools/list_changed (subscriptions/listen; HTTP: a
 * stream kept open by a thread, stdio: one request whose stream is the
 * server's stdout). */
void hl__mcp_subscribe(hl_mcp *m);

/* ---- worker.c ---- */
/* Run the application's handler for the server request `method` (params
 * borrowed, may be NULL): HL_OK with *result (the caller's); HL_ERR_NOT_FOUND
 * when the client answers no such request; HL_ERR_INVALID_ARGUMENTS for
 * an elicitation in a mode the client did not declare (the handler does
 * not run); else the handler's failure (message in hl_last_error()). Legacy server requests and modern
 * inputRequests both go through here. */
hl_status hl__mcp_handle_request(hl_mcp *m, const char *method, const cJSON *params, cJSON **result);
hl_status hl__mcp_worker_start(hl_mcp *m);
/* A request of the server (taken; id and string method checked), from
 * the thread that read it: a ping is answered by the sender thread (over
 * stdio written at once when the server takes it without waiting);
 * others queue for the worker's handlers, or over
 * HL_MCP_MAX_QUEUED_REQUESTS are refused. With HL_MCP_MAX_QUEUED_REPLIES
 * answers waiting, an HTTP reading thread waits here for one to leave
 * (its stream is not read meanwhile), at most HL_MCP_ANSWER_TIMEOUT_MS
 * (then hl__mcp_dead_peer()); a stdio one sets m->replies_full, and
 * stops reading stdout after what it has read (stdio.c). */
void hl__mcp_server_request(hl_mcp *m, cJSON *msg);
/* The server took none of the client's answers for
 * HL_MCP_ANSWER_TIMEOUT_MS: mark the session dead (later calls fail at
 * once), drop the answers waiting, queue the mcp.protocol_error event
 * and fail the calls in flight with HL_ERR_NETWORK (HTTP: ending the
 * requests under way, whose streams may be silent). Once; any thread
 * but the event loop's. */
void hl__mcp_dead_peer(hl_mcp *m);
/* Queue a tool list refresh (one at most). */
void hl__mcp_worker_refresh(hl_mcp *m);
void hl__mcp_worker_stop(hl_mcp *m);

/* ---- tools.c ---- */
hl_status hl__mcp_list_tools(hl_mcp *m);
void hl__mcp_tools_clear(hl_mcp *m);
/* Replace the tool list with `raw` (a tools/list "tools" array, taken):
 * map, filter and prefix each Tool. Also the fuzz target's way in
 * (tests/fuzz/fuzz_mcp.c). */
void hl__mcp_set_tools(hl_mcp *m, cJSON *raw);
/* The checked outputSchema of a tool this client made (NULL: none). */
const cJSON *hl__mcp_tool_output_schema(const hl_tool *tool);
/* Map a tools/call result to what the model sees; HL_ERR_EXECUTION_FAILED
 * for isError. `output_schema` may be NULL. */
hl_status hl__mcp_map_result(hl_mcp *m, const char *tool, const cJSON *result,
                             const cJSON *output_schema, cJSON **out);

#endif
