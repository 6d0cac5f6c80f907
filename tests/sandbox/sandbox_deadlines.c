/*
 * tests/sandbox/sandbox_deadlines.c - the hostile-code corpus of programs
 * that defeat a deadline checked only when QuickJS polls its interrupt
 * handler: long built-ins over big strings and arrays, and exception
 * unwinding through deep recursion. Without the watchdog each of them runs
 * seconds to minutes past a 250 ms limit (measured before the fix: 1.4 s
 * to 55 s each); with it every one must end with HL_ERR_TIMEOUT, and the
 * sandbox must compute again afterwards. The watchdog stops a guest once
 * it has used a grace period (10 ms) of CPU time past its wall-clock
 * deadline, so the CPU time the executing thread uses after the deadline
 * (read from its CPU clock by a sampler thread at the deadline) must stay
 * within 100 ms (the grace, and the reset after a hard stop, whose
 * unmapping of a big heap costs system time; 750 ms in sanitizer builds,
 * whose reset is far slower). On a quiet machine CPU time is wall time and
 * the target is the limit plus 50 ms. Wall time on a loaded 2-core machine is the CPU grace
 * divided by the thread's share of a core: it is only bounded loosely
 * (WALL_CAP_MS).
 * The measured overrun of each program is printed to the test log.
 *
 * Also: deadlines of sandboxes running at once on several threads fire in
 * their own order (one watchdog thread serves them all), cancelling from
 * another thread ends even a deadline-defeating program at once, and a
 * program that finishes before its deadline is never hit.
 *
 * And the watchdog stays asleep for executions whose deadline is later
 * than the one it already sleeps until (every execution arms a watch; a
 * wake-up each cost two or three context switches per execution, most of
 * the wall time of a callback round trip on a busy machine).
 */
#include <hookline/sandbox.h>
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "sandbox/sandbox_internal.h"

#define LIMIT_MS 250u
/* How far past its limit an execution may end. Sanitizer builds run the
 * guest several times slower and share two cores with the rest of the
 * suite, so their threads can wait that long to be scheduled at all; and
 * the reset after a hard stop costs them far more CPU: ThreadSanitizer's
 * unmapping of Array.indexOf's 40 MB heap and its shadow took 72-156 ms
 * of the thread's CPU at load 2 and 473 ms at load 4 (a fresh-clone make
 * test beside two builds). Still far below a defeated deadline, which
 * overruns by seconds (1.4 s to 55 s before the watchdog). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MARGIN_MS 750u
#define CPU_MARGIN_MS 750u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MARGIN_MS 750u
#define CPU_MARGIN_MS 750u
#endif
#endif
#ifndef MARGIN_MS
#define MARGIN_MS 250u
/* CPU time past the deadline depends little on the load: the 10 ms
 * grace, then the reset after a hard stop, whose unmapping of a big heap
 * (Array.indexOf's 40 MB) took up to 52 ms of the thread's system time at
 * load 25 (~10 ms on a quiet machine). */
#define CPU_MARGIN_MS 100u
#endif
/* Wall time past the limit that only a guest never stopped reaches on
 * this machine, however loaded (before the watchdog: up to 55 s). */
#define WALL_CAP_MS 5000u

typedef struct hostile {
  const char *name;
  const char *code;
} hostile;

static const hostile corpus[] = {
  {"indexOf over 4 MB", "const s = 'x'.repeat(4e6); let n = 0; for (let i = 0; i < 30; i++) n += s.indexOf('y'); n"},
  {"lastIndexOf+includes", "const s = 'x'.repeat(4e6); let n = 0;"
                           "for (let i = 0; i < 20; i++) n += s.lastIndexOf('y') + s.includes('y'); n"},
  {"replace (string)", "const s = 'x'.repeat(4e6); for (let i = 0; i < 300; i++) s.replace('y', 'z'); 1"},
  {"split (string)", "const s = 'x'.repeat(4e6); for (let i = 0; i < 300; i++) s.split('y'); 1"},
  {"replace (regexp)", "const s = 'x'.repeat(2e6); for (let i = 0; i < 30; i++) s.replace(/x/g, '$&$&'); 1"},
  {"JSON.stringify", "const a = new Array(3e5).fill('abcdef'); for (let i = 0; i < 15; i++) JSON.stringify(a); 1"},
  {"JSON.parse", "const t = JSON.stringify(new Array(2e5).fill({a: 1, b: 'x'}));"
                 "for (let i = 0; i < 5; i++) JSON.parse(t); 1"},
  {"recursion, catch", "let k = 0; function f() { if (k++ > 3e4) return; try { f() } catch (e) { f() } } f(); k"},
  {"recursion, finally", "let k = 0; function f() { if (k++ > 3e4) return; try { f() } finally { f() } } f(); k"},
  {"sort (default order)", "const a = Array.from({length: 2e5}, (_, i) => String((i * 7919) % 2e5));"
                           "for (let i = 0; i < 10; i++) a.slice().sort(); 1"},
  {"sort (comparator)", "const a = Array.from({length: 2e5}, (_, i) => (i * 7919) % 2e5);"
                        "for (let i = 0; i < 30; i++) a.slice().sort((x, y) => x - y); 1"},
  {"Array.join", "const a = new Array(1e6).fill('ab'); for (let i = 0; i < 60; i++) a.join(','); 1"},
  {"String.repeat growth", "for (let i = 0; i < 40; i++) 'abc'.repeat(5e6).length; 1"},
  {"Array.indexOf", "const a = new Array(5e6).fill(1); for (let i = 0; i < 50; i++) a.indexOf(2); 1"},
  {"toUpperCase", "const s = 'x'.repeat(4e6); for (let i = 0; i < 50; i++) s.toUpperCase(); 1"},
  {"normalize", "const s = '\\u00e9'.repeat(2e6); for (let i = 0; i < 20; i++) s.normalize('NFD'); 1"},
  {"encodeURIComponent", "const s = 'x'.repeat(4e6); for (let i = 0; i < 60; i++) encodeURIComponent(s); 1"},
  {"indexOf, long needle", "'x'.repeat(6e4).indexOf('x'.repeat(3e4) + 'y')"},
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t clock_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads the guest thread's CPU clock at the deadline (a late sampler on
 * a loaded machine reads later, which only shortens what it measures
 * past the deadline: the check errs on the lenient side, never the
 * strict one). */
typedef struct sampler {
  clockid_t guest_cpu;
  struct timespec at; /* CLOCK_MONOTONIC */
  uint64_t cpu_ms;
} sampler;

static void *sample(void *arg) {
  sampler *s = arg;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &s->at, NULL) != 0) {
  }
  s->cpu_ms = clock_ms(s->guest_cpu);
  return NULL;
}

/* Execute `code` with a deadline `limit_ms` away: wall time it took and
 * CPU time the calling thread used past the deadline. */
static hl_status execute_timed(hl_sandbox *sb, const char *code, unsigned limit_ms,
                               hl_sandbox_result *r, uint64_t *took, uint64_t *cpu_past) {
  sampler s;
  if (pthread_getcpuclockid(pthread_self(), &s.guest_cpu) != 0)
    return HL_ERR_STATE;
  clock_gettime(CLOCK_MONOTONIC, &s.at);
  uint64_t t0 = now_ms();
  s.at.tv_sec += limit_ms / 1000u;
  s.at.tv_nsec += (long)(limit_ms % 1000u) * 1000000L;
  if (s.at.tv_nsec >= 1000000000L) {
    s.at.tv_sec++;
    s.at.tv_nsec -= 1000000000L;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, sample, &s) != 0)
    return HL_ERR_STATE; /* not HL_ERR_TIMEOUT: the check fails */
  hl_status st = hl_sandbox_execute(sb, NULL, code, r);
  *took = now_ms() - t0;
  uint64_t end_cpu = clock_ms(s.guest_cpu);
  pthread_join(t, NULL);
  *cpu_past = end_cpu > s.cpu_ms ? end_cpu - s.cpu_ms : 0;
  return st;
}

static hl_sandbox *sandbox_with_limit(unsigned timeout_ms) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.timeout_ms = timeout_ms;
  l.memory_bytes = (size_t)256 << 20; /* room for the big strings and arrays */
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(&l, &sb) != HL_OK)
    fprintf(stderr, "hl_sandbox_new: %s\n", hl_last_error());
  return sb;
}

/* The sandbox computes again after whatever happened to it. */
static int computes(hl_sandbox *sb) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, "[1, 2, 3].map(x => x * 2).join('-')", &r);
  int ok = r.status == HL_OK && r.value_json && strcmp(r.value_json, "\"2-4-6\"") == 0;
  hl_sandbox_result_clear(&r);
  return ok;
}

static void every_hostile_program_ends_at_its_deadline(void) {
  hl_sandbox *sb = sandbox_with_limit(LIMIT_MS);
  REQUIRE(sb);
  uint64_t worst = 0;
  for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    uint64_t took, cpu;
    hl_status st = execute_timed(sb, corpus[i].code, LIMIT_MS, &r, &took, &cpu);
    long over = (long)took - (long)LIMIT_MS;
    fprintf(stderr, "  %-22s ended after %4llu ms (%+ld ms past the limit, %3llu ms CPU): %s\n",
            corpus[i].name, (unsigned long long)took, over, (unsigned long long)cpu, hl_last_error());
    if (st != HL_ERR_TIMEOUT || cpu > CPU_MARGIN_MS || took > LIMIT_MS + WALL_CAP_MS ||
        !strstr(hl_last_error(), "timed out after 250 ms")) {
      fprintf(stderr, "FAIL: %s: status %s, %llu ms, %llu ms CPU\n", corpus[i].name, hl_status_name(st),
              (unsigned long long)took, (unsigned long long)cpu);
      check_failures_++;
    }
    if (took > worst)
      worst = took;
    hl_sandbox_result_clear(&r);
    CHECK(computes(sb));
    /* A program stopped by QuickJS's own poll keeps its session: clear
     * its globals before the next one declares the same names. */
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  }
  fprintf(stderr, "  worst: %llu ms for a %u ms limit\n", (unsigned long long)worst, LIMIT_MS);
  hl_sandbox_free(sb);
}

/* A program that finishes inside its limit is never touched by the
 * watchdog, and its session lives on. */
static void a_program_within_its_limit_is_not_hit(void) {
  hl_sandbox *sb = sandbox_with_limit(5000);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "var s = 'x'.repeat(4e6); let n = 0;"
                                   "for (let i = 0; i < 3; i++) n += s.indexOf('y'); n", &r), HL_OK);
  CHECK_STR(r.value_json, "-3");
  hl_sandbox_result_clear(&r);
  for (int i = 0; i < 200; i++) {
    hl_sandbox_execute(sb, NULL, "s.length", &r);
    if (r.status != HL_OK || !r.value_json || strcmp(r.value_json, "4000000") != 0) {
      CHECK_STR(r.value_json, "4000000");
      hl_sandbox_result_clear(&r);
      break;
    }
    hl_sandbox_result_clear(&r);
  }
  hl_sandbox_free(sb);
}

/* Several sandboxes on several threads, each with its own limit, all
 * running a program that never polls in time: each ends at its own
 * deadline, not at the earliest or the latest. */
typedef struct racer {
  unsigned limit_ms;
  const char *code;
  uint64_t took, cpu;
  hl_status status;
  int computes_after;
} racer;

static void *race(void *arg) {
  racer *r = arg;
  hl_sandbox *sb = sandbox_with_limit(r->limit_ms);
  if (!sb)
    return NULL;
  hl_sandbox_result res = HL_SANDBOX_RESULT_INIT;
  r->status = execute_timed(sb, r->code, r->limit_ms, &res, &r->took, &r->cpu);
  hl_sandbox_result_clear(&res);
  r->computes_after = computes(sb);
  hl_sandbox_free(sb);
  return NULL;
}

static void deadlines_of_parallel_sandboxes_fire_in_order(void) {
  racer rs[4] = {
    {700, "const s = 'x'.repeat(4e6); let n = 0; for (let i = 0; i < 1e4; i++) n += s.indexOf('y'); n", 0, 0, 0, 0},
    {150, "const a = new Array(1e6).fill('ab'); for (let i = 0; i < 1e4; i++) a.join(','); 1", 0, 0, 0, 0},
    {450, "let k = 0; function f() { try { f() } catch (e) { f() } } f()", 0, 0, 0, 0},
    {300, "const s = 'x'.repeat(4e6); for (let i = 0; i < 1e4; i++) s.toUpperCase(); 1", 0, 0, 0, 0},
  };
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    REQUIRE(pthread_create(&t[i], NULL, race, &rs[i]) == 0);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) {
    fprintf(stderr, "  limit %u ms: ended after %llu ms, %llu ms CPU past it\n", rs[i].limit_ms,
            (unsigned long long)rs[i].took, (unsigned long long)rs[i].cpu);
    CHECK_INT(rs[i].status, HL_ERR_TIMEOUT);
    CHECK(rs[i].took + 5 >= rs[i].limit_ms); /* not stopped early by another's deadline */
    /* Not stopped late by another's: no more than its grace of CPU past
     * its own deadline (four guests share two cores: wall time is more). */
    CHECK(rs[i].cpu <= CPU_MARGIN_MS);
    CHECK(rs[i].took <= rs[i].limit_ms + WALL_CAP_MS);
    CHECK(rs[i].computes_after);
  }
}

/* Cancelling from another thread (what code mode does when the agent
 * run is cancelled) ends even a program that never polls, long before
 * its deadline. */
typedef struct canceller {
  hl_sandbox *sb;
  unsigned after_ms;
  uint64_t at;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;
  struct timespec d = {0, (long)c->after_ms * 1000000L};
  nanosleep(&d, NULL);
  c->at = now_ms();
  hl__sb_cancel(c->sb);
  return NULL;
}

static void cancel_stops_a_program_that_never_polls(void) {
  static const char *const codes[] = {
    "const s = 'x'.repeat(4e6); let n = 0; for (let i = 0; i < 1e4; i++) n += s.indexOf('y'); n",
    "let k = 0; function f() { try { f() } finally { f() } } f()",
    "let i = 0; while (true) i++", /* the soft path */
  };
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
    hl_sandbox *sb = sandbox_with_limit(30000);
    REQUIRE(sb);
    canceller c = {sb, 300, 0};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, cancel_later, &c) == 0);
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    hl_status st = hl_sandbox_execute(sb, NULL, codes[i], &r);
    uint64_t end = now_ms();
    pthread_join(t, NULL);
    fprintf(stderr, "  cancel: ended %lld ms after the cancel: %s\n", (long long)(end - c.at), hl_last_error());
    CHECK_INT(st, HL_ERR_CANCELLED);
    CHECK_CONTAINS(hl_last_error(), "execution cancelled");
    CHECK(end - c.at <= 50 + MARGIN_MS);
    hl_sandbox_result_clear(&r);
    /* The cancel is sticky: the sandbox does not run again. */
    CHECK_INT(hl_sandbox_execute(sb, NULL, "1", &r), HL_ERR_CANCELLED);
    hl_sandbox_result_clear(&r);
    hl_sandbox_free(sb);
  }
}

static void executions_do_not_wake_the_watchdog_each_time(void) {
  hl_sandbox_limits limits;
  hl_sandbox_limits_default(&limits);
  limits.timeout_ms = 30000;
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(&limits, &sb) == HL_OK);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  /* The first execution may wake it (a new earliest deadline). */
  CHECK_INT(hl_sandbox_execute(sb, NULL, "1", &r), HL_OK);
  hl_sandbox_result_clear(&r);
  unsigned long before = hl__watch_wakeups();
  for (int i = 0; i < 200; i++) {
    CHECK_INT(hl_sandbox_execute(sb, NULL, "1 + 1", &r), HL_OK);
    hl_sandbox_result_clear(&r);
  }
  unsigned long woken = hl__watch_wakeups() - before;
  fprintf(stderr, "watchdog wake-ups for 200 executions: %lu\n", woken);
  /* Later deadlines never need one: none at all, whatever the load. */
  CHECK_INT(woken, 0);
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(executions_do_not_wake_the_watchdog_each_time);
  RUN(every_hostile_program_ends_at_its_deadline);
  RUN(a_program_within_its_limit_is_not_hit);
  RUN(deadlines_of_parallel_sandboxes_fire_in_order);
  RUN(cancel_stops_a_program_that_never_polls);
  return CHECK_EXIT();
}
