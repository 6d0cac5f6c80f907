/*
 * message_write.h - a message's JSON (model.h's neutral encoding, the
 * text hl_message_to_json() and the printer give) written straight into
 * a buffer, without a cJSON tree: the session store writes every message
 * of every turn this way (lib/agent/session_events.c).
 */
#ifndef HL_CORE_MESSAGE_WRITE_H
#define HL_CORE_MESSAGE_WRITE_H

#include "hookline/model.h"
#include "core/util.h"

/* Append `msg` as JSON to `b`. HL_OK; HL_ERR_INVALID (message set) for a
 * part of unknown kind or JSON in a part (tool call arguments, reasoning
 * data) nested deeper than `max_depth` levels; HL_ERR_NOMEM when the
 * buffer could not grow. On failure `b` holds a partial text: the caller
 * cuts it back. */
hl_status hl__message_write_json(hl__jbuf *b, const hl_message *msg, int max_depth);

#endif
