import { describe, expect, it } from 'vitest';
import { parsePeriod, windowEnd, windowStart } from '../../../src/governance/period.js';

const utc = (text: string) => Date.parse(`${text}Z`);

describe('budget and rate-limit windows', () => {
  it('roll every duration from their anchor', () => {
    const period = parsePeriod('1h', false, utc('2026-03-01T10:20:00'));
    expect(windowStart(period, utc('2026-03-01T12:00:00'))).toBe(utc('2026-03-01T11:20:00'));
    expect(windowEnd(period, utc('2026-03-01T11:20:00'))).toBe(utc('2026-03-01T12:20:00'));
    const seconds = parsePeriod('30s', false, 0);
    expect(windowStart(seconds, 95_000)).toBe(90_000);
  });

  it('align to UTC calendar boundaries when calendar_aligned: the day, Monday, the 1st, 1 January', () => {
    const at = utc('2026-03-18T15:04:05');
    expect(windowStart(parsePeriod('1d', true, 0), at)).toBe(utc('2026-03-18T00:00:00'));
    expect(windowStart(parsePeriod('1w', true, 0), at)).toBe(utc('2026-03-16T00:00:00'));
    expect(new Date(utc('2026-03-16T00:00:00')).getUTCDay()).toBe(1);
    const month = parsePeriod('1M', true, 0);
    expect(windowStart(month, at)).toBe(utc('2026-03-01T00:00:00'));
    expect(windowEnd(month, utc('2026-03-01T00:00:00'))).toBe(utc('2026-04-01T00:00:00'));
    expect(windowStart(parsePeriod('1Y', true, 0), at)).toBe(utc('2026-01-01T00:00:00'));
    expect(windowStart(parsePeriod('1m', true, 0), at)).toBe(utc('2026-03-18T15:04:00'));
  });

  it('keep a rolling month on its anchor day, the 31st becoming a shorter month\'s last', () => {
    const period = parsePeriod('1M', false, utc('2026-01-31T08:00:00'));
    expect(windowStart(period, utc('2026-03-05T00:00:00'))).toBe(utc('2026-02-28T08:00:00'));
    expect(windowEnd(period, utc('2026-01-31T08:00:00'))).toBe(utc('2026-02-28T08:00:00'));
  });
});
