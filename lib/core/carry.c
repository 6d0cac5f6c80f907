/*
 * carry.c - each thread's current carried context (carry.h, whose inline
 * functions read and set it).
 */
#include "core/carry.h"

_Thread_local hl__carried *hl__carry_now;
