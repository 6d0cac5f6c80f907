/*
 * tests/sandbox/sandbox_snapshot_file.c - snapshot files: the template
 * snapshot the build writes is what the first sandbox of a process maps;
 * a missing, corrupt (a byte of the image changed: the checksum), foreign
 * (another build id), truncated or unrelated file makes the process
 * initialise QuickJS itself, with one line on stderr saying
 * why, and the sandbox works either way. A session's snapshot saved to a
 * file and loaded back (as another process would) keeps its JavaScript
 * state; a file from another build is refused with a clear error.
 *
 * The template is made once per process, so each case runs in a child
 * process (fork before any sandbox exists in the parent).
 */
#include <hookline/sandbox.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "child_report.h"
#include "sandbox/qjs_vm.h"
#include "snapshot_bytes.h"

static char tmpdir[64];

/* In a child: set HOOKLINE_SANDBOX_SNAPSHOT to `env` (NULL: unset), make
 * the first sandbox, run code, print "origin path value" (origin: the
 * template the code ran on), then the value of a second sandbox's code. */
static int child_body(const char *env) {
  if (env)
    setenv("HOOKLINE_SANDBOX_SNAPSHOT", env, 1);
  else
    unsetenv("HOOKLINE_SANDBOX_SNAPSHOT");
  hl_sandbox *sb = NULL;
  if (hl_sandbox_new(NULL, &sb) != HL_OK) {
    printf("new failed: %s\n", hl_last_error());
    return 1;
  }
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_sandbox_execute(sb, NULL, "[1, 2, 3].map(x => x * 2).join('-')", &r);
  /* After the first execution: the template file's image is checked
   * before anything runs on it, not when the sandbox is made. */
  const char *path = NULL;
  const char *origin = hl__vm_template_origin(&path);
  /* A second sandbox, made after that check, starts from the same
   * template. */
  hl_sandbox *sb2 = NULL;
  hl_sandbox_result r2 = HL_SANDBOX_RESULT_INIT;
  if (hl_sandbox_new(NULL, &sb2) == HL_OK)
    hl_sandbox_execute(sb2, NULL, "[4, 5].map(x => x * 2).join('-')", &r2);
  printf("%s %s %s %s\n", origin, path && *path ? path : "-", r.value_json ? r.value_json : "none",
         r2.value_json ? r2.value_json : "none");
  hl_sandbox_result_clear(&r);
  hl_sandbox_result_clear(&r2);
  hl_sandbox_free(sb2);
  hl_sandbox_free(sb);
  return 0;
}

static child_report run_child(const char *env) { return child_run(child_body, env); }

/* The build's own file, as the default lookup finds it. */
static char built_path[512];

static void first_sandbox_maps_the_build_snapshot(void) {
  child_report r = run_child(NULL);
  CHECK_INT(r.exit_code, 0);
  CHECK(strncmp(r.out, "file ", 5) == 0);
  CHECK_CONTAINS(r.out, "hookline-sandbox.snap");
  CHECK_CONTAINS(r.out, "\"2-4-6\" \"8-10\"");
  CHECK_STR(r.err, ""); /* no note when the file is used */
  if (sscanf(r.out, "file %511s", built_path) != 1)
    built_path[0] = 0;
}

/* Copy the build's snapshot to `dst`, changing `len` bytes at `off` to
 * `patch` (len 0: unchanged) and keeping only `keep` bytes (0: all). */
static bool copy_snapshot(const char *dst, off_t off, const char *patch, size_t len, off_t keep) {
  int in = open(built_path, O_RDONLY);
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  bool ok = in >= 0 && out >= 0;
  struct stat st;
  ok = ok && fstat(in, &st) == 0;
  off_t size = keep ? keep : st.st_size;
  char buf[65536];
  for (off_t pos = 0; ok && pos < size; pos += (off_t)sizeof buf) {
    size_t n = size - pos < (off_t)sizeof buf ? (size_t)(size - pos) : sizeof buf;
    ok = pread(in, buf, n, pos) == (ssize_t)n && pwrite(out, buf, n, pos) == (ssize_t)n;
  }
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
  CHECK_CONTAINS(r.out, "\"2-4-6\" \"8-10\"");
  CHECK_CONTAINS(r.err, reason);
  CHECK_CONTAINS(r.err, "building the sandbox snapshot at run time");
  CHECK_INT(count_lines(r.err), 1);
}

static void corrupt_snapshot_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/corrupt.snap", tmpdir);
  unsigned char v = 0;
  off_t at = image_byte(built_path, &v);
  REQUIRE(at > 0);
  char flipped = (char)(v ^ 0x40);
  REQUIRE(copy_snapshot(path, at, &flipped, 1, 0));
  check_fallback(path, "is corrupt");
}

static void damaged_header_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/bad-header.snap", tmpdir);
  /* A byte of the JavaScript part of the header (the addresses the vm
   * uses), past the 2,160 bytes every snapshot file's header starts
   * with: only the header's own checksum sees it. */
  off_t at = 2160 + 13; /* a byte of the JSRuntime's address */
  unsigned char v = 0;
  int fd = open(built_path, O_RDONLY);
  REQUIRE(fd >= 0 && pread(fd, &v, 1, at) == 1);
  close(fd);
  char flipped = (char)(v ^ 0x40);
  REQUIRE(copy_snapshot(path, at, &flipped, 1, 0));
  check_fallback(path, "is corrupt (its header");
}

static void snapshot_from_another_build_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/other-build.snap", tmpdir);
  /* The build id follows the magic, the version and the byte order mark. */
  REQUIRE(copy_snapshot(path, 16, "0123456789", 10, 0));
  check_fallback(path, "from another build of hookline");
}

static void missing_snapshot_is_rebuilt_with_a_note(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/missing.snap", tmpdir);
  check_fallback(path, "cannot open");
}

static void truncated_snapshot_is_rebuilt_with_a_note(void) {
  REQUIRE(built_path[0]);
  char path[128];
  snprintf(path, sizeof path, "%s/truncated.snap", tmpdir);
  REQUIRE(copy_snapshot(path, 0, NULL, 0, 65536 + 4096));
  check_fallback(path, "truncated");
}

static void unrelated_file_is_rebuilt_with_a_note(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/text.snap", tmpdir);
  FILE *f = fopen(path, "w");
  REQUIRE(f);
  fputs("not a snapshot at all\n", f);
  fclose(f);
  check_fallback(path, "not a hookline snapshot file");
}

static void empty_variable_builds_at_run_time_silently(void) {
  child_report r = run_child("");
  CHECK_INT(r.exit_code, 0);
  CHECK(strncmp(r.out, "built ", 6) == 0);
  CHECK_CONTAINS(r.out, "\"2-4-6\" \"8-10\"");
  CHECK_STR(r.err, "");
}

static char *execute(hl_sandbox *sb, const char *code) {
  hl_sandbox_result r = HL_SANDBOX_RESULT_INIT;
  hl_status st = hl_sandbox_execute(sb, NULL, code, &r);
  char *v = st == HL_OK && r.value_json ? strdup(r.value_json) : NULL;
  if (st)
    fprintf(stderr, "execute %s: %s\n", code, hl_last_error());
  hl_sandbox_result_clear(&r);
  return v;
}

/* The session a snapshot file carries survives the round trip: functions,
 * variables and objects defined before saving are there after loading. */
static void session_saved_to_a_file_comes_back(void) {
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  char *v = execute(sb, "function times7(x) { return x * 7 } var counter = 5;"
                        "globalThis.memo = {list: [1, 2, 3]}; 'defined'");
  CHECK_STR(v, "\"defined\"");
  free(v);
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  hl_sandbox_free(sb);
  char path[128];
  snprintf(path, sizeof path, "%s/session.snap", tmpdir);
  CHECK_INT(hl_sandbox_snapshot_save(snap, path), HL_OK);
  hl_sandbox_snapshot_free(snap);

  hl_sandbox_snapshot *loaded = NULL;
  REQUIRE(hl_sandbox_snapshot_load(path, &loaded) == HL_OK);
  REQUIRE(hl_sandbox_new_from_snapshot(loaded, NULL, &sb) == HL_OK);
  hl_sandbox_snapshot_free(loaded); /* sandboxes keep what they need */
  v = execute(sb, "times7(counter) + memo.list.length");
  CHECK_STR(v, "38");
  free(v);
  /* And it is a live session, not a read-only copy. */
  v = execute(sb, "counter += 1; memo.list.push(4); times7(counter) + memo.list.length");
  CHECK_STR(v, "46");
  free(v);
  hl_sandbox_free(sb);
}

static void loading_a_bad_file_says_why(void) {
  hl_sandbox_snapshot *snap = (hl_sandbox_snapshot *)1;
  char path[128];
  snprintf(path, sizeof path, "%s/nothing-here.snap", tmpdir);
  CHECK_INT(hl_sandbox_snapshot_load(path, &snap), HL_ERR_NOT_FOUND);
  CHECK(snap == NULL);
  CHECK_CONTAINS(hl_last_error(), "nothing-here.snap");
  snprintf(path, sizeof path, "%s/other-build.snap", tmpdir);
  CHECK_INT(hl_sandbox_snapshot_load(path, &snap), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "from another build of hookline");
  snprintf(path, sizeof path, "%s/corrupt.snap", tmpdir);
  CHECK_INT(hl_sandbox_snapshot_load(path, &snap), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "is corrupt");
  CHECK(snap == NULL);
  CHECK_INT(hl_sandbox_snapshot_load(NULL, &snap), HL_ERR_INVALID);
  CHECK_INT(hl_sandbox_snapshot_save(NULL, path), HL_ERR_INVALID);
  /* A directory that does not exist: an I/O error naming the file. */
  hl_sandbox *sb = NULL;
  REQUIRE(hl_sandbox_new(NULL, &sb) == HL_OK);
  hl_sandbox_snapshot *s = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &s) == HL_OK);
  CHECK_INT(hl_sandbox_snapshot_save(s, "/nonexistent-dir/x.snap"), HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), "/nonexistent-dir/x.snap");
  hl_sandbox_snapshot_free(s);
  hl_sandbox_free(sb);
}

static void remove_tmpdir(void) {
  const char *names[] = {"corrupt.snap", "bad-header.snap", "other-build.snap", "truncated.snap",
                         "text.snap", "session.snap"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
    unlink(p);
  }
  rmdir(tmpdir);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/hl-snapfile-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  /* The forking cases first: the parent makes no sandbox before them. */
  RUN(first_sandbox_maps_the_build_snapshot);
  RUN(corrupt_snapshot_is_rebuilt_with_a_note);
  RUN(damaged_header_is_rebuilt_with_a_note);
  RUN(snapshot_from_another_build_is_rebuilt_with_a_note);
  RUN(missing_snapshot_is_rebuilt_with_a_note);
  RUN(truncated_snapshot_is_rebuilt_with_a_note);
  RUN(unrelated_file_is_rebuilt_with_a_note);
  RUN(empty_variable_builds_at_run_time_silently);
  RUN(session_saved_to_a_file_comes_back);
  RUN(loading_a_bad_file_says_why);
  remove_tmpdir();
  return CHECK_EXIT();
}
