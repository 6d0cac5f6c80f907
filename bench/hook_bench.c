/*
 * bench/hook_bench.c - nanoseconds per hook call, measured through real runs.
 *
 * The only public way to dispatch hooks is to run an agent, so this runs the
 * same agent (scripted provider, one model call, no tools) with K
 * continuing hooks on each of before_agent, after_agent, before_model and
 * after_model. The figure is measured on the chain itself: the first
 * before_model hook reads the clock, the last one reads it again, and
 * (t1 - t0) / (K - 1) is the time from one hook to the next (dispatch plus
 * a counter bump), the median over all runs: it cannot come out negative,
 * as a difference of two noisy run times can. The run times with and
 * without hooks are reported next to it. Each hook bumps a counter, which
 * is checked, so the figure cannot come from hooks that did not run.
 *
 *   hl-bench-hooks [--hooks 2000] [--runs 2000] [--rounds 5]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hookline.h>

#include "bench_util.h"

static hl_hook_action before_agent(hl_context *ctx, const hl_before_agent_args *args,
                                   hl_before_agent_out *out, void *ud) {
  (void)ctx, (void)args, (void)out;
  ++*(long *)ud;
  return HL_HOOK_CONTINUE;
}
static hl_hook_action after_agent(hl_context *ctx, const hl_after_agent_args *args,
                                  hl_after_agent_out *out, void *ud) {
  (void)ctx, (void)args, (void)out;
  ++*(long *)ud;
  return HL_HOOK_CONTINUE;
}
/* The before_model chain's clock: position in the chain, first and last
 * reading, and every run's (t1 - t0) / (K - 1). */
static int chain_k, chain_pos;
static uint64_t chain_t0;
static double *chain_ns;
static size_t chain_n, chain_cap;

static hl_hook_action before_model(hl_context *ctx, const hl_before_model_args *args,
                                   hl_before_model_out *out, void *ud) {
  (void)ctx, (void)args, (void)out;
  ++*(long *)ud;
  if (chain_k < 2) return HL_HOOK_CONTINUE;
  if (chain_pos == 0) chain_t0 = bench_now_ns();
  if (++chain_pos == chain_k) {
    uint64_t t1 = bench_now_ns();
    chain_pos = 0;
    if (chain_n < chain_cap) chain_ns[chain_n++] = (double)(t1 - chain_t0) / (chain_k - 1);
  }
  return HL_HOOK_CONTINUE;
}
static hl_hook_action after_model(hl_context *ctx, const hl_after_model_args *args,
                                  hl_after_model_out *out, void *ud) {
  (void)ctx, (void)args, (void)out;
  ++*(long *)ud;
  return HL_HOOK_CONTINUE;
}

static hl_agent *make_agent(int hooks, long *counter) {
  hl_provider *p = hl_scripted_new();
  hl_agent *a = hl_agent_new("hooks");
  if (!p || !a || hl_scripted_load_json(p, "{\"fallback\":{\"text\":\"ok\"}}") != HL_OK) return NULL;
  hl_agent_set_provider(a, p);
  hl_provider_unref(p);
  hl_hooks *h = hl_agent_hooks(a);
  for (int i = 0; i < hooks; i++) {
    if (hl_hooks_add_before_agent(h, NULL, HL_HOOK_OBSERVE, before_agent, counter) ||
        hl_hooks_add_after_agent(h, NULL, HL_HOOK_OBSERVE, after_agent, counter) ||
        hl_hooks_add_before_model(h, NULL, HL_HOOK_OBSERVE, before_model, counter) ||
        hl_hooks_add_after_model(h, NULL, HL_HOOK_OBSERVE, after_model, counter))
      return NULL;
  }
  return a;
}

/* Microseconds per run over `runs` runs; < 0 on failure. */
static double per_run_us(hl_agent *a, hl_session *s, long runs) {
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < runs; i++) {
    char *answer = NULL;
    hl_session_reset(s);
    if (hl_agent_run(a, s, "hi", &answer) != HL_OK) {
      fprintf(stderr, "hook bench: %s\n", hl_last_error());
      return -1;
    }
    hl_free(answer);
  }
  return (double)(bench_now_ns() - t0) / 1e3 / (double)runs;
}

int main(int argc, char **argv) {
  int k = atoi(bench_arg(argc, argv, "--hooks", "2000"));
  long runs = atol(bench_arg(argc, argv, "--runs", "2000"));
  int rounds = atoi(bench_arg(argc, argv, "--rounds", "5"));
  if (k < 1 || runs < 1 || rounds < 1 || rounds > 64) return 2;
  long c0 = 0, ck = 0;
  chain_cap = (size_t)runs * (size_t)rounds;
  chain_ns = calloc(chain_cap, sizeof *chain_ns);
  hl_agent *bare = make_agent(0, &c0), *hooked = make_agent(k, &ck);
  if (!chain_ns) return 1;
  hl_session *s = hl_session_new("bench", "u", NULL);
  if (!bare || !hooked || !s) {
    fprintf(stderr, "hook bench: setup: %s\n", hl_last_error());
    return 1;
  }
  if (per_run_us(bare, s, 100) < 0 || per_run_us(hooked, s, 100) < 0) return 1;   /* warm up */
  chain_k = k; /* the clock runs from here on */
  double t_bare[64], t_hooked[64];
  ck = 0;
  for (int r = 0; r < rounds; r++) {
    t_bare[r] = per_run_us(bare, s, runs);
    t_hooked[r] = per_run_us(hooked, s, runs);
    if (t_bare[r] < 0 || t_hooked[r] < 0) return 1;
  }
  long expected = 4L * k * runs * rounds;
  if (ck != expected || c0 != 0) {
    fprintf(stderr, "hook bench: %ld hook calls, expected %ld\n", ck, expected);
    return 1;
  }
  double bare_us = bench_percentile(t_bare, (size_t)rounds, 50);
  double hooked_us = bench_percentile(t_hooked, (size_t)rounds, 50);
  double ns_per_hook = k >= 2 ? bench_percentile(chain_ns, chain_n, 50) : -1;
  double diff_ns = (hooked_us - bare_us) * 1e3 / (4.0 * k);
  printf("{\"system\":\"hookline\",\"benchmark\":\"hook_dispatch\",\"hooks_per_point\":%d,"
         "\"hook_calls_per_run\":%d,\"run_us_without_hooks\":%.2f,\"run_us_with_hooks\":%.2f,"
         "\"ns_per_hook_call\":%.2f,\"ns_per_hook_call_measured_on\":\"the before_model chain\","
         "\"ns_per_hook_call_from_run_difference\":%.2f}\n",
         k, 4 * k, bare_us, hooked_us, ns_per_hook, diff_ns);
  hl_session_free(s);
  hl_agent_unref(bare);
  hl_agent_unref(hooked);
  free(chain_ns);
  return 0;
}
