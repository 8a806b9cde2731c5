// The exporter thread: takes batches of spans the front thread encoded (exporter.ts), wraps them into OTLP
// ExportTraceServiceRequests and sends them to the collector over HTTP or gRPC, at most two exports in flight.
// Nothing here can slow a request: the front thread only posts bytes here, and refuses spans once the shared `queued`
// count is at the bound.
// An export that fails is dropped and counted, not retried: a collector that is down must not grow a backlog.

import { connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import type { TracingConfig } from '../../config/types.js';
import { encodeTraceRequestParts, type ExportResource } from './otlp-proto.js';
import { COUNTER_DROPPED, COUNTER_EXPORTED, COUNTER_QUEUED, MAX_EXPORT_BYTES, type ExportThreadData, type FromExportThread,
  type ToExportThread } from './exporter.js';

const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
/** How often a failing collector is reported to the front's log: once a minute is enough to be seen. */
const REPORT_EVERY_MS = 60_000;

const data = workerData as ExportThreadData;
const settings: TracingConfig = data.settings;
const counters = new BigInt64Array(data.counters);
const queued = new Int32Array(data.counters, 0, 1);
const resource: ExportResource = { attributes: settings.resource, scopeName: 'heimdall', scopeVersion: data.version };

/** Encoded spans in arrival order. */
let queue: { bytes: Uint8Array; count: number }[] = [];
/** Exports in flight; a second one starts only when a full batch waits, so a slow round trip halves the rate less. */
let inFlight = 0;
const MAX_IN_FLIGHT = 2;
let flushWaiter: (() => void) | null = null;
let lastReport = 0;

function report(message: string): void {
  const now = Date.now();
  if (now - lastReport < REPORT_EVERY_MS) return;
  lastReport = now;
  parentPort!.postMessage({ type: 'export-failed', message });
}

function settle(count: number, ok: boolean): void {
  Atomics.sub(queued, COUNTER_QUEUED, count);
  Atomics.add(counters, ok ? COUNTER_EXPORTED : COUNTER_DROPPED, BigInt(count));
}

// The waiting for a batch to fill is done on the front thread, which hands spans over at `max_export_batch_size` or
// after `schedule_delay_ms`: a hand-off is exported at once, so this thread wakes once per hand-off and once per
// answer, never for a timer of its own (each wake-up of a thread that sleeps between exports costs a few hundred µs).
function schedule(): void {
  if (inFlight < MAX_IN_FLIGHT && queue.length > 0) void exportNext();
}

async function exportNext(): Promise<void> {
  if (inFlight >= MAX_IN_FLIGHT || queue.length === 0) {
    if (inFlight === 0 && queue.length === 0 && flushWaiter) flushWaiter();
    return;
  }
  inFlight++;
  // Whole hand-offs, at least one, up to the batch size and MAX_EXPORT_BYTES: a hand-off holds at most about one batch
  // and MAX_HANDOFF_BYTES already.
  let count = 0;
  let bytes = 0;
  let taken = 0;
  while (taken < queue.length && (taken === 0 || (count + queue[taken].count <= settings.maxBatchSpans
    && bytes + queue[taken].bytes.length <= MAX_EXPORT_BYTES))) {
    count += queue[taken].count;
    bytes += queue[taken++].bytes.length;
  }
  const batch = queue.slice(0, taken).map((entry) => entry.bytes);
  queue = queue.slice(taken);
  // Another hand-off may already wait: it need not wait for this round trip.
  schedule();
  let ok = false;
  try {
    await send(encodeTraceRequestParts(resource, batch));
    ok = true;
  } catch (error) {
    report(`${settings.protocol === 'grpc' ? 'gRPC' : 'HTTP'} export to ${settings.endpoint} failed: ${(error as Error).message}`);
  }
  settle(count, ok);
  // Answered, the request was written out whole: its buffers go back to the front for its next hand-offs. After a
  // failure a socket being torn down may still hold them, so they are let go instead.
  if (ok) {
    const buffers = batch.map((bytes) => bytes.buffer as ArrayBuffer);
    parentPort!.postMessage({ type: 'spent', buffers } satisfies FromExportThread, buffers);
  }
  inFlight--;
  if (queue.length === 0 && inFlight === 0 && flushWaiter) flushWaiter();
  else schedule();
}

// ---- HTTP/protobuf

const secure = settings.endpoint.startsWith('https:');
const agentOptions = { keepAlive: true, maxSockets: 2, ...(settings.tlsCa ? { ca: settings.tlsCa } : {}) };
const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);

const lengthOf = (parts: readonly Uint8Array[]): number => {
  let length = 0;
  for (const part of parts) length += part.length;
  return length;
};

// The endpoint parsed once: a URL string made every export parse it again, and this thread's code, run a few times a
// second, never gets hot enough for the runtime to optimise it, so each step it skips counts.
const endpoint = new URL(settings.endpoint);
const target = { protocol: endpoint.protocol, hostname: endpoint.hostname.replace(/^\[|\]$/g, ''),
  port: endpoint.port === '' ? undefined : Number(endpoint.port), path: `${endpoint.pathname}${endpoint.search}`,
  ...(endpoint.username ? { auth: `${decodeURIComponent(endpoint.username)}:${decodeURIComponent(endpoint.password)}` } : {}) };

function sendHttp(parts: readonly Uint8Array[]): Promise<void> {
  const length = lengthOf(parts);
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)({
      ...target, method: 'POST', agent, timeout: settings.exportTimeoutMs,
      headers: { ...settings.headers, 'content-type': 'application/x-protobuf', 'content-length': length },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else reject(new Error(`HTTP ${status} ${Buffer.concat(parts).toString('utf8').slice(0, 200)}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${settings.exportTimeoutMs} ms`)));
    req.on('error', reject);
    // Corked, the envelope and the spans' buffers leave in one writev rather than one write each.
    req.cork();
    for (const part of parts) req.write(part);
    req.end();
  });
}

// ---- gRPC over node:http2: one unary call is a POST of a 5-byte-prefixed message, its verdict in `grpc-status`.

let session: ClientHttp2Session | null = null;

function grpcSession(): ClientHttp2Session {
  if (session && !session.closed && !session.destroyed) return session;
  const opened = connect(settings.endpoint, settings.tlsCa ? { ca: settings.tlsCa } : {});
  opened.on('error', () => opened.destroy());
  opened.on('close', () => {
    if (session === opened) session = null;
  });
  // The exporter's session must not keep the thread (and so the process) alive between exports.
  opened.unref();
  session = opened;
  return opened;
}

function sendGrpc(parts: readonly Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(lengthOf(parts), 1);
    let stream;
    try {
      stream = grpcSession().request({
        ...settings.headers,
        [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: GRPC_PATH,
        [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', te: 'trailers',
        'grpc-timeout': `${settings.exportTimeoutMs}m`,
      });
    } catch (error) {
      reject(error as Error);
      return;
    }
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    let httpStatus = 0;
    const read = (headers: Record<string, unknown>) => {
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(headers['grpc-message']));
    };
    stream.setTimeout(settings.exportTimeoutMs, () => stream.close(h2.NGHTTP2_CANCEL));
    stream.on('response', (headers) => {
      httpStatus = Number(headers[h2.HTTP2_HEADER_STATUS]);
      read(headers);
    });
    stream.on('trailers', read);
    stream.on('data', () => {});
    stream.on('error', reject);
    stream.on('close', () => {
      if (grpcStatus === '0') resolve();
      else if (grpcStatus !== undefined) reject(new Error(`grpc-status ${grpcStatus}${grpcMessage ? ` ${grpcMessage}` : ''}`));
      else reject(new Error(httpStatus ? `HTTP/2 ${httpStatus} without grpc-status` : 'the call ended without an answer'));
    });
    stream.cork();
    stream.write(prefix);
    for (const part of parts) stream.write(part);
    stream.end();
  });
}

const send = settings.protocol === 'grpc' ? sendGrpc : sendHttp;

parentPort!.on('message', (message: ToExportThread) => {
  if (message.type === 'spans') {
    queue.push({ bytes: message.bytes, count: message.count });
    schedule();
    return;
  }
  // Shutdown: everything queued goes out now; the front waits for the answer (with its own time limit).
  flushWaiter = () => {
    flushWaiter = null;
    parentPort!.postMessage({ type: 'flushed' });
  };
  if (inFlight > 0) return;
  if (queue.length === 0) flushWaiter();
  else void exportNext();
});
