/*
 * tests/sandbox/sandbox_basic.c - the sandbox's JavaScript surface:
 * evaluation, console capture, tools as async functions with schemas,
 * tool errors as catchable exceptions, listCallbacks(), sessions and
 * reset; failures leave their reason in hl_last_error().
 */
#include <hookline/sandbox.h>
#include <hookline/json.h>
#include <hookline/tool.h>
#include <stdatomic.h>

#include "check.h"

static hl_sandbox *new_sandbox(void) {
  hl_sandbox *sb = NULL;
  hl_status st = hl_sandbox_new(NULL, &sb);
  if (st)
    fprintf(stderr, "hl_sandbox_new: %s\n", hl_last_error());
  return sb;
}

/* Run `code`, expect `status`, return the result (caller clears). */
static hl_sandbox_result run(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, code, &r);
  return r;
}

static void eval_returns_value_as_json(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb, "1+2");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "3");
    hl_sandbox_result_clear(&r);

  r = run(sb, "({a: [1, 'two', null], b: {c: true}})");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "{\"a\":[1,\"two\",null],\"b\":{\"c\":true}}");
  hl_sandbox_result_clear(&r);

  r = run(sb, "let nothing; undefined");
  CHECK_INT(r.status, HL_OK);
  CHECK(r.value_json == NULL);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void console_is_captured(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb, "console.log('hello', 42, {k: 'v'}); console.error('oops'); "
                                "console.info('info'); console.warn('warn')");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.stdout_text, "hello 42 {\"k\":\"v\"}\ninfo\n");
  CHECK_INT(r.stdout_len, strlen("hello 42 {\"k\":\"v\"}\ninfo\n"));
  CHECK_STR(r.stderr_text, "oops\nwarn\n");
  hl_sandbox_result_clear(&r);
  /* Output belongs to one execution. */
  r = run(sb, "2");
  CHECK_STR(r.stdout_text, "");
  CHECK_STR(r.stderr_text, "");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void exceptions_and_syntax_errors(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb, "console.log('before'); throw new TypeError('boom')");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "TypeError: boom");
  CHECK_STR(r.stdout_text, "before\n");
  CHECK(r.value_json == NULL);
  hl_sandbox_result_clear(&r);

  r = run(sb, "let = = 1;");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "SyntaxError");
  hl_sandbox_result_clear(&r);

  r = run(sb, "throw 'plain string'");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "plain string");
  hl_sandbox_result_clear(&r);

  /* A thrown value with no text at all still fails with a reason (a
   * failure with an empty message was found by fuzz_sandbox_source). */
  const char *empty[] = {"console; throw('')", "await Promise.reject('')",
                         "throw {toString() { return '' }}"};
  for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
    r = run(sb, empty[i]);
    CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
    CHECK_INT(hl_last_status(), HL_ERR_EXECUTION_FAILED);
    CHECK_CONTAINS(hl_last_error(), "threw a value whose text is empty");
    hl_sandbox_result_clear(&r);
  }

  /* Still usable afterwards. */
  r = run(sb, "'alive'");
  CHECK_STR(r.value_json, "\"alive\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

/* ---- callbacks ---- */

static atomic_int echo_calls;

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  const char *name = ud ? ud : "?";
  atomic_fetch_add(&echo_calls, 1);
  const char *msg = hl_json_get_string(args, "message");
  int repeat = (int)hl_json_get_number(args, "repeat", 1);
  char buf[256] = "";
  for (int i = 0; i < repeat && strlen(buf) + strlen(msg) < sizeof buf; i++)
    strcat(buf, msg);
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "echoed", buf);
  cJSON_AddStringToObject(*result, "by", name);
  return HL_OK;
}

static hl_status get_time_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args;
  *result = cJSON_CreateObject();
  cJSON_AddNumberToObject(*result, "timestamp", *(double *)ud);
  return HL_OK;
}

static hl_status fail_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud, (void)result;
  if (hl_json_get_bool(args, "timeout", false))
    return hl_fail(HL_ERR_TIMEOUT, "took too long");
  return hl_fail(HL_ERR_EXECUTION_FAILED, "disk full: %s", hl_json_get_string(args, "path"));
}

static int freed;
static void count_free(void *ud) {
  (void)ud;
  freed++;
}

/* Add `t` (NULL: a failed hl_tool_new) and drop the caller's reference:
 * the sandbox keeps its own. */
static hl_status add(hl_sandbox *sb, hl_tool *t, const char *js_name) {
  hl_status st = t ? hl_sandbox_add_tool(sb, t, js_name) : hl_last_status();
  hl_tool_unref(t);
  return st;
}

static hl_sandbox *sandbox_with_callbacks(double *now) {
  hl_sandbox *sb = new_sandbox();
  if (!sb)
    return NULL;
  /* The tool's own name differs from its JavaScript name. */
  hl_tool *echo = hl_tool_new("echo-tool", "Echoes the message back", echo_fn, "echo");
  if (!echo)
    return sb;
  hl_tool_set_free_fn(echo, count_free);
  CHECK_INT(hl_tool_param(echo, "message", "string", "What to echo", true), HL_OK);
  CHECK_INT(hl_tool_param(echo, "repeat", "integer", "How often", false), HL_OK);
  CHECK_INT(add(sb, echo, "echo"), HL_OK);
  CHECK_INT(add(sb, hl_tool_new("get_time", "Returns a timestamp", get_time_fn, now), NULL), HL_OK);
  hl_tool *fail = hl_tool_new("may_fail", "Fails", fail_fn, NULL);
  if (!fail)
    return sb;
  CHECK_INT(hl_tool_set_schema(fail,
            "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
            "\"timeout\":{\"type\":\"boolean\"}},\"additionalProperties\":false}"), HL_OK);
  CHECK_INT(add(sb, fail, NULL), HL_OK);
  return sb;
}

static void callbacks_are_async_functions(void) {
  double now = 1700000000.5;
  atomic_store(&echo_calls, 0);
  hl_sandbox *sb = sandbox_with_callbacks(&now);
  REQUIRE(sb);
  hl_sandbox_result r = run(sb,
    "const t = await get_time();\n"
    "console.log('Time:', t.timestamp);\n"
    "const e = await echo({message: 'hi', repeat: 3});\n"
    "console.log('Echo:', e.echoed);\n"
    "[typeof echo, echo.constructor.name, e.by]");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.stdout_text, "Time: 1700000000.5\nEcho: hihihi\n");
  CHECK_STR(r.value_json, "[\"function\",\"AsyncFunction\",\"echo\"]");
  CHECK_INT(r.callback_count, 2);
  CHECK_INT(atomic_load(&echo_calls), 1);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
  CHECK_INT(freed, 1); /* echo's free function ran once, with the last reference */
  freed = 0;
}

static void invalid_arguments_are_catchable(void) {
  double now = 0;
  atomic_store(&echo_calls, 0);
  hl_sandbox *sb = sandbox_with_callbacks(&now);
  REQUIRE(sb);
  hl_sandbox_result r = run(sb,
    "let out = [];\n"
    "try { await echo({message: 5}); } catch (e) { out.push(e.kind, e.message); }\n"
    "try { await echo({}); } catch (e) { out.push(e.kind); }\n"
    "try { await may_fail({path: '/x', extra: 1}); } catch (e) { out.push(e.kind); }\n"
    "out");
  CHECK_INT(r.status, HL_OK);
  CHECK_CONTAINS(r.value_json, "\"InvalidArguments\"");
  CHECK_CONTAINS(r.value_json, "message");   /* the offending path is named */
  CHECK_CONTAINS(r.value_json, "expected string");
  CHECK_CONTAINS(r.value_json, ",\"InvalidArguments\",\"InvalidArguments\"]");
  CHECK_INT(atomic_load(&echo_calls), 0);  /* the function never ran */
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
  freed = 0;
}

static void callback_failures_throw_with_kind(void) {
  double now = 0;
  hl_sandbox *sb = sandbox_with_callbacks(&now);
  REQUIRE(sb);
  hl_sandbox_result r = run(sb,
    "let kinds = [];\n"
    "try { await may_fail({path: '/tmp/a'}); } catch (e) {\n"
    "  kinds.push(e instanceof Error, e.kind, e.message); }\n"
    "try { await may_fail({timeout: true}); } catch (e) { kinds.push(e.kind, e.message); }\n"
    "kinds");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[true,\"ExecutionFailed\",\"disk full: /tmp/a\",\"Timeout\",\"took too long\"]");
  hl_sandbox_result_clear(&r);

  /* Uncaught, the kind becomes the execution's status. */
  r = run(sb, "await echo({message: 1})");
  CHECK_INT(r.status, HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "CallbackError");
  hl_sandbox_result_clear(&r);
  r = run(sb, "await may_fail({path: 'p'})");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "disk full: p");
  hl_sandbox_result_clear(&r);

  /* A callback removed on the host but still referenced in JavaScript. */
  r = run(sb, "globalThis.keep = get_time; 1");
  hl_sandbox_result_clear(&r);
  CHECK_INT(hl_sandbox_remove_tool(sb, "get_time"), HL_OK);
  r = run(sb, "let k; try { await keep(); } catch (e) { k = e.kind } [k, typeof get_time]");
  CHECK_STR(r.value_json, "[\"NotFound\",\"undefined\"]");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
  freed = 0;
}

static void list_callbacks_describes_them(void) {
  double now = 0;
  hl_sandbox *sb = sandbox_with_callbacks(&now);
  REQUIRE(sb);
  hl_sandbox_result r = run(sb,
    "const cbs = listCallbacks();\n"
    "cbs.map(c => c.name + ':' + c.description + ':' + Object.keys(c.parameters.properties || {}).join(','))");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[\"echo:Echoes the message back:message,repeat\","
                          "\"get_time:Returns a timestamp:\",\"may_fail:Fails:path,timeout\"]");
  hl_sandbox_result_clear(&r);
  r = run(sb, "listCallbacks()[0].parameters.required");
  CHECK_STR(r.value_json, "[\"message\"]");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
  freed = 0;
}

static void registration_rejects_bad_input(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_tool *dashed = hl_tool_new("bad-name", "", echo_fn, NULL);
  hl_tool *ok = hl_tool_new("ok", NULL, echo_fn, NULL);
  REQUIRE(dashed && ok);
  /* A tool name that is no JavaScript name needs a js_name. */
  CHECK_INT(hl_sandbox_add_tool(sb, dashed, NULL), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "give one as js_name");
  CHECK_INT(hl_sandbox_add_tool(sb, dashed, "console"), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_add_tool(sb, dashed, ""), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_add_tool(sb, NULL, "x"), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_add_tool(NULL, ok, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_add_tool(sb, ok, NULL), HL_OK);
  CHECK_INT(hl_sandbox_add_tool(sb, dashed, "ok"), HL_ERR_EXISTS);
  CHECK_CONTAINS(hl_last_error(), "\"ok\" exists");
  CHECK_INT(hl_sandbox_add_tool(sb, dashed, "bad_name"), HL_OK);
  CHECK_INT(hl_sandbox_tool_count(sb), 2);
  CHECK_INT(hl_sandbox_remove_tool(sb, "nope"), HL_ERR_NOT_FOUND);
  CHECK_INT(hl_sandbox_remove_tool(sb, "bad_name"), HL_OK);
  CHECK_INT(hl_sandbox_tool_count(sb), 1);
  hl_tool_unref(dashed);
  hl_tool_unref(ok); /* the sandbox still holds "ok" */
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, NULL, &r), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "code is NULL");
  CHECK_INT(r.status, HL_ERR_INVALID);
  CHECK_STR(r.stdout_text, "");
  hl_sandbox_result_clear(&r);
  CHECK_INT(r.size, sizeof r); /* clearing keeps the version */
  CHECK_INT(hl_sandbox_execute(NULL, NULL, "1", &r), HL_ERR_INVALID);
  hl_sandbox_result_clear(&r);
  /* A result or limits without their size are refused, not guessed at. */
  hl_sandbox_result unsized;
  memset(&unsized, 0, sizeof unsized);
  CHECK_INT(hl_sandbox_execute(sb, NULL, "1", &unsized), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "HL_SANDBOX_RESULT_INIT");
  CHECK(unsized.stdout_text == NULL);
  hl_sandbox_limits bare;
  memset(&bare, 0, sizeof bare);
  hl_sandbox *none = NULL;
  CHECK_INT(hl_sandbox_new(&bare, &none), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "hl_sandbox_limits_default");
  CHECK(none == NULL);
  hl_sandbox_free(sb);
  hl_sandbox_free(NULL);
}

/* A caller compiled against an older, shorter hl_sandbox_result (here:
 * one that ends before duration_us) gets the fields it knows and nothing
 * written past them; a shorter hl_sandbox_limits keeps the defaults of the
 * fields it lacks. */
static void older_struct_versions_are_honoured(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  struct {
    hl_sandbox_result r;
    unsigned char guard[sizeof(hl_sandbox_result)];
  } old;
  memset(&old, 0xA5, sizeof old);
  old.r.size = offsetof(hl_sandbox_result, duration_us);
  old.r.stdout_text = NULL;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "console.log('v1'); 40 + 2", &old.r), HL_OK);
  CHECK_STR(old.r.stdout_text, "v1\n");
  CHECK_STR(old.r.value_json, "42");
  /* Bytes from duration_us on are the caller's, untouched. */
  const unsigned char *tail = (const unsigned char *)&old.r + old.r.size;
  size_t untouched = 0;
  for (size_t i = 0; i < sizeof old - old.r.size; i++)
    untouched += tail[i] == 0xA5;
  CHECK_INT(untouched, sizeof old - old.r.size);
  hl_sandbox_result_clear(&old.r);
  CHECK_INT(old.r.size, offsetof(hl_sandbox_result, duration_us));
  CHECK(old.r.value_json == NULL);
  hl_sandbox_free(sb);

  /* Limits that end before max_callbacks: the callback limit is the
   * default (1000), not whatever followed in memory. */
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.timeout_ms = 20000;
  l.max_callbacks = 3;  /* beyond the size given: must be ignored */
  l.size = offsetof(hl_sandbox_limits, max_callbacks);
  REQUIRE(hl_sandbox_new(&l, &sb) == HL_OK);
  static double one = 1;
  CHECK_INT(add(sb, hl_tool_new("get_time", "", get_time_fn, &one), NULL), HL_OK);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, "for (let i = 0; i < 10; i++) await get_time(); 'ten'", &r),
            HL_OK);
  CHECK_STR(r.value_json, "\"ten\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void sessions_persist_and_reset_clears(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb, "let counter = 10; function bump(n) { counter += n; return counter; }\n"
                                "var v = 'var'; const c = 'const'; 'defined'");
  CHECK_INT(r.status, HL_OK);
  hl_sandbox_result_clear(&r);
  r = run(sb, "bump(5)");
  CHECK_STR(r.value_json, "15");
  hl_sandbox_result_clear(&r);
  r = run(sb, "[bump(1), v, c]");
  CHECK_STR(r.value_json, "[16,\"var\",\"const\"]");
  hl_sandbox_result_clear(&r);

  CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  r = run(sb, "[typeof counter, typeof bump, typeof v, typeof console.log]");
  CHECK_STR(r.value_json, "[\"undefined\",\"undefined\",\"undefined\",\"function\"]");
  hl_sandbox_result_clear(&r);

  /* Two sandboxes never share state. */
  hl_sandbox *other = new_sandbox();
  REQUIRE(other);
  r = run(sb, "globalThis.mine = 1; 0");
  hl_sandbox_result_clear(&r);
  r = run(other, "typeof mine");
  CHECK_STR(r.value_json, "\"undefined\"");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(other);
  hl_sandbox_free(sb);
}

static void top_level_await_and_promises(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb, "const x = await Promise.resolve(20); x + await (async () => 22)()");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "42");
  hl_sandbox_result_clear(&r);
  r = run(sb, "await new Promise(() => {})");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "never settle");
  hl_sandbox_result_clear(&r);
  r = run(sb, "await Promise.reject(new RangeError('nope'))");
  CHECK_INT(r.status, HL_ERR_EXECUTION_FAILED);
  CHECK_CONTAINS(hl_last_error(), "RangeError: nope");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void snapshots_carry_state(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb, "function helper(a) { return a * 2; } var seeded = 7; 0");
  hl_sandbox_result_clear(&r);
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  hl_sandbox_free(sb);

  hl_sandbox *a = NULL, *b = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(snap, NULL, &a) == HL_OK);
  REQUIRE(hl_sandbox_new_from_snapshot(snap, NULL, &b) == HL_OK);
  hl_sandbox_snapshot_free(snap);
  r = run(a, "seeded = helper(seeded); seeded");
  CHECK_STR(r.value_json, "14");
  hl_sandbox_result_clear(&r);
  r = run(b, "seeded"); /* copy-on-write: a's write is not visible in b */
  CHECK_STR(r.value_json, "7");
  hl_sandbox_result_clear(&r);
  /* reset goes back to the snapshot, not to an empty scope */
  CHECK_INT(hl_sandbox_reset(a), HL_OK);
  r = run(a, "seeded");
  CHECK_STR(r.value_json, "7");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(a);
  hl_sandbox_free(b);
}

static void no_host_objects_inside(void) {
  hl_sandbox *sb = new_sandbox();
  REQUIRE(sb);
  hl_sandbox_result r = run(sb,
    "[typeof require, typeof process, typeof fetch, typeof std, typeof os,\n"
    " typeof Function('return this')().process, typeof setTimeout,\n"
    " Object.getOwnPropertyNames(globalThis).filter(n => /host|hl_/i.test(n)).length]");
  CHECK_INT(r.status, HL_OK);
  CHECK_STR(r.value_json, "[\"undefined\",\"undefined\",\"undefined\",\"undefined\",\"undefined\","
                          "\"undefined\",\"undefined\",0]");
  hl_sandbox_result_clear(&r);
  r = run(sb, "await import('fs').then(() => 'loaded', e => 'refused: ' + e.message)");
  CHECK_INT(r.status, HL_OK);
  CHECK_CONTAINS(r.value_json, "refused");
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

static void random_is_seeded_per_sandbox(void) {
  hl_sandbox *a = new_sandbox(), *b = new_sandbox();
  REQUIRE(a && b);
  const char *code = "Array.from({length: 4}, () => Math.random())";
  hl_sandbox_result ra = run(a, code), rb = run(b, code);
  CHECK_INT(ra.status, HL_OK);
  CHECK(ra.value_json && rb.value_json && strcmp(ra.value_json, rb.value_json) != 0);
  hl_sandbox_result_clear(&ra);
  hl_sandbox_result_clear(&rb);
  ra = run(a, "const xs = Array.from({length: 10000}, Math.random);\n"
              "[xs.every(x => x >= 0 && x < 1), new Set(xs).size, xs.filter(x => x < 0.5).length > 4500]");
  CHECK_STR(ra.value_json, "[true,10000,true]");
  hl_sandbox_result_clear(&ra);
  /* Reset instances are reseeded too: without it both would replay the
   * snapshot's generator state. */
  CHECK_INT(hl_sandbox_reset(a), HL_OK);
  CHECK_INT(hl_sandbox_reset(b), HL_OK);
  ra = run(a, "Math.random()");
  rb = run(b, "Math.random()");
  CHECK(ra.value_json && rb.value_json && strcmp(ra.value_json, rb.value_json) != 0);
  hl_sandbox_result_clear(&ra);
  hl_sandbox_result_clear(&rb);
  hl_sandbox_free(a);
  hl_sandbox_free(b);
}

/* Resident memory of this process in bytes (Linux). */
static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return (size_t)resident * 4096u;
}

static void sandboxes_share_the_snapshot_copy_on_write(void) {
  /* Each sandbox's linear memory starts as a private mapping of the
   * snapshot: 100 live sandboxes that each ran code cost far less than
   * 100 copies of the 16 MiB initial memory. */
  enum { N = 100 };
  hl_sandbox *sbs[N] = {0};
  hl_sandbox *warm = new_sandbox(); /* the snapshot exists before measuring */
  REQUIRE(warm);
  size_t before = rss_bytes();
  for (int i = 0; i < N; i++) {
    sbs[i] = new_sandbox();
    REQUIRE(sbs[i]);
    hl_sandbox_result r = run(sbs[i], "let xs = []; for (let i = 0; i < 100; i++) xs.push({i}); xs.length");
    CHECK_STR(r.value_json, "100");
    hl_sandbox_result_clear(&r);
  }
  size_t grown = rss_bytes() - before;
  fprintf(stderr, "  %d sandboxes: %.1f MiB resident (%.0f KiB each)\n", N, grown / 1048576.0,
          grown / 1024.0 / N);
  CHECK(grown < (size_t)N * (2u << 20)); /* < 2 MiB each, vs 16 MiB copied */
  for (int i = 0; i < N; i++)
    hl_sandbox_free(sbs[i]);
  hl_sandbox_free(warm);
}

int main(void) {
  CHECK(hl_sandbox_available());
  RUN(eval_returns_value_as_json);
  RUN(console_is_captured);
  RUN(exceptions_and_syntax_errors);
  RUN(callbacks_are_async_functions);
  RUN(invalid_arguments_are_catchable);
  RUN(callback_failures_throw_with_kind);
  RUN(list_callbacks_describes_them);
  RUN(registration_rejects_bad_input);
  RUN(older_struct_versions_are_honoured);
  RUN(sessions_persist_and_reset_clears);
  RUN(top_level_await_and_promises);
  RUN(snapshots_carry_state);
  RUN(no_host_objects_inside);
  RUN(random_is_seeded_per_sandbox);
  RUN(sandboxes_share_the_snapshot_copy_on_write);
  return CHECK_EXIT();
}
