/*
 * calc.h - a small, safe arithmetic expression evaluator for the
 * calculator tool.
 *
 * Grammar (whitespace ignored):
 *   expr    := term   (('+' | '-') term)*
 *   term    := unary  (('*' | '/' | '%') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary (('^' | '**') unary)?      right-associative
 *   primary := number | '(' expr ')'
 *   number  := digits ['.' digits] [('e'|'E') ['+'|'-'] digits]  (or '.5')
 *
 * So -2^2 is -4 and 2^3^2 is 512, as in mathematics. The evaluator never
 * calls a function on the input other than arithmetic: nothing to inject.
 * Limits keep hostile input cheap: at most CALC_MAX_LEN bytes and
 * CALC_MAX_DEPTH nested parentheses/unary operators.
 *
 * Thread-safety: pure functions, safe from any thread.
 */
#ifndef CHAT_CALC_H
#define CHAT_CALC_H

#include <stddef.h>

#define CALC_MAX_LEN 4096
#define CALC_MAX_DEPTH 200

/** Evaluate `expr`. Returns 0 and sets *value, or -1 and writes a message
 *  for a human ("division by zero at position 4", positions 1-based) into
 *  err[0..errlen). */
int calc_eval(const char *expr, double *value, char *err, size_t errlen);

/** Format a result the way people write it: integers without a fraction
 *  ("391"), others with up to 12 significant digits ("0.333333333333"). */
void calc_format(double value, char *buf, size_t len);

#endif
