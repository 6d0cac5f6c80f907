/*
 * anthropic.c - the Anthropic Messages wire format (see anthropic.h).
 *
 * The API wants strictly alternating user/assistant messages made of
 * content blocks, the system prompt apart, and tool results as
 * tool_result blocks at the start of a user message. hookline's messages
 * are mapped onto that: system messages go to "system", tool messages
 * become user messages, and consecutive messages of one role are merged.
 * A stream is a sequence of typed events; content blocks are assembled by
 * their index so the result is the same hl_response as the plain body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/anthropic.h"
#include "hookline/json.h"
#include "core/util.h"
#include "providers/llm.h"

static const char anthropic_name[] = "anthropic";

#define AN_MAX_BLOCKS 1024

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static hl_status oom(void) { return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory encoding the request"); }

static cJSON *block_for(const hl_part *p) {
  cJSON *b = cJSON_CreateObject();
  if (!b) return NULL;
  bool ok = true;
  switch (p->kind) {
  case HL_PART_TEXT:
    ok = cJSON_AddStringToObject(b, "type", "text") &&
         cJSON_AddStringToObject(b, "text", p->text ? p->text : "");
    break;
  case HL_PART_TOOL_CALL: {
    cJSON *input = p->args ? cJSON_Duplicate(p->args, 1) : cJSON_CreateObject();
    ok = cJSON_AddStringToObject(b, "type", "tool_use") &&
         cJSON_AddStringToObject(b, "id", p->id ? p->id : "") &&
         cJSON_AddStringToObject(b, "name", p->name ? p->name : "") && input &&
         cJSON_AddItemToObject(b, "input", input);
    if (!ok && input && !cJSON_GetObjectItemCaseSensitive(b, "input")) cJSON_Delete(input);
    break;
  }
  case HL_PART_TOOL_RESULT:
    ok = cJSON_AddStringToObject(b, "type", "tool_result") &&
         cJSON_AddStringToObject(b, "tool_use_id", p->id ? p->id : "") &&
         cJSON_AddStringToObject(b, "content", p->text ? p->text : "") &&
         (!p->is_error || cJSON_AddTrueToObject(b, "is_error"));
    break;
  case HL_PART_REASONING: /* another provider's: encode_message() skips it */
    ok = false;
    break;
  }
  if (!ok) {
    cJSON_Delete(b);
    return NULL;
  }
  return b;
}

/* Append the blocks of `m` to the last message if it has the same role,
 * else to a new message. Tool results go first in a user message. */
static hl_status encode_message(cJSON *msgs, const hl_message *m) {
  const char *role = m->role == HL_ROLE_ASSISTANT ? "assistant" : "user";
  size_t wanted = 0;
  for (size_t i = 0; i < m->n_parts; i++) {
    const hl_part *p = &m->parts[i];
    if (p->kind == HL_PART_TEXT && (!p->text || !*p->text)) continue; /* the API rejects empty text */
    if (p->kind == HL_PART_REASONING) continue;
    if (p->kind == HL_PART_TOOL_RESULT && m->role == HL_ROLE_ASSISTANT) continue;
    wanted++;
  }
  if (wanted == 0) return HL_OK;
  cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
  cJSON *content = NULL;
  if (last && !strcmp(hl_json_get_string(last, "role") ? hl_json_get_string(last, "role") : "", role)) {
    content = cJSON_GetObjectItemCaseSensitive(last, "content");
  } else {
    cJSON *msg = cJSON_CreateObject();
    if (!hl__llm_push(msgs, msg)) return oom();
    if (!cJSON_AddStringToObject(msg, "role", role) || !(content = cJSON_AddArrayToObject(msg, "content")))
      return oom();
  }
  /* Two passes: tool results first, then the rest in order. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < m->n_parts; i++) {
      const hl_part *p = &m->parts[i];
      bool result = p->kind == HL_PART_TOOL_RESULT;
      if ((pass == 0) != result) continue;
      if (result && m->role == HL_ROLE_ASSISTANT) continue;
      if (p->kind == HL_PART_TEXT && (!p->text || !*p->text)) continue;
      if (p->kind == HL_PART_REASONING) continue;
      if (result && pass == 0) {
        /* Results must lead the user message even when it was merged. */
        cJSON *b = block_for(p);
        if (!b) return oom();
        int k = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, content) {
          const char *t = hl_json_get_string(e, "type");
          if (!t || strcmp(t, "tool_result")) break;
          k++;
        }
        if (!cJSON_InsertItemInArray(content, k, b)) {
          cJSON_Delete(b);
          return oom();
        }
      } else if (!hl__llm_push(content, block_for(p))) {
        return oom();
      }
    }
  }
  return HL_OK;
}

static hl_status encode_request(const hl__llm *l, const hl_request *req, const char *model,
                                cJSON **out) {
  *out = NULL;
  hl__buf system = {0};
  cJSON *j = cJSON_CreateObject();
  if (!j || !cJSON_AddStringToObject(j, "model", model)) goto oom;
  cJSON *msgs = cJSON_CreateArray();
  if (!msgs) goto oom;
  for (size_t i = 0; i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    if (!m) continue;
    if (m->role == HL_ROLE_SYSTEM) {
      for (size_t k = 0; k < m->n_parts; k++) {
        const hl_part *p = &m->parts[k];
        if (p->kind != HL_PART_TEXT || !p->text || !*p->text) continue;
        if ((system.len && hl__buf_append(&system, "\n\n", 2) != HL_OK) ||
            hl__buf_append(&system, p->text, strlen(p->text)) != HL_OK) {
          cJSON_Delete(msgs);
          goto oom;
        }
      }
      continue;
    }
    if (encode_message(msgs, m) != HL_OK) {
      cJSON_Delete(msgs);
      goto fail;
    }
  }
  if (req->response_schema) {
    /* No json_schema response format in the Messages API: say it. */
    char *schema = hl__json_print_exact(req->response_schema);
    static const char intro[] =
        "Answer with only a JSON value (no prose, no code fence) that follows this JSON Schema: ";
    bool ok = schema && (!system.len || hl__buf_append(&system, "\n\n", 2) == HL_OK) &&
              hl__buf_append(&system, intro, sizeof intro - 1) == HL_OK &&
              hl__buf_append(&system, schema, strlen(schema)) == HL_OK;
    free(schema);
    if (!ok) {
      cJSON_Delete(msgs);
      goto oom;
    }
  }
  if (system.len && !cJSON_AddStringToObject(j, "system", system.p)) {
    cJSON_Delete(msgs);
    goto oom;
  }
  if (!cJSON_AddItemToObject(j, "messages", msgs)) {
    cJSON_Delete(msgs);
    goto oom;
  }
  if (!cJSON_AddNumberToObject(j, "max_tokens", req->max_tokens > 0 ? req->max_tokens : l->max_tokens))
    goto oom;
  if (req->n_tools > 0) {
    cJSON *tools = cJSON_AddArrayToObject(j, "tools");
    if (!tools) goto oom;
    for (size_t i = 0; i < req->n_tools; i++) {
      const hl_tool_decl *d = &req->tools[i];
      cJSON *t = cJSON_CreateObject();
      if (!hl__llm_push(tools, t)) goto oom;
      cJSON *schema = d->parameters ? cJSON_Duplicate(d->parameters, 1)
                                    : hl__empty_object_schema();
      if (!cJSON_AddStringToObject(t, "name", d->name ? d->name : "") ||
          (d->description && !cJSON_AddStringToObject(t, "description", d->description)) ||
          !schema || !cJSON_AddItemToObject(t, "input_schema", schema)) {
        cJSON_Delete(schema);
        goto oom;
      }
    }
    if (req->tool_choice != HL_TOOL_CHOICE_AUTO) {
      cJSON *tc = cJSON_AddObjectToObject(j, "tool_choice");
      if (!tc) goto oom;
      const char *type = req->tool_choice == HL_TOOL_CHOICE_NONE     ? "none"
                         : req->tool_choice == HL_TOOL_CHOICE_REQUIRED ? "any"
                                                                       : "tool";
      if (!cJSON_AddStringToObject(tc, "type", type)) goto oom;
      if (req->tool_choice == HL_TOOL_CHOICE_NAMED) {
        if (!req->tool_choice_name || !*req->tool_choice_name) {
          hl_fail(HL_ERR_INVALID, "anthropic: tool choice NAMED without a tool name");
          goto fail;
        }
        if (!cJSON_AddStringToObject(tc, "name", req->tool_choice_name)) goto oom;
      }
    }
  }
  if (req->temperature >= 0 && !cJSON_AddNumberToObject(j, "temperature", req->temperature)) goto oom;
  if (req->n_stop > 0) {
    cJSON *stop = cJSON_AddArrayToObject(j, "stop_sequences");
    if (!stop) goto oom;
    for (size_t i = 0; i < req->n_stop; i++)
      if (!hl__llm_push(stop, cJSON_CreateString(req->stop[i] ? req->stop[i] : ""))) goto oom;
  }
  if (req->stream && !cJSON_AddTrueToObject(j, "stream")) goto oom;
  hl__buf_free(&system);
  *out = j;
  return HL_OK;
oom:
  oom();
fail:
  hl__buf_free(&system);
  cJSON_Delete(j);
  return hl_last_status();
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

static hl_finish_reason finish_of(const char *s) {
  if (!s) return HL_FINISH_UNKNOWN;
  if (!strcmp(s, "end_turn") || !strcmp(s, "stop_sequence")) return HL_FINISH_STOP;
  if (!strcmp(s, "tool_use")) return HL_FINISH_TOOL_CALLS;
  if (!strcmp(s, "max_tokens")) return HL_FINISH_LENGTH;
  if (!strcmp(s, "refusal")) return HL_FINISH_CONTENT_FILTER;
  return HL_FINISH_UNKNOWN;
}

/* A cache count of the usage object: 0 when absent; false when present
 * but not a token count. */
static bool cache_count(const cJSON *u, const char *key, int64_t *out) {
  const cJSON *v = hl_json_get(u, key);
  *out = 0;
  return !v || hl__json_token_count(v, out);
}

/* Input tokens include the prompt-cache reads and writes the API counts
 * apart. Fields absent from `u` leave `out` as it is (message_delta only
 * carries the output count). A count that is not a whole number from 0
 * to 2^53 (server-controlled: negative, fractional, 1e300), or an input
 * total above 2^53, is ignored like an absent one: the answer is not lost
 * over a bad statistic (documented in anthropic.h). */
static void usage_of(const cJSON *u, hl_usage *out) {
  if (!cJSON_IsObject(u)) return;
  int64_t in, created, read, n;
  if (hl__json_token_count(hl_json_get(u, "input_tokens"), &in) &&
      cache_count(u, "cache_creation_input_tokens", &created) &&
      cache_count(u, "cache_read_input_tokens", &read) &&
      (double)(in + created + read) <= HL__TOKEN_COUNT_MAX) /* each <= 2^53: no overflow */
    out->input_tokens = in + created + read;
  if (hl__json_token_count(hl_json_get(u, "output_tokens"), &n)) out->output_tokens = n;
}

static hl_status error_of(const cJSON *j, const char *where) {
  const cJSON *err = hl_json_get(j, "error");
  const char *type = hl_json_get_string(j, "type");
  if (!err && !(type && !strcmp(type, "error"))) return HL_OK;
  const char *m = hl_json_get_string(err, "message");
  const char *et = hl_json_get_string(err, "type");
  return hl_fail(HL_ERR_PROVIDER, "anthropic: the server reported an error%s: %s%s%s%s", where,
                 m ? m : "(no message)", et ? " (" : "", et ? et : "", et ? ")" : "");
}

static hl_status add_tool_use(const hl__llm *l, hl_message *m, const char *id, const char *name,
                              const cJSON *input, const char *json, size_t json_len) {
  if (!name || !*name)
    return hl_fail(HL_ERR_PROVIDER, "anthropic: tool_use block (id %s) has no name", id ? id : "?");
  cJSON *args = NULL;
  hl_status st;
  if (json_len > 0) {
    st = hl__llm_parse_args(l, json, json_len, name, id, &args);
  } else if (cJSON_IsObject(input)) {
    args = cJSON_Duplicate(input, 1);
    st = args ? HL_OK : hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  } else if (!input || cJSON_IsNull(input)) {
    st = hl__llm_parse_args(l, "", 0, name, id, &args);
  } else {
    st = hl_fail(HL_ERR_PROVIDER, "anthropic: input of tool call \"%s\" (id %s) is not a JSON object",
                 name, id ? id : "?");
  }
  if (st == HL_OK) st = hl_message_add_tool_call(m, id ? id : "", name, args);
  cJSON_Delete(args);
  return st;
}

static hl_status decode_body(const hl__llm *l, const cJSON *j, hl_response **out) {
  *out = NULL;
  hl_status st = error_of(j, "");
  if (st != HL_OK) return st;
  const cJSON *content = hl_json_get(j, "content");
  if (!cJSON_IsArray(content)) return hl_fail(HL_ERR_PROVIDER, "anthropic: response has no content array");
  hl_response *r = hl_response_new();
  if (!r) return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  const cJSON *b;
  cJSON_ArrayForEach(b, content) {
    const char *type = hl_json_get_string(b, "type");
    if (!type) continue;
    if (!strcmp(type, "text")) {
      const char *t = hl_json_get_string(b, "text");
      if (t && *t) st = hl_message_add_text(r->message, t);
    } else if (!strcmp(type, "tool_use")) {
      st = add_tool_use(l, r->message, hl_json_get_string(b, "id"), hl_json_get_string(b, "name"),
                        hl_json_get(b, "input"), NULL, 0);
    }
    /* thinking, redacted_thinking, server tool blocks: not part of the answer */
    if (st != HL_OK) break;
  }
  if (st == HL_OK) st = hl__llm_set_ids(r, j);
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  r->finish = finish_of(hl_json_get_string(j, "stop_reason"));
  usage_of(hl_json_get(j, "usage"), &r->usage);
  *out = r;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming                                                           */
/* ------------------------------------------------------------------ */

typedef enum an_kind { AN_OTHER = 0, AN_TEXT, AN_TOOL } an_kind;

typedef struct an_block {
  an_kind kind;
  bool started;
  char *id, *name;
  cJSON *input;    /* tool_use input given in content_block_start */
  hl__buf buf;     /* text, or the tool's input JSON text */
} an_block;

typedef struct an_stream {
  hl__llm_stream base;  /* l, ctx, the response being built, events */
  an_block *blocks;
  size_t n_blocks;
  bool stopped;
} an_stream;

static void stream_free(hl__llm_stream *base) {
  an_stream *s = (an_stream *)base;
  for (size_t i = 0; i < s->n_blocks; i++) {
    free(s->blocks[i].id);
    free(s->blocks[i].name);
    cJSON_Delete(s->blocks[i].input);
    hl__buf_free(&s->blocks[i].buf);
  }
  free(s->blocks);
}

static an_block *block_at(an_stream *s, const cJSON *j) {
  double idx = hl_json_get_number(j, "index", -1);
  if (idx < 0 || idx >= AN_MAX_BLOCKS || idx != (double)(size_t)idx) {
    hl_fail(HL_ERR_PROVIDER, "anthropic: stream event %zu has a bad content block index",
            s->base.events);
    return NULL;
  }
  size_t k = (size_t)idx;
  if (k >= s->n_blocks) {
    an_block *nb = realloc(s->blocks, (k + 1) * sizeof *nb);
    if (!nb) {
      hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
      return NULL;
    }
    memset(nb + s->n_blocks, 0, (k + 1 - s->n_blocks) * sizeof *nb);
    s->blocks = nb;
    s->n_blocks = k + 1;
  }
  return &s->blocks[k];
}

static hl_status on_block_start(an_stream *s, const cJSON *j) {
  an_block *b = block_at(s, j);
  if (!b) return hl_last_status();
  /* A second start for the same index would leave two versions of one
   * block (and whatever the first start allocated): the stream is broken. */
  if (b->started)
    return hl_fail(HL_ERR_PROVIDER, "anthropic: stream event %zu: content block %zu started twice",
                   s->base.events, (size_t)(b - s->blocks));
  const cJSON *cb = hl_json_get(j, "content_block");
  const char *type = hl_json_get_string(cb, "type");
  b->started = true;
  if (type && !strcmp(type, "text")) {
    b->kind = AN_TEXT;
    const char *t = hl_json_get_string(cb, "text");
    if (t && *t) {
      hl_status st = hl__buf_append(&b->buf, t, strlen(t));
      if (st != HL_OK) return st;
      if (s->base.ctx) st = hl_context_emit_delta(s->base.ctx, t);
      if (st != HL_OK) return st;
    }
  } else if (type && !strcmp(type, "tool_use")) {
    b->kind = AN_TOOL;
    if (hl__llm_strdup(hl_json_get_string(cb, "id"), &b->id) != HL_OK ||
        hl__llm_strdup(hl_json_get_string(cb, "name"), &b->name) != HL_OK)
      return HL_ERR_NOMEM;
    const cJSON *input = hl_json_get(cb, "input");
    if (cJSON_IsObject(input) && cJSON_GetArraySize(input) > 0 && !(b->input = cJSON_Duplicate(input, 1)))
      return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  }
  return HL_OK;
}

static hl_status on_block_delta(an_stream *s, const cJSON *j) {
  an_block *b = block_at(s, j);
  if (!b) return hl_last_status();
  const cJSON *d = hl_json_get(j, "delta");
  const char *type = hl_json_get_string(d, "type");
  if (!type) return HL_OK;
  if (!strcmp(type, "text_delta")) {
    const char *t = hl_json_get_string(d, "text");
    if (!t || !*t) return HL_OK;
    if (!b->started) b->kind = AN_TEXT; /* tolerate a missing block start */
    if (b->kind != AN_TEXT)
      return hl_fail(HL_ERR_PROVIDER, "anthropic: text_delta for a non-text block");
    hl_status st = hl__buf_append(&b->buf, t, strlen(t));
    if (st == HL_OK && s->base.ctx) st = hl_context_emit_delta(s->base.ctx, t);
    return st;
  }
  if (!strcmp(type, "input_json_delta")) {
    const char *t = hl_json_get_string(d, "partial_json");
    if (b->kind != AN_TOOL)
      return hl_fail(HL_ERR_PROVIDER, "anthropic: input_json_delta for a block that is not tool_use");
    hl_status st = t ? hl__buf_append(&b->buf, t, strlen(t)) : HL_OK;
    if (st == HL_OK && t && *t && s->base.ctx)
      st = hl_context_emit_tool_delta(s->base.ctx, (size_t)(b - s->blocks), b->id, b->name, t);
    return st;
  }
  return HL_OK; /* thinking_delta, signature_delta, citations: not part of the answer */
}

static hl_status stream_event(const char *event, const char *data, size_t len, void *user) {
  an_stream *s = user;
  (void)event; /* the data's "type" says the same, and always comes */
  hl_response *r = s->base.r;
  s->base.events++;
  cJSON *j = NULL;
  hl_status st = hl__llm_parse_event(&s->base, data, len, &j);
  if (st != HL_OK) return st;
  const char *type = hl_json_get_string(j, "type");
  if (!type) {
    st = hl_fail(HL_ERR_PROVIDER, "anthropic: stream event %zu has no type", s->base.events);
  } else if (!strcmp(type, "error")) {
    st = error_of(j, " in the stream");
  } else if (s->stopped) {
    /* nothing counts after message_stop */
  } else if (!strcmp(type, "message_start")) {
    const cJSON *m = hl_json_get(j, "message");
    st = hl__llm_set_ids(r, m);
    usage_of(hl_json_get(m, "usage"), &r->usage);
  } else if (!strcmp(type, "content_block_start")) {
    st = on_block_start(s, j);
  } else if (!strcmp(type, "content_block_delta")) {
    st = on_block_delta(s, j);
  } else if (!strcmp(type, "message_delta")) {
    const char *sr = hl_json_get_string(hl_json_get(j, "delta"), "stop_reason");
    if (sr) r->finish = finish_of(sr);
    usage_of(hl_json_get(j, "usage"), &r->usage);
  } else if (!strcmp(type, "message_stop")) {
    s->stopped = true;
  }
  /* ping, content_block_stop and future event types need nothing. */
  cJSON_Delete(j);
  return st;
}

static hl_status stream_assemble(hl__llm_stream *base, hl_response **out) {
  an_stream *s = (an_stream *)base;
  hl_response *r = base->r;
  if (!s->stopped)
    return hl_fail(HL_ERR_PROVIDER, "anthropic: the stream ended before message_stop (after %zu events)",
                   base->events);
  hl_status st = HL_OK;
  for (size_t i = 0; i < s->n_blocks && st == HL_OK; i++) {
    an_block *b = &s->blocks[i];
    if (b->kind == AN_TEXT && b->buf.len > 0) st = hl_message_add_text(r->message, b->buf.p);
    else if (b->kind == AN_TOOL)
      st = add_tool_use(base->l, r->message, b->id, b->name, b->input, b->buf.p, b->buf.len);
  }
  if (st != HL_OK) return st;
  *out = r;
  base->r = NULL;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* The provider                                                        */
/* ------------------------------------------------------------------ */

static void version_header(const hl__llm *l, char *buf, size_t size) {
  snprintf(buf, size, "anthropic-version: %s", l->version ? l->version : HL_ANTHROPIC_DEFAULT_VERSION);
}

static const hl__llm_wire anthropic_wire = {
    .path = "/messages",
    .fixed_header = version_header,
    .key_header = "x-api-key: ",
    .encode = encode_request,
    .decode = decode_body,
    .stream_size = sizeof(an_stream),
    .stream_event = stream_event,
    .stream_assemble = stream_assemble,
    .stream_free = stream_free,
};

/* For the fuzz targets (tests/fuzz), which drive the decoders directly. */
const hl__llm_wire *hl__anthropic_wire(void) { return &anthropic_wire; }

static hl_status anthropic_complete(void *impl, hl_context *ctx, const hl_request *req,
                                    hl_response **out) {
  return hl__llm_complete(impl, &anthropic_wire, ctx, req, out);
}

static hl_status anthropic_start(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_provider_done_fn done, void *user) {
  return hl__llm_start(impl, &anthropic_wire, ctx, req, done, user);
}

static void anthropic_destroy(void *impl) { hl__llm_free(impl); }

static const hl_provider_ops anthropic_ops = {
    .size = sizeof(hl_provider_ops),
    .name = anthropic_name,
    .complete = anthropic_complete,
    .destroy = anthropic_destroy,
    .start = anthropic_start,
};

hl_provider *hl_anthropic_new(const char *base_url, const char *api_key) {
  hl__llm *l = hl__llm_new(anthropic_name, base_url, "ANTHROPIC_BASE_URL",
                           HL_ANTHROPIC_DEFAULT_BASE_URL, api_key, "ANTHROPIC_API_KEY");
  if (!l) return NULL;
  hl_provider *p = hl_provider_new(&anthropic_ops, l);
  if (!p) {
    hl__llm_free(l);
    hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  }
  return p;
}

hl_status hl_anthropic_set_model(hl_provider *p, const char *model) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_set_model(l, model) : HL_ERR_INVALID;
}

hl_status hl_anthropic_set_max_tokens(hl_provider *p, int max_tokens) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  if (!l) return HL_ERR_INVALID;
  if (max_tokens <= 0) return hl_fail(HL_ERR_INVALID, "anthropic: max_tokens must be > 0");
  l->max_tokens = max_tokens;
  return HL_OK;
}

hl_status hl_anthropic_set_version(hl_provider *p, const char *version) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  if (!l) return HL_ERR_INVALID;
  if (!version || !*version || strpbrk(version, "\r\n") || strlen(version) > 64)
    return hl_fail(HL_ERR_INVALID, "anthropic: invalid version string");
  char *v = NULL;
  if (hl__llm_strdup(version, &v) != HL_OK) return HL_ERR_NOMEM;
  free(l->version);
  l->version = v;
  return HL_OK;
}

hl_status hl_anthropic_add_header(hl_provider *p, const char *name, const char *value) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_add_header(l, name, value) : HL_ERR_INVALID;
}

hl_status hl_anthropic_set_timeouts(hl_provider *p, long connect_ms, long total_ms, long idle_ms) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_set_timeouts(l, connect_ms, total_ms, idle_ms) : HL_ERR_INVALID;
}

hl_status hl_anthropic_set_retries(hl_provider *p, int max_retries, long base_ms, long max_ms) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_set_retries(l, max_retries, base_ms, max_ms) : HL_ERR_INVALID;
}

hl_status hl_anthropic_set_max_response_bytes(hl_provider *p, size_t max_bytes) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_set_max_response_bytes(l, max_bytes) : HL_ERR_INVALID;
}

void hl_anthropic_cancel(hl_provider *p) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  if (l) hl__http_cancel_all(l->http);
  else hl_clear_error();
}
