/*
 * tests/sandbox/sandbox_parallel.c - callbacks awaited together run at the
 * same time on the library's worker pool; per-callback timeouts (an
 * abandoned call's thread leaves room in the pool); sandboxes on many
 * threads at once.
 */
#include <hookline/sandbox.h>
#include <hookline/json.h>
#include <hookline/run.h>
#include <hookline/tool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "overlap.h"

static atomic_int finished, gate_open;

/* Records how many calls overlap, waits (up to 5 s) for `peers` calls to
 * be running at once, so a loaded machine cannot make concurrent calls
 * look sequential, then sleeps `ms` milliseconds. Calls that ran one after
 * the other never meet: the count then stays at 1. */
static hl_status slow_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  overlap_enter();
  /* gate: hang (up to 10 s) until the test opens the gate, so that a
   * timeout is certain however slow the machine. */
  if (hl_json_get_bool(args, "gate", false))
    for (int waited = 0; waited < 10000 && !atomic_load(&gate_open); waited++)
      sleep_ms(1);
  overlap_await((int)hl_json_get_number(args, "peers", 1));
  sleep_ms((unsigned)hl_json_get_number(args, "ms", 100));
  overlap_leave();
  atomic_fetch_add(&finished, 1);
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "url", hl_json_get_string(args, "url"));
  return HL_OK;
}

static hl_sandbox *sandbox_with_slow(unsigned callback_timeout_ms) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.callback_timeout_ms = callback_timeout_ms;
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(&l, &sb) != HL_OK)
    return NULL;
  hl_tool *t = hl_tool_new("fetch_data", "Slow fetch", slow_fn, NULL);
  if (!t || hl_tool_param(t, "url", "string", "", true) ||
      hl_tool_param(t, "ms", "integer", "", false) ||
      hl_tool_param(t, "peers", "integer", "", false) ||
      hl_tool_param(t, "gate", "boolean", "", false) || hl_sandbox_add_tool(sb, t, NULL)) {
    hl_tool_unref(t);
    hl_sandbox_free(sb);
    return NULL;
  }
  hl_tool_unref(t); /* the sandbox holds its own reference */
  return sb;
}

static void promise_all_runs_callbacks_concurrently(void) {
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  hl_sandbox *sb = sandbox_with_slow(0);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "const results = await Promise.all([\n"
    "  fetch_data({url: 'http://api1', peers: 3}),\n"
    "  fetch_data({url: 'http://api2', peers: 3}),\n"
    "  fetch_data({url: 'http://api3', peers: 3}),\n"
    "]);\n"
    "results.map(r => r.url)", &r), HL_OK);
  CHECK_STR(r.value_json, "[\"http://api1\",\"http://api2\",\"http://api3\"]");
  CHECK_INT(r.callback_count, 3);
  CHECK_INT(atomic_load(&max_running), 3);
  hl_sandbox_result_clear(&r);

  /* Sequential awaits never overlap. */
  atomic_store(&max_running, 0);
  CHECK_INT(hl_sandbox_execute(sb, NULL, "await fetch_data({url: 'a', ms: 5}); await fetch_data({url: 'b', ms: 5}); 1",
                               &r), HL_OK);
  CHECK_INT(atomic_load(&max_running), 1);
  hl_sandbox_result_clear(&r);

  /* A mix: a failing call among parallel ones rejects only its promise. */
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "const rs = await Promise.allSettled([fetch_data({url: 'x', ms: 1}), fetch_data({}),\n"
    "                                     fetch_data({url: 'y', ms: 1})]);\n"
    "rs.map(r => r.status === 'fulfilled' ? r.value.url : r.reason.kind)", &r), HL_OK);
  CHECK_STR(r.value_json, "[\"x\",\"InvalidArguments\",\"y\"]");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void slow_callback_times_out(void) {
  atomic_store(&finished, 0);
  atomic_store(&gate_open, 0);
  hl_sandbox *sb = sandbox_with_slow(300);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "let kind;\n"
    "try { await fetch_data({url: 'slow', gate: true, ms: 0}); } catch (e) { kind = e.kind + ': ' + e.message; }\n"
    "const fast = await fetch_data({url: 'fast', ms: 1});\n"
    "[kind, fast.url]", &r), HL_OK);
  CHECK_CONTAINS(r.value_json, "Timeout: fetch_data: callback timed out after 300 ms");
  CHECK_CONTAINS(r.value_json, "\"fast\"");
  hl_sandbox_result_clear(&r);
  /* The sandbox can go away while the abandoned call still runs. */
  hl_sandbox_free(sb);
  atomic_store(&gate_open, 1);
  for (int i = 0; i < 1000 && atomic_load(&finished) < 2; i++)
    sleep_ms(10);
  CHECK_INT(atomic_load(&finished), 2);
}

static void many_parallel_calls_share_a_bounded_pool(void) {
  atomic_store(&running, 0);
  atomic_store(&max_running, 0);
  hl_sandbox *sb = sandbox_with_slow(0);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "const urls = Array.from({length: 40}, (_, i) => 'u' + i);\n"
    "const rs = await Promise.all(urls.map(url => fetch_data({url, ms: 5, peers: 16})));\n"
    "rs.map(r => r.url).join() === urls.join()", &r), HL_OK);
  CHECK_STR(r.value_json, "true");
  CHECK_INT(r.callback_count, 40);
  /* 16 at once (they waited to meet), never more. */
  CHECK_INT(atomic_load(&max_running), 16);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void timeouts_free_the_pool_for_waiting_calls(void) {
  atomic_store(&finished, 0);
  atomic_store(&gate_open, 0);
  hl_sandbox *sb = sandbox_with_slow(500);
  REQUIRE(sb);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  /* 16 calls that hang occupy every worker; the 4 behind them still run
   * once the hanging ones are abandoned. */
  CHECK_INT(hl_sandbox_execute(sb, NULL,
    "const calls = [];\n"
    "for (let i = 0; i < 16; i++) calls.push(fetch_data({url: 'slow' + i, gate: true, ms: 0}));\n"
    "for (let i = 0; i < 4; i++) calls.push(fetch_data({url: 'fast' + i, ms: 1}));\n"
    "const rs = await Promise.allSettled(calls);\n"
    "rs.map(r => r.status === 'fulfilled' ? r.value.url : r.reason.kind).join()", &r), HL_OK);
  CHECK_STR(r.value_json, "\"Timeout,Timeout,Timeout,Timeout,Timeout,Timeout,Timeout,Timeout,"
                          "Timeout,Timeout,Timeout,Timeout,Timeout,Timeout,Timeout,Timeout,"
                          "fast0,fast1,fast2,fast3\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
  atomic_store(&gate_open, 1);
  for (int i = 0; i < 1000 && atomic_load(&finished) < 20; i++)
    sleep_ms(10);
  CHECK_INT(atomic_load(&finished), 20);
}

/* Many sandboxes on many threads: no shared state, no interference. */
static void *thread_main(void *arg) {
  long id = (long)arg;
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(NULL, &sb) != HL_OK)
    return (void *)1;
  long bad = 0;
  char code[160];
  for (int round = 0; round < 20; round++) {
    snprintf(code, sizeof code, "globalThis.acc = (globalThis.acc || 0) + %ld; "
             "[acc, (() => { let s = 0; for (let i = 0; i < 1000; i++) s += i; return s; })()]", id);
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    hl_sandbox_execute(sb, NULL, code, &r);
    char want[64];
    snprintf(want, sizeof want, "[%ld,499500]", id * (round + 1));
    if (r.status != HL_OK || !r.value_json || strcmp(r.value_json, want) != 0)
      bad++;
    hl_sandbox_result_clear(&r);
  }
  hl_sandbox_free(sb);
  return (void *)bad;
}

static void sandboxes_on_eight_threads(void) {
  pthread_t t[8];
  for (long i = 0; i < 8; i++)
    REQUIRE(pthread_create(&t[i], NULL, thread_main, (void *)(i + 1)) == 0);
  for (int i = 0; i < 8; i++) {
    void *bad = NULL;
    pthread_join(t[i], &bad);
    CHECK(bad == NULL);
  }
}

int main(void) {
  /* Callbacks run on the library's worker pool (hl_set_worker_threads):
   * 16 at once need a pool of 16 (the caller takes a share too). */
  CHECK_INT(hl_set_worker_threads(16), HL_OK);
  RUN(promise_all_runs_callbacks_concurrently);
  RUN(slow_callback_times_out);
  RUN(many_parallel_calls_share_a_bounded_pool);
  RUN(timeouts_free_the_pool_for_waiting_calls);
  RUN(sandboxes_on_eight_threads);
  return CHECK_EXIT();
}
