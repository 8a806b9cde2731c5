// Tests that need a real service (Redis, PostgreSQL) skip with a printed reason when it is not there, unless
// HEIMDALL_REQUIRE_SERVICES=1 (set by .ci/run), which makes its absence a failure.
import { connect } from 'node:net';

/** Whether something accepts TCP connections at host:port within `timeoutMs`. */
export function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when the tests may run; false (with the reason printed) when they must skip; throws when CI requires them. */
export async function serviceAvailable(name: string, host: string, port: number): Promise<boolean> {
  if (await reachable(host, port)) return true;
  const reason = `${name} is not reachable at ${host}:${port}`;
  if (process.env.HEIMDALL_REQUIRE_SERVICES === '1') throw new Error(`${reason}, and HEIMDALL_REQUIRE_SERVICES=1 requires it`);
  console.warn(`skipping: ${reason} (set HEIMDALL_REQUIRE_SERVICES=1 to make this a failure)`);
  return false;
}
