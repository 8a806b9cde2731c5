// Stream decoders by the adapters' declared stream format. Each turns raw body chunks into StreamEvents.

import type { StreamEvent, StreamFormat } from '../providers/types.js';
import { SseDecoder } from './sse.js';

export interface StreamDecoder {
  push(chunk: Uint8Array): StreamEvent[];
  /** Bytes of an unfinished event are left over: at the end of a body this means truncation. */
  readonly hasPartialEvent: boolean;
}

const factories: Partial<Record<StreamFormat, () => StreamDecoder>> = {
  sse: () => new SseDecoder(),
};

export function registerDecoder(format: StreamFormat, factory: () => StreamDecoder): void {
  factories[format] = factory;
}

export function createDecoder(format: StreamFormat): StreamDecoder {
  const factory = factories[format];
  if (!factory) throw new Error(`no decoder for stream format '${format}' in this build`);
  return factory();
}
