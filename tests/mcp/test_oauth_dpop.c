/*
 * tests/mcp/test_oauth_dpop.c - DPoP (RFC 9449, hl_mcp_oauth.dpop) against
 * oauth_server.py, which verifies each proof's ES256 signature with
 * `openssl dgst` and the test's key (the signer is the application's
 * code: OpenSSL's libcrypto here, test-only). Checked: the proof's
 * header and claims one by one at the token endpoint and at the MCP
 * server (typ, alg, jwk, jti fresh per proof, htm, htu, iat, ath of the
 * token), "Authorization: DPoP", a refresh's proof, the nonce a server asks for (exactly one
 * retry at the authorization server and at the MCP server, the nonce kept
 * for later proofs; a server that asks forever is asked once more only),
 * a Bearer token with dpop on, a signer that fails (on the token request:
 * none is sent; on the MCP request), proofs and tokens absent from events,
 * and the options hl_mcp_set_oauth() refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jws_openssl.h"
#include "mcp_fixture.h"

#define CLIENT_ID "dpop-client"

static int port;
static char url[128], jwk_text[512];
static EVP_PKEY *key;

static cJSON *server(const char *path, const char *body) { return fx_server_json(port, path, body); }

static void mode(const char *name) { cJSON_Delete(server("/__mode", name)); }

/* Signer calls so far, and the first one that fails (0: none). */
static int sign_calls, fail_from;

static hl_status counting_sign(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                               size_t *sig_len, void *user) {
  if (fail_from && ++sign_calls >= fail_from) return hl_fail(HL_ERR_IO, "the key store is locked");
  return jws_openssl_sign(m, alg, input, len, sig, sig_len, user);
}

/* A client_credentials client signing (private_key_jwt and DPoP proofs)
 * with one ES256 key. */
static hl_mcp *dpop_client(void) {
  hl_mcp *m = hl_mcp_new_http("dpop-test", url);
  if (!m) return NULL;
  hl_mcp_set_timeout_ms(m, 10000);
  hl_mcp_oauth o = {.size = sizeof o, .client_id = CLIENT_ID, .client_credentials = true, .sign = counting_sign,
                    .signing_alg = "ES256", .signing_jwk = jwk_text, .user_data = key, .dpop = true};
  if (hl_mcp_set_oauth(m, &o) != HL_OK) {
    hl_mcp_free(m);
    return NULL;
  }
  return m;
}

static const char *str(const cJSON *j, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

/* The proofs the server saw at `where` ("/as/token" or "/mcp") in this
 * mode, in order (a new array). */
static cJSON *proofs_at(const char *where) {
  cJSON *all = server("/__dpop", NULL), *out = cJSON_CreateArray(), *r;
  char htu[160];
  snprintf(htu, sizeof htu, "http://127.0.0.1:%d%s", port, where);
  cJSON_ArrayForEach(r, all) {
    if (strcmp(str(cJSON_GetObjectItem(r, "claims"), "htu"), htu) == 0)
      cJSON_AddItemToArray(out, cJSON_Duplicate(r, true));
  }
  cJSON_Delete(all);
  return out;
}

/* Requests to `path` so far, and the last one's header `name` into buf. */
static int requests_to(const char *path, const char *name, char *buf, size_t size) {
  cJSON *log = server("/__log", NULL), *e;
  int n = 0;
  if (buf) buf[0] = '\0';
  cJSON_ArrayForEach(e, log) if (strcmp(cJSON_GetObjectItem(e, "path")->valuestring, path) == 0) {
    n++;
    const cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "headers"), name);
    if (buf) snprintf(buf, size, "%s", cJSON_IsString(h) ? h->valuestring : "");
  }
  cJSON_Delete(log);
  return n;
}

/* Every field of every proof: the server found nothing wrong, and each
 * one is checked here again. */
static void proof_fields(void) {
  mode("dpop");
  sign_calls = fail_from = 0;
  fx_events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(fx_events_fn, &ev);
  hl_mcp *m = dpop_client();
  REQUIRE(m && obs);
  hl_mcp_add_observer(m, obs);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *res = NULL;
  CHECK(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL) == HL_OK);
  cJSON_Delete(res);
  cJSON *as = proofs_at("/as/token"), *rs = proofs_at("/mcp"), *r;
  CHECK_INT(cJSON_GetArraySize(as), 1);
  CHECK(cJSON_GetArraySize(rs) >= 3); /* initialize, initialized, tools/list, tools/call */
  cJSON *jwk = cJSON_Parse(jwk_text), *seen = cJSON_CreateObject();
  double now = (double)time(NULL);
  for (int i = 0; i < 2; i++) cJSON_ArrayForEach(r, (i ? rs : as)) {
    const cJSON *h = cJSON_GetObjectItem(r, "header"), *c = cJSON_GetObjectItem(r, "claims");
    CHECK_STR(str(r, "why"), "");
    CHECK_STR(str(h, "typ"), "dpop+jwt");
    CHECK_STR(str(h, "alg"), "ES256");
    CHECK(cJSON_Compare(cJSON_GetObjectItem(h, "jwk"), jwk, true));
    CHECK_STR(str(c, "htm"), "POST");
    double iat = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "iat"));
    CHECK(iat >= now - 30 && iat <= now + 1);
    CHECK(strlen(str(c, "jti")) >= 16);
    CHECK(!cJSON_GetObjectItem(seen, str(c, "jti"))); /* fresh per proof */
    cJSON_AddTrueToObject(seen, str(c, "jti"));
    CHECK(!cJSON_GetObjectItem(c, "nonce")); /* none was asked for */
    CHECK(i ? cJSON_IsString(cJSON_GetObjectItem(c, "ath")) : !cJSON_GetObjectItem(c, "ath"));
  }
  /* The token went as DPoP, with its proof (the server checked ath). */
  char auth[600], proof[1500];
  requests_to("/mcp", "authorization", auth, sizeof auth);
  requests_to("/mcp", "dpop", proof, sizeof proof);
  CHECK(strncmp(auth, "DPoP at-", 8) == 0);
  CHECK(strlen(proof) > 100);
  CHECK_INT(fx_events_count(&ev, auth + 5), 0);
  CHECK_INT(fx_events_count(&ev, proof), 0);
  CHECK_INT(fx_events_count(&ev, "eyJ0eXAiOiJkcG9wK2p3dCIs"), 0); /* any proof's header */
  cJSON_Delete(jwk);
  cJSON_Delete(seen);
  cJSON_Delete(as);
  cJSON_Delete(rs);
  hl_mcp_free(m);
  hl_observer_unref(obs);
  fx_events_clear(&ev);
}

/* A revoked token: the refresh's token request carries a proof too (a
 * fresh one), and its new DPoP token is the one the retry sends. */
static void refresh_proof(void) {
  mode("dpop");
  sign_calls = fail_from = 0;
  hl_mcp *m = dpop_client();
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  char before[600], after[600];
  requests_to("/mcp", "authorization", before, sizeof before);
  cJSON_Delete(server("/__revoke", ""));
  cJSON *res = NULL;
  CHECK(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL) == HL_OK);
  cJSON_Delete(res);
  requests_to("/mcp", "authorization", after, sizeof after);
  CHECK(strncmp(after, "DPoP at-", 8) == 0 && strcmp(before, after) != 0);
  cJSON *as = proofs_at("/as/token"), *r;
  CHECK_INT(cJSON_GetArraySize(as), 2);
  cJSON_ArrayForEach(r, as) CHECK_STR(str(r, "why"), "");
  CHECK(strcmp(str(cJSON_GetObjectItem(cJSON_GetArrayItem(as, 0), "claims"), "jti"),
               str(cJSON_GetObjectItem(cJSON_GetArrayItem(as, 1), "claims"), "jti")) != 0);
  char body[2048];
  cJSON *log = server("/__log", NULL), *e;
  body[0] = '\0';
  cJSON_ArrayForEach(e, log) if (strcmp(cJSON_GetObjectItem(e, "path")->valuestring, "/as/token") == 0)
      snprintf(body, sizeof body, "%s", cJSON_GetObjectItem(e, "body")->valuestring);
  cJSON_Delete(log);
  CHECK_CONTAINS(body, "grant_type=refresh_token");
  cJSON_Delete(as);
  hl_mcp_free(m);
}

/* Both servers ask for a nonce: one retry each, and later proofs to the
 * MCP server carry its nonce at once. */
static void nonces(void) {
  mode("dpop_nonce");
  sign_calls = fail_from = 0;
  hl_mcp *m = dpop_client();
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *res = NULL;
  CHECK(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL) == HL_OK);
  cJSON_Delete(res);
  cJSON *as = proofs_at("/as/token"), *rs = proofs_at("/mcp");
  REQUIRE(cJSON_GetArraySize(as) == 2); /* asked, then with the nonce: exactly one retry */
  CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(as, 0), "claims"), "nonce"));
  CHECK_STR(str(cJSON_GetObjectItem(cJSON_GetArrayItem(as, 1), "claims"), "nonce"), "as-nonce");
  CHECK(strcmp(str(cJSON_GetObjectItem(cJSON_GetArrayItem(as, 0), "claims"), "jti"),
               str(cJSON_GetObjectItem(cJSON_GetArrayItem(as, 1), "claims"), "jti")) != 0);
  /* The MCP server: the first proof without, every later one with its
   * nonce (one 401 in all). */
  int n = cJSON_GetArraySize(rs);
  REQUIRE(n >= 4);
  CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rs, 0), "claims"), "nonce"));
  for (int i = 1; i < n; i++)
    CHECK_STR(str(cJSON_GetObjectItem(cJSON_GetArrayItem(rs, i), "claims"), "nonce"), "rs-nonce");
  cJSON_Delete(as);
  cJSON_Delete(rs);
  hl_mcp_free(m);
}

/* A server that asks for a new nonce at every request: asked once more,
 * then HL_ERR_AUTH. */
static void nonce_forever(void) {
  mode("dpop_nonce_forever");
  sign_calls = fail_from = 0;
  hl_mcp *m = dpop_client();
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "use_dpop_nonce");
  cJSON *rs = proofs_at("/mcp");
  CHECK_INT(cJSON_GetArraySize(rs), 2);
  cJSON_Delete(rs);
  hl_mcp_free(m);
}

/* The authorization server answers Bearer: the token goes as Bearer,
 * without a proof. */
static void bearer_token(void) {
  mode("dpop_bearer");
  sign_calls = fail_from = 0;
  hl_mcp *m = dpop_client();
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *as = proofs_at("/as/token");
  CHECK_INT(cJSON_GetArraySize(as), 1); /* the token request had its proof */
  cJSON_Delete(as);
  char auth[600], proof[1500];
  requests_to("/mcp", "authorization", auth, sizeof auth);
  requests_to("/mcp", "dpop", proof, sizeof proof);
  CHECK(strncmp(auth, "Bearer at-", 10) == 0);
  CHECK_STR(proof, "");
  hl_mcp_free(m);
}

/* The signer fails on the token request's proof (its second signature,
 * after the client assertion's): no token request; on an MCP request's
 * proof: that request fails. HL_ERR_AUTH naming the proof. */
static void failing_signer(void) {
  mode("dpop");
  int before = requests_to("/as/token", "dpop", NULL, 0);
  sign_calls = 0;
  fail_from = 2;
  hl_mcp *m = dpop_client();
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "DPoP proof: the signer failed");
  CHECK_CONTAINS(hl_mcp_errmsg(m), "the key store is locked");
  CHECK_INT(requests_to("/as/token", "dpop", NULL, 0), before);
  hl_mcp_free(m);
  sign_calls = 0;
  fail_from = 3;
  m = dpop_client();
  REQUIRE(m);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
  CHECK_CONTAINS(hl_mcp_errmsg(m), "DPoP proof: the signer failed");
  CHECK_INT(requests_to("/as/token", "dpop", NULL, 0), before + 1);
  hl_mcp_free(m);
  fail_from = 0;
}

static void bad_options(void) {
  const hl_mcp_oauth ok = {.size = sizeof ok, .client_id = CLIENT_ID, .client_credentials = true,
                           .sign = jws_openssl_sign, .signing_alg = "ES256", .signing_jwk = jwk_text, .dpop = true};
  CHECK_INT(fx_set_oauth(url, ok), HL_OK);
  hl_mcp_oauth o = ok;
  o.signing_jwk = NULL;
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "dpop needs sign and signing_jwk");
  o = ok;
  o.sign = NULL;
  o.client_secret = "s";
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  key = jws_key_new_p256();
  char *pub = key ? jws_public_pem(key) : NULL, *jwk = key ? jws_public_jwk(key) : NULL;
  pid_t srv = fx_start_port_printer(fx_env("HL_MCP_OAUTH_SERVER"), &port);
  if (!pub || !jwk || strlen(jwk) >= sizeof jwk_text || srv <= 0 || !port) {
    fprintf(stderr, "no key, or oauth_server.py did not start\n");
    return 1;
  }
  snprintf(jwk_text, sizeof jwk_text, "%s", jwk);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
  cJSON_Delete(server("/__jwt_key", pub));
  cJSON_Delete(server("/__dpop_jwk", jwk));
  RUN(bad_options);
  RUN(proof_fields);
  RUN(refresh_proof);
  RUN(nonces);
  RUN(nonce_forever);
  RUN(bearer_token);
  RUN(failing_signer);
  fx_stop(srv);
  free(pub);
  free(jwk);
  EVP_PKEY_free(key);
  return CHECK_EXIT();
}
