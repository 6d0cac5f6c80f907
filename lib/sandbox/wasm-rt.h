/*
 * lib/sandbox/wasm-rt.h - hookline's runtime contract for wasm2c output.
 *
 * wasm2c translates a WebAssembly module into C that includes "wasm-rt.h"
 * and calls a handful of runtime functions. This header is found before the
 * system's (Debian's /usr/include/wasm-rt.h) because lib/sandbox is on the
 * include path of the generated code, and it changes three things that a
 * library used from multi-threaded hosts needs:
 *
 *  - Traps unwind to a per-thread target (hl_wasm_try / hl_wasm_trap), not a
 *    process-global jmp_buf, so two threads may trap at once.
 *  - The call-stack depth counter and its limit are per thread; the limit
 *    is copied into the instance at each entry, where another thread (the
 *    sandbox's watchdog) can zero it to stop the guest at its next call
 *    (see WASM_RT_MAX_CALL_STACK_DEPTH).
 *  - Memory is bounds-checked explicitly (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0):
 *    no process-wide SIGSEGV handler is installed, ever.
 *
 * Only what the generated code of the pinned QuickJS module uses is
 * provided; the names and layouts follow the wasm2c 1.0.32 contract.
 *
 * Thread-safety: everything here may be used from any thread. A module
 * instance must be entered by one thread at a time.
 */
#ifndef HL_WASM_RT_H_
#define HL_WASM_RT_H_

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef __has_builtin
#define __has_builtin(x) 0
#endif

#if defined(__GNUC__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define UNLIKELY(x) (x)
#define LIKELY(x) (x)
#endif

#define wasm_rt_memcpy memcpy
#define wasm_rt_unreachable __builtin_unreachable

/* Explicit bounds checks: the generated code compares every address with
 * the memory's size. A guard-page mode would need a process signal handler,
 * which a library must not install behind its host's back. */
#ifndef WASM_RT_MEMCHECK_SIGNAL_HANDLER
#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0
#endif
#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "hookline's wasm runtime supports only explicit bounds checks"
#endif
#define WASM_RT_SKIP_SIGNAL_RECOVERY 1
#define WASM_RT_SIGNAL_RECOVERY_SUPPORTED 0
#define WASM_RT_USE_STACK_DEPTH_COUNT 1
#define WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS 0

/* Thread-local storage with the initial-exec model: the generated code
 * touches the depth counter in every function prologue, and the default
 * model for position-independent code would call __tls_get_addr each time. */
#if defined(__GNUC__)
#define HL_WASM_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define HL_WASM_TLS _Thread_local
#endif

/** Depth of wasm calls on this thread, and the depth at which the next
 *  call traps with WASM_RT_TRAP_EXHAUSTION. The limit is set per entry by
 *  hl_wasm_enter() from the native stack left on the calling thread. */
extern HL_WASM_TLS uint32_t wasm_rt_call_stack_depth;
extern HL_WASM_TLS uint32_t hl_wasm_call_stack_limit;

/* Every function of the generated code starts with
 *   if (++wasm_rt_call_stack_depth > WASM_RT_MAX_CALL_STACK_DEPTH) trap;
 * and has its module instance in scope as `instance`, whose `Z_aZ_a` is
 * the imported linear memory. The limit is read from the memory
 * (`call_limit`, copied from this thread's limit at each entry into the
 * instance) rather than from the thread, because that lets another
 * thread stop the guest: the sandbox's watchdog stores 0 there and the
 * guest's next call traps, whatever it is doing. QuickJS's own interrupt
 * handler is polled only every few thousand operations and never inside a
 * built-in, while the module makes a wasm call every few dozen
 * instructions in every loop that matters (string search, sort, JSON,
 * regexp, exception unwinding).
 * Why the call and not each memory access: the bound would have to be
 * atomic, and an atomic load in every bounds check stops the compiler
 * from keeping anything in registers across accesses (measured: a
 * JavaScript loop 70% slower). At function entry there is nothing to
 * keep; the relaxed load costs one load more than the thread's limit. */
#ifndef HL_WASM_MEMORY_OF_INSTANCE
/* The QuickJS module imports its memory as "a"."a"; a module that defines
 * its own memory (the MicroPython guest, py_vm.c) is compiled with this
 * macro naming that field instead. */
#define HL_WASM_MEMORY_OF_INSTANCE (instance->Z_aZ_a)
#endif
#define WASM_RT_MAX_CALL_STACK_DEPTH \
  atomic_load_explicit(&HL_WASM_MEMORY_OF_INSTANCE->call_limit, memory_order_relaxed)

#define WASM_RT_NO_RETURN __attribute__((noreturn))

/** Reason a trap occurred. */
typedef enum {
  WASM_RT_TRAP_NONE,
  WASM_RT_TRAP_OOB,                /**< out-of-bounds memory or table access */
  WASM_RT_TRAP_INT_OVERFLOW,       /**< integer overflow on divide or truncation */
  WASM_RT_TRAP_DIV_BY_ZERO,        /**< integer divide by zero */
  WASM_RT_TRAP_INVALID_CONVERSION, /**< NaN to integer */
  WASM_RT_TRAP_UNREACHABLE,        /**< `unreachable` executed */
  WASM_RT_TRAP_CALL_INDIRECT,      /**< bad call_indirect */
  WASM_RT_TRAP_UNCAUGHT_EXCEPTION, /**< wasm exception not caught */
  WASM_RT_TRAP_EXHAUSTION,         /**< call stack exhausted */
} wasm_rt_trap_t;

/** Value types, for function signatures. */
typedef enum {
  WASM_RT_I32,
  WASM_RT_I64,
  WASM_RT_F32,
  WASM_RT_F64,
  WASM_RT_FUNCREF,
  WASM_RT_EXTERNREF,
} wasm_rt_type_t;

/** Canonical function pointer; cast to the real signature to call. */
typedef void (*wasm_rt_function_ptr_t)(void);

/** A function instance: code closed over its module instance. */
typedef struct {
  uint32_t func_type;            /**< id from wasm_rt_register_func_type() */
  wasm_rt_function_ptr_t func;
  void *module_instance;
} wasm_rt_funcref_t;

static const wasm_rt_funcref_t wasm_rt_funcref_null_value = {0, NULL, NULL};

typedef void *wasm_rt_externref_t;
static const wasm_rt_externref_t wasm_rt_externref_null_value = NULL;

/** A linear memory: `size` bytes at `data`, `pages` of 64 KiB; the call
 *  depth limit of the code running in it, and the sticky flag of a stop
 *  requested from another thread (see WASM_RT_MAX_CALL_STACK_DEPTH). */
typedef struct {
  uint8_t *data;
  uint32_t pages, max_pages;
  uint32_t size;
  _Atomic uint32_t call_limit;
  _Atomic uint32_t interrupt;
} wasm_rt_memory_t;

typedef struct {
  wasm_rt_funcref_t *data;
  uint32_t max_size;
  uint32_t size;
} wasm_rt_funcref_table_t;

typedef struct {
  wasm_rt_externref_t *data;
  uint32_t max_size;
  uint32_t size;
} wasm_rt_externref_table_t;

/** The runtime needs no set-up; these exist for the contract. */
void wasm_rt_init(void);
bool wasm_rt_is_initialized(void);
void wasm_rt_free(void);

/** Unwind to the innermost hl_wasm_try() of this thread. If there is none
 *  (a bug in hookline, never in the sandboxed code), the process aborts
 *  rather than continue on a corrupted stack. */
WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t trap);

/** Short name of a trap ("out of bounds memory access"). */
const char *wasm_rt_strerror(wasm_rt_trap_t trap);

/** Intern a function signature: equal signatures get equal ids, so
 *  call_indirect can compare them. Thread-safe. */
uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...);

/** Linear memories a module defines itself (the MicroPython guest's,
 *  py_vm.c implements them; QuickJS imports its memory instead). The
 *  memory is reserved up to the limit of the vm being made, so that it
 *  never moves; on failure it is left empty (every access traps). */
void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages,
                             uint32_t max_pages);
void wasm_rt_free_memory(wasm_rt_memory_t *memory);

/** Tables. On allocation failure the table is left empty (size 0), which
 *  makes every call through it trap instead of crashing. */
void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *table,
                                    uint32_t elements, uint32_t max_elements);
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *table);

/* ------------------------------------------------------------------ */
/* hookline additions: per-thread trap targets                         */
/* ------------------------------------------------------------------ */

/** One entry into wasm code: the unwind target, the previous entry of the
 *  same thread (entries nest when the host calls back into wasm), and the
 *  depth state to restore. */
typedef struct hl_wasm_frame {
  jmp_buf env;
  struct hl_wasm_frame *prev;
  uint32_t saved_depth;
  uint32_t saved_limit;
  wasm_rt_trap_t trap;
} hl_wasm_frame;

/** Push `frame` as this thread's unwind target and set the depth limit
 *  from the native stack that remains. Follow with setjmp(frame->env). */
void hl_wasm_enter(hl_wasm_frame *frame);
/** Pop `frame` (after a normal return or after a trap). */
void hl_wasm_leave(hl_wasm_frame *frame);

/**
 * Run `call` (a statement calling into wasm) with a trap target. Evaluates
 * to the trap (WASM_RT_TRAP_NONE when the call returned). Usage:
 *   hl_wasm_frame f; wasm_rt_trap_t t;
 *   HL_WASM_TRY(f, t, r = Z_qjsZ_pa(inst, ...));
 * Locals modified inside `call` and read afterwards must be volatile.
 */
#define HL_WASM_TRY(frame, trap_out, call)    \
  do {                                        \
    hl_wasm_enter(&(frame));                  \
    if (setjmp((frame).env) == 0) {           \
      call;                                   \
      (trap_out) = WASM_RT_TRAP_NONE;         \
    } else {                                  \
      (trap_out) = (frame).trap;              \
    }                                         \
    hl_wasm_leave(&(frame));                  \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif
