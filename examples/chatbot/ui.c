/*
 * ui.c - see ui.h. The spinner thread wakes every 80 ms and redraws one
 * line with "\r" + erase-to-end-of-line; printing anything else first
 * erases that line under the same mutex.
 */
#include "ui.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPIN_INTERVAL_MS 80

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool locale_is_utf8(void) {
  const char *vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
  for (size_t i = 0; i < 3; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
  }
  return false;
}

/* Caller holds mu. */
static void erase_spinner(chat_ui *ui) {
  if (!ui->drawn) return;
  fputs("\r\033[K", ui->status_out);
  fflush(ui->status_out);
  ui->drawn = false;
}

static void md_end(chat_ui *ui);

/* Caller holds mu. */
static void draw_spinner(chat_ui *ui) {
  static const char *braille[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
  static const char *ascii[] = {"|", "/", "-", "\\"};
  const char *glyph = ui->utf8 ? braille[ui->frame % 10] : ascii[ui->frame % 4];
  ui->frame++;
  double secs = (double)(now_ms() - ui->spin_start_ms) / 1000.0;
  /* The spinner owns a line of its own: if the answer left the cursor
   * mid-line, move to a fresh line first so "\r" erases only the spinner. */
  if (ui->status_out == ui->out) md_end(ui); /* no style may leak into the spinner */
  if (ui->status_out == ui->out && !ui->at_line_start) {
    fputc('\n', ui->out);
    ui->at_line_start = true;
  }
  fprintf(ui->status_out, "\r\033[K%s%s %s%s %.1fs  (Ctrl-C cancels)%s",
          ui->color ? "\033[36m" : "", glyph, ui->status, ui->utf8 ? "…" : "...", secs,
          ui->color ? "\033[0m" : "");
  fflush(ui->status_out);
  ui->drawn = true;
}

static void *spinner_main(void *arg) {
  chat_ui *ui = arg;
  pthread_mutex_lock(&ui->mu);
  while (!ui->quit) {
    if (ui->spinning) draw_spinner(ui);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += SPIN_INTERVAL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    if (ui->spinning)
      pthread_cond_timedwait(&ui->cv, &ui->mu, &until);
    else
      pthread_cond_wait(&ui->cv, &ui->mu);
  }
  erase_spinner(ui);
  pthread_mutex_unlock(&ui->mu);
  return NULL;
}

int ui_init(chat_ui *ui, FILE *out, FILE *status_out, bool color) {
  memset(ui, 0, sizeof *ui);
  pthread_mutex_init(&ui->mu, NULL);
  pthread_cond_init(&ui->cv, NULL);
  ui->out = out;
  ui->status_out = status_out;
  ui->color = color;
  ui->utf8 = locale_is_utf8();
  ui->at_line_start = true;
  if (!status_out) return 0;
  if (pthread_create(&ui->thread, NULL, spinner_main, ui) != 0) {
    ui->status_out = NULL;
    return -1;
  }
  ui->thread_started = true;
  return 0;
}

void ui_destroy(chat_ui *ui) {
  if (ui->thread_started) {
    pthread_mutex_lock(&ui->mu);
    ui->quit = true;
    pthread_cond_signal(&ui->cv);
    pthread_mutex_unlock(&ui->mu);
    pthread_join(ui->thread, NULL);
    ui->thread_started = false;
  }
  pthread_cond_destroy(&ui->cv);
  pthread_mutex_destroy(&ui->mu);
}

void ui_status(chat_ui *ui, const char *status) {
  if (!ui->status_out) return;
  pthread_mutex_lock(&ui->mu);
  snprintf(ui->status, sizeof ui->status, "%s", status);
  if (!ui->spinning) {
    ui->spinning = true;
    ui->spin_start_ms = now_ms();
  }
  pthread_cond_signal(&ui->cv);
  pthread_mutex_unlock(&ui->mu);
}

void ui_idle(chat_ui *ui) {
  pthread_mutex_lock(&ui->mu);
  ui->spinning = false;
  erase_spinner(ui);
  pthread_mutex_unlock(&ui->mu);
}

/* ------------------------------------------------------------------ */
/* Markdown-lite                                                       */
/* ------------------------------------------------------------------ */

/* Re-emit the styles in force (after a reset). Caller holds mu. */
static void md_apply(chat_ui *ui) {
  fputs("\033[0m", ui->out);
  if (ui->md_bold) fputs("\033[1m", ui->out);
  if (ui->md_code || ui->md_block) fputs("\033[36m", ui->out);
}

/* A run of md_run characters ended: a style toggle or literal text. */
static void md_flush_run(chat_ui *ui) {
  char c = ui->md_run;
  int n = ui->md_run_len;
  ui->md_run = 0;
  ui->md_run_len = 0;
  if (!c) return;
  if (c == '`' && n == 3) {
    ui->md_block = !ui->md_block; /* the fence itself is shown dimmed */
    fputs("\033[2m```", ui->out);
    md_apply(ui);
    return;
  }
  if (c == '`' && n == 1 && !ui->md_block) {
    ui->md_code = !ui->md_code;
    md_apply(ui);
    return;
  }
  if (c == '*' && n == 2 && !ui->md_code && !ui->md_block) {
    ui->md_bold = !ui->md_bold;
    md_apply(ui);
    return;
  }
  for (int i = 0; i < n; i++) fputc(c, ui->out);
}

static void md_write(chat_ui *ui, const char *text) {
  for (const char *p = text; *p; p++) {
    if ((*p == '*' || *p == '`') && (ui->md_run == 0 || ui->md_run == *p)) {
      ui->md_run = *p;
      ui->md_run_len++;
      continue;
    }
    md_flush_run(ui);
    if (*p == '*' || *p == '`') {
      ui->md_run = *p;
      ui->md_run_len = 1;
      continue;
    }
    if (*p == '\n' && ui->md_code) { /* inline code never spans lines */
      ui->md_code = false;
      md_apply(ui);
    }
    fputc(*p, ui->out);
  }
}

/* End of an answer: flush a held-back run, close every style. */
static void md_end(chat_ui *ui) {
  md_flush_run(ui);
  if (ui->md_bold || ui->md_code || ui->md_block) fputs("\033[0m", ui->out);
  ui->md_bold = ui->md_code = ui->md_block = false;
}

void ui_turn_begin(chat_ui *ui) {
  pthread_mutex_lock(&ui->mu);
  ui->answer_started = false;
  pthread_mutex_unlock(&ui->mu);
}

void ui_answer_delta(chat_ui *ui, const char *text) {
  if (!text || !*text) return;
  unsigned pause;
  pthread_mutex_lock(&ui->mu);
  ui->spinning = false; /* text is arriving: the wait is over */
  erase_spinner(ui);
  if (!ui->answer_started) {
    ui->answer_started = true;
    /* Models often start with a newline or spaces; the line is ours. */
    while (*text == '\n' || *text == ' ') text++;
  }
  if (ui->color)
    md_write(ui, text);
  else
    fputs(text, ui->out);
  fflush(ui->out);
  size_t n = strlen(text);
  if (n) ui->at_line_start = text[n - 1] == '\n';
  pause = ui->typewriter_ms;
  pthread_mutex_unlock(&ui->mu);
  if (pause) usleep(pause * 1000u);
}

void ui_turn_end(chat_ui *ui) {
  pthread_mutex_lock(&ui->mu);
  ui->spinning = false;
  erase_spinner(ui);
  md_end(ui);
  if (!ui->at_line_start) {
    fputc('\n', ui->out);
    ui->at_line_start = true;
  }
  fflush(ui->out);
  pthread_mutex_unlock(&ui->mu);
}

void ui_note(chat_ui *ui, const char *fmt, ...) {
  pthread_mutex_lock(&ui->mu);
  erase_spinner(ui);
  md_end(ui); /* a tool line between model turns starts unstyled */
  if (!ui->at_line_start) fputc('\n', ui->out);
  if (ui->color) fputs("\033[2m", ui->out);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ui->out, fmt, ap);
  va_end(ap);
  if (ui->color) fputs("\033[0m", ui->out);
  fputc('\n', ui->out);
  ui->at_line_start = true;
  fflush(ui->out);
  /* The next spinner frame is drawn by the thread; nothing to do here. */
  pthread_mutex_unlock(&ui->mu);
}

const char *ui_dim(const chat_ui *ui) { return ui->color ? "\033[2m" : ""; }
const char *ui_bold(const chat_ui *ui) { return ui->color ? "\033[1m" : ""; }
const char *ui_red(const chat_ui *ui) { return ui->color ? "\033[31m" : ""; }
const char *ui_cyan(const chat_ui *ui) { return ui->color ? "\033[36m" : ""; }
const char *ui_reset(const chat_ui *ui) { return ui->color ? "\033[0m" : ""; }
