/*
 * tests/code_tool_call.h - driving a code tool (run_javascript,
 * run_python) the way a model does, for the tests of its session state
 * (tests/sandbox, tests/sandbox_py): one agent run per call, and a
 * session handed on as a durable store would hand it to another process.
 */
#ifndef HL_TEST_CODE_TOOL_CALL_H
#define HL_TEST_CODE_TOOL_CALL_H

#include <hookline.h>
#include <stdio.h>

/* One agent run ("coder") in `session` whose scripted model calls `code`
 * (by its own name) with `args` (JSON) and then answers with the tool's
 * result text. `setup` (may be NULL) gives the agent more before the run
 * (tools, hooks). Returns the answer (free with hl_free()), or NULL,
 * saying why on stderr. */
static inline char *code_tool_call_with(hl_tool *code, hl_session *session, const char *args,
                                        void (*setup)(hl_agent *agent)) {
  hl_provider *p = hl_scripted_new();
  if (!p)
    return NULL;
  hl_scripted_push_tool_call(p, "c1", hl_tool_name(code), args);
  hl_scripted_push_text(p, "{{result}}");
  hl_agent *a = hl_agent_new("coder");
  char *answer = NULL;
  if (a) {
    hl_agent_set_provider(a, p);
    hl_agent_add_tool(a, code);
    if (setup)
      setup(a);
    if (hl_agent_run(a, session, "go", &answer))
      fprintf(stderr, "run failed: %s\n", hl_last_error());
  }
  hl_agent_unref(a);
  hl_provider_unref(p);
  return answer;
}

static inline char *code_tool_call(hl_tool *code, hl_session *session, const char *args) {
  return code_tool_call_with(code, session, args, NULL);
}

/* A copy of `s` made through its JSON form (hl_session_to_json, then
 * hl_session_from_json): what another process would get from a durable
 * store. NULL on failure; free with hl_session_free(). */
static inline hl_session *session_resumed(const hl_session *s) {
  cJSON *j = hl_session_to_json(s);
  hl_session *copy = NULL;
  if (!j || hl_session_from_json(j, &copy) != HL_OK)
    copy = NULL;
  cJSON_Delete(j);
  return copy;
}

#endif
