/**
 * The floor of Heimdall's design: the baseline proxy split over two threads the way Heimdall is, and nothing else.
 * A uWS front thread hands each request body to one worker thread through Heimdall's own slot rings; the worker
 * sends it upstream with an undici Pool (as the baseline does) and hands the answer back. No parsing, no codec, no
 * routing, plugins, metrics or Piscina: what is left is the price of the thread hop on this machine, which no
 * gateway built on this design can go below. A stream is relayed as Heimdall relays it: a ring message per upstream
 * read, written to the client as it comes.
 *
 * `--minimum` adds the least any gateway on this design must do per request, the plain way: parse the request to
 * route it by model, cross as msgpack both ways, send the body upstream under the provider's model name, split the
 * stream into its events to read the usage, and frame each event for the client. What Heimdall costs above that is
 * its features; what this costs above the bare hop is the part no gateway here can skip.
 *
 * `--bytes` is `--minimum` with the stream forwarded as the upstream's bytes, only the usage's event parsed: what
 * forwarding untouched bytes would save a gateway that must still read the usage.
 *
 *   node dist/bench/bare-hop.js --port 0 --upstream http://127.0.0.1:PORT [--connections 128] [--minimum | --bytes]
 */
import { Worker } from 'node:worker_threads';
import { App, type HttpResponse } from 'uWebSockets.js';
import { DEFAULT_RING_SHAPE } from '../src/contract/ring-layout.js';
import { RingReader, RingWriter, createRingBuffer } from '../src/contract/ring.js';
import { STREAM_DATA, STREAM_END, STREAM_START, UPSTREAM_PATH, WHOLE, frame, minimumPackr, type HopInit } from './bare-hop-worker.js';
import { num, parseFlags, str } from './args.js';
import { listenAndAnnounce, onWholeBody, statusLine, withHealthAndNotFound } from './serve.js';

function runFront(): void {
  const flags = parseFlags(process.argv.slice(2));
  const upstream = new URL(str(flags, 'upstream', ''));
  if (upstream.hostname !== '127.0.0.1') throw new Error('--upstream must be http://127.0.0.1:PORT');
  const init: HopInit = {
    jobs: createRingBuffer(DEFAULT_RING_SHAPE),
    results: createRingBuffer(DEFAULT_RING_SHAPE),
    upstream: upstream.origin,
    connections: num(flags, 'connections', 128),
    minimum: flags.has('minimum') || flags.has('bytes'),
    bytes: flags.has('bytes'),
  };
  const worker = new Worker(new URL('./bare-hop-worker.js', import.meta.url), { workerData: init });
  worker.on('error', (error) => {
    process.stderr.write(`bare-hop worker failed: ${error.message}\n`);
    process.exit(1);
  });
  const jobs = new RingWriter(init.jobs, DEFAULT_RING_SHAPE);
  if (init.minimum) {
    serveMinimum(jobs, init, num(flags, 'port', 0), () => void worker.terminate());
    return;
  }
  const waiting = new Map<number, { res: HttpResponse; aborted: boolean }>();
  let nextId = 0;
  new RingReader(init.results, DEFAULT_RING_SHAPE, (message) => {
    const view = new DataView(message.buffer, message.byteOffset);
    const id = view.getUint32(0, true);
    const exchange = waiting.get(id);
    if (!exchange) return;
    const kind = view.getUint8(6);
    if (kind === WHOLE || kind === STREAM_END) waiting.delete(id);
    if (exchange.aborted) return;
    const status = view.getUint16(4, true);
    const res = exchange.res;
    if (kind === WHOLE) {
      res.cork(() => res.writeStatus(statusLine(status))
        .writeHeader('content-type', 'application/json').end(message.subarray(7)));
    } else if (kind === STREAM_START) {
      res.cork(() => res.writeStatus(statusLine(status)).writeHeader('content-type', 'text/event-stream'));
    } else if (kind === STREAM_DATA) {
      res.cork(() => res.write(message.subarray(7)));
    } else {
      res.cork(() => res.end());
    }
  }, { transient: true }).start();

  const app = withHealthAndNotFound(App()
    .post(UPSTREAM_PATH, (res) => {
      const id = nextId = (nextId + 1) >>> 0;
      const exchange = { res, aborted: false };
      res.onAborted(() => {
        exchange.aborted = true;
      });
      onWholeBody(res, (body) => {
        waiting.set(id, exchange);
        jobs.send(frame(id, body));
      });
    }));
  listenAndAnnounce(app, num(flags, 'port', 0), () => void worker.terminate());
}

/** The front of `--minimum` (see bare-hop-worker.ts, `runMinimumWorker`). */
function serveMinimum(jobs: RingWriter, init: HopInit, port: number, onClose: () => void): void {
  const waiting = new Map<number, { res: HttpResponse; aborted: boolean; started: boolean }>();
  let nextId = 0;
  new RingReader(init.results, DEFAULT_RING_SHAPE, (message) => {
    const [id, kind, status, payload] = minimumPackr.unpack(message) as [number, number, number, string | string[] | Uint8Array[]];
    const exchange = waiting.get(id);
    if (!exchange) return;
    if (kind === WHOLE || kind === STREAM_END) waiting.delete(id);
    if (exchange.aborted) return;
    const res = exchange.res;
    if (kind === WHOLE) {
      // An upstream that failed mid-stream: the head went out, so the stream is cut short.
      if (exchange.started) res.cork(() => res.end());
      else res.cork(() => res.writeStatus(statusLine(status))
        .writeHeader('content-type', 'application/json').end(payload as string));
      return;
    }
    // A stream's first message brings its head: the headers, its events and (read at once) its end go out in one write.
    res.cork(() => {
      if (!exchange.started) {
        exchange.started = true;
        res.writeStatus(statusLine(status)).writeHeader('content-type', 'text/event-stream');
      }
      if (init.bytes) {
        // The upstream's reads, as they came: already framed, its `[DONE]` among them.
        for (const read of payload as Uint8Array[]) res.write(read);
        if (kind === STREAM_END) res.end();
        return;
      }
      let framed = '';
      for (const event of payload as string[]) framed += `data: ${event}\n\n`;
      if (kind === STREAM_END) res.end(`${framed}data: [DONE]\n\n`);
      else res.write(framed);
    });
  }, { transient: true }).start();
  const app = withHealthAndNotFound(App()
    .post(UPSTREAM_PATH, (res) => {
      const id = nextId = (nextId + 1) >>> 0;
      const exchange = { res, aborted: false, started: false };
      res.onAborted(() => {
        exchange.aborted = true;
      });
      onWholeBody(res, (body) => {
        let request: unknown = null;
        try {
          request = JSON.parse(body.toString());
        } catch {
          // answered below
        }
        if (typeof request !== 'object' || request === null || Array.isArray(request)) {
          res.cork(() => res.writeStatus('400 Bad Request').end('{"error":{"message":"the body is not a JSON object"}}'));
          return;
        }
        const model = String((request as { model?: unknown }).model ?? '');
        waiting.set(id, exchange);
        jobs.send(new Uint8Array(minimumPackr.pack([id, model.slice(model.indexOf('/') + 1), request])));
      });
    }));
  listenAndAnnounce(app, port, onClose);
}

runFront();
