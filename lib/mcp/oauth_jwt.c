/*
 * lib/mcp/oauth_jwt.c - private_key_jwt client authentication (RFC 7523
 * section 2.2, OpenID Connect Core section 9, the MCP "OAuth client
 * credentials" extension): the client assertion, a compact JWS whose
 * signature the application's hl_mcp_oauth.sign makes. hookline has no
 * crypto library: it builds the header and claims, base64url-encodes
 * them and checks that the signature has the length its algorithm gives
 * (a DER ECDSA signature handed over by mistake would be refused by the
 * server with a vaguer word). The assertion is wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "core/sha256.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/* Short: the assertion is used at once, and a stolen one soon expires. */
#define ASSERTION_LIFETIME_S 60

/* The signature length of `alg` in bytes: exact (min == max) for the EC
 * and EdDSA algorithms, the RSA key's size for RS and PS (RFC 7518 wants
 * 2048 bits or more; 16384 bits is more than any key in use). */
static bool sig_len_range(const char *alg, size_t *min, size_t *max) {
  static const struct {
    const char *alg;
    size_t min, max;
  } algs[] = {{"ES256", 64, 64},    {"ES384", 96, 96},    {"ES512", 132, 132}, {"EdDSA", 64, 64},
              {"RS256", 256, 2048}, {"RS384", 256, 2048}, {"RS512", 256, 2048}, {"PS256", 256, 2048},
              {"PS384", 256, 2048}, {"PS512", 256, 2048}};
  for (size_t i = 0; alg && i < sizeof algs / sizeof *algs; i++)
    if (strcmp(alg, algs[i].alg) == 0) {
      *min = algs[i].min;
      *max = algs[i].max;
      return true;
    }
  return false;
}

bool hl__jws_alg_known(const char *alg) {
  size_t a, b;
  return sig_len_range(alg, &a, &b);
}

bool hl__jwk_public(const char *jwk) {
  cJSON *j = jwk ? cJSON_Parse(jwk) : NULL;
  bool ok = cJSON_IsObject(j) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "kty")) &&
            !cJSON_GetObjectItemCaseSensitive(j, "d");
  cJSON_Delete(j);
  return ok;
}

/* `j` printed and base64url-encoded onto `b`. */
static bool append_b64_json(hl__jbuf *b, const cJSON *j) {
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  if (!text) return false;
  size_t n = strlen(text);
  char *enc = malloc(HL_BASE64_SIZE(n));
  if (enc) {
    size_t len = hl__base64(text, n, true, enc);
    hl__jbuf_raw(b, enc, len);
  }
  free(enc);
  free(text);
  return enc != NULL;
}

hl_status hl__jwt_jti(char out[HL__JTI_SIZE]) {
  uint8_t rnd[16];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    return hl_fail(HL_ERR_IO, "no random bytes for a JWT's jti (getrandom failed)");
  hl__base64(rnd, sizeof rnd, true, out);
  return HL_OK;
}

hl_status hl__jws_sign(hl__oauth *o, cJSON *header, const cJSON *claims, const char *what, char **jws_out) {
  *jws_out = NULL;
  if (!o->sign)
    return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: %s needs a signer, but none was "
                        "given to hl_mcp_set_oauth()", o->m->name, what);
  hl__jbuf jws = {0};
  bool ok = header && cJSON_AddStringToObject(header, "alg", o->signing_alg) && append_b64_json(&jws, header);
  hl__jbuf_raw(&jws, ".", 1);
  ok = ok && append_b64_json(&jws, claims);
  if (!ok || jws.failed) {
    free(jws.p);
    return hl__oom();
  }
  unsigned char *sig = NULL;
  size_t sig_len = 0, min = 0, max = 0;
  sig_len_range(o->signing_alg, &min, &max);
  hl_status st = o->sign(o->m, o->signing_alg, jws.p, jws.len, &sig, &sig_len, o->user);
  if (st != HL_OK || !sig || sig_len < min || sig_len > max) {
    char why[200];
    if (st != HL_OK) snprintf(why, sizeof why, "failed: %s", hl_last_error());
    else if (min == max) snprintf(why, sizeof why, "gave %zu bytes, %s signatures have %zu", sig ? sig_len : 0,
                                  o->signing_alg, min);
    else snprintf(why, sizeof why, "gave %zu bytes, %s signatures have %zu to %zu", sig ? sig_len : 0,
                  o->signing_alg, min, max);
    free(sig);
    free(jws.p);
    return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s: the signer %s", o->m->name, what, why);
  }
  char *enc = malloc(HL_BASE64_SIZE(sig_len));
  if (enc) {
    hl__jbuf_raw(&jws, ".", 1);
    hl__jbuf_raw(&jws, enc, hl__base64(sig, sig_len, true, enc));
  }
  free(sig);
  free(enc);
  if (!enc || jws.failed) {
    free(jws.p);
    return hl__oom();
  }
  *jws_out = jws.p;
  return HL_OK;
}

hl_status hl__oauth_jwt_client_auth(hl__oauth *o, const char *id, const char *aud, hl__jbuf *form) {
  if (!o->sign)
    return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: the client authenticates with "
                        "private_key_jwt, but no signer was given to hl_mcp_set_oauth()", o->m->name);
  char jti[HL__JTI_SIZE];
  if (hl__jwt_jti(jti) != HL_OK)
    return hl__mcp_fail(o->m, HL_ERR_IO, "mcp server \"%s\": client assertion: %s", o->m->name, hl_last_error());
  int64_t now = (int64_t)time(NULL);
  cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "typ", "JWT");
  if (o->signing_kid) cJSON_AddStringToObject(h, "kid", o->signing_kid);
  cJSON_AddStringToObject(c, "iss", id);
  cJSON_AddStringToObject(c, "sub", id);
  cJSON_AddStringToObject(c, "aud", aud);
  cJSON_AddStringToObject(c, "jti", jti);
  cJSON_AddNumberToObject(c, "iat", (double)now);
  cJSON_AddNumberToObject(c, "exp", (double)(now + ASSERTION_LIFETIME_S));
  char *jws = NULL;
  hl_status st = c ? hl__jws_sign(o, h, c, "client assertion", &jws) : hl__oom();
  cJSON_Delete(h);
  cJSON_Delete(c);
  if (st) return st;
  hl__form_add(form, "client_id", id);
  hl__form_add(form, "client_assertion_type", ASSERTION_TYPE);
  hl__form_add(form, "client_assertion", jws);
  /* A credential until it expires: not left in freed memory. */
  memset(jws, 0, strlen(jws));
  free(jws);
  return HL_OK;
}
