/*
 * lib/sandbox/snapshot_io.c - a snapshot file appears whole or not at all,
 * and where the build's template files are (see snapshot_io.h).
 */
#include "snapshot_io.h"

#include <errno.h>
#include <link.h>
#include <stdint.h>
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

typedef struct lib_lookup {
  uintptr_t addr;
  const char *name;
  char *out;
  size_t cap;
  bool found;
} lib_lookup;

static int find_library(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  lib_lookup *l = data;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t start = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type != PT_LOAD || l->addr < start || l->addr - start >= ph->p_memsz)
      continue;
    const char *name = info->dlpi_name;
    const char *slash = name ? strrchr(name, '/') : NULL;
    if (slash) {
      int n = snprintf(l->out, l->cap, "%.*s/%s", (int)(slash - name), name, l->name);
      l->found = n > 0 && (size_t)n < l->cap;
    }
    return 1; /* this object: stop, found or not (the main program has no name) */
  }
  return 0;
}

bool hl__snapshot_path_next_to_library(const void *addr, const char *name, char *out, size_t cap) {
  lib_lookup l = {(uintptr_t)addr, name, out, cap, false};
  dl_iterate_phdr(find_library, &l);
  return l.found;
}
