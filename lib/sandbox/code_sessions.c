/*
 * lib/sandbox/code_sessions.c - the code tool's memory: one sandbox per
 * agent session, kept between calls of the tool, so that what one call
 * defines (functions, variables) is there in the next.
 *
 * The table is bounded: at most `max_sessions` sandboxes (the least
 * recently used one is dropped to make room), each bounded by the tool's
 * memory limit. Two calls of the same session (parallel tool calls of one
 * turn) take turns: a sandbox runs one execution at a time.
 *
 * With a state directory, every session's JavaScript or Python state is written
 * there after each call (<dir>/<hex of the session id>.snap, a sandbox
 * snapshot file) and read back by the first call of that session in a
 * process that does not hold it: a conversation resumed in another
 * process keeps its state. Without one (or when the file is gone), the
 * first call after such a resume says that the state was lost; the
 * session's state key "hookline.code_mode" (written by every call) is how
 * it knows that earlier calls happened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code_mode_internal.h"

void hl__code_sessions_init(code_tool *ct) {
  pthread_mutex_init(&ct->lock, NULL);
  pthread_cond_init(&ct->cond, NULL);
  ct->max_sessions = HL_CODE_DEFAULT_MAX_SESSIONS;
}

static void session_drop(code_session *s) {
  hl_sandbox_free(s->sb);
  free(s->id);
  memset(s, 0, sizeof *s);
}

void hl__code_sessions_destroy(code_tool *ct) {
  for (size_t i = 0; i < ct->n; i++)
    session_drop(&ct->sessions[i]);
  free(ct->sessions);
  free(ct->state_dir);
  pthread_mutex_destroy(&ct->lock);
  pthread_cond_destroy(&ct->cond);
}

static code_session *find(code_tool *ct, const char *id) {
  for (size_t i = 0; i < ct->n; i++)
    if (strcmp(ct->sessions[i].id, id) == 0)
      return &ct->sessions[i];
  return NULL;
}

/* Make room for one more entry (locked): grow, or drop the least recently
 * used idle session. False when every kept session is busy and the table
 * is full (the caller then runs without memory). */
static bool make_room(code_tool *ct) {
  if (ct->n < ct->max_sessions && ct->n < ct->cap)
    return true;
  if (ct->n < ct->max_sessions) {
    size_t cap = ct->cap ? ct->cap * 2 : 8;
    code_session *grown = realloc(ct->sessions, cap * sizeof *grown);
    if (!grown)
      return false;
    ct->sessions = grown;
    ct->cap = cap;
    return true;
  }
  size_t victim = ct->n;
  for (size_t i = 0; i < ct->n; i++)
    if (!ct->sessions[i].busy &&
        (victim == ct->n || ct->sessions[i].last_used < ct->sessions[victim].last_used))
      victim = i;
  if (victim == ct->n)
    return false;
  session_drop(&ct->sessions[victim]);
  ct->sessions[victim] = ct->sessions[--ct->n];
  return true;
}

code_session *hl__code_session_acquire(code_tool *ct, const char *id) {
  pthread_mutex_lock(&ct->lock);
  code_session *s;
  while ((s = find(ct, id)) && s->busy)
    pthread_cond_wait(&ct->cond, &ct->lock);
  if (!s && make_room(ct)) {
    s = &ct->sessions[ct->n];
    memset(s, 0, sizeof *s);
    s->id = strdup(id);
    if (s->id)
      ct->n++;
    else
      s = NULL;
  }
  if (s) {
    s->busy = true;
    /* The entry may move (make_room of another call swaps entries), so
     * the caller gets a copy of its id and sandbox and hands them back. */
  }
  code_session *copy = NULL;
  if (s) {
    copy = malloc(sizeof *copy);
    if (copy) {
      *copy = *s;
      copy->id = strdup(s->id);
      if (!copy->id) {
        free(copy);
        copy = NULL;
      }
    }
    if (!copy)
      s->busy = false;
  }
  pthread_mutex_unlock(&ct->lock);
  return copy;
}

void hl__code_session_release(code_tool *ct, code_session *copy) {
  pthread_mutex_lock(&ct->lock);
  code_session *s = find(ct, copy->id);
  if (s) {
    s->sb = copy->sb;
    s->calls = copy->calls;
    s->busy = false;
    s->last_used = ++ct->clock;
  } else {
    /* Forgotten while it ran (hl_sandbox_code_tool_forget). */
    hl_sandbox_free(copy->sb);
  }
  pthread_cond_broadcast(&ct->cond);
  pthread_mutex_unlock(&ct->lock);
  free(copy->id);
  free(copy);
}

char *hl__code_state_path(const code_tool *ct, const char *id) {
  if (!ct->state_dir)
    return NULL;
  size_t dlen = strlen(ct->state_dir), ilen = strlen(id);
  char *p = malloc(dlen + 2 * ilen + 8);
  if (!p)
    return NULL;
  /* Hex: any session id is a safe file name. */
  size_t n = (size_t)sprintf(p, "%s/", ct->state_dir);
  for (size_t i = 0; i < ilen; i++)
    n += (size_t)sprintf(p + n, "%02x", (unsigned char)id[i]);
  memcpy(p + n, ".snap", 6);
  return p;
}

hl_status hl__code_state_save(const code_tool *ct, const char *id, hl_sandbox *sb) {
  char *path = hl__code_state_path(ct, id);
  if (!path)
    return ct->state_dir ? hl_fail(HL_ERR_NOMEM, "out of memory") : HL_OK;
  hl_sandbox_snapshot *snap = NULL;
  hl_status st = hl_sandbox_snapshot_take(sb, &snap);
  if (st == HL_OK)
    st = hl_sandbox_snapshot_save(snap, path);
  hl_sandbox_snapshot_free(snap);
  free(path);
  return st;
}

hl_status hl_sandbox_code_tool_set_state_dir(hl_tool *tool, const char *dir) {
  code_tool *ct = hl__code_tool_of(tool);
  if (!ct)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool_set_state_dir: not a code tool");
  char *copy = NULL;
  if (dir) {
    if (!*dir)
      return hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool_set_state_dir: dir is empty");
    if (access(dir, W_OK | X_OK) != 0)
      return hl_fail(HL_ERR_IO, "hl_sandbox_code_tool_set_state_dir: %s: %s", dir, strerror(errno));
    copy = strdup(dir);
    if (!copy)
      return hl_fail(HL_ERR_NOMEM, "hl_sandbox_code_tool_set_state_dir: out of memory");
  }
  pthread_mutex_lock(&ct->lock);
  free(ct->state_dir);
  ct->state_dir = copy;
  pthread_mutex_unlock(&ct->lock);
  return HL_OK;
}

hl_status hl_sandbox_code_tool_set_max_sessions(hl_tool *tool, size_t max_sessions) {
  code_tool *ct = hl__code_tool_of(tool);
  if (!ct)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool_set_max_sessions: not a code tool");
  if (max_sessions < 1)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool_set_max_sessions: at least 1");
  pthread_mutex_lock(&ct->lock);
  ct->max_sessions = max_sessions;
  /* Idle sessions over the new bound go now; busy ones when they end. */
  while (ct->n > ct->max_sessions) {
    size_t victim = ct->n;
    for (size_t i = 0; i < ct->n; i++)
      if (!ct->sessions[i].busy &&
          (victim == ct->n || ct->sessions[i].last_used < ct->sessions[victim].last_used))
        victim = i;
    if (victim == ct->n)
      break;
    session_drop(&ct->sessions[victim]);
    ct->sessions[victim] = ct->sessions[--ct->n];
  }
  pthread_mutex_unlock(&ct->lock);
  return HL_OK;
}

hl_status hl_sandbox_code_tool_forget(hl_tool *tool, const char *session_id) {
  code_tool *ct = hl__code_tool_of(tool);
  if (!ct || !session_id)
    return hl_fail(HL_ERR_INVALID, "hl_sandbox_code_tool_forget: %s",
                   !ct ? "not a code tool" : "session_id is NULL");
  pthread_mutex_lock(&ct->lock);
  code_session *s = find(ct, session_id);
  bool found = s != NULL;
  if (s && !s->busy) {
    session_drop(s);
    *s = ct->sessions[--ct->n];
  } else if (s) {
    /* Running: its release finds no entry and frees the sandbox. */
    free(s->id);
    *s = ct->sessions[--ct->n];
  }
  char *path = hl__code_state_path(ct, session_id);
  pthread_mutex_unlock(&ct->lock);
  if (path) {
    if (unlink(path) == 0)
      found = true;
    free(path);
  }
  return found ? HL_OK
               : hl_fail(HL_ERR_NOT_FOUND, "hl_sandbox_code_tool_forget: no state for session \"%s\"",
                         session_id);
}
