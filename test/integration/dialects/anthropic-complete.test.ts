// Anthropic's legacy Text Completions (`/anthropic/v1/complete`) through the real, built gateway. The Anthropic SDK
// 1.x has no completions resource any more, so its generic `post` sends the call (its auth headers and error
// classes as for every call); a stream is read as the SSE events it is. The Anthropic fake and the mock answer.

import Anthropic, { BadRequestError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startGatewayWith, type Harness } from '../harness.js';
import { rejectionOf } from '../../rejection.js';

const KEY = 'sk-ant-upstream';
let h: Harness<FakeAnthropic>;
let client: Anthropic;

beforeAll(async () => {
  h = await startGatewayWith(await startFakeAnthropic({ apiKey: KEY }), (fakeUrl) => ({ providers: {
    anthropic: { keys: [{ value: KEY, models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl } },
    mock: { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0 } },
  } }));
  client = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'sk-ant-client', maxRetries: 0, timeout: 15_000 });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => h.fake.reset());

interface Completion { type: string; id: string; completion: string; stop_reason: string | null; model: string }

describe('/anthropic/v1/complete', () => {
  it('turns the prompt\'s turns into messages for the anthropic provider, and answers a completion', async () => {
    const answer = await client.post<Completion>('/v1/complete', { body: {
      model: 'claude-2.1', max_tokens_to_sample: 50, stop_sequences: ['\n\nHuman:'], temperature: 0.5,
      prompt: 'You are terse.\n\nHuman: Hi there\n\nAssistant: Hello.\n\nHuman: What is 2+2?\n\nAssistant:' } });
    const sent = h.fake.requests[0].body as Record<string, unknown>;
    expect(sent).toMatchObject({ model: 'claude-2.1', max_tokens: 50, stop_sequences: ['\n\nHuman:'], temperature: 0.5,
      system: 'You are terse.', messages: [{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'What is 2+2?' }] });
    expect(answer).toMatchObject({ type: 'completion', model: 'claude-2.1', stop_reason: 'stop_sequence' });
    expect(answer.id).toMatch(/^compl_/);
    expect(answer.completion.length).toBeGreaterThan(0);
  });

  it('streams completion events, the last with its stop reason', async () => {
    const response = await fetch(`${h.url}/anthropic/v1/complete`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', max_tokens_to_sample: 20, stream: true, prompt: '\n\nHuman: stream me\n\nAssistant:' }) });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await response.text()).split('\n\n').filter(Boolean).map((block) => {
      const [event, data] = block.split('\n');
      return { event: event.slice('event: '.length), data: JSON.parse(data.slice('data: '.length)) as Completion };
    });
    expect(events.every((e) => e.event === 'completion' && e.data.model === 'mock/echo')).toBe(true);
    expect(events.map((e) => e.data.completion).join('')).toBe('Echo: stream me');
    expect(events.at(-1)!.data.stop_reason).toBe('stop_sequence');
    expect(events.slice(0, -1).every((e) => e.data.stop_reason === null)).toBe(true);
  });

  it('refuses a prompt without its turns, and a missing max_tokens_to_sample, as Anthropic\'s errors', async () => {
    const noTurns = await rejectionOf(client.post('/v1/complete', { body: { model: 'claude-2.1', max_tokens_to_sample: 5, prompt: 'hi' } }),
      BadRequestError);
    expect(noTurns.message).toMatch(/Human:/);
    const noMax = await rejectionOf(client.post('/v1/complete', { body: { model: 'claude-2.1', prompt: '\n\nHuman: x\n\nAssistant:' } }),
      BadRequestError);
    expect(noMax.message).toMatch(/max_tokens_to_sample/);
    expect(h.fake.requests).toHaveLength(0);
  });
});
