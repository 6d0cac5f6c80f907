/*
 * lib/mcp/oauth.h - MCP authorization (OAuth 2.1, see hl_mcp_set_oauth()
 * in hookline/mcp.h), private to lib/mcp: www_auth.c reads challenges,
 * oauth_url.c builds and takes apart URLs and forms, oauth_meta.c
 * discovers the resource's and the authorization server's metadata,
 * oauth_client.c picks or registers the client's identity (kept by
 * issuer), oauth_jwt.c builds and has signed the private_key_jwt client
 * assertion, oauth_assertion.c makes the jwt-bearer grant (with the token
 * exchange at an identity provider), oauth_dpop.c makes DPoP proofs,
 * oauth_tokens.c talks to the token
 * endpoint and keeps the tokens, and
 * oauth.c runs the flow; http.c asks for the token and hands over the
 * 401s and 403s.
 */
#ifndef HL_MCP_OAUTH_H
#define HL_MCP_OAUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "hookline/mcp.h"
#include "core/util.h"

/* ---- www_auth.c ---- */
/* The parameters of a header's first Bearer or DPoP challenge (each NULL when
 * absent; malloc'd). */
typedef struct hl__www_auth {
  bool bearer;
  bool dpop;                 /* the challenge read is a DPoP one (RFC 9449 section 7.1) */
  char *resource_metadata, *scope, *error, *error_description;
} hl__www_auth;
/* Parse `header` (NULL: none) into *a (overwritten; clear it after). */
void hl__www_auth_parse(const char *header, hl__www_auth *a);
void hl__www_auth_clear(hl__www_auth *a);

/* ---- oauth_url.c ---- */
/* The origin ("http://host:port", scheme and host lowercased, the
 * scheme's default port left out) and the path (no query or fragment; ""
 * for none) of an http(s) URL, malloc'd.
 * False (nothing set) for any other URL, one with user info or without
 * a host, or out of memory. */
bool hl__url_split(const char *url, char **origin, char **path);
/* The query of `url` with its '?' and without the fragment ("?a=1"; ""
 * for none or an empty one), malloc'd; NULL out of memory. */
char *hl__url_query(const char *url);
/* https://, or http:// to a loopback host (localhost, 127.x, [::1]). */
bool hl__url_secure(const char *url);
/* An http(s) URL to a loopback host. */
bool hl__url_loopback(const char *url);
/* Append `s` percent-encoded: RFC 3986's unreserved characters pass. */
void hl__url_encode(hl__jbuf *b, const char *s);
/* Append "&name=value" ("name=value" first) percent-encoded as
 * application/x-www-form-urlencoded wants (and URL queries accept). */
void hl__form_add(hl__jbuf *b, const char *name, const char *value);
/* The decoded value of query parameter `name` in `url` (a URL or a bare
 * "a=1&b=2" query), malloc'd; NULL when absent. */
char *hl__url_param(const char *url, const char *name);

/* ---- oauth_meta.c ---- */
enum { HL__AUTH_NONE = 1, HL__AUTH_BASIC = 2, HL__AUTH_POST = 4, HL__AUTH_JWT = 8 /* private_key_jwt */ };

/* What discovery learnt about the server and its authorization server. */
typedef struct hl__oauth_meta {
  char *resource;            /* the resource indicator to send (RFC 8707) */
  char *prm_scopes;          /* PRM scopes_supported, space-separated (NULL: none) */
  char *issuer;              /* the authorization server */
  char *authorization_endpoint, *token_endpoint, *registration_endpoint;
  unsigned auth_methods;     /* HL__AUTH_* listed; 0: not listed */
  bool cimd;                 /* client_id_metadata_document_supported */
  bool issuer_known;         /* the issuer came from metadata (not 2025-03-26's defaults) */
  bool iss_param;            /* authorization_response_iss_parameter_supported (RFC 9207) */
  bool offline_access;       /* the AS's scopes_supported lists offline_access */
  bool jwt_alg_ok;           /* token_endpoint_auth_signing_alg_values_supported lists the
                                signer's alg, or is absent */
} hl__oauth_meta;

typedef struct hl__oauth hl__oauth;

/* Discover for the MCP server `server_url` after a challenge whose
 * resource_metadata is `prm_url` (NULL: none): the PRM, then the
 * authorization server's metadata; a 2025-03-26 server without PRM gets
 * the legacy discovery. HL_OK with *out filled, or HL_ERR_AUTH (or a
 * transport error) with a message naming the step and URL. */
hl_status hl__oauth_discover(hl__oauth *o, const char *server_url, const char *prm_url,
                             hl__oauth_meta *out);
void hl__oauth_meta_clear(hl__oauth_meta *m);
/* One request to an authorization server (or for metadata): GET when
 * `body` is NULL, else a POST of `body` as `content_type`, with
 * `auth_header` and `dpop_header` (a proof's line; each may be NULL).
 * A DPoP-Nonce in the answer is kept (oauth_dpop.c). HL_OK when an
 * answer came: *status, and
 * *json its body when that is a JSON object whose strings C can hold
 * whole (no NUL; else NULL; the caller's).
 * Bodies are capped (HL__OAUTH_MAX_BODY). */
#define HL__OAUTH_MAX_BODY (64u << 10)
hl_status hl__oauth_request(hl__oauth *o, const char *url, const char *body, const char *content_type,
                            const char *auth_header, const char *dpop_header, long *status, cJSON **json);

/* ---- oauth.c ---- */
struct hl__oauth {
  hl_mcp *m;
  /* configuration (copied) */
  char *redirect_uri, *client_id, *client_secret, *client_metadata_url, *client_name;
  char *application_type;    /* "native" or "web", for registration */
  hl_mcp_authorize_fn authorize;
  void *user;
  hl_mcp_token_load_fn load;
  hl_mcp_token_save_fn save;
  bool client_credentials;   /* the client_credentials grant instead of a user's code */
  hl_mcp_assertion_fn assertion;  /* the jwt-bearer grant instead (oauth_assertion.c) */
  char *idp_token_endpoint, *idp_client_id, *idp_client_secret; /* SEP-990 (NULL: none) */
  hl_mcp_sign_fn sign;       /* private_key_jwt (oauth_jwt.c; NULL: none) */
  char *signing_alg, *signing_kid, *signing_jwk;
  bool dpop;                 /* DPoP proofs (oauth_dpop.c) */
  struct hl__http *http;     /* requests to authorization servers */
  /* `flow`: one authorization or refresh at a time, entered with
   * hl__oauth_flow_enter() (a wait its run's cancellation or the close
   * ends), not a mutex. Under `lock`: */
  bool flow_busy, closed;
  pthread_cond_t flow_free;  /* flow_busy went false, a waiter's run was cancelled, or closed */
  hl_context *flow_ctx;      /* the run of the request in the flow (NULL: none); read by
                                that thread only, for hl__oauth_request() */
  pthread_mutex_t lock;      /* the fields above and below (short holds) */
  bool loaded;               /* the store was asked */
  char *access_token, *refresh_token, *scope;
  int64_t expires_at;        /* unix seconds; 0: unknown */
  bool token_dpop;           /* access_token is DPoP-bound (token_type DPoP) */
  cJSON *dpop_nonces;        /* the latest DPoP-Nonce by htu ({"http://as:1/token": "n"}; NULL: none) */
  /* how to refresh: the identity and endpoint the tokens came from */
  char *token_endpoint, *resource, *issuer, *used_id, *used_secret;
  unsigned used_method;      /* HL__AUTH_* */
  /* The identities dynamic registration gave, by the issuer of the
   * authorization server that gave each ({"<issuer>": {"client_id",
   * "client_secret", "auth_method"}}; NULL: none): MCP 2026-07-28
   * (SEP-2352) binds client credentials to their issuer, never to be
   * shown to another. Kept in the token store with the tokens. */
  cJSON *clients;
};

/* Free the client's OAuth state (NULL fine). */
void hl__oauth_free(hl__oauth *o);
/* Enter `flow` for the run `ctx` (may be NULL) once no other request is
 * in it: HL_OK, or HL_ERR_CANCELLED when that run is cancelled or the
 * client closed while waiting (an authorize callback under way elsewhere
 * may take minutes). Leave with hl__oauth_flow_leave(). */
hl_status hl__oauth_flow_enter(hl__oauth *o, hl_context *ctx);
void hl__oauth_flow_leave(hl__oauth *o);
/* The client is closing: waiters for `flow` leave (any thread). */
void hl__oauth_close(hl__oauth *o);
/* The HTTP client for authorization servers (made at first use: capped
 * answers, the client's time limit and CA file). */
hl_status hl__oauth_http(hl__oauth *o);
/* ---- oauth_client.c ---- */
const char *hl__oauth_method_name(unsigned method);   /* "client_secret_basic", ... */
unsigned hl__oauth_method_of(const char *name);       /* 0: unknown */
/* The identity to use at `meta`'s authorization server: *id, *secret
 * (NULL for a public client) and the token endpoint's *method, malloc'd;
 * may register the client (RFC 7591). HL_ERR_AUTH when there is none. */
hl_status hl__oauth_identity(hl__oauth *o, const hl__oauth_meta *meta, char **id, char **secret,
                             unsigned *method);

/* Free `clients` (NULL fine), its secrets wiped first. */
void hl__oauth_clients_free(cJSON *clients);
/* Keep the identity registered at `issuer` (replacing one kept before);
 * the token store gets it with the next tokens. */
void hl__oauth_remember_client(hl__oauth *o, const char *issuer, const char *id, const char *secret,
                               unsigned method);

/* ---- oauth_assertion.c ---- */
/* The jwt-bearer grant (RFC 7523) at `meta`'s token endpoint with the
 * application's assertion, exchanged first at the identity provider for
 * an ID-JAG when one is configured (SEP-990, RFC 8693); the tokens into
 * *o. */
hl_status hl__oauth_assertion_grant(hl__oauth *o, const hl__oauth_meta *meta, const char *id, const char *secret,
                                    unsigned method, const char *scope);

/* ---- oauth_jwt.c ---- */
/* `alg` is a JWS algorithm the signer may use (asymmetric, RFC 7518/8037). */
bool hl__jws_alg_known(const char *alg);
/* `jwk` is a public JWK's JSON text: an object with "kty", without "d". */
bool hl__jwk_public(const char *jwk);
/* private_key_jwt (RFC 7523 section 2.2): client_id, client_assertion_type
 * and a client_assertion for the authorization server `aud` (its issuer)
 * signed by o->sign, into `form`. HL_ERR_AUTH (message set) when the
 * signer fails or gives a signature of the wrong length for its alg. */
hl_status hl__oauth_jwt_client_auth(hl__oauth *o, const char *id, const char *aud, hl__jbuf *form);
/* A fresh random JWT id (128 bits, base64url) into `out`; HL_ERR_IO
 * (message set) when the system gives no random bytes. */
#define HL__JTI_SIZE 25 /* HL_BASE64_SIZE(16) */
hl_status hl__jwt_jti(char out[HL__JTI_SIZE]);
/* The compact JWS of `claims` with `header` (its "alg" added here: the
 * signer's) signed by o->sign: *jws malloc'd. The one JWS builder of the
 * client assertion and of DPoP proofs (oauth_dpop.c). HL_ERR_AUTH (message
 * naming `what`) when there is no signer, it fails or gives a signature
 * of the wrong length for its alg. */
hl_status hl__jws_sign(hl__oauth *o, cJSON *header, const cJSON *claims, const char *what, char **jws);

/* ---- oauth_dpop.c ---- */
/* "DPoP: <proof>" (malloc'd) for a `method` request to `url`: typ
 * dpop+jwt, the signing_jwk, jti, htm, htu (`url` without query and
 * fragment), iat, ath of `token` (NULL: none) and the nonce kept for that
 * htu. HL_ERR_AUTH (message set) when the signer fails. */
hl_status hl__dpop_proof_line(hl__oauth *o, const char *method, const char *url, const char *token, char **line);
/* Keep `nonce` (a DPoP-Nonce header's value, may be NULL: nothing) as the
 * one proofs to `url` (without query) carry from now on (with o->dpop only). */
void hl__dpop_keep_nonce(hl__oauth *o, const char *url, const char *nonce);
/* For http.c: the "Authorization: <scheme> <token>" line of a `method`
 * request (both NULL without a token) and, for a DPoP-bound token, its
 * proof's "DPoP: " line (else NULL); malloc'd. HL_ERR_AUTH when the
 * signer fails. */
hl_status hl__oauth_auth_lines(hl_mcp *m, const char *method, const char *token, char **auth, char **proof);
/* The bit of a request's `rounds` (hl__oauth_challenge()) that says its
 * one DPoP nonce retry was made. */
#define HL__DPOP_NONCE_RETRIED 0x10000
/* A 401 whose challenge `wa` is DPoP's use_dpop_nonce: true, with *st
 * HL_OK when the request is to go again (once: the nonce came), else the
 * error. False: another challenge. */
bool hl__dpop_nonce_retry(hl__oauth *o, const hl__www_auth *wa, int *rounds, hl_status *st);

/* ---- oauth_tokens.c ---- */
/* A token request's client authentication: client_id (and client_secret
 * for HL__AUTH_POST) into `form`, or for HL__AUTH_BASIC with a secret the
 * Basic header into *header (malloc'd; the id and secret form-encoded
 * first, RFC 6749 section 2.3.1). */
hl_status hl__oauth_client_auth(const char *id, const char *secret, unsigned method, hl__jbuf *form, char **header);
/* Drop the tokens and what refreshes them (o->lock held or no other user);
 * the registered identities (`clients`) stay. */
void hl__oauth_forget_tokens(hl__oauth *o);
/* Hand the tokens to the application's store (if any). */
void hl__oauth_save_tokens(hl__oauth *o);
/* An authorization server's refusal for a message: `: error "x" "why"`,
 * with each of the `n_secrets` strings of `secrets` (NULL or empty ones
 * skipped) that the server quoted back replaced by "[REDACTED]". */
void hl__oauth_refusal(const cJSON *j, const char *const *secrets, size_t n_secrets, char *buf, size_t size);
/* `text` (NULL: "") quoted into buf (capped at `size`), each of the
 * `n_secrets` secrets (NULL entries skipped) redacted as it was given and
 * as quoting could spell it. */
void hl__quote_redacted(char *buf, size_t size, const char *text, const char *const *secrets, size_t n_secrets);
/* POST the grant in `form` to `endpoint` of the authorization server
 * `issuer` (the audience of a private_key_jwt assertion) with the client's
 * authentication added and take the tokens of the answer into *o (`asked_scope` when it
 * names none); `what` names the step in messages. *http_status (may be
 * NULL): the answer's status, 0 when none came. */
hl_status hl__oauth_token_request(hl__oauth *o, const char *issuer, const char *endpoint, hl__jbuf *form, const char *id,
                                  const char *secret, unsigned method, const char *asked_scope,
                                  const char *what, long *http_status);
/* Refresh with the refresh token (under `flow`); HL_ERR_NOT_FOUND when
 * there is none; a refused one is dropped (HL_ERR_AUTH); after a 5xx
 * (HL_ERR_HTTP), a 429 (HL_ERR_RATE_LIMIT) or no answer it is kept. */
hl_status hl__oauth_refresh(hl__oauth *o);
/* The current access token (malloc'd) or NULL, after the store's tokens
 * were loaded and an expired token refreshed (first use, any thread);
 * `ctx` (may be NULL): the run whose cancellation ends that refresh. */
char *hl__oauth_token(hl_mcp *m, hl_context *ctx);
/* The GET stream met a 401 with `sent` (may be NULL): HL_OK when a new
 * token is there, one another request got meanwhile or a refresh's;
 * never a new authorization (no user step on the stream's thread: the
 * next request asks). Waits for a flow under way; the close ends that. */
hl_status hl__oauth_renew(hl_mcp *m, const char *sent);
/* The MCP server answered `status` (401 or 403) with `challenge` (may be
 * NULL) to a request sent with `sent` (may be NULL). HL_OK: a new token
 * is there, send the request again; else the error to return. `rounds`
 * counts this request's authorizations (start at 0). Cancelling the run
 * `ctx` (may be NULL) or closing the client ends the requests to the
 * authorization servers with HL_ERR_CANCELLED (not the authorize
 * callback: it is the application's). */
hl_status hl__oauth_challenge(hl_mcp *m, long status, const char *challenge, const char *sent,
                              int *rounds, hl_context *ctx);

#endif
