/*
 * message.c - messages, their content parts, and message lists, with the
 * neutral JSON encoding described in model.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/model.h"
#include "model_internal.h"
#include "core/image.h"
#include "util.h"

static const char *const role_names[] = {"system", "user", "assistant", "tool"};

const char *hl_role_name(hl_role role) {
  return (unsigned)role < 4 ? role_names[role] : "unknown";
}

hl_status hl_role_parse(const char *name, hl_role *out) {
  if (!name || !out) return hl_fail(HL_ERR_INVALID, "hl_role_parse: NULL argument");
  for (unsigned i = 0; i < 4; i++) {
    if (strcmp(name, role_names[i]) == 0) {
      *out = (hl_role)i;
      return HL_OK;
    }
  }
  char q[80];
  hl__quote(q, sizeof q, name);
  return hl_fail(HL_ERR_INVALID, "unknown role %s (expected system, user, assistant or tool)", q);
}

/* Each member only when set: a part uses two or three of the five (a tool
 * call has no text, only a tool call has arguments, few parts have a
 * signature). A call of free() or cJSON_Delete() on NULL costs little
 * (~4 instructions under callgrind, ~20 per session of scenario (b)), but
 * it is a call through the PLT for nothing. */
static void part_free(hl_part *p) {
  if (p->text) free(p->text);
  if (p->id) free(p->id);
  if (p->name) free(p->name);
  if (p->args) cJSON_Delete(p->args);
  if (p->signature) free(p->signature);
  memset(p, 0, sizeof *p);
}

/* A message and the room for its first part, in one block: most messages
 * keep one part (a text, a tool result), and a parts array of its own was
 * one malloc and one free more per message (every message of a history,
 * freed with its session). A second part moves the parts to an array of
 * their own (push_part); the slot in the block is then unused. */
typedef struct msg_block {
  hl_message msg;
  hl_part first;
} msg_block;

static hl_part *first_slot(hl_message *m) { return &((msg_block *)m)->first; }

hl_message *hl_message_new(hl_role role) {
  if ((unsigned)role > HL_ROLE_TOOL) {
    hl_fail(HL_ERR_INVALID, "hl_message_new: unknown role %d", (int)role);
    return NULL;
  }
  hl_message *m = calloc(1, sizeof(msg_block));
  if (!m) {
    hl__oom();
    return NULL;
  }
  m->role = role;
  return m;
}

hl_message *hl_message_new_text(hl_role role, const char *text) {
  if (!text) {
    hl_fail(HL_ERR_INVALID, "hl_message_new_text: text is NULL");
    return NULL;
  }
  hl_message *m = hl_message_new(role);
  if (m && hl_message_add_text(m, text) != HL_OK) {
    hl_message_free(m);
    return NULL;
  }
  return m;
}

void hl_message_free(hl_message *msg) {
  if (!msg) return;
  for (size_t i = 0; i < msg->n_parts; i++) part_free(&msg->parts[i]);
  if (msg->parts != first_slot(msg)) free(msg->parts);
  free(msg);
}

/* Reserve one more part and return it zeroed, or NULL (message set).
 * The first part goes in the message's own block (msg_block): most
 * messages keep one (a text, a tool result), and room for four was 168
 * bytes more of every such message that a run in flight holds (issue 12).
 * A second part makes an array with room for four at once. */
static hl_part *push_part(hl_message *msg, hl_part_kind kind) {
  size_t need = msg->n_parts + 1;
  if (msg->cap_parts_ == 0) { /* need == 1: a message never drops parts */
    msg->parts = first_slot(msg);
    msg->cap_parts_ = 1;
  } else if (need > msg->cap_parts_ && msg->parts == first_slot(msg)) {
    hl_part *parts = malloc(4 * sizeof *parts);
    if (!parts) {
      hl__oom();
      return NULL;
    }
    memcpy(parts, msg->parts, msg->n_parts * sizeof *parts);
    msg->parts = parts;
    msg->cap_parts_ = 4;
  } else if (need > msg->cap_parts_ &&
             hl__reserve((void **)&msg->parts, &msg->cap_parts_, need, sizeof(hl_part)) != HL_OK) {
    return NULL;
  }
  hl_part *p = &msg->parts[msg->n_parts];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  return p;
}

hl_status hl_message_add_text(hl_message *msg, const char *text) {
  if (!msg || !text) return hl_fail(HL_ERR_INVALID, "hl_message_add_text: NULL argument");
  hl_part *p = push_part(msg, HL_PART_TEXT);
  if (!p) return HL_ERR_NOMEM;
  if (!(p->text = hl__strdup(text))) return hl__oom();
  msg->n_parts++;
  return HL_OK;
}

/* Both forms: `args` is copied, or taken (`owned`: freed on failure too). */
static hl_status add_tool_call(hl_message *msg, const char *id, const char *name, const cJSON *args,
                               cJSON *owned) {
  if (!msg || !id || !name) {
    cJSON_Delete(owned);
    return hl_fail(HL_ERR_INVALID, "hl_message_add_tool_call: NULL message, id or name");
  }
  if (args && !cJSON_IsObject(args)) {
    hl_status st = hl_fail(HL_ERR_INVALID, "hl_message_add_tool_call: arguments must be an object, got %s",
                           hl_json_type_name(args));
    cJSON_Delete(owned);
    return st;
  }
  if (args && !hl__json_depth_ok(args, HL_JSON_MAX_DEPTH)) {
    cJSON_Delete(owned);
    return hl_fail(HL_ERR_TOO_LARGE, "hl_message_add_tool_call: arguments nest deeper than %d levels",
                   HL_JSON_MAX_DEPTH);
  }
  hl_part *p = push_part(msg, HL_PART_TOOL_CALL);
  if (!p) {
    cJSON_Delete(owned);
    return HL_ERR_NOMEM;
  }
  p->id = hl__strdup(id);
  p->name = hl__strdup(name);
  p->args = owned ? owned : args ? hl_json_clone(args) : cJSON_CreateObject();
  if (!p->id || !p->name || !p->args) {
    part_free(p);
    return hl__oom();
  }
  msg->n_parts++;
  return HL_OK;
}

hl_status hl_message_add_tool_call(hl_message *msg, const char *id, const char *name,
                                   const cJSON *args) {
  return add_tool_call(msg, id, name, args, NULL);
}

hl_status hl__message_add_tool_call_take(hl_message *msg, const char *id, const char *name,
                                         cJSON *args) {
  return add_tool_call(msg, id, name, args, args);
}

/* Both forms: `content` is copied, or taken (`owned`: freed on failure too). */
static hl_status add_tool_result(hl_message *msg, const char *id, const char *name,
                                 const char *content, char *owned, bool is_error) {
  if (!msg || !id || !content) {
    free(owned);
    return hl_fail(HL_ERR_INVALID, "hl_message_add_tool_result: NULL message, id or content");
  }
  hl_part *p = push_part(msg, HL_PART_TOOL_RESULT);
  if (!p) {
    free(owned);
    return HL_ERR_NOMEM;
  }
  p->id = hl__strdup(id);
  p->name = hl__strdup(name);
  p->text = owned ? owned : hl__strdup(content);
  p->is_error = is_error;
  if (!p->id || (name && !p->name) || !p->text) {
    part_free(p);
    return hl__oom();
  }
  msg->n_parts++;
  return HL_OK;
}

hl_status hl_message_add_tool_result(hl_message *msg, const char *id, const char *name,
                                     const char *content, bool is_error) {
  return add_tool_result(msg, id, name, content, NULL, is_error);
}

hl_status hl__message_add_tool_result_take(hl_message *msg, const char *id, const char *name,
                                           char *content, bool is_error) {
  return add_tool_result(msg, id, name, content, content, is_error);
}

hl_status hl_message_add_reasoning(hl_message *msg, const char *provider, const char *id,
                                   const char *text, const cJSON *data, const char *signature) {
  if (!msg || !provider)
    return hl_fail(HL_ERR_INVALID, "hl_message_add_reasoning: NULL message or provider");
  if (data && !cJSON_IsObject(data))
    return hl_fail(HL_ERR_INVALID, "hl_message_add_reasoning: data must be an object, got %s",
                   hl_json_type_name(data));
  if (data && !hl__json_depth_ok(data, HL_JSON_MAX_DEPTH))
    return hl_fail(HL_ERR_TOO_LARGE, "hl_message_add_reasoning: data nests deeper than %d levels",
                   HL_JSON_MAX_DEPTH);
  hl_part *p = push_part(msg, HL_PART_REASONING);
  if (!p) return HL_ERR_NOMEM;
  p->name = hl__strdup(provider);
  p->id = hl__strdup(id);
  p->text = hl__strdup(text);
  p->signature = hl__strdup(signature);
  p->args = data ? hl_json_clone(data) : NULL;
  if (!p->name || (id && !p->id) || (text && !p->text) || (signature && !p->signature) ||
      (data && !p->args)) {
    part_free(p);
    return hl__oom();
  }
  msg->n_parts++;
  return HL_OK;
}

hl_status hl_message_add_image_url(hl_message *msg, const char *url, const char *media_type) {
  if (!msg || !url) return hl_fail(HL_ERR_INVALID, "hl_message_add_image_url: NULL argument");
  hl_status st = hl__image_check_url(url);
  if (st != HL_OK) return st;
  const char *dtype = NULL, *data;
  size_t dlen = 0;
  if (media_type && !hl__image_media_type_ok(media_type, strlen(media_type)))
    return hl_fail(HL_ERR_INVALID, "image: media type \"%.40s\" is not type/subtype", media_type);
  hl_part *p = push_part(msg, HL_PART_IMAGE);
  if (!p) return HL_ERR_NOMEM;
  p->text = hl__strdup(url);
  if (media_type) p->name = hl__strdup(media_type);
  else if (hl__image_data_url(url, &dtype, &dlen, &data)) p->name = strndup(dtype, dlen);
  if (!p->text || ((media_type || dtype) && !p->name)) {
    part_free(p);
    return hl__oom();
  }
  msg->n_parts++;
  return HL_OK;
}

hl_status hl_message_add_image_base64(hl_message *msg, const char *media_type, const char *base64) {
  if (!msg || !media_type || !base64)
    return hl_fail(HL_ERR_INVALID, "hl_message_add_image_base64: NULL argument");
  if (!hl__image_media_type_ok(media_type, strlen(media_type)))
    return hl_fail(HL_ERR_INVALID, "image: media type \"%.40s\" is not type/subtype", media_type);
  if (!hl__image_base64_ok(base64))
    return hl_fail(HL_ERR_INVALID, "image: the data is not base64");
  size_t n = strlen(media_type) + strlen(base64) + 16;
  char *url = malloc(n);
  if (!url) return hl__oom();
  snprintf(url, n, "data:%s;base64,%s", media_type, base64);
  hl_status st = hl_message_add_image_url(msg, url, media_type);
  free(url);
  return st;
}

hl_status hl_message_set_signature(hl_message *msg, size_t index, const char *signature) {
  if (!msg || index >= msg->n_parts)
    return hl_fail(HL_ERR_INVALID, "hl_message_set_signature: no part %zu", index);
  char *s = NULL;
  if (signature && !(s = hl__strdup(signature))) return hl__oom();
  free(msg->parts[index].signature);
  msg->parts[index].signature = s;
  return HL_OK;
}

char *hl_message_text(const hl_message *msg) {
  if (!msg) {
    hl_fail(HL_ERR_INVALID, "hl_message_text: message is NULL");
    return NULL;
  }
  size_t total = 0;
  for (size_t i = 0; i < msg->n_parts; i++)
    if (msg->parts[i].kind == HL_PART_TEXT && msg->parts[i].text)
      total += strlen(msg->parts[i].text);
  char *s = malloc(total + 1);
  if (!s) {
    hl__oom();
    return NULL;
  }
  size_t o = 0;
  for (size_t i = 0; i < msg->n_parts; i++) {
    if (msg->parts[i].kind != HL_PART_TEXT || !msg->parts[i].text) continue;
    size_t n = strlen(msg->parts[i].text);
    memcpy(s + o, msg->parts[i].text, n);
    o += n;
  }
  s[o] = '\0';
  return s;
}

size_t hl_message_tool_call_count(const hl_message *msg) {
  size_t n = 0;
  if (!msg) return 0;
  for (size_t i = 0; i < msg->n_parts; i++)
    if (msg->parts[i].kind == HL_PART_TOOL_CALL) n++;
  return n;
}

size_t hl__message_text_bytes(const hl_message *msg) {
  size_t bytes = 0;
  for (size_t i = 0; i < msg->n_parts; i++)
    if (msg->parts[i].text) bytes += strlen(msg->parts[i].text);
  return bytes;
}

hl_message *hl_message_clone(const hl_message *msg) {
  if (!msg) {
    hl_fail(HL_ERR_INVALID, "hl_message_clone: message is NULL");
    return NULL;
  }
  hl_message *c = hl_message_new(msg->role);
  if (!c) return NULL;
  /* Exactly the parts it copies. */
  if (msg->n_parts > 1) {
    if (!(c->parts = malloc(msg->n_parts * sizeof(hl_part)))) {
      hl_message_free(c);
      hl__oom();
      return NULL;
    }
    c->cap_parts_ = msg->n_parts;
  }
  for (size_t i = 0; i < msg->n_parts; i++) {
    const hl_part *p = &msg->parts[i];
    hl_status st;
    switch (p->kind) {
    case HL_PART_TEXT:
      st = hl_message_add_text(c, p->text ? p->text : "");
      break;
    case HL_PART_TOOL_CALL:
      st = hl_message_add_tool_call(c, p->id ? p->id : "", p->name ? p->name : "", p->args);
      break;
    case HL_PART_TOOL_RESULT:
      st = hl_message_add_tool_result(c, p->id ? p->id : "", p->name, p->text ? p->text : "",
                                      p->is_error);
      break;
    case HL_PART_REASONING:
      st = hl_message_add_reasoning(c, p->name ? p->name : "", p->id, p->text, p->args, NULL);
      break;
    case HL_PART_IMAGE:
      st = hl_message_add_image_url(c, p->text ? p->text : "", p->name);
      break;
    default:
      st = hl_fail(HL_ERR_INVALID, "hl_message_clone: part %zu has unknown kind %d", i,
                   (int)p->kind);
    }
    if (st == HL_OK && p->signature) st = hl_message_set_signature(c, c->n_parts - 1, p->signature);
    if (st != HL_OK) {
      hl_message_free(c);
      return NULL;
    }
  }
  return c;
}

/* ---- JSON ---------------------------------------------------------- */

/* Add obj[key] = string s (skipped when s is NULL); false on OOM. */
bool hl__json_add_str(cJSON *obj, const char *key, const char *s) {
  if (!s) return true;
  return cJSON_AddStringToObject(obj, key, s) != NULL;
}

/* NULL with the message set (out of memory, or arguments that a hook made
 * too deep to encode). */
static cJSON *part_to_json(const hl_part *p) {
  if (p->kind == HL_PART_TOOL_CALL && p->args && !hl__json_depth_ok(p->args, HL_JSON_MAX_DEPTH)) {
    hl_fail(HL_ERR_TOO_LARGE, "tool call %s: arguments nest deeper than %d levels",
            p->id ? p->id : "(no id)", HL_JSON_MAX_DEPTH);
    return NULL;
  }
  cJSON *j = cJSON_CreateObject();
  if (!j) {
    hl__oom();
    return NULL;
  }
  bool ok = true;
  switch (p->kind) {
  case HL_PART_TEXT:
    ok = hl__json_add_str(j, "type", "text") && hl__json_add_str(j, "text", p->text ? p->text : "");
    break;
  case HL_PART_TOOL_CALL: {
    ok = hl__json_add_str(j, "type", "tool_call") && hl__json_add_str(j, "id", p->id) &&
         hl__json_add_str(j, "name", p->name);
    cJSON *args = ok ? (p->args ? hl_json_clone(p->args) : cJSON_CreateObject()) : NULL;
    ok = ok && args && cJSON_AddItemToObject(j, "arguments", args);
    if (!ok) cJSON_Delete(args);
    break;
  }
  case HL_PART_TOOL_RESULT:
    ok = hl__json_add_str(j, "type", "tool_result") && hl__json_add_str(j, "id", p->id) &&
         hl__json_add_str(j, "name", p->name) &&
         hl__json_add_str(j, "content", p->text ? p->text : "") &&
         cJSON_AddBoolToObject(j, "is_error", p->is_error) != NULL;
    break;
  case HL_PART_REASONING: {
    ok = hl__json_add_str(j, "type", "reasoning") && hl__json_add_str(j, "provider", p->name) &&
         hl__json_add_str(j, "id", p->id) && hl__json_add_str(j, "text", p->text);
    cJSON *data = ok && p->args ? hl_json_clone(p->args) : NULL;
    if (ok && p->args) ok = data && cJSON_AddItemToObject(j, "data", data);
    if (!ok) cJSON_Delete(data);
    break;
  }
  case HL_PART_IMAGE:
    ok = hl__json_add_str(j, "type", "image") && hl__json_add_str(j, "url", p->text ? p->text : "") &&
         hl__json_add_str(j, "media_type", p->name);
    break;
  default:
    cJSON_Delete(j);
    hl_fail(HL_ERR_INVALID, "message part has unknown kind %d", (int)p->kind);
    return NULL;
  }
  ok = ok && hl__json_add_str(j, "signature", p->signature);
  if (!ok) {
    cJSON_Delete(j);
    hl__oom();
    return NULL;
  }
  return j;
}

cJSON *hl_message_to_json(const hl_message *msg) {
  if (!msg) {
    hl_fail(HL_ERR_INVALID, "hl_message_to_json: message is NULL");
    return NULL;
  }
  cJSON *j = cJSON_CreateObject();
  cJSON *content = cJSON_CreateArray();
  if (!j || !content || !hl__json_add_str(j, "role", hl_role_name(msg->role)) ||
      !cJSON_AddItemToObject(j, "content", content)) {
    cJSON_Delete(j);
    cJSON_Delete(content);
    hl__oom();
    return NULL;
  }
  for (size_t i = 0; i < msg->n_parts; i++) {
    cJSON *pj = part_to_json(&msg->parts[i]);
    if (!pj) {
      cJSON_Delete(j);
      return NULL;
    }
    cJSON_AddItemToArray(content, pj);
  }
  return j;
}

/* Fetch an optional string field; HL_ERR_JSON when present but not a string. */
hl_status hl__json_opt_str(const cJSON *obj, const char *key, const char *where, const char **out) {
  const cJSON *v = hl_json_get(obj, key);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) return HL_OK;
  if (!cJSON_IsString(v))
    return hl_fail(HL_ERR_JSON, "%s.%s: expected string, got %s", where, key, hl_json_type_name(v));
  *out = v->valuestring;
  return HL_OK;
}

hl_status hl__json_req_str(const cJSON *obj, const char *key, const char *where, const char **out) {
  hl_status st = hl__json_opt_str(obj, key, where, out);
  if (st == HL_OK && !*out) return hl_fail(HL_ERR_JSON, "%s: missing string field \"%s\"", where, key);
  return st;
}

static hl_status part_kind_from_json(const cJSON *pj, hl_message *m, const char *where);

/* One part, then its signature (any kind may carry one). */
static hl_status part_from_json(const cJSON *pj, hl_message *m, const char *where) {
  hl_status st = part_kind_from_json(pj, m, where);
  const char *sig;
  if (st == HL_OK && (st = hl__json_opt_str(pj, "signature", where, &sig)) == HL_OK && sig)
    st = hl_message_set_signature(m, m->n_parts - 1, sig);
  return st;
}

static hl_status part_kind_from_json(const cJSON *pj, hl_message *m, const char *where) {
  if (!cJSON_IsObject(pj))
    return hl_fail(HL_ERR_JSON, "%s: expected object, got %s", where, hl_json_type_name(pj));
  const char *type, *text, *id, *name;
  hl_status st = hl__json_req_str(pj, "type", where, &type);
  if (st) return st;
  if (strcmp(type, "text") == 0) {
    if ((st = hl__json_req_str(pj, "text", where, &text))) return st;
    return hl_message_add_text(m, text);
  }
  if (strcmp(type, "tool_call") == 0) {
    if ((st = hl__json_req_str(pj, "id", where, &id)) || (st = hl__json_req_str(pj, "name", where, &name)))
      return st;
    const cJSON *args = hl_json_get(pj, "arguments");
    if (args && !cJSON_IsObject(args))
      return hl_fail(HL_ERR_JSON, "%s.arguments: expected object, got %s", where,
                     hl_json_type_name(args));
    return hl_message_add_tool_call(m, id, name, args);
  }
  if (strcmp(type, "tool_result") == 0) {
    if ((st = hl__json_req_str(pj, "id", where, &id)) ||
        (st = hl__json_opt_str(pj, "name", where, &name)) ||
        (st = hl__json_req_str(pj, "content", where, &text)))
      return st;
    const cJSON *err = hl_json_get(pj, "is_error");
    if (err && !cJSON_IsBool(err))
      return hl_fail(HL_ERR_JSON, "%s.is_error: expected boolean, got %s", where,
                     hl_json_type_name(err));
    return hl_message_add_tool_result(m, id, name, text, cJSON_IsTrue(err));
  }
  if (strcmp(type, "reasoning") == 0) {
    if ((st = hl__json_req_str(pj, "provider", where, &name)) ||
        (st = hl__json_opt_str(pj, "id", where, &id)) ||
        (st = hl__json_opt_str(pj, "text", where, &text)))
      return st;
    const cJSON *data = hl_json_get(pj, "data");
    if (data && !cJSON_IsNull(data) && !cJSON_IsObject(data))
      return hl_fail(HL_ERR_JSON, "%s.data: expected object, got %s", where, hl_json_type_name(data));
    return hl_message_add_reasoning(m, name, id, text, cJSON_IsObject(data) ? data : NULL, NULL);
  }
  if (strcmp(type, "image") == 0) {
    if ((st = hl__json_req_str(pj, "url", where, &text)) ||
        (st = hl__json_opt_str(pj, "media_type", where, &name)))
      return st;
    st = hl_message_add_image_url(m, text, name);
    if (st != HL_OK) {
      char why[512];
      snprintf(why, sizeof why, "%s", hl_last_error());
      return hl_fail(HL_ERR_JSON, "%s: %s", where, why);
    }
    return HL_OK;
  }
  char q[64];
  hl__quote(q, sizeof q, type);
  return hl_fail(HL_ERR_JSON,
                 "%s.type: unknown part type %s (expected text, tool_call, tool_result, reasoning or image)",
                 where, q);
}

hl_status hl__message_from_json_at(const cJSON *json, hl_message **out, const char *where) {
  *out = NULL;
  if (!cJSON_IsObject(json))
    return hl_fail(HL_ERR_JSON, "%s: expected object, got %s", where, hl_json_type_name(json));
  const char *role_name;
  hl_status st = hl__json_req_str(json, "role", where, &role_name);
  if (st) return st;
  hl_role role;
  if (hl_role_parse(role_name, &role) != HL_OK)
    return hl_fail(HL_ERR_JSON, "%s.role: %s", where, hl_last_error());
  const cJSON *content = hl_json_get(json, "content");
  if (!cJSON_IsArray(content))
    return hl_fail(HL_ERR_JSON, "%s.content: expected array, got %s", where,
                   hl_json_type_name(content));
  hl_message *m = hl_message_new(role);
  if (!m) return hl_last_status();
  size_t i = 0;
  for (const cJSON *pj = content->child; pj; pj = pj->next, i++) {
    char pwhere[96];
    snprintf(pwhere, sizeof pwhere, "%s.content[%zu]", where, i);
    if ((st = part_from_json(pj, m, pwhere)) != HL_OK) {
      hl_message_free(m);
      return st;
    }
  }
  *out = m;
  return HL_OK;
}

hl_status hl_message_from_json(const cJSON *json, hl_message **out) {
  if (!out) return hl_fail(HL_ERR_INVALID, "hl_message_from_json: out is NULL");
  *out = NULL;
  if (!json) return hl_fail(HL_ERR_INVALID, "hl_message_from_json: json is NULL");
  return hl__message_from_json_at(json, out, "message");
}

/* ---- message lists ------------------------------------------------- */

hl_status hl_messages_push(hl_messages *list, hl_message *msg) {
  if (!list || !msg) {
    hl_message_free(msg);
    return hl_fail(HL_ERR_INVALID, "hl_messages_push: NULL list or message");
  }
  hl_status st = hl__reserve((void **)&list->items, &list->cap_, list->count + 1,
                             sizeof(hl_message *));
  if (st) {
    hl_message_free(msg);
    return st;
  }
  list->items[list->count++] = msg;
  return HL_OK;
}

void hl_messages_clear(hl_messages *list) {
  if (!list) return;
  for (size_t i = 0; i < list->count; i++) hl_message_free(list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = 0;
  list->cap_ = 0;
}

hl_status hl_messages_copy(hl_messages *dst, const hl_messages *src) {
  if (!dst || !src) return hl_fail(HL_ERR_INVALID, "hl_messages_copy: NULL list");
  if (dst->count) return hl_fail(HL_ERR_INVALID, "hl_messages_copy: destination is not empty");
  for (size_t i = 0; i < src->count; i++) {
    hl_message *c = hl_message_clone(src->items[i]);
    hl_status st = c ? hl_messages_push(dst, c) : hl_last_status();
    if (st != HL_OK) {
      hl_messages_clear(dst);
      return st;
    }
  }
  return HL_OK;
}

cJSON *hl_messages_to_json(const hl_messages *list) {
  if (!list) {
    hl_fail(HL_ERR_INVALID, "hl_messages_to_json: list is NULL");
    return NULL;
  }
  cJSON *arr = cJSON_CreateArray();
  if (!arr) {
    hl__oom();
    return NULL;
  }
  for (size_t i = 0; i < list->count; i++) {
    cJSON *mj = hl_message_to_json(list->items[i]);
    if (!mj) {
      cJSON_Delete(arr);
      return NULL;
    }
    cJSON_AddItemToArray(arr, mj);
  }
  return arr;
}

hl_status hl__messages_from_json_at(const cJSON *array, hl_messages *list, const char *where) {
  if (!cJSON_IsArray(array))
    return hl_fail(HL_ERR_JSON, "%s: expected array, got %s", where, hl_json_type_name(array));
  /* All or nothing: decode into a scratch list, then move. */
  hl_messages tmp = {0};
  size_t i = 0;
  for (const cJSON *mj = array->child; mj; mj = mj->next, i++) {
    char mwhere[64];
    snprintf(mwhere, sizeof mwhere, "%s[%zu]", where, i);
    hl_message *m;
    hl_status st = hl__message_from_json_at(mj, &m, mwhere);
    if (st == HL_OK) st = hl_messages_push(&tmp, m);
    if (st != HL_OK) {
      hl_messages_clear(&tmp);
      return st;
    }
  }
  hl_status st = hl__reserve((void **)&list->items, &list->cap_, list->count + tmp.count,
                             sizeof(hl_message *));
  if (st != HL_OK) {
    hl_messages_clear(&tmp);
    return st;
  }
  for (size_t k = 0; k < tmp.count; k++) list->items[list->count++] = tmp.items[k];
  free(tmp.items);
  return HL_OK;
}

hl_status hl_messages_from_json(const cJSON *array, hl_messages *list) {
  if (!array || !list) return hl_fail(HL_ERR_INVALID, "hl_messages_from_json: NULL argument");
  return hl__messages_from_json_at(array, list, "messages");
}
