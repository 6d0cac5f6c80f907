/*
 * tests/agents/test_router.c - one model call picks the sub-agent; unclear
 * or failed picks go to the fallback.
 */
#include "check.h"
#include "fixture.h"

typedef struct desk {
  hl_agent *router;
  hl_provider *selector;   /* the router's provider */
  hl_provider *billing, *tech, *general;
  hl_observer *events;
} desk;

static void desk_open(desk *d, const char *fallback, const char *const *picks)
{
  d->selector = hl_scripted_new();
  for (size_t i = 0; picks && picks[i]; i++)
    hl_scripted_push_text(d->selector, picks[i]);
  d->router = hl_router_agent_new("desk", d->selector, "router-model", fallback);
  hl_agent *b = fx_llm("billing", (const char *[]){"billing here", NULL}, &d->billing);
  hl_agent_set_description(b, "Invoices, refunds and payments.");
  hl_agent *t = fx_llm("tech", (const char *[]){"tech here", NULL}, &d->tech);
  hl_agent_set_description(t, "Technical problems with the product.");
  hl_agent *g = fx_llm("general", (const char *[]){"general here", NULL}, &d->general);
  hl_agent_set_description(g, "Anything else.");
  fx_adopt(d->router, b);
  fx_adopt(d->router, t);
  fx_adopt(d->router, g);
  d->events = hl_observer_collecting();
  hl_agent_add_observer(d->router, d->events);
}

static void desk_close(desk *d)
{
  hl_observer_unref(d->events);
  hl_agent_unref(d->router);
  hl_provider_unref(d->selector);
}

/* The "route" event's data: agent name and fallback flag. */
static void check_route(desk *d, const char *agent, bool fallback)
{
  cJSON *all = hl_observer_collected(d->events);
  const cJSON *ev, *data = NULL;
  cJSON_ArrayForEach(ev, all) {
    const char *nm = hl_json_get_string(ev, "name");
    if (nm && !strcmp(nm, "route"))
      data = hl_json_get(ev, "data");
  }
  CHECK_STR(hl_json_get_string(data, "agent"), agent);
  CHECK(hl_json_get_bool(data, "fallback", !fallback) == fallback);
  cJSON_Delete(all);
}

static void router_picks_by_model_answer(void)
{
  desk d;
  desk_open(&d, "general", (const char *[]){"billing", NULL});
  REQUIRE(d.router);
  fx_trace trace = FX_TRACE_INIT;
  hl_hooks_add_before_model(hl_agent_hooks(d.router), "trace", HL_HOOK_OBSERVE, fx_record_model, &trace);
  CHECK_RUN(d.router, NULL, "I was charged twice", "billing here");
  CHECK_INT(hl_scripted_request_count(d.selector), 1);
  CHECK_INT(hl_scripted_request_count(d.billing), 1);
  CHECK_INT(hl_scripted_request_count(d.tech), 0);
  /* The selection call went through the hooks, on its own branch. */
  CHECK_INT(fx_trace_count(&trace, "model desk/selector"), 1);
  CHECK_INT(fx_trace_count(&trace, "model desk/billing"), 1);
  /* The model was told names and descriptions, and the user's message. */
  hl_request *req = hl_scripted_request(d.selector, 0);
  REQUIRE(req && req->messages.count >= 2);
  char *sys = hl_message_text(req->messages.items[0]);
  CHECK_CONTAINS(sys, "- billing: Invoices, refunds and payments.");
  CHECK_CONTAINS(sys, "- tech: Technical problems with the product.");
  hl_free(sys);
  CHECK_STR(req->model, "router-model");
  hl_request_free(req);
  char *last = fx_request_last(d.selector, 0);
  CHECK_STR(last, "I was charged twice");
  hl_free(last);
  check_route(&d, "billing", false);
  fx_trace_clear(&trace);
  desk_close(&d);
}

static void router_accepts_decorated_answers(void)
{
  desk d;
  desk_open(&d, NULL, (const char *[]){"  \"Tech\".\n", "I would route this to `billing`, not tech.", NULL});
  CHECK_RUN(d.router, NULL, "app crashes", "tech here");
  /* The earliest whole-word mention wins. */
  CHECK_RUN(d.router, NULL, "refund", "billing here");
  desk_close(&d);
}

static void router_falls_back_on_unknown_and_on_failure(void)
{
  desk d;
  desk_open(&d, "general", (const char *[]){"astrology", NULL});
  CHECK_RUN(d.router, NULL, "what is my sign?", "general here");
  check_route(&d, "general", true);
  /* The selector's script is now empty: its call fails; fallback again. */
  hl_scripted_push_text(d.general, "general again");
  CHECK_RUN(d.router, NULL, "hello", "general again");
  desk_close(&d);
}

static void router_without_fallback_reports_not_found(void)
{
  desk d;
  desk_open(&d, NULL, (const char *[]){"nobody", NULL});
  char *ans = NULL;
  CHECK_INT(hl_agent_run(d.router, NULL, "hm", &ans), HL_ERR_NOT_FOUND);
  CHECK(ans == NULL);
  CHECK_CONTAINS(hl_last_error(), "nobody");
  desk_close(&d);
  /* A fallback that is not a sub-agent is reported as such. */
  desk_open(&d, "ghost", (const char *[]){"nobody", NULL});
  CHECK_INT(hl_agent_run(d.router, NULL, "hm", &ans), HL_ERR_NOT_FOUND);
  CHECK_CONTAINS(hl_last_error(), "ghost");
  desk_close(&d);
  CHECK(hl_router_agent_new("r", NULL, NULL, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
}

int main(void)
{
  RUN(router_picks_by_model_answer);
  RUN(router_accepts_decorated_answers);
  RUN(router_falls_back_on_unknown_and_on_failure);
  RUN(router_without_fallback_reports_not_found);
  return CHECK_EXIT();
}
