/*
 * args.h - command-line options of hookline-chat.
 */
#ifndef CHAT_ARGS_H
#define CHAT_ARGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct chat_options {
  const char *provider;     /* "openai", "anthropic", "scripted" or NULL: decide */
  const char *model;        /* model name or NULL: provider default */
  const char *base_url;     /* OpenAI-compatible server (Ollama, vLLM, ...) */
  const char *log_path;     /* --log FILE */
  const char *allow_tools;  /* --allow-tools a,b (comma separated) */
  const char *prompt;       /* -p: one-shot question */
  const char *script_path;  /* hidden --script FILE: scripted model from JSON */
  const char *config_path;  /* --config FILE: hookline configuration file */
  /* --mcp URL / --mcp-stdio "command" (repeatable, in command-line order) */
#define CHAT_MAX_MCP 16
  const char *mcp[CHAT_MAX_MCP];
  bool mcp_stdio[CHAT_MAX_MCP];
  size_t n_mcp;
  const char *store;        /* --store URL: where conversations are kept */
  bool resume;              /* --resume [ID]: continue a saved conversation */
  const char *resume_id;    /* its ID (or a prefix); NULL: the last one */
  const char *otel_url;     /* --otel URL: OTLP/HTTP collector (otel.c) */
  /* approval.c: --approve NAME|GLOB (repeatable); --approve-call ID and
   * --deny-call ID[:REASON] (repeatable, in order; decision_deny tells which) */
#define CHAT_MAX_APPROVE 32
  const char *approve[CHAT_MAX_APPROVE];
  size_t n_approve;
  const char *decision[CHAT_MAX_APPROVE];
  bool decision_deny[CHAT_MAX_APPROVE];
  size_t n_decisions;
  bool json;                /* --json: one-shot answer as JSON */
  bool no_stream;           /* --no-stream: print whole answers */
  bool help;
  bool version;
} chat_options;

/** Parse argv. Returns 0 on success, or -1 after writing a message naming
 *  the bad option to `err`. argv strings are borrowed (they live as long as
 *  the process). */
int chat_parse_args(int argc, char **argv, chat_options *opt, char *err, size_t errlen);

/** approval.c: if argv[*i] is --approve, --approve-call or --deny-call,
 *  record it (advancing *i past its value) and return 1; 0 if it is
 *  another option; -1 with a message in `err`. */
int chat_parse_approval_arg(int argc, char **argv, int *i, chat_options *opt, char *err,
                            size_t errlen);
/** approval.c: the decision flags need --resume ID and no -p. 0 or -1. */
int chat_check_approval_args(const chat_options *opt, char *err, size_t errlen);

/** The --help text. */
void chat_print_usage(const char *argv0);

#endif
