/*
 * cancel_notify.c - the one process-wide "a run was cancelled" listener
 * (see cancel_notify.h).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "core/cancel_notify.h"

static _Atomic(hl__cancel_listener) listener;

void hl__cancel_listen(hl__cancel_listener fn) { atomic_store(&listener, fn); }

void hl__cancel_notify(void) {
  hl__cancel_listener fn = atomic_load(&listener);
  if (fn) fn();
}
