/*
 * mcp.c - the chatbot's MCP servers (--mcp URL, --mcp-stdio "command"):
 * connect each, in command-line order, and give its tools to the agent
 * (kept in sync when the server's list changes). A server that cannot be
 * reached stops the start with its message: a chat without the tools the
 * user asked for would only mislead.
 */
#include <stdio.h>

#include "chat.h"

/* The stdio server's stderr goes to the --log file, not the terminal. */
static int on_mcp_event(const hl_event *ev, void *user) {
  FILE *log = user;
  if (!log) return 0;
  if (ev->type == HL_EVENT_STDERR_WRITE) fprintf(log, "[mcp %s] %s\n", ev->name ? ev->name : "", ev->text);
  return 0;
}

hl_status chat_add_mcp(chat_app *app) {
  for (size_t i = 0; i < app->opt.n_mcp; i++) {
    const char *what = app->opt.mcp[i];
    hl_mcp *m = app->opt.mcp_stdio[i] ? hl_mcp_new_command(NULL, what) : hl_mcp_new_http(NULL, what);
    if (!m) return hl_fail(hl_last_status(), "MCP server %s: %s", what, hl_last_error());
    app->mcp[app->n_mcp++] = m;
    hl_observer *obs = hl_observer_new(on_mcp_event, app->log_file);
    if (obs) {
      hl_mcp_add_observer(m, obs);
      hl_observer_unref(obs);
    }
    hl_mcp_set_timeout_ms(m, 120000);
    hl_status st = hl_mcp_connect(m);
    if (st != HL_OK) return hl_fail(st, "%s", hl_mcp_errmsg(m));
    st = hl_mcp_add_to_agent(m, app->agent);
    if (st != HL_OK)
      return hl_fail(st, "MCP server %s: %s (two servers with the same tool name?)", hl_mcp_name(m),
                     hl_last_error());
  }
  return HL_OK;
}
