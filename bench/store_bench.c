/*
 * bench/store_bench.c - what a session store costs a conversation.
 *
 * For each backend (memory, SQLite, and PostgreSQL and Redis when
 * HL_TEST_PG_URL / HL_TEST_REDIS_URL name servers: `make -C bench store`
 * starts throwaway ones with tests/store/servers.py):
 *
 *   added_per_turn_us   one user turn of scenario (b) (2 model calls,
 *                       3 tool calls; an in-process model, so that only
 *                       the store's cost varies) on a stored session, minus
 *                       the same turn on an in-memory session: the 4 writes
 *                       (input, tool calls, results, answer) and their
 *                       encoding. Median of runs, each on a new session.
 *   raw_per_turn_us     the same 4 writes made with the client library
 *                       alone (sqlite3, libpq, hiredis): the same
 *                       statements or script, prepared, with the JSON
 *                       text made in advance.
 *   load_1000_ms        hl_session_open() of a 1,000-message session
 *                       (read and replay), median.
 *
 * One JSON object on stdout. Prints figures, asserts nothing.
 */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hookline.h>

#include "bench_util.h"

static int RUNS = 300;

/* ------------------------------------------------------------------ */
/* Scenario (b) with an in-process model                               */
/* ------------------------------------------------------------------ */

static hl_status b_complete(void *impl, hl_context *ctx, const hl_request *req, hl_response **out) {
  (void)impl;
  (void)ctx;
  const hl_message *last = req->messages.items[req->messages.count - 1];
  hl_response *r;
  if (last->role == HL_ROLE_TOOL) {
    r = hl_response_new_text("a is 1, b is 2 and c is 3.");
  } else {
    r = hl_response_new();
    const char *keys[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
      char id[16];
      snprintf(id, sizeof id, "call_%d", i);
      cJSON *args = cJSON_CreateObject();
      cJSON_AddStringToObject(args, "key", keys[i]);
      hl_message_add_tool_call(r->message, id, "lookup", args);
      cJSON_Delete(args);
    }
    r->finish = HL_FINISH_TOOL_CALLS;
  }
  *out = r;
  return HL_OK;
}

static hl_status lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const char *k = hl_json_get_string(args, "key");
  *result = cJSON_CreateString(k && k[0] == 'a' ? "1" : k && k[0] == 'b' ? "2" : "3");
  return HL_OK;
}

static hl_agent *make_agent(void) {
  static const hl_provider_ops ops = {.size = sizeof(hl_provider_ops), .name = "bench-b", .complete = b_complete};
  hl_agent *a = hl_agent_new("bench");
  hl_provider *p = hl_provider_new(&ops, NULL);
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_agent_set_instruction(a, "You are a benchmark agent. Use the lookup tool when asked.");
  hl_tool *t = hl_tool_new("lookup", "Look up the value stored under a key.", lookup, NULL);
  hl_tool_param(t, "key", "string", "the key", true);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  hl_agent_set_parallel_tools(a, 1); /* the tools are instant: no threads */
  return a;
}

static const char *INPUT = "Look up the keys a, b and c.";

static double median(double *v, size_t n) { return bench_percentile(v, n, 50); }

/* One turn per run, each on a new session of `store` (NULL: in memory). */
static double turn_us(hl_agent *agent, hl_store *store, const char *tag) {
  double *t = calloc((size_t)RUNS, sizeof *t);
  for (int i = -20; i < RUNS; i++) { /* 20 warm-up runs */
    char id[64];
    snprintf(id, sizeof id, "%s-%d-%d", tag, (int)getpid(), i + 20);
    hl_session *s = NULL;
    if (store) {
      if (hl_session_open(store, "bench", "u", id, &s) != HL_OK) {
        fprintf(stderr, "store bench: %s\n", hl_last_error());
        exit(1);
      }
    } else {
      s = hl_session_new("bench", "u", id);
    }
    char *answer = NULL;
    uint64_t t0 = bench_now_ns();
    hl_status st = hl_agent_run(agent, s, INPUT, &answer);
    uint64_t t1 = bench_now_ns();
    if (st != HL_OK) {
      fprintf(stderr, "store bench: run: %s\n", hl_last_error());
      exit(1);
    }
    hl_free(answer);
    hl_session_free(s);
    if (i >= 0) t[i] = (double)(t1 - t0) / 1e3;
  }
  double m = median(t, (size_t)RUNS);
  free(t);
  return m;
}

/* The event texts of one turn, as the session writes them. */
static char *turn_events[4];
static size_t turn_lens[4];

static void make_turn_events(hl_agent *agent) {
  hl_store *mem = NULL;
  hl_store_open("memory:", &mem);
  hl_session *s = NULL;
  hl_session_open(mem, "bench", "u", "template", &s);
  char *answer = NULL;
  hl_agent_run(agent, s, INPUT, &answer);
  hl_free(answer);
  cJSON *events = NULL;
  hl_store_load(mem, "bench", "u", "template", &events, NULL);
  for (int i = 0; i < 4; i++) {
    turn_events[i] = cJSON_PrintUnformatted(cJSON_GetArrayItem(events, i));
    turn_lens[i] = strlen(turn_events[i]);
  }
  cJSON_Delete(events);
  hl_session_free(s);
  hl_store_close(mem);
}

/* ------------------------------------------------------------------ */
/* The same writes with the client libraries alone                     */
/* ------------------------------------------------------------------ */

static double raw_sqlite_us(const char *path) {
  sqlite3 *db = NULL;
  sqlite3_open(path, &db);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  sqlite3_stmt *begin, *commit, *create, *bump, *event;
  sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL);
  sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL);
  sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO hl_sessions (app, user_id, id, version, created, updated,"
                         " title, bytes) VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5, ?6)", -1, &create, NULL);
  sqlite3_prepare_v2(db, "UPDATE hl_sessions SET version = version + 1, updated = ?4,"
                         " title = COALESCE(title, ?5), bytes = bytes + ?6"
                         " WHERE app = ?1 AND user_id = ?2 AND id = ?3 AND version = ?7", -1, &bump, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO hl_events (app, user_id, id, version, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                     -1, &event, NULL);
  double *t = calloc((size_t)RUNS, sizeof *t);
  for (int r = -20; r < RUNS; r++) {
    char id[64];
    snprintf(id, sizeof id, "raw-%d-%d", (int)getpid(), r + 20);
    uint64_t t0 = bench_now_ns();
    for (int v = 0; v < 4; v++) {
      sqlite3_step(begin);
      sqlite3_reset(begin);
      sqlite3_stmt *q = v == 0 ? create : bump;
      sqlite3_bind_text(q, 1, "bench", -1, SQLITE_STATIC);
      sqlite3_bind_text(q, 2, "u", -1, SQLITE_STATIC);
      sqlite3_bind_text(q, 3, id, -1, SQLITE_STATIC);
      sqlite3_bind_double(q, 4, (double)bench_now_ns() / 1e9);
      sqlite3_bind_null(q, 5);
      sqlite3_bind_int64(q, 6, (sqlite3_int64)turn_lens[v]);
      if (v) sqlite3_bind_int64(q, 7, v);
      sqlite3_step(q);
      sqlite3_reset(q);
      sqlite3_bind_text(event, 1, "bench", -1, SQLITE_STATIC);
      sqlite3_bind_text(event, 2, "u", -1, SQLITE_STATIC);
      sqlite3_bind_text(event, 3, id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(event, 4, v + 1);
      sqlite3_bind_text(event, 5, turn_events[v], (int)turn_lens[v], SQLITE_STATIC);
      sqlite3_step(event);
      sqlite3_reset(event);
      sqlite3_step(commit);
      sqlite3_reset(commit);
    }
    if (r >= 0) t[r] = (double)(bench_now_ns() - t0) / 1e3;
  }
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  sqlite3_finalize(create);
  sqlite3_finalize(bump);
  sqlite3_finalize(event);
  sqlite3_close(db);
  double m = median(t, (size_t)RUNS);
  free(t);
  return m;
}

static double raw_pg_us(const char *url) {
  PGconn *c = PQconnectdb(url);
  PQclear(PQprepare(c, "raw_create",
    "WITH s AS (INSERT INTO hl_sessions (app, user_id, id, version, created, updated, title,"
    " bytes) VALUES ($1, $2, $3, 1, $4, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING version)"
    " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3, version, $7"
    " FROM s RETURNING version", 7, NULL));
  PQclear(PQprepare(c, "raw_bump",
    "WITH s AS (UPDATE hl_sessions SET version = version + 1, updated = $4,"
    " title = COALESCE(title, $5), bytes = bytes + $6 WHERE app = $1 AND user_id = $2"
    " AND id = $3 AND version = $8 RETURNING version)"
    " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3, version, $7"
    " FROM s RETURNING version", 8, NULL));
  double *t = calloc((size_t)RUNS, sizeof *t);
  for (int r = -20; r < RUNS; r++) {
    char id[64];
    snprintf(id, sizeof id, "raw-%d-%d", (int)getpid(), r + 20);
    uint64_t t0 = bench_now_ns();
    for (int v = 0; v < 4; v++) {
      char now[40], bytes[24], expected[24];
      snprintf(now, sizeof now, "%.6f", (double)bench_now_ns() / 1e9);
      snprintf(bytes, sizeof bytes, "%zu", turn_lens[v]);
      snprintf(expected, sizeof expected, "%d", v);
      const char *vals[8] = {"bench", "u", id, now, NULL, bytes, turn_events[v], expected};
      PGresult *res = PQexecPrepared(c, v ? "raw_bump" : "raw_create", v ? 8 : 7, vals, NULL, NULL, 0);
      if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fprintf(stderr, "raw pg: %s", PQerrorMessage(c));
      PQclear(res);
    }
    if (r >= 0) t[r] = (double)(bench_now_ns() - t0) / 1e3;
  }
  PQfinish(c);
  double m = median(t, (size_t)RUNS);
  free(t);
  return m;
}

/* The script lib/store/redis.c runs for an append (copied: a benchmark
 * sees only the public API). */
static const char raw_redis_lua[] =
  "local n = redis.call('LLEN', KEYS[1])\n"
  "local v = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')\n"
  "if v ~= tonumber(ARGV[1]) then return -1 - v end\n"
  "if n ~= v then return redis.error_reply('HLTRUNCATED') end\n"
  "redis.call('RPUSH', KEYS[1], ARGV[2])\n"
  "if n == 0 then redis.call('HSET', KEYS[2], 'created', ARGV[3], 'bytes', 0) end\n"
  "redis.call('HSET', KEYS[2], 'version', n + 1, 'updated', ARGV[3])\n"
  "redis.call('HINCRBY', KEYS[2], 'bytes', string.len(ARGV[2]))\n"
  "if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[2], 'title') == 0 then\n"
  "  redis.call('HSET', KEYS[2], 'title', ARGV[5]) end\n"
  "local indexed = redis.call('EXISTS', KEYS[3])\n"
  "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])\n"
  "redis.call('PERSIST', KEYS[1]) redis.call('PERSIST', KEYS[2]) redis.call('PERSIST', KEYS[3])\n"
  "return n + 1\n";

static double raw_redis_us(const char *url) {
  const char *hostport = url + strlen("redis://");
  char host[128];
  snprintf(host, sizeof host, "%.*s", (int)strcspn(hostport, ":/"), hostport);
  const char *colon = strchr(hostport, ':');
  redisContext *c = redisConnect(host, colon ? atoi(colon + 1) : 6379);
  redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", raw_redis_lua);
  char sha[48];
  snprintf(sha, sizeof sha, "%s", rep->str);
  freeReplyObject(rep);
  double *t = calloc((size_t)RUNS, sizeof *t);
  for (int r = -20; r < RUNS; r++) {
    char id[64], log[128], meta[128];
    snprintf(id, sizeof id, "raw-%d-%d", (int)getpid(), r + 20);
    snprintf(log, sizeof log, "hl:log:5:bench1:u%zu:%s", strlen(id), id);
    snprintf(meta, sizeof meta, "hl:meta:5:bench1:u%zu:%s", strlen(id), id);
    uint64_t t0 = bench_now_ns();
    for (int v = 0; v < 4; v++) {
      char expected[24], now[40];
      snprintf(expected, sizeof expected, "%d", v);
      snprintf(now, sizeof now, "%.6f", (double)bench_now_ns() / 1e9);
      const char *argv[12] = {"EVALSHA", sha, "3", log, meta, "hl:idx:5:bench1:u", expected,
                              turn_events[v], now, id, "", "0"};
      size_t lens[12];
      for (int i = 0; i < 12; i++) lens[i] = strlen(argv[i]);
      lens[7] = turn_lens[v];
      rep = redisCommandArgv(c, 12, argv, lens);
      if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer != v + 1)
        fprintf(stderr, "raw redis: unexpected reply\n");
      if (rep) freeReplyObject(rep);
    }
    if (r >= 0) t[r] = (double)(bench_now_ns() - t0) / 1e3;
  }
  redisFree(c);
  double m = median(t, (size_t)RUNS);
  free(t);
  return m;
}

/* ------------------------------------------------------------------ */
/* Loading a long conversation                                         */
/* ------------------------------------------------------------------ */

static double load_1000_ms(hl_store *store) {
  hl_session *s = NULL;
  char id[64];
  snprintf(id, sizeof id, "long-%d", (int)getpid());
  hl_session_open(store, "bench", "u", id, &s);
  for (int i = 0; i < 1000; i++) {
    char text[160];
    snprintf(text, sizeof text, "message %d of a long conversation, about a hundred bytes of text "
             "as people and models write them", i);
    hl_session_add_message(s, hl_message_new_text(i % 2 ? HL_ROLE_ASSISTANT : HL_ROLE_USER, text));
  }
  hl_session_free(s);
  double t[15];
  for (int i = 0; i < 15; i++) {
    uint64_t t0 = bench_now_ns();
    if (hl_session_open(store, "bench", "u", id, &s) != HL_OK || hl_session_messages(s)->count != 1000)
      fprintf(stderr, "store bench: load: %s\n", hl_last_error());
    t[i] = (double)(bench_now_ns() - t0) / 1e6;
    hl_session_free(s);
  }
  return median(t, 15);
}

int main(int argc, char **argv) {
  RUNS = atoi(bench_arg(argc, argv, "--runs", "300"));
  if (RUNS < 10) RUNS = 10;
  char dir[] = "/tmp/hl-store-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  hl_agent *agent = make_agent();
  make_turn_events(agent);
  double base = turn_us(agent, NULL, "mem");

  char sqlite_path[300], sqlite_raw_path[300], url[1200];
  snprintf(sqlite_path, sizeof sqlite_path, "%s/store.sqlite", dir);
  snprintf(sqlite_raw_path, sizeof sqlite_raw_path, "%s/raw.sqlite", dir);
  const char *pg = getenv("HL_TEST_PG_URL"), *redis = getenv("HL_TEST_REDIS_URL");
  struct { const char *name; char url[1200]; } backends[4];
  int n = 0;
  backends[n].name = "memory";
  snprintf(backends[n++].url, sizeof backends[0].url, "memory:");
  backends[n].name = "sqlite";
  snprintf(backends[n++].url, sizeof backends[0].url, "sqlite:%s", sqlite_path);
  if (pg && pg[0]) {
    backends[n].name = "postgresql";
    snprintf(backends[n++].url, sizeof backends[0].url, "%s", pg);
  }
  if (redis && redis[0]) {
    backends[n].name = "redis";
    snprintf(backends[n++].url, sizeof backends[0].url, "%s", redis);
  }

  printf("{\"bench\":\"store\",\"runs\":%d,\"scenario\":\"b: 2 model calls, 3 tool calls, "
         "in-process model\",\"turn_in_memory_us\":%.1f,\"backends\":{", RUNS, base);
  for (int i = 0; i < n; i++) {
    hl_store *store = NULL;
    if (hl_store_open(backends[i].url, &store) != HL_OK) {
      fprintf(stderr, "store bench: %s: %s\n", backends[i].name, hl_last_error());
      continue;
    }
    double with = turn_us(agent, store, backends[i].name);
    double raw = -1;
    if (!strcmp(backends[i].name, "sqlite")) {
      hl_store *init = NULL; /* the raw writes go to a database of the same schema */
      snprintf(url, sizeof url, "sqlite:%s", sqlite_raw_path);
      hl_store_open(url, &init);
      hl_store_close(init);
      raw = raw_sqlite_us(sqlite_raw_path);
    } else if (!strcmp(backends[i].name, "postgresql")) {
      raw = raw_pg_us(pg);
    } else if (!strcmp(backends[i].name, "redis")) {
      raw = raw_redis_us(redis);
    }
    double load = load_1000_ms(store);
    double added = with - base;
    printf("%s\"%s\":{\"turn_us\":%.1f,\"added_per_turn_us\":%.1f", i ? "," : "", backends[i].name,
           with, added);
    if (raw >= 0)
      printf(",\"raw_per_turn_us\":%.1f,\"added_vs_raw\":%.3f", raw, raw > 0 ? added / raw : 0);
    printf(",\"load_1000_ms\":%.2f}", load);
    fflush(stdout);
    hl_store_close(store);
  }
  printf("}}\n");
  for (int i = 0; i < 4; i++) free(turn_events[i]);
  hl_agent_unref(agent);
  char cmd[100];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "store bench: could not remove %s\n", dir);
  return 0;
}
