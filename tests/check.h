/*
 * tests/check.h - the test suite's assertions. A failed check prints the
 * file, line and both values, and makes the test exit non-zero at the end
 * (CHECK keeps going; REQUIRE stops the test function at once).
 */
#ifndef HL_TEST_CHECK_H
#define HL_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_;
/* Optional name prefix from the command line (CHECK_ARGS): RUN skips the
 * tests that do not match, and CHECK_EXIT fails when none matched, so a
 * mistyped filter can never pass. */
static const char *check_filter_;
static int check_ran_;

#define CHECK_ARGS(argc, argv) (check_filter_ = (argc) > 1 ? (argv)[1] : NULL)

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      check_failures_++;                                                     \
    }                                                                        \
  } while (0)

#define REQUIRE(cond)                                                          \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
      check_failures_++;                                                       \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_INT(a, b)                                                        \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) {                                                            \
      fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %s (%lld vs %lld)\n",    \
              __FILE__, __LINE__, #a, #b, a_, b_);                             \
      check_failures_++;                                                       \
    }                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                   \
      fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s (\"%s\" vs \"%s\")\n", \
              __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
      check_failures_++;                                                       \
    }                                                                          \
  } while (0)

#define CHECK_CONTAINS(hay, needle)                                            \
  do {                                                                         \
    const char *h_ = (hay), *n_ = (needle);                                    \
    if (!h_ || !n_ || !strstr(h_, n_)) {                                       \
      fprintf(stderr, "%s:%d: CHECK_CONTAINS failed: \"%s\" in \"%s\"\n",      \
              __FILE__, __LINE__, n_ ? n_ : "(null)", h_ ? h_ : "(null)");     \
      check_failures_++;                                                       \
    }                                                                          \
  } while (0)

/* Run one test function, printing its name: RUN(H7_mutated_args_reach_tool). */
#define RUN(fn)                                                                \
  do {                                                                         \
    if (check_filter_ && strncmp(#fn, check_filter_, strlen(check_filter_)) != 0) \
      break;                                                                   \
    int before_ = check_failures_;                                             \
    check_ran_++;                                                              \
    fn();                                                                      \
    fprintf(stderr, "%s %s\n", check_failures_ == before_ ? "ok  " : "FAIL", #fn); \
  } while (0)

static inline int check_exit_(void) {
  if (check_filter_ && !check_ran_) {
    fprintf(stderr, "no test matches \"%s\"\n", check_filter_);
    return EXIT_FAILURE;
  }
  return check_failures_ ? EXIT_FAILURE : EXIT_SUCCESS;
}
#define CHECK_EXIT() check_exit_()

#endif
