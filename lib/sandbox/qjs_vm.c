/*
 * lib/sandbox/qjs_vm.c - QuickJS instances in WebAssembly linear memory:
 * the template, snapshots, copy-on-write creation, and the operations the
 * sandbox needs (eval, run jobs, settle callbacks, read results).
 *
 * Creating a vm: the process builds one template instance on first use
 * (instantiate the module, run its constructors, create the QuickJS
 * runtime and context, run the prelude) and snapshots it: the linear
 * memory goes into a memfd, the one wasm global (the stack pointer) and
 * the function table are copied. A new vm reserves address space up to its
 * memory limit and maps the memfd privately over the start of it, so
 * pages are shared with the template until written (copy-on-write). All
 * pointers inside linear memory (JSRuntime, JSContext, the prelude's
 * functions) are the same in every copy.
 */
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qjs_vm_internal.h"
#include "snapshot_io.h"
#include "wasm_entry.h"

typedef struct Z_a_instance_t vm_t;

#define PAGE_BYTES 65536u
/* The module's own maximum (32768 pages = 2 GiB). */
#define MODULE_MAX_PAGES 32768u

/* ------------------------------------------------------------------ */
/* Linear memory                                                        */
/* ------------------------------------------------------------------ */

static size_t limit_to_pages(size_t limit) {
  size_t pages = limit / PAGE_BYTES;
  return pages > MODULE_MAX_PAGES ? MODULE_MAX_PAGES : pages;
}

/* Reserve the whole range up front: growth never moves memory, and the
 * kernel only commits pages that are touched (MAP_NORESERVE). */
static hl_status memory_reserve(vm_t *vm, uint32_t limit_pages) {
  size_t len = (size_t)limit_pages * PAGE_BYTES;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return hl_fail(HL_ERR_NOMEM, "sandbox: cannot reserve %zu bytes of linear memory: %s",
                   len, strerror(errno));
  vm->map = p;
  vm->map_len = len;
  vm->limit_pages = limit_pages;
  vm->mem.data = p;
  vm->mem.max_pages = limit_pages;
  return HL_OK;
}

static void memory_release(vm_t *vm) {
  if (vm->map)
    munmap(vm->map, vm->map_len);
  vm->map = NULL;
  vm->mem.data = NULL;
  vm->mem.size = vm->mem.pages = 0;
}

/* ------------------------------------------------------------------ */
/* Running wasm code under a trap target                                */
/* ------------------------------------------------------------------ */

typedef hl_status (*vm_op)(vm_t *vm, void *arg);

static pthread_once_t module_once = PTHREAD_ONCE_INIT;
/* The module's function types, registered once per process. */
static void module_init(void) { Z_qjs_init_module(); }

static hl_status template_checked(vm_t *vm);

/* What a vm needs before its first entry, done then rather than when it is
 * made: a sandbox that is made and never (or not yet) used costs only its
 * mappings, and a process's first sandbox does not wait for the module's
 * function types and table (~40 us of a cold start). The function table
 * as instantiation fills it (entries close over this instance): no code
 * of the module writes its table, so every snapshot's table is this one,
 * and snapshots carry only its size, checked here. A vm made from the
 * template file has the file's image checked first (template_checked). */
static hl_status vm_prepare(vm_t *vm) {
  if (vm->unchecked) {
    hl_status st = template_checked(vm);
    if (st)
      return st;
  }
  pthread_once(&module_once, module_init); /* the table's function types */
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  /* The fill traps (out of bounds) on a table that could not be allocated. */
  HL_WASM_TRY(frame, trap, Z_qjs_init_table_only(&vm->inst));
  if (trap != WASM_RT_TRAP_NONE || !vm->inst.w2c_T0.data) {
    Z_qjs_free(&vm->inst);
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory building the function table");
  }
  if (vm->inst.w2c_T0.size != vm->table_size || vm->inst.w2c_T0.max_size != vm->table_max) {
    vm->broken = true;
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the snapshot does not match this module's table");
  }
  return HL_OK;
}

/* Inside wasm, before the operation: the heap limit set since the last
 * entry. */
static void apply_heap_limit(vm_t *vm) {
  if (!vm->heap_limit_pending)
    return;
  vm->heap_limit_pending = false;
  size_t bytes = vm->heap_limit;
  uint32_t v = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
  QTS_RuntimeSetMemoryLimit(vm, vm->rt, bytes ? v : UINT32_MAX);
}

/* Run `op` in the vm under a trap target. */
static hl_status vm_enter(vm_t *vm, vm_op op, void *arg) {
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  volatile hl_status st = HL_OK;
  HL_WASM_TRY(frame, trap,
              (hl_wasm_open_calls(&vm->mem), apply_heap_limit(vm), st = op(vm, arg)));
  hl_status err = hl_wasm_entry_status(&vm->mem, trap);
  if (err) {
    free(vm->held);
    vm->held = NULL;
    vm->broken = true;
    vm->promise = 0;
    vm->value_state = 0;
    return err;
  }
  return st;
}

/* Every operation on a vm made by hl_vm_new goes through here. */
static hl_status vm_run(vm_t *vm, vm_op op, void *arg) {
  if (vm->broken)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the instance trapped earlier and must be reset");
  if (!vm->inst.w2c_T0.data) {
    hl_status st = vm_prepare(vm);
    if (st)
      return st;
  }
  return vm_enter(vm, op, arg);
}

void hl_vm_interrupt(hl_vm *vm) {
  atomic_store(&vm->mem.interrupt, 1);
  atomic_store(&vm->mem.call_limit, 0);
}

bool hl_vm_reopen(hl_vm *vm) { return hl_wasm_reopen(&vm->mem, vm->broken); }

_Noreturn void hl__vm_stop(void) { wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE); }

/* Copy `len` bytes into a fresh NUL-terminated block of linear memory. */
static uint32_t wasm_strdup(vm_t *vm, const char *s, size_t len) {
  if (len >= UINT32_MAX - 1)
    return 0;
  uint32_t p = qts_malloc(vm, (uint32_t)len + 1);
  if (!p)
    return 0;
  uint8_t *dst = hl_vm_mem(vm, p, (uint32_t)len + 1);
  memcpy(dst, s, len);
  dst[len] = 0;
  return p;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The code unit of the JSON escape \uXXXX at s[i], or -1. */
static long json_escape_at(const char *s, size_t len, size_t i) {
  if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u')
    return -1;
  long cp = 0;
  for (size_t k = 2; k < 6; k++) {
    int h = hex_value(s[i + k]);
    if (h < 0)
      return -1;
    cp = cp * 16 + h;
  }
  return cp;
}

void hl_vm_fix_text(char *s, size_t len, bool json) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0xED && i + 2 < len && (unsigned char)s[i + 1] >= 0xA0 &&
        (unsigned char)s[i + 1] <= 0xBF) {
      /* ED A0-BF xx is a UTF-16 surrogate, never valid UTF-8. */
      memcpy(s + i, "\xEF\xBF\xBD", 3);
      i += 2;
    } else if (json && c == '\\') {
      long cp = json_escape_at(s, len, i);
      if (cp < 0) {
        i++; /* another escape: skip the escaped character */
        continue;
      }
      long next = cp >= 0xD800 && cp <= 0xDBFF ? json_escape_at(s, len, i + 6) : -1;
      if (next >= 0xDC00 && next <= 0xDFFF) {
        i += 11; /* a whole pair */
        continue;
      }
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        memcpy(s + i + 2, "fffd", 4);
      i += 5;
    }
  }
}

/* The string value of JSValue* `v`, copied to the C heap, and `v` freed.
 * Every caller reads JSON text, which is made parseable by the host on the
 * way out. The copy is parked in vm->held across the two frees, which are
 * wasm calls: a hard stop traps the next one, and vm_enter then frees it
 * instead of losing it. */
static char *take_string(vm_t *vm, uint32_t v) {
  uint32_t s = QTS_GetString(vm, vm->ctx, v);
  char *out = NULL;
  if (s) {
    uint32_t len = hl_vm_strlen(vm, s);
    out = malloc((size_t)len + 1);
    if (out) {
      memcpy(out, vm->mem.data + s, len);
      out[len] = 0;
      hl_vm_fix_text(out, len, true);
    }
    vm->held = out;
    QTS_FreeCString(vm, vm->ctx, s);
  }
  QTS_FreeValuePointer(vm, vm->ctx, v);
  vm->held = NULL;
  return out;
}

/* Call prelude function `fn` with argument JSValue* `argv0`. Returns the
 * result JSValue* (owned) or 0 after an exception, whose description is
 * left in *error (C heap) when `error` is not NULL. */
static uint32_t call1(vm_t *vm, uint32_t fn, uint32_t argv0, char **error) {
  /* The argument array lives in the scratch block: nothing else uses it
   * until QTS_Call returns (host calls from JavaScript only record). */
  uint32_t argv = vm->scratch;
  hl_vm_store32(vm, argv, argv0);
  uint32_t r = QTS_Call(vm, vm->ctx, fn, vm->undefined_ptr, 1, argv);
  uint32_t exc = QTS_ResolveException(vm, vm->ctx, r);
  if (!exc)
    return r;
  QTS_FreeValuePointer(vm, vm->ctx, r);
  if (error && fn != vm->fn_describe) {
    uint32_t d = call1(vm, vm->fn_describe, exc, NULL);
    if (d) {
      *error = take_string(vm, d);
    }
  }
  QTS_FreeValuePointer(vm, vm->ctx, exc);
  return 0;
}

/* Call prelude function `fn` with one string argument, ignoring the result. */
static hl_status call_with_string(vm_t *vm, uint32_t fn, const char *s, size_t len, const char *what) {
  uint32_t str = wasm_strdup(vm, s, len);
  if (!str)
    return hl_fail(HL_ERR_LIMIT, "sandbox: out of memory passing %s", what);
  uint32_t v = QTS_NewString(vm, vm->ctx, str);
  qts_free(vm, str);
  char *error = NULL;
  uint32_t r = call1(vm, fn, v, &error);
  QTS_FreeValuePointer(vm, vm->ctx, v);
  if (!r) {
    hl_status st = hl_fail(HL_ERR_EXECUTION_FAILED, "sandbox: %s failed: %s", what,
                           error ? error : "exception");
    free(error);
    return st;
  }
  QTS_FreeValuePointer(vm, vm->ctx, r);
  return HL_OK;
}

/* ------------------------------------------------------------------ */
/* The template                                                         */
/* ------------------------------------------------------------------ */

static pthread_once_t template_once = PTHREAD_ONCE_INIT;
static hl_vm_snapshot *template_snap;
static hl_status template_status = HL_ERR_SANDBOX;
static char template_error[256];

/* Size of the template's memory reservation: room for QuickJS to set up. */
#define TEMPLATE_PAGES 512u

static void build_template(void);

void hl__vm_template_init(void) { pthread_once(&template_once, build_template); }

static hl_status template_setup(vm_t *vm, void *arg) {
  (void)arg;
  Z_qjs_instantiate(&vm->inst, vm);
  qts_ctors(vm);
  vm->undefined_ptr = QTS_GetUndefined(vm);
  vm->rt = QTS_NewRuntime(vm);
  if (!vm->rt)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: QuickJS runtime creation failed");
  vm->ctx = QTS_NewContext(vm, vm->rt, 0);
  if (!vm->ctx)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: QuickJS context creation failed");
  QTS_RuntimeEnableInterruptHandler(vm, vm->rt);

  static const char filename[] = "<sandbox>";
  vm->filename = wasm_strdup(vm, filename, sizeof filename - 1);
  vm->scratch = qts_malloc(vm, 16);
  uint32_t key = wasm_strdup(vm, "value", 5);
  vm->key_value = key ? QTS_NewString(vm, vm->ctx, key) : 0;
  if (key)
    qts_free(vm, key);
  uint32_t name_write = wasm_strdup(vm, "write", 5);
  uint32_t name_call = wasm_strdup(vm, "call", 4);
  uint32_t code = wasm_strdup(vm, hl__prelude_js, strlen(hl__prelude_js));
  if (!vm->filename || !vm->key_value || !vm->scratch || !name_write || !name_call || !code)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory in the template");

  uint32_t factory = QTS_Eval(vm, vm->ctx, code, (uint32_t)strlen(hl__prelude_js),
                              vm->filename, 0, HL_JS_EVAL_TYPE_GLOBAL);
  qts_free(vm, code);
  if (QTS_ResolveException(vm, vm->ctx, factory))
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the prelude does not compile");
  uint32_t fwrite_ = QTS_NewFunction(vm, vm->ctx, name_write, 2, 0, HL_VM_HOST_WRITE);
  uint32_t fcall = QTS_NewFunction(vm, vm->ctx, name_call, 4, 0, HL_VM_HOST_CALL);
  qts_free(vm, name_write);
  qts_free(vm, name_call);

  uint32_t argv = qts_malloc(vm, 8);
  if (!argv)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory in the template");
  hl_vm_store32(vm, argv, fwrite_);
  hl_vm_store32(vm, argv + 4, fcall);
  uint32_t fns = QTS_Call(vm, vm->ctx, factory, vm->undefined_ptr, 2, argv);
  qts_free(vm, argv);
  QTS_FreeValuePointer(vm, vm->ctx, fwrite_);
  QTS_FreeValuePointer(vm, vm->ctx, fcall);
  QTS_FreeValuePointer(vm, vm->ctx, factory);
  if (QTS_ResolveException(vm, vm->ctx, fns))
    return hl_fail(HL_ERR_SANDBOX, "sandbox: the prelude failed");
  vm->fn_define = QTS_GetPropNumber(vm, vm->ctx, fns, 0);
  vm->fn_settle = QTS_GetPropNumber(vm, vm->ctx, fns, 1);
  vm->fn_finish = QTS_GetPropNumber(vm, vm->ctx, fns, 2);
  vm->fn_describe = QTS_GetPropNumber(vm, vm->ctx, fns, 3);
  QTS_FreeValuePointer(vm, vm->ctx, fns);
  return HL_OK;
}

hl_status hl__vm_template_build(hl_vm_snapshot **out) {
  *out = NULL;
  vm_t *vm = calloc(1, sizeof *vm);
  if (!vm)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  pthread_once(&module_once, module_init);
  hl_status st = memory_reserve(vm, TEMPLATE_PAGES);
  if (st == HL_OK) {
    vm->mem.pages = 256; /* the module's initial memory */
    vm->mem.size = 256 * PAGE_BYTES;
    st = vm_enter(vm, template_setup, NULL); /* it instantiates the module itself */
  }
  if (st == HL_OK)
    st = hl_vm_snapshot_take(vm, out);
  Z_qjs_free(&vm->inst);
  memory_release(vm);
  free(vm);
  return st;
}

hl_status hl__vm_fresh_table(hl_vm_snapshot *s) {
  pthread_once(&module_once, module_init);
  /* Only the table: no memory, no code of the module runs. Its allocation
   * failing would make the fill trap (out of bounds): caught here. */
  Z_qjs_instance_t inst;
  memset(&inst, 0, sizeof inst);
  hl_wasm_frame frame;
  wasm_rt_trap_t trap;
  HL_WASM_TRY(frame, trap, Z_qjs_init_table_only(&inst));
  hl_status st = HL_OK;
  if (trap != WASM_RT_TRAP_NONE || !inst.w2c_T0.data) {
    st = hl_fail(HL_ERR_NOMEM, "sandbox: out of memory building the function table");
  } else {
    /* The snapshot takes the table as it is: no copy. */
    s->table_size = inst.w2c_T0.size;
    s->table_max = inst.w2c_T0.max_size;
    free(s->table);
    s->table = inst.w2c_T0.data;
    inst.w2c_T0.data = NULL;
    inst.w2c_T0.size = 0;
  }
  Z_qjs_free(&inst);
  return st;
}

static const char *template_origin = "none";
static char template_origin_path[512];

/* The template file's header, for the check of its image before a vm
 * made from it first runs (template_checked). */
static hl_snapshot_head template_head;

static hl_status load_template(int fd, const char *path, void *ud) {
  (void)ud;
  return hl__vm_snapshot_load_fd(fd, path, &template_head, &template_snap);
}

/* The template from the snapshot file the build wrote, if one is usable:
 * next to the library (the installed layout), where it is installed,
 * else where this build wrote it (snapshot_io.c).
 * HOOKLINE_SANDBOX_SNAPSHOT names another file, or is empty to always
 * build at run time. */
static bool load_template_file(void) {
  static const hl_snapshot_places places = {
    .env = "HOOKLINE_SANDBOX_SNAPSHOT",
    .name = HL_SANDBOX_SNAPSHOT_NAME,
    .library_addr = (const void *)&hl_vm_new,
#ifdef HL_SANDBOX_SNAPSHOT_INSTALL_PATH
    .install_path = HL_SANDBOX_SNAPSHOT_INSTALL_PATH,
#endif
#ifdef HL_SANDBOX_SNAPSHOT_BUILD_PATH
    .build_path = HL_SANDBOX_SNAPSHOT_BUILD_PATH,
#endif
#ifdef HL_LIBRARY_BUILD_DIR
    .library_build_dir = HL_LIBRARY_BUILD_DIR,
#endif
    .note = "building the sandbox snapshot at run time",
  };
  if (!hl__snapshot_template_find(&places, load_template, NULL, template_origin_path,
                                  sizeof template_origin_path))
    return false;
  template_origin = "file";
  return true;
}

/* The template file's image: not checked yet, good, or corrupt (then
 * vms use template_fallback, initialised at run time). */
enum { IMAGE_UNCHECKED, IMAGE_GOOD, IMAGE_BAD };
static atomic_int template_image = IMAGE_GOOD;
static pthread_once_t check_once = PTHREAD_ONCE_INIT;
static hl_vm_snapshot *template_fallback;
static hl_status fallback_status = HL_OK;
static char fallback_error[256];

static void check_template_image(void) {
  if (hl__snapshot_file_verify(template_snap->fd, template_origin_path, &template_head) == HL_OK) {
    atomic_store(&template_image, IMAGE_GOOD);
    return;
  }
  /* The same one line as for a file that cannot be used at all. */
  fprintf(stderr, "hookline: %s; building the sandbox snapshot at run time\n", hl_last_error());
  hl_status st = hl__vm_template_build(&template_fallback);
  if (st) {
    fallback_status = st;
    snprintf(fallback_error, sizeof fallback_error, "%s", hl_last_error());
  }
  template_origin = "built";
  atomic_store(&template_image, IMAGE_BAD);
}

static void build_template(void) {
  if (load_template_file()) {
    atomic_store(&template_image, IMAGE_UNCHECKED);
    template_status = HL_OK;
    return;
  }
  hl_status st = hl__vm_template_build(&template_snap);
  if (st) {
    snprintf(template_error, sizeof template_error, "%s", hl_last_error());
    template_status = st;
    return;
  }
  template_origin = "built";
  template_status = HL_OK;
}

const char *hl__vm_template_origin(const char **path) {
  if (path)
    *path = template_origin_path;
  return template_origin;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                            */
/* ------------------------------------------------------------------ */

static bool page_is_zero(const uint8_t *p, size_t n) {
  static const uint8_t zero[4096];
  for (size_t off = 0; off < n; off += sizeof zero)
    if (memcmp(p + off, zero, n - off < sizeof zero ? n - off : sizeof zero) != 0)
      return false;
  return true;
}

static hl_status op_cache_clear(vm_t *vm, void *p) {
  (void)p;
  hl__code_cache_clear(vm);
  return HL_OK;
}

hl_status hl_vm_snapshot_take(hl_vm *vm, hl_vm_snapshot **out) {
  *out = NULL;
  if (vm->broken)
    return hl_fail(HL_ERR_SANDBOX, "sandbox: cannot snapshot an instance that trapped");
  /* The table's size goes into the snapshot: fill it if the vm never ran. */
  if (!vm->inst.w2c_T0.data) {
    hl_status st = vm_prepare(vm);
    if (st)
      return st;
  }
  /* A snapshot carries no compiled code: vms made from it start with an
   * empty cache and would never free what it held. */
  if (vm->code_cache.n) {
    hl_status st = vm_run(vm, op_cache_clear, NULL);
    if (st)
      return st;
  }
  hl_vm_snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  s->fd = -1;
  size_t bytes = (size_t)vm->mem.pages * PAGE_BYTES;
  s->pages = vm->mem.pages;

  /* memfd: only non-zero 4 KiB pages are written, the rest stay holes
   * that read as zero and cost nothing to map. */
  int fd = memfd_create("hookline-sandbox", MFD_CLOEXEC);
  if (fd >= 0 && ftruncate(fd, (off_t)bytes) == 0) {
    bool ok = true;
    for (size_t off = 0; off < bytes && ok; off += 4096) {
      const uint8_t *p = vm->mem.data + off;
      if (page_is_zero(p, 4096))
        continue;
      if (pwrite(fd, p, 4096, (off_t)off) != 4096)
        ok = false;
    }
    if (ok)
      s->fd = fd;
    else
      close(fd);
  } else if (fd >= 0) {
    close(fd);
  }
  if (s->fd < 0) {
    s->image = malloc(bytes);
    if (!s->image) {
      free(s);
      return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory copying a snapshot");
    }
    memcpy(s->image, vm->mem.data, bytes);
  }

  s->g0 = vm->inst.w2c_g0;
  s->table_size = vm->inst.w2c_T0.size;
  s->table_max = vm->inst.w2c_T0.max_size;
  s->table = calloc(s->table_size ? s->table_size : 1, sizeof *s->table);
  if (!s->table) {
    hl_vm_snapshot_free(s);
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  }
  memcpy(s->table, vm->inst.w2c_T0.data, s->table_size * sizeof *s->table);
  s->rt = vm->rt;
  s->ctx = vm->ctx;
  s->fn_define = vm->fn_define;
  s->fn_settle = vm->fn_settle;
  s->fn_finish = vm->fn_finish;
  s->fn_describe = vm->fn_describe;
  s->undefined_ptr = vm->undefined_ptr;
  s->filename = vm->filename;
  s->key_value = vm->key_value;
  s->scratch = vm->scratch;
  *out = s;
  return HL_OK;
}

void hl_vm_snapshot_free(hl_vm_snapshot *s) {
  if (!s)
    return;
  if (s->fd >= 0)
    close(s->fd);
  free(s->image);
  free(s->table);
  free(s);
}

/* ------------------------------------------------------------------ */
/* Instances                                                            */
/* ------------------------------------------------------------------ */

/* Map `snap`'s image over the start of the vm's reservation and take its
 * globals and addresses. */
static hl_status vm_map(vm_t *vm, const hl_vm_snapshot *snap) {
  size_t bytes = (size_t)snap->pages * PAGE_BYTES;
  if (snap->pages > vm->limit_pages)
    return hl_fail(HL_ERR_INVALID, "sandbox: memory limit %zu bytes is below the minimum %zu",
                   vm->map_len, bytes);
  if (snap->fd >= 0) {
    void *p = mmap(vm->map, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, snap->fd,
                   (off_t)snap->offset);
    if (p == MAP_FAILED)
      return hl_fail(HL_ERR_NOMEM, "sandbox: cannot map the snapshot: %s", strerror(errno));
  } else {
    memcpy(vm->map, snap->image, bytes);
  }
  vm->mem.pages = snap->pages;
  vm->mem.size = (uint32_t)bytes;
  vm->inst.w2c_g0 = snap->g0;
  /* The function table is filled at the first entry (vm_prepare). */
  vm->table_size = snap->table_size;
  vm->table_max = snap->table_max;
  vm->rt = snap->rt;
  vm->ctx = snap->ctx;
  vm->fn_define = snap->fn_define;
  vm->fn_settle = snap->fn_settle;
  vm->fn_finish = snap->fn_finish;
  vm->fn_describe = snap->fn_describe;
  vm->undefined_ptr = snap->undefined_ptr;
  vm->filename = snap->filename;
  vm->key_value = snap->key_value;
  vm->scratch = snap->scratch;
  return HL_OK;
}

/* Before a vm made from the template file first runs: the file's image
 * checked against its checksum (once per process, the first such vm's
 * first entry pays it); when it is corrupt, the template is initialised
 * at run time (one line on stderr, as for a file that cannot be used)
 * and the vm, which never ran, starts over from that one. */
static hl_status template_checked(vm_t *vm) {
  pthread_once(&check_once, check_template_image);
  vm->unchecked = false;
  if (atomic_load(&template_image) != IMAGE_BAD)
    return HL_OK;
  hl_status st = fallback_status ? hl_fail(fallback_status, "%s", fallback_error) : HL_OK;
  if (st == HL_OK) {
    /* Back to zero pages, then the run-time template over them. */
    if (mmap(vm->map, vm->mem.size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
      st = hl_fail(HL_ERR_NOMEM, "sandbox: cannot reset the memory: %s", strerror(errno));
    else
      st = vm_map(vm, template_fallback);
  }
  if (st)
    vm->broken = true;
  return st;
}

hl_status hl_vm_new(const hl_vm_snapshot *snap, size_t memory_limit,
                    const hl_vm_hooks *hooks, void *ud, hl_vm **out) {
  *out = NULL;
  bool unchecked = false;
  if (!snap) {
    hl__vm_template_init();
    if (template_status != HL_OK)
      return hl_fail(template_status, "%s", template_error);
    int image = atomic_load(&template_image);
    if (image == IMAGE_BAD && fallback_status != HL_OK)
      return hl_fail(fallback_status, "%s", fallback_error);
    snap = image == IMAGE_BAD ? template_fallback : template_snap;
    unchecked = image == IMAGE_UNCHECKED;
  }
  size_t limit_pages = limit_to_pages(memory_limit);
  if (limit_pages < snap->pages || memory_limit < HL_VM_MIN_MEMORY)
    return hl_fail(HL_ERR_INVALID, "sandbox: memory limit %zu bytes is below the minimum %zu",
                   memory_limit, HL_VM_MIN_MEMORY > (size_t)snap->pages * PAGE_BYTES
                                     ? HL_VM_MIN_MEMORY : (size_t)snap->pages * PAGE_BYTES);
  vm_t *vm = calloc(1, sizeof *vm);
  if (!vm)
    return hl_fail(HL_ERR_NOMEM, "sandbox: out of memory");
  hl_status st = memory_reserve(vm, (uint32_t)limit_pages);
  if (st == HL_OK) {
    vm->inst.Z_a_instance = vm;
    vm->inst.Z_aZ_a = &vm->mem;
    st = vm_map(vm, snap);
    if (st)
      memory_release(vm);
  }
  if (st) {
    free(vm);
    return st;
  }
  vm->unchecked = unchecked;
  if (hooks)
    vm->hooks = *hooks;
  vm->ud = ud;
  *out = vm;
  return HL_OK;
}

void hl_vm_free(hl_vm *vm) {
  if (!vm)
    return;
  /* No QuickJS teardown: the whole linear memory goes at once. */
  hl__code_cache_forget(vm);
  Z_qjs_free(&vm->inst);
  memory_release(vm);
  free(vm);
}

bool hl_vm_broken(const hl_vm *vm) { return vm->broken; }

size_t hl_vm_memory_size(const hl_vm *vm) { return vm->mem.size; }

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

typedef struct eval_arg {
  const char *code;
  size_t len;
  char *error;
} eval_arg;

static void drop_promise(vm_t *vm) {
  if (vm->promise)
    QTS_FreeValuePointer(vm, vm->ctx, vm->promise);
  vm->promise = 0;
  vm->value_state = 0;
}

/* Run compiled script `bytecode` (borrowed JSValue*) as JS_Eval would
 * after compiling it. Returns the result's JSValue* (owned), 0 when out of
 * memory. */
static uint32_t run_compiled(vm_t *vm, uint32_t bytecode) {
  uint32_t cell = QTS_DupValuePointer(vm, vm->ctx, bytecode);
  if (cell)
    Z_qjs_hl_eval_function(VM_INST(vm), vm->ctx, cell);
  return cell;
}

static hl_status op_eval(vm_t *vm, void *p) {
  eval_arg *a = p;
  drop_promise(vm);
  /* Code that never says "await" cannot use top-level await: it runs as a
   * plain global script, whose completion value comes back at once. The
   * async form costs a promise, an async frame and a {value} wrapper
   * object, about as much as compiling the code. A mere mention of await
   * (in a string, a comment, an async function) only costs that. The
   * choice depends on the text alone, as the code cache's key does. */
  bool sync = memmem(a->code, a->len, "await", 5) == NULL;
  uint32_t r;
  uint32_t compiled = hl__code_cache_find(vm, a->code, a->len);
  if (compiled) {
    r = run_compiled(vm, compiled);
  } else {
    uint32_t code = wasm_strdup(vm, a->code, a->len);
    if (!code)
      return hl_fail(HL_ERR_LIMIT, "sandbox: out of memory for the code (%zu bytes)", a->len);
    /* Compile and run as two steps, keeping the compiled script. */
    bool keep = hl__code_cache_wants(vm, a->len);
    r = QTS_Eval(vm, vm->ctx, code, (uint32_t)a->len, vm->filename, 0,
                 HL_JS_EVAL_TYPE_GLOBAL | (sync ? 0 : HL_JS_EVAL_FLAG_ASYNC) |
                     (keep ? HL_JS_EVAL_FLAG_COMPILE_ONLY : 0));
    qts_free(vm, code);
    if (keep && r && hl_vm_load32(vm, r + 4) != HL_JS_TAG_EXCEPTION) {
      compiled = r;
      bool kept = hl__code_cache_put(vm, a->code, a->len, compiled);
      r = run_compiled(vm, compiled);
      if (!kept) /* no memory for the key: run once, let it go */
        QTS_FreeValuePointer(vm, vm->ctx, compiled);
    }
  }
  if (!r)
    return hl_fail(HL_ERR_LIMIT, "sandbox: out of memory running the code");
  uint32_t exc = QTS_ResolveException(vm, vm->ctx, r);
  if (exc && sync) {
    /* Kept as the outcome, as the async form keeps a rejected promise:
     * callbacks the code started before it threw still run. */
    QTS_FreeValuePointer(vm, vm->ctx, r);
    vm->promise = exc;
    vm->value_state = HL_VM_REJECTED;
    return HL_OK;
  }
  if (exc) {
    QTS_FreeValuePointer(vm, vm->ctx, r);
    uint32_t d = call1(vm, vm->fn_describe, exc, NULL);
    QTS_FreeValuePointer(vm, vm->ctx, exc);
    if (d) {
      a->error = take_string(vm, d);
    }
    return hl_fail(HL_ERR_EXECUTION_FAILED, "sandbox: the code threw");
  }
  vm->promise = r;
  vm->value_state = sync ? HL_VM_FULFILLED : 0;
  return HL_OK;
}

hl_status hl_vm_eval(hl_vm *vm, const char *code, size_t len, char **error_json) {
  eval_arg a = {code, len, NULL};
  *error_json = NULL;
  hl_status st = vm_run(vm, op_eval, &a);
  if (st == HL_ERR_EXECUTION_FAILED)
    *error_json = a.error;
  else
    free(a.error);
  return st;
}

static hl_status op_run_jobs(vm_t *vm, void *p) {
  (void)p;
  /* QTS_ExecutePendingJob(-1) runs jobs until the queue is empty or one
   * throws (an async function interrupted by a limit); its return value is
   * not needed, only whether jobs are left. */
  uint32_t pctx = vm->scratch + 8;
  do {
    uint32_t r = QTS_ExecutePendingJob(vm, vm->rt, -1, pctx);
    QTS_FreeValuePointer(vm, vm->ctx, r);
  } while (QTS_IsJobPending(vm, vm->rt));
  return HL_OK;
}

hl_status hl_vm_run_jobs(hl_vm *vm) { return vm_run(vm, op_run_jobs, NULL); }

typedef struct state_arg {
  int state;
} state_arg;

static hl_status op_state(vm_t *vm, void *p) {
  state_arg *a = p;
  if (vm->promise && vm->value_state)
    a->state = vm->value_state;
  else
    a->state = vm->promise ? (int)QTS_PromiseState(vm, vm->ctx, vm->promise) : -1;
  return HL_OK;
}

int hl_vm_state(hl_vm *vm) {
  state_arg a = {-1};
  if (vm_run(vm, op_state, &a) != HL_OK)
    return -1;
  return a.state;
}

typedef struct result_arg {
  char *out;
} result_arg;

/* The completion value JSValue* `v` as JSON text (malloc'ed), NULL when
 * it has none or on failure. */
static char *finish(vm_t *vm, uint32_t v) {
  /* Values whose JSON text the host writes itself, exactly as the
   * prelude's finish() would, without a call into JavaScript, a string and
   * its conversion (~5,000 instructions): a JSValue is NaN-boxed, its high
   * word is the tag, and these tags are never a boxed double's. */
  uint32_t payload = hl_vm_load32(vm, v), tag = hl_vm_load32(vm, v + 4);
  char num[16];
  switch (tag) {
  case HL_JS_TAG_INT:
    num[hl_vm_int_text(num, (int32_t)payload)] = 0;
    return strdup(num);
  case HL_JS_TAG_BOOL:
    return strdup(payload ? "true" : "false");
  case HL_JS_TAG_NULL:
    return strdup("null");
  case HL_JS_TAG_UNDEFINED:
    return NULL;
  default:
    break;
  }
  uint32_t s = call1(vm, vm->fn_finish, v, NULL);
  if (!s)
    return NULL;
  char *text = take_string(vm, s);
  if (text && !*text) {
    free(text);
    text = NULL;
  }
  return text;
}

/* The exception JSValue* `e` described as JSON (malloc'ed), NULL on
 * failure. */
static char *describe(vm_t *vm, uint32_t e) {
  uint32_t d = call1(vm, vm->fn_describe, e, NULL);
  if (!d)
    return NULL;
  char *text = take_string(vm, d);
  return text;
}

static hl_status op_take_result(vm_t *vm, void *p) {
  result_arg *a = p;
  if (!vm->promise)
    return hl_fail(HL_ERR_STATE, "sandbox: no evaluation to take a result from");
  if (vm->value_state == HL_VM_FULFILLED) {
    a->out = finish(vm, vm->promise);
    drop_promise(vm);
    return HL_OK;
  }
  if (vm->value_state == HL_VM_REJECTED) {
    a->out = describe(vm, vm->promise);
    drop_promise(vm);
    return HL_OK;
  }
  int state = (int)QTS_PromiseState(vm, vm->ctx, vm->promise);
  uint32_t value = QTS_PromiseResult(vm, vm->ctx, vm->promise);
  hl_status st = HL_OK;
  if (state == HL_VM_FULFILLED) {
    /* An async global script resolves to {value: completion value}. */
    uint32_t inner = Z_qjsZ_ha(VM_INST(vm), vm->ctx, value, vm->key_value);
    a->out = finish(vm, inner);
    QTS_FreeValuePointer(vm, vm->ctx, inner);
  } else if (state == HL_VM_REJECTED) {
    a->out = describe(vm, value);
  } else {
    st = hl_fail(HL_ERR_STATE, "sandbox: the evaluation has not finished");
  }
  QTS_FreeValuePointer(vm, vm->ctx, value);
  if (st == HL_OK)
    drop_promise(vm);
  return st;
}

hl_status hl_vm_take_result(hl_vm *vm, char **out) {
  result_arg a = {NULL};
  *out = NULL;
  hl_status st = vm_run(vm, op_take_result, &a);
  if (st == HL_OK)
    *out = a.out;
  else
    free(a.out);
  return st;
}

typedef struct string_arg {
  uint32_t fn;
  const char *s;
  size_t len;
  const char *what;
} string_arg;

static hl_status op_call_string(vm_t *vm, void *p) {
  string_arg *a = p;
  return call_with_string(vm, a->fn, a->s, a->len, a->what);
}

hl_status hl_vm_define(hl_vm *vm, const char *json) {
  string_arg a = {vm->fn_define, json, strlen(json), "defining callbacks"};
  return vm_run(vm, op_call_string, &a);
}

typedef struct settle_arg {
  hl_vm_request req;
  bool ok;
  const char *a, *b; /* a == NULL: the value is `number`, or null */
  size_t a_len;
  double number;
  bool is_null;
} settle_arg;

/* A new JSValue* holding a copy of string `s`, or 0 when out of memory. */
static uint32_t new_string(vm_t *vm, const char *s, size_t len) {
  uint32_t str = wasm_strdup(vm, s, len);
  if (!str)
    return 0;
  uint32_t v = QTS_NewString(vm, vm->ctx, str);
  qts_free(vm, str);
  return v;
}

static void release(vm_t *vm, hl_vm_request req) {
  QTS_FreeValuePointer(vm, vm->ctx, req.resolve);
  QTS_FreeValuePointer(vm, vm->ctx, req.reject);
}

/* Call fn(argv...) and drop its result. At most four arguments: what the
 * 16-byte scratch block holds. */
static hl_status call_n(vm_t *vm, uint32_t fn, const uint32_t *argv, uint32_t argc) {
  for (uint32_t i = 0; i < argc; i++)
    hl_vm_store32(vm, vm->scratch + 4 * i, argv[i]);
  uint32_t r = QTS_Call(vm, vm->ctx, fn, vm->undefined_ptr, argc, vm->scratch);
  uint32_t exc = QTS_ResolveException(vm, vm->ctx, r);
  QTS_FreeValuePointer(vm, vm->ctx, r);
  if (!exc)
    return HL_OK;
  QTS_FreeValuePointer(vm, vm->ctx, exc);
  return hl_fail(HL_ERR_EXECUTION_FAILED, "sandbox: delivering a callback result failed");
}

/* A number or null goes straight to resolve; JSON text and errors through
 * the prelude's settle(fn, a[, b]). */
static hl_status op_settle(vm_t *vm, void *p) {
  settle_arg *s = p;
  hl_status st;
  if (!s->a) {
    uint32_t v = s->is_null ? QTS_GetNull(vm) : QTS_NewFloat64(vm, vm->ctx, s->number);
    st = v ? call_n(vm, s->req.resolve, &v, 1)
           : hl_fail(HL_ERR_LIMIT, "sandbox: out of memory delivering a callback result");
    if (v && !s->is_null)
      QTS_FreeValuePointer(vm, vm->ctx, v);
  } else {
    uint32_t argv[3] = {s->ok ? s->req.resolve : s->req.reject, new_string(vm, s->a, s->a_len),
                        s->ok ? 0 : new_string(vm, s->b, strlen(s->b))};
    uint32_t argc = s->ok ? 2 : 3;
    if (!argv[1] || (!s->ok && !argv[2]))
      st = hl_fail(HL_ERR_LIMIT, "sandbox: out of memory delivering a callback result");
    else
      st = call_n(vm, vm->fn_settle, argv, argc);
    for (uint32_t i = 1; i < argc; i++)
      if (argv[i])
        QTS_FreeValuePointer(vm, vm->ctx, argv[i]);
  }
  release(vm, s->req);
  return st;
}

hl_status hl_vm_settle(hl_vm *vm, hl_vm_request req, bool ok, const char *a, size_t a_len,
                       const char *b) {
  settle_arg s = {req, ok, a ? a : "", ok ? NULL : (b ? b : ""), a_len, 0, false};
  return vm_run(vm, op_settle, &s);
}

hl_status hl_vm_settle_number(hl_vm *vm, hl_vm_request req, double value, bool is_null) {
  settle_arg s = {req, true, NULL, NULL, 0, value, is_null};
  return vm_run(vm, op_settle, &s);
}

static hl_status op_release(vm_t *vm, void *p) {
  release(vm, *(hl_vm_request *)p);
  return HL_OK;
}

void hl_vm_release(hl_vm *vm, hl_vm_request req) {
  if (!vm->broken)
    (void)vm_run(vm, op_release, &req);
}

static hl_status op_heap_probe(vm_t *vm, void *p) {
  /* A 4 KiB string goes through QuickJS's allocator and its limit. */
  char probe[4096];
  memset(probe, 'x', sizeof probe);
  uint32_t v = new_string(vm, probe, sizeof probe);
  uint32_t exc = v ? QTS_ResolveException(vm, vm->ctx, v) : 0;
  *(bool *)p = !v || exc;
  if (exc)
    QTS_FreeValuePointer(vm, vm->ctx, exc);
  if (v)
    QTS_FreeValuePointer(vm, vm->ctx, v);
  return HL_OK;
}

bool hl_vm_heap_exhausted(hl_vm *vm) {
  bool exhausted = false;
  if (vm->broken || vm_run(vm, op_heap_probe, &exhausted) != HL_OK)
    return false;
  return exhausted;
}

void hl_vm_set_heap_limit(hl_vm *vm, size_t bytes) {
  /* Applied at the next entry (apply_heap_limit): no wasm runs now. */
  vm->heap_limit = bytes;
  vm->heap_limit_pending = true;
}

static hl_status op_fault(vm_t *vm, void *p) {
  int kind = *(int *)p;
  if (kind == 1) {
    /* JS_ToCString reads the JSValue at this address: out of bounds. */
    (void)QTS_GetString(vm, vm->ctx, vm->mem.size - 4);
  } else {
    /* A string value relabelled with a tag QuickJS does not know: freeing
     * it reaches the default case of QuickJS's value destructor, abort(),
     * which is the module's trapping import. */
    uint32_t str = wasm_strdup(vm, "x", 1);
    uint32_t v = str ? QTS_NewString(vm, vm->ctx, str) : 0;
    if (v) {
      hl_vm_store32(vm, v + 4, (uint32_t)-5);
      QTS_FreeValuePointer(vm, vm->ctx, v);
    }
  }
  return hl_fail(HL_ERR_STATE, "sandbox: fault %d did not trap", kind);
}

hl_status hl__vm_fault(hl_vm *vm, int kind) { return vm_run(vm, op_fault, &kind); }
