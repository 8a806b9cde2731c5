import { describe, expect, it } from 'vitest';
import { MSG_CHUNKS, MSG_STREAM_END, type JobData, type WorkerToFront } from '../../../src/contract/messages.js';
import { Job } from '../../../workers/job.js';

const data: JobData = { kind: 'chat', requestId: 'r', model: 'm', keyIndex: 0, stream: true, includeUsage: false, modelLabel: 0,
  body: { messages: [] } };

function jobWithOutbox(): { job: Job; sent: WorkerToFront[]; settled: number } {
  const sent: WorkerToFront[] = [];
  const state = { job: null as unknown as Job, sent, settled: 0 };
  state.job = new Job(7, data, { totalMs: 60_000, firstTokenMs: 10_000, idleMs: 10_000 }, {
    send: (message) => sent.push(message),
    settled: () => {
      state.settled++;
    },
    dueEarlier: () => undefined, congested: () => false, whenDrained: (drained) => drained(),
  });
  return state;
}

describe('Job', () => {
  it('sends the chunks that came with the end in the end message: one message for an answer read at once', () => {
    const state = jobWithOutbox();
    state.job.droppedParams = ['seed'];
    state.job.end({ promptTokens: 1, completionTokens: 2, totalTokens: 3 }, ['{"a":1}', '{"b":2}']);
    expect(state.sent).toHaveLength(1);
    const [kind, id, meta] = state.sent[0] as [number, number, { chunks?: string[]; firstTokenMs: number | null; droppedParams: string[] | null }];
    expect([kind, id]).toEqual([MSG_STREAM_END, 7]);
    expect(meta.chunks).toEqual(['{"a":1}', '{"b":2}']);
    // The first chunks came with the end: the time to them is known, and the dropped parameters still reach the front.
    expect(meta.firstTokenMs).not.toBeNull();
    expect(meta.droppedParams).toEqual(['seed']);
    expect(state.settled).toBe(1);
    expect(state.job.finished).toBe(true);
  });

  it('keeps the time to the first chunk from the chunks sent before the end, and sends no chunks field without chunks', () => {
    const state = jobWithOutbox();
    state.job.chunks(['{"a":1}']);
    state.job.end(null, []);
    expect(state.sent.map((message) => message[0])).toEqual([MSG_CHUNKS, MSG_STREAM_END]);
    const meta = state.sent[1][2] as { chunks?: string[]; firstTokenMs: number | null };
    expect(meta).not.toHaveProperty('chunks');
    expect(meta.firstTokenMs).not.toBeNull();
  });

  it('sends nothing after it ended', () => {
    const state = jobWithOutbox();
    state.job.end(null);
    state.job.end(null, ['{"late":1}']);
    state.job.chunks(['{"late":2}']);
    expect(state.sent).toHaveLength(1);
    expect(state.settled).toBe(1);
  });

  it('holds a stream while the front is behind: no idle deadline until it caught up, then resumes it', () => {
    const waiting: (() => void)[] = [];
    let congested = true;
    const job = new Job(8, data, { totalMs: 60_000, firstTokenMs: null, idleMs: 1_000 }, {
      send: () => undefined, settled: () => undefined, dueEarlier: () => undefined,
      congested: () => congested, whenDrained: (drained) => waiting.push(drained),
    });
    job.chunks(['{"a":1}']);
    expect(job.frontBehind).toBe(true);
    let resumed = 0;
    job.holdForFront(() => resumed++);
    // Held far past the idle gap: the wait is the front's, not the upstream's.
    expect(job.missedDeadline(performance.now() + 5_000)).toBeNull();
    congested = false;
    for (const drained of waiting.splice(0)) drained();
    expect(resumed).toBe(1);
    expect(job.frontBehind).toBe(false);
    expect(job.missedDeadline(performance.now() + 5_000)).toBe('idle-timeout');
  });

  it('does not resume a stream that finished while it was held', () => {
    const waiting: (() => void)[] = [];
    const job = new Job(9, data, { totalMs: 60_000, firstTokenMs: null, idleMs: 1_000 }, {
      send: () => undefined, settled: () => undefined, dueEarlier: () => undefined,
      congested: () => true, whenDrained: (drained) => waiting.push(drained),
    });
    let resumed = 0;
    job.holdForFront(() => resumed++);
    job.end(null);
    for (const drained of waiting.splice(0)) drained();
    expect(resumed).toBe(0);
  });
});
