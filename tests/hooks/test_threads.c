/*
 * tests/hooks/test_threads.c - 8 agents on 8 threads at once, each with
 * parallel tool calls and every hook point active (global and per-agent),
 * observed by per-agent and global observers. Run under TSan this is the
 * data-race check of the agent core; everywhere it checks that nothing
 * is lost or mixed up between runs.
 */
#include "fixture.h"

#define THREADS 8
#define RUNS 10

static atomic_int counts[HL_HOOK_POINT_COUNT];

static hl_hook_action g_ba(hl_context *c, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *u) {  /* v1 names */
  char **o = &out_->answer;
  (void)in_;
  (void)c, (void)o, (void)u;
  atomic_fetch_add(&counts[HL_HOOK_BEFORE_AGENT], 1);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action g_aa(hl_context *c, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *u) {  /* v1 names */
  const char *a = in_->answer;
  char **o = &out_->answer;
  (void)c, (void)a, (void)o, (void)u;
  atomic_fetch_add(&counts[HL_HOOK_AFTER_AGENT], 1);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action g_bm(hl_context *c, const hl_before_model_args *in_, hl_before_model_out *out_, void *u) {  /* v1 names */
  hl_request *r = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **o = &out_->response;
  (void)c, (void)r, (void)o, (void)u;
  atomic_fetch_add(&counts[HL_HOOK_BEFORE_MODEL], 1);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action g_am(hl_context *c, const hl_after_model_args *in_, hl_after_model_out *out_, void *u) {  /* v1 names */
  const hl_request *r = in_->request;
  const hl_response *p = in_->response;
  const hl_error *e = in_->error;
  hl_response **o = &out_->response;
  (void)c, (void)r, (void)p, (void)e, (void)o, (void)u;
  atomic_fetch_add(&counts[HL_HOOK_AFTER_MODEL], 1);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action g_bt(hl_context *c, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *u) {  /* v1 names */
  const hl_tool_call *t = in_->call;
  cJSON *a_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **a = out_->args ? &out_->args : &a_now_;
  cJSON **o = &out_->result;
  (void)c, (void)t, (void)a, (void)o, (void)u;
  atomic_fetch_add(&counts[HL_HOOK_BEFORE_TOOL], 1);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action g_at(hl_context *c, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *u) {  /* v1 names */
  const hl_tool_call *t = in_->call;
  const cJSON *a = in_->args;
  const cJSON *r = in_->result;
  const hl_error *e = in_->error;
  cJSON **o = &out_->result;
  (void)c, (void)t, (void)a, (void)r, (void)e, (void)o, (void)u;
  atomic_fetch_add(&counts[HL_HOOK_AFTER_TOOL], 1);
  return HL_HOOK_CONTINUE;
}

/* Per-agent hooks that do real work: stamp the thread's number into the
 * arguments (before_tool), state writes, and an after_agent rewrite. */
static hl_hook_action a_bt(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **o = &out_->result;
  (void)o;
  if (strcmp(call->name, "add") == 0) {
    cJSON *b = cJSON_GetObjectItem(*args, "b");
    if (b) cJSON_SetNumberValue(b, (double)(long)ud);
  }
  cJSON *v = cJSON_CreateNumber(hl_context_turn(ctx));
  hl_context_state_set(ctx, call->id, v);
  cJSON_Delete(v);
  return HL_HOOK_CONTINUE;
}
static hl_hook_action a_aa(hl_context *c, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *ud) {  /* v1 names */
  const char *answer = in_->answer;
  char **repl = &out_->answer;
  (void)c;
  char buf[128];
  snprintf(buf, sizeof buf, "t%ld:%s", (long)ud, answer);
  *repl = strdup(buf);
  return HL_HOOK_OVERRIDE;
}

typedef struct worker {
  long id;
  int ok_runs;
  hl_observer *obs;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  hl_provider *p = hl_scripted_new();
  hl_agent *a = make_agent("agent", p);
  hl_hooks *h = hl_agent_hooks(a);
  hl_hooks_add_before_tool(h, "stamp", HL_HOOK_OBSERVE, a_bt, (void *)w->id);
  hl_hooks_add_after_agent(h, "tag", HL_HOOK_DECIDE, a_aa, (void *)w->id);
  hl_agent_add_observer(a, w->obs);
  for (int r = 0; r < RUNS; r++) {
    hl_scripted_load_json(p,
        "{\"responses\":[{\"tool_calls\":["
        "{\"id\":\"c1\",\"name\":\"add\",\"arguments\":{\"a\":100,\"b\":0}},"
        "{\"id\":\"c2\",\"name\":\"echo\",\"arguments\":{\"text\":\"e\"}},"
        "{\"id\":\"c3\",\"name\":\"add\",\"arguments\":{\"a\":1000,\"b\":0}}]},"
        "{\"text\":\"last={{result}}\"}]}");
    char *answer = NULL;
    if (hl_agent_run(a, NULL, "go", &answer) != HL_OK) continue;
    /* c3's result comes last in the model's order: 1000 + thread id */
    char want[64];
    snprintf(want, sizeof want, "t%ld:last=%ld", w->id, 1000 + w->id);
    if (strcmp(answer, want) == 0) w->ok_runs++;
    else fprintf(stderr, "thread %ld: got \"%s\", want \"%s\"\n", w->id, answer, want);
    hl_free(answer);
  }
  hl_agent_unref(a);
  hl_provider_unref(p);
  return NULL;
}

static void eight_agents_on_eight_threads_with_parallel_tools_and_all_hooks(void) {
  hl_hooks *g = hl_hooks_global();
  hl_hooks_add_before_agent(g, "g", HL_HOOK_OBSERVE, g_ba, NULL);
  hl_hooks_add_after_agent(g, "g", HL_HOOK_OBSERVE, g_aa, NULL);
  hl_hooks_add_before_model(g, "g", HL_HOOK_OBSERVE, g_bm, NULL);
  hl_hooks_add_after_model(g, "g", HL_HOOK_OBSERVE, g_am, NULL);
  hl_hooks_add_before_tool(g, "g", HL_HOOK_OBSERVE, g_bt, NULL);
  hl_hooks_add_after_tool(g, "g", HL_HOOK_OBSERVE, g_at, NULL);
  hl_observer *global_obs = hl_observer_collecting();
  hl_observer_add_global(global_obs);

  pthread_t t[THREADS];
  worker w[THREADS];
  for (long i = 0; i < THREADS; i++) {
    w[i] = (worker){.id = i + 1, .obs = hl_observer_collecting()};
    pthread_create(&t[i], NULL, worker_main, &w[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);

  for (int i = 0; i < THREADS; i++) {
    CHECK_INT(w[i].ok_runs, RUNS);
    /* Each agent's observer saw its own runs only */
    CHECK_INT(hl_observer_collected_count(w[i].obs, HL_EVENT_AGENT_START), RUNS);
    CHECK_INT(hl_observer_collected_count(w[i].obs, HL_EVENT_TOOL_END), RUNS * 3);
    hl_observer_unref(w[i].obs);
  }
  int runs = THREADS * RUNS;
  CHECK_INT(atomic_load(&counts[HL_HOOK_BEFORE_AGENT]), runs);
  CHECK_INT(atomic_load(&counts[HL_HOOK_AFTER_AGENT]), runs);
  CHECK_INT(atomic_load(&counts[HL_HOOK_BEFORE_MODEL]), runs * 2);
  CHECK_INT(atomic_load(&counts[HL_HOOK_AFTER_MODEL]), runs * 2);
  CHECK_INT(atomic_load(&counts[HL_HOOK_BEFORE_TOOL]), runs * 3);
  CHECK_INT(atomic_load(&counts[HL_HOOK_AFTER_TOOL]), runs * 3);
  CHECK_INT(hl_observer_collected_count(global_obs, HL_EVENT_TOOL_START), runs * 3);
  CHECK_INT(hl_observer_collected_count(global_obs, HL_EVENT_TRACE_COMPLETE), runs);

  hl_observer_clear_global();
  hl_observer_unref(global_obs);
  hl_hooks_clear(g);
}

/* ------------------------------------------------------------------ */
/* hl_last_error() of one agent run on several threads at once       */
/* ------------------------------------------------------------------ */

/* Fails when the input starts with "bad", naming the input. */
static hl_status picky_fn(hl_context *ctx, const char *input, char **answer, void *ud) {
  (void)ctx, (void)ud;
  if (strncmp(input, "bad", 3) == 0) return hl_fail(HL_ERR_EXECUTION_FAILED, "refused %s", input);
  *answer = strdup("fine");
  return HL_OK;
}

typedef struct errmsg_worker {
  hl_agent *agent;
  long id;
  int mismatches;
} errmsg_worker;

static void *errmsg_worker_main(void *arg) {
  errmsg_worker *w = arg;
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  for (int r = 0; r < 200; r++) {
    /* Odd threads fail every run, even threads succeed every run. */
    char input[32], want[64];
    snprintf(input, sizeof input, "%s-%ld-%d", w->id % 2 ? "bad" : "ok", w->id, r);
    if (w->id % 2) snprintf(want, sizeof want, "refused %s", input);
    else want[0] = '\0';
    char *answer = NULL;
    hl_agent_run(w->agent, s, input, &answer);
    hl_free(answer);
    if (strcmp(hl_last_error(), want) != 0) w->mismatches++;
  }
  hl_session_free(s);
  return NULL;
}

static void errmsg_is_the_last_run_on_the_calling_thread(void) {
  hl_agent *a = hl_agent_new_custom("picky", picky_fn, NULL);
  CHECK_STR(hl_last_error(), "");
  pthread_t t[THREADS];
  errmsg_worker w[THREADS];
  for (long i = 0; i < THREADS; i++) {
    w[i] = (errmsg_worker){.agent = a, .id = i};
    pthread_create(&t[i], NULL, errmsg_worker_main, &w[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < THREADS; i++) CHECK_INT(w[i].mismatches, 0);
  /* This thread ran nothing: the failures of the others are not its. */
  CHECK_STR(hl_last_error(), "");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "bad-main", &answer), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "refused bad-main");
  CHECK_INT(hl_agent_run(a, NULL, "ok", &answer), HL_OK);
  hl_free(answer);
  CHECK_STR(hl_last_error(), "");
  hl_agent_unref(a);
}

int main(void) {
  RUN(eight_agents_on_eight_threads_with_parallel_tools_and_all_hooks);
  RUN(errmsg_is_the_last_run_on_the_calling_thread);
  return CHECK_EXIT();
}
