/*
 * bench/bench_agent.c - the agent of the peer scenarios (bench_agent.h).
 */
#include "bench_agent.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "bench_util.h"

static const char *INSTRUCTION = "You are a benchmark agent. Use the lookup tool when asked.";
static const char *TOOL_DESCRIPTION = "Look up the value stored under a key.";
static const char *CHAT_INPUT = "Say hello.";
static const char *TOOLS_INPUT = "Look up the keys a, b and c.";

/* Counts tool executions so that a benchmark can check each run made 3. */
static atomic_long g_tool_calls;

long bench_agent_tool_calls(void) {
  return atomic_load(&g_tool_calls);
}

static hl_status lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(args, "key");
  char value[128];
  snprintf(value, sizeof value, "value-%s", cJSON_IsString(key) ? key->valuestring : "?");
  *result = cJSON_CreateString(value);
  atomic_fetch_add(&g_tool_calls, 1);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "lookup: out of memory");
}

static hl_status unused_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)args;
  (void)ud;
  *result = cJSON_CreateString("unused");
  return HL_OK;
}

/* The scripted provider plays the mock server's answers, by rule, per run. */
static const char *SCRIPT =
    "{\"rules\":[{\"match\":\"look up\",\"steps\":["
    "{\"tool_calls\":[{\"id\":\"call_1\",\"name\":\"lookup\",\"arguments\":{\"key\":\"a\"}},"
    "{\"id\":\"call_2\",\"name\":\"lookup\",\"arguments\":{\"key\":\"b\"}},"
    "{\"id\":\"call_3\",\"name\":\"lookup\",\"arguments\":{\"key\":\"c\"}}]},"
    "{\"text\":\"The values are alpha, beta and gamma.\"}]}],"
    "\"fallback\":{\"text\":\"Hello! This is the mock model answering.\"}}";

hl_agent *bench_agent_new(const bench_agent_opts *o, const char *url) {
  hl_provider *p;
  if (o->scripted) {
    p = hl_scripted_new();
    if (p && hl_scripted_load_json(p, SCRIPT) != HL_OK) {
      fprintf(stderr, "bench agent: script: %s\n", hl_last_error());
      hl_provider_unref(p);
      return NULL;
    }
  } else {
    char base[1024];
    snprintf(base, sizeof base, "%s/v1", url);
    p = hl_openai_new(base, "sk-bench-dummy");
    if (p) hl_openai_set_model(p, "mock-model");
  }
  hl_agent *agent = hl_agent_new("bench");
  if (!p || !agent) {
    fprintf(stderr, "bench agent: setup: %s\n", hl_last_error());
    hl_provider_unref(p);
    hl_agent_unref(agent);
    return NULL;
  }
  hl_agent_set_provider(agent, p);
  hl_provider_unref(p);
  hl_agent_set_instruction(agent, INSTRUCTION);
  hl_agent_set_model(agent, "mock-model");
  hl_agent_set_stream(agent, o->stream);
  if (o->parallel > 0) hl_agent_set_parallel_tools(agent, o->parallel);
  if (!o->tools) return agent;
  hl_tool *t = hl_tool_new("lookup", TOOL_DESCRIPTION, lookup, NULL);
  if (!t || hl_tool_param(t, "key", "string", "the key", true) != HL_OK || hl_agent_add_tool(agent, t) != HL_OK) {
    fprintf(stderr, "bench agent: tool: %s\n", hl_last_error());
    hl_tool_unref(t);
    hl_agent_unref(agent);
    return NULL;
  }
  hl_tool_unref(t);
  for (int i = 0; i < o->extra_tools; i++) {
    char name[32];
    snprintf(name, sizeof name, "tool_%d", i + 2);
    hl_tool *x = hl_tool_new(name, "A tool the model never calls.", unused_tool, NULL);
    if (!x) {
      hl_agent_unref(agent);
      return NULL;
    }
    hl_tool_param(x, "query", "string", "what to look for", true);
    hl_tool_param(x, "limit", "integer", "how many results", false);
    hl_tool_param(x, "exact", "boolean", "exact match only", false);
    hl_agent_add_tool(agent, x);
    hl_tool_unref(x);
  }
  return agent;
}

double bench_agent_run(hl_agent *agent, bool tools, const char *what) {
  uint64_t t0 = bench_now_ns();
  hl_session *session = hl_session_new("bench", "u", NULL);
  char *answer = NULL;
  hl_status st = session ? hl_agent_run(agent, session, tools ? TOOLS_INPUT : CHAT_INPUT, &answer) : HL_ERR_NOMEM;
  const char *want = tools ? "gamma" : "mock model";
  bool ok = st == HL_OK && answer && strstr(answer, want);
  if (!ok)
    fprintf(stderr, "bench agent: %s: run failed: %s (answer: %s)\n", what, st != HL_OK ? hl_last_error() : "wrong answer",
            answer ? answer : "none");
  hl_free(answer);
  hl_session_free(session);
  double us = (double)(bench_now_ns() - t0) / 1e3;
  return ok ? us : -1;
}
