/*
 * repl.c - the interactive loop: libedit line editing and history, slash
 * commands, and one agent run per line with streamed output.
 *
 * The history file keeps no secrets: the lines of a question are entered
 * once the question is done, without those that look like credentials
 * (secrets.c), and none at all when the input guardrail refused it.
 */
#include "chat.h"
#include "term_guard.h"

#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HISTORY_SIZE 1000

typedef struct repl {
  chat_app *app;
  EditLine *el;
  History *hist;
  char history_path[1024];
  char prompt[64];
  char cont_prompt[64];  /* after a line ending in '\\': the question goes on */
  bool continuing;
  char *pending;         /* the lines so far of a multi-line question */
  size_t pending_len;
  char *held;            /* lines typed for the question in progress, as typed,
                            '\n'-separated: they reach the history only once the
                            guardrail has had its say (history_commit) */
  size_t held_len;
} repl;

static char *prompt_fn(EditLine *el) {
  repl *r = NULL;
  el_get(el, EL_CLIENTDATA, &r);
  if (!r) return "> ";
  return r->continuing ? r->cont_prompt : r->prompt;
}

/* Append `line` and a newline to the multi-line question being typed. */
static bool pending_add(repl *r, const char *line) {
  size_t n = strlen(line);
  char *p = realloc(r->pending, r->pending_len + n + 2);
  if (!p) return false;
  memcpy(p + r->pending_len, line, n);
  p[r->pending_len + n] = '\n';
  p[r->pending_len + n + 1] = '\0';
  r->pending = p;
  r->pending_len += n + 1;
  return true;
}

static void pending_clear(repl *r) {
  free(r->pending);
  r->pending = NULL;
  r->pending_len = 0;
  r->continuing = false;
}

/* Tab: complete a slash command at the start of the line. */
static unsigned char complete_fn(EditLine *el, int ch) {
  (void)ch;
  const LineInfo *li = el_line(el);
  size_t len = (size_t)(li->cursor - li->buffer);
  if (len == 0 || li->buffer[0] != '/' || memchr(li->buffer, ' ', len)) return CC_ERROR;
  const char *match = NULL;
  int count = 0;
  for (size_t i = 0; chat_command_names[i]; i++)
    if (strncmp(chat_command_names[i], li->buffer, len) == 0) {
      match = chat_command_names[i];
      count++;
    }
  if (count == 1) {
    char rest[32];
    snprintf(rest, sizeof rest, "%s ", match + len);
    return el_insertstr(el, rest) == 0 ? CC_REFRESH : CC_ERROR;
  }
  if (count > 1) {
    putchar('\n');
    for (size_t i = 0; chat_command_names[i]; i++)
      if (strncmp(chat_command_names[i], li->buffer, len) == 0) printf("%s  ", chat_command_names[i]);
    putchar('\n');
    return CC_REDISPLAY;
  }
  return CC_ERROR;
}

static void history_setup(repl *r) {
  HistEvent ev;
  r->hist = history_init();
  if (!r->hist) return;
  history(r->hist, &ev, H_SETSIZE, HISTORY_SIZE);
  history(r->hist, &ev, H_SETUNIQUE, 1);
  el_set(r->el, EL_HIST, history, r->hist);
  /* HOOKLINE_CHAT_HISTORY="" disables the file; unset uses ~/. */
  const char *path = getenv("HOOKLINE_CHAT_HISTORY");
  if (!path) {
    const char *home = getenv("HOME");
    if (home && *home) {
      snprintf(r->history_path, sizeof r->history_path, "%s/.hookline_chat_history", home);
    }
  } else {
    snprintf(r->history_path, sizeof r->history_path, "%s", path);
  }
  if (r->history_path[0]) history(r->hist, &ev, H_LOAD, r->history_path);
}

/* Keep a typed line back from the history until its question is done. */
static void history_hold(repl *r, const char *line) {
  size_t n = strlen(line);
  char *p = realloc(r->held, r->held_len + n + 2);
  if (!p) return; /* out of memory: the line is simply not remembered */
  memcpy(p + r->held_len, line, n);
  p[r->held_len + n] = '\n';
  p[r->held_len + n + 1] = '\0';
  r->held = p;
  r->held_len += n + 1;
}

/* The question is done: enter its lines into the history (and the file),
 * unless `keep` is false (the input guardrail refused it). Lines that look
 * like they hold a secret are never entered (secrets.c). */
static void history_commit(repl *r, bool keep) {
  HistEvent ev;
  bool entered = false;
  for (char *line = r->held; keep && r->hist && line && *line;) {
    char *nl = strchr(line, '\n');
    *nl = '\0';
    if (!chat_looks_secret(line)) {
      history(r->hist, &ev, H_ENTER, line);
      entered = true;
    }
    line = nl + 1;
  }
  if (entered && r->history_path[0]) history(r->hist, &ev, H_SAVE, r->history_path);
  free(r->held);
  r->held = NULL;
  r->held_len = 0;
}

/* Remove surrounding whitespace in place; returns the start. */
static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

static void explain_error(chat_app *app, hl_status st) {
  const char *msg = hl_last_error();
  printf("%serror (%s): %s%s\n", ui_red(&app->ui), hl_status_name(st), msg, ui_reset(&app->ui));
  if (st == HL_ERR_AUTH)
    printf("%sCheck the API key (OPENAI_API_KEY / ANTHROPIC_API_KEY).%s\n", ui_dim(&app->ui),
           ui_reset(&app->ui));
  else if (st == HL_ERR_NETWORK)
    printf("%sIs the server running and the --base-url right?%s\n", ui_dim(&app->ui),
           ui_reset(&app->ui));
}

static double seconds_since(struct timespec t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
}

/* A quiet footer with what the answer cost, for models that report
 * usage (the offline model reports none, so it gets no footer). */
static void print_usage(chat_app *app, double seconds) {
  hl_usage u = hl_agent_last_usage(app->agent);
  if (u.input_tokens + u.output_tokens <= 0) return;
  printf("%s[%lld in · %lld out tokens", ui_dim(&app->ui), (long long)u.input_tokens,
         (long long)u.output_tokens);
  if (u.has_cost) printf(" · $%.4f", u.cost);
  printf(" · %.1f s]%s\n", seconds, ui_reset(&app->ui));
}

static void run_turn(chat_app *app, const char *input) {
  char *answer = NULL;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hl_status st = chat_app_run(app, input, &answer);
  if (st == HL_INTERRUPTED) st = chat_approval_resolve(app, &answer); /* approval.c */
  if (st == HL_INTERRUPTED) {
    /* left for later: approval.c said where it waits */
  } else if (st == HL_ERR_CANCELLED || atomic_load(&app->cancelled)) {
    /* Also when the run ended well just as Ctrl-C arrived: the rest of
     * the answer was not shown (app.c), so say why. */
    ui_turn_end(&app->ui);
    printf("%s(cancelled)%s\n", ui_dim(&app->ui), ui_reset(&app->ui));
  } else if (st == HL_OK) {
    chat_app_show_answer(app, answer);
    print_usage(app, seconds_since(t0));
  } else {
    ui_turn_end(&app->ui);
    explain_error(app, st);
  }
  hl_free(answer);
  putchar('\n');
  fflush(stdout);
}

void chat_app_banner(chat_app *app, FILE *out) {
  const chat_ui *ui = &app->ui;
  fprintf(out, "%shookline-chat %s%s  %s\n", ui_bold(ui), HOOKLINE_VERSION, ui_reset(ui),
          app->model_desc);
  fprintf(out, "%stools:", ui_dim(ui));
  hl_tools *tools = hl_agent_tools(app->agent);
  for (size_t i = 0; i < hl_tools_count(tools); i++)
    fprintf(out, " %s", hl_tool_name(hl_tools_at(tools, i)));
  fprintf(out, "   /help for commands, Ctrl-C cancels, Ctrl-D quits%s\n", ui_reset(ui));
  if (app->offline) {
    fprintf(out,
            "\nThis is the %soffline demo%s: a scripted model that answers a few prompts by "
            "calling the real tools.\n"
            "To chat with a real model, set OPENAI_API_KEY or ANTHROPIC_API_KEY, or start Ollama "
            "and run:\n"
            "  hookline-chat --base-url http://localhost:11434/v1 --model llama3.2\n"
            "Try:",
            ui_bold(ui), ui_reset(ui));
    for (size_t i = 0; chat_offline_examples[i]; i++)
      fprintf(out, "%s %s%s%s", i ? (ui->utf8 ? "  ·" : "  |") : "", ui_cyan(ui),
              chat_offline_examples[i], ui_reset(ui));
    if (app->have_js)
      fprintf(out, "%s %srun some javascript%s", ui->utf8 ? "  ·" : "  |", ui_cyan(ui), ui_reset(ui));
    fputc('\n', out);
  }
  chat_sessions_banner(app, out);
  fputc('\n', out);
  fflush(out);
}

int chat_repl(chat_app *app) {
  repl r = {.app = app};
  const char *mark = app->ui.utf8 ? "›" : ">";
  const char *more = app->ui.utf8 ? "…" : ".";
  if (app->ui.color) {
    snprintf(r.prompt, sizeof r.prompt, "\1\033[1;32m\1%s\1\033[0m\1 ", mark);
    snprintf(r.cont_prompt, sizeof r.cont_prompt, "\1\033[2m\1%s\1\033[0m\1 ", more);
  } else {
    snprintf(r.prompt, sizeof r.prompt, "%s ", mark);
    snprintf(r.cont_prompt, sizeof r.cont_prompt, "%s ", more);
  }

  r.el = el_init("hookline-chat", stdin, term_guard_raw_stdout(), stderr);
  if (!r.el) {
    fprintf(stderr, "hookline-chat: cannot initialise line editing\n");
    return 1;
  }
  el_set(r.el, EL_CLIENTDATA, &r);
  el_set(r.el, EL_PROMPT_ESC, prompt_fn, '\1');
  el_set(r.el, EL_EDITOR, "emacs");
  el_set(r.el, EL_SIGNAL, 1);
  /* The wide-character form: libedit's narrow EL_ADDFN copies the two
   * strings and never frees them (it says so in its source). */
  el_wset(r.el, EL_ADDFN, L"hl-complete", L"complete a slash command", complete_fn);
  el_set(r.el, EL_BIND, "^I", "hl-complete", NULL);
  el_source(r.el, NULL); /* the user's ~/.editrc, if any */
  history_setup(&r);

  chat_app_banner(app, stdout);
  chat_approval_pending(app); /* a resumed conversation that waits for approval */
  for (;;) {
    int count = 0;
    errno = 0;
    fflush(stdout); /* libedit writes to the raw stream: what was printed goes first */
    const char *got = el_gets(r.el, &count);
    if (!got) {
      if (count < 0 && errno == EINTR) { /* Ctrl-C at the prompt: fresh line */
        history_commit(&r, true); /* the lines of a dropped multi-line question */
        pending_clear(&r);
        putchar('\n');
        continue;
      }
      putchar('\n'); /* Ctrl-D */
      if (!r.pending) break;
      got = ""; /* end of input in a multi-line question: ask it, then leave */
    }
    char *copy = strdup(got);
    if (!copy) break;
    size_t n = strlen(copy);
    while (n && (copy[n - 1] == '\n' || copy[n - 1] == '\r')) copy[--n] = '\0';
    if (*copy) history_hold(&r, copy);
    /* A line ending in a backslash continues on the next line. */
    if (n && copy[n - 1] == '\\' && count > 0) {
      copy[n - 1] = '\0';
      bool ok = pending_add(&r, copy);
      free(copy);
      if (!ok) break;
      r.continuing = true;
      continue;
    }
    if (r.pending) { /* the last line of a multi-line question */
      bool ok = pending_add(&r, copy);
      free(copy);
      if (!ok) break;
      copy = r.pending;
      r.pending = NULL;
      pending_clear(&r);
    }
    char *line = trim(copy);
    if (!*line) {
      history_commit(&r, true);
      free(copy);
      if (count == 0) break;
      continue;
    }
    /* Input from a file or a pipe is not echoed by a terminal: show it,
     * so that the transcript reads like a conversation. */
    if (!isatty(STDIN_FILENO)) printf("%s %s\n", mark, line);
    if (!hl_utf8_valid(line, strlen(line))) {
      /* Models and their wire formats speak UTF-8 only. (libedit usually
       * turns undecodable bytes into '?' already; this is the backstop.) */
      printf("%sThat line is not valid UTF-8; is the terminal set to another encoding?%s\n\n",
             ui_red(&app->ui), ui_reset(&app->ui));
      history_commit(&r, false);
      free(copy);
      continue;
    }
    if (line[0] == '/') {
      history_commit(&r, true);
      cmd_result res = chat_command(app, line);
      free(copy);
      if (res == CMD_QUIT) break;
      continue;
    }
    run_turn(app, line);
    /* A line the guardrail refused holds something it was told to keep
     * from the model (a secret): it stays out of the history file too. */
    history_commit(&r, !atomic_load(&app->refused));
    free(copy);
    if (count == 0) break; /* the multi-line question ended the input */
  }
  history_commit(&r, true);
  pending_clear(&r);
  if (r.hist) history_end(r.hist);
  el_end(r.el);
  return 0;
}
