/*
 * request.c - the model request: construction, copy, JSON round-trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/model.h"
#include "model_internal.h"
#include "tool_internal.h"
#include "util.h"

static const char *const tool_choice_names[] = {"auto", "none", "required", "named"};

/* What hl_request_new() allocates: the public request, then what only
 * the library sees (model.h: a request is only ever allocated here, and
 * nobody else sizes one). `pub` first, so that hl_request_free() frees
 * the block. */
typedef struct request_block {
  hl_request pub;
  const hl_tools *tools_src; /* hl__request_borrow_tools(), or NULL */
} request_block;

hl_request *hl_request_new(void) {
  request_block *b = calloc(1, sizeof *b);
  if (!b) {
    hl__oom();
    return NULL;
  }
  b->pub.temperature = -1;
  return &b->pub;
}

void hl__request_borrow_tools(hl_request *req, const hl_tools *tools) {
  ((request_block *)req)->tools_src = tools;
}

const char *hl__request_tool_schema_text(const hl_request *req, size_t i, size_t *len) {
  const hl_tools *src = ((const request_block *)req)->tools_src;
  const hl_tool *t = src && i < req->n_tools ? hl_tools_at(src, i) : NULL;
  /* Only while the declaration is still that tool's own tree. */
  if (!t || hl_tool_schema(t) != req->tools[i].parameters) return NULL;
  return hl__tool_schema_text(t, len);
}

static void decl_free(hl_tool_decl *d) {
  free(d->name);
  free(d->description);
  cJSON_Delete(d->parameters);
}

void hl_request_free(hl_request *req) {
  if (!req) return;
  free(req->model);
  hl_messages_clear(&req->messages);
  for (size_t i = 0; i < req->n_tools; i++) decl_free(&req->tools[i]);
  free(req->tools);
  for (size_t i = 0; i < req->n_stop; i++) free(req->stop[i]);
  free(req->stop);
  free(req->tool_choice_name);
  free(req->response_format_name);
  cJSON_Delete(req->response_schema);
  free(req);
}

hl_status hl_request_set_model(hl_request *req, const char *model) {
  if (!req) return hl_fail(HL_ERR_INVALID, "hl_request_set_model: request is NULL");
  char *copy = hl__strdup(model);
  if (model && !copy) return hl__oom();
  free(req->model);
  req->model = copy;
  return HL_OK;
}

hl_status hl_request_add_tool(hl_request *req, const char *name, const char *description,
                              const cJSON *parameters) {
  if (!req || !name) return hl_fail(HL_ERR_INVALID, "hl_request_add_tool: NULL request or name");
  if (parameters && !cJSON_IsObject(parameters))
    return hl_fail(HL_ERR_INVALID, "hl_request_add_tool: parameters of %s must be an object schema",
                   name);
  /* hl_request has no capacity field (hooks may build the array
   * themselves), so grow to the exact size; realloc amortizes. */
  hl_tool_decl *grown = realloc(req->tools, (req->n_tools + 1) * sizeof *grown);
  if (!grown) return hl__oom();
  req->tools = grown;
  hl_tool_decl d = {0};
  d.name = hl__strdup(name);
  d.description = hl__strdup(description);
  d.parameters = parameters ? hl_json_clone(parameters)
                            : hl__empty_object_schema();
  if (!d.name || (description && !d.description) || !d.parameters) {
    decl_free(&d);
    return parameters && !hl__json_depth_ok(parameters, HL_JSON_MAX_DEPTH) ? HL_ERR_TOO_LARGE
                                                                           : hl__oom();
  }
  req->tools[req->n_tools++] = d;
  return HL_OK;
}

hl_status hl_request_add_stop(hl_request *req, const char *stop) {
  if (!req || !stop) return hl_fail(HL_ERR_INVALID, "hl_request_add_stop: NULL argument");
  char **grown = realloc(req->stop, (req->n_stop + 1) * sizeof *grown);
  if (!grown) return hl__oom();
  req->stop = grown;
  char *copy = hl__strdup(stop);
  if (!copy) return hl__oom();
  req->stop[req->n_stop++] = copy;
  return HL_OK;
}

hl_status hl_request_set_response_schema(hl_request *req, const char *name, const cJSON *schema) {
  if (!req) return hl_fail(HL_ERR_INVALID, "hl_request_set_response_schema: request is NULL");
  char *name_copy = NULL;
  cJSON *schema_copy = NULL;
  if (schema) {
    name_copy = hl__strdup(name);
    schema_copy = hl_json_clone(schema);
    if ((name && !name_copy) || !schema_copy) {
      free(name_copy);
      cJSON_Delete(schema_copy);
      return !hl__json_depth_ok(schema, HL_JSON_MAX_DEPTH) ? HL_ERR_TOO_LARGE : hl__oom();
    }
  }
  free(req->response_format_name);
  cJSON_Delete(req->response_schema);
  req->response_format_name = name_copy;
  req->response_schema = schema_copy;
  return HL_OK;
}

hl_request *hl_request_clone(const hl_request *req) {
  if (!req) {
    hl_fail(HL_ERR_INVALID, "hl_request_clone: request is NULL");
    return NULL;
  }
  hl_request *c = hl_request_new();
  if (!c) return NULL;
  c->temperature = req->temperature;
  c->max_tokens = req->max_tokens;
  c->tool_choice = req->tool_choice;
  c->stream = req->stream;
  hl_status st = hl_request_set_model(c, req->model);
  if (!st) st = hl_messages_copy(&c->messages, &req->messages);
  for (size_t i = 0; !st && i < req->n_tools; i++)
    st = hl_request_add_tool(c, req->tools[i].name, req->tools[i].description,
                             req->tools[i].parameters);
  for (size_t i = 0; !st && i < req->n_stop; i++) st = hl_request_add_stop(c, req->stop[i]);
  if (!st && req->tool_choice_name && !(c->tool_choice_name = hl__strdup(req->tool_choice_name)))
    st = hl__oom();
  if (!st && req->response_schema)
    st = hl_request_set_response_schema(c, req->response_format_name, req->response_schema);
  else if (!st && req->response_format_name &&
           !(c->response_format_name = hl__strdup(req->response_format_name)))
    st = hl__oom();
  if (st) {
    hl_request_free(c);
    return NULL;
  }
  return c;
}

/* ---- JSON ---------------------------------------------------------- */

cJSON *hl_request_to_json(const hl_request *req) {
  if (!req) {
    hl_fail(HL_ERR_INVALID, "hl_request_to_json: request is NULL");
    return NULL;
  }
  cJSON *j = cJSON_CreateObject();
  if (!j) goto oom;
  if (!hl__json_add_str(j, "model", req->model)) goto oom;
  cJSON *msgs = hl_messages_to_json(&req->messages);
  if (!msgs) goto fail; /* message already set */
  if (!hl_json_add(j, "messages", msgs)) goto oom;
  if (req->n_tools) {
    cJSON *tools = cJSON_AddArrayToObject(j, "tools");
    if (!tools) goto oom;
    for (size_t i = 0; i < req->n_tools; i++) {
      const hl_tool_decl *d = &req->tools[i];
      cJSON *t = cJSON_CreateObject();
      if (!t) goto oom;
      cJSON_AddItemToArray(tools, t);
      if (!hl__json_add_str(t, "name", d->name) ||
          !hl__json_add_str(t, "description", d->description))
        goto oom;
      if (d->parameters) {
        cJSON *p = hl_json_clone(d->parameters);
        if (!p) goto fail;
        if (!hl_json_add(t, "parameters", p)) goto oom;
      }
    }
  }
  if (req->temperature >= 0 && !cJSON_AddNumberToObject(j, "temperature", req->temperature))
    goto oom;
  if (req->max_tokens > 0 && !cJSON_AddNumberToObject(j, "max_tokens", req->max_tokens)) goto oom;
  if (req->n_stop) {
    cJSON *stop = cJSON_AddArrayToObject(j, "stop");
    if (!stop) goto oom;
    for (size_t i = 0; i < req->n_stop; i++) {
      cJSON *s = cJSON_CreateString(req->stop[i] ? req->stop[i] : "");
      if (!s) goto oom;
      cJSON_AddItemToArray(stop, s);
    }
  }
  if ((unsigned)req->tool_choice <= HL_TOOL_CHOICE_NAMED && req->tool_choice != HL_TOOL_CHOICE_AUTO &&
      !hl__json_add_str(j, "tool_choice", tool_choice_names[req->tool_choice]))
    goto oom;
  if (!hl__json_add_str(j, "tool_choice_name", req->tool_choice_name) ||
      !hl__json_add_str(j, "response_format_name", req->response_format_name))
    goto oom;
  if (req->response_schema) {
    cJSON *s = hl_json_clone(req->response_schema);
    if (!s) goto fail;
    if (!hl_json_add(j, "response_schema", s)) goto oom;
  }
  if (req->stream && !cJSON_AddTrueToObject(j, "stream")) goto oom;
  return j;
oom:
  hl__oom();
fail:
  cJSON_Delete(j);
  return NULL;
}

static hl_status decode_tools(const cJSON *tools, hl_request *r) {
  if (!cJSON_IsArray(tools))
    return hl_fail(HL_ERR_JSON, "request.tools: expected array, got %s", hl_json_type_name(tools));
  size_t i = 0;
  for (const cJSON *t = tools->child; t; t = t->next, i++) {
    char where[48];
    snprintf(where, sizeof where, "request.tools[%zu]", i);
    if (!cJSON_IsObject(t))
      return hl_fail(HL_ERR_JSON, "%s: expected object, got %s", where, hl_json_type_name(t));
    const char *name, *desc;
    hl_status st;
    if ((st = hl__json_req_str(t, "name", where, &name)) ||
        (st = hl__json_opt_str(t, "description", where, &desc)))
      return st;
    const cJSON *params = hl_json_get(t, "parameters");
    if (params && !cJSON_IsObject(params))
      return hl_fail(HL_ERR_JSON, "%s.parameters: expected object, got %s", where,
                     hl_json_type_name(params));
    if ((st = hl_request_add_tool(r, name, desc, params))) return st;
  }
  return HL_OK;
}

static hl_status decode_request(const cJSON *j, hl_request *r) {
  hl_status st;
  const char *s;
  if ((st = hl__json_opt_str(j, "model", "request", &s)) || (st = hl_request_set_model(r, s)))
    return st;
  const cJSON *v = hl_json_get(j, "messages");
  if (v && (st = hl__messages_from_json_at(v, &r->messages, "request.messages"))) return st;
  if ((v = hl_json_get(j, "tools")) && (st = decode_tools(v, r))) return st;
  if ((v = hl_json_get(j, "temperature"))) {
    if (!cJSON_IsNumber(v))
      return hl_fail(HL_ERR_JSON, "request.temperature: expected number, got %s",
                     hl_json_type_name(v));
    r->temperature = v->valuedouble;
  }
  if ((v = hl_json_get(j, "max_tokens"))) {
    if (strcmp(hl_json_type_name(v), "integer") != 0 || v->valuedouble > 2147483647.0 ||
        v->valuedouble < -2147483648.0)
      return hl_fail(HL_ERR_JSON, "request.max_tokens: expected a 32-bit integer, got %s",
                     hl_json_type_name(v));
    r->max_tokens = (int)v->valuedouble;
  }
  if ((v = hl_json_get(j, "stop"))) {
    if (!cJSON_IsArray(v))
      return hl_fail(HL_ERR_JSON, "request.stop: expected array, got %s", hl_json_type_name(v));
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
      if (!cJSON_IsString(e))
        return hl_fail(HL_ERR_JSON, "request.stop[%zu]: expected string, got %s", i,
                       hl_json_type_name(e));
      if ((st = hl_request_add_stop(r, e->valuestring))) return st;
    }
  }
  if ((st = hl__json_opt_str(j, "tool_choice", "request", &s))) return st;
  if (s) {
    unsigned k = 0;
    while (k < 4 && strcmp(s, tool_choice_names[k]) != 0) k++;
    if (k == 4) {
      char q[64];
      hl__quote(q, sizeof q, s);
      return hl_fail(HL_ERR_JSON,
                     "request.tool_choice: unknown value %s (expected auto, none, required or named)",
                     q);
    }
    r->tool_choice = (hl_tool_choice)k;
  }
  if ((st = hl__json_opt_str(j, "tool_choice_name", "request", &s))) return st;
  if (s && !(r->tool_choice_name = hl__strdup(s))) return hl__oom();
  const char *fmt_name;
  if ((st = hl__json_opt_str(j, "response_format_name", "request", &fmt_name))) return st;
  v = hl_json_get(j, "response_schema");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsObject(v))
      return hl_fail(HL_ERR_JSON, "request.response_schema: expected object, got %s",
                     hl_json_type_name(v));
    if ((st = hl_request_set_response_schema(r, fmt_name, v))) return st;
  } else if (fmt_name && !(r->response_format_name = hl__strdup(fmt_name))) {
    return hl__oom();
  }
  if ((v = hl_json_get(j, "stream"))) {
    if (!cJSON_IsBool(v))
      return hl_fail(HL_ERR_JSON, "request.stream: expected boolean, got %s", hl_json_type_name(v));
    r->stream = cJSON_IsTrue(v);
  }
  return HL_OK;
}

hl_status hl_request_from_json(const cJSON *json, hl_request **out) {
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_request_from_json: out is NULL");
  *out = NULL;
  if (!json) return hl_fail(HL_ERR_INVALID, "hl_request_from_json: json is NULL");
  if (!cJSON_IsObject(json))
    return hl_fail(HL_ERR_JSON, "request: expected object, got %s", hl_json_type_name(json));
  hl_request *r = hl_request_new();
  if (!r) return HL_ERR_NOMEM;
  hl_status st = decode_request(json, r);
  if (st) {
    hl_request_free(r);
    return st;
  }
  *out = r;
  return HL_OK;
}
