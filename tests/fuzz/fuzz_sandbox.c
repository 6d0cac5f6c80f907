/*
 * fuzz_sandbox.c - libFuzzer targets for the sandbox bridge (lib/sandbox),
 * built twice:
 *
 *  FUZZ_BRIDGE=1 (fuzz_sandbox_bridge): the input is a JSON value. It goes
 *    into JavaScript (JSON.parse of a string literal), out to a host
 *    callback as its argument, back into JavaScript as the callback's
 *    result, and out again as the completion value. Invariants: the
 *    callback receives exactly the value, and the completion value is
 *    exactly the value (JavaScript keeps one of duplicate keys, so inputs
 *    with duplicate keys are only run, not compared); the only failure
 *    allowed is the memory limit (deep nesting overflows QuickJS's stack),
 *    and after it the sandbox still runs code. The inputs share one
 *    session (the code declares nothing, so it leaves nothing behind); a
 *    failure is followed by a reset.
 *
 *  FUZZ_BRIDGE=0 (fuzz_sandbox_source): the input is raw guest source, run
 *    with small limits (10 ms, 32 MiB, 4 KiB of output, 8 callbacks)
 *    in a fresh session. Invariants: the status is one hl_sandbox_execute()
 *    documents and equals result.status; error is "" exactly on success;
 *    the completion value, when there is one, is valid JSON; the execution
 *    ends in time: it used at most limit + 50 ms of its thread's CPU time
 *    or took at most limit + 50 ms of wall time (either suffices: a
 *    process the machine starved overruns the wall-clock bound without
 *    any fault of the sandbox, while a guest that burns CPU past its
 *    deadline overruns both); the sandbox still runs code afterwards.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fuzz_util.h"
#include "hookline/json.h"
#include "hookline/sandbox.h"
#include "hookline/tool.h"

/* The bridge's work takes a millisecond; its limit only has to survive a
 * starved process on a loaded machine. Raw source gets a small limit: a
 * guest that loops runs until the limit, and such inputs (8 % of the
 * corpus) took 80 % of the target's time at 50 ms (84 % at 200 ms before).
 * 10 ms still runs the short programs of the corpus to their end (all
 * but 2 % of those that end at all take under 10 ms under ASan); the
 * deadline is checked the same way whatever the limit. */
#if FUZZ_BRIDGE
#define TIMEOUT_MS 5000
#else
#define TIMEOUT_MS 10
#endif
/* How far past its limit an execution may end, in the guest thread's CPU
 * time or in wall time. The bound is limit + 50 ms in a normal
 * build; this build is ASan+UBSan, whose host code (the bridge's JSON, a
 * callback's work, the reset after a hard stop) runs several times slower
 * between two of the guest's polls, so it gets the margin that
 * tests/sandbox/sandbox_deadlines.c gives its sanitizer builds, 250 ms.
 * Measured: JSON.stringify of 100,000 objects took 66 ms of CPU for a
 * 10 ms limit here (~25 ms in a normal build); 40 callbacks each passing a
 * 500 KB string, 116 ms (11-19 ms in a normal build). A guest that defeats
 * the deadline overruns it by seconds (1.4 s to 55 s before the
 * watchdog), far past either. */
#define MARGIN_US 250000

static hl_sandbox *sb;
static cJSON *expected;  /* bridge: the value the callback must receive */
static int callback_calls;

static hl_status echo(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  callback_calls++;
  if (expected) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "v");
    char *got = NULL;
    if (v) hl_json_print(v, &got);
    FUZZ_CHECK(v && hl_json_equal(v, expected), "callback received another value: %s",
               got ? got : "(none)");
    hl_free(got);
  }
  *result = hl_json_clone(args);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "echo: out of memory");
}

static void check_usable(void);

/* The calling thread's CPU time: the sandbox runs the guest on the thread
 * that calls hl_sandbox_execute() (its watchdog's grace is counted on the
 * same clock), so this covers the guest's execution. */
static uint64_t thread_cpu_us(void) {
  struct timespec ts;
  FUZZ_CHECK(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0, "CLOCK_THREAD_CPUTIME_ID");
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* hl_sandbox_execute(), and the CPU time its thread used meanwhile. */
static hl_status execute(const char *code, hl_sandbox_result *r, uint64_t *cpu_us) {
  uint64_t t0 = thread_cpu_us();
  hl_status st = hl_sandbox_execute(sb, NULL, code, r);
  *cpu_us = thread_cpu_us() - t0;
  return st;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  hl_sandbox_limits lim;
  hl_sandbox_limits_default(&lim);
  lim.timeout_ms = TIMEOUT_MS;
  lim.memory_bytes = 32u << 20;
  lim.max_output_bytes = 4096;
  lim.max_callbacks = 8;
  hl_tool *tool = hl_tool_new("echo", "returns its arguments", echo, NULL);
  bool ok = tool && hl_tool_set_schema(tool, "{\"type\":\"object\"}") == HL_OK &&
            hl_sandbox_new(&lim, &sb) == HL_OK && hl_sandbox_add_tool(sb, tool, NULL) == HL_OK;
  hl_tool_unref(tool); /* the sandbox keeps its own reference */
  if (!ok) {
    fprintf(stderr, "fuzz_sandbox: cannot set up the sandbox: %s\n", hl_last_error());
    abort();
  }
  check_usable(); /* the state every input starts from */
  return 0;
}

static const hl_status DOCUMENTED[] = {
    HL_OK, HL_ERR_EXECUTION_FAILED, HL_ERR_INVALID_ARGUMENTS, HL_ERR_NOT_FOUND, HL_ERR_TIMEOUT,
    HL_ERR_LIMIT, HL_ERR_TOO_LARGE, HL_ERR_SANDBOX,
};

static void check_result(hl_status st, const hl_sandbox_result *r, uint64_t cpu_us,
                         const char *code) {
  bool documented = false;
  for (size_t i = 0; i < sizeof DOCUMENTED / sizeof DOCUMENTED[0]; i++)
    documented |= st == DOCUMENTED[i];
  FUZZ_CHECK(documented, "undocumented status %s for: %s", hl_status_name(st), code);
  FUZZ_CHECK(r->status == st, "result.status %s, returned %s", hl_status_name(r->status),
             hl_status_name(st));
  FUZZ_CHECK(r->stdout_text && r->stderr_text, "missing strings");
  /* A failure leaves its reason in the one error store. */
  FUZZ_CHECK(st == HL_OK || (hl_last_status() == st && hl_last_error()[0] != '\0'),
             "status %s with last error %s \"%s\"", hl_status_name(st),
             hl_status_name(hl_last_status()), hl_last_error());
  FUZZ_CHECK(r->stdout_len + r->stderr_len <= 4096 || st == HL_ERR_TOO_LARGE,
             "%zu bytes of output past the cap with status %s", r->stdout_len + r->stderr_len,
             hl_status_name(st));
  if (r->value_json) {
    cJSON *v = NULL;
    FUZZ_CHECK(hl_json_parse(r->value_json, (size_t)-1, &v) == HL_OK,
               "completion value is not valid JSON: %s", r->value_json);
    cJSON_Delete(v);
  }
  /* Ended in time: within the margin in CPU time or in wall time. A
   * starved process fails only the second; a guest that ran on past its
   * deadline fails both. */
  uint64_t bound = (uint64_t)TIMEOUT_MS * 1000 + MARGIN_US;
  FUZZ_CHECK(cpu_us <= bound || r->duration_us <= bound,
             "ran %llu us (%llu us of CPU) with a %d ms limit: %s",
             (unsigned long long)r->duration_us, (unsigned long long)cpu_us, TIMEOUT_MS, code);
}

#if FUZZ_BRIDGE
static bool has_duplicate_keys(const cJSON *v) {
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next) {
    if (cJSON_IsObject(v))
      for (const cJSON *d = c->next; d; d = d->next)
        if (!strcmp(c->string, d->string)) return true;
    if (has_duplicate_keys(c)) return true;
  }
  return false;
}

/* Returns the execution's status (HL_OK when the input is not JSON: nothing
 * ran). */
static hl_status run_bridge(const uint8_t *data, size_t size) {
  cJSON *value = NULL;
  if (hl_json_parse((const char *)data, size, &value) != HL_OK) return HL_OK;
  bool compare = !has_duplicate_keys(value);
  /* The JSON text as a JavaScript string literal (JSON strings are). */
  char *text = NULL, *literal = NULL;
  FUZZ_CHECK(hl_json_print(value, &text) == HL_OK, "print");
  cJSON *s = cJSON_CreateString(text);
  FUZZ_CHECK(s && hl_json_print(s, &literal) == HL_OK, "print literal");
  cJSON_Delete(s);
  size_t n = strlen(literal) + 128;
  char *code = malloc(n);
  FUZZ_CHECK(code != NULL, "malloc");
  /* One expression, no declaration: the code leaves nothing behind in the
   * session, so the next input needs no reset. */
  snprintf(code, n, "(await echo({v: JSON.parse(%s)})).v", literal);

  expected = compare ? value : NULL;
  callback_calls = 0;
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  uint64_t cpu_us;
  hl_status st = execute(code, &r, &cpu_us);
  check_result(st, &r, cpu_us, code);
  if (st == HL_OK) {
    FUZZ_CHECK(callback_calls == 1, "%d callback calls", callback_calls);
    FUZZ_CHECK(r.value_json != NULL, "no completion value for %s", text);
    if (compare) {
      cJSON *back = NULL;
      FUZZ_CHECK(hl_json_parse(r.value_json, (size_t)-1, &back) == HL_OK, "value");
      FUZZ_CHECK(hl_json_equal(back, value), "value changed on the way:\n  in  %s\n  out %s", text,
                 r.value_json);
      cJSON_Delete(back);
    }
  } else {
    FUZZ_CHECK(st == HL_ERR_LIMIT, "bridge failed with %s (%s) for %s", hl_status_name(st), hl_last_error(),
               text);
  }
  expected = NULL;
  hl_sandbox_result_clear(&r);
  free(code);
  hl_free(text);
  hl_free(literal);
  cJSON_Delete(value);
  return st;
}
#else
static void run_source(const uint8_t *data, size_t size) {
  char *code = fuzz_strndup(data, size);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  uint64_t cpu_us;
  hl_status st = execute(code, &r, &cpu_us);
  check_result(st, &r, cpu_us, code);
  hl_sandbox_result_clear(&r);
  free(code);
}
#endif

/* Still usable: a fresh session (the input may have redefined anything in
 * its own) runs code. The same state, fresh session plus this execution,
 * is where every input starts: LLVMFuzzerInitialize runs it once, each
 * input ends with it, so a finding reproduces alone and one reset per
 * input does (it used to be one before and one after: each reset costs a
 * redefinition of the callbacks at the next execution too). */
static void check_usable(void) {
  FUZZ_CHECK(hl_sandbox_reset(sb) == HL_OK, "reset: %s", hl_last_error());
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_status st;
  /* "6*7" runs under the input's small wall-clock limit: a fuzzer at nice
   * 19 on a loaded machine is often starved past it (the long run of
   * 2026-11-30 stopped on "Timeout execution timed out after 200 ms" for
   * an input that passes alone). A timeout is tried again. "6*7" takes
   * about a millisecond of CPU: a sandbox that cannot run it burns the
   * whole limit's CPU time on every try, so ten such tries (or 1000 of
   * any kind, so that nothing can hang the target) mean it is unusable. */
  for (int tries = 0, burnt = 0;; tries++) {
    uint64_t cpu_us;
    st = execute("6*7", &r, &cpu_us);
    if (st != HL_ERR_TIMEOUT) break;
    burnt += cpu_us >= (uint64_t)TIMEOUT_MS * 1000;
    if (burnt == 10 || tries == 999) break;
    hl_sandbox_result_clear(&r);
  }
  FUZZ_CHECK(st == HL_OK && r.value_json && !strcmp(r.value_json, "42"),
             "sandbox unusable after the input: %s %s", hl_status_name(st), hl_last_error());
  hl_sandbox_result_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#if FUZZ_BRIDGE
  /* The bridge's code declares nothing: after a success the session is
   * as it was (and the success itself showed that it runs code), so only
   * a failure is followed by the check and its reset, which used to take
   * a third of the target's time (the reset, "6*7", and the callbacks'
   * redefinition after every reset). */
  if (run_bridge(data, size) != HL_OK) check_usable();
#else
  run_source(data, size);
  check_usable();
#endif
  return 0;
}
