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
 *                       the same turn on an in-memory session: the 4 events
 *                       (input, tool calls, results, answer) in 2 appends,
 *                       one per turn boundary (the input, the calls and
 *                       their results; the answer), and their encoding.
 *                       Median of runs, each on a new session.
 *   raw_per_turn_us     the same 2 appends made with the client library
 *                       alone (sqlite3, libpq, hiredis): the same
 *                       statements or script on the same schema, prepared,
 *                       with the JSON text made in advance, the same rows
 *                       (the session's title too), the same guarantees
 *                       (each append one transaction conditional on the
 *                       version, atomic; SQLite with the same WAL and
 *                       synchronous=NORMAL), made at the same points of
 *                       the same turn: the in-memory turn with the raw
 *                       writes made from model hooks where a stored session
 *                       appends (raw_hooks()), minus the in-memory turn.
 *   *_writes_per_turn   write system calls of the process per turn
 *                       (/proc/self/io syscw): for Redis the round trips,
 *                       for SQLite the WAL writes; the same for both sides
 *                       shows they do the same work. Not for PostgreSQL
 *                       (libpq uses send(), which syscw does not count;
 *                       raw_writes_per_turn -1 there).
 *   *_p25_us, *_p75_us  quartiles of the added and raw wall times (the
 *                       stored or raw turn minus the in-memory turn of the
 *                       same round): the spread the medians come from.
 *   *_cpu_us            the same, in CPU time of the calling thread
 *                       (CLOCK_THREAD_CPUTIME_ID; everything runs on it):
 *                       the client's own cost, which the load of a shared
 *                       machine does not inflate the way it does wall time.
 *   pinned_cpu          PostgreSQL: the CPU the server processes of both
 *                       sides and the calling thread were pinned to
 *                       (pg_pin()), -1 when they could not be: then the
 *                       ratios are not comparable.
 *   load_1000_ms        hl_session_open() of a 1,000-message session
 *                       (read and replay), median.
 *
 * The three kinds of turn (in memory, stored, raw) are measured
 * interleaved, one of each in rotating order per run, so that a change in
 * the machine's load hits all three alike.
 *
 * One JSON object on stdout. Prints figures, asserts nothing.
 */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* The user's input; also the title the library gives the new session
 * (its first user message), which the raw writes give it too. */
static const char *INPUT = "Look up the keys a, b and c.";

static double median(double *v, size_t n) { return bench_percentile(v, n, 50); }

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One measured turn: wall and CPU time of the calling thread, and the
 * process's write system calls during it. */
typedef struct sample {
  double wall_us, cpu_us;
  long long writes;
} sample;

static long long write_calls(void);

typedef struct clock_pair {
  uint64_t wall, cpu;
} clock_pair;

static clock_pair clocks_now(void) { return (clock_pair){bench_now_ns(), thread_cpu_ns()}; }

static sample since(clock_pair t0) {
  clock_pair t1 = clocks_now();
  return (sample){(double)(t1.wall - t0.wall) / 1e3, (double)(t1.cpu - t0.cpu) / 1e3, 0};
}

/* The raw client that writes the running turn's events from the model
 * hooks (raw_hooks(): at the points where a stored session appends), and
 * the turn's session id; raw NULL for the other turns. */
typedef struct raw_client raw_client;
static struct {
  raw_client *raw;
  const char *id;
} raw_turn;

/* One turn on a new session `tag`-`i` of `store` (NULL: in memory; with
 * `raw`, in memory and written by the raw client as it goes). */
static sample one_turn(hl_agent *agent, hl_store *store, raw_client *raw, const char *tag, int i) {
  char id[64];
  snprintf(id, sizeof id, "%s-%d-%d", tag, (int)getpid(), i);
  hl_session *s = NULL;
  if (store) {
    if (hl_session_open(store, "bench", "u", id, &s) != HL_OK) {
      fprintf(stderr, "store bench: %s\n", hl_last_error());
      exit(1);
    }
  } else {
    s = hl_session_new("bench", "u", id);
  }
  raw_turn.raw = raw;
  raw_turn.id = id;
  char *answer = NULL;
  long long w0 = write_calls();
  clock_pair t0 = clocks_now();
  hl_status st = hl_agent_run(agent, s, INPUT, &answer);
  sample r = since(t0);
  r.writes = write_calls() - w0;
  raw_turn.raw = NULL;
  if (st != HL_OK) {
    fprintf(stderr, "store bench: run: %s\n", hl_last_error());
    exit(1);
  }
  hl_free(answer);
  hl_session_free(s);
  return r;
}

/* The event texts of one turn, as the session writes them, and the
 * appends they are written in (one per turn boundary): the input, the
 * tool calls and their results; the answer. */
static char *turn_events[4];
static size_t turn_lens[4];
enum { GROUPS = 2 };
static const int group_first[GROUPS] = {0, 3}, group_size[GROUPS] = {3, 1};
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

/* Write system calls of this process so far (/proc/self/io syscw). */
static long long write_calls(void) {
  FILE *f = fopen("/proc/self/io", "r");
  if (!f) return -1;
  char line[128];
  long long n = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "syscw:", 6)) n = atoll(line + 6);
  fclose(f);
  return n;
}

/* ------------------------------------------------------------------ */
/* The same writes with the client libraries alone                     */
/* ------------------------------------------------------------------ */

/* A raw client: open once, then one append per call: group g of the
 * turn's events to session `id` (g 0 creates it). */
typedef struct raw_client {
  void *ctx;
  void (*append)(void *ctx, const char *id, int g);
  void (*close)(void *ctx);
} raw_client;

/* Unix time in seconds, the clock the library stamps sessions with. */
static double unix_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { RQ_BEGIN, RQ_COMMIT, RQ_CREATE, RQ_FIND, RQ_EVENT, RQ_COUNT };
typedef struct raw_sqlite {
  sqlite3 *db;
  sqlite3_stmt *q[RQ_COUNT];
  sqlite3_int64 sid; /* the session being written (set by group 0) */
} raw_sqlite;

/* As lib/store/sqlite.c: one IMMEDIATE transaction per append: a new
 * session's row (the first append) or the check that the session's last
 * event is the one the writer saw (the others), then the group's event
 * rows, keyed sid * 2^32 + version, with the log's running size. */
static void raw_sqlite_append(void *ctx, const char *id, int g) {
  raw_sqlite *r = ctx;
  int v = group_first[g];
  sqlite3_int64 bytes = 0;
  sqlite3_step(r->q[RQ_BEGIN]);
  sqlite3_reset(r->q[RQ_BEGIN]);
  double now = unix_now();
  sqlite3_stmt *q = r->q[v == 0 ? RQ_CREATE : RQ_FIND];
  sqlite3_bind_text(q, 1, "bench", -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, "u", -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 3, id, -1, SQLITE_STATIC);
  if (v == 0) {
    sqlite3_bind_double(q, 4, now);
    sqlite3_bind_text(q, 5, INPUT, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE || sqlite3_changes(r->db) != 1)
      fprintf(stderr, "raw sqlite: %s\n", sqlite3_errmsg(r->db));
    r->sid = sqlite3_last_insert_rowid(r->db);
  } else {
    if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int64(q, 1) != r->sid * 4294967296 + v)
      fprintf(stderr, "raw sqlite: not at version %d: %s\n", v, sqlite3_errmsg(r->db));
    bytes = sqlite3_column_int64(q, 2);
  }
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  for (int i = 0; i < group_size[g]; i++) {
    sqlite3_stmt *e = r->q[RQ_EVENT];
    int k = group_first[g] + i;
    bytes += (sqlite3_int64)turn_lens[k];
    sqlite3_bind_int64(e, 1, r->sid * 4294967296 + v + i + 1);
    sqlite3_bind_double(e, 2, now);
    sqlite3_bind_int64(e, 3, bytes);
    sqlite3_bind_text(e, 4, turn_events[k], (int)turn_lens[k], SQLITE_STATIC);
    if (sqlite3_step(e) != SQLITE_DONE) fprintf(stderr, "raw sqlite: %s\n", sqlite3_errmsg(r->db));
    sqlite3_reset(e);
  }
  sqlite3_step(r->q[RQ_COMMIT]);
  sqlite3_reset(r->q[RQ_COMMIT]);
}

static void raw_sqlite_close(void *ctx) {
  raw_sqlite *r = ctx;
  for (int i = 0; i < RQ_COUNT; i++) sqlite3_finalize(r->q[i]);
  sqlite3_close(r->db);
  free(r);
}

/* The same settings as the library: WAL, synchronous=NORMAL. */
static raw_client raw_sqlite_open(const char *path) {
  raw_sqlite *r = calloc(1, sizeof *r);
  sqlite3_open(path, &r->db);
  sqlite3_busy_timeout(r->db, 5000);
  sqlite3_exec(r->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  static const char *const sql[RQ_COUNT] = {
    [RQ_BEGIN] = "BEGIN IMMEDIATE",
    [RQ_COMMIT] = "COMMIT",
    [RQ_CREATE] = "INSERT OR IGNORE INTO hl_sessions (app, user_id, id, created, title)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [RQ_FIND] = "SELECT s.sid, e.k, e.bytes FROM hl_sessions s LEFT JOIN hl_events e"
                " ON e.k = (SELECT MAX(k) FROM hl_events WHERE k BETWEEN s.sid * 4294967296 + 1"
                " AND s.sid * 4294967296 + 4294967295)"
                " WHERE s.app = ?1 AND s.user_id = ?2 AND s.id = ?3",
    [RQ_EVENT] = "INSERT INTO hl_events (k, time, bytes, data) VALUES (?1, ?2, ?3, ?4)",
  };
  for (int i = 0; i < RQ_COUNT; i++)
    if (sqlite3_prepare_v2(r->db, sql[i], -1, &r->q[i], NULL) != SQLITE_OK)
      fprintf(stderr, "raw sqlite: prepare: %s\n", sqlite3_errmsg(r->db));
  return (raw_client){r, raw_sqlite_append, raw_sqlite_close};
}

/* As lib/store/postgres.c: one statement per append (the conditional
 * bump and the event rows in one CTE, atomic), one round trip; a group
 * passes its events as parameters of their own, all events as binary text
 * (bytes and length); the first append gives the session its title, as
 * the library does. Statements: raw_create, raw_bump (one event) and
 * raw_group_<g> for a group of several (raw_pg_open()). */
static void raw_pg_append(void *ctx, const char *id, int g) {
  PGconn *c = ctx;
  int v = group_first[g], n = group_size[g];
  char now[40], bytes[24], expected[24], count[24], name[32];
  size_t b = 0;
  for (int i = 0; i < n; i++) b += turn_lens[v + i];
  snprintf(now, sizeof now, "%.6f", unix_now());
  snprintf(bytes, sizeof bytes, "%zu", b);
  snprintf(expected, sizeof expected, "%d", v);
  snprintf(count, sizeof count, "%d", n);
  if (n > 1) snprintf(name, sizeof name, "raw_group_%d", g);
  /* one event: $7 the event, $8 the version seen; a group: $7 the new
   * session's version or the version seen, $8 the count ($8/$9.. events) */
  const char *vals[16] = {"bench", "u", id, now, v ? NULL : INPUT, bytes, v ? expected : count, count};
  int lens[16] = {0}, formats[16] = {0}, first = n > 1 ? (v ? 8 : 7) : 6;
  for (int i = 0; i < n; i++) {
    vals[first + i] = turn_events[v + i];
    lens[first + i] = (int)turn_lens[v + i];
    formats[first + i] = 1;
  }
  if (n == 1 && v) vals[7] = expected;
  const char *statement = n > 1 ? name : v ? "raw_bump" : "raw_create";
  int nparams = first + n + (n == 1 && v);
  PGresult *res = PQexecPrepared(c, statement, nparams, vals, lens, formats, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != n)
    fprintf(stderr, "raw pg: %s", PQerrorMessage(c));
  PQclear(res);
}

static void raw_pg_close(void *ctx) { PQfinish(ctx); }

static raw_client raw_pg_open(const char *url) {
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
  for (int g = 0; g < GROUPS; g++) {
    if (group_size[g] < 2) continue;
    bool create = group_first[g] == 0;
    int first = create ? 8 : 9;
    char sql[2048], name[32];
    int len = snprintf(sql, sizeof sql, "%s", create
      ? "WITH s AS (INSERT INTO hl_sessions (app, user_id, id, version, created, updated, title,"
        " bytes) VALUES ($1, $2, $3, $7, $4, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING version)"
        " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3, e.i, e.data"
        " FROM s, unnest(ARRAY["
      : "WITH s AS (UPDATE hl_sessions SET version = version + $8, updated = $4,"
        " title = COALESCE(title, $5), bytes = bytes + $6 WHERE app = $1 AND user_id = $2"
        " AND id = $3 AND version = $7 RETURNING version)"
        " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3,"
        " $7::bigint + e.i, e.data FROM s, unnest(ARRAY[");
    for (int i = 0; i < group_size[g]; i++)
      len += snprintf(sql + len, sizeof sql - (size_t)len, "%s$%d::text", i ? ", " : "", first + i);
    snprintf(sql + len, sizeof sql - (size_t)len, "]) WITH ORDINALITY AS e(data, i) RETURNING version");
    snprintf(name, sizeof name, "raw_group_%d", g);
    PQclear(PQprepare(c, name, sql, first - 1 + group_size[g], NULL));
  }
  return (raw_client){c, raw_pg_append, raw_pg_close};
}

/* Each PostgreSQL connection has a server process of its own, and where
 * the scheduler runs it sets what a round trip costs the client: on the
 * client's CPU or on another one, the same appends took 2-2.5x the client
 * CPU time apart from each other, and a server process keeps its CPU for
 * the whole run (1-5 migrations in 320 rounds). The library's connection
 * and the raw one are two such processes: left to the scheduler, a run
 * compares the places they happened to get (0.5x to 2.4x on CPU measured
 * for the same turns, only the places changed). So both are pinned to the CPU of
 * the calling thread, which is pinned there too for the measurement.
 * Connections are found by their application_name. */

/* `url` with application_name=`name` (a libpq URI parameter). */
static void pg_url_named(char *out, size_t cap, const char *url, const char *name) {
  snprintf(out, cap, "%s%capplication_name=%s", url, strchr(url, '?') ? '&' : '?', name);
}

/* Pin the calling thread and the server processes of the connections
 * named `a` and `b` to the thread's CPU, *was set to the thread's mask
 * before; the CPU, or -1 when not all three could be pinned (then none is). */
static int pg_pin(PGconn *c, const char *a, const char *b, cpu_set_t *was) {
  int cpu = sched_getcpu();
  if (cpu < 0 || sched_getaffinity(0, sizeof *was, was) != 0) return -1;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  const char *names[2] = {a, b};
  PGresult *r = PQexecParams(c, "SELECT pid FROM pg_stat_activity WHERE application_name IN ($1, $2)",
                             2, NULL, names, NULL, NULL, 0);
  int found = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : 0, pinned = 0;
  for (int i = 0; i < found; i++)
    pinned += sched_setaffinity((pid_t)atoi(PQgetvalue(r, i, 0)), sizeof one, &one) == 0;
  bool ok = found == 2 && pinned == 2 && sched_setaffinity(0, sizeof one, &one) == 0;
  for (int i = 0; !ok && i < found; i++) /* one side pinned is worse than none */
    sched_setaffinity((pid_t)atoi(PQgetvalue(r, i, 0)), sizeof *was, was);
  PQclear(r);
  if (!ok) fprintf(stderr, "store bench: postgresql server processes not pinned\n");
  return ok ? cpu : -1;
}

/* The script lib/store/redis.c runs for an append (copied: a benchmark
 * sees only the public API). */
static const char raw_redis_lua[] =
  "local n = redis.call('LLEN', KEYS[1])\n"
  "local v = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')\n"
  "if v ~= tonumber(ARGV[1]) then return -1 - v end\n"
  "if n ~= v then return redis.error_reply('HLTRUNCATED') end\n"
  "local bytes = 0\n"
  "for i = 6, #ARGV do bytes = bytes + string.len(ARGV[i]) end\n"
  "redis.call('RPUSH', KEYS[1], unpack(ARGV, 6))\n"
  "if n == 0 then redis.call('HSET', KEYS[2], 'created', ARGV[2], 'bytes', 0) end\n"
  "redis.call('HSET', KEYS[2], 'version', n + #ARGV - 5, 'updated', ARGV[2])\n"
  "redis.call('HINCRBY', KEYS[2], 'bytes', bytes)\n"
  "if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[2], 'title') == 0 then\n"
  "  redis.call('HSET', KEYS[2], 'title', ARGV[4]) end\n"
  "local indexed = redis.call('EXISTS', KEYS[3])\n"
  "redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])\n"
  "local ttl = tonumber(ARGV[5])\n"
  "if ttl > 0 then\n"
  "  redis.call('EXPIRE', KEYS[1], ttl) redis.call('EXPIRE', KEYS[2], ttl)\n"
  "  local left = redis.call('TTL', KEYS[3])\n"
  "  if indexed == 0 or (left >= 0 and left < ttl) then redis.call('EXPIRE', KEYS[3], ttl) end\n"
  "else redis.call('PERSIST', KEYS[1]) redis.call('PERSIST', KEYS[2])\n"
  "  redis.call('PERSIST', KEYS[3]) end\n"
  "return n + #ARGV - 5\n";

typedef struct raw_redis {
  redisContext *c;
  char sha[48];
} raw_redis;

/* As lib/store/redis.c: one EVALSHA (one round trip) per append; the
 * first gives the session its title, as the library does. */
static void raw_redis_append(void *ctx, const char *id, int g) {
  raw_redis *r = ctx;
  if (!id) return; /* never: tells GCC's -Wformat-truncation so under -fsanitize */
  char log[128], meta[128];
  snprintf(log, sizeof log, "hl:log:5:bench1:u%zu:%s", strlen(id), id);
  snprintf(meta, sizeof meta, "hl:meta:5:bench1:u%zu:%s", strlen(id), id);
  int v = group_first[g];
  char expected[24], now[40];
  snprintf(expected, sizeof expected, "%d", v);
  snprintf(now, sizeof now, "%.6f", unix_now());
  const char *argv[16] = {"EVALSHA", r->sha, "3", log, meta, "hl:idx:5:bench1:u", expected,
                          now, id, v ? "" : INPUT, "0"};
  size_t lens[16];
  for (int i = 0; i < 11; i++) lens[i] = strlen(argv[i]);
  for (int i = 0; i < group_size[g]; i++) {
    argv[11 + i] = turn_events[group_first[g] + i];
    lens[11 + i] = turn_lens[group_first[g] + i];
  }
  redisReply *rep = redisCommandArgv(r->c, 11 + group_size[g], argv, lens);
  if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer != v + group_size[g])
    fprintf(stderr, "raw redis: unexpected reply\n");
  if (rep) freeReplyObject(rep);
}

static void raw_redis_close(void *ctx) {
  raw_redis *r = ctx;
  redisFree(r->c);
  free(r);
}

static raw_client raw_redis_open(const char *url) {
  raw_redis *r = calloc(1, sizeof *r);
  const char *hostport = url + strlen("redis://");
  char host[128];
  snprintf(host, sizeof host, "%.*s", (int)strcspn(hostport, ":/"), hostport);
  const char *colon = strchr(hostport, ':');
  r->c = redisConnect(host, colon ? atoi(colon + 1) : 6379);
  redisReply *rep = redisCommand(r->c, "SCRIPT LOAD %s", raw_redis_lua);
  snprintf(r->sha, sizeof r->sha, "%s", rep && rep->str ? rep->str : "");
  if (rep) freeReplyObject(rep);
  return (raw_client){r, raw_redis_append, raw_redis_close};
}

/* The raw writes at the turn's boundaries, where a stored session makes
 * its appends: the input, calls and results once the tools have run
 * (before the second model call), the answer when the model gives it. So
 * the raw turn is the in-memory turn with the writes in the same places,
 * the agent's own work between them as in the stored turn: a client
 * thread that blocks on a server and then goes on with other work pays
 * for it (cold caches, the wake-up), and the raw side must pay that too. */
static hl_hook_action raw_before_model(hl_context *ctx, const hl_before_model_args *args,
                                       hl_before_model_out *out, void *ud) {
  (void)ctx;
  (void)out;
  (void)ud;
  const hl_messages *m = &args->request->messages;
  if (raw_turn.raw && m->count && m->items[m->count - 1]->role == HL_ROLE_TOOL)
    raw_turn.raw->append(raw_turn.raw->ctx, raw_turn.id, 0);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action raw_after_model(hl_context *ctx, const hl_after_model_args *args,
                                      hl_after_model_out *out, void *ud) {
  (void)ctx;
  (void)out;
  (void)ud;
  if (raw_turn.raw && args->response && hl_message_tool_call_count(args->response->message) == 0)
    raw_turn.raw->append(raw_turn.raw->ctx, raw_turn.id, 1);
  return HL_HOOK_CONTINUE;
}

/* Both hooks run in every kind of turn (they return at once outside raw
 * turns), so that they cost the three alike. */
static void raw_hooks(hl_agent *agent) {
  hl_hooks *h = hl_agent_hooks(agent);
  if (hl_hooks_add_before_model(h, "raw-writes", HL_HOOK_OBSERVE, raw_before_model, NULL) != HL_OK ||
      hl_hooks_add_after_model(h, "raw-writes", HL_HOOK_OBSERVE, raw_after_model, NULL) != HL_OK) {
    fprintf(stderr, "store bench: hooks: %s\n", hl_last_error());
    exit(1);
  }
}

/* ------------------------------------------------------------------ */
/* The three kinds of turn, interleaved                                */
/* ------------------------------------------------------------------ */

typedef struct figures {
  double mem_wall, mem_cpu, with_wall, with_cpu; /* medians of the turns, us */
  double raw_wall, raw_cpu;                       /* the raw turn's minus the in-memory one's */
  double added_p25, added_p75, raw_p25, raw_p75;  /* quartiles of the rounds' differences, us */
  double with_writes, raw_writes;                                   /* write calls per turn */
} figures;

/* RUNS rounds (after 20 warm-up ones) of: a turn in memory, a turn on
 * `store`, and (with `raw`) a turn in memory written by the raw client,
 * in rotating order. The stored and the raw turns' figures are what they
 * add to the in-memory turn. */
static figures measure(hl_agent *agent, hl_store *store, const char *tag, raw_client *raw) {
  size_t n = (size_t)RUNS;
  double *v[8];
  for (int k = 0; k < 8; k++) v[k] = calloc(n, sizeof(double));
  long long writes[3] = {0, 0, 0};
  for (int i = -20; i < RUNS; i++) {
    for (int step = 0; step < 3; step++) {
      int kind = (i + 20 + step) % 3; /* 0 memory, 1 stored, 2 raw */
      sample x = {0, 0, 0};
      if (kind == 0) x = one_turn(agent, NULL, NULL, "mem", i + 20);
      else if (kind == 1) x = one_turn(agent, store, NULL, tag, i + 20);
      else if (raw) x = one_turn(agent, NULL, raw, "raw", i + 20);
      if (i >= 0) {
        v[2 * kind][i] = x.wall_us;
        v[2 * kind + 1][i] = x.cpu_us;
        writes[kind] += x.writes;
      }
    }
    if (i >= 0) {
      v[6][i] = v[2][i] - v[0][i]; /* this round's added wall time */
      v[7][i] = v[4][i] - v[0][i]; /* and the raw writes' */
    }
  }
  double mem_wall = median(v[0], n), mem_cpu = median(v[1], n);
  figures f = {mem_wall, mem_cpu, median(v[2], n), median(v[3], n),
               median(v[4], n) - mem_wall, median(v[5], n) - mem_cpu,
               bench_percentile(v[6], n, 25), bench_percentile(v[6], n, 75),
               bench_percentile(v[7], n, 25), bench_percentile(v[7], n, 75),
               (double)(writes[1] - writes[0]) / (double)n,
               (double)(writes[2] - writes[0]) / (double)n};
  for (int k = 0; k < 8; k++) free(v[k]);
  return f;
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
  raw_hooks(agent);

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
         "in-process model\",\"backends\":{", RUNS);
  for (int i = 0; i < n; i++) {
    bool is_pg = !strcmp(backends[i].name, "postgresql");
    char lib_name[64], raw_name[64];
    snprintf(lib_name, sizeof lib_name, "hl-bench-store-%d", (int)getpid());
    snprintf(raw_name, sizeof raw_name, "hl-bench-raw-%d", (int)getpid());
    if (is_pg) pg_url_named(backends[i].url, sizeof backends[i].url, pg, lib_name);
    hl_store *store = NULL;
    if (hl_store_open(backends[i].url, &store) != HL_OK) {
      fprintf(stderr, "store bench: %s: %s\n", backends[i].name, hl_last_error());
      continue;
    }
    raw_client raw = {0};
    if (!strcmp(backends[i].name, "sqlite")) {
      hl_store *init = NULL; /* the raw writes go to a database of the same schema */
      snprintf(url, sizeof url, "sqlite:%s", sqlite_raw_path);
      hl_store_open(url, &init);
      hl_store_close(init);
      raw = raw_sqlite_open(sqlite_raw_path);
    } else if (is_pg) {
      pg_url_named(url, sizeof url, pg, raw_name);
      raw = raw_pg_open(url);
    } else if (!strcmp(backends[i].name, "redis")) {
      raw = raw_redis_open(redis);
    }
    cpu_set_t was;
    int pinned = is_pg ? pg_pin(raw.ctx, lib_name, raw_name, &was) : -1;
    figures f = measure(agent, store, backends[i].name, raw.append ? &raw : NULL);
    if (pinned >= 0) sched_setaffinity(0, sizeof was, &was);
    if (raw.close) raw.close(raw.ctx);
    double load = load_1000_ms(store);
    double added = f.with_wall - f.mem_wall, added_cpu = f.with_cpu - f.mem_cpu;
    printf("%s\"%s\":{\"turn_in_memory_us\":%.1f,\"turn_in_memory_cpu_us\":%.1f,"
           "\"turn_us\":%.1f,\"turn_cpu_us\":%.1f,\"added_per_turn_us\":%.1f,"
           "\"added_per_turn_cpu_us\":%.1f", i ? "," : "", backends[i].name, f.mem_wall,
           f.mem_cpu, f.with_wall, f.with_cpu, added, added_cpu);
    /* libpq talks with send(), which /proc/self/io does not count: no
     * figure rather than a wrong 0 */
    bool counted = strcmp(backends[i].name, "postgresql") != 0;
    printf(",\"added_p25_us\":%.1f,\"added_p75_us\":%.1f", f.added_p25, f.added_p75);
    if (counted) printf(",\"writes_per_turn\":%.2f", f.with_writes);
    if (raw.append)
      printf(",\"raw_per_turn_us\":%.1f,\"raw_per_turn_cpu_us\":%.1f,\"added_vs_raw\":%.3f,"
             "\"added_vs_raw_cpu\":%.3f,\"raw_p25_us\":%.1f,\"raw_p75_us\":%.1f,"
             "\"raw_writes_per_turn\":%.2f", f.raw_wall, f.raw_cpu,
             f.raw_wall > 0 ? added / f.raw_wall : 0, f.raw_cpu > 0 ? added_cpu / f.raw_cpu : 0,
             f.raw_p25, f.raw_p75, counted ? f.raw_writes : -1.0);
    if (is_pg) printf(",\"pinned_cpu\":%d", pinned);
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
