/*
 * lib/mcp/oauth_assertion.c - MCP authorization with a JWT the
 * application provides (hl_mcp_oauth.assertion), no user and no signing
 * key of hookline's:
 *
 *  - workload identity federation (SEP-1933): the application's workload
 *    JWT goes to the authorization server's token endpoint as the
 *    jwt-bearer grant's assertion (RFC 7523 section 2.1);
 *  - enterprise-managed authorization (SEP-990, the Identity Assertion
 *    JWT Authorization Grant): the user's ID token from the enterprise
 *    identity provider is exchanged at that provider's token endpoint
 *    (RFC 8693) for an ID-JAG whose audience is the authorization
 *    server's issuer and whose resource is the MCP server's, and that
 *    ID-JAG is the jwt-bearer grant's assertion.
 *
 * A refusal at either step ends the authorization with the server's
 * words (what was sent redacted from them); it is never retried, with
 * this grant or another (the extensions say so: a rejected assertion
 * will not become valid by asking again).
 */
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "oauth.h"

#define GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define TOKEN_TYPE_ID_JAG "urn:ietf:params:oauth:token-type:id-jag"
#define TOKEN_TYPE_ID_TOKEN "urn:ietf:params:oauth:token-type:id_token"

static void wipe_free(char *s) {
  if (s) memset(s, 0, strlen(s));
  free(s);
}

/* RFC 8693 at the identity provider: the ID token `id_token` for an
 * ID-JAG for `meta`'s authorization server and resource, into *jag
 * (malloc'd). */
static hl_status exchange(hl__oauth *o, const hl__oauth_meta *meta, const char *id_token, const char *scope,
                          char **jag) {
  *jag = NULL;
  hl__jbuf form = {0};
  hl__form_add(&form, "grant_type", GRANT_TOKEN_EXCHANGE);
  hl__form_add(&form, "requested_token_type", TOKEN_TYPE_ID_JAG);
  hl__form_add(&form, "audience", meta->issuer);
  hl__form_add(&form, "resource", meta->resource);
  if (scope && *scope) hl__form_add(&form, "scope", scope);
  hl__form_add(&form, "subject_token", id_token);
  hl__form_add(&form, "subject_token_type", TOKEN_TYPE_ID_TOKEN);
  char *header = NULL;
  unsigned method = o->idp_client_secret ? HL__AUTH_BASIC : HL__AUTH_NONE;
  hl_status st = hl__oauth_client_auth(o->idp_client_id, o->idp_client_secret, method, &form, &header);
  if (st == HL_OK && form.failed) st = hl__oom();
  long status = 0;
  cJSON *j = NULL;
  if (st == HL_OK)
    st = hl__oauth_request(o, o->idp_token_endpoint, form.p, "application/x-www-form-urlencoded", header, NULL,
                           &status, &j);
  if (st != HL_OK) {
    st = hl__mcp_fail(o->m, st, "mcp server \"%s\": token exchange at %s: %s", o->m->name, o->idp_token_endpoint,
                      hl_last_error());
  } else {
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(j, "issued_token_type");
    if (status != 200) {
      /* The identity provider may quote the ID token or the secret back. */
      const char *secrets[] = {id_token, o->idp_client_secret, header ? strrchr(header, ' ') + 1 : NULL};
      char why[400];
      hl__oauth_refusal(j, secrets, 3, why, sizeof why);
      st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": token exchange at %s: HTTP %ld%s", o->m->name,
                        o->idp_token_endpoint, status, why);
    } else if (!cJSON_IsString(at) || !at->valuestring[0]) {
      st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": token exchange at %s: the answer has no access_token",
                        o->m->name, o->idp_token_endpoint);
    } else if (!cJSON_IsString(tt) || strcmp(tt->valuestring, TOKEN_TYPE_ID_JAG) != 0) {
      /* RFC 8693 requires issued_token_type; another type (an access
       * token for the provider itself) is no grant for this server. */
      char q[120];
      hl__quote(q, sizeof q, cJSON_IsString(tt) ? tt->valuestring : "(none)");
      st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": token exchange at %s: issued_token_type %s is not "
                        TOKEN_TYPE_ID_JAG, o->m->name, o->idp_token_endpoint, q);
    } else if (!(*jag = strdup(at->valuestring))) {
      st = hl__oom();
    }
  }
  /* The answer held the ID-JAG: a credential, wiped before freeing. */
  cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "access_token");
  if (cJSON_IsString(at)) memset(at->valuestring, 0, strlen(at->valuestring));
  cJSON_Delete(j);
  wipe_free(header);
  if (form.p) memset(form.p, 0, form.len);
  free(form.p);
  return st;
}

hl_status hl__oauth_assertion_grant(hl__oauth *o, const hl__oauth_meta *meta, const char *id, const char *secret,
                                    unsigned method, const char *scope) {
  char *jwt = NULL;
  hl_status st = o->assertion(o->m, meta->issuer, meta->resource, &jwt, o->user);
  if (st != HL_OK || !jwt || !*jwt) {
    wipe_free(jwt);
    return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: the assertion callback %s%s",
                        o->m->name, st != HL_OK ? "failed: " : "gave no JWT", st != HL_OK ? hl_last_error() : "");
  }
  if (o->idp_token_endpoint) {
    char *jag = NULL;
    st = exchange(o, meta, jwt, scope, &jag);
    wipe_free(jwt);
    jwt = jag;
    if (st != HL_OK) return st;
  }
  hl__jbuf form = {0};
  hl__form_add(&form, "grant_type", GRANT_JWT_BEARER);
  hl__form_add(&form, "assertion", jwt);
  if (scope && *scope) hl__form_add(&form, "scope", scope);
  hl__form_add(&form, "resource", meta->resource);
  wipe_free(jwt);
  st = hl__oauth_token_request(o, meta->issuer, meta->token_endpoint, &form, id, secret, method, scope,
                               "jwt-bearer grant", NULL);
  if (form.p) memset(form.p, 0, form.len);
  free(form.p);
  return st;
}
