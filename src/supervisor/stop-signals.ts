// One stop, however many copies of the signal arrive. A signal sent to a process group reaches every process in it
// at once, and `npm start` forwards to the gateway the copy the gateway already got: read as two signals, the second
// would mean "exit now" and cut every request in flight. Copies within a short window are one signal; a signal after
// it is the operator's deliberate second one.

/** Long enough for a forwarded copy to arrive on a loaded machine, short enough that a human's second Ctrl-C counts. */
export const SAME_SIGNAL_WINDOW_MS = 1000;

export interface StopHandlers {
  /** The first signal (or other reason to stop): drain and exit. */
  stop(reason: string): void;
  /** A signal after the window: exit now. */
  force(reason: string): void;
  /** A copy of the first signal, inside the window. */
  duplicate?(reason: string): void;
}

export interface StopControl {
  trigger(reason: string): void;
  readonly stopping: boolean;
}

export function stopControl(handlers: StopHandlers, windowMs = SAME_SIGNAL_WINDOW_MS): StopControl {
  let firstAt: number | null = null;
  return {
    trigger(reason) {
      const now = performance.now();
      if (firstAt === null) {
        firstAt = now;
        handlers.stop(reason);
      } else if (now - firstAt < windowMs) {
        handlers.duplicate?.(reason);
      } else {
        handlers.force(reason);
      }
    },
    get stopping() {
      return firstAt !== null;
    },
  };
}
