/*
 * main.c - hookline-chat: an agent chatbot on hookline.
 *
 *   hookline-chat                 interactive chat (offline demo model
 *                                 without an API key)
 *   hookline-chat -p "question"   one answer on stdout
 *
 * See chat.h for how the program is split into files.
 */
#include "chat.h"
#include "term_guard.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setlocale(LC_CTYPE, ""); /* libedit needs it for UTF-8 input */
  term_guard_install();      /* before anything is printed or a thread starts */
  chat_app app;
  memset(&app, 0, sizeof app);

  char err[256];
  if (chat_parse_args(argc, argv, &app.opt, err, sizeof err) != 0) {
    fprintf(stderr, "hookline-chat: %s\n", err);
    return 2;
  }
  if (app.opt.help) {
    chat_print_usage("hookline-chat");
    return 0;
  }
  if (app.opt.version) {
    printf("hookline-chat %s\n", HOOKLINE_VERSION);
    return 0;
  }

  bool interactive = app.opt.prompt == NULL && !chat_approval_oneshot(&app.opt);
  if (app.opt.prompt && !hl_utf8_valid(app.opt.prompt, strlen(app.opt.prompt))) {
    fprintf(stderr, "hookline-chat: the question is not valid UTF-8\n");
    return 2;
  }
  hl_status st = chat_app_init(&app, interactive);
  if (st != HL_OK) {
    fprintf(stderr, "hookline-chat: %s\n", hl_last_error()[0] ? hl_last_error() : hl_strerror(st));
    if (st == HL_ERR_UNSUPPORTED || st == HL_ERR_AUTH)
      fprintf(stderr, "hookline-chat: run without --provider for the offline demo model\n");
    chat_app_free(&app);
    return 1;
  }
  if (chat_cancel_init(&app) != 0)
    fprintf(stderr, "hookline-chat: Ctrl-C cannot cancel answers (no pipe or thread)\n");

  int rc = interactive ? chat_repl(&app) : chat_oneshot(&app);

  chat_cancel_shutdown();
  chat_app_free(&app);
  return rc;
}
