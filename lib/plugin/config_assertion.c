/*
 * lib/plugin/config_assertion.c - a config file's oauth "assertion_file":
 * a workload identity token (a Kubernetes projected service-account
 * token, a CI job's OIDC token written to disk) read fresh from its file
 * at each authorization, because the platform rotates it there, and
 * given to MCP's jwt-bearer grant through hl_mcp_oauth.assertion.
 *
 * The callbacks of hl_mcp_oauth share one user_data, the application's;
 * this state takes its place, so the application's callbacks are called
 * through forwarders that hand them their own user_data back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_assertion.h"
#include "core/util.h"

/* A JWT is a few KiB; a file much larger is not one. */
#define MAX_ASSERTION_BYTES (64u << 10)

struct hl__file_assertion {
  char *path;
  void *user; /* the application's, for: */
  hl_mcp_authorize_fn authorize;
  hl_mcp_token_load_fn load;
  hl_mcp_token_save_fn save;
  hl_mcp_sign_fn sign;
};

static hl_status read_assertion(hl_mcp *m, const char *issuer, const char *resource, char **jwt, void *user) {
  (void)m, (void)issuer, (void)resource;
  const hl__file_assertion *f = user;
  *jwt = NULL;
  FILE *fp = fopen(f->path, "rb");
  if (!fp)
    return hl_fail(errno == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO, "assertion_file %s: %s", f->path,
                   strerror(errno));
  char *buf = malloc(MAX_ASSERTION_BYTES + 1);
  size_t n = buf ? fread(buf, 1, MAX_ASSERTION_BYTES + 1, fp) : 0;
  bool err = ferror(fp);
  fclose(fp);
  if (!buf) return hl__oom();
  /* A trailing newline (an editor's, `echo`'s) is no part of the JWT. */
  while (n && n <= MAX_ASSERTION_BYTES && strchr(" \t\r\n", buf[n - 1])) n--;
  buf[n < MAX_ASSERTION_BYTES ? n : MAX_ASSERTION_BYTES] = '\0';
  hl_status st = err                       ? hl_fail(HL_ERR_IO, "assertion_file %s: read error", f->path)
                 : n > MAX_ASSERTION_BYTES ? hl_fail(HL_ERR_TOO_LARGE, "assertion_file %s: over %u bytes",
                                                     f->path, MAX_ASSERTION_BYTES)
                 : !n || memchr(buf, '\0', n) ? hl_fail(HL_ERR_INVALID, "assertion_file %s: %s", f->path,
                                                         n ? "holds a NUL byte" : "is empty")
                                              : HL_OK;
  if (st == HL_OK) {
    *jwt = buf;
  } else {
    memset(buf, 0, MAX_ASSERTION_BYTES + 1); /* a credential, even a bad one */
    free(buf);
  }
  return st;
}

static hl_status fwd_authorize(hl_mcp *m, const char *url, char **redirect, void *user) {
  const hl__file_assertion *f = user;
  return f->authorize(m, url, redirect, f->user);
}

static hl_status fwd_load(hl_mcp *m, const char *server_url, char **stored, void *user) {
  const hl__file_assertion *f = user;
  return f->load(m, server_url, stored, f->user);
}

static void fwd_save(hl_mcp *m, const char *server_url, const char *stored, void *user) {
  const hl__file_assertion *f = user;
  f->save(m, server_url, stored, f->user);
}

static hl_status fwd_sign(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                          size_t *sig_len, void *user) {
  const hl__file_assertion *f = user;
  return f->sign(m, alg, input, len, sig, sig_len, f->user);
}

hl_status hl__file_assertion_apply(hl_mcp_oauth *o, const char *path, hl__file_assertion **out) {
  *out = NULL;
  hl__file_assertion *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return hl__oom();
  }
  f->user = o->user_data;
  f->authorize = o->authorize;
  f->load = o->load_tokens;
  f->save = o->save_tokens;
  f->sign = o->sign;
  o->assertion = read_assertion;
  o->user_data = f;
  if (o->authorize) o->authorize = fwd_authorize;
  if (o->load_tokens) o->load_tokens = fwd_load;
  if (o->save_tokens) o->save_tokens = fwd_save;
  if (o->sign) o->sign = fwd_sign;
  *out = f;
  return HL_OK;
}

void hl__file_assertion_free(hl__file_assertion *f) {
  if (!f) return;
  free(f->path);
  free(f);
}
