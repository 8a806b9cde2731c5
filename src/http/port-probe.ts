// Whether a listen address is free, asked of the system with node:net (no uWebSockets.js here, so the supervisor and
// the config summary can use it too). uWebSockets.js says only that listening failed; an exclusive bind of the same
// address recovers the system's reason, so the operator reads "address already in use" and not a guess.

import { createServer, type AddressInfo } from 'node:net';

/** `host:port`, with an IPv6 host in brackets as in a URL. */
export function formatAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A port that could not be bound: `code` is the system's reason (EADDRINUSE, EACCES, EADDRNOTAVAIL), when known. */
export class ListenError extends Error {
  readonly code: string;
  readonly address: string;

  constructor(address: string, code: string, reason: string) {
    super(`could not listen on ${address}: ${reason}`);
    this.name = 'ListenError';
    this.address = address;
    this.code = code;
  }
}

const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (another process is listening on this port: stop it or pick another --port)',
  EACCES: 'permission denied (ports below 1024 need privileges: pick a higher --port)',
  EADDRNOTAVAIL: 'address not available (no network interface has this --host address)',
};

/**
 * Binds `host:port` exclusively for a moment and lets go: the port it got (the system's pick for port 0), or why it
 * could not be bound.
 */
export function probePort(host: string, port: number): Promise<number | ListenError> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'UNKNOWN';
      resolve(new ListenError(formatAddress(host, port), code, LISTEN_REASONS[code] ?? `${code}: ${error.message}`));
    });
    probe.listen({ host, port, exclusive: true }, () => {
      const picked = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(picked));
    });
  });
}
