// The OpenAI-compatible factory's declarations (dropped, renamed and allow-listed fields, stream_options, usage
// that rides on a content chunk), and each provider of the family built on it.
import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { PROVIDER_FACTS } from '../../../../src/contract/providers.js';
import { ADAPTERS } from '../../../../workers/providers/index.js';
import { createOpenAICompatible, providerBody } from '../../../../workers/providers/openai-compatible.js';
import type { CallTarget, HttpAdapter, StreamState } from '../../../../workers/providers/types.js';

const target = (baseUrl: string | null = null, key = 'sk-1'): CallTarget => ({ baseUrl, key: { value: key, configs: {} } });

const chat = (body: Record<string, unknown>, extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'm-1', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'p/m-1', messages: [{ role: 'user', content: 'hi' }], ...body }, ...extra,
});

const embed = (body: Record<string, unknown>): JobData => ({ modelLabel: 0,
  kind: 'embeddings', requestId: 'r', model: 'e-1', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'p/e-1', input: 'text', ...body },
});

const sent = (adapter: HttpAdapter, job: JobData) => {
  const call = job.kind === 'chat' ? adapter.chatCall(job, target()) : adapter.embeddingsCall!(job, target());
  return { ...call, json: JSON.parse(call.body) as Record<string, unknown> };
};

const state = (includeUsage: boolean): StreamState => ({ includeUsage, model: 'm', usage: null, scratch: {} });

describe('createOpenAICompatible: what the body may carry', () => {
  it('sends the client body as given, with the bare model, when nothing is declared', () => {
    const plain = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://api.example' });
    const { json, droppedParams, url } = sent(plain, chat({ temperature: 0.2, logit_bias: { 1: 2 }, user: 'u' }));
    expect(url).toBe('https://api.example/v1/chat/completions');
    expect(json).toEqual({ model: 'm-1', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, logit_bias: { 1: 2 }, user: 'u' });
    expect(droppedParams).toEqual([]);
  });

  it('drops unsupported fields and reports them; a rule with `accepts` keeps the values it accepts', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', unsupportedParams: ['logprobs', { name: 'n', accepts: (n) => n === 1 }] });
    expect(sent(adapter, chat({ n: 1 }))).toMatchObject({ json: { n: 1 }, droppedParams: [] });
    const many = sent(adapter, chat({ n: 3, logprobs: true, temperature: 1 }));
    expect(many.json).toEqual({ model: 'm-1', messages: [{ role: 'user', content: 'hi' }], temperature: 1 });
    expect(many.droppedParams).toEqual(['logprobs', 'n']);
  });

  it('applies per-model rules only to the models they match', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x',
      modelParams: [{ models: /reasoner/, unsupportedParams: ['temperature', 'top_p'] }] });
    expect(sent(adapter, chat({ temperature: 0.5 })).droppedParams).toEqual([]);
    const reasoner = sent(adapter, chat({ temperature: 0.5, top_p: 0.9, max_tokens: 9 }, { model: 'x-reasoner' }));
    expect(reasoner.json).toEqual({ model: 'x-reasoner', messages: [{ role: 'user', content: 'hi' }], max_tokens: 9 });
    expect(reasoner.droppedParams).toEqual(['temperature', 'top_p']);
  });

  it('renames fields the provider spells differently; when both are given its own spelling wins', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', renamedParams: { seed: 'random_seed' } });
    expect(sent(adapter, chat({ seed: 7 }))).toMatchObject({ json: { random_seed: 7 }, droppedParams: [] });
    expect(sent(adapter, chat({ seed: 7 })).json).not.toHaveProperty('seed');
    const both = sent(adapter, chat({ seed: 7, random_seed: 8 }));
    expect(both.json).toMatchObject({ random_seed: 8 });
    expect(both.json).not.toHaveProperty('seed');
    expect(both.droppedParams).toEqual(['seed']);
  });

  it('sends only allow-listed fields to strict servers, per kind, and never drops model, messages, stream or input', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', renamedParams: { dimensions: 'output_dimension' },
      chatParams: ['temperature'], embeddingsParams: ['output_dimension'] });
    const strict = sent(adapter, chat({ temperature: 1, user: 'u', metadata: { a: 1 }, stream: false }));
    expect(strict.json).toEqual({ model: 'm-1', messages: [{ role: 'user', content: 'hi' }], temperature: 1, stream: false });
    expect(strict.droppedParams).toEqual(['user', 'metadata']);
    const vectors = sent(adapter, embed({ dimensions: 64, user: 'u', encoding_format: 'float' }));
    expect(vectors.json).toEqual({ model: 'e-1', input: 'text', output_dimension: 64 });
    expect(vectors.droppedParams).toEqual(['user', 'encoding_format']);
  });

  it('removes refused message fields, copying only the messages that carry them', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', unsupportedMessageFields: ['name'] });
    const first = { role: 'system', content: 's' };
    const job = chat({ messages: [first, { role: 'user', content: 'a', name: 'ann' }, { role: 'user', content: 'b', name: 'bob' }] });
    const { json, droppedParams } = sent(adapter, job);
    expect(json.messages).toEqual([first, { role: 'user', content: 'a' }, { role: 'user', content: 'b' }]);
    expect(droppedParams).toEqual(['messages[].name']);
    // The client's body is left alone.
    expect((job.body.messages as { name?: string }[])[1].name).toBe('ann');
    expect(sent(adapter, chat({})).droppedParams).toEqual([]);
  });

  it('drops the fields other APIs bring (thinking, thinking_blocks, is_error) for every provider; a failed tool says so in its text', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x' });
    const messages = [
      { role: 'assistant', content: 'ok', thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }] },
      { role: 'tool', tool_call_id: 'a', content: 'exit 2', is_error: true },
      { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: 'no such file' }], is_error: true },
      { role: 'tool', tool_call_id: 'c', content: 'fine', is_error: false },
    ];
    const { json, droppedParams } = sent(adapter, chat({ messages, thinking: { type: 'enabled', budget_tokens: 1024 } }));
    expect(json.messages).toEqual([
      { role: 'assistant', content: 'ok' },
      { role: 'tool', tool_call_id: 'a', content: 'Error: exit 2' },
      { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: 'Error:' }, { type: 'text', text: 'no such file' }] },
      { role: 'tool', tool_call_id: 'c', content: 'fine' },
    ]);
    expect(json.thinking).toBeUndefined();
    expect(droppedParams.sort()).toEqual(['messages[].is_error', 'messages[].thinking_blocks', 'thinking']);
    expect(sent(ADAPTERS.openai as HttpAdapter, chat({ top_k: 40 })).droppedParams).toEqual(['top_k']);
  });

  it("drops and reports the /anthropic route's Anthropic-only fields; its effort and format arrive as OpenAI's", () => {
    const adapter = ADAPTERS.openai as HttpAdapter;
    const tools = [{ type: 'function', function: { name: 't', parameters: { type: 'object' } }, defer_loading: true, input_examples: [{}] },
      { type: 'function', function: { name: 'u' } }];
    const format = { type: 'json_schema', json_schema: { name: 'output', schema: { type: 'object' }, strict: true } };
    const { json, droppedParams } = sent(adapter, chat({ tools, reasoning_effort: 'high', response_format: format,
      output_config: { task_budget: { type: 'tokens', total: 1 } }, cache_control: { type: 'ephemeral' }, container: 'c', diagnostics: {},
      inference_geo: 'us', speed: 'fast', user_profile_id: 'up', workspace_id: 'w', anthropic_beta: ['b'] }));
    expect(json).toEqual({ model: 'm-1', messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'high', response_format: format,
      tools: [{ type: 'function', function: { name: 't', parameters: { type: 'object' } } }, { type: 'function', function: { name: 'u' } }] });
    expect(droppedParams.sort()).toEqual(['anthropic_beta', 'cache_control', 'container', 'diagnostics', 'inference_geo', 'output_config', 'speed',
      'tools[].defer_loading', 'tools[].input_examples', 'user_profile_id', 'workspace_id']);
    // Cache breakpoints the /anthropic route keeps on tool calls and tool messages.
    const cached = sent(adapter, chat({ messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function',
      function: { name: 't', arguments: '{}' }, cache_control: { type: 'ephemeral' } }] },
    { role: 'tool', tool_call_id: 'a', content: 'ok', cache_control: { type: 'ephemeral' } }] }));
    expect(cached.json.messages).toEqual([{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function',
      function: { name: 't', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'a', content: 'ok' }]);
    expect(cached.droppedParams.sort()).toEqual(['messages[].cache_control', 'messages[].tool_calls[].cache_control']);
    // Anthropic's top effort is OpenAI's top one.
    expect(sent(adapter, chat({ reasoning_effort: 'max' })).json.reasoning_effort).toBe('xhigh');
    expect(sent(adapter, chat({ reasoning_effort: 'minimal' })).json.reasoning_effort).toBe('minimal');
  });

  it('asks for the usage chunk on streams, unless the server refuses stream_options (then never sends it)', () => {
    const asks = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x' });
    expect(sent(asks, chat({ stream: true }, { stream: true })).json.stream_options).toEqual({ include_usage: true });
    const refuses = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', streamOptions: false });
    const call = sent(refuses, chat({ stream: true, stream_options: { include_usage: true } }, { stream: true, includeUsage: true }));
    expect(call.json).not.toHaveProperty('stream_options');
    // Honoured from the usage the server sends unasked, so not a dropped parameter.
    expect(call.droppedParams).toEqual([]);
  });

  it('builds URLs from the configured base, keeping its path; a base-less adapter needs one', () => {
    const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: null, chatPath: '/chat/completions' });
    expect(adapter.chatCall(chat({}), target('http://h:8000/prefix/')).url).toBe('http://h:8000/prefix/chat/completions');
    expect(() => adapter.chatCall(chat({}), target(null))).toThrow(/base_url/);
    expect(createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', embeddingsPath: null }).embeddingsCall).toBeUndefined();
  });

  it('keeps providerBody for adapters with URLs of their own', () => {
    expect(providerBody(chat({ n: 2 }), ['n'])).toEqual({ body: { model: 'm-1', messages: [{ role: 'user', content: 'hi' }] }, dropped: ['n'] });
  });
});

describe('createOpenAICompatible: streams whose usage rides on a content chunk', () => {
  const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x', streamOptions: false });
  const last = '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}';

  it('moves it to a separate usage chunk at the end for clients that asked, as OpenAI sends it', () => {
    const s = state(true);
    const step = adapter.streamEvent({ event: null, data: last }, s);
    expect(JSON.parse(step.chunks[0])).toEqual({ id: 'c1', object: 'chat.completion.chunk', created: 5, model: 'm',
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    expect(s.usage).toEqual({ promptTokens: 3, completionTokens: 4, totalTokens: 7 });
    const done = adapter.streamEvent({ event: null, data: '[DONE]' }, s);
    expect(done.done).toBe(true);
    expect(done.chunks.map((chunk) => JSON.parse(chunk))).toEqual([{ id: 'c1', object: 'chat.completion.chunk', created: 5,
      model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }]);
  });

  it('keeps it from clients that did not ask, but still counts it', () => {
    const s = state(false);
    expect(adapter.streamEvent({ event: null, data: last }, s).chunks[0]).not.toContain('usage');
    expect(s.usage?.totalTokens).toBe(7);
    expect(adapter.streamEvent({ event: null, data: '[DONE]' }, s)).toEqual({ chunks: [], done: true });
  });

  it('sends no second usage chunk when the server sends its own after usage on every chunk', () => {
    const s = state(true);
    adapter.streamEvent({ event: null, data: last }, s);
    const own = '{"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}';
    expect(adapter.streamEvent({ event: null, data: own }, s).chunks).toEqual([own]);
    expect(s.usage?.totalTokens).toBe(8);
    expect(adapter.streamEvent({ event: null, data: '[DONE]' }, s).chunks).toEqual([]);
  });
});

describe('createOpenAICompatible: error messages', () => {
  const adapter = createOpenAICompatible({ id: 'p', defaultBaseUrl: 'https://x' });
  it.each([
    ['{"error":{"message":"bad key"}}', 'bad key'],
    ['{"object":"error","message":"Model not found","type":"invalid_model"}', 'Model not found'],
    ['{"detail":"Not Found"}', 'Not Found'],
    ['{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","stream_options"],"msg":"Extra inputs are not permitted"}]}}',
      'body.stream_options: Extra inputs are not permitted'],
    ['<html>502</html>', null],
  ])('%s → %s', (text, message) => {
    expect(adapter.errorMessage(text)).toBe(message);
  });
});

// Each provider of the family: where it calls by default, how it authenticates, what it refuses.
const FAMILY: { id: string; chat: string | null; embeddings: string | null }[] = [
  { id: 'mistral', chat: 'https://api.mistral.ai/v1/chat/completions', embeddings: 'https://api.mistral.ai/v1/embeddings' },
  { id: 'groq', chat: 'https://api.groq.com/openai/v1/chat/completions', embeddings: null },
  { id: 'ollama', chat: 'http://localhost:11434/v1/chat/completions', embeddings: 'http://localhost:11434/v1/embeddings' },
  { id: 'openrouter', chat: 'https://openrouter.ai/api/v1/chat/completions', embeddings: 'https://openrouter.ai/api/v1/embeddings' },
  { id: 'xai', chat: 'https://api.x.ai/v1/chat/completions', embeddings: null },
  { id: 'deepseek', chat: 'https://api.deepseek.com/v1/chat/completions', embeddings: null },
  { id: 'cerebras', chat: 'https://api.cerebras.ai/v1/chat/completions', embeddings: null },
  { id: 'perplexity', chat: 'https://api.perplexity.ai/chat/completions', embeddings: null },
  { id: 'together', chat: 'https://api.together.xyz/v1/chat/completions', embeddings: 'https://api.together.xyz/v1/embeddings' },
  { id: 'fireworks', chat: 'https://api.fireworks.ai/inference/v1/chat/completions', embeddings: 'https://api.fireworks.ai/inference/v1/embeddings' },
  { id: 'vllm', chat: null, embeddings: null },
  { id: 'sglang', chat: null, embeddings: null },
  { id: 'huggingface', chat: 'https://router.huggingface.co/v1/chat/completions', embeddings: null },
  { id: 'parasail', chat: 'https://api.parasail.io/v1/chat/completions', embeddings: null },
  { id: 'nebius', chat: 'https://api.studio.nebius.com/v1/chat/completions', embeddings: 'https://api.studio.nebius.com/v1/embeddings' },
];

describe.each(FAMILY)('$id', ({ id, chat: chatUrl, embeddings }) => {
  const adapter = ADAPTERS[id] as HttpAdapter;
  const facts = PROVIDER_FACTS[id];

  it('calls its default endpoint (or needs a base URL) with Bearer auth and SSE streams', () => {
    expect(adapter.transport).toBe('http');
    expect(adapter.auth).toEqual({ kind: 'bearer' });
    expect(adapter.streamFormat).toBe('sse');
    if (chatUrl) {
      expect(adapter.chatCall(chat({}), target()).url).toBe(chatUrl);
      expect(facts.needsBaseUrl).toBe(false);
    } else {
      expect(() => adapter.chatCall(chat({}), target())).toThrow(/base_url/);
      expect(adapter.chatCall(chat({}), target('http://gpu:8000')).url).toBe('http://gpu:8000/v1/chat/completions');
      expect(facts.needsBaseUrl).toBe(true);
    }
  });

  it('has OpenAI\'s media endpoints beside its chat path, as its facts say', () => {
    expect(facts.capabilities.media).toEqual(['speech', 'transcription', 'image_generation', 'image_edit', 'image_variation']);
    const url = adapter.speechCall!({ ...chat({}), kind: 'speech', body: { model: 'x', input: 'hi', voice: 'alloy' } }, target('http://h')).url;
    expect(url).toBe(adapter.chatCall(chat({}), target('http://h')).url.replace(/chat\/completions$/, 'audio/speech'));
    const form = adapter.transcriptionCall!({ ...chat({}), kind: 'transcription', body: { model: 'x', language: 'fr',
      timestamp_granularities: ['word', 'segment'], file: { bytes: new Uint8Array([1, 2]), name: 'a.wav', type: 'audio/wav' } } },
    target('http://h')).form!;
    expect(form.getAll('timestamp_granularities[]')).toEqual(['word', 'segment']);
    expect((form.get('file') as File).name).toBe('a.wav');
    expect(form.get('model')).toBe(chat({}).model);
  });

  it('has an embeddings endpoint exactly when its facts say so', () => {
    expect(Boolean(adapter.embeddingsCall)).toBe(facts.capabilities.embeddings);
    if (embeddings) expect(adapter.embeddingsCall!(embed({}), target()).url).toBe(embeddings);
  });

  it('keeps the streaming usage working: asks for it, or reads it unasked', () => {
    const body = JSON.parse(adapter.chatCall(chat({ stream: true }, { stream: true }), target('http://h')).body);
    expect(body.stream_options === undefined || body.stream_options.include_usage === true).toBe(true);
  });
});

describe('what each provider refuses', () => {
  const call = (id: string, body: Record<string, unknown>, extra: Partial<JobData> = {}) =>
    (ADAPTERS[id] as HttpAdapter).chatCall(chat(body, extra), target('http://h'));

  it.each([
    ['groq', { logprobs: true, top_logprobs: 2, logit_bias: {}, n: 2 }, ['logprobs', 'top_logprobs', 'logit_bias', 'n']],
    ['groq', { n: 1, temperature: 0 }, []],
    ['cerebras', { frequency_penalty: 1, presence_penalty: 1, logit_bias: {}, parallel_tool_calls: true, service_tier: 'auto' },
      ['frequency_penalty', 'presence_penalty', 'logit_bias', 'parallel_tool_calls', 'service_tier']],
    ['perplexity', { n: 2, logprobs: true, tools: [], tool_choice: 'none' }, ['tools', 'tool_choice', 'n', 'logprobs']],
    ['mistral', { user: 'u', logprobs: true, temperature: 0.3, safe_prompt: true }, ['user', 'logprobs']],
    ['ollama', { logit_bias: {}, n: 2 }, ['logit_bias', 'n']],
    ['parasail', { store: true, service_tier: 'auto' }, ['store', 'service_tier']],
    ['together', { logit_bias: {}, n: 2, user: 'u' }, []],
    ['vllm', { logit_bias: {}, n: 2, top_k: 5 }, []],
  ])('%s drops and reports %j', (id, body, dropped) => {
    expect(call(id, body).droppedParams).toEqual(dropped);
  });

  it('mistral renames seed and max_completion_tokens, and never sends stream_options', () => {
    const sentBody = JSON.parse(call('mistral', { seed: 3, max_completion_tokens: 10, stream: true }, { stream: true }).body);
    expect(sentBody).toMatchObject({ random_seed: 3, max_tokens: 10, stream: true });
    expect(sentBody).not.toHaveProperty('seed');
    expect(sentBody).not.toHaveProperty('stream_options');
  });

  it('groq, cerebras and mistral strip the message fields they refuse', () => {
    const messages = [{ role: 'user', content: 'hi', name: 'ann' }, { role: 'assistant', content: 'a', reasoning_content: 'r' }];
    expect(call('groq', { messages }).droppedParams).toEqual(['messages[].name']);
    expect(call('cerebras', { messages }).droppedParams).toEqual(['messages[].reasoning_content']);
    const history = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'a', refusal: null, annotations: [] }];
    const sentBody = JSON.parse(call('mistral', { messages: history }).body);
    expect(sentBody.messages[1]).toEqual({ role: 'assistant', content: 'a' });
    expect(call('mistral', { messages: history }).droppedParams).toEqual(['messages[].refusal', 'messages[].annotations']);
  });

  it('deepseek drops sampling parameters for the reasoner only; xai for its reasoning models only', () => {
    const sampling = { temperature: 0.2, top_p: 0.9, logprobs: true, stop: ['x'], presence_penalty: 1 };
    expect(call('deepseek', sampling, { model: 'deepseek-chat' }).droppedParams).toEqual([]);
    expect(call('deepseek', sampling, { model: 'deepseek-reasoner' }).droppedParams)
      .toEqual(['temperature', 'top_p', 'presence_penalty', 'logprobs']);
    expect(call('xai', { ...sampling, reasoning_effort: 'low' }, { model: 'grok-3' }).droppedParams).toEqual([]);
    expect(call('xai', { ...sampling, reasoning_effort: 'low' }, { model: 'grok-3-mini' }).droppedParams)
      .toEqual(['presence_penalty', 'stop']);
    expect(call('xai', { ...sampling, reasoning_effort: 'low' }, { model: 'grok-4-0709' }).droppedParams)
      .toEqual(['presence_penalty', 'stop', 'reasoning_effort']);
  });
});
