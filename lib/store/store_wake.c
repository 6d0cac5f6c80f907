/*
 * store_wake.c - the wake-up a network backend's waits poll beside its
 * socket, so that a cancelled run's store call stops waiting at once
 * (store_internal.h: the interrupt op). A hung server answers nothing,
 * not even a cancel request, so the wait must be ended on our side.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/util.h"
#include "store/store_internal.h"

hl_status hl__store_wake_new(const char *backend, int *fd) {
  *fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (*fd >= 0) return HL_OK;
  return hl_fail(HL_ERR_IO, "store: %s: eventfd: %s", backend, strerror(errno));
}

void hl__store_wake_set(int fd, bool cut) {
  uint64_t one = 1;
  /* Never blocks (EFD_NONBLOCK): a write fails only when the count is
   * full, a read only when it is zero; either way the state is right. */
  if (cut) {
    if (write(fd, &one, sizeof one) < 0) return;
  } else if (read(fd, &one, sizeof one) < 0) {
    return;
  }
}
