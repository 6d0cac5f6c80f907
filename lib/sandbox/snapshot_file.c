/*
 * lib/sandbox/snapshot_file.c - snapshot files: a vm snapshot written to
 * disk and mapped back copy-on-write.
 *
 * Used for the template that the build writes next to the library (so
 * that the first sandbox of a process maps it instead of initialising
 * QuickJS, ~10 ms) and for sessions saved by the caller
 * (hl_sandbox_snapshot_save/load).
 *
 * Layout: a 64 KiB header block, then the linear memory image from offset
 * 64 KiB (a multiple of every page size Linux uses, so the image can be
 * mmap'ed straight from the file). Pages that are all zero are holes (the
 * file is sparse). The header names the build (HL_SANDBOX_BUILD_ID: a hash
 * of the QuickJS module, the prelude and the code that lays out the
 * instance): a file from another build is refused, because its addresses
 * (the JSRuntime, the prelude's functions) mean nothing to this one.
 * Function table entries are host pointers and are not stored: every vm
 * fills its table as instantiation does (QuickJS never changes it), and
 * checks its size against the header's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl_sandbox_build_id.h" /* generated: HL_SANDBOX_BUILD_ID */
#include "qjs_vm_internal.h"
#include "snapshot_io.h"

#define FILE_MAGIC "HLSNAP01"
#define IMAGE_OFFSET ((uint64_t)65536)
#define PAGE_BYTES 65536u
#define BYTE_ORDER_MARK 0x01020304u
/* The module's own maximum memory (2 GiB). */
#define MAX_PAGES 32768u

typedef struct file_header {
  char magic[8];
  char build_id[72];
  uint32_t byte_order;
  uint32_t pages, g0, table_size, table_max;
  uint32_t rt, ctx, fn_define, fn_settle, fn_finish, fn_describe;
  uint32_t undefined_ptr, filename, key_value, scratch;
  uint64_t image_offset;
} file_header;

static bool zero_4k(const uint8_t *p) {
  static const uint8_t zero[4096];
  return memcmp(p, zero, sizeof zero) == 0;
}

/* Write the non-zero 4 KiB pages of the image to `fd` at IMAGE_OFFSET. */
static hl_status write_image(const hl_vm_snapshot *s, int fd) {
  size_t bytes = (size_t)s->pages * PAGE_BYTES;
  uint8_t *buf = malloc(PAGE_BYTES);
  if (!buf)
    return hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
  hl_status st = HL_OK;
  for (size_t off = 0; off < bytes && st == HL_OK; off += PAGE_BYTES) {
    const uint8_t *src;
    if (s->fd >= 0) {
      ssize_t n = pread(s->fd, buf, PAGE_BYTES, (off_t)(s->offset + off));
      if (n != (ssize_t)PAGE_BYTES) {
        st = hl_fail(HL_ERR_IO, "sandbox snapshot: reading the image: %s",
                     n < 0 ? strerror(errno) : "short read");
        break;
      }
      src = buf;
    } else {
      src = s->image + off;
    }
    for (size_t k = 0; k < PAGE_BYTES; k += 4096) {
      if (zero_4k(src + k))
        continue;
      if (pwrite(fd, src + k, 4096, (off_t)(IMAGE_OFFSET + off + k)) != 4096) {
        st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing: %s", strerror(errno));
        break;
      }
    }
  }
  free(buf);
  return st;
}

size_t hl__vm_snapshot_bytes(const hl_vm_snapshot *s) { return (size_t)s->pages * PAGE_BYTES; }

hl_status hl__vm_snapshot_save(const hl_vm_snapshot *s, const char *path) {
  char *tmp;
  int fd = hl__snapshot_tmp_open(path, &tmp);
  if (fd < 0)
    return hl_last_status();
  file_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, FILE_MAGIC, 8);
  snprintf(h.build_id, sizeof h.build_id, "%s", HL_SANDBOX_BUILD_ID);
  h.byte_order = BYTE_ORDER_MARK;
  h.pages = s->pages;
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
  h.image_offset = IMAGE_OFFSET;
  hl_status st = HL_OK;
  if (ftruncate(fd, (off_t)(IMAGE_OFFSET + (uint64_t)s->pages * PAGE_BYTES)) != 0 ||
      pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing %s: %s", tmp, strerror(errno));
  if (st == HL_OK)
    st = write_image(s, fd);
  return hl__snapshot_tmp_commit(fd, tmp, path, st);
}

/* Every address the vm uses lies inside the image. */
static bool addresses_fit(const file_header *h) {
  uint64_t size = (uint64_t)h->pages * PAGE_BYTES;
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
  return hl__vm_snapshot_load_fd(fd, path, out);
}

hl_status hl__vm_snapshot_load_fd(int fd, const char *path, hl_vm_snapshot **out) {
  *out = NULL;
  file_header h;
  struct stat stt;
  hl_status st = HL_OK;
  ssize_t n = pread(fd, &h, sizeof h, 0);
  if (n != (ssize_t)sizeof h || memcmp(h.magic, FILE_MAGIC, 8) != 0 ||
      h.byte_order != BYTE_ORDER_MARK) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is not a hookline snapshot file", path);
  } else if (memchr(h.build_id, 0, sizeof h.build_id) == NULL ||
             strcmp(h.build_id, HL_SANDBOX_BUILD_ID) != 0) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is from another build of hookline", path);
  } else if (h.pages < 1 || h.pages > MAX_PAGES || h.image_offset != IMAGE_OFFSET ||
             !addresses_fit(&h)) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has an invalid header", path);
  } else if (fstat(fd, &stt) != 0 ||
             (uint64_t)stt.st_size < IMAGE_OFFSET + (uint64_t)h.pages * PAGE_BYTES) {
    st = hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is truncated", path);
  }
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
  s->offset = IMAGE_OFFSET;
  s->pages = h.pages;
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
