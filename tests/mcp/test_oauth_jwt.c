/*
 * tests/mcp/test_oauth_jwt.c - private_key_jwt client authentication
 * (hl_mcp_oauth.sign) against oauth_server.py, which verifies the client
 * assertion's ES256 signature with `openssl dgst` and the public key the
 * test gives it. The signer is the application's code: here OpenSSL's
 * libcrypto (jws_openssl.c), a test-only dependency. Checked: each header
 * field and claim, a fresh jti per assertion, the refresh's assertion, a
 * signer that fails and one that gives OpenSSL's DER instead of R || S
 * (HL_ERR_AUTH naming it, no token request), an authorization server that
 * does not list private_key_jwt or the signer's alg (HL_ERR_AUTH before
 * any token request), the assertion redacted when the server quotes it
 * back and never in events, and the options hl_mcp_set_oauth() refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jws_openssl.h"
#include "mcp_fixture.h"
#include "oauth_agent.h"

#define CLIENT_ID "jwt-client"

static int port;
static char url[128];
static EVP_PKEY *key;

static cJSON *server(const char *path, const char *body) { return fx_server_json(port, path, body); }

static void mode(const char *name) { cJSON_Delete(server("/__mode", name)); }

/* A client_credentials client signing with `sign` (ES256, kid "k1"). */
static hl_mcp *signing_client(hl_mcp_sign_fn sign) {
  hl_mcp *m = hl_mcp_new_http("jwt-test", url);
  if (!m) return NULL;
  hl_mcp_set_timeout_ms(m, 10000);
  hl_mcp_oauth o = {.size = sizeof o, .client_id = CLIENT_ID, .client_credentials = true, .sign = sign,
                    .signing_alg = "ES256", .signing_kid = "k1", .user_data = key};
  if (hl_mcp_set_oauth(m, &o) != HL_OK) {
    hl_mcp_free(m);
    return NULL;
  }
  return m;
}

/* Requests to the token endpoint so far. */
static int token_requests(void) {
  cJSON *log = server("/__log", NULL), *e;
  int n = 0;
  cJSON_ArrayForEach(e, log) n += strcmp(cJSON_GetObjectItem(e, "path")->valuestring, "/as/token") == 0;
  cJSON_Delete(log);
  return n;
}

/* The last token request's body (malloc'd; "" when none). */
static char *last_token_body(void) {
  cJSON *log = server("/__log", NULL), *e;
  const char *body = "";
  cJSON_ArrayForEach(e, log) if (strcmp(cJSON_GetObjectItem(e, "path")->valuestring, "/as/token") == 0) body =
      cJSON_GetObjectItem(e, "body")->valuestring;
  char *out = strdup(body);
  cJSON_Delete(log);
  return out;
}

static const char *str(const cJSON *j, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static double num(const cJSON *j, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The server verified the last assertion and found nothing wrong; its
 * jti into jti (for comparing two). */
static void check_last_assertion(char *jti, size_t size) {
  cJSON *rec = server("/__jwt", NULL);
  REQUIRE(rec);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(rec, "verified")));
  CHECK_STR(str(rec, "why"), "");
  const cJSON *h = cJSON_GetObjectItem(rec, "header"), *c = cJSON_GetObjectItem(rec, "claims");
  CHECK_STR(str(h, "alg"), "ES256");
  CHECK_STR(str(h, "typ"), "JWT");
  CHECK_STR(str(h, "kid"), "k1");
  CHECK_STR(str(c, "iss"), CLIENT_ID);
  CHECK_STR(str(c, "sub"), CLIENT_ID);
  char aud[160];
  snprintf(aud, sizeof aud, "http://127.0.0.1:%d/as", port);
  CHECK_STR(str(c, "aud"), aud); /* the issuer, not the token endpoint */
  double now = (double)time(NULL), iat = num(c, "iat"), exp = num(c, "exp");
  CHECK(iat >= now - 30 && iat <= now + 1);
  CHECK(exp > iat && exp <= iat + 300); /* short-lived */
  CHECK(strlen(str(c, "jti")) >= 16);
  snprintf(jti, size, "%s", str(c, "jti"));
  cJSON_Delete(rec);
}

static void assertion_claims(void) {
  mode("pkjwt");
  hl_mcp *m = signing_client(jws_openssl_sign);
  REQUIRE(m);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  cJSON *res = NULL;
  CHECK(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL) == HL_OK);
  cJSON_Delete(res);
  char jti1[64], jti2[64];
  check_last_assertion(jti1, sizeof jti1);
  char *body = last_token_body();
  CHECK_CONTAINS(body, "grant_type=client_credentials");
  CHECK(strstr(body, "client_secret") == NULL);
  free(body);
  /* A revoked token is refreshed, the refresh authenticated the same way
   * with an assertion of its own. */
  cJSON_Delete(server("/__revoke", ""));
  CHECK(hl_mcp_call(m, NULL, "whoami", NULL, &res, NULL) == HL_OK);
  cJSON_Delete(res);
  body = last_token_body();
  CHECK_CONTAINS(body, "grant_type=refresh_token");
  CHECK_CONTAINS(body, "client_assertion=");
  free(body);
  check_last_assertion(jti2, sizeof jti2);
  CHECK(strcmp(jti1, jti2) != 0);
  hl_mcp_free(m);
}

/* A user's authorization code grant with a pre-registered client that
 * signs: its token request authenticates with private_key_jwt too. */
static void code_flow_with_private_key_jwt(void) {
  mode("pkjwt");
  hl_mcp *m = hl_mcp_new_http("jwt-test", url);
  REQUIRE(m);
  hl_mcp_oauth o = {.size = sizeof o, .client_id = CLIENT_ID, .redirect_uri = "http://127.0.0.1:1/callback",
                    .authorize = oauth_agent_follow_once, .sign = jws_openssl_sign, .signing_alg = "ES256",
                    .signing_kid = "k1", .user_data = key};
  REQUIRE(hl_mcp_set_oauth(m, &o) == HL_OK);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  char *body = last_token_body();
  CHECK_CONTAINS(body, "grant_type=authorization_code");
  CHECK_CONTAINS(body, "code_verifier=");
  CHECK_CONTAINS(body, "client_assertion="); /* the server verified it, or the grant had failed */
  free(body);
  char jti[64];
  check_last_assertion(jti, sizeof jti);
  hl_mcp_free(m);
}

/* Dynamic registration with the public JWK: the client registers for
 * private_key_jwt with its key (no secret issued), and its token request
 * then carries an assertion the server checks, iss the new client_id. */
static void registration_with_jwk(void) {
  mode("pkjwt");
  char *jwk = jws_public_jwk(key);
  REQUIRE(jwk);
  hl_mcp *m = hl_mcp_new_http("jwt-test", url);
  REQUIRE(m);
  hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = "http://127.0.0.1:1/callback",
                    .authorize = oauth_agent_follow_once, .sign = jws_openssl_sign, .signing_alg = "ES256",
                    .signing_kid = "k1", .signing_jwk = jwk, .user_data = key};
  REQUIRE(hl_mcp_set_oauth(m, &o) == HL_OK);
  CHECK_INT(hl_mcp_connect(m), HL_OK);
  cJSON *log = server("/__log", NULL), *e, *reg = NULL;
  cJSON_ArrayForEach(e, log) if (strcmp(cJSON_GetObjectItem(e, "path")->valuestring, "/as/register") == 0) reg = e;
  REQUIRE(reg);
  cJSON *body = cJSON_Parse(cJSON_GetObjectItem(reg, "body")->valuestring), *want = cJSON_Parse(jwk);
  cJSON_AddStringToObject(want, "kid", "k1"); /* signing_kid added to a key without one */
  CHECK_STR(str(body, "token_endpoint_auth_method"), "private_key_jwt");
  CHECK_STR(str(body, "token_endpoint_auth_signing_alg"), "ES256");
  const cJSON *keys = cJSON_GetObjectItem(cJSON_GetObjectItem(body, "jwks"), "keys");
  CHECK(cJSON_GetArraySize(keys) == 1 && cJSON_Compare(cJSON_GetArrayItem(keys, 0), want, true));
  cJSON *rec = server("/__jwt", NULL);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(rec, "verified")));
  CHECK_STR(str(rec, "why"), "");
  CHECK(strncmp(str(cJSON_GetObjectItem(rec, "claims"), "iss"), "client-", 7) == 0); /* the registered id */
  cJSON_Delete(rec);
  cJSON_Delete(body);
  cJSON_Delete(want);
  cJSON_Delete(log);
  hl_mcp_free(m);
  free(jwk);
}

static hl_status failing_signer(hl_mcp *m, const char *alg, const char *input, size_t len, unsigned char **sig,
                                size_t *sig_len, void *user) {
  (void)m, (void)alg, (void)input, (void)len, (void)sig, (void)sig_len, (void)user;
  return hl_fail(HL_ERR_IO, "the HSM is offline");
}

/* A failing signer and one that gives the wrong length end the
 * authorization with HL_ERR_AUTH saying so, and send nothing. */
static void bad_signers(void) {
  mode("pkjwt");
  struct {
    hl_mcp_sign_fn sign;
    const char *says;
  } cases[] = {{failing_signer, "the HSM is offline"}, {jws_openssl_sign_der, "ES256 signatures have 64"}};
  for (size_t i = 0; i < 2; i++) {
    int before = token_requests();
    hl_mcp *m = signing_client(cases[i].sign);
    REQUIRE(m);
    CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
    CHECK_CONTAINS(hl_mcp_errmsg(m), "signer");
    CHECK_CONTAINS(hl_mcp_errmsg(m), cases[i].says);
    CHECK_INT(token_requests(), before);
    hl_mcp_free(m);
  }
}

/* A server that takes no private_key_jwt, or not with this alg, and a
 * client without a secret: HL_ERR_AUTH before any token request. */
static void server_without_private_key_jwt(void) {
  const char *modes[] = {"pkjwt_unlisted", "pkjwt_rs256"};
  const char *says[] = {"does not list private_key_jwt", "does not list the signer's signing_alg"};
  for (int i = 0; i < 2; i++) {
    mode(modes[i]);
    int before = token_requests();
    hl_mcp *m = signing_client(jws_openssl_sign);
    REQUIRE(m);
    CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
    CHECK_CONTAINS(hl_mcp_errmsg(m), says[i]);
    CHECK_INT(token_requests(), before);
    hl_mcp_free(m);
  }
}

/* The server refuses quoting the assertion: the message has the refusal,
 * not the assertion (nor its signature); no event carries it. */
static void echoed_assertion(void) {
  mode("pkjwt_echo");
  fx_events ev = {.lock = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(fx_events_fn, &ev);
  hl_mcp *m = signing_client(jws_openssl_sign);
  REQUIRE(m && obs);
  hl_mcp_add_observer(m, obs);
  CHECK_INT(hl_mcp_connect(m), HL_ERR_AUTH);
  char *body = last_token_body();
  const char *a = strstr(body, "client_assertion=");
  REQUIRE(a);
  char assertion[2048];
  snprintf(assertion, sizeof assertion, "%.*s", (int)strcspn(a + 17, "&"), a + 17);
  REQUIRE(strlen(assertion) > 100);
  const char *sig = strrchr(assertion, '.') + 1;
  char head[61]; /* not even cut short, as a capped message would */
  memcpy(head, assertion, sizeof head - 1); /* assertion is over 100 bytes */
  head[sizeof head - 1] = '\0';
  CHECK_CONTAINS(hl_mcp_errmsg(m), "invalid_client");
  CHECK_CONTAINS(hl_mcp_errmsg(m), "revoked key");
  CHECK(strstr(hl_mcp_errmsg(m), head) == NULL);
  CHECK(strstr(hl_last_error(), head) == NULL);
  CHECK(strstr(hl_mcp_errmsg(m), sig) == NULL);
  CHECK(strstr(hl_last_error(), sig) == NULL);
  CHECK_INT(fx_events_count(&ev, sig), 0);
  free(body);
  hl_mcp_free(m);
  hl_observer_unref(obs);
  fx_events_clear(&ev);
}

static void bad_options(void) {
  const hl_mcp_oauth ok = {.size = sizeof ok, .client_id = CLIENT_ID, .client_credentials = true,
                           .sign = jws_openssl_sign, .signing_alg = "ES256"};
  CHECK_INT(fx_set_oauth(url, ok), HL_OK);
  hl_mcp_oauth o = ok;
  o.signing_alg = NULL;
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
  o.signing_alg = "HS256"; /* symmetric: not what a signer is for */
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
  o = ok;
  o.client_id = NULL;
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
  o = ok;
  o.sign = NULL; /* client_credentials then needs a secret */
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
  o = ok;
  o.signing_jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}";
  CHECK_INT(fx_set_oauth(url, o), HL_OK);
  o.signing_jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\",\"d\":\"AA\"}"; /* private */
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "public JWK");
  o.signing_jwk = "not json";
  CHECK_INT(fx_set_oauth(url, o), HL_ERR_INVALID);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  key = jws_key_new_p256();
  char *pub = key ? jws_public_pem(key) : NULL;
  pid_t srv = fx_start_port_printer(fx_env("HL_MCP_OAUTH_SERVER"), &port);
  if (!pub || srv <= 0 || !port) {
    fprintf(stderr, "no key, or oauth_server.py did not start\n");
    return 1;
  }
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
  cJSON_Delete(server("/__jwt_key", pub));
  RUN(bad_options);
  RUN(assertion_claims);
  RUN(code_flow_with_private_key_jwt);
  RUN(registration_with_jwk);
  RUN(bad_signers);
  RUN(server_without_private_key_jwt);
  RUN(echoed_assertion);
  fx_stop(srv);
  free(pub);
  EVP_PKEY_free(key);
  return CHECK_EXIT();
}
