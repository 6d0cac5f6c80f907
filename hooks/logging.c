/*
 * hooks/logging.c - the logging plugin: one line per hook point.
 *
 * Unlike the Logging observer (which reports events), these lines are
 * written from inside the hook chains, so they show the values at the
 * logger's position in the chain: arguments after earlier before_tool
 * hooks mutated them, a response that an earlier hook substituted.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/context.h"
#include "hookline/hooks.h"
#include "hookline/plugins.h"
#include "plugin_util.h"

#define TEXT_MAX 200
#define JSON_MAX 400

typedef struct logger {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  FILE *out;
  bool owns_out;        /* opened by hl_logging_hooks_install_path: closed at the end */
  char *prefix;
} logger;

static void logger_destroy(void *self)
{
  logger *lg = self;
  if (lg->owns_out)
    fclose(lg->out);
  free(lg->prefix);
  free(lg);
}

/* One line being built in a memory stream, written whole by line_end(). */
typedef struct log_line {
  const logger *lg;
  FILE *f;
  char *buf;
  size_t len;
} log_line;

/* Start a line: "[prefix] point branch=.. agent=..". NULL if no memory
 * (the hook then logs nothing and the run goes on). */
static FILE *line_begin(log_line *l, const void *ud, hl_context *ctx, const char *point)
{
  *l = (log_line){.lg = ud};
  l->f = open_memstream(&l->buf, &l->len);
  if (!l->f)
    return NULL;
  if (l->lg->prefix[0])
    fprintf(l->f, "[%s] ", l->lg->prefix);
  fprintf(l->f, "%s branch=%s agent=%s", point, hl_context_branch(ctx),
          hl_context_agent_name(ctx));
  return l->f;
}

/* Finish the line and write it whole: one locked write per line keeps
 * lines from parallel tool calls from interleaving. Always continue. */
static hl_hook_action line_end(log_line *l)
{
  /* fclose() is what sets buf and len to the final text. */
  if (fclose(l->f) == 0 && l->buf) {
    FILE *out = l->lg->out;
    flockfile(out);
    fwrite(l->buf, 1, l->len, out);
    fputc('\n', out);
    fflush(out);
    funlockfile(out);
  }
  free(l->buf);
  return HL_HOOK_CONTINUE;
}

static void put_call(FILE *line, const hl_tool_call *call, const cJSON *args)
{
  fputs(" call_id=", line);
  hl__plugin_put_word(line, call->id);
  fputs(" tool=", line);
  hl__plugin_put_word(line, call->name);
  fputs(" args=", line);
  hl__plugin_put_json(line, args, JSON_MAX);
}

static void put_error(FILE *line, const hl_error *error)
{
  if (!error || error->status == HL_OK) {
    fputs(" error=OK", line);
    return;
  }
  fprintf(line, " error=%s:", hl_status_name(error->status));
  hl__plugin_put_quoted(line, error->message, TEXT_MAX);
}

/* " last_role=.. last=..": what the model is about to react to. A tool
 * message has no text parts, so its first result stands for it. */
static void put_last_message(FILE *line, const hl_message *last)
{
  fprintf(line, " last_role=%s last=", hl_role_name(last->role));
  for (size_t i = 0; i < last->n_parts; i++) {
    if (last->parts[i].kind != HL_PART_TOOL_RESULT)
      continue;
    hl__plugin_put_quoted(line, last->parts[i].text ? last->parts[i].text : "", TEXT_MAX);
    return;
  }
  char *text = hl_message_text(last);
  hl__plugin_put_quoted(line, text, TEXT_MAX);
  hl_free(text);
}

static hl_hook_action log_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                       hl_before_agent_out *out, void *ud)
{
  (void)out;
  log_line l;
  FILE *line = line_begin(&l, ud, ctx, "before_agent");
  if (!line)
    return HL_HOOK_CONTINUE;
  fprintf(line, " inv=%s input=", hl_context_invocation_id(ctx));
  hl__plugin_put_quoted(line, args->input, TEXT_MAX);
  return line_end(&l);
}

static hl_hook_action log_after_agent(hl_context *ctx, const hl_after_agent_args *args,
                                      hl_after_agent_out *out, void *ud)
{
  (void)out;
  const char *answer = args->answer;
  log_line l;
  FILE *line = line_begin(&l, ud, ctx, "after_agent");
  if (!line)
    return HL_HOOK_CONTINUE;
  fputs(" answer=", line);
  hl__plugin_put_quoted(line, answer, TEXT_MAX);
  return line_end(&l);
}

static hl_hook_action log_before_model(hl_context *ctx, const hl_before_model_args *args,
                                       hl_before_model_out *out, void *ud)
{
  (void)out;
  const hl_request *req = args->request;
  log_line l;
  FILE *line = line_begin(&l, ud, ctx, "before_model");
  if (!line)
    return HL_HOOK_CONTINUE;
  fprintf(line, " turn=%d model=%s messages=%zu tools=%zu", hl_context_turn(ctx),
          req->model ? req->model : "default", req->messages.count, req->n_tools);
  if (req->messages.count > 0)
    put_last_message(line, req->messages.items[req->messages.count - 1]);
  return line_end(&l);
}

static hl_hook_action log_after_model(hl_context *ctx, const hl_after_model_args *args,
                                      hl_after_model_out *out, void *ud)
{
  (void)out;
  const hl_response *response = args->response;
  const hl_error *error = args->error;
  log_line l;
  FILE *line = line_begin(&l, ud, ctx, "after_model");
  if (!line)
    return HL_HOOK_CONTINUE;
  fprintf(line, " turn=%d", hl_context_turn(ctx));
  if (response && response->message) {
    char *text = hl_message_text(response->message);
    fprintf(line, " finish=%s text=", hl_finish_reason_name(response->finish));
    hl__plugin_put_quoted(line, text, TEXT_MAX);
    hl_free(text);
    fputs(" tool_calls=[", line);
    const hl_message *msg = response->message;
    bool first = true;
    for (size_t i = 0; i < msg->n_parts; i++) {
      if (msg->parts[i].kind != HL_PART_TOOL_CALL)
        continue;
      if (!first) fputc(',', line);
      hl__plugin_put_word(line, msg->parts[i].name ? msg->parts[i].name : "?");
      first = false;
    }
    fprintf(line, "] usage=%lld/%lld", (long long)response->usage.input_tokens,
            (long long)response->usage.output_tokens);
  } else {
    fputs(" response=null", line);
  }
  put_error(line, error);
  return line_end(&l);
}

static hl_hook_action log_before_tool(hl_context *ctx, const hl_before_tool_args *args,
                                      hl_before_tool_out *out, void *ud)
{
  (void)out;
  log_line l;
  FILE *line = line_begin(&l, ud, ctx, "before_tool");
  if (!line)
    return HL_HOOK_CONTINUE;
  put_call(line, args->call, args->args);
  return line_end(&l);
}

static hl_hook_action log_after_tool(hl_context *ctx, const hl_after_tool_args *args,
                                     hl_after_tool_out *out, void *ud)
{
  (void)out;
  log_line l;
  FILE *line = line_begin(&l, ud, ctx, "after_tool");
  if (!line)
    return HL_HOOK_CONTINUE;
  put_call(line, args->call, args->args);
  fputs(" result=", line);
  hl__plugin_put_json(line, args->result, JSON_MAX);
  put_error(line, args->error);
  return line_end(&l);
}

static hl_status logging_install(hl_hooks *hooks, FILE *out, bool owns_out, const char *prefix)
{
  logger *lg = calloc(1, sizeof *lg);
  if (!lg) {
    if (owns_out)
      fclose(out);
    return hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  hl__plugin_ref_init(&lg->ref, logger_destroy);
  lg->out = out;
  lg->owns_out = owns_out;
  lg->prefix = hl__plugin_strdup(prefix);
  if (!lg->prefix) {
    hl__plugin_release(lg);
    return HL_ERR_NOMEM;
  }
  /* Each hook holds a reference to the logger; ours goes at the end. The
   * hooks only look (HL_HOOK_OBSERVE): installing the logger does not
   * make runs copy their history or tool arguments. */
  hl_status st;
  if ((st = hl__plugin_add(lg, hooks, HL_HOOK_BEFORE_AGENT, "logging", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.before_agent = log_before_agent})) ||
      (st = hl__plugin_add(lg, hooks, HL_HOOK_AFTER_AGENT, "logging", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_agent = log_after_agent})) ||
      (st = hl__plugin_add(lg, hooks, HL_HOOK_BEFORE_MODEL, "logging", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.before_model = log_before_model})) ||
      (st = hl__plugin_add(lg, hooks, HL_HOOK_AFTER_MODEL, "logging", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_model = log_after_model})) ||
      (st = hl__plugin_add(lg, hooks, HL_HOOK_BEFORE_TOOL, "logging", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.before_tool = log_before_tool})) ||
      (st = hl__plugin_add(lg, hooks, HL_HOOK_AFTER_TOOL, "logging", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_tool = log_after_tool}))) {
    hl__plugin_release(lg);
    return hl__plugin_install_failed(hooks, "logging", "hl_logging_hooks_install", st);
  }
  hl__plugin_release(lg);
  return HL_OK;
}

hl_status hl_logging_hooks_install(hl_hooks *hooks, FILE *out, const char *prefix)
{
  if (!hooks || !out)
    return hl_fail(HL_ERR_INVALID, "hl_logging_hooks_install: hooks and out must not be NULL");
  return logging_install(hooks, out, false, prefix);
}

hl_status hl_logging_hooks_install_path(hl_hooks *hooks, const char *path, const char *prefix)
{
  if (!hooks || !path || !path[0])
    return hl_fail(HL_ERR_INVALID, "hl_logging_hooks_install_path: hooks and path are required");
  /* "a": several runs (and processes) append to one log. */
  FILE *out = fopen(path, "a");
  if (!out)
    return hl_fail(HL_ERR_IO, "cannot open log file \"%s\": %s", path, strerror(errno));
  return logging_install(hooks, out, true, prefix);
}
