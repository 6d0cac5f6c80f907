/*
 * cancel_notify.c - the process's one cancellation listener
 * (core/cancel_notify.h): an atomic pointer, so that announcing costs one
 * load and needs no lock.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "core/cancel_notify.h"

static _Atomic(hl__cancel_listener) listener;

void hl__cancel_listen(hl__cancel_listener fn) { atomic_store(&listener, fn); }

void hl__cancel_announce(void) {
  hl__cancel_listener fn = atomic_load(&listener);
  if (fn) fn();
}
