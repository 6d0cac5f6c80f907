/*
 * tests/sandbox/sandbox_limits.c - hostile code against the sandbox's
 * limits: each case ends with the right status, the host process is
 * intact, and the sandbox is reusable afterwards.
 */
#include <hookline/sandbox.h>
#include <hookline/json.h>
#include <hookline/tool.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "check.h"
#include "sandbox/qjs_vm.h"
#include "sandbox/sandbox_internal.h"

static hl_sandbox *sandbox_with(unsigned timeout_ms, size_t memory, unsigned max_callbacks,
                                size_t max_output) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.timeout_ms = timeout_ms;
  l.memory_bytes = memory;
  l.max_callbacks = max_callbacks;
  l.max_output_bytes = max_output;
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(&l, &sb) != HL_OK)
    fprintf(stderr, "hl_sandbox_new: %s\n", hl_last_error());
  return sb;
}

/* The sandbox still computes after whatever happened to it. */
static void check_reusable(hl_sandbox *sb) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, "[1, 2, 3].map(x => x * 2).join('-')", &r);
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "\"2-4-6\"");
  hl_sandbox_result_clear(&r);
}

static void infinite_loop_times_out(void) {
  hl_sandbox *sb = sandbox_with(200, 0, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "let i = 0; while (true) { i++; }", &r), HL_ERR_TIMEOUT);
  CHECK_INT(r.status, HL_ERR_TIMEOUT);
  CHECK_CONTAINS(hl_last_error(), "timed out after 200 ms");
  CHECK_CONTAINS(hl_last_error(), "timed out");
  hl_sandbox_result_clear(&r);
  /* try/catch cannot swallow the interruption */
  CHECK_INT(hl_sandbox_execute(sb, NULL, "for (;;) { try { while (true) {} } catch (e) {} }", &r),
            HL_ERR_TIMEOUT);
  hl_sandbox_result_clear(&r);
  check_reusable(sb);
  /* the session survived the interruption */
  hl_sandbox_execute(sb, NULL, "typeof i", &r);
  CHECK_STR(r.value_json, "\"number\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void unbounded_recursion_is_a_limit(void) {
  hl_sandbox *sb = sandbox_with(5000, 0, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "function f(n) { return f(n + 1) + 1; } f(0)", &r), HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "stack overflow");
  hl_sandbox_result_clear(&r);
  check_reusable(sb);
  hl_sandbox_free(sb);
}

static void allocation_bomb_hits_memory_limit(void) {
  hl_sandbox *sb = sandbox_with(20000, (size_t)48 << 20, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "const keep = []; for (;;) keep.push(new Array(100000).fill(7));", &r),
            HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "out of memory");
  hl_sandbox_result_clear(&r);
  /* Memory held by the session is still held: reset frees it. */
  CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  check_reusable(sb);
  hl_sandbox_free(sb);
}

static void huge_string_hits_memory_limit(void) {
  hl_sandbox *sb = sandbox_with(20000, (size_t)64 << 20, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "const s = 'x'.repeat(100 * 1024 * 1024); s.length", &r), HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "out of memory");
  hl_sandbox_result_clear(&r);
  /* Catching it does not help the code get the memory. */
  CHECK_INT(hl_sandbox_execute(sb, NULL, "let got; try { got = 'y'.repeat(100 * 1024 * 1024).length } "
                                   "catch (e) { got = e.message } got", &r), HL_OK);
  CHECK_STR(r.value_json, "\"out of memory\"");
  hl_sandbox_result_clear(&r);
  check_reusable(sb);
  hl_sandbox_free(sb);
}

static void memory_growth_stops_at_the_limit(void) {
  /* Without QuickJS's own allocation limit, only the cap on linear memory
   * growth (the heap-resize import) stands between the code and the
   * host's memory. */
  const size_t cap = (size_t)40 << 20;
  hl_sandbox *sb = sandbox_with(20000, cap, 1000, 1 << 20);
  REQUIRE(sb);
  hl_vm_set_heap_limit(sb->vm, 0);
  size_t before = hl_vm_memory_size(sb->vm);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, NULL, "const hog = []; for (;;) hog.push(new Array(50000).fill(1));", &r);
  /* QuickJS's allocator sees the refused growth as a failed malloc and
   * throws its clean "out of memory". */
  CHECK_INT(st, HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "out of memory");
  hl_sandbox_result_clear(&r);
  size_t after = hl_vm_memory_size(sb->vm);
  CHECK(after <= cap);
  CHECK(after > before + ((size_t)8 << 20)); /* it did grow, up to the cap */
  CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  check_reusable(sb);
  hl_sandbox_free(sb);
}

static hl_status noop_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  *result = cJSON_CreateTrue();
  return HL_OK;
}

static void a_million_callbacks_hit_the_count_limit(void) {
  hl_sandbox *sb = sandbox_with(20000, 0, 500, 1 << 20);
  REQUIRE(sb);
  hl_tool *ping = hl_tool_new("ping", "", noop_fn, NULL);
  REQUIRE(ping && hl_sandbox_add_tool(sb, ping, NULL) == HL_OK);
  hl_tool_unref(ping);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "for (let i = 0; i < 1000000; i++) await ping();", &r), HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "more than 500 callback invocations");
  CHECK_INT(r.callback_count, 501);
  hl_sandbox_result_clear(&r);
  /* Fired all at once, without awaiting each: the calls made inside async
   * functions swallow QuickJS's interruption, so the instance is stopped
   * at the wasm level and the session reset. */
  CHECK_INT(hl_sandbox_execute(sb, NULL, "var ps = []; for (let i = 0; i < 1000000; i++) ps.push(ping()); "
                                   "await Promise.all(ps)", &r), HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "more than 500 callback invocations");
  CHECK_CONTAINS(hl_last_error(), "session was reset");
  hl_sandbox_result_clear(&r);
  CHECK_INT(hl_sandbox_execute(sb, NULL, "typeof ps", &r), HL_OK);
  CHECK_STR(r.value_json, "\"undefined\"");
  hl_sandbox_result_clear(&r);
  /* Within the limit, a fresh execution counts from zero. */
  CHECK_INT(hl_sandbox_execute(sb, NULL, "let n = 0; for (let i = 0; i < 100; i++) if (await ping()) n++; n", &r),
            HL_OK);
  CHECK_STR(r.value_json, "100");
  CHECK_INT(r.callback_count, 100);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void endless_output_hits_the_output_cap(void) {
  hl_sandbox *sb = sandbox_with(20000, 0, 1000, 4096);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "for (;;) console.log('spam spam spam spam')", &r), HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "output exceeded 4096 bytes");
  CHECK(r.stdout_len <= 4096);
  CHECK(r.stdout_len > 4000);
  CHECK_INT(strlen(r.stdout_text), r.stdout_len);
  hl_sandbox_result_clear(&r);
  /* stderr counts too */
  CHECK_INT(hl_sandbox_execute(sb, NULL, "for (;;) { try { console.error('x'.repeat(1000)) } catch (e) {} }", &r),
            HL_ERR_TOO_LARGE);
  CHECK(r.stderr_len <= 4096);
  hl_sandbox_result_clear(&r);
  check_reusable(sb);
  hl_sandbox_free(sb);
}

/* A single 30 MB console.log in a 48 MB sandbox: its conversion to UTF-8
 * used to run out of memory and drop the output silently (status OK,
 * empty stdout). It must end at the output cap, with the cap's worth of
 * output; without a cap the whole line arrives. */
static void a_huge_console_log_hits_the_output_cap(void) {
  hl_sandbox *sb = sandbox_with(20000, (size_t)48 << 20, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "console.log('x'.repeat(30e6)); 'after'", &r), HL_ERR_TOO_LARGE);
  CHECK_CONTAINS(hl_last_error(), "output exceeded 1048576 bytes");
  CHECK_INT(r.stdout_len, 1 << 20);
  CHECK(r.value_json == NULL);
  hl_sandbox_result_clear(&r);
  check_reusable(sb);
  hl_sandbox_free(sb);

  sb = sandbox_with(20000, (size_t)48 << 20, 1000, 0);
  REQUIRE(sb);
  CHECK_INT(hl_sandbox_execute(sb, NULL, "console.log('x'.repeat(30e6), 'y'); 'after'", &r), HL_OK);
  CHECK_INT(r.stdout_len, 30000000 + 3);
  CHECK(r.stdout_len == 30000003 && memcmp(r.stdout_text + r.stdout_len - 4, "x y\n", 4) == 0);
  CHECK_STR(r.value_json, "\"after\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

/* Cut at the cap in the middle of a multi-byte character, the captured
 * output stays valid UTF-8. */
static void output_cut_at_the_cap_stays_utf8(void) {
  hl_sandbox *sb = sandbox_with(20000, 0, 1000, 1001);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "console.log('\u00e9'.repeat(1000))", &r), HL_ERR_TOO_LARGE);
  CHECK_INT(r.stdout_len, 1000);
  CHECK(hl_utf8_valid(r.stdout_text, r.stdout_len));
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

/* Running out of memory is the memory limit, however QuickJS reports it:
 * an exception that cannot be described for lack of memory (it used to be
 * ExecutionFailed "uncaught exception" or "null"), or the regexp
 * compiler's SyntaxError "out of memory". A user's own `throw null` stays
 * an ordinary failure. */
static void out_of_memory_is_the_memory_limit(void) {
  static const char *const programs[] = {
    "const m = new Map(); for (let i = 0;; i++) m.set(i, [i])",
    "const s = []; for (let i = 0;; i++) s.push(String(i))",
    NULL, /* a 6 MB regexp literal, built below */
  };
  char *regexp = malloc(6000000 + 32);
  REQUIRE(regexp);
  regexp[0] = '/';
  memset(regexp + 1, 'a', 6000000);
  strcpy(regexp + 6000001, "/.source.length");
  for (size_t i = 0; i < 3; i++) {
    hl_sandbox *sb = sandbox_with(20000, (size_t)32 << 20, 1000, 1 << 20);
    REQUIRE(sb);
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    hl_status st = hl_sandbox_execute(sb, NULL, programs[i] ? programs[i] : regexp, &r);
    if (st != HL_ERR_LIMIT)
      fprintf(stderr, "program %zu: %s: %s\n", i, hl_status_name(st), hl_last_error());
    CHECK_INT(st, HL_ERR_LIMIT);
    CHECK_CONTAINS(hl_last_error(), "out of memory");
    hl_sandbox_result_clear(&r);
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
    check_reusable(sb);
    hl_sandbox_free(sb);
  }
  free(regexp);
  hl_sandbox *sb = sandbox_with(20000, (size_t)32 << 20, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "throw null", &r), HL_ERR_EXECUTION_FAILED);
  CHECK_STR(hl_last_error(), "null");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void host_objects_are_out_of_reach(void) {
  hl_sandbox *sb = sandbox_with(5000, 0, 1000, 1 << 20);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  /* Constructor chains lead to QuickJS's own Function, which evaluates in
   * the same sandboxed realm. */
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "const F = (() => {}).constructor.constructor;\n"
    "const g = F('return this')();\n"
    "const names = [];\n"
    "for (const k of Object.getOwnPropertyNames(g)) names.push(k);\n"
    "[g === globalThis, typeof g.process, typeof g.require, typeof g.Deno,\n"
    " typeof g.__hl_host, names.includes('console'), names.some(n => /^(write|call)$/.test(n)),\n"
    " ({}).__proto__.constructor.constructor('return typeof process')()]", &r), HL_OK);
  CHECK_STR(r.value_json,
            "[true,\"undefined\",\"undefined\",\"undefined\",\"undefined\",true,false,\"undefined\"]");
  hl_sandbox_result_clear(&r);
  /* Walking everything reachable from globalThis finds no host function
   * other than console's and the callbacks'. */
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "const seen = new Set(); const hits = []; const stack = [[globalThis, 'globalThis']];\n"
    "while (stack.length) { const [o, path] = stack.pop();\n"
    "  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;\n"
    "  seen.add(o);\n"
    "  if (typeof o === 'function' && /^(write|call)$/.test(o.name) && o !== Function.prototype.call)\n"
    "    hits.push(path);\n"
    "  for (const k of Reflect.ownKeys(o)) { let v; try { v = o[k]; } catch (e) { continue; }\n"
    "    stack.push([v, path + '.' + String(k)]); } }\n"
    "[hits.length, seen.size > 100]", &r), HL_OK);
  CHECK_STR(r.value_json, "[0,true]");
  hl_sandbox_result_clear(&r);
  check_reusable(sb);
  hl_sandbox_free(sb);
}


/* A guest thread that gets almost no CPU (SCHED_IDLE, sharing one CPU
 * with a busy thread: what a loaded machine does to it) is descheduled
 * across its deadline far longer than the hard stop's grace. It has had no
 * chance to poll QuickJS's interrupt handler, so it must still be stopped
 * the soft way when it runs again: HL_ERR_TIMEOUT with the session kept,
 * not a hard stop that resets it. Before the grace was counted in the
 * guest's CPU time, the watchdog hard-stopped it 20 ms of wall time after
 * the deadline (tests failed at load 25-70). */
typedef struct starved {
  hl_sandbox *sb;
  int cpu;
  atomic_bool done;
  int idle_ok;
  int runs, soft, reset;
  char last_error[256];
  char after[64];
} starved;

static void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *hog(void *arg) {
  starved *s = arg;
  pin_to(s->cpu);
  volatile unsigned long spin = 0;
  while (!atomic_load_explicit(&s->done, memory_order_relaxed))
    spin++;
  return NULL;
}

static void *starved_guest(void *arg) {
  starved *s = arg;
  pin_to(s->cpu);
  struct sched_param none = {0};
  s->idle_ok = pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) == 0;
  for (s->runs = 0; s->idle_ok && s->runs < 3; s->runs++) {
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    hl_status st = hl_sandbox_execute(s->sb, NULL, "var i = 0; while (true) { i++; }", &r);
    snprintf(s->last_error, sizeof s->last_error, "%s", hl_last_error());
    if (st == HL_ERR_TIMEOUT && !strstr(s->last_error, "reset"))
      s->soft++;
    if (strstr(s->last_error, "reset"))
      s->reset++;
    hl_sandbox_result_clear(&r);
  }
  /* The session survived: asked once the starving is over (the hog
   * stopped, this thread's policy back to normal), so that the answer
   * does not depend on what else the machine runs on this CPU. */
  atomic_store(&s->done, true);
  pthread_setschedparam(pthread_self(), SCHED_OTHER, &none);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(s->sb, NULL, "typeof i", &r);
  snprintf(s->after, sizeof s->after, "%s", r.value_json ? r.value_json : hl_last_error());
  hl_sandbox_result_clear(&r);
  return NULL;
}

static void a_starved_guest_is_stopped_softly(void) {
  starved s = {.sb = sandbox_with(100, 0, 1000, 1 << 20)};
  REQUIRE(s.sb);
  atomic_init(&s.done, false);
  cpu_set_t mine;
  REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
  while (s.cpu < CPU_SETSIZE && !CPU_ISSET(s.cpu, &mine))
    s.cpu++;
  pthread_t h, g;
  REQUIRE(pthread_create(&h, NULL, hog, &s) == 0);
  REQUIRE(pthread_create(&g, NULL, starved_guest, &s) == 0);
  pthread_join(g, NULL);
  pthread_join(h, NULL);
  fprintf(stderr, "  starved guest: %d runs, %d soft stops, %d resets; last: %s\n", s.runs, s.soft,
          s.reset, s.last_error);
  CHECK(s.idle_ok); /* lowering one's own policy needs no privilege */
  CHECK_INT(s.soft, 3);
  CHECK_INT(s.reset, 0);
  CHECK_STR(s.after, "\"number\""); /* the session survived */
  hl_sandbox_free(s.sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(infinite_loop_times_out);
  RUN(a_starved_guest_is_stopped_softly);
  RUN(unbounded_recursion_is_a_limit);
  RUN(allocation_bomb_hits_memory_limit);
  RUN(huge_string_hits_memory_limit);
  RUN(memory_growth_stops_at_the_limit);
  RUN(a_million_callbacks_hit_the_count_limit);
  RUN(endless_output_hits_the_output_cap);
  RUN(a_huge_console_log_hits_the_output_cap);
  RUN(output_cut_at_the_cap_stays_utf8);
  RUN(out_of_memory_is_the_memory_limit);
  RUN(host_objects_are_out_of_reach);
  return CHECK_EXIT();
}
