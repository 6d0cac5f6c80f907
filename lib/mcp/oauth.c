/*
 * lib/mcp/oauth.c - MCP authorization's flow (see hl_mcp_set_oauth() in
 * hookline/mcp.h): the options, what to do with a 401 or 403 (the token
 * another request renewed meanwhile, a refresh, a new authorization,
 * step-up on insufficient_scope within a limit), and an authorization:
 * discovery (oauth_meta.c), the client's identity (oauth_client.c), then
 * the authorization code grant with PKCE S256, `state`, the resource
 * indicator and the redirect's `iss` checked (RFC 9207), or the
 * client_credentials grant, or the jwt-bearer grant (oauth_assertion.c),
 * and the token request (oauth_tokens.c; private_key_jwt client
 * authentication in oauth_jwt.c).
 *
 * Locks: `flow` makes one authorization or refresh at a time per client
 * (the authorize callback runs in it, on the thread whose request met
 * the 401); it is a flag and a condition, so that a request waiting for
 * another's flow leaves when its run is cancelled; `lock` guards it and
 * the token fields for the requests that read the current token
 * meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "core/sha256.h"
#include "net/http.h"

/* Authorizations (or refreshes) one request may cause: its first 401, and
 * one step-up for a 403; a server that keeps refusing gets no third. */
#define MAX_ROUNDS 2

static void free_config(hl__oauth *o) {
  free(o->redirect_uri);
  free(o->client_id);
  free(o->client_secret);
  free(o->client_metadata_url);
  free(o->client_name);
  free(o->application_type);
  free(o->idp_token_endpoint);
  free(o->idp_client_id);
  free(o->signing_alg);
  free(o->signing_kid);
  free(o->signing_jwk);
  if (o->idp_client_secret) memset(o->idp_client_secret, 0, strlen(o->idp_client_secret));
  free(o->idp_client_secret);
}

void hl__oauth_free(hl__oauth *o) {
  if (!o) return;
  free_config(o);
  hl__oauth_forget_tokens(o);
  hl__oauth_clients_free(o->clients);
  cJSON_Delete(o->dpop_nonces);
  if (o->http) hl__http_free(o->http);
  pthread_cond_destroy(&o->flow_free);
  pthread_mutex_destroy(&o->lock);
  free(o);
}

/* hl_context_on_cancel(): a waiter's run was cancelled (any thread). */
static void wake_waiters(void *user) {
  hl__oauth *o = user;
  pthread_mutex_lock(&o->lock);
  pthread_cond_broadcast(&o->flow_free);
  pthread_mutex_unlock(&o->lock);
}

hl_status hl__oauth_flow_enter(hl__oauth *o, hl_context *ctx) {
  hl_cancel_reg *reg = NULL;
  pthread_mutex_lock(&o->lock);
  if (o->flow_busy && ctx) {
    /* Registered unlocked: it may call wake_waiters() at once. */
    pthread_mutex_unlock(&o->lock);
    reg = hl_context_on_cancel(ctx, wake_waiters, o);
    pthread_mutex_lock(&o->lock);
    if (!reg) {
      pthread_mutex_unlock(&o->lock);
      return hl__oom();
    }
  }
  hl_status st = HL_OK;
  while (o->flow_busy && st == HL_OK) {
    if (o->closed || (ctx && hl_context_cancelled(ctx))) st = HL_ERR_CANCELLED;
    else pthread_cond_wait(&o->flow_free, &o->lock);
  }
  if (st == HL_OK) {
    o->flow_busy = true;
    o->flow_ctx = ctx;
  }
  pthread_mutex_unlock(&o->lock);
  if (reg) hl_context_cancel_unregister(reg);
  if (st == HL_OK) return HL_OK;
  return hl_fail(st, "mcp server \"%s\": cancelled while waiting for another request's authorization",
                 hl_mcp_name(o->m));
}

void hl__oauth_flow_leave(hl__oauth *o) {
  pthread_mutex_lock(&o->lock);
  o->flow_busy = false;
  o->flow_ctx = NULL;
  pthread_cond_broadcast(&o->flow_free);
  pthread_mutex_unlock(&o->lock);
}

void hl__oauth_close(hl__oauth *o) {
  pthread_mutex_lock(&o->lock);
  o->closed = true;
  pthread_cond_broadcast(&o->flow_free);
  pthread_mutex_unlock(&o->lock);
}

static bool copy_opt(char **dst, const char *src) {
  *dst = NULL;
  return !src || (*dst = strdup(src)) != NULL;
}

hl_status hl_mcp_set_oauth(hl_mcp *m, const hl_mcp_oauth *opts) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_oauth");
  if (st) return st;
  if (m->kind != HL__MCP_HTTP)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: %s is not an HTTP client", hl_mcp_name(m));
  if (!opts || opts->size < offsetof(hl_mcp_oauth, save_tokens) + sizeof(hl_mcp_token_save_fn))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: opts->size is too small (set it to sizeof(hl_mcp_oauth))");
  /* Fields appended later read as unset from a smaller size. */
#define HL__OPT(field) (opts->size >= offsetof(hl_mcp_oauth, field) + sizeof opts->field ? opts->field : 0)
  bool cc = HL__OPT(client_credentials);
  hl_mcp_assertion_fn assertion = HL__OPT(assertion);
  const char *idp = HL__OPT(idp_token_endpoint), *idp_id = HL__OPT(idp_client_id);
  const char *idp_secret = HL__OPT(idp_client_secret);
  hl_mcp_sign_fn sign = HL__OPT(sign);
  const char *alg = HL__OPT(signing_alg), *kid = HL__OPT(signing_kid), *jwk = HL__OPT(signing_jwk);
  if (sign && ((!opts->client_id && !jwk) || !hl__jws_alg_known(alg)))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: sign needs a client_id (or a signing_jwk to register one) "
                   "and a signing_alg of ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 or EdDSA");
  if (jwk && !hl__jwk_public(jwk))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: signing_jwk must be a public JWK (a JSON object with \"kty\" "
                   "and no private \"d\")");
  if (cc && (!opts->client_id || (!opts->client_secret && !sign)))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: client_credentials needs client_id and client_secret (or sign)");
  if (assertion && (cc || !opts->client_id))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: assertion needs a client_id, and not client_credentials");
  if (idp && (!assertion || !idp_id || !hl__url_secure(idp)))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: idp_token_endpoint needs assertion and idp_client_id, and "
                   "must be https:// (http:// only to a loopback host)");
  bool user = !cc && !assertion;
  if (user && (!opts->redirect_uri || !*opts->redirect_uri || !opts->authorize))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: redirect_uri and authorize are required");
  if (!opts->load_tokens != !opts->save_tokens)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: give both load_tokens and save_tokens, or neither");
  if (opts->client_metadata_url && strncmp(opts->client_metadata_url, "https://", 8) != 0)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: client_metadata_url must be an https:// URL");
  const char *app_type = HL__OPT(application_type);
  bool dpop = HL__OPT(dpop);
#undef HL__OPT
  if (dpop && (!sign || !jwk))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: dpop needs sign and signing_jwk (the key its proofs show)");
  if (app_type && strcmp(app_type, "native") != 0 && strcmp(app_type, "web") != 0)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: application_type must be \"native\" or \"web\"");
  if (!app_type) app_type = user && !hl__url_loopback(opts->redirect_uri) &&
                            (strncasecmp(opts->redirect_uri, "http://", 7) == 0 ||
                             strncasecmp(opts->redirect_uri, "https://", 8) == 0) ? "web" : "native";
  hl__oauth *o = calloc(1, sizeof *o);
  if (!o) return hl__oom();
  pthread_cond_init(&o->flow_free, NULL);
  pthread_mutex_init(&o->lock, NULL);
  o->m = m;
  o->authorize = opts->authorize;
  o->user = opts->user_data;
  o->load = opts->load_tokens;
  o->save = opts->save_tokens;
  o->client_credentials = cc;
  o->assertion = assertion;
  o->sign = sign;
  o->dpop = dpop;
  if (!copy_opt(&o->signing_alg, sign ? alg : NULL) || !copy_opt(&o->signing_kid, kid) ||
      !copy_opt(&o->signing_jwk, jwk) ||
      !copy_opt(&o->redirect_uri, opts->redirect_uri) || !copy_opt(&o->client_id, opts->client_id) ||
      !copy_opt(&o->client_secret, opts->client_secret) ||
      !copy_opt(&o->client_metadata_url, opts->client_metadata_url) ||
      !copy_opt(&o->client_name, opts->client_name ? opts->client_name : "hookline") ||
      !copy_opt(&o->application_type, app_type) || !copy_opt(&o->idp_token_endpoint, idp) ||
      !copy_opt(&o->idp_client_id, idp_id) || !copy_opt(&o->idp_client_secret, idp_secret)) {
    hl__oauth_free(o);
    return hl__oom();
  }
  hl__oauth_free(m->oauth);
  m->oauth = o;
  return HL_OK;
}

/* The HTTP client for authorization servers, made at first use: capped
 * answers, the MCP request time limit, the client's CA file. */
hl_status hl__oauth_http(hl__oauth *o) {
  if (o->http) return HL_OK;
  hl__http_options opt;
  hl__http_options_default(&opt);
  opt.max_retries = 0; /* a code is single-use: a token request sent twice may void it */
  opt.max_response_bytes = HL__OAUTH_MAX_BODY;
  unsigned t = atomic_load(&o->m->timeout_ms);
  opt.timeout_ms = t ? (long)t : 60000;
  o->http = hl__http_new(&opt);
  if (!o->http) return hl_last_status();
  if (o->m->ca_file) {
    hl_status st = hl__http_set_ca_file(o->http, o->m->ca_file, "mcp oauth");
    if (st) return st;
  }
  return HL_OK;
}

/* ---- authorization ---- */

/* `n` random bytes as base64url (PKCE verifier, state). */
static hl_status random_b64(size_t n, char *out) {
  uint8_t b[48];
  if (n > sizeof b || getrandom(b, n, 0) != (ssize_t)n)
    return hl_fail(HL_ERR_IO, "mcp oauth: no random bytes for PKCE (getrandom failed)");
  hl__base64(b, n, true, out);
  memset(b, 0, sizeof b);
  return HL_OK;
}

/* The authorization URL for the user agent. */
static char *authorization_url(hl__oauth *o, const hl__oauth_meta *meta, const char *id, const char *scope,
                               const char *state, const char *challenge) {
  hl__jbuf b = {0};
  hl__jbuf_raw(&b, meta->authorization_endpoint, strlen(meta->authorization_endpoint));
  hl__jbuf q = {0};
  hl__form_add(&q, "response_type", "code");
  hl__form_add(&q, "client_id", id);
  hl__form_add(&q, "redirect_uri", o->redirect_uri);
  hl__form_add(&q, "state", state);
  hl__form_add(&q, "code_challenge", challenge);
  hl__form_add(&q, "code_challenge_method", "S256");
  hl__form_add(&q, "resource", meta->resource);
  if (scope && *scope) hl__form_add(&q, "scope", scope);
  hl__jbuf_raw(&b, strchr(meta->authorization_endpoint, '?') ? "&" : "?", 1);
  if (q.p) hl__jbuf_raw(&b, q.p, q.len);
  bool failed = b.failed || q.failed;
  free(q.p);
  if (failed) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* The user-agent step and the redirect's checks: *code (malloc'd). */
static hl_status user_step(hl__oauth *o, const hl__oauth_meta *meta, const char *url, const char *state,
                           char **code) {
  *code = NULL;
  char *redirect = NULL;
  hl_status st = o->authorize(o->m, url, &redirect, o->user);
  if (st != HL_OK) {
    free(redirect);
    return hl__mcp_fail(o->m, st, "mcp server \"%s\": authorization: the authorize callback failed: %s", o->m->name,
                        hl_last_error());
  }
  char *err = hl__url_param(redirect, "error");
  char *got_state = hl__url_param(redirect, "state");
  char *c = hl__url_param(redirect, "code");
  char *iss = hl__url_param(redirect, "iss");
  free(redirect);
  if (meta->issuer_known && (iss ? strcmp(iss, meta->issuer) != 0 : meta->iss_param)) {
    /* RFC 9207: the redirect names the server that answered; another
     * one's (or none, from a server that promised it) is a mix-up, and
     * its code must not reach this server's token endpoint. */
    char q[200] = "";
    if (iss) hl__quote(q, sizeof q, iss);
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: %s%s%s %s (RFC 9207: a mix-up)",
                      o->m->name, iss ? "the redirect's iss " : "the redirect has no iss", q,
                      iss ? " is not the authorization server asked," : ", which", iss ? meta->issuer :
                      "the authorization server promised");
  } else if (err) {
    char q[200];
    hl__quote(q, sizeof q, err);
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: the authorization server refused: error %s",
                      o->m->name, q);
  } else if (!got_state || strcmp(got_state, state) != 0) {
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: the redirect's state %s the one sent "
                      "(a forged or stale redirect)", o->m->name, got_state ? "does not match" : "is missing, not");
  } else if (!c || !*c) {
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": authorization: the redirect has no code", o->m->name);
  } else {
    *code = c;
    c = NULL;
  }
  free(err);
  free(got_state);
  free(c);
  free(iss);
  return st;
}

/* The authorization code grant: PKCE, the user step, the exchange. */
static hl_status code_flow(hl__oauth *o, const hl__oauth_meta *meta, const char *id, const char *secret,
                           unsigned method, const char *scope) {
  char verifier[HL_BASE64_SIZE(32)], state[HL_BASE64_SIZE(16)], challenge[HL_BASE64_SIZE(HL_SHA256_LEN)];
  char *code = NULL, *url = NULL;
  hl_status st = random_b64(32, verifier);
  if (st == HL_OK) st = random_b64(16, state);
  if (st == HL_OK) {
    uint8_t d[HL_SHA256_LEN];
    hl__sha256(verifier, strlen(verifier), d);
    hl__base64(d, sizeof d, true, challenge);
    if (!(url = authorization_url(o, meta, id, scope, state, challenge))) st = hl__oom();
  }
  if (st == HL_OK) st = user_step(o, meta, url, state, &code);
  if (st == HL_OK) {
    hl__jbuf form = {0};
    hl__form_add(&form, "grant_type", "authorization_code");
    hl__form_add(&form, "code", code);
    hl__form_add(&form, "redirect_uri", o->redirect_uri);
    hl__form_add(&form, "code_verifier", verifier);
    hl__form_add(&form, "resource", meta->resource);
    st = hl__oauth_token_request(o, meta->issuer, meta->token_endpoint, &form, id, secret, method, scope,
                                 "token request", NULL);
    if (form.p) memset(form.p, 0, form.len);
    free(form.p);
  }
  memset(verifier, 0, sizeof verifier);
  free(code);
  free(url);
  return st;
}

/* The client_credentials grant (no user). */
static hl_status client_credentials(hl__oauth *o, const hl__oauth_meta *meta, const char *id, const char *secret,
                                    unsigned method, const char *scope) {
  hl__jbuf form = {0};
  hl__form_add(&form, "grant_type", "client_credentials");
  if (scope && *scope) hl__form_add(&form, "scope", scope);
  hl__form_add(&form, "resource", meta->resource);
  hl_status st = hl__oauth_token_request(o, meta->issuer, meta->token_endpoint, &form, id, secret, method, scope,
                                         "token request", NULL);
  if (form.p) memset(form.p, 0, form.len);
  free(form.p);
  return st;
}

/* `a` with the scopes of `b` it lacks, space-separated (malloc'd). */
static char *scope_union(const char *a, const char *b) {
  hl__jbuf u = {0};
  if (a) hl__jbuf_raw(&u, a, strlen(a));
  for (const char *p = b; p && *p;) {
    p += strspn(p, " ");
    size_t n = strcspn(p, " ");
    if (!n) break;
    bool have = false;
    for (const char *q = a; q && *q && !have;) {
      q += strspn(q, " ");
      size_t k = strcspn(q, " ");
      have = k == n && strncmp(q, p, n) == 0;
      q += k;
    }
    if (!have) {
      if (u.len) hl__jbuf_raw(&u, " ", 1);
      hl__jbuf_raw(&u, p, n);
    }
    p += n;
  }
  if (u.failed) {
    free(u.p);
    return NULL;
  }
  return u.p ? u.p : strdup("");
}

/* A whole authorization (under `flow`): discovery, identity, the grant;
 * the tokens into *o. `scope` NULL: the PRM's. */
static hl_status authorize(hl__oauth *o, const char *prm_url, const char *scope) {
  hl_status st = hl__oauth_http(o);
  if (st) return st;
  hl__oauth_meta meta;
  st = hl__oauth_discover(o, o->m->url, prm_url, &meta);
  if (st != HL_OK) return hl__mcp_fail(o->m, st, "%s", hl_last_error());
  if (!scope) scope = meta.prm_scopes;
  /* SEP-2207: a client that wants a refresh token (this one keeps the
   * user signed in) asks for offline_access when the authorization
   * server lists it, and only then (an unknown scope may be refused).
   * Not for no scope at all (the server's default, which asking for
   * offline_access alone would narrow), nor without a user. */
  char *with_offline = NULL;
  if (meta.offline_access && !o->client_credentials && !o->assertion && scope && *scope) {
    if (!(with_offline = scope_union(scope, "offline_access"))) {
      hl__oauth_meta_clear(&meta);
      return hl__oom();
    }
    scope = with_offline;
  }
  char *id = NULL, *secret = NULL;
  unsigned method = HL__AUTH_NONE;
  st = hl__oauth_identity(o, &meta, &id, &secret, &method);
  if (st == HL_OK && o->client_credentials) st = client_credentials(o, &meta, id, secret, method, scope);
  else if (st == HL_OK && o->assertion) st = hl__oauth_assertion_grant(o, &meta, id, secret, method, scope);
  else if (st == HL_OK) st = code_flow(o, &meta, id, secret, method, scope);
  if (st == HL_OK) {
    /* Where these tokens refresh, and with which identity. */
    pthread_mutex_lock(&o->lock);
    free(o->token_endpoint);
    free(o->resource);
    free(o->issuer);
    free(o->used_id);
    free(o->used_secret);
    o->token_endpoint = meta.token_endpoint;
    o->resource = meta.resource;
    o->issuer = meta.issuer;
    meta.token_endpoint = meta.resource = meta.issuer = NULL;
    o->used_id = id;
    o->used_secret = secret;
    o->used_method = method;
    id = secret = NULL;
    pthread_mutex_unlock(&o->lock);
    hl__oauth_save_tokens(o);
  }
  free(id);
  if (secret) memset(secret, 0, strlen(secret));
  free(secret);
  hl__oauth_meta_clear(&meta);
  free(with_offline);
  return st;
}

/* ---- what http.c calls ---- */

hl_status hl__oauth_renew(hl_mcp *m, const char *sent) {
  hl__oauth *o = m->oauth;
  hl_status st = hl__oauth_flow_enter(o, NULL);
  if (st) return st;
  pthread_mutex_lock(&o->lock);
  bool renewed = o->access_token && (!sent || strcmp(o->access_token, sent) != 0);
  bool can_refresh = o->refresh_token && o->token_endpoint;
  pthread_mutex_unlock(&o->lock);
  st = renewed ? HL_OK : can_refresh ? hl__oauth_refresh(o) : HL_ERR_NOT_FOUND;
  hl__oauth_flow_leave(o);
  return st;
}

hl_status hl__oauth_challenge(hl_mcp *m, long status, const char *challenge, const char *sent, int *rounds,
                              hl_context *ctx) {
  hl__oauth *o = m->oauth;
  hl__www_auth wa;
  hl__www_auth_parse(challenge, &wa);
  bool step_up = status == 403 && wa.error && strcmp(wa.error, "insufficient_scope") == 0;
  hl_status nst;
  if (status == 401 && hl__dpop_nonce_retry(o, &wa, rounds, &nst)) {
    hl__www_auth_clear(&wa);
    return nst;
  }
  if (status != 401 && !step_up) {
    hl__www_auth_clear(&wa);
    return HL_ERR_NOT_FOUND;
  }
  if (hl__oauth_flow_enter(o, ctx) != HL_OK) {
    hl__www_auth_clear(&wa);
    return hl_last_status();
  }
  pthread_mutex_lock(&o->lock);
  bool renewed = o->access_token && (!sent || strcmp(o->access_token, sent) != 0);
  bool can_refresh = o->refresh_token && o->token_endpoint && sent;
  char *had_scope = hl__strdup(o->scope);
  pthread_mutex_unlock(&o->lock);
  /* Another request renewed the token meanwhile (for a step-up: with the
   * scope asked for): use it. */
  char *wanted = step_up ? scope_union(had_scope, wa.scope) : NULL;
  if (renewed && step_up && wanted && had_scope && strlen(wanted) == strlen(had_scope)) step_up = false;
  hl_status st;
  if (renewed && !step_up) {
    st = HL_OK;
  } else if ((*rounds & ~HL__DPOP_NONCE_RETRIED) >= MAX_ROUNDS) {
    /* The server's words, without the token it was sent (a server may
     * quote it back; it must not reach messages and logs). */
    char q[300];
    hl__quote_redacted(q, sizeof q, wa.error_description, &sent, 1);
    st = hl__mcp_fail(m, HL_ERR_AUTH, "mcp server \"%s\": HTTP %ld%s%s%s even after %d authorizations; giving up",
                      m->name, status, step_up ? " insufficient_scope" : "", q[0] ? " " : "", q,
                      *rounds & ~HL__DPOP_NONCE_RETRIED);
  } else {
    /* A refresh on the request's first 401 only: a token just refreshed
     * and refused again is not what the server takes any more (it may
     * have moved to another authorization server, SEP-2352: only a new
     * authorization reads its PRM again). */
    st = HL_ERR_NOT_FOUND;
    if (!step_up && can_refresh && (*rounds & ~HL__DPOP_NONCE_RETRIED) == 0) st = hl__oauth_refresh(o);
    (*rounds)++;
    /* Only a refresh that found no refresh token or was refused
     * (HL_ERR_AUTH) goes on to a new authorization. One that met no
     * answer, a 5xx or a 429 (the refresh token kept, oauth_tokens.c) or
     * a cancellation ends this request with that error: an unattended
     * client should not ask its user to sign in again because the
     * authorization server hiccupped; the next request refreshes. (The
     * TypeScript SDK goes on to the user here: a browser has one at hand.) */
    if (st == HL_ERR_NOT_FOUND || st == HL_ERR_AUTH) {
      char *scope = step_up ? hl__strdup(wanted) : hl__strdup(wa.scope);
      if ((step_up || wa.scope) && !scope) st = hl__oom();
      else st = authorize(o, wa.resource_metadata, scope);
      free(scope);
    }
  }
  hl__oauth_flow_leave(o);
  free(wanted);
  free(had_scope);
  hl__www_auth_clear(&wa);
  return st;
}
