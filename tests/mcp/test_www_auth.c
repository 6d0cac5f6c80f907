/*
 * tests/mcp/test_www_auth.c - the WWW-Authenticate reader of MCP's OAuth
 * (lib/mcp/www_auth.c): RFC 9110 auth-param syntax (quoted strings with
 * escapes, tokens, token68, several challenges in one header, case of
 * scheme and names) and hostile input (unterminated quotes, garbage,
 * oversized values, no Bearer at all), which must never crash or leak
 * (the ASan build runs it); DPoP's challenge, read as Bearer's is.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mcp/oauth.h"

static void bearer_parameters(void) {
  hl__www_auth a;
  hl__www_auth_parse("Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource\", "
                     "scope=\"files:read files:write\", error=\"insufficient_scope\", "
                     "error_description=\"needs \\\"write\\\"\"", &a);
  CHECK(a.bearer);
  CHECK_STR(a.resource_metadata, "https://mcp.example.com/.well-known/oauth-protected-resource");
  CHECK_STR(a.scope, "files:read files:write");
  CHECK_STR(a.error, "insufficient_scope");
  CHECK_STR(a.error_description, "needs \"write\"");
  hl__www_auth_clear(&a);

  /* tokens unquoted, names and scheme in any case, spaces around "=" */
  hl__www_auth_parse("bearer ERROR = invalid_token ,Scope=read", &a);
  CHECK(a.bearer);
  CHECK_STR(a.error, "invalid_token");
  CHECK_STR(a.scope, "read");
  CHECK(!a.resource_metadata);
  hl__www_auth_clear(&a);
}

static void several_challenges(void) {
  hl__www_auth a;
  /* Another scheme's parameters before and after are not Bearer's, a
   * token68 is skipped, and the first Bearer challenge wins. */
  hl__www_auth_parse("Basic realm=\"x\", scope=\"basic-scope\", Negotiate abc+/d==, "
                     "Bearer scope=\"mcp:basic\", resource_metadata=\"http://127.0.0.1:1/prm\", "
                     "DPoP scope=\"dpop\", Bearer scope=\"second\"", &a);
  CHECK(a.bearer);
  CHECK_STR(a.scope, "mcp:basic");
  CHECK_STR(a.resource_metadata, "http://127.0.0.1:1/prm");
  hl__www_auth_clear(&a);

  hl__www_auth_parse("Basic realm=\"only basic\"", &a);
  CHECK(!a.bearer);
  CHECK(!a.scope);
  hl__www_auth_clear(&a);

  hl__www_auth_parse("Bearer", &a);
  CHECK(a.bearer);
  CHECK(!a.scope && !a.error);
  hl__www_auth_clear(&a);
}

/* DPoP's challenge (RFC 9449 section 7.1) has Bearer's parameters; the
 * first of the two in a header is read. */
static void dpop_challenge(void) {
  hl__www_auth a;
  hl__www_auth_parse("Basic realm=\"x\", DPoP error=\"use_dpop_nonce\", "
                     "resource_metadata=\"http://127.0.0.1:1/prm\", Bearer scope=\"second\"", &a);
  CHECK(a.dpop && !a.bearer);
  CHECK_STR(a.error, "use_dpop_nonce");
  CHECK_STR(a.resource_metadata, "http://127.0.0.1:1/prm");
  CHECK(!a.scope);
  hl__www_auth_clear(&a);
  hl__www_auth_parse("dpop algs=\"ES256\"", &a);
  CHECK(a.dpop);
  CHECK(!a.error);
  hl__www_auth_clear(&a);
}

static void hostile_input(void) {
  const char *bad[] = {
      "",
      ",,,,",
      "Bearer scope=\"never ends",
      "Bearer =\"x\", ==, \"\", \\",
      "Bearer scope=\"a\\",
      "Bearer \x01\x02 scope=\x7f, error=\"\xff\xfe\"",
      "Bearer error=\"x\"garbage, scope=\"read\"",
      "=== Bearer === scope",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    hl__www_auth a;
    hl__www_auth_parse(bad[i], &a);
    hl__www_auth_clear(&a);
  }
  hl__www_auth a;
  hl__www_auth_parse(NULL, &a);
  CHECK(!a.bearer);
  /* garbage after a value is skipped up to the next comma */
  hl__www_auth_parse("Bearer error=\"x\"garbage, scope=\"read\"", &a);
  CHECK_STR(a.error, "x");
  CHECK_STR(a.scope, "read");
  hl__www_auth_clear(&a);
  /* an unterminated quote gives no value */
  hl__www_auth_parse("Bearer scope=\"never ends", &a);
  CHECK(a.bearer && !a.scope);
  hl__www_auth_clear(&a);
  /* a value over the cap is dropped, the others stay */
  size_t n = 10000;
  char *big = malloc(n + 100);
  REQUIRE(big);
  strcpy(big, "Bearer scope=\"");
  memset(big + strlen(big), 'a', n);
  strcpy(big + 14 + n, "\", error=\"e\"");
  hl__www_auth_parse(big, &a);
  CHECK(!a.scope);
  CHECK_STR(a.error, "e");
  hl__www_auth_clear(&a);
  free(big);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(bearer_parameters);
  RUN(several_challenges);
  RUN(dpop_challenge);
  RUN(hostile_input);
  return CHECK_EXIT();
}
