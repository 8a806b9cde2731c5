import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { bedrock } from '../../../../workers/providers/bedrock.js';
import type { CallTarget, StreamEvent, StreamState } from '../../../../workers/providers/types.js';

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const keyConfig = { access_key: 'AKID', secret_key: 'secret', region: 'eu-central-1' };
const target = (config: Record<string, unknown> = keyConfig, baseUrl: string | null = null, value = ''): CallTarget =>
  ({ baseUrl, key: { value, configs: { bedrock_key_config: config } } });

const job = (body: Record<string, unknown>, extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r1', model: MODEL, keyIndex: 0, stream: false, includeUsage: false,
  body: { model: `bedrock/${MODEL}`, messages: [{ role: 'user', content: 'hi' }], ...body }, ...extra,
});

const call = (body: Record<string, unknown>, extra: Partial<JobData> = {}) => {
  const built = bedrock.chatCall(job(body, extra), target());
  return { ...built, json: JSON.parse(built.body) as Record<string, unknown> };
};

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('Bedrock adapter: where calls go', () => {
  it('declares SigV4 for the bedrock service and the AWS event-stream framing', () => {
    expect(bedrock.auth).toEqual({ kind: 'aws-sigv4', service: 'bedrock' });
    expect(bedrock.streamFormat).toBe('aws-eventstream');
  });

  it('calls the regional Converse endpoint with the model id as one encoded path segment', () => {
    const plain = bedrock.chatCall(job({}), target());
    expect(plain.url).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(plain.headers).toEqual({ accept: 'application/json' });
    const streamed = bedrock.chatCall(job({ stream: true }, { stream: true }), target());
    expect(streamed.url).toMatch(/\/converse-stream$/);
    expect(streamed.headers).toEqual({ accept: 'application/vnd.amazon.eventstream' });
  });

  it('uses network_config.base_url and the key\'s deployments (an inference profile ARN stays one segment)', () => {
    const arn = 'arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0';
    const built = bedrock.chatCall(job({}, { model: 'haiku' }), target({ ...keyConfig, deployments: { haiku: arn } }, 'http://127.0.0.1:9/'));
    expect(built.url).toBe(`http://127.0.0.1:9/model/${encodeURIComponent(arn)}/converse`);
    expect(built.url).toContain('inference-profile%2Feu.anthropic');
  });

  it('refuses a key it cannot use, with a message naming what is missing', () => {
    expect(() => bedrock.chatCall(job({}), { baseUrl: null, key: { value: '', configs: {} } })).toThrow(/bedrock_key_config/);
    expect(() => bedrock.chatCall(job({}), target({ access_key: 'A', secret_key: 'S' }))).toThrow(/region is required/);
    expect(() => bedrock.chatCall(job({}), target({}, null, 'bedrock-api-key'))).toThrow(/region is required \(or network_config.base_url\)/);
    expect(bedrock.chatCall(job({}), target({}, 'http://fake', 'bedrock-api-key')).url).toBe(`http://fake/model/${encodeURIComponent(MODEL)}/converse`);
    expect(() => bedrock.chatCall(job({}), target({ ...keyConfig, deployments: { a: 1 } }))).toThrow(/deployments must map/);
  });
});

describe('Bedrock adapter: OpenAI request → Converse', () => {
  it('puts system and developer messages in `system` and content in blocks', () => {
    const { json, droppedParams } = call({ messages: [
      { role: 'system', content: 'be brief' },
      { role: 'developer', content: [{ type: 'text', text: 'and kind' }] },
      { role: 'user', content: 'hello' },
    ] });
    expect(json).toEqual({ messages: [{ role: 'user', content: [{ text: 'hello' }] }], system: [{ text: 'be brief' }, { text: 'and kind' }] });
    expect(droppedParams).toEqual([]);
  });

  it('sends data: URL images as base64 bytes with their format, s3:// URIs as locations, and files as documents', () => {
    const { json } = call({ messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } },
      { type: 'image_url', image_url: { url: 'data:image/jpg;base64,AAAA' } },
      { type: 'image_url', image_url: { url: 's3://bucket/photos/cat.WEBP' } },
      { type: 'file', file: { filename: 'Q3 report (final).pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
    ] }] });
    expect((json.messages as { content: unknown[] }[])[0].content).toEqual([
      { text: 'what is this?' },
      { image: { format: 'png', source: { bytes: PNG } } },
      { image: { format: 'jpeg', source: { bytes: 'AAAA' } } },
      { image: { format: 'webp', source: { s3Location: { uri: 's3://bucket/photos/cat.WEBP' } } } },
      { document: { format: 'pdf', name: 'Q3 report (final)', source: { bytes: 'JVBERi0=' } } },
    ]);
  });

  it('refuses image URLs Converse cannot take, with a clear message', () => {
    const image = (url: string) => job({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
    expect(() => bedrock.chatCall(image('https://example.com/cat.png'), target())).toThrow(/does not fetch image URLs: send the image inline as a base64 data: URL/);
    expect(() => bedrock.chatCall(image('data:image/bmp;base64,AAAA'), target())).toThrow(/'image\/bmp' is not supported/);
    expect(() => bedrock.chatCall(image('data:image/png,rawbytes'), target())).toThrow(/base64/);
    expect(() => bedrock.chatCall(job({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }), target()))
      .toThrow(/'input_audio' is not supported/);
  });

  it('turns assistant tool calls into toolUse and tool messages into toolResult, merging turns so roles alternate', () => {
    const { json } = call({
      messages: [
        { role: 'user', content: 'weather in Paris and Rome?' },
        { role: 'assistant', content: 'Checking.', tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ] },
        { role: 'tool', tool_call_id: 'call_1', content: '21C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '25C' }] },
        { role: 'user', content: 'and tomorrow?' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    });
    expect(json.messages).toEqual([
      { role: 'user', content: [{ text: 'weather in Paris and Rome?' }] },
      { role: 'assistant', content: [{ text: 'Checking.' },
        { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
        { toolUse: { toolUseId: 'call_2', name: 'get_weather', input: {} } }] },
      { role: 'user', content: [
        { toolResult: { toolUseId: 'call_1', content: [{ text: '21C' }] } },
        { toolResult: { toolUseId: 'call_2', content: [{ text: '25C' }] } },
        { text: 'and tomorrow?' }] },
    ]);
    expect(json.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'get_weather', description: 'Weather now',
      inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }] });
  });

  it('refuses tool call arguments that are not JSON, and roles Converse has no place for', () => {
    const bad = job({ messages: [{ role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] });
    expect(() => bedrock.chatCall(bad, target())).toThrow(/arguments of tool call 'c' \(f\) are not valid JSON/);
    expect(() => bedrock.chatCall(job({ messages: [{ role: 'function', name: 'f', content: 'x' }] }), target())).toThrow(/role 'function'/);
  });

  it('maps tool_choice: auto, required → any, a named function → tool', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    const choice = (tool_choice: unknown) => (call({ tools, tool_choice }).json.toolConfig as { toolChoice?: unknown }).toolChoice;
    expect(choice('auto')).toEqual({ auto: {} });
    expect(choice('required')).toEqual({ any: {} });
    expect(choice({ type: 'function', function: { name: 'f' } })).toEqual({ tool: { name: 'f' } });
    expect(choice(undefined)).toBeUndefined();
    expect((call({ tools }).json.toolConfig as { tools: unknown[] }).tools).toEqual([{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object', properties: {} } } } }]);
  });

  it('honours tool_choice none by not offering the tools, unless the history needs them declared (then reports it)', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    const fresh = call({ tools, tool_choice: 'none' });
    expect(fresh.json.toolConfig).toBeUndefined();
    expect(fresh.droppedParams).toEqual([]);
    const history = [{ role: 'user', content: 'x' },
      { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c', content: 'done' }];
    const later = call({ tools, tool_choice: 'none', messages: history });
    expect(later.json.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object', properties: {} } } } }] });
    expect(later.droppedParams).toEqual(['tool_choice']);
    // A history with tool use but no tools offered: the tools it names are declared, as Converse requires.
    expect(call({ messages: history }).json.toolConfig).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }] });
  });

  it('maps sampling settings to inferenceConfig and reports what Converse cannot take', () => {
    const { json, droppedParams } = call({ max_tokens: 10, max_completion_tokens: 20, temperature: 0.3, top_p: 0.9, stop: 'END',
      seed: 7, frequency_penalty: 0.5, presence_penalty: null, logit_bias: { 1: 2 }, user: 'u1', n: 1, logprobs: false,
      parallel_tool_calls: true, stream_options: { include_usage: true }, metadata: { team: 'a' } });
    expect(json.inferenceConfig).toEqual({ maxTokens: 20, temperature: 0.3, topP: 0.9, stopSequences: ['END'] });
    expect(json.requestMetadata).toEqual({ team: 'a' });
    expect(droppedParams).toEqual(['seed', 'frequency_penalty', 'logit_bias', 'user']);
    expect(call({ n: 2, logprobs: true, parallel_tool_calls: false, stop: ['a', 'b'] }).droppedParams).toEqual(['n', 'logprobs', 'parallel_tool_calls']);
    // LangChain's ChatOpenAI sends both penalties at 0, which asks for nothing.
    expect(call({ frequency_penalty: 0, presence_penalty: 0 }).droppedParams).toEqual([]);
    expect(call({ stop: ['a', 'b'] }).json.inferenceConfig).toEqual({ stopSequences: ['a', 'b'] });
    expect(call({}).json.inferenceConfig).toBeUndefined();
  });

  it('sends fields that are not OpenAI\'s as additionalModelRequestFields, for the model; OpenAI\'s it cannot map are dropped', () => {
    const thinking = { type: 'enabled', budget_tokens: 1024 };
    const { json, droppedParams } = call({ top_k: 5, thinking, anthropic_beta: ['x'], seed: 1, reasoning_effort: 'low', nothing: null });
    expect(json.additionalModelRequestFields).toEqual({ top_k: 5, thinking, anthropic_beta: ['x'] });
    expect(droppedParams).toEqual(['seed', 'reasoning_effort']);
    expect(call({ seed: 1 }).json).not.toHaveProperty('additionalModelRequestFields');
  });

  it('sends a tool message\'s is_error as the toolResult status, and refuses a flag that is not a boolean', () => {
    const history = (isError: unknown, content: unknown) => call({ messages: [{ role: 'user', content: 'x' },
      { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c', content, is_error: isError }] }).json.messages as { content: unknown[] }[];
    expect(history(true, 'no such city')[2].content).toEqual([{ toolResult: { toolUseId: 'c', status: 'error', content: [{ text: 'no such city' }] } }]);
    expect(history(false, 'Error: is the word')[2].content).toEqual([{ toolResult: { toolUseId: 'c', status: 'success',
      content: [{ text: 'Error: is the word' }] } }]);
    expect(history(undefined, 'x')[2].content).toEqual([{ toolResult: { toolUseId: 'c', content: [{ text: 'x' }] } }]);
    expect(() => history('yes', 'x')).toThrow(/messages\[2\]\.is_error must be true or false/);
  });

  it('hands thinking_blocks back as reasoningContent blocks before the text; reasoning_content alone stays out', () => {
    const { json } = call({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'Paris.', reasoning_content: 'hmm',
      thinking_blocks: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'redacted_thinking', data: 'b3BhcXVl' }] },
    { role: 'user', content: 'why?' }, { role: 'assistant', content: 'Because.', reasoning_content: 'unsigned' }, { role: 'user', content: 'ok' }] });
    const messages = json.messages as { content: unknown[] }[];
    expect(messages[1].content).toEqual([{ reasoningContent: { reasoningText: { text: 'hmm', signature: 'sig' } } },
      { reasoningContent: { redactedContent: 'b3BhcXVl' } }, { text: 'Paris.' }]);
    expect(messages[3].content).toEqual([{ text: 'Because.' }]);
    expect(() => call({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y', thinking_blocks: [{ type: 'thinking', thinking: 'no signature' }] }] }))
      .toThrow(/messages\[1\]\.thinking_blocks\[0\] must be a thinking block with its signature/);
  });

  it('maps a JSON-schema response_format to outputConfig and reports json_object', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    const { json } = call({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } });
    expect(json.outputConfig).toEqual({ textFormat: { type: 'json_schema', structure: { jsonSchema: { schema: JSON.stringify(schema), name: 'answer' } } } });
    expect(call({ response_format: { type: 'json_object' } }).droppedParams).toEqual(['response_format']);
    expect(call({ response_format: { type: 'text' } }).droppedParams).toEqual([]);
  });
});

describe('Bedrock adapter: Converse answer → OpenAI', () => {
  const answer = (body: Record<string, unknown>) => JSON.parse(bedrock.chatAnswer(JSON.stringify(body), job({})).body);

  it('maps text and tool use to an OpenAI message, with finish reason and usage', () => {
    const text = JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: 'Let me check.' },
      { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] } },
    stopReason: 'tool_use', usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 }, metrics: { latencyMs: 9 } });
    const result = bedrock.chatAnswer(text, job({}));
    const parsed = JSON.parse(result.body);
    expect(parsed).toMatchObject({ object: 'chat.completion', model: MODEL });
    expect(parsed.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(parsed.choices).toEqual([{ index: 0, logprobs: null, finish_reason: 'tool_calls', message: { role: 'assistant',
      content: 'Let me check.', refusal: null,
      tool_calls: [{ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }]);
    expect(parsed.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    expect(result.usage).toEqual({ promptTokens: 10, completionTokens: 5, totalTokens: 15 });
  });

  it.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'], ['guardrail_intervened', 'content_filter'], ['content_filtered', 'content_filter'],
  ])('maps stopReason %s to finish_reason %s', (stopReason, finish) => {
    expect(answer({ output: { message: { content: [{ text: 'x' }] } }, stopReason }).choices[0].finish_reason).toBe(finish);
  });

  it('counts cached prompt tokens in prompt_tokens and reports them as cached; keeps reasoning apart', () => {
    const parsed = answer({ output: { message: { content: [{ reasoningContent: { reasoningText: { text: 'hmm', signature: 's' } } },
      { toolUse: { toolUseId: 't', name: 'f', input: {} } }] } }, stopReason: 'tool_use',
    usage: { inputTokens: 4, outputTokens: 2, totalTokens: 106, cacheReadInputTokens: 60, cacheWriteInputTokens: 40 } });
    expect(parsed.usage).toEqual({ prompt_tokens: 104, completion_tokens: 2, total_tokens: 106,
      prompt_tokens_details: { cached_tokens: 60, cache_creation_tokens: 40 } });
    expect(parsed.choices[0].message.content).toBeNull();
    expect(parsed.choices[0].message.reasoning_content).toBe('hmm');
  });

  it('answers signed and redacted reasoning as thinking_blocks, as the anthropic adapter does', () => {
    const message = answer({ output: { message: { content: [{ reasoningContent: { reasoningText: { text: 'hmm', signature: 'sig' } } },
      { reasoningContent: { redactedContent: 'b3BhcXVl' } }, { reasoningContent: { reasoningText: { text: ' unsigned' } } }, { text: 'Paris.' }] } },
    stopReason: 'end_turn' }).choices[0].message;
    expect(message.reasoning_content).toBe('hmm unsigned');
    expect(message.thinking_blocks).toEqual([{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'redacted_thinking', data: 'b3BhcXVl' }]);
    expect(answer({ output: { message: { content: [{ reasoningContent: { reasoningText: { text: 'r' } } }, { text: 'x' }] } } })
      .choices[0].message).not.toHaveProperty('thinking_blocks');
  });

  it('refuses an answer without a message, and reads Bedrock\'s error bodies', () => {
    expect(() => bedrock.chatAnswer('{"foo":1}', job({}))).toThrow(/output.message.content/);
    expect(bedrock.errorMessage('{"message":"Too many requests, please wait before trying again."}')).toBe('Too many requests, please wait before trying again.');
    expect(bedrock.errorMessage('{"Message":"User is not authorized"}')).toBe('User is not authorized');
    expect(bedrock.errorMessage('<html>')).toBeNull();
    expect(bedrock.errorMessage('{}')).toBeNull();
  });
});

describe('Bedrock adapter: ConverseStream events → OpenAI chunks', () => {
  const newState = (includeUsage = false): StreamState => ({ includeUsage, model: MODEL, usage: null, scratch: {} });
  const ev = (event: string, data: Record<string, unknown>): StreamEvent => ({ event, data: JSON.stringify({ ...data, p: 'abc' }) });
  const run = (events: StreamEvent[], state = newState()) => {
    const steps = events.map((e) => bedrock.streamEvent(e, state));
    return { steps, chunks: steps.flatMap((s) => s.chunks).map((c) => JSON.parse(c)), state };
  };
  const usage = { inputTokens: 7, outputTokens: 3, totalTokens: 10 };

  it('streams text: the role rides on the first content chunk, then finish, and the end after metadata', () => {
    const { steps, chunks, state } = run([
      ev('messageStart', { role: 'assistant' }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lo' } }),
      ev('contentBlockStop', { contentBlockIndex: 0 }),
      ev('messageStop', { stopReason: 'end_turn' }),
      ev('metadata', { usage, metrics: { latencyMs: 1 } }),
    ]);
    expect(steps[0]).toEqual({ chunks: [], done: false });
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([{ role: 'assistant', content: 'Hel' }, { content: 'lo' }, {}]);
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([null, null, 'stop']);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]).toMatchObject({ object: 'chat.completion.chunk', model: MODEL });
    expect(steps.map((s) => s.done)).toEqual([false, false, false, false, false, true]);
    expect(state.usage).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
  });

  it('sends the usage chunk only to clients that asked, but always records the usage', () => {
    const events = [ev('messageStart', { role: 'assistant' }), ev('messageStop', { stopReason: 'max_tokens' }), ev('metadata', { usage })];
    const asked = run(events, newState(true));
    expect(asked.chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
    expect(asked.chunks[0].choices[0]).toMatchObject({ delta: { role: 'assistant' }, finish_reason: 'length' });
    const hidden = run(events);
    expect(hidden.chunks.some((c) => c.usage)).toBe(false);
    expect(hidden.state.usage).toEqual({ promptTokens: 7, completionTokens: 3, totalTokens: 10 });
  });

  it('streams tool use as OpenAI tool_calls deltas: index, id and name first, then argument fragments', () => {
    const { chunks } = run([
      ev('messageStart', { role: 'assistant' }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking.' } }),
      ev('contentBlockStop', { contentBlockIndex: 0 }),
      ev('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_a', name: 'get_weather' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } }),
      ev('contentBlockStop', { contentBlockIndex: 1 }),
      ev('contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'tooluse_b', name: 'get_time' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input: '{}' } } }),
      ev('messageStop', { stopReason: 'tool_use' }),
    ]);
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', content: 'Checking.' },
      { content: null, tool_calls: [{ index: 0, id: 'tooluse_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      { content: null, tool_calls: [{ index: 1, id: 'tooluse_b', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
    ]);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
  });

  it('streams reasoning text, then the whole signed block once its signature comes, and redacted blocks', () => {
    const { chunks } = run([
      ev('messageStart', { role: 'assistant' }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'Paris ' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: 'it is.' } } }),
      ev('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig' } } }),
      ev('contentBlockStop', { contentBlockIndex: 0 }),
      ev('contentBlockDelta', { contentBlockIndex: 1, delta: { reasoningContent: { redactedContent: 'b3BhcXVl' } } }),
      ev('contentBlockStop', { contentBlockIndex: 1 }),
      ev('contentBlockDelta', { contentBlockIndex: 2, delta: { text: 'Paris.' } }),
      ev('messageStop', { stopReason: 'end_turn' }),
    ]);
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: 'assistant', reasoning_content: 'Paris ' },
      { reasoning_content: 'it is.' },
      { thinking_blocks: [{ type: 'thinking', thinking: 'Paris it is.', signature: 'sig' }] },
      { thinking_blocks: [{ type: 'redacted_thinking', data: 'b3BhcXVl' }] },
      { content: 'Paris.' },
      {},
    ]);
  });

  it('streams cache reads and writes in the usage chunk', () => {
    const { chunks, state } = run([ev('messageStart', { role: 'assistant' }), ev('messageStop', { stopReason: 'end_turn' }),
      ev('metadata', { usage: { inputTokens: 5, outputTokens: 2, totalTokens: 37, cacheReadInputTokens: 20, cacheWriteInputTokens: 10 } })],
    newState(true));
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 35, completion_tokens: 2, total_tokens: 37,
      prompt_tokens_details: { cached_tokens: 20, cache_creation_tokens: 10 } });
    expect(state.usage).toEqual({ promptTokens: 35, completionTokens: 2, totalTokens: 37, cachedTokens: 20, cacheWriteTokens: 10 });
  });

  it('turns stream exceptions into errors with their status; nothing went out before, so the status can stand', () => {
    const state = newState();
    expect(bedrock.streamEvent(ev('messageStart', { role: 'assistant' }), state).chunks).toEqual([]);
    expect(bedrock.streamEvent({ event: 'throttlingException', data: '{"message":"Too many tokens"}' }, state))
      .toEqual({ chunks: [], done: false, error: { status: 429, message: 'throttlingException: Too many tokens' } });
    const status = (event: string) => bedrock.streamEvent({ event, data: '{"message":"m"}' }, newState()).error?.status;
    expect(status('validationException')).toBe(400);
    expect(status('internalServerException')).toBe(500);
    expect(status('serviceUnavailableException')).toBe(503);
    expect(status('modelStreamErrorException')).toBe(502);
    expect(status('somethingNewException')).toBe(500);
    // An error frame of the framing itself (its code and message as the decoder gives them).
    expect(status('InternalFailure')).toBe(500);
    expect(bedrock.streamEvent({ event: 'somethingNewException', data: '' }, newState()).error?.message).toBe('somethingNewException: stream failed');
  });

  it('ignores events it does not know that carry no error', () => {
    expect(bedrock.streamEvent(ev('futureEvent', { x: 1 }), newState())).toEqual({ chunks: [], done: false });
  });
});

describe('Bedrock adapter: Titan embeddings', () => {
  const TITAN = 'amazon.titan-embed-text-v2:0';
  const embed = (body: Record<string, unknown>, model = TITAN): JobData =>
    ({ modelLabel: 0, kind: 'embeddings', requestId: 'e1', model, keyIndex: 0, stream: false, includeUsage: false, body: { model: `bedrock/${model}`, ...body } });

  it('invokes the Titan model with one input text, and dimensions on V2 only', () => {
    const built = bedrock.embeddingsCall!(embed({ input: ['one text'], dimensions: 256, user: 'u' }), target());
    expect(built.url).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke');
    expect(JSON.parse(built.body)).toEqual({ inputText: 'one text', dimensions: 256 });
    expect(built.droppedParams).toEqual(['user']);
    const g1 = bedrock.embeddingsCall!(embed({ input: 'x', dimensions: 256 }, 'amazon.titan-embed-text-v1'), target());
    expect(JSON.parse(g1.body)).toEqual({ inputText: 'x' });
    expect(g1.droppedParams).toEqual(['dimensions']);
  });

  it('refuses several inputs, token arrays and models that are neither Titan nor Cohere embedders, clearly', () => {
    expect(() => bedrock.embeddingsCall!(embed({ input: ['a', 'b'] }), target())).toThrow(/one text per request, not 2 inputs: send one string per request/);
    expect(() => bedrock.embeddingsCall!(embed({ input: [1, 2, 3] }), target())).toThrow(/not token arrays/);
    expect(() => bedrock.embeddingsCall!(embed({ input: 'x' }, 'meta.llama3-8b-instruct-v1:0'), target())).toThrow(/Amazon Titan .* and Cohere/);
    expect(() => bedrock.embeddingsCall!(embed({ input: [1, 2] }, 'cohere.embed-english-v3'), target())).toThrow(/not token arrays/);
  });

  it('answers an OpenAI embeddings list, as floats or as base64 float32 when asked', () => {
    const text = JSON.stringify({ embedding: [0.5, -0.25, 0.125], inputTextTokenCount: 3, embeddingsByType: { float: [0.5, -0.25, 0.125] } });
    const floats = bedrock.embeddingsAnswer!(text, embed({ input: 'x' }));
    expect(JSON.parse(floats.body)).toEqual({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, -0.25, 0.125] }],
      model: TITAN, usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(floats.usage).toEqual({ promptTokens: 3, completionTokens: 0, totalTokens: 3 });
    const base64 = JSON.parse(bedrock.embeddingsAnswer!(text, embed({ input: 'x', encoding_format: 'base64' })).body);
    const bytes = Buffer.from(base64.data[0].embedding, 'base64');
    expect([0, 1, 2].map((i) => bytes.readFloatLE(i * 4))).toEqual([0.5, -0.25, 0.125]);
    expect(() => bedrock.embeddingsAnswer!('{}', embed({ input: 'x' }))).toThrow(/no embedding array/);
  });
});
