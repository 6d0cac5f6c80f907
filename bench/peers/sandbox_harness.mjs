// bench/peers/sandbox_harness.mjs - timing helpers shared by the sandbox peers.
//
// Every sandbox runs the same snippets: "1+2" (eval) and "host(41)" where
// host is a host function returning its argument + 1 (eval with one
// callback). Results are checked so that a broken sandbox reports nothing.
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

export const EVAL_SNIPPET = '1+2';
export const CALLBACK_SNIPPET = 'host(41)';

export function parseArgs(argv = process.argv.slice(2)) {
  const o = { iterations: 2000, creates: 200 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--iterations') o.iterations = Number(argv[++i]);
    else if (argv[i] === '--creates') o.creates = Number(argv[++i]);
  }
  return o;
}

// Average microseconds per call of fn over n calls (after a short warm-up).
export async function perCallUs(n, fn) {
  for (let i = 0; i < Math.min(50, n); i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - t0) * 1000) / n;
}

export async function timeMs(fn) {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

export function expect(got, want, what) {
  if (got !== want) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

export function report(system, fields) {
  const out = { system, runtime: `node ${process.version}`, ...fields,
                peak_rss_mb: +peakRssMb().toFixed(1) };
  for (const k of Object.keys(out)) if (typeof out[k] === 'number') out[k] = +out[k].toFixed(2);
  process.stdout.write(JSON.stringify(out) + '\n');
}
