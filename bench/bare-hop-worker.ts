/** The worker thread of bench/bare-hop.ts: bodies in from the job ring, sent upstream, answers out. */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { Pool } from 'undici';
import { DEFAULT_RING_SHAPE } from '../src/contract/ring-layout.js';
import { RingReader, RingWriter } from '../src/contract/ring.js';

export const UPSTREAM_PATH = '/v1/chat/completions';

/** The bench's two-thread targets and the flags bare-hop.js takes for each. */
export const HOP_FLAGS = { 'bare-hop': [], 'minimum-hop': ['--minimum'], 'bytes-hop': ['--bytes'] } as const satisfies Record<string, readonly string[]>;
export type HopTarget = keyof typeof HOP_FLAGS;
export const isHopTarget = (target: string): target is HopTarget => Object.hasOwn(HOP_FLAGS, target);

const JSON_HEADERS = { 'content-type': 'application/json' };

export interface HopInit {
  jobs: SharedArrayBuffer;
  results: SharedArrayBuffer;
  upstream: string;
  connections: number;
  /** The least a gateway must do on top of the hop (see `runMinimumWorker`); false: bytes through, nothing else. */
  minimum: boolean;
  /** With `minimum`: the stream's reads cross as the upstream's bytes, scanned (not split) for the usage. */
  bytes: boolean;
}

/** What a result frame carries: a whole answer, or a stream's start (its status), one upstream read of it, its end. */
export const WHOLE = 0;
export const STREAM_START = 1;
export const STREAM_DATA = 2;
export const STREAM_END = 3;

/** `id` (uint32) then the payload; a result also carries the status (uint16) and its kind (uint8) between them. */
export function frame(id: number, payload: Uint8Array, status?: number, kind = WHOLE): Uint8Array {
  const head = status === undefined ? 4 : 7;
  const out = new Uint8Array(head + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, id, true);
  if (status !== undefined) {
    view.setUint16(4, status, true);
    view.setUint8(6, kind);
  }
  out.set(payload, head);
  return out;
}

const NOTHING = new Uint8Array(0);

function runWorker(init: HopInit): void {
  if (init.minimum) {
    runMinimumWorker(init);
    return;
  }
  const pool = new Pool(init.upstream, { connections: init.connections, pipelining: 1 });
  const results = new RingWriter(init.results, DEFAULT_RING_SHAPE);
  const forward = async (id: number, body: Uint8Array): Promise<void> => {
    try {
      const up = await pool.request({ path: UPSTREAM_PATH, method: 'POST', headers: JSON_HEADERS, body });
      if (!String(up.headers['content-type']).startsWith('text/event-stream')) {
        results.send(frame(id, new Uint8Array(await up.body.arrayBuffer()), up.statusCode));
        return;
      }
      // A stream crosses as Heimdall's does: one ring message per upstream read, as it arrives.
      results.send(frame(id, NOTHING, up.statusCode, STREAM_START));
      for await (const chunk of up.body) results.send(frame(id, chunk as Buffer, up.statusCode, STREAM_DATA));
      results.send(frame(id, NOTHING, up.statusCode, STREAM_END));
    } catch (error) {
      results.send(frame(id, Buffer.from(JSON.stringify({ error: { message: `upstream: ${(error as Error).message}` } })), 502));
    }
  };
  new RingReader(init.jobs, DEFAULT_RING_SHAPE, (message) => {
    const id = new DataView(message.buffer, message.byteOffset).getUint32(0, true);
    void forward(id, message.subarray(4));
  }).start();
  // A pending Atomics.waitAsync does not keep a thread's event loop alive; a listened-to port does (until terminate).
  parentPort!.on('message', () => {});
}

/** Both threads of the minimum hop encode as Heimdall's messages do: msgpack, arrays, no records. */
export const minimumPackr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });

/**
 * The worker of `--minimum`: what no gateway on this design can skip, done the plain way. The job crosses as
 * msgpack ([id, model, the parsed request]); the request goes upstream re-serialised under the provider's model name,
 * asking for the usage; each upstream read is split into its SSE events, the usage read from the event that carries
 * it, and the events cross as msgpack ([id, kind, status, events]) for the front to frame and write.
 */
function runMinimumWorker(init: HopInit): void {
  const pool = new Pool(init.upstream, { connections: init.connections, pipelining: 1 });
  const results = new RingWriter(init.results, DEFAULT_RING_SHAPE);
  const send = (message: unknown[]) => results.send(new Uint8Array(minimumPackr.pack(message)));
  const forward = async (id: number, model: string, request: Record<string, unknown>): Promise<void> => {
    try {
      request.model = model;
      if (request.stream === true) request.stream_options = { include_usage: true };
      const up = await pool.request({ path: UPSTREAM_PATH, method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(request) });
      if (!String(up.headers['content-type']).startsWith('text/event-stream')) {
        const text = await up.body.text();
        const usage = up.statusCode === 200 ? (JSON.parse(text) as { usage?: unknown }).usage ?? null : null;
        send([id, WHOLE, up.statusCode, text, usage]);
        return;
      }
      if (init.bytes) {
        await forwardBytes(up.body as AsyncIterable<Buffer>, (kind, reads, found) => send([id, kind, up.statusCode, reads, found]));
        return;
      }
      let carry = '';
      let usage: unknown = null;
      const events = batchPerTurn<string>((batch) => send([id, STREAM_DATA, up.statusCode, batch]));
      for await (const read of up.body) {
        // A character cut between two reads is not held back, as a gateway must: the bench's mock writes ASCII.
        const blocks = (carry + (read as Buffer).toString()).split('\n\n');
        carry = blocks.pop()!;
        for (const block of blocks) {
          if (!block.startsWith('data: ')) continue;
          const data = block.slice(6);
          if (data === '[DONE]') continue;
          if (data.includes('"usage":{')) usage = (JSON.parse(data) as { usage: unknown }).usage;
          events.add(data);
        }
      }
      send([id, STREAM_END, up.statusCode, events.rest(), usage]);
    } catch (error) {
      send([id, WHOLE, 502, JSON.stringify({ error: { message: `upstream: ${(error as Error).message}` } }), null]);
    }
  };
  new RingReader(init.jobs, DEFAULT_RING_SHAPE, (message) => {
    const [id, model, request] = minimumPackr.unpack(message) as [number, string, Record<string, unknown>];
    void forward(id, model, request);
  }, { transient: true }).start();
  parentPort!.on('message', () => {});
}

const USAGE_BYTES = Buffer.from('"usage":{');
const EVENT_END = Buffer.from('\n\n');

/**
 * `--bytes`: the minimum hop with a stream forwarded as the upstream's bytes (issue 30's first idea, measured against
 * the minimum hop's events). Each read crosses untouched (msgpack binary); only the event with the usage is parsed.
 * An event cut by a read's end is carried into the next read's search, so a usage event split in two is still found.
 * Like the minimum hop, it forwards the usage event it asked for; unlike a real gateway, it does not cut the
 * `"usage":null` a real upstream puts on every chunk once asked (the bench's mock sends none): a floor in its favour.
 */
export async function forwardBytes(body: AsyncIterable<Buffer>, send: (kind: number, reads: Buffer[], usage: unknown) => void): Promise<void> {
  let usage: unknown = null;
  let carried: Buffer | null = null;
  const reads = batchPerTurn<Buffer>((batch) => send(STREAM_DATA, batch, null));
  for await (const read of body) {
    reads.add(read);
    if (usage === null) {
      const text: Buffer = carried ? Buffer.concat([carried, read]) : read;
      const at = text.indexOf(USAGE_BYTES);
      const end = at === -1 ? -1 : text.indexOf(EVENT_END, at);
      if (end !== -1) {
        const start = text.lastIndexOf('data: ', at) + 6;
        usage = (JSON.parse(text.toString('utf8', start, end)) as { usage: unknown }).usage;
      }
      const lastEnd = text.lastIndexOf(EVENT_END);
      carried = usage !== null || lastEnd === text.length - 2 ? null : text.subarray(lastEnd === -1 ? 0 : lastEnd + 2);
    }
  }
  send(STREAM_END, reads.rest(), usage);
}

/**
 * As Heimdall's worker sends a stream: what one turn of reads produced crosses in one message, sent from the check
 * phase, and what is left when the body ends goes with the end (`rest`), so an answer read at once is one message.
 */
function batchPerTurn<T>(sendBatch: (batch: T[]) => void): { add(item: T): void; rest(): T[] } {
  let pending: T[] = [];
  let queued = false;
  const flush = () => {
    queued = false;
    if (pending.length === 0) return;
    sendBatch(pending);
    pending = [];
  };
  return {
    add(item: T) {
      pending.push(item);
      if (queued) return;
      queued = true;
      setImmediate(flush);
    },
    rest() {
      const rest = pending;
      pending = [];
      return rest;
    },
  };
}

// Imported by the front thread for `frame`; runs only as the worker.
if (!isMainThread) runWorker(workerData as HopInit);
