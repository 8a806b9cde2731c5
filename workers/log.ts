// Worker threads log the way the front does (src/contract/log-destination.ts), with `thread: "worker"` on each line.

import pino from 'pino';
import { LEVEL_AS_NAME, logDestination } from '../src/contract/log-destination.js';

export function createWorkerLogger(level: string, bindings: Record<string, unknown>): pino.Logger {
  return pino({ level, base: { thread: 'worker', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime,
    formatters: LEVEL_AS_NAME }, logDestination());
}
