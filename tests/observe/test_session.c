/*
 * test_session.c - sessions: ids, history, locked state, clone, reset,
 * JSON round trip with clear errors, and the one-run-at-a-time flag.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "agent/session_internal.h"
#include "check.h"

static int is_hex_id(const char *s, size_t len) {
  if (!s || strlen(s) != len) return 0;
  for (size_t i = 0; i < len; i++)
    if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
  return 1;
}

static void session_defaults_and_random_ids(void) {
  hl_session *a = hl_session_new(NULL, NULL, NULL);
  hl_session *b = hl_session_new(NULL, NULL, NULL);
  REQUIRE(a && b);
  CHECK_STR(hl_session_app_name(a), "hookline");
  CHECK_STR(hl_session_user_id(a), "user");
  CHECK(is_hex_id(hl_session_id(a), 32));
  CHECK(is_hex_id(hl_session_id(b), 32));
  CHECK(strcmp(hl_session_id(a), hl_session_id(b)) != 0);
  CHECK_INT(hl_session_messages(a)->count, 0);
  hl_session_free(a);
  hl_session_free(b);

  char app[] = "shop";
  hl_session *c = hl_session_new(app, "alice", "s-1");
  REQUIRE(c);
  app[0] = 'X'; /* strings were copied */
  CHECK_STR(hl_session_app_name(c), "shop");
  CHECK_STR(hl_session_user_id(c), "alice");
  CHECK_STR(hl_session_id(c), "s-1");
  hl_session_free(c);
  hl_session_free(NULL);

  char hex[65];
  hl__random_hex(hex, 64);
  CHECK(is_hex_id(hex, 64));
}

static void session_state_set_get_remove(void) {
  hl_session *s = hl_session_new("app", "u", "s");
  REQUIRE(s);
  CHECK_INT(hl_session_state_set_string(s, "name", "Ada"), HL_OK);
  cJSON *n = cJSON_CreateNumber(42);
  CHECK_INT(hl_session_state_set(s, "answer", n), HL_OK);
  cJSON_SetNumberValue(n, 7); /* a copy was stored */
  cJSON_Delete(n);
  cJSON *obj = cJSON_Parse("{\"a\":[1,2]}");
  CHECK_INT(hl_session_state_set(s, "obj", obj), HL_OK);

  char *name = hl_session_state_get_string(s, "name");
  CHECK_STR(name, "Ada");
  hl_free(name);
  CHECK(hl_session_state_get_string(s, "answer") == NULL); /* not a string */
  cJSON *got = hl_session_state_get(s, "answer");
  CHECK(cJSON_IsNumber(got) && got->valuedouble == 42);
  cJSON_Delete(got);
  got = hl_session_state_get(s, "obj");
  CHECK(hl_json_equal(got, obj));
  cJSON_Delete(got);
  CHECK(hl_session_state_get(s, "missing") == NULL);

  /* replace, then remove */
  CHECK_INT(hl_session_state_set_string(s, "name", "Grace"), HL_OK);
  name = hl_session_state_get_string(s, "name");
  CHECK_STR(name, "Grace");
  hl_free(name);
  CHECK_INT(hl_session_state_set(s, "name", NULL), HL_OK);
  CHECK(hl_session_state_get(s, "name") == NULL);
  CHECK_INT(hl_session_state_set_string(s, "answer", NULL), HL_OK);

  cJSON *all = hl_session_state(s);
  cJSON *expect = cJSON_Parse("{\"obj\":{\"a\":[1,2]}}");
  CHECK(hl_json_equal(all, expect));
  cJSON_Delete(all);
  cJSON_Delete(expect);
  cJSON_Delete(obj);

  CHECK_INT(hl_session_state_set(NULL, "k", NULL), HL_ERR_INVALID);
  CHECK_INT(hl_session_state_set(s, NULL, NULL), HL_ERR_INVALID);
  CHECK(hl_session_state_get(s, NULL) == NULL);
  hl_session_free(s);
}

static hl_session *make_conversation(void) {
  hl_session *s = hl_session_new("app", "bob", "conv-1");
  if (!s) return NULL;
  hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "weather in Paris?"));
  hl_message *call = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = cJSON_Parse("{\"city\":\"Paris\"}");
  hl_message_add_tool_call(call, "c1", "weather", args);
  cJSON_Delete(args);
  hl_session_add_message(s, call);
  hl_message *res = hl_message_new(HL_ROLE_TOOL);
  hl_message_add_tool_result(res, "c1", "weather", "sunny", false);
  hl_session_add_message(s, res);
  hl_session_add_message(s, hl_message_new_text(HL_ROLE_ASSISTANT, "It is sunny."));
  hl_session_state_set_string(s, "city", "Paris");
  return s;
}

static void session_json_round_trip(void) {
  hl_session *s = make_conversation();
  REQUIRE(s);
  CHECK_INT(hl_session_messages(s)->count, 4);
  cJSON *j = hl_session_to_json(s);
  REQUIRE(j);
  CHECK_STR(hl_json_get_string(j, "app_name"), "app");
  CHECK_STR(hl_json_get_string(j, "user_id"), "bob");
  CHECK_STR(hl_json_get_string(j, "session_id"), "conv-1");
  CHECK_STR(hl_json_get_string(hl_json_get(j, "state"), "city"), "Paris");
  CHECK_INT(cJSON_GetArraySize(hl_json_get(j, "messages")), 4);

  /* through text, as /save and /load would */
  char *text = NULL;
  CHECK_INT(hl_json_print(j, &text), HL_OK);
  cJSON *parsed = NULL;
  CHECK_INT(hl_json_parse(text, (size_t)-1, &parsed), HL_OK);
  hl_free(text);
  hl_session *back = NULL;
  CHECK_INT(hl_session_from_json(parsed, &back), HL_OK);
  REQUIRE(back);
  cJSON *j2 = hl_session_to_json(back);
  CHECK(hl_json_equal(j, j2));
  CHECK_STR(hl_session_id(back), "conv-1");
  const hl_messages *m = hl_session_messages(back);
  CHECK_INT(m->count, 4);
  CHECK_INT(m->items[1]->parts[0].kind, HL_PART_TOOL_CALL);
  CHECK_STR(m->items[1]->parts[0].name, "weather");
  CHECK_STR(m->items[2]->parts[0].text, "sunny");
  cJSON_Delete(j);
  cJSON_Delete(j2);
  cJSON_Delete(parsed);
  hl_session_free(back);
  hl_session_free(s);

  /* missing ids get defaults; a missing session id a fresh random one */
  cJSON *minimal = cJSON_Parse("{}");
  hl_session *d = NULL;
  CHECK_INT(hl_session_from_json(minimal, &d), HL_OK);
  REQUIRE(d);
  CHECK_STR(hl_session_app_name(d), "hookline");
  CHECK(is_hex_id(hl_session_id(d), 32));
  hl_session_free(d);
  cJSON_Delete(minimal);
}

static void expect_from_json_error(const char *text, hl_status status, const char *needle) {
  cJSON *j = cJSON_Parse(text);
  hl_session *out = (hl_session *)&out; /* must be reset to NULL */
  hl_status st = hl_session_from_json(j, &out);
  CHECK_INT(st, status);
  CHECK(out == NULL);
  CHECK_CONTAINS(hl_last_error(), needle);
  cJSON_Delete(j);
}

static void session_from_json_names_the_bad_field(void) {
  expect_from_json_error("[1]", HL_ERR_JSON, "session: expected object");
  expect_from_json_error("{\"app_name\":3}", HL_ERR_JSON, "session.app_name");
  expect_from_json_error("{\"session_id\":{}}", HL_ERR_JSON, "session.session_id");
  expect_from_json_error("{\"state\":[1]}", HL_ERR_JSON, "session.state");
  expect_from_json_error("{\"messages\":{}}", HL_ERR_JSON, "session.messages");
  expect_from_json_error("{\"messages\":[{\"role\":\"wizard\",\"content\":[]}]}", HL_ERR_JSON,
                         "session.messages");
  hl_session *out = NULL;
  CHECK_INT(hl_session_from_json(NULL, &out), HL_ERR_INVALID);
  CHECK_INT(hl_session_from_json(NULL, NULL), HL_ERR_INVALID);
}

static void session_clone_is_deep_and_reset_keeps_ids(void) {
  hl_session *s = make_conversation();
  REQUIRE(s);
  hl_session *c = hl_session_clone(s);
  REQUIRE(c);
  CHECK_STR(hl_session_id(c), "conv-1");
  CHECK_STR(hl_session_user_id(c), "bob");
  CHECK_INT(hl_session_messages(c)->count, 4);
  /* the copy goes its own way */
  hl_session_add_message(c, hl_message_new_text(HL_ROLE_USER, "and London?"));
  hl_session_state_set_string(c, "city", "London");
  CHECK_INT(hl_session_messages(s)->count, 4);
  CHECK_INT(hl_session_messages(c)->count, 5);
  char *city = hl_session_state_get_string(s, "city");
  CHECK_STR(city, "Paris");
  hl_free(city);
  CHECK(hl_session_messages(c)->items[0] != hl_session_messages(s)->items[0]);

  hl_session_reset(c);
  CHECK_INT(hl_session_messages(c)->count, 0);
  CHECK(hl_session_state_get(c, "city") == NULL);
  CHECK_STR(hl_session_id(c), "conv-1");
  CHECK_STR(hl_session_app_name(c), "app");
  /* usable after a reset */
  CHECK_INT(hl_session_add_message(c, hl_message_new_text(HL_ROLE_USER, "hi")), HL_OK);
  CHECK_INT(hl_session_messages(c)->count, 1);

  hl__session_truncate(s, 2);
  CHECK_INT(hl_session_messages(s)->count, 2);
  hl__session_truncate(s, 10);
  CHECK_INT(hl_session_messages(s)->count, 2);
  CHECK_INT(hl_session_add_message(s, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_session_add_message(NULL, hl_message_new_text(HL_ROLE_USER, "x")), HL_ERR_INVALID);
  CHECK(hl_session_clone(NULL) == NULL);
  hl_session_free(c);
  hl_session_free(s);
}

typedef struct race {
  hl_session *s;
  atomic_int go;
  atomic_int winners;
} race;

static void *try_begin_worker(void *arg) {
  race *r = arg;
  while (!atomic_load(&r->go)) {
  }
  if (hl__session_try_begin(r->s)) atomic_fetch_add(&r->winners, 1);
  return NULL;
}

static void session_busy_flag_admits_one_run(void) {
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  REQUIRE(s);
  CHECK(!hl__session_busy(s));
  CHECK(hl__session_try_begin(s));
  CHECK(hl__session_busy(s));
  CHECK(!hl__session_try_begin(s));
  hl__session_end(s);
  CHECK(!hl__session_busy(s));

  race r = {.s = s};
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, try_begin_worker, &r);
  atomic_store(&r.go, 1);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  CHECK_INT(atomic_load(&r.winners), 1);
  hl__session_end(s);
  CHECK(!hl__session_try_begin(NULL));
  hl_session_free(s);
}

typedef struct state_job {
  hl_session *s;
  int id;
} state_job;

static void *state_worker(void *arg) {
  state_job *job = arg;
  char key[32];
  for (int i = 0; i < 200; i++) {
    snprintf(key, sizeof key, "k%d_%d", job->id, i);
    hl_session_state_set_string(job->s, key, key);
    cJSON *all = hl_session_state(job->s);
    cJSON_Delete(all);
    char *v = hl_session_state_get_string(job->s, key);
    CHECK_STR(v, key);
    hl_free(v);
  }
  return NULL;
}

static void session_state_is_thread_safe(void) {
  hl_session *s = hl_session_new(NULL, NULL, NULL);
  REQUIRE(s);
  pthread_t th[6];
  state_job jobs[6];
  for (int i = 0; i < 6; i++) {
    jobs[i] = (state_job){s, i};
    pthread_create(&th[i], NULL, state_worker, &jobs[i]);
  }
  for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
  cJSON *all = hl_session_state(s);
  CHECK_INT(cJSON_GetArraySize(all), 6 * 200);
  cJSON_Delete(all);
  hl_session_free(s);
}

/* A tool of a run that changes its own run's history: the turn's response
 * borrows the assistant message the history holds, so a reset (or an
 * append that moves the history) would leave the run reading freed
 * memory. The session refuses both while the run is in progress; state
 * and reads stay allowed. */
typedef struct meddler {
  hl_status append_st, reset_st, state_st;
  char why[256];
  size_t seen; /* the history's length as the tool saw it */
} meddler;

static hl_status meddle_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  meddler *m = ud;
  hl_session *s = hl_context_session(ctx);
  m->append_st = hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "sneaked in"));
  snprintf(m->why, sizeof m->why, "%s", hl_last_error());
  m->reset_st = hl_session_reset(s);
  m->state_st = hl_session_state_set_string(s, "touched", "yes");
  m->seen = hl_session_messages(s)->count;
  *result = cJSON_CreateString("meddled");
  return HL_OK;
}

static void session_history_is_the_runs_while_it_runs(void) {
  hl_provider *p = hl_scripted_new();
  hl_agent *agent = hl_agent_new("meddler");
  hl_session *s = hl_session_new(NULL, NULL, "busy-1");
  REQUIRE(p && agent && s);
  hl_agent_set_provider(agent, p);
  meddler m = {HL_OK, HL_OK, HL_ERR_INVALID, "", 0};
  hl_tool *tool = hl_tool_new("meddle", "changes its own run's session", meddle_tool, &m);
  REQUIRE(tool);
  CHECK_INT(hl_agent_add_tool(agent, tool), HL_OK);
  CHECK_INT(hl_scripted_push_tool_call(p, "c1", "meddle", "{}"), HL_OK);
  CHECK_INT(hl_scripted_push_text(p, "all done"), HL_OK);

  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, s, "go", &answer), HL_OK);
  CHECK_STR(answer, "all done");
  hl_free(answer);
  CHECK_INT(m.append_st, HL_ERR_STATE);
  CHECK_CONTAINS(m.why, "run in progress");
  CHECK_INT(m.reset_st, HL_ERR_STATE);
  CHECK_INT(m.state_st, HL_OK);
  CHECK_INT(m.seen, 2); /* the input and the call, nothing sneaked in */
  /* user, assistant (call), tool result, assistant (answer) */
  CHECK_INT(hl_session_messages(s)->count, 4);
  char *touched = hl_session_state_get_string(s, "touched");
  CHECK_STR(touched, "yes");
  hl_free(touched);

  /* The run is over: the history is the application's again. */
  CHECK_INT(hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "later")), HL_OK);
  CHECK_INT(hl_session_messages(s)->count, 5);
  CHECK_INT(hl_session_reset(s), HL_OK);
  CHECK_INT(hl_session_messages(s)->count, 0);

  hl_tool_unref(tool);
  hl_agent_unref(agent);
  hl_provider_unref(p);
  hl_session_free(s);
}

int main(void) {
  RUN(session_defaults_and_random_ids);
  RUN(session_state_set_get_remove);
  RUN(session_json_round_trip);
  RUN(session_from_json_names_the_bad_field);
  RUN(session_clone_is_deep_and_reset_keeps_ids);
  RUN(session_busy_flag_admits_one_run);
  RUN(session_history_is_the_runs_while_it_runs);
  RUN(session_state_is_thread_safe);
  return CHECK_EXIT();
}
