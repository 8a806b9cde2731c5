// The machine's PostgreSQL and Redis, for tests that need a real server. Absent, such a test skips with a printed
// reason, unless HEIMDALL_REQUIRE_SERVICES=1 (set by .ci/run), which makes the absence a failure.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

export const POSTGRES = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' } as const;

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether `name` answers at host:port; throws instead of skipping when services are required. */
export async function serviceAvailable(name: string, host: string, port: number): Promise<boolean> {
  if (await reachable(host, port)) return true;
  const reason = `${name} is not reachable at ${host}:${port}`;
  if (process.env.HEIMDALL_REQUIRE_SERVICES === '1') throw new Error(`${reason}, and HEIMDALL_REQUIRE_SERVICES=1 requires it`);
  console.warn(`skipping the ${name} tests: ${reason}`);
  return false;
}

/** Whether PostgreSQL answers at 127.0.0.1:5432; throws instead of skipping when services are required. */
export const postgresAvailable = (): Promise<boolean> => serviceAvailable('PostgreSQL', POSTGRES.host, POSTGRES.port);

/** A schema name no other test run uses, so parallel files and other people's runs do not collide. */
export const uniqueSchema = (label: string): string => `heimdall_test_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;

/** A store target on the test database, in its own schema. */
export const postgresTarget = (schema: string, maxConnections = 2) => ({ type: 'postgres' as const, connection: { host: POSTGRES.host,
  port: POSTGRES.port, user: POSTGRES.user, password: null, database: POSTGRES.database, sslMode: 'disable' as const, maxConnections,
  maxLifetimeSeconds: null, schema } });

/** Drops a test's schema and everything in it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const sql = postgres({ ...POSTGRES, username: POSTGRES.user, onnotice: () => {} });
  try {
    await sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`;
  } finally {
    await sql.end();
  }
}
