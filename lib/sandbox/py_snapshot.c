/*
 * lib/sandbox/py_snapshot.c - Python snapshot files: a py vm's saved state
 * (py_vm.h) written to disk and mapped back copy-on-write.
 *
 * Layout: a 64 KiB header block, then the linear memory image from offset
 * 64 KiB (so that it can be mmap'ed straight from the file). Pages that
 * are all zero are holes (the file is sparse). The header carries:
 *  - the magic (HL_PY_SNAPSHOT_MAGIC, distinct from the JavaScript
 *    snapshot files') and a format version;
 *  - the build id (HL_PY_BUILD_ID: a hash of the MicroPython module, the
 *    prelude and the code that lays out the instance): a file from another
 *    build is refused, because its addresses (the prelude's functions,
 *    MicroPython's state) mean nothing to this one;
 *  - the instance's globals (the stack pointer among them), the
 *    prelude's function references and where MicroPython keeps its
 *    interrupt state (the soft stop's words: py_vm.c learns them when it
 *    boots a template, and a template read from a file carries them);
 *  - a checksum of the image's non-zero pages: a file damaged after it
 *    was written is refused with a clear error instead of running a
 *    corrupt heap (which the guest's bounds checks would contain, but
 *    whose result would be nonsense).
 * The function table is not stored (host pointers): every vm takes the
 * template's, whose size the header must match.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl_py_build_id.h" /* generated: HL_PY_BUILD_ID */
#include "py_vm_internal.h"
#include "snapshot_io.h"

/* 2: the soft stop's addresses (kbd_*) added, for the template file. */
#define FORMAT_VERSION 2u
#define IMAGE_OFFSET ((uint64_t)65536)
#define PAGE_BYTES 65536u
#define SUM_PAGE 4096u
#define BYTE_ORDER_MARK 0x01020304u
/* The module's own maximum memory (2 GiB). */
#define MAX_PAGES 32768u

typedef struct file_header {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;
  char build_id[72];
  uint32_t pages, table_size, table_max;
  uint32_t fn_run, fn_result, fn_define, fn_drain;
  uint32_t kbd_pending, kbd_exc, kbd_trace, kbd_sched;
  uint32_t globals_bytes;
  uint8_t globals[PY_GLOBALS_MAX];
  uint64_t image_offset;
  uint64_t checksum; /* sum_page() over the non-zero 4 KiB pages, in order */
} file_header;

_Static_assert(PY_GLOBALS_BYTES <= PY_GLOBALS_MAX, "the instance has more globals than a header holds");
_Static_assert(sizeof(file_header) <= 65536, "the header must fit its block");

static bool zero_page(const uint8_t *p) {
  static const uint8_t zero[SUM_PAGE];
  return memcmp(p, zero, SUM_PAGE) == 0;
}

/* One non-zero page at image offset `off` folded into the checksum: a
 * 64-bit multiply-xorshift over its words and its offset (so a page moved
 * elsewhere changes the sum). Not cryptographic: it finds damage, it does
 * not defend against a forger, who could write any image anyway. */
static uint64_t sum_page(uint64_t h, uint64_t off, const uint8_t *p) {
  h = (h ^ off) * 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < SUM_PAGE; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h;
}

#define SUM_SEED 0x6A09E667F3BCC908ull

/* Write the non-zero pages of the image to `fd` at IMAGE_OFFSET, summing
 * them into *sum. */
static hl_status write_image(const struct hl_py_snapshot *s, int fd, uint64_t *sum) {
  size_t bytes = (size_t)s->pages * PAGE_BYTES;
  uint8_t *buf = malloc(PAGE_BYTES);
  if (!buf)
    return hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
  uint64_t h = SUM_SEED;
  hl_status st = HL_OK;
  for (size_t off = 0; off < bytes && st == HL_OK; off += PAGE_BYTES) {
    const uint8_t *src = buf;
    if (s->fd >= 0) {
      ssize_t n = pread(s->fd, buf, PAGE_BYTES, (off_t)(s->offset + off));
      if (n != (ssize_t)PAGE_BYTES) {
        st = hl_fail(HL_ERR_IO, "sandbox snapshot: reading the image: %s",
                     n < 0 ? strerror(errno) : "short read");
        break;
      }
    } else {
      src = s->image + off;
    }
    for (size_t k = 0; k < PAGE_BYTES; k += SUM_PAGE) {
      if (zero_page(src + k))
        continue;
      h = sum_page(h, off + k, src + k);
      if (pwrite(fd, src + k, SUM_PAGE, (off_t)(IMAGE_OFFSET + off + k)) != (ssize_t)SUM_PAGE) {
        st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing: %s", strerror(errno));
        break;
      }
    }
  }
  free(buf);
  *sum = h;
  return st;
}

hl_status hl__py_snapshot_write(const struct hl_py_snapshot *s, const char *path) {
  char *tmp;
  int fd = hl__snapshot_tmp_open(path, &tmp);
  if (fd < 0)
    return hl_last_status();
  file_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, HL_PY_SNAPSHOT_MAGIC, 8);
  h.version = FORMAT_VERSION;
  h.byte_order = BYTE_ORDER_MARK;
  snprintf(h.build_id, sizeof h.build_id, "%s", HL_PY_BUILD_ID);
  h.pages = s->pages;
  h.table_size = s->table_size;
  h.table_max = s->table_max;
  h.fn_run = s->fn_run;
  h.fn_result = s->fn_result;
  h.fn_define = s->fn_define;
  h.fn_drain = s->fn_drain;
  h.kbd_pending = s->kbd_pending;
  h.kbd_exc = s->kbd_exc;
  h.kbd_trace = s->kbd_trace;
  h.kbd_sched = s->kbd_sched;
  h.globals_bytes = (uint32_t)PY_GLOBALS_BYTES;
  memcpy(h.globals, s->globals, PY_GLOBALS_BYTES);
  h.image_offset = IMAGE_OFFSET;
  hl_status st = HL_OK;
  if (ftruncate(fd, (off_t)(IMAGE_OFFSET + (uint64_t)s->pages * PAGE_BYTES)) != 0)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing %s: %s", tmp, strerror(errno));
  if (st == HL_OK)
    st = write_image(s, fd, &h.checksum);
  /* The header last: a file cut short while being written has none. */
  if (st == HL_OK && pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing %s: %s", tmp, strerror(errno));
  return hl__snapshot_tmp_commit(fd, tmp, path, st);
}

/* The checksum of the image in `fd`, reading only its data extents (a
 * sparse file's holes are zero pages, which the sum skips). */
static hl_status sum_file(int fd, const char *path, uint64_t image_bytes, uint64_t *sum) {
  uint8_t *buf = malloc(PAGE_BYTES);
  if (!buf)
    return hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
  uint64_t h = SUM_SEED;
  uint64_t end = IMAGE_OFFSET + image_bytes;
  off_t pos = (off_t)IMAGE_OFFSET;
  hl_status st = HL_OK;
  while ((uint64_t)pos < end) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO)
        break; /* only holes from here */
      data = pos; /* SEEK_DATA unsupported: read everything */
    }
    if ((uint64_t)data >= end)
      break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0 || (uint64_t)hole > end)
      hole = (off_t)end;
    /* Whole pages: extents start and end on file system blocks, which
     * are 4 KiB multiples here; round outwards to be sure. */
    uint64_t from = ((uint64_t)data - IMAGE_OFFSET) / SUM_PAGE * SUM_PAGE;
    uint64_t to = ((uint64_t)hole - IMAGE_OFFSET + SUM_PAGE - 1) / SUM_PAGE * SUM_PAGE;
    if (to > image_bytes)
      to = image_bytes;
    for (uint64_t off = from; off < to && st == HL_OK;) {
      size_t chunk = to - off < PAGE_BYTES ? (size_t)(to - off) : PAGE_BYTES;
      ssize_t n = pread(fd, buf, chunk, (off_t)(IMAGE_OFFSET + off));
      if (n != (ssize_t)chunk) {
        st = hl_fail(n < 0 ? HL_ERR_IO : HL_ERR_INVALID, "sandbox snapshot: %s: %s", path,
                     n < 0 ? strerror(errno) : "is truncated");
        break;
      }
      for (size_t k = 0; k < chunk; k += SUM_PAGE)
        if (!zero_page(buf + k))
          h = sum_page(h, off + k, buf + k);
      off += chunk;
    }
    if (st)
      break;
    pos = (off_t)(IMAGE_OFFSET + to);
  }
  free(buf);
  *sum = h;
  return st;
}

hl_status hl__py_snapshot_read_fd(int fd, const char *path, uint32_t table_size,
                                  uint32_t table_max, struct hl_py_snapshot **out) {
  *out = NULL;
  file_header h;
  struct stat stt;
  hl_status st = HL_OK;
  ssize_t n = pread(fd, &h, sizeof h, 0);
  uint64_t image_bytes = 0;
  if (n != (ssize_t)sizeof h || memcmp(h.magic, HL_PY_SNAPSHOT_MAGIC, 8) != 0 ||
      h.byte_order != BYTE_ORDER_MARK) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is not a hookline Python snapshot file%s",
                 path, n >= 0 && n < (ssize_t)sizeof h ? " (it is truncated)" : "");
  } else if (h.version != FORMAT_VERSION) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has format version %u; this build reads %u",
                 path, h.version, FORMAT_VERSION);
  } else if (memchr(h.build_id, 0, sizeof h.build_id) == NULL ||
             strcmp(h.build_id, HL_PY_BUILD_ID) != 0) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is from another build of hookline (its "
                 "Python memory layout may differ): start the session afresh", path);
  } else if (h.pages < 1 || h.pages > MAX_PAGES || h.image_offset != IMAGE_OFFSET ||
             h.globals_bytes != PY_GLOBALS_BYTES || h.table_size != table_size ||
             h.table_max != table_max || !h.fn_run || !h.fn_result || !h.fn_define ||
             !h.fn_drain) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has an invalid header", path);
  } else if (fstat(fd, &stt) != 0 ||
             (uint64_t)stt.st_size < IMAGE_OFFSET + (image_bytes = (uint64_t)h.pages * PAGE_BYTES)) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is truncated", path);
  } else {
    uint64_t sum = 0;
    st = sum_file(fd, path, image_bytes, &sum);
    if (st == HL_OK && sum != h.checksum)
      st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is corrupt (its memory image does not "
                   "match its checksum)", path);
  }
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
  s->offset = IMAGE_OFFSET;
  s->pages = h.pages;
  memcpy(s->globals, h.globals, PY_GLOBALS_BYTES);
  s->table_size = h.table_size;
  s->table_max = h.table_max;
  s->fn_run = h.fn_run;
  s->fn_result = h.fn_result;
  s->fn_define = h.fn_define;
  s->fn_drain = h.fn_drain;
  s->kbd_pending = h.kbd_pending;
  s->kbd_exc = h.kbd_exc;
  s->kbd_trace = h.kbd_trace;
  s->kbd_sched = h.kbd_sched;
  *out = s;
  return HL_OK;
}
