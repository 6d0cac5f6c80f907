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
    int before_ = check_failures_;                                             \
    fn();                                                                      \
    fprintf(stderr, "%s %s\n", check_failures_ == before_ ? "ok  " : "FAIL", #fn); \
  } while (0)

#define CHECK_EXIT() (check_failures_ ? EXIT_FAILURE : EXIT_SUCCESS)

#endif
