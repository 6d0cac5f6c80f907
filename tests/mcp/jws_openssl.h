/*
 * tests/mcp/jws_openssl.h - a JWS signer for hl_mcp_oauth.sign made with
 * OpenSSL's libcrypto, as an application would write one (hookline itself
 * has no crypto library; only these tests link libcrypto).
 */
#ifndef HL_TEST_JWS_OPENSSL_H
#define HL_TEST_JWS_OPENSSL_H

#include <openssl/evp.h>

#include "hookline.h"

/* The private key in PEM text `pem` (PKCS#8 or traditional); NULL when it
 * is none. Free with EVP_PKEY_free(). */
EVP_PKEY *jws_key_from_pem(const char *pem);
/* A new P-256 key (ES256); NULL on failure. */
EVP_PKEY *jws_key_new_p256(void);
/* The public half of `key` as PEM text (malloc'd), NULL on failure. */
char *jws_public_pem(EVP_PKEY *key);
/* The public half of a P-256 `key` as a JWK (JSON text, malloc'd), NULL on
 * failure. */
char *jws_public_jwk(EVP_PKEY *key);
/* hl_mcp_sign_fn with `user` the EVP_PKEY: ES256, ES384 and ES512 as JWS
 * wants them (R || S, each padded to the curve's size), RS256 as PKCS#1
 * v1.5 gives it. Another alg: HL_ERR_INVALID. */
hl_status jws_openssl_sign(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                           size_t *sig_len, void *user);
/* The same signature as OpenSSL's DER (what JWS does not want): for the
 * test of a signer that gets it wrong. */
hl_status jws_openssl_sign_der(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                               size_t *sig_len, void *user);

#endif
