/*
 * lib/sandbox/watchdog.h - one process-wide timer thread that fires
 * deadlines (private to lib/sandbox).
 *
 * A sandbox execution arms a watch with its deadline; the watchdog
 * thread sleeps until the earliest armed deadline (no polling tick) and
 * then calls the watch's fire function, which may make the running guest
 * trap (hl_vm_interrupt) or ask to be called again later (its return
 * value: the sandbox's hard stop re-arms until the guest has used its
 * grace period in CPU time). One thread serves every sandbox of the
 * process; it starts on the first arm and then lives as long as the
 * process.
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
  /* Set before arming. Returns 0 (the watch is idle again) or the
   * monotonic time to fire again at (it stays armed: disarm, advance and
   * arm treat it as any armed watch). */
  uint64_t (*fire)(hl_watch *w);
  /* Owned by the watchdog (under its lock): */
  uint64_t due_ns;           /* CLOCK_MONOTONIC */
  size_t slot;               /* position in the heap, or HL_WATCH_IDLE */
};
#define HL_WATCH_IDLE ((size_t)-1)

/** Initialise `w` (idle) with its fire function. */
void hl__watch_init(hl_watch *w, uint64_t (*fire)(hl_watch *w));

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
