/*
 * tests/plugins/test_rate_limiter.c - token buckets per user, model and
 * tool, shared by all runs and threads: refuse (the model sees a result),
 * abort, wait (the rate holds), and 8 threads sharing one bucket take
 * exactly its tokens. Also in suite 'concurrency' (TSan in make test).
 */
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "fixture.h"

static hl_rate_limiter *rl_from(const char *json)
{
  cJSON *o = cJSON_Parse(json);
  hl_rate_limiter *rl = hl_rate_limiter_new(o);
  cJSON_Delete(o);
  return rl;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One model response with `n` calls of `tool`, then "done". */
static hl_provider *calls_model(const char *tool, int n)
{
  hl_provider *p = hl_scripted_new();
  hl_response *r = hl_response_new();
  for (int i = 0; i < n; i++) {
    char id[16];
    snprintf(id, sizeof id, "c%d", i);
    hl_message_add_tool_call(r->message, id, tool, NULL);
  }
  r->finish = HL_FINISH_TOOL_CALLS;
  hl_scripted_push(p, r);
  hl_scripted_push_text(p, "done");
  return p;
}

static void refuse_gives_the_model_a_result(void)
{
  hl_provider *p = calls_model("search", 4);
  hl_agent *agent = fx_agent("a", p);
  hl_agent_set_parallel_tools(agent, 1);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("search", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_rate_limiter *rl =
      rl_from("{\"tools\": {\"search\": {\"rate\": 0.001, \"burst\": 2}}, \"policy\": \"refuse\"}");
  REQUIRE(rl && hl_rate_limiter_install(rl, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "go", "done");
  CHECK_INT(atomic_load(&c.calls), 2);
  CHECK_INT(hl_rate_limiter_limited(rl), 2);
  char *results = fx_request_tool_results(p, 1);
  CHECK_INT(fx_count_lines(results, "\"error\":\"rate_limited\""), 2);
  CHECK_CONTAINS(results, "rate limit of bucket tool:search reached");
  CHECK_CONTAINS(results, "\"retry_after_ms\":");
  free(results);
  hl_rate_limiter_unref(rl);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void abort_per_user_bucket(void)
{
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < 4; i++)
    hl_scripted_push_text(p, "hi");
  hl_agent *agent = fx_agent("a", p);
  hl_rate_limiter *rl = rl_from("{\"user\": {\"rate\": 0.001}, \"policy\": \"abort\"}");
  REQUIRE(rl && hl_rate_limiter_install(rl, hl_agent_hooks(agent)) == HL_OK);
  hl_session *alice = hl_session_new("app", "alice", NULL);
  hl_session *bob = hl_session_new("app", "bob", NULL);
  CHECK_RUN(agent, alice, "one", "hi");
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, alice, "two", &ans), HL_ERR_ABORTED);
  CHECK_CONTAINS(hl_last_error(), "rate limit of bucket user:alice reached");
  CHECK_RUN(agent, bob, "one", "hi");   /* another user, another bucket */
  CHECK_INT(hl_scripted_request_count(p), 2);
  hl_session_free(alice);
  hl_session_free(bob);
  hl_rate_limiter_unref(rl);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* 5 model calls at 20 per second with a burst of 1: at least 4/20 s. */
static void wait_holds_the_rate(void)
{
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < 4; i++)
    hl_scripted_push_tool_call(p, "c", "search", "{}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("a", p);
  fx_counter c = {0};
  hl_tool *t = fx_echo_tool("search", &c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_rate_limiter *rl = rl_from("{\"model\": {\"rate\": 20, \"burst\": 1}}");
  REQUIRE(rl && hl_rate_limiter_install(rl, hl_agent_hooks(agent)) == HL_OK);
  double t0 = now_s();
  CHECK_RUN(agent, NULL, "go", "done");
  double took = now_s() - t0;
  CHECK(took >= 0.19);
  CHECK(hl_rate_limiter_waited(rl) >= 1);
  CHECK_INT(hl_rate_limiter_limited(rl), 0);
  hl_rate_limiter_unref(rl);

  /* Past max_wait_ms the run aborts instead of waiting. */
  hl_scripted_push_text(p, "x");
  hl_scripted_push_text(p, "y");
  rl = rl_from("{\"model\": {\"rate\": 0.01}, \"max_wait_ms\": 50}");
  hl_hooks_remove(hl_agent_hooks(agent), "rate_limiter");
  REQUIRE(rl && hl_rate_limiter_install(rl, hl_agent_hooks(agent)) == HL_OK);
  CHECK_RUN(agent, NULL, "first", "x");
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "second", &ans), HL_ERR_ABORTED);
  CHECK_CONTAINS(hl_last_error(), "bucket model:default");
  hl_rate_limiter_unref(rl);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

typedef struct worker {
  hl_rate_limiter *rl;
  fx_counter calls;
  int ok_runs;
} worker;

/* Each thread: its own agent and model, 5 tool calls in one run. */
static void *tool_worker(void *arg)
{
  worker *w = arg;
  hl_provider *p = calls_model("search", 5);
  hl_agent *agent = fx_agent("w", p);
  hl_agent_set_parallel_tools(agent, 2);
  hl_tool *t = fx_echo_tool("search", &w->calls);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  if (hl_rate_limiter_install(w->rl, hl_agent_hooks(agent)) == HL_OK) {
    char *ans = NULL;
    if (hl_agent_run(agent, NULL, "go", &ans) == HL_OK)
      w->ok_runs++;
    hl_free(ans);
  }
  hl_agent_unref(agent);
  hl_provider_unref(p);
  return NULL;
}

static void eight_threads_share_one_bucket_exactly(void)
{
  hl_rate_limiter *rl =
      rl_from("{\"tool\": {\"rate\": 0.001, \"burst\": 20}, \"policy\": \"refuse\"}");
  REQUIRE(rl);
  worker w[8];
  pthread_t th[8];
  for (int i = 0; i < 8; i++) {
    w[i] = (worker){.rl = rl};
    atomic_init(&w[i].calls.calls, 0);
    pthread_create(&th[i], NULL, tool_worker, &w[i]);
  }
  int ran = 0, ok = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    ran += atomic_load(&w[i].calls.calls);
    ok += w[i].ok_runs;
  }
  CHECK_INT(ok, 8);
  CHECK_INT(ran, 20);                           /* the burst, not one more */
  CHECK_INT(hl_rate_limiter_limited(rl), 40 - 20);
  hl_rate_limiter_unref(rl);
}

typedef struct run_worker {
  hl_rate_limiter *rl;
  int ok;
} run_worker;

static void *run_worker_fn(void *arg)
{
  run_worker *w = arg;
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < 3; i++)
    hl_scripted_push_text(p, "ok");
  hl_agent *agent = fx_agent("r", p);
  hl_session *s = hl_session_new("app", "shared-user", NULL);
  if (hl_rate_limiter_install(w->rl, hl_agent_hooks(agent)) == HL_OK)
    for (int i = 0; i < 3; i++) {
      char *ans = NULL;
      if (hl_agent_run(agent, s, "hi", &ans) == HL_OK)
        w->ok++;
      hl_free(ans);
    }
  hl_session_free(s);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  return NULL;
}

/* 24 runs of one user from 8 threads, 50 per second, burst 1: everyone
 * gets through (wait), and it takes at least 23/50 s. */
static void eight_threads_wait_their_turn(void)
{
  hl_rate_limiter *rl = rl_from("{\"user\": {\"rate\": 50, \"burst\": 1}, \"max_wait_ms\": 60000}");
  REQUIRE(rl);
  run_worker w[8] = {{0}};
  pthread_t th[8];
  double t0 = now_s();
  for (int i = 0; i < 8; i++) {
    w[i].rl = rl;
    pthread_create(&th[i], NULL, run_worker_fn, &w[i]);
  }
  int ok = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    ok += w[i].ok;
  }
  double took = now_s() - t0;
  CHECK_INT(ok, 24);
  CHECK(took >= 0.45);
  CHECK(hl_rate_limiter_waited(rl) >= 20);
  hl_rate_limiter_unref(rl);
}

static void bad_options(void)
{
  CHECK(rl_from("{\"tool\": {\"rate\": 0}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.tool.rate: expected a number of tokens per second > 0");
  CHECK(rl_from("{\"tools\": {\"x\": {\"rate\": 1, \"burst\": 0.5}}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.tools.x.burst: expected a number >= 1");
  CHECK(rl_from("{\"user\": {\"rate\": 1, \"brust\": 2}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.user.brust: unknown option");
  CHECK(rl_from("{\"policy\": \"drop\"}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.policy: expected \"wait\", \"refuse\" or \"abort\"");
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load_text(h, "rate_limiter", "{\"tool\": {\"rate\": 5}}", NULL), HL_OK);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_TOOL), 1);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_MODEL), 0);
  hl_hooks_free(h);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  RUN(refuse_gives_the_model_a_result);
  RUN(abort_per_user_bucket);
  RUN(wait_holds_the_rate);
  RUN(eight_threads_share_one_bucket_exactly);
  RUN(eight_threads_wait_their_turn);
  RUN(bad_options);
  return CHECK_EXIT();
}
