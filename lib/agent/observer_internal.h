/*
 * observer_internal.h - what the agent loop needs from observer.c beyond
 * the public API.
 */
#ifndef HL_OBSERVER_INTERNAL_H
#define HL_OBSERVER_INTERNAL_H

#include <stdbool.h>
#include "hookline/observer.h"

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
 * hl__observer_notify_global_snap()). The caller's last error is saved
 * and restored once around them all (hl_observer_notify() does it per
 * observer). Thread-safe as hl_observer_notify(). */
void hl__observer_emit(hl_observer *const *obs, size_t n, hl__observer_snap *globals,
                       const hl_event *event);

/* True if at least one global observer is registered (lets the agent skip
 * building an event nobody will see). */
bool hl__observer_has_global(void);

/* The union of the event types the global observers want. Lock-free. */
hl_event_mask hl__observer_global_events(void);

/* What this thread built for observers, for tests of the skipping
 * (hl_observer_set_events()): events delivered by hl__emit() per type, and
 * payloads made only for an event (the scripted provider's request and
 * response copies, TURN_END's tool summary). Thread-local: counting costs
 * no shared cache line; read it on the thread that ran the run. */
typedef struct hl__event_counts {
  uint64_t emitted[HL_EVENT_TYPE_COUNT];
  uint64_t payloads;
} hl__event_counts;
extern _Thread_local hl__event_counts hl__event_built;

#endif
