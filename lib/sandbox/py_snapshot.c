/*
 * lib/sandbox/py_snapshot.c - Python snapshot files: a py vm's saved state
 * (py_vm.h) written to disk and mapped back copy-on-write.
 *
 * Layout and checks: snapshot_io.h (a 64 KiB header block, the sparse
 * image from 64 KiB, the magic and format version, the build id, the
 * size, a checksum of the image's data). The magic is
 * HL_PY_SNAPSHOT_MAGIC, distinct from the JavaScript files'; the build id
 * HL_PY_BUILD_ID, a hash of the MicroPython module, the prelude and the
 * code that lays out the instance: a file from another build is refused,
 * because its addresses (the prelude's functions, MicroPython's state)
 * mean nothing to this one (and the code the prelude's cache compiled
 * from a source must be what this build's py_source.c makes of it). This
 * file adds the instance's globals (the stack pointer among them), the
 * prelude's function references and where MicroPython keeps its interrupt
 * state and its top-level await flag (py_vm.c learns them when it boots a
 * template, and a template read from a file carries them).
 * The function table is not stored (host pointers): every vm fills its
 * own as instantiation does, and its size must match the header's.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl_py_build_id.h" /* generated: HL_PY_BUILD_ID */
#include "py_vm_internal.h"
#include "snapshot_io.h"

/* 2: the soft stop's addresses (kbd_*) added, for the template file.
 * 3: the common header of snapshot_io.h (extents, a faster checksum).
 * 4: the prelude's _hl_exec and _hl_collect instead of _hl_run and
 *    _hl_result, and where the top-level await flag is (tla). */
static const hl_snapshot_format format = {HL_PY_SNAPSHOT_MAGIC, 4u, HL_PY_BUILD_ID, "Python "};

typedef struct file_header {
  hl_snapshot_head head;
  uint32_t table_size, table_max;
  uint32_t fn_exec, fn_collect, fn_define, fn_drain;
  uint32_t kbd_pending, kbd_exc, kbd_trace, kbd_sched;
  uint32_t tla;
  uint32_t globals_bytes;
  uint8_t globals[PY_GLOBALS_MAX];
} file_header;

_Static_assert(PY_GLOBALS_BYTES <= PY_GLOBALS_MAX, "the instance has more globals than a header holds");
_Static_assert(sizeof(file_header) <= 65536, "the header must fit its block");

hl_status hl__py_snapshot_write(const struct hl_py_snapshot *s, const char *path) {
  file_header h;
  memset(&h, 0, sizeof h);
  h.table_size = s->table_size;
  h.table_max = s->table_max;
  h.fn_exec = s->fn_exec;
  h.fn_collect = s->fn_collect;
  h.fn_define = s->fn_define;
  h.fn_drain = s->fn_drain;
  h.kbd_pending = s->kbd_pending;
  h.kbd_exc = s->kbd_exc;
  h.kbd_trace = s->kbd_trace;
  h.kbd_sched = s->kbd_sched;
  h.tla = s->tla;
  h.globals_bytes = (uint32_t)PY_GLOBALS_BYTES;
  memcpy(h.globals, s->globals, PY_GLOBALS_BYTES);
  return hl__snapshot_file_write(path, &format, &h, sizeof h, s->pages, s->fd, s->offset,
                                 s->image);
}

hl_status hl__py_snapshot_read_fd(int fd, const char *path, uint32_t table_size,
                                  uint32_t table_max, hl_snapshot_head *defer,
                                  struct hl_py_snapshot **out) {
  *out = NULL;
  file_header h;
  hl_status st = hl__snapshot_file_read(fd, path, &format, &h, sizeof h);
  if (st == HL_OK && (h.globals_bytes != PY_GLOBALS_BYTES ||
                      (table_size && (h.table_size != table_size || h.table_max != table_max)) || !h.fn_exec || !h.fn_collect || !h.fn_define ||
                      !h.fn_drain))
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has an invalid header", path);
  if (st == HL_OK && defer)
    *defer = h.head;
  else if (st == HL_OK)
    st = hl__snapshot_file_verify(fd, path, &h.head);
  if (st) {
    close(fd);
    return st;
  }
  struct hl_py_snapshot *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
  }
  s->fd = fd;
  s->offset = HL_SNAPSHOT_IMAGE_OFFSET;
  s->pages = h.head.pages;
  memcpy(s->globals, h.globals, PY_GLOBALS_BYTES);
  s->table_size = h.table_size;
  s->table_max = h.table_max;
  s->fn_exec = h.fn_exec;
  s->fn_collect = h.fn_collect;
  s->fn_define = h.fn_define;
  s->fn_drain = h.fn_drain;
  s->kbd_pending = h.kbd_pending;
  s->kbd_exc = h.kbd_exc;
  s->kbd_trace = h.kbd_trace;
  s->kbd_sched = h.kbd_sched;
  s->tla = h.tla;
  *out = s;
  return HL_OK;
}
