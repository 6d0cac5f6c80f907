/*
 * tests/sandbox_py/py_code_tool.c - run_python: the model's Python runs
 * with the agent's other tools as async functions (through the agent's
 * hooked tool path), keeps its state between calls of a session, forgets
 * it on `reset`, keeps sessions apart, and reports failures as tool errors
 * the model can read; a saved state that cannot be loaded in another
 * process is said to be gone, with the reason. Every call goes through a
 * real agent run with the scripted model.
 */
#include <hookline.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "code_tool_call.h"

static atomic_int hooked_calls;

static hl_status weather_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  const char *city = hl_json_get_string(args, "city");
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "city", city ? city : "?");
  cJSON_AddNumberToObject(*result, "celsius", city && strcmp(city, "Oslo") == 0 ? 3 : 21);
  return HL_OK;
}

/* A before_tool hook: counts the calls that take the agent's hooked path
 * (those made from Python included). */
static hl_hook_action count_tool_calls(hl_context *ctx, const hl_before_tool_args *in,
                                       hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)in, (void)out, (void)ud;
  atomic_fetch_add(&hooked_calls, 1);
  return HL_HOOK_CONTINUE;
}

/* The agent's other tool (get-weather, which the code calls) and the
 * hook that counts tool calls. */
static void add_weather(hl_agent *a) {
  hl_tool *weather = hl_tool_new("get-weather", "Weather of a city", weather_fn, NULL);
  if (weather && hl_tool_param(weather, "city", "string", "the city", true) == HL_OK)
    hl_agent_add_tool(a, weather);
  hl_tool_unref(weather);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "count", HL_HOOK_OBSERVE, count_tool_calls, NULL);
}

static char *call(hl_tool *code, hl_session *session, const char *args) {
  return code_tool_call_with(code, session, args, add_weather);
}

/* hl_sandbox_limits_default() sets the language too: limits on the stack
 * (whatever they held) make a JavaScript tool, not a Python one. */
static void default_limits_mean_javascript(void) {
  hl_sandbox_limits l;
  memset(&l, 0x01, sizeof l);
  hl_sandbox_limits_default(&l);
  CHECK_INT(l.language, HL_SANDBOX_JAVASCRIPT);
  hl_tool *js = hl_sandbox_code_tool(&l);
  REQUIRE(js);
  CHECK_STR(hl_tool_name(js), "run_javascript");
  hl_tool_unref(js);
}

static void tool_is_named_and_described(void) {
  hl_tool *code = hl_sandbox_python_tool(NULL);
  REQUIRE(code);
  CHECK_STR(hl_tool_name(code), "run_python");
  CHECK_CONTAINS(hl_tool_description(code), "Python");
  CHECK_CONTAINS(hl_tool_description(code), "asyncio.gather");
  char *schema = cJSON_PrintUnformatted(hl_tool_schema(code));
  CHECK_CONTAINS(schema, "\"code\"");
  CHECK_CONTAINS(schema, "\"reset\"");
  free(schema);
  /* Its state can go to files (py_snapshot.c); a bad directory is said. */
  CHECK_INT(hl_sandbox_code_tool_set_state_dir(code, "/nonexistent-dir"), HL_ERR_IO);
  hl_tool_unref(code);
}

static void python_calls_the_agents_tools(void) {
  hl_tool *code = hl_sandbox_python_tool(NULL);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  atomic_store(&hooked_calls, 0);
  char *r = call(code, s, "{\"code\": \"import asyncio\\n"
                          "ws = await asyncio.gather(get_weather(city='Oslo'), "
                          "get_weather(city='Rome'))\\n"
                          "print([w['city'] for w in ws])\\n"
                          "sum(w['celsius'] for w in ws)\"}");
  CHECK_CONTAINS(r, "\"result\":24");
  CHECK_CONTAINS(r, "\"stdout\":\"['Oslo', 'Rome']\\n\"");
  /* The run_python call itself and the two calls made from Python. */
  CHECK_INT(atomic_load(&hooked_calls), 3);
  hl_free(r);
  /* list_callbacks() shows the Python names of the tools. */
  r = call(code, s, "{\"code\": \"[c['name'] for c in list_callbacks()]\"}");
  CHECK_CONTAINS(r, "\"result\":[\"get_weather\"]");
  hl_free(r);
  hl_session_free(s);
  hl_tool_unref(code);
}

static void state_lasts_until_reset(void) {
  hl_tool *code = hl_sandbox_python_tool(NULL);
  hl_session *s = hl_session_new("app", "user", NULL);
  hl_session *other = hl_session_new("app", "other", NULL);
  REQUIRE(code && s && other);
  char *r = call(code, s, "{\"code\": \"def area(r):\\n    return 3 * r * r\\ncount = 1\\n'defined'\"}");
  CHECK_CONTAINS(r, "\"result\":\"defined\"");
  hl_free(r);
  r = call(code, s, "{\"code\": \"count += 1\\narea(2) + count\"}");
  CHECK_CONTAINS(r, "\"result\":14");
  hl_free(r);
  /* Another session does not see it. */
  r = call(code, other, "{\"code\": \"'count' in globals()\"}");
  CHECK_CONTAINS(r, "\"result\":false");
  hl_free(r);
  r = call(code, s, "{\"code\": \"'count' in globals()\", \"reset\": true}");
  CHECK_CONTAINS(r, "\"result\":false");
  hl_free(r);
  hl_session_free(other);
  hl_session_free(s);
  hl_tool_unref(code);
}

static void failures_are_tool_errors(void) {
  hl_tool *code = hl_sandbox_python_tool(NULL);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"print('partial')\\n1 / 0\"}");
  CHECK_CONTAINS(r, "ZeroDivisionError");
  CHECK_CONTAINS(r, "partial");
  hl_free(r);
  hl_session_free(s);
  hl_tool_unref(code);
}

/* The one state file in `dir`, damaged: a byte of its memory image
 * flipped (past the 64 KiB header). */
static bool damage_state_file(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return false;
  struct dirent *e;
  char path[512] = "";
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".snap"))
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
  closedir(d);
  int fd = path[0] ? open(path, O_RDWR) : -1;
  bool ok = false;
  unsigned char buf[4096];
  for (off_t off = 65536 + 65536; fd >= 0 && !ok; off += (off_t)sizeof buf) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n && !ok; i++)
      if (buf[i]) {
        buf[i] ^= 0x20;
        ok = pwrite(fd, buf + i, 1, off + i) == 1;
      }
  }
  if (fd >= 0)
    close(fd);
  return ok;
}

static void unloadable_state_says_why(void) {
  char dir[] = "/tmp/hl-pystate-XXXXXX";
  REQUIRE(mkdtemp(dir));
  hl_tool *code = hl_sandbox_python_tool(NULL);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s && hl_sandbox_code_tool_set_state_dir(code, dir) == HL_OK);
  char *r = call(code, s, "{\"code\": \"kept = 41\\nkept + 1\"}");
  CHECK_CONTAINS(r, "\"result\":42");
  hl_free(r);
  REQUIRE(damage_state_file(dir));
  /* Another process: the session comes back, the tool is a new one. */
  hl_session *again = session_resumed(s);
  hl_tool *code2 = hl_sandbox_python_tool(NULL);
  REQUIRE(again && code2 && hl_sandbox_code_tool_set_state_dir(code2, dir) == HL_OK);
  r = call(code2, again, "{\"code\": \"'kept' in globals()\"}");
  CHECK_CONTAINS(r, "\"result\":false");
  CHECK_CONTAINS(r, "is gone");
  CHECK_CONTAINS(r, "could not be loaded");
  CHECK_CONTAINS(r, "is corrupt");
  hl_free(r);
  CHECK_INT(hl_sandbox_code_tool_forget(code2, hl_session_id(again)), HL_OK);
  hl_session_free(again);
  hl_session_free(s);
  hl_tool_unref(code);
  hl_tool_unref(code2);
  CHECK_INT(rmdir(dir), 0);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  if (!hl_sandbox_language_available(HL_SANDBOX_PYTHON)) {
    fprintf(stderr, "skipped: this build has no Python guest (run scripts/setup.sh)\n");
    return 77;
  }
  RUN(default_limits_mean_javascript);
  RUN(tool_is_named_and_described);
  RUN(python_calls_the_agents_tools);
  RUN(state_lasts_until_reset);
  RUN(failures_are_tool_errors);
  RUN(unloadable_state_says_why);
  return CHECK_EXIT();
}
