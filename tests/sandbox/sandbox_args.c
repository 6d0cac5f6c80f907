/*
 * tests/sandbox/sandbox_args.c - a callback's arguments reach the tool as
 * JSON.stringify would have written them, whichever side writes the text:
 * the host writes a plain object's members itself (qjs_args_json.c), the
 * prelude's JSON.stringify writes everything else. Each case sends the
 * same data twice, as a plain object (the host's path) and with a null
 * prototype (JSON.stringify's path), to a tool that echoes its arguments,
 * and compares what came back; getters and toJSON run once either way.
 */
#include <hookline/sandbox.h>
#include <hookline/tool.h>

#include "check.h"

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_Duplicate(args, 1);
  return *result ? HL_OK : HL_ERR_NOMEM;
}

/* `make` is a JavaScript function expression returning a fresh object. */
static void same_both_ways(hl_sandbox *sb, const char *make) {
  char code[2048];
  snprintf(code, sizeof code,
           "const make = %s;\n"
           "async function send(o) {\n"
           "  try { return JSON.stringify(await echo(o)); }\n"
           "  catch (e) { return 'error ' + e.kind + ' ' + e.message; }\n"
           "}\n"
           "const plain = await send(make());\n"
           "const o = make(); Object.setPrototypeOf(o, null);\n"
           "const other = await send(o);\n"
           "plain === other ? plain : 'differ: ' + plain + ' | ' + other;\n",
           make);
  /* A block scope per case: the sandbox keeps its globals. */
  char wrapped[2200];
  snprintf(wrapped, sizeof wrapped, "{\n%s}", code);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  CHECK_INT(hl_sandbox_execute(sb, NULL, wrapped, &r), HL_OK);
  const char *v = r.value_json ? r.value_json : "(none)";
  if (strstr(v, "differ"))
    fprintf(stderr, "case %s: %s\n", make, v);
  CHECK(strstr(v, "differ") == NULL);
  hl_sandbox_result_clear(&r);
}

/* NULL when it cannot be made (the caller's REQUIRE reports it). */
static hl_sandbox *new_echo_sandbox(void) {
  hl_sandbox *sb = NULL;
  hl_tool *echo = hl_tool_new("echo", "Echoes its arguments", echo_fn, NULL);
  if (!echo || hl_sandbox_new(NULL, &sb) != HL_OK || hl_sandbox_add_tool(sb, echo, NULL) != HL_OK) {
    hl_sandbox_free(sb);
    sb = NULL;
  }
  hl_tool_unref(echo);
  return sb;
}

static void members_of_every_kind(void) {
  hl_sandbox *sb = new_echo_sandbox();
  REQUIRE(sb != NULL);
  same_both_ways(sb, "() => ({x: 41})");
  same_both_ways(sb, "() => ({})");
  same_both_ways(sb, "() => ({a: -2147483648, b: 2147483647, c: 2147483648, d: -0, e: 0.1 + 0.2, "
                     "f: 1e21, g: 5e-324, h: NaN, i: -Infinity, j: true, k: false, l: null})");
  same_both_ways(sb, "() => ({u: undefined, f() {}, s: Symbol('x'), [Symbol('k')]: 1, v: 2})");
  same_both_ways(sb, "() => ({s: 'plain', q: 'quote \" back \\\\ slash', c: '\\b\\f\\n\\r\\t\\x01\\x1f', "
                     "u: 'é € 😀', l: 'line\\u2028sep', e: ''})");
  same_both_ways(sb, "() => ({'k\"ey': 1, 'ünï': 2, '': 3, 'a\\nb': 4})");
  same_both_ways(sb, "() => ({b: 1, 2: 'two', a: 2, 1: 'one', 10: 'ten'})");
  same_both_ways(sb, "() => ({n: {x: [1, {y: 2}], z: null}, a: [], d: new Date(0)})");
  same_both_ways(sb, "() => ({r: 'x'.repeat(3000) + 'y'.repeat(3000)})");
  same_both_ways(sb, "() => ({k: {toJSON(key) { return 'key ' + key; }}})");
  same_both_ways(sb, "() => { const o = {a: 1}; Object.defineProperty(o, 'hidden', "
                     "{value: 2, enumerable: false}); return o; }");
  /* What the host cannot take: errors, the same either way. */
  same_both_ways(sb, "() => ({z: 'nul\\u0000inside'})");
  same_both_ways(sb, "() => ({s: 'lone \\ud800 surrogate'})");
  same_both_ways(sb, "() => ({b: 10n})");
  same_both_ways(sb, "() => { const o = {a: {}}; o.a.back = o; return o; }");
  same_both_ways(sb, "() => ({get bad() { throw new Error('no'); }})");
  hl_sandbox_free(sb);
}

static void getters_run_once(void) {
  hl_sandbox *sb = new_echo_sandbox();
  REQUIRE(sb != NULL);
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  /* Each getter once, in key order, before and after a delegated member;
   * a getter that makes a callback call of its own (with an object, while
   * the host writes the outer one) gets its answer too. */
  CHECK_INT(hl_sandbox_execute(sb, NULL,
      "const seen = [];\n"
      "const inner = [];\n"
      "const o = {get a() { seen.push('a'); return 1; },\n"
      "           get b() { seen.push('b'); return {c: 2}; },\n"
      "           get d() { seen.push('d'); inner.push(echo({q: 3})); return 4; }};\n"
      "const back = await echo(o);\n"
      "const q = await inner[0];\n"
      "JSON.stringify({back, q, seen});", &r), HL_OK);
  CHECK_STR(r.value_json ? r.value_json : "(none)",
            "\"{\\\"back\\\":{\\\"a\\\":1,\\\"b\\\":{\\\"c\\\":2},\\\"d\\\":4},"
            "\\\"q\\\":{\\\"q\\\":3},\\\"seen\\\":[\\\"a\\\",\\\"b\\\",\\\"d\\\"]}\"");
  CHECK_INT((long)r.callback_count, 2);
  hl_sandbox_result_clear(&r);
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(members_of_every_kind);
  RUN(getters_run_once);
  return CHECK_EXIT();
}
