/*
 * lib/sandbox/qjs_imports.c - the module's imports: everything QuickJS
 * can reach outside its linear memory.
 *
 * The emscripten build imports a small libc surface (write, time, heap
 * growth, abort) and quickjs-emscripten's host hooks (call a host
 * function, interrupt, module loading). Each is answered here without
 * touching the host process: no files, no environment, no module loading,
 * time in UTC, and heap growth capped at the sandbox's memory limit.
 * Names are the minified ones from dist/emscripten-module.mjs.
 */
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "qjs_vm_internal.h"

typedef struct Z_a_instance_t vm_t;

/* The imported memory. */
wasm_rt_memory_t *Z_aZ_a(vm_t *vm) { return &vm->mem; }

/* __assert_fail, abort, proc_exit: QuickJS gave up; unwind the sandbox. */
void Z_aZ_b(vm_t *vm, u32 cond, u32 file, u32 line, u32 func) {
  (void)vm, (void)cond, (void)file, (void)line, (void)func;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}
void Z_aZ_q(vm_t *vm) {
  (void)vm;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}
void Z_aZ_r(vm_t *vm, u32 code) {
  (void)vm, (void)code;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}

/* fd_write(fd, iov, iovcnt, *nwritten): QuickJS's own printf output (it
 * prints rarely, e.g. on internal errors) goes to the sandbox's streams. */
u32 Z_aZ_c(vm_t *vm, u32 fd, u32 iov, u32 iovcnt, u32 pnum) {
  uint32_t total = 0;
  for (uint32_t i = 0; i < iovcnt && i < 1024; i++) {
    uint32_t base = hl_vm_load32(vm, iov + 8 * i);
    uint32_t len = hl_vm_load32(vm, iov + 8 * i + 4);
    uint8_t *p = hl_vm_mem(vm, base, len);
    if (vm->hooks.write && len) {
      hl_vm_fix_text((char *)p, len, false);
      (void)vm->hooks.write(vm->ud, fd == 1 ? 1 : 2, (const char *)p, len);
    }
    total += len;
  }
  hl_vm_store32(vm, pnum, total);
  return 0;
}

/* fd_close: ENOSYS (52); fd_seek: ESPIPE (70). There are no files. */
u32 Z_aZ_d(vm_t *vm, u32 fd) {
  (void)vm, (void)fd;
  return 52;
}
u32 Z_aZ_o(vm_t *vm, u32 fd, u64 offset, u32 whence, u32 pnewoffset) {
  (void)vm, (void)fd, (void)offset, (void)whence, (void)pnewoffset;
  return 70;
}

/* environ_get / environ_sizes_get: an empty environment. */
u32 Z_aZ_e(vm_t *vm, u32 environ, u32 buf) {
  (void)vm, (void)environ, (void)buf;
  return 0;
}
u32 Z_aZ_f(vm_t *vm, u32 pcount, u32 psize) {
  hl_vm_store32(vm, pcount, 0);
  hl_vm_store32(vm, psize, 0);
  return 0;
}

/* Module loading is never enabled: no name resolves. */
u32 Z_aZ_g(vm_t *vm, u32 rt, u32 ctx, u32 base, u32 name) {
  (void)vm, (void)rt, (void)ctx, (void)base, (void)name;
  return 0;
}
u32 Z_aZ_h(vm_t *vm, u32 rt, u32 ctx, u32 name) {
  (void)vm, (void)rt, (void)ctx, (void)name;
  return 0;
}

/* Interrupt handler: polled by QuickJS while JavaScript runs. */
u32 Z_aZ_i(vm_t *vm, u32 rt) {
  (void)rt;
  return vm->hooks.interrupt ? (u32)(vm->hooks.interrupt(vm->ud) != 0) : 0;
}

/* _setitimer_js: no timers inside the sandbox. */
u32 Z_aZ_j(vm_t *vm, u32 which, f64 ms) {
  (void)vm, (void)which, (void)ms;
  return 0;
}

/* emscripten_resize_heap(requested bytes): grow within the reservation,
 * never past the limit. Grows by a fifth more than asked, as emscripten's
 * JavaScript does, so that a growing heap does not call in on every page. */
u32 Z_aZ_k(vm_t *vm, u32 requested) {
  uint64_t need = ((uint64_t)requested + 65535) / 65536;
  if (need <= vm->mem.pages)
    return 1;
  if (need > vm->limit_pages)
    return 0;
  uint64_t want = vm->mem.pages + vm->mem.pages / 5;
  if (want < need)
    want = need;
  if (want > vm->limit_pages)
    want = vm->limit_pages;
  /* The pages are already mapped (zero-filled, reserved up to the limit);
   * growing only moves the bound that every access is checked against. */
  vm->mem.pages = (uint32_t)want;
  vm->mem.size = (uint32_t)(want * 65536);
  return 1;
}

/* _emscripten_runtime_keepalive_clear */
void Z_aZ_l(vm_t *vm) { (void)vm; }

/* _localtime_js(time, struct tm *): UTC, so the host's time zone does not
 * leak into the sandbox. */
void Z_aZ_m(vm_t *vm, u64 t, u32 tm) {
  time_t secs = (time_t)(int64_t)t;
  struct tm out;
  if (!gmtime_r(&secs, &out))
    memset(&out, 0, sizeof out);
  int32_t fields[10] = {out.tm_sec, out.tm_min, out.tm_hour, out.tm_mday, out.tm_mon,
                        out.tm_year, out.tm_wday, out.tm_yday, 0 /* isdst */,
                        0 /* gmtoff */};
  memcpy(hl_vm_mem(vm, tm, sizeof fields), fields, sizeof fields);
}

/* _tzset_js(*timezone, *daylight, std_name, dst_name): UTC. */
void Z_aZ_n(vm_t *vm, u32 ptimezone, u32 pdaylight, u32 std_name, u32 dst_name) {
  hl_vm_store32(vm, ptimezone, 0);
  hl_vm_store32(vm, pdaylight, 0);
  memcpy(hl_vm_mem(vm, std_name, 4), "UTC", 4);
  memcpy(hl_vm_mem(vm, dst_name, 4), "UTC", 4);
}

/* emscripten_date_now: milliseconds since the epoch. */
f64 Z_aZ_p(vm_t *vm) {
  (void)vm;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

/* Read argument `i` of a host function call as a string (borrowed from
 * QuickJS: free with QTS_FreeCString). */
static uint32_t arg_string(vm_t *vm, u32 ctx, u32 argv, u32 i) {
  uint32_t v = QTS_ArgvGetJSValueConstPointer(vm, argv, i);
  return QTS_GetString(vm, ctx, v);
}

/* qts_host_call_function(ctx, this, argc, argv, host_ref_id): the two host
 * functions the prelude holds. Returns a JSValue* (0 = undefined). */
u32 Z_aZ_s(vm_t *vm, u32 ctx, u32 this_ptr, u32 argc, u32 argv, u32 fn_id) {
  (void)this_ptr;
  if (fn_id == HL_VM_HOST_WRITE && argc >= 2) {
    /* write(stream, text): returns true once output is closed. */
    double stream = QTS_GetFloat64(vm, ctx, QTS_ArgvGetJSValueConstPointer(vm, argv, 0));
    int fd = stream == 2 ? 2 : 1;
    uint32_t s = arg_string(vm, ctx, argv, 1);
    bool open = true;
    if (s) {
      uint32_t len = hl_vm_strlen(vm, s);
      /* The converted copy is ours until freed: fix it in place. */
      hl_vm_fix_text((char *)vm->mem.data + s, len, false);
      if (vm->hooks.write)
        open = vm->hooks.write(vm->ud, fd, (const char *)vm->mem.data + s, len);
      QTS_FreeCString(vm, ctx, s);
    } else if (vm->hooks.write) {
      open = vm->hooks.write(vm->ud, fd, NULL, 0); /* no memory to convert it */
    }
    if (!open)
      return QTS_DupValuePointer(vm, ctx, QTS_GetTrue(vm));
  } else if (fn_id == HL_VM_HOST_CALL && argc >= 4) {
    /* call(name, args, resolve, reject, member): args is JSON text, or a
     * plain object whose text the host writes (qjs_args_json.c). */
    uint32_t argsv = QTS_ArgvGetJSValueConstPointer(vm, argv, 1);
    uint32_t args = 0;
    char *written = NULL;
    size_t written_len = 0;
    if (hl_vm_load32(vm, argsv + 4) == HL_JS_TAG_OBJECT) {
      int r = argc >= 5 ? hl__vm_args_json(vm, ctx, argsv,
                                            QTS_ArgvGetJSValueConstPointer(vm, argv, 4),
                                            &written, &written_len)
                        : 1;
      if (r != 0) /* true: stringify it yourself; false: it cannot be */
        return QTS_DupValuePointer(vm, ctx, r > 0 ? QTS_GetTrue(vm) : QTS_GetFalse(vm));
      vm->held = written; /* freed by vm_enter if a wasm call below traps */
    } else {
      args = arg_string(vm, ctx, argv, 1);
    }
    uint32_t name = arg_string(vm, ctx, argv, 0);
    hl_vm_request req = {
      QTS_DupValuePointer(vm, ctx, QTS_ArgvGetJSValueConstPointer(vm, argv, 2)),
      QTS_DupValuePointer(vm, ctx, QTS_ArgvGetJSValueConstPointer(vm, argv, 3))};
    bool kept = false;
    if (name && (args || written) && req.resolve && req.reject && vm->hooks.call) {
      const char *text = written;
      size_t text_len = written_len;
      if (!written) {
        text_len = hl_vm_strlen(vm, args);
        text = (const char *)vm->mem.data + args;
      }
      (void)hl_vm_strlen(vm, name); /* traps if unterminated */
      kept = vm->hooks.call(vm->ud, req, (const char *)vm->mem.data + name, text, text_len);
    }
    if (written) {
      free(written);
      vm->held = NULL;
    }
    if (!kept) {
      if (req.resolve)
        QTS_FreeValuePointer(vm, ctx, req.resolve);
      if (req.reject)
        QTS_FreeValuePointer(vm, ctx, req.reject);
    }
    if (name)
      QTS_FreeCString(vm, ctx, name);
    if (args)
      QTS_FreeCString(vm, ctx, args);
  }
  return 0;
}

/* freeHostRef(rt, id): host functions have no host-side state to free. */
void Z_aZ_t(vm_t *vm, u32 rt, u32 id) { (void)vm, (void)rt, (void)id; }
