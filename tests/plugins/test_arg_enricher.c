/*
 * tests/plugins/test_arg_enricher.c - fields added or forced by the
 * enricher reach the tool (mutation by pointer, H7), the events and the
 * schema check.
 */
#include <pthread.h>

#include "check.h"
#include "fixture.h"

/* A tool that remembers the arguments of each call, in call order. */
typedef struct recorder {
  pthread_mutex_t lock;
  char *seen[8];
  int n;
} recorder;

static hl_status record_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  recorder *r = ud;
  char *text = cJSON_PrintUnformatted(args);
  pthread_mutex_lock(&r->lock);
  if (r->n < 8)
    r->seen[r->n++] = text;
  else
    free(text);
  pthread_mutex_unlock(&r->lock);
  *result = cJSON_CreateString("sunny");
  return HL_OK;
}

static void recorder_clear(recorder *r)
{
  for (int i = 0; i < r->n; i++)
    free(r->seen[i]);
  r->n = 0;
}

static hl_tool *weather_tool(recorder *r)
{
  hl_tool *t = hl_tool_new("weather", "Weather for a city.", record_fn, r);
  const char *units[] = {"c", "f", NULL};
  hl_tool_param(t, "city", "string", "city", true);
  hl_tool_param_enum(t, "units", "units", false, units);
  hl_tool_param(t, "safe", "boolean", "safe mode", false);
  return t;
}

static void enricher_defaults_and_overrides_reach_tool(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "weather", "{\"city\":\"Oslo\"}");
  hl_scripted_push_tool_call(p, "c2", "weather",
                             "{\"city\":\"Rome\",\"units\":\"f\",\"safe\":false}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("weatherman", p);
  recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_tool *t = weather_tool(&rec);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_observer *events = hl_observer_collecting();
  hl_agent_add_observer(agent, events);

  hl_arg_enricher *e = hl_arg_enricher_new();
  REQUIRE(e);
  REQUIRE(hl_arg_enricher_add(e, "weather", "{\"units\":\"c\"}", false) == HL_OK);
  REQUIRE(hl_arg_enricher_add(e, "*", "{\"safe\":true}", true) == HL_OK);
  REQUIRE(hl_arg_enricher_add(e, "other_tool", "{\"units\":\"f\"}", true) == HL_OK);
  REQUIRE(hl_arg_enricher_install(e, hl_agent_hooks(agent)) == HL_OK);

  CHECK_RUN(agent, NULL, "weather please", "done");
  REQUIRE(rec.n == 2);
  /* Default added where missing, forced field added. */
  cJSON *first = cJSON_Parse(rec.seen[0]);
  CHECK_STR(hl_json_get_string(first, "city"), "Oslo");
  CHECK_STR(hl_json_get_string(first, "units"), "c");
  CHECK(hl_json_get_bool(first, "safe", false));
  cJSON_Delete(first);
  /* Default does not replace the model's value; override does. */
  cJSON *second = cJSON_Parse(rec.seen[1]);
  CHECK_STR(hl_json_get_string(second, "units"), "f");
  CHECK(hl_json_get_bool(second, "safe", false));
  cJSON_Delete(second);
  CHECK_INT(hl_arg_enricher_applied(e), 2);

  /* TOOL_START reports the enriched arguments too. */
  cJSON *all = hl_observer_collected(events);
  int starts = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, all) {
    const char *type = hl_json_get_string(ev, "type");
    if (!type || strcmp(type, "tool_start") != 0)
      continue;
    starts++;
    CHECK(hl_json_get_bool(hl_json_get(ev, "args"), "safe", false));
    CHECK(hl_json_get_string(hl_json_get(ev, "args"), "units") != NULL);
  }
  CHECK_INT(starts, 2);
  cJSON_Delete(all);

  recorder_clear(&rec);
  hl_arg_enricher_unref(e);
  hl_observer_unref(events);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void enriched_arguments_are_validated(void)
{
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "weather", "{\"city\":\"Oslo\"}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = fx_agent("strict", p);
  recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_tool *t = weather_tool(&rec);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  hl_arg_enricher *e = hl_arg_enricher_new();
  /* "kelvin" is not in the enum: the schema check after the hook rejects it. */
  REQUIRE(hl_arg_enricher_add(e, "weather", "{\"units\":\"kelvin\"}", true) == HL_OK);
  REQUIRE(hl_arg_enricher_install(e, hl_agent_hooks(agent)) == HL_OK);
  hl_arg_enricher_unref(e);
  char *ans = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "weather", &ans), HL_OK);
  hl_free(ans);
  CHECK_INT(rec.n, 0);
  char *results = fx_request_tool_results(p, 1);
  CHECK_CONTAINS(results, "kelvin");
  free(results);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void enricher_rejects_bad_rules(void)
{
  hl_arg_enricher *e = hl_arg_enricher_new();
  CHECK_INT(hl_arg_enricher_add(e, "t", "{not json", false), HL_ERR_JSON);
  CHECK_INT(hl_arg_enricher_add(e, "t", "[1,2]", false), HL_ERR_INVALID);
  CHECK_INT(hl_arg_enricher_add(e, "t", NULL, false), HL_ERR_INVALID);
  CHECK_INT(hl_arg_enricher_install(e, NULL), HL_ERR_INVALID);
  hl_arg_enricher_unref(e);
}

int main(void)
{
  RUN(enricher_defaults_and_overrides_reach_tool);
  RUN(enriched_arguments_are_validated);
  RUN(enricher_rejects_bad_rules);
  return CHECK_EXIT();
}
