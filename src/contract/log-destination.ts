// How every thread writes its log lines: pino JSON straight to file descriptor 1 (a worker going through its
// process.stdout would post every line to the main thread first), gathered into writes of a few KiB. One write per
// line cost the logging thread ~0.25 ms on a 2-vCPU VM: a provider failing at a few hundred requests a second,
// logged by its worker and by the front, slowed every other provider's requests by tens of milliseconds at p99.

import pino from 'pino';

/** Lines are written once this many bytes are waiting... */
export const LOG_BUFFER_BYTES = 4096;
/** ...or this many milliseconds after the first line that waits, so a quiet gateway's lines still show at once. */
export const LOG_FLUSH_MS = 100;

/** pino's option that writes levels as names (`"level":"info"`), which log tools read without pino's numbering. */
export const LEVEL_AS_NAME = Object.freeze({ level: (label: string) => ({ level: label }) });

/** `logger.flush()` before exiting writes what is still waiting. */
export function logDestination(): pino.DestinationStream {
  // Not sonic-boom's periodicFlush: it writes on every tick, an empty write when nothing waits, so an idle gateway
  // would do a thread-pool write and wake each logging thread ten times a second. A flush is due only after a line.
  const destination = pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES });
  const bufferLine = destination.write.bind(destination);
  let flushTimer: NodeJS.Timeout | null = null;
  const flushWaiting = () => {
    flushTimer = null;
    if (!(destination as { destroyed?: boolean }).destroyed) destination.flush();
  };
  destination.write = (line: string): boolean => {
    flushTimer ??= setTimeout(flushWaiting, LOG_FLUSH_MS).unref();
    return bufferLine(line);
  };
  return destination;
}
