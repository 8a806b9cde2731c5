import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import type { ProviderInit } from '../../../../src/contract/worker-init.js';
import { PROVIDER_FACTS } from '../../../../src/contract/providers.js';
import { ADAPTERS } from '../../../../workers/providers/index.js';
import { ADAPTER_LOADERS, loadAdapter } from '../../../../workers/providers/load.js';
import { mock } from '../../../../workers/providers/mock.js';
import { openai } from '../../../../workers/providers/openai.js';
import type { InProcessIo, StreamState } from '../../../../workers/providers/types.js';

const job = (extra: Partial<JobData> = {}): JobData => ({ modelLabel: 0,
  kind: 'chat', requestId: 'r', model: 'gpt-4o-mini', keyIndex: 0, stream: false, includeUsage: false,
  body: { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], temperature: 0.1 }, ...extra,
});

describe('adapter registry', () => {
  it('loads each adapter on its own in a worker: the same ids, and the same adapter objects', async () => {
    expect(Object.keys(ADAPTER_LOADERS).sort()).toEqual(Object.keys(ADAPTERS).sort());
    for (const [id, adapter] of Object.entries(ADAPTERS)) expect(await loadAdapter(id)).toBe(adapter);
    await expect(loadAdapter('nosuch')).rejects.toThrow("no adapter 'nosuch' in this build");
  });

  it('has exactly the adapters the front thread knows about', () => {
    expect(Object.keys(ADAPTERS).sort()).toEqual(Object.keys(PROVIDER_FACTS).sort());
    for (const [id, adapter] of Object.entries(ADAPTERS)) expect(adapter.id).toBe(id);
  });

  it('lists models (list_models jobs) exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const lists = adapter.transport === 'http' && adapter.listModelsCall !== undefined && adapter.listModelsAnswer !== undefined;
      expect([id, lists]).toEqual([id, PROVIDER_FACTS[id].capabilities.listModels]);
    }
    expect(PROVIDER_FACTS.openai.capabilities.listModels).toBe(true);
    expect(PROVIDER_FACTS.azure.capabilities.listModels).toBe(false);
  });

  it('takes the Responses API natively exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const native = adapter.transport === 'http' && adapter.responsesCall !== undefined;
      expect([id, native]).toEqual([id, PROVIDER_FACTS[id].capabilities.responses]);
    }
    expect(PROVIDER_FACTS.openai.capabilities.responses).toBe(true);
  });

  it('takes the Messages API natively exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const native = adapter.transport === 'http' && adapter.messagesCall !== undefined && adapter.messagesAnswer !== undefined
        && adapter.messagesEvent !== undefined;
      expect([id, native]).toEqual([id, PROVIDER_FACTS[id].capabilities.messages]);
    }
    expect(PROVIDER_FACTS.anthropic.capabilities.messages).toBe(true);
  });

  it('takes Bedrock\'s InvokeModel bodies natively exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const native = adapter.transport === 'http' && adapter.invokeCall !== undefined && adapter.invokeAnswer !== undefined
        && adapter.invokeEvent !== undefined;
      expect([id, native]).toEqual([id, PROVIDER_FACTS[id].capabilities.invoke]);
    }
    expect(PROVIDER_FACTS.bedrock.capabilities.invoke).toBe(true);
  });

  it('serves OpenAI\'s Batch API through its own exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const translates = adapter.transport === 'http' && adapter.openAIBatchCall !== undefined && adapter.openAIBatchAnswer !== undefined;
      expect([id, translates]).toEqual([id, PROVIDER_FACTS[id].capabilities.openAIBatches]);
    }
    expect(PROVIDER_FACTS.anthropic.capabilities.openAIBatches).toBe(true);
    expect(PROVIDER_FACTS.gemini.capabilities.openAIBatches).toBe(true);
  });

  it('reranks exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const reranks = adapter.transport === 'in-process' ? id === 'mock'
        : adapter.rerankCall !== undefined && adapter.rerankAnswer !== undefined;
      expect([id, reranks]).toEqual([id, PROVIDER_FACTS[id].capabilities.rerank]);
    }
    expect(Object.entries(PROVIDER_FACTS).filter(([, facts]) => facts.capabilities.rerank).map(([id]) => id).sort())
      .toEqual(['bedrock', 'cohere', 'mock', 'sglang', 'together', 'vertex', 'vllm']);
  });

  it('tokenizes (Cohere\'s tokenizer) exactly where the front thread\'s capability says so', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      expect([id, adapter.transport === 'http' && adapter.tokenizeCall !== undefined]).toEqual([id, PROVIDER_FACTS[id].capabilities.tokenize]);
    }
    expect(PROVIDER_FACTS.cohere.capabilities.tokenize).toBe(true);
  });

  it('serves each of OpenAI\'s media endpoints exactly where the front thread\'s capability lists it', () => {
    const calls = { speech: 'speechCall', transcription: 'transcriptionCall', image_generation: 'imageGenerationCall',
      image_edit: 'imageEditCall', image_variation: 'imageVariationCall' } as const;
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const served = adapter.transport === 'http' ? Object.entries(calls).filter(([, call]) => adapter[call] !== undefined).map(([kind]) => kind) : [];
      expect([id, served]).toEqual([id, [...PROVIDER_FACTS[id].capabilities.media]]);
    }
    expect(PROVIDER_FACTS.bedrock.capabilities.media).toEqual(['image_generation']);
  });

  it('has a files API exactly where the front thread\'s capability names one', () => {
    for (const [id, adapter] of Object.entries(ADAPTERS)) {
      const files = adapter.transport === 'http' && adapter.filesCall !== undefined;
      expect([id, files]).toEqual([id, PROVIDER_FACTS[id].capabilities.files !== null]);
    }
    expect(Object.entries(PROVIDER_FACTS).filter(([, facts]) => facts.capabilities.files).map(([id, facts]) => [id, facts.capabilities.files]))
      .toEqual([['openai', 'openai'], ['gemini', 'genai'], ['vertex', 'vertex'], ['anthropic', 'anthropic'], ['azure', 'openai'], ['bedrock', 'bedrock']]);
  });
});

describe('list_models', () => {
  const target = { baseUrl: null, key: { value: 'sk-1', configs: {} } };
  const listJob = job({ kind: 'list_models', model: '', body: {} });

  it('is a GET beside the chat path, its ids read from OpenAI\'s list', () => {
    expect(openai.listModelsCall!(listJob, target)).toMatchObject({ method: 'GET', url: 'https://api.openai.com/v1/models' });
    expect(ADAPTERS.perplexity.transport === 'http' && ADAPTERS.perplexity.listModelsCall!(listJob, target).url)
      .toBe('https://api.perplexity.ai/models');
    const list = '{"object":"list","data":[{"id":"gpt-4o","object":"model"},{"id":"o3","object":"model"},{"object":"model"}]}';
    expect(openai.listModelsAnswer!(list, listJob)).toEqual({ body: '{"models":["gpt-4o","o3"]}', usage: null });
    expect(() => openai.listModelsAnswer!('{"models":[]}', listJob)).toThrow(/data array/);
  });
});

describe('OpenAI adapter', () => {
  it('sends the body as given with the bare model, and asks for usage on streams', () => {
    const target = { baseUrl: null, key: { value: 'sk-1', configs: {} } };
    const call = openai.chatCall(job(), target);
    expect(call.url).toBe('https://api.openai.com/v1/chat/completions');
    const plain = JSON.parse(call.body);
    expect(plain).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], temperature: 0.1 });
    const streamed = JSON.parse(openai.chatCall(job({ stream: true, body: { model: 'x', messages: [], stream: true } }), target).body);
    expect(streamed.stream_options).toEqual({ include_usage: true });
  });

  it('forwards the answer bytes untouched and reads the usage', () => {
    const text = '{"id":"c1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}';
    expect(openai.chatAnswer(text, job())).toEqual({ body: text, usage: { promptTokens: 5, completionTokens: 2, totalTokens: 7 } });
    expect(() => openai.chatAnswer('{"nope":1}', job())).toThrow(/choices/);
  });

  it('withholds the usage chunk from clients that did not ask for it, but records it', () => {
    const usageChunk = '{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}';
    const hidden: StreamState = { includeUsage: false, model: 'm', usage: null, scratch: {} };
    expect(openai.streamEvent({ event: null, data: usageChunk }, hidden).chunks).toEqual([]);
    expect(hidden.usage).toEqual({ promptTokens: 1, completionTokens: 2, totalTokens: 3 });
    const shown: StreamState = { includeUsage: true, model: 'm', usage: null, scratch: {} };
    expect(openai.streamEvent({ event: null, data: usageChunk }, shown).chunks).toEqual([usageChunk]);
    expect(openai.streamEvent({ event: null, data: '[DONE]' }, shown)).toEqual({ chunks: [], done: true });
  });

  it('drops the "usage":null it caused from chunks for clients that did not ask for usage', () => {
    const hidden: StreamState = { includeUsage: false, model: 'm', usage: null, scratch: {} };
    const after = '{"id":"c","choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}';
    const first = '{"usage": null, "id":"c","choices":[]}';
    expect(openai.streamEvent({ event: null, data: after }, hidden).chunks).toEqual(['{"id":"c","choices":[{"index":0,"delta":{"content":"x"}}]}']);
    expect(openai.streamEvent({ event: null, data: first }, hidden).chunks).toEqual(['{"id":"c","choices":[]}']);
    const shown: StreamState = { includeUsage: true, model: 'm', usage: null, scratch: {} };
    expect(openai.streamEvent({ event: null, data: after }, shown).chunks).toEqual([after]);
  });

  it('reads the message out of an OpenAI error envelope', () => {
    expect(openai.errorMessage('{"error":{"message":"bad key","type":"invalid_request_error"}}')).toBe('bad key');
    expect(openai.errorMessage('<html>oops</html>')).toBeNull();
  });
});

describe('mock adapter', () => {
  const provider = { name: 'mock', mock: { latencyMs: 0, chunkCount: 3, chunkIntervalMs: 0, promptTokens: null, completionTokens: null } } as ProviderInit;
  const run = async (data: JobData) => {
    const out: { result?: string; chunks: string[]; ended: boolean; error?: [number, string] } = { chunks: [], ended: false };
    const io: InProcessIo = {
      signal: new AbortController().signal,
      result: (body) => { out.result = body; },
      chunks: (chunks) => out.chunks.push(...chunks),
      end: () => { out.ended = true; },
      upstreamError: (status, message) => { out.error = [status, message]; },
      sleep: async () => {},
    };
    await mock.run(data, provider, io);
    return out;
  };

  it('echoes the last user message deterministically', async () => {
    const out = await run(job({ model: 'echo' }));
    const answer = JSON.parse(out.result!);
    expect(answer.choices[0].message.content).toBe('Echo: hello there');
    expect(answer.choices[0].finish_reason).toBe('stop');
    expect(answer.usage.completion_tokens).toBe(3);
  });

  it('streams the same text in at most chunk_count pieces, then a finish chunk and usage when asked', async () => {
    const out = await run(job({ model: 'echo', stream: true, includeUsage: true }));
    const parsed = out.chunks.map((chunk) => JSON.parse(chunk));
    const text = parsed.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Echo: hello there');
    expect(parsed.at(-2).choices[0].finish_reason).toBe('stop');
    expect(parsed.at(-1).usage.total_tokens).toBeGreaterThan(0);
    expect(out.ended).toBe(true);
  });

  it('cuts at max_tokens with finish_reason length, and fails on error-<status> models', async () => {
    const cut = JSON.parse((await run(job({ model: 'echo', body: { messages: [{ role: 'user', content: 'a b c d e' }], max_tokens: 2 } }))).result!);
    expect(cut.choices[0].finish_reason).toBe('length');
    expect(cut.choices[0].message.content).toBe('Echo: a');
    expect((await run(job({ model: 'error-429' }))).error?.[0]).toBe(429);
  });
});
