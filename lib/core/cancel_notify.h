/*
 * core/cancel_notify.h - how a waiter that never polls (the HTTP event
 * loop) learns that some run was cancelled, so that it looks at the runs
 * it serves at once instead of on a timer.
 *
 * There is one cancellation mechanism: hl_agent_cancel() and
 * hl_run_cancel() make the cancellation visible to hl_context_cancelled(),
 * then announce it once (hl__ctx_notify_cancel, lib/agent/context_cancel.c),
 * which calls the hl_context_on_cancel() registrations of the cancelled
 * runs and then hl__cancel_announce(). The listener lives here, in core,
 * because the waiter (lib/net/) sits below the agent layer that
 * cancels: both meet in this file, neither knows the other.
 */
#ifndef HL_CORE_CANCEL_NOTIFY_H
#define HL_CORE_CANCEL_NOTIFY_H

/* The listener (one per process, set by the engine when it starts) must
 * be cheap and thread-safe: it only schedules a look, since it cannot tell
 * which runs were cancelled. */
typedef void (*hl__cancel_listener)(void);

/* Install the process's listener (replaces any earlier one). Thread-safe. */
void hl__cancel_listen(hl__cancel_listener fn);

/* Call the listener, if one is installed: some run was cancelled. Any
 * thread; the cancellation must already be visible to
 * hl_context_cancelled(). */
void hl__cancel_announce(void);

#endif
