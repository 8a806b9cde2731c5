import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { describe, expect, it } from 'vitest';
import { AwsEventStreamDecoder } from '../../../../workers/upstream/aws-eventstream.js';
import { createDecoder } from '../../../../workers/upstream/decoders.js';

// Frames built by the AWS SDK's own codec, as a Bedrock stream carries them.
const codec = new EventStreamCodec(toUtf8, fromUtf8);
const text = (value: string) => ({ type: 'string' as const, value });

const frames = [
  codec.encode({ headers: { ':event-type': text('messageStart'), ':content-type': text('application/json'), ':message-type': text('event') },
    body: fromUtf8('{"role":"assistant","p":"abcd"}') }),
  codec.encode({ headers: { ':event-type': text('contentBlockDelta'), ':content-type': text('application/json'), ':message-type': text('event') },
    body: fromUtf8('{"contentBlockIndex":0,"delta":{"text":"héllo 👋"}}') }),
  // Headers of other types than string, as the framing allows.
  codec.encode({ headers: { ':event-type': text('metadata'), ':message-type': text('event'), flag: { type: 'boolean', value: true },
    count: { type: 'integer', value: 7 } }, body: fromUtf8('{"usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7}}') }),
  codec.encode({ headers: { ':exception-type': text('throttlingException'), ':content-type': text('application/json'), ':message-type': text('exception') },
    body: fromUtf8('{"message":"slow down"}') }),
  codec.encode({ headers: { ':error-code': text('InternalFailure'), ':error-message': text('it broke'), ':message-type': text('error') },
    body: new Uint8Array(0) }),
];
const expected = [
  { event: 'messageStart', data: '{"role":"assistant","p":"abcd"}' },
  { event: 'contentBlockDelta', data: '{"contentBlockIndex":0,"delta":{"text":"héllo 👋"}}' },
  { event: 'metadata', data: '{"usage":{"inputTokens":3,"outputTokens":4,"totalTokens":7}}' },
  { event: 'throttlingException', data: '{"message":"slow down"}' },
  { event: 'InternalFailure', data: '{"message":"it broke"}' },
];
const body = Buffer.concat(frames);

describe('AWS event-stream decoder', () => {
  it('is the decoder for the aws-eventstream format', () => {
    expect(createDecoder('aws-eventstream')).toBeInstanceOf(AwsEventStreamDecoder);
  });

  it('decodes a whole body', () => {
    const decoder = new AwsEventStreamDecoder();
    expect(decoder.push(body)).toEqual(expected);
    expect(decoder.hasPartialEvent).toBe(false);
  });

  it('gives the same events however the body is split in two, at every byte', () => {
    for (let cut = 1; cut < body.byteLength; cut++) {
      const decoder = new AwsEventStreamDecoder();
      const events = [...decoder.push(body.subarray(0, cut)), ...decoder.push(body.subarray(cut))];
      expect(events, `split at byte ${cut}`).toEqual(expected);
      expect(decoder.hasPartialEvent).toBe(false);
    }
  });

  it('gives the same events fed one byte at a time, each event as soon as its last byte is in', () => {
    const decoder = new AwsEventStreamDecoder();
    const events = [];
    let offset = 0;
    for (const [n, frame] of frames.entries()) {
      for (let i = 0; i < frame.byteLength; i++) {
        const out = decoder.push(body.subarray(offset + i, offset + i + 1));
        if (i < frame.byteLength - 1) {
          expect(out).toEqual([]);
          expect(decoder.hasPartialEvent).toBe(true);
        } else {
          expect(out).toEqual([expected[n]]);
        }
        events.push(...out);
      }
      offset += frame.byteLength;
    }
    expect(events).toEqual(expected);
  });

  it('reports an unfinished frame left at the end of a body', () => {
    const decoder = new AwsEventStreamDecoder();
    expect(decoder.push(body.subarray(0, frames[0].byteLength + 10))).toEqual([expected[0]]);
    expect(decoder.hasPartialEvent).toBe(true);
  });

  it('refuses a frame whose checksum does not match, and bytes that are not event-stream framing', () => {
    const corrupt = Buffer.from(frames[1]);
    corrupt[corrupt.byteLength - 10] ^= 0xff;
    expect(() => new AwsEventStreamDecoder().push(corrupt)).toThrow(/checksum/i);
    expect(() => new AwsEventStreamDecoder().push(Buffer.from('data: {"a":1}\n\n'))).toThrow(/out of range/);
  });
});
