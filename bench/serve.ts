import { STATUS_CODES } from 'node:http';
import { us_listen_socket_close, us_socket_local_port, type HttpResponse, type TemplatedApp, type us_listen_socket, type us_socket } from 'uWebSockets.js';

/** An HTTP status line as uWebSockets.js's writeStatus takes it: `200 OK`. */
export function statusLine(code: number): string {
  return `${code} ${STATUS_CODES[code] ?? 'Unknown'}`;
}

/** Collects a request's body and hands it over whole. uWS reuses each chunk after its callback, hence the copies. */
export function onWholeBody(res: HttpResponse, done: (body: Buffer) => void): void {
  let parts: Buffer[] | null = null;
  res.onData((chunk, isLast) => {
    const copy = Buffer.from(new Uint8Array(chunk));
    if (!isLast) {
      (parts ??= []).push(copy);
      return;
    }
    done(parts ? Buffer.concat([...parts, copy]) : copy);
  });
}

/** A bench server's other routes: `GET /health` for the orchestrator, 404 for anything else. */
export function withHealthAndNotFound(app: TemplatedApp): TemplatedApp {
  return app
    .get('/health', (res) => {
      res.end('ok');
    })
    .any('/*', (res) => {
      res.writeStatus('404 Not Found').end('not found');
    });
}

/**
 * Listens on 127.0.0.1 and prints `LISTENING <port>` once bound: the line bench/run.ts waits for.
 * SIGTERM/SIGINT close the listen socket and exit, so the orchestrator's stop is quick.
 */
export function listenAndAnnounce(app: TemplatedApp, port: number, onClose?: () => void): void {
  app.listen('127.0.0.1', port, (token: us_listen_socket | false) => {
    if (!token) {
      process.stderr.write(`could not listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
    const stop = (): void => {
      us_listen_socket_close(token);
      onClose?.();
      process.exit(0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.stdout.write(`LISTENING ${us_socket_local_port(token as unknown as us_socket)}\n`);
  });
}
