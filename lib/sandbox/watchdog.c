/*
 * lib/sandbox/watchdog.c - the process-wide deadline thread (see
 * watchdog.h): a binary min-heap of armed watches ordered by deadline and
 * one thread that sleeps on a monotonic condition variable until the
 * earliest of them, fires what is due and sleeps again.
 *
 * Why one thread and not a timer per execution: thousands of sandboxes
 * may run at once, and a thread (or a POSIX timer signal) per execution
 * costs far more than the heap. Why no polling tick: an idle process must
 * not wake up, and a tick would add its period to every overrun.
 */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;     /* CLOCK_MONOTONIC, set up once */
static pthread_once_t wd_once = PTHREAD_ONCE_INIT;
static bool wd_cond_ok;
static bool wd_running;            /* the thread exists (in this process) */
static hl_watch **wd_heap;
static size_t wd_n, wd_cap;
/* The thread wakes by this time at the latest (the due time it sleeps
 * until, or was woken to look at; UINT64_MAX: it waits for a signal). A
 * new earliest deadline at or after it needs no wake-up: the thread looks
 * at the heap again then anyway.
 * Executions arm a watch each, with deadlines seconds away; without this
 * every one of them would wake the thread (a futex call and a context
 * switch, a few microseconds of the callback round trip). */
static uint64_t wd_sleep_until = UINT64_MAX;
static unsigned long wd_wakeups;

/* Wake the thread (locked) to sleep until `due` at the latest. */
static void wd_wake(uint64_t due) {
  wd_sleep_until = due;
  wd_wakeups++;
  pthread_cond_signal(&wd_cond);
}

unsigned long hl__watch_wakeups(void) {
  pthread_mutex_lock(&wd_lock);
  unsigned long n = wd_wakeups;
  pthread_mutex_unlock(&wd_lock);
  return n;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* After fork() only the forking thread exists in the child: forget the
 * watchdog thread (the next arm starts a new one) and the parent's
 * watches, which belong to threads the child does not have. */
static void wd_atfork_child(void) {
  pthread_mutex_init(&wd_lock, NULL);
  wd_running = false;
  wd_n = 0;
  wd_sleep_until = UINT64_MAX;
}

static void wd_setup(void) {
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0)
    return;
  if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&wd_cond, &ca) == 0)
    wd_cond_ok = true;
  pthread_condattr_destroy(&ca);
  pthread_atfork(NULL, NULL, wd_atfork_child);
}

/* ---- heap (locked) ---- */

static void heap_set(size_t i, hl_watch *w) {
  wd_heap[i] = w;
  w->slot = i;
}

static void sift_up(size_t i) {
  hl_watch *w = wd_heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (wd_heap[parent]->due_ns <= w->due_ns)
      break;
    heap_set(i, wd_heap[parent]);
    i = parent;
  }
  heap_set(i, w);
}

static void sift_down(size_t i) {
  hl_watch *w = wd_heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= wd_n)
      break;
    if (c + 1 < wd_n && wd_heap[c + 1]->due_ns < wd_heap[c]->due_ns)
      c++;
    if (w->due_ns <= wd_heap[c]->due_ns)
      break;
    heap_set(i, wd_heap[c]);
    i = c;
  }
  heap_set(i, w);
}

static void heap_remove(hl_watch *w) {
  size_t i = w->slot;
  w->slot = HL_WATCH_IDLE;
  hl_watch *last = wd_heap[--wd_n];
  if (i == wd_n)
    return;
  heap_set(i, last);
  sift_down(i);
  sift_up(last->slot);
}

/* ---- the thread ---- */

static void *wd_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&wd_lock);
  for (;;) {
    uint64_t now = now_ns();
    if (wd_n > 0 && wd_heap[0]->due_ns <= now) {
      hl_watch *top = wd_heap[0];
      heap_remove(top);
      uint64_t again = top->fire(top);
      if (again) {
        /* Back into the slot it just left: no allocation, cannot fail. */
        top->due_ns = again;
        heap_set(wd_n++, top);
        sift_up(top->slot);
      }
      continue;
    }
    /* Sleep until the earliest deadline; with none, until the time an
     * arm already announced (the watch that was disarmed since), so that
     * the next executions, whose deadlines are later, need not wake us. */
    if (wd_n > 0)
      wd_sleep_until = wd_heap[0]->due_ns;
    else if (wd_sleep_until <= now)
      wd_sleep_until = UINT64_MAX;
    if (wd_sleep_until == UINT64_MAX) {
      pthread_cond_wait(&wd_cond, &wd_lock);
      continue;
    }
    struct timespec ts = {(time_t)(wd_sleep_until / 1000000000u),
                          (long)(wd_sleep_until % 1000000000u)};
    pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
  }
  return NULL;
}

/* Start the thread (locked). */
static hl_status wd_start_locked(void) {
  if (!wd_cond_ok)
    return hl_fail(HL_ERR_NOMEM, "sandbox: cannot set up the watchdog's clock");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* It only sleeps and stores: a small stack is plenty. */
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  int rc = pthread_create(&t, &attr, wd_main, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return hl_fail(HL_ERR_NOMEM, "sandbox: cannot start the watchdog thread: %s", strerror(rc));
  wd_running = true;
  return HL_OK;
}

void hl__watch_init(hl_watch *w, uint64_t (*fire)(hl_watch *w)) {
  w->fire = fire;
  w->due_ns = 0;
  w->slot = HL_WATCH_IDLE;
}

hl_status hl__watch_arm(hl_watch *w, uint64_t due_ns) {
  pthread_once(&wd_once, wd_setup);
  pthread_mutex_lock(&wd_lock);
  hl_status st = HL_OK;
  if (!wd_running && (st = wd_start_locked()) != HL_OK)
    goto out;
  if (w->slot != HL_WATCH_IDLE) {
    w->due_ns = due_ns;
    sift_down(w->slot);
    sift_up(w->slot);
  } else {
    if (wd_n == wd_cap) {
      size_t cap = wd_cap ? wd_cap * 2 : 64;
      hl_watch **grown = realloc(wd_heap, cap * sizeof *grown);
      if (!grown) {
        st = hl_fail(HL_ERR_NOMEM, "sandbox: out of memory arming the watchdog");
        goto out;
      }
      wd_heap = grown;
      wd_cap = cap;
    }
    w->due_ns = due_ns;
    heap_set(wd_n++, w);
    sift_up(w->slot);
  }
  if (w->slot == 0 && w->due_ns < wd_sleep_until)
    wd_wake(w->due_ns); /* it would wake too late */
out:
  pthread_mutex_unlock(&wd_lock);
  return st;
}

int hl__watch_advance(hl_watch *w, uint64_t due_ns) {
  pthread_mutex_lock(&wd_lock);
  int armed = w->slot != HL_WATCH_IDLE;
  if (armed && due_ns < w->due_ns) {
    w->due_ns = due_ns;
    sift_up(w->slot);
    if (w->slot == 0 && w->due_ns < wd_sleep_until)
      wd_wake(w->due_ns);
  }
  pthread_mutex_unlock(&wd_lock);
  return armed;
}

void hl__watch_disarm(hl_watch *w) {
  pthread_mutex_lock(&wd_lock);
  if (w->slot != HL_WATCH_IDLE)
    heap_remove(w);
  /* No wake-up needed: the thread at worst wakes once for nothing. */
  pthread_mutex_unlock(&wd_lock);
}
