/*
 * lib/core/model_internal.h - helpers of the message model shared inside
 * the library: JSON decoding for message.c, request.c and response.c
 * (`where` names the position in the document for error messages,
 * "request.messages[3].content[0]"), and a message's size in text.
 */
#ifndef HL_CORE_MODEL_INTERNAL_H
#define HL_CORE_MODEL_INTERNAL_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "hookline/model.h"
#include "hookline/tool.h"

/* obj[key] = s; nothing when s is NULL. false on allocation failure. */
bool hl__json_add_str(cJSON *obj, const char *key, const char *s);
/* Optional string field: *out = NULL when absent or null; HL_ERR_JSON when
 * present with another type. *out is borrowed from obj. */
hl_status hl__json_opt_str(const cJSON *obj, const char *key, const char *where, const char **out);
/* Like hl__json_opt_str but absence is an HL_ERR_JSON error. */
hl_status hl__json_req_str(const cJSON *obj, const char *key, const char *where, const char **out);

/* hl_message_add_tool_call() taking `args` (a parsed object the caller
 * no longer needs: a provider's decoded call) instead of copying it;
 * `args` is the message's on success and freed on failure. Saves a deep
 * copy and its frees per tool call decoded (issue 12, CPU per session). */
hl_status hl__message_add_tool_call_take(hl_message *msg, const char *id, const char *name,
                                         cJSON *args);

/* hl_message_add_tool_result() taking `content` (malloc'd, the text a
 * tool call's outcome became) instead of copying it: the message's on
 * success, freed on failure. One copy and free less per tool result
 * (issue 12). */
hl_status hl__message_add_tool_result_take(hl_message *msg, const char *id, const char *name,
                                           char *content, bool is_error);

/* The bytes of text in `msg`: strlen() of every part's `text`, whatever
 * the part's kind (a tool result's content, an image's URL). What the
 * prompt estimate of LM_START counts (run.c), and what a session keeps
 * the sum of for its history (session.c), so that the estimate does not
 * walk the history at every model call. */
size_t hl__message_text_bytes(const hl_message *msg);

hl_status hl__message_from_json_at(const cJSON *json, hl_message **out, const char *where);
hl_status hl__messages_from_json_at(const cJSON *array, hl_messages *list, const char *where);

/* A request whose tool declarations are those of `tools`, index for
 * index, borrowed (the agent loop's, lib/agent/run.c): a wire that writes
 * JSON text may then copy each tool's schema as the tool printed it
 * (hl__tool_schema_text) instead of printing it again per model call
 * (issue 12). `tools` must outlive the request. */
void hl__request_borrow_tools(hl_request *req, const hl_tools *tools);
/* The printed schema of req->tools[i] (length in *len), or NULL: print
 * req->tools[i].parameters then. Text only while that declaration still
 * points at its tool's own schema. */
const char *hl__request_tool_schema_text(const hl_request *req, size_t i, size_t *len);

#endif
