/*
 * lib/sandbox/py_cache.c - the host's half of the Python guest's code
 * cache: which source text the code in each of the prelude's slots was
 * compiled from (py_vm_internal.h, HL_PY_CODE_SLOTS).
 *
 * The prelude keeps the code objects (in the guest's memory, under its
 * limit); the host keeps the keys, so that a source run again is found by
 * comparing bytes here, and reaches Python as a slot number: no str of the
 * source is made (each new str costs MicroPython a scan of every interned
 * string), no hash of it. A slot the host gives for a new source is
 * refilled by the prelude, so code left in the guest by an earlier vm (a
 * restored state carries the prelude's list, not these keys) is never
 * run for another source. Slots are given round-robin, the oldest first,
 * within HL_PY_CODE_TEXT bytes of text.
 *
 * A source is compiled into its slot the second time it runs: its first
 * run takes the module's own exec, which compiles from the raw bytes (no
 * str of the text, no code object apart from its function), so that code
 * run only once (a model's, mostly) costs what it did without a cache.
 */
#include <stdlib.h>
#include <string.h>

#include "py_vm_internal.h"

int hl__py_cache_find(struct hl_py_vm *vm, const char *src, size_t len) {
  for (int k = 0; k < HL_PY_CODE_SLOTS; k++) {
    const py_code_key *key = &vm->keys[k];
    if (key->text && key->len == len && memcmp(key->text, src, len) == 0)
      return k;
  }
  return -1;
}

static void drop(struct hl_py_vm *vm, uint32_t k) {
  py_code_key *key = &vm->keys[k];
  vm->key_bytes -= key->text ? key->len : 0;
  free(key->text);
  key->text = NULL;
  key->len = 0;
}

int hl__py_cache_add(struct hl_py_vm *vm, const char *src, size_t len) {
  if (len > HL_PY_CODE_TEXT / 4)
    return HL_PY_CODE_SLOTS;
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return HL_PY_CODE_SLOTS;
  memcpy(copy, src, len);
  uint32_t k = vm->key_next;
  drop(vm, k);
  /* Older slots after it until the text fits. */
  for (uint32_t i = (k + 1) % HL_PY_CODE_SLOTS; vm->key_bytes + len > HL_PY_CODE_TEXT;
       i = (i + 1) % HL_PY_CODE_SLOTS)
    drop(vm, i);
  vm->keys[k].text = copy;
  vm->keys[k].len = len;
  vm->keys[k].compiled = false;
  vm->key_bytes += len;
  vm->key_next = (k + 1) % HL_PY_CODE_SLOTS;
  return (int)k;
}

void hl__py_cache_clear(struct hl_py_vm *vm) {
  for (uint32_t k = 0; k < HL_PY_CODE_SLOTS; k++)
    drop(vm, k);
  vm->key_next = 0;
}
