/*
 * lib/sandbox/py_vm.c - one MicroPython instance: making it (memory,
 * instantiation, MicroPython's start-up, the prelude), running code in it
 * and stopping it (see py_vm.h).
 *
 * Execution: one call of the prelude's _hl_exec with the source's cache
 * slot (py_cache.c), which runs the code it compiled from the same text
 * before, or compiles it (with top-level await allowed: the host sets
 * MicroPython's flag, see learn_tla) from the text py_source.c makes of
 * it: the last expression statement assigned to __hl_result__ (falling
 * back to the code as it is when that does not compile), dedented as the
 * module's own exec does. A source's first run takes that exec instead
 * (exec_uncached), which compiles from the raw bytes, and _hl_exec then
 * runs the coroutine it made. Code that awaits is a coroutine, which the
 * prelude runs; its callbacks
 * block inside the wasm call while the host runs the tools. _hl_exec
 * answers with the value (a bool or a small integer as itself, anything
 * else as JSON text) or raises the code's uncaught exception.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "py_vm_internal.h"
#include "snapshot_io.h"
#include "wasm_entry.h"

#define PAGE_BYTES 65536u
/* Where MicroPython's state (its interrupt flag, its stack limit) can lie:
 * its data and bss sit right above the module's 64 KiB stack, far below
 * this. */
#define KBD_SCAN_BYTES ((size_t)1 << 20)
/* MicroPython's start-up arguments: Python stack words (the npm
 * package's loader passes 2048, which ends recursion at ~130 calls) and
 * the first heap (it grows on demand). */
#define PY_PYSTACK_WORDS (64u * 1024u)
#define PY_HEAP_BYTES (1u << 20)
/* The module's C stack is the 64 KiB below its data, of which MicroPython
 * lets itself use 32 KiB (mp_js_init): ~126 nested Python calls. The vm
 * gets a bigger one in its heap instead, and MicroPython's limit is moved
 * with it, leaving the same 32 KiB margin: ~1,100 nested calls end with
 * "maximum recursion depth exceeded". Untouched pages cost nothing (the
 * memory is copy-on-write). Each nested call also takes ~2 KiB of the
 * native stack of the thread running it (the translated functions'
 * frames): 8 MiB thread stacks have room; a smaller one makes very deep
 * recursion trap instead (the session is reset, nothing crashes). */
#define PY_CSTACK_BYTES (256u * 1024u)
#define PY_CSTACK_MARGIN (32u * 1024u)
/* mp_js_init's own limit, which find_stack_limit() looks for. */
#define PY_MODULE_CSTACK_LIMIT 32768u

extern const char hl__py_prelude[];

/* The memory limit of the vm being instantiated on this thread: read by
 * wasm_rt_allocate_memory(), which the generated code calls without one. */
static _Thread_local size_t tls_limit;

void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max) {
  uint64_t limit = tls_limit ? tls_limit : (uint64_t)initial * PAGE_BYTES;
  if (limit > (uint64_t)max * PAGE_BYTES)
    limit = (uint64_t)max * PAGE_BYTES;
  limit -= limit % PAGE_BYTES;
  if (limit < (uint64_t)initial * PAGE_BYTES)
    limit = (uint64_t)initial * PAGE_BYTES;
  m->data = NULL;
  m->size = m->pages = m->max_pages = 0;
  atomic_init(&m->call_limit, 0);
  atomic_init(&m->interrupt, 0);
  /* Reserved, not committed: untouched pages cost nothing. */
  void *p = mmap(NULL, (size_t)limit, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return;
  m->data = p;
  m->pages = initial;
  m->size = initial * PAGE_BYTES;
  m->max_pages = (uint32_t)(limit / PAGE_BYTES);
}

void wasm_rt_free_memory(wasm_rt_memory_t *m) {
  if (m->data)
    munmap(m->data, (size_t)m->max_pages * PAGE_BYTES);
  m->data = NULL;
  m->size = m->pages = m->max_pages = 0;
}

/* ------------------------------------------------------------------ */
/* Module set-up, once per process                                      */
/* ------------------------------------------------------------------ */

static pthread_once_t module_once = PTHREAD_ONCE_INIT;
static uint32_t t_i, t_ii, t_iii, t_iiii, t_iiiii, t_iiiiii, t_v, t_vi, t_vii, t_viii, t_viiii;

static void module_init(void) {
  Z_mpy_init_module();
  /* The same ids the module's own call_indirect compares (interned). */
  const wasm_rt_type_t I = WASM_RT_I32;
  t_i = wasm_rt_register_func_type(0, 1, I);
  t_ii = wasm_rt_register_func_type(1, 1, I, I);
  t_iii = wasm_rt_register_func_type(2, 1, I, I, I);
  t_iiii = wasm_rt_register_func_type(3, 1, I, I, I, I);
  t_iiiii = wasm_rt_register_func_type(4, 1, I, I, I, I, I);
  t_iiiiii = wasm_rt_register_func_type(5, 1, I, I, I, I, I, I);
  t_v = wasm_rt_register_func_type(0, 0);
  t_vi = wasm_rt_register_func_type(1, 0, I);
  t_vii = wasm_rt_register_func_type(2, 0, I, I);
  t_viii = wasm_rt_register_func_type(3, 0, I, I, I);
  t_viiii = wasm_rt_register_func_type(4, 0, I, I, I, I);
}

/* ------------------------------------------------------------------ */
/* Entering the guest                                                   */
/* ------------------------------------------------------------------ */

typedef hl_status (*py_op)(hl_py_vm *vm, void *arg);

static hl_status template_checked(hl_py_vm *vm);
static void take_types(hl_py_vm *vm);

/* The vm's function table, as instantiation fills it; false when out of
 * memory (its allocation failing makes the fill trap). */
static bool fill_table(hl_py_vm *vm) {
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  HL_WASM_TRY(frame, trap, Z_mpy_init_table_only(&vm->inst));
  return trap == WASM_RT_TRAP_NONE && vm->inst.w2c___indirect_function_table.data;
}

/* Before a vm made by hl_py_vm_new first runs: its function table, as
 * instantiation fills it (entries close over this instance). MicroPython
 * never changes it (checked at build time), so no copy of the template's
 * is needed, and its size must be the one the state expects. */
static hl_status table_ready(hl_py_vm *vm) {
  pthread_once(&module_once, module_init); /* the table's function types */
  take_types(vm);
  wasm_rt_funcref_table_t *t = &vm->inst.w2c___indirect_function_table;
  bool filled = fill_table(vm);
  hl_status st = HL_OK;
  if (!filled)
    st = hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  else if (t->size != vm->table_size || t->max_size != vm->table_max)
    st = hl_fail(HL_ERR_INVALID, "sandbox: the Python state is from another build of hookline");
  if (st) {
    wasm_rt_free_funcref_table(t);
    vm->broken = true;
    return st;
  }
  vm->table_pending = false;
  return HL_OK;
}

static hl_status vm_run(hl_py_vm *vm, py_op op, void *arg) {
  if (vm->broken)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the instance trapped earlier and must be reset");
  if (vm->unchecked) {
    hl_status st = template_checked(vm);
    if (st)
      return st;
  }
  if (vm->table_pending) {
    hl_status st = table_ready(vm);
    if (st)
      return st;
  }
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  volatile hl_status st = HL_OK;
  wasm_rt_memory_t *m = &vm->inst.w2c_memory;
  vm->jmp = NULL;
  HL_WASM_TRY(frame, trap, (hl_wasm_open_calls(m), st = op(vm, arg)));
  hl_status err = hl_wasm_entry_status(m, trap);
  vm->jmp = NULL;
  if (err) {
    vm->broken = true;
    return err;
  }
  return st;
}

/* Inside the guest: a malloc'ed guest copy of `len` bytes plus a NUL,
 * 0 when the guest is out of memory. */
static uint32_t guest_dup(hl_py_vm *vm, const char *data, size_t len) {
  if (len >= UINT32_MAX - 1)
    return 0;
  uint32_t g = Z_mpyZ_malloc(&vm->inst, (u32)len + 1);
  uint8_t *p = g ? hl__py_mem(vm, g, (uint64_t)len + 1) : NULL;
  if (!p)
    return 0;
  memcpy(p, data, len);
  p[len] = 0;
  return g;
}

uint32_t hl__py_guest_copy(hl_py_vm *vm, const char *data, size_t len) {
  /* Called from an import: a trap in malloc must not skip the caller's
   * clean-up, so it is caught here and raised again by the caller. */
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  volatile uint32_t g = 0;
  HL_WASM_TRY(frame, trap, g = guest_dup(vm, data, len));
  if (trap != WASM_RT_TRAP_NONE) {
    vm->pending_trap = trap;
    return 0;
  }
  return g;
}

static uint32_t word(hl_py_vm *vm, uint32_t addr) {
  uint8_t *p = hl__py_mem(vm, addr, 4);
  if (!p)
    wasm_rt_trap(WASM_RT_TRAP_OOB);
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* A copy of the str proxy value at `out` (kind PY_MP_STR), or NULL. */
static char *take_str(hl_py_vm *vm, uint32_t out) {
  uint32_t len = word(vm, out + 4), ptr = word(vm, out + 8);
  const uint8_t *p = hl__py_mem(vm, ptr, len);
  if (!p)
    wasm_rt_trap(WASM_RT_TRAP_OOB);
  char *s = malloc((size_t)len + 1);
  if (s) {
    memcpy(s, p, len);
    s[len] = 0;
  }
  return s;
}

/* Drop the prelude's frames from a traceback: the model wrote none of
 * them. In place. */
static void strip_prelude(char *tb) {
  char *w = tb;
  for (char *r = tb; *r;) {
    char *nl = strchr(r, '\n');
    size_t n = nl ? (size_t)(nl - r) + 1 : strlen(r);
    if (!(n > 8 && strncmp(r, "  File \"<prelude>\"", 18) == 0)) {
      memmove(w, r, n);
      w += n;
    }
    r += n;
  }
  *w = 0;
}

/* An exception proxy value at `out` ("Type\x04traceback", malloc'ed in
 * the guest, which we free) into *o. */
static void take_exception(hl_py_vm *vm, uint32_t out, hl_py_outcome *o) {
  char *s = take_str(vm, out);
  Z_mpyZ_free(&vm->inst, word(vm, out + 8));
  free(o->error_type);
  free(o->error_text);
  o->error_type = NULL;
  o->error_text = NULL;
  if (!s) {
    o->error_type = strdup("MemoryError");
    return;
  }
  char *sep = strchr(s, '\x04');
  if (sep) {
    *sep = 0;
    o->error_text = strdup(sep + 1);
  }
  o->error_type = strdup(s);
  free(s);
  if (o->error_text)
    strip_prelude(o->error_text);
}

/* Call prelude function `fn` with no argument (arg NULL) or with the
 * proxy value `arg` (three words); the answer is at `out`. */
static void call_fn(hl_py_vm *vm, uint32_t fn, const uint32_t *arg, uint32_t out) {
  if (!arg) {
    Z_mpyZ_proxy_c_to_js_call(&vm->inst, fn, 0, 0, out);
    return;
  }
  uint32_t args = out + 12; /* out has room for two values */
  uint8_t *p = hl__py_mem(vm, args, 12);
  if (!p)
    wasm_rt_trap(WASM_RT_TRAP_OOB);
  memcpy(p, arg, 12);
  Z_mpyZ_proxy_c_to_js_call(&vm->inst, fn, 1, args, out);
}

/* Free the proxy reference a value at `out` may carry. */
static void drop_ref(hl_py_vm *vm, uint32_t out) {
  int32_t kind = (int32_t)word(vm, out);
  if (kind == PY_MP_CALLABLE || kind == PY_MP_GENERATOR || kind == PY_MP_OBJECT)
    Z_mpyZ_proxy_c_free_obj(&vm->inst, word(vm, out + 4));
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

typedef struct exec_arg {
  const char *code;
  size_t len;
  hl_py_outcome *o;
} exec_arg;

/* Compile and start `src` with the module's own exec (top-level await
 * allowed): an exception goes to *o; *coro gets the coroutine of code
 * that awaits (0: the code ran). */
static void exec_start(hl_py_vm *vm, const char *src, size_t n, uint32_t out, hl_py_outcome *o,
                       uint32_t *coro) {
  *coro = 0;
  uint32_t g = guest_dup(vm, src, n);
  if (!g) {
    o->error_type = strdup("MemoryError");
    return;
  }
  Z_mpyZ_mp_js_do_exec_async(&vm->inst, g, (u32)n, out);
  Z_mpyZ_free(&vm->inst, g);
  int32_t kind = (int32_t)word(vm, out);
  if (kind == PY_MP_EXCEPTION)
    take_exception(vm, out, o);
  else if (kind == PY_MP_GENERATOR)
    *coro = word(vm, out + 4);
  else
    drop_ref(vm, out);
}

/* A SyntaxError raised by compiling the code itself, not by its running
 * (an eval, a compile): MicroPython's traceback of the former names no
 * function ("File ..., line N" alone), the latter's frames do. */
static bool compile_error(const hl_py_outcome *o) {
  return o->error_type && strcmp(o->error_type, "SyntaxError") == 0 &&
         !(o->error_text && strstr(o->error_text, ", in "));
}

/* The uncached path, compiled by the module's own exec: a source's first
 * run (py_cache.c), a source the prelude cannot take as a str (not UTF-8)
 * or a module whose compile flag was not found (vm->tla 0). Returns the
 * coroutine to hand _hl_exec, or 0. */
static uint32_t exec_uncached(hl_py_vm *vm, const char *code, size_t len, uint32_t out,
                              hl_py_outcome *o) {
  uint32_t coro = 0;
  vm->compiles++;
  if (!hl__py_with_result(code, len, &vm->tmp)) {
    o->error_type = strdup("MemoryError");
    return 0;
  }
  if (vm->tmp) {
    exec_start(vm, vm->tmp, strlen(vm->tmp), out, o, &coro);
    if (compile_error(o)) {
      /* Not an expression after all: the code as it is. */
      hl_py_outcome_clear(o);
      exec_start(vm, code, len, out, o, &coro);
    }
  } else {
    exec_start(vm, code, len, out, o, &coro);
  }
  return coro;
}

/* _hl_exec's answer at `out` into *o (unless *o has an error already):
 * the last expression's value (None: none; a bool or an integer as
 * itself; JSON text), or the uncaught exception. */
static void take_answer(hl_py_vm *vm, uint32_t out, hl_py_outcome *o) {
  int32_t kind = (int32_t)word(vm, out);
  if (o->error_type) {
    if (kind == PY_MP_EXCEPTION)
      Z_mpyZ_free(&vm->inst, word(vm, out + 8));
    else
      drop_ref(vm, out);
    return;
  }
  char num[16];
  switch (kind) {
  case PY_MP_EXCEPTION:
    take_exception(vm, out, o);
    return;
  case PY_MP_STR:
    o->value_json = take_str(vm, out);
    break;
  case PY_MP_BOOL:
    o->value_json = strdup(word(vm, out + 4) ? "true" : "false");
    break;
  case PY_MP_INT:
    snprintf(num, sizeof num, "%" PRId32, (int32_t)word(vm, out + 4));
    o->value_json = strdup(num);
    break;
  case PY_MP_NONE:
    return;
  default:
    drop_ref(vm, out);
    return;
  }
  if (!o->value_json)
    o->error_type = strdup("MemoryError");
}

static hl_status exec_op(hl_py_vm *vm, void *p) {
  exec_arg *a = p;
  hl_py_outcome *o = a->o;
  /* A soft stop that came after the last execution ended was swallowed
   * by hl_py_vm_settle() before this one armed its watches: any pending
   * now is this execution's own (its deadline may have passed already
   * on a thread the machine did not run) and must not be drained. */
  uint32_t out = Z_mpyZ_malloc(&vm->inst, 24);
  if (!out || !hl__py_mem(vm, out, 24)) {
    o->error_type = strdup("MemoryError");
    return HL_OK;
  }
  uint8_t *flag = vm->tla ? hl__py_mem(vm, vm->tla, 1) : NULL;
  uint32_t arg[3] = {PY_JS_NULL, 0, 0};
  /* The prelude runs the code in the source's slot, or compiles the
   * source (through _hl.source, which hands Python a str: UTF-8 only)
   * into its slot (passed as -1 - slot) at its second run (py_cache.c). */
  int slot = flag ? hl__py_cache_find(vm, a->code, a->len) : -1;
  /* A known source was UTF-8 when it was first run. */
  bool utf8 = slot >= 0 || hl__utf8_invalid_at(a->code, a->len) == a->len;
  bool cached = slot >= 0;
  if (cached && !vm->keys[slot].compiled) {
    vm->keys[slot].compiled = true; /* its second run: into the cache */
    slot = -1 - slot;
  } else if (!cached && flag && utf8) {
    (void)hl__py_cache_add(vm, a->code, a->len); /* its first run: noted */
  }
  if (utf8) {
    vm->src = a->code;
    vm->src_len = a->len;
  }
  if (cached) {
    arg[0] = PY_JS_INTEGER, arg[1] = (uint32_t)slot;
  } else {
    uint32_t coro = exec_uncached(vm, a->code, a->len, out, o);
    if (coro)
      arg[0] = PY_JS_PYPROXY, arg[1] = coro;
  }
  /* Top-level await allowed while the code compiles and runs, as
   * mp_js_do_exec_async does it for its own exec. */
  if (flag)
    *flag = 1;
  /* Even after a failure: _hl_exec also drops a stale __hl_result__. */
  call_fn(vm, vm->fn_exec, arg, out);
  if (flag)
    *flag = 0;
  vm->src = NULL;
  if (arg[0] == PY_JS_PYPROXY)
    Z_mpyZ_proxy_c_free_obj(&vm->inst, arg[1]);
  take_answer(vm, out, o);
  if (vm->stopped)
    o->stopped = true;
  /* Once the linear memory passed half its limit, the prelude drops its
   * code cache and asks for a garbage collection (it runs when this call
   * returns): garbage left by this execution (or a `del` of big data)
   * would otherwise make the next allocation fail before anything
   * collected it. Below that, a collection would cost every execution a
   * full mark and sweep for nothing. */
  if (!o->stopped && (size_t)vm->inst.w2c_memory.size > vm->limit_bytes / 2) {
    hl__py_cache_clear(vm);
    call_fn(vm, vm->fn_collect, NULL, out);
    if ((int32_t)word(vm, out) == PY_MP_EXCEPTION)
      Z_mpyZ_free(&vm->inst, word(vm, out + 8));
  }
  /* Output still in MicroPython's buffers. */
  (void)Z_mpyZ_fflush(&vm->inst, 0);
  Z_mpyZ_free(&vm->inst, out);
  return HL_OK;
}

void hl_py_outcome_clear(hl_py_outcome *o) {
  if (!o)
    return;
  free(o->value_json);
  free(o->error_type);
  free(o->error_text);
  memset(o, 0, sizeof *o);
}

hl_status hl_py_vm_exec(hl_py_vm *vm, const char *code, size_t len, hl_py_outcome *o) {
  memset(o, 0, sizeof *o);
  vm->stopped = false;
  vm->pending_trap = WASM_RT_TRAP_NONE;
  exec_arg a = {code, len, o};
  hl_status st = vm_run(vm, exec_op, &a);
  free(vm->tmp);
  vm->tmp = NULL;
  if (st != HL_OK)
    hl_py_outcome_clear(o);
  return st;
}

static hl_status define_op(hl_py_vm *vm, void *p) {
  (void)p;
  uint32_t out = Z_mpyZ_malloc(&vm->inst, 24);
  if (!out || !hl__py_mem(vm, out, 24))
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory defining callbacks");
  call_fn(vm, vm->fn_define, NULL, out);
  hl_status st = HL_OK;
  if ((int32_t)word(vm, out) == PY_MP_EXCEPTION) {
    hl_py_outcome o = {0};
    take_exception(vm, out, &o);
    st = hl_fail(HL_ERR_NOMEM, "sandbox: defining the callbacks failed: %s",
                 o.error_text ? o.error_text : o.error_type ? o.error_type : "?");
    hl_py_outcome_clear(&o);
  }
  Z_mpyZ_free(&vm->inst, out);
  return st;
}

hl_status hl_py_vm_define(hl_py_vm *vm) { return vm_run(vm, define_op, NULL); }

/* ------------------------------------------------------------------ */
/* Lifetime                                                             */
/* ------------------------------------------------------------------ */

/* Run `src` at start-up (the prelude and its clean-up): errors are
 * hookline's bugs or a lack of memory. */
static hl_status boot_exec(hl_py_vm *vm, const char *src, uint32_t out) {
  uint32_t g = guest_dup(vm, src, strlen(src));
  if (!g)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory starting Python");
  Z_mpyZ_mp_js_do_exec(&vm->inst, g, (u32)strlen(src), out);
  Z_mpyZ_free(&vm->inst, g);
  if ((int32_t)word(vm, out) == PY_MP_EXCEPTION) {
    hl_py_outcome o = {0};
    take_exception(vm, out, &o);
    hl_status st = hl_fail(HL_ERR_SANDBOX, "sandbox: the Python prelude failed: %s",
                           o.error_text ? o.error_text : o.error_type ? o.error_type : "?");
    hl_py_outcome_clear(&o);
    return st;
  }
  drop_ref(vm, out);
  return HL_OK;
}

static hl_status lookup_fn(hl_py_vm *vm, uint32_t module, const char *name, uint32_t out,
                           uint32_t *fn) {
  uint32_t g = guest_dup(vm, name, strlen(name));
  if (!g)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory starting Python");
  Z_mpyZ_proxy_c_to_js_lookup_attr(&vm->inst, module, g, out);
  Z_mpyZ_free(&vm->inst, g);
  if ((int32_t)word(vm, out) != PY_MP_CALLABLE)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the Python prelude did not define %s", name);
  *fn = word(vm, out + 4);
  return HL_OK;
}

/* Before mp_js_init (which records the stack top): the stack pointer,
 * base and end moved to a block of PY_CSTACK_BYTES in the guest's heap. */
static hl_status move_stack(hl_py_vm *vm) {
  if (Z_mpyZ_emscripten_stack_get_base(&vm->inst) != 65536u ||
      Z_mpyZ_emscripten_stack_get_current(&vm->inst) != 65536u ||
      vm->inst.w2c_g0 != 65536u /* the stack pointer, as invoke_* read it */)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the MicroPython module's stack is not where "
                   "hookline expects it (another module build?)");
  uint32_t block = Z_mpyZ_malloc(&vm->inst, PY_CSTACK_BYTES);
  if (!block || !hl__py_mem(vm, block, PY_CSTACK_BYTES))
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory starting Python");
  uint32_t top = (block + PY_CSTACK_BYTES) & ~15u, end = (block + 15u) & ~15u;
  Z_mpyZ__emscripten_stack_restore(&vm->inst, top);
  /* Base and end have no setter: only emscripten_stack_get_* read them. */
  vm->inst.w2c_g3 = top;
  vm->inst.w2c_g2 = end;
  if (Z_mpyZ_emscripten_stack_get_base(&vm->inst) != top ||
      Z_mpyZ_emscripten_stack_get_end(&vm->inst) != end)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: cannot move the MicroPython module's stack");
  return HL_OK;
}

/* After mp_js_init: MicroPython's C stack limit (MP_STATE_THREAD(
 * stack_limit), the word after stack_top, which holds an address just
 * below the new top) raised to the new stack's size less the margin. */
static hl_status raise_stack_limit(hl_py_vm *vm) {
  uint32_t top = Z_mpyZ_emscripten_stack_get_base(&vm->inst);
  size_t n = vm->inst.w2c_memory.size < KBD_SCAN_BYTES ? vm->inst.w2c_memory.size : KBD_SCAN_BYTES;
  const uint8_t *mem = vm->inst.w2c_memory.data;
  uint32_t found = 0, count = 0;
  for (uint32_t a = 0; a + 8 <= n; a += 4) {
    uint32_t v0, v1;
    memcpy(&v0, mem + a, 4);
    memcpy(&v1, mem + a + 4, 4);
    if (v1 == PY_MODULE_CSTACK_LIMIT && v0 <= top && v0 + 1024u > top) {
      found = a + 4;
      count++;
    }
  }
  if (count != 1)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: cannot find MicroPython's stack limit (another "
                   "module build?)");
  uint32_t limit = PY_CSTACK_BYTES - PY_CSTACK_MARGIN;
  memcpy(vm->inst.w2c_memory.data + found, &limit, 4);
  return HL_OK;
}

static hl_status boot_op(hl_py_vm *vm, void *p) {
  (void)p;
  Z_mpy_instantiate(&vm->inst, &vm->env, &vm->wasi);
  if (!vm->inst.w2c_memory.data)
    return hl_fail(HL_ERR_NOMEM, "sandbox: cannot reserve %zu bytes of memory", vm->limit_bytes);
  hl_wasm_open_calls(&vm->inst.w2c_memory);
  Z_mpyZ_emscripten_stack_init(&vm->inst);
  Z_mpyZ___wasm_call_ctors(&vm->inst);
  hl_status st = move_stack(vm);
  if (st)
    return st;
  Z_mpyZ_mp_js_init(&vm->inst, PY_PYSTACK_WORDS, PY_HEAP_BYTES);
  st = raise_stack_limit(vm);
  if (st)
    return st;
  Z_mpyZ_proxy_c_init(&vm->inst);

  uint32_t out = Z_mpyZ_malloc(&vm->inst, 24);
  if (!out || !hl__py_mem(vm, out, 24))
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory starting Python");
  /* `import _hl`: the host functions the prelude calls. */
  uint32_t value[3] = {PY_JS_OBJECT, PY_REF_MODULE, 0};
  memcpy(hl__py_mem(vm, out, 12), value, 12);
  uint32_t name = guest_dup(vm, "_hl", 3);
  if (!name)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory starting Python");
  Z_mpyZ_mp_js_register_js_module(&vm->inst, name, out);
  Z_mpyZ_free(&vm->inst, name);

  st = boot_exec(vm, hl__py_prelude, out);
  if (st)
    return st;
  uint32_t main_mod = guest_dup(vm, "__main__", 8);
  if (!main_mod)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory starting Python");
  Z_mpyZ_mp_js_do_import(&vm->inst, main_mod, out);
  Z_mpyZ_free(&vm->inst, main_mod);
  if ((int32_t)word(vm, out) != PY_MP_OBJECT)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: Python has no __main__");
  uint32_t m = word(vm, out + 4);
  st = lookup_fn(vm, m, "_hl_exec", out, &vm->fn_exec);
  if (!st)
    st = lookup_fn(vm, m, "_hl_collect", out, &vm->fn_collect);
  if (!st)
    st = lookup_fn(vm, m, "_hl_define", out, &vm->fn_define);
  if (!st)
    st = lookup_fn(vm, m, "_hl_drain", out, &vm->fn_drain);
  Z_mpyZ_proxy_c_free_obj(&vm->inst, m);
  /* The host holds them now; the model's code need not see them. */
  if (!st)
    st = boot_exec(vm, "del _hl_exec, _hl_collect, _hl_define, _hl_drain", out);
  Z_mpyZ_free(&vm->inst, out);
  return st;
}


static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool hl_py_vm_available(void) { return true; }

static hl_py_vm *vm_alloc(size_t memory_limit, const hl_py_hooks *hooks, void *ud) {
  hl_py_vm *vm = calloc(1, sizeof *vm);
  if (!vm)
    return NULL;
  vm->env.vm = vm;
  vm->wasi.vm = vm;
  if (hooks)
    vm->hooks = *hooks;
  vm->ud = ud;
  vm->limit_bytes = memory_limit;
  vm->t0_ms = mono_ms();
  atomic_init(&vm->soft_sent, 0);
  return vm;
}

/* The invoke_* targets' signature ids (module_init must have run). */
static void take_types(hl_py_vm *vm) {
  vm->type_i = t_i, vm->type_ii = t_ii, vm->type_iii = t_iii, vm->type_iiii = t_iiii;
  vm->type_iiiii = t_iiiii, vm->type_iiiiii = t_iiiiii;
  vm->type_v = t_v, vm->type_vi = t_vi, vm->type_vii = t_vii, vm->type_viii = t_viii;
  vm->type_viiii = t_viiii;
}

/* A vm booted from scratch: MicroPython's start-up and the prelude (a few
 * milliseconds). Only the template is made this way. */
static hl_status vm_boot(size_t memory_limit, hl_py_vm **out) {
  *out = NULL;
  hl_py_vm *vm = vm_alloc(memory_limit, NULL, NULL);
  if (!vm)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  pthread_once(&module_once, module_init);
  take_types(vm);
  tls_limit = memory_limit;
  hl_status st = vm_run(vm, boot_op, NULL);
  tls_limit = 0;
  vm->kbd_mem = vm->inst.w2c_memory.data;
  if (st) {
    hl_py_vm_free(vm);
    return st;
  }
  *out = vm;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Snapshots: every vm starts as a copy-on-write copy of one (the        */
/* built-in template, booted once per process, or one the caller took)  */
/* ------------------------------------------------------------------ */

#define IMAGE_PAGE 4096u

typedef struct py_template {
  hl_status status;
  char error[256];
  struct hl_py_snapshot snap; /* fd is a memfd (offset 0) or image a copy */
  wasm_rt_funcref_t *table;   /* a booted template's table: the build-time check */
  uint32_t table_size, table_max;
  /* What mp_sched_keyboard_interrupt() stores, learnt from the template
   * (see learn_soft_stop): the soft stop does the same stores itself,
   * atomically, instead of running guest code on another thread. */
  uint32_t kbd_pending; /* MP_STATE_MAIN_THREAD(mp_pending_exception) */
  uint32_t kbd_exc;     /* &MP_STATE_VM(mp_kbd_exception), its value */
  uint32_t kbd_trace;   /* mp_kbd_exception.traceback_data, set to NULL */
  uint32_t kbd_sched;   /* MP_STATE_VM(sched_state), u16: IDLE (1) -> PENDING (0) */
} py_template;

static py_template tmpl = {.snap = {.fd = -1}};
static pthread_once_t tmpl_once = PTHREAD_ONCE_INIT;

/* The non-zero 4 KiB pages of `m` into a memfd (holes elsewhere), or a
 * heap copy when no memfd can be made. */
static hl_status image_of(const wasm_rt_memory_t *m, struct hl_py_snapshot *s) {
  size_t bytes = m->size;
  int fd = memfd_create("hookline-python", MFD_CLOEXEC);
  bool ok = fd >= 0 && ftruncate(fd, (off_t)bytes) == 0;
  static const uint8_t zero[IMAGE_PAGE];
  for (size_t off = 0; ok && off < bytes; off += IMAGE_PAGE)
    if (memcmp(m->data + off, zero, IMAGE_PAGE) != 0)
      ok = pwrite(fd, m->data + off, IMAGE_PAGE, (off_t)off) == (ssize_t)IMAGE_PAGE;
  s->fd = -1;
  s->offset = 0;
  s->image = NULL;
  s->pages = m->pages;
  if (ok) {
    s->fd = fd;
    return HL_OK;
  }
  if (fd >= 0)
    close(fd);
  s->image = malloc(bytes ? bytes : 1);
  if (!s->image)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory saving a Python state");
  memcpy(s->image, m->data, bytes);
  return HL_OK;
}

static hl_status kbd_op(hl_py_vm *vm, void *p) {
  (void)p;
  Z_mpyZ_mp_sched_keyboard_interrupt(&vm->inst);
  return HL_OK;
}

/* Aligned 4-byte words of `now` that differ from `was`, at most `cap`
 * of them into `at`; returns how many differ. */
static size_t changed_words(const uint8_t *was, const uint8_t *now, size_t n, uint32_t *at,
                            size_t cap) {
  size_t k = 0;
  for (size_t off = 0; off + 4 <= n; off += 4)
    if (memcmp(was + off, now + off, 4) != 0) {
      if (k < cap)
        at[k] = (uint32_t)off;
      k++;
    }
  return k;
}

static uint32_t load32(const uint8_t *mem, uint32_t addr) {
  uint32_t v;
  memcpy(&v, mem + addr, 4);
  return v;
}

/* Run MicroPython's Ctrl-C function twice in the template (owner thread)
 * and read which words it stores: the pending exception (0 -> K), the
 * scheduler state (u16 1 -> 0), and K's traceback pointer (set to NULL:
 * checked by planting a value there before the second run). The memory is
 * put back after each run. False when the module does not behave so. */
static bool learn_soft_stop(hl_py_vm *vm, py_template *t) {
  wasm_rt_memory_t *m = &vm->inst.w2c_memory;
  size_t n = m->size < KBD_SCAN_BYTES ? m->size : KBD_SCAN_BYTES;
  uint8_t *was = malloc(n);
  if (!was)
    return false;
  memcpy(was, m->data, n);
  uint32_t at[4];
  bool ok = vm_run(vm, kbd_op, NULL) == HL_OK && changed_words(was, m->data, n, at, 4) == 2;
  uint32_t pending = 0, exc = 0, sched = 0;
  for (size_t i = 0; ok && i < 2; i++) {
    uint32_t old = load32(was, at[i]), now = load32(m->data, at[i]);
    if (old == 0 && now != 0 && now % 4 == 0 && (uint64_t)now + 16 <= n) {
      pending = at[i];
      exc = now;
    } else {
      /* A 16-bit store of 0 over 1, in either half of the word. */
      for (uint32_t h = 0; h < 4; h += 2) {
        uint16_t o16, n16;
        memcpy(&o16, was + at[i] + h, 2);
        memcpy(&n16, m->data + at[i] + h, 2);
        uint16_t o_other, n_other;
        memcpy(&o_other, was + at[i] + (2 - h), 2);
        memcpy(&n_other, m->data + at[i] + (2 - h), 2);
        if (o16 == 1 && n16 == 0 && o_other == n_other)
          sched = at[i] + h;
      }
    }
  }
  ok = ok && exc && sched;
  memcpy(m->data, was, n);
  if (ok) {
    /* The second run: a traceback pointer planted at K + 8 must be
     * cleared, and nothing else may change. */
    uint32_t planted = 0xA5A5A5A4u;
    memcpy(m->data + exc + 8, &planted, 4);
    uint8_t *mid = malloc(n);
    ok = mid != NULL;
    if (ok) {
      memcpy(mid, m->data, n);
      ok = vm_run(vm, kbd_op, NULL) == HL_OK;
      size_t k = ok ? changed_words(mid, m->data, n, at, 4) : 0;
      ok = ok && k == 3 && load32(m->data, exc + 8) == 0 && load32(m->data, pending) == exc;
      free(mid);
    }
    memcpy(m->data, was, n);
  }
  free(was);
  if (ok) {
    t->kbd_pending = pending;
    t->kbd_exc = exc;
    t->kbd_trace = exc + 8;
    t->kbd_sched = sched;
  }
  return ok;
}

/* Where MicroPython keeps mp_compile_allow_top_level_await, the flag
 * its exec export mp_js_do_exec_async() sets around mp_js_do_exec(): the
 * builtin compile() the prelude's cache uses accepts top-level await
 * only while it is set, and the host sets it itself around _hl_exec
 * (exec_op). Learnt from the export's behaviour: run with room for one
 * wasm call, it stores the flag and traps at its call of mp_js_do_exec;
 * the one byte that changed, from 0 to 1, is the flag. The memory is put
 * back. 0 when the module does not behave so: every execution then
 * compiles its source afresh (exec_uncached). */
static uint32_t learn_tla(hl_py_vm *vm) {
  wasm_rt_memory_t *m = &vm->inst.w2c_memory;
  size_t n = m->size < KBD_SCAN_BYTES ? m->size : KBD_SCAN_BYTES;
  uint8_t *was = malloc(n);
  if (!was)
    return 0;
  memcpy(was, m->data, n);
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  HL_WASM_TRY(frame, trap,
              (atomic_store(&m->call_limit, wasm_rt_call_stack_depth + 1),
               Z_mpyZ_mp_js_do_exec_async(&vm->inst, 0, 0, 0)));
  atomic_store(&m->call_limit, 0);
  size_t changed = 0, at = 0;
  /* Block by block (memcmp is fast where nothing changed, which is
   * nearly everywhere), byte by byte inside a block that did. */
  for (size_t b = 0; trap == WASM_RT_TRAP_EXHAUSTION && b < n; b += IMAGE_PAGE) {
    size_t end = b + IMAGE_PAGE < n ? b + IMAGE_PAGE : n;
    if (memcmp(was + b, m->data + b, end - b) == 0)
      continue;
    for (size_t i = b; i < end; i++)
      if (was[i] != m->data[i])
        changed++, at = i;
  }
  bool ok = trap == WASM_RT_TRAP_EXHAUSTION && changed == 1 && was[at] == 0 &&
            m->data[at] == 1;
  memcpy(m->data, was, n);
  free(was);
  return ok ? (uint32_t)at : 0;
}

/* The template booted here: MicroPython's start-up and the prelude (a
 * few milliseconds). */
static void template_boot(py_template *t) {
  pthread_once(&module_once, module_init);
  hl_py_vm *vm = NULL;
  hl_status st = vm_boot(HL_PY_MIN_MEMORY, &vm);
  if (st) {
    t->status = st;
    snprintf(t->error, sizeof t->error, "%s", hl_last_error());
    return;
  }
  if (!learn_soft_stop(vm, t)) {
    t->status = HL_ERR_SANDBOX;
    snprintf(t->error, sizeof t->error, "sandbox: cannot find MicroPython's interrupt state "
             "in this module (not the build hookline expects)");
    hl_py_vm_free(vm);
    return;
  }
  vm->tla = learn_tla(vm);
  st = image_of(&vm->inst.w2c_memory, &t->snap);
  const wasm_rt_funcref_table_t *tt = &vm->inst.w2c___indirect_function_table;
  t->table = malloc((tt->size ? tt->size : 1) * sizeof *t->table);
  if (st || !t->table) {
    t->status = HL_ERR_NOMEM;
    snprintf(t->error, sizeof t->error, "sandbox: out of memory making the Python template");
    hl_py_vm_free(vm);
    return;
  }
  memcpy(t->table, tt->data, tt->size * sizeof *t->table);
  t->table_size = tt->size;
  t->table_max = tt->max_size;
  t->snap.table_size = tt->size;
  t->snap.table_max = tt->max_size;
  memcpy(t->snap.globals, (const uint8_t *)&vm->inst + PY_GLOBALS_OFFSET, PY_GLOBALS_BYTES);
  t->snap.fn_exec = vm->fn_exec, t->snap.fn_collect = vm->fn_collect;
  t->snap.fn_define = vm->fn_define, t->snap.fn_drain = vm->fn_drain;
  t->snap.tla = vm->tla;
  t->snap.kbd_pending = t->kbd_pending, t->snap.kbd_exc = t->kbd_exc;
  t->snap.kbd_trace = t->kbd_trace, t->snap.kbd_sched = t->kbd_sched;
  hl_py_vm_free(vm);
}

/* A template file's soft-stop words (and its top-level await flag) lie
 * where learn_soft_stop() (learn_tla) can find them: aligned, inside the
 * scanned start of the image. */
static bool kbd_words_fit(const struct hl_py_snapshot *s) {
  uint64_t n = (uint64_t)s->pages * PAGE_BYTES;
  if (n > KBD_SCAN_BYTES)
    n = KBD_SCAN_BYTES;
  return s->kbd_exc && s->kbd_exc % 4 == 0 && s->kbd_pending % 4 == 0 && s->kbd_pending &&
         s->kbd_trace == s->kbd_exc + 8 && s->kbd_sched % 2 == 0 && s->kbd_sched &&
         (uint64_t)s->kbd_exc + 16 <= n && (uint64_t)s->kbd_pending + 4 <= n &&
         (uint64_t)s->kbd_sched + 2 <= n && s->tla < n;
}

static const char *tmpl_origin = "none";
static char tmpl_origin_path[512];
static bool tmpl_never_file; /* the build-time program boots its own */

/* The template file's header, for the check of its image before a vm
 * made from it first runs (template_checked). */
static hl_snapshot_head tmpl_head;
/* The template file's image: not checked yet, good, or corrupt (then vms
 * use `fallback`, booted at run time). */
enum { IMAGE_UNCHECKED, IMAGE_GOOD, IMAGE_BAD };
static atomic_int tmpl_image = IMAGE_GOOD;
static pthread_once_t check_once = PTHREAD_ONCE_INIT;
static py_template fallback = {.snap = {.fd = -1}};

static void check_template_image(void) {
  if (hl__snapshot_file_verify(tmpl.snap.fd, tmpl_origin_path, &tmpl_head) == HL_OK) {
    atomic_store(&tmpl_image, IMAGE_GOOD);
    return;
  }
  /* The same one line as for a file that cannot be used at all. */
  fprintf(stderr, "hookline: %s; building the Python sandbox snapshot at run time\n",
          hl_last_error());
  template_boot(&fallback);
  tmpl_origin = "built";
  atomic_store(&tmpl_image, IMAGE_BAD);
}

/* Accepts a template file: a Python snapshot file (py_snapshot.c) that
 * says where MicroPython's interrupt state is. */
static hl_status load_template(int fd, const char *path, void *ud) {
  (void)ud;
  struct hl_py_snapshot *s = NULL;
  hl_status st = hl__py_snapshot_read_fd(fd, path, 0, 0, &tmpl_head, &s);
  if (st)
    return st;
  if (!kbd_words_fit(s)) {
    hl_py_snapshot_free(s);
    return hl_fail(HL_ERR_INVALID, "sandbox snapshot: %s is not a template (it does not say "
                   "where MicroPython's interrupt state is)", path);
  }
  tmpl.snap = *s; /* the descriptor stays open for the process's life */
  free(s);
  tmpl.table_size = tmpl.snap.table_size;
  tmpl.table_max = tmpl.snap.table_max;
  tmpl.kbd_pending = tmpl.snap.kbd_pending, tmpl.kbd_exc = tmpl.snap.kbd_exc;
  tmpl.kbd_trace = tmpl.snap.kbd_trace, tmpl.kbd_sched = tmpl.snap.kbd_sched;
  return HL_OK;
}

/* The template from the file the build wrote (hookline-python.snap), if
 * one is usable: next to the library (the installed layout), where it is
 * installed, else where this build wrote it (snapshot_io.c).
 * HOOKLINE_PY_SANDBOX_SNAPSHOT names another file, or is empty to always
 * boot at run time. Every vm maps the file copy-on-write. */
static bool template_from_file(void) {
  static const hl_snapshot_places places = {
    .env = "HOOKLINE_PY_SANDBOX_SNAPSHOT",
    .name = HL_PY_SNAPSHOT_NAME,
    .library_addr = (const void *)&hl_py_vm_new,
#ifdef HL_PY_SNAPSHOT_INSTALL_PATH
    .install_path = HL_PY_SNAPSHOT_INSTALL_PATH,
#endif
#ifdef HL_PY_SNAPSHOT_BUILD_PATH
    .build_path = HL_PY_SNAPSHOT_BUILD_PATH,
#endif
#ifdef HL_LIBRARY_BUILD_DIR
    .library_build_dir = HL_LIBRARY_BUILD_DIR,
#endif
    .note = "building the Python sandbox snapshot at run time",
  };
  if (!hl__snapshot_template_find(&places, load_template, NULL, tmpl_origin_path,
                                  sizeof tmpl_origin_path))
    return false;
  tmpl_origin = "file";
  return true;
}

static void template_build(void) {
  if (!tmpl_never_file && template_from_file()) {
    atomic_store(&tmpl_image, IMAGE_UNCHECKED);
    return;
  }
  template_boot(&tmpl);
  if (tmpl.status == HL_OK)
    tmpl_origin = "built";
}

const char *hl__py_template_origin(const char **path) {
  if (path)
    *path = tmpl_origin_path;
  return tmpl_origin;
}

/* The template, built at the first use (a few milliseconds). */
static hl_status template_ready(void) {
  pthread_once(&tmpl_once, template_build);
  return tmpl.status ? hl_fail(tmpl.status, "%s", tmpl.error) : HL_OK;
}

/* The function table alone, as instantiation fills it (no memory, no
 * module code runs): what every vm fills for itself (hl_py_vm_new). The
 * build-time program checks that it equals the booted template's, since
 * a file cannot hold host function pointers. */
static hl_status fresh_table(wasm_rt_funcref_t **table, uint32_t *size, uint32_t *max) {
  pthread_once(&module_once, module_init);
  Z_mpy_instance_t inst;
  memset(&inst, 0, sizeof inst);
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  /* Its allocation failing makes the fill trap (out of bounds). */
  HL_WASM_TRY(frame, trap, Z_mpy_init_table_only(&inst));
  wasm_rt_funcref_table_t *t = &inst.w2c___indirect_function_table;
  if (trap != WASM_RT_TRAP_NONE || !t->data) {
    wasm_rt_free_funcref_table(t);
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory building the Python function table");
  }
  *table = t->data; /* taken as it is: the table's own allocation */
  *size = t->size;
  *max = t->max_size;
  return HL_OK;
}

hl_status hl__py_template_write(const char *path) {
  tmpl_never_file = true;
  hl_status st = template_ready();
  if (st)
    return st;
  wasm_rt_funcref_t *table = NULL;
  uint32_t size = 0, max = 0;
  st = fresh_table(&table, &size, &max);
  if (st)
    return st;
  bool same = size == tmpl.table_size && max == tmpl.table_max;
  for (uint32_t i = 0; same && i < size; i++)
    same = table[i].func == tmpl.table[i].func && table[i].func_type == tmpl.table[i].func_type;
  free(table);
  if (!same)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: MicroPython's start-up changed the function table; "
                   "a template file cannot describe it");
  return hl__py_snapshot_write(&tmpl.snap, path);
}


hl_status hl_py_vm_new(const hl_py_snapshot *snap, size_t memory_limit, const hl_py_hooks *hooks,
                       void *ud, hl_py_vm **out) {
  *out = NULL;
  if (memory_limit < HL_PY_MIN_MEMORY)
    return hl_fail(HL_ERR_INVALID, "sandbox: memory limit %zu bytes is below the minimum %zu",
                   memory_limit, (size_t)HL_PY_MIN_MEMORY);
  hl_status st = template_ready();
  if (st)
    return st;
  int image = atomic_load(&tmpl_image);
  const py_template *tp = image == IMAGE_BAD ? &fallback : &tmpl;
  if (tp->status)
    return hl_fail(tp->status, "%s", tp->error);
  const struct hl_py_snapshot *s = snap ? snap : &tp->snap;
  /* The whole limit reserved, the image mapped privately over its start:
   * pages are copied only when written. */
  size_t bytes = (size_t)s->pages * PAGE_BYTES;
  size_t limit = memory_limit - memory_limit % PAGE_BYTES;
  if (limit < bytes)
    return hl_fail(HL_ERR_INVALID, "sandbox: memory limit %zu bytes is below the saved state's "
                   "%zu", memory_limit, bytes);
  hl_py_vm *vm = vm_alloc(memory_limit, hooks, ud);
  if (!vm)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  uint8_t *map = mmap(NULL, limit, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) {
    free(vm);
    return hl_fail(HL_ERR_NOMEM, "sandbox: cannot reserve %zu bytes of memory", limit);
  }
  if (s->fd >= 0) {
    if (mmap(map, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, s->fd,
             (off_t)s->offset) == MAP_FAILED) {
      munmap(map, limit);
      free(vm);
      return hl_fail(HL_ERR_NOMEM, "sandbox: cannot map the Python state");
    }
  } else {
    memcpy(map, s->image, bytes);
  }
  vm->inst.Z_env_instance = &vm->env;
  vm->inst.Z_wasi_snapshot_preview1_instance = &vm->wasi;
  memcpy((uint8_t *)&vm->inst + PY_GLOBALS_OFFSET, s->globals, PY_GLOBALS_BYTES);
  wasm_rt_memory_t *m = &vm->inst.w2c_memory;
  m->data = map;
  m->pages = s->pages;
  m->size = (uint32_t)bytes;
  m->max_pages = (uint32_t)(limit / PAGE_BYTES);
  atomic_init(&m->call_limit, 0);
  atomic_init(&m->interrupt, 0);
  vm->kbd_mem = map;
  /* The function table: filled at the first entry (table_ready). */
  vm->table_size = s->table_size;
  vm->table_max = s->table_max;
  vm->table_pending = true;
  vm->fn_exec = s->fn_exec, vm->fn_collect = s->fn_collect;
  vm->tla = s->tla;
  vm->fn_define = s->fn_define, vm->fn_drain = s->fn_drain;
  vm->kbd_pending = tp->kbd_pending, vm->kbd_exc = tp->kbd_exc;
  vm->kbd_trace = tp->kbd_trace, vm->kbd_sched = tp->kbd_sched;
  vm->unchecked = !snap && image == IMAGE_UNCHECKED;
  *out = vm;
  return HL_OK;
}

/* Before a vm made from the template file first runs: the file's image
 * checked against its checksum (once per process: the first such vm's
 * first entry pays it); when it is corrupt, a template is booted at run
 * time (one line on stderr, as for a file that cannot be used) and the
 * vm, which never ran, starts over from that one. */
static hl_status template_checked(hl_py_vm *vm) {
  pthread_once(&check_once, check_template_image);
  vm->unchecked = false;
  if (atomic_load(&tmpl_image) != IMAGE_BAD)
    return HL_OK;
  const struct hl_py_snapshot *s = &fallback.snap;
  wasm_rt_memory_t *m = &vm->inst.w2c_memory;
  size_t bytes = (size_t)s->pages * PAGE_BYTES;
  hl_status st = HL_OK;
  if (fallback.status)
    st = hl_fail(fallback.status, "%s", fallback.error);
  else if (s->pages > m->max_pages || vm->table_size != s->table_size ||
           vm->table_max != s->table_max)
    st = hl_fail(HL_ERR_SANDBOX, "sandbox: the Python template built at run time does not fit "
                 "this sandbox");
  /* Back to zero pages, then the run-time template over them. */
  else if (mmap(m->data, m->size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED ||
           (s->fd >= 0 && mmap(m->data, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                               s->fd, (off_t)s->offset) == MAP_FAILED))
    st = hl_fail(HL_ERR_NOMEM, "sandbox: cannot map the Python state");
  if (st) {
    vm->broken = true;
    return st;
  }
  if (s->fd < 0)
    memcpy(m->data, s->image, bytes);
  memcpy((uint8_t *)&vm->inst + PY_GLOBALS_OFFSET, s->globals, PY_GLOBALS_BYTES);
  m->pages = s->pages;
  m->size = (uint32_t)bytes;
  vm->fn_exec = s->fn_exec, vm->fn_collect = s->fn_collect;
  vm->tla = s->tla;
  vm->fn_define = s->fn_define, vm->fn_drain = s->fn_drain;
  __atomic_store_n(&vm->kbd_pending, fallback.kbd_pending, __ATOMIC_RELAXED);
  __atomic_store_n(&vm->kbd_exc, fallback.kbd_exc, __ATOMIC_RELAXED);
  __atomic_store_n(&vm->kbd_trace, fallback.kbd_trace, __ATOMIC_RELAXED);
  __atomic_store_n(&vm->kbd_sched, fallback.kbd_sched, __ATOMIC_RELAXED);
  return HL_OK;
}

static hl_status drain_op(hl_py_vm *vm, void *p) {
  (void)p;
  uint32_t out = Z_mpyZ_malloc(&vm->inst, 24);
  if (!out || !hl__py_mem(vm, out, 24))
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory clearing a stale interrupt");
  call_fn(vm, vm->fn_drain, NULL, out);
  if ((int32_t)word(vm, out) == PY_MP_EXCEPTION)
    Z_mpyZ_free(&vm->inst, word(vm, out + 8));
  Z_mpyZ_free(&vm->inst, out);
  return HL_OK;
}

hl_status hl_py_vm_settle(hl_py_vm *vm) {
  if (!atomic_exchange(&vm->soft_sent, 0))
    return HL_OK;
  return vm_run(vm, drain_op, NULL);
}

hl_status hl_py_vm_snapshot_take(hl_py_vm *vm, hl_py_snapshot **out) {
  *out = NULL;
  if (vm->broken)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the instance trapped earlier and must be reset");
  if (vm->unchecked) {
    hl_status st = template_checked(vm);
    if (st)
      return st;
  }
  /* A KeyboardInterrupt that came after the last execution must not be
   * saved with the state. */
  hl_status settled = hl_py_vm_settle(vm);
  if (settled)
    return settled;
  struct hl_py_snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory saving a Python state");
  hl_status st = image_of(&vm->inst.w2c_memory, s);
  if (st) {
    free(s);
    return st;
  }
  memcpy(s->globals, (const uint8_t *)&vm->inst + PY_GLOBALS_OFFSET, PY_GLOBALS_BYTES);
  s->table_size = vm->table_size;
  s->table_max = vm->table_max;
  s->fn_exec = vm->fn_exec, s->fn_collect = vm->fn_collect;
  s->tla = vm->tla;
  s->fn_define = vm->fn_define, s->fn_drain = vm->fn_drain;
  s->kbd_pending = vm->kbd_pending, s->kbd_exc = vm->kbd_exc;
  s->kbd_trace = vm->kbd_trace, s->kbd_sched = vm->kbd_sched;
  *out = s;
  return HL_OK;
}

void hl_py_snapshot_free(hl_py_snapshot *snap) {
  if (!snap)
    return;
  if (snap->fd >= 0)
    close(snap->fd);
  free(snap->image);
  free(snap);
}

size_t hl_py_snapshot_bytes(const hl_py_snapshot *snap) { return (size_t)snap->pages * PAGE_BYTES; }

hl_status hl_py_snapshot_save(const hl_py_snapshot *snap, const char *path) {
  return hl__py_snapshot_write(snap, path);
}

hl_status hl_py_snapshot_load(const char *path, hl_py_snapshot **out) {
  *out = NULL;
  hl_status st = template_ready();
  if (st)
    return st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return hl_fail(errno == ENOENT ? HL_ERR_NOT_FOUND : HL_ERR_IO,
                   "sandbox snapshot: cannot open %s: %s", path, strerror(errno));
  return hl__py_snapshot_read_fd(fd, path, tmpl.table_size, tmpl.table_max, NULL, out);
}

void hl_py_vm_free(hl_py_vm *vm) {
  if (!vm)
    return;
  /* No MicroPython teardown: the whole linear memory goes at once. */
  Z_mpy_free(&vm->inst);
  hl__py_cache_clear(vm);
  free(vm->tmp);
  free(vm);
}

bool hl_py_vm_broken(const hl_py_vm *vm) { return vm->broken; }

size_t hl_py_vm_memory_size(const hl_py_vm *vm) { return vm->inst.w2c_memory.size; }

uint64_t hl_py_vm_compiles(const hl_py_vm *vm) { return vm->compiles; }

/* ------------------------------------------------------------------ */
/* Stopping, from any thread                                            */
/* ------------------------------------------------------------------ */

void hl_py_vm_soft_stop(hl_py_vm *vm) {
  /* What MicroPython's own Ctrl-C path (mp_sched_keyboard_interrupt)
   * stores, done here as atomic stores to the words learnt from the
   * template: running that guest function on this thread would share the
   * instance (its globals, its stack pointer) with the thread executing
   * Python. The guest reads the flag at its next backward branch. Before
   * and between executions the stores are harmless: hl_py_vm_settle()
   * drains a stale interrupt (soft_sent). The memory never moves while the vm
   * lives. */
  uint8_t *mem = vm->kbd_mem;
  uint32_t trace = __atomic_load_n(&vm->kbd_trace, __ATOMIC_RELAXED);
  uint32_t pending = __atomic_load_n(&vm->kbd_pending, __ATOMIC_RELAXED);
  uint32_t exc = __atomic_load_n(&vm->kbd_exc, __ATOMIC_RELAXED);
  uint32_t sched = __atomic_load_n(&vm->kbd_sched, __ATOMIC_RELAXED);
  atomic_store(&vm->soft_sent, 1);
  __atomic_store_n((uint32_t *)(void *)(mem + trace), 0u, __ATOMIC_SEQ_CST);
  __atomic_store_n((uint32_t *)(void *)(mem + pending), exc, __ATOMIC_SEQ_CST);
  uint16_t idle = 1;
  (void)__atomic_compare_exchange_n((uint16_t *)(void *)(mem + sched), &idle, 0, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void hl_py_vm_interrupt(hl_py_vm *vm) {
  atomic_store(&vm->inst.w2c_memory.interrupt, 1);
  hl_py_vm_soft_stop(vm);
  atomic_store(&vm->inst.w2c_memory.call_limit, 0);
}

bool hl_py_vm_reopen(hl_py_vm *vm) { return hl_wasm_reopen(&vm->inst.w2c_memory, vm->broken); }
