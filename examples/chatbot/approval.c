/*
 * approval.c - tools that need a person's approval before they run.
 *
 *   --approve NAME|GLOB     (repeatable) calls of the matching tools wait
 *                           for a decision (hl_tool_set_needs_approval)
 *   "approve": [...]        the same from the --config file (config.h)
 *
 * In the chat, a run that reaches such a call stops (HL_INTERRUPTED) and
 * the chatbot asks, call by call: approve, reject (with a reason the model
 * sees) or edit the arguments; then it resumes the run. Enter alone leaves
 * the decision for later: the interrupted run is kept with the
 * conversation in the store (store.h), so quitting loses nothing, and
 * --resume (or /resume ID) asks again.
 *
 * One-shot: `-p` prints the waiting calls (JSON with --json) and exits
 * with CHAT_EXIT_APPROVAL; a later
 *   hookline-chat --resume ID --approve-call CALL [--deny-call CALL[:REASON]]
 * gives the decisions and continues the run.
 */
#include "chat.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/* "--NAME VALUE" or "--NAME=VALUE": the value, or NULL if argv[*i] is not
 * option NAME; *missing when it is but has no value. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing) {
  const char *arg = argv[*i];
  size_t n = strlen(name);
  if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0) return NULL;
  const char *rest = arg + 2 + n;
  if (*rest == '=') {
    *missing = !rest[1];
    return rest + 1;
  }
  if (*rest) return NULL; /* a longer option's name */
  if (*i + 1 >= argc) {
    *missing = true;
    return "";
  }
  return argv[++*i];
}

int chat_parse_approval_arg(int argc, char **argv, int *i, chat_options *opt, char *err,
                            size_t errlen) {
  static const char *const names[] = {"approve", "approve-call", "deny-call"};
  for (int k = 0; k < 3; k++) {
    bool missing = false;
    const char *v = option_value(argc, argv, i, names[k], &missing);
    if (!v) continue;
    if (missing || !*v) {
      snprintf(err, errlen, "option '--%s' needs a value", names[k]);
      return -1;
    }
    if (k == 0) {
      if (opt->n_approve == CHAT_MAX_APPROVE) {
        snprintf(err, errlen, "at most %d --approve patterns", CHAT_MAX_APPROVE);
        return -1;
      }
      opt->approve[opt->n_approve++] = v;
    } else {
      if (opt->n_decisions == CHAT_MAX_APPROVE) {
        snprintf(err, errlen, "at most %d decisions", CHAT_MAX_APPROVE);
        return -1;
      }
      opt->decision[opt->n_decisions] = v;
      opt->decision_deny[opt->n_decisions++] = k == 2;
    }
    return 1;
  }
  return 0;
}

int chat_check_approval_args(const chat_options *opt, char *err, size_t errlen) {
  if (!opt->n_decisions) return 0;
  if (!opt->resume || !opt->resume_id || opt->prompt) {
    snprintf(err, errlen, "--approve-call and --deny-call continue a conversation that waits for "
                          "approval: hookline-chat --resume ID --approve-call CALL (without -p)");
    return -1;
  }
  return 0;
}

bool chat_approval_oneshot(const chat_options *opt) { return opt->n_decisions > 0; }

/* Mark the tools whose names match `pattern`; how many did. */
static hl_status approve_matching(hl_tools *tools, const char *pattern, size_t *matched) {
  *matched = 0;
  for (size_t i = 0; i < hl_tools_count(tools); i++) {
    hl_tool *t = hl_tools_at(tools, i);
    if (fnmatch(pattern, hl_tool_name(t), 0) != 0) continue;
    hl_status st = hl_tool_set_needs_approval(t, true);
    if (st != HL_OK) return st;
    (*matched)++;
  }
  return HL_OK;
}

/* The config file's "approve" list (config.h), the same as --approve
 * flags given before the command line's own; a pattern that matches no
 * tool is an error naming the file and its JSON path. */
static hl_status approval_from_config(chat_app *app, hl_tools *tools) {
  if (!app->config) return HL_OK;
  const cJSON *list = hl_json_get(hl_config_json(app->config), "approve"), *p;
  int i = 0;
  cJSON_ArrayForEach(p, list) {
    size_t matched = 0;
    hl_status st = approve_matching(tools, p->valuestring, &matched);
    if (st != HL_OK) return st;
    if (!matched)
      return hl_fail(HL_ERR_INVALID, "%s: $.approve[%d]: \"%s\" matches no tool (/tools lists "
                     "them)", app->opt.config_path, i, p->valuestring);
    i++;
  }
  return HL_OK;
}

hl_status chat_approval_init(chat_app *app) {
  hl_tools *tools = hl_agent_tools(app->agent);
  hl_status st = approval_from_config(app, tools);
  if (st != HL_OK) return st;
  for (size_t p = 0; p < app->opt.n_approve; p++) {
    const char *pattern = app->opt.approve[p];
    size_t matched = 0;
    if ((st = approve_matching(tools, pattern, &matched)) != HL_OK) return st;
    if (!matched)
      return hl_fail(HL_ERR_INVALID, "--approve %s matches no tool (/tools lists them)", pattern);
  }
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Asking in the terminal                                              */
/* ------------------------------------------------------------------ */

/* One line from fd 0, a byte at a time so that nothing is read past it
 * (libedit reads the same descriptor for the next prompt). NULL at the
 * end of input, on an error or Ctrl-C. The caller frees. */
static char *read_line(void) {
  size_t n = 0, cap = 128;
  char *buf = malloc(cap);
  while (buf) {
    char c;
    ssize_t r = read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno != EINTR) r = 0;
    if (r < 0 || (r == 0 && n == 0)) { /* Ctrl-C, or nothing before the end */
      free(buf);
      return NULL;
    }
    if (r == 0) break;
    if (c == '\n') break;
    if (n + 2 > cap) {
      char *b = realloc(buf, cap *= 2);
      if (!b) {
        free(buf);
        return NULL;
      }
      buf = b;
    }
    buf[n++] = c;
  }
  if (buf) {
    while (n && (buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
    buf[n] = '\0';
    /* Input from a pipe is not echoed: show it, as the REPL does. */
    if (!isatty(STDIN_FILENO)) printf("%s\n", buf);
  }
  return buf;
}

static char *ask(const char *question) {
  fputs(question, stdout);
  fflush(stdout);
  return read_line();
}

/* Ask for the decision on one call and add it to `decisions`. False when
 * the person leaves it for later (Enter alone, end of input). */
static bool ask_call(chat_app *app, const cJSON *call, cJSON *decisions) {
  const chat_ui *ui = &app->ui;
  const char *path = hl_json_get_string(call, "path");
  char *args = cJSON_PrintUnformatted(hl_json_get(call, "arguments"));
  const char *reason = hl_json_get_string(call, "reason");
  printf("%sApproval needed:%s %s%s%s %s  %s(call %s%s%s)%s\n", ui_bold(ui), ui_reset(ui),
         ui_cyan(ui), hl_json_get_string(call, "name"), ui_reset(ui), args ? args : "{}",
         ui_dim(ui), path, reason ? ": " : "", reason ? reason : "", ui_reset(ui));
  free(args);
  for (;;) {
    char *a = ask("  [a]pprove, [r]eject, [e]dit the arguments, Enter: decide later? ");
    if (!a || !*a) {
      free(a);
      return false;
    }
    char c = a[0];
    free(a);
    if (c == 'a' || c == 'y') return hl_decision_approve(decisions, path) == HL_OK;
    if (c == 'r' || c == 'n') {
      char *why = ask("  Reason (the model sees it; Enter: none): ");
      hl_status st = hl_decision_reject(decisions, path, why && *why ? why : NULL);
      free(why);
      return st == HL_OK;
    }
    if (c == 'e') {
      char *text = ask("  New arguments (a JSON object): ");
      cJSON *j = text ? cJSON_Parse(text) : NULL;
      free(text);
      if (cJSON_IsObject(j)) {
        hl_status st = hl_decision_edit(decisions, path, j);
        cJSON_Delete(j);
        return st == HL_OK;
      }
      cJSON_Delete(j);
      printf("  %sThat is not a JSON object, e.g. {\"expression\": \"2*3\"}.%s\n", ui_red(ui),
             ui_reset(ui));
      continue;
    }
    printf("  a, r, e or Enter\n");
  }
}

static void say_later(chat_app *app) {
  printf("%sThe call waits for a decision; it is kept with conversation %s "
         "(hookline-chat --resume %s asks again).%s\n",
         ui_dim(&app->ui), hl_session_id(app->session), hl_session_id(app->session),
         ui_reset(&app->ui));
}

hl_status chat_approval_resolve(chat_app *app, char **answer) {
  *answer = NULL;
  cJSON_Delete(hl_run_state_json()); /* the thread's copy: the session keeps the state */
  for (;;) {
    cJSON *state = hl_session_run_state(app->session);
    cJSON *pending = state ? hl_run_state_pending(state) : NULL;
    if (!pending) {
      cJSON_Delete(state);
      return hl_fail(HL_ERR_STATE, "the interrupted run's state is gone from the conversation");
    }
    ui_turn_end(&app->ui);
    cJSON *decisions = cJSON_CreateObject();
    bool all = decisions != NULL;
    const cJSON *call;
    cJSON_ArrayForEach(call, pending) {
      if (all && !ask_call(app, call, decisions)) all = false;
    }
    cJSON_Delete(pending);
    if (!all) {
      cJSON_Delete(state);
      cJSON_Delete(decisions);
      say_later(app);
      hl_clear_error();
      return HL_INTERRUPTED;
    }
    hl_status st = chat_app_resume(app, state, decisions, answer);
    cJSON_Delete(state);
    cJSON_Delete(decisions);
    if (st == HL_INTERRUPTED) {
      cJSON_Delete(hl_run_state_json());
      continue; /* a later turn wants approval too */
    }
    if (st == HL_ERR_INVALID_ARGUMENTS || st == HL_ERR_INVALID) {
      /* checked before anything ran: say why and ask again */
      ui_turn_end(&app->ui);
      printf("%s%s%s\n", ui_red(&app->ui), hl_last_error(), ui_reset(&app->ui));
      continue;
    }
    return st;
  }
}

void chat_approval_pending(chat_app *app) {
  cJSON *state = hl_session_run_state(app->session);
  if (!state) return;
  cJSON_Delete(state);
  printf("%sThis conversation stopped for approval.%s\n", ui_dim(&app->ui), ui_reset(&app->ui));
  char *answer = NULL;
  hl_status st = chat_approval_resolve(app, &answer);
  if (st == HL_OK) chat_app_show_answer(app, answer);
  else if (st != HL_INTERRUPTED)
    printf("%serror (%s): %s%s\n", ui_red(&app->ui), hl_status_name(st), hl_last_error(),
           ui_reset(&app->ui));
  hl_free(answer);
  putchar('\n');
  fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* One-shot                                                            */
/* ------------------------------------------------------------------ */

hl_status chat_approval_decided(chat_app *app, char **answer) {
  *answer = NULL;
  cJSON *state = hl_session_run_state(app->session);
  if (!state)
    return hl_fail(HL_ERR_STATE, "conversation %s has no call waiting for approval",
                   hl_session_id(app->session));
  cJSON *decisions = cJSON_CreateObject();
  hl_status st = decisions ? HL_OK : HL_ERR_NOMEM;
  for (size_t i = 0; st == HL_OK && i < app->opt.n_decisions; i++) {
    const char *d = app->opt.decision[i];
    if (!app->opt.decision_deny[i]) {
      st = hl_decision_approve(decisions, d);
      continue;
    }
    const char *colon = strchr(d, ':');
    char *path = colon ? strndup(d, (size_t)(colon - d)) : strdup(d);
    st = path ? hl_decision_reject(decisions, path, colon && colon[1] ? colon + 1 : NULL)
              : HL_ERR_NOMEM;
    free(path);
  }
  /* Every waiting call needs a decision: without one, say which (the
   * run stays as it is). */
  cJSON *pending = st == HL_OK ? hl_run_state_pending(state) : NULL;
  const cJSON *call;
  bool all = pending != NULL;
  cJSON_ArrayForEach(call, pending) {
    if (!cJSON_GetObjectItemCaseSensitive(decisions, hl_json_get_string(call, "path"))) all = false;
  }
  cJSON_Delete(pending);
  if (st == HL_OK && all) st = chat_app_resume(app, state, decisions, answer);
  else if (st == HL_OK) st = HL_INTERRUPTED;
  if (st == HL_INTERRUPTED) cJSON_Delete(hl_run_state_json());
  cJSON_Delete(state);
  cJSON_Delete(decisions);
  return st;
}

int chat_approval_print_pending(chat_app *app) {
  cJSON_Delete(hl_run_state_json());
  cJSON *state = hl_session_run_state(app->session);
  cJSON *pending = state ? hl_run_state_pending(state) : NULL;
  cJSON_Delete(state);
  const char *sid = hl_session_id(app->session);
  if (app->opt.json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNullToObject(o, "answer");
    cJSON_AddStringToObject(o, "status", "Interrupted");
    cJSON_AddStringToObject(o, "session_id", sid);
    hl_json_add(o, "pending", pending ? pending : cJSON_CreateArray());
    pending = NULL;
    char *text = cJSON_Print(o);
    if (text) puts(text);
    free(text);
    cJSON_Delete(o);
  } else {
    if (app->narrate) ui_turn_end(&app->ui);
    printf("Waiting for approval (conversation %s):\n", sid);
    const cJSON *call;
    cJSON_ArrayForEach(call, pending) {
      char *args = cJSON_PrintUnformatted(hl_json_get(call, "arguments"));
      printf("  %s  %s %s\n", hl_json_get_string(call, "path"), hl_json_get_string(call, "name"),
             args ? args : "{}");
      free(args);
    }
    printf("Continue with: hookline-chat --resume %s --approve-call CALL (or --deny-call "
           "CALL:REASON)\n", sid);
  }
  cJSON_Delete(pending);
  fflush(stdout);
  return CHAT_EXIT_APPROVAL;
}
