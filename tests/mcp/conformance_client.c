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
 * context's ID token at its identity provider first). Then the
 * scenario's tool is called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "oauth_agent.h"

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
  cJSON *ctx = NULL;
  if (strncmp(scenario, "auth/", 5) == 0) {
    hl_mcp_oauth o = {.size = sizeof o, .redirect_uri = REDIRECT_URI, .authorize = oauth_agent_follow_once,
                      .client_metadata_url = CIMD_URL, .client_name = "hookline conformance client",
                      .client_credentials = strncmp(scenario, "auth/client-credentials-", 24) == 0};
    context_client(&ctx, &o.client_id, &o.client_secret);
    assertion_options(scenario, ctx, &o);
    if (hl_mcp_set_oauth(m, &o) != HL_OK) {
      cJSON_Delete(ctx);
      hl_mcp_free(m);
      return fail("oauth", hl_last_error());
    }
  }
  int rc;
  if (hl_mcp_connect(m) != HL_OK) {
    rc = fail("connect", hl_mcp_errmsg(m));
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
  } else {
    rc = fail(scenario, "unknown scenario");
  }
  hl_mcp_free(m);
  cJSON_Delete(ctx);
  /* The suite keeps stdout but not the exit status: say it. */
  if (rc == 0) printf("conformance_client: %s ok\n", scenario);
  return rc;
}
