// bench/peers/quickjs.mjs - quickjs-emscripten (the same QuickJS that hookline's
// sandbox compiles from Wasm to C) running under Node.
import { getQuickJS } from 'quickjs-emscripten';
import { parseArgs, perCallUs, timeMs, expect, report, EVAL_SNIPPET, CALLBACK_SNIPPET } from './sandbox_harness.mjs';

const opts = parseArgs();
// Cold: load and instantiate the Wasm module, then the first runtime + context.
const [loadMs, QuickJS] = await timeMs(() => getQuickJS());
const [firstCtxMs, first] = await timeMs(() => QuickJS.newContext());
first.dispose();

// New sandbox (runtime + context) once the module is loaded.
const createUs = await perCallUs(opts.creates, () => QuickJS.newContext().dispose());

const vm = QuickJS.newContext();
const evalNumber = (code) => {
  const r = vm.unwrapResult(vm.evalCode(code));
  const v = vm.getNumber(r);
  r.dispose();
  return v;
};
const host = vm.newFunction('host', (x) => vm.newNumber(vm.getNumber(x) + 1));
vm.setProp(vm.global, 'host', host);
host.dispose();
expect(evalNumber(EVAL_SNIPPET), 3, 'eval');
expect(evalNumber(CALLBACK_SNIPPET), 42, 'callback');

const evalUs = await perCallUs(opts.iterations, () => evalNumber(EVAL_SNIPPET));
const callbackUs = await perCallUs(opts.iterations, () => evalNumber(CALLBACK_SNIPPET));
vm.dispose();

report('quickjs-emscripten', {
  cold_create_us: (loadMs + firstCtxMs) * 1000, module_load_us: loadMs * 1000,
  create_us: createUs, eval_us: evalUs, eval_callback_us: callbackUs,
});
