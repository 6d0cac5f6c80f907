/*
 * tests/sandbox_py/py_template_file.c - the Python template file the build
 * writes (hookline-python.snap) is what the first Python sandbox of a
 * fresh process maps; a missing, corrupt (checksum), foreign (another
 * build id), truncated or unrelated file makes the process boot
 * MicroPython itself, with one line on stderr saying why, and the sandbox
 * works either way, its soft stop (learnt from the template or read from
 * the file) included.
 *
 * The template is made once per process, so each case runs in a child
 * process (fork before any sandbox exists in the parent).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "py_common.h"
#include "child_report.h"
#include "sandbox/py_vm.h"
#include "snapshot_bytes.h"

static char tmpdir[64];

/* In a child: set HOOKLINE_PY_SANDBOX_SNAPSHOT to `env` (NULL: unset),
 * make the first Python sandbox and run a program; then, in a second
 * sandbox, a loop that only the time limit ends, then read the loop's
 * variable: the soft stop (a KeyboardInterrupt written to the words the
 * template names) unwinds the loop and keeps the session; with wrong
 * words only the hard stop would end it, resetting the session (the
 * variable gone). Prints "origin path value loop-status variable sum". */
static int child_body(const char *env) {
  if (env)
    setenv("HOOKLINE_PY_SANDBOX_SNAPSHOT", env, 1);
  else
    unsetenv("HOOKLINE_PY_SANDBOX_SNAPSHOT");
  /* The first sandbox keeps the default time limit: its first execution
   * also checks the template file's image, or boots MicroPython when the
   * file is refused (a corrupt image: ~30 ms alone, 176 ms measured beside
   * two busy sandbox tests), which a short limit would count. */
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  hl_sandbox *sb = py_sandbox_with(&l);
  if (!sb)
    return 1;
  hl_sandbox_result r = py_run(sb, "'-'.join(str(x * 2) for x in [1, 2, 3])");
  /* After the first execution: the template file's image is checked
   * before anything runs on it, not when the sandbox is made. */
  const char *path = NULL;
  const char *origin = hl__py_template_origin(&path);
  /* A second sandbox, made after the template was checked, starts from
   * the same one; the loop is stopped by its 300 ms limit. */
  l.timeout_ms = 300;
  hl_sandbox *sb2 = py_sandbox_with(&l);
  hl_sandbox_result s = HL_SANDBOX_RESULT_INIT, t = HL_SANDBOX_RESULT_INIT,
                    u = HL_SANDBOX_RESULT_INIT;
  if (sb2) {
    s = py_run(sb2, "n = 0\nwhile True:\n  n += 1");
    t = py_run(sb2, "n > 0");
    u = py_run(sb2, "sum([4, 5])");
  }
  printf("%s %s %s %s %s %s\n", origin, path && *path ? path : "-",
         r.value_json ? r.value_json : "none", s.status == HL_ERR_TIMEOUT ? "timeout" : "other",
         t.value_json ? t.value_json : "none", u.value_json ? u.value_json : "none");
  hl_sandbox_result_clear(&u);
  hl_sandbox_free(sb2);
  hl_sandbox_result_clear(&r);
  hl_sandbox_result_clear(&s);
  hl_sandbox_result_clear(&t);
  hl_sandbox_free(sb);
  return 0;
}

static child_report run_child(const char *env) { return child_run(child_body, env); }

/* What every child must have computed, whichever template it used. */
#define WORKS "\"2-4-6\" timeout true 9"

static char built_path[512];

static void first_sandbox_maps_the_build_template(void) {
  child_report r = run_child(NULL);
  CHECK_INT(r.exit_code, 0);
  CHECK(strncmp(r.out, "file ", 5) == 0);
  CHECK_CONTAINS(r.out, "hookline-python.snap");
  CHECK_CONTAINS(r.out, WORKS);
  CHECK_STR(r.err, ""); /* no note when the file is used */
  if (sscanf(r.out, "file %511s", built_path) != 1)
    built_path[0] = 0;
}

/* Copy the build's template to `dst`, changing `len` bytes at `off` to
 * `patch` (len 0: unchanged) and keeping only `keep` bytes (0: all). Holes
 * stay holes. */
static bool copy_template(const char *dst, off_t off, const void *patch, size_t len, off_t keep) {
  int in = open(built_path, O_RDONLY);
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  bool ok = in >= 0 && out >= 0;
  struct stat st;
  ok = ok && fstat(in, &st) == 0;
  off_t size = keep ? keep : st.st_size;
  static char buf[65536];
  static const char zero[65536];
  for (off_t pos = 0; ok && pos < size; pos += (off_t)sizeof buf) {
    size_t n = size - pos < (off_t)sizeof buf ? (size_t)(size - pos) : sizeof buf;
    ok = pread(in, buf, n, pos) == (ssize_t)n;
    if (ok && memcmp(buf, zero, n) != 0)
      ok = pwrite(out, buf, n, pos) == (ssize_t)n;
  }
  ok = ok && ftruncate(out, size) == 0;
  if (ok && len)
    ok = pwrite(out, patch, len, off) == (ssize_t)len;
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  return ok;
}

static void check_fallback(const char *env, const char *reason) {
  child_report r = run_child(env);
  CHECK_INT(r.exit_code, 0);
  CHECK(strncmp(r.out, "built ", 6) == 0);
  CHECK_CONTAINS(r.out, WORKS);
  CHECK_CONTAINS(r.err, reason);
  CHECK_CONTAINS(r.err, "building the Python sandbox snapshot at run time");
  CHECK_INT(count_lines(r.err), 1);
}

static void corrupt_template_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/corrupt.snap", tmpdir);
  unsigned char v = 0;
  off_t at = image_byte(built_path, &v);
  REQUIRE(at > 0);
  unsigned char flipped = (unsigned char)(v ^ 0x40);
  REQUIRE(copy_template(path, at, &flipped, 1, 0));
  check_fallback(path, "is corrupt");
}

static void damaged_header_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/bad-header.snap", tmpdir);
  /* A byte of the Python part of the header (the prelude's function
   * references), past the 2,160 bytes every snapshot file's header starts
   * with: only the header's own checksum sees it. */
  off_t at = 2160 + 9; /* a byte of fn_run */
  unsigned char b = 0;
  int fd = open(built_path, O_RDONLY);
  REQUIRE(fd >= 0 && pread(fd, &b, 1, at) == 1);
  close(fd);
  b ^= 0x40;
  REQUIRE(copy_template(path, at, &b, 1, 0));
  check_fallback(path, "is corrupt (its header");
}

static void template_from_another_build_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/other-build.snap", tmpdir);
  /* The build id follows the magic, the version and the byte order mark. */
  REQUIRE(copy_template(path, 16, "0123456789", 10, 0));
  check_fallback(path, "from another build of hookline");
}

static void missing_template_is_rebuilt_with_a_note(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/missing.snap", tmpdir);
  check_fallback(path, "cannot open");
}

static void truncated_template_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/truncated.snap", tmpdir);
  REQUIRE(copy_template(path, 0, NULL, 0, 65536 + 4096));
  check_fallback(path, "truncated");
}

static void unrelated_file_is_rebuilt_with_a_note(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/text.snap", tmpdir);
  FILE *f = fopen(path, "w");
  REQUIRE(f);
  fputs("not a snapshot at all\n", f);
  fclose(f);
  check_fallback(path, "not a hookline Python snapshot file");
}

/* A session file is a Python snapshot file of the same format (one
 * mechanism): a session of this build, named by the variable, maps as a
 * template. */
static void session_file_of_this_build_maps_as_a_template(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/session.snap", tmpdir);
  pid_t pid = fork();
  if (pid == 0) {
    /* Saved by a child that booted at run time (no file involved). */
    setenv("HOOKLINE_PY_SANDBOX_SNAPSHOT", "", 1);
    hl_sandbox *sb = py_sandbox();
    hl_sandbox_snapshot *snap = NULL;
    int rc = sb && hl_sandbox_snapshot_take(sb, &snap) == HL_OK &&
                     hl_sandbox_snapshot_save(snap, path) == HL_OK
                 ? 0
                 : 1;
    hl_sandbox_snapshot_free(snap);
    hl_sandbox_free(sb);
    _exit(rc);
  }
  int status = 0;
  REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
  child_report r = run_child(path);
  CHECK_INT(r.exit_code, 0);
  CHECK(strncmp(r.out, "file ", 5) == 0);
  CHECK_CONTAINS(r.out, WORKS);
}

static void empty_variable_boots_at_run_time_silently(void) {
  child_report r = run_child("");
  CHECK_INT(r.exit_code, 0);
  CHECK(strncmp(r.out, "built ", 6) == 0);
  CHECK_CONTAINS(r.out, WORKS);
  CHECK_STR(r.err, "");
}

static void remove_tmpdir(void) {
  const char *names[] = {"corrupt.snap", "bad-header.snap", "other-build.snap",
                         "truncated.snap", "text.snap", "session.snap"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
    unlink(p);
  }
  rmdir(tmpdir);
}

int main(int argc, char **argv) {
  PY_REQUIRE_GUEST();
  CHECK_ARGS(argc, argv);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-pytmpl-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(first_sandbox_maps_the_build_template);
  RUN(corrupt_template_is_rebuilt_with_a_note);
  RUN(damaged_header_is_rebuilt_with_a_note);
  RUN(template_from_another_build_is_rebuilt_with_a_note);
  RUN(missing_template_is_rebuilt_with_a_note);
  RUN(truncated_template_is_rebuilt_with_a_note);
  RUN(unrelated_file_is_rebuilt_with_a_note);
  RUN(session_file_of_this_build_maps_as_a_template);
  RUN(empty_variable_boots_at_run_time_silently);
  remove_tmpdir();
  return CHECK_EXIT();
}
