/*
 * examples/mcp/hookline-mcp.c - a small command-line MCP client, to try a
 * server by hand or from scripts:
 *
 *   hookline-mcp [--list | --call NAME [--args JSON]] [options] SERVER
 *   hookline-mcp [--list | --call NAME [--args JSON]] [options] --stdio "command line"
 *
 * SERVER is an http(s):// URL (Streamable HTTP). Prints JSON on stdout:
 * --list (the default) the server's tools as it sent them, --call the
 * tool's result as it sent it. Exit 0 on success, 1 when the tool
 * reported an error (isError or a JSON-RPC error), 2 on a usage,
 * protocol or connection failure, with a one-line message on stderr.
 * --oauth signs in to a server that wants OAuth: the authorization URL
 * goes to stderr, the browser's redirect comes back to a listener on
 * 127.0.0.1, the tokens are kept for the next run in the user's token
 * file (examples/common/mcp_oauth.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "mcp_oauth.h"

static void usage(FILE *to) {
  fputs("usage: hookline-mcp [--list | --call NAME [--args JSON]] [options] SERVER\n"
        "       hookline-mcp [--list | --call NAME [--args JSON]] [options] --stdio \"command line\"\n"
        "SERVER is an http(s):// URL of a Streamable HTTP endpoint.\n"
        "options:\n"
        "  --header \"Name: value\"  extra HTTP header (repeatable; e.g. authorization)\n"
        "  --timeout MS            time limit of each request (default 60000)\n"
        "  --oauth                 sign in with OAuth if the server asks (URL on stderr; tokens kept\n"
        "                          in ~/.config/hookline/mcp-tokens.json)\n"
        "  --verbose               show the stdio server's stderr and log messages on stderr\n"
        "exit status: 0 success, 1 the tool reported an error, 2 usage/protocol/connection failure\n",
        to);
}

static int fail(const char *what, const char *msg) {
  /* One line: newlines in server messages would break it. */
  fprintf(stderr, "hookline-mcp: %s", what);
  if (msg && *msg) {
    fputs(": ", stderr);
    for (const char *c = msg; *c; c++) fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
  }
  fputc('\n', stderr);
  return 2;
}

static int on_event(const hl_event *ev, void *user) {
  (void)user;
  if (ev->type == HL_EVENT_STDERR_WRITE) {
    fprintf(stderr, "[%s] %s\n", ev->name ? ev->name : "server", ev->text ? ev->text : "");
  } else if (ev->type == HL_EVENT_CUSTOM && ev->data) {
    char *j = cJSON_PrintUnformatted(ev->data);
    fprintf(stderr, "[%s] %s\n", ev->name, j ? j : "");
    free(j);
  }
  return 0;
}

static void print_json(const cJSON *v) {
  char *s = cJSON_Print(v);
  if (s) puts(s);
  free(s);
}

int main(int argc, char **argv) {
  const char *call = NULL, *args_text = NULL, *stdio_cmd = NULL, *url = NULL;
  const char *headers[32];
  int n_headers = 0;
  unsigned timeout = 60000;
  int verbose = 0, oauth = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_next = i + 1 < argc;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--list") == 0) {
      call = NULL;
    } else if (strcmp(a, "--call") == 0 && has_next) {
      call = argv[++i];
    } else if (strcmp(a, "--args") == 0 && has_next) {
      args_text = argv[++i];
    } else if (strcmp(a, "--stdio") == 0 && has_next) {
      stdio_cmd = argv[++i];
    } else if (strcmp(a, "--header") == 0 && has_next) {
      if (n_headers == 32) return fail("too many --header options", NULL);
      headers[n_headers++] = argv[++i];
    } else if (strcmp(a, "--timeout") == 0 && has_next) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 0) return fail("--timeout needs milliseconds", argv[i]);
      timeout = (unsigned)v;
    } else if (strcmp(a, "--oauth") == 0) {
      oauth = 1;
    } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
      verbose = 1;
    } else if (a[0] == '-' ) {
      return fail("unknown option or missing value (see --help)", a);
    } else if (i == argc - 1) {
      url = a;
    } else {
      return fail("SERVER must be the last argument (see --help)", a);
    }
  }
  if (!!url == !!stdio_cmd) {
    return fail(url ? "give either SERVER or --stdio, not both (see --help)"
                    : "no server: give a URL or --stdio (see --help)", NULL);
  }
  if (args_text && !call) return fail("--args needs --call", NULL);
  if (oauth && !url) return fail("--oauth is for a server at a URL", NULL);
  cJSON *args = NULL;
  if (args_text) {
    args = cJSON_Parse(args_text);
    if (!cJSON_IsObject(args)) {
      cJSON_Delete(args);
      return fail("--args must be a JSON object", args_text);
    }
  }

  hl_mcp *m = url ? hl_mcp_new_http(NULL, url) : hl_mcp_new_command(NULL, stdio_cmd);
  if (!m) {
    cJSON_Delete(args);
    return fail("bad server", hl_last_error());
  }
  hl_mcp_set_timeout_ms(m, timeout);
  for (int i = 0; i < n_headers; i++)
    if (hl_mcp_add_header(m, headers[i]) != HL_OK) {
      cJSON_Delete(args);
      hl_mcp_free(m);
      return fail("bad --header", hl_last_error());
    }
  /* Five minutes to sign in; the listener closes after the client. */
  ex_mcp_oauth signin = {0};
  if (oauth) {
    hl_status st = ex_mcp_oauth_open(&signin, stderr, 5 * 60 * 1000);
    if (st == HL_OK) {
      hl_mcp_oauth o = ex_mcp_oauth_options(&signin);
      o.client_name = "hookline-mcp";
      st = hl_mcp_set_oauth(m, &o);
    }
    if (st != HL_OK) {
      cJSON_Delete(args);
      hl_mcp_free(m);
      ex_mcp_oauth_close(&signin);
      return fail("--oauth", hl_last_error());
    }
  }
  if (verbose) {
    hl_observer *obs = hl_observer_new(on_event, NULL);
    hl_mcp_add_observer(m, obs);
    hl_observer_unref(obs);
  }
  int rc = 0;
  if (hl_mcp_connect(m) != HL_OK) {
    rc = fail("cannot connect", hl_mcp_errmsg(m));
  } else if (!call) {
    cJSON *tools = hl_mcp_tools_json(m);
    print_json(tools);
    cJSON_Delete(tools);
  } else {
    cJSON *raw = NULL;
    hl_status st = hl_mcp_call(m, NULL, call, args, NULL, &raw);
    if (st == HL_OK) {
      print_json(raw);
    } else if (st == HL_ERR_EXECUTION_FAILED && raw) {
      /* The tool's own error: its result (isError) or the JSON-RPC error. */
      cJSON *out = raw;
      if (cJSON_GetObjectItem(raw, "code")) {
        out = cJSON_CreateObject();
        hl_json_add(out, "error", raw);
      }
      print_json(out);
      if (out != raw) cJSON_Delete(out);
      else cJSON_Delete(raw);
      raw = NULL;
      fail("the tool reported an error", hl_last_error());
      rc = 1;
    } else if (st == HL_ERR_EXECUTION_FAILED) {
      /* Mapping refused the result (structuredContent against its schema). */
      rc = fail("bad result", hl_last_error());
    } else {
      rc = fail("call failed", hl_last_error());
    }
    cJSON_Delete(raw);
  }
  cJSON_Delete(args);
  hl_mcp_free(m);
  ex_mcp_oauth_close(&signin);
  return rc;
}
