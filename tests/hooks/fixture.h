/*
 * tests/hooks/fixture.h - shared helpers of the agent-core tests: a few
 * real tools, a log that hooks write to, and queries over the events a
 * collecting observer kept.
 */
#ifndef HL_TEST_HOOKS_FIXTURE_H
#define HL_TEST_HOOKS_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hookline.h"
#include "hooks/check_run.h"

/* ------------------------------------------------------------------ */
/* A log of strings, appended to by hooks and tools (thread-safe).     */
/* ------------------------------------------------------------------ */

typedef struct test_log {
  pthread_mutex_t lock;
  char buf[4096];
} test_log;

static inline void log_init(test_log *l) {
  pthread_mutex_init(&l->lock, NULL);
  l->buf[0] = '\0';
}

static inline void log_add(test_log *l, const char *item) {
  pthread_mutex_lock(&l->lock);
  size_t n = strlen(l->buf);
  snprintf(l->buf + n, sizeof l->buf - n, "%s%s", n ? "," : "", item);
  pthread_mutex_unlock(&l->lock);
}

static inline void log_clear(test_log *l) {
  pthread_mutex_lock(&l->lock);
  l->buf[0] = '\0';
  pthread_mutex_unlock(&l->lock);
}

/* ------------------------------------------------------------------ */
/* Tools                                                               */
/* ------------------------------------------------------------------ */

static atomic_int add_calls;

/* add(a: integer, b: integer) -> a + b */
static inline hl_status tool_add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  atomic_fetch_add(&add_calls, 1);
  double a = hl_json_get_number(args, "a", 0), b = hl_json_get_number(args, "b", 0);
  *result = cJSON_CreateNumber(a + b);
  return HL_OK;
}

static inline hl_tool *make_add_tool(void) {
  hl_tool *t = hl_tool_new("add", "Add two integers.", tool_add_fn, NULL);
  if (!t) return NULL;
  hl_tool_param(t, "a", "integer", "first", true);
  hl_tool_param(t, "b", "integer", "second", true);
  return t;
}

/* echo(text: string) -> text */
static inline hl_status tool_echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const char *text = hl_json_get_string(args, "text");
  *result = cJSON_CreateString(text ? text : "");
  return HL_OK;
}

static inline hl_tool *make_echo_tool(void) {
  hl_tool *t = hl_tool_new("echo", "Repeat the text.", tool_echo_fn, NULL);
  if (!t) return NULL;
  hl_tool_param(t, "text", "string", "what to repeat", true);
  return t;
}

/* fail() -> ExecutionFailed "boom" */
static inline hl_status tool_fail_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)args;
  (void)result;
  (void)ud;
  return hl_fail(HL_ERR_EXECUTION_FAILED, "boom: the disk is on fire");
}

static inline hl_tool *make_fail_tool(void) {
  return hl_tool_new("fail", "Always fails.", tool_fail_fn, NULL);
}

/* ------------------------------------------------------------------ */
/* Agents                                                              */
/* ------------------------------------------------------------------ */

/* An agent named `name` on `provider` with the add and echo tools. */
static inline hl_agent *make_agent(const char *name, hl_provider *provider) {
  hl_agent *a = hl_agent_new(name);
  if (!a) return NULL;
  hl_agent_set_provider(a, provider);
  hl_agent_set_instruction(a, "You are a test agent.");
  hl_tool *add = make_add_tool(), *echo = make_echo_tool();
  hl_agent_add_tool(a, add);
  hl_agent_add_tool(a, echo);
  hl_tool_unref(add);
  hl_tool_unref(echo);
  return a;
}

/* ------------------------------------------------------------------ */
/* Requests and events                                                 */
/* ------------------------------------------------------------------ */

/* The last message of a request, or NULL. */
static inline const hl_message *last_message(hl_request *req) {
  if (!req || req->messages.count == 0) return NULL;
  return req->messages.items[req->messages.count - 1];
}

/* Text of the system message of a request, or NULL. */
static inline const char *system_text(const hl_request *req) {
  if (!req || req->messages.count == 0) return NULL;
  const hl_message *m = req->messages.items[0];
  if (m->role != HL_ROLE_SYSTEM || m->n_parts == 0) return NULL;
  return m->parts[0].text;
}

/* The n-th collected event (0-based) of `type` ("tool_start"), or NULL.
 * Borrowed from `events`. */
static inline const cJSON *event_nth(const cJSON *events, const char *type, int n) {
  const cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    const char *t = hl_json_get_string(ev, "type");
    if (t && strcmp(t, type) == 0 && n-- == 0) return ev;
  }
  return NULL;
}

/* How many collected events of `type` have `key` equal to `value`
 * (value NULL: any). */
static inline int event_count(const cJSON *events, const char *type, const char *key,
                       const char *value) {
  int n = 0;
  const cJSON *ev;
  cJSON_ArrayForEach(ev, events) {
    const char *t = hl_json_get_string(ev, "type");
    if (!t || strcmp(t, type) != 0) continue;
    if (key) {
      const char *v = hl_json_get_string(ev, key);
      if (!v || strcmp(v, value) != 0) continue;
    }
    n++;
  }
  return n;
}

/* JSON text of a value, in a static buffer (for CHECK_STR). */
static inline const char *json_text(const cJSON *v) {
  static _Thread_local char buf[256];
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
  free(s);
  return buf;
}

#endif
