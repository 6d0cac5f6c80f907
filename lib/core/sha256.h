/*
 * core/sha256.h - SHA-256 (FIPS 180-4) and base64 (RFC 4648), for OAuth's
 * PKCE S256 code challenge (base64url of the verifier's SHA-256) and
 * HTTP Basic client authentication. Small and dependency-free: libcurl
 * may be built against any TLS library, and none of them is ours to
 * link. Internal; pure functions, thread-safe.
 */
#ifndef HL_CORE_SHA256_H
#define HL_CORE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_SHA256_LEN 32

/* The SHA-256 digest of `len` bytes at `data` into `out`. */
void hl__sha256(const void *data, size_t len, uint8_t out[HL_SHA256_LEN]);

/* Bytes base64 needs for `n` input bytes, with its terminating NUL. */
#define HL_BASE64_SIZE(n) (((n) + 2) / 3 * 4 + 1)
/* Base64 of `n` bytes into `out` (HL_BASE64_SIZE(n) bytes), NUL-terminated:
 * the standard alphabet with '=' padding, or with `url` the base64url
 * alphabet without padding (RFC 4648 section 5, as PKCE wants).
 * Returns the length written. */
size_t hl__base64(const void *data, size_t n, bool url, char *out);

#endif
