// Batch input files the gateway holds itself: an OpenAI batch JSONL uploaded through /v1/files for a provider whose
// batch API takes its requests in the batch itself, not from a file (Anthropic's Message Batches). The file stays
// here until the client deletes it, its lines go to the provider when a batch is created from it, and the batch
// remembers it as its `input_file_id`. Held in memory, bounded in bytes: a restart forgets them (the batches live at
// the provider, and their results are read from there).

import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';

export const HELD_FILE_PREFIX = 'file-heimdall-';

export interface HeldFile {
  readonly id: string;
  readonly provider: string;
  readonly filename: string;
  readonly bytes: Buffer;
  readonly createdAt: number;
}

/** A batch's input file is remembered for this many batches at most, the oldest forgotten first. */
const MAX_BATCHES = 100_000;

export class HeldFiles {
  readonly #files = new Map<string, HeldFile>();
  readonly #inputs = new Map<string, string>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  hold(provider: string, filename: string, bytes: Buffer): HeldFile {
    if (this.#bytes + bytes.length > this.#maxBytes) {
      throw new GatewayError('BODY_TOO_LARGE', `the gateway holds ${this.#maxBytes} bytes of batch files at most; delete files of `
        + 'finished batches (files.delete) to make room');
    }
    const file: HeldFile = { id: `${HELD_FILE_PREFIX}${randomBytes(12).toString('hex')}`, provider, filename, bytes,
      createdAt: Math.floor(Date.now() / 1000) };
    this.#files.set(file.id, file);
    this.#bytes += bytes.length;
    return file;
  }

  get(id: string): HeldFile | undefined {
    return this.#files.get(id);
  }

  delete(id: string): boolean {
    const file = this.#files.get(id);
    if (!file) return false;
    this.#files.delete(id);
    this.#bytes -= file.bytes.length;
    return true;
  }

  noteBatch(batchId: string, fileId: string): void {
    if (this.#inputs.size >= MAX_BATCHES) this.#inputs.delete(this.#inputs.keys().next().value!);
    this.#inputs.set(batchId, fileId);
  }

  inputOf(batchId: string): string | undefined {
    return this.#inputs.get(batchId);
  }
}
