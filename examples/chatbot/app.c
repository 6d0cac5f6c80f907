/*
 * app.c - build the chatbot's agent and run turns.
 *
 * The agent gets: the provider (provider.c), the tools (tools.c), hooks
 * (hooks.c), and two observers: a collecting one whose events are the
 * /trace of the last turn, and our own "watcher" that drives the status
 * line and records the tool calls for --json.
 */
#include "chat.h"
#include "tools.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *instruction =
    "You are hookline-chat, a friendly assistant running in a terminal. "
    "Use the calculator tool for every arithmetic question, even easy ones, "
    "and the clock tool whenever the date or time matters. "
    "Answer briefly; simple Markdown (**bold**, `code`) is shown nicely, tables are not.";

/* Append a streamed fragment to app->streamed (caller holds app->mu). */
static void streamed_append(chat_app *app, const char *text) {
  size_t n = strlen(text);
  if (app->streamed_len + n + 1 > app->streamed_cap) {
    size_t cap = app->streamed_cap ? app->streamed_cap : 256;
    while (cap < app->streamed_len + n + 1) cap *= 2;
    char *p = realloc(app->streamed, cap);
    if (!p) { /* without the copy, the replaced-answer check is skipped */
      app->streamed_lost = true;
      return;
    }
    app->streamed = p;
    app->streamed_cap = cap;
  }
  memcpy(app->streamed + app->streamed_len, text, n + 1);
  app->streamed_len += n;
}

static void on_token(const char *delta, void *user_data) {
  chat_app *app = user_data;
  if (!delta) return;
  pthread_mutex_lock(&app->mu);
  streamed_append(app, delta);
  pthread_mutex_unlock(&app->mu);
  /* After Ctrl-C nothing more of the answer is shown, even from a
   * provider that takes a while to notice the cancellation. */
  if (app->narrate && !atomic_load(&app->cancelled)) ui_answer_delta(&app->ui, delta);
}

/* One line of text for a tool line: JSON strings unquoted, newlines shown
 * as spaces, cut at `max` bytes (on a UTF-8 boundary). */
static void short_text(const cJSON *value, char *buf, size_t len, size_t max) {
  char *printed = NULL;
  const char *s;
  if (cJSON_IsString(value)) {
    s = value->valuestring;
  } else if (value && hl_json_print(value, &printed) == HL_OK) {
    s = printed;
  } else {
    s = "";
  }
  if (max >= len) max = len - 1;
  size_t i = 0, o = 0;
  while (s[i] && o < max) {
    char c = s[i++];
    buf[o++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  if (s[i]) { /* cut: back off to a character boundary and add an ellipsis */
    while (o > 0 && ((unsigned char)buf[o] & 0xC0) == 0x80) o--;
    if (o + 4 < len) {
      memcpy(buf + o, "...", 3);
      o += 3;
    }
  }
  buf[o] = '\0';
  hl_free(printed);
}

static void record_tool_end(chat_app *app, const hl_event *ev) {
  cJSON *rec = cJSON_CreateObject();
  if (!rec) return;
  cJSON_AddStringToObject(rec, "id", ev->call_id ? ev->call_id : "");
  cJSON_AddStringToObject(rec, "name", ev->name ? ev->name : "");
  hl_json_add(rec, "arguments", ev->args ? hl_json_clone(ev->args) : cJSON_CreateObject());
  if (ev->error.status == HL_OK) {
    hl_json_add(rec, "result", ev->result ? hl_json_clone(ev->result) : cJSON_CreateNull());
    cJSON_AddNullToObject(rec, "error");
  } else {
    cJSON_AddNullToObject(rec, "result");
    cJSON *err = cJSON_AddObjectToObject(rec, "error");
    cJSON_AddStringToObject(err, "status", hl_status_name(ev->error.status));
    cJSON_AddStringToObject(err, "message", ev->error.message ? ev->error.message : "");
  }
  pthread_mutex_lock(&app->mu);
  cJSON_AddItemToArray(app->tool_calls, rec);
  pthread_mutex_unlock(&app->mu);
}

/* A before_tool hook answered instead of the tool (allowlist, cache...):
 * remember it; the result itself arrives with TURN_END. */
static void remember_hook_answer(chat_app *app, const hl_event *ev) {
  cJSON *rec = cJSON_CreateObject();
  if (!rec) return;
  cJSON_AddStringToObject(rec, "call_id", ev->call_id ? ev->call_id : "");
  cJSON_AddStringToObject(rec, "hook", ev->name ? ev->name : "anonymous");
  hl_json_add(rec, "args", ev->args ? hl_json_clone(ev->args) : cJSON_CreateObject());
  pthread_mutex_lock(&app->mu);
  cJSON_AddItemToArray(app->hook_answers, rec);
  pthread_mutex_unlock(&app->mu);
}

/* TURN_END lists what every tool call of the turn gave the model; the
 * calls a hook answered had no TOOL_END, so they are recorded here. */
static void record_hook_answers(chat_app *app, const hl_event *ev) {
  const cJSON *item;
  cJSON_ArrayForEach(item, ev->data) {
    const char *id = hl_json_get_string(item, "call_id");
    pthread_mutex_lock(&app->mu);
    cJSON *found = NULL, *h;
    cJSON_ArrayForEach(h, app->hook_answers) {
      const char *hid = hl_json_get_string(h, "call_id");
      if (id && hid && strcmp(hid, id) == 0) found = h;
    }
    cJSON *rec = NULL;
    if (found) {
      rec = cJSON_CreateObject();
      cJSON_AddStringToObject(rec, "id", id);
      cJSON_AddStringToObject(rec, "name", hl_json_get_string(item, "tool") ? hl_json_get_string(item, "tool") : "");
      hl_json_add(rec, "arguments", hl_json_clone(hl_json_get(found, "args")));
      cJSON_AddStringToObject(rec, "result", hl_json_get_string(item, "content") ? hl_json_get_string(item, "content") : "");
      cJSON_AddNullToObject(rec, "error");
      cJSON_AddStringToObject(rec, "answered_by_hook", hl_json_get_string(found, "hook"));
      cJSON_AddItemToArray(app->tool_calls, rec);
    }
    pthread_mutex_unlock(&app->mu);
    if (rec && app->narrate) {
      char args[96], res[160];
      short_text(hl_json_get(rec, "arguments"), args, sizeof args, 60);
      short_text(hl_json_get(rec, "result"), res, sizeof res, 100);
      ui_note(&app->ui, "  %s %s %s %s %s (answered by hook %s; the tool did not run)",
              app->ui.utf8 ? "⚙" : "*", hl_json_get_string(rec, "name"), args,
              app->ui.utf8 ? "→" : "->", res, hl_json_get_string(rec, "answered_by_hook"));
    }
  }
}

static int on_event(const hl_event *ev, void *user_data) {
  chat_app *app = user_data;
  switch (ev->type) {
  case HL_EVENT_TURN_START:
    pthread_mutex_lock(&app->mu);
    app->streamed_len = 0;
    if (app->streamed) app->streamed[0] = '\0';
    app->turns++;
    pthread_mutex_unlock(&app->mu);
    break;
  case HL_EVENT_HOOK:
    if (ev->hook_point == HL_HOOK_BEFORE_TOOL && ev->hook_action == HL_HOOK_OVERRIDE)
      remember_hook_answer(app, ev);
    break;
  case HL_EVENT_TURN_END:
    record_hook_answers(app, ev);
    break;
  case HL_EVENT_CUSTOM: /* the guardrail plugin says so when it refuses an input */
    if (ev->name && strcmp(ev->name, "guardrail_blocked") == 0) atomic_store(&app->refused, true);
    break;
  case HL_EVENT_LM_START:
    if (app->narrate) ui_status(&app->ui, "thinking");
    break;
  case HL_EVENT_TOOL_START:
    if (app->narrate) {
      char status[96];
      snprintf(status, sizeof status, "running %s", ev->name ? ev->name : "a tool");
      ui_status(&app->ui, status);
    }
    break;
  case HL_EVENT_TOOL_END: {
    record_tool_end(app, ev);
    if (!app->narrate) break;
    char args[96], res[160];
    short_text(ev->args, args, sizeof args, 60);
    const char *arrow = app->ui.utf8 ? "→" : "->";
    const char *gear = app->ui.utf8 ? "⚙" : "*";
    if (ev->error.status == HL_OK) {
      short_text(ev->result, res, sizeof res, 100);
      ui_note(&app->ui, "  %s %s %s %s %s", gear, ev->name ? ev->name : "?", args, arrow, res);
    } else {
      ui_note(&app->ui, "  %s %s %s %s failed (%s): %.200s", gear, ev->name ? ev->name : "?", args,
              arrow, hl_status_name(ev->error.status), ev->error.message ? ev->error.message : "");
    }
    ui_status(&app->ui, "thinking");
    break;
  }
  default:
    break;
  }
  return 0;
}

hl_status chat_app_init(chat_app *app, bool interactive) {
  hl_status st;
  app->interactive = interactive;
  bool tty = isatty(STDOUT_FILENO);
  /* A person at a terminal sees -p's answer arrive as in the chat; piped,
   * -p prints the whole answer once (what a script reads), and --json
   * prints one object. --no-stream prints whole answers everywhere. */
  app->narrate = interactive || (tty && !app->opt.json && !app->opt.no_stream);
  pthread_mutex_init(&app->mu, NULL);
  app->tool_calls = cJSON_CreateArray();
  app->hook_answers = cJSON_CreateArray();
  if (!app->tool_calls || !app->hook_answers) return hl_fail(HL_ERR_NOMEM, "out of memory");

  app->agent = hl_agent_new("assistant");
  if (!app->agent) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  if ((st = hl_agent_set_instruction(app->agent, instruction)) != HL_OK) return st;
  if ((st = hl_agent_set_description(app->agent, "hookline-chat's assistant")) != HL_OK) return st;

  bool from_config = false;
  if ((st = chat_config_load(app)) != HL_OK) return st;
  if ((st = chat_config_provider(app, &from_config)) != HL_OK) return st;
  if (!from_config && (st = chat_make_provider(app)) != HL_OK) return st;
  if ((st = hl_agent_set_provider(app->agent, app->provider)) != HL_OK) return st;
  if (app->opt.model && (st = hl_agent_set_model(app->agent, app->opt.model)) != HL_OK) return st;

  if ((st = chat_add_tools(app->agent, &app->have_js)) != HL_OK) return st;
  if ((st = chat_config_agent(app)) != HL_OK) return st;
  if (app->offline && (st = chat_load_offline_script(app->provider, app->have_js)) != HL_OK)
    return st;
  if ((st = chat_add_hooks(app)) != HL_OK) return st;
  if ((st = chat_add_mcp(app)) != HL_OK) return st;
  if ((st = chat_add_otel(app)) != HL_OK) return st;
  if ((st = chat_config_plugins(app)) != HL_OK) return st;
  if ((st = chat_approval_init(app)) != HL_OK) return st;

  if (app->narrate && !app->opt.no_stream) {
    hl_agent_set_stream(app->agent, true);
    hl_agent_set_token_callback(app->agent, on_token, app);
  }

  app->collector = hl_observer_collecting();
  if (!app->collector) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  if ((st = hl_agent_add_observer(app->agent, app->collector)) != HL_OK) return st;
  app->watcher = hl_observer_new(on_event, app);
  if (!app->watcher) return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  if ((st = hl_agent_add_observer(app->agent, app->watcher)) != HL_OK) return st;

  if ((st = chat_sessions_init(app)) != HL_OK) return st;

  bool color = tty && !getenv("NO_COLOR") && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
  /* A narrated run draws its spinner among the answer's lines on the
   * terminal; a piped one-shot keeps stdout for the answer alone, and its
   * spinner goes to stderr when that is a terminal. */
  FILE *status_out = app->narrate ? (tty ? stdout : NULL) : (isatty(STDERR_FILENO) ? stderr : NULL);
  ui_init(&app->ui, stdout, status_out, color);
  app->ui_ready = true;
  /* A scripted model (the offline demo, --script) answers instantly; a
   * short pause per word lets a person see that answers really are
   * streamed, and gives Ctrl-C an answer to cancel. */
  if (strcmp(app->provider_name, "scripted") == 0 && app->narrate && tty)
    app->ui.typewriter_ms = 15;
  return HL_OK;
}

void chat_app_free(chat_app *app) {
  if (app->ui_ready) ui_destroy(&app->ui);
  hl_agent_unref(app->agent);
  for (size_t i = 0; i < app->n_mcp; i++) hl_mcp_free(app->mcp[i]);
  chat_free_otel(app);
  hl_observer_unref(app->collector);
  hl_observer_unref(app->watcher);
  hl_provider_unref(app->provider);
  chat_sessions_free(app);
  cJSON_Delete(app->tool_calls);
  cJSON_Delete(app->hook_answers);
  free(app->streamed);
  if (app->log_file) fclose(app->log_file);
  hl_config_free(app->config); /* after the agent: it owns the file's MCP connections */
  ex_mcp_oauth_close(&app->oauth); /* after the connections that sign in through it */
  pthread_mutex_destroy(&app->mu);
}

/* The per-turn records reset and the terminal made ready for a run. */
static void run_begin(chat_app *app) {
  pthread_mutex_lock(&app->mu);
  cJSON_Delete(app->tool_calls);
  app->tool_calls = cJSON_CreateArray();
  cJSON_Delete(app->hook_answers);
  app->hook_answers = cJSON_CreateArray();
  app->streamed_len = 0;
  app->streamed_lost = false;
  if (app->streamed) app->streamed[0] = '\0';
  app->turns = 0;
  pthread_mutex_unlock(&app->mu);
  hl_observer_collected_clear(app->collector);
  atomic_store(&app->cancelled, false);
  atomic_store(&app->refused, false);

  if (app->narrate) ui_turn_begin(&app->ui);
  ui_status(&app->ui, "thinking");
  if (app->narrate) chat_quiet_terminal();
  atomic_store(&app->running, true);
}

static void run_end(chat_app *app) {
  atomic_store(&app->running, false);
  ui_idle(&app->ui);
  chat_restore_terminal();
}

hl_status chat_app_run(chat_app *app, const char *input, char **answer) {
  run_begin(app);
  hl_status st = hl_agent_run(app->agent, app->session, input, answer);
  run_end(app);
  return st;
}

hl_status chat_app_resume(chat_app *app, const cJSON *state, const cJSON *decisions,
                          char **answer) {
  run_begin(app);
  hl_status st = hl_agent_resume(app->agent, app->session, state, decisions, answer);
  run_end(app);
  return st;
}

/* Compare ignoring surrounding whitespace (models and the streamed copy
 * may differ there). */
static bool differs(const char *a, const char *b) {
  while (isspace((unsigned char)*a)) a++;
  while (isspace((unsigned char)*b)) b++;
  size_t na = strlen(a), nb = strlen(b);
  while (na && isspace((unsigned char)a[na - 1])) na--;
  while (nb && isspace((unsigned char)b[nb - 1])) nb--;
  return na != nb || memcmp(a, b, na) != 0;
}

void chat_app_show_answer(chat_app *app, const char *answer) {
  pthread_mutex_lock(&app->mu);
  bool streamed = app->narrate && app->streamed_len > 0;
  bool replaced = streamed && answer && !app->streamed_lost && differs(app->streamed, answer);
  pthread_mutex_unlock(&app->mu);
  if (replaced) {
    ui_turn_end(&app->ui);
    ui_note(&app->ui, "(a hook replaced the answer:)");
  }
  if (!streamed || replaced) ui_answer_delta(&app->ui, answer ? answer : "");
  ui_turn_end(&app->ui);
}
