/*
 * tests/hooks/test_thread_exit.c - a hook's abort message lives in memory
 * allocated when the hook aborts (not in a thread-local buffer every
 * thread of the application pays for): it reaches the caller intact on a
 * fresh thread, a message nobody took is freed when its thread exits (the
 * ASan build's leak check and valgrind say so), a taken one never reaches
 * a later run, and out of memory still says why the run stopped.
 *
 * Linked with -Wl,--wrap=malloc (meson.build): a thread that sets
 * fail_malloc has its next allocation fail, so the out-of-memory path of
 * hl_hook_abort() is driven for real.
 */
#include "fixture.h"

#define THREADS 8

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

static _Thread_local bool fail_malloc;

void *__wrap_malloc(size_t n) {
  if (fail_malloc) {
    fail_malloc = false; /* only the one allocation the hook is about */
    return NULL;
  }
  return __real_malloc(n);
}

/* The message a thread's hook aborts with: long (most of the run's
 * message limit) and different per thread, so that a message cut short
 * or taken from another thread shows. */
static void expected_message(int id, char *out, size_t n) {
  int len = snprintf(out, n, "thread %d says no: ", id);
  for (; len < 700 && (size_t)len + 2 < n; len++) out[len] = (char)('a' + (id + len) % 26);
  out[len] = '\0';
}

typedef enum { ABORT_FORMATTED, ABORT_NO_MEMORY, LEFT_PENDING, ABORT_BARE } mode;

typedef struct job {
  int id;
  mode how;
  hl_status status;        /* what hl_agent_run returned */
  char error[2048];        /* hl_last_error() right after it */
} job;

static hl_hook_action before_agent(hl_context *c, const hl_before_agent_args *in,
                                   hl_before_agent_out *out, void *ud) {
  (void)c, (void)in, (void)out;
  job *j = ud;
  char msg[1024];
  switch (j->how) {
  case ABORT_FORMATTED:
    expected_message(j->id, msg, sizeof msg);
    return hl_hook_abort("%s", msg);
  case ABORT_NO_MEMORY:
    fail_malloc = true;
    hl_hook_action a = hl_hook_abort("thread %d: this message is lost", j->id);
    fail_malloc = false;
    return a;
  case LEFT_PENDING:
    (void)hl_hook_abort("thread %d changed its mind", j->id); /* then continues */
    return HL_HOOK_CONTINUE;
  case ABORT_BARE:
    return HL_HOOK_ABORT; /* no hl_hook_abort(): nothing of an earlier run may show */
  }
  return HL_HOOK_CONTINUE;
}

static void run_once(job *j) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_load_json(p, "{\"rules\":[{\"match\":\".*\",\"steps\":[{\"text\":\"done\"}]}]}");
  hl_agent *a = make_agent("exiter", p);
  hl_hooks_add_before_agent(hl_agent_hooks(a), "gate", HL_HOOK_DECIDE, before_agent, j);
  char *answer = NULL;
  j->status = hl_agent_run(a, NULL, "go", &answer);
  snprintf(j->error, sizeof j->error, "%s", j->status == HL_OK ? (answer ? answer : "") : hl_last_error());
  hl_free(answer);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void *one_run(void *arg) {
  run_once(arg);
  return NULL; /* the thread exits: whatever message it left must be freed */
}

static void run_on_threads(job *jobs, int n) {
  pthread_t t[THREADS];
  for (int i = 0; i < n; i++) REQUIRE(pthread_create(&t[i], NULL, one_run, &jobs[i]) == 0);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

/* Each fresh thread's run stops with its own hook's message, whole. */
static void message_intact_on_fresh_threads(void) {
  job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) jobs[i] = (job){.id = i, .how = ABORT_FORMATTED};
  run_on_threads(jobs, THREADS);
  for (int i = 0; i < THREADS; i++) {
    char want[1024];
    expected_message(i, want, sizeof want);
    CHECK_INT(jobs[i].status, HL_ERR_ABORTED);
    CHECK_STR(jobs[i].error, want);
  }
}

/* A hook that called hl_hook_abort() and then continued: the run goes
 * on, and the message left behind dies with its thread (leak check). */
static void pending_message_freed_at_exit(void) {
  job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) jobs[i] = (job){.id = i, .how = LEFT_PENDING};
  run_on_threads(jobs, THREADS);
  for (int i = 0; i < THREADS; i++) {
    CHECK_INT(jobs[i].status, HL_OK);
    CHECK_STR(jobs[i].error, "done");
  }
}

/* The same thread: the message of one run's abort is not the reason
 * given for a later run whose hook aborts without a message. */
static void *formatted_then_bare(void *arg) {
  job *j = arg;
  j->how = ABORT_FORMATTED;
  run_once(j);
  if (j->status != HL_ERR_ABORTED) return NULL;
  j->how = ABORT_BARE;
  run_once(j);
  return NULL;
}

static void stale_message_not_reused(void) {
  job j = {.id = 3};
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, formatted_then_bare, &j) == 0);
  pthread_join(t, NULL);
  CHECK_INT(j.status, HL_ERR_ABORTED);
  CHECK_STR(j.error, "hook \"gate\" aborted the run at before_agent");
}

/* No memory for the message: the run still stops, saying so. */
static void message_lost_to_oom(void) {
  job j = {.id = 5, .how = ABORT_NO_MEMORY};
  run_on_threads(&j, 1);
  CHECK_INT(j.status, HL_ERR_ABORTED);
  CHECK_STR(j.error, "aborted (message lost: out of memory)");
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(message_intact_on_fresh_threads);
  RUN(pending_message_freed_at_exit);
  RUN(stale_message_not_reused);
  RUN(message_lost_to_oom);
  return CHECK_EXIT();
}
