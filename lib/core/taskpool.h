/*
 * taskpool.h - the library's one bounded pool of worker threads for every
 * piece of work that may block: the steps of asynchronous runs, the tool
 * calls of one response run in parallel, tool calls with a time limit,
 * the sandbox's batches of host callbacks, the parallel workflow agent's
 * children (through hl_work_parallel(), run.h). Size: hl_set_worker_threads()
 * (run.h), else HOOKLINE_WORKER_THREADS, else max(8, 4 x online CPUs), at
 * most 64 by default and 1024 when set. Threads start when work waits and
 * none is idle, up to the size, and then stay.
 *
 * Two rules keep a bounded pool from deadlocking on nested work (a tool
 * that runs a sub-agent whose tools run in parallel, on a pool of 1):
 *  - caller runs: whoever waits for a group of jobs takes the group's jobs
 *    that no worker took yet and runs them itself (hl__group_wait);
 *  - a waiting worker steps aside: a pool thread that sleeps until other
 *    work ends (a group it cannot help with any more, a tool with a time
 *    limit, a pending asynchronous tool) does not count against the size
 *    while it sleeps (hl__jobs_block_begin/end), so the pool may start
 *    another thread for the queue; past the size, threads that come back
 *    from such a wait leave once their job is done. At most 1024 threads
 *    exist at once, whatever waits.
 *
 * The context the submitting thread works in (carry.h: a tool call's
 * record) travels with a group job and hl__jobs_submit_here()'s: the job
 * runs inside it, the same tool call, on whatever thread takes it. The
 * pool knows nothing of what that context is.
 *
 * Internal to the library.
 */
#ifndef HL_CORE_TASKPOOL_H
#define HL_CORE_TASKPOOL_H

#include <pthread.h>
#include <stdbool.h>

#include "core/carry.h"
#include "hookline/status.h"

struct hl__group;

/* A unit of work. Embed it in your own struct; `fn` runs once per submit
 * on a pool thread (or on the waiter's, for a group job). */
typedef struct hl__job {
  void (*fn)(struct hl__job *job);
  /* private */
  struct hl__job *next_, *prev_;  /* the pool's FIFO */
  struct hl__job *gnext_;         /* the group's jobs, in submit order */
  struct hl__group *group_;
  hl__carried *carried_;          /* carried context (a reference), or NULL */
  bool *abandoned_;               /* the running thread's flag (hl__jobs_abandon) */
  bool queued_;
} hl__job;

/* Jobs someone waits for. Initialise with hl__group_init(); after
 * hl__group_wait() returns, the group and its jobs are the caller's again. */
typedef struct hl__group {
  pthread_cond_t done_;
  hl__job *head_, *tail_;  /* submitted jobs; the queued ones are claimable */
  int unfinished_;
  int queued_;             /* of them, in the pool's queue */
  /* hl__group_init_deferred(): no wake-up before `deadline_ns_`, while on
   * the pool's list of such groups (`late_prev_`, `late_next_`). */
  bool deferred_, listed_;
  long long deadline_ns_;
  struct hl__group *late_prev_, *late_next_;
} hl__group;

/* Queue `job` (any thread), FIFO, carrying no context: `fn` runs with
 * none current (the steps of runs). If no pool thread exists and none can
 * be started, `fn` runs on the calling thread before this returns, so
 * work is never lost. */
void hl__jobs_submit(hl__job *job);
/* The same, carrying the calling thread's current context (a tool's work
 * handed to another thread: a call with a time limit). */
void hl__jobs_submit_here(hl__job *job);

/* Hold the jobs this thread submits with hl__jobs_submit() (not group
 * jobs, not hl__jobs_submit_here(): their submitter waits for them) until
 * the matching hl__jobs_release(), which queues them all, in submit order,
 * under one lock and wakes as many idle threads as they need at once.
 * For a thread that submits several jobs in a burst: the event loop's
 * turn, whose finished transfers each schedule their run's next step
 * (one lock and one wake-up per job made the woken workers contend with
 * the loop for the lock: issue 12). A held job cannot be taken back
 * (hl__jobs_cancel) before the release. Nests; the outermost release
 * queues. A thread that waits for other work (hl__group_wait,
 * hl__jobs_block_begin) queues its held jobs first. Per thread: a hold
 * only affects the calling thread's submits. */
void hl__jobs_hold(void);
void hl__jobs_release(void);

/* Queue `job` as part of `g`, carrying the calling thread's context.
 * A group's queued jobs get a thread woken for them one at a time: the
 * first, then the next as soon as a thread (or the waiter) takes one, so
 * that all of them still run at once when each waits for the others,
 * but jobs the waiter takes back itself (hl__group_wait) woke nobody:
 * the helpers of a turn's tool calls, which the run's own thread usually
 * finds no call left for (issue 12: 3.9 of the sequential scenario (b)'s
 * 4 futex calls per run were theirs, two threads woken for nothing). */
void hl__group_init(hl__group *g);
/* The same, for a group whose waiter expects to take its jobs back
 * itself before long (the helpers of a response's tool calls that were
 * all quick so far): its queued jobs wake nobody for HL__WAKE_GRACE_US
 * after the first of them was queued; a thread that is awake anyway (a
 * worker between jobs) still takes them. Past the grace, jobs still
 * queued get threads as a hl__group_init() group's do: the pool's timer
 * thread (taskpool.c) wakes one, which wakes the next as it takes its
 * job. So a batch of quick jobs costs no wake-up (a futex wake and a
 * thread switched in and out, ~15 us of CPU on a 2-vCPU VM), and a waiter
 * whose job turns out slow, or waits for its siblings, still has them
 * started, the grace (plus the scheduler's delay) later: never lost, but
 * late, so only for groups whose jobs are expected to be quick. The grace
 * is milliseconds, not microseconds: a timer a few microseconds ahead
 * costs ~15 us of CPU to set and another to cancel on such a VM (it moves
 * the CPU's next timer event), as much as the wake-up it would save; one
 * beyond the next scheduler tick costs a plain syscall. Where the timer
 * cannot be made (no timerfd, no thread), the group wakes at once. */
#define HL__WAKE_GRACE_US 5000
void hl__group_init_deferred(hl__group *g);
void hl__group_submit(hl__group *g, hl__job *job);
/* Until every job of `g` has run: run the group's jobs no worker took
 * yet on this thread, sleep (stepped aside) while workers finish theirs. */
void hl__group_wait(hl__group *g);

/* Take `job` back if no thread started it yet (true: it will never run;
 * its carried context is released). For a caller that gave up waiting. */
bool hl__jobs_cancel(hl__job *job);

/* The caller gave up on `job`, which a pool thread runs (a call past its
 * time limit): that thread steps aside until the job ends, so that the
 * pool may start another one for the queue. Call it only while the job's
 * fn cannot return (under the lock fn takes to report that it is done). */
void hl__jobs_abandon(hl__job *job);

/* Around a wait for other work on this thread: a pool thread steps aside
 * (see the top). Nests; harmless on threads outside the pool. */
void hl__jobs_block_begin(void);
void hl__jobs_block_end(void);

/* The pool's size (threads it may keep busy at once). */
int hl__jobs_size(void);

/* For tests and benchmarks: how many times since the process started a
 * thread was woken or started for queued work (`wakes`), and how many
 * deferred groups reached their grace's end with jobs still queued
 * (`late`). Thread-safe. */
void hl__jobs_counters(long *wakes, long *late);
/* For tests: the grace of hl__group_init_deferred() groups queued from
 * now on, in microseconds (0 restores HL__WAKE_GRACE_US). A test that
 * counts wake-ups sets one long enough that a slow machine (a sanitizer,
 * a loaded CI) finishes a quick batch inside it. Thread-safe. */
void hl__jobs_set_wake_grace_us(long us);

#endif
