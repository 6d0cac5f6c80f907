/*
 * responses.c - the OpenAI Responses API wire format (see responses.h).
 *
 * A Responses answer is a list of typed output items (reasoning, message,
 * function_call, ...) rather than one message. Items map onto parts of
 * one assistant message, in order, so that the agent's history can give
 * them back in the next request: reasoning items verbatim (the API wants
 * them before the calls they led to), the output item ids in the parts'
 * signatures. A stream is assembled into the same list of items, then
 * decoded by the very function that decodes a whole body, which keeps the
 * two paths equal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/responses.h"
#include "core/util.h"
#include "providers/llm.h"

/* An array, not a literal: its address identifies our providers. */
static const char responses_name[] = "openai-responses";

/* Most output items one streamed response may carry (indexes are untrusted). */
#define RS_MAX_ITEMS 1024

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static hl_status oom(void) {
  return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory encoding the request");
}

/* An output item id we gave a part as its signature (msg_..., fc_...):
 * a short token. Anything else (another provider's signature) stays home. */
static bool item_id_ok(const char *s) {
  if (!s || !*s || strlen(s) > 128) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '-'))
      return false;
  return true;
}

/* {"role": role, "content": text}; an assistant text with its item id
 * goes back as the message item it was. */
static bool push_text(cJSON *input, const char *role, const char *text, const char *item_id) {
  cJSON *it = cJSON_CreateObject();
  if (!hl__llm_push(input, it)) return false;
  if (!item_id_ok(item_id) || strcmp(role, "assistant"))
    return cJSON_AddStringToObject(it, "role", role) && cJSON_AddStringToObject(it, "content", text);
  cJSON *content, *part;
  return cJSON_AddStringToObject(it, "type", "message") &&
         cJSON_AddStringToObject(it, "id", item_id) &&
         cJSON_AddStringToObject(it, "role", "assistant") &&
         (content = cJSON_AddArrayToObject(it, "content")) &&
         hl__llm_push(content, part = cJSON_CreateObject()) &&
         cJSON_AddStringToObject(part, "type", "output_text") &&
         cJSON_AddStringToObject(part, "text", text);
}

static bool push_call(cJSON *input, const hl_part *p) {
  cJSON *it = cJSON_CreateObject();
  if (!hl__llm_push(input, it)) return false;
  char *args = p->args ? hl__json_print_exact(p->args) : strdup("{}");
  bool ok = args && cJSON_AddStringToObject(it, "type", "function_call") &&
            (!item_id_ok(p->signature) || cJSON_AddStringToObject(it, "id", p->signature)) &&
            cJSON_AddStringToObject(it, "call_id", p->id ? p->id : "") &&
            cJSON_AddStringToObject(it, "name", p->name ? p->name : "") &&
            cJSON_AddStringToObject(it, "arguments", args);
  free(args);
  return ok;
}

static bool push_output(cJSON *input, const hl_part *p) {
  cJSON *it = cJSON_CreateObject();
  return hl__llm_push(input, it) && cJSON_AddStringToObject(it, "type", "function_call_output") &&
         cJSON_AddStringToObject(it, "call_id", p->id ? p->id : "") &&
         cJSON_AddStringToObject(it, "output", p->text ? p->text : "");
}

/* A user message with images: {"role":"user","content":[input_text and
 * input_image parts in order]} (an image_url may be a data: URL). */
static bool push_user_parts(cJSON *input, const hl_message *m) {
  cJSON *it = cJSON_CreateObject();
  cJSON *content;
  if (!hl__llm_push(input, it) || !cJSON_AddStringToObject(it, "role", "user") ||
      !(content = cJSON_AddArrayToObject(it, "content")))
    return false;
  for (size_t i = 0; i < m->n_parts; i++) {
    const hl_part *p = &m->parts[i];
    bool image = p->kind == HL_PART_IMAGE;
    if (!image && (p->kind != HL_PART_TEXT || !p->text || !*p->text)) continue;
    cJSON *e = cJSON_CreateObject();
    if (!hl__llm_push(content, e) ||
        !cJSON_AddStringToObject(e, "type", image ? "input_image" : "input_text") ||
        !cJSON_AddStringToObject(e, image ? "image_url" : "text", p->text ? p->text : ""))
      return false;
  }
  return true;
}

/* The items of one non-system message, appended to `input`. */
static hl_status encode_message(cJSON *input, const hl_message *m) {
  if (m->role == HL_ROLE_ASSISTANT) {
    for (size_t i = 0; i < m->n_parts; i++) {
      const hl_part *p = &m->parts[i];
      bool ok = true;
      if (p->kind == HL_PART_TEXT && p->text && *p->text)
        ok = push_text(input, "assistant", p->text, p->signature);
      else if (p->kind == HL_PART_TOOL_CALL)
        ok = push_call(input, p);
      else if (p->kind == HL_PART_REASONING && p->args && p->name &&
               !strcmp(p->name, responses_name))
        ok = hl__llm_push(input, cJSON_Duplicate(p->args, 1));
      if (!ok) return oom();
    }
    return HL_OK;
  }
  /* User and tool messages: tool outputs first (they answer the calls
   * just before), then the text. */
  for (size_t i = 0; i < m->n_parts; i++)
    if (m->parts[i].kind == HL_PART_TOOL_RESULT && !push_output(input, &m->parts[i])) return oom();
  for (size_t i = 0; i < m->n_parts; i++)
    if (m->parts[i].kind == HL_PART_IMAGE && m->role == HL_ROLE_USER)
      return push_user_parts(input, m) ? HL_OK : oom();
  char *text = hl_message_text(m);
  if (!text) return oom();
  bool ok = !*text || push_text(input, "user", text, NULL);
  free(text);
  return ok ? HL_OK : oom();
}

static cJSON *tool_choice_of(const hl_request *req) {
  switch (req->tool_choice) {
  case HL_TOOL_CHOICE_NONE: return cJSON_CreateString("none");
  case HL_TOOL_CHOICE_REQUIRED: return cJSON_CreateString("required");
  case HL_TOOL_CHOICE_NAMED: {
    cJSON *tc = cJSON_CreateObject();
    if (tc && (!cJSON_AddStringToObject(tc, "type", "function") ||
               !cJSON_AddStringToObject(tc, "name", req->tool_choice_name))) {
      cJSON_Delete(tc);
      return NULL;
    }
    return tc;
  }
  default: return NULL;
  }
}

static hl_status encode_tools(cJSON *j, const hl_request *req) {
  cJSON *tools = cJSON_AddArrayToObject(j, "tools");
  if (!tools) return oom();
  for (size_t i = 0; i < req->n_tools; i++) {
    const hl_tool_decl *d = &req->tools[i];
    cJSON *t = cJSON_CreateObject();
    if (!hl__llm_push(tools, t)) return oom();
    cJSON *params = d->parameters ? cJSON_Duplicate(d->parameters, 1) : hl__empty_object_schema();
    if (!cJSON_AddStringToObject(t, "type", "function") ||
        !cJSON_AddStringToObject(t, "name", d->name ? d->name : "") ||
        (d->description && !cJSON_AddStringToObject(t, "description", d->description)) ||
        !params || !cJSON_AddItemToObject(t, "parameters", params)) {
      cJSON_Delete(params);
      return oom();
    }
  }
  if (req->tool_choice == HL_TOOL_CHOICE_AUTO) return HL_OK;
  if (req->tool_choice == HL_TOOL_CHOICE_NAMED && (!req->tool_choice_name || !*req->tool_choice_name))
    return hl_fail(HL_ERR_INVALID, "openai-responses: tool choice NAMED without a tool name");
  cJSON *tc = tool_choice_of(req);
  if (!tc || !cJSON_AddItemToObject(j, "tool_choice", tc)) {
    cJSON_Delete(tc);
    return oom();
  }
  return HL_OK;
}

/* "text": {"format": {"type": "json_schema", "name": .., "schema": ..}} */
static hl_status encode_format(cJSON *j, const hl_request *req) {
  cJSON *text = cJSON_AddObjectToObject(j, "text");
  cJSON *f = text ? cJSON_AddObjectToObject(text, "format") : NULL;
  cJSON *schema = cJSON_Duplicate(req->response_schema, 1);
  const char *name = req->response_format_name && *req->response_format_name
                         ? req->response_format_name : "response";
  if (!f || !cJSON_AddStringToObject(f, "type", "json_schema") ||
      !cJSON_AddStringToObject(f, "name", name) || !schema ||
      !cJSON_AddItemToObject(f, "schema", schema)) {
    cJSON_Delete(schema);
    return oom();
  }
  if (hl__llm_schema_strict_ok(req->response_schema) && !cJSON_AddTrueToObject(f, "strict"))
    return oom();
  return HL_OK;
}

static hl_status encode_request(const hl__llm *l, const hl_request *req, const char *model,
                                cJSON **out) {
  *out = NULL;
  hl__buf system = {0};
  hl_status st = HL_OK;
  cJSON *j = cJSON_CreateObject();
  cJSON *input = j ? cJSON_CreateArray() : NULL;
  if (!input || !cJSON_AddStringToObject(j, "model", model)) st = oom();
  for (size_t i = 0; st == HL_OK && i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    if (!m) continue;
    if (m->role != HL_ROLE_SYSTEM) {
      st = encode_message(input, m);
      continue;
    }
    char *t = hl_message_text(m);
    if (!t || (*t && ((system.len && hl__buf_append(&system, "\n\n", 2)) ||
                      hl__buf_append(&system, t, strlen(t)))))
      st = oom();
    free(t);
  }
  if (st == HL_OK && system.len && !cJSON_AddStringToObject(j, "instructions", system.p)) st = oom();
  if (st == HL_OK && !cJSON_AddItemToObject(j, "input", input)) st = oom();
  else if (st == HL_OK) input = NULL;
  if (st == HL_OK && req->n_tools > 0) st = encode_tools(j, req);
  if (st == HL_OK && req->response_schema) st = encode_format(j, req);
  if (st == HL_OK &&
      ((req->temperature >= 0 && !cJSON_AddNumberToObject(j, "temperature", req->temperature)) ||
       (req->max_tokens > 0 && !cJSON_AddNumberToObject(j, "max_output_tokens", req->max_tokens)) ||
       (req->stream && !cJSON_AddTrueToObject(j, "stream"))))
    st = oom();
  /* The provider's options (reasoning, store, include) last. */
  if (st == HL_OK) st = hl__llm_apply_options(l, j);
  hl__buf_free(&system);
  cJSON_Delete(input);
  if (st != HL_OK) {
    cJSON_Delete(j);
    return st;
  }
  *out = j;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

/* The server's words from an error object: message (code). */
static hl_status fail_with(const cJSON *err, const char *what) {
  const char *m = cJSON_IsString(err) ? err->valuestring : hl_json_get_string(err, "message");
  const char *code = hl_json_get_string(err, "code");
  return hl_fail(HL_ERR_PROVIDER, "openai-responses: %s: %s%s%s%s", what, m ? m : "(no message)",
                 code ? " (" : "", code ? code : "", code ? ")" : "");
}

/* An error object, or a status that is not an answer. */
static hl_status check_status(const cJSON *j) {
  const cJSON *err = hl_json_get(j, "error");
  if (err && !cJSON_IsNull(err)) return fail_with(err, "the server reported an error");
  const char *status = hl_json_get_string(j, "status");
  if (!status) return HL_OK;
  if (!strcmp(status, "failed") || !strcmp(status, "cancelled"))
    return hl_fail(HL_ERR_PROVIDER, "openai-responses: the response %s without an error message",
                   status);
  if (!strcmp(status, "queued") || !strcmp(status, "in_progress"))
    return hl_fail(HL_ERR_PROVIDER,
                   "openai-responses: the response is still %s (background responses are not supported)",
                   status);
  return HL_OK;
}

static void usage_of(const cJSON *u, hl_usage *out) {
  if (!cJSON_IsObject(u)) return;
  hl__llm_token_count(u, "input_tokens", &out->input_tokens);
  hl__llm_token_count(u, "output_tokens", &out->output_tokens);
  hl__llm_token_count(hl_json_get(u, "input_tokens_details"), "cached_tokens", &out->cached_tokens);
  hl__llm_token_count(hl_json_get(u, "output_tokens_details"), "reasoning_tokens",
                      &out->reasoning_tokens);
}

/* The summary texts of a reasoning item, joined by blank lines. */
static hl_status summary_of(const cJSON *item, hl__buf *b) {
  const cJSON *s;
  cJSON_ArrayForEach(s, hl_json_get(item, "summary")) {
    const char *t = hl_json_get_string(s, "text");
    if (!t || !*t) continue;
    if ((b->len && hl__buf_append(b, "\n\n", 2)) || hl__buf_append(b, t, strlen(t)))
      return HL_ERR_NOMEM;
  }
  return HL_OK;
}

static hl_status add_reasoning(hl_message *m, const cJSON *item) {
  hl__buf b = {0};
  if (!cJSON_IsObject(item)) return HL_OK;
  hl_status st = summary_of(item, &b);
  if (st == HL_OK)
    st = hl_message_add_reasoning(m, responses_name, hl_json_get_string(item, "id"), b.p, item, NULL);
  hl__buf_free(&b);
  return st;
}

/* A message item's output_text parts as one text part (its id as the
 * signature); a refusal is text too, and says so through *refused. */
static hl_status add_message(hl_message *m, const cJSON *item, bool *refused) {
  hl__buf b = {0};
  hl_status st = HL_OK;
  const cJSON *c;
  cJSON_ArrayForEach(c, hl_json_get(item, "content")) {
    const char *type = hl_json_get_string(c, "type");
    const char *t = NULL;
    if (type && !strcmp(type, "output_text")) t = hl_json_get_string(c, "text");
    else if (type && !strcmp(type, "refusal") && (t = hl_json_get_string(c, "refusal"))) *refused = true;
    if (t && *t && (st = hl__buf_append(&b, t, strlen(t))) != HL_OK) break;
  }
  if (st == HL_OK && b.len) {
    st = hl_message_add_text(m, b.p);
    const char *id = hl_json_get_string(item, "id");
    if (st == HL_OK && id) st = hl_message_set_signature(m, m->n_parts - 1, id);
  }
  hl__buf_free(&b);
  return st;
}

static hl_status add_call(const hl__llm *l, hl_message *m, const cJSON *item, size_t k) {
  const char *id = hl_json_get_string(item, "call_id");
  const char *item_id = hl_json_get_string(item, "id");
  const char *name = hl_json_get_string(item, "name");
  char gen_id[32];
  if (!id || !*id) id = item_id;
  if (!id || !*id) {
    snprintf(gen_id, sizeof gen_id, "call_%zu", k);
    id = gen_id;
  }
  if (!name || !*name)
    return hl_fail(HL_ERR_PROVIDER, "openai-responses: function_call item %zu (call_id %s) has no name",
                   k, id);
  const cJSON *a = hl_json_get(item, "arguments");
  cJSON *args = NULL;
  hl_status st;
  if (cJSON_IsString(a)) st = hl__llm_parse_args(l, a->valuestring, strlen(a->valuestring), name, id, &args);
  else if (cJSON_IsObject(a)) st = (args = cJSON_Duplicate(a, 1)) ? HL_OK : oom();
  else if (!a || cJSON_IsNull(a)) st = hl__llm_parse_args(l, "", 0, name, id, &args);
  else st = hl_fail(HL_ERR_PROVIDER, "openai-responses: arguments of function call \"%s\" (call_id %s) are not a JSON object", name, id);
  if (st == HL_OK) st = hl_message_add_tool_call(m, id, name, args);
  if (st == HL_OK && item_id) st = hl_message_set_signature(m, m->n_parts - 1, item_id);
  cJSON_Delete(args);
  return st;
}

/* A whole response object (a 2xx body, or the stream's assembled one). */
static hl_status decode_body(const hl__llm *l, const cJSON *j, hl_response **out) {
  *out = NULL;
  hl_status st = check_status(j);
  if (st != HL_OK) return st;
  const cJSON *output = hl_json_get(j, "output");
  if (!cJSON_IsArray(output))
    return hl_fail(HL_ERR_PROVIDER, "openai-responses: response has no output array");
  hl_response *r = hl_response_new();
  if (!r) return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory");
  bool refused = false;
  size_t k = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, output) {
    const char *type = hl_json_get_string(item, "type");
    if (!type) type = "";
    if (!strcmp(type, "reasoning")) st = add_reasoning(r->message, item);
    else if (!strcmp(type, "message")) st = add_message(r->message, item, &refused);
    else if (!strcmp(type, "function_call")) st = add_call(l, r->message, item, k);
    /* web_search_call, file_search_call, ...: hosted tools, not ours */
    if (st != HL_OK) break;
    k++;
  }
  if (st == HL_OK) st = hl__llm_set_ids(r, j);
  if (st != HL_OK) {
    hl_response_free(r);
    return st == HL_ERR_NOMEM ? hl_fail(st, "openai-responses: out of memory") : st;
  }
  const char *status = hl_json_get_string(j, "status");
  const char *why = hl_json_get_string(hl_json_get(j, "incomplete_details"), "reason");
  if (refused) r->finish = HL_FINISH_CONTENT_FILTER;
  else if (status && !strcmp(status, "incomplete"))
    r->finish = why && !strcmp(why, "content_filter") ? HL_FINISH_CONTENT_FILTER
                : why && !strcmp(why, "max_output_tokens") ? HL_FINISH_LENGTH
                                                            : HL_FINISH_UNKNOWN;
  else r->finish = hl_message_tool_call_count(r->message) ? HL_FINISH_TOOL_CALLS : HL_FINISH_STOP;
  if (r->finish == HL_FINISH_CONTENT_FILTER && !hl__llm_has_answer(r->message)) {
    hl_response_free(r);
    return hl_fail(HL_ERR_PROVIDER, "openai-responses: no answer (incomplete: content_filter)");
  }
  usage_of(hl_json_get(j, "usage"), &r->usage);
  *out = r;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming                                                           */
/* ------------------------------------------------------------------ */

typedef struct rs_item {
  cJSON *added;   /* from response.output_item.added */
  cJSON *done;    /* from response.output_item.done: wins over the rest */
  hl__buf text;   /* output_text / refusal deltas */
  hl__buf args;   /* function call argument deltas, or the .done text */
  bool refusal, used;
} rs_item;

typedef struct rs_stream {
  hl__llm_stream base;  /* l, ctx, the response being built, events */
  rs_item *items;
  size_t n_items;
  cJSON *final;         /* the response of response.completed / .incomplete */
} rs_stream;

static void stream_free(hl__llm_stream *base) {
  rs_stream *s = (rs_stream *)base;
  for (size_t i = 0; i < s->n_items; i++) {
    cJSON_Delete(s->items[i].added);
    cJSON_Delete(s->items[i].done);
    hl__buf_free(&s->items[i].text);
    hl__buf_free(&s->items[i].args);
  }
  free(s->items);
  cJSON_Delete(s->final);
}

static rs_item *item_at(rs_stream *s, const cJSON *j) {
  rs_item *it = hl__llm_slot(&s->base, (void **)&s->items, &s->n_items, sizeof *s->items,
                             hl_json_get(j, "output_index"), RS_MAX_ITEMS, "output_index");
  if (it) it->used = true;
  return it;
}

/* Keep a copy of j[key] in *slot (replacing what was there). */
static hl_status keep(cJSON **slot, const cJSON *j, const char *key) {
  const cJSON *v = hl_json_get(j, key);
  if (!cJSON_IsObject(v)) return HL_OK;
  cJSON *c = cJSON_Duplicate(v, 1);
  if (!c) return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory");
  cJSON_Delete(*slot);
  *slot = c;
  return HL_OK;
}

static hl_status on_delta(rs_stream *s, const cJSON *j, const char *type) {
  rs_item *it = item_at(s, j);
  if (!it) return hl_last_status();
  const char *d = hl_json_get_string(j, "delta");
  if (!strcmp(type, "response.function_call_arguments.delta")) {
    hl_status st = d ? hl__buf_append(&it->args, d, strlen(d)) : HL_OK;
    if (st == HL_OK && d && *d && s->base.ctx)
      st = hl_context_emit_tool_delta(s->base.ctx, (size_t)(it - s->items),
                                      hl_json_get_string(it->added, "call_id"),
                                      hl_json_get_string(it->added, "name"), d);
    return st;
  }
  if (!strcmp(type, "response.function_call_arguments.done")) {
    const char *a = hl_json_get_string(j, "arguments");
    if (!a) return HL_OK;
    it->args.len = 0;
    return hl__buf_append(&it->args, a, strlen(a));
  }
  if (!strcmp(type, "response.refusal.delta")) it->refusal = true;
  if (!d || !*d) return HL_OK;
  hl_status st = hl__buf_append(&it->text, d, strlen(d));
  if (st == HL_OK && s->base.ctx) st = hl_context_emit_delta(s->base.ctx, d);
  return st;
}

static hl_status stream_event(const char *event, const char *data, size_t len, void *user) {
  rs_stream *s = user;
  if (s->final) return HL_OK; /* nothing counts after the end */
  s->base.events++;
  /* Some compatible servers end with Chat Completions' marker; the end
   * that counts is response.completed (stream_assemble says if it's missing). */
  if (len == 6 && !memcmp(data, "[DONE]", 6)) return HL_OK;
  cJSON *j = NULL;
  hl_status st = hl__llm_parse_event(&s->base, data, len, &j);
  if (st != HL_OK) return st;
  const char *type = hl_json_get_string(j, "type");
  if (!type) type = event ? event : "";
  const cJSON *resp = hl_json_get(j, "response");
  if (!strcmp(type, "error")) {
    const cJSON *err = hl_json_get(j, "error");
    st = fail_with(cJSON_IsObject(err) ? err : j, "error in the stream");
  } else if (!strcmp(type, "response.failed")) {
    const cJSON *err = hl_json_get(resp, "error");
    st = err && !cJSON_IsNull(err) ? fail_with(err, "the response failed")
                                   : hl_fail(HL_ERR_PROVIDER, "openai-responses: the response failed");
  } else if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete")) {
    if (!cJSON_IsObject(resp))
      st = hl_fail(HL_ERR_PROVIDER, "openai-responses: %s event without a response", type);
    else st = keep(&s->final, j, "response");
  } else if (!strcmp(type, "response.created") || !strcmp(type, "response.in_progress")) {
    st = hl__llm_set_ids(s->base.r, resp);
  } else if (!strcmp(type, "response.output_item.added") ||
             !strcmp(type, "response.output_item.done")) {
    rs_item *it = item_at(s, j);
    bool added = !strcmp(type, "response.output_item.added");
    st = !it ? hl_last_status() : keep(added ? &it->added : &it->done, j, "item");
  } else if (!strcmp(type, "response.output_text.delta") || !strcmp(type, "response.refusal.delta") ||
             !strcmp(type, "response.function_call_arguments.delta") ||
             !strcmp(type, "response.function_call_arguments.done")) {
    st = on_delta(s, j, type);
  }
  /* Other event types (content_part.*, reasoning summaries, hosted
   * tools, future ones) need nothing: the done items carry the result. */
  cJSON_Delete(j);
  return st;
}

/* The final response's item for streamed item `k` whose done event did
 * not come: the one with its id, else the one at its index if of its
 * type (`output`, the final output array; NULL when none). */
static const cJSON *final_item(const cJSON *output, const rs_item *it, size_t k) {
  const char *id = hl_json_get_string(it->added, "id");
  const cJSON *f;
  if (id) {
    cJSON_ArrayForEach(f, output) {
      const char *fid = hl_json_get_string(f, "id");
      if (fid && !strcmp(fid, id) && cJSON_IsObject(f)) return f;
    }
  }
  f = cJSON_GetArrayItem(output, (int)k);
  const char *type = hl_json_get_string(it->added, "type"), *ftype = hl_json_get_string(f, "type");
  if (!cJSON_IsObject(f) || (id && hl_json_get_string(f, "id")) || (type && (!ftype || strcmp(type, ftype))))
    return NULL;
  return f;
}

/* Is there a streamed item with the id of `f` (an item of the final
 * output)? */
static bool streamed_id(const rs_stream *s, const cJSON *f) {
  const char *fid = hl_json_get_string(f, "id");
  for (size_t i = 0; fid && i < s->n_items; i++) {
    const rs_item *it = &s->items[i];
    const char *id = hl_json_get_string(it->done ? it->done : it->added, "id");
    if (it->used && id && !strcmp(id, fid)) return true;
  }
  return false;
}

/* The item at k as a whole: the done item; else the final response's
 * (in `output`, its output array): the done event was lost, and what
 * only the done item carries (a reasoning item's encrypted_content)
 * with it; else the added one completed with the deltas. NULL on
 * allocation failure. */
static cJSON *item_whole(const rs_item *it, const cJSON *output, size_t k) {
  if (it->done) return cJSON_Duplicate(it->done, 1);
  const cJSON *whole = final_item(output, it, k);
  if (whole) return cJSON_Duplicate(whole, 1);
  cJSON *c = it->added ? cJSON_Duplicate(it->added, 1) : cJSON_CreateObject();
  if (!c) return NULL;
  const char *type = hl_json_get_string(c, "type");
  bool ok = true;
  if ((type && !strcmp(type, "function_call")) || (!type && it->args.len)) {
    cJSON_DeleteItemFromObjectCaseSensitive(c, "arguments");
    ok = (type || cJSON_AddStringToObject(c, "type", "function_call")) &&
         cJSON_AddStringToObject(c, "arguments", it->args.p ? it->args.p : "");
  } else if ((type && !strcmp(type, "message")) || (!type && it->text.len)) {
    cJSON_DeleteItemFromObjectCaseSensitive(c, "content");
    cJSON *content = cJSON_AddArrayToObject(c, "content");
    cJSON *part = cJSON_CreateObject();
    const char *kind = it->refusal ? "refusal" : "output_text";
    ok = (type || cJSON_AddStringToObject(c, "type", "message")) && content &&
         hl__llm_push(content, part) && cJSON_AddStringToObject(part, "type", kind) &&
         cJSON_AddStringToObject(part, it->refusal ? "refusal" : "text", it->text.p ? it->text.p : "");
  }
  if (!ok) {
    cJSON_Delete(c);
    return NULL;
  }
  return c;
}

static hl_status stream_assemble(hl__llm_stream *base, hl_response **out) {
  rs_stream *s = (rs_stream *)base;
  if (!s->final)
    return hl_fail(HL_ERR_PROVIDER,
                   "openai-responses: the stream ended before response.completed (after %zu events)",
                   base->events);
  bool any = false;
  for (size_t i = 0; i < s->n_items; i++) any = any || s->items[i].used;
  /* The items as streamed, reconciled with the final response's output
   * (published to hold them all) where done events were missing: items
   * it has that never streamed go in at their index. A server that only
   * sent the final response has them all there. */
  if (any) {
    const cJSON *fin = hl_json_get(s->final, "output");
    size_t n = s->n_items, n_fin = (size_t)cJSON_GetArraySize(fin);
    if (n_fin > n) n = n_fin < RS_MAX_ITEMS ? n_fin : RS_MAX_ITEMS;
    cJSON *output = cJSON_CreateArray();
    for (size_t i = 0; output && i < n; i++) {
      const rs_item *it = i < s->n_items && s->items[i].used ? &s->items[i] : NULL;
      const cJSON *f = cJSON_GetArrayItem(fin, (int)i);
      cJSON *item = it                                        ? item_whole(it, fin, i)
                    : cJSON_IsObject(f) && !streamed_id(s, f) ? cJSON_Duplicate(f, 1)
                                                              : NULL;
      if ((it || item) && !hl__llm_push(output, item)) {
        cJSON_Delete(output);
        output = NULL;
      }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(s->final, "output");
    if (!output || !cJSON_AddItemToObject(s->final, "output", output)) {
      cJSON_Delete(output);
      return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory");
    }
  }
  hl_status st = decode_body(base->l, s->final, out);
  if (st == HL_OK && (!(*out)->id || !(*out)->model)) {
    /* ids from response.created when the final one lacks them */
    if (!(*out)->id) { (*out)->id = base->r->id; base->r->id = NULL; }
    if (!(*out)->model) { (*out)->model = base->r->model; base->r->model = NULL; }
  }
  return st;
}

/* ------------------------------------------------------------------ */
/* The provider                                                        */
/* ------------------------------------------------------------------ */

static const hl__llm_wire responses_wire = {
    .path = "/responses",
    .key_header = "Authorization: Bearer ",
    .encode = encode_request,
    .decode = decode_body,
    .stream_size = sizeof(rs_stream),
    .stream_event = stream_event,
    .stream_assemble = stream_assemble,
    .stream_free = stream_free,
};

static const hl_provider_ops responses_ops = {
    .size = sizeof(hl_provider_ops),
    .name = responses_name,
    .complete = hl__llm_provider_complete,
    .destroy = hl__llm_provider_destroy,
    .start = hl__llm_provider_start,
};

hl_provider *hl_responses_new(const char *base_url, const char *api_key) {
  return hl__llm_provider_new(&responses_ops, &responses_wire, base_url, "OPENAI_BASE_URL",
                              HL_RESPONSES_DEFAULT_BASE_URL, api_key, "OPENAI_API_KEY");
}

hl_status hl_responses_set_reasoning(hl_provider *p, const char *effort, const char *summary) {
  hl__llm *l = hl__llm_of(p, responses_name);
  if (!l) return HL_ERR_INVALID;
  if (!effort && !summary) return hl__llm_set_option(l, "reasoning", NULL);
  cJSON *r = cJSON_CreateObject();
  if (!r || (effort && !cJSON_AddStringToObject(r, "effort", effort)) ||
      (summary && !cJSON_AddStringToObject(r, "summary", summary))) {
    cJSON_Delete(r);
    return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory");
  }
  return hl__llm_set_option(l, "reasoning", r);
}

hl_status hl_responses_add_include(hl_provider *p, const char *item) {
  hl__llm *l = hl__llm_of(p, responses_name);
  if (!l) return HL_ERR_INVALID;
  if (!item || !*item) return hl_fail(HL_ERR_INVALID, "openai-responses: empty include entry");
  const cJSON *have = hl_json_get(l->options, "include");
  cJSON *list = have ? cJSON_Duplicate(have, 1) : cJSON_CreateArray();
  const cJSON *e;
  cJSON_ArrayForEach(e, list)
    if (cJSON_IsString(e) && !strcmp(e->valuestring, item)) {
      cJSON_Delete(list);
      return HL_OK;
    }
  if (!list || !hl__llm_push(list, cJSON_CreateString(item))) {
    cJSON_Delete(list);
    return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory");
  }
  return hl__llm_set_option(l, "include", list);
}

hl_status hl_responses_set_store(hl_provider *p, bool store) {
  hl__llm *l = hl__llm_of(p, responses_name);
  if (!l) return HL_ERR_INVALID;
  cJSON *v = cJSON_CreateBool(store);
  if (!v) return hl_fail(HL_ERR_NOMEM, "openai-responses: out of memory");
  hl_status st = hl__llm_set_option(l, "store", v);
  if (st == HL_OK && !store) st = hl_responses_add_include(p, "reasoning.encrypted_content");
  return st;
}

HL__LLM_COMMON_API(responses, responses_name)
