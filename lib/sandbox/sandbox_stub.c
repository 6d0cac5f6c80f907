/*
 * lib/sandbox/sandbox_stub.c - the sandbox API in builds without the
 * sandbox (meson -Dsandbox=disabled, or wasm2c / the QuickJS module
 * missing): every function exists and reports HL_ERR_UNSUPPORTED, so
 * applications compile and link against one header either way.
 */
#include <string.h>

#include "hookline/sandbox.h"

#define UNSUPPORTED(fn) hl_fail(HL_ERR_UNSUPPORTED, fn ": this hookline was built without the sandbox")

bool hl_sandbox_available(void) { return false; }

void hl_sandbox_limits_default(hl_sandbox_limits *l) {
  if (!l)
    return;
  l->timeout_ms = 30000;
  l->memory_bytes = (size_t)64 << 20;
  l->max_callbacks = 1000;
  l->callback_timeout_ms = 0;
  l->max_output_bytes = (size_t)1 << 20;
}

hl_status hl_sandbox_new(const hl_sandbox_limits *limits, hl_sandbox **out) {
  (void)limits;
  if (out)
    *out = NULL;
  return UNSUPPORTED("hl_sandbox_new");
}

void hl_sandbox_free(hl_sandbox *sandbox) { (void)sandbox; }

hl_status hl_sandbox_reset(hl_sandbox *sandbox) {
  (void)sandbox;
  return UNSUPPORTED("hl_sandbox_reset");
}

const char *hl_sandbox_errmsg(const hl_sandbox *sandbox) {
  (void)sandbox;
  return "this hookline was built without the sandbox";
}

hl_status hl_sandbox_add_callback(hl_sandbox *sandbox, const char *name, const char *description,
                                  hl_sandbox_fn fn, void *user_data, hl_sandbox_free_fn free_fn) {
  (void)sandbox, (void)name, (void)description, (void)fn, (void)user_data, (void)free_fn;
  return UNSUPPORTED("hl_sandbox_add_callback");
}

hl_status hl_sandbox_callback_param(hl_sandbox *sandbox, const char *callback, const char *param,
                                    const char *type, const char *description, bool required) {
  (void)sandbox, (void)callback, (void)param, (void)type, (void)description, (void)required;
  return UNSUPPORTED("hl_sandbox_callback_param");
}

hl_status hl_sandbox_callback_schema(hl_sandbox *sandbox, const char *callback,
                                     const char *schema_json) {
  (void)sandbox, (void)callback, (void)schema_json;
  return UNSUPPORTED("hl_sandbox_callback_schema");
}

hl_status hl_sandbox_remove_callback(hl_sandbox *sandbox, const char *name) {
  (void)sandbox, (void)name;
  return UNSUPPORTED("hl_sandbox_remove_callback");
}

size_t hl_sandbox_callback_count(const hl_sandbox *sandbox) {
  (void)sandbox;
  return 0;
}

hl_status hl_sandbox_execute(hl_sandbox *sandbox, const char *code, hl_sandbox_result *result) {
  (void)sandbox, (void)code;
  if (result)
    memset(result, 0, sizeof *result);
  hl_status st = UNSUPPORTED("hl_sandbox_execute");
  if (result)
    result->status = st;
  return st;
}

void hl_sandbox_result_clear(hl_sandbox_result *result) {
  if (result)
    memset(result, 0, sizeof *result);
}

hl_status hl_sandbox_snapshot_take(hl_sandbox *sandbox, hl_sandbox_snapshot **out) {
  (void)sandbox;
  if (out)
    *out = NULL;
  return UNSUPPORTED("hl_sandbox_snapshot_take");
}

hl_status hl_sandbox_new_from_snapshot(const hl_sandbox_snapshot *snapshot,
                                       const hl_sandbox_limits *limits, hl_sandbox **out) {
  (void)snapshot, (void)limits;
  if (out)
    *out = NULL;
  return UNSUPPORTED("hl_sandbox_new_from_snapshot");
}

void hl_sandbox_snapshot_free(hl_sandbox_snapshot *snapshot) { (void)snapshot; }

hl_tool *hl_sandbox_code_tool(const hl_sandbox_limits *limits) {
  (void)limits;
  UNSUPPORTED("hl_sandbox_code_tool");
  return NULL;
}
