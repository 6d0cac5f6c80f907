/*
 * tests/sandbox_py/py_code_cache.c - the Python guest's code cache (the
 * prelude's _hl_exec, lib/sandbox/py_prelude.c, and py_cache.c): a source
 * is compiled at its first run (by the module's own exec) and its second
 * (into the cache), never after, and its cached code behaves exactly as a
 * fresh compile:
 * definitions run again (a redefined function), errors keep their line
 * numbers, sources that differ only in whitespace are different keys,
 * code indented as a whole still runs, the code that awaits still does;
 * the cache is bounded and lives under the memory limit (memory pressure
 * empties it); a reset starts without it; a restored state compiles its
 * sources again (the keys are the host's) and never runs code left in a
 * slot for another source. The number of compiles is read from the vm
 * (hl__py_compiles).
 */
#include <hookline/sandbox.h>

#include "py_common.h"
#include "sandbox/sandbox_internal.h"

static hl_status plus_one(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_CreateNumber(hl_json_get_number(args, "x", 0) + 1);
  return HL_OK;
}

static hl_sandbox *sandbox_with_host(void) {
  hl_sandbox *sb = py_sandbox();
  if (!sb)
    return NULL;
  hl_tool *host = hl_tool_new("host", "x + 1", plus_one, NULL);
  hl_tool_param(host, "x", "number", "x", true);
  hl_sandbox_add_tool(sb, host, NULL);
  hl_tool_unref(host);
  return sb;
}

/* Run `code`, which must complete. */
static void run_ok(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = py_run(sb, code);
  CHECK_INT(r.status, HL_OK);
  hl_sandbox_result_clear(&r);
}

/* Run `code`, which must fail; its error message (caller frees). */
static char *error_of(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = py_run(sb, code);
  CHECK(r.status != HL_OK);
  char *e = strdup(hl_last_error());
  hl_sandbox_result_clear(&r);
  return e;
}

static void repeated_source_is_compiled_twice_at_most(void) {
  hl_sandbox *sb = sandbox_with_host();
  REQUIRE(sb);
  const char *code = "n = n + 1 if 'n' in globals() else 1\nn";
  py_check_value(sb, code, "1");
  CHECK_INT(hl__py_compiles(sb), 1); /* the module's own exec */
  py_check_value(sb, code, "2");
  CHECK_INT(hl__py_compiles(sb), 2); /* into the cache */
  py_check_value(sb, code, "3");
  py_check_value(sb, code, "4");
  CHECK_INT(hl__py_compiles(sb), 2);
  /* Code that awaits: the cached code is a fresh coroutine each time. */
  for (int i = 0; i < 3; i++)
    py_check_value(sb, "await host(x=n)", "5");
  CHECK_INT(hl__py_compiles(sb), 4);
  /* No last expression: nothing to read, and it runs once per run. */
  for (int i = 0; i < 3; i++)
    py_check_value(sb, "n += 10", "(none)");
  py_check_value(sb, "n", "34");
  CHECK_INT(hl__py_compiles(sb), 7);
  hl_sandbox_free(sb);
}

static void redefined_function_is_the_new_one(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  const char *one = "def f():\n    return 1\nf()";
  const char *two = "def f():\n    return 2\nf()";
  py_check_value(sb, one, "1");
  py_check_value(sb, two, "2");
  py_check_value(sb, "f()", "2");
  /* The first source again, compiled into the cache, and again, from
   * there: each time it defines f again. */
  py_check_value(sb, one, "1");
  py_check_value(sb, "f()", "1");
  py_check_value(sb, two, "2");
  py_check_value(sb, one, "1");
  py_check_value(sb, "f()", "1");
  CHECK_INT(hl__py_compiles(sb), 6);
  hl_sandbox_free(sb);
}

static void errors_keep_their_line_numbers(void) {
  hl_sandbox *sb = sandbox_with_host();
  REQUIRE(sb);
  /* Each source thrice: by the module's exec, compiled into the cache,
   * from the cache. */
  const char *code = "x = 1\n\ny = undefined_name\n";
  for (int i = 0; i < 3; i++) {
    char *e = error_of(sb, code);
    CHECK_CONTAINS(e, "NameError");
    CHECK_CONTAINS(e, "File \"<stdin>\", line 3");
    CHECK(strstr(e, "prelude") == NULL);
    free(e);
  }
  /* In code that awaits, and in the last expression (compiled as an
   * assignment to read its value): the same lines. */
  const char *awaits = "await host(x=1)\n\n1 / 0";
  for (int i = 0; i < 3; i++) {
    char *e = error_of(sb, awaits);
    CHECK_CONTAINS(e, "ZeroDivisionError");
    CHECK_CONTAINS(e, "line 3");
    free(e);
  }
  CHECK_INT(hl__py_compiles(sb), 4);
  /* A syntax error is not cached: it is compiled and reported again, as
   * it was. */
  for (int i = 0; i < 3; i++) {
    char *e = error_of(sb, "x = 1\ndef f(:\n  pass");
    CHECK_CONTAINS(e, "SyntaxError");
    CHECK_CONTAINS(e, "line 2");
    free(e);
  }
  CHECK_INT(hl__py_compiles(sb), 7);
  hl_sandbox_free(sb);
}

static void whitespace_makes_another_source(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  for (int i = 0; i < 3; i++) {
    char *a = error_of(sb, "raise ValueError('w')");
    char *b = error_of(sb, "\nraise ValueError('w')");
    CHECK_CONTAINS(a, "line 1");
    CHECK_CONTAINS(b, "line 2");
    free(a);
    free(b);
  }
  CHECK_INT(hl__py_compiles(sb), 4);
  /* Code indented as a whole (after a first blank line, as in a string of
   * a host program) runs as MicroPython's own exec runs it (an indented
   * last line has no value to read). */
  const char *indented = "\n    x = 2\n    if x:\n        x = x * 21\n    y = x\n";
  for (int i = 0; i < 3; i++) {
    py_check_value(sb, "x = y = 0", "(none)");
    py_check_value(sb, indented, "(none)");
    py_check_value(sb, "y", "42");
  }
  CHECK_INT(hl__py_compiles(sb), 10);
  hl_sandbox_free(sb);
}

static void compile_errors_at_run_time_do_not_run_the_code_again(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  /* The last expression raises a SyntaxError while it runs (not when it
   * compiles): the code ran once, and that is the error. */
  char *e = error_of(sb, "runs = globals().get('runs', 0) + 1\neval('1 +')");
  CHECK_CONTAINS(e, "SyntaxError");
  free(e);
  py_check_value(sb, "runs", "1");
  hl_sandbox_free(sb);
}

static void cache_is_bounded_and_gives_way_to_memory(void) {
  /* The default limit (64 MB): the first 400 executions stay below half
   * of it. */
  hl_sandbox *sb = sandbox_with_host();
  REQUIRE(sb);
  /* 400 sources of 6 KB each, 2.4 MB of text in all, each run twice (by
   * the module's exec, then into the cache): far more than the cache
   * keeps, and the oldest are dropped. */
  char *first = malloc(8192), *code = malloc(8192);
  REQUIRE(first && code);
  for (int i = 0; i < 400; i++) {
    int n = snprintf(code, 8192, "# source %d\nv = [", i);
    while (n < 6000)
      n += snprintf(code + n, 8192 - (size_t)n, "%d, ", i);
    snprintf(code + n, 8192 - (size_t)n, "0]\nlen(v)");
    if (i == 0)
      memcpy(first, code, 8192);
    for (int k = 0; k < 2; k++)
      run_ok(sb, code);
  }
  CHECK_INT(hl__py_compiles(sb), 800);
  /* The newest is still cached. */
  run_ok(sb, code);
  CHECK_INT(hl__py_compiles(sb), 800);
  /* The first is not even known any more: a first run again, then a
   * second, then from the cache. */
  for (int k = 0; k < 3; k++)
    run_ok(sb, first);
  CHECK_INT(hl__py_compiles(sb), 802);
  free(first);
  free(code);

  /* Memory past half the limit: after each execution the cache is emptied
   * (and garbage collected), and a cached source starts over. */
  const char *small = "await host(x=1)";
  for (int k = 0; k < 3; k++)
    py_check_value(sb, small, "2");
  CHECK_INT(hl__py_compiles(sb), 804);
  py_check_value(sb, "big = bytearray(40 * 1024 * 1024)\nlen(big)", "41943040");
  py_check_value(sb, "del big", "(none)");
  for (int k = 0; k < 3; k++)
    py_check_value(sb, small, "2");
  CHECK_INT(hl__py_compiles(sb), 809);
  /* And the memory the cache and the garbage gave up is there for data. */
  py_check_value(sb, "big = bytearray(40 * 1024 * 1024)\nlen(big)", "41943040");
  hl_sandbox_free(sb);
}

static void reset_starts_without_it(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  for (int k = 0; k < 3; k++)
    py_check_value(sb, "x = 6\nx * 7", "42");
  CHECK_INT(hl__py_compiles(sb), 2);
  CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  for (int k = 0; k < 3; k++)
    py_check_value(sb, "x = 6\nx * 7", "42");
  CHECK_INT(hl__py_compiles(sb), 2);
  hl_sandbox_free(sb);
}

static void restored_state_compiles_again_on_its_globals(void) {
  hl_sandbox *sb = sandbox_with_host();
  REQUIRE(sb);
  const char *step = "total = total + await host(x=1) if 'total' in globals() else 1\ntotal";
  py_check_value(sb, step, "1");
  py_check_value(sb, step, "3"); /* compiled into the cache's first slot */
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  hl_sandbox *copy = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(snap, NULL, &copy) == HL_OK);
  hl_sandbox_snapshot_free(snap);
  hl_tool *host = hl_tool_new("host", "x + 1", plus_one, NULL);
  hl_tool_param(host, "x", "number", "x", true);
  hl_sandbox_add_tool(copy, host, NULL);
  hl_tool_unref(host);
  /* The copy's first source is given the slot where the original's code
   * for `step` still is: compiled into it at its second run, it runs its
   * own code. */
  for (int k = 0; k < 3; k++)
    py_check_value(copy, "total * 100", "300");
  CHECK_INT(hl__py_compiles(copy), 2);
  /* And `step` is compiled again, on the restored globals only. */
  py_check_value(copy, step, "5");
  py_check_value(copy, step, "7");
  py_check_value(copy, step, "9");
  CHECK_INT(hl__py_compiles(copy), 4);
  py_check_value(sb, step, "5");
  py_check_value(sb, "total", "5");
  hl_sandbox_free(copy);
  hl_sandbox_free(sb);
}

static void source_that_is_not_utf8_still_runs(void) {
  hl_sandbox *sb = py_sandbox();
  REQUIRE(sb);
  /* Not a str for the prelude: compiled by the module's own exec, every
   * time. */
  for (int k = 0; k < 3; k++)
    py_check_value(sb, "# caf\xe9\n6 * 7", "42");
  CHECK_INT(hl__py_compiles(sb), 3);
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  PY_REQUIRE_GUEST();
  RUN(repeated_source_is_compiled_twice_at_most);
  RUN(redefined_function_is_the_new_one);
  RUN(errors_keep_their_line_numbers);
  RUN(whitespace_makes_another_source);
  RUN(compile_errors_at_run_time_do_not_run_the_code_again);
  RUN(cache_is_bounded_and_gives_way_to_memory);
  RUN(reset_starts_without_it);
  RUN(restored_state_compiles_again_on_its_globals);
  RUN(source_that_is_not_utf8_still_runs);
  return CHECK_EXIT();
}
