// A real gateway (built dist/) with only the keyless mock provider on port 0, its log lines captured, and traffic
// that touches every kind of series: answers, a stream, upstream errors (429 and 503), an unknown route, the native
// prefixes. The metrics tests and the deploy tests scrape what it exports.

import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../dist/src/config/load.js';
import { LEVEL_AS_NAME } from '../../dist/src/contract/log-destination.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../dist/src/gateway.js';
import { postChat, sseData } from './harness.js';

export interface MetricsGateway {
  readonly gateway: Gateway;
  readonly url: string;
  /** Every log line so far, parsed. */
  lines(): Record<string, unknown>[];
  close(): Promise<void>;
}

export interface MetricsGatewayOptions {
  /** The config's `client` block. */
  readonly client?: Record<string, unknown>;
  /** More of the mock provider's `mock_config`. */
  readonly mockConfig?: Record<string, unknown>;
  /** More of the mock provider's entry (`network_config`, ...). */
  readonly mockProvider?: Record<string, unknown>;
  /** Providers besides the mock. */
  readonly providers?: Record<string, unknown>;
  /** More of startGateway's options (`clusterMetrics`, ...). */
  readonly gateway?: Omit<GatewayOptions, 'logger'>;
}

export async function startMetricsGateway(options: MetricsGatewayOptions = {}): Promise<MetricsGateway> {
  const mock = { mock_config: { latency_ms: 0, chunk_count: 3, chunk_interval_ms: 0, ...options.mockConfig }, ...options.mockProvider };
  const config = await loadConfig({
    raw: { client: options.client ?? {}, providers: { mock, ...options.providers } },
    env: {},
    overrides: { port: 0, host: '127.0.0.1', logLevel: 'info' },
  });
  const written: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'debug', formatters: LEVEL_AS_NAME }, sink);
  const gateway = await startGateway(config, { ...options.gateway, logger });
  return {
    gateway,
    url: `http://127.0.0.1:${gateway.port}`,
    lines: () => written.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>),
    close: () => gateway.close(500),
  };
}

/** Traffic for every kind of series; returns once each answer has been read to its end. */
export async function sendMixedTraffic(url: string, headers: Record<string, string> = {}): Promise<void> {
  const check = async (response: Response, status: number) => {
    const text = await response.text();
    if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${text}`);
    return text;
  };
  await check(await postChat(url, { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }, headers), 200);
  const streamed = await check(await postChat(url, { model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    headers), 200);
  if (sseData(streamed).at(-1) !== '[DONE]') throw new Error('the stream did not end');
  await check(await postChat(url, { model: 'mock/error-429', messages: [{ role: 'user', content: 'hi' }] }, headers), 429);
  await check(await postChat(url, { model: 'mock/error-503', messages: [{ role: 'user', content: 'hi' }] }, headers), 503);
  await check(await fetch(`${url}/no/such/route`, { headers }), 404);
  await check(await fetch(`${url}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }) }), 200);
  await check(await fetch(`${url}/genai/v1beta/models/mock%2Fecho:generateContent`, { method: 'POST',
    headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }) }), 200);
  await check(await fetch(`${url}/v1/models`, { headers }), 200);
}

export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}
