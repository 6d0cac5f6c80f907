/*
 * taskpool.c - the bounded worker pool (taskpool.h): a FIFO of jobs under
 * one mutex and a condition variable, and up to `size` threads that take
 * them. No polling, no spinning: an idle thread sleeps on the condition
 * variable until a job arrives.
 *
 * Why bounded: with thousands of runs in flight, a thread per run costs
 * memory and scheduler time; runs only need a thread while a step of
 * theirs executes, and steps are short unless a tool blocks. The size is
 * the number of blocking things (tools, hooks) that can be in progress at
 * once before further steps queue.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/taskpool.h"
#include "core/util.h"
#include "hookline/run.h"

#define HL_JOBS_MAX 1024

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER;
static hl__job *head, *tail;
static int n_threads, n_idle, n_queued;
static int size_set; /* 0: not decided yet */

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
  /* Threads already started stay (they end with the process); a smaller
   * size only stops the pool from growing further. */
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

static void *worker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&jobs_lock);
  for (;;) {
    while (!head) {
      n_idle++;
      pthread_cond_wait(&jobs_cond, &jobs_lock);
      n_idle--;
    }
    hl__job *j = head;
    head = j->next_;
    if (!head) tail = NULL;
    n_queued--;
    pthread_mutex_unlock(&jobs_lock);
    j->fn(j);
    pthread_mutex_lock(&jobs_lock);
  }
  return NULL;
}

void hl__jobs_submit(hl__job *job) {
  job->next_ = NULL;
  pthread_mutex_lock(&jobs_lock);
  if (tail) tail->next_ = job;
  else head = job;
  tail = job;
  n_queued++;
  if (n_idle >= n_queued) {
    pthread_cond_signal(&jobs_cond);
  } else if (n_threads < pool_size()) {
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, worker_main, NULL) == 0) n_threads++;
    pthread_attr_destroy(&attr);
    if (n_idle > 0) pthread_cond_signal(&jobs_cond);
  } else if (n_idle > 0) {
    pthread_cond_signal(&jobs_cond);
  }
  if (n_threads == 0) {
    /* No thread could start: do it here rather than lose it. */
    hl__job *j = head;
    head = tail = NULL;
    n_queued = 0;
    pthread_mutex_unlock(&jobs_lock);
    while (j) {
      hl__job *next = j->next_;
      j->fn(j);
      j = next;
    }
    return;
  }
  pthread_mutex_unlock(&jobs_lock);
}
