/*
 * lib/mcp/worker.c - one thread per client for what must not run on the
 * thread that reads the server (the event loop for stdio, a request's
 * thread for HTTP): answering server requests (a handler may ask a user
 * and take its time), refreshing the tool list after
 * notifications/tools/list_changed (which needs a request of its own,
 * whose answer the reader has to deliver), and emitting the events the
 * reader queued (observers never run on the event loop).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_internal.h"
#include "core/util.h"

/* An accepted elicitation gets the requested schema's defaults for the
 * fields the handler left out (SEP-1034: the server can rely on them). */
static void apply_defaults(const cJSON *params, cJSON *result) {
  const cJSON *action = cJSON_GetObjectItemCaseSensitive(result, "action");
  if (!cJSON_IsString(action) || strcmp(action->valuestring, "accept") != 0) return;
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(params, "requestedSchema");
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
  if (!cJSON_IsObject(props)) return;
  cJSON *content = cJSON_GetObjectItemCaseSensitive(result, "content");
  if (!content) content = cJSON_AddObjectToObject(result, "content");
  if (!cJSON_IsObject(content)) return;
  const cJSON *p;
  cJSON_ArrayForEach(p, props) {
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(p, "default");
    if (def && p->string && !cJSON_GetObjectItemCaseSensitive(content, p->string))
      cJSON_AddItemToObject(content, p->string, cJSON_Duplicate(def, 1));
  }
}

/* HL_OK when the client declared the mode of the elicitation/create
 * `params` (absent: form), else HL_ERR_INVALID_ARGUMENTS naming it: the
 * server must not send it (client/elicitation.mdx), and the handler,
 * written for the modes declared, must not see it. */
static hl_status check_mode(const hl_mcp *m, const cJSON *params) {
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(params, "mode");
  unsigned declared = m->elicit_modes ? m->elicit_modes : HL_MCP_ELICIT_FORM;
  unsigned want = !mode                                                      ? HL_MCP_ELICIT_FORM
                  : !cJSON_IsString(mode)                                    ? 0
                  : strcmp(mode->valuestring, "form") == 0                   ? HL_MCP_ELICIT_FORM
                  : strcmp(mode->valuestring, "url") == 0                    ? HL_MCP_ELICIT_URL
                                                                             : 0;
  if (want & declared) return HL_OK;
  char shown[80];
  hl__quote(shown, sizeof shown, cJSON_IsString(mode) ? mode->valuestring : "(not a string)");
  return hl_fail(HL_ERR_INVALID_ARGUMENTS, "elicitation mode %s, which this client did not declare", shown);
}

hl_status hl__mcp_handle_request(hl_mcp *m, const char *method, const cJSON *params, cJSON **result) {
  *result = NULL;
  if (strcmp(method, "elicitation/create") == 0) {
    hl_status st = check_mode(m, params);
    if (st) return st;
  }
  hl_mcp_request_fn fn = NULL;
  void *user = NULL;
  for (size_t i = 0; i < m->n_handlers; i++)
    if (strcmp(m->handlers[i].method, method) == 0) {
      fn = m->handlers[i].fn;
      user = m->handlers[i].user;
    }
  if (fn) {
    hl_clear_error();
    hl_status st = fn(m, method, params, result, user);
    if (st == HL_OK && cJSON_IsObject(*result)) {
      if (strcmp(method, "elicitation/create") == 0) apply_defaults(params, *result);
      return HL_OK;
    }
    cJSON_Delete(*result);
    *result = NULL;
    char why[600];
    if (st == HL_OK) snprintf(why, sizeof why, "the handler returned no result object");
    else snprintf(why, sizeof why, "%s", hl_last_error()[0] ? hl_last_error() : hl_strerror(st));
    /* HL_ERR_NOT_FOUND is kept for "no handler" (-32601). */
    if (st == HL_OK || st == HL_ERR_NOT_FOUND) st = HL_ERR_EXECUTION_FAILED;
    return hl_fail(st, "%s", why);
  }
  if (strcmp(method, "roots/list") == 0 && m->roots) {
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddItemToObject(r, "roots", cJSON_Duplicate(m->roots, 1))) {
      cJSON_Delete(r);
      return hl__oom();
    }
    *result = r;
    return HL_OK;
  }
  return hl_fail(HL_ERR_NOT_FOUND, "no handler for %s", method);
}

static void answer(hl_mcp *m, cJSON *msg) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  const char *method = cJSON_GetObjectItemCaseSensitive(msg, "method")->valuestring;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
  char *text = NULL;
  cJSON *result = NULL;
  hl_status st = strcmp(method, "ping") == 0 ? HL_OK : hl__mcp_handle_request(m, method, params, &result);
  if (st == HL_OK) text = hl__jsonrpc_result(id, result);
  else if (st == HL_ERR_NOT_FOUND) text = hl__jsonrpc_error(id, -32601, "Method not found");
  else if (st == HL_ERR_INVALID_ARGUMENTS) text = hl__jsonrpc_error(id, -32602, hl_last_error());
  else text = hl__jsonrpc_error(id, -32603, hl_last_error());
  cJSON_Delete(result);
  if (text) {
    if (m->kind == HL__MCP_STDIO) hl__mcp_stdio_send(m, text);
    else hl__mcp_http_send(m, text, NULL, NULL, NULL);
  }
  free(text);
}

static void *worker_main(void *arg) {
  hl_mcp *m = arg;
  pthread_mutex_lock(&m->lock);
  for (;;) {
    while (!m->jobs && !m->evq && !m->worker_stop) pthread_cond_wait(&m->jobs_cond, &m->lock);
    if (m->worker_stop) break;
    if (m->evq) {
      pthread_mutex_unlock(&m->lock);
      hl__mcp_emit_later(m, UINT64_MAX);
      pthread_mutex_lock(&m->lock);
      continue;
    }
    hl__mcp_job *j = m->jobs;
    m->jobs = j->next;
    if (!m->jobs) m->jobs_tail = NULL;
    bool connected = m->connected;
    pthread_mutex_unlock(&m->lock);
    if (j->msg) {
      answer(m, j->msg);
      cJSON_Delete(j->msg);
    } else if (connected) {
      /* Before the handshake ends the first tools/list is still to come. */
      hl__mcp_list_tools(m);
    }
    free(j);
    pthread_mutex_lock(&m->lock);
  }
  pthread_mutex_unlock(&m->lock);
  return NULL;
}

hl_status hl__mcp_worker_start(hl_mcp *m) {
  if (pthread_create(&m->worker, NULL, worker_main, m) != 0)
    return hl_fail(HL_ERR_LIMIT, "mcp server \"%s\": cannot start a thread", m->name);
  m->worker_running = true;
  return HL_OK;
}

void hl__mcp_worker_post(hl_mcp *m, cJSON *msg) {
  hl__mcp_job *j = calloc(1, sizeof *j);
  if (!j) {
    cJSON_Delete(msg);
    return;
  }
  j->msg = msg;
  pthread_mutex_lock(&m->lock);
  if (m->worker_stop) {
    pthread_mutex_unlock(&m->lock);
    cJSON_Delete(msg);
    free(j);
    return;
  }
  if (!msg) /* one pending refresh is enough */
    for (hl__mcp_job *k = m->jobs; k; k = k->next)
      if (!k->msg) {
        pthread_mutex_unlock(&m->lock);
        free(j);
        return;
      }
  if (m->jobs_tail) m->jobs_tail->next = j;
  else m->jobs = j;
  m->jobs_tail = j;
  pthread_cond_signal(&m->jobs_cond);
  pthread_mutex_unlock(&m->lock);
}

void hl__mcp_worker_stop(hl_mcp *m) {
  if (!m->worker_running) return;
  pthread_mutex_lock(&m->lock);
  m->worker_stop = true;
  pthread_cond_signal(&m->jobs_cond);
  pthread_mutex_unlock(&m->lock);
  pthread_join(m->worker, NULL);
  m->worker_running = false;
  for (hl__mcp_job *j = m->jobs, *n; j; j = n) {
    n = j->next;
    cJSON_Delete(j->msg);
    free(j);
  }
  m->jobs = m->jobs_tail = NULL;
}
