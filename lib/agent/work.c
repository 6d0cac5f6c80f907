/*
 * work.c - hl_work_parallel() (run.h): a parallel for over the library's
 * worker pool, for agents and tools built on the public API (the
 * parallel workflow agent), so that they need no threads of their own.
 */
#include <stdatomic.h>

#include "core/taskpool.h"
#include "core/util.h"
#include "hookline/run.h"

/* More helpers than this would only queue on the pool. */
#define HL_WORK_MAX_HELPERS 63

typedef struct work {
  hl_work_fn fn;
  void *arg;
  size_t n;
  atomic_size_t next;
} work;

typedef struct helper {
  hl__job job;
  work *w;
} helper;

static void drain(work *w) {
  for (;;) {
    size_t i = atomic_fetch_add(&w->next, 1);
    if (i >= w->n) return;
    w->fn(w->arg, i);
  }
}

static void helper_fn(hl__job *job) { drain(((helper *)job)->w); }

hl_status hl_work_parallel(size_t n, hl_work_fn fn, void *arg) {
  if (!fn) return hl_fail(HL_ERR_INVALID, "hl_work_parallel: fn is NULL");
  if (n == 0) return HL_OK;
  work w = {.fn = fn, .arg = arg, .n = n};
  atomic_init(&w.next, 0);
  size_t helpers = n - 1 < HL_WORK_MAX_HELPERS ? n - 1 : HL_WORK_MAX_HELPERS;
  helper h[HL_WORK_MAX_HELPERS];
  hl__group g;
  hl__group_init(&g);
  for (size_t i = 0; i < helpers; i++) {
    h[i] = (helper){.job = {.fn = helper_fn}, .w = &w};
    hl__group_submit(&g, &h[i].job);
  }
  drain(&w);
  hl__group_wait(&g);
  hl_clear_error();
  return HL_OK;
}
