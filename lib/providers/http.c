/*
 * http.c - the libcurl layer: pooled transfers, timeouts, retries,
 * cancellation, size cap, redaction (see http.h).
 *
 * Each request runs in the calling thread on a "slot": a multi handle with
 * one easy handle. The multi handle owns the connection cache, so keeping
 * slots in a free list keeps their connections alive for the next request
 * (keep-alive reuse without a shared handle and its locks). The multi
 * interface is used even for one transfer because curl_multi_poll() can
 * be woken from another thread (curl_multi_wakeup) and returns on a short
 * interval, which is what lets a request notice cancellation and an idle
 * server promptly.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "providers/excerpt.h"
#include "providers/http.h"
#include "providers/retry_after.h"

/* How often a waiting transfer re-checks cancellation predicates that
 * cannot wake it (hl_context_cancelled). cancel_all wakes it at once. */
#define HL_HTTP_POLL_MS 20
/* Idle slots kept per client (each holds its connections open). */
#define HL_HTTP_MAX_IDLE_SLOTS 16

typedef struct http_slot {
  CURLM *multi;
  CURL *easy;
  struct http_slot *next;  /* free list, or active list */
  struct http_slot *prev;  /* active list only */
} http_slot;

struct hl__http {
  hl__http_options opts;
  pthread_mutex_t lock;
  http_slot *idle;
  size_t n_idle;
  http_slot *active;
  atomic_uint_fast64_t cancel_gen;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_OK;
static void curl_init_once(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

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

void hl__redact_into(char *out, size_t out_size, const char *text, const char *secret) {
  if (!out || out_size == 0) return;
  if (!text) text = "";
  size_t w = 0;
  size_t slen = (secret && *secret) ? strlen(secret) : 0;
  while (*text && w + 1 < out_size) {
    if (slen && strncmp(text, secret, slen) == 0) {
      const char *m = "[REDACTED]";
      while (*m && w + 1 < out_size) out[w++] = *m++;
      text += slen;
    } else {
      out[w++] = *text++;
    }
  }
  out[w] = '\0';
}

bool hl__http_status_retryable(long status) {
  return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

/* ------------------------------------------------------------------ */
/* Client and slot pool                                                */
/* ------------------------------------------------------------------ */

void hl__http_options_default(hl__http_options *o) {
  o->connect_timeout_ms = 10000;
  o->timeout_ms = 600000;
  o->idle_timeout_ms = 120000;
  o->max_retries = 3;
  o->retry_base_ms = 500;
  o->retry_max_ms = 60000;
  o->max_response_bytes = (size_t)8 << 20;
}

hl__http *hl__http_new(const hl__http_options *opts) {
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_result != CURLE_OK) {
    hl_fail(HL_ERR_NETWORK, "libcurl initialisation failed: %s",
            curl_easy_strerror(curl_init_result));
    return NULL;
  }
  hl__http *c = calloc(1, sizeof *c);
  if (!c) {
    hl_fail(HL_ERR_NOMEM, "out of memory creating an HTTP client");
    return NULL;
  }
  if (opts) c->opts = *opts;
  else hl__http_options_default(&c->opts);
  pthread_mutex_init(&c->lock, NULL);
  atomic_init(&c->cancel_gen, 0);
  return c;
}

static void slot_free(http_slot *s) {
  if (!s) return;
  if (s->easy) curl_easy_cleanup(s->easy);
  if (s->multi) curl_multi_cleanup(s->multi);
  free(s);
}

void hl__http_free(hl__http *c) {
  if (!c) return;
  http_slot *s = c->idle;
  while (s) {
    http_slot *n = s->next;
    slot_free(s);
    s = n;
  }
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const hl__http_options *hl__http_get_options(const hl__http *c) { return &c->opts; }

void hl__http_set_options(hl__http *c, const hl__http_options *opts) {
  if (c && opts) c->opts = *opts;
}

void hl__http_cancel_all(hl__http *c) {
  if (!c) return;
  atomic_fetch_add(&c->cancel_gen, 1);
  pthread_mutex_lock(&c->lock);
  for (http_slot *s = c->active; s; s = s->next) curl_multi_wakeup(s->multi);
  pthread_mutex_unlock(&c->lock);
}

/* Take an idle slot (its connections come along) or make a new one, and
 * put it on the active list so that cancel_all can wake it. */
static http_slot *slot_acquire(hl__http *c) {
  pthread_mutex_lock(&c->lock);
  http_slot *s = c->idle;
  if (s) {
    c->idle = s->next;
    c->n_idle--;
  }
  pthread_mutex_unlock(&c->lock);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->multi = curl_multi_init();
    s->easy = curl_easy_init();
    if (!s->multi || !s->easy) {
      slot_free(s);
      return NULL;
    }
  }
  pthread_mutex_lock(&c->lock);
  s->prev = NULL;
  s->next = c->active;
  if (c->active) c->active->prev = s;
  c->active = s;
  pthread_mutex_unlock(&c->lock);
  return s;
}

static void slot_release(hl__http *c, http_slot *s, bool keep) {
  pthread_mutex_lock(&c->lock);
  if (s->prev) s->prev->next = s->next;
  else c->active = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = NULL;
  if (keep && c->n_idle < HL_HTTP_MAX_IDLE_SLOTS) {
    s->next = c->idle;
    c->idle = s;
    c->n_idle++;
    s = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  slot_free(s);
}

/* ------------------------------------------------------------------ */
/* One attempt                                                         */
/* ------------------------------------------------------------------ */

typedef struct xfer {
  hl__http *client;
  const hl__http_request *req;
  CURL *easy;
  long status;           /* known at the first body byte */
  bool status_known;
  bool stream_body;      /* 2xx with on_data: body goes to the caller */
  char *buf;
  size_t len, cap;
  size_t received;       /* body bytes of this attempt */
  size_t delivered;      /* of which handed to on_data */
  hl_status cb_status;   /* on_data's failure */
  bool too_large;
  double retry_after_ms; /* the server's wish, saturated (retry_after.h); -1: none */
  int64_t last_activity;
  char *content_type;    /* malloc'd copy, or NULL */
  bool not_http;         /* the reply did not start with an HTTP status line */
  char head[HL__EXCERPT_BYTES + 2]; /* its first bytes, for the message (one more than
                                       the excerpt shows, so it marks the cut) */
  size_t head_len;
} xfer;

static size_t on_header(char *data, size_t size, size_t n, void *user) {
  xfer *x = user;
  size_t len = size * n;
  x->last_activity = now_ms();
  /* A new status line means a new response (after a 100 Continue): forget
   * what an earlier one said. */
  if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) x->retry_after_ms = -1;
  char line[256];
  size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
  memcpy(line, data, l);
  line[l] = '\0';
  /* OpenAI's retry-after-ms is more precise and wins over Retry-After. */
  if (strncasecmp(line, "retry-after-ms:", 15) == 0) {
    double v = hl__retry_after_ms_header(line + 15);
    if (v >= 0) x->retry_after_ms = v;
  } else if (strncasecmp(line, "retry-after:", 12) == 0 && x->retry_after_ms < 0) {
    x->retry_after_ms = hl__retry_after_ms(line + 12, time(NULL));
  }
  return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user) {
  xfer *x = user;
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
    size_t n = len < sizeof x->head - 1 ? len : sizeof x->head - 1;
    memcpy(x->head, data, n);
    x->head_len = n;
    return 0;
  }
  size_t cap = x->client->opts.max_response_bytes;
  if (cap && x->received + len > cap) {
    x->too_large = true;
    return 0; /* makes curl stop with CURLE_WRITE_ERROR */
  }
  x->received += len;
  if (x->stream_body) {
    hl_status st = x->req->on_data(data, len, x->req->data_user);
    x->delivered += len;
    if (st != HL_OK) {
      x->cb_status = st;
      return 0;
    }
    return len;
  }
  if (x->len + len + 1 > x->cap) {
    size_t nc = x->cap ? x->cap : 4096;
    while (nc < x->len + len + 1) nc *= 2;
    char *nb = realloc(x->buf, nc);
    if (!nb) {
      x->cb_status = hl_fail(HL_ERR_NOMEM, "out of memory buffering a response");
      return 0;
    }
    x->buf = nb;
    x->cap = nc;
  }
  memcpy(x->buf + x->len, data, len);
  x->len += len;
  x->buf[x->len] = '\0';
  return len;
}

typedef enum attempt_end {
  END_DONE,       /* a response arrived (any status) */
  END_RETRYABLE,  /* transport failure worth retrying; message set */
  END_FATAL       /* failure; status and message set */
} attempt_end;

static bool cancel_requested(hl__http *c, const hl__http_request *req, uint_fast64_t gen) {
  if (atomic_load(&c->cancel_gen) != gen) return true;
  return req->cancelled && req->cancelled(req->cancel_user);
}

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

static attempt_end run_attempt(hl__http *c, const hl__http_request *req, xfer *x,
                               uint_fast64_t gen, hl_status *st_out, bool *keep_slot) {
  const hl__http_options *o = &c->opts;
  const char *what = req->what ? req->what : "http";
  char url[512];
  hl__redact_into(url, sizeof url, req->url, req->secret);
  *keep_slot = true;

  http_slot *slot = slot_acquire(c);
  if (!slot) {
    *st_out = hl_fail(HL_ERR_NOMEM, "%s: out of memory starting a request", what);
    return END_FATAL;
  }
  CURL *e = slot->easy;
  curl_easy_reset(e);
  x->easy = e;

  struct curl_slist *hdrs = NULL, *tmp;
  bool oom = false;
  for (size_t i = 0; i < req->n_headers && !oom; i++) {
    tmp = curl_slist_append(hdrs, req->headers[i]);
    if (!tmp) oom = true;
    else hdrs = tmp;
  }
  /* No "Expect: 100-continue" round trip for large bodies. */
  if (!oom && !(tmp = curl_slist_append(hdrs, "Expect:"))) oom = true;
  else if (!oom) hdrs = tmp;
  if (oom) {
    curl_slist_free_all(hdrs);
    slot_release(c, slot, true);
    *st_out = hl_fail(HL_ERR_NOMEM, "%s: out of memory building headers", what);
    return END_FATAL;
  }

  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';
  curl_easy_setopt(e, CURLOPT_URL, req->url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  if (req->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 0L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  /* A reply that is not HTTP then reaches on_body with status 0, which
   * names it in the error instead of curl's "HTTP/0.9 when not allowed". */
  curl_easy_setopt(e, CURLOPT_HTTP09_ALLOWED, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  if (o->max_response_bytes)
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response_bytes);

  hl_status abort_st = HL_OK;
  CURLcode rc = CURLE_OK;
  x->last_activity = now_ms();
  if (curl_multi_add_handle(slot->multi, e) != CURLM_OK) {
    curl_slist_free_all(hdrs);
    slot_release(c, slot, false);
    *st_out = hl_fail(HL_ERR_NETWORK, "%s: cannot start a transfer to %s", what, url);
    return END_FATAL;
  }
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(slot->multi, &running);
    if (mc != CURLM_OK) {
      abort_st = hl_fail(HL_ERR_NETWORK, "%s: transfer to %s failed: %s", what, url,
                         curl_multi_strerror(mc));
      break;
    }
    if (!running) break;
    if (cancel_requested(c, req, gen)) {
      abort_st = hl_fail(HL_ERR_CANCELLED, "%s: request to %s cancelled", what, url);
      break;
    }
    long wait = HL_HTTP_POLL_MS;
    if (o->idle_timeout_ms > 0) {
      int64_t idle = now_ms() - x->last_activity;
      if (idle >= o->idle_timeout_ms) {
        abort_st = hl_fail(HL_ERR_TIMEOUT,
                           "%s: no data from %s for %ld ms (idle timeout)", what, url,
                           o->idle_timeout_ms);
        break;
      }
      if (o->idle_timeout_ms - idle < wait) wait = (long)(o->idle_timeout_ms - idle);
    }
    curl_multi_poll(slot->multi, NULL, 0, (int)(wait > 0 ? wait : 1), NULL);
  }
  if (abort_st == HL_OK) {
    int left = 0;
    CURLMsg *m;
    while ((m = curl_multi_info_read(slot->multi, &left)))
      if (m->msg == CURLMSG_DONE && m->easy_handle == e) rc = m->data.result;
  }
  if (!x->status_known) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
  long request_bytes = 0; /* 0: the request never left (connect failed) */
  curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &request_bytes);
  char *ct = NULL;
  if (curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
    x->content_type = strdup(ct);
  curl_multi_remove_handle(slot->multi, e);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
  curl_slist_free_all(hdrs);
  /* A transfer cut short leaves its connection unusable; curl closes it on
   * removal, the slot itself stays good. */
  slot_release(c, slot, true);

  if (abort_st != HL_OK) {
    *st_out = abort_st;
    return END_FATAL;
  }
  if (rc == CURLE_OK) return END_DONE;

  char detail[CURL_ERROR_SIZE + 64];
  hl__redact_into(detail, sizeof detail, errbuf[0] ? errbuf : curl_easy_strerror(rc),
                  req->secret);
  if (x->not_http) {
    char quote[HL__EXCERPT_BYTES * 4 + 16];
    hl__excerpt(quote, sizeof quote, x->head, x->head_len, req->secret);
    *st_out = hl_fail(HL_ERR_PROVIDER, "%s: %s did not answer in HTTP: it sent %s", what, url,
                      quote);
    return END_FATAL;
  }
  if (rc == CURLE_WEIRD_SERVER_REPLY ||
      (rc == CURLE_UNSUPPORTED_PROTOCOL && request_bytes > 0)) {
    *st_out = hl_fail(HL_ERR_PROVIDER, "%s: %s did not answer in valid HTTP: %s", what, url,
                      detail);
    return END_FATAL;
  }
  if (x->cb_status != HL_OK) {
    *st_out = x->cb_status; /* on_data's own message stays */
    return END_FATAL;
  }
  if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    *st_out = hl_fail(HL_ERR_TOO_LARGE, "%s: response from %s larger than the cap of %zu bytes",
                      what, url, o->max_response_bytes);
    return END_FATAL;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    *st_out = hl_fail(HL_ERR_TIMEOUT, "%s: request to %s timed out: %s", what, url, detail);
    /* A connect that timed out sent nothing: worth another attempt. A
     * request the server sat on is not (it would wait as long again). */
    return request_bytes == 0 && x->received == 0 ? END_RETRYABLE : END_FATAL;
  }
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
    *st_out = hl_fail(HL_ERR_INVALID, "%s: bad URL %s: %s", what, url, detail);
    return END_FATAL;
  }
  if (x->delivered > 0) {
    *st_out = hl_fail(HL_ERR_NETWORK,
                      "%s: connection to %s lost mid-stream after %zu bytes: %s", what, url,
                      x->delivered, detail);
    return END_FATAL;
  }
  *st_out = hl_fail(HL_ERR_NETWORK, "%s: request to %s failed: %s", what, url, detail);
  return curl_code_retryable(rc) ? END_RETRYABLE : END_FATAL;
}

/* Sleep `ms`, in slices, unless cancelled. */
static hl_status backoff_wait(hl__http *c, const hl__http_request *req, uint_fast64_t gen,
                              long ms) {
  int64_t until = now_ms() + ms;
  for (;;) {
    if (cancel_requested(c, req, gen))
      return hl_fail(HL_ERR_CANCELLED, "%s: request cancelled while waiting to retry",
                     req->what ? req->what : "http");
    int64_t left = until - now_ms();
    if (left <= 0) return HL_OK;
    long slice = left < HL_HTTP_POLL_MS ? (long)left : HL_HTTP_POLL_MS;
    struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
}

static long retry_cap_ms(const hl__http_options *o) {
  return o->retry_max_ms > 0 ? o->retry_max_ms : 60000;
}

static long backoff_ms(const hl__http_options *o, int retry, double retry_after_ms) {
  long cap = retry_cap_ms(o);
  if (retry_after_ms >= 0) return retry_after_ms < (double)cap ? (long)retry_after_ms : cap;
  double d = (double)(o->retry_base_ms > 0 ? o->retry_base_ms : 0);
  for (int i = 1; i < retry && d < cap; i++) d *= 2;
  if (d > cap) d = cap;
  /* "Equal jitter": half fixed, half random. */
  return (long)(d / 2 + jitter_unit() * d / 2);
}

hl_status hl__http_request_send(hl__http *c, const hl__http_request *req,
                                hl__http_response *resp) {
  if (!resp) return hl_fail(HL_ERR_INVALID, "http: NULL response");
  memset(resp, 0, sizeof *resp);
  if (!c || !req || !req->url) return hl_fail(HL_ERR_INVALID, "http: NULL client or URL");
  uint_fast64_t gen = atomic_load(&c->cancel_gen);
  int max_retries = c->opts.max_retries > 0 ? c->opts.max_retries : 0;

  for (int attempt = 1;; attempt++) {
    xfer x;
    memset(&x, 0, sizeof x);
    x.client = c;
    x.req = req;
    x.retry_after_ms = -1;
    hl_status st = HL_OK;
    bool keep;
    resp->attempts = attempt;
    attempt_end end = run_attempt(c, req, &x, gen, &st, &keep);
    bool can_retry = attempt <= max_retries;
    if (end == END_DONE) {
      /* A server asking for longer than the retry cap is not kept waiting
       * on (three capped waits would hold the call for minutes): its
       * answer is final now and carries the wish for the message. */
      bool too_long = x.retry_after_ms > (double)retry_cap_ms(&c->opts);
      if (hl__http_status_retryable(x.status) && can_retry && too_long)
        resp->retry_after_refused_ms = x.retry_after_ms;
      else if (hl__http_status_retryable(x.status) && can_retry) {
        free(x.buf);
        free(x.content_type);
        st = backoff_wait(c, req, gen, backoff_ms(&c->opts, attempt, x.retry_after_ms));
        if (st != HL_OK) return st;
        continue;
      }
      resp->status = x.status;
      resp->content_type = x.content_type;
      x.content_type = NULL;
      if (x.buf && !(x.status >= 200 && x.status < 300 && req->on_data)) {
        resp->body = x.status >= 200 && x.status < 300 ? x.buf : hl__redact(x.buf, req->secret);
        resp->body_len = resp->body ? strlen(resp->body) : 0;
        if (x.status >= 200 && x.status < 300) resp->body_len = x.len;
        x.buf = NULL;
      }
      free(x.buf);
      return HL_OK;
    }
    free(x.buf);
    free(x.content_type);
    if (end == END_RETRYABLE && can_retry) {
      st = backoff_wait(c, req, gen, backoff_ms(&c->opts, attempt, -1));
      if (st != HL_OK) return st;
      continue;
    }
    if (end == END_RETRYABLE && attempt > 1) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", hl_last_error());
      return hl_fail(st, "%s (after %d attempts)", msg, attempt);
    }
    return st;
  }
}

void hl__http_response_clear(hl__http_response *resp) {
  if (!resp) return;
  free(resp->body);
  free(resp->content_type);
  memset(resp, 0, sizeof *resp);
}
