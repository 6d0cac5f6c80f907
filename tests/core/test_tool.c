/* test_tool.c - tool declaration, the schema builder, and calling the
 * native backend: validation, results, failures, time limits, refcounts. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "check.h"
#include "hookline/json.h"
#include "hookline/tool.h"

static cJSON *parse(const char *text) {
  cJSON *v = NULL;
  if (hl_json_parse(text, (size_t)-1, &v) != HL_OK) fprintf(stderr, "parse: %s\n", hl_last_error());
  return v;
}

/* ---- tool functions used below ---- */

static atomic_int calls;

/* Echo: {"city": c} -> "weather in c"; counts calls; checks user_data. */
static hl_status weather_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  atomic_fetch_add(&calls, 1);
  char buf[128];
  snprintf(buf, sizeof buf, "%s in %s", (const char *)ud, hl_json_get_string(args, "city"));
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static hl_status failing_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  *result = cJSON_CreateString("partial"); /* must be freed by the library */
  return hl_fail(HL_ERR_EXECUTION_FAILED, "disk full: %s", "/var/data");
}

static hl_status silent_failure_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)result, (void)ud;
  return HL_ERR_EXECUTION_FAILED; /* no hl_fail(): the library supplies a message */
}

static hl_status no_result_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)result, (void)ud;
  return HL_OK;
}

static hl_status ctx_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  *(hl_context **)ud = ctx;
  *result = cJSON_CreateTrue();
  return HL_OK;
}

/* A gate the slow tool waits on, so the test decides when it finishes
 * instead of relying on sleeps. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open;
  bool freed; /* the tool's free_fn ran */
} gate;

static void gate_wait(gate *g, bool *flag) {
  pthread_mutex_lock(&g->mu);
  while (!*flag) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void gate_set(gate *g, bool *flag) {
  pthread_mutex_lock(&g->mu);
  *flag = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static hl_status slow_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  gate *g = ud;
  gate_wait(g, &g->open);
  /* Reads the arguments after the caller gave up: they must still live. */
  *result = cJSON_CreateString(hl_json_get_string(args, "city"));
  return HL_OK;
}

static void gate_free(void *ud) {
  gate *g = ud;
  gate_set(g, &g->freed);
}

/* ---- tests ---- */

static void names_are_validated(void) {
  hl_tool *t = hl_tool_new("get_weather-2", "d", weather_fn, NULL);
  CHECK(t != NULL);
  hl_tool_unref(t);
  char name64[65], name65[66];
  memset(name64, 'a', 64);
  name64[64] = '\0';
  memset(name65, 'a', 65);
  name65[65] = '\0';
  t = hl_tool_new(name64, NULL, weather_fn, NULL);
  CHECK(t != NULL);
  CHECK_STR(hl_tool_description(t), "");
  hl_tool_unref(t);
  const char *bad[] = {"", name65, "has space", "dot.name", "caf\xc3\xa9", "semi;colon"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(hl_tool_new(bad[i], "d", weather_fn, NULL) == NULL);
    CHECK_INT(hl_last_status(), HL_ERR_INVALID);
    CHECK_CONTAINS(hl_last_error(), "invalid tool name");
  }
  CHECK(hl_tool_new(NULL, "d", weather_fn, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(hl_tool_new("ok", "d", NULL, NULL) == NULL);
  CHECK_CONTAINS(hl_last_error(), "has no function");
}

static void builder_produces_the_schema(void) {
  hl_tool *t = hl_tool_new("weather", "Current weather", weather_fn, "Sun");
  REQUIRE(t != NULL);
  CHECK_INT(hl_tool_param(t, "city", "string", "City name", true), HL_OK);
  CHECK_INT(hl_tool_param(t, "days", "integer", NULL, false), HL_OK);
  const char *units[] = {"c", "f", NULL};
  CHECK_INT(hl_tool_param_enum(t, "unit", "Unit", false, units), HL_OK);
  cJSON *addr = parse("{\"type\":\"object\",\"properties\":{\"zip\":{\"type\":\"string\"}}}");
  CHECK_INT(hl_tool_param_schema(t, "address", addr, false), HL_OK);
  cJSON_Delete(addr);
  cJSON *want = parse(
      "{\"type\":\"object\",\"properties\":{"
      "\"city\":{\"type\":\"string\",\"description\":\"City name\"},"
      "\"days\":{\"type\":\"integer\"},"
      "\"unit\":{\"type\":\"string\",\"description\":\"Unit\",\"enum\":[\"c\",\"f\"]},"
      "\"address\":{\"type\":\"object\",\"properties\":{\"zip\":{\"type\":\"string\"}}}},"
      "\"required\":[\"city\"]}");
  CHECK(hl_json_equal(hl_tool_schema(t), want));
  CHECK_INT(hl_schema_check(hl_tool_schema(t)), HL_OK);
  cJSON_Delete(want);
  CHECK_STR(hl_tool_name(t), "weather");
  CHECK_STR(hl_tool_description(t), "Current weather");
  CHECK_STR((const char *)hl_tool_user_data(t), "Sun");
  hl_tool_unref(t);
}

static void builder_refuses_bad_parameters(void) {
  hl_tool *t = hl_tool_new("w", "d", weather_fn, NULL);
  REQUIRE(t != NULL);
  CHECK_INT(hl_tool_param(t, "city", "string", NULL, true), HL_OK);
  CHECK_INT(hl_tool_param(t, "city", "number", NULL, false), HL_ERR_EXISTS);
  CHECK_CONTAINS(hl_last_error(), "parameter \"city\" is already declared");
  CHECK_INT(hl_tool_param(t, "x", "strin", NULL, false), HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(), "unknown type \"strin\"");
  CHECK_INT(hl_tool_param(t, "x", "null", NULL, false), HL_ERR_SCHEMA);
  CHECK_INT(hl_tool_param(t, "", "string", NULL, false), HL_ERR_INVALID);
  const char *none[] = {NULL};
  CHECK_INT(hl_tool_param_enum(t, "e", NULL, false, none), HL_ERR_SCHEMA);
  cJSON *bad = parse("{\"type\":\"object\",\"properties\":{\"zip\":{\"anyOf\":[]}}}");
  CHECK_INT(hl_tool_param_schema(t, "address", bad, false), HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(),
                 "schema $.properties.address.properties.zip: unsupported keyword \"anyOf\"");
  cJSON_Delete(bad);
  /* Nothing of the refused parameters reached the schema. */
  cJSON *want = parse("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                      "\"required\":[\"city\"]}");
  CHECK(hl_json_equal(hl_tool_schema(t), want));
  cJSON_Delete(want);
  hl_tool_unref(t);
}

static void raw_schema_replaces_or_is_refused(void) {
  hl_tool *t = hl_tool_new("w", "d", weather_fn, NULL);
  REQUIRE(t != NULL);
  const char *good = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
                     "\"required\":[\"city\"]}";
  CHECK_INT(hl_tool_set_schema(t, good), HL_OK);
  cJSON *want = parse(good);
  CHECK(hl_json_equal(hl_tool_schema(t), want));
  CHECK_INT(hl_tool_set_schema(t, "{\"type\":\"object\","), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "schema: invalid JSON at byte 17: unexpected end of input");
  CHECK(hl_json_equal(hl_tool_schema(t), want));
  CHECK_INT(hl_tool_set_schema(t, "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strin\"}}}"),
            HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(), "schema $.properties.a.type: unknown type \"strin\"");
  CHECK(hl_json_equal(hl_tool_schema(t), want));
  CHECK_INT(hl_tool_set_schema(t, "{\"type\":\"string\"}"), HL_ERR_SCHEMA);
  CHECK_CONTAINS(hl_last_error(), "needs an object schema");
  CHECK(hl_json_equal(hl_tool_schema(t), want));
  /* The builder extends a raw schema. */
  CHECK_INT(hl_tool_param(t, "days", "integer", NULL, true), HL_OK);
  CHECK_INT(cJSON_GetArraySize(hl_json_get(hl_tool_schema(t), "required")), 2);
  cJSON_Delete(want);
  hl_tool_unref(t);
}

static void invoke_validates_then_calls(void) {
  hl_tool *t = hl_tool_new("weather", "d", weather_fn, "Sun");
  REQUIRE(t != NULL);
  hl_tool_param(t, "city", "string", NULL, true);
  atomic_store(&calls, 0);
  cJSON *args = parse("{\"city\":\"Paris\"}");
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "Sun in Paris") == 0);
  cJSON_Delete(res);
  cJSON_Delete(args);
  args = parse("{\"city\":5}");
  res = (cJSON *)1;
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$.city: expected string, got number");
  CHECK(res == NULL);
  cJSON_Delete(args);
  /* NULL arguments mean {} - and city is required. */
  CHECK_INT(hl_tool_invoke(t, NULL, NULL, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$: missing required property \"city\"");
  args = parse("[\"Paris\"]");
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$: expected object, got array");
  cJSON_Delete(args);
  CHECK_INT(atomic_load(&calls), 1); /* only the valid call ran */
  hl_tool_unref(t);
}

static void strict_tools_refuse_unknown_arguments(void) {
  hl_tool *t = hl_tool_new("weather", "d", weather_fn, "Rain");
  REQUIRE(t != NULL);
  hl_tool_param(t, "city", "string", NULL, true);
  cJSON *args = parse("{\"city\":\"Oslo\",\"extra\":1}");
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_OK);
  cJSON_Delete(res);
  res = NULL;
  CHECK_INT(hl_tool_set_strict(t, true), HL_OK);
  CHECK(cJSON_IsFalse(hl_json_get(hl_tool_schema(t), "additionalProperties")));
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_STR(hl_last_error(), "$: unexpected property \"extra\"");
  CHECK_INT(hl_tool_set_strict(t, false), HL_OK);
  CHECK(hl_json_get(hl_tool_schema(t), "additionalProperties") == NULL);
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_OK);
  cJSON_Delete(res);
  cJSON_Delete(args);
  hl_tool_unref(t);
}

static void execution_failure_keeps_the_tools_message(void) {
  hl_tool *t = hl_tool_new("writer", "d", failing_fn, NULL);
  REQUIRE(t != NULL);
  cJSON *res = (cJSON *)1;
  CHECK_INT(hl_tool_invoke(t, NULL, NULL, &res), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "disk full: /var/data");
  CHECK_INT(hl_last_status(), HL_ERR_EXECUTION_FAILED);
  CHECK(res == NULL);
  /* The same through the worker thread of a timed call. */
  hl_tool_set_timeout_ms(t, 60000);
  CHECK_INT(hl_tool_timeout_ms(t), 60000);
  hl_clear_error();
  CHECK_INT(hl_tool_invoke(t, NULL, NULL, &res), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "disk full: /var/data");
  CHECK(res == NULL);
  hl_tool_unref(t);
}

static void failure_without_message_gets_one(void) {
  hl_tool *t = hl_tool_new("quiet", "d", silent_failure_fn, NULL);
  REQUIRE(t != NULL);
  hl_fail(HL_ERR_EXECUTION_FAILED, "stale message from before");
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, NULL, NULL, &res), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "tool \"quiet\" failed: execution failed");
  hl_tool_unref(t);
}

static void success_without_result_is_null(void) {
  hl_tool *t = hl_tool_new("nothing", "d", no_result_fn, NULL);
  REQUIRE(t != NULL);
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, NULL, NULL, &res), HL_OK);
  CHECK(cJSON_IsNull(res));
  cJSON_Delete(res);
  hl_tool_unref(t);
}

static void context_is_passed_through(void) {
  hl_context *seen = NULL;
  hl_tool *t = hl_tool_new("ctx", "d", ctx_fn, &seen);
  REQUIRE(t != NULL);
  int marker;
  hl_context *fake = (hl_context *)&marker; /* never dereferenced by the library */
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, fake, NULL, &res), HL_OK);
  CHECK(seen == fake);
  cJSON_Delete(res);
  hl_tool_unref(t);
}

static void timeout_returns_and_late_result_is_discarded(void) {
  static gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
  hl_tool *t = hl_tool_new("slow", "d", slow_fn, &g);
  REQUIRE(t != NULL);
  hl_tool_set_free_fn(t, gate_free);
  hl_tool_param(t, "city", "string", NULL, true);
  hl_tool_set_timeout_ms(t, 50);
  cJSON *args = parse("{\"city\":\"Lima\"}");
  cJSON *res = (cJSON *)1;
  /* The gate stays closed, so the call cannot finish before its limit. */
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_ERR_TIMEOUT);
  CHECK_STR(hl_last_error(), "tool \"slow\" timed out after 50 ms");
  CHECK(res == NULL);
  /* The caller's arguments and reference go away while the worker runs. */
  cJSON_Delete(args);
  hl_tool_unref(t);
  CHECK(!g.freed); /* the worker still holds the tool */
  gate_set(&g, &g.open);
  /* The worker drops the last reference (running free_fn) after it has
   * freed its late result; ASan reports a leak if it did not. */
  gate_wait(&g, &g.freed);
  CHECK(g.freed);
}

static void timed_call_that_finishes_returns_its_result(void) {
  static gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, false};
  hl_tool *t = hl_tool_new("slow", "d", slow_fn, &g);
  REQUIRE(t != NULL);
  hl_tool_set_timeout_ms(t, 60000);
  cJSON *args = parse("{\"city\":\"Quito\"}");
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(t, NULL, args, &res), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "Quito") == 0);
  cJSON_Delete(res);
  cJSON_Delete(args);
  hl_tool_unref(t);
}

static atomic_int frees;
static void count_free(void *ud) {
  (void)ud;
  atomic_fetch_add(&frees, 1);
}

static void *ref_unref_loop(void *arg) {
  hl_tool *t = arg;
  for (int i = 0; i < 20000; i++) hl_tool_unref(hl_tool_ref(t));
  return NULL;
}

static void refcount_is_atomic_and_frees_once(void) {
  atomic_store(&frees, 0);
  hl_tool *t = hl_tool_new("shared", "d", weather_fn, NULL);
  REQUIRE(t != NULL);
  hl_tool_set_free_fn(t, count_free);
  CHECK(hl_tool_ref(t) == t);
  pthread_t th[6];
  for (int i = 0; i < 6; i++) pthread_create(&th[i], NULL, ref_unref_loop, t);
  for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
  hl_tool_unref(t);
  CHECK_INT(atomic_load(&frees), 0);
  hl_tool_unref(t);
  CHECK_INT(atomic_load(&frees), 1);
}

static void *invoke_loop(void *arg) {
  hl_tool *t = arg;
  cJSON *args = parse("{\"city\":\"Rome\"}");
  for (int i = 0; i < 200; i++) {
    cJSON *res = NULL;
    if (hl_tool_invoke(t, NULL, args, &res) != HL_OK) atomic_fetch_add(&frees, 1000);
    cJSON_Delete(res);
  }
  cJSON_Delete(args);
  return NULL;
}

static void concurrent_invocations(void) {
  atomic_store(&frees, 0);
  atomic_store(&calls, 0);
  hl_tool *t = hl_tool_new("weather", "d", weather_fn, "Fog");
  REQUIRE(t != NULL);
  hl_tool_param(t, "city", "string", NULL, true);
  hl_tool_set_timeout_ms(t, 60000); /* exercise the worker-thread path too */
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, invoke_loop, t);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  CHECK_INT(atomic_load(&frees), 0);
  CHECK_INT(atomic_load(&calls), 800);
  hl_tool_unref(t);
}

int main(void) {
  RUN(names_are_validated);
  RUN(builder_produces_the_schema);
  RUN(builder_refuses_bad_parameters);
  RUN(raw_schema_replaces_or_is_refused);
  RUN(invoke_validates_then_calls);
  RUN(strict_tools_refuse_unknown_arguments);
  RUN(execution_failure_keeps_the_tools_message);
  RUN(failure_without_message_gets_one);
  RUN(success_without_result_is_null);
  RUN(context_is_passed_through);
  RUN(timeout_returns_and_late_result_is_discarded);
  RUN(timed_call_that_finishes_returns_its_result);
  RUN(refcount_is_atomic_and_frees_once);
  RUN(concurrent_invocations);
  return CHECK_EXIT();
}
