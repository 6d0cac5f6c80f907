/*
 * engine.c - the process's HTTP event loops (see engine.h): each a thread,
 * one libcurl multi handle driven by curl_multi_socket_action(), epoll for
 * the sockets curl asks to watch, an eventfd that other threads write to
 * when they post a task, and a binary heap of timers (curl's own timeout
 * is one more deadline next to it).
 *
 * Why socket_action and epoll rather than curl_multi_poll(): with
 * thousands of transfers in flight, poll() and curl_multi_perform() walk
 * every socket and every transfer on each wake-up; epoll and
 * socket_action touch only the sockets that are ready.
 *
 * Partitions. libcurl 7.88 (Debian 12) walks its whole connection cache on
 * several per-transfer paths (curl_multi_remove_handle() looks for the
 * last connection by id, ConnectionExists() scans the host's connections):
 * with 10,000 connections to one host in one multi handle, that is
 * quadratic and the loop thread becomes the bottleneck (measured: 10,000
 * sessions of scenario (b) took 23 s, most of it in those scans). So the
 * pool is one multi handle while fewer than a partition's worth of
 * transfers run (every request of a normal application shares it), and
 * spreads over up to HL_ENGINE_PARTS multi handles driven by the same loop
 * when more run at once: a new transfer goes to the first partition with
 * room (fill-first, so idle connections are reused before another
 * partition opens new ones). The pool's caps are divided between the
 * partitions in use; small caps (under 256 per partition) keep a single
 * partition so that they hold exactly.
 *
 * Loops. All of the above is one loop (struct engine); the engine runs one
 * per CPU, up to HL_ENGINE_MAX_LOOPS (engine.h, "More than one loop": the
 * socket work of 10,000 requests was more than one thread could do within
 * the concurrent_slow target). Code that runs on a loop finds its loop in
 * the thread-local `cur` (E below), so timers, transfers and easy handles
 * are always the current loop's.
 *
 * The loop never exits once started (a process-wide service, like the
 * resolver threads of libcurl); nothing it holds outlives the process.
 *
 * The start-up burst. A new HTTP/2 connection takes only 100 streams
 * until the server's SETTINGS frame arrives (nghttp2's guard, which
 * libcurl 7.88 mirrors); a transfer that finds it full opens another
 * connection, and so does each one after it until that one's handshake
 * is done: 300 requests at once on a cold pool opened 50-54 connections
 * on a loaded machine instead of 2. libcurl reports nothing when
 * SETTINGS arrive, but a server sends them before any response headers.
 * So a partition takes at most HL_ENGINE_COLD_STREAMS transfers that may
 * multiplex until one of them got its headers (hl__engine_settled());
 * those beyond go to the next partition, whose own connection takes the
 * next 100. No request waits for another: 300 at once on a cold loop
 * open 3 connections, and a failed first connection only ends its own
 * transfers. Transfers that cannot multiplex (HTTP/1.1) fill partitions
 * as before. Limits: "settled" is per partition, not per host (a second
 * HTTP/2 host on a settled partition, or a connection reopened after an
 * idle close, starts at 100 streams again and may open a few extra
 * connections, as before); a burst larger than every partition's cold
 * room (32 x 100 per loop) falls back to the least busy partition; and a
 * cold burst costs a connection per 100 requests, one per partition it
 * fills: 10,000 sessions of concurrent_slow over h2/TLS at once opened
 * 58 connections where filling partitions to 512 opened 40-41 (a quiet
 * machine, whose server SETTINGS came in time).
 *
 * An application with its own event loop can take the loop thread's
 * place (hookline/engine.h): then no thread is started, the epoll fd is
 * the application's to watch, and each hl_engine_process() is one
 * non-blocking turn of the same loop on the application's thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/taskpool.h" /* a turn holds the run steps its transfers schedule */
#include "hookline/engine.h"
#include "hookline/pool.h"
#include "net/engine.h"
#include "net/reuse_guard.h"

/* Multi handles the pool may spread over, per loop (see the top). */
#define HL_ENGINE_PARTS 32
/* Loops at most (one per CPU). */
#define HL_ENGINE_MAX_LOOPS HL__ENGINE_MAX_LOOPS
/* Fewest connections a partition gets from a cap before another is used. */
#define HL_ENGINE_PART_MIN 256
/* Transfers per partition when the pool has no cap. */
#define HL_ENGINE_PART_DEFAULT 512
/* Transfers that cannot multiplex (HTTP/1.1) a partition takes before the
 * next, whatever the cap's share: each new one makes libcurl search the
 * partition's connections to its host, every one of them busy, for one to
 * reuse. libcurl 8.14.1 pays ~140 instructions per connection visited
 * there (callgrind, concurrent_slow hookline-async, 400 - 200 sessions:
 * 516 k instructions per session with partitions of 259, the share of
 * the default cap, 405 k with 64; libcurl 7.88.1: 373 k -> 360 k).
 * HTTP/2 transfers keep the larger room: fewer partitions, fewer
 * connections. */
#define HL_ENGINE_PART_H1 64
/* Transfers that may multiplex a partition takes before one of them got
 * its response headers (see "The start-up burst" at the top). libcurl
 * 7.88's and nghttp2's streams per connection until the server's SETTINGS
 * frame arrives (DEFAULT_MAX_CONCURRENT_STREAMS in lib/http2.c, the
 * default of nghttp2_option_set_peer_max_concurrent_streams()). */
#define HL_ENGINE_COLD_STREAMS 100
/* Easy handles kept for reuse; beyond this they are freed. */
#define HL_ENGINE_SPARE_EASY 1024
/* epoll events taken per wake-up. */
#define HL_ENGINE_EVENTS 256

/* Per-transfer bookkeeping, behind CURLOPT_PRIVATE. */
typedef struct engine_xfer {
  hl__engine_done_fn done;
  void *user;
  hl__engine_send_fn before_send; /* or NULL */
  CURL *easy;
  int part;
  bool mux; /* may become a stream of an HTTP/2 connection (PIPEWAIT) */
  curl_socket_t sock; /* the socket libcurl last asked to watch for it */
} engine_xfer;

typedef struct part {
  struct engine *eng;  /* the loop whose partition this is */
  CURLM *multi;
  int64_t curl_due_ms; /* -1: curl wants no timeout */
  int running;         /* transfers added and not yet done or removed */
  /* A transfer that may multiplex got its response headers here: the
   * server's SETTINGS were read before them (loop thread only). */
  bool settled;
} part;

typedef struct engine {
  pthread_t thread;
  int epfd, evfd;
  part parts[HL_ENGINE_PARTS];
  int n_parts;         /* partitions in use for new transfers (caps) */
  /* 1 + the highest partition that ever had a transfer or a curl timeout
   * (part_used): the loop's scans of `running` and `curl_due_ms` stop
   * there. Partitions fill from the first, so most processes use one,
   * and four scans of all 32 each turn of the loop were ~4,000
   * instructions a run of scenario (b). Never lowered. */
  int parts_hi;
  int part_room;       /* transfers a partition takes before the next */
  /* Posted tasks (any thread -> loop): a lock-free stack that the loop
   * takes whole. Thousands of threads submit at once; a mutex here made
   * them queue on one futex. */
  _Atomic(hl__task *) posted;
  /* Timers (loop thread only). */
  hl__timer **heap;
  size_t n_heap, cap_heap;
  /* Idle HTTP/1.x connections checked before reuse (reuse_guard.h). */
  hl__reuse_guard guard;
  /* Spare easy handles (loop thread only). */
  CURL *spare[HL_ENGINE_SPARE_EASY];
  unsigned spare_shape[HL_ENGINE_SPARE_EASY]; /* hl__engine_easy_put()'s, 0: reset */
  size_t n_spare;
  /* Limits last applied to the multi handle. */
  hl__pool_limits applied;
  /* Descriptors watched (hl__watch): the loop is never idle with one. */
  int n_watch;
  /* The events of the current wake-up not handled yet, so that an unwatch
   * can void the ones of its watch. */
  struct epoll_event *cur_evs;
  int cur_next, cur_n;
  int index;           /* in loops[] */
  void *calls;         /* http.c's list of live calls (hl__engine_calls) */
  hl__task limits_task; /* apply the pool's limits on this loop */
  /* The baton: whoever holds it drives this loop (see "Who drives" in
   * engine.h). Everything documented "loop thread only" is touched under
   * it. */
  pthread_mutex_t drive_lock;
} engine;

/* The loops: loops[0] is "the" loop (the baton, external mode, watched
 * descriptors, hl__engine_post()); loops[1..n_loops-1] only serve
 * asynchronous requests (see "More than one loop" in engine.h). */
static engine loops[HL_ENGINE_MAX_LOOPS];
static int n_loops = 1;
/* Loops that take new asynchronous work (caps: see apply_limits). */
static atomic_int n_active = 1;
#define L0 (loops[0])
/* The loop this thread drives now (loop thread only code reads it).
 * Initial-exec: read on every timer, transfer and task operation, and the
 * default model of a shared library calls __tls_get_addr() for each (+1%
 * instructions per sequential run of scenario (b), callgrind); one
 * pointer of static TLS is well within what glibc keeps for a library
 * loaded with dlopen(). */
static _Thread_local engine *cur __attribute__((tls_model("initial-exec")));
#define E (*cur)
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool started;

/* Set before the loop starts: no loop thread, the application drives. */
static atomic_bool external;

/* ------------------------------------------------------------------ */
/* Pool limits (public API of hookline/pool.h)                          */
/* ------------------------------------------------------------------ */

/* -1: the default. Read by the loop when it applies them. */
static atomic_long opt_host = -1, opt_total = -1, opt_idle = -1, opt_dns = -1, opt_mux = -1,
                   opt_streams = -1;
/* HL_POOL_MAX_STREAMS's default. libcurl's own (100) made a busy pool open
 * hundreds of HTTP/2 connections where a few would do: a transfer that
 * finds every connection full opens a new one, and so does every transfer
 * after it until that one has finished its TLS handshake (libcurl 7.88
 * waits, with PIPEWAIT, only while it does not know yet whether the host
 * multiplexes). Measured, concurrent_slow over h2/TLS, 1,000 sessions: 604
 * connections with 100, 2-4 with this (the server allowing more). */
#define HL_POOL_STREAMS_DEFAULT 1000
/* The open-file budget the defaults derive from, fixed when the loop starts. */
static atomic_long fd_budget = 0;
/* opt_dns holds a user value (-1, "forever", is a valid one). */
static atomic_bool dns_set;

static long current_fd_budget(void) {
  long b = atomic_load(&fd_budget);
  if (b > 0) return b;
  struct rlimit rl;
  long soft = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    soft = rl.rlim_cur > 1000000 ? 1000000 : (long)rl.rlim_cur;
  else if (rl.rlim_cur == RLIM_INFINITY)
    soft = 1000000;
  b = soft / 4 * 3;
  return b < 16 ? 16 : b;
}

void hl__engine_limits(hl__pool_limits *o) {
  long budget = current_fd_budget();
  long v;
  o->max_host_connections = (v = atomic_load(&opt_host)) >= 0 ? v : budget;
  o->max_total_connections = (v = atomic_load(&opt_total)) >= 0 ? v : budget;
  o->max_idle_connections = (v = atomic_load(&opt_idle)) >= 0 ? v : budget;
  o->dns_cache_seconds = atomic_load(&dns_set) ? atomic_load(&opt_dns) : 60;
  o->multiplex = (v = atomic_load(&opt_mux)) >= 0 ? v != 0 : true;
  o->max_streams = (v = atomic_load(&opt_streams)) >= 0 ? v : HL_POOL_STREAMS_DEFAULT;
}

static void apply_limits(struct engine *eng);

hl_status hl_pool_setopt(hl_pool_option option, long value) {
  switch (option) {
  case HL_POOL_MAX_HOST_CONNECTIONS:
  case HL_POOL_MAX_TOTAL_CONNECTIONS:
    if (value < 0) return hl_fail(HL_ERR_INVALID, "pool: a connection cap must be >= 0 (0 = none), not %ld", value);
    atomic_store(option == HL_POOL_MAX_HOST_CONNECTIONS ? &opt_host : &opt_total, value);
    break;
  case HL_POOL_MAX_IDLE_CONNECTIONS:
    if (value < 1) return hl_fail(HL_ERR_INVALID, "pool: idle connections kept must be >= 1, not %ld", value);
    atomic_store(&opt_idle, value);
    break;
  case HL_POOL_DNS_CACHE_SECONDS:
    if (value < -1) return hl_fail(HL_ERR_INVALID, "pool: DNS cache seconds must be >= -1, not %ld", value);
    atomic_store(&opt_dns, value);
    atomic_store(&dns_set, true);
    break;
  case HL_POOL_MULTIPLEX:
    if (value != 0 && value != 1) return hl_fail(HL_ERR_INVALID, "pool: multiplex is 0 or 1, not %ld", value);
    atomic_store(&opt_mux, value);
    break;
  case HL_POOL_MAX_STREAMS:
    if (value < 1 || value > 2147483647L)
      return hl_fail(HL_ERR_INVALID, "pool: HTTP/2 streams per connection must be from 1 to 2147483647, not %ld",
                     value);
    atomic_store(&opt_streams, value);
    break;
  default:
    return hl_fail(HL_ERR_INVALID, "pool: unknown option %d", (int)option);
  }
  if (atomic_load(&started))
    for (int i = 0; i < n_loops; i++) hl__engine_post_to(i, &loops[i].limits_task);
  return HL_OK;
}

hl_status hl_pool_getopt(hl_pool_option option, long *value) {
  if (!value) return hl_fail(HL_ERR_INVALID, "pool: NULL value");
  hl__pool_limits l;
  hl__engine_limits(&l);
  switch (option) {
  case HL_POOL_MAX_HOST_CONNECTIONS: *value = l.max_host_connections; break;
  case HL_POOL_MAX_TOTAL_CONNECTIONS: *value = l.max_total_connections; break;
  case HL_POOL_MAX_IDLE_CONNECTIONS: *value = l.max_idle_connections; break;
  case HL_POOL_DNS_CACHE_SECONDS: *value = l.dns_cache_seconds; break;
  case HL_POOL_MULTIPLEX: *value = l.multiplex ? 1 : 0; break;
  case HL_POOL_MAX_STREAMS: *value = l.max_streams; break;
  default: return hl_fail(HL_ERR_INVALID, "pool: unknown option %d", (int)option);
  }
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Timers: a binary min-heap of due times                               */
/* ------------------------------------------------------------------ */

int64_t hl__engine_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void heap_set(size_t i, hl__timer *t) {
  E.heap[i] = t;
  t->slot_ = i + 1;
}

static void heap_up(size_t i) {
  hl__timer *t = E.heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (E.heap[p]->due_ms_ <= t->due_ms_) break;
    heap_set(i, E.heap[p]);
    i = p;
  }
  heap_set(i, t);
}

static void heap_down(size_t i) {
  hl__timer *t = E.heap[i];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    int64_t best = t->due_ms_;
    if (l < E.n_heap && E.heap[l]->due_ms_ < best) m = l, best = E.heap[l]->due_ms_;
    if (r < E.n_heap && E.heap[r]->due_ms_ < best) m = r;
    if (m == i) break;
    heap_set(i, E.heap[m]);
    i = m;
  }
  heap_set(i, t);
}

void hl__engine_timer_disarm(hl__timer *t) {
  if (!t || !t->slot_) return;
  size_t i = t->slot_ - 1;
  t->slot_ = 0;
  E.n_heap--;
  if (i == E.n_heap) return;
  hl__timer *last = E.heap[E.n_heap];
  heap_set(i, last);
  heap_up(i);
  heap_down(last->slot_ - 1);
}

void hl__engine_timer_arm(hl__timer *t, int64_t due_ms) {
  hl__engine_timer_disarm(t);
  if (E.n_heap == E.cap_heap) {
    size_t nc = E.cap_heap ? E.cap_heap * 2 : 256;
    hl__timer **nh = realloc(E.heap, nc * sizeof *nh);
    if (!nh) {
      /* Cannot happen in practice (a few pointers); fire at once rather
       * than lose the timer. */
      t->fn(t);
      return;
    }
    E.heap = nh;
    E.cap_heap = nc;
  }
  t->due_ms_ = due_ms;
  heap_set(E.n_heap++, t);
  heap_up(E.n_heap - 1);
}

/* ------------------------------------------------------------------ */
/* libcurl callbacks: which sockets to watch, when to time out           */
/* ------------------------------------------------------------------ */

/* epoll data: the partition in the high half, the socket in the low one;
 * the eventfd is EVFD_TAG; a watch (hl__watch) is its address with the top
 * bit set (user-space addresses never have it); SKIP_TAG marks an event of
 * a watch removed during the wake-up that fetched it. */
#define EVFD_TAG UINT64_MAX
#define SKIP_TAG (UINT64_MAX - 1)
#define WATCH_BIT ((uint64_t)1 << 63)

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  part *pt = userp;
  if (what == CURL_POLL_REMOVE) {
    if (socketp) epoll_ctl(E.epfd, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(pt->multi, s, NULL);
    return 0;
  }
  /* A transfer has one connection: the socket it waits on last is the
   * one it leaves idle, which the reuse guard records if it served
   * HTTP/1.x (libcurl's CURLINFO_ACTIVESOCKET would walk the whole
   * connection cache to find it). */
  engine_xfer *x = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  if (x) x->sock = s;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.data.u64 = ((uint64_t)(pt - E.parts) << 32) | (uint32_t)s;
  /* on_socket runs inside a socket_action of this thread's loop. */
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev.events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev.events |= EPOLLOUT;
  if (socketp) {
    if (epoll_ctl(E.epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
      epoll_ctl(E.epfd, EPOLL_CTL_ADD, s, &ev);
  } else {
    if (epoll_ctl(E.epfd, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST)
      epoll_ctl(E.epfd, EPOLL_CTL_MOD, s, &ev);
    curl_multi_assign(pt->multi, s, (void *)1);
  }
  return 0;
}

curl_socket_t hl__engine_socket(CURL *easy) {
  engine_xfer *x = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  return x ? x->sock : CURL_SOCKET_BAD;
}

/* `pt` may have a transfer or a curl timeout from now on: its loop's
 * scans reach it (parts_hi). */
static void part_used(part *pt) {
  int hi = (int)(pt - pt->eng->parts) + 1;
  if (hi > pt->eng->parts_hi) pt->eng->parts_hi = hi;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  part *pt = userp;
  if (timeout_ms >= 0) part_used(pt);
  pt->curl_due_ms = timeout_ms < 0 ? -1 : hl__engine_now_ms() + timeout_ms;
  return 0;
}

/* A transfer on `easy` ended well on socket `sock`: its connection, idle
 * in the pool now, goes to the reuse guard if its response was HTTP/1.x
 * (whatever the transfer asked for: ALPN may have picked HTTP/1.1). Never
 * an HTTP/2 connection: streams in flight share it (reuse_guard.h). */
static void left_idle(CURL *easy, curl_socket_t sock) {
  long version = 0, local_port = 0;
  if (curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version) != CURLE_OK ||
      (version != CURL_HTTP_VERSION_1_0 && version != CURL_HTTP_VERSION_1_1))
    return;
  if (curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &local_port) == CURLE_OK)
    hl__reuse_guard_idle(&E.guard, sock, local_port);
}

/* Hand finished transfers of `pt` to their owners. */
static void read_done(part *pt) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(pt->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *easy = m->easy_handle;
    CURLcode rc = m->data.result;
    engine_xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (x && rc == CURLE_OK) left_idle(easy, x->sock);
    curl_multi_remove_handle(pt->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    pt->running--;
    if (x) {
      hl__engine_done_fn done = x->done;
      void *user = x->user;
      free(x);
      done(easy, rc, user);
    }
  }
}

static void read_all_done(void) {
  /* A partition with no transfer has nothing to report: skipping it keeps
   * a wake-up for something else (a watched pipe) from asking libcurl 32
   * times. */
  for (int i = 0; i < E.parts_hi; i++)
    if (E.parts[i].multi && E.parts[i].running > 0) read_done(&E.parts[i]);
}

static void socket_action(part *pt, curl_socket_t s, int mask) {
  int running = 0;
  curl_multi_socket_action(pt->multi, s, mask, &running);
}

/* Fill-first: the first partition in use with room, else the least busy.
 * A transfer that may multiplex finds less room in a partition not
 * settled yet (the start-up burst, at the top); one that cannot, at most
 * HL_ENGINE_PART_H1. */
static part *pick_part(bool mux) {
  int cold = E.part_room < HL_ENGINE_COLD_STREAMS ? E.part_room : HL_ENGINE_COLD_STREAMS;
  int h1 = E.part_room < HL_ENGINE_PART_H1 ? E.part_room : HL_ENGINE_PART_H1;
  part *best = &E.parts[0];
  for (int i = 0; i < E.n_parts; i++) {
    part *pt = &E.parts[i];
    if (pt->running < (!mux ? h1 : pt->settled ? E.part_room : cold)) return pt;
    if (pt->running < best->running) best = pt;
  }
  return best;
}

/* ------------------------------------------------------------------ */
/* Transfers                                                            */
/* ------------------------------------------------------------------ */

/* CURLOPT_PREREQFUNCTION of every transfer: a connection picked from the
 * pool that the reuse guard recorded (an idle HTTP/1.x one) is checked
 * before the request is sent (reuse_guard.h). Never refuses: a connection
 * found bad is shut down, and libcurl sends the request again on a new
 * one. */
static int on_prereq(void *xfer, char *peer_ip, char *local_ip, int peer_port, int local_port) {
  engine_xfer *x = xfer;
  hl__reuse_guard_check(&E.guard, x->easy, peer_ip, local_ip, peer_port, local_port);
  if (x->before_send && !x->before_send(x->easy, x->user)) return CURL_PREREQFUNC_ABORT;
  return CURL_PREREQFUNC_OK;
}

hl_status hl__engine_add(CURL *easy, bool mux, hl__engine_done_fn done, void *user,
                         hl__engine_send_fn before_send, char *why, size_t why_size) {
  engine_xfer *x = malloc(sizeof *x);
  if (!x) {
    if (why) snprintf(why, why_size, "out of memory");
    return HL_ERR_NOMEM;
  }
  part *pt = pick_part(mux);
  part_used(pt);
  x->done = done;
  x->user = user;
  x->before_send = before_send;
  x->easy = easy;
  x->part = (int)(pt - E.parts);
  x->mux = mux;
  x->sock = CURL_SOCKET_BAD;
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_prereq);
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, x);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
  CURLMcode mc = curl_multi_add_handle(pt->multi, easy);
  if (mc != CURLM_OK) {
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(x);
    if (why) snprintf(why, why_size, "%s", curl_multi_strerror(mc));
    return HL_ERR_NETWORK;
  }
  pt->running++;
  return HL_OK;
}

void hl__engine_remove(CURL *easy) {
  engine_xfer *x = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  if (!x) return;
  part *pt = &E.parts[x->part];
  curl_multi_remove_handle(pt->multi, easy);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
  pt->running--;
  free(x);
}

void hl__engine_settled(CURL *easy) {
  engine_xfer *x = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
  if (x && x->mux) E.parts[x->part].settled = true;
}

void hl__engine_unpause(CURL *easy) { curl_easy_pause(easy, CURLPAUSE_CONT); }

/* One libcurl share of TLS sessions for every easy handle of every loop.
 * Without it libcurl 7.88 gives each easy handle a session cache of its
 * own (5 entries, ~840 bytes, allocated at its first transfer even over
 * http://): 0.8 KB per request in flight, and a TLS session learnt by one
 * handle could not be resumed by another. The loops are threads: the
 * share's locks are mutexes. Set up once (hl__engine_start); NULL if
 * libcurl could not make it, then each handle keeps its own cache. */
static CURLSH *tls_share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

static pthread_mutex_t *share_mutex(curl_lock_data d) {
  return &share_locks[d >= 0 && d < CURL_LOCK_DATA_LAST ? d : CURL_LOCK_DATA_SHARE];
}
static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u) {
  (void)h;
  (void)a;
  (void)u;
  pthread_mutex_lock(share_mutex(d));
}
static void share_unlock(CURL *h, curl_lock_data d, void *u) {
  (void)h;
  (void)u;
  pthread_mutex_unlock(share_mutex(d));
}

/* Under start_lock, once. */
static void tls_share_init(void) {
  if (tls_share) return;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&share_locks[i], NULL);
  CURLSH *sh = curl_share_init();
  if (!sh) return;
  if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
      curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
      curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
    curl_share_cleanup(sh);
    return;
  }
  tls_share = sh;
}

CURL *hl__engine_easy_get(unsigned shape) {
  if (E.n_spare > 0) {
    /* curl_easy_reset() keeps the handle's share. */
    CURL *e = E.spare[--E.n_spare];
    if (shape == 0 || E.spare_shape[E.n_spare] != shape) curl_easy_reset(e);
    return e;
  }
  CURL *e = curl_easy_init();
  /* Before its first transfer, which would allocate a cache of its own. */
  if (e && tls_share) curl_easy_setopt(e, CURLOPT_SHARE, tls_share);
  return e;
}

void hl__engine_easy_put(CURL *easy, unsigned shape) {
  if (!easy) return;
  if (E.n_spare < HL_ENGINE_SPARE_EASY) {
    E.spare_shape[E.n_spare] = shape;
    E.spare[E.n_spare++] = easy;
  } else {
    curl_easy_cleanup(easy);
  }
}

/* ------------------------------------------------------------------ */
/* Watched descriptors (loop thread only)                               */
/* ------------------------------------------------------------------ */

/* Watches live on loops[0] only. */
hl_status hl__engine_watch(hl__watch *w, int fd, uint32_t events) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = WATCH_BIT | (uint64_t)(uintptr_t)w;
  if (epoll_ctl(L0.epfd, w->on_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
    return hl_fail(HL_ERR_IO, "event loop: cannot watch descriptor %d: %s", fd, strerror(errno));
  if (!w->on_) L0.n_watch++;
  w->fd_ = fd;
  w->on_ = true;
  return HL_OK;
}

hl_status hl__engine_watch_events(hl__watch *w, uint32_t events) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u64 = WATCH_BIT | (uint64_t)(uintptr_t)w;
  if (epoll_ctl(L0.epfd, EPOLL_CTL_MOD, w->fd_, &ev) != 0)
    return hl_fail(HL_ERR_IO, "event loop: cannot change the watch of descriptor %d: %s", w->fd_, strerror(errno));
  return HL_OK;
}

void hl__engine_unwatch(hl__watch *w) {
  if (!w || !w->on_) return;
  epoll_ctl(L0.epfd, EPOLL_CTL_DEL, w->fd_, NULL);
  w->on_ = false;
  L0.n_watch--;
  uint64_t tag = WATCH_BIT | (uint64_t)(uintptr_t)w;
  for (int i = L0.cur_next; i < L0.cur_n; i++)
    if (L0.cur_evs[i].data.u64 == tag) L0.cur_evs[i].data.u64 = SKIP_TAG;
}

/* ------------------------------------------------------------------ */
/* Tasks                                                                */
/* ------------------------------------------------------------------ */

static void wake_loop(engine *eng) {
  uint64_t one = 1;
  ssize_t w;
  do w = write(eng->evfd, &one, sizeof one);
  while (w < 0 && errno == EINTR);
}

/* Push an already claimed task (queued_ set) onto `eng`'s stack. */
static void push_task(engine *eng, hl__task *task) {
  hl__task *old = atomic_load_explicit(&eng->posted, memory_order_relaxed);
  do task->next_ = old;
  while (!atomic_compare_exchange_weak_explicit(&eng->posted, &old, task, memory_order_release,
                                                memory_order_relaxed));
  /* One write wakes the loop for the whole batch: the driver takes the
   * stack after reading the eventfd (or at the start of a turn), so only
   * the post onto an empty one needs it. */
  if (old == NULL) wake_loop(eng);
}

bool hl__engine_post_to(int loop, hl__task *task) {
  bool expected = false;
  if (!atomic_compare_exchange_strong(&task->queued_, &expected, true)) return false;
  if (loop < 0 || loop >= n_loops) loop = 0;
  push_task(&loops[loop], task);
  return true;
}

bool hl__engine_post(hl__task *task) { return hl__engine_post_to(0, task); }

int hl__engine_loop_of(const void *key) {
  int n = atomic_load_explicit(&n_active, memory_order_relaxed);
  if (n <= 1 || !key) return 0;
  /* A multiplicative hash of the address: allocations are 16-byte
   * aligned, the low bits say nothing. */
  uint64_t h = ((uint64_t)(uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ull;
  return (int)((h >> 32) % (uint64_t)n);
}

int hl__engine_current(void) { return cur ? cur->index : -1; }

/* Its address is the calling thread's key. */
static _Thread_local char tl_key;

int hl__engine_thread_loop(void) { return hl__engine_loop_of(&tl_key); }

int hl__engine_loops(void) { return atomic_load_explicit(&started, memory_order_acquire) ? n_loops : 1; }

void *hl__engine_calls(void) { return &E.calls; }

/* A stack of tasks (newest first) turned into posting order. */
static hl__task *oldest_first(hl__task *top) {
  hl__task *t = NULL;
  while (top) {
    hl__task *next = top->next_;
    top->next_ = t;
    t = top;
    top = next;
  }
  return t;
}

/* Run a stack of tasks (newest first) in posting order. */
static void run_list(hl__task *top) {
  hl__task *t = oldest_first(top);
  while (t) {
    hl__task *next = t->next_;
    /* Cleared before running: a post made while fn runs queues it again. */
    atomic_store(&t->queued_, false);
    t->fn(t);
    t = next;
  }
}

/* Take the posted stack and run it; `reset`: the eventfd said so (read it). */
static void run_tasks(bool reset) {
  if (reset) {
    uint64_t n;
    ssize_t r;
    do r = read(E.evfd, &n, sizeof n);
    while (r < 0 && errno == EINTR);
  }
  run_list(atomic_exchange_explicit(&E.posted, NULL, memory_order_acquire));
}

/* ------------------------------------------------------------------ */
/* Who drives: the loop thread, or a blocking caller (see engine.h)      */
/* ------------------------------------------------------------------ */

/* This thread's deferred tasks (newest first) and whether it defers. */
static _Thread_local bool tl_defer;
static _Thread_local hl__task *tl_deferred;
/* This thread holds the baton through hl__engine_drive_begin(), and the
 * loop it drove before (none: NULL). */
static _Thread_local bool tl_driving;
static _Thread_local engine *tl_prev;

void hl__engine_defer(bool on) { tl_defer = on; }

bool hl__engine_post_deferrable(hl__task *task, int loop) {
  if (!tl_defer) return hl__engine_post_to(loop, task);
  bool expected = false;
  if (!atomic_compare_exchange_strong(&task->queued_, &expected, true)) return false;
  /* A blocking caller's request: its thread's loop (see engine.h). */
  task->loop_ = hl__engine_thread_loop();
  task->next_ = tl_deferred;
  tl_deferred = task;
  return true;
}

/* Hand this thread's deferred tasks to whoever drives. */
static void post_deferred(void) {
  hl__task *t = oldest_first(tl_deferred);
  tl_deferred = NULL;
  while (t) {
    hl__task *next = t->next_;
    atomic_store(&t->queued_, false);
    hl__engine_post_to(t->loop_, t);
    t = next;
  }
}

/* Nothing in flight: no transfer, timer, watched descriptor or posted task
 * (baton held). */
static bool loop_idle(engine *eng) {
  if (eng->n_heap > 0 || eng->n_watch > 0 || atomic_load_explicit(&eng->posted, memory_order_acquire))
    return false;
  for (int i = 0; i < eng->parts_hi; i++)
    if (eng->parts[i].running > 0) return false;
  return true;
}

static void loop_turn(bool block);

bool hl__engine_drive_begin(void) {
  /* This thread's loop: where its deferred tasks go otherwise. */
  engine *eng = &loops[hl__engine_thread_loop()];
  if (tl_driving || !atomic_load_explicit(&started, memory_order_acquire) ||
      atomic_load(&external) || pthread_mutex_trylock(&eng->drive_lock) != 0) {
    post_deferred();
    return false;
  }
  tl_driving = true;
  tl_prev = cur;
  cur = eng;
  hl__task *mine = tl_deferred;
  tl_deferred = NULL;
  run_list(mine);
  return true;
}

void hl__engine_drive_turn(void) { loop_turn(true); }

void hl__engine_drive_end(void) {
  engine *eng = cur;
  bool idle = loop_idle(eng);
  tl_driving = false;
  cur = tl_prev;
  pthread_mutex_unlock(&eng->drive_lock);
  /* Work left (other requests, timers): the loop thread takes over. */
  if (!idle) wake_loop(eng);
}

void hl__engine_wake_driver(int loop) {
  if (loop < 0 || loop >= n_loops) loop = 0;
  if (!(tl_driving && cur == &loops[loop]) && atomic_load_explicit(&started, memory_order_acquire))
    wake_loop(&loops[loop]);
}

/* ------------------------------------------------------------------ */
/* The loop                                                             */
/* ------------------------------------------------------------------ */

static long share_of(long cap, int parts) { return cap > 0 ? (cap + parts - 1) / parts : 0; }

/* How many loops and partitions the caps allow and what each partition
 * gets (see the top): a cap is split over every partition of every loop
 * in use, each getting at least HL_ENGINE_PART_MIN of it, so that a small
 * cap keeps one loop and one partition and holds exactly. */
static void apply_limits(engine *eng) {
  hl__pool_limits l;
  hl__engine_limits(&l);
  long cap = 0;
  if (l.max_host_connections > 0) cap = l.max_host_connections;
  if (l.max_total_connections > 0 && (cap == 0 || l.max_total_connections < cap))
    cap = l.max_total_connections;
  int k = n_loops, n = HL_ENGINE_PARTS;
  if (cap > 0) {
    long fit = cap / HL_ENGINE_PART_MIN;
    if (fit < 1) fit = 1;
    if (fit < k) k = (int)fit;
    long per = fit / k;
    n = per > HL_ENGINE_PARTS ? HL_ENGINE_PARTS : (int)per;
  }
  long host = share_of(l.max_host_connections, k * n), total = share_of(l.max_total_connections, k * n);
  long idle = share_of(l.max_idle_connections, k * n);
  for (int i = 0; i < HL_ENGINE_PARTS; i++) {
    CURLM *m = eng->parts[i].multi;
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, host);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, total);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, idle > 0 ? idle : 1L);
    curl_multi_setopt(m, CURLMOPT_PIPELINING, l.multiplex ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
    curl_multi_setopt(m, CURLMOPT_MAX_CONCURRENT_STREAMS, l.max_streams);
  }
  eng->n_parts = n;
  long room = cap > 0 ? (host > 0 && (total == 0 || host < total) ? host : total) : HL_ENGINE_PART_DEFAULT;
  /* No more transfers per partition than streams per connection: a
   * partition's transfers then fit one HTTP/2 connection, and libcurl
   * 7.88 never finds it full (a full one makes it open a connection per
   * transfer while the next one's handshake runs). So an application
   * that sets HL_POOL_MAX_STREAMS to its server's limit gets one
   * connection per partition in use. */
  if (l.multiplex && l.max_streams < room) room = l.max_streams;
  eng->part_room = room > 0 ? (int)room : 1;
  eng->applied = l;
  atomic_store_explicit(&n_active, k, memory_order_relaxed);
}

static void limits_task_fn(hl__task *t) {
  apply_limits((engine *)((char *)t - offsetof(engine, limits_task)));
}

static void run_timers(int64_t now) {
  while (E.n_heap > 0 && E.heap[0]->due_ms_ <= now) {
    hl__timer *t = E.heap[0];
    hl__engine_timer_disarm(t);
    t->fn(t);
  }
}

static int wait_ms(int64_t now) {
  int64_t due = -1;
  for (int i = 0; i < E.parts_hi; i++) {
    int64_t d = E.parts[i].curl_due_ms;
    if (d >= 0 && (due < 0 || d < due)) due = d;
  }
  if (E.n_heap > 0 && (due < 0 || E.heap[0]->due_ms_ < due)) due = E.heap[0]->due_ms_;
  if (due < 0) return -1;
  int64_t d = due - now;
  if (d <= 0) return 0;
  return d > 3600000 ? 3600000 : (int)d;
}

/* One turn of the loop (baton held): the tasks posted so far, then wait
 * (if `block`, until the next deadline; else not at all) for ready
 * sockets, posted tasks or a deadline, and do what is due. */
static void loop_turn(bool block) {
  /* The runs whose transfers end in this turn each schedule their next
   * step on the worker pool: held until the end of the turn (and before
   * the wait) and queued at once, with one lock and the wake-ups the
   * whole batch needs, instead of a lock and a wake-up per transfer that
   * the woken workers then contended for with this thread (issue 12:
   * futex calls per session). */
  hl__jobs_hold();
  /* Tasks first: a driver that just took the baton, or a loop thread
   * whose wake-up was read by a driver, may have tasks but no eventfd
   * event to announce them. */
  if (atomic_load_explicit(&E.posted, memory_order_relaxed)) run_tasks(false);
  hl__jobs_release();
  int timeout_ms = block ? wait_ms(hl__engine_now_ms()) : 0;
  struct epoll_event evs[HL_ENGINE_EVENTS];
  int n = epoll_wait(E.epfd, evs, HL_ENGINE_EVENTS, timeout_ms);
  if (n < 0 && errno != EINTR) n = 0;
  hl__jobs_hold();
  E.cur_evs = evs;
  E.cur_n = n > 0 ? n : 0;
  for (int i = 0; i < n; i++) {
    E.cur_next = i + 1;
    if (evs[i].data.u64 == EVFD_TAG) {
      run_tasks(true);
      continue;
    }
    if (evs[i].data.u64 == SKIP_TAG) continue;
    if (evs[i].data.u64 & WATCH_BIT) {
      hl__watch *w = (hl__watch *)(uintptr_t)(evs[i].data.u64 & ~WATCH_BIT);
      w->fn(w, evs[i].events);
      continue;
    }
    int mask = 0;
    if (evs[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
    if (evs[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (evs[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
    uint64_t tag = evs[i].data.u64;
    socket_action(&E.parts[tag >> 32], (curl_socket_t)(uint32_t)tag, mask);
  }
  E.cur_n = 0; /* timers and tasks below unwatch with no batch pending */
  int64_t now = hl__engine_now_ms();
  for (int i = 0; i < E.parts_hi; i++) {
    part *pt = &E.parts[i];
    if (pt->curl_due_ms >= 0 && pt->curl_due_ms <= now) {
      pt->curl_due_ms = -1;
      socket_action(pt, CURL_SOCKET_TIMEOUT, 0);
    }
  }
  read_all_done();
  run_timers(now);
  /* Timers and tasks may have added transfers (their kick-off is a curl
   * timeout of 0, seen at the next turn) or finished some. */
  read_all_done();
  hl__jobs_release();
}

static void *loop_main(void *arg) {
  engine *eng = arg;
  cur = eng;
  pthread_mutex_lock(&eng->drive_lock);
  for (;;) {
    if (!loop_idle(eng)) {
      loop_turn(true);
      continue;
    }
    /* Idle: give the baton up, so that a lone blocking caller drives its
     * own request (no hand-off), and sleep until a post (or a driver
     * leaving work behind) writes the eventfd. The turn after waking
     * reads it, so that this wait does not spin. */
    pthread_mutex_unlock(&eng->drive_lock);
    struct pollfd pfd = {.fd = eng->evfd, .events = POLLIN};
    while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&eng->drive_lock);
    loop_turn(false);
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* An application's own loop (hookline/engine.h)                        */
/* ------------------------------------------------------------------ */

/* The application's thread is inside hl_engine_process() (one at a time). */
static atomic_flag processing = ATOMIC_FLAG_INIT;

hl_status hl_engine_use_external_loop(void) {
  pthread_mutex_lock(&start_lock);
  bool already = atomic_load(&started);
  if (!already) atomic_store(&external, true);
  pthread_mutex_unlock(&start_lock);
  if (already && !atomic_load(&external))
    return hl_fail(HL_ERR_STATE,
                   "hl_engine_use_external_loop: the library's loop thread already runs "
                   "(call it before the first request)");
  return HL_OK;
}

int hl_engine_fd(void) {
  if (!atomic_load(&external)) {
    hl_fail(HL_ERR_STATE, "hl_engine_fd: the library runs its own loop "
                          "(call hl_engine_use_external_loop() first)");
    return -1;
  }
  if (hl__engine_start() != HL_OK) return -1;
  return L0.epfd;
}

long hl_engine_timeout_ms(void) {
  if (!atomic_load(&external) || hl__engine_start() != HL_OK) return -1;
  engine *prev = cur;
  cur = &L0;
  long ms = wait_ms(hl__engine_now_ms());
  cur = prev;
  return ms;
}

hl_status hl_engine_process(void) {
  if (!atomic_load(&external))
    return hl_fail(HL_ERR_STATE, "hl_engine_process: the library runs its own loop "
                                 "(call hl_engine_use_external_loop() first)");
  hl_status st = hl__engine_start();
  if (st != HL_OK) return st;
  if (atomic_flag_test_and_set(&processing))
    return hl_fail(HL_ERR_STATE, "hl_engine_process: already running on another thread");
  pthread_mutex_lock(&L0.drive_lock);
  engine *prev = cur;
  cur = &L0;
  loop_turn(false);
  cur = prev;
  pthread_mutex_unlock(&L0.drive_lock);
  atomic_flag_clear(&processing);
  return HL_OK;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_OK;
static void curl_init_once(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* How many loops to run: one per CPU (HL_ENGINE_MAX_LOOPS at most), or
 * HOOKLINE_EVENT_LOOPS; one when the application drives the loop. */
static int loops_wanted(void) {
  if (atomic_load(&external)) return 1;
  const char *env = getenv("HOOKLINE_EVENT_LOOPS");
  long n = 0;
  if (env && *env) {
    char *end;
    n = strtol(env, &end, 10);
    if (*end != '\0') n = 0;
  }
  if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  return n > HL_ENGINE_MAX_LOOPS ? HL_ENGINE_MAX_LOOPS : (int)n;
}

static void loop_cleanup(engine *eng) {
  for (int i = 0; i < HL_ENGINE_PARTS; i++)
    if (eng->parts[i].multi) curl_multi_cleanup(eng->parts[i].multi);
  if (eng->epfd >= 0) close(eng->epfd);
  if (eng->evfd >= 0) close(eng->evfd);
  pthread_mutex_destroy(&eng->drive_lock);
  memset(eng, 0, sizeof *eng);
}

/* Set up loops[i] (no thread yet); false with the reason in `why`. */
static bool loop_init(int i, char *why, size_t why_size) {
  engine *eng = &loops[i];
  memset(eng, 0, sizeof *eng);
  pthread_mutex_init(&eng->drive_lock, NULL);
  eng->index = i;
  eng->limits_task.fn = limits_task_fn;
  eng->epfd = epoll_create1(EPOLL_CLOEXEC);
  eng->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  bool multis = true;
  for (int k = 0; k < HL_ENGINE_PARTS; k++) {
    part *pt = &eng->parts[k];
    pt->eng = eng;
    pt->curl_due_ms = -1;
    pt->multi = curl_multi_init();
    if (!pt->multi) {
      multis = false;
      continue;
    }
    curl_multi_setopt(pt->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(pt->multi, CURLMOPT_SOCKETDATA, pt);
    curl_multi_setopt(pt->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(pt->multi, CURLMOPT_TIMERDATA, pt);
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EVFD_TAG};
  if (eng->epfd < 0 || eng->evfd < 0 || !multis ||
      epoll_ctl(eng->epfd, EPOLL_CTL_ADD, eng->evfd, &ev) != 0) {
    snprintf(why, why_size, "%s", multis ? strerror(errno) : "curl_multi_init failed");
    loop_cleanup(eng);
    return false;
  }
  return true;
}

static bool spawn(pthread_t *th, void *(*fn)(void *), void *arg, int *err) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  *err = pthread_create(th, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  return *err == 0;
}

hl_status hl__engine_start(void) {
  if (atomic_load_explicit(&started, memory_order_acquire)) return HL_OK;
  pthread_mutex_lock(&start_lock);
  hl_status st = HL_OK;
  char why[256];
  int err = 0;
  if (atomic_load(&started)) goto out;
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_result != CURLE_OK) {
    st = hl_fail(HL_ERR_NETWORK, "libcurl initialisation failed: %s",
                 curl_easy_strerror(curl_init_result));
    goto out;
  }
  tls_share_init();
  if (!loop_init(0, why, sizeof why)) {
    st = hl_fail(HL_ERR_NETWORK, "http engine: cannot set up the event loop: %s", why);
    goto out;
  }
  n_loops = 1;
  atomic_store(&fd_budget, current_fd_budget());
  if (atomic_load(&external)) {
    /* The application drives the loop (hl_engine_process()). */
    apply_limits(&L0);
    atomic_store_explicit(&started, true, memory_order_release);
    goto out;
  }
  /* More loops: a loop that cannot be set up or started is done without
   * (fewer loops serve the same requests). Limits are applied before a
   * loop's thread starts, so that its first transfer has them. */
  int want = loops_wanted();
  while (n_loops < want && loop_init(n_loops, why, sizeof why)) n_loops++;
  int planned = n_loops;
  for (int i = 0; i < n_loops; i++) apply_limits(&loops[i]);
  if (!spawn(&L0.thread, loop_main, &L0, &err)) {
    for (int i = 0; i < planned; i++) loop_cleanup(&loops[i]);
    n_loops = 1;
    st = hl_fail(HL_ERR_NETWORK, "http engine: cannot start the loop thread: %s", strerror(err));
    goto out;
  }
  for (int i = 1; i < planned; i++) {
    if (!spawn(&loops[i].thread, loop_main, &loops[i], &err)) {
      for (int k = i; k < planned; k++) loop_cleanup(&loops[k]);
      n_loops = i;
      /* The caps are split over fewer loops: the started ones apply them
       * again on their own threads. */
      for (int k = 0; k < n_loops; k++) hl__engine_post_to(k, &loops[k].limits_task);
      break;
    }
  }
  atomic_store_explicit(&started, true, memory_order_release);
out:
  pthread_mutex_unlock(&start_lock);
  return st;
}
