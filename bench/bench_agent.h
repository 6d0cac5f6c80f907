/*
 * bench/bench_agent.h - the agent of the peer scenarios (bench/peers/
 * harness.mjs): one instruction, the "lookup" tool, the same inputs, so
 * that every C benchmark that runs scenario (a) or (b) runs the very
 * agent hl-bench-agent compares with the JS SDKs.
 */
#ifndef HL_BENCH_AGENT_H
#define HL_BENCH_AGENT_H

#include <stdbool.h>

#include <hookline.h>

/** What the agent is made for. */
typedef struct bench_agent_opts {
  bool tools;        /* declare "lookup" and ask for 3 calls of it: (b); else (a) */
  bool stream;       /* stream the answer (SSE) */
  int extra_tools;   /* tools declared besides "lookup", never called */
  bool scripted;     /* the scripted provider (same answers, no network) instead of OpenAI over HTTP */
  int parallel;      /* hl_agent_set_parallel_tools(); 0: the library's default */
} bench_agent_opts;

/** An agent for `o` whose OpenAI provider talks to `url` (the mock server,
 *  "http://127.0.0.1:PORT": requests go to URL/v1/...). NULL with a
 *  message on stderr on failure. The caller owns it (hl_agent_unref). */
hl_agent *bench_agent_new(const bench_agent_opts *o, const char *url);

/** One run from a fresh session, as the peers start from a fresh
 *  conversation: (b)'s input when `tools`, else (a)'s. Returns its wall
 *  time in microseconds, or < 0 (with a message on stderr naming `what`)
 *  when the run failed or answered something else than the mock server's
 *  answer. */
double bench_agent_run(hl_agent *agent, bool tools, const char *what);

/** Tool executions so far, all agents and threads together (each run of
 *  (b) makes 3). */
long bench_agent_tool_calls(void);

#endif
