/*
 * hooks_move.c - hl_hooks_move() (hooks.h): splice one hook set onto
 * another, all or nothing.
 *
 * The plugin loader (lib/plugin/) lets a plugin's init fill a private set
 * and moves the hooks only once init succeeded: that is how a failing init
 * leaves nothing half-installed, without the plugin having to clean up
 * itself. It lives here, beside hooks.c, because it rewrites the sets'
 * private arrays (agent_internal.h), which only the agent layer knows.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "core/util.h"
#include "hookline/hooks.h"

hl_status hl_hooks_move(hl_hooks *dst, hl_hooks *src) {
  if (!dst || !src || dst == src)
    return hl_fail(HL_ERR_INVALID, "hl_hooks_move: two different hook sets are required");
  /* Reserve every chain first, so that nothing moves unless all fit. */
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    hl__hook_chain *d = &dst->chains[p];
    size_t need = d->count + src->chains[p].count;
    if (src->chains[p].count &&
        hl__reserve((void **)&d->items, &d->cap, need, sizeof *d->items) != HL_OK)
      return hl_fail(HL_ERR_NOMEM, "hl_hooks_move: out of memory");
  }
  /* The observers a plugin brought (hl_hooks_add_observer()) move with
   * its hooks: reserved here too, before anything moves. */
  if (src->n_observers &&
      hl__reserve((void **)&dst->observers, &dst->cap_observers,
                  dst->n_observers + src->n_observers, sizeof *dst->observers) != HL_OK)
    return hl_fail(HL_ERR_NOMEM, "hl_hooks_move: out of memory");
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    hl__hook_chain *d = &dst->chains[p], *s = &src->chains[p];
    if (!s->count) continue;
    memcpy(d->items + d->count, s->items, s->count * sizeof *s->items);
    d->count += s->count;
    d->flags |= s->flags;
    s->count = 0;
    s->flags = 0;
  }
  if (src->n_observers)
    memcpy(dst->observers + dst->n_observers, src->observers,
           src->n_observers * sizeof *src->observers);
  dst->n_observers += src->n_observers;
  src->n_observers = 0;
  return HL_OK;
}
