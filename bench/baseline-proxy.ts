/**
 * The reference point for gateway overhead: the least a proxy hop can do on one thread.
 * uWS front, undici Pool (keep-alive) to the upstream, answer copied back. No parsing, no worker threads.
 *
 *   node dist/bench/baseline-proxy.js --port 0 --upstream http://127.0.0.1:PORT [--connections 128]
 */
import { App, type HttpResponse } from 'uWebSockets.js';
import { Pool, type Dispatcher } from 'undici';
import { num, parseFlags, str } from './args.js';
import { listenAndAnnounce, onWholeBody, statusLine, withHealthAndNotFound } from './serve.js';

const flags = parseFlags(process.argv.slice(2));
const port = num(flags, 'port', 0);
const upstream = new URL(str(flags, 'upstream', ''));
if (upstream.hostname !== '127.0.0.1') throw new Error('--upstream must be http://127.0.0.1:PORT');

const pool = new Pool(upstream.origin, { connections: num(flags, 'connections', 128), pipelining: 1 });
const UPSTREAM_PATH = '/v1/chat/completions';
const JSON_HEADERS = { 'content-type': 'application/json' };

interface Exchange {
  aborted: boolean;
  /** Set while an upstream body is being streamed, so a client abort can stop it. */
  upstreamBody: Dispatcher.ResponseData['body'] | null;
}

function header(value: string | string[] | undefined, fallback: string): string {
  return (Array.isArray(value) ? value[0] : value) ?? fallback;
}

async function forward(res: HttpResponse, ex: Exchange, body: Buffer): Promise<void> {
  try {
    const up = await pool.request({ path: UPSTREAM_PATH, method: 'POST', headers: JSON_HEADERS, body });
    const type = header(up.headers['content-type'], 'application/json');
    if (ex.aborted) {
      up.body.on('error', () => {}).destroy();
      return;
    }
    if (!type.startsWith('text/event-stream')) {
      const answer = Buffer.from(await up.body.arrayBuffer());
      if (!ex.aborted) res.cork(() => res.writeStatus(statusLine(up.statusCode)).writeHeader('content-type', type).end(answer));
      return;
    }
    // Streamed answers are relayed chunk by chunk; backpressure is ignored (uWS buffers), as SSE chunks are small.
    ex.upstreamBody = up.body;
    res.cork(() => res.writeStatus(statusLine(up.statusCode)).writeHeader('content-type', type));
    for await (const chunk of up.body) {
      if (ex.aborted) break;
      res.cork(() => res.write(chunk as Buffer));
    }
    if (!ex.aborted) res.cork(() => res.end());
  } catch (err) {
    if (!ex.aborted) {
      const message = JSON.stringify({ error: { message: `upstream: ${(err as Error).message}`, type: 'bench_proxy' } });
      res.cork(() => res.writeStatus('502 Bad Gateway').writeHeader('content-type', 'application/json').end(message));
    }
  }
}

const app = withHealthAndNotFound(App()
  .post('/v1/chat/completions', (res) => {
    const ex: Exchange = { aborted: false, upstreamBody: null };
    res.onAborted(() => {
      ex.aborted = true;
      // An 'error' listener first: undici's body.destroy() without one crashes the process (UND_ERR_ABORTED).
      ex.upstreamBody?.on('error', () => {}).destroy();
    });
    onWholeBody(res, (body) => void forward(res, ex, body));
  }));

listenAndAnnounce(app, port, () => void pool.destroy());
