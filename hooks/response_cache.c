/*
 * hooks/response_cache.c - answer repeated model requests from memory.
 *
 * before_model looks the request up and overrides with a copy of the
 * stored response on a hit (H5: the model is not called); after_model
 * stores successful responses. Entries live in a hash table (chained,
 * keyed by FNV-1a 64 of the canonical request JSON) threaded on an LRU
 * list; the least recently used entry goes when the cache is full. One
 * mutex guards the table: lookups are short next to a model call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/hooks.h"
#include "hookline/model.h"
#include "hookline/plugins.h"
#include "plugin_util.h"

typedef struct entry {
  uint64_t hash;
  char *key;                    /* canonical JSON: compared on hit, so a
                                   hash collision is a miss */
  hl_response *response;
  struct entry *next_in_bucket;
  struct entry *lru_prev, *lru_next;   /* head = most recent */
} entry;

struct hl_response_cache {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  pthread_mutex_t lock;
  size_t capacity, size, n_buckets;
  entry **buckets;
  entry *lru_head, *lru_tail;
  atomic_uint_fast64_t hits, misses;
};

static void entry_free(entry *e)
{
  free(e->key);
  hl_response_free(e->response);
  free(e);
}

static void lru_unlink(hl_response_cache *c, entry *e)
{
  if (e->lru_prev)
    e->lru_prev->lru_next = e->lru_next;
  else
    c->lru_head = e->lru_next;
  if (e->lru_next)
    e->lru_next->lru_prev = e->lru_prev;
  else
    c->lru_tail = e->lru_prev;
  e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(hl_response_cache *c, entry *e)
{
  e->lru_prev = NULL;
  e->lru_next = c->lru_head;
  if (c->lru_head)
    c->lru_head->lru_prev = e;
  c->lru_head = e;
  if (!c->lru_tail)
    c->lru_tail = e;
}

static entry *find_locked(hl_response_cache *c, uint64_t hash, const char *key)
{
  for (entry *e = c->buckets[hash & (c->n_buckets - 1)]; e; e = e->next_in_bucket)
    if (e->hash == hash && strcmp(e->key, key) == 0)
      return e;
  return NULL;
}

static void remove_locked(hl_response_cache *c, entry *victim)
{
  entry **link = &c->buckets[victim->hash & (c->n_buckets - 1)];
  while (*link && *link != victim)
    link = &(*link)->next_in_bucket;
  if (*link)
    *link = victim->next_in_bucket;
  lru_unlink(c, victim);
  c->size--;
  entry_free(victim);
}

static void clear_locked(hl_response_cache *c)
{
  entry *e = c->lru_head;
  while (e) {
    entry *next = e->lru_next;
    entry_free(e);
    e = next;
  }
  memset(c->buckets, 0, c->n_buckets * sizeof *c->buckets);
  c->lru_head = c->lru_tail = NULL;
  c->size = 0;
}

static void cache_destroy(void *self)
{
  hl_response_cache *c = self;
  clear_locked(c);
  free(c->buckets);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

hl_response_cache *hl_response_cache_new(size_t capacity)
{
  if (capacity == 0 || capacity > SIZE_MAX / 4) {
    hl_fail(HL_ERR_INVALID, "hl_response_cache_new: capacity must be at least 1");
    return NULL;
  }
  hl_response_cache *c = calloc(1, sizeof *c);
  if (!c) {
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  /* A power of two at least twice the capacity keeps chains short and
   * lets the bucket index be a mask. */
  size_t n = 16;
  while (n < capacity * 2)
    n *= 2;
  c->buckets = calloc(n, sizeof *c->buckets);
  if (!c->buckets || pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c->buckets);
    free(c);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&c->ref, cache_destroy);
  c->capacity = capacity;
  c->n_buckets = n;
  atomic_init(&c->hits, 0);
  atomic_init(&c->misses, 0);
  return c;
}

hl_response_cache *hl_response_cache_ref(hl_response_cache *cache)
{
  hl__plugin_retain(cache);
  return cache;
}

void hl_response_cache_unref(hl_response_cache *cache)
{
  hl__plugin_release(cache);
}

static hl_hook_action cache_before_model(hl_context *ctx, const hl_before_model_args *args,
                                         hl_before_model_out *out, void *ud)
{
  (void)ctx;
  hl_response_cache *c = ud;
  const hl_request *req = args->request;
  char *key = NULL;
  /* A request that cannot be keyed is simply not cached. */
  if (hl_request_canonical_json(req, &key) != HL_OK)
    return HL_HOOK_CONTINUE;
  uint64_t hash = hl__fnv1a64(key, strlen(key));
  hl_response *copy = NULL;
  bool found = false;
  pthread_mutex_lock(&c->lock);
  entry *e = find_locked(c, hash, key);
  if (e) {
    found = true;
    lru_unlink(c, e);
    lru_push_front(c, e);
    copy = hl_response_clone(e->response);
  }
  pthread_mutex_unlock(&c->lock);
  free(key);
  if (!found || !copy) {
    atomic_fetch_add(&c->misses, 1);
    return HL_HOOK_CONTINUE;
  }
  /* The answer cost nothing this time. */
  copy->usage.input_tokens = 0;
  copy->usage.output_tokens = 0;
  copy->usage.cost = 0;
  copy->usage.has_cost = false;
  atomic_fetch_add(&c->hits, 1);
  out->response = copy;
  return HL_HOOK_OVERRIDE;
}

static hl_hook_action cache_after_model(hl_context *ctx, const hl_after_model_args *args,
                                        hl_after_model_out *out, void *ud)
{
  (void)ctx;
  (void)out;
  hl_response_cache *c = ud;
  const hl_request *req = args->request;
  const hl_response *response = args->response;
  const hl_error *error = args->error;
  if (!response || !response->message || (error && error->status != HL_OK) ||
      response->finish == HL_FINISH_ERROR)
    return HL_HOOK_CONTINUE;
  char *key = NULL;
  if (hl_request_canonical_json(req, &key) != HL_OK)
    return HL_HOOK_CONTINUE;
  uint64_t hash = hl__fnv1a64(key, strlen(key));
  entry *fresh = calloc(1, sizeof *fresh);
  hl_response *copy = fresh ? hl_response_clone(response) : NULL;
  if (!copy) {   /* out of memory: not caching is always correct */
    free(fresh);
    free(key);
    return HL_HOOK_CONTINUE;
  }
  fresh->hash = hash;
  fresh->key = key;
  fresh->response = copy;
  pthread_mutex_lock(&c->lock);
  entry *old = find_locked(c, hash, key);
  if (old) {
    /* Stored meanwhile (a hit's after_model, or a twin request on another
     * thread): keep the first, just mark it used. */
    lru_unlink(c, old);
    lru_push_front(c, old);
  } else {
    if (c->size == c->capacity)
      remove_locked(c, c->lru_tail);
    entry **bucket = &c->buckets[hash & (c->n_buckets - 1)];
    fresh->next_in_bucket = *bucket;
    *bucket = fresh;
    lru_push_front(c, fresh);
    c->size++;
    fresh = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  if (fresh)
    entry_free(fresh);
  return HL_HOOK_CONTINUE;
}

hl_status hl_response_cache_install(hl_response_cache *cache, hl_hooks *hooks)
{
  if (!cache || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_response_cache_install: NULL argument");
  /* The lookup decides (override on a hit); storing only looks. */
  hl_status st;
  if ((st = hl__plugin_add(cache, hooks, HL_HOOK_BEFORE_MODEL, "response_cache", HL_HOOK_DECIDE,
                           (hl_hook_fn){.before_model = cache_before_model})) ||
      (st = hl__plugin_add(cache, hooks, HL_HOOK_AFTER_MODEL, "response_cache", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_model = cache_after_model})))
    return hl__plugin_install_failed(hooks, "response_cache", "hl_response_cache_install", st);
  return HL_OK;
}

uint64_t hl_response_cache_hits(const hl_response_cache *cache)
{
  return cache ? atomic_load(&((hl_response_cache *)cache)->hits) : 0;
}

uint64_t hl_response_cache_misses(const hl_response_cache *cache)
{
  return cache ? atomic_load(&((hl_response_cache *)cache)->misses) : 0;
}

size_t hl_response_cache_size(const hl_response_cache *cache)
{
  if (!cache)
    return 0;
  hl_response_cache *c = (hl_response_cache *)cache;
  pthread_mutex_lock(&c->lock);
  size_t n = c->size;
  pthread_mutex_unlock(&c->lock);
  return n;
}

void hl_response_cache_clear(hl_response_cache *cache)
{
  if (!cache)
    return;
  pthread_mutex_lock(&cache->lock);
  clear_locked(cache);
  pthread_mutex_unlock(&cache->lock);
}
