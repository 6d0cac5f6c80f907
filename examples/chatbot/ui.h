/*
 * ui.h - terminal output of the chatbot: streamed answer text, a spinner
 * status line while waiting, tool activity lines.
 *
 * Everything that writes to the terminal during a turn goes through here,
 * under one mutex, because three threads write: the run's thread (streamed
 * tokens), tool worker threads (tool lines) and the spinner thread. The
 * spinner line is always erased before anything else is printed, so it
 * never mixes with the answer.
 *
 * The spinner is drawn only when its stream is a terminal; piped output
 * gets the text and nothing else.
 */
#ifndef CHAT_UI_H
#define CHAT_UI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct chat_ui {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  bool thread_started;
  FILE *out;           /* answers and tool lines */
  FILE *status_out;    /* spinner; NULL: no spinner */
  bool color;          /* ANSI colours on `out` */
  bool utf8;           /* braille spinner and arrows */
  bool spinning;       /* the spinner should be visible */
  bool drawn;          /* a spinner line is on screen */
  bool quit;
  bool at_line_start;  /* the cursor of `out` is at column 0 */
  bool answer_started; /* some answer text of this turn was printed */
  char status[160];
  long long spin_start_ms;
  unsigned frame;
  unsigned typewriter_ms; /* pause after each streamed fragment (offline demo) */
  /* Markdown-lite rendering of answers on a colour terminal (**bold**,
   * `code`, ``` blocks): a run of '*' or '`' may be split across
   * fragments, so it is held back until the next other character. */
  char md_run;         /* '*' or '`' being counted, or 0 */
  int md_run_len;
  bool md_bold, md_code, md_block;
} chat_ui;

/** Set up. `status_out` NULL disables the spinner. Starts the spinner
 *  thread only when needed. Returns 0, or -1 if the thread cannot start
 *  (then the UI works without a spinner). */
int ui_init(chat_ui *ui, FILE *out, FILE *status_out, bool color);
void ui_destroy(chat_ui *ui);

/** Show the spinner with `status` ("thinking"). Thread-safe. */
void ui_status(chat_ui *ui, const char *status);
/** Hide the spinner (erase its line). Thread-safe. */
void ui_idle(chat_ui *ui);

/** Print a streamed fragment of the answer. Thread-safe. */
void ui_answer_delta(chat_ui *ui, const char *text);
/** Start a new turn: nothing of the answer printed yet. */
void ui_turn_begin(chat_ui *ui);
/** End the answer: newline if the cursor is not at line start, spinner off. */
void ui_turn_end(chat_ui *ui);

/** Print a dimmed info line (tool activity), on its own line. Thread-safe. */
void ui_note(chat_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ANSI helpers honouring ui->color. */
const char *ui_dim(const chat_ui *ui);
const char *ui_bold(const chat_ui *ui);
const char *ui_red(const chat_ui *ui);
const char *ui_cyan(const chat_ui *ui);
const char *ui_reset(const chat_ui *ui);

#endif
