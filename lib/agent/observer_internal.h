/*
 * observer_internal.h - what the agent loop needs from observer.c beyond
 * the public API.
 */
#ifndef HL_OBSERVER_INTERNAL_H
#define HL_OBSERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include "hookline/observer.h"
#include "core/util.h"

/* Deliver `event` to every global observer (hl_observer_add_global()), in
 * the order they were added. Thread-safe; cheap (one atomic load) when
 * there is none. Call it after the agent's own observers. Takes the
 * current snapshot of the list for this one event (a lock and a
 * reference): a run delivers with hl__observer_notify_global_snap(). */
void hl__observer_notify_global(const hl_event *event);

/* An immutable snapshot of the global observers (observer.c). A run takes
 * one at its start (hl__observer_snap_get(): a reference, or NULL when
 * there is no global observer) and drops it at its end
 * (hl__observer_snap_put(), NULL is fine); thread-safe. */
typedef struct hl__observer_snap hl__observer_snap;
hl__observer_snap *hl__observer_snap_get(void);
void hl__observer_snap_put(hl__observer_snap *snap);
/* Deliver `event` to the global observers: through `mine` without a lock
 * while it is still the current snapshot (one atomic load), else through
 * the current one (hl__observer_notify_global()). `mine` may be NULL. */
void hl__observer_notify_global_snap(hl__observer_snap *mine, const hl_event *event);

/* Deliver one event of a run: to its own observers `obs` (n of them) in
 * order, then to the global ones through `globals` (as
 * hl__observer_notify_global_snap()). The caller's last error, `err`
 * (the calling thread's: hl__thread_state_here()->error, which the
 * caller has at hand), is saved and restored once around them all
 * (hl_observer_notify() does it per observer). Thread-safe as
 * hl_observer_notify(). */
void hl__observer_emit(hl_observer *const *obs, size_t n, hl__observer_snap *globals,
                       const hl_event *event, hl__error_state *err);

/* True if at least one global observer is registered (lets the agent skip
 * building an event nobody will see). */
bool hl__observer_has_global(void);

/* The union of the event types the global observers want. Lock-free;
 * inline, as every event of every run asks (observer.c keeps it). */
extern _Atomic hl_event_mask hl__global_wanted;
static inline hl_event_mask hl__observer_global_events(void) {
  return atomic_load_explicit(&hl__global_wanted, memory_order_relaxed);
}

/* What this thread built for observers (util.h's hl__event_counts), as
 * an lvalue: hl__event_built.emitted[type], hl__event_built.payloads. */
#define hl__event_built (hl__thread_state_here()->built)

#endif
