/*
 * test_calc.c - the calculator tool's expression evaluator: precedence,
 * associativity, unary minus, decimals, and clear errors on bad input.
 */
#include <math.h>
#include <string.h>

#include "calc.h"
#include "check.h"

static double eval_ok(const char *expr) {
  double v = NAN;
  char err[256];
  int rc = calc_eval(expr, &v, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "unexpected error for \"%s\": %s\n", expr, err);
    check_failures_++;
  }
  return v;
}

/* Evaluate `expr`, expect failure and return the message. */
static const char *eval_err(const char *expr) {
  static char err[256];
  double v = 12345;
  int rc = calc_eval(expr, &v, err, sizeof err);
  if (rc == 0) {
    fprintf(stderr, "expected an error for \"%s\", got %g\n", expr, v);
    check_failures_++;
    return "";
  }
  return err;
}

#define CHECK_VAL(expr, want) CHECK(fabs(eval_ok(expr) - (want)) < 1e-9)

static void precedence_and_associativity(void) {
  CHECK_VAL("17*23", 391);
  CHECK_VAL("1 + 2 * 3", 7);
  CHECK_VAL("(1 + 2) * 3", 9);
  CHECK_VAL("10 - 4 - 3", 3);       /* left-associative */
  CHECK_VAL("100 / 10 / 5", 2);
  CHECK_VAL("2^3^2", 512);          /* right-associative */
  CHECK_VAL("2**10", 1024);
  CHECK_VAL("17 % 5", 2);
  CHECK_VAL("7.5 % 2", 1.5);
  CHECK_VAL("((((3))))", 3);
}

static void unary_minus_and_decimals(void) {
  CHECK_VAL("-2^2", -4);            /* power binds tighter than unary minus */
  CHECK_VAL("(-2)^2", 4);
  CHECK_VAL("2^-1", 0.5);
  CHECK_VAL("--3", 3);
  CHECK_VAL("-(4 - 6)", 2);
  CHECK_VAL("3 * -2", -6);
  CHECK_VAL("0.1 + 0.2", 0.3);
  CHECK_VAL(".5 * 4", 2);
  CHECK_VAL("1e3 + 1", 1001);
  CHECK_VAL("  12\t+\n3 ", 15);
}

static void errors_are_clear(void) {
  CHECK_CONTAINS(eval_err("1/0"), "division by zero at position 2");
  CHECK_CONTAINS(eval_err("5 % 0"), "modulo by zero");
  CHECK_CONTAINS(eval_err("(1+2"), "missing ')'");
  CHECK_CONTAINS(eval_err("1+2)"), "unmatched ')' at position 4");
  CHECK_CONTAINS(eval_err("1 +"), "expected a number or '(' but found end of expression");
  CHECK_CONTAINS(eval_err("2 $ 3"), "unexpected '$' at position 3");
  CHECK_CONTAINS(eval_err(""), "empty expression");
  CHECK_CONTAINS(eval_err("   "), "empty expression");
  CHECK_CONTAINS(eval_err("abc"), "expected a number");
  CHECK_CONTAINS(eval_err("10^400"), "too large");
  CHECK_CONTAINS(eval_err("(-8)^0.5"), "fractional power");
  CHECK_CONTAINS(eval_err("0^-1"), "zero raised to a negative power");
  CHECK_CONTAINS(eval_err("inf"), "expected a number");
  CHECK_CONTAINS(eval_err("0x10"), "unexpected 'x'");
  CHECK(calc_eval(NULL, NULL, NULL, 0) == -1);
}

static void hostile_input_is_bounded(void) {
  /* Deep nesting is refused, not a stack overflow. */
  char deep[CALC_MAX_DEPTH * 2 + 10];
  size_t n = 0;
  for (int i = 0; i < CALC_MAX_DEPTH + 5; i++) deep[n++] = '(';
  deep[n++] = '1';
  deep[n] = '\0';
  CHECK_CONTAINS(eval_err(deep), "too deeply nested");
  char minus[CALC_MAX_DEPTH + 10];
  memset(minus, '-', sizeof minus - 2);
  minus[sizeof minus - 2] = '1';
  minus[sizeof minus - 1] = '\0';
  CHECK_CONTAINS(eval_err(minus), "too deeply nested");
  static char longexpr[CALC_MAX_LEN + 10];
  memset(longexpr, '1', sizeof longexpr - 1);
  CHECK_CONTAINS(eval_err(longexpr), "longer than");
  CHECK_CONTAINS(eval_err("1\x01"), "byte 0x01");
  char numeric[200];
  memset(numeric, '9', sizeof numeric - 1);
  numeric[sizeof numeric - 1] = '\0';
  CHECK_CONTAINS(eval_err(numeric), "number too long");
}

static void formatting(void) {
  char buf[64];
  calc_format(391, buf, sizeof buf);
  CHECK_STR(buf, "391");
  calc_format(-6, buf, sizeof buf);
  CHECK_STR(buf, "-6");
  calc_format(0.1 + 0.2, buf, sizeof buf);
  CHECK_STR(buf, "0.3");
  calc_format(1.0 / 3.0, buf, sizeof buf);
  CHECK_STR(buf, "0.333333333333");
  calc_format(1e20, buf, sizeof buf);
  CHECK_STR(buf, "1e+20");
  double v;
  char err[64];
  CHECK(calc_eval("-0", &v, err, sizeof err) == 0);
  calc_format(v, buf, sizeof buf);
  CHECK_STR(buf, "0");
}

int main(void) {
  RUN(precedence_and_associativity);
  RUN(unary_minus_and_decimals);
  RUN(errors_are_clear);
  RUN(hostile_input_is_bounded);
  RUN(formatting);
  return CHECK_EXIT();
}
