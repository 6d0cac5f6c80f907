/*
 * hook_dispatch.c - running hook chains: the one chain dispatcher (every
 * before/after point and model_chunk), the nested around chains and their
 * `next`, and the enforcement of what hooks declared.
 *
 * What differs between points is data (where the override value and the
 * editable value live in the point's structs, how to free or default
 * them), kept in one table; the loop is written once. Dispatch is an
 * indexed walk over the context's stack of chain sets and an indirect
 * call per hook: no lock, no allocation (the < 20 ns budget of DESIGN.md).
 * The hashing that detects edits, which feeds only the HOOK trace event,
 * runs only around hooks that declared an edit, and only when the run is
 * observed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/run_internal.h"
#include "agent/interrupt_internal.h"
#include "core/util.h"
#include "hookline/json.h"

/* ------------------------------------------------------------------ */
/* Fingerprints (for the HOOK event of editing hooks)                  */
/* ------------------------------------------------------------------ */

/* A structural hash: comparing pointers is not enough, since a hook may
 * edit in place, or free a tree and get the same address back. */
static uint64_t hl_fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

#define HL_FNV_SEED 0xcbf29ce484222325ULL

static uint64_t hl_fnv_str(uint64_t h, const char *s) {
  return s ? hl_fnv(h, s, strlen(s) + 1) : hl_fnv(h, "", 0) ^ 0x5a;
}

static uint64_t hl_json_fingerprint(const cJSON *v, uint64_t h) {
  for (; v; v = v->next) {
    int type = v->type & 0xff;
    h = hl_fnv(h, &type, sizeof type);
    if (v->string) h = hl_fnv(h, v->string, strlen(v->string) + 1);
    if (v->valuestring) h = hl_fnv(h, v->valuestring, strlen(v->valuestring) + 1);
    if (cJSON_IsNumber(v)) h = hl_fnv(h, &v->valuedouble, sizeof v->valuedouble);
    h = hl_json_fingerprint(v->child, h ^ 0x9e);
    h = hl_fnv(h, "}", 1);
  }
  return h;
}

static uint64_t hl_message_fingerprint(const hl_message *m, uint64_t h) {
  if (!m) return hl_fnv(h, "-", 1);
  h = hl_fnv(h, &m->role, sizeof m->role);
  for (size_t j = 0; j < m->n_parts; j++) {
    const hl_part *p = &m->parts[j];
    h = hl_fnv(h, &p->kind, sizeof p->kind);
    h = hl_fnv(h, &p->is_error, sizeof p->is_error);
    h = hl_fnv_str(hl_fnv_str(hl_fnv_str(h, p->text), p->id), p->name);
    h = hl_json_fingerprint(p->args, h);
  }
  return hl_fnv(h, "|", 1);
}

static uint64_t hl_args_fingerprint(const void *v) {
  return hl_json_fingerprint(v, HL_FNV_SEED);
}

/* Everything a provider would send. */
static uint64_t hl_request_fingerprint(const void *v) {
  const hl_request *req = v;
  uint64_t h = hl_fnv_str(HL_FNV_SEED, req->model);
  for (size_t i = 0; i < req->messages.count; i++)
    h = hl_message_fingerprint(req->messages.items[i], h);
  for (size_t i = 0; i < req->n_tools; i++) {
    h = hl_fnv_str(hl_fnv_str(h, req->tools[i].name), req->tools[i].description);
    h = hl_json_fingerprint(req->tools[i].parameters, h);
  }
  for (size_t i = 0; i < req->n_stop; i++) h = hl_fnv_str(h, req->stop[i]);
  h = hl_fnv(h, &req->temperature, sizeof req->temperature);
  h = hl_fnv(h, &req->max_tokens, sizeof req->max_tokens);
  h = hl_fnv(h, &req->tool_choice, sizeof req->tool_choice);
  h = hl_fnv(h, &req->stream, sizeof req->stream);
  h = hl_fnv_str(hl_fnv_str(h, req->tool_choice_name), req->response_format_name);
  return hl_json_fingerprint(req->response_schema, h);
}

static uint64_t hl_response_fingerprint(const void *v) {
  const hl_response *r = v;
  if (!r) return 0;
  uint64_t h = hl_message_fingerprint(r->message, HL_FNV_SEED);
  return hl_fnv(h, &r->finish, sizeof r->finish);
}

/* ------------------------------------------------------------------ */
/* What differs between points                                         */
/* ------------------------------------------------------------------ */

static void hl_free_str(void *p) { free(p); }
static void hl_free_json(void *p) { cJSON_Delete(p); }
static void hl_free_response(void *p) { hl_response_free(p); }
static void *hl_empty_str(void) { return hl__strdup(""); }
static void *hl_json_null(void) { return cJSON_CreateNull(); }
static void *hl_json_object(void) { return cJSON_CreateObject(); }

typedef struct hl_point_info {
  size_t value_off;              /* out: the override value (0: none) */
  void (*free_value)(void *);
  void *(*default_value)(void);  /* override without a value; NULL: a hook bug */
  unsigned edit_flag;            /* the point's EDIT_ flag (0: none) */
  size_t edit_off;               /* out: the editable value */
  size_t mirror_off;             /* args: the const pointer that follows it */
  bool replaceable;              /* a hook may store another object (else: in place) */
  void *(*empty_edit)(void);     /* what a replaced-with-NULL value becomes */
  uint64_t (*fingerprint)(const void *);
  size_t call_off;               /* args: the hl_tool_call * (tool points; 0: none) */
} hl_point_info;

#define OUT(T, f) offsetof(hl_##T##_out, f)
#define ARGS(T, f) offsetof(hl_##T##_args, f)

static const hl_point_info hl_points[HL_HOOK_POINT_COUNT] = {
    [HL_HOOK_BEFORE_AGENT] = {.value_off = OUT(before_agent, answer), .free_value = hl_free_str,
                              .default_value = hl_empty_str},
    [HL_HOOK_AFTER_AGENT] = {.value_off = OUT(after_agent, answer), .free_value = hl_free_str,
                             .default_value = hl_empty_str},
    [HL_HOOK_BEFORE_MODEL] = {.value_off = OUT(before_model, response),
                              .free_value = hl_free_response,
                              .edit_flag = HL_HOOK_EDIT_REQUEST,
                              .edit_off = OUT(before_model, request),
                              .mirror_off = ARGS(before_model, request),
                              .fingerprint = hl_request_fingerprint},
    [HL_HOOK_AFTER_MODEL] = {.value_off = OUT(after_model, response),
                             .free_value = hl_free_response,
                             .edit_flag = HL_HOOK_EDIT_RESPONSE,
                             .edit_off = OUT(after_model, edit),
                             .mirror_off = ARGS(after_model, response),
                             .fingerprint = hl_response_fingerprint},
    [HL_HOOK_BEFORE_TOOL] = {.value_off = OUT(before_tool, result), .free_value = hl_free_json,
                             .default_value = hl_json_null,
                             .edit_flag = HL_HOOK_EDIT_ARGS,
                             .edit_off = OUT(before_tool, args),
                             .mirror_off = ARGS(before_tool, args),
                             .replaceable = true, .empty_edit = hl_json_object,
                             .fingerprint = hl_args_fingerprint,
                             .call_off = ARGS(before_tool, call)},
    [HL_HOOK_AFTER_TOOL] = {.value_off = OUT(after_tool, result), .free_value = hl_free_json,
                            .default_value = hl_json_null, .call_off = ARGS(after_tool, call)},
    /* model_chunk: out->text / out->drop are handled by hl_chunk_settle() */
    [HL_HOOK_MODEL_CHUNK] = {.edit_flag = HL_HOOK_EDIT_CHUNK},
};

#define SLOT(base, off) ((void **)((char *)(base) + (off)))

/* One typed call: the only place that knows each point's signature. */
static hl_hook_action hl_call(const hl__hook *h, hl_hook_point point, hl_context *ctx,
                              const void *args, void *out) {
  switch (point) {
  case HL_HOOK_BEFORE_AGENT: return h->fn.before_agent(ctx, args, out, h->user_data);
  case HL_HOOK_AFTER_AGENT: return h->fn.after_agent(ctx, args, out, h->user_data);
  case HL_HOOK_BEFORE_MODEL: return h->fn.before_model(ctx, args, out, h->user_data);
  case HL_HOOK_AFTER_MODEL: return h->fn.after_model(ctx, args, out, h->user_data);
  case HL_HOOK_BEFORE_TOOL: return h->fn.before_tool(ctx, args, out, h->user_data);
  case HL_HOOK_AFTER_TOOL: return h->fn.after_tool(ctx, args, out, h->user_data);
  case HL_HOOK_AROUND_MODEL: return h->fn.around_model(ctx, args, out, h->user_data);
  case HL_HOOK_AROUND_TOOL: return h->fn.around_tool(ctx, args, out, h->user_data);
  case HL_HOOK_MODEL_CHUNK: return h->fn.model_chunk(ctx, args, out, h->user_data);
  case HL_HOOK_POINT_COUNT: break;
  }
  return HL_HOOK_ABORT;
}

unsigned hl__ctx_hook_flags(const hl_context *ctx, hl_hook_point point) {
  unsigned f = 0;
  for (size_t s = 0; s < ctx->n_hooks; s++) f |= ctx->hooks[s]->chains[point].flags;
  return f;
}

bool hl__ctx_has_hooks(const hl_context *ctx, hl_hook_point point) {
  for (size_t s = 0; s < ctx->n_hooks; s++)
    if (ctx->hooks[s]->chains[point].count) return true;
  return false;
}

/* ------------------------------------------------------------------ */
/* Events and aborts                                                   */
/* ------------------------------------------------------------------ */

static const hl_tool_call *hl_call_of(hl_hook_point point, const void *args) {
  if (point == HL_HOOK_AROUND_TOOL) return ((const hl_around_tool_args *)args)->call;
  size_t off = hl_points[point].call_off;
  return off ? *(const hl_tool_call *const *)((const char *)args + off) : NULL;
}

static const cJSON *hl_json_args_of(hl_hook_point point, const void *args) {
  switch (point) {
  case HL_HOOK_BEFORE_TOOL: return ((const hl_before_tool_args *)args)->args;
  case HL_HOOK_AFTER_TOOL: return ((const hl_after_tool_args *)args)->args;
  case HL_HOOK_AROUND_TOOL: return ((const hl_around_tool_args *)args)->args;
  default: return NULL;
  }
}

/* Report a decisive hook (override, abort, an edit) to observers. */
static void hl_hook_event(hl_context *ctx, const hl__hook *hook, hl_hook_point point,
                          hl_hook_action action, const void *args, const char *abort_msg) {
  if (!hl__ctx_wants(ctx, HL_EVENT_HOOK)) return;
  hl_event ev = {0};
  ev.type = HL_EVENT_HOOK;
  ev.name = hook->name;
  ev.hook_point = point;
  ev.hook_action = action;
  ev.args = hl_json_args_of(point, args);
  const hl_tool_call *call = hl_call_of(point, args);
  if (call) {
    ev.call_id = call->id;
    ev.tool = call->tool;
  }
  if (action == HL_HOOK_ABORT) {
    ev.error.status = HL_ERR_ABORTED;
    ev.error.message = abort_msg;
  } else {
    ev.error.message = "";
  }
  hl__emit(ctx, &ev);
}

/* A hook said ABORT, returned a value that is not an action, or acted
 * beyond its flags (`why`, when set): all stop the run, so that a buggy
 * hook stops it rather than silently going on. */
static hl_hook_action hl_hook_aborted(hl_context *ctx, const hl__hook *hook,
                                      hl_hook_point point, hl_hook_action action,
                                      const void *args, const char *why) {
  char msg[HL__MSG_MAX];
  bool told = hl__abort_take(msg, sizeof msg); /* taken in every case: never stale */
  if (why) {
    snprintf(msg, sizeof msg, "hook \"%s\" at %s %s", hook->name, hl_hook_point_name(point), why);
  } else if (action != HL_HOOK_ABORT) {
    snprintf(msg, sizeof msg, "hook \"%s\" at %s returned an invalid action (%d)",
             hook->name, hl_hook_point_name(point), (int)action);
  } else if (!told) {
    snprintf(msg, sizeof msg, "hook \"%s\" aborted the run at %s", hook->name,
             hl_hook_point_name(point));
  }
  hl__ctx_abort(ctx, msg);
  hl_hook_event(ctx, hook, point, HL_HOOK_ABORT, args, msg);
  hl_fail(HL_ERR_ABORTED, "%s", msg);
  return HL_HOOK_ABORT;
}

/* The action a hook may not take without HL_HOOK_DECIDE. */
static const char *hl_undeclared(const hl__hook *h, hl_hook_action a) {
  if (a == HL_HOOK_CONTINUE || (h->flags & HL_HOOK_DECIDE)) return NULL;
  if (a == HL_HOOK_OVERRIDE) return "returned override without declaring HL_HOOK_DECIDE";
  if (a == HL_HOOK_ABORT) return "returned abort without declaring HL_HOOK_DECIDE";
  if (a == HL_HOOK_INTERRUPT) return "returned interrupt without declaring HL_HOOK_DECIDE";
  return NULL; /* not an action at all: reported as such */
}

/* model_chunk: take a hook's edit or drop. Returns why the hook broke
 * its declaration, or NULL. */
static const char *hl_chunk_settle(const hl__hook *h, hl_model_chunk_args *args,
                                   hl_model_chunk_out *out, char **owned, bool *edited) {
  bool editor = h->flags & HL_HOOK_EDIT_CHUNK;
  if (!editor && (out->text || out->drop)) {
    free(out->text);
    out->text = NULL;
    return out->drop ? "dropped a chunk without declaring HL_HOOK_EDIT_CHUNK"
                     : "replaced a chunk without declaring HL_HOOK_EDIT_CHUNK";
  }
  if (out->text && args->final && strcmp(out->text, args->text) == 0) {
    free(out->text); /* the end-of-stream call passed on what it got: no edit */
    out->text = NULL;
  }
  if (out->text) {
    free(*owned);
    *owned = out->text;
    args->text = out->text;
    out->text = NULL;
    *edited = true;
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The chain dispatcher                                                */
/* ------------------------------------------------------------------ */

static hl_hook_action hl_dispatch(hl_context *ctx, hl_hook_point point, void *args, void *out,
                                  const char **by);

hl_hook_action hl__dispatch(hl_context *ctx, hl_hook_point point, void *args, void *out) {
  return hl_dispatch(ctx, point, args, out, NULL);
}

hl_hook_action hl__dispatch_before_tool(hl_context *ctx, void *args, void *out, const char **by) {
  *by = NULL;
  return hl_dispatch(ctx, HL_HOOK_BEFORE_TOOL, args, out, by);
}

static hl_hook_action hl_dispatch(hl_context *ctx, hl_hook_point point, void *args, void *out,
                                  const char **by) {
  /* No hook at this point (most points of most runs): what the walk
   * below leaves when it calls nobody, without its set-up (~50
   * instructions a dispatch, a dozen dispatches a run of scenario (b)). */
  if (!hl__ctx_has_hooks(ctx, point)) {
    if (point == HL_HOOK_BEFORE_TOOL) ((hl_before_tool_out *)out)->reason = NULL;
    if (point == HL_HOOK_MODEL_CHUNK) ((hl_model_chunk_out *)out)->text = NULL;
    return HL_HOOK_CONTINUE;
  }
  const hl_point_info *pi = &hl_points[point];
  void **value = pi->value_off ? SLOT(out, pi->value_off) : NULL;
  void **edit = pi->edit_off ? SLOT(out, pi->edit_off) : NULL;
  void **mirror = pi->mirror_off ? SLOT(args, pi->mirror_off) : NULL;
  void *editable = edit ? *edit : NULL; /* NULL: nobody at this point edits */
  bool chunk = point == HL_HOOK_MODEL_CHUNK;
  char *chunk_owned = NULL; /* a chunk hook's replacement text */
  hl_hook_action result = HL_HOOK_CONTINUE;
  const hl__hook *h = NULL;
  const char *why = NULL;
  /* before_tool: an interrupt's reason (interrupt.c takes it) */
  char **reason = point == HL_HOOK_BEFORE_TOOL ? &((hl_before_tool_out *)out)->reason : NULL;
  if (reason) *reason = NULL;

  for (size_t s = 0; s < ctx->n_hooks; s++) {
    const hl__hook_chain *chain = &ctx->hooks[s]->chains[point];
    /* Indexing, not pointer arithmetic on `items`: an empty chain has
     * items == NULL, and NULL + 0 is undefined behaviour (issue 19). */
    for (size_t i = 0; i < chain->count; i++) {
      h = &chain->items[i];
      /* the end-of-stream call goes to chunk editors only (hooks.h) */
      if (chunk && ((hl_model_chunk_args *)args)->final && !(h->flags & HL_HOOK_EDIT_CHUNK)) continue;
      bool editor = (h->flags & pi->edit_flag) && editable;
      if (value) *value = NULL;
      if (edit) *edit = editor ? editable : NULL;
      if (reason && *reason) { /* a reason left by a hook that did not interrupt */
        free(*reason);
        *reason = NULL;
      }
      bool fingerprinted = editor && pi->fingerprint && hl__ctx_wants(ctx, HL_EVENT_HOOK);
      uint64_t print = fingerprinted ? pi->fingerprint(editable) : 0;

      hl_hook_action a = hl_call(h, point, ctx, args, out);
      /* The common case, a hook that only looks and did only that: */
      if (!h->flags && a == HL_HOOK_CONTINUE && !chunk && !(value && *value) && !(edit && *edit))
        continue;

      void *stray = value ? *value : NULL;
      bool changed = false;
      if (edit) {
        if (!editor && *edit) {
          /* Arguments it made are freed; a request or response it
           * pointed at is not ours to free. */
          if (pi->replaceable) cJSON_Delete(*edit);
          *edit = NULL;
          why = "wrote an edit field without declaring its HL_HOOK_EDIT_ flag";
        } else if (editor && *edit != editable) {
          if (!pi->replaceable) {
            why = "replaced the value it may only edit in place";
          } else {
            editable = *edit ? *edit : pi->empty_edit();
            if (!editable) why = "cleared the value and no memory was left for {}";
            changed = true;
          }
        }
        if (mirror && editable) *mirror = editable;
        if (!why && fingerprinted && !changed) changed = pi->fingerprint(editable) != print;
      }
      if (chunk && !why) {
        bool edited = false;
        why = hl_chunk_settle(h, args, out, &chunk_owned, &edited);
        changed = edited || ((hl_model_chunk_out *)out)->drop;
      }
      if (!why) why = hl_undeclared(h, a);
      if (why) {
        if (stray && pi->free_value) pi->free_value(stray);
        if (value) *value = NULL;
        result = hl_hook_aborted(ctx, h, point, a, args, why);
        goto done;
      }
      if (a == HL_HOOK_CONTINUE) {
        if (stray) pi->free_value(stray); /* a value without override */
        if (value) *value = NULL;
        if (changed) hl_hook_event(ctx, h, point, a, args, NULL);
        if (chunk && ((hl_model_chunk_out *)out)->drop) {
          hl_model_chunk_args *ca = args;
          if (!ca->final) goto done; /* later hooks don't see it */
          /* at the end of the stream a drop empties the text; the later
           * hooks still get their end-of-stream call */
          ((hl_model_chunk_out *)out)->drop = false;
          free(chunk_owned);
          chunk_owned = NULL;
          ca->text = "";
        }
        continue;
      }
      if (a == HL_HOOK_OVERRIDE) {
        if (!stray && !(pi->default_value && (stray = pi->default_value()))) {
          hl_hook_abort("hook \"%s\" at %s returned override without a value", h->name,
                        hl_hook_point_name(point));
          result = hl_hook_aborted(ctx, h, point, HL_HOOK_ABORT, args, NULL);
          goto done;
        }
        if (value) *value = stray;
        hl_hook_event(ctx, h, point, a, args, NULL);
        result = a;
        goto done;
      }
      if (a == HL_HOOK_INTERRUPT && reason) {
        /* H20: the call waits for a human. On resume the call runs
         * approved, and the decision stands over a second interrupt. */
        if (stray) pi->free_value(stray);
        if (value) *value = NULL;
        if (((hl_before_tool_args *)args)->approved) continue;
        if (by) *by = h->name; /* travels with the call, not the thread */
        hl_hook_event(ctx, h, point, a, args, NULL);
        result = a;
        goto done;
      }
      if (a == HL_HOOK_INTERRUPT) why = "returned interrupt, which only before_tool hooks may";
      if (stray) pi->free_value(stray);
      if (value) *value = NULL;
      result = hl_hook_aborted(ctx, h, point, a, args, why);
      goto done;
    }
  }
done:
  if (edit) *edit = editable;
  if (reason && result != HL_HOOK_INTERRUPT && *reason) {
    free(*reason);
    *reason = NULL;
  }
  if (chunk) {
    /* The caller gets the final text in out->text (owned) when a hook
     * replaced it. */
    ((hl_model_chunk_out *)out)->text = chunk_owned;
  }
  return result;
}

/* ------------------------------------------------------------------ */
/* Around chains                                                       */
/* ------------------------------------------------------------------ */

struct hl_hook_next {
  hl_context *ctx;
  hl_hook_point point;
  size_t set, item;        /* where the rest of the chain starts */
  const hl_tool_call *call;
  const void *value;       /* the request / arguments the wrap was given */
  hl__inner_fn inner;
  void *data;
  int calls;
  bool finished;           /* the hook returned: next is dead */
  hl_status last;          /* the last call's outcome */
  char last_msg[HL__MSG_MAX];
};

static hl_status hl_around_from(hl_context *ctx, hl_hook_point point, size_t set, size_t item,
                                const hl_tool_call *call, const void *value,
                                hl__inner_fn inner, void *data, void **result) {
  *result = NULL;
  while (set < ctx->n_hooks && item >= ctx->hooks[set]->chains[point].count) {
    set++;
    item = 0;
  }
  if (set >= ctx->n_hooks) return inner(ctx, data, value, result);
  const hl__hook *h = &ctx->hooks[set]->chains[point].items[item];
  hl_hook_next next = {.ctx = ctx, .point = point, .set = set, .item = item + 1, .call = call,
                       .value = value, .inner = inner, .data = data};
  hl_hook_action a;
  void *got;
  hl_status status;
  const void *args;
  hl_around_model_args margs = {sizeof margs, value, &next};
  hl_around_model_out mout = {sizeof mout, NULL, HL_OK};
  hl_around_tool_args targs = {sizeof targs, call, value, &next};
  hl_around_tool_out tout = {sizeof tout, NULL, HL_OK};
  if (point == HL_HOOK_AROUND_MODEL) {
    hl_clear_error();
    a = hl_call(h, point, ctx, &margs, &mout);
    got = mout.response, status = mout.status, args = &margs;
  } else {
    hl_clear_error();
    a = hl_call(h, point, ctx, &targs, &tout);
    got = tout.result, status = tout.status, args = &targs;
  }
  next.finished = true;
  void (*free_got)(void *) = point == HL_HOOK_AROUND_MODEL ? hl_free_response : hl_free_json;

  const char *why = a == HL_HOOK_ABORT || a == HL_HOOK_CONTINUE || a == HL_HOOK_OVERRIDE
                        ? NULL : "returned an invalid action";
  if (!why && a != HL_HOOK_ABORT && !(h->flags & HL_HOOK_DECIDE) && next.calls != 1)
    why = next.calls ? "called next more than once without declaring HL_HOOK_DECIDE"
                     : "did not call next and did not declare HL_HOOK_DECIDE";
  if (why || a == HL_HOOK_ABORT) {
    if (got) free_got(got);
    hl_hook_aborted(ctx, h, point, a, args, why);
    return HL_ERR_ABORTED;
  }
  /* An abort deeper in (an inner wrap, a hook of a nested call) stops the
   * run whatever this wrap made of it. */
  char msg[HL__MSG_MAX];
  if (hl__ctx_aborted(ctx, msg, sizeof msg)) {
    if (got) free_got(got);
    return hl_fail(HL_ERR_ABORTED, "%s", msg);
  }
  if (got) {
    *result = got;
    return HL_OK;
  }
  const char *what = point == HL_HOOK_AROUND_MODEL ? "response" : "result";
  if (status != HL_OK) {
    if ((unsigned)status >= (unsigned)HL_STATUS_COUNT_) status = HL_ERR_EXECUTION_FAILED;
    if (hl_last_status() == status && hl_last_error()[0]) return status;
    return hl_fail(status, "hook \"%s\" at %s failed: %s", h->name, hl_hook_point_name(point),
                   hl_strerror(status));
  }
  if (next.calls && next.last != HL_OK) return hl_fail(next.last, "%s", next.last_msg);
  return hl_fail(HL_ERR_STATE, "hook \"%s\" at %s gave no %s%s", h->name,
                 hl_hook_point_name(point), what,
                 next.calls ? " (it dropped what next returned)" : " and did not call next");
}

hl_status hl__around(hl_context *ctx, hl_hook_point point, const hl_tool_call *call,
                     const void *value, hl__inner_fn inner, void *data, void **result) {
  return hl_around_from(ctx, point, 0, 0, call, value, inner, data, result);
}

static hl_status hl_next(hl_hook_next *next, hl_hook_point point, const void *value,
                         void **result, const char *fn) {
  if (!next || next->finished || next->point != point)
    return hl_fail(HL_ERR_INVALID, "%s: not the next of a running %s hook", fn,
                   hl_hook_point_name(point));
  next->calls++;
  /* After an abort (deeper in, or on a sibling call) nothing more runs. */
  char msg[HL__MSG_MAX];
  if (hl__ctx_aborted(next->ctx, msg, sizeof msg)) {
    next->last = HL_ERR_ABORTED;
    snprintf(next->last_msg, sizeof next->last_msg, "%s", msg);
    *result = NULL;
    return hl_fail(HL_ERR_ABORTED, "%s", msg);
  }
  hl_status st = hl_around_from(next->ctx, point, next->set, next->item, next->call,
                                value ? value : next->value, next->inner, next->data, result);
  next->last = st;
  snprintf(next->last_msg, sizeof next->last_msg, "%s",
           st == HL_OK ? "" : hl_last_status() == st ? hl_last_error() : hl_strerror(st));
  if (st != HL_OK) hl_fail(st, "%s", next->last_msg); /* the snprintf above kept it */
  return st;
}

hl_status hl_next_model(hl_hook_next *next, const hl_request *request, hl_response **response) {
  if (!response) return hl_fail(HL_ERR_INVALID, "hl_next_model: response is NULL");
  void *r = NULL;
  hl_status st = hl_next(next, HL_HOOK_AROUND_MODEL, request, &r, "hl_next_model");
  *response = r;
  return st;
}

hl_status hl_next_tool(hl_hook_next *next, const cJSON *args, cJSON **result) {
  if (!result) return hl_fail(HL_ERR_INVALID, "hl_next_tool: result is NULL");
  void *r = NULL;
  hl_status st = hl_next(next, HL_HOOK_AROUND_TOOL, args, &r, "hl_next_tool");
  *result = r;
  return st;
}
