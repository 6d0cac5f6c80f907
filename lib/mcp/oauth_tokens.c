/*
 * lib/mcp/oauth_tokens.c - MCP authorization's tokens: the token endpoint
 * (code exchange, client credentials and refresh requests, with the
 * client's authentication: client_secret_basic, client_secret_post or
 * none; refresh token rotation), the current token for requests (an
 * expiring one refreshed first) and the application's token store.
 * Secrets are wiped from memory the library frees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "core/sha256.h"
#include "net/http.h"
#include "hookline/json.h"

/* A token this close to its expiry is refreshed before it is sent. */
#define EXPIRY_SLACK_S 30

static int64_t now_s(void) { return (int64_t)time(NULL); }

void hl__oauth_forget_tokens(hl__oauth *o) {
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
  o->token_dpop = false;
}

/* ---- the token store ---- */

void hl__oauth_save_tokens(hl__oauth *o) {
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
    cJSON_AddStringToObject(j, "auth_method", hl__oauth_method_name(o->used_method));
    cJSON_AddStringToObject(j, "token_type", o->token_dpop ? "DPoP" : "Bearer");
    cJSON_AddNumberToObject(j, "expires_at", (double)o->expires_at);
    if (o->clients) hl_json_add(j, "clients", cJSON_Duplicate(o->clients, true));
  }
  pthread_mutex_unlock(&o->lock);
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (text) o->save(o->m, o->m->url, text, o->user);
  if (text) memset(text, 0, strlen(text)); /* secrets do not linger in freed memory */
  free(text);
}

/* A token that can go into "Authorization: Bearer <token>" as it is: no
 * whitespace, line break, quote, backslash or comma (which would end the
 * header or add one), not empty, not huge. Tokens from the token endpoint
 * and from the application's store alike. */
static bool usable_token(const char *t) {
  return t && *t && !strpbrk(t, " \t\r\n\"\\,") && strlen(t) <= 8192;
}

static char *dup_member(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) && v->valuestring[0] ? strdup(v->valuestring) : NULL;
}

/* The registered identities of a stored entry, by issuer: its "clients",
 * or, from an entry saved before they were kept by issuer (one flat
 * identity beside the issuer it was used with, never shown to another),
 * that identity under its issuer, unless it is the configured client_id
 * or Client ID Metadata Document URL (not registered: the options give
 * them). NULL: none. */
static cJSON *stored_clients(const hl__oauth *o, const cJSON *j) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "clients");
  if (cJSON_IsObject(c)) return cJSON_Duplicate(c, true);
  const cJSON *iss = cJSON_GetObjectItemCaseSensitive(j, "issuer");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "client_id");
  if (!cJSON_IsString(iss) || !iss->valuestring[0] || !cJSON_IsString(id) || !id->valuestring[0] ||
      (o->client_id && strcmp(id->valuestring, o->client_id) == 0) ||
      (o->client_metadata_url && strcmp(id->valuestring, o->client_metadata_url) == 0))
    return NULL;
  cJSON *entry = cJSON_CreateObject(), *all = cJSON_CreateObject();
  const char *keys[] = {"client_id", "client_secret", "auth_method"};
  for (size_t i = 0; entry && i < 3; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
    if (cJSON_IsString(v)) cJSON_AddStringToObject(entry, keys[i], v->valuestring);
  }
  if (!entry || !all) {
    cJSON_Delete(entry);
    cJSON_Delete(all);
    return NULL;
  }
  if (!hl_json_add(all, iss->valuestring, entry)) {
    cJSON_Delete(all);
    return NULL;
  }
  return all;
}

/* Ask the store once (under `flow`). */
static void load_tokens(hl__oauth *o) {
  pthread_mutex_lock(&o->lock);
  bool done = o->loaded;
  o->loaded = true;
  pthread_mutex_unlock(&o->lock);
  if (done || !o->load) return;
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
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return;
  }
  cJSON *clients = stored_clients(o, j);
  pthread_mutex_lock(&o->lock);
  cJSON *old = o->clients;
  o->clients = clients;
  pthread_mutex_unlock(&o->lock);
  hl__oauth_clients_free(old);
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "access_token");
  if (!cJSON_IsString(at) || !usable_token(at->valuestring)) {
    cJSON_Delete(j);
    return;
  }
  pthread_mutex_lock(&o->lock);
  hl__oauth_forget_tokens(o);
  o->access_token = dup_member(j, "access_token");
  o->refresh_token = dup_member(j, "refresh_token");
  o->scope = dup_member(j, "scope");
  o->token_endpoint = dup_member(j, "token_endpoint");
  o->resource = dup_member(j, "resource");
  o->issuer = dup_member(j, "issuer");
  o->used_id = dup_member(j, "client_id");
  o->used_secret = dup_member(j, "client_secret");
  const cJSON *tt = cJSON_GetObjectItemCaseSensitive(j, "token_type");
  o->token_dpop = cJSON_IsString(tt) && strcmp(tt->valuestring, "DPoP") == 0;
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(j, "auth_method");
  o->used_method = hl__oauth_method_of(cJSON_IsString(am) ? am->valuestring : NULL);
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

hl_status hl__oauth_client_auth(const char *id, const char *secret, unsigned method, hl__jbuf *form, char **header) {
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

/* `text` quoted into buf (hl__quote, capped at `size`) with the secrets
 * redacted, before quoting and again after: quoting escapes a control
 * character as "\u000c", so a server's "\fode..." would spell "code..."
 * (fuzz_oauth found it); before too, so that the cap cannot cut a secret
 * into a prefix that no longer matches. */
void hl__quote_redacted(char *buf, size_t size, const char *text, const char *const *secrets, size_t n_secrets) {
  buf[0] = '\0';
  char *t = text ? strdup(text) : NULL;
  for (size_t i = 0; t && i < n_secrets; i++) t = hl__redact(t, secrets[i]);
  if (t) hl__quote(buf, size, t);
  free(t);
  t = buf[0] ? strdup(buf) : NULL;
  for (size_t i = 0; t && i < n_secrets; i++) t = hl__redact(t, secrets[i]);
  if (buf[0]) snprintf(buf, size, "%s", t ? t : "");
  free(t);
}

/* What an authorization server said when it refused, for a message:
 * "invalid_grant: the code expired" (quoted, capped), with what was sent
 * to it redacted: a server that quotes the request back must not bring
 * the code, the verifier or a secret into messages and logs. */
void hl__oauth_refusal(const cJSON *j, const char *const *secrets, size_t n_secrets, char *buf, size_t size) {
  const char *keys[] = {"error", "error_description"};
  char q[2][240] = {"", ""};
  for (int k = 0; k < 2; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
    if (cJSON_IsString(v)) hl__quote_redacted(q[k], k ? sizeof q[k] : 120, v->valuestring, secrets, n_secrets);
  }
  snprintf(buf, size, "%s%s%s%s", q[0][0] ? ": error " : "", q[0], q[1][0] ? " " : "", q[1]);
}

/* The expiry of a token answer: expires_in seconds from now, as a
 * number or as a string of digits (some servers send "3600"); 0 when
 * absent or unusable. */
static int64_t expiry(const cJSON *ei) {
  double s = 0;
  if (cJSON_IsNumber(ei)) s = ei->valuedouble;
  else if (cJSON_IsString(ei) && ei->valuestring[0] && strlen(ei->valuestring) <= 9 &&
           strspn(ei->valuestring, "0123456789") == strlen(ei->valuestring))
    s = strtod(ei->valuestring, NULL);
  return s > 0 && s < 1e9 ? now_s() + (int64_t)s : 0;
}

/* POST a token request (grant in `form`, client authentication added)
 * and take the tokens it returns into *o. `asked_scope` is the scope
 * when the answer names none. */
hl_status hl__oauth_token_request(hl__oauth *o, const char *issuer, const char *endpoint, hl__jbuf *form,
                                  const char *id, const char *secret, unsigned method, const char *asked_scope,
                                  const char *what, long *http_status) {
  char *header = NULL, *proof = NULL;
  long status = 0;
  cJSON *j = NULL;
  size_t grant_len = form->len;
  hl_status st;
  /* At most two tries: the second only for a DPoP nonce the server asked
   * for (RFC 9449 section 8: the one case where the same code goes again,
   * the server having refused it unused), with a new proof and assertion. */
  for (int tries = 0;; tries++) {
    st = method == HL__AUTH_JWT ? hl__oauth_jwt_client_auth(o, id, issuer, form)
                                : hl__oauth_client_auth(id, secret, method, form, &header);
    if (st != HL_OK && method == HL__AUTH_JWT) return st; /* the message names the signer's failure */
    if (st == HL_OK && o->dpop && (st = hl__dpop_proof_line(o, "POST", endpoint, NULL, &proof)) != HL_OK) {
      if (header) memset(header, 0, strlen(header));
      free(header);
      return st; /* the message names the signer's failure */
    }
    if (st == HL_OK && form->failed) st = hl__oom();
    if (st == HL_OK)
      st = hl__oauth_request(o, endpoint, form->p, "application/x-www-form-urlencoded", header, proof, &status, &j);
    if (proof) memset(proof, 0, strlen(proof));
    free(proof);
    proof = NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (st != HL_OK || tries || !o->dpop || status != 400 || !cJSON_IsString(e) ||
        strcmp(e->valuestring, "use_dpop_nonce") != 0)
      break;
    /* Again from the grant: the client authentication is made anew. */
    if (form->p) memset(form->p + grant_len, 0, form->len - grant_len);
    form->len = grant_len;
    if (header) memset(header, 0, strlen(header));
    free(header);
    header = NULL;
    cJSON_Delete(j);
    j = NULL;
  }
  if (http_status) *http_status = status;
  if (st != HL_OK) {
    if (header) memset(header, 0, strlen(header));
    free(header);
    return hl__mcp_fail(o->m, st, "mcp server \"%s\": %s at %s: %s", o->m->name, what, endpoint, hl_last_error());
  }
  const char *at = NULL, *tt = NULL, *rt = NULL, *sc = NULL;
  if (j) {
    const cJSON *v;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "access_token")) && v->valuestring[0]) at = v->valuestring;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "token_type"))) tt = v->valuestring;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "refresh_token")) && v->valuestring[0]) rt = v->valuestring;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, "scope")) && v->valuestring[0]) sc = v->valuestring;
  }
  if (status != 200) {
    /* What the request carried that the server may quote back: each
     * secret value decoded and as the form encoded it, the client secret,
     * the Basic credentials. */
    static const char *const sent[] = {"code", "code_verifier", "refresh_token", "client_secret", "assertion",
                                       "client_assertion"};
    enum { N_SENT = sizeof sent / sizeof *sent };
    char *vals[2 * N_SENT + 2] = {0};
    for (size_t i = 0; i < N_SENT; i++) {
      vals[2 * i] = hl__url_param(form->p, sent[i]);
      hl__jbuf enc = {0};
      hl__url_encode(&enc, vals[2 * i]);
      if (enc.failed) { /* out of memory: that form goes unredacted, the decoded one not */
        free(enc.p);
        enc.p = NULL;
      }
      vals[2 * i + 1] = enc.p;
    }
    vals[2 * N_SENT] = (char *)secret;
    vals[2 * N_SENT + 1] = header ? strrchr(header, ' ') + 1 : NULL;
    char why[400];
    hl__oauth_refusal(j, (const char *const *)vals, 2 * N_SENT + 2, why, sizeof why);
    for (size_t i = 0; i < 2 * N_SENT; i++) {
      if (vals[i]) memset(vals[i], 0, strlen(vals[i]));
      free(vals[i]);
    }
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s at %s: HTTP %ld%s", o->m->name, what, endpoint,
                      status, why);
  } else if (!usable_token(at)) {
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s at %s: the answer has no usable access_token",
                      o->m->name, what, endpoint);
  } else if (!tt || (strcasecmp(tt, "bearer") != 0 && !(o->dpop && strcasecmp(tt, "dpop") == 0))) {
    char q[60];
    hl__quote(q, sizeof q, tt ? tt : "(none)");
    st = hl__mcp_fail(o->m, HL_ERR_AUTH, "mcp server \"%s\": %s at %s: token_type %s is not Bearer%s", o->m->name,
                      what, endpoint, q, o->dpop ? " or DPoP" : "");
  } else {
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
      o->token_dpop = strcasecmp(tt, "dpop") == 0;
      /* A refresh's answer without one: the old one stays (no
       * rotation). Any other grant's answer replaces it, with none when
       * it has none: the old one may be another authorization server's
       * (SEP-2352), which the next refresh would send to this one. */
      bool refreshing = form->p && strncmp(form->p, "grant_type=refresh_token&", 25) == 0;
      if (nrt || !refreshing) {
        if (o->refresh_token) memset(o->refresh_token, 0, strlen(o->refresh_token));
        free(o->refresh_token);
        o->refresh_token = nrt;
      }
      free(o->scope);
      o->scope = nsc;
      o->expires_at = expiry(cJSON_GetObjectItemCaseSensitive(j, "expires_in"));
      pthread_mutex_unlock(&o->lock);
    }
  }
  if (header) memset(header, 0, strlen(header));
  free(header);
  cJSON_Delete(j);
  return st;
}

/* Refresh with the refresh token (under `flow`). */
hl_status hl__oauth_refresh(hl__oauth *o) {
  pthread_mutex_lock(&o->lock);
  char *rt = hl__strdup(o->refresh_token), *ep = hl__strdup(o->token_endpoint);
  char *id = hl__strdup(o->used_id), *sec = hl__strdup(o->used_secret), *res = hl__strdup(o->resource);
  char *scope = hl__strdup(o->scope), *iss = hl__strdup(o->issuer);
  unsigned method = o->used_method;
  pthread_mutex_unlock(&o->lock);
  hl_status st;
  if (!rt || !ep || !id) {
    st = HL_ERR_NOT_FOUND;
  } else if ((st = hl__oauth_http(o)) == HL_OK) {
    hl__jbuf form = {0};
    hl__form_add(&form, "grant_type", "refresh_token");
    hl__form_add(&form, "refresh_token", rt);
    if (res) hl__form_add(&form, "resource", res);
    long status = 0;
    st = hl__oauth_token_request(o, iss, ep, &form, id, sec, method, scope, "token refresh", &status);
    if (form.p) memset(form.p, 0, form.len);
    free(form.p);
    /* Refused (RFC 6749 section 5.2: 400, or 401 for the client): the
     * refresh token is spent. A 5xx, 429 or no answer is no verdict on
     * it: it stays for the next try. */
    if (st == HL_ERR_AUTH && (status == 400 || status == 401)) {
      pthread_mutex_lock(&o->lock);
      free(o->refresh_token);
      o->refresh_token = NULL;
      pthread_mutex_unlock(&o->lock);
    } else if (st == HL_ERR_AUTH && (status >= 500 || status == 429)) {
      /* Said as what it is, not as a refusal: the caller (a 401's
       * handling) then gives up this request instead of asking the user. */
      st = hl__mcp_fail(o->m, status == 429 ? HL_ERR_RATE_LIMIT : HL_ERR_HTTP,
                        "%s; the refresh token is kept for the next request", hl_last_error());
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
  free(iss);
  if (st == HL_OK) hl__oauth_save_tokens(o);
  return st;
}

char *hl__oauth_token(hl_mcp *m, hl_context *ctx) {
  hl__oauth *o = m->oauth;
  pthread_mutex_lock(&o->lock);
  bool need = !o->loaded ||
              (o->expires_at && now_s() >= o->expires_at - EXPIRY_SLACK_S && o->refresh_token);
  pthread_mutex_unlock(&o->lock);
  /* Not entered (the run was cancelled, the client closed): the token as
   * it is; the request then ends or a 401 says more. */
  if (need && hl__oauth_flow_enter(o, ctx) == HL_OK) {
    load_tokens(o);
    pthread_mutex_lock(&o->lock);
    bool expired = o->expires_at && now_s() >= o->expires_at - EXPIRY_SLACK_S && o->refresh_token;
    pthread_mutex_unlock(&o->lock);
    /* A failed refresh leaves the old token: the server's 401 then
     * starts a new authorization. */
    if (expired) hl__oauth_refresh(o);
    hl__oauth_flow_leave(o);
  }
  pthread_mutex_lock(&o->lock);
  char *t = hl__strdup(o->access_token);
  pthread_mutex_unlock(&o->lock);
  return t;
}
