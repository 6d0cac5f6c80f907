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

#endif
