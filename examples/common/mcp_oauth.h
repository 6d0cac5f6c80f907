/*
 * examples/common/mcp_oauth.h - what an interactive program needs to sign
 * in to OAuth-protected MCP servers (hl_mcp_set_oauth() in hookline/mcp.h)
 * the native-app way (RFC 8252), shared by hookline-chat and hookline-mcp:
 *
 *  - loopback.c: a listener on 127.0.0.1 and a random port for the
 *    authorization server's redirect (redirect_uri
 *    http://127.0.0.1:PORT/callback); the authorize step prints the URL,
 *    opens a browser with xdg-open when there is a terminal and one, waits
 *    for the redirect within a time limit and answers the browser with a
 *    short page;
 *  - token_file.c: the token store, one JSON file of entries keyed by the
 *    server's URL under $XDG_CONFIG_HOME/hookline/ (else
 *    ~/.config/hookline/), mode 0600, so a second start does not ask.
 *
 * Kept in examples/ rather than the library: how to show a URL, whether to
 * start a browser and where tokens live are the application's choices; the
 * library's callbacks are the whole contract.
 *
 * Thread-safety: one ex_mcp_oauth serves several clients; its callbacks may
 * run on any thread (sign-ins are serialized, so are file writes).
 */
#ifndef EX_MCP_OAUTH_H
#define EX_MCP_OAUTH_H

#include <pthread.h>
#include <stdio.h>

#include "hookline.h"

typedef struct ex_mcp_oauth {
  int fd;                    /* the listening socket (-1: closed) */
  char redirect_uri[64];     /* http://127.0.0.1:PORT/callback */
  FILE *ui;                  /* where the sign-in URL is printed */
  long wait_ms;              /* how long a sign-in may take */
  pthread_mutex_t signin;    /* one sign-in at a time (one listener) */
  char token_path[4096];     /* the token file */
  pthread_mutex_t file;      /* its read-modify-write */
} ex_mcp_oauth;

/* Listen on 127.0.0.1 (a free port) and find the token file; `ui` gets the
 * sign-in URL and messages, a sign-in waits `wait_ms` at most. HL_OK, or
 * an error with its message (no socket, no HOME). */
hl_status ex_mcp_oauth_open(ex_mcp_oauth *o, FILE *ui, long wait_ms);
/* Close the listener (NULL or never opened fine). */
void ex_mcp_oauth_close(ex_mcp_oauth *o);
/* The options for hl_mcp_set_oauth() / hl_config_set_mcp_oauth():
 * redirect_uri, authorize, the token store, user_data = `o`. */
hl_mcp_oauth ex_mcp_oauth_options(ex_mcp_oauth *o);

/* loopback.c: the authorize step (hl_mcp_authorize_fn, user_data = the
 * ex_mcp_oauth). HL_ERR_TIMEOUT when no redirect came within wait_ms. */
hl_status ex_mcp_oauth_authorize(hl_mcp *mcp, const char *authorization_url, char **redirect, void *user);

/* token_file.c: the token store (hl_mcp_token_load_fn/_save_fn). */
hl_status ex_mcp_oauth_token_path(ex_mcp_oauth *o);
hl_status ex_mcp_oauth_load(hl_mcp *mcp, const char *server_url, char **stored, void *user);
void ex_mcp_oauth_save(hl_mcp *mcp, const char *server_url, const char *stored, void *user);

#endif
