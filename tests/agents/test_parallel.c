/*
 * tests/agents/test_parallel.c - the parallel agent runs children at the
 * same time (overlap observed with a barrier inside a tool, not timed),
 * each on its own branch of the session; failures stay with their child.
 */
#include <errno.h>
#include <time.h>

#include "check.h"
#include "fixture.h"

/* A barrier the children's tool waits at. If the children ran one after
 * another the first would wait alone; the wait has a generous safety
 * deadline so a broken implementation fails the test instead of hanging. */
typedef struct meeting {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int expected, inside, max_inside, arrived;
} meeting;

static hl_status meet_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)args;
  meeting *m = ud;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 20;
  pthread_mutex_lock(&m->lock);
  m->inside++;
  m->arrived++;
  if (m->inside > m->max_inside)
    m->max_inside = m->inside;
  pthread_cond_broadcast(&m->cond);
  int rc = 0;
  while (m->arrived < m->expected && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&m->cond, &m->lock, &deadline);
  bool met = m->arrived >= m->expected;
  m->inside--;
  pthread_mutex_unlock(&m->lock);
  *result = cJSON_CreateObject();
  cJSON_AddBoolToObject(*result, "met", met);
  cJSON_AddStringToObject(*result, "who", hl_context_agent_name(ctx));
  return HL_OK;
}

/* A child that calls "meet" and then answers `text`. */
static hl_agent *meeting_child(const char *name, const char *text, meeting *m,
                               hl_provider **provider)
{
  hl_agent *a = hl_agent_new(name);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "m1", "meet", "{}");
  if (text)
    hl_scripted_push_text(p, text);
  hl_agent_set_provider(a, p);
  if (provider)
    *provider = p;
  hl_provider_unref(p);
  hl_tool *t = hl_tool_new("meet", "Wait for the others.", meet_fn, m);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  return a;
}

static void parallel_children_overlap_and_results_gathered(void)
{
  meeting m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 3, 0, 0, 0};
  hl_provider *pw;
  hl_agent *par = hl_parallel_agent_new("researchers", HL_RUN_ISOLATED);
  REQUIRE(par);
  hl_agent *w = meeting_child("web", "web notes", &m, &pw);
  hl_agent_set_output_key(w, "notes_web");
  fx_adopt(par, w);
  fx_adopt(par, meeting_child("papers", "paper notes", &m, NULL));
  fx_adopt(par, meeting_child("news", "news notes", &m, NULL));
  fx_trace trace = FX_TRACE_INIT;
  hl_hooks_add_before_tool(hl_agent_hooks(par), "trace", HL_HOOK_OBSERVE, fx_record_tool, &trace);

  hl_session *s = hl_session_new(NULL, NULL, NULL);
  hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "earlier chat"));
  char *ans = NULL;
  CHECK_INT(hl_agent_run(par, s, "owls", &ans), HL_OK);
  /* All three were inside the tool at the same time. */
  CHECK_INT(m.max_inside, 3);
  /* The parent's hooks reached every child, on its own branch. */
  CHECK_INT(fx_trace_count(&trace, "tool researchers/web meet"), 1);
  CHECK_INT(fx_trace_count(&trace, "tool researchers/papers meet"), 1);
  CHECK_INT(fx_trace_count(&trace, "tool researchers/news meet"), 1);
  /* Gathered: the answer and the state keys (output key, else name). */
  cJSON *j = cJSON_Parse(ans ? ans : "");
  const cJSON *results = hl_json_get(j, "results");
  CHECK_STR(hl_json_get_string(results, "web"), "web notes");
  CHECK_STR(hl_json_get_string(results, "papers"), "paper notes");
  CHECK_STR(hl_json_get_string(results, "news"), "news notes");
  CHECK_INT(cJSON_GetArraySize(hl_json_get(j, "errors")), 0);
  cJSON_Delete(j);
  hl_free(ans);
  char *v1 = fx_state(s, "notes_web"), *v2 = fx_state(s, "papers");
  CHECK_STR(v1, "web notes");
  CHECK_STR(v2, "paper notes");
  hl_free(v1);
  hl_free(v2);
  /* Isolated: the child started from a fresh history. */
  CHECK(!fx_request_mentions(pw, 0, "earlier chat"));
  fx_trace_clear(&trace);
  hl_session_free(s);
  hl_agent_unref(par);
}

static void parallel_fork_children_see_history(void)
{
  hl_provider *p1;
  hl_agent *par = hl_parallel_agent_new("forks", HL_RUN_FORK);
  fx_adopt(par, fx_llm("one", (const char *[]){"1", NULL}, &p1));
  fx_adopt(par, fx_llm("two", (const char *[]){"2", NULL}, NULL));
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "earlier chat"));
  char *ans = NULL;
  CHECK_INT(hl_agent_run(par, s, "go", &ans), HL_OK);
  hl_free(ans);
  CHECK(fx_request_mentions(p1, 0, "earlier chat"));
  hl_session_free(s);
  hl_agent_unref(par);
}

static void parallel_failure_is_isolated(void)
{
  hl_agent *par = hl_parallel_agent_new("team", HL_RUN_ISOLATED);
  fx_adopt(par, fx_llm("good1", (const char *[]){"g1", NULL}, NULL));
  fx_adopt(par, fx_llm("bad", NULL, NULL));   /* empty script: provider error */
  fx_adopt(par, fx_llm("good2", (const char *[]){"g2", NULL}, NULL));
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(par, events);
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(par, s, "go", &ans), HL_OK);
  cJSON *j = cJSON_Parse(ans ? ans : "");
  const cJSON *results = hl_json_get(j, "results");
  CHECK_STR(hl_json_get_string(results, "good1"), "g1");
  CHECK_STR(hl_json_get_string(results, "good2"), "g2");
  CHECK(hl_json_get(results, "bad") == NULL);
  const cJSON *bad = hl_json_get(hl_json_get(j, "errors"), "bad");
  CHECK_STR(hl_json_get_string(bad, "status"), hl_status_name(HL_ERR_PROVIDER));
  CHECK_CONTAINS(hl_json_get_string(bad, "message"), "bad");
  cJSON_Delete(j);
  hl_free(ans);
  char *g2 = fx_state(s, "good2"), *b = fx_state(s, "bad");
  CHECK_STR(g2, "g2");
  CHECK(b == NULL);
  hl_free(g2);
  hl_free(b);
  CHECK_INT(fx_custom_count(events, "workflow_child_failed"), 1);
  hl_observer_unref(events);
  hl_session_free(s);
  hl_agent_unref(par);
}

static void parallel_all_failing_returns_first_error(void)
{
  hl_agent *par = hl_parallel_agent_new("doomed", HL_RUN_ISOLATED);
  fx_adopt(par, fx_llm("x", NULL, NULL));
  fx_adopt(par, fx_llm("y", NULL, NULL));
  char *ans = NULL;
  CHECK_INT(hl_agent_run(par, NULL, "go", &ans), HL_ERR_PROVIDER);
  CHECK(ans == NULL);
  CHECK_CONTAINS(hl_last_error(), "\"x\"");
  hl_agent_unref(par);
}

static hl_hook_action abort_hook(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)ctx;
  (void)answer;
  (void)ud;
  return hl_hook_abort("policy says no");
}

static void parallel_hook_abort_stops_the_run(void)
{
  hl_agent *par = hl_parallel_agent_new("abortive", HL_RUN_ISOLATED);
  hl_agent *victim = fx_llm("victim", (const char *[]){"v", NULL}, NULL);
  hl_hooks_add_before_agent(hl_agent_hooks(victim), "no", HL_HOOK_DECIDE, abort_hook, NULL);
  fx_adopt(par, fx_llm("fine", (const char *[]){"f", NULL}, NULL));
  fx_adopt(par, victim);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(par, NULL, "go", &ans), HL_ERR_ABORTED);
  CHECK(ans == NULL);
  CHECK_CONTAINS(hl_last_error(), "policy says no");
  hl_agent_unref(par);
}

/* Cancelling the parallel agent cancels every child. The children's model
 * steps wait a long time (honouring cancellation); a before_model hook
 * tells the test when both are waiting, so the cancel is not timed. */
typedef struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int waiting;
} gate;

static hl_hook_action arrive(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **resp = &out_->response;
  (void)ctx;
  (void)req;
  (void)resp;
  gate *g = ud;
  pthread_mutex_lock(&g->lock);
  g->waiting++;
  pthread_cond_broadcast(&g->cond);
  pthread_mutex_unlock(&g->lock);
  return HL_HOOK_CONTINUE;
}

typedef struct runner {
  hl_agent *agent;
  hl_status status;
  char *answer;
} runner;

static void *run_main(void *arg)
{
  runner *r = arg;
  r->status = hl_agent_run(r->agent, NULL, "go", &r->answer);
  return NULL;
}

static void parallel_cancel_reaches_children(void)
{
  static const char slow[] = "{\"responses\":[{\"text\":\"late\",\"delay_ms\":30000}]}";
  hl_agent *par = hl_parallel_agent_new("cancellable", HL_RUN_ISOLATED);
  for (int i = 0; i < 2; i++) {
    hl_provider *p = NULL;
    hl_agent *child = fx_llm(i ? "slow2" : "slow1", NULL, &p);
    REQUIRE(hl_scripted_load_json(p, slow) == HL_OK);
    fx_adopt(par, child);
  }
  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  hl_hooks_add_before_model(hl_agent_hooks(par), "gate", HL_HOOK_OBSERVE, arrive, &g);
  runner r = {par, HL_OK, NULL};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, run_main, &r) == 0);
  pthread_mutex_lock(&g.lock);
  while (g.waiting < 2)
    pthread_cond_wait(&g.cond, &g.lock);
  pthread_mutex_unlock(&g.lock);
  hl_agent_cancel(par);
  pthread_join(th, NULL);
  CHECK_INT(r.status, HL_ERR_CANCELLED);
  CHECK(r.answer == NULL);
  hl_agent_unref(par);
}

static void parallel_refuses_shared_mode(void)
{
  CHECK(hl_parallel_agent_new("p", HL_RUN_SHARED) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
}

int main(void)
{
  RUN(parallel_children_overlap_and_results_gathered);
  RUN(parallel_fork_children_see_history);
  RUN(parallel_failure_is_isolated);
  RUN(parallel_all_failing_returns_first_error);
  RUN(parallel_hook_abort_stops_the_run);
  RUN(parallel_cancel_reaches_children);
  RUN(parallel_refuses_shared_mode);
  return CHECK_EXIT();
}
