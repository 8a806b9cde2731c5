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

/** How often deadlines are checked: timeouts fire within this many milliseconds of being due. */
const DEADLINE_SWEEP_MS = 50;
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
    settled(job: Job, error: ErrorData | null, usage: UsageData | null) {
      jobs.delete(job.id);
      deadlines.forget(job);
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
      if (!job.finished) deadlines.schedule(job);
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
    sweep ??= setInterval(sweepDeadlines, DEADLINE_SWEEP_MS);
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

  // One sweep for every job's deadline instead of a timer per request; it visits only the jobs that may be due. It
  // runs while there are jobs and stops at its first tick without any: on a VM, each tick of an idle thread's timer
  // is a wake-up that costs more CPU than a request.
  let sweep: NodeJS.Timeout | null = null;
  const stopSweeping = () => {
    if (sweep) clearInterval(sweep);
    sweep = null;
  };
  const sweepDeadlines = () => {
    if (jobs.size === 0) {
      // Every entry left is a finished job's, holding its request body: let them go with the sweep.
      deadlines.dropStale();
      stopSweeping();
      return;
    }
    const now = performance.now();
    for (const job of deadlines.takeDue(now)) {
      if (job.finished) continue;
      const missed = job.missedDeadline(now);
      // An aborted job settles as its call unwinds; one still in time waits for its next due moment.
      if (missed) job.abort(missed);
      else deadlines.schedule(job);
    }
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
