/*
 * lib/sandbox/py_sandbox.c - the Python guest behind an hl_sandbox: the
 * execution of Python code (py_vm.c) with the sandbox's tools, limits,
 * watchdog and result, as sandbox.c does it for JavaScript.
 *
 * Differences that follow from MicroPython: Python blocks in the host
 * while a batch of callbacks runs (hook_wait: the prelude's event loop
 * hands over every call pending at once, and hl__sb_run_queue runs them in
 * parallel; hook_call: one call alone, the common case, without a batch's
 * JSON), so nothing is settled later. Python polls no interrupt
 * handler: at the deadline the soft watch raises KeyboardInterrupt in it
 * (the session survives), and the hard watch (sb->watch), armed at the
 * same deadline, gives it a grace period of CPU time to unwind, as the
 * JavaScript guest has (hl__sb_grace_fire), before it makes it trap (the
 * session is reset). A cancel or a limit reached while Python runs starts
 * both at once. CPU time, not wall time: on a loaded machine a guest
 * thread descheduled across the stop has had no chance to unwind, and
 * stopping it hard then would reset a session that the soft stop keeps.
 */
#include <inttypes.h>
#include <pthread.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "py_vm.h"
#include "sandbox_internal.h"

/* After the deadline (or a limit): how much CPU time Python has to
 * unwind from the KeyboardInterrupt before it is stopped for good; after
 * a cancel, shorter, as for JavaScript: whoever cancels waits for the end. */
#define PY_HARD_GRACE_NS (30u * 1000000u)
#define PY_CANCEL_GRACE_NS (5u * 1000000u)

struct hl_py_guest {
  hl_py_vm *vm;
  hl_watch soft;       /* the deadline: KeyboardInterrupt */
  bool soft_armed;
  hl_sandbox *sb;
  hl_py_answer *answers; /* of the running batch, one per request */
  size_t n_answers;
};

static const char *const py_reserved[] = {
  "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
  "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
  "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
  "try", "while", "with", "yield", "print", "list_callbacks", "CallbackError", "asyncio",
  "json", "sys", NULL};

bool hl__py_valid_name(const char *name) {
  if (strchr(name, '$'))
    return false;
  for (const char *const *r = py_reserved; *r; r++)
    if (strcmp(*r, name) == 0)
      return false;
  return true;
}

/* Owner thread, during an execution: after a stop, give code that
 * ignores it (catching KeyboardInterrupt and going on) its grace period
 * of CPU time, then trap: the hard watch fires now, which starts the
 * grace (or shortens nothing if it already runs). */
static void hard_stop_soon(hl_sandbox *sb) {
  uint64_t now = hl__sb_now_ns();
  if (sb->armed)
    (void)hl__watch_advance(&sb->watch, now);
  else if (hl__watch_arm(&sb->watch, now) == HL_OK)
    sb->armed = true;
}

/* ------------------------------------------------------------------ */
/* Hooks called from inside Python                                      */
/* ------------------------------------------------------------------ */

/* A limit stopped the execution while Python runs (its output, say):
 * KeyboardInterrupt now, and a trap if it goes on anyway. */
static void stop_running(hl_sandbox *sb) {
  hl_py_vm_soft_stop(sb->py->vm);
  hard_stop_soon(sb);
}

static void hook_write(void *ud, int stream, const char *text, size_t len) {
  hl_sandbox *sb = ud;
  if (sb->abort_status != HL_OK)
    return;
  size_t cap = sb->limits.max_output_bytes;
  if (cap && sb->output_bytes + len > cap) {
    len = cap - sb->output_bytes;
    while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
      len--;
    hl__sb_abort(sb, HL_ERR_TOO_LARGE, "output exceeded %zu bytes", cap);
    stop_running(sb);
  }
  sb->output_bytes += len;
  sb_buf *b = stream == 2 ? &sb->err : &sb->out;
  /* Bytes written through sys.stdout.buffer need not be UTF-8: the
   * result's text is, with U+FFFD for what is not. */
  size_t start = 0;
  bool ok = true;
  while (ok && start < len) {
    size_t bad = start + hl__utf8_invalid_at(text + start, len - start);
    ok = hl__sb_buf_add(b, text + start, bad - start);
    if (bad == len)
      break;
    ok = ok && hl__sb_buf_add(b, "\xEF\xBF\xBD", 3);
    start = bad + 1;
  }
  if (!ok) {
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory capturing output");
    stop_running(sb);
  }
}

static char *json_string(const char *s) {
  cJSON *j = cJSON_CreateString(s ? s : "");
  char *t = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  return t;
}

/* Record request number `i` of its batch in sb->queue (hl__sb_queue_room
 * made room for it), counting it; takes `name` (malloc'ed, NULL when out of
 * memory). Arguments that are not JSON (json.dumps writes what it cannot
 * encode as its repr) stop the execution before any call, uncounted.
 * False when the execution must stop (the reason is in sb->abort_*). */
static bool record(hl_sandbox *sb, size_t i, char *name, const char *args, size_t args_len) {
  cJSON *parsed = NULL;
  hl_status st = hl_json_parse(args, args_len, &parsed);
  if (st != HL_OK) {
    hl__sb_abort(sb, st == HL_ERR_NOMEM ? st : HL_ERR_EXECUTION_FAILED,
                 "the arguments of a callback to %.64s are not JSON: %s", name ? name : "?",
                 hl_last_error());
    free(name);
    return false;
  }
  sb->callback_count++;
  if (sb->limits.max_callbacks && sb->callback_count > sb->limits.max_callbacks) {
    free(name);
    cJSON_Delete(parsed);
    hl__sb_abort(sb, HL_ERR_LIMIT, "more than %u callback invocations",
                 sb->limits.max_callbacks);
    return false;
  }
  if (!name) {
    cJSON_Delete(parsed);
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory recording a callback");
    return false;
  }
  sb_request *r = &sb->queue[sb->n_queue];
  r->req.resolve = (uint32_t)i;
  r->req.reject = 0;
  r->name = name;
  r->args = NULL;
  r->args_len = 0;
  r->parsed = parsed;
  sb->n_queue++;
  return true;
}

/* Record the batch's requests in sb->queue, counting them. False when
 * the execution must stop (the reason is in sb->abort_*). */
static bool record_batch(hl_sandbox *sb, const cJSON *batch) {
  if (!hl__sb_queue_room(sb, (size_t)cJSON_GetArraySize(batch)))
    return false;
  size_t i = 0;
  for (const cJSON *item = batch->child; item; item = item->next, i++) {
    /* [name, args]: the arguments' JSON text as a string, as hook_call
     * takes it. */
    const cJSON *name = cJSON_GetArrayItem(item, 0);
    const cJSON *args = cJSON_GetArrayItem(item, 1);
    if (!cJSON_IsString(name) || !cJSON_IsString(args)) {
      hl__sb_abort(sb, HL_ERR_EXECUTION_FAILED, "a malformed callback request");
      return false;
    }
    if (!record(sb, i, strdup(name->valuestring), args->valuestring, strlen(args->valuestring)))
      return false;
  }
  return true;
}

static void drop_queue(hl_sandbox *sb) {
  for (size_t i = 0; i < sb->n_queue; i++) {
    free(sb->queue[i].name);
    free(sb->queue[i].args);
    cJSON_Delete(sb->queue[i].parsed);
  }
  sb->n_queue = 0;
}

static void drop_answers(struct hl_py_guest *g) {
  for (size_t i = 0; i < g->n_answers; i++)
    free(g->answers[i].text);
  free(g->answers);
  g->answers = NULL;
  g->n_answers = 0;
}

/* A stop that came while the host had control: fold it, and leave Python
 * able to unwind (the prelude raises on the NULL answer) but not to run
 * on for long. */
static char *stop_python(hl_sandbox *sb) {
  (void)hl__sb_check_stop(sb);
  if (atomic_load(&sb->hard_stop)) {
    hl__sb_abort_for(sb, atomic_load(&sb->hard_stop));
    hl_py_vm_reopen(sb->py->vm);
  }
  hard_stop_soon(sb);
  return NULL;
}

/* After the recording of `n` requests: run them (in parallel when
 * several) and keep their answers in g->answers. False when the
 * execution must stop (the reason is in sb->abort_*). */
static bool run_recorded(hl_sandbox *sb, size_t n) {
  struct hl_py_guest *g = sb->py;
  g->answers = calloc(n, sizeof *g->answers);
  g->n_answers = g->answers ? n : 0;
  if (!g->answers) {
    drop_queue(sb);
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory running callbacks");
    return false;
  }
  hl_status st = hl__sb_run_queue(sb);
  if (st != HL_OK)
    hl__sb_abort(sb, st, "%s", hl_last_error());
  if (sb->abort_status) {
    drop_answers(g);
    return false;
  }
  return true;
}

/* A request that got no answer (none is delivered after a stop). */
static const char no_answer[] = "[0,\"ExecutionFailed\",\"no answer\"]";

/* Request i's answer as JSON text ([1, value] or [0, kind, message]) at
 * the end of `out`. */
static bool add_answer(sb_buf *out, const hl_py_answer *a) {
  char num[24];
  const char *t = a->text ? a->text : no_answer;
  if (a->kind == HL_PY_ANSWER_INT) {
    snprintf(num, sizeof num, "[1,%" PRId32 "]", a->integer);
    t = num;
  } else if (a->kind == HL_PY_ANSWER_NULL) {
    t = "[1,null]";
  }
  return hl__sb_buf_add(out, t, strlen(t));
}

static char *hook_wait(void *ud, const char *text, size_t len) {
  hl_sandbox *sb = ud;
  struct hl_py_guest *g = sb->py;
  if (sb->abort_status || hl__sb_check_stop(sb))
    return stop_python(sb);
  cJSON *batch = cJSON_ParseWithLength(text, len);
  size_t n = cJSON_IsArray(batch) ? (size_t)cJSON_GetArraySize(batch) : 0;
  if (!n) {
    cJSON_Delete(batch);
    hl__sb_abort(sb, HL_ERR_EXECUTION_FAILED, "a malformed callback batch");
    return stop_python(sb);
  }
  bool ok = record_batch(sb, batch);
  cJSON_Delete(batch);
  if (!ok) {
    drop_queue(sb);
    return stop_python(sb);
  }
  if (!run_recorded(sb, n))
    return stop_python(sb);
  sb_buf out = {0};
  ok = hl__sb_buf_add(&out, "[", 1);
  for (size_t i = 0; ok && i < n; i++)
    ok = (i == 0 || hl__sb_buf_add(&out, ",", 1)) && add_answer(&out, &g->answers[i]);
  ok = ok && hl__sb_buf_add(&out, "]", 1);
  drop_answers(g);
  if (!ok) {
    free(out.data);
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory answering callbacks");
    return stop_python(sb);
  }
  return out.data;
}

/* One request alone: no batch to parse, the arguments as Python wrote
 * them, the answer handed back as it is. */
static bool hook_call(void *ud, const char *name, size_t name_len, const char *args,
                      size_t args_len, hl_py_answer *answer) {
  hl_sandbox *sb = ud;
  struct hl_py_guest *g = sb->py;
  bool go = !sb->abort_status && hl__sb_check_stop(sb) == HL_OK;
  if (go && (!hl__sb_queue_room(sb, 1) ||
             !record(sb, 0, strndup(name, name_len), args, args_len))) {
    drop_queue(sb);
    go = false;
  }
  if (!go || !run_recorded(sb, 1)) {
    (void)stop_python(sb);
    return false;
  }
  *answer = g->answers[0];
  g->answers[0].text = NULL;
  drop_answers(g);
  if (answer->kind == HL_PY_ANSWER_TEXT && !answer->text &&
      !(answer->text = strdup(no_answer))) {
    hl__sb_abort(sb, HL_ERR_NOMEM, "out of memory answering callbacks");
    (void)stop_python(sb);
    return false;
  }
  return true;
}

hl_status hl__py_settle(hl_sandbox *sb, hl_vm_request req, bool deliver, bool ok, bool is_number,
                        double number, bool is_null, const char *text, const char *message) {
  struct hl_py_guest *g = sb->py;
  if (!deliver || req.resolve >= g->n_answers)
    return HL_OK;
  hl_py_answer *out = &g->answers[req.resolve];
  if (ok && (is_null || (is_number && number == (double)(int32_t)number &&
                         number >= INT32_MIN && number <= INT32_MAX))) {
    /* Python gets these as themselves, no JSON (-0 is 0, as JSON "-0"
     * parses in Python). */
    out->kind = is_null ? HL_PY_ANSWER_NULL : HL_PY_ANSWER_INT;
    out->integer = is_null ? 0 : (int32_t)number;
    return HL_OK;
  }
  char *a = NULL;
  if (ok) {
    char num[40];
    const char *v = is_null ? "null" : text;
    if (is_number && !is_null) {
      snprintf(num, sizeof num, "%.17g", number);
      v = num;
    }
    size_t n = strlen(v ? v : "null") + 8;
    a = malloc(n);
    if (a)
      snprintf(a, n, "[1,%s]", v ? v : "null");
  } else {
    char *k = json_string(text), *m = json_string(message);
    if (k && m) {
      size_t n = strlen(k) + strlen(m) + 8;
      a = malloc(n);
      if (a)
        snprintf(a, n, "[0,%s,%s]", k, m);
    }
    free(k);
    free(m);
  }
  if (!a)
    return hl_fail(HL_ERR_NOMEM, "out of memory answering a callback");
  out->kind = HL_PY_ANSWER_TEXT;
  out->text = a;
  return HL_OK;
}

static bool hook_sleep(void *ud, double ms) {
  hl_sandbox *sb = ud;
  /* At most a day: the deadline (or a cancel) ends it long before. */
  if (!(ms > 0))
    ms = 0;
  if (ms > 86400e3)
    ms = 86400e3;
  uint64_t until = hl__sb_now_ns() + (uint64_t)(ms * 1e6);
  for (;;) {
    if (sb->abort_status || hl__sb_check_stop(sb)) {
      (void)stop_python(sb);
      return false;
    }
    uint64_t now = hl__sb_now_ns();
    if (now >= until)
      return true;
    /* In slices: a cancel or the deadline ends the sleep early. */
    uint64_t slice = until - now < 5000000u ? until - now : 5000000u;
    struct timespec ts = {0, (long)slice};
    nanosleep(&ts, NULL);
  }
}

static char *hook_callbacks(void *ud) { return hl__sb_callbacks_json(ud, NULL); }

static const hl_py_hooks py_hooks = {hook_write, hook_wait, hook_call, hook_sleep,
                                     hook_callbacks};

/* ------------------------------------------------------------------ */
/* Watches                                                              */
/* ------------------------------------------------------------------ */

/* Watchdog thread, only while armed: the execution runs, sb->py->vm is
 * alive and does not change. */
static uint64_t hard_fire(hl_watch *w) {
  hl_sandbox *sb = (hl_sandbox *)((char *)w - offsetof(hl_sandbox, watch));
  bool cancel = atomic_load(&sb->cancel_requested);
  uint64_t again = hl__sb_grace_fire(sb, cancel ? PY_CANCEL_GRACE_NS : PY_HARD_GRACE_NS);
  if (again)
    return again; /* the grace runs: look again when it could be used up */
  int none = 0;
  atomic_compare_exchange_strong(&sb->hard_stop, &none, cancel ? HL_ERR_CANCELLED : HL_ERR_TIMEOUT);
  hl_py_vm_interrupt(sb->py->vm);
  return 0; /* stopped: idle again */
}

static uint64_t soft_fire(hl_watch *w) {
  struct hl_py_guest *g = (struct hl_py_guest *)((char *)w - offsetof(struct hl_py_guest, soft));
  hl_py_vm_soft_stop(g->vm);
  return 0;
}

void hl__py_cancel(hl_sandbox *sb) {
  struct hl_py_guest *g = sb->py;
  (void)hl__watch_advance(&g->soft, hl__sb_now_ns());
}

/* ------------------------------------------------------------------ */
/* Lifetime                                                             */
/* ------------------------------------------------------------------ */

static hl_status make_py_vm(hl_sandbox *sb) {
  hl_py_vm *vm = NULL;
  hl_status st = hl_py_vm_new(sb->origin ? sb->origin->py_snap : NULL, sb->limits.memory_bytes,
                              &py_hooks, sb, &vm);
  if (st)
    return st;
  hl_py_vm_free(sb->py->vm);
  sb->py->vm = vm;
  sb->callbacks_dirty = true;
  return HL_OK;
}

hl_status hl__py_attach(hl_sandbox *sb) {
  struct hl_py_guest *g = calloc(1, sizeof *g);
  if (!g)
    return hl_fail(HL_ERR_NOMEM, "hl_sandbox_new: out of memory");
  g->sb = sb;
  hl__watch_init(&g->soft, soft_fire);
  hl__watch_init(&sb->watch, hard_fire);
  sb->py = g;
  hl_status st = make_py_vm(sb);
  if (st) {
    free(g);
    sb->py = NULL;
  }
  return st;
}

void hl__py_detach(hl_sandbox *sb) {
  if (!sb->py)
    return;
  hl_py_vm_free(sb->py->vm);
  drop_answers(sb->py);
  free(sb->py);
  sb->py = NULL;
}

hl_status hl__py_reset(hl_sandbox *sb) { return make_py_vm(sb); }

uint64_t hl__py_compiles(hl_sandbox *sb) {
  return sb->py && sb->py->vm ? hl_py_vm_compiles(sb->py->vm) : 0;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                            */
/* ------------------------------------------------------------------ */

hl_status hl__py_snapshot_take(hl_sandbox *sb, struct hl_sandbox_snapshot *s) {
  hl_py_vm *vm = sb->py->vm;
  /* A vm that trapped was replaced by a fresh one when its execution
   * ended; one that could not be is missing. */
  if (!vm)
    return hl_fail(HL_ERR_SANDBOX, "hl_sandbox_snapshot_take: the Python session was lost "
                   "(a reset failed): reset the sandbox");
  hl_status st = hl_py_vm_snapshot_take(vm, &s->py_snap);
  if (st == HL_OK)
    s->memory_bytes = hl_py_snapshot_bytes(s->py_snap);
  return st;
}

bool hl__py_snapshot_file(const char *path) {
  char magic[8];
  FILE *f = fopen(path, "rb");
  bool is = f && fread(magic, 1, sizeof magic, f) == sizeof magic &&
            memcmp(magic, HL_PY_SNAPSHOT_MAGIC, sizeof magic) == 0;
  if (f)
    fclose(f);
  return is;
}

hl_status hl__py_snapshot_load(const char *path, struct hl_sandbox_snapshot *s) {
  hl_status st = hl_py_snapshot_load(path, &s->py_snap);
  if (st == HL_OK)
    s->memory_bytes = hl_py_snapshot_bytes(s->py_snap);
  return st;
}

/* ------------------------------------------------------------------ */
/* Execution                                                            */
/* ------------------------------------------------------------------ */

/* The status of an uncaught Python exception. */
static hl_status exception_status(const hl_py_outcome *o) {
  const char *type = o->error_type;
  const char *text = o->error_text ? o->error_text : "";
  if (strcmp(type, "CallbackError") == 0) {
    /* The kind starts its message ("CallbackError: Timeout: ..."); the
     * traceback's lines before it name files and functions only. */
    const char *kind = strstr(text, "CallbackError: ");
    if (kind)
      kind += strlen("CallbackError: ");
    if (kind && strncmp(kind, "InvalidArguments", 16) == 0)
      return HL_ERR_INVALID_ARGUMENTS;
    if (kind && strncmp(kind, "NotFound", 8) == 0)
      return HL_ERR_NOT_FOUND;
    if (kind && strncmp(kind, "Timeout", 7) == 0)
      return HL_ERR_TIMEOUT;
    return HL_ERR_EXECUTION_FAILED;
  }
  if (strcmp(type, "MemoryError") == 0)
    return HL_ERR_LIMIT;
  if (strcmp(type, "RuntimeError") == 0 && strstr(text, "maximum recursion depth exceeded"))
    return HL_ERR_LIMIT;
  return HL_ERR_EXECUTION_FAILED;
}

/* "Type: message" (the traceback's last line) and the traceback before
 * it, for a model to read. */
static char *exception_message(const hl_py_outcome *o) {
  const char *tb = o->error_text;
  if (!tb || !*tb)
    return strdup(o->error_type);
  size_t n = strlen(tb);
  while (n && tb[n - 1] == '\n')
    n--;
  size_t start = n;
  while (start && tb[start - 1] != '\n')
    start--;
  sb_buf b = {0};
  hl__sb_buf_add(&b, tb + start, n - start);
  if (start) {
    hl__sb_buf_add(&b, "\n", 1);
    hl__sb_buf_add(&b, tb, start ? start - 1 : 0);
  }
  if (b.data && b.len)
    return b.data;
  free(b.data);
  return strdup(o->error_type);
}

static void arm(hl_sandbox *sb) {
  struct hl_py_guest *g = sb->py;
  /* Armed even without a deadline: a cancel advances it (hl__py_cancel),
   * which is how a cancel reaches Python while its vm is sure to live. */
  if (hl__watch_arm(&g->soft, sb->deadline_ns ? sb->deadline_ns : UINT64_MAX) == HL_OK)
    g->soft_armed = true;
  /* The hard watch's fields, before arming publishes them to its thread. */
  sb->grace_started = false;
  sb->cpu_clock_ok = pthread_getcpuclockid(pthread_self(), &sb->cpu_clock) == 0;
  if (hl__watch_arm(&sb->watch, sb->deadline_ns ? sb->deadline_ns : UINT64_MAX) == HL_OK)
    sb->armed = true;
  if (atomic_load(&sb->cancel_requested))
    hl__sb_cancel(sb);
}

static void disarm(hl_sandbox *sb) {
  struct hl_py_guest *g = sb->py;
  if (g->soft_armed) {
    hl__watch_disarm(&g->soft);
    g->soft_armed = false;
  }
  if (sb->armed) {
    hl__watch_disarm(&sb->watch);
    sb->armed = false;
  }
  (void)hl_py_vm_reopen(g->vm);
}

hl_status hl__py_execute(hl_sandbox *sb, hl_context *ctx, const char *code,
                         hl_sandbox_result *res) {
  struct hl_py_guest *g = sb->py;
  uint64_t t0 = hl__sb_exec_begin(sb, ctx);
  atomic_store(&sb->hard_stop, 0);

  hl_status st = HL_OK;
  char *error = NULL;
  hl_py_outcome o = {0};
  if (!g->vm || hl_py_vm_broken(g->vm))
    st = make_py_vm(sb);
  if (st == HL_OK)
    st = hl_py_vm_settle(g->vm);
  if (st == HL_OK && sb->callbacks_dirty) {
    st = hl_py_vm_define(g->vm);
    if (st == HL_OK)
      sb->callbacks_dirty = false;
  }
  if (st == HL_OK) {
    arm(sb);
    if (hl__sb_check_stop(sb) == HL_OK)
      st = hl_py_vm_exec(g->vm, code, strlen(code), &o);
    bool finished = st == HL_OK && !o.error_type && !o.stopped && !sb->abort_status;
    disarm(sb);
    int hard = atomic_load(&sb->hard_stop);
    if (hard && !finished)
      hl__sb_abort_for(sb, hard);
    /* A KeyboardInterrupt after the deadline or a cancel is ours. */
    if (!finished && !sb->abort_status) {
      if (atomic_load(&sb->cancel_requested))
        hl__sb_abort_for(sb, HL_ERR_CANCELLED);
      else if (sb->deadline_ns && hl__sb_now_ns() >= sb->deadline_ns)
        hl__sb_abort_for(sb, HL_ERR_TIMEOUT);
    }
  }
  drop_queue(sb);
  drop_answers(g);

  if (sb->abort_status) {
    st = sb->abort_status;
    error = strdup(sb->abort_msg);
  } else if (st != HL_OK) {
    error = strdup(hl_last_error());
  } else if (o.stopped) {
    st = HL_ERR_EXECUTION_FAILED;
    error = strdup("execution stopped");
  } else if (o.error_type) {
    st = exception_status(&o);
    error = exception_message(&o);
  } else if (o.value_json) {
    /* MicroPython's json.dumps writes what JSON cannot hold (a set, an
     * object) as its repr: that text then becomes a JSON string. */
    cJSON *check = cJSON_Parse(o.value_json);
    if (check) {
      res->value_json = o.value_json;
      o.value_json = NULL;
    } else {
      res->value_json = json_string(o.value_json);
    }
    cJSON_Delete(check);
  }
  hl_py_outcome_clear(&o);
  if (g->vm && hl_py_vm_broken(g->vm)) {
    /* Stopped or trapped: its memory may be inconsistent. Start over. */
    hl_status rst = make_py_vm(sb);
    char *msg = error;
    size_t n = strlen(msg ? msg : "") + 64;
    error = malloc(n);
    if (error)
      snprintf(error, n, "%s; the session was reset%s", msg ? msg : "",
               rst ? " (and the reset failed)" : "");
    free(msg);
  }
  res->stdout_text = sb->out.data ? sb->out.data : strdup("");
  res->stdout_len = sb->out.len;
  res->stderr_text = sb->err.data ? sb->err.data : strdup("");
  res->stderr_len = sb->err.len;
  memset(&sb->out, 0, sizeof sb->out);
  memset(&sb->err, 0, sizeof sb->err);
  hl__sb_exec_end(sb, res, t0);
  if (st != HL_OK)
    hl_fail(st, "%s", error ? error : hl_strerror(st));
  free(error);
  return st;
}

/* ------------------------------------------------------------------ */
/* Public entry points of the Python guest                              */
/* ------------------------------------------------------------------ */

bool hl_sandbox_language_available(hl_sandbox_language language) {
  if (language == HL_SANDBOX_JAVASCRIPT)
    return true;
  return language == HL_SANDBOX_PYTHON && hl_py_vm_available();
}

hl_tool *hl_sandbox_python_tool(const hl_sandbox_limits *limits) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  if (limits && limits->size < offsetof(hl_sandbox_limits, timeout_ms) + sizeof limits->timeout_ms) {
    hl_fail(HL_ERR_INVALID, "hl_sandbox_python_tool: limits->size is %zu: fill the limits with "
            "hl_sandbox_limits_default() first", limits->size);
    return NULL;
  }
  if (limits)
    memcpy(&l, limits, limits->size < sizeof l ? limits->size : sizeof l);
  l.size = sizeof l;
  l.language = HL_SANDBOX_PYTHON;
  return hl_sandbox_code_tool(&l);
}
