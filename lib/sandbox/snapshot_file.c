/*
 * lib/sandbox/snapshot_file.c - snapshot files: a vm snapshot written to
 * disk and mapped back copy-on-write.
 *
 * Used for the template that the build writes next to the library (so
 * that the first sandbox of a process maps it instead of initialising
 * QuickJS, ~10 ms) and for sessions saved by the caller
 * (hl_sandbox_snapshot_save/load).
 *
 * Layout and checks: snapshot_io.h (a 64 KiB header block, the sparse
 * image from 64 KiB, the build id, the size, a checksum of the image's
 * data). The build id here is HL_SANDBOX_BUILD_ID, a hash of the QuickJS
 * module, the prelude and the code that lays out the instance: a file
 * from another build is refused, because its addresses (the JSRuntime,
 * the prelude's functions) mean nothing to this one. This file adds the
 * instance's global, table size and the addresses the vm uses.
 * Function table entries are host pointers and are not stored: every vm
 * fills its table as instantiation does (QuickJS never changes it), and
 * checks its size against the header's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl_sandbox_build_id.h" /* generated: HL_SANDBOX_BUILD_ID */
#include "qjs_vm_internal.h"
#include "snapshot_io.h"

/* 2: the common header of snapshot_io.h (version, extents, checksum). */
static const hl_snapshot_format format = {"HLSNAP01", 2u, HL_SANDBOX_BUILD_ID, ""};

typedef struct file_header {
  hl_snapshot_head head;
  uint32_t g0, table_size, table_max;
  uint32_t rt, ctx, fn_define, fn_settle, fn_finish, fn_describe;
  uint32_t undefined_ptr, filename, key_value, scratch;
} file_header;

size_t hl__vm_snapshot_bytes(const hl_vm_snapshot *s) {
  return (size_t)s->pages * HL_SNAPSHOT_WASM_PAGE;
}

hl_status hl__vm_snapshot_save(const hl_vm_snapshot *s, const char *path) {
  file_header h;
  memset(&h, 0, sizeof h);
  h.g0 = s->g0;
  h.table_size = s->table_size;
  h.table_max = s->table_max;
  h.rt = s->rt;
  h.ctx = s->ctx;
  h.fn_define = s->fn_define;
  h.fn_settle = s->fn_settle;
  h.fn_finish = s->fn_finish;
  h.fn_describe = s->fn_describe;
  h.undefined_ptr = s->undefined_ptr;
  h.filename = s->filename;
  h.key_value = s->key_value;
  h.scratch = s->scratch;
  return hl__snapshot_file_write(path, &format, &h, sizeof h, s->pages, s->fd, s->offset,
                                 s->image);
}

/* Every address the vm uses lies inside the image. */
static bool addresses_fit(const file_header *h) {
  uint64_t size = (uint64_t)h->head.pages * HL_SNAPSHOT_WASM_PAGE;
  const uint32_t addrs[] = {h->rt, h->ctx, h->fn_define, h->fn_settle, h->fn_finish,
                            h->fn_describe, h->undefined_ptr, h->filename, h->key_value};
  for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++)
    if (addrs[i] == 0 || (uint64_t)addrs[i] + 8 > size)
      return false;
  return h->scratch != 0 && (uint64_t)h->scratch + 16 <= size && h->g0 <= size;
}

hl_status hl__vm_snapshot_load(const char *path, hl_vm_snapshot **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return hl_fail(errno == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, "sandbox snapshot: cannot open %s: %s",
                   path, strerror(errno));
  return hl__vm_snapshot_load_fd(fd, path, NULL, out);
}

hl_status hl__vm_snapshot_load_fd(int fd, const char *path, hl_snapshot_head *defer,
                                  hl_vm_snapshot **out) {
  *out = NULL;
  file_header h;
  hl_status st = hl__snapshot_file_read(fd, path, &format, &h, sizeof h);
  if (st == HL_OK && !addresses_fit(&h))
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has an invalid header", path);
  if (st == HL_OK && defer)
    *defer = h.head;
  else if (st == HL_OK)
    st = hl__snapshot_file_verify(fd, path, &h.head);
  if (st) {
    close(fd);
    return st;
  }
  hl_vm_snapshot *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
  }
  s->fd = fd;
  s->offset = HL_SNAPSHOT_IMAGE_OFFSET;
  s->pages = h.head.pages;
  s->g0 = h.g0;
  s->rt = h.rt;
  s->ctx = h.ctx;
  s->fn_define = h.fn_define;
  s->fn_settle = h.fn_settle;
  s->fn_finish = h.fn_finish;
  s->fn_describe = h.fn_describe;
  s->undefined_ptr = h.undefined_ptr;
  s->filename = h.filename;
  s->key_value = h.key_value;
  s->scratch = h.scratch;
  /* The table itself is filled by every new vm (hl_vm_new), which checks
   * these against it. */
  s->table_size = h.table_size;
  s->table_max = h.table_max;
  *out = s;
  return HL_OK;
}
