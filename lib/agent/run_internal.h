/*
 * run_internal.h - the steps of a run (run.c), shared by the blocking
 * body (hl__invoke) and the asynchronous state machine (run_async.c), so
 * that both keep the same hook semantics by running the same code.
 * Not part of the public API.
 */
#ifndef HL_AGENT_RUN_INTERNAL_H
#define HL_AGENT_RUN_INTERNAL_H

#include <stdint.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "core/util.h"

/* A failure kept as (status, message) until the run reports it: observers
 * and hooks run in between and would overwrite the thread's last error.
 * Zero-initialise; free with hl__outcome_clear(). The message is
 * allocated to its length when set: a buffer of HL__MSG_MAX inside was
 * 1 KB of every run in flight, and most runs never fail (issue 12). */
typedef struct hl__outcome {
  hl_status status;
  char *message_;            /* private: NULL until a message is set */
} hl__outcome;

/* Record the calling thread's last error as the run's failure. */
hl_status hl__outcome_take(hl__outcome *o, hl_status st);
hl_status hl__outcome_set(hl__outcome *o, hl_status st, const char *fmt, ...) HL_PRINTF(3, 4);
/* The message: "" when none was set; hl_strerror(status) when there was
 * no memory for it. Valid until the next set or hl__outcome_clear(). */
const char *hl__outcome_message(const hl__outcome *o);
/* Free the message (the status stays). */
void hl__outcome_clear(hl__outcome *o);
/* The run was aborted (by a hook, maybe on a tool worker or in a child) /
 * cancelled: o set, true. */
bool hl__check_abort(hl_context *ctx, hl__outcome *o);
bool hl__check_cancel(hl_context *ctx, hl__outcome *o);

/* ---- the start and the end of a run ---- */
typedef enum { HL__OPEN_BODY, HL__OPEN_ANSWERED, HL__OPEN_FAILED } hl__open_next;
hl__open_next hl__run_open(hl_agent *agent, hl_context *parent, hl_session *session,
                           bool owns_session, const char *input, const atomic_bool *cancel,
                           const hl__resume *resume, hl_context **ctx, size_t *history_len, char **result,
                           hl__outcome *o);
/* after_agent over *result (replaced, or freed on abort). */
void hl__run_after_agent(hl_context *ctx, char **result, hl__outcome *o);
/* *state_out: an interrupted run's state (the caller's), else NULL. */
void hl__run_close(hl_context *ctx, size_t history_len, char **result, hl__outcome *o,
                   hl_usage *usage_out, cJSON **state_out);
/* A body that blocks: the custom agent's function, or the whole LLM loop. */
hl_status hl__run_body_blocking(hl_context *ctx, char **result, hl__outcome *o);
hl_status hl__custom_body(hl_context *ctx, char **answer, hl__outcome *o);

/* ---- the LLM loop, step by step ---- */
/* The user's message into the history (and the provider check); for a
 * resumed run (ctx->resume) the saved messages and the interrupted turn
 * finished instead (o->status HL_INTERRUPTED when calls wait again).
 * *first_turn: the loop's first turn. */
hl_status hl__llm_body_start(hl_context *ctx, int *first_turn, hl__outcome *o);
/* Cancellation check, turn counters, TURN_START. */
hl_status hl__turn_begin(hl_context *ctx, int turn, hl__outcome *o);
hl_status hl__max_turns(hl_context *ctx, hl__outcome *o);

bool hl__request_edited(const hl_context *ctx);
bool hl__may_borrow_history(const hl_context *ctx);
hl_request *hl__build_request(hl_context *ctx, bool borrow, size_t *borrowed_from,
                              bool *tools_borrowed);
void hl__request_release(hl_request *req, size_t borrowed_from, bool tools_borrowed);

typedef enum { HL__MODEL_CALL, HL__MODEL_OVERRIDDEN, HL__MODEL_FAILED } hl__model_next;
hl__model_next hl__before_model(hl_context *ctx, hl_request *req, bool editable,
                                hl_response **out, hl__outcome *o);
/* LM_START and friends before the provider; LM_END and the stream after. */
hl_status hl__model_begin(hl_context *ctx, const hl_request *req, int64_t *t0);
hl_status hl__model_end(hl_context *ctx, hl_status st, const char *errmsg, hl_response *resp,
                        int64_t t0, hl_response **result);
/* The around_model chain with the blocking provider call at its centre. */
hl_status hl__model_inner(hl_context *ctx, const hl_request *req, hl_response **out);
hl_status hl__after_model(hl_context *ctx, const hl_request *req, hl_status st,
                          const char *errmsg, hl_response *resp, hl_response **out,
                          hl__outcome *o);

/* HL__TURN_AGAIN: the answer broke the response schema and the model was
 * told so (structured.c): go on with the next turn, no tools. */
typedef enum { HL__TURN_ANSWER, HL__TURN_TOOLS, HL__TURN_AGAIN, HL__TURN_FAILED } hl__turn_next;
hl__turn_next hl__turn_response(hl_context *ctx, hl_response *resp, char **answer,
                                hl__outcome *o);
/* The one place where a turn's tool calls are dispatched and collected.
 * `resp` (taken) is one hl__turn_response() said HL__TURN_TOOLS of: its
 * assistant message is the history's, lent to it (run.c), and is not
 * freed with it. */
hl_status hl__turn_tools(hl_context *ctx, hl_response *resp, hl__outcome *o);
/* The same for an asynchronous run: HL_PENDING when tool calls are
 * suspended (deferred tools, tool_exec.c); then no thread waits, and when
 * they end the turn is finished on a pool thread (results appended,
 * TURN_END, o set) and done(user, status) is called there with what
 * hl__turn_tools() would have returned. */
typedef void (*hl__turn_done_fn)(void *user, hl_status st);
hl_status hl__turn_tools_async(hl_context *ctx, hl_response *resp, hl__outcome *o,
                               hl__turn_done_fn done, void *user);

/* True if some hook of the context's stack is at `point` (around chains:
 * the run then needs the blocking shape for that piece). */
bool hl__ctx_has_hooks(const hl_context *ctx, hl_hook_point point);

#endif
