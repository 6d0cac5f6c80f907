/*
 * net/engine.h - the process's one event loop for HTTP: a thread
 * driving the libcurl multi handle of the process's one connection pool
 * (and DNS cache) for every HTTP request of the library (the model
 * providers, MCP, OAuth), with epoll, an eventfd for wake-ups and a timer
 * heap. Beyond ~500 transfers at once the pool spreads over more multi
 * handles of the same loop (engine.c says why: libcurl 7.88 scans its
 * connection cache per transfer). No polling interval: the loop sleeps
 * until a socket is ready, a timer is due or another thread posts work.
 * It also watches other descriptors for the library (hl__watch: the pipes
 * of MCP stdio servers), so that they need no thread of their own.
 *
 * "The loop thread" below is whichever thread drives the loop at the
 * moment: the library's loop thread, a blocking caller that drives it
 * while nothing else is in flight (below), or in external mode
 * (hookline/engine.h) the application's thread inside hl_engine_process().
 * One thread at a time (a mutex, "the baton").
 *
 * Who drives, and why: a blocking call (hl__http_request_send(), a
 * blocking hl_agent_run()) that handed its request to the loop thread and
 * slept until the loop thread woke it paid two thread hand-offs per
 * request (measured: 40-55 us per request on a loaded 2-core machine,
 * against ~8 us for a raw libcurl loop). So the loop thread gives the
 * baton up whenever nothing is in flight (no transfer, timer, watched
 * descriptor or posted task) and sleeps on the eventfd; a blocking caller
 * that finds the baton free drives the loop on its own thread until its
 * own request is done (hl__engine_drive_*), then hands any work it leaves
 * in flight back to the loop thread. Everything else is as before: with
 * anything in flight the loop thread holds the baton and callers post to
 * it.
 *
 * More than one loop. One loop thread does every socket operation of
 * every request (send, recv, connect, epoll_ctl: most of a slow-model
 * server's client CPU), so with thousands of requests at once it was the
 * wall-time limit (concurrent_slow, 10,000 sessions: 71% of the process's
 * CPU on that one thread). So the engine runs one loop per CPU (at most
 * HL_ENGINE_MAX_LOOPS in engine.c; HOOKLINE_EVENT_LOOPS=N sets it), each a
 * thread with its own epoll, multi handles, timers and posted tasks.
 * Every loop has its own baton: a blocking caller drives (or posts to)
 * its thread's loop (hl__engine_thread_loop()), so that one thread's
 * requests, streamed or not, share one loop's connections. An
 * asynchronous run's requests go to its context's loop
 * (hl__engine_loop_of()). loops[0] alone does the rest: external mode,
 * watched descriptors, hl__engine_post(). The connection caps are split
 * over the loops in use; a cap too small to split keeps everything on
 * loops[0]. In external mode there is one loop.
 *
 * What runs where:
 *  - hl__engine_post() is the only entry from other threads: it queues a
 *    task whose function then runs on the loop thread;
 *  - everything else here (timers, adding and removing easy handles, the
 *    multi handle itself) is for code already running on the loop thread:
 *    task functions, timer functions and transfer-done callbacks.
 *
 * Internal to the library (http.c builds requests on it).
 */
#ifndef HL_NET_ENGINE_H
#define HL_NET_ENGINE_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hookline/status.h"

/* A unit of work posted to the loop. Embed it in your own struct. `fn`
 * runs once per successful post, on the loop thread. Posting a task that
 * is already queued does nothing (and returns false). */
typedef struct hl__task {
  void (*fn)(struct hl__task *task);
  struct hl__task *next_;   /* private */
  atomic_bool queued_;      /* private */
  int loop_;                /* private: where a deferred task goes */
} hl__task;

/* A one-shot timer of the loop. Zero-initialise; set `fn`. */
typedef struct hl__timer {
  void (*fn)(struct hl__timer *timer);
  int64_t due_ms_;          /* private: monotonic ms */
  size_t slot_;             /* private: heap index + 1, 0 = not armed */
} hl__timer;

/* A file descriptor the loop watches next to curl's sockets (the pipes of
 * MCP stdio servers). Zero-initialise; set `fn`. Level-triggered: `fn`
 * runs on the loop thread, with the ready epoll events (EPOLLIN, EPOLLHUP,
 * ...), for as long as the descriptor stays ready; it may unwatch any
 * watch, itself included (no stale event of the same wake-up is
 * delivered afterwards). */
typedef struct hl__watch {
  void (*fn)(struct hl__watch *w, uint32_t events);
  int fd_;                  /* private: the descriptor while watched */
  bool on_;                 /* private: watched */
} hl__watch;

/* Called on the loop thread when an easy handle added with
 * hl__engine_add() finished (it is no longer in the multi handle). */
typedef void (*hl__engine_done_fn)(CURL *easy, CURLcode result, void *user);

/* Monotonic milliseconds (the timers' clock). */
int64_t hl__engine_now_ms(void);

/* Start the loop thread if it is not running yet. Thread-safe, cheap once
 * started. HL_OK, or an error with its message set (the thread, epoll or
 * libcurl could not be set up; a later call tries again). */
hl_status hl__engine_start(void);

/* Loops at most (engine.c runs one per CPU up to this). */
#define HL__ENGINE_MAX_LOOPS 4
/* Loops running (1 before the engine started); any thread. */
int hl__engine_loops(void);

/* Queue `task` for loops[0] (any thread; the loop must be started).
 * True if queued, false if it already was. */
bool hl__engine_post(hl__task *task);
/* The same for loop number `loop` (hl__engine_loop_of(); out of range:
 * loops[0]). Everything `fn` touches through the "loop thread only"
 * functions below is then that loop's. */
bool hl__engine_post_to(int loop, hl__task *task);
/* The loop for work keyed by `key` (any thread): the same key gives the
 * same loop while the caps do not change; 0 when one loop serves (NULL
 * key, one CPU, external mode, a small cap). */
int hl__engine_loop_of(const void *key);
/* hl__engine_loop_of() keyed by the calling thread: a blocking caller's
 * requests, one after the other on one thread, share a loop and so reuse
 * its connections. */
int hl__engine_thread_loop(void);
/* The loop this thread drives at the moment, or -1 (not a loop thread). */
int hl__engine_current(void);
/* Loop thread only: a pointer slot of the current loop for http.c's list
 * of live calls (NULL at first). */
void *hl__engine_calls(void);

/* Defer this thread's hl__engine_post_deferrable() calls (true) until its
 * next hl__engine_drive_begin(), which runs them itself when it gets the
 * baton and posts them otherwise; false stops deferring (what is deferred
 * stays). For a blocking caller about to wait for the request it starts:
 * waking the loop thread for it would cost the hand-off that driving
 * saves. Any thread; per thread. */
void hl__engine_defer(bool on);
/* hl__engine_post_to(loop, task), or deferred on this thread (above): a
 * deferred task runs on loops[0] if this thread gets the baton, else it is
 * posted to this thread's loop (hl__engine_thread_loop(): the thread waits
 * for it, as a blocking caller). So its function must not assume which loop runs it
 * (hl__engine_current() says). */
bool hl__engine_post_deferrable(hl__task *task, int loop);

/* Try to take the baton of this thread's loop: true when this thread now
 * drives it (the loop started, not in external mode, no other driver;
 * hl__engine_current() then says which loop), then its deferred tasks
 * have run; false otherwise, then they are posted. A true return
 * must be followed by hl__engine_drive_end() on the same thread; in
 * between, the thread calls hl__engine_drive_turn() and is "the loop
 * thread". Never hold the baton across anything that may block other
 * than the turn itself (hooks, tools, sinks): every request of the
 * process waits meanwhile. */
bool hl__engine_drive_begin(void);
/* One turn: wait for the next event or deadline, handle what is due. */
void hl__engine_drive_turn(void);
/* Give the baton back; if anything is still in flight, wake the loop
 * thread to take it. */
void hl__engine_drive_end(void);
/* Any thread: wake whoever drives loop `loop` (unless it is this thread),
 * so that a driver waiting in its turn for something that does not come
 * through that loop (a run's step scheduled from a worker or another
 * loop) looks again. */
void hl__engine_wake_driver(int loop);

/* ---- loop thread only --------------------------------------------- */

/* Arm (or re-arm) `t` to fire at `due_ms` (hl__engine_now_ms() clock). */
void hl__engine_timer_arm(hl__timer *t, int64_t due_ms);
/* Disarm `t` if armed. */
void hl__engine_timer_disarm(hl__timer *t);

/* Watch `fd` for `events` (EPOLLIN, EPOLLOUT; EPOLLHUP and EPOLLERR always
 * come). HL_ERR_IO if epoll refuses it (message set). Unwatch before
 * closing the descriptor or freeing `w`. */
hl_status hl__engine_watch(hl__watch *w, int fd, uint32_t events);
/* Stop watching (nothing if not watched). */
void hl__engine_unwatch(hl__watch *w);
/* Any thread, on a watch that stays watched meanwhile: change the events
 * it waits for (0: none for now, it stays registered). For a thread that
 * reads the descriptor itself for a while (an MCP call waiting for its
 * answer), so that the loop does not wake for it. */
hl_status hl__engine_watch_events(hl__watch *w, uint32_t events);

/* Add a configured easy handle; `done` runs when it finishes.
 * CURLOPT_PRIVATE and CURLOPT_PREREQFUNCTION/DATA belong to the engine.
 * `mux`: the transfer may become a stream of an HTTP/2 connection
 * (CURLOPT_PIPEWAIT set), which spreads a start-up burst over partitions
 * (engine.c). Whatever its HTTP version, a pooled HTTP/1.x connection it
 * would reuse is first checked for bytes the server sent unasked, and
 * dropped if it has any (reuse_guard.h). HL_ERR_NETWORK if libcurl
 * refuses (message in `why`, which may be NULL). */
/* `before_send` (may be NULL) runs on the loop thread, with `user`, each
 * time libcurl is about to send the request: the first time and every
 * resend on another connection (one that failed before any answer came,
 * or that the reuse guard dropped). false aborts the transfer
 * (CURLE_ABORTED_BY_CALLBACK). */
typedef bool (*hl__engine_send_fn)(CURL *easy, void *user);
hl_status hl__engine_add(CURL *easy, bool mux, hl__engine_done_fn done, void *user,
                         hl__engine_send_fn before_send, char *why, size_t why_size);
/* A transfer added with `mux` got its response headers (any HTTP version):
 * its connection's server SETTINGS are known, so its partition takes
 * transfers up to its full room again. Loop thread, from a header
 * callback; nothing for other transfers. */
void hl__engine_settled(CURL *easy);
/* Take an easy handle out of the multi handle before it finished (a
 * cancelled or abandoned transfer; its connection is closed). `done` is
 * not called. */
void hl__engine_remove(CURL *easy);
/* The socket libcurl last asked the loop to watch for a transfer added
 * with hl__engine_add() (its connection's), CURL_SOCKET_BAD before that;
 * libcurl's CURLINFO_ACTIVESOCKET knows it only once the transfer is
 * done. Loop thread. */
curl_socket_t hl__engine_socket(CURL *easy);
/* Resume a transfer paused by its write callback. */
void hl__engine_unpause(CURL *easy);

/* An easy handle from the engine's free list or a new one; NULL on
 * allocation failure. Give it back with hl__engine_easy_put().
 *
 * `shape` (never 0) names which of the options its caller sets only
 * sometimes it sets this time. A handle given back with the same shape
 * gets every option it holds set again, so it is not reset (libcurl's
 * options are sticky; curl_easy_reset() was ~2,900 instructions a
 * request, a tenth of the HTTP layer's cost beyond libcurl); any other
 * spare is reset first. Put with shape 0 a handle whose state is not
 * known (a transfer taken out before its end): it is reset when next
 * taken. Loop thread. */
CURL *hl__engine_easy_get(unsigned shape);
void hl__engine_easy_put(CURL *easy, unsigned shape);

/* The pool's limits as the loop applies them (see hookline/pool.h). */
typedef struct hl__pool_limits {
  long max_host_connections;  /* CURLMOPT_MAX_HOST_CONNECTIONS, 0 = none */
  long max_total_connections; /* CURLMOPT_MAX_TOTAL_CONNECTIONS, 0 = none */
  long max_idle_connections;  /* CURLMOPT_MAXCONNECTS */
  long dns_cache_seconds;     /* CURLOPT_DNS_CACHE_TIMEOUT for every request */
  bool multiplex;             /* CURLMOPT_PIPELINING = CURLPIPE_MULTIPLEX */
  long max_streams;           /* CURLMOPT_MAX_CONCURRENT_STREAMS */
} hl__pool_limits;

/* The limits in force (any thread; a snapshot). */
void hl__engine_limits(hl__pool_limits *out);

#endif
