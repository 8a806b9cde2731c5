// One provider's pool: Piscina owns its worker threads, this class owns admission. Up to `concurrency`
// requests are in flight across the workers; up to `buffer_size` more wait in a FIFO behind them. With
// `drop_excess_requests` a request that finds the FIFO full is refused at once (429); otherwise it waits for room
// until its timeout.
//
// In cluster mode (`leases` given) both bounds hold for the whole gateway, not per process: a slot in flight is a
// unit of the ledger's `<provider>.concurrency` counter and a place in the queue (with `drop_excess_requests`) one of
// `<provider>.buffer`. Without it the pool counts on its own, as a single process always did.

import type { MetricsSpec } from '../contract/metrics-layout.js';
import { Piscina } from 'piscina';
import { MSG_CANCEL, MSG_JOB, MSG_PAUSE, MSG_RESUME, type JobData } from '../contract/messages.js';
import { SLOT_HEADER_BYTES, type RingShape } from '../contract/ring-layout.js';
import type { ProviderInit } from '../contract/worker-init.js';
import type { ProviderConfig } from '../config/types.js';
import { GatewayError } from '../errors/gateway-error.js';
import { type InFlight, type JobHandlers, WorkerChannel } from './channel.js';
import { Deque } from '../contract/deque.js';
import type { LeaseClient, LeasedCounter } from './leases.js';

export interface PoolOptions {
  providerIndex: number;
  /** Metrics shard of this pool's first worker; worker i writes shard `firstShard + i`. */
  firstShard: number;
  metricsBuffer: SharedArrayBuffer;
  metricsSpec: MetricsSpec;
  dropExcessRequests: boolean;
  logLevel: string;
  workerFile: string;
  ringShape: RingShape;
  /** From how many encoded bytes a message crosses by the channel's port rather than its rings, each way. */
  largeMessageBytes: { toWorker: number; toFront: number };
  onWorkerDeath(provider: string, error: unknown, lost: number): void;
  /** Gateway-wide slots from the primary's ledger (cluster mode); without, this process's own count. */
  leases?: LeaseClient | null;
}

export interface PoolStats {
  threads: number;
  inFlight: number;
  queued: number;
  slotsInUse: number;
}

/** The caller's handle on a submitted job. */
export interface Ticket {
  /** The client went away: drop it from the queue, or tell the worker to abort the upstream call. */
  cancel(): void;
  pause(): void;
  resume(): void;
}

/** How often the queue is looked at while requests wait in it: a queued request times out this close to its deadline. */
const QUEUE_SWEEP_MS = 100;
/**
 * How often in-flight requests are checked for a worker that missed their deadline, and by how much it may. With
 * nothing queued this is the sweep's only work, so it ticks no more often: a lone stream lasts about a tenth of a
 * second, and on a VM each tick that wakes the front costs more CPU than a request.
 */
const OVERDUE_CHECK_INTERVAL_MS = 1_000;
const OVERDUE_GRACE_MS = 5_000;

/** A job's place in the pool: the caller's ticket, and once running, its worker channel's in-flight entry too. */
class Submission implements Ticket, InFlight {
  state: 'queued' | 'running' | 'done' = 'queued';
  channel: WorkerChannel | null = null;
  id = 0;
  readonly job: JobData;
  handlers: JobHandlers | null;
  readonly deadline: number;
  /** Holds a unit of the gateway-wide queue counter (cluster mode with drop_excess_requests). */
  holdsQueuePlace = false;
  readonly #pool: ProviderPool;

  constructor(pool: ProviderPool, job: JobData, handlers: JobHandlers, deadline: number) {
    this.#pool = pool;
    this.job = job;
    this.handlers = handlers;
    this.deadline = deadline;
  }

  cancel(): void {
    if (this.state === 'queued') this.#pool.dropQueued(this);
    else if (this.state === 'running') {
      this.handlers = null;
      this.channel!.send([MSG_CANCEL, this.id]);
      this.state = 'done';
    }
  }

  pause(): void {
    if (this.state === 'running') this.channel!.send([MSG_PAUSE, this.id]);
  }

  resume(): void {
    if (this.state === 'running') this.channel!.send([MSG_RESUME, this.id]);
  }
}

/**
 * One start of the pool's threads: Piscina and a channel per thread. A pool has at most one current generation; one
 * that retires closes in the background while a request arriving meanwhile starts the next.
 */
interface Generation {
  readonly piscina: Piscina;
  readonly channels: WorkerChannel[];
  /** Resolves when every worker serves its ring; rejects with the first start-up failure. */
  readonly ready: Promise<void>;
}

/** Where the pool's threads are: none (cold), on their way, serving, or none after a start that failed. */
export type PoolState = 'cold' | 'starting' | 'warm' | 'failed';

export class ProviderPool {
  readonly provider: ProviderConfig;
  #generation: Generation | null = null;
  /** Generations closing after they retired; `close()` waits for them. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #queue = new Deque<Submission>();
  readonly #options: PoolOptions;
  readonly #providerInit: ProviderInit;
  /** Runs while requests are in flight or queued, and stops at its first tick without any (see #sweepQueue). */
  #sweeper: NodeJS.Timeout | null = null;
  /** When the armed tick comes (Date.now()); Infinity when none is armed. */
  #sweepAt = Infinity;
  /** Armed when the pool goes idle, checks `#idleSince` when it fires: one timer per idle period, not per request. */
  #idleTimer: NodeJS.Timeout | null = null;
  #idleSince = 0;
  #state: PoolState = 'cold';
  #starts = 0;
  /** Milliseconds from the last start to every thread serving. */
  #lastStartMs = 0;
  #queued = 0;
  #inFlight = 0;
  #nextId = 1;
  #closing = false;
  #nextOverdueCheck = 0;
  #drained: (() => void) | null = null;
  /** Cluster mode: the gateway-wide counters; null in a single process, which counts `#inFlight` alone. */
  readonly #slots: LeasedCounter | null = null;
  readonly #queuePlaces: LeasedCounter | null = null;

  constructor(provider: ProviderConfig, options: PoolOptions) {
    this.provider = provider;
    this.#options = options;
    this.#providerInit = toProviderInit(provider);
    if (options.leases) {
      this.#slots = options.leases.counter(`${provider.name}.concurrency`, { limit: provider.concurrency.concurrency });
      this.#slots.onAvailable(() => this.#runQueued());
      if (options.dropExcessRequests) {
        // Queue places are taken only once the provider is saturated, so one round trip each costs nothing that
        // matters, and holding none idle means no process refuses while another sits on free places.
        this.#queuePlaces = options.leases.counter(`${provider.name}.buffer`,
          { limit: provider.concurrency.bufferSize, batch: 1, keepIdle: 0 });
      }
    }
    if (provider.concurrency.warm) this.#wake();
  }

  /**
   * Starts the threads. Requests sent before they serve wait in the rings. One long-lived task per thread
   * (concurrentTasksPerWorker 1 puts each on its own worker); requests go through the rings, never through Piscina's
   * per-task messaging.
   */
  #wake(): Generation {
    const provider = this.provider;
    const options = this.#options;
    const threads = provider.concurrency.threads;
    const { maxOldGenerationSizeMb, maxYoungGenerationSizeMb, stackSizeMb } = provider.concurrency.resourceLimits;
    const piscina = new Piscina({
      filename: options.workerFile,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.MAX_SAFE_INTEGER,
      atomics: 'disabled',
      recordTiming: false,
      resourceLimits: { maxOldGenerationSizeMb, maxYoungGenerationSizeMb, stackSizeMb },
    });
    const ringShape = provider.concurrency.ring ?? options.ringShape;
    // Past a quarter of the ring, a message goes by the port whatever the thresholds say: small rings stay fast.
    const quarter = Math.floor(ringShape.slotCount * (ringShape.slotSize - SLOT_HEADER_BYTES) / 4);
    const largeMessageBytes = { toWorker: Math.min(options.largeMessageBytes.toWorker, quarter),
      toFront: Math.min(options.largeMessageBytes.toFront, quarter) };
    const channels: WorkerChannel[] = [];
    for (let i = 0; i < threads; i++) {
      channels.push(new WorkerChannel(i, piscina, {
        provider: this.#providerInit,
        ringShape,
        largeMessageBytes,
        metricsBuffer: options.metricsBuffer,
        metricsSpec: options.metricsSpec,
        providerIndex: options.providerIndex,
        shardIndex: options.firstShard + i,
        logLevel: options.logLevel,
      }, {
        released: (_channel, entry) => this.#released(entry),
        workerDied: (_channel, error, lost) => options.onWorkerDeath(provider.name, error, lost),
      }));
    }
    const startedAt = performance.now();
    const generation: Generation = { piscina, channels, ready: Promise.all(channels.map((channel) => channel.start())).then(() => undefined) };
    this.#generation = generation;
    this.#state = 'starting';
    this.#starts++;
    generation.ready.then(() => {
      if (this.#generation !== generation) return;
      this.#state = 'warm';
      this.#lastStartMs = performance.now() - startedAt;
    }, () => {
      // A thread died before it served: its requests got WORKER_DIED; the next request tries a fresh start.
      if (this.#generation !== generation) return;
      this.#generation = null;
      this.#state = 'failed';
      this.#retire(generation);
    });
    return generation;
  }

  /** Resolves once a warm pool's threads serve (rejects with the first start-up failure); at once for the others. */
  ready(): Promise<void> {
    return this.#generation?.ready ?? Promise.resolve();
  }

  get state(): PoolState {
    return this.#state;
  }

  /** How often the threads were started, and how long the last start took until every thread served. */
  get starts(): { count: number; lastMs: number } {
    return { count: this.#starts, lastMs: this.#lastStartMs };
  }

  /** Whether a request sent now can be served: a cold pool can start; a started one needs a live thread. */
  get serviceable(): boolean {
    if (this.#generation === null) return this.#state !== 'failed';
    return this.#generation.piscina.threads.length > 0;
  }

  get threads(): readonly import('node:worker_threads').Worker[] {
    return this.#generation?.piscina.threads ?? [];
  }

  /** Each live channel's heap figures (THREAD_MEMORY_FIELDS float64s, written by its worker). */
  threadMemory(): Float64Array[] {
    return this.#generation?.channels.map((channel) => channel.memory) ?? [];
  }

  stats(): PoolStats {
    let slotsInUse = 0;
    for (const channel of this.#generation?.channels ?? []) slotsInUse += channel.slotsInUse;
    return { threads: this.threads.length, inFlight: this.#inFlight, queued: this.#queued, slotsInUse };
  }

  /**
   * Lets the threads go now if nothing is in flight or queued (the idle timer's action); resolves once they closed.
   * A request arriving meanwhile starts fresh threads and does not wait for these.
   */
  retire(): Promise<void> {
    const generation = this.#generation;
    if (!generation || this.#inFlight > 0 || this.#queued > 0 || this.#closing) return Promise.resolve();
    this.#generation = null;
    this.#state = 'cold';
    return this.#retire(generation);
  }

  #retire(generation: Generation): Promise<void> {
    const closed = Promise.all(generation.channels.map((channel) => channel.close()))
      .then(() => generation.piscina.destroy())
      .catch(() => undefined)
      .finally(() => this.#retiring.delete(closed));
    this.#retiring.add(closed);
    return closed;
  }

  #armIdleTimer(delayMs: number): void {
    this.#idleTimer = setTimeout(this.#idleCheck, delayMs);
    this.#idleTimer.unref();
  }

  #idleCheck = (): void => {
    this.#idleTimer = null;
    if (this.#generation === null || this.#inFlight > 0 || this.#queued > 0) return;
    const idleFor = Date.now() - this.#idleSince;
    const timeout = this.provider.concurrency.idleTimeoutMs;
    if (idleFor >= timeout) void this.retire();
    else this.#armIdleTimer(timeout - idleFor);
  };

  /** Admits the job now, queues it, or refuses it; throws GatewayError when refused. */
  submit(job: JobData, handlers: JobHandlers): Ticket {
    if (this.#closing) {
      throw new GatewayError('PROVIDER_SHUTTING_DOWN', `${this.provider.name} is shutting down`, { retryAfter: 1 });
    }
    const deadline = Date.now() + this.provider.network.requestTimeoutSeconds * 1000;
    // A tick already armed comes within a second, the most this one asks for: only an idle pool arms one here.
    if (!this.#sweeper) this.#armSweep(OVERDUE_CHECK_INTERVAL_MS);
    const submission = new Submission(this, job, handlers, deadline);
    if (this.#queued === 0 && this.#takeSlot()) {
      const refused = this.#run(submission);
      if (refused) throw refused;
      return submission;
    }
    if (this.#queuePlaces) {
      this.#queueForPlace(submission);
      return submission;
    }
    if (this.#options.dropExcessRequests && this.#queued >= this.provider.concurrency.bufferSize) {
      throw this.#queueFull();
    }
    this.#queue.push(submission);
    this.#queued++;
    this.#armSweep(QUEUE_SWEEP_MS);
    return submission;
  }

  #queueFull(): GatewayError {
    return new GatewayError('QUEUE_FULL', `${this.provider.name}'s queue is full: try again shortly`,
      { provider: this.provider.name, retryAfter: 1 });
  }

  /**
   * Cluster mode with drop_excess_requests. A request waits only when no slot is free gateway-wide, so the ledger is
   * asked that first (this process may just hold none yet); then for a place in the queue, refused with QUEUE_FULL
   * when there is none. It sits in the queue meanwhile (one or two round trips): should a slot free up here, it runs,
   * and whatever the ledger grants it too late goes back.
   */
  #queueForPlace(submission: Submission): void {
    this.#queue.push(submission);
    this.#queued++;
    this.#armSweep(QUEUE_SWEEP_MS);
    this.#slots!.acquireOrRefuse(1, (gotSlot) => {
      if (submission.state !== 'queued') {
        if (gotSlot) this.#slots!.release();
      } else if (gotSlot) {
        this.#queued--;
        const refused = this.#run(submission);
        if (refused) submission.handlers?.onError(refused.data);
      } else {
        this.#queuePlaces!.acquireOrRefuse(1, (gotPlace) => this.#placeAnswered(submission, gotPlace));
      }
    });
  }

  #placeAnswered(submission: Submission, gotPlace: boolean): void {
    if (submission.state !== 'queued') {
      if (gotPlace) this.#queuePlaces!.release();
    } else if (gotPlace) {
      submission.holdsQueuePlace = true;
      // It waits for a slot like the rest of the queue: make sure one is asked for.
      this.#runQueued();
    } else {
      this.dropQueued(submission);
      submission.handlers?.onError(this.#queueFull().data);
    }
  }

  /** Whether a request may go in flight now: the local count, or a unit of the gateway-wide counter. */
  #takeSlot(): boolean {
    const slots = this.#slots;
    return slots === null ? this.#inFlight < this.provider.concurrency.concurrency : slots.tryAcquire();
  }

  dropQueued(submission: Submission): void {
    submission.state = 'done';
    this.#queued--;
    this.#leaveQueue(submission);
  }

  #leaveQueue(submission: Submission): void {
    if (submission.holdsQueuePlace) {
      submission.holdsQueuePlace = false;
      this.#queuePlaces!.release();
    }
  }

  /**
   * Sends the job to the least busy worker. A job that cannot be encoded for the ring (a body nested deeper than
   * the encoder's stack allows) frees its place again and comes back as the error to answer with.
   */
  #run(submission: Submission): GatewayError | null {
    const channel = this.#leastBusyChannel();
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    submission.state = 'running';
    submission.channel = channel;
    submission.id = id;
    this.#inFlight++;
    // The worker gets what is left of the total: time spent in the queue counts against it.
    channel.inFlight.set(id, submission);
    try {
      channel.send([MSG_JOB, id, submission.job, Math.max(0, submission.deadline - Date.now())]);
      return null;
    } catch (error) {
      channel.inFlight.delete(id);
      this.#inFlight--;
      this.#slots?.release();
      submission.state = 'done';
      this.#noteIfIdle();
      return new GatewayError('INVALID_REQUEST',
        `the request cannot be handed to ${this.provider.name}'s worker: ${(error as Error).message}`);
    }
  }

  #leastBusyChannel(): WorkerChannel {
    const channels = (this.#generation ?? this.#wake()).channels;
    let best = channels[0];
    for (let i = 1; i < channels.length; i++) {
      if (channels[i].inFlight.size < best.inFlight.size) best = channels[i];
    }
    return best;
  }

  #released(_entry: InFlight): void {
    this.#inFlight--;
    this.#slots?.release();
    this.#runQueued();
    if (this.#inFlight === 0 && this.#drained) this.#drained();
    this.#noteIfIdle();
  }

  /** Nothing in flight or queued: the idle period starts now (a pool that is not warm retires at its end). */
  #noteIfIdle(): void {
    if (this.#inFlight > 0 || this.#queued > 0 || this.provider.concurrency.warm) return;
    this.#idleSince = Date.now();
    if (this.#idleTimer === null) this.#armIdleTimer(this.provider.concurrency.idleTimeoutMs);
  }

  /** Sends queued requests on while slots are free (a slot freed here, or leases that just came from the ledger). */
  #runQueued(): void {
    const now = Date.now();
    while (this.#queued > 0) {
      const next = this.#queue.peek()!;
      if (next.state !== 'queued') {
        this.#queue.shift();
        continue;
      }
      // Its total ran out in the queue, between two sweeps: sending it upstream could only time out there.
      if (next.deadline <= now) {
        this.#queue.shift();
        this.#expireQueued(next);
        continue;
      }
      if (!this.#takeSlot()) break;
      this.#queue.shift();
      this.#queued--;
      this.#leaveQueue(next);
      const refused = this.#run(next);
      if (refused) next.handlers?.onError(refused.data);
    }
  }

  /** Makes sure a tick comes within `delayMs`: an earlier one already armed stands. */
  #armSweep(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.#sweeper && this.#sweepAt <= at) return;
    if (this.#sweeper) clearTimeout(this.#sweeper);
    this.#sweepAt = at;
    this.#sweeper = setTimeout(this.#sweepQueue, delayMs);
    this.#sweeper.unref();
  }

  #sweepQueue = (): void => {
    this.#sweeper = null;
    this.#sweepAt = Infinity;
    const now = Date.now();
    // A timer may come a moment before the second is up: half a queue sweep early still counts as on time.
    if (now >= this.#nextOverdueCheck - QUEUE_SWEEP_MS / 2) {
      this.#nextOverdueCheck = now + OVERDUE_CHECK_INTERVAL_MS;
      for (const channel of this.#generation?.channels ?? []) {
        channel.expireOverdue(now, OVERDUE_GRACE_MS, () => ({
          code: 'UPSTREAM_TIMEOUT',
          message: `${this.provider.name}: the worker gave no answer within the timeout`,
          provider: this.provider.name,
        }));
      }
    }
    for (let head = this.#queue.peek(); head && (head.state !== 'queued' || head.deadline <= now); head = this.#queue.peek()) {
      this.#queue.shift();
      if (head.state === 'queued') this.#expireQueued(head);
    }
    // Nothing left to watch: an idle gateway's timer would wake its thread for nothing, and on a VM a wake-up is dear.
    if (this.#queued > 0) this.#armSweep(QUEUE_SWEEP_MS);
    else if (this.#inFlight > 0) this.#armSweep(OVERDUE_CHECK_INTERVAL_MS);
  };

  #stopSweeping(): void {
    if (this.#sweeper) clearTimeout(this.#sweeper);
    this.#sweeper = null;
    this.#sweepAt = Infinity;
  }

  #expireQueued(submission: Submission): void {
    this.dropQueued(submission);
    submission.handlers?.onError({
      code: 'UPSTREAM_TIMEOUT',
      message: `${this.provider.name}: waited in the queue past default_request_timeout_in_seconds`,
      provider: this.provider.name,
    });
  }

  /**
   * Stops admitting, lets requests in flight finish for up to `graceMs`, then closes the rings and the threads.
   * Whatever is still queued or in flight at the deadline gets PROVIDER_SHUTTING_DOWN from the worker's abort.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#stopSweeping();
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      if (next.state !== 'queued') continue;
      this.dropQueued(next);
      next.handlers?.onError({ code: 'PROVIDER_SHUTTING_DOWN', message: `${this.provider.name} is shutting down`,
        provider: this.provider.name, retryAfter: 1 });
    }
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    const generation = this.#generation;
    this.#generation = null;
    if (generation) await this.#retire(generation);
    await Promise.all(this.#retiring);
  }
}

function toProviderInit(provider: ProviderConfig): ProviderInit {
  const mock = provider.mock;
  return {
    name: provider.name,
    adapter: provider.adapter,
    keys: provider.keys.map((key) => ({ value: key.value, configs: { ...key.providerConfigs } })),
    baseUrl: provider.network.baseUrl,
    extraHeaders: { ...provider.network.extraHeaders },
    requestTimeoutMs: provider.network.requestTimeoutSeconds * 1000,
    firstTokenTimeoutMs: provider.network.firstTokenTimeoutSeconds === null ? null : provider.network.firstTokenTimeoutSeconds * 1000,
    streamIdleTimeoutMs: provider.network.streamIdleTimeoutSeconds * 1000,
    maxConnsPerHost: provider.network.maxConnsPerHost,
    transport: {
      proxy: provider.proxy && { ...provider.proxy, environment: provider.proxy.environment && { ...provider.proxy.environment } },
      insecureSkipVerify: provider.network.insecureSkipVerify,
      caCertPem: provider.network.caCertPem,
    },
    mock: mock ? { ...mock } : null,
  };
}
