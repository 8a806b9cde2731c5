// `/genai` generateContent asking for audio (`responseModalities: ["AUDIO"]`, `speechConfig`) or images, with
// `@google/genai` as the client, through the real, built gateway in front of the fake Gemini API: carried as speech and
// image jobs and answered with `inlineData` parts, as Google answers.

import { GoogleGenAI, Modality } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeImageBytes, fakeSpeechPcm, startFakeGemini, type FakeGemini } from '../../fakes/gemini-server.js';
import { startGatewayWith, type Harness } from '../harness.js';

let h: Harness<FakeGemini>;
let ai: GoogleGenAI;

beforeAll(async () => {
  const fake = await startFakeGemini();
  h = await startGatewayWith(fake, (fakeUrl) => ({ providers: {
    gemini: { keys: [{ value: 'AIza-test', models: ['*'], weight: 1 }], network_config: { base_url: fakeUrl },
      concurrency_and_buffer_size: { concurrency: 50, buffer_size: 50, threads: 1 } },
    mock: {},
  } }));
  ai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: `${h.url}/genai` } });
});

afterAll(async () => {
  await h?.close();
});

describe('/genai audio and image answers', () => {
  it('speechConfig: the prebuilt voice, the text spoken, the PCM back as an inlineData part', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.5-flash-preview-tts', contents: 'Say cheerfully: Have a wonderful day!',
      config: { responseModalities: [Modality.AUDIO], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } } } });
    const part = response.candidates![0].content!.parts![0];
    expect(part.inlineData!.mimeType).toBe('audio/L16;codec=pcm;rate=24000');
    expect(Buffer.from(part.inlineData!.data!, 'base64')).toEqual(fakeSpeechPcm('Say cheerfully: Have a wonderful day!'));
    expect(h.fake.requests.at(-1)!.body!.generationConfig).toEqual({ responseModalities: ['AUDIO'],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } } });
  });

  it('IMAGE: an image model\'s picture as an inlineData part, the aspect ratio carried', async () => {
    const response = await ai.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'a fjord',
      config: { responseModalities: [Modality.TEXT, Modality.IMAGE], imageConfig: { aspectRatio: '16:9' } } });
    const image = response.candidates![0].content!.parts!.find((part) => part.inlineData)!;
    expect(Buffer.from(image.inlineData!.data!, 'base64')).toEqual(fakeImageBytes('a fjord'));
    expect(h.fake.requests.at(-1)!.body!.generationConfig).toEqual({ responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '16:9' } });
  });

  it('refuses what it cannot carry, in Google\'s error shape: no voice, a stream, a provider without speech', async () => {
    const status = (promise: Promise<unknown>) => promise.then(() => 200, (error: { status?: number; message?: string }) => [error.status, error.message]);
    const noVoice = await status(ai.models.generateContent({ model: 'gemini-2.5-flash-preview-tts', contents: 'x',
      config: { responseModalities: [Modality.AUDIO] } }));
    expect(noVoice).toEqual([400, expect.stringContaining('voiceName')]);
    const streamed = await status(ai.models.generateContentStream({ model: 'gemini-2.5-flash-preview-tts', contents: 'x',
      config: { responseModalities: [Modality.AUDIO], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } } } }));
    expect(streamed).toEqual([400, expect.stringContaining('not streamed')]);
    const mock = await status(ai.models.generateContent({ model: 'mock/echo', contents: 'x',
      config: { responseModalities: [Modality.AUDIO], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } } } }));
    expect(mock).toEqual([400, expect.stringContaining('speech')]);
  });
});
