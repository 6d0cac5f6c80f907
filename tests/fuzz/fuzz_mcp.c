/*
 * fuzz_mcp.c - libFuzzer target for what the MCP client does with bytes
 * from a server: framing (a POST answer as one JSON body or an SSE stream,
 * split the way the input says), JSON-RPC parsing and id matching, the
 * mapping of a tools/call result to the tool result the model sees, and
 * tools/list decoding with its schemas.
 *
 * The client is a real hl_mcp (HTTP, never connected); the bytes go in
 * through lib/mcp's own internal entry points (hl__mcp_http_decode,
 * hl__mcp_map_result, hl__mcp_set_tools), no server in between.
 *
 * Input: byte 0 picks the mode (% 4), the rest is
 *   0  chunking (fuzz_util.h's 2 bytes), then the body answering request 1
 *   1  a tools/call result (JSON)
 *   2  a tools/list "tools" array, NUL, a tools/call result for its first
 *      tool (checked against that tool's outputSchema)
 *   3  a modern (2026-07-28) server's whole response to a tools/call, as
 *      hl__mcp_modern_next() reads it (input_required rounds, -32022),
 *      the client having an elicitation handler and roots
 * Invariants: a request ends answered (a response object whose id is 1,
 * with result or error) or failed with a message naming the server, never
 * both and never neither when the answer arrived; server requests queued
 * for the worker are objects with a string method; a mapped result
 * re-encodes and parses back equal, and mapping is deterministic; every
 * error has a message and a status of the documented kinds; tools/list
 * gives at most one tool per entry, each named [A-Za-z0-9_-]{1,64}, no two
 * alike, with an object schema; a modern response is complete, a retry
 * or a failure with a message naming the server, and a retry's params
 * carry the server's requestState unchanged and an answer for each of
 * its inputRequests, nothing else of the round before.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "hookline/json.h"
#include "hookline/mcp.h"
#include "mcp/mcp_internal.h"

#define NAME "fz"

static size_t next_chunk(void *user) { return fuzz_chunks_next(user); }

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 64) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '-'))
      return false;
  return true;
}

/* Drop what the client queued for its worker (never started here). */
static void drain_jobs(hl_mcp *m) {
  for (hl__mcp_job *j = m->jobs, *n; j; j = n) {
    n = j->next;
    if (j->msg) {
      const cJSON *method = cJSON_GetObjectItemCaseSensitive(j->msg, "method");
      FUZZ_CHECK(cJSON_IsObject(j->msg) && cJSON_IsString(method), "queued server request without a method");
    }
    cJSON_Delete(j->msg);
    free(j);
  }
  m->jobs = m->jobs_tail = NULL;
}

static char *print(const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  FUZZ_CHECK(s != NULL, "a mapped result does not print");
  return s;
}

/* Map `result` and check the invariants of the mapping. */
static void check_map(hl_mcp *m, const cJSON *result, const cJSON *schema) {
  cJSON *out = NULL;
  hl_status st = hl__mcp_map_result(m, "t", result, schema, &out);
  if (st != HL_OK) {
    FUZZ_CHECK(out == NULL, "a result set on failure");
    FUZZ_CHECK(st == HL_ERR_EXECUTION_FAILED || st == HL_ERR_PROVIDER, "map: %s", hl_status_name(st));
    FUZZ_CHECK(hl_last_error()[0] != '\0', "an error without a message");
    return;
  }
  FUZZ_CHECK(out != NULL, "HL_OK without a result");
  char *text = print(out);
  cJSON *back = NULL;
  FUZZ_CHECK(hl_json_parse(text, strlen(text), &back) == HL_OK, "a mapped result does not parse back: %s", text);
  FUZZ_CHECK(hl_json_equal(out, back), "a mapped result changes through its text: %s", text);
  cJSON *again = NULL;
  FUZZ_CHECK(hl__mcp_map_result(m, "t", result, schema, &again) == HL_OK, "second mapping failed");
  char *text2 = print(again);
  FUZZ_CHECK(strcmp(text, text2) == 0, "mapping is not deterministic");
  if (cJSON_IsString(out) && !schema) {
    /* Only text items: the text, joined. */
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(result, "content")) {
      const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
      FUZZ_CHECK(cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0,
                 "a string result from content that is not all text");
    }
  }
  free(text);
  free(text2);
  cJSON_Delete(back);
  cJSON_Delete(again);
  cJSON_Delete(out);
}

static void run_body(hl_mcp *m, const uint8_t *data, size_t size) {
  fuzz_chunks ch;
  size_t used = fuzz_chunks_init(&ch, data, size);
  hl__mcp_pending p = {.id = 1, .tool = "t"};
  pthread_mutex_lock(&m->lock);
  m->next_id = 2;
  m->pending = &p;
  pthread_mutex_unlock(&m->lock);
  hl_status st = hl__mcp_http_decode(m, &p, (const char *)data + used, size - used, next_chunk, &ch);
  if (st != HL_OK) {
    FUZZ_CHECK(st == HL_ERR_TOO_LARGE || st == HL_ERR_NOMEM, "decode: %s", hl_status_name(st));
    FUZZ_CHECK(strstr(hl_last_error(), "\"" NAME "\"") != NULL, "message does not name the server: %s",
               hl_last_error());
  }
  pthread_mutex_lock(&m->lock);
  m->pending = NULL;
  pthread_mutex_unlock(&m->lock);
  drain_jobs(m);
  if (p.response) {
    FUZZ_CHECK(p.done && p.fail == HL_OK, "a response and a failure");
    int64_t id = 0;
    FUZZ_CHECK(cJSON_IsObject(p.response) &&
                   hl__jsonrpc_int_id(cJSON_GetObjectItemCaseSensitive(p.response, "id"), &id) && id == 1,
               "the response matched is not request 1's");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(p.response, "result");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(p.response, "error");
    FUZZ_CHECK(res || err, "a response without result or error");
    if (err && cJSON_IsObject(err)) {
      char text[600];
      hl__jsonrpc_error_text(err, text, sizeof text);
      FUZZ_CHECK(strncmp(text, "error ", 6) == 0, "error text: %s", text);
    } else if (res) {
      check_map(m, res, NULL);
    }
  } else if (p.done) {
    FUZZ_CHECK(p.fail != HL_OK, "done without a response or a failure");
    FUZZ_CHECK(strstr(p.failmsg, "\"" NAME "\"") != NULL, "failure does not name the server: %s", p.failmsg);
  }
  cJSON_Delete(p.response);
  cJSON_Delete(p.notes);
}

static void run_result(hl_mcp *m, const uint8_t *data, size_t size) {
  cJSON *result = NULL;
  if (hl_json_parse((const char *)data, size, &result) != HL_OK) return;
  check_map(m, result, NULL);
  cJSON_Delete(result);
}

static void run_tools(hl_mcp *m, const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, '\0', size);
  size_t n1 = nul ? (size_t)(nul - data) : size;
  cJSON *raw = NULL;
  if (hl_json_parse((const char *)data, n1, &raw) != HL_OK) return;
  if (!cJSON_IsArray(raw)) {
    cJSON_Delete(raw);
    return;
  }
  size_t entries = (size_t)cJSON_GetArraySize(raw);
  unsigned gen = hl_mcp_tools_generation(m);
  hl__mcp_set_tools(m, raw);
  FUZZ_CHECK(hl_mcp_tools_generation(m) == gen + 1, "the generation did not move");
  FUZZ_CHECK(m->n_tools <= entries, "%zu tools from %zu entries", m->n_tools, entries);
  for (size_t i = 0; i < m->n_tools; i++) {
    const char *name = hl_tool_name(m->tools[i]);
    FUZZ_CHECK(valid_name(name), "tool name \"%s\"", name);
    for (size_t k = 0; k < i; k++) FUZZ_CHECK(strcmp(name, hl_tool_name(m->tools[k])) != 0, "two tools \"%s\"", name);
    FUZZ_CHECK(cJSON_IsObject(hl_tool_schema(m->tools[i])), "tool \"%s\" without an object schema", name);
  }
  cJSON *copy = hl_mcp_tools_json(m);
  FUZZ_CHECK(copy && cJSON_GetArraySize(copy) == (int)entries, "tools_json lost entries");
  cJSON_Delete(copy);
  if (nul) {
    cJSON *result = NULL;
    if (hl_json_parse((const char *)nul + 1, size - n1 - 1, &result) == HL_OK) {
      const cJSON *schema = m->n_tools ? hl__mcp_tool_output_schema(m->tools[0]) : NULL;
      check_map(m, result, schema);
      cJSON_Delete(result);
    }
  }
  drain_jobs(m);
}

static hl_status accept_all(hl_mcp *m, const char *method, const cJSON *params, cJSON **result, void *user) {
  (void)m, (void)method, (void)params, (void)user;
  *result = cJSON_CreateObject();
  cJSON_AddStringToObject(*result, "action", "accept");
  return HL_OK;
}

static void run_modern(hl_mcp *m, const uint8_t *data, size_t size) {
  cJSON *resp = NULL;
  if (hl_json_parse((const char *)data, size, &resp) != HL_OK) return;
  hl_mcp_set_handler(m, "elicitation/create", accept_all, NULL);
  cJSON *roots = cJSON_Parse("[{\"uri\":\"file:///r\"}]");
  hl_mcp_set_roots(m, roots);
  cJSON_Delete(roots);
  m->era = HL__MCP_ERA_MODERN;
  snprintf(m->version, sizeof m->version, "%s", HL__MCP_MODERN_VERSION);
  /* The round before's answers and state, which a retry must not keep. */
  cJSON *params = cJSON_Parse("{\"name\":\"t\",\"inputResponses\":{\"old\":{}},\"requestState\":\"old\"}");
  FUZZ_CHECK(params != NULL, "params");
  int next = hl__mcp_modern_next(m, "tools/call", resp, params);
  FUZZ_CHECK(next >= -1 && next <= 2, "modern_next: %d", next);
  if (next < 0)
    FUZZ_CHECK(strstr(hl_last_error(), "\"" NAME "\"") != NULL, "message does not name the server: %s",
               hl_last_error());
  if (next == 2) {
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(resp, "result");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(result, "requestState");
    const cJSON *sent = cJSON_GetObjectItemCaseSensitive(params, "requestState");
    FUZZ_CHECK(state ? cJSON_IsString(sent) && strcmp(sent->valuestring, state->valuestring) == 0 : !sent,
               "requestState not echoed as sent");
    const cJSON *requests = cJSON_GetObjectItemCaseSensitive(result, "inputRequests");
    const cJSON *answers = cJSON_GetObjectItemCaseSensitive(params, "inputResponses");
    FUZZ_CHECK(requests ? cJSON_GetArraySize(answers) == cJSON_GetArraySize(requests) : !answers,
               "inputResponses do not answer the inputRequests");
    const cJSON *r;
    cJSON_ArrayForEach(r, requests) FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(answers, r->string) != NULL,
                                               "input request \"%s\" unanswered", r->string);
  }
  cJSON_Delete(params);
  cJSON_Delete(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  hl_mcp *m = hl_mcp_new_http(NAME, "http://127.0.0.1:9/mcp");
  FUZZ_CHECK(m != NULL, "hl_mcp_new_http");
  /* A smaller cap than the default, so that the fuzzer reaches it. */
  hl_mcp_set_max_message_bytes(m, 4096);
  switch (data[0] % 4) {
  case 0: run_body(m, data + 1, size - 1); break;
  case 1: run_result(m, data + 1, size - 1); break;
  case 2: run_tools(m, data + 1, size - 1); break;
  default: run_modern(m, data + 1, size - 1); break;
  }
  hl_mcp_free(m);
  return 0;
}
