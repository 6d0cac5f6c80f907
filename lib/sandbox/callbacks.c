/*
 * lib/sandbox/callbacks.c - the tools a sandbox offers JavaScript: adding
 * them under JavaScript names, and running the calls JavaScript made, in
 * parallel, through the tools' normal path.
 *
 * JavaScript cannot block on the host (the module is the synchronous
 * build), so a tool call only records a request. When JavaScript has
 * nothing left to run, the execution loop hands every recorded request to
 * hl__sb_run_queue(): one request runs on the calling thread, several run
 * at once on the library's worker pool (core/taskpool.h; the calling
 * thread takes its share), and their outcomes go back to JavaScript
 * together, before any JavaScript runs again. The pool carries the
 * context this thread works in (core/carry.h: the code tool's call
 * record) to its threads, so that a call made there is known to happen
 * inside the code tool's call.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookline/agent.h"
#include "hookline/context.h"
#include "hookline/json.h"
#include "sandbox_internal.h"
#include "core/taskpool.h"
#include "core/util.h"

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

void hl__sb_callback_unref(sb_callback *cb) {
  if (!cb || atomic_fetch_sub(&cb->refs, 1) != 1)
    return;
  hl_tool_unref(cb->tool);
  free(cb->name);
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

hl_status hl_sandbox_add_tool(hl_sandbox *sb, hl_tool *tool, const char *js_name) {
  if (!sb || !tool)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_add_tool: %s is NULL", !sb ? "sandbox" : "tool");
  const char *name = js_name ? js_name : hl_tool_name(tool);
  if (sb->busy)
    return hl_fail(HL_ERR_STATE, "hl_sandbox_add_tool: the sandbox is executing");
  if (!name || !valid_name(name))
    return hl_fail(HL_ERR_INVALID,
                   "hl_sandbox_add_tool: \"%.64s\" is not a usable JavaScript name%s",
                   name ? name : "", js_name ? "" : " (give one as js_name)");
  if (sb->py && !hl__py_valid_name(name))
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_add_tool: \"%.64s\" is not a usable Python name",
                   name);
  if (hl__sb_find(sb, name, NULL))
    return hl_fail(HL_ERR_EXISTS, "hl_sandbox_add_tool: \"%s\" exists", name);
  if (sb->n_callbacks == sb->cap_callbacks) {
    size_t cap = sb->cap_callbacks ? sb->cap_callbacks * 2 : 8;
    sb_callback **grown = realloc(sb->callbacks, cap * sizeof *grown);
    if (!grown)
      return hl_fail(HL_ERR_NOMEM, "hl_sandbox_add_tool: out of memory");
    sb->callbacks = grown;
    sb->cap_callbacks = cap;
  }
  sb_callback *cb = calloc(1, sizeof *cb);
  char *copy = strdup(name);
  if (!cb || !copy) {
    free(cb);
    free(copy);
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_add_tool: out of memory");
  }
  atomic_init(&cb->refs, 1);
  cb->name = copy;
  cb->tool = hl_tool_ref(tool);
  sb->callbacks[sb->n_callbacks++] = cb;
  sb->callbacks_dirty = true;
  return HL_OK;
}

hl_status hl_sandbox_remove_tool(hl_sandbox *sb, const char *js_name) {
  if (!sb || !js_name)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_remove_tool: %s is NULL",
                   !sb ? "sandbox" : "js_name");
  if (sb->busy)
    return hl_fail(HL_ERR_STATE, "hl_sandbox_remove_tool: the sandbox is executing");
  size_t i = 0;
  sb_callback *cb = hl__sb_find(sb, js_name, &i);
  if (!cb)
    return hl_fail(HL_ERR_NOT_FOUND, "hl_sandbox_remove_tool: no tool \"%.64s\"", js_name);
  memmove(sb->callbacks + i, sb->callbacks + i + 1, (sb->n_callbacks - i - 1) * sizeof *sb->callbacks);
  sb->n_callbacks--;
  sb->callbacks_dirty = true;
  hl__sb_callback_unref(cb);
  return HL_OK;
}

size_t hl_sandbox_tool_count(const hl_sandbox *sb) { return sb ? sb->n_callbacks : 0; }

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
    const char *description = hl_tool_description(cb->tool);
    cJSON *o = cJSON_CreateObject();
    cJSON *schema = cJSON_Duplicate(hl_tool_schema(cb->tool), 1);
    if (!o || !schema || !cJSON_AddStringToObject(o, "name", cb->name) ||
        !cJSON_AddStringToObject(o, "description", description ? description : "")) {
      cJSON_Delete(o);
      cJSON_Delete(schema);
      cJSON_Delete(spec);
      return NULL;
    }
    hl_json_add(o, "parameters", schema);
    cJSON_AddItemToArray(list, o);
  }
  char *text = hl__json_print_exact(spec);
  cJSON_Delete(spec);
  return text;
}

/* ------------------------------------------------------------------ */
/* Running requests                                                    */
/* ------------------------------------------------------------------ */

/* One batch of requests running at once. Up to HL_SB_MAX_PARALLEL
 * workers (jobs on the library's pool) and, when no callback has a time
 * limit, the waiting thread claim the batch's jobs one by one. The batch
 * is reference counted between the waiting thread and the workers: a
 * worker whose call was abandoned after its timeout finishes on its own,
 * and the last one out frees the batch. */
#define HL_SB_MAX_PARALLEL 16

typedef struct sb_batch sb_batch;
struct sb_worker;

typedef struct sb_job {
  sb_callback *cb;  /* a reference; NULL when the request failed early */
  hl_context *ctx;  /* the execution's context (NULL: none) */
  char *name;       /* the requested name */
  cJSON *args;
  bool started;     /* claimed by a worker */
  struct sb_worker *runner; /* the pool worker running it, or NULL (the caller) */
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
  size_t n_spawned;
  struct sb_worker {
    hl__job job;
    sb_batch *b;
  } spawned[HL_SB_MAX_PARALLEL * 2]; /* each started at most once */
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

/* True when `tool` is the running agent's own tool of that name: its
 * calls then take the agent's hooked path. */
static bool agent_owns(hl_context *ctx, hl_tool *tool) {
  hl_agent *agent = hl_context_agent(ctx);
  const char *name = hl_tool_name(tool);
  return agent && name && hl_tools_find(hl_agent_tools(agent), name) == tool;
}

/* Call the tool through its normal path; fills the job's outcome (not yet
 * published). */
static void invoke(sb_job *job, hl_status *status, char **message, cJSON **result) {
  cJSON *r = NULL;
  hl_tool *tool = job->cb->tool;
  hl_clear_error();
  hl_status st = job->ctx && agent_owns(job->ctx, tool)
                     ? hl_context_call_tool(job->ctx, hl_tool_name(tool), job->args, &r)
                     : hl_tool_invoke(tool, job->ctx, job->args, &r);
  if (st != HL_OK) {
    cJSON_Delete(r);
    r = NULL;
    const char *msg = hl_last_status() == st ? hl_last_error() : "";
    if (!*msg)
      msg = hl_strerror(st);
    /* A schema violation names its path ("$.x: ..."): say whose. */
    if (st == HL_ERR_INVALID_ARGUMENTS && msg[0] == '$') {
      size_t n = strlen(job->cb->name) + strlen(msg) + 3;
      *message = malloc(n);
      if (*message)
        snprintf(*message, n, "%s: %s", job->cb->name, msg);
    } else {
      *message = strdup(msg);
    }
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

/* Run `job` on this thread and record its outcome (done). b->lock is held
 * on entry and on return, not during the call. */
static void invoke_unlocked(sb_batch *b, sb_job *job) {
  pthread_mutex_unlock(&b->lock);
  hl_status st;
  char *msg = NULL;
  cJSON *r = NULL;
  invoke(job, &st, &msg, &r);
  pthread_mutex_lock(&b->lock);
  job->status = st, job->message = msg, job->result = r, job->done = true;
}

static void worker_main(hl__job *pj) {
  sb_batch *b = ((struct sb_worker *)pj)->b;
  pthread_mutex_lock(&b->lock);
  sb_job *job;
  while ((job = claim_locked(b)) != NULL) {
    job->runner = (struct sb_worker *)pj;
    invoke_unlocked(b, job);
    pthread_cond_broadcast(&b->cond);
    if (job->timed_out)
      break; /* a replacement took this worker's place: leave */
    b->unsettled--;
  }
  if (!job)
    b->workers--;
  batch_unref_locked(b); /* last touch of the job's memory, inside b */
}

/* Start one more worker on the pool (locked), carrying this thread's
 * context (the code tool's call record). False when the batch has used
 * all its worker slots. */
static bool spawn_locked(sb_batch *b) {
  if (b->n_spawned == sizeof b->spawned / sizeof b->spawned[0])
    return false;
  struct sb_worker *w = &b->spawned[b->n_spawned++];
  w->job = (hl__job){.fn = worker_main};
  w->b = b;
  b->refs++;
  b->workers++;
  /* Unlocked: with no pool thread at all, the pool runs it right here. */
  pthread_mutex_unlock(&b->lock);
  hl__jobs_submit_here(&w->job);
  pthread_mutex_lock(&b->lock);
  return true;
}

/* Take back the workers no pool thread started (locked): the batch is
 * settled, they would only find nothing to do. */
static void withdraw_locked(sb_batch *b) {
  for (size_t i = 0; i < b->n_spawned; i++) {
    if (!hl__jobs_cancel(&b->spawned[i].job))
      continue;
    b->refs--;
    b->workers--;
  }
}

/* Run the batch's runnable jobs on the pool and wait for them, or for
 * their timeouts. Without a time limit this thread claims jobs too (the
 * caller runs: a pool of one thread cannot deadlock on a nested batch);
 * with one it only waits, since it must be free to abandon a call. */
static void run_parallel(sb_batch *b, size_t runnable, unsigned timeout_ms) {
  pthread_mutex_lock(&b->lock);
  b->unsettled = runnable;
  size_t want = runnable < HL_SB_MAX_PARALLEL ? runnable : HL_SB_MAX_PARALLEL;
  for (size_t i = timeout_ms ? 0 : 1; i < want; i++)
    if (!spawn_locked(b))
      break;
  if (!timeout_ms) {
    sb_job *job;
    while ((job = claim_locked(b)) != NULL) {
      invoke_unlocked(b, job);
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
          /* Its pool thread steps aside (the worker is inside invoke:
           * it reports done under b->lock, which this thread holds). */
          if (job->runner)
            hl__jobs_abandon(&job->runner->job);
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
      invoke_unlocked(b, claim_locked(b));
      b->unsettled--;
      continue;
    }
    /* Stepped aside from the pool while the workers run (core/taskpool.h). */
    hl__jobs_block_begin();
    if (wake) {
      struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
      pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    } else {
      pthread_cond_wait(&b->cond, &b->lock);
    }
    hl__jobs_block_end();
  }
  withdraw_locked(b);
  pthread_mutex_unlock(&b->lock);
}

/* Check a request before running it: a known tool, JSON arguments (the
 * tool's path validates them, after any before_tool hook). Returns false
 * with the job's outcome filled in. */
static bool prepare(hl_sandbox *sb, sb_request *rq, sb_job *job) {
  job->name = strdup(rq->name);
  sb_callback *cb = hl__sb_find(sb, rq->name, NULL);
  if (!cb) {
    job->status = HL_ERR_NOT_FOUND;
    char buf[128];
    snprintf(buf, sizeof buf, "no tool named \"%.64s\"", rq->name);
    job->message = strdup(buf);
    return false;
  }
  hl_status st = HL_OK;
  if (rq->parsed) {
    job->args = rq->parsed;
    rq->parsed = NULL;
  } else {
    st = hl_json_parse(rq->args, rq->args_len, &job->args);
  }
  if (st != HL_OK) {
    job->status = HL_ERR_INVALID_ARGUMENTS;
    char buf[1200];
    snprintf(buf, sizeof buf, "%s: %s", cb->name, hl_last_error());
    job->message = strdup(buf);
    return false;
  }
  atomic_fetch_add(&cb->refs, 1);
  job->cb = cb;
  job->ctx = sb->ctx;
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

/* Hand request `req`'s outcome to the vm that made it (settled, or
 * released when the execution stopped or `st` failed); returns `st` or
 * the settling's error. */
static hl_status deliver(hl_sandbox *sb, hl_vm_request req, hl_status st, const sb_outcome *o) {
  if (sb->py) /* the Python guest (py_sandbox.c) */
    return hl__py_settle(sb, req, st == HL_OK && sb->abort_status == HL_OK, o && o->ok,
                         o && o->is_number, o ? o->number : 0, o && o->is_null,
                         o ? o->text : NULL, o ? o->message : NULL);
  if (st != HL_OK || sb->abort_status != HL_OK) {
    hl_vm_release(sb->vm, req);
    return st;
  }
  if (o->is_number || o->is_null)
    return hl_vm_settle_number(sb->vm, req, o->number, o->is_null);
  return hl_vm_settle(sb->vm, req, o->ok, o->text, strlen(o->text), o->message);
}

/* The common case, one request and no time limit: run right here, with
 * no batch to share with workers (no allocation, lock or condition). */
static hl_status run_one(hl_sandbox *sb) {
  sb_request *rq = &sb->queue[0];
  hl_vm_request req = rq->req;
  sb_job job;
  memset(&job, 0, sizeof job);
  if (prepare(sb, rq, &job))
    invoke(&job, &job.status, &job.message, &job.result);
  job.done = true;
  free(rq->name);
  free(rq->args);
  cJSON_Delete(rq->parsed);
  sb->n_queue = 0;
  sb_outcome out;
  memset(&out, 0, sizeof out);
  hl_status st = take_outcome(&job, 0, &out) ? HL_OK
                                              : hl_fail(HL_ERR_NOMEM, "out of memory running callbacks");
  job_release(&job);
  (void)hl__sb_check_stop(sb); /* the deadline, a cancel, a hard stop */
  st = deliver(sb, req, st, &out);
  free(out.text);
  free(out.message);
  return st;
}

hl_status hl__sb_run_queue(hl_sandbox *sb) {
  size_t n = sb->n_queue;
  /* With a context every call is waited for: the context is valid only
   * during the execution (hl_sandbox_execute()). */
  unsigned cb_timeout = sb->ctx ? 0 : sb->limits.callback_timeout_ms;
  if (n == 1 && cb_timeout == 0)
    return run_one(sb);
  /* Zeroed but for the worker slots (2.5 KB), which spawn_locked() fills
   * as it uses them: one callback, run right here, uses none. */
  sb_batch *b = malloc(sizeof *b + n * sizeof(sb_job));
  if (!b)
    return hl_fail(HL_ERR_NOMEM, "out of memory running callbacks");
  memset(b, 0, offsetof(sb_batch, spawned));
  memset(b->jobs, 0, n * sizeof(sb_job));
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
    cJSON_Delete(sb->queue[i].parsed);
  }
  sb->n_queue = 0;

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
  for (size_t i = 0; i < n; i++)
    st = deliver(sb, reqs[i], st, outs ? &outs[i] : NULL);
  for (size_t i = 0; outs && i < n; i++) {
    free(outs[i].text);
    free(outs[i].message);
  }
  free(outs);
  free(reqs);
  return st;
}
