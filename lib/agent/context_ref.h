/*
 * context_ref.h - keeping an invocation context alive past its run.
 *
 * For code outside lib/agent that hands a context to work that may outlive
 * the run: a tool call abandoned at its time limit keeps running on a
 * detached thread with the ctx pointer it was given. Retain the context
 * before starting such work and release it when the work is done; in
 * between the pointer stays valid, and once the run has returned every
 * hl_context_* function is a harmless no-op (hl_context_cancelled() says
 * true, state reads give NULL, writes and nested calls HL_ERR_STATE).
 * Both accept NULL. Thread-safe.
 */
#ifndef HL_CONTEXT_REF_H
#define HL_CONTEXT_REF_H

#include "hookline/context.h"

void hl__ctx_retain(hl_context *ctx);
void hl__ctx_release(hl_context *ctx);

#endif
