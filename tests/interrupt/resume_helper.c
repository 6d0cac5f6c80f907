/*
 * tests/interrupt/resume_helper.c - the second process of test_process.c:
 * loads an interrupted run's state, its session and the decisions from
 * files, resumes the run on the same agent as the fixture builds it, and
 * writes what happened to a JSON file: the status, the answer, the tool
 * results the model got in its next request, and which tools ran here.
 *
 *   resume_helper STATE.json SESSION.json DECISIONS.json OUT.json [composer|pipeline]
 *
 * With "composer" the agent is fixture.h's composer (nested calls); with
 * "pipeline" its sequential pipeline (writer, publisher), whose report
 * has the publisher's model in "model_calls"/"results" and the writer's
 * model calls made here in "writer_calls".
 */
#include "fixture.h"

static cJSON *load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return cJSON_Parse(buf);
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: resume_helper STATE SESSION DECISIONS OUT [composer|pipeline]\n");
    return 2;
  }
  cJSON *state = load(argv[1]), *sjson = load(argv[2]), *decisions = load(argv[3]);
  hl_session *session = NULL;
  if (!state || !sjson || !decisions || hl_session_from_json(sjson, &session) != HL_OK) {
    fprintf(stderr, "resume_helper: cannot load its inputs: %s\n", hl_last_error());
    return 2;
  }
  hl_provider *model = hl_scripted_new(), *writer = hl_scripted_new();
  bool pipeline = argc == 6 && !strcmp(argv[5], "pipeline");
  if (!pipeline) hl_scripted_push_text(model, "resumed elsewhere");
  hl_agent *agent = pipeline ? fx_pipeline(writer, model)
                    : argc == 6 && !strcmp(argv[5], "composer") ? fx_composer(model)
                                                               : fx_assistant(model);
  char *answer = NULL;
  hl_status st = hl_agent_resume(agent, session, state, decisions, &answer);

  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "status", hl_status_name(st));
  cJSON_AddStringToObject(out, "error", hl_last_error());
  if (answer) cJSON_AddStringToObject(out, "answer", answer);
  hl_request *req = hl_scripted_request(model, 0);
  cJSON_AddItemToObject(out, "results", fx_results_of(req));
  cJSON_AddNumberToObject(out, "model_calls", (double)hl_scripted_request_count(model));
  cJSON_AddNumberToObject(out, "writer_calls", (double)hl_scripted_request_count(writer));
  cJSON_AddStringToObject(out, "ran", fx_log);
  cJSON_AddNumberToObject(out, "session_messages", (double)hl_session_messages(session)->count);
  char *text = cJSON_Print(out);
  FILE *f = fopen(argv[4], "wb");
  int rc = f && text && fputs(text, f) >= 0 ? 0 : 2;
  if (f) fclose(f);
  free(text);
  cJSON_Delete(out);
  hl_request_free(req);
  hl_free(answer);
  hl_agent_unref(agent);
  hl_provider_unref(model);
  hl_provider_unref(writer);
  hl_session_free(session);
  cJSON_Delete(state), cJSON_Delete(sjson), cJSON_Delete(decisions);
  return rc;
}
