// Nothing dropped silently, on Google's GenAI and AWS Bedrock's Converse: a generateContent request that uses the
// fields of its schema goes through /genai to the gemini provider, and a Converse request through /bedrock to the
// bedrock provider; every field the client sent must reach the upstream as sent, unless x-heimdall-dropped-params
// names it (see walk.ts). The bodies are sent as JSON, the wire format the SDKs write.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeBedrock, type FakeBedrock } from '../../fakes/bedrock-server.js';
import { startFakeGemini, type FakeGemini } from '../../fakes/gemini-server.js';
import { startGatewayWith, type Harness } from '../harness.js';
import { lostFields } from './walk.js';

const CREDENTIALS = { accessKeyId: 'AKIDFIDELITY', secretAccessKey: 'fidelity-secret' };
const REGION = 'us-west-2';
let gemini: FakeGemini;
let h: Harness<FakeBedrock>;

beforeAll(async () => {
  gemini = await startFakeGemini({ apiKey: 'AIza-upstream' });
  h = await startGatewayWith(await startFakeBedrock({ credentials: [CREDENTIALS], region: REGION }), (fakeUrl) => ({ providers: {
    bedrock: { keys: [{ models: ['*'], bedrock_key_config: { access_key: CREDENTIALS.accessKeyId, secret_key: CREDENTIALS.secretAccessKey,
      region: REGION } }], network_config: { base_url: fakeUrl } },
    gemini: { keys: [{ value: 'AIza-upstream', models: ['*'], weight: 1 }], network_config: { base_url: gemini.url } },
  } }));
});

afterAll(async () => {
  await h?.close();
  await gemini?.close();
});

async function post(path: string, body: object): Promise<string[]> {
  const response = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBe(200);
  const header = response.headers.get('x-heimdall-dropped-params');
  return header ? header.split(',') : [];
}

const PNG = Buffer.from('fake png').toString('base64');

describe('GenAI generateContent → gemini', () => {
  const request = {
    contents: [
      { role: 'user', parts: [{ text: 'Look at this.' }, { inlineData: { mimeType: 'image/png', data: PNG } },
        { fileData: { mimeType: 'application/pdf', fileUri: 'https://example.com/a.pdf' } }] },
      { role: 'model', parts: [{ text: 'Calling.' }, { functionCall: { name: 'get_weather', args: { location: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temperature: 18 } } }] },
    ],
    systemInstruction: { parts: [{ text: 'Be brief.' }] },
    tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather by city',
      parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } }] }],
    toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
    safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_ONLY_HIGH' }],
    generationConfig: { temperature: 0.5, topP: 0.9, topK: 40, candidateCount: 1, maxOutputTokens: 256, stopSequences: ['END'],
      presencePenalty: 0.1, frequencyPenalty: 0.2, seed: 7, responseMimeType: 'text/plain',
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } },
  };

  it('every field arrives or is named', async () => {
    const dropped = await post('/genai/v1beta/models/gemini-2.5-flash:generateContent', request);
    expect(lostFields(request, gemini.requests.at(-1)!.body, dropped)).toEqual([]);
  });
});

describe('Bedrock Converse → bedrock', () => {
  const request = {
    messages: [
      { role: 'user', content: [{ text: 'Look at this.' }, { image: { format: 'png', source: { bytes: PNG } } },
        { document: { format: 'txt', name: 'notes', source: { bytes: Buffer.from('plain words').toString('base64') } } }] },
      { role: 'assistant', content: [{ text: 'Calling.' }, { toolUse: { toolUseId: 'tu_1', name: 'get_weather', input: { location: 'Paris' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tu_1', content: [{ text: '18C' }], status: 'success' } }, { text: 'And now?' }] },
    ],
    system: [{ text: 'Be brief.' }],
    inferenceConfig: { maxTokens: 256, temperature: 0.5, topP: 0.9, stopSequences: ['END'] },
    toolConfig: { tools: [{ toolSpec: { name: 'get_weather', description: 'Weather by city',
      inputSchema: { json: { type: 'object', properties: { location: { type: 'string' } } } } } }], toolChoice: { auto: {} } },
    additionalModelRequestFields: { top_k: 40 },
    requestMetadata: { team: 'a' },
  };

  it('every field arrives or is named', async () => {
    const dropped = await post(`/bedrock/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/converse`, request);
    expect(lostFields(request, h.fake.requests.at(-1)!.body, dropped)).toEqual([]);
  });
});
