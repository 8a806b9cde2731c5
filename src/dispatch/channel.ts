// The front thread's end of one worker: its two rings, the long-lived serve task that Piscina runs on the
// worker, and the requests in flight on it. When the worker dies, every request in flight gets WORKER_DIED,
// the rings are replaced, and the serve task is started again on the thread Piscina spawns in its place.

import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { MessageSender, receiveMessage } from '../contract/large-messages.js';
import {
  MSG_BYTES, MSG_CANCEL, MSG_CHUNKS, MSG_ERROR, MSG_READY, MSG_RESULT, MSG_STREAM_END,
  type AttemptTimes, type FrontToWorker, type ResultMeta, type StreamEndMeta, type StreamHead, type UsageData,
  type WorkerToFront,
} from '../contract/messages.js';
import type { RingShape } from '../contract/ring-layout.js';
import { createRingBuffer, RingReader, RingWriter } from '../contract/ring.js';
import { THREAD_MEMORY_FIELDS, type WorkerInit } from '../contract/worker-init.js';
import type { ErrorData } from '../errors/error-data.js';

export interface JobHandlers {
  onResult(status: number, body: string | Uint8Array, meta: ResultMeta): void;
  /** `droppedParams` comes with the first chunks of a stream only. */
  onChunks(chunks: string[], droppedParams: string[] | null): void;
  onEnd(meta: StreamEndMeta): void;
  /** A streamed-through answer's head (first, with no bytes), then its bytes; only jobs that ask for it get them. */
  onBytes?(bytes: Uint8Array, head: StreamHead | null): void;
  /**
   * `times`: a traced job's times, when the worker reported them (src/observability/tracing); `usage`: what a stream
   * that broke had reported before it did.
   */
  onError(error: ErrorData, times?: AttemptTimes, usage?: UsageData): void;
}

export interface InFlight {
  readonly id: number;
  /** `Date.now()` by which the worker must have ended this request: the end of its total budget. */
  readonly deadline: number;
  /** Null once the client went away: the worker's final message still releases the slot, but reaches no one. */
  handlers: JobHandlers | null;
}

export interface ChannelEvents {
  /** A request's final message arrived (or its worker died): release its slot. Called exactly once per id. */
  released(channel: WorkerChannel, entry: InFlight): void;
  workerDied(channel: WorkerChannel, error: unknown, lost: number): void;
}

const QUICK_DEATH_MS = 5_000;
const MAX_RESTART_DELAY_MS = 10_000;

export type ChannelInit = Omit<WorkerInit, 'toWorker' | 'toFront' | 'port' | 'channelIndex' | 'memory'>;

export class WorkerChannel {
  readonly index: number;
  readonly inFlight = new Map<number, InFlight>();
  #writer!: RingWriter;
  #sender!: MessageSender;
  #reader!: RingReader;
  /** The front's end of the port large messages cross by (src/contract/large-messages.ts). */
  #port!: MessagePort;
  /** The worker's end, until it is handed to the worker that serves these rings. */
  #workerPort!: MessagePort;
  #serving: Promise<unknown> = Promise.resolve();
  #closing = false;
  #ready: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  #startedAt = 0;
  /** Consecutive deaths soon after a start: a worker that cannot start must not be respawned in a tight loop. */
  #quickDeaths = 0;
  readonly #piscina: Piscina;
  readonly #init: ChannelInit;
  readonly #events: ChannelEvents;
  readonly #shape: RingShape;
  /** The worker's heap figures (THREAD_MEMORY_FIELDS), written by the worker; zeros until it first reports. */
  readonly memory = new Float64Array(new SharedArrayBuffer(THREAD_MEMORY_FIELDS * 8));

  constructor(index: number, piscina: Piscina, init: ChannelInit, events: ChannelEvents) {
    this.index = index;
    this.#piscina = piscina;
    this.#init = init;
    this.#events = events;
    this.#shape = init.ringShape;
  }

  /**
   * Starts the first serve task; resolves once the worker announced it is serving, rejects if it died first (the
   * boot then fails with the reason). Later restarts after a death are the channel's own business.
   */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.#ready = { resolve, reject };
    });
    this.#openRings();
    this.#serve();
    return ready;
  }

  /**
   * Fresh rings, at once: requests sent while a replacement thread is on its way wait in them and are served when
   * it starts, rather than being written into the dead worker's ring.
   */
  #openRings(): void {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#workerPort = port2;
    this.#writer = new RingWriter(createRingBuffer(this.#shape), this.#shape);
    this.#sender = new MessageSender(this.#writer, port1, this.#init.largeMessageBytes.toWorker);
    // The reader takes stubs off its own rings' port: after a death, the old rings drain against the old port.
    this.#reader = new RingReader(createRingBuffer(this.#shape), this.#shape,
      (bytes) => this.#onMessage(receiveMessage<WorkerToFront>(bytes, port1)), { transient: true });
    this.#reader.start();
  }

  #serve(): void {
    this.#startedAt = performance.now();
    const init: WorkerInit = {
      ...this.#init, toWorker: this.#writer.buffer, toFront: this.#reader.buffer, port: this.#workerPort,
      channelIndex: this.index, memory: this.memory.buffer as SharedArrayBuffer,
    };
    const reader = this.#reader;
    const port = this.#port;
    this.#serving = this.#piscina.run(init, { transferList: [this.#workerPort] }).then(
      () => reader.stop(),
      (error: unknown) => this.#onWorkerDeath(reader, port, error),
    );
  }

  send(message: FrontToWorker): void {
    this.#sender.send(message);
  }

  /** Slots holding messages not yet consumed, both directions, plus messages still waiting for room. */
  get slotsInUse(): number {
    return this.#writer.usedSlots + this.#reader.usedSlots + this.#writer.backlogLength;
  }

  /** Closes the rings; the worker's serve task ends once it has seen the close. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#writer.close();
    await this.#serving;
    this.#reader.drain();
    this.#reader.stop();
    this.#port.close();
  }

  #onMessage(message: WorkerToFront): void {
    if (message[0] === MSG_READY) {
      this.#ready?.resolve();
      this.#ready = null;
      return;
    }
    const id = message[1];
    const entry = this.inFlight.get(id);
    if (!entry) return;
    switch (message[0]) {
      case MSG_CHUNKS:
        entry.handlers?.onChunks(message[2], message[3]);
        return;
      case MSG_BYTES:
        entry.handlers?.onBytes?.(message[2], message[3]);
        return;
      case MSG_RESULT:
        this.#release(entry);
        entry.handlers?.onResult(message[2], message[3], message[4]);
        return;
      case MSG_STREAM_END:
        this.#release(entry);
        entry.handlers?.onEnd(message[2]);
        return;
      case MSG_ERROR:
        this.#release(entry);
        entry.handlers?.onError(message[2], message[3] ?? undefined, message[4]);
        return;
    }
  }

  /**
   * A safety net under the worker's own deadlines: the worker ends every request by its deadline (its total budget
   * caps the first-token and idle ones), so one still in flight `graceMs` later means a wedged thread or a lost
   * message. It is answered with `error` and its slot released, so nothing waits forever.
   */
  expireOverdue(now: number, graceMs: number, error: () => ErrorData): void {
    for (const entry of this.inFlight.values()) {
      if (now <= entry.deadline + graceMs) continue;
      this.send([MSG_CANCEL, entry.id]);
      this.#release(entry);
      entry.handlers?.onError(error());
    }
  }

  #release(entry: InFlight): void {
    this.inFlight.delete(entry.id);
    this.#events.released(this, entry);
  }

  #onWorkerDeath(reader: RingReader, port: MessagePort, error: unknown): void {
    reader.stop();
    // Results the worker managed to publish before dying still count.
    reader.drain();
    port.close();
    const lost = [...this.inFlight.values()];
    for (const entry of lost) {
      this.#release(entry);
      entry.handlers?.onError({
        code: 'WORKER_DIED',
        message: `the ${this.#init.provider.name} worker thread died with this request in flight`,
        provider: this.#init.provider.name,
      });
    }
    this.#events.workerDied(this, error, lost.length);
    if (this.#ready) {
      // It died before it ever served: whoever awaits the first start (the boot) learns why.
      this.#ready.reject(error);
      this.#ready = null;
      return;
    }
    if (this.#closing) return;
    this.#openRings();
    this.#quickDeaths = performance.now() - this.#startedAt < QUICK_DEATH_MS ? this.#quickDeaths + 1 : 0;
    const delay = this.#quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** this.#quickDeaths);
    setTimeout(() => {
      if (!this.#closing) this.#serve();
    }, delay);
  }
}
