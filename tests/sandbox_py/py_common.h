/*
 * tests/sandbox_py/py_common.h - helpers of the Python guest's tests: a
 * Python sandbox, running code, and the skip when this build has no
 * MicroPython module.
 */
#ifndef HL_TEST_PY_COMMON_H
#define HL_TEST_PY_COMMON_H

#include <hookline/sandbox.h>
#include <hookline/json.h>
#include <hookline/tool.h>

#include "check.h"

/* meson's exit code for a skipped test. */
#define PY_SKIP 77

/* Skip (with the reason) in a build without the Python guest. */
#define PY_REQUIRE_GUEST()                                                     \
  do {                                                                         \
    if (!hl_sandbox_language_available(HL_SANDBOX_PYTHON)) {                   \
      fprintf(stderr, "skipped: this build has no Python guest (the MicroPython " \
              "module was missing at build time: run scripts/setup.sh)\n");    \
      return PY_SKIP;                                                          \
    }                                                                          \
  } while (0)

static inline hl_sandbox *py_sandbox_with(hl_sandbox_limits *l) {
  l->language = HL_SANDBOX_PYTHON;
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(l, &sb) != HL_OK)
    fprintf(stderr, "hl_sandbox_new: %s\n", hl_last_error());
  return sb;
}

static inline hl_sandbox *py_sandbox(void) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  return py_sandbox_with(&l);
}

/* Run `code`; the caller clears the result. */
static inline hl_sandbox_result py_run(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, code, &r);
  return r;
}

/* Run `code`, which must complete with the value `want` ("(none)": no
 * value). */
static inline void py_check_value(hl_sandbox *sb, const char *code, const char *want) {
  hl_sandbox_result r = py_run(sb, code);
  CHECK_INT(r.status, HL_OK);
  if (r.status)
    fprintf(stderr, "  %s: %s\n", code, hl_last_error());
  CHECK_STR(r.value_json ? r.value_json : "(none)", want);
  hl_sandbox_result_clear(&r);
}

#endif
