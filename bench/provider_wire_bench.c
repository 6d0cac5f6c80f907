/*
 * bench/provider_wire_bench.c - scenario (b) over each wire format: an
 * agent whose model (the mock server, bench/mock_server.c) asks for 3
 * "lookup" calls and then answers, so 2 model calls and 3 tool calls per
 * run, through OpenAI Chat Completions, OpenAI Responses, Anthropic
 * Messages and Gemini. What differs between them is only the provider's
 * encoding and decoding (and the mock's canned answers), so the figure to
 * watch is each format's overhead next to Chat Completions'.
 *
 * Runs alternate format by format (one run of each in turn) so that all
 * see the same machine load; each run's wall time minus the server's
 * service time for its 2 requests is kept, and medians are reported.
 *
 *   hl-bench-provider-wires --url http://127.0.0.1:PORT [--runs 1000] [--stream]
 *
 * Prints one JSON object:
 *   {"benchmark":"provider_wires","runs":..,"stream":false,
 *    "openai_us":..,"responses_us":..,"anthropic_us":..,"gemini_us":..,
 *    "responses_delta_us":..,"anthropic_delta_us":..,"gemini_delta_us":..,...}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <hookline.h>

#include "bench_util.h"

#define N_WIRES 4
static const char *const WIRES[N_WIRES] = {"openai", "responses", "anthropic", "gemini"};

static hl_status lookup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  (void)ud;
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(args, "key");
  char value[128];
  snprintf(value, sizeof value, "value-%s", cJSON_IsString(key) ? key->valuestring : "?");
  *result = cJSON_CreateString(value);
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "lookup: out of memory");
}

static hl_provider *provider_for(int w, const char *base) {
  switch (w) {
  case 0: return hl_openai_new(base, "sk-bench-dummy");
  case 1: return hl_responses_new(base, "sk-bench-dummy");
  case 2: return hl_anthropic_new(base, "sk-bench-dummy");
  default: return hl_gemini_new(base, "sk-bench-dummy");
  }
}

static hl_agent *make_agent(int w, const char *url, bool stream) {
  char base[1024];
  snprintf(base, sizeof base, "%s/v1", url);
  hl_provider *p = provider_for(w, base);
  hl_agent *agent = hl_agent_new("bench");
  hl_tool *t = hl_tool_new("lookup", "Look up the value stored under a key.", lookup, NULL);
  if (!p || !agent || !t || hl_tool_param(t, "key", "string", "the key", true) != HL_OK ||
      hl_agent_add_tool(agent, t) != HL_OK) {
    fprintf(stderr, "provider wire bench: setup: %s\n", hl_last_error());
    return NULL;
  }
  hl_tool_unref(t);
  hl_agent_set_provider(agent, p);
  hl_provider_unref(p);
  hl_agent_set_instruction(agent, "You are a benchmark agent. Use the lookup tool when asked.");
  hl_agent_set_model(agent, "mock-model");
  hl_agent_set_stream(agent, stream);
  return agent;
}

/* One run of (b) from a fresh session: wall time in us, or < 0. */
static double run_once(hl_agent *agent, const char *wire) {
  uint64_t t0 = bench_now_ns();
  hl_session *session = hl_session_new("bench", "u", NULL);
  char *answer = NULL;
  hl_status st = session ? hl_agent_run(agent, session, "Look up the keys a, b and c.", &answer)
                         : HL_ERR_NOMEM;
  bool ok = st == HL_OK && answer && strstr(answer, "gamma");
  if (!ok)
    fprintf(stderr, "provider wire bench: %s: %s (answer: %s)\n", wire,
            st != HL_OK ? hl_last_error() : "wrong answer", answer ? answer : "none");
  hl_free(answer);
  hl_session_free(session);
  double us = (double)(bench_now_ns() - t0) / 1e3;
  return ok ? us : -1;
}

int main(int argc, char **argv) {
  const char *url = bench_arg(argc, argv, "--url", "http://127.0.0.1:8089");
  long runs = atol(bench_arg(argc, argv, "--runs", "1000"));
  bool stream = false;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--stream")) stream = true;
  if (runs < 1) return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  hl_agent *agents[N_WIRES];
  double *lat[N_WIRES];
  double server_us[N_WIRES] = {0};
  for (int w = 0; w < N_WIRES; w++) {
    agents[w] = make_agent(w, url, stream);
    lat[w] = malloc((size_t)runs * sizeof(double));
    if (!agents[w] || !lat[w]) return 1;
    for (int i = 0; i < 20; i++)
      if (run_once(agents[w], WIRES[w]) < 0) return 1; /* warm up */
  }
  for (long i = 0; i < runs; i++) {
    for (int w = 0; w < N_WIRES; w++) {
      bench_server_stats s0, s1;
      if (!bench_server_stats_get(url, &s0)) return 1;
      double us = run_once(agents[w], WIRES[w]);
      if (us < 0 || !bench_server_stats_get(url, &s1)) return 1;
      double served = s1.service_us - s0.service_us;
      server_us[w] += served;
      lat[w][i] = us - served;
    }
  }
  double med[N_WIRES];
  for (int w = 0; w < N_WIRES; w++) med[w] = bench_percentile(lat[w], (size_t)runs, 50);
  printf("{\"system\":\"hookline\",\"benchmark\":\"provider_wires\",\"scenario\":\"b\","
         "\"runs\":%ld,\"stream\":%s", runs, stream ? "true" : "false");
  for (int w = 0; w < N_WIRES; w++)
    printf(",\"%s_us\":%.2f,\"%s_server_us\":%.2f", WIRES[w], med[w], WIRES[w],
           server_us[w] / (double)runs);
  for (int w = 1; w < N_WIRES; w++) printf(",\"%s_delta_us\":%.2f", WIRES[w], med[w] - med[0]);
  printf(",\"note\":\"median wall time per run of (b) (2 model calls, 3 tool calls) minus the "
         "mock's service time, per wire format; runs alternate format by format; delta is "
         "against Chat Completions (openai)\"}\n");
  for (int w = 0; w < N_WIRES; w++) {
    hl_agent_unref(agents[w]);
    free(lat[w]);
  }
  curl_global_cleanup();
  return 0;
}
