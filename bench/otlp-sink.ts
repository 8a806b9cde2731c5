/**
 * A stand-in OTLP/HTTP collector for the tracing bench (bench/tracing.ts): accepts POST /v1/traces, answers 200 with
 * an empty body, and counts what it got. A process of its own, so its CPU is not the gateway's.
 *
 *   node dist/bench/otlp-sink.js
 *
 * Prints `LISTENING <port>`; GET /stats answers {"exports":N,"bytes":N,"connections":N} (connections: the
 * exporter's keep-alive is working when it stays at a handful).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let exports = 0;
let bytes = 0;
let connections = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes, connections }));
    return;
  }
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.on('connection', () => {
  connections++;
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
