// Properties of the request parsers over generated input: whatever the bytes, the result is a ParsedRequest or a
// GatewayError with a 4xx status, never another exception; what they accept they keep as sent.

import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError, statusOf } from '../../../src/errors/gateway-error.js';
import { firstMalformedUtf8, parseChatRequest, parseEmbeddingsRequest, type ParsedRequest } from '../../../src/pipeline/parse.js';

const RUNS = { numRuns: 200 };

/** Parses, and holds the parser to its contract: a ParsedRequest, or a GatewayError with a 4xx status. */
function parsedOrRefused(parse: (raw: Buffer | null) => ParsedRequest, raw: Buffer): ParsedRequest | null {
  try {
    return parse(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    const status = statusOf((error as GatewayError).data);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect((error as GatewayError).data.message.length).toBeGreaterThan(0);
    return null;
  }
}

const role = fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), fc.anything());
const message = fc.oneof(
  fc.record({ role, content: fc.oneof(fc.string(), fc.constant(null), fc.anything()) }, { requiredKeys: ['role'] }),
  fc.anything(),
);
/** Mostly chat-shaped objects, every field sometimes of a wrong type. */
const chatLike = fc.record({
  model: fc.oneof(fc.constantFrom('openai/gpt-4o', 'mock/echo', '', 'no-slash'), fc.anything()),
  messages: fc.oneof(fc.array(message, { maxLength: 5 }), fc.anything()),
  stream: fc.oneof(fc.boolean(), fc.anything()),
  stream_options: fc.oneof(fc.record({ include_usage: fc.oneof(fc.boolean(), fc.anything()) }), fc.anything()),
  input: fc.oneof(fc.string(), fc.array(fc.string()), fc.array(fc.integer()), fc.array(fc.array(fc.integer())), fc.anything()),
  temperature: fc.anything(),
}, { requiredKeys: [] });

const PARSERS = [['chat', parseChatRequest], ['embeddings', parseEmbeddingsRequest]] as const;

describe.each(PARSERS)('%s request parser, over generated input', (_kind, parse) => {
  it('any byte string: parsed or refused with a 4xx GatewayError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      parsedOrRefused(parse, Buffer.from(bytes));
    }), RUNS);
  });

  it('any JSON value: parsed or refused with a 4xx GatewayError', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      parsedOrRefused(parse, Buffer.from(JSON.stringify(value) ?? 'null'));
    }), RUNS);
  });

  it('request-shaped objects with fields of any type: parsed or refused, and what is parsed is what was sent', () => {
    fc.assert(fc.property(chatLike, (value) => {
      const text = JSON.stringify(value);
      const parsed = parsedOrRefused(parse, Buffer.from(text));
      if (!parsed) return;
      expect(typeof parsed.body.model).toBe('string');
      expect(JSON.stringify(parsed.body)).toBe(JSON.stringify(JSON.parse(text)));
      expect(parsed.includeUsage && !parsed.stream).toBe(false);
    }), RUNS);
  });

  it('any text, cut short anywhere: parsed or refused', () => {
    fc.assert(fc.property(chatLike, fc.nat(), (value, cut) => {
      const bytes = Buffer.from(JSON.stringify(value));
      parsedOrRefused(parse, bytes.subarray(0, cut % (bytes.length + 1)));
    }), RUNS);
  });
});

describe('UTF-8 check of the body', () => {
  it('finds a malformed sequence exactly when isUtf8 says the bytes are not UTF-8', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const at = firstMalformedUtf8(bytes);
      expect(at === -1).toBe(isUtf8(bytes));
      // Everything before the reported byte is well-formed.
      if (at !== -1) expect(isUtf8(bytes.subarray(0, at))).toBe(true);
    }), { numRuns: 1_000 });
  });

  it('accepts any string encoded as UTF-8, and refuses it once one byte is replaced by a stray continuation byte', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.nat(), (text, where) => {
      const bytes = Buffer.from(text, 'utf8');
      expect(firstMalformedUtf8(bytes)).toBe(-1);
      const spoiled = Buffer.concat([bytes.subarray(0, where % (bytes.length + 1)), Buffer.from([0x80]),
        bytes.subarray(where % (bytes.length + 1))]);
      expect(firstMalformedUtf8(spoiled)).toBeGreaterThanOrEqual(0);
      expect(() => parseChatRequest(spoiled)).toThrow(/not valid UTF-8/);
    }), RUNS);
  });
});
