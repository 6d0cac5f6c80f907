/*
 * tests/store/test_sqlite_read_only.c - an SQLite store whose file cannot
 * be written: on a read-only mount (a bind mount made read-only in a
 * mount namespace of a child process: chmod does not stop root), and,
 * when not root, a file and directory without write permission. The store
 * opens, loads and lists what was written before; an append fails with
 * HL_ERR_IO saying the database is read-only, nothing written (as the
 * PostgreSQL and Redis stores do on a read-only server). Exits 77
 * (skipped) where neither can be set up.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hookline.h"

enum { SKIP = 77 };

static char dir[256], url[300];

static hl_status append(hl_store *s, int64_t expected, const char *text) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "type", "note");
  cJSON_AddStringToObject(e, "text", text);
  int64_t v = 0;
  hl_status st = hl_store_append(s, "app", "u", "s", expected, e, &v);
  cJSON_Delete(e);
  return st;
}

/* Opened on the unwritable file: reads work, writes fail clearly. */
static void reads_only(void) {
  hl_store *s = NULL;
  hl_status st = hl_store_open(url, &s);
  fprintf(stderr, "  open: %s\n", st ? hl_last_error() : "ok");
  REQUIRE(st == HL_OK);
  cJSON *events = NULL;
  int64_t v = 0;
  CHECK_INT(hl_store_load(s, "app", "u", "s", &events, &v), HL_OK);
  CHECK_INT(v, 2);
  CHECK_INT(cJSON_GetArraySize(events), 2);
  cJSON_Delete(events);
  cJSON *list = NULL;
  CHECK_INT(hl_store_list(s, "app", "u", &list), HL_OK);
  CHECK_INT(cJSON_GetArraySize(list), 1);
  cJSON_Delete(list);
  st = append(s, 2, "refused");
  fprintf(stderr, "  append: %s\n", hl_last_error());
  CHECK_INT(st, HL_ERR_IO);
  CHECK_CONTAINS(hl_last_error(), "read-only");
  CHECK_INT(hl_store_delete(s, "app", "u", "s"), HL_ERR_IO);
  CHECK_INT(hl_store_load(s, "app", "u", "s", &events, &v), HL_OK);
  CHECK_INT(v, 2);
  cJSON_Delete(events);
  hl_store_close(s);
}

/* In a child with its own mount namespace, `dir` bound read-only onto
 * itself: SKIP where namespaces or mounts are not permitted. */
static int on_read_only_mount(void) {
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount(dir, dir, NULL, MS_BIND, NULL) != 0 ||
        mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) {
      fprintf(stderr, "  (no read-only mount here: %s)\n", strerror(errno));
      _exit(SKIP);
    }
    /* root, but the mount refuses: the test is real */
    FILE *probe = fopen(url + strlen("sqlite:"), "r+");
    if (probe || errno != EROFS) _exit(100);
    reads_only();
    _exit(check_failures_ ? 1 : 0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 1;
  return WEXITSTATUS(status);
}

/* Without write permission on the file and its directory (not root). */
static int without_permission(void) {
  if (geteuid() == 0) return SKIP;
  char db[300];
  snprintf(db, sizeof db, "%s/s.db", dir);
  if (chmod(db, 0444) != 0 || chmod(dir, 0555) != 0) return 1;
  int before = check_failures_;
  reads_only();
  chmod(dir, 0755);
  chmod(db, 0644);
  return check_failures_ == before ? 0 : 1;
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/hl-sqlite-ro-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(url, sizeof url, "sqlite:%s/s.db", dir);
  hl_store *s = NULL;
  if (hl_store_open(url, &s) != HL_OK || append(s, 0, "one") != HL_OK ||
      append(s, 1, "two") != HL_OK) {
    fprintf(stderr, "setup: %s\n", hl_last_error());
    return 1;
  }
  hl_store_close(s);
  int mounted = on_read_only_mount();
  fprintf(stderr, "%s read-only mount\n", mounted == 0 ? "ok  " : mounted == SKIP ? "skip" : "FAIL");
  int perm = without_permission();
  fprintf(stderr, "%s without write permission\n", perm == 0 ? "ok  " : perm == SKIP ? "skip" : "FAIL");
  /* still writable where it was: nothing was written while read-only */
  if (hl_store_open(url, &s) == HL_OK) {
    CHECK_INT(append(s, 2, "three"), HL_OK);
    hl_store_close(s);
  } else {
    check_failures_++;
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  if (mounted == SKIP && perm == SKIP && !check_failures_) return SKIP;
  return mounted != 0 && mounted != SKIP ? 1 : perm != 0 && perm != SKIP ? 1 : CHECK_EXIT();
}
