/*
 * otel_config.c - the exporter's public life cycle (hookline/otel.h):
 * options and the OTEL_* environment, install, flush, shutdown, counters.
 * The tracer it installs is otel.c; the thread that sends, otel_export.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookline/agent.h"
#include "hookline/trace.h"
#include "otel_internal.h"

static const char *pick(const char *opt, const char *env) {
  return opt && *opt ? opt : ot_env(env);
}

typedef struct res_attrs {
  ot_buf buf;
  int n;
  char *service_from_list;
} res_attrs;

static void put_res_attr(res_attrs *r, const char *key, const char *value) {
  ot_buf_puts(&r->buf, r->n++ ? ",{\"key\":" : "{\"key\":");
  ot_buf_json_string(&r->buf, key);
  ot_buf_puts(&r->buf, ",\"value\":{\"stringValue\":");
  ot_buf_json_string(&r->buf, value);
  ot_buf_puts(&r->buf, "}}");
}

static void add_res_attr(void *ud, char *key, char *value) {
  res_attrs *r = ud;
  if (strcmp(key, "service.name") == 0) {
    free(r->service_from_list);
    r->service_from_list = value; /* placed once, below */
  } else {
    put_res_attr(r, key, value);
    free(value);
  }
  free(key);
}

static bool http_url(const char *u) {
  return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
}

static void otel_release(hl_otel *o) {
  if (atomic_fetch_sub(&o->refs, 1) != 1) return;
  ot_metrics_free(&o->metrics);
  pthread_mutex_destroy(&o->metrics.lock);
  pthread_mutex_destroy(&o->lock);
  pthread_mutex_destroy(&o->live_lock);
  ot_span_pool_free(o);
  pthread_mutex_destroy(&o->pool_lock);
  ot_ring_free(o);
  ot_live_free(o);
  free(o->runs);
  for (int i = 0; i < OT_SIG_COUNT; i++) ot_signal_free(&o->sig[i]);
  free(o->resource_json);
  free(o);
}

static void observer_gone(void *user_data) { otel_release(user_data); }

/* An inert handle keeps nothing of its configuration. */
static void otel_release_config(hl_otel *o) {
  for (int i = 0; i < OT_SIG_COUNT; i++) {
    ot_signal_free(&o->sig[i]);
    memset(&o->sig[i], 0, sizeof o->sig[i]);
  }
}

hl_otel *hl_otel_new(const hl_otel_options *opts) {
  hl_otel_options none = {.size = sizeof none};
  if (!opts) opts = &none;
  if (opts->size < offsetof(hl_otel_options, warn) + sizeof opts->warn) {
    hl_fail(HL_ERR_INVALID, "hl_otel_new: options size %zu is too small (set .size = sizeof(hl_otel_options))", opts->size);
    return NULL;
  }
  /* aligned: its groups of fields have cache lines of their own */
  size_t size = (sizeof(hl_otel) + OT_CACHE_LINE - 1) / OT_CACHE_LINE * OT_CACHE_LINE;
  hl_otel *o = aligned_alloc(OT_CACHE_LINE, size);
  if (o) memset(o, 0, size);
  if (!o) {
    hl_fail(HL_ERR_NOMEM, "hl_otel_new: out of memory");
    return NULL;
  }
  atomic_init(&o->refs, 1);
  pthread_mutex_init(&o->lock, NULL);
  pthread_mutex_init(&o->live_lock, NULL);
  pthread_mutex_init(&o->pool_lock, NULL);
  pthread_mutex_init(&o->metrics.lock, NULL);
  o->metrics.start_ns = ot_now_ns();
  o->warn = opts->warn;
  ot_cfg cfg = {.o = o, .opts = opts};
  if (ot_cfg_true(&cfg, "OTEL_SDK_DISABLED")) return o; /* inert */

  const char *base = pick(opts->endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!base) base = "http://localhost:4318";
  o->capture = opts->capture_content > 0 ||
               (opts->capture_content == 0 && ot_cfg_true(&cfg, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"));
  /* the batch span processor's and the periodic metric reader's variables */
  o->max_queue = ot_cfg_count(&cfg, opts->max_queue, "OTEL_BSP_MAX_QUEUE_SIZE", 2048);
  o->max_batch = ot_cfg_count(&cfg, opts->max_batch, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512);
  if (o->max_batch > o->max_queue) {
    /* the specification: a batch is no larger than the queue */
    if (!opts->max_batch)
      ot_cfg_warn(&cfg, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "larger than the queue (%zu); the queue's size is used", o->max_queue);
    o->max_batch = o->max_queue;
  }
  /* The specification's 5000 ms (was 1000): the reading of the ring is
   * paced by the records' rate, not by this (otel.h), so it only bounds a
   * quiet process's wake-ups and a span's wait for a batch that does not
   * fill; a flush (hl_otel_free() at exit) sends the rest at once. */
  o->export_delay_ms = ot_cfg_ms(&cfg, opts->export_delay_ms, "OTEL_BSP_SCHEDULE_DELAY", 5000);
  o->metrics_interval_ms = ot_cfg_ms(&cfg, opts->metrics_interval_ms, "OTEL_METRIC_EXPORT_INTERVAL", 60000);
  ot_limits_config(&cfg);
  o->propagate = ot_propagators_config(&cfg);
  if (!ot_sampler_config(&cfg)) {
    otel_release(o);
    return NULL;
  }
  bool ok = true;
  for (int i = 0; i < OT_SIG_COUNT; i++) ok = ok && ot_signal_config(&cfg, &o->sig[i], i, base);
  if (ok && !o->sig[OT_SIG_TRACES].on && !o->sig[OT_SIG_METRICS].on) {
    otel_release_config(o);
    return o; /* neither signal is exported: inert */
  }
  /* fields after `warn` only when the caller's struct has them */
  int low = OT_HAS_OPTION(opts, low_priority) ? opts->low_priority : 0;
  o->nice_delta = low < 0 ? 0 : 10;
  o->creator_nice = ot_thread_nice();
  o->n_buckets = 1024;
  o->runs = calloc(o->n_buckets, sizeof *o->runs);

  res_attrs r = {0};
  ot_buf_puts(&r.buf, "{\"attributes\":[");
  /* Records of events waiting for the exporter thread: a few per span,
   * so a ring of about twice the span queue, 1024 to 8192 records. */
  ok = ok && o->runs && ot_ring_init(o, 2 * o->max_queue);
  if (ok) {
    ok = ot_parse_list(pick(opts->resource_attributes, "OTEL_RESOURCE_ATTRIBUTES"), add_res_attr, &r);
    const char *service = pick(opts->service_name, "OTEL_SERVICE_NAME");
    put_res_attr(&r, "service.name", service ? service : r.service_from_list ? r.service_from_list : "hookline");
    put_res_attr(&r, "telemetry.sdk.name", "hookline");
    put_res_attr(&r, "telemetry.sdk.version", "0.1.0");
    ot_buf_puts(&r.buf, "]}");
    ok = ok && !r.buf.failed;
  }
  free(r.service_from_list);
  o->resource_json = ot_buf_str(&r.buf);
  if (!ok) {
    hl_fail(HL_ERR_NOMEM, "hl_otel_new: out of memory");
    otel_release(o);
    return NULL;
  }
  for (int i = 0; i < OT_SIG_COUNT; i++) {
    if (!http_url(o->sig[i].url)) {
      hl_fail(HL_ERR_INVALID, "hl_otel_new: the OTLP endpoint must be an http:// or https:// URL, not \"%.200s\"",
              o->sig[i].url);
      otel_release(o);
      return NULL;
    }
  }
  o->observer = hl_observer_new_ops(&ot_observer_ops, o);
  if (!o->observer) {
    otel_release(o);
    return NULL;
  }
  atomic_fetch_add(&o->refs, 1); /* the observer's */
  hl_observer_set_free_fn(o->observer, observer_gone);
  /* The events the tracer reads (otel_record.c's ot_observer_ops): the library
   * builds no other for it. API_REQUEST carries the prompt, read only
   * when content is captured; RESPONSE deltas, TURN_START and TURN_END
   * (a turn's spans are handed over at the next model call's start),
   * API_RESPONSE and TRACE_COMPLETE are never needed. */
  hl_event_mask wanted = OT_EVENTS;
  if (!o->capture) wanted &= ~HL_EVENT_MASK(HL_EVENT_API_REQUEST);
  hl_observer_set_events(o->observer, wanted);
  o->enabled = true;
  atomic_store(&o->live_enabled, true);
  if (ot_export_start(o) != HL_OK) {
    o->enabled = false;
    atomic_store(&o->live_enabled, false);
    hl_observer_unref(o->observer);
    otel_release(o);
    return NULL;
  }
  return o;
}

bool hl_otel_enabled(const hl_otel *otel) { return otel && otel->observer; }

hl_observer *hl_otel_observer(hl_otel *otel) { return otel ? otel->observer : NULL; }

hl_status hl_otel_install(hl_otel *otel, hl_agent *agent) {
  if (!otel) return hl_fail(HL_ERR_INVALID, "hl_otel_install: otel is NULL");
  if (!otel->observer) return HL_OK; /* OTEL_SDK_DISABLED */
  hl_status st = agent ? hl_agent_add_observer(agent, otel->observer)
                       : hl_observer_add_global(otel->observer);
  if (st != HL_OK || !otel->propagate) return st; /* OTEL_PROPAGATORS=none: traced, no header */
  /* once, however many agents it is installed on, from however many threads */
  if (atomic_exchange(&otel->header_installed, true)) return HL_OK;
  st = hl_trace_set_header_fn(ot_header_fn, otel);
  if (st != HL_OK) atomic_store(&otel->header_installed, false);
  return st;
}

hl_status hl_otel_flush(hl_otel *otel, unsigned deadline_ms) {
  if (!otel) return hl_fail(HL_ERR_INVALID, "hl_otel_flush: otel is NULL");
  return ot_export_flush(otel, deadline_ms);
}

void hl_otel_shutdown(hl_otel *otel, unsigned deadline_ms) {
  if (!otel) return;
  if (atomic_load(&otel->header_installed)) hl_trace_set_header_fn(NULL, NULL);
  /* Runs still in progress are handed over as they are. */
  ot_span *out = NULL;
  size_t n = 0;
  ot_tracer_stop(otel, &out, &n);
  if (out && otel->thread_started) ot_export_enqueue(otel, out, n, 0);
  else ot_spans_recycle(otel, out); /* no exporter thread: nothing sends them */
  ot_export_stop(otel, deadline_ms ? deadline_ms : 2000);
  hl_observer *obs = otel->observer;
  otel->observer = NULL;
  otel_release(otel);
  hl_observer_unref(obs); /* the last reference releases the observer's share */
}

void hl_otel_free(hl_otel *otel) { hl_otel_shutdown(otel, 0); }

hl_status hl_otel_get_stats(const hl_otel *otel, hl_otel_stats *out) {
  if (!otel || !out || out->size < sizeof(size_t))
    return hl_fail(HL_ERR_INVALID, "hl_otel_get_stats: otel and out (with its size) are required");
  hl_otel *o = (hl_otel *)otel;
  /* Spans are made on the exporter's side: count what the runs published
   * so far (the ring read now, by this thread if the exporter is busy). */
  if (o->thread_started) ot_drain(o, true);
  hl_otel_stats s = {.size = sizeof s,
                     .spans_started = atomic_load(&o->st_started),
                     .spans_exported = atomic_load(&o->st_exported),
                     .spans_dropped = atomic_load(&o->st_dropped),
                     .export_requests = atomic_load(&o->st_requests),
                     .export_failures = atomic_load(&o->st_failures),
                     .metric_exports = atomic_load(&o->st_metric_exports),
                     .exporter_nice = atomic_load(&o->exporter_nice),
                     .run_wakeups = atomic_load(&o->st_run_wakeups),
                     .spans_rejected = atomic_load(&o->st_rejected_spans),
                     .data_points_rejected = atomic_load(&o->st_rejected_points),
                     .runs_unsampled = atomic_load(&o->st_unsampled)};
  size_t n = out->size < sizeof s ? out->size : sizeof s;
  memcpy(out, &s, n);
  out->size = n;
  return HL_OK;
}
