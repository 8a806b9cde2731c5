// When a budget or rate-limit window resets. A rolling window starts at its anchor (the config's `last_reset`, else
// the time the gateway started) and repeats every duration; a calendar-aligned one (`calendar_aligned`) starts at
// the UTC boundary of its unit (midnight, Monday, the 1st of the month, 1 January), so `1d` resets at 00:00 UTC.

import { DURATION } from './schema.js';

export type Unit = 's' | 'm' | 'h' | 'd' | 'w' | 'M' | 'Y';

export interface Period {
  readonly count: number;
  readonly unit: Unit;
  readonly calendarAligned: boolean;
  /** Epoch ms a rolling window is counted from. */
  readonly anchor: number;
}

const FIXED_MS: Record<Exclude<Unit, 'M' | 'Y'>, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };
// 1970-01-01 was a Thursday: Monday-aligned weeks start 4 days later (mod 7).
const MONDAY_OFFSET_MS = 4 * 86400e3;

export function parsePeriod(text: string, calendarAligned: boolean, anchor: number): Period {
  const match = DURATION.exec(text);
  if (!match) throw new Error(`not a duration: '${text}'`);
  return { count: Number(match[1]), unit: match[2] as Unit, calendarAligned, anchor };
}

const monthIndex = (ms: number): number => {
  const date = new Date(ms);
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
};
const monthStart = (index: number): number => Date.UTC(Math.floor(index / 12), index % 12, 1);

/** The start of the window `now` falls in. */
export function windowStart(period: Period, now: number): number {
  const { count, unit } = period;
  if (unit === 'M' || unit === 'Y') {
    const months = unit === 'Y' ? 12 * count : count;
    if (period.calendarAligned) {
      const index = monthIndex(now);
      return monthStart(index - (((index % months) + months) % months));
    }
    const anchor = monthIndex(period.anchor);
    const steps = Math.floor((monthIndex(now) - anchor) / months);
    // The anchor's day and time of day, `steps` periods on; one period back if that is still ahead of now.
    let start = addMonths(period.anchor, steps * months);
    if (start > now) start = addMonths(period.anchor, (steps - 1) * months);
    return start;
  }
  const length = FIXED_MS[unit] * count;
  const origin = period.calendarAligned ? (unit === 'w' ? MONDAY_OFFSET_MS : 0) : period.anchor;
  return origin + Math.floor((now - origin) / length) * length;
}

/** The end of the window that starts at `start` (the next reset). */
export function windowEnd(period: Period, start: number): number {
  if (period.unit === 'M') return addMonths(start, period.count);
  if (period.unit === 'Y') return addMonths(start, 12 * period.count);
  return start + FIXED_MS[period.unit] * period.count;
}

function addMonths(ms: number, months: number): number {
  const date = new Date(ms);
  const target = date.getUTCMonth() + months;
  // The 31st of a shorter month is its last day.
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), target + 1, 0)).getUTCDate();
  return Date.UTC(date.getUTCFullYear(), target, Math.min(date.getUTCDate(), lastDay), date.getUTCHours(),
    date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds());
}
