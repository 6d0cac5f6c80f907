/*
 * hookline/guards.h - guard plugins for production agents (hooks/):
 * call limits, PII redaction, rate limiting, budgets, audit log, and a
 * guardrail that runs in parallel with the model.
 *
 * Each guard is configured by a JSON options object, the same one its
 * loadable form takes (hl_plugin_load(hooks, "call_limits", options, ...),
 * or a config file's "plugins" entry), so a guard is set up the same way
 * from C, from a config file and from a .so. hl_X_new(options) returns
 * NULL for bad options, with HL_ERR_INVALID and a message that starts
 * with the JSON path of the bad value ("$.tool_calls.search: expected an
 * integer from 0 to ..."); options NULL means {}.
 *
 * Ownership and thread-safety are those of plugins.h: new returns the
 * caller's reference, install makes the hook set hold its own, unref
 * when done; once installed, the hooks are safe from many threads and
 * many runs at once, and the counters may be read from any thread.
 * Per-run counts are kept per invocation id (hl_context_invocation_id()).
 */
#ifndef HOOKLINE_GUARDS_H
#define HOOKLINE_GUARDS_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "status.h"
#include "hooks.h"
#include "observer.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Call limits                                                         */
/* ------------------------------------------------------------------ */

typedef struct hl_call_limits hl_call_limits;

/**
 * Options: {"model_calls": N, "tool_calls": {"search": N, "*": N},
 *           "on_limit": "abort" | "refuse"}
 *   model_calls  at most N model calls per run (absent: no limit)
 *   tool_calls   at most N calls of that tool per run; "*" applies to
 *                every tool without its own entry
 *   on_limit     "abort" (default): the run stops with HL_ERR_ABORTED and
 *                a message naming the limit. "refuse": a tool call over
 *                its limit gets the result {"error": "limit", "message":
 *                ...} that the model sees, and the model call over the
 *                limit is answered by the hook with the text "Stopped: ..."
 *                which ends the run (H5).
 */
HL_API hl_call_limits *hl_call_limits_new(const cJSON *options);
HL_API hl_call_limits *hl_call_limits_ref(hl_call_limits *limits);
HL_API void hl_call_limits_unref(hl_call_limits *limits);
/** Installs "call_limits" hooks at before_agent/after_agent (per-run
 *  state), before_model and before_tool. */
HL_API hl_status hl_call_limits_install(hl_call_limits *limits, hl_hooks *hooks);
/** Calls refused or aborted so far. */
HL_API uint64_t hl_call_limits_tripped(const hl_call_limits *limits);


/* ------------------------------------------------------------------ */
/* PII redaction                                                       */
/* ------------------------------------------------------------------ */

/** What the PII scanner finds. */
typedef enum hl_pii_kind {
  HL_PII_EMAIL = 0,   /**< name@example.com */
  HL_PII_PHONE = 1,   /**< +44 20 7946 0958, (555) 123-4567: 9-15 digits in groups */
  HL_PII_CARD = 2,    /**< 13-19 digits (spaces or dashes between groups), Luhn-valid */
  HL_PII_IBAN = 3,    /**< DE89 3704 0044 0532 0130 00: ISO 13616, mod-97 checksum valid */
  HL_PII_IP = 4,      /**< IPv4 dotted quad (each part <= 255) or IPv6 (inet_pton) */
  HL_PII_SECRET = 5,  /**< API-key-like: sk-..., sk-ant-..., ghp_/gho_/github_pat_...,
                           AKIA + 16, AIza + 35, xox?-..., "Bearer <token>" */
  HL_PII_KIND_COUNT = 6
} hl_pii_kind;

/** "email", "phone", "card", "iban", "ip", "secret" ("unknown"). */
HL_API const char *hl_pii_kind_name(hl_pii_kind kind);

/** One finding: bytes [start, start + len) of the text. */
typedef struct hl_pii_span {
  size_t start, len;
  hl_pii_kind kind;
} hl_pii_span;

/** Scan `text` (NUL-terminated UTF-8) for every kind; fills at most `max`
 *  spans, left to right, non-overlapping, and returns how many there are
 *  in all (which may exceed max). Pure function: thread-safe. */
HL_API size_t hl_pii_scan(const char *text, hl_pii_span *spans, size_t max);

typedef struct hl_pii hl_pii;

/**
 * Options: {"mode": "mask" | "drop" | "pseudonymize",
 *           "kinds": ["email", "phone", "card", "iban", "ip", "secret"],
 *           "requests": true, "chunks": true, "tool_results": true}
 *   mask          each finding becomes [EMAIL], [PHONE], [CARD], [IBAN], [IP]
 *                 or [SECRET] (the default mode)
 *   drop          each finding is removed
 *   pseudonymize  each distinct value becomes <EMAIL_1>, <EMAIL_2>, ... for
 *                 the whole run (the same value, the same token, so the
 *                 model can still tell values apart); tool arguments get
 *                 the real values back before the tool runs, and so does
 *                 the run's final answer (after_agent)
 *   kinds         which kinds to redact (default all)
 *   requests      redact every model request (user, assistant and tool
 *                 messages; the system instruction is the developer's and
 *                 stays): the model never sees a finding
 *   chunks        redact streamed text deltas (model_chunk) in mask and drop
 *                 mode, so a finding the model writes is not shown as it
 *                 streams. A finding split across deltas is still found:
 *                 each delta is passed on up to the longest suffix that
 *                 could start a finding (at most 128 bytes), which waits
 *                 for the next delta or the end of the stream (hooks.h,
 *                 hl_model_chunk_args.final); a longer finding that starts
 *                 more than 128 bytes before a cut can pass unredacted.
 *                 The deltas and the response after_model sees are the
 *                 same redacted text
 *   tool_results  redact string values of tool results (after_tool), which
 *                 also keeps them out of the session history and events
 */
HL_API hl_pii *hl_pii_new(const cJSON *options);
HL_API hl_pii *hl_pii_ref(hl_pii *pii);
HL_API void hl_pii_unref(hl_pii *pii);
/** Installs "pii" hooks: before_agent/after_agent (per-run pseudonyms,
 *  restoring the answer), before_model (EDIT_REQUEST), model_chunk
 *  (EDIT_CHUNK), before_tool (EDIT_ARGS, pseudonymize only), after_tool. */
HL_API hl_status hl_pii_install(hl_pii *pii, hl_hooks *hooks);
/** `text` redacted as the options say (pseudonymize: with fresh tokens
 *  for this call alone). A new string for hl_free(), NULL on out of memory. */
HL_API char *hl_pii_redact(const hl_pii *pii, const char *text);
/** Findings redacted so far, over every run. */
HL_API uint64_t hl_pii_redacted(const hl_pii *pii);

/* ------------------------------------------------------------------ */
/* Rate limiter                                                        */
/* ------------------------------------------------------------------ */

typedef struct hl_rate_limiter hl_rate_limiter;

/**
 * Token buckets shared by every run and thread that uses the limiter
 * (one object installed in several agents, or in hl_hooks_global()).
 *
 * Options: {"user":  {"rate": R, "burst": B},   one bucket per user id, one
 *                                               token per run (before_agent)
 *           "model": {"rate": R, "burst": B},   one bucket per model name, one
 *                                               token per model call
 *           "tool":  {"rate": R, "burst": B},   one bucket per tool name, one
 *                                               token per tool call
 *           "tools": {"search": {"rate": R, "burst": B}}  a tool's own bucket
 *           "policy": "wait" | "refuse" | "abort",
 *           "max_wait_ms": 10000}
 *   rate   tokens added per second (> 0); burst  bucket size (>= 1, the
 *   default), full at start.
 *   wait    (default) sleep until the bucket has a token (a reservation:
 *           waiters are served in order, and the rate holds exactly), in
 *           slices that notice cancellation; past max_wait_ms, abort
 *   refuse  a tool call gets the result {"error": "rate_limited",
 *           "message": ..., "retry_after_ms": N} the model sees; a run or
 *           model call over its limit ends the run with the answer
 *           "Rate limited: ..." (an override)
 *   abort   the run stops with HL_ERR_ABORTED and a message naming the
 *           bucket and when it has a token again
 */
HL_API hl_rate_limiter *hl_rate_limiter_new(const cJSON *options);
HL_API hl_rate_limiter *hl_rate_limiter_ref(hl_rate_limiter *limiter);
HL_API void hl_rate_limiter_unref(hl_rate_limiter *limiter);
/** Installs "rate_limiter" hooks at before_agent, before_model and
 *  before_tool (those the options use). */
HL_API hl_status hl_rate_limiter_install(hl_rate_limiter *limiter, hl_hooks *hooks);
/** Calls that had to wait / were refused or aborted, so far. */
HL_API uint64_t hl_rate_limiter_waited(const hl_rate_limiter *limiter);
HL_API uint64_t hl_rate_limiter_limited(const hl_rate_limiter *limiter);

/* ------------------------------------------------------------------ */
/* Budget                                                              */
/* ------------------------------------------------------------------ */

typedef struct hl_budget hl_budget;

/**
 * Tokens and cost per run, per session and per user, shared by every run
 * and thread that uses the budget object.
 *
 * Options: {"prices": {"gpt-4o": {"input": 2.5, "output": 10}, "*": {...}},
 *           "run":     {"tokens": N, "cost": X},
 *           "session": {"tokens": N, "cost": X},
 *           "user":    {"tokens": N, "cost": X},
 *           "on_exceed": "abort" | "switch", "fallback_model": "gpt-4o-mini",
 *           "estimate": true}
 *   prices     USD per million input / output tokens by model name ("*":
 *              any other); a response that carries its own cost
 *              (usage.has_cost) is charged that instead
 *   run, session, user   the limits (either or both of tokens and cost)
 *   on_exceed  abort (default): a model call once a limit is reached stops
 *              the run with HL_ERR_ABORTED and a message naming the scope,
 *              the key and the amounts. switch: from then on the calls of
 *              that run go to fallback_model (required then) instead, the
 *              cheaper model; the limit is not enforced beyond that
 * Every model call's usage is charged (after_model) to its run, its
 * session (hl_context_session_id()) and its user (hl_context_user_id(),
 * "anonymous" when unset); the check comes before each model call.
 *   estimate   true (default): the check adds the call's estimate to what
 *              was spent (its prompt at ~4 bytes a token, plus the
 *              request's max_tokens, hl_agent_set_max_tokens(), as the
 *              most it can answer; priced like usage), so the call that
 *              would pass a limit is refused (or switched) before it goes
 *              out; false: only a limit already reached stops the next
 *              call. The estimate is rough (a guess at the tokenizer, and
 *              no output bound without max_tokens): a call can still end
 *              a little past a limit. Calls in flight on other threads
 *              still finish and are charged.
 */
HL_API hl_budget *hl_budget_new(const cJSON *options);
HL_API hl_budget *hl_budget_ref(hl_budget *budget);
HL_API void hl_budget_unref(hl_budget *budget);
/** Installs "budget" hooks at before_agent/after_agent (per-run ledger),
 *  before_model (EDIT_REQUEST | DECIDE) and after_model. */
HL_API hl_status hl_budget_install(hl_budget *budget, hl_hooks *hooks);
/** What `key` of `scope` ("session" or "user") has spent so far; false
 *  if nothing was charged to it. Thread-safe. */
HL_API bool hl_budget_spent(const hl_budget *budget, const char *scope, const char *key,
                            int64_t *tokens, double *cost);
/** Model calls refused or switched to the fallback, so far. */
HL_API uint64_t hl_budget_exceeded(const hl_budget *budget);

/* ------------------------------------------------------------------ */
/* Audit log                                                           */
/* ------------------------------------------------------------------ */

typedef struct hl_audit hl_audit;

/**
 * A JSON Lines audit log: one record per run start and end, model call,
 * tool call and hook decision.
 *
 * Options: {"file": "audit.jsonl" (required), "flush": "record" | "batch",
 *           "batch_size": 64, "max_bytes": 0, "keep": 3}
 *   flush       record (default): each record is flushed as written;
 *               batch: every batch_size records, and when the log closes
 *   max_bytes   rotate before a record would take the file past this size:
 *               FILE -> FILE.1 -> ... -> FILE.<keep> (0: never rotate)
 * Records (one JSON object a line; every one has "ts" (UTC, ms), "type",
 * "run" (invocation id), "agent", "user", "session"):
 *   run_start  {input}                 run_end {answer}
 *   model_call {model, messages, finish, usage: {input_tokens,
 *               output_tokens}, error: null | {status, message}}
 *   tool_call  {call_id, tool, args, result, error}
 *   hook       {point, hook, action, call_id?}  (from hl_audit_observer())
 * Secrets are redacted: values under keys that name a credential
 * (api_key, apikey, password, secret, token, authorization, cookie) become
 * "[REDACTED]", and API-key-like strings anywhere become "[SECRET]"
 * (hl_pii_scan()). The file is opened (appending) by hl_audit_new():
 * HL_ERR_IO naming it when it cannot be. Writes are serialized; a write
 * error is counted (hl_audit_errors()), never fatal to a run.
 */
HL_API hl_audit *hl_audit_new(const cJSON *options);
HL_API hl_audit *hl_audit_ref(hl_audit *audit);
/** The last reference flushes and closes the file. */
HL_API void hl_audit_unref(hl_audit *audit);
/** Installs observing "audit" hooks at before_agent, after_agent,
 *  after_model and after_tool (they change nothing), and attaches
 *  hl_audit_observer() to the set (hl_hooks_add_observer(), named
 *  "audit"), so the runs that use the set also get their hook decisions
 *  recorded, whoever made them; hl_hooks_remove(hooks, "audit") takes
 *  all of it away. All or nothing. The loadable form ("audit" plugin)
 *  does the same. */
HL_API hl_status hl_audit_install(hl_audit *audit, hl_hooks *hooks);
/** An observer that writes a "hook" record for each hook decision
 *  (HL_EVENT_HOOK: overrides, aborts, edits) of the runs it watches, and
 *  wants no other event. hl_audit_install() attaches one to its set; add
 *  another with hl_agent_add_observer() only for runs that do not use
 *  that set (or each decision is recorded twice). The caller's reference;
 *  it holds one on the audit. */
HL_API hl_observer *hl_audit_observer(hl_audit *audit);
/** Records written / write errors so far. */
HL_API uint64_t hl_audit_records(const hl_audit *audit);
HL_API uint64_t hl_audit_errors(const hl_audit *audit);

/* ------------------------------------------------------------------ */
/* Parallel guardrail                                                  */
/* ------------------------------------------------------------------ */

typedef struct hl_parallel_guard hl_parallel_guard;

/** A C check of the user's input: return true to trip, with *reason a
 *  malloc'd message (or NULL for the guard's default message). Called on
 *  the guard's own thread while the main model call runs. */
typedef bool (*hl_guard_predicate)(const char *input, char **reason, void *user_data);

/**
 * Checks the run's input while the first model call of the run is
 * already on its way: a guard model (a second, usually small model), or
 * a C predicate. When the guard trips, the main call is cancelled
 * (hl_context_cancel() on the run: other runs of the same agent go on)
 * and the
 * run ends with the guard's message as its answer (HL_OK), and a CUSTOM
 * event "parallel_guard_tripped" {reason}. When it passes, the main call
 * was never held up: the run's latency is the longer of the two, not
 * their sum (an answer that arrives first waits for the verdict, so an
 * unsafe input never gets its answer out).
 *
 * Options: {"provider": {"type": "openai", ...}  (as in a config file;
 *                         absent: the running agent's own provider),
 *           "model": "gpt-4o-mini",
 *           "instruction": "...the classifier prompt...",
 *           "trip_on": "UNSAFE",  (the guard model's answer trips when it
 *                                  starts with this, case-insensitive)
 *           "message": "I can't help with that."}
 *   Without "message", the answer is the guard's reason (its text after
 *   trip_on and ':'); with neither, "Blocked by the input guard.".
 */
HL_API hl_parallel_guard *hl_parallel_guard_new(const cJSON *options);
HL_API hl_parallel_guard *hl_parallel_guard_ref(hl_parallel_guard *guard);
HL_API void hl_parallel_guard_unref(hl_parallel_guard *guard);
/** Use `provider` for the guard model (a reference is taken). Configure
 *  before install. */
HL_API hl_status hl_parallel_guard_set_provider(hl_parallel_guard *guard, hl_provider *provider);
/** Use a C predicate instead of a model. Configure before install. */
HL_API hl_status hl_parallel_guard_set_predicate(hl_parallel_guard *guard, hl_guard_predicate fn,
                                                 void *user_data);
/** Installs an around_model hook "parallel_guard" (DECIDE). */
HL_API hl_status hl_parallel_guard_install(hl_parallel_guard *guard, hl_hooks *hooks);
/** Inputs the guard tripped on / passed, so far. */
HL_API uint64_t hl_parallel_guard_tripped(const hl_parallel_guard *guard);
HL_API uint64_t hl_parallel_guard_passed(const hl_parallel_guard *guard);

/* ------------------------------------------------------------------ */
/* Approval                                                            */
/* ------------------------------------------------------------------ */

typedef struct hl_approval hl_approval;

/**
 * Calls of the tools it names need a person's approval, through the
 * engine's interrupt (interrupt.h): its before_tool hook answers
 * HL_HOOK_INTERRUPT, the other calls of the same model response still
 * run, and the run returns HL_INTERRUPTED with the waiting calls (path,
 * id, name, arguments, "interrupted_by": "hook", "hook": "approval",
 * "reason") in its state (hl_run_state_json(), hl_run_state_pending()).
 * hl_agent_resume() then runs each as decided: approve, edit (new
 * arguments) or reject (the model sees the message). A resumed call is
 * not asked about again.
 *
 * Options: {"tools": ["send_email", "delete_*", "db.[!r]*"],
 *           "reason": "a person must confirm this"}
 *   tools   names or glob patterns (fnmatch(3): *, ?, [...]); absent:
 *           every tool. An empty list or a pattern with an unclosed '['
 *           is refused ($.tools[i]: ...).
 *   reason  the reason put in the state (absent: "the tool \"NAME\" needs
 *           approval").
 * NULL with HL_ERR_INVALID (message with the path of the bad value) for
 * bad options. Reference counting and thread-safety as for the other
 * plugins (plugins.h): configure nothing after install; the hook and the
 * accessors are safe from any thread.
 */
HL_API hl_approval *hl_approval_new(const cJSON *options);
HL_API hl_approval *hl_approval_ref(hl_approval *approval);
HL_API void hl_approval_unref(hl_approval *approval);
/** Installs a before_tool hook "approval" (DECIDE). Install it after the
 *  hooks that deny or answer calls (an allowlist, a cache), so that only
 *  calls that would run wait for a person. */
HL_API hl_status hl_approval_install(hl_approval *approval, hl_hooks *hooks);
/** Whether a call of `tool` would wait for approval. Thread-safe. */
HL_API bool hl_approval_matches(const hl_approval *approval, const char *tool);
/** Calls it stopped for approval so far. Thread-safe. */
HL_API uint64_t hl_approval_requested(const hl_approval *approval);

#ifdef __cplusplus
}
#endif
#endif
