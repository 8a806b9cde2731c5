// Nothing dropped silently, on OpenAI's Chat Completions and Responses: a request that uses the fields of each
// schema goes through /v1 to the openai provider, and every field the client sent must reach the upstream as sent
// (less the `openai/` prefix of the model), unless x-heimdall-dropped-params names it (see walk.ts). The official
// `openai` SDK sends them.

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openaiProvider, startHarness, type Harness } from '../harness.js';
import { lostFields } from './walk.js';

let h: Harness;
let counter = 0;

beforeAll(async () => {
  h = await startHarness({ config: (fakeUrl) => ({ providers: { openai: openaiProvider(fakeUrl) } }) });
});

afterAll(async () => {
  await h?.close();
});

const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather by city', strict: true,
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false } } } as const;

const CHAT = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'developer', content: 'Be brief.' },
    { role: 'user', content: [{ type: 'text', text: 'Look.' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } }],
      name: 'ann' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: '18C' },
  ],
  temperature: 0.5, top_p: 0.9, max_completion_tokens: 200, stop: ['END'], n: 1, seed: 7, presence_penalty: 0.1,
  frequency_penalty: 0.2, logit_bias: { 50256: -100 }, logprobs: true, top_logprobs: 2, user: 'u-1', tools: [weather],
  tool_choice: 'auto', parallel_tool_calls: false, response_format: { type: 'text' }, reasoning_effort: 'low',
  service_tier: 'auto', store: false, metadata: { team: 'a' }, prompt_cache_key: 'k-1', safety_identifier: 's-1',
  verbosity: 'low', modalities: ['text'], prediction: { type: 'content', content: 'guess' },
} as const;

const RESPONSES = {
  model: 'gpt-4o-mini',
  instructions: 'Be brief.',
  input: [{ role: 'user', content: [{ type: 'input_text', text: 'Look.' }, { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' }] }],
  tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }, { type: 'web_search' }],
  tool_choice: 'auto', temperature: 0.5, top_p: 0.9, max_output_tokens: 200, parallel_tool_calls: false, store: false,
  metadata: { team: 'a' }, user: 'u-1', text: { format: { type: 'text' }, verbosity: 'low' }, reasoning: { effort: 'low' },
  truncation: 'auto', include: ['reasoning.encrypted_content'], service_tier: 'auto', prompt_cache_key: 'k-1',
} as const;

describe('OpenAI → openai: every field arrives or is named', () => {
  it('Chat Completions', async () => {
    const id = `fidelity-openai-${++counter}`;
    const { response } = await h.client.chat.completions.create({ ...CHAT, model: 'openai/gpt-4o-mini' } as unknown as
      OpenAI.ChatCompletionCreateParamsNonStreaming, { headers: { 'x-request-id': id } }).withResponse();
    const dropped = response.headers.get('x-heimdall-dropped-params')?.split(',') ?? [];
    expect(lostFields(CHAT, h.fake.requestsWithId(id)[0].body, dropped)).toEqual([]);
  });

  it('Responses', async () => {
    const id = `fidelity-openai-${++counter}`;
    const { response } = await h.client.responses.create({ ...RESPONSES, model: 'openai/gpt-4o-mini' } as unknown as
      OpenAI.Responses.ResponseCreateParamsNonStreaming, { headers: { 'x-request-id': id } }).withResponse();
    const dropped = response.headers.get('x-heimdall-dropped-params')?.split(',') ?? [];
    expect(lostFields(RESPONSES, h.fake.requestsWithId(id)[0].body, dropped)).toEqual([]);
  });
});
