/*
 * tests/otel/test_otel_spans.c - the spans a run's events make when a
 * call's events do not all come on one thread, one after another: what
 * the exporter's run side (hooks/otel_record.c) and tracer (otel.c) must
 * keep whatever records they exchange. Each case is a shape the library
 * produces:
 *
 *   - an asynchronous run's model call: LM_START on the thread that made
 *     the request, LM_END on the thread the answer came to (run.h);
 *   - a hook's decision while a model call is in progress (model_chunk,
 *     around_model): an event of that call's span;
 *   - code mode's nested calls on the worker pool while the code tool's
 *     call is in progress on another thread: children of its span;
 *   - calls still in progress when the exporter stops (a shutdown during
 *     a call), or when their run ends (a cancelled run's abandoned call):
 *     their spans are handed over, ended.
 *
 * (A call that ends on another thread and a child run started there are
 * in test_otel_ring.c, keys_across_threads.) The events are delivered by
 * hand to the observer, and the test drains the ring itself (otel_fake.h):
 * the spans are exactly what these events made.
 */
#include <hookline.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "otel_fake.h"

/* Every record published so far, turned into spans (appended to *out). */
static void drain(hl_otel *o, ot_span **out, size_t *n) {
  pthread_mutex_lock(&o->lock);
  for (ot_rec *r; (r = ot_ring_peek(o)) != NULL;) {
    ot_trace_record(o, r, out, n);
    ot_ring_release(o, r);
  }
  ot_ring_sync(o);
  pthread_mutex_unlock(&o->lock);
}

static const ot_span *span_named(const ot_span *s, const char *op, const char *what) {
  for (; s; s = s->next)
    if (!strcmp(s->op, op) && s->s_what && !strcmp(ot_span_str(s, s->s_what), what)) return s;
  return NULL;
}

static bool child_of(const ot_span *s, const ot_span *parent) {
  return s->has_parent && !memcmp(s->parent_id, parent->span_id, 8) &&
         !memcmp(s->trace_id, parent->trace_id, 16);
}

/* Events delivered on a thread of their own, in order. */
typedef struct on_thread {
  hl_otel *o;
  const hl_event *evs;
  size_t n;
} on_thread;

static void *deliver(void *arg) {
  on_thread *t = arg;
  for (size_t i = 0; i < t->n; i++) ot_on_event(&t->evs[i], t->o);
  return NULL;
}

static void deliver_on_thread(hl_otel *o, const hl_event *evs, size_t n) {
  on_thread t = {o, evs, n};
  pthread_t th;
  if (pthread_create(&th, NULL, deliver, &t) != 0) {
    CHECK(!"pthread_create");
    return;
  }
  pthread_join(th, NULL);
}

/* An asynchronous run's model call: the answer (LM_END) is delivered on
 * another thread than the request (LM_START). The chat span is the
 * run's child, from LM_START's time to LM_END's, with LM_END's usage. */
static void model_call_ends_on_another_thread(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  char inv[] = "inv-async-0123456789abcdef0123456789abcd";
  char inv_copy[sizeof inv]; /* the other thread's own copy of the id */
  memcpy(inv_copy, inv, sizeof inv);
  hl_event as = {.size = sizeof as, .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = inv,
                 .agent_name = "asyncer"};
  hl_event ls = {.size = sizeof ls, .type = HL_EVENT_LM_START, .time_ns = 20, .invocation_id = inv,
                 .name = "gpt-test", .provider = "openai"};
  ot_on_event(&as, o);
  ot_on_event(&ls, o);
  hl_usage usage = {.input_tokens = 7, .output_tokens = 3};
  hl_event le = {.size = sizeof le, .type = HL_EVENT_LM_END, .time_ns = 30, .invocation_id = inv_copy,
                 .name = "gpt-test", .provider = "openai", .usage = &usage, .duration_ms = 10e-6};
  hl_event ae = {.size = sizeof ae, .type = HL_EVENT_AGENT_END, .time_ns = 40, .invocation_id = inv_copy};
  const hl_event there[] = {le, ae};
  deliver_on_thread(o, there, 2);

  ot_span *out = NULL;
  size_t n = 0;
  drain(o, &out, &n);
  CHECK_INT(n, 2);
  const ot_span *root = span_named(out, "invoke_agent", "asyncer");
  const ot_span *chat = span_named(out, "chat", "gpt-test");
  REQUIRE(root && chat);
  CHECK(child_of(chat, root));
  CHECK_INT(chat->start_ns, 20);
  CHECK_INT(chat->end_ns, 30);
  CHECK(chat->ended && chat->measured && chat->has_usage);
  CHECK_INT(chat->in_tokens, 7);
  CHECK_INT(chat->out_tokens, 3);
  CHECK_INT(root->end_ns, 40);
  ot_spans_recycle(o, out);
  CHECK_INT(fake_tracer_free(o), 0);
  fake_free(o);
}

/* A hook's decision while the run's second model call is in progress
 * (a model_chunk hook): an event of that call's span, not of the run's
 * span nor of the first call's. */
static void hook_during_a_model_call(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  const char *inv = "inv-hook-0123456789abcdef0123456789abcde";
  const hl_event evs[] = {
      {.size = sizeof evs[0], .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = inv,
       .agent_name = "streamer"},
      {.size = sizeof evs[0], .type = HL_EVENT_LM_START, .time_ns = 20, .invocation_id = inv, .name = "first"},
      {.size = sizeof evs[0], .type = HL_EVENT_LM_END, .time_ns = 30, .invocation_id = inv, .name = "first"},
      {.size = sizeof evs[0], .type = HL_EVENT_LM_START, .time_ns = 40, .invocation_id = inv, .name = "second"},
      {.size = sizeof evs[0], .type = HL_EVENT_HOOK, .time_ns = 45, .invocation_id = inv, .name = "redact",
       .hook_point = HL_HOOK_MODEL_CHUNK, .hook_action = HL_HOOK_CONTINUE},
      {.size = sizeof evs[0], .type = HL_EVENT_LM_END, .time_ns = 50, .invocation_id = inv, .name = "second"},
      {.size = sizeof evs[0], .type = HL_EVENT_AGENT_END, .time_ns = 60, .invocation_id = inv},
  };
  for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) ot_on_event(&evs[i], o);

  ot_span *out = NULL;
  size_t n = 0;
  drain(o, &out, &n);
  CHECK_INT(n, 3);
  const ot_span *root = span_named(out, "invoke_agent", "streamer");
  const ot_span *first = span_named(out, "chat", "first"), *second = span_named(out, "chat", "second");
  REQUIRE(root && first && second);
  CHECK_INT(second->n_events, 1);
  CHECK_INT(first->n_events, 0);
  CHECK_INT(root->n_events, 0);
  ot_buf *ev = (ot_buf *)&second->events;
  CHECK(strstr(ot_buf_str(ev), "\"timeUnixNano\":\"45\"") != NULL);
  CHECK(strstr(ot_buf_str(ev), "\"redact\"") != NULL);
  CHECK(strstr(ot_buf_str(ev), "\"model_chunk\"") != NULL);
  CHECK(child_of(first, root) && child_of(second, root));
  CHECK_INT(second->start_ns, 40);
  CHECK_INT(second->end_ns, 50);
  ot_spans_recycle(o, out);
  CHECK_INT(fake_tracer_free(o), 0);
  fake_free(o);
}

/* Code mode: the code tool's call in progress on the run's thread, its
 * nested calls started and ended on a worker (outer_call_id names the
 * code tool's call). They are children of the code tool's span, which
 * ends after them. */
static void nested_calls_on_another_thread(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  char inv[] = "inv-code-0123456789abcdef0123456789abcde", inv_copy[sizeof inv];
  memcpy(inv_copy, inv, sizeof inv);
  hl_event as = {.size = sizeof as, .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = inv,
                 .agent_name = "coder"};
  hl_event cs = {.size = sizeof cs, .type = HL_EVENT_TOOL_START, .time_ns = 20, .invocation_id = inv,
                 .call_id = "code-1", .name = "run_javascript"};
  ot_on_event(&as, o);
  ot_on_event(&cs, o);
  const hl_event nested[] = {
      {.size = sizeof nested[0], .type = HL_EVENT_TOOL_START, .time_ns = 21, .invocation_id = inv_copy,
       .call_id = "n-1", .name = "add", .outer_call_id = "code-1"},
      {.size = sizeof nested[0], .type = HL_EVENT_TOOL_END, .time_ns = 22, .invocation_id = inv_copy,
       .call_id = "n-1", .name = "add", .outer_call_id = "code-1", .duration_ms = 1e-6},
  };
  deliver_on_thread(o, nested, 2);
  hl_event ce = {.size = sizeof ce, .type = HL_EVENT_TOOL_END, .time_ns = 30, .invocation_id = inv,
                 .call_id = "code-1", .name = "run_javascript", .duration_ms = 10e-6};
  hl_event ae = {.size = sizeof ae, .type = HL_EVENT_AGENT_END, .time_ns = 40, .invocation_id = inv};
  ot_on_event(&ce, o);
  ot_on_event(&ae, o);

  ot_span *out = NULL;
  size_t n = 0;
  drain(o, &out, &n);
  CHECK_INT(n, 3);
  const ot_span *root = span_named(out, "invoke_agent", "coder");
  const ot_span *code = span_named(out, "execute_tool", "run_javascript");
  const ot_span *add = span_named(out, "execute_tool", "add");
  REQUIRE(root && code && add);
  CHECK(child_of(code, root));
  CHECK(child_of(add, code));
  CHECK_INT(add->start_ns, 21);
  CHECK_INT(add->end_ns, 22);
  CHECK_INT(code->start_ns, 20);
  CHECK_INT(code->end_ns, 30);
  ot_spans_recycle(o, out);
  CHECK_INT(fake_tracer_free(o), 0);
  fake_free(o);
}

/* The exporter stops while calls are in progress: one run in a model
 * call, another (started on a worker) in a tool call. Both runs' spans
 * and the calls' are handed over, ended, each call's under its run;
 * events after the stop record nothing. */
static void calls_in_progress_at_stop(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  const char *a = "inv-stop-a-0123456789abcdef0123456789abc";
  const char *b = "inv-stop-b-0123456789abcdef0123456789abc";
  const hl_event here[] = {
      {.size = sizeof here[0], .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = a, .agent_name = "talker"},
      {.size = sizeof here[0], .type = HL_EVENT_LM_START, .time_ns = 20, .invocation_id = a, .name = "gpt-test",
       .provider = "openai"},
  };
  const hl_event there[] = {
      {.size = sizeof there[0], .type = HL_EVENT_AGENT_START, .time_ns = 11, .invocation_id = b, .agent_name = "worker"},
      {.size = sizeof there[0], .type = HL_EVENT_TOOL_START, .time_ns = 21, .invocation_id = b, .call_id = "slow-1",
       .name = "slow"},
  };
  for (size_t i = 0; i < 2; i++) ot_on_event(&here[i], o);
  deliver_on_thread(o, there, 2);

  ot_span *out = NULL;
  size_t n = 0;
  ot_tracer_stop(o, &out, &n);
  /* after the stop: the calls' ends are not recorded */
  hl_event le = {.size = sizeof le, .type = HL_EVENT_LM_END, .time_ns = 30, .invocation_id = a, .name = "gpt-test"};
  ot_on_event(&le, o);
  CHECK(ot_ring_peek(o) == NULL);

  CHECK_INT(n, 4);
  const ot_span *talker = span_named(out, "invoke_agent", "talker");
  const ot_span *chat = span_named(out, "chat", "gpt-test");
  const ot_span *worker = span_named(out, "invoke_agent", "worker");
  const ot_span *slow = span_named(out, "execute_tool", "slow");
  REQUIRE(talker && chat && worker && slow);
  CHECK(child_of(chat, talker));
  CHECK(child_of(slow, worker));
  CHECK(chat->ended && slow->ended);
  CHECK_INT(chat->start_ns, 20);
  CHECK_INT(slow->start_ns, 21);
  CHECK(chat->end_ns >= chat->start_ns && slow->end_ns >= slow->start_ns);
  CHECK(talker->end_ns >= 20 && worker->end_ns >= 21);
  ot_spans_recycle(o, out);
  CHECK_INT(fake_tracer_free(o), 0);
  fake_free(o);
}

/* A cancelled run ends (AGENT_END) while one of its calls never ends:
 * the call's span is handed over with the run's, ended, under it; the
 * call's late TOOL_END, after the run's end, adds no span. */
static void call_left_open_by_a_cancelled_run(void) {
  hl_otel *o = fake_otel();
  REQUIRE(o != NULL);
  REQUIRE(fake_tracer(o));
  const char *inv = "inv-cancel-0123456789abcdef0123456789abc";
  const hl_event evs[] = {
      {.size = sizeof evs[0], .type = HL_EVENT_AGENT_START, .time_ns = 10, .invocation_id = inv,
       .agent_name = "quitter"},
      {.size = sizeof evs[0], .type = HL_EVENT_TOOL_START, .time_ns = 20, .invocation_id = inv,
       .call_id = "stuck-1", .name = "stuck"},
      {.size = sizeof evs[0], .type = HL_EVENT_AGENT_END, .time_ns = 30, .invocation_id = inv,
       .error = {.status = HL_ERR_CANCELLED, .message = "run cancelled"}},
  };
  for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) ot_on_event(&evs[i], o);
  ot_span *out = NULL;
  size_t n = 0;
  drain(o, &out, &n);
  CHECK_INT(n, 2);
  const ot_span *root = span_named(out, "invoke_agent", "quitter");
  const ot_span *stuck = span_named(out, "execute_tool", "stuck");
  REQUIRE(root && stuck);
  CHECK(child_of(stuck, root));
  CHECK(stuck->ended);
  CHECK_INT(stuck->start_ns, 20);
  CHECK_INT(root->end_ns, 30);
  CHECK_INT(root->status, OT_STATUS_ERROR);

  hl_event late = {.size = sizeof late, .type = HL_EVENT_TOOL_END, .time_ns = 40, .invocation_id = inv,
                   .call_id = "stuck-1", .name = "stuck", .duration_ms = 20e-6};
  ot_on_event(&late, o);
  ot_span *more = NULL;
  size_t n_more = 0;
  drain(o, &more, &n_more);
  CHECK_INT(n_more, 0);
  ot_spans_recycle(o, out);
  CHECK_INT(fake_tracer_free(o), 0);
  fake_free(o);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(model_call_ends_on_another_thread);
  RUN(hook_during_a_model_call);
  RUN(nested_calls_on_another_thread);
  RUN(calls_in_progress_at_stop);
  RUN(call_left_open_by_a_cancelled_run);
  return CHECK_EXIT();
}
