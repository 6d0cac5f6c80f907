/*
 * core/cancel_notify.h - tells a waiter that never polls (the HTTP event
 * loop) that some run was cancelled, so that it can look at the runs it
 * serves at once instead of on a timer.
 *
 * hl_agent_cancel() bumps the agent's generation, then calls
 * hl__cancel_notify(); the listener (one per process, set by the engine
 * when it starts) must be cheap and thread-safe: it only schedules a look.
 */
#ifndef HL_CORE_CANCEL_NOTIFY_H
#define HL_CORE_CANCEL_NOTIFY_H

typedef void (*hl__cancel_listener)(void);

/* Install the process's listener (replaces any earlier one). Thread-safe. */
void hl__cancel_listen(hl__cancel_listener fn);
/* Call the listener, if any. Thread-safe; call after the cancellation is
 * visible to hl_context_cancelled(). */
void hl__cancel_notify(void);

#endif
