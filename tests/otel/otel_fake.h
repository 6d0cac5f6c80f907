/*
 * tests/otel/otel_fake.h - the exporter object built by hand for the
 * white-box tests of tests/otel (no thread, no HTTP): the test is the
 * ring's only consumer, so what the ring holds is exactly what it was
 * given. fake_tracer() adds the tracer's side (the pool of spans, the
 * table of runs) for tests that turn records into spans.
 */
#ifndef HL_TEST_OTEL_FAKE_H
#define HL_TEST_OTEL_FAKE_H

#include <stdlib.h>
#include <string.h>

#include "otel_internal.h"

static hl_otel *fake_otel(void) {
  hl_otel *o = aligned_alloc(OT_CACHE_LINE, sizeof *o);
  if (!o) return NULL;
  memset(o, 0, sizeof *o);
  pthread_mutex_init(&o->lock, NULL);
  pthread_mutex_init(&o->qlock, NULL);
  pthread_cond_init(&o->qcond, NULL);
  pthread_mutex_init(&o->live_lock, NULL);
  atomic_store(&o->live_enabled, true);
  o->warn = stdout; /* the one "queue is full" warning */
  o->sig[OT_SIG_TRACES].on = true; /* spans are queued for export */
  o->limits = OT_LIMITS_DEFAULT;
  if (!ot_ring_init(o, 0)) {
    free(o);
    return NULL;
  }
  return o;
}

static void fake_free(hl_otel *o) {
  ot_ring_free(o);
  ot_live_free(o);
  pthread_mutex_destroy(&o->lock);
  pthread_mutex_destroy(&o->qlock);
  pthread_cond_destroy(&o->qcond);
  pthread_mutex_destroy(&o->live_lock);
  free(o);
}

/* The tracer's side: false when out of memory. */
static bool fake_tracer(hl_otel *o) {
  pthread_mutex_init(&o->pool_lock, NULL);
  o->n_buckets = 64;
  o->runs = calloc(o->n_buckets, sizeof *o->runs);
  o->enabled = true;
  return o->runs != NULL;
}

/* Stops the tracer and frees its side (before fake_free()): the number
 * of spans it handed over, of runs still open (recycled). */
static size_t fake_tracer_free(hl_otel *o) {
  ot_span *left = NULL;
  size_t n_left = 0;
  ot_tracer_stop(o, &left, &n_left); /* frees the run records */
  ot_spans_recycle(o, left);
  pthread_mutex_lock(&o->lock);
  ot_span_pool_free(o);
  pthread_mutex_unlock(&o->lock);
  free(o->runs);
  o->runs = NULL;
  pthread_mutex_destroy(&o->pool_lock);
  return n_left;
}

#endif
