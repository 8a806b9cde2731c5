// What stands between Heimdall and a provider on a real network: an HTTPS front (TLS with the self-signed
// certificate in test/fixtures/tls, in front of a plain fake), an HTTP CONNECT proxy that counts its tunnels, and a
// SOCKS5 proxy that records its connections.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
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

/** Listens on a port of the kernel's choice on 127.0.0.1, and says which. */
async function listenLocally(server: NetServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
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
  return {
    url: `https://127.0.0.1:${await listenLocally(server)}`,
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
  return {
    url: `http://127.0.0.1:${await listenLocally(server)}`,
    tunnels,
    close: () => closeServer(server, sockets),
  };
}

export interface SocksConnection {
  /** host:port the client asked for. */
  readonly target: string;
  /** The username it authenticated with; null without authentication. */
  readonly username: string | null;
}

export interface SocksProxy {
  /** socks5://127.0.0.1:PORT */
  readonly url: string;
  readonly connections: SocksConnection[];
  close(): Promise<void>;
}

/**
 * A SOCKS5 proxy (RFC 1928) with username/password authentication (RFC 1929) when `credentials` are given: CONNECT
 * only, to IPv4 addresses and host names.
 */
export async function startSocksProxy(credentials?: { username: string; password: string }): Promise<SocksProxy> {
  const sockets = new Set<Socket>();
  const connections: SocksConnection[] = [];
  const server = createNetServer((client) => {
    tracked(sockets, client);
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' = 'greeting';
    let username: string | null = null;
    const onData = (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      if (stage === 'greeting') {
        if (buffered.length < 2 || buffered.length < 2 + buffered[1]) return;
        const methods = [...buffered.subarray(2, 2 + buffered[1])];
        buffered = buffered.subarray(2 + buffered[1]);
        const method = credentials ? 0x02 : 0x00;
        if (!methods.includes(method)) {
          client.end(Buffer.from([0x05, 0xff]));
          return;
        }
        client.write(Buffer.from([0x05, method]));
        stage = credentials ? 'auth' : 'request';
      }
      if (stage === 'auth') {
        if (buffered.length < 2) return;
        const userEnd = 2 + buffered[1];
        if (buffered.length < userEnd + 1 || buffered.length < userEnd + 1 + buffered[userEnd]) return;
        username = buffered.subarray(2, userEnd).toString();
        const password = buffered.subarray(userEnd + 1, userEnd + 1 + buffered[userEnd]).toString();
        buffered = buffered.subarray(userEnd + 1 + buffered[userEnd]);
        const accepted = username === credentials!.username && password === credentials!.password;
        client.write(Buffer.from([0x01, accepted ? 0x00 : 0x01]));
        if (!accepted) {
          client.end();
          return;
        }
        stage = 'request';
      }
      if (stage === 'request') {
        if (buffered.length < 5) return;
        const type = buffered[3];
        const addressLength = type === 0x01 ? 4 : type === 0x03 ? 1 + buffered[4] : 16;
        if (buffered.length < 4 + addressLength + 2) return;
        const host = type === 0x01 ? [...buffered.subarray(4, 8)].join('.') : buffered.subarray(5, 4 + addressLength).toString();
        const port = buffered.readUInt16BE(4 + addressLength);
        const rest = buffered.subarray(4 + addressLength + 2);
        client.off('data', onData);
        connections.push({ target: `${host}:${port}`, username });
        const upstream = tracked(sockets, connect(port, host, () => {
          client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
          if (rest.length > 0) upstream.write(rest);
          upstream.pipe(client).pipe(upstream);
        }));
      }
    };
    client.on('data', onData);
  });
  return {
    url: `socks5://127.0.0.1:${await listenLocally(server)}`,
    connections,
    close: () => closeServer(server, sockets),
  };
}
