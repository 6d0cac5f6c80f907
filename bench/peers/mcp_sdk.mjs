// bench/peers/mcp_sdk.mjs - the `mcp` benchmark, the official TypeScript
// SDK's side: @modelcontextprotocol/sdk's Client calling server-everything's
// `echo` over stdio or Streamable HTTP, one call at a time as hl-bench-mcp
// does. The SDK is the one pinned (with its integrity) in
// scripts/setup.d/mcp-everything/package-lock.json, found through
// MCP_SDK_DIR (its node_modules directory). Prints one JSON object.
//   node mcp_sdk.mjs stdio "node .../index.js stdio" CALLS
//   node mcp_sdk.mjs http http://127.0.0.1:PORT/mcp CALLS
import path from "node:path";
import { pathToFileURL } from "node:url";

const [transport, target, callsArg] = process.argv.slice(2);
const calls = Math.max(1, parseInt(callsArg || "1000", 10));
const sdk = (p) => import(pathToFileURL(path.join(process.env.MCP_SDK_DIR, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
let t;
if (transport === "http") {
  const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
  t = new StreamableHTTPClientTransport(new URL(target));
} else {
  const { StdioClientTransport } = await sdk("client/stdio.js");
  const words = target.split(/\s+/).filter(Boolean);
  t = new StdioClientTransport({ command: words[0], args: words.slice(1), stderr: "ignore" });
}
const client = new Client({ name: "bench", version: "1" });
await client.connect(t);
const args = { name: "echo", arguments: { message: "hello" } };
for (let i = 0; i < Math.floor(calls / 10) + 5; i++) await client.callTool(args);
const wall = [];
let failed = 0;
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < calls; i++) {
  const s = performance.now();
  const r = await client.callTool(args);
  if (r.isError) failed++;
  wall.push((performance.now() - s) * 1000);
}
const t1 = performance.now();
const c1 = process.cpuUsage(c0);
wall.sort((a, b) => a - b);
console.log(JSON.stringify({
  system: "@modelcontextprotocol/sdk", transport, calls, failed,
  wall_us_median: +wall[Math.floor(calls / 2)].toFixed(1),
  wall_us_mean: +(((t1 - t0) * 1000) / calls).toFixed(1),
  cpu_us_per_call: +((c1.user + c1.system) / calls).toFixed(1),
}));
await client.close();
process.exit(0);
