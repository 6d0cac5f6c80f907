/*
 * lib/mcp/oauth_client.c - the client's identity at an authorization
 * server, in the order MCP Authorization gives: a client registered in
 * advance (hl_mcp_oauth.client_id), a Client ID Metadata Document URL
 * when the server supports them, the identity registered before with the
 * same issuer, else Dynamic Client Registration (RFC 7591); and how it
 * authenticates at the token endpoint. Registered identities are kept by
 * issuer (MCP 2026-07-28, SEP-2352: credentials are bound to the
 * authorization server that issued them; one moved to gets a new
 * registration, never another's).
 */
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "hookline/json.h"

const char *hl__oauth_method_name(unsigned m) {
  return m == HL__AUTH_BASIC ? "client_secret_basic"
         : m == HL__AUTH_POST ? "client_secret_post"
         : m == HL__AUTH_JWT  ? "private_key_jwt"
                              : "none";
}

unsigned hl__oauth_method_of(const char *name) {
  if (!name) return 0;
  return strcmp(name, "client_secret_basic") == 0 ? HL__AUTH_BASIC
         : strcmp(name, "client_secret_post") == 0 ? HL__AUTH_POST
         : strcmp(name, "private_key_jwt") == 0    ? HL__AUTH_JWT
         : strcmp(name, "none") == 0               ? HL__AUTH_NONE
                                                   : 0;
}

/* How to authenticate at the token endpoint: what the registration said
 * (if the server allows it), else private_key_jwt when the client can
 * sign (`jwt`: a signer whose alg the server takes) and the server lists
 * it, or lists nothing and there is no secret to fall back on, else by
 * the secret and the server's list (RFC 8414's default is
 * client_secret_basic). */
static unsigned pick_method(unsigned supported, const char *secret, unsigned registered, bool jwt) {
  if (registered && (!supported || (supported & registered))) return registered;
  if (jwt && ((supported & HL__AUTH_JWT) || (!supported && !secret))) return HL__AUTH_JWT;
  if (!secret) return HL__AUTH_NONE;
  if (!supported || (supported & HL__AUTH_BASIC)) return HL__AUTH_BASIC;
  if (supported & HL__AUTH_POST) return HL__AUTH_POST;
  return HL__AUTH_NONE;
}

/* A non-empty string member of `j` (NULL: none). */
static const char *member(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

void hl__oauth_clients_free(cJSON *clients) {
  cJSON *c;
  cJSON_ArrayForEach(c, clients) {
    cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "client_secret");
    if (cJSON_IsString(s)) memset(s->valuestring, 0, strlen(s->valuestring));
  }
  cJSON_Delete(clients);
}

void hl__oauth_remember_client(hl__oauth *o, const char *issuer, const char *id, const char *secret,
                               unsigned method) {
  cJSON *c = cJSON_CreateObject();
  if (!c) return;
  cJSON_AddStringToObject(c, "client_id", id);
  if (secret) cJSON_AddStringToObject(c, "client_secret", secret);
  cJSON_AddStringToObject(c, "auth_method", hl__oauth_method_name(method));
  pthread_mutex_lock(&o->lock);
  if (!o->clients) o->clients = cJSON_CreateObject();
  cJSON *old = NULL;
  if (o->clients) {
    /* Detached into a list of one, so that its secret is wiped too. */
    old = cJSON_CreateArray();
    cJSON *was = cJSON_DetachItemFromObjectCaseSensitive(o->clients, issuer);
    if (old && was) cJSON_AddItemToArray(old, was);
    else cJSON_Delete(was);
    hl_json_add(o->clients, issuer, c);
    c = NULL;
  }
  pthread_mutex_unlock(&o->lock);
  hl__oauth_clients_free(old);
  cJSON_Delete(c); /* out of memory: the next authorization registers again */
}

/* The identity for this authorization server into *id, *secret, *method
 * (malloc'd): pre-registered, CIMD, the one registered before with the
 * same issuer, or a new registration (RFC 7591). */
hl_status hl__oauth_identity(hl__oauth *o, const hl__oauth_meta *meta, char **id, char **secret, unsigned *method) {
  *id = *secret = NULL;
  if (o->client_id) {
    /* SEP-2352: a pre-registered client belongs to the authorization
     * server it was registered with. One that got the current tokens
     * from another (this run's, or the store's) is not shown to this one:
     * the server moved, and its client must be registered there. */
    pthread_mutex_lock(&o->lock);
    char *was = o->used_id && o->issuer && strcmp(o->used_id, o->client_id) == 0 &&
                strcmp(o->issuer, meta->issuer) != 0 ? hl__strdup(o->issuer) : NULL;
    pthread_mutex_unlock(&o->lock);
    if (was) {
      hl_status st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization server %s: the pre-registered "
                                  "client_id is %s's (the server moved to another authorization server; register "
                                  "a client there, give its client_id, and drop the stored tokens)",
                                  o->m->name, meta->issuer, was);
      free(was);
      return st;
    }
    *method = pick_method(meta->auth_methods, o->client_secret, 0, o->sign && meta->jwt_alg_ok);
    if (o->sign && !o->client_secret && *method != HL__AUTH_JWT)
      /* A public client's token request would only be refused: say why. */
      return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization server %s: %s", o->m->name,
                          meta->issuer, !(meta->auth_methods & HL__AUTH_JWT)
                          ? "its token_endpoint_auth_methods_supported does not list private_key_jwt (and no "
                            "client_secret was given)"
                          : "its token_endpoint_auth_signing_alg_values_supported does not list the signer's "
                            "signing_alg");
    *id = strdup(o->client_id);
    *secret = hl__strdup(o->client_secret);
    return *id && (!o->client_secret || *secret) ? HL_OK : hl__oom();
  }
  if (o->client_metadata_url && meta->cimd) {
    *method = HL__AUTH_NONE;
    return (*id = strdup(o->client_metadata_url)) ? HL_OK : hl__oom();
  }
  /* Registered before at this issuer (this run or a stored one); one
   * registered at another is never shown here (SEP-2352). */
  pthread_mutex_lock(&o->lock);
  const cJSON *known = cJSON_GetObjectItemCaseSensitive(o->clients, meta->issuer);
  const char *kid = member(known, "client_id");
  if (kid) {
    *id = strdup(kid);
    *secret = hl__strdup(member(known, "client_secret"));
    *method = pick_method(meta->auth_methods, *secret, hl__oauth_method_of(member(known, "auth_method")), false);
  }
  pthread_mutex_unlock(&o->lock);
  if (kid) return *id ? HL_OK : hl__oom();
  if (!meta->registration_endpoint)
    return hl__mcp_fail(o->m, HL_ERR_AUTH,
                        "mcp server \"%s\": authorization server %s: no client identity (it offers no dynamic "
                        "client registration%s; give a pre-registered client_id to hl_mcp_set_oauth())",
                        o->m->name, meta->issuer,
                        meta->cimd ? " and no client_metadata_url was given" : "");
  /* Ask for private_key_jwt when the client can sign and show its public
   * key (RFC 7591's jwks) and the server takes it: no secret to keep.
   * Else the method the server prefers among what a native app can do. */
  bool jwt = o->sign && o->signing_jwk && (meta->auth_methods & HL__AUTH_JWT) && meta->jwt_alg_ok;
  unsigned want = jwt                                                         ? HL__AUTH_JWT
                  : !meta->auth_methods || (meta->auth_methods & HL__AUTH_NONE) ? HL__AUTH_NONE
                  : (meta->auth_methods & HL__AUTH_BASIC)                    ? HL__AUTH_BASIC
                                                                               : HL__AUTH_POST;
  cJSON *req = cJSON_CreateObject();
  cJSON *uris = cJSON_AddArrayToObject(req, "redirect_uris");
  cJSON_AddItemToArray(uris, cJSON_CreateString(o->redirect_uri));
  cJSON_AddStringToObject(req, "client_name", o->client_name);
  cJSON_AddStringToObject(req, "application_type", o->application_type);
  cJSON *gt = cJSON_AddArrayToObject(req, "grant_types");
  cJSON_AddItemToArray(gt, cJSON_CreateString("authorization_code"));
  cJSON_AddItemToArray(gt, cJSON_CreateString("refresh_token"));
  cJSON *rt = cJSON_AddArrayToObject(req, "response_types");
  cJSON_AddItemToArray(rt, cJSON_CreateString("code"));
  cJSON_AddStringToObject(req, "token_endpoint_auth_method", hl__oauth_method_name(want));
  if (jwt) {
    cJSON *keys = cJSON_AddArrayToObject(cJSON_AddObjectToObject(req, "jwks"), "keys");
    cJSON *jwk = cJSON_Parse(o->signing_jwk); /* checked public by hl_mcp_set_oauth() */
    /* The assertions' header names the key by signing_kid: so does the key. */
    if (jwk && o->signing_kid && !cJSON_GetObjectItemCaseSensitive(jwk, "kid"))
      cJSON_AddStringToObject(jwk, "kid", o->signing_kid);
    cJSON_AddItemToArray(keys, jwk);
    cJSON_AddStringToObject(req, "token_endpoint_auth_signing_alg", o->signing_alg);
  }
  char *body = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  if (!body) return hl__oom();
  hl_status st = hl__oauth_http(o);
  long status = 0;
  cJSON *j = NULL;
  if (st == HL_OK)
    st = hl__oauth_request(o, meta->registration_endpoint, body, "application/json", NULL, NULL, &status, &j);
  free(body);
  if (st != HL_OK)
    return hl__mcp_fail(o->m, st, "mcp server \"%s\": client registration at %s: %s", o->m->name,
                        meta->registration_endpoint, hl_last_error());
  const cJSON *cid = cJSON_GetObjectItemCaseSensitive(j, "client_id");
  if ((status != 200 && status != 201) || !cJSON_IsString(cid) || !cid->valuestring[0]) {
    char why[400];
    hl__oauth_refusal(j, NULL, 0, why, sizeof why); /* nothing secret was sent */
    cJSON_Delete(j);
    return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": client registration at %s: HTTP %ld%s%s", o->m->name,
                        meta->registration_endpoint, status, status == 200 || status == 201 ? ": no client_id" : "",
                        why);
  }
  const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "client_secret");
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(j, "token_endpoint_auth_method");
  *id = strdup(cid->valuestring);
  *secret = cJSON_IsString(cs) && cs->valuestring[0] ? strdup(cs->valuestring) : NULL;
  *method = pick_method(meta->auth_methods, *secret, hl__oauth_method_of(cJSON_IsString(am) ? am->valuestring : NULL),
                        false);
  bool oom = !*id || (cJSON_IsString(cs) && cs->valuestring[0] && !*secret);
  cJSON_Delete(j);
  if (oom) return hl__oom();
  hl__oauth_remember_client(o, meta->issuer, *id, *secret, *method);
  return HL_OK;
}
