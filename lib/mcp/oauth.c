/*
 * lib/mcp/oauth.c - MCP authorization's flow and tokens (see
 * hl_mcp_set_oauth() in hookline/mcp.h): a client identity
 * (pre-registered, Client ID Metadata Document or RFC 7591 dynamic
 * registration), the authorization code grant with PKCE S256, `state`
 * and the resource indicator, the token endpoint's authentication
 * (client_secret_basic, client_secret_post or none), refresh, step-up on
 * insufficient_scope, and the application's token store.
 *
 * Locks: `flow` makes one authorization or refresh at a time per client
 * (the authorize callback runs under it, on the thread whose request met
 * the 401); `lock` guards the token fields for the requests that read
 * the current token meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "core/sha256.h"
#include "providers/http.h"

/* Authorizations (or refreshes) one request may cause: its first 401, and
 * one step-up for a 403; a server that keeps refusing gets no third. */
#define MAX_ROUNDS 2
/* A token this close to its expiry is refreshed before it is sent. */
#define EXPIRY_SLACK_S 30

static void free_config(hl__oauth *o) {
  free(o->redirect_uri);
  free(o->client_id);
  free(o->client_secret);
  free(o->client_metadata_url);
  free(o->client_name);
}

static void forget_tokens(hl__oauth *o) {
  free(o->access_token);
  free(o->refresh_token);
  free(o->scope);
  free(o->token_endpoint);
  free(o->resource);
  free(o->issuer);
  free(o->used_id);
  free(o->used_secret);
  o->access_token = o->refresh_token = o->scope = o->token_endpoint = NULL;
  o->resource = o->issuer = o->used_id = o->used_secret = NULL;
  o->expires_at = 0;
  o->used_method = 0;
}

void hl__oauth_free(hl__oauth *o) {
  if (!o) return;
  free_config(o);
  forget_tokens(o);
  if (o->http) hl__http_free(o->http);
  pthread_mutex_destroy(&o->flow);
  pthread_mutex_destroy(&o->lock);
  free(o);
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
  /* What a size from before client_credentials was appended reads as false. */
  bool cc = opts->size >= offsetof(hl_mcp_oauth, client_credentials) + sizeof(bool) && opts->client_credentials;
  if (cc && (!opts->client_id || !opts->client_secret))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: client_credentials needs client_id and client_secret");
  if (!cc && (!opts->redirect_uri || !*opts->redirect_uri || !opts->authorize))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: redirect_uri and authorize are required");
  if (!opts->load_tokens != !opts->save_tokens)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: give both load_tokens and save_tokens, or neither");
  if (opts->client_metadata_url && strncmp(opts->client_metadata_url, "https://", 8) != 0)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_oauth: client_metadata_url must be an https:// URL");
  hl__oauth *o = calloc(1, sizeof *o);
  if (!o) return hl__oom();
  pthread_mutex_init(&o->flow, NULL);
  pthread_mutex_init(&o->lock, NULL);
  o->m = m;
  o->authorize = opts->authorize;
  o->user = opts->user_data;
  o->load = opts->load_tokens;
  o->save = opts->save_tokens;
  o->client_credentials = cc;
  if (!copy_opt(&o->redirect_uri, opts->redirect_uri) || !copy_opt(&o->client_id, opts->client_id) ||
      !copy_opt(&o->client_secret, opts->client_secret) ||
      !copy_opt(&o->client_metadata_url, opts->client_metadata_url) ||
      !copy_opt(&o->client_name, opts->client_name ? opts->client_name : "hookline")) {
    hl__oauth_free(o);
    return hl__oom();
  }
  hl__oauth_free(m->oauth);
  m->oauth = o;
  return HL_OK;
}

/* The HTTP client for authorization servers, made at first use: capped
 * answers, the MCP request time limit, the client's CA file. */
static hl_status ensure_http(hl__oauth *o) {
  if (o->http) return HL_OK;
  hl__http_options opt;
  hl__http_options_default(&opt);
  opt.max_retries = 1; /* a token request must not run many times: codes are single-use */
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

static const char *method_name(unsigned m) {
  return m == HL__AUTH_BASIC ? "client_secret_basic" : m == HL__AUTH_POST ? "client_secret_post" : "none";
}

static unsigned method_of(const char *name) {
  if (!name) return 0;
  return strcmp(name, "client_secret_basic") == 0 ? HL__AUTH_BASIC
         : strcmp(name, "client_secret_post") == 0 ? HL__AUTH_POST
         : strcmp(name, "none") == 0               ? HL__AUTH_NONE
                                                   : 0;
}

/* How to authenticate at the token endpoint: what the registration said
 * (if the server allows it), else by the secret and the server's list
 * (RFC 8414's default is client_secret_basic). */
static unsigned pick_method(unsigned supported, const char *secret, unsigned registered) {
  if (registered && (!supported || (supported & registered))) return registered;
  if (!secret) return HL__AUTH_NONE;
  if (!supported || (supported & HL__AUTH_BASIC)) return HL__AUTH_BASIC;
  if (supported & HL__AUTH_POST) return HL__AUTH_POST;
  return HL__AUTH_NONE;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* ---- the token store ---- */

static void save_tokens(hl__oauth *o) {
  if (!o->save) return;
  cJSON *j = cJSON_CreateObject();
  pthread_mutex_lock(&o->lock);
  const char *keys[] = {"access_token", "refresh_token", "scope", "token_endpoint", "resource", "issuer",
                        "client_id", "client_secret"};
  const char *vals[] = {o->access_token, o->refresh_token, o->scope, o->token_endpoint, o->resource, o->issuer,
                        o->used_id, o->used_secret};
  for (size_t i = 0; j && i < sizeof keys / sizeof *keys; i++)
    if (vals[i]) cJSON_AddStringToObject(j, keys[i], vals[i]);
  if (j) {
    cJSON_AddStringToObject(j, "auth_method", method_name(o->used_method));
    cJSON_AddNumberToObject(j, "expires_at", (double)o->expires_at);
  }
  pthread_mutex_unlock(&o->lock);
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (text) o->save(o->m, o->m->url, text, o->user);
  if (text) memset(text, 0, strlen(text)); /* secrets do not linger in freed memory */
  free(text);
}

static char *dup_member(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) && v->valuestring[0] ? strdup(v->valuestring) : NULL;
}

/* Ask the store once (under `flow`). */
static void load_tokens(hl__oauth *o) {
  if (o->loaded || !o->load) {
    o->loaded = true;
    return;
  }
  o->loaded = true;
  char *text = NULL;
  hl_status st = o->load(o->m, o->m->url, &text, o->user);
  if (st != HL_OK) {
    hl__mcp_fail(o->m, st, "mcp server \"%s\": token store: load failed (%s); authorizing anew", o->m->name,
                 hl_last_error());
    free(text);
    return;
  }
  if (!text) return;
  cJSON *j = strlen(text) <= HL__OAUTH_MAX_BODY ? cJSON_Parse(text) : NULL;
  memset(text, 0, strlen(text));
  free(text);
  if (!cJSON_IsObject(j) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "access_token"))) {
    cJSON_Delete(j);
    return;
  }
  pthread_mutex_lock(&o->lock);
  forget_tokens(o);
  o->access_token = dup_member(j, "access_token");
  o->refresh_token = dup_member(j, "refresh_token");
  o->scope = dup_member(j, "scope");
  o->token_endpoint = dup_member(j, "token_endpoint");
  o->resource = dup_member(j, "resource");
  o->issuer = dup_member(j, "issuer");
  o->used_id = dup_member(j, "client_id");
  o->used_secret = dup_member(j, "client_secret");
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(j, "auth_method");
  o->used_method = method_of(cJSON_IsString(am) ? am->valuestring : NULL);
  if (!o->used_method) o->used_method = HL__AUTH_NONE;
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_at");
  o->expires_at = cJSON_IsNumber(exp) && exp->valuedouble > 0 && exp->valuedouble < 1e15 ? (int64_t)exp->valuedouble : 0;
  /* A token endpoint from a store is used only as any other would be. */
  if (o->token_endpoint && !hl__url_secure(o->token_endpoint)) {
    free(o->token_endpoint);
    free(o->refresh_token);
    o->token_endpoint = o->refresh_token = NULL;
  }
  pthread_mutex_unlock(&o->lock);
  cJSON_Delete(j);
}

/* ---- the token endpoint ---- */

/* The client authentication of a token request: client_id (and
 * client_secret) into the form, or the Basic header into *header
 * (malloc'd; the id and secret form-encoded first, RFC 6749 section
 * 2.3.1). */
static hl_status client_auth(const char *id, const char *secret, unsigned method, hl__jbuf *form, char **header) {
  *header = NULL;
  if (method != HL__AUTH_BASIC || !secret || !*secret) {
    hl__form_add(form, "client_id", id);
    if (method == HL__AUTH_POST && secret) hl__form_add(form, "client_secret", secret);
    return HL_OK;
  }
  hl__jbuf pair = {0};
  hl__url_encode(&pair, id);
  hl__jbuf_raw(&pair, ":", 1);
  hl__jbuf sec = {0};
  hl__url_encode(&sec, secret);
  hl_status st = HL_OK;
  if (pair.failed || sec.failed || !sec.p) {
    st = hl__oom();
  } else {
    size_t n = pair.len + sec.len;
    char *raw = malloc(n + 1);
    char *h = raw ? malloc(sizeof "Authorization: Basic " + HL_BASE64_SIZE(n)) : NULL;
    if (!h) {
      st = hl__oom();
    } else {
      snprintf(raw, n + 1, "%s%s", pair.p, sec.p);
      strcpy(h, "Authorization: Basic ");
      hl__base64(raw, n, false, h + strlen(h));
      *header = h;
    }
    if (raw) memset(raw, 0, n);
    free(raw);
    if (!*header) free(h);
  }
  free(pair.p);
  if (sec.p) memset(sec.p, 0, sec.len);
  free(sec.p);
  return st;
}

/* What an authorization server said when it refused, for a message:
 * "invalid_grant: the code expired" (quoted, capped). */
static void refusal(const cJSON *j, char *buf, size_t size) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "error_description");
  char eq[120] = "", dq[240] = "";
  if (cJSON_IsString(e)) hl__quote(eq, sizeof eq, e->valuestring);
  if (cJSON_IsString(d)) hl__quote(dq, sizeof dq, d->valuestring);
  snprintf(buf, size, "%s%s%s%s", eq[0] ? ": error " : "", eq, dq[0] ? " " : "", dq);
}

/* POST a token request (grant in `form`, client authentication added)
 * and take the tokens it returns into *o. `asked_scope` is the scope
 * when the answer names none. */
static hl_status token_request(hl__oauth *o, const char *endpoint, hl__jbuf *form, const char *id,
                               const char *secret, unsigned method, const char *asked_scope, const char *what) {
  char *header = NULL;
  hl_status st = client_auth(id, secret, method, form, &header);
  if (st == HL_OK && form->failed) st = hl__oom();
  long status = 0;
  cJSON *j = NULL;
  if (st == HL_OK)
    st = hl__oauth_request(o, endpoint, form->p, "application/x-www-form-urlencoded", header, &status, &j);
  if (header) memset(header, 0, strlen(header));
  free(header);
  if (st != HL_OK) return hl__mcp_fail(o->m, st, "mcp server \"%s\": %s at %s: %s", o->m->name, what, endpoint,
                                       hl_last_error());
  const char *at = NULL, *tt = NULL, *rt = NULL, *sc = NULL;
  if (j) {
    const cJSON *v;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "access_token")) && v->valuestring[0]) at = v->valuestring;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "token_type"))) tt = v->valuestring;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "refresh_token")) && v->valuestring[0]) rt = v->valuestring;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "scope")) && v->valuestring[0]) sc = v->valuestring;
  }
  if (status != 200) {
    char why[400];
    refusal(j, why, sizeof why);
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s at %s: HTTP %ld%s", o->m->name, what, endpoint,
                      status, why);
  } else if (!at || strpbrk(at, " \t\r\n\"\\,") || strlen(at) > 8192) {
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s at %s: the answer has no usable access_token",
                      o->m->name, what, endpoint);
  } else if (!tt || strcasecmp(tt, "bearer") != 0) {
    char q[60];
    hl__quote(q, sizeof q, tt ? tt : "(none)");
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s at %s: token_type %s is not Bearer", o->m->name,
                      what, endpoint, q);
  } else {
    const cJSON *ei = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    char *nat = strdup(at), *nrt = rt ? strdup(rt) : NULL;
    char *nsc = sc ? strdup(sc) : asked_scope ? strdup(asked_scope) : NULL;
    if (!nat || (rt && !nrt) || ((sc || asked_scope) && !nsc)) {
      free(nat);
      free(nrt);
      free(nsc);
      st = hl__oom();
    } else {
      pthread_mutex_lock(&o->lock);
      free(o->access_token);
      o->access_token = nat;
      if (nrt) { /* rotation: the new one replaces it; none: the old one stays */
        free(o->refresh_token);
        o->refresh_token = nrt;
      }
      free(o->scope);
      o->scope = nsc;
      o->expires_at = cJSON_IsNumber(ei) && ei->valuedouble > 0 && ei->valuedouble < 1e9
                          ? now_s() + (int64_t)ei->valuedouble
                          : 0;
      pthread_mutex_unlock(&o->lock);
    }
  }
  cJSON_Delete(j);
  return st;
}

/* Refresh with the refresh token (under `flow`). */
static hl_status refresh(hl__oauth *o) {
  pthread_mutex_lock(&o->lock);
  char *rt = hl__strdup(o->refresh_token), *ep = hl__strdup(o->token_endpoint);
  char *id = hl__strdup(o->used_id), *sec = hl__strdup(o->used_secret), *res = hl__strdup(o->resource);
  char *scope = hl__strdup(o->scope);
  unsigned method = o->used_method;
  pthread_mutex_unlock(&o->lock);
  hl_status st;
  if (!rt || !ep || !id) {
    st = HL_ERR_NOT_FOUND;
  } else if ((st = ensure_http(o)) == HL_OK) {
    hl__jbuf form = {0};
    hl__form_add(&form, "grant_type", "refresh_token");
    hl__form_add(&form, "refresh_token", rt);
    if (res) hl__form_add(&form, "resource", res);
    st = token_request(o, ep, &form, id, sec, method, scope, "token refresh");
    if (form.p) memset(form.p, 0, form.len);
    free(form.p);
    if (st == HL_ERR_AUTH) { /* refused: the refresh token is spent */
      pthread_mutex_lock(&o->lock);
      free(o->refresh_token);
      o->refresh_token = NULL;
      pthread_mutex_unlock(&o->lock);
    }
  }
  if (rt) memset(rt, 0, strlen(rt));
  free(rt);
  free(ep);
  free(id);
  if (sec) memset(sec, 0, strlen(sec));
  free(sec);
  free(res);
  free(scope);
  if (st == HL_OK) save_tokens(o);
  return st;
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

/* The identity for this authorization server into *id, *secret, *method
 * (malloc'd): pre-registered, CIMD, the one registered before with the
 * same issuer, or a new registration (RFC 7591). */
static hl_status identity(hl__oauth *o, const hl__oauth_meta *meta, char **id, char **secret, unsigned *method) {
  *id = *secret = NULL;
  if (o->client_id) {
    *id = strdup(o->client_id);
    *secret = hl__strdup(o->client_secret);
    *method = pick_method(meta->auth_methods, o->client_secret, 0);
    return *id && (!o->client_secret || *secret) ? HL_OK : hl__oom();
  }
  if (o->client_metadata_url && meta->cimd) {
    *method = HL__AUTH_NONE;
    return (*id = strdup(o->client_metadata_url)) ? HL_OK : hl__oom();
  }
  pthread_mutex_lock(&o->lock);
  bool again = o->used_id && o->issuer && strcmp(o->issuer, meta->issuer) == 0 &&
               !(o->client_metadata_url && strcmp(o->used_id, o->client_metadata_url) == 0);
  if (again) {
    *id = strdup(o->used_id);
    *secret = hl__strdup(o->used_secret);
    *method = o->used_method;
  }
  pthread_mutex_unlock(&o->lock);
  if (again) return *id ? HL_OK : hl__oom();
  if (!meta->registration_endpoint)
    return hl__mcp_fail(o->m, HL_ERR_AUTH,
                        "mcp server \"%s\": authorization server %s: no client identity (it offers no dynamic "
                        "client registration%s; give a pre-registered client_id to hl_mcp_set_oauth())",
                        o->m->name, meta->issuer,
                        meta->cimd ? " and no client_metadata_url was given" : "");
  /* Ask for the method the server prefers among what a native app can do. */
  unsigned want = !meta->auth_methods || (meta->auth_methods & HL__AUTH_NONE) ? HL__AUTH_NONE
                  : (meta->auth_methods & HL__AUTH_BASIC)                    ? HL__AUTH_BASIC
                                                                               : HL__AUTH_POST;
  cJSON *req = cJSON_CreateObject();
  cJSON *uris = cJSON_AddArrayToObject(req, "redirect_uris");
  cJSON_AddItemToArray(uris, cJSON_CreateString(o->redirect_uri));
  cJSON_AddStringToObject(req, "client_name", o->client_name);
  cJSON *gt = cJSON_AddArrayToObject(req, "grant_types");
  cJSON_AddItemToArray(gt, cJSON_CreateString("authorization_code"));
  cJSON_AddItemToArray(gt, cJSON_CreateString("refresh_token"));
  cJSON *rt = cJSON_AddArrayToObject(req, "response_types");
  cJSON_AddItemToArray(rt, cJSON_CreateString("code"));
  cJSON_AddStringToObject(req, "token_endpoint_auth_method", method_name(want));
  char *body = cJSON_PrintUnformatted(req);
  cJSON_Delete(req);
  if (!body) return hl__oom();
  hl_status st = ensure_http(o);
  long status = 0;
  cJSON *j = NULL;
  if (st == HL_OK)
    st = hl__oauth_request(o, meta->registration_endpoint, body, "application/json", NULL, &status, &j);
  free(body);
  if (st != HL_OK)
    return hl__mcp_fail(o->m, st, "mcp server \"%s\": client registration at %s: %s", o->m->name,
                        meta->registration_endpoint, hl_last_error());
  const cJSON *cid = cJSON_GetObjectItemCaseSensitive(j, "client_id");
  if ((status != 200 && status != 201) || !cJSON_IsString(cid) || !cid->valuestring[0]) {
    char why[400];
    refusal(j, why, sizeof why);
    cJSON_Delete(j);
    return hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": client registration at %s: HTTP %ld%s%s", o->m->name,
                        meta->registration_endpoint, status, status == 200 || status == 201 ? ": no client_id" : "",
                        why);
  }
  const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "client_secret");
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(j, "token_endpoint_auth_method");
  *id = strdup(cid->valuestring);
  *secret = cJSON_IsString(cs) && cs->valuestring[0] ? strdup(cs->valuestring) : NULL;
  *method = pick_method(meta->auth_methods, *secret, method_of(cJSON_IsString(am) ? am->valuestring : NULL));
  bool oom = !*id || (cJSON_IsString(cs) && cs->valuestring[0] && !*secret);
  cJSON_Delete(j);
  return oom ? hl__oom() : HL_OK;
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
static hl_status user_step(hl__oauth *o, const char *url, const char *state, char **code) {
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
  free(redirect);
  if (err) {
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
  if (st == HL_OK) st = user_step(o, url, state, &code);
  if (st == HL_OK) {
    hl__jbuf form = {0};
    hl__form_add(&form, "grant_type", "authorization_code");
    hl__form_add(&form, "code", code);
    hl__form_add(&form, "redirect_uri", o->redirect_uri);
    hl__form_add(&form, "code_verifier", verifier);
    hl__form_add(&form, "resource", meta->resource);
    st = token_request(o, meta->token_endpoint, &form, id, secret, method, scope, "token request");
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
  hl_status st = token_request(o, meta->token_endpoint, &form, id, secret, method, scope, "token request");
  if (form.p) memset(form.p, 0, form.len);
  free(form.p);
  return st;
}

/* A whole authorization (under `flow`): discovery, identity, the grant;
 * the tokens into *o. `scope` NULL: the PRM's. */
static hl_status authorize(hl__oauth *o, const char *prm_url, const char *scope) {
  hl_status st = ensure_http(o);
  if (st) return st;
  hl__oauth_meta meta;
  st = hl__oauth_discover(o, o->m->url, prm_url, &meta);
  if (st != HL_OK) return hl__mcp_fail(o->m, st, "%s", hl_last_error());
  if (!scope) scope = meta.prm_scopes;
  char *id = NULL, *secret = NULL;
  unsigned method = HL__AUTH_NONE;
  st = identity(o, &meta, &id, &secret, &method);
  if (st == HL_OK && o->client_credentials) st = client_credentials(o, &meta, id, secret, method, scope);
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
    save_tokens(o);
  }
  free(id);
  if (secret) memset(secret, 0, strlen(secret));
  free(secret);
  hl__oauth_meta_clear(&meta);
  return st;
}

/* ---- what http.c calls ---- */

char *hl__oauth_token(hl_mcp *m) {
  hl__oauth *o = m->oauth;
  pthread_mutex_lock(&o->lock);
  bool need = !o->loaded ||
              (o->expires_at && now_s() >= o->expires_at - EXPIRY_SLACK_S && o->refresh_token);
  pthread_mutex_unlock(&o->lock);
  if (need) {
    pthread_mutex_lock(&o->flow);
    load_tokens(o);
    pthread_mutex_lock(&o->lock);
    bool expired = o->expires_at && now_s() >= o->expires_at - EXPIRY_SLACK_S && o->refresh_token;
    pthread_mutex_unlock(&o->lock);
    /* A failed refresh leaves the old token: the server's 401 then
     * starts a new authorization. */
    if (expired) refresh(o);
    pthread_mutex_unlock(&o->flow);
  }
  pthread_mutex_lock(&o->lock);
  char *t = hl__strdup(o->access_token);
  pthread_mutex_unlock(&o->lock);
  return t;
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

hl_status hl__oauth_challenge(hl_mcp *m, long status, const char *challenge, const char *sent, int *rounds) {
  hl__oauth *o = m->oauth;
  hl__www_auth wa;
  hl__www_auth_parse(challenge, &wa);
  bool step_up = status == 403 && wa.error && strcmp(wa.error, "insufficient_scope") == 0;
  if (status != 401 && !step_up) {
    hl__www_auth_clear(&wa);
    return HL_ERR_NOT_FOUND;
  }
  pthread_mutex_lock(&o->flow);
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
  } else if (*rounds >= MAX_ROUNDS) {
    char q[300] = "";
    if (wa.error_description) hl__quote(q, sizeof q, wa.error_description);
    st = hl__mcp_fail(m, HL_ERR_AUTH, "mcp server \"%s\": HTTP %ld%s%s%s even after %d authorizations; giving up",
                      m->name, status, step_up ? " insufficient_scope" : "", q[0] ? " " : "", q, *rounds);
  } else {
    (*rounds)++;
    st = HL_ERR_NOT_FOUND;
    if (!step_up && can_refresh) st = refresh(o);
    if (st != HL_OK) {
      char *scope = step_up ? hl__strdup(wanted) : hl__strdup(wa.scope);
      if ((step_up || wa.scope) && !scope) st = hl__oom();
      else st = authorize(o, wa.resource_metadata, scope);
      free(scope);
    }
  }
  pthread_mutex_unlock(&o->flow);
  free(wanted);
  free(had_scope);
  hl__www_auth_clear(&wa);
  return st;
}
