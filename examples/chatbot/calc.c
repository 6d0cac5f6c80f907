/*
 * calc.c - recursive-descent evaluator for calc.h's grammar.
 *
 * Errors carry the 1-based position of the offending character so the
 * model (and the user) can see exactly what was wrong with an expression.
 */
#include "calc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *src;
  size_t pos;
  int depth;
  char *err;
  size_t errlen;
  int failed;
} parser;

static int fail(parser *p, size_t at, const char *fmt, ...) {
  if (!p->failed) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s at position %zu", msg, at + 1);
    p->failed = 1;
  }
  return -1;
}

static void skip_space(parser *p) {
  while (p->src[p->pos] && isspace((unsigned char)p->src[p->pos])) p->pos++;
}

/* Describe the character at `pos` for an error message. */
static void describe(const parser *p, size_t pos, char *buf, size_t len) {
  unsigned char c = (unsigned char)p->src[pos];
  if (!c)
    snprintf(buf, len, "end of expression");
  else if (isprint(c))
    snprintf(buf, len, "'%c'", c);
  else
    snprintf(buf, len, "byte 0x%02x", c);
}

static int parse_expr(parser *p, double *out);

static int parse_number(parser *p, double *out) {
  const char *s = p->src + p->pos;
  size_t start = p->pos;
  size_t i = 0, digits = 0;
  while (isdigit((unsigned char)s[i])) i++, digits++;
  if (s[i] == '.') {
    i++;
    while (isdigit((unsigned char)s[i])) i++, digits++;
  }
  if (digits == 0) {
    char what[32];
    describe(p, start, what, sizeof what);
    return fail(p, start, "expected a number or '(' but found %s", what);
  }
  if (s[i] == 'e' || s[i] == 'E') {
    size_t j = i + 1;
    if (s[j] == '+' || s[j] == '-') j++;
    if (isdigit((unsigned char)s[j])) {
      while (isdigit((unsigned char)s[j])) j++;
      i = j;
    }
  }
  /* strtod on a bounded copy: the scan above decided the extent, so strtod
   * cannot wander into hex floats, "inf" or "nan". */
  char buf[128];
  if (i >= sizeof buf) return fail(p, start, "number too long");
  memcpy(buf, s, i);
  buf[i] = '\0';
  errno = 0;
  double v = strtod(buf, NULL);
  if (!isfinite(v)) return fail(p, start, "number out of range");
  p->pos += i;
  *out = v;
  return 0;
}

static int parse_primary(parser *p, double *out) {
  skip_space(p);
  if (p->src[p->pos] == '(') {
    size_t open = p->pos;
    p->pos++;
    if (++p->depth > CALC_MAX_DEPTH) return fail(p, open, "too deeply nested");
    if (parse_expr(p, out)) return -1;
    p->depth--;
    skip_space(p);
    if (p->src[p->pos] != ')') {
      if (!p->src[p->pos])
        return fail(p, open, "missing ')' for the '(' opened");
      char what[32];
      describe(p, p->pos, what, sizeof what);
      return fail(p, p->pos, "expected ')' but found %s", what);
    }
    p->pos++;
    return 0;
  }
  return parse_number(p, out);
}

static int parse_unary(parser *p, double *out);

static int parse_power(parser *p, double *out) {
  double base;
  if (parse_primary(p, &base)) return -1;
  skip_space(p);
  size_t op = p->pos;
  int is_pow = 0;
  if (p->src[op] == '^') {
    p->pos += 1;
    is_pow = 1;
  } else if (p->src[op] == '*' && p->src[op + 1] == '*') {
    p->pos += 2;
    is_pow = 1;
  }
  if (!is_pow) {
    *out = base;
    return 0;
  }
  double exponent;
  if (parse_unary(p, &exponent)) return -1; /* right-associative: 2^3^2 = 2^9 */
  if (base == 0 && exponent < 0) return fail(p, op, "zero raised to a negative power");
  if (base < 0 && exponent != floor(exponent))
    return fail(p, op, "negative number raised to a fractional power");
  double v = pow(base, exponent);
  if (!isfinite(v)) return fail(p, op, "result too large");
  *out = v;
  return 0;
}

static int parse_unary(parser *p, double *out) {
  skip_space(p);
  char c = p->src[p->pos];
  if (c == '-' || c == '+') {
    size_t at = p->pos;
    p->pos++;
    if (++p->depth > CALC_MAX_DEPTH) return fail(p, at, "too deeply nested");
    double v;
    if (parse_unary(p, &v)) return -1;
    p->depth--;
    *out = c == '-' ? -v : v;
    return 0;
  }
  return parse_power(p, out);
}

static int parse_term(parser *p, double *out) {
  double acc;
  if (parse_unary(p, &acc)) return -1;
  for (;;) {
    skip_space(p);
    size_t op = p->pos;
    char c = p->src[op];
    if (c == '*' && p->src[op + 1] == '*') break; /* power, handled below us */
    if (c != '*' && c != '/' && c != '%') break;
    p->pos++;
    double rhs;
    if (parse_unary(p, &rhs)) return -1;
    if (c == '*') {
      acc *= rhs;
    } else if (rhs == 0) {
      return fail(p, op, c == '/' ? "division by zero" : "modulo by zero");
    } else if (c == '/') {
      acc /= rhs;
    } else {
      acc = fmod(acc, rhs);
    }
    if (!isfinite(acc)) return fail(p, op, "result too large");
  }
  *out = acc;
  return 0;
}

static int parse_expr(parser *p, double *out) {
  double acc;
  if (parse_term(p, &acc)) return -1;
  for (;;) {
    skip_space(p);
    size_t op = p->pos;
    char c = p->src[op];
    if (c != '+' && c != '-') break;
    p->pos++;
    double rhs;
    if (parse_term(p, &rhs)) return -1;
    acc = c == '+' ? acc + rhs : acc - rhs;
    if (!isfinite(acc)) return fail(p, op, "result too large");
  }
  *out = acc;
  return 0;
}

int calc_eval(const char *expr, double *value, char *err, size_t errlen) {
  char dummy[1];
  if (!err || errlen == 0) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = '\0';
  if (!expr || !value) {
    snprintf(err, errlen, "no expression given");
    return -1;
  }
  if (strlen(expr) > CALC_MAX_LEN) {
    snprintf(err, errlen, "expression longer than %d characters", CALC_MAX_LEN);
    return -1;
  }
  parser p = {expr, 0, 0, err, errlen, 0};
  skip_space(&p);
  if (!expr[p.pos]) {
    snprintf(err, errlen, "empty expression");
    return -1;
  }
  double v;
  if (parse_expr(&p, &v)) return -1;
  skip_space(&p);
  if (expr[p.pos]) {
    char what[32];
    describe(&p, p.pos, what, sizeof what);
    if (expr[p.pos] == ')')
      fail(&p, p.pos, "unmatched ')'");
    else
      fail(&p, p.pos, "unexpected %s", what);
    return -1;
  }
  if (v == 0) v = 0; /* no "-0" */
  *value = v;
  return 0;
}

void calc_format(double value, char *buf, size_t len) {
  if (value == floor(value) && fabs(value) < 1e15) {
    snprintf(buf, len, "%.0f", value);
    return;
  }
  snprintf(buf, len, "%.12g", value);
}
