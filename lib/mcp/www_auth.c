/*
 * lib/mcp/www_auth.c - the Bearer challenge of a WWW-Authenticate header
 * (RFC 9110 section 11.6.1, RFC 6750 section 3): its resource_metadata
 * (RFC 9728), scope, error and error_description parameters, which
 * drive MCP's authorization (oauth.c).
 *
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * Several challenges share one header, separated by commas like the
 * parameters: a token followed by "=" is a parameter of the challenge
 * being read, any other token starts a new challenge. The header comes
 * from the server, so garbage is skipped up to the next comma, never
 * trusted: values are capped and copied.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oauth.h"

#define VALUE_MAX 2048

static bool tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *ows(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* Past the rest of a list item: to the next comma outside quotes. */
static const char *skip_item(const char *p) {
  bool q = false;
  for (; *p; p++) {
    if (q && *p == '\\' && p[1]) p++;
    else if (*p == '"') q = !q;
    else if (!q && *p == ',') break;
  }
  return p;
}

/* A value (token or quoted-string) at *pp into a new string (NULL: none). */
static char *value(const char **pp) {
  const char *p = *pp;
  char buf[VALUE_MAX];
  size_t n = 0;
  bool too_long = false;
  if (*p == '"') {
    for (p++; *p && *p != '"'; p++) {
      if (*p == '\\' && p[1]) p++;
      if (n < sizeof buf - 1) buf[n++] = *p;
      else too_long = true;
    }
    if (*p != '"') {
      *pp = p;
      return NULL; /* unterminated */
    }
    p++;
  } else {
    /* token, and token68's '/' and '=' which some servers send unquoted */
    for (; tchar(*p) || *p == '/' || *p == '=' || *p == ':'; p++) {
      if (n < sizeof buf - 1) buf[n++] = *p;
      else too_long = true;
    }
  }
  *pp = p;
  if (too_long) return NULL;
  buf[n] = '\0';
  return strndup(buf, n);
}

static void set_param(hl__www_auth *a, const char *name, size_t nlen, char *v) {
  static const char *names[] = {"resource_metadata", "scope", "error", "error_description"};
  char **slots[] = {&a->resource_metadata, &a->scope, &a->error, &a->error_description};
  for (size_t i = 0; i < 4; i++) {
    if (strlen(names[i]) == nlen && strncasecmp(names[i], name, nlen) == 0 && !*slots[i]) {
      *slots[i] = v;
      return;
    }
  }
  free(v);
}

void hl__www_auth_parse(const char *header, hl__www_auth *a) {
  memset(a, 0, sizeof *a);
  if (!header) return;
  /* 0: no challenge yet or another scheme's; 1: the first Bearer (or
   * DPoP, RFC 9449 section 7.1: the same parameters) one;
   * 2: a challenge after it (its parameters are not ours) */
  int in = 0;
  const char *p = header;
  while (*p) {
    p = ows(p);
    if (*p == ',') {
      p++;
      continue;
    }
    const char *tok = p;
    while (tchar(*p)) p++;
    size_t tlen = (size_t)(p - tok);
    if (!tlen) {
      p = skip_item(p + (*p != '\0'));
      continue;
    }
    const char *after = ows(p);
    if (*after == '=' && after[1] != '=') {
      /* name = value: a parameter of the current challenge */
      const char *v = ows(after + 1);
      char *val = value(&v);
      if (in == 1 && val) set_param(a, tok, tlen, val);
      else free(val);
      p = skip_item(v);
      continue;
    }
    /* a new challenge: `tok` is its scheme */
    bool bearer = tlen == 6 && strncasecmp(tok, "Bearer", 6) == 0;
    bool dpop = tlen == 4 && strncasecmp(tok, "DPoP", 4) == 0;
    if ((bearer || dpop) && in == 0) {
      a->bearer = bearer;
      a->dpop = dpop;
      in = 1;
    } else if (in == 1) {
      in = 2;
    }
    p = after;
    /* token68 ("Basic abc=="): a run ending the item, skipped */
    const char *t = p;
    while (tchar(*t) || *t == '/') t++;
    while (*t == '=') t++;
    const char *end = ows(t);
    if (t > p && (*end == ',' || *end == '\0')) p = end;
  }
}

void hl__www_auth_clear(hl__www_auth *a) {
  free(a->resource_metadata);
  free(a->scope);
  free(a->error);
  free(a->error_description);
  memset(a, 0, sizeof *a);
}
