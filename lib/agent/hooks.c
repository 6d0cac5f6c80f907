/*
 * hooks.c - hook chain sets and registration (dispatch is hook_dispatch.c).
 *
 * A chain is a plain array of {function, flags, user_data, name}, with the
 * union of its hooks' flags kept alongside so that a run knows at once
 * whether some hook at a point edits (and so whether it must copy what it
 * would otherwise borrow). Registration is not thread-safe against
 * running agents; that is the documented price of a lock-free hot path,
 * as in Linux notifier chains set up at boot.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "core/util.h"
#include "hookline/json.h"

/* The message of the last hl_hook_abort() on this thread, allocated when
 * a hook aborts: a fixed _Thread_local buffer cost 1 KB of static TLS to
 * every thread of the application, hookline's or not. A key with a
 * destructor, not a _Thread_local pointer: a message no dispatch took (a
 * hook that called hl_hook_abort() and returned CONTINUE) is freed when
 * its thread exits. Kept apart from hl_last_error(): a hook that returns
 * ABORT without calling hl_hook_abort() must not pick up a stale message
 * from an earlier run. */
static pthread_key_t hl_abort_key;
static pthread_once_t hl_abort_once = PTHREAD_ONCE_INIT;
static bool hl_abort_ok;
/* Out of memory: this one, never freed, so that the run still says why. */
static const char hl_abort_lost[] = "aborted (message lost: out of memory)";

static void hl_abort_free(void *p) {
  if (p != hl_abort_lost) free(p);
}
static void hl_abort_init(void) { hl_abort_ok = pthread_key_create(&hl_abort_key, hl_abort_free) == 0; }

/* Replace the thread's pending message by `m` (owned; may be hl_abort_lost). */
static void hl_abort_put(char *m) {
  pthread_once(&hl_abort_once, hl_abort_init);
  void *old = hl_abort_ok ? pthread_getspecific(hl_abort_key) : NULL;
  if (!hl_abort_ok || pthread_setspecific(hl_abort_key, m) != 0) {
    hl_abort_free(m); /* no slot: the dispatcher says which hook aborted */
    return;
  }
  hl_abort_free(old);
}

bool hl__abort_take(char *out, size_t n) {
  pthread_once(&hl_abort_once, hl_abort_init);
  if (!hl_abort_ok) return false;
  char *m = pthread_getspecific(hl_abort_key);
  if (!m) return false;
  pthread_setspecific(hl_abort_key, NULL);
  snprintf(out, n, "%s", m);
  hl_abort_free(m);
  return true;
}

static hl_hooks hl_global_hooks; /* zero-initialised: empty chains */

const char *hl_hook_point_name(hl_hook_point point) {
  static const char *const names[HL_HOOK_POINT_COUNT] = {
      "before_agent", "after_agent", "before_model", "after_model", "before_tool",
      "after_tool",   "around_model", "around_tool", "model_chunk"};
  return (unsigned)point < HL_HOOK_POINT_COUNT ? names[point] : "unknown";
}

const char *hl_hook_action_name(hl_hook_action action) {
  switch (action) {
  case HL_HOOK_CONTINUE: return "continue";
  case HL_HOOK_OVERRIDE: return "override";
  case HL_HOOK_ABORT: return "abort";
  case HL_HOOK_INTERRUPT: return "interrupt";
  }
  return "unknown";
}

hl_hook_action hl_hook_abort(const char *fmt, ...) {
  char buf[HL__MSG_MAX]; /* the limit the run's error message has anyway */
  int n = -1;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
  }
  if (n <= 0) n = snprintf(buf, sizeof buf, "aborted by a hook");
  size_t len = strlen(buf);
  char *m = malloc(len + 1);
  if (m) memcpy(m, buf, len + 1);
  hl_fail(HL_ERR_ABORTED, "%s", m ? m : hl_abort_lost);
  hl_abort_put(m ? m : (char *)hl_abort_lost);
  return HL_HOOK_ABORT;
}

/* ------------------------------------------------------------------ */
/* Sets and registration                                               */
/* ------------------------------------------------------------------ */

hl_hooks *hl_hooks_new(void) {
  hl_hooks *hooks = calloc(1, sizeof *hooks);
  if (!hooks) hl__oom();
  return hooks;
}

static void hl_hook_release(hl__hook *h) {
  if (h->free_fn) h->free_fn(h->user_data);
  free(h->name);
}

static void hl_chain_flags(hl__hook_chain *chain) {
  chain->flags = 0;
  for (size_t i = 0; i < chain->count; i++) chain->flags |= chain->items[i].flags;
}

void hl_hooks_clear(hl_hooks *hooks) {
  if (!hooks) return;
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    hl__hook_chain *chain = &hooks->chains[p];
    for (size_t i = 0; i < chain->count; i++) hl_hook_release(&chain->items[i]);
    chain->count = 0;
    chain->flags = 0;
  }
  for (size_t i = 0; i < hooks->n_observers; i++) {
    free(hooks->observers[i].name);
    hl_observer_unref(hooks->observers[i].obs);
  }
  hooks->n_observers = 0;
}

hl_status hl_hooks_add_observer(hl_hooks *hooks, const char *name, hl_observer *obs) {
  if (!hooks || !name || !obs)
    return hl_fail(HL_ERR_INVALID, "hl_hooks_add_observer: hooks, name and obs are required");
  char *copy = hl__strdup(name);
  if (!copy ||
      hl__reserve((void **)&hooks->observers, &hooks->cap_observers, hooks->n_observers + 1,
                  sizeof *hooks->observers) != HL_OK) {
    free(copy);
    return hl_fail(HL_ERR_NOMEM, "hl_hooks_add_observer: out of memory");
  }
  hooks->observers[hooks->n_observers++] = (hl__hooks_observer){copy, hl_observer_ref(obs)};
  return HL_OK;
}

size_t hl_hooks_observer_count(const hl_hooks *hooks) { return hooks ? hooks->n_observers : 0; }

void hl_hooks_free(hl_hooks *hooks) {
  if (!hooks) return;
  hl_hooks_clear(hooks);
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    free(hooks->chains[p].items);
    hooks->chains[p].items = NULL;
    hooks->chains[p].cap = 0;
  }
  free(hooks->observers);
  hooks->observers = NULL;
  hooks->cap_observers = 0;
  /* The global set is static: emptied, never freed. */
  if (hooks != &hl_global_hooks) free(hooks);
}

hl_hooks *hl_hooks_global(void) { return &hl_global_hooks; }

/* The flags each point accepts: what a hook can do there. */
static const unsigned hl_allowed_flags[HL_HOOK_POINT_COUNT] = {
    [HL_HOOK_BEFORE_AGENT] = HL_HOOK_DECIDE,
    [HL_HOOK_AFTER_AGENT] = HL_HOOK_DECIDE,
    [HL_HOOK_BEFORE_MODEL] = HL_HOOK_EDIT_REQUEST | HL_HOOK_DECIDE,
    [HL_HOOK_AFTER_MODEL] = HL_HOOK_EDIT_RESPONSE | HL_HOOK_DECIDE,
    [HL_HOOK_BEFORE_TOOL] = HL_HOOK_EDIT_ARGS | HL_HOOK_DECIDE,
    [HL_HOOK_AFTER_TOOL] = HL_HOOK_DECIDE,
    [HL_HOOK_AROUND_MODEL] = HL_HOOK_DECIDE,
    [HL_HOOK_AROUND_TOOL] = HL_HOOK_DECIDE,
    [HL_HOOK_MODEL_CHUNK] = HL_HOOK_EDIT_CHUNK | HL_HOOK_DECIDE,
};

/* Every member of the union is a function pointer of the same size, so
 * testing one tells whether the def has a function. */
static bool hl_fn_set(const hl_hook_fn *fn) { return fn->before_agent != NULL; }

static hl_status hl_add_fail(const hl_hook_def *def, hl_status st, const char *fmt,
                             const char *arg) {
  char msg[HL__MSG_MAX];
  snprintf(msg, sizeof msg, fmt, arg);
  /* The def's user_data is the set's from the call on, even when the
   * call fails: release it so that a failed add leaks nothing. */
  if (def && def->size >= offsetof(hl_hook_def, free_user_data) + sizeof(hl_free_fn) &&
      def->free_user_data)
    def->free_user_data(def->user_data);
  return hl_fail(st, "hl_hooks_add: %s", msg);
}

hl_status hl_hooks_add(hl_hooks *hooks, const hl_hook_def *def) {
  if (!def) return hl_fail(HL_ERR_INVALID, "hl_hooks_add: def is NULL");
  if (def->size < offsetof(hl_hook_def, user_data) + sizeof(void *))
    return hl_add_fail(def, HL_ERR_INVALID, "def->size %s is too small (set it to sizeof(hl_hook_def))", "");
  if (!hooks) return hl_add_fail(def, HL_ERR_INVALID, "hooks is NULL%s", "");
  if ((unsigned)def->point >= HL_HOOK_POINT_COUNT)
    return hl_add_fail(def, HL_ERR_INVALID, "unknown hook point%s", "");
  const char *point = hl_hook_point_name(def->point);
  if (!hl_fn_set(&def->fn)) return hl_add_fail(def, HL_ERR_INVALID, "%s hook function is NULL", point);
  if (def->flags & ~hl_allowed_flags[def->point])
    return hl_add_fail(def, HL_ERR_INVALID, "flags not allowed at %s (see hooks.h)", point);
  hl__hook_chain *chain = &hooks->chains[def->point];
  if (hl__reserve((void **)&chain->items, &chain->cap, chain->count + 1,
                  sizeof *chain->items) != HL_OK)
    return hl_add_fail(def, HL_ERR_NOMEM, "out of memory%s", "");
  char *copy = hl__strdup(def->name ? def->name : "anonymous");
  if (!copy) return hl_add_fail(def, HL_ERR_NOMEM, "out of memory%s", "");
  hl_free_fn free_fn =
      def->size >= offsetof(hl_hook_def, free_user_data) + sizeof(hl_free_fn) ? def->free_user_data
                                                                              : NULL;
  chain->items[chain->count++] = (hl__hook){.fn = def->fn, .user_data = def->user_data,
                                            .free_fn = free_fn, .flags = def->flags,
                                            .name = copy};
  chain->flags |= def->flags;
  return HL_OK;
}

/* The typed shorthands: the union member named after the point. */
#define HL_ADD_WRAPPER(pt, POINT)                                                       \
  hl_status hl_hooks_add_##pt(hl_hooks *hooks, const char *name, unsigned flags,       \
                              hl_##pt##_fn fn, void *user_data) {                       \
    hl_hook_def def = {.size = sizeof def, .point = POINT, .name = name, .flags = flags, \
                       .fn.pt = fn, .user_data = user_data};                            \
    return hl_hooks_add(hooks, &def);                                                   \
  }
HL_ADD_WRAPPER(before_agent, HL_HOOK_BEFORE_AGENT)
HL_ADD_WRAPPER(after_agent, HL_HOOK_AFTER_AGENT)
HL_ADD_WRAPPER(before_model, HL_HOOK_BEFORE_MODEL)
HL_ADD_WRAPPER(after_model, HL_HOOK_AFTER_MODEL)
HL_ADD_WRAPPER(before_tool, HL_HOOK_BEFORE_TOOL)
HL_ADD_WRAPPER(after_tool, HL_HOOK_AFTER_TOOL)
HL_ADD_WRAPPER(around_model, HL_HOOK_AROUND_MODEL)
HL_ADD_WRAPPER(around_tool, HL_HOOK_AROUND_TOOL)
HL_ADD_WRAPPER(model_chunk, HL_HOOK_MODEL_CHUNK)

hl_status hl_hooks_remove(hl_hooks *hooks, const char *name) {
  if (!hooks || !name) return hl_fail(HL_ERR_INVALID, "hl_hooks_remove: hooks and name are required");
  size_t removed = 0;
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    hl__hook_chain *chain = &hooks->chains[p];
    size_t w = 0;
    for (size_t r = 0; r < chain->count; r++) {
      if (strcmp(chain->items[r].name, name) == 0) {
        hl_hook_release(&chain->items[r]);
        removed++;
      } else {
        chain->items[w++] = chain->items[r];
      }
    }
    chain->count = w;
    hl_chain_flags(chain);
  }
  /* An observer brought with hooks of this name goes with them. */
  size_t w = 0;
  for (size_t r = 0; r < hooks->n_observers; r++) {
    if (strcmp(hooks->observers[r].name, name) == 0) {
      free(hooks->observers[r].name);
      hl_observer_unref(hooks->observers[r].obs);
      removed++;
    } else {
      hooks->observers[w++] = hooks->observers[r];
    }
  }
  hooks->n_observers = w;
  if (!removed) return hl_fail(HL_ERR_NOT_FOUND, "no hook named \"%s\"", name);
  return HL_OK;
}

size_t hl_hooks_count(const hl_hooks *hooks, hl_hook_point point) {
  if (!hooks || (unsigned)point >= HL_HOOK_POINT_COUNT) return 0;
  return hooks->chains[point].count;
}

const char *hl_hooks_name_at(const hl_hooks *hooks, hl_hook_point point, size_t i) {
  if (!hooks || (unsigned)point >= HL_HOOK_POINT_COUNT) return NULL;
  if (i >= hooks->chains[point].count) return NULL;
  return hooks->chains[point].items[i].name;
}

hl_status hl__hooks_copy_into(hl_hooks *dst, const hl_hooks *src) {
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    const hl__hook_chain *chain = &src->chains[p];
    for (size_t i = 0; i < chain->count; i++) {
      const hl__hook *h = &chain->items[i];
      hl_hook_def def = {.size = sizeof def, .point = (hl_hook_point)p, .name = h->name,
                         .flags = h->flags, .fn = h->fn, .user_data = h->user_data};
      hl_status st = hl_hooks_add(dst, &def);
      if (st != HL_OK) return st;
    }
  }
  for (size_t i = 0; i < src->n_observers; i++) {
    hl_status st = hl_hooks_add_observer(dst, src->observers[i].name, src->observers[i].obs);
    if (st != HL_OK) return st;
  }
  return HL_OK;
}
