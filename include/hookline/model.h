/*
 * hookline/model.h - the message model, the model request and response.
 *
 * These are plain data: transparent structs whose fields you may read and,
 * where a hook is allowed to, change. Every pointer inside is owned by the
 * struct that holds it (heap strings, cJSON trees); the *_free() functions
 * free everything below them. To replace a string field, hl_free() the old
 * one and put a malloc'd one (or use the setter). NULL-safe: every *_free()
 * accepts NULL.
 *
 * Versioning: hl_message, hl_request and hl_response are only ever made by
 * the library (hl_message_new(), hl_request_new(), hl_response_new() and
 * their clones and decoders), never declared by value in application code,
 * so fields can be appended to them without breaking compiled callers: a
 * plugin reads and edits the fields it knows of a struct the library
 * allocated at its own size.
 *
 * JSON encoding (hl_*_to_json / hl_*_from_json) is hookline's own neutral
 * format, used for sessions, /save, traces and the scripted provider's
 * script files; it round-trips exactly. Providers translate to their wire
 * formats themselves.
 *
 * Thread-safety: none of these objects is locked. One thread at a time per
 * object; distinct objects may be used from distinct threads.
 */
#ifndef HOOKLINE_MODEL_H
#define HOOKLINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

typedef enum hl_role {
  HL_ROLE_SYSTEM = 0,
  HL_ROLE_USER = 1,
  HL_ROLE_ASSISTANT = 2,
  HL_ROLE_TOOL = 3
} hl_role;

/** "system", "user", "assistant", "tool". */
HL_API const char *hl_role_name(hl_role role);
/** Inverse of hl_role_name(); HL_ERR_INVALID for an unknown name. */
HL_API hl_status hl_role_parse(const char *name, hl_role *out);

typedef enum hl_part_kind {
  HL_PART_TEXT = 0,
  HL_PART_TOOL_CALL = 1,
  HL_PART_TOOL_RESULT = 2,
  /** The model's reasoning, kept in the history because reasoning models
   *  want it back in the next request of a tool loop (OpenAI Responses
   *  reasoning items). Opaque to hookline; only the provider named in
   *  `name` sends it, every other provider leaves it out. */
  HL_PART_REASONING = 3,
  /** An image in a user message: `text` is its URL, an http(s) URL or a
   *  data: URL carrying the bytes in base64 ("data:image/png;base64,...");
   *  `name` is its media type ("image/png"), or NULL when unknown (a plain
   *  URL). Every HTTP provider encodes it in its own wire format; in an
   *  assistant or tool message it is left out. */
  HL_PART_IMAGE = 4
} hl_part_kind;

/** One content part. Which fields are used depends on `kind`. */
typedef struct hl_part {
  hl_part_kind kind;
  char *text;     /**< TEXT: the text. TOOL_RESULT: the result content.
                       REASONING: a readable summary, or NULL.
                       IMAGE: the URL (http(s) or data:). */
  char *id;       /**< TOOL_CALL and TOOL_RESULT: the call id. REASONING:
                       the provider's item id, or NULL. */
  char *name;     /**< TOOL_CALL: tool name. TOOL_RESULT: tool name or NULL.
                       REASONING: the provider that made it, as
                       hl_provider_name() says ("openai-responses").
                       IMAGE: the media type, or NULL. */
  cJSON *args;    /**< TOOL_CALL: the arguments (an object). REASONING: the
                       provider's own JSON of the item, sent back as is
                       (an object), or NULL. */
  bool is_error;  /**< TOOL_RESULT: the tool failed; `text` says why. */
  char *signature; /**< Any kind: an opaque signature the provider gave
                       with this part and wants back verbatim in the next
                       request (Gemini's thoughtSignature on a function
                       call or text part), or NULL. */
} hl_part;

typedef struct hl_message {
  hl_role role;
  size_t n_parts;
  hl_part *parts;
  size_t cap_parts_;   /* private */
} hl_message;

/** New empty message. NULL on allocation failure. Free with hl_message_free(). */
HL_API hl_message *hl_message_new(hl_role role);
/** Convenience: a message with one text part (copied). */
HL_API hl_message *hl_message_new_text(hl_role role, const char *text);
/** Free `msg` and every part (NULL is fine). */
HL_API void hl_message_free(hl_message *msg);
/** Deep copy, the caller's; NULL on allocation failure. */
HL_API hl_message *hl_message_clone(const hl_message *msg);

/** Append a text part; `text` is copied. */
HL_API hl_status hl_message_add_text(hl_message *msg, const char *text);
/** Append a tool call; strings are copied, `args` is deep-copied (NULL
 *  means {}). `args` must be an object: HL_ERR_INVALID otherwise. */
HL_API hl_status hl_message_add_tool_call(hl_message *msg, const char *id,
                                          const char *name, const cJSON *args);
/** Append a tool result; strings are copied; `name` may be NULL. */
HL_API hl_status hl_message_add_tool_result(hl_message *msg, const char *id,
                                            const char *name, const char *content,
                                            bool is_error);
/** Append a reasoning part (HL_PART_REASONING): `provider` (required) is
 *  the provider name that may send it back; `id`, `text` and `signature`
 *  may be NULL; `data` (an object, or NULL) is deep-copied. Strings are
 *  copied. HL_ERR_INVALID when `data` is not an object. */
HL_API hl_status hl_message_add_reasoning(hl_message *msg, const char *provider,
                                          const char *id, const char *text,
                                          const cJSON *data, const char *signature);
/** Append an image by URL (HL_PART_IMAGE): `url` is an http:// or https://
 *  URL, or a data: URL ("data:image/png;base64,..."); `media_type`
 *  ("image/jpeg") may be NULL for an http(s) URL (a data: URL's own type
 *  is used when it is NULL). Both copied. HL_ERR_INVALID for another
 *  scheme or a data: URL that is not base64 with a type. */
HL_API hl_status hl_message_add_image_url(hl_message *msg, const char *url,
                                          const char *media_type);
/** Append an image from its bytes in base64 (standard alphabet, padding
 *  allowed; not decoded, only checked) and its media type ("image/png"),
 *  both required and copied; kept as a data: URL. HL_ERR_INVALID for a
 *  character outside base64 or a media type that is not type/subtype. */
HL_API hl_status hl_message_add_image_base64(hl_message *msg, const char *media_type,
                                             const char *base64);
/** Set (copy) the signature of part `index`; NULL clears it.
 *  HL_ERR_INVALID for an index out of range. */
HL_API hl_status hl_message_set_signature(hl_message *msg, size_t index,
                                          const char *signature);
/** All text parts concatenated, as a new string for hl_free() ("" if none).
 *  NULL on allocation failure. */
HL_API char *hl_message_text(const hl_message *msg);
/** Number of TOOL_CALL parts. */
HL_API size_t hl_message_tool_call_count(const hl_message *msg);

/** {"role":"assistant","content":[{"type":"text","text":"..."},
 *   {"type":"tool_call","id":..,"name":..,"arguments":{..}},
 *   {"type":"tool_result","id":..,"name":..,"content":"..","is_error":false},
 *   {"type":"reasoning","provider":..,"id":..,"text":..,"data":{..}},
 *   {"type":"image","url":"https://..." or "data:...","media_type":..}]}
 *  A part with a signature has "signature":"..." too.
 *  A new tree, the caller's (cJSON_Delete()); NULL on failure. */
HL_API cJSON *hl_message_to_json(const hl_message *msg);
/** Decode hl_message_to_json() output; a clear HL_ERR_JSON message names the
 *  offending field. *out is the caller's. */
HL_API hl_status hl_message_from_json(const cJSON *json, hl_message **out);

/** A growable list of messages that owns its elements. Zero-initialise
 *  (`hl_messages list = {0};`) or embed; release with hl_messages_clear(). */
typedef struct hl_messages {
  size_t count;
  hl_message **items;
  size_t cap_;   /* private */
} hl_messages;

/** Append `msg`; the list takes ownership (also on failure: then it frees msg). */
HL_API hl_status hl_messages_push(hl_messages *list, hl_message *msg);
/** Free every message and the array; the list is empty and reusable. */
HL_API void hl_messages_clear(hl_messages *list);
/** Deep-copy `src` into the empty list `dst`. */
HL_API hl_status hl_messages_copy(hl_messages *dst, const hl_messages *src);
/** JSON array of messages, the caller's (cJSON_Delete()); NULL on failure. */
HL_API cJSON *hl_messages_to_json(const hl_messages *list);
/** Append every message of a JSON array to `list` (all or nothing). */
HL_API hl_status hl_messages_from_json(const cJSON *array, hl_messages *list);

/* ------------------------------------------------------------------ */
/* Tool declarations as the model sees them                            */
/* ------------------------------------------------------------------ */

/** What a model is told about a tool. Owned strings and schema. */
typedef struct hl_tool_decl {
  char *name;
  char *description;
  cJSON *parameters;   /**< JSON Schema of the arguments (an object schema) */
} hl_tool_decl;

/* ------------------------------------------------------------------ */
/* Request                                                             */
/* ------------------------------------------------------------------ */

typedef enum hl_tool_choice {
  HL_TOOL_CHOICE_AUTO = 0,     /**< the model decides (default) */
  HL_TOOL_CHOICE_NONE = 1,     /**< no tool calls */
  HL_TOOL_CHOICE_REQUIRED = 2, /**< at least one tool call */
  HL_TOOL_CHOICE_NAMED = 3     /**< call the tool named in tool_choice_name */
} hl_tool_choice;

/** A model request. Fields marked "unset" are left to the provider's default.
 *  ABI: a request is only ever allocated by the library (hl_request_new(),
 *  hl_request_clone(), hl_request_from_json()); never declare one or use
 *  sizeof(hl_request). New fields are appended at the end, so code that
 *  reads or fills the fields above keeps working. */
typedef struct hl_request {
  char *model;                 /**< model name, or NULL for the provider's default */
  hl_messages messages;        /**< system message (the instruction) first, then history */
  size_t n_tools;
  hl_tool_decl *tools;         /**< tool declarations */
  double temperature;          /**< unset when < 0 */
  int max_tokens;              /**< unset when <= 0 */
  size_t n_stop;
  char **stop;                 /**< stop sequences */
  hl_tool_choice tool_choice;
  char *tool_choice_name;      /**< for HL_TOOL_CHOICE_NAMED */
  char *response_format_name;  /**< name of the JSON Schema response format, or NULL */
  cJSON *response_schema;      /**< JSON Schema the answer must follow, or NULL (plain text) */
  bool stream;                 /**< ask the provider to stream deltas */
} hl_request;

/** New empty request (temperature -1, max_tokens 0). Free with hl_request_free(). */
HL_API hl_request *hl_request_new(void);
/** Free `req` and everything it owns (NULL is fine). */
HL_API void hl_request_free(hl_request *req);
/** Deep copy, the caller's; NULL on allocation failure. */
HL_API hl_request *hl_request_clone(const hl_request *req);
/** Replace the model name (copied; NULL unsets). */
HL_API hl_status hl_request_set_model(hl_request *req, const char *model);
/** Append a tool declaration (strings copied, schema deep-copied). */
HL_API hl_status hl_request_add_tool(hl_request *req, const char *name,
                                     const char *description, const cJSON *parameters);
/** Append a stop sequence (copied). */
HL_API hl_status hl_request_add_stop(hl_request *req, const char *stop);
/** Set a JSON Schema response format (copied; NULL schema clears it). */
HL_API hl_status hl_request_set_response_schema(hl_request *req, const char *name,
                                                const cJSON *schema);
/** hookline's neutral JSON of `req`: a new tree, the caller's; NULL on failure. */
HL_API cJSON *hl_request_to_json(const hl_request *req);
/** Decode hl_request_to_json() output into a new request (*out, the
 *  caller's); HL_ERR_JSON names the offending field, *out stays NULL. */
HL_API hl_status hl_request_from_json(const cJSON *json, hl_request **out);

/* ------------------------------------------------------------------ */
/* Response                                                            */
/* ------------------------------------------------------------------ */

typedef enum hl_finish_reason {
  HL_FINISH_UNKNOWN = 0,
  HL_FINISH_STOP = 1,          /**< natural end of the answer */
  HL_FINISH_TOOL_CALLS = 2,    /**< the model asks for tool calls */
  HL_FINISH_LENGTH = 3,        /**< max tokens reached */
  HL_FINISH_CONTENT_FILTER = 4,
  HL_FINISH_ERROR = 5
} hl_finish_reason;

/** "stop", "tool_calls", "length", "content_filter", "error", "unknown". */
HL_API const char *hl_finish_reason_name(hl_finish_reason reason);
/** Inverse of hl_finish_reason_name(); HL_FINISH_UNKNOWN for NULL or an
 *  unknown name. */
HL_API hl_finish_reason hl_finish_reason_parse(const char *name);

/** Token usage and optional cost of one or more model calls. A count is a
 *  whole number from 0 to 2^53 (what a JSON number carries exactly);
 *  hl_response_from_json() refuses others. The HTTP providers ignore a
 *  count their server sends outside that range (negative, fractional,
 *  1e300) as if it were absent, so such a response still arrives and
 *  still survives a JSON round trip.
 *
 *  ABI: users declare it by value (`hl_usage acc = {0}`, designated
 *  initialisers), hl_agent_last_usage() returns it by value and
 *  hl_response embeds it, so its size never changes: a new counter takes
 *  one of the reserved_ slots (renamed, at the same offset), which code
 *  built against an older header leaves at zero and ignores. Leave
 *  reserved_ zero; the library neither reads nor writes it. */
typedef struct hl_usage {
  int64_t input_tokens;
  int64_t output_tokens;
  double cost;       /**< in USD; meaningful only when has_cost */
  bool has_cost;
  int64_t cached_tokens;    /**< of input_tokens, read from the provider's prompt cache */
  int64_t reasoning_tokens; /**< of output_tokens, spent on hidden reasoning */
  int64_t cache_creation_tokens; /**< of input_tokens, written to the provider's prompt
                                      cache (Anthropic's cache_creation_input_tokens) */
  int64_t reserved_[3];     /* private: zero; see above */
} hl_usage;

/** acc += add (cost is summed when either has one). */
HL_API void hl_usage_add(hl_usage *acc, const hl_usage *add);

/** A model response. ABI: allocated only by the library (hl_response_new(),
 *  hl_response_new_text(), ...), like hl_request; fields are appended at
 *  the end. */
typedef struct hl_response {
  hl_message *message;         /**< the assistant message (never NULL in a valid response) */
  hl_finish_reason finish;
  hl_usage usage;
  char *model;                 /**< model that answered, or NULL */
  char *id;                    /**< provider's response id, or NULL */
} hl_response;

/** New response with an empty assistant message, the caller's
 *  (hl_response_free()); NULL on allocation failure. */
HL_API hl_response *hl_response_new(void);
/** New response whose assistant message is one text part (copied);
 *  finish = STOP. */
HL_API hl_response *hl_response_new_text(const char *text);
/** Free `resp`, its message and strings (NULL is fine). */
HL_API void hl_response_free(hl_response *resp);
/** Deep copy, the caller's; NULL on allocation failure. */
HL_API hl_response *hl_response_clone(const hl_response *resp);
/** hookline's neutral JSON of `resp`: a new tree, the caller's; NULL on failure. */
HL_API cJSON *hl_response_to_json(const hl_response *resp);
/** Decode hl_response_to_json() output into a new response (*out, the
 *  caller's); HL_ERR_JSON names the offending field, *out stays NULL. */
HL_API hl_status hl_response_from_json(const cJSON *json, hl_response **out);

#ifdef __cplusplus
}
#endif
#endif
