/*
 * tests/plugins/test_budget.c - tokens and cost per run, session and
 * user: abort once a limit is reached, switch to the fallback model, and
 * 8 threads charging one user's budget lose no charge. Also in suite
 * 'concurrency' (TSan in make test).
 */
#include <math.h>
#include <pthread.h>

#include "check.h"
#include "fixture.h"

static hl_budget *budget_from(const char *json)
{
  cJSON *o = cJSON_Parse(json);
  hl_budget *b = hl_budget_new(o);
  cJSON_Delete(o);
  return b;
}

/* A response with `text` (or a tool call when text is NULL) costing
 * `in` input and `out` output tokens. */
static void push(hl_provider *p, const char *text, int in, int out)
{
  hl_response *r = text ? hl_response_new_text(text) : hl_response_new();
  if (!text) {
    hl_message_add_tool_call(r->message, "c", "search", NULL);
    r->finish = HL_FINISH_TOOL_CALLS;
  }
  r->usage.input_tokens = in;
  r->usage.output_tokens = out;
  hl_scripted_push(p, r);
}

static hl_agent *agent_with_search(hl_provider *p, fx_counter *c)
{
  hl_agent *agent = fx_agent("spender", p);
  hl_tool *t = fx_echo_tool("search", c);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  return agent;
}

static void run_token_limit_aborts_the_next_call(void)
{
  hl_provider *p = hl_scripted_new();
  push(p, NULL, 6, 4);
  push(p, NULL, 6, 4);
  push(p, NULL, 6, 4);
  push(p, "never", 1, 1);
  fx_counter c = {0};
  hl_agent *agent = agent_with_search(p, &c);
  /* Without the estimate: only a limit already reached stops a call. */
  hl_budget *b = budget_from("{\"run\": {\"tokens\": 15}, \"estimate\": false}");
  REQUIRE(b && hl_budget_install(b, hl_agent_hooks(agent)) == HL_OK);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "search a lot", &ans), HL_ERR_ABORTED);
  CHECK_CONTAINS(hl_last_error(), "budget: run \"");
  CHECK_CONTAINS(hl_last_error(), "has spent 20 tokens");
  CHECK_CONTAINS(hl_last_error(), "limit: 15 tokens");
  CHECK_INT(hl_scripted_request_count(p), 2);   /* 10, 20 >= 15: the third never went out */
  CHECK_INT(hl_budget_exceeded(b), 1);
  /* A new run has a new run budget (the session and user have no limit):
   * it gets the third tool call (10 tokens) and then "never" (2). */
  CHECK_RUN(agent, NULL, "hi", "never");
  int64_t tokens = 0;
  /* Without a session of its own, the agent's session has the user "user". */
  CHECK(hl_budget_spent(b, "user", "user", &tokens, NULL));
  CHECK_INT(tokens, 32);
  hl_budget_unref(b);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* With the estimate (the default), the call that would pass the limit is
 * the one refused: 60 tokens spent, the next call may answer with up to
 * 50 (max_tokens) on a prompt of ~10, so with a limit of 100 it never
 * goes out; without the estimate it would, and the run would end at 120. */
static void the_call_that_would_pass_the_limit_is_refused(void)
{
  for (int with_estimate = 1; with_estimate >= 0; with_estimate--) {
    hl_provider *p = hl_scripted_new();
    push(p, NULL, 40, 20);
    push(p, "over", 40, 20);
    fx_counter c = {0};
    hl_agent *agent = agent_with_search(p, &c);
    hl_agent_set_max_tokens(agent, 50);
    hl_budget *b = budget_from(with_estimate ? "{\"run\": {\"tokens\": 100}}"
                                             : "{\"run\": {\"tokens\": 100}, \"estimate\": false}");
    REQUIRE(b && hl_budget_install(b, hl_agent_hooks(agent)) == HL_OK);
    char *ans = NULL;
    hl_status st = hl_agent_run(agent, NULL, "search once", &ans);
    if (with_estimate) {
      CHECK_INT(st, HL_ERR_ABORTED);
      CHECK_CONTAINS(hl_last_error(), "has spent 60 tokens");
      CHECK_CONTAINS(hl_last_error(), "would pass the limit (100 tokens");
      CHECK_INT(hl_scripted_request_count(p), 1);
      CHECK_INT(hl_budget_exceeded(b), 1);
    } else {
      CHECK_INT(st, HL_OK);
      CHECK_STR(ans, "over");
      CHECK_INT(hl_scripted_request_count(p), 2);
      int64_t tokens = 0;
      CHECK(hl_budget_spent(b, "user", "user", &tokens, NULL));
      CHECK_INT(tokens, 120);
    }
    hl_free(ans);
    hl_budget_unref(b);
    hl_agent_unref(agent);
    hl_provider_unref(p);
  }
}

static void session_cost_limit_switches_to_the_cheaper_model(void)
{
  hl_provider *p = hl_scripted_new();
  for (int i = 0; i < 4; i++)
    push(p, "answer", 8, 2);
  hl_agent *agent = fx_agent("chat", p);
  hl_agent_set_model(agent, "big");
  hl_budget *b = budget_from("{\"prices\": {\"big\": {\"input\": 1000, \"output\": 1000},"
                             "            \"*\": {\"input\": 1, \"output\": 1}},"
                             " \"session\": {\"cost\": 0.015},"
                             " \"on_exceed\": \"switch\", \"fallback_model\": \"small\"}");
  REQUIRE(b && hl_budget_install(b, hl_agent_hooks(agent)) == HL_OK);
  hl_session *s = hl_session_new("app", "carol", "s-1");
  for (int i = 0; i < 3; i++)
    CHECK_RUN(agent, s, "question", "answer");
  /* $0.01 spent; the second call's prompt (~8 tokens at $1000/M, $0.008)
   * would pass $0.015 (it did: it cost $0.01), so the estimate switches it. */
  const char *want[3] = {"big", "small", "small"};
  for (size_t i = 0; i < 3; i++) {
    hl_request *req = hl_scripted_request(p, i);
    REQUIRE(req);
    CHECK_STR(req->model, want[i]);
    hl_request_free(req);
  }
  double cost = 0;
  int64_t tokens = 0;
  CHECK(hl_budget_spent(b, "session", "s-1", &tokens, &cost));
  CHECK_INT(tokens, 30);
  CHECK(fabs(cost - (0.01 + 20 / 1e6)) < 1e-9);   /* the small model at its "*" price */
  CHECK(hl_budget_spent(b, "user", "carol", NULL, NULL));
  CHECK(!hl_budget_spent(b, "user", "dave", NULL, NULL));
  /* Another session of the same user starts clean. */
  hl_session *s2 = hl_session_new("app", "carol", "s-2");
  CHECK_RUN(agent, s2, "question", "answer");
  hl_request *req = hl_scripted_request(p, 3);
  CHECK_STR(req ? req->model : NULL, "big");
  hl_request_free(req);
  hl_session_free(s);
  hl_session_free(s2);
  hl_budget_unref(b);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* The response's own cost wins over the price table. */
static void response_cost_is_charged_as_given(void)
{
  hl_provider *p = hl_scripted_new();
  hl_response *r = hl_response_new_text("paid");
  r->usage.input_tokens = 1;
  r->usage.cost = 0.5;
  r->usage.has_cost = true;
  hl_scripted_push(p, r);
  hl_scripted_push_text(p, "again");
  hl_agent *agent = fx_agent("a", p);
  hl_budget *b = budget_from("{\"prices\": {\"*\": {\"input\": 1}}, \"user\": {\"cost\": 0.5}}");
  REQUIRE(b && hl_budget_install(b, hl_agent_hooks(agent)) == HL_OK);
  hl_session *s = hl_session_new("app", "erin", NULL);
  CHECK_RUN(agent, s, "x", "paid");
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, s, "y", &ans), HL_ERR_ABORTED);
  CHECK_CONTAINS(hl_last_error(), "user \"erin\" has spent 1 tokens and $0.500000");
  hl_session_free(s);
  hl_budget_unref(b);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

typedef struct worker {
  hl_budget *b;
  hl_provider *p;
  int ok, aborted;
} worker;

static void *worker_fn(void *arg)
{
  worker *w = arg;
  hl_agent *agent = fx_agent("w", w->p);
  hl_session *s = hl_session_new("app", "shared", NULL);
  if (hl_budget_install(w->b, hl_agent_hooks(agent)) == HL_OK)
    for (int i = 0; i < 10; i++) {
      char *ans = NULL;
      hl_status st = hl_agent_run(agent, s, "q", &ans);
      w->ok += st == HL_OK;
      w->aborted += st == HL_ERR_ABORTED;
      hl_free(ans);
    }
  hl_session_free(s);
  hl_agent_unref(agent);
  return NULL;
}

/* 8 threads, 10 runs each, one call of 10 tokens per run, one user with
 * 200 tokens: every call that went out is charged (no lost update), the
 * limit stops the rest, and the overshoot is at most one call in flight
 * per thread. */
static void eight_threads_share_a_user_budget(void)
{
  hl_budget *b = budget_from("{\"user\": {\"tokens\": 200}}");
  REQUIRE(b);
  worker w[8];
  pthread_t th[8];
  for (int i = 0; i < 8; i++) {
    w[i] = (worker){.b = b, .p = hl_scripted_new()};
    for (int k = 0; k < 10; k++)
      push(w[i].p, "ok", 7, 3);
    pthread_create(&th[i], NULL, worker_fn, &w[i]);
  }
  size_t calls = 0;
  int ok = 0, aborted = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(th[i], NULL);
    calls += hl_scripted_request_count(w[i].p);
    ok += w[i].ok;
    aborted += w[i].aborted;
    hl_provider_unref(w[i].p);
  }
  int64_t tokens = 0;
  CHECK(hl_budget_spent(b, "user", "shared", &tokens, NULL));
  CHECK_INT(tokens, (int64_t)calls * 10);
  CHECK_INT(ok, (int)calls);
  CHECK_INT(ok + aborted, 80);
  CHECK(calls >= 20);
  CHECK(calls <= 20 + 8);
  CHECK_INT(hl_budget_exceeded(b), (uint64_t)aborted);
  hl_budget_unref(b);
}

static void bad_options(void)
{
  CHECK(budget_from("{\"run\": {\"tokens\": -1}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.run.tokens: expected an integer from 0");
  CHECK(budget_from("{\"user\": {\"dollars\": 1}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.user.dollars: unknown option");
  CHECK(budget_from("{\"prices\": {\"gpt\": {\"input\": \"cheap\"}}}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.prices.gpt.input: expected a number >= 0");
  CHECK(budget_from("{\"on_exceed\": \"switch\"}") == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.fallback_model: required");
  hl_hooks *h = hl_hooks_new();
  CHECK_INT(hl_plugin_load_text(h, "budget", "{\"session\": {\"tokens\": 1000}}", NULL), HL_OK);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_AFTER_MODEL), 1);
  hl_hooks_free(h);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  RUN(run_token_limit_aborts_the_next_call);
  RUN(the_call_that_would_pass_the_limit_is_refused);
  RUN(session_cost_limit_switches_to_the_cheaper_model);
  RUN(response_cost_is_charged_as_given);
  RUN(eight_threads_share_a_user_budget);
  RUN(bad_options);
  return CHECK_EXIT();
}
