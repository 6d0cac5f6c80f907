/*
 * lib/mcp/jsonrpc.c - JSON-RPC 2.0 framing for MCP: requests with integer
 * ids, notifications, results and errors as one-line JSON text (no
 * embedded newline, as the stdio transport requires: cJSON escapes them).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mcp_internal.h"
#include "core/util.h"

static char *print_msg(cJSON *msg) {
  char *s = msg ? hl__json_print_exact(msg) : NULL;
  cJSON_Delete(msg);
  return s;
}

static cJSON *base(void) {
  cJSON *m = cJSON_CreateObject();
  if (m && !cJSON_AddStringToObject(m, "jsonrpc", "2.0")) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

static bool add_params(cJSON *m, const cJSON *params) {
  if (!params) return true;
  cJSON *c = cJSON_Duplicate(params, 1);
  return c && cJSON_AddItemToObject(m, "params", c);
}

char *hl__jsonrpc_request(int64_t id, const char *method, const cJSON *params) {
  cJSON *m = base();
  if (!m || !cJSON_AddNumberToObject(m, "id", (double)id) ||
      !cJSON_AddStringToObject(m, "method", method) || !add_params(m, params)) {
    cJSON_Delete(m);
    return NULL;
  }
  return print_msg(m);
}

char *hl__jsonrpc_notification(const char *method, const cJSON *params) {
  cJSON *m = base();
  if (!m || !cJSON_AddStringToObject(m, "method", method) || !add_params(m, params)) {
    cJSON_Delete(m);
    return NULL;
  }
  return print_msg(m);
}

static bool add_id(cJSON *m, const cJSON *id) {
  cJSON *c = id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull();
  return c && cJSON_AddItemToObject(m, "id", c);
}

char *hl__jsonrpc_result(const cJSON *id, const cJSON *result) {
  cJSON *m = base();
  cJSON *r = result ? cJSON_Duplicate(result, 1) : cJSON_CreateObject();
  if (!m || !add_id(m, id) || !r || !cJSON_AddItemToObject(m, "result", r)) {
    if (r && m && !cJSON_GetObjectItemCaseSensitive(m, "result")) cJSON_Delete(r);
    cJSON_Delete(m);
    return NULL;
  }
  return print_msg(m);
}

char *hl__jsonrpc_error(const cJSON *id, int code, const char *message) {
  cJSON *m = base();
  cJSON *e = cJSON_CreateObject();
  if (!m || !e || !add_id(m, id) || !cJSON_AddNumberToObject(e, "code", code) ||
      !cJSON_AddStringToObject(e, "message", message ? message : "")) {
    cJSON_Delete(e);
    cJSON_Delete(m);
    return NULL;
  }
  cJSON_AddItemToObject(m, "error", e);
  return print_msg(m);
}

bool hl__jsonrpc_int_id(const cJSON *id, int64_t *out) {
  if (!cJSON_IsNumber(id)) return false;
  double d = id->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < 0 || d > 9007199254740992.0) return false;
  *out = (int64_t)d;
  return true;
}

void hl__jsonrpc_error_text(const cJSON *error, char *buf, size_t size) {
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
  snprintf(buf, size, "error %d: %s", cJSON_IsNumber(code) ? code->valueint : 0,
           cJSON_IsString(msg) ? msg->valuestring : "(no message)");
}
