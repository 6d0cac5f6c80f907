/*
 * openai.c - the OpenAI Chat Completions wire format (see openai.h).
 *
 * Three parts: encode an hl_request as a chat.completions payload, decode
 * a chat.completion body, and assemble a stream of chat.completion.chunk
 * events into the same hl_response. Tool-call fragments in a stream are
 * keyed by their "index": the id and name come in the first fragment, the
 * argument text in pieces that only make JSON once joined.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/openai.h"
#include "core/model_internal.h"
#include "core/util.h"
#include "providers/llm.h"

/* An array, not a literal: its address identifies our providers. */
static const char openai_name[] = "openai";

/* Most tool calls one streamed response may carry (indexes are untrusted). */
#define OA_MAX_TOOL_CALLS 256

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static hl_status oom(void) { return hl_fail(HL_ERR_NOMEM, "openai: out of memory encoding the request"); }

/*
 * The payload is written straight into one buffer, key for key what a
 * cJSON tree of it would print (hl__json_print_exact()): building and
 * printing the tree was ~40 allocations and frees per request and most of
 * the encoding's instructions (issue 12). The tree an API_REQUEST
 * observer gets is parsed back from this text, only when one listens
 * (llm.c). Keys appear in the order the tree had them, including its
 * quirks ("function" before "type" in a tool and a tool call).
 */

static bool has_kind(const hl_message *m, hl_part_kind kind) {
  for (size_t i = 0; i < m->n_parts; i++)
    if (m->parts[i].kind == kind) return true;
  return false;
}

/* The concatenated text parts as one JSON string. */
static void text_of(hl__jbuf *b, const hl_message *m, hl__jbuf *tmp) {
  size_t n = 0, last = 0;
  for (size_t i = 0; i < m->n_parts; i++)
    if (m->parts[i].kind == HL_PART_TEXT && m->parts[i].text) n++, last = i;
  if (n <= 1) {
    hl__jbuf_string(b, n ? m->parts[last].text : "");
    return;
  }
  tmp->len = 0;
  for (size_t i = 0; i < m->n_parts; i++)
    if (m->parts[i].kind == HL_PART_TEXT && m->parts[i].text)
      hl__jbuf_raw(tmp, m->parts[i].text, strlen(m->parts[i].text));
  hl__jbuf_string(b, tmp->p ? tmp->p : "");
}

/* True when the message has some non-empty text part. */
static bool has_text(const hl_message *m) {
  for (size_t i = 0; i < m->n_parts; i++)
    if (m->parts[i].kind == HL_PART_TEXT && m->parts[i].text && m->parts[i].text[0]) return true;
  return false;
}

/* A user message with images: its content as a list of text and
 * image_url parts, in order (a data: URL goes as it is). */
static void content_parts(hl__jbuf *b, const hl_message *m) {
  hl__jbuf_raw(b, "[", 1);
  bool first = true;
  for (size_t i = 0; i < m->n_parts; i++) {
    const hl_part *p = &m->parts[i];
    if (p->kind != HL_PART_TEXT && p->kind != HL_PART_IMAGE) continue;
    if (p->kind == HL_PART_TEXT && (!p->text || !*p->text)) continue;
    if (!first) hl__jbuf_raw(b, ",", 1);
    first = false;
    if (p->kind == HL_PART_TEXT) {
      hl__llm_lit(b, "{\"type\":\"text\",\"text\":");
      hl__jbuf_string(b, p->text);
      hl__llm_lit(b, "}");
    } else {
      hl__llm_lit(b, "{\"type\":\"image_url\",\"image_url\":{\"url\":");
      hl__jbuf_string(b, p->text);
      hl__llm_lit(b, "}}");
    }
  }
  hl__jbuf_raw(b, "]", 1);
}

/* One history message as zero or more Chat Completions messages, each
 * preceded by a comma unless *first. `tmp`: scratch for texts. */
static void write_message(hl__jbuf *b, const hl_message *m, bool *first, hl__jbuf *tmp) {
  /* Tool results are separate "tool" messages, whatever message holds them. */
  for (size_t i = 0; i < m->n_parts; i++) {
    const hl_part *p = &m->parts[i];
    if (p->kind != HL_PART_TOOL_RESULT) continue;
    if (!*first) hl__jbuf_raw(b, ",", 1);
    *first = false;
    hl__llm_lit(b, "{\"role\":\"tool\",\"tool_call_id\":");
    hl__jbuf_string(b, p->id);
    hl__llm_lit(b, ",\"content\":");
    hl__jbuf_string(b, p->text);
    hl__llm_lit(b, "}");
  }
  bool calls = has_kind(m, HL_PART_TOOL_CALL);
  bool text = has_kind(m, HL_PART_TEXT);
  bool images = m->role == HL_ROLE_USER && has_kind(m, HL_PART_IMAGE);
  text = text || images;
  if (m->role == HL_ROLE_TOOL || (!calls && !text && has_kind(m, HL_PART_TOOL_RESULT))) return;

  if (!*first) hl__jbuf_raw(b, ",", 1);
  *first = false;
  hl__llm_lit(b, m->role == HL_ROLE_SYSTEM      ? "{\"role\":\"system\",\"content\":"
         : m->role == HL_ROLE_ASSISTANT ? "{\"role\":\"assistant\",\"content\":"
                                        : "{\"role\":\"user\",\"content\":");
  if (images) content_parts(b, m);
  else if (calls && !has_text(m)) hl__llm_lit(b, "null");
  else text_of(b, m, tmp);
  if (calls && m->role == HL_ROLE_ASSISTANT) {
    hl__llm_lit(b, ",\"tool_calls\":[");
    bool first_call = true;
    for (size_t i = 0; i < m->n_parts; i++) {
      const hl_part *p = &m->parts[i];
      if (p->kind != HL_PART_TOOL_CALL) continue;
      if (!first_call) hl__jbuf_raw(b, ",", 1);
      first_call = false;
      hl__llm_lit(b, "{\"function\":{\"name\":");
      hl__jbuf_string(b, p->name);
      /* The arguments as a string holding their JSON text. */
      hl__llm_lit(b, ",\"arguments\":");
      if (p->args) {
        tmp->len = 0;
        hl__jbuf_value(tmp, p->args);
        if (tmp->failed) b->failed = true;
        else hl__jbuf_string(b, tmp->p ? tmp->p : "");
      } else {
        hl__llm_lit(b, "\"{}\"");
      }
      hl__llm_lit(b, "},\"id\":");
      hl__jbuf_string(b, p->id);
      hl__llm_lit(b, ",\"type\":\"function\"}");
    }
    hl__llm_lit(b, "]");
  }
  hl__llm_lit(b, "}");
}

static void write_tools(hl__jbuf *b, const hl_request *req) {
  hl__jbuf_raw(b, "[", 1);
  for (size_t i = 0; i < req->n_tools; i++) {
    const hl_tool_decl *d = &req->tools[i];
    if (i) hl__jbuf_raw(b, ",", 1);
    /* A tool's own schema, borrowed by the agent loop, as it printed it. */
    size_t n = 0;
    const char *text = hl__request_tool_schema_text(req, i, &n);
    hl__llm_lit(b, "{\"function\":{");
    hl__llm_write_decl(b, d->name, d->description, ",\"parameters\":", text, n, d->parameters);
    hl__llm_lit(b, "},\"type\":\"function\"}");
  }
  hl__jbuf_raw(b, "]", 1);
}

static hl_status write_request(const hl__llm *l, const hl_request *req, const char *model,
                               hl__jbuf *b) {
  if (req->tool_choice == HL_TOOL_CHOICE_NAMED && (!req->tool_choice_name || !*req->tool_choice_name))
    return hl_fail(HL_ERR_INVALID, "openai: tool choice NAMED without a tool name");
  hl__jbuf tmp = {0};
  /* The first field: a comma-less start, whatever replaces it. */
  hl__jbuf_raw(b, "{", 1);
  size_t open = b->len;
  if (hl__llm_field(b, l, "model")) hl__jbuf_string(b, model);
  if (hl__llm_field(b, l, "messages")) {
    hl__jbuf_raw(b, "[", 1);
    bool first = true;
    for (size_t i = 0; i < req->messages.count; i++)
      if (req->messages.items[i]) write_message(b, req->messages.items[i], &first, &tmp);
    hl__jbuf_raw(b, "]", 1);
  }
  if (req->n_tools > 0 && hl__llm_field(b, l, "tools")) write_tools(b, req);
  if (req->tool_choice == HL_TOOL_CHOICE_NONE || req->tool_choice == HL_TOOL_CHOICE_REQUIRED ||
      req->tool_choice == HL_TOOL_CHOICE_NAMED) {
    if (hl__llm_field(b, l, "tool_choice")) {
      if (req->tool_choice == HL_TOOL_CHOICE_NONE) {
        hl__llm_lit(b, "\"none\"");
      } else if (req->tool_choice == HL_TOOL_CHOICE_REQUIRED) {
        hl__llm_lit(b, "\"required\"");
      } else {
        hl__llm_lit(b, "{\"function\":{\"name\":");
        hl__jbuf_string(b, req->tool_choice_name);
        hl__llm_lit(b, "},\"type\":\"function\"}");
      }
    }
  }
  if (req->response_schema && hl__llm_field(b, l, "response_format")) {
    hl__llm_lit(b, "{\"json_schema\":{\"name\":");
    hl__jbuf_string(b, req->response_format_name && *req->response_format_name
                           ? req->response_format_name : "response");
    hl__llm_lit(b, ",\"schema\":");
    hl__jbuf_value(b, req->response_schema);
    if (hl__llm_schema_strict_ok(req->response_schema)) hl__llm_lit(b, ",\"strict\":true");
    hl__llm_lit(b, "},\"type\":\"json_schema\"}");
  }
  if (req->temperature >= 0 && hl__llm_field(b, l, "temperature")) hl__llm_number(b, req->temperature);
  const char *max_field = __atomic_load_n(&l->max_tokens_field, __ATOMIC_RELAXED) ==
                                  HL__LLM_MAX_COMPLETION_TOKENS
                              ? "max_completion_tokens" : "max_tokens";
  if (req->max_tokens > 0 && hl__llm_field(b, l, max_field)) hl__llm_number(b, req->max_tokens);
  if (req->n_stop > 0 && hl__llm_field(b, l, "stop")) {
    hl__jbuf_raw(b, "[", 1);
    for (size_t i = 0; i < req->n_stop; i++) {
      if (i) hl__jbuf_raw(b, ",", 1);
      hl__jbuf_string(b, req->stop[i]);
    }
    hl__jbuf_raw(b, "]", 1);
  }
  if (req->stream) {
    if (hl__llm_field(b, l, "stream")) hl__llm_lit(b, "true");
    if (hl__llm_field(b, l, "stream_options")) hl__llm_lit(b, "{\"include_usage\":true}");
  }
  /* reasoning_effort, parallel_tool_calls: the API refuses the latter
   * without tools. */
  hl__llm_close_fields(b, l, open, req->n_tools == 0 ? "parallel_tool_calls" : NULL);
  bool failed = b->failed || tmp.failed;
  free(tmp.p);
  return failed ? oom() : HL_OK;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

static hl_finish_reason finish_of(const char *s) {
  if (!s) return HL_FINISH_UNKNOWN;
  if (!strcmp(s, "stop")) return HL_FINISH_STOP;
  if (!strcmp(s, "length")) return HL_FINISH_LENGTH;
  if (!strcmp(s, "tool_calls") || !strcmp(s, "function_call")) return HL_FINISH_TOOL_CALLS;
  if (!strcmp(s, "content_filter")) return HL_FINISH_CONTENT_FILTER;
  return HL_FINISH_UNKNOWN;
}

/* A count that is not a whole number from 0 to 2^53 (negative, fractional,
 * 1e300: server-controlled) is ignored like an absent one: 0. The answer
 * itself is not lost over a bad statistic (documented in openai.h). */
static void usage_of(const cJSON *u, hl_usage *out) {
  if (!cJSON_IsObject(u)) return;
  int64_t n;
  out->input_tokens = hl__json_token_count(hl_json_get(u, "prompt_tokens"), &n) ? n : 0;
  out->output_tokens = hl__json_token_count(hl_json_get(u, "completion_tokens"), &n) ? n : 0;
  /* Of those: prompt-cache reads and hidden reasoning (priced apart, price.h). */
  out->cached_tokens =
      hl__json_token_count(hl_json_get(hl_json_get(u, "prompt_tokens_details"), "cached_tokens"), &n)
          ? n : 0;
  out->reasoning_tokens = hl__json_token_count(
      hl_json_get(hl_json_get(u, "completion_tokens_details"), "reasoning_tokens"), &n) ? n : 0;
}

/* Choice 0 of an answer or chunk (a missing index is 0), wherever it is
 * in the list; in a whole body the first one when none has index 0. A
 * chunk may carry only other choices, or none (the usage chunk): then
 * NULL. Other choices (n > 1) are not hookline's answer. */
static const cJSON *choice_0(const cJSON *j, bool whole) {
  const cJSON *c, *choices = hl_json_get(j, "choices");
  cJSON_ArrayForEach(c, choices)
    if (hl_json_get_number(c, "index", 0) == 0) return c;
  return whole ? cJSON_GetArrayItem(choices, 0) : NULL;
}

/* An answer filtered before any word of it: an error, not an empty
 * answer (the finish alone would tell it from a normal one). */
static hl_status filtered_check(const hl_response *r) {
  if (r->finish != HL_FINISH_CONTENT_FILTER || hl__llm_has_answer(r->message)) return HL_OK;
  return hl_fail(HL_ERR_PROVIDER, "openai: no answer (finish_reason content_filter)");
}

/* "error" inside a 2xx body or a stream chunk. */
static hl_status body_error(const cJSON *j) {
  const cJSON *err = hl_json_get(j, "error");
  if (!err || cJSON_IsNull(err)) return HL_OK;
  const char *m = cJSON_IsString(err) ? err->valuestring : hl_json_get_string(err, "message");
  return hl_fail(HL_ERR_PROVIDER, "openai: the server reported an error: %s", m ? m : "(no message)");
}

static hl_status decode_body(const hl__llm *l, const cJSON *j, hl_response **out) {
  *out = NULL;
  hl_status st = body_error(j);
  if (st != HL_OK) return st;
  const cJSON *choice = choice_0(j, true);
  const cJSON *msg = hl_json_get(choice, "message");
  if (!cJSON_IsObject(msg))
    return hl_fail(HL_ERR_PROVIDER, "openai: response has no choices[0].message");
  hl_response *r = hl_response_new();
  if (!r) return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
  const cJSON *content = hl_json_get(msg, "content");
  if (cJSON_IsString(content) && content->valuestring[0]) {
    st = hl_message_add_text(r->message, content->valuestring);
  } else if (cJSON_IsArray(content)) {
    /* Some compatible servers answer with content parts. */
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
      const char *t = hl_json_get_string(part, "text");
      if (t && *t && st == HL_OK) st = hl_message_add_text(r->message, t);
    }
  }
  /* A refusal comes apart from the content (which is then null): it is
   * the answer's text, and the finish says the model refused. */
  const char *refusal = hl_json_get_string(msg, "refusal");
  bool refused = refusal && *refusal;
  if (refused && st == HL_OK) st = hl_message_add_text(r->message, refusal);
  const cJSON *calls = hl_json_get(msg, "tool_calls");
  const cJSON *tc;
  int i = 0;
  cJSON_ArrayForEach(tc, calls) {
    if (st != HL_OK) break;
    const cJSON *fn = hl_json_get(tc, "function");
    const char *name = hl_json_get_string(fn, "name");
    const char *id = hl_json_get_string(tc, "id");
    char gen_id[32];
    if (!id || !*id) {
      snprintf(gen_id, sizeof gen_id, "call_%d", i);
      id = gen_id;
    }
    if (!name || !*name) {
      st = hl_fail(HL_ERR_PROVIDER, "openai: tool call %d (id %s) has no function name", i, id);
      break;
    }
    const cJSON *a = hl_json_get(fn, "arguments");
    cJSON *args = NULL;
    if (cJSON_IsObject(a)) {
      args = cJSON_Duplicate(a, 1);
      if (!args) st = hl_fail(HL_ERR_NOMEM, "openai: out of memory");
    } else if (cJSON_IsString(a)) {
      st = hl__llm_parse_args(l, a->valuestring, strlen(a->valuestring), name, id, &args);
    } else if (!a || cJSON_IsNull(a)) {
      st = hl__llm_parse_args(l, "", 0, name, id, &args);
    } else {
      st = hl_fail(HL_ERR_PROVIDER, "openai: arguments of tool call \"%s\" (id %s) are not a JSON object", name, id);
    }
    if (st == HL_OK) st = hl__message_add_tool_call_take(r->message, id, name, args);
    else cJSON_Delete(args);
    i++;
  }
  if (st == HL_OK) st = hl__llm_set_ids(r, j);
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  r->finish = refused ? HL_FINISH_CONTENT_FILTER : finish_of(hl_json_get_string(choice, "finish_reason"));
  if ((st = filtered_check(r)) != HL_OK) {
    hl_response_free(r);
    return st;
  }
  usage_of(hl_json_get(j, "usage"), &r->usage);
  *out = r;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming                                                           */
/* ------------------------------------------------------------------ */

typedef struct oa_call {
  char *id, *name;
  hl__buf args;
  bool used;
} oa_call;

typedef struct oa_stream {
  hl__llm_stream base;  /* l, ctx, the response being built, events */
  hl__buf text;
  hl__buf refusal;      /* delta.refusal fragments */
  oa_call *calls;
  size_t n_calls;       /* highest index + 1, or more (slot_of) */
  /* Where the fragments of each index go once a call reused an index
   * (slot + 1; 0: the index's own slot); NULL until then. */
  size_t *slot_of;
  bool done, finish_seen;
} oa_stream;

static void stream_free(hl__llm_stream *base) {
  oa_stream *s = (oa_stream *)base;
  for (size_t i = 0; i < s->n_calls; i++) {
    free(s->calls[i].id);
    free(s->calls[i].name);
    hl__buf_free(&s->calls[i].args);
  }
  free(s->calls);
  free(s->slot_of);
  hl__buf_free(&s->text);
  hl__buf_free(&s->refusal);
}

/* Make calls[0 .. k] exist (new ones zeroed). */
static hl_status grow_calls(oa_stream *s, size_t k) {
  if (k < s->n_calls) return HL_OK;
  oa_call *nc = realloc(s->calls, (k + 1) * sizeof *nc);
  if (!nc) return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
  memset(nc + s->n_calls, 0, (k + 1 - s->n_calls) * sizeof *nc);
  s->calls = nc;
  s->n_calls = k + 1;
  return HL_OK;
}

static hl_status stream_tool_delta(oa_stream *s, const cJSON *tc, size_t position) {
  double idx = hl_json_get_number(tc, "index", (double)position);
  if (idx < 0 || idx >= OA_MAX_TOOL_CALLS || idx != (double)(size_t)idx)
    return hl_fail(HL_ERR_PROVIDER, "openai: stream tool call index %g out of range", idx);
  size_t index = (size_t)idx;
  size_t k = s->slot_of && s->slot_of[index] ? s->slot_of[index] - 1 : index;
  const char *id = hl_json_get_string(tc, "id");
  if (k < s->n_calls && id && *id && s->calls[k].id && strcmp(s->calls[k].id, id)) {
    /* Another id at the index of a call under way: a server that numbers
     * every call 0 (some compatible ones do). A new call, in the slot after
     * the last, where this index's later fragments go too. (A call whose
     * own index is that slot comes with its id, differs, and moves on.) */
    k = s->n_calls;
    if (k >= OA_MAX_TOOL_CALLS)
      return hl_fail(HL_ERR_PROVIDER, "openai: more than %d streamed tool calls", OA_MAX_TOOL_CALLS);
    if (!s->slot_of && !(s->slot_of = calloc(OA_MAX_TOOL_CALLS, sizeof *s->slot_of)))
      return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
    s->slot_of[index] = k + 1;
  }
  if (grow_calls(s, k) != HL_OK) return HL_ERR_NOMEM;
  oa_call *c = &s->calls[k];
  c->used = true;
  const cJSON *fn = hl_json_get(tc, "function");
  const char *name = hl_json_get_string(fn, "name");
  const char *args = hl_json_get_string(fn, "arguments");
  if (id && *id && !c->id && hl__llm_strdup(id, &c->id) != HL_OK) return HL_ERR_NOMEM;
  if (name && *name && !c->name && hl__llm_strdup(name, &c->name) != HL_OK) return HL_ERR_NOMEM;
  if (args) {
    hl_status st = hl__buf_append(&c->args, args, strlen(args));
    if (st == HL_OK && *args && s->base.ctx)
      st = hl_context_emit_tool_delta(s->base.ctx, k, c->id, c->name, args);
    return st;
  }
  /* A server that sends the arguments as an object in one piece. */
  const cJSON *obj = hl_json_get(fn, "arguments");
  if (cJSON_IsObject(obj)) {
    char *t = hl__json_print_exact(obj);
    if (!t) return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
    hl_status st = hl__buf_append(&c->args, t, strlen(t));
    free(t);
    return st;
  }
  return HL_OK;
}

static hl_status stream_event(const char *event, const char *data, size_t len, void *user) {
  oa_stream *s = user;
  (void)event;
  hl_response *r = s->base.r;
  if (s->done) return HL_OK;
  s->base.events++;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    s->done = true;
    return HL_OK;
  }
  cJSON *j = NULL;
  hl_status st = hl__llm_parse_event(&s->base, data, len, &j);
  if (st != HL_OK) return st;
  st = body_error(j);
  if (st == HL_OK) st = hl__llm_set_ids(r, j);
  const cJSON *usage = hl_json_get(j, "usage");
  if (st == HL_OK && cJSON_IsObject(usage)) usage_of(usage, &r->usage);
  const cJSON *choice = choice_0(j, false);
  const cJSON *delta = hl_json_get(choice, "delta");
  for (int k = 0; k < 2; k++) {
    const char *text = hl_json_get_string(delta, k ? "refusal" : "content");
    if (st == HL_OK && text && *text) {
      st = hl__buf_append(k ? &s->refusal : &s->text, text, strlen(text));
      if (st == HL_OK && s->base.ctx) st = hl_context_emit_delta(s->base.ctx, text);
    }
  }
  const cJSON *tc;
  size_t pos = 0;
  cJSON_ArrayForEach(tc, hl_json_get(delta, "tool_calls")) {
    if (st != HL_OK) break;
    st = stream_tool_delta(s, tc, pos++);
  }
  const char *fr = hl_json_get_string(choice, "finish_reason");
  if (st == HL_OK && fr) {
    r->finish = finish_of(fr);
    s->finish_seen = true;
  }
  cJSON_Delete(j);
  return st;
}

/* Move what the stream collected into its response. */
static hl_status stream_assemble(hl__llm_stream *base, hl_response **out) {
  oa_stream *s = (oa_stream *)base;
  hl_response *r = base->r;
  if (!s->done && !s->finish_seen)
    return hl_fail(HL_ERR_PROVIDER, "openai: the stream ended before [DONE] (after %zu events)",
                   base->events);
  hl_status st = HL_OK;
  if (s->text.len > 0) st = hl_message_add_text(r->message, s->text.p);
  if (s->refusal.len > 0) { /* as decode_body() has it */
    if (st == HL_OK) st = hl_message_add_text(r->message, s->refusal.p);
    r->finish = HL_FINISH_CONTENT_FILTER;
  }
  for (size_t i = 0; i < s->n_calls && st == HL_OK; i++) {
    oa_call *c = &s->calls[i];
    if (!c->used) continue;
    char gen_id[32];
    if (!c->id) snprintf(gen_id, sizeof gen_id, "call_%zu", i);
    const char *id = c->id ? c->id : gen_id;
    if (!c->name) {
      st = hl_fail(HL_ERR_PROVIDER, "openai: streamed tool call %zu (id %s) has no function name", i, id);
      break;
    }
    cJSON *args = NULL;
    st = hl__llm_parse_args(base->l, c->args.p ? c->args.p : "", c->args.len, c->name, id, &args);
    if (st == HL_OK) st = hl__message_add_tool_call_take(r->message, id, c->name, args);
    else cJSON_Delete(args);
  }
  if (st == HL_OK) st = filtered_check(r);
  if (st != HL_OK) return st;
  *out = r;
  base->r = NULL;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* The provider                                                        */
/* ------------------------------------------------------------------ */

static const hl__llm_wire openai_wire = {
    .path = "/chat/completions",
    .key_header = "Authorization: Bearer ",
    .write = write_request,
    .decode = decode_body,
    .stream_size = sizeof(oa_stream),
    .stream_event = stream_event,
    .stream_assemble = stream_assemble,
    .stream_free = stream_free,
};

/* For the fuzz targets (tests/fuzz), which drive the decoders directly. */
const hl__llm_wire *hl__openai_wire(void) { return &openai_wire; }

static hl_status openai_complete(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_response **out) {
  hl__llm *l = impl;
  hl_status st = hl__llm_complete(l, &openai_wire, ctx, req, out);
  /* Reasoning models refuse max_tokens ("Use 'max_completion_tokens'
   * instead"): learn it once for this provider and ask again. */
  int mode = HL__LLM_MAX_TOKENS_AUTO;
  if (st == HL_ERR_HTTP && req->max_tokens > 0 && strstr(hl_last_error(), "max_completion_tokens") &&
      __atomic_compare_exchange_n(&l->max_tokens_field, &mode, HL__LLM_MAX_COMPLETION_TOKENS, false,
                                  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    st = hl__llm_complete(l, &openai_wire, ctx, req, out);
  return st;
}

static void openai_destroy(void *impl) { hl__llm_free(impl); }

/* The asynchronous call: the same second chance for max_completion_tokens,
 * taken from the completion (loop thread); `req` stays valid until the
 * caller's done runs. */
typedef struct openai_async {
  hl__llm *l;
  hl_context *ctx;
  const hl_request *req;
  hl_provider_done_fn done;
  void *user;
} openai_async;

static void openai_async_done(hl_status st, hl_response *resp, void *user) {
  openai_async *a = user;
  int mode = HL__LLM_MAX_TOKENS_AUTO;
  if (st == HL_ERR_HTTP && a->req->max_tokens > 0 && strstr(hl_last_error(), "max_completion_tokens") &&
      __atomic_compare_exchange_n(&a->l->max_tokens_field, &mode, HL__LLM_MAX_COMPLETION_TOKENS, false,
                                  __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    if (hl__llm_start(a->l, &openai_wire, a->ctx, a->req, openai_async_done, a) == HL_OK) return;
    st = hl_last_status();
  }
  hl_provider_done_fn done = a->done;
  void *u = a->user;
  free(a);
  done(st, resp, u);
}

static hl_status openai_start(void *impl, hl_context *ctx, const hl_request *req,
                              hl_provider_done_fn done, void *user) {
  openai_async *a = malloc(sizeof *a);
  if (!a) return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
  *a = (openai_async){impl, ctx, req, done, user};
  hl_status st = hl__llm_start(impl, &openai_wire, ctx, req, openai_async_done, a);
  if (st != HL_OK) free(a);
  return st;
}

static const hl_provider_ops openai_ops = {
    .size = sizeof(hl_provider_ops),
    .name = openai_name,
    .complete = openai_complete,
    .destroy = openai_destroy,
    .start = openai_start,
};

hl_provider *hl_openai_new(const char *base_url, const char *api_key) {
  hl__llm *l = hl__llm_new(openai_name, base_url, "OPENAI_BASE_URL", HL_OPENAI_DEFAULT_BASE_URL,
                           api_key, "OPENAI_API_KEY");
  if (!l) return NULL;
  hl_provider *p = hl_provider_new(&openai_ops, l);
  if (!p) {
    hl__llm_free(l);
    hl_fail(HL_ERR_NOMEM, "openai: out of memory");
  }
  return p;
}

hl_status hl_openai_set_model(hl_provider *p, const char *model) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_set_model(l, model) : HL_ERR_INVALID;
}

hl_status hl_openai_add_header(hl_provider *p, const char *name, const char *value) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_add_header(l, name, value) : HL_ERR_INVALID;
}

hl_status hl_openai_set_timeouts(hl_provider *p, long connect_ms, long total_ms, long idle_ms) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_set_timeouts(l, connect_ms, total_ms, idle_ms) : HL_ERR_INVALID;
}

hl_status hl_openai_set_retries(hl_provider *p, int max_retries, long base_ms, long max_ms) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_set_retries(l, max_retries, base_ms, max_ms) : HL_ERR_INVALID;
}

hl_status hl_openai_set_max_response_bytes(hl_provider *p, size_t max_bytes) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_set_max_response_bytes(l, max_bytes) : HL_ERR_INVALID;
}

hl_status hl_openai_set_http_version(hl_provider *p, hl_http_version version) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_set_http_version(l, (int)version) : HL_ERR_INVALID;
}

hl_status hl_openai_set_ca_file(hl_provider *p, const char *path) {
  hl__llm *l = hl__llm_of(p, openai_name);
  return l ? hl__llm_set_ca_file(l, path) : HL_ERR_INVALID;
}

hl_status hl_openai_set_max_completion_tokens(hl_provider *p, bool use) {
  hl__llm *l = hl__llm_of(p, openai_name);
  if (!l) return HL_ERR_INVALID;
  __atomic_store_n(&l->max_tokens_field, use ? HL__LLM_MAX_COMPLETION_TOKENS : HL__LLM_MAX_TOKENS,
                   __ATOMIC_RELAXED);
  return HL_OK;
}

hl_status hl_openai_set_reasoning_effort(hl_provider *p, const char *effort) {
  hl__llm *l = hl__llm_of(p, openai_name);
  if (!l) return HL_ERR_INVALID;
  cJSON *v = effort ? cJSON_CreateString(effort) : NULL;
  if (effort && !v) return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
  return hl__llm_set_option(l, "reasoning_effort", v);
}

hl_status hl_openai_set_parallel_tool_calls(hl_provider *p, bool parallel) {
  hl__llm *l = hl__llm_of(p, openai_name);
  if (!l) return HL_ERR_INVALID;
  cJSON *v = cJSON_CreateBool(parallel);
  if (!v) return hl_fail(HL_ERR_NOMEM, "openai: out of memory");
  return hl__llm_set_option(l, "parallel_tool_calls", v);
}

void hl_openai_cancel(hl_provider *p) {
  hl__llm *l = hl__llm_of(p, openai_name);
  if (l) hl__http_cancel_all(l->http);
  else hl_clear_error();
}
