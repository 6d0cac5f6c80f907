/*
 * args.c - parse hookline-chat's command line.
 *
 * Hand-written rather than getopt_long so that "--opt=value" and
 * "--opt value" both work with clear messages, and so that parsing has no
 * global state (tests could call it twice).
 */
#include "args.h"

#include <stdio.h>
#include <string.h>

typedef enum { OPT_FLAG, OPT_VALUE } opt_kind;

typedef struct opt_spec {
  const char *long_name;
  char short_name;
  opt_kind kind;
  size_t offset; /* of the const char * or bool field in chat_options */
} opt_spec;

#define FIELD(f) offsetof(chat_options, f)

static const opt_spec specs[] = {
    {"provider", 0, OPT_VALUE, FIELD(provider)},
    {"model", 'm', OPT_VALUE, FIELD(model)},
    {"base-url", 0, OPT_VALUE, FIELD(base_url)},
    {"log", 0, OPT_VALUE, FIELD(log_path)},
    {"allow-tools", 0, OPT_VALUE, FIELD(allow_tools)},
    {"prompt", 'p', OPT_VALUE, FIELD(prompt)},
    {"script", 0, OPT_VALUE, FIELD(script_path)},
    {"store", 0, OPT_VALUE, FIELD(store)},
    {"otel", 0, OPT_VALUE, FIELD(otel_url)},
    {"config", 0, OPT_VALUE, FIELD(config_path)},
    {"json", 0, OPT_FLAG, FIELD(json)},
    {"no-stream", 0, OPT_FLAG, FIELD(no_stream)},
    {"help", 'h', OPT_FLAG, FIELD(help)},
    {"version", 'V', OPT_FLAG, FIELD(version)},
};

static const opt_spec *find_long(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
    if (strlen(specs[i].long_name) == len && strncmp(specs[i].long_name, name, len) == 0)
      return &specs[i];
  return NULL;
}

static const opt_spec *find_short(char c) {
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
    if (specs[i].short_name && specs[i].short_name == c) return &specs[i];
  return NULL;
}

/* --resume, --resume=ID or --resume ID (the next word, unless it is an
 * option): its value is optional. Returns true if argv[*i] was it. */
static bool parse_resume(int argc, char **argv, int *i, chat_options *opt) {
  const char *arg = argv[*i];
  if (strcmp(arg, "--resume") != 0 && strncmp(arg, "--resume=", 9) != 0) return false;
  opt->resume = true;
  if (arg[8] == '=') opt->resume_id = arg[9] ? arg + 9 : NULL;
  else if (*i + 1 < argc && argv[*i + 1][0] != '-') opt->resume_id = argv[++*i];
  return true;
}

int chat_parse_args(int argc, char **argv, chat_options *opt, char *err, size_t errlen) {
  memset(opt, 0, sizeof *opt);
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (parse_resume(argc, argv, &i, opt)) continue;
    int approval = chat_parse_approval_arg(argc, argv, &i, opt, err, errlen);
    if (approval < 0) return -1;
    if (approval) continue;
    const opt_spec *spec = NULL;
    const char *inline_value = NULL;
    /* --mcp and --mcp-stdio repeat: each adds a server. */
    bool mcp_url = strcmp(arg, "--mcp") == 0 || strncmp(arg, "--mcp=", 6) == 0;
    bool mcp_cmd = strcmp(arg, "--mcp-stdio") == 0 || strncmp(arg, "--mcp-stdio=", 12) == 0;
    if (mcp_url || mcp_cmd) {
      const char *value = strchr(arg, '=');
      if (value) value++;
      else if (i + 1 < argc) value = argv[++i];
      if (!value || !*value) {
        snprintf(err, errlen, "option '%s' needs a value", mcp_url ? "--mcp" : "--mcp-stdio");
        return -1;
      }
      if (opt->n_mcp == CHAT_MAX_MCP) {
        snprintf(err, errlen, "at most %d MCP servers", CHAT_MAX_MCP);
        return -1;
      }
      if (mcp_url && strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) {
        snprintf(err, errlen, "--mcp needs an http:// or https:// URL (use --mcp-stdio for a command): '%s'",
                 value);
        return -1;
      }
      opt->mcp[opt->n_mcp] = value;
      opt->mcp_stdio[opt->n_mcp++] = mcp_cmd;
      continue;
    }
    if (strncmp(arg, "--", 2) == 0 && arg[2]) {
      const char *name = arg + 2;
      const char *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      spec = find_long(name, len);
      if (!spec) {
        snprintf(err, errlen, "unknown option '--%.*s' (try --help)", (int)len, name);
        return -1;
      }
      if (eq) inline_value = eq + 1;
    } else if (arg[0] == '-' && arg[1] && !arg[2]) {
      spec = find_short(arg[1]);
      if (!spec) {
        snprintf(err, errlen, "unknown option '%s' (try --help)", arg);
        return -1;
      }
    } else {
      snprintf(err, errlen, "unexpected argument '%s' (a question goes after -p)", arg);
      return -1;
    }

    char *field = (char *)opt + spec->offset;
    if (spec->kind == OPT_FLAG) {
      if (inline_value) {
        snprintf(err, errlen, "option '--%s' takes no value", spec->long_name);
        return -1;
      }
      *(bool *)(void *)field = true;
      continue;
    }
    const char *value = inline_value;
    if (!value) {
      if (i + 1 >= argc) {
        snprintf(err, errlen, "option '%s' needs a value", arg);
        return -1;
      }
      value = argv[++i];
    }
    *(const char **)(void *)field = value;
  }

  static const char *const providers[] = {"openai", "responses", "openai-responses",
                                           "anthropic", "gemini", "scripted"};
  bool known = !opt->provider;
  for (size_t k = 0; !known && k < sizeof providers / sizeof *providers; k++)
    known = strcmp(opt->provider, providers[k]) == 0;
  if (!known) {
    snprintf(err, errlen,
             "unknown provider '%s': use openai, responses, anthropic, gemini or scripted",
             opt->provider);
    return -1;
  }
  if (chat_check_approval_args(opt, err, errlen) != 0) return -1;
  if (opt->json && !opt->prompt && !opt->n_decisions) {
    snprintf(err, errlen, "--json needs a question: hookline-chat -p \"...\" --json");
    return -1;
  }
  if (opt->otel_url && strncmp(opt->otel_url, "http://", 7) != 0 &&
      strncmp(opt->otel_url, "https://", 8) != 0) {
    snprintf(err, errlen, "--otel needs the collector's http:// or https:// URL, e.g. http://localhost:4318: '%s'",
             opt->otel_url);
    return -1;
  }
  if (opt->prompt && !opt->prompt[0]) {
    snprintf(err, errlen, "-p needs a non-empty question");
    return -1;
  }
  return 0;
}

void chat_print_usage(const char *argv0) {
  printf(
      "hookline-chat - a chatbot built on hookline (agent loop, tools, hooks)\n"
      "\n"
      "Usage:\n"
      "  %s [options]                 interactive chat\n"
      "  %s -p \"question\" [--json]    answer one question and exit\n"
      "\n"
      "Model:\n"
      "  --provider NAME     openai (Chat Completions), responses (OpenAI Responses),\n"
      "                      anthropic, gemini or scripted (offline demo model)\n"
      "  -m, --model NAME    model name (default: the provider's)\n"
      "  --base-url URL      OpenAI-compatible server, e.g. Ollama:\n"
      "                      --base-url http://localhost:11434/v1 --model llama3.2\n"
      "  With OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY (GOOGLE_API_KEY)\n"
      "  set, that provider is used (in that order); with none of them (and no\n"
      "  flags) the offline demo model answers.\n"
      "\n"
      "Tools and hooks:\n"
      "  --config FILE       a hookline config file (JSON): provider, model, instruction,\n"
      "                      tools, plugins by name or .so path, MCP servers, and\n"
      "                      \"approve\": [NAME, ...] (as --approve)\n"
      "  --log FILE          log every hook and event of every run to FILE\n"
      "  --allow-tools a,b   only these tools may run (others are refused)\n"
      "  --mcp URL           add the tools of an MCP server (Streamable HTTP; repeatable;\n"
      "                      OAuth sign-in in the browser when the server asks for it)\n"
      "  --mcp-stdio \"CMD\"   add the tools of an MCP server started as CMD (stdio; repeatable)\n"
      "  --otel URL          send OpenTelemetry traces and metrics to an OTLP/HTTP collector\n"
      "                      (also when OTEL_EXPORTER_OTLP_ENDPOINT is set)\n"
      "  --approve NAME      calls of this tool (a name or a glob such as 'mcp_*'; repeatable)\n"
      "                      wait for your approval: approve, reject with a reason, or edit\n"
      "                      the arguments. With -p the run stops and exits 3, printing the\n"
      "                      waiting calls; continue it with\n"
      "  --approve-call ID   with --resume ID (no -p): approve that waiting call (repeatable)\n"
      "  --deny-call ID[:REASON]  reject it; the model sees REASON\n"
      "\n"
      "Conversations:\n"
      "  --store URL         where conversations are kept: sqlite:PATH, postgresql://...,\n"
      "                      redis://HOST:PORT or memory: (default: an SQLite file in\n"
      "                      $XDG_DATA_HOME/hookline/, else ~/.local/share/hookline/)\n"
      "  --resume [ID]       continue a saved conversation (the last one without ID;\n"
      "                      the first characters of an ID are enough)\n"
      "\n"
      "Output:\n"
      "  -p, --prompt TEXT   one-shot: print the answer on stdout, exit 0; on a\n"
      "                      terminal it streams as it arrives (with the tool\n"
      "                      lines), to a pipe or file it is printed whole at the end\n"
      "  --json              with -p: answer, tool calls and usage as JSON (never streams)\n"
      "  --no-stream         print answers whole instead of token by token\n"
      "  -h, --help          this text\n"
      "  -V, --version       version\n"
      "\n"
      "In the chat, type /help for commands. Ctrl-C cancels an answer,\n"
      "Ctrl-D or /quit leaves.\n",
      argv0, argv0);
}
