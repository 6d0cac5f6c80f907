// bench/peers/harness.mjs - the measuring loop shared by every JS peer.
//
// A peer module calls measure() with a function that performs one run of the
// scenario (one agent invocation from a fresh conversation). The harness
// warms up, runs for a time budget, asks the mock server how long it spent
// serving, and prints one JSON line with the same fields the C side prints.
//
// Options (argv): --url BASE --scenario NAME [--budget-s S] [--max-runs N]
//                 [--warmup N] [--sessions N]
//
// Scenario concurrent_slow (the mock server answering after 1 s): one batch
// of --sessions runs started at once as concurrent promises, measured once
// (wall, CPU, peak RSS, p50/p99 latency, failures), as bench/slow_bench.c
// does for hookline.
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';

// Peak resident set of this process image in MiB: VmHWM, not
// resourceUsage().maxRSS, which Linux carries over exec() from the parent.
export function peakRssMb() {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

export const SCENARIOS = {
  chat: { tools: false, stream: false, sessions: 1 },
  chat_stream: { tools: false, stream: true, sessions: 1 },
  tools: { tools: true, stream: false, sessions: 1 },
  tools_stream: { tools: true, stream: true, sessions: 1 },
  tools_concurrent50: { tools: true, stream: false, sessions: 50 },
  concurrent_slow: { tools: true, stream: false, sessions: 1000, slow: true },
};

export const INSTRUCTION = 'You are a benchmark agent. Use the lookup tool when asked.';
export const TOOL_DESCRIPTION = 'Look up the value stored under a key.';
export const CHAT_INPUT = 'Say hello.';
export const TOOLS_INPUT = 'Look up the keys a, b and c.';
// Every peer's tool calls this, so the harness can check that each run really
// executed the 3 tool calls of the tools scenarios.
let toolCalls = 0;
export const lookupValue = (key) => { toolCalls++; return `value-${key}`; };

export function parseArgs(argv = process.argv.slice(2)) {
  const o = { url: 'http://127.0.0.1:8089', scenario: 'tools', budgetS: 3, maxRuns: 20000,
              warmup: 20 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    if (a === '--url') { o.url = v; i++; }
    else if (a === '--scenario') { o.scenario = v; i++; }
    else if (a === '--budget-s') { o.budgetS = Number(v); i++; }
    else if (a === '--max-runs') { o.maxRuns = Number(v); i++; }
    else if (a === '--warmup') { o.warmup = Number(v); i++; }
    else if (a === '--sessions') { o.sessionsArg = Number(v); i++; }
  }
  if (!SCENARIOS[o.scenario]) throw new Error(`unknown scenario ${o.scenario}`);
  o.url = o.url.replace(/\/+$/, '');
  const out = { ...o, ...SCENARIOS[o.scenario] };
  if (o.sessionsArg > 0) out.sessions = o.sessionsArg;
  return out;
}

async function serverStats(url) {
  const r = await fetch(`${url}/stats`);
  return r.json();
}

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// runOnce(i) must perform one complete run and throw on failure; it may
// return the final answer, which is checked so that a broken peer cannot
// report fast figures for work it did not do.
export async function measure(system, opts, runOnce) {
  if (opts.slow) return measureSlow(system, opts, runOnce);
  const check = (answer) => {
    const want = opts.tools ? 'gamma' : 'mock model';
    if (typeof answer !== 'string' || !answer.includes(want))
      throw new Error(`${system}/${opts.scenario}: unexpected answer ${JSON.stringify(answer)}`);
  };
  const one = async (i) => { const t0 = performance.now(); check(await runOnce(i)); return performance.now() - t0; };
  const batch = async (i) => opts.sessions > 1
    ? Promise.all(Array.from({ length: opts.sessions }, (_, k) => one(i * opts.sessions + k)))
    : [await one(i)];

  for (let i = 0; i < Math.max(1, Math.ceil(opts.warmup / opts.sessions)); i++) await batch(i);

  const s0 = await serverStats(opts.url);
  const calls0 = toolCalls;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const lat = [];
  const deadline = t0 + opts.budgetS * 1000;
  for (let i = 0; lat.length < opts.maxRuns && (performance.now() < deadline || lat.length < 10); i++)
    lat.push(...(await batch(i)));
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const s1 = await serverStats(opts.url);
  const toolCallsPerRun = (toolCalls - calls0) / lat.length;
  if (toolCallsPerRun !== (opts.tools ? 3 : 0))
    throw new Error(`${system}/${opts.scenario}: ${toolCallsPerRun} tool calls per run`);

  const runs = lat.length;
  const serverUs = s1.service_us - s0.service_us;
  const requests = s1.requests - s0.requests;
  lat.sort((a, b) => a - b);
  const wallUs = wallMs * 1000;
  const result = {
    system, scenario: opts.scenario, runtime: `node ${process.version}`,
    runs, sessions: opts.sessions,
    wall_s: +(wallMs / 1000).toFixed(3),
    runs_per_s: +(runs / (wallMs / 1000)).toFixed(1),
    model_calls_per_run: +(requests / runs).toFixed(2),
    tool_calls_per_run: toolCallsPerRun,
    server_us_per_run: +(serverUs / runs).toFixed(2),
    // Sequential scenarios: the time a run takes beyond what the server spent,
    // for the median run (robust to other work on the machine) and on average.
    // Concurrent runs overlap, so wall minus server time means nothing there:
    // compare runs_per_s and cpu_us_per_run instead.
    overhead_us: opts.sessions > 1 ? null : +(percentile(lat, 50) * 1000 - serverUs / runs).toFixed(1),
    overhead_mean_us: opts.sessions > 1 ? null : +((wallUs - serverUs) / runs).toFixed(1),
    latency_p50_us: +(percentile(lat, 50) * 1000).toFixed(1),
    latency_p99_us: +(percentile(lat, 99) * 1000).toFixed(1),
    cpu_us_per_run: +((cpu.user + cpu.system) / runs).toFixed(1),
    peak_rss_mb: +peakRssMb().toFixed(1),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  return result;
}

// concurrent_slow: every session at once, one measurement, failures counted
// (a failed run is reported, not fatal: the figure is how many fail).
async function measureSlow(system, opts, runOnce) {
  const s0 = await serverStats(opts.url);
  const calls0 = toolCalls;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let failures = 0;
  let firstError = null;
  const one = async (i) => {
    const start = performance.now();
    try {
      const answer = await runOnce(i);
      if (typeof answer !== 'string' || !answer.includes('gamma')) throw new Error(`unexpected answer ${JSON.stringify(answer)}`);
      return performance.now() - start;
    } catch (e) {
      failures++;
      if (!firstError) firstError = String(e && e.message || e);
      return null;
    }
  };
  const lat = (await Promise.all(Array.from({ length: opts.sessions }, (_, i) => one(i)))).filter((x) => x !== null);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const s1 = await serverStats(opts.url);
  lat.sort((a, b) => a - b);
  const requests = s1.requests - s0.requests;
  const result = {
    system, scenario: opts.scenario, api: 'concurrent promises', runtime: `node ${process.version}`,
    sessions: opts.sessions, failures,
    wall_s: +(wallMs / 1000).toFixed(3),
    cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(3),
    cpu_us_per_session: +((cpu.user + cpu.system) / opts.sessions).toFixed(1),
    peak_rss_mb: +peakRssMb().toFixed(1),
    latency_p50_ms: +percentile(lat, 50).toFixed(1),
    latency_p99_ms: +percentile(lat, 99).toFixed(1),
    model_calls: requests,
    tool_calls: toolCalls - calls0,
    server_service_us_per_request: requests > 0 ? +((s1.service_us - s0.service_us) / requests).toFixed(2) : 0,
    server_late_ms_max: +((s1.late_us_max ?? 0) / 1000).toFixed(1),
    connections_opened: (s1.connections ?? 0) - (s0.connections ?? 0),
    server_cpu_s: +(((s1.cpu_us ?? 0) - (s0.cpu_us ?? 0)) / 1e6).toFixed(3),
  };
  if (firstError) result.first_error = firstError.slice(0, 200);
  process.stdout.write(JSON.stringify(result) + '\n');
  return result;
}
