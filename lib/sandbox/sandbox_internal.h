/*
 * lib/sandbox/sandbox_internal.h - shared between sandbox.c (API and the
 * execution loop) and callbacks.c (the added tools and running their
 * calls).
 */
#ifndef HL_SANDBOX_INTERNAL_H
#define HL_SANDBOX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "hookline/sandbox.h"
#include "hookline/json.h"
#include "hookline/tool.h"
#include "qjs_vm.h"
#include "watchdog.h"

/* One added tool under its JavaScript name. Reference counted: a call
 * running on a worker thread that was abandoned after its timeout keeps
 * it (and so its tool reference) alive. */
typedef struct sb_callback {
  atomic_int refs;
  char *name;    /* the JavaScript name */
  hl_tool *tool; /* a reference */
} sb_callback;

void hl__sb_callback_unref(sb_callback *cb);

/* A callback request recorded while the guest ran. */
typedef struct sb_request {
  hl_vm_request req; /* its promise's settling functions, held */
  char *name;
  char *args;        /* JSON text, parsed when it runs; or NULL and: */
  size_t args_len;
  cJSON *parsed;     /* the arguments parsed already (the Python guest) */
} sb_request;

/* A growable byte buffer, always NUL-terminated. */
typedef struct sb_buf {
  char *data;
  size_t len, cap;
} sb_buf;
/* Append n bytes of s and keep the buffer NUL-terminated; false when
 * out of memory (the buffer is unchanged). Both guests' output. */
bool hl__sb_buf_add(sb_buf *b, const char *s, size_t n);

struct hl_sandbox_snapshot {
  atomic_int refs;
  hl_vm_snapshot *vm_snap;             /* JavaScript, or NULL */
  struct hl_py_snapshot *py_snap;      /* Python (py_vm.h), or NULL */
  size_t memory_bytes; /* the memory size the snapshot needs */
};

struct hl_sandbox {
  hl_sandbox_limits limits;
  hl_vm *vm;
  hl_context *ctx; /* the running execution's context (borrowed), or NULL */
  struct hl_sandbox_snapshot *origin; /* NULL: the built-in template */

  sb_callback **callbacks;
  size_t n_callbacks, cap_callbacks;
  bool callbacks_dirty; /* JavaScript's view of the callbacks is stale */
  bool needs_seed;      /* a fresh instance: Math.random not yet seeded */
  bool busy;

  /* State of the running execution. */
  sb_buf out, err;
  size_t output_bytes;
  sb_request *queue;
  size_t n_queue, cap_queue;
  unsigned callback_count;
  uint64_t deadline_ns; /* monotonic; 0 = none */
  hl_status abort_status; /* set by a limit: stops JavaScript */
  char abort_msg[256];
  unsigned after_abort;   /* host calls JavaScript made since the abort */

  /* Hard stops. QuickJS polls the soft limits only every few thousand
   * operations, and a built-in over a big string or an exception unwinding
   * through deep recursion runs far longer between two polls. The watch is
   * armed for every execution at its deadline; from there the watchdog
   * thread gives the executing thread a grace period of CPU time (read
   * from its CPU clock) and then makes the guest trap (hl_vm_interrupt). */
  hl_watch watch;
  bool armed;                   /* owner thread only */
  clockid_t cpu_clock;          /* the executing thread's CPU clock */
  bool cpu_clock_ok;            /* set before arming, read by the watchdog */
  bool grace_started;           /* watchdog thread (set false before arming) */
  uint64_t grace_cpu0;          /* the guest's CPU time when the grace began */
  atomic_int hard_stop;         /* status the watchdog stopped it with, 0 = none */
  atomic_bool cancel_requested; /* hl__sb_cancel(): sticky */

  /* The Python guest (py_sandbox.c) when limits.language is
   * HL_SANDBOX_PYTHON; then vm is NULL. */
  struct hl_py_guest *py;
};

/* Monotonic clock in nanoseconds. */
uint64_t hl__sb_now_ns(void);

/* Find a registered callback by name (borrowed) or NULL. */
sb_callback *hl__sb_find(const hl_sandbox *sb, const char *name, size_t *index);

/* {"callbacks": [{name, description, parameters}], "seed": [...]} for the
 * prelude's define() and listCallbacks(); `seed` (4 words, may be NULL)
 * reseeds Math.random. Caller frees. NULL on allocation failure. */
char *hl__sb_callbacks_json(const hl_sandbox *sb, const uint32_t seed[4]);

/* Run the requests in sb->queue (in parallel when there are several) and
 * settle their promises in the vm (hl_vm_settle), in request order.
 * Empties the queue. HL_ERR_NOMEM, or the vm's error (a trap). Records a
 * timeout in sb->abort_* when the execution deadline passed while
 * waiting. */
hl_status hl__sb_run_queue(hl_sandbox *sb);

/* Owner thread, outside wasm, during an execution: fold every reason to
 * stop (a hard stop that fired, a cancel, the deadline) into abort_status;
 * once stopping, disarm the watch and undo a hard stop that hit no running
 * code, so that the requests held in the vm can still be released.
 * Returns abort_status. */
hl_status hl__sb_check_stop(hl_sandbox *sb);

/* Any thread, while `sb` is alive: cancel the running execution (and every
 * later one: the request is sticky). JavaScript is interrupted at its next
 * poll; code that does not get there is stopped by the watchdog within
 * the grace period. The execution ends with HL_ERR_CANCELLED. Used by code
 * mode when the agent run is cancelled. */
void hl__sb_cancel(hl_sandbox *sb);

/* Watchdog thread, from a hard watch's fire function (either guest): the
 * grace a guest gets after its deadline or a cancel, in the executing
 * thread's CPU time (sb->cpu_clock; wall time when it cannot be read).
 * The first call starts it; returns the time to fire again, or 0 once the
 * guest has used `grace_ns` of CPU time (the caller stops it hard). The
 * owner sets sb->grace_started = false and sb->cpu_clock before arming. */
uint64_t hl__sb_grace_fire(hl_sandbox *sb, uint64_t grace_ns);

/* py_sandbox.c: the Python guest behind a sandbox. hl__py_attach() makes
 * sb->py (instead of sb->vm); the others are what sandbox.c and
 * callbacks.c do with a Python sandbox in place of their JavaScript code.
 * hl__py_settle() receives one outcome of hl__sb_run_queue() (`deliver`
 * false: the execution stopped, drop it). */
hl_status hl__py_attach(hl_sandbox *sb);
void hl__py_detach(hl_sandbox *sb);
hl_status hl__py_reset(hl_sandbox *sb);
hl_status hl__py_execute(hl_sandbox *sb, hl_context *ctx, const char *code,
                         hl_sandbox_result *res);
void hl__py_cancel(hl_sandbox *sb);
bool hl__py_valid_name(const char *name);
/* For the tests of the Python code cache: sources the session's vm
 * compiled (hl_py_vm_compiles), 0 without one. */
uint64_t hl__py_compiles(hl_sandbox *sb);
hl_status hl__py_settle(hl_sandbox *sb, hl_vm_request req, bool deliver, bool ok,
                        bool is_number, double number, bool is_null, const char *text,
                        const char *message);

/* py_sandbox.c: Python snapshots. _take fills s->py_snap and
 * s->memory_bytes from the sandbox's vm (outside an execution);
 * _file is true when `path` starts with the Python snapshot magic;
 * _load reads such a file into s->py_snap and s->memory_bytes. */
hl_status hl__py_snapshot_take(hl_sandbox *sb, struct hl_sandbox_snapshot *s);
bool hl__py_snapshot_file(const char *path);
hl_status hl__py_snapshot_load(const char *path, struct hl_sandbox_snapshot *s);

/* Room for `n` requests in sb->queue (both guests). False when out of
 * memory, with the execution aborted. */
bool hl__sb_queue_room(hl_sandbox *sb, size_t n);

/* Stop the running execution with `status` (the first reason wins). */
void hl__sb_abort(hl_sandbox *sb, hl_status status, const char *fmt, ...) HL_PRINTF(3, 4);

/* The same for the reason a stop came (either guest): HL_ERR_CANCELLED
 * ("execution cancelled"), anything else the deadline (HL_ERR_TIMEOUT,
 * "execution timed out after N ms"). */
void hl__sb_abort_for(hl_sandbox *sb, hl_status why);

/* Owner thread, around one execution (either guest). _begin: the sandbox
 * is busy in `ctx`; the last execution's stop reason, output and
 * callback counts are cleared and the deadline is set from the time
 * limit; returns the start time. _end: the result's callback count and
 * duration since `t0`; the sandbox is idle again. */
uint64_t hl__sb_exec_begin(hl_sandbox *sb, hl_context *ctx);
void hl__sb_exec_end(hl_sandbox *sb, hl_sandbox_result *res, uint64_t t0);

#endif
