/*
 * tests/mcp/conformance_client.c - the client the official MCP conformance
 * suite (@modelcontextprotocol/conformance) runs: `conformance_client URL`
 * with the scenario's name in MCP_CONFORMANCE_SCENARIO. It does what each
 * client scenario's server expects of a client (connect; call its tool;
 * accept an elicitation leaving every field out so the library fills in
 * the schema's defaults) using only include/hookline/mcp.h, and exits 0
 * only when the call's result is the one the scenario's server sends, so
 * a client that gets a wrong answer fails even where the suite's own
 * checks are only about what it saw on the wire. The auth/ scenarios
 * run the library's OAuth (hl_mcp_set_oauth()): the user-agent step is
 * a GET of the authorization URL that does not follow the redirect, whose
 * Location is the redirect a browser would have followed (the suite's
 * authorization servers approve at once); a pre-registered client's id
 * and secret come in the suite's MCP_CONFORMANCE_CONTEXT; the Client ID
 * Metadata Document URL is the one the suite's basic-cimd scenario
 * expects; the client-credentials scenarios use that grant (machine to
 * machine); the workload identity and enterprise-managed scenarios use
 * the jwt-bearer grant with the context's JWT (the latter exchanging the
 * context's ID token at its identity provider first); client-credentials-jwt
 * authenticates with private_key_jwt, signing with OpenSSL's libcrypto
 * (jws_openssl.c; a test-only dependency: built without it, the client
 * has no signer and that scenario stops at hl_mcp_set_oauth()) and the
 * context's private key; dpop and dpop-nonce turn hl_mcp_oauth.dpop on
 * with a new P-256 key and the same libcrypto signer. Then the
 * scenario's tool is called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "oauth_agent.h"
#ifdef HL_TEST_OPENSSL
#include "jws_openssl.h"
#endif

#define REDIRECT_URI "http://localhost:3000/callback"
#define CIMD_URL "https://conformance-test.local/client-metadata.json"

/* The pre-registered client of MCP_CONFORMANCE_CONTEXT, if any. */
static void context_client(cJSON **ctx, const char **id, const char **secret) {
  const char *text = getenv("MCP_CONFORMANCE_CONTEXT");
  *ctx = text ? cJSON_Parse(text) : NULL;
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(*ctx, "client_id");
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(*ctx, "client_secret");
  *id = cJSON_IsString(i) ? i->valuestring : NULL;
  *secret = cJSON_IsString(s) ? s->valuestring : NULL;
}

/* hl_mcp_assertion_fn: the JWT the context gave (user: the string). */
static hl_status context_jwt(hl_mcp *m, const char *issuer, const char *resource, char **jwt, void *user) {
  (void)m, (void)issuer, (void)resource;
  *jwt = strdup(user);
  return *jwt ? HL_OK : HL_ERR_NOMEM;
}

/* The jwt-bearer scenarios: the assertion (and the identity provider)
 * from the context. */
static void assertion_options(const char *scenario, const cJSON *ctx, hl_mcp_oauth *o) {
  const bool wif = strcmp(scenario, "auth/wif-jwt-bearer") == 0;
  const bool ema = strcmp(scenario, "auth/enterprise-managed-authorization") == 0;
  const cJSON *jwt = cJSON_GetObjectItemCaseSensitive(ctx, wif ? "valid_jwt" : "idp_id_token");
  if ((!wif && !ema) || !cJSON_IsString(jwt)) return;
  o->assertion = context_jwt;
  o->user_data = jwt->valuestring;
  if (ema) {
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(ctx, "idp_token_endpoint");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ctx, "idp_client_id");
    o->idp_token_endpoint = cJSON_IsString(ep) ? ep->valuestring : NULL;
    o->idp_client_id = cJSON_IsString(id) ? id->valuestring : NULL;
  }
}

/* client-credentials-jwt: private_key_jwt with the context's PEM key and
 * algorithm; *key (the signer's user_data) is for the caller to free. */
static void signer_options(const char *scenario, const cJSON *ctx, hl_mcp_oauth *o, void **key) {
  *key = NULL;
#ifdef HL_TEST_OPENSSL
  const cJSON *pem = cJSON_GetObjectItemCaseSensitive(ctx, "private_key_pem");
  const cJSON *alg = cJSON_GetObjectItemCaseSensitive(ctx, "signing_algorithm");
  if (strcmp(scenario, "auth/client-credentials-jwt") != 0 || !cJSON_IsString(pem) || !cJSON_IsString(alg)) return;
  *key = jws_key_from_pem(pem->valuestring);
  o->sign = jws_openssl_sign;
  o->signing_alg = alg->valuestring;
  o->user_data = *key;
#else
  (void)scenario, (void)ctx, (void)o;
#endif
}

/* auth/dpop and auth/dpop-nonce: DPoP proofs with a new P-256 key of the
 * client's (ES256); *jwk (its public JWK) is for the caller to free. */
static void dpop_options(const char *scenario, hl_mcp_oauth *o, void **key, char **jwk) {
  *jwk = NULL;
#ifdef HL_TEST_OPENSSL
  if (strcmp(scenario, "auth/dpop") != 0 && strcmp(scenario, "auth/dpop-nonce") != 0) return;
  *key = jws_key_new_p256();
  *jwk = *key ? jws_public_jwk(*key) : NULL;
  o->sign = jws_openssl_sign;
  o->signing_alg = "ES256";
  o->signing_jwk = *jwk;
  o->user_data = *key;
  o->dpop = true;
#else
  (void)scenario, (void)o, (void)key;
#endif
}

static void signer_free(void *key) {
#ifdef HL_TEST_OPENSSL
  EVP_PKEY_free(key);
#else
  (void)key;
#endif
}

/* Accept with no content: the library must add the requested defaults. */
static hl_status accept_empty(hl_mcp *m, const char *method, const cJSON *params, cJSON **result,
                              void *user) {
  (void)m, (void)method, (void)params, (void)user;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "action", "accept");
  cJSON_AddObjectToObject(r, "content");
  *result = r;
  return HL_OK;
}

static int fail(const char *what, const char *msg) {
  fprintf(stderr, "conformance_client: %s: %s\n", what, msg ? msg : "");
  return 1;
}

/* Call `tool` and require its text result to contain `want`. */
static int call_expect(hl_mcp *m, const char *tool, const char *args_json, const char *want) {
  cJSON *args = args_json ? cJSON_Parse(args_json) : NULL;
  cJSON *result = NULL;
  hl_status st = hl_mcp_call(m, NULL, tool, args, &result, NULL);
  cJSON_Delete(args);
  if (st != HL_OK) return fail(tool, hl_last_error());
  int rc = 0;
  if (!cJSON_IsString(result) || !strstr(result->valuestring, want)) {
    char *got = cJSON_PrintUnformatted(result);
    fprintf(stderr, "conformance_client: %s: expected a text result with \"%s\", got %s\n", tool,
            want, got ? got : "(nothing)");
    free(got);
    rc = 1;
  } else {
    printf("%s: %s\n", tool, result->valuestring);
  }
  cJSON_Delete(result);
  return rc;
}

/* ---- the 2026-07-28 scenarios ------------------------------------- */

/* Accept the MRTR scenario's confirmation (an input request of its tools). */
static hl_status confirm(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *user) {
  (void)m, (void)method, (void)params, (void)user;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "action", "accept");
  cJSON_AddBoolToObject(cJSON_AddObjectToObject(r, "content"), "confirmed", 1);
  *result = r;
  return HL_OK;
}

/* A sampling handler, so that the client declares the capability. */
static hl_status sample(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *user) {
  (void)m, (void)method, (void)params, (void)user;
  *result = cJSON_Parse("{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"ok\"},"
                        "\"model\":\"none\"}");
  return HL_OK;
}

/* Handlers the modern scenarios need before connect: request-metadata
 * checks the capabilities the client declares (roots, sampling and
 * elicitation, since the handlers are there), the MRTR one asks for an
 * elicitation. */
static hl_status modern_setup(hl_mcp *m, const char *scenario) {
  hl_status st = HL_OK;
  if (strcmp(scenario, "request-metadata") == 0) {
    cJSON *roots = cJSON_Parse("[{\"uri\":\"file:///tmp\",\"name\":\"tmp\"}]");
    st = hl_mcp_set_roots(m, roots);
    cJSON_Delete(roots);
    if (st == HL_OK) st = hl_mcp_set_handler(m, "sampling/createMessage", sample, NULL);
  }
  if (st == HL_OK && (strcmp(scenario, "request-metadata") == 0 ||
                      strcmp(scenario, "sep-2322-client-request-state") == 0))
    st = hl_mcp_set_handler(m, "elicitation/create", confirm, NULL);
  return st;
}

/* hl_mcp_request(`method`, params_json) must succeed. */
static int request_ok(hl_mcp *m, const char *method, const char *params_json) {
  cJSON *params = params_json ? cJSON_Parse(params_json) : NULL;
  cJSON *result = NULL;
  hl_status st = hl_mcp_request(m, NULL, method, params, &result);
  cJSON_Delete(params);
  cJSON_Delete(result);
  return st == HL_OK ? 0 : fail(method, hl_last_error());
}

/* The scenarios of the 2026-07-28 revision (connected already); -1: not
 * one of them. Each must also have found a modern server. */
static int modern_scenario(hl_mcp *m, const char *scenario) {
  bool metadata = strcmp(scenario, "request-metadata") == 0;
  bool headers = strcmp(scenario, "http-standard-headers") == 0;
  bool mrtr = strcmp(scenario, "sep-2322-client-request-state") == 0;
  if (!metadata && !headers && !mrtr) return -1;
  if (strcmp(hl_mcp_protocol_version(m), HL_MCP_PROTOCOL_VERSION) != 0)
    return fail(scenario, "the server was not taken for a 2026-07-28 one");
  if (metadata) return 0; /* server/discover (after a -32022) and tools/list were the point */
  if (headers) {
    /* Every request kind whose Mcp-Method / Mcp-Name the scenario checks. */
    return call_expect(m, "test_headers", NULL, "Headers test completed") ||
           call_expect(m, "my-hyphenated-tool", NULL, "Headers test completed") ||
           request_ok(m, "resources/list", NULL) ||
           request_ok(m, "resources/read", "{\"uri\":\"file:///path/to/file%20name.txt\"}") ||
           request_ok(m, "prompts/list", NULL) || request_ok(m, "prompts/get", "{\"name\":\"test_prompt\"}");
  }
  /* MRTR: an elicitation answered and requestState echoed; no state when
   * the server sent none; another call between carries neither; a result
   * without resultType is complete. */
  return call_expect(m, "test_mrtr_echo_state", NULL, "echo-state-ok") ||
         call_expect(m, "test_mrtr_unrelated", NULL, "unrelated-ok") ||
         call_expect(m, "test_mrtr_no_state", NULL, "no-state-ok") ||
         call_expect(m, "test_mrtr_no_result_type", NULL, "no-result-type-test-ok");
}

/* ---- MCP 2026-07-28 tool definitions ------------------------------ */

/* http-custom-headers: call each tool of the suite's context with its
 * arguments; the suite checks the Mcp-Param-* headers on the wire. */
static int custom_headers(hl_mcp *m) {
  const char *text = getenv("MCP_CONFORMANCE_CONTEXT");
  cJSON *ctx = text ? cJSON_Parse(text) : NULL;
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive(ctx, "toolCalls"), *c;
  int rc = cJSON_GetArraySize(calls) ? 0 : fail("context", "no toolCalls");
  cJSON_ArrayForEach(c, calls) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    char *args = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "arguments"));
    if (!cJSON_IsString(name) || !args) rc = fail("context", "a toolCall without name or arguments");
    else rc |= call_expect(m, name->valuestring, args, "Custom headers test completed");
    free(args);
  }
  cJSON_Delete(ctx);
  return rc;
}

/* http-invalid-tool-headers: only valid_tool is left in the list (the
 * others' x-mcp-header annotations are invalid); every tool listed is
 * called, as an agent could. */
static int invalid_tool_headers(hl_mcp *m) {
  hl_tools *tools = hl_mcp_tools(m);
  size_t n = hl_tools_count(tools);
  int rc = n == 1 && hl_tools_find(tools, "valid_tool") ? 0 : fail("tools", "expected valid_tool alone");
  for (size_t i = 0; i < n; i++)
    rc |= call_expect(m, hl_tool_name(hl_tools_at(tools, i)), "{\"region\":\"us-west1\"}", "Tool call received");
  hl_tools_free(tools);
  return rc;
}

/* json-schema-2020-12-preservation: echo the focal tool's schema as the
 * model and the application see it (hl_tool_schema) through the echo
 * tool, run as an agent runs it (hl_tool_invoke: validated first). */
static int schema_echo(hl_mcp *m) {
  hl_tools *tools = hl_mcp_tools(m);
  hl_tool *focal = hl_tools_find(tools, "json_schema_2020_12_tool");
  hl_tool *echo = hl_tools_find(tools, "json_schema_echo");
  int rc;
  if (!focal || !echo) {
    rc = fail("tools", "json_schema_2020_12_tool or json_schema_echo missing");
  } else {
    cJSON *args = cJSON_CreateObject(), *result = NULL;
    cJSON_AddItemToObject(args, "schema", cJSON_Duplicate(hl_tool_schema(focal), 1));
    rc = hl_tool_invoke(echo, NULL, args, &result) == HL_OK ? 0 : fail("json_schema_echo", hl_last_error());
    if (!rc && !(cJSON_IsString(result) && strcmp(result->valuestring, "echoed") == 0))
      rc = fail("json_schema_echo", "expected the text \"echoed\"");
    cJSON_Delete(args);
    cJSON_Delete(result);
  }
  hl_tools_free(tools);
  return rc;
}

/* json-schema-ref-no-deref: the tools are listed, the network $ref is
 * never fetched (the suite's check), and the tool whose inputSchema has
 * it is left out: its schema cannot be validated (2026-07-28
 * basic/index.mdx "$ref Resolution": rejected rather than treated as
 * permissive). */
static int ref_no_deref(hl_mcp *m) {
  hl_tools *tools = hl_mcp_tools(m);
  int rc = hl_tools_find(tools, "lookup_user") ? fail("lookup_user", "kept with a network $ref it cannot resolve")
                                               : 0;
  hl_tools_free(tools);
  return rc;
}

int main(int argc, char **argv) {
  const char *scenario = getenv("MCP_CONFORMANCE_SCENARIO");
  if (argc != 2 || !scenario) {
    fputs("usage: MCP_CONFORMANCE_SCENARIO=name conformance_client URL\n", stderr);
    return 2;
  }
  hl_mcp *m = hl_mcp_new_http("conformance", argv[1]);
  if (!m) return fail("bad URL", hl_last_error());
  hl_mcp_set_timeout_ms(m, 20000);
  if (strcmp(scenario, "elicitation-sep1034-client-defaults") == 0 &&
      hl_mcp_set_handler(m, "elicitation/create", accept_empty, NULL) != HL_OK) {
    hl_mcp_free(m);
    return fail("handler", hl_last_error());
  }
  if (modern_setup(m, scenario) != HL_OK) {
    hl_mcp_free(m);
    return fail("handler", hl_last_error());
  }
  cJSON *ctx = NULL;
  void *key = NULL;
  char *jwk = NULL;
  if (strncmp(scenario, "auth/", 5) == 0) {
    hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT_URI, .authorize = oauth_agent_follow_once,
                      .client_metadata_url = CIMD_URL, .client_name = "hookline conformance client",
                      .client_credentials = strncmp(scenario, "auth/client-credentials-", 24) == 0};
    context_client(&ctx, &o.client_id, &o.client_secret);
    assertion_options(scenario, ctx, &o);
    signer_options(scenario, ctx, &o, &key);
    dpop_options(scenario, &o, &key, &jwk);
    if (hl_mcp_set_oauth(m, &o) != HL_OK) {
      signer_free(key);
      free(jwk);
      cJSON_Delete(ctx);
      hl_mcp_free(m);
      return fail("oauth", hl_last_error());
    }
  }
  int rc;
  if (hl_mcp_connect(m) != HL_OK) {
    rc = fail("connect", hl_mcp_errmsg(m));
  } else if ((rc = modern_scenario(m, scenario)) >= 0) {
    /* done */
  } else if (strncmp(scenario, "auth/", 5) == 0) {
    rc = call_expect(m, "test-tool", NULL, "test");
  } else if (strcmp(scenario, "initialize") == 0) {
    rc = 0;
  } else if (strcmp(scenario, "tools_call") == 0) {
    rc = call_expect(m, "add_numbers", "{\"a\":5,\"b\":3}", "The sum of 5 and 3 is 8");
  } else if (strcmp(scenario, "elicitation-sep1034-client-defaults") == 0) {
    rc = call_expect(m, "test_client_elicitation_defaults", NULL,
                     "Elicitation completed: {\"name\":\"John Doe\"");
  } else if (strcmp(scenario, "sse-retry") == 0) {
    rc = call_expect(m, "test_reconnection", NULL, "Reconnection test completed successfully");
  } else if (strcmp(scenario, "http-custom-headers") == 0) {
    rc = custom_headers(m);
  } else if (strcmp(scenario, "http-invalid-tool-headers") == 0) {
    rc = invalid_tool_headers(m);
  } else if (strcmp(scenario, "json-schema-2020-12-preservation") == 0) {
    rc = schema_echo(m);
  } else if (strcmp(scenario, "json-schema-ref-no-deref") == 0) {
    rc = ref_no_deref(m);
  } else {
    rc = fail(scenario, "unknown scenario");
  }
  char version[32];
  snprintf(version, sizeof version, "%s", hl_mcp_protocol_version(m));
  hl_mcp_free(m);
  signer_free(key);
  free(jwk);
  cJSON_Delete(ctx);
  /* The suite keeps stdout but not the exit status: say it, and which
   * revision the server was found to speak. */
  if (rc == 0) printf("conformance_client: %s ok (protocol %s)\n", scenario, version);
  return rc;
}
