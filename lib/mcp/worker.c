/*
 * lib/mcp/worker.c - two threads per client. The worker runs what must
 * not run on the thread that reads the server (the event loop for stdio,
 * a request's thread for HTTP): the server's requests (a handler may ask
 * a user and take its time), the tool list's refresh after
 * notifications/tools/list_changed (a request of its own, whose answer
 * the reader has to deliver), and the events the reader queued
 * (observers never run on the event loop). The sender sends every answer
 * of the client (pings', refusals', handlers') and runs no application
 * code, so that no answer waits behind a handler. The answers' queue is
 * bounded by back-pressure: the reading threads hold back while
 * HL_MCP_MAX_QUEUED_REPLIES wait, and a server that takes none of them
 * for HL_MCP_ANSWER_TIMEOUT_MS is a dead peer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp_internal.h"
#include "core/util.h"
#include "hookline/json.h"
#include "net/http.h"

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

/* Queue an answer of the client's (taken; NULL: out of memory) for the
 * sender thread. `reader`: from a thread that reads the server (see
 * hl__mcp_server_request() for what it does when the queue is full);
 * else the worker's, which never waits (it has one answer at a time).
 * Without a sender (a client never connected: the fuzz target) the
 * queue keeps HL_MCP_MAX_QUEUED_REPLIES, for hl__mcp_worker_stop() to
 * free. False: not queued (the session failed or is closing; no
 * sender and the queue full), the request stays unanswered. */
static bool reply(hl_mcp *m, char *text, bool reader) {
  if (!text) return false;
  hl__mcp_reply *r = malloc(sizeof *r);
  pthread_mutex_lock(&m->lock);
  /* Over stdio the reading thread writes it now when the server takes
   * it without waiting (the common case: no thread wakes for it), and
   * nothing waits before it. */
  if (reader && m->kind == HL__MCP_STDIO && m->n_replies == 0) {
    pthread_mutex_unlock(&m->lock);
    if (hl__mcp_stdio_try_send(m, text)) {
      free(r);
      free(text);
      return true;
    }
    pthread_mutex_lock(&m->lock);
  }
  /* Over HTTP the stream waits: the layer pauses its transfer, so the
   * server's requests wait in its own buffers instead of the client's. */
  while (reader && m->kind == HL__MCP_HTTP && m->sender_running && m->n_replies >= HL_MCP_MAX_QUEUED_REPLIES &&
         !m->dead && !m->closed && !m->worker_stop) {
    int64_t until = hl__engine_now_ms() + HL_MCP_ANSWER_TIMEOUT_MS;
    struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000};
    /* Woken when an answer leaves: only a wait that saw none counts. */
    if (pthread_cond_timedwait(&m->space_cond, &m->lock, &ts) == ETIMEDOUT &&
        m->n_replies >= HL_MCP_MAX_QUEUED_REPLIES && !m->dead && !m->closed && !m->worker_stop) {
      pthread_mutex_unlock(&m->lock);
      hl__mcp_dead_peer(m);
      pthread_mutex_lock(&m->lock);
    }
  }
  bool ok = r && !m->dead && !m->closed && !m->worker_stop &&
            (m->sender_running || m->n_replies < HL_MCP_MAX_QUEUED_REPLIES);
  if (ok) {
    *r = (hl__mcp_reply){text, NULL};
    if (m->replies_tail) m->replies_tail->next = r;
    else m->replies = r;
    m->replies_tail = r;
    if (++m->n_replies >= HL_MCP_MAX_QUEUED_REPLIES) atomic_store(&m->replies_full, true);
    pthread_cond_signal(&m->replies_cond);
  }
  pthread_mutex_unlock(&m->lock);
  if (!ok) {
    free(r);
    free(text);
  }
  return ok;
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
  if (!reply(m, text, false)) atomic_fetch_add(&m->req_refused, 1);
}

void hl__mcp_server_request(hl_mcp *m, cJSON *msg) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  const char *method = cJSON_GetObjectItemCaseSensitive(msg, "method")->valuestring;
  /* A ping asks whether the connection is alive: the transport's to
   * answer, not behind a handler that waits for its user. */
  if (strcmp(method, "ping") == 0) {
    bool sent = reply(m, hl__jsonrpc_result(id, NULL), true);
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
    reply(m, hl__jsonrpc_error(id, -32603, why), true);
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

/* The sender: every answer goes out from here, one at a time, in the
 * order queued. A thread of its own that runs no handler and no
 * observer, so that a ping's answer never waits behind an application
 * that takes its time; a write the server does not take for
 * HL_MCP_ANSWER_TIMEOUT_MS ends the session (hl__mcp_dead_peer). */
static void *sender_main(void *arg) {
  hl_mcp *m = arg;
  pthread_mutex_lock(&m->lock);
  for (;;) {
    while (!m->replies && !m->worker_stop) pthread_cond_wait(&m->replies_cond, &m->lock);
    if (m->worker_stop) break;
    hl__mcp_reply *r = m->replies;
    m->replies = r->next;
    if (!m->replies) m->replies_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    if (m->kind == HL__MCP_STDIO) {
      hl__mcp_stdio_send(m, r->text); /* a dead peer ends the session there */
    } else if (hl__mcp_http_answer(m, r->text) == HL_ERR_TIMEOUT) {
      /* A POST the server stalled (took nothing, or did not answer it)
       * for HL_MCP_ANSWER_TIMEOUT_MS: dead, as a full queue's wait. */
      hl__mcp_dead_peer(m);
    }
    free(r->text);
    free(r);
    pthread_mutex_lock(&m->lock);
    /* Counted until sent, so that a full queue includes the one in hand.
     * Stdout is read again at half the cap, not at each answer: one
     * switch of the loop's watch per half queue. */
    m->n_replies--;
    bool resume = atomic_load(&m->replies_full) && m->n_replies <= HL_MCP_MAX_QUEUED_REPLIES / 2;
    if (resume) atomic_store(&m->replies_full, false);
    pthread_cond_broadcast(&m->space_cond);
    if (resume) {
      pthread_mutex_unlock(&m->lock);
      hl__mcp_stdio_resume(m);
      pthread_mutex_lock(&m->lock);
    }
  }
  pthread_mutex_unlock(&m->lock);
  return NULL;
}

/* Free the answers queued (m->lock held): how many. */
static size_t drop_replies_locked(hl_mcp *m) {
  size_t n = 0;
  for (hl__mcp_reply *r = m->replies, *next; r; r = next) {
    next = r->next;
    free(r->text);
    free(r);
    n++;
  }
  m->replies = m->replies_tail = NULL;
  m->n_replies -= n;
  return n;
}

void hl__mcp_dead_peer(hl_mcp *m) {
  char msg[700];
  size_t dropped = 0;
  pthread_mutex_lock(&m->lock);
  bool first = !m->dead && !m->closed;
  if (first) {
    m->dead = true;
    snprintf(m->dead_msg, sizeof m->dead_msg,
             "took none of the client's answers for %d s (HL_MCP_ANSWER_TIMEOUT_MS): a dead peer",
             HL_MCP_ANSWER_TIMEOUT_MS / 1000);
    dropped = drop_replies_locked(m);
    pthread_cond_broadcast(&m->space_cond);
  }
  snprintf(msg, sizeof msg, "mcp server \"%s\" %s", m->name, m->dead_msg);
  pthread_mutex_unlock(&m->lock);
  if (!first) return;
  atomic_fetch_add(&m->req_refused, dropped);
  /* Read on: what the server still sends is dropped (its requests
   * refused), and its exit is seen. */
  atomic_store(&m->replies_full, false);
  hl__mcp_stdio_resume(m);
  hl__mcp_protocol_failure(m, HL_ERR_NETWORK, msg);
  /* HTTP: a call whose stream is silent waits in its request, not on
   * m->cond: end the requests under way (they find their calls failed,
   * send_once). m->http lives until hl_mcp_free() joined this thread and
   * the calls (the listener's GET stream is another client's). */
  if (m->kind == HL__MCP_HTTP && m->http) hl__http_cancel_all(m->http);
}

hl_status hl__mcp_worker_start(hl_mcp *m) {
  if (pthread_create(&m->worker, NULL, worker_main, m) != 0)
    return hl_fail(HL_ERR_LIMIT, "mcp server \"%s\": cannot start a thread", m->name);
  m->worker_running = true;
  if (pthread_create(&m->sender, NULL, sender_main, m) != 0)
    return hl_fail(HL_ERR_LIMIT, "mcp server \"%s\": cannot start a thread", m->name);
  m->sender_running = true;
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
  pthread_cond_signal(&m->replies_cond);
  pthread_cond_broadcast(&m->space_cond);
  pthread_mutex_unlock(&m->lock);
  if (m->worker_running) pthread_join(m->worker, NULL);
  m->worker_running = false;
  if (m->sender_running) pthread_join(m->sender, NULL);
  pthread_mutex_lock(&m->lock);
  m->sender_running = false;
  drop_replies_locked(m);
  m->n_replies = 0; /* none in the sender's hands either now */
  pthread_mutex_unlock(&m->lock);
  /* What is left, also when no worker ever ran (a client never
   * connected that was given messages: tests/fuzz/fuzz_mcp.c). */
  for (hl__mcp_job *j = m->jobs, *n; j; j = n) {
    n = j->next;
    cJSON_Delete(j->msg);
    free(j);
  }
  m->jobs = m->jobs_tail = NULL;
  m->req_queued = m->req_bytes = 0;
}
