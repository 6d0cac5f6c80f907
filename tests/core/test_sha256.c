/* test_sha256.c - SHA-256 against the FIPS 180-2 appendix B examples
 * (one block, two blocks, a million 'a'), the padding edges (55, 56 and
 * 64 bytes, checked against sha256sum), and base64 against RFC 4648
 * section 10's vectors, with the PKCE example of RFC 7636 appendix B. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/sha256.h"

static void hex(const uint8_t *d, char *out) {
  for (int i = 0; i < HL_SHA256_LEN; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void digest_is(const char *data, size_t len, const char *want) {
  uint8_t d[HL_SHA256_LEN];
  char got[2 * HL_SHA256_LEN + 1];
  hl__sha256(data, len, d);
  hex(d, got);
  CHECK_STR(got, want);
}

static void fips_180_examples(void) {
  digest_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  digest_is(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *million = malloc(1000000);
  REQUIRE(million);
  memset(million, 'a', 1000000);
  digest_is(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
  digest_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Lengths where the padding needs one block or two. */
static void padding_edges(void) {
  char a[64];
  memset(a, 'a', sizeof a);
  digest_is(a, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  digest_is(a, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  digest_is(a, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void base64_vectors(void) {
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  char out[HL_BASE64_SIZE(6)];
  for (int i = 0; i < 7; i++) {
    CHECK_INT(hl__base64(in[i], strlen(in[i]), false, out), strlen(std[i]));
    CHECK_STR(out, std[i]);
    hl__base64(in[i], strlen(in[i]), true, out);
    CHECK_STR(out, url[i]);
  }
  uint8_t hi[3] = {0xfb, 0xff, 0xfe};
  hl__base64(hi, 3, false, out);
  CHECK_STR(out, "+//+");
  hl__base64(hi, 3, true, out);
  CHECK_STR(out, "-__-");
}

/* RFC 7636 appendix B: the S256 code_challenge of its code_verifier. */
static void pkce_example(void) {
  const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  uint8_t d[HL_SHA256_LEN];
  char challenge[HL_BASE64_SIZE(HL_SHA256_LEN)];
  hl__sha256(verifier, strlen(verifier), d);
  hl__base64(d, sizeof d, true, challenge);
  CHECK_STR(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(fips_180_examples);
  RUN(padding_edges);
  RUN(base64_vectors);
  RUN(pkce_example);
  return CHECK_EXIT();
}
