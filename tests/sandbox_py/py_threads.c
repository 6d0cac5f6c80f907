/*
 * tests/sandbox_py/py_threads.c - Python sandboxes under threads (suite
 * 'concurrency' too, so make test runs it under ThreadSanitizer): several
 * sandboxes on several threads at once, each calling one shared tool with
 * asyncio.gather (the calls of one batch meet on worker threads), while
 * one more sandbox loops past its deadline and is stopped by the
 * watchdog (the soft stop's KeyboardInterrupt, written from the watchdog
 * thread, and the hard stop after it) and another is cancelled from a
 * third thread; then sandboxes
 * made from one shared snapshot on several threads at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "py_common.h"
#include "overlap.h"
#include "sandbox/sandbox_internal.h" /* hl__sb_cancel(), as code mode calls it */

#define THREADS 4
#define ROUNDS 8

static atomic_int calls_made;
/* x + 1, after waiting (up to 5 s) for `peers` calls to run at once: a
 * batch's calls must overlap, whatever the machine's load. */
static hl_status add_one_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  atomic_fetch_add(&calls_made, 1);
  overlap_enter();
  overlap_await((int)hl_json_get_number(args, "peers", 1));
  overlap_leave();
  *result = cJSON_CreateNumber(hl_json_get_number(args, "x", 0) + 1);
  return HL_OK;
}

static hl_tool *shared_tool;

typedef struct worker {
  int id;
  hl_sandbox *sb;
  int ok_rounds;
  hl_status last;
} worker;

static void *compute(void *p) {
  worker *w = p;
  for (int i = 0; i < ROUNDS; i++) {
    char code[512];
    snprintf(code, sizeof code,
             "import asyncio\n"
             "total = globals().get('total', 0)\n"
             "rs = await asyncio.gather(add_one(x=%d, peers=3), add_one(x=%d, peers=3),\n"
             "                          add_one(x=%d, peers=3))\n"
             "total += sum(rs)\n"
             "total",
             w->id, w->id * 10, i);
    hl_sandbox_result r = py_run(w->sb, code);
    w->last = r.status;
    /* Per round: (id + 1) + (10 id + 1) + (i + 1); the session adds up. */
    long want = 0;
    for (int k = 0; k <= i; k++)
      want += (w->id + 1) + (w->id * 10 + 1) + (k + 1);
    char text[32];
    snprintf(text, sizeof text, "%ld", want);
    if (r.status == HL_OK && r.value_json && strcmp(r.value_json, text) == 0)
      w->ok_rounds++;
    else
      fprintf(stderr, "worker %d round %d: status %d value %s (want %s)\n", w->id, i, r.status,
              r.value_json ? r.value_json : "-", text);
    hl_sandbox_result_clear(&r);
  }
  return NULL;
}

static void *loop_forever(void *p) {
  worker *w = p;
  hl_sandbox_result r = py_run(w->sb, "n = 0\nwhile True:\n    n += 1");
  w->last = r.status;
  hl_sandbox_result_clear(&r);
  /* The sandbox still runs code. (Whether the session was kept depends on
   * this thread unwinding within the 30 ms grace, which a loaded machine
   * under a sanitizer need not grant: py_hostile checks that alone.) */
  r = py_run(w->sb, "6 * 7");
  if (r.status == HL_OK && r.value_json && strcmp(r.value_json, "42") == 0)
    w->ok_rounds++;
  hl_sandbox_result_clear(&r);
  return NULL;
}

static void *cancel_later(void *p) {
  sleep_ms(300);
  hl__sb_cancel(p);
  return NULL;
}

static hl_sandbox *sandbox_with(unsigned timeout_ms) {
  hl_sandbox_limits l;
  hl_sandbox_limits_default(&l);
  l.timeout_ms = timeout_ms;
  hl_sandbox *sb = py_sandbox_with(&l);
  if (sb && hl_sandbox_add_tool(sb, shared_tool, NULL) != HL_OK) {
    hl_sandbox_free(sb);
    sb = NULL;
  }
  return sb;
}

static void sandboxes_on_threads(void) {
  atomic_store(&calls_made, 0);
  atomic_store(&max_running, 0);
  worker ws[THREADS + 2];
  pthread_t ts[THREADS + 2];
  memset(ws, 0, sizeof ws);
  for (int i = 0; i < THREADS + 2; i++) {
    ws[i].id = i;
    ws[i].sb = sandbox_with(i == THREADS ? 300 : i == THREADS + 1 ? 0 : 60000);
    REQUIRE(ws[i].sb);
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)8 << 20);
  for (int i = 0; i < THREADS + 2; i++)
    REQUIRE(pthread_create(&ts[i], &attr, i < THREADS ? compute : loop_forever, &ws[i]) == 0);
  pthread_attr_destroy(&attr);
  pthread_t canceller;
  REQUIRE(pthread_create(&canceller, NULL, cancel_later, ws[THREADS + 1].sb) == 0);
  for (int i = 0; i < THREADS + 2; i++)
    pthread_join(ts[i], NULL);
  pthread_join(canceller, NULL);
  for (int i = 0; i < THREADS; i++)
    CHECK_INT(ws[i].ok_rounds, ROUNDS);
  CHECK_INT(atomic_load(&calls_made), THREADS * ROUNDS * 3);
  CHECK(atomic_load(&max_running) >= 3);
  /* The deadline's KeyboardInterrupt, from the watchdog thread. */
  CHECK_INT(ws[THREADS].last, HL_ERR_TIMEOUT);
  CHECK_INT(ws[THREADS].ok_rounds, 1);
  /* The cancel: sticky, so the session's next execution is cancelled too. */
  CHECK_INT(ws[THREADS + 1].last, HL_ERR_CANCELLED);
  for (int i = 0; i < THREADS + 2; i++)
    hl_sandbox_free(ws[i].sb);
}

typedef struct from_snap {
  const hl_sandbox_snapshot *snap;
  int ok;
} from_snap;

static void *use_snapshot(void *p) {
  from_snap *f = p;
  for (int i = 0; i < ROUNDS; i++) {
    hl_sandbox *sb = NULL;
    if (hl_sandbox_new_from_snapshot(f->snap, NULL, &sb) != HL_OK)
      continue;
    hl_sandbox_result r = py_run(sb, "base += 1\nscale(base)");
    if (r.status == HL_OK && r.value_json && strcmp(r.value_json, "22") == 0)
      f->ok++;
    hl_sandbox_result_clear(&r);
    hl_sandbox_free(sb);
  }
  return NULL;
}

static void one_snapshot_many_threads(void) {
  hl_sandbox *sb = sandbox_with(60000);
  REQUIRE(sb);
  hl_sandbox_result r = py_run(sb, "base = 10\ndef scale(v):\n    return 2 * v\nscale(base)");
  CHECK_STR(r.value_json, "20");
  hl_sandbox_result_clear(&r);
  hl_sandbox_snapshot *snap = NULL;
  REQUIRE(hl_sandbox_snapshot_take(sb, &snap) == HL_OK);
  from_snap fs[THREADS];
  pthread_t ts[THREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, (size_t)8 << 20);
  for (int i = 0; i < THREADS; i++) {
    fs[i].snap = snap;
    fs[i].ok = 0;
    REQUIRE(pthread_create(&ts[i], &attr, use_snapshot, &fs[i]) == 0);
  }
  pthread_attr_destroy(&attr);
  for (int i = 0; i < THREADS; i++)
    pthread_join(ts[i], NULL);
  for (int i = 0; i < THREADS; i++)
    CHECK_INT(fs[i].ok, ROUNDS);
  hl_sandbox_snapshot_free(snap);
  hl_sandbox_free(sb);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  PY_REQUIRE_GUEST();
  shared_tool = hl_tool_new("add_one", "x + 1", add_one_fn, NULL);
  if (!shared_tool || hl_tool_param(shared_tool, "x", "number", "x", true) ||
      hl_tool_param(shared_tool, "peers", "integer", "calls to wait for", false))
    return 1;
  RUN(sandboxes_on_threads);
  RUN(one_snapshot_many_threads);
  hl_tool_unref(shared_tool);
  return CHECK_EXIT();
}
