// bench/peers/pyodide.mjs - Pyodide (CPython in Wasm) running under Node.
//
// Everything loads offline from the pinned npm package (bench/peers/
// package-lock.json, integrity-checked by npm ci): pyodide.asm.wasm,
// pyodide.asm.mjs, python_stdlib.zip and pyodide-lock.json sit next to
// pyodide.mjs in node_modules/pyodide, and these snippets import no
// package, so nothing is fetched (checked with strace: no connect()).
// It is slow, not stuck: each interpreter takes ~10 s of CPU to load and
// each runPython ~0.5-3 ms, so the per-call loops stop at a time budget
// (--budget-ms, default 5000 per loop) as well as at --iterations;
// otherwise 2 x 2000 calls on a loaded machine outlast bench/run.py's
// time limit. The number of calls made is reported with each figure.
import { loadPyodide } from 'pyodide';
import { performance } from 'node:perf_hooks';
import { parseArgs, timeMs, expect, report, EVAL_SNIPPET, CALLBACK_SNIPPET } from './sandbox_harness.mjs';

const opts = parseArgs();
const budgetArg = process.argv.indexOf('--budget-ms');
const budgetMs = budgetArg > 0 ? Number(process.argv[budgetArg + 1]) : 5000;

function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

// Wall and CPU microseconds per call of fn, over at most n calls or
// budgetMs of wall time (after a short warm-up).
async function perCall(n, fn) {
  for (let i = 0; i < Math.min(5, n); i++) await fn();
  const t0 = performance.now(), c0 = cpuUs();
  let done = 0;
  while (done < n && (done < 10 || performance.now() - t0 < budgetMs)) {
    await fn();
    done++;
  }
  return { us: ((performance.now() - t0) * 1000) / done, cpuUs: (cpuUs() - c0) / done, calls: done };
}

// Cold: the first interpreter in the process (loads the Wasm module and stdlib).
const c0 = cpuUs();
const [coldMs, py] = await timeMs(() => loadPyodide());
const coldCpuUs = cpuUs() - c0;
// A second interpreter once the module files are cached by the OS.
const [createMs] = await timeMs(() => loadPyodide());

py.globals.set('host', (x) => x + 1);
expect(py.runPython(EVAL_SNIPPET), 3, 'eval');
expect(py.runPython(CALLBACK_SNIPPET), 42, 'callback');
const ev = await perCall(opts.iterations, () => py.runPython(EVAL_SNIPPET));
const cb = await perCall(opts.iterations, () => py.runPython(CALLBACK_SNIPPET));

report('pyodide', {
  cold_create_us: coldMs * 1000, cold_create_cpu_us: coldCpuUs, module_load_us: coldMs * 1000,
  create_us: createMs * 1000, eval_us: ev.us, eval_cpu_us: ev.cpuUs, eval_calls: ev.calls,
  eval_callback_us: cb.us, eval_callback_cpu_us: cb.cpuUs, eval_callback_calls: cb.calls,
});
