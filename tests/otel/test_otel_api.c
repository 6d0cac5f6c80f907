/*
 * tests/otel/test_otel_api.c - the exporter's C API on bad input, the
 * trace-context header hook, OTEL_SDK_DISABLED, and many agents exporting
 * from many threads at once (also run under ThreadSanitizer: suite
 * concurrency). The export itself is checked by test_otel.py.
 */
#include <hookline.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

static void bad_options(void) {
  hl_otel_options small = {.size = sizeof(size_t)};
  CHECK(hl_otel_new(&small) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(strstr(hl_last_error(), "size") != NULL);

  hl_otel_options ftp = {.size = sizeof ftp, .endpoint = "ftp://collector:21"};
  CHECK(hl_otel_new(&ftp) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(strstr(hl_last_error(), "ftp://collector:21") != NULL);

  CHECK_INT(hl_otel_install(NULL, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_otel_flush(NULL, 10), HL_ERR_INVALID);
  hl_otel_stats st = {.size = sizeof st};
  CHECK_INT(hl_otel_get_stats(NULL, &st), HL_ERR_INVALID);
  hl_otel_free(NULL); /* fine */
  CHECK(!hl_otel_enabled(NULL));
}

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
static int my_nice(void) { return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)); }
#endif

/* The exporter thread runs 10 nice levels below its creator by default
 * (the runs get the cores first), and at the creator's level with
 * low_priority = -1. Nothing is sent (port 9): flush gives up at once. */
static void priority(void) {
#ifdef __linux__
  int mine = my_nice();
  int want = mine + 10 > 19 ? 19 : mine + 10;
  for (int low = 0; low >= -1; low--) {
    hl_otel_options o = {.size = sizeof o, .endpoint = "http://127.0.0.1:9", .low_priority = low,
                         .timeout_ms = 200, .warn = stdout};
    hl_otel *otel = hl_otel_new(&o);
    REQUIRE(otel != NULL);
    hl_otel_flush(otel, 2000); /* the thread has started and set its priority */
    hl_otel_stats st = {.size = sizeof st};
    CHECK_INT(hl_otel_get_stats(otel, &st), HL_OK);
    CHECK_INT(st.exporter_nice, low == 0 ? want : mine);
    CHECK_INT(my_nice(), mine); /* the caller's own priority is untouched */
    hl_otel_free(otel);
  }
  /* a caller built against the struct before low_priority: the default */
  hl_otel_options old = {.size = offsetof(hl_otel_options, low_priority), .endpoint = "http://127.0.0.1:9",
                         .timeout_ms = 200, .warn = stdout};
  hl_otel *otel = hl_otel_new(&old);
  REQUIRE(otel != NULL);
  hl_otel_flush(otel, 2000);
  hl_otel_stats st = {.size = sizeof st};
  CHECK_INT(hl_otel_get_stats(otel, &st), HL_OK);
  CHECK_INT(st.exporter_nice, want);
  hl_otel_free(otel);
#endif
}

static void disabled(void) {
  setenv("OTEL_SDK_DISABLED", "true", 1);
  hl_otel *o = hl_otel_new(NULL);
  unsetenv("OTEL_SDK_DISABLED");
  REQUIRE(o != NULL);
  CHECK(!hl_otel_enabled(o));
  CHECK(hl_otel_observer(o) == NULL);
  CHECK_INT(hl_otel_install(o, NULL), HL_OK); /* nothing installed */
  CHECK_INT(hl_otel_flush(o, 10), HL_OK);
  hl_otel_free(o);
}

static void parents(void) {
  const char *bad[] = {"", "00-", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                       "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                       "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                       "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                       "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (hl_otel_set_parent(bad[i]) != HL_ERR_INVALID) {
      fprintf(stderr, "accepted: %s\n", bad[i]);
      CHECK(0);
    }
  }
  CHECK_INT(hl_otel_set_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), HL_OK);
  /* a later version may append fields after a dash */
  CHECK_INT(hl_otel_set_parent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"), HL_OK);
  CHECK_INT(hl_otel_set_parent(NULL), HL_OK);
}

static bool inject(hl_context *ctx, char *line, size_t size, void *ud) {
  (void)ctx;
  snprintf(line, size, "%s", (const char *)ud);
  return true;
}

static void header_hook(void) {
  char line[256];
  CHECK(!hl_trace_header(NULL, line, sizeof line)); /* none installed */
  CHECK_STR(line, "");
  CHECK_INT(hl_trace_set_header_fn(inject, "traceparent: 00-abc"), HL_OK);
  CHECK(hl_trace_header(NULL, line, sizeof line));
  CHECK_STR(line, "traceparent: 00-abc");
  /* a header line must stay one line: no smuggled second header */
  CHECK_INT(hl_trace_set_header_fn(inject, "traceparent: x\r\nX-Evil: 1"), HL_OK);
  CHECK(!hl_trace_header(NULL, line, sizeof line));
  CHECK_STR(line, "");
  CHECK_INT(hl_trace_set_header_fn(NULL, NULL), HL_OK);
  CHECK(!hl_trace_header(NULL, line, sizeof line));
}

typedef struct worker {
  hl_otel *otel;
  int runs, ok;
  const char *flags; /* what the traceparent ends with: "-01" sampled, "-00" not */
} worker;

static hl_status add_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  char tp[64];
  const worker *w = ud;
  hl_otel *o = w->otel;
  /* a tool asks for the traceparent of its own span */
  if (o && hl_otel_traceparent(o, ctx, tp, sizeof tp) != HL_OK) return hl_fail(HL_ERR_STATE, "no span");
  /* W3C form, lowercase hex, in the 56 bytes the header promises, with
   * the sampling decision */
  if (o && (strlen(tp) != 55 || strncmp(tp, "00-", 3) != 0 || tp[35] != '-' || strcmp(tp + 52, w->flags) != 0 ||
            strspn(tp + 3, "0123456789abcdef") != 32 || strspn(tp + 36, "0123456789abcdef") != 16))
    return hl_fail(HL_ERR_STATE, "malformed traceparent");
  if (o && (hl_otel_traceparent(o, ctx, tp, 56) != HL_OK || strlen(tp) != 55))
    return hl_fail(HL_ERR_STATE, "traceparent in exactly 56 bytes");
  if (o && hl_otel_traceparent(o, ctx, tp, 8) != HL_ERR_INVALID) return hl_fail(HL_ERR_STATE, "small buffer");
  *result = cJSON_CreateNumber(hl_json_get_number(args, "a", 0) + 1);
  return HL_OK;
}

static void *work(void *arg) {
  worker *w = arg;
  hl_provider *script = hl_scripted_new();
  hl_scripted_load_json(script,
                        "{\"rules\":[{\"match\":\".*\",\"steps\":["
                        "{\"tool_calls\":[{\"id\":\"c1\",\"name\":\"add\",\"arguments\":{\"a\":1}},"
                        "{\"id\":\"c2\",\"name\":\"add\",\"arguments\":{\"a\":2}},"
                        "{\"id\":\"c3\",\"name\":\"add\",\"arguments\":{\"a\":3}}]},"
                        "{\"text\":\"done\"}]}]}");
  hl_agent *agent = hl_agent_new("worker");
  hl_agent_set_provider(agent, script);
  hl_agent_set_parallel_tools(agent, 3);
  hl_tool *add = hl_tool_new("add", "add one", add_fn, w);
  hl_agent_add_tool(agent, add);
  hl_otel_install(w->otel, agent);
  for (int i = 0; i < w->runs; i++) {
    hl_session *s = hl_session_new(NULL, NULL, NULL);
    char *answer = NULL;
    if (hl_agent_run(agent, s, "go", &answer) == HL_OK && strcmp(answer, "done") == 0) w->ok++;
    else fprintf(stderr, "run: %s\n", hl_last_error());
    hl_free(answer);
    hl_session_free(s);
  }
  hl_agent_unref(agent);
  hl_tool_unref(add);
  hl_provider_unref(script);
  return NULL;
}

/* `n` (at most 4) agents on threads of their own, `runs` runs each, their
 * tools expecting traceparent flags `flags`: each must answer every run. */
static void run_workers(hl_otel *otel, int n, int runs, const char *flags) {
  worker w[4];
  pthread_t t[4];
  for (int i = 0; i < n; i++) {
    w[i] = (worker){otel, runs, 0, flags};
    pthread_create(&t[i], NULL, work, &w[i]);
  }
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < n; i++) CHECK_INT(w[i].ok, runs);
}

/* Four agents on four threads, three parallel tools each, exporting to a
 * port where nothing listens: every run completes, the counters add up,
 * shutdown stays within its deadline. */
static void threads(void) {
  hl_otel_options o = {.size = sizeof o, .endpoint = "http://127.0.0.1:9",
                       .max_queue = 256, .export_delay_ms = 10, .timeout_ms = 500,
                       .warn = stderr};
  hl_otel *otel = hl_otel_new(&o);
  REQUIRE(otel != NULL);
  CHECK(hl_otel_enabled(otel));
  run_workers(otel, 4, 25, "-01");
  hl_otel_stats st = {.size = sizeof st};
  CHECK_INT(hl_otel_get_stats(otel, &st), HL_OK);
  CHECK_INT(st.size, sizeof st);
  /* per run: invoke_agent, 2 chat, 3 execute_tool */
  CHECK_INT(st.spans_started, 4 * 25 * 6);
  /* a caller built against an older, smaller struct gets only its part */
  struct { size_t size; uint64_t started; } old = {sizeof old, 0};
  CHECK_INT(hl_otel_get_stats(otel, (hl_otel_stats *)(void *)&old), HL_OK);
  CHECK_INT(old.started, 4 * 25 * 6);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  hl_otel_shutdown(otel, 300);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
  CHECK(ms < 5000);
}

/* hl_otel_options.sampler wins over OTEL_TRACES_SAMPLER: always_off on
 * two threads of runs with parallel tools. No span is made, every run is
 * counted as unsampled, and the tools' traceparent says so (flags 00). */
static void sampler_option(void) {
  setenv("OTEL_TRACES_SAMPLER", "always_on", 1);
  hl_otel_options o = {.size = sizeof o, .endpoint = "http://127.0.0.1:9", .timeout_ms = 200,
                       .warn = stderr, .sampler = "always_off"};
  hl_otel *otel = hl_otel_new(&o);
  unsetenv("OTEL_TRACES_SAMPLER");
  REQUIRE(otel != NULL);
  run_workers(otel, 2, 10, "-00");
  hl_otel_stats st = {.size = sizeof st};
  CHECK_INT(hl_otel_get_stats(otel, &st), HL_OK);
  CHECK_INT(st.spans_started, 0);
  CHECK_INT(st.runs_unsampled, 20);
  hl_otel_shutdown(otel, 300);

  /* a bad option is the programmer's: refused, not warned of */
  hl_otel_options bad = {.size = sizeof bad, .sampler = "sometimes"};
  CHECK(hl_otel_new(&bad) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK(strstr(hl_last_error(), "sometimes") != NULL);
  hl_otel_options ratio = {.size = sizeof ratio, .sampler = "traceidratio", .sampler_ratio = 1.5};
  CHECK(hl_otel_new(&ratio) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(bad_options);
  RUN(disabled);
  RUN(priority);
  RUN(parents);
  RUN(header_hook);
  RUN(threads);
  RUN(sampler_option);
  return CHECK_EXIT();
}
