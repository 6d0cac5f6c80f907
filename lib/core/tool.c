/*
 * tool.c - tool declarations (name, description, argument schema), the
 * schema builder, and the native C function backend with its time limit.
 *
 * A call with a time limit runs on the library's worker pool
 * (core/taskpool.h), carrying the call's record (agent/call.h): the tool
 * knows its call id there, and a child run it starts nests under the
 * call and can be interrupted. The caller waits with a deadline, stepped
 * aside from the pool; at the deadline it takes the job back if no thread
 * started it, or leaves it to finish alone (abandoned).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/call.h"
#include "core/taskpool.h"
#include "hookline/json.h"
#include "hookline/tool.h"
#include "schema_internal.h"
#include "tool_internal.h"
#include "util.h"

#define HL_TOOL_NAME_MAX 64

struct hl_tool {
  atomic_size_t refs;
  char *name;
  char *description;
  cJSON *schema;        /* always an object schema with "type":"object" */
  char *schema_text;    /* schema printed (schema_changed), or NULL */
  size_t schema_text_len;
  hl_tool_fn fn;
  void *user_data;
  hl_free_fn free_fn;
  unsigned timeout_ms;
  bool needs_approval; /* calls wait for a human (lib/agent/interrupt.c) */
};

/* ---- naming -------------------------------------------------------- */

hl_status hl__tool_name_check(const char *name) {
  if (!name) return hl_fail(HL_ERR_INVALID, "tool name is NULL");
  size_t n = 0;
  for (; name[n] && n <= HL_TOOL_NAME_MAX; n++) {
    char c = name[n];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      char q[96];
      hl__quote(q, sizeof q, name);
      return hl_fail(HL_ERR_INVALID, "invalid tool name %s: only A-Z a-z 0-9 _ - are allowed", q);
    }
  }
  if (n == 0) return hl_fail(HL_ERR_INVALID, "invalid tool name: empty");
  if (n > HL_TOOL_NAME_MAX)
    return hl_fail(HL_ERR_INVALID, "invalid tool name: longer than %d characters", HL_TOOL_NAME_MAX);
  return HL_OK;
}

/* ---- lifetime ------------------------------------------------------ */

/* The schema printed once for every request that declares the tool: the
 * Chat Completions writer copies it instead of printing the tree again
 * per model call (issue 12). Called after every change of the schema, so
 * the text never outlives the tree it was printed from; without memory
 * for it there is no text and the writer prints the tree. */
static void schema_changed(hl_tool *t) {
  free(t->schema_text);
  t->schema_text = hl__json_print_exact(t->schema);
  t->schema_text_len = t->schema_text ? strlen(t->schema_text) : 0;
}

const char *hl__tool_schema_text(const hl_tool *tool, size_t *len) {
  *len = tool->schema_text_len;
  return tool->schema_text;
}

hl_tool *hl_tool_new(const char *name, const char *description, hl_tool_fn fn, void *user_data) {
  if (hl__tool_name_check(name) != HL_OK) return NULL;
  if (!fn) {
    hl_fail(HL_ERR_INVALID, "hl_tool_new: tool \"%s\" has no function", name);
    return NULL;
  }
  hl_tool *t = calloc(1, sizeof *t);
  if (!t) goto oom;
  atomic_init(&t->refs, 1);
  t->name = hl__strdup(name);
  t->description = hl__strdup(description ? description : "");
  t->schema = hl__empty_object_schema();
  t->fn = fn;
  t->user_data = user_data;
  if (!t->name || !t->description || !t->schema) goto oom;
  schema_changed(t);
  return t;
oom:
  if (t) {
    free(t->name);
    free(t->description);
    cJSON_Delete(t->schema);
    free(t);
  }
  hl__oom();
  return NULL;
}

hl_tool *hl_tool_ref(hl_tool *tool) {
  if (tool) atomic_fetch_add_explicit(&tool->refs, 1, memory_order_relaxed);
  return tool;
}

void hl_tool_unref(hl_tool *tool) {
  if (!tool) return;
  /* acq_rel: the thread that frees must see every other thread's writes. */
  if (atomic_fetch_sub_explicit(&tool->refs, 1, memory_order_acq_rel) != 1) return;
  if (tool->free_fn) tool->free_fn(tool->user_data);
  free(tool->name);
  free(tool->description);
  cJSON_Delete(tool->schema);
  free(tool->schema_text);
  free(tool);
}

void hl_tool_set_free_fn(hl_tool *tool, hl_free_fn free_fn) {
  if (!tool) {
    hl_fail(HL_ERR_INVALID, "hl_tool_set_free_fn: tool is NULL");
    return;
  }
  tool->free_fn = free_fn;
}

/* ---- schema -------------------------------------------------------- */

static const char *const param_types[] = {"string", "number", "integer", "boolean", "object", "array"};

/* Add schema.properties[name] = prop (taking it) and list it in required. */
static hl_status add_property_to_tree(hl_tool *tool, const char *name, cJSON *prop, bool required) {
  if (!tool || !name) {
    cJSON_Delete(prop);
    return hl_fail(HL_ERR_INVALID, "hl_tool_param: NULL tool or parameter name");
  }
  if (!*name || !hl_utf8_valid(name, strlen(name))) {
    cJSON_Delete(prop);
    return hl_fail(HL_ERR_INVALID, "tool \"%s\": parameter name must be non-empty UTF-8", tool->name);
  }
  cJSON *props = cJSON_GetObjectItemCaseSensitive(tool->schema, "properties");
  if (!props) props = cJSON_AddObjectToObject(tool->schema, "properties");
  if (!props) {
    cJSON_Delete(prop);
    return hl__oom();
  }
  if (cJSON_GetObjectItemCaseSensitive(props, name)) {
    cJSON_Delete(prop);
    char q[96];
    hl__quote(q, sizeof q, name);
    return hl_fail(HL_ERR_EXISTS, "tool \"%s\": parameter %s is already declared", tool->name, q);
  }
  cJSON *req = NULL;
  if (required) {
    req = cJSON_GetObjectItemCaseSensitive(tool->schema, "required");
    if (!req) req = cJSON_AddArrayToObject(tool->schema, "required");
    cJSON *entry = req ? cJSON_CreateString(name) : NULL;
    if (!entry) {
      cJSON_Delete(prop);
      return hl__oom();
    }
    cJSON_AddItemToArray(req, entry);
  }
  if (!cJSON_AddItemToObject(props, name, prop)) {
    cJSON_Delete(prop);
    if (req) cJSON_DeleteItemFromArray(req, cJSON_GetArraySize(req) - 1);
    return hl__oom();
  }
  return HL_OK;
}

/* add_property_to_tree(), then the schema printed again: a failure may
 * have left an empty "properties" or "required" behind. */
static hl_status add_property(hl_tool *tool, const char *name, cJSON *prop, bool required) {
  hl_status st = add_property_to_tree(tool, name, prop, required);
  if (tool) schema_changed(tool);
  return st;
}

static cJSON *simple_property(const char *type, const char *description) {
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "type", type) ||
      (description && !cJSON_AddStringToObject(p, "description", description))) {
    cJSON_Delete(p);
    return NULL;
  }
  return p;
}

hl_status hl_tool_param(hl_tool *tool, const char *name, const char *type, const char *description,
                        bool required) {
  if (!tool || !name || !type)
    return hl_fail(HL_ERR_INVALID, "hl_tool_param: NULL tool, name or type");
  bool known = false;
  for (size_t i = 0; i < sizeof param_types / sizeof param_types[0]; i++)
    if (strcmp(type, param_types[i]) == 0) known = true;
  if (!known) {
    char q[80];
    hl__quote(q, sizeof q, type);
    return hl_fail(HL_ERR_SCHEMA,
                   "tool \"%s\": parameter \"%.64s\": unknown type %s (expected string, number, "
                   "integer, boolean, object or array)",
                   tool->name, name, q);
  }
  cJSON *p = simple_property(type, description);
  if (!p) return hl__oom();
  return add_property(tool, name, p, required);
}

hl_status hl_tool_param_enum(hl_tool *tool, const char *name, const char *description,
                             bool required, const char *const *values) {
  if (!tool || !name || !values)
    return hl_fail(HL_ERR_INVALID, "hl_tool_param_enum: NULL tool, name or values");
  if (!values[0])
    return hl_fail(HL_ERR_SCHEMA, "tool \"%s\": parameter \"%.64s\": enum needs at least one value",
                   tool->name, name);
  cJSON *p = simple_property("string", description);
  cJSON *e = p ? cJSON_AddArrayToObject(p, "enum") : NULL;
  if (!e) goto oom;
  for (const char *const *v = values; *v; v++) {
    cJSON *s = cJSON_CreateString(*v);
    if (!s) goto oom;
    cJSON_AddItemToArray(e, s);
  }
  return add_property(tool, name, p, required);
oom:
  cJSON_Delete(p);
  return hl__oom();
}

hl_status hl_tool_param_schema(hl_tool *tool, const char *name, const cJSON *schema, bool required) {
  if (!tool || !name || !schema)
    return hl_fail(HL_ERR_INVALID, "hl_tool_param_schema: NULL tool, name or schema");
  char root[128];
  snprintf(root, sizeof root, "$.properties.%.64s", name);
  hl_status st = hl__schema_check_at(schema, root);
  if (st) return st;
  cJSON *copy = hl_json_clone(schema);
  if (!copy) return hl_last_status();
  return add_property(tool, name, copy, required);
}

/* A tool's arguments are a JSON object, so its schema must say so. */
static hl_status check_tool_schema(const hl_tool *tool, const cJSON *schema) {
  hl_status st = hl_schema_check(schema);
  if (st) return st;
  const cJSON *type = hl_json_get(schema, "type");
  if (!cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0)
    return hl_fail(HL_ERR_SCHEMA, "schema $: tool \"%s\" needs an object schema (\"type\": \"object\")",
                   tool->name);
  return HL_OK;
}

hl_status hl_tool_set_schema(hl_tool *tool, const char *schema_json) {
  if (!tool || !schema_json)
    return hl_fail(HL_ERR_INVALID, "hl_tool_set_schema: NULL tool or schema text");
  cJSON *schema;
  hl_status st = hl_json_parse(schema_json, (size_t)-1, &schema);
  if (st) return hl_fail(st, "tool \"%s\": schema: %s", tool->name, hl_last_error());
  if ((st = check_tool_schema(tool, schema))) {
    cJSON_Delete(schema);
    return st;
  }
  cJSON_Delete(tool->schema);
  tool->schema = schema;
  schema_changed(tool);
  return HL_OK;
}

hl_status hl_tool_set_strict(hl_tool *tool, bool strict) {
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_tool_set_strict: tool is NULL");
  if (!strict) {
    cJSON_DeleteItemFromObjectCaseSensitive(tool->schema, "additionalProperties");
    schema_changed(tool);
    return HL_OK;
  }
  cJSON *f = cJSON_CreateFalse();
  if (!f) return hl__oom();
  if (cJSON_GetObjectItemCaseSensitive(tool->schema, "additionalProperties"))
    cJSON_ReplaceItemInObjectCaseSensitive(tool->schema, "additionalProperties", f);
  else
    cJSON_AddItemToObject(tool->schema, "additionalProperties", f);
  schema_changed(tool);
  return HL_OK;
}

void hl_tool_set_timeout_ms(hl_tool *tool, unsigned timeout_ms) {
  if (!tool) {
    hl_fail(HL_ERR_INVALID, "hl_tool_set_timeout_ms: tool is NULL");
    return;
  }
  tool->timeout_ms = timeout_ms;
}

hl_status hl_tool_set_needs_approval(hl_tool *tool, bool needs_approval) {
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_tool_set_needs_approval: tool is NULL");
  tool->needs_approval = needs_approval;
  return HL_OK;
}

bool hl_tool_needs_approval(const hl_tool *tool) { return tool && tool->needs_approval; }

/* ---- accessors ----------------------------------------------------- */

const char *hl_tool_name(const hl_tool *tool) { return tool ? tool->name : NULL; }
const char *hl_tool_description(const hl_tool *tool) { return tool ? tool->description : NULL; }
const cJSON *hl_tool_schema(const hl_tool *tool) { return tool ? tool->schema : NULL; }
unsigned hl_tool_timeout_ms(const hl_tool *tool) { return tool ? tool->timeout_ms : 0; }
void *hl_tool_user_data(const hl_tool *tool) { return tool ? tool->user_data : NULL; }

/* ---- calling ------------------------------------------------------- */

/* Run the function once on this thread. Guarantees the contract callers
 * rely on: a failure always has a message and the matching status in
 * hl_last_error()/hl_last_status(), and success always has a result. */
static hl_status run_fn(hl_tool *t, hl_context *ctx, const cJSON *args, cJSON **out) {
  cJSON *res = NULL;
  hl_clear_error();
  hl_status st = t->fn(ctx, args, &res, t->user_data);
  if (st != HL_OK) {
    cJSON_Delete(res);
    if (hl_last_status() == HL_OK || !hl_last_error()[0])
      return hl_fail(st, "tool \"%s\" failed: %s", t->name, hl_strerror(st));
    if (hl_last_status() != st) hl_fail(st, "%s", hl_last_error());
    return st;
  }
  if (!res && !(res = cJSON_CreateNull())) return hl__oom();
  *out = res;
  return HL_OK;
}

/* State shared by a caller waiting with a deadline and the pool thread
 * running the function. Whoever drops the last reference frees it, so a
 * caller that gave up can return at once and the late worker cleans up.
 * The job carries the call's record, which keeps the run's context valid
 * (and inert once the run ended) for a late function. */
typedef struct timed_call {
  hl__job job;
  atomic_int refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool cancelled;     /* the run was cancelled while the caller waited */
  hl_tool *tool;      /* the worker's own reference */
  hl_context *ctx;
  cJSON *args;        /* a copy: the caller's arguments may be gone when a late worker runs */
  cJSON *result;      /* set by the worker; taken by the caller or freed by the last owner */
  hl_status status;
  char message[1024];
} timed_call;

static void timed_call_release(timed_call *c) {
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  cJSON_Delete(c->args);
  cJSON_Delete(c->result);
  free(c);
}

/* hl_context_on_cancel: a call still in the pool's queue is not waited
 * for once its run is cancelled. */
static void timed_call_cancelled(void *arg) {
  timed_call *c = arg;
  pthread_mutex_lock(&c->mu);
  c->cancelled = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void timed_call_job(hl__job *job) {
  timed_call *c = (timed_call *)job;
  hl_tool *tool = c->tool;
  cJSON *res = NULL;
  hl_status st = run_fn(tool, c->ctx, c->args, &res);
  pthread_mutex_lock(&c->mu);
  c->status = st;
  c->result = res;
  snprintf(c->message, sizeof c->message, "%s", hl_last_error());
  c->done = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  timed_call_release(c);
  hl_tool_unref(tool); /* last: may run the tool's free_fn on this thread */
}

static hl_status invoke_with_timeout(hl_tool *tool, hl_context *ctx, const cJSON *args,
                                     cJSON **result) {
  timed_call *c = calloc(1, sizeof *c);
  if (!c) return hl__oom();
  c->args = hl_json_clone(args);
  if (!c->args) {
    free(c);
    return hl_last_status() ? hl_last_status() : hl__oom();
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc_cv = pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc_cv != 0) {
    cJSON_Delete(c->args);
    free(c);
    return hl_fail(HL_ERR_LIMIT, "tool \"%s\": cannot create a condition variable", tool->name);
  }
  pthread_mutex_init(&c->mu, NULL);
  atomic_init(&c->refs, 2);
  c->tool = hl_tool_ref(tool);
  c->ctx = ctx;
  c->job.fn = timed_call_job;

  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += tool->timeout_ms / 1000;
  deadline.tv_nsec += (long)(tool->timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  /* Carries this thread's call record (agent/call.h), which keeps ctx;
   * a context without one (hl_tool_invoke by hand with a run's context)
   * gets a record of its own, without a call id. */
  hl__call *rec = hl__call_current(), *own = NULL;
  if (ctx && (!rec || rec->ctx != ctx)) rec = own = hl__call_new(ctx, "");
  hl__carried *prev = hl__call_enter(rec);
  hl__jobs_submit_here(&c->job);
  hl__call_leave(prev);
  hl__call_unref(own);
  hl_cancel_reg *reg = ctx ? hl_context_on_cancel(ctx, timed_call_cancelled, c) : NULL;
  hl__jobs_block_begin();
  pthread_mutex_lock(&c->mu);
  bool dropped = false; /* cancelled before any thread took it */
  while (!c->done) {
    if (c->cancelled && !dropped && (dropped = hl__jobs_cancel(&c->job))) break;
    if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT) break;
  }
  bool done = c->done, never_ran = dropped;
  hl_status st = HL_ERR_TIMEOUT;
  if (done) {
    st = c->status;
    *result = c->result;
    c->result = NULL;
    if (st != HL_OK) hl_fail(st, "%s", c->message);
  } else if (!never_ran && !(never_ran = hl__jobs_cancel(&c->job))) {
    /* Left to finish alone: its thread no longer counts as the pool's
     * (under c->mu, the function cannot report done meanwhile). */
    hl__jobs_abandon(&c->job);
  }
  pthread_mutex_unlock(&c->mu);
  hl__jobs_block_end();
  hl_context_cancel_unregister(reg);
  if (never_ran) {
    /* No thread took it in time (a saturated pool): it never runs. */
    hl_tool_unref(tool);
    timed_call_release(c);
  }
  timed_call_release(c);
  if (dropped)
    return hl_fail(HL_ERR_CANCELLED, "run cancelled before tool \"%s\" got a thread", tool->name);
  if (!done)
    return hl_fail(HL_ERR_TIMEOUT, "tool \"%s\" timed out after %u ms", tool->name,
                   tool->timeout_ms);
  if (st == HL_OK) hl_clear_error();
  return st;
}

hl_status hl_tool_invoke(hl_tool *tool, hl_context *ctx, const cJSON *args, cJSON **result) {
  if (!result) return hl_fail(HL_ERR_INVALID, "hl_tool_invoke: result is NULL");
  *result = NULL;
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_tool_invoke: tool is NULL");
  /* A call without arguments is a call with none: {}. */
  cJSON *empty = NULL;
  if (!args && !(args = empty = cJSON_CreateObject())) return hl__oom();
  hl_status st = hl_schema_validate(tool->schema, args);
  if (st == HL_OK)
    st = tool->timeout_ms ? invoke_with_timeout(tool, ctx, args, result)
                          : run_fn(tool, ctx, args, result);
  cJSON_Delete(empty);
  return st;
}
