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
 * there is none. Call it after the agent's own observers. */
void hl__observer_notify_global(const hl_event *event);

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
