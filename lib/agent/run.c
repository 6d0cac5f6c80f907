/*
 * run.c - one run of an agent: the agent-level hooks and events around a
 * body, and the body of an LLM agent, the model/tool loop.
 *
 *   AGENT_START, before_agent (override: answer, skip to AGENT_END)
 *   body: LLM loop (below) or the custom agent's function
 *   after_agent (may replace the answer), output_key
 *   AGENT_END, TRACE_COMPLETE
 *
 * A failure anywhere is kept as (status, message) in an hl__outcome and
 * reported once at the end, because observers and hooks run in between
 * and a message in the thread's last-error slot would not survive them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/run_internal.h"
#include "agent/interrupt_internal.h"
#include "agent/session_internal.h"
#include "core/model_internal.h"
#include "core/util.h"
#include "hookline/json.h"

#define hl_outcome_take hl__outcome_take
#define hl_outcome_set hl__outcome_set
#define hl_check_abort hl__check_abort
#define hl_check_cancel hl__check_cancel
#define hl_request_edited hl__request_edited
#define hl_may_borrow_history hl__may_borrow_history
#define hl_request_release hl__request_release
#define hl_build_request hl__build_request

/* Set the outcome to (st, msg), the message copied to its length (cut at
 * HL__MSG_MAX - 1 bytes, as the thread's last error is). */
static hl_status outcome_put(hl__outcome *o, hl_status st, const char *msg) {
  free(o->message_);
  size_t n = strnlen(msg, HL__MSG_MAX - 1);
  o->message_ = malloc(n + 1);
  if (o->message_) {
    memcpy(o->message_, msg, n);
    o->message_[n] = '\0';
  }
  o->status = st;
  return st;
}

const char *hl__outcome_message(const hl__outcome *o) {
  if (o->message_) return o->message_;
  return o->status == HL_OK ? "" : hl_strerror(o->status);
}

void hl__outcome_clear(hl__outcome *o) {
  free(o->message_);
  o->message_ = NULL;
}

/* Record the calling thread's last error as the run's failure. */
hl_status hl_outcome_take(hl__outcome *o, hl_status st) {
  const char *msg = hl_last_status() == st ? hl_last_error() : "";
  return outcome_put(o, st, msg[0] ? msg : hl_strerror(st));
}

hl_status hl_outcome_set(hl__outcome *o, hl_status st, const char *fmt, ...) {
  char msg[HL__MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return outcome_put(o, st, msg);
}

/* The run stops for a decision (HL_INTERRUPTED, not a failure): o says
 * which calls wait. */
static hl_status outcome_interrupted(hl_context *ctx, hl__outcome *o) {
  char msg[HL__MSG_MAX];
  hl__interrupt_message(ctx, msg, sizeof msg);
  return outcome_put(o, HL_INTERRUPTED, msg);
}

/* The run was aborted by a hook (maybe on a tool worker or in a child)? */
bool hl_check_abort(hl_context *ctx, hl__outcome *o) {
  char msg[HL__MSG_MAX];
  if (!hl__ctx_aborted(ctx, msg, sizeof msg)) return false;
  outcome_put(o, HL_ERR_ABORTED, msg);
  return true;
}

bool hl_check_cancel(hl_context *ctx, hl__outcome *o) {
  if (!hl_context_cancelled(ctx)) return false;
  hl_outcome_set(o, HL_ERR_CANCELLED, "run of agent \"%s\" cancelled", ctx->agent->name);
  return true;
}

/* ------------------------------------------------------------------ */
/* The LLM loop                                                        */
/* ------------------------------------------------------------------ */

/* True if some before_model hook declared that it edits the request:
 * the run then hands it a private copy. Hooks that only look are given
 * the request that borrows the session's history and the agent's tool
 * declarations, which they see const. */
bool hl_request_edited(const hl_context *ctx) {
  return hl__ctx_hook_flags(ctx, HL_HOOK_BEFORE_MODEL) & HL_HOOK_EDIT_REQUEST;
}

/* True if the request may borrow the session's messages: no hook edits
 * it, and no other run can change the history meanwhile. A run on its
 * parent's session (HL_RUN_SHARED) may have siblings on it (parallel tool
 * calls) that append and, when they fail, truncate: such a run copies. */
bool hl_may_borrow_history(const hl_context *ctx) {
  if (ctx->parent && ctx->parent->session == ctx->session) return false;
  return !hl_request_edited(ctx);
}

/* The request of one model call. The history is deep-copied when a
 * before_model hook declared that it edits the request (that must never
 * rewrite the session's history); otherwise everything that sees the
 * request takes it const (hooks, wraps, the provider), and the history's
 * messages are borrowed, the agent's system message before them:
 * *borrowed_from is the index of the first, and hl_request_release()
 * gives them back before hl_request_free(). */
/* A request can use the tools' own declarations when each has a name
 * and an object schema (what hl_request_add_tool() would accept and copy
 * unchanged). */
static bool hl_tools_borrowable(hl_tools *tools) {
  for (size_t i = 0; i < hl_tools_count(tools); i++) {
    hl_tool *t = hl_tools_at(tools, i);
    if (!hl_tool_name(t) || !cJSON_IsObject(hl_tool_schema(t))) return false;
  }
  return true;
}

/* Give back what hl_build_request() borrowed, then free the request. */
void hl_request_release(hl_request *req, size_t borrowed_from, bool tools_borrowed) {
  if (!req) return;
  if (borrowed_from != SIZE_MAX) req->messages.count = borrowed_from; /* the list's tail */
  if (tools_borrowed) req->n_tools = 0; /* the array is the request's, its items are not */
  hl_request_free(req);
}

hl_request *hl_build_request(hl_context *ctx, bool borrow, size_t *borrowed_from,
                                    bool *tools_borrowed) {
  const hl_agent *a = ctx->agent;
  *borrowed_from = SIZE_MAX;
  *tools_borrowed = false;
  bool borrow_tools = !hl_request_edited(ctx);
  hl_request *req = hl_request_new();
  if (!req) return NULL;
  bool ok = hl_request_set_model(req, a->model) == HL_OK;
  /* The instruction: the agent's own system message, borrowed with the
   * history (nothing edits the request); else a copy of its own. */
  bool lend_system = borrow && a->system_msg;
  if (ok && !lend_system && a->instruction && a->instruction[0])
    ok = hl_messages_push(&req->messages, hl_message_new_text(HL_ROLE_SYSTEM, a->instruction)) == HL_OK;
  const hl_messages *history = hl_session_messages(ctx->session);
  size_t n_history = borrow && history ? history->count : 0;
  if (ok && (lend_system || n_history)) {
    hl_messages *list = &req->messages;
    ok = hl__reserve((void **)&list->items, &list->cap_, list->count + lend_system + n_history,
                     sizeof *list->items) == HL_OK;
    if (ok) {
      *borrowed_from = list->count;
      if (lend_system) list->items[list->count++] = a->system_msg;
      if (n_history) memcpy(list->items + list->count, history->items, n_history * sizeof *list->items);
      list->count += n_history;
    }
  }
  for (size_t i = 0; ok && !borrow && history && i < history->count; i++) {
    hl_message *m = hl_message_clone(history->items[i]);
    ok = m && hl_messages_push(&req->messages, m) == HL_OK;
  }
  size_t n_tools = hl_tools_count(a->tools);
  if (ok && borrow_tools && n_tools && hl_tools_borrowable(a->tools)) {
    /* The agent's tools are fixed while it runs (configure-time API):
     * their names, descriptions and schemas serve every request as is. */
    req->tools = calloc(n_tools, sizeof *req->tools);
    ok = req->tools != NULL;
    for (size_t i = 0; ok && i < n_tools; i++) {
      hl_tool *t = hl_tools_at(a->tools, i);
      req->tools[i] = (hl_tool_decl){(char *)hl_tool_name(t), (char *)hl_tool_description(t),
                                     (cJSON *)hl_tool_schema(t)};
    }
    if (ok) {
      req->n_tools = n_tools;
      *tools_borrowed = true;
      hl__request_borrow_tools(req, a->tools);
    }
  }
  for (size_t i = 0; ok && !*tools_borrowed && i < n_tools; i++) {
    hl_tool *t = hl_tools_at(a->tools, i);
    ok = hl_request_add_tool(req, hl_tool_name(t), hl_tool_description(t), hl_tool_schema(t)) == HL_OK;
  }
  for (size_t i = 0; ok && i < a->n_stop; i++) ok = hl_request_add_stop(req, a->stop[i]) == HL_OK;
  if (ok && a->response_schema)
    ok = hl_request_set_response_schema(req, a->response_format_name, a->response_schema) == HL_OK;
  if (ok && a->tool_choice_name && !(req->tool_choice_name = hl__strdup(a->tool_choice_name)))
    ok = false;
  if (!ok) {
    hl_request_release(req, *borrowed_from, *tools_borrowed);
    return NULL;
  }
  req->temperature = a->temperature;
  req->max_tokens = a->max_tokens;
  req->tool_choice = a->tool_choice;
  req->stream = a->stream;
  return req;
}

/* Rough prompt size for LM_START: ~4 bytes per token, the bytes being
 * every part's text in every message of the request. The session keeps
 * its history's sum, so a request that borrows the history (no hook edits
 * it) only counts what comes before it (the instruction): the cost of an
 * LM_START observer does not grow with the conversation. A copy (an
 * editing hook, an around_model wrap's own request) is counted whole. */
static int64_t hl_estimate_tokens(const hl_context *ctx, const hl_request *req) {
  size_t bytes = 0, tail = 0; /* left as they are when the request does not borrow */
  if (ctx->session) hl__session_borrowed_text_bytes(ctx->session, &req->messages, &tail, &bytes);
  for (size_t i = 0; i < req->messages.count - tail; i++)
    bytes += hl__message_text_bytes(req->messages.items[i]);
  return (int64_t)(bytes + 3) / 4;
}

/* Before the provider is called: the cancellation check, LM_START, the
 * stream's reset. *t0 gets the start time for LM_END. */
hl_status hl__model_begin(hl_context *ctx, const hl_request *req, int64_t *t0) {
  if (hl_context_cancelled(ctx))
    return hl_fail(HL_ERR_CANCELLED, "run of agent \"%s\" cancelled", ctx->agent->name);
  const char *model_name = ctx->agent->model ? ctx->agent->model : hl_provider_name(ctx->agent->provider);
  const char *provider = hl_provider_name(ctx->agent->provider);
  hl_event lm = {.type = HL_EVENT_LM_START, .name = model_name, .provider = provider};
  if (hl__ctx_wants(ctx, HL_EVENT_LM_START)) {
    lm.prompt_tokens = hl_estimate_tokens(ctx, req);
    hl__emit(ctx, &lm);
  }
  *t0 = hl__mono_ns();
  hl__stream_begin(ctx);
  return HL_OK;
}

/* After the provider answered (`st`, `resp` taken; message of a failure
 * in `errmsg`): a chunk hook's abort, the stream made consistent, LM_END.
 * On HL_OK *result is the response; else the status with its message set. */
hl_status hl__model_end(hl_context *ctx, hl_status st, const char *errmsg, hl_response *resp,
                        int64_t t0, hl_response **result) {
  const char *model_name = ctx->agent->model ? ctx->agent->model : hl_provider_name(ctx->agent->provider);
  char msg[HL__MSG_MAX];
  snprintf(msg, sizeof msg, "%s", st == HL_OK ? "" : errmsg);
  if (st == HL_OK && hl__ctx_aborted(ctx, msg, sizeof msg)) {
    /* a chunk hook aborted and the provider did not pass it on */
    hl_response_free(resp);
    resp = NULL;
    st = HL_ERR_ABORTED;
  }
  if (st == HL_OK) {
    st = hl__stream_end(ctx, resp);
    if (st != HL_OK) snprintf(msg, sizeof msg, "%s", hl_last_error());
  } else {
    hl__stream_end(ctx, NULL);
  }
  if (st != HL_OK) {
    hl_response_free(resp);
    resp = NULL;
  }
  hl_event end = {.type = HL_EVENT_LM_END, .name = model_name, .error = {st, msg},
                  .provider = hl_provider_name(ctx->agent->provider), .response = resp};
  end.usage = resp ? &resp->usage : NULL;
  end.duration_ms = (double)(hl__mono_ns() - t0) / 1e6;
  hl__emit(ctx, &end);
  if (st != HL_OK) return hl_fail(st, "%s", msg);
  *result = resp;
  return HL_OK;
}

/* The innermost step of around_model: the provider, with LM_START and
 * LM_END around it and the streamed deltas through model_chunk. */
static hl_status hl_provider_step(hl_context *ctx, void *data, const void *value,
                                  void **result) {
  (void)data;
  const hl_request *req = value;
  int64_t t0;
  hl_status st = hl__model_begin(ctx, req, &t0);
  if (st != HL_OK) return st;
  hl_response *resp = NULL;
  st = hl_provider_complete(ctx->agent->provider, ctx, req, &resp);
  hl_response *out = NULL;
  st = hl__model_end(ctx, st, st == HL_OK ? "" : hl_last_error(), resp, t0, &out);
  if (st == HL_OK) *result = out;
  return st;
}

hl_status hl__model_inner(hl_context *ctx, const hl_request *req, hl_response **out) {
  void *got = NULL;
  hl_status st = hl__around(ctx, HL_HOOK_AROUND_MODEL, NULL, req, hl_provider_step, NULL, &got);
  *out = got;
  return st;
}

/* before_model: HL__MODEL_CALL (call the provider), HL__MODEL_OVERRIDDEN
 * (*out is the hook's response: no model call and, as in ADK, no
 * after_model either) or HL__MODEL_FAILED (o set). `req` is the run's
 * private copy when a before_model hook edits (it is then handed to that
 * hook in out->request). */
hl__model_next hl__before_model(hl_context *ctx, hl_request *req, bool editable,
                                hl_response **out, hl__outcome *o) {
  *out = NULL;
  hl_before_model_args bargs = {sizeof bargs, req};
  hl_before_model_out bout = {sizeof bout, editable ? req : NULL, NULL};
  hl_hook_action act = hl__dispatch(ctx, HL_HOOK_BEFORE_MODEL, &bargs, &bout);
  if (act == HL_HOOK_ABORT) {
    hl_outcome_take(o, HL_ERR_ABORTED);
    return HL__MODEL_FAILED;
  }
  if (act == HL_HOOK_OVERRIDE) {
    *out = bout.response;
    return HL__MODEL_OVERRIDDEN;
  }
  if (hl_check_cancel(ctx, o)) return HL__MODEL_FAILED;
  return HL__MODEL_CALL;
}

/* after_model over the provider's outcome (`st`, `resp` taken, `errmsg`).
 * On HL_OK *out is the response to use; else o is set. */
hl_status hl__after_model(hl_context *ctx, const hl_request *req, hl_status st,
                          const char *errmsg_in, hl_response *resp, hl_response **out,
                          hl__outcome *o) {
  *out = NULL;
  if (st == HL_ERR_ABORTED && hl_check_abort(ctx, o)) {
    hl_response_free(resp);
    return o->status;
  }
  char errmsg[HL__MSG_MAX] = "";
  if (st != HL_OK) snprintf(errmsg, sizeof errmsg, "%s", errmsg_in);
  hl_error err = {st, errmsg};

  bool edit = resp && (hl__ctx_hook_flags(ctx, HL_HOOK_AFTER_MODEL) & HL_HOOK_EDIT_RESPONSE);
  hl_after_model_args aargs = {sizeof aargs, req, resp, &err};
  hl_after_model_out aout = {sizeof aout, NULL, edit ? resp : NULL};
  hl_hook_action act = hl__dispatch(ctx, HL_HOOK_AFTER_MODEL, &aargs, &aout);
  if (act == HL_HOOK_ABORT) {
    hl_response_free(resp);
    return hl_outcome_take(o, HL_ERR_ABORTED);
  }
  if (act == HL_HOOK_OVERRIDE) {
    hl_response_free(resp);
    *out = aout.response; /* also turns a failed call into a success (H6) */
    return HL_OK;
  }
  if (st != HL_OK) return hl_outcome_set(o, st, "%s", errmsg);
  *out = resp;
  return HL_OK;
}

/* One model call, blocking: before_model, around_model with the provider
 * at its centre, after_model. On HL_OK *out is the response to use. */
static hl_status hl_model_call(hl_context *ctx, hl_request *req, bool editable,
                               hl_response **out, hl__outcome *o) {
  hl__model_next next = hl__before_model(ctx, req, editable, out, o);
  if (next == HL__MODEL_FAILED) return o->status;
  if (next == HL__MODEL_OVERRIDDEN) return HL_OK;
  hl_response *resp = NULL;
  hl_status st = hl__model_inner(ctx, req, &resp);
  return hl__after_model(ctx, req, st, st == HL_OK ? "" : hl_last_error(), resp, out, o);
}

static hl_status hl_append(hl_context *ctx, hl_message *msg, hl__outcome *o) {
  if (!msg) return hl_outcome_take(o, hl__oom());
  hl_status st = hl__session_append(ctx->session, msg);
  return st == HL_OK ? HL_OK : hl_outcome_take(o, st);
}

hl_status hl__llm_body_start(hl_context *ctx, int *first_turn, hl__outcome *o) {
  hl_agent *a = ctx->agent;
  if (!a->provider)
    return hl_outcome_set(o, HL_ERR_STATE, "agent \"%s\" has no provider", a->name);
  if (ctx->resume) {
    /* resume.c (touch point): the saved messages and the interrupted
     * turn's results take the place of the user's message. */
    hl_status rs = hl__resume_turn(ctx, ctx->resume, first_turn);
    if (rs == HL_INTERRUPTED) {
      return outcome_interrupted(ctx, o);
    }
    if (rs != HL_OK) return hl_outcome_take(o, rs);
    if (hl_check_abort(ctx, o) || hl_check_cancel(ctx, o)) return o->status;
    return HL_OK;
  }
  *first_turn = 1;
  /* A new run abandons an interrupted one that was never resumed. */
  if (!ctx->parent) {
    hl_status ds = hl__session_drop_run_state(ctx->session);
    if (ds != HL_OK) return hl_outcome_take(o, ds);
  }
  if (!ctx->parent && hl__session_take_resume(ctx->session)) {
    /* A stored session's unfinished run of this input is continued, not
     * asked again (store.h); otherwise the input opens the run. */
    hl_status rs = hl__continue_unfinished_run(ctx);
    if (hl_check_abort(ctx, o)) return o->status;
    if (rs != HL_OK) return hl_outcome_take(o, rs);
    return HL_OK;
  }
  /* Held for the first turn boundary (store.h): written with the model's
   * first answer, or with its tool calls and their results. */
  hl__session_hold_next(ctx->session);
  return hl_append(ctx, hl_message_new_text(HL_ROLE_USER, ctx->input), o);
}

hl_status hl__turn_begin(hl_context *ctx, int turn, hl__outcome *o) {
  if (hl_check_cancel(ctx, o)) return o->status;
  ctx->turn = turn;
  pthread_mutex_lock(&ctx->lock);
  ctx->turns = turn;
  pthread_mutex_unlock(&ctx->lock);
  hl_event ts = {.type = HL_EVENT_TURN_START};
  hl__emit(ctx, &ts);
  return HL_OK;
}

hl_status hl__max_turns(hl_context *ctx, hl__outcome *o) {
  return hl_outcome_set(o, HL_ERR_MAX_TURNS,
                        "agent \"%s\" reached its turn limit (%d) without a final answer",
                        ctx->agent->name, ctx->agent->max_turns);
}

/* A turn's response once its assistant message went into the history.
 * The history owns the message and the response lends it to the turn's
 * tool calls and TURN_END observers, which only read it (model.h's
 * messages are not changed in place once in a session): no copy of the
 * message and of its arguments trees per turn (issue 12). Lent exactly
 * when its role is assistant (hl__turn_response); any other role, or no
 * message, left the response its own. */
static void hl_turn_response_free(hl_response *resp) {
  if (resp && resp->message && resp->message->role == HL_ROLE_ASSISTANT) resp->message = NULL;
  hl_response_free(resp);
}

/* The model's response of a turn (taken): usage, RESPONSE, the history.
 * HL__TURN_ANSWER: *answer is the final answer (resp freed, TURN_END
 * emitted); HL__TURN_TOOLS: the response asks for tools, hand it to
 * hl__turn_tools(); HL__TURN_AGAIN: the answer broke the response schema,
 * the model was told (resp freed); HL__TURN_FAILED: o set, resp freed. */
hl__turn_next hl__turn_response(hl_context *ctx, hl_response *resp, char **answer,
                                hl__outcome *o) {
  hl__ctx_add_usage(ctx, &resp->usage);
  char *text = resp->message ? hl_message_text(resp->message) : hl__strdup("");
  if (!text) {
    hl_response_free(resp);
    hl_outcome_take(o, hl__oom());
    return HL__TURN_FAILED;
  }
  hl_event rev = {.type = HL_EVENT_RESPONSE, .text = text, .response = resp};
  hl__emit(ctx, &rev);

  /* The history keeps the assistant message as the model gave it: the
   * response's own, lent back to it for the rest of the turn
   * (hl_turn_response_free); a copy made an assistant's, or a new empty
   * one, when the response has another role or none. */
  bool lent = resp->message && resp->message->role == HL_ROLE_ASSISTANT;
  hl_message *assistant = lent            ? resp->message
                          : resp->message ? hl_message_clone(resp->message)
                                          : hl_message_new(HL_ROLE_ASSISTANT);
  if (assistant) assistant->role = HL_ROLE_ASSISTANT;
  /* A stored session writes a call and its results as one append (one
   * turn boundary, store.h): the call is held until the results come. An
   * answer without calls is not held: it ends the turn (and the run). */
  if (assistant && hl_message_tool_call_count(assistant) > 0) hl__session_hold_next(ctx->session);
  if (hl_append(ctx, assistant, o) != HL_OK) {
    if (lent) resp->message = NULL; /* the failed append freed it */
    free(text);
    hl_response_free(resp);
    return HL__TURN_FAILED;
  }

  if (!resp->message || hl_message_tool_call_count(resp->message) == 0) {
    hl_event te = {.type = HL_EVENT_TURN_END, .response = resp};
    hl__emit(ctx, &te);
    hl_turn_response_free(resp);
    /* A response schema: the answer must follow it, else ask again. */
    hl_message *retry = NULL;
    hl_status st = hl__structured_check(ctx, text, &ctx->schema_retries, &retry);
    if (st != HL_OK || retry) {
      free(text);
      if (st != HL_OK) {
        hl_outcome_take(o, st);
        return HL__TURN_FAILED;
      }
      return hl_append(ctx, retry, o) == HL_OK ? HL__TURN_AGAIN : HL__TURN_FAILED;
    }
    *answer = text;
    return HL__TURN_ANSWER;
  }
  free(text);
  if (hl_check_cancel(ctx, o)) {
    hl_turn_response_free(resp);
    return HL__TURN_FAILED;
  }
  return HL__TURN_TOOLS;
}

/* The one place where a turn's tool calls are dispatched and their
 * results collected (blocking, on the calling thread and helpers): runs
 * them, appends the results, TURN_END. Takes `resp`. HL_OK: go on with
 * the next turn; else o is set (HL_INTERRUPTED: calls wait for a
 * decision, the run ends without a failure). */
static hl_status hl_turn_tools_end(hl_context *ctx, hl_response *resp, hl_status st,
                                   hl_message *results, cJSON *summary, hl__outcome *o) {
  if (st == HL_INTERRUPTED) {
    /* interrupt.c (touch point): calls wait for a decision; the turn's
     * record is on the context, the state is built at the run's end. */
    hl_turn_response_free(resp);
    return outcome_interrupted(ctx, o);
  }
  if (st != HL_OK && !results) {
    hl_turn_response_free(resp);
    cJSON_Delete(summary);
    return hl_outcome_take(o, st);
  }
  /* Appended even when the run stops here, so that the history never
   * has a tool call without its result. */
  hl_status app = hl_append(ctx, results, o);
  hl_event te = {.type = HL_EVENT_TURN_END, .response = resp, .data = summary};
  hl__emit(ctx, &te);
  hl_turn_response_free(resp);
  cJSON_Delete(summary);
  if (app != HL_OK) return app;
  if (hl_check_abort(ctx, o)) return o->status;
  if (hl_check_cancel(ctx, o)) return o->status;
  return HL_OK;
}

hl_status hl__turn_tools(hl_context *ctx, hl_response *resp, hl__outcome *o) {
  return hl__turn_tools_async(ctx, resp, o, NULL, NULL);
}

/* A turn whose tool calls are suspended (hl__turn_tools_async). */
typedef struct hl_turn_wait {
  hl_context *ctx;
  hl_response *resp;
  hl__outcome *o;
  hl__turn_done_fn done;
  void *user;
} hl_turn_wait;

static void hl_turn_tools_resumed(void *user, hl_status st, hl_message *results, cJSON *summary) {
  hl_turn_wait w = *(hl_turn_wait *)user;
  free(user);
  st = hl_turn_tools_end(w.ctx, w.resp, st, results, summary, w.o);
  w.done(w.user, st);
}

hl_status hl__turn_tools_async(hl_context *ctx, hl_response *resp, hl__outcome *o,
                               hl__turn_done_fn done, void *user) {
  hl_message *results = NULL;
  cJSON *summary = NULL;
  /* Without memory for the record the calls are simply waited for. */
  hl_turn_wait *w = done ? malloc(sizeof *w) : NULL;
  if (w) *w = (hl_turn_wait){ctx, resp, o, done, user};
  hl_status st = hl__run_tool_calls_async(ctx, resp->message, &results, &summary,
                                          w ? hl_turn_tools_resumed : NULL, w);
  if (st == HL_PENDING) return HL_PENDING;
  free(w);
  return hl_turn_tools_end(ctx, resp, st, results, summary, o);
}

static hl_status hl_llm_body(hl_context *ctx, char **answer, hl__outcome *o) {
  hl_agent *a = ctx->agent;
  int first_turn = 1;
  if (hl__llm_body_start(ctx, &first_turn, o) != HL_OK) return o->status;

  for (int turn = first_turn; turn <= a->max_turns; turn++) {
    if (hl__turn_begin(ctx, turn, o) != HL_OK) return o->status;
    size_t borrowed_from;
    bool tools_borrowed;
    hl_request *req = hl_build_request(ctx, hl_may_borrow_history(ctx), &borrowed_from,
                                       &tools_borrowed);
    if (!req) return hl_outcome_take(o, hl__oom());
    hl_response *resp = NULL;
    hl_status st = hl_model_call(ctx, req, hl_request_edited(ctx), &resp, o);
    hl_request_release(req, borrowed_from, tools_borrowed);
    if (st != HL_OK) return st;

    hl__turn_next next = hl__turn_response(ctx, resp, answer, o);
    if (next == HL__TURN_ANSWER) return HL_OK;
    if (next == HL__TURN_AGAIN) continue;
    if (next == HL__TURN_FAILED) return o->status;
    if (hl__turn_tools(ctx, resp, o) != HL_OK) return o->status;
  }
  return hl__max_turns(ctx, o);
}

/* ------------------------------------------------------------------ */
/* Custom body                                                         */
/* ------------------------------------------------------------------ */

hl_status hl__custom_body(hl_context *ctx, char **answer, hl__outcome *o) {
  hl_agent *a = ctx->agent;
  char *out = NULL;
  if (ctx->resume) {
    /* resume_custom.c (touch point): the body runs again from the start,
     * its children replayed from the state. */
    hl_status rs = hl__custom_resume_begin(ctx);
    if (rs != HL_OK) {
      hl__custom_free(ctx);
      return hl_outcome_take(o, rs);
    }
  }
  hl_clear_error();
  hl_status st = a->custom_fn(ctx, ctx->input, &out, a->custom_user_data);
  /* A child that stopped for a decision stops the run, whatever the body
   * made of it (its answer is dropped: the body runs again on resume),
   * unless the run was aborted or cancelled meanwhile. */
  hl_status ist = hl__custom_interrupted(ctx);
  if (ist == HL_INTERRUPTED && !hl_check_abort(ctx, o) && !hl_check_cancel(ctx, o)) {
    free(out);
    return outcome_interrupted(ctx, o);
  }
  if (ist == HL_INTERRUPTED) {
    free(out);
    return o->status; /* aborted or cancelled: o set */
  }
  if (ist != HL_OK) {
    free(out);
    return hl_outcome_take(o, ist);
  }
  if (st != HL_OK) {
    free(out);
    if ((unsigned)st >= (unsigned)HL_STATUS_COUNT_)
      return hl_outcome_set(o, HL_ERR_EXECUTION_FAILED,
                            "custom agent \"%s\" returned unknown status %d", a->name, (int)st);
    if (st == HL_INTERRUPTED) /* no child of the body stopped: a nested call or a hook's */
      return hl_outcome_set(o, HL_ERR_UNSUPPORTED,
                            "custom agent \"%s\" returned HL_INTERRUPTED, but none of its children "
                            "(hl_context_run_agent) stopped for a decision", a->name);
    /* A child's abort came back through the body: report the abort's own
     * message, which the run keeps. */
    if (hl_check_abort(ctx, o)) return o->status;
    return hl_outcome_take(o, st);
  }
  if (hl_check_abort(ctx, o) || hl_check_cancel(ctx, o)) {
    free(out);
    return o->status;
  }
  if (!out && !(out = hl__strdup(""))) return hl_outcome_take(o, hl__oom());
  *answer = out;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* A run                                                               */
/* ------------------------------------------------------------------ */

/* The start of a run: the context, AGENT_START, before_agent (skipped
 * for a resumed run, which passed it when it started; `resume` may be
 * NULL and must outlive the run).
 * HL__OPEN_BODY: run the body; HL__OPEN_ANSWERED: a before_agent hook
 * answered (*result; the body and after_agent are skipped, H4);
 * HL__OPEN_FAILED: o set (also when the context could not be made: then
 * *ctx is NULL and the session, if owned, is freed). */
hl__open_next hl__run_open(hl_agent *agent, hl_context *parent, hl_session *session,
                           bool owns_session, const char *input, const atomic_bool *cancel,
                           const hl__resume *resume, hl_context **out, size_t *history_len,
                           char **result, hl__outcome *o) {
  *result = NULL;
  *out = NULL;
  hl_context *ctx = NULL;
  hl_status st = hl__ctx_new(agent, parent, session, owns_session, input, &ctx);
  if (st != HL_OK) {
    if (owns_session) hl_session_free(session);
    hl_outcome_take(o, st);
    return HL__OPEN_FAILED;
  }
  ctx->run_cancel = cancel;
  ctx->resume = resume; /* resume.c: the run continues an interrupted one */
  if (!parent) ctx->store_cut = hl__session_watch_cancel(ctx->session, ctx);
  *out = ctx;
  const hl_messages *history = hl_session_messages(ctx->session);
  *history_len = history ? history->count : 0;
  hl_event start = {.type = HL_EVENT_AGENT_START, .text = ctx->input};
  hl__emit(ctx, &start);

  hl_before_agent_args bargs = {sizeof bargs, ctx->input};
  hl_before_agent_out bout = {sizeof bout, NULL};
  /* A resumed run passed before_agent when it started. */
  hl_hook_action act = resume ? HL_HOOK_CONTINUE
                              : hl__dispatch(ctx, HL_HOOK_BEFORE_AGENT, &bargs, &bout);
  if (act == HL_HOOK_OVERRIDE) {
    *result = bout.answer;
    return HL__OPEN_ANSWERED;
  }
  if (act == HL_HOOK_ABORT) {
    hl_outcome_take(o, HL_ERR_ABORTED);
    return HL__OPEN_FAILED;
  }
  return HL__OPEN_BODY;
}

void hl__run_after_agent(hl_context *ctx, char **result, hl__outcome *o) {
  hl_after_agent_args aargs = {sizeof aargs, *result};
  hl_after_agent_out aout = {sizeof aout, NULL};
  hl_hook_action act = hl__dispatch(ctx, HL_HOOK_AFTER_AGENT, &aargs, &aout);
  char *replacement = aout.answer;
  if (act == HL_HOOK_ABORT) {
    hl_outcome_take(o, HL_ERR_ABORTED);
    free(*result);
    *result = NULL;
  } else if (act == HL_HOOK_OVERRIDE) {
    free(*result);
    *result = replacement;
  }
}

/* The end of a run: output_key, an interrupted run's state (*state_out,
 * the caller's; NULL unless o->status is HL_INTERRUPTED), the history put
 * back on failure, AGENT_END, TRACE_COMPLETE, usage to the parent and the
 * agent, the context released. *result is freed on failure. *usage_out
 * (may be NULL) gets the run's usage. */
void hl__run_close(hl_context *ctx, size_t history_len, char **result, hl__outcome *o,
                   hl_usage *usage_out, cJSON **state_out) {
  hl_agent *agent = ctx->agent;
  hl_context *parent = ctx->parent;
  *state_out = NULL;
  if (o->status == HL_OK && agent->output_key &&
      hl_session_state_set_string(ctx->session, agent->output_key, *result) != HL_OK)
    hl_outcome_take(o, hl_last_status() ? hl_last_status() : HL_ERR_NOMEM);
  pthread_mutex_lock(&ctx->lock);
  hl_usage usage = ctx->usage;
  int turns = ctx->turns;
  pthread_mutex_unlock(&ctx->lock);
  /* interrupt.c (touch point): an interrupted run's state is built from
   * its messages before they leave the session, like a failed run's. */
  if (hl__interrupt_end(ctx, o->status, history_len, &usage, state_out) != HL_OK)
    hl_outcome_take(o, HL_ERR_NOMEM);
  if (o->status != HL_OK) {
    free(*result);
    *result = NULL;
    /* A top-level run that stops for approval leaves its state on the
     * session, with the history put back, as one write (store.h: another
     * worker can resume it). When the store refuses it, the run fails
     * with the store's status and is taken back like any failed run. */
    if (o->status == HL_INTERRUPTED && *state_out && !parent) {
      hl_status w = hl__session_run_state_change(ctx->session, history_len, NULL, *state_out);
      if (w != HL_OK) {
        cJSON_Delete(*state_out);
        *state_out = NULL;
        hl_outcome_take(o, w);
      }
    }
    /* A failed run leaves the history as it found it, so the next run
     * starts from a conversation every provider accepts (no tool call
     * without its result, no dangling question). Events have the story. */
    hl__session_truncate(ctx->session, history_len);
  }

  double ms = (double)(hl__mono_ns() - ctx->start_ns) / 1e6;

  hl_event end = {.type = HL_EVENT_AGENT_END, .text = *result, .usage = &usage,
                  .duration_ms = ms, .error = {o->status, hl__outcome_message(o)}};
  hl__emit(ctx, &end);
  hl_event trace = {.type = HL_EVENT_TRACE_COMPLETE, .turns = turns, .usage = &usage,
                    .duration_ms = ms, .error = {o->status, hl__outcome_message(o)}};
  hl__emit(ctx, &trace);

  /* A child's model calls count towards its parent's run. */
  if (parent) hl__ctx_add_usage(parent, &usage);

  pthread_mutex_lock(&agent->lock);
  agent->last_usage = usage;
  pthread_mutex_unlock(&agent->lock);
  if (usage_out) *usage_out = usage;

  hl__session_unwatch_cancel(ctx->session, ctx->store_cut);
  hl__ctx_finish(ctx);
}

hl_status hl__invoke(hl_agent *agent, hl_context *parent, hl_session *session,
                     bool owns_session, const char *input, char **answer) {
  cJSON *state = NULL;
  hl_status st = hl__invoke_ex(agent, parent, session, owns_session, input, NULL, answer, &state);
  cJSON_Delete(state); /* callers of hl__invoke have no call to hand it to */
  return st;
}

hl_status hl__invoke_ex(hl_agent *agent, hl_context *parent, hl_session *session,
                        bool owns_session, const char *input, const hl__resume *resume,
                        char **answer, cJSON **state) {
  *answer = NULL;
  *state = NULL;
  hl__outcome o = {HL_OK, NULL};
  hl_context *ctx = NULL;
  size_t history_len = 0;
  char *result = NULL;
  hl__open_next next = hl__run_open(agent, parent, session, owns_session, input, NULL, resume,
                                    &ctx, &history_len, &result, &o);
  if (!ctx) {
    hl_fail(o.status, "%s", hl__outcome_message(&o));
    hl__outcome_clear(&o);
    return o.status;
  }
  if (next == HL__OPEN_BODY) {
    hl_status st = agent->kind == HL__AGENT_CUSTOM ? hl__custom_body(ctx, &result, &o)
                                                   : hl_llm_body(ctx, &result, &o);
    if (st == HL_OK) hl__run_after_agent(ctx, &result, &o);
  }
  /* (before_agent override: the hook's answer; after_agent is skipped, H4) */
  hl__run_close(ctx, history_len, &result, &o, NULL, state);
  if (o.status != HL_OK && o.status != HL_INTERRUPTED)
    hl_fail(o.status, "%s", hl__outcome_message(&o));
  hl__outcome_clear(&o);
  if (o.status == HL_INTERRUPTED) { /* not a failure: no error message */
    hl_clear_error();
    return HL_INTERRUPTED;
  }
  if (o.status != HL_OK) return o.status;
  *answer = result;
  return HL_OK;
}

/* The whole body of an LLM or custom agent, blocking (asynchronous runs
 * use it where the body must block: custom agents, around_model hooks). */
hl_status hl__run_body_blocking(hl_context *ctx, char **result, hl__outcome *o) {
  return ctx->agent->kind == HL__AGENT_CUSTOM ? hl__custom_body(ctx, result, o)
                                              : hl_llm_body(ctx, result, o);
}
