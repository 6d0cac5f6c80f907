/*
 * tests/hooks/test_parallel_defer.c - parallel tool calls of an agent
 * whose calls have been cheap. The promise that the calls of one response
 * run at once must still hold when a call turns out to wait for its
 * siblings: the batch's helpers on the worker pool (lib/core/taskpool.c)
 * are woken at once, never left for the caller to run after its own call.
 */
#include "fixture.h"

/* Every call waits until `expected` calls are inside at the same time,
 * or gives up after 10 s (the recorded maximum then fails the test). */
typedef struct meeting {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int inside, max_inside, expected;
} meeting;

static hl_status meet_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  meeting *m = ud;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&m->lock);
  m->inside++;
  if (m->inside > m->max_inside) m->max_inside = m->inside;
  pthread_cond_broadcast(&m->cond);
  while (m->max_inside < m->expected)
    if (pthread_cond_timedwait(&m->cond, &m->lock, &deadline) != 0) break;
  m->inside--;
  pthread_mutex_unlock(&m->lock);
  const char *id = hl_json_get_string(args, "id");
  char buf[32];
  snprintf(buf, sizeof buf, "met %s", id ? id : "?");
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static void cheap_agent_calls_still_meet_their_siblings(void) {
  meeting m = {.expected = 3};
  pthread_mutex_init(&m.lock, NULL);
  pthread_cond_init(&m.cond, NULL);
  hl_provider *p = hl_scripted_new();
  hl_agent *a = make_agent("cheap", p);
  hl_tool *meet = hl_tool_new("meet", "Meet the others.", meet_fn, &m);
  hl_tool_param(meet, "id", "string", "who", true);
  hl_agent_add_tool(a, meet);
  hl_tool_unref(meet);

  /* A few batches of cheap calls first: the agent learns an average. */
  for (int i = 0; i < 3; i++) {
    REQUIRE(hl_scripted_load_json(p,
        "{\"responses\":[{\"tool_calls\":["
        "{\"id\":\"e0\",\"name\":\"echo\",\"arguments\":{\"text\":\"a\"}},"
        "{\"id\":\"e1\",\"name\":\"echo\",\"arguments\":{\"text\":\"b\"}},"
        "{\"id\":\"e2\",\"name\":\"echo\",\"arguments\":{\"text\":\"c\"}}]},"
        "{\"text\":\"echoed\"}]}") == HL_OK);
    CHECK_RUN(a, NULL, "echo", "echoed");
    hl_request *r1 = hl_scripted_request(p, hl_scripted_request_count(p) - 1);
    const hl_message *res = last_message(r1);
    REQUIRE(res && res->n_parts == 3);
    CHECK_STR(res->parts[0].text, "a");
    CHECK_STR(res->parts[2].text, "c");
    hl_request_free(r1);
  }

  REQUIRE(hl_scripted_load_json(p,
      "{\"responses\":[{\"tool_calls\":["
      "{\"id\":\"c0\",\"name\":\"meet\",\"arguments\":{\"id\":\"0\"}},"
      "{\"id\":\"c1\",\"name\":\"meet\",\"arguments\":{\"id\":\"1\"}},"
      "{\"id\":\"c2\",\"name\":\"meet\",\"arguments\":{\"id\":\"2\"}}]},"
      "{\"text\":\"met\"}]}") == HL_OK);
  CHECK_RUN(a, NULL, "meet", "met");
  CHECK_INT(m.max_inside, 3); /* all three ran at once */
  hl_request *r1 = hl_scripted_request(p, hl_scripted_request_count(p) - 1);
  const hl_message *res = last_message(r1);
  REQUIRE(res && res->n_parts == 3);
  for (int i = 0; i < 3; i++) {
    char want_id[8], want_text[16];
    snprintf(want_id, sizeof want_id, "c%d", i);
    snprintf(want_text, sizeof want_text, "met %d", i);
    CHECK_STR(res->parts[i].id, want_id);
    CHECK_STR(res->parts[i].text, want_text);
  }
  hl_request_free(r1);
  pthread_mutex_destroy(&m.lock);
  pthread_cond_destroy(&m.cond);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

int main(void) {
  RUN(cheap_agent_calls_still_meet_their_siblings);
  return CHECK_EXIT();
}
