/*
 * tests/sandbox/sandbox_code_mode.c - the sandbox as the run_javascript
 * tool of an agent: the scripted model writes code that calls two of the
 * agent's tools in parallel and returns their combined result; every call
 * from JavaScript passes through before_tool/after_tool and the TOOL
 * events like a direct call (argument mutation, override, abort).
 */
#include <hookline.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"

static atomic_int running, max_running;

/* Counts overlapping calls; waits (up to 5 s) for the other tool of the
 * pair so that a loaded machine cannot hide real concurrency. Called
 * one after the other, the two never meet and the count stays at 1. */
static void note_running(void) {
  int now = atomic_fetch_add(&running, 1) + 1;
  int seen = atomic_load(&max_running);
  while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now)) {
  }
  struct timespec ms = {0, 1000000L};
  for (int waited = 0; waited < 5000 && atomic_load(&max_running) < 2; waited++)
    nanosleep(&ms, NULL);
  atomic_fetch_sub(&running, 1);
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

int main(void) {
  RUN(model_code_calls_two_tools_in_parallel);
  RUN(hook_abort_from_inside_stops_the_run);
  RUN(dashed_tool_names_become_javascript_names);
  RUN(javascript_errors_reach_the_model);
  return CHECK_EXIT();
}
