/*
 * tests/mcp/jws_openssl.c - see jws_openssl.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "jws_openssl.h"
#include "core/sha256.h"

EVP_PKEY *jws_key_from_pem(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  return k;
}

EVP_PKEY *jws_key_new_p256(void) { return EVP_EC_gen("P-256"); }

char *jws_public_pem(EVP_PKEY *key) {
  BIO *b = BIO_new(BIO_s_mem());
  char *out = NULL, *p = NULL;
  if (b && PEM_write_bio_PUBKEY(b, key)) {
    long n = BIO_get_mem_data(b, &p);
    if (n > 0 && (out = malloc((size_t)n + 1))) {
      memcpy(out, p, (size_t)n);
      out[n] = '\0';
    }
  }
  BIO_free(b);
  return out;
}

/* A big number of `key` as base64url of `n` bytes into out
 * (HL_BASE64_SIZE(n) bytes). */
static bool b64_param(EVP_PKEY *key, const char *name, size_t n, char *out) {
  BIGNUM *bn = NULL;
  unsigned char raw[66];
  bool ok = n <= sizeof raw && EVP_PKEY_get_bn_param(key, name, &bn) == 1 && BN_bn2binpad(bn, raw, (int)n) == (int)n;
  BN_free(bn);
  if (ok) hl__base64(raw, n, true, out);
  return ok;
}

char *jws_public_jwk(EVP_PKEY *key) {
  char x[48], y[48], *out = NULL;
  if (!b64_param(key, "qx", 32, x) || !b64_param(key, "qy", 32, y)) return NULL;
  if (asprintf(&out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y) < 0) return NULL;
  return out;
}

/* The digest and, for ECDSA, the coordinate size of `alg`. */
static const EVP_MD *md_of(const char *alg, size_t *coord) {
  *coord = 0;
  if (strcmp(alg, "ES256") == 0) return *coord = 32, EVP_sha256();
  if (strcmp(alg, "ES384") == 0) return *coord = 48, EVP_sha384();
  if (strcmp(alg, "ES512") == 0) return *coord = 66, EVP_sha512();
  if (strcmp(alg, "RS256") == 0) return EVP_sha256();
  return NULL;
}

hl_status jws_openssl_sign_der(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                               size_t *sig_len, void *user) {
  (void)m;
  size_t coord;
  const EVP_MD *md = md_of(alg, &coord);
  if (!md) return hl_fail(HL_ERR_INVALID, "jws_openssl: alg %s not supported", alg);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t n = 0;
  unsigned char *out = NULL;
  bool ok = ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, user) == 1 &&
            EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)input, len) == 1 && (out = malloc(n)) &&
            EVP_DigestSign(ctx, out, &n, (const unsigned char *)input, len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) {
    free(out);
    return hl_fail(HL_ERR_AUTH, "jws_openssl: signing failed");
  }
  *sig = out;
  *sig_len = n;
  return HL_OK;
}

hl_status jws_openssl_sign(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                           size_t *sig_len, void *user) {
  hl_status st = jws_openssl_sign_der(m, alg, input, len, sig, sig_len, user);
  size_t coord;
  md_of(alg, &coord);
  if (st != HL_OK || !coord) return st;
  /* ECDSA: OpenSSL's DER SEQUENCE { r, s } into JWS's fixed-size R || S. */
  const unsigned char *p = *sig;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)*sig_len);
  unsigned char *raw = es ? malloc(2 * coord) : NULL;
  const BIGNUM *r = NULL, *s = NULL;
  if (es) ECDSA_SIG_get0(es, &r, &s);
  bool ok = raw && BN_bn2binpad(r, raw, (int)coord) == (int)coord &&
            BN_bn2binpad(s, raw + coord, (int)coord) == (int)coord;
  ECDSA_SIG_free(es);
  free(*sig);
  *sig = NULL;
  if (!ok) {
    free(raw);
    return hl_fail(HL_ERR_AUTH, "jws_openssl: bad ECDSA signature");
  }
  *sig = raw;
  *sig_len = 2 * coord;
  return HL_OK;
}
