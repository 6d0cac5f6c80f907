/*
 * test_observer.c - events and observers: both registration styles, the
 * built-ins (noop, logging, collecting, composite), global observers,
 * failure counting (H13), and the JSON / one-line encodings of events.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookline.h"
#include "agent/observer_internal.h"
#include "check.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

typedef struct counter {
  atomic_int by_type[HL_EVENT_TYPE_COUNT];
  atomic_int total;
  void *seen_user_data;
} counter;

static int count_fn(const hl_event *ev, void *ud) {
  counter *c = ud;
  c->seen_user_data = ud;
  atomic_fetch_add(&c->by_type[ev->type], 1);
  atomic_fetch_add(&c->total, 1);
  return 0;
}

static hl_event ev_of(hl_event_type type) {
  hl_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.error.message = "";
  return ev;
}

/* Whole content of a stream written by the test. */
static char *slurp(FILE *f) {
  fflush(f);
  long n = ftell(f);
  rewind(f);
  char *buf = calloc(1, (size_t)n + 1);
  if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) buf[0] = '\0';
  return buf;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    if (*s == '\n') n++;
  return n;
}

/* ------------------------------------------------------------------ */
/* styles                                                              */
/* ------------------------------------------------------------------ */

static void observer_function_style_sees_every_event(void) {
  counter c = {0};
  hl_observer *obs = hl_observer_new(count_fn, &c);
  REQUIRE(obs);
  for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++) {
    hl_event ev = ev_of((hl_event_type)t);
    hl_observer_notify(obs, &ev);
  }
  CHECK_INT(atomic_load(&c.total), HL_EVENT_TYPE_COUNT);
  for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++) CHECK_INT(atomic_load(&c.by_type[t]), 1);
  CHECK(c.seen_user_data == &c);
  CHECK_INT(hl_observer_failures(obs), 0);
  /* An event of an unknown type is dropped, not delivered. */
  hl_event bad = ev_of((hl_event_type)999);
  hl_observer_notify(obs, &bad);
  hl_observer_notify(obs, NULL);
  CHECK_INT(atomic_load(&c.total), HL_EVENT_TYPE_COUNT);
  hl_observer_unref(obs);
  CHECK(hl_observer_new(NULL, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
}

static int ops_tool_start(const hl_event *ev, void *ud) {
  counter *c = ud;
  CHECK_INT(ev->type, HL_EVENT_TOOL_START);
  atomic_fetch_add(&c->by_type[HL_EVENT_TOOL_START], 1);
  return 0;
}
static int ops_tool_end(const hl_event *ev, void *ud) {
  counter *c = ud;
  CHECK_INT(ev->type, HL_EVENT_TOOL_END);
  atomic_fetch_add(&c->by_type[HL_EVENT_TOOL_END], 1);
  return 0;
}
static int ops_custom(const hl_event *ev, void *ud) {
  counter *c = ud;
  CHECK_INT(ev->type, HL_EVENT_CUSTOM);
  atomic_fetch_add(&c->by_type[HL_EVENT_CUSTOM], 1);
  return 0;
}

static void observer_ops_style_skips_unset_functions(void) {
  counter c = {0};
  hl_observer_ops ops = {0};
  ops.tool_start = ops_tool_start;
  ops.tool_end = ops_tool_end;
  ops.custom = ops_custom;
  /* the struct is versioned: without its size it is refused */
  CHECK(hl_observer_new_ops(&ops, &c) == NULL);
  CHECK_CONTAINS(hl_last_error(), "set it to sizeof(hl_observer_ops)");
  /* a caller built when the struct ended at tool_end: custom is unset */
  ops.size = offsetof(hl_observer_ops, tool_end) + sizeof ops.tool_end;
  hl_observer *older = hl_observer_new_ops(&ops, &c);
  REQUIRE(older);
  hl_event cev = ev_of(HL_EVENT_CUSTOM);
  hl_observer_notify(older, &cev);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_CUSTOM]), 0);
  hl_observer_unref(older);
  ops.size = sizeof ops;
  hl_observer *obs = hl_observer_new_ops(&ops, &c);
  REQUIRE(obs);
  ops.tool_start = NULL; /* the struct was copied: changing it now does nothing */
  for (int round = 0; round < 2; round++)
    for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++) {
      hl_event ev = ev_of((hl_event_type)t);
      hl_observer_notify(obs, &ev);
    }
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_TOOL_START]), 2);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_TOOL_END]), 2);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_CUSTOM]), 2);
  CHECK_INT(atomic_load(&c.by_type[HL_EVENT_AGENT_START]), 0);
  CHECK_INT(hl_observer_failures(obs), 0);
  hl_observer_unref(obs);
}

static int freed_count;
static void note_free(void *ud) {
  CHECK(ud == &freed_count);
  freed_count++;
}

static void observer_refcount_frees_user_data_once(void) {
  freed_count = 0;
  counter c = {0};
  hl_observer *obs = hl_observer_new(count_fn, &freed_count);
  REQUIRE(obs);
  (void)c;
  hl_observer_set_free_fn(obs, note_free);
  CHECK(hl_observer_ref(obs) == obs);
  hl_observer_unref(obs);
  CHECK_INT(freed_count, 0);
  hl_observer_unref(obs);
  CHECK_INT(freed_count, 1);
  hl_observer_unref(NULL);
  CHECK(hl_observer_ref(NULL) == NULL);
}

/* A callback that fails, and on the way clobbers the thread's last error
 * (as application code calling hl_fail would). */
static int failing_fn(const hl_event *ev, void *ud) {
  (void)ev;
  atomic_fetch_add((atomic_int *)ud, 1);
  hl_fail(HL_ERR_IO, "observer disk full");
  return -1;
}
static int clearing_fn(const hl_event *ev, void *ud) {
  (void)ev;
  (void)ud;
  hl_clear_error();
  return 7;
}

static void observer_failure_is_counted_and_changes_nothing(void) {
  atomic_int calls = 0;
  hl_observer *bad = hl_observer_new(failing_fn, &calls);
  hl_observer *clearer = hl_observer_new(clearing_fn, NULL);
  REQUIRE(bad && clearer);
  hl_event ev = ev_of(HL_EVENT_TOOL_START);

  /* The producer had an error pending: it survives both callbacks. */
  hl_fail(HL_ERR_TIMEOUT, "tool slow took too long");
  hl_observer_notify(bad, &ev);
  hl_observer_notify(clearer, &ev);
  CHECK_INT(hl_last_status(), HL_ERR_TIMEOUT);
  CHECK_STR(hl_last_error(), "tool slow took too long");

  /* No error pending: the callback's hl_fail does not leak out either. */
  hl_clear_error();
  hl_observer_notify(bad, &ev);
  CHECK_INT(hl_last_status(), HL_OK);
  CHECK_STR(hl_last_error(), "");

  CHECK_INT(atomic_load(&calls), 2);
  CHECK_INT(hl_observer_failures(bad), 2);
  CHECK_INT(hl_observer_failures(clearer), 1);
  hl_observer_unref(bad);
  hl_observer_unref(clearer);
}

/* ------------------------------------------------------------------ */
/* built-ins                                                           */
/* ------------------------------------------------------------------ */

static void observer_noop_accepts_everything(void) {
  hl_observer *obs = hl_observer_noop();
  REQUIRE(obs);
  for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++) {
    hl_event ev = ev_of((hl_event_type)t);
    hl_observer_notify(obs, &ev);
  }
  CHECK_INT(hl_observer_failures(obs), 0);
  /* Collecting-only calls refuse other observers. */
  CHECK_INT(hl_observer_collected_count(obs, HL_EVENT_TYPE_COUNT), 0);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(hl_observer_collected(obs) == NULL);
  hl_observer_unref(obs);
}

static void observer_logging_writes_one_key_value_line_per_event(void) {
  FILE *f = tmpfile();
  REQUIRE(f);
  hl_observer *log = hl_observer_logging(f, "[app]");
  REQUIRE(log);
  cJSON *args = cJSON_Parse("{\"x\":1}");
  cJSON *result = cJSON_Parse("{\"value\":42}");

  hl_event start = ev_of(HL_EVENT_TOOL_START);
  start.call_id = "c1";
  start.name = "calculator";
  start.args = args;
  hl_observer_notify(log, &start);

  hl_event delta = ev_of(HL_EVENT_RESPONSE);
  delta.text = "Hel";
  delta.is_delta = true;
  hl_observer_notify(log, &delta); /* not logged */

  hl_event end = ev_of(HL_EVENT_TOOL_END);
  end.call_id = "c1";
  end.name = "calculator";
  end.args = args;
  end.result = result;
  end.duration_ms = 1.5;
  end.agent_name = "math";
  end.branch = "root/math";
  hl_observer_notify(log, &end);

  hl_event fail = ev_of(HL_EVENT_TOOL_END);
  fail.call_id = "c2";
  fail.name = "weather";
  fail.error.status = HL_ERR_TIMEOUT;
  fail.error.message = "took \"too\" long\nreally";
  hl_observer_notify(log, &fail);

  hl_event resp = ev_of(HL_EVENT_RESPONSE);
  resp.text = "The answer is 42.";
  hl_observer_notify(log, &resp);

  char *out = slurp(f);
  REQUIRE(out);
  CHECK_INT(count_lines(out), 4);
  char *l1 = strtok(out, "\n");
  char *l2 = strtok(NULL, "\n");
  char *l3 = strtok(NULL, "\n");
  char *l4 = strtok(NULL, "\n");
  CHECK_STR(l1, "[app] tool_start call_id=c1 tool=calculator args={\"x\":1}");
  CHECK_STR(l2, "[app] tool_end call_id=c1 tool=calculator args={\"x\":1} "
                "result={\"value\":42} success=true duration_ms=1.500 agent=math "
                "branch=root/math");
  CHECK_STR(l3, "[app] tool_end call_id=c2 tool=weather success=false error=Timeout "
                "error_message=\"took \\\"too\\\" long\\nreally\" duration_ms=0.000");
  CHECK_STR(l4, "[app] response text=\"The answer is 42.\"");
  free(out);
  CHECK_INT(hl_observer_failures(log), 0);
  hl_observer_unref(log);

  /* Without a prefix the line starts with the event name. */
  rewind(f);
  CHECK(ftruncate(fileno(f), 0) == 0);
  log = hl_observer_logging(f, NULL);
  REQUIRE(log);
  hl_event turn = ev_of(HL_EVENT_TURN_START);
  turn.turn = 3;
  hl_observer_notify(log, &turn);
  out = slurp(f);
  CHECK_STR(out, "turn_start turn=3\n");
  free(out);
  hl_observer_unref(log);
  CHECK(hl_observer_logging(NULL, "x") == NULL);
  cJSON_Delete(args);
  cJSON_Delete(result);
  fclose(f);
}

typedef struct log_job {
  hl_observer *obs;
  int id;
} log_job;

#define LOG_THREADS 6
#define LOG_EVENTS 300

static void *log_worker(void *arg) {
  log_job *job = arg;
  char text[600];
  /* long lines make interleaving likely if writes were not whole */
  memset(text, 'a' + job->id, sizeof text - 1);
  text[sizeof text - 1] = '\0';
  cJSON *data = cJSON_CreateObject();
  cJSON_AddStringToObject(data, "payload", text);
  for (int i = 0; i < LOG_EVENTS; i++) {
    hl_event ev = ev_of(HL_EVENT_CUSTOM);
    char name[32];
    snprintf(name, sizeof name, "t%d-%d", job->id, i);
    ev.name = name;
    ev.data = data;
    hl_observer_notify(job->obs, &ev);
  }
  cJSON_Delete(data);
  return NULL;
}

static void observer_logging_lines_from_threads_never_interleave(void) {
  FILE *f = tmpfile();
  REQUIRE(f);
  hl_observer *log = hl_observer_logging(f, "[mt]");
  REQUIRE(log);
  pthread_t th[LOG_THREADS];
  log_job jobs[LOG_THREADS];
  for (int i = 0; i < LOG_THREADS; i++) {
    jobs[i] = (log_job){log, i};
    pthread_create(&th[i], NULL, log_worker, &jobs[i]);
  }
  for (int i = 0; i < LOG_THREADS; i++) pthread_join(th[i], NULL);
  char *out = slurp(f);
  REQUIRE(out);
  CHECK_INT(count_lines(out), LOG_THREADS * LOG_EVENTS);
  int seen[LOG_THREADS] = {0};
  int bad = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
    int id = -1, i = -1;
    if (sscanf(line, "[mt] custom name=t%d-%d ", &id, &i) != 2 || id < 0 || id >= LOG_THREADS) {
      bad++;
      continue;
    }
    /* the payload must be this thread's letter only, cut at the limit */
    const char *p = strstr(line, "data={\"payload\":\"");
    if (!p) {
      bad++;
      continue;
    }
    p += strlen("data={\"payload\":\"");
    for (; *p && *p != '.'; p++)
      if (*p != 'a' + id) {
        bad++;
        break;
      }
    seen[id]++;
  }
  CHECK_INT(bad, 0);
  for (int i = 0; i < LOG_THREADS; i++) CHECK_INT(seen[i], LOG_EVENTS);
  free(out);
  hl_observer_unref(log);
  fclose(f);
}

static void observer_collecting_keeps_counts_and_clears(void) {
  hl_observer *col = hl_observer_collecting();
  REQUIRE(col);
  cJSON *args = cJSON_Parse("{\"city\":\"Paris\"}");
  hl_event a = ev_of(HL_EVENT_TOOL_START);
  a.name = "weather";
  a.call_id = "c7";
  a.args = args;
  a.branch = "root";
  hl_observer_notify(col, &a);
  cJSON_Delete(args); /* the collector keeps its own copy */
  hl_event b = ev_of(HL_EVENT_TURN_START);
  b.turn = 1;
  hl_observer_notify(col, &b);
  hl_observer_notify(col, &b);

  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TYPE_COUNT), 3);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TURN_START), 2);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TOOL_START), 1);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_AGENT_END), 0);

  cJSON *all = hl_observer_collected(col);
  REQUIRE(all);
  CHECK_INT(cJSON_GetArraySize(all), 3);
  cJSON *first = cJSON_GetArrayItem(all, 0);
  CHECK_STR(hl_json_get_string(first, "type"), "tool_start");
  CHECK_STR(hl_json_get_string(first, "tool"), "weather");
  CHECK_STR(hl_json_get_string(first, "call_id"), "c7");
  CHECK_STR(hl_json_get_string(first, "branch"), "root");
  CHECK_STR(hl_json_get_string(hl_json_get(first, "args"), "city"), "Paris");
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(all, 2), "type"), "turn_start");
  CHECK_INT(hl_json_get_number(cJSON_GetArrayItem(all, 2), "turn", 0), 1);
  cJSON_Delete(all);

  hl_observer_collected_clear(col);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TYPE_COUNT), 0);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TURN_START), 0);
  all = hl_observer_collected(col);
  CHECK_INT(cJSON_GetArraySize(all), 0);
  cJSON_Delete(all);
  hl_observer_notify(col, &b);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TYPE_COUNT), 1);
  hl_observer_unref(col);
}

#define COL_THREADS 8
#define COL_EVENTS 500

static void *collect_worker(void *arg) {
  hl_observer *col = arg;
  for (int i = 0; i < COL_EVENTS; i++) {
    hl_event ev = ev_of(i % 2 ? HL_EVENT_TOOL_START : HL_EVENT_TOOL_END);
    ev.name = "t";
    hl_observer_notify(col, &ev);
    if (i % 100 == 0) {
      /* readers run alongside the writers */
      cJSON *snap = hl_observer_collected(col);
      cJSON_Delete(snap);
      (void)hl_observer_collected_count(col, HL_EVENT_TOOL_END);
    }
  }
  return NULL;
}

static void observer_collecting_is_thread_safe(void) {
  hl_observer *col = hl_observer_collecting();
  REQUIRE(col);
  pthread_t th[COL_THREADS];
  for (int i = 0; i < COL_THREADS; i++) pthread_create(&th[i], NULL, collect_worker, col);
  for (int i = 0; i < COL_THREADS; i++) pthread_join(th[i], NULL);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TYPE_COUNT), COL_THREADS * COL_EVENTS);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TOOL_START), COL_THREADS * COL_EVENTS / 2);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TOOL_END), COL_THREADS * COL_EVENTS / 2);
  cJSON *all = hl_observer_collected(col);
  CHECK_INT(cJSON_GetArraySize(all), COL_THREADS * COL_EVENTS);
  cJSON_Delete(all);
  CHECK_INT(hl_observer_failures(col), 0);
  hl_observer_unref(col);
}

/* Records the order in which observers saw an event. */
static char order[16];
static int order_len;
static int order_a(const hl_event *ev, void *ud) {
  (void)ev;
  (void)ud;
  order[order_len++] = 'A';
  return 0;
}
static int order_b(const hl_event *ev, void *ud) {
  (void)ev;
  (void)ud;
  order[order_len++] = 'B';
  return 1; /* fails: must not stop the children after it */
}
static int order_c(const hl_event *ev, void *ud) {
  (void)ev;
  (void)ud;
  order[order_len++] = 'C';
  return 0;
}

static void observer_composite_fans_out_in_order(void) {
  memset(order, 0, sizeof order);
  order_len = 0;
  hl_observer *comp = hl_observer_composite();
  hl_observer *a = hl_observer_new(order_a, NULL);
  hl_observer *b = hl_observer_new(order_b, NULL);
  hl_observer *c = hl_observer_new(order_c, NULL);
  hl_observer *col = hl_observer_collecting();
  REQUIRE(comp && a && b && c && col);
  CHECK_INT(hl_observer_composite_add(comp, a), HL_OK);
  CHECK_INT(hl_observer_composite_add(comp, b), HL_OK);
  CHECK_INT(hl_observer_composite_add(comp, c), HL_OK);
  CHECK_INT(hl_observer_composite_add(comp, col), HL_OK);
  /* the composite holds its own references */
  hl_observer_unref(a);
  hl_observer_unref(c);
  hl_observer_unref(b);

  hl_event ev = ev_of(HL_EVENT_AGENT_START);
  ev.text = "hi";
  hl_observer_notify(comp, &ev);
  hl_observer_notify(comp, &ev);
  CHECK_STR(order, "ABCABC");
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_AGENT_START), 2);

  /* cycles and wrong kinds are refused */
  CHECK_INT(hl_observer_composite_add(comp, comp), HL_ERR_INVALID);
  hl_observer *outer = hl_observer_composite();
  CHECK_INT(hl_observer_composite_add(outer, comp), HL_OK);
  CHECK_INT(hl_observer_composite_add(comp, outer), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "cycle");
  CHECK_INT(hl_observer_composite_add(col, comp), HL_ERR_INVALID);
  CHECK_INT(hl_observer_composite_add(NULL, comp), HL_ERR_INVALID);
  /* nested composite delivers too */
  hl_observer_notify(outer, &ev);
  CHECK_STR(order, "ABCABCABC");
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_AGENT_START), 3);
  hl_observer_unref(outer);
  hl_observer_unref(comp);
  hl_observer_unref(col);
}

static void observer_global_list_receives_and_clears(void) {
  hl_observer *col = hl_observer_collecting();
  REQUIRE(col);
  CHECK(!hl__observer_has_global());
  hl_event ev = ev_of(HL_EVENT_CUSTOM);
  ev.name = "n";
  hl__observer_notify_global(&ev); /* nobody listens: nothing happens */
  CHECK_INT(hl_observer_add_global(col), HL_OK);
  CHECK_INT(hl_observer_add_global(NULL), HL_ERR_INVALID);
  CHECK(hl__observer_has_global());
  hl__observer_notify_global(&ev);
  hl__observer_notify_global(&ev);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_CUSTOM), 2);
  hl_observer_clear_global();
  CHECK(!hl__observer_has_global());
  hl__observer_notify_global(&ev);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_CUSTOM), 2);
  hl_observer_unref(col); /* the list dropped its reference: this frees */
}

/* ------------------------------------------------------------------ */
/* encodings                                                           */
/* ------------------------------------------------------------------ */

static void event_type_names_are_stable(void) {
  static const char *const expected[HL_EVENT_TYPE_COUNT] = {
      "agent_start", "agent_end",    "turn_start", "turn_end",     "lm_start",
      "lm_end",      "api_request",  "api_response", "response",   "tool_start",
      "tool_end",    "hook",         "stderr_write", "trace_complete", "custom",
      "interrupt",   "resume"};
  for (int t = 0; t < HL_EVENT_TYPE_COUNT; t++)
    CHECK_STR(hl_event_type_name((hl_event_type)t), expected[t]);
  CHECK_STR(hl_event_type_name(HL_EVENT_TYPE_COUNT), "unknown");
  CHECK_STR(hl_event_type_name((hl_event_type)-3), "unknown");
}

static void event_to_json_has_every_set_field(void) {
  cJSON *args = cJSON_Parse("{\"q\":\"x\"}");
  hl_usage usage = {.input_tokens = 12, .output_tokens = 5, .cost = 0.25, .has_cost = true};
  hl_event ev = ev_of(HL_EVENT_LM_END);
  ev.time_ns = 1700000000000000000LL;
  ev.invocation_id = "inv-1";
  ev.agent_name = "bot";
  ev.branch = "root/bot";
  ev.turn = 2;
  ev.name = "gpt-test";
  ev.usage = &usage;
  ev.duration_ms = 3.25;
  ev.error.status = HL_ERR_RATE_LIMIT;
  ev.error.message = "slow down";
  cJSON *j = hl_event_to_json(&ev);
  REQUIRE(j);
  CHECK_STR(hl_json_get_string(j, "type"), "lm_end");
  CHECK_STR(hl_json_get_string(j, "invocation_id"), "inv-1");
  CHECK_STR(hl_json_get_string(j, "agent"), "bot");
  CHECK_STR(hl_json_get_string(j, "branch"), "root/bot");
  CHECK_STR(hl_json_get_string(j, "model"), "gpt-test");
  CHECK_INT(hl_json_get_number(j, "turn", 0), 2);
  CHECK(hl_json_get_number(j, "time_ns", 0) > 1.6e18);
  CHECK(hl_json_get_number(j, "duration_ms", 0) == 3.25);
  CHECK(!hl_json_get_bool(j, "success", true));
  const cJSON *u = hl_json_get(j, "usage");
  CHECK_INT(hl_json_get_number(u, "input_tokens", 0), 12);
  CHECK_INT(hl_json_get_number(u, "output_tokens", 0), 5);
  CHECK(hl_json_get_number(u, "cost", 0) == 0.25);
  const cJSON *err = hl_json_get(j, "error");
  CHECK_STR(hl_json_get_string(err, "status"), "RateLimited");
  CHECK_STR(hl_json_get_string(err, "message"), "slow down");
  /* unset fields are absent */
  CHECK(!hl_json_get(j, "text"));
  CHECK(!hl_json_get(j, "args"));
  CHECK(!hl_json_get(j, "call_id"));
  CHECK(!hl_json_get(j, "delta"));
  cJSON_Delete(j);

  /* a response, a hook and a delta */
  hl_response *resp = hl_response_new_text("hello there");
  hl_event r = ev_of(HL_EVENT_TURN_END);
  r.response = resp;
  r.data = args;
  j = hl_event_to_json(&r);
  REQUIRE(j);
  const cJSON *rj = hl_json_get(j, "response");
  CHECK(cJSON_IsObject(rj));
  hl_response *back = NULL;
  CHECK_INT(hl_response_from_json(rj, &back), HL_OK);
  if (back) {
    char *text = hl_message_text(back->message);
    CHECK_STR(text, "hello there");
    hl_free(text);
  }
  hl_response_free(back);
  CHECK(hl_json_equal(hl_json_get(j, "data"), args));
  CHECK(!hl_json_get(j, "success"));
  cJSON_Delete(j);
  hl_response_free(resp);

  hl_event h = ev_of(HL_EVENT_HOOK);
  h.name = "guard";
  h.hook_point = HL_HOOK_BEFORE_TOOL;
  h.hook_action = HL_HOOK_OVERRIDE;
  h.args = args;
  j = hl_event_to_json(&h);
  CHECK_STR(hl_json_get_string(j, "hook"), "guard");
  CHECK_STR(hl_json_get_string(j, "hook_point"), "before_tool");
  CHECK_STR(hl_json_get_string(j, "hook_action"), "override");
  CHECK_STR(hl_json_get_string(hl_json_get(j, "args"), "q"), "x");
  cJSON_Delete(j);

  hl_event d = ev_of(HL_EVENT_RESPONSE);
  d.text = "wor";
  d.is_delta = true;
  j = hl_event_to_json(&d);
  CHECK(hl_json_get_bool(j, "delta", false));
  CHECK_STR(hl_json_get_string(j, "text"), "wor");
  cJSON_Delete(j);
  cJSON_Delete(args);
  CHECK(hl_event_to_json(NULL) == NULL);
}

/* The fields appended for tracers (run tree, session, provider, tool)
 * show in the JSON when the event's size covers them, not before. */
static hl_status delegate_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  char *answer = NULL;
  hl_status st = hl_context_run_agent(ctx, ud, "inner question", HL_RUN_ISOLATED, &answer);
  if (st != HL_OK) return st;
  *result = cJSON_CreateString(answer);
  hl_free(answer);
  return HL_OK;
}

static void event_to_json_shows_the_tracer_fields(void) {
  hl_tool *tool = hl_tool_new("lookup", "Looks up.", delegate_fn, NULL);
  REQUIRE(tool);
  hl_event ev = ev_of(HL_EVENT_LM_START);
  ev.size = sizeof ev;
  ev.name = "gpt-test";
  ev.provider = "openai";
  ev.session_id = "sess-9";
  ev.parent_invocation_id = "inv-parent";
  ev.parent_call_id = "call-7";
  cJSON *j = hl_event_to_json(&ev);
  REQUIRE(j);
  CHECK_STR(hl_json_get_string(j, "model"), "gpt-test");
  CHECK_STR(hl_json_get_string(j, "provider"), "openai");
  CHECK_STR(hl_json_get_string(j, "session_id"), "sess-9");
  CHECK_STR(hl_json_get_string(j, "parent_invocation_id"), "inv-parent");
  CHECK_STR(hl_json_get_string(j, "parent_call_id"), "call-7");
  CHECK(!hl_json_get(j, "outer_call_id"));
  CHECK(!hl_json_get(j, "tool"));
  cJSON_Delete(j);
  /* an event from an older producer: its size ends before these fields */
  ev.size = offsetof(hl_event, parent_invocation_id);
  j = hl_event_to_json(&ev);
  REQUIRE(j);
  CHECK(!hl_json_get(j, "provider") && !hl_json_get(j, "session_id") &&
        !hl_json_get(j, "parent_invocation_id"));
  CHECK_STR(hl_json_get_string(j, "model"), "gpt-test");
  cJSON_Delete(j);
  /* a tool hook's event names the hook; the tool comes from `tool` */
  hl_event h = ev_of(HL_EVENT_HOOK);
  h.size = sizeof h;
  h.name = "guard";
  h.hook_point = HL_HOOK_BEFORE_TOOL;
  h.call_id = "c2";
  h.outer_call_id = "c1";
  h.tool = tool;
  j = hl_event_to_json(&h);
  REQUIRE(j);
  CHECK_STR(hl_json_get_string(j, "hook"), "guard");
  CHECK_STR(hl_json_get_string(j, "tool"), "lookup");
  CHECK_STR(hl_json_get_string(j, "outer_call_id"), "c1");
  cJSON_Delete(j);
  /* an empty session id says nothing */
  ev.size = sizeof ev;
  ev.session_id = "";
  j = hl_event_to_json(&ev);
  CHECK(j && !hl_json_get(j, "session_id"));
  cJSON_Delete(j);
  hl_tool_unref(tool);

  /* a real run: a tool runs a child agent; the child's events name the
   * parent run and the call, the parent's name its session */
  hl_provider *inner = hl_scripted_new(), *outer = hl_scripted_new();
  REQUIRE(inner && outer);
  hl_scripted_push_text(inner, "inner answer");
  hl_scripted_push_tool_call(outer, "c1", "lookup", "{}");
  hl_scripted_push_text(outer, "outer answer");
  hl_agent *child = hl_agent_new("child"), *parent = hl_agent_new("parent");
  REQUIRE(child && parent);
  hl_agent_set_provider(child, inner);
  hl_agent_set_provider(parent, outer);
  hl_tool *t = hl_tool_new("lookup", "Looks up.", delegate_fn, child);
  hl_agent_add_tool(parent, t);
  hl_observer *col = hl_observer_collecting();
  hl_agent_add_observer(parent, col);
  hl_session *s = hl_session_new("app", "user", "sess-42");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(parent, s, "outer question", &answer), HL_OK);
  CHECK_STR(answer, "outer answer");
  hl_free(answer);
  cJSON *events = hl_observer_collected(col);
  const char *parent_inv = NULL;
  int child_starts = 0, tool_starts = 0, lm_starts = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, events) {
    const char *type = hl_json_get_string(e, "type"), *agent = hl_json_get_string(e, "agent");
    if (!type || !agent) continue;
    if (!strcmp(type, "agent_start") && !strcmp(agent, "parent")) {
      parent_inv = hl_json_get_string(e, "invocation_id");
      CHECK_STR(hl_json_get_string(e, "session_id"), "sess-42");
      CHECK(!hl_json_get(e, "parent_invocation_id"));
    } else if (!strcmp(type, "agent_start") && !strcmp(agent, "child")) {
      child_starts++;
      CHECK(parent_inv != NULL);
      CHECK_STR(hl_json_get_string(e, "parent_invocation_id"), parent_inv ? parent_inv : "?");
      CHECK_STR(hl_json_get_string(e, "parent_call_id"), "c1");
    } else if (!strcmp(type, "tool_start")) {
      tool_starts++;
      CHECK_STR(hl_json_get_string(e, "tool"), "lookup");
    } else if (!strcmp(type, "lm_start")) {
      lm_starts++;
      CHECK_STR(hl_json_get_string(e, "provider"), "scripted");
    }
  }
  CHECK_INT(child_starts, 1);
  CHECK_INT(tool_starts, 1);
  CHECK_INT(lm_starts, 3);
  cJSON_Delete(events);
  hl_session_free(s);
  hl_observer_unref(col);
  hl_tool_unref(t);
  hl_agent_unref(parent);
  hl_agent_unref(child);
  hl_provider_unref(inner);
  hl_provider_unref(outer);
}

static void event_format_is_one_readable_line(void) {
  /* control characters, quotes and '=' are quoted; everything on one line */
  hl_event ev = ev_of(HL_EVENT_STDERR_WRITE);
  ev.text = "line1\nline2 \"q\" a=b\t\x01";
  char *s = hl_event_format(&ev);
  REQUIRE(s);
  CHECK_STR(s, "stderr_write text=\"line1\\nline2 \\\"q\\\" a=b\\t\\u0001\"");
  CHECK(!strchr(s, '\n'));
  hl_free(s);

  /* long values are cut, on a UTF-8 boundary */
  char big[1000];
  for (size_t i = 0; i + 2 < sizeof big; i += 2) memcpy(big + i, "\xc3\xa9", 2); /* é */
  big[sizeof big - 2] = '\0';
  hl_event c = ev_of(HL_EVENT_CUSTOM);
  c.name = "big";
  c.text = big;
  s = hl_event_format(&c);
  REQUIRE(s);
  CHECK(strlen(s) < 300);
  CHECK_CONTAINS(s, "...");
  CHECK(hl_utf8_valid(s, strlen(s)));
  hl_free(s);

  hl_usage usage = {.input_tokens = 100, .output_tokens = 20};
  hl_event t = ev_of(HL_EVENT_TRACE_COMPLETE);
  t.turns = 3;
  t.usage = &usage;
  t.duration_ms = 12;
  s = hl_event_format(&t);
  CHECK_STR(s, "trace_complete input_tokens=100 output_tokens=20 turns=3 duration_ms=12.000");
  hl_free(s);

  hl_event h = ev_of(HL_EVENT_HOOK);
  h.name = "allow";
  h.hook_point = HL_HOOK_BEFORE_MODEL;
  h.hook_action = HL_HOOK_ABORT;
  s = hl_event_format(&h);
  CHECK_STR(s, "hook hook=allow point=before_model action=abort");
  hl_free(s);

  CHECK(hl_event_format(NULL) == NULL);
}

/* ------------------------------------------------------------------ */
/* a real run                                                          */
/* ------------------------------------------------------------------ */

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  *result = cJSON_CreateNumber(hl_json_get_number(args, "a", 0) + hl_json_get_number(args, "b", 0));
  return *result ? HL_OK : HL_ERR_NOMEM;
}

static void observer_logging_and_collecting_on_a_real_run(void) {
  hl_provider *p = hl_scripted_new();
  REQUIRE(p);
  hl_scripted_push_tool_call(p, "c1", "calculator", "{\"a\":2,\"b\":3}");
  hl_scripted_push_text(p, "It is 5.");
  hl_agent *agent = hl_agent_new("bot");
  REQUIRE(agent);
  hl_agent_set_provider(agent, p);
  hl_agent_set_stream(agent, true); /* deltas happen, and are not logged */
  hl_tool *calc = hl_tool_new("calculator", "Adds.", add_fn, NULL);
  hl_tool_param(calc, "a", "number", "first", true);
  hl_tool_param(calc, "b", "number", "second", true);
  hl_agent_add_tool(agent, calc);
  hl_tool_unref(calc);
  FILE *f = tmpfile();
  REQUIRE(f);
  hl_observer *log = hl_observer_logging(f, "[app]");
  hl_observer *col = hl_observer_collecting();
  hl_observer *both = hl_observer_composite();
  hl_observer_composite_add(both, log);
  hl_observer_composite_add(both, col);
  hl_agent_add_observer(agent, both);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "2+3?", &answer), HL_OK);
  CHECK_STR(answer, "It is 5.");
  hl_free(answer);

  char *out = slurp(f);
  REQUIRE(out);
  CHECK_CONTAINS(out, "[app] agent_start text=2+3?");
  CHECK_CONTAINS(out, "[app] tool_start call_id=c1 tool=calculator args={\"a\":2,\"b\":3}");
  CHECK_CONTAINS(out, "[app] tool_end call_id=c1 tool=calculator args={\"a\":2,\"b\":3} result=5 success=true");
  CHECK_CONTAINS(out, "[app] api_request provider=scripted");
  CHECK_CONTAINS(out, "[app] agent_end text=\"It is 5.\"");
  CHECK(!strstr(out, "delta=true"));
  /* every line is one prefixed event of this agent */
  int lines = 0;
  for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), lines++) {
    CHECK(strncmp(line, "[app] ", 6) == 0);
    CHECK_CONTAINS(line, " agent=bot branch=bot"); /* a root's branch is its name */
  }
  /* the collector saw the same events, plus the deltas the log skipped */
  cJSON *events = hl_observer_collected(col);
  int deltas = 0;
  char joined[64] = "";
  cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    if (hl_json_get_bool(ev, "delta", false)) {
      deltas++;
      strncat(joined, hl_json_get_string(ev, "text"), sizeof joined - strlen(joined) - 1);
    }
  }
  cJSON_Delete(events);
  CHECK_INT(deltas, 3); /* "It ", "is ", "5." */
  CHECK_STR(joined, "It is 5.");
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TOOL_START), 1);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TURN_START), 2);
  CHECK_INT(hl_observer_collected_count(col, HL_EVENT_TYPE_COUNT), (size_t)(lines + deltas));
  free(out);
  CHECK_INT(hl_observer_failures(log), 0);
  hl_observer_unref(log);
  hl_observer_unref(col);
  hl_observer_unref(both);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  fclose(f);
}

/* Every event a run delivers carries the size of the struct the library
 * filled in (hl_event is versioned: fields are only appended). */
static atomic_int sized, unsized;
static int check_size(const hl_event *ev, void *ud) {
  (void)ud;
  atomic_fetch_add(ev->size == sizeof(hl_event) && HL_EVENT_HAS(ev, hook_action) ? &sized : &unsized, 1);
  return 0;
}

static void events_carry_their_struct_size(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "hi");
  hl_agent *a = hl_agent_new("sized");
  hl_agent_set_provider(a, p);
  hl_observer *obs = hl_observer_new(check_size, NULL);
  hl_agent_add_observer(a, obs);
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, NULL, "hello", &answer) == HL_OK);
  hl_free(answer);
  CHECK(atomic_load(&sized) >= 6); /* agent, turn, lm start/end, response, trace */
  CHECK_INT(atomic_load(&unsized), 0);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

int main(void) {
  RUN(events_carry_their_struct_size);
  RUN(observer_function_style_sees_every_event);
  RUN(observer_ops_style_skips_unset_functions);
  RUN(observer_refcount_frees_user_data_once);
  RUN(observer_failure_is_counted_and_changes_nothing);
  RUN(observer_noop_accepts_everything);
  RUN(observer_logging_writes_one_key_value_line_per_event);
  RUN(observer_logging_lines_from_threads_never_interleave);
  RUN(observer_collecting_keeps_counts_and_clears);
  RUN(observer_collecting_is_thread_safe);
  RUN(observer_composite_fans_out_in_order);
  RUN(observer_global_list_receives_and_clears);
  RUN(event_type_names_are_stable);
  RUN(event_to_json_has_every_set_field);
  RUN(event_to_json_shows_the_tracer_fields);
  RUN(event_format_is_one_readable_line);
  RUN(observer_logging_and_collecting_on_a_real_run);
  return CHECK_EXIT();
}
