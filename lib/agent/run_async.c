/*
 * run_async.c - a run as an explicit state machine (hookline/run.h), and
 * hl_agent_run() as the blocking call built on it.
 *
 *   step_open:        context, AGENT_START, before_agent
 *                     (a body that must block runs here, whole: custom
 *                     agents, around_model hooks, providers without start)
 *   step_turn:        TURN_START, build request, before_model, LM_START,
 *                     provider start -> the run holds no thread while the
 *                     model call is in flight
 *   on_model_done:    (the thread that decoded the answer) schedule
 *   step_after_model: LM_END, after_model, RESPONSE, history; tool calls
 *                     through hl__turn_tools() (the one place where a
 *                     turn's calls are dispatched and collected), TURN_END;
 *                     then step_turn again, or the end
 *   run_close:        after_agent, AGENT_END, TRACE_COMPLETE, on_done
 *
 * Every step runs on the run's executor: a thread of the bounded worker
 * pool (core/taskpool.h) for hl_run_start(), the calling thread for
 * hl_agent_run() (which sleeps between steps and runs each one itself, so
 * a blocking run costs no extra thread hand-off for its hooks and tools).
 * The steps of a run never overlap: each is scheduled by the end of the
 * previous one, or by the model call's completion.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "agent/run_internal.h"
#include "agent/session_internal.h"
#include "core/taskpool.h"
#include "core/util.h"
#include "net/engine.h"
#include "hookline/json.h"
#include "hookline/run.h"

struct hl_run {
  atomic_int refs;           /* the handle's and the engine's */
  hl_agent *agent;           /* a reference */
  hl_session *session;       /* claimed (hl__session_try_begin) until the end */
  bool claim_kept;           /* hl_agent_run() holds the claim across retries */
  char *input;
  hl_run_done_fn on_done;
  void *user_data;
  atomic_bool cancel;        /* hl_run_cancel(); the context reads it */

  /* The executor: the pool, or the thread in hl_agent_run(). */
  bool caller_driven;
  hl__job job;
  void (*step)(hl_run *run); /* the step to run next */

  /* The state machine's data: touched only by the step that runs. */
  hl_context *ctx;
  size_t history_len;
  hl__outcome o;
  char *result;
  int turn;
  hl_request *req;
  size_t borrowed_from;
  bool tools_borrowed;
  int64_t t0;
  hl_status model_st;        /* the model call's outcome (on_model_done) */
  hl_response *model_resp;
  char *model_msg;           /* its error message (malloc'd), NULL on success:
                                a buffer of HL__MSG_MAX here was 1 KB per run
                                in flight (issue 12, memory per session) */

  /* The end, under lock. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool step_ready;           /* caller-driven: a step waits for the caller */
  bool driving;              /* caller-driven: the caller drives the HTTP loop meanwhile */
  int drive_loop;            /* which loop it drives (net/engine.h) */
  bool done;
  hl_status status;
  hl_usage usage;

  /* Interrupts: the run continues an interrupted one (hl_run_resume():
   * its own copies of the state and the decisions, which `resume` points
   * into), and the state it stopped with itself (HL_INTERRUPTED; written
   * by the last step before `status`, read after it). */
  cJSON *resume_state;
  cJSON *resume_decisions;
  hl__resume resume;
  cJSON *state;
};

static void run_release(hl_run *run) {
  if (atomic_fetch_sub_explicit(&run->refs, 1, memory_order_acq_rel) != 1) return;
  hl_agent_unref(run->agent);
  free(run->input);
  free(run->result);
  free(run->model_msg);
  hl__outcome_clear(&run->o);
  cJSON_Delete(run->resume_state);
  cJSON_Delete(run->resume_decisions);
  cJSON_Delete(run->state);
  pthread_mutex_destroy(&run->lock);
  pthread_cond_destroy(&run->cond);
  free(run);
}

/* ------------------------------------------------------------------ */
/* The executor                                                        */
/* ------------------------------------------------------------------ */

static void job_fn(hl__job *job) {
  hl_run *run = (hl_run *)((char *)job - offsetof(hl_run, job));
  run->step(run);
}

/* Run `step` next, on the run's executor (any thread). */
static void schedule(hl_run *run, void (*step)(hl_run *)) {
  run->step = step;
  if (run->caller_driven) {
    pthread_mutex_lock(&run->lock);
    run->step_ready = true;
    pthread_cond_signal(&run->cond);
    /* The caller may be waiting inside a loop turn it drives. */
    bool driving = run->driving;
    int loop = run->drive_loop;
    pthread_mutex_unlock(&run->lock);
    if (driving) hl__engine_wake_driver(loop);
  } else {
    hl__jobs_submit(&run->job);
  }
}

/* ------------------------------------------------------------------ */
/* The steps                                                           */
/* ------------------------------------------------------------------ */

static void step_turn(hl_run *run);

/* The end of the run: after_agent (when the body succeeded and `after`),
 * the close, the session released, on_done, waiters woken. */
static void run_close(hl_run *run, bool after) {
  if (run->ctx) {
    if (after && run->o.status == HL_OK) hl__run_after_agent(run->ctx, &run->result, &run->o);
    hl__run_close(run->ctx, run->history_len, &run->result, &run->o, &run->usage, &run->state);
    run->ctx = NULL;
  }
  if (!run->claim_kept) hl__session_end(run->session);
  hl_status st = run->o.status;
  /* Readable by getters from here on: nothing writes these any more. */
  pthread_mutex_lock(&run->lock);
  run->status = st;
  pthread_mutex_unlock(&run->lock);
  if (run->on_done) {
    if (st != HL_OK && st != HL_INTERRUPTED) hl_fail(st, "%s", hl__outcome_message(&run->o));
    else hl_clear_error();
    run->on_done(run, st, st == HL_OK ? run->result : NULL, &run->usage, run->user_data);
  }
  pthread_mutex_lock(&run->lock);
  run->done = true;
  pthread_cond_broadcast(&run->cond);
  pthread_mutex_unlock(&run->lock);
  run_release(run); /* the engine's reference */
}

static void step_open(hl_run *run) {
  hl__open_next next = hl__run_open(run->agent, NULL, run->session, false, run->input,
                                    &run->cancel, run->resume_state ? &run->resume : NULL, &run->ctx, &run->history_len, &run->result,
                                    &run->o);
  if (next != HL__OPEN_BODY) {
    run_close(run, false); /* an answer from before_agent skips after_agent (H4) */
    return;
  }
  hl_context *ctx = run->ctx;
  hl_agent *a = run->agent;
  /* The pieces that need the blocking shape run whole on this thread.
   * So does a streaming hl_agent_run(): its deltas, model_chunk hooks and
   * token callback stay on the caller's thread, as agent.h promises (the
   * blocking provider call decodes there). */
  /* A provider without asynchronous start (the scripted provider, user
   * providers with only complete()) goes step by step too: its call
   * blocks the step's worker (step_turn), but a pending tool of the turn
   * then holds no thread, as with an HTTP provider. */
  if (a->kind == HL__AGENT_CUSTOM || hl__ctx_has_hooks(ctx, HL_HOOK_AROUND_MODEL) ||
      (run->caller_driven && (a->stream || !hl_provider_can_start(a->provider)))) {
    hl_status st = hl__run_body_blocking(ctx, &run->result, &run->o);
    run_close(run, st == HL_OK);
    return;
  }
  int first_turn = 1;
  if (hl__llm_body_start(ctx, &first_turn, &run->o) != HL_OK) {
    run_close(run, false); /* also a resumed turn interrupted again */
    return;
  }
  run->turn = first_turn - 1;
  step_turn(run);
}

static void step_after_model(hl_run *run);
static bool after_model(hl_run *run);

/* The model call's outcome: `st`, `resp` (taken), and on failure this
 * thread's last error as its message. */
static void model_outcome(hl_run *run, hl_status st, hl_response *resp) {
  run->model_st = st;
  run->model_resp = resp;
  free(run->model_msg);
  run->model_msg = st == HL_OK ? NULL : hl__strdup(hl_last_error());
}

/* The model call ended (the thread that decoded the answer). */
static void on_model_done(hl_status st, hl_response *resp, void *user) {
  hl_run *run = user;
  model_outcome(run, st, resp);
  schedule(run, step_after_model);
}

static void release_request(hl_run *run) {
  hl__request_release(run->req, run->borrowed_from, run->tools_borrowed);
  run->req = NULL;
}

/* The turn's suspended tool calls ended (engine2, issue 12 item 3: a
 * pending asynchronous tool holds no thread): on the pool thread of the
 * last one's completion, the next turn or the end. */
static void on_tools_done(void *user, hl_status st) {
  hl_run *run = user;
  if (st != HL_OK) run_close(run, false);
  else step_turn(run);
}

/* The response of the turn (taken): the history, tool calls, the next
 * turn or the end. True when the loop goes on with another turn; false
 * when it closed, or waits for suspended tool calls (on_tools_done). */
static bool turn_response(hl_run *run, hl_response *resp) {
  hl_context *ctx = run->ctx;
  hl__turn_next next = hl__turn_response(ctx, resp, &run->result, &run->o);
  if (next == HL__TURN_ANSWER) {
    run_close(run, true);
    return false;
  }
  if (next == HL__TURN_AGAIN) return true;
  if (next == HL__TURN_FAILED) {
    run_close(run, false);
    return false;
  }
  /* A run on the pool lets its deferred tool calls go (no thread waits
   * for them); a blocking run's caller waits on its own thread anyway. */
  hl_status st = hl__turn_tools_async(ctx, resp, &run->o, run->caller_driven ? NULL : on_tools_done,
                                      run);
  if (st == HL_PENDING) return false;
  if (st != HL_OK) {
    run_close(run, false);
    return false;
  }
  return true;
}

static void step_turn(hl_run *run) {
  hl_context *ctx = run->ctx;
  for (;;) {
    if (++run->turn > run->agent->max_turns) {
      hl__max_turns(ctx, &run->o);
      run_close(run, false);
      return;
    }
    if (hl__turn_begin(ctx, run->turn, &run->o) != HL_OK) {
      run_close(run, false);
      return;
    }
    run->req = hl__build_request(ctx, hl__may_borrow_history(ctx), &run->borrowed_from,
                                 &run->tools_borrowed);
    if (!run->req) {
      hl__outcome_take(&run->o, hl__oom());
      run_close(run, false);
      return;
    }
    hl_response *resp = NULL;
    hl__model_next next = hl__before_model(ctx, run->req, hl__request_edited(ctx), &resp, &run->o);
    if (next == HL__MODEL_FAILED) {
      release_request(run);
      run_close(run, false);
      return;
    }
    if (next == HL__MODEL_OVERRIDDEN) {
      release_request(run);
      if (!turn_response(run, resp)) return;
      continue;
    }
    hl_status st = hl__model_begin(ctx, run->req, &run->t0);
    if (st != HL_OK) {
      /* Cancelled before the call: after_model sees the error, no LM_END
       * (as the blocking path). */
      char msg[HL__MSG_MAX];
      snprintf(msg, sizeof msg, "%s", hl_last_error());
      st = hl__after_model(ctx, run->req, st, msg, NULL, &resp, &run->o);
      release_request(run);
      if (st != HL_OK) {
        run_close(run, false);
        return;
      }
      if (!turn_response(run, resp)) return;
      continue;
    }
    if (!hl_provider_can_start(run->agent->provider)) {
      /* No asynchronous start (wflow, issue 12): the call blocks this
       * worker; the turn's tools then go as for any provider. */
      hl_response *r = NULL;
      st = hl_provider_complete(run->agent->provider, ctx, run->req, &r);
      if (st != HL_OK) {
        hl_response_free(r);
        r = NULL;
      }
      model_outcome(run, st, r);
      if (!after_model(run)) return;
      continue;
    }
    /* From here the run holds no thread until the answer arrives. A
     * blocking run's caller will wait for it: its request is deferred
     * until then, to be driven from that thread if the loop is free
     * (net/engine.h, "Who drives"). */
    /* Read before the start: once started, the answer may finish and
     * free the run on another thread before start returns here. */
    bool caller_driven = run->caller_driven;
    if (caller_driven) hl__engine_defer(true);
    st = hl_provider_start(run->agent->provider, ctx, run->req, on_model_done, run);
    if (caller_driven) hl__engine_defer(false);
    if (st == HL_OK) return;
    model_outcome(run, st, NULL);
    step_after_model(run);
    return;
  }
}

static void step_after_model(hl_run *run) {
  if (after_model(run)) step_turn(run);
}

/* LM_END, after_model and the response (turn_response): true when the
 * loop goes on with another turn. */
static bool after_model(hl_run *run) {
  hl_context *ctx = run->ctx;
  hl_response *resp = NULL;
  const char *model_msg = run->model_msg ? run->model_msg
                         : run->model_st == HL_OK ? "" : "out of memory";
  hl_status st = hl__model_end(ctx, run->model_st, model_msg, run->model_resp, run->t0, &resp);
  run->model_resp = NULL;
  free(run->model_msg);
  run->model_msg = NULL;
  /* The failure's message on the heap, not in this frame, which lies
   * under the turn's tool calls (turn_response): a blocking run's thread
   * keeps its touched stack in its RSS. */
  char *msg = st != HL_OK ? hl__strdup(hl_last_error()) : NULL;
  hl_response *out = NULL;
  st = hl__after_model(ctx, run->req, st, msg ? msg : st == HL_OK ? "" : hl_strerror(st), resp, &out,
                       &run->o);
  free(msg);
  release_request(run);
  if (st != HL_OK) {
    run_close(run, false);
    return false;
  }
  return turn_response(run, out);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

/* `claimed`: the caller already holds the session's one-run claim and
 * releases it itself (hl_agent_run(), across its conflict retries). */
static hl_status run_new(hl_agent *agent, hl_session *session, const char *input,
                         const hl_run_options *opts, bool caller_driven, bool claimed,
                         hl_run **out) {
  *out = NULL;
  if (opts && opts->size < offsetof(hl_run_options, user_data) + sizeof opts->user_data)
    return hl_fail(HL_ERR_INVALID, "hl_run_start: opts->size is %zu; use HL_RUN_OPTIONS_INIT",
                   opts->size);
  if (!session) session = agent->session;
  hl_run *run = calloc(1, sizeof *run);
  if (!run || !(run->input = hl__strdup(input))) {
    free(run);
    return hl__oom();
  }
  /* One run at a time per session; children on the parent's session
   * (HL_RUN_SHARED) run inside the parent's claim and do not come here. */
  if (!claimed && !hl__session_try_begin(session)) {
    free(run->input);
    free(run);
    return hl_fail(HL_ERR_STATE, "session \"%s\" is busy with another run",
                   hl_session_id(session));
  }
  /* A stored session's unfinished run of this input continues (store.h). */
  hl__session_before_run(session, input);
  atomic_init(&run->refs, 2);
  atomic_init(&run->cancel, false);
  run->agent = hl_agent_ref(agent);
  run->session = session;
  run->claim_kept = claimed;
  run->on_done = opts ? opts->on_done : NULL;
  run->user_data = opts ? opts->user_data : NULL;
  run->caller_driven = caller_driven;
  run->job.fn = job_fn;
  run->status = HL_PENDING;
  run->o.status = HL_OK;
  pthread_mutex_init(&run->lock, NULL);
  pthread_cond_init(&run->cond, NULL);
  *out = run;
  return HL_OK;
}

hl_status hl_run_start(hl_agent *agent, hl_session *session, const char *input,
                       const hl_run_options *opts, hl_run **out) {
  if (out) *out = NULL;
  if (!agent || !input || !out)
    return hl_fail(HL_ERR_INVALID, "hl_run_start: agent, input and run are required");
  hl_run *run;
  hl_status st = run_new(agent, session, input, opts, false, false, &run);
  if (st != HL_OK) return st;
  *out = run;
  schedule(run, step_open);
  return HL_OK;
}

static hl_status run_drive(hl_run *run, char **answer);

hl_status hl_agent_run(hl_agent *agent, hl_session *session, const char *input, char **answer) {
  if (answer) *answer = NULL;
  if (!agent || !input || !answer)
    return hl_fail(HL_ERR_INVALID, "hl_agent_run: agent, input and answer are required");
  if (!session) session = agent->session;
  /* A stored session that lost a race to another writer is reloaded and
   * the run tried again on the fresh version (store.h). The session's
   * one-run claim is held from the first attempt to the last, so that no
   * other run gets in while it is reloaded between two attempts. */
  if (!hl__session_try_begin(session))
    return hl_fail(HL_ERR_STATE, "session \"%s\" is busy with another run", hl_session_id(session));
  hl_status st;
  for (int attempt = 1;; attempt++) {
    hl_run *run;
    st = run_new(agent, session, input, NULL, true, true, &run);
    if (st != HL_OK) break;
    st = run_drive(run, answer);
    hl__session_set_resume(session, false);
    if (st != HL_ERR_CONFLICT || attempt > HL__STORE_CONFLICT_RETRIES) break;
    hl__retry r = hl__session_reload_for_retry(session, input, answer);
    if (r == HL__RETRY_DONE) st = HL_OK;
    if (r != HL__RETRY) break;
  }
  hl__session_end(session);
  return st;
}

/* The blocking form: this thread is the run's executor: it runs each step
 * as it becomes ready and sleeps in between (a model call in flight).
 * Releases the handle's reference. */
static hl_status run_drive(hl_run *run, char **answer) {
  hl_status st;
  run->step = step_open;
  run->step_ready = true;
  pthread_mutex_lock(&run->lock);
  while (!run->done) {
    if (run->step_ready) {
      run->step_ready = false;
      pthread_mutex_unlock(&run->lock);
      run->step(run);
      pthread_mutex_lock(&run->lock);
      continue;
    }
    /* Waiting (a model call in flight): with nothing else in flight, this
     * thread drives the HTTP loop itself instead of being woken by the
     * loop thread (two hand-offs per model call saved); else it sleeps. */
    pthread_mutex_unlock(&run->lock);
    bool driving = hl__engine_drive_begin();
    pthread_mutex_lock(&run->lock);
    if (!driving) {
      if (!run->step_ready && !run->done) pthread_cond_wait(&run->cond, &run->lock);
      continue;
    }
    run->driving = true;
    run->drive_loop = hl__engine_current();
    while (!run->step_ready && !run->done) {
      pthread_mutex_unlock(&run->lock);
      hl__engine_drive_turn();
      pthread_mutex_lock(&run->lock);
    }
    run->driving = false;
    pthread_mutex_unlock(&run->lock);
    hl__engine_drive_end();
    pthread_mutex_lock(&run->lock);
  }
  pthread_mutex_unlock(&run->lock);
  st = run->o.status;
  if (st == HL_OK) {
    *answer = run->result;
    run->result = NULL;
  } else if (st == HL_INTERRUPTED) {
    /* Not a failure (no message); the state goes to this thread's slot,
     * where hl_run_state_json() hands it over. */
    hl__state_put(run->state);
    run->state = NULL;
    hl_clear_error();
  } else {
    hl_fail(st, "%s", hl__outcome_message(&run->o));
  }
  run_release(run); /* the handle's reference */
  return st;
}

void hl_run_cancel(hl_run *run) {
  if (!run) return;
  atomic_store_explicit(&run->cancel, true, memory_order_release);
  /* As hl_agent_cancel(): registrations (tools, sandboxes) and the HTTP
   * loop, which ends a model call in flight at once. */
  hl__ctx_notify_cancel();
}

hl_status hl_run_wait(hl_run *run, long timeout_ms) {
  if (!run) return hl_fail(HL_ERR_INVALID, "hl_run_wait: run is NULL");
  struct timespec deadline;
  if (timeout_ms >= 0) {
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&run->lock);
  while (!run->done) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&run->cond, &run->lock);
    } else if (pthread_cond_timedwait(&run->cond, &run->lock, &deadline) == ETIMEDOUT &&
               !run->done) {
      pthread_mutex_unlock(&run->lock);
      return hl_fail(HL_ERR_TIMEOUT, "hl_run_wait: the run did not end within %ld ms", timeout_ms);
    }
  }
  hl_status st = run->status;
  pthread_mutex_unlock(&run->lock);
  if (st != HL_OK && st != HL_INTERRUPTED) return hl_fail(st, "%s", hl__outcome_message(&run->o));
  hl_clear_error(); /* HL_INTERRUPTED is not a failure */
  return st;
}

bool hl_run_done(const hl_run *run) {
  if (!run) return false;
  hl_run *r = (hl_run *)run;
  pthread_mutex_lock(&r->lock);
  bool d = r->done;
  pthread_mutex_unlock(&r->lock);
  return d;
}

hl_status hl_run_status(const hl_run *run) {
  if (!run) return HL_ERR_INVALID;
  hl_run *r = (hl_run *)run;
  pthread_mutex_lock(&r->lock);
  hl_status st = r->status; /* HL_PENDING until the end */
  pthread_mutex_unlock(&r->lock);
  return st;
}

const char *hl_run_error(const hl_run *run) {
  hl_status st = hl_run_status(run);
  return st == HL_PENDING || st == HL_ERR_INVALID ? "" : hl__outcome_message(&run->o);
}

const char *hl_run_answer(const hl_run *run) {
  return hl_run_status(run) == HL_OK ? run->result : NULL;
}

hl_usage hl_run_usage(const hl_run *run) {
  hl_usage u;
  memset(&u, 0, sizeof u);
  hl_status st = hl_run_status(run);
  if (st != HL_PENDING && st != HL_ERR_INVALID) u = run->usage;
  return u;
}

void hl_run_free(hl_run *run) {
  if (!run) return;
  if (!hl_run_done(run)) hl_run_cancel(run);
  run_release(run);
}

/* ------------------------------------------------------------------ */
/* Interrupted runs: the state, resume (interrupt.h)                  */
/* ------------------------------------------------------------------ */

cJSON *hl_run_state(const hl_run *run) {
  if (hl_run_status(run) != HL_INTERRUPTED) return NULL;
  /* Nothing writes run->state once the status is set. */
  cJSON *copy = run->state ? cJSON_Duplicate(run->state, true) : NULL;
  if (run->state && !copy) hl__oom();
  return copy;
}

/* A run that continues `state` with `decisions` (checked here, copied),
 * ready to be scheduled (the session claimed and as the state expects).
 * On failure nothing ran and the session is untouched. */
static hl_status resume_new(hl_agent *agent, hl_session *session, const cJSON *state,
                            const cJSON *decisions, const hl_run_options *opts,
                            bool caller_driven, const char *fn, hl_run **out) {
  *out = NULL;
  if (!agent || !state || !decisions)
    return hl_fail(HL_ERR_INVALID, "%s: agent, state and decisions are required", fn);
  hl_status st = hl__resume_check(agent, state, decisions);
  if (st != HL_OK) return st;
  const char *input = hl_json_get_string(state, "input");
  hl_run *run;
  if ((st = run_new(agent, session, input ? input : "", opts, caller_driven, false, &run)) != HL_OK)
    return st;
  run->resume_state = cJSON_Duplicate(state, true);
  run->resume_decisions = cJSON_Duplicate(decisions, true);
  st = run->resume_state && run->resume_decisions ? hl__resume_session_matches(run->session, state)
                                                  : hl__oom();
  if (st != HL_OK) {
    hl__session_end(run->session);
    run_release(run); /* the engine's reference: it never starts */
    run_release(run);
    return st;
  }
  run->resume = (hl__resume){.state = run->resume_state, .decisions = run->resume_decisions, .prefix = ""};
  *out = run;
  return HL_OK;
}

hl_status hl_run_resume(hl_agent *agent, hl_session *session, const cJSON *state,
                        const cJSON *decisions, const hl_run_options *opts, hl_run **out) {
  if (out) *out = NULL;
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_run_resume: run is required");
  hl_run *run;
  hl_status st = resume_new(agent, session, state, decisions, opts, false, "hl_run_resume", &run);
  if (st != HL_OK) return st;
  *out = run;
  schedule(run, step_open);
  return HL_OK;
}

hl_status hl_agent_resume(hl_agent *agent, hl_session *session, const cJSON *state,
                          const cJSON *decisions, char **answer) {
  if (answer) *answer = NULL;
  if (!agent || !state || !decisions || !answer)
    return hl_fail(HL_ERR_INVALID, "hl_agent_resume: agent, state, decisions and answer are required");
  hl_run *run;
  hl_status st = resume_new(agent, session, state, decisions, NULL, true, "hl_agent_resume", &run);
  if (st != HL_OK) return st;
  return run_drive(run, answer);
}
