/*
 * fuzz_oauth.c - libFuzzer target for what MCP's OAuth reads from servers
 * and redirects: the WWW-Authenticate reader (lib/mcp/www_auth.c), the
 * URL helpers (lib/mcp/oauth_url.c) that take apart metadata URLs and the
 * redirect's query, and the token endpoint's refusal read for a message
 * (lib/mcp/oauth_tokens.c).
 *
 * Input: byte 0 picks the mode (% 3), the rest is a NUL-terminated text:
 *   0  a WWW-Authenticate header value
 *   1  a URL (or a redirect's query)
 *   2  a token endpoint's JSON answer, read as a refusal
 * Invariants: no Bearer or DPoP challenge, no parameters, and never
 * both schemes at once; a parameter is a C string
 * shorter than the reader's cap; a split URL's origin is a lowercase
 * http(s) scheme and a host without user info, its path has no query or
 * fragment, and origin + path is a prefix of the URL up to case but for
 * a default or empty port left out; only a URL that splits can be
 * "secure"; a query value has no NUL and is never longer than the text;
 * encoding then reading a parameter gives it back; a refusal's message
 * holds none of the secrets the request carried.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_util.h"
#include "mcp/oauth.h"

static void www_auth(const char *text) {
  hl__www_auth a;
  hl__www_auth_parse(text, &a);
  const char *v[] = {a.resource_metadata, a.scope, a.error, a.error_description};
  FUZZ_CHECK(!(a.bearer && a.dpop), "one challenge read as both Bearer and DPoP");
  for (int i = 0; i < 4; i++) {
    FUZZ_CHECK(a.bearer || a.dpop || !v[i], "a parameter without a Bearer or DPoP challenge");
    FUZZ_CHECK(!v[i] || strlen(v[i]) < 2048, "a parameter over the cap");
  }
  hl__www_auth_clear(&a);
}

/* A token endpoint's refusal that quotes back what it was sent: the
 * message never holds a secret. */
static void refusal(const char *text) {
  static const char *const secrets[] = {"code-Xy7_secret", "verifier-9f3Q", NULL, ""};
  cJSON *j = cJSON_Parse(text);
  char buf[400];
  hl__oauth_refusal(j, secrets, 4, buf, sizeof buf);
  FUZZ_CHECK(strlen(buf) < sizeof buf, "unterminated");
  for (int i = 0; i < 2; i++) FUZZ_CHECK(!strstr(buf, secrets[i]), "secret %s in %s", secrets[i], buf);
  cJSON_Delete(j);
}

static void url(const char *text) {
  char *origin = NULL, *path = NULL;
  bool split = hl__url_split(text, &origin, &path);
  if (split) {
    FUZZ_CHECK(strncmp(origin, "http://", 7) == 0 || strncmp(origin, "https://", 8) == 0, "origin %s", origin);
    FUZZ_CHECK(!strchr(origin + 8, '@') && !strpbrk(path, "?#"), "origin %s path %s", origin, path);
    size_t ol = strlen(origin), pl = strlen(path);
    /* what the origin left out: nothing, or the default or an empty port */
    const char *rest = text + ol;
    size_t port = *rest == ':' ? strspn(rest + 1, "0123456789") : 0;
    bool dropped = *rest == ':' && (port == 0 || (port == 3 && strncmp(rest + 1, "443", 3) == 0 && origin[4] == 's') ||
                                    (port == 2 && strncmp(rest + 1, "80", 2) == 0 && origin[4] == ':'));
    FUZZ_CHECK(*rest != ':' || dropped, "origin %s dropped a port that is not the default", origin);
    if (dropped) rest += 1 + port;
    FUZZ_CHECK(strncasecmp(text, origin, ol) == 0 && strncmp(rest, path, pl) == 0, "not a prefix");
    for (const char *c = origin; *c; c++) FUZZ_CHECK(!isupper((unsigned char)*c), "origin %s not lowercase", origin);
  }
  FUZZ_CHECK(split || !hl__url_secure(text), "secure but does not split");
  free(origin);
  free(path);
  const char *names[] = {"code", "state", "error"};
  for (int i = 0; i < 3; i++) {
    char *v = hl__url_param(text, names[i]);
    FUZZ_CHECK(!v || strlen(v) <= strlen(text), "a value longer than the text");
    free(v);
  }
  /* round trip: the text as the value of a form's parameter */
  hl__jbuf b = {0};
  hl__form_add(&b, "x", "1");
  hl__form_add(&b, "code", text);
  if (!b.failed) {
    char *back = hl__url_param(b.p, "code");
    FUZZ_CHECK(back && strcmp(back, text) == 0, "form round trip lost %s", text);
    free(back);
  }
  free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > (64u << 10)) return 0;
  char *text = malloc(size);
  if (!text) return 0;
  memcpy(text, data + 1, size - 1);
  text[size - 1] = '\0';
  if (data[0] % 3 == 0) www_auth(text);
  else if (data[0] % 3 == 1) url(text);
  else refusal(text);
  free(text);
  return 0;
}
