/*
 * lib/mcp/oauth_dpop.c - DPoP (RFC 9449; the MCP DPoP extension, SEP-1932)
 * with hl_mcp_oauth.dpop: proofs of possession of the application's key
 * (the signer and public JWK of private_key_jwt, one JWS builder:
 * oauth_jwt.c) on token requests and, for a token the authorization
 * server bound to that key (token_type DPoP), on each request to the MCP
 * server with "Authorization: DPoP <token>". Servers may demand a nonce
 * of theirs in the proofs (DPoP-Nonce): the latest one of each URL (its
 * htu: an authorization server and an MCP server may share an origin,
 * not their nonces) is kept and carried. Proofs are short-lived credentials: wiped after use,
 * never in messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "core/sha256.h"
#include "hookline/json.h"

/* URLs whose nonce is kept: an MCP server and its token endpoints are a
 * handful; a server cannot make the list grow. */
#define MAX_NONCES 8
/* A nonce is an opaque token68-ish string (RFC 9449 section 8.1: NQCHAR);
 * a longer one is not taken. */
#define NONCE_MAX 1024

static bool usable_nonce(const char *n) {
  if (!n || !*n || strlen(n) > NONCE_MAX) return false;
  for (const char *c = n; *c; c++)
    if (*c < 0x21 || *c > 0x7e || *c == '"' || *c == '\\') return false;
  return true;
}

/* The htu of `url`: its origin (normalised) and path, without query and
 * fragment (malloc'd); NULL for no http(s) URL or out of memory. */
static char *htu_of(const char *url) {
  char *origin = NULL, *path = NULL;
  if (!hl__url_split(url, &origin, &path)) return NULL;
  char *htu = hl__concat(origin, "", path);
  free(origin);
  free(path);
  return htu;
}

void hl__dpop_keep_nonce(hl__oauth *o, const char *url, const char *nonce) {
  char *htu = o->dpop && usable_nonce(nonce) ? htu_of(url) : NULL;
  if (!htu) return;
  pthread_mutex_lock(&o->lock);
  if (!o->dpop_nonces) o->dpop_nonces = cJSON_CreateObject();
  if (cJSON_GetObjectItemCaseSensitive(o->dpop_nonces, htu))
    cJSON_ReplaceItemInObjectCaseSensitive(o->dpop_nonces, htu, cJSON_CreateString(nonce));
  else if (cJSON_GetArraySize(o->dpop_nonces) < MAX_NONCES)
    cJSON_AddStringToObject(o->dpop_nonces, htu, nonce);
  pthread_mutex_unlock(&o->lock);
  free(htu);
}

/* The nonce kept for `htu` (malloc'd), NULL: none. */
static char *nonce_of(hl__oauth *o, const char *htu) {
  pthread_mutex_lock(&o->lock);
  const cJSON *n = htu ? cJSON_GetObjectItemCaseSensitive(o->dpop_nonces, htu) : NULL;
  char *v = cJSON_IsString(n) ? strdup(n->valuestring) : NULL;
  pthread_mutex_unlock(&o->lock);
  return v;
}

hl_status hl__dpop_proof_line(hl__oauth *o, const char *method, const char *url, const char *token, char **line) {
  *line = NULL;
  char jti[HL__JTI_SIZE];
  hl_status st = hl__jwt_jti(jti);
  if (st) return hl__mcp_fail(o->m, st, "mcp server \"%s\": DPoP proof: %s", o->m->name, hl_last_error());
  char *htu = htu_of(url); /* the client's own URLs: http(s), checked when given */
  char *nonce = nonce_of(o, htu);
  cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "typ", "dpop+jwt");
  hl_json_add(h, "jwk", cJSON_Parse(o->signing_jwk)); /* checked public by hl_mcp_set_oauth() */
  cJSON_AddStringToObject(c, "jti", jti);
  cJSON_AddStringToObject(c, "htm", method);
  cJSON_AddStringToObject(c, "htu", htu ? htu : "");
  cJSON_AddNumberToObject(c, "iat", (double)time(NULL));
  if (token) {
    /* ath: the access token's hash binds the proof to it (section 4.2). */
    uint8_t d[HL_SHA256_LEN];
    char ath[HL_BASE64_SIZE(HL_SHA256_LEN)];
    hl__sha256(token, strlen(token), d);
    hl__base64(d, sizeof d, true, ath);
    cJSON_AddStringToObject(c, "ath", ath);
  }
  if (nonce) cJSON_AddStringToObject(c, "nonce", nonce);
  char *jws = NULL;
  st = htu && c ? hl__jws_sign(o, h, c, "DPoP proof", &jws) : hl__oom();
  cJSON_Delete(h);
  cJSON_Delete(c);
  free(htu);
  free(nonce);
  if (st) return st;
  *line = hl__concat("DPoP:", " ", jws);
  memset(jws, 0, strlen(jws));
  free(jws);
  return *line ? HL_OK : hl__oom();
}

hl_status hl__oauth_auth_lines(hl_mcp *m, const char *method, const char *token, char **auth, char **proof) {
  *auth = *proof = NULL;
  if (!token) return HL_OK;
  hl__oauth *o = m->oauth;
  bool dpop = false;
  if (o) {
    pthread_mutex_lock(&o->lock);
    dpop = o->dpop && o->token_dpop;
    pthread_mutex_unlock(&o->lock);
  }
  if (dpop) {
    hl_status st = hl__dpop_proof_line(o, method, m->url, token, proof);
    if (st) return st;
  }
  *auth = hl__concat(dpop ? "Authorization: DPoP" : "Authorization: Bearer", " ", token);
  if (*auth) return HL_OK;
  free(*proof);
  *proof = NULL;
  return hl__oom();
}

bool hl__dpop_nonce_retry(hl__oauth *o, const hl__www_auth *wa, int *rounds, hl_status *st) {
  if (!o->dpop || !wa->dpop || !wa->error || strcmp(wa->error, "use_dpop_nonce") != 0) return false;
  char *htu = htu_of(o->m->url), *nonce = nonce_of(o, htu);
  bool have = nonce != NULL;
  free(htu);
  free(nonce);
  if (have && !(*rounds & HL__DPOP_NONCE_RETRIED)) {
    *rounds |= HL__DPOP_NONCE_RETRIED;
    *st = HL_OK;
  } else {
    /* One retry per request (section 9): a server that asks again, or
     * gives no nonce, is not asked forever. */
    *st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": HTTP 401 use_dpop_nonce %s; giving up", o->m->name,
                       have ? "again after a retry with its nonce" : "without a DPoP-Nonce header");
  }
  return true;
}

