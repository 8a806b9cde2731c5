// One way to reach Redis for every feature that keeps state there (governance's counters, the response cache): a
// client that fails a command at once while disconnected (`disableOfflineQueue`) instead of queueing it behind a
// reconnection, reconnects in the background, and logs the outage once and the recovery once.

import type { Logger } from 'pino';
import { createClient, type RedisClientType } from 'redis';

/**
 * A client connecting to `url`; resolves once connected, or after a short wait when Redis is away (the gateway starts
 * and serves without it; the client keeps reconnecting). `feature` prefixes the log lines (`governance`, `cache`).
 */
export async function connectRedis(url: string, timeoutMs: number, logger: Logger, feature: string, whileAway: string): Promise<RedisClientType> {
  const client = createClient({ url, disableOfflineQueue: true,
    socket: { connectTimeout: Math.max(timeoutMs, 1000), reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000) } }) as RedisClientType;
  let warned = false;
  client.on('error', (error: Error) => {
    if (warned) return;
    warned = true;
    // The URL may carry a password: only the error's own message is logged.
    logger.warn({ err: { message: error.message } }, `${feature}: Redis cannot be reached; ${whileAway}`);
  });
  client.on('ready', () => {
    if (warned) logger.info(`${feature}: Redis is reachable again`);
    warned = false;
  });
  await Promise.race([client.connect().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, timeoutMs * 5))]);
  return client;
}
