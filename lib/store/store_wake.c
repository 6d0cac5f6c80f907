/*
 * store_wake.c - the wake-up a network backend's waits poll beside its
 * socket, so that a cancelled run's store call stops waiting at once
 * (store_internal.h: the interrupt op). A hung server answers nothing,
 * not even a cancel request, so the wait must be ended on our side;
 * and the wait itself (hl__store_wait), which honours a cut only once the
 * server has also been silent for a short grace.
 */
#include <errno.h>
#include <poll.h>
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

int hl__store_wait(int sock, short events, int wake, int idle_ms, bool *cut) {
  struct pollfd p[2] = {{.fd = sock, .events = events}, {.fd = wake, .events = POLLIN}};
  *cut = false;
  int n;
  while ((n = poll(p, 2, idle_ms)) < 0 && errno == EINTR) {
  }
  if (n > 0 && p[1].revents && !p[0].revents) {
    int grace = idle_ms < HL_STORE_CUT_GRACE_MS ? idle_ms : HL_STORE_CUT_GRACE_MS;
    while ((n = poll(p, 1, grace)) < 0 && errno == EINTR) {
    }
    if (n == 0) {
      *cut = true;
      return -1;
    }
  }
  return n > 0 ? 1 : n;
}
