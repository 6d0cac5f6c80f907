/*
 * redis.c - the "redis://" store backend (hiredis), for many workers that
 * share one Redis.
 *
 * A session is two keys: a list holding its events (list index i is
 * version i + 1, so the version is the list's length) and a hash with its
 * metadata; a sorted set per app and user indexes the sessions by time of
 * last write. An append (one event or a group) is one Lua script
 * (EVALSHA, one round trip), which Redis runs atomically: compare the
 * list's length with the writer's version, push the events,
 * update the hash and the index, refresh the expiry. Keys are built from
 * length-prefixed parts ("hl:log:3:app4:user2:id"), so no id, however
 * odd, can make two sessions share a key; every argument travels
 * binary-safe (redisCommandArgv with lengths). A lost connection fails the
 * call with HL_ERR_NETWORK; the next call reconnects.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"
#include "store/store_internal.h"

/* Schema of the keys' layout; a Redis written by a newer one is refused. */
#define HL_REDIS_SCHEMA 1

/* KEYS: log, meta, index. ARGV: the writer's version, the time, the
 * session id, the title ('' none), the TTL (0 none), then the group's
 * events (one or more). */
static const char hl_redis_append_lua[] =
  "local n = redis.call('LLEN', KEYS[1])\n"
  "local v = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')\n"
  "if v ~= tonumber(ARGV[1]) then return -1 - v end\n"
  "if n ~= v then return redis.error_reply('HLTRUNCATED ' .. n .. ' events stored, the "
  "session records version ' .. v) end\n"
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
  /* the index outlives its longest-lived session; one without expiry keeps it */
  "  if indexed == 0 or (left >= 0 and left < ttl) then redis.call('EXPIRE', KEYS[3], ttl) end\n"
  "else redis.call('PERSIST', KEYS[1]) redis.call('PERSIST', KEYS[2])\n"
  "  redis.call('PERSIST', KEYS[3]) end\n"
  "return n + #ARGV - 5\n";

/* One consistent read of the version and the events. */
static const char hl_redis_load_lua[] =
  "local v = redis.call('HGET', KEYS[2], 'version')\n"
  "if not v then return false end\n"
  "return {v, redis.call('LRANGE', KEYS[1], 0, -1)}\n";

typedef struct rd_keys {
  char *log, *meta, *idx;
  size_t log_len, meta_len, idx_len;
} rd_keys;

typedef struct rd_store {
  redisContext *c;
  char *host, *password, *user;
  int port, db;
  char append_sha[48], load_sha[48];
  /* The keys of the session used last, and whose they are: a run appends
   * to one session again and again, and building keys cost a third of an
   * append's client time. */
  char *key_app, *key_user, *key_id;
  rd_keys keys;
  /* The reply budget (rd_budget_fns): hiredis's object functions, ours
   * wrapping them, and what the reply being read has taken so far. */
  redisReplyObjectFunctions *base_fns, fns;
  size_t reply_used;
  bool reply_over, line_over;
  /* rd_interrupt(): readable while the call in progress is to stop (a
   * stopped server answers nothing); `cut`: the last command stopped for it */
  hl__store_wake wake;
  bool cut;
} rd_store;

/* The most memory one reply may take (HL_ERR_TOO_LARGE past it). hiredis
 * allocates an array's element slots when it reads its header, and
 * ~50 bytes per element however small: a 12-byte "*2000000000\r\n" asks
 * for 16 GB, and a stream of ":1\r\n" costs 14 times its size. Each array
 * is charged for its slots and element objects when its header arrives,
 * each string for its bytes, and what hiredis buffers of a reply not yet
 * parsed is checked after every read (rd_pending_fits). The budget is
 * the store's largest load limit, HL_STORE_LOAD_MAX (store.h; Redis's own
 * largest value, proto-max-bulk-len): a load's reply is a session's whole
 * log, and its events' bytes are held to the store's load limit when
 * decoded. */
#define HL_REDIS_ELEMENT_COST (sizeof(redisReply) + sizeof(redisReply *))
/* The longest line (status, error, integer, length) one reply may have. */
#define HL_REDIS_LINE_MAX ((size_t)64 << 10)

static bool rd_charge(const redisReadTask *task, size_t bytes) {
  rd_store *s = task->privdata;
  if (s->reply_over || bytes > HL_STORE_LOAD_MAX - s->reply_used) {
    s->reply_over = true;
    return false; /* hiredis then fails the read as out of memory */
  }
  s->reply_used += bytes;
  return true;
}

static void *rd_create_array(const redisReadTask *task, int elements) {
  rd_store *s = task->privdata;
  size_t n = elements > 0 ? (size_t)elements : 0;
  if (n > HL_STORE_LOAD_MAX / HL_REDIS_ELEMENT_COST || !rd_charge(task, n * HL_REDIS_ELEMENT_COST)) {
    s->reply_over = true;
    return NULL;
  }
  return s->base_fns->createArray(task, elements);
}

static void *rd_create_string(const redisReadTask *task, char *str, size_t len) {
  rd_store *s = task->privdata;
  return rd_charge(task, len) ? s->base_fns->createString(task, str, len) : NULL;
}

static void *rd_create_integer(const redisReadTask *task, long long value) {
  return ((rd_store *)task->privdata)->base_fns->createInteger(task, value);
}

static void *rd_create_nil(const redisReadTask *task) {
  return ((rd_store *)task->privdata)->base_fns->createNil(task);
}

/* Put the budget's object functions on a new connection's reader. */
static void rd_budget_fns(rd_store *s) {
  s->base_fns = s->c->reader->fn;
  s->fns = (redisReplyObjectFunctions){rd_create_string, rd_create_array, rd_create_integer,
                                       rd_create_nil, s->base_fns->freeObject};
  s->c->reader->fn = &s->fns;
  s->c->reader->privdata = s;
}

static void rd_keys_free(rd_keys *k) {
  free(k->log);
  free(k->meta);
  free(k->idx);
  *k = (rd_keys){0};
}

static void rd_keys_forget(rd_store *s) {
  rd_keys_free(&s->keys);
  free(s->key_app);
  free(s->key_user);
  free(s->key_id);
  s->key_app = s->key_user = s->key_id = NULL;
}

/* How long a call waits for the server to take or send anything (every
 * wait is a poll beside the cut's wake: the socket is non-blocking). */
#define HL_REDIS_IDLE_S 10

static hl_status rd_fail_ctx(rd_store *s, const char *what) {
  const char *why = s->c ? s->c->errstr : "out of memory";
  if (s->cut)
    return hl_fail(HL_ERR_CANCELLED, "store: redis %s:%d: %s: cancelled while waiting for the "
                   "server (connection dropped; a write may or may not have been stored: the "
                   "next call reconnects, a stale version gets a conflict)", s->host, s->port,
                   what);
  if (s->reply_over && s->line_over)
    return hl_fail(HL_ERR_TOO_LARGE, "store: redis %s:%d: %s: a line of the reply passed %zu KiB "
                   "without its CRLF (not a Redis?; connection dropped)", s->host, s->port, what,
                   HL_REDIS_LINE_MAX >> 10);
  if (s->reply_over)
    return hl_fail(HL_ERR_TOO_LARGE, "store: redis %s:%d: %s: the reply would take more than "
                   "%zu MiB (connection dropped)", s->host, s->port, what,
                   HL_STORE_LOAD_MAX >> 20);
  /* a wait past HL_REDIS_IDLE_S (rd_wait gives it EAGAIN's text, a riddle) */
  if (s->c && s->c->err == REDIS_ERR_IO && !strcmp(why, strerror(EAGAIN)))
    return hl_fail(HL_ERR_NETWORK, "store: redis %s:%d: %s: timed out: the server took or sent "
                   "nothing for %d s (connection dropped; a write may or may not have been stored: "
                   "the next call reconnects, a stale version gets a conflict)", s->host,
                   s->port, what, HL_REDIS_IDLE_S);
  return hl_fail(HL_ERR_NETWORK, "store: redis %s:%d: %s: %s", s->host, s->port, what,
                 why[0] ? why : "connection lost");
}

/* Whether what hiredis holds of the reply not yet parsed fits the budget.
 * hiredis keeps a bulk string's bytes until all of them are in, and a
 * line (status, error, a length) until its CRLF: a server streaming a
 * "$2000000000" or an endless line would grow that buffer without limit.
 * A bulk whose '$' is read has its length's digits at the cursor: a length
 * past the budget is refused then, before its bytes are buffered (the
 * digits read so far are a lower bound of it). */
static bool rd_pending_fits(rd_store *s) {
  const redisReader *r = s->c->reader;
  size_t left = HL_STORE_LOAD_MAX - s->reply_used, pending = r->len - r->pos;
  if (r->ridx < 0) return pending <= left;
  int type = r->rstack[r->ridx].type;
  size_t i = r->pos, declared = 0;
  if (type == REDIS_REPLY_STRING) {
    for (; i < r->len && r->buf[i] >= '0' && r->buf[i] <= '9'; i++) {
      declared = declared * 10 + (size_t)(r->buf[i] - '0');
      if (declared > left) return false;
    }
  }
  /* A line not ended yet (a status, an error, an integer, a length): hiredis
   * scans all of it for its CRLF again after every read, so an endless one
   * costs time quadratic in its size; no reply of ours has a long line. */
  bool in_line = type != REDIS_REPLY_STRING || i >= r->len || r->buf[i] != '\r';
  if (in_line && pending > HL_REDIS_LINE_MAX) s->line_over = true;
  return pending <= left && !s->line_over;
}

/* Wait until the socket is ready for `events` (the reply's next bytes,
 * or room for the command's) or a cut (rd_interrupt), at most
 * HL_REDIS_IDLE_S: false on a cut (s->cut) or when nothing moved in time
 * (the context's error then reads as a timed-out read's). */
static bool rd_wait(rd_store *s, short events) {
  bool cut = false;
  int n = hl__store_wait(s->c->fd, events, &s->wake, HL_REDIS_IDLE_S * 1000, &cut);
  if (cut) s->cut = true;
  else if (n > 0) return true;
  s->c->err = REDIS_ERR_IO;
  snprintf(s->c->errstr, sizeof s->c->errstr, "%s",
           s->cut ? "cancelled" : strerror(n == 0 ? EAGAIN : errno));
  return false;
}

static void rd_interrupt(void *impl, int64_t cut_at) {
  hl__store_wake_set(&((rd_store *)impl)->wake, cut_at);
}

/* Send the command hiredis buffered (its obuf), waiting through rd_wait
 * whenever the socket is full, so that a cut reaches a large write to a
 * server that stopped reading. From an offset of our own: hiredis's
 * redisBufferWrite moves the unsent rest to the front after each partial
 * write, which a non-blocking socket makes quadratic in a large command's
 * size. MSG_NOSIGNAL: a server gone is an error, not a SIGPIPE. */
static bool rd_send(rd_store *s) {
  redisContext *c = s->c;
  size_t len = sdslen(c->obuf), off = 0;
  while (off < len) {
    ssize_t n = send(c->fd, c->obuf + off, len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!rd_wait(s, POLLOUT)) return false;
    } else if (n == 0 || errno != EINTR) {
      c->err = REDIS_ERR_IO;
      snprintf(c->errstr, sizeof c->errstr, "%s", n ? strerror(errno) : "connection closed");
      return false;
    }
  }
  sdsclear(c->obuf);
  return true;
}

/* A command with binary-safe arguments. NULL reply: connection trouble
 * (s->c->err set), or a reply past the budget (s->reply_over, the
 * connection closed: the server may still be sending it). hiredis's
 * redisGetReply, with the budget checked after every read. */
static redisReply *rd_cmd(rd_store *s, int argc, const char **argv, const size_t *lens) {
  if (!s->c || s->c->err) return NULL;
  s->reply_used = 0;
  s->reply_over = s->line_over = s->cut = false;
  redisContext *c = s->c;
  if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) return NULL;
  bool sent = rd_send(s);
  void *reply = NULL;
  while (sent) {
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
      c->err = c->reader->err;
      snprintf(c->errstr, sizeof c->errstr, "%s", c->reader->errstr);
      break;
    }
    if (reply) return reply;
    if (!rd_pending_fits(s)) {
      s->reply_over = true;
      break;
    }
    if (!rd_wait(s, POLLIN)) break;
    if (redisBufferRead(c) != REDIS_OK) return NULL;
  }
  if (s->reply_over || s->cut) {
    redisFree(s->c);
    s->c = NULL;
  }
  return NULL;
}

static hl_status rd_simple(rd_store *s, const char *what, int argc, const char **argv,
                           redisReply **keep) {
  redisReply *r = rd_cmd(s, argc, argv, NULL);
  if (!r) return rd_fail_ctx(s, what);
  if (r->type == REDIS_REPLY_ERROR) {
    hl_status st = hl_fail(HL_ERR_IO, "store: redis: %s: %s", what, r->str);
    freeReplyObject(r);
    return st;
  }
  if (keep) *keep = r;
  else freeReplyObject(r);
  return HL_OK;
}

static hl_status rd_load_script(rd_store *s, const char *body, char *sha) {
  const char *argv[3] = {"SCRIPT", "LOAD", body};
  redisReply *r = NULL;
  hl_status st = rd_simple(s, "script load", 3, argv, &r);
  if (st != HL_OK) return st;
  if (r->type == REDIS_REPLY_STRING) snprintf(sha, 48, "%s", r->str);
  else st = hl_fail(HL_ERR_IO, "store: redis: SCRIPT LOAD gave no digest");
  freeReplyObject(r);
  return st;
}

/* Authenticate, select the database, check the layout, load the scripts:
 * after connecting and after every reconnect. */
static hl_status rd_setup(rd_store *s) {
  hl_status st = HL_OK;
  if (s->password) {
    const char *argv[3] = {"AUTH", s->user ? s->user : s->password, s->password};
    st = rd_simple(s, "auth", s->user ? 3 : 2, argv, NULL);
    if (st != HL_OK) return hl_fail(HL_ERR_AUTH, "%s", hl_last_error());
  }
  if (s->db) {
    char db[16];
    snprintf(db, sizeof db, "%d", s->db);
    const char *argv[2] = {"SELECT", db};
    if ((st = rd_simple(s, "select", 2, argv, NULL)) != HL_OK) return st;
  }
  char schema[16];
  snprintf(schema, sizeof schema, "%d", HL_REDIS_SCHEMA);
  /* A read-only replica refuses the SET: reading it is still fine (its
   * master's writers record the layout), so only that refusal is let by. */
  const char *set[5] = {"SET", "hl:schema", schema, "NX"};
  redisReply *w = rd_cmd(s, 4, set, NULL);
  if (!w) return rd_fail_ctx(s, "schema");
  if (w->type == REDIS_REPLY_ERROR && strncmp(w->str, "READONLY", 8) != 0)
    st = hl_fail(HL_ERR_IO, "store: redis: schema: %s", w->str);
  freeReplyObject(w);
  if (st != HL_OK) return st;
  const char *get[2] = {"GET", "hl:schema"};
  redisReply *r = NULL;
  if ((st = rd_simple(s, "schema", 2, get, &r)) != HL_OK) return st;
  long have = r->type == REDIS_REPLY_STRING ? strtol(r->str, NULL, 10) : 0;
  freeReplyObject(r);
  if (have > HL_REDIS_SCHEMA)
    return hl_fail(HL_ERR_UNSUPPORTED,
                   "store: redis %s:%d has key layout version %ld, newer than this hookline's "
                   "(%d): refusing to use it (upgrade hookline)", s->host, s->port, have,
                   HL_REDIS_SCHEMA);
  if ((st = rd_load_script(s, hl_redis_append_lua, s->append_sha)) != HL_OK) return st;
  return rd_load_script(s, hl_redis_load_lua, s->load_sha);
}

/* How long a connect may take (its handshake; the set-up's commands then
 * wait as any command does). */
#define HL_REDIS_CONNECT_MS 5000

/* Wait for the connect hiredis started (non-blocking) to finish, through
 * the cut's wake: a server whose listen queue is full answers no SYN,
 * and a cancelled run's reconnect must not wait out the connect's limit. */
static hl_status rd_connected(rd_store *s) {
  bool cut = false;
  int n = hl__store_wait(s->c->fd, POLLOUT, &s->wake, HL_REDIS_CONNECT_MS, &cut), err = 0;
  socklen_t len = sizeof err;
  if (cut) {
    redisFree(s->c);
    s->c = NULL;
    return hl_fail(HL_ERR_CANCELLED, "store: redis %s:%d: cancelled while connecting (nothing "
                   "sent)", s->host, s->port);
  }
  if (n == 0) err = ETIMEDOUT;
  else if (n < 0 || getsockopt(s->c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (!err) return HL_OK;
  s->c->err = REDIS_ERR_IO;
  snprintf(s->c->errstr, sizeof s->c->errstr, "%s", strerror(err));
  return rd_fail_ctx(s, "cannot connect");
}

static hl_status rd_connect(rd_store *s) {
  if (s->c) redisFree(s->c);
  /* non-blocking from the start: every wait, the connect's too, is a poll
   * beside the cut's wake (hiredis takes EAGAIN as "try again") */
  s->c = redisConnectNonBlock(s->host, s->port);
  s->reply_over = s->cut = false;
  if (!s->c || s->c->err) return rd_fail_ctx(s, "cannot connect");
  hl_status st = rd_connected(s);
  if (st != HL_OK) return st;
  rd_budget_fns(s);
  return rd_setup(s);
}

/* Before each call: reconnect if the connection broke, also while it sat
 * idle: a RESP2 server sends nothing unasked, so a readable idle socket
 * is an end-of-file (the server restarted since the last call), a reset,
 * or bytes no command asked for (a reply that carried more than it said):
 * in each case the connection is no good, and the first call after a
 * restart works instead of failing. */
static hl_status rd_ready(rd_store *s) {
  /* (bytes left over may already be in hiredis's buffer, read with the
   * reply they followed) */
  if (s->c && !s->c->err && s->c->reader->pos >= s->c->reader->len) {
    struct pollfd p = {.fd = s->c->fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 0) return HL_OK;
  }
  return rd_connect(s);
}

static void rd_close(void *impl) {
  rd_store *s = impl;
  if (!s) return;
  if (s->c) redisFree(s->c);
  hl__store_wake_close(&s->wake);
  rd_keys_forget(s);
  free(s->host);
  free(s->password);
  free(s->user);
  free(s);
}

/* A copy of s[0..n) with %XX escapes decoded (RFC 3986: a password with
 * '@', ':' or '/' is written %40, %3A, %2F), into *out; a '%' not
 * followed by two hex digits is HL_ERR_INVALID (a NUL is too: AUTH's
 * arguments are C strings here). */
static hl_status rd_unescape(const char *s, size_t n, const char *what, char **out) {
  char *d = malloc(n + 1);
  if (!d) return hl__oom();
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      d[w++] = s[i];
      continue;
    }
    int v = hl__percent_byte(s + i, n - i);
    if (v <= 0) { /* not two hex digits, or %00 */
      free(d);
      return hl_fail(HL_ERR_INVALID, "hl_store_open: the %s in the redis URL has a bad percent "
                     "escape (write '%%' as %%25)", what);
    }
    d[w++] = (char)v;
    i += 2;
  }
  d[w] = '\0';
  *out = d;
  return HL_OK;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], user and password
 * percent-decoded; the last '@' ends them (so a raw '@' in a password
 * works too, as libpq reads its URLs). */
static hl_status rd_parse(rd_store *s, const char *url) {
  const char *p = url + strlen("redis://");
  const char *at = strrchr(p, '@');
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    hl_status st = HL_OK;
    if (colon) {
      if (colon > p) st = rd_unescape(p, (size_t)(colon - p), "user", &s->user);
      if (st == HL_OK) st = rd_unescape(colon + 1, (size_t)(at - colon - 1), "password", &s->password);
    } else {
      st = rd_unescape(p, (size_t)(at - p), "password", &s->password);
    }
    if (st != HL_OK) return st;
    p = at + 1;
  }
  size_t hl = strcspn(p, ":/");
  if (!(s->host = strndup(p, hl))) return hl__oom();
  if (!s->host[0]) {
    free(s->host);
    if (!(s->host = strdup("127.0.0.1"))) return hl__oom();
  }
  p += hl;
  s->port = 6379;
  if (*p == ':') {
    char *end;
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/'))
      return hl_fail(HL_ERR_INVALID, "hl_store_open: bad port in redis URL");
    s->port = (int)port;
    p = end;
  }
  if (*p == '/' && p[1]) {
    char *end;
    long db = strtol(p + 1, &end, 10);
    if (*end || db < 0 || db > 1000000)
      return hl_fail(HL_ERR_INVALID, "hl_store_open: bad database number in redis URL");
    s->db = (int)db;
  }
  return HL_OK;
}

hl_status hl__store_redis_open(const char *url, void **impl) {
  rd_store *s = calloc(1, sizeof *s);
  if (!s) return hl__oom();
  hl_status st = hl__store_wake_new("redis", &s->wake);
  if (st != HL_OK) {
    free(s);
    return st;
  }
  st = rd_parse(s, url);
  if (st == HL_OK) st = rd_connect(s);
  if (st != HL_OK) {
    rd_close(s);
    return st;
  }
  *impl = s;
  return HL_OK;
}

/* Append "<length>:<bytes>" of `part` at p; returns the end. */
static char *rd_put_part(char *p, const char *part, size_t n) {
  char digits[24];
  size_t d = 0;
  do digits[d++] = (char)('0' + n % 10); while ((n /= 10) > 0);
  while (d) *p++ = digits[--d];
  *p++ = ':';
  return part ? (char *)memcpy(p, part, strlen(part)) + strlen(part) : p;
}

/* "hl:<kind>:" then each part as "<length>:<bytes>" (no id part when `c`
 * is NULL: the index key of an app and user). */
static char *rd_key(const char *kind, const char *a, const char *b, const char *c, size_t *len) {
  size_t na = strlen(a), nb = strlen(b), nc = c ? strlen(c) : 0;
  char *k = malloc(strlen(kind) + 4 + na + nb + nc + 3 * 24);
  if (!k) return NULL;
  char *p = k;
  memcpy(p, "hl:", 3);
  p += 3;
  p = (char *)memcpy(p, kind, strlen(kind)) + strlen(kind);
  *p++ = ':';
  p = rd_put_part(p, a, na);
  p = rd_put_part(p, b, nb);
  if (c) p = rd_put_part(p, c, nc);
  *p = '\0';
  *len = (size_t)(p - k);
  return k;
}

/* The keys of session `k`, owned by `s` (valid until the next call). */
static hl_status rd_keys_for(rd_store *s, const hl__skey *k, const rd_keys **out) {
  if (s->key_id && !strcmp(s->key_id, k->id) && !strcmp(s->key_user, k->user) &&
      !strcmp(s->key_app, k->app)) {
    *out = &s->keys;
    return HL_OK;
  }
  rd_keys_forget(s);
  rd_keys *r = &s->keys;
  r->log = rd_key("log", k->app, k->user, k->id, &r->log_len);
  r->meta = rd_key("meta", k->app, k->user, k->id, &r->meta_len);
  r->idx = rd_key("idx", k->app, k->user, NULL, &r->idx_len);
  s->key_app = strdup(k->app);
  s->key_user = strdup(k->user);
  s->key_id = strdup(k->id);
  if (!r->log || !r->meta || !r->idx || !s->key_app || !s->key_user || !s->key_id) {
    rd_keys_forget(s);
    return hl__oom();
  }
  *out = r;
  return HL_OK;
}

/* EVALSHA, loading the script again if the server forgot it (restarted). */
static redisReply *rd_eval(rd_store *s, const char *body, char *sha, int argc,
                           const char **argv, size_t *lens) {
  argv[0] = "EVALSHA";
  lens[0] = 7;
  argv[1] = sha;
  lens[1] = strlen(sha);
  redisReply *r = rd_cmd(s, argc, argv, lens);
  if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
    freeReplyObject(r);
    if (rd_load_script(s, body, sha) != HL_OK) return NULL;
    lens[1] = strlen(sha);
    r = rd_cmd(s, argc, argv, lens);
  }
  return r;
}

static hl_status rd_append(void *impl, const hl__skey *k, const hl__sappend *a, int64_t *nv) {
  rd_store *s = impl;
  hl_status st = rd_ready(s);
  if (st != HL_OK) return st;
  const rd_keys *kp = NULL;
  if ((st = rd_keys_for(s, k, &kp)) != HL_OK) return st;
  const rd_keys keys = *kp;
  char expected[24], now[40], ttl[24];
  size_t n_expected = hl__store_fmt_i64(expected, a->expected);
  size_t n_now = hl__store_fmt_time(now, a->now);
  size_t n_ttl = hl__store_fmt_i64(ttl, a->ttl);
  const char *title = a->title ? a->title : "";
  /* 11 fixed arguments, then the events: a turn boundary's few fit here */
  enum { FIXED = 11, STACK = FIXED + 8 };
  const char *argv_stack[STACK];
  size_t lens_stack[STACK];
  int argc = FIXED + (int)a->n;
  const char **argv = argc <= STACK ? argv_stack : calloc((size_t)argc, sizeof *argv);
  size_t *lens = argc <= STACK ? lens_stack : calloc((size_t)argc, sizeof *lens);
  if (!argv || !lens) {
    if (argv != argv_stack) free(argv);
    if (lens != lens_stack) free(lens);
    return hl__oom();
  }
  const char *fixed[FIXED] = {NULL, NULL, "3", keys.log, keys.meta, keys.idx,
                              expected, now, k->id, title, ttl};
  size_t fixed_lens[FIXED] = {0, 0, 1, keys.log_len, keys.meta_len, keys.idx_len,
                              n_expected, n_now, strlen(k->id), strlen(title), n_ttl};
  memcpy(argv, fixed, sizeof fixed);
  memcpy(lens, fixed_lens, sizeof fixed_lens);
  for (size_t i = 0; i < a->n; i++) {
    argv[FIXED + i] = a->data[i];
    lens[FIXED + i] = a->len[i];
  }
  redisReply *r = rd_eval(s, hl_redis_append_lua, s->append_sha, argc, argv, lens);
  if (argv != argv_stack) free(argv);
  if (lens != lens_stack) free(lens);
  if (!r) return s->c && !s->c->err ? hl_last_status() : rd_fail_ctx(s, "append");
  int64_t want = a->expected + (int64_t)a->n;
  if (r->type == REDIS_REPLY_INTEGER && r->integer == want) {
    *nv = want;
  } else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
    /* not what the script returns: a proxy or server that is not Redis */
    st = hl_fail(HL_ERR_IO, "store: redis: append: the server says version %lld, the script "
                 "gives %lld (not a Redis running our script?)", (long long)r->integer,
                 (long long)want);
  } else if (r->type == REDIS_REPLY_INTEGER) {
    st = hl_fail(HL_ERR_CONFLICT, "store: session \"%.200s\" is at version %lld, the writer "
                 "saw %lld: another writer appended first", k->id, (long long)(-1 - r->integer),
                 (long long)a->expected);
  } else if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "HLTRUNCATED ")) {
    st = hl_fail(HL_ERR_IO, "store: session \"%.200s\": log is truncated: %s", k->id,
                 strstr(r->str, "HLTRUNCATED ") + 12);
  } else {
    st = hl_fail(HL_ERR_IO, "store: redis: append: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
  }
  freeReplyObject(r);
  return st;
}

static hl_status rd_load(void *impl, const hl__skey *k, size_t max_bytes, hl__srow_fn row,
                         void *ud, int64_t *version) {
  rd_store *s = impl;
  (void)max_bytes; /* the row function enforces it */
  hl_status st = rd_ready(s);
  if (st != HL_OK) return st;
  const rd_keys *kp = NULL;
  if ((st = rd_keys_for(s, k, &kp)) != HL_OK) return st;
  const rd_keys keys = *kp;
  const char *argv[5] = {NULL, NULL, "2", keys.log, keys.meta};
  size_t lens[5] = {0, 0, 1, keys.log_len, keys.meta_len};
  redisReply *r = rd_eval(s, hl_redis_load_lua, s->load_sha, 5, argv, lens);
  if (!r) return s->c && !s->c->err ? hl_last_status() : rd_fail_ctx(s, "load");
  if (r->type == REDIS_REPLY_NIL) {
    st = hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
             r->element[0]->type != REDIS_REPLY_STRING ||
             r->element[1]->type != REDIS_REPLY_ARRAY) {
    st = hl_fail(HL_ERR_IO, "store: redis: load: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply (corrupt keys?)");
  } else {
    char *end;
    *version = strtoll(r->element[0]->str, &end, 10);
    if (*end || *version < 0) {
      st = hl_fail(HL_ERR_IO, "store: session \"%.200s\": corrupt version %.40s", k->id,
                   r->element[0]->str);
    } else {
      redisReply *list = r->element[1];
      for (size_t i = 0; i < list->elements; i++) {
        redisReply *e = list->element[i];
        if (!row(ud, (int64_t)i + 1, e->type == REDIS_REPLY_STRING ? e->str : NULL,
                 e->type == REDIS_REPLY_STRING ? e->len : 0))
          break;
      }
    }
  }
  freeReplyObject(r);
  return st;
}

static hl_status rd_list(void *impl, const char *app, const char *user, cJSON *out) {
  rd_store *s = impl;
  hl_status st = rd_ready(s);
  if (st != HL_OK) return st;
  size_t idx_len;
  char *idx = rd_key("idx", app, user, NULL, &idx_len);
  if (!idx) return hl__oom();
  const char *argv[4] = {"ZREVRANGE", idx, "0", "-1"};
  size_t lens[4] = {9, idx_len, 1, 2};
  redisReply *ids = rd_cmd(s, 4, argv, lens);
  if (!ids) {
    free(idx);
    return rd_fail_ctx(s, "list");
  }
  if (ids->type != REDIS_REPLY_ARRAY) {
    st = hl_fail(HL_ERR_IO, "store: redis: list: %s",
                 ids->type == REDIS_REPLY_ERROR ? ids->str : "unexpected reply");
  }
  for (size_t i = 0; st == HL_OK && i < ids->elements; i++) {
    if (ids->element[i]->type != REDIS_REPLY_STRING) {
      st = hl_fail(HL_ERR_IO, "store: redis: list: session id %zu of the index is not a string "
                   "(corrupt index?)", i + 1);
      break;
    }
    const char *id = ids->element[i]->str;
    size_t meta_len;
    char *meta = rd_key("meta", app, user, id, &meta_len);
    if (!meta) {
      st = hl__oom();
      break;
    }
    const char *hargv[7] = {"HMGET", meta, "version", "created", "updated", "title", "bytes"};
    size_t hlens[7] = {5, meta_len, 7, 7, 7, 5, 5};
    redisReply *h = rd_cmd(s, 7, hargv, hlens);
    free(meta);
    if (!h) {
      st = rd_fail_ctx(s, "list");
      break;
    }
    if (h->type == REDIS_REPLY_ARRAY && h->elements == 5 && h->element[0]->type == REDIS_REPLY_STRING) {
      redisReply **f = h->element;
      const char *title = f[3]->type == REDIS_REPLY_STRING ? f[3]->str : NULL;
      if (!hl__store_list_item(out, id, strtoll(f[0]->str, NULL, 10),
                               f[1]->type == REDIS_REPLY_STRING ? strtod(f[1]->str, NULL) : 0,
                               f[2]->type == REDIS_REPLY_STRING ? strtod(f[2]->str, NULL) : 0,
                               title,
                               f[4]->type == REDIS_REPLY_STRING ? strtoll(f[4]->str, NULL, 10) : 0))
        st = hl__oom();
    } else if (h->type == REDIS_REPLY_ARRAY) {
      /* expired or deleted: drop it from the index */
      const char *zargv[3] = {"ZREM", idx, id};
      size_t zlens[3] = {4, idx_len, ids->element[i]->len};
      redisReply *z = rd_cmd(s, 3, zargv, zlens);
      if (z) freeReplyObject(z);
    }
    freeReplyObject(h);
  }
  freeReplyObject(ids);
  free(idx);
  return st;
}

static hl_status rd_del(void *impl, const hl__skey *k) {
  rd_store *s = impl;
  hl_status st = rd_ready(s);
  if (st != HL_OK) return st;
  const rd_keys *kp = NULL;
  if ((st = rd_keys_for(s, k, &kp)) != HL_OK) return st;
  const rd_keys keys = *kp;
  const char *argv[3] = {"DEL", keys.log, keys.meta};
  size_t lens[3] = {3, keys.log_len, keys.meta_len};
  redisReply *r = rd_cmd(s, 3, argv, lens);
  if (!r) st = rd_fail_ctx(s, "delete");
  else if (r->type != REDIS_REPLY_INTEGER) st = hl_fail(HL_ERR_IO, "store: redis: delete failed");
  else if (r->integer == 0) st = hl_fail(HL_ERR_NOT_FOUND, "store: no session \"%.200s\"", k->id);
  if (r) freeReplyObject(r);
  if (st == HL_OK) {
    const char *zargv[3] = {"ZREM", keys.idx, k->id};
    size_t zlens[3] = {4, keys.idx_len, strlen(k->id)};
    r = rd_cmd(s, 3, zargv, zlens);
    if (r) freeReplyObject(r);
  }
  return st;
}

const hl__store_ops hl__store_redis_ops = {
  .name = "redis", .append = rd_append, .load = rd_load, .list = rd_list,
  .del = rd_del, .close = rd_close, .interrupt = rd_interrupt, .has_ttl = true,
};
