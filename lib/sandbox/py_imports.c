/*
 * lib/sandbox/py_imports.c - every import of the MicroPython module,
 * implemented by hookline: what the Emscripten JavaScript glue does in a
 * browser, minus everything that would reach beyond the guest.
 *
 *  - invoke_*: Emscripten's setjmp/longjmp (MicroPython's nlr, i.e. every
 *    Python exception) calls a function through the table inside a
 *    try/catch; a longjmp throws. Here the try is a host setjmp and the
 *    throw (_emscripten_throw_longjmp) a host longjmp to the innermost
 *    trampoline, which restores the guest's stack pointer and reports
 *    the throw with setThrew(1, 0), exactly as the glue does.
 *  - fd_write: stdout and stderr go to the host's write hook; every other
 *    descriptor, and every file system call (__syscall_*), fails: there is
 *    no file system.
 *  - the JavaScript proxy functions (lookup_attr, call1, ...): the guest's
 *    `js` module sees an empty object; the only JavaScript-like object is
 *    `_hl` (PY_REF_MODULE), whose functions are the host hooks the
 *    prelude uses. Everything else answers `undefined`.
 *  - clock (monotonic ticks and wall time, as the JavaScript guest's Date),
 *    random numbers (getrandom), heap growth up to the memory limit.
 *
 * Every pointer the guest passes is checked against its memory: a bad
 * one traps (out of bounds), as the guest's own access would.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "py_vm_internal.h"

/* Emscripten's errno values (WASI numbering). */
#define PY_EBADF 8
#define PY_EPERM 63
#define PY_ESPIPE 70

static struct hl_py_vm *vm_of(struct Z_env_instance_t *env) { return env->vm; }

static uint8_t *mem_or_trap(struct hl_py_vm *vm, uint64_t addr, uint64_t len) {
  uint8_t *p = hl__py_mem(vm, addr, len);
  if (!p)
    wasm_rt_trap(WASM_RT_TRAP_OOB);
  return p;
}

static void put32(struct hl_py_vm *vm, uint32_t addr, uint32_t v) {
  memcpy(mem_or_trap(vm, addr, 4), &v, 4);
}

static uint32_t get32(struct hl_py_vm *vm, uint32_t addr) {
  uint32_t v;
  memcpy(&v, mem_or_trap(vm, addr, 4), 4);
  return v;
}

/* A proxy value "undefined" at `out` (three words). */
static void put_undefined(struct hl_py_vm *vm, uint32_t out) {
  mem_or_trap(vm, out, 12);
  put32(vm, out, PY_JS_UNDEFINED);
}

/* ------------------------------------------------------------------ */
/* setjmp/longjmp                                                       */
/* ------------------------------------------------------------------ */

/* The table entry `index`, checked against the signature the trampoline
 * calls it with (as call_indirect does). */
static const wasm_rt_funcref_t *table_fn(struct hl_py_vm *vm, uint32_t index, uint32_t type) {
  const wasm_rt_funcref_table_t *t = &vm->inst.w2c___indirect_function_table;
  if (index >= t->size || !t->data[index].func || t->data[index].func_type != type)
    wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);
  return &t->data[index];
}

/* After a longjmp landed in trampoline `j`: what the glue's catch does. */
static void landed(py_jmp *j) {
  struct hl_py_vm *vm = j->vm;
  vm->jmp = j->prev;
  wasm_rt_call_stack_depth = j->depth;
  Z_mpyZ__emscripten_stack_restore(&vm->inst, j->sp);
  Z_mpyZ_setThrew(&vm->inst, 1, 0);
}

/* The guest's stack pointer is the module's global 0 (what
 * emscripten_stack_get_current returns: py_vm.c checks it at boot). */
#define DEFINE_INVOKE(RT, NAME, TYPE, PARAMS, ARGS)                                    \
  RT Z_envZ_##NAME(struct Z_env_instance_t *env, u32 index PARAMS) {                   \
    struct hl_py_vm *vm = vm_of(env);                                                 \
    const wasm_rt_funcref_t *f = table_fn(vm, index, vm->TYPE);                        \
    py_jmp j;                                                                          \
    j.vm = vm;                                                                         \
    j.sp = vm->inst.w2c_g0;                                                            \
    j.prev = vm->jmp;                                                                  \
    j.depth = wasm_rt_call_stack_depth;                                                \
    vm->jmp = &j;                                                                      \
    if (PY_SETJMP(j.env) == 0) {                                                       \
      INVOKE_CALL_##RT(((RT(*)(Z_mpy_instance_t * PARAMS))f->func)(                    \
          (Z_mpy_instance_t *)f->module_instance ARGS));                               \
    }                                                                                  \
    landed(&j);                                                                        \
    INVOKE_FAIL_##RT                                                                   \
  }
#define INVOKE_CALL_u32(call)                                                          \
  u32 r = call;                                                                        \
  vm->jmp = j.prev;                                                                    \
  return r;
#define INVOKE_CALL_void(call)                                                         \
  call;                                                                                \
  vm->jmp = j.prev;                                                                    \
  return;
#define INVOKE_FAIL_u32 return 0;
#define INVOKE_FAIL_void return;

#define P1 , u32 a1
#define P2 P1, u32 a2
#define P3 P2, u32 a3
#define P4 P3, u32 a4
#define P5 P4, u32 a5
#define A1 , a1
#define A2 A1, a2
#define A3 A2, a3
#define A4 A3, a4
#define A5 A4, a5

DEFINE_INVOKE(u32, invoke_i, type_i, , )
DEFINE_INVOKE(u32, invoke_ii, type_ii, P1, A1)
DEFINE_INVOKE(u32, invoke_iii, type_iii, P2, A2)
DEFINE_INVOKE(u32, invoke_iiii, type_iiii, P3, A3)
DEFINE_INVOKE(u32, invoke_iiiii, type_iiiii, P4, A4)
DEFINE_INVOKE(u32, invoke_iiiiii, type_iiiiii, P5, A5)
DEFINE_INVOKE(void, invoke_v, type_v, , )
DEFINE_INVOKE(void, invoke_vi, type_vi, P1, A1)
DEFINE_INVOKE(void, invoke_vii, type_vii, P2, A2)
DEFINE_INVOKE(void, invoke_viii, type_viii, P3, A3)
DEFINE_INVOKE(void, invoke_viiii, type_viiii, P4, A4)

void Z_envZ__emscripten_throw_longjmp(struct Z_env_instance_t *env) {
  struct hl_py_vm *vm = vm_of(env);
  if (!vm->jmp)
    /* A longjmp with no setjmp on the stack: MicroPython would have
     * called nlr_jump_fail, which spins forever; a trap ends it. */
    wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
  PY_LONGJMP(vm->jmp->env);
}

void Z_envZ__abort_js(struct Z_env_instance_t *env) {
  (void)env;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

/* ------------------------------------------------------------------ */
/* Memory, clock, random                                                */
/* ------------------------------------------------------------------ */

/* sbrk asks for `requested` bytes of linear memory in all. The memory is
 * reserved up to the limit when it is made (py_vm.c): growing only moves
 * its bound. Refusing makes malloc fail, which MicroPython reports as a
 * MemoryError. */
u32 Z_envZ_emscripten_resize_heap(struct Z_env_instance_t *env, u32 requested) {
  struct hl_py_vm *vm = vm_of(env);
  wasm_rt_memory_t *m = &vm->inst.w2c_memory;
  uint64_t want = requested;
  if (want <= m->size)
    return 1;
  /* Grow by a fifth at least, as Emscripten's glue does, in whole pages. */
  uint64_t grown = (uint64_t)m->size + m->size / 5;
  if (grown < want)
    grown = want;
  grown = (grown + 65535u) & ~(uint64_t)65535u;
  uint64_t cap = (uint64_t)m->max_pages * 65536u;
  if (grown > cap)
    grown = cap;
  if (grown < want)
    return 0;
  m->pages = (uint32_t)(grown / 65536u);
  m->size = (uint32_t)grown;
  return 1;
}

static uint64_t now_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

u32 Z_envZ_mp_js_ticks_ms(struct Z_env_instance_t *env) {
  return (u32)(now_ms(CLOCK_MONOTONIC) - vm_of(env)->t0_ms);
}

f64 Z_envZ_mp_js_time_ms(struct Z_env_instance_t *env) {
  (void)env;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (f64)ts.tv_sec * 1000.0 + (f64)(ts.tv_nsec / 1000000);
}

u32 Z_envZ_mp_js_random_u32(struct Z_env_instance_t *env) {
  (void)env;
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
    r = (uint32_t)now_ms(CLOCK_MONOTONIC) * 2654435761u;
  return r;
}

/* ------------------------------------------------------------------ */
/* WASI and the file system: output only                                */
/* ------------------------------------------------------------------ */

u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd,
                                        u32 iov, u32 iovcnt, u32 pnum) {
  struct hl_py_vm *vm = w->vm;
  if (fd != 1 && fd != 2)
    return PY_EBADF;
  uint64_t total = 0;
  for (u32 i = 0; i < iovcnt; i++) {
    uint32_t ptr = get32(vm, iov + 8 * i);
    uint32_t len = get32(vm, iov + 8 * i + 4);
    const uint8_t *p = mem_or_trap(vm, ptr, len);
    if (len && vm->hooks.write)
      vm->hooks.write(vm->ud, (int)fd, (const char *)p, len);
    total += len;
  }
  put32(vm, pnum, (uint32_t)total);
  return 0;
}

/* Standard input is empty (input() meets end of file at once); there is
 * nothing else to read. */
u32 Z_wasi_snapshot_preview1Z_fd_read(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd,
                                       u32 iov, u32 iovcnt, u32 pnum) {
  (void)iov, (void)iovcnt;
  if (fd != 0)
    return PY_EBADF;
  put32(w->vm, pnum, 0);
  return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd) {
  (void)w, (void)fd;
  return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_sync(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd) {
  (void)w, (void)fd;
  return 0;
}

u32 Z_wasi_snapshot_preview1Z_fd_seek(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd,
                                       u64 offset, u32 whence, u32 out) {
  (void)w, (void)fd, (void)offset, (void)whence, (void)out;
  return PY_ESPIPE;
}

/* Every file system call fails with EPERM: open(), os.listdir(), ... get
 * an OSError. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define NO_FS(NAME, ...)                                                               \
  u32 Z_envZ___syscall_##NAME(struct Z_env_instance_t *env, __VA_ARGS__) {             \
    return (u32)-PY_EPERM;                                                             \
  }
NO_FS(chdir, u32 a)
NO_FS(rmdir, u32 a)
NO_FS(fstat64, u32 a, u32 b)
NO_FS(getcwd, u32 a, u32 b)
NO_FS(lstat64, u32 a, u32 b)
NO_FS(stat64, u32 a, u32 b)
NO_FS(getdents64, u32 a, u32 b, u32 c)
NO_FS(mkdirat, u32 a, u32 b, u32 c)
NO_FS(poll, u32 a, u32 b, u32 c)
NO_FS(statfs64, u32 a, u32 b, u32 c)
NO_FS(unlinkat, u32 a, u32 b, u32 c)
NO_FS(newfstatat, u32 a, u32 b, u32 c, u32 d)
NO_FS(openat, u32 a, u32 b, u32 c, u32 d)
NO_FS(renameat, u32 a, u32 b, u32 c, u32 d)

/* ------------------------------------------------------------------ */
/* The JavaScript bridge: only `_hl`                                    */
/* ------------------------------------------------------------------ */

/* An attribute name of at most 31 bytes, or "" (no such attribute). */
static void attr_name(struct hl_py_vm *vm, uint32_t str, char out[32]) {
  out[0] = 0;
  for (size_t i = 0; i < 31; i++) {
    const uint8_t *c = hl__py_mem(vm, (uint64_t)str + i, 1);
    if (!c)
      wasm_rt_trap(WASM_RT_TRAP_OOB);
    out[i] = (char)*c;
    if (!*c)
      return;
  }
  out[0] = 0; /* longer than any name of _hl */
}

static uint32_t hl_attr_ref(struct hl_py_vm *vm, uint32_t jsref, uint32_t str) {
  char name[32];
  attr_name(vm, str, name);
  if (jsref != PY_REF_MODULE)
    return 0;
  if (strcmp(name, "wait") == 0)
    return PY_REF_WAIT;
  if (strcmp(name, "sleep") == 0)
    return PY_REF_SLEEP;
  if (strcmp(name, "callbacks") == 0)
    return PY_REF_CALLBACKS;
  if (strcmp(name, "call") == 0)
    return PY_REF_CALL;
  if (strcmp(name, "source") == 0)
    return PY_REF_SOURCE;
  return 0;
}

u32 Z_envZ_lookup_attr(struct Z_env_instance_t *env, u32 jsref, u32 str, u32 out) {
  struct hl_py_vm *vm = vm_of(env);
  uint32_t ref = hl_attr_ref(vm, jsref, str);
  if (!ref)
    return 0;
  mem_or_trap(vm, out, 12);
  put32(vm, out, PY_JS_OBJECT);
  put32(vm, out + 4, ref);
  return 1;
}

u32 Z_envZ_has_attr(struct Z_env_instance_t *env, u32 jsref, u32 str) {
  return hl_attr_ref(vm_of(env), jsref, str) != 0;
}

/* Hand `text` (malloc'ed, taken; NULL: an empty string, which the prelude
 * reads as "stop") to Python as a JavaScript string at `out`. */
static void put_string(struct hl_py_vm *vm, uint32_t out, char *text) {
  if (!hl__py_mem(vm, out, 12)) {
    free(text);
    wasm_rt_trap(WASM_RT_TRAP_OOB);
  }
  size_t len = text ? strlen(text) : 0;
  /* MicroPython frees the buffer once it made its str of it. */
  uint32_t g = hl__py_guest_copy(vm, text ? text : "", len);
  free(text);
  if (vm->pending_trap != WASM_RT_TRAP_NONE)
    wasm_rt_trap(vm->pending_trap); /* the stop (or fault) goes on */
  if (!g) {
    put_undefined(vm, out); /* the prelude raises MemoryError */
    return;
  }
  put32(vm, out, PY_JS_STRING);
  put32(vm, out + 4, (uint32_t)len);
  put32(vm, out + 8, g);
}

/* A Python str argument (a proxy value at `v`): its bytes, borrowed from
 * guest memory, or NULL when `v` is not a str. */
static const char *arg_str(struct hl_py_vm *vm, uint32_t v, size_t *len) {
  if ((int32_t)get32(vm, v) != PY_MP_STR)
    return NULL;
  *len = get32(vm, v + 4);
  return (const char *)mem_or_trap(vm, get32(vm, v + 8), *len);
}

/* A Python number argument, or NAN. */
static double arg_num(struct hl_py_vm *vm, uint32_t v) {
  int32_t kind = (int32_t)get32(vm, v);
  if (kind == PY_MP_INT)
    return (double)(int32_t)get32(vm, v + 4);
  if (kind == PY_MP_FLOAT) {
    double d;
    memcpy(&d, mem_or_trap(vm, v + 4, 8), 8);
    return d;
  }
  return NAN;
}

/* One call of an _hl function with one argument (or none: a0 = 0). */
static void call_hl(struct hl_py_vm *vm, uint32_t f_ref, uint32_t a0, uint32_t out) {
  if (f_ref == PY_REF_WAIT && a0) {
    size_t len = 0;
    const char *batch = arg_str(vm, a0, &len);
    if (!batch || !vm->hooks.wait) {
      put_undefined(vm, out);
      return;
    }
    /* The hook may run for long (the tools): the batch is copied, since
     * guest memory may not be touched meanwhile by anyone but us. */
    char *copy = malloc(len + 1);
    if (!copy) {
      put_undefined(vm, out);
      return;
    }
    memcpy(copy, batch, len);
    copy[len] = 0;
    char *answer = vm->hooks.wait(vm->ud, copy, len);
    free(copy);
    if (!answer)
      vm->stopped = true;
    put_string(vm, out, answer);
    return;
  }
  if (f_ref == PY_REF_SLEEP && a0) {
    double ms = arg_num(vm, a0);
    if (isnan(ms) || !vm->hooks.sleep) {
      put_undefined(vm, out);
      return;
    }
    bool go = vm->hooks.sleep(vm->ud, ms);
    if (!go)
      vm->stopped = true;
    put_string(vm, out, go ? strdup("ok") : NULL);
    return;
  }
  if (f_ref == PY_REF_SOURCE && a0) {
    double v = arg_num(vm, a0);
    char *text = v == 0 || v == 1 ? hl__py_source_text(vm, (int)v) : NULL;
    if (!text) {
      put_undefined(vm, out); /* the prelude raises MemoryError */
      return;
    }
    put_string(vm, out, text);
    return;
  }
  if (f_ref == PY_REF_CALLBACKS && !a0 && vm->hooks.callbacks) {
    char *spec = vm->hooks.callbacks(vm->ud);
    if (!spec) {
      put_undefined(vm, out);
      return;
    }
    put_string(vm, out, spec);
    return;
  }
  put_undefined(vm, out);
}

void Z_envZ_call0(struct Z_env_instance_t *env, u32 f_ref, u32 out) {
  call_hl(vm_of(env), f_ref, 0, out);
}

u32 Z_envZ_call1(struct Z_env_instance_t *env, u32 f_ref, u32 via_call, u32 a0, u32 out) {
  (void)via_call;
  call_hl(vm_of(env), f_ref, a0, out);
  return 0;
}

u32 Z_envZ_calln(struct Z_env_instance_t *env, u32 f_ref, u32 via_call, u32 n_args, u32 value,
                 u32 out) {
  (void)via_call;
  if (n_args == 1)
    call_hl(vm_of(env), f_ref, value, out);
  else
    put_undefined(vm_of(env), out);
  return 0;
}

/* _hl.call(name, args): one callback request. */
u32 Z_envZ_call2(struct Z_env_instance_t *env, u32 f_ref, u32 via_call, u32 a0, u32 a1, u32 out) {
  (void)via_call;
  struct hl_py_vm *vm = vm_of(env);
  size_t name_len = 0, args_len = 0;
  const char *name = f_ref == PY_REF_CALL ? arg_str(vm, a0, &name_len) : NULL;
  const char *args = name ? arg_str(vm, a1, &args_len) : NULL;
  if (!args || !vm->hooks.call) {
    put_undefined(vm, out);
    return 0;
  }
  /* Copied, as wait's batch is: guest memory may not be touched while
   * the tool runs. */
  char *copy = malloc(name_len + args_len + 2);
  if (!copy) {
    put_undefined(vm, out);
    return 0;
  }
  memcpy(copy, name, name_len);
  copy[name_len] = 0;
  memcpy(copy + name_len + 1, args, args_len);
  copy[name_len + 1 + args_len] = 0;
  hl_py_answer a = {.kind = HL_PY_ANSWER_TEXT};
  bool go = vm->hooks.call(vm->ud, copy, name_len, copy + name_len + 1, args_len, &a);
  free(copy);
  if (!go) {
    vm->stopped = true;
    put_string(vm, out, NULL);
  } else if (a.kind == HL_PY_ANSWER_INT) {
    mem_or_trap(vm, out, 12);
    put32(vm, out, PY_JS_INTEGER);
    put32(vm, out + 4, (uint32_t)a.integer);
  } else if (a.kind == HL_PY_ANSWER_NULL) {
    mem_or_trap(vm, out, 12);
    put32(vm, out, PY_JS_NULL);
  } else if (a.text) {
    put_string(vm, out, a.text);
  } else {
    put_undefined(vm, out); /* the prelude raises MemoryError */
  }
  return 0;
}

void Z_envZ_call0_kwarg(struct Z_env_instance_t *env, u32 f_ref, u32 via_call, u32 n_kw, u32 key,
                        u32 value, u32 out) {
  (void)f_ref, (void)via_call, (void)n_kw, (void)key, (void)value;
  put_undefined(vm_of(env), out);
}

void Z_envZ_calln_kwarg(struct Z_env_instance_t *env, u32 f_ref, u32 via_call, u32 n_args,
                        u32 args, u32 n_kw, u32 key, u32 value, u32 out) {
  (void)f_ref, (void)via_call, (void)n_args, (void)args, (void)n_kw, (void)key, (void)value;
  put_undefined(vm_of(env), out);
}

/* jsffi.to_js() and friends convert a value to JavaScript and back:
 * numbers, booleans and None survive, anything else becomes undefined. */
static void convert_back(struct hl_py_vm *vm, uint32_t out) {
  int32_t kind = (int32_t)get32(vm, out);
  switch (kind) {
  case PY_MP_NONE: put32(vm, out, PY_JS_NULL); break;
  case PY_MP_BOOL: put32(vm, out, PY_JS_BOOLEAN); break;
  case PY_MP_INT: put32(vm, out, PY_JS_INTEGER); break;
  case PY_MP_FLOAT: put32(vm, out, PY_JS_DOUBLE); break;
  default: put_undefined(vm, out); break;
  }
}

void Z_envZ_proxy_convert_mp_to_js_then_js_to_mp_obj_jsside(struct Z_env_instance_t *env,
                                                             u32 out) {
  convert_back(vm_of(env), out);
}

void Z_envZ_proxy_convert_mp_to_js_then_js_to_js_then_js_to_mp_obj_jsside(
    struct Z_env_instance_t *env, u32 out) {
  convert_back(vm_of(env), out);
}

u32 Z_envZ_js_check_existing(struct Z_env_instance_t *env, u32 c_ref) {
  (void)env, (void)c_ref;
  return (u32)-1; /* no JavaScript object holds a Python one here */
}

void Z_envZ_js_get_proxy_js_ref_info(struct Z_env_instance_t *env, u32 out) {
  struct hl_py_vm *vm = vm_of(env);
  put32(vm, out, PY_REF_CALLBACKS + 1);
  put32(vm, out + 4, PY_REF_CALLBACKS + 1);
}

void Z_envZ_js_get_error_info(struct Z_env_instance_t *env, u32 jsref, u32 out_name,
                              u32 out_message) {
  (void)jsref;
  put_undefined(vm_of(env), out_name);
  put_undefined(vm_of(env), out_message);
}

void Z_envZ_js_get_iter(struct Z_env_instance_t *env, u32 f_ref, u32 out) {
  (void)f_ref;
  put_undefined(vm_of(env), out);
}

u32 Z_envZ_js_iter_next(struct Z_env_instance_t *env, u32 f_ref, u32 out) {
  (void)env, (void)f_ref, (void)out;
  return 0; /* exhausted */
}

void Z_envZ_js_reflect_construct(struct Z_env_instance_t *env, u32 f_ref, u32 n_args, u32 args,
                                 u32 out) {
  (void)f_ref, (void)n_args, (void)args;
  put_undefined(vm_of(env), out);
}

void Z_envZ_js_subscr_load(struct Z_env_instance_t *env, u32 f_ref, u32 index, u32 out) {
  (void)f_ref, (void)index;
  put_undefined(vm_of(env), out);
}

void Z_envZ_js_subscr_store(struct Z_env_instance_t *env, u32 f_ref, u32 index, u32 value) {
  (void)env, (void)f_ref, (void)index, (void)value;
}

void Z_envZ_store_attr(struct Z_env_instance_t *env, u32 jsref, u32 attr, u32 value) {
  (void)env, (void)jsref, (void)attr, (void)value;
}

void Z_envZ_proxy_js_free_obj(struct Z_env_instance_t *env, u32 js_ref) {
  (void)env, (void)js_ref;
}

void Z_envZ_create_promise(struct Z_env_instance_t *env, u32 out_set, u32 out_promise) {
  (void)out_set;
  put_undefined(vm_of(env), out_promise);
}

void Z_envZ_js_then_resolve(struct Z_env_instance_t *env, u32 value, u32 resolve) {
  (void)env, (void)value, (void)resolve;
}

void Z_envZ_js_then_reject(struct Z_env_instance_t *env, u32 value, u32 reject) {
  (void)env, (void)value, (void)reject;
}

void Z_envZ_js_then_continue(struct Z_env_instance_t *env, u32 jsref, u32 py_resume, u32 resolve,
                             u32 reject, u32 out) {
  (void)jsref, (void)py_resume, (void)resolve, (void)reject;
  put_undefined(vm_of(env), out);
}
#pragma GCC diagnostic pop
