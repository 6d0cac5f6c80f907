/*
 * tests/mcp/test_oauth_url.c - the URL helpers of MCP's OAuth
 * (lib/mcp/oauth_url.c): origins that compare as RFC 3986 says (scheme
 * and host in any case, the default port written or not, IPv6 literals),
 * which hosts may use plain http, the redirect's query read only up to
 * its fragment, and a URL's query as discovery and the resource keep it.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mcp/oauth.h"

/* Split `url` and check its origin and path. */
static void splits(const char *url, const char *origin, const char *path) {
  char *o = NULL, *p = NULL;
  CHECK(hl__url_split(url, &o, &p));
  CHECK_STR(o, origin);
  CHECK_STR(p, path);
  free(o);
  free(p);
}

static void origins(void) {
  splits("HTTPS://Example.COM/MCP", "https://example.com", "/MCP"); /* the path keeps its case */
  /* the scheme's default port, or an empty port, is no port */
  splits("https://example.com:443/mcp", "https://example.com", "/mcp");
  splits("http://example.com:80", "http://example.com", "");
  splits("http://example.com:/mcp", "http://example.com", "/mcp");
  splits("http://[::1]:80/x", "http://[::1]", "/x");
  /* any other port stays, the other scheme's default too */
  splits("https://example.com:80/mcp", "https://example.com:80", "/mcp");
  splits("http://example.com:443/", "http://example.com:443", "/");
  splits("https://example.com:8443/", "https://example.com:8443", "/");
  splits("http://[::1]/x?q=1#f", "http://[::1]", "/x");
  splits("https://h?q=1", "https://h", "");
  char *o = NULL, *p = NULL;
  const char *bad[] = {"ftp://h/", "https:///p", "https://user@h/", "http://127.0.0.1:80@evil.com/", "https://h/ p",
                       "mcp.example.com", NULL};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!hl__url_split(bad[i], &o, &p));
  CHECK(!o && !p);
}

static void secure(void) {
  const char *yes[] = {"https://example.com/", "http://localhost:3000/mcp", "http://LOCALHOST/", "http://127.0.0.1/",
                       "http://127.1.2.3:8/", "http://[::1]/", "http://[::1]:9/"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) CHECK(hl__url_secure(yes[i]));
  const char *no[] = {"http://example.com/", "http://localhost.evil.com/", "http://127.0.0.1.nip.io/",
                      "http://[::1]x/", "http://[::2]/", "http://127.0.0.1\\.evil.com/", "http://0x7f000001/"};
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) CHECK(!hl__url_secure(no[i]));
}

static void query_values(void) {
  char *v = hl__url_param("http://cb/?code=a%2Bb+c&state=s", "code");
  CHECK_STR(v, "a+b c");
  free(v);
  /* names match whole, the first wins, an encoded NUL gives nothing */
  v = hl__url_param("http://cb/?xcode=1&code=2&code=3", "code");
  CHECK_STR(v, "2");
  free(v);
  CHECK(!hl__url_param("http://cb/?state=s&code=%00x", "code"));
  /* the fragment is no part of the query, not even after a '?' in it */
  v = hl__url_param("http://cb/?code=1#code=2", "code");
  CHECK_STR(v, "1");
  free(v);
  CHECK(!hl__url_param("http://cb/#x?code=3&state=s", "code"));
  CHECK(!hl__url_param("http://cb/?code", "code"));
}

/* The query as the well-known URLs and the resource indicator keep it:
 * with its '?', without the fragment, nothing for an empty one. */
static void queries(void) {
  const char *cases[][2] = {{"https://h/mcp?tenant=a#f", "?tenant=a"}, {"https://h/mcp?a=1&b=2", "?a=1&b=2"},
                            {"https://h/mcp", ""},  {"https://h/mcp?", ""},
                            {"https://h/mcp?#f", ""}, {"https://h/mcp#f?x=1", ""}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *q = hl__url_query(cases[i][0]);
    CHECK_STR(q, cases[i][1]);
    free(q);
  }
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(origins);
  RUN(secure);
  RUN(query_values);
  RUN(queries);
  return CHECK_EXIT();
}
