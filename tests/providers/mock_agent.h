/*
 * tests/providers/mock_agent.h - scenario (b) against the benchmarks' mock
 * model server (mock_proc.h): an agent with the `lookup` tool the mock
 * asks for, and N runs of it at once with hl_run_start(). The mock's
 * answers name the tool's results, so an answer holding "gamma" proves
 * the run went through both model calls and the three tool calls.
 * Header-only: each test program includes it once.
 */
#ifndef HL_TEST_MOCK_AGENT_H
#define HL_TEST_MOCK_AGENT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"

/* The tool of scenario (b): "value-<key>". */
static inline hl_status mock_lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(args, "key");
  char v[64];
  snprintf(v, sizeof v, "value-%s", cJSON_IsString(key) ? key->valuestring : "?");
  *result = cJSON_CreateString(v);
  return *result ? HL_OK : HL_ERR_NOMEM;
}

/* An agent named `name` on `provider` (a reference is taken) with the
 * lookup tool and the mock's model; NULL on failure. */
static inline hl_agent *mock_agent(const char *name, hl_provider *provider) {
  hl_agent *a = hl_agent_new(name);
  hl_tool *t = hl_tool_new("lookup", "Look up a key.", mock_lookup, NULL);
  if (!a || !t || hl_tool_param(t, "key", "string", "the key", true) != HL_OK) {
    hl_tool_unref(t);
    hl_agent_unref(a);
    return NULL;
  }
  hl_agent_set_provider(a, provider);
  hl_agent_set_model(a, "mock-model");
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  return a;
}

/* n runs at once with hl_run_start(), each in a session of its own; how
 * many ended with the answer (-1: out of memory). Failures are printed. */
static inline int mock_run_async(hl_agent *a, int n) {
  hl_session **ss = calloc((size_t)n, sizeof *ss);
  hl_run **rs = calloc((size_t)n, sizeof *rs);
  if (!ss || !rs) {
    free(ss);
    free(rs);
    return -1;
  }
  hl_run_options o = HL_RUN_OPTIONS_INIT;
  for (int i = 0; i < n; i++) {
    ss[i] = hl_session_new("t", "u", NULL);
    if (hl_run_start(a, ss[i], "Look up a, b and c.", &o, &rs[i]) != HL_OK)
      fprintf(stderr, "run %d: %s\n", i, hl_last_error());
  }
  int ok = 0;
  for (int i = 0; i < n; i++) {
    if (rs[i]) {
      hl_status st = hl_run_wait(rs[i], 60000);
      const char *ans = hl_run_answer(rs[i]);
      if (st == HL_OK && ans && strstr(ans, "gamma")) ok++;
      else fprintf(stderr, "run %d: %s\n", i, hl_run_error(rs[i]));
      hl_run_free(rs[i]);
    }
    hl_session_free(ss[i]);
  }
  free(ss);
  free(rs);
  return ok;
}

#endif
