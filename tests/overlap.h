/*
 * tests/overlap.h - counting the tool calls that run at the same time,
 * for the tests that check that callbacks run in parallel (tests/sandbox,
 * tests/sandbox_py). A call that was meant to overlap with others waits
 * (up to 5 s) until that many have been seen at once, so that a loaded
 * machine cannot make parallel calls look sequential; calls made one
 * after the other never meet, and the count then stays at 1.
 *
 * `running` and `max_running` are this test program's counters (one
 * copy per program: the header is included by one file of each).
 * Thread-safe: the calls run on the sandbox's callback threads.
 */
#ifndef HL_TEST_OVERLAP_H
#define HL_TEST_OVERLAP_H

#include <stdatomic.h>
#include <time.h>

/* Calls running now, and the most seen running at once. A test resets
 * both (atomic_store 0) before the run it measures. */
static atomic_int running, max_running;

static inline void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A call starts: counted in `running`, and `max_running` raised to it. */
static inline void overlap_enter(void) {
  int now = atomic_fetch_add(&running, 1) + 1;
  int seen = atomic_load(&max_running);
  while (now > seen && !atomic_compare_exchange_weak(&max_running, &seen, now)) {
  }
}

/* Waits (up to 5 s, in 1 ms steps) until `peers` calls have run at once. */
static inline void overlap_await(int peers) {
  for (int waited = 0; waited < 5000 && atomic_load(&max_running) < peers; waited++)
    sleep_ms(1);
}

/* A call ends. */
static inline void overlap_leave(void) { atomic_fetch_sub(&running, 1); }

#endif
