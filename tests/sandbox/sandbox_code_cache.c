/*
 * tests/sandbox/sandbox_code_cache.c - the per-vm cache of compiled
 * scripts (lib/sandbox/code_cache.c): running the same source again takes
 * its compiled code and behaves exactly as compiling it again would (a
 * corpus is run cached and uncached and compared); a changed source is
 * compiled anew; two sandboxes share nothing; the cache is bounded, and
 * reset, snapshots and traps leave no compiled code behind.
 */
#include <hookline/sandbox.h>
#include <hookline/tool.h>

#include "check.h"
#include "sandbox/sandbox_internal.h"

static hl_sandbox *new_sandbox(void) {
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(NULL, &sb) != HL_OK)
    fprintf(stderr, "hl_sandbox_new: %s\n", hl_last_error());
  return sb;
}

static hl_vm_cache_stats stats(hl_sandbox *sb) {
  hl_vm_cache_stats s;
  hl__vm_code_cache_stats(sb->vm, &s);
  return s;
}

/* Run `code`; "status value-or-error" for comparisons (caller frees). */
static char *outcome(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, NULL, code, &r);
  char buf[2048];
  snprintf(buf, sizeof buf, "%d %s|%s", (int)st, r.value_json ? r.value_json : (st ? hl_last_error() : "-"),
           r.stdout_text ? r.stdout_text : "");
  hl_sandbox_result_clear(&r);
  return strdup(buf);
}

static void check_value(hl_sandbox *sb, const char *code, const char *want) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, NULL, code, &r);
  CHECK_INT(st, HL_OK);
  CHECK_STR(r.value_json ? r.value_json : "(none)", want);
  hl_sandbox_result_clear(&r);
}

static hl_status plus_one(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(args, "x");
  *result = cJSON_CreateNumber((cJSON_IsNumber(x) ? x->valuedouble : 0) + 1);
  return HL_OK;
}

static void repeated_source_runs_compiled_code_on_current_state(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  const char *code = "globalThis.n = (globalThis.n || 0) + 1; n";
  check_value(sb, code, "1");
  hl_vm_cache_stats s = stats(sb);
  CHECK_INT(s.entries, 1);
  CHECK_INT(s.hits, 0);
  check_value(sb, code, "2");
  check_value(sb, code, "3");
  s = stats(sb);
  CHECK_INT(s.entries, 1);
  CHECK_INT(s.hits, 2);

  /* The async form (top-level await, a callback) too. */
  hl_tool *t = hl_tool_new("host", "x + 1", plus_one, NULL);
  REQUIRE(t && hl_tool_param(t, "x", "number", "x", true) == HL_OK);
  REQUIRE(hl_sandbox_add_tool(sb, t, NULL) == HL_OK);
  hl_tool_unref(t);
  for (int i = 0; i < 3; i++)
    check_value(sb, "await host({x: 41})", "42");
  s = stats(sb);
  CHECK_INT(s.entries, 2);
  CHECK_INT(s.hits, 4);
  hl_sandbox_free(sb);
}

static void changed_source_is_compiled_again(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  check_value(sb, "40 + 2", "42");
  check_value(sb, "40 + 3", "43");
  check_value(sb, "40 + 2 ", "42");
  hl_vm_cache_stats s = stats(sb);
  CHECK_INT(s.entries, 3);
  CHECK_INT(s.hits, 0);
  CHECK_INT(s.misses, 3);
  check_value(sb, "40 + 3", "43");
  CHECK_INT(stats(sb).hits, 1);
  hl_sandbox_free(sb);
}

/* Every snippet twice with the cache (the second run takes the compiled
 * code) and twice more under a unique comment (compiled each time): same
 * outcomes, declarations and their redeclaration errors included. */
static void cached_runs_behave_as_compiled_runs(void) {
  static const char *const corpus[] = {
    "var v = (typeof v === 'number' ? v : 0) + 1; v",
    "let l = 1; l",
    "const c = {a: 1}; c",
    "function f() { return typeof f; } f()",
    "class K {}; typeof K",
    "this === globalThis",
    "(() => { 'use strict'; return this === globalThis; })()",
    "throw new TypeError('boom')",
    "syntax error here (",
    "let q = await Promise.resolve(5); q * 2",
    "await null; var w = (typeof w === 'number' ? w : 10) + 1; w",
    "console.log('out'); 7",
    "Math.random() < 1",
    "new Error('e').stack.split('\\n')[0]",
    NULL};
  hl_sandbox *cached = new_sandbox(), *fresh = new_sandbox();
  REQUIRE(cached && fresh);
  for (int i = 0; corpus[i]; i++) {
    for (int round = 0; round < 2; round++) {
      char *a = outcome(cached, corpus[i]);
      char uncached[512];
      snprintf(uncached, sizeof uncached, "%s\n/* %d %d */", corpus[i], i, round);
      char *b = outcome(fresh, uncached);
      CHECK_STR(a, b);
      free(a);
      free(b);
    }
  }
  /* The cached sandbox did take compiled code. */
  CHECK(stats(cached).hits >= 10);
  hl_sandbox_free(cached);
  hl_sandbox_free(fresh);
}

static void two_sandboxes_share_nothing(void) {
  hl_sandbox *a = new_sandbox(), *b = new_sandbox();
  REQUIRE(a && b);
  const char *code = "var secret = (typeof secret === 'number' ? secret : 6) + 1; secret";
  check_value(a, code, "7");
  check_value(a, code, "8");
  CHECK_INT(stats(a).entries, 1);
  CHECK_INT(stats(b).entries, 0);
  /* b compiles its own and sees only its own globals. */
  check_value(b, code, "7");
  check_value(b, "typeof secret", "\"number\"");
  CHECK_INT(stats(b).hits, 0);
  hl_sandbox_free(a);
  check_value(b, code, "8");
  hl_sandbox_free(b);
}

static void cache_is_bounded(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  char code[64];
  for (int i = 0; i < 3 * HL_CODE_CACHE_ENTRIES; i++) {
    snprintf(code, sizeof code, "%d * 2", i);
    char want[32];
    snprintf(want, sizeof want, "%d", i * 2);
    check_value(sb, code, want);
    CHECK(stats(sb).entries <= HL_CODE_CACHE_ENTRIES);
  }
  CHECK_INT(stats(sb).entries, HL_CODE_CACHE_ENTRIES);
  /* The most recently used survive: the last one is still there. */
  unsigned long hits = stats(sb).hits;
  check_value(sb, code, "94");
  CHECK_INT(stats(sb).hits, hits + 1);

  /* A source over the per-entry bound is not kept. */
  size_t big = HL_CODE_CACHE_MAX_SOURCE + 100;
  char *src = malloc(big + 1);
  REQUIRE(src);
  memset(src, ' ', big);
  memcpy(src + big - 2, "11", 2);
  src[big] = 0;
  size_t before = stats(sb).bytes;
  check_value(sb, src, "11");
  CHECK_INT(stats(sb).bytes, before);

  /* Sources near the per-entry bound: the total stays bounded. */
  size_t mid = HL_CODE_CACHE_MAX_SOURCE - 10;
  for (int i = 0; i < 10; i++) {
    memset(src, ' ', mid);
    int n = snprintf(src + mid - 8, 8, "%d", i);
    src[mid - 8 + n] = ' ';
    src[mid] = 0;
    char want[8];
    snprintf(want, sizeof want, "%d", i);
    check_value(sb, src, want);
    CHECK(stats(sb).bytes <= HL_CODE_CACHE_MAX_BYTES);
  }
  free(src);
  hl_sandbox_free(sb);
}

static void reset_snapshot_and_trap_leave_no_compiled_code(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  check_value(sb, "var kept = 5; kept", "5");
  check_value(sb, "kept + 1", "6");
  CHECK_INT(stats(sb).entries, 2);

  /* A snapshot is taken without the cache; both sides still work. */
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  CHECK_INT(stats(sb).entries, 0);
  hl_sandbox *copy = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(snap, NULL, &copy) == HL_OK);
  CHECK_INT(stats(copy).entries, 0);
  check_value(copy, "kept + 1", "6");
  check_value(sb, "kept + 1", "6");
  hl_sandbox_free(copy);
  hl_sandbox_snapshot_free(snap);

  REQUIRE(hl_sandbox_reset(sb) == HL_OK);
  CHECK_INT(stats(sb).entries, 0);
  check_value(sb, "typeof kept", "\"undefined\"");

  /* A trap resets the instance: its cache goes with it. */
  REQUIRE(hl__vm_fault(sb->vm, 1) == HL_ERR_SANDBOX);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, "1", &r); /* finds the broken vm, replaces it */
  hl_sandbox_result_clear(&r);
  CHECK(!hl_vm_broken(sb->vm));
  check_value(sb, "typeof kept", "\"undefined\"");
  hl_sandbox_free(sb);
}

/* Limits hold for compiled code taken from the cache as for code just
 * compiled: the second run of each is a cache hit. The memory and output
 * cases get a long time limit: under ThreadSanitizer on a loaded machine,
 * filling 32 MiB took longer than a second. */
static void limits_hold_for_cached_code(void) {
  static const struct {
    const char *code;
    unsigned timeout_ms;
    hl_status status;
  } cases[] = {
    {"while (true) {}", 1000, HL_ERR_TIMEOUT},
    {"var keep = []; for (;;) keep.push(new Array(100000).fill(7));", 60000, HL_ERR_LIMIT},
    {"for (;;) console.log('x'.repeat(100));", 60000, HL_ERR_TOO_LARGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    hl_sandbox_limits limits;
    hl_sandbox_limits_default(&limits);
    limits.timeout_ms = cases[i].timeout_ms;
    limits.memory_bytes = (size_t)32 << 20;
    limits.max_output_bytes = 1000;
    hl_sandbox *sb = NULL;
    REQUIRE(hl_sandbox_new(&limits, &sb) == HL_OK);
    for (int round = 0; round < 2; round++) {
      hl_vm_cache_stats before = stats(sb);
      hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
      hl_status st = hl_sandbox_execute(sb, NULL, cases[i].code, &r);
      if (st != cases[i].status)
        fprintf(stderr, "%s (round %d): %s\n", cases[i].code, round, hl_last_error());
      CHECK_INT(st, cases[i].status);
      hl_sandbox_result_clear(&r);
      /* The second round ran the kept code, unless a stop reset the
       * instance (a hard stop, which a loaded machine can make of any of
       * these): then a fresh vm with an empty record replaced it. */
      hl_vm_cache_stats after = stats(sb);
      if (round == 1 && before.entries > 0)
        CHECK(after.hits == before.hits + 1 || (after.hits == 0 && after.misses == 0));
    }
    check_value(sb, "'still usable'", "\"still usable\"");
    hl_sandbox_free(sb);
  }
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(repeated_source_runs_compiled_code_on_current_state);
  RUN(changed_source_is_compiled_again);
  RUN(cached_runs_behave_as_compiled_runs);
  RUN(two_sandboxes_share_nothing);
  RUN(cache_is_bounded);
  RUN(reset_snapshot_and_trap_leave_no_compiled_code);
  RUN(limits_hold_for_cached_code);
  return CHECK_EXIT();
}
