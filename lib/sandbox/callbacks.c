/*
 * lib/sandbox/callbacks.c - host callbacks of a sandbox: registration,
 * schemas, and running the requests JavaScript made, in parallel.
 *
 * JavaScript cannot block on the host (the module is the synchronous
 * build), so a callback call only records a request. When JavaScript has
 * nothing left to run, the execution loop hands every recorded request to
 * hl__sb_run_queue(): one request runs on the calling thread, several run
 * at once on worker threads (one per request), and their outcomes go back
 * to JavaScript together, before any JavaScript runs again.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox_internal.h"

/* ------------------------------------------------------------------ */
/* Registry                                                            */
/* ------------------------------------------------------------------ */

/* Names the sandbox or JavaScript itself owns. */
static const char *const reserved_names[] = {
  "console", "listCallbacks", "CallbackError", "globalThis", "Object", "Function",
  "Array", "JSON", "Promise", "Error", "Math", "String", "Number", "Boolean",
  "Symbol", "Map", "Set", "Date", "RegExp", "Reflect", "Proxy", "eval",
  "undefined", "NaN", "Infinity", "await", "async", "break", "case", "catch",
  "class", "const", "continue", "debugger", "default", "delete", "do", "else",
  "export", "extends", "finally", "for", "function", "if", "import", "in",
  "instanceof", "let", "new", "null", "return", "static", "super", "switch",
  "this", "throw", "true", "false", "try", "typeof", "var", "void", "while",
  "with", "yield", "enum", NULL};

static bool valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
      return false;
  }
  for (const char *const *r = reserved_names; *r; r++)
    if (strcmp(*r, name) == 0)
      return false;
  return true;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

void hl__sb_callback_unref(sb_callback *cb) {
  if (!cb || atomic_fetch_sub(&cb->refs, 1) != 1)
    return;
  if (cb->free_fn)
    cb->free_fn(cb->user_data);
  free(cb->name);
  free(cb->description);
  cJSON_Delete(cb->schema);
  free(cb);
}

sb_callback *hl__sb_find(const hl_sandbox *sb, const char *name, size_t *index) {
  for (size_t i = 0; i < sb->n_callbacks; i++) {
    if (strcmp(sb->callbacks[i]->name, name) == 0) {
      if (index)
        *index = i;
      return sb->callbacks[i];
    }
  }
  return NULL;
}

hl_status hl_sandbox_add_callback(hl_sandbox *sb, const char *name, const char *description,
                                  hl_sandbox_fn fn, void *user_data,
                                  hl_sandbox_free_fn free_fn) {
  if (!sb || !name || !fn)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_add_callback: %s is NULL",
                   !sb ? "sandbox" : !name ? "name" : "fn");
  if (sb->busy)
    return hl_fail(HL_ERR_STATE, "hl_sandbox_add_callback: the sandbox is executing");
  if (!valid_name(name))
    return hl_fail(HL_ERR_INVALID,
                   "hl_sandbox_add_callback: \"%.64s\" is not a usable JavaScript name", name);
  if (hl__sb_find(sb, name, NULL))
    return hl_fail(HL_ERR_EXISTS, "hl_sandbox_add_callback: callback \"%s\" exists", name);
  if (sb->n_callbacks == sb->cap_callbacks) {
    size_t cap = sb->cap_callbacks ? sb->cap_callbacks * 2 : 8;
    sb_callback **grown = realloc(sb->callbacks, cap * sizeof *grown);
    if (!grown)
      return hl_fail(HL_ERR_NOMEM, "hl_sandbox_add_callback: out of memory");
    sb->callbacks = grown;
    sb->cap_callbacks = cap;
  }
  sb_callback *cb = calloc(1, sizeof *cb);
  if (!cb)
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_add_callback: out of memory");
  atomic_init(&cb->refs, 1);
  cb->name = strdup(name);
  cb->description = dup_or_empty(description);
  cb->schema = cJSON_CreateObject();
  if (cb->schema) {
    cJSON_AddStringToObject(cb->schema, "type", "object");
    cJSON_AddObjectToObject(cb->schema, "properties");
  }
  if (!cb->name || !cb->description || !cb->schema ||
      !cJSON_GetObjectItem(cb->schema, "properties")) {
    hl__sb_callback_unref(cb);
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_add_callback: out of memory");
  }
  cb->fn = fn;
  cb->user_data = user_data;
  cb->free_fn = free_fn;
  sb->callbacks[sb->n_callbacks++] = cb;
  sb->callbacks_dirty = true;
  return HL_OK;
}

static sb_callback *find_for_edit(hl_sandbox *sb, const char *callback, const char *fn) {
  if (!sb || !callback) {
    hl_fail(HL_ERR_INVALID, "%s: %s is NULL", fn, !sb ? "sandbox" : "callback");
    return NULL;
  }
  if (sb->busy) {
    hl_fail(HL_ERR_STATE, "%s: the sandbox is executing", fn);
    return NULL;
  }
  sb_callback *cb = hl__sb_find(sb, callback, NULL);
  if (!cb)
    hl_fail(HL_ERR_NOT_FOUND, "%s: no callback \"%.64s\"", fn, callback);
  return cb;
}

hl_status hl_sandbox_callback_param(hl_sandbox *sb, const char *callback, const char *param,
                                    const char *type, const char *description, bool required) {
  sb_callback *cb = find_for_edit(sb, callback, "hl_sandbox_callback_param");
  if (!cb)
    return hl_last_status();
  if (!param || !type)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_callback_param: %s is NULL", !param ? "param" : "type");
  static const char *const types[] = {"string", "number", "integer", "boolean", "object", "array", NULL};
  bool known = false;
  for (const char *const *t = types; *t; t++)
    known = known || strcmp(*t, type) == 0;
  if (!known)
    return hl_fail(HL_ERR_SCHEMA, "hl_sandbox_callback_param: unknown type \"%.32s\"", type);
  cJSON *props = cJSON_GetObjectItem(cb->schema, "properties");
  if (!cJSON_IsObject(props)) {
    props = cJSON_AddObjectToObject(cb->schema, "properties");
    if (!props)
      return hl_fail(HL_ERR_NOMEM, "hl_sandbox_callback_param: out of memory");
  }
  if (cJSON_GetObjectItemCaseSensitive(props, param))
    return hl_fail(HL_ERR_EXISTS, "hl_sandbox_callback_param: parameter \"%.64s\" exists", param);
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "type", type) ||
      (description && *description && !cJSON_AddStringToObject(p, "description", description))) {
    cJSON_Delete(p);
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_callback_param: out of memory");
  }
  cJSON_AddItemToObject(props, param, p);
  if (required) {
    cJSON *req = cJSON_GetObjectItem(cb->schema, "required");
    if (!cJSON_IsArray(req))
      req = cJSON_AddArrayToObject(cb->schema, "required");
    cJSON *s = cJSON_CreateString(param);
    if (!req || !s) {
      cJSON_Delete(s);
      return hl_fail(HL_ERR_NOMEM, "hl_sandbox_callback_param: out of memory");
    }
    cJSON_AddItemToArray(req, s);
  }
  sb->callbacks_dirty = true;
  return HL_OK;
}

hl_status hl_sandbox_callback_schema(hl_sandbox *sb, const char *callback, const char *schema_json) {
  sb_callback *cb = find_for_edit(sb, callback, "hl_sandbox_callback_schema");
  if (!cb)
    return hl_last_status();
  if (!schema_json)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_callback_schema: schema is NULL");
  cJSON *schema = NULL;
  hl_status st = hl_json_parse(schema_json, (size_t)-1, &schema);
  if (st)
    return st;
  st = hl_schema_check(schema);
  if (st) {
    cJSON_Delete(schema);
    return st;
  }
  cJSON_Delete(cb->schema);
  cb->schema = schema;
  sb->callbacks_dirty = true;
  return HL_OK;
}

hl_status hl_sandbox_remove_callback(hl_sandbox *sb, const char *name) {
  sb_callback *cb = find_for_edit(sb, name, "hl_sandbox_remove_callback");
  if (!cb)
    return hl_last_status();
  size_t i = 0;
  hl__sb_find(sb, name, &i);
  memmove(sb->callbacks + i, sb->callbacks + i + 1, (sb->n_callbacks - i - 1) * sizeof *sb->callbacks);
  sb->n_callbacks--;
  sb->callbacks_dirty = true;
  hl__sb_callback_unref(cb);
  return HL_OK;
}

size_t hl_sandbox_callback_count(const hl_sandbox *sb) { return sb ? sb->n_callbacks : 0; }

char *hl__sb_callbacks_json(const hl_sandbox *sb, const uint32_t seed[4]) {
  cJSON *spec = cJSON_CreateObject();
  cJSON *list = cJSON_AddArrayToObject(spec, "callbacks");
  if (!list) {
    cJSON_Delete(spec);
    return NULL;
  }
  if (seed) {
    cJSON *s = cJSON_AddArrayToObject(spec, "seed");
    for (int i = 0; s && i < 4; i++)
      cJSON_AddItemToArray(s, cJSON_CreateNumber(seed[i]));
  }
  for (size_t i = 0; i < sb->n_callbacks; i++) {
    const sb_callback *cb = sb->callbacks[i];
    cJSON *o = cJSON_CreateObject();
    cJSON *schema = cJSON_Duplicate(cb->schema, 1);
    if (!o || !schema || !cJSON_AddStringToObject(o, "name", cb->name) ||
        !cJSON_AddStringToObject(o, "description", cb->description)) {
      cJSON_Delete(o);
      cJSON_Delete(schema);
      cJSON_Delete(spec);
      return NULL;
    }
    cJSON_AddItemToObject(o, "parameters", schema);
    cJSON_AddItemToArray(list, o);
  }
  char *text = cJSON_PrintUnformatted(spec);
  cJSON_Delete(spec);
  return text;
}

/* ------------------------------------------------------------------ */
/* Running requests                                                    */
/* ------------------------------------------------------------------ */

/* One batch of requests running at once. A small pool of worker threads
 * (at most HL_SB_MAX_PARALLEL) claims the batch's jobs one by one. The
 * batch is reference counted between the waiting thread and the workers:
 * a worker whose call was abandoned after its timeout finishes on its own,
 * and the last one out frees the batch. */
#define HL_SB_MAX_PARALLEL 16

typedef struct sb_batch sb_batch;

typedef struct sb_job {
  sb_callback *cb;  /* a reference; NULL when the request failed early */
  char *name;       /* the requested name */
  cJSON *args;
  bool started;     /* claimed by a worker */
  uint64_t start_ns;
  bool timed_out;   /* abandoned: its outcome is a Timeout */
  /* outcome */
  bool done;
  hl_status status;
  char *message;
  cJSON *result;
} sb_job;

struct sb_batch {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int refs;
  size_t next;      /* first job no worker claimed yet */
  size_t unsettled; /* jobs neither done nor timed out */
  size_t workers;   /* workers that still claim jobs */
  size_t n;
  sb_job jobs[];
};

static void job_release(sb_job *job) {
  hl__sb_callback_unref(job->cb);
  free(job->name);
  cJSON_Delete(job->args);
  free(job->message);
  cJSON_Delete(job->result);
}

static void batch_free(sb_batch *b) {
  for (size_t i = 0; i < b->n; i++)
    job_release(&b->jobs[i]);
  pthread_cond_destroy(&b->cond);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

static void batch_unref_locked(sb_batch *b) {
  int left = --b->refs;
  pthread_mutex_unlock(&b->lock);
  if (!left)
    batch_free(b);
}

/* Call the callback; fills the job's outcome (not yet published). */
static void invoke(sb_job *job, hl_status *status, char **message, cJSON **result) {
  cJSON *r = NULL;
  hl_clear_error();
  hl_status st = job->cb->fn(job->cb->name, job->args, &r, job->cb->user_data);
  if (st != HL_OK) {
    cJSON_Delete(r);
    r = NULL;
    const char *msg = hl_last_status() == st ? hl_last_error() : "";
    *message = strdup(*msg ? msg : hl_strerror(st));
  }
  *status = st;
  *result = r;
}

/* Next job nobody claimed (locked). */
static sb_job *claim_locked(sb_batch *b) {
  while (b->next < b->n) {
    sb_job *job = &b->jobs[b->next++];
    if (!job->done) {
      job->started = true;
      job->start_ns = hl__sb_now_ns();
      return job;
    }
  }
  return NULL;
}

static void *worker_main(void *arg) {
  sb_batch *b = arg;
  pthread_mutex_lock(&b->lock);
  sb_job *job;
  while ((job = claim_locked(b)) != NULL) {
    pthread_mutex_unlock(&b->lock);
    hl_status st;
    char *msg = NULL;
    cJSON *r = NULL;
    invoke(job, &st, &msg, &r);
    pthread_mutex_lock(&b->lock);
    job->status = st;
    job->message = msg;
    job->result = r;
    job->done = true;
    pthread_cond_broadcast(&b->cond);
    if (job->timed_out)
      break; /* a replacement took this worker's place: leave */
    b->unsettled--;
  }
  if (!job)
    b->workers--;
  batch_unref_locked(b);
  return NULL;
}

/* Start one more worker (locked). False if no thread could be made. */
static bool spawn_locked(sb_batch *b) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  b->refs++;
  b->workers++;
  bool ok = pthread_create(&t, &attr, worker_main, b) == 0;
  if (!ok) {
    b->refs--;
    b->workers--;
  }
  pthread_attr_destroy(&attr);
  return ok;
}

/* Run the batch's runnable jobs on worker threads and wait for them, or
 * for their timeouts. */
static void run_parallel(sb_batch *b, size_t runnable, unsigned timeout_ms) {
  pthread_mutex_lock(&b->lock);
  b->unsettled = runnable;
  size_t want = runnable < HL_SB_MAX_PARALLEL ? runnable : HL_SB_MAX_PARALLEL;
  for (size_t i = 0; i < want; i++)
    if (!spawn_locked(b))
      break;
  if (b->workers == 0) {
    /* No thread at all: run them here, one after the other. */
    sb_job *job;
    while ((job = claim_locked(b)) != NULL) {
      invoke(job, &job->status, &job->message, &job->result);
      job->done = true;
      b->unsettled--;
    }
  }
  const uint64_t limit_ns = (uint64_t)timeout_ms * 1000000u;
  while (b->unsettled > 0) {
    uint64_t wake = 0;
    if (timeout_ms) {
      uint64_t now = hl__sb_now_ns();
      for (size_t i = 0; i < b->n; i++) {
        sb_job *job = &b->jobs[i];
        if (!job->started || job->done || job->timed_out)
          continue;
        uint64_t due = job->start_ns + limit_ns;
        if (now >= due) {
          /* Abandon the call; its worker is lost to it, so another one
           * takes over the jobs nobody claimed yet. */
          job->timed_out = true;
          b->unsettled--;
          b->workers--;
          if (b->next < b->n)
            spawn_locked(b);
        } else if (!wake || due < wake) {
          wake = due;
        }
      }
      if (b->unsettled == 0)
        break;
      /* A job that has not started yet is due a full timeout after it
       * does: looking again then is never late. */
      if (!wake || wake > now + limit_ns)
        wake = now + limit_ns;
    }
    if (b->workers == 0 && b->next < b->n) {
      /* Every worker is stuck in an abandoned call and none could be
       * started: run the rest here. */
      sb_job *job = claim_locked(b);
      pthread_mutex_unlock(&b->lock);
      hl_status st;
      char *msg = NULL;
      cJSON *r = NULL;
      invoke(job, &st, &msg, &r);
      pthread_mutex_lock(&b->lock);
      job->status = st, job->message = msg, job->result = r, job->done = true;
      b->unsettled--;
      continue;
    }
    if (wake) {
      struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
      pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    } else {
      pthread_cond_wait(&b->cond, &b->lock);
    }
  }
  pthread_mutex_unlock(&b->lock);
}

/* Check a request before running it: known callback, JSON arguments that
 * match the schema. Returns false with the job's outcome filled in. */
static bool prepare(hl_sandbox *sb, const sb_request *rq, sb_job *job) {
  job->name = strdup(rq->name);
  sb_callback *cb = hl__sb_find(sb, rq->name, NULL);
  if (!cb) {
    job->status = HL_ERR_NOT_FOUND;
    char buf[128];
    snprintf(buf, sizeof buf, "no callback named \"%.64s\"", rq->name);
    job->message = strdup(buf);
    return false;
  }
  hl_status st = hl_json_parse(rq->args, rq->args_len, &job->args);
  if (st == HL_OK)
    st = hl_schema_validate(cb->schema, job->args);
  if (st != HL_OK) {
    job->status = HL_ERR_INVALID_ARGUMENTS;
    char buf[1200];
    snprintf(buf, sizeof buf, "%s: %s", cb->name, hl_last_error());
    job->message = strdup(buf);
    return false;
  }
  atomic_fetch_add(&cb->refs, 1);
  job->cb = cb;
  return true;
}

/* Kind names JavaScript sees; anything else is ExecutionFailed. */
static const char *kind_of(hl_status st) {
  switch (st) {
  case HL_ERR_INVALID_ARGUMENTS: return "InvalidArguments";
  case HL_ERR_NOT_FOUND: return "NotFound";
  case HL_ERR_TIMEOUT: return "Timeout";
  default: return "ExecutionFailed";
  }
}

/* What settles one request's promise: JSON text of the value (ok), or
 * the CallbackError's kind (text, a constant) and message. */
typedef struct sb_outcome {
  bool ok;
  bool is_number; /* ok with a finite number: `number`, no text */
  bool is_null;   /* ok with null (or no result): no text */
  double number;
  char *text;
  char *message;
} sb_outcome;

/* Fill `out` from a finished or abandoned job (batch locked). False when
 * out of memory. */
static bool take_outcome(sb_job *job, unsigned cb_timeout, sb_outcome *out) {
  const char *kind;
  if (job->timed_out) {
    char buf[160];
    snprintf(buf, sizeof buf, "%.64s: callback timed out after %u ms",
             job->name ? job->name : "callback", cb_timeout);
    kind = "Timeout";
    out->message = strdup(buf);
  } else if (job->status == HL_OK) {
    out->ok = true;
    if (cJSON_IsNumber(job->result) && isfinite(job->result->valuedouble)) {
      /* Exactly what its JSON text would parse back to (-0 included). */
      out->is_number = true;
      out->number = job->result->valuedouble;
      return true;
    }
    if (!job->result || cJSON_IsNull(job->result)) {
      out->is_null = true;
      return true;
    }
    /* hl_json_print: cJSON's printer rounds nested numbers (json_print.c). */
    if (hl_json_print(job->result, &out->text) != HL_OK) out->text = NULL;
    return out->text != NULL;
  } else {
    kind = kind_of(job->status);
    out->message = strdup(job->message ? job->message : "");
  }
  out->text = strdup(kind);
  return out->text && out->message;
}

hl_status hl__sb_run_queue(hl_sandbox *sb) {
  size_t n = sb->n_queue;
  sb_batch *b = calloc(1, sizeof *b + n * sizeof(sb_job));
  if (!b)
    return hl_fail(HL_ERR_NOMEM, "out of memory running callbacks");
  pthread_mutex_init(&b->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&b->cond, &ca);
  pthread_condattr_destroy(&ca);
  b->refs = 1;
  b->n = n;

  size_t runnable = 0;
  for (size_t i = 0; i < n; i++) {
    if (prepare(sb, &sb->queue[i], &b->jobs[i]))
      runnable++;
    else
      b->jobs[i].done = true;
  }
  /* The requests' settling functions, in request order: each is handed
   * back to the vm exactly once below, settled or released. */
  hl_vm_request *reqs = malloc((n ? n : 1) * sizeof *reqs);
  if (!reqs) {
    batch_free(b);
    return hl_fail(HL_ERR_NOMEM, "out of memory running callbacks");
  }
  for (size_t i = 0; i < n; i++) {
    reqs[i] = sb->queue[i].req;
    free(sb->queue[i].name);
    free(sb->queue[i].args);
  }
  sb->n_queue = 0;

  unsigned cb_timeout = sb->limits.callback_timeout_ms;
  if (runnable == 1 && cb_timeout == 0) {
    /* The common case: one callback, no time limit. Run it right here. */
    for (size_t i = 0; i < n; i++) {
      sb_job *job = &b->jobs[i];
      if (!job->done) {
        invoke(job, &job->status, &job->message, &job->result);
        job->done = true;
      }
    }
  } else if (runnable > 0) {
    run_parallel(b, runnable, cb_timeout);
  }

  /* Take the outcomes under the lock, then settle the promises without
   * it. Abandoned jobs are read only for their name, which their worker
   * never writes. */
  sb_outcome *outs = calloc(n ? n : 1, sizeof *outs);
  bool ok = outs != NULL;
  pthread_mutex_lock(&b->lock);
  for (size_t i = 0; ok && i < n; i++)
    ok = take_outcome(&b->jobs[i], cb_timeout, &outs[i]);
  batch_unref_locked(b);
  hl_status st = ok ? HL_OK : hl_fail(HL_ERR_NOMEM, "out of memory running callbacks");
  (void)hl__sb_check_stop(sb); /* the deadline, a cancel, a hard stop */
  /* A stopped execution (timeout, or a limit hit while the callbacks ran)
   * delivers nothing: JavaScript is not to run again. */
  for (size_t i = 0; i < n; i++) {
    if (st != HL_OK || sb->abort_status != HL_OK)
      hl_vm_release(sb->vm, reqs[i]);
    else if (outs[i].is_number || outs[i].is_null)
      st = hl_vm_settle_number(sb->vm, reqs[i], outs[i].number, outs[i].is_null);
    else
      st = hl_vm_settle(sb->vm, reqs[i], outs[i].ok, outs[i].text, strlen(outs[i].text),
                        outs[i].message);
  }
  for (size_t i = 0; outs && i < n; i++) {
    free(outs[i].text);
    free(outs[i].message);
  }
  free(outs);
  free(reqs);
  return st;
}
