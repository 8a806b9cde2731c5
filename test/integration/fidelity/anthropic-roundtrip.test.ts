// Nothing dropped silently, on Anthropic's Messages API: a request that uses every field of the Messages schema goes
// through /anthropic/v1/messages to the anthropic provider (the same API), and every field the client sent must
// reach the upstream as sent, unless x-heimdall-dropped-params names it. The walk compares leaf by leaf, so a field
// added to the fixture is checked without a new assertion.

import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai-server.js';
import { openaiProvider, startGatewayWith, type Harness } from '../harness.js';
import { lostFields } from './walk.js';

let h: Harness<FakeAnthropic>;
let openaiFake: FakeOpenAI;
let client: Anthropic;
let counter = 0;

beforeAll(async () => {
  openaiFake = await startFakeOpenAI();
  h = await startGatewayWith(await startFakeAnthropic({ apiKey: 'sk-ant' }), (fakeUrl) => ({
    providers: { anthropic: { keys: [{ value: 'sk-ant', models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl } },
      openai: openaiProvider(openaiFake.url) },
  }));
  client = new Anthropic({ baseURL: `${h.url}/anthropic`, apiKey: 'client', maxRetries: 0 });
});

afterAll(async () => {
  await h?.close();
  await openaiFake?.close();
});

const PDF = Buffer.from('%PDF-1.4 fake').toString('base64');
const PNG = Buffer.from('fake png').toString('base64');
const cache = { type: 'ephemeral' } as const;

/** Every request field of the Messages API that a translatable request can hold. */
const TRANSLATABLE = {
  model: 'claude-sonnet-4-5',
  max_tokens: 4096,
  system: [{ type: 'text', text: 'Be brief.', cache_control: cache }],
  messages: [
    { role: 'user', content: [
      { type: 'text', text: 'Look at these.', cache_control: cache },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf' },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' } },
    ] },
    { role: 'assistant', content: [
      { type: 'thinking', thinking: 'Let me look.', signature: 'sig-1' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Calling the tool.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '18C' }], is_error: false },
      { type: 'text', text: 'And now?' },
    ] },
  ],
  temperature: 0.5,
  top_k: 40,
  stop_sequences: ['END'],
  metadata: { user_id: 'user-7' },
  tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { location: { type: 'string' } } },
    cache_control: cache }],
  tool_choice: { type: 'auto', disable_parallel_tool_use: true },
  thinking: { type: 'enabled', budget_tokens: 2048 },
  service_tier: 'auto',
};

/** The fields only Anthropic's own API can take: the same provider must get them all, as the client sent them. */
const ANTHROPIC_ONLY = {
  ...TRANSLATABLE,
  messages: [
    { role: 'user', content: [
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' }, title: 'Facts',
        context: 'From the handbook', citations: { enabled: true } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf',
        citations: { enabled: true } },
      { type: 'text', text: 'What colour is the grass?' },
    ] },
  ],
  tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
  tool_choice: { type: 'auto' },
};

async function roundTrip(request: object): Promise<{ sent: unknown; dropped: string[] }> {
  const id = `fidelity-anthropic-${++counter}`;
  const { response } = await client.messages.create(request as Anthropic.MessageCreateParamsNonStreaming,
    { headers: { 'x-request-id': id } }).withResponse();
  const header = response.headers.get('x-heimdall-dropped-params');
  return { sent: h.fake.requestsWithId(id)[0].body, dropped: header ? header.split(',') : [] };
}

describe('Anthropic Messages → anthropic: every field arrives or is reported', () => {
  it.each([['a translatable request', TRANSLATABLE], ['a request with Anthropic-only fields', ANTHROPIC_ONLY]])('%s', async (_name, request) => {
    const { sent, dropped } = await roundTrip(request);
    expect(lostFields(request, sent, dropped)).toEqual([]);
  });
});

describe('Anthropic Messages → another provider: what it cannot take is dropped and named', () => {
  it("sends a cited document's text, and names its title, context and citations in x-heimdall-dropped-params", async () => {
    const id = `fidelity-anthropic-${++counter}`;
    const { data, response } = await client.messages.create({ model: 'openai/gpt-4o-mini', max_tokens: 100,
      messages: [{ role: 'user', content: [
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The grass is green.' }, title: 'Facts',
          context: 'From the handbook', citations: { enabled: true } },
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf',
          citations: { enabled: true } },
        { type: 'text', text: 'What colour is the grass?' },
      ] }] }, { headers: { 'x-request-id': id } }).withResponse();
    expect(data.type).toBe('message');
    expect(response.headers.get('x-heimdall-dropped-params')?.split(',')).toEqual(['messages.0.content.0.citations',
      'messages.0.content.0.context', 'messages.0.content.0.title', 'messages.0.content.1.citations']);
    const sent = openaiFake.requestsWithId(id)[0].body as { messages: { content: { type: string; text?: string }[] }[] };
    expect(sent.messages[0].content[0]).toEqual({ type: 'text', text: 'The grass is green.' });
    expect(sent.messages[0].content[1].type).toBe('file');
  });
});
