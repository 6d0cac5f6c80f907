/*
 * lib/mcp/oauth_meta.c - discovery for MCP's OAuth (MCP Authorization
 * 2025-11-25 "Authorization Server Discovery"):
 *
 *  1. Protected Resource Metadata (RFC 9728): at the challenge's
 *     resource_metadata URL, else at /.well-known/oauth-protected-resource
 *     with the server's path appended, then without it. Its `resource`
 *     must be the server's URL or a prefix of it (same origin, whole path
 *     segments): metadata for another resource would send the user's
 *     token there. The first authorization server listed is used.
 *  2. The authorization server's metadata, for an issuer with a path
 *     (https://as/tenant1): /.well-known/oauth-authorization-server/tenant1,
 *     /.well-known/openid-configuration/tenant1,
 *     /tenant1/.well-known/openid-configuration; without a path:
 *     /.well-known/oauth-authorization-server, then
 *     /.well-known/openid-configuration. Its `issuer` must be the one
 *     asked for (RFC 8414 section 3.3), and it must list S256 in
 *     code_challenge_methods_supported (the spec says to refuse
 *     otherwise; the client_credentials and jwt-bearer grants have no
 *     PKCE).
 *  3. A 2025-03-26 server has no PRM: its origin is the authorization
 *     server (metadata at its root, issuer of the same origin), and
 *     without metadata the default /authorize, /token and /register.
 *
 * Every URL must be https:// or loopback; every answer is capped (the
 * client's OAuth HTTP client, oauth.c); a 3xx or 4xx moves on to the
 * next location (fetch_meta() says why), anything else fails with the
 * step and URL named.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "oauth.h"
#include "net/http.h"

void hl__oauth_meta_clear(hl__oauth_meta *m) {
  free(m->resource);
  free(m->prm_scopes);
  free(m->issuer);
  free(m->authorization_endpoint);
  free(m->token_endpoint);
  free(m->registration_endpoint);
  memset(m, 0, sizeof *m);
}

/* Fail with `st` and "mcp server "x": " + the message. */
static hl_status HL_PRINTF(3, 4) meta_fail(hl__oauth *o, hl_status st, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return hl_fail(st, "mcp server \"%s\": %s", hl_mcp_name(o->m), msg);
}

/* A request ends with HL_ERR_CANCELLED when the client is closed
 * (hl_mcp_free() from another thread announces a cancellation: the loop
 * asks every request's predicate; one that starts later is refused) or
 * the run of the request holding the flow is cancelled (hl_agent_cancel()
 * announces it the same way). */
/* hl__oauth_request(), and *location (NULL: not wanted) gets the
 * answer's Location header (malloc'd; NULL: none). */
static hl_status request(hl__oauth *o, const char *url, const char *body, const char *content_type,
                         const char *auth_header, const char *dpop_header, long *status, cJSON **json,
                         char **location) {
  *json = NULL;
  *status = 0;
  if (location) *location = NULL;
  const char *hdrs[4];
  char type[100];
  size_t n = 0;
  hdrs[n++] = "Accept: application/json";
  if (body) {
    snprintf(type, sizeof type, "Content-Type: %s", content_type);
    hdrs[n++] = type;
  }
  if (auth_header) hdrs[n++] = auth_header;
  if (dpop_header) hdrs[n++] = dpop_header;
  char what[200];
  snprintf(what, sizeof what, "mcp server \"%s\" (authorization)", hl_mcp_name(o->m));
  /* The Basic header's credentials are redacted from any message. */
  const char *secret = auth_header ? strchr(auth_header, ' ') : NULL;
  secret = secret ? strchr(secret + 1, ' ') : NULL;
  hl__mcp_cancel cc = {o->m, o->flow_ctx};
  hl__http_request req = {
      .url = url,
      .body = body,
      .body_len = body ? strlen(body) : 0,
      .headers = hdrs,
      .n_headers = n,
      .secret = secret ? secret + 1 : NULL,
      .what = what,
      .cancelled = hl__mcp_cancelled,
      .cancel_user = &cc,
      .capture_challenge = o->dpop,
      .capture_header = location ? "Location" : NULL,
  };
  hl__http_response r = {0};
  hl_status st = hl__http_request_send(o->http, &req, &r);
  if (st == HL_OK) {
    *status = r.status;
    if (location) {
      *location = r.captured;
      r.captured = NULL;
    }
    hl__dpop_keep_nonce(o, url, r.dpop_nonce);
    /* An escaped NUL ("\u0000") would cut a value short where cJSON
     * stores it: "https://as\u0000.evil" would read, and pass the checks,
     * as "https://as". A document that holds one is no document here. */
    if (r.body && r.body_len == strlen(r.body) && !strstr(r.body, "\\u0000")) {
      cJSON *j = cJSON_ParseWithLength(r.body, r.body_len);
      if (cJSON_IsObject(j) && hl__json_depth_ok(j, 16)) *json = j;
      else cJSON_Delete(j);
    }
  }
  hl__http_response_clear(&r);
  return st;
}

hl_status hl__oauth_request(hl__oauth *o, const char *url, const char *body, const char *content_type,
                            const char *auth_header, const char *dpop_header, long *status, cJSON **json) {
  return request(o, url, body, content_type, auth_header, dpop_header, status, json, NULL);
}

/* A string member (NULL when absent or not a string). */
static const char *str(const cJSON *j, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* An array of strings as one space-separated string (NULL: none). */
static char *joined(const cJSON *j, const char *key) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsArray(a)) return NULL;
  hl__jbuf b = {0};
  const cJSON *e;
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsString(e) || !e->valuestring[0] || strpbrk(e->valuestring, " \"\\")) continue;
    if (b.len) hl__jbuf_raw(&b, " ", 1);
    hl__jbuf_raw(&b, e->valuestring, strlen(e->valuestring));
  }
  if (b.failed) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

static bool lists(const cJSON *j, const char *key, const char *want) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key), *e;
  if (!cJSON_IsArray(a)) return false; /* an object's members are no list */
  cJSON_ArrayForEach(e, a) if (cJSON_IsString(e) && strcmp(e->valuestring, want) == 0) return true;
  return false;
}

/* `u` is an origin with "/" as its whole path ("https://as/"). */
static bool root_slash(const char *u) {
  const char *host = strstr(u, "://");
  return host && strchr(host + 3, '/') == u + strlen(u) - 1;
}

/* The issuer a metadata document names is the one asked for: identical
 * (RFC 8414 section 3.3), but for an origin's empty path and "/", which
 * are one URL (RFC 3986 section 6.2.3) and which real servers mix: the
 * Python SDK's (pydantic writes "https://as/"), JumpCloud (PRM
 * "https://oauth.id.jumpcloud.com", issuer with the "/"), Auth0's
 * "https://tenant.auth0.com/". "https://as/t" and "https://as/t/" are two
 * URLs, as are "https://as" and "https://as//": no server seen needs
 * those, and the Python SDK and the Vercel AI SDK tolerate the root's
 * slash only too. */
static bool same_issuer(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la == lb + 1) return root_slash(a) && strncmp(a, b, lb) == 0;
  if (lb == la + 1) return root_slash(b) && strncmp(a, b, la) == 0;
  return strcmp(a, b) == 0;
}

/* `resource` names the server at `server_url` or a prefix of it. */
static bool resource_matches(const char *resource, const char *server_url) {
  char *ro, *rp, *so, *sp;
  if (!hl__url_split(resource, &ro, &rp)) return false;
  if (!hl__url_split(server_url, &so, &sp)) {
    free(ro);
    free(rp);
    return false;
  }
  size_t rl = strlen(rp);
  while (rl && rp[rl - 1] == '/') rl--;
  bool ok = strcmp(ro, so) == 0 && strncmp(rp, sp, rl) == 0 && (sp[rl] == '\0' || sp[rl] == '/');
  free(ro);
  free(rp);
  free(so);
  free(sp);
  return ok;
}

/* fetch_meta()'s verdict on the answer `status` from `url`. */
static hl_status check_meta_answer(hl__oauth *o, const char *what, const char *url, cJSON **json, long status) {
  if (status >= 300 && status < 500) {
    cJSON_Delete(*json);
    *json = NULL;
    return HL_ERR_NOT_FOUND;
  }
  if (status != 200) {
    cJSON_Delete(*json);
    *json = NULL;
    return meta_fail(o, HL_ERR_AUTH, "%s at %s: HTTP %ld", what, url, status);
  }
  if (!*json) return meta_fail(o, HL_ERR_AUTH, "%s at %s: the answer is not a JSON object", what, url);
  return HL_OK;
}

/* Redirects followed for one metadata document, at most. */
#define MAX_META_REDIRECTS 3

/* Where a redirect from `url` to `location` (may be NULL) goes when it
 * stays in url's origin (malloc'd), else NULL: not followed. A Location
 * that is an absolute path ("/x/") or a URL of the same origin; other
 * relative forms ("x/", "//host/x") are not worth resolving here. */
static char *same_origin(const char *url, const char *location) {
  char *origin = NULL, *path = NULL, *next = NULL;
  if (!location || !hl__url_split(url, &origin, &path)) return NULL;
  if (location[0] == '/' && location[1] != '/') {
    size_t n = strlen(origin) + strlen(location) + 1;
    if ((next = malloc(n))) snprintf(next, n, "%s%s", origin, location);
  } else {
    char *o2 = NULL, *p2 = NULL;
    if (hl__url_split(location, &o2, &p2) && strcmp(o2, origin) == 0) next = strdup(location);
    free(o2);
    free(p2);
  }
  free(origin);
  free(path);
  return next;
}

/* GET one metadata document: HL_OK with *json; HL_ERR_NOT_FOUND for a
 * 3xx or 4xx (try the next location; *status says which); else the
 * failure.
 *
 * A redirect within the URL's origin is followed (MAX_META_REDIRECTS):
 * RFC 8414 and 9728 say nothing against it and real deployments send
 * /.well-known/... to the same path with a trailing slash; the document
 * is checked against what was asked for all the same (its `resource`,
 * RFC 9728 section 3.3; its `issuer`, RFC 8414 section 3.3), whatever
 * URL served it. One to another origin is not: that host would choose
 * the authorization server the user signs in to, and neither RFC
 * provides for it. Then, as any other 3xx, it says "not here", as the
 * spec's ordered list of locations lets the next one answer (a server
 * that moved its PRM to the root still serves it there). A 5xx or no
 * answer stops discovery instead:
 * the PRM's next location after the last is the 2025-03-26 way, which
 * would take the MCP server's own origin for its authorization server
 * and send the user to sign in there, and an authorization server's
 * 503 is better said than hidden behind "not found" (the TypeScript SDK
 * throws on it too). */
static hl_status fetch_meta(hl__oauth *o, const char *what, const char *first, cJSON **json, long *status) {
  char *hop = NULL; /* the URL redirected to, if any */
  hl_status st = HL_OK;
  for (int hops = 0;; hops++) {
    const char *url = hop ? hop : first;
    *status = 0;
    if (!hl__url_secure(url)) {
      st = meta_fail(o, HL_ERR_AUTH, "%s at %s: not https:// (only loopback hosts may use http://)", what, url);
      break;
    }
    char *location = NULL;
    st = request(o, url, NULL, NULL, NULL, NULL, status, json, &location);
    if (st != HL_OK) {
      st = meta_fail(o, st, "%s at %s: %s", what, url, hl_last_error());
      break;
    }
    bool moved = *status == 301 || *status == 302 || *status == 303 || *status == 307 || *status == 308;
    char *next = moved && hops < MAX_META_REDIRECTS ? same_origin(url, location) : NULL;
    free(location);
    if (!next) {
      st = check_meta_answer(o, what, url, json, *status);
      break;
    }
    cJSON_Delete(*json);
    *json = NULL;
    free(hop);
    hop = next;
  }
  free(hop);
  return st;
}

/* Step 1: the PRM. HL_ERR_NOT_FOUND when there is none (a 2025-03-26
 * server), with *json NULL. */
static hl_status find_prm(hl__oauth *o, const char *server_url, const char *prm_url, char **where,
                          cJSON **json) {
  *json = NULL;
  *where = NULL;
  if (prm_url) {
    long status;
    hl_status st = fetch_meta(o, "protected resource metadata", prm_url, json, &status);
    if (st == HL_ERR_NOT_FOUND)
      return meta_fail(o, HL_ERR_AUTH, "protected resource metadata at %s: HTTP %ld (the server's "
                       "WWW-Authenticate named it)", prm_url, status);
    if (st == HL_OK && !(*where = strdup(prm_url))) st = hl__oom();
    return st;
  }
  char *origin, *path;
  if (!hl__url_split(server_url, &origin, &path)) return meta_fail(o, HL_ERR_AUTH, "bad server URL %s", server_url);
  size_t plen = strlen(path);
  while (plen && path[plen - 1] == '/') path[--plen] = '\0';
  /* RFC 9728 section 3.1 puts the well-known string between the host and
   * the path and/or query: the server URL's query stays on its location
   * (not on MCP's root fallback, which is no derivation of the URL). */
  char *q = hl__url_query(server_url);
  char *path_query = q ? hl__concat(path, "", q) : NULL;
  free(q);
  if (!path_query) {
    free(origin);
    free(path);
    return hl__oom();
  }
  hl_status st = HL_ERR_NOT_FOUND;
  for (int i = plen ? 0 : 1; i < 2 && st == HL_ERR_NOT_FOUND; i++) {
    bool derived = i == 0 || !plen;
    char *url = hl__concat(origin, "/.well-known/oauth-protected-resource", derived ? path_query : "");
    if (!url) {
      st = hl__oom();
      break;
    }
    long status;
    st = fetch_meta(o, "protected resource metadata", url, json, &status);
    if (st == HL_OK) *where = url;
    else free(url);
  }
  free(origin);
  free(path);
  free(path_query);
  return st;
}

/* Step 2 (and 3's metadata): the authorization server's metadata for
 * `issuer` into *out. `legacy`: the 2025-03-26 way (root locations, issuer
 * only of the same origin; HL_ERR_NOT_FOUND when there is none). */
static hl_status find_as(hl__oauth *o, const char *issuer, bool legacy, hl__oauth_meta *out) {
  if (!hl__url_secure(issuer))
    return meta_fail(o, HL_ERR_AUTH, "authorization server %s: not https:// (only loopback hosts may use http://)",
                     issuer);
  char *origin, *path;
  if (!hl__url_split(issuer, &origin, &path)) return meta_fail(o, HL_ERR_AUTH, "bad authorization server URL %s", issuer);
  size_t plen = strlen(path);
  while (plen && path[plen - 1] == '/') path[--plen] = '\0';
  if (legacy) path[0] = '\0';
  char *urls[3] = {0};
  if (path[0]) {
    urls[0] = hl__concat(origin, "/.well-known/oauth-authorization-server", path);
    urls[1] = hl__concat(origin, "/.well-known/openid-configuration", path);
    char *base = hl__concat(origin, "", path);
    urls[2] = base ? hl__concat(base, "", "/.well-known/openid-configuration") : NULL;
    free(base);
  } else {
    urls[0] = hl__concat(origin, "", "/.well-known/oauth-authorization-server");
    urls[1] = hl__concat(origin, "", "/.well-known/openid-configuration");
  }
  int n = path[0] ? 3 : 2;
  hl_status st = HL_ERR_NOT_FOUND;
  cJSON *j = NULL;
  const char *where = NULL;
  for (int i = 0; i < n && st == HL_ERR_NOT_FOUND; i++) {
    if (!urls[i]) {
      st = hl__oom();
      break;
    }
    long status;
    st = fetch_meta(o, "authorization server metadata", urls[i], &j, &status);
    where = urls[i];
  }
  if (st == HL_ERR_NOT_FOUND && !legacy)
    st = meta_fail(o, HL_ERR_AUTH, "authorization server metadata for %s: not found at %s%s%s", issuer,
                   urls[0], n > 1 ? " nor at " : "", n > 1 ? urls[n - 1] : "");
  if (st == HL_OK) {
    const char *iss = str(j, "issuer");
    char *io = NULL, *ip = NULL;
    bool iss_ok = iss && (legacy ? hl__url_split(iss, &io, &ip) && strcmp(io, origin) == 0 : same_issuer(iss, issuer));
    free(io);
    free(ip);
    const char *az = str(j, "authorization_endpoint"), *tk = str(j, "token_endpoint");
    const char *reg = str(j, "registration_endpoint");
    if (!iss_ok) {
      st = meta_fail(o, HL_ERR_AUTH, "authorization server metadata at %s: issuer mismatch (\"%.200s\", expected %s)",
                     where, iss ? iss : "(none)", issuer);
    } else if (!az || !tk) {
      st = meta_fail(o, HL_ERR_AUTH, "authorization server metadata at %s: no %s", where,
                     az ? "token_endpoint" : "authorization_endpoint");
    } else if (!o->client_credentials && !o->assertion && !lists(j, "code_challenge_methods_supported", "S256")) {
      st = meta_fail(o, HL_ERR_AUTH, "authorization server metadata at %s: code_challenge_methods_supported does "
                     "not list S256 (PKCE is required)", where);
    } else if (!hl__url_secure(az) || !hl__url_secure(tk) || (reg && !hl__url_secure(reg))) {
      st = meta_fail(o, HL_ERR_AUTH, "authorization server metadata at %s: an endpoint is not https:// "
                     "(only loopback hosts may use http://)", where);
    } else {
      out->issuer = strdup(iss);
      out->authorization_endpoint = strdup(az);
      out->token_endpoint = strdup(tk);
      out->registration_endpoint = reg ? strdup(reg) : NULL;
      if (!out->issuer || !out->authorization_endpoint || !out->token_endpoint || (reg && !out->registration_endpoint))
        st = hl__oom();
      out->auth_methods = (lists(j, "token_endpoint_auth_methods_supported", "none") ? HL__AUTH_NONE : 0) |
                          (lists(j, "token_endpoint_auth_methods_supported", "client_secret_basic") ? HL__AUTH_BASIC : 0) |
                          (lists(j, "token_endpoint_auth_methods_supported", "client_secret_post") ? HL__AUTH_POST : 0) |
                          (lists(j, "token_endpoint_auth_methods_supported", "private_key_jwt") ? HL__AUTH_JWT : 0);
      const char *algs = "token_endpoint_auth_signing_alg_values_supported";
      out->jwt_alg_ok = !cJSON_GetObjectItemCaseSensitive(j, algs) || (o->signing_alg && lists(j, algs, o->signing_alg));
      out->cimd = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "client_id_metadata_document_supported"));
      out->issuer_known = true;
      out->iss_param = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "authorization_response_iss_parameter_supported"));
      out->offline_access = lists(j, "scopes_supported", "offline_access");
    }
  }
  cJSON_Delete(j);
  for (int i = 0; i < 3; i++) free(urls[i]);
  free(origin);
  free(path);
  return st;
}

/* Step 3 without metadata: the 2025-03-26 default endpoints. */
static hl_status legacy_defaults(const char *origin, hl__oauth_meta *out) {
  out->issuer = strdup(origin);
  out->authorization_endpoint = hl__concat(origin, "", "/authorize");
  out->token_endpoint = hl__concat(origin, "", "/token");
  out->registration_endpoint = hl__concat(origin, "", "/register");
  if (!out->issuer || !out->authorization_endpoint || !out->token_endpoint || !out->registration_endpoint)
    return hl__oom();
  return HL_OK;
}

/* The server's URL as a resource indicator, MCP 2025-11-25's canonical
 * server URI: no fragment, scheme and host lowercased, no default port
 * (RFC 8707 section 2), and no trailing slash (the spec's SHOULD: which
 * slash a server deems significant cannot be known here, and a 2025-03-26
 * server checks no audience). The query stays: RFC 8707 allows one where
 * it names the resource (https://host/mcp?tenant=a), as the TypeScript
 * SDK keeps it; tokens for two tenants must not look alike. */
static char *canonical(const char *server_url) {
  char *origin, *path;
  if (!hl__url_split(server_url, &origin, &path)) return NULL;
  size_t plen = strlen(path);
  while (plen && path[plen - 1] == '/') path[--plen] = '\0';
  char *q = hl__url_query(server_url);
  char *r = q ? hl__concat(origin, path, q) : NULL;
  free(q);
  free(origin);
  free(path);
  return r;
}

hl_status hl__oauth_discover(hl__oauth *o, const char *server_url, const char *prm_url, hl__oauth_meta *out) {
  memset(out, 0, sizeof *out);
  out->jwt_alg_ok = true; /* no metadata (2025-03-26 defaults) lists no algs */
  char *where = NULL;
  cJSON *prm = NULL;
  hl_status st = find_prm(o, server_url, prm_url, &where, &prm);
  if (st == HL_ERR_NOT_FOUND) {
    /* 2025-03-26: the server's origin is its authorization server. */
    char *origin = NULL, *path = NULL;
    if (!hl__url_split(server_url, &origin, &path)) return meta_fail(o, HL_ERR_AUTH, "bad server URL %s", server_url);
    free(path);
    st = find_as(o, origin, true, out);
    if (st == HL_ERR_NOT_FOUND) st = legacy_defaults(origin, out);
    free(origin);
    if (st == HL_OK && !(out->resource = canonical(server_url))) st = hl__oom();
    if (st != HL_OK) hl__oauth_meta_clear(out);
    return st;
  }
  if (st != HL_OK) return st;
  const char *resource = str(prm, "resource");
  const cJSON *servers = cJSON_GetObjectItemCaseSensitive(prm, "authorization_servers");
  const cJSON *first = cJSON_IsArray(servers) ? cJSON_GetArrayItem(servers, 0) : NULL;
  if (!resource || !resource_matches(resource, server_url)) {
    st = meta_fail(o, HL_ERR_AUTH, "protected resource metadata at %s: resource \"%.200s\" does not match the server's URL %s",
                   where, resource ? resource : "(none)", server_url);
  } else if (!cJSON_IsString(first) || !first->valuestring[0]) {
    st = meta_fail(o, HL_ERR_AUTH, "protected resource metadata at %s: no authorization_servers", where);
  } else {
    st = find_as(o, first->valuestring, false, out);
    if (st == HL_OK) {
      out->resource = strdup(resource);
      out->prm_scopes = joined(prm, "scopes_supported");
      if (!out->resource) st = hl__oom();
    }
  }
  if (st != HL_OK) hl__oauth_meta_clear(out);
  cJSON_Delete(prm);
  free(where);
  return st;
}
