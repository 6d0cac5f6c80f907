/*
 * interrupt_internal.h - what the run loop (run.c), tool execution
 * (tool_exec.c), sub-agents (subagent.c) and the hook dispatcher share
 * with interrupts (interrupt.c) and resume (resume.c). Not public.
 *
 * The touch points in the loop are few and marked "interrupt.c" or
 * "resume.c" where they are: one where a turn's tool calls come back,
 * one where a run ends, one where a resumed run starts its loop, and the
 * call record (call.h) that lets a child's state reach its parent's
 * pending call.
 */
#ifndef HL_AGENT_INTERRUPT_INTERNAL_H
#define HL_AGENT_INTERRUPT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "hookline/hooks.h"
#include "hookline/interrupt.h"

struct hl__tool_outcome;

/* hook_dispatch.c: hl__dispatch() at before_tool that also gives the
 * name of the hook that returned INTERRUPT (*by, borrowed from the hook,
 * which outlives the call), so that it travels with the call. */
hl_hook_action hl__dispatch_before_tool(hl_context *ctx, void *args, void *out, const char **by);

/* Why a call waits (owned by the call's outcome). */
typedef struct hl__pending {
  const char *by;   /* "hook", "approval", "sub_agent" or "nested_call" (static) */
  char *hook;       /* the hook's name (hook) */
  char *reason;     /* the hook's reason, if it gave one */
  cJSON *child;     /* sub_agent: the child's state */
  cJSON *nested;    /* nested_call: the waiting nested calls (call.h) */
} hl__pending;
void hl__pending_free(hl__pending *p);

/* What the resume of one pending call brings to its execution. */
typedef struct hl__resume {
  const cJSON *state;      /* this run's state (validated) */
  const cJSON *decisions;  /* the whole decisions object */
  const char *prefix;      /* path of this run's calls: "" or "call_7/" */
  /* A call re-run for its nested calls' decisions: the state's list of
   * them (state is NULL then), prefix the call's own path + "/". */
  const cJSON *nested;
} hl__resume;

/* One call of a turn as interrupt.c records it. */
typedef struct hl__turn_call {
  const hl_part *part;     /* the model's call */
  char *text;              /* ran: the result text the model sees (owned) */
  bool is_error;
  hl__pending *pending;    /* waits: why (owned) */
} hl__turn_call;

/* tool_exec.c: the text a tool result shows the model (malloc'd). */
char *hl__tool_result_text(const struct hl__tool_outcome *out);
/* tool_exec.c: one call through the full path with resume's approval:
 * args (taken) run approved; `frame_resume` (may be NULL) is what a child
 * run inside the tool resumes from. */
void hl__tool_call_resume(hl_context *ctx, const char *call_id, const char *name, cJSON *args,
                          const hl__resume *frame_resume, struct hl__tool_outcome *out);

/* interrupt.c: the turn stops: keep its calls (ran and waiting) on the
 * context for the state. Takes the texts and pendings. HL_INTERRUPTED, or
 * HL_ERR_NOMEM. */
hl_status hl__interrupt_turn(hl_context *ctx, hl__turn_call *calls, size_t n);
/* interrupt.c: the run's message for an interrupted outcome. */
void hl__interrupt_message(hl_context *ctx, char *buf, size_t size);
/* interrupt.c: at the end of an interrupted run, before the session is
 * truncated: build the state from the context, the session's messages
 * since `history_len` and `usage`, emit HL_EVENT_INTERRUPT, and put the
 * state in *state (the caller's: the blocking hl_agent_run puts it in its
 * thread's slot, an hl_run keeps it on its handle, a child run hands it
 * to its parent's call). HL_OK or HL_ERR_NOMEM. Also frees what the
 * context kept, whatever the outcome (call it for every run). */
hl_status hl__interrupt_end(hl_context *ctx, hl_status outcome, size_t history_len,
                            const hl_usage *usage, cJSON **state);
/* interrupt.c: the thread's slot behind hl_run_state_json() (the blocking
 * calls only). put takes the state (replacing any); take hands it over. */
void hl__state_put(cJSON *state);
cJSON *hl__state_take(void);

/* Longest call path ("call_7/call_1") the state functions handle. */
#define HL_PATH_MAX 512

/* resume_check.c: check `state` whole against `agent` and `decisions`
 * (see hl_agent_resume in interrupt.h): HL_OK, or the error with its
 * message naming the path. */
hl_status hl__resume_check(const hl_agent *agent, const cJSON *state, const cJSON *decisions);

/* resume.c: the resumed run's first step, in place of the user message:
 * put the saved messages back, finish the interrupted turn with the
 * decisions, append its results. *next_turn is the loop's next turn.
 * HL_OK, HL_INTERRUPTED (calls wait again; the context has them), or a
 * failure with its message in hl_last_error(). */
hl_status hl__resume_turn(hl_context *ctx, const hl__resume *resume, int *next_turn);

/* resume.c: HL_OK if `session` has the messages `state` (checked) was
 * interrupted with, else HL_ERR_STATE with a message. */
hl_status hl__resume_session_matches(hl_session *session, const cJSON *state);

/* resume.c: put the state's saved messages back into the run's session
 * (for a top-level run in the same write that clears the session's run
 * state: the resume's claim on a stored session); the saved usage. */
hl_status hl__resume_restore_messages(hl_context *ctx, const cJSON *state);
void hl__usage_from_json(const cJSON *u, hl_usage *out);

/* resume_custom.c: interrupts under custom agents (workflow agents).
 * The "custom" part of a custom agent's state: {"version": 1,
 * "children": [{"id", "agent", "input", "status", "answer" | "message"}
 * | {"id", "agent", "input", "state"}]}. */
#define HL__CUSTOM_STATE_VERSION 1
/* hl_context_run_agent() from a custom agent's body (not inside a tool
 * call): the child recorded, replayed from the resumed state when it
 * ended before, resumed when it was interrupted, else run. Takes the
 * session when `owned`. */
hl_status hl__custom_run_child(hl_context *ctx, hl_agent *child, hl_session *session, bool owned,
                               const char *input, char **answer);
/* After the body returned: HL_INTERRUPTED when a child stopped for a
 * decision (ctx->interrupt_calls then holds {"custom": ...}), HL_OK when
 * none did, or HL_ERR_NOMEM. Frees the record either way. */
hl_status hl__custom_interrupted(hl_context *ctx);
/* Before a resumed body runs: the session check, its messages and usage
 * back, RESUME, and the children to replay. */
hl_status hl__custom_resume_begin(hl_context *ctx);
/* Frees the record (a run that ends without reaching the body's end). */
void hl__custom_free(hl_context *ctx);
/* HL_OK when `state` is of the kind of agent `child` is (custom or LLM),
 * else HL_ERR_STATE with a message: a state resumed on another kind of
 * agent than it was made by. */
hl_status hl__resume_kind_check(const hl_agent *child, const cJSON *state);
/* A status name a recorded child may have ended with. */
bool hl__custom_status_known(const char *name);

/* run.c: hl__invoke with a resume (NULL: a fresh run); on HL_INTERRUPTED
 * *state is the run's state (the caller's). */
hl_status hl__invoke_ex(hl_agent *agent, hl_context *parent, hl_session *session,
                        bool owns_session, const char *input, const hl__resume *resume,
                        char **answer, cJSON **state);

#endif
