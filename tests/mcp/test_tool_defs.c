/*
 * tests/mcp/test_tool_defs.c - tool definitions of the MCP 2026-07-28
 * revision against tool_defs_server.py: x-mcp-header arguments mirrored
 * into Mcp-Param-* headers (plain, Base64 for what is not safe ASCII,
 * numbers, booleans, null and missing left out, a nested property), tools
 * with invalid annotations left out beside the valid ones (over HTTP; kept
 * over stdio, which has no headers), a schema with
 * every JSON Schema 2020-12 keyword reaching the tool and the model's
 * request unchanged while valid calls pass the validator, hostile schemas
 * (deep nesting, $ref cycles, a network $ref, nesting beyond the parser's
 * limit) failing cleanly, ttlMs deciding when the list is fetched again,
 * and a HeaderMismatch refusal making the client list again and retry once.
 */
#include "mcp_fixture.h"

static int port;
static char url[128];
static fx_events events = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A client connected to the server, NULL when that failed. */
static hl_mcp *connect_client(void) {
  hl_mcp *m = hl_mcp_new_http("defs", url);
  if (!m) return NULL;
  hl_mcp_set_timeout_ms(m, 20000);
  hl_observer *obs = hl_observer_new(fx_events_fn, &events);
  CHECK_INT(hl_mcp_add_observer(m, obs), HL_OK);
  hl_observer_unref(obs);
  if (hl_mcp_connect(m) == HL_OK) return m;
  fprintf(stderr, "connect: %s\n", hl_mcp_errmsg(m));
  hl_mcp_free(m);
  return NULL;
}

static int server_count(const char *what) {
  cJSON *log = fx_server_json(port, "/__log", NULL);
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(log, what);
  int v = cJSON_IsNumber(n) ? n->valueint : -1;
  cJSON_Delete(log);
  return v;
}

/* The Mcp-Param-* headers the server saw on a call of "headers" with
 * `args`, as its JSON text (the caller frees), NULL when the call failed. */
static char *headers_for(hl_mcp *m, const char *args_json, hl_status *st) {
  cJSON *args = cJSON_Parse(args_json), *res = NULL;
  *st = hl_mcp_call(m, NULL, "headers", args, &res, NULL);
  cJSON_Delete(args);
  char *t = cJSON_IsString(res) ? strdup(res->valuestring) : NULL;
  cJSON_Delete(res);
  return t;
}

static void header_values(void) {
  hl_mcp *m = connect_client();
  REQUIRE(m);
  hl_status st;
  struct {
    const char *args, *want;
  } cases[] = {
      /* plain ASCII, integers, booleans; the unannotated one not mirrored */
      {"{\"s\":\"us-west1\",\"i\":42,\"b\":true,\"plain\":\"x\"}",
       "{\"mcp-param-b\": \"true\", \"mcp-param-i\": \"42\", \"mcp-param-s\": \"us-west1\"}"},
      {"{\"i\":-7,\"b\":false,\"s\":\"us west 1\"}",
       "{\"mcp-param-b\": \"false\", \"mcp-param-i\": \"-7\", \"mcp-param-s\": \"us west 1\"}"},
      /* integers up to 2^53-1 exactly, as decimals */
      {"{\"i\":9007199254740991}", "{\"mcp-param-i\": \"9007199254740991\"}"},
      /* non-ASCII, control characters, edges with spaces, a tab, and a
       * value spelled like the Base64 form: Base64 of the UTF-8 */
      {"{\"s\":\"Hello, \\u4e16\\u754c\"}", "{\"mcp-param-s\": \"=?base64?SGVsbG8sIOS4lueVjA==?=\"}"},
      {"{\"s\":\"line1\\nline2\"}", "{\"mcp-param-s\": \"=?base64?bGluZTEKbGluZTI=?=\"}"},
      {"{\"s\":\"a\\r\\nInjected: 1\"}", "{\"mcp-param-s\": \"=?base64?YQ0KSW5qZWN0ZWQ6IDE=?=\"}"},
      {"{\"s\":\" padded \"}", "{\"mcp-param-s\": \"=?base64?IHBhZGRlZCA=?=\"}"},
      {"{\"s\":\"\\tindented\"}", "{\"mcp-param-s\": \"=?base64?CWluZGVudGVk?=\"}"},
      {"{\"s\":\"=?base64?literal?=\"}", "{\"mcp-param-s\": \"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=\"}"},
      {"{\"s\":\"=?base64?x\"}", "{\"mcp-param-s\": \"=?base64?PT9iYXNlNjQ/eA==?=\"}"},
      /* an empty string is sent empty; null and missing are left out */
      {"{\"s\":\"\",\"maybe\":null}", "{\"mcp-param-s\": \"\"}"},
      {"{\"maybe\":\"yes\"}", "{\"mcp-param-maybe\": \"yes\"}"},
      {"{}", "{}"},
      /* a property of an object property, by its path */
      {"{\"meta\":{\"region\":\"eu\"}}", "{\"mcp-param-region\": \"eu\"}"},
      {"{\"meta\":{}}", "{}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *h = headers_for(m, cases[i].args, &st);
    CHECK_INT(st, HL_OK);
    CHECK_STR(h, cases[i].want);
    free(h);
  }
  /* A value no header can carry exactly: refused before anything is
   * sent, with the path and the header in the message. */
  int calls = server_count("calls");
  const char *bad[] = {"{\"i\":1.5}", "{\"i\":9007199254740992}", "{\"s\":{\"o\":1}}", "{\"b\":[true]}"};
  for (size_t i = 0; i < 4; i++) {
    char *h = headers_for(m, bad[i], &st);
    CHECK_INT(st, HL_ERR_INVALID_ARGUMENTS);
    CHECK_CONTAINS(hl_last_error(), "header Mcp-Param-");
    CHECK(h == NULL);
    free(h);
  }
  CHECK_INT(server_count("calls"), calls);
  /* Through the tool, as an agent calls it: the schema's type check
   * answers first, as an InvalidArguments result the model can act on. */
  hl_tools *tools = hl_mcp_tools(m);
  cJSON *args = cJSON_Parse("{\"i\":\"42\"}"), *res = NULL;
  CHECK_INT(hl_tool_invoke(hl_tools_find(tools, "headers"), NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "$.i: expected integer, got string");
  cJSON_Delete(args);
  hl_tools_free(tools);
  hl_mcp_free(m);
}

static void invalid_tools_left_out(void) {
  fx_events_clear(&events);
  hl_mcp *m = connect_client();
  REQUIRE(m);
  hl_tools *tools = hl_mcp_tools(m);
  const char *valid[] = {"headers", "echo", "rich", "deep", "cycle", "mismatch", "always_mismatch",
                         "mentions_mismatch", "text_mismatch"};
  CHECK_INT(hl_tools_count(tools), 9);
  for (size_t i = 0; i < 9; i++) CHECK(hl_tools_find(tools, valid[i]) != NULL);
  /* Each one named, with the reason. */
  CHECK_INT(fx_events_count(&events, "\"tool\":\"bad_number\",\"message\":\"left out: invalid inputSchema: "
                                     "x-mcp-header at $.f: the property's type must be string, integer or "
                                     "boolean\""),
            1);
  CHECK_INT(fx_events_count(&events, "\"tool\":\"bad_items\",\"message\":\"left out: invalid inputSchema: "
                                     "x-mcp-header at $.l: only a property reached from the root by "
                                     "\\\"properties\\\" alone may be annotated\""),
            1);
  CHECK_INT(fx_events_count(&events, "\"tool\":\"bad_anyof\""), 1);
  CHECK_INT(fx_events_count(&events, "\"tool\":\"bad_dup\",\"message\":\"left out: invalid inputSchema: "
                                     "x-mcp-header at $.b: the same name (ignoring case) is used twice\""),
            1);
  CHECK_INT(fx_events_count(&events, "\"tool\":\"bad_token\",\"message\":\"left out: invalid inputSchema: "
                                     "x-mcp-header at $.a: must be an HTTP token"),
            1);
  /* A $ref outside the schema is never fetched (MCP 2026-07-28 "$ref
   * Resolution"), so the schema cannot be validated: the tool is left
   * out, named, rather than called unchecked. */
  CHECK_INT(fx_events_count(&events, "\"tool\":\"remote_ref\",\"message\":\"left out: its inputSchema has a "
                                     "$ref outside the schema (\\\"http://127.0.0.1:9/never-fetched.json\\\"), "
                                     "which hookline does not fetch, so the schema cannot be validated\""),
            1);
  CHECK_INT(fx_events_count(&events, "\"tool\":\"relative_ref\",\"message\":\"left out: its outputSchema has a "
                                     "$ref outside the schema (\\\"other.json#/o\\\")"),
            1);
  CHECK(!hl_tools_find(tools, "remote_ref") && !hl_tools_find(tools, "relative_ref"));
  /* Out of the raw list too (the revision: excluded from tools/list);
   * the two with an external $ref stay in it, as sent. */
  cJSON *raw = hl_mcp_tools_json(m);
  CHECK_INT(cJSON_GetArraySize(raw), 11);
  cJSON_Delete(raw);
  /* The valid ones still work. */
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(hl_tools_find(tools, "echo"), NULL, NULL, &res), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "{}") == 0);
  cJSON_Delete(res);
  hl_tools_free(tools);
  hl_mcp_free(m);
}

/* Over stdio there are no headers: x-mcp-header is ignored, every tool
 * kept (the revision lets other transports ignore the annotations). */
static void stdio_keeps_every_tool(void) {
  const char *argv[] = {"python3", fx_env("HL_MCP_TOOL_DEFS"), "stdio", NULL};
  hl_mcp *m = hl_mcp_new_stdio("defs_stdio", argv);
  REQUIRE(m);
  hl_mcp_set_timeout_ms(m, 20000);
  REQUIRE(hl_mcp_connect(m) == HL_OK);
  hl_tools *tools = hl_mcp_tools(m);
  CHECK_INT(hl_tools_count(tools), 14); /* all but remote_ref and relative_ref */
  CHECK(hl_tools_find(tools, "bad_dup") != NULL);
  CHECK(!hl_tools_find(tools, "remote_ref") && !hl_tools_find(tools, "relative_ref"));
  cJSON *args = cJSON_Parse("{\"a\":\"x\",\"b\":\"y\"}"), *res = NULL;
  CHECK_INT(hl_tool_invoke(hl_tools_find(tools, "bad_dup"), NULL, args, &res), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "{\"a\": \"x\", \"b\": \"y\"}") == 0);
  cJSON_Delete(res);
  cJSON_Delete(args);
  hl_tools_free(tools);
  hl_mcp_free(m);
}

static const cJSON *raw_schema(const cJSON *raw, const char *name) {
  const cJSON *t;
  cJSON_ArrayForEach(t, raw) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "name");
    if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
      return cJSON_GetObjectItemCaseSensitive(t, "inputSchema");
  }
  return NULL;
}

static void rich_schema_unchanged(void) {
  hl_mcp *m = connect_client();
  REQUIRE(m);
  cJSON *raw = hl_mcp_tools_json(m);
  const cJSON *sent = raw_schema(raw, "rich");
  REQUIRE(sent && cJSON_GetObjectItemCaseSensitive(sent, "unevaluatedProperties"));
  hl_tools *tools = hl_mcp_tools(m);
  hl_tool *rich = hl_tools_find(tools, "rich");
  REQUIRE(rich);
  /* What the application and the hooks see. */
  CHECK(hl_json_equal(hl_tool_schema(rich), sent));

  /* Valid arguments pass the validator, also where a keyword it does not
   * evaluate changes what another means: items only after prefixItems,
   * additionalProperties only beside patternProperties, a property named
   * "format". */
  cJSON *args = cJSON_Parse("{\"kind\":\"a\",\"name\":\"Ada\",\"format\":\"x\",\"tuple\":[1,\"two\",true],"
                            "\"tags\":{\"x-team\":\"core\"},\"amount\":2.5,\"either\":3,\"anything\":[1]}");
  cJSON *res = NULL;
  CHECK_INT(hl_tool_invoke(rich, NULL, args, &res), HL_OK);
  cJSON_Delete(res);
  cJSON_Delete(args);
  /* What it does evaluate still holds. */
  args = cJSON_Parse("{\"kind\":\"b\",\"name\":\"Ada\"}");
  CHECK_INT(hl_tool_invoke(rich, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "$.kind: \"b\" is not the constant \"a\"");
  cJSON_Delete(args);
  args = cJSON_Parse("{\"name\":\"Ada\"}");
  CHECK_INT(hl_tool_invoke(rich, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  CHECK_CONTAINS(hl_last_error(), "missing required property \"kind\"");
  cJSON_Delete(args);

  /* What the model gets: the provider's request declares it unchanged. */
  hl_agent *a = hl_agent_new("defs_agent");
  char base[160];
  snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", port);
  hl_provider *p = hl_openai_new(base, "");
  hl_openai_set_model(p, "m");
  hl_agent_set_provider(a, p);
  CHECK_INT(hl_mcp_add_to_agent(m, a), HL_OK);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  CHECK_STR(answer, "done");
  hl_free(answer);
  cJSON *log = fx_server_json(port, "/__log", NULL);
  const cJSON *decl = NULL, *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(log, "model"), "tools")) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "name");
    if (cJSON_IsString(n) && strcmp(n->valuestring, "rich") == 0) decl = cJSON_GetObjectItemCaseSensitive(f, "parameters");
  }
  CHECK(decl && hl_json_equal(decl, sent));
  cJSON_Delete(log);
  hl_provider_unref(p);
  hl_agent_unref(a);
  hl_tools_free(tools);
  cJSON_Delete(raw);
  hl_mcp_free(m);
}

static void hostile_schemas(void) {
  hl_mcp *m = connect_client();
  REQUIRE(m);
  hl_tools *tools = hl_mcp_tools(m);
  /* $ref cycles and the root referring to itself: kept as written, never
   * followed (the call and its validation end at once); a "$ref" key in
   * data (default, enum) is no reference. */
  hl_tool *cycle = hl_tools_find(tools, "cycle");
  REQUIRE(cycle);
  cJSON *args = cJSON_Parse("{\"x\":{\"y\":1},\"self\":{},\"n\":3}"), *res = NULL;
  CHECK_INT(hl_tool_invoke(cycle, NULL, args, &res), HL_OK);
  cJSON_Delete(res);
  cJSON_Delete(args);
  args = cJSON_Parse("{\"n\":\"three\"}");
  CHECK_INT(hl_tool_invoke(cycle, NULL, args, &res), HL_ERR_INVALID_ARGUMENTS);
  cJSON_Delete(args);
  /* 200 levels of properties: checked and validated level by level. */
  hl_tool *deep = hl_tools_find(tools, "deep");
  REQUIRE(deep);
  cJSON *v = cJSON_CreateString("leaf");
  for (int i = 0; i < 200; i++) {
    char k[16];
    snprintf(k, sizeof k, "n%d", i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, k, v);
    v = o;
  }
  CHECK_INT(hl_tool_invoke(deep, NULL, v, &res), HL_OK);
  cJSON_Delete(res);
  cJSON_Delete(v);
  size_t had = hl_tools_count(tools);
  hl_tools_free(tools);
  /* A list with a schema nested beyond the JSON parser's limit fails as
   * a whole, with the reason; the client keeps the list it had. */
  cJSON_Delete(fx_server_json(port, "/__too_deep", ""));
  CHECK_INT(hl_mcp_refresh_tools(m), HL_ERR_JSON);
  CHECK_CONTAINS(hl_last_error(), "not JSON");
  tools = hl_mcp_tools(m);
  CHECK_INT(hl_tools_count(tools), had);
  hl_tools_free(tools);
  hl_mcp_free(m);
}

static void header_mismatch_lists_again(void) {
  hl_mcp *m = connect_client();
  REQUIRE(m);
  /* The server annotates "region" after this client listed: its first
   * call lacks the header and is refused as HeaderMismatch; the client
   * lists again and the second try carries it. */
  cJSON_Delete(fx_server_json(port, "/__annotate", ""));
  int lists = server_count("lists");
  cJSON *args = cJSON_Parse("{\"region\":\"eu\"}"), *res = NULL;
  CHECK_INT(hl_mcp_call(m, NULL, "mismatch", args, &res, NULL), HL_OK);
  CHECK(cJSON_IsString(res) && strcmp(res->valuestring, "matched eu") == 0);
  CHECK_INT(server_count("lists") - lists, 1);
  cJSON_Delete(res);
  /* A server that refuses whatever comes: one more try, then its answer. */
  lists = server_count("lists");
  int calls = server_count("calls");
  CHECK_INT(hl_mcp_call(m, NULL, "always_mismatch", args, &res, NULL), HL_ERR_HTTP);
  CHECK_CONTAINS(hl_last_error(), "-32020");
  CHECK_INT(server_count("lists") - lists, 1);
  CHECK_INT(server_count("calls") - calls, 2);
  /* A 400 that only mentions -32020 (in another error's message, in a
   * body that is no JSON) is no HeaderMismatch: no listing, no retry. */
  const char *mention[] = {"mentions_mismatch", "text_mismatch"};
  for (int i = 0; i < 2; i++) {
    lists = server_count("lists");
    calls = server_count("calls");
    CHECK_INT(hl_mcp_call(m, NULL, mention[i], args, &res, NULL), HL_ERR_HTTP);
    CHECK_CONTAINS(hl_last_error(), "-32020");
    CHECK_INT(server_count("lists") - lists, 0);
    CHECK_INT(server_count("calls") - calls, 1);
  }
  cJSON_Delete(args);
  hl_mcp_free(m);
}

/* Runs of an agent with a scripted model; how many tools/list each made. */
static int lists_during_run(hl_agent *a, hl_provider *p) {
  int before = server_count("lists");
  hl_scripted_push_text(p, "ok");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  return server_count("lists") - before;
}

static void ttl_decides_when_to_list(void) {
  cJSON_Delete(fx_server_json(port, "/__ttl", "none"));
  hl_mcp *m = connect_client();
  REQUIRE(m);
  hl_agent *a = hl_agent_new("ttl_agent");
  hl_provider *p = hl_scripted_new();
  hl_agent_set_provider(a, p);
  CHECK_INT(hl_mcp_add_to_agent(m, a), HL_OK);
  /* No ttlMs (servers before 2026-07-28): list_changed only. */
  CHECK_INT(lists_during_run(a, p), 0);
  CHECK_INT(lists_during_run(a, p), 0);
  /* ttlMs 400: fresh for that long, then listed again when a run
   * needs the list, and a change shows in the agent's registry. */
  cJSON_Delete(fx_server_json(port, "/__ttl", "400"));
  CHECK_INT(hl_mcp_refresh_tools(m), HL_OK);
  CHECK_INT(lists_during_run(a, p), 0);
  cJSON_Delete(fx_server_json(port, "/__add", ""));
  CHECK(hl_tools_find(hl_agent_tools(a), "added") == NULL);
  fx_sleep_ms(450);
  CHECK_INT(lists_during_run(a, p), 1);
  CHECK(hl_tools_find(hl_agent_tools(a), "added") != NULL);
  CHECK_INT(lists_during_run(a, p), 0);
  /* ttlMs 0: stale at once, listed at every run; nothing in between
   * (no poll). */
  cJSON_Delete(fx_server_json(port, "/__ttl", "0"));
  CHECK_INT(hl_mcp_refresh_tools(m), HL_OK);
  int idle = server_count("lists");
  fx_sleep_ms(200);
  CHECK_INT(server_count("lists"), idle);
  CHECK_INT(lists_during_run(a, p), 1);
  CHECK_INT(lists_during_run(a, p), 1);
  /* hl_mcp_sync_tools() of another registry needs it too. */
  hl_tools *reg = hl_tools_new();
  int before = server_count("lists");
  CHECK_INT(hl_mcp_sync_tools(m, reg), HL_OK);
  CHECK_INT(server_count("lists") - before, 1);
  CHECK(hl_tools_find(reg, "added") != NULL);
  hl_tools_free(reg);
  cJSON_Delete(fx_server_json(port, "/__ttl", "none"));
  hl_provider_unref(p);
  hl_agent_unref(a);
  hl_mcp_free(m);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  pid_t server = fx_start_port_printer(fx_env("HL_MCP_TOOL_DEFS"), &port);
  if (server <= 0) {
    fprintf(stderr, "tool_defs_server.py did not start\n");
    return 1;
  }
  snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", port);
  RUN(header_values);
  RUN(invalid_tools_left_out);
  RUN(stdio_keeps_every_tool);
  RUN(rich_schema_unchanged);
  RUN(ttl_decides_when_to_list);
  RUN(header_mismatch_lists_again);
  RUN(hostile_schemas);
  fx_stop(server);
  fx_events_clear(&events);
  int zombies = 0;
  CHECK_INT(fx_children(&zombies), 0);
  return CHECK_EXIT();
}
