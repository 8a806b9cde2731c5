// The worker entry that Piscina loads. The front thread runs one long-lived `serve` task per worker: it reads
// jobs from its ring, runs each through the provider's adapter, and writes results and stream chunks back. So
// there is never a Piscina task per request; Piscina spawns, replaces and closes the threads.

import { MessageSender, receiveMessage } from '../src/contract/large-messages.js';
import {
  MSG_CANCEL, MSG_JOB, MSG_PAUSE, MSG_READY, MSG_RESUME,
  type FrontToWorker, type JobData, type UsageData, type WorkerToFront,
} from '../src/contract/messages.js';
import { createMetricsLayout, errorCodeLabelIndex, MetricsShard } from '../src/contract/metrics-layout.js';
import { RingReader, RingWriter } from '../src/contract/ring.js';
import { MEMORY_EXTERNAL, MEMORY_HEAP_TOTAL, MEMORY_HEAP_USED, type WorkerInit } from '../src/contract/worker-init.js';
import type { ErrorData } from '../src/errors/error-data.js';
import { getHeapStatistics } from 'node:v8';
import { runInProcessJob } from './in-process.js';
import { DueQueue } from './due-queue.js';
import { Job } from './job.js';
import { createWorkerLogger } from './log.js';
import { loadAdapter } from './providers/load.js';
import { HttpJobRunner } from './upstream/call.js';
import { UpstreamClients } from './upstream/http-client.js';

/**
 * libuv's clock is read in whole milliseconds at the start of a loop turn, so a timer may fire up to a millisecond
 * before `performance.now()` reaches its due time: aim this much after it (a tick that still comes early reschedules).
 */
const SWEEP_LATE_MS = 1;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The heap figures for /metrics are refreshed at most this often, as jobs settle: never on a timer of their own. */
const MEMORY_REPORT_MS = 1_000;

export default async function serve(init: WorkerInit): Promise<string> {
  const { provider } = init;
  const logger = createWorkerLogger(init.logLevel, { provider: provider.name, channel: init.channelIndex });
  const adapter = await loadAdapter(provider.adapter);
  const memory = new Float64Array(init.memory);
  let memoryReportedAt = 0;
  const reportMemory = () => {
    memoryReportedAt = performance.now();
    const heap = getHeapStatistics();
    memory[MEMORY_HEAP_USED] = heap.used_heap_size;
    memory[MEMORY_HEAP_TOTAL] = heap.total_heap_size;
    memory[MEMORY_EXTERNAL] = heap.external_memory;
  };
  const clients = new UpstreamClients(provider.maxConnsPerHost,
    Math.max(provider.requestTimeoutMs, provider.streamIdleTimeoutMs), provider.transport);
  const layout = createMetricsLayout(init.metricsSpec);
  const shard = new MetricsShard(init.metricsBuffer, layout, init.shardIndex);
  const providerIndex = init.providerIndex;
  /** A job's model slot as sent by the front; anything out of range (never expected) counts as `other`. */
  const modelSlot = (job: Job) => {
    const slot = job.data.modelLabel;
    return Number.isInteger(slot) && slot >= 0 && slot < init.metricsSpec.modelSlots ? slot : init.metricsSpec.modelSlots - 1;
  };
  const toFront = new MessageSender(new RingWriter(init.toFront, init.ringShape), init.port, init.largeMessageBytes.toFront);
  const jobs = new Map<number, Job>();
  const deadlines = new DueQueue<Job>();

  const hooks = {
    send: (message: WorkerToFront) => toFront.send(message),
    congested: () => toFront.congested,
    whenDrained: (drained: () => void) => {
      shard.add(layout.streamHolds.seriesOffset(providerIndex));
      toFront.whenDrained(drained);
    },
    settled(job: Job, error: ErrorData | null, usage: UsageData | null) {
      jobs.delete(job.id);
      deadlines.forget(job);
      // Every entry left is a finished job's, holding its request body: let them go, and the timer with them.
      if (jobs.size === 0) {
        deadlines.dropStale();
        stopSweeping();
      }
      if (performance.now() - memoryReportedAt >= MEMORY_REPORT_MS) reportMemory();
      const model = modelSlot(job);
      shard.observe(layout.upstreamLatency, layout.upstreamLatency.seriesOffset(providerIndex, model), job.upstreamMs() / 1000);
      if (usage) {
        shard.add(layout.tokens.seriesOffset(providerIndex, model, 0), usage.promptTokens);
        shard.add(layout.tokens.seriesOffset(providerIndex, model, 1), usage.completionTokens);
      }
      if (error && error.code !== 'CLIENT_CLOSED') {
        const code = errorCodeLabelIndex(error.code);
        if (code >= 0) shard.add(layout.upstreamErrors.seriesOffset(providerIndex, model, code));
        // The front logs every failure at its level, with the upstream status: here it is detail for debugging.
        if (logger.isLevelEnabled('debug')) {
          logger.debug({ requestId: job.data.requestId, code: error.code, upstreamStatus: error.upstreamStatus }, error.message);
        }
      }
    },
    dueEarlier: (job: Job) => {
      if (job.finished) return;
      deadlines.schedule(job);
      armSweep();
    },
  };

  const http = adapter.transport === 'http' ? new HttpJobRunner(adapter, provider, clients) : null;
  const crashed = (job: Job, error: unknown) => {
    logger.error({ requestId: job.data.requestId, err: error }, 'job crashed');
    job.fail({ code: 'INTERNAL', message: 'the provider worker failed on this request', provider: provider.name });
  };
  const start = (id: number, data: JobData, totalMs: number) => {
    const job = new Job(id, data, { totalMs, firstTokenMs: provider.firstTokenTimeoutMs, idleMs: provider.streamIdleTimeoutMs },
      hooks);
    jobs.set(id, job);
    deadlines.schedule(job);
    armSweep();
    shard.add(layout.upstreamRequests.seriesOffset(providerIndex, modelSlot(job)));
    if (http) {
      try {
        http.run(job);
      } catch (error) {
        crashed(job, error);
      }
    } else if (adapter.transport === 'in-process') {
      runInProcessJob(job, adapter, provider).catch((error: unknown) => crashed(job, error));
    }
  };

  // One timer for every job's deadline instead of one per request, armed for the earliest moment any job may be
  // overdue; it visits only the jobs that may be due. A stream's deadlines are seconds away (the idle gap, the total)
  // and activity only pushes them later, so the timer does not fire while answers flow: on a VM each wake-up of a
  // thread costs more CPU than a request, and a ticking sweep woke the worker two or three times a stream.
  let sweep: NodeJS.Timeout | null = null;
  let sweepAt = Infinity;
  const stopSweeping = () => {
    if (sweep) clearTimeout(sweep);
    sweep = null;
    sweepAt = Infinity;
  };
  const armSweep = () => {
    const due = deadlines.nextDue();
    if (due === undefined || !Number.isFinite(due)) {
      stopSweeping();
      return;
    }
    if (sweep && sweepAt <= due) return;
    if (sweep) clearTimeout(sweep);
    sweepAt = due;
    // Node fires a timer set past 2^31 - 1 ms after 1 ms: a deadline that far off is looked at again then.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(due - performance.now())) + SWEEP_LATE_MS);
    sweep = setTimeout(sweepDeadlines, delay);
  };
  const sweepDeadlines = () => {
    sweep = null;
    sweepAt = Infinity;
    const now = performance.now();
    for (const job of deadlines.takeDue(now)) {
      if (job.finished) continue;
      const missed = job.missedDeadline(now);
      // An aborted job settles as its call unwinds; one still in time waits for its next due moment.
      if (missed) job.abort(missed);
      else deadlines.schedule(job);
    }
    armSweep();
  };
  // Atomics.waitAsync does not keep a thread's event loop alive; a timer that in practice never fires does.
  const keepAlive = setInterval(() => undefined, 2 ** 31 - 1);

  const onMessage = (bytes: Uint8Array) => {
    const message = receiveMessage<FrontToWorker>(bytes, init.port);
    switch (message[0]) {
      case MSG_JOB: start(message[1], message[2], message[3]); break;
      case MSG_CANCEL: jobs.get(message[1])?.abort('cancelled'); break;
      case MSG_PAUSE: jobs.get(message[1])?.pause(); break;
      case MSG_RESUME: jobs.get(message[1])?.resume(); break;
    }
  };

  return new Promise<string>((resolve) => {
    const reader = new RingReader(init.toWorker, init.ringShape, onMessage, {
      transient: true,
      onHandlerError: (error) => logger.error({ err: error }, 'bad message from the front thread'),
      onClosed: () => {
        for (const job of jobs.values()) job.abort('closing');
        stopSweeping();
        clearInterval(keepAlive);
        void clients.close().finally(() => {
          // Lines wait in a buffer written asynchronously: the thread ends only once they are out (a worker started
          // for one request and closed right after lost its lines), or after a second if the write never answers.
          const done = setTimeout(() => resolve('closed'), 1000);
          logger.flush(() => {
            clearTimeout(done);
            resolve('closed');
          });
        });
      },
    });
    reader.start();
    reportMemory();
    hooks.send([MSG_READY, 0]);
    logger.debug({ adapter: provider.adapter }, 'worker serving');
  });
}
