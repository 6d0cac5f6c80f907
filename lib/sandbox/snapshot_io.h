/*
 * lib/sandbox/snapshot_io.h - what both guests' snapshot files share
 * (snapshot_file.c for JavaScript, py_snapshot.c for Python): the header
 * every file starts with and its checks, the memory image's layout and
 * checksum, writing a file so that it appears whole or not at all, and
 * where the build's template files are found.
 *
 * A file: a 64 KiB header block, then the linear memory image from offset
 * 64 KiB (a multiple of every page size Linux uses, so the image can be
 * mmap'ed straight from the file). Pages that are all zero are holes (the
 * file is sparse); the header lists the runs of pages that hold data
 * (extents) and a checksum over them. A guest's header is an
 * hl_snapshot_head followed by its own fields.
 *
 * What loading checks, and why each is enough for what it catches: the
 * magic and format version (not a snapshot file, or an older layout); the
 * build id (a file from another build: its addresses mean nothing to
 * this one); a checksum of the header (a damaged header); the file's
 * size (a truncated file); then, separately (hl__snapshot_file_verify),
 * the checksum over the data extents, read through a private read-only
 * mapping (an image damaged after it was written). Holes are not read:
 * they cost nothing. The image's check reads all its data (~200 KiB,
 * 100-250 us on a loaded machine, more than the rest of a cold create):
 * a template waits with it until its first execution, so that a sandbox
 * that is made costs its mappings only; a session file is checked whole
 * when it is loaded.
 */
#ifndef HL_SANDBOX_SNAPSHOT_IO_H
#define HL_SANDBOX_SNAPSHOT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hookline/status.h"

#define HL_SNAPSHOT_IMAGE_OFFSET ((uint64_t)65536)
#define HL_SNAPSHOT_WASM_PAGE 65536u
/* The unit of holes, extents and the checksum. */
#define HL_SNAPSHOT_DATA_PAGE 4096u
/* Runs of data pages a header lists; a fuller image merges runs across
 * the smallest gaps (their zero pages are summed too). */
#define HL_SNAPSHOT_MAX_EXTENTS 256u
/* The modules' own maximum memory (2 GiB). */
#define HL_SNAPSHOT_MAX_PAGES 32768u

/* The first part of every snapshot file's header. */
typedef struct hl_snapshot_head {
  char magic[8];
  uint32_t version;
  uint32_t byte_order; /* 0x01020304 as written */
  char build_id[72];
  uint32_t pages;      /* wasm pages (64 KiB) of the image */
  uint32_t n_extents;
  uint64_t image_offset;
  uint64_t checksum;   /* over the image's extents (snapshot_io.c, sum_extents) */
  uint64_t head_sum;   /* over the header, guest part included (snapshot_io.c, sum_header) */
  uint32_t extents[HL_SNAPSHOT_MAX_EXTENTS][2]; /* first data page, pages */
} hl_snapshot_head;

/* What identifies one guest's files. */
typedef struct hl_snapshot_format {
  const char *magic;    /* 8 bytes */
  uint32_t version;
  const char *build_id; /* this build's */
  const char *what;     /* "" or "Python ", for messages */
} hl_snapshot_format;

/* Writes a snapshot file to `path` (atomically: a temporary file renamed
 * over it). `header` (header_size bytes, at most 64 KiB) starts with an
 * hl_snapshot_head, which this fills; the guest filled the rest. The
 * image (pages wasm pages) is read from `src_fd` at `src_offset` when
 * src_fd >= 0, else from `src_image`. Only its non-zero 4 KiB pages are
 * written. Thread-safe (nothing shared); the caller keeps its buffers. */
hl_status hl__snapshot_file_write(const char *path, const hl_snapshot_format *f, void *header,
                                  size_t header_size, uint32_t pages, int src_fd,
                                  uint64_t src_offset, const uint8_t *src_image);

/* Reads the header of the snapshot file open as `fd` into `header`
 * (header_size bytes) and checks it (all but the image's checksum) as the
 * file comment says. HL_OK, or HL_ERR_INVALID (HL_ERR_IO) with a one-line
 * message naming `path`. The descriptor stays the caller's either way.
 * Thread-safe. */
hl_status hl__snapshot_file_read(int fd, const char *path, const hl_snapshot_format *f,
                                 void *header, size_t header_size);

/* Checks the image of the file open as `fd` against the checksum of its
 * header (read and checked by hl__snapshot_file_read): HL_OK, or
 * HL_ERR_INVALID "... is corrupt ..." (HL_ERR_IO) naming `path`.
 * Thread-safe. */
hl_status hl__snapshot_file_verify(int fd, const char *path, const hl_snapshot_head *h);

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

/* Where a guest's template file may be, in the order they are tried. */
typedef struct hl_snapshot_places {
  const char *env;          /* a variable naming the file ("" = none: boot) */
  const char *name;         /* the file's name next to the library */
  const void *library_addr; /* code of the library, to find its directory */
  const char *install_path; /* where `ninja install` puts it, or NULL */
  const char *build_path;   /* where this build wrote it, or NULL */
  const char *library_build_dir; /* where this build wrote the library, or NULL: a
                                    library loaded from there takes build_path alone */
  const char *note;         /* the end of the one-line note when none is usable */
} hl_snapshot_places;

/* Loads the template: `load` is called with each candidate that opens
 * (the descriptor becomes its; it returns HL_OK to accept the file or
 * fails with a message) until one is accepted. True then, with its path
 * in `path`. False when none is (or the variable is empty), after one
 * line on stderr ("hookline: <why>; <note>") unless the variable was
 * empty. Call once per process (from a pthread_once routine). */
bool hl__snapshot_template_find(const hl_snapshot_places *p,
                                hl_status (*load)(int fd, const char *path, void *ud), void *ud,
                                char *path, size_t path_cap);

#endif
