/*
 * tests/mcp/oauth_agent.h - a headless user agent for the authorize
 * callback of hl_mcp_set_oauth() (conformance_client.c, test_oauth.c):
 * it GETs the authorization URL without following the redirect and
 * returns the Location, the redirect a browser would have followed, which
 * works with authorization servers that approve at once (the test ones).
 */
#ifndef HL_TEST_OAUTH_AGENT_H
#define HL_TEST_OAUTH_AGENT_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "hookline.h"

/* libcurl header callback: keep the Location header's value. */
static inline size_t oauth_agent_keep_location(char *data, size_t size, size_t n, void *user) {
  char **loc = user;
  size_t len = size * n;
  if (len > 9 && strncasecmp(data, "Location:", 9) == 0) {
    const char *v = data + 9;
    size_t vl = len - 9;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
    free(*loc);
    *loc = strndup(v, vl);
  }
  return len;
}

static inline size_t oauth_agent_drop_body(char *data, size_t size, size_t n, void *user) {
  (void)data, (void)user;
  return size * n;
}

/* The user-agent step, headless: the redirect the server answers with. */
static inline hl_status oauth_agent_follow_once(hl_mcp *m, const char *url, char **redirect, void *user) {
  (void)m, (void)user;
  CURL *c = curl_easy_init();
  if (!c) return hl_fail(HL_ERR_NOMEM, "curl_easy_init failed");
  char *loc = NULL;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, oauth_agent_keep_location);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &loc);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, oauth_agent_drop_body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK || !loc) {
    free(loc);
    return hl_fail(HL_ERR_NETWORK, "authorization URL: %s", rc != CURLE_OK ? curl_easy_strerror(rc) : "no redirect");
  }
  *redirect = loc;
  return HL_OK;
}

#endif
