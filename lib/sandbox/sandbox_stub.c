/*
 * lib/sandbox/sandbox_stub.c - the sandbox API in builds without the
 * sandbox (meson -Dsandbox=disabled, or wasm2c / the QuickJS module
 * missing): every function exists and reports HL_ERR_UNSUPPORTED, so
 * applications compile and link against one header either way.
 */
#include <stddef.h>
#include <string.h>

#include "hookline/sandbox.h"

#define UNSUPPORTED(fn) hl_fail(HL_ERR_UNSUPPORTED, fn ": this hookline was built without the sandbox")

bool hl_sandbox_available(void) { return false; }

bool hl_sandbox_language_available(hl_sandbox_language language) {
  (void)language;
  return false;
}

void hl_sandbox_limits_default(hl_sandbox_limits *l) {
  if (!l)
    return;
  l->size = sizeof *l;
  l->timeout_ms = 30000;
  l->memory_bytes = (size_t)64 << 20;
  l->max_callbacks = 1000;
  l->callback_timeout_ms = 0;
  l->max_output_bytes = (size_t)1 << 20;
  l->language = HL_SANDBOX_JAVASCRIPT;
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

hl_status hl_sandbox_add_tool(hl_sandbox *sandbox, hl_tool *tool, const char *js_name) {
  (void)sandbox, (void)tool, (void)js_name;
  return UNSUPPORTED("hl_sandbox_add_tool");
}

hl_status hl_sandbox_remove_tool(hl_sandbox *sandbox, const char *js_name) {
  (void)sandbox, (void)js_name;
  return UNSUPPORTED("hl_sandbox_remove_tool");
}

size_t hl_sandbox_tool_count(const hl_sandbox *sandbox) {
  (void)sandbox;
  return 0;
}

hl_status hl_sandbox_execute(hl_sandbox *sandbox, hl_context *ctx, const char *code,
                             hl_sandbox_result *result) {
  (void)sandbox, (void)ctx, (void)code;
  hl_status st = UNSUPPORTED("hl_sandbox_execute");
  if (result && result->size >= offsetof(hl_sandbox_result, stdout_text)) {
    size_t size = result->size < sizeof *result ? result->size : sizeof *result;
    memset(result, 0, size);
    result->size = size;
    if (size >= offsetof(hl_sandbox_result, status) + sizeof result->status)
      result->status = st;
  }
  return st;
}

void hl_sandbox_result_clear(hl_sandbox_result *result) {
  if (!result)
    return;
  size_t size = result->size < sizeof *result ? result->size : sizeof *result;
  memset(result, 0, size);
  result->size = size;
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

hl_status hl_sandbox_snapshot_save(const hl_sandbox_snapshot *snapshot, const char *path) {
  (void)snapshot, (void)path;
  return UNSUPPORTED("hl_sandbox_snapshot_save");
}

hl_status hl_sandbox_snapshot_load(const char *path, hl_sandbox_snapshot **out) {
  (void)path;
  if (out)
    *out = NULL;
  return UNSUPPORTED("hl_sandbox_snapshot_load");
}

hl_tool *hl_sandbox_code_tool(const hl_sandbox_limits *limits) {
  (void)limits;
  UNSUPPORTED("hl_sandbox_code_tool");
  return NULL;
}

hl_status hl_sandbox_code_tool_set_state_dir(hl_tool *code_tool, const char *dir) {
  (void)code_tool, (void)dir;
  return UNSUPPORTED("hl_sandbox_code_tool_set_state_dir");
}

hl_status hl_sandbox_code_tool_set_max_sessions(hl_tool *code_tool, size_t max_sessions) {
  (void)code_tool, (void)max_sessions;
  return UNSUPPORTED("hl_sandbox_code_tool_set_max_sessions");
}

hl_status hl_sandbox_code_tool_forget(hl_tool *code_tool, const char *session_id) {
  (void)code_tool, (void)session_id;
  return UNSUPPORTED("hl_sandbox_code_tool_forget");
}

hl_tool *hl_sandbox_python_tool(const hl_sandbox_limits *limits) {
  (void)limits;
  UNSUPPORTED("hl_sandbox_python_tool");
  return NULL;
}
