// bench/peers/pyodide.mjs - Pyodide (CPython in Wasm) running under Node.
import { loadPyodide } from 'pyodide';
import { parseArgs, perCallUs, timeMs, expect, report, EVAL_SNIPPET, CALLBACK_SNIPPET } from './sandbox_harness.mjs';

const opts = parseArgs();
// Cold: the first interpreter in the process (loads the Wasm module and stdlib).
const [coldMs, py] = await timeMs(() => loadPyodide());
// A second interpreter once the module files are cached by the OS.
const [createMs] = await timeMs(() => loadPyodide());

py.globals.set('host', (x) => x + 1);
expect(py.runPython(EVAL_SNIPPET), 3, 'eval');
expect(py.runPython(CALLBACK_SNIPPET), 42, 'callback');
const evalUs = await perCallUs(opts.iterations, () => py.runPython(EVAL_SNIPPET));
const callbackUs = await perCallUs(opts.iterations, () => py.runPython(CALLBACK_SNIPPET));

report('pyodide', {
  cold_create_us: coldMs * 1000, module_load_us: coldMs * 1000,
  create_us: createMs * 1000, eval_us: evalUs, eval_callback_us: callbackUs,
});
