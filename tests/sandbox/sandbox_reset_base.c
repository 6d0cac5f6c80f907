/*
 * tests/sandbox/sandbox_reset_base.c - hl_sandbox_reset() from the
 * sandbox's base (lib/sandbox/sandbox.c: from the second reset on, a
 * reset maps a snapshot of a fresh instance that already holds the
 * callbacks' definitions instead of defining them again): every reset
 * still gives a fresh session with the current callbacks and a freshly
 * seeded Math.random, also after tools are added or removed, after a
 * hard stop resets the session, and for a sandbox made from a snapshot.
 */
#include <hookline/json.h>
#include <hookline/sandbox.h>
#include <hookline/tool.h>

#include "check.h"

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx;
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "by", ud);
  cJSON_AddNumberToObject(*result, "n", hl_json_get_number(args, "n", -1));
  return *result ? HL_OK : hl_fail(HL_ERR_NOMEM, "echo: out of memory");
}

static void add(hl_sandbox *sb, const char *name) {
  hl_tool *t = hl_tool_new(name, "echoes n", echo_fn, (void *)name);
  REQUIRE(t && hl_tool_set_schema(t, "{\"type\":\"object\"}") == HL_OK);
  CHECK_INT(hl_sandbox_add_tool(sb, t, NULL), HL_OK);
  hl_tool_unref(t);
}

/* The completion value of `code` (caller frees), "" on failure. */
static char *value(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, NULL, code, &r);
  if (st != HL_OK)
    fprintf(stderr, "  %s: %s\n", code, hl_last_error());
  char *v = strdup(st == HL_OK && r.value_json ? r.value_json : "");
  hl_sandbox_result_clear(&r);
  return v;
}

static void expect(hl_sandbox *sb, const char *code, const char *want) {
  char *v = value(sb, code);
  CHECK_STR(v, want);
  free(v);
}

/* What a fresh session with the one callback "echo" answers. */
static const char *FRESH =
    "[typeof leaked, listCallbacks().map(c => c.name).join(','),"
    " (await echo({n: 7})).n]";

static void resets_are_fresh_with_callbacks_and_new_seeds(void) {
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  add(sb, "echo");
  enum { N = 6 };
  char *randoms[N];
  for (int i = 0; i < N; i++) {
    /* The session the previous round left behind is gone. */
    expect(sb, FRESH, "[\"undefined\",\"echo\",7]");
    randoms[i] = value(sb, "globalThis.leaked = 1; echo = null; Math.random()");
    CHECK(randoms[i][0] != '\0');
    for (int j = 0; j < i; j++)
      CHECK(strcmp(randoms[i], randoms[j]) != 0); /* reseeded every time */
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  }
  for (int i = 0; i < N; i++)
    free(randoms[i]);
  hl_sandbox_free(sb);
}

static void tools_added_or_removed_after_the_base_count(void) {
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  add(sb, "echo");
  for (int i = 0; i < 3; i++) { /* the base holds "echo" */
    expect(sb, FRESH, "[\"undefined\",\"echo\",7]");
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  }
  add(sb, "twice");
  for (int i = 0; i < 3; i++) {
    expect(sb, "[listCallbacks().map(c => c.name).join(','), (await twice({n: 2})).by]",
           "[\"echo,twice\",\"twice\"]");
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  }
  CHECK_INT(hl_sandbox_remove_tool(sb, "echo"), HL_OK);
  for (int i = 0; i < 3; i++) {
    expect(sb, "[typeof echo, listCallbacks().map(c => c.name).join(',')]",
           "[\"undefined\",\"twice\"]");
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  }
  hl_sandbox_free(sb);
}

static void a_hard_stop_resets_to_a_fresh_session(void) {
  hl_sandbox_limits lim;
  hl_sandbox_limits_default(&lim);
  /* Long enough for the other executions on a loaded machine. */
  lim.timeout_ms = 1000;
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(&lim, &sb) == HL_OK);
  add(sb, "echo");
  /* The first stop's reset makes the second fresh instance, which becomes
   * the base; the second stop's reset starts from it. */
  for (int i = 0; i < 2; i++) {
    expect(sb, "globalThis.leaked = 1; (await echo({n: 1})).n", "1");
    /* A built-in over a big string does not poll: the watchdog traps it
     * and the session is reset (from the base once there is one). */
    hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
    hl_sandbox_execute(sb, NULL,
                       "const s = 'x'.repeat(4e6); let n = 0; for (;;) n += s.indexOf('y')", &r);
    CHECK_INT(r.status, HL_ERR_TIMEOUT);
    hl_sandbox_result_clear(&r);
    expect(sb, FRESH, "[\"undefined\",\"echo\",7]");
  }
  hl_sandbox_free(sb);
}

static void a_sandbox_from_a_snapshot_keeps_its_state(void) {
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  expect(sb, "globalThis.kept = 'from the snapshot'; 1", "1");
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  hl_sandbox_free(sb);
  REQUIRE(hl_sandbox_new_from_snapshot(snap, NULL, &sb) == HL_OK);
  hl_sandbox_snapshot_free(snap); /* the sandbox keeps its own reference */
  add(sb, "echo");
  for (int i = 0; i < 4; i++) {
    expect(sb, "[kept, typeof leaked, (await echo({n: 3})).n]",
           "[\"from the snapshot\",\"undefined\",3]");
    expect(sb, "globalThis.leaked = 1; 2", "2");
    CHECK_INT(hl_sandbox_reset(sb), HL_OK);
  }
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(resets_are_fresh_with_callbacks_and_new_seeds);
  RUN(tools_added_or_removed_after_the_base_count);
  RUN(a_hard_stop_resets_to_a_fresh_session);
  RUN(a_sandbox_from_a_snapshot_keeps_its_state);
  return CHECK_EXIT();
}
