/*
 * lib/sandbox/watchdog.h - one process-wide timer thread that fires
 * deadlines (private to lib/sandbox).
 *
 * A sandbox execution arms a watch with its hard deadline; the watchdog
 * thread sleeps until the earliest armed deadline (no polling tick) and
 * then calls the watch's fire function, which makes the running guest trap
 * (hl_vm_interrupt). One thread serves every sandbox of the process; it
 * starts on the first arm and then lives as long as the process.
 *
 * Thread-safety: every function may be called from any thread. fire runs
 * on the watchdog thread with the watchdog's lock held: it must be short,
 * must not block and must not call the functions below.
 */
#ifndef HL_SANDBOX_WATCHDOG_H
#define HL_SANDBOX_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>
#include "hookline/status.h"

typedef struct hl_watch hl_watch;
struct hl_watch {
  void (*fire)(hl_watch *w); /* set before arming */
  /* Owned by the watchdog (under its lock): */
  uint64_t due_ns;           /* CLOCK_MONOTONIC */
  size_t slot;               /* position in the heap, or HL_WATCH_IDLE */
};
#define HL_WATCH_IDLE ((size_t)-1)

/** Initialise `w` (idle) with its fire function. */
void hl__watch_init(hl_watch *w, void (*fire)(hl_watch *w));

/** Arm `w` to fire once at `due_ns` (monotonic). HL_ERR_NOMEM when the
 *  watchdog thread cannot be started or the heap cannot grow (message
 *  set); `w` stays idle then. Arming an armed watch moves its deadline. */
hl_status hl__watch_arm(hl_watch *w, uint64_t due_ns);

/** Move an armed watch's deadline to `due_ns` if that is earlier. Returns
 *  false (and does nothing) when `w` is not armed. */
int hl__watch_advance(hl_watch *w, uint64_t due_ns);

/** Disarm `w`. On return its fire function is not running and will not
 *  run (unless armed again). Idle watches are fine. */
void hl__watch_disarm(hl_watch *w);

/** How many times the watchdog thread was woken to look at a new earliest
 *  deadline (for tests: an execution whose deadline is later than the
 *  one the thread already sleeps until must not wake it). */
unsigned long hl__watch_wakeups(void);

#endif
