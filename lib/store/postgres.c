/*
 * postgres.c - the "postgresql://" store backend (libpq), for many
 * workers on many machines sharing one database.
 *
 * Every append is one statement (a CTE that bumps the session's version
 * only if it is still the one the writer saw, then inserts the event, or
 * a group's events, under the new versions), so it is atomic without an
 * explicit transaction and costs one round trip; READ COMMITTED re-checks the
 * version condition after waiting for a concurrent writer's row lock,
 * which is what makes the loser see zero rows: HL_ERR_CONFLICT. Every
 * statement is prepared with its parameters sent as values, never spliced;
 * the events go as binary text parameters (their bytes and length: no
 * escaping, no copy). A lost connection fails the call with
 * HL_ERR_NETWORK; the next call reconnects (PQreset) and prepares again.
 * So does a server that stops answering (HL_PG_IDLE_MS): libpq's blocking
 * calls wait for an answer as long as the socket lives, and a hung server
 * (stopped, swapping, behind a dead NAT entry) keeps it alive, so every
 * statement is sent and awaited here, non-blocking, with poll(). A load
 * is read row by row (single-row mode) and its SQL withholds the text of
 * events past the store's load limit, so that neither libpq nor hookline
 * ever holds more than the limit of a session's log (store.h).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "hookline/store.h"
#include "store/store_internal.h"

static const char *const hl_pg_migrations[] = {
  /* 1: sessions and their logs */
  "CREATE TABLE hl_sessions (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,"
  " updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (app, user_id, id));"
  "CREATE TABLE hl_events (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, user_id, id, version));",
  /* 2: title and size for listings, an index for them */
  "ALTER TABLE hl_sessions ADD COLUMN title TEXT;"
  "ALTER TABLE hl_sessions ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;"
  "UPDATE hl_sessions SET bytes = (SELECT COALESCE(SUM(OCTET_LENGTH(data)), 0)"
  " FROM hl_events e WHERE e.app = hl_sessions.app AND e.user_id = hl_sessions.user_id"
  " AND e.id = hl_sessions.id);"
  "CREATE INDEX hl_sessions_by_user ON hl_sessions (app, user_id, updated);",
  /* 3: an append's update of its session row touches no indexed column
   * (the index on the time of the last write goes: a listing reads one
   * user's sessions by key and sorts them), so PostgreSQL can make it a
   * heap-only update, with room left in each page for it. */
  ("DROP INDEX IF EXISTS hl_sessions_by_user;"
   "ALTER TABLE hl_sessions SET (fillfactor = 70);"),
  /* 4: SQLite's log became its events table (sqlite.c); nothing changes
   * here (one schema version number for both backends). */
  "SELECT 1;",
};
#define HL_PG_SCHEMA ((int)(sizeof hl_pg_migrations / sizeof *hl_pg_migrations))
_Static_assert(HL_PG_SCHEMA == HL_STORE_SCHEMA_VERSION, "one migration per schema version");

/* A lock id of our own for migrations (any constant; "hl" in ASCII). */
#define HL_PG_MIGRATION_LOCK "26732"

enum { P_CREATE, P_BUMP, P_LOAD, P_LIST, P_DEL, P_COUNT };
static const struct { const char *name, *sql; int nparams; } hl_pg_sql[P_COUNT] = {
  [P_CREATE] = {"hl_create",
    "WITH s AS (INSERT INTO hl_sessions (app, user_id, id, version, created, updated, title,"
    " bytes) VALUES ($1, $2, $3, 1, $4, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING version)"
    " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3, version, $7"
    " FROM s RETURNING version", 7},
  [P_BUMP] = {"hl_bump",
    "WITH s AS (UPDATE hl_sessions SET version = version + 1, updated = $4,"
    " title = COALESCE(title, $5), bytes = bytes + $6 WHERE app = $1 AND user_id = $2"
    " AND id = $3 AND version = $8 RETURNING version)"
    " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3, version, $7"
    " FROM s RETURNING version", 8},
  /* The session's version, then each event's version, text and length;
   * the text of the event that takes the log past the load limit $4 is
   * withheld (NULL) and no row follows it: what the server sends is
   * bounded by the limit, however large the stored events. */
  [P_LOAD] = {"hl_load",
    "SELECT sv, ev, CASE WHEN run <= $4::bigint THEN data END, len FROM (SELECT"
    " s.version AS sv, e.version AS ev, e.data, octet_length(e.data) AS len,"
    " SUM(octet_length(e.data)) OVER (ORDER BY e.version) AS run"
    " FROM hl_sessions s LEFT JOIN hl_events e"
    " ON e.app = s.app AND e.user_id = s.user_id AND e.id = s.id"
    " WHERE s.app = $1 AND s.user_id = $2 AND s.id = $3) t"
    " WHERE run IS NULL OR run - len <= $4::bigint ORDER BY ev", 4},
  [P_LIST] = {"hl_list",
    "SELECT id, version, created, updated, title, bytes FROM hl_sessions"
    " WHERE app = $1 AND user_id = $2 ORDER BY updated DESC, id", 2},
  [P_DEL] = {"hl_delete",
    "WITH e AS (DELETE FROM hl_events WHERE app = $1 AND user_id = $2 AND id = $3)"
    " DELETE FROM hl_sessions WHERE app = $1 AND user_id = $2 AND id = $3 RETURNING 1", 3},
};

/* A group of n >= 2 events (store.h) is the same statement with the
 * events as parameters of their own, unnested in order: event i of the
 * group gets version expected + i (WITH ORDINALITY counts from 1). One
 * statement per group size and kind, prepared on the connection when
 * first used (a turn boundary is a few sizes). Parameters: $1-$6 as for
 * one event, then for a new session $7 its version (n) and $8.. the
 * events, on top of a version $7 the version seen, $8 n, $9.. the events. */
#define HL_PG_GROUP_CREATE 1u
#define HL_PG_GROUP_BUMP 2u

/* How long a call waits for the server to send anything (the whole
 * answer may take longer while bytes keep coming), as the Redis backend
 * does; a migration's statements wait longer, as a worker may wait for
 * another one migrating a large database under the migration lock (the
 * reads that decide whether to migrate do not). */
#define HL_PG_IDLE_MS 10000
#define HL_PG_MIGRATE_IDLE_MS 300000

typedef struct pg_store {
  PGconn *conn;
  int connect_ms; /* the URL's connect_timeout (or ours), ms; 0: none */
  bool prepared;
  bool broken;   /* the last call lost the connection: reconnect first */
  int timed_out; /* the last call's server sent nothing for this many ms */
  /* pg_interrupt(): readable while the call in progress is to stop; every
   * wait polls it beside the socket (a hung server never answers a
   * PQcancel: its backend is what does not run) */
  hl__store_wake wake;
  bool cut; /* the last call stopped for it */
  /* per group size: which of its statements this connection has prepared */
  unsigned char group_ready[HL_STORE_GROUP_MAX + 1];
} pg_store;

/* A failed call's status: the connection gone is a network failure. */
static hl_status pg_fail(pg_store *s, const PGresult *r, const char *what) {
  const char *msg = r ? PQresultErrorMessage(r) : "";
  if (!msg || !msg[0]) msg = PQerrorMessage(s->conn);
  char clean[600];
  snprintf(clean, sizeof clean, "%s", msg ? msg : "");
  size_t n = strlen(clean);
  while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' ')) clean[--n] = '\0';
  for (char *p = clean; *p; p++) /* "ERROR: ...\nCONTEXT: ...": one line */
    if (*p == '\n' || *p == '\r') *p = ' ';
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (!r && s->cut) {
    s->broken = true;
    return hl_fail(HL_ERR_CANCELLED, "store: postgresql: %s: cancelled while waiting for the "
                   "server (connection dropped; a write may or may not have been stored: the "
                   "next call reconnects, a stale version gets a conflict)", what);
  }
  if (!r && s->timed_out) {
    s->broken = true;
    return hl_fail(HL_ERR_NETWORK, "store: postgresql: %s: timed out: the server sent nothing "
                   "for %d s (connection dropped; a write may or may not have been stored: "
                   "the next call reconnects, a stale version gets a conflict)", what,
                   s->timed_out / 1000);
  }
  /* Errors libpq makes itself (the server went away) carry no SQLSTATE. */
  if (PQstatus(s->conn) != CONNECTION_OK || !state) {
    s->broken = true;
    return hl_fail(HL_ERR_NETWORK, "store: postgresql: %s: connection lost: %s", what, clean);
  }
  hl_status st = HL_ERR_IO;
  if (state && !strncmp(state, "23505", 5)) st = HL_ERR_CONFLICT; /* unique_violation */
  if (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))) st = HL_ERR_NETWORK;
  return hl_fail(st, "store: postgresql: %s: %s", what, clean);
}

/* Wait until the socket is ready for `events`, at most idle_ms: 1 ready,
 * 0 timed out, -1 failed or cut (s->cut). */
static int pg_poll(pg_store *s, short events, int idle_ms) {
  int fd = PQsocket(s->conn);
  bool cut = false;
  int n = fd < 0 ? -1 : hl__store_wait(fd, events, &s->wake, idle_ms, &cut);
  if (cut) s->cut = true;
  return n;
}

static void pg_interrupt(void *impl, int64_t cut_at) {
  hl__store_wake_set(&((pg_store *)impl)->wake, cut_at);
}

/* Send the statement just queued (`sent`: what PQsend*() gave), waiting
 * at most idle_ms for each piece. False on a lost connection or a
 * timeout (s->timed_out set): then the connection is marked broken, as
 * its protocol state is unknown. */
static bool pg_send(pg_store *s, int sent, int idle_ms) {
  s->timed_out = 0;
  s->cut = false;
  int f = 1, ready = 1;
  if (sent) {
    /* libpq's order: until flushed, wait for either way; read what came */
    while ((f = PQflush(s->conn)) == 1)
      if ((ready = pg_poll(s, POLLOUT | POLLIN, idle_ms)) <= 0 || !PQconsumeInput(s->conn)) break;
    if (f == 0) return true;
  }
  if (ready == 0) s->timed_out = idle_ms;
  s->broken = true;
  return false;
}

/* The next result of the statement sent, waiting at most idle_ms for each
 * piece of it; NULL after the last one, or (*lost set, the connection
 * marked broken, s->timed_out set on a timeout) when the connection was
 * lost or the server sent nothing in time. */
static PGresult *pg_next(pg_store *s, int idle_ms, bool *lost) {
  int ready = 1;
  while (PQisBusy(s->conn))
    if ((ready = pg_poll(s, POLLIN, idle_ms)) <= 0 || !PQconsumeInput(s->conn)) {
      if (ready == 0) s->timed_out = idle_ms;
      s->broken = *lost = true;
      return NULL;
    }
  return PQgetResult(s->conn);
}

/* The answer to the statement just queued (`sent`: what PQsend*() gave),
 * as pg_send() and pg_next() get it: the last result, or the first error
 * of a multi-statement string, as PQexec() gives. NULL on a lost
 * connection or a timeout (s->timed_out set). */
static PGresult *pg_await(pg_store *s, int sent, int idle_ms) {
  PGresult *keep = NULL, *r;
  bool lost = !pg_send(s, sent, idle_ms);
  while (!lost && (r = pg_next(s, idle_ms, &lost))) {
    if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
      PQclear(r);
    } else {
      PQclear(keep);
      keep = r;
    }
  }
  if (!lost) return keep;
  PQclear(keep);
  return NULL;
}

/* One statement of the migration (its time limit). */
static hl_status pg_exec(pg_store *s, const char *sql, const char *what) {
  PGresult *r = pg_await(s, PQsendQuery(s->conn, sql), HL_PG_MIGRATE_IDLE_MS);
  hl_status st = HL_OK;
  ExecStatusType es = PQresultStatus(r);
  if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) st = pg_fail(s, r, what);
  PQclear(r);
  return st;
}

/* The schema version the database records, 0 when it has none, read
 * without writing anything; HL_ERR_UNSUPPORTED if it is newer than ours. */
static hl_status pg_schema_version(pg_store *s, int *version) {
  *version = 0;
  PGresult *r = pg_await(s, PQsendQuery(s->conn, "SELECT to_regclass('hl_schema') IS NOT NULL"),
                         HL_PG_IDLE_MS);
  hl_status st = HL_OK;
  bool exists = false;
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) st = pg_fail(s, r, "schema version");
  else exists = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (st != HL_OK || !exists) return st;
  r = pg_await(s, PQsendQuery(s->conn, "SELECT COALESCE(MAX(version), 0) FROM hl_schema"),
               HL_PG_IDLE_MS);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) st = pg_fail(s, r, "schema version");
  else *version = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  if (st == HL_OK && *version > HL_PG_SCHEMA)
    st = hl_fail(HL_ERR_UNSUPPORTED,
                 "store: postgresql database has schema version %d, newer than this "
                 "hookline's (%d): refusing to use it (upgrade hookline)", *version, HL_PG_SCHEMA);
  return st;
}

/* Create or migrate the schema in one transaction under an advisory lock,
 * so that workers starting at once migrate exactly once. A database at
 * our version is only read (no lock, no DDL): so a store opens on a
 * read-only database or standby, and reads it. */
static hl_status pg_migrate(pg_store *s) {
  int version = 0;
  hl_status st = pg_schema_version(s, &version);
  if (st != HL_OK || version == HL_PG_SCHEMA) return st;
  if ((st = pg_exec(s, "BEGIN", "begin migration")) != HL_OK) return st;
  st = pg_exec(s, "SELECT pg_advisory_xact_lock(" HL_PG_MIGRATION_LOCK ")", "migration lock");
  if (st == HL_OK)
    st = pg_exec(s, "CREATE TABLE IF NOT EXISTS hl_schema (version INTEGER NOT NULL)",
                 "schema table");
  if (st == HL_OK) st = pg_schema_version(s, &version); /* again: under the lock */
  for (int v = version + 1; st == HL_OK && v <= HL_PG_SCHEMA; v++) {
    st = pg_exec(s, hl_pg_migrations[v - 1], "migration");
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM hl_schema; INSERT INTO hl_schema VALUES (%d)", v);
    if (st == HL_OK) st = pg_exec(s, sql, "record schema version");
  }
  if (st != HL_OK) {
    char keep[1024];
    snprintf(keep, sizeof keep, "%s", hl_last_error());
    if (!s->broken) PQclear(pg_await(s, PQsendQuery(s->conn, "ROLLBACK"), HL_PG_IDLE_MS));
    return hl_fail(st, "%s", keep);
  }
  return pg_exec(s, "COMMIT", "commit migration");
}

static hl_status pg_prepare(pg_store *s) {
  for (int i = 0; i < P_COUNT; i++) {
    PGresult *r = pg_await(s, PQsendPrepare(s->conn, hl_pg_sql[i].name, hl_pg_sql[i].sql,
                                            hl_pg_sql[i].nparams, NULL), HL_PG_IDLE_MS);
    hl_status st = PQresultStatus(r) == PGRES_COMMAND_OK ? HL_OK : pg_fail(s, r, "prepare");
    PQclear(r);
    if (st != HL_OK) return st;
  }
  s->prepared = true;
  return HL_OK;
}

/* Drive the connect or reset just started on s->conn (`started`: what
 * PQconnectStartParams or PQresetStart gave; `step`: PQconnectPoll or
 * PQresetPoll) to its end, each wait through the cut's wake, all of it
 * within s->connect_ms (libpq's own limit holds only for its blocking
 * calls): a server that answers no SYN, or accepts and says nothing (its
 * postmaster stopped), must not hold a cancelled run's reconnect for the
 * connect timeout. */
static hl_status pg_connected(pg_store *s, int started,
                              PostgresPollingStatusType (*step)(PGconn *), const char *what) {
  PostgresPollingStatusType ps = started ? PGRES_POLLING_WRITING : PGRES_POLLING_FAILED;
  int64_t deadline = s->connect_ms ? hl__store_now_ms() + s->connect_ms : 0;
  int n = 1;
  s->cut = false;
  while (ps == PGRES_POLLING_READING || ps == PGRES_POLLING_WRITING) {
    int64_t left = deadline ? deadline - hl__store_now_ms() : -1;
    if (deadline && left <= 0) n = 0;
    else n = pg_poll(s, ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, (int)left);
    if (n <= 0) break;
    ps = step(s->conn);
  }
  if (ps == PGRES_POLLING_OK) return HL_OK;
  s->broken = true;
  if (s->cut)
    return hl_fail(HL_ERR_CANCELLED, "store: postgresql: %s: cancelled while connecting",
                   what);
  if (n == 0)
    return hl_fail(HL_ERR_NETWORK, "store: postgresql: %s: connection timeout expired (the "
                   "server did not complete the connection in %d s)", what, s->connect_ms / 1000);
  char msg[600];
  snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->conn));
  for (char *c = msg; *c; c++) /* libpq's lines ("...\n\tIs the server running"): one line */
    if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
  size_t len = strlen(msg);
  while (len && msg[len - 1] == ' ') msg[--len] = '\0';
  return hl_fail(HL_ERR_NETWORK, "store: postgresql: %s: %s", what, msg[0] ? msg : "failed");
}

/* Before each call: reconnect if the connection was lost, also while it
 * sat idle (a server restarted since the last call: its backend said
 * "terminating connection" and closed the socket, which reads as
 * end-of-file after that message, and PQconsumeInput() turns into
 * CONNECTION_BAD), so that the first call after a restart works instead
 * of failing. A few reads at most: a server cannot keep us here. */
static hl_status pg_ready(pg_store *s) {
  for (int i = 0; i < 4 && !s->broken && pg_poll(s, POLLIN, 0) > 0; i++)
    if (!PQconsumeInput(s->conn)) s->broken = true;
  if (s->broken || PQstatus(s->conn) != CONNECTION_OK) {
    s->prepared = false;
    hl_status st = pg_connected(s, PQresetStart(s->conn), PQresetPoll, "reconnect");
    s->timed_out = 0;
    if (st != HL_OK) return st;
    if (PQsetnonblocking(s->conn, 1) != 0) return pg_fail(s, NULL, "reconnect");
    s->broken = false;
  }
  if (!s->prepared) {
    /* a reset connection lost its prepared statements: drop any survivors */
    PQclear(pg_await(s, PQsendQuery(s->conn, "DEALLOCATE ALL"), HL_PG_IDLE_MS));
    if (s->broken) return pg_fail(s, NULL, "reconnect");
    memset(s->group_ready, 0, sizeof s->group_ready);
    return pg_prepare(s);
  }
  return HL_OK;
}

/* PostgreSQL's text holds UTF-8 only: other bytes are refused by the
 * server with "invalid byte sequence ... portal parameter $3", which names
 * no field; checked here instead, naming it. */
static hl_status pg_utf8(const char *what, const char *s, size_t len) {
  size_t at = hl__utf8_invalid_at(s, len);
  if (at == len) return HL_OK;
  return hl_fail(HL_ERR_INVALID, "store: postgresql: %s is not valid UTF-8 (byte %zu is 0x%02x): "
                 "PostgreSQL text holds UTF-8 only", what, at, (unsigned)(unsigned char)s[at]);
}

static hl_status pg_key_utf8(const char *app, const char *user, const char *id) {
  hl_status st = pg_utf8("the app name", app, strlen(app));
  if (st == HL_OK) st = pg_utf8("the user id", user, strlen(user));
  if (st == HL_OK && id) st = pg_utf8("the session id", id, strlen(id));
  return st;
}

static void pg_close(void *impl) {
  pg_store *s = impl;
  if (!s) return;
  PQfinish(s->conn);
  hl__store_wake_close(&s->wake);
  free(s);
}

static void pg_notice(void *arg, const char *message) {
  (void)arg;
  (void)message; /* "relation already exists, skipping" and the like */
}

/* Without a limit, libpq waits for a server that accepted the connection
 * but never answers as long as the kernel keeps the socket: a worker would
 * hang in hl_store_open() (or a reconnect) for good. */
#define HL_PG_CONNECT_TIMEOUT "10"

/* The URL's connection, started (pg_connected() finishes it), with
 * connect_timeout HL_PG_CONNECT_TIMEOUT seconds unless the URL or
 * PGCONNECT_TIMEOUT sets one (a URL without it is the common case:
 * "postgresql://app@db/app"). */
static PGconn *pg_connect_start(const char *url) {
  bool has = strstr(url, "connect_timeout=") != NULL || getenv("PGCONNECT_TIMEOUT") != NULL;
  const char *keys[3] = {"dbname", has ? NULL : "connect_timeout", NULL};
  const char *vals[3] = {url, has ? NULL : HL_PG_CONNECT_TIMEOUT, NULL};
  return PQconnectStartParams(keys, vals, 1); /* 1: dbname is the whole URL, expanded */
}

/* The connection's connect_timeout in ms (0: none), as libpq reads it:
 * at least 2 s. */
static int pg_connect_ms(PGconn *conn) {
  PQconninfoOption *opts = PQconninfo(conn);
  int secs = atoi(HL_PG_CONNECT_TIMEOUT);
  for (PQconninfoOption *o = opts; o && o->keyword; o++)
    if (!strcmp(o->keyword, "connect_timeout")) secs = o->val ? atoi(o->val) : 0;
  PQconninfoFree(opts);
  return secs <= 0 ? 0 : (secs < 2 ? 2 : secs) * 1000;
}

hl_status hl__store_pg_open(const char *url, void **impl) {
  pg_store *s = calloc(1, sizeof *s);
  if (!s) return hl__oom();
  if (hl__store_wake_new("postgresql", &s->wake) != HL_OK) {
    free(s);
    return hl_last_status();
  }
  s->conn = pg_connect_start(url);
  if (!s->conn) {
    pg_close(s);
    return hl_fail(HL_ERR_NOMEM, "store: postgresql: out of memory");
  }
  s->connect_ms = pg_connect_ms(s->conn);
  hl_status st = pg_connected(s, PQstatus(s->conn) != CONNECTION_BAD, PQconnectPoll,
                              "cannot connect");
  if (st == HL_OK && PQsetnonblocking(s->conn, 1) != 0)
    st = hl_fail(HL_ERR_NETWORK, "store: postgresql: cannot make the connection non-blocking");
  if (st == HL_OK) PQsetNoticeProcessor(s->conn, pg_notice, NULL);
  if (st == HL_OK) st = pg_migrate(s);
  if (st == HL_OK) st = pg_prepare(s);
  if (st != HL_OK) {
    pg_close(s);
    return st;
  }
  *impl = s;
  return HL_OK;
}

/* The statement for a group of `n` events, a new session's (`create`) or
 * one on top; its name into `name` (32 bytes). Prepared on first use. */
static hl_status pg_group_statement(pg_store *s, size_t n, bool create, char *name) {
  unsigned kind = create ? HL_PG_GROUP_CREATE : HL_PG_GROUP_BUMP;
  snprintf(name, 32, "hl_%s_n%zu", create ? "create" : "bump", n);
  if (s->group_ready[n] & kind) return HL_OK;
  static const char *const head[2] = {
    "WITH s AS (UPDATE hl_sessions SET version = version + $8, updated = $4,"
    " title = COALESCE(title, $5), bytes = bytes + $6 WHERE app = $1 AND user_id = $2"
    " AND id = $3 AND version = $7 RETURNING version)"
    " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3,"
    " $7::bigint + e.i, e.data FROM s, unnest(ARRAY[",
    "WITH s AS (INSERT INTO hl_sessions (app, user_id, id, version, created, updated, title,"
    " bytes) VALUES ($1, $2, $3, $7, $4, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING version)"
    " INSERT INTO hl_events (app, user_id, id, version, data) SELECT $1, $2, $3, e.i, e.data"
    " FROM s, unnest(ARRAY["};
  static const char tail[] = "]) WITH ORDINALITY AS e(data, i) RETURNING version";
  size_t first = create ? 8 : 9, len = strlen(head[create]);
  char *sql = malloc(len + n * 16 + sizeof tail), *p = sql;
  if (!sql) return hl__oom();
  memcpy(p, head[create], len);
  p += len;
  for (size_t i = 0; i < n; i++) p += sprintf(p, "%s$%zu::text", i ? ", " : "", first + i);
  memcpy(p, tail, sizeof tail);
  PGresult *r = pg_await(s, PQsendPrepare(s->conn, name, sql, (int)(first - 1 + n), NULL),
                         HL_PG_IDLE_MS);
  free(sql);
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  hl_status st = HL_OK;
  /* 42P05: prepared already (by this connection, before a lost reply) */
  if (PQresultStatus(r) != PGRES_COMMAND_OK && !(state && !strcmp(state, "42P05")))
    st = pg_fail(s, r, "prepare");
  PQclear(r);
  if (st == HL_OK) s->group_ready[n] |= (unsigned char)kind;
  return st;
}

static hl_status pg_append(void *impl, const hl__skey *k, const hl__sappend *a, int64_t *nv) {
  pg_store *s = impl;
  hl_status st = pg_key_utf8(k->app, k->user, k->id);
  for (size_t i = 0; st == HL_OK && i < a->n; i++) {
    char what[48];
    snprintf(what, sizeof what, "event %zu of the append", i + 1);
    st = pg_utf8(what, a->data[i], a->len[i]);
  }
  if (st == HL_OK) st = pg_ready(s);
  if (st != HL_OK) return st;
  char now[40], bytes[24], expected[24], count[24], name[32];
  hl__store_fmt_time(now, a->now);
  hl__store_fmt_i64(bytes, (int64_t)a->bytes);
  hl__store_fmt_i64(expected, a->expected);
  hl__store_fmt_i64(count, (int64_t)a->n);
  bool create = a->expected == 0, group = a->n > 1;
  const char *statement = hl_pg_sql[create ? P_CREATE : P_BUMP].name;
  if (group) {
    st = pg_group_statement(s, a->n, create, name);
    if (st != HL_OK) return st;
    statement = name;
  }
  /* one event: $7 the event ($8 the version seen); a group: see above */
  size_t first = group ? (create ? 7 : 8) : 6, nparams = first + a->n + (!group && !create);
  const char *stack_vals[9 + 8];
  int stack_lens[9 + 8], stack_formats[9 + 8];
  bool heap = nparams > 9 + 8;
  const char **vals = heap ? calloc(nparams, sizeof *vals) : stack_vals;
  int *lens = heap ? calloc(nparams, sizeof *lens) : stack_lens;
  int *formats = heap ? calloc(nparams, sizeof *formats) : stack_formats;
  if (!vals || !lens || !formats) {
    st = hl__oom();
    goto done;
  }
  const char *fixed[8] = {k->app, k->user, k->id, now, a->title, bytes,
                          group ? (create ? count : expected) : NULL, count};
  for (size_t i = 0; i < first; i++) {
    vals[i] = fixed[i];
    lens[i] = formats[i] = 0;
  }
  for (size_t i = 0; i < a->n; i++) { /* binary text: the bytes as they are */
    vals[first + i] = a->data[i];
    lens[first + i] = (int)a->len[i];
    formats[first + i] = 1;
  }
  if (!group && !create) {
    vals[7] = expected;
    lens[7] = formats[7] = 0;
  }
  PGresult *r = pg_await(s, PQsendQueryPrepared(s->conn, statement, (int)nparams, vals, lens,
                                                formats, 0), HL_PG_IDLE_MS);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) st = pg_fail(s, r, "append");
  else if (PQntuples(r) == 0)
    st = hl_fail(HL_ERR_CONFLICT, "store: session \"%.200s\" is past version %lld: another "
                 "writer appended first", k->id, (long long)a->expected);
  else if (PQntuples(r) != (int)a->n)
    st = hl_fail(HL_ERR_IO, "store: postgresql: append of %zu events stored %d", a->n,
                 PQntuples(r));
  else
    *nv = a->expected + (int64_t)a->n;
  PQclear(r);
done:
  if (heap) {
    free(vals);
    free(lens);
    free(formats);
  }
  return st;
}

static hl_status pg_load(void *impl, const hl__skey *k, size_t max_bytes, hl__srow_fn row,
                         void *ud, int64_t *version) {
  pg_store *s = impl;
  hl_status st = pg_key_utf8(k->app, k->user, k->id);
  if (st == HL_OK) st = pg_ready(s);
  if (st != HL_OK) return st;
  char cap[24];
  hl__store_fmt_i64(cap, (int64_t)max_bytes);
  const char *vals[4] = {k->app, k->user, k->id, cap};
  int sent = PQsendQueryPrepared(s->conn, hl_pg_sql[P_LOAD].name, 4, vals, NULL, NULL, 0);
  /* Row by row: libpq holds one row at a time instead of the whole log,
   * which the decoder copies anyway. (Refused only when called at the
   * wrong moment; the rows would then come in one result, still bounded
   * by the limit.) */
  if (sent) (void)PQsetSingleRowMode(s->conn);
  bool lost = !pg_send(s, sent, HL_PG_IDLE_MS), found = false, go = true;
  PGresult *r, *err = NULL;
  /* every result is read, also after the decoder stopped (the rows left
   * are small: at most one past the limit, its text withheld), so that
   * the connection is ready for the next call */
  while (!lost && (r = pg_next(s, HL_PG_IDLE_MS, &lost))) {
    ExecStatusType es = PQresultStatus(r);
    bool rows = es == PGRES_SINGLE_TUPLE || es == PGRES_TUPLES_OK; /* the last: none */
    for (int i = 0; rows && i < PQntuples(r); i++) {
      found = true;
      *version = strtoll(PQgetvalue(r, i, 0), NULL, 10);
      if (!go || PQgetisnull(r, i, 1)) continue; /* a session without events */
      bool withheld = PQgetisnull(r, i, 2);
      go = row(ud, strtoll(PQgetvalue(r, i, 1), NULL, 10), withheld ? NULL : PQgetvalue(r, i, 2),
               withheld ? (size_t)strtoull(PQgetvalue(r, i, 3), NULL, 10)
                        : (size_t)PQgetlength(r, i, 2));
    }
    if (!rows && !err) err = r;
    else PQclear(r);
  }
  if (lost || err) {
    st = pg_fail(s, lost ? NULL : err, "load");
    PQclear(err);
    return st;
  }
  if (!found) st = hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  return st;
}

static hl_status pg_list(void *impl, const char *app, const char *user, cJSON *out) {
  pg_store *s = impl;
  hl_status st = pg_key_utf8(app, user, NULL);
  if (st == HL_OK) st = pg_ready(s);
  if (st != HL_OK) return st;
  const char *vals[2] = {app, user};
  PGresult *r = pg_await(s, PQsendQueryPrepared(s->conn, hl_pg_sql[P_LIST].name, 2, vals, NULL,
                                                NULL, 0), HL_PG_IDLE_MS);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    st = pg_fail(s, r, "list");
    PQclear(r);
    return st;
  }
  for (int i = 0; st == HL_OK && i < PQntuples(r); i++)
    if (!hl__store_list_item(out, PQgetvalue(r, i, 0), strtoll(PQgetvalue(r, i, 1), NULL, 10),
                             strtod(PQgetvalue(r, i, 2), NULL), strtod(PQgetvalue(r, i, 3), NULL),
                             PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
                             strtoll(PQgetvalue(r, i, 5), NULL, 10)))
      st = hl__oom();
  PQclear(r);
  return st;
}

static hl_status pg_del(void *impl, const hl__skey *k) {
  pg_store *s = impl;
  hl_status st = pg_key_utf8(k->app, k->user, k->id);
  if (st == HL_OK) st = pg_ready(s);
  if (st != HL_OK) return st;
  const char *vals[3] = {k->app, k->user, k->id};
  PGresult *r = pg_await(s, PQsendQueryPrepared(s->conn, hl_pg_sql[P_DEL].name, 3, vals, NULL,
                                                NULL, 0), HL_PG_IDLE_MS);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) st = pg_fail(s, r, "delete");
  else if (PQntuples(r) == 0) st = hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  PQclear(r);
  return st;
}

const hl__store_ops hl__store_pg_ops = {
  .name = "postgresql", .append = pg_append, .load = pg_load, .list = pg_list,
  .del = pg_del, .close = pg_close, .interrupt = pg_interrupt, .has_ttl = false,
};
