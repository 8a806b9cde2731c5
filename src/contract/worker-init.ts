// What a provider worker is handed once, when the long-lived serve task for its channel starts. Plain data:
// the worker never sees the config validator or the front thread's objects.

import type { MessagePort } from 'node:worker_threads';
import type { MetricsSpec } from './metrics-layout.js';
import type { RingShape } from './ring-layout.js';

export interface KeyInit {
  /** The key itself; empty for keyless providers and for keys that authenticate by cloud credentials. */
  value: string;
  /** The key's provider-specific blocks by field name (`azure_key_config`, …), secrets resolved. */
  configs: Record<string, unknown>;
}

/** How the worker reaches the upstream: a proxy, and whose TLS certificates it trusts. */
export interface UpstreamTransportInit {
  /** null: connect directly. `environment`: the HTTPS_PROXY / HTTP_PROXY / NO_PROXY values read at start-up. */
  proxy: {
    type: 'http' | 'socks5' | 'environment';
    url: string | null;
    username: string | null;
    password: string | null;
    caCertPem: string | null;
    environment: { httpProxy: string | null; httpsProxy: string | null; noProxy: string | null } | null;
  } | null;
  insecureSkipVerify: boolean;
  caCertPem: string | null;
}

export interface ProviderInit {
  name: string;
  /** Adapter id from workers/providers: "openai", "mock", … */
  adapter: string;
  /** The keys in config order; a job names one by index. */
  keys: KeyInit[];
  baseUrl: string | null;
  extraHeaders: Record<string, string>;
  requestTimeoutMs: number;
  /** A stream's first chunk must arrive within this; null: only the total applies. */
  firstTokenTimeoutMs: number | null;
  streamIdleTimeoutMs: number;
  maxConnsPerHost: number;
  transport: UpstreamTransportInit;
  mock: {
    latencyMs: number;
    chunkCount: number;
    chunkIntervalMs: number;
    promptTokens: number | null;
    completionTokens: number | null;
  } | null;
}

export interface WorkerInit {
  provider: ProviderInit;
  channelIndex: number;
  ringShape: RingShape;
  toWorker: SharedArrayBuffer;
  toFront: SharedArrayBuffer;
  /** The worker's end of the port messages too large for the rings cross by (src/contract/large-messages.ts). */
  port: MessagePort;
  /** From how many encoded bytes a message goes through the port rather than the ring, each way. */
  largeMessageBytes: { toWorker: number; toFront: number };
  metricsBuffer: SharedArrayBuffer;
  /** What the front built its metrics layout from, so the worker builds the same one. */
  metricsSpec: MetricsSpec;
  providerIndex: number;
  shardIndex: number;
  logLevel: string;
  /**
   * THREAD_MEMORY_FIELDS float64s this worker writes its V8 heap figures into (when it starts serving, then at most
   * once a second as jobs settle): the front reads them at scrape time, without a message or a wake-up.
   */
  memory: SharedArrayBuffer;
}

/** The float64s of WorkerInit.memory: V8 heap in use and committed, and memory outside it (buffers, wasm). */
export const THREAD_MEMORY_FIELDS = 3;
export const MEMORY_HEAP_USED = 0;
export const MEMORY_HEAP_TOTAL = 1;
export const MEMORY_EXTERNAL = 2;
