/*
 * wire_cases.h - what test_providers.c and test_agent_e2e.c share: each
 * scenario runs once per wire format, as its own named case, against one
 * server.py started for the whole program.
 *
 *   BOTH(fn)   defines fn_openai and fn_anthropic, which set the file's
 *              `W` to its OPENAI / ANTHROPIC wire and call fn()
 *   T(fn)      a table row {"fn", fn}; T2(fn) the rows of both wires
 *   run_cases  main(): runs the cases named on the command line, or all
 */
#ifndef HL_TEST_WIRE_CASES_H
#define HL_TEST_WIRE_CASES_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "test_server.h"

#define BOTH(fn)                                                  \
  static void fn##_openai(void) { W = &OPENAI; fn(); }            \
  static void fn##_anthropic(void) { W = &ANTHROPIC; fn(); }

typedef struct test_case {
  const char *name;
  void (*fn)(void);
} test_case;

#define T(fn) {#fn, fn}
#define T2(fn) T(fn##_openai), T(fn##_anthropic)

/* Start `srv`, run the cases named in argv (all without names), stop it.
 * Naming none that exists is a failure: meson runs one name per test and
 * a typo must not pass. */
static inline int run_cases(test_server *srv, const test_case *tests, size_t n, int argc,
                            char **argv) {
  if (test_server_start(srv) != 0) return 1;
  int ran = 0;
  for (size_t i = 0; i < n; i++) {
    bool selected = argc < 2;
    for (int a = 1; a < argc; a++)
      if (!strcmp(argv[a], tests[i].name)) selected = true;
    if (!selected) continue;
    int before = check_failures_;
    tests[i].fn();
    fprintf(stderr, "%s %s\n", check_failures_ == before ? "ok  " : "FAIL", tests[i].name);
    ran++;
  }
  test_server_stop(srv);
  if (ran == 0) {
    fprintf(stderr, "no test matched\n");
    return 1;
  }
  return CHECK_EXIT();
}

#endif
