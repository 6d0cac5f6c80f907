/*
 * lib/mcp/jsonrpc.c - JSON-RPC 2.0 framing for MCP: requests with integer
 * ids, notifications, results and errors as one-line JSON text (no
 * embedded newline, as the stdio transport requires: cJSON escapes them).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "core/util.h"
#include "hookline/json.h"

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

/* A method name that needs no JSON escaping (every MCP method does not). */
static bool plain(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\') return false;
  return true;
}

char *hl__jsonrpc_request(int64_t id, const char *method, const cJSON *params) {
  /* The envelope is written around the printed params rather than built
   * as a tree: a request is the hot path of every tool call (no copy of
   * the params, no envelope objects to allocate and free). Same text as
   * the tree would print. */
  if (plain(method) && id >= 0) {
    char *ps = params ? hl__json_print_exact(params) : NULL;
    if (params && !ps) return NULL;
    static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    char head[64];
    memcpy(head, pre, sizeof pre - 1);
    int hn = (int)(sizeof pre - 1);
    char digits[24];
    int nd = 0;
    uint64_t u = (uint64_t)id;
    do digits[nd++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    while (nd > 0) head[hn++] = digits[--nd];
    memcpy(head + hn, ",\"method\":\"", 11);
    hn += 11;
    size_t ml = strlen(method), pl = ps ? strlen(ps) : 0;
    char *out = malloc((size_t)hn + ml + pl + 16);
    if (out) {
      char *w = out;
      memcpy(w, head, (size_t)hn);
      w += hn;
      memcpy(w, method, ml);
      w += ml;
      *w++ = '"';
      if (ps) {
        memcpy(w, ",\"params\":", 10);
        w += 10;
        memcpy(w, ps, pl);
        w += pl;
      }
      *w++ = '}';
      *w = '\0';
    }
    free(ps);
    return out;
  }
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
  if (!hl_json_add(m, "error", e)) {
    cJSON_Delete(m);
    return NULL;
  }
  return print_msg(m);
}

bool hl__jsonrpc_int_id(const cJSON *id, int64_t *out) {
  if (!cJSON_IsNumber(id)) return false;
  double d = id->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < 0 || d > 9007199254740992.0) return false;
  *out = (int64_t)d;
  return true;
}

/* What the error codes MCP 2026-07-28 reserves mean (basic/index.mdx). */
static const char *mcp_meaning(int code) {
  switch (code) {
  case -32020: return " (header mismatch: the server read the HTTP headers differently from the body)";
  case -32021: return " (the server requires a client capability this client did not declare)";
  case -32022: return " (unsupported protocol version)";
  default: return "";
  }
}

void hl__jsonrpc_error_text(const cJSON *error, char *buf, size_t size) {
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(error, "message");
  int c = cJSON_IsNumber(code) ? code->valueint : 0;
  snprintf(buf, size, "error %d: %s%s", c, cJSON_IsString(msg) ? msg->valuestring : "(no message)",
           mcp_meaning(c));
}
