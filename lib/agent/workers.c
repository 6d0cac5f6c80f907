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
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "agent/workers.h"

/* Past this many threads, callers do the remaining work themselves. */
#define HL_MAX_WORKERS 256

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
} hl_pool;

static hl_pool hl_workers = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

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
    h->active_++;
    p->queued--;
    if (h->queued_ == 0) hl_unlink(p, h);
    pthread_mutex_unlock(&p->lock);
    h->fn(h->arg);
    pthread_mutex_lock(&p->lock);
    /* Last touch of h: once active_ is 0 its owner may free it. */
    if (--h->active_ == 0) pthread_cond_broadcast(&p->done);
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
}

static pthread_once_t hl_workers_once = PTHREAD_ONCE_INIT;
static void hl_workers_init(void) { pthread_atfork(NULL, NULL, hl_workers_atfork_child); }

void hl__workers_help(hl__help *h, void (*fn)(void *), void *arg, int helpers) {
  pthread_once(&hl_workers_once, hl_workers_init);
  h->fn = fn;
  h->arg = arg;
  h->queued_ = 0;
  h->active_ = 0;
  h->next_ = NULL;
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
  pthread_cond_broadcast(&p->work);
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
  while (h->active_ > 0) pthread_cond_wait(&p->done, &p->lock);
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
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < n; i++) {
    if (busy) pthread_detach(p->threads[i]);
    else pthread_join(p->threads[i], NULL);
  }
}
