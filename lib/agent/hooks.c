/*
 * hooks.c - hook chains and their dispatch.
 *
 * A chain is a plain array of {function, user_data, name}; a run walks a
 * small array of chain sets (global, ancestors, own) built once when the
 * run starts. Dispatching a hook is therefore an indexed load and an
 * indirect call: no lock, no allocation (the < 20 ns budget of DESIGN.md).
 * Registration is not thread-safe against running agents; that is the
 * documented price of a lock-free hot path, as in Linux notifier chains
 * set up at boot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "core/util.h"
#include "hookline/json.h"

/* The message of the last hl_hook_abort() on this thread. A flag rather
 * than hl_last_error(): a hook that returns ABORT without calling
 * hl_hook_abort() must not pick up a stale message from an earlier run. */
static _Thread_local char hl_abort_msg[HL__MSG_MAX];
static _Thread_local bool hl_abort_pending;

static hl_hooks hl_global_hooks; /* zero-initialised: six empty chains */

const char *hl_hook_point_name(hl_hook_point point) {
  static const char *const names[HL_HOOK_POINT_COUNT] = {
      "before_agent", "after_agent", "before_model",
      "after_model",  "before_tool", "after_tool"};
  return (unsigned)point < HL_HOOK_POINT_COUNT ? names[point] : "unknown";
}

const char *hl_hook_action_name(hl_hook_action action) {
  switch (action) {
  case HL_HOOK_CONTINUE: return "continue";
  case HL_HOOK_OVERRIDE: return "override";
  case HL_HOOK_ABORT: return "abort";
  }
  return "unknown";
}

hl_hook_action hl_hook_abort(const char *fmt, ...) {
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(hl_abort_msg, sizeof hl_abort_msg, fmt, ap);
    va_end(ap);
    if (n < 0) hl_abort_msg[0] = '\0';
  } else {
    hl_abort_msg[0] = '\0';
  }
  if (!hl_abort_msg[0]) snprintf(hl_abort_msg, sizeof hl_abort_msg, "aborted by a hook");
  hl_abort_pending = true;
  hl_fail(HL_ERR_ABORTED, "%s", hl_abort_msg);
  return HL_HOOK_ABORT;
}

/* ------------------------------------------------------------------ */
/* Sets and registration                                               */
/* ------------------------------------------------------------------ */

hl_hooks *hl_hooks_new(void) {
  hl_hooks *hooks = calloc(1, sizeof *hooks);
  if (!hooks) hl__oom();
  return hooks;
}

static void hl_chain_clear(hl__hook_chain *chain) {
  for (size_t i = 0; i < chain->count; i++) free(chain->items[i].name);
  chain->count = 0;
}

void hl_hooks_clear(hl_hooks *hooks) {
  if (!hooks) return;
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) hl_chain_clear(&hooks->chains[p]);
}

void hl_hooks_free(hl_hooks *hooks) {
  if (!hooks) return;
  hl_hooks_clear(hooks);
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    free(hooks->chains[p].items);
    hooks->chains[p].items = NULL;
    hooks->chains[p].cap = 0;
  }
  for (size_t i = 0; i < hooks->n_frees; i++)
    if (hooks->frees[i].fn) hooks->frees[i].fn(hooks->frees[i].user_data);
  free(hooks->frees);
  hooks->frees = NULL;
  hooks->n_frees = hooks->cap_frees = 0;
  /* The global set is static: emptied, never freed. */
  if (hooks != &hl_global_hooks) free(hooks);
}

hl_hooks *hl_hooks_global(void) { return &hl_global_hooks; }

static hl_status hl_hooks_add(hl_hooks *hooks, hl_hook_point point, const char *name,
                              hl__hook_fn fn, bool fn_set, void *user_data) {
  if (!hooks) return hl_fail(HL_ERR_INVALID, "hl_hooks_add_%s: hooks is NULL",
                             hl_hook_point_name(point));
  if (!fn_set)
    return hl_fail(HL_ERR_INVALID, "hl_hooks_add_%s: hook function is NULL",
                   hl_hook_point_name(point));
  hl__hook_chain *chain = &hooks->chains[point];
  if (hl__reserve((void **)&chain->items, &chain->cap, chain->count + 1,
                  sizeof *chain->items) != HL_OK)
    return HL_ERR_NOMEM;
  char *copy = hl__strdup(name ? name : "anonymous");
  if (!copy) return hl__oom();
  chain->items[chain->count++] = (hl__hook){.fn = fn, .user_data = user_data, .name = copy};
  return HL_OK;
}

hl_status hl_hooks_add_before_agent(hl_hooks *hooks, const char *name,
                                    hl_before_agent_fn fn, void *user_data) {
  return hl_hooks_add(hooks, HL_HOOK_BEFORE_AGENT, name, (hl__hook_fn){.before_agent = fn},
                      fn != NULL, user_data);
}
hl_status hl_hooks_add_after_agent(hl_hooks *hooks, const char *name,
                                   hl_after_agent_fn fn, void *user_data) {
  return hl_hooks_add(hooks, HL_HOOK_AFTER_AGENT, name, (hl__hook_fn){.after_agent = fn},
                      fn != NULL, user_data);
}
hl_status hl_hooks_add_before_model(hl_hooks *hooks, const char *name,
                                    hl_before_model_fn fn, void *user_data) {
  return hl_hooks_add(hooks, HL_HOOK_BEFORE_MODEL, name, (hl__hook_fn){.before_model = fn},
                      fn != NULL, user_data);
}
hl_status hl_hooks_add_after_model(hl_hooks *hooks, const char *name,
                                   hl_after_model_fn fn, void *user_data) {
  return hl_hooks_add(hooks, HL_HOOK_AFTER_MODEL, name, (hl__hook_fn){.after_model = fn},
                      fn != NULL, user_data);
}
hl_status hl_hooks_add_before_tool(hl_hooks *hooks, const char *name,
                                   hl_before_tool_fn fn, void *user_data) {
  return hl_hooks_add(hooks, HL_HOOK_BEFORE_TOOL, name, (hl__hook_fn){.before_tool = fn},
                      fn != NULL, user_data);
}
hl_status hl_hooks_add_after_tool(hl_hooks *hooks, const char *name,
                                  hl_after_tool_fn fn, void *user_data) {
  return hl_hooks_add(hooks, HL_HOOK_AFTER_TOOL, name, (hl__hook_fn){.after_tool = fn},
                      fn != NULL, user_data);
}

hl_status hl_hooks_on_free(hl_hooks *hooks, hl_free_fn free_fn, void *user_data) {
  if (!hooks || !free_fn)
    return hl_fail(HL_ERR_INVALID, "hl_hooks_on_free: hooks and free_fn are required");
  if (hl__reserve((void **)&hooks->frees, &hooks->cap_frees, hooks->n_frees + 1,
                  sizeof *hooks->frees) != HL_OK)
    return HL_ERR_NOMEM;
  hooks->frees[hooks->n_frees++] = (hl__free_entry){free_fn, user_data};
  return HL_OK;
}

hl_status hl_hooks_remove(hl_hooks *hooks, const char *name) {
  if (!hooks || !name) return hl_fail(HL_ERR_INVALID, "hl_hooks_remove: hooks and name are required");
  size_t removed = 0;
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    hl__hook_chain *chain = &hooks->chains[p];
    size_t w = 0;
    for (size_t r = 0; r < chain->count; r++) {
      if (strcmp(chain->items[r].name, name) == 0) {
        free(chain->items[r].name);
        removed++;
      } else {
        chain->items[w++] = chain->items[r];
      }
    }
    chain->count = w;
  }
  if (!removed) return hl_fail(HL_ERR_NOT_FOUND, "no hook named \"%s\"", name);
  return HL_OK;
}

size_t hl_hooks_count(const hl_hooks *hooks, hl_hook_point point) {
  if (!hooks || (unsigned)point >= HL_HOOK_POINT_COUNT) return 0;
  return hooks->chains[point].count;
}

const char *hl_hooks_name_at(const hl_hooks *hooks, hl_hook_point point, size_t i) {
  if (!hooks || (unsigned)point >= HL_HOOK_POINT_COUNT) return NULL;
  if (i >= hooks->chains[point].count) return NULL;
  return hooks->chains[point].items[i].name;
}

hl_status hl__hooks_copy_into(hl_hooks *dst, const hl_hooks *src) {
  for (int p = 0; p < HL_HOOK_POINT_COUNT; p++) {
    const hl__hook_chain *chain = &src->chains[p];
    for (size_t i = 0; i < chain->count; i++) {
      hl_status st = hl_hooks_add(dst, (hl_hook_point)p, chain->items[i].name,
                                  chain->items[i].fn, true, chain->items[i].user_data);
      if (st != HL_OK) return st;
    }
  }
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

/* Report a decisive hook (override, abort, new arguments) to observers. */
static void hl_hook_event(hl_context *ctx, const hl__hook *hook, hl_hook_point point,
                          hl_hook_action action, const hl_tool_call *call,
                          const cJSON *args, const char *abort_msg) {
  if (!hl__ctx_observed(ctx)) return;
  hl_event ev = {0};
  ev.type = HL_EVENT_HOOK;
  ev.name = hook->name;
  ev.hook_point = point;
  ev.hook_action = action;
  ev.args = args;
  if (call) ev.call_id = call->id;
  if (action == HL_HOOK_ABORT) {
    ev.error.status = HL_ERR_ABORTED;
    ev.error.message = abort_msg;
  } else {
    ev.error.message = "";
  }
  hl__emit(ctx, &ev);
}

/* A hook said ABORT (or returned a value that is not an action, which
 * is treated the same way so that a buggy hook stops rather than
 * silently continuing). Records the abort on the run. */
static hl_hook_action hl_hook_aborted(hl_context *ctx, const hl__hook *hook,
                                      hl_hook_point point, hl_hook_action action,
                                      const hl_tool_call *call, const cJSON *args) {
  char msg[HL__MSG_MAX];
  if (action != HL_HOOK_ABORT) {
    snprintf(msg, sizeof msg, "hook \"%s\" at %s returned an invalid action (%d)",
             hook->name, hl_hook_point_name(point), (int)action);
  } else if (hl_abort_pending) {
    memcpy(msg, hl_abort_msg, sizeof msg);
  } else {
    snprintf(msg, sizeof msg, "hook \"%s\" aborted the run at %s", hook->name,
             hl_hook_point_name(point));
  }
  hl_abort_pending = false;
  hl__ctx_abort(ctx, msg);
  hl_hook_event(ctx, hook, point, HL_HOOK_ABORT, call, args, msg);
  hl_fail(HL_ERR_ABORTED, "%s", msg);
  return HL_HOOK_ABORT;
}

/* An override that came without its value. */
static hl_hook_action hl_hook_no_value(hl_context *ctx, const hl__hook *hook,
                                       hl_hook_point point) {
  hl_hook_abort("hook \"%s\" at %s returned override without a value", hook->name,
                hl_hook_point_name(point));
  return hl_hook_aborted(ctx, hook, point, HL_HOOK_ABORT, NULL, NULL);
}

/* A structural hash of a JSON tree, to notice that a before_tool hook
 * changed the arguments. Comparing pointers is not enough: a hook that
 * frees the old tree and parses a new one often gets the same address
 * back from malloc, and a hook may also edit the tree in place. Only
 * computed when someone observes the run (the result only feeds events),
 * so unobserved dispatch stays a plain call. */
static uint64_t hl_fnv(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
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

#define HL_FNV_SEED 0xcbf29ce484222325ULL

static uint64_t hl_fnv_str(uint64_t h, const char *s) {
  return s ? hl_fnv(h, s, strlen(s) + 1) : hl_fnv(h, "", 0) ^ 0x5a;
}

/* The same for a request: everything a provider would send. Only when
 * observed, as above; the cost is one pass over the request per hook. */
static uint64_t hl_request_fingerprint(const hl_request *req) {
  uint64_t h = hl_fnv_str(HL_FNV_SEED, req->model);
  for (size_t i = 0; i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    h = hl_fnv(h, &m->role, sizeof m->role);
    for (size_t j = 0; j < m->n_parts; j++) {
      const hl_part *p = &m->parts[j];
      h = hl_fnv(h, &p->kind, sizeof p->kind);
      h = hl_fnv(h, &p->is_error, sizeof p->is_error);
      h = hl_fnv_str(hl_fnv_str(hl_fnv_str(h, p->text), p->id), p->name);
      h = hl_json_fingerprint(p->args, h);
    }
    h = hl_fnv(h, "|", 1);
  }
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

/* Iterate every hook of `point` in dispatch order. */
#define HL_FOR_EACH_HOOK(ctx, point, h)                                         \
  for (size_t s_ = 0; s_ < (ctx)->n_hooks; s_++)                                \
    for (const hl__hook *h = (ctx)->hooks[s_]->chains[point].items,             \
                        *end_##h = h + (ctx)->hooks[s_]->chains[point].count;   \
         h < end_##h; h++)

hl_hook_action hl__dispatch_before_agent(hl_context *ctx, char **answer) {
  HL_FOR_EACH_HOOK(ctx, HL_HOOK_BEFORE_AGENT, h) {
    char *out = NULL;
    hl_hook_action a = h->fn.before_agent(ctx, &out, h->user_data);
    if (a == HL_HOOK_CONTINUE) {
      if (out) free(out); /* the test keeps the common path free of calls */
      continue;
    }
    if (a == HL_HOOK_OVERRIDE) {
      if (!out && !(out = hl__strdup(""))) return hl_hook_no_value(ctx, h, HL_HOOK_BEFORE_AGENT);
      *answer = out;
      hl_hook_event(ctx, h, HL_HOOK_BEFORE_AGENT, a, NULL, NULL, NULL);
      return a;
    }
    free(out);
    return hl_hook_aborted(ctx, h, HL_HOOK_BEFORE_AGENT, a, NULL, NULL);
  }
  return HL_HOOK_CONTINUE;
}

hl_hook_action hl__dispatch_after_agent(hl_context *ctx, const char *answer,
                                        char **replacement) {
  HL_FOR_EACH_HOOK(ctx, HL_HOOK_AFTER_AGENT, h) {
    char *out = NULL;
    hl_hook_action a = h->fn.after_agent(ctx, answer, &out, h->user_data);
    if (a == HL_HOOK_CONTINUE) {
      if (out) free(out); /* the test keeps the common path free of calls */
      continue;
    }
    if (a == HL_HOOK_OVERRIDE) {
      if (!out && !(out = hl__strdup(""))) return hl_hook_no_value(ctx, h, HL_HOOK_AFTER_AGENT);
      *replacement = out;
      hl_hook_event(ctx, h, HL_HOOK_AFTER_AGENT, a, NULL, NULL, NULL);
      return a;
    }
    free(out);
    return hl_hook_aborted(ctx, h, HL_HOOK_AFTER_AGENT, a, NULL, NULL);
  }
  return HL_HOOK_CONTINUE;
}

hl_hook_action hl__dispatch_before_model(hl_context *ctx, hl_request *req,
                                         hl_response **response) {
  HL_FOR_EACH_HOOK(ctx, HL_HOOK_BEFORE_MODEL, h) {
    hl_response *out = NULL;
    bool observed = hl__ctx_observed(ctx);
    uint64_t print = observed ? hl_request_fingerprint(req) : 0;
    hl_hook_action a = h->fn.before_model(ctx, req, &out, h->user_data);
    if (a == HL_HOOK_CONTINUE) {
      /* An edit in place is the one decision of a continuing before_model
       * hook: put it in the trace (the next API_REQUEST shows the result). */
      if (observed && hl_request_fingerprint(req) != print)
        hl_hook_event(ctx, h, HL_HOOK_BEFORE_MODEL, a, NULL, NULL, NULL);
      if (out) hl_response_free(out);
      continue;
    }
    if (a == HL_HOOK_OVERRIDE) {
      if (!out) return hl_hook_no_value(ctx, h, HL_HOOK_BEFORE_MODEL);
      *response = out;
      hl_hook_event(ctx, h, HL_HOOK_BEFORE_MODEL, a, NULL, NULL, NULL);
      return a;
    }
    hl_response_free(out);
    return hl_hook_aborted(ctx, h, HL_HOOK_BEFORE_MODEL, a, NULL, NULL);
  }
  return HL_HOOK_CONTINUE;
}

hl_hook_action hl__dispatch_after_model(hl_context *ctx, const hl_request *req,
                                        const hl_response *response,
                                        const hl_error *error,
                                        hl_response **replacement) {
  HL_FOR_EACH_HOOK(ctx, HL_HOOK_AFTER_MODEL, h) {
    hl_response *out = NULL;
    hl_hook_action a = h->fn.after_model(ctx, req, response, error, &out, h->user_data);
    if (a == HL_HOOK_CONTINUE) {
      if (out) hl_response_free(out);
      continue;
    }
    if (a == HL_HOOK_OVERRIDE) {
      if (!out) return hl_hook_no_value(ctx, h, HL_HOOK_AFTER_MODEL);
      *replacement = out;
      hl_hook_event(ctx, h, HL_HOOK_AFTER_MODEL, a, NULL, NULL, NULL);
      return a;
    }
    hl_response_free(out);
    return hl_hook_aborted(ctx, h, HL_HOOK_AFTER_MODEL, a, NULL, NULL);
  }
  return HL_HOOK_CONTINUE;
}

hl_hook_action hl__dispatch_before_tool(hl_context *ctx, const hl_tool_call *call,
                                        cJSON **args, cJSON **result) {
  HL_FOR_EACH_HOOK(ctx, HL_HOOK_BEFORE_TOOL, h) {
    cJSON *out = NULL;
    cJSON *seen = *args;
    bool observed = hl__ctx_observed(ctx);
    uint64_t print = observed ? hl_json_fingerprint(seen, HL_FNV_SEED) : 0;
    hl_hook_action a = h->fn.before_tool(ctx, call, args, &out, h->user_data);
    if (*args != seen ||
        (observed && hl_json_fingerprint(*args, HL_FNV_SEED) != print)) {
      /* New arguments: what the tool, the events and after_tool see (H7).
       * A hook that cleared them gets the empty object the model would
       * have sent for "no arguments". */
      if (!*args) *args = cJSON_CreateObject();
      if (a == HL_HOOK_CONTINUE)
        hl_hook_event(ctx, h, HL_HOOK_BEFORE_TOOL, a, call, *args, NULL);
    }
    if (a == HL_HOOK_CONTINUE) {
      if (out) cJSON_Delete(out);
      continue;
    }
    if (a == HL_HOOK_OVERRIDE) {
      if (!out && !(out = cJSON_CreateNull())) return hl_hook_no_value(ctx, h, HL_HOOK_BEFORE_TOOL);
      *result = out;
      hl_hook_event(ctx, h, HL_HOOK_BEFORE_TOOL, a, call, *args, NULL);
      return a;
    }
    cJSON_Delete(out);
    return hl_hook_aborted(ctx, h, HL_HOOK_BEFORE_TOOL, a, call, *args);
  }
  return HL_HOOK_CONTINUE;
}

hl_hook_action hl__dispatch_after_tool(hl_context *ctx, const hl_tool_call *call,
                                       const cJSON *args, const cJSON *result,
                                       const hl_error *error, cJSON **replacement) {
  HL_FOR_EACH_HOOK(ctx, HL_HOOK_AFTER_TOOL, h) {
    cJSON *out = NULL;
    hl_hook_action a = h->fn.after_tool(ctx, call, args, result, error, &out, h->user_data);
    if (a == HL_HOOK_CONTINUE) {
      if (out) cJSON_Delete(out);
      continue;
    }
    if (a == HL_HOOK_OVERRIDE) {
      if (!out && !(out = cJSON_CreateNull())) return hl_hook_no_value(ctx, h, HL_HOOK_AFTER_TOOL);
      *replacement = out;
      hl_hook_event(ctx, h, HL_HOOK_AFTER_TOOL, a, call, args, NULL);
      return a;
    }
    cJSON_Delete(out);
    return hl_hook_aborted(ctx, h, HL_HOOK_AFTER_TOOL, a, call, args);
  }
  return HL_HOOK_CONTINUE;
}
