// bench/peers/adk.mjs - @google/adk (LlmAgent + InMemoryRunner) on the mock server.
//
// ADK for JS ships Gemini models only, so it talks to the same mock server in
// Gemini's generateContent wire format (the server answers both), through
// ADK's own ApigeeLlm, the model class meant for a proxy base URL.
import { LlmAgent, FunctionTool, InMemoryRunner, ApigeeLlm, StreamingMode, setLogLevel, LogLevel } from '@google/adk';
import { z } from 'zod';
import { parseArgs, measure, INSTRUCTION, TOOL_DESCRIPTION, CHAT_INPUT, TOOLS_INPUT, lookupValue } from './harness.mjs';

const opts = parseArgs();
// ADK logs one INFO line per model request by default; the other systems log
// nothing, so keep warnings only.
setLogLevel(LogLevel.WARN);
const model = new ApigeeLlm({ model: 'apigee/gemini/v1beta/mock-model', proxyUrl: opts.url,
                              apiKey: 'bench-dummy' });
const lookup = new FunctionTool({
  name: 'lookup', description: TOOL_DESCRIPTION,
  parameters: z.object({ key: z.string() }),
  execute: async ({ key }) => ({ value: lookupValue(key) }),
});
const agent = new LlmAgent({ name: 'bench', model, instruction: INSTRUCTION,
                             tools: opts.tools ? [lookup] : [] });
const runner = new InMemoryRunner({ agent, appName: 'bench' });
const input = opts.tools ? TOOLS_INPUT : CHAT_INPUT;
const runConfig = { streamingMode: opts.stream ? StreamingMode.SSE : StreamingMode.NONE };

await measure('adk', opts, async () => {
  let answer = '';
  for await (const ev of runner.runEphemeral({ userId: 'u', runConfig,
                                               newMessage: { role: 'user', parts: [{ text: input }] } })) {
    // with SSE the partial events carry deltas; the final event has the whole text
    if (!ev.partial && ev.content?.parts) {
      const t = ev.content.parts.map((p) => p.text ?? '').join('');
      if (t) answer = t;
    }
  }
  return answer;
});
