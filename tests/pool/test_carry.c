/*
 * tests/pool/test_carry.c - the worker pool carries the submitting
 * thread's context (core/carry.h) without knowing what it is: a context
 * of the test's own kind (not a call record) is current in group jobs and
 * hl__jobs_submit_here()'s on whatever thread runs them, is kept alive
 * while they wait and let go after, is let go at once when a queued job
 * is taken back, and is not current in hl__jobs_submit()'s jobs (the
 * steps of runs). The call record's view of such a context: none.
 *
 * The pool's size is process-wide: the test that needs a pool of one
 * runs last.
 */
#include <hookline.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "agent/call.h"     /* internal: hl__call_current() */
#include "check.h"
#include "core/carry.h"     /* internal: the carried context */
#include "core/taskpool.h"  /* internal: the pool's jobs */

/* ---- a context of the test's own kind ---- */

typedef struct test_ctx {
  hl__carried carried;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs; /* the test's own is one */
} test_ctx;

static void test_ref(hl__carried *c) {
  test_ctx *t = (test_ctx *)c;
  pthread_mutex_lock(&t->mu);
  t->refs++;
  pthread_mutex_unlock(&t->mu);
}

static void test_unref(hl__carried *c) {
  test_ctx *t = (test_ctx *)c;
  pthread_mutex_lock(&t->mu);
  t->refs--;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
}

static const hl__carried_ops test_ops = {test_ref, test_unref};

static void test_ctx_init(test_ctx *t) {
  t->carried.ops = &test_ops;
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  t->refs = 1;
}

static void test_ctx_destroy(test_ctx *t) {
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
}

static int refs_of(test_ctx *t) {
  pthread_mutex_lock(&t->mu);
  int n = t->refs;
  pthread_mutex_unlock(&t->mu);
  return n;
}

/* Until only the test's own reference is left (a job's is let go after
 * its fn returns, so the fn's signal comes before it). */
static void wait_only_own_ref(test_ctx *t) {
  pthread_mutex_lock(&t->mu);
  while (t->refs > 1) pthread_cond_wait(&t->cv, &t->mu);
  pthread_mutex_unlock(&t->mu);
}

/* ---- jobs that note what was current where they ran ---- */

typedef struct seen {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int arrived, expected; /* meet: each job waits until all have arrived */
  int done;
} seen;

typedef struct noting_job {
  hl__job job; /* first: the job's address is the struct's */
  seen *s;
  bool meet;
  hl__carried *current;
  bool call_current; /* hl__call_current() saw a record */
  pthread_t thread;
} noting_job;

static void noting_fn(hl__job *job) {
  noting_job *n = (noting_job *)job;
  n->current = hl__carry_current();
  n->call_current = hl__call_current() != NULL;
  n->thread = pthread_self();
  seen *s = n->s;
  pthread_mutex_lock(&s->mu);
  if (n->meet) {
    s->arrived++;
    pthread_cond_broadcast(&s->cv);
    while (s->arrived < s->expected) pthread_cond_wait(&s->cv, &s->mu);
  }
  s->done++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static void seen_init(seen *s, int expected) {
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->arrived = s->done = 0;
  s->expected = expected;
}

static void seen_wait_done(seen *s, int n) {
  pthread_mutex_lock(&s->mu);
  while (s->done < n) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}

static void seen_destroy(seen *s) {
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
}

/* ---- the tests ---- */

#define GROUP_JOBS 4

/* Jobs that all meet cannot all run on the waiter: most run on pool
 * threads, each inside the waiter's context. */
static void group_jobs_run_inside_the_submitters_context(void) {
  test_ctx t;
  test_ctx_init(&t);
  seen s;
  seen_init(&s, GROUP_JOBS);
  noting_job jobs[GROUP_JOBS] = {0};
  hl__carried *prev = hl__carry_enter(&t.carried);
  hl__group g;
  hl__group_init(&g);
  for (int i = 0; i < GROUP_JOBS; i++) {
    jobs[i] = (noting_job){.job.fn = noting_fn, .s = &s, .meet = true};
    hl__group_submit(&g, &jobs[i].job);
  }
  hl__group_wait(&g);
  /* The waiter's context is its own again after running jobs itself. */
  CHECK(hl__carry_current() == &t.carried);
  hl__carry_leave(prev);
  CHECK(hl__carry_current() == prev);
  int inside = 0, elsewhere = 0, as_call = 0;
  for (int i = 0; i < GROUP_JOBS; i++) {
    inside += jobs[i].current == &t.carried;
    elsewhere += !pthread_equal(jobs[i].thread, pthread_self());
    as_call += jobs[i].call_current;
  }
  CHECK_INT(inside, GROUP_JOBS);
  CHECK(elsewhere >= GROUP_JOBS - 1);
  CHECK_INT(as_call, 0); /* not a call record: the agent layer sees none */
  wait_only_own_ref(&t);
  CHECK_INT(refs_of(&t), 1);
  seen_destroy(&s);
  test_ctx_destroy(&t);
}

/* hl__jobs_submit_here carries the context; hl__jobs_submit, from the
 * same thread with the same context current, carries none. */
static void submit_here_carries_submit_does_not(void) {
  test_ctx t;
  test_ctx_init(&t);
  seen s;
  seen_init(&s, 0);
  noting_job here = {.job.fn = noting_fn, .s = &s};
  noting_job plain = {.job.fn = noting_fn, .s = &s};
  hl__carried *prev = hl__carry_enter(&t.carried);
  hl__jobs_submit_here(&here.job);
  hl__jobs_submit(&plain.job);
  hl__carry_leave(prev);
  seen_wait_done(&s, 2);
  CHECK(here.current == &t.carried);
  CHECK(!pthread_equal(here.thread, pthread_self()));
  CHECK(plain.current == NULL);
  CHECK(!pthread_equal(plain.thread, pthread_self()));
  wait_only_own_ref(&t);
  CHECK_INT(refs_of(&t), 1);
  seen_destroy(&s);
  test_ctx_destroy(&t);
}

/* A job that blocks the pool's one thread until let go. */
typedef struct blocker {
  hl__job job;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool started, go, done;
} blocker;

static void blocker_fn(hl__job *job) {
  blocker *b = (blocker *)job;
  pthread_mutex_lock(&b->mu);
  b->started = true;
  pthread_cond_broadcast(&b->cv);
  while (!b->go) pthread_cond_wait(&b->cv, &b->mu);
  b->done = true;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

/* On a pool of one busy thread a carried job waits in the queue holding
 * a reference; taking it back lets the reference go at once, and the job
 * never runs. */
static void cancelled_job_lets_its_context_go(void) {
  CHECK_INT(hl_set_worker_threads(1), HL_OK);
  blocker b = {.job.fn = blocker_fn};
  pthread_mutex_init(&b.mu, NULL);
  pthread_cond_init(&b.cv, NULL);
  hl__jobs_submit(&b.job);
  pthread_mutex_lock(&b.mu);
  while (!b.started) pthread_cond_wait(&b.cv, &b.mu);
  pthread_mutex_unlock(&b.mu);

  test_ctx t;
  test_ctx_init(&t);
  seen s;
  seen_init(&s, 0);
  noting_job queued = {.job.fn = noting_fn, .s = &s};
  hl__carried *prev = hl__carry_enter(&t.carried);
  hl__jobs_submit_here(&queued.job);
  hl__carry_leave(prev);
  CHECK_INT(refs_of(&t), 2); /* the queued job's */
  CHECK(hl__jobs_cancel(&queued.job));
  CHECK_INT(refs_of(&t), 1);

  pthread_mutex_lock(&b.mu);
  b.go = true;
  pthread_cond_broadcast(&b.cv);
  while (!b.done) pthread_cond_wait(&b.cv, &b.mu);
  pthread_mutex_unlock(&b.mu);
  pthread_mutex_lock(&s.mu);
  CHECK_INT(s.done, 0);
  pthread_mutex_unlock(&s.mu);
  seen_destroy(&s);
  test_ctx_destroy(&t);
  pthread_mutex_destroy(&b.mu);
  pthread_cond_destroy(&b.cv);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(group_jobs_run_inside_the_submitters_context);
  RUN(submit_here_carries_submit_does_not);
  RUN(cancelled_job_lets_its_context_go); /* last: a pool of one */
  return CHECK_EXIT();
}
