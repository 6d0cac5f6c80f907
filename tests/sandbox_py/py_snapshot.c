/*
 * tests/sandbox_py/py_snapshot.c - Python sessions are saveable: a
 * snapshot of a Python sandbox (variables, functions, classes) starts new
 * sandboxes in this process, through a file, and in a fresh process (this
 * program run again, via run_python's state directory); the copies are
 * independent; tools are added to the copy and callable. Damaged files (truncated,
 * a flipped byte in the image, another build's, not a snapshot at all)
 * are refused with a clear HL_ERR_INVALID, never a crash (the ASan build
 * runs this too), and run_python then says the state is gone.
 */
#include <hookline.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "py_common.h"
#include "snapshot_bytes.h"
#include "code_tool_call.h"

static char tmpdir[64];
static const char *self_path;

static const char define_code[] =
  "x = 41\n"
  "def inc(v):\n"
  "    return v + 1\n"
  "class Box:\n"
  "    def __init__(self, v):\n"
  "        self.v = v\n"
  "boxes = [Box(i) for i in range(1000)]\n"
  "'defined'";

static hl_status echo_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_Duplicate(args, true);
  return HL_OK;
}

static hl_sandbox *defined_sandbox(void) {
  hl_sandbox *sb = py_sandbox();
  if (!sb)
    return NULL;
  hl_sandbox_result r = py_run(sb, define_code);
  bool ok = r.status == HL_OK && r.value_json && strcmp(r.value_json, "\"defined\"") == 0;
  if (!ok)
    fprintf(stderr, "defining failed: %s\n", hl_last_error());
  hl_sandbox_result_clear(&r);
  if (!ok) {
    hl_sandbox_free(sb);
    return NULL;
  }
  return sb;
}

static void restored_in_a_fresh_sandbox(void) {
  hl_sandbox *sb = defined_sandbox();
  REQUIRE(sb);
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  /* NULL limits: the snapshot's language decides. */
  hl_sandbox *copy = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(snap, NULL, &copy) == HL_OK);
  hl_sandbox_snapshot_free(snap); /* the copy keeps what it needs */
  py_check_value(copy, "inc(x)", "42");
  py_check_value(copy, "sum(b.v for b in boxes)", "499500");
  /* Independent: changing the copy leaves the original alone. */
  py_check_value(copy, "x = 7\nx", "7");
  py_check_value(sb, "x", "41");
  /* Tools are not part of a snapshot: added to the copy, they work. */
  hl_tool *echo = hl_tool_new("echo", "echo its arguments", echo_fn, NULL);
  REQUIRE(echo);
  CHECK_INT(hl_sandbox_add_tool(copy, echo, NULL), HL_OK);
  py_check_value(copy, "r = await echo(n=inc(x))\nr['n']", "8");
  hl_tool_unref(echo);
  /* The original keeps working after being saved. */
  py_check_value(sb, "inc(inc(x))", "43");
  hl_sandbox_free(copy);
  hl_sandbox_free(sb);
}

static void restored_through_a_file(void) {
  hl_sandbox *sb = defined_sandbox();
  REQUIRE(sb);
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  char path[128];
  snprintf(path, sizeof path, "%s/state.snap", tmpdir);
  CHECK_INT(hl_sandbox_snapshot_save(snap, path), HL_OK);
  hl_sandbox_snapshot_free(snap);
  hl_sandbox_free(sb);
  hl_sandbox_snapshot *loaded = NULL;
  REQUIRE(hl_sandbox_snapshot_load(path, &loaded) == HL_OK);
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.language = HL_SANDBOX_PYTHON;
  hl_sandbox *a = NULL, *b = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(loaded, &l, &a) == HL_OK);
  REQUIRE(hl_sandbox_new_from_snapshot(loaded, &l, &b) == HL_OK);
  hl_sandbox_snapshot_free(loaded);
  py_check_value(a, "inc(x)", "42");
  py_check_value(b, "x += 100\nx", "141");
  py_check_value(a, "x", "41");
  /* A snapshot of a restored sandbox saves again. */
  REQUIRE(hl_sandbox_snapshot_take(b, &snap) == HL_OK);
  CHECK_INT(hl_sandbox_snapshot_save(snap, path), HL_OK);
  hl_sandbox_snapshot_free(snap);
  REQUIRE(hl_sandbox_snapshot_load(path, &loaded) == HL_OK);
  hl_sandbox *c = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(loaded, NULL, &c) == HL_OK);
  py_check_value(c, "inc(x)", "142");
  hl_sandbox_snapshot_free(loaded);
  hl_sandbox_free(a);
  hl_sandbox_free(b);
  hl_sandbox_free(c);
  unlink(path);
}

/* A copy of `from` at `to` with `len` bytes (all of it when 0) and the
 * byte at `flip` (if not -1) inverted. */
static bool damaged_copy(const char *from, const char *to, off_t len, off_t flip) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  struct stat st;
  bool ok = in >= 0 && out >= 0 && fstat(in, &st) == 0;
  if (ok && !len)
    len = st.st_size;
  static char buf[65536];
  for (off_t off = 0; ok && off < len;) {
    size_t want = (size_t)(len - off < (off_t)sizeof buf ? len - off : (off_t)sizeof buf);
    ssize_t n = pread(in, buf, want, off);
    ok = n > 0;
    if (!ok)
      break;
    if (flip >= off && flip < off + n)
      buf[flip - off] ^= 0x5A;
    /* Zero blocks stay holes, as in the original. */
    bool zero = true;
    for (ssize_t i = 0; i < n && zero; i++)
      zero = buf[i] == 0;
    ok = zero || pwrite(out, buf, (size_t)n, off) == n;
    off += n;
  }
  ok = ok && ftruncate(out, len) == 0;
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  return ok;
}

static void refused(const char *path, const char *why) {
  hl_sandbox_snapshot *snap = (hl_sandbox_snapshot *)1;
  CHECK_INT(hl_sandbox_snapshot_load(path, &snap), HL_ERR_INVALID);
  CHECK(snap == NULL);
  CHECK_CONTAINS(hl_last_error(), why);
}

static void damaged_files_are_refused(void) {
  hl_sandbox *sb = defined_sandbox();
  REQUIRE(sb);
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  char good[128], bad[128];
  snprintf(good, sizeof good, "%s/good.snap", tmpdir);
  snprintf(bad, sizeof bad, "%s/bad.snap", tmpdir);
  REQUIRE(hl_sandbox_snapshot_save(snap, good) == HL_OK);
  hl_sandbox_snapshot_free(snap);
  hl_sandbox_free(sb);
  struct stat st;
  REQUIRE(stat(good, &st) == 0);

  /* Cut inside the header, and inside the image. */
  REQUIRE(damaged_copy(good, bad, 100, -1));
  refused(bad, "truncated");
  REQUIRE(damaged_copy(good, bad, st.st_size / 2, -1));
  refused(bad, "truncated");
  /* One byte of the heap changed. */
  off_t at = image_byte(good, NULL);
  REQUIRE(at > 0);
  REQUIRE(damaged_copy(good, bad, 0, at));
  refused(bad, "corrupt");
  /* Another build: the build id in the header differs (offset 16). */
  REQUIRE(damaged_copy(good, bad, 0, 16));
  refused(bad, "another build");
  /* Not a snapshot at all, and an empty file. */
  FILE *f = fopen(bad, "w");
  REQUIRE(f);
  fputs("print('hello')\n", f);
  fclose(f);
  refused(bad, "not a hookline");
  f = fopen(bad, "w");
  REQUIRE(f);
  fclose(f);
  refused(bad, "not a hookline");
  /* The good one still loads and runs. */
  hl_sandbox_snapshot *ok = NULL;
  REQUIRE(hl_sandbox_snapshot_load(good, &ok) == HL_OK);
  hl_sandbox *copy = NULL;
  REQUIRE(hl_sandbox_new_from_snapshot(ok, NULL, &copy) == HL_OK);
  py_check_value(copy, "inc(x)", "42");
  hl_sandbox_free(copy);
  hl_sandbox_snapshot_free(ok);

  /* The languages do not mix: a JavaScript snapshot cannot start a
   * Python sandbox. */
  hl_sandbox *js = NULL;
  REQUIRE(hl_sandbox_new(NULL, &js) == HL_OK);
  hl_sandbox_snapshot *js_snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(js, &js_snap) == HL_OK);
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.language = HL_SANDBOX_PYTHON;
  hl_sandbox *mixed = (hl_sandbox *)1;
  CHECK_INT(hl_sandbox_new_from_snapshot(js_snap, &l, &mixed), HL_ERR_INVALID);
  CHECK(mixed == NULL);
  CHECK_CONTAINS(hl_last_error(), "JavaScript");
  hl_sandbox_snapshot_free(js_snap);
  hl_sandbox_free(js);
  unlink(good);
  unlink(bad);
}

/* ------------------------------------------------------------------ */
/* run_python's state directory, across processes                       */
/* ------------------------------------------------------------------ */

static char *call(hl_tool *code, hl_session *session, const char *args) {
  return code_tool_call(code, session, args);
}

static hl_tool *python_tool_in(const char *dir) {
  hl_tool *code = hl_sandbox_python_tool(NULL);
  if (code && hl_sandbox_code_tool_set_state_dir(code, dir) != HL_OK) {
    fprintf(stderr, "set_state_dir: %s\n", hl_last_error());
    hl_tool_unref(code);
    return NULL;
  }
  return code;
}

/* The child process: the session read back from <dir>/session.json, one
 * run_python call with `code`, the answer on stdout. */
static int child_main(const char *dir, const char *code_json) {
  char path[160];
  snprintf(path, sizeof path, "%s/session.json", dir);
  FILE *f = fopen(path, "r");
  if (!f)
    return 2;
  static char text[1 << 16];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  cJSON *j = cJSON_Parse(text);
  hl_session *s = NULL;
  if (!j || hl_session_from_json(j, &s) != HL_OK)
    return 3;
  cJSON_Delete(j);
  hl_tool *code = python_tool_in(dir);
  char *r = code ? call(code, s, code_json) : NULL;
  printf("%s\n", r ? r : "(no answer)");
  hl_free(r);
  hl_tool_unref(code);
  hl_session_free(s);
  return 0;
}

/* This program run again as the child; its stdout (malloc'ed). */
static char *run_child(const char *code_json) {
  char cmd[512];
  /* Through the environment: no shell quoting of the code. */
  setenv("HL_PY_SNAPSHOT_CHILD", tmpdir, 1);
  setenv("HL_PY_SNAPSHOT_CODE", code_json, 1);
  snprintf(cmd, sizeof cmd, "'%s'", self_path);
  FILE *p = popen(cmd, "r");
  unsetenv("HL_PY_SNAPSHOT_CHILD");
  unsetenv("HL_PY_SNAPSHOT_CODE");
  if (!p)
    return NULL;
  static char out[1 << 16];
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  int rc = pclose(p);
  if (rc != 0)
    fprintf(stderr, "child exited with %d: %s\n", rc, out);
  return strdup(out);
}

static void state_dir_carries_it_to_another_process(void) {
  hl_tool *code = python_tool_in(tmpdir);
  hl_session *s = hl_session_new("app", "user", NULL);
  REQUIRE(code && s);
  char *r = call(code, s, "{\"code\": \"def twice(v):\\n    return 2 * v\\nn = 21\\ntwice(n)\"}");
  CHECK_CONTAINS(r, "\"result\":42");
  hl_free(r);
  cJSON *j = hl_session_to_json(s);
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  char path[160];
  snprintf(path, sizeof path, "%s/session.json", tmpdir);
  FILE *f = fopen(path, "w");
  REQUIRE(text && f);
  fputs(text, f);
  fclose(f);
  free(text);
  /* Another process picks the conversation up with its state. */
  char *out = run_child("{\"code\": \"n += 1\\ntwice(n)\"}");
  CHECK_CONTAINS(out, "\"result\":44");
  CHECK(out && !strstr(out, "is gone"));
  free(out);
  /* Its state file damaged: the next process is told the state is gone
   * (and runs), instead of crashing or running a corrupt heap. */
  char *state = NULL;
  size_t n_state = 0;
  /* The one .snap file in the directory is this session's. */
  char find[256];
  snprintf(find, sizeof find, "ls %s/*.snap", tmpdir);
  FILE *ls = popen(find, "r");
  if (ls) {
    char line[200];
    if (fgets(line, sizeof line, ls)) {
      line[strcspn(line, "\n")] = 0;
      state = strdup(line);
      n_state = strlen(line);
    }
    pclose(ls);
  }
  REQUIRE(state && n_state);
  char damaged[300];
  snprintf(damaged, sizeof damaged, "%s.bad", state);
  off_t at = image_byte(state, NULL);
  REQUIRE(at > 0 && damaged_copy(state, damaged, 0, at) && rename(damaged, state) == 0);
  out = run_child("{\"code\": \"'twice' in globals()\"}");
  CHECK_CONTAINS(out, "\"result\":false");
  CHECK_CONTAINS(out, "is gone");
  free(out);
  CHECK_INT(hl_sandbox_code_tool_forget(code, hl_session_id(s)), HL_OK);
  free(state);
  unlink(path);
  hl_session_free(s);
  hl_tool_unref(code);
}

int main(int argc, char **argv) {
  const char *child = getenv("HL_PY_SNAPSHOT_CHILD");
  if (child)
    return child_main(child, getenv("HL_PY_SNAPSHOT_CODE"));
  CHECK_ARGS(argc, argv);
  PY_REQUIRE_GUEST();
  self_path = argv[0];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-py-snap-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(restored_in_a_fresh_sandbox);
  RUN(restored_through_a_file);
  RUN(damaged_files_are_refused);
  RUN(state_dir_carries_it_to_another_process);
  rmdir(tmpdir);
  return CHECK_EXIT();
}
