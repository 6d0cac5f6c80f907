/*
 * tests/concurrency/test_async_tools.c - asynchronous tools hold no thread
 * while they are pending (issue 12 item 3), against server.py on
 * 127.0.0.1 (OpenAI wire; its "agent" scenario asks for get_weather and
 * get_time, then answers with both results):
 *
 *   pending_200_on_one_worker   a pool of one worker, 200 runs started with
 *                               hl_run_start() whose get_weather defers:
 *                               all 200 are pending at the same time while
 *                               the process has few threads (not one per
 *                               pending call), then one other thread
 *                               completes them all and every run answers
 *                               with its own result
 *   scripted_pending_200_on_one_worker
 *                               the same on the scripted provider, which
 *                               has no asynchronous start (its model call
 *                               blocks a worker; the pending tool must not)
 *   completed_before_pending    the tool completes its own handle before it
 *                               returns HL_PENDING: the run goes on at once
 *   cancel_pending              runs whose tool is pending are cancelled:
 *                               each ends HL_ERR_CANCELLED, and the
 *                               completions that come later (some racing
 *                               the cancel from another thread) are
 *                               harmless (ASan: no leak, no use after free)
 *
 * The pool's size is process-wide: set once, first.
 *
 *   test_async_tools [NAME]
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hookline.h"
#include "providers/test_server.h"

#define KEY "sk-async-tools-0042"

static test_server srv;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Threads of this process right now. */
static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* ---- the tools ---- */

#define N_MAX 200

/* Deferred calls, parked until the test completes them. */
typedef struct parking {
  pthread_mutex_t mu;
  hl_tool_completion *c[N_MAX];
  char city[N_MAX][32];
  int n;
} parking;

static parking lot = {.mu = PTHREAD_MUTEX_INITIALIZER};

static hl_status parked_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)result, (void)ud;
  hl_tool_completion *c = hl_tool_defer(ctx);
  if (!c) return hl_last_status();
  pthread_mutex_lock(&lot.mu);
  if (lot.n == N_MAX) {
    pthread_mutex_unlock(&lot.mu);
    hl_tool_complete(c, HL_ERR_EXECUTION_FAILED, NULL, "lot full");
    return HL_PENDING;
  }
  snprintf(lot.city[lot.n], sizeof lot.city[0], "%s", hl_json_get_string(args, "city"));
  lot.c[lot.n++] = c;
  pthread_mutex_unlock(&lot.mu);
  return HL_PENDING;
}

static int parked_count(void) {
  pthread_mutex_lock(&lot.mu);
  int n = lot.n;
  pthread_mutex_unlock(&lot.mu);
  return n;
}

static bool wait_parked(int want, int limit_s) {
  for (int i = 0; i < limit_s * 100; i++) {
    if (parked_count() >= want) return true;
    sleep_ms(10);
  }
  return parked_count() >= want;
}

/* Completes the parked calls [from, to) with "rainy in CITY #i". */
typedef struct completer_arg {
  int from, to;
} completer_arg;

static void *completer(void *arg) {
  completer_arg *a = arg;
  for (int i = a->from; i < a->to; i++) {
    pthread_mutex_lock(&lot.mu);
    hl_tool_completion *c = lot.c[i];
    lot.c[i] = NULL;
    char b[64];
    snprintf(b, sizeof b, "rainy in %s #%d", lot.city[i], i);
    pthread_mutex_unlock(&lot.mu);
    hl_tool_complete(c, HL_OK, cJSON_CreateString(b), NULL);
  }
  return NULL;
}

static void lot_reset(void) {
  pthread_mutex_lock(&lot.mu);
  for (int i = 0; i < lot.n; i++) CHECK(lot.c[i] == NULL); /* every call completed */
  lot.n = 0;
  pthread_mutex_unlock(&lot.mu);
}

static hl_status time_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  char b[96];
  snprintf(b, sizeof b, "12:00 %s", hl_json_get_string(args, "tz"));
  *result = cJSON_CreateString(b);
  return HL_OK;
}

/* Completes its own call before returning HL_PENDING. */
static hl_status eager_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)result, (void)ud;
  hl_tool_completion *c = hl_tool_defer(ctx);
  if (!c) return hl_last_status();
  char b[64];
  snprintf(b, sizeof b, "foggy in %s", hl_json_get_string(args, "city"));
  hl_tool_complete(c, HL_OK, cJSON_CreateString(b), NULL);
  return HL_PENDING;
}

static hl_agent *agent_on(hl_provider *p, const char *model, hl_tool_fn weather) {
  hl_agent *a = hl_agent_new("async_tools");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, model);
  hl_tool *w = hl_tool_new("get_weather", "test tool", weather, NULL);
  hl_tool_param(w, "city", "string", "what", true);
  hl_tool *t = hl_tool_new("get_time", "test tool", time_fn, NULL);
  hl_tool_param(t, "tz", "string", "what", true);
  hl_agent_add_tool(a, w);
  hl_agent_add_tool(a, t);
  hl_tool_unref(w);
  hl_tool_unref(t);
  return a;
}

typedef struct rec {
  hl_run *run;
  hl_session *session;
} rec;

static rec runs[N_MAX];

static void start_all(hl_agent *a, int n) {
  for (int i = 0; i < n; i++) {
    runs[i].session = hl_session_new(NULL, NULL, NULL);
    REQUIRE(runs[i].session);
    REQUIRE(hl_run_start(a, runs[i].session, "weather and time?", NULL, &runs[i].run) == HL_OK);
  }
}

static void free_all(int n) {
  for (int i = 0; i < n; i++) {
    hl_run_free(runs[i].run);
    hl_session_free(runs[i].session);
    runs[i] = (rec){0};
  }
}

/* ------------------------------------------------------------------ */

#define N_PENDING 200

static void pending_200_on_one_worker(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "agent@parked", parked_weather);
  int before = thread_count();
  start_all(a, N_PENDING);
  REQUIRE(wait_parked(N_PENDING, 120));
  /* Every run is pending at once on a pool of one worker. Let the pool
   * settle, then count: a pending call that kept a thread asleep (the
   * worker, or one the pool starts when a worker steps aside) would show
   * here as ~200 threads. */
  sleep_ms(200);
  int during = thread_count();
  fprintf(stderr, "threads: %d before the runs, %d with %d calls pending\n", before, during,
          N_PENDING);
  CHECK(during > 0 && during < before + 16);
  for (int i = 0; i < N_PENDING; i++) CHECK_INT(hl_run_status(runs[i].run), HL_PENDING);
  /* One other thread completes them all. */
  completer_arg ca = {0, N_PENDING};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, completer, &ca) == 0);
  pthread_join(th, NULL);
  int ok = 0;
  for (int i = 0; i < N_PENDING; i++) {
    hl_status st = hl_run_wait(runs[i].run, 120000);
    const char *ans = hl_run_answer(runs[i].run);
    /* Each run got its own call's result back. */
    bool own = false;
    if (st == HL_OK && ans) {
      const char *m = strstr(ans, "rainy in Paris #");
      int k = m ? atoi(m + strlen("rainy in Paris #")) : -1;
      own = k >= 0 && k < N_PENDING && strstr(ans, "12:00 CET");
    }
    if (!own) fprintf(stderr, "run %d: %s: %s\n", i, hl_status_name(st), ans ? ans : hl_run_error(runs[i].run));
    ok += own;
  }
  CHECK_INT(ok, N_PENDING);
  /* Two model calls per run: the second carried the completed result. */
  CHECK_INT(test_server_count(&srv, "agent@parked"), 2 * N_PENDING);
  free_all(N_PENDING);
  lot_reset();
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* The same on the scripted provider, which has no asynchronous start: its
 * model call blocks the step's worker, but a pending tool must not (each
 * run asks for get_weather, then answers with its result). Before this
 * was fixed every pending run kept a thread asleep: ~200 threads. */
static void scripted_pending_200_on_one_worker(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_load_json(p, "{\"rules\": [{\"match\": \"weather\", \"steps\": ["
                                   "{\"tool_calls\": [{\"id\": \"w1\", \"name\": \"get_weather\","
                                   " \"arguments\": {\"city\": \"Paris\"}}]},"
                                   "{\"text\": \"Final: {{result}}\"}]}]}") == HL_OK);
  hl_agent *a = agent_on(p, "scripted", parked_weather);
  int before = thread_count();
  start_all(a, N_PENDING);
  REQUIRE(wait_parked(N_PENDING, 120));
  sleep_ms(200);
  int during = thread_count();
  fprintf(stderr, "scripted: threads: %d before the runs, %d with %d calls pending\n", before,
          during, N_PENDING);
  CHECK(during > 0 && during < before + 16);
  for (int i = 0; i < N_PENDING; i++) CHECK_INT(hl_run_status(runs[i].run), HL_PENDING);
  completer_arg ca = {0, N_PENDING};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, completer, &ca) == 0);
  pthread_join(th, NULL);
  /* Each run got its own call's result: the numbers are all different. */
  static bool seen[N_PENDING];
  memset(seen, 0, sizeof seen);
  int ok = 0;
  for (int i = 0; i < N_PENDING; i++) {
    hl_status st = hl_run_wait(runs[i].run, 120000);
    const char *ans = hl_run_answer(runs[i].run);
    const char *m = st == HL_OK && ans ? strstr(ans, "Final: rainy in Paris #") : NULL;
    int k = m ? atoi(m + strlen("Final: rainy in Paris #")) : -1;
    bool own = k >= 0 && k < N_PENDING && !seen[k];
    if (own) seen[k] = true;
    else fprintf(stderr, "run %d: %s: %s\n", i, hl_status_name(st), ans ? ans : hl_run_error(runs[i].run));
    ok += own;
  }
  CHECK_INT(ok, N_PENDING);
  CHECK_INT((int)hl_scripted_request_count(p), 2 * N_PENDING);
  free_all(N_PENDING);
  lot_reset();
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void completed_before_pending(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "agent@eager", eager_weather);
  start_all(a, 20);
  for (int i = 0; i < 20; i++) {
    CHECK_INT(hl_run_wait(runs[i].run, 120000), HL_OK);
    const char *ans = hl_run_answer(runs[i].run);
    CHECK_STR(ans ? ans : "", "Final: foggy in Paris | 12:00 CET");
  }
  free_all(20);
  /* The blocking call too. */
  char *ans = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "weather?", &ans), HL_OK);
  CHECK_STR(ans ? ans : "", "Final: foggy in Paris | 12:00 CET");
  hl_free(ans);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

#define N_CANCEL 60

static void cancel_pending(void) {
  hl_provider *p = hl_openai_new(srv.base, KEY);
  REQUIRE(p);
  hl_agent *a = agent_on(p, "agent@cancelled", parked_weather);
  start_all(a, N_CANCEL);
  REQUIRE(wait_parked(N_CANCEL, 120));
  /* A third of the calls are completed by another thread while the runs
   * are cancelled: either may come first. */
  completer_arg ca = {0, N_CANCEL / 3};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, completer, &ca) == 0);
  for (int i = 0; i < N_CANCEL; i++) hl_run_cancel(runs[i].run);
  pthread_join(th, NULL);
  int cancelled = 0, ended = 0;
  for (int i = 0; i < N_CANCEL; i++) {
    hl_status st = hl_run_wait(runs[i].run, 60000);
    ended += st != HL_ERR_TIMEOUT;
    /* A run whose call the other thread completed may have answered
     * before its cancel came; the others were pending when cancelled. */
    if (i < N_CANCEL / 3 && st == HL_OK) continue;
    cancelled += st == HL_ERR_CANCELLED;
    if (st != HL_ERR_CANCELLED) fprintf(stderr, "run %d: %s\n", i, hl_status_name(st));
    else CHECK_CONTAINS(hl_run_error(runs[i].run), "cancel");
  }
  CHECK_INT(ended, N_CANCEL);
  CHECK(cancelled >= N_CANCEL - N_CANCEL / 3);
  /* The runs are over (and freed, for half of them) before the rest of
   * the completions come: they must be ignored. */
  for (int i = 0; i < N_CANCEL / 2; i++) {
    hl_run_free(runs[i].run);
    runs[i].run = NULL;
  }
  completer_arg rest = {N_CANCEL / 3, N_CANCEL};
  REQUIRE(pthread_create(&th, NULL, completer, &rest) == 0);
  pthread_join(th, NULL);
  free_all(N_CANCEL);
  lot_reset();
  hl_agent_unref(a);
  hl_provider_unref(p);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  if (hl_set_worker_threads(1) != HL_OK || test_server_start(&srv) != 0) {
    fprintf(stderr, "set-up failed: %s\n", hl_last_error());
    return EXIT_FAILURE;
  }
  RUN(pending_200_on_one_worker);
  RUN(scripted_pending_200_on_one_worker);
  RUN(completed_before_pending);
  RUN(cancel_pending);
  test_server_stop(&srv);
  return CHECK_EXIT();
}
