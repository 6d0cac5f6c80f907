/*
 * tool_exec.c - tool calls: the hooked path of one call, and the tool
 * calls of one model response run in parallel on worker threads.
 *
 * A tool's failure (unknown tool, arguments against the schema, the tool
 * failed, timed out) is a result the model sees, marked is_error, so it
 * can correct itself; only a hook's abort (and cancellation) stops a run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/call.h"
#include "agent/tool_async.h"
#include "agent/interrupt_internal.h"
#include "agent/run_internal.h"
#include "core/taskpool.h"
#include "core/model_internal.h"
#include "core/tool_internal.h"
#include "core/util.h"
#include "hookline/json.h"

void hl__tool_outcome_clear(hl__tool_outcome *out) {
  cJSON_Delete(out->result);
  free(out->message);
  hl__pending_free(out->pending);
  *out = (hl__tool_outcome){0};
}

static void hl_outcome_error(hl__tool_outcome *out, hl_status st);

/* interrupt.c: the call waits for a decision. Its status says so, should
 * the turn not stop for it (an abort or a cancel wins). */
static void hl_outcome_wait(hl__tool_outcome *out, const char *by, const char *hook, char *reason,
                            cJSON *child) {
  hl__pending *p = calloc(1, sizeof *p);
  if (p) {
    p->by = by;
    p->hook = hook ? hl__strdup(hook) : NULL;
    p->reason = reason;
    p->child = child;
  }
  if (!p || (hook && !p->hook)) {
    hl__pending_free(p);
    if (!p) {
      free(reason);
      cJSON_Delete(child);
    }
    hl_outcome_error(out, hl__oom());
    return;
  }
  hl_fail(HL_INTERRUPTED, "the call waits for a decision");
  hl_outcome_error(out, HL_INTERRUPTED);
  out->pending = p;
}

/* Take the calling thread's last error as the call's error. */
static void hl_outcome_error(hl__tool_outcome *out, hl_status st) {
  cJSON_Delete(out->result);
  out->result = NULL;
  free(out->message);
  out->status = st;
  const char *msg = hl_last_status() == st && hl_last_error()[0] ? hl_last_error() : hl_strerror(st);
  out->message = hl__strdup(msg);
}

struct hl_batch;

/* One call on its hooked path: on the caller's stack, or in its batch's
 * slot when the call may be suspended (an asynchronous run's turn: a
 * deferred tool then holds no thread until hl_tool_complete(), and the
 * rest of the path runs in call_resumed() on the worker pool). */
typedef struct hl_call_frame {
  hl_context *ctx;
  hl__call *rec;              /* the call's record (borrowed; the job holds a reference) */
  hl_tool *tool;
  hl_tool_call call;
  cJSON *args;                /* after the hooks; owned unless borrowed */
  bool borrowed;
  const hl__resume *resume;
  hl__tool_outcome *out;
  /* The tool step (innermost step of around_tool). */
  const cJSON *step_args;     /* what TOOL_START reported */
  int64_t t0;
  hl__tool_deferral d;
  /* Suspension (set by the batch before the call starts). */
  bool may_suspend;
  bool suspended;             /* written by the call's own thread only */
  hl__job job;                /* call_resumed() */
  struct hl_batch *batch;
} hl_call_frame;

/* TOOL_END and the step's outcome, after the tool answered (at once, or
 * when a deferred call completed). */
static hl_status hl_tool_step_end(hl_call_frame *f, hl_status st, cJSON *result,
                                  void **result_out) {
  hl_context *ctx = f->ctx;
  /* The failure's message is copied (observers may overwrite the thread's
   * last error) to the heap, not into a buffer of this frame: it lies
   * under every observer of TOOL_END, on every thread that runs tools. */
  char *errmsg = NULL;
  if (st != HL_OK) {
    cJSON_Delete(result);
    result = NULL;
    if ((unsigned)st >= (unsigned)HL_STATUS_COUNT_) st = HL_ERR_EXECUTION_FAILED;
    const char *m = hl_last_status() == st && hl_last_error()[0] ? hl_last_error() : hl_strerror(st);
    errmsg = hl__strdup(m);
  } else if (!result && !(result = cJSON_CreateNull())) {
    st = hl__oom();
  }
  const char *shown = errmsg ? errmsg : st == HL_OK ? "" : hl_strerror(st);
  hl_event end = {.type = HL_EVENT_TOOL_END, .name = f->call.name, .call_id = f->call.id,
                  .args = f->step_args, .result = result, .error = {st, shown}, .tool = f->tool,
                  .outer_call_id = f->rec->outer_id};
  int64_t took = hl__mono_ns() - f->t0;
  end.duration_ms = (double)took / 1e6;
  hl__tool_note_ns(f->tool, took); /* what the next batch expects (hl_batch_quick) */
  hl__emit(ctx, &end);
  if (st != HL_OK) {
    hl_fail(st, "%s", shown);
    free(errmsg);
    return st;
  }
  *result_out = result;
  return HL_OK;
}

/* The innermost step of around_tool: TOOL_START, the backend (which
 * validates the arguments against the schema), TOOL_END. */
static hl_status hl_tool_step_run(hl_context *ctx, void *data, const void *value,
                                  void **result_out) {
  hl_call_frame *f = data;
  const cJSON *args = value;
  const char *name = f->call.name;
  cJSON *result = NULL;
  f->step_args = args;
  /* (the outer call named here from the record: hl__emit() does not
   * look it up for these two) */
  hl_event start = {.type = HL_EVENT_TOOL_START, .name = name, .call_id = f->call.id,
                    .args = args, .tool = f->tool, .outer_call_id = f->rec->outer_id};
  hl__emit(ctx, &start);
  f->t0 = hl__mono_ns();
  hl_status st;
  if (!f->tool) {
    char q[96];
    hl__quote(q, sizeof q, name);
    st = hl_fail(HL_ERR_NOT_FOUND, "unknown tool %s", q);
  } else if (hl_context_cancelled(ctx)) {
    st = hl_fail(HL_ERR_CANCELLED, "run cancelled before tool %s ran", name);
  } else {
    hl_clear_error();
    /* A tool may defer its result (HL_PENDING, tool_async.c). The call's
     * record (the thread's current, call.h) gives hl_context_tool_call_id(). */
    hl__tool_defer_open(&f->d, ctx, name);
    st = hl_tool_invoke(f->tool, ctx, args, &result);
    hl__tool_defer_close(&f->d);
    if (st == HL_PENDING && f->may_suspend && f->d.c) {
      /* An asynchronous run's call: no thread waits for the completion.
       * Everything the resume job reads is written before it can start. */
      cJSON_Delete(result);
      result = NULL;
      f->suspended = true;
      hl__call_ref(f->rec); /* the job's */
      if (hl__tool_defer_suspend(&f->d, &f->job)) return HL_PENDING;
      f->suspended = false;
      hl__call_unref(f->rec);
    }
    /* Otherwise (or completed already): wait here, without polling. */
    st = hl__tool_defer_finish(&f->d, st, &result);
  }
  return hl_tool_step_end(f, st, result, result_out);
}

/* after_tool and the outcome: the call ended with `result` (owned) or the
 * error `err` (H9). Frees the frame's owned args. */
static void hl_call_after(hl_call_frame *f, cJSON *result, hl_error err) {
  hl_context *ctx = f->ctx;
  hl__tool_outcome *out = f->out;
  hl_after_tool_args aargs = {sizeof aargs, &f->call, f->args, result, &err};
  hl_after_tool_out aout = {sizeof aout, NULL};
  hl_hook_action act = hl__dispatch(ctx, HL_HOOK_AFTER_TOOL, &aargs, &aout);
  if (!f->borrowed) cJSON_Delete(f->args);
  f->args = NULL;
  if (act == HL_HOOK_ABORT) {
    cJSON_Delete(result);
    hl_outcome_error(out, HL_ERR_ABORTED);
    out->aborted = true;
    return;
  }
  if (act == HL_HOOK_OVERRIDE) {
    cJSON_Delete(result);
    out->result = aout.result;
    return;
  }
  if (err.status != HL_OK) {
    out->status = err.status;
    out->message = hl__strdup(err.message);
    return;
  }
  out->result = result;
}

/* The rest of the path once the tool step (inside around_tool) returned
 * `st` and `got`. */
static void hl_call_post(hl_call_frame *f, hl_status st, void *got) {
  hl_context *ctx = f->ctx;
  hl__call *rec = f->rec;
  /* A late child (on a thread that outlived the call) resumes nothing. */
  atomic_store(&rec->child_resume_state, NULL);
  rec->nested_resume = NULL;
  cJSON *child_state = hl__call_take_child_state(rec);
  cJSON *nested = hl__call_take_nested(rec);
  if (nested) {
    /* Nested calls (hl_context_call_tool) wait for decisions: the call
     * waits with them, whatever the tool made of their HL_INTERRUPTED;
     * on resume it runs again from the start (interrupt.h). */
    cJSON_Delete(child_state);
    if (!f->borrowed) cJSON_Delete(f->args);
    f->args = NULL;
    cJSON_Delete(got);
    hl_outcome_wait(f->out, "nested_call", NULL, NULL, NULL);
    if (f->out->pending) f->out->pending->nested = nested;
    else cJSON_Delete(nested);
    return;
  }
  if (child_state && st == HL_INTERRUPTED) {
    /* A sub-agent stopped for a decision: the call waits with it (no
     * after_tool: the call has not ended). */
    if (!f->borrowed) cJSON_Delete(f->args);
    f->args = NULL;
    cJSON_Delete(got);
    hl_outcome_wait(f->out, "sub_agent", NULL, NULL, child_state);
    return;
  }
  cJSON_Delete(child_state); /* a tool that went on without its child */
  if (st == HL_ERR_ABORTED && hl__ctx_aborted(ctx, NULL, 0)) {
    hl_outcome_error(f->out, HL_ERR_ABORTED);
    f->out->aborted = true;
    if (!f->borrowed) cJSON_Delete(f->args);
    f->args = NULL;
    return;
  }
  char errmsg[HL__MSG_MAX] = "";
  hl_error err = {HL_OK, ""};
  if (st != HL_OK) {
    snprintf(errmsg, sizeof errmsg, "%s", hl_last_status() == st && hl_last_error()[0] ? hl_last_error() : hl_strerror(st));
    err = (hl_error){st, errmsg};
  }
  hl_call_after(f, got, err);
}

static void hl_batch_call_done(struct hl_batch *b);

/* A suspended call's completion came (or its run was cancelled): the
 * rest of its path, on a pool thread, inside the call's record. There
 * are no around_tool wraps (the call would not have been suspended), so
 * the step's return is the path's. */
static void call_resumed(hl__job *job) {
  hl_call_frame *f = (hl_call_frame *)((char *)job - offsetof(hl_call_frame, job));
  hl__carried *prev = hl__call_enter(f->rec);
  cJSON *result = NULL;
  hl_status st = hl__tool_defer_resumed(&f->d, &result);
  void *got = NULL;
  st = hl_tool_step_end(f, st, result, &got);
  hl_call_post(f, st, got);
  hl__call_leave(prev);
  hl__call_unref(f->rec);
  hl_batch_call_done(f->batch);
}

/* hl__tool_call_exec(), where `borrowed` args are only read: unless a
 * before_tool hook declared that it edits them, nothing writes them, since
 * every hook, wrap, tool and observer takes them const. */
static void hl_tool_call_path(hl_call_frame *f, const char *name, cJSON *args, bool borrowed);

/* The call's record (call.h) is current for its whole hooked path, so
 * that its hook events, its events and whatever the tool starts (on this
 * thread or on the pool's) know it. `f` comes with may_suspend, batch
 * and job set (or zeroed). */
static void hl_tool_call_run(hl_call_frame *f, hl_context *ctx, const char *call_id,
                             const char *name, cJSON *args, bool borrowed,
                             const hl__resume *resume, hl__tool_outcome *out) {
  *out = (hl__tool_outcome){0};
  hl__call *rec = hl__call_new(ctx, call_id);
  if (!rec) {
    if (!borrowed) cJSON_Delete(args);
    hl_outcome_error(out, hl__oom());
    return;
  }
  f->ctx = ctx;
  f->rec = rec;
  f->resume = resume;
  f->out = out;
  hl__carried *prev = hl__call_enter(rec);
  hl_tool_call_path(f, name, args, borrowed);
  hl__call_leave(prev);
  hl__call_unref(rec);
}

static void hl_tool_call_path(hl_call_frame *f, const char *name, cJSON *args, bool borrowed) {
  hl_context *ctx = f->ctx;
  hl__call *rec = f->rec;
  const hl__resume *resume = f->resume;
  hl__tool_outcome *out = f->out;
  const char *call_id = rec->id;
  bool edited = hl__ctx_hook_flags(ctx, HL_HOOK_BEFORE_TOOL) & HL_HOOK_EDIT_ARGS;
  if (borrowed && (!args || edited)) {
    args = args ? hl_json_clone(args) : NULL;
    borrowed = false;
  }
  if (!args) args = cJSON_CreateObject();
  if (!args) {
    hl_outcome_error(out, hl__oom());
    return;
  }
  hl_tool *tool = hl_tools_find(ctx->agent->tools, name);
  f->tool = tool;
  f->call = (hl_tool_call){.id = call_id ? call_id : "", .name = name, .tool = tool};
  /* interrupt.c: a tool flagged for approval waits, unless resumed */
  bool approved = resume != NULL;
  if (!approved && hl_tool_needs_approval(tool)) {
    if (!borrowed) cJSON_Delete(args);
    hl_outcome_wait(out, "approval", NULL, NULL, NULL);
    return;
  }

  /* before_tool: may edit or replace args (H7), answer instead of the tool
   * (H8), or stop for a decision (H20) */
  hl_before_tool_args bargs = {sizeof bargs, &f->call, args, approved};
  hl_before_tool_out bout = {sizeof bout, edited ? args : NULL, NULL, NULL};
  const char *by = NULL;
  hl_hook_action act = hl__dispatch_before_tool(ctx, &bargs, &bout, &by);
  args = (cJSON *)bargs.args; /* the arguments after the hooks */
  if (act == HL_HOOK_INTERRUPT) {
    if (!borrowed) cJSON_Delete(args);
    hl_outcome_wait(out, "hook", by, bout.reason, NULL);
    return;
  }
  if (act == HL_HOOK_ABORT) {
    hl_outcome_error(out, HL_ERR_ABORTED);
    out->aborted = true;
    if (!borrowed) cJSON_Delete(args);
    return;
  }
  f->args = args;
  f->borrowed = borrowed;

  if (act == HL_HOOK_OVERRIDE) {
    hl_call_after(f, bout.result, (hl_error){HL_OK, ""});
    return;
  }
  /* interrupt.c: the call's record is how a child run inside the tool
   * (on any thread) resumes, or hands back the state it was interrupted
   * with */
  if (resume && resume->state) {
    rec->child_resume_decisions = resume->decisions;
    rec->child_resume_prefix = resume->prefix;
    atomic_store(&rec->child_resume_state, resume->state);
  }
  /* ... and how its nested calls find their decisions when it runs again */
  if (resume && resume->nested) {
    rec->nested_decisions = resume->decisions;
    rec->nested_prefix = resume->prefix;
    rec->nested_resume = resume->nested;
  }
  /* A deferred call may be suspended only where nothing wraps the step
   * (around_tool hooks run on the stack around it). */
  if (f->may_suspend && hl__ctx_has_hooks(ctx, HL_HOOK_AROUND_TOOL)) f->may_suspend = false;
  void *got = NULL;
  hl_status st = hl__around(ctx, HL_HOOK_AROUND_TOOL, &f->call, args, hl_tool_step_run, f, &got);
  if (st == HL_PENDING && f->suspended) return; /* call_resumed() goes on */
  hl_call_post(f, st, got);
}

void hl__tool_call_exec(hl_context *ctx, const char *call_id, const char *name,
                        cJSON *args, hl__tool_outcome *out) {
  hl_call_frame f = {0};
  hl_tool_call_run(&f, ctx, call_id, name, args, false, NULL, out);
}

void hl__tool_call_resume(hl_context *ctx, const char *call_id, const char *name, cJSON *args,
                          const hl__resume *frame_resume, hl__tool_outcome *out) {
  static const hl__resume approved_only = {0};
  hl_call_frame f = {0};
  hl_tool_call_run(&f, ctx, call_id, name, args, false,
                   frame_resume ? frame_resume : &approved_only, out);
}

/* ------------------------------------------------------------------ */
/* hl_context_call_tool                                                */
/* ------------------------------------------------------------------ */

#define HL_REJECTED_DEFAULT "The user rejected this tool call."

/* The state's record of nested call `k` of `outer` when it runs again on
 * resume: only if it recorded that call as the same tool with the same
 * arguments (else it asks again). Borrowed from the state. */
static const cJSON *hl_nested_saved(const hl__call *outer, unsigned k, const char *name,
                                    const cJSON *args) {
  char id[32];
  snprintf(id, sizeof id, "nested-%u", k);
  const cJSON *item;
  cJSON_ArrayForEach(item, outer->nested_resume) {
    const char *iid = hl_json_get_string(item, "id"), *iname = hl_json_get_string(item, "name");
    if (!iid || strcmp(iid, id) != 0) continue;
    const cJSON *iargs = cJSON_GetObjectItemCaseSensitive(item, "arguments");
    cJSON *empty = args ? NULL : cJSON_CreateObject();
    bool same = iname && !strcmp(iname, name) && cJSON_Compare(iargs, args ? args : empty, true);
    cJSON_Delete(empty);
    return same ? item : NULL;
  }
  return NULL;
}

/* The decision for nested call `k` (borrowed from the decisions), or NULL. */
static const cJSON *hl_nested_decision(const hl__call *outer, unsigned k) {
  char path[HL_PATH_MAX];
  snprintf(path, sizeof path, "%snested-%u", outer->nested_prefix ? outer->nested_prefix : "", k);
  return cJSON_GetObjectItemCaseSensitive(outer->nested_decisions, path);
}

/* A nested call waits for a decision: list it on its outer call. A
 * sub-agent's state (p->child) goes with it (taken). */
static hl_status hl_nested_wait(hl__call *outer, unsigned k, const char *name, const cJSON *args,
                                hl__pending *p) {
  char id[32];
  snprintf(id, sizeof id, "nested-%u", k);
  cJSON *e = cJSON_CreateObject();
  bool ok = e && cJSON_AddStringToObject(e, "id", id) && cJSON_AddStringToObject(e, "name", name) &&
            hl_json_add(e, "arguments", args ? hl_json_clone(args) : cJSON_CreateObject()) &&
            cJSON_AddStringToObject(e, "interrupted_by", p->by) &&
            (!p->hook || cJSON_AddStringToObject(e, "hook", p->hook)) &&
            (!p->reason || cJSON_AddStringToObject(e, "reason", p->reason));
  if (ok && p->child) {
    ok = cJSON_AddItemToObject(e, "state", p->child) != 0;
    if (ok) p->child = NULL;
  }
  if (!ok) {
    cJSON_Delete(e);
    return hl__oom();
  }
  if (!hl__call_add_nested(outer, e)) return hl__oom();
  return hl_fail(HL_INTERRUPTED,
                 "tool \"%s\" waits for a decision: the run stops for it when this tool returns, "
                 "and this tool runs again from the start on resume", name);
}

hl_status hl_context_call_tool(hl_context *ctx, const char *name, const cJSON *args,
                               cJSON **result) {
  if (result) *result = NULL;
  if (!ctx || !name || !result)
    return hl_fail(HL_ERR_INVALID, "hl_context_call_tool: ctx, name and result are required");
  if (atomic_load(&ctx->finished))
    return hl_fail(HL_ERR_STATE, "hl_context_call_tool: the run has ended");
  cJSON *copy = args ? hl_json_clone(args) : cJSON_CreateObject();
  if (!copy) return hl__oom();
  char id[48];
  snprintf(id, sizeof id, "nested-%u", atomic_fetch_add(&ctx->nested_calls, 1) + 1);
  /* The tool call this one is made from (any thread of it), which an
   * interrupt of this one makes wait. */
  hl__call *outer = hl__call_find(ctx);
  unsigned k = outer ? atomic_fetch_add(&outer->nested_seq, 1) + 1 : 0;
  const cJSON *saved = outer && outer->nested_resume ? hl_nested_saved(outer, k, name, args) : NULL;
  /* A nested call that ran a sub-agent which stopped: the sub-agent
   * resumes from its state, its calls decided under "<path>/nested-K/". */
  const cJSON *child = cJSON_GetObjectItemCaseSensitive(saved, "state");
  const cJSON *d = saved && !child ? hl_nested_decision(outer, k) : NULL;
  const char *action = d ? hl_json_get_string(d, "action") : NULL;
  hl__tool_outcome out;
  if (action && !strcmp(action, "reject")) {
    /* The human's message, as this call's error (the model would see it
     * as the result of a rejected call of its own). */
    cJSON_Delete(copy);
    hl__call_unref(outer);
    const char *m = hl_json_get_string(d, "message");
    return hl_fail(HL_ERR_EXECUTION_FAILED, "%s", m ? m : HL_REJECTED_DEFAULT);
  }
  if (action) {
    if (!strcmp(action, "edit")) {
      cJSON_Delete(copy);
      copy = hl_json_clone(cJSON_GetObjectItemCaseSensitive(d, "arguments"));
      if (!copy) {
        hl__call_unref(outer);
        return hl__oom();
      }
    }
    hl__tool_call_resume(ctx, id, name, copy, NULL, &out); /* approved */
  } else if (child) {
    char prefix[HL_PATH_MAX + 2];
    snprintf(prefix, sizeof prefix, "%snested-%u/", outer->nested_prefix ? outer->nested_prefix : "", k);
    hl__resume sub = {.state = child, .decisions = outer->nested_decisions, .prefix = prefix};
    hl__tool_call_resume(ctx, id, name, copy, &sub, &out);
  } else {
    hl__tool_call_exec(ctx, id, name, copy, &out);
  }
  if (out.pending) {
    /* The outer call waits with it (a sub-agent's state carried in its
     * list), and runs again on resume. Outside any tool call there is
     * no call to run again. */
    hl_status st = outer ? hl_nested_wait(outer, k, name, args, out.pending)
                         : hl_fail(HL_ERR_UNSUPPORTED,
                                   "tool \"%s\" waits for a decision (approval), which a call "
                                   "made outside any tool call (hl_context_call_tool from a "
                                   "hook) cannot wait for", name);
    hl__tool_outcome_clear(&out);
    hl__call_unref(outer);
    return st;
  }
  hl__call_unref(outer);
  if (out.status != HL_OK) {
    hl_status st = out.status;
    hl_fail(st, "%s", out.message ? out.message : hl_strerror(st));
    hl__tool_outcome_clear(&out);
    return st;
  }
  *result = out.result;
  out.result = NULL;
  hl__tool_outcome_clear(&out);
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* The tool calls of one response                                      */
/* ------------------------------------------------------------------ */

typedef struct hl_call_slot {
  const hl_part *part;
  hl__tool_outcome out;
  hl_call_frame frame;  /* lives as long as the batch: a suspended call's */
} hl_call_slot;

/* On the heap: an asynchronous run's batch outlives the step that
 * started it while calls are suspended. */
typedef struct hl_batch {
  hl_context *ctx;
  hl_call_slot *slots;
  size_t n;
  atomic_size_t next; /* next slot to claim: helpers and the caller share */
  /* Suspension: calls may be suspended when `done` is set. `open` counts
   * the suspended calls not finished yet, plus one for the step that runs
   * the batch; whoever brings it to zero ends the batch. */
  bool may_suspend;
  atomic_size_t open;
  hl__tools_done_fn done;
  void *done_user;
} hl_batch;

/* A helper of the batch on the worker pool (core/taskpool.h). */
typedef struct hl_helper {
  hl__job job;
  hl_batch *batch;
} hl_helper;

static void hl_batch_run_one(hl_batch *b, hl_call_slot *slot) {
  if (hl__ctx_aborted(b->ctx, NULL, 0)) {
    /* A sibling's hook aborted the run: don't start more side effects. */
    slot->out.status = HL_ERR_ABORTED;
    slot->out.message = hl__ctx_abort_message(b->ctx);
    slot->out.aborted = true;
    return;
  }
  /* The model's arguments, read in place unless a before_tool hook runs. */
  hl_call_frame *f = &slot->frame;
  *f = (hl_call_frame){.may_suspend = b->may_suspend, .batch = b, .job = {.fn = call_resumed}};
  if (b->may_suspend) atomic_fetch_add(&b->open, 1); /* before it can be suspended */
  hl_tool_call_run(f, b->ctx, slot->part->id, slot->part->name ? slot->part->name : "",
                   slot->part->args, true, NULL, &slot->out);
  /* f->suspended is written by this thread only; a suspended call's job
   * counts itself down when it ends. */
  if (b->may_suspend && !f->suspended) atomic_fetch_sub(&b->open, 1);
}

static void hl_batch_drain(hl_batch *b) {
  for (;;) {
    size_t i = atomic_fetch_add(&b->next, 1);
    if (i >= b->n) return;
    hl_batch_run_one(b, &b->slots[i]);
  }
}

/* More helpers than this for one response would only queue on the pool. */
#define HL_MAX_HELPERS 63
/* Helpers kept on the stack: the default hl_agent_set_parallel_tools(8). */
#define HL_FEW_HELPERS 7

static void hl_helper_fn(hl__job *job) { hl_batch_drain(((hl_helper *)job)->batch); }

/* A batch is quick when the calls after the first are expected to take
 * less, all together, than this: less than waking a worker for them
 * costs (a futex wake and a thread switched in and out, ~15 us of CPU on
 * a 2-vCPU VM, and as much again in the waker's and the woken thread's
 * lock hand-offs), so the run's thread runs them itself, after the first. */
#ifndef HL_QUICK_BATCH_NS /* a build for callgrind, whose slowness would make every call slow */
#define HL_QUICK_BATCH_NS 20000
#endif
static _Atomic long long quick_batch_ns = HL_QUICK_BATCH_NS;

void hl__tools_set_quick_batch_ns(long long ns) {
  atomic_store(&quick_batch_ns, ns > 0 ? ns : HL_QUICK_BATCH_NS);
}

/* Whether every call goes to a tool whose calls have been measured
 * (hl__tool_expected_ns), the sum of the estimates of the calls after the
 * first is under the budget, and so is the first's: were the first slow,
 * the others would wait for it until the deferred wake-up's grace ends,
 * when waking their helpers at once costs nothing in time (this thread
 * is busy with the first meanwhile). A tool never measured counts as
 * slow: an agent's first batch of a tool runs in parallel, and so does
 * one whose tool was slow lately (its estimate rises at once). An
 * unknown tool answers at once (an error result). */
static bool hl_batch_quick(const hl_batch *b) {
  long long budget = atomic_load_explicit(&quick_batch_ns, memory_order_relaxed), sum = 0;
  for (size_t i = 0; i < b->n; i++) {
    const char *name = b->slots[i].part->name;
    hl_tool *tool = name ? hl_tools_find(b->ctx->agent->tools, name) : NULL;
    if (!tool) continue;
    long long e = hl__tool_expected_ns(tool);
    if (e == 0 || e > budget || (i > 0 && (sum += e) > budget)) return false;
  }
  return true;
}

/* The text a tool result shows the model. */
char *hl__tool_result_text(const hl__tool_outcome *out) {
  if (out->status != HL_OK) {
    size_t n = strlen(hl_status_name(out->status)) + 2 +
               (out->message ? strlen(out->message) : 0) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s: %s", hl_status_name(out->status), out->message ? out->message : "");
    return s;
  }
  if (cJSON_IsString(out->result)) return hl__strdup(out->result->valuestring);
  char *s = NULL;
  if (hl_json_print(out->result, &s) != HL_OK) return NULL;
  return s;
}

/* HL_INTERRUPTED when the turn stops for a decision (interrupt.c keeps
 * the calls), HL_OK when it goes on, HL_ERR_NOMEM. */
static hl_status hl_batch_interrupt(hl_context *ctx, hl_call_slot *slots, size_t n) {
  size_t waiting = 0;
  for (size_t i = 0; i < n; i++) waiting += slots[i].out.pending != NULL;
  if (!waiting || hl__ctx_aborted(ctx, NULL, 0) || hl_context_cancelled(ctx)) return HL_OK;
  hl__turn_call *calls = calloc(n, sizeof *calls);
  if (!calls) return hl__oom();
  for (size_t i = 0; i < n; i++) {
    calls[i].part = slots[i].part;
    calls[i].pending = slots[i].out.pending;
    slots[i].out.pending = NULL;
    calls[i].is_error = slots[i].out.status != HL_OK;
    if (!calls[i].pending && !(calls[i].text = hl__tool_result_text(&slots[i].out))) {
      for (size_t j = 0; j < n; j++) {
        free(calls[j].text);
        hl__pending_free(calls[j].pending);
      }
      free(calls);
      return hl__oom();
    }
  }
  hl_status st = hl__interrupt_turn(ctx, calls, n);
  free(calls);
  return st;
}

static hl_status hl_batch_end(hl_batch *b, hl_message **results, cJSON **summary);

hl_status hl__run_tool_calls(hl_context *ctx, const hl_message *assistant,
                             hl_message **results, cJSON **summary) {
  return hl__run_tool_calls_async(ctx, assistant, results, summary, NULL, NULL);
}

hl_status hl__run_tool_calls_async(hl_context *ctx, const hl_message *assistant,
                                   hl_message **results, cJSON **summary,
                                   hl__tools_done_fn done, void *done_user) {
  *results = NULL;
  *summary = NULL;
  size_t n = hl_message_tool_call_count(assistant);
  hl_batch *b = calloc(1, sizeof *b);
  hl_call_slot *slots = b ? calloc(n ? n : 1, sizeof *slots) : NULL;
  if (!slots) {
    free(b);
    return hl__oom();
  }
  for (size_t i = 0, k = 0; i < assistant->n_parts; i++)
    if (assistant->parts[i].kind == HL_PART_TOOL_CALL) slots[k++].part = &assistant->parts[i];

  b->ctx = ctx;
  b->slots = slots;
  b->n = n;
  atomic_init(&b->next, 0);
  b->may_suspend = done != NULL;
  atomic_init(&b->open, 1);
  b->done = done;
  b->done_user = done_user;
  size_t threads = (size_t)ctx->agent->parallel_tools;
  if (threads > n) threads = n;
  /* threads-1 helpers on the worker pool; the run's own thread drains the
   * batch too, and runs itself the helpers no worker took yet (caller
   * runs: a pool of one thread cannot deadlock on nested batches). The
   * helpers are woken at once, so that the calls of one response run at
   * the same time (one may wait for its siblings), unless the batch is
   * quick (hl_batch_quick): then waking a worker would cost more than
   * the calls take, and the worker would mostly find them taken (issue
   * 12: ~15 us of CPU and two futex calls a turn in scenario (b)). Its
   * helpers' wake-up is deferred (hl__group_init_deferred) instead of
   * skipped: should a call that was quick until now be slow this time,
   * or wait for its siblings, the pool's timer wakes the helpers a few
   * milliseconds later; the estimate then marks its tool slow. */
  if (threads > HL_MAX_HELPERS + 1) threads = HL_MAX_HELPERS + 1;
  /* Up to the default's helpers on the stack, more on the heap: all 63 on
   * the stack were 4.5 KB of every thread that runs a turn's calls, an
   * application thread in hl_agent_run() included, whose touched stack
   * stays in its RSS (issue 12, memory per session). Without memory for
   * more, the default's number run. */
  hl_helper few[HL_FEW_HELPERS], *helpers = few;
  if (threads > HL_FEW_HELPERS + 1 && !(helpers = malloc((threads - 1) * sizeof *helpers))) {
    helpers = few;
    threads = HL_FEW_HELPERS + 1;
  }
  if (threads > 1) {
    hl__group group;
    if (hl_batch_quick(b)) hl__group_init_deferred(&group);
    else hl__group_init(&group);
    for (size_t i = 0; i + 1 < threads; i++) {
      helpers[i] = (hl_helper){.job = {.fn = hl_helper_fn}, .batch = b};
      hl__group_submit(&group, &helpers[i].job);
    }
    hl_batch_drain(b);
    hl__group_wait(&group);
  } else {
    hl_batch_drain(b); /* one call (or one at a time): no pool, no lock */
  }
  if (helpers != few) free(helpers);
  /* Calls still suspended: the last one to end ends the batch
   * (hl_batch_call_done) and tells `done`; this thread is free. */
  if (b->may_suspend && atomic_fetch_sub(&b->open, 1) != 1) return HL_PENDING;
  return hl_batch_end(b, results, summary);
}

static void hl_batch_call_done(hl_batch *b) {
  if (atomic_fetch_sub(&b->open, 1) != 1) return;
  hl__tools_done_fn done = b->done;
  void *user = b->done_user;
  hl_message *results = NULL;
  cJSON *summary = NULL;
  hl_status st = hl_batch_end(b, &results, &summary);
  done(user, st, results, summary);
}

/* Every call has ended: the turn's interrupt, or the results message in
 * the model's order. Frees the batch. */
static hl_status hl_batch_end(hl_batch *b, hl_message **results, cJSON **summary) {
  hl_context *ctx = b->ctx;
  hl_call_slot *slots = b->slots;
  size_t n = b->n;
  free(b);
  /* interrupt.c (touch point): a call waits for a decision, and no abort
   * or cancel overrides it: the turn stops here, with its results kept. */
  hl_status ist = hl_batch_interrupt(ctx, slots, n);
  if (ist != HL_OK) {
    for (size_t i = 0; i < n; i++) hl__tool_outcome_clear(&slots[i].out);
    free(slots);
    return ist;
  }

  /* Results in the model's order, whatever order they finished in. */
  hl_status st = HL_OK;
  hl_message *msg = hl_message_new(HL_ROLE_TOOL);
  /* The summary is TURN_END's data: only built when someone listens. */
  bool observed = hl__ctx_wants(ctx, HL_EVENT_TURN_END);
  cJSON *sum = observed ? cJSON_CreateArray() : NULL;
  if (sum) hl__event_built.payloads++;
  if (!msg || (observed && !sum)) st = hl__oom();
  for (size_t i = 0; st == HL_OK && i < n; i++) {
    hl__tool_outcome *out = &slots[i].out;
    char *text = hl__tool_result_text(out);
    if (!text) {
      st = hl__oom();
      break;
    }
    /* A hand-built response may carry a call without an id. The message
     * takes the text; it stays readable for the summary below. */
    st = hl__message_add_tool_result_take(msg, slots[i].part->id ? slots[i].part->id : "",
                                          slots[i].part->name, text, out->status != HL_OK);
    cJSON *item = sum ? cJSON_CreateObject() : NULL;
    if (st == HL_OK && item) {
      cJSON_AddStringToObject(item, "call_id", slots[i].part->id ? slots[i].part->id : "");
      cJSON_AddStringToObject(item, "tool", slots[i].part->name ? slots[i].part->name : "");
      cJSON_AddStringToObject(item, "content", text);
      cJSON_AddBoolToObject(item, "is_error", out->status != HL_OK);
      if (out->status != HL_OK)
        cJSON_AddStringToObject(item, "error", hl_status_name(out->status));
      cJSON_AddItemToArray(sum, item);
    } else {
      cJSON_Delete(item);
    }
  }
  for (size_t i = 0; i < n; i++) hl__tool_outcome_clear(&slots[i].out);
  free(slots);
  if (st != HL_OK) {
    hl_message_free(msg);
    cJSON_Delete(sum);
    return st;
  }
  *results = msg;
  *summary = sum;
  return HL_OK;
}
