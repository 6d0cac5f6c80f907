/*
 * mcp.c - the chatbot's MCP servers (--mcp URL, --mcp-stdio "command"):
 * connect each, in command-line order, and give its tools to the agent
 * (kept in sync when the server's list changes). A server that cannot be
 * reached stops the start with its message: a chat without the tools the
 * user asked for would only mislead.
 *
 * A --mcp URL server that answers 401 with an OAuth challenge gets the
 * sign-in a config entry with "oauth": {} gets (config.c): the URL on
 * stderr, the redirect on the loopback listener, tokens in the user's
 * token file; nothing happens until a server asks.
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

/* The sign-in listener and token file, opened once for every server that
 * may need them (examples/common/mcp_oauth.h). A failed open is kept:
 * later servers get its message again. */
hl_status chat_open_oauth(chat_app *app) {
  if (!app->oauth.ui) {
    if (ex_mcp_oauth_open(&app->oauth, stderr, CHAT_SIGN_IN_MS) == HL_OK) return HL_OK;
    snprintf(app->oauth_error, sizeof app->oauth_error, "%s", hl_last_error());
  }
  return app->oauth.fd >= 0 ? HL_OK : hl_fail(HL_ERR_IO, "%s", app->oauth_error);
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
    /* Without a listener or a token file (no HOME), the server is still
     * connected: only one that asks for OAuth then fails, with its 401. */
    if (!app->opt.mcp_stdio[i] && chat_open_oauth(app) == HL_OK) {
      hl_mcp_oauth o = ex_mcp_oauth_options(&app->oauth);
      o.client_name = "hookline-chat";
      if (hl_mcp_set_oauth(m, &o) != HL_OK)
        return hl_fail(hl_last_status(), "MCP server %s: %s", what, hl_last_error());
    } else if (!app->opt.mcp_stdio[i] && app->log_file) {
      fprintf(app->log_file, "[mcp %s] no OAuth sign-in: %s\n", what, hl_last_error());
    }
    hl_status st = hl_mcp_connect(m);
    if (st != HL_OK) return hl_fail(st, "%s", hl_mcp_errmsg(m));
    st = hl_mcp_add_to_agent(m, app->agent);
    if (st != HL_OK)
      return hl_fail(st, "MCP server %s: %s (two servers with the same tool name?)", hl_mcp_name(m),
                     hl_last_error());
  }
  return HL_OK;
}
