/*
 * tests/hooks/test_loop.c - the agent loop: model -> tools -> answer,
 * parallel tool calls, turn limit, cancellation, usage, sessions, tool
 * errors the model sees, nested tool calls through the hooks.
 */
#include <semaphore.h>

#include "fixture.h"
#include "agent/agent_internal.h" /* internal: keeping a context past its run */

/* ------------------------------------------------------------------ */

static void loop_model_calls_two_tools_then_answers(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p,
      "{\"responses\":[{\"text\":\"let me compute\",\"tool_calls\":["
      "{\"id\":\"c1\",\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":3}},"
      "{\"id\":\"c2\",\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}]},"
      "{\"text\":\"sum and echo done\"}]}") == HL_OK);
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);

  CHECK_RUN(a, NULL, "compute please", "sum and echo done");

  /* What the model saw */
  REQUIRE(hl_scripted_request_count(p) == 2);
  hl_request *r0 = hl_scripted_request(p, 0);
  CHECK_STR(system_text(r0), "You are a test agent.");
  CHECK_INT(r0->n_tools, 2);
  CHECK_STR(r0->tools[0].name, "add");
  CHECK_STR(r0->tools[1].name, "echo");
  CHECK_INT(r0->messages.count, 2);
  hl_request_free(r0);
  hl_request *r1 = hl_scripted_request(p, 1);
  REQUIRE(r1->messages.count == 4); /* system, user, assistant, tool */
  const hl_message *tool_msg = r1->messages.items[3];
  CHECK_INT(tool_msg->role, HL_ROLE_TOOL);
  REQUIRE(tool_msg->n_parts == 2);
  CHECK_STR(tool_msg->parts[0].id, "c1");
  CHECK_STR(tool_msg->parts[0].text, "5");
  CHECK_STR(tool_msg->parts[1].id, "c2");
  CHECK_STR(tool_msg->parts[1].text, "hi");
  hl_request_free(r1);

  /* The session holds the whole exchange (without the system message) */
  const hl_messages *hist = hl_session_messages(hl_agent_session(a));
  REQUIRE(hist->count == 4);
  CHECK_INT(hist->items[0]->role, HL_ROLE_USER);
  CHECK_INT(hist->items[1]->role, HL_ROLE_ASSISTANT);
  CHECK_INT(hl_message_tool_call_count(hist->items[1]), 2);
  CHECK_INT(hist->items[2]->role, HL_ROLE_TOOL);
  CHECK_INT(hist->items[3]->role, HL_ROLE_ASSISTANT);

  /* Events in order for one turn */
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "turn_start", NULL, NULL), 2);
  CHECK_INT(event_count(events, "turn_end", NULL, NULL), 2);
  CHECK_INT(event_count(events, "tool_end", NULL, NULL), 2);
  CHECK_INT(event_count(events, "response", NULL, NULL), 2);
  const cJSON *te = event_nth(events, "turn_end", 0);
  const cJSON *data = hl_json_get(te, "data");
  CHECK_INT(cJSON_GetArraySize(data), 2);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(data, 0), "content"), "5");
  const cJSON *trace = event_nth(events, "trace_complete", 0);
  CHECK_INT((int)hl_json_get_number(trace, "turns", 0), 2);
  const char *first = hl_json_get_string(cJSON_GetArrayItem(events, 0), "type");
  const char *last = hl_json_get_string(cJSON_GetArrayItem(events, cJSON_GetArraySize(events) - 1), "type");
  CHECK_STR(first, "agent_start");
  CHECK_STR(last, "trace_complete");
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Parallel tool calls                                                 */
/* ------------------------------------------------------------------ */

/* A rendezvous: every call waits until `expected` calls are inside at the
 * same time (or gives up after 10 s, which then fails the test through
 * the recorded maximum, not through timing). Call "0" also waits until
 * the others have returned, so results complete in reverse order. */
typedef struct rendezvous {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int inside, max_inside, finished, expected;
  int ends; /* TOOL_END events seen */
} rendezvous;

static int count_tool_end(const hl_event *ev, void *ud) {
  (void)ev;
  rendezvous *r = ud;
  pthread_mutex_lock(&r->lock);
  r->ends++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  return 0;
}

static hl_status rendezvous_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  rendezvous *r = ud;
  const char *id = hl_json_get_string(args, "id");
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&r->lock);
  r->inside++;
  if (r->inside > r->max_inside) r->max_inside = r->inside;
  pthread_cond_broadcast(&r->cond);
  while (r->inside < r->expected && r->finished == 0)
    if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != 0) break;
  if (id && strcmp(id, "0") == 0)
    while (r->ends < r->expected - 1)
      if (pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != 0) break;
  r->inside--;
  r->finished++;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  char buf[32];
  snprintf(buf, sizeof buf, "done %s", id ? id : "?");
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static void parallel_tool_calls_overlap_and_keep_model_order(void) {
  rendezvous r = {.expected = 3};
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.cond, NULL);
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p,
      "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"c0\",\"name\":\"meet\",\"arguments\":{\"id\":\"0\"}},"
      "{\"id\":\"c1\",\"name\":\"meet\",\"arguments\":{\"id\":\"1\"}},"
      "{\"id\":\"c2\",\"name\":\"meet\",\"arguments\":{\"id\":\"2\"}}]},"
      "{\"text\":\"met\"}]}") == HL_OK);
  hl_agent *a = make_agent("root", p);
  hl_tool *meet = hl_tool_new("meet", "Meet the others.", rendezvous_fn, &r);
  hl_tool_param(meet, "id", "string", "who", true);
  hl_agent_add_tool(a, meet);
  hl_tool_unref(meet);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_observer_ops ops = {.size = sizeof ops, .tool_end = count_tool_end};
  hl_observer *counter = hl_observer_new_ops(&ops, &r);
  hl_agent_add_observer(a, counter);
  hl_observer_unref(counter);

  char *answer = NULL;
  CHECK_RUN(a, NULL, "meet", "met");
  CHECK_INT(r.max_inside, 3); /* all three were running at once */
  hl_request *r1 = hl_scripted_request(p, 1);
  const hl_message *res = last_message(r1);
  REQUIRE(res && res->n_parts == 3);
  for (int i = 0; i < 3; i++) {
    char want_id[8], want_text[16];
    snprintf(want_id, sizeof want_id, "c%d", i);
    snprintf(want_text, sizeof want_text, "done %d", i);
    CHECK_STR(res->parts[i].id, want_id);
    CHECK_STR(res->parts[i].text, want_text);
  }
  hl_request_free(r1);
  /* Call 0 finished last: the order above is the model's, not completion's */
  cJSON *events = hl_observer_collected(obs);
  const cJSON *last_end = event_nth(events, "tool_end", 2);
  CHECK_STR(hl_json_get_string(last_end, "call_id"), "c0");
  cJSON_Delete(events);

  /* parallel_tools = 1: one after another */
  pthread_mutex_lock(&r.lock);
  r.inside = r.max_inside = 0;
  pthread_mutex_unlock(&r.lock);
  hl_agent_set_parallel_tools(a, 1);
  hl_scripted_load_json(p,
      "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"c1\",\"name\":\"meet\",\"arguments\":{\"id\":\"1\"}},"
      "{\"id\":\"c2\",\"name\":\"meet\",\"arguments\":{\"id\":\"2\"}}]},"
      "{\"text\":\"met alone\"}]}");
  /* r.finished is 3 now: nobody waits for a partner (sequential calls
   * would never meet) */
  REQUIRE(hl_agent_run(a, NULL, "meet alone", &answer) == HL_OK);
  CHECK_INT(r.max_inside, 1);
  hl_free(answer);
  pthread_mutex_destroy(&r.lock);
  pthread_cond_destroy(&r.cond);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* More calls in one response than the default parallelism, with as many
 * threads allowed: every call still runs at the same time as the others
 * (the helpers beyond the default's are on the heap, tool_exec.c). */
static void more_parallel_calls_than_the_default_all_meet(void) {
  enum { N = 12 };
  rendezvous r = {.expected = N};
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.cond, NULL);
  char script[2048];
  size_t len = (size_t)snprintf(script, sizeof script, "{\"responses\":[{\"tool_calls\":[");
  for (int i = 1; i <= N; i++)
    len += (size_t)snprintf(script + len, sizeof script - len,
                            "%s{\"id\":\"c%d\",\"name\":\"meet\",\"arguments\":{\"id\":\"%d\"}}",
                            i > 1 ? "," : "", i, i);
  snprintf(script + len, sizeof script - len, "]},{\"text\":\"all met\"}]}");
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p, script) == HL_OK);
  hl_agent *a = make_agent("root", p);
  hl_tool *meet = hl_tool_new("meet", "Meet the others.", rendezvous_fn, &r);
  hl_tool_param(meet, "id", "string", "who", true);
  hl_agent_add_tool(a, meet);
  hl_tool_unref(meet);
  CHECK_INT(hl_agent_set_parallel_tools(a, N), HL_OK);
  int pool_before = hl_worker_threads();
  CHECK_INT(hl_set_worker_threads(N + 4), HL_OK);
  CHECK_RUN(a, NULL, "meet", "all met");
  CHECK_INT(r.max_inside, N);
  CHECK_INT(r.finished, N);
  hl_set_worker_threads(pool_before); /* the later tests' pool, as it was */
  pthread_mutex_destroy(&r.lock);
  pthread_cond_destroy(&r.cond);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */

static void max_turns_exceeded_fails_with_max_turns(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p,
      "{\"fallback\":{\"tool_calls\":[{\"id\":\"c\",\"name\":\"echo\","
      "\"arguments\":{\"text\":\"again\"}}]}}") == HL_OK);
  hl_agent *a = make_agent("looper", p);
  hl_agent_set_max_turns(a, 3);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "loop", &answer), HL_ERR_MAX_TURNS);
  CHECK(answer == NULL);
  CHECK_CONTAINS(hl_last_error(), "turn limit (3)");
  CHECK_CONTAINS(hl_last_error(), "looper");
  CHECK_INT(hl_scripted_request_count(p), 3);
  /* A failed run leaves the session as it was */
  CHECK_INT(hl_session_messages(hl_agent_session(a))->count, 0);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Cancellation                                                        */
/* ------------------------------------------------------------------ */

typedef struct cancel_state {
  sem_t model_called;
  hl_agent *agent;
} cancel_state;

static int signal_lm_start(const hl_event *ev, void *ud) {
  cancel_state *c = ud;
  sem_post(&c->model_called);
  (void)ev;
  return 0;
}

static void *canceller(void *arg) {
  cancel_state *c = arg;
  sem_wait(&c->model_called);
  hl_agent_cancel(c->agent);
  return NULL;
}

static void cancel_from_another_thread_stops_run(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_load_json(p, "{\"fallback\":{\"text\":\"an answer\"}}");
  hl_scripted_set_delay_ms(p, 60000); /* the run would take a minute */
  hl_agent *a = make_agent("root", p);
  cancel_state c = {.agent = a};
  sem_init(&c.model_called, 0, 0);
  hl_observer_ops ops = {.size = sizeof ops, .lm_start = signal_lm_start};
  hl_observer *obs = hl_observer_new_ops(&ops, &c);
  hl_agent_add_observer(a, obs);
  pthread_t t;
  pthread_create(&t, NULL, canceller, &c);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "slow question", &answer), HL_ERR_CANCELLED);
  CHECK(answer == NULL);
  pthread_join(t, NULL);

  /* A run started after the cancel is not affected */
  hl_scripted_set_delay_ms(p, 0);
  CHECK_RUN(a, NULL, "next question", "an answer");
  sem_destroy(&c.model_called);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* A tool that waits for cancellation, as long-running tools should. */
static hl_status wait_for_cancel_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)result;
  sem_post(ud);
  for (int i = 0; i < 20000 && !hl_context_cancelled(ctx); i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (hl_context_cancelled(ctx)) return hl_fail(HL_ERR_CANCELLED, "tool saw the cancel");
  return hl_fail(HL_ERR_EXECUTION_FAILED, "never cancelled");
}

typedef struct cancel_tool_state {
  sem_t started;
  hl_agent *agent;
} cancel_tool_state;

static void *cancel_when_tool_runs(void *arg) {
  cancel_tool_state *c = arg;
  sem_wait(&c->started);
  hl_agent_cancel(c->agent);
  return NULL;
}

static void cancel_reaches_tool_of_child_agent(void) {
  /* root -> helper (agent as tool) -> wait tool; cancelling root
   * cancels the helper's tool. */
  cancel_tool_state c;
  sem_init(&c.started, 0, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "helper", "{\"input\":\"wait\"}");
  hl_scripted_push_text(p, "unreachable");
  hl_provider *hp = hl_scripted_new();
  hl_scripted_push_tool_call(hp, "h1", "wait", "{}");
  hl_scripted_push_text(hp, "unreachable");
  hl_agent *root = make_agent("root", p);
  hl_agent *helper = make_agent("helper", hp);
  hl_tool *wait = hl_tool_new("wait", "Wait.", wait_for_cancel_fn, &c.started);
  hl_agent_add_tool(helper, wait);
  hl_tool_unref(wait);
  hl_tool *ht = hl_agent_as_tool(helper, "Helps.", NULL);
  hl_agent_add_tool(root, ht);
  hl_tool_unref(ht);
  c.agent = root;
  pthread_t t;
  pthread_create(&t, NULL, cancel_when_tool_runs, &c);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(root, NULL, "go", &answer), HL_ERR_CANCELLED);
  pthread_join(t, NULL);
  CHECK_INT(hl_scripted_request_count(p), 1);
  CHECK_INT(hl_scripted_request_count(hp), 1);
  sem_destroy(&c.started);
  hl_agent_unref(root);
  hl_agent_unref(helper);
  hl_provider_unref(p);
  hl_provider_unref(hp);
}

/* ------------------------------------------------------------------ */

static void usage_is_summed_per_run(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p,
      "{\"responses\":["
      "{\"tool_calls\":[{\"id\":\"c1\",\"name\":\"echo\",\"arguments\":{\"text\":\"a\"}}],"
      "\"usage\":{\"input_tokens\":3,\"output_tokens\":5}},"
      "{\"text\":\"ok\",\"usage\":{\"input_tokens\":7,\"output_tokens\":11}},"
      "{\"text\":\"second run\",\"usage\":{\"input_tokens\":100,\"output_tokens\":1}}]}") == HL_OK);
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "go", &answer) == HL_OK);
  hl_free(answer);
  hl_usage u = hl_agent_last_usage(a);
  CHECK_INT(u.input_tokens, 10);
  CHECK_INT(u.output_tokens, 16);
  cJSON *events = hl_observer_collected(obs);
  const cJSON *end = event_nth(events, "agent_end", 0);
  CHECK_INT((int)hl_json_get_number(hl_json_get(end, "usage"), "input_tokens", -1), 10);
  CHECK_INT((int)hl_json_get_number(hl_json_get(end, "usage"), "output_tokens", -1), 16);
  const cJSON *trace = event_nth(events, "trace_complete", 0);
  CHECK_INT((int)hl_json_get_number(hl_json_get(trace, "usage"), "output_tokens", -1), 16);
  cJSON_Delete(events);
  /* Per run: the next run starts from zero */
  REQUIRE(hl_agent_run(a, NULL, "again", &answer) == HL_OK);
  hl_free(answer);
  u = hl_agent_last_usage(a);
  CHECK_INT(u.input_tokens, 100);
  CHECK_INT(u.output_tokens, 1);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

static hl_status run_on_busy_session(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  hl_agent *other = ud;
  char *answer = NULL;
  hl_status st = hl_agent_run(other, hl_context_session(ctx), "intrude", &answer);
  *result = cJSON_CreateString(st == HL_ERR_STATE ? "busy" : "not busy");
  hl_free(answer);
  return HL_OK;
}

static void session_continues_across_runs(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "Hello Ann");
  hl_scripted_push_text(p, "Your name is Ann");
  hl_agent *a = make_agent("root", p);
  hl_session *s = hl_session_new("app", "ann", "s-1");
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, s, "my name is Ann", &answer) == HL_OK);
  hl_free(answer);
  CHECK_RUN(a, s, "what is my name?", "Your name is Ann");
  hl_request *r1 = hl_scripted_request(p, 1);
  REQUIRE(r1->messages.count == 4); /* system, user, assistant, user */
  char *t1 = hl_message_text(r1->messages.items[1]);
  char *t2 = hl_message_text(r1->messages.items[2]);
  char *t3 = hl_message_text(r1->messages.items[3]);
  CHECK_STR(t1, "my name is Ann");
  CHECK_STR(t2, "Hello Ann");
  CHECK_STR(t3, "what is my name?");
  hl_free(t1), hl_free(t2), hl_free(t3);
  hl_request_free(r1);
  CHECK_INT(hl_session_messages(s)->count, 4);
  /* The agent's own session was not touched */
  CHECK_INT(hl_session_messages(hl_agent_session(a))->count, 0);

  /* One run at a time per session */
  hl_agent *other = make_agent("other", p);
  hl_tool *intrude = hl_tool_new("intrude", "Run another agent on this session.",
                                 run_on_busy_session, other);
  hl_agent_add_tool(a, intrude);
  hl_tool_unref(intrude);
  hl_scripted_push_tool_call(p, "c1", "intrude", "{}");
  hl_scripted_load_json(p, "{\"responses\":[{\"text\":\"{{result}}\"}]}");
  REQUIRE(hl_agent_run(a, s, "intrude", &answer) == HL_OK);
  hl_free(answer);
  hl_request *r3 = hl_scripted_request(p, 3);
  CHECK_STR(last_message(r3)->parts[0].text, "busy");
  hl_request_free(r3);
  hl_agent_unref(other);
  hl_session_free(s);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Tool errors the model sees                                          */
/* ------------------------------------------------------------------ */

static atomic_int sleepy_freed;
static void note_sleepy_freed(void *ud) {
  (void)ud;
  atomic_store(&sleepy_freed, 1);
}

/* Sleeps past its 20 ms limit. It does not touch ctx: a timed-out
 * function keeps running on a detached thread after the run returned
 * (tool.h), and only a thread that holds a context reference may. */
static hl_status sleepy_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  struct timespec ts = {0, 200 * 1000000};
  nanosleep(&ts, NULL);
  *result = cJSON_CreateString("woke up");
  return HL_OK;
}

static void tool_errors_become_results_the_model_sees(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p,
      "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"c1\",\"name\":\"nope\",\"arguments\":{}},"
      "{\"id\":\"c2\",\"name\":\"add\",\"arguments\":{\"a\":\"x\",\"b\":1}},"
      "{\"id\":\"c3\",\"name\":\"fail\",\"arguments\":{}},"
      "{\"id\":\"c4\",\"name\":\"sleepy\",\"arguments\":{}},"
      "{\"id\":\"c5\",\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":1}}]},"
      "{\"text\":\"I see the errors\"}]}") == HL_OK);
  hl_agent *a = make_agent("root", p);
  hl_tool *fail = make_fail_tool();
  hl_agent_add_tool(a, fail);
  hl_tool_unref(fail);
  hl_tool *sleepy = hl_tool_new("sleepy", "Sleeps.", sleepy_fn, NULL);
  hl_tool_set_timeout_ms(sleepy, 20);
  atomic_store(&sleepy_freed, 0);
  hl_tool_set_free_fn(sleepy, note_sleepy_freed);
  hl_agent_add_tool(a, sleepy);
  hl_tool_unref(sleepy);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);

  CHECK_RUN(a, NULL, "try everything", "I see the errors");
  hl_request *r1 = hl_scripted_request(p, 1);
  const hl_message *res = last_message(r1);
  REQUIRE(res && res->n_parts == 5);
  CHECK(res->parts[0].is_error);
  CHECK_CONTAINS(res->parts[0].text, "NotFound");
  CHECK_CONTAINS(res->parts[0].text, "nope");
  CHECK(res->parts[1].is_error);
  CHECK_CONTAINS(res->parts[1].text, "InvalidArguments");
  CHECK_CONTAINS(res->parts[1].text, "$.a");
  CHECK(res->parts[2].is_error);
  CHECK_CONTAINS(res->parts[2].text, "ExecutionFailed");
  CHECK_CONTAINS(res->parts[2].text, "boom: the disk is on fire");
  CHECK(res->parts[3].is_error);
  CHECK_CONTAINS(res->parts[3].text, "Timeout");
  CHECK(!res->parts[4].is_error);
  CHECK_STR(res->parts[4].text, "2");
  hl_request_free(r1);
  cJSON *events = hl_observer_collected(obs);
  const cJSON *end = event_nth(events, "tool_end", 0);
  CHECK(end != NULL);
  CHECK_INT(event_count(events, "tool_end", NULL, NULL), 5);
  int errors = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    const char *type = hl_json_get_string(ev, "type");
    if (type && strcmp(type, "tool_end") == 0 && !hl_json_get_bool(ev, "success", true)) errors++;
  }
  CHECK_INT(errors, 4);
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
  /* The abandoned sleepy call holds the last tool reference; let it end
   * before the test does, so no thread is left running at exit. */
  for (int i = 0; i < 5000 && !atomic_load(&sleepy_freed); i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  CHECK(atomic_load(&sleepy_freed));
  struct timespec grace = {0, 20000000};
  nanosleep(&grace, NULL);
}

/* ------------------------------------------------------------------ */
/* hl_context_call_tool goes through the hooks                         */
/* ------------------------------------------------------------------ */

static hl_status double_add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ud;
  cJSON *inner = NULL;
  hl_status st = hl_context_call_tool(ctx, "add", args, &inner);
  if (st != HL_OK) return st;
  *result = cJSON_CreateNumber(2 * inner->valuedouble);
  cJSON_Delete(inner);
  return HL_OK;
}

static hl_hook_action plus_one_on_a(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx, (void)result, (void)ud;
  if (strcmp(call->name, "add") != 0 || strncmp(call->id, "nested-", 7) != 0) return HL_HOOK_CONTINUE;
  cJSON *a = cJSON_GetObjectItem(*args, "a");
  if (a) cJSON_SetNumberValue(a, a->valuedouble + 1);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action deny_add(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx, (void)args, (void)result, (void)ud;
  if (strcmp(call->name, "add") != 0) return HL_HOOK_CONTINUE;
  return hl_hook_abort("add is not allowed here");
}

static void context_call_tool_runs_through_the_hooks(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "double_add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = make_agent("root", p);
  hl_tool *t = hl_tool_new("double_add", "2*(a+b)", double_add_fn, NULL);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "plus-one", HL_HOOK_OBSERVE, plus_one_on_a, NULL);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "go", &answer) == HL_OK);
  hl_free(answer);
  hl_request *r1 = hl_scripted_request(p, 1);
  CHECK_STR(last_message(r1)->parts[0].text, "8"); /* 2 * ((1+1) + 2) */
  hl_request_free(r1);
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "tool_start", "tool", "add"), 1);
  cJSON_Delete(events);

  /* An abort in the nested call aborts the whole run */
  hl_hooks_add_before_tool(hl_agent_hooks(a), "deny", HL_HOOK_DECIDE, deny_add, NULL);
  hl_scripted_push_tool_call(p, "c1", "double_add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "never");
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "add is not allowed here");
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */

static void misc_configuration_and_bad_input(void) {
  char *answer = (char *)"untouched";
  hl_agent *a = hl_agent_new("no-provider");
  REQUIRE(a != NULL);
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_STATE);
  CHECK(answer == NULL);
  CHECK_INT(hl_agent_run(NULL, NULL, "hi", &answer), HL_ERR_INVALID);
  CHECK_INT(hl_agent_run(a, NULL, NULL, &answer), HL_ERR_INVALID);
  CHECK(hl_agent_new("bad name!") == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(hl_agent_new("") == NULL);
  CHECK(hl_agent_new(NULL) == NULL);
  CHECK_INT(hl_hooks_add_before_model(hl_agent_hooks(a), "x", HL_HOOK_EDIT_REQUEST | HL_HOOK_DECIDE, NULL, NULL), HL_ERR_INVALID);
  CHECK(hl_provider_new(NULL, NULL) == NULL);

  /* output_key, model name, generation parameters reach the request */
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "stored answer");
  hl_agent_set_provider(a, p);
  hl_agent_set_model(a, "test-model");
  hl_agent_set_temperature(a, 0.5);
  hl_agent_set_max_tokens(a, 77);
  hl_agent_add_stop(a, "STOP");
  hl_agent_set_output_key(a, "last_answer");
  REQUIRE(hl_agent_run(a, NULL, "hi", &answer) == HL_OK);
  hl_free(answer);
  char *stored = hl_session_state_get_string(hl_agent_session(a), "last_answer");
  CHECK_STR(stored, "stored answer");
  hl_free(stored);
  hl_request *r = hl_scripted_request(p, 0);
  CHECK_STR(r->model, "test-model");
  CHECK(r->temperature == 0.5);
  CHECK_INT(r->max_tokens, 77);
  REQUIRE(r->n_stop == 1);
  CHECK_STR(r->stop[0], "STOP");
  CHECK_INT(r->messages.count, 1); /* no instruction: no system message */
  hl_request_free(r);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* A provider that breaks the rules: success without a response. */
static hl_status broken_complete(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_response **out) {
  (void)impl, (void)ctx, (void)req, (void)out;
  return HL_OK;
}
static const hl_provider_ops broken_ops = {
    .size = sizeof(hl_provider_ops), .name = "broken", .complete = broken_complete};

static void misbehaving_provider_is_an_error_not_a_crash(void) {
  hl_provider *p = hl_provider_new(&broken_ops, NULL);
  REQUIRE(p != NULL);
  CHECK_STR(hl_provider_name(p), "broken");
  hl_agent *a = make_agent("root", p);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_PROVIDER);
  CHECK_CONTAINS(hl_last_error(), "broken");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* A tool that keeps its context past the run, as a late (timed-out)
 * tool thread does through hl__ctx_retain(). */
static hl_status keep_ctx_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  hl__ctx_retain(ctx);
  *(hl_context **)ud = ctx;
  *result = cJSON_CreateString("kept");
  return HL_OK;
}

static void retained_context_is_inert_after_its_run(void) {
  hl_context *kept = NULL;
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "keep", "{}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = make_agent("root", p);
  hl_tool *t = hl_tool_new("keep", "Keeps ctx.", keep_ctx_fn, &kept);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, s, "go", &answer) == HL_OK);
  hl_free(answer);
  hl_session_free(s); /* the caller may free the session right away */
  REQUIRE(kept != NULL);
  CHECK(hl_context_cancelled(kept)); /* a finished run tells late work to stop */
  CHECK(hl_context_session(kept) == NULL);
  CHECK(hl_context_state_get(kept, "x") == NULL);
  cJSON *v = cJSON_CreateTrue();
  CHECK_INT(hl_context_state_set(kept, "x", v), HL_ERR_STATE);
  cJSON_Delete(v);
  cJSON *r = NULL;
  CHECK_INT(hl_context_call_tool(kept, "add", NULL, &r), HL_ERR_STATE);
  CHECK_INT(hl_context_run_agent(kept, a, "x", HL_RUN_ISOLATED, &answer), HL_ERR_STATE);
  CHECK_STR(hl_context_agent_name(kept), "root");
  CHECK_STR(hl_context_app_name(kept), "");
  hl_context_emit_custom(kept, "late", NULL); /* a no-op, not a crash */
  hl_agent_unref(a); /* the context still holds the agent */
  CHECK_STR(hl_context_branch(kept), "root");
  hl__ctx_release(kept);
  hl_provider_unref(p);
}

static void streaming_deltas_reach_token_callback_and_observers(void);

/* Setters refuse what they cannot use with a status and a message, and
 * leave the agent as it was (they used to clamp silently). The limit set
 * before the refused call is still the one a run hits. */
static void setters_refuse_bad_values_and_keep_the_agent_unchanged(void) {
  hl_provider *p = hl_scripted_new();
  hl_agent *a = make_agent("root", p);
  CHECK_INT(hl_agent_set_max_turns(a, 2), HL_OK);
  CHECK_INT(hl_agent_set_max_turns(a, 0), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "0 is not a turn limit");
  CHECK_INT(hl_agent_set_parallel_tools(a, -3), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_temperature(a, -0.5), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_temperature(a, __builtin_nan("")), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_temperature(a, -1), HL_OK); /* unset */
  CHECK_INT(hl_agent_set_max_tokens(a, -1), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_tool_choice(a, HL_TOOL_CHOICE_NAMED, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_tool_choice(a, (hl_tool_choice)99, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_stream(NULL, true), HL_ERR_INVALID);
  CHECK_INT(hl_agent_set_token_callback(NULL, NULL, NULL), HL_ERR_INVALID);
  for (int i = 0; i < 3; i++) hl_scripted_push_tool_call(p, "c", "add", "{\"a\":1,\"b\":1}");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "loop", &answer), HL_ERR_MAX_TURNS);
  CHECK_CONTAINS(hl_last_error(), "turn limit (2)");
  CHECK_INT(hl_scripted_request_count(p), 2);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

int main(void) {
  RUN(setters_refuse_bad_values_and_keep_the_agent_unchanged);
  RUN(loop_model_calls_two_tools_then_answers);
  RUN(parallel_tool_calls_overlap_and_keep_model_order);
  RUN(more_parallel_calls_than_the_default_all_meet);
  RUN(max_turns_exceeded_fails_with_max_turns);
  RUN(cancel_from_another_thread_stops_run);
  RUN(cancel_reaches_tool_of_child_agent);
  RUN(usage_is_summed_per_run);
  RUN(session_continues_across_runs);
  RUN(tool_errors_become_results_the_model_sees);
  RUN(context_call_tool_runs_through_the_hooks);
  RUN(misc_configuration_and_bad_input);
  RUN(misbehaving_provider_is_an_error_not_a_crash);
  RUN(retained_context_is_inert_after_its_run);
  RUN(streaming_deltas_reach_token_callback_and_observers);
  return CHECK_EXIT();
}

/* ------------------------------------------------------------------ */

static void collect_token(const char *delta, void *ud) {
  strncat(ud, delta, 255 - strlen(ud));
}

static void streaming_deltas_reach_token_callback_and_observers(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "one two three");
  hl_agent *a = make_agent("root", p);
  char tokens[256] = "";
  hl_agent_set_stream(a, true);
  hl_agent_set_token_callback(a, collect_token, tokens);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "count", &answer) == HL_OK);
  CHECK_STR(answer, "one two three");
  CHECK_STR(tokens, "one two three");
  hl_free(answer);
  hl_request *r = hl_scripted_request(p, 0);
  CHECK(r->stream);
  hl_request_free(r);
  cJSON *events = hl_observer_collected(obs);
  int deltas = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, events)
    if (hl_json_get_bool(ev, "delta", false)) deltas++;
  CHECK(deltas >= 3);
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}
