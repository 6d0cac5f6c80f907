/*
 * chat.h - the chatbot application object shared by its parts.
 *
 * Files and their jobs:
 *   main.c      entry point: parse options, set up, REPL or one-shot
 *   args.c      command-line options
 *   app.c       build the agent: provider, tools, hooks, observers
 *   provider.c  choose and configure the model provider
 *   offline.c   the offline demo model's built-in script
 *   tools.c     calculator and clock tools (calc.c does the arithmetic)
 *   hooks.c     the chatbot's own hooks (normalize-math, cap-tool-result)
 *   ui.c        terminal output: streamed text, spinner, tool lines
 *   cancel.c    Ctrl-C: signal handler -> self-pipe -> hl_agent_cancel();
 *               no ^C echoed into a streaming answer
 *   repl.c      the interactive loop (libedit)
 *   secrets.c   lines that look like they hold a secret (kept out of history)
 *   commands.c  slash commands
 *   trace.c     /trace: the hook and event trace of the last turn
 *   oneshot.c   -p and --json
 *   sessions.c  conversations kept in a store: --store, --resume, /sessions,
 *               /resume, /new
 *   otel.c      --otel: OpenTelemetry export
 *   config.c    --config FILE (MCP servers signing in with OAuth through
 *               examples/common/mcp_oauth.h)
 *   approval.c  --approve: tools whose calls wait for approval, the prompt,
 *               --approve-call / --deny-call
 */
#ifndef CHAT_CHAT_H
#define CHAT_CHAT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <hookline.h>

#include "args.h"
#include "mcp_oauth.h"
#include "ui.h"

typedef struct chat_app {
  chat_options opt;
  hl_agent *agent;
  hl_session *session;     /* the current conversation, written through `store` */
  hl_store *store;         /* sessions.c: --store URL or the default SQLite file */
  char store_desc[1000];   /* where conversations are kept, for messages */
  bool resumed;            /* --resume picked an earlier conversation */
  hl_provider *provider;
  hl_observer *collector;  /* every event of the last turn, for /trace */
  hl_observer *watcher;    /* our own observer: UI status and tool records */
  char provider_name[32];  /* "openai", "anthropic", "scripted" */
  char model_desc[256];    /* for the banner: "offline demo model", "gpt-4o-mini at ..." */
  bool offline;            /* the built-in offline demo script answers */
  bool have_js;            /* the JavaScript sandbox tool is available */
  hl_mcp *mcp[CHAT_MAX_MCP]; /* --mcp / --mcp-stdio servers, connected */
  size_t n_mcp;
  FILE *log_file;          /* --log */
  hl_otel *otel;           /* --otel / OTEL_EXPORTER_OTLP_ENDPOINT, or NULL */
  hl_config *config;       /* --config FILE, or NULL */
  chat_ui ui;
  bool ui_ready;           /* ui_init() ran */
  bool interactive;        /* REPL vs one-shot (-p) */
  bool narrate;            /* show the run as it goes: streamed text, tool lines,
                              spinner (the REPL; -p when stdout is a terminal) */

  /* Last run, filled by the watcher observer (locked: tools run in parallel). */
  pthread_mutex_t mu;
  cJSON *tool_calls;       /* [{id,name,arguments,result,error}] of the last run */
  cJSON *hook_answers;     /* before_tool overrides of this turn: [{call_id,hook,args}] */
  char *streamed;          /* text streamed during the current model turn */
  size_t streamed_len, streamed_cap;
  bool streamed_lost;      /* out of memory while copying the stream */
  int turns;

  atomic_bool running;     /* a run is in progress (cancel.c reads it) */
  atomic_bool cancelled;   /* Ctrl-C reached the current run */
  atomic_bool refused;     /* the input guardrail refused the current input */

  ex_mcp_oauth oauth;      /* the sign-in listener and token file, when an MCP
                              server may use OAuth (chat_open_oauth) */
  char oauth_error[256];   /* why it could not be opened */
} chat_app;

/* app.c */
/** Build everything from `app->opt`. On failure prints nothing, returns
 *  the status with a message in hl_last_error(). */
hl_status chat_app_init(chat_app *app, bool interactive);
void chat_app_free(chat_app *app);
/** Run one user turn. Resets the per-turn records first. */
hl_status chat_app_run(chat_app *app, const char *input, char **answer);
/** Resume the current conversation's interrupted run (approval.c). */
hl_status chat_app_resume(chat_app *app, const cJSON *state, const cJSON *decisions,
                          char **answer);
/** After a successful run, print what the user has not seen yet: the
 *  whole answer when nothing was streamed, or, when a hook replaced the
 *  streamed answer, a note and the new answer. Ends the answer's line. */
void chat_app_show_answer(chat_app *app, const char *answer);
/** Print the welcome banner (what model, how to connect a real one). */
void chat_app_banner(chat_app *app, FILE *out);

/* provider.c */
/** Choose a provider from options and environment. */
hl_status chat_make_provider(chat_app *app);

/* offline.c */
/** Load the offline demo script into a scripted provider. */
hl_status chat_load_offline_script(hl_provider *scripted, bool have_js);
/** Example prompts the offline model understands (NULL-terminated). */
extern const char *const chat_offline_examples[];

/* hooks.c */
/** Register the plugins asked for on the command line and the chatbot's
 *  own hooks on the agent. */
hl_status chat_add_hooks(chat_app *app);

/* cancel.c */
/** Install the SIGINT handler and the watcher thread that cancels runs. */
int chat_cancel_init(chat_app *app);
void chat_cancel_shutdown(void);
/** While a run streams: no echo of ^C or of keys typed ahead on the
 *  controlling terminal (if it is in the foreground). Main thread only. */
void chat_quiet_terminal(void);
/** Put back the terminal settings chat_quiet_terminal() changed. */
void chat_restore_terminal(void);

/* secrets.c */
/** True when `line` looks like it holds a credential: an API key (sk-...,
 *  sk-ant-..., AIza..., ghp_..., AKIA...), "Bearer <token>", or a long hex
 *  or base64 token. Pure function, thread-safe. */
bool chat_looks_secret(const char *line);

/* repl.c */
int chat_repl(chat_app *app);

/* commands.c */
typedef enum { CMD_CONTINUE, CMD_QUIT } cmd_result;
/** Execute a line starting with '/'. */
cmd_result chat_command(chat_app *app, const char *line);
/** Names of the slash commands (NULL-terminated), for completion. */
extern const char *const chat_command_names[];

/* trace.c */
/** Print the readable trace of `events` (a JSON array from the collecting
 *  observer). */
void chat_print_trace(chat_app *app, const cJSON *events, FILE *out);
/** `/trace json`: print `events` in full, whole numbers (time_ns) as
 *  integers rather than in exponent form. Rewrites number items of
 *  `events` in place; the caller still owns and frees it. */
void chat_print_trace_json(cJSON *events, FILE *out);

/* oneshot.c */
int chat_oneshot(chat_app *app);

/* mcp.c: connect the --mcp / --mcp-stdio servers and add their tools. */
hl_status chat_add_mcp(chat_app *app);
/* How long the user has to sign in to an MCP server in the browser. */
#define CHAT_SIGN_IN_MS (5 * 60 * 1000)
/* Open app->oauth (the sign-in listener, the token file) unless open. */
hl_status chat_open_oauth(chat_app *app);

/* sessions.c */
/** Open the store (--store URL, else the default SQLite file, else memory
 *  with a warning) and the conversation (--resume [ID], else a new one). */
hl_status chat_sessions_init(chat_app *app);
/** Free the conversation, then close the store. */
void chat_sessions_free(chat_app *app);
/** For the banner: which conversation was resumed. */
void chat_sessions_banner(chat_app *app, FILE *out);
void chat_cmd_sessions(chat_app *app);
void chat_cmd_resume(chat_app *app, const char *id);
void chat_cmd_new(chat_app *app);
/* otel.c */
/** --otel URL or OTEL_EXPORTER_OTLP_ENDPOINT: export the agent's runs. */
hl_status chat_add_otel(chat_app *app);
/** Flush (bounded) and stop the export; nothing when there is none. */
void chat_free_otel(chat_app *app);
/* approval.c */
/** Exit status of a one-shot run that stopped for approval. */
#define CHAT_EXIT_APPROVAL 3
/** Mark the tools matching --approve (after every tool is added). */
hl_status chat_approval_init(chat_app *app);
/** True when the command line gives decisions (a one-shot resume). */
bool chat_approval_oneshot(const chat_options *opt);
/** After a run returned HL_INTERRUPTED: ask for each waiting call and
 *  resume, until the run ends; HL_INTERRUPTED when the person left a
 *  decision for later (the run stays stored with the conversation). */
hl_status chat_approval_resolve(chat_app *app, char **answer);
/** The REPL on a conversation that waits for approval (--resume,
 *  /resume): ask now and show the answer. Nothing when none waits. */
void chat_approval_pending(chat_app *app);
/** One-shot: resume with the decisions of the command line;
 *  HL_INTERRUPTED when a waiting call has none. */
hl_status chat_approval_decided(chat_app *app, char **answer);
/** One-shot: print the waiting calls (JSON with --json); returns
 *  CHAT_EXIT_APPROVAL. */
int chat_approval_print_pending(chat_app *app);
/* config.c: --config FILE, applied in steps of chat_app_init(). */
/** Load and validate the file (nothing without --config). */
hl_status chat_config_load(chat_app *app);
/** The file's provider when no flag chose one; *made tells if it did. */
hl_status chat_config_provider(chat_app *app, bool *made);
/** Model, instruction and the tools to keep. */
hl_status chat_config_agent(chat_app *app);
/** Plugins (after the chatbot's own hooks) and MCP servers. */
hl_status chat_config_plugins(chat_app *app);

#endif
