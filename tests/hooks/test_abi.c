/*
 * tests/hooks/test_abi.c - the rows of hook ABI v2 (docs/hooks.md): H15
 * around_model, H16 around_tool, H17 model_chunk, H18 declared effects
 * (copy only for editors, flags enforced), H19 versioned structs and
 * registration. Real agents on the scripted provider (and, for retries, a
 * provider of the test's own that fails its first calls, built on the
 * public provider API as a user would).
 */
#include "fixture.h"

static test_log LOG;

/* ------------------------------------------------------------------ */
/* A provider that fails its first `failures` calls, then asks another */
/* ------------------------------------------------------------------ */

typedef struct flaky {
  hl_provider *inner;
  atomic_int calls, failures;
} flaky;

static hl_status flaky_complete(void *impl, hl_context *ctx, const hl_request *req,
                                hl_response **out) {
  flaky *f = impl;
  if (atomic_fetch_add(&f->calls, 1) < atomic_load(&f->failures))
    return hl_fail(HL_ERR_HTTP, "flaky: 503 on call %d", atomic_load(&f->calls));
  return hl_provider_complete(f->inner, ctx, req, out);
}
static void flaky_destroy(void *impl) {
  flaky *f = impl;
  hl_provider_unref(f->inner);
  free(f);
}
static const hl_provider_ops flaky_ops = {.size = sizeof(hl_provider_ops), .name = "flaky", .complete = flaky_complete,
                                          .destroy = flaky_destroy};

static hl_provider *flaky_new(hl_provider *inner, int failures, flaky **out) {
  flaky *f = calloc(1, sizeof *f);
  f->inner = hl_provider_ref(inner);
  atomic_init(&f->failures, failures);
  *out = f;
  return hl_provider_new(&flaky_ops, f);
}

/* ------------------------------------------------------------------ */
/* H15: around_model                                                   */
/* ------------------------------------------------------------------ */

/* Pass-through wrap that logs around its next: "<name>>" and "<<name>". */
static hl_hook_action wrap_log_model(hl_context *ctx, const hl_around_model_args *in,
                                     hl_around_model_out *out, void *ud) {
  (void)ctx;
  char b[64];
  snprintf(b, sizeof b, "%s>", (const char *)ud);
  log_add(&LOG, b);
  hl_next_model(in->next, NULL, &out->response);
  snprintf(b, sizeof b, "<%s", (const char *)ud);
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action after_model_log(hl_context *ctx, const hl_after_model_args *in,
                                      hl_after_model_out *out, void *ud) {
  (void)ctx, (void)out, (void)ud;
  char b[160];
  char *text = in->response && in->response->message ? hl_message_text(in->response->message) : NULL;
  snprintf(b, sizeof b, "after_model:%s:%s", hl_status_name(in->error->status), text ? text : "-");
  hl_free(text);
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static void H15_around_model_next_once_nests_global_outermost(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "hello");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  REQUIRE(hl_hooks_add_around_model(hl_hooks_global(), "g", HL_HOOK_OBSERVE, wrap_log_model, "G") == HL_OK);
  hl_hooks_add_around_model(hl_agent_hooks(a), "a", HL_HOOK_OBSERVE, wrap_log_model, "A");
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, after_model_log, NULL);
  CHECK_RUN(a, NULL, "hi", "hello");
  CHECK_STR(LOG.buf, "G>,A>,<A,<G,after_model:Ok:hello");
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "lm_start", NULL, NULL), 1);
  cJSON_Delete(events);
  hl_hooks_remove(hl_hooks_global(), "g");
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action wrap_cache(hl_context *ctx, const hl_around_model_args *in,
                                 hl_around_model_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  out->response = hl_response_new_text("from the cache");
  return HL_HOOK_CONTINUE;
}

static void H15_around_model_next_zero_times_answers_without_the_model(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "from the model");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_around_model(hl_agent_hooks(a), "cache", HL_HOOK_DECIDE, wrap_cache, NULL);
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, after_model_log, NULL);
  CHECK_RUN(a, NULL, "hi", "from the cache");
  CHECK_INT(hl_scripted_request_count(p), 0);
  CHECK_STR(LOG.buf, "after_model:Ok:from the cache"); /* after_model sees the wrap's outcome */
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "lm_start", NULL, NULL), 0); /* no model call */
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Retry once after an error from next. */
static hl_hook_action wrap_retry(hl_context *ctx, const hl_around_model_args *in,
                                 hl_around_model_out *out, void *ud) {
  (void)ctx, (void)ud;
  for (int attempt = 0; attempt < 2; attempt++) {
    hl_status st = hl_next_model(in->next, NULL, &out->response);
    char b[160];
    snprintf(b, sizeof b, "try%d:%s:%s", attempt + 1, hl_status_name(st), st ? hl_last_error() : "");
    log_add(&LOG, b);
    if (st == HL_OK) break;
  }
  return HL_HOOK_CONTINUE;
}

static void H15_around_model_next_twice_retries_after_an_error(void) {
  log_clear(&LOG);
  hl_provider *s = hl_scripted_new();
  hl_scripted_push_text(s, "second time lucky");
  flaky *f;
  hl_provider *p = flaky_new(s, 1, &f);
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_around_model(hl_agent_hooks(a), "retry", HL_HOOK_DECIDE, wrap_retry, NULL);
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, after_model_log, NULL);
  CHECK_RUN(a, NULL, "hi", "second time lucky");
  CHECK_INT(atomic_load(&f->calls), 2);
  CHECK_STR(LOG.buf, "try1:HttpError:flaky: 503 on call 1,try2:Ok:,after_model:Ok:second time lucky");
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "lm_start", NULL, NULL), 2); /* one per model call */
  CHECK_STR(hl_json_get_string(hl_json_get(event_nth(events, "lm_end", 0), "error"), "status"),
            "HttpError");
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
  hl_provider_unref(s);
}

static void H15_around_model_error_from_next_reaches_after_model_and_caller(void) {
  log_clear(&LOG);
  hl_provider *s = hl_scripted_new();
  flaky *f;
  hl_provider *p = flaky_new(s, 100, &f);
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_model(hl_agent_hooks(a), "pass", HL_HOOK_OBSERVE, wrap_log_model, "W");
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, after_model_log, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_HTTP);
  CHECK(answer == NULL);
  CHECK_STR(hl_last_error(), "flaky: 503 on call 1");
  CHECK_STR(LOG.buf, "W>,<W,after_model:HttpError:-");
  hl_agent_unref(a);
  hl_provider_unref(p);
  hl_provider_unref(s);
}

/* A wrap's own error (a timeout it enforces, say). */
static hl_hook_action wrap_own_error(hl_context *ctx, const hl_around_model_args *in,
                                     hl_around_model_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  out->status = hl_fail(HL_ERR_TIMEOUT, "the wrap gave up after %d ms", 250);
  return HL_HOOK_CONTINUE;
}

static void H15_around_model_wrap_reports_its_own_error(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "never");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_model(hl_agent_hooks(a), "timeout", HL_HOOK_DECIDE, wrap_own_error, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_TIMEOUT);
  CHECK_STR(hl_last_error(), "the wrap gave up after 250 ms");
  CHECK_INT(hl_scripted_request_count(p), 0);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Fallback: next with a request of the wrap's own (another model). */
static hl_hook_action wrap_fallback(hl_context *ctx, const hl_around_model_args *in,
                                    hl_around_model_out *out, void *ud) {
  (void)ctx, (void)ud;
  hl_request *other = hl_request_clone(in->request);
  if (!other || hl_request_set_model(other, "fallback-model") != HL_OK) {
    hl_request_free(other);
    return hl_hook_abort("no memory");
  }
  hl_next_model(in->next, other, &out->response);
  hl_request_free(other);
  return HL_HOOK_CONTINUE;
}

static void H15_around_model_next_with_another_request_is_a_fallback(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "ok");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_model(a, "main-model");
  hl_hooks_add_around_model(hl_agent_hooks(a), "fallback", HL_HOOK_DECIDE, wrap_fallback, NULL);
  CHECK_RUN(a, NULL, "hi", "ok");
  hl_request *seen = hl_scripted_request(p, 0);
  REQUIRE(seen != NULL);
  CHECK_STR(seen->model, "fallback-model");
  hl_request_free(seen);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Abort inside a wrap: the inner wrap aborts; the outer one tries again
 * and gets HL_ERR_ABORTED without anything running. */
static atomic_int inner_calls;
static hl_hook_action wrap_abort(hl_context *ctx, const hl_around_model_args *in,
                                 hl_around_model_out *out, void *ud) {
  (void)ctx, (void)in, (void)out, (void)ud;
  atomic_fetch_add(&inner_calls, 1);
  return hl_hook_abort("inner wrap says no");
}

static void H15_abort_inside_a_wrap_stops_the_run(void) {
  log_clear(&LOG);
  atomic_store(&inner_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "never");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_model(hl_agent_hooks(a), "retry", HL_HOOK_DECIDE, wrap_retry, NULL);
  hl_hooks_add_around_model(hl_agent_hooks(a), "inner", HL_HOOK_DECIDE, wrap_abort, NULL);
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, after_model_log, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "inner wrap says no");
  CHECK_INT(atomic_load(&inner_calls), 1);
  CHECK_INT(hl_scripted_request_count(p), 0);
  /* the retry saw the abort twice; after_model did not run */
  CHECK_STR(LOG.buf, "try1:Aborted:inner wrap says no,try2:Aborted:inner wrap says no");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void H15_wrap_without_decide_must_call_next_exactly_once(void) {
  /* Retrying is deciding: without HL_HOOK_DECIDE it aborts the run. */
  hl_provider *s = hl_scripted_new();
  hl_scripted_push_text(s, "ok");
  flaky *f;
  hl_provider *p = flaky_new(s, 1, &f);
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_model(hl_agent_hooks(a), "sneaky", HL_HOOK_OBSERVE, wrap_retry, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "hook \"sneaky\" at around_model called next more than once "
                             "without declaring HL_HOOK_DECIDE");
  hl_agent_unref(a);
  hl_provider_unref(p);
  /* and so is answering without the model */
  p = hl_scripted_new();
  a = make_agent("root", p);
  hl_hooks_add_around_model(hl_agent_hooks(a), "sneaky", HL_HOOK_OBSERVE, wrap_cache, NULL);
  CHECK_INT(hl_agent_run(a, NULL, "hi", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "hook \"sneaky\" at around_model did not call next and did not "
                             "declare HL_HOOK_DECIDE");
  hl_agent_unref(a);
  hl_provider_unref(p);
  hl_provider_unref(s);
}

/* ------------------------------------------------------------------ */
/* H16: around_tool                                                    */
/* ------------------------------------------------------------------ */

static hl_hook_action wrap_log_tool(hl_context *ctx, const hl_around_tool_args *in,
                                    hl_around_tool_out *out, void *ud) {
  (void)ctx;
  char b[96];
  snprintf(b, sizeof b, "%s>%s", (const char *)ud, in->call->name);
  log_add(&LOG, b);
  hl_status st = hl_next_tool(in->next, NULL, &out->result);
  snprintf(b, sizeof b, "<%s:%s", (const char *)ud, hl_status_name(st));
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action after_tool_log(hl_context *ctx, const hl_after_tool_args *in,
                                     hl_after_tool_out *out, void *ud) {
  (void)ctx, (void)out, (void)ud;
  char b[400];
  snprintf(b, sizeof b, "after_tool:%s:%s", hl_status_name(in->error->status), json_text(in->result));
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static void H16_around_tool_next_once_nests_and_after_tool_sees_the_result(void) {
  log_clear(&LOG);
  atomic_store(&add_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_tool(hl_agent_hooks(a), "outer", HL_HOOK_OBSERVE, wrap_log_tool, "O");
  hl_hooks_add_around_tool(hl_agent_hooks(a), "inner", HL_HOOK_OBSERVE, wrap_log_tool, "I");
  hl_hooks_add_after_tool(hl_agent_hooks(a), "at", HL_HOOK_OBSERVE, after_tool_log, NULL);
  CHECK_RUN(a, NULL, "1+2", "3");
  CHECK_STR(LOG.buf, "O>add,I>add,<I:Ok,<O:Ok,after_tool:Ok:3");
  CHECK_INT(atomic_load(&add_calls), 1);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action wrap_tool_cache(hl_context *ctx, const hl_around_tool_args *in,
                                      hl_around_tool_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  out->result = cJSON_CreateNumber(42);
  return HL_HOOK_CONTINUE;
}

static void H16_around_tool_next_zero_times_is_the_result_without_the_tool(void) {
  log_clear(&LOG);
  atomic_store(&add_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_around_tool(hl_agent_hooks(a), "cache", HL_HOOK_DECIDE, wrap_tool_cache, NULL);
  hl_hooks_add_after_tool(hl_agent_hooks(a), "at", HL_HOOK_OBSERVE, after_tool_log, NULL);
  CHECK_RUN(a, NULL, "1+2", "42");
  CHECK_INT(atomic_load(&add_calls), 0);
  CHECK_STR(LOG.buf, "after_tool:Ok:42");
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "tool_start", NULL, NULL), 0); /* no tool ran */
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* A tool that fails its first call. */
static atomic_int flaky_tool_calls;
static hl_status flaky_tool_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)args, (void)ud;
  if (atomic_fetch_add(&flaky_tool_calls, 1) == 0)
    return hl_fail(HL_ERR_EXECUTION_FAILED, "flaky tool: first call fails");
  *result = cJSON_CreateString("worked");
  return HL_OK;
}

static hl_hook_action wrap_tool_retry(hl_context *ctx, const hl_around_tool_args *in,
                                      hl_around_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  for (int i = 0; i < 2; i++) {
    hl_status st = hl_next_tool(in->next, NULL, &out->result);
    char b[128];
    snprintf(b, sizeof b, "try%d:%s:%s", i + 1, hl_status_name(st), st ? hl_last_error() : "");
    log_add(&LOG, b);
    if (st == HL_OK) break;
  }
  return HL_HOOK_CONTINUE;
}

static void H16_around_tool_next_twice_retries_a_failed_tool(void) {
  log_clear(&LOG);
  atomic_store(&flaky_tool_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "flaky", "{}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_tool *t = hl_tool_new("flaky", "fails once", flaky_tool_fn, NULL);
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_around_tool(hl_agent_hooks(a), "retry", HL_HOOK_DECIDE, wrap_tool_retry, NULL);
  hl_hooks_add_after_tool(hl_agent_hooks(a), "at", HL_HOOK_OBSERVE, after_tool_log, NULL);
  CHECK_RUN(a, NULL, "go", "worked");
  CHECK_INT(atomic_load(&flaky_tool_calls), 2);
  CHECK_STR(LOG.buf, "try1:ExecutionFailed:flaky tool: first call fails,try2:Ok:,"
                     "after_tool:Ok:\"worked\"");
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "tool_start", NULL, NULL), 2); /* one per execution */
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void H16_error_from_next_reaches_after_tool_and_the_model(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "nosuch", "{}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_tool(hl_agent_hooks(a), "pass", HL_HOOK_OBSERVE, wrap_log_tool, "W");
  hl_hooks_add_after_tool(hl_agent_hooks(a), "at", HL_HOOK_OBSERVE, after_tool_log, NULL);
  CHECK_RUN(a, NULL, "go", "NotFound: unknown tool \"nosuch\"");
  CHECK_STR(LOG.buf, "W>nosuch,<W:NotFound,after_tool:NotFound:(null)");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action wrap_tool_args(hl_context *ctx, const hl_around_tool_args *in,
                                     hl_around_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  cJSON *other = cJSON_Parse("{\"a\":40,\"b\":2}");
  hl_next_tool(in->next, other, &out->result);
  cJSON_Delete(other);
  return HL_HOOK_CONTINUE;
}

static void H16_next_with_other_arguments_runs_the_tool_with_them(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_around_tool(hl_agent_hooks(a), "args", HL_HOOK_OBSERVE, wrap_tool_args, NULL);
  CHECK_RUN(a, NULL, "go", "42");
  cJSON *events = hl_observer_collected(obs);
  CHECK_STR(json_text(hl_json_get(event_nth(events, "tool_start", 0), "args")), "{\"a\":40,\"b\":2}");
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action wrap_tool_abort(hl_context *ctx, const hl_around_tool_args *in,
                                      hl_around_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  hl_next_tool(in->next, NULL, &out->result); /* the tool runs, then the wrap aborts */
  return hl_hook_abort("tool wrap aborts after the call");
}

static void H16_abort_inside_a_tool_wrap_stops_the_run(void) {
  log_clear(&LOG);
  atomic_store(&add_calls, 0);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "never");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_around_tool(hl_agent_hooks(a), "abort", HL_HOOK_DECIDE, wrap_tool_abort, NULL);
  hl_hooks_add_after_tool(hl_agent_hooks(a), "at", HL_HOOK_OBSERVE, after_tool_log, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "go", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "tool wrap aborts after the call");
  CHECK_INT(atomic_load(&add_calls), 1);
  CHECK_INT(hl_scripted_request_count(p), 1);
  CHECK_STR(LOG.buf, ""); /* after_tool does not run after an abort */
  CHECK_INT(hl_session_messages(hl_agent_session(a))->count, 0);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H17: model_chunk                                                    */
/* ------------------------------------------------------------------ */

static void token_log(const char *text, void *ud) {
  (void)ud;
  char b[96];
  snprintf(b, sizeof b, "tok:%s", text);
  log_add(&LOG, b);
}

static hl_hook_action chunk_log(hl_context *ctx, const hl_model_chunk_args *in,
                                hl_model_chunk_out *out, void *ud) {
  (void)ctx, (void)out, (void)ud;
  char b[96];
  snprintf(b, sizeof b, "%s:%s", in->kind == HL_CHUNK_TEXT ? "text" : "args", in->text);
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static void H17_chunk_hook_sees_every_text_and_tool_argument_delta(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "three it is");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "log", HL_HOOK_OBSERVE, chunk_log, NULL);
  CHECK_RUN(a, NULL, "1+2", "three it is");
  CHECK_STR(LOG.buf, "args:{\"a\":1,,args:\"b\":2},text:three ,text:it ,text:is");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Shout every text delta; drop the word "secret ". */
static hl_hook_action chunk_edit(hl_context *ctx, const hl_model_chunk_args *in,
                                 hl_model_chunk_out *out, void *ud) {
  (void)ctx, (void)ud;
  if (in->kind != HL_CHUNK_TEXT) return HL_HOOK_CONTINUE;
  if (strcmp(in->text, "secret ") == 0) {
    out->drop = true;
    return HL_HOOK_CONTINUE;
  }
  out->text = strdup(in->text);
  for (char *c = out->text; c && *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  return HL_HOOK_CONTINUE;
}

static void H17_edited_and_dropped_chunks_make_the_final_response(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "the secret code is out");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_agent_set_token_callback(a, token_log, NULL);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "shout", HL_HOOK_EDIT_CHUNK, chunk_edit, NULL);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "log", HL_HOOK_OBSERVE, chunk_log, NULL);
  hl_hooks_add_after_model(hl_agent_hooks(a), "am", HL_HOOK_OBSERVE, after_model_log, NULL);
  CHECK_RUN(a, NULL, "hi", "THE CODE IS OUT");
  /* later hooks see the edit, the dropped chunk reaches nobody, and
   * after_model sees exactly what was streamed */
  CHECK_STR(LOG.buf, "text:THE ,tok:THE ,text:CODE ,tok:CODE ,text:IS ,tok:IS ,text:OUT,tok:OUT,"
                     "after_model:Ok:THE CODE IS OUT");
  const hl_messages *h = hl_session_messages(hl_agent_session(a));
  char *kept = hl_message_text(h->items[h->count - 1]);
  CHECK_STR(kept, "THE CODE IS OUT"); /* the history keeps what the user saw */
  hl_free(kept);
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "response", NULL, NULL), 5); /* 4 deltas + the response */
  CHECK(event_count(events, "hook", "hook", "shout") == 5);  /* 4 edits + 1 drop, traced */
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Turn the "1" of {"a":1, into a "5". */
static hl_hook_action chunk_args_edit(hl_context *ctx, const hl_model_chunk_args *in,
                                      hl_model_chunk_out *out, void *ud) {
  (void)ctx, (void)ud;
  if (in->kind != HL_CHUNK_TOOL_ARGS || strcmp(in->tool_name, "add") || !strstr(in->text, ":1,"))
    return HL_HOOK_CONTINUE;
  out->text = strdup("{\"a\":5,");
  return HL_HOOK_CONTINUE;
}

static void H17_edited_tool_argument_chunks_are_what_the_tool_runs_with(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "args", HL_HOOK_EDIT_CHUNK, chunk_args_edit, NULL);
  CHECK_RUN(a, NULL, "1+2", "7");
  cJSON *events = hl_observer_collected(obs);
  CHECK_STR(json_text(hl_json_get(event_nth(events, "tool_start", 0), "args")), "{\"a\":5,\"b\":2}");
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action chunk_break_json(hl_context *ctx, const hl_model_chunk_args *in,
                                       hl_model_chunk_out *out, void *ud) {
  (void)ctx, (void)ud;
  out->drop = in->kind == HL_CHUNK_TOOL_ARGS && strchr(in->text, '}') != NULL;
  return HL_HOOK_CONTINUE;
}

static void H17_chunks_that_break_the_arguments_fail_the_model_call(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "break", HL_HOOK_EDIT_CHUNK, chunk_break_json, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "1+2", &answer), HL_ERR_PROVIDER);
  CHECK_STR(hl_last_error(), "the streamed arguments of tool call c1 (add), as model_chunk hooks "
                             "left them, are not a JSON object");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* Hold every delta back and pass the whole text on, upper-cased, at the
 * end-of-stream call. */
typedef struct holder {
  char held[128];
  int finals;
} holder;
static hl_hook_action chunk_hold(hl_context *ctx, const hl_model_chunk_args *in,
                                 hl_model_chunk_out *out, void *ud) {
  (void)ctx;
  holder *h = ud;
  if (in->kind != HL_CHUNK_TEXT) return HL_HOOK_CONTINUE;
  strncat(h->held, in->text, sizeof h->held - strlen(h->held) - 1);
  if (!in->final) {
    out->drop = true;
    return HL_HOOK_CONTINUE;
  }
  h->finals++;
  out->text = strdup(h->held);
  for (char *c = out->text; c && *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  h->held[0] = '\0';
  return HL_HOOK_CONTINUE;
}
/* Drops everything, the end-of-stream call included. */
static hl_hook_action chunk_drop_all(hl_context *ctx, const hl_model_chunk_args *in,
                                     hl_model_chunk_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  out->drop = true;
  return HL_HOOK_CONTINUE;
}

static void H17_end_of_stream_call_flushes_held_text_to_editors_only(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "held until the end");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_agent_set_token_callback(a, token_log, NULL);
  holder h = {{0}, 0};
  holder h2 = {{0}, 0};
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "log", HL_HOOK_OBSERVE, chunk_log, NULL);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "hold", HL_HOOK_EDIT_CHUNK, chunk_hold, &h);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "after", HL_HOOK_OBSERVE, chunk_log, NULL);
  CHECK_RUN(a, NULL, "hi", "HELD UNTIL THE END");
  CHECK_INT(h.finals, 1);
  /* the observer before it sees the deltas, not the end-of-stream call;
   * the one after it sees nothing (dropped, then not called at the end);
   * the token callback gets the flushed text as the one delta */
  CHECK_STR(LOG.buf, "text:held ,text:until ,text:the ,text:end,tok:HELD UNTIL THE END");
  hl_agent_unref(a);
  hl_provider_unref(p);

  /* a drop at the end-of-stream call empties the text, and later editors
   * still get their call */
  p = hl_scripted_new();
  hl_scripted_push_text(p, "a b");
  a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "drop", HL_HOOK_EDIT_CHUNK, chunk_drop_all, NULL);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "hold", HL_HOOK_EDIT_CHUNK, chunk_hold, &h2);
  CHECK_RUN(a, NULL, "hi", "");
  CHECK_INT(h2.finals, 1);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action h17_stop_at_two(hl_context *ctx, const hl_model_chunk_args *in,
                                      hl_model_chunk_out *out, void *ud) {
  (void)ctx, (void)out, (void)ud;
  return strcmp(in->text, "two ") == 0 ? hl_hook_abort("no twos here") : HL_HOOK_CONTINUE;
}

static void H17_chunk_abort_stops_the_stream_and_the_run(void) {
  /* (H10 covers abort at model_chunk among all points; here: the stream
   * ends at the abort, the token callback gets nothing after it.) */
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "one two three");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_agent_set_token_callback(a, token_log, NULL);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "log", HL_HOOK_OBSERVE, chunk_log, NULL);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "stop", HL_HOOK_DECIDE, h17_stop_at_two, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "count", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "no twos here");
  CHECK_STR(LOG.buf, "text:one ,tok:one ,text:two ");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static void H17_chunk_hook_without_edit_flag_may_not_drop(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_stream(a, true);
  hl_hooks_add_model_chunk(hl_agent_hooks(a), "liar", HL_HOOK_OBSERVE, chunk_break_json, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(a, NULL, "1+2", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "hook \"liar\" at model_chunk dropped a chunk without declaring "
                             "HL_HOOK_EDIT_CHUNK");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H18: declared effects                                               */
/* ------------------------------------------------------------------ */

/* Records whether the request it sees borrows the session's history
 * (the same message objects) and whether it got an editable request. */
static hl_hook_action model_probe(hl_context *ctx, const hl_before_model_args *in,
                                  hl_before_model_out *out, void *ud) {
  (void)ud;
  const hl_messages *h = hl_session_messages(hl_context_session(ctx));
  const hl_messages *r = &in->request->messages;
  bool shared = h->count && r->count && r->items[r->count - 1] == h->items[h->count - 1];
  bool shared_tools = in->request->n_tools &&
                      in->request->tools[0].parameters == hl_tool_schema(hl_tools_at(hl_agent_tools(hl_context_agent(ctx)), 0));
  char b[96];
  snprintf(b, sizeof b, "%s:%s:%s:%s", (const char *)ud, shared ? "borrowed" : "copied",
           shared_tools ? "borrowed-tools" : "copied-tools", out->request ? "editable" : "const");
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action model_editor(hl_context *ctx, const hl_before_model_args *in,
                                   hl_before_model_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  hl_message *m = out->request->messages.items[out->request->messages.count - 1];
  hl_message_add_text(m, " (edited)");
  return HL_HOOK_CONTINUE;
}

static void H18_observe_only_hooks_borrow_editors_get_a_private_copy(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "one");
  hl_scripted_push_text(p, "two");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_before_model(hl_agent_hooks(a), "probe", HL_HOOK_OBSERVE, model_probe, "observe");
  CHECK_RUN(a, NULL, "first", "one");
  CHECK_STR(LOG.buf, "observe:borrowed:borrowed-tools:const");
  log_clear(&LOG);
  /* An editor anywhere at the point: everyone sees the private copy. */
  hl_hooks_add_before_model(hl_agent_hooks(a), "edit", HL_HOOK_EDIT_REQUEST, model_editor, NULL);
  hl_hooks_add_before_model(hl_agent_hooks(a), "probe2", HL_HOOK_EDIT_REQUEST, model_probe, "editor");
  CHECK_RUN(a, NULL, "second", "two");
  CHECK_STR(LOG.buf, "observe:copied:copied-tools:const,editor:copied:copied-tools:editable");
  hl_request *sent = hl_scripted_request(p, 1);
  REQUIRE(sent != NULL);
  char *t = hl_message_text(sent->messages.items[sent->messages.count - 1]);
  CHECK_STR(t, "second (edited)");
  hl_free(t);
  hl_request_free(sent);
  /* the session's history was not touched by the edit */
  const hl_messages *h = hl_session_messages(hl_agent_session(a));
  t = hl_message_text(h->items[2]);
  CHECK_STR(t, "second");
  hl_free(t);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action tool_probe(hl_context *ctx, const hl_before_tool_args *in,
                                 hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  char b[96];
  snprintf(b, sizeof b, "%s:%s:%s", (const char *)ud, out->args ? "editable" : "const",
           out->args && out->args == in->args ? "same" : "-");
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static void H18_before_tool_arguments_are_editable_only_for_editors(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "o", HL_HOOK_OBSERVE, tool_probe, "observe");
  hl_hooks_add_before_tool(hl_agent_hooks(a), "e", HL_HOOK_EDIT_ARGS, tool_probe, "editor");
  CHECK_RUN(a, NULL, "1+2", "3");
  CHECK_STR(LOG.buf, "observe:const:-,editor:editable:same");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action undeclared_override(hl_context *ctx, const hl_before_tool_args *in,
                                          hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  out->result = cJSON_CreateString("not allowed"); /* freed by the library */
  return HL_HOOK_OVERRIDE;
}
static hl_hook_action undeclared_edit(hl_context *ctx, const hl_before_tool_args *in,
                                      hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  out->args = cJSON_CreateObject(); /* freed by the library */
  return HL_HOOK_CONTINUE;
}
static hl_hook_action replaces_request(hl_context *ctx, const hl_before_model_args *in,
                                       hl_before_model_out *out, void *ud) {
  (void)ctx, (void)ud;
  static hl_request other;
  (void)in;
  out->request = &other;
  return HL_HOOK_CONTINUE;
}

static void H18_hooks_acting_beyond_their_flags_abort_the_run(void) {
  struct {
    hl_hook_point point;
    hl_hook_fn fn;
    unsigned flags;
    const char *want;
  } cases[] = {
      {HL_HOOK_BEFORE_TOOL, {.before_tool = undeclared_override}, HL_HOOK_EDIT_ARGS,
       "hook \"x\" at before_tool returned override without declaring HL_HOOK_DECIDE"},
      {HL_HOOK_BEFORE_TOOL, {.before_tool = undeclared_edit}, HL_HOOK_DECIDE,
       "hook \"x\" at before_tool wrote an edit field without declaring its HL_HOOK_EDIT_ flag"},
      {HL_HOOK_BEFORE_MODEL, {.before_model = replaces_request}, HL_HOOK_EDIT_REQUEST,
       "hook \"x\" at before_model replaced the value it may only edit in place"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    atomic_store(&add_calls, 0);
    hl_provider *p = hl_scripted_new();
    hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
    hl_scripted_push_text(p, "never");
    hl_agent *a = make_agent("root", p);
    hl_hook_def def = {.size = sizeof def, .point = cases[i].point, .name = "x",
                       .flags = cases[i].flags, .fn = cases[i].fn};
    REQUIRE(hl_hooks_add(hl_agent_hooks(a), &def) == HL_OK);
    char *answer = NULL;
    CHECK_INT(hl_agent_run(a, NULL, "1+2", &answer), HL_ERR_ABORTED);
    CHECK_STR(hl_last_error(), cases[i].want);
    CHECK_INT(atomic_load(&add_calls), 0);
    hl_agent_unref(a);
    hl_provider_unref(p);
  }
}

/* Edits are traced (HOOK events) only when they change something. */
static hl_hook_action maybe_edit(hl_context *ctx, const hl_before_tool_args *in,
                                 hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)in;
  if (ud) cJSON_ReplaceItemInObject(out->args, "a", cJSON_CreateNumber(10));
  return HL_HOOK_CONTINUE;
}

static void H18_edits_in_place_are_traced_and_reach_the_tool(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "noop", HL_HOOK_EDIT_ARGS, maybe_edit, NULL);
  hl_hooks_add_before_tool(hl_agent_hooks(a), "ten", HL_HOOK_EDIT_ARGS, maybe_edit, "yes");
  CHECK_RUN(a, NULL, "1+2", "12");
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "hook", NULL, NULL), 1);
  CHECK_STR(hl_json_get_string(event_nth(events, "hook", 0), "hook"), "ten");
  CHECK_STR(json_text(hl_json_get(event_nth(events, "hook", 0), "args")), "{\"a\":10,\"b\":2}");
  cJSON_Delete(events);
  hl_observer_unref(obs);
  hl_agent_unref(a);
  hl_provider_unref(p);
}

static hl_hook_action response_editor(hl_context *ctx, const hl_after_model_args *in,
                                      hl_after_model_out *out, void *ud) {
  (void)ctx, (void)in, (void)ud;
  if (out->edit) hl_message_add_text(out->edit->message, " [checked]");
  return HL_HOOK_CONTINUE;
}

static void H18_after_model_editor_edits_the_response_in_place(void) {
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "fine");
  hl_agent *a = make_agent("root", p);
  hl_hooks_add_after_model(hl_agent_hooks(a), "check", HL_HOOK_EDIT_RESPONSE, response_editor, NULL);
  CHECK_RUN(a, NULL, "hi", "fine [checked]");
  hl_agent_unref(a);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* H19: registration and versioned structs                             */
/* ------------------------------------------------------------------ */

static atomic_int freed;
static void count_free(void *p) {
  (void)p;
  atomic_fetch_add(&freed, 1);
}

static hl_hook_action sizes_probe(hl_context *ctx, const hl_after_tool_args *in,
                                  hl_after_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  char b[96];
  snprintf(b, sizeof b, "%d:%d:%d", in->size == sizeof *in, out->size == sizeof *out,
           HL_HOOK_HAS(out, result));
  log_add(&LOG, b);
  return HL_HOOK_CONTINUE;
}

static void H19_structs_carry_their_size_and_defs_are_checked(void) {
  log_clear(&LOG);
  atomic_store(&freed, 0);
  hl_hooks *h = hl_hooks_new();
  /* flags the point does not allow: refused, and the user_data released */
  hl_hook_def bad = {.size = sizeof bad, .point = HL_HOOK_BEFORE_MODEL, .name = "bad",
                     .flags = HL_HOOK_EDIT_ARGS, .fn.before_model = model_probe,
                     .user_data = "x", .free_user_data = count_free};
  CHECK_INT(hl_hooks_add(h, &bad), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "flags not allowed at before_model");
  CHECK_INT(atomic_load(&freed), 1);
  hl_hook_def small = bad;
  small.size = 8;
  CHECK_INT(hl_hooks_add(h, &small), HL_ERR_INVALID);
  hl_hook_def nofn = {.size = sizeof nofn, .point = HL_HOOK_AFTER_TOOL};
  CHECK_INT(hl_hooks_add(h, &nofn), HL_ERR_INVALID);
  hl_hook_def badpoint = {.size = sizeof badpoint, .point = HL_HOOK_POINT_COUNT,
                          .fn.after_tool = sizes_probe};
  CHECK_INT(hl_hooks_add(h, &badpoint), HL_ERR_INVALID);
  CHECK_INT(hl_hooks_add(h, NULL), HL_ERR_INVALID);
  CHECK_INT(hl_hooks_count(h, HL_HOOK_BEFORE_MODEL), 0);

  /* free_user_data runs once when the hook goes: remove, or the set's end */
  hl_hook_def good = {.size = sizeof good, .point = HL_HOOK_AFTER_TOOL, .name = "sizes",
                      .fn.after_tool = sizes_probe, .user_data = "y", .free_user_data = count_free};
  atomic_store(&freed, 0);
  REQUIRE(hl_hooks_add(h, &good) == HL_OK);
  REQUIRE(hl_hooks_add(h, &good) == HL_OK);
  CHECK_INT(hl_hooks_remove(h, "sizes"), HL_OK);
  CHECK_INT(atomic_load(&freed), 2);
  REQUIRE(hl_hooks_add(h, &good) == HL_OK);
  hl_hooks_free(h);
  CHECK_INT(atomic_load(&freed), 3);

  hl_provider *p = hl_scripted_new();
  hl_scripted_push_tool_call(p, "c1", "add", "{\"a\":1,\"b\":2}");
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = make_agent("root", p);
  REQUIRE(hl_hooks_add(hl_agent_hooks(a), &good) == HL_OK);
  CHECK_RUN(a, NULL, "1+2", "3");
  CHECK_STR(LOG.buf, "1:1:1");
  hl_agent_unref(a);
  CHECK_INT(atomic_load(&freed), 4);
  hl_provider_unref(p);
}

/* A user's provider: answers "plain"; destroy counts how often it ran. */
static hl_status plain_complete(void *impl, hl_context *ctx, const hl_request *req,
                                hl_response **out) {
  (void)impl, (void)ctx, (void)req;
  *out = hl_response_new_text("plain");
  return *out ? HL_OK : hl_fail(HL_ERR_NOMEM, "plain: out of memory");
}
static atomic_int plain_destroyed;
static void plain_destroy(void *impl) {
  (void)impl;
  atomic_fetch_add(&plain_destroyed, 1);
}

static void H19_provider_ops_carry_their_size(void) {
  /* no size (what a caller gets by forgetting it): refused, clearly */
  hl_provider_ops unsized = {.name = "plain", .complete = plain_complete};
  CHECK(hl_provider_new(&unsized, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "set it to sizeof(hl_provider_ops)");
  /* a size that stops before complete: refused too */
  hl_provider_ops short_ops = unsized;
  short_ops.size = offsetof(hl_provider_ops, complete);
  CHECK(hl_provider_new(&short_ops, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);
  /* full size but no complete function */
  hl_provider_ops nofn = {.size = sizeof nofn, .name = "plain"};
  CHECK(hl_provider_new(&nofn, NULL) == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_INVALID);

  /* An older caller whose struct ended after complete: it works, and the
   * destroy that lies past its size is taken as unset (never called). */
  atomic_store(&plain_destroyed, 0);
  hl_provider_ops older = {.size = offsetof(hl_provider_ops, destroy), .name = "plain",
                           .complete = plain_complete, .destroy = plain_destroy};
  hl_provider *p = hl_provider_new(&older, NULL);
  REQUIRE(p != NULL);
  /* ops is copied: the caller's struct may change or go away */
  older.name = "changed";
  older.complete = NULL;
  CHECK_STR(hl_provider_name(p), "plain");
  hl_agent *a = make_agent("root", p);
  CHECK_RUN(a, NULL, "hi", "plain");
  hl_agent_unref(a);
  hl_provider_unref(p);
  CHECK_INT(atomic_load(&plain_destroyed), 0);

  /* the current size: destroy is part of it and runs once */
  hl_provider_ops current = {.size = sizeof current, .name = "plain",
                             .complete = plain_complete, .destroy = plain_destroy};
  p = hl_provider_new(&current, NULL);
  REQUIRE(p != NULL);
  hl_provider_unref(p);
  CHECK_INT(atomic_load(&plain_destroyed), 1);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv); /* "H15_" runs the H15 tests alone (tests/hooks/meson.build) */
  log_init(&LOG);
  RUN(H15_around_model_next_once_nests_global_outermost);
  RUN(H15_around_model_next_zero_times_answers_without_the_model);
  RUN(H15_around_model_next_twice_retries_after_an_error);
  RUN(H15_around_model_error_from_next_reaches_after_model_and_caller);
  RUN(H15_around_model_wrap_reports_its_own_error);
  RUN(H15_around_model_next_with_another_request_is_a_fallback);
  RUN(H15_abort_inside_a_wrap_stops_the_run);
  RUN(H15_wrap_without_decide_must_call_next_exactly_once);
  RUN(H16_around_tool_next_once_nests_and_after_tool_sees_the_result);
  RUN(H16_around_tool_next_zero_times_is_the_result_without_the_tool);
  RUN(H16_around_tool_next_twice_retries_a_failed_tool);
  RUN(H16_error_from_next_reaches_after_tool_and_the_model);
  RUN(H16_next_with_other_arguments_runs_the_tool_with_them);
  RUN(H16_abort_inside_a_tool_wrap_stops_the_run);
  RUN(H17_chunk_hook_sees_every_text_and_tool_argument_delta);
  RUN(H17_edited_and_dropped_chunks_make_the_final_response);
  RUN(H17_edited_tool_argument_chunks_are_what_the_tool_runs_with);
  RUN(H17_chunks_that_break_the_arguments_fail_the_model_call);
  RUN(H17_chunk_abort_stops_the_stream_and_the_run);
  RUN(H17_end_of_stream_call_flushes_held_text_to_editors_only);
  RUN(H17_chunk_hook_without_edit_flag_may_not_drop);
  RUN(H18_observe_only_hooks_borrow_editors_get_a_private_copy);
  RUN(H18_before_tool_arguments_are_editable_only_for_editors);
  RUN(H18_hooks_acting_beyond_their_flags_abort_the_run);
  RUN(H18_edits_in_place_are_traced_and_reach_the_tool);
  RUN(H18_after_model_editor_edits_the_response_in_place);
  RUN(H19_structs_carry_their_size_and_defs_are_checked);
  RUN(H19_provider_ops_carry_their_size);
  return CHECK_EXIT();
}
