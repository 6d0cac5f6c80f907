/*
 * tests/plugins/fixture.h - small helpers for the plugin tests: agents on
 * the scripted provider, a counting tool, reading back a log file.
 */
#ifndef HL_PLUGINS_FIXTURE_H
#define HL_PLUGINS_FIXTURE_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "hooks/check_run.h"

/* An agent on `provider` (the agent takes its own reference). */
static inline hl_agent *fx_agent(const char *name, hl_provider *provider)
{
  hl_agent *a = hl_agent_new(name);
  if (a) {
    hl_agent_set_instruction(a, "You are a test agent.");
    hl_agent_set_provider(a, provider);
  }
  return a;
}

/* A tool that counts its calls and returns {"echo": args} . */
typedef struct fx_counter {
  atomic_int calls;
} fx_counter;

static inline hl_status fx_echo_fn(hl_context *ctx, const cJSON *args, cJSON **result,
                                   void *user_data)
{
  (void)ctx;
  fx_counter *c = user_data;
  atomic_fetch_add(&c->calls, 1);
  cJSON *r = cJSON_CreateObject();
  if (!r || !cJSON_AddItemToObject(r, "echo", cJSON_Duplicate(args, 1))) {
    cJSON_Delete(r);
    return hl_fail(HL_ERR_NOMEM, "oom");
  }
  *result = r;
  return HL_OK;
}

static inline hl_tool *fx_echo_tool(const char *name, fx_counter *c)
{
  return hl_tool_new(name, "Echoes its arguments.", fx_echo_fn, c);
}

/* Everything written to `f` so far, for free(). */
static inline char *fx_slurp(FILE *f)
{
  fflush(f);
  long end = ftell(f);
  if (end < 0)
    return NULL;
  char *buf = calloc(1, (size_t)end + 1);
  if (!buf)
    return NULL;
  rewind(f);
  size_t got = fread(buf, 1, (size_t)end, f);
  buf[got] = '\0';
  fseek(f, 0, SEEK_END);
  return buf;
}

/* The next line at or after *cursor that contains `needle` (for free()),
 * or NULL; *cursor moves past that line. */
static inline char *fx_next_line(const char **cursor, const char *needle)
{
  while (*cursor && **cursor) {
    const char *line = *cursor, *nl = strchr(line, '\n');
    *cursor = nl ? nl + 1 : NULL;
    char *copy = strndup(line, nl ? (size_t)(nl - line) : strlen(line));
    if (copy && strstr(copy, needle))
      return copy;
    free(copy);
  }
  return NULL;
}

/* Number of lines of `text` that contain `needle`. */
static inline int fx_count_lines(const char *text, const char *needle)
{
  int n = 0;
  for (char *line; (line = fx_next_line(&text, needle)); n++)
    free(line);
  return n;
}

/* The first line of `text` that contains `needle`, for free(), or NULL. */
static inline char *fx_find_line(const char *text, const char *needle)
{
  return fx_next_line(&text, needle);
}

/* The text of the last message of the i-th request the scripted provider
 * received (for free()), or NULL. */
static inline char *fx_request_last_text(hl_provider *p, size_t i)
{
  hl_request *req = hl_scripted_request(p, i);
  if (!req || req->messages.count == 0) {
    hl_request_free(req);
    return NULL;
  }
  char *t = hl_message_text(req->messages.items[req->messages.count - 1]);
  hl_request_free(req);
  return t;
}

/* All tool-result contents of the i-th request, joined by '\n' (for free()). */
static inline char *fx_request_tool_results(hl_provider *p, size_t i)
{
  hl_request *req = hl_scripted_request(p, i);
  if (!req)
    return NULL;
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  for (size_t m = 0; out && m < req->messages.count; m++) {
    const hl_message *msg = req->messages.items[m];
    for (size_t k = 0; k < msg->n_parts; k++)
      if (msg->parts[k].kind == HL_PART_TOOL_RESULT)
        fprintf(out, "%s\n", msg->parts[k].text ? msg->parts[k].text : "");
  }
  if (out)
    fclose(out);
  hl_request_free(req);
  return buf;
}

#endif
