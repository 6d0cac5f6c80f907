/*
 * lib/mcp/era.c - what the MCP 2026-07-28 revision ("modern", stateless)
 * asks of a client that also speaks the earlier revisions ("legacy",
 * with the initialize handshake): finding out which era a server speaks
 * (basic/versioning.mdx "Backward Compatibility": server/discover first;
 * a recognized modern error means a modern server, anything else a
 * legacy one), the _meta every modern request carries (basic/index.mdx),
 * and what a modern result may ask before the request is done
 * (UnsupportedProtocolVersionError, resultType "input_required": the
 * multi round-trip requests of basic/patterns/mrtr.mdx).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "core/util.h"
#include "hookline/json.h"

/* The legacy revisions, which the initialize handshake negotiates. */
static const char *const legacy_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

static bool in_array(const cJSON *arr, const char *s) {
  const cJSON *v;
  cJSON_ArrayForEach(v, arr) if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0) return true;
  return false;
}

static bool names_legacy(const cJSON *arr) {
  for (size_t i = 0; i < sizeof legacy_versions / sizeof *legacy_versions; i++)
    if (in_array(arr, legacy_versions[i])) return true;
  return false;
}

/* A JSON array of strings as `"a", "b"` for messages. */
static void list_text(const cJSON *arr, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  const cJSON *v;
  cJSON_ArrayForEach(v, arr) {
    if (!cJSON_IsString(v) || n + 4 >= size) continue;
    char q[64];
    hl__quote(q, sizeof q, v->valuestring);
    int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", q);
    if (w < 0 || (size_t)w >= size - n) break;
    n += (size_t)w;
  }
  if (!n) snprintf(buf, size, "none");
}

/* The error codes the revision reserves for itself (basic/index.mdx
 * "Error Codes"): a server that answers with one is modern. */
static bool modern_code(int code) { return code <= -32020 && code >= -32099; }

static int error_code(const cJSON *err) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
  return cJSON_IsNumber(c) ? c->valueint : 0;
}

static const cJSON *supported_of(const cJSON *err) {
  return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(err, "data"), "supported");
}

static bool set_item(cJSON *obj, const char *key, cJSON *item) {
  if (!item) return false;
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  if (!cJSON_AddItemToObject(obj, key, item)) {
    cJSON_Delete(item);
    return false;
  }
  return true;
}

cJSON *hl__mcp_with_meta(hl_mcp *m, cJSON *params) {
  if (!params && !(params = cJSON_CreateObject())) return NULL;
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
  if (!cJSON_IsObject(meta)) {
    cJSON_DeleteItemFromObjectCaseSensitive(params, "_meta");
    meta = cJSON_AddObjectToObject(params, "_meta");
  }
  char level[sizeof m->log_level];
  pthread_mutex_lock(&m->lock);
  memcpy(level, m->log_level, sizeof level);
  pthread_mutex_unlock(&m->lock);
  if (!meta || !set_item(meta, "io.modelcontextprotocol/protocolVersion", cJSON_CreateString(m->version)) ||
      !set_item(meta, "io.modelcontextprotocol/clientCapabilities", hl__mcp_client_capabilities(m)) ||
      !set_item(meta, "io.modelcontextprotocol/clientInfo", hl__mcp_client_info()) ||
      (level[0] && !set_item(meta, "io.modelcontextprotocol/logLevel", cJSON_CreateString(level)))) {
    cJSON_Delete(params);
    return NULL;
  }
  return params;
}

/* Connect found a modern server: keep what discover said, with the
 * server's identity where hl_mcp_name() and legacy results have it. */
static hl_status become_modern(hl_mcp *m, cJSON *resp) {
  cJSON *result = cJSON_DetachItemFromObjectCaseSensitive(resp, "result");
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(result, "_meta");
  const cJSON *info = cJSON_GetObjectItemCaseSensitive(meta, "io.modelcontextprotocol/serverInfo");
  if (cJSON_IsObject(info) && !cJSON_GetObjectItemCaseSensitive(result, "serverInfo"))
    hl_json_add(result, "serverInfo", cJSON_Duplicate(info, 1));
  m->init_result = result;
  m->era = HL__MCP_ERA_MODERN;
  return HL_OK;
}

/* version and protocol_header under the lock: the worker may be sending
 * an answer to a server request that came on the probe's stream. */
static hl_status become_legacy(hl_mcp *m) {
  m->era = HL__MCP_ERA_LEGACY;
  pthread_mutex_lock(&m->lock);
  m->version[0] = '\0';
  m->protocol_header = 0;
  pthread_mutex_unlock(&m->lock);
  return HL_OK;
}

hl_status hl__mcp_discover(hl_mcp *m) {
  m->era = HL__MCP_ERA_UNKNOWN;
  pthread_mutex_lock(&m->lock);
  snprintf(m->version, sizeof m->version, "%s", HL__MCP_MODERN_VERSION);
  m->protocol_header = 1;
  pthread_mutex_unlock(&m->lock);
  /* Twice at most: once more after an UnsupportedProtocolVersionError
   * that names our version after all. */
  for (int attempt = 0; attempt < 2; attempt++) {
    cJSON *resp = NULL;
    hl_status st = hl__mcp_roundtrip(m, NULL, "server/discover", NULL, NULL, &resp);
    if (st == HL_ERR_TIMEOUT && m->kind == HL__MCP_STDIO) return become_legacy(m); /* silent: legacy */
    if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(resp, "result");
    if (err) {
      int code = error_code(err);
      if (!modern_code(code)) { /* a legacy server's "unknown method" or "no session" */
        cJSON_Delete(resp);
        return become_legacy(m);
      }
      const cJSON *supported = supported_of(err);
      if (code == -32022 && in_array(supported, HL__MCP_MODERN_VERSION)) {
        cJSON_Delete(resp);
        if (attempt == 0) continue;
        break; /* refused again: not "no version in common" */
      }
      if (code == -32022 && !in_array(supported, HL__MCP_MODERN_VERSION) && names_legacy(supported)) {
        /* Modern, yet only the legacy versions in common: those are
         * spoken after initialize. */
        cJSON_Delete(resp);
        return become_legacy(m);
      }
      char text[600], list[300];
      hl__jsonrpc_error_text(err, text, sizeof text);
      list_text(supported, list, sizeof list);
      cJSON_Delete(resp);
      if (code == -32022)
        return hl__mcp_fail(m, HL_ERR_UNSUPPORTED,
                            "mcp server \"%s\": no protocol version in common: the server supports %s; "
                            "hookline speaks %s, 2025-11-25, 2025-06-18 and 2025-03-26",
                            m->name, list, HL__MCP_MODERN_VERSION);
      return hl__mcp_fail(m, HL_ERR_PROVIDER, "mcp server \"%s\": server/discover refused: %s", m->name, text);
    }
    const cJSON *versions = cJSON_GetObjectItemCaseSensitive(result, "supportedVersions");
    if (!cJSON_IsObject(result) || !cJSON_IsArray(versions)) { /* no DiscoverResult: legacy */
      cJSON_Delete(resp);
      return become_legacy(m);
    }
    if (in_array(versions, HL__MCP_MODERN_VERSION)) {
      hl_status bst = become_modern(m, resp);
      cJSON_Delete(resp);
      return bst;
    }
    bool legacy = names_legacy(versions);
    char list[300];
    list_text(versions, list, sizeof list);
    cJSON_Delete(resp);
    if (legacy) return become_legacy(m);
    return hl__mcp_fail(m, HL_ERR_UNSUPPORTED,
                        "mcp server \"%s\": no protocol version in common: the server supports %s; hookline "
                        "speaks %s, 2025-11-25, 2025-06-18 and 2025-03-26",
                        m->name, list, HL__MCP_MODERN_VERSION);
  }
  return hl__mcp_fail(m, HL_ERR_UNSUPPORTED,
                      "mcp server \"%s\": refused protocol version %s twice while saying it supports it",
                      m->name, HL__MCP_MODERN_VERSION);
}

/* The requests whose result may be input_required (mrtr.mdx). */
static bool may_ask(const char *method) {
  return strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
         strcmp(method, "resources/read") == 0;
}

/* Input requests in one round at most: each may run a handler that asks
 * a user or a model (sampling), so a server must not make the client
 * run thousands; the specification sets no number. */
#define MAX_INPUT_REQUESTS 16

/* The methods an input request may name (mrtr.mdx: what used to be the
 * server's own requests to the client). */
static bool input_method(const char *method) {
  return strcmp(method, "elicitation/create") == 0 || strcmp(method, "sampling/createMessage") == 0 ||
         strcmp(method, "roots/list") == 0;
}

/* Answer every inputRequests entry with the application's handler into
 * a new InputResponses object; NULL on failure (hl_last_error()). */
static cJSON *answer_inputs(hl_mcp *m, const char *method, const cJSON *requests) {
  int n = cJSON_GetArraySize(requests);
  if (n > MAX_INPUT_REQUESTS)
    return hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: asked for %d inputs in one round, at most %d are answered",
                   m->name, method, n, MAX_INPUT_REQUESTS),
           NULL;
  cJSON *responses = cJSON_CreateObject();
  if (!responses) return hl__oom(), NULL;
  const cJSON *req;
  cJSON_ArrayForEach(req, requests) {
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(req, "method");
    char key[80];
    hl__quote(key, sizeof key, req->string ? req->string : "");
    if (!cJSON_IsString(rm) || !input_method(rm->valuestring)) {
      cJSON_Delete(responses);
      return hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: input request %s names no method an input request may "
                     "(elicitation/create, sampling/createMessage, roots/list)", m->name, method, key),
             NULL;
    }
    cJSON *result = NULL;
    hl_status st = hl__mcp_handle_request(m, rm->valuestring, cJSON_GetObjectItemCaseSensitive(req, "params"),
                                          &result);
    if (st != HL_OK) {
      char why[600];
      snprintf(why, sizeof why, "%s", hl_last_error());
      cJSON_Delete(responses);
      if (st == HL_ERR_INVALID_ARGUMENTS && strcmp(rm->valuestring, "elicitation/create") == 0)
        return hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: the server asked for an %s (input request %s)",
                       m->name, method, why, key),
               NULL;
      if (st == HL_ERR_NOT_FOUND)
        return hl_fail(HL_ERR_PROVIDER,
                       "mcp server \"%s\": %s: the server asked for %s (input request %s), which this client "
                       "did not declare: no handler is registered for it",
                       m->name, method, rm->valuestring, key),
               NULL;
      return hl_fail(st, "mcp server \"%s\": %s: the %s handler failed: %s", m->name, method, rm->valuestring, why),
             NULL;
    }
    if (!cJSON_AddItemToObject(responses, req->string, result)) {
      cJSON_Delete(result);
      cJSON_Delete(responses);
      return hl__oom(), NULL;
    }
  }
  return responses;
}

hl_status hl__mcp_choose_era(hl_mcp *m) {
  if (m->want_era == HL_MCP_ERA_LEGACY) return become_legacy(m); /* no probe */
  hl_status st = hl__mcp_discover(m);
  if (st == HL_OK && m->want_era == HL_MCP_ERA_MODERN && m->era != HL__MCP_ERA_MODERN)
    return hl__mcp_fail(m, HL_ERR_UNSUPPORTED,
                        "mcp server \"%s\": does not speak protocol version %s, and the client was set "
                        "to speak only it (hl_mcp_set_era)",
                        m->name, HL__MCP_MODERN_VERSION);
  return st;
}

int hl__mcp_modern_next(hl_mcp *m, const char *method, const cJSON *resp, cJSON *params) {
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
  if (err) {
    if (error_code(err) != -32022) return 0;
    if (in_array(supported_of(err), HL__MCP_MODERN_VERSION)) return 1;
    char list[300];
    list_text(supported_of(err), list, sizeof list);
    hl_fail(HL_ERR_UNSUPPORTED, "mcp server \"%s\": %s: the server no longer supports protocol version %s (it "
            "supports %s); connect again", m->name, method, m->version, list);
    return -1;
  }
  const cJSON *result = cJSON_GetObjectItemCaseSensitive(resp, "result");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(result, "resultType");
  /* Absent means "complete" (results of earlier servers have none). */
  if (!cJSON_IsString(type) || strcmp(type->valuestring, "complete") == 0) return 0;
  char shown[80];
  hl__quote(shown, sizeof shown, type->valuestring);
  if (strcmp(type->valuestring, "input_required") != 0) {
    hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: unknown resultType %s", m->name, method, shown);
    return -1;
  }
  if (!may_ask(method)) {
    hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: answered input_required, which only tools/call, "
            "prompts/get and resources/read may", m->name, method);
    return -1;
  }
  const cJSON *requests = cJSON_GetObjectItemCaseSensitive(result, "inputRequests");
  const cJSON *state = cJSON_GetObjectItemCaseSensitive(result, "requestState");
  if ((requests && !cJSON_IsObject(requests)) || (state && !cJSON_IsString(state)) || (!requests && !state)) {
    hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: an input_required result needs an inputRequests object "
            "or a requestState string", m->name, method);
    return -1;
  }
  /* The retry carries this round's answers and state only. */
  cJSON_DeleteItemFromObjectCaseSensitive(params, "inputResponses");
  cJSON_DeleteItemFromObjectCaseSensitive(params, "requestState");
  if (requests) {
    cJSON *responses = answer_inputs(m, method, requests);
    if (!responses) return -1;
    if (!set_item(params, "inputResponses", responses)) {
      hl__oom();
      return -1;
    }
  }
  /* Echoed unchanged: the value is the server's, never looked into. */
  if (state && !set_item(params, "requestState", cJSON_CreateString(state->valuestring))) {
    hl__oom();
    return -1;
  }
  return 2;
}

void hl__mcp_subscribe(hl_mcp *m) {
  if (m->kind == HL__MCP_HTTP) {
    hl__mcp_http_listen(m);
    return;
  }
  pthread_mutex_lock(&m->lock);
  int64_t id = m->next_id++;
  pthread_mutex_unlock(&m->lock);
  cJSON *params = cJSON_CreateObject();
  cJSON *want = params ? cJSON_AddObjectToObject(params, "notifications") : NULL;
  if (!want || !cJSON_AddBoolToObject(want, "toolsListChanged", 1)) {
    cJSON_Delete(params);
    return;
  }
  params = hl__mcp_with_meta(m, params);
  char *text = params ? hl__jsonrpc_request(id, "subscriptions/listen", params) : NULL;
  cJSON_Delete(params);
  /* Its response, when the server ends it, is a late answer to a request
   * nobody waits for: dropped. A failure here only costs list changes. */
  if (text) hl__mcp_stdio_send(m, text);
  free(text);
}
