/*
 * lib/sandbox/snapshot_io.h - writing a snapshot file so that it appears
 * whole or not at all: both guests' snapshot files (snapshot_file.c for
 * JavaScript, py_snapshot.c for Python) are written to a temporary file
 * next to the target and renamed over it; and where the build's template
 * files are found (next to the library).
 */
#ifndef HL_SANDBOX_SNAPSHOT_IO_H
#define HL_SANDBOX_SNAPSHOT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include "hookline/status.h"

/* Creates "PATH.tmp.XXXXXX" for writing. Returns its descriptor and sets
 * *tmp to its name (malloc'd, owned by the caller until _commit), or -1
 * with the error set and *tmp NULL. */
int hl__snapshot_tmp_open(const char *path, char **tmp);

/* Ends a write begun with _open: with st == HL_OK makes the file readable
 * like a built library (0644), closes it and renames it to `path` (a
 * rename, never a rewrite in place: a process that has the old file
 * mapped keeps its pages); otherwise, or when any of that fails, closes
 * and removes it. Frees `tmp` and returns the first failure or st. */
hl_status hl__snapshot_tmp_commit(int fd, char *tmp, const char *path, hl_status st);

/* The path of `name` in the directory of the loaded object (libhookline.so
 * when the library is shared) that holds the code at `addr`, into `out`.
 * False when that object has no path (the main program, a static link) or
 * it does not fit. Thread-safe. The object comes from the loader's list
 * (dl_iterate_phdr): dladdr() would also search the symbol table for the
 * nearest symbol (~17,000 instructions of a process's first sandbox). */
bool hl__snapshot_path_next_to_library(const void *addr, const char *name, char *out, size_t cap);

#endif
