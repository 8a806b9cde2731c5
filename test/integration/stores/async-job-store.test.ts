// The async jobs' table on both engines the request log's store runs on: a job written pending, then answered, read
// back byte for byte; an expired one is not read, and the next write deletes it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLogStore } from '../../../src/stores/log-store.js';
import type { StoreTarget } from '../../../src/stores/store-config.js';
import { dropPostgresSchema, postgresAvailable, postgresTarget, uniqueSchema } from '../../services.js';

const pgUp = await postgresAvailable();
const dir = mkdtempSync(join(tmpdir(), 'heimdall-asyncstore-'));
const schema = uniqueSchema('asyncjobs');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pgUp) await dropPostgresSchema(schema);
});

const engines: { name: string; up: boolean; target: () => StoreTarget }[] = [
  { name: 'sqlite', up: true, target: () => ({ type: 'sqlite', path: join(dir, 'logs.db') }) },
  { name: 'postgres', up: pgUp, target: () => postgresTarget(schema) },
];

describe.each(engines)('async jobs on $name', ({ up, target }) => {
  it.skipIf(!up)('writes a job pending, then its answer, and forgets it once expired', async () => {
    const store = await openLogStore(target());
    try {
      const now = Date.now();
      const job = { id: 'job-a', createdMs: now, expiresMs: now + 60_000 };
      await store.asyncJobs.put({ ...job, status: 0, contentType: 'application/json', body: new Uint8Array(0) });
      expect(await store.asyncJobs.get('job-a', now)).toMatchObject({ status: 0, createdMs: now });
      const bytes = new Uint8Array(Array.from({ length: 256 }, (_, i) => i));
      await store.asyncJobs.put({ ...job, status: 200, contentType: 'audio/wav', body: bytes });
      const done = await store.asyncJobs.get('job-a', now);
      expect(done).toMatchObject({ id: 'job-a', status: 200, contentType: 'audio/wav', expiresMs: now + 60_000 });
      expect(done!.body).toEqual(bytes);
      expect(await store.asyncJobs.get('job-a', now + 60_000)).toBeNull();
      await store.asyncJobs.put({ id: 'job-old', createdMs: now - 10, expiresMs: now - 1, status: 200, contentType: 'x', body: bytes });
      await store.asyncJobs.put({ id: 'job-b', createdMs: now, expiresMs: now + 1000, status: 0, contentType: 'x', body: bytes });
      expect(await store.asyncJobs.get('job-old', now - 5)).toBeNull();
      expect(await store.asyncJobs.get('job-missing', now)).toBeNull();
    } finally {
      await store.close();
    }
  });
});
