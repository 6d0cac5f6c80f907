/*
 * test_url_cache.c - request URLs parsed once per HTTP client
 * (lib/providers/url_cache.h): one handle per URL, parsed as libcurl
 * parses CURLOPT_URL, bad URLs and URLs beyond the cap left to libcurl,
 * and lookups from many threads at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "check.h"
#include "providers/url_cache.h"

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

#define THREADS 8
#define ROUNDS 2000
static const char *urls[] = {"http://127.0.0.1:1/a", "http://127.0.0.1:2/b", "http://[::1]:3/c",
                             "http://example.com/d"};
typedef struct {
  hl__url_cache *cache;
  CURLU *seen[4]; /* the handle this thread got last for each URL */
  int misses;
} worker;

static void *lookups(void *arg) {
  worker *w = arg;
  for (int i = 0; i < ROUNDS; i++) {
    size_t k = (size_t)i % 4;
    CURLU *u = hl__url_cache_get(w->cache, urls[k]);
    if (!u) w->misses++;
    w->seen[k] = u;
  }
  return NULL;
}

static void many_threads_at_once(void) {
  hl__url_cache *c = hl__url_cache_new();
  REQUIRE(c);
  worker w[THREADS];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.cache = c};
    REQUIRE(pthread_create(&t[i], NULL, lookups, &w[i]) == 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  /* Every lookup found a handle (threads racing to add one URL never
   * fill the cap with copies of it), and each URL has exactly one: the
   * handle every thread got last is the one every later lookup gets. */
  for (int i = 0; i < THREADS; i++) CHECK_INT(w[i].misses, 0);
  for (size_t k = 0; k < 4; k++) {
    CURLU *now = hl__url_cache_get(c, urls[k]);
    REQUIRE(now);
    CHECK(hl__url_cache_get(c, urls[k]) == now);
    for (int i = 0; i < THREADS; i++) {
      CHECK(w[i].seen[k] == now);
      char *a = NULL, *b = NULL;
      CHECK_INT(curl_url_get(now, CURLUPART_URL, &a, 0), CURLUE_OK);
      CHECK_INT(curl_url_get(w[i].seen[k], CURLUPART_URL, &b, 0), CURLUE_OK);
      CHECK_STR(a, b);
      curl_free(a);
      curl_free(b);
    }
  }
  hl__url_cache_free(c);
}

int main(void) {
  RUN(same_url_same_handle);
  RUN(bad_url_and_cap_left_to_libcurl);
  RUN(many_threads_at_once);
  return CHECK_EXIT();
}
