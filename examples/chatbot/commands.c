/*
 * commands.c - the slash commands of the REPL.
 */
#include "chat.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const chat_command_names[] = {
    "/help", "/tools", "/hooks", "/trace", "/reset", "/save", "/sessions", "/resume", "/new",
    "/quit", "/exit", NULL,
};

static void cmd_help(chat_app *app) {
  const chat_ui *ui = &app->ui;
  printf("%sCommands%s\n"
         "  /help          this list\n"
         "  /tools         the tools the model can call\n"
         "  /hooks         the hook chains, in the order they run\n"
         "  /trace [json]  every hook and event of the last turn (json: in full)\n"
         "  /reset         forget the conversation\n"
         "  /save FILE     write the conversation to FILE as JSON\n"
         "  /sessions      the saved conversations (date, title, size)\n"
         "  /resume ID     continue a saved conversation\n"
         "  /new           start a new conversation (the current one stays saved)\n"
         "  /quit          leave (Ctrl-D works too)\n"
         "%sCtrl-C cancels an answer in progress; arrows browse history; Tab completes commands;\n"
         "a line ending in \\ continues on the next one.%s\n",
         ui_bold(ui), ui_reset(ui), ui_dim(ui), ui_reset(ui));
}

static void cmd_tools(chat_app *app) {
  hl_tools *tools = hl_agent_tools(app->agent);
  size_t n = hl_tools_count(tools);
  printf("%s%zu tools%s the model can call:\n", ui_bold(&app->ui), n, ui_reset(&app->ui));
  for (size_t i = 0; i < n; i++) {
    hl_tool *t = hl_tools_at(tools, i);
    printf("  %s%s%s(", ui_cyan(&app->ui), hl_tool_name(t), ui_reset(&app->ui));
    const cJSON *schema = hl_tool_schema(t);
    const cJSON *props = hl_json_get(schema, "properties");
    const cJSON *required = hl_json_get(schema, "required");
    const cJSON *p;
    bool first = true;
    cJSON_ArrayForEach(p, props) {
      bool req = false;
      const cJSON *r;
      cJSON_ArrayForEach(r, required) if (cJSON_IsString(r) && strcmp(r->valuestring, p->string) == 0)
          req = true;
      const char *type = hl_json_get_string(p, "type");
      printf("%s%s%s: %s", first ? "" : ", ", p->string, req ? "" : "?", type ? type : "any");
      first = false;
    }
    /* The source column: which MCP server a tool comes from. */
    const char *server = hl_mcp_tool_server(t);
    printf(")  %s[%s%s]%s\n    %s%s%s\n", ui_dim(&app->ui), server ? "mcp: " : "", server ? server : "built-in",
           ui_reset(&app->ui), ui_dim(&app->ui), hl_tool_description(t) ? hl_tool_description(t) : "",
           ui_reset(&app->ui));
  }
  if (app->opt.allow_tools)
    printf("Only these may run (--allow-tools): %s\n", app->opt.allow_tools);
  if (!app->have_js)
    printf("%s(no JavaScript tool: this build of hookline has no sandbox)%s\n", ui_dim(&app->ui),
           ui_reset(&app->ui));
}

static void cmd_hooks(chat_app *app) {
  hl_hooks *global = hl_hooks_global();
  hl_hooks *own = hl_agent_hooks(app->agent);
  printf("%sHooks%s in the order they run at each point (global chain, then the agent's):\n",
         ui_bold(&app->ui), ui_reset(&app->ui));
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    printf("  %s%-13s%s", ui_cyan(&app->ui), hl_hook_point_name((hl_hook_point)p), ui_reset(&app->ui));
    size_t ng = hl_hooks_count(global, (hl_hook_point)p);
    size_t na = hl_hooks_count(own, (hl_hook_point)p);
    if (ng + na == 0) printf("%s(none)%s", ui_dim(&app->ui), ui_reset(&app->ui));
    for (size_t i = 0; i < ng + na; i++) {
      const char *name = i < ng ? hl_hooks_name_at(global, (hl_hook_point)p, i)
                                : hl_hooks_name_at(own, (hl_hook_point)p, i - ng);
      printf("%s%s%s", i ? " -> " : "", name ? name : "anonymous", i < ng ? " (global)" : "");
    }
    putchar('\n');
  }
  printf("%sguardrail keeps messages with secrets from the model; normalize-math rewrites "
         "\"12 x 7\" for the calculator; cap-tool-result cuts huge tool results.%s\n",
         ui_dim(&app->ui), ui_reset(&app->ui));
}

static void cmd_trace(chat_app *app, const char *arg) {
  cJSON *events = hl_observer_collected(app->collector);
  if (!events) {
    printf("no trace available: %s\n", hl_last_error());
    return;
  }
  if (strcmp(arg, "json") == 0) { /* every event in full, as the observer kept it */
    chat_print_trace_json(events, stdout);
  } else {
    chat_print_trace(app, events, stdout);
  }
  cJSON_Delete(events);
}

static void cmd_reset(chat_app *app) {
  if (hl_session_reset(app->session) != HL_OK) {
    printf("Not reset: %s\n", hl_last_error());
    return;
  }
  hl_observer_collected_clear(app->collector);
  printf("Conversation forgotten. Tools and hooks stay as they are.\n");
}

static void cmd_save(chat_app *app, const char *path) {
  if (!*path) {
    printf("usage: /save FILE\n");
    return;
  }
  cJSON *json = hl_session_to_json(app->session);
  char *text = json ? cJSON_Print(json) : NULL;
  cJSON_Delete(json);
  if (!text) {
    printf("%scannot save: %s%s\n", ui_red(&app->ui), hl_last_error(), ui_reset(&app->ui));
    return;
  }
  FILE *f = fopen(path, "w");
  bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
  if (f && fclose(f) != 0) ok = false;
  if (ok)
    printf("Saved %zu messages to %s\n", hl_session_messages(app->session)->count, path);
  else
    printf("%scannot write %s: %s%s\n", ui_red(&app->ui), path, strerror(errno), ui_reset(&app->ui));
  free(text);
}

cmd_result chat_command(chat_app *app, const char *line) {
  /* Split "/name rest": the command word and its argument, trimmed. */
  size_t n = strcspn(line, " \t");
  const char *arg = line + n;
  while (isspace((unsigned char)*arg)) arg++;
  char name[32];
  snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), line);

  if (!strcmp(name, "/help") || !strcmp(name, "/?")) {
    cmd_help(app);
  } else if (!strcmp(name, "/tools")) {
    cmd_tools(app);
  } else if (!strcmp(name, "/hooks")) {
    cmd_hooks(app);
  } else if (!strcmp(name, "/trace")) {
    cmd_trace(app, arg);
  } else if (!strcmp(name, "/reset")) {
    cmd_reset(app);
  } else if (!strcmp(name, "/save")) {
    cmd_save(app, arg);
  } else if (!strcmp(name, "/sessions")) {
    chat_cmd_sessions(app);
  } else if (!strcmp(name, "/resume")) {
    chat_cmd_resume(app, arg);
  } else if (!strcmp(name, "/new")) {
    chat_cmd_new(app);
  } else if (!strcmp(name, "/quit") || !strcmp(name, "/exit")) {
    return CMD_QUIT;
  } else {
    printf("unknown command %s: /help lists the commands\n", name);
  }
  fflush(stdout);
  return CMD_CONTINUE;
}
