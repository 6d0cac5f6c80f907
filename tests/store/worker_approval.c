/*
 * tests/store/worker_approval.c - store_worker's commands for runs that
 * stop for approval (interrupts.py): an agent on the loopback model of
 * approval_model.py (its URL in HL_WORKER_MODEL_URL) with two tools,
 * note and delete_file, the second needing approval.
 *
 *   ASK <session> <input>       run; prints one result line (below)
 *   OPEN <session>              open the session now and hold it for the
 *                               next RESUME of it ("OPENED <session> <v>"):
 *                               a worker that read the log before another
 *                               worker resumed
 *   PENDING <session>           "PENDING <session> <version> <messages>
 *                               <pending calls as JSON, or null>" as a
 *                               fresh open of the session sees them
 *   RESUME <session> <decisions JSON>  resume the session's stored
 *                               interrupted run; prints one result line
 *   RAN                         "RAN <JSON string>": the tool calls this
 *                               process ran since the last RAN, one
 *                               "name arguments" line each
 * Result lines: "DONE <session> <version> <answer>",
 * "INTERRUPTED <session> <version> <pending JSON>",
 * "ERR <session> <status name> <message>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"
#include "store/worker_approval.h"

static char ran[8192];
static hl_agent *agent;
static struct {
  char id[512];
  hl_session *s;
} held[8];

static void ran_add(const char *name, const cJSON *args) {
  char *a = cJSON_PrintUnformatted(args);
  size_t n = strlen(ran);
  snprintf(ran + n, sizeof ran - n, "%s %s\n", name, a ? a : "null");
  free(a);
}

static hl_status note_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  ran_add("note", args);
  const char *text = hl_json_get_string(args, "text");
  char out[600];
  snprintf(out, sizeof out, "noted %s", text ? text : "");
  *result = cJSON_CreateString(out);
  return HL_OK;
}

static hl_status delete_tool(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  (void)ctx, (void)ud;
  ran_add("delete_file", args);
  const char *path = hl_json_get_string(args, "path");
  char out[600];
  snprintf(out, sizeof out, "deleted %s", path ? path : "");
  *result = cJSON_CreateString(out); /* deletes nothing: a test */
  return HL_OK;
}

static hl_agent *approval_agent(void) {
  if (agent) return agent;
  const char *url = getenv("HL_WORKER_MODEL_URL");
  if (!url) return NULL;
  agent = hl_agent_new("approver");
  hl_provider *p = hl_openai_new(url, "test-key");
  hl_agent_set_provider(agent, p);
  hl_agent_set_model(agent, "approval-model");
  hl_provider_unref(p);
  hl_tool *note = hl_tool_new("note", "Note a text", note_tool, NULL);
  hl_tool_param(note, "text", "string", "what to note", true);
  hl_tool *del = hl_tool_new("delete_file", "Delete a file", delete_tool, NULL);
  hl_tool_param(del, "path", "string", "the file", true);
  hl_tool_set_needs_approval(del, true);
  hl_agent_add_tool(agent, note);
  hl_agent_add_tool(agent, del);
  hl_tool_unref(note);
  hl_tool_unref(del);
  return agent;
}

/* The session held by OPEN for `id` (taken), else a fresh open. */
static hl_status session_for(hl_store *store, const char *id, hl_session **out) {
  for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
    if (held[i].s && !strcmp(held[i].id, id)) {
      *out = held[i].s;
      held[i].s = NULL;
      return HL_OK;
    }
  }
  return hl_session_open(store, "approvals", "u", id, out);
}

static void print_json_line(const char *head, const char *id, int64_t version, const cJSON *j) {
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  printf("%s %s %lld %s\n", head, id, (long long)version, text ? text : "null");
  free(text);
}

/* One result line for a run's status. */
static void report(hl_session *s, const char *id, hl_status st, const char *answer) {
  if (st == HL_OK) {
    printf("DONE %s %lld %s\n", id, (long long)hl_session_version(s), answer ? answer : "");
  } else if (st == HL_INTERRUPTED) {
    cJSON *state = hl_session_run_state(s);
    cJSON *pending = state ? hl_run_state_pending(state) : NULL;
    print_json_line("INTERRUPTED", id, hl_session_version(s), pending);
    cJSON_Delete(pending);
    cJSON_Delete(state);
    cJSON_Delete(hl_run_state_json()); /* the same state, handed over: not needed */
  } else {
    printf("ERR %s %s %s\n", id, hl_status_name(st), hl_last_error());
  }
}

static void ask(hl_store *store, const char *id, const char *input) {
  hl_session *s = NULL;
  char *answer = NULL;
  hl_status st = session_for(store, id, &s);
  if (st == HL_OK) st = hl_agent_run(approval_agent(), s, input, &answer);
  report(s, id, st, answer);
  hl_free(answer);
  hl_session_free(s);
}

static void resume(hl_store *store, const char *id, const char *decisions_text) {
  hl_session *s = NULL;
  char *answer = NULL;
  cJSON *decisions = cJSON_Parse(decisions_text);
  hl_status st = decisions ? session_for(store, id, &s)
                           : hl_fail(HL_ERR_JSON, "RESUME: the decisions are not JSON");
  cJSON *state = st == HL_OK ? hl_session_run_state(s) : NULL;
  if (st == HL_OK && !state) st = hl_fail(HL_ERR_NOT_FOUND, "no interrupted run is stored");
  if (st == HL_OK) st = hl_agent_resume(approval_agent(), s, state, decisions, &answer);
  report(s, id, st, answer);
  hl_free(answer);
  cJSON_Delete(state);
  cJSON_Delete(decisions);
  hl_session_free(s);
}

static void pending(hl_store *store, const char *id) {
  hl_session *s = NULL;
  if (hl_session_open(store, "approvals", "u", id, &s) != HL_OK) {
    printf("ERR %s %s %s\n", id, hl_status_name(hl_last_status()), hl_last_error());
    return;
  }
  cJSON *state = hl_session_run_state(s);
  cJSON *calls = state ? hl_run_state_pending(state) : NULL;
  char *text = calls ? cJSON_PrintUnformatted(calls) : NULL;
  printf("PENDING %s %lld %zu %s\n", id, (long long)hl_session_version(s),
         hl_session_messages(s)->count, text ? text : "null");
  free(text);
  cJSON_Delete(calls);
  cJSON_Delete(state);
  hl_session_free(s);
}

static void hold(hl_store *store, const char *id) {
  for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
    if (held[i].s) continue;
    if (hl_session_open(store, "approvals", "u", id, &held[i].s) != HL_OK) break;
    snprintf(held[i].id, sizeof held[i].id, "%s", id);
    printf("OPENED %s %lld\n", id, (long long)hl_session_version(held[i].s));
    return;
  }
  printf("ERR %s %s %s\n", id, hl_status_name(hl_last_status()), hl_last_error());
}

bool approval_command(hl_store *store, const char *line) {
  char id[512];
  int n = 0;
  bool ok = true;
  if (!strcmp(line, "RAN")) {
    cJSON *s = cJSON_CreateString(ran);
    char *text = cJSON_PrintUnformatted(s);
    printf("RAN %s\n", text);
    free(text);
    cJSON_Delete(s);
    ran[0] = '\0';
  } else if (!approval_agent()) {
    ok = false; /* no model URL: these commands are not served */
  } else if (sscanf(line, "ASK %511s %n", id, &n) == 1 && n > 0) {
    ask(store, id, line + n);
  } else if (sscanf(line, "RESUME %511s %n", id, &n) == 1 && n > 0) {
    resume(store, id, line + n);
  } else if (sscanf(line, "PENDING %511s", id) == 1) {
    pending(store, id);
  } else if (sscanf(line, "OPEN %511s", id) == 1) {
    hold(store, id);
  } else {
    ok = false;
  }
  if (ok) fflush(stdout);
  return ok;
}

void approval_free(void) {
  for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) hl_session_free(held[i].s);
  hl_agent_unref(agent);
  agent = NULL;
}
