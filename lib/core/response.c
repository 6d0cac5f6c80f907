/*
 * response.c - the model response, finish reasons and token usage.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/model.h"
#include "model_internal.h"
#include "util.h"

static const char *const finish_names[] = {"unknown", "stop", "tool_calls", "length",
                                           "content_filter", "error"};
#define N_FINISH (sizeof finish_names / sizeof finish_names[0])

const char *hl_finish_reason_name(hl_finish_reason reason) {
  return (unsigned)reason < N_FINISH ? finish_names[reason] : "unknown";
}

hl_finish_reason hl_finish_reason_parse(const char *name) {
  if (!name) return HL_FINISH_UNKNOWN;
  for (unsigned i = 0; i < N_FINISH; i++)
    if (strcmp(name, finish_names[i]) == 0) return (hl_finish_reason)i;
  return HL_FINISH_UNKNOWN;
}

void hl_usage_add(hl_usage *acc, const hl_usage *add) {
  if (!acc || !add) return;
  acc->input_tokens += add->input_tokens;
  acc->output_tokens += add->output_tokens;
  acc->cached_tokens += add->cached_tokens;
  acc->reasoning_tokens += add->reasoning_tokens;
  acc->cache_creation_tokens += add->cache_creation_tokens;
  if (add->has_cost) {
    acc->cost = (acc->has_cost ? acc->cost : 0) + add->cost;
    acc->has_cost = true;
  }
}

hl_response *hl_response_new(void) {
  hl_response *r = calloc(1, sizeof *r);
  if (!r || !(r->message = hl_message_new(HL_ROLE_ASSISTANT))) {
    free(r);
    hl__oom();
    return NULL;
  }
  return r;
}

hl_response *hl_response_new_text(const char *text) {
  if (!text) {
    hl_fail(HL_ERR_INVALID, "hl_response_new_text: text is NULL");
    return NULL;
  }
  hl_response *r = hl_response_new();
  if (!r) return NULL;
  if (hl_message_add_text(r->message, text) != HL_OK) {
    hl_response_free(r);
    return NULL;
  }
  r->finish = HL_FINISH_STOP;
  return r;
}

void hl_response_free(hl_response *resp) {
  if (!resp) return;
  hl_message_free(resp->message);
  free(resp->model);
  free(resp->id);
  free(resp);
}

hl_response *hl_response_clone(const hl_response *resp) {
  if (!resp) {
    hl_fail(HL_ERR_INVALID, "hl_response_clone: response is NULL");
    return NULL;
  }
  hl_response *c = calloc(1, sizeof *c);
  if (!c) {
    hl__oom();
    return NULL;
  }
  c->finish = resp->finish;
  c->usage = resp->usage;
  c->model = hl__strdup(resp->model);
  c->id = hl__strdup(resp->id);
  if (resp->message) c->message = hl_message_clone(resp->message);
  if ((resp->model && !c->model) || (resp->id && !c->id) || (resp->message && !c->message)) {
    hl_response_free(c);
    if (hl_last_status() == HL_OK) hl__oom();
    return NULL;
  }
  return c;
}

cJSON *hl_response_to_json(const hl_response *resp) {
  if (!resp) {
    hl_fail(HL_ERR_INVALID, "hl_response_to_json: response is NULL");
    return NULL;
  }
  cJSON *j = cJSON_CreateObject();
  if (!j) goto oom;
  if (resp->message) {
    cJSON *m = hl_message_to_json(resp->message);
    if (!m) goto fail;
    if (!hl_json_add(j, "message", m)) goto oom;
  }
  if (!hl__json_add_str(j, "finish", hl_finish_reason_name(resp->finish))) goto oom;
  cJSON *u = cJSON_AddObjectToObject(j, "usage");
  if (!u || !cJSON_AddNumberToObject(u, "input_tokens", (double)resp->usage.input_tokens) ||
      !cJSON_AddNumberToObject(u, "output_tokens", (double)resp->usage.output_tokens))
    goto oom;
  if (resp->usage.has_cost && !cJSON_AddNumberToObject(u, "cost", resp->usage.cost)) goto oom;
  /* Only when known, so older readers see the same document as before. */
  if ((resp->usage.cached_tokens &&
       !cJSON_AddNumberToObject(u, "cached_tokens", (double)resp->usage.cached_tokens)) ||
      (resp->usage.reasoning_tokens &&
       !cJSON_AddNumberToObject(u, "reasoning_tokens", (double)resp->usage.reasoning_tokens)) ||
      (resp->usage.cache_creation_tokens &&
       !cJSON_AddNumberToObject(u, "cache_creation_tokens",
                                (double)resp->usage.cache_creation_tokens)))
    goto oom;
  if (!hl__json_add_str(j, "model", resp->model) || !hl__json_add_str(j, "id", resp->id)) goto oom;
  return j;
oom:
  hl__oom();
fail:
  cJSON_Delete(j);
  return NULL;
}

/* Token counts travel as JSON numbers: whole numbers from 0 to 2^53, the
 * rule the providers' decoders apply too (hl__json_token_count). */
static hl_status decode_tokens(const cJSON *u, const char *key, int64_t *out) {
  const cJSON *v = hl_json_get(u, key);
  if (!v) return HL_OK;
  if (!hl__json_token_count(v, out)) {
    char num[64] = "";
    if (cJSON_IsNumber(v)) snprintf(num, sizeof num, " %.17g", v->valuedouble);
    return hl_fail(HL_ERR_JSON,
                   "response.usage.%s: expected a whole number from 0 to 2^53, got %s%s", key,
                   hl_json_type_name(v), num);
  }
  return HL_OK;
}

static hl_status decode_response(const cJSON *j, hl_response *r) {
  hl_status st;
  const cJSON *m = hl_json_get(j, "message");
  if (!m) return hl_fail(HL_ERR_JSON, "response: missing field \"message\"");
  if ((st = hl__message_from_json_at(m, &r->message, "response.message"))) return st;
  const char *s;
  if ((st = hl__json_opt_str(j, "finish", "response", &s))) return st;
  r->finish = hl_finish_reason_parse(s);
  const cJSON *u = hl_json_get(j, "usage");
  if (u) {
    if (!cJSON_IsObject(u))
      return hl_fail(HL_ERR_JSON, "response.usage: expected object, got %s", hl_json_type_name(u));
    if ((st = decode_tokens(u, "input_tokens", &r->usage.input_tokens)) ||
        (st = decode_tokens(u, "output_tokens", &r->usage.output_tokens)) ||
        (st = decode_tokens(u, "cached_tokens", &r->usage.cached_tokens)) ||
        (st = decode_tokens(u, "reasoning_tokens", &r->usage.reasoning_tokens)) ||
        (st = decode_tokens(u, "cache_creation_tokens", &r->usage.cache_creation_tokens)))
      return st;
    const cJSON *cost = hl_json_get(u, "cost");
    if (cost && !cJSON_IsNull(cost)) {
      if (!cJSON_IsNumber(cost))
        return hl_fail(HL_ERR_JSON, "response.usage.cost: expected number, got %s",
                       hl_json_type_name(cost));
      r->usage.cost = cost->valuedouble;
      r->usage.has_cost = true;
    }
  }
  if ((st = hl__json_opt_str(j, "model", "response", &s))) return st;
  if (s && !(r->model = hl__strdup(s))) return hl__oom();
  if ((st = hl__json_opt_str(j, "id", "response", &s))) return st;
  if (s && !(r->id = hl__strdup(s))) return hl__oom();
  return HL_OK;
}

hl_status hl_response_from_json(const cJSON *json, hl_response **out) {
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_response_from_json: out is NULL");
  *out = NULL;
  if (!json) return hl_fail(HL_ERR_INVALID, "hl_response_from_json: json is NULL");
  if (!cJSON_IsObject(json))
    return hl_fail(HL_ERR_JSON, "response: expected object, got %s", hl_json_type_name(json));
  hl_response *r = calloc(1, sizeof *r);
  if (!r) return hl__oom();
  hl_status st = decode_response(json, r);
  if (st) {
    hl_response_free(r);
    return st;
  }
  *out = r;
  return HL_OK;
}
