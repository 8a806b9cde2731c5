// The pure transforms of Gemini's media (gemini-media.ts) and the shared ones (media-shared.ts): what the
// integration suite (test/integration/providers/google-media.test.ts) cannot easily provoke from a fake.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { JobData } from '../../../../src/contract/messages.js';
import { geminiImageCall, geminiMediaAnswer, geminiSpeechCall } from '../../../../workers/providers/gemini-media.js';
import { imageRequest, nearestAspectRatio, wavOfPcm } from '../../../../workers/providers/media-shared.js';
import { vertex } from '../../../../workers/providers/vertex.js';

const job = (kind: JobData['kind'], body: Record<string, unknown>, model = 'gemini-2.5-flash-preview-tts'): JobData =>
  ({ modelLabel: 0, kind, requestId: 'r', model, keyIndex: 0, stream: false, includeUsage: false, body: { model, ...body } });

describe('media-shared', () => {
  it('wraps PCM in a 44-byte RIFF/WAVE header that says its rate and length', () => {
    const wav = wavOfPcm(Buffer.from([1, 2, 3, 4]), 16000);
    expect(wav.length).toBe(48);
    expect(wav.readUInt32LE(4)).toBe(40);
    expect(wav.readUInt32LE(24)).toBe(16000);
    expect(wav.readUInt32LE(28)).toBe(32000);
    expect([...wav.subarray(44)]).toEqual([1, 2, 3, 4]);
  });

  it('picks the nearest aspect ratio on a log scale', () => {
    const ratios = ['1:1', '3:4', '4:3', '9:16', '16:9'];
    expect(nearestAspectRatio({ width: 1024, height: 1024 }, ratios)).toBe('1:1');
    expect(nearestAspectRatio({ width: 1792, height: 1024 }, ratios)).toBe('16:9');
    expect(nearestAspectRatio({ width: 1024, height: 1536 }, ratios)).toBe('3:4');
  });

  it('reads an images request; a size it cannot read and a bad n are the client\'s 400', () => {
    expect(imageRequest(job('image_generation', { prompt: 'p', size: 'auto', quality: 'hd', response_format: 'b64_json' })))
      .toEqual({ prompt: 'p', count: 1, size: null, droppedParams: ['quality'] });
    expect(() => imageRequest(job('image_generation', { prompt: 'p', size: 'big' }))).toThrow(/WIDTHxHEIGHT/);
    expect(() => imageRequest(job('image_generation', { prompt: 'p', n: 0 }))).toThrow(/positive integer/);
  });
});

describe('Gemini media', () => {
  it('takes a voice given as {id}, and refuses a speech request without one', () => {
    expect(geminiSpeechCall(job('speech', { input: 'x', voice: { id: 'Puck' } })).body.generationConfig)
      .toMatchObject({ speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Puck' } } } });
    expect(() => geminiSpeechCall(job('speech', { input: 'x', voice: {} }))).toThrow(/voice/);
  });

  it('refuses a speech format it cannot make from PCM, naming those it can', () => {
    for (const format of ['opus', 'aac', 'flac', 'ogg']) {
      expect(() => geminiSpeechCall(job('speech', { input: 'x', voice: 'Kore', response_format: format })))
        .toThrow(new RegExp(`response_format '${format}' cannot be made.*use wav, mp3, pcm`));
    }
    expect(geminiSpeechCall(job('speech', { input: 'x', voice: 'Kore', response_format: 'mp3' })).droppedParams).toEqual([]);
  });

  it('encodes a long PCM answer as MP3 in slices, its frames covering every sample', async () => {
    // 3 s of a 24 kHz tone, from an odd offset (as base64 decoding may leave it).
    const samples = 24000 * 3;
    const pcm = Buffer.alloc(samples * 2 + 1).subarray(1);
    for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000)), i * 2);
    const answer = await geminiMediaAnswer(JSON.stringify({ candidates: [{ content: { parts: [{ inlineData: {
      mimeType: 'audio/L16;codec=pcm;rate=24000', data: pcm.toString('base64') } }] } }] }),
    job('speech', { input: 'x', voice: 'Kore', response_format: 'mp3' }));
    expect(answer.contentType).toBe('audio/mpeg');
    const mp3 = Buffer.from(answer.body as Uint8Array);
    // MPEG-2 Layer III frames at 24 kHz, 64 kbit/s: 576 samples and 192 bytes (a padded one 193) each.
    let frames = 0;
    for (let at = 0; at + 4 <= mp3.length; frames++) {
      expect([mp3[at], mp3[at + 1] & 0xfe]).toEqual([0xff, 0xf2]);
      expect((mp3[at + 2] >> 4) & 0xf).toBe(8);
      expect((mp3[at + 2] >> 2) & 3).toBe(1);
      at += 192 + ((mp3[at + 2] >> 1) & 1);
    }
    expect(frames * 576).toBeGreaterThanOrEqual(samples);
    expect(frames * 576).toBeLessThan(samples + 576 * 4);
  });

  it('answers a speech that was not raw PCM with its own type; a blocked prompt or no audio is unreadable', async () => {
    const wav = await geminiMediaAnswer(JSON.stringify({ candidates: [{ content: { parts: [{ inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } }] } }] }),
      job('speech', { input: 'x', voice: 'Kore' }));
    expect(wav.contentType).toBe('audio/wav');
    expect(Buffer.from(wav.body as Uint8Array).toString('latin1')).toBe('RIFF');
    expect(() => geminiMediaAnswer(JSON.stringify({ promptFeedback: { blockReason: 'SAFETY' } }), job('speech', { input: 'x', voice: 'Kore' })))
      .toThrow(/blocked \(SAFETY\)/);
    expect(() => geminiMediaAnswer(JSON.stringify({ candidates: [{ content: { parts: [{ text: 'no' }] } }] }), job('speech', { input: 'x', voice: 'Kore' })))
      .toThrow(/no audio/);
  });

  it('an Imagen answer whose every image was filtered is an error, not an empty list', () => {
    const imagen = job('image_generation', { prompt: 'p' }, 'imagen-3.0-generate-002');
    expect(geminiImageCall(imagen).action).toBe('predict');
    expect(() => geminiMediaAnswer(JSON.stringify({ predictions: [{ raiFilteredReason: 'blocked' }] }), imagen)).toThrow(/safety filter/);
  });
});

describe('Claude on Vertex', () => {
  it('counts tokens at count-tokens:rawPredict, with the model and the counted fields in the body', () => {
    const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const target = { baseUrl: 'http://127.0.0.1:9', key: { value: '', configs: { vertex_key_config: { project_id: 'p', region: 'us-east5',
      auth_credentials: { type: 'service_account', client_email: 'a@b', private_key: privateKey, token_uri: 'http://x' } } } } };
    const counting = job('count_tokens', { messages: [{ role: 'user', content: 'hi' }], temperature: 0.2 }, 'claude-sonnet-4-5@20250929');
    const call = vertex.countTokensCall!(counting, target);
    expect(call.url).toBe('http://127.0.0.1:9/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict');
    expect(JSON.parse(call.body as string)).toEqual({ model: 'claude-sonnet-4-5@20250929', messages: [{ role: 'user', content: 'hi' }] });
    expect(JSON.parse(vertex.countTokensAnswer!('{"input_tokens":12}', counting).body as string)).toEqual({ input_tokens: 12 });
    expect(() => vertex.countTokensAnswer!('{"totalTokens":12}', counting)).toThrow(/input_tokens/);
  });
});
