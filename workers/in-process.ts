// Runs a job on an adapter that answers inside the worker (the mock), through the same Job guarantees as HTTP.

import type { ProviderInit } from '../src/contract/worker-init.js';
import type { Job } from './job.js';
import type { InProcessAdapter, InProcessIo } from './providers/types.js';
import { abortedError, errorForUpstreamStatus } from './upstream/error-map.js';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export async function runInProcessJob(job: Job, adapter: InProcessAdapter, provider: ProviderInit): Promise<void> {
  const controller = new AbortController();
  // Backpressure: while the client reads slower than the answer comes, the adapter's next wait lasts until it
  // caught up, as a TCP window holds a real upstream; an adapter answering without waits is never held.
  let held: Promise<void> | null = null;
  let release = (): void => undefined;
  job.attach({
    abort: (reason) => {
      controller.abort(reason);
      release();
    },
    pause: () => {
      held ??= new Promise<void>((resolve) => {
        release = () => {
          held = null;
          resolve();
        };
      });
    },
    resume: () => release(),
  });
  const io: InProcessIo = {
    signal: controller.signal,
    result: (body, usage) => job.result(body, usage),
    chunks: (chunks) => job.chunks(chunks),
    end: (usage) => job.end(usage),
    upstreamError: (status, message) => job.fail(errorForUpstreamStatus(provider.name, status, message,
      status === 429 || status === 503 ? 1 : undefined)),
    sleep: async (ms) => {
      await sleep(ms, controller.signal);
      while (held) await held;
      // The front is behind with this worker's messages: answer no faster than it takes them.
      if (job.frontBehind && !controller.signal.aborted) {
        await new Promise<void>((resolve) => {
          // Removed once the hold ends: a long stream holds many times, and each would leave its listener on the signal.
          const done = () => {
            controller.signal.removeEventListener('abort', done);
            resolve();
          };
          controller.signal.addEventListener('abort', done, { once: true });
          job.holdForFront(done);
        });
      }
    },
  };
  job.markUpstreamStart();
  try {
    await adapter.run(job.data, provider, io);
  } catch (error) {
    job.fail({ code: 'UPSTREAM_ERROR', message: `${provider.name}: ${(error as Error).message}`, provider: provider.name });
    return;
  }
  if (job.finished) return;
  job.fail(abortedError(job.abortReason ?? 'cancelled', provider.name, job.streamStarted));
}
