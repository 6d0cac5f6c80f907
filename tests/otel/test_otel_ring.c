/*
 * tests/otel/test_otel_ring.c - the ring of records between the runs'
 * threads and the exporter (hooks/otel_record.c), white box: a slot is
 * reused only after the consumer has read it and handed it back
 * (ot_ring_sync), a full ring drops the record and counts the span it
 * would have started, records come out in order across laps, and many
 * producers at once lose nothing and duplicate nothing (also run under
 * ThreadSanitizer: suite concurrency). A run's records name it by a key
 * (not its invocation id): the events of a run on a thread that did not
 * start it, and a child run started there, still land on its spans.
 * A run wakes the exporter only when the ring is half full; the exporter
 * paces its readings so that it is not.
 *
 * The exporter object is built by hand (no thread, no HTTP): the test is
 * the only consumer, so what the ring holds is exactly what it was given.
 */
#include <hookline.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "otel_fake.h"

/* One LM_START of run `inv`, its time the record's number. */
static void publish(hl_otel *o, const char *inv, int64_t n) {
  hl_event ev = {.size = sizeof ev, .type = HL_EVENT_LM_START, .time_ns = n, .invocation_id = inv,
                 .name = "model", .provider = "scripted"};
  ot_on_event(&ev, o);
}

static uint64_t dropped(hl_otel *o) { return atomic_load(&o->st_dropped); }

/* Read up to `max` records; each must carry the next number. */
static size_t consume(hl_otel *o, size_t max, int64_t *next) {
  size_t n = 0;
  for (ot_rec *r; n < max && (r = ot_ring_peek(o)) != NULL; n++) {
    CHECK_INT(r->time_ns, *next);
    CHECK_INT(r->type, HL_EVENT_LM_START);
    CHECK_STR(ot_rec_str(r, OT_S_NAME), "model");
    CHECK_INT(r->run, 0); /* no AGENT_START: a run nobody knows */
    (*next)++;
    ot_ring_release(o, r);
  }
  return n;
}

static void full_and_reuse(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  size_t cap = o->ring_cap;
  CHECK_INT(cap, 1024);
  int64_t made = 0, next = 0;
  for (size_t i = 0; i < cap; i++) publish(o, "inv-ring", made++);
  CHECK_INT(dropped(o), 0);
  /* full: dropped, and its span counted as started and dropped */
  publish(o, "inv-ring", 999999);
  CHECK_INT(dropped(o), 1);
  CHECK_INT(atomic_load(&o->st_started), 1);

  /* read but not handed back: the slots are still not free */
  CHECK_INT(consume(o, 10, &next), 10);
  publish(o, "inv-ring", 999999);
  CHECK_INT(dropped(o), 2);
  /* handed back: exactly those 10 take new records */
  ot_ring_sync(o);
  for (int i = 0; i < 10; i++) publish(o, "inv-ring", made++);
  CHECK_INT(dropped(o), 2);
  publish(o, "inv-ring", 999999);
  CHECK_INT(dropped(o), 3);

  /* release hands slots back by itself every 64 */
  CHECK_INT(consume(o, 64 - 10, &next), 54);
  for (int i = 0; i < 54; i++) publish(o, "inv-ring", made++);
  CHECK_INT(dropped(o), 3);

  /* several laps, in order, nothing left behind */
  for (int lap = 0; lap < 3; lap++) {
    size_t got = consume(o, cap, &next);
    CHECK_INT(got, cap);
    ot_ring_sync(o);
    for (size_t i = 0; i < cap; i++) publish(o, "inv-ring", made++);
    CHECK_INT(dropped(o), 3);
  }
  CHECK_INT(consume(o, 2 * cap, &next), cap);
  CHECK(ot_ring_peek(o) == NULL);
  CHECK_INT(next, made);
  fake_free(o);
}

/* A run never wakes the exporter (a system call on its thread) while the
 * ring is less than half full, wherever the records fall in it; the
 * record that finds it half full does, once until the next drain clears
 * the flag. (No exporter thread here: the wake signals no one.) */
static void wake_only_half_full(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  size_t cap = o->ring_cap;
  int64_t made = 0, next = 0;
  for (int lap = 0; lap < 3; lap++) {
    /* a consumer that keeps up (a quarter ring at a time), several laps */
    for (size_t i = 0; i < cap / 4; i++) publish(o, "inv-ring", made++);
    CHECK_INT(consume(o, cap, &next), cap / 4);
    ot_ring_sync(o);
  }
  CHECK(!atomic_load(&o->kick));
  CHECK_INT(atomic_load(&o->st_run_wakeups), 0);
  /* one that does not: the record after half the ring wakes it, once */
  for (size_t i = 0; i < cap / 2; i++) publish(o, "inv-ring", made++);
  CHECK(!atomic_load(&o->kick));
  publish(o, "inv-ring", made++);
  CHECK(atomic_load(&o->kick));
  publish(o, "inv-ring", made++);
  CHECK_INT(atomic_load(&o->st_run_wakeups), 1);
  CHECK_INT(consume(o, cap, &next), cap / 2 + 2);
  CHECK_INT(dropped(o), 0);
  fake_free(o);
}

/* The exporter's pace: the next reading of the ring comes before it is a
 * eighth full at the rate records came since the last one, within its
 * bounds. */
static void pace(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  o->export_delay_ms = 1000;
  const int64_t ms = 1000000;
  ot_pace p = {.tick = 250 * ms, .at = 0};
  /* 1,000 records in 10 ms: an eighth of the ring (128) in 1.28 ms */
  atomic_store(&o->ring_head, 1000);
  CHECK_INT(ot_pace_next(o, &p, 10 * ms), 1280000);
  CHECK_INT(p.head, 1000);
  /* none since: twice the last tick each time, up to export_delay_ms */
  CHECK_INT(ot_pace_next(o, &p, 13 * ms), 2560000);
  int64_t now = 13 * ms, t = 0;
  for (int i = 0; i < 20; i++) t = ot_pace_next(o, &p, now += t);
  CHECK_INT(t, 1000 * ms);
  /* records again, slowly (one in a second): no more than twice the
   * last tick, and no more than export_delay_ms / 4 while they come */
  p.tick = 10 * ms;
  atomic_store(&o->ring_head, 1001);
  CHECK_INT(ot_pace_next(o, &p, now += 1000 * ms), 20 * ms);
  for (int i = 0; i < 10; i++) {
    atomic_fetch_add(&o->ring_head, 1);
    t = ot_pace_next(o, &p, now += 1000 * ms);
  }
  CHECK_INT(t, 250 * ms);
  /* a flood: at least 1 ms */
  atomic_fetch_add(&o->ring_head, 100000);
  CHECK_INT(ot_pace_next(o, &p, now += ms), ms);
  fake_free(o);
}

/* The ring is read on a timer, up to export_delay_ms apart when quiet:
 * spans a drain hands over count their delay from when the drain before
 * it began (they were published since), not from the drain's end, so a
 * span is exported within export_delay_ms of its run's end, not twice
 * that after a quiet spell. */
static void delay_from_last_reading(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  pthread_mutex_init(&o->metrics.lock, NULL);
  o->max_queue = o->max_batch = 100;
  int64_t before = ot_mono_ns();
  CHECK_INT(ot_drain(o, true), 0); /* the last reading: nothing yet */
  int64_t after = ot_mono_ns();
  nanosleep(&(struct timespec){0, 20000000}, NULL);
  char inv[] = "inv-delay-0123456789abcdef0123456789ab";
  hl_event as = {.size = sizeof as, .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = inv,
                 .agent_name = "main"};
  hl_event ae = {.size = sizeof ae, .type = HL_EVENT_AGENT_END, .time_ns = 20, .invocation_id = inv};
  ot_on_event(&as, o);
  ot_on_event(&ae, o);
  CHECK_INT(ot_drain(o, true), 2);
  CHECK_INT(o->q_len, 1);
  CHECK(o->q_oldest_ns >= before && o->q_oldest_ns <= after);

  ot_spans_recycle(o, o->q_head);
  o->q_head = o->q_tail = NULL;
  CHECK_INT(fake_tracer_free(o), 0);
  ot_metrics_free(&o->metrics);
  pthread_mutex_destroy(&o->metrics.lock);
  fake_free(o);
}

/* Producers on 4 threads while the test consumes: every record arrives
 * once, none is torn (its number matches its thread's sequence), and
 * nothing is dropped that was not counted. */
typedef struct producer {
  hl_otel *o;
  char inv[48];
  int n;
  atomic_int *finished;
} producer;

static void *produce(void *arg) {
  producer *p = arg;
  for (int i = 0; i < p->n; i++) {
    hl_event ev = {.size = sizeof ev, .type = HL_EVENT_LM_START, .time_ns = i, .invocation_id = p->inv,
                   .name = p->inv, .provider = "scripted"};
    ot_on_event(&ev, p->o);
  }
  atomic_fetch_add(p->finished, 1);
  return NULL;
}

static void many_producers(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  enum { THREADS = 4, EACH = 20000 };
  producer p[THREADS];
  pthread_t t[THREADS];
  atomic_int finished = 0;
  for (int i = 0; i < THREADS; i++) {
    p[i] = (producer){.o = o, .n = EACH, .finished = &finished};
    snprintf(p[i].inv, sizeof p[i].inv, "inv-producer-%d", i);
    REQUIRE(pthread_create(&t[i], NULL, produce, &p[i]) == 0);
  }
  int64_t last[THREADS];
  for (int i = 0; i < THREADS; i++) last[i] = -1;
  uint64_t got = 0;
  bool order_ok = true;
  for (;;) {
    /* all done before this pass: what it does not find never comes (a
     * slot overwritten before it was read would leave the sum short) */
    bool last_pass = atomic_load(&finished) == THREADS;
    pthread_mutex_lock(&o->lock);
    size_t n = 0;
    for (ot_rec *r; (r = ot_ring_peek(o)) != NULL; n++) {
      const char *inv = ot_rec_str(r, OT_S_NAME); /* the producer's (its model's name) */
      int who = inv ? atoi(inv + strlen("inv-producer-")) : -1;
      if (who < 0 || who >= THREADS || r->time_ns <= last[who]) order_ok = false;
      else last[who] = r->time_ns;
      ot_ring_release(o, r);
    }
    ot_ring_sync(o);
    pthread_mutex_unlock(&o->lock);
    got += n;
    if (got + dropped(o) == (uint64_t)THREADS * EACH || last_pass) break;
    if (!n) sched_yield();
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  CHECK(order_ok);
  CHECK(ot_ring_peek(o) == NULL);
  /* each record read or counted as a dropped span, never both */
  CHECK_INT(got + dropped(o), (uint64_t)THREADS * EACH);
  CHECK_INT(atomic_load(&o->st_started), dropped(o));
  fake_free(o);
}

/* ---- run keys across threads ---------------------------------------- */

/* The events a worker thread delivers: a child run started from inside a
 * call another thread started, then the end of that call. Its strings
 * are its own copies (the ids' text, not the parent's pointers). */
static void *worker_events(void *arg) {
  hl_otel *o = arg;
  char parent[] = "inv-parent-0123456789abcdef0123456789ab", call[] = "call-1";
  char child[] = "inv-child-0123456789abcdef0123456789abcd";
  hl_event end = {.size = sizeof end, .type = HL_EVENT_TOOL_END, .time_ns = 30, .invocation_id = parent,
                  .call_id = call, .name = "lookup", .duration_ms = 2};
  hl_event cs = {.size = sizeof cs, .type = HL_EVENT_AGENT_START, .time_ns = 21, .invocation_id = child,
                 .agent_name = "helper", .parent_invocation_id = parent, .parent_call_id = call};
  ot_on_event(&cs, o);
  hl_event ce = {.size = sizeof ce, .type = HL_EVENT_AGENT_END, .time_ns = 25, .invocation_id = child};
  ot_on_event(&ce, o);
  ot_on_event(&end, o);
  return NULL;
}

static const ot_span *span_named(const ot_span *s, const char *op, const char *what) {
  for (; s; s = s->next)
    if (!strcmp(s->op, op) && s->s_what && !strcmp(ot_span_str(s, s->s_what), what)) return s;
  return NULL;
}

static void keys_across_threads(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  char inv[] = "inv-parent-0123456789abcdef0123456789ab", call[] = "call-1";
  hl_event as = {.size = sizeof as, .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = inv,
                 .agent_name = "main"};
  ot_on_event(&as, o);
  hl_event ts = {.size = sizeof ts, .type = HL_EVENT_TOOL_START, .time_ns = 20, .invocation_id = inv,
                 .call_id = call, .name = "lookup"};
  ot_on_event(&ts, o);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, worker_events, o) == 0);
  pthread_join(t, NULL);
  hl_event ae = {.size = sizeof ae, .type = HL_EVENT_AGENT_END, .time_ns = 40, .invocation_id = inv};
  ot_on_event(&ae, o);

  /* the records: every one of the parent names it by one key, and only
   * AGENT_START carries an invocation id */
  ot_span *out = NULL;
  size_t n = 0, recs = 0;
  uint64_t parent_key = 0;
  pthread_mutex_lock(&o->lock);
  for (ot_rec *r; (r = ot_ring_peek(o)) != NULL; recs++) {
    if (recs == 0) parent_key = r->run;
    CHECK(r->run != 0);
    bool parents = recs < 2 || recs >= 4;  /* AGENT_START, TOOL_START; TOOL_END, AGENT_END */
    if (parents) CHECK_INT(r->run, parent_key);
    else CHECK(r->run != parent_key);      /* the child's */
    if (r->type == HL_EVENT_AGENT_START) CHECK(ot_rec_str(r, OT_S_INV) != NULL);
    else CHECK(ot_rec_str(r, OT_S_INV) == NULL);
    if (recs == 2) CHECK_INT(r->parent_run, parent_key);
    ot_trace_record(o, r, &out, &n);
    ot_ring_release(o, r);
  }
  ot_ring_sync(o);
  pthread_mutex_unlock(&o->lock);
  CHECK_INT(recs, 6);
  CHECK_INT(n, 3); /* the child's agent span, the parent's and its tool span */

  /* the call, ended on the worker (found by its call id there), and the
   * child run under it, in the parent's trace */
  const ot_span *root = span_named(out, "invoke_agent", "main");
  const ot_span *tool = span_named(out, "execute_tool", "lookup");
  const ot_span *kid = span_named(out, "invoke_agent", "helper");
  REQUIRE(root && tool && kid);
  CHECK_INT(tool->end_ns, 30);
  CHECK(tool->measured);
  CHECK(!memcmp(tool->parent_id, root->span_id, 8));
  CHECK(kid->has_parent && !memcmp(kid->parent_id, tool->span_id, 8));
  CHECK(!memcmp(kid->trace_id, root->trace_id, 16));
  CHECK_INT(kid->end_ns, 25);
  CHECK_INT(root->end_ns, 40);

  ot_spans_recycle(o, out);
  CHECK_INT(fake_tracer_free(o), 0);
  fake_free(o);
}

/* Captured content is cut on the run's thread to the attribute value
 * length limit (whole characters, a byte that is not UTF-8 one): a 1 MB
 * tool result takes a few bytes of the slot, not 64 KB of heap. */
static void content_cut_on_the_run_side(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  o->capture = true;
  o->limits.value_chars = 5;
  size_t big = 1 << 20;
  char *text = malloc(big + 1);
  REQUIRE(text != NULL);
  /* "\xff" "ab" then snowmen (3 bytes each): 5 characters end inside them */
  memcpy(text, "\xff" "ab", 3);
  for (size_t i = 3; i + 3 <= big; i += 3) memcpy(text + i, "\xe2\x98\x83", 3);
  text[3 + (big - 3) / 3 * 3] = '\0';
  cJSON *result = cJSON_CreateString(text + 1); /* "ab☃☃..." */
  REQUIRE(result != NULL);
  hl_event start = {.size = sizeof start, .type = HL_EVENT_AGENT_START, .time_ns = 1,
                    .invocation_id = "inv-cut", .agent_name = "cut", .text = text};
  hl_event end = {.size = sizeof end, .type = HL_EVENT_TOOL_END, .time_ns = 2, .invocation_id = "inv-cut",
                  .call_id = "call-cut", .result = result};
  hl_event done = {.size = sizeof done, .type = HL_EVENT_AGENT_END, .time_ns = 3, .invocation_id = "inv-cut"};
  ot_on_event(&start, o);
  ot_on_event(&end, o);
  ot_on_event(&done, o);
  const char *want[] = {"\xff" "ab\xe2\x98\x83\xe2\x98\x83", "\"ab\xe2\x98\x83\xe2\x98\x83", NULL};
  for (int i = 0; i < 3; i++) {
    ot_rec *r = ot_ring_peek(o);
    REQUIRE(r != NULL);
    CHECK_INT(r->time_ns, i + 1);
    if (want[i]) CHECK_STR(ot_rec_str(r, OT_S_CONTENT), want[i]);
    else CHECK(ot_rec_str(r, OT_S_CONTENT) == NULL);
    CHECK(r->heap == NULL); /* all in the slot */
    ot_ring_release(o, r);
  }
  CHECK(ot_ring_peek(o) == NULL);
  cJSON_Delete(result);
  free(text);
  fake_free(o);
}

/* Without a limit a record keeps at most 64 KB of strings: the cap cuts
 * content at a whole character, as the limit does (a cut one would be
 * exported as U+FFFD). Texts of snowmen (3 bytes each) behind 0, 1 and 2
 * ASCII bytes: the cap falls inside a snowman for at least one. The run's
 * input (a text) and a tool's result (JSON printed into the record). */
static void record_cap_keeps_whole_characters(void) {
  size_t big = 200000;
  char *text = malloc(big + 3);
  REQUIRE(text != NULL);
  size_t shortest = SIZE_MAX, longest = 0;
  for (int lead = 0; lead < 3; lead++) {
    hl_otel *o = fake_otel();
    REQUIRE(o != NULL);
    o->capture = true;
    memset(text, 'x', (size_t)lead);
    size_t n = (size_t)lead;
    for (; n + 3 <= big; n += 3) memcpy(text + n, "\xe2\x98\x83", 3);
    text[n] = '\0';
    cJSON *result = cJSON_CreateString(text);
    REQUIRE(result != NULL);
    hl_event start = {.size = sizeof start, .type = HL_EVENT_AGENT_START, .time_ns = 1,
                      .invocation_id = "inv-cap", .agent_name = "cap", .text = text};
    hl_event end = {.size = sizeof end, .type = HL_EVENT_TOOL_END, .time_ns = 2, .invocation_id = "inv-cap",
                    .call_id = "call-cap", .result = result};
    ot_on_event(&start, o);
    ot_on_event(&end, o);
    for (int i = 0; i < 2; i++) {
      ot_rec *r = ot_ring_peek(o);
      REQUIRE(r != NULL);
      const char *c = ot_rec_str(r, OT_S_CONTENT);
      REQUIRE(c != NULL);
      size_t len = strlen(c);
      CHECK(len > 65000 && len < 65536);
      const char *whole = i == 0 ? text : NULL;
      char *printed = i == 1 ? cJSON_PrintUnformatted(result) : NULL;
      if (printed) whole = printed;
      CHECK(whole && !strncmp(c, whole, len));
      CHECK(hl_utf8_valid(c, len)); /* no character cut */
      ot_buf b = {0};
      ot_buf_json_string(&b, c);
      CHECK(!strstr(ot_buf_str(&b), "\\ufffd"));
      free(b.p);
      free(printed);
      if (len < shortest) shortest = len;
      if (len > longest) longest = len;
      ot_ring_release(o, r);
    }
    cJSON_Delete(result);
    fake_free(o);
  }
  CHECK(longest - shortest >= 2); /* (a cut inside a snowman happened) */

  /* a tool's error message that fills the record: cut the same way, and
   * no room is left for the result (left out) */
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  o->capture = true;
  cJSON *result = cJSON_CreateString("kept out");
  REQUIRE(result != NULL);
  hl_event fail = {.size = sizeof fail, .type = HL_EVENT_TOOL_END, .time_ns = 1, .invocation_id = "inv-cap",
                   .call_id = "call-cap", .result = result,
                   .error = {.status = HL_ERR_EXECUTION_FAILED, .message = text}};
  ot_on_event(&fail, o);
  ot_rec *r = ot_ring_peek(o);
  REQUIRE(r != NULL);
  const char *msg = ot_rec_str(r, OT_S_ERROR);
  REQUIRE(msg != NULL);
  CHECK(strlen(msg) > 65000 && hl_utf8_valid(msg, strlen(msg)) && !strncmp(msg, text, strlen(msg)));
  CHECK(ot_rec_str(r, OT_S_CONTENT) == NULL);
  ot_ring_release(o, r);
  cJSON_Delete(result);
  fake_free(o);
  free(text);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(full_and_reuse);
  RUN(wake_only_half_full);
  RUN(pace);
  RUN(delay_from_last_reading);
  RUN(many_producers);
  RUN(keys_across_threads);
  RUN(content_cut_on_the_run_side);
  RUN(record_cap_keeps_whole_characters);
  return CHECK_EXIT();
}
