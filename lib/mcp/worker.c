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
#include "hookline/json.h"

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
      hl_json_add(content, p->string, cJSON_Duplicate(def, 1));
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
    if (!r || !hl_json_add(r, "roots", cJSON_Duplicate(m->roots, 1))) {
      cJSON_Delete(r);
      return hl__oom();
    }
    *result = r;
    return HL_OK;
  }
  return hl_fail(HL_ERR_NOT_FOUND, "no handler for %s", method);
}

/* Send an answer (the worker: it may wait for the server). */
static void send_answer(hl_mcp *m, const char *text) {
  if (m->kind == HL__MCP_STDIO) hl__mcp_stdio_send(m, text);
  else hl__mcp_http_send(m, text, NULL, NULL, NULL);
}

static void answer(hl_mcp *m, cJSON *msg) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  const char *method = cJSON_GetObjectItemCaseSensitive(msg, "method")->valuestring;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
  char *text = NULL;
  cJSON *result = NULL;
  hl_status st = hl__mcp_handle_request(m, method, params, &result);
  if (st == HL_OK) text = hl__jsonrpc_result(id, result);
  else if (st == HL_ERR_NOT_FOUND) text = hl__jsonrpc_error(id, -32601, "Method not found");
  else if (st == HL_ERR_INVALID_ARGUMENTS) text = hl__jsonrpc_error(id, -32602, hl_last_error());
  else text = hl__jsonrpc_error(id, -32603, hl_last_error());
  cJSON_Delete(result);
  if (text) send_answer(m, text);
  free(text);
}

/* An answer of the client's own (taken; NULL: out of memory) from a
 * reading thread: written now if the server takes it without waiting
 * (stdio), else queued for the worker, within HL_MCP_MAX_QUEUED_REPLIES.
 * False: it was not, the request stays unanswered. */
static bool reply(hl_mcp *m, char *text) {
  if (!text) return false;
  if (m->kind == HL__MCP_STDIO && hl__mcp_stdio_try_send(m, text)) {
    free(text);
    return true;
  }
  hl__mcp_reply *r = malloc(sizeof *r);
  pthread_mutex_lock(&m->lock);
  bool ok = r && !m->worker_stop && m->n_replies < HL_MCP_MAX_QUEUED_REPLIES;
  if (ok) {
    *r = (hl__mcp_reply){text, NULL};
    if (m->replies_tail) m->replies_tail->next = r;
    else m->replies = r;
    m->replies_tail = r;
    m->n_replies++;
    pthread_cond_signal(&m->jobs_cond);
  }
  pthread_mutex_unlock(&m->lock);
  if (!ok) {
    free(r);
    free(text);
  }
  return ok;
}

void hl__mcp_server_request(hl_mcp *m, cJSON *msg) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  const char *method = cJSON_GetObjectItemCaseSensitive(msg, "method")->valuestring;
  /* A ping asks whether the connection is alive: the transport's to
   * answer, not behind a handler that waits for its user. */
  if (strcmp(method, "ping") == 0) {
    bool sent = reply(m, hl__jsonrpc_result(id, NULL));
    cJSON_Delete(msg);
    if (!sent) atomic_fetch_add(&m->req_refused, 1);
    return;
  }
  size_t weight = hl__mcp_json_weight(msg);
  hl__mcp_job *j = calloc(1, sizeof *j);
  pthread_mutex_lock(&m->lock);
  bool stopping = m->worker_stop;
  bool ok = j && !stopping &&
            hl__mcp_fits(m->req_queued, m->req_bytes, weight, HL_MCP_MAX_QUEUED_REQUESTS,
                         HL_MCP_MAX_QUEUED_REQUEST_BYTES);
  if (ok) {
    *j = (hl__mcp_job){msg, weight, NULL};
    if (m->jobs_tail) m->jobs_tail->next = j;
    else m->jobs = j;
    m->jobs_tail = j;
    m->req_queued++;
    m->req_bytes += weight;
    pthread_cond_signal(&m->jobs_cond);
  }
  size_t queued = m->req_queued;
  pthread_mutex_unlock(&m->lock);
  if (ok) return;
  free(j);
  if (!stopping) {
    /* -32603, the code the spec gives a request the receiver cannot
     * fulfil (JSON-RPC's internal error; MCP names it for sampling,
     * roots and elicitation failures): the -32000 range is the
     * implementation's, and MCP takes codes from it for meanings of its
     * own. The message says it is load, not a fault. */
    char why[200];
    snprintf(why, sizeof why, "client busy: %zu requests of this server already wait for an answer "
             "(HL_MCP_MAX_QUEUED_REQUESTS)", queued);
    atomic_fetch_add(&m->req_refused, 1);
    reply(m, hl__jsonrpc_error(id, -32603, why));
  }
  cJSON_Delete(msg);
}

unsigned long long hl_mcp_requests_refused(const hl_mcp *m) {
  return m ? atomic_load(&((hl_mcp *)m)->req_refused) : 0;
}

static void *worker_main(void *arg) {
  hl_mcp *m = arg;
  pthread_mutex_lock(&m->lock);
  for (;;) {
    while (!m->jobs && !m->evq && !m->replies && !m->worker_stop) pthread_cond_wait(&m->jobs_cond, &m->lock);
    if (m->worker_stop) break;
    if (m->replies) { /* first: a ping waits for nothing else */
      hl__mcp_reply *r = m->replies;
      m->replies = r->next;
      if (!m->replies) m->replies_tail = NULL;
      m->n_replies--;
      pthread_mutex_unlock(&m->lock);
      send_answer(m, r->text);
      free(r->text);
      free(r);
      pthread_mutex_lock(&m->lock);
      continue;
    }
    if (m->evq) {
      pthread_mutex_unlock(&m->lock);
      hl__mcp_emit_later(m, UINT64_MAX);
      pthread_mutex_lock(&m->lock);
      continue;
    }
    hl__mcp_job *j = m->jobs;
    m->jobs = j->next;
    if (!m->jobs) m->jobs_tail = NULL;
    if (j->msg) {
      m->req_queued--;
      m->req_bytes -= j->weight;
    }
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

void hl__mcp_worker_refresh(hl_mcp *m) {
  hl__mcp_job *j = calloc(1, sizeof *j);
  if (!j) return;
  pthread_mutex_lock(&m->lock);
  bool queued = m->worker_stop;
  for (hl__mcp_job *k = m->jobs; k && !queued; k = k->next) queued = !k->msg; /* one pending is enough */
  if (!queued) {
    if (m->jobs_tail) m->jobs_tail->next = j;
    else m->jobs = j;
    m->jobs_tail = j;
    pthread_cond_signal(&m->jobs_cond);
  }
  pthread_mutex_unlock(&m->lock);
  if (queued) free(j);
}

void hl__mcp_worker_stop(hl_mcp *m) {
  pthread_mutex_lock(&m->lock);
  m->worker_stop = true;
  pthread_cond_signal(&m->jobs_cond);
  pthread_mutex_unlock(&m->lock);
  if (m->worker_running) pthread_join(m->worker, NULL);
  m->worker_running = false;
  /* What is left, also when no worker ever ran (a client never
   * connected that was given messages: tests/fuzz/fuzz_mcp.c). */
  for (hl__mcp_job *j = m->jobs, *n; j; j = n) {
    n = j->next;
    cJSON_Delete(j->msg);
    free(j);
  }
  m->jobs = m->jobs_tail = NULL;
  m->req_queued = m->req_bytes = 0;
  for (hl__mcp_reply *r = m->replies, *n; r; r = n) {
    n = r->next;
    free(r->text);
    free(r);
  }
  m->replies = m->replies_tail = NULL;
  m->n_replies = 0;
}
