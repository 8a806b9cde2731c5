// A real OTLP trace receiver for tests: HTTP/protobuf (POST /v1/traces) and gRPC (TraceService/Export over
// h2c), each on its own 127.0.0.1 port. It decodes what arrives with a protobuf reader written against
// opentelemetry-proto's field numbers, independently of the gateway's encoder, so a wrong field number or wire type
// fails the tests rather than round-tripping.

import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2Server, createSecureServer as createSecureH2Server, type Http2Server, type Http2SecureServer,
  type ServerHttp2Stream } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export type AttrValue = string | number | boolean | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  /** Nanoseconds since the epoch. */
  start: bigint;
  end: bigint;
  attributes: Record<string, AttrValue>;
  events: { name: string; time: bigint; attributes: Record<string, AttrValue> }[];
  status: { code: number; message: string };
}

export interface ReceivedExport {
  readonly protocol: 'http' | 'grpc';
  readonly headers: Record<string, string | string[] | undefined>;
  readonly resource: Record<string, AttrValue>;
  readonly scope: { name: string; version: string };
  readonly spans: ReceivedSpan[];
}

// ---- a minimal protobuf reader

interface Field {
  no: number;
  wire: number;
  varint?: bigint;
  bytes?: Buffer;
  fixed64?: Buffer;
}

function readVarint(buf: Buffer, at: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[at.pos++];
    if (byte === undefined) throw new Error('truncated varint');
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  const at = { pos: 0 };
  while (at.pos < buf.length) {
    const key = Number(readVarint(buf, at));
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: readVarint(buf, at) });
    else if (wire === 1) {
      out.push({ no, wire, fixed64: buf.subarray(at.pos, at.pos + 8) });
      at.pos += 8;
    } else if (wire === 2) {
      const len = Number(readVarint(buf, at));
      out.push({ no, wire, bytes: buf.subarray(at.pos, at.pos + len) });
      at.pos += len;
    } else if (wire === 5) {
      at.pos += 4;
      out.push({ no, wire });
    } else throw new Error(`unexpected wire type ${wire} for field ${no}`);
  }
  return out;
}

function anyValue(buf: Buffer): AttrValue {
  for (const f of fields(buf)) {
    if (f.no === 1 && f.wire === 2) return f.bytes!.toString('utf8');
    if (f.no === 2 && f.wire === 0) return f.varint !== 0n;
    if (f.no === 3 && f.wire === 0) return Number(BigInt.asIntN(64, f.varint!));
    if (f.no === 4 && f.wire === 1) return f.fixed64!.readDoubleLE(0);
  }
  return null;
}

function keyValues(list: Field[], no: number): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const f of list) {
    if (f.no !== no || f.wire !== 2) continue;
    let key = '';
    let value: AttrValue = null;
    for (const kv of fields(f.bytes!)) {
      if (kv.no === 1) key = kv.bytes!.toString('utf8');
      if (kv.no === 2) value = anyValue(kv.bytes!);
    }
    out[key] = value;
  }
  return out;
}

const str = (list: Field[], no: number): string => list.find((f) => f.no === no && f.wire === 2)?.bytes?.toString('utf8') ?? '';
const hex = (list: Field[], no: number): string => list.find((f) => f.no === no && f.wire === 2)?.bytes?.toString('hex') ?? '';
const u64 = (list: Field[], no: number): bigint => list.find((f) => f.no === no && f.wire === 1)?.fixed64?.readBigUInt64LE(0) ?? 0n;
const num = (list: Field[], no: number): number => Number(list.find((f) => f.no === no && f.wire === 0)?.varint ?? 0n);

function decodeSpan(buf: Buffer): ReceivedSpan {
  const f = fields(buf);
  const statusBytes = f.find((x) => x.no === 15)?.bytes;
  const status = statusBytes ? fields(statusBytes) : [];
  return {
    traceId: hex(f, 1), spanId: hex(f, 2), traceState: str(f, 3), parentSpanId: hex(f, 4), name: str(f, 5), kind: num(f, 6),
    start: u64(f, 7), end: u64(f, 8), attributes: keyValues(f, 9),
    events: f.filter((x) => x.no === 11).map((x) => {
      const e = fields(x.bytes!);
      return { time: u64(e, 1), name: str(e, 2), attributes: keyValues(e, 3) };
    }),
    status: { message: str(status, 2), code: num(status, 3) },
  };
}

export function decodeExportRequest(body: Buffer, protocol: 'http' | 'grpc', headers: ReceivedExport['headers']): ReceivedExport[] {
  return fields(body).filter((f) => f.no === 1).map((rs) => {
    const r = fields(rs.bytes!);
    const resource = keyValues(fields(r.find((x) => x.no === 1)?.bytes ?? Buffer.alloc(0)), 1);
    const spans: ReceivedSpan[] = [];
    let scope = { name: '', version: '' };
    for (const ss of r.filter((x) => x.no === 2)) {
      const s = fields(ss.bytes!);
      const sc = fields(s.find((x) => x.no === 1)?.bytes ?? Buffer.alloc(0));
      scope = { name: str(sc, 1), version: str(sc, 2) };
      for (const sp of s.filter((x) => x.no === 2)) spans.push(decodeSpan(sp.bytes!));
    }
    return { protocol, headers, resource, scope, spans };
  });
}

// ---- the servers

export interface OtlpReceiver {
  /** http://127.0.0.1:PORT/v1/traces */
  readonly httpUrl: string;
  /** http://127.0.0.1:PORT for gRPC (h2c). */
  readonly grpcUrl: string;
  readonly exports: ReceivedExport[];
  readonly spans: ReceivedSpan[];
  /** Answer every export with this HTTP status (HTTP) or grpc-status (gRPC) instead of success; null: accept. */
  fail: { http: number; grpc: number } | null;
  /** Hold every export this long before answering (a slow collector). */
  delayMs: number;
  /** Resolves with the spans of `traceId` once `count` of them arrived. */
  waitForTrace(traceId: string, count: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Resolves once some span satisfies `match`; its trace's spans so far come with it. */
  waitForSpan(match: (span: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  close(): Promise<void>;
}

/** With `tls`, both ports speak TLS (https:// and gRPC over TLS) with that certificate. */
export async function startOtlpReceiver(options: { tls?: { key: string; cert: string } } = {}): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  const receiver = { fail: null as OtlpReceiver['fail'], delayMs: 0 };
  const record = (got: ReceivedExport[]) => {
    for (const e of got) {
      exports.push(e);
      spans.push(...e.spans);
    }
    for (const wake of waiters) wake();
  };
  const later = (fn: () => void) => (receiver.delayMs > 0 ? setTimeout(fn, receiver.delayMs) : fn());

  const sockets = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => later(() => {
      if (req.url !== '/v1/traces' || req.method !== 'POST' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(404).end();
        return;
      }
      if (receiver.fail) {
        res.writeHead(receiver.fail.http, { 'content-type': 'text/plain' }).end('refused');
        return;
      }
      record(decodeExportRequest(Buffer.concat(parts), 'http', req.headers as IncomingHttpHeaders));
      // An empty ExportTraceServiceResponse.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    }));
  };
  const http: Server = options.tls ? createHttpsServer(options.tls, onRequest) : createServer(onRequest);
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const h2: Http2Server | Http2SecureServer = options.tls ? createSecureH2Server(options.tls) : createH2Server();
  const h2Sessions = new Set<{ destroy(): void }>();
  (h2 as Http2Server).on('session', (session) => {
    h2Sessions.add(session);
    session.on('close', () => h2Sessions.delete(session));
  });
  (h2 as Http2Server).on('stream', (stream: ServerHttp2Stream, headers) => {
    const parts: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => later(() => {
      const path = headers[':path'];
      if (path !== '/opentelemetry.proto.collector.trace.v1.TraceService/Export' || headers['content-type'] !== 'application/grpc') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      if (receiver.fail) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(receiver.fail.grpc),
          'grpc-message': 'refused' }, { endStream: true });
        return;
      }
      const frame = Buffer.concat(parts);
      const length = frame.readUInt32BE(1);
      record(decodeExportRequest(frame.subarray(5, 5 + length), 'grpc', headers as ReceivedExport['headers']));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // An empty ExportTraceServiceResponse, length-prefixed.
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    }));
  });
  http.listen(0, '127.0.0.1');
  h2.listen(0, '127.0.0.1');
  await Promise.all([once(http, 'listening'), once(h2, 'listening')]);

  const waitUntil = <T>(check: () => T | null, timeoutMs: number, what: string): Promise<T> => new Promise((resolve, reject) => {
    const attempt = () => {
      const found = check();
      if (found === null) return false;
      waiters.delete(attempt);
      clearTimeout(timer);
      resolve(found);
      return true;
    };
    const timer = setTimeout(() => {
      waiters.delete(attempt);
      reject(new Error(`the receiver did not get ${what} within ${timeoutMs} ms (got ${spans.length} spans: ${spans.map((s) => s.name).join(', ')})`));
    }, timeoutMs);
    if (!attempt()) waiters.add(attempt);
  });

  return Object.assign(receiver, {
    httpUrl: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(http.address() as AddressInfo).port}/v1/traces`,
    grpcUrl: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(h2.address() as AddressInfo).port}`,
    exports,
    spans,
    waitForTrace: (traceId: string, count: number, timeoutMs = 5000) => waitUntil(() => {
      const of = spans.filter((s) => s.traceId === traceId);
      return of.length >= count ? of : null;
    }, timeoutMs, `${count} spans of trace ${traceId}`),
    waitForSpan: (match: (span: ReceivedSpan) => boolean, timeoutMs = 5000) =>
      waitUntil(() => spans.find(match) ?? null, timeoutMs, 'a matching span'),
    async close() {
      for (const socket of sockets) socket.destroy();
      for (const session of h2Sessions) session.destroy();
      await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => h2.close(r))]);
    },
  });
}
