/*
 * hookline/scripted.h - the deterministic scripted provider.
 *
 * For tests, examples and the offline demo. It answers from a queue of
 * responses given in C or as JSON, in order, and records every request it
 * receives (a deep copy) so that tests can assert what the model saw:
 * the instruction, the mutated tool arguments, the tool results.
 *
 * Rules answer by content instead of by order: a rule matches the last
 * user message with a POSIX extended regular expression (case-insensitive)
 * and then plays its own list of steps, one per model call, until the run
 * ends. In a step's text and in string values of its tool-call arguments,
 * "$1".."$9" are the regex's capture groups, "{{input}}" the user message
 * and "{{result}}" the content of the last tool result in the request.
 *
 * JSON script format (hl_scripted_load_json):
 *   {"responses": [ STEP, ... ],
 *    "rules": [ {"match": "regex", "steps": [ STEP, ... ]}, ... ],
 *    "fallback": STEP}
 *   STEP = {"text": "...", "tool_calls": [{"id": "c1", "name": "t",
 *           "arguments": {...}}], "usage": {"input_tokens": 1,
 *           "output_tokens": 2}, "delay_ms": 0}
 * Queued responses are used first; then rules; then the fallback; with
 * none left the call fails with HL_ERR_PROVIDER ("script exhausted").
 *
 * When req->stream is set, text is emitted as deltas word by word.
 * A delay (per step or global) waits in small slices and honours
 * cancellation (HL_ERR_CANCELLED).
 *
 * Thread-safety: all functions are locked; the provider may serve several
 * agents and threads at once (queue order is then first come, first served).
 */
#ifndef HOOKLINE_SCRIPTED_H
#define HOOKLINE_SCRIPTED_H

#include <stddef.h>
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/** New scripted provider with an empty script. One reference, the caller's. */
HL_API hl_provider *hl_scripted_new(void);
/** Queue a response; the provider takes ownership (also on failure). */
HL_API hl_status hl_scripted_push(hl_provider *scripted, hl_response *response);
/** Queue a text answer. */
HL_API hl_status hl_scripted_push_text(hl_provider *scripted, const char *text);
/** Queue a response with one tool call; `args_json` is JSON object text. */
HL_API hl_status hl_scripted_push_tool_call(hl_provider *scripted, const char *id,
                                            const char *name, const char *args_json);
/** Load a script (format above) from JSON text; adds to what is there.
 *  HL_ERR_JSON with the field's path on a bad script, nothing added. */
HL_API hl_status hl_scripted_load_json(hl_provider *scripted, const char *json_text);
/** Same from a file. HL_ERR_IO if it cannot be read. */
HL_API hl_status hl_scripted_load_file(hl_provider *scripted, const char *path);
/** Delay before every answer, in milliseconds (0 = none). */
HL_API void hl_scripted_set_delay_ms(hl_provider *scripted, unsigned delay_ms);

/** Number of requests received so far. */
HL_API size_t hl_scripted_request_count(hl_provider *scripted);
/** Copy of the i-th request received (caller frees), NULL past the end. */
HL_API hl_request *hl_scripted_request(hl_provider *scripted, size_t i);
/** Number of queued responses not yet used. */
HL_API size_t hl_scripted_remaining(hl_provider *scripted);

#ifdef __cplusplus
}
#endif
#endif
