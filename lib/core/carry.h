/*
 * carry.h - the context a thread works in, carried with the work it hands
 * to other threads: the worker pool (taskpool.h) takes the submitting
 * thread's current one with a job and makes it current on the thread that
 * runs the job, for as long as the job runs.
 *
 * What the context is belongs to a higher layer: today the record of a
 * running tool call (agent/call.h), which embeds an hl__carried and makes
 * itself current for the call, so that a tool's work on a pool thread
 * still runs inside its call (its call id, a child run nesting under it,
 * interrupts). core knows only this header: an opaque object whose own
 * ops keep it alive while a job that carries it waits. Nothing is
 * registered, so there is no start-up order and no process-wide state
 * besides each thread's current pointer.
 *
 * Thread-safety: the current pointer is per thread; ref and unref must be
 * safe from any thread (a job may run, or be dropped, anywhere).
 *
 * Internal to the library.
 */
#ifndef HL_CORE_CARRY_H
#define HL_CORE_CARRY_H

typedef struct hl__carried hl__carried;

typedef struct hl__carried_ops {
  void (*ref)(hl__carried *c);   /* one more reference */
  void (*unref)(hl__carried *c); /* one less; the last frees */
} hl__carried_ops;

/* Embed it in the object to carry; `ops` never changes and outlives it. */
struct hl__carried {
  const hl__carried_ops *ops;
};

/* The thread's current context (carry.c). Use the functions below: they
 * are inline because a tool call reads and sets it several times. */
extern _Thread_local hl__carried *hl__carry_now;

/* The context current on this thread (NULL: none), borrowed. */
static inline hl__carried *hl__carry_current(void) { return hl__carry_now; }
/* Make `c` (may be NULL) current on this thread; borrowed: the caller
 * keeps it alive until the matching leave. Returns what was current,
 * which leave restores. */
static inline hl__carried *hl__carry_enter(hl__carried *c) {
  hl__carried *prev = hl__carry_now;
  hl__carry_now = c;
  return prev;
}
static inline void hl__carry_leave(hl__carried *prev) { hl__carry_now = prev; }

/* Through the object's ops; both accept NULL. ref returns `c`. */
static inline hl__carried *hl__carry_ref(hl__carried *c) {
  if (c) c->ops->ref(c);
  return c;
}
static inline void hl__carry_unref(hl__carried *c) {
  if (c) c->ops->unref(c);
}

#endif
