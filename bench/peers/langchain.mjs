// bench/peers/langchain.mjs - langchain createAgent with @langchain/openai on the mock server.
import { createAgent, tool } from 'langchain';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';
import { parseArgs, measure, INSTRUCTION, TOOL_DESCRIPTION, CHAT_INPUT, TOOLS_INPUT, lookupValue } from './harness.mjs';

const opts = parseArgs();
const model = new ChatOpenAI({
  model: 'mock-model', apiKey: 'sk-bench-dummy', streaming: opts.stream,
  configuration: { baseURL: `${opts.url}/v1` },
});
const lookup = tool(async ({ key }) => lookupValue(key), {
  name: 'lookup', description: TOOL_DESCRIPTION, schema: z.object({ key: z.string() }),
});
const agent = createAgent({ model, tools: opts.tools ? [lookup] : [], systemPrompt: INSTRUCTION });
const input = opts.tools ? TOOLS_INPUT : CHAT_INPUT;
const lastText = (messages) => {
  const c = messages[messages.length - 1].content;
  return typeof c === 'string' ? c : c.map((p) => p.text ?? '').join('');
};

await measure('langchain', opts, async () => {
  const request = { messages: [{ role: 'user', content: input }] };
  if (!opts.stream) return lastText((await agent.invoke(request)).messages);
  let last = null;
  for await (const [mode, chunk] of await agent.stream(request, { streamMode: ['messages', 'values'] }))
    if (mode === 'values') last = chunk;
  return lastText(last.messages);
});
