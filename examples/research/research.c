/*
 * examples/research/research.c - a research pipeline built from workflow
 * agents, running offline on scripted models:
 *
 *   assistant (router: one model call picks the handler, fallback "chat")
 *   ├── chat               small talk
 *   └── research (sequential, each step gets the previous step's answer)
 *       ├── researchers (parallel: both search at the same time)
 *       │   ├── web_researcher    tool search_web
 *       │   └── paper_researcher  tool search_papers
 *       └── drafting (loop, at most 3 rounds)
 *           ├── writer
 *           └── reviewer          tool approve: ends the loop
 *
 * It prints the tree of agents as they start (from one observer on the
 * root, which sees every descendant's events with its branch path) and
 * the answers. Exits non-zero if the pipeline did not behave as scripted,
 * so the test suite can run it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "hookline.h"

/* --- tools ------------------------------------------------------------- */

static hl_status search_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)ctx;
  char text[256];
  snprintf(text, sizeof text, "%s: 3 results for \"%s\"", (const char *)ud,
           hl_json_get_string(args, "query"));
  *result = cJSON_CreateString(text);
  return HL_OK;
}

static hl_status approve_fn(hl_context *ctx, const cJSON *args, cJSON **result, void *ud)
{
  (void)args;
  (void)ud;
  *result = cJSON_CreateString("approved");
  return hl_workflow_escalate(ctx);   /* ends the drafting loop */
}

static hl_tool *tool(const char *name, const char *desc, hl_tool_fn fn, void *ud,
                     const char *param)
{
  hl_tool *t = hl_tool_new(name, desc, fn, ud);
  if (param)
    hl_tool_param(t, param, "string", "what to look for", true);
  return t;
}

/* --- agents ------------------------------------------------------------ */

/* An LLM agent on its own scripted model (script in the JSON format of
 * scripted.h), with an optional tool. */
static hl_agent *llm(const char *name, const char *description, const char *script,
                     hl_tool *t)
{
  hl_agent *a = hl_agent_new(name);
  hl_provider *p = hl_scripted_new();
  if (hl_scripted_load_json(p, script) != HL_OK)
    fprintf(stderr, "script of %s: %s\n", name, hl_last_error());
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_agent_set_description(a, description);
  if (t) {
    hl_agent_add_tool(a, t);
    hl_tool_unref(t);
  }
  return a;
}

static void adopt(hl_agent *parent, hl_agent *child)
{
  hl_agent_add_sub_agent(parent, child);
  hl_agent_unref(child);
}

static hl_agent *build(hl_provider *router_model)
{
  hl_agent *researchers = hl_parallel_agent_new("researchers", HL_RUN_ISOLATED);
  adopt(researchers,
        llm("web_researcher", "Searches the web.",
            "{\"rules\":[{\"match\":\".\",\"steps\":["
            "{\"tool_calls\":[{\"id\":\"w1\",\"name\":\"search_web\","
            "\"arguments\":{\"query\":\"{{input}}\"}}]},"
            "{\"text\":\"Web: {{result}}\"}]}]}",
            tool("search_web", "Search the web.", search_fn, "web", "query")));
  adopt(researchers,
        llm("paper_researcher", "Searches papers.",
            "{\"rules\":[{\"match\":\".\",\"steps\":["
            "{\"tool_calls\":[{\"id\":\"p1\",\"name\":\"search_papers\","
            "\"arguments\":{\"query\":\"{{input}}\"}}]},"
            "{\"text\":\"Papers: {{result}}\"}]}]}",
            tool("search_papers", "Search papers.", search_fn, "papers", "query")));

  hl_agent *drafting = hl_loop_agent_new("drafting", 3, HL_WORKFLOW_INPUT_PREVIOUS);
  hl_agent *writer = llm("writer", "Writes the report.",
                         "{\"rules\":["
                         "{\"match\":\"^Revise\",\"steps\":[{\"text\":"
                         "\"Draft 2: sleep consolidates memory. Conclusion: sleep well.\"}]},"
                         "{\"match\":\".\",\"steps\":[{\"text\":"
                         "\"Draft 1: sleep consolidates memory.\"}]}]}",
                         NULL);
  hl_agent_set_output_key(writer, "draft");
  adopt(drafting, writer);
  adopt(drafting,
        llm("reviewer", "Reviews the draft.",
            "{\"rules\":["
            "{\"match\":\"Conclusion\",\"steps\":["
            "{\"tool_calls\":[{\"id\":\"a1\",\"name\":\"approve\",\"arguments\":{}}]},"
            "{\"text\":\"Approved: {{input}}\"}]},"
            "{\"match\":\".\",\"steps\":[{\"text\":\"Revise: add a conclusion.\"}]}]}",
            tool("approve", "Approve the draft.", approve_fn, NULL, NULL)));

  hl_agent *research = hl_sequential_agent_new("research", HL_WORKFLOW_INPUT_PREVIOUS);
  hl_agent_set_description(research, "In-depth questions that need sources and a report.");
  adopt(research, researchers);
  adopt(research, drafting);

  hl_agent *assistant = hl_router_agent_new("assistant", router_model, NULL, "chat");
  adopt(assistant, llm("chat", "Small talk and quick questions.",
                       "{\"fallback\":{\"text\":\"Hello! Ask me to research something.\"}}",
                       NULL));
  adopt(assistant, research);
  return assistant;
}

/* --- observer: print the tree as agents start ---------------------------- */

/* Events arrive on several threads (the researchers run in parallel), so
 * the counts are atomic and each line is printed under the stream lock. */
typedef struct tally {
  atomic_int agent_starts, tool_calls, route_events;
} tally;

static int show(const hl_event *ev, void *ud)
{
  tally *t = ud;
  int depth = 0;
  for (const char *c = ev->branch; c && *c; c++)
    depth += *c == '/';
  flockfile(stdout);
  if (ev->type == HL_EVENT_AGENT_START) {
    atomic_fetch_add(&t->agent_starts, 1);
    printf("%*s%s\n", 2 * depth, "", ev->branch);
  } else if (ev->type == HL_EVENT_TOOL_START) {
    atomic_fetch_add(&t->tool_calls, 1);
    printf("%*s  tool %s\n", 2 * depth, "", ev->name);
  } else if (ev->type == HL_EVENT_CUSTOM && ev->name && !strcmp(ev->name, "route")) {
    atomic_fetch_add(&t->route_events, 1);
  }
  fflush(stdout);
  funlockfile(stdout);
  return 0;
}

int main(void)
{
  hl_provider *router_model = hl_scripted_new();
  hl_scripted_load_json(router_model,
                        "{\"rules\":[{\"match\":\"research|sources\","
                        "\"steps\":[{\"text\":\"research\"}]}],"
                        "\"fallback\":{\"text\":\"chat\"}}");
  hl_agent *assistant = build(router_model);
  tally t;
  atomic_init(&t.agent_starts, 0);
  atomic_init(&t.tool_calls, 0);
  atomic_init(&t.route_events, 0);
  hl_observer *obs = hl_observer_new(show, &t);
  hl_agent_add_observer(assistant, obs);
  hl_observer_unref(obs);

  int failures = 0;
  char *answer = NULL;
  hl_session *chat = hl_session_new("research-demo", "me", NULL);
  if (hl_agent_run(assistant, chat, "Hi there!", &answer) != HL_OK) {
    fprintf(stderr, "chat run failed: %s\n", hl_last_error());
    failures++;
  } else {
    printf("=> %s\n\n", answer);
    failures += strstr(answer, "Hello!") == NULL;
  }
  hl_free(answer);
  hl_session_free(chat);

  hl_session *work = hl_session_new("research-demo", "me", NULL);
  if (hl_agent_run(assistant, work, "Research how sleep affects memory, with sources",
                   &answer) != HL_OK) {
    fprintf(stderr, "research run failed: %s\n", hl_last_error());
    failures++;
  } else {
    printf("=> %s\n", answer);
    failures += strstr(answer, "Approved: Draft 2") == NULL;
    char *web = hl_session_state_get_string(work, "web_researcher");
    char *draft = hl_session_state_get_string(work, "draft");
    printf("state web_researcher = %s\nstate draft = %s\n", web ? web : "(none)",
           draft ? draft : "(none)");
    failures += !web || !strstr(web, "3 results");
    failures += !draft || !strstr(draft, "Conclusion");
    hl_free(web);
    hl_free(draft);
  }
  hl_free(answer);
  hl_session_free(work);

  /* Run 1: assistant, selector, chat. Run 2: assistant, selector, research,
   * researchers, 2 researchers, drafting, 2 x (writer, reviewer). */
  int starts = atomic_load(&t.agent_starts), tools = atomic_load(&t.tool_calls);
  printf("agents started: %d, tool calls: %d\n", starts, tools);
  failures += starts != 3 + 11;
  failures += tools != 3;
  failures += atomic_load(&t.route_events) != 2;

  hl_agent_unref(assistant);
  hl_provider_unref(router_model);
  if (failures)
    fprintf(stderr, "research example: %d unexpected outcome(s)\n", failures);
  return failures ? 1 : 0;
}
