/*
 * test_event_tree.c - the run tree's identity in events (observer.h, the
 * fields appended for tracers): parent_invocation_id and parent_call_id on
 * a child run's events, outer_call_id on calls made from inside a tool
 * (hl_context_call_tool, and the sandbox's parallel callbacks on worker
 * threads), session_id, the provider and the response on LM events, the
 * tool on TOOL_* and tool-point HOOK events.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "check.h"

/* What one event said, copied (events are borrowed). */
typedef struct rec {
  hl_event_type type;
  char inv[48], parent_inv[48], parent_call[48], outer[48], call[48], name[64], session[64],
      provider[32], tool[64];
  bool has_response;
  hl_hook_action action;
} rec;

typedef struct log_ {
  pthread_mutex_t mu;
  rec items[512];
  int n;
} log_;

static void cp(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static int record(const hl_event *ev, void *ud) {
  log_ *l = ud;
  if (!HL_EVENT_HAS(ev, tool)) return 1;
  pthread_mutex_lock(&l->mu);
  if (l->n < 512) {
    rec *r = &l->items[l->n++];
    memset(r, 0, sizeof *r);
    r->type = ev->type;
    cp(r->inv, sizeof r->inv, ev->invocation_id);
    cp(r->parent_inv, sizeof r->parent_inv, ev->parent_invocation_id);
    cp(r->parent_call, sizeof r->parent_call, ev->parent_call_id);
    cp(r->outer, sizeof r->outer, ev->outer_call_id);
    cp(r->call, sizeof r->call, ev->call_id);
    cp(r->name, sizeof r->name, ev->name);
    cp(r->session, sizeof r->session, ev->session_id);
    cp(r->provider, sizeof r->provider, ev->provider);
    cp(r->tool, sizeof r->tool, ev->tool ? hl_tool_name(ev->tool) : NULL);
    r->has_response = ev->response != NULL;
    r->action = ev->hook_action;
  }
  pthread_mutex_unlock(&l->mu);
  return 0;
}

static const rec *find(const log_ *l, hl_event_type type, const char *name, const char *call) {
  for (int i = 0; i < l->n; i++) {
    const rec *r = &l->items[i];
    if (r->type == type && (!name || !strcmp(r->name, name)) && (!call || !strcmp(r->call, call)))
      return r;
  }
  return NULL;
}

static int count(const log_ *l, hl_event_type type, const char *name) {
  int n = 0;
  for (int i = 0; i < l->n; i++) n += l->items[i].type == type && !strcmp(l->items[i].name, name);
  return n;
}

static hl_status echo(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  *result = cJSON_Duplicate(args, 1);
  return HL_OK;
}

/* A tool that calls another tool of the agent twice (what code mode does). */
static hl_status twice(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ud;
  cJSON *a = NULL, *b = NULL;
  hl_status st = hl_context_call_tool(ctx, "echo", args, &a);
  if (st == HL_OK) st = hl_context_call_tool(ctx, "echo", args, &b);
  cJSON_Delete(a);
  cJSON_Delete(b);
  *result = st == HL_OK ? cJSON_CreateString("ok") : NULL;
  return st;
}

static hl_hook_action deny(hl_context *ctx, const hl_before_tool_args *args,
                           hl_before_tool_out *out, void *ud) {
  (void)ctx, (void)ud;
  if (strcmp(args->call->name, "denied") != 0) return HL_HOOK_CONTINUE;
  out->result = cJSON_CreateString("no");
  return HL_HOOK_OVERRIDE;
}

static void tree(void) {
  log_ l = {.mu = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(record, &l);

  hl_provider *child_model = hl_scripted_new();
  hl_scripted_push_text(child_model, "child answer");
  hl_agent *child = hl_agent_new("child");
  hl_agent_set_provider(child, child_model);
  hl_tool *as_tool = hl_agent_as_tool(child, "the child", NULL);

  hl_provider *model = hl_scripted_new();
  hl_scripted_load_json(model,
                        "{\"responses\":[{\"tool_calls\":["
                        "{\"id\":\"c-child\",\"name\":\"child\",\"arguments\":{\"input\":\"hi\"}},"
                        "{\"id\":\"c-twice\",\"name\":\"twice\",\"arguments\":{\"x\":1}},"
                        "{\"id\":\"c-denied\",\"name\":\"denied\",\"arguments\":{}}]},"
                        "{\"text\":\"done\"}]}");
  hl_agent *root = hl_agent_new("root");
  hl_agent_set_provider(root, model);
  hl_agent_set_parallel_tools(root, 3);
  hl_tool *t_echo = hl_tool_new("echo", "echo", echo, NULL);
  hl_tool *t_twice = hl_tool_new("twice", "twice", twice, NULL);
  hl_tool *t_denied = hl_tool_new("denied", "denied", echo, NULL);
  hl_agent_add_tool(root, t_echo);
  hl_agent_add_tool(root, t_twice);
  hl_agent_add_tool(root, t_denied);
  hl_agent_add_tool(root, as_tool);
  hl_hooks_add_before_tool(hl_agent_hooks(root), "deny", HL_HOOK_DECIDE, deny, NULL);
  hl_agent_add_observer(root, obs);

  hl_session *s = hl_session_new("app", "user", "sess-tree");
  char *answer = NULL;
  CHECK_INT(hl_agent_run(root, s, "go", &answer), HL_OK);
  hl_free(answer);

  const rec *root_start = find(&l, HL_EVENT_AGENT_START, NULL, NULL);
  REQUIRE(root_start);
  CHECK_STR(root_start->parent_inv, "");
  CHECK_STR(root_start->session, "sess-tree");
  /* the child run: its parent run and the tool call that started it */
  const rec *child_start = NULL;
  for (int i = 0; i < l.n; i++)
    if (l.items[i].type == HL_EVENT_AGENT_START && strcmp(l.items[i].inv, root_start->inv))
      child_start = &l.items[i];
  REQUIRE(child_start);
  CHECK_STR(child_start->parent_inv, root_start->inv);
  CHECK_STR(child_start->parent_call, "c-child");
  const rec *child_lm = NULL;
  for (int i = 0; i < l.n; i++)
    if (l.items[i].type == HL_EVENT_LM_END && !strcmp(l.items[i].inv, child_start->inv)) child_lm = &l.items[i];
  REQUIRE(child_lm);
  CHECK_STR(child_lm->parent_call, "c-child"); /* on every event of the child run */
  CHECK_STR(child_lm->provider, "scripted");
  CHECK(child_lm->has_response);
  /* the root's own calls are nested in nothing */
  const rec *ts = find(&l, HL_EVENT_TOOL_START, "twice", "c-twice");
  REQUIRE(ts);
  CHECK_STR(ts->outer, "");
  CHECK_STR(ts->parent_call, "");
  CHECK_STR(ts->tool, "twice");
  /* the two calls made from inside "twice" name it */
  CHECK_INT(count(&l, HL_EVENT_TOOL_START, "echo"), 2);
  for (int i = 0; i < l.n; i++)
    if ((l.items[i].type == HL_EVENT_TOOL_START || l.items[i].type == HL_EVENT_TOOL_END) &&
        !strcmp(l.items[i].name, "echo"))
      CHECK_STR(l.items[i].outer, "c-twice");
  /* a hook's decision names its tool even though the tool never ran */
  const rec *hook = find(&l, HL_EVENT_HOOK, "deny", "c-denied");
  REQUIRE(hook);
  CHECK_INT(hook->action, HL_HOOK_OVERRIDE);
  CHECK_STR(hook->tool, "denied");
  CHECK(find(&l, HL_EVENT_TOOL_START, "denied", NULL) == NULL);
  const rec *lm = find(&l, HL_EVENT_LM_START, NULL, NULL);
  REQUIRE(lm);
  CHECK_STR(lm->provider, "scripted");

  hl_session_free(s);
  hl_agent_unref(root);
  hl_agent_unref(child);
  hl_tool_unref(t_echo);
  hl_tool_unref(t_twice);
  hl_tool_unref(t_denied);
  hl_tool_unref(as_tool);
  hl_provider_unref(model);
  hl_provider_unref(child_model);
  hl_observer_unref(obs);
}

/* Code mode: JavaScript's parallel callbacks run on the sandbox's worker
 * threads, and still say they are inside the code tool's call. */
static void code_mode(void) {
  if (!hl_sandbox_available()) {
    printf("(no sandbox in this build)\n");
    return;
  }
  log_ l = {.mu = PTHREAD_MUTEX_INITIALIZER};
  hl_observer *obs = hl_observer_new(record, &l);
  hl_provider *model = hl_scripted_new();
  hl_scripted_load_json(model,
                        "{\"responses\":[{\"tool_calls\":[{\"id\":\"c-js\",\"name\":\"run_javascript\","
                        "\"arguments\":{\"code\":\"const r = await Promise.all([echo({a: 1}), echo({a: 2}), "
                        "echo({a: 3})]); r.length\"}}]},{\"text\":\"done\"}]}");
  hl_agent *agent = hl_agent_new("coder");
  hl_agent_set_provider(agent, model);
  hl_tool *t_echo = hl_tool_new("echo", "echo", echo, NULL);
  hl_tool *js = hl_sandbox_code_tool(NULL);
  hl_agent_add_tool(agent, t_echo);
  hl_agent_add_tool(agent, js);
  hl_agent_add_observer(agent, obs);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(agent, NULL, "go", &answer), HL_OK);
  hl_free(answer);
  const rec *end = find(&l, HL_EVENT_TOOL_END, "run_javascript", "c-js");
  CHECK(end != NULL);
  CHECK_INT(count(&l, HL_EVENT_TOOL_START, "echo"), 3);
  for (int i = 0; i < l.n; i++)
    if (l.items[i].type == HL_EVENT_TOOL_START && !strcmp(l.items[i].name, "echo"))
      CHECK_STR(l.items[i].outer, "c-js");
  hl_agent_unref(agent);
  hl_tool_unref(t_echo);
  hl_tool_unref(js);
  hl_provider_unref(model);
  hl_observer_unref(obs);
}

int main(int argc, char **argv) {
  CHECK_ARGS(argc, argv);
  RUN(tree);
  RUN(code_mode);
  return CHECK_EXIT();
}
