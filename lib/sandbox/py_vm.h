/*
 * lib/sandbox/py_vm.h - one MicroPython instance inside WebAssembly linear
 * memory (private to lib/sandbox): the Python guest's counterpart of
 * qjs_vm.h.
 *
 * A py vm is the wasm2c-translated MicroPython module (npm
 * @micropython/micropython-webassembly-pyscript, fetched by
 * scripts/setup.d/micropython.sh) instantiated over its own linear memory,
 * with MicroPython initialised and the Python prelude (py_prelude.c)
 * loaded: host callbacks as async functions, a small asyncio, CallbackError
 * and list_callbacks(). Every import of the module, the Emscripten `env`
 * functions and the WASI ones, is implemented by hookline (py_imports.c):
 * no file system, no network, no process; the clock and random numbers
 * only.
 *
 * Python reaches the host through the hooks below, which run on the
 * executing thread inside the wasm call (a callback batch blocks there
 * while its tools run).
 *
 * Every entry into wasm code runs under a per-thread trap target: a trap
 * comes back as HL_ERR_SANDBOX and leaves the vm broken; the owner must
 * free it and make a new one.
 *
 * Thread-safety: a vm is used by one thread at a time, except
 * hl_py_vm_soft_stop() and hl_py_vm_interrupt(), which any thread may call
 * while the vm is alive.
 */
#ifndef HL_SANDBOX_PY_VM_H
#define HL_SANDBOX_PY_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hookline/status.h"

typedef struct hl_py_vm hl_py_vm;

/** One callback's answer: an integer of 31 bits or null, which Python
 *  gets as itself, or JSON text as wait() answers each request ([1, value]
 *  or [0, kind, message], malloc'ed; the receiver frees it). */
typedef struct hl_py_answer {
  enum { HL_PY_ANSWER_TEXT, HL_PY_ANSWER_INT, HL_PY_ANSWER_NULL } kind;
  int32_t integer;
  char *text;
} hl_py_answer;

/** What Python reaches the host with. All called on the executing thread,
 *  from inside the guest. */
typedef struct hl_py_hooks {
  /** Output; stream 1 = stdout, 2 = stderr; `text` borrowed, not
   *  necessarily valid UTF-8 or NUL-terminated. */
  void (*write)(void *ud, int stream, const char *text, size_t len);
  /** A batch of callback requests, JSON text [[name, args], ...]
   *  (borrowed). Returns the answers as malloc'ed JSON text, one per
   *  request in order: [1, value] or [0, kind, message]; NULL stops the
   *  execution (a limit, the deadline, a cancel: the reason is the
   *  host's). */
  char *(*wait)(void *ud, const char *batch, size_t len);
  /** One callback request alone (the common case, which needs no batch):
   *  its name and its JSON arguments, as Python wrote them (borrowed,
   *  NUL-terminated, the arguments not checked yet). Fills *answer and
   *  returns true, or returns false to stop the execution. */
  bool (*call)(void *ud, const char *name, size_t name_len, const char *args, size_t args_len,
               struct hl_py_answer *answer);
  /** Sleep `ms` milliseconds (asyncio.sleep with nothing else to do).
   *  False stops the execution. */
  bool (*sleep)(void *ud, double ms);
  /** The callbacks to define, malloc'ed JSON text {"callbacks":
   *  [{name, description, parameters}]}, or NULL when out of memory. */
  char *(*callbacks)(void *ud);
} hl_py_hooks;

/** Lowest memory limit a py vm accepts: the module's initial memory
 *  (16.2 MB) and room for MicroPython's heap to grow. */
#define HL_PY_MIN_MEMORY ((size_t)24 << 20)

/** True when this build has the MicroPython module (py_vm.c; without it
 *  py_vm_stub.c answers false and HL_ERR_UNSUPPORTED). */
bool hl_py_vm_available(void);

/** A vm's saved state (linear memory, globals, the prelude's function
 *  references), from which new vms start. Immutable once made: any thread
 *  may make vms from one snapshot at once; free it after them or before
 *  (every vm keeps its own mapping of the image). */
typedef struct hl_py_snapshot hl_py_snapshot;

/** New vm whose linear memory may grow to `memory_limit` bytes, starting
 *  as `snap` (borrowed; NULL: the built-in template, MicroPython
 *  initialised and the prelude loaded). On HL_OK *out is the caller's
 *  (hl_py_vm_free()). HL_ERR_INVALID when `memory_limit` is below
 *  HL_PY_MIN_MEMORY or below the snapshot's size; HL_ERR_UNSUPPORTED in a
 *  build without the module. */
hl_status hl_py_vm_new(const hl_py_snapshot *snap, size_t memory_limit, const hl_py_hooks *hooks,
                       void *ud, hl_py_vm **out);

/** Owner thread, outside an execution: save the vm's state. The vm stays
 *  usable. On HL_OK *out is the caller's (hl_py_snapshot_free()).
 *  HL_ERR_SANDBOX for a broken vm, HL_ERR_NOMEM. */
hl_status hl_py_vm_snapshot_take(hl_py_vm *vm, hl_py_snapshot **out);
/** NULL is fine. */
void hl_py_snapshot_free(hl_py_snapshot *snap);
/** Bytes of linear memory the snapshot holds (a vm made from it needs a
 *  memory limit at least this high). */
size_t hl_py_snapshot_bytes(const hl_py_snapshot *snap);

/** The first bytes of a Python snapshot file. */
#define HL_PY_SNAPSHOT_MAGIC "HLPYSN01"

/** Write `snap` to `path` (atomically: a temporary file renamed over it;
 *  sparse). HL_ERR_IO with the reason. */
hl_status hl_py_snapshot_save(const hl_py_snapshot *snap, const char *path);
/** Read a file written by hl_py_snapshot_save() by this build: the image
 *  is mapped copy-on-write from it (keep the file in place), after its
 *  checksum was verified. HL_ERR_NOT_FOUND (no file), HL_ERR_INVALID (not
 *  a Python snapshot, another build, truncated, corrupt), HL_ERR_IO. On
 *  HL_OK *out is the caller's. */
hl_status hl_py_snapshot_load(const char *path, hl_py_snapshot **out);
void hl_py_vm_free(hl_py_vm *vm);

/** True after a trap: the vm must not be entered again. */
bool hl_py_vm_broken(const hl_py_vm *vm);

/** (Re)define the callbacks Python sees, from hooks->callbacks(). */
hl_status hl_py_vm_define(hl_py_vm *vm);

/** What one execution ended with. */
typedef struct hl_py_outcome {
  char *value_json; /* the last expression's value as JSON, or NULL */
  char *error_type; /* NULL when it completed; else the exception's type */
  char *error_text; /* the traceback ("Traceback ...\nType: message") */
  bool stopped;     /* the host stopped it (hooks returned NULL/false) */
} hl_py_outcome;
void hl_py_outcome_clear(hl_py_outcome *o);

/** Owner thread, before an execution arms anything that could stop it:
 *  swallow a KeyboardInterrupt that a stop sent after the last execution
 *  ended (it would otherwise hit the callbacks' definition or the next
 *  code). Done here and not inside hl_py_vm_exec(), where a stop sent
 *  for that very execution (its deadline passed before its Python began,
 *  on a starved thread) would be taken for a stale one and lost.
 *  HL_ERR_SANDBOX: a trap (vm broken). */
hl_status hl_py_vm_settle(hl_py_vm *vm);

/** Run `code` (Python source, top-level await allowed) in the vm's
 *  __main__ and wait for it. HL_OK: *o says how it ended (completed, an
 *  exception, or stopped). HL_ERR_SANDBOX: a trap (vm broken);
 *  HL_ERR_NOMEM. A source's second run compiles it into a cache in the
 *  vm (a few dozen sources, in its memory: py_prelude.c, py_cache.c), so
 *  that its later runs skip the compiler; cached code behaves exactly as
 *  a fresh compile would. */
hl_status hl_py_vm_exec(hl_py_vm *vm, const char *code, size_t len, hl_py_outcome *o);

/** Any thread: raise KeyboardInterrupt in the running Python at its next
 *  bytecode branch (MicroPython's pending-exception check). Python can
 *  catch it; the hard stop below cannot be caught. */
void hl_py_vm_soft_stop(hl_py_vm *vm);

/** Any thread: make the guest trap at its next wasm call (the vm is then
 *  broken). Also raises KeyboardInterrupt, because a Python loop without
 *  calls makes no wasm call: raising it does. */
void hl_py_vm_interrupt(hl_py_vm *vm);

/** Owner thread, outside wasm: undo an interrupt that hit no running
 *  code. True if it did. */
bool hl_py_vm_reopen(hl_py_vm *vm);

/** Where this process's template came from: "file" (the template file
 *  the build wrote, hookline-python.snap; *path, if asked, says which
 *  file), "built" (booted at run time: the file was missing, corrupt, from
 *  another build, or HOOKLINE_PY_SANDBOX_SNAPSHOT was empty), or "none"
 *  (no Python sandbox yet). Any thread; the strings are static. */
const char *hl__py_template_origin(const char **path);

/** Bytes of linear memory in use. */
size_t hl_py_vm_memory_size(const hl_py_vm *vm);

/** How many executions of this vm compiled their source (all but those
 *  the code cache served; a vm made from a snapshot starts at 0). Owner
 *  thread; for the tests of the cache. */
uint64_t hl_py_vm_compiles(const hl_py_vm *vm);

#endif
