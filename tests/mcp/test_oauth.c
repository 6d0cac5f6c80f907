/*
 * tests/mcp/test_oauth.c - MCP's OAuth (hl_mcp_set_oauth()) against
 * oauth_server.py, an MCP server and authorization server in one process
 * that misbehaves on request: what the conformance suite does not cover.
 * The happy path with refresh and rotation, the token store across two
 * client objects, each misbehaviour failing with HL_ERR_AUTH (or the
 * cap's HL_ERR_TOO_LARGE) and a message naming the step, and the token's
 * bytes never in hl_mcp_errmsg() nor in events nor sent to the
 * authorization server's endpoints; a config file's "oauth" entry; a
 * hanging token endpoint left at once by hl_agent_cancel() and
 * hl_mcp_free(); the GET stream renewing a revoked token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcp_fixture.h"
#include "oauth_agent.h"

#define REDIRECT "http://127.0.0.1:1/callback"

static int port;
static char url[128];

static cJSON *server(const char *path, const char *body) { return fx_server_json(port, path, body); }

static void mode(const char *name) { cJSON_Delete(server("/__mode", name)); }

/* Counts the authorize callback's calls, then acts as the browser. */
static hl_status counting_agent(hl_mcp *m, const char *auth_url, char **redirect, void *user) {
  (*(int *)user)++;
  return oauth_agent_follow_once(m, auth_url, redirect, NULL);
}

static hl_mcp *client_at(const char *server_url, int *authorizations, hl_mcp_token_load_fn load,
                         hl_mcp_token_save_fn save) {
  hl_mcp *m = hl_mcp_new_http("oauth-test", server_url);
  if (!m) return NULL;
  hl_mcp_set_timeout_ms(m, 10000);
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT, .authorize = counting_agent,
                    .user_data = authorizations, .load_tokens = load, .save_tokens = save};
  if (hl_mcp_set_oauth(m, &o) != HL_OK) {
    hl_mcp_free(m);
    return NULL;
  }
  return m;
}

static hl_mcp *client(int *authorizations, hl_mcp_token_load_fn load, hl_mcp_token_save_fn save) {
  return client_at(url, authorizations, load, save);
}

/* The logged requests whose path starts with `prefix` (a new array). */
static cJSON *requests(const char *prefix) {
  cJSON *log = server("/__log", NULL), *out = cJSON_CreateArray(), *e;
  cJSON_ArrayForEach(e, log) {
    const cJSON *p = cJSON_GetObjectItem(e, "path");
    if (cJSON_IsString(p) && strncmp(p->valuestring, prefix, strlen(prefix)) == 0)
      cJSON_AddItemToArray(out, cJSON_Duplicate(e, 1));
  }
  cJSON_Delete(log);
  return out;
}

static const char *header(const cJSON *req, const char *name) {
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(req, "headers"), name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The last Bearer token the MCP endpoint received (malloc'd) or NULL. */
static char *last_token(void) {
  cJSON *mcp = requests("/mcp");
  char *t = NULL;
  for (int i = cJSON_GetArraySize(mcp) - 1; i >= 0 && !t; i--) {
    const char *a = header(cJSON_GetArrayItem(mcp, i), "authorization");
    if (a && strncmp(a, "Bearer ", 7) == 0) t = strdup(a + 7);
  }
  cJSON_Delete(mcp);
  return t;
}

static int call_ok(hl_mcp *m) {
  cJSON *res = NULL;
  hl_status st = hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL);
  int ok = st == HL_OK && cJSON_IsString(res) && strcmp(res->valuestring, "ok") == 0;
  cJSON_Delete(res);
  return ok;
}

/* Refresh requests so far (bodies of refresh_token grants); into
 * rt_out the refresh token of the one numbered `which` (0 first, -1 the
 * last; "" when there is none). */
static int refreshes_at(int which, char *rt_out, size_t size) {
  cJSON *tok = requests("/as/token"), *e;
  int n = 0;
  rt_out[0] = '\0';
  cJSON_ArrayForEach(e, tok) {
    const char *b = cJSON_GetObjectItem(e, "body")->valuestring;
    if (strstr(b, "grant_type=refresh_token")) {
      const char *rt = strstr(b, "refresh_token=");
      if (which < 0 || which == n) snprintf(rt_out, size, "%.*s", (int)strcspn(rt + 14, "&"), rt + 14);
      n++;
    }
  }
  cJSON_Delete(tok);
  return n;
}

static int refreshes(char *last_rt, size_t size) { return refreshes_at(-1, last_rt, size); }

/* A client connected to the server in `server_mode` after one
 * authorization (NULL on failure, checks failed). */
static hl_mcp *authorized_in(const char *server_mode, int *auths, hl_mcp_token_load_fn load,
                             hl_mcp_token_save_fn save) {
  mode(server_mode);
  hl_mcp *m = client(auths, load, save);
  if (!m || hl_mcp_connect(m) != HL_OK) {
    CHECK(!"connected");
    hl_mcp_free(m);
    return NULL;
  }
  CHECK_INT(*auths, 1);
  return m;
}

/* The same with the well-behaved server. */
static hl_mcp *authorized(int *auths, hl_mcp_token_load_fn load, hl_mcp_token_save_fn save) {
  return authorized_in("ok", auths, load, save);
}

static void authorize_refresh_rotate(void) {
  int auths = 0;
  hl_mcp *m = authorized(&auths, NULL, NULL);
  REQUIRE(m);
  CHECK(call_ok(m));
  char rt1[200] = "", rt2[200] = "";
  int before = refreshes(rt1, sizeof rt1);
  /* The server forgets every access token: the next call's 401 refreshes
   * (no new authorization), twice, each time with the rotated token. */
  cJSON_Delete(server("/__revoke", ""));
  CHECK(call_ok(m));
  CHECK_INT(refreshes(rt1, sizeof rt1), before + 1);
  cJSON_Delete(server("/__revoke", ""));
  CHECK(call_ok(m));
  CHECK_INT(refreshes(rt2, sizeof rt2), before + 2);
  CHECK(strcmp(rt1, rt2) != 0);
  CHECK_INT(auths, 1);
  /* The token went to the MCP endpoint only: never to the authorization
   * server's endpoints or its metadata. */
  cJSON *all = requests("/"), *e;
  cJSON_ArrayForEach(e, all) {
    const char *a = header(e, "authorization");
    if (a && strncmp(a, "Bearer ", 7) == 0) CHECK_STR(cJSON_GetObjectItem(e, "path")->valuestring, "/mcp");
  }
  cJSON_Delete(all);
  hl_mcp_free(m);
}

static void *call_thread(void *m) { return (void *)(intptr_t)call_ok(m); }

/* Several calls meet the 401 of a revoked token at once: one refresh
 * serves them all (the others see the renewed token and send again). */
static void concurrent_401s(void) {
  int auths = 0;
  hl_mcp *m = authorized(&auths, NULL, NULL);
  REQUIRE(m);
  char rt[200];
  int before = refreshes(rt, sizeof rt);
  cJSON_Delete(server("/__revoke", ""));
  pthread_t t[4];
  for (int i = 0; i < 4; i++) REQUIRE(pthread_create(&t[i], NULL, call_thread, m) == 0);
  for (int i = 0; i < 4; i++) {
    void *ok = NULL;
    pthread_join(t[i], &ok);
    CHECK(ok != NULL);
  }
  CHECK_INT(refreshes(rt, sizeof rt), before + 1);
  CHECK_INT(auths, 1);
  hl_mcp_free(m);
}

/* The token store: one text per server URL. */
static char *stored;
static int saves;

static hl_status load(hl_mcp *m, const char *server_url, char **out, void *user) {
  (void)m, (void)user;
  CHECK_STR(server_url, url);
  *out = stored ? strdup(stored) : NULL;
  return HL_OK;
}

static void save(hl_mcp *m, const char *server_url, const char *text, void *user) {
  (void)m, (void)user;
  CHECK_STR(server_url, url);
  free(stored);
  stored = strdup(text);
  saves++;
}

static void token_store_round_trip(void) {
  int auths = 0;
  hl_mcp *a = authorized(&auths, load, save);
  REQUIRE(a);
  CHECK(saves >= 1);
  char *token_a = last_token();
  hl_mcp_free(a);
  REQUIRE(stored && token_a);
  CHECK(strstr(stored, token_a) != NULL);
  /* A second client object (as another process would) starts with the
   * stored token: no authorization, the same token on the wire. */
  int auths_b = 0;
  hl_mcp *b = client(&auths_b, load, save);
  REQUIRE(b);
  REQUIRE(hl_mcp_connect(b) == HL_OK);
  CHECK(call_ok(b));
  CHECK_INT(auths_b, 0);
  char *token_b = last_token();
  CHECK_STR(token_b, token_a);
  /* Revoked: the stored refresh token renews it, and the store learns. */
  int saves_before = saves;
  cJSON_Delete(server("/__revoke", ""));
  CHECK(call_ok(b));
  CHECK_INT(auths_b, 0);
  CHECK_INT(saves, saves_before + 1);
  hl_mcp_free(b);
  free(token_a);
  free(token_b);
  free(stored);
  stored = NULL;
}

/* A store whose token would break the request's header (a line break
 * adds a header of the file's choosing): not used, authorized anew. */
static void tampered_store(void) {
  mode("ok");
  stored = strdup("{\"access_token\":\"abc\\r\\nX-Injected: yes\",\"refresh_token\":\"r\"}");
  int auths = 0;
  hl_mcp *m = client(&auths, load, save);
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  CHECK(call_ok(m));
  CHECK_INT(auths, 1);
  cJSON *mcp = requests("/mcp"), *e;
  cJSON_ArrayForEach(e, mcp) CHECK(header(e, "x-injected") == NULL);
  cJSON_Delete(mcp);
  hl_mcp_free(m);
  free(stored);
  stored = NULL;
}

static void misbehaving_servers(void) {
  struct {
    const char *mode;
    hl_status st;
    const char *says[2];
  } cases[] = {
      {"garbage_prm", HL_ERR_AUTH, {"protected resource metadata at http://127.0.0.1:", "not a JSON object"}},
      {"oversized_meta", HL_ERR_TOO_LARGE, {"authorization server metadata at http://127.0.0.1:", ""}},
      {"issuer_mismatch", HL_ERR_AUTH, {"authorization server metadata at", "issuer mismatch"}},
      {"nul_issuer", HL_ERR_AUTH, {"authorization server metadata at", "not a JSON object"}},
      {"prm_mismatch", HL_ERR_AUTH, {"protected resource metadata at", "does not match the server's URL"}},
      {"no_s256", HL_ERR_AUTH, {"code_challenge_methods_supported", "S256"}},
      {"s256_object", HL_ERR_AUTH, {"code_challenge_methods_supported", "S256"}},
      {"insecure_endpoint", HL_ERR_AUTH, {"authorization server metadata at", "not https://"}},
      {"state_mismatch", HL_ERR_AUTH, {"authorization:", "state does not match"}},
      {"token_500", HL_ERR_AUTH, {"token request at http://127.0.0.1:", "HTTP 500"}},
      {"wrong_iss", HL_ERR_AUTH, {"authorization:", "iss \"https://evil.example/as\" is not the"}},
      {"iss_missing", HL_ERR_AUTH, {"authorization:", "the redirect has no iss"}},
      {"iss", HL_OK, {"", ""}},
      /* RFC 8414 3.3: the issuer asked for, identical; only an origin's
       * "/" and empty path are one (RFC 3986 6.2.3) */
      {"issuer_slash", HL_ERR_AUTH, {"authorization server metadata at", "issuer mismatch"}},
      {"root_issuer", HL_OK, {"", ""}},
      {"root_issuer_slash", HL_OK, {"", ""}},
      /* a redirect to nothing (a 404) is "not here": the next location
       * answers; a 5xx stops */
      {"prm_moved", HL_OK, {"", ""}},
      {"as_moved", HL_OK, {"", ""}},
      {"prm_503", HL_ERR_AUTH, {"protected resource metadata at", "HTTP 503"}},
      /* a redirect within the origin is followed (a trailing slash added,
       * a relative Location); one to another origin is "not here" */
      {"prm_slash", HL_OK, {"", ""}},
      {"as_slash", HL_OK, {"", ""}},
      /* the final answer's challenge, not an interim 1xx's */
      {"continue_challenge", HL_OK, {"", ""}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    mode(cases[i].mode);
    int auths = 0;
    hl_mcp *m = client(&auths, NULL, NULL);
    REQUIRE(m);
    cJSON *tok_before = requests("/as/token");
    int tokens_before = cJSON_GetArraySize(tok_before);
    cJSON_Delete(tok_before);
    hl_status st = hl_mcp_connect(m);
    if (st != cases[i].st) fprintf(stderr, "mode %s: %s\n", cases[i].mode, hl_mcp_errmsg(m));
    CHECK_INT(st, cases[i].st);
    for (int k = 0; k < 2; k++) CHECK_CONTAINS(hl_mcp_errmsg(m), cases[i].says[k]);
    /* metadata that fails its checks stops the flow before the user is
     * asked; a redirect's iss is checked before its code is used */
    bool mixed_up = strcmp(cases[i].mode, "wrong_iss") == 0 || strcmp(cases[i].mode, "iss_missing") == 0;
    bool discovery = cases[i].st != HL_OK && strcmp(cases[i].mode, "state_mismatch") != 0 &&
                     strcmp(cases[i].mode, "token_500") != 0 && !mixed_up;
    CHECK_INT(auths, discovery ? 0 : 1);
    if (cases[i].st != HL_OK) CHECK_CONTAINS(hl_mcp_errmsg(m), "mcp server \"oauth-test\"");
    /* a code from a mixed-up redirect never reaches the token endpoint */
    cJSON *tok = requests("/as/token");
    if (mixed_up) CHECK_INT(cJSON_GetArraySize(tok), tokens_before);
    cJSON_Delete(tok);
    hl_mcp_free(m);
  }
  mode("ok");
}

/* A metadata redirect to another origin ("localhost" for "127.0.0.1")
 * is not followed: that origin's document would choose the authorization
 * server the user signs in to; nor one more than 3 in a row. */
static void metadata_redirect_keeps_origin(void) {
  mode("prm_other_origin");
  int auths = 0;
  hl_mcp *m = client(&auths, NULL, NULL);
  REQUIRE(m);
  hl_mcp_connect(m); /* without a PRM, the 2025-03-26 way, whatever it gives */
  cJSON *other = requests("/other-origin-prm");
  CHECK_INT(cJSON_GetArraySize(other), 0);
  cJSON_Delete(other);
  CHECK(strstr(hl_mcp_errmsg(m), "evil.example") == NULL);
  hl_mcp_free(m);
  /* A location that redirects to itself is asked 1 + 3 times, then it
   * is "not here". */
  mode("prm_loop");
  m = client(&auths, NULL, NULL);
  REQUIRE(m);
  cJSON *before = requests("/.well-known/oauth-protected-resource/mcp");
  hl_mcp_connect(m);
  cJSON *after = requests("/.well-known/oauth-protected-resource/mcp");
  CHECK_INT(cJSON_GetArraySize(after) - cJSON_GetArraySize(before), 4);
  cJSON_Delete(before);
  cJSON_Delete(after);
  hl_mcp_free(m);
  mode("ok");
}

/* Answers that quote the token back must not bring it into messages; a
 * redirect to another host is not followed with it. */
static void token_stays_secret(void) {
  mode("ok");
  int auths = 0;
  fx_events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(fx_events_fn, &ev);
  hl_mcp *m = client(&auths, NULL, NULL);
  REQUIRE(m && obs);
  hl_mcp_add_observer(m, obs); /* before connect: it sees the flow's events too */
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char *token = last_token();
  REQUIRE(token);
  const char *modes[] = {"forbid_echo", "html_echo", "redirect_elsewhere"};
  for (int i = 0; i < 3; i++) {
    mode(modes[i]);
    cJSON *res = NULL;
    CHECK(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL) != HL_OK);
    cJSON_Delete(res);
    CHECK(strstr(hl_mcp_errmsg(m), token) == NULL);
    CHECK(strstr(hl_last_error(), token) == NULL);
    /* not even its first bytes, where the message cuts the body */
    char head[12];
    snprintf(head, sizeof head, "%s", token);
    CHECK(strstr(hl_mcp_errmsg(m), head) == NULL);
    CHECK(strstr(hl_last_error(), head) == NULL);
  }
  CHECK_INT(fx_events_count(&ev, token), 0);
  cJSON *elsewhere = requests("/elsewhere");
  CHECK_INT(cJSON_GetArraySize(elsewhere), 0);
  cJSON_Delete(elsewhere);
  mode("ok");
  hl_mcp_free(m);
  hl_observer_unref(obs);
  fx_events_clear(&ev);
  free(token);
}

/* The value of form field `name` in the last request to `path` that
 * has one (into buf; "" when none). */
static void last_form_value(const char *path, const char *name, char *buf, size_t size) {
  cJSON *reqs = requests(path), *e;
  size_t n = strlen(name);
  buf[0] = '\0';
  cJSON_ArrayForEach(e, reqs) {
    const char *body = cJSON_GetObjectItem(e, "body")->valuestring;
    for (const char *p = body; p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
      if (strncmp(p, name, n) == 0 && p[n] == '=') snprintf(buf, size, "%.*s", (int)strcspn(p + n + 1, "&"), p + n + 1);
  }
  cJSON_Delete(reqs);
}

static void check_secret_absent(hl_mcp *m, const char *secret) {
  if (!secret[0]) return;
  CHECK(strstr(hl_mcp_errmsg(m), secret) == NULL);
  CHECK(strstr(hl_last_error(), secret) == NULL);
}

/* Servers that quote back what they were sent: the token endpoint's
 * error_description (the code, the PKCE verifier) and the MCP server's
 * challenge (the access token) reach the message only redacted; what
 * they said otherwise stays. (A refused refresh's message is replaced by
 * the new authorization's that follows it, so it is not seen here.) */
static void echoed_secrets(void) {
  mode("token_echo");
  int auths = 0;
  hl_mcp *m = client(&auths, NULL, NULL);
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
  char code[200], verifier[200];
  last_form_value("/as/token", "code", code, sizeof code);
  last_form_value("/as/token", "code_verifier", verifier, sizeof verifier);
  CHECK(strstr(code, "%2F%2B%3D") && strlen(verifier) >= 43);
  check_secret_absent(m, code); /* as the form carried it */
  code[strcspn(code, "%")] = '\0';
  check_secret_absent(m, code); /* and any part of it decoded */
  check_secret_absent(m, verifier);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "invalid_grant");
  CHECK_CONTAINS(hl_mcp_errmsg(m), "[REDACTED]");
  hl_mcp_free(m);

  /* the MCP server's challenge quoting the token it refuses, to the end */
  mode("challenge_echo");
  auths = 0;
  m = client(&auths, NULL, NULL);
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "giving up");
  char *token = last_token();
  REQUIRE(token);
  check_secret_absent(m, token);
  free(token);
  hl_mcp_free(m);
  mode("ok");
}

/* expires_in as a JSON string ("10", which some servers send) is an
 * expiry like the number: the token is refreshed before it runs out. */
static void expiry_as_string(void) {
  int auths = 0;
  hl_mcp *m = authorized_in("expiry_string", &auths, NULL, NULL);
  REQUIRE(m);
  char rt[200];
  int before = refreshes(rt, sizeof rt);
  CHECK(call_ok(m));
  CHECK(refreshes(rt, sizeof rt) > before);
  CHECK_INT(auths, 1);
  hl_mcp_free(m);
  mode("ok");
}

/* A refresh that fails for a while (503) is no refusal: the refresh
 * token stays and a later request refreshes with it. */
static void transient_refresh_failure(void) {
  int auths = 0;
  hl_mcp *m = authorized_in("short_expiry", &auths, NULL, NULL);
  REQUIRE(m);
  char rt[200], failed[200], next[200];
  int before = refreshes(rt, sizeof rt);
  cJSON_Delete(server("/__fail_refresh", ""));
  CHECK(call_ok(m)); /* the refresh fails; the old token still works */
  CHECK(call_ok(m)); /* refreshed now */
  refreshes_at(before, failed, sizeof failed);
  refreshes_at(before + 1, next, sizeof next);
  CHECK(failed[0]);
  CHECK_STR(next, failed); /* with the refresh token the 503 met */
  CHECK_INT(auths, 1);
  hl_mcp_free(m);
  mode("ok");
}

/* The same met on a 401 (the access token revoked): a 503, a 429 or no
 * answer within the time limit ends the request with that error, said as
 * such; the user is not asked to sign in again, and the next request
 * refreshes with the refresh token kept. */
static void transient_refresh_failure_on_401(void) {
  struct {
    const char *how;
    hl_status st;
    const char *says;
  } cases[] = {{"503", HL_ERR_HTTP, "HTTP 503"}, {"429", HL_ERR_RATE_LIMIT, "HTTP 429"},
               {"hang", HL_ERR_TIMEOUT, "token refresh at http://127.0.0.1:"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int auths = 0;
    hl_mcp *m = client(&auths, NULL, NULL);
    REQUIRE(m);
    hl_mcp_set_timeout_ms(m, 3000); /* the authorization server's too: "hang" answers after 6 s */
    CHECK_INT(hl_mcp_connect(m), HL_OK);
    char failed[200], next[200];
    int before = refreshes(failed, sizeof failed);
    cJSON_Delete(server("/__fail_refresh", cases[i].how));
    cJSON_Delete(server("/__revoke", ""));
    cJSON *res = NULL;
    hl_status st = hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL);
    cJSON_Delete(res);
    if (st != cases[i].st) fprintf(stderr, "%s: %s\n", cases[i].how, hl_mcp_errmsg(m));
    CHECK_INT(st, cases[i].st);
    CHECK_CONTAINS(hl_mcp_errmsg(m), cases[i].says);
    CHECK_INT(auths, 1);
    CHECK(call_ok(m));
    CHECK_INT(auths, 1);
    refreshes_at(before, failed, sizeof failed);
    refreshes_at(before + 1, next, sizeof next);
    CHECK(failed[0]);
    CHECK_STR(next, failed);
    hl_mcp_free(m);
  }
}

/* Without resource_metadata in the challenge, the PRM's well-known URL
 * keeps the server URL's query (RFC 9728 section 3.1: the well-known
 * string goes between the host and the path and/or query). */
static void discovery_keeps_query(void) {
  mode("no_prm_hint");
  char with_query[200];
  snprintf(with_query, sizeof with_query, "%s?tenant=a", url);
  int auths = 0;
  hl_mcp *m = client_at(with_query, &auths, NULL, NULL);
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  cJSON *prm = requests("/.well-known/oauth-protected-resource");
  const cJSON *first = cJSON_GetArrayItem(prm, cJSON_GetArraySize(prm) - 1);
  REQUIRE(first);
  CHECK_STR(cJSON_GetObjectItem(first, "path")->valuestring, "/.well-known/oauth-protected-resource/mcp?tenant=a");
  cJSON_Delete(prm);
  hl_mcp_free(m);
  mode("ok");
}

/* A 2025-03-26 server (no PRM) at a URL with a trailing slash and a
 * query: the resource indicator is MCP 2025-11-25's canonical server URI,
 * without the slash, with the query (RFC 8707 allows it where it names
 * the resource), the same in the authorization and the token request. */
static void legacy_resource(void) {
  mode("legacy");
  char server_url[200], want[300];
  snprintf(server_url, sizeof server_url, "%s/?tenant=a", url);
  snprintf(want, sizeof want, "resource=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fmcp%%3Ftenant%%3Da", port);
  int auths = 0;
  hl_mcp *m = client_at(server_url, &auths, NULL, NULL);
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  CHECK_INT(auths, 1);
  cJSON *az = requests("/as/authorize"), *tok = requests("/as/token");
  const cJSON *a = cJSON_GetArrayItem(az, cJSON_GetArraySize(az) - 1);
  const cJSON *t = cJSON_GetArrayItem(tok, cJSON_GetArraySize(tok) - 1);
  REQUIRE(a && t);
  const char *texts[2] = {cJSON_GetObjectItem(a, "path")->valuestring, cJSON_GetObjectItem(t, "body")->valuestring};
  for (int i = 0; i < 2; i++) {
    const char *r = strstr(texts[i], want);
    CHECK(r && (r[strlen(want)] == '&' || r[strlen(want)] == '\0'));
    if (!r) fprintf(stderr, "no %s in %s\n", want, texts[i]);
  }
  cJSON_Delete(az);
  cJSON_Delete(tok);
  hl_mcp_free(m);
  mode("ok");
}

static void bad_options(void) {
  hl_mcp *m = hl_mcp_new_http("x", url);
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT};
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID); /* no authorize */
  o.authorize = counting_agent;
  o.size = 8;
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o.size = sizeof o;
  o.client_metadata_url = "http://example.com/cimd.json";
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o.client_metadata_url = NULL;
  o.load_tokens = load;
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID); /* load without save */
  o.load_tokens = NULL;
  o.client_credentials = true; /* needs a client_id and a secret */
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o.client_id = "id";
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o.client_secret = "secret";
  o.redirect_uri = NULL; /* no user step for it */
  o.authorize = NULL;
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
  o = (hl_mcp_oauth){.size = sizeof o, .redirect_uri = REDIRECT, .authorize = counting_agent};
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK); /* replaces */
  hl_mcp_free(m);
  const char *argv[] = {"true", NULL};
  hl_mcp *s = hl_mcp_new_stdio("s", argv);
  CHECK_INT(hl_mcp_set_oauth(s, &o), HL_ERR_INVALID);
  hl_mcp_free(s);
}

/* Query parameter `name` of `path`, form-decoded (malloc'd; NULL: none). */
static char *query_param(const char *path, const char *name) {
  size_t n = strlen(name);
  for (const char *p = strchr(path, '?'); p && *p; p = strchr(p, '&')) {
    p++;
    if (strncmp(p, name, n) != 0 || p[n] != '=') continue;
    p += n + 1;
    size_t len = strcspn(p, "&#");
    char *out = malloc(len + 1), *o = out;
    unsigned c;
    for (size_t i = 0; out && i < len; i++) {
      if (p[i] == '+') *o++ = ' ';
      else if (p[i] == '%' && i + 2 < len && sscanf(p + i + 1, "%2x", &c) == 1) *o++ = (char)c, i += 2;
      else *o++ = p[i];
    }
    if (out) *o = '\0';
    return out;
  }
  return NULL;
}

/* The last logged request whose path starts with `prefix` (a copy; NULL:
 * none). */
static cJSON *last_request(const char *prefix) {
  cJSON *all = requests(prefix);
  int n = cJSON_GetArraySize(all);
  cJSON *r = n ? cJSON_Duplicate(cJSON_GetArrayItem(all, n - 1), 1) : NULL;
  cJSON_Delete(all);
  return r;
}

/* The scope the last authorization request asked for (malloc'd; NULL:
 * none). */
static char *last_authorize_scope(void) {
  cJSON *r = last_request("/as/authorize");
  char *scope = r ? query_param(cJSON_GetObjectItem(r, "path")->valuestring, "scope") : NULL;
  cJSON_Delete(r);
  return scope;
}

/* MCP 2026-07-28 (SEP-837): registration names the application_type,
 * native for a loopback redirect_uri, web for a remote https one, or
 * the one given; and refresh_token among the grant types (SEP-2207). */
static void registration_application_type(void) {
  const char *redirects[] = {REDIRECT, "https://app.example.com/callback", REDIRECT};
  const char *given[] = {NULL, NULL, "web"}, *want[] = {"native", "web", "web"};
  mode("ok");
  for (int i = 0; i < 3; i++) {
    hl_mcp *m = hl_mcp_new_http("oauth-test", url);
    REQUIRE(m);
    int auths = 0;
    hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = redirects[i], .authorize = counting_agent,
                      .user_data = &auths, .application_type = given[i]};
    CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
    CHECK_INT(hl_mcp_connect(m), HL_OK);
    CHECK_INT(auths, 1);
    cJSON *reg = last_request("/as/register");
    REQUIRE(reg);
    cJSON *body = cJSON_Parse(cJSON_GetObjectItem(reg, "body")->valuestring);
    const cJSON *at = cJSON_GetObjectItem(body, "application_type");
    CHECK(cJSON_IsString(at) && strcmp(at->valuestring, want[i]) == 0);
    const cJSON *uris = cJSON_GetObjectItem(body, "redirect_uris");
    CHECK(cJSON_GetArraySize(uris) == 1 && strcmp(cJSON_GetArrayItem(uris, 0)->valuestring, redirects[i]) == 0);
    bool refresh = false;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(body, "grant_types")) refresh |= strcmp(g->valuestring, "refresh_token") == 0;
    CHECK(refresh);
    cJSON_Delete(body);
    cJSON_Delete(reg);
    hl_mcp_free(m);
  }
  /* Only the two values OpenID defines. */
  hl_mcp *m = hl_mcp_new_http("oauth-test", url);
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT, .authorize = counting_agent,
                    .application_type = "desktop"};
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  CHECK(strstr(hl_last_error(), "application_type") != NULL);
  /* A caller built before the field existed: its size ends before it. */
  o.size = offsetof(hl_mcp_oauth, application_type);
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
  hl_mcp_free(m);
}

/* SEP-2207: offline_access is asked for when the authorization server's
 * metadata lists it, with the resource's scopes, and never otherwise. */
static void offline_access_when_listed(void) {
  const char *modes[] = {"ok", "offline"}, *want[] = {"read", "read offline_access"};
  for (int i = 0; i < 2; i++) {
    int auths = 0;
    hl_mcp *m = authorized_in(modes[i], &auths, NULL, NULL);
    REQUIRE(m);
    char *scope = last_authorize_scope();
    CHECK(scope && strcmp(scope, want[i]) == 0);
    free(scope);
    CHECK(call_ok(m));
    hl_mcp_free(m);
  }
  mode("ok");
}

/* Whether any logged request to a path starting with `prefix` carries
 * `text` in its path, body or Authorization header (Basic decoded too
 * would need the secret: the client ids here go in the form). */
static bool sent_to(const char *prefix, const char *text) {
  cJSON *all = requests(prefix), *e;
  bool seen = false;
  cJSON_ArrayForEach(e, all) {
    const char *a = header(e, "authorization");
    seen |= strstr(cJSON_GetObjectItem(e, "path")->valuestring, text) ||
            strstr(cJSON_GetObjectItem(e, "body")->valuestring, text) || (a && strstr(a, text));
  }
  cJSON_Delete(all);
  return seen;
}

/* The client_id of the last authorization request (malloc'd). */
static char *last_authorize_client(void) {
  cJSON *all = requests("/as");
  char *id = NULL;
  for (int i = cJSON_GetArraySize(all) - 1; i >= 0 && !id; i--) {
    const char *path = cJSON_GetObjectItem(cJSON_GetArrayItem(all, i), "path")->valuestring;
    if (strstr(path, "/authorize?")) id = query_param(path, "client_id");
  }
  cJSON_Delete(all);
  return id;
}

/* The number of logged requests to paths starting with `prefix`. */
static int count_requests(const char *prefix) {
  cJSON *all = requests(prefix);
  int n = cJSON_GetArraySize(all);
  cJSON_Delete(all);
  return n;
}

/* SEP-2352: the server moves to another authorization server. The old
 * token's 401 (after a refresh at the old server, whose token the server
 * now refuses too) finds the new issuer in the PRM: the client registers
 * there, and neither its old client_id nor its old refresh token reaches
 * the new server, even when that one issues no refresh token of its
 * own. The store keeps both registrations by issuer: moving
 * back reuses the first one, registering nothing. */
static void authorization_server_migration(void) {
  int auths = 0;
  hl_mcp *m = authorized(&auths, load, save);
  REQUIRE(m);
  CHECK(call_ok(m));
  char *as1_client = last_authorize_client(), *as1_rt = NULL;
  REQUIRE(stored);
  cJSON *first = cJSON_Parse(stored); /* the first server's refresh token */
  const cJSON *v = cJSON_GetObjectItem(first, "refresh_token");
  as1_rt = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
  cJSON_Delete(first);
  REQUIRE(as1_client && as1_rt);
  int as1_regs = count_requests("/as/register"), as2_regs = count_requests("/as2/register");
  mode("as2_no_rt"); /* the new server issues no refresh token */
  CHECK(call_ok(m));
  CHECK_INT(auths, 2);
  CHECK_INT(count_requests("/as2/register"), as2_regs + 1);
  char *as2_client = last_authorize_client();
  CHECK(as2_client && strncmp(as2_client, "as2-client-", 11) == 0);
  CHECK(!sent_to("/as2/", as1_client));
  CHECK(!sent_to("/as2/", as1_rt));
  /* Both identities in the store, each under its issuer. */
  cJSON *st = cJSON_Parse(stored);
  const cJSON *clients = cJSON_GetObjectItem(st, "clients");
  char as1[160], as2[160];
  snprintf(as1, sizeof as1, "http://127.0.0.1:%d/as", port);
  snprintf(as2, sizeof as2, "http://127.0.0.1:%d/as2", port);
  const cJSON *c1 = cJSON_GetObjectItem(cJSON_GetObjectItemCaseSensitive(clients, as1), "client_id");
  const cJSON *c2 = cJSON_GetObjectItem(cJSON_GetObjectItemCaseSensitive(clients, as2), "client_id");
  CHECK(cJSON_IsString(c1) && strcmp(c1->valuestring, as1_client) == 0);
  CHECK(cJSON_IsString(c2) && strcmp(c2->valuestring, as2_client) == 0);
  const cJSON *iss = cJSON_GetObjectItem(st, "issuer");
  CHECK(cJSON_IsString(iss) && strcmp(iss->valuestring, as2) == 0);
  cJSON_Delete(st);
  /* The new server's token revoked: with no refresh token of its own,
   * the client authorizes again; the old server's refresh token (rotated
   * by the refresh the first 401 made there) is not tried at the new. */
  cJSON_Delete(server("/__revoke", ""));
  CHECK(call_ok(m));
  CHECK_INT(auths, 3);
  CHECK(!sent_to("/as2/token", "grant_type=refresh_token")); /* it issued none: any would be another's */
  hl_mcp_free(m);
  /* Back to the first server, from the store (another process): its
   * registration is found by issuer, the second one's never sent there. */
  mode("ok");
  int auths_b = 0;
  hl_mcp *b = client(&auths_b, load, save);
  REQUIRE(b);
  CHECK_INT(hl_mcp_connect(b), HL_OK);
  CHECK(call_ok(b));
  CHECK_INT(auths_b, 1);
  CHECK_INT(count_requests("/as/register"), as1_regs);
  char *back = last_authorize_client();
  CHECK(back && strcmp(back, as1_client) == 0);
  CHECK(!sent_to("/as/", as2_client));
  hl_mcp_free(b);
  free(back);
  free(as1_client);
  free(as2_client);
  free(as1_rt);
  free(stored);
  stored = NULL;
}

/* SEP-2352, pre-registered: a client_id the first authorization server
 * knows is never shown to the one the server moves to; the request
 * fails saying so. */
static void preregistered_client_stays(void) {
  mode("ok");
  hl_mcp *m = hl_mcp_new_http("oauth-test", url);
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 10000);
  int auths = 0;
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT, .authorize = counting_agent, .user_data = &auths,
                    .client_id = "pre-registered-at-as1"};
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  CHECK(call_ok(m));
  mode("as2");
  cJSON *res = NULL;
  CHECK_INT(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL), HL_ERR_AUTH);
  cJSON_Delete(res);
  char as1[160];
  snprintf(as1, sizeof as1, "http://127.0.0.1:%d/as", port);
  const char *msg = hl_mcp_errmsg(m);
  CHECK(strstr(msg, "pre-registered client_id") && strstr(msg, as1) && strstr(msg, "/as2"));
  CHECK(!sent_to("/as2/", "pre-registered-at-as1"));
  CHECK_INT(auths, 1);
  hl_mcp_free(m);
  mode("ok");
}

/* An entry stored before identities were kept by issuer (one flat
 * client_id beside its issuer): the identity is used again at that
 * issuer only, and saved back under it; at another issuer it is never
 * sent (a new registration). */
static void old_store_entry(void) {
  mode("ok");
  for (int i = 0; i < 2; i++) {
    char iss[160];
    if (i == 0) snprintf(iss, sizeof iss, "http://127.0.0.1:%d/as", port);
    else snprintf(iss, sizeof iss, "https://other.example/as");
    char text[400];
    snprintf(text, sizeof text, "{\"access_token\":\"stale\",\"issuer\":\"%s\",\"client_id\":\"old-client-7\","
             "\"auth_method\":\"none\",\"expires_at\":0}", iss);
    free(stored);
    stored = strdup(text);
    int regs = count_requests("/as/register");
    int auths = 0;
    hl_mcp *m = client(&auths, load, save);
    REQUIRE(m);
    CHECK_INT(hl_mcp_connect(m), HL_OK);
    CHECK(call_ok(m));
    CHECK_INT(auths, 1);
    char *used = last_authorize_client();
    if (i == 0) {
      CHECK(used && strcmp(used, "old-client-7") == 0);
      CHECK_INT(count_requests("/as/register"), regs);
      cJSON *st = cJSON_Parse(stored);
      const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(st, "clients"), iss),
                                           "client_id");
      CHECK(cJSON_IsString(c) && strcmp(c->valuestring, "old-client-7") == 0);
      cJSON_Delete(st);
    } else {
      CHECK(used && strcmp(used, "old-client-7") != 0);
      CHECK_INT(count_requests("/as/register"), regs + 1);
    }
    free(used);
    hl_mcp_free(m);
  }
  free(stored);
  stored = NULL;
}

/* ---- the jwt-bearer grant (workload identity, enterprise-managed) ---- */

/* What the assertion callback was asked and gives. */
typedef struct {
  const char *jwt; /* NULL: fails */
  int calls;
  char issuer[160], resource[160];
} assertion_src;

static hl_status give_assertion(hl_mcp *m, const char *issuer, const char *resource, char **jwt, void *user) {
  (void)m;
  assertion_src *a = user;
  a->calls++;
  snprintf(a->issuer, sizeof a->issuer, "%s", issuer);
  snprintf(a->resource, sizeof a->resource, "%s", resource);
  if (!a->jwt) return hl_fail(HL_ERR_IO, "no workload token on this machine");
  *jwt = strdup(a->jwt);
  return HL_OK;
}

/* A client with the jwt-bearer grant (and the identity provider when
 * `idp` is set). */
static hl_mcp *assertion_client(assertion_src *a, bool idp) {
  hl_mcp *m = hl_mcp_new_http("oauth-test", url);
  if (!m) return NULL;
  hl_mcp_set_timeout_ms(m, 10000);
  char idp_url[160];
  snprintf(idp_url, sizeof idp_url, "http://127.0.0.1:%d/idp/token", port);
  hl_mcp_oauth o = {.size = sizeof o, .client_id = "workload-7", .assertion = give_assertion, .user_data = a,
                    .idp_token_endpoint = idp ? idp_url : NULL, .idp_client_id = idp ? "idp-app" : NULL};
  if (hl_mcp_set_oauth(m, &o) != HL_OK) {
    hl_mcp_free(m);
    return NULL;
  }
  return m;
}

/* In the server's mode `mode_name`, a client with the jwt-bearer grant
 * (`idp`: through the identity provider) whose connect gives `want`
 * (checked); NULL when it could not be made. */
static hl_mcp *assertion_connect(const char *mode_name, assertion_src *a, bool idp, hl_status want) {
  mode(mode_name);
  hl_mcp *m = assertion_client(a, idp);
  CHECK(m != NULL);
  if (m) CHECK_INT(hl_mcp_connect(m), want);
  return m;
}

/* The authorization server's issuer and the MCP server's resource. */
static void as_and_resource(char as[160], char res[160]) {
  snprintf(as, 160, "http://127.0.0.1:%d/as", port);
  snprintf(res, 160, "http://127.0.0.1:%d/mcp", port);
}

/* Form field `name` of the last request to `path` (malloc'd; NULL:
 * none). */
static char *last_form(const char *path, const char *name) {
  cJSON *r = last_request(path);
  char *q = NULL, *v = NULL;
  if (r && (q = malloc(strlen(cJSON_GetObjectItem(r, "body")->valuestring) + 2))) {
    sprintf(q, "?%s", cJSON_GetObjectItem(r, "body")->valuestring);
    v = query_param(q, name);
  }
  free(q);
  cJSON_Delete(r);
  return v;
}

/* Each field of `fields` ("name", "value" pairs; value NULL: absent) is
 * what the last request to `path` carried. */
static void check_form(const char *path, const char *const *fields, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    char *v = last_form(path, fields[i]);
    if (fields[i + 1] ? !v || strcmp(v, fields[i + 1]) != 0 : v != NULL) {
      fprintf(stderr, "%s: field %s is \"%s\", expected \"%s\"\n", path, fields[i], v ? v : "(absent)",
              fields[i + 1] ? fields[i + 1] : "(absent)");
      CHECK(!"form field as expected");
    }
    free(v);
  }
}

/* Workload identity federation: the application's JWT goes to the token
 * endpoint as the jwt-bearer grant, field by field; no user step, no
 * registration, no PKCE. */
static void jwt_bearer_grant(void) {
  int regs = count_requests("/as/register"), authz = count_requests("/as/authorize");
  assertion_src a = {.jwt = "eyJ0eXAiOiJKV1QifQ.workload.sig"};
  hl_mcp *m = assertion_connect("ok", &a, false, HL_OK);
  REQUIRE(m);
  CHECK(call_ok(m));
  CHECK_INT(a.calls, 1);
  char as[160], res[160];
  as_and_resource(as, res);
  CHECK_STR(a.issuer, as);
  CHECK_STR(a.resource, res);
  const char *fields[] = {"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", a.jwt,
                          "client_id", "workload-7", "resource", res, "scope", "read", "code", NULL,
                          "code_verifier", NULL, "redirect_uri", NULL};
  check_form("/as/token", fields, sizeof fields / sizeof *fields);
  CHECK_INT(count_requests("/as/register"), regs);
  CHECK_INT(count_requests("/as/authorize"), authz);
  hl_mcp_free(m);
}

/* Refused (or no JWT): HL_ERR_AUTH with the server's words, the JWT not
 * in them, one token request and no other grant tried. */
static void jwt_bearer_refused(void) {
  int tokens = count_requests("/as/token"), authz = count_requests("/as/authorize");
  assertion_src a = {.jwt = "eyJ0eXAiOiJKV1QifQ.refused-workload.sig"};
  hl_mcp *m = assertion_connect("jwt_refuse", &a, false, HL_ERR_AUTH);
  REQUIRE(m);
  const char *msg = hl_mcp_errmsg(m);
  CHECK(strstr(msg, "jwt-bearer grant") && strstr(msg, "invalid_grant"));
  CHECK(!strstr(msg, "refused-workload"));
  CHECK_INT(count_requests("/as/token"), tokens + 1);
  CHECK_INT(count_requests("/as/authorize"), authz);
  hl_mcp_free(m);
  /* The callback fails: its message, no token request. */
  assertion_src none = {0};
  m = assertion_connect("ok", &none, false, HL_ERR_AUTH);
  REQUIRE(m);
  CHECK(strstr(hl_mcp_errmsg(m), "no workload token on this machine") != NULL);
  CHECK_INT(count_requests("/as/token"), tokens + 1);
  hl_mcp_free(m);
}

/* Enterprise-managed authorization: the ID token is exchanged at the
 * identity provider for an ID-JAG (RFC 8693, each field checked), which
 * is the jwt-bearer grant's assertion at the authorization server. */
static void enterprise_token_exchange(void) {
  assertion_src a = {.jwt = "id-token-of-alice"};
  hl_mcp *m = assertion_connect("ok", &a, true, HL_OK);
  REQUIRE(m);
  CHECK(call_ok(m));
  char as[160], res[160];
  as_and_resource(as, res);
  const char *idp[] = {"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange",
                       "requested_token_type", "urn:ietf:params:oauth:token-type:id-jag",
                       "subject_token", "id-token-of-alice",
                       "subject_token_type", "urn:ietf:params:oauth:token-type:id_token",
                       "audience", as, "resource", res, "scope", "read", "client_id", "idp-app"};
  check_form("/idp/token", idp, sizeof idp / sizeof *idp);
  const char *grant[] = {"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                         "assertion", "jag.id-token-of-alice", "client_id", "workload-7", "resource", res};
  check_form("/as/token", grant, sizeof grant / sizeof *grant);
  hl_mcp_free(m);
}

/* A hostile or broken identity provider: each answer fails with
 * HL_ERR_AUTH naming the step, the ID token never in the message, and
 * nothing goes on to the authorization server. */
static void enterprise_idp_failures(void) {
  const char *modes[] = {"idp_refuse", "idp_wrong_type", "idp_no_token"};
  const char *says[] = {"invalid_grant", "is not urn:ietf:params:oauth:token-type:id-jag", "no access_token"};
  for (int i = 0; i < 3; i++) {
    int tokens = count_requests("/as/token");
    assertion_src a = {.jwt = "id-token-of-mallory"};
    hl_mcp *m = assertion_connect(modes[i], &a, true, HL_ERR_AUTH);
    REQUIRE(m);
    const char *msg = hl_mcp_errmsg(m);
    CHECK(strstr(msg, "token exchange at") && strstr(msg, says[i]));
    CHECK(!strstr(msg, "mallory"));
    CHECK_INT(count_requests("/as/token"), tokens);
    hl_mcp_free(m);
  }
  mode("ok");
  /* Options: a client_id is required, the IdP needs the assertion and
   * its client, and https (or loopback). */
  hl_mcp *m = hl_mcp_new_http("x", url);
  assertion_src a = {.jwt = "j"};
  hl_mcp_oauth o = {.size = sizeof o, .assertion = give_assertion, .user_data = &a};
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o.client_id = "c";
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
  o.idp_token_endpoint = "http://idp.example.com/token";
  o.idp_client_id = "app";
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o.idp_token_endpoint = "https://idp.example.com/token";
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_OK);
  o.idp_client_id = NULL;
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID);
  o = (hl_mcp_oauth){.size = sizeof o, .client_id = "c", .idp_token_endpoint = "https://idp.example.com/token",
                     .idp_client_id = "app", .redirect_uri = REDIRECT, .authorize = counting_agent};
  CHECK_INT(hl_mcp_set_oauth(m, &o), HL_ERR_INVALID); /* an IdP without the assertion */
  hl_mcp_free(m);
}

/* The token requests so far (logged when they arrive, before an answer). */
static int token_requests(void) {
  cJSON *t = requests("/as/token");
  int n = cJSON_GetArraySize(t);
  cJSON_Delete(t);
  return n;
}

/* Wait (up to 10 s) until the authorization server got token request
 * number `n`: the client is waiting on it. */
static bool token_request_arrived(int n) {
  for (int i = 0; i < 200; i++) {
    if (token_requests() >= n) return true;
    fx_sleep_ms(50);
  }
  return false;
}

static int64_t ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A connected client whose token was just revoked, with the token
 * endpoint hanging (30 s): the next call's refresh waits on it. */
static hl_mcp *revoked_and_hanging(void) {
  int auths = 0;
  hl_mcp *m = authorized(&auths, NULL, NULL);
  if (!m) return NULL;
  mode("token_hang");
  cJSON_Delete(server("/__revoke", ""));
  return m;
}

/* An agent whose model calls the server's whoami tool once. */
static hl_agent *whoami_agent(hl_mcp *m) {
  hl_agent *a = hl_agent_new("caller");
  hl_provider *p = hl_scripted_new();
  hl_agent_set_provider(a, p);
  hl_scripted_push_tool_call(p, "c1", "whoami", "{}");
  hl_scripted_push_text(p, "not reached");
  hl_provider_unref(p);
  CHECK_INT(hl_mcp_add_to_agent(m, a), HL_OK);
  return a;
}

/* Cancels `agent` once token request number `after_request` arrived, or
 * (0) after `delay_ms`. */
typedef struct canceller {
  hl_agent *agent;
  int after_request;
  long delay_ms;
  struct timespec at;       /* when hl_agent_cancel() was called */
  bool waited;
} canceller;

static void *cancel_later(void *arg) {
  canceller *c = arg;
  if (c->after_request) c->waited = token_request_arrived(c->after_request);
  else fx_sleep_ms(c->delay_ms);
  clock_gettime(CLOCK_MONOTONIC, &c->at);
  hl_agent_cancel(c->agent);
  return NULL;
}

/* Run `a` while `c` cancels it: HL_ERR_CANCELLED within ~1 s of the
 * cancel. */
static void run_cancelled_promptly(hl_agent *a, canceller *c, const char *what) {
  pthread_t th;
  pthread_create(&th, NULL, cancel_later, c);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "who am I?", &answer), HL_ERR_CANCELLED);
  int64_t ms = ms_since(&c->at);
  pthread_join(th, NULL);
  CHECK(answer == NULL);
  fprintf(stderr, "%s: the run ended %lld ms after the cancel\n", what, (long long)ms);
  CHECK(ms < 1000);
}

/* The token was revoked and the token endpoint hangs: the tool call's
 * 401 starts a refresh that waits on it; hl_agent_cancel() from another
 * thread ends the run with HL_ERR_CANCELLED within ~1 s (regression: the
 * request ran to the client's 10 s limit, twice). */
static void run_cancel_ends_token_request(void) {
  hl_mcp *m = revoked_and_hanging();
  REQUIRE(m);
  hl_agent *a = whoami_agent(m);
  canceller c = {.agent = a, .after_request = token_requests() + 1};
  run_cancelled_promptly(a, &c, "run_cancel_ends_token_request");
  CHECK(c.waited);
  mode("ok");
  hl_agent_unref(a);
  hl_mcp_free(m);
}

/* A call on another thread (hl_mcp_call() without a run), waiting on the
 * hanging token endpoint once started. */
typedef struct caller {
  hl_mcp *m;
  hl_status st;
  pthread_t th;
} caller;

static void *call_whoami(void *arg) {
  caller *c = arg;
  cJSON *res = NULL;
  c->st = hl_mcp_call(c->m, NULL, "whoami", NULL, &res, NULL);
  cJSON_Delete(res);
  return NULL;
}

static bool start_waiting_call(caller *c, hl_mcp *m) {
  int before = token_requests();
  *c = (caller){.m = m};
  pthread_create(&c->th, NULL, call_whoami, c);
  return token_request_arrived(before + 1);
}

/* hl_mcp_free() while a call waits on the hanging token endpoint: the
 * request is cancelled, the call fails, free returns within ~1 s. */
static void free_ends_token_request(void) {
  hl_mcp *m = revoked_and_hanging();
  REQUIRE(m);
  caller c;
  CHECK(start_waiting_call(&c, m));
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hl_mcp_free(m);
  int64_t ms = ms_since(&t0);
  pthread_join(c.th, NULL);
  fprintf(stderr, "free_ends_token_request: hl_mcp_free took %lld ms\n", (long long)ms);
  CHECK(ms < 1000);
  CHECK(c.st != HL_OK);
  mode("ok");
}

/* A run whose call waits for another request's flow (a refresh that
 * hangs on the token endpoint) leaves when cancelled, within ~1 s, while
 * that flow goes on (regression: the wait was a mutex, for as long as the
 * other flow took, an authorize callback's minutes included). */
static void run_cancel_ends_wait_for_flow(void) {
  hl_mcp *m = revoked_and_hanging();
  REQUIRE(m);
  caller first; /* holds the flow, waiting on /as/token */
  CHECK(start_waiting_call(&first, m));
  int before = token_requests();
  hl_agent *a = whoami_agent(m);
  /* Cancelled 500 ms into its run: by then its call met the 401 and
   * waits for the first call's flow. */
  canceller c = {.agent = a, .delay_ms = 500};
  run_cancelled_promptly(a, &c, "run_cancel_ends_wait_for_flow");
  CHECK_INT(token_requests(), before); /* it never reached the token endpoint itself */
  hl_mcp_free(m);                      /* ends the first call's flow */
  pthread_join(first.th, NULL);
  CHECK(first.st != HL_OK);
  hl_agent_unref(a);
  mode("ok");
}

/* GET /mcp requests sent with `token` so far. */
static int gets_with(const char *token) {
  cJSON *mcp = requests("/mcp"), *e;
  int n = 0;
  char want[300];
  snprintf(want, sizeof want, "Bearer %s", token);
  cJSON_ArrayForEach(e, mcp) {
    const char *a = header(e, "authorization");
    n += strcmp(cJSON_GetObjectItem(e, "method")->valuestring, "GET") == 0 && a && strcmp(a, want) == 0;
  }
  cJSON_Delete(mcp);
  return n;
}

/* The standalone GET stream is open when the token is revoked: the
 * server ends it, the reopened GET meets a 401, and the client refreshes
 * the token and reopens it at once, without a call and without a new
 * authorization (regression: the stream stopped for good at the 401). */
static void get_stream_renews_after_revocation(void) {
  mode("get_stream");
  int auths = 0;
  hl_mcp *m = client(&auths, NULL, NULL);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  CHECK_INT(auths, 1);
  char *old = last_token(), rt[200] = "";
  REQUIRE(old);
  CHECK(gets_with(old) >= 1); /* the stream is open with it */
  int before = refreshes(rt, sizeof rt);
  cJSON_Delete(server("/__revoke", ""));
  char *now = NULL;
  for (int i = 0; i < 100; i++) { /* 5 s */
    free(now);
    now = last_token();
    if (refreshes(rt, sizeof rt) == before + 1 && now && strcmp(now, old) != 0 && gets_with(now) >= 1) break;
    fx_sleep_ms(50);
  }
  CHECK_INT(refreshes(rt, sizeof rt), before + 1);
  CHECK(now && strcmp(now, old) != 0 && gets_with(now) >= 1); /* reopened with the new token */
  CHECK(call_ok(m));                                          /* which calls use too */
  CHECK_INT(refreshes(rt, sizeof rt), before + 1);
  CHECK_INT(auths, 1);
  free(now);
  free(old);
  hl_mcp_free(m);
  mode("ok");
}

/* A config file's "oauth" entry: refused without the application's
 * handlers (hl_config_set_mcp_oauth()), with them the entry's client_id
 * is the one the authorization server sees. */
static void config_entry(void) {
  mode("ok");
  char text[300];
  snprintf(text, sizeof text, "{\"mcp_servers\": [{\"url\": \"%s\", \"oauth\": {\"client_id\": \"from-config\"}}]}",
           url);
  hl_config *cfg = NULL;
  REQUIRE(hl_config_parse(text, "agent.json", &cfg) == HL_OK);
  hl_agent *a = hl_agent_new("cfg");
  CHECK_INT(hl_config_connect_mcp(cfg, NULL, a), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "agent.json: MCP server http://127.0.0.1:");
  CHECK_CONTAINS(hl_last_error(), "hl_config_set_mcp_oauth() was not called");
  int auths = 0;
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT, .authorize = counting_agent, .user_data = &auths,
                    .client_id = "overridden"};
  CHECK_INT(hl_config_set_mcp_oauth(cfg, &o), HL_OK);
  CHECK_INT(hl_config_connect_mcp(cfg, NULL, a), HL_OK);
  CHECK_INT(auths, 1);
  CHECK_INT(hl_tools_count(hl_agent_tools(a)), 1);
  cJSON *asked = requests("/as/authorize");
  const cJSON *last = cJSON_GetArrayItem(asked, cJSON_GetArraySize(asked) - 1);
  CHECK(last && strstr(cJSON_GetObjectItem(last, "path")->valuestring, "client_id=from-config&"));
  cJSON_Delete(asked);
  hl_agent_unref(a);
  hl_config_free(cfg);
}

/* Counts the token store's saves (user: the counter), for the
 * application's user_data reaching its callbacks behind assertion_file. */
static void counting_save(hl_mcp *m, const char *server_url, const char *text, void *user) {
  (void)m, (void)server_url, (void)text;
  (*(int *)user)++;
}

static hl_status no_stored(hl_mcp *m, const char *server_url, char **out, void *user) {
  (void)m, (void)server_url, (void)user;
  *out = NULL;
  return HL_OK;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  REQUIRE(f);
  fputs(text, f);
  fclose(f);
}

/* A config file's "assertion_file" (relative to the file) is read at each
 * authorization, trailing newline dropped, for the jwt-bearer grant; the
 * application's token store still gets its own user_data; a missing file
 * is HL_ERR_AUTH naming it. "application_type" reaches registration. */
static void config_assertion_file_and_application_type(void) {
  mode("ok");
  char dir[] = "/tmp/hl-oauth-cfg-XXXXXX", cfg_path[80], tok[80], text[400];
  REQUIRE(mkdtemp(dir));
  snprintf(cfg_path, sizeof cfg_path, "%s/agent.json", dir);
  snprintf(tok, sizeof tok, "%s/token.jwt", dir);
  snprintf(text, sizeof text, "{\"mcp_servers\": [{\"url\": \"%s\", \"oauth\": {\"client_id\": \"wif-client\", "
           "\"assertion_file\": \"token.jwt\"}}]}", url);
  write_text(cfg_path, text);
  write_text(tok, "eyJ.first.jwt\n");
  hl_config *cfg = NULL;
  REQUIRE(hl_config_load(cfg_path, &cfg) == HL_OK);
  int saves = 0;
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT, .authorize = counting_agent, .user_data = &saves,
                    .load_tokens = no_stored, .save_tokens = counting_save};
  CHECK_INT(hl_config_set_mcp_oauth(cfg, &o), HL_OK);
  hl_agent *a = hl_agent_new("a"), *b = hl_agent_new("b"), *c = hl_agent_new("c");
  CHECK_INT(hl_config_connect_mcp(cfg, NULL, a), HL_OK);
  const char *first[] = {"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", "eyJ.first.jwt",
                         "client_id", "wif-client"};
  check_form("/as/token", first, 6);
  CHECK(saves >= 1); /* the store's save got the application's user_data */
  /* Rotated on disk: the next authorization (another connection) reads it anew. */
  write_text(tok, "eyJ.second.jwt");
  CHECK_INT(hl_config_connect_mcp(cfg, NULL, b), HL_OK);
  const char *second[] = {"assertion", "eyJ.second.jwt"};
  check_form("/as/token", second, 2);
  unlink(tok);
  CHECK_INT(hl_config_connect_mcp(cfg, NULL, c), HL_ERR_AUTH);
  CHECK_CONTAINS(hl_last_error(), tok);
  hl_agent_unref(a);
  hl_agent_unref(b);
  hl_agent_unref(c);
  hl_config_free(cfg);
  unlink(cfg_path);
  rmdir(dir);
  /* application_type from the file, in dynamic registration. */
  snprintf(text, sizeof text, "{\"mcp_servers\": [{\"url\": \"%s\", \"oauth\": {\"application_type\": \"web\"}}]}",
           url);
  REQUIRE(hl_config_parse(text, "agent.json", &cfg) == HL_OK);
  int auths = 0;
  hl_mcp_oauth u = {.size = sizeof u, .redirect_uri = REDIRECT, .authorize = counting_agent, .user_data = &auths};
  CHECK_INT(hl_config_set_mcp_oauth(cfg, &u), HL_OK);
  a = hl_agent_new("a");
  CHECK_INT(hl_config_connect_mcp(cfg, NULL, a), HL_OK);
  cJSON *reg = last_request("/as/register");
  REQUIRE(reg);
  cJSON *body = cJSON_Parse(cJSON_GetObjectItem(reg, "body")->valuestring);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(body, "application_type")), "web"); /* loopback: native else */
  cJSON_Delete(body);
  cJSON_Delete(reg);
  hl_agent_unref(a);
  hl_config_free(cfg);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  pid_t srv = fx_start_port_printer(fx_env("HL_MCP_OAUTH_SERVER"), &port);
  if (srv <= 0 || !port) {
    fprintf(stderr, "oauth_server.py did not start\n");
    return 1;
  }
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
  RUN(bad_options);
  RUN(registration_application_type);
  RUN(offline_access_when_listed);
  RUN(authorization_server_migration);
  RUN(preregistered_client_stays);
  RUN(old_store_entry);
  RUN(jwt_bearer_grant);
  RUN(jwt_bearer_refused);
  RUN(enterprise_token_exchange);
  RUN(enterprise_idp_failures);
  RUN(authorize_refresh_rotate);
  RUN(concurrent_401s);
  RUN(token_store_round_trip);
  RUN(tampered_store);
  RUN(misbehaving_servers);
  RUN(metadata_redirect_keeps_origin);
  RUN(token_stays_secret);
  RUN(config_entry);
  RUN(config_assertion_file_and_application_type);
  RUN(run_cancel_ends_token_request);
  RUN(free_ends_token_request);
  RUN(run_cancel_ends_wait_for_flow);
  RUN(get_stream_renews_after_revocation);
  RUN(echoed_secrets);
  RUN(expiry_as_string);
  RUN(transient_refresh_failure);
  RUN(transient_refresh_failure_on_401);
  RUN(discovery_keeps_query);
  RUN(legacy_resource);
  fx_stop(srv);
  return CHECK_EXIT();
}
