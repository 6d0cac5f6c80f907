/*
 * sqlite.c - the "sqlite:PATH" store backend: one database file, shared by
 * the processes of one host. WAL journal (readers do not block the
 * writer), a busy timeout (writers of other processes wait their turn
 * instead of failing), prepared statements only (ids are bound, never
 * spliced, and prepared once per connection), each append one IMMEDIATE
 * transaction: the version check and the group's rows are written
 * together or not at all, so a process killed at any point leaves the log
 * as it was before or after the append. One append per turn boundary is
 * one commit: one WAL write, no fsync (synchronous=NORMAL; see store.h).
 *
 * Schema 4: the log is the events table itself. An event's key is
 * sid * 2^32 + version (sid: the session's row number), so one rowid
 * b-tree holds every log in order, a session's events side by side, and
 * its primary key is the optimistic-concurrency check: of two writers
 * that saw the same version, the second one's first row exists already
 * and the insert fails. No version row is rewritten per append, so an
 * append dirties the leaf its rows go to and nothing else (a new
 * session also its sessions row); a rowid table keeps rows up to ~4 KB
 * on their leaf, where a WITHOUT ROWID one spills rows over ~1 KB to
 * overflow pages.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "hookline/store.h"
#include "store/store_internal.h"

/* Migration N takes a database from schema version N-1 to N. Append only:
 * a released migration is never edited. */
static const char *const hl_sqlite_migrations[] = {
  /* 1: sessions and their logs */
  "CREATE TABLE hl_sessions (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,"
  " updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (app, user_id, id));"
  "CREATE TABLE hl_events (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, user_id, id, version));",
  /* 2: title and size for listings, an index for them */
  "ALTER TABLE hl_sessions ADD COLUMN title TEXT;"
  "ALTER TABLE hl_sessions ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;"
  "UPDATE hl_sessions SET bytes = (SELECT COALESCE(SUM(LENGTH(CAST(data AS BLOB))), 0)"
  " FROM hl_events e WHERE e.app = hl_sessions.app AND e.user_id = hl_sessions.user_id"
  " AND e.id = hl_sessions.id);"
  "CREATE INDEX hl_sessions_by_user ON hl_sessions (app, user_id, updated);",
  /* 3: fewer pages written per append. Both tables clustered on their keys
   * (WITHOUT ROWID: one b-tree each instead of a table and its key index),
   * and no index on the time of the last write, which every append moved:
   * a listing reads one user's sessions by key and sorts them. An append
   * now changes two pages (its session's row, its event) instead of five. */
  "CREATE TABLE hl_sessions3 (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,"
  " updated DOUBLE PRECISION NOT NULL, title TEXT, bytes BIGINT NOT NULL DEFAULT 0,"
  " PRIMARY KEY (app, user_id, id)) WITHOUT ROWID;"
  "INSERT INTO hl_sessions3 SELECT app, user_id, id, version, created, updated, title, bytes"
  " FROM hl_sessions;"
  "DROP TABLE hl_sessions;"
  "ALTER TABLE hl_sessions3 RENAME TO hl_sessions;"
  "CREATE TABLE hl_events3 (app TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL,"
  " version BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (app, user_id, id, version))"
  " WITHOUT ROWID;"
  "INSERT INTO hl_events3 SELECT app, user_id, id, version, data FROM hl_events;"
  "DROP TABLE hl_events;"
  "ALTER TABLE hl_events3 RENAME TO hl_events;",
  /* 4: the events table is the log (see the top of this file): one row
   * written per event and nothing else; the session's version, last
   * write time and size are its last event's (number, time, running
   * total of the log's bytes), read at list time. Migrated events carry
   * their session's last write time. */
  "CREATE TABLE hl_sessions4 (sid INTEGER PRIMARY KEY, app TEXT NOT NULL,"
  " user_id TEXT NOT NULL, id TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, title TEXT,"
  " UNIQUE (app, user_id, id));"
  "INSERT INTO hl_sessions4 (app, user_id, id, created, title)"
  " SELECT app, user_id, id, created, title FROM hl_sessions ORDER BY app, user_id, id;"
  "CREATE TABLE hl_events4 (k INTEGER PRIMARY KEY, time DOUBLE PRECISION NOT NULL,"
  " bytes BIGINT NOT NULL, data TEXT NOT NULL);"
  "INSERT INTO hl_events4 (k, time, bytes, data)"
  " SELECT n.sid * 4294967296 + e.version, s.updated,"
  " SUM(LENGTH(CAST(e.data AS BLOB))) OVER (PARTITION BY n.sid ORDER BY e.version), e.data"
  " FROM hl_events e JOIN hl_sessions s ON s.app = e.app AND s.user_id = e.user_id AND s.id = e.id"
  " JOIN hl_sessions4 n ON n.app = e.app AND n.user_id = e.user_id AND n.id = e.id"
  " WHERE e.version BETWEEN 1 AND 4294967295;"
  "DROP TABLE hl_events;"
  "DROP TABLE hl_sessions;"
  "ALTER TABLE hl_sessions4 RENAME TO hl_sessions;"
  "ALTER TABLE hl_events4 RENAME TO hl_events;",
};
#define HL_SQLITE_SCHEMA ((int)(sizeof hl_sqlite_migrations / sizeof *hl_sqlite_migrations))
_Static_assert(HL_SQLITE_SCHEMA == HL_STORE_SCHEMA_VERSION, "one migration per schema version");

/* An event's key: sid * 2^32 + version (versions 1 .. 2^32 - 1). */
#define SQ_VERSION_MAX 4294967295LL
#define SQ_KEY(sid, version) ((sid) * (SQ_VERSION_MAX + 1) + (version))

enum { Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_CREATE, Q_FIND, Q_TITLE, Q_EVENT, Q_LOAD, Q_LIST, Q_SID,
       Q_DEL_EV, Q_DEL_S, Q_COUNT };
static const char *const hl_sqlite_sql[Q_COUNT] = {
  [Q_BEGIN] = "BEGIN IMMEDIATE",
  [Q_COMMIT] = "COMMIT",
  [Q_ROLLBACK] = "ROLLBACK",
  [Q_CREATE] = "INSERT OR IGNORE INTO hl_sessions (app, user_id, id, created, title)"
               " VALUES (?1, ?2, ?3, ?4, ?5)",
  /* the session's number, its last event's key and the log's size */
  [Q_FIND] = "SELECT s.sid, e.k, e.bytes FROM hl_sessions s LEFT JOIN hl_events e"
             " ON e.k = (SELECT MAX(k) FROM hl_events WHERE k BETWEEN s.sid * 4294967296 + 1"
             " AND s.sid * 4294967296 + 4294967295)"
             " WHERE s.app = ?1 AND s.user_id = ?2 AND s.id = ?3",
  /* a no-op read once the session has a title: no page written */
  [Q_TITLE] = "UPDATE hl_sessions SET title = ?2 WHERE sid = ?1 AND title IS NULL",
  [Q_EVENT] = "INSERT INTO hl_events (k, time, bytes, data) VALUES (?1, ?2, ?3, ?4)",
  /* each event's version and its text, or, for the event that takes the
   * log past the load limit ?4, the log's size through it (an integer
   * instead of its text): the size comes from a column of its own, as
   * SQLite's length() of a TEXT value reads all of it, so that an event
   * past the limit is never read */
  [Q_LOAD] = "SELECT e.k - s.sid * 4294967296, CASE WHEN e.bytes <= ?4 THEN e.data ELSE e.bytes END"
             " FROM hl_sessions s LEFT JOIN hl_events e"
             " ON e.k BETWEEN s.sid * 4294967296 + 1 AND s.sid * 4294967296 + 4294967295"
             " WHERE s.app = ?1 AND s.user_id = ?2 AND s.id = ?3 ORDER BY e.k",
  [Q_LIST] = "SELECT s.id, COALESCE(e.k - s.sid * 4294967296, 0), s.created,"
             " COALESCE(e.time, s.created) AS updated, s.title, COALESCE(e.bytes, 0)"
             " FROM hl_sessions s LEFT JOIN hl_events e ON e.k = (SELECT MAX(k) FROM hl_events"
             " WHERE k BETWEEN s.sid * 4294967296 + 1 AND s.sid * 4294967296 + 4294967295)"
             " WHERE s.app = ?1 AND s.user_id = ?2 ORDER BY updated DESC, s.id",
  [Q_SID] = "SELECT sid FROM hl_sessions WHERE app = ?1 AND user_id = ?2 AND id = ?3",
  [Q_DEL_EV] = "DELETE FROM hl_events WHERE k BETWEEN ?1 * 4294967296 + 1"
               " AND ?1 * 4294967296 + 4294967295",
  [Q_DEL_S] = "DELETE FROM hl_sessions WHERE sid = ?1",
};

/* How long a call waits for another connection's lock (store.h). */
#define HL_SQ_BUSY_MS 5000
#define HL_SQ_BUSY_TEXT "5 s"

typedef struct sq_store {
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];
  char path[256];
  int sys_errno;      /* of the last failed step */
  bool shm_refused;   /* the schema's read failed: no -shm (sq_schema_version) */
  atomic_bool cut;    /* sq_interrupt(): the call in progress is to stop */
  struct timespec busy_since; /* sq_busy(): when the lock wait began */
} sq_store;

/* The status for an SQLite failure: a full or read-only disk is I/O.
 * SQLite says "disk I/O error" for a write the disk refused; the system's
 * errno tells a person why. */
static hl_status sq_fail(sq_store *s, const char *what) {
  int rc = sqlite3_extended_errcode(s->db);
  hl_status st = (rc & 0xff) == SQLITE_NOMEM ? HL_ERR_NOMEM : HL_ERR_IO;
  int sys = s->sys_errno ? s->sys_errno : sqlite3_system_errno(s->db);
  s->sys_errno = 0;
  const char *why = "";
  if ((rc & 0xff) == SQLITE_FULL || sys == ENOSPC) why = " (disk full: no space left on device)";
  else if (sys == EFBIG) why = " (disk full: the file reached a size limit or quota)";
  else if (sys == EDQUOT) why = " (disk full: quota exceeded)";
  else if (sys == EROFS || (rc & 0xff) == SQLITE_READONLY) why = " (read-only)";
  else if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC || rc == SQLITE_IOERR_TRUNCATE)
    why = " (the disk refused a write: full, over quota or at a size limit?)";
  bool waited = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
  if (atomic_load(&s->cut) && (waited || (rc & 0xff) == SQLITE_INTERRUPT))
    return hl_fail(HL_ERR_CANCELLED, "store: sqlite %s: %s: cancelled (nothing written)", s->path,
                   what);
  /* another connection held the lock past the busy timeout: a time limit
   * (that writer may be stuck or stopped), not a failed disk */
  if (waited) {
    st = HL_ERR_TIMEOUT;
    why = " (another connection held the database for the whole " HL_SQ_BUSY_TEXT " busy timeout)";
  }
  return hl_fail(st, "store: sqlite %s: %s: %s%s", s->path, what, sqlite3_errmsg(s->db), why);
}

/* The busy timeout: SQLite's own (sqlite3_busy_timeout) sleeps through
 * it looking at nothing else; this one also stops when the call is cut
 * (sq_interrupt, also set as a cancelled run's call starts). Up to
 * HL_SQ_BUSY_MS, in sleeps of 1 to 10 ms. */
static int sq_busy(void *ud, int count) {
  sq_store *s = ud;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (count == 0) s->busy_since = now;
  long long waited_ms = (long long)(now.tv_sec - s->busy_since.tv_sec) * 1000 +
                        (now.tv_nsec - s->busy_since.tv_nsec) / 1000000;
  /* a cut lets the lock come free within its grace, as a network
   * backend's lets the server answer (hl__store_wait) */
  if ((atomic_load(&s->cut) && waited_ms >= HL_STORE_CUT_GRACE_MS) || waited_ms >= HL_SQ_BUSY_MS)
    return 0;
  struct timespec step = {0, (count < 10 ? count + 1 : 10) * 1000000L};
  nanosleep(&step, NULL);
  return 1;
}

/* A statement running stops at its next step (sqlite3_interrupt: an
 * interrupted transaction is rolled back), a lock wait at its next sleep. */
static void sq_interrupt(void *impl, int64_t cut_at) {
  sq_store *s = impl;
  atomic_store(&s->cut, cut_at != 0);
  if (cut_at) sqlite3_interrupt(s->db);
}

static hl_status sq_exec(sq_store *s, const char *sql, const char *what) {
  char *err = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &err) == SQLITE_OK) return HL_OK;
  hl_status st = hl_fail(HL_ERR_IO, "store: sqlite %s: %s: %s", s->path, what,
                         err ? err : sqlite3_errmsg(s->db));
  sqlite3_free(err);
  return st;
}

/* The schema version the file records, refused if newer than ours. */
static hl_status sq_schema_version(sq_store *s, int *version) {
  sqlite3_stmt *q = NULL;
  hl_status st = HL_OK;
  if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM hl_schema", -1, &q, NULL) != SQLITE_OK ||
      sqlite3_step(q) != SQLITE_ROW)
    st = sq_fail(s, "read schema version");
  else
    *version = sqlite3_column_int(q, 0);
  /* a read that fails for want of writing: a WAL file's -shm could not be
   * made (EROFS: cannot open; EACCES: read-only) (sq_reopen_immutable) */
  int rc = sqlite3_errcode(s->db) & 0xff;
  s->shm_refused = st != HL_OK && (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY);
  sqlite3_finalize(q);
  if (st == HL_OK && *version > HL_SQLITE_SCHEMA)
    st = hl_fail(HL_ERR_UNSUPPORTED,
                 "store: sqlite %s has schema version %d, newer than this hookline's (%d): "
                 "refusing to use it (upgrade hookline)", s->path, *version, HL_SQLITE_SCHEMA);
  return st;
}

/* A file SQLite opened read-only (no write permission, a read-only
 * mount): nothing to set up or migrate, only reads, so its schema must be
 * ours already. Appends then fail at their BEGIN IMMEDIATE (read-only). */
static hl_status sq_check_read_only(sq_store *s) {
  int version = 0;
  hl_status st = sq_schema_version(s, &version);
  if (st == HL_OK && version < HL_SQLITE_SCHEMA)
    st = hl_fail(HL_ERR_IO, "store: sqlite %s is read-only and has schema version %d, this "
                 "hookline's is %d: it cannot be migrated (open it writable once)", s->path,
                 version, HL_SQLITE_SCHEMA);
  return st;
}

/* Create or migrate the schema inside one IMMEDIATE transaction, so that
 * processes opening the same new file at once do it exactly once. */
static hl_status sq_migrate(sq_store *s) {
  hl_status st = sq_exec(s, "BEGIN IMMEDIATE", "begin migration");
  if (st != HL_OK) return st;
  st = sq_exec(s, "CREATE TABLE IF NOT EXISTS hl_schema (version INTEGER NOT NULL)",
               "schema table");
  int version = 0;
  if (st == HL_OK) st = sq_schema_version(s, &version);
  for (int v = version + 1; st == HL_OK && v <= HL_SQLITE_SCHEMA; v++) {
    st = sq_exec(s, hl_sqlite_migrations[v - 1], "migration");
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM hl_schema; INSERT INTO hl_schema VALUES (%d)", v);
    if (st == HL_OK) st = sq_exec(s, sql, "record schema version");
  }
  if (st != HL_OK) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
  }
  return sq_exec(s, "COMMIT", "commit migration");
}

/* Reopen the read-only file `path` immutable: SQLite reads a WAL file
 * only with its -shm (shared memory of the readers and the writer) and
 * creates it if missing, which a read-only directory refuses; immutable
 * takes no locks and needs no -shm. Only when there is none: no writer
 * has the file open in WAL mode (one would have made it), and nothing
 * can write it through this path. A process writing it through another
 * path (the directory mounted writable elsewhere) is not seen
 * consistently: a file opened read-only is meant to stay as it is. */
static hl_status sq_reopen_immutable(sq_store *s, const char *path) {
  size_t n = strlen(path);
  char *uri = malloc(3 * n + 32);
  if (!uri) return hl__oom();
  /* a URI: "file://" before an absolute path; '?', '#', '%' escaped */
  char *p = uri + sprintf(uri, "file:%s", path[0] == '/' ? "//" : "");
  for (const char *c = path; *c; c++)
    p += *c == '?' || *c == '#' || *c == '%' ? sprintf(p, "%%%02X", (unsigned char)*c)
                                             : (*p = *c, 1);
  strcpy(p, "?immutable=1");
  sqlite3_close(s->db);
  s->db = NULL;
  int rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                           SQLITE_OPEN_FULLMUTEX, NULL);
  free(uri);
  if (rc != SQLITE_OK)
    return s->db ? sq_fail(s, "open read-only") : hl_fail(HL_ERR_NOMEM, "store: sqlite: out of memory");
  return HL_OK;
}

static void sq_close(void *impl) {
  sq_store *s = impl;
  if (!s) return;
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->q[i]);
  sqlite3_close(s->db);
  free(s);
}

hl_status hl__store_sqlite_open(const char *path, void **impl) {
  if (!path || !path[0])
    return hl_fail(HL_ERR_INVALID, "hl_store_open: sqlite: needs a file path (sqlite:PATH)");
  sq_store *s = calloc(1, sizeof *s);
  if (!s) return hl__oom();
  snprintf(s->path, sizeof s->path, "%s", path);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                      SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
    hl_status st = s->db ? sq_fail(s, "open")
                         : hl_fail(HL_ERR_NOMEM, "store: sqlite: out of memory");
    sq_close(s);
    return st;
  }
  sqlite3_busy_handler(s->db, sq_busy, s);
  hl_status st = HL_OK;
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    st = sq_check_read_only(s);
    if (st != HL_OK && s->shm_refused) {
      st = sq_reopen_immutable(s, path);
      if (st == HL_OK) st = sq_check_read_only(s);
    }
  } else {
    st = sq_exec(s, "PRAGMA journal_mode=WAL", "enable WAL");
    if (st == HL_OK) st = sq_exec(s, "PRAGMA synchronous=NORMAL", "set synchronous");
    if (st == HL_OK) st = sq_migrate(s);
  }
  for (int i = 0; st == HL_OK && i < Q_COUNT; i++)
    if (sqlite3_prepare_v2(s->db, hl_sqlite_sql[i], -1, &s->q[i], NULL) != SQLITE_OK)
      st = sq_fail(s, "prepare");
  if (st != HL_OK) {
    sq_close(s);
    return st;
  }
  *impl = s;
  return HL_OK;
}

static void sq_bind_key(sqlite3_stmt *q, const hl__skey *k) {
  sqlite3_bind_text(q, 1, k->app, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, k->user, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 3, k->id, -1, SQLITE_STATIC);
}

/* Step a statement that returns no rows; reset it either way (keeping the
 * system errno of a failure for sq_fail: the reset clears it). */
static int sq_run(sq_store *s, sqlite3_stmt *q) {
  int rc = sqlite3_step(q);
  int err = errno; /* SQLite 3.40 does not always keep a failed write's errno */
  s->sys_errno = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0
                 : sqlite3_system_errno(s->db) ? sqlite3_system_errno(s->db) : err;
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return rc;
}

static hl_status sq_conflict(const hl__skey *k, int64_t expected) {
  return hl_fail(HL_ERR_CONFLICT, "store: session \"%.200s\" is not at version %lld: another "
                 "writer appended first", k->id, (long long)expected);
}

/* The appends's rows: the session's row if it is new, the title if the
 * session has none, then one row per event, each keyed by the session's
 * number and its version. Run inside the transaction. */
static hl_status sq_append_rows(sq_store *s, const hl__skey *k, const hl__sappend *a) {
  sqlite3_int64 sid = 0, bytes = 0;
  bool found = false, created = false;
  if (a->expected == 0) {
    sqlite3_stmt *q = s->q[Q_CREATE];
    sq_bind_key(q, k);
    sqlite3_bind_double(q, 4, a->now);
    if (a->title) sqlite3_bind_text(q, 5, a->title, -1, SQLITE_STATIC);
    if (sq_run(s, q) != SQLITE_DONE) return sq_fail(s, "append");
    if (sqlite3_changes(s->db) == 1) {
      sid = sqlite3_last_insert_rowid(s->db);
      found = created = true;
    }
  }
  if (!found) {
    /* The session's number, and whether its log ends at `expected`: its
     * last event is that one (reads only; the insert below checks again,
     * on the key). */
    sqlite3_stmt *q = s->q[Q_FIND];
    sq_bind_key(q, k);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      sid = sqlite3_column_int64(q, 0);
      bool empty = sqlite3_column_type(q, 1) == SQLITE_NULL;
      found = empty ? a->expected == 0 : sqlite3_column_int64(q, 1) == SQ_KEY(sid, a->expected);
      bytes = sqlite3_column_int64(q, 2);
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sq_fail(s, "append");
    if (!found) return sq_conflict(k, a->expected);
  }
  if (a->title && !created) {
    sqlite3_stmt *q = s->q[Q_TITLE];
    sqlite3_bind_int64(q, 1, sid);
    sqlite3_bind_text(q, 2, a->title, -1, SQLITE_STATIC);
    if (sq_run(s, q) != SQLITE_DONE) return sq_fail(s, "append");
  }
  sqlite3_stmt *q = s->q[Q_EVENT];
  for (size_t i = 0; i < a->n; i++) {
    int64_t v = a->expected + 1 + (int64_t)i;
    bytes += (sqlite3_int64)a->len[i];
    sqlite3_bind_int64(q, 1, SQ_KEY(sid, v));
    sqlite3_bind_double(q, 2, a->now);
    sqlite3_bind_int64(q, 3, bytes);
    sqlite3_bind_text(q, 4, a->data[i], (int)a->len[i], SQLITE_STATIC);
    int rc = sq_run(s, q);
    if (rc == SQLITE_CONSTRAINT) return sq_conflict(k, a->expected);
    if (rc != SQLITE_DONE) return sq_fail(s, "append");
  }
  return HL_OK;
}

static hl_status sq_append(void *impl, const hl__skey *k, const hl__sappend *a, int64_t *nv) {
  sq_store *s = impl;
  if (a->expected + (int64_t)a->n > SQ_VERSION_MAX)
    return hl_fail(HL_ERR_TOO_LARGE, "store: session \"%.200s\" would pass %lld events, the "
                   "most an SQLite log holds", k->id, (long long)SQ_VERSION_MAX);
  if (sq_run(s, s->q[Q_BEGIN]) != SQLITE_DONE) return sq_fail(s, "begin");
  hl_status st = sq_append_rows(s, k, a);
  if (st == HL_OK && sq_run(s, s->q[Q_COMMIT]) != SQLITE_DONE) st = sq_fail(s, "commit");
  if (st != HL_OK) {
    if (!sqlite3_get_autocommit(s->db)) sq_run(s, s->q[Q_ROLLBACK]);
    return st;
  }
  *nv = a->expected + (int64_t)a->n;
  return HL_OK;
}

/* The log is the session's events: its version is the last one's number
 * (the decoder reports a hole). The event that takes the log past the
 * load limit is withheld (its text never read: NULL, with its length
 * from the log's running size), and the row function stops there. */
static hl_status sq_load(void *impl, const hl__skey *k, size_t max_bytes, hl__srow_fn row,
                         void *ud, int64_t *version) {
  sq_store *s = impl;
  sqlite3_stmt *q = s->q[Q_LOAD];
  sq_bind_key(q, k);
  sqlite3_bind_int64(q, 4, (sqlite3_int64)max_bytes);
  bool found = false, go = true;
  size_t before = 0; /* the log's size through the previous event */
  int rc;
  while (go && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    found = true;
    if (sqlite3_column_type(q, 0) == SQLITE_NULL) continue; /* a session without events */
    *version = sqlite3_column_int64(q, 0);
    if (sqlite3_column_type(q, 1) == SQLITE_INTEGER) { /* withheld: its length */
      sqlite3_int64 through = sqlite3_column_int64(q, 1);
      go = row(ud, *version, NULL, through > (sqlite3_int64)before ? (size_t)through - before : 0);
      continue;
    }
    const char *data = (const char *)sqlite3_column_text(q, 1);
    size_t len = data ? (size_t)sqlite3_column_bytes(q, 1) : 0;
    go = row(ud, *version, data, len);
    before += len;
  }
  hl_status st = HL_OK;
  if (go && rc != SQLITE_DONE) st = sq_fail(s, "load");
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  if (st == HL_OK && !found)
    st = hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  return st;
}

static hl_status sq_list(void *impl, const char *app, const char *user, cJSON *out) {
  sq_store *s = impl;
  sqlite3_stmt *q = s->q[Q_LIST];
  sqlite3_bind_text(q, 1, app, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
  hl_status st = HL_OK;
  int rc;
  while (st == HL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(q, 0);
    const char *title = (const char *)sqlite3_column_text(q, 4);
    if (!hl__store_list_item(out, id ? id : "", sqlite3_column_int64(q, 1),
                             sqlite3_column_double(q, 2), sqlite3_column_double(q, 3), title,
                             sqlite3_column_int64(q, 5)))
      st = hl__oom();
  }
  if (st == HL_OK && rc != SQLITE_DONE) st = sq_fail(s, "list");
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return st;
}

static hl_status sq_del(void *impl, const hl__skey *k) {
  sq_store *s = impl;
  if (sq_run(s, s->q[Q_BEGIN]) != SQLITE_DONE) return sq_fail(s, "begin");
  sqlite3_stmt *q = s->q[Q_SID];
  sq_bind_key(q, k);
  int rc = sqlite3_step(q);
  sqlite3_int64 sid = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  hl_status st = HL_OK;
  if (rc == SQLITE_DONE) st = hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  else if (rc != SQLITE_ROW) st = sq_fail(s, "delete");
  for (int i = Q_DEL_EV; st == HL_OK && i <= Q_DEL_S; i++) {
    sqlite3_bind_int64(s->q[i], 1, sid);
    if (sq_run(s, s->q[i]) != SQLITE_DONE) st = sq_fail(s, "delete");
  }
  if (st == HL_OK && sq_run(s, s->q[Q_COMMIT]) != SQLITE_DONE) st = sq_fail(s, "commit");
  if (st != HL_OK && !sqlite3_get_autocommit(s->db)) sq_run(s, s->q[Q_ROLLBACK]);
  return st;
}

const hl__store_ops hl__store_sqlite_ops = {
  .name = "sqlite", .append = sq_append, .load = sq_load, .list = sq_list,
  .del = sq_del, .close = sq_close, .interrupt = sq_interrupt, .has_ttl = false,
};
