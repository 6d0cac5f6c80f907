/*
 * tests/sandbox/sandbox_code_memory.c - code mode with memory: within one
 * agent session, run_javascript keeps its JavaScript state from one call
 * to the next; `reset: true` forgets it; sessions do not see each other;
 * a session's state is bounded by the memory limit; a conversation
 * resumed in another process (here: the session serialised and read back,
 * served by a new code tool) is told that its state is gone, or has it
 * back when the tool keeps a state directory; the least recently used
 * session is dropped past the session bound; forget() drops one.
 * Every call goes through a real agent run with the scripted model.
 */
#include <hookline.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "code_tool_call.h"

static char tmpdir[64];

static hl_tool *code_tool(size_t memory_bytes) {
  hl_sandbox_limits limits;
  hl_sandbox_limits_default(&limits);
  if (memory_bytes)
    limits.memory_bytes = memory_bytes;
  return hl_sandbox_code_tool(&limits);
}

static char *call(hl_tool *code, hl_session *session, const char *args) {
  return code_tool_call(code, session, args);
}

static void state_lasts_between_calls_of_a_session(void) {
  hl_tool *code = code_tool(0);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"function area(r) { return 3 * r * r }\\n"
                          "var count = 1; globalThis.memo = {seen: ['a']}; 'defined'\"}");
  CHECK_CONTAINS(r, "\"result\":\"defined\"");
  hl_free(r);
  /* The next call (another run of the same session) uses all three. */
  r = call(code, s, "{\"code\": \"count += 1; memo.seen.push('b'); "
                    "area(2) + count + memo.seen.length\"}");
  CHECK_CONTAINS(r, "\"result\":16");
  CHECK(!strstr(r ? r : "", "note"));
  hl_free(r);
  /* Top-level await code sees it too. */
  r = call(code, s, "{\"code\": \"await Promise.resolve(area(count))\"}");
  CHECK_CONTAINS(r, "\"result\":12");
  hl_free(r);
  hl_session_free(s);
  hl_tool_unref(code);
}

/* Code run twice fails on its own top-level const (a script's lexical
 * declarations are the session's): the error tells the model what to do. */
static void redeclared_const_gets_a_hint(void) {
  hl_tool *code = code_tool(0);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"const limit = 3; limit\"}");
  CHECK_CONTAINS(r, "\"result\":3");
  hl_free(r);
  r = call(code, s, "{\"code\": \"const limit = 4; limit\"}");
  CHECK_CONTAINS(r, "redeclaration of 'limit'");
  CHECK_CONTAINS(r, "use var (or assign to globalThis)");
  hl_free(r);
  r = call(code, s, "{\"code\": \"const limit = 4; limit\", \"reset\": true}");
  CHECK_CONTAINS(r, "\"result\":4");
  hl_free(r);
  hl_session_free(s);
  hl_tool_unref(code);
}

static void reset_starts_from_a_fresh_state(void) {
  hl_tool *code = code_tool(0);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"var kept = 42; kept\"}");
  CHECK_CONTAINS(r, "\"result\":42");
  hl_free(r);
  r = call(code, s, "{\"code\": \"typeof kept\", \"reset\": true}");
  CHECK_CONTAINS(r, "\"result\":\"undefined\"");
  hl_free(r);
  /* And the fresh state is the session's from then on. */
  r = call(code, s, "{\"code\": \"var other = 1; typeof kept + ' ' + other\"}");
  CHECK_CONTAINS(r, "\"result\":\"undefined 1\"");
  hl_free(r);
  hl_session_free(s);
  hl_tool_unref(code);
}

static void sessions_do_not_see_each_other(void) {
  hl_tool *code = code_tool(0);
  hl_session *a = hl_session_new("app", "alice", NULL);
  hl_session *b = hl_session_new("app", "bob", NULL);
  REQUIRE(code && a && b);
  char *r = call(code, a, "{\"code\": \"var secret = 'alice'; secret\"}");
  CHECK_CONTAINS(r, "\"result\":\"alice\"");
  hl_free(r);
  r = call(code, b, "{\"code\": \"typeof secret\"}");
  CHECK_CONTAINS(r, "\"result\":\"undefined\"");
  hl_free(r);
  r = call(code, a, "{\"code\": \"secret\"}");
  CHECK_CONTAINS(r, "\"result\":\"alice\"");
  hl_free(r);
  hl_session_free(a);
  hl_session_free(b);
  hl_tool_unref(code);
}

/* What a session keeps counts against its memory limit in later calls:
 * 25 MiB kept by one call leave no room for 25 MiB more in a 48 MiB
 * sandbox; dropping it makes room again. */
static void kept_state_is_bounded_by_the_memory_limit(void) {
  hl_tool *code = code_tool((size_t)48 << 20);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"var big = new Uint8Array(25 << 20).fill(1); big.length\"}");
  CHECK_CONTAINS(r, "\"result\":26214400");
  hl_free(r);
  r = call(code, s, "{\"code\": \"var more = new Uint8Array(25 << 20).fill(2); more.length\"}");
  CHECK_CONTAINS(r, "out of memory");
  hl_free(r);
  r = call(code, s, "{\"code\": \"big = null; var more = new Uint8Array(25 << 20).fill(2); more.length\"}");
  CHECK_CONTAINS(r, "\"result\":26214400");
  hl_free(r);
  hl_session_free(s);
  hl_tool_unref(code);
}

static void resumed_elsewhere_the_state_is_said_to_be_lost(void) {
  hl_tool *code = code_tool(0);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"function twice(x) { return 2 * x } twice(4)\"}");
  CHECK_CONTAINS(r, "\"result\":8");
  hl_free(r);
  /* Another process: the session comes back, the tool is a new one. */
  hl_session *again = session_resumed(s);
  hl_tool *code2 = code_tool(0);
  REQUIRE(again && code2);
  r = call(code2, again, "{\"code\": \"typeof twice\"}");
  CHECK_CONTAINS(r, "\"result\":\"undefined\"");
  CHECK_CONTAINS(r, "is gone");
  hl_free(r);
  /* Said once: the new state is the session's from then on. */
  r = call(code2, again, "{\"code\": \"1 + 1\"}");
  CHECK_CONTAINS(r, "\"result\":2");
  CHECK(!strstr(r ? r : "", "is gone"));
  hl_free(r);
  /* A session that never used the tool has nothing to lose. */
  hl_session *fresh = hl_session_new("app", "user", NULL);
  r = call(code2, fresh, "{\"code\": \"2 + 2\"}");
  CHECK_CONTAINS(r, "\"result\":4");
  CHECK(!strstr(r ? r : "", "is gone"));
  hl_free(r);
  hl_session_free(fresh);
  hl_session_free(again);
  hl_session_free(s);
  hl_tool_unref(code);
  hl_tool_unref(code2);
}

static void with_a_state_dir_it_comes_back_elsewhere(void) {
  hl_tool *code = code_tool(0);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  REQUIRE(hl_sandbox_code_tool_set_state_dir(code, tmpdir) == HL_OK);
  char *r = call(code, s, "{\"code\": \"function twice(x) { return 2 * x } var n = 21; twice(n)\"}");
  CHECK_CONTAINS(r, "\"result\":42");
  hl_free(r);
  hl_session *again = session_resumed(s);
  hl_tool *code2 = code_tool(0);
  REQUIRE(again && code2);
  REQUIRE(hl_sandbox_code_tool_set_state_dir(code2, tmpdir) == HL_OK);
  r = call(code2, again, "{\"code\": \"n += 1; twice(n)\"}");
  CHECK_CONTAINS(r, "\"result\":44");
  CHECK(!strstr(r ? r : "", "is gone"));
  hl_free(r);
  /* forget() removes the memory and the file: a third process starts
   * over (and says so). */
  CHECK_INT(hl_sandbox_code_tool_forget(code2, hl_session_id(again)), HL_OK);
  CHECK_INT(hl_sandbox_code_tool_forget(code2, hl_session_id(again)), HL_ERR_NOT_FOUND);
  hl_tool *code3 = code_tool(0);
  REQUIRE(code3 && hl_sandbox_code_tool_set_state_dir(code3, tmpdir) == HL_OK);
  r = call(code3, again, "{\"code\": \"typeof twice\"}");
  CHECK_CONTAINS(r, "\"result\":\"undefined\"");
  CHECK_CONTAINS(r, "is gone");
  hl_free(r);
  CHECK_INT(hl_sandbox_code_tool_forget(code3, hl_session_id(again)), HL_OK);
  CHECK_INT(hl_sandbox_code_tool_set_state_dir(code3, "/nonexistent-dir"), HL_ERR_IO);
  hl_tool *plain = hl_tool_new("plain", "not a code tool", NULL, NULL);
  CHECK_INT(hl_sandbox_code_tool_set_state_dir(plain, tmpdir), HL_ERR_INVALID);
  hl_tool_unref(plain);
  hl_session_free(again);
  hl_session_free(s);
  hl_tool_unref(code);
  hl_tool_unref(code2);
  hl_tool_unref(code3);
}

static void least_recently_used_session_is_dropped_past_the_bound(void) {
  hl_tool *code = code_tool(0);
  hl_session *a = hl_session_new("app", "a", NULL);
  hl_session *b = hl_session_new("app", "b", NULL);
  REQUIRE(code && a && b);
  CHECK_INT(hl_sandbox_code_tool_set_max_sessions(code, 1), HL_OK);
  CHECK_INT(hl_sandbox_code_tool_set_max_sessions(code, 0), HL_ERR_INVALID);
  char *r = call(code, a, "{\"code\": \"var mine = 'a'; mine\"}");
  CHECK_CONTAINS(r, "\"result\":\"a\"");
  hl_free(r);
  r = call(code, b, "{\"code\": \"var mine = 'b'; mine\"}");
  CHECK_CONTAINS(r, "\"result\":\"b\"");
  hl_free(r);
  r = call(code, a, "{\"code\": \"typeof mine\"}");
  CHECK_CONTAINS(r, "\"result\":\"undefined\"");
  CHECK_CONTAINS(r, "is gone");
  hl_free(r);
  hl_session_free(a);
  hl_session_free(b);
  hl_tool_unref(code);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-codemem-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(state_lasts_between_calls_of_a_session);
  RUN(redeclared_const_gets_a_hint);
  RUN(reset_starts_from_a_fresh_state);
  RUN(sessions_do_not_see_each_other);
  RUN(kept_state_is_bounded_by_the_memory_limit);
  RUN(resumed_elsewhere_the_state_is_said_to_be_lost);
  RUN(with_a_state_dir_it_comes_back_elsewhere);
  RUN(least_recently_used_session_is_dropped_past_the_bound);
  rmdir(tmpdir);
  return CHECK_EXIT();
}
