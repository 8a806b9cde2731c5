// The front thread's logger: pino JSON on stdout. Keys never reach a log line: the config is logged redacted,
// and these paths are censored in case a header or key object is ever logged whole.

import pino, { type Logger } from 'pino';
import { LEVEL_AS_NAME, logDestination } from '../contract/log-destination.js';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { thread: 'front' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: LEVEL_AS_NAME,
    redact: { paths: ['*.authorization', '*.headers.authorization', '*["x-api-key"]', '*["api-key"]'], censor: '***' },
  }, logDestination());
}
