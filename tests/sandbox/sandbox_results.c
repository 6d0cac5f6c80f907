/*
 * tests/sandbox/sandbox_results.c - completion values come back as the
 * JSON text the prelude's finish() gives them, whichever path produced
 * it: the host writes ints, booleans, null and undefined itself
 * (qjs_vm.c's finish()), every other value goes through JavaScript. Each
 * value is checked from a plain script and from an async one.
 */
#include <hookline/sandbox.h>

#include "check.h"

static void check_both(hl_sandbox *sb, const char *expr, const char *want) {
  char code[256];
  for (int async = 0; async < 2; async++) {
    snprintf(code, sizeof code, async ? "await null; (%s)" : "(%s)", expr);
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    hl_status st = hl_sandbox_execute(sb, NULL, code, &r);
    CHECK_INT(st, HL_OK);
    if (!want)
      CHECK(r.value_json == NULL);
    else
      CHECK_STR(r.value_json ? r.value_json : "(none)", want);
    hl_sandbox_result_clear(&r);
  }
}

static void primitives_and_others(void) {
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  check_both(sb, "3", "3");
  check_both(sb, "-2147483648", "-2147483648");
  check_both(sb, "2147483647", "2147483647");
  check_both(sb, "2147483648", "2147483648");
  check_both(sb, "-0", "0");
  check_both(sb, "0.1 + 0.2", "0.30000000000000004");
  check_both(sb, "1e21", "1e+21");
  check_both(sb, "NaN", "null");
  check_both(sb, "-Infinity", "null");
  check_both(sb, "true", "true");
  check_both(sb, "1 > 2", "false");
  check_both(sb, "null", "null");
  check_both(sb, "undefined", NULL);
  check_both(sb, "() => 1", NULL);
  check_both(sb, "Symbol('s')", NULL);
  check_both(sb, "'text'", "\"text\"");
  check_both(sb, "[1, true, null]", "[1,true,null]");
  check_both(sb, "({toJSON() { return 5; }})", "5");
  check_both(sb, "10n", "\"10\"");
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(primitives_and_others);
  return CHECK_EXIT();
}
