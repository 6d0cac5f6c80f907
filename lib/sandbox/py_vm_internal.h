/*
 * lib/sandbox/py_vm_internal.h - the layout of a py vm, shared between
 * py_vm.c (lifetime, execution) and py_imports.c (the module's imports).
 */
#ifndef HL_SANDBOX_PY_VM_INTERNAL_H
#define HL_SANDBOX_PY_VM_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include "wasm-rt.h"
#include "hl_mpy.h"
#include "py_vm.h"

/* Appended to the generated code (py_table_init.c.in): fills only the
 * instance's function table, as instantiation would. */
void Z_mpy_init_table_only(Z_mpy_instance_t *instance);

/* wasm2c names the host side of an import module after it; both point
 * back to their vm. */
struct Z_env_instance_t {
  struct hl_py_vm *vm;
};
struct Z_wasi_snapshot_preview1_instance_t {
  struct hl_py_vm *vm;
};

/* Where a longjmp of the guest lands. MicroPython's every nlr_push (a
 * Python try, each bytecode function's frame) makes each call that may
 * raise an invoke_* call, ~100 per execution of a callback: GCC's
 * __builtin_setjmp (five words: frame, stack and resume address; the
 * function holding it saves every callee-saved register itself) costs a
 * few instructions where glibc's setjmp costs ~30 (the signal mask
 * check, pointer mangling). Under AddressSanitizer and ThreadSanitizer,
 * which track the stack through longjmp (their interceptors), glibc's. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PY_JMP_LIBC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PY_JMP_LIBC 1
#endif
#endif
#ifdef PY_JMP_LIBC
typedef jmp_buf py_jmp_env;
#define PY_SETJMP(env) setjmp(env)
#define PY_LONGJMP(env) longjmp(env, 1)
#else
typedef void *py_jmp_env[5];
#define PY_SETJMP(env) __builtin_setjmp(env)
#define PY_LONGJMP(env) __builtin_longjmp(env, 1)
#endif

/* One invoke_* trampoline on the stack: where a longjmp of the guest
 * (_emscripten_throw_longjmp) lands. */
typedef struct py_jmp {
  py_jmp_env env;
  struct py_jmp *prev;
  /* Read back when a longjmp landed: in memory, not in registers that
   * __builtin_longjmp does not restore. */
  struct hl_py_vm *vm;
  uint32_t sp;        /* the guest's stack pointer at the trampoline */
  uint32_t depth; /* wasm_rt_call_stack_depth at the trampoline */
} py_jmp;

/* References of the JavaScript objects the imports pretend to have:
 * Python's `import _hl` is HL_REF_MODULE, its functions the others. */
enum {
  PY_REF_GLOBAL = 0, /* `import js`: an empty object here */
  PY_REF_UNDEFINED = 1,
  PY_REF_MODULE = 2, /* _hl */
  PY_REF_WAIT = 3,   /* _hl.wait(batch_json) -> answers_json | "" */
  PY_REF_SLEEP = 4,  /* _hl.sleep(ms) -> "ok" | "" */
  PY_REF_CALLBACKS = 5, /* _hl.callbacks() -> spec_json */
  PY_REF_CALL = 6,   /* _hl.call(name, args_json) -> answer_json | "" */
  PY_REF_SOURCE = 7, /* _hl.source(variant) -> the text to compile */
};

/* The code cache: slots of compiled code in the prelude (its `codes`
 * list, whose length is this number), which source text each holds in
 * the host (py_cache.c); at most HL_PY_CODE_TEXT bytes of text in all,
 * and no source longer than a quarter of that. */
#define HL_PY_CODE_SLOTS 32
#define HL_PY_CODE_TEXT ((size_t)64 << 10)
#define HL_PY_STR_(x) #x
#define HL_PY_STR(x) HL_PY_STR_(x)

typedef struct py_code_key {
  char *text; /* malloc'ed copy of the source, NULL: a free slot */
  size_t len;
  bool compiled; /* false: run once, by the module's own exec */
} py_code_key;

/* Proxy value kinds (ports/webassembly/proxy_c.c): three 32-bit words,
 * kind first. */
enum {
  PY_MP_EXCEPTION = -1, PY_MP_NULL = 0, PY_MP_NONE = 1, PY_MP_BOOL = 2, PY_MP_INT = 3,
  PY_MP_FLOAT = 4, PY_MP_STR = 5, PY_MP_CALLABLE = 6, PY_MP_GENERATOR = 7, PY_MP_OBJECT = 8,
  PY_MP_JSPROXY = 9, PY_MP_EXISTING = 10,
};
enum {
  PY_JS_UNDEFINED = 0, PY_JS_NULL = 1, PY_JS_BOOLEAN = 2, PY_JS_INTEGER = 3, PY_JS_DOUBLE = 4,
  PY_JS_STRING = 5, PY_JS_OBJECT_EXISTING = 6, PY_JS_OBJECT = 7, PY_JS_PYPROXY = 8,
};

struct hl_py_vm {
  Z_mpy_instance_t inst;
  struct Z_env_instance_t env;
  struct Z_wasi_snapshot_preview1_instance_t wasi;
  hl_py_hooks hooks;
  void *ud;
  size_t limit_bytes; /* linear memory cap */
  py_jmp *jmp;        /* innermost invoke_* trampoline, or NULL */
  bool broken;
  bool stopped;       /* a hook asked to stop this execution */
  uint64_t t0_ms;     /* for ticks_ms */
  /* Signature ids of the invoke_* targets. */
  uint32_t type_i, type_ii, type_iii, type_iiii, type_iiiii, type_iiiiii;
  uint32_t type_v, type_vi, type_vii, type_viii, type_viiii;
  /* The prelude's functions (proxy_c references, kept for the vm's life). */
  uint32_t fn_exec, fn_collect, fn_define, fn_drain;
  /* Where MicroPython keeps the flag that lets its compiler accept
   * top-level await (py_vm.c, learn_tla), or 0 when unknown. */
  uint32_t tla;
  /* The source being run, for _hl.source() (NULL outside an execution). */
  const char *src;
  size_t src_len;
  uint64_t compiles; /* executions that compiled their source */
  py_code_key keys[HL_PY_CODE_SLOTS]; /* py_cache.c */
  size_t key_bytes;                   /* of text in keys */
  uint32_t key_next;                  /* the slot to give next */
  atomic_int soft_sent;        /* a KeyboardInterrupt may be pending */
  uint8_t *kbd_mem;            /* the memory the soft stop writes into (fixed for the
                                  vm's life: it is reserved up to the limit) */
  /* The soft stop's words (py_vm.c, learn_soft_stop) of the template this
   * vm descends from; read by other threads (atomically). */
  uint32_t kbd_pending, kbd_exc, kbd_trace, kbd_sched;
  bool unchecked; /* made from the template file before its image was checked */
  /* The function table's size the vm's state expects, and whether the
   * table is still to be filled (at the first entry, as instantiation
   * fills it: creating a vm that never runs does not pay for it). */
  uint32_t table_size, table_max;
  bool table_pending;
  wasm_rt_trap_t pending_trap; /* a trap caught in hl__py_guest_copy */
  char *tmp;                   /* host memory of the running operation */
};

/* The instance's globals: every field from the first global up to the
 * memory (wasm2c lays them out in that order; all are plain numbers). A
 * snapshot keeps them as bytes. */
#define PY_GLOBALS_OFFSET offsetof(Z_mpy_instance_t, w2c_g0)
#define PY_GLOBALS_BYTES (offsetof(Z_mpy_instance_t, w2c_memory) - PY_GLOBALS_OFFSET)
#define PY_GLOBALS_MAX 256u

/* A Python snapshot: a memory image (in a memfd or file, mapped
 * copy-on-write by every vm made from it, or a heap copy), the globals and
 * the prelude's function references. The function table is never stored:
 * MicroPython does not change it, so every vm takes the template's. */
struct hl_py_snapshot {
  int fd;              /* memfd or snapshot file holding the image, -1 if none */
  uint64_t offset;     /* where the image starts in fd (page-aligned) */
  uint8_t *image;      /* the image in memory when there is no fd */
  uint32_t pages;      /* wasm pages of the image */
  uint8_t globals[PY_GLOBALS_BYTES];
  uint32_t table_size, table_max; /* checked against the template's */
  uint32_t fn_exec, fn_collect, fn_define, fn_drain;
  uint32_t tla; /* see hl_py_vm.tla: the same in every state of one build */
  /* The template's soft-stop words (see py_vm.c, learn_soft_stop): the
   * same in every state of one build; a template file carries them. */
  uint32_t kbd_pending, kbd_exc, kbd_trace, kbd_sched;
};

/* py_snapshot.c: the file format. */
hl_status hl__py_snapshot_write(const struct hl_py_snapshot *s, const char *path);
/* Reads the file open as `fd` (which the snapshot then owns; closed on
 * failure). A table_size of 0 leaves the table's size to hl_py_vm_new,
 * which checks it against the table it fills. */
struct hl_snapshot_head;
/* With `defer` (the template), the image's checksum is not checked here:
 * the header goes to *defer for hl__snapshot_file_verify() before the
 * image first runs; without it (a session), the whole file is checked. */
hl_status hl__py_snapshot_read_fd(int fd, const char *path, uint32_t table_size,
                                  uint32_t table_max, struct hl_snapshot_head *defer,
                                  struct hl_py_snapshot **out);

/* py_vm.c: the build-time program's work (py_snapshot_tool.c): boot a
 * template at run time (never from a file), check that a table filled
 * alone equals the booted one, and write the template file to `path`. */
hl_status hl__py_template_write(const char *path);

/* Bounds-checked access to the guest's memory from host code: false (or
 * NULL) when [addr, addr + len) is not inside it. */
static inline uint8_t *hl__py_mem(struct hl_py_vm *vm, uint64_t addr, uint64_t len) {
  if (addr + len > vm->inst.w2c_memory.size || addr + len < addr)
    return NULL;
  return vm->inst.w2c_memory.data + addr;
}

/* Copy `len` bytes into a buffer malloc'ed inside the guest (its own
 * malloc export), for values handed to MicroPython that it frees itself.
 * Returns the guest address, 0 when the guest is out of memory. May trap
 * (the caller must hold no host resource then). */
uint32_t hl__py_guest_copy(struct hl_py_vm *vm, const char *data, size_t len);

/* py_cache.c: the slot whose code the prelude compiled from exactly
 * `src` in this vm, or -1. */
int hl__py_cache_find(struct hl_py_vm *vm, const char *src, size_t len);
/* py_cache.c: a slot for `src`, run once now by the module's own exec
 * (not compiled into the slot yet: its old code is stale); the oldest
 * slots are given up for it. HL_PY_CODE_SLOTS when it is not to be kept
 * (too long, or out of memory). */
int hl__py_cache_add(struct hl_py_vm *vm, const char *src, size_t len);
/* py_cache.c: forget every slot (the prelude emptied its list, or the vm
 * is freed). */
void hl__py_cache_clear(struct hl_py_vm *vm);

/* py_source.c: `code` with its last top-level statement, when it may be
 * an expression, assigned to __hl_result__ (*out, malloc'ed; NULL when
 * there is none). A light scan: strings, comments, brackets and
 * continuation lines; the compiler decides (a SyntaxError makes the caller
 * compile the code as it is). False when out of memory. */
bool hl__py_with_result(const char *code, size_t len, char **out);

/* py_source.c: what _hl.source(variant) hands the prelude when the source
 * being run is not in its cache: the text to compile, as MicroPython's
 * own exec would read it (dedented); variant 1 with the last expression
 * assigned to __hl_result__ ("" when there is none), 0 as written.
 * malloc'ed; NULL when out of memory or outside an execution. */
char *hl__py_source_text(struct hl_py_vm *vm, int variant);

#endif
