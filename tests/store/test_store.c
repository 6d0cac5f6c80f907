/*
 * tests/store/test_store.c - the session store's test list, run once per
 * backend against a real database (suite `store`):
 *
 *   store_test memory|sqlite|postgresql|redis [TEST-PREFIX]
 *
 * PostgreSQL and Redis come from tests/store/servers.py, which starts
 * throwaway servers and passes their URLs (and commands that stop and
 * start them) in HL_TEST_* variables. Every test that needs a clean
 * database makes one: a new SQLite file, a new PostgreSQL database, a new
 * Redis database number. Corruption is made with the raw client library
 * (sqlite3, libpq, hiredis), the way a broken disk or a stray script would.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/util.h"
#include "hookline.h"
#include "store/store_decode.h"
#include "store/store_fixture.h"
#include "store/store_internal.h"
#include "store/slow_proxy.h"

static const char *backend;
static char tmpdir[256];
static int fresh_count;

/* ------------------------------------------------------------------ */
/* Databases                                                           */
/* ------------------------------------------------------------------ */

static const char *env_or_die(const char *name) {
  const char *v = getenv(name);
  if (!v || !v[0]) {
    fprintf(stderr, "%s is not set: run me through tests/store/servers.py\n", name);
    exit(1);
  }
  return v;
}

/* A URL for a database nobody used yet. `raw` gets what the raw client
 * needs to reach it (file path, libpq conninfo, redis db number). */
static void fresh_url(char *url, size_t n, char *raw, size_t rn) {
  fresh_count++;
  raw[0] = '\0';
  if (!strcmp(backend, "memory")) {
    snprintf(url, n, "memory:");
  } else if (!strcmp(backend, "sqlite")) {
    snprintf(raw, rn, "%s/db%d.sqlite", tmpdir, fresh_count);
    snprintf(url, n, "sqlite:%s", raw);
  } else if (!strcmp(backend, "postgresql")) {
    const char *admin = env_or_die("HL_TEST_PG_URL");
    PGconn *c = PQconnectdb(admin);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE hl_t%d_%d", (int)getpid(), fresh_count);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) fprintf(stderr, "create db: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    /* same URL, other database: ".../postgres?..." -> ".../hl_tN_M?..." */
    const char *q = strstr(admin, "/postgres?");
    snprintf(url, n, "%.*s/hl_t%d_%d%s", (int)(q - admin), admin, (int)getpid(), fresh_count,
             q + strlen("/postgres"));
    snprintf(raw, rn, "%s", url);
  } else {
    snprintf(url, n, "%s/%d", env_or_die("HL_TEST_REDIS_URL"), fresh_count % 16);
    snprintf(raw, rn, "%d", fresh_count % 16);
    redisContext *c = redisConnect("127.0.0.1", atoi(strrchr(env_or_die("HL_TEST_REDIS_URL"), ':') + 1));
    redisReply *r = redisCommand(c, "SELECT %d", fresh_count % 16);
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHDB");
    freeReplyObject(r);
    redisFree(c);
  }
}

static hl_store *fresh_store(char *raw, size_t rn) {
  char url[600];
  fresh_url(url, sizeof url, raw, rn);
  hl_store *s = NULL;
  hl_status st = hl_store_open(url, &s);
  if (st != HL_OK) fprintf(stderr, "open %s: %s\n", url, hl_last_error());
  return s;
}

/* Run SQL (SQLite, PostgreSQL) or a Redis command (words split on '|')
 * with the raw client. Returns the first column of the first row as a
 * malloc'd string (or "" / NULL on failure). */
static char *raw_do(const char *raw, const char *cmd) {
  if (!strcmp(backend, "sqlite")) {
    sqlite3 *db = NULL;
    sqlite3_open(raw, &db);
    sqlite3_stmt *q = NULL;
    char *out = NULL;
    const char *tail = cmd;
    while (tail && *tail) {
      if (sqlite3_prepare_v2(db, tail, -1, &q, &tail) != SQLITE_OK) {
        fprintf(stderr, "raw sqlite: %s\n", sqlite3_errmsg(db));
        break;
      }
      if (!q) break;
      if (sqlite3_step(q) == SQLITE_ROW && !out)
        out = strdup(sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0) : "");
      sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return out ? out : strdup("");
  }
  if (!strcmp(backend, "postgresql")) {
    PGconn *c = PQconnectdb(raw);
    PGresult *r = PQexec(c, cmd);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = strdup(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
      fprintf(stderr, "raw pg: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out ? out : strdup("");
  }
  /* redis: "SELECT n" first, then the command's words */
  redisContext *c = redisConnect("127.0.0.1", atoi(strrchr(env_or_die("HL_TEST_REDIS_URL"), ':') + 1));
  redisReply *r = redisCommand(c, "SELECT %s", raw);
  freeReplyObject(r);
  char *copy = strdup(cmd);
  const char *argv[16];
  int argc = 0;
  for (char *tok = strtok(copy, "|"); tok && argc < 16; tok = strtok(NULL, "|")) argv[argc++] = tok;
  r = redisCommandArgv(c, argc, argv, NULL);
  char *out = NULL;
  if (r && r->type == REDIS_REPLY_STRING) out = strdup(r->str);
  if (r && r->type == REDIS_REPLY_INTEGER) {
    out = malloc(32);
    snprintf(out, 32, "%lld", r->integer);
  }
  if (r && r->type == REDIS_REPLY_ERROR) fprintf(stderr, "raw redis: %s\n", r->str);
  freeReplyObject(r);
  free(copy);
  redisFree(c);
  return out ? out : strdup("");
}

static bool is_db(void) { return strcmp(backend, "memory") != 0; }
static bool is_sql(void) { return !strcmp(backend, "sqlite") || !strcmp(backend, "postgresql"); }
static bool is_server(void) { return !strcmp(backend, "postgresql") || !strcmp(backend, "redis"); }

/* SQL that changes or deletes event `version` of session `id` behind the
 * store's back: `verb` is "UPDATE hl_events SET data = '...'" or
 * "DELETE FROM hl_events". SQLite keys an event by its session's number
 * and its version (sqlite.c), PostgreSQL by the ids and the version. */
static void raw_event_sql(const char *raw, const char *verb, const char *id, int version) {
  char sql[600];
  if (!strcmp(backend, "sqlite"))
    snprintf(sql, sizeof sql, "%s WHERE k = (SELECT sid FROM hl_sessions WHERE id = '%s')"
             " * 4294967296 + %d", verb, id, version);
  else
    snprintf(sql, sizeof sql, "%s WHERE id = '%s' AND version = %d", verb, id, version);
  free(raw_do(raw, sql));
}

static cJSON *ev_text(const char *role, const char *text) {
  hl_message *m = hl_message_new_text(!strcmp(role, "user") ? HL_ROLE_USER : HL_ROLE_ASSISTANT, text);
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", "message");
  cJSON_AddItemToObject(e, "message", hl_message_to_json(m));
  hl_message_free(m);
  return e;
}

static hl_status append_text(hl_store *s, const char *app, const char *id, int64_t expected,
                             const char *role, const char *text) {
  cJSON *e = ev_text(role, text);
  int64_t v = 0;
  hl_status st = hl_store_append(s, app, "u", id, expected, e, &v);
  cJSON_Delete(e);
  if (st == HL_OK && v != expected + 1) return HL_ERR_STATE;
  return st;
}

/* ------------------------------------------------------------------ */
/* The test list                                                       */
/* ------------------------------------------------------------------ */

static void round_trip(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  CHECK_STR(hl_store_backend(s), backend);
  CHECK_INT(append_text(s, "app", "s1", 0, "user", "hello world"), HL_OK);
  CHECK_INT(append_text(s, "app", "s1", 1, "assistant", "hi there"), HL_OK);
  cJSON *state = cJSON_Parse("{\"type\":\"state\",\"key\":\"k\",\"value\":{\"n\":0.30000000000000004}}");
  int64_t v = 0;
  CHECK_INT(hl_store_append(s, "app", "u", "s1", 2, state, &v), HL_OK);
  CHECK_INT(v, 3);
  cJSON *events = NULL;
  CHECK_INT(hl_store_load(s, "app", "u", "s1", &events, &v), HL_OK);
  CHECK_INT(v, 3);
  CHECK_INT(cJSON_GetArraySize(events), 3);
  CHECK(cJSON_Compare(cJSON_GetArrayItem(events, 2), state, true));
  /* numbers come back exactly (the event is stored as printed) */
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(events, 2), "value"), "n")->valuedouble ==
        0.30000000000000004);
  cJSON_Delete(events);
  cJSON_Delete(state);

  CHECK_INT(append_text(s, "app", "s2", 0, "user", "second\nsession with a rather long first line that goes past sixty bytes"), HL_OK);
  CHECK_INT(append_text(s, "other-app", "s3", 0, "user", "elsewhere"), HL_OK);
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_INT(cJSON_GetArraySize(list), 2);
  const cJSON *first = cJSON_GetArrayItem(list, 0), *second = cJSON_GetArrayItem(list, 1);
  CHECK_STR(hl_json_get_string(first, "id"), "s2"); /* most recent first */
  CHECK_STR(hl_json_get_string(second, "id"), "s1");
  CHECK_STR(hl_json_get_string(second, "title"), "hello world");
  CHECK_INT(strlen(hl_json_get_string(first, "title")), 60);
  CHECK(strchr(hl_json_get_string(first, "title"), '\n') == NULL);
  CHECK_INT(hl_json_get_number(second, "version", 0), 3);
  CHECK(hl_json_get_number(second, "bytes", 0) > 50);
  CHECK(hl_json_get_number(second, "updated", 0) >= hl_json_get_number(second, "created", 1));
  cJSON_Delete(list);

  CHECK_INT(hl_store_delete(s, "app", "u", "s1"), HL_OK);
  CHECK_INT(hl_store_load(s, "app", "u", "s1", &events, NULL), HL_ERR_NOT_FOUND);
  CHECK(events == NULL);
  CHECK_INT(hl_store_delete(s, "app", "u", "s1"), HL_ERR_NOT_FOUND);
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_INT(cJSON_GetArraySize(list), 1);
  cJSON_Delete(list);

  /* bad input: clear errors, nothing written */
  cJSON *bad = cJSON_Parse("{\"no_type\":1}");
  CHECK_INT(hl_store_append(s, "app", "u", "s4", 0, bad, NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "\"type\"");
  CHECK_INT(hl_store_append(s, "app", "u", NULL, 0, bad, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_store_append(s, "", "u", "x", 0, bad, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_store_load(s, "app", "u", "s4", &events, NULL), HL_ERR_NOT_FOUND);
  cJSON_Delete(bad);
  hl_store_close(s);
}

static void conflict(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  CHECK_INT(append_text(s, "app", "c", 0, "user", "first"), HL_OK);
  /* a writer that also saw version 0 lost the race */
  CHECK_INT(append_text(s, "app", "c", 0, "user", "second"), HL_ERR_CONFLICT);
  CHECK_CONTAINS(hl_last_error(), "another writer");
  /* a writer ahead of the store is refused too */
  CHECK_INT(append_text(s, "app", "c", 5, "user", "ahead"), HL_ERR_CONFLICT);
  CHECK_INT(append_text(s, "app", "c", 1, "assistant", "ok"), HL_OK);
  cJSON *events = NULL;
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "c", &events, &v), HL_OK);
  CHECK_INT(v, 2);
  char *printed = cJSON_PrintUnformatted(events);
  CHECK(strstr(printed, "second") == NULL && strstr(printed, "ahead") == NULL);
  free(printed);
  cJSON_Delete(events);

  /* two handles (two connections) on one database race the same way */
  if (is_db()) {
    char url[1300];
    hl_store *s2 = NULL;
    if (!strcmp(backend, "sqlite")) snprintf(url, sizeof url, "sqlite:%s", raw);
    else if (!strcmp(backend, "postgresql")) snprintf(url, sizeof url, "%s", raw);
    else snprintf(url, sizeof url, "%s/%s", getenv("HL_TEST_REDIS_URL"), raw);
    REQUIRE(hl_store_open(url, &s2) == HL_OK);
    CHECK_INT(append_text(s2, "app", "c", 2, "user", "from two"), HL_OK);
    CHECK_INT(append_text(s, "app", "c", 2, "user", "from one"), HL_ERR_CONFLICT);
    CHECK_INT(append_text(s, "app", "c", 3, "assistant", "one caught up"), HL_OK);
    hl_store_close(s2);
  }
  hl_store_close(s);
}

static void odd_ids(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  char longid[513];
  memset(longid, 'x', 512);
  longid[512] = '\0';
  const char *ids[] = {"it's", "\"quoted\"", "'; DROP TABLE hl_events; --", "a:b", "3:abc",
                       "sp ace", "tab\there", "new\nline", "ünïcødé ✓", "%s%n%d", "back\\slash",
                       "*", "{tag}", longid};
  size_t n = sizeof ids / sizeof *ids;
  for (size_t i = 0; i < n; i++) {
    CHECK_INT(append_text(s, "app", ids[i], 0, "user", ids[i]), HL_OK);
  }
  for (size_t i = 0; i < n; i++) {
    cJSON *events = NULL;
    CHECK_INT(hl_store_load(s, "app", "u", ids[i], &events, NULL), HL_OK);
    char *printed = cJSON_PrintUnformatted(events);
    cJSON *want = cJSON_CreateString(ids[i]);
    char *wq = cJSON_PrintUnformatted(want);
    CHECK(printed && strstr(printed, wq) != NULL);
    CHECK_INT(cJSON_GetArraySize(events), 1);
    free(wq);
    cJSON_Delete(want);
    free(printed);
    cJSON_Delete(events);
  }
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_INT(cJSON_GetArraySize(list), (int)n);
  cJSON_Delete(list);
  /* parts that could run together stay apart: (user "a:b", id "c") vs
   * (user "a", id "b:c") */
  cJSON *e = ev_text("user", "one");
  CHECK_INT(hl_store_append(s, "app", "a:b", "c", 0, e, NULL), HL_OK);
  CHECK_INT(hl_store_append(s, "app", "a", "b:c", 0, e, NULL), HL_OK);
  CHECK_INT(hl_store_append(s, "app:a", "b", "c", 0, e, NULL), HL_OK);
  cJSON_Delete(e);
  /* too long: refused with a clear message, not truncated into another id */
  char toolong[514];
  memset(toolong, 'y', 513);
  toolong[513] = '\0';
  CHECK_INT(append_text(s, "app", toolong, 0, "user", "x"), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "512");
  /* the tables are still there after the id that tried to drop one */
  if (is_sql()) {
    char *count = raw_do(raw, "SELECT COUNT(*) FROM hl_events");
    CHECK_INT(atoi(count), (int)n + 3);
    free(count);
  }
  hl_store_close(s);
}

/* Bytes that are not UTF-8, in message content and in ids, through each
 * backend: they come back exactly (SQLite, Redis, memory keep bytes), or
 * the write is refused with HL_ERR_INVALID saying so and nothing is
 * written (PostgreSQL's text is UTF-8); never a garbled round trip. */
static void invalid_utf8(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  const char *text = "caf\xe9 \xff\xfe \xc3\x28 ok \xe2\x82";
  const char *id = "id-\xff\xfe";
  bool refuses = !strcmp(backend, "postgresql");
  /* content */
  hl_status st = append_text(s, "app", "content", 0, "user", text);
  fprintf(stderr, "  (content: %s)\n", st ? hl_last_error() : "stored");
  if (refuses) {
    CHECK_INT(st, HL_ERR_INVALID);
    CHECK_CONTAINS(hl_last_error(), "UTF-8");
    CHECK_CONTAINS(hl_last_error(), "event 1");
    cJSON *none = NULL;
    CHECK_INT(hl_store_load(s, "app", "u", "content", &none, NULL), HL_ERR_NOT_FOUND);
  } else {
    CHECK_INT(st, HL_OK);
    cJSON *events = NULL;
    CHECK_INT(hl_store_load(s, "app", "u", "content", &events, NULL), HL_OK);
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(events, 0), "message");
    hl_message *msg = NULL;
    CHECK_INT(hl_message_from_json(m, &msg), HL_OK);
    char *back = msg ? hl_message_text(msg) : NULL;
    CHECK_STR(back, text);
    hl_free(back);
    hl_message_free(msg);
    cJSON_Delete(events);
  }
  /* ids, and the other parts of the key */
  const char *keys[3][3] = {{"app", "u", id}, {"app", "u-\xc0\xaf", "s"}, {"\xf8pp", "u", "s"}};
  for (int i = 0; i < 3; i++) {
    cJSON *e = ev_text("user", "plain");
    st = hl_store_append(s, keys[i][0], keys[i][1], keys[i][2], 0, e, NULL);
    cJSON_Delete(e);
    fprintf(stderr, "  (key %d: %s)\n", i, st ? hl_last_error() : "stored");
    cJSON *events = NULL;
    if (refuses) {
      CHECK_INT(st, HL_ERR_INVALID);
      CHECK_CONTAINS(hl_last_error(), "UTF-8");
      CHECK_CONTAINS(hl_last_error(), i == 0 ? "session id" : i == 1 ? "user id" : "app name");
      CHECK_INT(hl_store_load(s, keys[i][0], keys[i][1], keys[i][2], &events, NULL), HL_ERR_INVALID);
      CHECK_INT(hl_store_delete(s, keys[i][0], keys[i][1], keys[i][2]), HL_ERR_INVALID);
    } else {
      CHECK_INT(st, HL_OK);
      CHECK_INT(hl_store_load(s, keys[i][0], keys[i][1], keys[i][2], &events, NULL), HL_OK);
      CHECK_INT(cJSON_GetArraySize(events), 1);
      cJSON_Delete(events);
      cJSON *list = NULL;
      CHECK_INT(hl_store_list(s, keys[i][0], keys[i][1], &list), HL_OK);
      const cJSON *first = cJSON_GetArrayItem(list, 0);
      CHECK(first && cJSON_IsString(cJSON_GetObjectItem(first, "id")));
      cJSON_Delete(list);
    }
  }
  /* the store still works */
  CHECK_INT(append_text(s, "app", "after", 0, "user", "fine"), HL_OK);
  hl_store_close(s);
}

static void write_through(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  hl_session *a = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "wt", &a) == HL_OK);
  CHECK(hl_session_is_stored(a));
  CHECK_INT(hl_session_version(a), 0);
  hl_agent *agent = fixture_agent();
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, a, "hello", &answer), HL_OK);
  CHECK_STR(answer, "done: hello");
  hl_free(answer);
  /* user, assistant tool call, tool result, final answer */
  CHECK_INT(hl_session_version(a), 4);
  CHECK_INT(hl_session_state_set_string(a, "mood", "good"), HL_OK);
  CHECK_INT(hl_session_version(a), 5);

  hl_session *b = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "wt", &b) == HL_OK);
  CHECK_INT(hl_session_version(b), 5);
  CHECK_INT(hl_session_messages(b)->count, 4);
  char *mood = hl_session_state_get_string(b, "mood");
  CHECK_STR(mood, "good");
  hl_free(mood);
  cJSON *ja = hl_session_to_json(a), *jb = hl_session_to_json(b);
  CHECK(cJSON_Compare(ja, jb, true));
  cJSON_Delete(ja);
  cJSON_Delete(jb);
  CHECK(hl_session_unfinished_input(b) == NULL);

  /* the next turn on the reopened session continues the conversation */
  CHECK_INT(hl_agent_run(agent, b, "again", &answer), HL_OK);
  hl_free(answer);
  CHECK_INT(hl_session_version(b), 9);
  CHECK_INT(hl_session_reload(a), HL_OK);
  CHECK_INT(hl_session_messages(a)->count, 8);

  /* a failed run takes its messages back, in the log too */
  CHECK_INT(hl_agent_run(agent, b, "fail", &answer), HL_ERR_PROVIDER);
  CHECK_INT(hl_session_messages(b)->count, 8);
  hl_session *c = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "wt", &c) == HL_OK);
  CHECK_INT(hl_session_messages(c)->count, 8);
  CHECK(hl_session_unfinished_input(c) == NULL);

  /* an in-memory session stays in memory */
  hl_session *mem = hl_session_new("app", "u", "wt");
  CHECK(!hl_session_is_stored(mem));
  CHECK_INT(hl_session_reload(mem), HL_ERR_INVALID);
  hl_session_free(mem);
  hl_session_free(c);
  hl_session_free(b);
  hl_session_free(a);
  hl_agent_unref(agent);
  hl_store_close(s);
}

static void conflict_retry(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  hl_session *a = NULL, *b = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "race", &a) == HL_OK);
  REQUIRE(hl_session_open(s, "app", "u", "race", &b) == HL_OK);
  hl_agent *agent = fixture_agent();
  atomic_store(&note_calls, 0);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, a, "one", &answer), HL_OK);
  hl_free(answer);
  /* b still thinks the session is empty: its first append (its first
   * turn boundary: input, call, result) loses, it reloads and runs its
   * turn on top of a's. Its tool ran in the lost attempt too: a stale
   * writer finds out at its first boundary (at-least-once, store.h). */
  CHECK_INT(hl_agent_run(agent, b, "two", &answer), HL_OK);
  CHECK_STR(answer, "done: two");
  hl_free(answer);
  CHECK_INT(atomic_load(&note_calls), 3);
  CHECK_INT(hl_session_version(b), 8);
  CHECK_INT(hl_session_reload(a), HL_OK);
  const hl_messages *h = hl_session_messages(a);
  REQUIRE(h->count == 8);
  char *t0 = hl_message_text(h->items[0]), *t4 = hl_message_text(h->items[4]);
  CHECK_STR(t0, "one");
  CHECK_STR(t4, "two");
  hl_free(t0);
  hl_free(t4);
  /* a plain state write that lost the race says so and changes nothing */
  hl_session *stale = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "race", &stale) == HL_OK);
  CHECK_INT(hl_session_state_set_string(a, "k", "from a"), HL_OK);
  CHECK_INT(hl_session_state_set_string(stale, "k", "from stale"), HL_ERR_CONFLICT);
  char *k = hl_session_state_get_string(stale, "k");
  CHECK(k == NULL);
  hl_free(k);
  hl_session_free(stale);
  hl_session_free(a);
  hl_session_free(b);
  hl_agent_unref(agent);
  hl_store_close(s);
}

/* Two runs on one session racing while the first one retries after
 * conflicts: hl_agent_run() keeps the session's one-run claim across its
 * reloads, so the second run gets HL_ERR_STATE until the first returned
 * (before, the claim was released between two attempts and the other run
 * got in while the session was being reloaded under it). Each attempt of
 * the first run loses to a write through another handle, made from its
 * model call; the log is made big so that each reload takes a while. */
static atomic_int claim_attempts;  /* model calls of the retrying run */
static atomic_int claim_seen;      /* attempts counted when the intruder got in; -1 never */
static atomic_bool claim_done;     /* the retrying run returned */
static hl_session *claim_other;    /* another handle on the same session */

static hl_status claim_complete(void *impl, hl_context *ctx, const hl_request *req,
                                hl_response **out) {
  (void)impl, (void)ctx, (void)req;
  atomic_fetch_add(&claim_attempts, 1);
  /* another writer gets there first: this run's next append conflicts */
  if (hl_session_reload(claim_other) != HL_OK ||
      hl_session_state_set_string(claim_other, "other", "was here") != HL_OK)
    return hl_fail(HL_ERR_IO, "claim test: the other writer failed: %s", hl_last_error());
  *out = hl_response_new_text("never kept");
  return HL_OK;
}

static hl_hook_action claim_intruder(hl_context *ctx, const hl_before_agent_args *args,
                                     hl_before_agent_out *out, void *ud) {
  (void)ctx, (void)args, (void)ud;
  int expected = -1;
  atomic_compare_exchange_strong(&claim_seen, &expected, atomic_load(&claim_attempts));
  out->answer = strdup("intruder");
  return HL_HOOK_OVERRIDE;
}

typedef struct claim_race {
  hl_agent *intruder;
  hl_session *session;
  long tries, busy;
} claim_race;

static void *claim_intrude(void *arg) {
  claim_race *r = arg;
  while (atomic_load(&claim_attempts) == 0 && !atomic_load(&claim_done)) sched_yield();
  while (!atomic_load(&claim_done)) {
    char *answer = NULL;
    hl_status st = hl_agent_run(r->intruder, r->session, "intruder", &answer);
    hl_free(answer);
    r->tries++;
    if (st == HL_ERR_STATE) r->busy++;
  }
  return NULL;
}

static void conflict_retry_keeps_claim(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  /* a big log: every reload reads ~2 MB */
  char *big = malloc(200001);
  REQUIRE(big);
  memset(big, 'x', 200000);
  big[200000] = '\0';
  for (int i = 0; i < 10; i++)
    CHECK_INT(append_text(s, "app", "claim", i, i % 2 ? "assistant" : "user", big), HL_OK);
  free(big);
  hl_session *sess = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "claim", &sess) == HL_OK);
  REQUIRE(hl_session_open(s, "app", "u", "claim", &claim_other) == HL_OK);

  static const hl_provider_ops ops = {.size = sizeof(hl_provider_ops), .name = "claim",
                                      .complete = claim_complete};
  hl_agent *agent = hl_agent_new("retrying");
  hl_provider *p = hl_provider_new(&ops, NULL);
  hl_agent_set_provider(agent, p);
  hl_provider_unref(p);
  claim_race race = {hl_agent_new("intruder"), sess, 0, 0};
  hl_provider *p2 = hl_provider_new(&ops, NULL);
  hl_agent_set_provider(race.intruder, p2);
  hl_provider_unref(p2);
  hl_hooks_add_before_agent(hl_agent_hooks(race.intruder), "intrude", HL_HOOK_DECIDE,
                            claim_intruder, NULL);
  atomic_store(&claim_attempts, 0);
  atomic_store(&claim_seen, -1);
  atomic_store(&claim_done, false);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, claim_intrude, &race) == 0);
  char *answer = NULL;
  hl_status st = hl_agent_run(agent, sess, "mine", &answer);
  atomic_store(&claim_done, true);
  pthread_join(t, NULL);
  hl_free(answer);
  /* every attempt lost to the other writer: the first and 3 retries */
  CHECK_INT(st, HL_ERR_CONFLICT);
  CHECK_INT(atomic_load(&claim_attempts), 4);
  /* the intruder tried while the run retried, and was kept out */
  CHECK(race.busy > 0);
  int seen = atomic_load(&claim_seen);
  if (seen != -1 && seen != 4)
    fprintf(stderr, "the intruder got in after attempt %d of 4 (%ld tries, %ld busy)\n", seen,
            race.tries, race.busy);
  CHECK(seen == -1 || seen == 4);
  /* nothing of the run reached the log or stayed in memory: each
   * attempt's input and answer were one append (one turn boundary),
   * which lost the race */
  CHECK_INT(hl_session_messages(sess)->count, 10);
  char *pending = hl_session_unfinished_input(sess);
  CHECK(pending == NULL);
  hl_free(pending);
  hl_session_free(claim_other);
  claim_other = NULL;
  hl_session_free(sess);
  hl_agent_unref(race.intruder);
  hl_agent_unref(agent);
  hl_store_close(s);
}

/* A group append (one turn boundary): every event or none, one version
 * check, versions contiguous; texts with the characters a backend must
 * escape come back byte for byte. */
static void group_append(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  cJSON *g = cJSON_CreateArray();
  cJSON_AddItemToArray(g, ev_text("user", "a \"quoted\" back\\slash {brace,comma} \xc3\xa9"));
  cJSON_AddItemToArray(g, ev_text("assistant", "second"));
  cJSON_AddItemToArray(g, cJSON_Parse("{\"type\":\"state\",\"key\":\"k\",\"value\":[1,\"}\"]}"));
  int64_t v = -1;
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 0, g, &v), HL_OK);
  CHECK_INT(v, 3);
  /* a stale writer's group: conflict, nothing of it written */
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 1, g, &v), HL_ERR_CONFLICT);
  CHECK_INT(v, 0);
  /* a bad item anywhere: refused before anything is written */
  cJSON *bad = cJSON_CreateArray();
  cJSON_AddItemToArray(bad, ev_text("user", "fine"));
  cJSON_AddItemToArray(bad, cJSON_CreateString("not an event"));
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 3, bad, &v), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "event 2");
  cJSON *empty = cJSON_CreateArray();
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 3, empty, &v), HL_ERR_INVALID);
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 3, NULL, &v), HL_ERR_INVALID);
  /* a larger group on top (past the front end's stack room) */
  cJSON *big = cJSON_CreateArray();
  for (int i = 0; i < 20; i++) {
    char t[32];
    snprintf(t, sizeof t, "big %d", i);
    cJSON_AddItemToArray(big, ev_text(i % 2 ? "assistant" : "user", t));
  }
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 3, big, &v), HL_OK);
  CHECK_INT(v, 23);
  /* a group of a size written before, on top (PostgreSQL: its statement
   * prepared by the conflicting attempt above is used again) */
  CHECK_INT(hl_store_append_events(s, "app", "u", "g", 23, g, &v), HL_OK);
  CHECK_INT(v, 26);
  cJSON *events = NULL;
  CHECK_INT(hl_store_load(s, "app", "u", "g", &events, &v), HL_OK);
  CHECK_INT(v, 26);
  CHECK_INT(cJSON_GetArraySize(events), 26);
  for (int i = 0; i < 3; i++) {
    CHECK(cJSON_Compare(cJSON_GetArrayItem(events, i), cJSON_GetArrayItem(g, i), true));
    CHECK(cJSON_Compare(cJSON_GetArrayItem(events, 23 + i), cJSON_GetArrayItem(g, i), true));
  }
  for (int i = 0; i < 20; i++)
    CHECK(cJSON_Compare(cJSON_GetArrayItem(events, 3 + i), cJSON_GetArrayItem(big, i), true));
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  cJSON *item = cJSON_GetArrayItem(list, 0);
  CHECK_INT((int)cJSON_GetObjectItem(item, "version")->valuedouble, 26);
  CHECK_STR(cJSON_GetObjectItem(item, "title")->valuestring,
            "a \"quoted\" back\\slash {brace,comma} \xc3\xa9");
  cJSON_Delete(list);
  cJSON_Delete(events);
  cJSON_Delete(big);
  cJSON_Delete(empty);
  cJSON_Delete(bad);
  cJSON_Delete(g);
  hl_store_close(s);
}

/* One append per turn boundary: while the tools of the first turn run,
 * the log has nothing of the run yet (the input and the call are written
 * together with the results); after the run, input, call, results and
 * answer are all there, one version each, in two appends. A state change
 * made by a tool is held with them: written in the same append, after
 * the call, before the result. */
static hl_store *boundary_store;
static int64_t boundary_seen = -1, boundary_after_state = -1;
static hl_status boundary_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  (void)ud;
  cJSON *events = NULL;
  int64_t v = -1;
  hl_status st = hl_store_load(boundary_store, "app", "u", "tb", &events, &v);
  boundary_seen = st == HL_OK ? v : st == HL_ERR_NOT_FOUND ? 0 : -1;
  cJSON_Delete(events);
  if (ud == NULL) { /* the second agent: a state change during the tools */
    cJSON *yes = cJSON_CreateTrue();
    hl_context_state_set(ctx, "touched", yes);
    cJSON_Delete(yes);
    st = hl_store_load(boundary_store, "app", "u", "tb", &events, &v);
    boundary_after_state = st == HL_OK ? v : st == HL_ERR_NOT_FOUND ? 0 : -1;
    cJSON_Delete(events);
  }
  *result = cJSON_CreateString("ok");
  return HL_OK;
}

static void turn_boundaries(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  boundary_store = s;
  for (int variant = 0; variant < 2; variant++) {
    hl_agent *a = hl_agent_new("tb");
    hl_provider *p = loop_provider();
    hl_agent_set_provider(a, p);
    hl_provider_unref(p);
    hl_tool *t = hl_tool_new("note", "Note a text", boundary_tool, variant ? NULL : (void *)a);
    hl_tool_param(t, "text", "string", "what to note", true);
    hl_agent_add_tool(a, t);
    hl_tool_unref(t);
    hl_session *sess = NULL;
    REQUIRE(hl_session_open(s, "app", "u", "tb", &sess) == HL_OK);
    int64_t before = hl_session_version(sess);
    boundary_seen = -1;
    char *answer = NULL;
    CHECK_INT(hl_agent_run(a, sess, variant ? "with state" : "plain", &answer), HL_OK);
    hl_free(answer);
    /* during the tool: nothing of this run (it waits for the results),
     * not even after the tool changed the state */
    CHECK_INT(boundary_seen, before);
    if (variant) CHECK_INT(boundary_after_state, before);
    /* after: input, call, result, answer (and the state change) */
    CHECK_INT(hl_session_version(sess), before + (variant ? 5 : 4));
    cJSON *events = NULL;
    int64_t v = 0;
    CHECK_INT(hl_store_load(s, "app", "u", "tb", &events, &v), HL_OK);
    CHECK_INT(v, hl_session_version(sess));
    const char *want[2][5] = {{"message", "message", "message", "message", NULL},
                              {"message", "message", "state", "message", "message"}};
    for (int i = 0; i < (variant ? 5 : 4); i++) {
      cJSON *e = cJSON_GetArrayItem(events, (int)before + i);
      CHECK_STR(cJSON_GetObjectItem(e, "type")->valuestring, want[variant][i]);
    }
    cJSON_Delete(events);
    hl_session_free(sess);
    hl_agent_unref(a);
  }
  hl_store_close(s);
}

/* A model that asks for the note tool, then fails once its result is in. */
static hl_status fail_after_tool(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_response **out) {
  const hl_message *last = req->messages.items[req->messages.count - 1];
  if (last->role == HL_ROLE_TOOL) return hl_fail(HL_ERR_PROVIDER, "model: down after the tool");
  return loop_complete(impl, ctx, req, out);
}

static hl_hook_action state_then_abort(hl_context *ctx, const hl_before_model_args *args,
                                       hl_before_model_out *out, void *ud) {
  (void)args;
  (void)out;
  (void)ud;
  cJSON *yes = cJSON_CreateTrue();
  hl_context_state_set(ctx, "touched", yes);
  cJSON_Delete(yes);
  cJSON *events = NULL;
  int64_t v = -1;
  hl_status st = hl_store_load(boundary_store, "app", "u", "tb", &events, &v);
  boundary_after_state = st == HL_OK ? v : -1;
  cJSON_Delete(events);
  return hl_hook_abort("before_model: stop here");
}

/* A run that fails after a tool changed the state: its messages are taken
 * back, the state change stays, in memory and in the log. Failing at the
 * second model call, the first boundary (input, call, state, result) is in
 * the log and a truncate follows; aborted by a before_model hook that
 * changed the state, before any boundary, nothing of the run reached the
 * log but the state change, written alone when the run's held input is
 * dropped. */
static void held_state_of_failed_run(void) {
  for (int variant = 0; variant < 2; variant++) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  boundary_store = s;
  boundary_after_state = -1;
  static const hl_provider_ops ops = {.size = sizeof(hl_provider_ops), .name = "fails",
                                      .complete = fail_after_tool};
  hl_agent *a = hl_agent_new("tb");
  hl_provider *p = hl_provider_new(&ops, NULL);
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_tool *t = hl_tool_new("note", "Note a text", boundary_tool, NULL);
  hl_tool_param(t, "text", "string", "what to note", true);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  if (variant) hl_hooks_add_before_model(hl_agent_hooks(a), "stop", 0, state_then_abort, NULL);
  hl_session *sess = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "tb", &sess) == HL_OK);
  CHECK_INT(hl_session_add_message(sess, hl_message_new_text(HL_ROLE_USER, "earlier")), HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, sess, "then fail", &answer), variant ? HL_ERR_ABORTED : HL_ERR_PROVIDER);
  CHECK_INT(boundary_after_state, 1); /* held while the tool ran */
  CHECK_INT(hl_session_messages(sess)->count, 1);
  cJSON *touched = hl_session_state_get(sess, "touched");
  CHECK(cJSON_IsTrue(touched));
  cJSON_Delete(touched);
  hl_session_free(sess);
  REQUIRE(hl_session_open(s, "app", "u", "tb", &sess) == HL_OK);
  CHECK_INT(hl_session_messages(sess)->count, 1);
  touched = hl_session_state_get(sess, "touched");
  CHECK(cJSON_IsTrue(touched));
  cJSON_Delete(touched);
  cJSON *events = NULL;
  CHECK_INT(hl_store_load(s, "app", "u", "tb", &events, NULL), HL_OK);
  const char *want[2][6] = {{"message", "message", "message", "state", "message", "truncate"},
                            {"message", "state", NULL, NULL, NULL, NULL}};
  CHECK_INT(cJSON_GetArraySize(events), variant ? 2 : 6);
  for (int i = 0; i < cJSON_GetArraySize(events) && i < 6; i++)
    CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(events, i), "type"), want[variant][i]);
  cJSON_Delete(events);
  hl_session_free(sess);
  hl_agent_unref(a);
  hl_store_close(s);
  }
}

/* A log that ends in tool calls without results (the worker died while
 * its tool ran): the same input continues the run, the tool runs again
 * with the call id the model gave, the input is not asked twice. */
static void resume_unfinished(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  CHECK_INT(append_text(s, "app", "r", 0, "user", "resume me"), HL_OK);
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  cJSON *args = cJSON_Parse("{\"text\":\"resume me\"}");
  hl_message_add_tool_call(m, "call-from-before", "note", args);
  cJSON_Delete(args);
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", "message");
  cJSON_AddItemToObject(e, "message", hl_message_to_json(m));
  hl_message_free(m);
  CHECK_INT(hl_store_append(s, "app", "u", "r", 1, e, NULL), HL_OK);
  cJSON_Delete(e);

  hl_session *sess = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "r", &sess) == HL_OK);
  char *pending = hl_session_unfinished_input(sess);
  CHECK_STR(pending, "resume me");
  hl_free(pending);
  hl_agent *agent = fixture_agent();
  atomic_store(&note_calls, 0);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, sess, "resume me", &answer), HL_OK);
  CHECK_STR(answer, "done: resume me");
  hl_free(answer);
  CHECK_INT(atomic_load(&note_calls), 1);
  CHECK_STR(note_last_call_id, "call-from-before");
  const hl_messages *h = hl_session_messages(sess);
  CHECK_INT(h->count, 4); /* user, call, result, answer: the input once */
  CHECK_INT(h->items[2]->role, HL_ROLE_TOOL);
  CHECK_STR(h->items[2]->parts[0].id, "call-from-before");
  CHECK(hl_session_unfinished_input(sess) == NULL);
  CHECK_INT(hl_session_version(sess), 4);

  /* a different input on an unfinished log starts a new run */
  CHECK_INT(append_text(s, "app", "r2", 0, "user", "left hanging"), HL_OK);
  hl_session *s2 = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "r2", &s2) == HL_OK);
  CHECK_INT(hl_agent_run(agent, s2, "new question", &answer), HL_OK);
  hl_free(answer);
  CHECK_INT(hl_session_messages(s2)->count, 5);
  hl_session_free(s2);
  hl_session_free(sess);
  hl_agent_unref(agent);
  hl_store_close(s);
}

/* The call id reaches tools on every path: a tool with a time limit runs
 * on a worker thread, several calls of one turn run in parallel. Outside
 * a tool call there is none. */
static char seen_ids[4][64];
static hl_status id_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  int slot = (int)(intptr_t)ud;
  const char *id = hl_context_tool_call_id(ctx);
  snprintf(seen_ids[slot], sizeof seen_ids[slot], "%s", id ? id : "(none)");
  *result = cJSON_CreateString(seen_ids[slot]);
  return HL_OK;
}
static hl_status two_calls(void *impl, hl_context *ctx, const hl_request *req, hl_response **out) {
  (void)impl;
  (void)ctx;
  if (req->messages.items[req->messages.count - 1]->role == HL_ROLE_TOOL) {
    *out = hl_response_new_text("ok");
    return HL_OK;
  }
  hl_response *r = hl_response_new();
  hl_message_add_tool_call(r->message, "id-timed", "timed", NULL);
  hl_message_add_tool_call(r->message, "id-plain", "plain", NULL);
  r->finish = HL_FINISH_TOOL_CALLS;
  *out = r;
  return HL_OK;
}
static void tool_call_id(void) {
  if (strcmp(backend, "memory") != 0) return; /* no store involved: once is enough */
  static const hl_provider_ops ops = {.size = sizeof(hl_provider_ops), .name = "two", .complete = two_calls};
  hl_agent *a = hl_agent_new("ids");
  hl_provider *p = hl_provider_new(&ops, NULL);
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_tool *timed = hl_tool_new("timed", "t", id_tool, (void *)(intptr_t)0);
  hl_tool_set_timeout_ms(timed, 20000);
  hl_tool *plain = hl_tool_new("plain", "p", id_tool, (void *)(intptr_t)1);
  hl_agent_add_tool(a, timed);
  hl_agent_add_tool(a, plain);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  CHECK_STR(seen_ids[0], "id-timed");
  CHECK_STR(seen_ids[1], "id-plain");
  CHECK(hl_context_tool_call_id(NULL) == NULL);
  /* a direct call without an agent has no call id */
  cJSON *r = NULL;
  CHECK_INT(hl_tool_invoke(plain, NULL, NULL, &r), HL_OK);
  CHECK_STR(seen_ids[1], "(none)");
  cJSON_Delete(r);
  hl_tool_unref(timed);
  hl_tool_unref(plain);
  hl_agent_unref(a);
}

static void run_state(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  hl_session *a = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "rs", &a) == HL_OK);
  cJSON *state = cJSON_Parse("{\"pending\":[{\"call_id\":\"c1\",\"tool\":\"rm\"}],\"turn\":2}");
  CHECK_INT(hl_session_set_run_state(a, state), HL_OK);
  hl_session *b = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "rs", &b) == HL_OK);
  cJSON *got = hl_session_run_state(b);
  CHECK(cJSON_Compare(got, state, true));
  cJSON_Delete(got);
  CHECK_INT(hl_session_set_run_state(b, NULL), HL_OK);
  CHECK_INT(hl_session_reload(a), HL_OK);
  CHECK(hl_session_run_state(a) == NULL);
  cJSON *notobj = cJSON_CreateNumber(1);
  CHECK_INT(hl_session_set_run_state(a, notobj), HL_ERR_INVALID);
  cJSON_Delete(notobj);
  cJSON_Delete(state);
  hl_session_free(a);
  hl_session_free(b);
  hl_store_close(s);
}

/* A tool that reloads its own run's session: refused (the run borrows the
 * history a reload would free), the run completes; after it, allowed. And
 * a reset the store refuses leaves the session as it was. */
static hl_status reload_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args;
  *(hl_status *)ud = hl_session_reload(hl_context_session(ctx));
  *result = cJSON_CreateString("reloaded?");
  return HL_OK;
}
static void reload_and_reset_refused(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "reload", "{}");
  hl_scripted_push_text(p, "done");
  hl_agent *a = hl_agent_new("rl");
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_status in_run = HL_OK;
  hl_tool *t = hl_tool_new("reload", "reload the session", reload_tool, &in_run);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  hl_session *sess = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "rl", &sess) == HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, sess, "go", &answer), HL_OK);
  CHECK_STR(answer, "done");
  hl_free(answer);
  CHECK_INT(in_run, HL_ERR_STATE);
  CHECK_INT(hl_session_reload(sess), HL_OK);
  CHECK_INT(hl_session_messages(sess)->count, 4);

  /* A reset the store refuses (another handle wrote first) changes
   * nothing; once reloaded, it is written and made. */
  hl_session *other = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "rl", &other) == HL_OK);
  CHECK_INT(hl_session_add_message(other, hl_message_new_text(HL_ROLE_USER, "from other")), HL_OK);
  CHECK_INT(hl_session_reset(sess), HL_ERR_CONFLICT);
  CHECK_INT(hl_session_messages(sess)->count, 4);
  CHECK_INT(hl_session_reload(sess), HL_OK);
  CHECK_INT(hl_session_messages(sess)->count, 5);
  CHECK_INT(hl_session_reset(sess), HL_OK);
  CHECK_INT(hl_session_messages(sess)->count, 0);
  hl_session_free(other);
  REQUIRE(hl_session_open(s, "app", "u", "rl", &other) == HL_OK);
  CHECK_INT(hl_session_messages(other)->count, 0);
  hl_session_free(other);
  hl_session_free(sess);
  hl_agent_unref(a);
  hl_store_close(s);
}

/* Rows broken behind the store's back give clear errors naming the
 * session and event; other sessions stay readable. */
static void corrupt_row(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  CHECK_INT(append_text(s, "app", "bad", 0, "user", "q"), HL_OK);
  CHECK_INT(append_text(s, "app", "bad", 1, "assistant", "a"), HL_OK);
  CHECK_INT(append_text(s, "app", "good", 0, "user", "fine"), HL_OK);
  if (is_sql()) {
    raw_event_sql(raw, "UPDATE hl_events SET data = '{\"type\":\"message\",\"mess'", "bad", 2);
  } else {
    free(raw_do(raw, "LSET|hl:log:3:app1:u3:bad|1|{\"type\":\"message\",\"mess"));
  }
  cJSON *events = NULL;
  CHECK_INT(hl_store_load(s, "app", "u", "bad", &events, NULL), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "event 2");
  CHECK_CONTAINS(hl_last_error(), "corrupt");
  CHECK(events == NULL);
  hl_session *sess = NULL;
  CHECK_INT(hl_session_open(s, "app", "u", "bad", &sess), HL_ERR_JSON);
  CHECK(sess == NULL);
  /* valid JSON, but not an event */
  if (is_sql()) raw_event_sql(raw, "UPDATE hl_events SET data = '[1,2]'", "bad", 2);
  else free(raw_do(raw, "LSET|hl:log:3:app1:u3:bad|1|[1,2]"));
  CHECK_INT(hl_store_load(s, "app", "u", "bad", &events, NULL), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "not an event");
  /* an event whose message is not a message */
  if (is_sql()) raw_event_sql(raw, "UPDATE hl_events SET data = '{\"type\":\"message\",\"message\":7}'", "bad", 2);
  else free(raw_do(raw, "LSET|hl:log:3:app1:u3:bad|1|{\"type\":\"message\",\"message\":7}"));
  CHECK_INT(hl_session_open(s, "app", "u", "bad", &sess), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "event 2 (message)");
  /* a count no session can have (found by fuzz_store: converting it to
   * size_t was undefined behaviour) */
  if (is_sql()) raw_event_sql(raw, "UPDATE hl_events SET data = '{\"type\":\"truncate\",\"count\":1e300}'", "bad", 2);
  else free(raw_do(raw, "LSET|hl:log:3:app1:u3:bad|1|{\"type\":\"truncate\",\"count\":1e300}"));
  CHECK_INT(hl_session_open(s, "app", "u", "bad", &sess), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "truncate event");
  CHECK(sess == NULL);
  CHECK_INT(hl_store_load(s, "app", "u", "good", &events, NULL), HL_OK);
  cJSON_Delete(events);
  hl_store_close(s);
}

static void truncated_log(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  for (int i = 0; i < 4; i++) CHECK_INT(append_text(s, "app", "t", i, i % 2 ? "assistant" : "user", "x"), HL_OK);
  bool sqlite = !strcmp(backend, "sqlite");
  cJSON *events = NULL;
  int64_t version = 0;
  if (sqlite) {
    /* SQLite's log is its events table (sqlite.c): the last event's number
     * is the version, so a tail deleted behind its back reads as a shorter
     * log, which atomic commits make the only kind a crash can leave. */
    raw_event_sql(raw, "DELETE FROM hl_events", "t", 4);
    CHECK_INT(hl_store_load(s, "app", "u", "t", &events, &version), HL_OK);
    CHECK_INT(version, 3);
    CHECK_INT(cJSON_GetArraySize(events), 3);
    cJSON_Delete(events);
    events = NULL;
    CHECK_INT(append_text(s, "app", "t", 4, "user", "y"), HL_ERR_CONFLICT);
  } else {
    if (is_sql()) raw_event_sql(raw, "DELETE FROM hl_events", "t", 4);
    else free(raw_do(raw, "RPOP|hl:log:3:app1:u1:t"));
    CHECK_INT(hl_store_load(s, "app", "u", "t", &events, NULL), HL_ERR_IO);
    CHECK_CONTAINS(hl_last_error(), "truncated");
  }
  /* a hole in the middle (SQL: rows are numbered) */
  if (is_sql()) {
    raw_event_sql(raw, "DELETE FROM hl_events", "t", 2);
    CHECK_INT(hl_store_load(s, "app", "u", "t", &events, NULL), HL_ERR_IO);
    CHECK_CONTAINS(hl_last_error(), "hole");
    CHECK(events == NULL);
  }
  /* a writer that believes in an older length cannot paper over it */
  CHECK_INT(append_text(s, "app", "t", sqlite ? 1 : 3, "user", "y"), HL_ERR_CONFLICT);
  if (sqlite) { /* nor one whose last event is gone (event 2 is the hole) */
    CHECK_INT(append_text(s, "app", "t", 2, "user", "y"), HL_ERR_CONFLICT);
  }
  if (!strcmp(backend, "redis")) { /* nor one that saw the recorded version */
    CHECK_INT(append_text(s, "app", "t", 4, "user", "y"), HL_ERR_IO);
    CHECK_CONTAINS(hl_last_error(), "truncated");
  }
  hl_store_close(s);
}

static const char *const schema_v1 =
  "CREATE TABLE hl_schema (version INTEGER NOT NULL);"
  "INSERT INTO hl_schema VALUES (1);"
  "CREATE TABLE hl_sessions (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,"
  " updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (app, user_id, id));"
  "CREATE TABLE hl_events (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, user_id, id, version));"
  "INSERT INTO hl_sessions VALUES ('app', 'u', 'old', 1, 1000, 1000);"
  "INSERT INTO hl_events VALUES ('app', 'u', 'old', 1, "
  "'{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"from v1\"}]}}');";

static void migrations(void) {
  if (!is_sql()) {
    fprintf(stderr, "  (no schema migrations for %s)\n", backend);
    return;
  }
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  if (!strcmp(backend, "sqlite")) {
    sqlite3 *db = NULL;
    sqlite3_open(raw, &db);
    CHECK_INT(sqlite3_exec(db, schema_v1, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  } else {
    free(raw_do(raw, schema_v1));
  }
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  char *v = raw_do(raw, "SELECT MAX(version) FROM hl_schema");
  CHECK_INT(atoi(v), HL_STORE_SCHEMA_VERSION);
  free(v);
  hl_session *sess = NULL;
  CHECK_INT(hl_session_open(s, "app", "u", "old", &sess), HL_OK);
  if (sess) {
    CHECK_INT(hl_session_messages(sess)->count, 1);
    CHECK_INT(hl_session_version(sess), 1);
  }
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  /* the size was computed by migration 2 from the rows of version 1 */
  CHECK(hl_json_get_number(cJSON_GetArrayItem(list, 0), "bytes", 0) > 60);
  cJSON_Delete(list);
  hl_session_free(sess);
  hl_store_close(s);
  /* opened again: nothing to migrate, still fine */
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  hl_store_close(s);
}

/* An SQLite database as schema 3 wrote it (the version before the log
 * became the events table): two users, a session of three events with a
 * title and one of one event, sizes and times as schema 3 kept them. */
static const char *const sqlite_schema_v3 =
  "CREATE TABLE hl_schema (version INTEGER NOT NULL);"
  "INSERT INTO hl_schema VALUES (3);"
  "CREATE TABLE hl_sessions (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,"
  " updated DOUBLE PRECISION NOT NULL, title TEXT, bytes BIGINT NOT NULL DEFAULT 0,"
  " PRIMARY KEY (app, user_id, id)) WITHOUT ROWID;"
  "CREATE TABLE hl_events (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, user_id, id, version))"
  " WITHOUT ROWID;"
  "INSERT INTO hl_events VALUES ('app', 'u', 'it''s', 1,"
  " '{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"first question\"}]}}');"
  "INSERT INTO hl_events VALUES ('app', 'u', 'it''s', 2,"
  " '{\"type\":\"state\",\"key\":\"k\",\"value\":[1,2.5,\"x\"]}');"
  "INSERT INTO hl_events VALUES ('app', 'u', 'it''s', 3,"
  " '{\"type\":\"message\",\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"an answer\"}]}}');"
  "INSERT INTO hl_events VALUES ('app', 'v', 'other', 1,"
  " '{\"type\":\"message\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"}]}}');"
  "INSERT INTO hl_sessions SELECT app, user_id, id, MAX(version), 1000, CASE WHEN id = 'other'"
  " THEN 3000 ELSE 2000 END, CASE WHEN id = 'other' THEN 'hello' ELSE 'first question' END,"
  " SUM(LENGTH(CAST(data AS BLOB))) FROM hl_events GROUP BY app, user_id, id;"
  "INSERT INTO hl_sessions VALUES ('app', 'u', 'newer', 1, 1500, 2500, NULL, 0);"
  "INSERT INTO hl_events VALUES ('app', 'u', 'newer', 1, '{\"type\":\"reset\"}');"
  "UPDATE hl_sessions SET bytes = 16 WHERE id = 'newer';";

/* A database of the previous schema is migrated and reads as before: the
 * same events, versions, titles, sizes and times, in the same order; it
 * takes appends at the versions its writers saw. */
static void migration_from_v3(void) {
  if (strcmp(backend, "sqlite") != 0) {
    fprintf(stderr, "  (schema 3 -> 4 changes SQLite only)\n");
    return;
  }
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  sqlite3 *db = NULL;
  sqlite3_open(raw, &db);
  CHECK_INT(sqlite3_exec(db, sqlite_schema_v3, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  char *want[2] = {raw_do(raw, "SELECT group_concat(data, '|') FROM (SELECT data FROM hl_events"
                                " WHERE id = 'it''s' ORDER BY version)"),
                   raw_do(raw, "SELECT bytes FROM hl_sessions WHERE id = 'it''s'")};
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  char *v = raw_do(raw, "SELECT MAX(version) FROM hl_schema");
  CHECK_INT(atoi(v), 4);
  free(v);
  cJSON *events = NULL;
  int64_t version = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "it's", &events, &version), HL_OK);
  CHECK_INT(version, 3);
  /* byte for byte the rows schema 3 held */
  char got[2000] = "";
  for (int i = 0; i < cJSON_GetArraySize(events); i++) {
    char *t = NULL;
    CHECK_INT(hl_json_print(cJSON_GetArrayItem(events, i), &t), HL_OK);
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "|" : "", t ? t : "?");
    hl_free(t);
  }
  CHECK_STR(got, want[0]);
  cJSON_Delete(events);
  hl_session *sess = NULL;
  CHECK_INT(hl_session_open(s, "app", "v", "other", &sess), HL_OK);
  if (sess) CHECK_INT(hl_session_messages(sess)->count, 1);
  hl_session_free(sess);
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_INT(cJSON_GetArraySize(list), 2);
  cJSON *newer = cJSON_GetArrayItem(list, 0), *first = cJSON_GetArrayItem(list, 1);
  CHECK_STR(hl_json_get_string(newer, "id"), "newer"); /* updated 2500 > 2000 */
  CHECK(hl_json_get_string(newer, "title") == NULL);
  CHECK_INT(hl_json_get_number(newer, "bytes", 0), 16);
  CHECK_STR(hl_json_get_string(first, "id"), "it's");
  CHECK_STR(hl_json_get_string(first, "title"), "first question");
  CHECK_INT(hl_json_get_number(first, "version", 0), 3);
  CHECK_INT(hl_json_get_number(first, "created", 0), 1000);
  CHECK_INT(hl_json_get_number(first, "updated", 0), 2000);
  CHECK_INT(hl_json_get_number(first, "bytes", 0), atoi(want[1]));
  cJSON_Delete(list);
  /* writers go on from the migrated versions */
  CHECK_INT(append_text(s, "app", "it's", 2, "user", "stale"), HL_ERR_CONFLICT);
  CHECK_INT(append_text(s, "app", "it's", 3, "user", "next"), HL_OK);
  cJSON *again = ev_text("user", "again");
  CHECK_INT(hl_store_append(s, "app", "v", "other", 0, again, NULL), HL_ERR_CONFLICT);
  CHECK_INT(hl_store_append(s, "app", "v", "other", 1, again, NULL), HL_OK);
  cJSON_Delete(again);
  CHECK_INT(hl_store_load(s, "app", "u", "it's", &events, &version), HL_OK);
  CHECK_INT(version, 4);
  cJSON_Delete(events);
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_STR(hl_json_get_string(cJSON_GetArrayItem(list, 0), "id"), "it's"); /* written now */
  CHECK(hl_json_get_number(cJSON_GetArrayItem(list, 0), "bytes", 0) > atoi(want[1]));
  cJSON_Delete(list);
  CHECK_INT(hl_store_delete(s, "app", "u", "it's"), HL_OK);
  CHECK_INT(hl_store_load(s, "app", "u", "it's", &events, NULL), HL_ERR_NOT_FOUND);
  hl_store_close(s);
  free(want[0]);
  free(want[1]);
}

static void newer_schema(void) {
  if (!is_db()) {
    fprintf(stderr, "  (memory: no schema)\n");
    return;
  }
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  CHECK_INT(append_text(s, "app", "n", 0, "user", "before"), HL_OK);
  hl_store_close(s);
  if (is_sql()) free(raw_do(raw, "UPDATE hl_schema SET version = 99"));
  else free(raw_do(raw, "SET|hl:schema|99"));
  CHECK_INT(hl_store_open(url, &s), HL_ERR_UNSUPPORTED);
  CHECK(s == NULL);
  CHECK_CONTAINS(hl_last_error(), "newer");
  /* never written: the schema mark and the data are as they were */
  if (is_sql()) {
    char *v = raw_do(raw, "SELECT MAX(version) FROM hl_schema");
    CHECK_INT(atoi(v), 99);
    free(v);
    v = raw_do(raw, "SELECT COUNT(*) FROM hl_events");
    CHECK_INT(atoi(v), 1);
    free(v);
  } else {
    char *v = raw_do(raw, "GET|hl:schema");
    CHECK_STR(v, "99");
    free(v);
  }
  if (!strcmp(backend, "sqlite")) {
    /* a file that is not a database at all */
    char path[300];
    snprintf(path, sizeof path, "%s/garbage.sqlite", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("this is not an SQLite database, just text that is long enough to have a header\n", f);
    fclose(f);
    snprintf(url, sizeof url, "sqlite:%s", path);
    CHECK_INT(hl_store_open(url, &s), HL_ERR_IO);
    CHECK_CONTAINS(hl_last_error(), "garbage.sqlite");
  }
}

static void ttl(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  if (strcmp(backend, "redis") != 0) {
    CHECK_INT(hl_store_set_ttl(s, 5), HL_ERR_UNSUPPORTED);
    CHECK_CONTAINS(hl_last_error(), "Redis");
    hl_store_close(s);
    return;
  }
  CHECK_INT(hl_store_set_ttl(s, 1), HL_OK);
  CHECK_INT(append_text(s, "app", "short", 0, "user", "soon gone"), HL_OK);
  CHECK_INT(hl_store_set_ttl(s, 0), HL_OK);
  CHECK_INT(append_text(s, "app", "long", 0, "user", "stays"), HL_OK);
  cJSON *events = NULL;
  hl_status st = HL_OK;
  for (int i = 0; i < 100 && st == HL_OK; i++) { /* expires after 1 s; wait up to 10 */
    usleep(100 * 1000);
    cJSON_Delete(events);
    events = NULL;
    st = hl_store_load(s, "app", "u", "short", &events, NULL);
  }
  CHECK_INT(st, HL_ERR_NOT_FOUND);
  CHECK_INT(hl_store_load(s, "app", "u", "long", &events, NULL), HL_OK);
  cJSON_Delete(events);
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_INT(cJSON_GetArraySize(list), 1);
  cJSON_Delete(list);
  CHECK_INT(hl_store_set_ttl(s, -1), HL_ERR_INVALID);
  hl_store_close(s);
}

/* A fresh store (`raw`: its raw client's address), session `id` on it and
 * the fixture's agent, which has finished one run ("before": 4 events) on
 * it: what the tests of a server going away start from. */
typedef struct served {
  char raw[600];
  hl_store *s;
  hl_session *sess;
  hl_agent *agent;
} served;

static void served_free(served *x) {
  hl_session_free(x->sess);
  hl_agent_unref(x->agent);
  hl_store_close(x->s);
}

/* The URL of fresh database `url` through proxy `p`, started in front of
 * its server (PostgreSQL: its unix socket; Redis: its port). */
static bool proxied_url(const char *url, slow_proxy *p, char *out, size_t n) {
  if (!strcmp(backend, "postgresql")) { /* postgresql:///DB?host=DIR&port=N&user=hookline */
    const char *db = url + strlen("postgresql:///"), *host = strstr(url, "host="),
               *port = strstr(url, "port=");
    char path[300];
    snprintf(path, sizeof path, "%.*s/.s.PGSQL.%d", (int)strcspn(host + 5, "&"), host + 5,
             atoi(port + 5));
    if (!proxy_start(p, path, 0)) return false;
    snprintf(out, n, "postgresql://hookline@127.0.0.1:%d/%.*s", p->port, (int)strcspn(db, "?"), db);
    return true;
  }
  int port = atoi(strrchr(env_or_die("HL_TEST_REDIS_URL"), ':') + 1);
  if (!proxy_start(p, NULL, port)) return false;
  snprintf(out, n, "redis://127.0.0.1:%d%s", p->port, strrchr(url, '/'));
  return true;
}

/* served_session() on any backend but memory (raw: an SQLite file's
 * path); through `proxy` (PostgreSQL, Redis) unless it is NULL. */
static bool served_open_via(served *x, const char *id, slow_proxy *proxy) {
  *x = (served){0};
  if (!strcmp(backend, "memory")) {
    fprintf(stderr, "  (memory: nothing to hang)\n");
    return false;
  }
  if (proxy) {
    char url[600], via[700];
    fresh_url(url, sizeof url, x->raw, sizeof x->raw);
    if (!proxied_url(url, proxy, via, sizeof via)) {
      CHECK(!"the proxy starts");
      return false;
    }
    if (hl_store_open(via, &x->s) != HL_OK) fprintf(stderr, "open %s: %s\n", via, hl_last_error());
  } else {
    x->s = fresh_store(x->raw, sizeof x->raw);
  }
  CHECK(x->s != NULL);
  hl_status st = x->s ? hl_session_open(x->s, "app", "u", id, &x->sess) : HL_ERR_NETWORK;
  if (st == HL_OK) {
    x->agent = fixture_agent();
    char *answer = NULL;
    st = hl_agent_run(x->agent, x->sess, "before", &answer);
    hl_free(answer);
  }
  CHECK_INT(st, HL_OK);
  if (st != HL_OK) served_free(x);
  return st == HL_OK;
}

static bool served_open(served *x, const char *id) { return served_open_via(x, id, NULL); }

/* False (with nothing left to free) if the backend has no server (a skip
 * message printed) or a step failed (a failed check); through `proxy`
 * unless it is NULL. */
static bool served_session_via(served *x, const char *id, slow_proxy *proxy) {
  *x = (served){0};
  if (!is_server()) {
    fprintf(stderr, "  (%s has no server)\n", backend);
    return false;
  }
  return served_open_via(x, id, proxy);
}

static bool served_session(served *x, const char *id) { return served_session_via(x, id, NULL); }

/* The server restarts between two calls (a deploy, a failover to the same
 * address): the handle's connection is dead, and the next call finds that
 * out before it sends anything, reconnects and works: it sees every event
 * acknowledged before (PostgreSQL; this test's Redis keeps nothing on
 * disk, so there the session is gone and a new one can be written). */
static void server_restarted(void) {
  served x;
  if (!served_session(&x, "r")) return;
  bool pg = !strcmp(backend, "postgresql");
  hl_store *s = x.s;
  hl_session *sess = x.sess;
  hl_agent *agent = x.agent;
  CHECK(system(getenv(pg ? "HL_TEST_PG_STOP" : "HL_TEST_REDIS_STOP")) == 0);
  CHECK(system(getenv(pg ? "HL_TEST_PG_START" : "HL_TEST_REDIS_START")) == 0);
  cJSON *events = NULL;
  int64_t v = 0;
  hl_status st = hl_store_load(s, "app", "u", "r", &events, &v);
  fprintf(stderr, "  (first call after the restart: %s)\n", st ? hl_last_error() : "ok");
  CHECK_INT(st, pg ? HL_OK : HL_ERR_NOT_FOUND);
  if (pg) CHECK_INT(v, 4);
  cJSON_Delete(events);
  if (pg) {
    char *answer = NULL;
    CHECK_INT(hl_agent_run(agent, sess, "after", &answer), HL_OK);
    CHECK_STR(answer, "done: after");
    hl_free(answer);
  } else {
    CHECK_INT(append_text(s, "app", "r", 0, "user", "again"), HL_OK);
  }
  served_free(&x);
}

/* The server dies mid-run: calls fail with HL_ERR_NETWORK and a message,
 * a run fails cleanly, nothing written is lost, and once the server is
 * back the same handle reconnects. Last in the list: it restarts the
 * server. */
static void server_killed(void) {
  served x;
  if (!served_session(&x, "k")) return;
  bool pg = !strcmp(backend, "postgresql");
  hl_store *s = x.s;
  hl_session *sess = x.sess;
  hl_agent *agent = x.agent;
  char *answer = NULL;
  /* a group on top of a session before the crash, of the size the run
   * after the restart writes (PostgreSQL: a statement the new connection
   * must prepare again) */
  cJSON *two = cJSON_CreateArray();
  for (int i = 0; i < 3; i++) cJSON_AddItemToArray(two, ev_text("user", "x"));
  CHECK_INT(hl_store_append_events(s, "app", "u", "k2", 0, two, NULL), HL_OK);
  CHECK_INT(hl_store_append_events(s, "app", "u", "k2", 3, two, NULL), HL_OK);
  cJSON_Delete(two);
  CHECK(system(getenv(pg ? "HL_TEST_PG_STOP" : "HL_TEST_REDIS_STOP")) == 0);
  CHECK_INT(hl_agent_run(agent, sess, "while down", &answer), HL_ERR_NETWORK);
  fprintf(stderr, "  (while down: %s)\n", hl_last_error());
  CHECK_CONTAINS(hl_last_error(), pg ? "postgresql" : "redis");
  CHECK(answer == NULL);
  CHECK_INT(hl_session_messages(sess)->count, 4); /* the failed run left nothing */
  cJSON *events = NULL;
  CHECK_INT(hl_store_load(s, "app", "u", "k", &events, NULL), HL_ERR_NETWORK);
  CHECK(system(getenv(pg ? "HL_TEST_PG_START" : "HL_TEST_REDIS_START")) == 0);
  if (!pg) {
    /* Redis kept nothing on disk: the session is gone with the server */
    CHECK_INT(hl_store_load(s, "app", "u", "k", &events, NULL), HL_ERR_NOT_FOUND);
  } else {
    /* reconnected; the turn written before the crash is all there */
    hl_status lst = hl_store_load(s, "app", "u", "k", &events, NULL);
    CHECK_INT(lst, HL_OK);
    if (lst) fprintf(stderr, "  (after restart: %s)\n", hl_last_error());
    CHECK_INT(cJSON_GetArraySize(events), 4);
    cJSON_Delete(events);
    CHECK_INT(hl_agent_run(agent, sess, "after", &answer), HL_OK);
    CHECK_STR(answer, "done: after");
    hl_free(answer);
    CHECK_INT(hl_session_version(sess), 8);
  }
  served_free(&x);
  /* a server that is not there at all */
  hl_store *none = NULL;
  CHECK_INT(hl_store_open(pg ? "postgresql://127.0.0.1:1/x?connect_timeout=2" : "redis://127.0.0.1:1", &none),
            HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_last_error(), "connect");
}

/* A Redis password with the characters URLs reserve, percent-encoded in
 * the URL as URLs require ("p@ss:w/rd%" is "p%40ss%3Aw%2Frd%25"), and also
 * with a raw '@' (the last '@' ends the credentials, as libpq and
 * redis-py read it): the store authenticates with the decoded password; a
 * wrong one is HL_ERR_AUTH. */
static void redis_password(void) {
  if (strcmp(backend, "redis") != 0) return;
  int port = atoi(strrchr(env_or_die("HL_TEST_REDIS_URL"), ':') + 1);
  redisContext *c = redisConnect("127.0.0.1", port);
  REQUIRE(c && !c->err);
  const char *pw = "p@ss:w/rd%";
  redisReply *r = redisCommand(c, "CONFIG SET requirepass %s", pw);
  REQUIRE(r && r->type == REDIS_REPLY_STATUS);
  freeReplyObject(r);
  char url[200];
  hl_store *s = NULL;
  snprintf(url, sizeof url, "redis://:p%%40ss%%3Aw%%2Frd%%25@127.0.0.1:%d/3", port);
  hl_status st = hl_store_open(url, &s);
  if (st) fprintf(stderr, "  (encoded: %s)\n", hl_last_error());
  CHECK_INT(st, HL_OK);
  hl_store_close(s);
  s = NULL;
  snprintf(url, sizeof url, "redis://default:p%%40ss%%3Aw%%2Frd%%25@127.0.0.1:%d", port);
  CHECK_INT(hl_store_open(url, &s), HL_OK);
  hl_store_close(s);
  s = NULL;
  snprintf(url, sizeof url, "redis://:p@ss:w%%2Frd%%25@127.0.0.1:%d", port);
  CHECK_INT(hl_store_open(url, &s), HL_OK);
  hl_store_close(s);
  s = NULL;
  snprintf(url, sizeof url, "redis://:p%%40ss@127.0.0.1:%d", port);
  CHECK_INT(hl_store_open(url, &s), HL_ERR_AUTH);
  CHECK(s == NULL);
  snprintf(url, sizeof url, "redis://:bad%%zz@127.0.0.1:%d", port);
  CHECK_INT(hl_store_open(url, &s), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "percent");
  r = redisCommand(c, "AUTH %s", pw);
  freeReplyObject(r);
  r = redisCommand(c, "CONFIG SET requirepass %s", "");
  CHECK(r && r->type == REDIS_REPLY_STATUS);
  freeReplyObject(r);
  redisFree(c);
}

/* The process that serves this store, for SIGSTOP: PostgreSQL's backend of
 * the store's connection (the one other connection to its database),
 * Redis's server. 0 if not found. */
static pid_t serving_pid(const char *raw) {
  if (!strcmp(backend, "postgresql")) {
    char *pid = raw_do(raw, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND backend_type = 'client backend'"
                            " AND pid <> pg_backend_pid()");
    pid_t p = (pid_t)atoi(pid);
    free(pid);
    return p;
  }
  FILE *f = fopen(env_or_die("HL_TEST_REDIS_PIDFILE"), "r");
  int p = 0;
  if (f && fscanf(f, "%d", &p) != 1) p = 0;
  if (f) fclose(f);
  return (pid_t)p;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The server stops answering (SIGSTOP) with the connection open, in the
 * middle of a run's append and of a load: each call gives up within the
 * store's time limit with a clear status and message instead of waiting
 * for good, and once the server runs again (SIGCONT) the same handle
 * works and sees every event it acknowledged, none twice. */
static void server_hangs(void) {
  served x;
  if (!served_session(&x, "h")) return;
  char *raw = x.raw;
  hl_store *s = x.s;
  hl_session *sess = x.sess;
  hl_agent *agent = x.agent;
  char *answer = NULL;
  pid_t pid = serving_pid(raw);
  REQUIRE(pid > 0);
  REQUIRE(kill(pid, SIGSTOP) == 0);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hl_status st = hl_agent_run(agent, sess, "while hung", &answer);
  double took = seconds_since(&t0);
  fprintf(stderr, "  (run while hung: %.1f s: %s)\n", took, hl_last_error());
  CHECK_INT(st, HL_ERR_NETWORK);
  CHECK_CONTAINS(hl_last_error(), !strcmp(backend, "redis") ? "redis" : "postgresql");
  CHECK_CONTAINS(hl_last_error(), "timed out");
  CHECK(answer == NULL);
  CHECK(took < 60); /* the run's append and its take-back, each within the limit */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cJSON *events = NULL;
  st = hl_store_load(s, "app", "u", "h", &events, NULL);
  took = seconds_since(&t0);
  fprintf(stderr, "  (load while hung: %.1f s: %s)\n", took, st ? hl_last_error() : "ok");
  if (!strcmp(backend, "postgresql")) {
    /* only the old connection's backend hangs: the reconnect gets a new one */
    CHECK_INT(st, HL_OK);
    CHECK_INT(cJSON_GetArraySize(events), 4);
  } else {
    CHECK_INT(st, HL_ERR_NETWORK);
  }
  CHECK(took < 30);
  cJSON_Delete(events);
  events = NULL;
  REQUIRE(kill(pid, SIGCONT) == 0);
  /* running again: the acknowledged run is there, in order, once; the
   * append that timed out may have landed when the server woke up (it
   * was sent), which the version check makes an ordinary conflict */
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "h", &events, &v), HL_OK);
  CHECK(v >= 4);
  char *printed = events ? cJSON_PrintUnformatted(events) : NULL;
  CHECK(printed && strstr(printed, "done: before") && !strstr(strstr(printed, "done: before") + 1, "done: before"));
  free(printed);
  cJSON_Delete(events);
  CHECK_INT(hl_session_reload(sess), HL_OK);
  CHECK_INT(hl_agent_run(agent, sess, "after", &answer), HL_OK);
  CHECK_STR(answer, "done: after");
  hl_free(answer);
  served_free(&x);
}

/* Start a run of `input` whose first append will wait (the server or the
 * file is held), cancel it `after` seconds later (and once `waiting`,
 * unless NULL, says the append waits: at most 30 s) and check that it
 * ends with HL_ERR_CANCELLED within `within` seconds of the cancel. */
static void run_cancelled_waiting(hl_agent *agent, hl_session *sess, const char *input,
                                  double after, bool (*waiting)(void), double within) {
  hl_run *run = NULL;
  CHECK_INT(hl_run_start(agent, sess, input, NULL, &run), HL_OK);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (seconds_since(&t0) < after || (waiting && !waiting() && seconds_since(&t0) < 30))
    usleep(1000); /* the run's append is waiting by now */
  if (waiting) CHECK(waiting()); /* the cancel comes while the append waits */
  after = seconds_since(&t0);
  hl_run_cancel(run);
  CHECK_INT(hl_run_wait(run, 30000), HL_ERR_CANCELLED);
  double took = seconds_since(&t0) - after;
  fprintf(stderr, "  (cancelled run ended %.2f s after the cancel: %s)\n", took,
          hl_run_error(run) ? hl_run_error(run) : "");
  CHECK(took < within);
  hl_run_free(run);
}

static void run_cancelled_while_waiting(hl_agent *agent, hl_session *sess, const char *input,
                                        double after, double within) {
  run_cancelled_waiting(agent, sess, input, after, NULL, within);
}

/* Whether this process has a connection to the test's Redis with more
 * than 1 MB sent but not taken by the server (/proc/net/tcp's tx_queue):
 * a large write waits for a stopped server. */
static bool redis_send_blocked(void) {
  int port = atoi(strrchr(env_or_die("HL_TEST_REDIS_URL"), ':') + 1);
  FILE *f = fopen("/proc/net/tcp", "r");
  char line[512];
  bool found = false;
  unsigned rport = 0;
  unsigned long tx = 0;
  while (f && !found && fgets(line, sizeof line, f))
    found = sscanf(line, " %*d: %*x:%*x %*x:%x %*x %lx", &rport, &tx) == 2 &&
            rport == (unsigned)port && tx > (1u << 20);
  if (f) fclose(f);
  return found;
}

/* After a cut and the server running again (SIGCONT): session `id` of
 * `x` holds at least `acked` events, one per version, the first run's
 * answer once; it reloads and the next run works. Frees x. */
static void check_after_cut(served *x, const char *id, int64_t acked) {
  cJSON *events = NULL;
  int64_t v = 0;
  CHECK_INT(hl_store_load(x->s, "app", "u", id, &events, &v), HL_OK);
  CHECK(v >= acked);
  CHECK_INT(cJSON_GetArraySize(events), v); /* none lost or written twice */
  char *printed = events ? cJSON_PrintUnformatted(events) : NULL;
  CHECK(printed && strstr(printed, "done: before") &&
        !strstr(strstr(printed, "done: before") + 1, "done: before"));
  free(printed);
  cJSON_Delete(events);
  CHECK_INT(hl_session_reload(x->sess), HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(x->agent, x->sess, "after", &answer), HL_OK);
  CHECK_STR(answer, "done: after");
  hl_free(answer);
  served_free(x);
}

/* A run cancelled while its store call waits on a hung server (SIGSTOP)
 * ends at once with HL_ERR_CANCELLED instead of waiting out the store's
 * 10 s limit; once the server runs again, every event it acknowledged is
 * there, once, and the session works. */
static void cancel_reaches_store(void) {
  served x;
  if (!served_session(&x, "cut")) return;
  pid_t pid = serving_pid(x.raw);
  REQUIRE(pid > 0);
  REQUIRE(kill(pid, SIGSTOP) == 0);
  run_cancelled_while_waiting(x.agent, x.sess, "while hung", 0.2, 1.0);
  REQUIRE(kill(pid, SIGCONT) == 0);
  check_after_cut(&x, "cut", 4);
}

/* A server that trickles its answer (a byte every 150 ms through the
 * test's proxy: never silent for the cut's 250 ms grace, so a cut by
 * silence alone never comes): a run cancelled while its write waits on
 * it ends within the cut's budget (1 s) of the cancel, instead of the
 * seconds the answer takes (PostgreSQL: an append's ~80 bytes; Redis:
 * its script flushed first, so the append's NOSCRIPT error and the
 * script's reload, ~100 bytes); the session works afterwards. */
static void cancel_trickling_store(void) {
  slow_proxy p;
  served x;
  if (!served_session_via(&x, "trickle", &p)) return;
  if (!strcmp(backend, "redis")) free(raw_do(x.raw, "SCRIPT|FLUSH"));
  proxy_mode(&p, PROXY_TRICKLE);
  run_cancelled_while_waiting(x.agent, x.sess, "trickled", 0.2,
                              HL_STORE_CUT_BUDGET_MS / 1000.0 + 0.5);
  proxy_mode(&p, PROXY_FORWARD);
  check_after_cut(&x, "trickle", 4);
  proxy_stop(&p);
}

/* The server stops answering between two calls, through the test's
 * proxy in `mode` (the store's connection dropped; PROXY_DEAF: no SYN
 * answered; PROXY_MUTE: connections completed by the kernel, nothing
 * they send answered): the run's append reconnects (PostgreSQL: a reset;
 * Redis: a connect and its set-up), and a cancel during that reconnect
 * ends the run within the cut's grace instead of the connect's limit
 * (10 s, 5 s); once the server is back the session is as acknowledged
 * and works. */
static void reconnect_cut(int mode, const char *id) {
  slow_proxy p;
  served x;
  if (!served_session_via(&x, id, &p)) return;
  proxy_mode(&p, mode);
  run_cancelled_while_waiting(x.agent, x.sess, "while reconnecting", 0.2, 1.0);
  proxy_mode(&p, PROXY_FORWARD);
  check_after_cut(&x, id, 4);
  proxy_stop(&p);
}

static void cancel_during_reconnect(void) {
  reconnect_cut(PROXY_DEAF, "deaf");
  reconnect_cut(PROXY_MUTE, "mute");
}

/* Redis: a run whose write is large (an 8 MB input, which its turn holds
 * three times: user message, tool call, tool result) and whose server
 * stops (SIGSTOP) takes only what the socket buffers hold, some 10 MB:
 * the rest waits to be sent. Cancelled then, the run ends within the cut's
 * grace, as one waiting for a reply does (before, the send blocked past
 * any cut, up to the 10 s limit), and the run's teardown of its 24 MB
 * (slow under ThreadSanitizer: 0.8 s for 48 MB); once the server runs
 * again the session is as acknowledged and works. */
static void cancel_large_write(void) {
  if (strcmp(backend, "redis") != 0) return;
  served x;
  if (!served_session(&x, "large")) return;
  pid_t pid = serving_pid(x.raw);
  REQUIRE(pid > 0);
  size_t n = 8u << 20;
  char *input = malloc(n + 1);
  REQUIRE(input);
  memset(input, 'a', n);
  input[n] = '\0';
  REQUIRE(kill(pid, SIGSTOP) == 0);
  run_cancelled_waiting(x.agent, x.sess, input, 0.1, redis_send_blocked, 1.5);
  REQUIRE(kill(pid, SIGCONT) == 0);
  free(input);
  check_after_cut(&x, "large", 4);
}

/* Start a run of the fixture's `input` ("slow", "slow to stop") on x's
 * session (*run) and return once its first turn is acknowledged and its
 * second model call waits; the session's version then. */
static int64_t start_slow_run(served *x, const char *input, hl_run **run) {
  CHECK_INT(hl_run_start(x->agent, x->sess, input, NULL, run), HL_OK);
  for (int i = 0; i < 500 && hl_session_version(x->sess) < 5; i++) usleep(10 * 1000);
  int64_t acked = hl_session_version(x->sess);
  CHECK(acked >= 5);
  usleep(50 * 1000); /* the model call has started by now */
  return acked;
}

/* A run cancelled during its model call while the store hangs (SIGSTOP
 * after the run's first append; SQLite: another connection holds the
 * write lock): the run's take-back, which would wait on
 * the hung server, is cut too, so the run ends within ~1 s of the cancel
 * instead of waiting out the 10 s limit; after SIGCONT the acknowledged
 * events are there once (the log reads as an unfinished run) and the next
 * run works. */
static void cancel_before_store_hangs(void) {
  served x;
  if (!served_open(&x, "late")) return;
  bool sqlite = !strcmp(backend, "sqlite");
  pid_t pid = sqlite ? 0 : serving_pid(x.raw);
  REQUIRE(sqlite || pid > 0);
  hl_run *run = NULL;
  int64_t acked = start_slow_run(&x, "slow", &run);
  sqlite3 *other = NULL; /* SQLite's hang: another connection's write lock */
  if (sqlite) {
    REQUIRE(sqlite3_open(x.raw, &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
  } else {
    REQUIRE(kill(pid, SIGSTOP) == 0);
  }
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hl_run_cancel(run);
  CHECK_INT(hl_run_wait(run, 30000), HL_ERR_CANCELLED);
  double took = seconds_since(&t0);
  fprintf(stderr, "  (cancelled run ended %.2f s after the cancel: %s)\n", took,
          hl_run_error(run) ? hl_run_error(run) : "");
  CHECK(took < 1.0);
  hl_run_free(run);
  if (sqlite) {
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
  } else {
    REQUIRE(kill(pid, SIGCONT) == 0);
  }
  check_after_cut(&x, "late", acked);
}

/* The same cancel with the store answering: the cut set as the run's
 * take-back starts lets a live server answer (the cut's grace), so the
 * take-back is written and the log reads as a finished (cancelled) run,
 * not an unfinished one; also when the model call returns 1.5 s after
 * the cancel, past the cut's budget: the take-back's budget counts from
 * its own start. */
static void store_live_after(const char *input, const char *id) {
  served x;
  if (!served_open(&x, id)) return;
  hl_run *run = NULL;
  int64_t acked = start_slow_run(&x, input, &run);
  hl_run_cancel(run);
  CHECK_INT(hl_run_wait(run, 30000), HL_ERR_CANCELLED);
  hl_run_free(run);
  CHECK(hl_session_version(x.sess) > acked); /* the take-back was written */
  CHECK_INT(hl_session_reload(x.sess), HL_OK);
  char *pending = hl_session_unfinished_input(x.sess);
  CHECK(pending == NULL);
  free(pending);
  served_free(&x);
}

static void cancel_with_store_live(void) {
  store_live_after("slow", "live");
  store_live_after("slow to stop", "live late");
}

/* A database that refuses writes (a PostgreSQL database or standby in
 * read-only mode, a Redis replica): a store still opens on it and reads
 * every session, and each write fails with HL_ERR_IO saying the server is
 * read-only, nothing written; once writable again, writes work. */
/* Make the database of `url` (raw: its raw client's address) refuse
 * writes, or take that back. */
static void set_read_only(const char *url, const char *raw, bool on) {
  if (!strcmp(backend, "postgresql")) {
    const char *db = url + strlen("postgresql:///"); /* fresh_url's form */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ALTER DATABASE %.*s SET default_transaction_read_only = %s",
             (int)strcspn(db, "?"), db, on ? "on" : "off");
    free(raw_do(env_or_die("HL_TEST_PG_URL"), cmd));
  } else {
    free(raw_do(raw, on ? "REPLICAOF|127.0.0.1|1" : "REPLICAOF|NO|ONE"));
  }
}

static void read_only(void) {
  if (!is_server()) {
    fprintf(stderr, "  (%s: no read-only server mode to test)\n", backend);
    return;
  }
  bool pg = !strcmp(backend, "postgresql");
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  CHECK_INT(append_text(s, "app", "ro", 0, "user", "written while writable"), HL_OK);
  hl_store_close(s);
  s = NULL;
  set_read_only(url, raw, true);
  hl_status st = hl_store_open(url, &s);
  fprintf(stderr, "  (open read-only: %s)\n", st ? hl_last_error() : "ok");
  CHECK_INT(st, HL_OK);
  if (s) {
    cJSON *events = NULL;
    CHECK_INT(hl_store_load(s, "app", "u", "ro", &events, NULL), HL_OK);
    CHECK_INT(cJSON_GetArraySize(events), 1);
    cJSON_Delete(events);
    st = append_text(s, "app", "ro", 1, "assistant", "refused");
    fprintf(stderr, "  (append read-only: %s)\n", hl_last_error());
    CHECK_INT(st, HL_ERR_IO);
    CHECK_CONTAINS(hl_last_error(), pg ? "read-only" : "READONLY");
    int64_t v = 0;
    CHECK_INT(hl_store_load(s, "app", "u", "ro", &events, &v), HL_OK);
    CHECK_INT(v, 1);
    cJSON_Delete(events);
  }
  set_read_only(url, raw, false);
  hl_store_close(s);
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  CHECK_INT(append_text(s, "app", "ro", 1, "assistant", "writable again"), HL_OK);
  hl_store_close(s);
}

/* SQLite's form of a hung server: another process took the write lock
 * and hangs (stopped, or stuck in a long transaction). An append waits
 * the busy timeout (5 s), then fails with a status and a message that say
 * so, nothing written; a load still reads (WAL: readers are not blocked);
 * once the lock is free, the append works. */
static void sqlite_locked(void) {
  if (strcmp(backend, "sqlite") != 0) return;
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  CHECK_INT(append_text(s, "app", "l", 0, "user", "before the lock"), HL_OK);
  sqlite3 *other = NULL;
  REQUIRE(sqlite3_open(raw, &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hl_status st = append_text(s, "app", "l", 1, "assistant", "while locked");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "  (append while locked: %.1f s: %s)\n", took, hl_last_error());
  CHECK_INT(st, HL_ERR_TIMEOUT);
  CHECK_CONTAINS(hl_last_error(), "locked");
  CHECK_CONTAINS(hl_last_error(), "5 s");
  CHECK(took >= 4.5 && took < 30);
  cJSON *events = NULL;
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "l", &events, &v), HL_OK);
  CHECK_INT(v, 1);
  cJSON_Delete(events);
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
  CHECK_INT(append_text(s, "app", "l", 1, "assistant", "after the lock"), HL_OK);
  hl_store_close(s);
}

/* A run cancelled while its append waits for another connection's lock
 * on the SQLite file ends at once with HL_ERR_CANCELLED instead of
 * waiting out the 5 s busy timeout; nothing of it is written, and once
 * the lock is gone the session works. */
static void sqlite_cancel(void) {
  if (strcmp(backend, "sqlite") != 0) return;
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  hl_session *sess = NULL;
  REQUIRE(hl_session_open(s, "app", "u", "cut", &sess) == HL_OK);
  hl_agent *agent = fixture_agent();
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, sess, "before", &answer), HL_OK);
  hl_free(answer);
  answer = NULL;
  sqlite3 *other = NULL;
  REQUIRE(sqlite3_open(raw, &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
  run_cancelled_while_waiting(agent, sess, "while locked", 0.2, 1.0);
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
  cJSON *events = NULL;
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "cut", &events, &v), HL_OK);
  CHECK_INT(v, 4); /* the first run's two appends, nothing of the cancelled one */
  cJSON_Delete(events);
  CHECK_INT(hl_session_reload(sess), HL_OK);
  CHECK_INT(hl_agent_run(agent, sess, "after", &answer), HL_OK);
  CHECK_STR(answer, "done: after");
  hl_free(answer);
  hl_agent_unref(agent);
  hl_session_free(sess);
  hl_store_close(s);
}

/* SQLite on a full disk (a file size limit, RLIMIT_FSIZE, in a child
 * process): the write that does not fit fails with HL_ERR_IO and a clear
 * message, and every event written before it is still there, in order. */
static void disk_full(void) {
  if (strcmp(backend, "sqlite") != 0) {
    fprintf(stderr, "  (full disk: SQLite only)\n");
    return;
  }
  char url[600], raw[600];
  fresh_url(url, sizeof url, raw, sizeof raw);
  hl_store *s = NULL;
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  CHECK_INT(append_text(s, "app", "kept", 0, "user", "written before the disk filled"), HL_OK);
  hl_store_close(s);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead */
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 256 * 1024;
    setrlimit(RLIMIT_FSIZE, &rl);
    hl_store *c = NULL;
    if (hl_store_open(url, &c) != HL_OK) _exit(10);
    char big[4001];
    memset(big, 'z', 4000);
    big[4000] = '\0';
    hl_status st = HL_OK;
    int64_t v = 0;
    while (st == HL_OK && v < 1000) {
      if ((st = append_text(c, "app", "fill", v, "user", big)) == HL_OK) v++;
    }
    fprintf(stderr, "  (full disk after %lld events: %s)\n", (long long)v, hl_last_error());
    if (st != HL_ERR_IO || v == 0 || v == 1000) _exit(11);
    if (!strstr(hl_last_error(), "full") || !strstr(hl_last_error(), raw)) _exit(12);
    cJSON *events = NULL;
    int64_t have = 0;
    if (hl_store_load(c, "app", "u", "fill", &events, &have) != HL_OK || have != v) _exit(13);
    cJSON_Delete(events);
    hl_store_close(c);
    _exit(0);
  }
  int status = 0;
  REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK_INT(WEXITSTATUS(status), 0);
  /* with room again: everything is there and the store works */
  REQUIRE(hl_store_open(url, &s) == HL_OK);
  cJSON *events = NULL;
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "kept", &events, NULL), HL_OK);
  cJSON_Delete(events);
  CHECK_INT(hl_store_load(s, "app", "u", "fill", &events, &v), HL_OK);
  CHECK(v > 0);
  cJSON_Delete(events);
  CHECK_INT(append_text(s, "app", "fill", v, "assistant", "room again"), HL_OK);
  char *ok = raw_do(raw, "PRAGMA integrity_check");
  CHECK_STR(ok, "ok");
  free(ok);
  hl_store_close(s);
}

/* The shared decoder on its own (what every backend's rows go through). */
/* The one percent-escape decoder (core/util.c) that the Redis URL's user
 * and password and the OAuth redirect's parameters go through: the byte
 * of "%XX" in either case, -1 for anything else, never reading past n. */
static void percent_byte(void) {
  CHECK_INT(hl__percent_byte("%40", 3), '@');
  CHECK_INT(hl__percent_byte("%2f", 3), '/');
  CHECK_INT(hl__percent_byte("%2F", 3), '/');
  CHECK_INT(hl__percent_byte("%fF", 3), 255);
  CHECK_INT(hl__percent_byte("%00", 3), 0);
  CHECK_INT(hl__percent_byte("%4041", 5), '@');
  CHECK_INT(hl__percent_byte("%40", 2), -1); /* cut off: the 0 is past n */
  CHECK_INT(hl__percent_byte("%", 1), -1);
  CHECK_INT(hl__percent_byte("%g0", 3), -1);
  CHECK_INT(hl__percent_byte("%0g", 3), -1);
  CHECK_INT(hl__percent_byte("%:0", 3), -1); /* ':' follows '9' */
  CHECK_INT(hl__percent_byte("%G0", 3), -1);
  CHECK_INT(hl__percent_byte("x40", 3), -1);
}

static void decoder(void) {
  hl__store_decoder d;
  REQUIRE(hl__store_decoder_init(&d, "dec") == HL_OK);
  const char *ok = "{\"type\":\"message\"}";
  CHECK(hl__store_decoder_row(&d, 1, ok, strlen(ok)));
  CHECK(!hl__store_decoder_row(&d, 3, ok, strlen(ok))); /* hole */
  CHECK_INT(hl__store_decoder_finish(&d, 3), HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), "hole");
  hl__store_decoder_free(&d);
  REQUIRE(hl__store_decoder_init(&d, "dec") == HL_OK);
  const char *trailing = "{\"type\":\"x\"} junk";
  CHECK(!hl__store_decoder_row(&d, 1, trailing, strlen(trailing)));
  CHECK_INT(hl__store_decoder_finish(&d, 1), HL_ERR_JSON);
  hl__store_decoder_free(&d);
  REQUIRE(hl__store_decoder_init(&d, "dec") == HL_OK);
  CHECK(!hl__store_decoder_row(&d, 1, NULL, 0));
  CHECK_INT(hl__store_decoder_finish(&d, 1), HL_ERR_JSON);
  hl__store_decoder_free(&d);
  CHECK_INT(hl_store_open("mysql://x", &(hl_store *){NULL}), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "unknown store URL");
  CHECK_INT(hl_store_open("sqlite:", &(hl_store *){NULL}), HL_ERR_INVALID);
  CHECK_INT(hl_store_open("redis://127.0.0.1:99999", &(hl_store *){NULL}), HL_ERR_INVALID);
}

/* A PostgreSQL URL without connect_timeout, to a server that accepts the
 * connection and never answers: hl_store_open() gives up after the
 * default 10 s instead of waiting for good (before, it hung). */
static void pg_connect_timeout(void) {
  if (strcmp(backend, "postgresql") != 0) return;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &len) == 0);
  char url[128];
  snprintf(url, sizeof url, "postgresql://hookline@127.0.0.1:%d/postgres", ntohs(a.sin_port));
  unsetenv("PGCONNECT_TIMEOUT");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hl_store *s = NULL;
  CHECK_INT(hl_store_open(url, &s), HL_ERR_NETWORK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK(s == NULL);
  CHECK_CONTAINS(hl_last_error(), "timeout");
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(secs >= 9); /* the default, not an early failure (generous on a loaded machine above) */
  close(fd);
}

/* A "note" event whose text is `bytes` copies of 'a'; the caller frees it. */
static cJSON *ev_padded(size_t bytes) {
  char *pad = malloc(bytes + 1);
  if (!pad) return NULL;
  memset(pad, 'a', bytes);
  pad[bytes] = '\0';
  cJSON *ev = cJSON_CreateObject();
  cJSON_AddStringToObject(ev, "type", "note");
  cJSON_AddStringToObject(ev, "text", pad);
  free(pad);
  return ev;
}

/* A load reads at most the store's load limit of event bytes
 * (hl_store_set_load_max): a log past it, one event or many, is refused
 * with HL_ERR_TOO_LARGE naming the session, nothing handed out, and the
 * handle keeps working (another session loads, appends go on). */
static void load_max(void) {
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  CHECK_INT(hl_store_set_load_max(s, HL_STORE_LOAD_MAX + 1), HL_ERR_INVALID);
  CHECK_INT(hl_store_set_load_max(s, 16 << 10), HL_OK);
  cJSON *big = ev_padded(20 << 10), *small = ev_padded(1000);
  REQUIRE(big && small);
  CHECK_INT(hl_store_append(s, "app", "u", "big one", 0, big, NULL), HL_OK);
  for (int i = 0; i < 40; i++)
    CHECK_INT(hl_store_append(s, "app", "u", "many", i, small, NULL), HL_OK);
  CHECK_INT(hl_store_append(s, "app", "u", "small", 0, small, NULL), HL_OK);
  cJSON *events = NULL;
  int64_t v = -1;
  CHECK_INT(hl_store_load(s, "app", "u", "big one", &events, &v), HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "\"big one\"");
  CHECK_CONTAINS(hl_last_error(), "16384");
  CHECK(events == NULL && v == 0);
  CHECK_INT(hl_store_load(s, "app", "u", "many", &events, NULL), HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "\"many\"");
  CHECK(events == NULL);
  hl_session *sess = NULL;
  CHECK_INT(hl_session_open(s, "app", "u", "many", &sess), HL_ERR_TOO_LARGE);
  CHECK(sess == NULL);
  /* the connection is still good */
  CHECK_INT(hl_store_load(s, "app", "u", "small", &events, &v), HL_OK);
  CHECK_INT(cJSON_GetArraySize(events), 1);
  cJSON_Delete(events);
  CHECK_INT(hl_store_append(s, "app", "u", "small", 1, small, &v), HL_OK);
  CHECK_INT(v, 2);
  /* 0: the default again, which these fit */
  CHECK_INT(hl_store_set_load_max(s, 0), HL_OK);
  CHECK_INT(hl_store_load(s, "app", "u", "many", &events, &v), HL_OK);
  CHECK_INT(cJSON_GetArraySize(events), 40);
  cJSON_Delete(events);
  CHECK_INT(hl_store_load(s, "app", "u", "big one", &events, &v), HL_OK);
  CHECK_INT(cJSON_GetArraySize(events), 1);
  cJSON_Delete(events);
  cJSON_Delete(big);
  cJSON_Delete(small);
  hl_store_close(s);
}

/* This process's peak resident memory since the last peak_reset(), KiB
 * (VmHWM; 0 if /proc cannot say). */
static long peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = 0;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kib = atol(line + 6);
  if (f) fclose(f);
  return kib;
}

/* Start a new peak: "5" to clear_refs resets VmHWM to the current RSS. */
static bool peak_reset(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

/* Session "huge" of `s`, whose event 2 is 64 MiB, is refused over a
 * 1 MiB load limit without the client ever holding that event (peak RSS);
 * the limit is back to the default after. */
static void huge_refused(hl_store *s) {
  CHECK_INT(hl_store_set_load_max(s, 1 << 20), HL_OK);
  cJSON *events = NULL;
  bool peaks = peak_reset();
  long before = peak_rss_kib();
  CHECK_INT(hl_store_load(s, "app", "u", "huge", &events, NULL), HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "\"huge\"");
  CHECK_CONTAINS(hl_last_error(), "at event 2");
  CHECK(events == NULL);
  long grew = peak_rss_kib() - before;
  fprintf(stderr, "  (load of a 64 MiB event over a 1 MiB limit: peak RSS +%ld KiB)\n", grew);
  if (peaks) CHECK(grew < 16 << 10); /* never the 64 MiB, let alone twice */
  CHECK_INT(hl_store_set_load_max(s, 0), HL_OK);
}

/* PostgreSQL hands a load's rows over one at a time and never sends an
 * event past the load limit: a session a faulty or hostile writer gave
 * a 64 MiB event (written by the server itself, as such a writer would)
 * is refused without the client ever holding it, and the connection
 * goes on. A log of many events within the limit loads whole; its peak
 * memory is printed (libpq's copy of the whole result is gone). */
static void pg_load_memory(void) {
  if (strcmp(backend, "postgresql") != 0) return;
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  cJSON *small = ev_padded(100);
  CHECK_INT(hl_store_append(s, "app", "u", "huge", 0, small, NULL), HL_OK);
  CHECK_INT(hl_store_append(s, "app", "u", "wide", 0, small, NULL), HL_OK);
  cJSON_Delete(small);
  free(raw_do(raw, "INSERT INTO hl_events (app, user_id, id, version, data) SELECT 'app', 'u',"
                   " 'huge', 2, '{\"type\":\"note\",\"text\":\"' || repeat('a', 64 << 20) || '\"}';"
                   "UPDATE hl_sessions SET version = 2 WHERE id = 'huge';"
                   "INSERT INTO hl_events (app, user_id, id, version, data) SELECT 'app', 'u',"
                   " 'wide', v, '{\"type\":\"note\",\"text\":\"' || repeat('b', 2000) || '\"}'"
                   " FROM generate_series(2, 16384) v;"
                   "UPDATE hl_sessions SET version = 16384 WHERE id = 'wide'"));
  huge_refused(s);
  cJSON *events = NULL;
  peak_reset();
  long before = peak_rss_kib();
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "wide", &events, &v), HL_OK);
  fprintf(stderr, "  (load of 16384 events, 32 MiB: peak RSS +%ld KiB)\n",
          peak_rss_kib() - before);
  CHECK_INT(v, 16384);
  CHECK_INT(cJSON_GetArraySize(events), 16384);
  cJSON_Delete(events);
  CHECK_INT(hl_store_load(s, "app", "u", "huge", &events, &v), HL_OK); /* within 512 MiB */
  CHECK_INT(cJSON_GetArraySize(events), 2);
  cJSON_Delete(events);
  hl_store_close(s);
}

/* SQLite reads an event past the load limit no more than PostgreSQL
 * does: a session with a 64 MiB event is refused over a 1 MiB limit
 * without that event's text being read (SQLite's length() of a TEXT
 * value would read it: the size comes from the log's running size), and
 * the handle goes on. */
static void sqlite_load_memory(void) {
  if (strcmp(backend, "sqlite") != 0) return;
  char raw[600];
  hl_store *s = fresh_store(raw, sizeof raw);
  REQUIRE(s);
  cJSON *small = ev_padded(100), *huge = ev_padded(64 << 20);
  REQUIRE(small && huge);
  CHECK_INT(hl_store_append(s, "app", "u", "huge", 0, small, NULL), HL_OK);
  CHECK_INT(hl_store_append(s, "app", "u", "huge", 1, huge, NULL), HL_OK);
  CHECK_INT(hl_store_append(s, "app", "u", "huge", 2, small, NULL), HL_OK);
  cJSON_Delete(huge);
  huge_refused(s);
  cJSON *events = NULL;
  /* the handle goes on: another session loads, appends work */
  CHECK_INT(hl_store_append(s, "app", "u", "small", 0, small, NULL), HL_OK);
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "small", &events, &v), HL_OK);
  CHECK_INT(v, 1);
  cJSON_Delete(events);
  CHECK_INT(hl_store_load(s, "app", "u", "huge", &events, &v), HL_OK); /* within 512 MiB */
  CHECK_INT(v, 3);
  CHECK_INT(cJSON_GetArraySize(events), 3);
  cJSON_Delete(events);
  cJSON_Delete(small);
  hl_store_close(s);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s memory|sqlite|postgresql|redis [test-prefix]\n", argv[0]);
    return 2;
  }
  backend = argv[1];
  check_filter_ = argc > 2 ? argv[2] : NULL;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-store-test-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(round_trip);
  RUN(conflict);
  RUN(odd_ids);
  RUN(invalid_utf8);
  RUN(write_through);
  RUN(conflict_retry);
  RUN(conflict_retry_keeps_claim);
  RUN(group_append);
  RUN(turn_boundaries);
  RUN(held_state_of_failed_run);
  RUN(resume_unfinished);
  RUN(run_state);
  RUN(reload_and_reset_refused);
  RUN(tool_call_id);
  RUN(percent_byte);
  RUN(load_max);
  RUN(pg_load_memory);
  RUN(sqlite_load_memory);
  if (is_db()) {
    RUN(corrupt_row);
    RUN(truncated_log);
  } else {
    RUN(decoder);
  }
  RUN(sqlite_locked);
  RUN(sqlite_cancel);
  RUN(disk_full);
  RUN(migrations);
  RUN(migration_from_v3);
  RUN(newer_schema);
  RUN(ttl);
  RUN(redis_password);
  RUN(server_hangs);
  RUN(cancel_reaches_store);
  RUN(cancel_before_store_hangs);
  RUN(cancel_with_store_live);
  RUN(cancel_trickling_store);
  RUN(cancel_large_write);
  RUN(cancel_during_reconnect);
  RUN(read_only);
  RUN(server_restarted);
  RUN(server_killed);
  RUN(pg_connect_timeout);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return CHECK_EXIT();
}
