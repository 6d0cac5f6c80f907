/*
 * hooks/loadable/response_cache.c - the response cache in loadable form.
 * Options: {"capacity": 256}. State: the hl_response_cache (for counters).
 */
#include "descriptor.h"

static hl_status cache_init(hl_hooks *hooks, const cJSON *options, void **state)
{
  static const char *const known[] = {"capacity", NULL};
  int64_t capacity;
  hl_status st;
  if ((st = hl__opt_known(options, known)) ||
      (st = hl__opt_int(options, "capacity", 256, 1, 1 << 24, &capacity)))
    return st;
  hl_response_cache *cache = hl_response_cache_new((size_t)capacity);
  if (!cache)
    return hl_last_status() ? hl_last_status() : HL_ERR_NOMEM;
  st = hl_response_cache_install(cache, hooks);
  if (st != HL_OK) {
    hl_response_cache_unref(cache);
    return st;
  }
  *state = cache;
  return HL_OK;
}

static void cache_free(void *state)
{
  hl_response_cache_unref(state);
}

HL_BUILTIN_PLUGIN(response_cache, "response_cache",
                  "Answers repeated model requests from an LRU cache", cache_init, cache_free);
