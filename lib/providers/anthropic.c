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
#include "hookline/model.h"
#include "core/image.h"
#include "core/model_internal.h"
#include "core/util.h"
#include "providers/llm.h"

static const char anthropic_name[] = "anthropic";

#define AN_MAX_BLOCKS 1024

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static hl_status oom(void) { return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory encoding the request"); }

/* Is `p` a thinking block this provider made (and must get back)? */
static bool own_thinking(const hl_part *p) {
  return p->kind == HL_PART_REASONING && p->name && !strcmp(p->name, anthropic_name) &&
         cJSON_IsObject(p->args);
}

/* Does `p` become a block of a message of role `role`? */
static bool block_wanted(const hl_part *p, hl_role role) {
  switch (p->kind) {
  case HL_PART_TEXT:
    return p->text && *p->text; /* the API rejects empty text */
  case HL_PART_REASONING:
    return own_thinking(p) && role == HL_ROLE_ASSISTANT; /* another provider's: left out */
  case HL_PART_TOOL_RESULT:
    return role != HL_ROLE_ASSISTANT;
  case HL_PART_IMAGE:
    return role == HL_ROLE_USER;
  case HL_PART_TOOL_CALL:
    return true;
  }
  return false;
}

static const char *hl__anthropic_answer_tool(const hl_request *req) {
  return req->response_format_name && *req->response_format_name ? req->response_format_name
                                                                 : "response";
}

/*
 * The payload is written straight into one buffer, key for key what the
 * cJSON tree it replaced printed (hl__json_print_exact(); the tests
 * compare the two texts), as Chat Completions' is: building, printing
 * and freeing the tree was ~310 k instructions per request at 20 tool
 * results, writing it ~46 k (callgrind). The tree an
 * API_REQUEST observer gets is parsed back from this text, only when one
 * listens (llm.c).
 *
 * Messages: consecutive ones of one role (tool messages are the user's;
 * system messages and messages with no block in between do not
 * separate them) make one API message, whose content is the tool
 * results of all of them first, in order, then their other blocks.
 */

static const char cache_mark[] = ",\"cache_control\":{\"type\":\"ephemeral\"}";

/* The "type" of the block `p` becomes. */
static const char *block_type(const hl_part *p) {
  switch (p->kind) {
  case HL_PART_TEXT:
    return "text";
  case HL_PART_TOOL_CALL:
    return "tool_use";
  case HL_PART_TOOL_RESULT:
    return "tool_result";
  case HL_PART_IMAGE:
    return "image";
  case HL_PART_REASONING:
    break;
  }
  const char *t = hl_json_get_string(p->args, "type");
  return t ? t : "";
}

/* The block for `p` (block_wanted()); `cache`: with a cache breakpoint. */
static void write_block(hl__jbuf *b, const hl_part *p, bool cache) {
  switch (p->kind) {
  case HL_PART_REASONING: {
    /* A thinking or redacted_thinking block goes back exactly as it came
     * (its signature covers it); a breakpoint replaces one it had. */
    if (!cache) {
      hl__jbuf_value(b, p->args);
      return;
    }
    bool first = true;
    const cJSON *c;
    hl__llm_lit(b, "{");
    cJSON_ArrayForEach(c, p->args) {
      if (c->string && !strcmp(c->string, "cache_control")) continue;
      if (!first) hl__llm_lit(b, ",");
      first = false;
      hl__llm_key(b, c->string);
      hl__jbuf_value(b, c);
    }
    hl__llm_lit(b, first ? cache_mark + 1 : cache_mark);
    hl__llm_lit(b, "}");
    return;
  }
  case HL_PART_TEXT:
    hl__llm_lit(b, "{\"type\":\"text\",\"text\":");
    hl__jbuf_string(b, p->text);
    break;
  case HL_PART_TOOL_CALL:
    hl__llm_lit(b, "{\"type\":\"tool_use\",\"id\":");
    hl__jbuf_string(b, p->id);
    hl__llm_lit(b, ",\"name\":");
    hl__jbuf_string(b, p->name);
    hl__llm_lit(b, ",\"input\":");
    if (p->args) hl__jbuf_value(b, p->args);
    else hl__llm_lit(b, "{}");
    break;
  case HL_PART_TOOL_RESULT:
    hl__llm_lit(b, "{\"type\":\"tool_result\",\"tool_use_id\":");
    hl__jbuf_string(b, p->id);
    hl__llm_lit(b, ",\"content\":");
    hl__jbuf_string(b, p->text);
    if (p->is_error) hl__llm_lit(b, ",\"is_error\":true");
    break;
  case HL_PART_IMAGE: {
    /* A data: URL as base64 with its media type, any other URL by
     * reference. */
    const char *type, *data;
    size_t type_len;
    if (p->text && hl__image_data_url(p->text, &type, &type_len, &data)) {
      char mt[128];
      snprintf(mt, sizeof mt, "%.*s", (int)(type_len < sizeof mt ? type_len : sizeof mt - 1), type);
      hl__llm_lit(b, "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":");
      hl__jbuf_string(b, mt);
      hl__llm_lit(b, ",\"data\":");
      hl__jbuf_string(b, data);
    } else {
      hl__llm_lit(b, "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":");
      hl__jbuf_string(b, p->text);
    }
    hl__llm_lit(b, "}");
    break;
  }
  }
  if (cache) hl__llm_lit(b, cache_mark);
  hl__llm_lit(b, "}");
}

/* The API role of `m`, or NULL when it has no block to send (a system
 * message, or nothing wanted). */
static const char *api_role(const hl_message *m) {
  if (!m || m->role == HL_ROLE_SYSTEM) return NULL;
  for (size_t i = 0; i < m->n_parts; i++)
    if (block_wanted(&m->parts[i], m->role)) return m->role == HL_ROLE_ASSISTANT ? "assistant" : "user";
  return NULL;
}

/* The last block of the conversation that can carry the cache
 * breakpoint (not thinking), or NULL: the last API message's blocks in
 * the order they are written, from the end. */
static const hl_part *cache_block(const hl_request *req) {
  const char *role = NULL;
  size_t first = req->messages.count;
  for (size_t i = req->messages.count; i-- > 0;) {
    const char *r = api_role(req->messages.items[i]);
    if (!r) continue;
    if (role && strcmp(r, role)) break;
    role = r;
    first = i;
  }
  for (int pass = 1; pass >= 0; pass--)
    for (size_t i = req->messages.count; i-- > first;) {
      const hl_message *m = req->messages.items[i];
      if (!api_role(m)) continue;
      for (size_t k = m->n_parts; k-- > 0;) {
        const hl_part *p = &m->parts[k];
        if ((pass == 0) != (p->kind == HL_PART_TOOL_RESULT) || !block_wanted(p, m->role)) continue;
        const char *t = block_type(p);
        if (strcmp(t, "thinking") && strcmp(t, "redacted_thinking")) return p;
      }
    }
  return NULL;
}

/* The messages array: each run of one role's messages from `i` on as
 * one API message (see above); `cached` gets the breakpoint. */
static void write_messages(hl__jbuf *b, const hl_request *req, const hl_part *cached) {
  hl__llm_lit(b, "[");
  size_t i = 0, n = req->messages.count;
  bool first_msg = true;
  while (i < n) {
    const char *role = api_role(req->messages.items[i]);
    if (!role) {
      i++;
      continue;
    }
    size_t end = i + 1; /* past the run's last message */
    for (size_t k = i + 1; k < n; k++) {
      const char *r = api_role(req->messages.items[k]);
      if (!r) continue;
      if (strcmp(r, role)) break;
      end = k + 1;
    }
    hl__llm_lit(b, first_msg ? "{\"role\":\"" : ",{\"role\":\"");
    first_msg = false;
    hl__llm_lit(b, role);
    hl__llm_lit(b, "\",\"content\":[");
    bool first = true;
    for (int pass = 0; pass < 2; pass++)
      for (size_t k = i; k < end; k++) {
        const hl_message *m = req->messages.items[k];
        if (!api_role(m)) continue;
        for (size_t j = 0; j < m->n_parts; j++) {
          const hl_part *p = &m->parts[j];
          if ((pass == 0) != (p->kind == HL_PART_TOOL_RESULT) || !block_wanted(p, m->role)) continue;
          if (!first) hl__llm_lit(b, ",");
          first = false;
          write_block(b, p, p == cached);
        }
      }
    hl__llm_lit(b, "]}");
    i = end;
  }
  hl__llm_lit(b, "]");
}

static void write_tool(hl__jbuf *b, const char *name, const char *description, const char *schema,
                       size_t schema_len, const cJSON *parameters, bool cache) {
  hl__llm_lit(b, "{");
  hl__llm_write_decl(b, name, description, ",\"input_schema\":", schema, schema_len, parameters);
  if (cache) hl__llm_lit(b, cache_mark);
  hl__llm_lit(b, "}");
}

/* The system prompt (the request's system texts, and the request for
 * the answer tool's call when thinking forbids forcing it) into `sys`. */
static void system_text(const hl_request *req, const char *answer_tool, bool thinking, hl__jbuf *sys) {
  for (size_t i = 0; i < req->messages.count; i++) {
    const hl_message *m = req->messages.items[i];
    for (size_t k = 0; m && m->role == HL_ROLE_SYSTEM && k < m->n_parts; k++) {
      const hl_part *p = &m->parts[k];
      if (p->kind != HL_PART_TEXT || !p->text || !*p->text) continue;
      if (sys->len) hl__llm_lit(sys, "\n\n");
      hl__llm_lit(sys, p->text);
    }
  }
  /* With extended thinking the API refuses a forced tool choice: the
   * model is told instead (and hl__anthropic_take_answer() still takes
   * the tool's input as the answer). */
  if (answer_tool && thinking) {
    if (sys->len) hl__llm_lit(sys, "\n\n");
    hl__llm_lit(sys, "Give your final answer by calling the tool \"");
    hl__llm_lit(sys, answer_tool);
    hl__llm_lit(sys, "\".");
  }
}

static hl_status write_request(const hl__llm *l, const hl_request *req, const char *model,
                               hl__jbuf *b) {
  bool thinking = l->options && cJSON_GetObjectItemCaseSensitive(l->options, "thinking");
  bool cache = (l->flags & HL__ANTHROPIC_CACHE) != 0;
  const char *answer_tool = NULL;
  if (req->response_schema) {
    answer_tool = hl__anthropic_answer_tool(req);
    for (size_t i = 0; i < req->n_tools; i++)
      if (req->tools[i].name && !strcmp(req->tools[i].name, answer_tool))
        return hl_fail(HL_ERR_INVALID,
                       "anthropic: the response format \"%s\" has the name of a tool: structured "
                       "output travels as a tool of that name; rename one of them", answer_tool);
  }
  hl_tool_choice choice = req->tool_choice;
  const char *choice_name = req->tool_choice_name;
  if (answer_tool && !thinking && choice == HL_TOOL_CHOICE_AUTO) {
    /* Structured output by a forced tool call: the answer tool alone, or
     * any tool when the agent has others to call first. */
    choice = req->n_tools > 0 ? HL_TOOL_CHOICE_REQUIRED : HL_TOOL_CHOICE_NAMED;
    choice_name = answer_tool;
  }
  bool tools = req->n_tools > 0 || answer_tool;
  if (tools && choice == HL_TOOL_CHOICE_NAMED && (!choice_name || !*choice_name))
    return hl_fail(HL_ERR_INVALID, "anthropic: tool choice NAMED without a tool name");
  hl__jbuf sys = {0};
  system_text(req, answer_tool, thinking, &sys);
  hl__jbuf_raw(b, "{", 1);
  size_t open = b->len;
  if (hl__llm_field(b, l, "model")) hl__jbuf_string(b, model);
  /* With prompt caching the system prompt is a block list so that it
   * can carry a cache breakpoint. */
  if (sys.len && hl__llm_field(b, l, "system")) {
    if (cache) hl__llm_lit(b, "[{\"type\":\"text\",\"text\":");
    hl__jbuf_string(b, sys.p);
    if (cache) {
      hl__llm_lit(b, cache_mark);
      hl__llm_lit(b, "}]");
    }
  }
  /* The last block of the conversation so far: the next request's cache
   * prefix ends there. Thinking blocks cannot carry a breakpoint. */
  if (hl__llm_field(b, l, "messages")) write_messages(b, req, cache ? cache_block(req) : NULL);
  if (hl__llm_field(b, l, "max_tokens"))
    hl__llm_number(b, req->max_tokens > 0 ? req->max_tokens : l->max_tokens);
  if (tools && hl__llm_field(b, l, "tools")) {
    hl__llm_lit(b, "[");
    for (size_t i = 0; i < req->n_tools; i++) {
      const hl_tool_decl *d = &req->tools[i];
      size_t n = 0;
      const char *text = hl__request_tool_schema_text(req, i, &n); /* the agent loop's */
      if (i) hl__llm_lit(b, ",");
      write_tool(b, d->name, d->description, text, n, d->parameters,
                 cache && !answer_tool && i + 1 == req->n_tools);
    }
    if (answer_tool) {
      if (req->n_tools) hl__llm_lit(b, ",");
      write_tool(b, answer_tool, "Give the final answer: its input is the whole answer.", NULL, 0,
                 req->response_schema, cache);
    }
    hl__llm_lit(b, "]");
  }
  if (tools && choice != HL_TOOL_CHOICE_AUTO && hl__llm_field(b, l, "tool_choice")) {
    hl__llm_lit(b, choice == HL_TOOL_CHOICE_NONE       ? "{\"type\":\"none\""
                   : choice == HL_TOOL_CHOICE_REQUIRED ? "{\"type\":\"any\""
                                                       : "{\"type\":\"tool\",\"name\":");
    if (choice == HL_TOOL_CHOICE_NAMED) hl__jbuf_string(b, choice_name);
    hl__llm_lit(b, "}");
  }
  if (req->temperature >= 0 && hl__llm_field(b, l, "temperature")) hl__llm_number(b, req->temperature);
  if (req->n_stop > 0 && hl__llm_field(b, l, "stop_sequences")) {
    for (size_t i = 0; i < req->n_stop; i++) {
      hl__llm_lit(b, i ? "," : "[");
      hl__jbuf_string(b, req->stop[i]);
    }
    hl__llm_lit(b, "]");
  }
  if (req->stream && hl__llm_field(b, l, "stream")) hl__llm_lit(b, "true");
  hl__llm_close_fields(b, l, open, NULL);
  bool failed = b->failed || sys.failed;
  free(sys.p);
  return failed ? oom() : HL_OK;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

static hl_finish_reason finish_of(const char *s) {
  if (!s) return HL_FINISH_UNKNOWN;
  if (!strcmp(s, "end_turn") || !strcmp(s, "stop_sequence")) return HL_FINISH_STOP;
  if (!strcmp(s, "tool_use")) return HL_FINISH_TOOL_CALLS;
  /* The context window filled up: cut like max_tokens. */
  if (!strcmp(s, "max_tokens") || !strcmp(s, "model_context_window_exceeded")) return HL_FINISH_LENGTH;
  if (!strcmp(s, "refusal")) return HL_FINISH_CONTENT_FILTER;
  return HL_FINISH_UNKNOWN;
}

/* A refusal before any word leaves no answer to give: an error, else an
 * empty answer would pass for a normal one. */
static hl_status stop_check(const char *stop_reason, const hl_message *m) {
  if (stop_reason && !strcmp(stop_reason, "refusal") && !hl__llm_has_answer(m))
    return hl_fail(HL_ERR_PROVIDER, "anthropic: the model refused to answer (stop_reason refusal)");
  return HL_OK;
}

/* A turn the API paused (stop_reason pause_turn: a server tool's long
 * run) is continued by sending its content back as it came, in a new
 * request (anthropic_complete(), an_turn below). Until then the paused
 * response holds that content, not the answer: each block whole as an
 * own reasoning part (which encode_message() sends back unchanged),
 * then a last reasoning part with no block whose id is the mark. */
static const char an_paused_mark[] = "pause_turn";

static bool is_paused_stop(const char *stop_reason) {
  return stop_reason && !strcmp(stop_reason, "pause_turn");
}

/* The content blocks of a paused turn (`content`, an array) into `r`. */
static hl_status keep_paused(hl_response *r, const cJSON *content) {
  const cJSON *b;
  hl_status st = HL_OK;
  cJSON_ArrayForEach(b, content) {
    if (cJSON_IsObject(b) && (st = hl_message_add_reasoning(r->message, anthropic_name, NULL, NULL,
                                                            b, NULL)) != HL_OK)
      return st;
  }
  return hl_message_add_reasoning(r->message, anthropic_name, an_paused_mark, NULL, NULL, NULL);
}

static bool is_paused(const hl_response *r) {
  const hl_message *m = r->message;
  const hl_part *p = m->n_parts ? &m->parts[m->n_parts - 1] : NULL;
  return p && p->kind == HL_PART_REASONING && !p->args && p->id && !strcmp(p->id, an_paused_mark) &&
         p->name && !strcmp(p->name, anthropic_name);
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
      (double)(in + created + read) <= HL__TOKEN_COUNT_MAX) { /* each <= 2^53: no overflow */
    out->input_tokens = in + created + read;
    out->cached_tokens = read;
    out->cache_creation_tokens = created;
  }
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

/* A thinking or redacted_thinking block, kept whole in the history (the
 * API wants it back unchanged, signature included, in the next request
 * of a tool loop); its text is the readable thinking, if any. */
static hl_status add_thinking(hl_message *m, const cJSON *block) {
  return hl_message_add_reasoning(m, anthropic_name, NULL, hl_json_get_string(block, "thinking"),
                                  block, hl_json_get_string(block, "signature"));
}

/* The part of the answer a content block `b` holds, added to `m`:
 * text, a tool call, thinking; server tool blocks and citations are not
 * part of it. */
static hl_status add_block(const hl__llm *l, hl_message *m, const cJSON *b) {
  const char *type = hl_json_get_string(b, "type");
  if (!type) return HL_OK;
  if (!strcmp(type, "text")) {
    const char *t = hl_json_get_string(b, "text");
    return t && *t ? hl_message_add_text(m, t) : HL_OK;
  }
  if (!strcmp(type, "tool_use"))
    return add_tool_use(l, m, hl_json_get_string(b, "id"), hl_json_get_string(b, "name"),
                        hl_json_get(b, "input"), NULL, 0);
  if (!strcmp(type, "thinking") || !strcmp(type, "redacted_thinking")) return add_thinking(m, b);
  return HL_OK;
}

static hl_status decode_body(const hl__llm *l, const cJSON *j, hl_response **out) {
  *out = NULL;
  hl_status st = error_of(j, "");
  if (st != HL_OK) return st;
  const cJSON *content = hl_json_get(j, "content");
  if (!cJSON_IsArray(content)) return hl_fail(HL_ERR_PROVIDER, "anthropic: response has no content array");
  hl_response *r = hl_response_new();
  if (!r) return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  const char *stop = hl_json_get_string(j, "stop_reason");
  if (is_paused_stop(stop)) {
    st = keep_paused(r, content);
  } else {
    const cJSON *b;
    cJSON_ArrayForEach(b, content) {
      if ((st = add_block(l, r->message, b)) != HL_OK) break;
    }
  }
  if (st == HL_OK) st = hl__llm_set_ids(r, j);
  if (st == HL_OK) st = stop_check(stop, r->message);
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  r->finish = finish_of(stop);
  usage_of(hl_json_get(j, "usage"), &r->usage);
  *out = r;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming                                                           */
/* ------------------------------------------------------------------ */

typedef enum an_kind { AN_OTHER = 0, AN_TEXT, AN_TOOL, AN_THINKING, AN_REDACTED } an_kind;

typedef struct an_block {
  an_kind kind;
  bool started;
  char *id, *name;
  cJSON *input;    /* tool_use input given in content_block_start; the
                      redacted_thinking block, or one of a kind not kept,
                      as it came (for a paused turn, keep_paused()); a
                      text block's citations (an array) */
  hl__buf buf;     /* text, the tool's (or a server tool's) input JSON
                      text, or the thinking */
  hl__buf sig;     /* a thinking block's signature */
} an_block;

typedef struct an_stream {
  hl__llm_stream base;  /* l, ctx, the response being built, events */
  an_block *blocks;
  size_t n_blocks;
  bool stopped;
  char stop_reason[32]; /* message_delta's, for stop_check(); "" when none, or too long to be one it knows */
} an_stream;

static void stream_free(hl__llm_stream *base) {
  an_stream *s = (an_stream *)base;
  for (size_t i = 0; i < s->n_blocks; i++) {
    free(s->blocks[i].id);
    free(s->blocks[i].name);
    cJSON_Delete(s->blocks[i].input);
    hl__buf_free(&s->blocks[i].buf);
    hl__buf_free(&s->blocks[i].sig);
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
  /* Without a type its deltas would have no kind to go to (and those of
   * a kind not kept are dropped): the stream is broken, not the block. */
  if (!type)
    return hl_fail(HL_ERR_PROVIDER, "anthropic: stream event %zu: content block %zu has no type",
                   s->base.events, (size_t)(b - s->blocks));
  b->started = true;
  if (!strcmp(type, "text")) {
    b->kind = AN_TEXT;
    const char *t = hl_json_get_string(cb, "text");
    if (t && *t) {
      hl_status st = hl__buf_append(&b->buf, t, strlen(t));
      if (st != HL_OK) return st;
      if (s->base.ctx) st = hl_context_emit_delta(s->base.ctx, t);
      if (st != HL_OK) return st;
    }
  } else if (!strcmp(type, "tool_use")) {
    b->kind = AN_TOOL;
    if (hl__llm_strdup(hl_json_get_string(cb, "id"), &b->id) != HL_OK ||
        hl__llm_strdup(hl_json_get_string(cb, "name"), &b->name) != HL_OK)
      return HL_ERR_NOMEM;
    const cJSON *input = hl_json_get(cb, "input");
    if (cJSON_IsObject(input) && cJSON_GetArraySize(input) > 0 && !(b->input = cJSON_Duplicate(input, 1)))
      return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  } else if (!strcmp(type, "thinking")) {
    b->kind = AN_THINKING;
    const char *t = hl_json_get_string(cb, "thinking");
    const char *sg = hl_json_get_string(cb, "signature");
    if ((t && hl__buf_append(&b->buf, t, strlen(t)) != HL_OK) ||
        (sg && hl__buf_append(&b->sig, sg, strlen(sg)) != HL_OK))
      return HL_ERR_NOMEM;
  } else if (!(b->input = cJSON_Duplicate(cb, 1))) {
    /* redacted_thinking, and the kinds not kept: whole, in case the turn
     * pauses and must be sent back */
    return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  } else if (!strcmp(type, "redacted_thinking")) {
    b->kind = AN_REDACTED;
  }
  return HL_OK;
}

static hl_status on_block_delta(an_stream *s, const cJSON *j) {
  an_block *b = block_at(s, j);
  if (!b) return hl_last_status();
  const cJSON *d = hl_json_get(j, "delta");
  const char *type = hl_json_get_string(d, "type");
  if (!type) return HL_OK;
  /* A block started as one we do not keep (server_tool_use, whose input
   * streams as input_json_delta like a client tool's, and future kinds):
   * its deltas are not part of the answer either; its input is kept for
   * a paused turn's content. */
  if (b->started && b->kind == AN_OTHER) {
    const char *t = !strcmp(type, "input_json_delta") ? hl_json_get_string(d, "partial_json") : NULL;
    return t ? hl__buf_append(&b->buf, t, strlen(t)) : HL_OK;
  }
  if (!strcmp(type, "citations_delta") && b->kind == AN_TEXT) {
    /* not part of the answer; kept for a paused turn's content */
    const cJSON *c = hl_json_get(d, "citation");
    if (!c) return HL_OK;
    if (!b->input && !(b->input = cJSON_CreateArray()))
      return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
    return hl__llm_push(b->input, cJSON_Duplicate(c, 1)) ? HL_OK
                                                          : hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  }
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
  if (!strcmp(type, "thinking_delta") || !strcmp(type, "signature_delta")) {
    bool sig = type[0] == 's';
    const char *t = hl_json_get_string(d, sig ? "signature" : "thinking");
    if (b->kind != AN_THINKING)
      return hl_fail(HL_ERR_PROVIDER, "anthropic: %s for a block that is not thinking", type);
    return t ? hl__buf_append(sig ? &b->sig : &b->buf, t, strlen(t)) : HL_OK;
  }
  return HL_OK; /* citations and future deltas: not part of the answer */
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
    if (sr) {
      r->finish = finish_of(sr);
      snprintf(s->stop_reason, sizeof s->stop_reason, "%s", strlen(sr) < sizeof s->stop_reason ? sr : "");
    }
    usage_of(hl_json_get(j, "usage"), &r->usage);
  } else if (!strcmp(type, "message_stop")) {
    s->stopped = true;
  }
  /* ping, content_block_stop and future event types need nothing. */
  cJSON_Delete(j);
  return st;
}

/* The thinking block the deltas made, as the plain body would have had
 * it; NULL when out of memory. */
static cJSON *streamed_thinking(const an_block *b) {
  cJSON *blk = cJSON_CreateObject();
  if (blk && cJSON_AddStringToObject(blk, "type", "thinking") &&
      cJSON_AddStringToObject(blk, "thinking", b->buf.p ? b->buf.p : "") &&
      cJSON_AddStringToObject(blk, "signature", b->sig.p ? b->sig.p : ""))
    return blk;
  cJSON_Delete(blk);
  return NULL;
}

static hl_status add_streamed_thinking(hl_message *m, const an_block *b) {
  cJSON *blk = streamed_thinking(b);
  hl_status st = blk ? add_thinking(m, blk) : hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  cJSON_Delete(blk);
  return st;
}

/* A tool's (or server tool's) block `blk` with its streamed input text
 * (`b`'s, when there is one) in place of the input its start gave. */
static hl_status set_streamed_input(const hl__llm *l, cJSON *blk, const an_block *b) {
  if (b->buf.len == 0) return HL_OK;
  cJSON *args = NULL;
  hl_status st = hl__llm_parse_args(l, b->buf.p, b->buf.len, hl_json_get_string(blk, "name"),
                                    hl_json_get_string(blk, "id"), &args);
  if (st != HL_OK) return st;
  cJSON_DeleteItemFromObjectCaseSensitive(blk, "input");
  if (!cJSON_AddItemToObject(blk, "input", args)) {
    cJSON_Delete(args);
    return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  }
  return HL_OK;
}

/* Streamed block `b` as the plain body of a paused turn has it (NULL in
 * *out: none, a text without words or an index never started). */
static hl_status streamed_block(const hl__llm *l, const an_block *b, cJSON **out) {
  *out = NULL;
  cJSON *blk = NULL;
  bool ok = true;
  switch (b->kind) {
  case AN_TEXT:
    if (b->buf.len == 0) return HL_OK; /* the API refuses an empty text block */
    ok = (blk = cJSON_CreateObject()) && cJSON_AddStringToObject(blk, "type", "text") &&
         cJSON_AddStringToObject(blk, "text", b->buf.p) &&
         (!b->input || hl_json_add(blk, "citations", cJSON_Duplicate(b->input, 1)));
    break;
  case AN_TOOL:
    ok = (blk = cJSON_CreateObject()) && cJSON_AddStringToObject(blk, "type", "tool_use") &&
         cJSON_AddStringToObject(blk, "id", b->id ? b->id : "") &&
         cJSON_AddStringToObject(blk, "name", b->name ? b->name : "") &&
         hl_json_add(blk, "input", b->input ? cJSON_Duplicate(b->input, 1) : cJSON_CreateObject());
    break;
  case AN_THINKING:
    ok = (blk = streamed_thinking(b)) != NULL;
    break;
  case AN_REDACTED:
  case AN_OTHER:
    if (!b->input) return HL_OK;
    ok = (blk = cJSON_Duplicate(b->input, 1)) != NULL;
    break;
  }
  hl_status st = ok ? HL_OK : hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  if (st == HL_OK && (b->kind == AN_TOOL || b->kind == AN_OTHER)) st = set_streamed_input(l, blk, b);
  if (st != HL_OK) {
    cJSON_Delete(blk);
    return st;
  }
  *out = blk;
  return HL_OK;
}

/* The content of a paused turn, from its streamed blocks, into `r`. */
static hl_status keep_streamed_paused(an_stream *s, hl_response *r) {
  cJSON *content = cJSON_CreateArray();
  hl_status st = content ? HL_OK : hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  for (size_t i = 0; i < s->n_blocks && st == HL_OK; i++) {
    cJSON *blk;
    st = streamed_block(s->base.l, &s->blocks[i], &blk);
    if (st == HL_OK && blk && !hl__llm_push(content, blk))
      st = hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  }
  if (st == HL_OK) st = keep_paused(r, content);
  cJSON_Delete(content);
  return st;
}

static hl_status stream_assemble(hl__llm_stream *base, hl_response **out) {
  an_stream *s = (an_stream *)base;
  hl_response *r = base->r;
  if (!s->stopped)
    return hl_fail(HL_ERR_PROVIDER, "anthropic: the stream ended before message_stop (after %zu events)",
                   base->events);
  hl_status st = HL_OK;
  if (is_paused_stop(s->stop_reason)) st = keep_streamed_paused(s, r);
  for (size_t i = 0; i < s->n_blocks && st == HL_OK && !is_paused_stop(s->stop_reason); i++) {
    an_block *b = &s->blocks[i];
    if (b->kind == AN_TEXT && b->buf.len > 0) st = hl_message_add_text(r->message, b->buf.p);
    else if (b->kind == AN_TOOL)
      st = add_tool_use(base->l, r->message, b->id, b->name, b->input, b->buf.p, b->buf.len);
    else if (b->kind == AN_REDACTED)
      st = add_thinking(r->message, b->input);
    else if (b->kind == AN_THINKING)
      st = add_streamed_thinking(r->message, b);
  }
  if (st == HL_OK) st = stop_check(s->stop_reason, r->message);
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
    .write = write_request,
    .decode = decode_body,
    .stream_size = sizeof(an_stream),
    .stream_event = stream_event,
    .stream_assemble = stream_assemble,
    .stream_free = stream_free,
};

/* For the fuzz targets (tests/fuzz), which drive the decoders directly. */
const hl__llm_wire *hl__anthropic_wire(void) { return &anthropic_wire; }

/* Structured output came as a call of the answer tool: its input is the
 * answer. The assistant message becomes that JSON as its one text part
 * (after any thinking blocks, which the history keeps); the other calls
 * and text of the same answer are dropped, as the run ends here. */
static hl_status take_answer_of(const char *tool, hl_response *r) {
  const hl_part *answer = NULL;
  for (size_t i = 0; i < r->message->n_parts && !answer; i++) {
    const hl_part *p = &r->message->parts[i];
    if (p->kind == HL_PART_TOOL_CALL && p->name && !strcmp(p->name, tool)) answer = p;
  }
  if (!answer) return HL_OK;
  char *json = hl__json_print_exact(answer->args);
  hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
  hl_status st = json && m ? HL_OK : hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  for (size_t i = 0; i < r->message->n_parts && st == HL_OK; i++) {
    const hl_part *p = &r->message->parts[i];
    if (p->kind == HL_PART_REASONING)
      st = hl_message_add_reasoning(m, p->name, p->id, p->text, p->args, p->signature);
  }
  if (st == HL_OK) st = hl_message_add_text(m, json);
  free(json);
  if (st != HL_OK) {
    hl_message_free(m);
    return st;
  }
  hl_message_free(r->message);
  r->message = m;
  r->finish = HL_FINISH_STOP;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* A turn the API paused                                               */
/* ------------------------------------------------------------------ */

/* How many times one model call continues a paused turn; one more pause
 * is an error (documented in anthropic.h). */
#define AN_MAX_CONTINUATIONS 8

/* One model call over as many requests as its turn's pauses take. */
typedef struct an_turn {
  hl__llm *l;
  hl_context *ctx;
  const hl_request *req;  /* the caller's */
  hl_request *cont;       /* req and the paused content so far, or NULL */
  hl_message *paused;     /* cont's last message: that content */
  hl_response *acc;       /* the paused parts' answer so far, or NULL */
  int pauses;
  /* asynchronous calls */
  hl_provider_done_fn done;
  void *user;
} an_turn;

static an_turn turn_of(hl__llm *l, hl_context *ctx, const hl_request *req) {
  return (an_turn){.l = l, .ctx = ctx, .req = req};
}

static void turn_clear(an_turn *t) {
  hl_request_free(t->cont);
  hl_response_free(t->acc);
}

/* The request the turn's next HTTP call sends. */
static const hl_request *turn_request(const an_turn *t) { return t->cont ? t->cont : t->req; }

/* Append a copy of `p`, a part of the kinds this provider decodes, to `m`. */
static hl_status copy_part(hl_message *m, const hl_part *p) {
  switch (p->kind) {
  case HL_PART_TEXT:
    return hl_message_add_text(m, p->text ? p->text : "");
  case HL_PART_TOOL_CALL:
    return hl_message_add_tool_call(m, p->id, p->name, p->args);
  case HL_PART_REASONING:
    return hl_message_add_reasoning(m, p->name, p->id, p->text, p->args, p->signature);
  case HL_PART_TOOL_RESULT:
  case HL_PART_IMAGE:
    break;
  }
  return HL_OK;
}

/* Take the paused response `r` into the turn: its content goes to the
 * continuation request as it came, the answer in it to t->acc, its usage
 * added. HL_ERR_PROVIDER once the turn paused more often than allowed. */
static hl_status turn_absorb(an_turn *t, hl_response *r) {
  hl_status st = HL_OK;
  if (++t->pauses > AN_MAX_CONTINUATIONS)
    st = hl_fail(HL_ERR_PROVIDER,
                 "anthropic: the model paused its turn %d times (stop_reason pause_turn), which a "
                 "server tool's long run causes; continued %d times, no more",
                 t->pauses, AN_MAX_CONTINUATIONS);
  if (st == HL_OK && !t->cont) {
    /* The first pause: the caller's request and a message for the paused
     * content (encode_message() merges it with an assistant message
     * ending the request, as the API wants). */
    hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
    t->cont = hl_request_clone(t->req);
    t->acc = hl_response_new();
    if (!m || !t->cont || !t->acc) hl_message_free(m);
    if (!m || !t->cont || !t->acc || hl_messages_push(&t->cont->messages, m) != HL_OK)
      st = hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
    else t->paused = m;
  }
  const hl_message *m = r->message;
  for (size_t i = 0; i + 1 < m->n_parts && st == HL_OK; i++) {
    const hl_part *p = &m->parts[i];
    st = hl_message_add_reasoning(t->paused, anthropic_name, NULL, NULL, p->args, NULL);
    if (st == HL_OK) st = add_block(t->l, t->acc->message, p->args);
  }
  if (st == HL_OK) hl_usage_add(&t->acc->usage, &r->usage);
  hl_response_free(r);
  return st;
}

/* The turn's last response `r` (not paused), with the paused parts'
 * answer before it and their usage added; the answer tool's call taken
 * as the answer. *out the answer, or NULL; `r` is taken. */
static hl_status turn_finish(an_turn *t, hl_response *r, hl_response **out) {
  *out = NULL;
  hl_status st = HL_OK;
  if (t->acc) {
    hl_message *m = t->acc->message;
    for (size_t i = 0; i < r->message->n_parts && st == HL_OK; i++)
      st = copy_part(m, &r->message->parts[i]);
    if (st == HL_OK) {
      hl_usage_add(&r->usage, &t->acc->usage);
      t->acc->message = r->message;
      r->message = m;
    }
  }
  /* req is valid until the call ends (provider.h), also asynchronously */
  if (st == HL_OK && t->req->response_schema)
    st = take_answer_of(hl__anthropic_answer_tool(t->req), r);
  if (st != HL_OK) {
    hl_response_free(r);
    return st;
  }
  *out = r;
  return HL_OK;
}

static hl_status anthropic_complete(void *impl, hl_context *ctx, const hl_request *req,
                                    hl_response **out) {
  *out = NULL;
  an_turn t = turn_of(impl, ctx, req);
  hl_response *r = NULL;
  hl_status st;
  while ((st = hl__llm_complete(impl, &anthropic_wire, ctx, turn_request(&t), &r)) == HL_OK &&
         is_paused(r) && (st = turn_absorb(&t, r)) == HL_OK)
    r = NULL;
  if (st == HL_OK) st = turn_finish(&t, r, out);
  turn_clear(&t);
  return st;
}

/* An asynchronous call's HTTP request ended: continue a paused turn with
 * the next one, else hand the answer over. */
static void anthropic_done(hl_status st, hl_response *r, void *user) {
  an_turn *t = user;
  if (st == HL_OK && is_paused(r)) {
    st = turn_absorb(t, r);
    r = NULL;
    if (st == HL_OK &&
        (st = hl__llm_start(t->l, &anthropic_wire, t->ctx, turn_request(t), anthropic_done, t)) == HL_OK)
      return; /* this function runs again when it ends */
  }
  if (st == HL_OK) st = turn_finish(t, r, &r);
  hl_provider_done_fn done = t->done;
  void *done_user = t->user;
  turn_clear(t);
  free(t);
  done(st, r, done_user);
}

static hl_status anthropic_start(void *impl, hl_context *ctx, const hl_request *req,
                                 hl_provider_done_fn done, void *user) {
  an_turn *t = malloc(sizeof *t);
  if (!t) return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  *t = turn_of(impl, ctx, req);
  t->done = done;
  t->user = user;
  hl_status st = hl__llm_start(impl, &anthropic_wire, ctx, req, anthropic_done, t);
  if (st != HL_OK) free(t); /* done is not called when start fails */
  return st;
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

hl_status hl_anthropic_set_thinking(hl_provider *p, int budget_tokens) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  if (!l) return HL_ERR_INVALID;
  if (budget_tokens == 0) return hl__llm_set_option(l, "thinking", NULL);
  if (budget_tokens < 1024)
    return hl_fail(HL_ERR_INVALID, "anthropic: a thinking budget is at least 1024 tokens (got %d)",
                   budget_tokens);
  cJSON *t = cJSON_CreateObject();
  if (!t || !cJSON_AddStringToObject(t, "type", "enabled") ||
      !cJSON_AddNumberToObject(t, "budget_tokens", budget_tokens)) {
    cJSON_Delete(t);
    return hl_fail(HL_ERR_NOMEM, "anthropic: out of memory");
  }
  return hl__llm_set_option(l, "thinking", t);
}

hl_status hl_anthropic_set_prompt_caching(hl_provider *p, bool on) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  if (!l) return HL_ERR_INVALID;
  l->flags = on ? (l->flags | HL__ANTHROPIC_CACHE) : (l->flags & ~HL__ANTHROPIC_CACHE);
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

hl_status hl_anthropic_set_http_version(hl_provider *p, hl_http_version version) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_set_http_version(l, (int)version) : HL_ERR_INVALID;
}

hl_status hl_anthropic_set_ca_file(hl_provider *p, const char *path) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  return l ? hl__llm_set_ca_file(l, path) : HL_ERR_INVALID;
}

void hl_anthropic_cancel(hl_provider *p) {
  hl__llm *l = hl__llm_of(p, anthropic_name);
  if (l) hl__http_cancel_all(l->http);
  else hl_clear_error();
}
