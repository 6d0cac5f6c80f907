/*
 * tests/pool/test_pool.c - the one bounded worker pool and the per-call
 * record (issue 12 items 3 and 5): nested blocking work on a pool of one
 * and two threads (a tool running a parallel workflow agent whose
 * children's tools run in parallel, some with a time limit) ends; a
 * pending asynchronous tool holds no worker; a child run started inside a
 * timed tool nests under the tool's call; a child run started by a
 * deferred tool on a thread of its own can stop for approval and resume;
 * so can one inside a timed tool; a whole tree on the pool is cancelled
 * from another thread, and a cancelled run's timed call still waiting in
 * the queue of a saturated pool ends at once;
 * hl_work_parallel's contract (its indexes all run at once); jobs held by a thread (the event loop's
 * turn) and then queued at once each run once, on the pool's threads,
 * carrying no call record.
 *
 * The pool's size is process-wide and only ever set here, so the tests
 * that need a small pool run last, in order of decreasing size.
 */
#include <hookline.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_internal.h" /* internal: hl__tools_set_quick_batch_ns() */
#include "agent/call.h"     /* internal: the call record a job carries */
#include "core/taskpool.h" /* internal: hl__jobs_hold() has no public form */
#include "check.h"
#include "interrupt/fixture.h"
#include "overlap.h" /* sleep_ms, counting calls that run at once */

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  const char *t = hl_json_get_string(args, "text");
  *result = cJSON_CreateString(t ? t : "");
  return HL_OK;
}

static hl_tool *echo_tool(const char *name, unsigned timeout_ms) {
  hl_tool *t = hl_tool_new(name, "Echo the text.", echo_fn, NULL);
  hl_tool_param(t, "text", "string", "text", true);
  if (timeout_ms) hl_tool_set_timeout_ms(t, timeout_ms);
  return t;
}

static hl_agent *scripted_agent(const char *name, hl_provider **model) {
  *model = hl_scripted_new();
  hl_agent *a = hl_agent_new(name);
  hl_agent_set_provider(a, *model);
  hl_agent_set_model(a, "scripted");
  return a;
}

/* An agent whose scripted model calls `tool` (the reference is taken)
 * once, as `call_id` with no arguments, then answers `text`. */
static hl_agent *one_call_agent(const char *name, hl_tool *tool, const char *call_id,
                                const char *text, hl_provider **model) {
  hl_agent *a = scripted_agent(name, model);
  hl_agent_add_tool(a, tool);
  hl_scripted_push_tool_call(*model, call_id, hl_tool_name(tool), "{}");
  hl_scripted_push_text(*model, text);
  hl_tool_unref(tool);
  return a;
}

/* ---- a child run inside a timed tool nests under the tool's call ---- */

typedef struct seen_parent {
  pthread_mutex_t mu;
  char parent_call[64]; /* the helper's AGENT_START parent_call_id */
  int helper_starts;
} seen_parent;

static int note_parent(const hl_event *ev, void *ud) {
  seen_parent *s = ud;
  if (ev->type != HL_EVENT_AGENT_START || strcmp(ev->agent_name, "helper") != 0) return 0;
  pthread_mutex_lock(&s->mu);
  s->helper_starts++;
  snprintf(s->parent_call, sizeof s->parent_call, "%s",
           ev->parent_call_id ? ev->parent_call_id : "(none)");
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static char timed_id_seen[64];

static hl_status whoami_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  const char *id = hl_context_tool_call_id(ctx);
  snprintf(timed_id_seen, sizeof timed_id_seen, "%s", id ? id : "(none)");
  *result = cJSON_CreateString("me");
  return HL_OK;
}

static void timed_tool_child_nests_under_the_call(void) {
  hl_provider *bm, *hm;
  hl_agent *helper = scripted_agent("helper", &hm);
  hl_scripted_push_text(hm, "helped");
  hl_agent *boss = scripted_agent("boss", &bm);
  hl_tool *ask = hl_agent_as_tool(helper, "Ask the helper.", NULL);
  hl_tool_set_timeout_ms(ask, 60000); /* runs on the pool, with a deadline */
  hl_agent_add_tool(boss, ask);
  hl_tool_unref(ask);
  hl_tool *who = hl_tool_new("whoami", "Who am I.", whoami_fn, NULL);
  hl_tool_set_timeout_ms(who, 60000);
  hl_agent_add_tool(boss, who);
  hl_tool_unref(who);
  hl_response *r = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"input\":\"help\"}"), *a2 = cJSON_Parse("{}");
  hl_message_add_tool_call(r->message, "call_ask", "helper", a1);
  hl_message_add_tool_call(r->message, "call_who", "whoami", a2);
  cJSON_Delete(a1), cJSON_Delete(a2);
  hl_scripted_push(bm, r);
  hl_scripted_push_text(bm, "done");
  seen_parent s = {.parent_call = ""};
  pthread_mutex_init(&s.mu, NULL);
  hl_observer *obs = hl_observer_new(note_parent, &s);
  hl_agent_add_observer(boss, obs);
  hl_session *ses = hl_session_new("app", "u", "timed");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(boss, ses, "go", &answer), HL_OK);
  CHECK_STR(answer, "done");
  hl_free(answer);
  /* The tracer's span parent: the tool call, not the boss's agent span. */
  CHECK_INT(s.helper_starts, 1);
  CHECK_STR(s.parent_call, "call_ask");
  /* The tool's idempotency key on the pool thread. */
  CHECK_STR(timed_id_seen, "call_who");
  hl_observer_unref(obs);
  hl_session_free(ses);
  hl_agent_unref(boss);
  hl_agent_unref(helper);
  hl_provider_unref(bm), hl_provider_unref(hm);
  pthread_mutex_destroy(&s.mu);
}

/* ---- a deferred tool's own thread runs a child that stops ---- */

typedef struct delegation {
  hl_context *ctx;
  hl_tool_completion *done;
  hl_agent *helper;
} delegation;

static pthread_t delegate_threads[4];
static int n_delegate_threads;

static void *delegate_main(void *arg) {
  delegation *d = arg;
  char *answer = NULL;
  hl_status st = hl_context_run_agent(d->ctx, d->helper, "clean up", HL_RUN_ISOLATED, &answer);
  if (st == HL_OK) hl_tool_complete(d->done, HL_OK, cJSON_CreateString(answer), NULL);
  else hl_tool_complete(d->done, st, NULL, hl_last_error());
  hl_free(answer);
  free(d);
  return NULL;
}

static hl_status delegate_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)result;
  delegation *d = calloc(1, sizeof *d);
  if (!d) return HL_ERR_NOMEM;
  d->ctx = ctx;
  d->helper = ud;
  d->done = hl_tool_defer(ctx);
  if (!d->done || n_delegate_threads == 4 ||
      pthread_create(&delegate_threads[n_delegate_threads], NULL, delegate_main, d) != 0) {
    free(d);
    return hl_fail(HL_ERR_EXECUTION_FAILED, "cannot delegate");
  }
  n_delegate_threads++;
  return HL_PENDING;
}

static void join_delegates(void) {
  for (int i = 0; i < n_delegate_threads; i++) pthread_join(delegate_threads[i], NULL);
  n_delegate_threads = 0;
}

static void deferred_tool_thread_child_interrupt_resumes(void) {
  fx_log_reset();
  hl_provider *bm, *hm;
  hl_agent *helper = scripted_agent("helper", &hm);
  hl_tool *del = fx_tool("delete_file", fx_delete, "path");
  hl_tool_set_needs_approval(del, true);
  fx_add(helper, del);
  hl_agent *boss = scripted_agent("boss", &bm);
  hl_tool *dt = hl_tool_new("delegate", "Delegate the cleanup.", delegate_fn, helper);
  hl_agent_add_tool(boss, dt);
  hl_tool_unref(dt);
  hl_scripted_push_tool_call(bm, "d1", "delegate", "{}");
  hl_scripted_push_tool_call(hm, "h1", "delete_file", "{\"path\":\"/tmp/q\"}");
  hl_session *s = hl_session_new("app", "u", "deferred");
  char *answer = NULL;
  hl_status st = hl_agent_run(boss, s, "tidy", &answer);
  join_delegates();
  /* Before the call record, the child on the tool's own thread found no
   * call to hand its state to: HL_ERR_UNSUPPORTED as the tool's result. */
  CHECK_INT(st, HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  CHECK_INT(fx_ran("delete_file"), 0);
  const cJSON *p = cJSON_GetArrayItem(hl_json_get(state, "pending"), 0);
  CHECK_STR(hl_json_get_string(p, "id"), "d1");
  CHECK_STR(hl_json_get_string(p, "interrupted_by"), "sub_agent");
  const cJSON *child = hl_json_get(p, "state");
  CHECK_STR(hl_json_get_string(child, "agent"), "helper");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(hl_json_get(child, "pending"), 0), "id"), "h1");

  /* Approved: the tool runs again, its thread's child resumes. */
  hl_scripted_push_text(hm, "cleaned");
  hl_scripted_push_text(bm, "all done");
  cJSON *dec = cJSON_CreateObject();
  hl_decision_approve(dec, "d1/h1");
  CHECK_INT(hl_agent_resume(boss, s, state, dec, &answer), HL_OK);
  join_delegates();
  CHECK_STR(answer, "all done");
  hl_free(answer);
  CHECK_INT(fx_ran("delete_file"), 1);
  REQUIRE(hl_scripted_request_count(bm) == 2);
  hl_request *breq = hl_scripted_request(bm, 1);
  cJSON *bres = fx_results_of(breq);
  CHECK_STR(hl_json_get_string(hl_json_get(bres, "d1"), "content"), "cleaned");
  cJSON_Delete(bres);
  hl_request_free(breq);
  cJSON_Delete(dec);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(boss);
  hl_agent_unref(helper);
  hl_provider_unref(bm), hl_provider_unref(hm);
}

/* ---- a sub-agent inside a timed tool stops for approval ---- */

static void timed_tool_child_interrupt_resumes(void) {
  fx_log_reset();
  hl_provider *bm, *hm;
  hl_agent *helper = scripted_agent("helper", &hm);
  hl_tool *del = fx_tool("delete_file", fx_delete, "path");
  hl_tool_set_needs_approval(del, true);
  fx_add(helper, del);
  hl_agent *boss = scripted_agent("boss", &bm);
  hl_tool *ask = hl_agent_as_tool(helper, "Cleans up.", NULL);
  hl_tool_set_timeout_ms(ask, 60000);
  fx_add(boss, ask);
  hl_scripted_push_tool_call(bm, "t1", "helper", "{\"input\":\"clean\"}");
  hl_scripted_push_tool_call(hm, "h1", "delete_file", "{\"path\":\"/tmp/t\"}");
  hl_session *s = hl_session_new("app", "u", "timed-interrupt");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(boss, s, "tidy", &answer), HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  const cJSON *p = cJSON_GetArrayItem(hl_json_get(state, "pending"), 0);
  CHECK_STR(hl_json_get_string(p, "interrupted_by"), "sub_agent");
  CHECK_STR(hl_json_get_string(hl_json_get(p, "state"), "agent"), "helper");
  hl_scripted_push_text(hm, "cleaned");
  hl_scripted_push_text(bm, "all done");
  cJSON *dec = cJSON_CreateObject();
  hl_decision_approve(dec, "t1/h1");
  CHECK_INT(hl_agent_resume(boss, s, state, dec, &answer), HL_OK);
  CHECK_STR(answer, "all done");
  hl_free(answer);
  CHECK_INT(fx_ran("delete_file"), 1);
  cJSON_Delete(dec);
  cJSON_Delete(state);
  hl_session_free(s);
  hl_agent_unref(boss);
  hl_agent_unref(helper);
  hl_provider_unref(bm), hl_provider_unref(hm);
}

/* ---- hl_work_parallel ---- */

typedef struct counts {
  atomic_int hits[100];
  char id[100][32];
} counts;

static void count_fn(void *arg, size_t i) {
  counts *c = arg;
  atomic_fetch_add(&c->hits[i], 1);
}

static void work_parallel_runs_each_index_once(void) {
  counts *c = calloc(1, sizeof *c);
  REQUIRE(c);
  CHECK_INT(hl_work_parallel(100, count_fn, c), HL_OK);
  for (int i = 0; i < 100; i++) CHECK_INT(atomic_load(&c->hits[i]), 1);
  CHECK_INT(hl_work_parallel(0, count_fn, c), HL_OK);
  CHECK_INT(hl_work_parallel(3, NULL, c), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "fn is NULL");
  free(c);
}

/* "At the same time": every index waits until all have been inside at
 * once (overlap.h). The pool wakes a thread for a group's queued jobs one
 * at a time, the next when one is taken: the chain must still reach every
 * helper while the earlier ones wait. */
#define MEETING 6

static void meet_fn(void *arg, size_t i) {
  (void)arg, (void)i;
  overlap_enter();
  overlap_await(MEETING);
  overlap_leave();
}

static void work_parallel_indexes_all_meet(void) {
  REQUIRE(hl_worker_threads() >= MEETING); /* the default size: 8 at least */
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  CHECK_INT(hl_work_parallel(MEETING, meet_fn, NULL), HL_OK);
  CHECK_INT(atomic_load(&max_running), MEETING);
}

/* Inside a tool, the work runs inside the tool's call on pool threads. */
typedef struct in_call {
  hl_context *ctx;
  char ids[4][32];
} in_call;

static void note_id(void *arg, size_t i) {
  in_call *w = arg;
  const char *id = hl_context_tool_call_id(w->ctx);
  snprintf(w->ids[i], sizeof w->ids[i], "%s", id ? id : "(none)");
  sleep_ms(20); /* long enough for the pool's threads to take a share */
}

static hl_status fan_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  in_call w = {.ctx = ctx};
  hl_work_parallel(4, note_id, &w);
  int same = 0;
  for (int i = 0; i < 4; i++) same += strcmp(w.ids[i], "fan_1") == 0;
  *result = cJSON_CreateNumber(same);
  return HL_OK;
}

static void work_parallel_inside_a_tool_keeps_the_call(void) {
  hl_provider *m;
  hl_agent *a = one_call_agent("fanner", hl_tool_new("fan", "Fan out.", fan_fn, NULL), "fan_1",
                               "fanned", &m);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  hl_request *req = hl_scripted_request(m, 1);
  cJSON *res = fx_results_of(req);
  CHECK_STR(hl_json_get_string(hl_json_get(res, "fan_1"), "content"), "4");
  cJSON_Delete(res);
  hl_request_free(req);
  hl_agent_unref(a);
  hl_provider_unref(m);
}

/* ---- a response's quick tool calls wake no worker ---- */

/* An agent whose scripted model asks for three echo calls `batches`
 * times, answering "echoed" after each. */
static hl_agent *quick_batch_agent(int batches, hl_provider **model) {
  hl_agent *a = scripted_agent("quick", model);
  fx_add(a, echo_tool("echo", 0));
  for (int i = 0; i < batches; i++) {
    if (hl_scripted_load_json(*model,
        "{\"responses\":[{\"tool_calls\":["
        "{\"id\":\"e0\",\"name\":\"echo\",\"arguments\":{\"text\":\"a\"}},"
        "{\"id\":\"e1\",\"name\":\"echo\",\"arguments\":{\"text\":\"b\"}},"
        "{\"id\":\"e2\",\"name\":\"echo\",\"arguments\":{\"text\":\"c\"}}]},"
        "{\"text\":\"echoed\"}]}") != HL_OK) {
      hl_agent_unref(a);
      hl_provider_unref(*model);
      return NULL;
    }
  }
  return a;
}

/* Once its tool's calls are known to be quick, the run's thread takes a
 * batch's calls before any worker is woken for them: over twenty turns
 * of three calls (two helpers queued on the pool each), no thread is
 * woken or started. The first turn, whose tool was never measured, runs
 * its calls in parallel (it may wake workers). The budget and the grace
 * are made long (a second) so that a sanitizer's or a loaded machine's
 * slowness cannot make a quick call look slow; the defaults are the
 * benchmarks' business, and the next tests' that slow calls still run at
 * once. Before the deferred wake-up turns woke workers that found their
 * helpers taken (3 in these 20 turns on an idle machine: a worker woken
 * but not yet running counts for the next turn's helper too). */
#define QUICK_TURNS 20

static void run_echo_turn(hl_agent *a) {
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "echo", &answer), HL_OK);
  CHECK_STR(answer, "echoed");
  hl_free(answer);
}

static void quick_batches_wake_no_worker(void) {
  hl_provider *m;
  hl_agent *a = quick_batch_agent(QUICK_TURNS + 1, &m);
  REQUIRE(a);
  hl__tools_set_quick_batch_ns(1000000000LL);
  hl__jobs_set_wake_grace_us(1000000);
  run_echo_turn(a); /* echo's calls measured */
  long wakes0, late0, wakes1, late1;
  hl__jobs_counters(&wakes0, &late0);
  for (int i = 0; i < QUICK_TURNS; i++) run_echo_turn(a);
  hl__jobs_counters(&wakes1, &late1);
  hl__jobs_set_wake_grace_us(0);
  hl__tools_set_quick_batch_ns(0);
  CHECK_INT(wakes1 - wakes0, 0);
  CHECK_INT(late1 - late0, 0);
  /* Every call ran, each answer in its place. */
  REQUIRE(hl_scripted_request_count(m) == 2 * (QUICK_TURNS + 1));
  hl_request *req = hl_scripted_request(m, 2 * (QUICK_TURNS + 1) - 1);
  cJSON *res = fx_results_of(req);
  CHECK_STR(hl_json_get_string(hl_json_get(res, "e0"), "content"), "a");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "e1"), "content"), "b");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "e2"), "content"), "c");
  cJSON_Delete(res);
  hl_request_free(req);
  hl_agent_unref(a);
  hl_provider_unref(m);
}

/* A deferred group's waiter whose own job is slow (here: it waits until
 * the group's other two jobs run beside it) has them started by the
 * pool's timer once the grace ends, on pool threads: no lost wake-up, and
 * the jobs still run at once. */
typedef struct trio {
  hl__job job; /* first: the job's address is the struct's */
  pthread_t ran_on;
} trio;

static void trio_fn(hl__job *job) {
  ((trio *)job)->ran_on = pthread_self();
  overlap_enter();
  overlap_await(3);
  overlap_leave();
}

static void deferred_group_slow_waiter_gets_helpers(void) {
  REQUIRE(hl_worker_threads() >= 2);
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  long late0, late1;
  hl__jobs_counters(NULL, &late0);
  hl__group g;
  hl__group_init_deferred(&g);
  trio jobs[2];
  for (int i = 0; i < 2; i++) {
    jobs[i] = (trio){.job = {.fn = trio_fn}};
    hl__group_submit(&g, &jobs[i].job);
  }
  trio_fn(&(trio){0}.job); /* the waiter's own share, slow until they come */
  hl__group_wait(&g);
  hl__jobs_counters(NULL, &late1);
  CHECK_INT(atomic_load(&max_running), 3);
  CHECK(late1 - late0 >= 1); /* the grace ended with its jobs queued */
  for (int i = 0; i < 2; i++) CHECK(!pthread_equal(jobs[i].ran_on, pthread_self()));
}

/* Tool calls that wait for each other (each until three run at once)
 * meet with the default grace, the first on the run's thread. */
static hl_status meet_tool_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  overlap_enter();
  overlap_await(3);
  overlap_leave();
  *result = cJSON_CreateString("met");
  return HL_OK;
}

static void slow_batch_calls_still_run_at_once(void) {
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  hl_provider *m;
  hl_agent *a = scripted_agent("meeting", &m);
  fx_add(a, hl_tool_new("meet", "Meet the others.", meet_tool_fn, NULL));
  REQUIRE(hl_scripted_load_json(m,
      "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"m0\",\"name\":\"meet\",\"arguments\":{}},"
      "{\"id\":\"m1\",\"name\":\"meet\",\"arguments\":{}},"
      "{\"id\":\"m2\",\"name\":\"meet\",\"arguments\":{}}]},"
      "{\"text\":\"met\"}]}") == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "meet", &answer), HL_OK);
  CHECK_STR(answer, "met");
  hl_free(answer);
  CHECK_INT(atomic_load(&max_running), 3);
  hl_agent_unref(a);
  hl_provider_unref(m);
}

/* A tool whose calls were quick until now, this time waiting for its
 * siblings (each call until three run at once): the batch ran on the
 * run's thread, deferred, and the pool's timer still starts the other
 * two beside the first, the grace later; the estimate then marks the tool
 * slow, and its next batch wakes its helpers at once (no late group). */
static atomic_int mood_meets;

static hl_status mood_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  if (atomic_load(&mood_meets)) {
    overlap_enter();
    overlap_await(3);
    overlap_leave();
  }
  *result = cJSON_CreateString("fine");
  return HL_OK;
}

static void run_mood_turn(hl_agent *a, hl_provider *m) {
  REQUIRE(hl_scripted_load_json(m,
      "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"d0\",\"name\":\"mood\",\"arguments\":{}},"
      "{\"id\":\"d1\",\"name\":\"mood\",\"arguments\":{}},"
      "{\"id\":\"d2\",\"name\":\"mood\",\"arguments\":{}}]},"
      "{\"text\":\"moody\"}]}") == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "mood", &answer), HL_OK);
  CHECK_STR(answer, "moody");
  hl_free(answer);
}

static void quick_tool_turned_slow_still_meets(void) {
  hl_provider *m;
  hl_agent *a = scripted_agent("moody", &m);
  fx_add(a, hl_tool_new("mood", "Quick, until it is not.", mood_fn, NULL));
  /* A budget no sanitizer's slowness reaches: the quick turns count as
   * quick, so that the meeting turn is deferred. */
  hl__tools_set_quick_batch_ns(1000000000LL);
  atomic_store(&mood_meets, 0);
  for (int i = 0; i < 3; i++) run_mood_turn(a, m);
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  atomic_store(&mood_meets, 1);
  long late0, late1, late2;
  hl__jobs_counters(NULL, &late0);
  run_mood_turn(a, m);
  hl__jobs_counters(NULL, &late1);
  CHECK_INT(atomic_load(&max_running), 3);
  CHECK(late1 - late0 >= 1); /* started by the timer */
  /* Its calls took up to the grace: now slow, woken at once. */
  hl__tools_set_quick_batch_ns(0);
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  run_mood_turn(a, m);
  hl__jobs_counters(NULL, &late2);
  CHECK_INT(atomic_load(&max_running), 3);
  CHECK_INT(late2 - late1, 0);
  hl_agent_unref(a);
  hl_provider_unref(m);
}

/* A batch whose first call goes to a tool known to be slow wakes its
 * helpers at once, though the calls after it are quick: the run's
 * thread is busy with the first call anyway, and the quick ones would
 * otherwise wait for the deferred wake-up's grace (the timer firing: a
 * late group). The budget (10 ms) sits between the two tools, whatever
 * a sanitizer does to the quick one. */
static hl_status nap_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  sleep_ms(30);
  *result = cJSON_CreateString("rested");
  return HL_OK;
}

static void slow_first_call_wakes_helpers_at_once(void) {
  hl_provider *m;
  hl_agent *a = scripted_agent("napper", &m);
  fx_add(a, hl_tool_new("nap", "Sleep a little.", nap_fn, NULL));
  fx_add(a, echo_tool("echo", 0));
  hl__tools_set_quick_batch_ns(10000000LL);
  long late0 = 0, late1 = 0;
  for (int turn = 0; turn < 2; turn++) {
    if (turn == 1) hl__jobs_counters(NULL, &late0); /* both tools measured */
    REQUIRE(hl_scripted_load_json(m,
        "{\"responses\":[{\"tool_calls\":["
        "{\"id\":\"n0\",\"name\":\"nap\",\"arguments\":{}},"
        "{\"id\":\"n1\",\"name\":\"echo\",\"arguments\":{\"text\":\"b\"}},"
        "{\"id\":\"n2\",\"name\":\"echo\",\"arguments\":{\"text\":\"c\"}}]},"
        "{\"text\":\"napped\"}]}") == HL_OK);
    char *answer = NULL;
    CHECK_INT(hl_agent_run(a, NULL, "nap", &answer), HL_OK);
    CHECK_STR(answer, "napped");
    hl_free(answer);
  }
  hl__jobs_counters(NULL, &late1);
  hl__tools_set_quick_batch_ns(0);
  CHECK_INT(late1 - late0, 0);
  hl_request *req = hl_scripted_request(m, 3);
  cJSON *res = fx_results_of(req);
  CHECK_STR(hl_json_get_string(hl_json_get(res, "n0"), "content"), "rested");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "n2"), "content"), "c");
  cJSON_Delete(res);
  hl_request_free(req);
  hl_agent_unref(a);
  hl_provider_unref(m);
}

/* ---- jobs held, then queued at once (hl__jobs_hold) ---- */

#define HELD_JOBS 64

typedef struct held_job {
  hl__job job; /* first: the job's address is the struct's */
  struct burst *b;
  atomic_int runs;
  bool on_submitter, had_call;
} held_job;

typedef struct burst {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int left;
  pthread_t submitter;
  bool submitter_in_call; /* the tool's own record, which the jobs must not get */
  int ran_while_held;
  held_job jobs[HELD_JOBS];
} burst;

static void held_fn(hl__job *job) {
  held_job *h = (held_job *)job;
  h->on_submitter = pthread_equal(pthread_self(), h->b->submitter);
  h->had_call = hl__call_current() != NULL;
  atomic_fetch_add(&h->runs, 1);
  pthread_mutex_lock(&h->b->mu);
  if (--h->b->left == 0) pthread_cond_broadcast(&h->b->cv);
  pthread_mutex_unlock(&h->b->mu);
}

/* A tool (so that this thread has a call record) that holds a burst of
 * jobs, nested twice, and lets them go. */
static hl_status burst_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args;
  burst *b = ud;
  b->submitter = pthread_self();
  b->submitter_in_call = hl__call_current() != NULL;
  b->left = HELD_JOBS;
  hl__jobs_hold();
  hl__jobs_hold();
  for (int i = 0; i < HELD_JOBS; i++) {
    b->jobs[i].b = b;
    b->jobs[i].job.fn = held_fn;
    hl__jobs_submit(&b->jobs[i].job);
  }
  hl__jobs_release(); /* the inner one: still held */
  sleep_ms(30);       /* time enough for an idle pool to take queued jobs */
  for (int i = 0; i < HELD_JOBS; i++) b->ran_while_held += atomic_load(&b->jobs[i].runs);
  hl__jobs_release();
  pthread_mutex_lock(&b->mu);
  while (b->left > 0) pthread_cond_wait(&b->cv, &b->mu);
  pthread_mutex_unlock(&b->mu);
  *result = cJSON_CreateString("done");
  return HL_OK;
}

static void held_jobs_run_once_each_when_released(void) {
  burst *b = calloc(1, sizeof *b);
  REQUIRE(b);
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cv, NULL);
  hl_provider *m;
  hl_agent *a = one_call_agent("burster", hl_tool_new("burst", "Submit a burst of jobs.", burst_fn, b),
                               "burst_1", "burst done", &m);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  CHECK_STR(answer, "burst done");
  hl_free(answer);
  CHECK(b->submitter_in_call);
  CHECK_INT(b->ran_while_held, 0);
  int once = 0, on_submitter = 0, with_call = 0;
  for (int i = 0; i < HELD_JOBS; i++) {
    once += atomic_load(&b->jobs[i].runs) == 1;
    on_submitter += b->jobs[i].on_submitter;
    with_call += b->jobs[i].had_call;
  }
  CHECK_INT(once, HELD_JOBS);
  CHECK_INT(on_submitter, 0); /* the pool can start threads: none ran here */
  CHECK_INT(with_call, 0);    /* hl__jobs_submit carries no call record */
  hl_agent_unref(a);
  hl_provider_unref(m);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cv);
  free(b);
}

/* ---- nested blocking work on a small pool ---- */

typedef struct team {
  hl_agent *outer;
  hl_provider *models[3];
} team;

/* outer (async run) calls, in one turn: "crew" (a parallel workflow
 * agent as a tool with a time limit), whose two children each make three
 * parallel calls (one with a time limit), and a timed echo. */
static team build_team(void) {
  team t;
  hl_agent *w[2];
  for (int i = 0; i < 2; i++) {
    char name[16];
    snprintf(name, sizeof name, "w%d", i + 1);
    w[i] = scripted_agent(name, &t.models[i + 1]);
    fx_add(w[i], echo_tool("echo", 0));
    fx_add(w[i], echo_tool("echo_timed", 60000));
    hl_response *r = hl_response_new();
    cJSON *x = cJSON_Parse("{\"text\":\"x\"}");
    hl_message_add_tool_call(r->message, "e1", "echo", x);
    hl_message_add_tool_call(r->message, "e2", "echo_timed", x);
    hl_message_add_tool_call(r->message, "e3", "echo", x);
    cJSON_Delete(x);
    hl_scripted_push(t.models[i + 1], r);
    char done[32];
    snprintf(done, sizeof done, "%s done", name);
    hl_scripted_push_text(t.models[i + 1], done);
  }
  hl_agent *crew = hl_parallel_agent_new("crew", HL_RUN_ISOLATED);
  hl_agent_add_sub_agent(crew, w[0]);
  hl_agent_add_sub_agent(crew, w[1]);
  hl_agent_unref(w[0]), hl_agent_unref(w[1]);
  t.outer = scripted_agent("outer", &t.models[0]);
  hl_tool *ct = hl_agent_as_tool(crew, "The crew.", NULL);
  hl_tool_set_timeout_ms(ct, 60000);
  hl_agent_add_tool(t.outer, ct);
  hl_tool_unref(ct);
  hl_agent_unref(crew);
  hl_tool *et = echo_tool("echo_timed", 60000);
  hl_agent_add_tool(t.outer, et);
  hl_tool_unref(et);
  hl_response *r = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"input\":\"work\"}"), *a2 = cJSON_Parse("{\"text\":\"y\"}");
  hl_message_add_tool_call(r->message, "o1", "crew", a1);
  hl_message_add_tool_call(r->message, "o2", "echo_timed", a2);
  cJSON_Delete(a1), cJSON_Delete(a2);
  hl_scripted_push(t.models[0], r);
  hl_scripted_push_text(t.models[0], "all done");
  return t;
}

static void free_team(team *t) {
  hl_agent_unref(t->outer);
  for (int i = 0; i < 3; i++) hl_provider_unref(t->models[i]);
}

static void nested_work_ends_on_this_pool(void) {
  team t = build_team();
  hl_run *run = NULL;
  REQUIRE(hl_run_start(t.outer, NULL, "go", NULL, &run) == HL_OK);
  /* A deadlock would hold the run forever; a minute is plenty. */
  CHECK_INT(hl_run_wait(run, 60000), HL_OK);
  CHECK_STR(hl_run_answer(run), "all done");
  hl_request *req = hl_scripted_request(t.models[0], 1);
  cJSON *res = fx_results_of(req);
  const char *crew = hl_json_get_string(hl_json_get(res, "o1"), "content");
  CHECK_CONTAINS(crew ? crew : "", "w1 done");
  CHECK_CONTAINS(crew ? crew : "", "w2 done");
  CHECK_STR(hl_json_get_string(hl_json_get(res, "o2"), "content"), "y");
  cJSON_Delete(res);
  hl_request_free(req);
  hl_run_free(run);
  free_team(&t);
}

/* ---- cancelling a tree whose tools block on the pool ---- */

static atomic_int blockers_in, blockers_saw_cancel;

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool cancelled;
} waiter;

static void wake_waiter(void *ud) {
  waiter *w = ud;
  pthread_mutex_lock(&w->mu);
  w->cancelled = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static hl_status block_until_cancel(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)result, (void)ud;
  waiter w = {.cancelled = false};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  hl_cancel_reg *reg = hl_context_on_cancel(ctx, wake_waiter, &w);
  atomic_fetch_add(&blockers_in, 1);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 120;
  pthread_mutex_lock(&w.mu);
  while (!w.cancelled && pthread_cond_timedwait(&w.cv, &w.mu, &until) == 0) {}
  bool saw = w.cancelled;
  pthread_mutex_unlock(&w.mu);
  hl_context_cancel_unregister(reg);
  pthread_mutex_destroy(&w.mu);
  pthread_cond_destroy(&w.cv);
  if (saw) atomic_fetch_add(&blockers_saw_cancel, 1);
  return hl_fail(HL_ERR_CANCELLED, "the tool saw the run cancelled");
}

static void cancel_tree_on_this_pool(void) {
  atomic_store(&blockers_in, 0);
  atomic_store(&blockers_saw_cancel, 0);
  hl_provider *models[3];
  hl_agent *w[2];
  for (int i = 0; i < 2; i++) {
    w[i] = scripted_agent(i ? "b2" : "b1", &models[i + 1]);
    hl_tool *bt = hl_tool_new("block", "Block until cancelled.", block_until_cancel, NULL);
    hl_tool *bt2 = hl_tool_new("block_timed", "The same, timed.", block_until_cancel, NULL);
    hl_tool_set_timeout_ms(bt2, 120000);
    hl_agent_add_tool(w[i], bt), hl_agent_add_tool(w[i], bt2);
    hl_tool_unref(bt), hl_tool_unref(bt2);
    hl_response *r = hl_response_new();
    cJSON *x = cJSON_Parse("{}");
    hl_message_add_tool_call(r->message, "k1", "block", x);
    hl_message_add_tool_call(r->message, "k2", "block_timed", x);
    cJSON_Delete(x);
    hl_scripted_push(models[i + 1], r);
  }
  hl_agent *crew = hl_parallel_agent_new("crew", HL_RUN_ISOLATED);
  hl_agent_add_sub_agent(crew, w[0]), hl_agent_add_sub_agent(crew, w[1]);
  hl_agent_unref(w[0]), hl_agent_unref(w[1]);
  hl_agent *outer = scripted_agent("outer", &models[0]);
  hl_tool *ct = hl_agent_as_tool(crew, "The crew.", NULL);
  hl_tool_set_timeout_ms(ct, 120000);
  hl_agent_add_tool(outer, ct);
  hl_tool_unref(ct);
  hl_agent_unref(crew);
  hl_scripted_push_tool_call(models[0], "o1", "crew", "{\"input\":\"block\"}");
  hl_run *run = NULL;
  REQUIRE(hl_run_start(outer, NULL, "go", NULL, &run) == HL_OK);
  /* Four blocking tools (two of them on timed calls): as many run at
   * once as the pool has threads, the others wait in line. */
  int expect = hl_worker_threads() < 4 ? hl_worker_threads() : 4;
  for (int i = 0; i < 6000 && atomic_load(&blockers_in) < expect; i++) sleep_ms(10);
  CHECK(atomic_load(&blockers_in) >= expect);
  hl_run_cancel(run);
  CHECK_INT(hl_run_wait(run, 60000), HL_ERR_CANCELLED);
  /* Those that ran saw the cancel; those in line never started. */
  CHECK_INT(atomic_load(&blockers_saw_cancel), atomic_load(&blockers_in));
  hl_run_free(run);
  hl_agent_unref(outer);
  for (int i = 0; i < 3; i++) hl_provider_unref(models[i]);
}

/* ---- a pending asynchronous tool holds no worker ---- */

static _Atomic(hl_tool_completion *) parked;

static hl_status park_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)result, (void)ud;
  hl_tool_completion *c = hl_tool_defer(ctx);
  if (!c) return hl_last_status();
  atomic_store(&parked, c);
  return HL_PENDING;
}

static void pending_tool_holds_no_worker(void) {
  hl_provider *am, *bm;
  hl_agent *a = scripted_agent("parker", &am);
  hl_tool *t = hl_tool_new("park", "Wait to be completed.", park_fn, NULL);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  hl_scripted_push_tool_call(am, "p1", "park", "{}");
  hl_scripted_push_text(am, "unparked");
  hl_agent *b = scripted_agent("other", &bm);
  hl_scripted_push_text(bm, "other done");
  hl_session *sa = hl_session_new("app", "u", "a"), *sb = hl_session_new("app", "u", "b");
  atomic_store(&parked, NULL);
  hl_run *ra = NULL, *rb = NULL;
  REQUIRE(hl_run_start(a, sa, "park", NULL, &ra) == HL_OK);
  for (int i = 0; i < 6000 && !atomic_load(&parked); i++) sleep_ms(10);
  REQUIRE(atomic_load(&parked));
  /* The only worker's run waits for a completion: another run must still
   * get a thread for its steps. */
  REQUIRE(hl_run_start(b, sb, "hi", NULL, &rb) == HL_OK);
  CHECK_INT(hl_run_wait(rb, 30000), HL_OK);
  CHECK_STR(hl_run_answer(rb) ? hl_run_answer(rb) : "", "other done");
  hl_tool_complete(atomic_exchange(&parked, NULL), HL_OK, cJSON_CreateString("ok"), NULL);
  CHECK_INT(hl_run_wait(ra, 60000), HL_OK);
  CHECK_STR(hl_run_answer(ra) ? hl_run_answer(ra) : "", "unparked");
  hl_run_free(ra), hl_run_free(rb);
  hl_session_free(sa), hl_session_free(sb);
  hl_agent_unref(a), hl_agent_unref(b);
  hl_provider_unref(am), hl_provider_unref(bm);
}

/* ---- a cancelled run's timed call waiting in the pool's queue ---- */

static atomic_int gate_in, gate_open;

static hl_status gate_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  atomic_store(&gate_in, 1);
  /* Ignores the run's cancellation on purpose: it holds its thread. */
  for (int i = 0; i < 120000 && !atomic_load(&gate_open); i++) sleep_ms(1);
  *result = cJSON_CreateString("through");
  return HL_OK;
}

typedef struct blocked_run {
  hl_agent *agent;
  hl_status st;
} blocked_run;

static void *run_blocked(void *arg) {
  blocked_run *b = arg;
  char *answer = NULL;
  b->st = hl_agent_run(b->agent, NULL, "go", &answer);
  hl_free(answer);
  return NULL;
}

static void cancelled_timed_call_leaves_the_queue(void) {
  /* Pool of 1: run A's tool holds the only thread and ignores cancels. */
  hl_provider *am, *bm;
  hl_agent *a = scripted_agent("holder", &am);
  fx_add(a, hl_tool_new("gate", "Hold the thread.", gate_fn, NULL));
  hl_scripted_push_tool_call(am, "g1", "gate", "{}");
  hl_scripted_push_text(am, "held");
  hl_run *ra = NULL;
  REQUIRE(hl_run_start(a, NULL, "hold", NULL, &ra) == HL_OK);
  for (int i = 0; i < 6000 && !atomic_load(&gate_in); i++) sleep_ms(10);
  REQUIRE(atomic_load(&gate_in));
  /* Run B (blocking, on its own thread) calls a timed tool, whose job
   * can only wait in the queue behind A's. */
  hl_agent *b = scripted_agent("queued", &bm);
  fx_add(b, echo_tool("echo_timed", 60000));
  hl_scripted_push_tool_call(bm, "q1", "echo_timed", "{\"text\":\"z\"}");
  hl_scripted_push_text(bm, "never");
  blocked_run br = {.agent = b, .st = HL_PENDING};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, run_blocked, &br) == 0);
  sleep_ms(300);
  hl_agent_cancel(b);
  /* B ends without waiting for A's thread or its tool's time limit. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 30;
  int joined = pthread_timedjoin_np(th, NULL, &until);
  CHECK_INT(joined, 0);
  CHECK(!atomic_load(&gate_open)); /* A still holds the pool's thread */
  atomic_store(&gate_open, 1);
  if (joined != 0) pthread_join(th, NULL);
  CHECK_INT(br.st, HL_ERR_CANCELLED);
  CHECK_INT(hl_run_wait(ra, 60000), HL_OK);
  hl_run_free(ra);
  hl_agent_unref(a), hl_agent_unref(b);
  hl_provider_unref(am), hl_provider_unref(bm);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(timed_tool_child_nests_under_the_call);
  RUN(deferred_tool_thread_child_interrupt_resumes);
  RUN(timed_tool_child_interrupt_resumes);
  RUN(work_parallel_runs_each_index_once);
  RUN(work_parallel_indexes_all_meet);
  RUN(work_parallel_inside_a_tool_keeps_the_call);
  RUN(held_jobs_run_once_each_when_released);
  RUN(quick_batches_wake_no_worker);
  RUN(deferred_group_slow_waiter_gets_helpers);
  RUN(slow_batch_calls_still_run_at_once);
  RUN(quick_tool_turned_slow_still_meets);
  RUN(slow_first_call_wakes_helpers_at_once);
  RUN(nested_work_ends_on_this_pool);    /* the default size */
  RUN(cancel_tree_on_this_pool);
  CHECK_INT(hl_set_worker_threads(2), HL_OK);
  RUN(nested_work_ends_on_this_pool);
  RUN(cancel_tree_on_this_pool);
  CHECK_INT(hl_set_worker_threads(1), HL_OK);
  RUN(nested_work_ends_on_this_pool);
  RUN(cancel_tree_on_this_pool);
  RUN(pending_tool_holds_no_worker);
  RUN(cancelled_timed_call_leaves_the_queue);
  return CHECK_EXIT();
}
