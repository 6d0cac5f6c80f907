/*
 * bench/mock_tls.c - the mock server's TLS side (see mock_tls.h).
 *
 * Why certificates are made here, at run time: a test or benchmark
 * against an https:// server needs a CA its client trusts, and a key
 * committed to the repository (or fetched) would be a secret in the open
 * and go stale. So each server start makes a CA of its own, signs a
 * server certificate for 127.0.0.1 with it, keeps both keys in memory and
 * writes only the CA certificate, which the client is told to trust
 * (hl_openai_set_ca_file(), CURLOPT_CAINFO). EC P-256 keys: cheap to make
 * and cheap handshakes.
 *
 * Why non-blocking SSL on the caller's epoll loop rather than a thread
 * per connection: the server must hold thousands of connections while
 * the "model" thinks, as its cleartext sides do.
 */
#include "mock_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct mock_tls {
  SSL *ssl;
  bool wants_write;
  bool ready;
};

static SSL_CTX *g_ctx;
static bool g_offer_h2;
static unsigned long long g_handshakes;

unsigned long long mock_tls_handshakes(void) { return g_handshakes; }

static void openssl_reason(char *err, size_t size, const char *what) {
  unsigned long e = ERR_get_error();
  char detail[256] = "no detail";
  if (e) ERR_error_string_n(e, detail, sizeof detail);
  snprintf(err, size, "%s: %s", what, detail);
  ERR_clear_error();
}

static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

/* A certificate for `key` named `cn`: a CA signing itself (issuer NULL)
 * or a server certificate for 127.0.0.1/localhost signed by issuer. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long serial) {
  X509 *x = X509_new();
  if (!x) return NULL;
  bool ca = issuer == NULL;
  X509_NAME *name = X509_get_subject_name(x);
  X509V3_CTX ctx;
  bool ok = X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(x), 7L * 24 * 3600) && X509_set_pubkey(x, key) == 1 &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1 &&
            X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer)) == 1;
  if (ok) {
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca ? x : issuer, x, NULL, NULL, 0);
    ok = add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
         add_ext(x, &ctx, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
         add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
         (ca || (add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
                 add_ext(x, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") &&
                 add_ext(x, &ctx, NID_ext_key_usage, "serverAuth")));
  }
  if (ok) ok = X509_sign(x, ca ? key : issuer_key, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(x);
    return NULL;
  }
  return x;
}

/* ALPN: the server's order (h2 first) among what the client offers; no
 * overlap: no ALPN, which clients take as HTTP/1.1. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char both[] = "\x02h2\x08http/1.1";
  static const unsigned char h1[] = "\x08http/1.1";
  const unsigned char *mine = g_offer_h2 ? both : h1;
  unsigned int mine_len = g_offer_h2 ? sizeof both - 1 : sizeof h1 - 1;
  unsigned char *chosen = NULL;
  if (SSL_select_next_proto(&chosen, outlen, mine, mine_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

bool mock_tls_setup(const char *dir, bool offer_h2, char *err, size_t err_size) {
  g_offer_h2 = offer_h2;
  EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
  X509 *ca = NULL, *srv = NULL;
  bool ok = false;
  /* A name of its own per start: two servers' CAs never pass for each other. */
  char cn[96];
  snprintf(cn, sizeof cn, "hookline mock CA %ld-%ld", (long)getpid(), (long)time(NULL));
  long serial = (long)time(NULL);
  if (!ca_key || !srv_key) {
    openssl_reason(err, err_size, "cannot make a key");
    goto out;
  }
  ca = make_cert(ca_key, cn, NULL, NULL, serial);
  srv = ca ? make_cert(srv_key, "127.0.0.1", ca, ca_key, serial + 1) : NULL;
  if (!srv) {
    openssl_reason(err, err_size, "cannot make the certificates");
    goto out;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/ca.pem", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
    goto out;
  }
  bool written = PEM_write_X509(f, ca) == 1;
  if (fclose(f) != 0 || !written) {
    snprintf(err, err_size, "cannot write %s", path);
    goto out;
  }
  g_ctx = SSL_CTX_new(TLS_server_method());
  if (!g_ctx || SSL_CTX_use_certificate(g_ctx, srv) != 1 || SSL_CTX_use_PrivateKey(g_ctx, srv_key) != 1 ||
      SSL_CTX_check_private_key(g_ctx) != 1) {
    openssl_reason(err, err_size, "cannot set up the TLS context");
    goto out;
  }
  SSL_CTX_set_min_proto_version(g_ctx, TLS1_2_VERSION);
  /* The write buffer grows (realloc) between a partial write and its retry. */
  SSL_CTX_set_mode(g_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(g_ctx, select_alpn, NULL);
  ok = true;
out:
  X509_free(ca);
  X509_free(srv);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(srv_key);
  if (!ok && g_ctx) {
    SSL_CTX_free(g_ctx);
    g_ctx = NULL;
  }
  return ok;
}

mock_tls *mock_tls_new(int fd) {
  if (!g_ctx) return NULL;
  mock_tls *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ssl = SSL_new(g_ctx);
  if (!t->ssl || SSL_set_fd(t->ssl, fd) != 1) {
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  SSL_set_accept_state(t->ssl);
  return t;
}

void mock_tls_free(mock_tls *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

/* What an SSL_read/SSL_write result `r` means, as recv()/send() would say it. */
static ssize_t outcome(mock_tls *t, int r) {
  if (!t->ready && SSL_is_init_finished(t->ssl)) {
    t->ready = true;
    g_handshakes++;
  }
  if (r > 0) return r;
  switch (SSL_get_error(t->ssl, r)) {
  case SSL_ERROR_WANT_READ:
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_WANT_WRITE:
    t->wants_write = true;
    errno = EAGAIN;
    return -1;
  case SSL_ERROR_ZERO_RETURN:
    return 0; /* close_notify */
  default:
    /* A failed handshake (a client that does not trust the CA aborts it)
     * or a broken connection: the caller closes it. */
    ERR_clear_error();
    errno = ECONNRESET;
    return -1;
  }
}

ssize_t mock_tls_read(mock_tls *t, void *buf, size_t n) {
  t->wants_write = false;
  ERR_clear_error();
  return outcome(t, SSL_read(t->ssl, buf, n > (size_t)0x7fffffff ? 0x7fffffff : (int)n));
}

ssize_t mock_tls_write(mock_tls *t, const void *buf, size_t n) {
  t->wants_write = false;
  ERR_clear_error();
  return outcome(t, SSL_write(t->ssl, buf, n > (size_t)0x7fffffff ? 0x7fffffff : (int)n));
}

bool mock_tls_wants_write(const mock_tls *t) { return t->wants_write; }

bool mock_tls_ready(const mock_tls *t) { return t->ready; }

bool mock_tls_h2(const mock_tls *t) {
  const unsigned char *p = NULL;
  unsigned int len = 0;
  SSL_get0_alpn_selected(t->ssl, &p, &len);
  return len == 2 && p[0] == 'h' && p[1] == '2';
}
