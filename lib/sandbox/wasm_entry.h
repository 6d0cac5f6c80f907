/*
 * lib/sandbox/wasm_entry.h - entering a guest instance, the part both
 * guests share (qjs_vm.c for QuickJS, py_vm.c for MicroPython; private to
 * lib/sandbox): the instance's call-depth limit opened for one entry and
 * closed after it, a trap turned into the sandbox's error, and a stop
 * taken back. Each guest keeps its own trap target (HL_WASM_TRY) and what
 * it must clean up after a trap; what is here is the same for both, so
 * that the stop protocol with the watchdog lives in one place.
 *
 * The stop protocol: another thread (the watchdog, hl_vm_interrupt /
 * hl_py_vm_interrupt) stores 1 in the memory's `interrupt` flag and 0 in
 * its `call_limit`; the guest's next wasm call then traps (wasm-rt.h,
 * WASM_RT_MAX_CALL_STACK_DEPTH).
 *
 * Thread-safety: hl_wasm_open_calls() and hl_wasm_entry_status() are
 * called by the one thread entering the instance; hl_wasm_reopen() by
 * the thread that owns the vm, between entries. The flags are atomics,
 * so a stop may be requested from any thread at any time.
 */
#ifndef HL_SANDBOX_WASM_ENTRY_H
#define HL_SANDBOX_WASM_ENTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include "hookline/status.h"
#include "wasm-rt.h"

/* At the start of an entry, inside the trap target: give the instance
 * this thread's call depth limit (set by hl_wasm_enter), unless a stop
 * was requested: that one is sticky, and a watchdog storing 0 while we
 * store the limit must not lose. Both sides store first and read the
 * other's flag second (sequentially consistent), so at least one of them
 * sees the other. */
static inline void hl_wasm_open_calls(wasm_rt_memory_t *m) {
  atomic_store(&m->call_limit, hl_wasm_call_stack_limit);
  if (atomic_load(&m->interrupt))
    atomic_store(&m->call_limit, 0);
}

/* After an entry (its trap target popped), with the trap HL_WASM_TRY
 * gave: closes the call limit again, and returns HL_OK when the entry
 * returned normally; otherwise the error, set with hl_fail(): "sandbox
 * stopped while running" when a stop was requested, "sandbox trapped:
 * <reason>" when the guest trapped by itself. On an error the caller
 * marks its vm broken (it must be reset) and drops what the entry held. */
static inline hl_status hl_wasm_entry_status(wasm_rt_memory_t *m, wasm_rt_trap_t trap) {
  atomic_store_explicit(&m->call_limit, 0, memory_order_relaxed);
  if (trap == WASM_RT_TRAP_NONE)
    return HL_OK;
  if (atomic_load(&m->interrupt))
    return hl_fail(HL_ERR_SANDBOX, "sandbox stopped while running");
  return hl_fail(HL_ERR_SANDBOX, "sandbox trapped: %s", wasm_rt_strerror(trap));
}

/* Owner thread, outside wasm, when no stop can follow: undo a stop that
 * hit no running code, so that the next entry runs normally. True if it
 * did; false when there was none or the vm is `broken` (a broken vm
 * stays as it is: it must be reset). */
static inline bool hl_wasm_reopen(wasm_rt_memory_t *m, bool broken) {
  if (broken || !atomic_load(&m->interrupt))
    return false;
  atomic_store(&m->interrupt, 0);
  return true;
}

#endif
