import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPool } from '../../../../workers/upstream/pool.js';

interface Outcome {
  status?: number;
  body?: string;
  error?: Error;
}

type HandlerStyle = 'raw' | 'controller';

/**
 * Sends one request through `pool`. `raw`: the callbacks undici's HTTP/1 client calls itself, as the worker's
 * handler is written; `controller`: undici's newer `onResponse*` API, which it adapts to those.
 */
function send(pool: UpstreamPool, path: string, style: HandlerStyle = 'raw'): Promise<Outcome> {
  return new Promise((resolve) => {
    let status = 0;
    const parts: Buffer[] = [];
    const answered = () => resolve({ status, body: Buffer.concat(parts).toString() });
    const failed = (error: Error) => resolve({ error });
    const handler: Dispatcher.DispatchHandler = style === 'raw'
      ? {
        onConnect: () => {},
        onHeaders: (statusCode) => {
          status = statusCode;
          return true;
        },
        onData: (chunk) => {
          parts.push(chunk);
          return true;
        },
        onComplete: answered,
        onError: failed,
      }
      : {
        onRequestStart: () => {},
        onResponseStart: (_c, statusCode) => void (status = statusCode),
        onResponseData: (_c, chunk) => void parts.push(chunk),
        onResponseEnd: answered,
        onResponseError: (_c, error) => failed(error),
      };
    pool.dispatch({ path, method: 'GET' }, handler);
  });
}

interface Upstream {
  origin: string;
  server: Server;
  /** Distinct TCP connections the server accepted. */
  sockets: Set<Socket>;
  /** Requests the server is holding (see `hold`), in arrival order. */
  held: Array<{ path: string; res: ServerResponse }>;
  maxConcurrent: number;
}

/** A real HTTP server on port 0. Paths starting with /hold are answered only when the test releases them. */
async function upstream(): Promise<Upstream> {
  const u: Upstream = { origin: '', server: createServer(), sockets: new Set(), held: [], maxConcurrent: 0 };
  let open = 0;
  u.server.on('connection', (socket) => u.sockets.add(socket));
  u.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    open++;
    u.maxConcurrent = Math.max(u.maxConcurrent, open);
    res.on('finish', () => open--);
    if (req.url!.startsWith('/hold')) u.held.push({ path: req.url!, res });
    else res.end(`answer ${req.url}`);
  });
  await new Promise<void>((resolve) => u.server.listen(0, '127.0.0.1', resolve));
  u.origin = `http://127.0.0.1:${(u.server.address() as AddressInfo).port}`;
  return u;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}

const OPTIONS = { keepAliveTimeout: 30_000, headersTimeout: 10_000, bodyTimeout: 10_000 };
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function pool(origin: string, connections: number): UpstreamPool {
  const p = new UpstreamPool(origin, { connections, ...OPTIONS });
  cleanup.push(() => p.destroy());
  return p;
}

function server(u: Upstream): Upstream {
  cleanup.push(() => new Promise((resolve) => {
    u.server.closeAllConnections();
    u.server.close(resolve);
  }));
  return u;
}

describe('upstream connection pool', () => {
  it('reuses one keep-alive connection for requests one after another', async () => {
    const u = server(await upstream());
    const p = pool(u.origin, 8);
    for (let i = 0; i < 20; i++) {
      expect(await send(p, `/r${i}`)).toEqual({ status: 200, body: `answer /r${i}` });
      // undici hands a connection back one event-loop turn after its answer ends (a server that said keep-alive
      // may still close it); a request sent sooner opens a second connection, with undici's own Pool too.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(u.sockets.size).toBe(1);
    expect(p.counts).toEqual({ connections: 1, idle: 1, waiting: 0 });
  });

  it('opens no more connections than its limit and serves the waiting requests first come, first served', async () => {
    const u = server(await upstream());
    const p = pool(u.origin, 2);
    const answers = Array.from({ length: 6 }, (_, i) => send(p, `/hold${i}`));
    await until(() => u.held.length === 2);
    expect(p.counts).toEqual({ connections: 2, idle: 0, waiting: 4 });
    const order: string[] = [];
    while (order.length < 6) {
      await until(() => u.held.length > 0);
      const next = u.held.shift()!;
      order.push(next.path);
      next.res.end(`held ${next.path}`);
    }
    expect(order).toEqual(['/hold0', '/hold1', '/hold2', '/hold3', '/hold4', '/hold5']);
    expect((await Promise.all(answers)).map((a) => a.body)).toEqual(order.map((path) => `held ${path}`));
    expect(u.maxConcurrent).toBe(2);
    expect(u.sockets.size).toBe(2);
    await until(() => p.counts.idle === 2);
    expect(p.counts).toEqual({ connections: 2, idle: 2, waiting: 0 });
  });

  it('fails every request, waiting ones included, when the upstream refuses connections', async () => {
    const u = await upstream();
    await new Promise((resolve) => u.server.close(resolve));
    const p = pool(u.origin, 1);
    const outcomes = await Promise.all(Array.from({ length: 4 }, (_, i) => send(p, `/r${i}`)));
    for (const outcome of outcomes) expect((outcome.error as Error & { code?: string }).code).toBe('ECONNREFUSED');
    expect(p.counts.waiting).toBe(0);
  });

  it.each(['raw', 'controller'] as const)('answers waiting requests with an error when destroyed, and refuses new ones (%s handlers)', async (style) => {
    const u = server(await upstream());
    const p = new UpstreamPool(u.origin, { connections: 1, ...OPTIONS });
    const first = send(p, '/hold-a', style);
    const waiting = send(p, '/r1', style);
    await until(() => u.held.length === 1);
    await p.destroy();
    expect((await waiting).error?.message).toMatch(/destroyed/);
    expect((await first).error).toBeInstanceOf(Error);
    expect((await send(p, '/r2', style)).error?.message).toMatch(/closed/);
  });

  it('lets a request in flight finish when closed gracefully', async () => {
    const u = server(await upstream());
    const p = new UpstreamPool(u.origin, { connections: 1, ...OPTIONS });
    const inFlight = send(p, '/hold-b');
    await until(() => u.held.length === 1);
    const closed = p.close();
    u.held[0].res.end('finished');
    expect(await inFlight).toEqual({ status: 200, body: 'finished' });
    await closed;
  });
});
