/*
 * gemini.c - the Google Gemini generateContent wire format (see gemini.h).
 *
 * Gemini answers with candidates whose content is a list of parts: text,
 * thought summaries, function calls, each of which may carry a thought
 * signature that must come back on the same part in the next request.
 * Parts map one to one onto the assistant message's parts (signature
 * included), so the agent's history is all the state a tool loop needs.
 * A stream is a series of partial answers; its text fragments are joined
 * into parts and the result is decoded by the function that decodes a
 * whole body, which keeps the two paths equal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/gemini.h"
#include "hookline/json.h"
#include "core/image.h"
#include "core/model_internal.h"
#include "core/util.h"
#include "providers/llm.h"

/* An array, not a literal: its address identifies our providers. */
static const char gemini_name[] = "gemini";

/* Ids we make up for function calls the API gave none; not sent back. */
#define GM_GEN_ID "gemini-call-"

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static hl_status oom(void) { return hl_fail(HL_ERR_NOMEM, "gemini: out of memory encoding the request"); }

static hl_status make_path(const hl__llm *l, const char *model, bool stream, char *buf,
                           size_t size) {
  if (!strncmp(model, "models/", 7)) model += 7;
  size_t n = strlen(model);
  bool ok = n > 0 && n < size - 48;
  for (const char *c = model; ok && *c; c++)
    ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
         *c == '-' || *c == '.' || *c == '_';
  if (!ok) {
    char q[80];
    hl__quote(q, sizeof q, model);
    return hl_fail(HL_ERR_INVALID, "%s: model name %s is not usable in a URL", l->name, q);
  }
  snprintf(buf, size, "/models/%s:%s", model,
           stream ? "streamGenerateContent?alt=sse" : "generateContent");
  return HL_OK;
}

/* The name of the call `id` answers: the part's own, else the call's. */
static const char *result_name(const hl_request *req, const hl_part *p) {
  if (p->name && *p->name) return p->name;
  for (size_t i = req->messages.count; i-- > 0;) {
    const hl_message *m = req->messages.items[i];
    for (size_t k = 0; m && k < m->n_parts; k++)
      if (m->parts[k].kind == HL_PART_TOOL_CALL && m->parts[k].id && p->id &&
          !strcmp(m->parts[k].id, p->id))
        return m->parts[k].name;
  }
  return NULL;
}

/*
 * The payload is written straight into one buffer, key for key what the
 * cJSON tree it replaced printed (hl__json_print_exact(); the tests
 * compare the two texts): building, printing and freeing the tree was
 * ~317 k instructions per request at 20 tool results, writing it ~58 k
 * (callgrind). The
 * tree an API_REQUEST observer gets is parsed back from this text, only
 * when one listens (llm.c).
 */

/* "id": of a call or its result, unless it has none or we made it up. */
static void write_id(hl__jbuf *b, const char *id) {
  if (!id || !*id || !strncmp(id, GM_GEN_ID, sizeof GM_GEN_ID - 1)) return;
  hl__llm_lit(b, "\"id\":");
  hl__jbuf_string(b, id);
  hl__llm_lit(b, ",");
}

/* functionResponse.response must be an object: the result's own JSON
 * object, else the text under "result" (or "error" for a failed tool). */
static void write_response_object(hl__jbuf *b, const hl_part *p) {
  const char *text = p->text ? p->text : "";
  /* Only a text starting with '{' can be an object: most results are
   * plain text, and parsing each to fail (its error message formatted)
   * was an eighth of the encoding's instructions in a tool loop. */
  size_t lead = strspn(text, " \t\r\n");
  if (!p->is_error && text[lead] == '{') {
    cJSON *o = NULL;
    bool object = hl_json_parse(text, strlen(text), &o) == HL_OK && cJSON_IsObject(o);
    if (object) hl__jbuf_value(b, o);
    cJSON_Delete(o);
    if (object) return;
    hl_clear_error();
  }
  hl__llm_lit(b, p->is_error ? "{\"error\":" : "{\"result\":");
  hl__jbuf_string(b, text);
  hl__llm_lit(b, "}");
}

/* Does `p` become a part on this side of the conversation (`model`: the
 * model's side)? Not another provider's reasoning, nor an empty text
 * without a signature. */
static bool part_wanted(const hl_part *p, bool model) {
  switch (p->kind) {
  case HL_PART_REASONING:
    return model && p->name && !strcmp(p->name, gemini_name) && p->args;
  case HL_PART_TEXT:
    return (p->text && *p->text) || p->signature;
  case HL_PART_TOOL_CALL:
    return model;
  case HL_PART_TOOL_RESULT:
  case HL_PART_IMAGE:
    return !model;
  }
  return false;
}

/* The wire part for `p` (part_wanted()). */
static hl_status write_part(hl__jbuf *b, const hl_request *req, const hl_part *p) {
  if (p->kind == HL_PART_REASONING) {
    hl__jbuf_value(b, p->args); /* back as it came */
    return HL_OK;
  }
  if (p->kind == HL_PART_TEXT) {
    hl__llm_lit(b, "{\"text\":");
    hl__jbuf_string(b, p->text);
  } else if (p->kind == HL_PART_TOOL_CALL) {
    hl__llm_lit(b, "{\"functionCall\":{");
    write_id(b, p->id);
    hl__llm_lit(b, "\"name\":");
    hl__jbuf_string(b, p->name);
    hl__llm_lit(b, ",\"args\":");
    if (p->args) hl__jbuf_value(b, p->args);
    else hl__llm_lit(b, "{}");
    hl__llm_lit(b, "}");
  } else if (p->kind == HL_PART_IMAGE) {
    /* The bytes inline (a data: URL), else the URL by reference. */
    const char *type, *data;
    size_t type_len;
    bool inl = p->text && hl__image_data_url(p->text, &type, &type_len, &data);
    hl__llm_lit(b, inl ? "{\"inlineData\":{" : "{\"fileData\":{");
    if (p->name) {
      hl__llm_lit(b, "\"mimeType\":");
      hl__jbuf_string(b, p->name);
      hl__llm_lit(b, ",");
    }
    hl__llm_lit(b, inl ? "\"data\":" : "\"fileUri\":");
    hl__jbuf_string(b, inl ? data : p->text);
    hl__llm_lit(b, "}");
  } else {
    const char *name = result_name(req, p);
    if (!name)
      return hl_fail(HL_ERR_INVALID,
                     "gemini: tool result %s names no tool and answers no call in the history",
                     p->id ? p->id : "(no id)");
    hl__llm_lit(b, "{\"functionResponse\":{");
    write_id(b, p->id);
    hl__llm_lit(b, "\"name\":");
    hl__jbuf_string(b, name);
    hl__llm_lit(b, ",\"response\":");
    write_response_object(b, p);
    hl__llm_lit(b, "}");
  }
  if (p->signature) {
    hl__llm_lit(b, ",\"thoughtSignature\":");
    hl__jbuf_string(b, p->signature);
  }
  hl__llm_lit(b, "}");
  return HL_OK;
}

/* The parts of `m`, a user turn's function responses first, after those
 * of the content open (of role *open, NULL when none) if it has the same
 * role, else in a new content. */
static hl_status write_message(hl__jbuf *b, const hl_request *req, const hl_message *m,
                               const char **open) {
  bool model = m->role == HL_ROLE_ASSISTANT;
  const char *role = model ? "model" : "user";
  bool any = false;
  for (size_t i = 0; i < m->n_parts && !any; i++) any = part_wanted(&m->parts[i], model);
  if (!any) return HL_OK;
  if (*open == role) {
    hl__llm_lit(b, ",");
  } else {
    hl__llm_lit(b, *open ? "]},{\"role\":\"" : "{\"role\":\"");
    hl__llm_lit(b, role);
    hl__llm_lit(b, "\",\"parts\":[");
    *open = role;
  }
  bool first = true;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < m->n_parts; i++) {
      const hl_part *p = &m->parts[i];
      if ((pass == 0) != (p->kind == HL_PART_TOOL_RESULT) || !part_wanted(p, model)) continue;
      if (!first) hl__llm_lit(b, ",");
      first = false;
      hl_status st = write_part(b, req, p);
      if (st != HL_OK) return st;
    }
  return HL_OK;
}

/* A tool's parameters go as `parametersJsonSchema`, not `parameters`:
 * the latter takes only Gemini's OpenAPI 3.0 subset and refuses the whole
 * request at a keyword outside it ($schema, $defs, $ref, anyOf's siblings,
 * additionalProperties on older models), while tools from MCP servers
 * carry JSON Schema 2020-12 as the server wrote it (MCP 2026-07-28,
 * SEP-2106). The two fields are mutually exclusive; the response side
 * already uses responseJsonSchema. */
static hl_status write_tools(hl__jbuf *b, const hl_request *req) {
  if (req->tool_choice == HL_TOOL_CHOICE_NAMED && (!req->tool_choice_name || !*req->tool_choice_name))
    return hl_fail(HL_ERR_INVALID, "gemini: tool choice NAMED without a tool name");
  hl__llm_lit(b, ",\"tools\":[{\"functionDeclarations\":[");
  for (size_t i = 0; i < req->n_tools; i++) {
    const hl_tool_decl *d = &req->tools[i];
    /* A tool's own schema, borrowed by the agent loop, as it printed it. */
    size_t n = 0;
    const char *text = hl__request_tool_schema_text(req, i, &n);
    hl__llm_lit(b, i ? ",{" : "{");
    hl__llm_write_decl(b, d->name, d->description, ",\"parametersJsonSchema\":", text, n,
                       d->parameters);
    hl__llm_lit(b, "}");
  }
  hl__llm_lit(b, "]}]");
  if (req->tool_choice == HL_TOOL_CHOICE_AUTO) return HL_OK;
  hl__llm_lit(b, req->tool_choice == HL_TOOL_CHOICE_NONE
                     ? ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"NONE\""
                     : ",\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\"");
  if (req->tool_choice == HL_TOOL_CHOICE_NAMED) {
    hl__llm_lit(b, ",\"allowedFunctionNames\":[");
    hl__jbuf_string(b, req->tool_choice_name);
    hl__llm_lit(b, "]");
  }
  hl__llm_lit(b, "}}");
  return HL_OK;
}

/* "generationConfig", when the request or the provider sets any of it;
 * each field starts with a comma, the first one's becomes the brace. */
static void write_generation(const hl__llm *l, hl__jbuf *b, const hl_request *req) {
  size_t start = b->len;
  if (req->temperature >= 0) {
    hl__llm_lit(b, ",\"temperature\":");
    hl__llm_number(b, req->temperature);
  }
  if (req->max_tokens > 0) {
    hl__llm_lit(b, ",\"maxOutputTokens\":");
    hl__llm_number(b, req->max_tokens);
  }
  for (size_t i = 0; i < req->n_stop; i++) {
    hl__llm_lit(b, i ? "," : ",\"stopSequences\":[");
    hl__jbuf_string(b, req->stop[i]);
  }
  if (req->n_stop > 0) hl__llm_lit(b, "]");
  if (req->response_schema) {
    hl__llm_lit(b, ",\"responseMimeType\":\"application/json\",\"responseJsonSchema\":");
    hl__jbuf_value(b, req->response_schema);
  }
  const cJSON *thinking = hl_json_get(l->options, "thinkingConfig");
  if (thinking) {
    hl__llm_lit(b, ",\"thinkingConfig\":");
    hl__jbuf_value(b, thinking);
  }
  if (b->len == start || b->failed) return;
  /* ,"temperature":... -> ,"generationConfig":{"temperature":...} */
  static const char head[] = ",\"generationConfig\":{";
  size_t n = b->len - start - 1, hl = sizeof head - 1;
  hl__jbuf_reserve(b, hl);
  if (b->failed) return;
  memmove(b->p + start + hl, b->p + start + 1, n);
  memcpy(b->p + start, head, hl);
  b->len = start + hl + n;
  b->p[b->len] = '\0';
  hl__llm_lit(b, "}");
}

static hl_status write_request(const hl__llm *l, const hl_request *req, const char *model,
                               hl__jbuf *b) {
  (void)model; /* it travels in the URL (make_path) */
  hl_status st = HL_OK;
  hl__llm_lit(b, "{\"contents\":[");
  const char *open = NULL;
  for (size_t i = 0; st == HL_OK && i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    if (m && m->role != HL_ROLE_SYSTEM) st = write_message(b, req, m, &open);
  }
  if (open) hl__llm_lit(b, "]}");
  hl__llm_lit(b, "]");
  /* systemInstruction: {"parts": [{"text": ...}, ...]} */
  bool system = false;
  for (size_t i = 0; st == HL_OK && i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    for (size_t k = 0; m && m->role == HL_ROLE_SYSTEM && k < m->n_parts; k++) {
      const hl_part *p = &m->parts[k];
      if (p->kind != HL_PART_TEXT || !p->text || !*p->text) continue;
      hl__llm_lit(b, system ? ",{\"text\":" : ",\"systemInstruction\":{\"parts\":[{\"text\":");
      hl__jbuf_string(b, p->text);
      hl__llm_lit(b, "}");
      system = true;
    }
  }
  if (system) hl__llm_lit(b, "]}");
  if (st == HL_OK && req->n_tools > 0) st = write_tools(b, req);
  if (st == HL_OK) write_generation(l, b, req);
  hl__llm_lit(b, "}");
  if (st == HL_OK && b->failed) st = oom();
  return st;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

/* The published FinishReason values. *blocked: the reason is not an
 * answer's normal end (every one but STOP and MAX_TOKENS, including OTHER
 * and values published later), so a candidate ending so with no part is
 * an error, not an empty answer. */
static hl_finish_reason finish_of(const char *s, bool *blocked) {
  static const char *const filters[] = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT",
                                        "SPII", "IMAGE_SAFETY", "LANGUAGE",
                                        "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"};
  static const char *const errors[] = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL",
                                       "TOO_MANY_TOOL_CALLS", "MALFORMED_RESPONSE",
                                       "MISSING_THOUGHT_SIGNATURE"};
  *blocked = false;
  if (!s) return HL_FINISH_UNKNOWN;
  if (!strcmp(s, "STOP")) return HL_FINISH_STOP;
  if (!strcmp(s, "MAX_TOKENS")) return HL_FINISH_LENGTH;
  *blocked = true;
  for (size_t i = 0; i < sizeof filters / sizeof *filters; i++)
    if (!strcmp(s, filters[i])) return HL_FINISH_CONTENT_FILTER;
  for (size_t i = 0; i < sizeof errors / sizeof *errors; i++)
    if (!strcmp(s, errors[i])) return HL_FINISH_ERROR;
  return HL_FINISH_UNKNOWN; /* OTHER, IMAGE_OTHER, NO_IMAGE, FINISH_REASON_UNSPECIFIED, later ones */
}

static void usage_of(const cJSON *u, hl_usage *out) {
  if (!cJSON_IsObject(u)) return;
  int64_t prompt = 0, tool_prompt = 0, cand = 0, thoughts = 0;
  hl__llm_token_count(u, "promptTokenCount", &prompt);
  hl__llm_token_count(u, "toolUsePromptTokenCount", &tool_prompt);
  hl__llm_token_count(u, "candidatesTokenCount", &cand);
  hl__llm_token_count(u, "thoughtsTokenCount", &thoughts);
  hl__llm_token_count(u, "cachedContentTokenCount", &out->cached_tokens);
  out->input_tokens = prompt + tool_prompt;
  out->output_tokens = cand + thoughts;
  out->reasoning_tokens = thoughts;
}

static hl_status body_error(const cJSON *j, const char *where) {
  const cJSON *err = hl_json_get(j, "error");
  if (!err || cJSON_IsNull(err)) return HL_OK;
  const char *m = cJSON_IsString(err) ? err->valuestring : hl_json_get_string(err, "message");
  const char *status = hl_json_get_string(err, "status");
  return hl_fail(HL_ERR_PROVIDER, "gemini: the server reported an error%s: %s%s%s%s", where,
                 m ? m : "(no message)", status ? " (" : "", status ? status : "", status ? ")" : "");
}

/* The candidate with index 0 (a missing index is 0); in a whole body
 * the first one when none has index 0. A stream's chunk may carry only
 * other candidates: then none. */
static const cJSON *candidate_of(const cJSON *j, bool whole) {
  const cJSON *c, *cands = hl_json_get(j, "candidates");
  cJSON_ArrayForEach(c, cands)
    if (hl_json_get_number(c, "index", 0) == 0) return c;
  return whole ? cJSON_GetArrayItem(cands, 0) : NULL;
}

static hl_status add_part(const hl__llm *l, hl_message *m, const cJSON *p, size_t *calls) {
  const char *sig = hl_json_get_string(p, "thoughtSignature");
  const char *text = hl_json_get_string(p, "text");
  const cJSON *fc = hl_json_get(p, "functionCall");
  hl_status st = HL_OK;
  if (text && cJSON_IsTrue(hl_json_get(p, "thought")))
    return hl_message_add_reasoning(m, gemini_name, NULL, text, p, NULL);
  if (text) {
    if (!*text && !sig) return HL_OK;
    st = hl_message_add_text(m, text);
  } else if (cJSON_IsObject(fc)) {
    const char *name = hl_json_get_string(fc, "name");
    const char *id = hl_json_get_string(fc, "id");
    char gen_id[40];
    if (!id || !*id) {
      snprintf(gen_id, sizeof gen_id, GM_GEN_ID "%zu", *calls);
      id = gen_id;
    }
    if (!name || !*name)
      return hl_fail(HL_ERR_PROVIDER, "gemini: function call %zu has no name", *calls);
    const cJSON *a = hl_json_get(fc, "args");
    cJSON *args = NULL;
    if (cJSON_IsString(a)) /* a proxy's JSON text */
      st = hl__llm_parse_args(l, a->valuestring, strlen(a->valuestring), name, id, &args);
    else if (a && !cJSON_IsNull(a) && !cJSON_IsObject(a))
      st = hl_fail(HL_ERR_PROVIDER, "gemini: args of function call \"%s\" are not a JSON object", name);
    if (st == HL_OK) st = hl_message_add_tool_call(m, id, name, args ? args : cJSON_IsObject(a) ? a : NULL);
    cJSON_Delete(args);
    (*calls)++;
  } else if (sig) {
    /* A part we have no kind for, with a signature: it goes back as it
     * came, in its place. */
    return hl_message_add_reasoning(m, gemini_name, NULL, NULL, p, NULL);
  } else {
    return HL_OK; /* inlineData, executableCode, ...: not part of the answer */
  }
  if (st == HL_OK && sig) st = hl_message_set_signature(m, m->n_parts - 1, sig);
  return st;
}

static hl_status decode_body(const hl__llm *l, const cJSON *j, hl_response **out) {
  *out = NULL;
  hl_status st = body_error(j, "");
  if (st != HL_OK) return st;
  const cJSON *cand = candidate_of(j, true);
  const char *block = hl_json_get_string(hl_json_get(j, "promptFeedback"), "blockReason");
  if (!cand)
    return block ? hl_fail(HL_ERR_PROVIDER, "gemini: the prompt was blocked (blockReason %s)", block)
                 : hl_fail(HL_ERR_PROVIDER, "gemini: response has no candidates");
  hl_response *r = hl_response_new();
  if (!r) return hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
  size_t calls = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, hl_json_get(hl_json_get(cand, "content"), "parts")) {
    if ((st = add_part(l, r->message, p, &calls)) != HL_OK) break;
  }
  const char *fr = hl_json_get_string(cand, "finishReason");
  bool blocked;
  r->finish = finish_of(fr, &blocked);
  /* STOP with no text or call (no content, no parts, empty text, only
   * thoughts) is how the API reports some blocked or failed generations
   * (the finishReason documentation's streamed SAFETY note; models that
   * stop after thinking alone): no answer either, like a filtered one.
   * MAX_TOKENS with none stays an empty answer whose finish says why. */
  if (st == HL_OK && (blocked || r->finish == HL_FINISH_STOP) && !hl__llm_has_answer(r->message)) {
    const char *why = hl_json_get_string(cand, "finishMessage");
    st = hl_fail(HL_ERR_PROVIDER, "gemini: no answer (finishReason %s%s)%s%s", fr,
                 blocked ? "" : ", with no text or call", why ? ": " : "", why ? why : "");
  }
  if (r->finish == HL_FINISH_STOP && calls) r->finish = HL_FINISH_TOOL_CALLS;
  const char *id = hl_json_get_string(j, "responseId");
  const char *model = hl_json_get_string(j, "modelVersion");
  if (st == HL_OK && ((id && hl__llm_strdup(id, &r->id)) || (model && hl__llm_strdup(model, &r->model))))
    st = HL_ERR_NOMEM;
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  usage_of(hl_json_get(j, "usageMetadata"), &r->usage);
  *out = r;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming                                                           */
/* ------------------------------------------------------------------ */

typedef struct gm_stream {
  hl__llm_stream base;  /* l, ctx, the response being built, events */
  cJSON *parts;         /* closed parts of candidate 0, in order */
  hl__buf text;         /* the open text part, joined from fragments */
  bool open, open_thought;
  size_t calls;         /* function calls seen, for model_chunk's index */
  char *open_sig;       /* its signature once one came */
  cJSON *last;          /* the last chunk, less its candidates: usage, ids */
  char *finish, *finish_msg;
} gm_stream;

static void stream_free(hl__llm_stream *base) {
  gm_stream *s = (gm_stream *)base;
  cJSON_Delete(s->parts);
  hl__buf_free(&s->text);
  free(s->open_sig);
  cJSON_Delete(s->last);
  free(s->finish);
  free(s->finish_msg);
}

/* Close the open text part into s->parts. */
static hl_status close_text(gm_stream *s) {
  if (!s->open) return HL_OK;
  s->open = false;
  cJSON *p = cJSON_CreateObject();
  bool ok = hl__llm_push(s->parts, p) && cJSON_AddStringToObject(p, "text", s->text.p ? s->text.p : "") &&
            (!s->open_thought || cJSON_AddTrueToObject(p, "thought")) &&
            (!s->open_sig || cJSON_AddStringToObject(p, "thoughtSignature", s->open_sig));
  s->text.len = 0;
  free(s->open_sig);
  s->open_sig = NULL;
  return ok ? HL_OK : hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
}

static hl_status on_part(gm_stream *s, const cJSON *p) {
  const char *text = hl_json_get_string(p, "text");
  const char *sig = hl_json_get_string(p, "thoughtSignature");
  if (!text) {
    hl_status st = close_text(s);
    if (st == HL_OK && !hl__llm_push(s->parts, cJSON_Duplicate(p, 1)))
      st = hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
    /* A function call comes whole: its arguments are one tool delta. */
    const cJSON *fc = hl_json_get(p, "functionCall");
    if (st == HL_OK && cJSON_IsObject(fc) && s->base.ctx) {
      const cJSON *a = hl_json_get(fc, "args");
      char *json = a && !cJSON_IsString(a) ? hl__json_print_exact(a) : NULL;
      const char *args = cJSON_IsString(a) ? a->valuestring : a ? json : "{}";
      if (!args) st = hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
      else st = hl_context_emit_tool_delta(s->base.ctx, s->calls, hl_json_get_string(fc, "id"),
                                           hl_json_get_string(fc, "name"), args);
      free(json);
    }
    if (cJSON_IsObject(fc)) s->calls++;
    return st;
  }
  bool thought = cJSON_IsTrue(hl_json_get(p, "thought"));
  /* A fragment continues the open part unless the kind changes or the
   * open part already got its signature (which ends a part). */
  if (s->open && (s->open_thought != thought || s->open_sig)) {
    hl_status st = close_text(s);
    if (st != HL_OK) return st;
  }
  s->open = true;
  s->open_thought = thought;
  hl_status st = hl__buf_append(&s->text, text, strlen(text));
  if (st == HL_OK && sig && hl__llm_strdup(sig, &s->open_sig) != HL_OK) st = HL_ERR_NOMEM;
  if (st == HL_OK && !thought && *text && s->base.ctx) st = hl_context_emit_delta(s->base.ctx, text);
  return st;
}

static hl_status stream_event(const char *event, const char *data, size_t len, void *user) {
  gm_stream *s = user;
  (void)event;
  /* No end marker: the stream ends when the server closes it, and a chunk
   * after the one with the finishReason may still bring usage. */
  s->base.events++;
  cJSON *j = NULL;
  hl_status st = hl__llm_parse_event(&s->base, data, len, &j);
  if (st != HL_OK) return st;
  if (!s->parts && !(s->parts = cJSON_CreateArray())) st = hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
  if (st == HL_OK) st = body_error(j, " in the stream");
  const char *block = hl_json_get_string(hl_json_get(j, "promptFeedback"), "blockReason");
  if (st == HL_OK && block)
    st = hl_fail(HL_ERR_PROVIDER, "gemini: the prompt was blocked (blockReason %s)", block);
  const cJSON *cand = candidate_of(j, false);
  const cJSON *p;
  cJSON_ArrayForEach(p, hl_json_get(hl_json_get(cand, "content"), "parts")) {
    if (st != HL_OK) break;
    st = on_part(s, p);
  }
  const char *fr = hl_json_get_string(cand, "finishReason");
  const char *fm = hl_json_get_string(cand, "finishMessage");
  if (st == HL_OK && fm && !s->finish_msg && hl__llm_strdup(fm, &s->finish_msg)) st = HL_ERR_NOMEM;
  if (st == HL_OK && fr) {
    free(s->finish);
    s->finish = NULL;
    if (hl__llm_strdup(fr, &s->finish)) st = HL_ERR_NOMEM;
  }
  if (st == HL_OK) {
    /* Usage and ids come with every chunk; the last ones count. */
    cJSON_DeleteItemFromObjectCaseSensitive(j, "candidates");
    if (!s->last) s->last = cJSON_CreateObject();
    for (cJSON *f = j->child; s->last && f;) {
      cJSON *next = f->next;
      cJSON_DeleteItemFromObjectCaseSensitive(s->last, f->string);
      hl_json_add(s->last, f->string, cJSON_DetachItemViaPointer(j, f));
      f = next;
    }
    if (!s->last) st = hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
  }
  cJSON_Delete(j);
  return st;
}

static hl_status stream_assemble(hl__llm_stream *base, hl_response **out) {
  gm_stream *s = (gm_stream *)base;
  if (!s->finish)
    return hl_fail(HL_ERR_PROVIDER, "gemini: the stream ended before a finishReason (after %zu events)",
                   base->events);
  hl_status st = close_text(s);
  if (st != HL_OK) return st;
  /* The whole answer as one body: {candidates: [{content, finishReason}], ...} */
  cJSON *body = s->last;
  cJSON *cands = cJSON_AddArrayToObject(body, "candidates");
  cJSON *c = cJSON_CreateObject();
  cJSON *content = NULL;
  if (!cands || !hl__llm_push(cands, c) || !(content = cJSON_AddObjectToObject(c, "content")) ||
      !cJSON_AddStringToObject(c, "finishReason", s->finish) ||
      (s->finish_msg && !cJSON_AddStringToObject(c, "finishMessage", s->finish_msg)) ||
      !cJSON_AddStringToObject(content, "role", "model") ||
      !cJSON_AddItemToObject(content, "parts", s->parts))
    return hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
  s->parts = NULL; /* body owns them now */
  return decode_body(base->l, body, out);
}

/* ------------------------------------------------------------------ */
/* The provider                                                        */
/* ------------------------------------------------------------------ */

static const hl__llm_wire gemini_wire = {
    .make_path = make_path,
    .key_header = "x-goog-api-key: ",
    .write = write_request,
    .decode = decode_body,
    .stream_size = sizeof(gm_stream),
    .stream_event = stream_event,
    .stream_assemble = stream_assemble,
    .stream_free = stream_free,
};

static const hl_provider_ops gemini_ops = {
    .size = sizeof(hl_provider_ops),
    .name = gemini_name,
    .complete = hl__llm_provider_complete,
    .destroy = hl__llm_provider_destroy,
    .start = hl__llm_provider_start,
};

hl_provider *hl_gemini_new(const char *base_url, const char *api_key) {
  /* Google's SDKs take GOOGLE_API_KEY over GEMINI_API_KEY when both are set. */
  const char *google = getenv("GOOGLE_API_KEY");
  return hl__llm_provider_new(&gemini_ops, &gemini_wire, base_url, "GEMINI_BASE_URL",
                              HL_GEMINI_DEFAULT_BASE_URL, api_key,
                              google && *google ? "GOOGLE_API_KEY" : "GEMINI_API_KEY");
}

hl_status hl_gemini_set_thinking(hl_provider *p, const cJSON *config) {
  hl__llm *l = hl__llm_of(p, gemini_name);
  if (!l) return HL_ERR_INVALID;
  if (config && !cJSON_IsObject(config))
    return hl_fail(HL_ERR_INVALID, "gemini: thinking config must be an object");
  cJSON *c = config ? cJSON_Duplicate(config, 1) : NULL;
  if (config && !c) return hl_fail(HL_ERR_NOMEM, "gemini: out of memory");
  return hl__llm_set_option(l, "thinkingConfig", c);
}

HL__LLM_COMMON_API(gemini, gemini_name)
