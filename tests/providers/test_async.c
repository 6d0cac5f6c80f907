/*
 * test_async.c - asynchronous runs (hookline/run.h) against server.py on
 * 127.0.0.1 (OpenAI wire), with no application thread per run:
 *
 *   runs_1000_in_flight          1,000 runs of a two-tool scenario started
 *                                at once from one thread: every on_done
 *                                called exactly once, on a library thread,
 *                                with the right answer; hl_run_wait agrees
 *   cancel_1000_in_flight        1,000 runs hanging on the model,
 *                                hl_run_cancel on each: all end with
 *                                HL_ERR_CANCELLED promptly
 *   blocking_tool_no_delay       a tool that blocks (until released) in one
 *                                run does not delay another run's model
 *                                call: that run completes meanwhile
 *   server_dies_mid_stream       20 streaming runs on a server killed
 *                                mid-stream fail with a clear error while
 *                                100 runs on another server complete
 *   async_tool_other_thread      a tool returns HL_PENDING and is completed
 *                                later from a thread of the test (one run
 *                                with a result, one with an error): the
 *                                model sees both; misuse of hl_tool_defer
 *   external_loop                hl_engine_use_external_loop: nothing moves
 *                                until the test's own epoll loop calls
 *                                hl_engine_process(); then 50 runs complete
 *   api_misuse                   bad arguments, a busy session, a short
 *                                options size: clear errors, no callback
 *
 *   test_async [NAME...]
 */
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hookline.h"
#include "test_server.h"
#include "wire_cases.h"

#define KEY "sk-async-SECRET-00112233"
#define TEXT "Hello, world! Caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80 done."

static test_server srv;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- tools of the "agent" scenario: get_weather(city), get_time(tz) ---- */

static hl_status weather_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  char b[96];
  snprintf(b, sizeof b, "sunny in %s", hl_json_get_string(args, "city"));
  *result = cJSON_CreateString(b);
  return HL_OK;
}

static hl_status time_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  char b[96];
  snprintf(b, sizeof b, "12:00 %s", hl_json_get_string(args, "tz"));
  *result = cJSON_CreateString(b);
  return HL_OK;
}

static hl_tool *tool_new(const char *name, const char *param, hl_tool_fn fn, void *ud) {
  hl_tool *t = hl_tool_new(name, "test tool", fn, ud);
  if (t) hl_tool_param(t, param, "string", "what", true);
  return t;
}

static hl_agent *agent_on(hl_provider *p, const char *model, bool stream, hl_tool_fn weather,
                          void *weather_ud) {
  hl_agent *a = hl_agent_new("async");
  if (!a) return NULL;
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  hl_agent_set_stream(a, stream);
  hl_tool *w = tool_new("get_weather", "city", weather ? weather : weather_fn, weather_ud);
  hl_tool *t = tool_new("get_time", "tz", time_fn, NULL);
  hl_agent_add_tool(a, w);
  hl_agent_add_tool(a, t);
  hl_tool_unref(w);
  hl_tool_unref(t);
  return a;
}

/* ---- one record per run ---- */

typedef struct rec {
  hl_run *run;
  hl_session *session;
  atomic_int calls;
  hl_status st;
  char answer[200];
  char err[300];
  pthread_t thread;
  double ended;
} rec;

static pthread_t main_thread;

static void on_done(hl_run *run, hl_status st, const char *answer, const hl_usage *usage,
                    void *ud) {
  (void)usage;
  rec *r = ud;
  (void)run;
  r->st = st;
  snprintf(r->answer, sizeof r->answer, "%s", answer ? answer : "");
  snprintf(r->err, sizeof r->err, "%s", st == HL_OK ? "" : hl_run_error(run));
  r->thread = pthread_self();
  r->ended = now_s();
  atomic_fetch_add(&r->calls, 1);
}

static hl_status start(hl_agent *a, rec *r, const char *input) {
  memset(r, 0, sizeof *r);
  r->session = hl_session_new(NULL, NULL, NULL);
  if (!r->session) return HL_ERR_NOMEM;
  hl_run_options o = HL_RUN_OPTIONS_INIT;
  o.on_done = on_done;
  o.user_data = r;
  return hl_run_start(a, r->session, input, &o, &r->run);
}

static void finish(rec *r) {
  hl_run_free(r->run);
  hl_session_free(r->session);
}

#define FINAL "Final: sunny in Paris | 12:00 CET"

/* ------------------------------------------------------------------ */

#define N_MANY 1000

static void runs_1000_in_flight(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "agent@async-many", false, NULL, NULL);
  REQUIRE(a);
  static rec r[N_MANY];
  for (int i = 0; i < N_MANY; i++) REQUIRE(start(a, &r[i], "weather and time?") == HL_OK);
  int ok = 0, once = 0, off_main = 0;
  for (int i = 0; i < N_MANY; i++) {
    hl_status st = hl_run_wait(r[i].run, 120000);
    CHECK_INT(st, r[i].st);
    CHECK(hl_run_done(r[i].run));
    if (r[i].st != HL_OK && ok + 1 == i + 1)
      fprintf(stderr, "run %d: %s: %s\n", i, hl_status_name(r[i].st), r[i].err);
    ok += r[i].st == HL_OK && !strcmp(r[i].answer, FINAL) &&
          !strcmp(hl_run_answer(r[i].run), FINAL);
    once += atomic_load(&r[i].calls) == 1;
    off_main += !pthread_equal(r[i].thread, main_thread);
    CHECK(hl_run_usage(r[i].run).input_tokens > 0);
  }
  CHECK_INT(ok, N_MANY);
  CHECK_INT(once, N_MANY);
  CHECK_INT(off_main, N_MANY);
  /* Each run: two model calls. */
  CHECK_INT(test_server_count(&srv, "agent@async-many"), 2 * N_MANY);
  for (int i = 0; i < N_MANY; i++) finish(&r[i]);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void cancel_1000_in_flight(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_openai_set_timeouts(p, 10000, 0, 120000);
  hl_agent *a = agent_on(p, "hang@async-cancel", false, NULL, NULL);
  REQUIRE(a);
  static rec r[N_MANY];
  for (int i = 0; i < N_MANY; i++) REQUIRE(start(a, &r[i], "hi") == HL_OK);
  CHECK(test_server_wait_count(&srv, "hang@async-cancel", N_MANY, 120));
  CHECK_INT(hl_run_status(r[0].run), HL_PENDING);
  double t0 = now_s();
  for (int i = 0; i < N_MANY; i++) hl_run_cancel(r[i].run);
  int cancelled = 0;
  double last = t0;
  for (int i = 0; i < N_MANY; i++) {
    CHECK_INT(hl_run_wait(r[i].run, 60000), HL_ERR_CANCELLED);
    cancelled += r[i].st == HL_ERR_CANCELLED && atomic_load(&r[i].calls) == 1;
    if (r[i].ended > last) last = r[i].ended;
  }
  fprintf(stderr, "%d runs ended %.3f s after hl_run_cancel\n", N_MANY, last - t0);
  CHECK_INT(cancelled, N_MANY);
  CHECK(last - t0 < 20.0);
  /* A cancelled run leaves its session as it was. */
  CHECK_INT((int)hl_session_messages(r[0].session)->count, 0);
  for (int i = 0; i < N_MANY; i++) finish(&r[i]);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ---- a tool that blocks until released ---- */

typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open;
  atomic_bool entered;
} gate;

static hl_status blocking_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  gate *g = ud;
  atomic_store(&g->entered, true);
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return weather_fn(ctx, args, result, NULL);
}

static void blocking_tool_no_delay(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  gate g = {.open = false};
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv, NULL);
  hl_agent *slow = agent_on(p, "agent@async-blocked", false, blocking_weather, &g);
  hl_agent *quick = agent_on(p, "text@async-quick", false, NULL, NULL);
  REQUIRE(slow && quick);
  rec a, b;
  REQUIRE(start(slow, &a, "weather?") == HL_OK);
  double until = now_s() + 60;
  while (!atomic_load(&g.entered) && now_s() < until) sleep_ms(5);
  CHECK(atomic_load(&g.entered));
  /* The tool is blocking now: another run's model call goes through. */
  REQUIRE(start(quick, &b, "hi") == HL_OK);
  CHECK_INT(hl_run_wait(b.run, 60000), HL_OK);
  CHECK_STR(b.answer, TEXT);
  CHECK(!hl_run_done(a.run));
  CHECK_INT(hl_run_status(a.run), HL_PENDING);
  pthread_mutex_lock(&g.mu);
  g.open = true;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  CHECK_INT(hl_run_wait(a.run, 60000), HL_OK);
  CHECK_STR(a.answer, FINAL);
  finish(&a);
  finish(&b);
  hl_agent_unref(slow);
  hl_agent_unref(quick);
  hl_provider_unref(p);
}

/* ---- a server that dies mid-stream ---- */

static void server_dies_mid_stream(void) {
  test_server doomed;
  REQUIRE(test_server_start(&doomed) == 0);
  hl_provider *pd = hl_openai_new(doomed.base, KEY);
  hl_provider *pg = hl_openai_new(srv.base, KEY);
  REQUIRE(pd && pg);
  hl_openai_set_timeouts(pd, 10000, 0, 120000); /* only the death ends them */
  enum { N_DOOMED = 20, N_GOOD = 100 };
  static rec r[N_DOOMED + N_GOOD];
  const char *dmodel = "hangstream@async-dies";
  hl_agent *ad = agent_on(pd, dmodel, true, NULL, NULL);
  hl_agent *ag = agent_on(pg, "text@async-survivors", true, NULL, NULL);
  REQUIRE(ad && ag);
  for (int i = 0; i < N_DOOMED; i++) REQUIRE(start(ad, &r[i], "hi") == HL_OK);
  CHECK(test_server_wait_count(&doomed, dmodel, N_DOOMED, 60));
  sleep_ms(200); /* the first third of each stream is on its way */
  for (int i = N_DOOMED; i < N_DOOMED + N_GOOD; i++) REQUIRE(start(ag, &r[i], "hi") == HL_OK);
  kill(doomed.pid, SIGKILL);
  int failed_clearly = 0, good = 0;
  for (int i = 0; i < N_DOOMED + N_GOOD; i++) {
    hl_run_wait(r[i].run, 120000);
    if (i < N_DOOMED) {
      bool clear = r[i].st == HL_ERR_NETWORK && strstr(r[i].err, "mid-stream") &&
                   strstr(r[i].err, doomed.base);
      if (!clear) fprintf(stderr, "doomed run %d: %s: %s\n", i, hl_status_name(r[i].st), r[i].err);
      failed_clearly += clear;
    } else {
      bool ok = r[i].st == HL_OK && !strcmp(r[i].answer, TEXT);
      if (!ok) fprintf(stderr, "run %d: %s: %s\n", i, hl_status_name(r[i].st), r[i].err);
      good += ok;
    }
    finish(&r[i]);
  }
  CHECK_INT(failed_clearly, N_DOOMED);
  CHECK_INT(good, N_GOOD);
  hl_agent_unref(ad);
  hl_agent_unref(ag);
  hl_provider_unref(pd);
  hl_provider_unref(pg);
  test_server_stop(&doomed);
}

/* ---- asynchronous tools ---- */

#define N_DEFERRED 20

typedef struct deferred {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  hl_tool_completion *items[N_DEFERRED + 1];
  char city[N_DEFERRED + 1][32];
  int n, taken;
  bool stop;
  atomic_int pending_seen;
} deferred;

static hl_status deferring_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)result;
  deferred *q = ud;
  hl_tool_completion *c = hl_tool_defer(ctx);
  if (!c) return HL_ERR_STATE;
  pthread_mutex_lock(&q->mu);
  snprintf(q->city[q->n], sizeof q->city[0], "%s", hl_json_get_string(args, "city"));
  q->items[q->n++] = c;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
  atomic_fetch_add(&q->pending_seen, 1);
  return HL_PENDING;
}

/* The "other thread": completes each deferred call a little later, the
 * first one with an error. */
static void *completer(void *arg) {
  deferred *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (q->taken == q->n && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
    if (q->taken == q->n && q->stop) break;
    int i = q->taken++;
    hl_tool_completion *c = q->items[i];
    char city[32];
    snprintf(city, sizeof city, "%s", q->city[i]);
    pthread_mutex_unlock(&q->mu);
    sleep_ms(20);
    if (i == 0) {
      hl_tool_complete(c, HL_ERR_EXECUTION_FAILED, NULL, "no forecast today");
    } else {
      char b[64];
      snprintf(b, sizeof b, "sunny in %s", city);
      hl_tool_complete(c, HL_OK, cJSON_CreateString(b), NULL);
    }
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

static void async_tool_other_thread(void) {
  /* Outside a run's tool step there is nothing to defer. */
  CHECK(hl_tool_defer(NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_STATE);
  deferred q;
  memset(&q, 0, sizeof q);
  pthread_mutex_init(&q.mu, NULL);
  pthread_cond_init(&q.cv, NULL);
  hl_tool *bare = tool_new("get_weather", "city", deferring_weather, &q);
  cJSON *args = cJSON_Parse("{\"city\":\"Rome\"}");
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(bare, NULL, args, &res), HL_ERR_STATE);
  CHECK(strstr(hl_last_error(), "hl_tool_defer") != NULL);
  cJSON_Delete(args);
  hl_tool_unref(bare);
  CHECK_INT(q.n, 0);

  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, completer, &q) == 0);
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "agent@async-deferred", false, deferring_weather, &q);
  REQUIRE(a);
  /* One blocking run first (its deferred call is the failing one), then
   * asynchronous ones. */
  char *ans = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "weather?", &ans), HL_OK);
  CHECK(ans && strstr(ans, "no forecast today") && strstr(ans, "12:00 CET"));
  hl_free(ans);
  static rec r[N_DEFERRED - 1];
  for (int i = 0; i < N_DEFERRED - 1; i++) REQUIRE(start(a, &r[i], "weather?") == HL_OK);
  int ok = 0;
  for (int i = 0; i < N_DEFERRED - 1; i++) {
    hl_run_wait(r[i].run, 60000);
    if (r[i].st != HL_OK) fprintf(stderr, "run %d: %s: %s\n", i, hl_status_name(r[i].st), r[i].err);
    ok += r[i].st == HL_OK && !strcmp(r[i].answer, FINAL);
    finish(&r[i]);
  }
  CHECK_INT(ok, N_DEFERRED - 1);
  CHECK_INT(atomic_load(&q.pending_seen), N_DEFERRED);
  pthread_mutex_lock(&q.mu);
  q.stop = true;
  pthread_cond_signal(&q.cv);
  pthread_mutex_unlock(&q.mu);
  pthread_join(th, NULL);
  CHECK_INT(q.taken, N_DEFERRED);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ---- the application's own loop ---- */

#define N_EXT 50

static void *drive_loop(void *arg) {
  atomic_bool *stop = arg;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = hl_engine_fd()};
  epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
  while (!atomic_load(stop)) {
    struct epoll_event got;
    long t = hl_engine_timeout_ms();
    epoll_wait(ep, &got, 1, t < 0 || t > 50 ? 50 : (int)t);
    hl_engine_process();
  }
  close(ep);
  return NULL;
}

static void external_loop(void) {
  CHECK_INT(hl_engine_use_external_loop(), HL_OK);
  int fd = hl_engine_fd();
  CHECK(fd >= 0);
  CHECK_INT(hl_engine_use_external_loop(), HL_OK); /* again: harmless */
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "agent@async-external", false, NULL, NULL);
  REQUIRE(a);
  static rec r[N_EXT];
  for (int i = 0; i < N_EXT; i++) REQUIRE(start(a, &r[i], "weather and time?") == HL_OK);
  /* Nobody drives the loop yet: nothing moves (the server answers this
   * scenario at once). (The test's own server queries go through the
   * library's HTTP too, so they wait for a driven loop: asked below.) */
  sleep_ms(1000);
  int done = 0;
  for (int i = 0; i < N_EXT; i++) done += hl_run_done(r[i].run);
  CHECK_INT(done, 0);

  int ep = epoll_create1(0);
  REQUIRE(ep >= 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
  double until = now_s() + 120;
  long turns = 0;
  while (done < N_EXT && now_s() < until) {
    long t = hl_engine_timeout_ms();
    int wait = t < 0 || t > 200 ? 200 : (int)t;
    struct epoll_event got;
    epoll_wait(ep, &got, 1, wait);
    CHECK_INT(hl_engine_process(), HL_OK);
    turns++;
    done = 0;
    for (int i = 0; i < N_EXT; i++) done += hl_run_done(r[i].run);
  }
  fprintf(stderr, "%d runs done in %ld turns of the test's loop\n", done, turns);
  CHECK_INT(done, N_EXT);
  int ok = 0;
  for (int i = 0; i < N_EXT; i++) {
    ok += r[i].st == HL_OK && !strcmp(r[i].answer, FINAL);
    finish(&r[i]);
  }
  CHECK_INT(ok, N_EXT);
  /* A blocking request needs someone else to drive the loop meanwhile. */
  atomic_bool stop = false;
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, drive_loop, &stop) == 0);
  CHECK_INT(test_server_count(&srv, "agent@async-external"), 2 * N_EXT);
  atomic_store(&stop, true);
  pthread_join(th, NULL);
  close(ep);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ---- misuse ---- */

static void api_misuse(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "slow@async-misuse", false, NULL, NULL);
  REQUIRE(a);
  hl_run *run = (hl_run *)1;
  CHECK_INT(hl_run_start(NULL, NULL, "x", NULL, &run), HL_ERR_INVALID);
  CHECK(run == NULL);
  CHECK_INT(hl_run_start(a, NULL, NULL, NULL, &run), HL_ERR_INVALID);
  CHECK_INT(hl_run_start(a, NULL, "x", NULL, NULL), HL_ERR_INVALID);
  hl_run_options shortopts = {sizeof(size_t), NULL, NULL};
  CHECK_INT(hl_run_start(a, NULL, "x", &shortopts, &run), HL_ERR_INVALID);
  CHECK(strstr(hl_last_error(), "HL_RUN_OPTIONS_INIT") != NULL);
  CHECK_INT(hl_run_wait(NULL, 0), HL_ERR_INVALID);
  /* One run at a time per session: the second start is refused at once and
   * its callback never runs. */
  rec r1, r2;
  hl_session *s = hl_session_new(NULL, NULL, "busy-one");
  REQUIRE(s);
  hl_run_options o = HL_RUN_OPTIONS_INIT;
  o.on_done = on_done;
  memset(&r1, 0, sizeof r1);
  memset(&r2, 0, sizeof r2);
  o.user_data = &r1;
  REQUIRE(hl_run_start(a, s, "hi", &o, &r1.run) == HL_OK);
  o.user_data = &r2;
  CHECK_INT(hl_run_start(a, s, "hi", &o, &r2.run), HL_ERR_STATE);
  CHECK(strstr(hl_last_error(), "busy-one") != NULL);
  CHECK(r2.run == NULL);
  CHECK_INT(hl_run_wait(r1.run, 0), HL_ERR_TIMEOUT); /* the model takes 0.5 s */
  CHECK_INT(hl_run_wait(r1.run, 60000), HL_OK);
  CHECK_INT(atomic_load(&r2.calls), 0);
  CHECK_INT(atomic_load(&r1.calls), 1);
  hl_run_free(r1.run);
  hl_run_free(NULL);
  /* Freeing a run in flight cancels it; its callback still runs once. */
  rec r3;
  memset(&r3, 0, sizeof r3);
  o.user_data = &r3;
  hl_openai_set_timeouts(p, 10000, 0, 120000);
  hl_agent_set_model(a, "hang@async-freed");
  REQUIRE(hl_run_start(a, s, "hi", &o, &r3.run) == HL_OK);
  CHECK(test_server_wait_count(&srv, "hang@async-freed", 1, 60));
  hl_run_free(r3.run);
  double until = now_s() + 30;
  while (atomic_load(&r3.calls) == 0 && now_s() < until) sleep_ms(10);
  CHECK_INT(atomic_load(&r3.calls), 1);
  CHECK_INT(r3.st, HL_ERR_CANCELLED);
  /* The session is free again once the callback ran. */
  char *ans = NULL;
  hl_agent_set_model(a, "text@async-after");
  until = now_s() + 30;
  hl_status st;
  while ((st = hl_agent_run(a, s, "hi", &ans)) == HL_ERR_STATE && now_s() < until) sleep_ms(10);
  CHECK_INT(st, HL_OK);
  CHECK_STR(ans, TEXT);
  hl_free(ans);
  /* The library runs its own loop here: not the application's to drive. */
  CHECK_INT(hl_engine_fd(), -1);
  CHECK_INT(hl_last_status(), HL_ERR_STATE);
  CHECK_INT(hl_engine_process(), HL_ERR_STATE);
  CHECK_INT(hl_engine_use_external_loop(), HL_ERR_STATE);
  CHECK_INT(hl_set_worker_threads(0), HL_ERR_INVALID);
  CHECK_INT(hl_set_worker_threads(2000), HL_ERR_INVALID);
  CHECK(hl_worker_threads() >= 1);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static const test_case tests[] = {
    T(runs_1000_in_flight),
    T(cancel_1000_in_flight),
    T(blocking_tool_no_delay),
    T(server_dies_mid_stream),
    T(async_tool_other_thread),
    T(external_loop),
    T(api_misuse),
};

int main(int argc, char **argv) {
  main_thread = pthread_self();
  return run_cases(&srv, tests, sizeof tests / sizeof tests[0], argc, argv);
}
