/*
 * store_wake.c - the wake-up a network backend's waits poll beside its
 * socket, so that a cancelled run's store call stops waiting at once
 * (store_internal.h: the interrupt op). A hung server answers nothing,
 * not even a cancel request, so the wait must be ended on our side;
 * and the wait itself (hl__store_wait), which honours a cut once the
 * server has also been silent for a short grace, or once the cut's
 * budget is spent however the server trickles.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/util.h"
#include "net/engine.h"
#include "store/store_internal.h"

int64_t hl__store_now_ms(void) {
  /* the engine's clock + 1: 0 means "no cut" to the callers, and the
   * clock may start at 0 */
  return hl__engine_now_ms() + 1;
}

hl_status hl__store_wake_new(const char *backend, hl__store_wake *w) {
  atomic_init(&w->cut_at, 0);
  w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->fd >= 0) return HL_OK;
  return hl_fail(HL_ERR_IO, "store: %s: eventfd: %s", backend, strerror(errno));
}

void hl__store_wake_close(hl__store_wake *w) {
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
}

void hl__store_wake_set(hl__store_wake *w, int64_t cut_at) {
  uint64_t one = 1;
  /* Never blocks (EFD_NONBLOCK): a write fails only when the count is
   * full, a read only when it is zero; either way the state is right.
   * The time first, so that a wait that sees the eventfd sees it too;
   * the first cut's time stays (the budget counts from the cancel). */
  if (cut_at) {
    int64_t none = 0;
    atomic_compare_exchange_strong(&w->cut_at, &none, cut_at);
    if (write(w->fd, &one, sizeof one) < 0) return;
  } else {
    if (read(w->fd, &one, sizeof one) < 0) {
      /* was not set: nothing to read */
    }
    atomic_store(&w->cut_at, 0);
  }
}

static int hl_poll(struct pollfd *p, nfds_t n, int ms) {
  int r;
  while ((r = poll(p, n, ms)) < 0 && errno == EINTR) {
  }
  return r;
}

int hl__store_wait(int sock, short events, hl__store_wake *w, int idle_ms, bool *cut) {
  struct pollfd p[2] = {{.fd = sock, .events = events}, {.fd = w->fd, .events = POLLIN}};
  *cut = false;
  int n = hl_poll(p, 2, idle_ms);
  if (n > 0 && p[1].revents) {
    int64_t at = atomic_load(&w->cut_at), left = HL_STORE_CUT_BUDGET_MS;
    if (at) left = at + HL_STORE_CUT_BUDGET_MS - hl__store_now_ms();
    if (left <= 0) { /* spent, even if the server has sent something */
      *cut = true;
      return -1;
    }
    if (!p[0].revents) {
      int grace = left < HL_STORE_CUT_GRACE_MS ? (int)left : HL_STORE_CUT_GRACE_MS;
      if (idle_ms >= 0 && idle_ms < grace) grace = idle_ms;
      if ((n = hl_poll(p, 1, grace)) == 0) {
        *cut = true;
        return -1;
      }
    }
  }
  return n > 0 ? 1 : n;
}
