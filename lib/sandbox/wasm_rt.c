/*
 * lib/sandbox/wasm_rt.c - hookline's runtime for wasm2c output (see
 * wasm-rt.h for why it replaces Debian's libwasm-rt-impl).
 */
#include "wasm-rt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

HL_WASM_TLS uint32_t wasm_rt_call_stack_depth;
HL_WASM_TLS uint32_t hl_wasm_call_stack_limit;

/* Innermost entry into wasm on this thread. */
static HL_WASM_TLS hl_wasm_frame *tls_frame;
/* Lowest usable native stack address of this thread (0 = not known yet). */
static HL_WASM_TLS uintptr_t tls_stack_low;
static HL_WASM_TLS int tls_stack_known;

/* Native stack bytes one wasm frame of the QuickJS module takes at most
 * (measured with gcc -O2: the interpreter loop is the largest frame, a few
 * hundred bytes; the figure leaves room), and the stack kept in reserve
 * for host code that runs on top of the deepest wasm frame (imports,
 * libc). */
#define FRAME_BYTES_ESTIMATE 640u
#define STACK_RESERVE_BYTES (128u * 1024u)
/* Upper bound regardless of stack size: deep enough for any sane program,
 * QuickJS's own stack check (a catchable RangeError) normally comes first. */
#define DEPTH_CAP 200000u
/* Used when the stack bounds cannot be learned. */
#define DEPTH_FALLBACK 2000u

void wasm_rt_init(void) {}
bool wasm_rt_is_initialized(void) { return true; }
void wasm_rt_free(void) {}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
  case WASM_RT_TRAP_NONE: return "no trap";
  case WASM_RT_TRAP_OOB: return "out of bounds memory access";
  case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
  case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
  case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
  case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
  case WASM_RT_TRAP_CALL_INDIRECT: return "invalid call_indirect";
  case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught wasm exception";
  case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
  }
  return "unknown trap";
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
  hl_wasm_frame *f = tls_frame;
  if (!f) {
    /* Generated code only runs under hl_wasm_enter(); reaching this is a
     * hookline bug, and continuing would run on a broken wasm stack. */
    fprintf(stderr, "hookline: wasm trap outside of a sandbox entry (%s)\n",
            wasm_rt_strerror(trap));
    abort();
  }
  f->trap = trap;
  longjmp(f->env, 1);
}

/* Set by the dynamic loader (glibc's ld.so, GLIBC_2.1): an address near
 * the top of the main thread's stack. Weak, so that another libc without
 * it leaves NULL and the generic path below is taken. */
extern void *__libc_stack_end __attribute__((weak));

/* The main thread's lowest usable stack address without reading
 * /proc/self/maps, which is what pthread_getattr_np() does for the main
 * thread (~480,000 instructions and 25 read calls: 70% of a process's
 * first sandbox). The stack may grow to RLIMIT_STACK below its top, and
 * the kernel keeps argv, the environment and auxv (at most a quarter of
 * the limit, plus a little) between the top and __libc_stack_end. So
 * __libc_stack_end - 3/4 of the limit + 64 KiB is at or above the real
 * bound: the estimate errs towards less depth, never more. 0 when it
 * cannot be had (no limit, odd sizes): the caller asks pthreads. */
static uintptr_t main_stack_low(void) {
  if (!&__libc_stack_end || !__libc_stack_end || getpid() != gettid())
    return 0;
  struct rlimit rl;
  if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur < ((rlim_t)1 << 20) || rl.rlim_cur > ((rlim_t)1 << 30))
    return 0;
  uintptr_t end = (uintptr_t)__libc_stack_end;
  uintptr_t span = (uintptr_t)(rl.rlim_cur / 4 * 3) - 65536u;
  return end > span ? end - span : 0;
}

/* Learn this thread's stack bounds once. */
static void learn_stack(void) {
  tls_stack_known = 1;
  uintptr_t low = main_stack_low();
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  /* On this stack (a child forked from another thread is on that
   * thread's stack, not the main one). */
  if (low && low < here && here < (uintptr_t)__libc_stack_end) {
    tls_stack_low = low;
    return;
  }
  /* Other threads: pthreads knows their stack without reading files. */
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return;
  void *addr = NULL;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr)
    tls_stack_low = (uintptr_t)addr;
  pthread_attr_destroy(&attr);
}

void hl_wasm_enter(hl_wasm_frame *frame) {
  frame->prev = tls_frame;
  frame->saved_depth = wasm_rt_call_stack_depth;
  frame->saved_limit = hl_wasm_call_stack_limit;
  frame->trap = WASM_RT_TRAP_NONE;
  tls_frame = frame;

  if (!tls_stack_known)
    learn_stack();
  uint32_t room = DEPTH_FALLBACK;
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (tls_stack_low && here > tls_stack_low + STACK_RESERVE_BYTES) {
    uintptr_t frames = (here - tls_stack_low - STACK_RESERVE_BYTES) / FRAME_BYTES_ESTIMATE;
    room = frames > DEPTH_CAP ? DEPTH_CAP : (uint32_t)frames;
  } else if (tls_stack_low) {
    room = 0; /* too little stack left: the first wasm call traps */
  }
  hl_wasm_call_stack_limit = wasm_rt_call_stack_depth + room;
}

void hl_wasm_leave(hl_wasm_frame *frame) {
  tls_frame = frame->prev;
  wasm_rt_call_stack_depth = frame->saved_depth;
  hl_wasm_call_stack_limit = frame->saved_limit;
}

/* ------------------------------------------------------------------ */
/* Function signatures                                                  */
/* ------------------------------------------------------------------ */

typedef struct func_type {
  uint32_t hash; /* of params, results and types: compared first */
  uint32_t params, results;
  wasm_rt_type_t *types; /* params followed by results */
} func_type;

static pthread_mutex_t types_lock = PTHREAD_MUTEX_INITIALIZER;
static func_type *types;
static uint32_t n_types, cap_types;
/* Open-addressing index over `types` by hash: slot = id + 1, 0 = empty.
 * Twice as many slots as `cap_types`, so it is at most half full. A
 * module registers every signature at start-up (~100 for QuickJS), each
 * looked up among the earlier ones: with a linear scan that was ~50,000
 * instructions of a process's first sandbox. */
static uint32_t *type_index;
/* The first types and their signatures live in static storage: the
 * process's first sandbox makes no allocation for them (105 mallocs and
 * a realloc were ~60,000 instructions of a cold start). */
#define STATIC_TYPES 256u
static func_type types_static[STATIC_TYPES];
static uint32_t index_static[STATIC_TYPES * 2];
static wasm_rt_type_t sig_pool[4096];
static size_t sig_pool_used;

static void index_put(uint32_t id) {
  uint32_t mask = cap_types * 2 - 1;
  uint32_t i = types[id].hash & mask;
  while (type_index[i])
    i = (i + 1) & mask;
  type_index[i] = id + 1;
}

/* Room for one more type (locked). False when out of memory. */
static bool types_reserve(void) {
  if (n_types < cap_types)
    return true;
  if (!cap_types) {
    types = types_static;
    type_index = index_static;
    cap_types = STATIC_TYPES;
    return true;
  }
  uint32_t cap = cap_types * 2;
  func_type *grown = malloc(cap * sizeof *grown);
  uint32_t *index = calloc((size_t)cap * 2, sizeof *index);
  if (!grown || !index) {
    free(grown);
    free(index);
    return false;
  }
  memcpy(grown, types, n_types * sizeof *types);
  if (types != types_static)
    free(types);
  if (type_index != index_static)
    free(type_index);
  types = grown;
  type_index = index;
  cap_types = cap;
  for (uint32_t id = 0; id < n_types; id++)
    index_put(id);
  return true;
}

/* A lasting copy of a signature (locked), NULL when out of memory. */
static wasm_rt_type_t *sig_copy(const wasm_rt_type_t *sig, uint32_t n) {
  wasm_rt_type_t *copy;
  if (sig_pool_used + n <= sizeof sig_pool / sizeof *sig_pool) {
    copy = sig_pool + sig_pool_used;
    sig_pool_used += n;
  } else if (!(copy = malloc(n ? n * sizeof *copy : 1))) {
    return NULL;
  }
  memcpy(copy, sig, n * sizeof *sig);
  return copy;
}

/* A signature of at most 12 numeric values (every one of both pinned
 * modules) is its own id: bit 31 set, the counts, two bits per type. Equal
 * signatures get equal ids without a lock, a table or a write: the
 * registry's static storage was six page faults (~20 us) of a process's
 * first sandbox. Other signatures are interned below (ids below 2^31), 0
 * stays the null funcref's type. */
static uint32_t sig_id(uint32_t params, uint32_t results, const wasm_rt_type_t *sig, uint32_t n) {
  if (params > 15 || results > 3 || n != params + results || n > 12)
    return 0;
  uint32_t id = 0x80000000u | params << 27 | results << 25;
  for (uint32_t i = 0; i < n; i++) {
    if ((uint32_t)sig[i] > (uint32_t)WASM_RT_F64)
      return 0;
    id |= (uint32_t)sig[i] << (2 * i);
  }
  return id;
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  uint32_t n = params + results;
  wasm_rt_type_t sig[64];
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < n; i++) {
    wasm_rt_type_t t = (wasm_rt_type_t)va_arg(ap, int);
    if (i < 64)
      sig[i] = t;
  }
  va_end(ap);
  if (n > 64)
    n = 64; /* no signature of the pinned module comes close */

  uint32_t own = sig_id(params, results, sig, n);
  if (own)
    return own;

  /* FNV-1a over the signature. */
  uint32_t h = 2166136261u;
  h = (h ^ params) * 16777619u;
  h = (h ^ results) * 16777619u;
  for (uint32_t i = 0; i < n; i++)
    h = (h ^ (uint32_t)sig[i]) * 16777619u;

  pthread_mutex_lock(&types_lock);
  uint32_t id = UINT32_MAX;
  if (cap_types) {
    uint32_t mask = cap_types * 2 - 1;
    for (uint32_t i = h & mask; type_index[i]; i = (i + 1) & mask) {
      const func_type *t = &types[type_index[i] - 1];
      if (t->hash == h && t->params == params && t->results == results &&
          memcmp(t->types, sig, n * sizeof *sig) == 0) {
        id = type_index[i] - 1;
        goto done;
      }
    }
  }
  if (!types_reserve())
    goto done; /* UINT32_MAX: never equal to a real id, indirect calls trap */
  wasm_rt_type_t *copy = sig_copy(sig, n);
  if (!copy)
    goto done;
  types[n_types] = (func_type){h, params, results, copy};
  id = n_types++;
  index_put(id);
done:
  pthread_mutex_unlock(&types_lock);
  /* Ids start at 1 so that 0 stays the null funcref's type. */
  return id == UINT32_MAX ? id : id + 1;
}

/* ------------------------------------------------------------------ */
/* Tables                                                               */
/* ------------------------------------------------------------------ */

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *table,
                                    uint32_t elements, uint32_t max_elements) {
  table->max_size = max_elements;
  table->data = elements ? calloc(elements, sizeof *table->data) : NULL;
  table->size = table->data ? elements : 0;
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *table) {
  free(table->data);
  table->data = NULL;
  table->size = 0;
}
