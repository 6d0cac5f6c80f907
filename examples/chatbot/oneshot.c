/*
 * oneshot.c - `hookline-chat -p "question"`: answer once and exit.
 *
 * stdout carries only the answer (or, with --json, one JSON object), so the
 * output can be piped; errors go to stderr with a non-zero exit status.
 * On a terminal (without --json or --no-stream) the answer streams as it
 * arrives, with the tool lines and spinner of the chat (app->narrate);
 * piped, it is printed whole once the run has finished.
 */
#include "chat.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_json(chat_app *app, hl_status st, const char *answer) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return;
  if (st == HL_OK) {
    cJSON_AddStringToObject(o, "answer", answer ? answer : "");
    cJSON_AddNullToObject(o, "error");
  } else {
    cJSON_AddNullToObject(o, "answer");
    cJSON *err = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(err, "status", hl_status_name(st));
    cJSON_AddStringToObject(err, "message", hl_last_error());
  }
  pthread_mutex_lock(&app->mu);
  hl_json_add(o, "tool_calls", hl_json_clone(app->tool_calls));
  int turns = app->turns;
  pthread_mutex_unlock(&app->mu);
  hl_usage u = hl_agent_last_usage(app->agent);
  cJSON *usage = cJSON_AddObjectToObject(o, "usage");
  cJSON_AddNumberToObject(usage, "input_tokens", (double)u.input_tokens);
  cJSON_AddNumberToObject(usage, "output_tokens", (double)u.output_tokens);
  if (u.has_cost) cJSON_AddNumberToObject(usage, "cost", u.cost);
  cJSON_AddNumberToObject(o, "turns", turns);
  cJSON_AddStringToObject(o, "session_id", hl_session_id(app->session));
  cJSON_AddStringToObject(o, "provider", app->provider_name);
  if (app->opt.model)
    cJSON_AddStringToObject(o, "model", app->opt.model);
  else
    cJSON_AddNullToObject(o, "model");
  char *text = cJSON_Print(o);
  if (text) {
    puts(text);
    free(text);
  }
  cJSON_Delete(o);
}

int chat_oneshot(chat_app *app) {
  /* A person at a terminal should know the answer comes from the offline
   * demo model; pipes and scripts get only the answer. */
  if (app->offline && isatty(STDERR_FILENO))
    fprintf(stderr, "(offline demo model; set OPENAI_API_KEY or ANTHROPIC_API_KEY, or use "
                    "--base-url, for a real one)\n");
  char *answer = NULL;
  /* Without -p: decisions for a run that waits for approval (approval.c). */
  hl_status st = app->opt.prompt ? chat_app_run(app, app->opt.prompt, &answer)
                                 : chat_approval_decided(app, &answer);
  if (st == HL_INTERRUPTED) return chat_approval_print_pending(app);
  /* Ctrl-C as the run ended well: on a terminal the rest of the answer
   * was not shown (app.c), so it is a cancellation all the same. */
  if (st == HL_OK && atomic_load(&app->cancelled)) {
    hl_free(answer);
    answer = NULL;
    st = hl_fail(HL_ERR_CANCELLED, "cancelled");
  }
  if (app->opt.json) print_json(app, st, answer);
  if (st == HL_OK) {
    if (app->narrate) {
      chat_app_show_answer(app, answer); /* the rest of what streamed */
    } else if (!app->opt.json) {
      fputs(answer ? answer : "", stdout);
      size_t n = answer ? strlen(answer) : 0;
      if (!n || answer[n - 1] != '\n') putchar('\n');
    }
    hl_free(answer);
    return fflush(stdout) == 0 ? 0 : 1;
  }
  if (app->narrate) ui_turn_end(&app->ui); /* the error starts on a line of its own */
  const char *msg = hl_last_error();
  if (st == HL_ERR_CANCELLED)
    fprintf(stderr, "hookline-chat: cancelled\n");
  else
    fprintf(stderr, "hookline-chat: %s: %s\n", hl_status_name(st), msg);
  return st == HL_ERR_CANCELLED ? 130 : 1;
}
