/*
 * workers.h - a process-wide pool of helper threads (workers.c).
 *
 * Usage, for work that the caller can also do alone:
 *
 *   hl__help h;
 *   hl__workers_help(&h, drain, batch, n - 1, false);  // n-1 helpers join
 *   drain(batch);                              // the caller works too
 *   hl__workers_wait(&h);                      // helpers are done with batch
 *
 * `fn` must be safe to run concurrently and to run when there is nothing
 * left to do. Until hl__workers_wait() returns, `h` and `arg` must live.
 * Each requested helper runs on its own thread at the same time as the
 * others (the pool grows to make that true, up to a large cap).
 */
#ifndef HL_AGENT_WORKERS_H
#define HL_AGENT_WORKERS_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct hl__help {
  void (*fn)(void *);
  void *arg;
  int queued_;              /* private: under the pool's lock */
  atomic_int active_;       /* private: written under the lock, read by wait's spin */
  struct hl__help *next_;   /* private */
  long long deferred_ns_;   /* private: when a deferred request was queued */
} hl__help;

/* defer: the batch is expected to be cheap; don't wake a helper now. A
 * watcher thread wakes one within about HL_WATCH_TICK_NS if tickets are
 * still waiting, so a call that blocks on a sibling still gets company. */
void hl__workers_help(hl__help *h, void (*fn)(void *), void *arg, int helpers, bool defer);
void hl__workers_wait(hl__help *h);

#endif
