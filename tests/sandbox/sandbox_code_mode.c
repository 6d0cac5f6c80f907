/*
 * tests/sandbox/sandbox_code_mode.c - the sandbox as the run_javascript
 * tool of an agent: the scripted model writes code that calls two of the
 * agent's tools in parallel and returns their combined result; every call
 * from JavaScript passes through before_tool/after_tool and the TOOL
 * events like a direct call (argument mutation, override, abort).
 * A tool's own sandbox executed with the run's context routes the agent's
 * tools through the same hooked path, and hands the context to the others.
 * Cancelling the agent run reaches the running JavaScript, and a tool
 * called from it, within 50 ms (asserted with a margin for a loaded
 * machine) instead of waiting for the sandbox's timeout.
 */
#include <hookline.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "overlap.h"

/* Counts overlapping calls; waits (up to 5 s) for the other tool of the
 * pair (overlap.h). */
static void note_running(void) {
  overlap_enter();
  overlap_await(2);
  overlap_leave();
}

static hl_status weather_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  note_running();
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "city", hl_json_get_string(args, "city"));
  cJSON_AddNumberToObject(*result, "celsius", 21);
  return HL_OK;
}

static hl_status population_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  note_running();
  const char *city = hl_json_get_string(args, "city");
  *result = cJSON_CreateNumber(city && strcmp(city, "Oslo") == 0 ? 709000 : 1);
  return HL_OK;
}

static hl_status population_alone_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  const char *city = hl_json_get_string(args, "city");
  *result = cJSON_CreateNumber(city && strcmp(city, "Oslo") == 0 ? 709000 : 1);
  return HL_OK;
}

static hl_status secret_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)result;
  atomic_fetch_add((atomic_int *)ud, 1);
  return hl_fail(HL_ERR_EXECUTION_FAILED, "must never run");
}

/* before_tool: capitalise weather's city (mutation from inside the
 * sandbox), answer for "secret" without running it (override), abort the
 * run for "forbidden". */
static hl_hook_action before_tool(hl_context *ctx, const hl_before_tool_args *in_, hl_before_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  cJSON *args_now_ = out_->args ? out_->args : (cJSON *)in_->args;
  cJSON **args = out_->args ? &out_->args : &args_now_;
  cJSON **result = &out_->result;
  (void)ctx, (void)ud;
  if (strcmp(call->name, "weather") == 0) {
    cJSON *city = cJSON_GetObjectItemCaseSensitive(*args, "city");
    if (cJSON_IsString(city) && strcmp(city->valuestring, "oslo") == 0)
      cJSON_SetValuestring(city, "Oslo");
  } else if (strcmp(call->name, "secret") == 0) {
    *result = cJSON_CreateString("overridden by a hook");
    return HL_HOOK_OVERRIDE;
  } else if (strcmp(call->name, "forbidden") == 0) {
    return hl_hook_abort("forbidden is not allowed");
  }
  return HL_HOOK_CONTINUE;
}

/* after_tool: tag population results so the test sees the chain ran. */
static hl_hook_action after_tool(hl_context *ctx, const hl_after_tool_args *in_, hl_after_tool_out *out_, void *ud) {  /* v1 names */
  const hl_tool_call *call = in_->call;
  const cJSON *args = in_->args;
  const cJSON *result = in_->result;
  const hl_error *error = in_->error;
  cJSON **replacement = &out_->result;
  (void)ctx, (void)args, (void)error, (void)ud;
  if (strcmp(call->name, "population") == 0 && cJSON_IsNumber(result)) {
    *replacement = cJSON_CreateObject();
    cJSON_AddNumberToObject(*replacement, "people", result->valuedouble);
    return HL_HOOK_OVERRIDE;
  }
  return HL_HOOK_CONTINUE;
}

static hl_agent *make_agent(hl_provider *p, hl_observer *obs, atomic_int *secret_calls) {
  hl_agent *a = hl_agent_new("coder");
  if (!a)
    return NULL;
  hl_agent_set_provider(a, p);
  hl_tool *code = hl_sandbox_code_tool(NULL);
  hl_tool *weather = hl_tool_new("weather", "Weather in a city", weather_fn, NULL);
  hl_tool *population = hl_tool_new("population", "Population of a city", population_fn, NULL);
  hl_tool *secret = hl_tool_new("secret", "Never runs", secret_fn, secret_calls);
  hl_tool *forbidden = hl_tool_new("forbidden", "Aborts the run", secret_fn, secret_calls);
  hl_tool *dashed = hl_tool_new("get-population", "Population, by a dashed name",
                                population_alone_fn, NULL);
  hl_tool_param(dashed, "city", "string", "city name", true);
  hl_agent_add_tool(a, dashed);
  hl_tool_unref(dashed);
  hl_tool_param(weather, "city", "string", "city name", true);
  hl_tool_param(population, "city", "string", "city name", true);
  hl_agent_add_tool(a, code);
  hl_agent_add_tool(a, weather);
  hl_agent_add_tool(a, population);
  hl_agent_add_tool(a, secret);
  hl_agent_add_tool(a, forbidden);
  hl_tool_unref(code);
  hl_tool_unref(weather);
  hl_tool_unref(population);
  hl_tool_unref(secret);
  hl_tool_unref(forbidden);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "before", HL_HOOK_DECIDE, before_tool, NULL);
  hl_hooks_add_after_tool(hl_agent_hooks(a), "after", HL_HOOK_DECIDE, after_tool, NULL);
  if (obs)
    hl_agent_add_observer(a, obs);
  return a;
}

static void model_code_calls_two_tools_in_parallel(void) {
  atomic_store(&max_running, 0);
  atomic_int secret_calls = 0;
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "run_javascript",
    "{\"code\":\"const [w, n] = await Promise.all([weather({city: 'oslo'}), population({city: 'Oslo'})]);\\n"
    "const s = await secret({});\\n"
    "console.log('fetched', w.city);\\n"
    "({city: w.city, celsius: w.celsius, people: n.people, secret: s})\"}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "tool said: {{result}}") == HL_OK);
  hl_observer *obs = hl_observer_collecting();
  hl_agent *a = make_agent(p, obs, &secret_calls);
  REQUIRE(a);

  char *answer = NULL;
  hl_status st = hl_agent_run(a, NULL, "weather and population of Oslo?", &answer);
  CHECK_INT(st, HL_OK);
  if (st)
    fprintf(stderr, "run failed: %s\n", hl_last_error());
  /* The model got the combined result: mutated argument (Oslo), the
   * after_tool replacement ({people}) and the override for secret. */
  CHECK_CONTAINS(answer, "\"city\":\"Oslo\"");
  CHECK_CONTAINS(answer, "\"celsius\":21");
  CHECK_CONTAINS(answer, "\"people\":709000");
  CHECK_CONTAINS(answer, "\"secret\":\"overridden by a hook\"");
  CHECK_CONTAINS(answer, "fetched Oslo");
  hl_free(answer);
  CHECK_INT(atomic_load(&max_running), 2); /* the two tools overlapped */
  CHECK_INT(atomic_load(&secret_calls), 0);
  /* TOOL_START for run_javascript and the two tools that ran inside it
   * (secret was answered by its before_tool hook, so it never started,
   * exactly as for a direct call). */
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_TOOL_START), 3);
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_TOOL_END), 3);
  cJSON *events = hl_observer_collected(obs);
  char *text = cJSON_PrintUnformatted(events);
  CHECK_CONTAINS(text, "\"weather\"");
  CHECK_CONTAINS(text, "\"population\"");
  CHECK_CONTAINS(text, "{\"city\":\"Oslo\"}"); /* events carry the mutated arguments, */
  CHECK(!strstr(text, "{\"city\":\"oslo\"}"));  /* never the original ones */
  free(text);
  cJSON_Delete(events);

  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

/* ---- a sandbox of one's own, executed with the run's context ---- */

/* Not one of the agent's tools: says whether it got a context. */
static hl_status probe_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  *result = cJSON_CreateString(ctx ? "had a context" : "no context");
  return HL_OK;
}

/* An agent tool that runs the same code in its own sandbox twice: with
 * the run's context and without. The sandbox holds the agent's weather
 * tool (the same object) and a private probe tool. */
static hl_status own_sandbox_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  hl_tool *weather = hl_tools_find(hl_agent_tools(hl_context_agent(ctx)), "weather");
  hl_tool *probe = hl_tool_new("probe", "", probe_fn, NULL);
  hl_sandbox *sb = NULL;
  hl_status st = probe && weather ? hl_sandbox_new(NULL, &sb) : HL_ERR_NOMEM;
  if (st == HL_OK)
    st = hl_sandbox_add_tool(sb, weather, NULL);
  if (st == HL_OK)
    st = hl_sandbox_add_tool(sb, probe, NULL);
  hl_tool_unref(probe);
  const char *code = "[(await weather({city: 'oslo'})).city, await probe()]";
  hl_sandbox_result with = HL_SANDBOX_RESULT_INIT, without = HL_SANDBOX_RESULT_INIT;
  if (st == HL_OK)
    st = hl_sandbox_execute(sb, ctx, code, &with);
  if (st == HL_OK)
    st = hl_sandbox_execute(sb, NULL, code, &without);
  if (st == HL_OK) {
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "with", with.value_json);
    cJSON_AddStringToObject(*result, "without", without.value_json);
  }
  hl_sandbox_result_clear(&with);
  hl_sandbox_result_clear(&without);
  hl_sandbox_free(sb);
  return st;
}

static void execute_with_a_context_takes_the_hooked_path(void) {
  atomic_store(&max_running, 2); /* weather_fn need not wait for a peer */
  atomic_int secret_calls = 0;
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "own_sandbox", "{}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "{{result}}") == HL_OK);
  hl_observer *obs = hl_observer_collecting();
  hl_agent *a = make_agent(p, obs, &secret_calls);
  REQUIRE(a);
  hl_tool *own = hl_tool_new("own_sandbox", "", own_sandbox_fn, NULL);
  REQUIRE(own && hl_agent_add_tool(a, own) == HL_OK);
  hl_tool_unref(own);
  char *answer = NULL;
  hl_status st = hl_agent_run(a, NULL, "go", &answer);
  CHECK_INT(st, HL_OK);
  if (st)
    fprintf(stderr, "run failed: %s\n", hl_last_error());
  /* With the context, the agent's weather went through before_tool (the
   * city was capitalised) and the private tool received the context;
   * without, both were bare calls. */
  CHECK_CONTAINS(answer, "\"with\":\"[\\\"Oslo\\\",\\\"had a context\\\"]\"");
  CHECK_CONTAINS(answer, "\"without\":\"[\\\"oslo\\\",\\\"no context\\\"]\"");
  /* TOOL_START: own_sandbox and the hooked weather call only. */
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_TOOL_START), 2);
  hl_free(answer);
  hl_agent_unref(a);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

static void hook_abort_from_inside_stops_the_run(void) {
  atomic_int secret_calls = 0;
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "run_javascript",
    "{\"code\":\"try { await forbidden({}); } catch (e) { console.log('caught', e.message); } 1\"}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "should not be reached") == HL_OK);
  hl_agent *a = make_agent(p, NULL, &secret_calls);
  REQUIRE(a);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_ABORTED);
  CHECK(answer == NULL);
  CHECK_CONTAINS(hl_last_error(), "forbidden is not allowed");
  CHECK_INT(atomic_load(&secret_calls), 0);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void dashed_tool_names_become_javascript_names(void) {
  atomic_int secret_calls = 0;
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "run_javascript",
    "{\"code\":\"const r = await get_population({city: 'Oslo'});\\n"
    "[r, listCallbacks().map(c => c.name).join(',')]\"}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "model saw: {{result}}") == HL_OK);
  hl_agent *a = make_agent(p, NULL, &secret_calls);
  REQUIRE(a);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  /* The call reached the tool "get-population" (after_tool tags only
   * "population", so the bare number comes back). */
  CHECK_CONTAINS(answer, "[709000,");
  CHECK_CONTAINS(answer, "get_population,weather,population,secret,forbidden\"");
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void javascript_errors_reach_the_model(void) {
  atomic_int secret_calls = 0;
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "run_javascript",
    "{\"code\":\"await weather({town: 'x'})\"}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "model saw: {{result}}") == HL_OK);
  hl_agent *a = make_agent(p, NULL, &secret_calls);
  REQUIRE(a);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  CHECK_CONTAINS(answer, "missing required property");
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* What JavaScript strings allow and JSON for a model does not: a lone
 * surrogate and U+0000, in console output and in the return value. The
 * tool result must stay valid UTF-8 (lone surrogates used to be written
 * as invalid UTF-8) and keep its value (it used to become "result": null);
 * both become U+FFFD. */
static void odd_strings_reach_the_model_as_utf8(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "run_javascript",
    "{\"code\":\"console.log('lone \\\\ud800 here', 'nul \\\\u0000 end');"
    " ['x\\\\ud800y', 'a\\\\u0000b', '\\\\ud83d\\\\ude00']\"}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "model saw: {{result}}") == HL_OK);
  hl_agent *a = hl_agent_new("coder");
  REQUIRE(a);
  hl_agent_set_provider(a, p);
  hl_tool *code = hl_sandbox_code_tool(NULL);
  REQUIRE(code);
  hl_agent_add_tool(a, code);
  hl_tool_unref(code);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  REQUIRE(answer);
  CHECK(hl_utf8_valid(answer, strlen(answer)));
  CHECK(!strstr(answer, "\"result\":null"));
  CHECK_CONTAINS(answer, "lone \xEF\xBF\xBD here nul \xEF\xBF\xBD end");
  CHECK_CONTAINS(answer, "\"x\xEF\xBF\xBDy\",\"a\xEF\xBF\xBD" "b\",\"\xF0\x9F\x98\x80\"");
  if (check_failures_)
    fprintf(stderr, "answer: %s\n", answer);
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A tool that honours the context: works until the run is cancelled (at
 * most 10 s). */
static hl_status patient_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  struct timespec ms = {0, 1000000L};
  for (int i = 0; i < 10000; i++) {
    if (hl_context_cancelled(ctx))
      return hl_fail(HL_ERR_CANCELLED, "patient: cancelled");
    nanosleep(&ms, NULL);
  }
  *result = cJSON_CreateString("finished");
  return HL_OK;
}

typedef struct cancel_run {
  hl_agent *agent;
  hl_status status;
  uint64_t ended;
} cancel_run;

static void *run_agent(void *arg) {
  cancel_run *c = arg;
  char *answer = NULL;
  c->status = hl_agent_run(c->agent, NULL, "go", &answer);
  c->ended = now_ms();
  hl_free(answer);
  return NULL;
}

/* The model's code never reaches QuickJS's interrupt poll in time (a
 * string search in a loop) or waits in a tool; hl_agent_cancel() from
 * another thread must end the run within 50 ms, not at the sandbox's
 * 20 s timeout. */
static void cancel_reaches(const char *code_json) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "run_javascript", code_json) == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "should not be reached: {{result}}") == HL_OK);
  hl_agent *a = hl_agent_new("coder");
  REQUIRE(a);
  hl_agent_set_provider(a, p);
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.timeout_ms = 20000;
  l.memory_bytes = (size_t)128 << 20;
  hl_tool *code = hl_sandbox_code_tool(&l);
  hl_tool *patient = hl_tool_new("patient", "Waits until cancelled", patient_fn, NULL);
  REQUIRE(code && patient);
  hl_agent_add_tool(a, code);
  hl_agent_add_tool(a, patient);
  hl_tool_unref(code);
  hl_tool_unref(patient);

  cancel_run c = {a, HL_OK, 0};
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, run_agent, &c) == 0);
  struct timespec d = {0, 400 * 1000000L};
  nanosleep(&d, NULL);
  uint64_t cancelled = now_ms();
  hl_agent_cancel(a);
  pthread_join(t, NULL);
  long took = (long)(c.ended - cancelled);
  fprintf(stderr, "  run ended %ld ms after hl_agent_cancel\n", took);
  CHECK_INT(c.status, HL_ERR_CANCELLED);
  CHECK(took <= 50 + 250);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* hl_context_on_cancel() itself: a tool that cannot poll waits on a
 * condition variable that only the cancel notification signals; a
 * registration made after the cancel fires at once, on the registering
 * thread; after unregistering nothing fires. */
typedef struct waiter {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int fired;
} waiter;

static void wake_waiter(void *ud) {
  waiter *w = ud;
  pthread_mutex_lock(&w->lock);
  w->fired++;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

static atomic_int late_fired;
static void count_late(void *ud) {
  (void)ud;
  atomic_fetch_add(&late_fired, 1);
}

static hl_status waiter_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)result, (void)ud;
  waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  hl_cancel_reg *reg = hl_context_on_cancel(ctx, wake_waiter, &w);
  if (!reg)
    return hl_fail(HL_ERR_NOMEM, "waiter: cannot register");
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&w.lock);
  while (!w.fired && pthread_cond_timedwait(&w.cond, &w.lock, &until) == 0) {
  }
  int fired = w.fired;
  pthread_mutex_unlock(&w.lock);
  hl_context_cancel_unregister(reg);
  /* Already cancelled: fires during the call. */
  hl_cancel_reg *late = hl_context_on_cancel(ctx, count_late, NULL);
  int late_now = atomic_load(&late_fired);
  hl_context_cancel_unregister(late);
  pthread_mutex_destroy(&w.lock);
  pthread_cond_destroy(&w.cond);
  if (fired != 1 || late_now != 1)
    return hl_fail(HL_ERR_EXECUTION_FAILED, "waiter: fired %d, late %d", fired, late_now);
  return hl_fail(HL_ERR_CANCELLED, "waiter: cancelled");
}

static void cancel_notification_wakes_a_waiting_tool(void) {
  atomic_store(&late_fired, 0);
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  REQUIRE(hl_scripted_push_tool_call(p, "call-1", "waiter", "{}") == HL_OK);
  REQUIRE(hl_scripted_push_text(p, "should not be reached: {{result}}") == HL_OK);
  hl_agent *a = hl_agent_new("waiting");
  REQUIRE(a);
  hl_agent_set_provider(a, p);
  hl_tool *t = hl_tool_new("waiter", "Waits for the cancel notification", waiter_fn, NULL);
  REQUIRE(t);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  cancel_run c = {a, HL_OK, 0};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, run_agent, &c) == 0);
  struct timespec d = {0, 300 * 1000000L};
  nanosleep(&d, NULL);
  uint64_t cancelled = now_ms();
  hl_agent_cancel(a);
  pthread_join(th, NULL);
  CHECK_INT(c.status, HL_ERR_CANCELLED);
  CHECK(c.ended - cancelled <= 50 + 250);
  CHECK_INT(atomic_load(&late_fired), 1);
  hl_agent_cancel(a); /* nothing registered any more: nothing fires */
  CHECK_INT(atomic_load(&late_fired), 1);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void cancel_reaches_running_javascript(void) {
  cancel_reaches("{\"code\":\"const s = 'x'.repeat(4e6); let n = 0;"
                 " for (let i = 0; i < 1e4; i++) n += s.indexOf('y'); n\"}");
}

static void cancel_reaches_a_tool_called_from_javascript(void) {
  cancel_reaches("{\"code\":\"const r = await patient({}); console.log(r); r\"}");
}

int main(void) {
  RUN(model_code_calls_two_tools_in_parallel);
  RUN(execute_with_a_context_takes_the_hooked_path);
  RUN(hook_abort_from_inside_stops_the_run);
  RUN(dashed_tool_names_become_javascript_names);
  RUN(javascript_errors_reach_the_model);
  RUN(odd_strings_reach_the_model_as_utf8);
  RUN(cancel_notification_wakes_a_waiting_tool);
  RUN(cancel_reaches_running_javascript);
  RUN(cancel_reaches_a_tool_called_from_javascript);
  return CHECK_EXIT();
}
