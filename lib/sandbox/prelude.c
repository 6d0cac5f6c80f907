/*
 * lib/sandbox/prelude.c - the JavaScript that runs once in the template
 * instance, before any user code, and gives the sandbox its shape.
 *
 * It receives the only two host functions there are (write, call), keeps
 * them in a closure (user code never sees them), installs console and
 * listCallbacks(), and returns four functions that the C side calls:
 *
 *   define(json)   make one async global function per host callback
 *   settle(json)   resolve or reject the promises of finished callbacks
 *   finish(value)  the completion value as JSON text ("" for none)
 *   describe(err)  an exception as JSON {name, message, stack, kind}
 *
 * Why promises are settled from the host: the module is the synchronous
 * (non-asyncify) build, so JavaScript cannot block on the host. A callback
 * call records a request and returns a pending promise; once the
 * evaluation has nothing left to run, the host executes every pending
 * request (in parallel) and settles their promises in one batch. That is
 * what makes `await Promise.all([...])` run callbacks concurrently.
 */
#include "qjs_vm_internal.h"

const char hl__prelude_js[] =
  "(function (hostWrite, hostCall) {\n"
  "  'use strict';\n"
  "  const g = globalThis;\n"
  "  const stringify = JSON.stringify, parse = JSON.parse;\n"
  "  const pending = new Map();\n"
  "  let nextId = 1, registryText = '[]', definedNames = [];\n"
  "\n"
  "  class CallbackError extends Error {\n"
  "    constructor(kind, message) {\n"
  "      super(message);\n"
  "      this.name = 'CallbackError';\n"
  "      this.kind = kind;\n"
  "    }\n"
  "  }\n"
  "  Object.defineProperty(g, 'CallbackError', {value: CallbackError, writable: true, configurable: true});\n"
  "\n"
  "  function show(v) {\n"
  "    if (typeof v === 'string') return v;\n"
  "    if (v instanceof Error) return String(v);\n"
  "    if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint' || v === undefined) return String(v);\n"
  "    try { const s = stringify(v); if (s !== undefined) return s; } catch (e) {}\n"
  "    return String(v);\n"
  "  }\n"
  "  function writer(stream) {\n"
  "    return function (...args) {\n"
  "      let line = '';\n"
  "      for (let i = 0; i < args.length; i++) line += (i ? ' ' : '') + show(args[i]);\n"
  "      hostWrite(stream, line + '\\n');\n"
  "    };\n"
  "  }\n"
  "  const console = {log: writer(1), info: writer(1), debug: writer(1),\n"
  "                   error: writer(2), warn: writer(2), trace: writer(2)};\n"
  "  Object.defineProperty(g, 'console', {value: console, writable: true, configurable: true});\n"
  "\n"
  "  function call(name, args) {\n"
  "    if (args === undefined) args = {};\n"
  "    let text;\n"
  "    try { text = stringify(args); } catch (e) { text = undefined; }\n"
  "    if (text === undefined)\n"
  "      return Promise.reject(new CallbackError('InvalidArguments',\n"
  "        name + ': arguments must be a JSON-serialisable object'));\n"
  "    return new Promise(function (resolve, reject) {\n"
  "      const id = nextId++;\n"
  "      pending.set(id, [resolve, reject]);\n"
  "      hostCall(id, name, text);\n"
  "    });\n"
  "  }\n"
  "  function makeCallback(name) {\n"
  "    return {[name]: async function (args) { return call(name, args); }}[name];\n"
  "  }\n"
  "  function define(json) {\n"
  "    const list = parse(json);\n"
  "    for (const n of definedNames) delete g[n];\n"
  "    definedNames = [];\n"
  "    for (const cb of list) {\n"
  "      Object.defineProperty(g, cb.name, {value: makeCallback(cb.name), writable: true, configurable: true});\n"
  "      definedNames.push(cb.name);\n"
  "    }\n"
  "    registryText = json;\n"
  "  }\n"
  "  Object.defineProperty(g, 'listCallbacks', {value: function listCallbacks() {\n"
  "    return parse(registryText);\n"
  "  }, writable: true, configurable: true});\n"
  "\n"
  "  function settle(json) {\n"
  "    const batch = parse(json);\n"
  "    for (const r of batch) {\n"
  "      const p = pending.get(r[0]);\n"
  "      if (!p) continue;\n"
  "      pending.delete(r[0]);\n"
  "      if (r[1]) p[0](r[2]); else p[1](new CallbackError(r[2], r[3]));\n"
  "    }\n"
  "  }\n"
  "  function finish(v) {\n"
  "    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return '';\n"
  "    try { const s = stringify(v); return s === undefined ? '' : s; }\n"
  "    catch (e) { return stringify(String(v)); }\n"
  "  }\n"
  "  function describe(e) {\n"
  "    const d = {name: '', message: '', stack: ''};\n"
  "    try {\n"
  "      if (e instanceof Error || (e !== null && typeof e === 'object')) {\n"
  "        d.name = String(e.name === undefined ? '' : e.name);\n"
  "        d.message = String(e.message === undefined ? '' : e.message);\n"
  "        d.stack = String(e.stack === undefined ? '' : e.stack).slice(0, 4000);\n"
  "        if (typeof e.kind === 'string') d.kind = e.kind;\n"
  "      } else {\n"
  "        d.message = String(e);\n"
  "      }\n"
  "    } catch (x) { d.message = 'exception that cannot be described'; }\n"
  "    return stringify(d);\n"
  "  }\n"
  "  return [define, settle, finish, describe];\n"
  "})";
