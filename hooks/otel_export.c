/*
 * otel_export.c - the exporter: one thread that reads the ring of records
 * the runs publish (otel_record.c) into spans (otel.c), keeps finished
 * spans in a bounded queue, batches them and POSTs OTLP/HTTP JSON with
 * its own libcurl handle, plus the metrics every metrics_interval_ms.
 *
 * Why a thread of its own: a run must never wait for the collector. The
 * run's side only copies records into the ring (or drops them when it is
 * full); everything slow (spans, encoding, the network, retries, backoff)
 * happens here. The ring is read on this thread's own timer, paced by
 * how fast records come so that it is at most an eighth full when read
 * (ot_pace_next), also while a request is in flight (from curl's progress
 * callback) and during a backoff; a producer wakes the thread only when
 * it finds the ring half full. A collector that is down, hangs or answers 503
 * makes this thread busy, the queue fills, and spans are dropped and
 * counted; one warning says so.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "otel_internal.h"

static void vwarn(hl_otel *o, atomic_bool *flag, const char *tail, const char *fmt, va_list ap) {
  if (atomic_exchange(flag, true)) return;
  char msg[800];
  vsnprintf(msg, sizeof msg, fmt ? fmt : "?", ap);
  FILE *out = o->warn ? o->warn : stderr;
  fprintf(out, "hookline otel: %s (%s)\n", msg, tail);
  fflush(out);
}

void ot_warn(hl_otel *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(o, &o->warned, "further export problems are counted, not printed: hl_otel_get_stats", fmt, ap);
  va_end(ap);
}

void ot_warn_once(hl_otel *o, atomic_bool *flag, const char *tail, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(o, flag, tail, fmt, ap);
  va_end(ap);
}

int ot_thread_nice(void) {
#ifdef __linux__
  errno = 0;
  int n = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
  return errno ? 0 : n;
#else
  return 0;
#endif
}

/* The exporter thread yields the cores to the runs: on Linux nice is per
 * thread, and raising one's own nice needs no privilege. Why not
 * SCHED_IDLE: on a machine kept busy by other processes the exporter would
 * never run, and every span would be dropped. */
static void lower_priority(hl_otel *o) {
#ifdef __linux__
  if (o->nice_delta > 0) {
    int want = o->creator_nice + o->nice_delta;
    if (want > 19) want = 19;
    if (want > ot_thread_nice()) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), want);
  }
#endif
  atomic_store(&o->exporter_nice, ot_thread_nice());
}

void ot_export_wake(hl_otel *o) {
  pthread_mutex_lock(&o->qlock);
  pthread_cond_signal(&o->qcond);
  pthread_mutex_unlock(&o->qlock);
}

void ot_export_enqueue(hl_otel *o, ot_span *first, size_t n, int64_t since_ns) {
  if (!first) return;
  if (!o->sig[OT_SIG_TRACES].on) {
    /* OTEL_TRACES_EXPORTER=none (or a protocol not spoken): the spans
     * made the metrics (ot_drain), nothing sends them */
    ot_spans_recycle(o, first);
    return;
  }
  pthread_mutex_lock(&o->qlock);
  if (o->q_len + n > o->max_queue || o->stop) {
    size_t queue = o->max_queue;
    pthread_mutex_unlock(&o->qlock);
    atomic_fetch_add(&o->st_dropped, n); /* (their metrics are recorded: ot_drain) */
    ot_spans_recycle(o, first);
    ot_warn(o, "the export queue is full (%zu spans): spans are dropped", queue);
    return;
  }
  ot_span *last = first;
  while (last->next) last = last->next;
  if (o->q_tail) o->q_tail->next = first;
  else {
    o->q_head = first;
    o->q_oldest_ns = since_ns ? since_ns : ot_mono_ns();
  }
  o->q_tail = last;
  o->q_len += n;
  bool wake = o->q_len >= o->max_batch;
  pthread_mutex_unlock(&o->qlock);
  if (wake) pthread_cond_signal(&o->qcond);
}

/* ---- one HTTP export -------------------------------------------------- */

/* What the exporter thread sends with: a libcurl handle per signal (each
 * its TLS settings and its connection kept), the headers of each
 * signal's requests, and the answer's buffer (kept: no allocation per
 * request once it has grown). */
typedef struct ot_sender {
  CURL *curl[OT_SIG_COUNT];
  struct curl_slist *hdrs[OT_SIG_COUNT];
  ot_reply reply;
  ot_buf gz;                 /* a gzipped body */
  bool gzip[OT_SIG_COUNT];   /* the signal's bodies are gzipped: its list says so */
} ot_sender;

/* Cut a request when shutdown's deadline passed (a hanging collector). */
static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  (void)a, (void)b, (void)c, (void)d;
  hl_otel *o = ud;
  /* A request in flight (a slow collector) must not leave the ring to
   * fill: read it now unless another drain is at it. */
  ot_drain(o, false);
  return atomic_load(&o->abandon) ? 1 : 0;
}

/* Sleep `ms` unless stopping with the deadline gone (qlock not held). */
static void backoff_wait(hl_otel *o, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&o->qlock);
  while (!atomic_load(&o->abandon)) {
    if (pthread_cond_timedwait(&o->qcond, &o->qlock, &until) == ETIMEDOUT) break;
    /* woken: by a producer (the ring), a flush or the stop */
    pthread_mutex_unlock(&o->qlock);
    ot_drain(o, false);
    pthread_mutex_lock(&o->qlock);
  }
  pthread_mutex_unlock(&o->qlock);
}

/* POST `body` to signal `which`'s URL (OT_SIG_*), retrying 429/502/503/504
 * and connection errors with exponential backoff until the signal's
 * timeout_ms is spent (Retry-After, in
 * seconds or as a date, lengthens a wait up to the backoff's cap); other
 * answers fail at once, the warning naming their Status message. True
 * on 2xx; then *rejected is what a partial success said was refused
 * (rejectedSpans or rejectedDataPoints), not retried: the collector has
 * read the request, sending it again would not help. */
static bool post(hl_otel *o, ot_sender *snd, int which, const ot_buf *body, uint64_t *rejected) {
  CURL *curl = snd->curl[which];
  ot_reply *reply = &snd->reply;
  const ot_signal *sig = &o->sig[which];
  const char *url = sig->url;
  const char *rejected_key = which == OT_SIG_TRACES ? "rejectedSpans" : "rejectedDataPoints";
  int64_t deadline = ot_mono_ns() + (int64_t)sig->timeout_ms * 1000000;
  long backoff_ms = 100;
  char why[CURL_ERROR_SIZE + OT_REPLY_TEXT + 64] = "";
  *rejected = 0;
  if (snd->gzip[which]) {
    /* once, for every attempt (the header says gzip: no plain fallback) */
    if (!ot_gzip(&snd->gz, body->p, body->len)) {
      snprintf(why, sizeof why, "out of memory for its gzip");
      goto failed;
    }
    body = &snd->gz;
  }
  for (;;) {
    int64_t left_ms = (deadline - ot_mono_ns()) / 1000000;
    if (left_ms <= 0 || atomic_load(&o->abandon)) break;
    char errbuf[CURL_ERROR_SIZE] = "";
    ot_reply_reset(reply);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, snd->hdrs[which]);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->p);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)left_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, left_ms < 5000 ? (long)left_ms : 5000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ot_reply_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ot_reply_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, reply);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, o);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    atomic_fetch_add(&o->st_requests, 1);
    CURLcode rc = curl_easy_perform(curl);
    long code = 0;
    bool retry;
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
      if (code >= 200 && code < 300) {
        char msg[OT_REPLY_TEXT];
        if (ot_reply_partial(reply, rejected_key, rejected, msg, sizeof msg))
          ot_warn_once(o, &o->warned_partial, "further partial successes are counted: hl_otel_get_stats",
                       "the collector at %s rejected %llu %s: %s", url, (unsigned long long)*rejected,
                       which == OT_SIG_TRACES ? "spans" : "data points",
                       msg[0] ? msg : "(no message)");
        return true;
      }
      retry = code == 429 || code == 502 || code == 503 || code == 504;
      /* the collector says why in a google.rpc.Status (OTLP/HTTP) */
      char msg[OT_REPLY_TEXT];
      ot_reply_status_message(reply, msg, sizeof msg);
      snprintf(why, sizeof why, "HTTP %ld%s%s", code, msg[0] ? ": " : "", msg);
    } else {
      /* not retried: what the next attempt would meet again (a URL, a
       * certificate that does not verify, a file of ours that is bad) */
      retry = rc != CURLE_ABORTED_BY_CALLBACK && rc != CURLE_URL_MALFORMAT &&
              rc != CURLE_UNSUPPORTED_PROTOCOL && rc != CURLE_PEER_FAILED_VERIFICATION &&
              rc != CURLE_SSL_CERTPROBLEM && rc != CURLE_SSL_CACERT_BADFILE;
      snprintf(why, sizeof why, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    if (!retry) break;
    long wait = backoff_ms;
    if (reply->retry_after_s > 0 && reply->retry_after_s * 1000 > wait)
      wait = reply->retry_after_s * 1000 < 5000 ? reply->retry_after_s * 1000 : 5000;
    if ((deadline - ot_mono_ns()) / 1000000 <= wait) break;
    backoff_wait(o, wait);
    backoff_ms = backoff_ms * 2 < 5000 ? backoff_ms * 2 : 5000;
  }
failed:
  atomic_fetch_add(&o->st_failures, 1);
  ot_warn(o, "export to %s failed: %s; spans and metrics are dropped", url,
          why[0] ? why : "deadline passed");
  return false;
}

/* ---- the thread ------------------------------------------------------ */

/* How long until the ring is read again (ns), from how many records came
 * since the last reading (the ring's head: whoever drained them):
 * before the ring is an eighth full at that rate, so that no producer
 * finds it half full and wakes this thread (otel_record.c) unless the
 * rate quadruples within a tick. (With a quarter, the runs' pace on a
 * loaded machine, bursty, still made ~2 wakes per 1,000 runs: each
 * after the exporter slept ~45 ms on an estimate half the rate.) At
 * most twice the last tick (one slow spell does not stretch it at once),
 * export_delay_ms / 4 while records come and export_delay_ms when none
 * came (a burst after a quiet spell is caught by the half-full wake), at
 * least 1 ms. The bench's runs of (b) over loopback publish ~140 records
 * a millisecond while they run: a tick of a few milliseconds. */
int64_t ot_pace_next(hl_otel *o, ot_pace *p, int64_t now) {
  size_t head = atomic_load_explicit(&o->ring_head, memory_order_relaxed);
  size_t came = head - p->head;
  int64_t delay = (int64_t)o->export_delay_ms * 1000000, since = now - p->at;
  int64_t t = 2 * p->tick;
  if (came) {
    int64_t eighth = since / (int64_t)came * (int64_t)(o->ring_cap / 8);
    if (eighth < t) t = eighth;
    if (t > delay / 4) t = delay / 4;
  } else if (t > delay) {
    t = delay;
  }
  if (t < 1000000) t = 1000000;
  *p = (ot_pace){.head = head, .at = now, .tick = t};
  return t;
}

/* The spans after the first `n` of `queue` (whose last is `tail`) back
 * at the head of the queue, before what producers added since; the `n`
 * leave the queue's count. The walk to the n-th span reads spans the
 * encoding has just read. */
static void requeue_rest(hl_otel *o, ot_span *queue, size_t n, ot_span *tail) {
  ot_span *last = queue;
  for (size_t i = 1; i < n; i++) last = last->next;
  ot_span *rest = last->next;
  last->next = NULL;
  pthread_mutex_lock(&o->qlock);
  if (rest) {
    tail->next = o->q_head;
    o->q_head = rest;
    if (!o->q_tail) o->q_tail = tail;
    o->q_oldest_ns = ot_mono_ns();
  }
  o->q_len -= n;
  pthread_mutex_unlock(&o->qlock);
}

/* Export the first `n` spans of `queue`, the whole queue taken from
 * o->q_head (its last span `tail`; o->q_len still counts it), and put the
 * rest back. `body` is the thread's buffer, kept from batch to batch so
 * that it does not grow again (realloc) for each. */
static bool export_spans(hl_otel *o, ot_sender *snd, ot_span *queue, size_t n, ot_span *tail,
                         ot_buf *body) {
  body->len = 0;
  body->failed = false;
  bool encoded = ot_json_spans(body, o->resource_json, queue, n);
  requeue_rest(o, queue, n, tail);
  /* The body has all a retry needs: the spans go back to the pool now,
   * while the encoding has left them in the cache. After the POST (the
   * body copied through libcurl and the kernel) they were not, and the
   * pool's walk of the batch missed at every span; and the drains made
   * during the request (progress()) reuse them. */
  ot_spans_recycle(o, queue);
  uint64_t rejected = 0;
  bool ok = encoded && post(o, snd, OT_SIG_TRACES, body, &rejected);
  if (rejected > n) rejected = n;
  if (ok) {
    atomic_fetch_add(&o->st_exported, n - rejected);
    atomic_fetch_add(&o->st_rejected_spans, rejected);
  } else {
    atomic_fetch_add(&o->st_dropped, n);
  }
  return ok;
}

static bool export_metrics(hl_otel *o, ot_sender *snd) {
  ot_buf body = {0};
  bool ok = true;
  if (o->sig[OT_SIG_METRICS].on && ot_json_metrics(&body, o->resource_json, &o->metrics, ot_now_ns())) {
    uint64_t rejected = 0;
    ok = post(o, snd, OT_SIG_METRICS, &body, &rejected);
    if (ok) atomic_fetch_add(&o->st_metric_exports, 1);
    atomic_fetch_add(&o->st_rejected_points, rejected);
  }
  free(body.p);
  return ok;
}

static void *export_main(void *arg) {
  hl_otel *o = arg;
  lower_priority(o);
  ot_sender snd = {0};
  bool curl = true; /* every handle was made */
  for (int k = 0; k < OT_SIG_COUNT; k++) {
    const ot_signal *sig = &o->sig[k];
    snd.curl[k] = curl_easy_init();
    curl = curl && snd.curl[k];
    if (snd.curl[k]) {
      /* set once: NULL would not restore libcurl's default CA bundle */
      if (sig->ca) curl_easy_setopt(snd.curl[k], CURLOPT_CAINFO, sig->ca);
      if (sig->cert) curl_easy_setopt(snd.curl[k], CURLOPT_SSLCERT, sig->cert);
      if (sig->key) curl_easy_setopt(snd.curl[k], CURLOPT_SSLKEY, sig->key);
    }
    snd.hdrs[k] = curl_slist_append(NULL, "Content-Type: application/json");
    if (sig->gzip && snd.hdrs[k]) {
      /* (out of memory for the header: plain JSON, never gzip unsaid) */
      struct curl_slist *t = curl_slist_append(snd.hdrs[k], "Content-Encoding: gzip");
      if (t) snd.hdrs[k] = t;
      snd.gzip[k] = t != NULL;
    }
    for (size_t i = 0; i < sig->n_headers && snd.hdrs[k]; i++) {
      struct curl_slist *t = curl_slist_append(snd.hdrs[k], sig->headers[i]);
      if (t) snd.hdrs[k] = t;
    }
  }
  int64_t next_metrics = ot_mono_ns() + (int64_t)o->metrics_interval_ms * 1000000;
  /* (from 1 ms: the first readings learn the rate, then the tick grows) */
  ot_pace pace = {.tick = 1000000, .at = ot_mono_ns()};
  ot_buf body = {0};
  pthread_mutex_lock(&o->qlock);
  for (;;) {
    /* Read the ring; wait for a full batch, the oldest span's delay, the
     * metrics' interval, a flush or the stop, reading the ring every tick
     * (paced by how fast records come: ot_pace_next) or when a producer
     * found it half full. */
    for (;;) {
      pthread_mutex_unlock(&o->qlock);
      ot_drain(o, true);
      int64_t tick = ot_pace_next(o, &pace, ot_mono_ns());
      pthread_mutex_lock(&o->qlock);
      if (o->stop || o->flush_gen != o->flushed_gen || o->q_len >= o->max_batch) break;
      /* A producer that found the ring half full between the drain's end
       * and qlock signalled no one, and its `kick` keeps the next ones
       * from signalling: drain again rather than sleep a tick while the
       * ring fills. (A kick set after this check signals under qlock,
       * once this thread waits.) */
      if (atomic_load_explicit(&o->kick, memory_order_relaxed)) continue;
      int64_t now = ot_mono_ns();
      int64_t wake = next_metrics;
      if (o->q_len) {
        int64_t due = o->q_oldest_ns + (int64_t)o->export_delay_ms * 1000000;
        if (due < wake) wake = due;
      }
      if (wake <= now) break;
      if (now + tick < wake) wake = now + tick;
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (wake - now);
      ts.tv_sec = t / 1000000000;
      ts.tv_nsec = t % 1000000000;
      pthread_cond_timedwait(&o->qcond, &o->qlock, &ts);
    }
    uint64_t gen = o->flush_gen;
    bool stopping = o->stop;
    /* what was published before the flush or the stop we just saw */
    pthread_mutex_unlock(&o->qlock);
    ot_drain(o, true);
    pthread_mutex_lock(&o->qlock);
    bool failed = false;
    /* Send what is queued, batch by batch (a flush or the stop sends all). */
    while (o->q_len && curl && !atomic_load(&o->abandon)) {
      /* The whole queue is taken, its batch cut once encoded: a walk
       * to the batch's end here, over spans made since the last export,
       * missed the cache at every span (perf: ~8 % of this thread's
       * time), where the encoding fetches each span's successor while
       * it writes the span. o->q_len keeps counting them meanwhile, so
       * producers see the queue as full as it is. */
      ot_span *queue = o->q_head, *tail = o->q_tail;
      size_t n = o->q_len < o->max_batch ? o->q_len : o->max_batch;
      o->q_head = o->q_tail = NULL;
      pthread_mutex_unlock(&o->qlock);
      failed |= !export_spans(o, &snd, queue, n, tail, &body);
      pthread_mutex_lock(&o->qlock);
      if (!(gen != o->flushed_gen || stopping) && o->q_len < o->max_batch) break;
    }
    bool metrics_due = ot_mono_ns() >= next_metrics;
    if ((metrics_due || gen != o->flushed_gen || stopping) && curl && !atomic_load(&o->abandon)) {
      pthread_mutex_unlock(&o->qlock);
      failed |= !export_metrics(o, &snd);
      pthread_mutex_lock(&o->qlock);
      next_metrics = ot_mono_ns() + (int64_t)o->metrics_interval_ms * 1000000;
    }
    if (gen != o->flushed_gen) {
      o->flush_failed = failed || !curl;
      o->flushed_gen = gen;
      pthread_cond_broadcast(&o->done_cond);
    }
    if (stopping) break;
  }
  /* Whatever is left (abandoned at the deadline) is dropped and counted. */
  size_t left = o->q_len;
  ot_span *rest = o->q_head;
  o->q_head = o->q_tail = NULL;
  o->q_len = 0;
  pthread_mutex_unlock(&o->qlock);
  atomic_fetch_add(&o->st_dropped, left);
  ot_spans_recycle(o, rest);
  /* The tracer has stopped (hl_otel_shutdown): the spans kept for reuse
   * go now, on this thread rather than the application's. */
  pthread_mutex_lock(&o->lock);
  ot_span_pool_free(o);
  pthread_mutex_unlock(&o->lock);
  free(body.p);
  free(snd.reply.body.p);
  free(snd.gz.p);
  for (int k = 0; k < OT_SIG_COUNT; k++) curl_slist_free_all(snd.hdrs[k]);
  for (int k = 0; k < OT_SIG_COUNT; k++)
    if (snd.curl[k]) curl_easy_cleanup(snd.curl[k]);
  return NULL;
}

hl_status ot_export_start(hl_otel *o) {
  pthread_mutex_init(&o->qlock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&o->qcond, &ca);
  pthread_cond_init(&o->done_cond, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&o->thread, NULL, export_main, o) != 0)
    return hl_fail(HL_ERR_LIMIT, "hl_otel_new: cannot start the exporter thread");
  o->thread_started = true;
  return HL_OK;
}

hl_status ot_export_flush(hl_otel *o, unsigned deadline_ms) {
  if (!o->thread_started) return HL_OK;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += deadline_ms / 1000;
  until.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&o->qlock);
  uint64_t mine = ++o->flush_gen;
  pthread_cond_signal(&o->qcond);
  bool timed_out = false;
  while (o->flushed_gen < mine && !timed_out)
    timed_out = pthread_cond_timedwait(&o->done_cond, &o->qlock, &until) == ETIMEDOUT;
  bool done = o->flushed_gen >= mine;
  bool failed = o->flush_failed;
  pthread_mutex_unlock(&o->qlock);
  if (!done) return hl_fail(HL_ERR_TIMEOUT, "hl_otel_flush: the collector did not take the export within %u ms", deadline_ms);
  if (failed) return hl_fail(HL_ERR_NETWORK, "hl_otel_flush: an export failed (spans dropped; see hl_otel_get_stats)");
  return HL_OK;
}

void ot_export_stop(hl_otel *o, unsigned deadline_ms) {
  if (!o->thread_started) return;
  ot_export_flush(o, deadline_ms);
  pthread_mutex_lock(&o->qlock);
  o->stop = true;
  pthread_mutex_unlock(&o->qlock);
  /* Past the deadline a request still in flight is cut, and no retry waits. */
  atomic_store(&o->abandon, true);
  pthread_cond_broadcast(&o->qcond);
  pthread_join(o->thread, NULL);
  o->thread_started = false;
  pthread_cond_destroy(&o->qcond);
  pthread_cond_destroy(&o->done_cond);
  pthread_mutex_destroy(&o->qlock);
}
