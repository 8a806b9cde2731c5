// The worker's HTTP client: one keep-alive connection pool per upstream origin, created on first use, reached
// directly or through the provider's proxy (`proxy_config`: an HTTP CONNECT proxy, SOCKS5, or the HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY the gateway started with), with the TLS trust the provider's network_config asks for.

import { rootCertificates, type ConnectionOptions } from 'node:tls';
import type { Client, Dispatcher } from 'undici';
import { loadUndici } from './undici-core.js';
import type { UpstreamTransportInit } from '../../src/contract/worker-init.js';
import { UpstreamPool, type UpstreamPoolOptions } from './pool.js';

/** What a job sends its request with: the origin is already known, so a request names only its path. */
export type OriginDispatcher = Pick<Dispatcher, 'dispatch'>;

export const DIRECT: UpstreamTransportInit = Object.freeze({ proxy: null, insecureSkipVerify: false, caCertPem: null });

/**
 * TLS options for connections to the upstream. A given CA is added to the system's roots, not put in their place:
 * Node's `ca` replaces the default store, and a provider behind a private CA may still redirect to a public host.
 * A proxy's CA is trusted for the upstream too, as a proxy that inspects TLS re-signs the upstream's certificate.
 */
function upstreamTls(transport: UpstreamTransportInit): ConnectionOptions | undefined {
  const extra = [transport.caCertPem, transport.proxy?.caCertPem].filter((pem): pem is string => Boolean(pem));
  if (extra.length === 0 && !transport.insecureSkipVerify) return undefined;
  return {
    ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}),
    ...(transport.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
  };
}

function proxyTls(transport: UpstreamTransportInit): ConnectionOptions | undefined {
  const pem = transport.proxy?.caCertPem;
  return pem ? { ca: [...rootCertificates, pem] } : undefined;
}

/** `Basic …` for the proxy's username and password; undici reads credentials written into the URL itself. */
function proxyToken(transport: UpstreamTransportInit): string | undefined {
  const proxy = transport.proxy;
  if (!proxy?.username && !proxy?.password) return undefined;
  return `Basic ${Buffer.from(`${proxy.username ?? ''}:${proxy.password ?? ''}`).toString('base64')}`;
}

/** Binds a dispatcher that serves many origins (a proxy agent) to one, as a pool per origin would be. */
class OriginBound implements OriginDispatcher {
  readonly #origin: string;
  readonly #dispatcher: Dispatcher;

  constructor(origin: string, dispatcher: Dispatcher) {
    this.#origin = origin;
    this.#dispatcher = dispatcher;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#dispatcher.dispatch({ ...options, origin: this.#origin }, handler);
  }
}

export class UpstreamClients {
  readonly #pools = new Map<string, OriginDispatcher>();
  readonly #owned: Dispatcher[] = [];
  readonly #poolOptions: UpstreamPoolOptions;
  /** null: direct connections, one UpstreamPool per origin. */
  readonly #proxy: Dispatcher | null;

  /** `timeoutMs` is the longest wait the jobs allow (request timeout or stream idle timeout). */
  constructor(connectionsPerOrigin: number, timeoutMs: number, transport: UpstreamTransportInit = DIRECT) {
    // Timeouts are enforced by the job's own timer (total, first byte, idle); undici's are a backstop.
    this.#poolOptions = {
      connections: connectionsPerOrigin,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs + 1_000,
      bodyTimeout: timeoutMs + 1_000,
      connect: upstreamTls(transport),
    };
    this.#proxy = this.#proxyDispatcher(transport);
  }

  #proxyDispatcher(transport: UpstreamTransportInit): Dispatcher | null {
    const proxy = transport.proxy;
    if (!proxy) return null;
    const requestTls = this.#poolOptions.connect as ConnectionOptions | undefined;
    // The proxy agents open their connections through the same pool as direct ones, handing it the function that
    // opens a tunnel (or nothing, for a host NO_PROXY exempts: then the direct TLS options apply).
    const factory = (origin: string | URL, options: object): Dispatcher => {
      const connect = (options as { connect?: Client.Options['connect'] }).connect;
      return new UpstreamPool(String(origin), { ...this.#poolOptions, connect: typeof connect === 'function' ? connect : requestTls });
    };
    const shared = { requestTls, proxyTls: proxyTls(transport), factory };
    const { EnvHttpProxyAgent, ProxyAgent, Socks5ProxyAgent } = loadUndici();
    let dispatcher: Dispatcher;
    if (proxy.type === 'environment') {
      // The values read at start-up; '' rather than null, which undici would take as "read process.env".
      const environment = proxy.environment;
      dispatcher = new EnvHttpProxyAgent({ ...shared, httpProxy: environment?.httpProxy ?? '', httpsProxy: environment?.httpsProxy ?? '',
        noProxy: environment?.noProxy ?? '' });
    } else if (proxy.type === 'socks5') {
      // undici's SOCKS5 agent keeps a pool of its own per origin; it reads `requestTls` though its types omit it.
      dispatcher = new Socks5ProxyAgent(proxy.url!, { connections: this.#poolOptions.connections,
        username: proxy.username ?? undefined, password: proxy.password ?? undefined, proxyTls: shared.proxyTls,
        ...({ requestTls } as object) });
    } else {
      dispatcher = new ProxyAgent({ uri: proxy.url!, token: proxyToken(transport), ...shared });
    }
    this.#owned.push(dispatcher);
    return dispatcher;
  }

  poolFor(origin: string): OriginDispatcher {
    let pool = this.#pools.get(origin);
    if (!pool) {
      if (this.#proxy) {
        pool = new OriginBound(origin, this.#proxy);
      } else {
        const direct = new UpstreamPool(origin, this.#poolOptions);
        this.#owned.push(direct);
        pool = direct;
      }
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#owned.map((dispatcher) => dispatcher.destroy()));
    this.#owned.length = 0;
    this.#pools.clear();
  }
}
