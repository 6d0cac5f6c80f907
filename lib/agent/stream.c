/*
 * stream.c - streamed deltas: each goes through the model_chunk chain
 * before observers and the token callback see it, and the response the
 * after_model chain sees is kept consistent with what was streamed.
 *
 * Keeping the stream costs a copy of every delta, so it happens only when
 * some model_chunk hook declares HL_HOOK_EDIT_CHUNK (copy only for
 * editors); and the response is rebuilt from it only when a hook did edit
 * or drop something.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "core/util.h"
#include "hookline/json.h"

static void hl_stream_clear(hl__stream *s) {
  free(s->text);
  for (size_t i = 0; i < s->n_calls; i++) {
    free(s->calls[i].id);
    free(s->calls[i].args);
  }
  free(s->calls);
  *s = (hl__stream){0};
}

void hl__stream_begin(hl_context *ctx) {
  hl_stream_clear(&ctx->stream);
  ctx->stream.keep = hl__ctx_hook_flags(ctx, HL_HOOK_MODEL_CHUNK) & HL_HOOK_EDIT_CHUNK;
}

static hl_status hl_buf_add(char **buf, size_t *len, size_t *cap, const char *text) {
  size_t n = strlen(text);
  if (hl__reserve((void **)buf, cap, *len + n + 1, 1) != HL_OK) return HL_ERR_NOMEM;
  memcpy(*buf + *len, text, n + 1);
  *len += n;
  return HL_OK;
}

static hl__stream_call *hl_stream_call(hl__stream *s, size_t index, const char *id) {
  for (size_t i = 0; i < s->n_calls; i++)
    if (s->calls[i].index == index) {
      if (!s->calls[i].id && id) s->calls[i].id = hl__strdup(id);
      return &s->calls[i];
    }
  hl__stream_call *nc = realloc(s->calls, (s->n_calls + 1) * sizeof *nc);
  if (!nc) return NULL;
  s->calls = nc;
  hl__stream_call *c = &nc[s->n_calls++];
  *c = (hl__stream_call){.index = index, .id = id ? hl__strdup(id) : NULL};
  return c;
}

/* One delta through the chain. Observers and the token callback get
 * text deltas only (as before model_chunk existed). */
static hl_status hl_chunk(hl_context *ctx, hl_chunk_kind kind, size_t index, const char *id,
                          const char *name, const char *text, bool final) {
  if (!ctx || !text || atomic_load(&ctx->finished)) return HL_OK;
  hl_model_chunk_args args = {sizeof args, kind, text, index, id, name, final};
  ctx->stream.streamed = true;
  hl_model_chunk_out out = {sizeof out, NULL, false};
  hl_hook_action act = hl__dispatch(ctx, HL_HOOK_MODEL_CHUNK, &args, &out);
  if (act == HL_HOOK_ABORT) {
    free(out.text);
    return HL_ERR_ABORTED; /* hl_last_error() has the hook's message */
  }
  hl__stream *s = &ctx->stream;
  if (out.text || out.drop) s->edited = true;
  const char *passed = out.text ? out.text : text;
  hl_status st = HL_OK;
  if (s->keep && !out.drop) {
    if (kind == HL_CHUNK_TEXT) {
      st = hl_buf_add(&s->text, &s->len, &s->cap, passed);
    } else {
      hl__stream_call *c = hl_stream_call(s, index, id);
      st = c ? hl_buf_add(&c->args, &c->len, &c->cap, passed) : HL_ERR_NOMEM;
    }
    if (st != HL_OK) st = hl_fail(HL_ERR_NOMEM, "out of memory keeping the stream");
  } else if (s->keep && kind == HL_CHUNK_TOOL_ARGS && !hl_stream_call(s, index, id)) {
    st = hl_fail(HL_ERR_NOMEM, "out of memory keeping the stream");
  }
  if (st == HL_OK && kind == HL_CHUNK_TEXT && !out.drop && !(final && !passed[0])) {
    hl_event ev = {.type = HL_EVENT_RESPONSE, .text = passed, .is_delta = true};
    hl__emit(ctx, &ev);
    if (ctx->agent->token_fn) ctx->agent->token_fn(passed, ctx->agent->token_user_data);
  }
  free(out.text);
  return st;
}

hl_status hl_context_emit_delta(hl_context *ctx, const char *text) {
  return hl_chunk(ctx, HL_CHUNK_TEXT, 0, NULL, NULL, text, false);
}

hl_status hl_context_emit_tool_delta(hl_context *ctx, size_t index, const char *call_id,
                                     const char *tool_name, const char *partial_json) {
  return hl_chunk(ctx, HL_CHUNK_TOOL_ARGS, index, call_id, tool_name, partial_json, false);
}

/* The streamed arguments of the k-th tool call of the response: by id
 * when the stream knew it, else by position. NULL if not streamed. */
static const hl__stream_call *hl_streamed_call(const hl__stream *s, const hl_part *p, size_t k) {
  for (size_t i = 0; p->id && i < s->n_calls; i++)
    if (s->calls[i].id && strcmp(s->calls[i].id, p->id) == 0) return &s->calls[i];
  return k < s->n_calls && !s->calls[k].id ? &s->calls[k] : NULL;
}

hl_status hl__stream_end(hl_context *ctx, hl_response *resp) {
  hl__stream *s = &ctx->stream;
  hl_status st = HL_OK;
  if (s->keep && s->streamed) {
    /* The end-of-stream call (hooks.h): what a chunk editor held back
     * comes out now, before the response is made of the stream. After a
     * failed call it only lets the hooks forget their state. */
    if (resp) {
      st = hl_chunk(ctx, HL_CHUNK_TEXT, 0, NULL, NULL, "", true);
      if (st != HL_OK) {
        hl_stream_clear(s);
        return st;
      }
    } else {
      hl_model_chunk_args args = {sizeof args, HL_CHUNK_TEXT, "", 0, NULL, NULL, true};
      hl_model_chunk_out out = {sizeof out, NULL, false};
      hl__dispatch(ctx, HL_HOOK_MODEL_CHUNK, &args, &out);
      free(out.text);
    }
  }
  if (resp && s->keep && s->edited) {
    /* The response becomes what was streamed: the text that passed the
     * hooks, then the tool calls with their streamed arguments. */
    hl_message *old = resp->message;
    hl_message *m = hl_message_new(HL_ROLE_ASSISTANT);
    if (!m) st = hl__oom();
    if (st == HL_OK && s->len) st = hl_message_add_text(m, s->text);
    for (size_t i = 0, k = 0; st == HL_OK && old && i < old->n_parts; i++) {
      const hl_part *p = &old->parts[i];
      if (p->kind != HL_PART_TOOL_CALL) continue;
      const hl__stream_call *c = hl_streamed_call(s, p, k++);
      cJSON *args = NULL;
      if (c) {
        args = c->len ? cJSON_ParseWithLength(c->args, c->len) : cJSON_CreateObject();
        if (!cJSON_IsObject(args)) {
          cJSON_Delete(args);
          st = hl_fail(HL_ERR_PROVIDER,
                       "the streamed arguments of tool call %s (%s), as model_chunk hooks "
                       "left them, are not a JSON object",
                       p->id ? p->id : "?", p->name ? p->name : "?");
          break;
        }
      }
      st = hl_message_add_tool_call(m, p->id, p->name, args ? args : p->args);
      cJSON_Delete(args);
    }
    if (st == HL_OK) {
      if (old) m->role = old->role;
      resp->message = m;
      hl_message_free(old);
    } else {
      hl_message_free(m);
    }
  }
  hl_stream_clear(s);
  return st;
}
