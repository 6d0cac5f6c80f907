/*
 * hooks/audit.c - a JSON Lines audit log of runs, model calls, tool calls
 * and hook decisions, secrets redacted, flushed per record or per batch,
 * rotated by size (guards.h).
 *
 * The hooks build each record as a cJSON tree and hand it to write_record,
 * which prints and writes it under one lock: lines never interleave, and
 * rotation happens between two whole records.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "hookline/context.h"
#include "hookline/guards.h"
#include "hookline/json.h"
#include "hookline/observer.h"
#include "plugin_options.h"
#include "plugin_util.h"

struct hl_audit {
  hl__plugin_ref ref;   /* first: see plugin_util.h */
  char *path;
  bool batch;
  int64_t batch_size, max_bytes, keep;
  pthread_mutex_t mu;
  FILE *f;
  int64_t size;         /* bytes in the current file */
  int64_t unflushed;
  hl_pii *secrets;      /* masks API-key-like strings */
  atomic_uint_fast64_t records, errors;
};

static void audit_destroy(void *self)
{
  hl_audit *a = self;
  if (a->f)
    fclose(a->f);   /* flushes a last partial batch */
  hl_pii_unref(a->secrets);
  free(a->path);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

hl_audit *hl_audit_new(const cJSON *options)
{
  static const char *const known[] = {"file", "flush", "batch_size", "max_bytes", "keep", NULL};
  cJSON *empty = options ? NULL : cJSON_CreateObject();
  const cJSON *opts = options ? options : empty;
  hl_audit *a = calloc(1, sizeof *a);
  if (!a || !opts) {
    free(a);
    cJSON_Delete(empty);
    hl_fail(HL_ERR_NOMEM, "out of memory");
    return NULL;
  }
  hl__plugin_ref_init(&a->ref, audit_destroy);
  pthread_mutex_init(&a->mu, NULL);
  atomic_init(&a->records, 0);
  atomic_init(&a->errors, 0);
  const char *file, *flush;
  hl_status st;
  if (!cJSON_IsObject(opts))
    st = hl_fail(HL_ERR_INVALID, "$: options must be an object, got %s", hl_json_type_name(opts));
  else if ((st = hl__opt_known(opts, known)) || (st = hl__opt_string(opts, "file", NULL, &file)) ||
           (st = hl__opt_string(opts, "flush", "record", &flush)) ||
           (st = hl__opt_int(opts, "batch_size", 64, 1, 1000000, &a->batch_size)) ||
           (st = hl__opt_int(opts, "max_bytes", 0, 0, INT64_MAX / 2, &a->max_bytes)) ||
           (st = hl__opt_int(opts, "keep", 3, 1, 1000, &a->keep)))
    ;
  else if (!file || !file[0])
    st = hl_fail(HL_ERR_INVALID, "$.file: required (the path of the JSON Lines log)");
  else if (strcmp(flush, "record") != 0 && strcmp(flush, "batch") != 0)
    st = hl_fail(HL_ERR_INVALID, "$.flush: expected \"record\" or \"batch\", got \"%.40s\"", flush);
  if (st == HL_OK) {
    a->batch = strcmp(flush, "batch") == 0;
    cJSON *kinds = cJSON_Parse("{\"kinds\": [\"secret\"]}");
    a->secrets = kinds ? hl_pii_new(kinds) : NULL;
    cJSON_Delete(kinds);
    if (!a->secrets || !(a->path = strdup(file)))
      st = hl_fail(HL_ERR_NOMEM, "out of memory");
  }
  if (st == HL_OK) {
    a->f = fopen(a->path, "a");
    struct stat sb;
    if (!a->f)
      st = hl_fail(HL_ERR_IO, "$.file: cannot open \"%s\": %s", a->path, strerror(errno));
    else
      a->size = fstat(fileno(a->f), &sb) == 0 ? (int64_t)sb.st_size : 0;
  }
  cJSON_Delete(empty);
  if (st != HL_OK) {
    hl__plugin_release(a);
    return NULL;
  }
  return a;
}

hl_audit *hl_audit_ref(hl_audit *a)
{
  hl__plugin_retain(a);
  return a;
}

void hl_audit_unref(hl_audit *a)
{
  hl__plugin_release(a);
}

uint64_t hl_audit_records(const hl_audit *a)
{
  return a ? atomic_load(&((hl_audit *)a)->records) : 0;
}

uint64_t hl_audit_errors(const hl_audit *a)
{
  return a ? atomic_load(&((hl_audit *)a)->errors) : 0;
}

/* ---- redaction -------------------------------------------------------- */

static bool credential_key(const char *k)
{
  static const char *const words[] = {"api_key", "apikey", "api-key", "password", "passwd",
                                      "secret",  "token",  "authorization", "cookie", NULL};
  for (size_t i = 0; words[i]; i++)
    if (strcasestr(k, words[i]))
      return true;
  return false;
}

/* Replace `old` (a member of `parent`) by `with`, keeping its key:
 * cJSON_ReplaceItemViaPointer does not carry the name over. */
static cJSON *replace_keep_key(cJSON *parent, cJSON *old, cJSON *with)
{
  if (!with)
    return old;
  if (old->string && !(old->type & cJSON_StringIsConst)) {
    with->string = cJSON_malloc(strlen(old->string) + 1);
    if (!with->string) {
      cJSON_Delete(with);
      return old;
    }
    strcpy(with->string, old->string);
  }
  cJSON_ReplaceItemViaPointer(parent, old, with);
  return with;
}

/* A redacted deep copy of `v` (NULL stays NULL; on OOM, NULL). */
static cJSON *redacted(const hl_audit *a, const cJSON *v)
{
  if (!v)
    return NULL;
  cJSON *copy = hl_json_clone(v);
  if (!copy)
    return NULL;
  /* Walk with an explicit stack of nodes: depth is bounded by the JSON. */
  cJSON *stack[256];
  size_t n = 0;
  stack[n++] = copy;
  while (n) {
    cJSON *node = stack[--n];
    cJSON *child;
    cJSON_ArrayForEach(child, node) {
      if (child->string && credential_key(child->string) && !cJSON_IsObject(child) &&
          !cJSON_IsArray(child)) {
        child = replace_keep_key(node, child, cJSON_CreateString("[REDACTED]"));
        continue;
      }
      if (cJSON_IsString(child)) {
        char *r = hl_pii_redact(a->secrets, child->valuestring);
        if (r && strcmp(r, child->valuestring) != 0)
          child = replace_keep_key(node, child, cJSON_CreateString(r));
        hl_free(r);
      } else if ((cJSON_IsObject(child) || cJSON_IsArray(child)) && n < 256) {
        stack[n++] = child;
      }
    }
  }
  if (cJSON_IsString(copy)) {
    char *r = hl_pii_redact(a->secrets, copy->valuestring);
    if (r) {
      cJSON_Delete(copy);
      copy = cJSON_CreateString(r);
      hl_free(r);
    }
  }
  return copy;
}

static void add_text(const hl_audit *a, cJSON *rec, const char *key, const char *text)
{
  if (!text) {
    cJSON_AddNullToObject(rec, key);
    return;
  }
  char *r = hl_pii_redact(a->secrets, text);
  cJSON_AddStringToObject(rec, key, r ? r : "");
  hl_free(r);
}

/* ---- writing ----------------------------------------------------------- */

/* FILE.<i> for i >= 1. */
static void numbered(const char *path, int64_t i, char *out, size_t len)
{
  snprintf(out, len, "%s.%lld", path, (long long)i);
}

/* Caller holds mu. FILE -> FILE.1 -> ... -> FILE.keep (the oldest goes). */
static void rotate(hl_audit *a)
{
  char from[4200], to[4200];
  fclose(a->f);
  a->f = NULL;
  numbered(a->path, a->keep, to, sizeof to);
  remove(to);
  for (int64_t i = a->keep - 1; i >= 1; i--) {
    numbered(a->path, i, from, sizeof from);
    numbered(a->path, i + 1, to, sizeof to);
    rename(from, to);
  }
  numbered(a->path, 1, to, sizeof to);
  rename(a->path, to);
  a->f = fopen(a->path, "a");
  a->size = 0;
  a->unflushed = 0;
}

static void write_record(hl_audit *a, hl_context *ctx, const char *type, cJSON *rec)
{
  if (!rec) {
    atomic_fetch_add(&a->errors, 1);
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[96];
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  /* Put the common fields first, for people reading the file. */
  cJSON *head = cJSON_CreateObject();
  if (head) {
    cJSON_AddStringToObject(head, "ts", when);
    cJSON_AddStringToObject(head, "type", type);
    if (ctx) {
      cJSON_AddStringToObject(head, "run", hl_context_invocation_id(ctx));
      cJSON_AddStringToObject(head, "agent", hl_context_agent_name(ctx));
      cJSON_AddStringToObject(head, "user", hl_context_user_id(ctx));
      cJSON_AddStringToObject(head, "session", hl_context_session_id(ctx));
    }
    while (rec->child) {
      cJSON *item = cJSON_DetachItemViaPointer(rec, rec->child);
      hl_json_add(head, item->string, item);
    }
  }
  cJSON_Delete(rec);
  char *line = NULL;
  if (!head || hl_json_print(head, &line) != HL_OK) {
    cJSON_Delete(head);
    atomic_fetch_add(&a->errors, 1);
    return;
  }
  cJSON_Delete(head);
  size_t len = strlen(line);
  pthread_mutex_lock(&a->mu);
  if (a->f && a->max_bytes > 0 && a->size > 0 && a->size + (int64_t)len + 1 > a->max_bytes)
    rotate(a);
  bool ok = a->f && fwrite(line, 1, len, a->f) == len && fputc('\n', a->f) != EOF;
  if (ok) {
    a->size += (int64_t)len + 1;
    if (!a->batch || ++a->unflushed >= a->batch_size) {
      ok = fflush(a->f) == 0;
      a->unflushed = 0;
    }
  }
  pthread_mutex_unlock(&a->mu);
  hl_free(line);
  atomic_fetch_add(ok ? &a->records : &a->errors, 1);
}

static cJSON *error_json(const hl_error *e)
{
  if (!e || e->status == HL_OK)
    return cJSON_CreateNull();
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddStringToObject(o, "status", hl_status_name(e->status));
    cJSON_AddStringToObject(o, "message", e->message ? e->message : "");
  }
  return o;
}

/* ---- hooks --------------------------------------------------------------- */

static hl_hook_action audit_before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                         hl_before_agent_out *out, void *ud)
{
  (void)out;
  hl_audit *a = ud;
  cJSON *rec = cJSON_CreateObject();
  if (rec)
    add_text(a, rec, "input", args->input);
  write_record(a, ctx, "run_start", rec);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action audit_after_agent(hl_context *ctx, const hl_after_agent_args *args,
                                        hl_after_agent_out *out, void *ud)
{
  (void)out;
  hl_audit *a = ud;
  cJSON *rec = cJSON_CreateObject();
  if (rec)
    add_text(a, rec, "answer", args->answer);
  write_record(a, ctx, "run_end", rec);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action audit_after_model(hl_context *ctx, const hl_after_model_args *args,
                                        hl_after_model_out *out, void *ud)
{
  (void)out;
  hl_audit *a = ud;
  cJSON *rec = cJSON_CreateObject();
  if (rec) {
    const hl_request *req = args->request;
    const hl_response *resp = args->response;
    cJSON_AddStringToObject(rec, "model", req->model ? req->model : "default");
    cJSON_AddNumberToObject(rec, "messages", (double)req->messages.count);
    if (resp) {
      cJSON_AddStringToObject(rec, "finish", hl_finish_reason_name(resp->finish));
      cJSON *u = cJSON_AddObjectToObject(rec, "usage");
      if (u) {
        cJSON_AddNumberToObject(u, "input_tokens", (double)resp->usage.input_tokens);
        cJSON_AddNumberToObject(u, "output_tokens", (double)resp->usage.output_tokens);
      }
      cJSON *calls = cJSON_AddArrayToObject(rec, "tool_calls");
      for (size_t k = 0; calls && k < resp->message->n_parts; k++)
        if (resp->message->parts[k].kind == HL_PART_TOOL_CALL)
          cJSON_AddItemToArray(calls, cJSON_CreateString(resp->message->parts[k].name));
    } else {
      cJSON_AddNullToObject(rec, "finish");
    }
    hl_json_add(rec, "error", error_json(args->error));
  }
  write_record(a, ctx, "model_call", rec);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action audit_after_tool(hl_context *ctx, const hl_after_tool_args *args,
                                       hl_after_tool_out *out, void *ud)
{
  (void)out;
  hl_audit *a = ud;
  cJSON *rec = cJSON_CreateObject();
  if (rec) {
    cJSON_AddStringToObject(rec, "call_id", args->call && args->call->id ? args->call->id : "");
    cJSON_AddStringToObject(rec, "tool", args->call && args->call->name ? args->call->name : "");
    cJSON *v = redacted(a, args->args);
    hl_json_add(rec, "args", v ? v : cJSON_CreateNull());
    v = redacted(a, args->result);
    hl_json_add(rec, "result", v ? v : cJSON_CreateNull());
    hl_json_add(rec, "error", error_json(args->error));
  }
  write_record(a, ctx, "tool_call", rec);
  return HL_HOOK_CONTINUE;
}

hl_status hl_audit_install(hl_audit *a, hl_hooks *hooks)
{
  if (!a || !hooks)
    return hl_fail(HL_ERR_INVALID, "hl_audit_install: NULL argument");
  hl_status st;
  if ((st = hl__plugin_add(a, hooks, HL_HOOK_BEFORE_AGENT, "audit", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.before_agent = audit_before_agent})) ||
      (st = hl__plugin_add(a, hooks, HL_HOOK_AFTER_AGENT, "audit", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_agent = audit_after_agent})) ||
      (st = hl__plugin_add(a, hooks, HL_HOOK_AFTER_MODEL, "audit", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_model = audit_after_model})) ||
      (st = hl__plugin_add(a, hooks, HL_HOOK_AFTER_TOOL, "audit", HL_HOOK_OBSERVE,
                           (hl_hook_fn){.after_tool = audit_after_tool})))
    return hl__plugin_install_failed(hooks, "audit", "hl_audit_install", st);
  /* Other hooks' decisions reach only observers: the set carries one for
   * the runs that use it, so the loadable form records them too, and it
   * goes with the hooks (hl_hooks_remove(hooks, "audit")). */
  hl_observer *obs = hl_audit_observer(a);
  st = obs ? hl_hooks_add_observer(hooks, "audit", obs) : hl_last_status();
  hl_observer_unref(obs);
  if (st != HL_OK)
    return hl__plugin_install_failed(hooks, "audit", "hl_audit_install", st);
  return HL_OK;
}

/* ---- the hook-decision observer -------------------------------------- */

static int audit_on_event(const hl_event *ev, void *ud)
{
  hl_audit *a = ud;
  if (ev->type != HL_EVENT_HOOK)
    return 0;
  cJSON *rec = cJSON_CreateObject();
  if (rec) {
    cJSON_AddStringToObject(rec, "run", ev->invocation_id ? ev->invocation_id : "");
    cJSON_AddStringToObject(rec, "agent", ev->agent_name ? ev->agent_name : "");
    cJSON_AddStringToObject(rec, "point", hl_hook_point_name(ev->hook_point));
    cJSON_AddStringToObject(rec, "hook", ev->name ? ev->name : "");
    cJSON_AddStringToObject(rec, "action", hl_hook_action_name(ev->hook_action));
    if (ev->call_id)
      cJSON_AddStringToObject(rec, "call_id", ev->call_id);
    if (ev->error.status != HL_OK)
      hl_json_add(rec, "error", error_json(&ev->error));
  }
  write_record(a, NULL, "hook", rec);
  return 0;
}

hl_observer *hl_audit_observer(hl_audit *a)
{
  if (!a) {
    hl_fail(HL_ERR_INVALID, "hl_audit_observer: NULL audit");
    return NULL;
  }
  hl_observer *obs = hl_observer_new(audit_on_event, a);
  if (!obs)
    return NULL;
  hl__plugin_retain(a);
  hl_observer_set_free_fn(obs, hl__plugin_release);
  /* Only hook decisions: the library builds no other event for it. */
  hl_observer_set_events(obs, HL_EVENT_MASK(HL_EVENT_HOOK));
  return obs;
}
