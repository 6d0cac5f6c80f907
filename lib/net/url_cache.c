/* net/url_cache.c - see url_cache.h. */
#include "net/url_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next;
  CURLU *parsed;
  int count; /* entries from this one to the list's end */
  char url[]; /* what it was parsed from */
} entry;

struct hl__url_cache {
  _Atomic(entry *) head; /* newest first */
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

/* The handle of `url` among the entries from `e` down to (not including)
 * `stop`. */
static CURLU *find(const entry *e, const entry *stop, const char *url) {
  for (; e != stop; e = e->next)
    if (strcmp(e->url, url) == 0) return e->parsed;
  return NULL;
}

static void entry_free(entry *e) {
  curl_url_cleanup(e->parsed);
  free(e);
}

CURLU *hl__url_cache_get(hl__url_cache *cache, const char *url) {
  if (!cache || !url) return NULL;
  entry *head = atomic_load_explicit(&cache->head, memory_order_acquire);
  CURLU *found = find(head, NULL, url);
  if (found) return found;
  if (head && head->count >= HL__URL_CACHE_MAX) return NULL;
  size_t len = strlen(url);
  entry *e = malloc(sizeof *e + len + 1);
  CURLU *parsed = e ? curl_url() : NULL;
  /* libcurl's own flags for CURLOPT_URL (lib/url.c parseurlandfillconn). */
  unsigned flags = CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME;
  if (!parsed || curl_url_set(parsed, CURLUPART_URL, url, flags) != CURLUE_OK) {
    curl_url_cleanup(parsed);
    free(e);
    return NULL;
  }
  e->parsed = parsed;
  memcpy(e->url, url, len + 1);
  /* Threads may add at once. A thread whose exchange fails looks at the
   * entries added since it last looked: the same URL there is taken and
   * its own copy dropped, so every URL has one entry; and the count goes
   * with the list, so the cap holds exactly and only distinct URLs fill
   * it (a race of threads adding one URL never shuts out another). */
  for (;;) {
    e->next = head;
    e->count = (head ? head->count : 0) + 1;
    if (e->count > HL__URL_CACHE_MAX) {
      entry_free(e);
      return NULL;
    }
    if (atomic_compare_exchange_weak_explicit(&cache->head, &head, e, memory_order_release,
                                              memory_order_acquire))
      return parsed;
    /* `head` is now the newest entry; ours still points at the old one. */
    found = find(head, e->next, url);
    if (found) {
      entry_free(e);
      return found;
    }
  }
}
