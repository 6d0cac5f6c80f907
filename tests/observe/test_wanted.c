/*
 * tests/observe/test_wanted.c - observers that declare the event types
 * they want (hl_observer_set_events()): they get only those, and the
 * library does not build the events (nor their payloads) that no observer
 * of a run wants; observers carried by a hook set (hl_hooks_add_observer()).
 */
#include <stdatomic.h>
#include <string.h>

#include <hookline.h>
#include "agent/observer_internal.h"
#include "check.h"

typedef struct counts {
  atomic_int by_type[HL_EVENT_TYPE_COUNT];
  atomic_int total;
} counts;

static int count_fn(const hl_event *ev, void *ud) {
  counts *c = ud;
  atomic_fetch_add(&c->by_type[ev->type], 1);
  atomic_fetch_add(&c->total, 1);
  return 0;
}

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_CreateNumber(hl_json_get_number(args, "a", 0) + hl_json_get_number(args, "b", 0));
  return *result ? HL_OK : HL_ERR_NOMEM;
}

/* One tool call, then the answer: every event type of an ordinary run. */
static hl_agent *calc_agent(hl_provider **p_out) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "calculator", "{\"a\":2,\"b\":3}");
  hl_scripted_push_text(p, "It is 5.");
  hl_agent *agent = hl_agent_new("bot");
  hl_agent_set_provider(agent, p);
  hl_tool *calc = hl_tool_new("calculator", "Adds.", add_fn, NULL);
  hl_tool_param(calc, "a", "number", "first", true);
  hl_tool_param(calc, "b", "number", "second", true);
  hl_agent_add_tool(agent, calc);
  hl_tool_unref(calc);
  *p_out = p;
  return agent;
}

static void run_it(hl_agent *agent) {
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "2+3?", &answer), HL_OK);
  CHECK_STR(answer, "It is 5.");
  hl_free(answer);
}

static void defaults_follow_the_registration_style(void) {
  counts c = {0};
  hl_observer *fn = hl_observer_new(count_fn, &c);
  CHECK(hl_observer_events(fn) == HL_EVENT_MASK_ALL);
  hl_observer *noop = hl_observer_noop();
  CHECK(hl_observer_events(noop) == 0);
  hl_observer *col = hl_observer_collecting();
  CHECK(hl_observer_events(col) == HL_EVENT_MASK_ALL);
  /* struct style: the types with a function */
  hl_observer_ops ops = {.size = sizeof ops, .tool_end = count_fn, .lm_end = count_fn};
  hl_observer *st = hl_observer_new_ops(&ops, &c);
  CHECK(hl_observer_events(st) ==
        (HL_EVENT_MASK(HL_EVENT_TOOL_END) | HL_EVENT_MASK(HL_EVENT_LM_END)));
  /* a composite: its children's union, narrowed by its own declaration */
  hl_observer *comp = hl_observer_composite();
  CHECK(hl_observer_events(comp) == 0);
  hl_observer_composite_add(comp, st);
  hl_observer_composite_add(comp, noop);
  CHECK(hl_observer_events(comp) == hl_observer_events(st));
  CHECK_INT(hl_observer_set_events(comp, HL_EVENT_MASK(HL_EVENT_TOOL_END)), HL_OK);
  CHECK(hl_observer_events(comp) == HL_EVENT_MASK(HL_EVENT_TOOL_END));
  /* unknown bits are dropped; "everything" can be restored */
  CHECK_INT(hl_observer_set_events(fn, 0xffffffffu), HL_OK);
  CHECK(hl_observer_events(fn) == HL_EVENT_MASK_ALL);
  CHECK_INT(hl_observer_set_events(NULL, 0), HL_ERR_INVALID);
  CHECK(hl_observer_events(NULL) == 0);
  hl_observer_unref(fn);
  hl_observer_unref(noop);
  hl_observer_unref(col);
  hl_observer_unref(st);
  hl_observer_unref(comp);
}

/* Next to an observer that wants everything, one that wants two types
 * gets exactly those two, and the other still gets everything. */
static void an_observer_gets_only_the_types_it_wants(void) {
  hl_provider *p;
  hl_agent *agent = calc_agent(&p);
  REQUIRE(agent && p);
  counts few = {0}, all = {0};
  hl_observer *o_few = hl_observer_new(count_fn, &few);
  hl_observer *o_all = hl_observer_new(count_fn, &all);
  hl_observer_set_events(o_few, HL_EVENT_MASK(HL_EVENT_TOOL_START) | HL_EVENT_MASK(HL_EVENT_TOOL_END));
  hl_agent_add_observer(agent, o_few);
  hl_agent_add_observer(agent, o_all);
  run_it(agent);
  CHECK_INT(atomic_load(&few.by_type[HL_EVENT_TOOL_START]), 1);
  CHECK_INT(atomic_load(&few.by_type[HL_EVENT_TOOL_END]), 1);
  CHECK_INT(atomic_load(&few.total), 2);
  CHECK_INT(atomic_load(&all.by_type[HL_EVENT_AGENT_START]), 1);
  CHECK_INT(atomic_load(&all.by_type[HL_EVENT_API_REQUEST]), 2);
  CHECK_INT(atomic_load(&all.by_type[HL_EVENT_TURN_END]), 2);
  CHECK(atomic_load(&all.total) > 10);
  /* a direct notify is filtered the same way */
  hl_event ev = {.size = sizeof ev, .type = HL_EVENT_CUSTOM, .name = "x"};
  hl_observer_notify(o_few, &ev);
  CHECK_INT(atomic_load(&few.total), 2);
  hl_observer_unref(o_few);
  hl_observer_unref(o_all);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* What nobody wants is not built: no event, and no payload made only for
 * one (the scripted provider's request/response JSON, TURN_END's tool
 * summary). Counted per thread by the library; the scripted provider and
 * the turn's end run on the run's own thread. */
static void events_nobody_wants_are_not_built(void) {
  hl_provider *p;
  hl_agent *agent = calc_agent(&p);
  REQUIRE(agent && p);
  counts c = {0};
  hl_observer *obs = hl_observer_new(count_fn, &c);
  hl_observer_set_events(obs, HL_EVENT_MASK(HL_EVENT_AGENT_END));
  hl_agent_add_observer(agent, obs);
  memset(&hl__event_built, 0, sizeof hl__event_built);
  run_it(agent);
  CHECK_INT(atomic_load(&c.total), 1);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_AGENT_END], 1);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_API_REQUEST], 0);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_API_RESPONSE], 0);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_TURN_END], 0);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_LM_START], 0);
  CHECK_INT(hl__event_built.payloads, 0);

  /* the same run, the observer now wanting everything: all is built */
  hl_observer_set_events(obs, HL_EVENT_MASK_ALL);
  hl_scripted_push_tool_call(p, "c1", "calculator", "{\"a\":2,\"b\":3}");
  hl_scripted_push_text(p, "It is 5.");
  memset(&hl__event_built, 0, sizeof hl__event_built);
  run_it(agent);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_API_REQUEST], 2);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_API_RESPONSE], 2);
  CHECK_INT(hl__event_built.emitted[HL_EVENT_TURN_END], 2);
  /* 2 requests, 2 responses, 1 tool summary */
  CHECK_INT(hl__event_built.payloads, 5);
  hl_observer_unref(obs);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* A tool asks its context what the run's observers want; global
 * observers count, and a new declaration holds for the next run. */
static atomic_int wants_lm_end, wants_api_request;
static hl_status probe_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  atomic_store(&wants_lm_end, hl_context_wants_event(ctx, HL_EVENT_LM_END));
  atomic_store(&wants_api_request, hl_context_wants_event(ctx, HL_EVENT_API_REQUEST));
  *result = cJSON_CreateString("ok");
  return HL_OK;
}

static void global_observers_count_in_the_union(void) {
  hl_provider *p = hl_scripted_new();
  hl_agent *agent = hl_agent_new("probe");
  REQUIRE(p && agent);
  hl_agent_set_provider(agent, p);
  hl_tool *t = hl_tool_new("probe", "Probes.", probe_fn, NULL);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  counts c = {0};
  hl_observer *g = hl_observer_new(count_fn, &c);
  hl_observer_set_events(g, HL_EVENT_MASK(HL_EVENT_LM_END));
  REQUIRE(hl_observer_add_global(g) == HL_OK);
  for (int round = 0; round < 2; round++) {
    hl_scripted_push_tool_call(p, "c1", "probe", "{}");
    hl_scripted_push_text(p, "done");
    char *answer = NULL;
    CHECK_INT(hl_agent_run(agent, NULL, "probe", &answer), HL_OK);
    hl_free(answer);
    CHECK_INT(atomic_load(&wants_lm_end), 1);
    CHECK_INT(atomic_load(&wants_api_request), round == 1);
    /* already global: the declaration reaches the union at once */
    hl_observer_set_events(g, HL_EVENT_MASK(HL_EVENT_LM_END) | HL_EVENT_MASK(HL_EVENT_API_REQUEST));
  }
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_LM_END]), 4);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_API_REQUEST]), 2); /* the second run's */
  CHECK_INT(atomic_load(&c.total), 6);
  hl_observer_clear_global();
  CHECK(!hl_context_wants_event(NULL, HL_EVENT_LM_END));
  hl_observer_unref(g);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* An observer attached to a hook set sees the runs that use the set, and
 * goes when the hooks of its name are removed. */
static hl_hook_action noop_before_model(hl_context *ctx, const hl_before_model_args *a,
                                        hl_before_model_out *o, void *ud) {
  (void)ctx, (void)a, (void)o, (void)ud;
  return HL_HOOK_CONTINUE;
}

static void a_hook_set_carries_observers(void) {
  hl_provider *p;
  hl_agent *agent = calc_agent(&p);
  REQUIRE(agent && p);
  counts c = {0};
  hl_observer *obs = hl_observer_new(count_fn, &c);
  hl_observer_set_events(obs, HL_EVENT_MASK(HL_EVENT_TOOL_END));
  hl_hooks *hooks = hl_agent_hooks(agent);
  CHECK_INT(hl_hooks_add_before_model(hooks, "mine", HL_HOOK_OBSERVE, noop_before_model, NULL),
            HL_OK);
  CHECK_INT(hl_hooks_add_observer(hooks, "mine", obs), HL_OK);
  CHECK_INT(hl_hooks_add_observer(hooks, NULL, obs), HL_ERR_INVALID);
  CHECK_INT(hl_hooks_observer_count(hooks), 1);
  run_it(agent);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_TOOL_END]), 1);
  CHECK_INT(atomic_load(&c.total), 1);
  /* removing "mine" removes its hook and its observer */
  CHECK_INT(hl_hooks_remove(hooks, "mine"), HL_OK);
  CHECK_INT(hl_hooks_observer_count(hooks), 0);
  hl_scripted_push_tool_call(p, "c1", "calculator", "{\"a\":2,\"b\":3}");
  hl_scripted_push_text(p, "It is 5.");
  run_it(agent);
  CHECK_INT(atomic_load(&c.total), 1);
  /* an observer alone under a name can be removed by that name too */
  CHECK_INT(hl_hooks_add_observer(hooks, "watch", obs), HL_OK);
  CHECK_INT(hl_hooks_remove(hooks, "watch"), HL_OK);
  CHECK_INT(hl_hooks_remove(hooks, "watch"), HL_ERR_NOT_FOUND);
  /* the global set's observers see every run */
  CHECK_INT(hl_hooks_add_observer(hl_hooks_global(), "g", obs), HL_OK);
  hl_scripted_push_tool_call(p, "c1", "calculator", "{\"a\":2,\"b\":3}");
  hl_scripted_push_text(p, "It is 5.");
  run_it(agent);
  CHECK_INT(atomic_load(&c.total), 2);
  hl_hooks_clear(hl_hooks_global());
  CHECK_INT(hl_hooks_observer_count(hl_hooks_global()), 0);
  hl_observer_unref(obs);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(defaults_follow_the_registration_style);
  RUN(an_observer_gets_only_the_types_it_wants);
  RUN(events_nobody_wants_are_not_built);
  RUN(global_observers_count_in_the_union);
  RUN(a_hook_set_carries_observers);
  return CHECK_EXIT();
}
