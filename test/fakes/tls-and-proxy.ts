// What stands between Heimdall and a provider on a real network: an HTTPS front (TLS with the self-signed
// certificate in test/fixtures/tls, in front of a plain fake) and an HTTP CONNECT proxy that counts its tunnels.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
/** Self-signed for 127.0.0.1 and localhost, valid until 2126: its own CA. */
export const TEST_CERT_PEM = readFileSync(new URL('localhost.crt', FIXTURES), 'utf8');
const TEST_KEY_PEM = readFileSync(new URL('localhost.key', FIXTURES), 'utf8');

export interface TlsFront {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** TLS handshakes completed. */
  readonly handshakes: () => number;
  close(): Promise<void>;
}

/** Open sockets, destroyed on close so a kept-alive connection does not hold the test. */
function tracked(sockets: Set<Socket>, socket: Socket): Socket {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  return socket;
}

async function closeServer(server: { close(callback: () => void): unknown }, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Terminates TLS on a port of its own and passes the bytes on to `targetPort` on 127.0.0.1. */
export async function startTlsFront(targetPort: number): Promise<TlsFront> {
  const sockets = new Set<Socket>();
  let handshakes = 0;
  const server = createTlsServer({ key: TEST_KEY_PEM, cert: TEST_CERT_PEM }, (secure) => {
    handshakes++;
    tracked(sockets, secure);
    const upstream = tracked(sockets, connect(targetPort, '127.0.0.1'));
    secure.pipe(upstream).pipe(secure);
  });
  // A client that refuses the certificate ends the handshake: not the server's failure.
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handshakes: () => handshakes,
    close: () => closeServer(server, sockets),
  };
}

export interface Tunnel {
  /** host:port the client asked for. */
  readonly target: string;
  readonly proxyAuthorization: string | undefined;
}

export interface ConnectProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly tunnels: Tunnel[];
  close(): Promise<void>;
}

/** An HTTP proxy that only tunnels (CONNECT), as corporate egress proxies do for HTTPS. */
export async function startConnectProxy(): Promise<ConnectProxy> {
  const sockets = new Set<Socket>();
  const tunnels: Tunnel[] = [];
  const server = createHttpServer((_req, res) => {
    res.writeHead(405).end('this proxy only tunnels (CONNECT)');
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    tracked(sockets, client);
    const target = req.url ?? '';
    tunnels.push({ target, proxyAuthorization: req.headers['proxy-authorization'] });
    const colon = target.lastIndexOf(':');
    const upstream = tracked(sockets, connect(Number(target.slice(colon + 1)), target.slice(0, colon), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: () => closeServer(server, sockets),
  };
}
