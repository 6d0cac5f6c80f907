/*
 * tests/otel/otel_run.c - the runs whose OpenTelemetry export
 * tests/otel/test_otel.py checks. One scenario per invocation, configured
 * by the OTEL_* environment (the test points it at its receiver):
 *
 *   tree     a sequential "pipeline" running "coordinator" then
 *            "summarizer". The coordinator talks to MODEL_URL (an OpenAI
 *            server of the test) with API key OTEL_TEST_KEY and makes
 *            parallel tool calls: add (its arguments edited by a hook),
 *            broken (fails), researcher (an agent-as-tool with its own
 *            model and tool), rm (denied by a hook's override),
 *            run_javascript (code mode calling add twice in parallel, when
 *            the sandbox is built) and json_echo (an MCP tool of MCP_URL,
 *            when set). Session id "sess-otel-42\xff" (not UTF-8). The
 *            user's input: OTEL_TEST_INPUT, else "plan the secret picnic";
 *            OTEL_TEST_ATTRIBUTE_COUNT_LIMIT: that option.
 *   fail     one run whose model call fails (MODEL_URL answers 400);
 *            OTEL_TEST_PROPAGATORS: hl_otel_options.propagators.
 *   remote   one run joining the caller's trace TRACEPARENT.
 *   hooks    three runs (scripted model) whose before_tool hooks decide on
 *            the call of "add": "double_b" edits its arguments (agent
 *            "editor"), "stop_add" aborts the run (agent "aborter"),
 *            "ask_human" interrupts it for a human (agent "pauser").
 *   env N SLEEP  N runs of scenario (b) (scripted), the exporter configured
 *            by the OTEL_* environment alone; SLEEP ms later (no flush),
 *            prints its counters ({"ok":..,"exported":..,"metric_exports":
 *            ..,...}), then shuts it down.
 *   load N [MS [lossy|flush|timeout=MS]...]  N runs of scenario (b) (2 model calls, 3 tools,
 *            scripted) with a small queue, then a shutdown with a deadline
 *            of MS (default 500); prints {"runs_ms":..,"shutdown_ms":..,
 *            "ok":N,"dropped_before_shutdown":..,"failures":..} so a dead,
 *            hanging or failing collector can be shown not to slow runs
 *            down. "lossy": the collector loses spans, so before reading
 *            the counters wait (up to 5 s) until the exporter counted a
 *            drop or a failure: on a slow build its thread may not have
 *            taken a record yet when the runs end, and the shutdown would
 *            drop them (with the warning) after the counters were read.
 *            "flush": flush before reading the counters (every answer of
 *            the collector is counted). "timeout=MS": timeout_ms (3000).
 *
 * Prints the answer (or the error) of each run; exits 0 when the runs
 * went as the scenario expects.
 */
#include <hookline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_CreateNumber(hl_json_get_number(args, "a", 0) + hl_json_get_number(args, "b", 0));
  return HL_OK;
}

static hl_status broken_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)result, (void)ud;
  return hl_fail(HL_ERR_EXECUTION_FAILED, "the disk is on fire");
}

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_Duplicate(args, 1);
  return HL_OK;
}

static hl_tool *tool(const char *name, hl_tool_fn fn, const char *params) {
  hl_tool *t = hl_tool_new(name, name, fn, NULL);
  if (t && params) hl_tool_set_schema(t, params);
  return t;
}

/* before_tool "deny_rm": rm never runs; its result says why. */
static hl_hook_action deny_rm(hl_context *ctx, const hl_before_tool_args *args,
                              hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  if (strcmp(args->call->name, "rm") != 0) return HL_HOOK_CONTINUE;
  out->result = cJSON_CreateString("denied by policy");
  return HL_HOOK_OVERRIDE;
}

/* before_tool "double_b": add's b is doubled (an edited argument). */
static hl_hook_action double_b(hl_context *ctx, const hl_before_tool_args *args,
                               hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  if (strcmp(args->call->name, "add") != 0 || !out->args) return HL_HOOK_CONTINUE;
  cJSON *b = cJSON_GetObjectItemCaseSensitive(out->args, "b");
  if (cJSON_IsNumber(b)) cJSON_SetNumberValue(b, b->valuedouble * 2);
  return HL_HOOK_CONTINUE;
}

static hl_otel *start_otel(const hl_otel_options *opts) {
  hl_otel *otel = hl_otel_new(opts);
  if (!otel) {
    fprintf(stderr, "hl_otel_new: %s\n", hl_last_error());
    exit(2);
  }
  if (hl_otel_install(otel, NULL) != HL_OK) {
    fprintf(stderr, "hl_otel_install: %s\n", hl_last_error());
    exit(2);
  }
  return otel;
}

static const char *env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "otel_run: %s is not set\n", name);
    exit(2);
  }
  return v;
}

static int scenario_tree(void) {
  /* OTEL_TEST_ATTRIBUTE_COUNT_LIMIT: hl_otel_options.attribute_count_limit
   * (the option over the variables) */
  const char *count = getenv("OTEL_TEST_ATTRIBUTE_COUNT_LIMIT");
  hl_otel_options o = {.size = sizeof o, .attribute_count_limit = count ? (size_t)atoi(count) : 0};
  hl_otel *otel = start_otel(&o);

  hl_provider *script = hl_scripted_new();
  hl_scripted_push_tool_call(script, "r1", "lookup", "{\"q\":\"x\"}");
  hl_scripted_push_text(script, "found x");
  hl_scripted_push_text(script, "summary: all done");
  hl_agent *researcher = hl_agent_new("researcher");
  hl_agent_set_provider(researcher, script);
  hl_agent_set_model(researcher, "script-model");
  hl_tool *lookup = tool("lookup", echo_fn, NULL);
  hl_agent_add_tool(researcher, lookup);
  hl_tool *research = hl_agent_as_tool(researcher, "Research a question", NULL);
  /* A time limit: the sub-agent then runs on a worker-pool thread, and its
   * span must still nest under the tool's (the call's record travels). */
  hl_tool_set_timeout_ms(research, 60000);

  hl_provider *model = hl_openai_new(env("MODEL_URL"), env("OTEL_TEST_KEY"));
  hl_openai_set_retries(model, 0, 10, 10);
  hl_agent *coord = hl_agent_new("coordinator");
  hl_agent_set_provider(coord, model);
  hl_agent_set_model(coord, "gpt-test");
  hl_agent_set_parallel_tools(coord, 6);
  hl_tool *add = tool("add", add_fn, "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}}}");
  hl_tool *broken = tool("broken", broken_fn, NULL);
  hl_tool *rm = tool("rm", echo_fn, NULL);
  hl_agent_add_tool(coord, add);
  hl_agent_add_tool(coord, broken);
  hl_agent_add_tool(coord, research);
  hl_agent_add_tool(coord, rm);
  hl_tool *code = hl_sandbox_available() ? hl_sandbox_code_tool(NULL) : NULL;
  if (code) hl_agent_add_tool(coord, code);
  hl_mcp *mcp = NULL;
  const char *mcp_url = getenv("MCP_URL");
  if (mcp_url && *mcp_url) {
    mcp = hl_mcp_new_http("hh", mcp_url);
    if (mcp) hl_mcp_set_include(mcp, (const char *const[]){"json_echo", NULL});
    if (!mcp || hl_mcp_connect(mcp) != HL_OK) {
      fprintf(stderr, "mcp: %s\n", mcp ? hl_mcp_errmsg(mcp) : hl_last_error());
      return 2;
    }
    hl_mcp_add_to_agent(mcp, coord);
  }
  hl_hooks_add_before_tool(hl_agent_hooks(coord), "deny_rm", HL_HOOK_DECIDE, deny_rm, NULL);
  hl_hooks_add_before_tool(hl_agent_hooks(coord), "double_b", HL_HOOK_EDIT_ARGS, double_b, NULL);

  hl_agent *summarizer = hl_agent_new("summarizer");
  hl_agent_set_provider(summarizer, script);
  hl_agent_set_model(summarizer, "script-model");

  hl_agent *pipeline = hl_sequential_agent_new("pipeline", HL_WORKFLOW_INPUT_SAME);
  hl_agent_add_sub_agent(pipeline, coord);
  hl_agent_add_sub_agent(pipeline, summarizer);

  /* a session id with a byte that is not UTF-8 (the application's to
   * choose): the export must still be valid JSON */
  hl_session *session = hl_session_new("otel-test", "user-1", "sess-otel-42\xff");
  char *answer = NULL;
  const char *input = getenv("OTEL_TEST_INPUT");
  hl_status st = hl_agent_run(pipeline, session, input ? input : "plan the secret picnic", &answer);
  printf("%s\n", st == HL_OK ? answer : hl_last_error());
  hl_free(answer);
  hl_status fl = hl_otel_flush(otel, 10000);
  if (fl != HL_OK) fprintf(stderr, "flush: %s\n", hl_last_error());
  hl_otel_stats stats = {.size = sizeof stats};
  hl_otel_get_stats(otel, &stats);
  printf("{\"started\":%llu,\"exported\":%llu,\"dropped\":%llu}\n",
         (unsigned long long)stats.spans_started, (unsigned long long)stats.spans_exported,
         (unsigned long long)stats.spans_dropped);
  hl_observer_clear_global();
  hl_otel_free(otel);

  hl_session_free(session);
  hl_agent_unref(pipeline);
  hl_agent_unref(summarizer);
  hl_agent_unref(coord);
  hl_agent_unref(researcher);
  hl_tool_unref(code);
  hl_tool_unref(add);
  hl_tool_unref(broken);
  hl_tool_unref(rm);
  hl_tool_unref(research);
  hl_tool_unref(lookup);
  hl_provider_unref(model);
  hl_provider_unref(script);
  hl_mcp_free(mcp);
  return st == HL_OK && fl == HL_OK ? 0 : 1;
}

static int scenario_fail(void) {
  /* OTEL_TEST_PROPAGATORS: hl_otel_options.propagators */
  hl_otel_options o = {.size = sizeof o, .propagators = getenv("OTEL_TEST_PROPAGATORS")};
  hl_otel *otel = start_otel(&o);
  hl_provider *model = hl_openai_new(env("MODEL_URL"), env("OTEL_TEST_KEY"));
  hl_openai_set_retries(model, 0, 10, 10);
  hl_agent *agent = hl_agent_new("doomed");
  hl_agent_set_provider(agent, model);
  hl_agent_set_model(agent, "fail");
  char *answer = NULL;
  hl_status st = hl_agent_run(agent, NULL, "hello", &answer);
  printf("%s: %s\n", hl_status_name(st), st == HL_OK ? answer : hl_last_error());
  hl_free(answer);
  hl_status fl = hl_otel_flush(otel, 10000);
  hl_observer_clear_global();
  hl_otel_free(otel);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  return st != HL_OK && fl == HL_OK ? 0 : 1;
}

static int scenario_remote(void) {
  hl_otel *otel = start_otel(NULL);
  if (hl_otel_set_parent("00-zz-nothex") != HL_ERR_INVALID) return 1;
  if (hl_otel_set_parent(env("TRACEPARENT")) != HL_OK) {
    fprintf(stderr, "%s\n", hl_last_error());
    return 1;
  }
  hl_provider *script = hl_scripted_new();
  hl_scripted_push_text(script, "joined");
  hl_agent *agent = hl_agent_new("joiner");
  hl_agent_set_provider(agent, script);
  char *answer = NULL;
  hl_status st = hl_agent_run(agent, NULL, "hi", &answer);
  /* the parent is consumed: this run starts a trace of its own */
  hl_scripted_push_text(script, "alone");
  hl_free(answer);
  st = st == HL_OK ? hl_agent_run(agent, NULL, "hi again", &answer) : st;
  printf("%s\n", st == HL_OK ? answer : hl_last_error());
  hl_free(answer);
  hl_status fl = hl_otel_flush(otel, 10000);
  hl_observer_clear_global();
  hl_otel_free(otel);
  hl_agent_unref(agent);
  hl_provider_unref(script);
  return st == HL_OK && fl == HL_OK ? 0 : 1;
}

/* before_tool "stop_add": the run stops (H10). */
static hl_hook_action stop_add(hl_context *ctx, const hl_before_tool_args *args,
                               hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)args, (void)out, (void)ud;
  return hl_hook_abort("add is forbidden here");
}

/* before_tool "ask_human": the call waits for a human's decision. */
static hl_hook_action ask_human(hl_context *ctx, const hl_before_tool_args *args,
                                hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)args, (void)ud;
  if (HL_HOOK_HAS(out, reason)) out->reason = strdup("a human must approve add");
  return HL_HOOK_INTERRUPT;
}

/* One run of an agent `name` whose model calls add(1, 2) then answers,
 * with before_tool hook `hook`; returns the run's status. */
static hl_status hook_run(const char *name, const char *hook_name, hl_before_tool_fn hook, unsigned flags) {
  hl_provider *script = hl_scripted_new();
  hl_scripted_push_tool_call(script, "call_add", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(script, "the sum is known");
  hl_agent *agent = hl_agent_new(name);
  hl_agent_set_provider(agent, script);
  hl_tool *add = tool("add", add_fn, NULL);
  hl_agent_add_tool(agent, add);
  hl_hooks_add_before_tool(hl_agent_hooks(agent), hook_name, flags, hook, NULL);
  hl_session *s = hl_session_new("otel-test", "user-1", NULL);
  char *answer = NULL;
  hl_status st = hl_agent_run(agent, s, "add one and two", &answer);
  printf("%s: %s: %s\n", name, hl_status_name(st), st == HL_OK ? answer : hl_last_error());
  hl_free(answer);
  cJSON_Delete(hl_run_state_json()); /* the interrupted run's state: not resumed here */
  hl_session_free(s);
  hl_agent_unref(agent);
  hl_tool_unref(add);
  hl_provider_unref(script);
  return st;
}

static int scenario_hooks(void) {
  hl_otel *otel = start_otel(NULL);
  bool ok = hook_run("editor", "double_b", double_b, HL_HOOK_EDIT_ARGS) == HL_OK;
  ok &= hook_run("aborter", "stop_add", stop_add, HL_HOOK_DECIDE) == HL_ERR_ABORTED;
  ok &= hook_run("pauser", "ask_human", ask_human, HL_HOOK_DECIDE) == HL_INTERRUPTED;
  hl_status fl = hl_otel_flush(otel, 10000);
  hl_observer_clear_global();
  hl_otel_free(otel);
  return ok && fl == HL_OK ? 0 : 1;
}

/* An agent `name` of scenario (b) of the benchmarks (2 model calls, 3
 * tools, scripted); its provider and tool into *script and *add (the
 * caller unrefs all three). */
static hl_agent *agent_b(const char *name, hl_provider **script, hl_tool **add) {
  *script = hl_scripted_new();
  hl_scripted_load_json(*script,
                        "{\"rules\":[{\"match\":\".*\",\"steps\":["
                        "{\"tool_calls\":[{\"id\":\"c1\",\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}},"
                        "{\"id\":\"c2\",\"name\":\"add\",\"arguments\":{\"a\":3,\"b\":4}},"
                        "{\"id\":\"c3\",\"name\":\"add\",\"arguments\":{\"a\":5,\"b\":6}}],"
                        "\"usage\":{\"input_tokens\":10,\"output_tokens\":5}},"
                        "{\"text\":\"done\",\"usage\":{\"input_tokens\":20,\"output_tokens\":2}}]}]}");
  hl_agent *agent = hl_agent_new(name);
  hl_agent_set_provider(agent, *script);
  *add = tool("add", add_fn, NULL);
  hl_agent_add_tool(agent, *add);
  return agent;
}

/* Scenario (b) of the benchmarks: 2 model calls, 3 tools. */
static int scenario_load(int n, unsigned deadline_ms, bool lossy, bool flush, unsigned timeout_ms) {
  hl_otel_options o = {.size = sizeof o, .max_queue = 64, .max_batch = 16,
                       .export_delay_ms = 20, .timeout_ms = timeout_ms};
  hl_otel *otel = start_otel(&o);
  hl_provider *script;
  hl_tool *add;
  hl_agent *agent = agent_b("loader", &script, &add);
  int ok = 0;
  double t0 = now_ms();
  for (int i = 0; i < n; i++) {
    hl_session *s = hl_session_new(NULL, NULL, NULL);
    char *answer = NULL;
    if (hl_agent_run(agent, s, "go", &answer) == HL_OK && strcmp(answer, "done") == 0) ok++;
    hl_free(answer);
    hl_session_free(s);
  }
  double runs_ms = now_ms() - t0;
  hl_observer_clear_global();
  if (flush && hl_otel_flush(otel, 10000) != HL_OK) fprintf(stderr, "flush: %s\n", hl_last_error());
  hl_otel_stats stats = {.size = sizeof stats};
  hl_otel_get_stats(otel, &stats);
  for (int waited = 0; lossy && !stats.spans_dropped && !stats.export_failures && waited < 500; waited++) {
    struct timespec ten_ms = {0, 10000000};
    nanosleep(&ten_ms, NULL);
    hl_otel_get_stats(otel, &stats);
  }
  double t1 = now_ms();
  hl_otel_shutdown(otel, deadline_ms);
  double shutdown_ms = now_ms() - t1;
  printf("{\"runs_ms\":%.3f,\"shutdown_ms\":%.3f,\"ok\":%d,\"started\":%llu,\"dropped_before_shutdown\":%llu,"
         "\"requests\":%llu,\"failures\":%llu,\"exported\":%llu,\"rejected_spans\":%llu,"
         "\"rejected_points\":%llu}\n",
         runs_ms, shutdown_ms, ok, (unsigned long long)stats.spans_started,
         (unsigned long long)stats.spans_dropped, (unsigned long long)stats.export_requests,
         (unsigned long long)stats.export_failures, (unsigned long long)stats.spans_exported,
         (unsigned long long)stats.spans_rejected, (unsigned long long)stats.data_points_rejected);
  hl_agent_unref(agent);
  hl_tool_unref(add);
  hl_provider_unref(script);
  return ok == n ? 0 : 1;
}

/* N runs of scenario (b) with an exporter configured by the environment
 * alone, then SLEEP ms without a flush (what the OTEL_* timers and sizes
 * did by then is what the counters say), then a shutdown of 2 s. */
static int scenario_env(int n, int sleep_ms) {
  hl_otel *otel = start_otel(NULL);
  hl_provider *script;
  hl_tool *add;
  hl_agent *agent = agent_b("enver", &script, &add);
  int ok = 0;
  for (int i = 0; i < n; i++) {
    char *answer = NULL;
    if (hl_agent_run(agent, NULL, "go", &answer) == HL_OK && strcmp(answer, "done") == 0) ok++;
    hl_free(answer);
  }
  struct timespec ts = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  hl_otel_stats stats = {.size = sizeof stats};
  hl_otel_get_stats(otel, &stats);
  int enabled = hl_otel_enabled(otel) ? 1 : 0;
  hl_observer_clear_global();
  hl_otel_shutdown(otel, 2000);
  printf("{\"ok\":%d,\"enabled\":%d,\"started\":%llu,\"exported\":%llu,\"dropped\":%llu,\"failures\":%llu,"
         "\"metric_exports\":%llu}\n",
         ok, enabled, (unsigned long long)stats.spans_started,
         (unsigned long long)stats.spans_exported, (unsigned long long)stats.spans_dropped,
         (unsigned long long)stats.export_failures, (unsigned long long)stats.metric_exports);
  hl_agent_unref(agent);
  hl_tool_unref(add);
  hl_provider_unref(script);
  return ok == n ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *s = argc > 1 ? argv[1] : "";
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(s, "tree") == 0) return scenario_tree();
  if (strcmp(s, "fail") == 0) return scenario_fail();
  if (strcmp(s, "remote") == 0) return scenario_remote();
  if (strcmp(s, "hooks") == 0) return scenario_hooks();
  if (strcmp(s, "env") == 0) return scenario_env(argc > 2 ? atoi(argv[2]) : 4, argc > 3 ? atoi(argv[3]) : 700);
  if (strcmp(s, "load") == 0) {
    bool lossy = false, flush = false;
    unsigned timeout_ms = 3000;
    for (int i = 4; i < argc; i++) {
      lossy |= strcmp(argv[i], "lossy") == 0;
      flush |= strcmp(argv[i], "flush") == 0;
      if (strncmp(argv[i], "timeout=", 8) == 0) timeout_ms = (unsigned)atoi(argv[i] + 8);
    }
    return scenario_load(argc > 2 ? atoi(argv[2]) : 50, argc > 3 ? (unsigned)atoi(argv[3]) : 500, lossy,
                         flush, timeout_ms);
  }
  fprintf(stderr, "usage: otel_run tree|fail|remote|hooks|load [N]\n");
  return 2;
}
