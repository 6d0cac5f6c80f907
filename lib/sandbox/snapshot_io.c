/*
 * lib/sandbox/snapshot_io.c - what both guests' snapshot files share: the
 * common header and its checks, the image's extents and checksum, atomic
 * writes, and where the build's template files are (see snapshot_io.h).
 */
#include "snapshot_io.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels refuse it (EINVAL) */
#endif

#define BYTE_ORDER_MARK 0x01020304u
#define DATA_PAGE HL_SNAPSHOT_DATA_PAGE

_Static_assert(sizeof(hl_snapshot_head) <= 16384, "the common header must leave room");

/* ------------------------------------------------------------------ */
/* The checksum                                                         */
/* ------------------------------------------------------------------ */

/* Eight independent lanes over 8-byte words, in the way of XXH3's
 * accumulator: each word, xored with a key that depends on its lane and
 * its place in the page, has its halves multiplied into its lane, and the
 * word itself is added to the neighbouring lane; every page then
 * scrambles the lanes with its index (a page moved elsewhere changes the
 * sum). Lanes do not wait for each other, and with SSE2 (every x86-64)
 * two of them go in one instruction: ~4 instructions and ~1 cycle per
 * word, where the one-chain hash this replaced (multiply, shift, xor per
 * word, each waiting for the last) took ~8 instructions and ~6 cycles
 * and was most of a process's first Python sandbox. Not cryptographic: it
 * finds damage; a forger could write any image anyway. */
static const uint64_t lane_key[8] = {
  0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0x85EBCA77C2B2AE63ull,
  0x27D4EB2F165667C5ull, 0xFF51AFD7ED558CCDull, 0xC4CEB9FE1A85EC53ull, 0x94D049BB133111EBull};

#if defined(__SSE2__)
#include <emmintrin.h>

/* Two lanes: the words at p, xored with key k, into accumulator a. */
#define SUM_PAIR(a, k, p)                                                      \
  do {                                                                         \
    __m128i w_ = _mm_load_si128((const __m128i *)(const void *)(p));           \
    __m128i d_ = _mm_xor_si128(w_, k);                                         \
    a = _mm_add_epi64(a, _mm_mul_epu32(d_, _mm_srli_epi64(d_, 32)));           \
    a = _mm_add_epi64(a, _mm_shuffle_epi32(w_, _MM_SHUFFLE(1, 0, 3, 2)));      \
  } while (0)

/* The 64-byte stripes of one page (16-byte aligned: pages are mapped).
 * Written out so that the lanes and keys stay in registers. */
static void sum_stripes(uint64_t acc[8], const uint8_t *p) {
  __m128i a0 = _mm_loadu_si128((const __m128i *)(const void *)(acc + 0));
  __m128i a1 = _mm_loadu_si128((const __m128i *)(const void *)(acc + 2));
  __m128i a2 = _mm_loadu_si128((const __m128i *)(const void *)(acc + 4));
  __m128i a3 = _mm_loadu_si128((const __m128i *)(const void *)(acc + 6));
  __m128i k0 = _mm_loadu_si128((const __m128i *)(const void *)(lane_key + 0));
  __m128i k1 = _mm_loadu_si128((const __m128i *)(const void *)(lane_key + 2));
  __m128i k2 = _mm_loadu_si128((const __m128i *)(const void *)(lane_key + 4));
  __m128i k3 = _mm_loadu_si128((const __m128i *)(const void *)(lane_key + 6));
  const __m128i step = _mm_set1_epi64x(64);
  for (const uint8_t *end = p + DATA_PAGE; p < end; p += 64) {
    SUM_PAIR(a0, k0, p);
    SUM_PAIR(a1, k1, p + 16);
    SUM_PAIR(a2, k2, p + 32);
    SUM_PAIR(a3, k3, p + 48);
    k0 = _mm_add_epi64(k0, step);
    k1 = _mm_add_epi64(k1, step);
    k2 = _mm_add_epi64(k2, step);
    k3 = _mm_add_epi64(k3, step);
  }
  _mm_storeu_si128((__m128i *)(void *)(acc + 0), a0);
  _mm_storeu_si128((__m128i *)(void *)(acc + 2), a1);
  _mm_storeu_si128((__m128i *)(void *)(acc + 4), a2);
  _mm_storeu_si128((__m128i *)(void *)(acc + 6), a3);
}
#else
/* The same sum, a word at a time. */
static void sum_stripes(uint64_t acc[8], const uint8_t *p) {
  for (size_t i = 0; i < DATA_PAGE; i += 64) {
    for (size_t j = 0; j < 8; j++) {
      uint64_t w;
      memcpy(&w, p + i + 8 * j, 8);
      uint64_t d = w ^ (lane_key[j] + i);
      acc[j] += (d & 0xFFFFFFFFu) * (d >> 32);
      acc[j ^ 1] += w;
    }
  }
}
#endif

static void sum_page(uint64_t acc[8], uint64_t index, const uint8_t *p) {
  sum_stripes(acc, p);
  for (size_t j = 0; j < 8; j++) {
    uint64_t a = acc[j];
    a ^= a >> 47;
    a ^= index * 0x9E3779B97F4A7C15ull + j;
    acc[j] = a * 0x9E3779B1u; /* odd: every step can be undone, so no difference is lost */
  }
}

/* The checksum of the extents of the image mapped at `image`. */
static uint64_t sum_extents(const uint8_t *image, const uint32_t (*ext)[2], uint32_t n) {
  uint64_t acc[8];
  for (size_t j = 0; j < 8; j++)
    acc[j] = lane_key[j] ^ 0x6A09E667F3BCC908ull;
  for (uint32_t e = 0; e < n; e++)
    for (uint64_t pg = ext[e][0]; pg < (uint64_t)ext[e][0] + ext[e][1]; pg++)
      sum_page(acc, pg, image + pg * DATA_PAGE);
  uint64_t h = 0xCBF29CE484222325ull ^ n;
  for (size_t j = 0; j < 8; j++) {
    h = (h ^ acc[j]) * 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h;
}

/* The checksum of the extents of the image at HL_SNAPSHOT_IMAGE_OFFSET in
 * `fd`, read through a private read-only mapping (no copy; pages the page
 * cache holds are mapped, not read), populated one extent at a time where
 * the kernel can (one call instead of a fault per 16 pages). */
static hl_status sum_file(int fd, const char *path, const hl_snapshot_head *h, uint64_t *sum) {
  *sum = 0;
  if (!h->n_extents) {
    *sum = sum_extents(NULL, h->extents, 0);
    return HL_OK;
  }
  const uint32_t *last = h->extents[h->n_extents - 1];
  size_t len = ((size_t)last[0] + last[1]) * DATA_PAGE;
  uint8_t *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)HL_SNAPSHOT_IMAGE_OFFSET);
  if (map == MAP_FAILED)
    return hl_fail(HL_ERR_IO, "sandbox snapshot: cannot map %s: %s", path, strerror(errno));
  for (uint32_t e = 0; e < h->n_extents; e++)
    (void)madvise(map + (size_t)h->extents[e][0] * DATA_PAGE,
                  (size_t)h->extents[e][1] * DATA_PAGE, MADV_POPULATE_READ);
  *sum = sum_extents(map, h->extents, h->n_extents);
  munmap(map, len);
  return HL_OK;
}

static uint64_t sum_bytes(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w = 0;
    memcpy(&w, p + i, n - i < 8 ? n - i : 8);
    h = (h ^ w) * 0x100000001B3ull;
    h ^= h >> 29;
  }
  return h;
}

/* The header's own checksum: the common part up to head_sum, the extents
 * in use (n_extents must have been checked), and the guest's part. The
 * unused extents are zero when written and not read: ~2 KiB less to sum. */
static uint64_t sum_header(const void *header, size_t n) {
  const hl_snapshot_head *h = header;
  const uint8_t *p = header;
  uint64_t s = 0x6A09E667F3BCC908ull ^ n;
  s = sum_bytes(s, p, offsetof(hl_snapshot_head, head_sum));
  s = sum_bytes(s, (const uint8_t *)h->extents, (size_t)h->n_extents * sizeof h->extents[0]);
  return sum_bytes(s, p + sizeof *h, n - sizeof *h);
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

static bool zero_page(const uint8_t *p) {
  static const uint8_t zero[DATA_PAGE];
  return memcmp(p, zero, DATA_PAGE) == 0;
}

/* Data page `pg` joins the extents: the last one grows, a new one starts,
 * or (all taken) the last one stretches over the gap. */
static void add_page(hl_snapshot_head *h, uint32_t pg) {
  uint32_t *last = h->n_extents ? h->extents[h->n_extents - 1] : NULL;
  if (last && last[0] + last[1] == pg) {
    last[1]++;
  } else if (h->n_extents < HL_SNAPSHOT_MAX_EXTENTS) {
    h->extents[h->n_extents][0] = pg;
    h->extents[h->n_extents][1] = 1;
    h->n_extents++;
  } else {
    last[1] = pg + 1 - last[0];
  }
}

/* Write the non-zero pages of the image to `fd` at the image offset,
 * listing them in h's extents. */
static hl_status write_image(hl_snapshot_head *h, int fd, int src_fd, uint64_t src_offset,
                             const uint8_t *src_image) {
  size_t bytes = (size_t)h->pages * HL_SNAPSHOT_WASM_PAGE;
  uint8_t *buf = src_fd >= 0 ? malloc(HL_SNAPSHOT_WASM_PAGE) : NULL;
  if (src_fd >= 0 && !buf)
    return hl_fail(HL_ERR_NOMEM, "sandbox snapshot: out of memory");
  hl_status st = HL_OK;
  for (size_t off = 0; off < bytes && st == HL_OK; off += HL_SNAPSHOT_WASM_PAGE) {
    const uint8_t *src = src_image ? src_image + off : NULL;
    if (src_fd >= 0) {
      ssize_t n = pread(src_fd, buf, HL_SNAPSHOT_WASM_PAGE, (off_t)(src_offset + off));
      if (n != (ssize_t)HL_SNAPSHOT_WASM_PAGE) {
        st = hl_fail(HL_ERR_IO, "sandbox snapshot: reading the image: %s",
                     n < 0 ? strerror(errno) : "short read");
        break;
      }
      src = buf;
    }
    for (size_t k = 0; k < HL_SNAPSHOT_WASM_PAGE; k += DATA_PAGE) {
      if (zero_page(src + k))
        continue;
      if (pwrite(fd, src + k, DATA_PAGE, (off_t)(HL_SNAPSHOT_IMAGE_OFFSET + off + k)) !=
          (ssize_t)DATA_PAGE) {
        st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing: %s", strerror(errno));
        break;
      }
      add_page(h, (uint32_t)((off + k) / DATA_PAGE));
    }
  }
  free(buf);
  return st;
}

hl_status hl__snapshot_file_write(const char *path, const hl_snapshot_format *f, void *header,
                                  size_t header_size, uint32_t pages, int src_fd,
                                  uint64_t src_offset, const uint8_t *src_image) {
  if (header_size < sizeof(hl_snapshot_head) || header_size > HL_SNAPSHOT_IMAGE_OFFSET)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: header of %zu bytes", header_size);
  char *tmp;
  int fd = hl__snapshot_tmp_open(path, &tmp);
  if (fd < 0)
    return hl_last_status();
  hl_snapshot_head *h = header;
  memset(h, 0, sizeof *h);
  memcpy(h->magic, f->magic, 8);
  h->version = f->version;
  h->byte_order = BYTE_ORDER_MARK;
  snprintf(h->build_id, sizeof h->build_id, "%s", f->build_id);
  h->pages = pages;
  h->image_offset = HL_SNAPSHOT_IMAGE_OFFSET;
  hl_status st = HL_OK;
  if (ftruncate(fd, (off_t)(HL_SNAPSHOT_IMAGE_OFFSET + (uint64_t)pages * HL_SNAPSHOT_WASM_PAGE)) != 0)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing %s: %s", tmp, strerror(errno));
  if (st == HL_OK)
    st = write_image(h, fd, src_fd, src_offset, src_image);
  /* Summed as a reader will: through a mapping of what was written. */
  if (st == HL_OK)
    st = sum_file(fd, tmp, h, &h->checksum);
  h->head_sum = sum_header(header, header_size);
  /* The header last: a file cut short while being written has none. */
  if (st == HL_OK && pwrite(fd, header, header_size, 0) != (ssize_t)header_size)
    st = hl_fail(HL_ERR_IO, "sandbox snapshot: writing %s: %s", tmp, strerror(errno));
  return hl__snapshot_tmp_commit(fd, tmp, path, st);
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

/* Extents in order, apart, non-empty and inside the image. */
static bool extents_fit(const hl_snapshot_head *h) {
  if (h->n_extents > HL_SNAPSHOT_MAX_EXTENTS)
    return false;
  uint64_t data_pages = (uint64_t)h->pages * (HL_SNAPSHOT_WASM_PAGE / DATA_PAGE), next = 0;
  for (uint32_t e = 0; e < h->n_extents; e++) {
    uint64_t first = h->extents[e][0], n = h->extents[e][1];
    if (n == 0 || first < next || first + n > data_pages)
      return false;
    next = first + n;
  }
  return true;
}

hl_status hl__snapshot_file_read(int fd, const char *path, const hl_snapshot_format *f,
                                 void *header, size_t header_size) {
  hl_snapshot_head *h = header;
  ssize_t n = pread(fd, header, header_size, 0);
  if (n < 0)
    return hl_fail(HL_ERR_IO, "sandbox snapshot: reading %s: %s", path, strerror(errno));
  if (n != (ssize_t)header_size || memcmp(h->magic, f->magic, 8) != 0 ||
      h->byte_order != BYTE_ORDER_MARK)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is not a hookline %ssnapshot file%s",
                   path, f->what, n >= 0 && n < (ssize_t)header_size ? " (it is truncated)" : "");
  if (h->version != f->version)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has format version %u; this build "
                   "reads %u", path, h->version, f->version);
  if (memchr(h->build_id, 0, sizeof h->build_id) == NULL || strcmp(h->build_id, f->build_id) != 0)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is from another build of hookline (its "
                   "%smemory layout may differ)", path, f->what);
  if (h->n_extents > HL_SNAPSHOT_MAX_EXTENTS)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has an invalid header", path);
  if (h->head_sum != sum_header(header, header_size))
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is corrupt (its header does not match "
                   "its checksum)", path);
  if (h->pages < 1 || h->pages > HL_SNAPSHOT_MAX_PAGES ||
      h->image_offset != HL_SNAPSHOT_IMAGE_OFFSET || !extents_fit(h))
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s has an invalid header", path);
  struct stat st;
  if (fstat(fd, &st) != 0)
    return hl_fail(HL_ERR_IO, "sandbox snapshot: %s: %s", path, strerror(errno));
  if ((uint64_t)st.st_size < HL_SNAPSHOT_IMAGE_OFFSET + (uint64_t)h->pages * HL_SNAPSHOT_WASM_PAGE)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is truncated", path);
  return HL_OK;
}

hl_status hl__snapshot_file_verify(int fd, const char *path, const hl_snapshot_head *h) {
  uint64_t sum = 0;
  hl_status rs = sum_file(fd, path, h, &sum);
  if (rs)
    return rs;
  if (sum != h->checksum)
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is corrupt (its memory image does not "
                   "match its checksum)", path);
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Atomic writes                                                        */
/* ------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------ */
/* Where the template files are                                         */
/* ------------------------------------------------------------------ */

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
      /* By hand: snprintf would be the process's first use of printf's
       * machinery (three page faults of libc's code, ~1,400
       * instructions). */
      size_t dir = (size_t)(slash - name) + 1, len = strlen(l->name);
      l->found = dir + len < l->cap;
      if (l->found) {
        memcpy(l->out, name, dir);
        memcpy(l->out + dir, l->name, len + 1);
      }
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

/* "a/b/../c" -> "a/c", in place: the loader names a library found through
 * an rpath of $ORIGIN/.. so. Lexical (a symlinked directory would fool
 * it): good enough to recognise the build tree, whose file is still
 * checked like any other. */
static void drop_dot_dot(char *path) {
  char *dd;
  while ((dd = strstr(path, "/../")) != NULL && dd > path) {
    char *prev = dd - 1;
    while (prev > path && *prev != '/')
      prev--;
    if (*prev != '/')
      break;
    memmove(prev, dd + 3, strlen(dd + 3) + 1);
  }
}

bool hl__snapshot_template_find(const hl_snapshot_places *p,
                                hl_status (*load)(int fd, const char *path, void *ud), void *ud,
                                char *path, size_t path_cap) {
  char next_to_library[512];
  const char *env = getenv(p->env);
  const char *candidates[3] = {NULL, NULL, NULL};
  size_t n = 0;
  if (env) {
    if (!*env)
      return false;
    candidates[n++] = env;
  } else {
    bool found = hl__snapshot_path_next_to_library(p->library_addr, p->name, next_to_library,
                                                   sizeof next_to_library);
    char plain[512];
    size_t dir = p->library_build_dir ? strlen(p->library_build_dir) : 0;
    if (found && dir && p->build_path) {
      memcpy(plain, next_to_library, strlen(next_to_library) + 1); /* it fits: same size */
      drop_dot_dot(plain);
    }
    if (found && dir && p->build_path && strncmp(plain, p->library_build_dir, dir) == 0 &&
        plain[dir] == '/' && strcmp(plain + dir + 1, p->name) == 0) {
      /* The library of a build tree: its own template, where the build
       * wrote it (the other places would cost two failed opens). */
      candidates[n++] = p->build_path;
    } else {
      if (found)
        candidates[n++] = next_to_library;
      if (p->install_path)
        candidates[n++] = p->install_path;
      if (p->build_path)
        candidates[n++] = p->build_path;
    }
  }
  char first_error[300] = "";
  const char *first_missing = NULL;
  for (size_t i = 0; i < n; i++) {
    /* A candidate that is not there is the normal case (a build tree has
     * no file next to the library) and costs no message. */
    int fd = open(candidates[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (!first_missing)
        first_missing = candidates[i];
      continue;
    }
    hl_status st = fd < 0 ? hl_fail(HL_ERR_IO, "sandbox snapshot: cannot open %s: %s",
                                    candidates[i], strerror(errno))
                          : load(fd, candidates[i], ud);
    if (st == HL_OK) {
      /* Not snprintf: see find_library. */
      size_t len = strlen(candidates[i]);
      if (len >= path_cap)
        len = path_cap ? path_cap - 1 : 0;
      if (path_cap) {
        memcpy(path, candidates[i], len);
        path[len] = 0;
      }
      return true;
    }
    /* A file that is there and unusable (another build, damaged) is what
     * the note reports. */
    if (!*first_error)
      snprintf(first_error, sizeof first_error, "%s", hl_last_error());
  }
  if (!*first_error && first_missing)
    snprintf(first_error, sizeof first_error, "sandbox snapshot: cannot open %s: %s",
             first_missing, strerror(ENOENT));
  /* One line, once per process: the first sandbox takes milliseconds
   * instead of microseconds, and this says why. */
  fprintf(stderr, "hookline: %s; %s\n", *first_error ? first_error : "sandbox snapshot: no file",
          p->note);
  return false;
}
