/*
 * tests/snapshot_bytes.h - finding a byte to damage in a snapshot file:
 * the tests of both guests' snapshot and template files (tests/sandbox,
 * tests/sandbox_py) flip one byte of the memory image and expect the
 * file's checksum (or the loader) to catch it.
 */
#ifndef HL_TEST_SNAPSHOT_BYTES_H
#define HL_TEST_SNAPSHOT_BYTES_H

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

/* The offset of a non-zero byte of the memory image (past the 64 KiB
 * header; the scan starts 70,000 bytes into the image) and, when `value`
 * is not NULL, its value; -1 when the file cannot be read or has none.
 * Not thread-safe (one static buffer, to keep 64 KiB off the stack). */
static inline off_t image_byte(const char *path, unsigned char *value) {
  int fd = open(path, O_RDONLY);
  static unsigned char buf[65536];
  off_t found = -1;
  for (off_t off = 65536 + 70000; fd >= 0 && found < 0;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n <= 0)
      break;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i]) {
        found = off + i;
        if (value)
          *value = buf[i];
        break;
      }
    off += n;
  }
  if (fd >= 0)
    close(fd);
  return found;
}

#endif
