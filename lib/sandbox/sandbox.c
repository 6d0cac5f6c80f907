/*
 * lib/sandbox/sandbox.c - the sandbox API: lifetime, limits, sessions,
 * snapshots, and the execution loop.
 *
 * One execution: evaluate the code as an async global script, then loop:
 * run QuickJS's pending jobs; if JavaScript recorded tool calls,
 * run the tool calls (callbacks.c) and settle their promises; otherwise the
 * evaluation promise has settled (take the value or the exception) or
 * never will (nothing left that could settle it). Limits stop JavaScript
 * through QuickJS's interrupt handler, which the hooks below answer; the
 * watchdog (watchdog.c) enforces the deadline and cancellation on code
 * that does not get to the handler in time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "py_vm.h"
#include "sandbox_internal.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_MEMORY ((size_t)64 << 20)
#define MIN_MEMORY ((size_t)32 << 20)
#define MAX_MEMORY ((size_t)2 << 30)
#define DEFAULT_MAX_CALLBACKS 1000u
#define DEFAULT_MAX_OUTPUT ((size_t)1 << 20)
/* Linear memory that is not QuickJS heap: static data and the 5 MiB wasm
 * stack sit below the heap. QuickJS's own allocation limit is set this
 * much below the memory cap so that it reports "out of memory" as a clean
 * JavaScript error before the heap's growth is refused. */
#define NON_HEAP_BYTES ((size_t)8 << 20)
/* How much CPU time the guest thread may use after the deadline (or a
 * cancel) before the watchdog stops a guest that QuickJS's interrupt
 * handler did not stop. The soft path comes first because it keeps the
 * session; the hard one traps and resets it. Small enough that an
 * execution ends within its limit plus ~50 ms on a quiet machine, large
 * enough that a guest polling normally is never hit.
 * CPU time, not wall time: on a loaded machine a guest thread that is
 * descheduled across its deadline has had no chance to poll, and stopping
 * it hard then would reset a session that the soft stop keeps. The
 * deadline itself stays wall-clock. */
/* 10 ms: QuickJS polls every 10,000 bytecodes or so (well under a
 * millisecond), so only a built-in that runs long without returning to
 * bytecode needs the hard stop; 20 ms (before) left too little of the
 * 50 ms for the reset after it in sanitizer builds (fuzz_sandbox_source:
 * 66 ms of CPU for a 10 ms limit with JSON.stringify of 100,000 objects). */
#define HARD_STOP_GRACE_NS (10u * 1000000u)
/* The same after a cancel, shorter: whoever cancels waits for the end, and
 * a cancelled session is rarely used again. */
#define CANCEL_GRACE_NS (5u * 1000000u)

bool hl_sandbox_available(void) { return true; }

uint64_t hl__sb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hl_sandbox_limits_default(hl_sandbox_limits *l) {
  if (!l)
    return;
  l->size = sizeof *l;
  l->timeout_ms = DEFAULT_TIMEOUT_MS;
  l->memory_bytes = DEFAULT_MEMORY;
  l->max_callbacks = DEFAULT_MAX_CALLBACKS;
  l->callback_timeout_ms = 0;
  l->max_output_bytes = DEFAULT_MAX_OUTPUT;
  l->language = HL_SANDBOX_JAVASCRIPT;
}

void hl__sb_abort(hl_sandbox *sb, hl_status status, const char *fmt, ...) {
  if (sb->abort_status != HL_OK)
    return;
  sb->abort_status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sb->abort_msg, sizeof sb->abort_msg, fmt, ap);
  va_end(ap);
}

void hl__sb_abort_for(hl_sandbox *sb, hl_status why) {
  if (why == HL_ERR_CANCELLED)
    hl__sb_abort(sb, HL_ERR_CANCELLED, "execution cancelled");
  else
    hl__sb_abort(sb, HL_ERR_TIMEOUT, "execution timed out after %u ms", sb->limits.timeout_ms);
}

uint64_t hl__sb_exec_begin(hl_sandbox *sb, hl_context *ctx) {
  sb->busy = true;
  sb->ctx = ctx;
  uint64_t t0 = hl__sb_now_ns();
  sb->abort_status = HL_OK;
  sb->abort_msg[0] = 0;
  sb->after_abort = 0;
  sb->output_bytes = 0;
  sb->callback_count = 0;
  sb->deadline_ns = sb->limits.timeout_ms ? t0 + (uint64_t)sb->limits.timeout_ms * 1000000u : 0;
  return t0;
}

void hl__sb_exec_end(hl_sandbox *sb, hl_sandbox_result *res, uint64_t t0) {
  res->callback_count = sb->callback_count;
  res->duration_us = (hl__sb_now_ns() - t0) / 1000u;
  sb->ctx = NULL;
  sb->busy = false;
}

/* ------------------------------------------------------------------ */
/* Hooks called from inside JavaScript                                  */
/* ------------------------------------------------------------------ */

bool hl__sb_buf_add(sb_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
      return false;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
  return true;
}

/* Once a limit stopped the execution, QuickJS throws an uncatchable error
 * at its next interrupt poll. An async function or a promise executor on
 * the stack turns even that error into a rejected promise, and a loop that
 * calls such functions carries on. Code that still runs this many host
 * calls after the abort is stopped at the wasm level instead. */
#define CALLS_AFTER_ABORT 64

static void after_abort(hl_sandbox *sb) {
  if (++sb->after_abort > CALLS_AFTER_ABORT)
    hl__vm_stop();
}

/* Returns false once output is closed: JavaScript stops writing the rest
 * of a long line (prelude.c) instead of calling in again and again. */
static bool hook_write(void *ud, int stream, const char *text, size_t len) {
  hl_sandbox *sb = ud;
  if (sb->abort_status != HL_OK) {
    after_abort(sb);
    return false;
  }
  if (!text) {
    /* The text could not even be converted: the memory limit, not a
     * silently empty stdout. */
    hl__sb_abort(sb, HL_ERR_LIMIT, "out of memory writing console output");
    return false;
  }
  size_t cap = sb->limits.max_output_bytes;
  if (cap && sb->output_bytes + len > cap) {
    len = cap - sb->output_bytes;
    /* Cut at a character boundary: the output stays valid UTF-8. */
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
      len--;
    hl__sb_abort(sb, HL_ERR_TOO_LARGE, "output exceeded %zu bytes", cap);
  }
  sb->output_bytes += len;
  if (!hl__sb_buf_add(stream == 2 ? &sb->err : &sb->out, text, len))
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory capturing output");
  return sb->abort_status == HL_OK;
}

bool hl__sb_queue_room(hl_sandbox *sb, size_t n) {
  if (sb->cap_queue >= n)
    return true;
  size_t cap = sb->cap_queue ? sb->cap_queue * 2 : 8;
  if (cap < n)
    cap = n;
  sb_request *q = realloc(sb->queue, cap * sizeof *q);
  if (!q) {
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory recording a callback");
    return false;
  }
  sb->queue = q;
  sb->cap_queue = cap;
  return true;
}

static bool hook_call(void *ud, hl_vm_request req, const char *name, const char *args,
                      size_t args_len) {
  hl_sandbox *sb = ud;
  if (sb->abort_status != HL_OK) {
    after_abort(sb);
    return false;
  }
  sb->callback_count++;
  if (sb->limits.max_callbacks && sb->callback_count > sb->limits.max_callbacks) {
    hl__sb_abort(sb, HL_ERR_LIMIT, "more than %u callback invocations", sb->limits.max_callbacks);
    return false;
  }
  if (!hl__sb_queue_room(sb, sb->n_queue + 1))
    return false;
  sb_request *r = &sb->queue[sb->n_queue];
  r->req = req;
  r->name = strdup(name);
  r->parsed = NULL;
  r->args = malloc(args_len + 1);
  if (!r->name || !r->args) {
    free(r->name);
    free(r->args);
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory recording a callback");
    return false;
  }
  memcpy(r->args, args, args_len);
  r->args[args_len] = 0;
  r->args_len = args_len;
  sb->n_queue++;
  return true;
}

static int hook_interrupt(void *ud) {
  hl_sandbox *sb = ud;
  if (sb->abort_status != HL_OK) {
    /* Polled again: the first interruption was swallowed. */
    if (++sb->after_abort > 2)
      hl__vm_stop();
    return 1;
  }
  if (atomic_load_explicit(&sb->cancel_requested, memory_order_relaxed)) {
    hl__sb_abort_for(sb, HL_ERR_CANCELLED);
    return 1;
  }
  if (sb->deadline_ns && hl__sb_now_ns() >= sb->deadline_ns) {
    hl__sb_abort_for(sb, HL_ERR_TIMEOUT);
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Hard stops: the watchdog and cancellation                            */
/* ------------------------------------------------------------------ */

/* The CPU time the executing thread has used, or the monotonic clock
 * when its CPU clock cannot be read (then the grace is wall time). */
static uint64_t guest_cpu_ns(const hl_sandbox *sb) {
  struct timespec ts;
  if (!sb->cpu_clock_ok || clock_gettime(sb->cpu_clock, &ts) != 0)
    return hl__sb_now_ns();
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hl__sb_grace_fire(hl_sandbox *sb, uint64_t grace_ns) {
  uint64_t now = hl__sb_now_ns(), cpu = guest_cpu_ns(sb);
  if (!sb->grace_started) {
    sb->grace_started = true;
    sb->grace_cpu0 = cpu;
    return now + grace_ns;
  }
  uint64_t used = cpu - sb->grace_cpu0;
  if (used < grace_ns)
    return now + (grace_ns - used);
  return 0;
}

/* Watchdog thread, its lock held, only while the watch is armed: the
 * execution is still running, so sb and sb->vm are alive and sb->vm does
 * not change (make_vm runs only while the watch is disarmed); the
 * executing thread, whose CPU clock is read, is inside
 * hl_sandbox_execute(). The grace: hl__sb_grace_fire. */
static uint64_t watch_fire(hl_watch *w) {
  hl_sandbox *sb = (hl_sandbox *)((char *)w - offsetof(hl_sandbox, watch));
  bool cancel = atomic_load(&sb->cancel_requested);
  uint64_t again = hl__sb_grace_fire(sb, cancel ? CANCEL_GRACE_NS : HARD_STOP_GRACE_NS);
  if (again)
    return again;
  int none = 0;
  atomic_compare_exchange_strong(&sb->hard_stop, &none, cancel ? HL_ERR_CANCELLED : HL_ERR_TIMEOUT);
  hl_vm_interrupt(sb->vm);
  return 0;
}

void hl__sb_cancel(hl_sandbox *sb) {
  if (!sb)
    return;
  atomic_store(&sb->cancel_requested, true);
  /* Not armed: the execution has not started (it checks the flag after
   * arming) or is over. */
  /* Python: its KeyboardInterrupt at once (py_sandbox.c). */
  if (sb->py)
    hl__py_cancel(sb);
  /* Armed: the fire starts (or shortens) the grace in CPU time, for
   * either guest. */
  (void)hl__watch_advance(&sb->watch, hl__sb_now_ns());
}

/* Disarm the watch (owner, outside wasm); afterwards nothing can
 * interrupt the vm, so an interrupt that hit no running code is undone. */
static void stop_disarm(hl_sandbox *sb) {
  if (sb->armed) {
    hl__watch_disarm(&sb->watch);
    sb->armed = false;
  }
  if (sb->vm)
    (void)hl_vm_reopen(sb->vm);
}

hl_status hl__sb_check_stop(hl_sandbox *sb) {
  int hard = atomic_load(&sb->hard_stop);
  if (hard)
    hl__sb_abort_for(sb, hard);
  else if (atomic_load(&sb->cancel_requested))
    hl__sb_abort_for(sb, HL_ERR_CANCELLED);
  else if (sb->deadline_ns && hl__sb_now_ns() >= sb->deadline_ns)
    hl__sb_abort_for(sb, HL_ERR_TIMEOUT);
  if (sb->abort_status)
    stop_disarm(sb);
  return sb->abort_status;
}

static const hl_vm_hooks sb_hooks = {hook_write, hook_call, hook_interrupt};

/* ------------------------------------------------------------------ */
/* Lifetime                                                             */
/* ------------------------------------------------------------------ */

static hl_status make_vm(hl_sandbox *sb) {
  hl_vm *vm = NULL;
  hl_status st = hl_vm_new(sb->origin ? sb->origin->vm_snap : NULL, sb->limits.memory_bytes,
                           &sb_hooks, sb, &vm);
  if (st)
    return st;
  hl_vm_set_heap_limit(vm, sb->limits.memory_bytes - NON_HEAP_BYTES);
  if (sb->vm)
    hl_vm_free(sb->vm);
  sb->vm = vm;
  /* The fresh instance knows only the callbacks of its snapshot, and its
   * random generator state is the snapshot's. */
  sb->callbacks_dirty = true;
  sb->needs_seed = true;
  return HL_OK;
}

static void snapshot_unref(struct hl_sandbox_snapshot *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  hl_vm_snapshot_free(s->vm_snap);
  hl_py_snapshot_free(s->py_snap);
  free(s);
}

static hl_status sandbox_create(struct hl_sandbox_snapshot *origin, const hl_sandbox_limits *limits,
                                hl_sandbox **out) {
  if (!out)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_new: out is NULL");
  *out = NULL;
  if (limits && limits->size < offsetof(hl_sandbox_limits, timeout_ms) + sizeof limits->timeout_ms)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_new: limits->size is %zu: fill the limits "
                   "with hl_sandbox_limits_default() first", limits->size);
  hl_sandbox *sb = calloc(1, sizeof *sb);
  if (!sb)
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_new: out of memory");
  /* Fields past the caller's size keep their defaults. */
  hl_sandbox_limits_default(&sb->limits);
  if (limits)
    memcpy(&sb->limits, limits, limits->size < sizeof sb->limits ? limits->size : sizeof sb->limits);
  sb->limits.size = sizeof sb->limits;
  if (sb->limits.memory_bytes < MIN_MEMORY)
    sb->limits.memory_bytes = MIN_MEMORY;
  if (sb->limits.memory_bytes > MAX_MEMORY)
    sb->limits.memory_bytes = MAX_MEMORY;
  hl__watch_init(&sb->watch, watch_fire);
  atomic_init(&sb->hard_stop, 0);
  atomic_init(&sb->cancel_requested, false);
  if (origin && origin->py_snap)
    sb->limits.language = HL_SANDBOX_PYTHON; /* the snapshot's language */
  if (origin) {
    if (sb->limits.memory_bytes < origin->memory_bytes + NON_HEAP_BYTES)
      sb->limits.memory_bytes = origin->memory_bytes + NON_HEAP_BYTES;
    atomic_fetch_add(&origin->refs, 1);
    sb->origin = origin;
  }
  hl_status st;
  if (sb->limits.language == HL_SANDBOX_PYTHON)
    st = origin && !origin->py_snap
             ? hl_fail(HL_ERR_INVALID, "hl_sandbox_new_from_snapshot: the snapshot holds "
                       "JavaScript state; a Python sandbox cannot start from it")
             : hl__py_attach(sb);
  else
    st = make_vm(sb);
  if (st) {
    snapshot_unref(sb->origin);
    free(sb);
    return st;
  }
  *out = sb;
  return HL_OK;
}

hl_status hl_sandbox_new(const hl_sandbox_limits *limits, hl_sandbox **out) {
  return sandbox_create(NULL, limits, out);
}

hl_status hl_sandbox_new_from_snapshot(const hl_sandbox_snapshot *snapshot,
                                       const hl_sandbox_limits *limits, hl_sandbox **out) {
  if (!snapshot) {
    if (out)
      *out = NULL;
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_new_from_snapshot: snapshot is NULL");
  }
  return sandbox_create((struct hl_sandbox_snapshot *)snapshot, limits, out);
}

/* Drop requests that were never run (the execution stopped first),
 * giving their settling functions back to the vm they came from. */
static void clear_queue(hl_sandbox *sb) {
  for (size_t i = 0; i < sb->n_queue; i++) {
    if (sb->vm)
      hl_vm_release(sb->vm, sb->queue[i].req);
    free(sb->queue[i].name);
    free(sb->queue[i].args);
  }
  sb->n_queue = 0;
}

void hl_sandbox_free(hl_sandbox *sb) {
  if (!sb)
    return;
  clear_queue(sb);
  hl_vm_free(sb->vm);
  sb->vm = NULL;
  hl__py_detach(sb);
  for (size_t i = 0; i < sb->n_callbacks; i++)
    hl__sb_callback_unref(sb->callbacks[i]);
  free(sb->callbacks);
  free(sb->queue);
  free(sb->out.data);
  free(sb->err.data);
  snapshot_unref(sb->origin);
  free(sb);
}

hl_status hl_sandbox_reset(hl_sandbox *sb) {
  if (!sb)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_reset: sandbox is NULL");
  if (sb->busy)
    return hl_fail(HL_ERR_STATE, "hl_sandbox_reset: the sandbox is executing");
  hl_status st = sb->py ? hl__py_reset(sb) : make_vm(sb);
  return st ? (st) : HL_OK;
}

hl_status hl_sandbox_snapshot_take(hl_sandbox *sb, hl_sandbox_snapshot **out) {
  if (!sb || !out)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_snapshot_take: %s is NULL", !sb ? "sandbox" : "out");
  *out = NULL;
  if (sb->busy)
    return hl_fail(HL_ERR_STATE, "hl_sandbox_snapshot_take: the sandbox is executing");
  struct hl_sandbox_snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_snapshot_take: out of memory");
  if (sb->py) {
    hl_status pst = hl__py_snapshot_take(sb, s);
    if (pst) {
      free(s);
      return pst;
    }
    atomic_init(&s->refs, 1);
    *out = s;
    return HL_OK;
  }
  hl_status st = hl_vm_snapshot_take(sb->vm, &s->vm_snap);
  if (st) {
    free(s);
    return (st);
  }
  atomic_init(&s->refs, 1);
  s->memory_bytes = hl_vm_memory_size(sb->vm);
  *out = s;
  return HL_OK;
}

void hl_sandbox_snapshot_free(hl_sandbox_snapshot *snapshot) { snapshot_unref(snapshot); }

hl_status hl_sandbox_snapshot_save(const hl_sandbox_snapshot *snapshot, const char *path) {
  if (!snapshot || !path || !*path)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_snapshot_save: %s is %s", !snapshot ? "snapshot" : "path",
                   !snapshot || !path ? "NULL" : "empty");
  if (snapshot->py_snap)
    return hl_py_snapshot_save(snapshot->py_snap, path);
  return hl__vm_snapshot_save(snapshot->vm_snap, path);
}

hl_status hl_sandbox_snapshot_load(const char *path, hl_sandbox_snapshot **out) {
  if (!out)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_snapshot_load: out is NULL");
  *out = NULL;
  if (!path || !*path)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_snapshot_load: path is %s", path ? "empty" : "NULL");
  struct hl_sandbox_snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_snapshot_load: out of memory");
  bool python = hl__py_snapshot_file(path);
  hl_status st = python ? hl__py_snapshot_load(path, s) : hl__vm_snapshot_load(path, &s->vm_snap);
  if (st) {
    free(s);
    return st;
  }
  atomic_init(&s->refs, 1);
  if (!python)
    s->memory_bytes = hl__vm_snapshot_bytes(s->vm_snap);
  *out = s;
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* Execution                                                            */
/* ------------------------------------------------------------------ */

void hl_sandbox_result_clear(hl_sandbox_result *r) {
  if (!r)
    return;
  /* Only the fields the caller's version has. */
  size_t size = r->size < sizeof *r ? r->size : sizeof *r;
  hl_sandbox_result full = {0};
  memcpy(&full, r, size);
  free(full.stdout_text);
  free(full.stderr_text);
  free(full.value_json);
  memset(r, 0, size);
  r->size = size;
}

/* Status for an uncaught exception described by the prelude's describe():
 * a CallbackError keeps its kind; QuickJS's resource errors are limits. */
static hl_status exception_status(const cJSON *d) {
  const char *kind = hl_json_get_string(d, "kind");
  const char *name = hl_json_get_string(d, "name");
  const char *msg = hl_json_get_string(d, "message");
  if (kind) {
    if (strcmp(kind, "InvalidArguments") == 0)
      return HL_ERR_INVALID_ARGUMENTS;
    if (strcmp(kind, "NotFound") == 0)
      return HL_ERR_NOT_FOUND;
    if (strcmp(kind, "Timeout") == 0)
      return HL_ERR_TIMEOUT;
    return HL_ERR_EXECUTION_FAILED;
  }
  if (name && msg && (strcmp(name, "InternalError") == 0 || strcmp(name, "RangeError") == 0) &&
      (strstr(msg, "out of memory") || strstr(msg, "stack overflow") ||
       strstr(msg, "Maximum call stack")))
    return HL_ERR_LIMIT;
  /* QuickJS's regexp compiler and parser report a failed allocation as a
   * SyntaxError "out of memory". */
  if (name && msg && strcmp(name, "SyntaxError") == 0 && strcmp(msg, "out of memory") == 0)
    return HL_ERR_LIMIT;
  return HL_ERR_EXECUTION_FAILED;
}

/* "Name: message" plus the first lines of the stack, for a model to read. */
static char *exception_message(const cJSON *d) {
  const char *name = hl_json_get_string(d, "name");
  const char *msg = hl_json_get_string(d, "message");
  const char *stack = hl_json_get_string(d, "stack");
  sb_buf b = {0};
  if (name && *name) {
    hl__sb_buf_add(&b, name, strlen(name));
    hl__sb_buf_add(&b, ": ", 2);
  }
  if (msg)
    hl__sb_buf_add(&b, msg, strlen(msg));
  if (stack && *stack) {
    const char *end = stack;
    for (int lines = 0; *end && lines < 3; lines++) {
      const char *nl = strchr(end, '\n');
      end = nl ? nl + 1 : end + strlen(end);
    }
    size_t n = (size_t)(end - stack);
    while (n && stack[n - 1] == '\n')
      n--;
    hl__sb_buf_add(&b, "\n", 1);
    hl__sb_buf_add(&b, stack, n);
  }
  /* `throw ''` has neither name nor message nor stack: a failure still
   * says what happened (found by fuzz_sandbox_source). */
  if (!b.data || !b.len) {
    free(b.data);
    return strdup("exception: the code threw a value whose text is empty (such as throw '')");
  }
  return b.data;
}

/* When QuickJS cannot allocate the Error object for "out of memory" it
 * throws null instead; `throw null` in user code looks the same. Told
 * apart by the heap: still exhausted means the null came from QuickJS. */
static bool out_of_memory_null(hl_sandbox *sb, const cJSON *d) {
  const char *name = hl_json_get_string(d, "name");
  const char *msg = hl_json_get_string(d, "message");
  return name && !*name && msg && strcmp(msg, "null") == 0 && !hl_json_get(d, "kind") &&
         hl_vm_heap_exhausted(sb->vm);
}

/* What the execution loop found: the status, the reason of a failure
 * (for hl_last_error()) and the completion value. */
typedef struct sb_exec {
  hl_status status;
  char *error;
  char *value_json;
} sb_exec;

static void fail_from_exception(hl_sandbox *sb, sb_exec *res, const char *json) {
  cJSON *d = NULL;
  if (json && hl_json_parse(json, (size_t)-1, &d) == HL_OK) {
    if (out_of_memory_null(sb, d)) {
      res->status = HL_ERR_LIMIT;
      res->error = strdup("InternalError: out of memory");
    } else {
      res->status = exception_status(d);
      res->error = exception_message(d);
    }
    cJSON_Delete(d);
  } else {
    /* describe() catches everything but a failed allocation: the heap
     * is exhausted (the vm's other failures are traps, handled apart). */
    res->status = HL_ERR_LIMIT;
    res->error = strdup("InternalError: out of memory (the exception could not be described)");
  }
}

static void take_output(hl_sandbox *sb, hl_sandbox_result *res) {
  res->stdout_text = sb->out.data ? sb->out.data : strdup("");
  res->stdout_len = sb->out.len;
  res->stderr_text = sb->err.data ? sb->err.data : strdup("");
  res->stderr_len = sb->err.len;
  memset(&sb->out, 0, sizeof sb->out);
  memset(&sb->err, 0, sizeof sb->err);
}

/* The execution loop; fills res->status/error/value_json. */
static void run(hl_sandbox *sb, const char *code, sb_exec *res) {
  hl_status st;
  if (sb->callbacks_dirty) {
    uint32_t seed[4];
    bool seeding = sb->needs_seed && getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed;
    char *defs = hl__sb_callbacks_json(sb, seeding ? seed : NULL);
    st = defs ? hl_vm_define(sb->vm, defs) : hl_fail(HL_ERR_NOMEM, "out of memory");
    free(defs);
    if (st) {
      res->status = st;
      res->error = strdup(hl_last_error());
      return;
    }
    sb->callbacks_dirty = false;
    if (seeding)
      sb->needs_seed = false;
  }

  char *error_json = NULL;
  st = hl_vm_eval(sb->vm, code, strlen(code), &error_json);
  if (st == HL_ERR_EXECUTION_FAILED) {
    fail_from_exception(sb, res, error_json);
    free(error_json);
    return;
  }
  if (st) {
    res->status = st;
    res->error = strdup(hl_last_error());
    return;
  }
  for (;;) {
    if (hl__sb_check_stop(sb))
      return;
    st = hl_vm_run_jobs(sb->vm);
    if (st) {
      res->status = st;
      res->error = strdup(hl_last_error());
      return;
    }
    if (sb->abort_status)
      return;
    if (sb->n_queue > 0) {
      st = hl__sb_run_queue(sb);
      if (st) {
        res->status = st;
        res->error = strdup(hl_last_error());
        return;
      }
      continue;
    }
    int state = hl_vm_state(sb->vm);
    if (state == HL_VM_PENDING) {
      res->status = HL_ERR_EXECUTION_FAILED;
      res->error = strdup("the code awaits a promise that can never settle "
                          "(no callback is pending)");
      return;
    }
    char *out = NULL;
    st = hl_vm_take_result(sb->vm, &out);
    if (st) {
      res->status = st;
      res->error = strdup(hl_last_error());
      return;
    }
    if (state == HL_VM_FULFILLED) {
      res->value_json = out;
      res->status = HL_OK;
    } else {
      fail_from_exception(sb, res, out);
      free(out);
    }
    return;
  }
}

hl_status hl_sandbox_execute(hl_sandbox *sb, hl_context *ctx, const char *code,
                             hl_sandbox_result *out) {
  if (!out)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_execute: result is NULL");
  if (out->size < offsetof(hl_sandbox_result, stdout_text))
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_execute: result->size is %zu: declare the "
                   "result with HL_SANDBOX_RESULT_INIT", out->size);
  hl_sandbox_result full = {.size = out->size};
  hl_sandbox_result *res = &full;
  sb_exec ex = {0};
  if (!sb || !code) {
    ex.status = hl_fail(HL_ERR_INVALID, "hl_sandbox_execute: %s is NULL", !sb ? "sandbox" : "code");
    goto done;
  }
  if (sb->busy) {
    ex.status = hl_fail(HL_ERR_STATE, "hl_sandbox_execute: the sandbox is already executing");
    goto done;
  }
  if (sb->py) {
    ex.status = hl__py_execute(sb, ctx, code, res);
    goto done;
  }
  uint64_t t0 = hl__sb_exec_begin(sb, ctx);

  if (sb->vm && hl_vm_broken(sb->vm)) {
    /* Cannot happen (a trap resets at once) unless that reset failed. */
    hl_status st = make_vm(sb);
    if (st) {
      ex.status = st;
      ex.error = strdup(hl_last_error());
    }
  }
  atomic_store(&sb->hard_stop, 0);
  if (!ex.error) {
    /* The watch's fields, before arming publishes them to its thread. */
    sb->grace_started = false;
    sb->cpu_clock_ok = pthread_getcpuclockid(pthread_self(), &sb->cpu_clock) == 0;
    hl_status st = hl__watch_arm(&sb->watch, sb->deadline_ns ? sb->deadline_ns : UINT64_MAX);
    if (st) {
      ex.status = st;
      ex.error = strdup(hl_last_error());
    } else {
      sb->armed = true;
      /* After arming: a cancel that came before it found nothing to
       * advance. */
      if (atomic_load(&sb->cancel_requested))
        hl__sb_cancel(sb);
    }
  }
  if (!ex.error && hl__sb_check_stop(sb) == HL_OK)
    run(sb, code, &ex);
  /* The watchdog lets go of the vm before anything below may replace it.
   * A hard stop that came when the code had already finished changes
   * nothing; one that stopped it is the reason it ended. */
  bool finished = ex.status == HL_OK && !sb->abort_status && !hl_vm_broken(sb->vm);
  stop_disarm(sb);
  int hard = atomic_load(&sb->hard_stop);
  if (hard && !finished)
    hl__sb_abort_for(sb, hard);
  /* Before any reset below: the requests belong to this instance. */
  clear_queue(sb);

  if (sb->abort_status) {
    /* A limit stopped the execution: its reason wins over the
     * "interrupted" exception it caused. */
    free(ex.error);
    free(ex.value_json);
    ex.value_json = NULL;
    ex.status = sb->abort_status;
    ex.error = strdup(sb->abort_msg);
  }
  if (hl_vm_broken(sb->vm)) {
    /* The instance trapped or was stopped: its memory may be inconsistent.
     * Start over from the snapshot; the session's state is lost. */
    hl_status st = make_vm(sb);
    char *msg = ex.error;
    size_t n = strlen(msg ? msg : "") + 64;
    ex.error = malloc(n);
    if (ex.error)
      snprintf(ex.error, n, "%s; the session was reset%s", msg ? msg : "",
               st ? " (and the reset failed)" : "");
    free(msg);
  }
  take_output(sb, res);
  res->value_json = ex.value_json;
  hl__sb_exec_end(sb, res, t0);
  if (ex.status != HL_OK)
    hl_fail(ex.status, "%s", ex.error ? ex.error : hl_strerror(ex.status));
  free(ex.error);
done:
  if (!res->stdout_text)
    res->stdout_text = strdup("");
  if (!res->stderr_text)
    res->stderr_text = strdup("");
  res->status = ex.status;
  /* Hand over the fields the caller's version has; free the others. */
  size_t size = out->size < sizeof full ? out->size : sizeof full;
  memcpy(out, &full, size);
  memset(&full, 0, size);
  full.size = sizeof full;
  hl_sandbox_result_clear(&full);
  return ex.status;
}
