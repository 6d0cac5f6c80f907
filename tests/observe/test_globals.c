/*
 * tests/observe/test_globals.c - process-wide observers delivered through
 * a snapshot: a run reads the global list without a lock while it is
 * unchanged (observer.c). What must still hold: a global added or cleared
 * mid-run is seen at the run's next event, a global cleared while runs
 * still hold the snapshot is freed once they end (never while they use
 * it), and adding and clearing while other threads deliver is safe (this
 * file is in the 'concurrency' suite, run under ThreadSanitizer).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <hookline.h>
#include "check.h"

typedef struct counts {
  atomic_int by_type[HL_EVENT_TYPE_COUNT];
  atomic_int total;
  atomic_int freed;
} counts;

static int count_fn(const hl_event *ev, void *ud) {
  counts *c = ud;
  atomic_fetch_add(&c->by_type[ev->type], 1);
  atomic_fetch_add(&c->total, 1);
  return 0;
}

static void note_free(void *ud) { atomic_fetch_add(&((counts *)ud)->freed, 1); }

static hl_observer *counting(counts *c) {
  hl_observer *obs = hl_observer_new(count_fn, c);
  hl_observer_set_free_fn(obs, note_free);
  return obs;
}

/* The tool changes the global list in the middle of the run. */
typedef struct change {
  counts *late;   /* added by the tool: sees the rest of the run */
  bool clear;     /* clear the list instead */
} change;

static hl_status change_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args;
  change *ch = ud;
  if (ch->clear) {
    hl_observer_clear_global();
  } else {
    hl_observer *obs = counting(ch->late);
    hl_observer_add_global(obs);
    hl_observer_unref(obs);
  }
  *result = cJSON_CreateString("changed");
  return HL_OK;
}

static hl_agent *agent_with(change *ch, hl_provider **p_out) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "change", "{}");
  hl_scripted_push_text(p, "done");
  hl_agent *agent = hl_agent_new("bot");
  hl_agent_set_provider(agent, p);
  hl_tool *t = hl_tool_new("change", "Changes the global observers.", change_fn, ch);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  *p_out = p;
  return agent;
}

static void global_added_mid_run_sees_the_rest(void) {
  counts early = {0}, late = {0};
  hl_observer *obs = counting(&early);
  REQUIRE(hl_observer_add_global(obs) == HL_OK);
  hl_observer_unref(obs);
  change ch = {.late = &late};
  hl_provider *p;
  hl_agent *agent = agent_with(&ch, &p);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "go", &answer), HL_OK);
  CHECK_STR(answer, "done");
  hl_free(answer);
  /* the early one saw the whole run, the late one from the tool's end on */
  CHECK_INT(atomic_load(&early.by_type[HL_EVENT_AGENT_START]), 1);
  CHECK_INT(atomic_load(&early.by_type[HL_EVENT_AGENT_END]), 1);
  CHECK_INT(atomic_load(&late.by_type[HL_EVENT_AGENT_START]), 0);
  CHECK_INT(atomic_load(&late.by_type[HL_EVENT_TOOL_START]), 0);
  CHECK_INT(atomic_load(&late.by_type[HL_EVENT_TOOL_END]), 1);
  CHECK_INT(atomic_load(&late.by_type[HL_EVENT_LM_END]), 1);
  CHECK_INT(atomic_load(&late.by_type[HL_EVENT_AGENT_END]), 1);
  hl_observer_clear_global();
  CHECK_INT(atomic_load(&early.freed), 1);
  CHECK_INT(atomic_load(&late.freed), 1);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

static void global_cleared_mid_run_sees_no_more(void) {
  counts c = {0};
  hl_observer *obs = counting(&c);
  REQUIRE(hl_observer_add_global(obs) == HL_OK);
  hl_observer_unref(obs);
  change ch = {.clear = true};
  hl_provider *p;
  hl_agent *agent = agent_with(&ch, &p);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_AGENT_START]), 1);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_TOOL_START]), 1);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_TOOL_END]), 0);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_AGENT_END]), 0);
  /* the run held the snapshot until its end; now nothing does */
  CHECK_INT(atomic_load(&c.freed), 1);
  hl_agent_unref(agent);
  hl_provider_unref(p);
}

/* Runs on four threads while the main thread adds and clears globals:
 * an observer registered before them sees every event of every run; the
 * ones that come and go are all freed, once. */
typedef struct runner {
  int runs, ok;
} runner;

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  *result = cJSON_CreateNumber(1);
  return HL_OK;
}

static void *run_many(void *arg) {
  runner *r = arg;
  hl_provider *p = hl_scripted_new();
  hl_agent *agent = hl_agent_new("worker");
  hl_agent_set_provider(agent, p);
  hl_tool *t = hl_tool_new("add", "Adds.", add_fn, NULL);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);
  for (int i = 0; i < r->runs; i++) {
    hl_scripted_push_tool_call(p, "c1", "add", "{}");
    hl_scripted_push_text(p, "done");
    char *answer = NULL;
    if (hl_agent_run(agent, NULL, "go", &answer) == HL_OK && answer && !strcmp(answer, "done")) r->ok++;
    hl_free(answer);
  }
  hl_agent_unref(agent);
  hl_provider_unref(p);
  return NULL;
}

static void globals_change_while_runs_deliver(void) {
  counts steady = {0}, coming[40];
  memset(coming, 0, sizeof coming);
  hl_observer *obs = hl_observer_new(count_fn, &steady);
  /* held by a composite, which is what is global: clearing the list
   * below must not take this one away */
  hl_observer *comp = hl_observer_composite();
  hl_observer_composite_add(comp, obs);
  hl_observer_unref(obs);
  enum { THREADS = 4, RUNS = 60 };
  runner r[THREADS];
  pthread_t th[THREADS];
  REQUIRE(hl_observer_add_global(comp) == HL_OK);
  for (int i = 0; i < THREADS; i++) {
    r[i] = (runner){RUNS, 0};
    pthread_create(&th[i], NULL, run_many, &r[i]);
  }
  for (int k = 0; k < 40; k++) {
    hl_observer *o = counting(&coming[k]);
    hl_observer_add_global(o);
    hl_observer_unref(o);
    if (k % 4 == 3) { /* clear everything, put the steady one back */
      hl_observer_clear_global();
      hl_observer_add_global(comp);
    }
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++) CHECK_INT(r[i].ok, RUNS);
  /* between a clear and the re-add a run may miss events: count the
   * runs that ended, seen by AGENT_END, against those that started */
  int starts = atomic_load(&steady.by_type[HL_EVENT_AGENT_START]);
  int ends = atomic_load(&steady.by_type[HL_EVENT_AGENT_END]);
  CHECK(starts > 0 && ends > 0);
  CHECK(starts <= THREADS * RUNS && ends <= THREADS * RUNS);
  hl_observer_clear_global();
  hl_observer_unref(comp);
  for (int k = 0; k < 40; k++) CHECK_INT(atomic_load(&coming[k].freed), 1);
  /* with the list unchanged, every event of every run arrives */
  counts all = {0};
  hl_observer *a = counting(&all);
  REQUIRE(hl_observer_add_global(a) == HL_OK);
  hl_observer_unref(a);
  for (int i = 0; i < THREADS; i++) {
    r[i] = (runner){20, 0};
    pthread_create(&th[i], NULL, run_many, &r[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  CHECK_INT(atomic_load(&all.by_type[HL_EVENT_AGENT_START]), THREADS * 20);
  CHECK_INT(atomic_load(&all.by_type[HL_EVENT_TOOL_END]), THREADS * 20);
  CHECK_INT(atomic_load(&all.by_type[HL_EVENT_AGENT_END]), THREADS * 20);
  hl_observer_clear_global();
  CHECK_INT(atomic_load(&all.freed), 1);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(global_added_mid_run_sees_the_rest);
  RUN(global_cleared_mid_run_sees_no_more);
  RUN(globals_change_while_runs_deliver);
  return CHECK_EXIT();
}
