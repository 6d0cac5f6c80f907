/*
 * tests/hooks/test_subagents.c - agents inside agents: agent-as-tool,
 * forks, custom agents that nest and run children in the three session
 * modes, inheritance of hooks and observers down the tree.
 */
#include "fixture.h"

static test_log LOG;

static hl_hook_action log_agent_start(hl_context *ctx, const hl_before_agent_args *in_, hl_before_agent_out *out_, void *ud) {  /* v1 names */
  char **answer = &out_->answer;
  (void)in_;
  (void)answer, (void)ud;
  char item[128];
  snprintf(item, sizeof item, "start:%s", hl_context_branch(ctx));
  log_add(&LOG, item);
  return HL_HOOK_CONTINUE;
}

static hl_hook_action log_agent_end(hl_context *ctx, const hl_after_agent_args *in_, hl_after_agent_out *out_, void *ud) {  /* v1 names */
  const char *answer = in_->answer;
  char **repl = &out_->answer;
  (void)repl, (void)ud;
  char item[256];
  snprintf(item, sizeof item, "end:%s=%s", hl_context_branch(ctx), answer);
  log_add(&LOG, item);
  return HL_HOOK_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Agent as tool                                                       */
/* ------------------------------------------------------------------ */

static void agent_as_tool_runs_child_isolated_and_returns_its_answer(void) {
  hl_provider *pm = hl_scripted_new();
  hl_scripted_push_text(pm, "earlier answer"); /* gives the parent some history */
  hl_scripted_push_tool_call(pm, "c1", "researcher", "{\"input\":\"capital of France?\"}");
  REQUIRE(hl_scripted_load_json(pm, "{\"responses\":[{\"text\":\"Researcher says: {{result}}\"}]}") == HL_OK);
  hl_provider *cm = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(cm, "{\"rules\":[{\"match\":\"capital of (.*)\\\\?\","
                                    "\"steps\":[{\"text\":\"Paris is the capital of $1\"}]}]}") == HL_OK);
  hl_agent *root = make_agent("root", pm);
  hl_agent *child = make_agent("researcher", cm);
  hl_agent_set_description(child, "Finds facts.");
  hl_agent_set_instruction(child, "You research.");
  hl_tool *t = hl_agent_as_tool(child, NULL, NULL);
  REQUIRE(t != NULL);
  CHECK_STR(hl_tool_name(t), "researcher");
  CHECK_STR(hl_tool_description(t), "Finds facts.");
  hl_agent_add_tool(root, t);
  hl_tool_unref(t);
  hl_session_state_set_string(hl_agent_session(root), "lang", "en");

  char *answer = NULL;
  REQUIRE(hl_agent_run(root, NULL, "warm up", &answer) == HL_OK);
  hl_free(answer);
  CHECK_RUN(root, NULL, "ask the researcher", "Researcher says: Paris is the capital of France");

  /* The child saw only its own instruction and input: isolated history */
  REQUIRE(hl_scripted_request_count(cm) == 1);
  hl_request *cr = hl_scripted_request(cm, 0);
  CHECK_STR(system_text(cr), "You research.");
  CHECK_INT(cr->messages.count, 2);
  char *in = hl_message_text(cr->messages.items[1]);
  CHECK_STR(in, "capital of France?");
  hl_free(in);
  hl_request_free(cr);
  /* The parent's request declared the child as a tool with an input schema */
  hl_request *pr = hl_scripted_request(pm, 1);
  int found = 0;
  for (size_t i = 0; i < pr->n_tools; i++) {
    if (strcmp(pr->tools[i].name, "researcher") != 0) continue;
    found = 1;
    CHECK_STR(json_text(hl_json_get(pr->tools[i].parameters, "required")), "[\"input\"]");
  }
  CHECK(found);
  hl_request_free(pr);
  /* The child's own session was not used; the parent's grew by one exchange */
  CHECK_INT(hl_session_messages(hl_agent_session(child))->count, 0);
  CHECK_INT(hl_session_messages(hl_agent_session(root))->count, 6);
  hl_agent_unref(root);
  hl_agent_unref(child); /* the tool keeps its own reference until root goes */
  hl_provider_unref(pm);
  hl_provider_unref(cm);
}

static void agent_as_tool_failure_is_a_tool_error(void) {
  hl_provider *pm = hl_scripted_new();
  hl_scripted_push_tool_call(pm, "c1", "broken", "{\"input\":\"x\"}");
  hl_scripted_push_text(pm, "parent recovered");
  hl_provider *cm = hl_scripted_new(); /* empty: the child's model fails */
  hl_agent *root = make_agent("root", pm);
  hl_agent *child = make_agent("broken", cm);
  hl_tool *t = hl_agent_as_tool(child, "Always fails.", NULL);
  hl_agent_add_tool(root, t);
  hl_tool_unref(t);
  CHECK_RUN(root, NULL, "go", "parent recovered");
  hl_request *pr = hl_scripted_request(pm, 1);
  const hl_message *res = last_message(pr);
  CHECK(res->parts[0].is_error);
  CHECK_CONTAINS(res->parts[0].text, "ProviderError");
  hl_request_free(pr);
  hl_agent_unref(root);
  hl_agent_unref(child);
  hl_provider_unref(pm);
  hl_provider_unref(cm);
}

/* ------------------------------------------------------------------ */
/* Fork                                                                */
/* ------------------------------------------------------------------ */

static void fork_copies_agent_and_session_without_sharing_history(void) {
  log_clear(&LOG);
  hl_provider *p = hl_scripted_new();
  hl_scripted_push_text(p, "noted: blue");
  hl_scripted_push_text(p, "fork answer");
  hl_scripted_push_text(p, "original answer");
  hl_agent *a = make_agent("root", p);
  hl_agent_set_max_turns(a, 4);
  hl_hooks_add_before_agent(hl_agent_hooks(a), "start", HL_HOOK_OBSERVE, log_agent_start, NULL);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(a, obs);
  hl_session *s = hl_session_new("app", "u", "s");
  char *answer = NULL;
  REQUIRE(hl_agent_run(a, s, "my colour is blue", &answer) == HL_OK);
  hl_free(answer);

  hl_agent *f = hl_agent_fork(a, "root-fork");
  REQUIRE(f != NULL);
  CHECK_STR(hl_agent_name(f), "root-fork");
  CHECK_STR(hl_agent_instruction(f), "You are a test agent.");
  CHECK(hl_agent_provider(f) == p);
  CHECK_INT(hl_tools_count(hl_agent_tools(f)), 2);
  CHECK_INT(hl_hooks_count(hl_agent_hooks(f), HL_HOOK_BEFORE_AGENT), 1);
  /* copies: changing the fork's hooks leaves the original alone */
  hl_hooks_add_after_agent(hl_agent_hooks(f), "end", HL_HOOK_OBSERVE, log_agent_end, NULL);
  CHECK_INT(hl_hooks_count(hl_agent_hooks(a), HL_HOOK_AFTER_AGENT), 0);
  hl_session *fs = hl_session_clone(s);
  REQUIRE(fs != NULL);

  CHECK_RUN(f, fs, "what colour?", "fork answer");
  /* The fork continued the conversation it was given */
  hl_request *r1 = hl_scripted_request(p, 1);
  CHECK_INT(r1->messages.count, 4);
  hl_request_free(r1);
  CHECK_INT(hl_session_messages(fs)->count, 4);
  CHECK_INT(hl_session_messages(s)->count, 2); /* nothing flowed back */
  CHECK_STR(LOG.buf, "start:root,start:root-fork,end:root-fork=fork answer");
  /* The fork shares the original's observers */
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "agent_start", "branch", "root-fork"), 1);
  cJSON_Delete(events);

  /* Dropping the original first is safe: the fork keeps what it needs */
  hl_agent_unref(a);
  CHECK_RUN(f, s, "and now?", "original answer");
  hl_agent_unref(f);
  hl_session_free(s);
  hl_session_free(fs);
  hl_observer_unref(obs);
  hl_provider_unref(p);
}

/* ------------------------------------------------------------------ */
/* Custom agents                                                       */
/* ------------------------------------------------------------------ */

typedef struct pipeline {
  hl_agent *first, *second;
  hl_run_mode mode;
} pipeline;

/* Runs `first` on the input, then `second` on first's answer. */
static hl_status pipeline_fn(hl_context *ctx, const char *input, char **answer, void *ud) {
  pipeline *pl = ud;
  char *mid = NULL;
  hl_status st = hl_context_run_agent(ctx, pl->first, input, pl->mode, &mid);
  if (st != HL_OK) return st;
  st = hl_context_run_agent(ctx, pl->second, mid, pl->mode, answer);
  hl_free(mid);
  return st;
}

static int pipeline_freed;
static void pipeline_free(void *ud) {
  pipeline_freed++;
  free(ud);
}

static void custom_agent_nests_gets_agent_hooks_events_and_can_be_a_tool(void) {
  log_clear(&LOG);
  pipeline_freed = 0;
  hl_provider *p1 = hl_scripted_new(), *p2 = hl_scripted_new(), *pr = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(p1, "{\"fallback\":{\"text\":\"draft of {{input}}\"}}") == HL_OK);
  REQUIRE(hl_scripted_load_json(p2, "{\"fallback\":{\"text\":\"polished {{input}}\"}}") == HL_OK);
  hl_scripted_push_tool_call(pr, "c1", "pipeline", "{\"input\":\"essay\"}");
  REQUIRE(hl_scripted_load_json(pr, "{\"responses\":[{\"text\":\"root: {{result}}\"}]}") == HL_OK);
  hl_agent *writer = make_agent("writer", p1);
  hl_agent *editor = make_agent("editor", p2);
  pipeline *pl = calloc(1, sizeof *pl);
  pl->first = writer;
  pl->second = editor;
  pl->mode = HL_RUN_SHARED;
  hl_agent *pipe = hl_agent_new_custom("pipeline", pipeline_fn, pl);
  REQUIRE(pipe != NULL);
  CHECK_INT(hl_agent_set_free_fn(pipe, pipeline_free), HL_OK);
  hl_hooks_add_before_agent(hl_agent_hooks(pipe), "start", HL_HOOK_OBSERVE, log_agent_start, NULL);
  hl_hooks_add_after_agent(hl_agent_hooks(pipe), "end", HL_HOOK_OBSERVE, log_agent_end, NULL);
  hl_observer *obs = hl_observer_collecting();
  hl_agent_add_observer(pipe, obs);

  /* Top level */
  CHECK_RUN(pipe, NULL, "essay", "polished draft of essay");
  /* The custom agent's hooks are inherited by its children */
  CHECK_STR(LOG.buf, "start:pipeline,start:pipeline/writer,end:pipeline/writer=draft of essay,"
                     "start:pipeline/editor,end:pipeline/editor=polished draft of essay,"
                     "end:pipeline=polished draft of essay");
  cJSON *events = hl_observer_collected(obs);
  CHECK_INT(event_count(events, "agent_start", "branch", "pipeline"), 1);
  CHECK_INT(event_count(events, "agent_end", "branch", "pipeline"), 1);
  CHECK_INT(event_count(events, "trace_complete", "branch", "pipeline"), 1);
  CHECK_INT(event_count(events, "agent_start", "branch", "pipeline/writer"), 1);
  CHECK_INT(event_count(events, "lm_start", "branch", "pipeline/editor"), 1);
  cJSON_Delete(events);
  /* SHARED: both children worked on the pipeline's session */
  CHECK_INT(hl_session_messages(hl_agent_session(pipe))->count, 4);
  /* the editor saw the writer's exchange */
  hl_request *er = hl_scripted_request(p2, 0);
  CHECK_INT(er->messages.count, 4); /* system, user, assistant, user */
  hl_request_free(er);

  /* Nested as a tool of an LLM agent: the branch grows */
  log_clear(&LOG);
  hl_agent *root = make_agent("root", pr);
  hl_tool *t = hl_agent_as_tool(pipe, "Write and edit.", NULL);
  hl_agent_add_tool(root, t);
  hl_tool_unref(t);
  CHECK_RUN(root, NULL, "write", "root: polished draft of essay");
  CHECK_CONTAINS(LOG.buf, "start:root/pipeline,start:root/pipeline/writer");
  CHECK_CONTAINS(LOG.buf, "end:root/pipeline=polished draft of essay");

  hl_agent_unref(root);
  hl_agent_unref(pipe);
  CHECK_INT(pipeline_freed, 1);
  hl_agent_unref(writer);
  hl_agent_unref(editor);
  hl_observer_unref(obs);
  hl_provider_unref(p1);
  hl_provider_unref(p2);
  hl_provider_unref(pr);
}

/* ------------------------------------------------------------------ */
/* Session modes                                                       */
/* ------------------------------------------------------------------ */

static hl_status state_writer_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)args, (void)ud;
  cJSON *v = cJSON_CreateString("child wrote this");
  hl_context_state_set(ctx, "child_key", v);
  cJSON_Delete(v);
  cJSON *seen = hl_context_state_get(ctx, "parent_key");
  *result = cJSON_CreateString(cJSON_IsString(seen) ? seen->valuestring : "no parent state");
  cJSON_Delete(seen);
  return HL_OK;
}

static hl_status one_child_fn(hl_context *ctx, const char *input, char **answer, void *ud) {
  pipeline *pl = ud;
  return hl_context_run_agent(ctx, pl->first, input, pl->mode, answer);
}

static void run_modes_shared_isolated_fork(void) {
  const hl_run_mode modes[3] = {HL_RUN_SHARED, HL_RUN_ISOLATED, HL_RUN_FORK};
  for (int m = 0; m < 3; m++) {
    hl_provider *cp = hl_scripted_new();
    hl_scripted_push_tool_call(cp, "c1", "write_state", "{}");
    REQUIRE(hl_scripted_load_json(cp, "{\"responses\":[{\"text\":\"child saw {{result}}\"}]}") == HL_OK);
    hl_agent *child = make_agent("child", cp);
    hl_tool *w = hl_tool_new("write_state", "Writes state.", state_writer_tool, NULL);
    hl_agent_add_tool(child, w);
    hl_tool_unref(w);
    pipeline pl = {.first = child, .mode = modes[m]};
    hl_agent *parent = hl_agent_new_custom("parent", one_child_fn, &pl);
    hl_session *s = hl_session_new(NULL, NULL, NULL);
    hl_session_state_set_string(s, "parent_key", "parent state");
    hl_session_add_message(s, hl_message_new_text(HL_ROLE_USER, "earlier question"));
    hl_session_add_message(s, hl_message_new_text(HL_ROLE_ASSISTANT, "earlier answer"));

    char *answer = NULL;
    REQUIRE(hl_agent_run(parent, s, "go", &answer) == HL_OK);
    CHECK_STR(answer, "child saw parent state"); /* every mode sees the state */
    hl_free(answer);
    hl_request *r0 = hl_scripted_request(cp, 0);
    char *child_state = hl_session_state_get_string(s, "child_key");
    if (modes[m] == HL_RUN_SHARED) {
      CHECK_INT(r0->messages.count, 4); /* system + 2 earlier + input */
      CHECK_INT(hl_session_messages(s)->count, 6);
      CHECK_STR(child_state, "child wrote this");
    } else if (modes[m] == HL_RUN_ISOLATED) {
      CHECK_INT(r0->messages.count, 2); /* fresh history */
      CHECK_INT(hl_session_messages(s)->count, 2);
      CHECK(child_state == NULL);
    } else {
      CHECK_INT(r0->messages.count, 4); /* a copy of the history */
      CHECK_INT(hl_session_messages(s)->count, 2);
      CHECK(child_state == NULL);
    }
    hl_free(child_state);
    hl_request_free(r0);
    hl_session_free(s);
    hl_agent_unref(parent);
    hl_agent_unref(child);
    hl_provider_unref(cp);
  }
}

/* ------------------------------------------------------------------ */
/* Aborts and bad input in trees                                       */
/* ------------------------------------------------------------------ */

static hl_hook_action abort_in_child(hl_context *ctx, const hl_before_model_args *in_, hl_before_model_out *out_, void *ud) {  /* v1 names */
  hl_request *req = out_->request ? out_->request : (hl_request *)in_->request;
  hl_response **r = &out_->response;
  (void)req, (void)r, (void)ud;
  if (strcmp(hl_context_agent_name(ctx), "child") == 0) return hl_hook_abort("child may not think");
  return HL_HOOK_CONTINUE;
}

static void abort_in_child_stops_the_parent_run(void) {
  hl_provider *pm = hl_scripted_new();
  hl_scripted_push_tool_call(pm, "c1", "child", "{\"input\":\"think\"}");
  hl_scripted_push_text(pm, "parent must not answer");
  hl_provider *cm = hl_scripted_new();
  hl_scripted_push_text(cm, "child answer");
  hl_agent *root = make_agent("root", pm);
  hl_agent *child = make_agent("child", cm);
  hl_tool *t = hl_agent_as_tool(child, NULL, NULL);
  hl_agent_add_tool(root, t);
  hl_tool_unref(t);
  /* registered on the parent, fires in the child (inherited) */
  hl_hooks_add_before_model(hl_agent_hooks(root), "no-child", HL_HOOK_DECIDE, abort_in_child, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(root, NULL, "go", &answer), HL_ERR_ABORTED);
  CHECK_STR(hl_last_error(), "child may not think");
  CHECK(answer == NULL);
  CHECK_INT(hl_scripted_request_count(pm), 1);
  CHECK_INT(hl_scripted_request_count(cm), 0);
  hl_agent_unref(root);
  hl_agent_unref(child);
  hl_provider_unref(pm);
  hl_provider_unref(cm);
}

static hl_status self_call_fn(hl_context *ctx, const char *input, char **answer, void *ud) {
  (void)ud;
  return hl_context_run_agent(ctx, hl_context_agent(ctx), input, HL_RUN_SHARED, answer);
}

static void runaway_recursion_is_an_error(void) {
  hl_agent *loop = hl_agent_new_custom("loop", self_call_fn, NULL);
  char *answer = NULL;
  CHECK_INT(hl_agent_run(loop, NULL, "forever", &answer), HL_ERR_LIMIT);
  CHECK_CONTAINS(hl_last_error(), "nested");
  CHECK(answer == NULL);
  CHECK_INT(hl_context_run_agent(NULL, loop, "x", HL_RUN_SHARED, &answer), HL_ERR_INVALID);
  hl_agent_unref(loop);
  CHECK(hl_agent_as_tool(NULL, NULL, NULL) == NULL);
  CHECK(hl_agent_new_custom("x", NULL, NULL) == NULL);
  /* Only a custom agent has user_data to free. */
  hl_agent *model_agent = hl_agent_new("model");
  REQUIRE(model_agent);
  CHECK_INT(hl_agent_set_free_fn(model_agent, free), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "not a custom agent");
  CHECK_INT(hl_agent_set_free_fn(NULL, free), HL_ERR_INVALID);
  hl_agent_unref(model_agent);
  CHECK(hl_agent_fork(NULL, NULL) == NULL);
}

static void sub_agent_list_keeps_order(void) {
  hl_agent *a = hl_agent_new("router");
  hl_agent *b = hl_agent_new("billing"), *c = hl_agent_new("support");
  CHECK_INT(hl_agent_add_sub_agent(a, b), HL_OK);
  CHECK_INT(hl_agent_add_sub_agent(a, c), HL_OK);
  CHECK_INT(hl_agent_add_sub_agent(a, a), HL_ERR_INVALID);
  CHECK_INT(hl_agent_sub_agent_count(a), 2);
  CHECK(hl_agent_sub_agent_at(a, 0) == b);
  CHECK(hl_agent_sub_agent_at(a, 1) == c);
  CHECK(hl_agent_sub_agent_at(a, 2) == NULL);
  CHECK(hl_agent_find_sub_agent(a, "support") == c);
  CHECK(hl_agent_find_sub_agent(a, "nobody") == NULL);
  hl_agent_unref(b);
  hl_agent_unref(c);
  hl_agent_unref(a); /* drops the last references of b and c */
}

/* References that would form a cycle (an agent holding, through tools,
 * sub-agents or a fork, something that holds it) are refused, so nothing
 * leaks: ASan and valgrind check that every agent here is freed. */
static void reference_cycles_between_agents_are_refused(void) {
  hl_agent *a = hl_agent_new("helper");
  hl_agent *b = hl_agent_new("boss");
  hl_agent *c = hl_agent_new("chief");
  hl_tool *ta = hl_agent_as_tool(a, NULL, NULL), *tb = hl_agent_as_tool(b, NULL, NULL);
  REQUIRE(ta && tb);
  /* An agent cannot be its own tool or its own sub-agent. */
  CHECK_INT(hl_agent_add_tool(a, ta), HL_ERR_INVALID);
  CHECK_CONTAINS(hl_last_error(), "cycle");
  CHECK_INT(hl_tools_count(hl_agent_tools(a)), 0);
  CHECK_INT(hl_agent_add_sub_agent(a, a), HL_ERR_INVALID);
  /* boss uses helper; then helper cannot use boss, in either way. */
  CHECK_INT(hl_agent_add_tool(b, ta), HL_OK);
  CHECK_INT(hl_agent_add_tool(a, tb), HL_ERR_INVALID);
  CHECK_INT(hl_agent_add_sub_agent(a, b), HL_ERR_INVALID);
  /* Longer: chief has boss as a sub-agent; helper cannot get chief. */
  CHECK_INT(hl_agent_add_sub_agent(c, b), HL_OK);
  CHECK_INT(hl_agent_add_sub_agent(a, c), HL_ERR_INVALID);
  /* A fork holds its original. */
  hl_agent *f = hl_agent_fork(a, "helper2");
  hl_tool *tf = hl_agent_as_tool(f, NULL, NULL);
  CHECK_INT(hl_agent_add_tool(a, tf), HL_ERR_INVALID);
  /* No cycle, no refusal: a tool of the same name that does not run the
   * agent, and a sibling used by two agents. */
  hl_tool *plain = hl_tool_new("helper", "Not the agent.", tool_echo_fn, a);
  CHECK_INT(hl_agent_add_tool(a, plain), HL_OK);
  CHECK_INT(hl_agent_add_tool(c, ta), HL_OK);
  hl_tool_unref(plain);
  hl_tool_unref(tf);
  hl_agent_unref(f);
  hl_tool_unref(ta);
  hl_tool_unref(tb);
  hl_agent_unref(a); /* still held by the tools of boss and chief */
  hl_agent_unref(b); /* still held by chief */
  hl_agent_unref(c);
}

/* With a schema of the caller's, the tool's arguments are validated
 * against it and the child gets them as JSON text. */
static void agent_as_tool_with_a_schema_passes_the_arguments_as_json(void) {
  hl_provider *pm = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(pm, "{\"responses\":["
      "{\"tool_calls\":[{\"id\":\"c1\",\"name\":\"forecaster\",\"arguments\":{\"city\":\"Oslo\",\"days\":3}}]},"
      "{\"text\":\"{{result}}\"},"
      "{\"tool_calls\":[{\"id\":\"c2\",\"name\":\"forecaster\",\"arguments\":{\"days\":3}}]},"
      "{\"text\":\"{{result}}\"}]}") == HL_OK);
  hl_provider *cm = hl_scripted_new();
  REQUIRE(hl_scripted_load_json(cm, "{\"fallback\":{\"text\":\"got {{input}}\"}}") == HL_OK);
  hl_agent *root = make_agent("root", pm);
  hl_agent *child = make_agent("forecaster", cm);
  const char *schema = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                       "\"days\":{\"type\":\"integer\"}},\"required\":[\"city\"]}";
  hl_tool *t = hl_agent_as_tool(child, "Forecasts.", schema);
  REQUIRE(t != NULL);
  CHECK_STR(json_text(hl_json_get(hl_tool_schema(t), "required")), "[\"city\"]");
  hl_agent_add_tool(root, t);
  hl_tool_unref(t);
  CHECK_RUN(root, NULL, "weather?", "got {\"city\":\"Oslo\",\"days\":3}");
  /* arguments against the schema: an InvalidArguments result, the child does not run */
  CHECK_INT(hl_scripted_request_count(cm), 1);
  char *answer = NULL;
  REQUIRE(hl_agent_run(root, NULL, "again", &answer) == HL_OK);
  CHECK_CONTAINS(answer, "InvalidArguments");
  CHECK_CONTAINS(answer, "city");
  hl_free(answer);
  CHECK_INT(hl_scripted_request_count(cm), 1);
  /* a schema that is not one: no tool, a clear error */
  CHECK(hl_agent_as_tool(child, NULL, "{not json") == NULL);
  CHECK_INT(hl_last_status(), HL_ERR_JSON);
  hl_agent_unref(root);
  hl_agent_unref(child);
  hl_provider_unref(pm);
  hl_provider_unref(cm);
}

int main(void) {
  log_init(&LOG);
  RUN(agent_as_tool_with_a_schema_passes_the_arguments_as_json);
  RUN(agent_as_tool_runs_child_isolated_and_returns_its_answer);
  RUN(agent_as_tool_failure_is_a_tool_error);
  RUN(fork_copies_agent_and_session_without_sharing_history);
  RUN(custom_agent_nests_gets_agent_hooks_events_and_can_be_a_tool);
  RUN(run_modes_shared_isolated_fork);
  RUN(abort_in_child_stops_the_parent_run);
  RUN(runaway_recursion_is_an_error);
  RUN(sub_agent_list_keeps_order);
  RUN(reference_cycles_between_agents_are_refused);
  return CHECK_EXIT();
}
