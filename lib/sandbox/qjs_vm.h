/*
 * lib/sandbox/qjs_vm.h - one QuickJS instance inside WebAssembly linear
 * memory (private to lib/sandbox).
 *
 * A vm is the wasm2c-translated QuickJS module instantiated over its own
 * linear memory, with a QuickJS runtime and context and the JavaScript
 * prelude (prelude.c) already set up. Every vm starts as a copy-on-write
 * image of one process-wide template instance (the snapshot), so creating
 * one costs a few mappings rather than QuickJS's initialisation.
 *
 * Every entry into wasm code runs under a per-thread trap target: a trap
 * (out-of-bounds access, stack exhaustion, unreachable) comes back as
 * HL_ERR_SANDBOX and leaves the vm "broken" (its memory may be
 * inconsistent); the owner must free it and make a new one.
 *
 * Thread-safety: a vm is used by one thread at a time. The template is
 * built once, under pthread_once, on first use.
 */
#ifndef HL_SANDBOX_QJS_VM_H
#define HL_SANDBOX_QJS_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hookline/status.h"

/* The host side of one instance; wasm2c names it after the import module "a". */
typedef struct Z_a_instance_t hl_vm;
typedef struct hl_vm_snapshot hl_vm_snapshot;

/** What the JavaScript inside reaches the host with. All optional. */
/** The resolve and reject functions (JSValue* handles) of one callback
 *  request's promise. The host holds them from the request until it hands
 *  them back, once, to hl_vm_settle*() or hl_vm_release(). */
typedef struct hl_vm_request {
  uint32_t resolve, reject;
} hl_vm_request;

typedef struct hl_vm_hooks {
  /** console output; stream 1 = stdout, 2 = stderr. `text` is borrowed,
   *  UTF-8 (lone surrogates already replaced by U+FFFD), or NULL when the
   *  output could not be converted for lack of memory in the vm. Return
   *  false when no more output is wanted (a limit stopped the execution):
   *  JavaScript then stops writing the rest of a long line. */
  bool (*write)(void *ud, int stream, const char *text, size_t len);
  /** A callback request from JavaScript: its promise's settling functions,
   *  the callback name and the arguments as JSON text (borrowed: copy what
   *  you keep). Return true to keep `req` (answer later with
   *  hl_vm_settle*() or give it back with hl_vm_release()); false drops
   *  the request, whose promise then never settles. */
  bool (*call)(void *ud, hl_vm_request req, const char *name, const char *args_json,
               size_t args_len);
  /** Polled by QuickJS every few thousand operations: non-zero stops the
   *  running JavaScript with an uncatchable error. */
  int (*interrupt)(void *ud);
} hl_vm_hooks;

/** Promise states (QuickJS's JSPromiseStateEnum). */
enum { HL_VM_PENDING = 0, HL_VM_FULFILLED = 1, HL_VM_REJECTED = 2 };

/** Lowest memory limit a vm accepts: the module's initial memory plus room
 *  for the QuickJS heap to grow a little. */
#define HL_VM_MIN_MEMORY ((size_t)24 << 20)

/** New vm from `snapshot` (NULL = the built-in template) whose linear
 *  memory may grow to `memory_limit` bytes. */
hl_status hl_vm_new(const hl_vm_snapshot *snapshot, size_t memory_limit,
                    const hl_vm_hooks *hooks, void *ud, hl_vm **out);
void hl_vm_free(hl_vm *vm);

/** True after a trap: the vm must not be entered again. */
bool hl_vm_broken(const hl_vm *vm);

/** Stop the guest from any thread: the next wasm function call of code
 *  running in `vm` traps (HL_ERR_SANDBOX, "sandbox stopped while
 *  running"), which leaves the vm broken. Lock-free and non-blocking (it
 *  is called by the watchdog with its lock held). The caller must know
 *  that `vm` is alive: the sandbox only interrupts a vm armed for an
 *  execution. */
void hl_vm_interrupt(hl_vm *vm);

/** Owner thread, outside wasm, when no hl_vm_interrupt() can follow: undo
 *  an interrupt that hit no running code (the vm is not broken), so that
 *  the owner can release what it holds in the vm. True if it did. */
bool hl_vm_reopen(hl_vm *vm);

/** Start evaluating `code` as a global script with top-level await
 *  (code that never mentions await runs as a plain script).
 *  HL_OK: the evaluation's outcome is kept in the vm (see state/result).
 *  HL_ERR_EXECUTION_FAILED: syntax error or a synchronous throw of the
 *  async form (message set; *error_json describes the exception for the
 *  caller to free).
 *  HL_ERR_SANDBOX: trap. */
hl_status hl_vm_eval(hl_vm *vm, const char *code, size_t len, char **error_json);

/** Run pending promise jobs until none is left. HL_ERR_SANDBOX on a trap. */
hl_status hl_vm_run_jobs(hl_vm *vm);

/** State of the evaluation promise (HL_VM_*). */
int hl_vm_state(hl_vm *vm);

/** Replace what UTF-16 allows and the host cannot carry by U+FFFD, in
 *  place (same length): lone surrogates encoded as UTF-8 (ED A0-BF xx,
 *  which QuickJS produces and which is invalid UTF-8) and, when `json`,
 *  the escapes \u0000 and lone \uD800-\uDFFF of JSON text, which
 *  hl_json_parse() rejects. */
void hl_vm_fix_text(char *s, size_t len, bool json);

/** After fulfilment: the completion value as JSON text (NULL when it has
 *  none, e.g. undefined; lone surrogates and U+0000 in its strings become
 *  U+FFFD, see hl_vm_fix_text). After rejection: the reason, described as JSON
 *  {"name","message","stack","kind"}. Either way *out is malloc'ed. Drops
 *  the evaluation promise. */
hl_status hl_vm_take_result(hl_vm *vm, char **out);

/** Define the callbacks JavaScript sees: `json` is an array of
 *  {"name","description","parameters"}. */
hl_status hl_vm_define(hl_vm *vm, const char *json);

/** Settle a request's promise and give `req` back: resolve it with the
 *  value of JSON text `a` (`a_len` bytes) when `ok`, else reject it with
 *  a CallbackError of kind `a` and message `b`. Runs no job: the
 *  promise's reactions wait for the next hl_vm_run_jobs(). */
hl_status hl_vm_settle(hl_vm *vm, hl_vm_request req, bool ok, const char *a, size_t a_len,
                       const char *b);

/** Resolve a request's promise with the number `value` (finite), as
 *  hl_vm_settle() would with its JSON text, without printing and parsing
 *  it; or with null when `is_null`. Gives `req` back. */
hl_status hl_vm_settle_number(hl_vm *vm, hl_vm_request req, double value, bool is_null);

/** Give back a request that will not be settled (the execution stopped).
 *  Nothing to do on a vm that trapped (its memory is discarded). */
void hl_vm_release(hl_vm *vm, hl_vm_request req);

/** Stop the instance that is running on this thread: unwinds out of wasm
 *  like a trap, leaving the vm broken (the owner then resets it). Only
 *  from hooks called by JavaScript, for code that keeps running after a
 *  limit stopped it. */
_Noreturn void hl__vm_stop(void);

/** For tests of the trap path: make the instance execute a faulting
 *  operation. kind 1: a load past the end of linear memory (a wild
 *  JSValue pointer handed to QuickJS); kind 2: QuickJS's abort path (its
 *  allocator finding a corrupt chunk), i.e. `unreachable`. Returns
 *  HL_ERR_SANDBOX and leaves the vm broken, as a real fault would. */
hl_status hl__vm_fault(hl_vm *vm, int kind);

/** True when QuickJS cannot allocate a few kilobytes more (its heap is
 *  at its limit). Runs a little wasm; false on a broken vm. */
bool hl_vm_heap_exhausted(hl_vm *vm);

/** Set QuickJS's own allocation limit (bytes, 0 = none), from the next
 *  entry into the vm on. */
void hl_vm_set_heap_limit(hl_vm *vm, size_t bytes);

/** The vm's cache of compiled scripts (code_cache.c): at most this many
 *  sources, each at most HL_CODE_CACHE_MAX_SOURCE bytes (longer ones are
 *  compiled every time), HL_CODE_CACHE_MAX_BYTES of source in all. */
#define HL_CODE_CACHE_ENTRIES 16
#define HL_CODE_CACHE_MAX_SOURCE ((size_t)16 << 10)
#define HL_CODE_CACHE_MAX_BYTES ((size_t)64 << 10)

/** Its contents and use, for tests and benchmarks. */
typedef struct hl_vm_cache_stats {
  size_t entries, bytes;        /* sources kept, their bytes */
  unsigned long hits, misses;   /* evaluations that found / did not find theirs */
} hl_vm_cache_stats;
void hl__vm_code_cache_stats(const hl_vm *vm, hl_vm_cache_stats *out);

/** Bytes of linear memory in use (its current size). */
size_t hl_vm_memory_size(const hl_vm *vm);

/** Build or load the template now (once per process; hl_vm_new(NULL, ...)
 *  does it on first use). */
void hl__vm_template_init(void);

/** Where the template came from: "file" (mapped from the snapshot file the
 *  build wrote; *path names it), "built" (initialised at run time) or
 *  "none" (not yet made, or failed). `path` may be NULL. */
const char *hl__vm_template_origin(const char **path);

/** Capture the vm's state (memory, globals) as a snapshot new vms can start
 *  from. The vm stays usable. Free with hl_vm_snapshot_free(). */
hl_status hl_vm_snapshot_take(hl_vm *vm, hl_vm_snapshot **out);
void hl_vm_snapshot_free(hl_vm_snapshot *snap);

/* Bytes of linear memory a snapshot holds. */
size_t hl__vm_snapshot_bytes(const hl_vm_snapshot *snap);

/* snapshot_file.c: write `s` as a snapshot file at `path` (atomically: a
 * temporary file renamed over it), and read one back. The file holds this
 * build's id; a file from another build is refused (HL_ERR_INVALID, with
 * the reason). The memory image is mapped copy-on-write from the file, not
 * read. */
hl_status hl__vm_snapshot_save(const hl_vm_snapshot *s, const char *path);
hl_status hl__vm_snapshot_load(const char *path, hl_vm_snapshot **out);
/* The same from a file already open for reading: takes `fd` (closed on
 * failure, kept by the snapshot on success); `path` names it in messages.
 * With `defer` (the template), the image's checksum is not checked here:
 * the header goes to *defer for hl__snapshot_file_verify() before the
 * image is first run; without it (a session), the whole file is checked. */
struct hl_snapshot_head;
hl_status hl__vm_snapshot_load_fd(int fd, const char *path, struct hl_snapshot_head *defer,
                                  hl_vm_snapshot **out);

#endif
