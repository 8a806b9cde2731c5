import { describe, expect, it, vi } from 'vitest';
import { stopControl } from '../../../src/supervisor/stop-signals.js';

describe('stopControl', () => {
  it('reads copies of a signal within the window as one stop, and a later one as "exit now"', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const calls: string[] = [];
      const control = stopControl({ stop: (r) => calls.push(`stop ${r}`), force: (r) => calls.push(`force ${r}`),
        duplicate: (r) => calls.push(`same ${r}`) }, 1000);
      expect(control.stopping).toBe(false);
      control.trigger('SIGTERM');
      vi.advanceTimersByTime(5);
      control.trigger('SIGTERM');
      vi.advanceTimersByTime(900);
      control.trigger('SIGINT');
      vi.advanceTimersByTime(200);
      control.trigger('SIGINT');
      expect(calls).toEqual(['stop SIGTERM', 'same SIGTERM', 'same SIGINT', 'force SIGINT']);
      expect(control.stopping).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
