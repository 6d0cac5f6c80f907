/*
 * tool.c - tool declarations (name, description, argument schema), the
 * schema builder, and the native C function backend: one call of the
 * function on the calling thread (hl__tool_run).
 *
 * hl_tool_invoke(), which validates the arguments and honours the tool's
 * time limit on the worker pool inside the caller's call record, is the
 * agent layer's (lib/agent/tool_invoke.c says why).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline/json.h"
#include "hookline/tool.h"
#include "schema_internal.h"
#include "tool_internal.h"
#include "util.h"

#define HL_TOOL_NAME_MAX 64

struct hl_tool {
  atomic_size_t refs;
  char *name;
  char *description;
  cJSON *schema;        /* always an object schema with "type":"object" */
  char *schema_text;    /* schema printed (schema_changed), or NULL */
  size_t schema_text_len;
  hl_tool_fn fn;
  void *user_data;
  hl_free_fn free_fn;
  unsigned timeout_ms;
  /* How long its calls take, in ns (hl__tool_note_ns): 0 until one was
   * measured. Written by every thread that ends a call, without a lock:
   * an estimate, which a lost update leaves an estimate. */
  atomic_llong call_ns;
  bool needs_approval; /* calls wait for a human (lib/agent/interrupt.c) */
  bool unenforced;     /* a declared schema the validator cannot enforce */
};

/* ---- naming -------------------------------------------------------- */

hl_status hl__tool_name_check(const char *name) {
  if (!name) return hl_fail(HL_ERR_INVALID, "tool name is NULL");
  size_t n = 0;
  for (; name[n] && n <= HL_TOOL_NAME_MAX; n++) {
    char c = name[n];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      char q[96];
      hl__quote(q, sizeof q, name);
      return hl_fail(HL_ERR_INVALID, "invalid tool name %s: only A-Z a-z 0-9 _ - are allowed", q);
    }
  }
  if (n == 0) return hl_fail(HL_ERR_INVALID, "invalid tool name: empty");
  if (n > HL_TOOL_NAME_MAX)
    return hl_fail(HL_ERR_INVALID, "invalid tool name: longer than %d characters", HL_TOOL_NAME_MAX);
  return HL_OK;
}

/* ---- lifetime ------------------------------------------------------ */

/* The schema printed once for every request that declares the tool: the
 * Chat Completions writer copies it instead of printing the tree again
 * per model call (issue 12). Called after every change of the schema, so
 * the text never outlives the tree it was printed from; without memory
 * for it there is no text and the writer prints the tree. */
static void schema_changed(hl_tool *t) {
  free(t->schema_text);
  t->schema_text = hl__json_print_exact(t->schema);
  t->schema_text_len = t->schema_text ? strlen(t->schema_text) : 0;
}

const char *hl__tool_schema_text(const hl_tool *tool, size_t *len) {
  *len = tool->schema_text_len;
  return tool->schema_text;
}

hl_tool *hl_tool_new(const char *name, const char *description, hl_tool_fn fn, void *user_data) {
  if (hl__tool_name_check(name) != HL_OK) return NULL;
  if (!fn) {
    hl_fail(HL_ERR_INVALID, "hl_tool_new: tool \"%s\" has no function", name);
    return NULL;
  }
  hl_tool *t = calloc(1, sizeof *t);
  if (!t) goto oom;
  atomic_init(&t->refs, 1);
  atomic_init(&t->call_ns, 0);
  t->name = hl__strdup(name);
  t->description = hl__strdup(description ? description : "");
  t->schema = hl__empty_object_schema();
  t->fn = fn;
  t->user_data = user_data;
  if (!t->name || !t->description || !t->schema) goto oom;
  schema_changed(t);
  return t;
oom:
  if (t) {
    free(t->name);
    free(t->description);
    cJSON_Delete(t->schema);
    free(t);
  }
  hl__oom();
  return NULL;
}

hl_tool *hl_tool_ref(hl_tool *tool) {
  if (tool) atomic_fetch_add_explicit(&tool->refs, 1, memory_order_relaxed);
  return tool;
}

void hl_tool_unref(hl_tool *tool) {
  if (!tool) return;
  /* acq_rel: the thread that frees must see every other thread's writes. */
  if (atomic_fetch_sub_explicit(&tool->refs, 1, memory_order_acq_rel) != 1) return;
  if (tool->free_fn) tool->free_fn(tool->user_data);
  free(tool->name);
  free(tool->description);
  cJSON_Delete(tool->schema);
  free(tool->schema_text);
  free(tool);
}

void hl_tool_set_free_fn(hl_tool *tool, hl_free_fn free_fn) {
  if (!tool) {
    hl_fail(HL_ERR_INVALID, "hl_tool_set_free_fn: tool is NULL");
    return;
  }
  tool->free_fn = free_fn;
}

/* ---- schema -------------------------------------------------------- */

static const char *const param_types[] = {"string", "number", "integer", "boolean", "object", "array"};

/* Add schema.properties[name] = prop (taking it) and list it in required. */
static hl_status add_property_to_tree(hl_tool *tool, const char *name, cJSON *prop, bool required) {
  if (!tool || !name) {
    cJSON_Delete(prop);
    return hl_fail(HL_ERR_INVALID, "hl_tool_param: NULL tool or parameter name");
  }
  if (!*name || !hl_utf8_valid(name, strlen(name))) {
    cJSON_Delete(prop);
    return hl_fail(HL_ERR_INVALID, "tool \"%s\": parameter name must be non-empty UTF-8", tool->name);
  }
  cJSON *props = cJSON_GetObjectItemCaseSensitive(tool->schema, "properties");
  if (!props) props = cJSON_AddObjectToObject(tool->schema, "properties");
  if (!props) {
    cJSON_Delete(prop);
    return hl__oom();
  }
  if (cJSON_GetObjectItemCaseSensitive(props, name)) {
    cJSON_Delete(prop);
    char q[96];
    hl__quote(q, sizeof q, name);
    return hl_fail(HL_ERR_EXISTS, "tool \"%s\": parameter %s is already declared", tool->name, q);
  }
  cJSON *req = NULL;
  if (required) {
    req = cJSON_GetObjectItemCaseSensitive(tool->schema, "required");
    if (!req) req = cJSON_AddArrayToObject(tool->schema, "required");
    cJSON *entry = req ? cJSON_CreateString(name) : NULL;
    if (!entry) {
      cJSON_Delete(prop);
      return hl__oom();
    }
    cJSON_AddItemToArray(req, entry);
  }
  if (!cJSON_AddItemToObject(props, name, prop)) {
    cJSON_Delete(prop);
    if (req) cJSON_DeleteItemFromArray(req, cJSON_GetArraySize(req) - 1);
    return hl__oom();
  }
  return HL_OK;
}

/* add_property_to_tree(), then the schema printed again: a failure may
 * have left an empty "properties" or "required" behind. */
static hl_status add_property(hl_tool *tool, const char *name, cJSON *prop, bool required) {
  hl_status st = add_property_to_tree(tool, name, prop, required);
  if (tool) schema_changed(tool);
  return st;
}

static cJSON *simple_property(const char *type, const char *description) {
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "type", type) ||
      (description && !cJSON_AddStringToObject(p, "description", description))) {
    cJSON_Delete(p);
    return NULL;
  }
  return p;
}

hl_status hl_tool_param(hl_tool *tool, const char *name, const char *type, const char *description,
                        bool required) {
  if (!tool || !name || !type)
    return hl_fail(HL_ERR_INVALID, "hl_tool_param: NULL tool, name or type");
  bool known = false;
  for (size_t i = 0; i < sizeof param_types / sizeof param_types[0]; i++)
    if (strcmp(type, param_types[i]) == 0) known = true;
  if (!known) {
    char q[80];
    hl__quote(q, sizeof q, type);
    return hl_fail(HL_ERR_SCHEMA,
                   "tool \"%s\": parameter \"%.64s\": unknown type %s (expected string, number, "
                   "integer, boolean, object or array)",
                   tool->name, name, q);
  }
  cJSON *p = simple_property(type, description);
  if (!p) return hl__oom();
  return add_property(tool, name, p, required);
}

hl_status hl_tool_param_enum(hl_tool *tool, const char *name, const char *description,
                             bool required, const char *const *values) {
  if (!tool || !name || !values)
    return hl_fail(HL_ERR_INVALID, "hl_tool_param_enum: NULL tool, name or values");
  if (!values[0])
    return hl_fail(HL_ERR_SCHEMA, "tool \"%s\": parameter \"%.64s\": enum needs at least one value",
                   tool->name, name);
  cJSON *p = simple_property("string", description);
  cJSON *e = p ? cJSON_AddArrayToObject(p, "enum") : NULL;
  if (!e) goto oom;
  for (const char *const *v = values; *v; v++) {
    cJSON *s = cJSON_CreateString(*v);
    if (!s) goto oom;
    cJSON_AddItemToArray(e, s);
  }
  return add_property(tool, name, p, required);
oom:
  cJSON_Delete(p);
  return hl__oom();
}

hl_status hl_tool_param_schema(hl_tool *tool, const char *name, const cJSON *schema, bool required) {
  if (!tool || !name || !schema)
    return hl_fail(HL_ERR_INVALID, "hl_tool_param_schema: NULL tool, name or schema");
  char root[128];
  snprintf(root, sizeof root, "$.properties.%.64s", name);
  hl_status st = hl__schema_check_at(schema, root);
  if (st) return st;
  cJSON *copy = hl_json_clone(schema);
  if (!copy) return hl_last_status();
  return add_property(tool, name, copy, required);
}

/* A tool's arguments are a JSON object, so its schema must say so. */
static hl_status check_tool_schema(const hl_tool *tool, const cJSON *schema) {
  hl_status st = hl_schema_check(schema);
  if (st) return st;
  const cJSON *type = hl_json_get(schema, "type");
  if (!cJSON_IsString(type) || strcmp(type->valuestring, "object") != 0)
    return hl_fail(HL_ERR_SCHEMA, "schema $: tool \"%s\" needs an object schema (\"type\": \"object\")",
                   tool->name);
  return HL_OK;
}

hl_status hl_tool_set_schema(hl_tool *tool, const char *schema_json) {
  if (!tool || !schema_json)
    return hl_fail(HL_ERR_INVALID, "hl_tool_set_schema: NULL tool or schema text");
  cJSON *schema;
  hl_status st = hl_json_parse(schema_json, (size_t)-1, &schema);
  if (st) return hl_fail(st, "tool \"%s\": schema: %s", tool->name, hl_last_error());
  if ((st = check_tool_schema(tool, schema))) {
    cJSON_Delete(schema);
    return st;
  }
  cJSON_Delete(tool->schema);
  tool->schema = schema;
  tool->unenforced = false;
  schema_changed(tool);
  return HL_OK;
}

void hl__tool_declare_schema(hl_tool *tool, cJSON *schema, bool enforce) {
  cJSON_Delete(tool->schema);
  tool->schema = schema;
  tool->unenforced = !enforce;
  schema_changed(tool);
}

hl_status hl__tool_validate(const hl_tool *tool, const cJSON *args) {
  return tool->unenforced ? HL_OK : hl_schema_validate(tool->schema, args);
}

hl_status hl_tool_set_strict(hl_tool *tool, bool strict) {
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_tool_set_strict: tool is NULL");
  if (!strict) {
    cJSON_DeleteItemFromObjectCaseSensitive(tool->schema, "additionalProperties");
    schema_changed(tool);
    return HL_OK;
  }
  cJSON *f = cJSON_CreateFalse();
  if (!f) return hl__oom();
  if (cJSON_GetObjectItemCaseSensitive(tool->schema, "additionalProperties"))
    cJSON_ReplaceItemInObjectCaseSensitive(tool->schema, "additionalProperties", f);
  else if (!hl_json_add(tool->schema, "additionalProperties", f))
    return hl__oom();
  schema_changed(tool);
  return HL_OK;
}

void hl_tool_set_timeout_ms(hl_tool *tool, unsigned timeout_ms) {
  if (!tool) {
    hl_fail(HL_ERR_INVALID, "hl_tool_set_timeout_ms: tool is NULL");
    return;
  }
  tool->timeout_ms = timeout_ms;
}

hl_status hl_tool_set_needs_approval(hl_tool *tool, bool needs_approval) {
  if (!tool) return hl_fail(HL_ERR_INVALID, "hl_tool_set_needs_approval: tool is NULL");
  tool->needs_approval = needs_approval;
  return HL_OK;
}

bool hl_tool_needs_approval(const hl_tool *tool) { return tool && tool->needs_approval; }

/* ---- accessors ----------------------------------------------------- */

const char *hl_tool_name(const hl_tool *tool) { return tool ? tool->name : NULL; }
const char *hl_tool_description(const hl_tool *tool) { return tool ? tool->description : NULL; }
const cJSON *hl_tool_schema(const hl_tool *tool) { return tool ? tool->schema : NULL; }
unsigned hl_tool_timeout_ms(const hl_tool *tool) { return tool ? tool->timeout_ms : 0; }
void *hl_tool_user_data(const hl_tool *tool) { return tool ? tool->user_data : NULL; }

/* ---- the native backend: one call on this thread ------------------ */

hl_status hl__tool_run(hl_tool *t, hl_context *ctx, const cJSON *args, cJSON **out) {
  cJSON *res = NULL;
  hl_clear_error();
  hl_status st = t->fn(ctx, args, &res, t->user_data);
  if (st != HL_OK) {
    cJSON_Delete(res);
    if (hl_last_status() == HL_OK || !hl_last_error()[0])
      return hl_fail(st, "tool \"%s\" failed: %s", t->name, hl_strerror(st));
    if (hl_last_status() != st) hl_fail(st, "%s", hl_last_error());
    return st;
  }
  if (!res && !(res = cJSON_CreateNull())) return hl__oom();
  *out = res;
  return HL_OK;
}

/* ---- how long its calls take ----------------------------------------- */

/* Up at once, down by an eighth of the difference per call: one slow
 * call marks the tool slow, and it takes a few dozen quick ones to count
 * as quick again (a tool that is sometimes slow had better be run beside
 * its siblings than after them). */
void hl__tool_note_ns(hl_tool *tool, long long ns) {
  if (!tool) return;
  if (ns < 1) ns = 1;
  long long old = atomic_load_explicit(&tool->call_ns, memory_order_relaxed);
  long long est = old == 0 || ns >= old ? ns : old - (old - ns) / 8;
  if (est != old) atomic_store_explicit(&tool->call_ns, est, memory_order_relaxed);
}

long long hl__tool_expected_ns(const hl_tool *tool) {
  return tool ? atomic_load_explicit(&((hl_tool *)tool)->call_ns, memory_order_relaxed) : 0;
}
