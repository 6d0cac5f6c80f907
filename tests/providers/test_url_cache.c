/*
 * test_url_cache.c - request URLs parsed once per HTTP client
 * (lib/net/url_cache.h): one handle per URL, parsed as libcurl
 * parses CURLOPT_URL, bad URLs and URLs beyond the cap left to libcurl,
 * and threads racing to add one URL.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "net/url_cache.h"

/* The part of a parsed handle, compared and freed here. */
static void check_part(CURLU *u, CURLUPart what, const char *want) {
  char *got = NULL;
  CHECK_INT(curl_url_get(u, what, &got, 0), CURLUE_OK);
  CHECK_STR(got, want);
  curl_free(got);
}

static void same_url_same_handle(void) {
  hl__url_cache *c = hl__url_cache_new();
  REQUIRE(c);
  CURLU *a = hl__url_cache_get(c, "http://127.0.0.1:8089/v1/chat/completions");
  REQUIRE(a);
  CHECK(hl__url_cache_get(c, "http://127.0.0.1:8089/v1/chat/completions") == a);
  check_part(a, CURLUPART_HOST, "127.0.0.1");
  check_part(a, CURLUPART_PORT, "8089");
  check_part(a, CURLUPART_PATH, "/v1/chat/completions");
  CURLU *b = hl__url_cache_get(c, "https://api.example.com/v1/messages?beta=true");
  REQUIRE(b);
  CHECK(b != a);
  check_part(b, CURLUPART_QUERY, "beta=true");
  /* What libcurl itself would make of a URL without a scheme. */
  CURLU *guessed = hl__url_cache_get(c, "localhost:11434/v1/chat/completions");
  REQUIRE(guessed);
  check_part(guessed, CURLUPART_SCHEME, "http");
  hl__url_cache_free(c);
}

static void bad_url_and_cap_left_to_libcurl(void) {
  hl__url_cache *c = hl__url_cache_new();
  REQUIRE(c);
  CHECK(hl__url_cache_get(c, "http://") == NULL);
  CHECK(hl__url_cache_get(c, NULL) == NULL);
  CHECK(hl__url_cache_get(NULL, "http://a/") == NULL);
  /* The bad URL took no place: HL__URL_CACHE_MAX good ones still fit. */
  CURLU *first = NULL;
  char url[64];
  for (int i = 0; i < HL__URL_CACHE_MAX; i++) {
    snprintf(url, sizeof url, "http://host%d/v1/x", i);
    CURLU *u = hl__url_cache_get(c, url);
    CHECK(u != NULL);
    if (i == 0) first = u;
  }
  CHECK(hl__url_cache_get(c, "http://one-too-many/v1/x") == NULL);
  CHECK(hl__url_cache_get(c, "http://host0/v1/x") == first);
  hl__url_cache_free(c);
}

/* Threads adding one URL at once: each round a fresh cache and THREADS
 * threads released together by a barrier to look up the same URL, which
 * none finds, so they all parse it and race to add it. The race is the
 * common case here, not luck: every thread of a round misses and parses
 * (microseconds) before any can add. Each URL must end up with one
 * entry: every thread of the round gets the same handle, and the cache
 * still takes HL__URL_CACHE_MAX - 1 other URLs (copies of the raced URL
 * would take places of the cap). */
#define THREADS 8
#define ROUNDS 1000

typedef struct race {
  pthread_barrier_t start, done;
  hl__url_cache *cache; /* this round's */
  char url[64];         /* this round's */
  CURLU *got[THREADS];
} race;

typedef struct racer {
  race *r;
  int id;
} racer;

static void *race_to_add(void *arg) {
  racer *me = arg;
  race *r = me->r;
  for (int i = 0; i < ROUNDS; i++) {
    pthread_barrier_wait(&r->start);
    r->got[me->id] = hl__url_cache_get(r->cache, r->url);
    pthread_barrier_wait(&r->done);
  }
  return NULL;
}

static void threads_racing_to_add_one_url(void) {
  race r;
  REQUIRE(pthread_barrier_init(&r.start, NULL, THREADS + 1) == 0);
  REQUIRE(pthread_barrier_init(&r.done, NULL, THREADS + 1) == 0);
  racer who[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    who[i] = (racer){&r, i};
    REQUIRE(pthread_create(&t[i], NULL, race_to_add, &who[i]) == 0);
  }
  int split = 0, cap_short = 0;
  for (int round = 0; round < ROUNDS; round++) {
    r.cache = hl__url_cache_new();
    snprintf(r.url, sizeof r.url, "http://127.0.0.1:%d/v1/chat/completions", 1000 + round);
    pthread_barrier_wait(&r.start);
    pthread_barrier_wait(&r.done);
    CURLU *one = hl__url_cache_get(r.cache, r.url);
    bool same = one != NULL;
    for (int i = 0; i < THREADS; i++) same = same && r.got[i] == one;
    split += !same;
    int room = 0;
    char other[64];
    for (int k = 0; k < HL__URL_CACHE_MAX; k++) {
      snprintf(other, sizeof other, "http://other-%d/v1/x", k);
      room += hl__url_cache_get(r.cache, other) != NULL;
    }
    cap_short += room != HL__URL_CACHE_MAX - 1;
    hl__url_cache_free(r.cache);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&r.start);
  pthread_barrier_destroy(&r.done);
  /* Rounds (of ROUNDS) in which threads got different handles for one
   * URL, or copies of it took places of the cap. */
  CHECK_INT(split, 0);
  CHECK_INT(cap_short, 0);
}

int main(void) {
  RUN(same_url_same_handle);
  RUN(bad_url_and_cap_left_to_libcurl);
  RUN(threads_racing_to_add_one_url);
  return CHECK_EXIT();
}
