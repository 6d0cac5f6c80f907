/*
 * tests/interrupt/fixture.h - the agents of the interrupt tests, built the
 * same way by the test and by the helper process that resumes its runs
 * (resume_helper.c): same names, tools and hooks, so that a state written
 * by one process is resumed by another.
 *
 *   assistant: get_weather(city)             runs freely
 *              delete_file(path)             flagged: needs approval
 *              send_email(to)                the "email_guard" hook interrupts it
 *   boss:      get_weather(city), helper     helper is an agent used as a tool:
 *   helper:    delete_file(path)             its own call needs approval
 *   composer:  delete_file(path)             flagged: needs approval
 *              cleanup(path)                 calls delete_file through its
 *                                            context (hl_context_call_tool)
 *
 * Every tool execution is logged ("name {args}") so a test can tell what
 * ran, and how often. At the end, what the tests share to drive them: a
 * run up to its interrupt, the pending paths, the tool results a scripted
 * model was sent.
 */
#ifndef HL_TEST_INTERRUPT_FIXTURE_H
#define HL_TEST_INTERRUPT_FIXTURE_H

#include <hookline.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t fx_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char fx_log[8192];

static inline void fx_log_reset(void) {
  pthread_mutex_lock(&fx_log_lock);
  fx_log[0] = '\0';
  pthread_mutex_unlock(&fx_log_lock);
}

static inline void fx_log_call(const char *name, const cJSON *args) {
  char *a = cJSON_PrintUnformatted(args);
  pthread_mutex_lock(&fx_log_lock);
  size_t n = strlen(fx_log);
  snprintf(fx_log + n, sizeof fx_log - n, "%s %s\n", name, a ? a : "?");
  pthread_mutex_unlock(&fx_log_lock);
  free(a);
}

/* How many logged executions start with `prefix` ("get_weather"). */
static inline int fx_ran(const char *prefix) {
  int n = 0;
  pthread_mutex_lock(&fx_log_lock);
  for (const char *p = fx_log; *p;) {
    if (!strncmp(p, prefix, strlen(prefix))) n++;
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    p = nl + 1;
  }
  pthread_mutex_unlock(&fx_log_lock);
  return n;
}

static inline hl_status fx_weather(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  fx_log_call("get_weather", args);
  char buf[128];
  snprintf(buf, sizeof buf, "sunny in %s", hl_json_get_string(args, "city"));
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static inline hl_status fx_delete(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  fx_log_call("delete_file", args);
  char buf[128];
  snprintf(buf, sizeof buf, "deleted %s", hl_json_get_string(args, "path"));
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static inline hl_status fx_email(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  fx_log_call("send_email", args);
  char buf[128];
  snprintf(buf, sizeof buf, "sent to %s", hl_json_get_string(args, "to"));
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

/* Counts what it saw of `approved`, to check the resumed call's view. */
static int fx_guard_seen_approved;

static inline hl_hook_action fx_email_guard(hl_context *ctx, const hl_before_tool_args *args,
                                     hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  if (strcmp(args->call->name, "send_email") != 0) return HL_HOOK_CONTINUE;
  if (HL_HOOK_HAS(args, approved) && args->approved) fx_guard_seen_approved++;
  if (HL_HOOK_HAS(out, reason)) out->reason = strdup("emails need a human");
  return HL_HOOK_INTERRUPT; /* taken as continue once approved */
}

static inline hl_tool *fx_tool(const char *name, hl_tool_fn fn, const char *param) {
  hl_tool *t = hl_tool_new(name, name, fn, NULL);
  if (t) hl_tool_param(t, param, "string", param, true);
  return t;
}

static inline void fx_add(hl_agent *a, hl_tool *t) {
  hl_agent_add_tool(a, t);
  hl_tool_unref(t);
}

/* Gives `a` the delete_file tool, flagged: every call needs approval. */
static inline void fx_add_guarded_delete(hl_agent *a) {
  hl_tool *del = fx_tool("delete_file", fx_delete, "path");
  hl_tool_set_needs_approval(del, true);
  fx_add(a, del);
}

/* A new agent `name` on `model` (the agent takes a reference), model
 * name "scripted", no tools yet. */
static inline hl_agent *fx_agent(const char *name, hl_provider *model) {
  hl_agent *a = hl_agent_new(name);
  hl_agent_set_provider(a, model);
  hl_agent_set_model(a, "scripted");
  return a;
}

/* The assistant, on `model` (the agent takes a reference). */
static inline hl_agent *fx_assistant(hl_provider *model) {
  hl_agent *a = fx_agent("assistant", model);
  fx_add(a, fx_tool("get_weather", fx_weather, "city"));
  fx_add_guarded_delete(a);
  fx_add(a, fx_tool("send_email", fx_email, "to"));
  hl_hooks_add_before_tool(hl_agent_hooks(a), "email_guard", HL_HOOK_DECIDE, fx_email_guard, NULL);
  return a;
}

/* The boss and its helper, on two scripted models. */
static inline hl_agent *fx_boss(hl_provider *boss_model, hl_provider *helper_model) {
  hl_agent *helper = fx_agent("helper", helper_model);
  fx_add_guarded_delete(helper);
  hl_agent *boss = fx_agent("boss", boss_model);
  fx_add(boss, fx_tool("get_weather", fx_weather, "city"));
  fx_add(boss, hl_agent_as_tool(helper, "Cleans up files.", NULL));
  hl_agent_unref(helper);
  return boss;
}

/* A composite tool: deletes `path` through the run's own delete_file
 * (hl_context_call_tool), and says what came of it. HL_INTERRUPTED from
 * the nested call is handed on: the run stops, and this tool runs again
 * from the start when it is resumed. */
static inline hl_status fx_cleanup(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ud;
  fx_log_call("cleanup", args);
  cJSON *inner = cJSON_CreateObject();
  cJSON_AddStringToObject(inner, "path", hl_json_get_string(args, "path"));
  cJSON *r = NULL;
  hl_status st = hl_context_call_tool(ctx, "delete_file", inner, &r);
  cJSON_Delete(inner);
  if (st == HL_INTERRUPTED) return st;
  char buf[256];
  if (st == HL_OK) snprintf(buf, sizeof buf, "cleaned: %s", cJSON_IsString(r) ? r->valuestring : "?");
  else snprintf(buf, sizeof buf, "refused (%s): %s", hl_status_name(st), hl_last_error());
  cJSON_Delete(r);
  *result = cJSON_CreateString(buf);
  return HL_OK;
}

static inline hl_agent *fx_composer(hl_provider *model) {
  hl_agent *a = fx_agent("composer", model);
  fx_add_guarded_delete(a);
  fx_add(a, fx_tool("cleanup", fx_cleanup, "path"));
  return a;
}

/* The composer's first response: cleanup of /tmp/n (call "o1"), and a
 * plain delete_file of /tmp/m (call "o2"). */
static inline void fx_push_cleanup(hl_provider *model) {
  hl_response *r = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"path\":\"/tmp/n\"}");
  cJSON *a2 = cJSON_Parse("{\"path\":\"/tmp/m\"}");
  hl_message_add_tool_call(r->message, "o1", "cleanup", a1);
  hl_message_add_tool_call(r->message, "o2", "delete_file", a2);
  cJSON_Delete(a1), cJSON_Delete(a2);
  hl_scripted_push(model, r);
}

/* The assistant's first response: three calls in one turn. */
static inline void fx_push_three_calls(hl_provider *model) {
  hl_response *r = hl_response_new();
  cJSON *a1 = cJSON_Parse("{\"city\":\"Oslo\"}");
  cJSON *a2 = cJSON_Parse("{\"path\":\"/tmp/x\"}");
  cJSON *a3 = cJSON_Parse("{\"to\":\"bob\"}");
  hl_message_add_tool_call(r->message, "c1", "get_weather", a1);
  hl_message_add_tool_call(r->message, "c2", "delete_file", a2);
  hl_message_add_tool_call(r->message, "c3", "send_email", a3);
  cJSON_Delete(a1), cJSON_Delete(a2), cJSON_Delete(a3);
  hl_scripted_push(model, r);
}

/* ---- workflow agents (agents/: sequential, loop, parallel) ---- */

/* An LLM child named `name` on `model`, whose script is `rules_json`
 * (scripted.h: rules read their step from the request, so each run of
 * the child plays the steps from the first), with delete_file (needs
 * approval) and get_weather. */
static inline hl_agent *fx_child(const char *name, hl_provider *model, const char *rules_json) {
  hl_scripted_load_json(model, rules_json);
  hl_agent *a = fx_agent(name, model);
  fx_add(a, fx_tool("get_weather", fx_weather, "city"));
  fx_add_guarded_delete(a);
  return a;
}

/* The pipeline: a sequential agent (each child gets the previous one's
 * answer) of "writer", which answers "draft" on `writer_model`, and
 * "publisher", which deletes /tmp/old (needs approval) and then answers
 * "published: <the tool's result>" on `publisher_model`. */
#define FX_WRITER_RULES "{\"rules\": [{\"match\": \".\", \"steps\": [{\"text\": \"draft\"}]}]}"
#define FX_PUBLISHER_RULES                                                                     \
  "{\"rules\": [{\"match\": \".\", \"steps\": ["                                               \
  "{\"tool_calls\": [{\"id\": \"p1\", \"name\": \"delete_file\", \"arguments\": {\"path\": \"/tmp/old\"}}]}," \
  "{\"text\": \"published: {{result}}\"}]}]}"

static inline hl_agent *fx_pipeline(hl_provider *writer_model, hl_provider *publisher_model) {
  hl_agent *seq = hl_sequential_agent_new("pipeline", HL_WORKFLOW_INPUT_PREVIOUS);
  hl_agent *w = fx_child("writer", writer_model, FX_WRITER_RULES);
  hl_agent *p = fx_child("publisher", publisher_model, FX_PUBLISHER_RULES);
  hl_agent_add_sub_agent(seq, w);
  hl_agent_add_sub_agent(seq, p);
  hl_agent_unref(w);
  hl_agent_unref(p);
  return seq;
}

/* The tool results of request `req` (the last message's parts) as a JSON
 * object {call_id: {"content": .., "is_error": ..}}, for checks. */
static inline cJSON *fx_results_of(const hl_request *req) {
  cJSON *out = cJSON_CreateObject();
  if (!req || !req->messages.count) return out;
  const hl_message *m = req->messages.items[req->messages.count - 1];
  for (size_t i = 0; i < m->n_parts; i++) {
    if (m->parts[i].kind != HL_PART_TOOL_RESULT) continue;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "content", m->parts[i].text ? m->parts[i].text : "");
    cJSON_AddBoolToObject(r, "is_error", m->parts[i].is_error);
    cJSON_AddItemToObject(out, m->parts[i].id ? m->parts[i].id : "", r);
  }
  return out;
}

/* The tool results of `model`'s request number `i` (from 0), as
 * fx_results_of(); an empty object when it has no such request. */
static inline cJSON *fx_results_at(hl_provider *model, size_t i) {
  hl_request *req = hl_scripted_request(model, i);
  cJSON *out = fx_results_of(req);
  hl_request_free(req);
  return out;
}

/* The paths of the state's pending calls, joined by ",", in `buf`. */
static inline void fx_pending_paths(const cJSON *state, char *buf, size_t size) {
  buf[0] = '\0';
  cJSON *list = hl_run_state_pending(state);
  const cJSON *e;
  cJSON_ArrayForEach(e, list) {
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, "%s%s", n ? "," : "", hl_json_get_string(e, "path"));
  }
  cJSON_Delete(list);
}

/* Runs `agent` on `s` with `input`, which must stop for a decision
 * (HL_INTERRUPTED, no answer): the run's state (the caller frees it),
 * with its pending paths in `paths` (as fx_pending_paths; NULL: not
 * wanted). NULL, saying why on stderr, when the run ended otherwise. */
static inline cJSON *fx_run_to_interrupt(hl_agent *agent, hl_session *s, const char *input,
                                         char *paths, size_t size) {
  char *answer = NULL;
  hl_status st = hl_agent_run(agent, s, input, &answer);
  if (st != HL_INTERRUPTED || answer) {
    fprintf(stderr, "run \"%s\": %s (%s), answer %s; want Interrupted, no answer\n", input,
            hl_status_name(st), hl_last_error(), answer ? answer : "none");
    hl_free(answer);
    return NULL;
  }
  cJSON *state = hl_run_state_json();
  if (!state)
    fprintf(stderr, "run \"%s\": interrupted without a state\n", input);
  if (state && paths)
    fx_pending_paths(state, paths, size);
  return state;
}

#endif
