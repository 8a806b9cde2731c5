// Stage 1: the body as a chat request. Only what the gateway itself needs is checked (model, messages, stream,
// stream_options); every other field travels on to the provider as the client sent it.

import { isUtf8 } from 'node:buffer';
import type { JobKind } from '../contract/messages.js';
import type { ErrorData } from '../errors/error-data.js';
import type { ChatRequestBody } from '../plugins/contract.js';
import { GatewayError } from '../errors/gateway-error.js';

export interface ParsedRequest {
  kind: JobKind;
  body: ChatRequestBody;
  stream: boolean;
  includeUsage: boolean;
  /** The request in the client's own API, for a provider that has that API (capability `responses` or `messages`):
   * sent as it is. */
  native?: NativeRequest;
  /**
   * Fields of the client's request the route's translation to chat left out (`messages.0.content.1.citations`):
   * reported when the request is translated; a provider with the client's API natively gets them all (`native`).
   */
  dropped?: readonly string[];
}

export interface NativeRequest {
  readonly kind: JobKind;
  /** The client's body, less the gateway's own fields (`fallbacks`). */
  readonly body: Record<string, unknown>;
  /** Why the request cannot be translated through chat: the error a provider without the native API gets; else null. */
  readonly untranslatable: ErrorData | null;
}

/**
 * Where the first byte that is not well-formed UTF-8 starts (Unicode's table 3-7: no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), or -1. Only run once `isUtf8` said no, to tell the client where.
 */
export function firstMalformedUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const [length, low, high] = lead >= 0xc2 && lead <= 0xdf ? [2, 0x80, 0xbf]
      : lead === 0xe0 ? [3, 0xa0, 0xbf]
        : lead === 0xed ? [3, 0x80, 0x9f]
          : lead >= 0xe1 && lead <= 0xef ? [3, 0x80, 0xbf]
            : lead === 0xf0 ? [4, 0x90, 0xbf]
              : lead >= 0xf1 && lead <= 0xf3 ? [4, 0x80, 0xbf]
                : lead === 0xf4 ? [4, 0x80, 0x8f] : [0, 0, 0];
    if (length === 0 || !(bytes[i + 1] >= low && bytes[i + 1] <= high)) return i;
    for (let k = 2; k < length; k++) if (!(bytes[i + k] >= 0x80 && bytes[i + k] <= 0xbf)) return i;
    i += length;
  }
  return -1;
}

/** The body as a JSON object: what every inference route, whatever its dialect, needs first. */
export function parseJsonObjectBody(raw: Buffer | null): Record<string, unknown> {
  if (!raw || raw.length === 0) throw new GatewayError('INVALID_REQUEST', 'the request body is empty; send a JSON request');
  // JSON travels as UTF-8 (RFC 8259 §8.1). Decoding bad bytes to U+FFFD would hand the provider a prompt the client
  // never wrote, so such a body is refused, and the client told where.
  if (!isUtf8(raw)) {
    throw new GatewayError('INVALID_JSON',
      `the body is not valid UTF-8 (a malformed sequence at byte ${firstMalformedUtf8(raw)}); JSON must be sent as UTF-8`);
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new GatewayError('INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('INVALID_REQUEST', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** The body as a JSON object with a string `model`. */
export function parseModelRequest(raw: Buffer | null): Record<string, unknown> & { model: string } {
  const request = parseJsonObjectBody(raw);
  if (typeof request.model !== 'string' || request.model.length === 0) {
    throw new GatewayError('INVALID_REQUEST', "'model' is required and must be a non-empty string, like \"openai/gpt-4o-mini\"",
      { param: 'model' });
  }
  return request as Record<string, unknown> & { model: string };
}

export function parseEmbeddingsRequest(raw: Buffer | null): ParsedRequest {
  const request = parseModelRequest(raw);
  const input = request.input;
  const valid = (typeof input === 'string' && input.length > 0) ||
    (Array.isArray(input) && input.length > 0 && (input.every((item) => typeof item === 'string') ||
      input.every((item) => Number.isInteger(item)) ||
      input.every((item) => Array.isArray(item) && item.length > 0 && item.every((token) => Number.isInteger(token)))));
  if (!valid) {
    throw new GatewayError('INVALID_REQUEST', "'input' must be a non-empty string, an array of strings, or token arrays",
      { param: 'input' });
  }
  return { kind: 'embeddings', body: request as unknown as ChatRequestBody, stream: false, includeUsage: false };
}

export function parseChatRequest(raw: Buffer | null): ParsedRequest {
  const request = parseModelRequest(raw);
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new GatewayError('INVALID_REQUEST', "'messages' must be a non-empty array", { param: 'messages' });
  }
  for (let i = 0; i < request.messages.length; i++) {
    const message = request.messages[i] as { role?: unknown } | null;
    if (typeof message !== 'object' || message === null || typeof message.role !== 'string') {
      throw new GatewayError('INVALID_REQUEST', `messages[${i}] must be an object with a string 'role'`, { param: `messages[${i}]` });
    }
  }
  if (request.stream !== undefined && request.stream !== null && typeof request.stream !== 'boolean') {
    throw new GatewayError('INVALID_REQUEST', "'stream' must be a boolean", { param: 'stream' });
  }
  const options = request.stream_options;
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw new GatewayError('INVALID_REQUEST', "'stream_options' must be an object", { param: 'stream_options' });
  }
  const stream = request.stream === true;
  const includeUsage = stream && (options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  return { kind: 'chat', body: request as ChatRequestBody, stream, includeUsage };
}
