// `/v1/async/*` through the real gateway: a job is accepted with 202 and a job id, polled (202 while it runs), and
// answered as its /v1 route answers; its record lives in the request log's store, so a second gateway on the same
// SQLite file (another process of a cluster) answers the poll too. Without a request log, async calls are refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../dist/src/config/load.js';
import { startGateway, type Gateway } from '../../dist/src/gateway.js';
import { openRequestLog } from '../../dist/src/stores/request-log.js';
import { eventually } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'heimdall-async-'));
const gateways: Gateway[] = [];

async function start(options: { logged: boolean; ttl?: number; latencyMs?: number }): Promise<string> {
  const requestLog = options.logged ? await openRequestLog({ target: { type: 'sqlite', path: join(dir, 'logs.db') },
    logger: pino({ level: 'silent' }), retentionDays: 0, flushIntervalMs: 5 }) : null;
  const config = await loadConfig({
    raw: { client: { async_job_result_ttl: options.ttl ?? 3600 },
      // Long enough that a poll right after the 202 finds the job running, even on a loaded machine.
      providers: { mock: { mock_config: { latency_ms: options.latencyMs ?? 1500, chunk_count: 2, chunk_interval_ms: 0 } } } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'silent' },
  });
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }), requestLog });
  gateways.push(gateway);
  return `http://127.0.0.1:${gateway.port}`;
}

let first: string;
let second: string;

beforeAll(async () => {
  first = await start({ logged: true });
  second = await start({ logged: true });
});

afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close(200)));
  rmSync(dir, { recursive: true, force: true });
});

const submit = (url: string, route: string, body: unknown) => fetch(`${url}/v1/async/${route}`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function accepted(url: string, route: string, body: unknown): Promise<string> {
  const response = await submit(url, route, body);
  expect(response.status).toBe(202);
  const job = await response.json() as { job_id: string; status: string; expires_at: number };
  expect(job.status).toBe('pending');
  expect(job.job_id).toMatch(/^job-/);
  return job.job_id;
}

const poll = (url: string, route: string, id: string) => fetch(`${url}/v1/async/${route}/${id}`);

describe('/v1/async', () => {
  it('accepts a chat job at once, answers 202 while it runs, then the chat answer, on any gateway of the store', async () => {
    const id = await accepted(first, 'chat/completions', { model: 'mock/echo', messages: [{ role: 'user', content: 'later' }] });
    const pending = await poll(second, 'chat/completions', id);
    expect(pending.status).toBe(202);
    expect(await pending.json()).toMatchObject({ job_id: id, status: 'pending' });
    const done = await eventually(() => poll(second, 'chat/completions', id), (response) => response.status !== 202, 5_000, 50);
    expect(done.status).toBe(200);
    expect(done.headers.get('x-heimdall-async-job')).toBe(id);
    const answer = await done.json() as { object: string; choices: { message: { content: string } }[] };
    expect(answer.object).toBe('chat.completion');
    expect(answer.choices[0].message.content).toBe('Echo: later');
  });

  it('keeps a failed job\'s error as its result, and runs rerank jobs too', async () => {
    const failed = await accepted(first, 'chat/completions', { model: 'mock/error-429', messages: [{ role: 'user', content: 'x' }] });
    const error = await eventually(() => poll(first, 'chat/completions', failed), (response) => response.status !== 202, 5_000, 50);
    expect(error.status).toBe(429);
    expect(((await error.json()) as { error: { code: string } }).error.code).toBe('upstream_rate_limited');
    const rerank = await accepted(first, 'rerank', { model: 'mock/r', query: 'blue sky', documents: ['red', 'blue sky'] });
    const ranked = await eventually(() => poll(first, 'rerank', rerank), (response) => response.status !== 202, 5_000, 50);
    expect(((await ranked.json()) as { results: { index: number }[] }).results[0].index).toBe(1);
  });

  it('refuses a streamed job, and answers 404 for an unknown id', async () => {
    const streamed = await submit(first, 'chat/completions', { model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(streamed.status).toBe(400);
    expect((await poll(first, 'chat/completions', 'job-00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await poll(first, 'chat/completions', 'not-a-job')).status).toBe(404);
  });

  it('keeps a result async_job_result_ttl from when it finished, then forgets it', async () => {
    // The job runs 3 s (the mock's latency), longer than its TTL: counted from the submit, it would be gone as it ended.
    const short = await start({ logged: true, ttl: 2, latencyMs: 3000 });
    const id = await accepted(short, 'chat/completions', { model: 'mock/error-400', messages: [{ role: 'user', content: 'x' }] });
    const done = await eventually(() => poll(short, 'chat/completions', id), (response) => response.status !== 202, 8_000, 50);
    // The job's result is the route's own 400, kept as it answered it.
    expect(done.status).toBe(400);
    await eventually(() => poll(short, 'chat/completions', id), (response) => response.status === 404, 4_000, 100);
  });

  it('takes the TTL of one job from x-bf-async-job-result-ttl, and refuses a bad one naming the header', async () => {
    const response = await fetch(`${first}/v1/async/chat/completions`, { method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bf-async-job-result-ttl': '2' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'soon gone' }] }) });
    expect(response.status).toBe(202);
    const job = await response.json() as { job_id: string; created_at: number; expires_at: number };
    // expires_at is when a job that never finishes is forgotten: a day, whatever the TTL of its result.
    expect(job.expires_at - job.created_at).toBeGreaterThanOrEqual(86_399);
    const done = await eventually(() => poll(first, 'chat/completions', job.job_id), (answer) => answer.status !== 202, 5_000, 50);
    expect(done.status).toBe(200);
    await eventually(() => poll(first, 'chat/completions', job.job_id), (answer) => answer.status === 404, 6_000, 100);
    for (const bad of ['0', '-5', '1.5', 'soon', '99999999']) {
      const refused = await fetch(`${first}/v1/async/chat/completions`, { method: 'POST',
        headers: { 'content-type': 'application/json', 'x-bf-async-job-result-ttl': bad },
        body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }) });
      expect(refused.status).toBe(400);
      const error = (await refused.json() as { error: { param: string; message: string } }).error;
      expect(error.param).toBe('x-bf-async-job-result-ttl');
      expect(error.message).toContain(bad);
    }
  });

  it('refuses async calls without a request log, naming the setting', async () => {
    const bare = await start({ logged: false });
    const refused = await submit(bare, 'chat/completions', { model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/client\.enable_logging/);
  });
});
