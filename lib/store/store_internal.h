/*
 * store_internal.h - the interface between the store front end (store.c:
 * URL dispatch, argument checks, event encoding and decoding, locking) and
 * its backends (memory.c, sqlite.c, postgres.c, redis.c), one vtable each.
 *
 * Backends see text only: an event is the compact JSON text store.c made,
 * stored and returned byte for byte, so that decoding (and the checks for
 * corrupt or missing rows) is done once, in store.c. Every backend call
 * runs with the store's mutex held: backends need no locking of their own.
 */
#ifndef HL_STORE_INTERNAL_H
#define HL_STORE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "hookline/status.h"
#include "hookline/store.h"

/* Which session: all three strings non-NULL, NUL-terminated. */
typedef struct hl__skey {
  const char *app, *user, *id;
} hl__skey;

/* A group larger than this is refused by the front end: no turn writes
 * that many events, and Redis passes each to its script as an argument
 * (Lua takes some 8,000). */
#define HL_STORE_GROUP_MAX 1000

/* One append of n >= 1 events (n <= HL_STORE_GROUP_MAX), as the front end
 * prepared it: all of them or none, in one transaction (or script) with
 * one version check. */
typedef struct hl__sappend {
  int64_t expected;   /* version the writer saw; event i gets expected + 1 + i */
  size_t n;           /* how many events */
  const char *const *data; /* data[i]: event i's JSON text, len[i] bytes (not NUL-terminated) */
  const size_t *len;  /* len[i]: its length */
  size_t bytes;       /* the sum of len[] */
  const char *title;  /* set as the session's title if it has none; may be NULL */
  double now;         /* Unix seconds */
  int64_t ttl;        /* seconds, 0 none (Redis) */
} hl__sappend;

/* Called by load() for each stored event in version order; returns false
 * to stop (out of memory). */
typedef bool (*hl__srow_fn)(void *ud, int64_t version, const char *data, size_t len);

typedef struct hl__store_ops {
  const char *name;
  /* HL_OK with *new_version (expected + n), HL_ERR_CONFLICT (nothing
   * written), or another failure (nothing written). */
  hl_status (*append)(void *impl, const hl__skey *k, const hl__sappend *a, int64_t *new_version);
  /* Rows in version order, *version the session's recorded version;
   * HL_ERR_NOT_FOUND if the session does not exist. The row function
   * enforces the load limit `max_bytes` (the sum of the rows' lengths);
   * a backend that can may withhold a row's text past it, passing NULL
   * with the row's true length, so that it is never held here. */
  hl_status (*load)(void *impl, const hl__skey *k, size_t max_bytes, hl__srow_fn row, void *ud,
                    int64_t *version);
  /* Append one object per session to the array `out` (see hl_store_list). */
  hl_status (*list)(void *impl, const char *app, const char *user, cJSON *out);
  hl_status (*del)(void *impl, const hl__skey *k);
  void (*close)(void *impl);
  /* `cut_at` > 0: make the call in progress on another thread stop
   * waiting for the server and fail with HL_ERR_CANCELLED (its connection
   * dropped, as after a timeout) once the server has also been silent
   * for the cut's grace, or at the latest when the cut's budget, counted
   * from `cut_at` (hl__store_now_ms() of the cancel, or of the call's
   * start for a call cut from its start), is spent (hl__store_wait); 0:
   * that call has ended, forget a cut it did not see. Called by the front end under its cut lock, only while a call
   * runs (also as it starts, for a run already cancelled); must not
   * block. NULL: calls cannot be cut (memory). */
  void (*interrupt)(void *impl, int64_t cut_at);
  bool has_ttl;
} hl__store_ops;

/* Backend constructors: `rest` is the URL (or what follows "sqlite:").
 * On HL_OK *impl is the backend's state. */
hl_status hl__store_memory_open(const char *rest, void **impl);
hl_status hl__store_sqlite_open(const char *path, void **impl);
hl_status hl__store_pg_open(const char *url, void **impl);
hl_status hl__store_redis_open(const char *url, void **impl);
extern const hl__store_ops hl__store_memory_ops;
extern const hl__store_ops hl__store_sqlite_ops;
extern const hl__store_ops hl__store_pg_ops;
extern const hl__store_ops hl__store_redis_ops;

/* One append of events already encoded (a stored session's turn
 * boundary, agent/session_events.h): the checks and locking of
 * hl_store_append_events(), without decoding or printing anything. */
struct hl__session_events;
/* `cancelled`: owner's run was cancelled before this call, which is then
 * cut from its start: it completes if the server answers within the
 * cut's grace (and its budget, counted from the call's start), and fails
 * with HL_ERR_CANCELLED if it would wait on a silent or trickling one
 * (hl__store_wait). */
hl_status hl__store_append_texts(hl_store *store, const void *owner, bool cancelled,
                                 const char *app, const char *user, const char *id,
                                 int64_t expected, const struct hl__session_events *ev,
                                 int64_t *new_version);

/* The engine's cancel reaching a store call (a run cancelled while its
 * session's append waits on a hung server): if the call in progress on
 * `store` is an hl__store_append_texts() of `owner`, set *cut_flag and
 * cut the call (the backend's interrupt; its budget counts from now),
 * which then fails with HL_ERR_CANCELLED; otherwise nothing (the owner's
 * later appends are cut from their start: hl__store_append_texts'
 * `cancelled`). Any thread; never blocks (a short lock); a call that
 * completed first keeps its result. */
void hl__store_interrupt(hl_store *store, const void *owner, atomic_bool *cut_flag);

/* Milliseconds of the monotonic clock (never 0): the cut's times. */
int64_t hl__store_now_ms(void);

/* The wake-up behind a network backend's interrupt op (store_wake.c): an
 * eventfd its waits poll beside the socket, readable while the call in
 * progress is to stop, and when the cut's cancel happened. */
typedef struct hl__store_wake {
  int fd;
  _Atomic int64_t cut_at; /* hl__store_now_ms() of the cancel; 0: no cut */
} hl__store_wake;
/* Make one (HL_OK; hl__store_wake_close() frees it); `backend` names it
 * in the message of a failure. */
hl_status hl__store_wake_new(const char *backend, hl__store_wake *w);
void hl__store_wake_close(hl__store_wake *w);
/* Signal it (`cut_at` > 0: the interrupt op's argument) or clear it (0).
 * Never blocks; any thread. */
void hl__store_wake_set(hl__store_wake *w, int64_t cut_at);
/* How long a cut still lets a silent server answer (or another SQLite
 * connection free its lock). A local server answers in well under a
 * millisecond, a remote one in a few; a hung one never. Without it a call
 * that starts cut (its run was cancelled before it) could never wait for
 * any answer at all. */
#define HL_STORE_CUT_GRACE_MS 250
/* The most a cut call may still take after the cancel (or after its
 * start, for a call that starts cut: a provider slow to notice the cancel
 * must not leave the run's take-back no time), however the server
 * answers: one that sends a byte every 200 ms is never silent for the
 * grace, and would keep a cancelled run waiting up to the 10 s limit per
 * piece of its answer. A healthy server answers a write in a few
 * milliseconds, so the take-back of a cancelled run still gets written;
 * a call cut, by silence or by the budget, fails the run's later writes
 * at once (session_store.c). */
#define HL_STORE_CUT_BUDGET_MS 1000

/* Wait until `sock` is ready for `events`, at most idle_ms (>= 0, or -1
 * for no limit): 1 ready, 0 timed out, -1 failed (errno) or cut (*cut
 * set). A set wake cuts the wait once the server has also stayed silent
 * for the grace (HL_STORE_CUT_GRACE_MS), so that a cancelled run's write
 * a live server answers at once still completes and one a hung server
 * would keep waiting ends promptly, and in any case once the cut's
 * budget (HL_STORE_CUT_BUDGET_MS from the cancel) is spent, also while
 * the server keeps sending. Waits again on EINTR. */
int hl__store_wait(int sock, short events, hl__store_wake *w, int idle_ms, bool *cut);

/* Numbers as text for the network backends, as "%lld" and "%.6f" give
 * them but without printf's cost (an append formats three): into `buf`
 * (24 and 40 bytes are enough), NUL-terminated; the length. */
size_t hl__store_fmt_i64(char *buf, int64_t v);
size_t hl__store_fmt_time(char *buf, double unix_seconds);

/* Add {"id","version","created","updated","title","bytes"} to `out`
 * (title may be NULL). False when out of memory. */
bool hl__store_list_item(cJSON *out, const char *id, int64_t version, double created,
                         double updated, const char *title, int64_t bytes);

#endif
