/*
 * taskpool.c - the bounded worker pool (taskpool.h): a FIFO of jobs under
 * one mutex, and up to `size` busy threads that take them. No polling, no
 * spinning: an idle thread sleeps on a semaphore of its own until it is
 * handed the queue, a waiter sleeps on its group's condition until the
 * group's last job ends, and the one timer (a thread asleep on a timerfd)
 * serves the groups whose wake-up is deferred (hl__group_init_deferred).
 *
 * Why bounded: with thousands of runs in flight, a thread per run costs
 * memory and scheduler time; runs only need a thread while a step of
 * theirs executes, and steps are short unless a tool blocks. The size is
 * the number of blocking things (tools, hooks) that can be in progress at
 * once before further work queues. Why caller-runs and stepping aside:
 * see taskpool.h (nested work on a pool of one thread must still end).
 *
 * Why a semaphore per idle thread rather than one condition variable
 * (issue 12, the futex calls of concurrent_slow): every futex call of the
 * asynchronous runs was on this pool, half of them lock contention. A
 * thread signalled under the lock woke only to block on the lock its
 * waker still held (two more futex calls), and the idle count, lowered
 * by the woken thread itself, let every submit until then signal again.
 * Now the waker takes idle threads off a stack under the lock, counting
 * them as woken ("searching"), and posts their semaphores after
 * unlocking; a job finds a thread to wake only if the threads already
 * woken for the queue are fewer than the jobs in it. A thread that ends a
 * job takes the next one itself, with no wake-up.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/carry.h"
#include "core/taskpool.h"
#include "core/util.h"
#include "hookline/run.h"

#define HL_JOBS_MAX 1024

/* A pool thread with nothing to do, asleep on its own semaphore (on the
 * stack of that thread). */
typedef struct sleeper {
  struct sleeper *next;
  sem_t sem;
} sleeper;

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static hl__job *head, *tail;
static sleeper *idle_top; /* the idle threads, the latest asleep on top (its cache is warm) */
static int n_threads;  /* threads that exist */
static int n_idle;     /* on the idle stack */
static int n_woken;    /* started or woken for the queue, not at a job yet */
static int n_blocked;  /* stepped aside (hl__jobs_block_begin) */
static int n_queued;
static int n_chained;  /* queued group jobs that need no wake-up yet (quiet_of) */
static int size_set;   /* 0: not decided yet */
static long n_wakes;   /* threads woken or started for the queue (hl__jobs_counters) */
static long n_late;    /* deferred groups that reached their deadline with jobs queued */

/* The deferred wake-up (hl__group_init_deferred): deferred groups with
 * queued jobs, in order of deadline (each is its first queued job's time
 * plus the grace, which is the same for all: appending keeps the order),
 * and a timerfd, which the timer thread sleeps on, armed for a deadline
 * no later than the first one's. Arming it is a syscall on the queueing
 * thread and wakes nobody; a deadline reached wakes the timer thread,
 * which wakes a worker for each late group, if any, and arms the timer
 * for the next group. It is armed only when it is not already armed for
 * an earlier time, and never disarmed when the groups leave the list in
 * time (their jobs all taken): with groups queued back to back, one
 * syscall and one timer wake-up per grace period, whatever their number,
 * instead of two syscalls a group (a syscall is ~1.3 us on this 2-vCPU
 * VM, and one that moves the CPU's next timer event ~15 us: the grace
 * lies beyond the next scheduler tick, so arming it moves nothing).
 * Armed under the lock, so that the timer is never later than the first
 * deadline. */
static hl__group *late_head, *late_tail;
static int timer_fd = -1;      /* -1: not made yet; -2: cannot be (groups wake at once) */
static long long armed_ns;     /* the deadline the timer is set for; 0: none */
static long long grace_ns = HL__WAKE_GRACE_US * 1000LL;

/* Set on the pool's own threads: only they step aside. */
static _Thread_local bool on_pool_thread;
static _Thread_local int block_depth;
/* hl__jobs_hold(): this thread's held jobs, in submit order. */
static _Thread_local int hold_depth;
static _Thread_local hl__job *held_head, *held_tail;

static int default_size(void) {
  const char *env = getenv("HOOKLINE_WORKER_THREADS");
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end == '\0' && v >= 1 && v <= HL_JOBS_MAX) return (int)v;
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  long n = cpus * 4 < 8 ? 8 : cpus * 4;
  return n > 64 ? 64 : (int)n;
}

/* Locked. */
static int pool_size(void) {
  if (!size_set) size_set = default_size();
  return size_set;
}

hl_status hl_set_worker_threads(int n) {
  if (n < 1 || n > HL_JOBS_MAX)
    return hl_fail(HL_ERR_INVALID, "hl_set_worker_threads: %d is not between 1 and %d", n,
                   HL_JOBS_MAX);
  pthread_mutex_lock(&jobs_lock);
  /* Busy threads beyond a smaller size leave when their job ends; idle
   * ones stay (they cost nothing but their stack). */
  size_set = n;
  pthread_mutex_unlock(&jobs_lock);
  return HL_OK;
}

int hl_worker_threads(void) { return hl__jobs_size(); }

int hl__jobs_size(void) {
  pthread_mutex_lock(&jobs_lock);
  int n = pool_size();
  pthread_mutex_unlock(&jobs_lock);
  return n;
}

/* ---- the deferred wake-up (locked) ----------------------------------- */

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void expire_locked(hl__group *g);

/* The timer set for the first late group's deadline, unless it fires
 * before that anyway. Should timerfd_settime() fail (it has no reason
 * to), the listed groups' grace ends now rather than never: the caller
 * calls wake_locked() next (push_locked's and the timer thread's). */
static void arm_locked(void) {
  if (!late_head || timer_fd < 0) return;
  long long want = late_head->deadline_ns_;
  if (armed_ns != 0 && armed_ns <= want) return;
  struct itimerspec it = {{0, 0}, {want / 1000000000LL, want % 1000000000LL}};
  if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &it, NULL) == 0) armed_ns = want;
  else
    while (late_head) expire_locked(late_head);
}

/* Queued jobs of `g` that need no thread woken for them now: all of them
 * while its wake-up is deferred, else all but the first (hl__group_submit:
 * the next gets a thread when one is taken). */
static int quiet_of(const hl__group *g) {
  if (g->deferred_) return g->queued_;
  return g->queued_ > 0 ? g->queued_ - 1 : 0;
}

static void late_remove_locked(hl__group *g) {
  if (g->late_prev_) g->late_prev_->late_next_ = g->late_next_;
  else late_head = g->late_next_;
  if (g->late_next_) g->late_next_->late_prev_ = g->late_prev_;
  else late_tail = g->late_prev_;
  g->late_prev_ = g->late_next_ = NULL;
  g->listed_ = false;
}

/* `g`'s grace is over: its queued jobs get threads like any group's. */
static void expire_locked(hl__group *g) {
  late_remove_locked(g);
  n_chained -= quiet_of(g);
  g->deferred_ = false;
  n_chained += quiet_of(g);
  n_late++;
}

static sleeper *wake_locked(void);
static void wake(sleeper *s);

static void *timer_main(void *arg) {
  (void)arg;
  for (;;) {
    uint64_t fired;
    if (read(timer_fd, &fired, sizeof fired) < 0 && errno != EINTR && errno != EAGAIN) {
      /* Cannot happen on a timerfd; should it, stop deferring: every
       * group from now on wakes at once, the late ones now. */
      pthread_mutex_lock(&jobs_lock);
      timer_fd = -2;
      while (late_head) expire_locked(late_head);
      sleeper *w = wake_locked();
      pthread_mutex_unlock(&jobs_lock);
      wake(w);
      return NULL;
    }
    pthread_mutex_lock(&jobs_lock);
    armed_ns = 0; /* one-shot: fired (arm_locked sets it again if needed) */
    long long now = now_ns();
    while (late_head && late_head->deadline_ns_ <= now) expire_locked(late_head);
    arm_locked();
    sleeper *w = wake_locked();
    pthread_mutex_unlock(&jobs_lock);
    wake(w);
  }
  return NULL;
}

/* The timer and its thread, made at the first deferred group. False: it
 * cannot be, and deferred groups wake at once. */
static bool timer_ready_locked(void) {
  if (timer_fd >= 0) return true;
  if (timer_fd == -2) return false;
  timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (timer_fd < 0) {
    timer_fd = -2;
    return false;
  }
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&th, &attr, timer_main, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    close(timer_fd);
    timer_fd = -2;
    return false;
  }
  return true;
}

/* ---- the queue (locked) -------------------------------------------- */

static void unlink_locked(hl__job *j) {
  if (j->prev_) j->prev_->next_ = j->next_;
  else head = j->next_;
  if (j->next_) j->next_->prev_ = j->prev_;
  else tail = j->prev_;
  j->next_ = j->prev_ = NULL;
  j->queued_ = false;
  n_queued--;
  hl__group *g = j->group_;
  if (!g) return;
  /* The next of its group's, if any, now needs a thread (wake_locked),
   * unless the group's wake-up is deferred. */
  n_chained -= quiet_of(g);
  g->queued_--;
  n_chained += quiet_of(g);
  /* Every job taken within the grace: nobody to wake for it (the timer
   * stays armed: see arm_locked). */
  if (g->listed_ && g->queued_ == 0) late_remove_locked(g);
}

static void *worker_main(void *arg);

/* Threads busy with work, not counting those stepped aside (the woken
 * ones count: they are on their way to a job). */
static int busy_locked(void) { return n_threads - n_idle - n_blocked; }

/* Someone to take the queue: for each queued job that no woken thread is
 * on its way to (not counting group jobs chained behind another of their
 * group's: see hl__group_submit), take an idle thread off the stack, or
 * start one, while the busy ones are fewer than the size. Returns the
 * threads to wake, which the caller posts after unlocking (wake()). */
static sleeper *wake_locked(void) {
  sleeper *wake = NULL;
  /* Idle threads past the size (it was lowered, or threads stepped back
   * in) stay asleep: the size bounds the busy ones. */
  while (n_queued - n_chained > n_woken && busy_locked() < pool_size()) {
    if (idle_top) {
      sleeper *s = idle_top;
      idle_top = s->next;
      n_idle--;
      s->next = wake;
      wake = s;
    } else {
      if (n_threads >= HL_JOBS_MAX) break;
      pthread_t th;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      int rc = pthread_create(&th, &attr, worker_main, NULL);
      pthread_attr_destroy(&attr);
      if (rc != 0) break;
      n_threads++;
    }
    n_woken++;
    n_wakes++;
  }
  return wake;
}

/* Unlocked: post the semaphores of the threads wake_locked() took. */
static void wake(sleeper *s) {
  while (s) {
    sleeper *next = s->next; /* `s` may be gone once posted */
    sem_post(&s->sem);
    s = next;
  }
}

static void push_locked(hl__job *job) {
  job->next_ = NULL;
  job->prev_ = tail;
  if (tail) tail->next_ = job;
  else head = job;
  tail = job;
  job->queued_ = true;
  n_queued++;
  hl__group *g = job->group_;
  if (!g) return;
  n_chained -= quiet_of(g);
  g->queued_++;
  n_chained += quiet_of(g);
  if (g->deferred_ && !g->listed_) {
    /* Its first queued job: the grace starts. */
    g->deadline_ns_ = now_ns() + grace_ns;
    g->listed_ = true;
    g->late_next_ = NULL;
    g->late_prev_ = late_tail;
    if (late_tail) late_tail->late_next_ = g;
    else late_head = g;
    late_tail = g;
    arm_locked();
  }
}

/* ---- running a job ---------------------------------------------------- */

/* Unlocked. Returns the job's group (NULL: none), whose count the caller
 * lowers with group_done_locked() under the lock it takes next anyway to
 * look at the queue (one acquisition per job, not two). */
static hl__group *run_job(hl__job *j) {
  hl__carried *carried = j->carried_;
  j->carried_ = NULL;
  hl__group *g = j->group_;
  hl__carried *prev = hl__carry_enter(carried);
  j->fn(j); /* may free j (a job that is not a group's) */
  hl__carry_leave(prev);
  hl__carry_unref(carried);
  return g;
}

/* Locked. The group is not touched after its count goes down (its waiter
 * may return and free it as soon as the lock is let go). */
static void group_done_locked(hl__group *g) {
  if (g && --g->unfinished_ == 0) pthread_cond_broadcast(&g->done_);
}

static void *worker_main(void *arg) {
  (void)arg;
  on_pool_thread = true;
  sleeper me;
  sem_init(&me.sem, 0, 0);
  bool abandoned = false; /* the running job was given up (hl__jobs_abandon) */
  bool woken = true;      /* counted in n_woken (started for the queue) */
  pthread_mutex_lock(&jobs_lock);
  for (;;) {
    if (abandoned) {
      abandoned = false;
      n_blocked--;
    }
    /* Back from a wait with more threads busy than the size: leave, the
     * ones that started meanwhile take the queue. */
    if (busy_locked() > pool_size()) break;
    if (!head) {
      if (woken) n_woken--;
      me.next = idle_top;
      idle_top = &me;
      n_idle++;
      pthread_mutex_unlock(&jobs_lock);
      while (sem_wait(&me.sem) != 0 && errno == EINTR) {
      }
      pthread_mutex_lock(&jobs_lock);
      woken = true; /* the waker took it off the stack and counted it */
      continue;
    }
    hl__job *j = head;
    unlink_locked(j);
    if (woken) n_woken--;
    woken = false;
    j->abandoned_ = &abandoned;
    /* A group's job taken: a thread for the next one of the group. */
    sleeper *w = j->group_ ? wake_locked() : NULL;
    pthread_mutex_unlock(&jobs_lock);
    wake(w);
    hl__group *g = run_job(j);
    pthread_mutex_lock(&jobs_lock);
    group_done_locked(g);
  }
  if (woken) n_woken--;
  n_threads--;
  pthread_mutex_unlock(&jobs_lock);
  sem_destroy(&me.sem);
  return NULL;
}

static void submit(hl__job *job, hl__carried *carried, hl__group *g) {
  job->carried_ = carried;
  job->abandoned_ = NULL;
  job->group_ = g;
  pthread_mutex_lock(&jobs_lock);
  if (g) {
    if (g->deferred_ && !timer_ready_locked()) g->deferred_ = false;
    job->gnext_ = NULL;
    if (g->tail_) g->tail_->gnext_ = job;
    else g->head_ = job;
    g->tail_ = job;
    g->unfinished_++;
  }
  push_locked(job);
  sleeper *w = wake_locked();
  if (n_threads == 0 && !g) {
    /* No thread could start: do it here rather than lose it (a group's
     * job is run by its waiter). */
    unlink_locked(job);
    pthread_mutex_unlock(&jobs_lock);
    run_job(job);
    return;
  }
  pthread_mutex_unlock(&jobs_lock);
  wake(w);
}

void hl__jobs_submit(hl__job *job) {
  if (hold_depth == 0) {
    submit(job, NULL, NULL);
    return;
  }
  /* Held (hl__jobs_hold): listed through gnext_, which only a group's
   * jobs use otherwise. */
  job->carried_ = NULL;
  job->abandoned_ = NULL;
  job->group_ = NULL;
  job->gnext_ = NULL;
  if (held_tail) held_tail->gnext_ = job;
  else held_head = job;
  held_tail = job;
}

/* Queue this thread's held jobs: one lock, the wake-ups they need. */
static void flush_held(void) {
  hl__job *list = held_head;
  if (!list) return;
  held_head = held_tail = NULL;
  pthread_mutex_lock(&jobs_lock);
  for (hl__job *j = list; j; j = j->gnext_) push_locked(j);
  sleeper *w = wake_locked();
  bool here = n_threads == 0;
  /* No thread could start: run them here rather than lose them. */
  if (here)
    for (hl__job *j = list; j; j = j->gnext_) unlink_locked(j);
  pthread_mutex_unlock(&jobs_lock);
  wake(w);
  while (here && list) {
    hl__job *next = list->gnext_; /* fn may free the job */
    run_job(list);
    list = next;
  }
}

void hl__jobs_hold(void) { hold_depth++; }

void hl__jobs_release(void) {
  if (hold_depth > 0 && --hold_depth == 0) flush_held();
}

void hl__jobs_abandon(hl__job *job) {
  sleeper *w = NULL;
  pthread_mutex_lock(&jobs_lock);
  if (!job->queued_ && job->abandoned_ && !*job->abandoned_) {
    *job->abandoned_ = true;
    n_blocked++;
    w = wake_locked();
  }
  pthread_mutex_unlock(&jobs_lock);
  wake(w);
}

void hl__jobs_submit_here(hl__job *job) { submit(job, hl__carry_ref(hl__carry_current()), NULL); }

bool hl__jobs_cancel(hl__job *job) {
  sleeper *w = NULL;
  pthread_mutex_lock(&jobs_lock);
  bool taken = job->queued_;
  if (taken) {
    unlink_locked(job);
    w = wake_locked(); /* a group's next job, if it was one */
  }
  pthread_mutex_unlock(&jobs_lock);
  wake(w);
  if (taken) {
    hl__carry_unref(job->carried_);
    job->carried_ = NULL;
  }
  return taken;
}

/* ---- groups ----------------------------------------------------------- */

void hl__group_init(hl__group *g) {
  pthread_cond_init(&g->done_, NULL);
  g->head_ = g->tail_ = NULL;
  g->unfinished_ = 0;
  g->queued_ = 0;
  g->deferred_ = g->listed_ = false;
  g->deadline_ns_ = 0;
  g->late_prev_ = g->late_next_ = NULL;
}

void hl__group_init_deferred(hl__group *g) {
  hl__group_init(g);
  g->deferred_ = true;
}

void hl__group_submit(hl__group *g, hl__job *job) {
  submit(job, hl__carry_ref(hl__carry_current()), g);
}

void hl__group_wait(hl__group *g) {
  flush_held(); /* a thread about to sleep sits on no work */
  pthread_mutex_lock(&jobs_lock);
  while (g->unfinished_ > 0) {
    /* Caller runs: the first of the group's jobs nobody took yet. */
    while (g->head_ && !g->head_->queued_) g->head_ = g->head_->gnext_;
    hl__job *j = g->head_;
    if (j) {
      g->head_ = j->gnext_;
      unlink_locked(j);
      /* The next one gets a thread, should this one wait for it. */
      sleeper *w = wake_locked();
      pthread_mutex_unlock(&jobs_lock);
      wake(w);
      run_job(j);
      pthread_mutex_lock(&jobs_lock);
      group_done_locked(g);
      continue;
    }
    /* Every job is on a worker: step aside until they end. None of the
     * group's jobs is queued any more, so no other may become claimable
     * while the lock is let go to wake a thread for the queue. */
    bool step = on_pool_thread && block_depth == 0;
    if (step) {
      n_blocked++;
      sleeper *w = wake_locked();
      if (w) {
        pthread_mutex_unlock(&jobs_lock);
        wake(w);
        pthread_mutex_lock(&jobs_lock);
      }
    }
    if (g->unfinished_ > 0) pthread_cond_wait(&g->done_, &jobs_lock);
    if (step) n_blocked--;
  }
  pthread_mutex_unlock(&jobs_lock);
  pthread_cond_destroy(&g->done_);
}

/* ---- stepping aside ---------------------------------------------------- */

void hl__jobs_block_begin(void) {
  flush_held(); /* a thread about to sleep sits on no work */
  if (!on_pool_thread || block_depth++ > 0) return;
  pthread_mutex_lock(&jobs_lock);
  n_blocked++;
  sleeper *w = wake_locked();
  pthread_mutex_unlock(&jobs_lock);
  wake(w);
}

void hl__jobs_block_end(void) {
  if (!on_pool_thread || --block_depth > 0) return;
  pthread_mutex_lock(&jobs_lock);
  n_blocked--;
  pthread_mutex_unlock(&jobs_lock);
}

/* ---- counters (tests, benchmarks) ------------------------------------- */

void hl__jobs_counters(long *wakes, long *late) {
  pthread_mutex_lock(&jobs_lock);
  if (wakes) *wakes = n_wakes;
  if (late) *late = n_late;
  pthread_mutex_unlock(&jobs_lock);
}

void hl__jobs_set_wake_grace_us(long us) {
  pthread_mutex_lock(&jobs_lock);
  grace_ns = (us > 0 ? us : HL__WAKE_GRACE_US) * 1000LL;
  pthread_mutex_unlock(&jobs_lock);
}
