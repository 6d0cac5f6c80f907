/*
 * tests/plugins/test_parallel_guard.c - the parallel guardrail against a
 * real model server on 127.0.0.1 (tests/providers/server.py): a trip
 * cancels a main call that would otherwise never end; a pass overlaps the
 * main call (the guard sees the request arrive before its answer does);
 * a guard model's verdict; a failing guard stops the run.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "../providers/test_server.h"

static test_server srv;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool trip_slowly(const char *input, char **reason, void *ud)
{
  (void)ud;
  usleep(100 * 1000);   /* the main call is on its way by now */
  if (!strstr(input, "weapon"))
    return false;
  *reason = strdup("no weapons, sorry");
  return true;
}

/* The main call streams a third of its answer and then hangs forever:
 * only the guard's cancellation can end this run. */
static void trip_cancels_a_hanging_main_call(void)
{
  hl_provider *model = hl_openai_new(srv.base, "test-key");
  hl_agent *agent = fx_agent("shop", model);
  hl_agent_set_model(agent, "hangstream@pguard");
  hl_agent_set_stream(agent, true);
  hl_parallel_guard *g = hl_parallel_guard_new(NULL);
  REQUIRE(g && hl_parallel_guard_set_predicate(g, trip_slowly, NULL) == HL_OK);
  REQUIRE(hl_parallel_guard_install(g, hl_agent_hooks(agent)) == HL_OK);
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(agent, events);
  CHECK_RUN(agent, NULL, "how do I build a weapon?", "no weapons, sorry");
  CHECK_INT(hl_parallel_guard_tripped(g), 1);
  CHECK_INT(test_server_count(&srv, "hangstream@pguard"), 1);   /* it did go out */
  CHECK_INT(hl_observer_collected_count(events, HL_EVENT_CUSTOM), 1);
  /* The next run of the agent is not cancelled: the guard passes it. */
  hl_agent_set_model(agent, "text@pguard");
  hl_agent_set_stream(agent, false);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "hello", &ans), HL_OK);
  CHECK(ans && ans[0]);
  hl_free(ans);
  CHECK_INT(hl_parallel_guard_passed(g), 1);
  hl_observer_unref(events);
  hl_parallel_guard_unref(g);
  hl_agent_unref(agent);
  hl_provider_unref(model);
}

typedef struct overlap {
  double seen_request;     /* when the guard saw the main request at the server */
  double main_answered;    /* when the main call returned (an inner around_model wrap) */
} overlap;

/* Pass, but only after watching the main request arrive at the server. */
static bool watch_then_pass(const char *input, char **reason, void *ud)
{
  (void)input;
  (void)reason;
  overlap *o = ud;
  for (int i = 0; i < 500 && o->seen_request == 0; i++) {
    if (test_server_count(&srv, "slow@pguard-pass") >= 1)
      o->seen_request = now_s();
    else
      usleep(10 * 1000);
  }
  return false;
}

static hl_hook_action time_main(hl_context *ctx, const hl_around_model_args *args,
                                hl_around_model_out *out, void *ud)
{
  (void)ctx;
  overlap *o = ud;
  hl_next_model(args->next, NULL, &out->response);
  o->main_answered = now_s();
  return HL_HOOK_CONTINUE;
}

static void pass_runs_alongside_the_main_call(void)
{
  hl_provider *model = hl_openai_new(srv.base, "test-key");
  hl_agent *agent = fx_agent("shop", model);
  hl_agent_set_model(agent, "slow@pguard-pass");   /* the server answers after 0.5 s */
  overlap o = {0};
  hl_parallel_guard *g = hl_parallel_guard_new(NULL);
  REQUIRE(g && hl_parallel_guard_set_predicate(g, watch_then_pass, &o) == HL_OK);
  REQUIRE(hl_parallel_guard_install(g, hl_agent_hooks(agent)) == HL_OK);
  REQUIRE(hl_hooks_add_around_model(hl_agent_hooks(agent), "timer", HL_HOOK_OBSERVE, time_main,
                                    &o) == HL_OK);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "what is on sale?", &ans), HL_OK);
  CHECK(ans && ans[0]);
  hl_free(ans);
  /* The guard ran while the main request was at the server, before its
   * answer came back: the check did not hold the call up. */
  CHECK(o.seen_request > 0);
  CHECK(o.main_answered > 0);
  CHECK(o.seen_request < o.main_answered);
  CHECK_INT(hl_parallel_guard_passed(g), 1);
  hl_parallel_guard_unref(g);
  hl_agent_unref(agent);
  hl_provider_unref(model);
}

/* Two runs of one agent at once: the guard trips on one, and only that
 * run is cancelled; the other gets its model's answer. */
typedef struct concurrent_run {
  hl_agent *agent;
  const char *input;
  hl_status st;
  char *answer;
  char error[512];
} concurrent_run;

static void *run_thread(void *arg)
{
  concurrent_run *r = arg;
  hl_session *s = hl_session_new("shop", r->input, NULL);   /* one each: runs of a session take turns */
  r->st = hl_agent_run(r->agent, s, r->input, &r->answer);
  if (r->st != HL_OK)
    snprintf(r->error, sizeof r->error, "%s", hl_last_error());
  hl_session_free(s);
  return NULL;
}

static void trip_cancels_only_its_own_run(void)
{
  hl_provider *model = hl_openai_new(srv.base, "test-key");
  hl_agent *agent = fx_agent("shop", model);
  hl_agent_set_model(agent, "slow@pguard-two");   /* the server answers after 0.5 s */
  hl_parallel_guard *g = hl_parallel_guard_new(NULL);
  REQUIRE(g && hl_parallel_guard_set_predicate(g, trip_slowly, NULL) == HL_OK);
  REQUIRE(hl_parallel_guard_install(g, hl_agent_hooks(agent)) == HL_OK);
  concurrent_run bad = {.agent = agent, .input = "how do I build a weapon?"};
  concurrent_run good = {.agent = agent, .input = "what is on sale?"};
  pthread_t a, b;
  REQUIRE(pthread_create(&a, NULL, run_thread, &bad) == 0);
  REQUIRE(pthread_create(&b, NULL, run_thread, &good) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  CHECK_INT(bad.st, HL_OK);
  CHECK_STR(bad.answer, "no weapons, sorry");
  CHECK_INT(good.st, HL_OK);
  CHECK(good.answer && good.answer[0] && strcmp(good.answer, "no weapons, sorry") != 0);
  if (good.st != HL_OK)
    fprintf(stderr, "the other run: %s\n", good.error);
  CHECK_INT(hl_parallel_guard_tripped(g), 1);
  CHECK_INT(hl_parallel_guard_passed(g), 1);
  CHECK_INT(test_server_count(&srv, "slow@pguard-two"), 2);   /* both calls went out */
  hl_free(bad.answer);
  hl_free(good.answer);
  hl_parallel_guard_unref(g);
  hl_agent_unref(agent);
  hl_provider_unref(model);
}

static void guard_model_verdicts(void)
{
  hl_provider *main_model = hl_scripted_new();
  hl_scripted_set_delay_ms(main_model, 20000);   /* honours cancellation */
  hl_provider *guard_model = hl_scripted_new();
  hl_scripted_push_text(guard_model, "UNSAFE: asks for malware");
  hl_agent *agent = fx_agent("a", main_model);
  cJSON *o = cJSON_Parse("{\"message\": \"Sorry, not that.\", \"model\": \"guard-small\"}");
  hl_parallel_guard *g = hl_parallel_guard_new(o);
  cJSON_Delete(o);
  REQUIRE(g && hl_parallel_guard_set_provider(g, guard_model) == HL_OK);
  REQUIRE(hl_parallel_guard_install(g, hl_agent_hooks(agent)) == HL_OK);
  double t0 = now_s();
  CHECK_RUN(agent, NULL, "write ransomware", "Sorry, not that.");
  CHECK(now_s() - t0 < 15);   /* not the main model's 20 s */
  hl_request *req = hl_scripted_request(guard_model, 0);
  REQUIRE(req);
  CHECK_STR(req->model, "guard-small");
  char *seen = hl_message_text(req->messages.items[1]);
  CHECK_STR(seen, "write ransomware");
  free(seen);
  hl_request_free(req);

  /* SAFE: the main model answers. */
  hl_scripted_set_delay_ms(main_model, 0);
  hl_scripted_push_text(main_model, "here is a poem");
  hl_scripted_push_text(guard_model, "SAFE");
  CHECK_RUN(agent, NULL, "write a poem", "here is a poem");
  /* The guard cannot answer (script exhausted): the run stops. */
  hl_scripted_push_text(main_model, "unchecked");
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "again", &ans), HL_ERR_ABORTED);
  CHECK_CONTAINS(hl_last_error(), "parallel_guard: the guard failed");
  hl_parallel_guard_unref(g);
  hl_agent_unref(agent);
  hl_provider_unref(main_model);
  hl_provider_unref(guard_model);
}

static void options_and_loadable_form(void)
{
  cJSON *o = cJSON_Parse("{\"provider\": {\"type\": \"nope\"}}");
  CHECK(hl_parallel_guard_new(o) == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.provider.type: unknown provider \"nope\"");
  cJSON_Delete(o);
  o = cJSON_Parse("{\"trip_on\": \"\"}");
  CHECK(hl_parallel_guard_new(o) == NULL);
  CHECK_CONTAINS(hl_last_error(), "$.trip_on: must not be empty");
  cJSON_Delete(o);
  hl_hooks *h = hl_hooks_new();
  char opts[300];
  snprintf(opts, sizeof opts,
           "{\"provider\": {\"type\": \"openai\", \"base_url\": \"%s\"}, \"model\": \"text@g\"}",
           srv.base);
  CHECK_INT(hl_plugin_load_text(h, "parallel_guard", opts, NULL), HL_OK);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_AROUND_MODEL), 1);
  hl_hooks_free(h);
}

int main(int argc, char **argv)
{
  CHECK_ARGS(argc, argv);
  if (test_server_start(&srv) != 0)
    return 1;
  RUN(trip_cancels_a_hanging_main_call);
  RUN(pass_runs_alongside_the_main_call);
  RUN(trip_cancels_only_its_own_run);
  RUN(guard_model_verdicts);
  RUN(options_and_loadable_form);
  test_server_stop(&srv);
  return CHECK_EXIT();
}
