/*
 * tests/hooks/check_run.h - CHECK_RUN, shared by the agent-core, plugin and
 * workflow-agent tests (tests/hooks, tests/plugins, tests/agents).
 */
#ifndef HL_TEST_CHECK_RUN_H
#define HL_TEST_CHECK_RUN_H

#include <stdio.h>

#include "check.h"
#include "hookline.h"

/* Run `agent` on `input` and check that it answers `want`; a failed run
 * prints its error and ends the test function (as REQUIRE does). */
#define CHECK_RUN(agent, session, input, want)                                \
  do {                                                                        \
    char *run_answer_ = NULL;                                                 \
    hl_status run_st_ = hl_agent_run((agent), (session), (input), &run_answer_); \
    if (run_st_ != HL_OK) fprintf(stderr, "run failed: %s\n", hl_last_error()); \
    CHECK_INT(run_st_, HL_OK);                                                \
    if (run_st_ != HL_OK) return;                                             \
    CHECK_STR(run_answer_, (want));                                           \
    hl_free(run_answer_);                                                     \
  } while (0)

#endif
