/*
 * resume_custom.c - interrupts under custom agents (workflow agents:
 * sequential, loop, parallel, and any hl_agent_new_custom() body).
 *
 * A C function cannot be frozen in the middle, so a custom agent is
 * resumed by running its body again from the start, with what its
 * children did the first time: while the body runs, every child it starts
 * through hl_context_run_agent() is recorded (its id, agent, input and
 * outcome, or the state it was interrupted with). When a child stops for
 * a decision the body's run stops too (HL_INTERRUPTED) and the record
 * becomes the "custom" part of the run's state. On resume the body runs
 * again: a child that had ended returns its recorded answer (or failure)
 * without running (no model call, no event), the interrupted child
 * resumes from its own state with the decisions under its path, and
 * children not started before run normally.
 *
 * A child is known by an id that does not depend on timing: the child's
 * name, "#K" added for its K-th run in the same body (K >= 2: a loop's
 * second iteration). A recorded child applies only to a child with the
 * same id, agent and input; any other runs afresh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/interrupt_internal.h"
#include "agent/session_internal.h"
#include "core/util.h"
#include "hookline/json.h"

typedef struct hl__custom_rec {
  cJSON *children;      /* this execution's children, in the order they started */
  const cJSON *replay;  /* the resumed state's custom.children (borrowed), or NULL */
  bool interrupted;     /* some child stopped for a decision */
} hl__custom_rec;

static void rec_free(hl__custom_rec *r) {
  if (!r) return;
  cJSON_Delete(r->children);
  free(r);
}

/* Under ctx->lock: the body's record, made on first use. */
static hl__custom_rec *rec_get(hl_context *ctx) {
  if (!ctx->custom) {
    hl__custom_rec *r = calloc(1, sizeof *r);
    if (!r || !(r->children = cJSON_CreateArray())) {
      free(r);
      return NULL;
    }
    ctx->custom = r;
  }
  return ctx->custom;
}

void hl__custom_free(hl_context *ctx) {
  pthread_mutex_lock(&ctx->lock);
  hl__custom_rec *r = ctx->custom;
  ctx->custom = NULL;
  pthread_mutex_unlock(&ctx->lock);
  rec_free(r);
}

static hl_status status_from_name(const char *name) {
  for (int s = 0; name && s < HL_STATUS_COUNT_; s++)
    if (!strcmp(hl_status_name((hl_status)s), name)) return (hl_status)s;
  return HL_STATUS_COUNT_;
}

bool hl__custom_status_known(const char *name) {
  return status_from_name(name) != HL_STATUS_COUNT_ && strcmp(name, hl_status_name(HL_INTERRUPTED)) &&
         strcmp(name, hl_status_name(HL_PENDING));
}

/* Under ctx->lock: a new entry for `child` (its id counted among this
 * execution's children), and the recorded child it replays, if any. */
static cJSON *entry_new(hl__custom_rec *r, const hl_agent *child, const char *input,
                        const cJSON **replayed) {
  int k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, r->children) {
    const char *a = hl_json_get_string(e, "agent");
    k += a && !strcmp(a, child->name);
  }
  char id[128];
  if (k) snprintf(id, sizeof id, "%s#%d", child->name, k + 1);
  else snprintf(id, sizeof id, "%s", child->name);
  cJSON *entry = cJSON_CreateObject();
  if (!entry || !cJSON_AddStringToObject(entry, "id", id) ||
      !cJSON_AddStringToObject(entry, "agent", child->name) ||
      !cJSON_AddStringToObject(entry, "input", input) || !cJSON_AddItemToArray(r->children, entry)) {
    cJSON_Delete(entry);
    return NULL;
  }
  *replayed = NULL;
  cJSON_ArrayForEach(e, r->replay) {
    const char *rid = hl_json_get_string(e, "id"), *ra = hl_json_get_string(e, "agent"),
               *ri = hl_json_get_string(e, "input");
    if (rid && !strcmp(rid, id)) {
      if (ra && ri && !strcmp(ra, child->name) && !strcmp(ri, input)) *replayed = e;
      break;
    }
  }
  return entry;
}

/* Under ctx->lock: the child's outcome into its entry. */
static bool entry_end(cJSON *entry, hl_status st, const char *answer, const char *message) {
  if (!cJSON_AddStringToObject(entry, "status", hl_status_name(st))) return false;
  if (st == HL_OK) return cJSON_AddStringToObject(entry, "answer", answer ? answer : "") != NULL;
  return cJSON_AddStringToObject(entry, "message", message ? message : "") != NULL;
}

hl_status hl__resume_kind_check(const hl_agent *child, const cJSON *state) {
  bool custom_state = cJSON_GetObjectItemCaseSensitive(state, "custom") != NULL;
  if (custom_state == (child->kind == HL__AGENT_CUSTOM)) return HL_OK;
  return hl_fail(HL_ERR_STATE, "resume: the saved state of \"%s\" is %s agent's, but \"%s\" is %s agent",
                 child->name, custom_state ? "a custom" : "an LLM", child->name,
                 child->kind == HL__AGENT_CUSTOM ? "a custom" : "an LLM");
}

hl_status hl__custom_run_child(hl_context *ctx, hl_agent *child, hl_session *session, bool owned,
                               const char *input, char **answer) {
  const cJSON *replayed = NULL;
  pthread_mutex_lock(&ctx->lock);
  hl__custom_rec *r = rec_get(ctx);
  cJSON *entry = r ? entry_new(r, child, input, &replayed) : NULL;
  pthread_mutex_unlock(&ctx->lock);
  if (!entry) {
    if (owned) hl_session_free(session);
    return hl__oom();
  }
  const char *rstatus = hl_json_get_string(replayed, "status");
  if (rstatus) {
    /* Ended before the interrupt: its recorded outcome, nothing runs. */
    if (owned) hl_session_free(session);
    hl_status st = status_from_name(rstatus);
    const char *text = hl_json_get_string(replayed, st == HL_OK ? "answer" : "message");
    pthread_mutex_lock(&ctx->lock);
    bool ok = entry_end(entry, st, text, text);
    pthread_mutex_unlock(&ctx->lock);
    if (!ok) return hl__oom();
    if (st != HL_OK) return hl_fail(st, "%s", text ? text : hl_strerror(st));
    return (*answer = hl__strdup(text ? text : "")) ? HL_OK : hl__oom();
  }
  /* The interrupted child resumes from its state, its calls decided under
   * the path "<this run's prefix><id>/". */
  hl__resume resume = {0};
  char prefix[HL_PATH_MAX + 2];
  const cJSON *saved = cJSON_GetObjectItemCaseSensitive(replayed, "state");
  if (saved && hl__resume_kind_check(child, saved) != HL_OK) {
    if (owned) hl_session_free(session);
    char msg[HL__MSG_MAX];
    snprintf(msg, sizeof msg, "%s", hl_last_error());
    pthread_mutex_lock(&ctx->lock);
    entry_end(entry, HL_ERR_STATE, NULL, msg);
    pthread_mutex_unlock(&ctx->lock);
    return hl_fail(HL_ERR_STATE, "%s", msg);
  }
  if (saved && ctx->resume) {
    snprintf(prefix, sizeof prefix, "%s%s/", ctx->resume->prefix ? ctx->resume->prefix : "",
             hl_json_get_string(replayed, "id"));
    resume = (hl__resume){.state = saved, .decisions = ctx->resume->decisions, .prefix = prefix};
  }
  cJSON *state = NULL;
  hl_status st = hl__invoke_ex(child, ctx, session, owned, input, resume.state ? &resume : NULL,
                               answer, &state);
  char msg[HL__MSG_MAX];
  snprintf(msg, sizeof msg, "%s", st == HL_OK || st == HL_INTERRUPTED ? "" : hl_last_error());
  if (st == HL_INTERRUPTED && !state) {
    st = HL_ERR_NOMEM;
    snprintf(msg, sizeof msg, "no memory for the state of interrupted child \"%s\"", child->name);
  }
  pthread_mutex_lock(&ctx->lock);
  bool ok;
  if (st == HL_INTERRUPTED) {
    ok = cJSON_AddItemToObject(entry, "state", state) != 0;
    if (ok) {
      state = NULL;
      r->interrupted = true;
    }
  } else {
    ok = entry_end(entry, st, *answer, msg);
  }
  pthread_mutex_unlock(&ctx->lock);
  cJSON_Delete(state);
  if (!ok) {
    hl_free(*answer);
    *answer = NULL;
    return hl__oom();
  }
  if (st == HL_INTERRUPTED) hl_clear_error(); /* not a failure */
  else if (st != HL_OK) hl_fail(st, "%s", msg);
  return st;
}

hl_status hl__custom_interrupted(hl_context *ctx) {
  pthread_mutex_lock(&ctx->lock);
  hl__custom_rec *r = ctx->custom;
  ctx->custom = NULL;
  pthread_mutex_unlock(&ctx->lock);
  if (!r || !r->interrupted) {
    rec_free(r);
    return HL_OK;
  }
  cJSON *rec = cJSON_CreateObject();
  cJSON *custom = rec ? cJSON_AddObjectToObject(rec, "custom") : NULL;
  bool ok = custom && cJSON_AddNumberToObject(custom, "version", HL__CUSTOM_STATE_VERSION) &&
            cJSON_AddItemToObject(custom, "children", r->children);
  if (ok) r->children = NULL;
  rec_free(r);
  if (!ok) {
    cJSON_Delete(rec);
    return hl__oom();
  }
  cJSON_Delete(ctx->interrupt_calls);
  ctx->interrupt_calls = rec;
  return HL_INTERRUPTED;
}

hl_status hl__custom_resume_begin(hl_context *ctx) {
  const hl__resume *rs = ctx->resume;
  hl_status st = hl__resume_session_matches(ctx->session, rs->state);
  if (st == HL_OK) st = hl__resume_restore_messages(ctx, rs->state);
  if (st != HL_OK) return st;
  hl_usage saved;
  hl__usage_from_json(cJSON_GetObjectItemCaseSensitive(rs->state, "usage"), &saved);
  const cJSON *children =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rs->state, "custom"), "children");
  pthread_mutex_lock(&ctx->lock);
  /* As for an LLM agent: a child's usage went to its parent already. */
  if (!ctx->parent) ctx->usage = saved;
  hl__custom_rec *r = rec_get(ctx);
  if (r) r->replay = children;
  pthread_mutex_unlock(&ctx->lock);
  if (!r) return hl__oom();
  if (hl__ctx_wants(ctx, HL_EVENT_RESUME)) {
    /* RESUME: the children that resume, by id (their calls' decisions
     * come with their own RESUME events). */
    cJSON *data = cJSON_CreateObject();
    cJSON *ids = data ? cJSON_AddArrayToObject(data, "children") : NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, children) {
      if (ids && cJSON_GetObjectItemCaseSensitive(e, "state"))
        cJSON_AddItemToArray(ids, cJSON_CreateString(hl_json_get_string(e, "id")));
    }
    hl_event ev = {.type = HL_EVENT_RESUME, .data = data};
    hl__emit(ctx, &ev);
    cJSON_Delete(data);
  }
  return HL_OK;
}
