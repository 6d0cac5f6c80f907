// bench/peers/openai_agents.mjs - @openai/agents (Chat Completions model) on the mock server.
import { Agent, run, tool, setTracingDisabled, OpenAIChatCompletionsModel } from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';
import { parseArgs, measure, INSTRUCTION, TOOL_DESCRIPTION, CHAT_INPUT, TOOLS_INPUT, lookupValue } from './harness.mjs';

const opts = parseArgs();
setTracingDisabled(true);   // no trace export: hookline exports nothing either
const client = new OpenAI({ baseURL: `${opts.url}/v1`, apiKey: 'sk-bench-dummy' });
const lookup = tool({
  name: 'lookup', description: TOOL_DESCRIPTION,
  parameters: z.object({ key: z.string() }),
  execute: async ({ key }) => lookupValue(key),
});
const agent = new Agent({
  name: 'bench', instructions: INSTRUCTION,
  model: new OpenAIChatCompletionsModel(client, 'mock-model'),
  tools: opts.tools ? [lookup] : [],
});
const input = opts.tools ? TOOLS_INPUT : CHAT_INPUT;

await measure('openai-agents', opts, async () => {
  if (!opts.stream) return (await run(agent, input)).finalOutput;
  const result = await run(agent, input, { stream: true });
  for await (const _ of result) { /* consume every stream event */ }
  await result.completed;
  return result.finalOutput;
});
