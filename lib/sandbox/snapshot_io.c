/*
 * lib/sandbox/snapshot_io.c - a snapshot file appears whole or not at all
 * (see snapshot_io.h).
 */
#include "snapshot_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hl__snapshot_tmp_open(const char *path, char **tmp) {
  size_t plen = strlen(path);
  *tmp = malloc(plen + 16);
  if (!*tmp) {
    hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
    return -1;
  }
  snprintf(*tmp, plen + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(*tmp);
  if (fd < 0) {
    hl_fail(HL_ERR_IO, "sandbox snapshot: cannot create %s: %s", *tmp, strerror(errno));
    free(*tmp);
    *tmp = NULL;
  }
  return fd;
}

hl_status hl__snapshot_tmp_commit(int fd, char *tmp, const char *path, hl_status st) {
  if (st == HL_OK && fchmod(fd, 0644) != 0)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: chmod %s: %s", tmp, strerror(errno));
  if (close(fd) != 0 && st == HL_OK)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing %s: %s", tmp, strerror(errno));
  if (st == HL_OK && rename(tmp, path) != 0)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: cannot rename %s to %s: %s", tmp, path,
                 strerror(errno));
  if (st != HL_OK)
    unlink(tmp);
  free(tmp);
  return st;
}
