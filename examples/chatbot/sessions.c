/*
 * sessions.c - conversations that outlive the chatbot: every turn is
 * written to a session store (store.h) as it happens, by default an
 * SQLite file under $XDG_DATA_HOME/hookline/ (~/.local/share/hookline/),
 * or the store given with --store URL. --resume [ID] and /resume ID
 * continue an earlier conversation (the last one without an ID; an ID
 * prefix is enough), /sessions lists them, /new starts another.
 */
#include "chat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHAT_APP_NAME "hookline-chat"

/* mkdir -p for the data directory (0700: conversations are private). */
static bool make_dirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    bool ok = mkdir(path, 0700) == 0 || errno == EEXIST;
    *p = '/';
    if (!ok) return false;
  }
  return mkdir(path, 0700) == 0 || errno == EEXIST;
}

/* sqlite:$XDG_DATA_HOME/hookline/sessions.sqlite, the directory made. */
static bool default_store_url(char *url, size_t n) {
  const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
  char dir[900];
  if (xdg && xdg[0] == '/') snprintf(dir, sizeof dir, "%s/hookline", xdg);
  else if (home && home[0]) snprintf(dir, sizeof dir, "%s/.local/share/hookline", home);
  else return false;
  if (!make_dirs(dir)) return false;
  snprintf(url, n, "sqlite:%s/sessions.sqlite", dir);
  return true;
}

/* The session whose id is `want` or starts with it (unique), or with no
 * `want` the most recently written one. *id gets a copy (hl_free). */
static hl_status find_session(chat_app *app, const char *want, char **id) {
  *id = NULL;
  cJSON *list = NULL;
  hl_status st = hl_store_list(app->store, CHAT_APP_NAME, "user", &list);
  if (st != HL_OK) return st;
  const cJSON *item, *match = NULL;
  int matches = 0;
  cJSON_ArrayForEach(item, list) {
    const char *sid = hl_json_get_string(item, "id");
    if (!sid) continue;
    if (!want) {
      match = item;
      matches = 1;
      break;
    }
    if (!strcmp(sid, want)) {
      match = item;
      matches = 1;
      break;
    }
    if (!strncmp(sid, want, strlen(want))) {
      match = item;
      matches++;
    }
  }
  if (matches == 1) *id = strdup(hl_json_get_string(match, "id"));
  cJSON_Delete(list);
  if (matches == 1) return *id ? HL_OK : HL_ERR_NOMEM;
  if (!want) return hl_fail(HL_ERR_NOT_FOUND, "no saved conversation to resume in %s", app->store_desc);
  if (matches > 1)
    return hl_fail(HL_ERR_INVALID, "\"%s\" starts %d conversations' ids: give more of it", want, matches);
  return hl_fail(HL_ERR_NOT_FOUND, "no conversation \"%s\" in %s (/sessions lists them)", want,
                 app->store_desc);
}

/* Open conversation `id` (NULL: a new one) and make it the current one. */
static hl_status switch_to(chat_app *app, const char *id) {
  hl_session *s = NULL;
  hl_status st = hl_session_open(app->store, CHAT_APP_NAME, "user", id, &s);
  if (st != HL_OK) return st;
  hl_session_free(app->session);
  app->session = s;
  return HL_OK;
}

hl_status chat_sessions_init(chat_app *app) {
  char url[1000];
  const char *chosen = app->opt.store;
  if (!chosen && default_store_url(url, sizeof url)) chosen = url;
  hl_status st = chosen ? hl_store_open(chosen, &app->store) : HL_ERR_NOT_FOUND;
  if (st != HL_OK && app->opt.store) return st; /* asked for that store: say why not */
  if (st != HL_OK) {
    /* The default place is not writable: keep talking, in memory. */
    fprintf(stderr, "hookline-chat: conversations are not saved (%s)\n",
            chosen ? hl_last_error() : "no HOME or XDG_DATA_HOME");
    if ((st = hl_store_open("memory:", &app->store)) != HL_OK) return st;
    chosen = "memory:";
  }
  snprintf(app->store_desc, sizeof app->store_desc, "%s",
           !strncmp(chosen, "sqlite:", 7) ? chosen + 7 : chosen);
  char *id = NULL;
  if (app->opt.resume && (st = find_session(app, app->opt.resume_id, &id)) != HL_OK) return st;
  st = switch_to(app, id);
  app->resumed = id != NULL;
  free(id);
  return st;
}

void chat_sessions_free(chat_app *app) {
  hl_session_free(app->session);
  app->session = NULL;
  hl_store_close(app->store);
  app->store = NULL;
}

/* "Resumed conversation ID (N messages)" and, for a run the chatbot never
 * finished (it was killed), how to continue it. */
static void describe_current(chat_app *app, FILE *out, const char *verb) {
  const chat_ui *ui = &app->ui;
  size_t n = hl_session_messages(app->session)->count;
  fprintf(out, "%s%s conversation %s (%zu messages, kept in %s)%s\n", ui_dim(ui), verb,
          hl_session_id(app->session), n, app->store_desc, ui_reset(ui));
  char *pending = hl_session_unfinished_input(app->session);
  if (pending) {
    fprintf(out, "%sThe last question was never answered; ask it again to continue: %s%s\n",
            ui_dim(ui), pending, ui_reset(ui));
    hl_free(pending);
  }
}

void chat_sessions_banner(chat_app *app, FILE *out) {
  if (app->resumed) describe_current(app, out, "Resumed");
}

void chat_cmd_sessions(chat_app *app) {
  cJSON *list = NULL;
  if (hl_store_list(app->store, CHAT_APP_NAME, "user", &list) != HL_OK) {
    printf("%scannot list conversations: %s%s\n", ui_red(&app->ui), hl_last_error(), ui_reset(&app->ui));
    return;
  }
  printf("%s%d conversations%s in %s (most recent first):\n", ui_bold(&app->ui),
         cJSON_GetArraySize(list), ui_reset(&app->ui), app->store_desc);
  const cJSON *item;
  cJSON_ArrayForEach(item, list) {
    const char *id = hl_json_get_string(item, "id");
    const char *title = hl_json_get_string(item, "title");
    time_t t = (time_t)hl_json_get_number(item, "updated", 0);
    struct tm tm;
    char when[32] = "?";
    if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    double bytes = hl_json_get_number(item, "bytes", 0);
    bool current = id && !strcmp(id, hl_session_id(app->session));
    printf("%s %s  %s%.12s%s  %-40s %s(%d events, %.1f KB)%s\n", current ? "*" : " ", when,
           ui_cyan(&app->ui), id ? id : "?", ui_reset(&app->ui), title ? title : "(no question yet)",
           ui_dim(&app->ui), (int)hl_json_get_number(item, "version", 0), bytes / 1024.0,
           ui_reset(&app->ui));
  }
  printf("%s/resume ID continues one (the first characters of its id are enough); /new starts "
         "another.%s\n", ui_dim(&app->ui), ui_reset(&app->ui));
  cJSON_Delete(list);
}

void chat_cmd_resume(chat_app *app, const char *want) {
  if (!*want) {
    printf("usage: /resume ID (see /sessions)\n");
    return;
  }
  char *id = NULL;
  hl_status st = find_session(app, want, &id);
  if (st == HL_OK) st = switch_to(app, id);
  free(id);
  if (st != HL_OK) {
    printf("%s%s%s\n", ui_red(&app->ui), hl_last_error(), ui_reset(&app->ui));
    return;
  }
  hl_observer_collected_clear(app->collector);
  describe_current(app, stdout, "Resumed");
  chat_approval_pending(app); /* approval.c: ask now if it waits for approval */
}

void chat_cmd_new(chat_app *app) {
  if (switch_to(app, NULL) != HL_OK) {
    printf("%s%s%s\n", ui_red(&app->ui), hl_last_error(), ui_reset(&app->ui));
    return;
  }
  hl_observer_collected_clear(app->collector);
  printf("New conversation %s. /sessions lists the earlier ones.\n", hl_session_id(app->session));
}
