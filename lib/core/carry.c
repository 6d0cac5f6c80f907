/*
 * carry.c - each thread's current carried context (carry.h).
 */
#include "core/carry.h"

static _Thread_local hl__carried *current;

hl__carried *hl__carry_current(void) { return current; }

hl__carried *hl__carry_enter(hl__carried *c) {
  hl__carried *prev = current;
  current = c;
  return prev;
}

void hl__carry_leave(hl__carried *prev) { current = prev; }
