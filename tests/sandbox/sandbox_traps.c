/*
 * tests/sandbox/sandbox_traps.c - WebAssembly traps are per thread and
 * recoverable, and the library never touches the process's signal
 * handlers: 8 threads make their sandboxes trap (out-of-bounds access,
 * call-stack exhaustion from deep JavaScript recursion, `unreachable`)
 * over and over, each recovers and computes again, and the SIGSEGV
 * handler this test installed is still in place afterwards and was never
 * called.
 */
#include <hookline/sandbox.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "check.h"
#include "sandbox/qjs_vm.h"
#include "sandbox/sandbox_internal.h"

static atomic_int segv_seen;

static void test_segv_handler(int sig, siginfo_t *info, void *uctx) {
  (void)sig, (void)info, (void)uctx;
  atomic_fetch_add(&segv_seen, 1);
  _exit(99); /* a real fault would otherwise loop */
}

#define ROUNDS 6

static long check_alive(hl_sandbox *sb, long id) {
  char code[96];
  snprintf(code, sizeof code, "[%ld, [1, 2, 3].reduce((a, b) => a + b)]", id);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, code, &r);
  char want[48];
  snprintf(want, sizeof want, "[%ld,6]", id);
  long bad = (r.status != HL_OK || !r.value_json || strcmp(r.value_json, want) != 0);
  if (bad)
    fprintf(stderr, "thread %ld: sandbox not usable after a trap: %s\n", id, hl_last_error());
  hl_sandbox_result_clear(&r);
  return bad;
}

static void *trapping_thread(void *arg) {
  long id = (long)arg;
  long bad = 0;
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(NULL, &sb) != HL_OK)
    return (void *)1;
  for (int round = 0; round < ROUNDS; round++) {
    int kind = (int)((id + round) % 3);
    if (kind == 0) {
      /* Deep recursion on a thread with a small native stack: the wasm
       * call-depth limit (derived from the stack left) traps before the
       * native stack could overflow. */
      hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
      hl_sandbox_execute(sb, NULL, "function down(n) { return down(n + 1) + 1; } down(0)", &r);
      if (r.status != HL_ERR_SANDBOX || !strstr(hl_last_error(), "call stack exhausted") ||
          !strstr(hl_last_error(), "session was reset")) {
        fprintf(stderr, "thread %ld: recursion gave %d: %s\n", id, r.status, hl_last_error());
        bad++;
      }
      hl_sandbox_result_clear(&r);
    } else {
      hl_status st = hl__vm_fault(sb->vm, kind);
      const char *msg = hl_last_error();
      const char *want = kind == 1 ? "out of bounds memory access" : "unreachable executed";
      if (st != HL_ERR_SANDBOX || !strstr(msg, want) || !hl_vm_broken(sb->vm)) {
        fprintf(stderr, "thread %ld: fault %d gave %d: %s\n", id, kind, st, msg);
        bad++;
      }
      /* A broken instance refuses work until reset. */
      hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
      hl_sandbox_execute(sb, NULL, "1", &r); /* resets first */
      if (r.status != HL_OK)
        bad++;
      hl_sandbox_result_clear(&r);
    }
    bad += check_alive(sb, id);
  }
  hl_sandbox_free(sb);
  return (void *)bad;
}

static bool same_handler(const struct sigaction *a, const struct sigaction *b) {
  return (a->sa_flags & SA_SIGINFO) == (b->sa_flags & SA_SIGINFO) &&
         ((a->sa_flags & SA_SIGINFO) ? a->sa_sigaction == b->sa_sigaction : a->sa_handler == b->sa_handler);
}

static void eight_threads_trap_and_recover(void) {
  /* Whatever handles these now (the default, or a sanitizer) must still
   * handle them afterwards. */
  static const int others[] = {SIGBUS, SIGILL, SIGFPE};
  struct sigaction before[3], after;
  for (int i = 0; i < 3; i++)
    REQUIRE(sigaction(others[i], NULL, &before[i]) == 0);
  struct sigaction mine, now;
  memset(&mine, 0, sizeof mine);
  mine.sa_sigaction = test_segv_handler;
  mine.sa_flags = SA_SIGINFO;
  sigemptyset(&mine.sa_mask);
  REQUIRE(sigaction(SIGSEGV, &mine, NULL) == 0);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  /* Small stacks, as some hosts give their worker threads (1 MiB: under
   * TSan, thread-local storage takes a good part of a thread's stack). */
  pthread_attr_setstacksize(&attr, 1024 * 1024);
  pthread_t t[8];
  for (long i = 0; i < 8; i++)
    REQUIRE(pthread_create(&t[i], &attr, trapping_thread, (void *)(i + 1)) == 0);
  pthread_attr_destroy(&attr);
  for (int i = 0; i < 8; i++) {
    void *bad = NULL;
    pthread_join(t[i], &bad);
    CHECK(bad == NULL);
  }

  REQUIRE(sigaction(SIGSEGV, NULL, &now) == 0);
  CHECK((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == test_segv_handler);
  CHECK_INT(atomic_load(&segv_seen), 0);
  for (int i = 0; i < 3; i++) {
    REQUIRE(sigaction(others[i], NULL, &after) == 0);
    CHECK(same_handler(&before[i], &after));
  }
  signal(SIGSEGV, SIG_DFL);
}

static void trap_outside_thread_stack_limit_on_main_thread(void) {
  /* On a big stack, QuickJS's own limit answers first: a catchable
   * error, no trap, and the session survives. */
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, "var kept = 'still here'; let depth = 0;\n"
                         "function d() { depth++; d(); }\n"
                         "try { d() } catch (e) { e.message }", &r);
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "\"stack overflow\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_execute(sb, NULL, "[kept, depth > 1000]", &r);
  CHECK_STR(r.value_json, "[\"still here\",true]");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

int main(void) {
  RUN(eight_threads_trap_and_recover);
  RUN(trap_outside_thread_stack_limit_on_main_thread);
  return CHECK_EXIT();
}
