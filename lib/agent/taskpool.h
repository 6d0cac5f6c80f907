/*
 * taskpool.h - the library's one bounded pool of worker threads for work
 * that may block: the steps of asynchronous runs (hooks, tool calls, a
 * provider without an asynchronous start, custom agent bodies). Size:
 * hl_set_worker_threads() (run.h), else HOOKLINE_WORKER_THREADS, else
 * max(8, 4 x online CPUs), at most 1024. Threads start when work waits
 * and none is idle, up to the size, and then stay.
 *
 * Internal to the library.
 */
#ifndef HL_AGENT_TASKPOOL_H
#define HL_AGENT_TASKPOOL_H

#include "hookline/status.h"

/* A unit of work. Embed it in your own struct; `fn` runs once per submit
 * on a pool thread. */
typedef struct hl__job {
  void (*fn)(struct hl__job *job);
  struct hl__job *next_; /* private */
} hl__job;

/* Queue `job` (any thread). FIFO. If no pool thread exists and none can
 * be started (thread limit), `fn` runs on the calling thread before this
 * returns, so work is never lost. */
void hl__jobs_submit(hl__job *job);

/* The pool's size (threads it may start). */
int hl__jobs_size(void);

#endif
