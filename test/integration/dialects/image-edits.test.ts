// OpenAI's image edits and variations (multipart in, JSON out) with the `openai` SDK: straight against the openai fake
// (so the fake is proved to read the SDK's forms), then through the real gateway on /v1 and the drop-in, where the
// same calls must give the same answers; the upstream gets every file's bytes intact. A provider without OpenAI's
// images endpoints is refused with a 400 naming it.

import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiError, startOpenAIAndMock, type Harness } from '../harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startOpenAIAndMock();
});

afterAll(async () => {
  await h?.close();
});

beforeEach(() => h.fake.reset());

/** Image bytes no UTF-8 round trip would keep: every byte value. */
const PIXELS = new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
const png = (name: string, bytes = PIXELS) => new File([bytes], name, { type: 'image/png' });
/** What the fake's answer holds after its PNG signature: the images it read, the mask, the prompt. */
const described = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').subarray(8).toString();

const clients: [string, () => OpenAI, string][] = [
  ['the openai fake directly', () => new OpenAI({ baseURL: `${h.fake.url}/v1`, apiKey: 'sk-fake', maxRetries: 0 }), 'gpt-image-1'],
  ['the gateway (/v1, provider/model)', () => h.client, 'openai/gpt-image-1'],
  ['the gateway (drop-in /openai/v1)', () => new OpenAI({ baseURL: `${h.url}/openai/v1`, apiKey: 'unused', maxRetries: 0 }), 'gpt-image-1'],
];

describe.each(clients)('image edits and variations through %s', (_name, client, model) => {
  it('images.edit sends one image, or several as image[], with a mask and the prompt', async () => {
    const one = await client().images.edit({ model, image: png('cat.png'), prompt: 'add a hat', n: 2 });
    expect(one.data).toHaveLength(2);
    expect(described(one.data?.[0]?.b64_json)).toBe(`cat.png:${PIXELS.length} add a hat`);
    const several = await client().images.edit({ model, image: [png('a.png'), png('b.png', PIXELS.subarray(0, 10))],
      mask: png('mask.png', PIXELS.subarray(0, 5)), prompt: 'merge' });
    expect(described(several.data?.[0]?.b64_json)).toBe(`a.png:${PIXELS.length},b.png:10 mask:5 merge`);
    const upstream = h.fake.requests.at(-1)!;
    const form = await new Response(upstream.rawBytes, { headers: { 'content-type': String(upstream.headers['content-type']) } }).formData();
    expect(form.get('model')).toBe('gpt-image-1');
    expect(new Uint8Array(await (form.getAll('image[]')[0] as File).arrayBuffer())).toEqual(PIXELS);
  });

  it('images.createVariation sends one image', async () => {
    const answer = await client().images.createVariation({ model: model.replace('gpt-image-1', 'dall-e-2'), image: png('dog.png') });
    expect(described(answer.data?.[0]?.b64_json)).toBe(`dog.png:${PIXELS.length}`);
    expect(h.fake.requests.at(-1)!.path).toBe('/v1/images/variations');
  });
});

describe('image edits: refusals', () => {
  it('refuses a provider without OpenAI\'s images endpoints, naming it, and a form without its image', async () => {
    const refused = await apiError(h.client.images.edit({ model: 'mock/echo', image: png('x.png'), prompt: 'p' }));
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/provider 'mock' does not support OpenAI's image edit endpoint/);
    const form = new FormData();
    form.append('model', 'openai/gpt-image-1');
    form.append('prompt', 'p');
    const missing = await fetch(`${h.url}/v1/images/edits`, { method: 'POST', body: form });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { param: string } }).error.param).toBe('image');
    const json = await fetch(`${h.url}/v1/images/variations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(h.fake.requests).toHaveLength(0);
  });
});
