/*
 * term_guard.h - the chatbot's terminal output shows control characters
 * instead of obeying them (see term_guard.c for why and how).
 */
#ifndef CHAT_TERM_GUARD_H
#define CHAT_TERM_GUARD_H

#include <stdio.h>

/** Where stdout / stderr is a terminal, replace it by a stream that passes
 *  text and the chatbot's own styles and shows every other control
 *  character (^[, <U+009B>, <9B>). Call once, first thing in main(), before
 *  any thread starts and anything is printed. A stream that cannot be made
 *  stays as it was. */
void term_guard_install(void);

/** The stdout the program started with, unfiltered: for libedit, which
 *  draws the prompt and the edited line with its own sequences. */
FILE *term_guard_raw_stdout(void);

#endif
