/*
 * lib/sandbox/code_mode_internal.h - shared between code_mode.c (the code
 * tool) and code_sessions.c (its per-session sandboxes).
 */
#ifndef HL_SANDBOX_CODE_MODE_INTERNAL_H
#define HL_SANDBOX_CODE_MODE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "sandbox_internal.h"

#define HL_CODE_DEFAULT_MAX_SESSIONS 32u

/* One agent session's sandbox. */
typedef struct code_session {
  char *id;           /* the session id */
  hl_sandbox *sb;     /* NULL until the first call in this process */
  bool busy;          /* a call is running in it */
  uint64_t last_used; /* for dropping the least recently used */
  unsigned calls;     /* calls in this process */
} code_session;

/* The code tool's user_data. */
typedef struct code_tool {
  uint32_t magic;
  hl_sandbox_limits limits;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* a session became idle */
  code_session *sessions;
  size_t n, cap, max_sessions;
  char *state_dir; /* NULL: state lives only in this process */
  uint64_t clock;
} code_tool;

/* The code_tool behind `tool`, or NULL when it is not a code tool. */
code_tool *hl__code_tool_of(hl_tool *tool);

void hl__code_sessions_init(code_tool *ct);
void hl__code_sessions_destroy(code_tool *ct);

/* Take session `id` for one call (waiting while another call of the same
 * session runs): a copy of its entry, to hand back with
 * hl__code_session_release() (which keeps copy->sb). NULL when out of
 * memory or when the table is full of running sessions: the caller then
 * runs in a sandbox of its own. */
code_session *hl__code_session_acquire(code_tool *ct, const char *id);
void hl__code_session_release(code_tool *ct, code_session *copy);

/* <state_dir>/<hex id>.snap (malloc'ed), NULL without a state dir. */
char *hl__code_state_path(const code_tool *ct, const char *id);
/* Write the session's state file (HL_OK without a state dir). */
hl_status hl__code_state_save(const code_tool *ct, const char *id, hl_sandbox *sb);

#endif
