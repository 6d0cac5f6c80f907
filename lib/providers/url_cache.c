/* providers/url_cache.c - see url_cache.h. */
#include "url_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next;
  CURLU *parsed;
  char url[]; /* what it was parsed from */
} entry;

struct hl__url_cache {
  _Atomic(entry *) head; /* newest first */
  atomic_int n;          /* entries added or being added */
};

hl__url_cache *hl__url_cache_new(void) { return calloc(1, sizeof(hl__url_cache)); }

void hl__url_cache_free(hl__url_cache *cache) {
  if (!cache) return;
  entry *e = atomic_load(&cache->head);
  while (e) {
    entry *next = e->next;
    curl_url_cleanup(e->parsed);
    free(e);
    e = next;
  }
  free(cache);
}

static CURLU *find(entry *e, const char *url) {
  for (; e; e = e->next)
    if (strcmp(e->url, url) == 0) return e->parsed;
  return NULL;
}

CURLU *hl__url_cache_get(hl__url_cache *cache, const char *url) {
  if (!cache || !url) return NULL;
  entry *head = atomic_load_explicit(&cache->head, memory_order_acquire);
  CURLU *found = find(head, url);
  if (found) return found;
  /* Two threads may add the same URL at once: both entries are correct,
   * the cap bounds the waste. */
  if (atomic_fetch_add(&cache->n, 1) >= HL__URL_CACHE_MAX) {
    atomic_fetch_sub(&cache->n, 1);
    return NULL;
  }
  size_t len = strlen(url);
  entry *e = malloc(sizeof *e + len + 1);
  CURLU *parsed = e ? curl_url() : NULL;
  /* libcurl's own flags for CURLOPT_URL (lib/url.c parseurlandfillconn). */
  unsigned flags = CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME;
  if (!parsed || curl_url_set(parsed, CURLUPART_URL, url, flags) != CURLUE_OK) {
    curl_url_cleanup(parsed);
    free(e);
    atomic_fetch_sub(&cache->n, 1);
    return NULL;
  }
  e->parsed = parsed;
  memcpy(e->url, url, len + 1);
  e->next = head;
  while (!atomic_compare_exchange_weak_explicit(&cache->head, &e->next, e, memory_order_release,
                                                memory_order_acquire))
    ;
  return parsed;
}
