/*
 * lib/sandbox/py_vm_stub.c - the Python guest in a build without the
 * MicroPython module (scripts/setup.d/micropython.sh did not run before
 * the build): Python sandboxes answer HL_ERR_UNSUPPORTED; JavaScript ones
 * are unaffected.
 */
#include <stdlib.h>
#include "py_vm.h"

bool hl_py_vm_available(void) { return false; }

const char *hl__py_template_origin(const char **path) {
  if (path)
    *path = "";
  return "none";
}

#define NO_PYTHON                                                                         \
  hl_fail(HL_ERR_UNSUPPORTED, "sandbox: this build has no Python guest (the MicroPython "  \
          "module was missing at build time: run scripts/setup.sh, then rebuild)")

hl_status hl_py_vm_new(const hl_py_snapshot *snap, size_t memory_limit, const hl_py_hooks *hooks,
                       void *ud, hl_py_vm **out) {
  (void)snap, (void)memory_limit, (void)hooks, (void)ud;
  *out = NULL;
  return NO_PYTHON;
}

hl_status hl_py_vm_snapshot_take(hl_py_vm *vm, hl_py_snapshot **out) {
  (void)vm;
  *out = NULL;
  return NO_PYTHON;
}
void hl_py_snapshot_free(hl_py_snapshot *snap) { (void)snap; }
size_t hl_py_snapshot_bytes(const hl_py_snapshot *snap) { (void)snap; return 0; }
hl_status hl_py_snapshot_save(const hl_py_snapshot *snap, const char *path) {
  (void)snap, (void)path;
  return NO_PYTHON;
}
hl_status hl_py_snapshot_load(const char *path, hl_py_snapshot **out) {
  (void)path;
  *out = NULL;
  return NO_PYTHON;
}

void hl_py_vm_free(hl_py_vm *vm) { (void)vm; }
bool hl_py_vm_broken(const hl_py_vm *vm) { (void)vm; return false; }
hl_status hl_py_vm_define(hl_py_vm *vm) { (void)vm; return HL_ERR_UNSUPPORTED; }
void hl_py_outcome_clear(hl_py_outcome *o) { (void)o; }
hl_status hl_py_vm_settle(hl_py_vm *vm) { (void)vm; return HL_ERR_UNSUPPORTED; }
hl_status hl_py_vm_exec(hl_py_vm *vm, const char *code, size_t len, hl_py_outcome *o) {
  (void)vm, (void)code, (void)len, (void)o;
  return HL_ERR_UNSUPPORTED;
}
void hl_py_vm_soft_stop(hl_py_vm *vm) { (void)vm; }
void hl_py_vm_interrupt(hl_py_vm *vm) { (void)vm; }
bool hl_py_vm_reopen(hl_py_vm *vm) { (void)vm; return false; }
size_t hl_py_vm_memory_size(const hl_py_vm *vm) { (void)vm; return 0; }
uint64_t hl_py_vm_compiles(const hl_py_vm *vm) { (void)vm; return 0; }
