import { us_listen_socket_close, us_socket_local_port, type TemplatedApp, type us_listen_socket, type us_socket } from 'uWebSockets.js';

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
