/*
 * lib/mcp/session.c - one MCP client session: configuration, connect
 * (era detection in era.c, then a legacy server's initialize handshake
 * with version negotiation), requests waiting for their responses by id
 * (a modern request's retries and input rounds around them), and the
 * dispatch of what the server sends (responses, notifications, server
 * requests) whatever the transport.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookline/json.h"
#include "mcp_internal.h"
#include "core/util.h"
#include "net/http.h"
#include "oauth.h"

/* The legacy revisions the initialize handshake accepts. */
static const char *const supported_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

void hl__mcp_ref(hl_mcp *m) { atomic_fetch_add(&m->refs, 1); }

static void free_strv(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

static void free_later(hl__mcp_later *e) {
  free(e->name);
  free(e->text);
  cJSON_Delete(e->data);
  free(e);
}

static void destroy(hl_mcp *m) {
  hl__mcp_tools_clear(m);
  for (hl__mcp_later *e = m->evq, *n; e; e = n) {
    n = e->next;
    free_later(e);
  }
  free(m->name);
  free_strv(m->argv);
  for (size_t i = 0; i < m->n_env; i++) free(m->env[i]);
  free(m->env);
  free(m->cwd);
  free(m->url);
  for (size_t i = 0; i < m->n_headers; i++) free(m->headers[i]);
  free(m->headers);
  free(m->ca_file);
  hl__oauth_free(m->oauth);
  free(m->prefix);
  free_strv(m->include);
  free_strv(m->exclude);
  for (size_t i = 0; i < m->n_obs; i++) hl_observer_unref(m->obs[i]);
  free(m->obs);
  for (size_t i = 0; i < m->n_handlers; i++) free(m->handlers[i].method);
  free(m->handlers);
  cJSON_Delete(m->roots);
  cJSON_Delete(m->init_result);
  free(m->session_id);
  pthread_mutex_destroy(&m->lock);
  pthread_mutex_destroy(&m->write_lock);
  pthread_mutex_destroy(&m->reinit_lock);
  pthread_cond_destroy(&m->cond);
  pthread_cond_destroy(&m->jobs_cond);
  pthread_cond_destroy(&m->replies_cond);
  pthread_cond_destroy(&m->space_cond);
  free(m);
}

void hl__mcp_unref(hl_mcp *m) {
  if (m && atomic_fetch_sub(&m->refs, 1) == 1) destroy(m);
}

hl_status hl__mcp_fail(hl_mcp *m, hl_status st, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&m->lock);
  snprintf(m->errmsg, sizeof m->errmsg, "%s", buf);
  pthread_mutex_unlock(&m->lock);
  return hl_fail(st, "%s", buf);
}

static hl_mcp *new_client(const char *name, hl__mcp_kind kind) {
  hl_mcp *m = calloc(1, sizeof *m);
  if (!m) {
    hl__oom();
    return NULL;
  }
  atomic_init(&m->refs, 1);
  atomic_init(&m->generation, 0);
  m->kind = kind;
  m->name = hl__strdup(name);
  m->timeout_ms = HL_MCP_DEFAULT_TIMEOUT_MS;
  m->max_message = HL_MCP_DEFAULT_MAX_MESSAGE;
  m->next_id = 1;
  m->pid = -1;
  m->in_fd = -1;
  pthread_mutex_init(&m->lock, NULL);
  pthread_mutex_init(&m->write_lock, NULL);
  pthread_mutex_init(&m->reinit_lock, NULL);
  /* Deadlines are hl__engine_now_ms() (monotonic) time. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->cond, &ca);
  pthread_cond_init(&m->space_cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&m->jobs_cond, NULL);
  pthread_cond_init(&m->replies_cond, NULL);
  if (!m->name) {
    hl__oom();
    destroy(m);
    return NULL;
  }
  return m;
}

static char **copy_strv(const char *const *v, size_t *n_out) {
  size_t n = 0;
  while (v && v[n]) n++;
  char **c = calloc(n + 1, sizeof *c);
  if (!c) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!(c[i] = strdup(v[i]))) {
      free_strv(c);
      return NULL;
    }
  if (n_out) *n_out = n;
  return c;
}

hl_mcp *hl_mcp_new_stdio(const char *name, const char *const *argv) {
  if (!argv || !argv[0] || !argv[0][0]) {
    hl_fail(HL_ERR_INVALID, "hl_mcp_new_stdio: no command");
    return NULL;
  }
  const char *base = strrchr(argv[0], '/');
  hl_mcp *m = new_client(name ? name : (base ? base + 1 : argv[0]), HL__MCP_STDIO);
  if (!m) return NULL;
  m->name_given = name != NULL;
  if (!(m->argv = copy_strv(argv, NULL))) {
    hl__oom();
    destroy(m);
    return NULL;
  }
  return m;
}

/* Split a command line: blanks separate words; '...' keeps everything,
 * "..." and bare words honour backslash escapes. */
static char **split_command(const char *s, char *why, size_t why_size) {
  size_t cap = 8, n = 0;
  char **v = calloc(cap, sizeof *v);
  char *word = malloc(strlen(s) + 1);
  if (!v || !word) goto oom;
  for (;;) {
    while (*s == ' ' || *s == '\t' || *s == '\n') s++;
    if (!*s) break;
    size_t w = 0;
    while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
      if (*s == '\'') {
        const char *end = strchr(s + 1, '\'');
        if (!end) {
          snprintf(why, why_size, "unterminated ' quote");
          goto bad;
        }
        memcpy(word + w, s + 1, (size_t)(end - s - 1));
        w += (size_t)(end - s - 1);
        s = end + 1;
      } else if (*s == '"') {
        s++;
        while (*s && *s != '"') {
          if (*s == '\\' && s[1]) s++;
          word[w++] = *s++;
        }
        if (*s != '"') {
          snprintf(why, why_size, "unterminated \" quote");
          goto bad;
        }
        s++;
      } else {
        if (*s == '\\' && s[1]) s++;
        word[w++] = *s++;
      }
    }
    word[w] = '\0';
    if (n + 2 > cap) {
      char **nv = realloc(v, (cap *= 2) * sizeof *v);
      if (!nv) goto oom;
      v = nv;
    }
    if (!(v[n++] = strdup(word))) goto oom;
    v[n] = NULL;
  }
  free(word);
  if (n == 0) {
    snprintf(why, why_size, "empty command line");
    free(v);
    return NULL;
  }
  return v;
oom:
  snprintf(why, why_size, "out of memory");
bad:
  free(word);
  if (v) free_strv(v);
  return NULL;
}

hl_mcp *hl_mcp_new_command(const char *name, const char *command_line) {
  if (!command_line) {
    hl_fail(HL_ERR_INVALID, "hl_mcp_new_command: NULL command line");
    return NULL;
  }
  char why[128];
  char **argv = split_command(command_line, why, sizeof why);
  if (!argv) {
    hl_fail(HL_ERR_INVALID, "mcp: bad command line: %s", why);
    return NULL;
  }
  hl_mcp *m = hl_mcp_new_stdio(name, (const char *const *)argv);
  free_strv(argv);
  return m;
}

hl_mcp *hl_mcp_new_http(const char *name, const char *url) {
  if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
    hl_fail(HL_ERR_INVALID, "hl_mcp_new_http: not an http(s):// URL: %s", url ? url : "(null)");
    return NULL;
  }
  char host[256];
  const char *h = strstr(url, "://") + 3;
  size_t hl = strcspn(h, "/?#");
  snprintf(host, sizeof host, "%.*s", (int)(hl < 255 ? hl : 255), h);
  hl_mcp *m = new_client(name ? name : host, HL__MCP_HTTP);
  if (!m) return NULL;
  m->name_given = name != NULL;
  if (!(m->url = strdup(url))) {
    hl__oom();
    destroy(m);
    return NULL;
  }
  return m;
}

hl_status hl__mcp_configurable(hl_mcp *m, const char *what) {
  if (!m) return hl_fail(HL_ERR_INVALID, "%s: NULL client", what);
  if (m->connect_tried) return hl_fail(HL_ERR_STATE, "%s: configure before hl_mcp_connect()", what);
  return HL_OK;
}

static hl_status push_str(char ***v, size_t *n, const char *s) {
  char *c = strdup(s);
  char **nv = c ? realloc(*v, (*n + 1) * sizeof **v) : NULL;
  if (!nv) {
    free(c);
    return hl__oom();
  }
  *v = nv;
  (*v)[(*n)++] = c;
  return HL_OK;
}

hl_status hl_mcp_set_env(hl_mcp *m, const char *key, const char *value) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_env");
  if (st) return st;
  if (!key || !*key || strchr(key, '='))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_env: bad variable name");
  char buf[8192];
  if (snprintf(buf, sizeof buf, value ? "%s=%s" : "%s", key, value) >= (int)sizeof buf)
    return hl_fail(HL_ERR_TOO_LARGE, "hl_mcp_set_env: value too long");
  return push_str(&m->env, &m->n_env, buf);
}

hl_status hl_mcp_set_cwd(hl_mcp *m, const char *dir) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_cwd");
  if (st) return st;
  char *c = hl__strdup(dir);
  if (dir && !c) return hl__oom();
  free(m->cwd);
  m->cwd = c;
  return HL_OK;
}

hl_status hl_mcp_add_header(hl_mcp *m, const char *line) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_add_header");
  if (st) return st;
  if (!line || !strchr(line, ':') || strpbrk(line, "\r\n"))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_add_header: expected one \"Name: value\" line");
  return push_str(&m->headers, &m->n_headers, line);
}

hl_status hl_mcp_set_ca_file(hl_mcp *m, const char *path) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_ca_file");
  if (st) return st;
  if (m->kind != HL__MCP_HTTP)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_ca_file: %s is not an HTTP client", hl_mcp_name(m));
  char *c = NULL;
  if (path && *path) {
    st = hl__http_check_ca_file(path, "hl_mcp_set_ca_file");
    if (st) return st;
    if (!(c = strdup(path))) return hl__oom();
  }
  free(m->ca_file);
  m->ca_file = c;
  return HL_OK;
}

void hl_mcp_set_timeout_ms(hl_mcp *m, unsigned timeout_ms) {
  if (m) m->timeout_ms = timeout_ms;
}

hl_status hl_mcp_set_era(hl_mcp *m, hl_mcp_era era) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_era");
  if (st) return st;
  if (era != HL_MCP_ERA_AUTO && era != HL_MCP_ERA_MODERN && era != HL_MCP_ERA_LEGACY)
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_era: %d is not an hl_mcp_era", (int)era);
  m->want_era = era;
  return HL_OK;
}

hl_status hl_mcp_set_timeout_on_progress(hl_mcp *m, bool reset, unsigned max_total_ms) {
  if (!m) return hl_fail(HL_ERR_INVALID, "hl_mcp_set_timeout_on_progress: NULL client");
  /* HTTP sets its requests' limits when it connects. */
  if (m->kind == HL__MCP_HTTP && m->connect_tried)
    return hl_fail(HL_ERR_STATE, "hl_mcp_set_timeout_on_progress: configure an HTTP client before hl_mcp_connect()");
  atomic_store(&m->progress_resets, reset);
  atomic_store(&m->max_total_ms, max_total_ms);
  return HL_OK;
}

void hl_mcp_set_max_message_bytes(hl_mcp *m, size_t max_bytes) {
  if (m && max_bytes) m->max_message = max_bytes;
}

hl_status hl_mcp_set_prefix(hl_mcp *m, const char *prefix) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_prefix");
  if (st) return st;
  char *c = hl__strdup(prefix);
  if (prefix && !c) return hl__oom();
  free(m->prefix);
  m->prefix = c;
  return HL_OK;
}

static hl_status set_list(hl_mcp *m, char ***slot, const char *const *names, const char *what) {
  hl_status st = hl__mcp_configurable(m, what);
  if (st) return st;
  char **c = NULL;
  if (names && !(c = copy_strv(names, NULL))) return hl__oom();
  free_strv(*slot);
  *slot = c;
  return HL_OK;
}

hl_status hl_mcp_set_include(hl_mcp *m, const char *const *names) {
  return set_list(m, &m->include, names, "hl_mcp_set_include");
}

hl_status hl_mcp_set_exclude(hl_mcp *m, const char *const *names) {
  return set_list(m, &m->exclude, names, "hl_mcp_set_exclude");
}

hl_status hl_mcp_add_observer(hl_mcp *m, hl_observer *obs) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_add_observer");
  if (st) return st;
  if (!obs) return hl_fail(HL_ERR_INVALID, "hl_mcp_add_observer: NULL observer");
  hl_observer **nv = realloc(m->obs, (m->n_obs + 1) * sizeof *nv);
  if (!nv) return hl__oom();
  m->obs = nv;
  m->obs[m->n_obs++] = hl_observer_ref(obs);
  return HL_OK;
}

hl_status hl_mcp_set_handler(hl_mcp *m, const char *method, hl_mcp_request_fn fn, void *user) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_handler");
  if (st) return st;
  if (!method || !fn) return hl_fail(HL_ERR_INVALID, "hl_mcp_set_handler: NULL method or function");
  for (size_t i = 0; i < m->n_handlers; i++)
    if (strcmp(m->handlers[i].method, method) == 0) {
      m->handlers[i].fn = fn;
      m->handlers[i].user = user;
      return HL_OK;
    }
  hl__mcp_handler *nv = realloc(m->handlers, (m->n_handlers + 1) * sizeof *nv);
  if (!nv) return hl__oom();
  m->handlers = nv;
  if (!(nv[m->n_handlers].method = strdup(method))) return hl__oom();
  nv[m->n_handlers].fn = fn;
  nv[m->n_handlers].user = user;
  m->n_handlers++;
  return HL_OK;
}

hl_status hl_mcp_set_elicitation_modes(hl_mcp *m, unsigned modes) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_elicitation_modes");
  if (st) return st;
  if (!modes || (modes & ~(unsigned)(HL_MCP_ELICIT_FORM | HL_MCP_ELICIT_URL)))
    return hl_fail(HL_ERR_INVALID, "hl_mcp_set_elicitation_modes: %u is no set of HL_MCP_ELICIT_* modes", modes);
  m->elicit_modes = modes;
  return HL_OK;
}

hl_status hl_mcp_set_roots(hl_mcp *m, const cJSON *roots) {
  hl_status st = hl__mcp_configurable(m, "hl_mcp_set_roots");
  if (st) return st;
  if (!cJSON_IsArray(roots)) return hl_fail(HL_ERR_INVALID, "hl_mcp_set_roots: expected a JSON array");
  cJSON *c = cJSON_Duplicate(roots, 1);
  if (!c) return hl__oom();
  cJSON_Delete(m->roots);
  m->roots = c;
  return HL_OK;
}

static bool has_handler(const hl_mcp *m, const char *method) {
  for (size_t i = 0; i < m->n_handlers; i++)
    if (strcmp(m->handlers[i].method, method) == 0) return true;
  return false;
}

/* ------------------------------------------------------------------ */
/* events                                                              */
/* ------------------------------------------------------------------ */

static void notify_all(hl_mcp *m, hl_event *ev) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ev->time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  ev->agent_name = m->name;
  for (size_t i = 0; i < m->n_obs; i++) hl_observer_notify(m->obs[i], ev);
}

void hl__mcp_event(hl_mcp *m, hl_context *ctx, const char *name, cJSON *data) {
  if (data) cJSON_AddStringToObject(data, "server", m->name);
  hl_event ev = {.size = sizeof ev, .type = HL_EVENT_CUSTOM, .name = name, .data = data};
  notify_all(m, &ev);
  if (ctx) hl_context_emit_custom(ctx, name, data);
  cJSON_Delete(data);
}

void hl__mcp_stderr_event(hl_mcp *m, const char *text) {
  hl_event ev = {.size = sizeof ev, .type = HL_EVENT_STDERR_WRITE, .text = text, .name = m->name};
  notify_all(m, &ev);
}

size_t hl__mcp_json_weight(const cJSON *j) {
  size_t w = 0;
  for (; j; j = j->next) {
    w += sizeof *j + (j->string ? strlen(j->string) + 1 : 0) +
         (j->valuestring ? strlen(j->valuestring) + 1 : 0) + hl__mcp_json_weight(j->child);
  }
  return w;
}

bool hl__mcp_fits(size_t queued, size_t bytes, size_t weight, size_t max_n, size_t max_bytes) {
  return queued == 0 || (queued < max_n && bytes + weight <= max_bytes);
}

/* An event fits the observers' queue (HL_MCP_MAX_QUEUED_EVENTS, _BYTES). */
static bool fits(size_t queued, size_t bytes, size_t weight) {
  return hl__mcp_fits(queued, bytes, weight, HL_MCP_MAX_QUEUED_EVENTS, HL_MCP_MAX_QUEUED_BYTES);
}

static void append_locked(hl_mcp *m, hl__mcp_later *e) {
  if (m->evq_tail) m->evq_tail->next = e;
  else m->evq = e;
  m->evq_tail = e;
  if (e->reserved) {
    m->ev_errors++;
    m->ev_last_error = e;
  } else if (!e->dropped) {
    m->ev_queued++;
    m->ev_bytes += e->weight;
  }
  m->ev_posted++;
  pthread_cond_signal(&m->jobs_cond);
}

/* Count one event dropped over the caps (m->lock held). The first drop
 * queues a report (one over the cap) where the events went missing; the
 * drops after it join that report until it is emitted. So a flood costs
 * one report per queue's worth of events the observers saw, not one per
 * drop. */
static void drop_locked(hl_mcp *m) {
  atomic_fetch_add(&m->ev_dropped, 1);
  if (m->ev_report) {
    m->ev_report->dropped++;
    return;
  }
  hl__mcp_later *e = calloc(1, sizeof *e);
  if (!e) return; /* counted all the same */
  e->dropped = 1;
  append_locked(m, e);
  m->ev_report = e;
}

static void post_later(hl_mcp *m, hl__mcp_later *e) {
  pthread_mutex_lock(&m->lock);
  bool ok = e->reserved ? m->ev_errors < HL__MCP_RESERVED_ERRORS : fits(m->ev_queued, m->ev_bytes, e->weight);
  if (ok) {
    append_locked(m, e);
  } else if (e->reserved) { /* ev_errors > 0: the last is queued */
    /* Its message replaces the queued one's last_message: what kept
     * going wrong is seen, not only how often. */
    hl__mcp_later *last = m->ev_last_error;
    last->repeats++;
    cJSON *said = cJSON_DetachItemFromObjectCaseSensitive(e->data, "message");
    if (said) {
      cJSON_DeleteItemFromObjectCaseSensitive(last->data, "last_message");
      hl_json_add(last->data, "last_message", said);
    }
  } else {
    drop_locked(m);
  }
  pthread_mutex_unlock(&m->lock);
  if (!ok) free_later(e);
}

static void queue_event(hl_mcp *m, const char *name, cJSON *data, bool reserved) {
  hl__mcp_later *e = calloc(1, sizeof *e);
  if (!e || !(e->name = strdup(name))) {
    free(e);
    cJSON_Delete(data);
    return;
  }
  e->data = data;
  e->weight = sizeof *e + hl__mcp_json_weight(data);
  e->reserved = reserved;
  post_later(m, e);
}

void hl__mcp_event_later(hl_mcp *m, const char *name, cJSON *data) { queue_event(m, name, data, false); }

void hl__mcp_stderr_later(hl_mcp *m, const char *text) {
  hl__mcp_later *e = calloc(1, sizeof *e);
  if (!e || !(e->text = strdup(text))) {
    free(e);
    return;
  }
  e->weight = sizeof *e + strlen(text);
  post_later(m, e);
}

unsigned long long hl_mcp_events_dropped(const hl_mcp *m) {
  return m ? atomic_load(&((hl_mcp *)m)->ev_dropped) : 0;
}

static void emit_dropped(hl_mcp *m, uint64_t n) {
  cJSON *d = cJSON_CreateObject();
  if (!d) return;
  cJSON_AddNumberToObject(d, "dropped", (double)n);
  cJSON_AddNumberToObject(d, "cap", HL_MCP_MAX_QUEUED_EVENTS);
  hl__mcp_event(m, NULL, "mcp.events_dropped", d);
}

void hl__mcp_emit_later(hl_mcp *m, uint64_t upto) {
  pthread_mutex_lock(&m->lock);
  /* One emitter at a time, so that observers see the queue's order. */
  while (m->ev_done < upto) {
    if (m->ev_emitting) {
      pthread_cond_wait(&m->cond, &m->lock);
      continue;
    }
    hl__mcp_later *e = m->evq;
    if (!e) break;
    m->evq = e->next;
    if (!m->evq) m->evq_tail = NULL;
    if (!e->dropped) {
      m->ev_queued--;
      m->ev_bytes -= e->weight;
    }
    if (e == m->ev_report) m->ev_report = NULL; /* its count is final */
    if (e->reserved) m->ev_errors--;
    if (e == m->ev_last_error) m->ev_last_error = NULL; /* its repeats too */
    m->ev_emitting = true;
    pthread_mutex_unlock(&m->lock);
    if (e->dropped) {
      emit_dropped(m, e->dropped);
    } else if (e->text) {
      hl__mcp_stderr_event(m, e->text);
    } else {
      if (e->repeats && e->data) cJSON_AddNumberToObject(e->data, "repeated", (double)e->repeats);
      hl__mcp_event(m, NULL, e->name, e->data);
      e->data = NULL;
    }
    free_later(e);
    pthread_mutex_lock(&m->lock);
    m->ev_emitting = false;
    m->ev_done++;
    pthread_cond_broadcast(&m->cond);
  }
  pthread_mutex_unlock(&m->lock);
}

bool hl__mcp_wait(hl_mcp *m, int64_t deadline_ms) {
  if (!deadline_ms) {
    pthread_cond_wait(&m->cond, &m->lock);
    return true;
  }
  if (hl__engine_now_ms() >= deadline_ms) return false;
  struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
  pthread_cond_timedwait(&m->cond, &m->lock, &until);
  return hl__engine_now_ms() < deadline_ms;
}

void hl__mcp_flush_notes(hl_mcp *m, hl__mcp_pending *p, hl_context *ctx) {
  pthread_mutex_lock(&m->lock);
  cJSON *notes = p->notes;
  p->notes = NULL;
  p->n_notes = p->notes_bytes = 0;
  pthread_mutex_unlock(&m->lock);
  if (!notes) return;
  cJSON *n;
  while ((n = cJSON_DetachItemFromArray(notes, 0))) hl__mcp_event(m, ctx, "mcp.progress", n);
  cJSON_Delete(notes);
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */
/* ------------------------------------------------------------------ */

void hl__mcp_fail_pending(hl_mcp *m, hl_status st, const char *msg) {
  pthread_mutex_lock(&m->lock);
  for (hl__mcp_pending *p = m->pending; p; p = p->next)
    if (!p->done) {
      p->done = true;
      p->events_before = m->ev_posted;
      p->fail = st;
      snprintf(p->failmsg, sizeof p->failmsg, "%s", msg);
    }
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
}

static void protocol_error(hl_mcp *m, hl_status st, const char *fmt, ...) HL_PRINTF(3, 4);
static void protocol_error(hl_mcp *m, hl_status st, const char *fmt, ...) {
  char what[400], msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof msg, "mcp server \"%s\": %s", m->name, what);
  hl__mcp_protocol_failure(m, st, msg);
}

void hl__mcp_protocol_failure(hl_mcp *m, hl_status st, const char *msg) {
  /* The event first: the calls failed below return after it was emitted. */
  cJSON *d = cJSON_CreateObject();
  if (d) cJSON_AddStringToObject(d, "message", msg);
  queue_event(m, "mcp.protocol_error", d, true);
  hl__mcp_fail_pending(m, st, msg);
}

static void on_response(hl_mcp *m, cJSON *msg) {
  int64_t id;
  const cJSON *jid = cJSON_GetObjectItemCaseSensitive(msg, "id");
  if (!hl__jsonrpc_int_id(jid, &id)) {
    /* id null: the server could not read one of our messages. */
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(msg, "error");
    char text[300] = "a response without a usable id";
    if (cJSON_IsObject(err)) hl__jsonrpc_error_text(err, text, sizeof text);
    protocol_error(m, HL_ERR_PROVIDER, "answered with an unusable id: %s", text);
    cJSON_Delete(msg);
    return;
  }
  pthread_mutex_lock(&m->lock);
  hl__mcp_pending *p = m->pending;
  while (p && p->id != id) p = p->next;
  bool known = id > 0 && id < m->next_id;
  bool wake = false;
  if (p && !p->done) {
    p->done = true;
    p->events_before = m->ev_posted;
    p->response = msg;
    msg = NULL;
    wake = true;
  }
  pthread_mutex_unlock(&m->lock);
  /* After unlocking: the waiter does not wake only to wait for the lock. */
  if (wake) pthread_cond_broadcast(&m->cond);
  if (msg && !known)
    protocol_error(m, HL_ERR_PROVIDER, "answered request id %" PRId64 ", which was never sent", id);
  /* A known id that nobody waits for: a late answer to a cancelled or
   * timed-out request, which the protocol allows. Dropped. */
  cJSON_Delete(msg);
}

static void on_progress(hl_mcp *m, const cJSON *params) {
  const cJSON *tok = cJSON_GetObjectItemCaseSensitive(params, "progressToken");
  int64_t id;
  if (!hl__jsonrpc_int_id(tok, &id)) return;
  cJSON *ev = cJSON_CreateObject();
  if (!ev) return;
  static const char *const keys[] = {"progress", "total", "message"};
  for (size_t i = 0; i < 3; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, keys[i]);
    if (v) hl_json_add(ev, keys[i], cJSON_Duplicate(v, 1));
  }
  pthread_mutex_lock(&m->lock);
  hl__mcp_pending *p = m->pending;
  while (p && p->id != id) p = p->next;
  if (p && !p->done) {
    if (p->resets && p->deadline_ms && p->limit_ms) {
      /* Progress restarts the time limit, within the total cap. */
      int64_t d = hl__engine_now_ms() + p->limit_ms;
      int64_t cap = p->total_ms ? p->started_ms + p->total_ms : 0;
      p->deadline_ms = cap && d > cap ? cap : d;
    }
    if (p->tool) cJSON_AddStringToObject(ev, "tool", p->tool);
    size_t weight = hl__mcp_json_weight(ev);
    if (!fits(p->n_notes, p->notes_bytes, weight)) {
      drop_locked(m); /* the waiting thread's observers are behind */
    } else {
      if (!p->notes) p->notes = cJSON_CreateArray();
      if (p->notes) {
        cJSON_AddItemToArray(p->notes, ev);
        ev = NULL;
        p->n_notes++;
        p->notes_bytes += weight;
      }
    }
    pthread_cond_broadcast(&m->cond);
  }
  pthread_mutex_unlock(&m->lock);
  cJSON_Delete(ev); /* progress for a request no longer waiting */
}

void hl__mcp_dispatch(hl_mcp *m, cJSON *msg, hl__mcp_pending *current, hl_context *ctx) {
  if (cJSON_IsArray(msg)) { /* a JSON-RPC batch (2025-03-26) */
    cJSON *item;
    while ((item = cJSON_DetachItemFromArray(msg, 0))) hl__mcp_dispatch(m, item, current, ctx);
    cJSON_Delete(msg);
    return;
  }
  if (!cJSON_IsObject(msg)) {
    protocol_error(m, HL_ERR_PROVIDER, "sent a message that is not a JSON object");
    cJSON_Delete(msg);
    return;
  }
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  if (!method) {
    if (id && (cJSON_GetObjectItemCaseSensitive(msg, "result") ||
               cJSON_GetObjectItemCaseSensitive(msg, "error"))) {
      on_response(m, msg);
      return;
    }
    protocol_error(m, HL_ERR_PROVIDER, "sent a message that is neither request, response nor notification");
    cJSON_Delete(msg);
    return;
  }
  if (!cJSON_IsString(method)) {
    protocol_error(m, HL_ERR_PROVIDER, "sent a message whose method is not a string");
    cJSON_Delete(msg);
    return;
  }
  if (id) { /* a request from the server */
    hl__mcp_server_request(m, msg);
    return;
  }
  const char *name = method->valuestring;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
  if (strcmp(name, "notifications/progress") == 0) {
    on_progress(m, params);
    if (current) hl__mcp_flush_notes(m, current, ctx);
  } else if (strcmp(name, "notifications/tools/list_changed") == 0) {
    hl__mcp_worker_refresh(m);
  } else if (strcmp(name, "notifications/message") == 0) {
    cJSON *d = cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
    hl__mcp_event_later(m, "mcp.log", d);
  }
  /* Others (resources/prompts changes, cancelled for a server request
   * the client does not run long) need no action. */
  cJSON_Delete(msg);
}

void hl__mcp_receive(hl_mcp *m, const char *text, size_t len, hl__mcp_pending *current,
                     hl_context *ctx) {
  if (len > m->max_message) {
    protocol_error(m, HL_ERR_TOO_LARGE, "sent a message of %zu bytes, over the cap of %zu", len,
                   m->max_message);
    return;
  }
  size_t bad = hl__utf8_invalid_at(text, len);
  if (bad < len) {
    protocol_error(m, HL_ERR_PROVIDER, "sent invalid UTF-8 (byte %zu of a %zu-byte message)", bad, len);
    return;
  }
  /* The strict parser, as for model answers: cJSON's own takes raw
   * control characters and cuts a string at a raw NUL, so two keys that
   * differ after it became one key twice (a mapped result then changed
   * through its text: fuzz_mcp), and text after the message was ignored. */
  cJSON *msg = NULL;
  if (hl_json_parse(text, len, &msg) != HL_OK) {
    char show[60];
    size_t n = len < 40 ? len : 40;
    snprintf(show, sizeof show, "%.*s%s", (int)n, text, len > n ? "..." : "");
    for (char *c = show; *c; c++)
      if ((unsigned char)*c < 0x20) *c = ' ';
    char why[160];
    snprintf(why, sizeof why, "%s", hl_last_error());
    protocol_error(m, HL_ERR_JSON, "sent a message that is not JSON (%s): \"%s\"", why, show);
    return;
  }
  hl__mcp_dispatch(m, msg, current, ctx);
}

/* ------------------------------------------------------------------ */
/* requests                                                            */
/* ------------------------------------------------------------------ */

static hl_status transport_send(hl_mcp *m, const char *text, const hl__mcp_rpc *rpc, hl__mcp_pending *p,
                                hl_context *ctx) {
  return m->kind == HL__MCP_STDIO ? hl__mcp_stdio_send(m, text) : hl__mcp_http_send(m, text, rpc, p, ctx);
}

hl_status hl__mcp_notify(hl_mcp *m, const char *method, cJSON *params) {
  char *text = hl__jsonrpc_notification(method, params);
  cJSON_Delete(params);
  if (!text) return hl__oom();
  hl__mcp_rpc rpc = {method, NULL};
  hl_status st = transport_send(m, text, &rpc, NULL, NULL);
  free(text);
  return st;
}

static void unlink_pending(hl_mcp *m, hl__mcp_pending *p) {
  for (hl__mcp_pending **pp = &m->pending; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
}

static void send_cancelled(hl_mcp *m, int64_t id, const char *reason) {
  /* 2026-07-28 over HTTP: closing the request's stream, already done, is
   * the cancellation; no notifications/cancelled is expected. */
  if (m->kind == HL__MCP_HTTP && m->era == HL__MCP_ERA_MODERN) return;
  cJSON *params = cJSON_CreateObject();
  if (!params) return;
  cJSON_AddNumberToObject(params, "requestId", (double)id);
  cJSON_AddStringToObject(params, "reason", reason);
  hl_status keep = hl_last_status();
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", hl_last_error());
  hl__mcp_notify(m, "notifications/cancelled", params);
  hl_fail(keep, "%s", msg); /* the call's own error stays the last one */
}

static hl_status finish_roundtrip(hl_mcp *m, hl__mcp_pending *pp, hl_status st, const char *method,
                                  bool cancelled, bool timed_out, bool closed, cJSON **response);

/* What goes in the Mcp-Name header of `method` (NULL: none). */
static const char *rpc_name(const char *method, const cJSON *params) {
  const char *key = strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ? "name"
                    : strcmp(method, "resources/read") == 0                                  ? "uri"
                                                                                             : NULL;
  const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A waiting stdio call whose run may be cancelled. */
typedef struct waiter {
  hl_mcp *m;
  hl__mcp_pending *p;
} waiter;

/* hl_context_on_cancel(): wake the waiting call (any thread). */
static void on_run_cancel(void *user) {
  waiter *w = user;
  pthread_mutex_lock(&w->m->lock);
  w->p->cancelled = true;
  pthread_cond_broadcast(&w->m->cond);
  pthread_mutex_unlock(&w->m->lock);
  hl__mcp_stdio_wake(w->m); /* if it is the one reading stdout */
}

/* One request and its response. `params` is borrowed (a tools/call's
 * _meta gets its progressToken); `limit_ms` 0: the client's time limit.
 * *lost: the HTTP answer's stream ended without the response. */
static hl_status roundtrip_once(hl_mcp *m, hl_context *ctx, const char *method, cJSON *params, const char *tool,
                                unsigned limit_ms, bool *lost, int *http_rpc_code, cJSON **response) {
  *response = NULL;
  *lost = false;
  if (http_rpc_code) *http_rpc_code = 0;
  pthread_mutex_lock(&m->lock);
  if (m->closed || m->dead) {
    /* The same words whether the server died before or during the call:
     * 'mcp server "x" exited with status 3'. */
    char why[700];
    bool closed = m->closed;
    if (closed) snprintf(why, sizeof why, ": the client was closed");
    else hl__mcp_dead_words(m, why, sizeof why);
    pthread_mutex_unlock(&m->lock);
    return hl_fail(closed ? HL_ERR_STATE : HL_ERR_NETWORK, "mcp server \"%s\"%s%s", m->name,
                   closed ? "" : " ", why);
  }
  int64_t now = hl__engine_now_ms();
  hl__mcp_pending p = {.id = m->next_id++, .tool = tool, .started_ms = now,
                       .limit_ms = limit_ms ? limit_ms : atomic_load(&m->timeout_ms),
                       .resets = atomic_load(&m->progress_resets)};
  if (p.resets) p.total_ms = atomic_load(&m->max_total_ms);
  if (p.limit_ms) p.deadline_ms = now + p.limit_ms;
  if (p.total_ms && (!p.limit_ms || p.total_ms < p.limit_ms)) p.deadline_ms = now + p.total_ms;
  p.next = m->pending;
  m->pending = &p;
  m->active++;
  pthread_mutex_unlock(&m->lock);

  /* A stdio call waits below: its run's cancellation wakes it (no
   * polling). HTTP requests are ended by the event loop instead. */
  hl_status st = HL_OK;
  waiter w = {m, &p};
  hl_cancel_reg *reg = NULL;
  if (ctx && m->kind == HL__MCP_STDIO && !(reg = hl_context_on_cancel(ctx, on_run_cancel, &w)))
    st = hl__oom();

  /* Every request asks for progress; the token is the request id. */
  if (strcmp(method, "tools/call") == 0 && params) {
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
    if (!meta) meta = cJSON_AddObjectToObject(params, "_meta");
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "progressToken"); /* a retry's is new */
    if (meta) cJSON_AddNumberToObject(meta, "progressToken", (double)p.id);
  }
  char *text = st ? NULL : hl__jsonrpc_request(p.id, method, params);
  hl__mcp_rpc rpc = {method, rpc_name(method, params)};
  if (st == HL_OK) st = text ? transport_send(m, text, &rpc, &p, ctx) : hl__oom();
  free(text);

  bool timed_out = false, cancelled = false;
  pthread_mutex_lock(&m->lock);
  if (st == HL_OK && m->kind == HL__MCP_HTTP && !p.done) {
    /* The answer's stream ended without the response. */
    p.done = true;
    p.fail = HL_ERR_PROVIDER;
    *lost = true;
    snprintf(p.failmsg, sizeof p.failmsg,
             "mcp server \"%s\": %s: the server ended its answer without a response", m->name, method);
  }
  /* Woken by the answer (the event loop), a failure, progress, the
   * run's cancellation or the client's close; else at the deadline,
   * which progress may move. */
  while (st == HL_OK && !p.done) {
    if (p.notes) {
      pthread_mutex_unlock(&m->lock);
      hl__mcp_flush_notes(m, &p, ctx);
      pthread_mutex_lock(&m->lock);
      continue;
    }
    if (m->closed) break;
    if (p.cancelled) {
      cancelled = true;
      break;
    }
    if (p.deadline_ms && hl__engine_now_ms() >= p.deadline_ms) {
      timed_out = true;
      break;
    }
    if (m->kind == HL__MCP_STDIO) hl__mcp_stdio_wait(m, &p);
    else hl__mcp_wait(m, p.deadline_ms);
  }
  unlink_pending(m, &p);
  bool closed = m->closed && !p.done;
  pthread_mutex_unlock(&m->lock);
  if (reg) hl_context_cancel_unregister(reg);
  hl__mcp_flush_notes(m, &p, ctx);
  /* Events that came before the answer reach the observers before the
   * caller sees it. */
  if (p.events_before) hl__mcp_emit_later(m, p.events_before);
  if (http_rpc_code) *http_rpc_code = p.http_rpc_code;
  hl_status done = finish_roundtrip(m, &p, st, method, cancelled, timed_out, closed, response);
  pthread_mutex_lock(&m->lock);
  m->active--;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
  return done;
}

/* What roundtrip() returns once its request left the table. */
static hl_status finish_roundtrip(hl_mcp *m, hl__mcp_pending *pp, hl_status st, const char *method,
                                  bool cancelled, bool timed_out, bool closed, cJSON **response) {
  hl__mcp_pending p = *pp;
  pthread_mutex_lock(&m->lock);
  bool now_closed = m->closed;
  pthread_mutex_unlock(&m->lock);
  if (st != HL_OK && now_closed) {
    cJSON_Delete(p.response);
    return hl_fail(HL_ERR_STATE, "mcp server \"%s\": the client was closed during %s", m->name, method);
  }

  if (st != HL_OK) {
    /* The transport failed (HTTP: timeout, cancellation, network). */
    if (st == HL_ERR_TIMEOUT || st == HL_ERR_CANCELLED) {
      hl_status keep = st;
      char msg[800];
      snprintf(msg, sizeof msg, "mcp server \"%s\": %s %s", m->name, method,
               st == HL_ERR_TIMEOUT ? "timed out" : "cancelled");
      send_cancelled(m, p.id, st == HL_ERR_TIMEOUT ? "timeout" : "cancelled");
      st = hl_fail(keep, "%s", msg);
    }
    cJSON_Delete(p.response);
    return st;
  }
  if (closed) return hl_fail(HL_ERR_STATE, "mcp server \"%s\": the client was closed during %s", m->name, method);
  if (cancelled || timed_out) {
    send_cancelled(m, p.id, cancelled ? "cancelled" : "timeout");
    cJSON_Delete(p.response);
    if (cancelled) return hl_fail(HL_ERR_CANCELLED, "mcp server \"%s\": %s cancelled", m->name, method);
    if (p.total_ms && hl__engine_now_ms() >= p.started_ms + p.total_ms)
      return hl_fail(HL_ERR_TIMEOUT, "mcp server \"%s\": no answer to %s within its total limit of %u ms",
                     m->name, method, p.total_ms);
    return hl_fail(HL_ERR_TIMEOUT, "mcp server \"%s\": no answer to %s within %u ms%s", m->name, method,
                   p.limit_ms, p.resets ? " of the request or of its last progress" : "");
  }
  if (p.fail != HL_OK) {
    cJSON_Delete(p.response);
    return hl_fail(p.fail, "%s", p.failmsg);
  }
  *response = p.response;
  return HL_OK;
}

/* Rounds of one modern request that asked for input (mrtr.mdx sets no
 * bound; a server that asks forever must not hold a call forever). */
#define MAX_INPUT_ROUNDS 10
/* A modern request whose answer's stream broke goes again as a new
 * request (streams are not resumable; the spec's MUST), from the same
 * thread, nothing queued: this many times at most, then the call fails
 * saying how often it went. */
#define MAX_REISSUES 2
/* How long a stdio server may stay silent on the server/discover probe
 * before it is taken for a legacy one (stdio.mdx: "a reasonable timeout"). */
#define PROBE_LIMIT_MS 5000u

/* A modern request to its end: UnsupportedProtocolVersionError naming our
 * version retried once, input_required rounds answered by the handlers
 * and retried with a new id, a broken stream re-issued. The time limit
 * and the run's cancellation cover the whole exchange (between rounds
 * too; a round waits only for what is left of the limit, over either
 * transport). */
static hl_status modern_roundtrip(hl_mcp *m, hl_context *ctx, const char *method, cJSON *params,
                                  const char *tool, cJSON **response) {
  int64_t start = hl__engine_now_ms();
  unsigned limit = atomic_load(&m->timeout_ms);
  int rounds = 0, version_retries = 0, reissues = 0;
  hl_status st;
  for (;;) {
    unsigned left = 0;
    if (limit) {
      int64_t spent = hl__engine_now_ms() - start;
      if (spent >= (int64_t)limit) {
        st = hl_fail(HL_ERR_TIMEOUT, "mcp server \"%s\": %s did not complete within %u ms (%d rounds of input)",
                     m->name, method, limit, rounds);
        break;
      }
      left = limit - (unsigned)spent;
    }
    bool lost;
    st = roundtrip_once(m, ctx, method, params, tool, left, &lost, NULL, response);
    if (st != HL_OK) {
      bool broken = (lost || st == HL_ERR_NETWORK) && m->kind == HL__MCP_HTTP;
      if (broken && reissues < MAX_REISSUES && !(ctx && hl_context_cancelled(ctx))) {
        reissues++;
        continue;
      }
      /* Not "the server ended its answer" alone: that it went 1 +
       * MAX_REISSUES times says the server breaks every stream. */
      if (broken && reissues == MAX_REISSUES) {
        char why[600];
        snprintf(why, sizeof why, "%s", hl_last_error());
        st = hl_fail(st, "%s, %d times (the first try and %d re-issues)", why, reissues + 1, reissues);
      }
      break;
    }
    int next = hl__mcp_modern_next(m, method, *response, params);
    if (next == 0) break;
    cJSON_Delete(*response);
    *response = NULL;
    if (next < 0) {
      st = hl_last_status();
      break;
    }
    if (next == 1 && version_retries++ > 0) {
      st = hl_fail(HL_ERR_UNSUPPORTED, "mcp server \"%s\": %s: refused protocol version %s again while "
                   "saying it supports it", m->name, method, m->version);
      break;
    }
    if (next == 2 && ++rounds >= MAX_INPUT_ROUNDS) {
      st = hl_fail(HL_ERR_LIMIT, "mcp server \"%s\": %s still asked for input after %d rounds (the limit)",
                   m->name, method, rounds);
      break;
    }
    if (ctx && hl_context_cancelled(ctx)) {
      st = hl_fail(HL_ERR_CANCELLED, "mcp server \"%s\": %s cancelled", m->name, method);
      break;
    }
  }
  return st;
}

hl_status hl__mcp_roundtrip(hl_mcp *m, hl_context *ctx, const char *method, cJSON *params,
                            const char *tool, cJSON **response) {
  return hl__mcp_roundtrip_coded(m, ctx, method, params, tool, response, NULL);
}

hl_status hl__mcp_roundtrip_coded(hl_mcp *m, hl_context *ctx, const char *method, cJSON *params,
                                  const char *tool, cJSON **response, int *http_rpc_code) {
  *response = NULL;
  if (http_rpc_code) *http_rpc_code = 0;
  hl_status st;
  bool lost;
  if (m->era == HL__MCP_ERA_LEGACY) {
    st = roundtrip_once(m, ctx, method, params, tool, 0, &lost, http_rpc_code, response);
    cJSON_Delete(params);
    return st;
  }
  if (!(params = hl__mcp_with_meta(m, params))) return hl__oom();
  if (m->era == HL__MCP_ERA_MODERN) {
    st = modern_roundtrip(m, ctx, method, params, tool, response);
  } else { /* connect's probe */
    /* Over stdio the probe's answer includes the server's start: a
     * shorter request limit must not make a slow modern server legacy. */
    st = roundtrip_once(m, ctx, method, params, tool, m->kind == HL__MCP_STDIO ? PROBE_LIMIT_MS : 0, &lost,
                        NULL, response);
  }
  cJSON_Delete(params);
  return st;
}

hl_status hl_mcp_request(hl_mcp *m, hl_context *ctx, const char *method, const cJSON *params,
                         cJSON **result) {
  if (result) *result = NULL;
  if (!m || !method) return hl_fail(HL_ERR_INVALID, "hl_mcp_request: NULL client or method");
  if (!m->connected) return hl_fail(HL_ERR_STATE, "mcp server \"%s\": not connected", m->name);
  /* A modern server gets the method as an HTTP header (Mcp-Method): a
   * control byte there (CR, LF) would add headers of the caller's choosing. */
  for (const char *c = method; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      return hl_fail(HL_ERR_INVALID, "hl_mcp_request: the method name holds a control character");
  cJSON *p = params ? cJSON_Duplicate(params, 1) : NULL;
  if (params && !p) return hl__oom();
  cJSON *resp;
  hl_status st = hl__mcp_roundtrip(m, ctx, method, p, NULL, &resp);
  if (st) return st;
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
  if (err) {
    char text[600];
    hl__jsonrpc_error_text(err, text, sizeof text);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    /* 2026-07-28 answers an unknown resource with -32602 (was -32002). */
    bool unknown = strcmp(method, "resources/read") == 0 && cJSON_IsNumber(code) &&
                   (code->valueint == -32602 || code->valueint == -32002);
    cJSON_Delete(resp);
    return hl_fail(HL_ERR_EXECUTION_FAILED, "mcp server \"%s\": %s: %s%s", m->name, method, text,
                   unknown ? " (the resource was not found)" : "");
  }
  if (result) *result = cJSON_DetachItemFromObjectCaseSensitive(resp, "result");
  cJSON_Delete(resp);
  if (result && !*result) return hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": %s: response without result", m->name, method);
  return HL_OK;
}

/* 2026-07-28 has no ping: server/discover, which every modern server
 * must answer, asks as little of it. */
hl_status hl_mcp_ping(hl_mcp *m) {
  bool modern = m && m->era == HL__MCP_ERA_MODERN;
  return hl_mcp_request(m, NULL, modern ? "server/discover" : "ping", NULL, NULL);
}

hl_status hl_mcp_set_log_level(hl_mcp *m, const char *level) {
  if (m && m->connected && m->era == HL__MCP_ERA_MODERN) {
    /* No logging/setLevel: the level goes in every later request's _meta. */
    static const char *const levels[] = {"debug", "info", "notice", "warning", "error", "critical", "alert",
                                         "emergency"};
    const char *want = level ? level : "info";
    bool known = false;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) known = known || strcmp(want, levels[i]) == 0;
    if (!known) return hl_fail(HL_ERR_INVALID, "hl_mcp_set_log_level: unknown level \"%.40s\"", want);
    pthread_mutex_lock(&m->lock);
    snprintf(m->log_level, sizeof m->log_level, "%s", want);
    pthread_mutex_unlock(&m->lock);
    return HL_OK;
  }
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "level", level ? level : "info")) {
    cJSON_Delete(p);
    return hl__oom();
  }
  hl_status st = hl_mcp_request(m, NULL, "logging/setLevel", p, NULL);
  cJSON_Delete(p);
  return st;
}

/* ------------------------------------------------------------------ */
/* initialize                                                          */
/* ------------------------------------------------------------------ */

cJSON *hl__mcp_client_capabilities(const hl_mcp *m) {
  cJSON *caps = cJSON_CreateObject();
  if (!caps) return NULL;
  if (m->roots || has_handler(m, "roots/list")) {
    cJSON *r = cJSON_AddObjectToObject(caps, "roots");
    /* The legacy flag; 2026-07-28 has no roots list_changed at all. */
    if (m->era == HL__MCP_ERA_LEGACY) cJSON_AddBoolToObject(r, "listChanged", false);
  }
  if (has_handler(m, "sampling/createMessage")) cJSON_AddObjectToObject(caps, "sampling");
  if (has_handler(m, "elicitation/create")) {
    unsigned modes = m->elicit_modes ? m->elicit_modes : HL_MCP_ELICIT_FORM;
    cJSON *e = cJSON_AddObjectToObject(caps, "elicitation");
    if (modes & HL_MCP_ELICIT_FORM) cJSON_AddObjectToObject(e, "form");
    if (modes & HL_MCP_ELICIT_URL) cJSON_AddObjectToObject(e, "url");
  }
  return caps;
}

cJSON *hl__mcp_client_info(void) {
  cJSON *info = cJSON_CreateObject();
  if (info && (!cJSON_AddStringToObject(info, "name", "hookline") ||
               !cJSON_AddStringToObject(info, "version", "0.1.0"))) {
    cJSON_Delete(info);
    return NULL;
  }
  return info;
}

static cJSON *initialize_params(hl_mcp *m) {
  cJSON *p = cJSON_CreateObject();
  cJSON *caps = hl__mcp_client_capabilities(m);
  if (!p || !caps || !cJSON_AddItemToObject(p, "capabilities", caps)) {
    cJSON_Delete(caps);
    cJSON_Delete(p);
    return NULL;
  }
  /* The newest legacy revision: initialize is how the legacy era begins. */
  cJSON_AddStringToObject(p, "protocolVersion", "2025-11-25");
  cJSON *info = hl__mcp_client_info();
  hl_json_add(p, "clientInfo", info); /* NULL (out of memory): left out */
  return p;
}

static hl_status handshake(hl_mcp *m) {
  cJSON *resp;
  hl_status st = hl__mcp_roundtrip(m, NULL, "initialize", initialize_params(m), NULL, &resp);
  if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(resp, "error");
  cJSON *result = cJSON_GetObjectItemCaseSensitive(resp, "result");
  if (err || !cJSON_IsObject(result)) {
    char text[600] = "no result";
    if (err) hl__jsonrpc_error_text(err, text, sizeof text);
    cJSON_Delete(resp);
    return hl__mcp_fail(m, HL_ERR_PROVIDER, "mcp server \"%s\": initialize failed: %s", m->name, text);
  }
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(result, "protocolVersion");
  bool ok = false;
  for (size_t i = 0; cJSON_IsString(ver) && i < 3; i++)
    if (strcmp(ver->valuestring, supported_versions[i]) == 0) ok = true;
  if (!ok) {
    char v[80];
    hl__quote(v, sizeof v, cJSON_IsString(ver) ? ver->valuestring : "(none)");
    cJSON_Delete(resp);
    return hl__mcp_fail(m, HL_ERR_UNSUPPORTED,
                        "mcp server \"%s\": unsupported protocol version %s (hookline speaks "
                        "2025-11-25, 2025-06-18 and 2025-03-26)",
                        m->name, v);
  }
  m->init_result = cJSON_DetachItemFromObjectCaseSensitive(resp, "result");
  cJSON_Delete(resp);
  /* Under the lock: the worker, running since connect began, reads them
   * (an answer to a server request sent on initialize's own stream). */
  pthread_mutex_lock(&m->lock);
  snprintf(m->version, sizeof m->version, "%s", ver->valuestring);
  m->protocol_header = 1;
  m->connected = true;
  pthread_mutex_unlock(&m->lock);
  /* HTTP: open the GET stream first, so that what the server sends as
   * soon as it sees `initialized` (list_changed) has somewhere to go. */
  if (m->kind == HL__MCP_HTTP) hl__mcp_http_listen(m);
  st = hl__mcp_notify(m, "notifications/initialized", NULL);
  if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
  const cJSON *caps = cJSON_GetObjectItemCaseSensitive(m->init_result, "capabilities");
  if (cJSON_GetObjectItemCaseSensitive(caps, "tools")) {
    st = hl__mcp_list_tools(m);
    if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
  }
  return HL_OK;
}

/* A modern server: no initialize, no session, no GET stream (list
 * changes come through subscriptions/listen); its tools are listed as a
 * legacy server's are. */
static hl_status modern_ready(hl_mcp *m) {
  pthread_mutex_lock(&m->lock); /* the worker reads it (handshake()) */
  m->connected = true;
  pthread_mutex_unlock(&m->lock);
  const cJSON *caps = cJSON_GetObjectItemCaseSensitive(m->init_result, "capabilities");
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(caps, "tools");
  /* Subscribed before the list, so that no change falls in between. */
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tools, "listChanged"))) hl__mcp_subscribe(m);
  if (tools) {
    hl_status st = hl__mcp_list_tools(m);
    if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
  }
  return HL_OK;
}

hl_status hl__mcp_reinitialize(hl_mcp *m, const char *expired) {
  pthread_mutex_lock(&m->reinit_lock);
  pthread_mutex_lock(&m->lock);
  bool same = m->session_id && expired && strcmp(m->session_id, expired) == 0;
  if (same) {
    free(m->session_id);
    m->session_id = NULL;
  }
  pthread_mutex_unlock(&m->lock);
  hl_status st = HL_OK;
  if (same) { /* not renewed yet by another thread */
    cJSON *resp = NULL;
    st = hl__mcp_roundtrip(m, NULL, "initialize", initialize_params(m), NULL, &resp);
    if (st == HL_OK && !cJSON_GetObjectItemCaseSensitive(resp, "result"))
      st = hl_fail(HL_ERR_PROVIDER, "mcp server \"%s\": a new session was refused", m->name);
    cJSON_Delete(resp);
    if (st == HL_OK) st = hl__mcp_notify(m, "notifications/initialized", NULL);
  }
  pthread_mutex_unlock(&m->reinit_lock);
  return st;
}

hl_status hl_mcp_connect(hl_mcp *m) {
  if (!m) return hl_fail(HL_ERR_INVALID, "hl_mcp_connect: NULL client");
  if (m->connect_tried) return hl__mcp_fail(m, HL_ERR_STATE, "mcp server \"%s\": connect called twice", m->name);
  m->connect_tried = true;
  hl_status st = hl__mcp_worker_start(m);
  if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
  st = m->kind == HL__MCP_STDIO ? hl__mcp_stdio_start(m) : hl__mcp_http_start(m);
  if (st) return hl__mcp_fail(m, st, "%s", hl_last_error());
  /* Which era the server speaks: modern servers need no handshake. */
  st = hl__mcp_choose_era(m);
  if (st) return st;
  return m->era == HL__MCP_ERA_MODERN ? modern_ready(m) : handshake(m);
}

void hl_mcp_free(hl_mcp *m) {
  if (!m) return;
  pthread_mutex_lock(&m->lock);
  m->closed = true;
  pthread_cond_broadcast(&m->cond);
  pthread_cond_broadcast(&m->space_cond); /* an HTTP reader waiting to queue an answer */
  pthread_mutex_unlock(&m->lock);
  hl__mcp_fail_pending(m, HL_ERR_STATE, "mcp: the client was closed");
  if (m->oauth) hl__oauth_close(m->oauth);
  if (m->kind == HL__MCP_STDIO) hl__mcp_stdio_wake(m);
  /* HTTP requests in flight end now rather than at their timeout; the
   * announcement makes the loop ask every request's predicate, so those
   * to authorization servers end too (hl__mcp_cancelled() sees `closed`;
   * an authorize callback under way is the application's to end). */
  if (m->http) hl__http_cancel_all(m->http);
  if (m->answer_http) hl__http_cancel_all(m->answer_http); /* the sender's POST */
  /* Calls in progress on other threads leave before anything goes. */
  pthread_mutex_lock(&m->lock);
  while (m->active > 0) pthread_cond_wait(&m->cond, &m->lock);
  pthread_mutex_unlock(&m->lock);
  hl__mcp_worker_stop(m);
  if (m->kind == HL__MCP_STDIO) hl__mcp_stdio_close(m);
  else hl__mcp_http_close(m);
  /* What the worker did not emit (a stdio server's last words). */
  hl__mcp_emit_later(m, UINT64_MAX);
  /* The mapped tools hold references to the client: drop the client's
   * references to them, or neither would ever be freed. */
  hl__mcp_tools_clear(m);
  hl__mcp_unref(m);
}

const char *hl_mcp_name(const hl_mcp *m) {
  if (!m) return "";
  /* Not named by the application: the server's own name once known
   * (more telling than "node" or a host name). */
  const cJSON *info = cJSON_GetObjectItemCaseSensitive(m->init_result, "serverInfo");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(info, "name");
  if (!m->name_given && m->connected && cJSON_IsString(n) && n->valuestring[0]) return n->valuestring;
  return m->name;
}
const char *hl_mcp_errmsg(const hl_mcp *m) { return m ? m->errmsg : ""; }
const char *hl_mcp_protocol_version(const hl_mcp *m) { return m && m->connected ? m->version : ""; }
bool hl_mcp_is_modern(const hl_mcp *m) { return m && m->connected && m->era == HL__MCP_ERA_MODERN; }
const cJSON *hl_mcp_server_info(const hl_mcp *m) { return m ? m->init_result : NULL; }
