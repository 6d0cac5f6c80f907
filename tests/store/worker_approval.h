/*
 * tests/store/worker_approval.h - store_worker's approval commands
 * (worker_approval.c): ASK, OPEN, PENDING, RESUME, RAN.
 */
#ifndef HL_TEST_WORKER_APPROVAL_H
#define HL_TEST_WORKER_APPROVAL_H

#include <stdbool.h>
#include "hookline.h"

/* Serve `line` if it is one of the approval commands (printing its result
 * line); false if it is not, or if HL_WORKER_MODEL_URL is not set. */
bool approval_command(hl_store *store, const char *line);
/* Free the held sessions and the agent. */
void approval_free(void);

#endif
