/*
 * workers.c - the process-wide pool of threads that run parallel tool
 * calls.
 *
 * Creating two threads per model response costs more than the rest of an
 * agent turn, so helpers are kept and reused. The pool is elastic: when
 * a request for help finds fewer idle workers than tickets waiting, it
 * starts more. That keeps the promise that N tool calls of one response
 * really run at once (a tool may wait for its siblings), however many
 * agents are busy elsewhere. The caller always works on its own batch
 * too and withdraws tickets nobody picked up, so a batch completes even
 * when no helper ever comes (thread limit reached).
 *
 * The hand-off is built for cheap tools, the common case: a request wakes
 * one idle worker, and each worker that claims a ticket wakes the next
 * while tickets remain (a chain). When the caller finishes the whole
 * batch before anyone arrives, it withdraws the tickets and the rest of
 * the chain never wakes. Waiting for a helper that did arrive spins
 * briefly before sleeping: a helper that found the batch already done
 * leaves within a microsecond, and sleeping on a condition variable costs
 * two context switches and, on a busy machine, a scheduler delay.
 *
 * Even one wake-up costs more than a batch of cheap tools (on a virtual
 * machine, waking a thread on an idle CPU takes tens of microseconds), so
 * a batch expected to be cheap is queued without waking anyone
 * (`defer`): the caller usually finishes it alone and withdraws the
 * tickets. The promise of concurrency is kept by a watcher thread that,
 * while deferred batches keep coming, looks every HL_WATCH_TICK_NS for
 * tickets still waiting and wakes a worker for them; a call that waits
 * for its siblings gets them at most a tick later. The watcher sleeps
 * for good after HL_WATCH_LINGER_NS without a deferred batch. (A per-batch
 * timer would be exact, but arming and disarming one costs ~12 us on a
 * virtual machine, more than the wake-up it saves.)
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>

#include "agent/workers.h"

/* Past this many threads, callers do the remaining work themselves. */
#define HL_MAX_WORKERS 256

/* How long hl__workers_wait() polls before it sleeps. Long enough for a
 * helper to see the batch done and leave; short against any real tool. */
#define HL_WAIT_SPIN_NS 20000

/* How often the watcher looks for deferred tickets, and how long it keeps
 * looking after the last deferred batch. */
#define HL_WATCH_TICK_NS 1000000
#define HL_WATCH_LINGER_NS 200000000LL
#define HL_WATCH_MIN_AGE_NS 200000

#if defined(__x86_64__) || defined(__i386__)
#define hl_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define hl_cpu_relax() __asm__ __volatile__("yield")
#else
#define hl_cpu_relax() ((void)0)
#endif

typedef struct hl_pool {
  pthread_mutex_t lock;
  pthread_cond_t work; /* a ticket was queued, or stop */
  pthread_cond_t done; /* a helper finished its part of a batch */
  hl__help *head, *tail; /* requests with unclaimed tickets, FIFO */
  int queued;            /* unclaimed tickets in all requests */
  int idle, starting;    /* workers waiting / not yet waiting */
  bool stop;
  pthread_t threads[HL_MAX_WORKERS];
  int n_threads;
  /* The watcher of deferred tickets (see the top). */
  pthread_cond_t watch;     /* a deferred batch arrived, or stop */
  bool watcher_tried;       /* started, or failed to: then no deferral */
  bool watcher_running;
  bool watcher_asleep;      /* waiting on `watch`, not ticking */
  int64_t last_deferred_ns;
  pthread_t watcher;
} hl_pool;

static hl_pool hl_workers = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .watch = PTHREAD_COND_INITIALIZER,
};

static int64_t hl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void hl_unlink(hl_pool *p, hl__help *h) {
  hl__help **pp = &p->head, *prev = NULL;
  while (*pp && *pp != h) {
    prev = *pp;
    pp = &(*pp)->next_;
  }
  if (!*pp) return;
  *pp = h->next_;
  if (p->tail == h) p->tail = prev;
  h->next_ = NULL;
}

static void *hl_worker_main(void *arg) {
  hl_pool *p = arg;
  pthread_mutex_lock(&p->lock);
  p->starting--;
  for (;;) {
    while (!p->stop && !p->head) {
      p->idle++;
      pthread_cond_wait(&p->work, &p->lock);
      p->idle--;
    }
    if (!p->head) break; /* stop, and nothing left to help with */
    hl__help *h = p->head;
    h->queued_--;
    atomic_fetch_add_explicit(&h->active_, 1, memory_order_relaxed);
    p->queued--;
    if (h->queued_ == 0) hl_unlink(p, h);
    /* Pass the wake-up on while tickets remain (see the top). */
    if (p->queued > 0 && p->idle > 0) pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    h->fn(h->arg);
    pthread_mutex_lock(&p->lock);
    /* Last touch of h: once active_ is 0 its owner may free it. */
    if (atomic_fetch_sub_explicit(&h->active_, 1, memory_order_release) == 1)
      pthread_cond_broadcast(&p->done);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void *hl_watcher_main(void *arg) {
  hl_pool *p = arg;
  pthread_mutex_lock(&p->lock);
  while (!p->stop) {
    if (hl_now_ns() - p->last_deferred_ns > HL_WATCH_LINGER_NS) {
      p->watcher_asleep = true;
      pthread_cond_wait(&p->watch, &p->lock);
      p->watcher_asleep = false;
      continue;
    }
    pthread_mutex_unlock(&p->lock);
    struct timespec tick = {0, HL_WATCH_TICK_NS};
    nanosleep(&tick, NULL);
    pthread_mutex_lock(&p->lock);
    /* Only for tickets that waited a while: one queued just now belongs
     * to a batch that is most likely about to finish on its own. */
    int64_t now = hl_now_ns();
    bool overdue = false;
    for (hl__help *h = p->head; h && !overdue; h = h->next_)
      overdue = now - h->deferred_ns_ >= HL_WATCH_MIN_AGE_NS;
    if (overdue && p->idle > 0) pthread_cond_signal(&p->work);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

/* After fork() the child has none of the parent's threads and maybe a
 * lock held by one of them: start again from an empty pool. */
static void hl_workers_atfork_child(void) {
  hl_pool *p = &hl_workers;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->done, NULL);
  p->head = p->tail = NULL;
  p->queued = p->idle = p->starting = p->n_threads = 0;
  p->stop = false;
  pthread_cond_init(&p->watch, NULL);
  p->watcher_tried = p->watcher_running = p->watcher_asleep = false;
}

static pthread_once_t hl_workers_once = PTHREAD_ONCE_INIT;
static void hl_workers_init(void) { pthread_atfork(NULL, NULL, hl_workers_atfork_child); }

void hl__workers_help(hl__help *h, void (*fn)(void *), void *arg, int helpers, bool defer) {
  pthread_once(&hl_workers_once, hl_workers_init);
  h->fn = fn;
  h->arg = arg;
  h->queued_ = 0;
  atomic_init(&h->active_, 0);
  h->next_ = NULL;
  h->deferred_ns_ = 0; /* not deferred: overdue at once */
  if (helpers <= 0) return;
  hl_pool *p = &hl_workers;
  pthread_mutex_lock(&p->lock);
  if (p->stop) {
    pthread_mutex_unlock(&p->lock);
    return;
  }
  h->queued_ = helpers;
  p->queued += helpers;
  if (p->tail) p->tail->next_ = h;
  else p->head = h;
  p->tail = h;
  while (p->idle + p->starting < p->queued && p->n_threads < HL_MAX_WORKERS) {
    if (pthread_create(&p->threads[p->n_threads], NULL, hl_worker_main, p) != 0) break;
    p->n_threads++;
    p->starting++;
  }
  if (defer && !p->watcher_tried) {
    p->watcher_tried = true;
    p->watcher_asleep = true; /* as if: it checks the clock first anyway */
    p->watcher_running = pthread_create(&p->watcher, NULL, hl_watcher_main, p) == 0;
  }
  if (defer && p->watcher_running) {
    p->last_deferred_ns = h->deferred_ns_ = hl_now_ns();
    if (p->watcher_asleep) pthread_cond_signal(&p->watch);
  } else if (p->idle > 0) {
    /* One wake-up; the woken worker passes it on (hl_worker_main). */
    pthread_cond_signal(&p->work);
  }
  pthread_mutex_unlock(&p->lock);
}

void hl__workers_wait(hl__help *h) {
  hl_pool *p = &hl_workers;
  pthread_mutex_lock(&p->lock);
  if (h->queued_ > 0) {
    /* The caller already did the work nobody came for. */
    p->queued -= h->queued_;
    h->queued_ = 0;
    hl_unlink(p, h);
  }
  if (atomic_load_explicit(&h->active_, memory_order_acquire) == 0) {
    pthread_mutex_unlock(&p->lock);
    return;
  }
  pthread_mutex_unlock(&p->lock);
  /* A helper is inside fn: most often one that found nothing left. */
  int64_t deadline = hl_now_ns() + HL_WAIT_SPIN_NS;
  for (int i = 1;; i++) {
    /* The helper touches only the pool after its decrement. */
    if (atomic_load_explicit(&h->active_, memory_order_acquire) == 0) return;
    hl_cpu_relax();
    if ((i & 63) == 0 && hl_now_ns() > deadline) break;
  }
  pthread_mutex_lock(&p->lock);
  while (atomic_load_explicit(&h->active_, memory_order_relaxed) > 0)
    pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}

/* At exit, let idle workers go and join them, so leak checkers see no
 * thread left behind. Workers still busy (a tool of a run in progress on
 * another thread during exit) are left alone rather than waited for. */
__attribute__((destructor)) static void hl_workers_shutdown(void) {
  hl_pool *p = &hl_workers;
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  bool busy = p->head != NULL || p->idle + p->starting < p->n_threads;
  int n = p->n_threads;
  bool watcher = p->watcher_running;
  p->watcher_running = false;
  pthread_cond_broadcast(&p->work);
  pthread_cond_broadcast(&p->watch);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < n; i++) {
    if (busy) pthread_detach(p->threads[i]);
    else pthread_join(p->threads[i], NULL);
  }
  if (watcher) pthread_join(p->watcher, NULL);
}
