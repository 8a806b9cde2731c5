// Worker threads log straight to file descriptor 1: going through the worker's process.stdout would post every
// line to the main thread first.

import pino from 'pino';

export function createWorkerLogger(level: string, bindings: Record<string, unknown>): pino.Logger {
  return pino({ level, base: { thread: 'worker', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false }));
}
