/*
 * tests/interrupt/test_process.c - an interrupted run resumed by another
 * process: this test runs the assistant until it stops for approval,
 * writes the state and the session as JSON text to files, and spawns
 * resume_helper (argv[1]) with decisions, once with approve + reject and
 * once with edit + approve; the helper reports what its model saw in the
 * request after the resume and which tools it ran. The same for the
 * composer's nested call and for a workflow agent (the sequential
 * pipeline: its ended child is replayed, not run, in the other process).
 */
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"

static const char *helper;
static const char *helper_agent; /* NULL: the assistant; "composer" */
static char dir[] = "/tmp/hl_interrupt_XXXXXX";

static void save(const char *name, const cJSON *json) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *text = cJSON_PrintUnformatted(json);
  FILE *f = fopen(path, "wb");
  if (f && text) fputs(text, f);
  if (f) fclose(f);
  free(text);
}

/* Run the helper on the saved files with `decisions`; its report. */
static cJSON *resume_elsewhere(const char *decisions) {
  cJSON *d = cJSON_Parse(decisions);
  save("decisions.json", d);
  cJSON_Delete(d);
  char a[4][256];
  const char *names[4] = {"state.json", "session.json", "decisions.json", "out.json"};
  for (int i = 0; i < 4; i++) snprintf(a[i], sizeof a[i], "%s/%s", dir, names[i]);
  unlink(a[3]);
  pid_t pid = fork();
  if (pid == 0) {
    execl(helper, helper, a[0], a[1], a[2], a[3], helper_agent, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  FILE *f = fopen(a[3], "rb");
  if (!f) return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return cJSON_Parse(buf);
}

static const char *result_of(const cJSON *report, const char *id) {
  return hl_json_get_string(hl_json_get(hl_json_get(report, "results"), id), "content");
}

static void a_second_process_resumes_with_approve_reject_and_edit(void) {
  REQUIRE(mkdtemp(dir));
  fx_log_reset();
  hl_provider *model = hl_scripted_new();
  fx_push_three_calls(model);
  hl_agent *agent = fx_assistant(model);
  hl_session *s = hl_session_new("app", "user", "sess-1");
  char *answer = NULL;
  REQUIRE(hl_agent_run(agent, s, "weather, cleanup, mail", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  /* The state goes through text, as it would to a file or a database. */
  char *text = cJSON_PrintUnformatted(state);
  cJSON_Delete(state);
  state = cJSON_Parse(text);
  free(text);
  save("state.json", state);
  cJSON *sj = hl_session_to_json(s);
  save("session.json", sj);
  cJSON_Delete(sj);
  CHECK_INT(fx_ran("get_weather"), 1);

  cJSON *r = resume_elsewhere("{\"c2\":{\"action\":\"approve\"},"
                              "\"c3\":{\"action\":\"reject\",\"message\":\"no emails today\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "Ok");
  CHECK_STR(hl_json_get_string(r, "answer"), "resumed elsewhere");
  CHECK_INT(hl_json_get_number(r, "model_calls", 0), 1);
  /* c1 ran in this process before the interrupt: its saved result, not a rerun. */
  CHECK_STR(result_of(r, "c1"), "sunny in Oslo");
  CHECK_STR(result_of(r, "c2"), "deleted /tmp/x");
  CHECK_STR(result_of(r, "c3"), "no emails today");
  CHECK(cJSON_IsTrue(hl_json_get(hl_json_get(hl_json_get(r, "results"), "c3"), "is_error")));
  CHECK_STR(hl_json_get_string(r, "ran"), "delete_file {\"path\":\"/tmp/x\"}\n");
  CHECK_INT(hl_json_get_number(r, "session_messages", 0), 4);
  cJSON_Delete(r);

  r = resume_elsewhere("{\"c2\":{\"action\":\"edit\",\"arguments\":{\"path\":\"/tmp/y\"}},"
                       "\"c3\":{\"action\":\"approve\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "Ok");
  CHECK_STR(result_of(r, "c1"), "sunny in Oslo");
  CHECK_STR(result_of(r, "c2"), "deleted /tmp/y");
  CHECK_STR(result_of(r, "c3"), "sent to bob");
  CHECK_STR(hl_json_get_string(r, "ran"),
            "delete_file {\"path\":\"/tmp/y\"}\nsend_email {\"to\":\"bob\"}\n");
  cJSON_Delete(r);

  /* A bad decision in the other process: a clear error, nothing run. */
  r = resume_elsewhere("{\"c2\":{\"action\":\"edit\",\"arguments\":{\"file\":\"/tmp/y\"}},"
                       "\"c3\":{\"action\":\"approve\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "InvalidArguments");
  CHECK_CONTAINS(hl_json_get_string(r, "error"), "decisions[\"c2\"].arguments");
  CHECK_STR(hl_json_get_string(r, "ran"), "");
  CHECK_INT(hl_json_get_number(r, "model_calls", -1), 0);
  cJSON_Delete(r);

  const char *names[4] = {"state.json", "session.json", "decisions.json", "out.json"};
  for (int i = 0; i < 4; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

/* A nested call's interrupt (hl_context_call_tool) resumed in the other
 * process: the composer's cleanup runs again there and its nested
 * delete_file gets the decision (approve, reject, edit). */
static void a_second_process_resumes_a_nested_call(void) {
  REQUIRE(mkdtemp(strcpy(dir, "/tmp/hl_interrupt_XXXXXX")));
  fx_log_reset();
  hl_provider *model = hl_scripted_new();
  fx_push_cleanup(model);
  hl_agent *agent = fx_composer(model);
  hl_session *s = hl_session_new("app", "user", "sess-2");
  char *answer = NULL;
  REQUIRE(hl_agent_run(agent, s, "clean up", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  save("state.json", state);
  cJSON *sj = hl_session_to_json(s);
  save("session.json", sj);
  cJSON_Delete(sj);
  CHECK_INT(fx_ran("delete_file"), 0);
  helper_agent = "composer";

  cJSON *r = resume_elsewhere("{\"o1/nested-1\":{\"action\":\"approve\"},"
                              "\"o2\":{\"action\":\"approve\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "Ok");
  CHECK_STR(result_of(r, "o1"), "cleaned: deleted /tmp/n");
  CHECK_STR(result_of(r, "o2"), "deleted /tmp/m");
  CHECK_STR(hl_json_get_string(r, "ran"), "cleanup {\"path\":\"/tmp/n\"}\n"
                                          "delete_file {\"path\":\"/tmp/n\"}\n"
                                          "delete_file {\"path\":\"/tmp/m\"}\n");
  cJSON_Delete(r);

  r = resume_elsewhere("{\"o1/nested-1\":{\"action\":\"reject\",\"message\":\"nope\"},"
                       "\"o2\":{\"action\":\"reject\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "Ok");
  CHECK_STR(result_of(r, "o1"), "refused (ExecutionFailed): nope");
  CHECK_STR(hl_json_get_string(r, "ran"), "cleanup {\"path\":\"/tmp/n\"}\n");
  cJSON_Delete(r);

  r = resume_elsewhere("{\"o1/nested-1\":{\"action\":\"edit\",\"arguments\":{\"path\":\"/tmp/z\"}},"
                       "\"o2\":{\"action\":\"approve\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "Ok");
  CHECK_STR(result_of(r, "o1"), "cleaned: deleted /tmp/z");
  cJSON_Delete(r);
  helper_agent = NULL;

  const char *names[4] = {"state.json", "session.json", "decisions.json", "out.json"};
  for (int i = 0; i < 4; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_session_free(s);
}

/* A workflow agent's interrupt resumed in the other process: the
 * pipeline (sequential: writer, then publisher) stops at the publisher's
 * delete_file; the other process runs the pipeline's body again, where
 * the writer's recorded answer is used without calling its model, and
 * the publisher continues with the decision (approve, reject, edit). */
static void a_second_process_resumes_a_workflow(void) {
  REQUIRE(mkdtemp(strcpy(dir, "/tmp/hl_interrupt_XXXXXX")));
  fx_log_reset();
  hl_provider *wm = hl_scripted_new(), *pm = hl_scripted_new();
  hl_agent *agent = fx_pipeline(wm, pm);
  hl_session *s = hl_session_new("app", "user", "sess-3");
  char *answer = NULL;
  REQUIRE(hl_agent_run(agent, s, "write it", &answer) == HL_INTERRUPTED);
  cJSON *state = hl_run_state_json();
  REQUIRE(state);
  save("state.json", state);
  cJSON *sj = hl_session_to_json(s);
  save("session.json", sj);
  cJSON_Delete(sj);
  CHECK_INT((int)hl_scripted_request_count(wm), 1);
  helper_agent = "pipeline";

  cJSON *r = resume_elsewhere("{\"publisher/p1\":{\"action\":\"approve\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "status"), "Ok");
  CHECK_STR(hl_json_get_string(r, "answer"), "published: deleted /tmp/old");
  CHECK_STR(result_of(r, "p1"), "deleted /tmp/old");
  CHECK_INT(hl_json_get_number(r, "writer_calls", -1), 0);
  CHECK_INT(hl_json_get_number(r, "model_calls", -1), 1);
  CHECK_STR(hl_json_get_string(r, "ran"), "delete_file {\"path\":\"/tmp/old\"}\n");
  CHECK_INT(hl_json_get_number(r, "session_messages", 0), 6);
  cJSON_Delete(r);

  r = resume_elsewhere("{\"publisher/p1\":{\"action\":\"reject\",\"message\":\"keep it\"}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "answer"), "published: keep it");
  CHECK(cJSON_IsTrue(hl_json_get(hl_json_get(hl_json_get(r, "results"), "p1"), "is_error")));
  CHECK_INT(hl_json_get_number(r, "writer_calls", -1), 0);
  CHECK_STR(hl_json_get_string(r, "ran"), "");
  cJSON_Delete(r);

  r = resume_elsewhere("{\"publisher/p1\":{\"action\":\"edit\",\"arguments\":{\"path\":\"/tmp/new\"}}}");
  REQUIRE(r);
  CHECK_STR(hl_json_get_string(r, "answer"), "published: deleted /tmp/new");
  CHECK_INT(hl_json_get_number(r, "writer_calls", -1), 0);
  cJSON_Delete(r);
  helper_agent = NULL;

  const char *names[4] = {"state.json", "session.json", "decisions.json", "out.json"};
  for (int i = 0; i < 4; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
  cJSON_Delete(state);
  hl_agent_unref(agent);
  hl_provider_unref(wm);
  hl_provider_unref(pm);
  hl_session_free(s);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_process RESUME_HELPER\n");
    return 2;
  }
  helper = argv[1];
  CHECK_ARGS(argc - 1, argv + 1);
  RUN(a_second_process_resumes_with_approve_reject_and_edit);
  RUN(a_second_process_resumes_a_nested_call);
  RUN(a_second_process_resumes_a_workflow);
  return CHECK_EXIT();
}
