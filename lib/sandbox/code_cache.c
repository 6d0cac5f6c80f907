/*
 * lib/sandbox/code_cache.c - compiled scripts kept per vm, keyed by their
 * source text (as V8's code cache is), so that running the same code again
 * skips QuickJS's parser and compiler.
 *
 * Why: compiling is most of a small execution. `1+2` costs ~34,000
 * instructions in JS_Eval, nearly all of it compiling; `await f({x: 41})`
 * ~51,000 of ~150,000. Agents and benchmarks run the same snippets again
 * and again.
 *
 * Why it is exact: QuickJS compiles a global script without looking at
 * the context's state (global variables are looked up by name when the
 * code runs, declarations are checked when it is instantiated), and JS_Eval
 * is compile + JS_EvalFunction. qjs_vm.c does the same two steps, keeping
 * the compiled function between them (Z_qjs_hl_eval_function).
 *
 * Why it cannot leak between sessions: the compiled code lives in the
 * vm's own linear memory and the cache in the vm; a new vm (reset, trap,
 * another sandbox) starts empty, and a snapshot is taken without it.
 *
 * Bounded: HL_CODE_CACHE_ENTRIES sources, at most HL_CODE_CACHE_MAX_SOURCE
 * bytes each and HL_CODE_CACHE_MAX_BYTES in all (the compiled code counts
 * against the vm's memory limit like any other allocation); the least
 * recently used entry goes first.
 */
#include <stdlib.h>

#include "qjs_vm_internal.h"

typedef struct Z_a_instance_t vm_t;

/* FNV-1a, 64 bits: compared before the text itself. */
static uint64_t source_hash(const char *s, size_t len) {
  uint64_t h = 14695981039346656037u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h ^ len;
}

bool hl__code_cache_wants(const vm_t *vm, size_t len) {
  (void)vm;
  return len > 0 && len <= HL_CODE_CACHE_MAX_SOURCE;
}

uint32_t hl__code_cache_find(vm_t *vm, const char *code, size_t len) {
  hl_code_cache *c = &vm->code_cache;
  if (!hl__code_cache_wants(vm, len))
    return 0;
  uint64_t h = source_hash(code, len);
  for (size_t i = 0; i < c->n; i++) {
    hl_code_entry *e = &c->entries[i];
    if (e->hash == h && e->len == len && memcmp(e->source, code, len) == 0) {
      e->used = ++c->clock;
      c->hits++;
      return e->bytecode;
    }
  }
  c->misses++;
  return 0;
}

/* Drop entry i (inside wasm: frees the compiled function in the vm). */
static void drop(vm_t *vm, size_t i) {
  hl_code_cache *c = &vm->code_cache;
  hl_code_entry *e = &c->entries[i];
  QTS_FreeValuePointer(vm, vm->ctx, e->bytecode);
  c->bytes -= e->len;
  free(e->source);
  c->entries[i] = c->entries[--c->n];
}

bool hl__code_cache_put(vm_t *vm, const char *code, size_t len, uint32_t bytecode) {
  hl_code_cache *c = &vm->code_cache;
  char *copy = malloc(len);
  if (!copy)
    return false;
  memcpy(copy, code, len);
  while (c->n > 0 && (c->n == HL_CODE_CACHE_ENTRIES || c->bytes + len > HL_CODE_CACHE_MAX_BYTES)) {
    size_t oldest = 0;
    for (size_t i = 1; i < c->n; i++)
      if (c->entries[i].used < c->entries[oldest].used)
        oldest = i;
    drop(vm, oldest);
  }
  c->entries[c->n++] = (hl_code_entry){source_hash(code, len), copy, len, bytecode, ++c->clock};
  c->bytes += len;
  return true;
}

void hl__code_cache_clear(vm_t *vm) {
  while (vm->code_cache.n)
    drop(vm, vm->code_cache.n - 1);
}

void hl__code_cache_forget(vm_t *vm) {
  hl_code_cache *c = &vm->code_cache;
  for (size_t i = 0; i < c->n; i++)
    free(c->entries[i].source);
  c->n = 0;
  c->bytes = 0;
}

void hl__vm_code_cache_stats(const hl_vm *vm, hl_vm_cache_stats *out) {
  out->entries = vm->code_cache.n;
  out->bytes = vm->code_cache.bytes;
  out->hits = vm->code_cache.hits;
  out->misses = vm->code_cache.misses;
}
