/*
 * lib/mcp/oauth_url.c - the URL work of MCP's OAuth: origins and paths
 * for the well-known metadata locations, which hosts may be spoken to
 * over plain http, form and query encoding (RFC 3986 unreserved
 * characters pass, everything else is %XX), and reading the redirect's
 * query. Small on purpose: libcurl's URL API would do, but its result
 * depends on the libcurl version, and these rules must not.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oauth.h"

bool hl__url_split(const char *url, char **origin, char **path) {
  size_t sl;
  if (!url) return false;
  if (strncasecmp(url, "https://", 8) == 0) sl = 8;
  else if (strncasecmp(url, "http://", 7) == 0) sl = 7;
  else return false;
  const char *auth = url + sl;
  size_t alen = strcspn(auth, "/?#");
  if (!alen || memchr(auth, '@', alen) || strpbrk(url, " \t\r\n")) return false;
  const char *rest = auth + alen;
  size_t plen = strcspn(rest, "?#");
  char *o = malloc(sl + alen + 1);
  char *p = malloc(plen + 1);
  if (!o || !p) {
    free(o);
    free(p);
    return false;
  }
  for (size_t i = 0; i < sl + alen; i++) o[i] = (char)tolower((unsigned char)url[i]);
  o[sl + alen] = '\0';
  /* The scheme's default port, or an empty one, names the same origin
   * as none (RFC 3986 section 6.2.3): drop it, so that origins compare. */
  char *colon = strrchr(o + sl, ':');
  if (colon && !strchr(colon, ']') &&
      (!colon[1] || strcmp(colon + 1, sl == 8 ? "443" : "80") == 0))
    *colon = '\0';
  memcpy(p, rest, plen);
  p[plen] = '\0';
  *origin = o;
  *path = p;
  return true;
}

char *hl__url_query(const char *url) {
  const char *q = url + strcspn(url, "?#");
  size_t n = strcspn(q, "#");
  return strndup(q, *q == '?' && n > 1 ? n : 0);
}

bool hl__url_loopback(const char *url) {
  char *origin, *path;
  if (!hl__url_split(url, &origin, &path)) return false;
  const char *h = origin + (strncmp(origin, "https://", 8) == 0 ? 8 : 7);
  size_t hl = strlen(h);
  bool ok;
  if (h[0] == '[') {
    ok = strncmp(h, "[::1]", 5) == 0 && (h[5] == '\0' || h[5] == ':');
  } else {
    const char *colon = strchr(h, ':');
    if (colon) hl = (size_t)(colon - h);
    ok = (hl == 9 && strncmp(h, "localhost", 9) == 0) || (hl >= 4 && strncmp(h, "127.", 4) == 0 &&
                                                           strspn(h, "0123456789.") == hl);
  }
  free(origin);
  free(path);
  return ok;
}

bool hl__url_secure(const char *url) {
  /* hl__url_split() lowercases the scheme: "HTTPS://" is https too. */
  char *origin, *path;
  if (!hl__url_split(url, &origin, &path)) return false;
  bool tls = strncmp(origin, "https://", 8) == 0;
  free(origin);
  free(path);
  return tls || hl__url_loopback(url);
}

void hl__url_encode(hl__jbuf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      hl__jbuf_raw(b, (const char *)&c, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      hl__jbuf_raw(b, e, 3);
    }
  }
}

void hl__form_add(hl__jbuf *b, const char *name, const char *value) {
  if (b->len) hl__jbuf_raw(b, "&", 1);
  hl__url_encode(b, name);
  hl__jbuf_raw(b, "=", 1);
  hl__url_encode(b, value);
}

char *hl__url_param(const char *url, const char *name) {
  if (!url) return NULL;
  /* The query ends at the fragment: a '?' inside the fragment starts none. */
  size_t before_fragment = strcspn(url, "#");
  const char *q = memchr(url, '?', before_fragment);
  q = q ? q + 1 : (strstr(url, "://") ? NULL : url);
  if (!q) return NULL;
  size_t qlen = strcspn(q, "#");
  size_t nl = strlen(name);
  for (const char *p = q; p < q + qlen;) {
    size_t item = strcspn(p, "&#");
    if (item > qlen - (size_t)(p - q)) item = qlen - (size_t)(p - q);
    if (item > nl && p[nl] == '=' && strncmp(p, name, nl) == 0) {
      const char *v = p + nl + 1;
      size_t vl = item - nl - 1;
      char *out = malloc(vl + 1);
      if (!out) return NULL;
      size_t o = 0;
      for (size_t i = 0; i < vl; i++) {
        int byte = hl__percent_byte(v + i, vl - i);
        if (byte >= 0) {
          out[o++] = (char)byte;
          i += 2;
        } else {
          out[o++] = v[i] == '+' ? ' ' : v[i];
        }
      }
      out[o] = '\0';
      if (memchr(out, '\0', o)) { /* an encoded NUL: no value a C string can hold */
        free(out);
        return NULL;
      }
      return out;
    }
    p += item + 1;
  }
  return NULL;
}
