import { describe, expect, it } from 'vitest';
import { addUsage, AgentLoop, mapBounded } from '../../../src/mcp/agent.js';
import type { McpCatalog, McpTool } from '../../../src/mcp/catalog.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { McpTools } from '../../../src/mcp/tools.js';

const tool = (name: string, autoExecute: boolean): McpTool => ({
  name, client: name.split('_')[0], tool: name.split('_')[1], description: '', inputSchema: { type: 'object' }, autoExecute,
});

const TOOLS = [tool('w_auto', true), tool('f_manual', false)];
const catalog: McpCatalog = {
  version: 1,
  tools: () => TOOLS,
  get: (name) => TOOLS.find((t) => t.name === name),
  execute: (name, args) => (name === 'w_auto' && args.fail
    ? Promise.reject(new GatewayError('INVALID_REQUEST', 'the arguments do not match the schema'))
    : Promise.resolve({ content: `ran ${name}`, isError: false })),
};
const set = new McpTools(catalog).forRequest({})!;
const loop = (depth = 10, theirs: ReadonlySet<string> = new Set()) => new AgentLoop(catalog, set, theirs, depth, 'req-1');

const chunk = (delta: object, finish: string | null = null) =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
const role = chunk({ role: 'assistant', content: '' });
const text = (content: string) => chunk({ content });
const call = (index: number, name: string | null, args: string, id?: string) =>
  chunk({ tool_calls: [{ index, ...(id ? { id, type: 'function' } : {}), function: { ...(name ? { name } : {}), arguments: args } }] });
const usage = (prompt: number, completion: number) => JSON.stringify({ id: 'c', choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });
const u = (prompt: number, completion: number) => ({ promptTokens: prompt, completionTokens: completion, totalTokens: prompt + completion });

describe('AgentLoop on streams', () => {
  it('holds a turn until text comes, then lets it through as it comes', () => {
    const agent = loop();
    expect(agent.streamChunks([role])).toEqual([]);
    expect(agent.streamChunks([text('Hel')])).toEqual([role, text('Hel')]);
    expect(agent.streamChunks([text('lo'), chunk({}, 'stop')])).toEqual([text('lo'), chunk({}, 'stop')]);
    expect(agent.streamChunks([usage(3, 2)])).toEqual([]);
    expect(agent.streamEnded(u(3, 2))).toBeNull();
    expect(agent.finalChunks()).toEqual([usage(3, 2)]);
  });

  it('sends nothing of a turn of auto-executed calls, and the next turn without a second role chunk', async () => {
    const agent = loop();
    expect(agent.streamChunks([role, call(0, 'w_auto', '{"ci', 'id1'), call(0, null, 'ty":"x"}'), chunk({}, 'tool_calls'), usage(1, 1)]))
      .toEqual([]);
    const calls = agent.streamEnded(u(1, 1));
    expect(calls).toEqual([{ id: 'id1', type: 'function', function: { name: 'w_auto', arguments: '{"city":"x"}' } }]);
    const body = { messages: [{ role: 'user', content: 'q' }] };
    expect(await agent.runTools(calls!, body)).toBe(true);
    expect(body.messages.slice(1)).toEqual([{ role: 'assistant', content: null, tool_calls: calls },
      { role: 'tool', tool_call_id: 'id1', content: 'ran w_auto' }]);
    expect(agent.streamChunks([role, text('done')])).toEqual([role, text('done')]);
    const out = agent.streamChunks([chunk({}, 'stop'), usage(5, 1)]);
    expect(JSON.parse(out[0]).heimdall_mcp).toEqual({ tools_run: ['w_auto'], turns: 2, messages: body.messages.slice(1) });
    expect(agent.streamEnded(u(5, 1))).toBeNull();
    expect(JSON.parse(agent.finalChunks()[0]).usage).toEqual({ prompt_tokens: 6, completion_tokens: 2, total_tokens: 8 });
  });

  it('streams the text of a turn that then calls auto tools, and keeps the text in the conversation', async () => {
    const agent = loop();
    expect(agent.streamChunks([role, text('Let me look.')])).toEqual([role, text('Let me look.')]);
    expect(agent.streamChunks([call(0, 'w_auto', '{}', 'a'), chunk({}, 'tool_calls')])).toEqual([]);
    const calls = agent.streamEnded(null)!;
    const body: Record<string, unknown> = { messages: [] };
    await agent.runTools(calls, body);
    expect((body.messages as object[])[0]).toEqual({ role: 'assistant', content: 'Let me look.', tool_calls: calls });
    // The next turn's bare role chunk is not sent again.
    expect(agent.streamChunks([role, text(' Sunny.')])).toEqual([text(' Sunny.')]);
  });

  it('lets out a turn whole, in order, once it calls a tool that may not run alone', () => {
    const agent = loop();
    expect(agent.streamChunks([role, call(0, 'w_auto', '{}', 'a')])).toEqual([]);
    expect(agent.streamChunks([call(1, 'f_manual', '{}', 'b')])).toEqual([role, call(0, 'w_auto', '{}', 'a'), call(1, 'f_manual', '{}', 'b')]);
    expect(agent.streamChunks([chunk({}, 'tool_calls')])).toEqual([chunk({}, 'tool_calls')]);
    expect(agent.streamEnded(null)).toBeNull();
    expect(agent.finalChunks()).toEqual([]);
  });

  it('past the depth, lets the held calls out instead of running them', () => {
    const agent = loop(0);
    agent.streamChunks([role, call(0, 'w_auto', '{}', 'a'), chunk({}, 'tool_calls')]);
    expect(agent.streamEnded(null)).toBeNull();
    expect(agent.finalChunks()).toEqual([role, call(0, 'w_auto', '{}', 'a'), chunk({}, 'tool_calls')]);
  });
});

describe('AgentLoop on answers', () => {
  const answer = (message: object) => JSON.stringify({ id: 'x', choices: [{ index: 0, message, finish_reason: 'tool_calls' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  const toolCall = (id: string, name: string, args = '{}') => ({ id, type: 'function', function: { name, arguments: args } });

  it('runs only a turn whose every call may run alone', () => {
    expect(loop().answered(answer({ role: 'assistant', tool_calls: [toolCall('1', 'w_auto'), toolCall('2', 'f_manual')] }), null)).toBeNull();
    expect(loop().answered(answer({ role: 'assistant', tool_calls: [toolCall('1', 'w_auto'), toolCall('2', 'other')] }), null)).toBeNull();
    expect(loop().answered(answer({ role: 'assistant', content: 'hi' }), null)).toBeNull();
    expect(loop().answered('not json', null)).toBeNull();
    expect(loop().answered(answer({ role: 'assistant', tool_calls: [toolCall('1', 'w_auto')] }), null)).toHaveLength(1);
    // A tool of that name the client sent itself is the client's to run.
    expect(loop(10, new Set(['w_auto'])).answered(answer({ role: 'assistant', tool_calls: [toolCall('1', 'w_auto')] }), null)).toBeNull();
  });

  it('turns a failed or malformed call into a tool message the model reads', async () => {
    const agent = loop();
    const calls = agent.answered(answer({ role: 'assistant', tool_calls: [toolCall('1', 'w_auto', '{"fail":true}'),
      toolCall('2', 'w_auto', '[1]'), toolCall('3', 'w_auto', '')] }), null)!;
    const body: Record<string, unknown> = { messages: [] };
    await agent.runTools(calls, body);
    expect((body.messages as { content?: string }[]).slice(1).map((m) => m.content)).toEqual([
      'Error: the arguments do not match the schema', 'Error: the arguments must be a JSON object', 'ran w_auto']);
  });

  it('sums usage into the final answer and leaves a one-turn answer byte for byte', () => {
    const plain = answer({ role: 'assistant', content: 'hi' });
    const single = loop();
    single.answered(plain, u(1, 1));
    expect(single.finalAnswer(plain)).toBe(plain);
  });
});

describe('mapBounded', () => {
  it('runs at most `bound` at once and keeps the order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapBounded([5, 1, 4, 2, 3, 0], 2, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });
});

describe('addUsage', () => {
  it('sums every turn, the cache and reasoning counts too, so the request is priced for all of them', () => {
    const first = { promptTokens: 100, completionTokens: 10, totalTokens: 110, cachedTokens: 80 };
    const second = { promptTokens: 150, completionTokens: 20, totalTokens: 170, reasoningTokens: 5 };
    expect(addUsage(addUsage(null, first), second)).toEqual({ promptTokens: 250, completionTokens: 30, totalTokens: 280,
      cachedTokens: 80, reasoningTokens: 5 });
    expect(addUsage(first, null)).toBe(first);
  });
});
