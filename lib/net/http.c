/*
 * http.c - an HTTP request as a state machine of the process's event loop
 * (engine.h): attempts, retries with backoff as timers, the idle timeout
 * as a timer, cancellation, the size cap, redaction (see http.h).
 *
 * A request ("call") lives on the stack of the thread that sends it. That
 * thread builds it, posts it to the loop and sleeps on the call's
 * condition variable; the loop runs every attempt and, for a streamed
 * 2xx body, hands the bytes over under the call's lock so that the
 * caller's sink decodes them on the caller's thread. The caller leaves
 * only once the loop is done with the call and no task of the call is
 * still queued (`done` and `ops` below), so the loop never touches a call
 * that is gone.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <linux/sockios.h>

#include "core/cancel_notify.h"
#include "hookline/pool.h"
#include "net/engine.h"
#include "net/excerpt.h"
#include "net/http.h"
#include "net/retry_after.h"
#include "net/url_cache.h"

/* Streamed bytes the caller has not consumed yet beyond which the
 * transfer is paused (a slow sink must not make the loop buffer a whole
 * stream). */
#define HL_HTTP_STREAM_HIGH_WATER ((size_t)1 << 20)

/* A CA file path the client held (hl__http_set_ca_file()): kept until the
 * client is freed, since a call copies the options, pointer included. */
typedef struct ca_path {
  struct ca_path *next;
  char path[];
} ca_path;

struct hl__http {
  hl__http_options opts;
  atomic_uint_fast64_t cancel_gen;
  ca_path *ca_paths;         /* newest first; opts.ca_file is the first's or NULL */
  hl__url_cache *urls;       /* request URLs parsed once (url_cache.h) */
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

#define now_ms hl__engine_now_ms

/* A cheap per-thread generator for backoff jitter (quality is irrelevant,
 * only that concurrent clients do not retry in lockstep). */
static double jitter_unit(void) {
  static _Thread_local uint64_t state;
  if (state == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&state ^ (uint64_t)ts.tv_sec;
    if (state == 0) state = 0x9E3779B97F4A7C15ull;
  }
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (double)(state >> 11) / (double)(1ull << 53);
}

char *hl__redact(char *text, const char *secret) {
  if (!text || !secret || !*secret) return text;
  size_t slen = strlen(secret);
  static const char mask[] = "[REDACTED]";
  size_t mlen = sizeof mask - 1;
  size_t count = 0;
  for (const char *p = strstr(text, secret); p; p = strstr(p + slen, secret)) count++;
  if (count == 0) return text;
  size_t tlen = strlen(text);
  size_t nlen = tlen - count * slen + count * mlen;
  char *out = malloc(nlen + 1);
  if (!out) {
    free(text);
    return NULL;
  }
  char *w = out;
  const char *r = text;
  for (const char *p = strstr(r, secret); p; p = strstr(r, secret)) {
    memcpy(w, r, (size_t)(p - r));
    w += p - r;
    memcpy(w, mask, mlen);
    w += mlen;
    r = p + slen;
  }
  strcpy(w, r);
  free(text);
  return out;
}

/* Each run up to the next occurrence is copied whole: comparing the secret
 * at every character (strncmp per byte) was ~2,000 instructions per
 * request for the URL that every call redacts (call_new), where the key
 * almost never is. */
void hl__redact_into(char *out, size_t out_size, const char *text, const char *secret) {
  if (!out || out_size == 0) return;
  if (!text) text = "";
  static const char mask[] = "[REDACTED]";
  size_t slen = (secret && *secret) ? strlen(secret) : 0;
  size_t w = 0, room = out_size - 1;
  while (*text && w < room) {
    const char *hit = slen ? strstr(text, secret) : NULL;
    size_t n = hit ? (size_t)(hit - text) : strlen(text);
    if (n > room - w) n = room - w;
    memcpy(out + w, text, n);
    w += n;
    if (!hit || w == room) break;
    size_t m = sizeof mask - 1 < room - w ? sizeof mask - 1 : room - w;
    memcpy(out + w, mask, m);
    w += m;
    text = hit + slen;
  }
  out[w] = '\0';
}

bool hl__http_status_retryable(long status) {
  return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}


/* ------------------------------------------------------------------ */
/* Client                                                               */
/* ------------------------------------------------------------------ */

void hl__http_options_default(hl__http_options *o) {
  o->connect_timeout_ms = 10000;
  o->timeout_ms = 600000;
  o->idle_timeout_ms = 120000;
  o->max_retries = 3;
  o->retry_base_ms = 500;
  o->retry_max_ms = 60000;
  o->max_response_bytes = (size_t)8 << 20;
  o->http_version = HL_HTTP_VERSION_AUTO;
  o->ca_file = NULL;
}

hl__http *hl__http_new(const hl__http_options *opts) {
  hl__http *c = calloc(1, sizeof *c);
  if (!c) {
    hl_fail(HL_ERR_NOMEM, "out of memory creating an HTTP client");
    return NULL;
  }
  if (opts) c->opts = *opts;
  else hl__http_options_default(&c->opts);
  atomic_init(&c->cancel_gen, 0);
  if (!(c->urls = hl__url_cache_new())) {
    free(c);
    hl_fail(HL_ERR_NOMEM, "out of memory creating an HTTP client");
    return NULL;
  }
  return c;
}

void hl__http_free(hl__http *c) {
  if (!c) return;
  while (c->ca_paths) {
    ca_path *next = c->ca_paths->next;
    free(c->ca_paths);
    c->ca_paths = next;
  }
  hl__url_cache_free(c->urls);
  free(c);
}

/* Does the file hold a PEM certificate? Read line by line: a system
 * bundle is a few hundred KB, and only the marker matters here (libcurl's
 * TLS library parses it when a connection needs it). */
static bool has_pem_certificate(FILE *f) {
  static const char marker[] = "-----BEGIN CERTIFICATE-----";
  char line[256];
  while (fgets(line, sizeof line, f))
    if (strncmp(line, marker, sizeof marker - 1) == 0) return true;
  return false;
}

hl_status hl__http_check_ca_file(const char *path, const char *what) {
  /* Checked when set rather than at the first request: a wrong path in a
   * configuration is then an error of the call that set it, with the
   * reason, not a TLS failure later. */
  FILE *f = fopen(path, "r");
  if (!f) {
    int err = errno;
    return hl_fail(err == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, "%s: CA file %s: %s", what, path,
                   strerror(err));
  }
  bool pem = has_pem_certificate(f);
  bool read_error = ferror(f) != 0;
  fclose(f);
  if (read_error) return hl_fail(HL_ERR_IO, "%s: CA file %s: read error", what, path);
  if (!pem)
    return hl_fail(HL_ERR_INVALID,
                   "%s: CA file %s holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line)",
                   what, path);
  return HL_OK;
}

hl_status hl__http_set_ca_file(hl__http *c, const char *path, const char *what) {
  if (!what) what = "http";
  if (!c) return hl_fail(HL_ERR_INVALID, "%s: NULL client", what);
  if (!path || !*path) {
    c->opts.ca_file = NULL;
    return HL_OK;
  }
  hl_status st = hl__http_check_ca_file(path, what);
  if (st) return st;
  size_t n = strlen(path) + 1;
  ca_path *p = malloc(sizeof *p + n);
  if (!p) return hl_fail(HL_ERR_NOMEM, "%s: out of memory", what);
  memcpy(p->path, path, n);
  p->next = c->ca_paths;
  c->ca_paths = p;
  c->opts.ca_file = p->path;
  return HL_OK;
}

const hl__http_options *hl__http_get_options(const hl__http *c) { return &c->opts; }

void hl__http_set_options(hl__http *c, const hl__http_options *opts) {
  if (c && opts) c->opts = *opts;
}

/* ------------------------------------------------------------------ */
/* A call                                                               */
/* ------------------------------------------------------------------ */

typedef struct call call;
struct call {
  /* Set by the caller before submitting; read-only afterwards. */
  hl__http *client;
  const hl__http_request *req;
  hl__http_options opts;     /* the client's, copied at submit */
  uint_fast64_t gen;         /* client->cancel_gen at submit */
  const char *what;
  char *url;                 /* redacted, for messages: made by call_url() at the
                                first message (most calls never need one, and a
                                copy per call was a block of every call in flight) */
  struct curl_slist *hdrs;   /* nodes in the call's own allocation (call_new) */
  CURLU *parsed_url;         /* req->url parsed, the client's (url_cache.h); NULL: none */

  /* Loop thread only. */
  int loop;                  /* the loop that runs the call (engine.h); set by
                                submit_fn, read by the caller after the first
                                streamed bytes (under `lock`) */
  hl__task t_submit, t_cancel, t_unpause;
  hl__timer retry_timer, idle_timer, stall_timer;
  call *prev, *next;         /* the loop's list of live calls */
  CURL *easy;                /* while an attempt is in the multi handle */
  unsigned easy_shape;       /* its options (start_attempt), 0 once its state is not known */
  char errbuf[CURL_ERROR_SIZE];
  int attempt;
  long status;               /* of this attempt; known at the first body byte */
  bool status_known;
  bool mux_unsettled;        /* this attempt may multiplex and has no headers yet:
                                tell the engine at the first (engine.c) */
  bool stream_body;          /* 2xx with on_data: the body goes to the caller */
  bool body_dropped;         /* req->body_sent was called: body_again before a resend */
  curl_off_t sent_base;      /* libcurl's upload counter at the last before_send() */
  hl_status remake_st;       /* body_again failed before a resend */
  bool remade_differs;       /* body_again made a body of another length */
  char *buf;                 /* buffered body of this attempt */
  size_t len, cap;
  size_t received;           /* body bytes of this attempt */
  size_t delivered;          /* of which handed to the caller's sink */
  bool too_large;
  bool buffered_too_large;    /* over req->max_buffered_bytes (a capped error page) */
  hl_status nomem;           /* buffering failed */
  double retry_after_ms;     /* the server's wish, saturated (retry_after.h); -1: none */
  double retry_after_refused_ms; /* > 0: a wish beyond the retry cap, not honoured */
  bool not_http;             /* the reply did not start with an HTTP status line */
  char *head;                /* its first bytes, for the message (HEAD_BYTES, malloc'd
                                when such a reply comes: 122 bytes in every call in
                                flight for a rare error) */
  size_t head_len;
  int64_t last_activity;
  /* req->stall_ms: the server's last progress, the upload counter and the
   * socket's send queue as last seen (-1: not yet). */
  int64_t stall_progress;
  curl_off_t stall_sent;
  long stall_outq;
  char *content_type;
  char *captured;            /* value of req->capture_header, if any */
  char *dpop_nonce;          /* with req->capture_challenge */
  char *challenge;           /* WWW-Authenticate values (req->capture_challenge) */

  /* Shared with the caller, under `lock`. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done;                 /* the loop is finished with the call */
  int ops;                   /* tasks of this call posted and not yet run */
  hl_status st;              /* outcome; msg when st != HL_OK */
  char *msg;                 /* HL_HTTP_MSG bytes, allocated by the first failure
                                (msg_buf()); NULL: none, or no memory for it */
  char *pend;                /* streamed bytes not yet taken by the caller */
  size_t pend_len, pend_cap;
  bool paused;               /* transfer paused until the caller catches up */
  bool abandoned;            /* the caller's sink failed: drop the rest */

  /* Asynchronous calls (hl__http_request_start): no caller waits; the
   * sink runs on the loop thread and `async_done` gets the outcome there.
   * The call is then freed by the loop. */
  hl__http_done_fn async_done;
  void *async_user;
  hl_status sink_st;         /* the sink's failure (its message in msg) */
};

/* call_new() puts the header list's nodes right after the call. */
_Static_assert(_Alignof(call) >= _Alignof(struct curl_slist), "header nodes after a call");

#define CALL_OF(ptr, member) ((call *)((char *)(ptr) - offsetof(call, member)))

/* The current loop's list of live calls (each loop has its own). */
#define live_calls (*(call **)hl__engine_calls())

/* The size of a call's message. */
#define HL_HTTP_MSG 1400

/* A reply's first bytes kept for the message: one more than the excerpt
 * shows, so that it marks the cut. */
#define HEAD_BYTES (HL__EXCERPT_BYTES + 1)

/* The request's URL with the secret redacted, for a message: made at the
 * first message of the call, on the loop thread or after the loop is done
 * with the call. "(the URL)" when memory ran out. */
static const char *call_url(call *c) {
  if (!c->url) {
    char url[512];
    hl__redact_into(url, sizeof url, c->req->url, c->req->secret);
    c->url = strdup(url);
  }
  return c->url ? c->url : "(the URL)";
}

/* The call's message buffer, allocated at its first use; NULL when memory
 * ran out (the caller then reports the status without the details). */
static char *msg_buf(call *c) {
  if (!c->msg) c->msg = malloc(HL_HTTP_MSG);
  return c->msg;
}

static void set_msg(call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(call *c, const char *fmt, ...) {
  char tmp[HL_HTTP_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  /* Under the lock: the caller reads msg once done is set. */
  char *m = msg_buf(c);
  if (m) memcpy(m, tmp, sizeof tmp);
}

/* Post one of the call's tasks from the caller's thread (lock held). */
static void post_locked(call *c, hl__task *t) {
  if (hl__engine_post_to(c->loop, t)) c->ops++;
}

/* Start of every task function of a call: false when the call is already
 * done (then the caller may be gone the moment the lock is released, so
 * the task must not touch the call again). */
static bool task_enter(call *c) {
  pthread_mutex_lock(&c->lock);
  c->ops--;
  bool done = c->done;
  if (done && c->ops == 0) pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
  return !done;
}

static void detach_easy(call *c) {
  if (!c->easy) return;
  curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
  hl__engine_easy_put(c->easy, c->easy_shape);
  c->easy = NULL;
}

static void complete_async(call *c);

/* End the call with `st` (message already in c->msg when st != HL_OK,
 * written through finish_fail()). Loop thread. */
static void finish(call *c, hl_status st) {
  hl__engine_timer_disarm(&c->retry_timer);
  hl__engine_timer_disarm(&c->idle_timer);
  hl__engine_timer_disarm(&c->stall_timer);
  if (c->easy) {
    hl__engine_remove(c->easy);
    c->easy_shape = 0; /* taken out mid-transfer: reset before reuse */
    detach_easy(c);
  }
  if (c->prev) c->prev->next = c->next;
  else if (live_calls == c) live_calls = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  if (c->async_done) {
    /* Only the loop ever touched an asynchronous call after its submit
     * task ran (and every path to here runs after it): no lock needed. */
    c->st = st;
    complete_async(c);
    return;
  }
  pthread_mutex_lock(&c->lock);
  c->st = st;
  c->done = true;
  pthread_cond_signal(&c->cond);
  pthread_mutex_unlock(&c->lock);
  /* The caller may be gone from here on. */
}

static void finish_fail(call *c, hl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish_fail(call *c, hl_status st, const char *fmt, ...) {
  char tmp[HL_HTTP_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&c->lock);
  char *m = msg_buf(c);
  if (m) memcpy(m, tmp, sizeof tmp);
  pthread_mutex_unlock(&c->lock);
  finish(c, st);
}

static bool call_cancelled(const call *c) {
  if (atomic_load(&c->client->cancel_gen) != c->gen) return true;
  return c->req->cancelled && c->req->cancelled(c->req->cancel_user);
}

static void finish_cancelled(call *c) {
  if (c->easy || c->attempt == 0)
    finish_fail(c, HL_ERR_CANCELLED, "%s: request to %s cancelled", c->what, call_url(c));
  else
    finish_fail(c, HL_ERR_CANCELLED, "%s: request to %s cancelled while waiting to retry",
                c->what, call_url(c));
}

/* ------------------------------------------------------------------ */
/* libcurl callbacks of an attempt (loop thread)                        */
/* ------------------------------------------------------------------ */

/* The request's body may go once sent (http.h, body_sent). libcurl's
 * upload counter says when it has sent the whole body; from then on it
 * reads the body only to send the request again on another connection,
 * and before_send() makes the body again for that. The counter is taken
 * relative to its value at the last before_send(): should libcurl not
 * reset it for a resend, the body is then kept rather than dropped while
 * unsent. Loop thread (CURLOPT_XFERINFOFUNCTION). */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  call *c = user;
  if (c->req->stall_ms > 0 && ulnow != c->stall_sent) { /* the server took bytes (req->stall_ms) */
    c->stall_sent = ulnow;
    c->stall_progress = now_ms();
  }
  if (!c->req->body_sent) return 0;
  if (!c->body_dropped && c->req->body_len > 0 && ulnow - c->sent_base >= (curl_off_t)c->req->body_len) {
    c->req->body_sent(c->req->body_user);
    c->body_dropped = true;
  }
  return 0;
}

/* libcurl is about to send the request (engine.h): the first time, or
 * again on another connection; a body dropped once sent is made again. */
static bool before_send(CURL *easy, void *user) {
  call *c = user;
  curl_off_t sent = 0;
  curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &sent);
  c->sent_base = sent;
  if (!c->body_dropped) return true;
  size_t len = c->req->body_len;
  c->remake_st = c->req->body_again(c->req->body_user);
  if (c->remake_st != HL_OK) return false;
  c->body_dropped = false;
  /* libcurl sends the length it took at the transfer's start: a body
   * made longer or shorter (Chat Completions' max_tokens field learnt
   * meanwhile) waits for the next attempt, which sends its length. */
  if (c->req->body_len != len) {
    c->remade_differs = true;
    return false;
  }
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, c->req->body);
  return true;
}

/* Cap on the WWW-Authenticate values kept for one answer: a challenge is
 * a few hundred bytes; a server that sends more gets the first part. */
#define CHALLENGE_MAX 8192

/* Append one WWW-Authenticate value (`v`, `n` bytes after the header's
 * name, line end included) to x->challenge: several header lines are one list
 * (RFC 9110 section 5.3), so they join with ", ". Read from `data`, not
 * the 256-byte copy the other headers use: a challenge is often longer. */
static void keep_challenge(call *x, const char *v, size_t n) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  size_t have = x->challenge ? strlen(x->challenge) : 0;
  if (!n || have + n + 2 >= CHALLENGE_MAX) return;
  char *c = realloc(x->challenge, have + n + 3);
  if (!c) return;
  if (have) memcpy(c + have, ", ", 2), have += 2;
  memcpy(c + have, v, n);
  c[have + n] = '\0';
  x->challenge = c;
}

static size_t on_header(char *data, size_t size, size_t n, void *user) {
  call *x = user;
  size_t len = size * n;
  x->last_activity = now_ms();
  /* A new status line means a new response (after a 100 Continue): forget
   * what an earlier one said. */
  if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    x->retry_after_ms = -1;
    if (x->challenge) { /* only MCP's OAuth keeps one */
      free(x->challenge);
      x->challenge = NULL;
    }
  }
  /* The blank line ends a header block: the engine learns that this
   * connection's server settings are known (engine.c, the start-up
   * burst), and who waits for a final block is told. */
  if (len == 2 ? data[0] == '\r' && data[1] == '\n' : len == 1 && data[0] == '\n') {
    if (x->mux_unsettled) {
      x->mux_unsettled = false;
      hl__engine_settled(x->easy);
    }
    long code = 0;
    if (x->req->on_headers) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200) x->req->on_headers(code, x->req->headers_user);
  }
  if (x->req->capture_challenge && len > 17 && strncasecmp(data, "WWW-Authenticate:", 17) == 0) {
    keep_challenge(x, data + 17, len - 17);
    return len;
  }
  /* Every header a model's answer has (a dozen, content-type, date,
   * x-request-id...) is past here none of those below; unless a header is
   * captured, only retry-after* is looked for: a line that does not start
   * with an r returns before it is copied and compared twice (~100
   * instructions a line, ~1,400 a run of scenario (b)). */
  if (!x->req->capture_challenge && !x->req->capture_header && (len == 0 || (data[0] | 0x20) != 'r'))
    return len;
  char line[256];
  size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
  memcpy(line, data, l);
  line[l] = '\0';
  if (x->req->capture_challenge && l > 11 && strncasecmp(line, "DPoP-Nonce:", 11) == 0) {
    const char *v = line + 11 + strspn(line + 11, " \t");
    free(x->dpop_nonce);
    x->dpop_nonce = strndup(v, strcspn(v, "\r\n"));
    return len;
  }
  size_t hn = x->req->capture_header ? strlen(x->req->capture_header) : 0;
  if (hn && l > hn && line[hn] == ':' && strncasecmp(line, x->req->capture_header, hn) == 0) {
    const char *v = line + hn + 1;
    while (*v == ' ' || *v == '\t') v++;
    size_t vl = strcspn(v, "\r\n");
    free(x->captured);
    x->captured = strndup(v, vl);
    return len;
  }
  /* OpenAI's retry-after-ms is more precise and wins over Retry-After. */
  if (strncasecmp(line, "retry-after-ms:", 15) == 0) {
    double v = hl__retry_after_ms_header(line + 15);
    if (v >= 0) x->retry_after_ms = v;
  } else if (strncasecmp(line, "retry-after:", 12) == 0 && x->retry_after_ms < 0) {
    x->retry_after_ms = hl_retry_after_ms(line + 12, time(NULL));
  }
  return len;
}

/* Append `n` bytes to *buf (*len of *cap used), leaving `extra` bytes of
 * room after them (on_body's NUL). A new buffer starts at `first` bytes
 * (0: 4 KB), then doubles. False when out of memory (the buffer as it
 * was). The two receive buffers, a streamed body's queue (hand_over) and
 * a whole body (on_body), grow alike. */
static bool buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n, size_t extra,
                       size_t first) {
  size_t need = *len + n + extra;
  if (need > *cap) {
    size_t nc = *cap ? *cap : first ? first : 4096;
    while (nc < need) nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb) return false;
    *buf = nb;
    *cap = nc;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  return true;
}

/* A 2xx body chunk for the caller's sink: queue it for the caller. */
static size_t hand_over(call *x, const char *data, size_t len) {
  if (x->async_done) {
    /* No caller thread to hand the bytes to: decode them here. */
    if (x->abandoned) return 0;
    hl_status st = x->req->on_data(data, len, x->req->data_user);
    if (st == HL_OK) {
      x->delivered += len;
      return len;
    }
    x->abandoned = true;
    x->sink_st = st;
    char *m = msg_buf(x);
    if (m) snprintf(m, HL_HTTP_MSG, "%s", hl_last_status() == st ? hl_last_error() : hl_strerror(st));
    return 0;
  }
  pthread_mutex_lock(&x->lock);
  if (x->abandoned) {
    pthread_mutex_unlock(&x->lock);
    return 0; /* the sink failed: stop the transfer */
  }
  if (x->pend_len >= HL_HTTP_STREAM_HIGH_WATER) {
    /* curl keeps this chunk and gives it again once unpaused. */
    x->paused = true;
    pthread_mutex_unlock(&x->lock);
    return CURL_WRITEFUNC_PAUSE;
  }
  if (!buf_append(&x->pend, &x->pend_len, &x->pend_cap, data, len, 0, 0)) {
    pthread_mutex_unlock(&x->lock);
    x->nomem = HL_ERR_NOMEM;
    return 0;
  }
  x->delivered += len;
  pthread_cond_signal(&x->cond);
  pthread_mutex_unlock(&x->lock);
  return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user) {
  call *x = user;
  size_t len = size * n;
  x->last_activity = now_ms();
  if (!x->status_known) {
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    x->status_known = true;
    x->stream_body = x->req->on_data && x->status >= 200 && x->status < 300;
    /* Body bytes without a status line: curl took the reply for HTTP/0.9
     * (allowed only so that these bytes reach us to be named). */
    x->not_http = x->status == 0;
  }
  if (x->not_http) {
    /* Keep what arrived for the message and stop at once: nothing of it is
     * ever taken as an answer, and a server of another protocol may well
     * keep the connection open without sending more. */
    if (!x->head) x->head = malloc(HEAD_BYTES);
    size_t n = !x->head ? 0 : len < HEAD_BYTES ? len : HEAD_BYTES;
    if (n) memcpy(x->head, data, n);
    x->head_len = n;
    return 0;
  }
  size_t cap = x->opts.max_response_bytes;
  if (cap && x->received + len > cap) {
    x->too_large = true;
    return 0; /* makes curl stop with CURLE_WRITE_ERROR */
  }
  size_t buffered_cap = x->req->max_buffered_bytes;
  if (!x->stream_body && buffered_cap && x->len + len > buffered_cap) {
    x->too_large = x->buffered_too_large = true;
    return 0;
  }
  if (x->stream_body) {
    size_t r = hand_over(x, data, len);
    if (r == len) x->received += len;
    return r;
  }
  x->received += len;
  /* The first bytes of a body of a known length: room for that length,
   * not 4 KB. Answers wait in the buffer until a worker decodes them,
   * and when thousands arrive at once (concurrent_slow's peak) 4 KB for
   * each ~0.6 KB answer was ~0.9 KB per session in flight (issue 12).
   * Up to 64 KB: a larger length, which a server may announce and not
   * send, gets room as its bytes come. */
  size_t first = 0;
  curl_off_t whole = -1;
  if (!x->cap && curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &whole) == CURLE_OK &&
      whole >= (curl_off_t)len && whole <= 65536)
    first = (size_t)whole + 1;
  if (!buf_append(&x->buf, &x->len, &x->cap, data, len, 1, first)) {
    x->nomem = HL_ERR_NOMEM;
    return 0;
  }
  x->buf[x->len] = '\0';
  return len;
}

/* ------------------------------------------------------------------ */
/* Attempts and retries (loop thread)                                   */
/* ------------------------------------------------------------------ */

static bool curl_code_retryable(CURLcode rc) {
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return true;
  default:
    return false;
  }
}

static long retry_cap_ms(const hl__http_options *o) {
  return o->retry_max_ms > 0 ? o->retry_max_ms : 60000;
}

/* How long to wait before retry number `retry` (1 = the first retry).
 * retry_after_ms >= 0 is the server's Retry-After. */
static long backoff_ms(const hl__http_options *o, int retry, double retry_after_ms) {
  long cap = retry_cap_ms(o);
  if (retry_after_ms >= 0) return retry_after_ms < (double)cap ? (long)retry_after_ms : cap;
  double d = (double)(o->retry_base_ms > 0 ? o->retry_base_ms : 0);
  for (int i = 1; i < retry && d < cap; i++) d *= 2;
  if (d > cap) d = cap;
  /* "Equal jitter": half fixed, half random. */
  return (long)(d / 2 + jitter_unit() * d / 2);
}

static void reset_attempt(call *c) {
  free(c->buf);
  free(c->content_type);
  free(c->captured);
  free(c->challenge);
  free(c->dpop_nonce);
  c->dpop_nonce = NULL;
  c->buf = NULL;
  c->content_type = NULL;
  c->captured = NULL;
  c->challenge = NULL;
  c->len = c->cap = 0;
  c->status = 0;
  c->status_known = c->stream_body = c->too_large = c->buffered_too_large = false;
  c->received = c->delivered = 0;
  c->nomem = HL_OK;
  c->retry_after_ms = -1;
  c->not_http = false;
  c->head_len = 0;
  c->errbuf[0] = '\0';
  c->remake_st = HL_OK;
  c->remade_differs = false;
}

static void start_attempt(call *c);

static void retry_later(call *c, long ms) {
  reset_attempt(c);
  hl__engine_timer_arm(&c->retry_timer, now_ms() + (ms > 0 ? ms : 0));
}

static void on_retry_timer(hl__timer *t) {
  call *c = CALL_OF(t, retry_timer);
  if (call_cancelled(c)) finish_cancelled(c);
  else start_attempt(c);
}

static void on_idle_timer(hl__timer *t) {
  call *c = CALL_OF(t, idle_timer);
  long idle_ms = c->opts.idle_timeout_ms;
  int64_t now = now_ms();
  pthread_mutex_lock(&c->lock);
  bool paused = c->paused;
  pthread_mutex_unlock(&c->lock);
  /* A transfer paused for a slow sink is not idle on the server's side. */
  if (paused) c->last_activity = now;
  if (now - c->last_activity < idle_ms) {
    hl__engine_timer_arm(&c->idle_timer, c->last_activity + idle_ms);
    return;
  }
  finish_fail(c, HL_ERR_TIMEOUT, "%s: no data from %s for %ld ms (idle timeout)", c->what,
              call_url(c), idle_ms);
}

/* req->stall_ms: once a second, whether the server made progress (the
 * upload counter moved: on_progress; the socket's send queue shrank: the
 * server read what the kernel held for it); none for stall_ms ends the
 * call. */
#define STALL_LOOK_MS 1000

static void on_stall_timer(hl__timer *t) {
  call *c = CALL_OF(t, stall_timer);
  int64_t now = now_ms();
  curl_socket_t sock = c->easy ? hl__engine_socket(c->easy) : CURL_SOCKET_BAD;
  int queued = -1;
  if (sock != CURL_SOCKET_BAD && ioctl(sock, SIOCOUTQ, &queued) != 0) queued = -1;
  if (queued >= 0) {
    if (c->stall_outq >= 0 && queued < c->stall_outq) c->stall_progress = now;
    c->stall_outq = queued;
  }
  long stall_ms = c->req->stall_ms;
  if (now - c->stall_progress < stall_ms) {
    int64_t due = c->stall_progress + stall_ms;
    hl__engine_timer_arm(&c->stall_timer, due < now + STALL_LOOK_MS ? due : now + STALL_LOOK_MS);
    return;
  }
  curl_off_t taken = c->stall_sent - c->sent_base - (queued > 0 ? queued : 0);
  if (taken < (curl_off_t)c->req->body_len)
    finish_fail(c, HL_ERR_TIMEOUT, "%s: %s took no byte of the request for %ld ms (%lld of %zu taken)",
                c->what, call_url(c), stall_ms, (long long)(taken > 0 ? taken : 0), c->req->body_len);
  else
    finish_fail(c, HL_ERR_TIMEOUT, "%s: %s took the request but did not end its answer within %ld ms",
                c->what, call_url(c), stall_ms);
}

/* Map a failed transfer to a status and message (set in c->msg); true when
 * another attempt may help. The place that decides what a libcurl error
 * means to the caller. */
static bool classify_failure(call *c, CURLcode rc, long request_bytes, hl_status *st) {
  const hl__http_options *o = &c->opts;
  char detail[CURL_ERROR_SIZE + 64];
  hl__redact_into(detail, sizeof detail, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc),
                  c->req->secret);
  if (c->remake_st != HL_OK) {
    *st = c->remake_st;
    set_msg(c, "%s: the request to %s could not be encoded again to send it on a new connection",
            c->what, call_url(c));
    return false;
  }
  if (c->remade_differs) {
    *st = HL_ERR_NETWORK;
    set_msg(c, "%s: the request to %s needed sending again on a new connection", c->what,
            call_url(c));
    return true;
  }
  if (c->nomem != HL_OK) {
    *st = HL_ERR_NOMEM;
    set_msg(c, "%s: out of memory buffering the response from %s", c->what, call_url(c));
    return false;
  }
  if (c->not_http) {
    char quote[HL__EXCERPT_BYTES * 4 + 16];
    hl__excerpt(quote, sizeof quote, c->head, c->head_len, c->req->secret);
    *st = HL_ERR_PROVIDER;
    set_msg(c, "%s: %s did not answer in HTTP: it sent %s", c->what, call_url(c), quote);
    return false;
  }
  /* A server that answered something curl could not read as HTTP (the
   * request left, so the URL itself was fine). */
  if (rc == CURLE_WEIRD_SERVER_REPLY || (rc == CURLE_UNSUPPORTED_PROTOCOL && request_bytes > 0)) {
    *st = HL_ERR_PROVIDER;
    set_msg(c, "%s: %s did not answer in valid HTTP: %s", c->what, call_url(c), detail);
    return false;
  }
  if (c->buffered_too_large) {
    *st = HL_ERR_TOO_LARGE;
    set_msg(c, "%s: the HTTP %ld answer from %s is larger than the cap of %zu bytes", c->what, c->status,
            call_url(c), c->req->max_buffered_bytes);
    return false;
  }
  if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    *st = HL_ERR_TOO_LARGE;
    set_msg(c, "%s: response from %s larger than the cap of %zu bytes", c->what, call_url(c),
            o->max_response_bytes);
    return false;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    *st = HL_ERR_TIMEOUT;
    set_msg(c, "%s: request to %s timed out: %s", c->what, call_url(c), detail);
    /* A connect that timed out sent nothing: worth another attempt. A
     * request the server sat on is not (it would wait as long again). */
    return request_bytes == 0 && c->received == 0;
  }
  /* Not a URL this layer can send (scheme, syntax). */
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
    *st = HL_ERR_INVALID;
    set_msg(c, "%s: bad URL %s: %s", c->what, call_url(c), detail);
    return false;
  }
  /* TLS: say which trust failed, and do not retry (it would fail again). */
  if (rc == CURLE_PEER_FAILED_VERIFICATION) {
    *st = HL_ERR_NETWORK;
    if (o->ca_file)
      set_msg(c, "%s: TLS certificate of %s not verified by the CA file %s: %s", c->what, call_url(c),
              o->ca_file, detail);
    else
      set_msg(c, "%s: TLS certificate of %s not verified by the system's CA certificates "
                 "(a private CA needs its file set with the provider's set_ca_file): %s",
              c->what, call_url(c), detail);
    return false;
  }
  if (rc == CURLE_SSL_CACERT_BADFILE) {
    *st = HL_ERR_IO;
    set_msg(c, "%s: cannot load the CA file %s for %s: %s", c->what,
            o->ca_file ? o->ca_file : "(libcurl's default)", call_url(c), detail);
    return false;
  }
  if (c->delivered > 0) {
    *st = HL_ERR_NETWORK;
    set_msg(c, "%s: connection to %s lost mid-stream after %zu bytes: %s", c->what, call_url(c),
            c->delivered, detail);
    return false;
  }
  *st = HL_ERR_NETWORK;
  set_msg(c, "%s: request to %s failed: %s", c->what, call_url(c), detail);
  return curl_code_retryable(rc);
}

static void on_done(CURL *easy, CURLcode rc, void *user) {
  call *c = user;
  hl__engine_timer_disarm(&c->idle_timer);
  hl__engine_timer_disarm(&c->stall_timer);
  if (!c->status_known) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &c->status);
  long request_bytes = 0; /* 0: the request never left (connect failed) */
  curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  char *ct = NULL;
  if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
    c->content_type = strdup(ct);
  if (rc != CURLE_OK) c->easy_shape = 0; /* reset before reuse (hl__engine_easy_get) */
  detach_easy(c);
  bool can_retry = c->attempt <= c->opts.max_retries;

  if (rc == CURLE_OK && c->nomem == HL_OK) {
    if (hl__http_status_retryable(c->status) && can_retry) {
      /* A server asking for longer than the retry cap is not kept waiting
       * on (three capped waits would hold the call for minutes): its
       * answer is final now and carries the wish for the message. */
      if (c->retry_after_ms > (double)retry_cap_ms(&c->opts)) {
        c->retry_after_refused_ms = c->retry_after_ms;
        finish(c, HL_OK);
        return;
      }
      retry_later(c, backoff_ms(&c->opts, c->attempt, c->retry_after_ms));
      return;
    }
    finish(c, HL_OK);
    return;
  }
  pthread_mutex_lock(&c->lock);
  bool abandoned = c->abandoned;
  pthread_mutex_unlock(&c->lock);
  if (abandoned) {
    /* The caller keeps its sink's own error (an asynchronous one gets it
     * back from sink_st). */
    finish(c, c->async_done ? c->sink_st : HL_ERR_CANCELLED);
    return;
  }
  hl_status st;
  pthread_mutex_lock(&c->lock);
  bool retryable = classify_failure(c, rc, request_bytes, &st);
  pthread_mutex_unlock(&c->lock);
  if (retryable && can_retry) {
    retry_later(c, backoff_ms(&c->opts, c->attempt, -1));
    return;
  }
  if (retryable && c->attempt > 1) {
    pthread_mutex_lock(&c->lock);
    if (c->msg) {
      size_t n = strlen(c->msg);
      snprintf(c->msg + n, HL_HTTP_MSG - n, " (after %d attempts)", c->attempt);
    }
    pthread_mutex_unlock(&c->lock);
  }
  finish(c, st);
}

static void start_attempt(call *c) {
  const hl__http_options *o = &c->opts;
  const hl__http_request *req = c->req;
  c->attempt++;
  reset_attempt(c);
  if (c->body_dropped) {
    /* A retry of a request whose body went once sent (http.h). */
    hl_status st = req->body_again(req->body_user);
    if (st != HL_OK) {
      char why[512];
      snprintf(why, sizeof why, "%s", hl_last_error());
      finish_fail(c, st, "%s: cannot make the request to %s again: %s", c->what, call_url(c), why);
      return;
    }
    c->body_dropped = false;
  }
  hl__pool_limits pool;
  hl__engine_limits(&pool);
  /* The HTTP version (hookline/pool.h): AUTO leaves libcurl's default
   * (HTTP/2 by ALPN over TLS, HTTP/1.1 on http://); 2 on http:// is h2c
   * with prior knowledge. */
  bool tls = strncasecmp(req->url, "https:", 6) == 0;
  bool h2c_alone = false;
  long version = -1; /* CURLOPT_HTTP_VERSION, -1: not set */
  if (o->http_version == HL_HTTP_VERSION_1_1) {
    version = CURL_HTTP_VERSION_1_1;
  } else if (o->http_version == HL_HTTP_VERSION_2) {
    version = tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    /* libcurl before 7.89.0 breaks a reused h2c connection (it starts a
     * second HTTP/2 layer on it: "Error in the HTTP2 framing layer",
     * curl issue #10634): there each h2c request gets a connection of
     * its own, correct but not multiplexed. */
    h2c_alone = !tls && curl_version_info(CURLVERSION_NOW)->version_num < 0x075900;
  }
  /* HTTP/2 possible: wait for a connection that multiplexes and add a
   * stream to it rather than open one connection per request. */
  bool maybe_h2 = o->http_version == HL_HTTP_VERSION_2 || (tls && o->http_version == HL_HTTP_VERSION_AUTO);
  bool mux = pool.multiplex && maybe_h2 && !h2c_alone;
  /* Stays HTTP/1.1: said explicitly, so that libcurl never gives it an
   * HTTP/2 connection (h2c opened by a request of HL_HTTP_VERSION_2),
   * whose stream the 1 KB receive buffer below would not suit. */
  bool h1 = !maybe_h2;
  if (h1 && o->http_version == HL_HTTP_VERSION_AUTO) version = CURL_HTTP_VERSION_1_1;
  /* libcurl's progress callback: the body's release (body_sent) and an
   * answer's stall check (stall_ms) both read it. */
  bool progress = (req->body_sent && req->body) || req->stall_ms > 0;
  /* Which of the options below are set this time: a handle that had the
   * same set last time is not reset (hl__engine_easy_get), as each of its
   * options is set again here. Every option set only sometimes, here or
   * on this call's handle elsewhere, must have its bit. */
  unsigned shape = 1u | (req->body ? 2u : 0u) | (req->method ? 4u : 0u) | (progress ? 8u : 0u) |
                   (o->ca_file ? 16u : 0u) | (h2c_alone ? 32u : 0u) | (mux ? 64u : 0u) |
                   (o->max_response_bytes ? 128u : 0u) | (unsigned)(version + 1) << 8;
  CURL *e = hl__engine_easy_get(shape);
  if (!e) {
    finish_fail(c, HL_ERR_NOMEM, "%s: out of memory starting a request", c->what);
    return;
  }
  c->easy_shape = shape;
  curl_easy_setopt(e, CURLOPT_URL, req->url);
  /* Set on every attempt, NULL too: a pooled handle may hold another
   * call's. */
  curl_easy_setopt(e, CURLOPT_CURLU, c->parsed_url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
  if (req->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  }
  if (req->method) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  if (progress) {
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 0L);
  long limit = o->timeout_ms > 0 ? o->timeout_ms : 0L;
  if (req->timeout_ms > 0 && (!limit || req->timeout_ms < limit)) limit = req->timeout_ms;
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, limit);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  /* A reply that is not HTTP then reaches on_body with status 0, which
   * names it in the error instead of curl's "HTTP/0.9 when not allowed". */
  curl_easy_setopt(e, CURLOPT_HTTP09_ALLOWED, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, pool.dns_cache_seconds);
  if (version >= 0) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, version);
  /* A private CA (hl__http_set_ca_file()); verification is never turned
   * off. Connections are reused only between requests that trust the
   * same file (libcurl compares the TLS settings). */
  if (o->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
  if (h2c_alone) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  if (mux) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  c->mux_unsettled = mux;
  /* libcurl's receive buffer is allocated per transfer and held while the
   * model thinks: with its default of 16 KB, 10,000 requests in flight
   * (concurrent_slow) peaked at 343 MB, with 4 KB at 297 MB. Plain
   * HTTP/1.1 gets libcurl's minimum, 1 KB (a larger answer takes more
   * recv() calls; the bench's, under 800 bytes with headers, still one).
   * libcurl reads a body only up to its Content-Length, so with 1 KB it
   * no longer sees bytes a server sends beyond it (with 4 KB it saw those
   * of a small answer in the same read, and closed the connection): the
   * reuse guard drops such a connection instead, whenever they come
   * (tests/faults content_length_too_short_*, excess_*). Over TLS, 4 KB:
   * excess in the TLS record of the body's end waits inside the TLS
   * library, out of the guard's sight. libcurl 7.88's HTTP/2 layer holds
   * a stream's DATA in it too. */
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, h1 && !tls ? 1024L : 4096L);
  /* libcurl >= 8.7.0 writes the request (headers and body) into a send
   * buffer of this size that the easy handle keeps until it is freed, so
   * every request in flight and every spare handle holds one: its default
   * of 64 KB made libcurl 8.14.1's heap peak at 75 MB with 1,000 sessions
   * of concurrent_slow in flight (heaptrack; 65.6 MB of it these
   * buffers), 7.88.1's at 14 MB. 16 KB is libcurl's minimum; a larger
   * body goes out in 16 KB pieces. libcurl 7.88 sizes only the buffer of
   * read-callback uploads with it, which this layer does not use. */
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
  if (o->max_response_bytes)
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response_bytes);
  c->easy = e;
  c->last_activity = now_ms();
  char why[256];
  hl_status st = hl__engine_add(e, mux, on_done, c, req->body_sent && req->body ? before_send : NULL,
                                why, sizeof why);
  if (st != HL_OK) {
    c->easy_shape = 0;
    detach_easy(c);
    finish_fail(c, st, "%s: cannot start a transfer to %s: %s", c->what, call_url(c), why);
    return;
  }
  if (o->idle_timeout_ms > 0) hl__engine_timer_arm(&c->idle_timer, c->last_activity + o->idle_timeout_ms);
  if (req->stall_ms > 0) {
    c->stall_progress = c->last_activity;
    c->stall_sent = 0;
    c->stall_outq = -1;
    hl__engine_timer_arm(&c->stall_timer, c->last_activity +
                                              (req->stall_ms < STALL_LOOK_MS ? req->stall_ms : STALL_LOOK_MS));
  }
}

/* ------------------------------------------------------------------ */
/* Tasks posted by callers (run on the loop thread)                     */
/* ------------------------------------------------------------------ */

static void submit_fn(hl__task *t) {
  call *c = CALL_OF(t, t_submit);
  if (!task_enter(c)) return;
  /* Every later task of the call goes to the loop that runs this one. */
  c->loop = hl__engine_current();
  c->next = live_calls;
  if (live_calls) live_calls->prev = c;
  live_calls = c;
  if (call_cancelled(c)) finish_cancelled(c);
  else start_attempt(c);
}

/* The caller's sink failed: end the transfer, the caller has the error. */
static void cancel_fn(hl__task *t) {
  call *c = CALL_OF(t, t_cancel);
  if (!task_enter(c)) return;
  finish(c, HL_ERR_CANCELLED);
}

static void unpause_fn(hl__task *t) {
  call *c = CALL_OF(t, t_unpause);
  if (!task_enter(c)) return;
  if (c->easy) hl__engine_unpause(c->easy);
}

/* A cancellation was announced: end every live call it concerns. */
static void scan_fn(hl__task *t) {
  (void)t;
  call *c = live_calls;
  while (c) {
    call *next = c->next; /* finish() unlinks c */
    if (call_cancelled(c)) finish_cancelled(c);
    c = next;
  }
}

/* One scan task per loop: each scans its own live calls. */
static hl__task scan_tasks[HL__ENGINE_MAX_LOOPS] = {{.fn = scan_fn}, {.fn = scan_fn}, {.fn = scan_fn},
                                                     {.fn = scan_fn}};
_Static_assert(HL__ENGINE_MAX_LOOPS == 4, "one scan task per loop");

static void announce_cancel(void) {
  int n = hl__engine_loops();
  for (int i = 0; i < n; i++) {
    hl__engine_post_to(i, &scan_tasks[i]);
  }
}

static pthread_once_t listen_once = PTHREAD_ONCE_INIT;
static void listen_for_cancel(void) { hl__cancel_listen(announce_cancel); }

void hl__http_cancel_all(hl__http *c) {
  if (!c) return;
  atomic_fetch_add(&c->cancel_gen, 1);
  if (hl__engine_start() == HL_OK) announce_cancel();
}

/* ------------------------------------------------------------------ */
/* The caller's side                                                    */
/* ------------------------------------------------------------------ */

/* Wait for the call to end, feeding streamed bytes to the sink on this
 * thread; `driving`: this thread holds the baton and runs loop turns
 * instead of sleeping. Returns the sink's failure (its message set on
 * this thread) or HL_OK. */
static hl_status wait_call(call *c, bool driving) {
  hl_status sink_st = HL_OK;
  char *chunk = NULL;
  size_t chunk_cap = 0;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    if (c->pend_len > 0 && !c->abandoned) {
      /* Swap buffers: the loop appends to a fresh one while we decode. */
      char *data = c->pend;
      size_t len = c->pend_len, data_cap = c->pend_cap;
      c->pend = chunk;
      c->pend_cap = chunk_cap;
      c->pend_len = 0;
      if (c->paused) {
        c->paused = false;
        post_locked(c, &c->t_unpause);
      }
      pthread_mutex_unlock(&c->lock);
      hl_status st = c->req->on_data(data, len, c->req->data_user);
      chunk = data;
      chunk_cap = data_cap;
      pthread_mutex_lock(&c->lock);
      if (st != HL_OK) {
        sink_st = st;
        c->abandoned = true;
        c->pend_len = 0;
        if (!c->done) post_locked(c, &c->t_cancel);
      }
      continue;
    }
    if (c->done && c->ops == 0) break;
    if (driving) {
      pthread_mutex_unlock(&c->lock);
      hl__engine_drive_turn();
      pthread_mutex_lock(&c->lock);
    } else {
      pthread_cond_wait(&c->cond, &c->lock);
    }
  }
  pthread_mutex_unlock(&c->lock);
  free(chunk);
  return sink_st;
}

/* Only http:// and https:// URLs go out. libcurl speaks many more
 * protocols (file://, ftp://, smtp://, ...) and guesses one for a URL
 * without a scheme (an "ftp." host becomes FTP): a base URL or MCP
 * endpoint from a configuration file must not make this layer read local
 * files or talk another protocol. Checked here, once per call, rather
 * than by CURLOPT_PROTOCOLS_STR, which libcurl parses on every setopt. */
static bool url_scheme_ok(const char *url) {
  return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* A new call for `req` (not yet submitted); NULL with hl_fail set. */
static call *call_new(hl__http *client, const hl__http_request *req) {
  if (!url_scheme_ok(req->url)) {
    char url[512];
    hl__redact_into(url, sizeof url, req->url, req->secret);
    hl_fail(HL_ERR_INVALID, "%s: bad URL %s: only http:// and https:// URLs are sent",
            req->what ? req->what : "http", url);
    return NULL;
  }
  /* The header list's nodes come with the call: libcurl only reads the
   * list, and the lines are the request's, which outlives the call. Two
   * allocations per header (curl_slist_append copies) were a good part of
   * a request's malloc traffic, between threads. */
  size_t n_nodes = req->n_headers + 1;
  call *c = calloc(1, sizeof *c + n_nodes * sizeof(struct curl_slist));
  if (!c) {
    hl_fail(HL_ERR_NOMEM, "http: out of memory");
    return NULL;
  }
  c->client = client;
  c->req = req;
  c->opts = client->opts;
  if (c->opts.max_retries < 0) c->opts.max_retries = 0;
  c->gen = atomic_load(&client->cancel_gen);
  c->what = req->what ? req->what : "http";
  c->parsed_url = hl__url_cache_get(client->urls, req->url);
  /* Which loop runs the call (engine.h, "More than one loop"): a blocking
   * caller's requests share its thread's; an asynchronous run's share its
   * context's (hl__http_request_start). */
  c->loop = hl__engine_thread_loop();
  c->t_submit.fn = submit_fn;
  c->t_cancel.fn = cancel_fn;
  c->t_unpause.fn = unpause_fn;
  c->retry_timer.fn = on_retry_timer;
  c->idle_timer.fn = on_idle_timer;
  c->stall_timer.fn = on_stall_timer;
  c->retry_after_ms = -1;

  struct curl_slist *nodes = (struct curl_slist *)(c + 1);
  for (size_t i = 0; i < req->n_headers; i++) {
    nodes[i].data = (char *)req->headers[i]; /* read only (libcurl copies nothing here) */
    nodes[i].next = &nodes[i + 1];
  }
  /* No "Expect: 100-continue" round trip for large bodies. */
  static char no_expect[] = "Expect:";
  nodes[req->n_headers].data = no_expect;
  nodes[req->n_headers].next = NULL;
  c->hdrs = nodes;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  return c;
}

/* The outcome of a call the loop is done with, into *resp (the status's
 * message set on this thread when not HL_OK). */
static hl_status take_response(call *c, hl_status sink_st, hl__http_response *resp) {
  const hl__http_request *req = c->req;
  hl_status st;
  if (sink_st != HL_OK) {
    st = sink_st; /* the sink's own message stays */
    /* A sink may end a stream on purpose once it has what it needs (MCP):
     * the header it asked for is still the caller's. */
    resp->captured = c->captured;
    c->captured = NULL;
  } else if (c->st != HL_OK) {
    st = c->msg ? hl_fail(c->st, "%s", c->msg)
                : hl_fail(c->st, "%s: request to %s failed (%s; no memory for the details)",
                          c->what, call_url(c), hl_strerror(c->st));
  } else {
    st = HL_OK;
    resp->status = c->status;
    resp->retry_after_refused_ms = c->retry_after_refused_ms;
    resp->content_type = c->content_type;
    c->content_type = NULL;
    resp->captured = c->captured;
    c->captured = NULL;
    resp->challenge = c->challenge;
    c->challenge = NULL;
    resp->dpop_nonce = c->dpop_nonce;
    c->dpop_nonce = NULL;
    bool ok2xx = c->status >= 200 && c->status < 300;
    if (c->buf && !(ok2xx && req->on_data)) {
      resp->body = ok2xx ? c->buf : hl__redact(c->buf, req->secret);
      resp->body_len = ok2xx ? c->len : (resp->body ? strlen(resp->body) : 0);
      c->buf = NULL;
    }
  }
  resp->attempts = c->attempt;
  return st;
}

static void call_free(call *c) {
  free(c->buf);
  free(c->content_type);
  free(c->captured);
  free(c->challenge);
  free(c->dpop_nonce);
  free(c->pend);
  free(c->msg);
  free(c->head);
  free(c->url);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->cond);
  free(c);
}

/* An asynchronous call ended (loop thread): hand the outcome over, free. */
static void complete_async(call *c) {
  hl__http_response resp;
  memset(&resp, 0, sizeof resp);
  hl_status st = take_response(c, HL_OK, &resp);
  hl__http_done_fn done = c->async_done;
  void *user = c->async_user;
  call_free(c);
  done(st, &resp, user);
}

hl_status hl__http_request_send(hl__http *client, const hl__http_request *req,
                                hl__http_response *resp) {
  if (!resp) return hl_fail(HL_ERR_INVALID, "http: NULL response");
  memset(resp, 0, sizeof *resp);
  if (!client || !req || !req->url) return hl_fail(HL_ERR_INVALID, "http: NULL client or URL");
  hl_status st = hl__engine_start();
  if (st != HL_OK) return st;
  pthread_once(&listen_once, listen_for_cancel);

  call *c = call_new(client, req);
  if (!c) return hl_last_status();
  /* Nothing else in flight: drive the loop here rather than hand the
   * request to the loop thread and be woken by it (engine.h, "Who
   * drives"). Not for a streamed body: its sink runs user code (token
   * callbacks), which must not hold up every other request. */
  bool driving = !req->on_data && hl__engine_drive_begin();
  pthread_mutex_lock(&c->lock);
  if (driving) c->ops++;
  else post_locked(c, &c->t_submit);
  pthread_mutex_unlock(&c->lock);
  if (driving) submit_fn(&c->t_submit);
  hl_status sink_st = wait_call(c, driving);
  if (driving) hl__engine_drive_end();

  /* The loop is done with the call: everything in it is ours. */
  st = take_response(c, sink_st, resp);
  call_free(c);
  return st;
}

hl_status hl__http_request_start(hl__http *client, const hl__http_request *req,
                                 hl__http_done_fn done, void *user) {
  if (!client || !req || !req->url || !done)
    return hl_fail(HL_ERR_INVALID, "http: NULL client, URL or completion");
  hl_status st = hl__engine_start();
  if (st != HL_OK) return st;
  pthread_once(&listen_once, listen_for_cancel);
  call *c = call_new(client, req);
  if (!c) return hl_last_status();
  c->async_done = done;
  c->async_user = user;
  if (req->cancel_user) c->loop = hl__engine_loop_of(req->cancel_user);
  /* From here on the call is the loop's: submit_fn may run (and even
   * finish the call) before this returns. */
  pthread_mutex_lock(&c->lock);
  c->ops++;
  pthread_mutex_unlock(&c->lock);
  /* A blocking run about to wait for this answer defers the post and
   * drives the loop itself if it can (engine.h, "Who drives"). */
  hl__engine_post_deferrable(&c->t_submit, c->loop);
  return HL_OK;
}

void hl__http_response_clear(hl__http_response *resp) {
  if (!resp) return;
  free(resp->body);
  free(resp->content_type);
  free(resp->captured);
  free(resp->challenge);
  free(resp->dpop_nonce);
  memset(resp, 0, sizeof *resp);
}
