/*
 * net/url_cache.h - request URLs parsed once per HTTP client, handed
 * to libcurl as CURLOPT_CURLU.
 *
 * Why. Given only CURLOPT_URL, libcurl 7.88 parses the URL again for every
 * transfer (curl_url_set) and then rebuilds the whole normalised URL
 * through its byte-at-a-time printf (curl_url_get of CURLUPART_URL): ~12k
 * instructions a request for a model endpoint's URL, the same URL every
 * time. Given a parsed handle as well (CURLOPT_CURLU, set together with
 * CURLOPT_URL, which keeps the transfer's URL string), it duplicates the
 * handle instead (curl_url_dup, lib/url.c parseurlandfillconn) and needs
 * no rebuild (lib/transfer.c Curl_pretransfer).
 *
 * A cache holds at most HL__URL_CACHE_MAX URLs (a provider sends to one or
 * a few); a URL beyond them, or one that does not parse, gets NULL and
 * libcurl parses it as before (and reports a bad one itself).
 *
 * Internal to lib/net. Thread-safe: lookups and additions from any
 * thread without a lock (entries are published by an atomic exchange and
 * never change or go away before the cache is freed). Handles it returns
 * are read-only (libcurl only duplicates them) and live until
 * hl__url_cache_free().
 */
#ifndef HL_NET_URL_CACHE_H
#define HL_NET_URL_CACHE_H

#include <curl/curl.h>

#define HL__URL_CACHE_MAX 8

typedef struct hl__url_cache hl__url_cache;

/* A new empty cache, or NULL when out of memory. Owned by the caller. */
hl__url_cache *hl__url_cache_new(void);

/* Frees the cache and every handle in it; no transfer may still use one.
 * NULL is a no-op. */
void hl__url_cache_free(hl__url_cache *cache);

/* The parsed handle of `url` (parsed with the flags libcurl uses for
 * CURLOPT_URL), or NULL (cache full, out of memory, or a URL libcurl would
 * reject: the caller then sets CURLOPT_URL alone). Borrowed from the cache. */
CURLU *hl__url_cache_get(hl__url_cache *cache, const char *url);

#endif
