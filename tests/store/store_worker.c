/*
 * tests/store/store_worker.c - a worker process of the many-workers and
 * crash tests: serves turns of stored sessions, one at a time, with the
 * loopback model and note tool of store_fixture.h.
 *
 *   store_worker URL       reads commands on stdin, one per line:
 *     TURN <session> <k>   run turn k (input "<session>/t<k>") on the
 *                          session as the store has it; prints
 *                          "DONE <session> <k> <version>" (" resumed" after
 *                          it when it continued an unfinished run) or
 *                          "ERR <session> <k> <message>"
 *     DUMP <session>       prints {"id":..,"version":..,"events":[..]}
 *
 * Nothing about a conversation lives in the worker: each turn opens the
 * session from the store. A turn whose input the log already answered
 * (the coordinator re-dealt it after killing a worker that had finished
 * it) is reported done without running again: the application's side of
 * exactly-once; the library's side is hl_agent_run() continuing an
 * unfinished run of the same input (store.h).
 *
 * With HL_WORKER_MODEL_URL set, also the approval commands of
 * worker_approval.c (ASK, OPEN, PENDING, RESUME, RAN).
 *
 * HL_WORKER_CRASH_TOOL=N  SIGKILL this process inside the N-th tool call
 * HL_WORKER_TOOL_SLEEP_US=N  each tool call sleeps that long first
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_fixture.h"
#include "store/worker_approval.h"

static int crash_at;
static int tool_sleep_us;

static hl_status worker_note(hl_context *ctx, const cJSON *args, cJSON **result, void *ud) {
  int n = atomic_load(&note_calls) + 1;
  if (crash_at && n == crash_at) raise(SIGKILL);
  if (tool_sleep_us) usleep((useconds_t)tool_sleep_us);
  return note_fn(ctx, args, result, ud);
}

/* The last user message's text if the log's last run is finished. */
static char *finished_input(const hl_session *s) {
  const hl_messages *h = hl_session_messages(s);
  if (!h->count) return NULL;
  const hl_message *last = h->items[h->count - 1];
  if (last->role != HL_ROLE_ASSISTANT || hl_message_tool_call_count(last)) return NULL;
  for (size_t i = h->count; i-- > 0;)
    if (h->items[i]->role == HL_ROLE_USER) return hl_message_text(h->items[i]);
  return NULL;
}

static void turn(hl_store *store, hl_agent *agent, const char *id, int k) {
  char input[600];
  snprintf(input, sizeof input, "%s/t%d", id, k);
  hl_session *s = NULL;
  bool resumed = false;
  hl_status st = hl_session_open(store, "workers", "u", id, &s);
  if (st == HL_OK) {
    char *done = finished_input(s);
    bool already = done && !strcmp(done, input);
    hl_free(done);
    char *pending = already ? NULL : hl_session_unfinished_input(s);
    resumed = pending && !strcmp(pending, input);
    hl_free(pending);
    if (!already) {
      char *answer = NULL;
      st = hl_agent_run(agent, s, input, &answer);
      hl_free(answer);
    }
  }
  if (st == HL_OK)
    printf("DONE %s %d %lld%s\n", id, k, (long long)hl_session_version(s), resumed ? " resumed" : "");
  else printf("ERR %s %d %s\n", id, k, hl_last_error());
  fflush(stdout);
  hl_session_free(s);
}

static void dump(hl_store *store, const char *id) {
  cJSON *events = NULL;
  int64_t version = 0;
  hl_status st = hl_store_load(store, "workers", "u", id, &events, &version);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  if (st == HL_OK) {
    cJSON_AddNumberToObject(o, "version", (double)version);
    cJSON_AddItemToObject(o, "events", events);
  } else {
    cJSON_AddStringToObject(o, "error", hl_last_error());
  }
  char *text = cJSON_PrintUnformatted(o);
  printf("%s\n", text);
  fflush(stdout);
  free(text);
  cJSON_Delete(o);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s STORE-URL < commands\n", argv[0]);
    return 2;
  }
  crash_at = getenv("HL_WORKER_CRASH_TOOL") ? atoi(getenv("HL_WORKER_CRASH_TOOL")) : 0;
  tool_sleep_us = getenv("HL_WORKER_TOOL_SLEEP_US") ? atoi(getenv("HL_WORKER_TOOL_SLEEP_US")) : 0;
  hl_store *store = NULL;
  if (hl_store_open(argv[1], &store) != HL_OK) {
    fprintf(stderr, "store_worker: %s\n", hl_last_error());
    return 1;
  }
  hl_agent *agent = hl_agent_new("worker");
  hl_provider *p = loop_provider();
  hl_agent_set_provider(agent, p);
  hl_provider_unref(p);
  hl_tool *t = hl_tool_new("note", "Note a text", worker_note, NULL);
  hl_tool_param(t, "text", "string", "what to note", true);
  hl_agent_add_tool(agent, t);
  hl_tool_unref(t);

  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    char id[512];
    int k;
    if (approval_command(store, line)) continue;
    if (sscanf(line, "TURN %511s %d", id, &k) == 2) turn(store, agent, id, k);
    else if (sscanf(line, "DUMP %511s", id) == 1) dump(store, id);
    else if (!strcmp(line, "QUIT")) break;
  }
  approval_free();
  hl_agent_unref(agent);
  hl_store_close(store);
  return 0;
}
