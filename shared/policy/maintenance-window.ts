/**
 * Weekly maintenance windows as concrete intervals of time. A window is wall-clock: `01:00-05:00
 * Europe/Berlin` opens at 01:00 local on each of its days whatever the offset, so it lasts 3 real hours
 * on the spring-forward night and 5 on the fall-back one. An occurrence belongs to the day it opens.
 */
import type { MaintenanceWindow } from './policy-config.js';
import { addDays, localParts, weekdayOf, zonedInstant, type LocalDate } from './zoned-time.js';

export interface Interval {
  readonly startMs: number;
  readonly endMs: number;
}

/** The occurrences of `window` that open on local dates `from` to `from + days - 1`. */
function occurrences(window: MaintenanceWindow, from: LocalDate, days: number): Interval[] {
  const result: Interval[] = [];
  for (let i = 0; i < days; i++) {
    const date = addDays(from, i);
    if (!window.days.includes(weekdayOf(date))) continue;
    const startMs = zonedInstant(date, window.startMinute, window.timeZone);
    const endDate = window.endMinute > window.startMinute ? date : addDays(date, 1);
    const endMs = zonedInstant(endDate, window.endMinute, window.timeZone);
    // A window inside a skipped hour (02:10-02:40 on the spring-forward night) does not occur.
    if (endMs > startMs) result.push({ startMs, endMs });
  }
  return result;
}

/**
 * Every occurrence of any of `windows` that ends after `fromMs` and opens within `horizonDays`,
 * merged where they touch or overlap, in time order.
 */
export function windowIntervals(
  windows: readonly MaintenanceWindow[],
  fromMs: number,
  horizonDays = 8,
): Interval[] {
  const all: Interval[] = [];
  for (const window of windows) {
    // Start the day before: yesterday's occurrence may still be open (a window across midnight).
    const today = localParts(fromMs, window.timeZone);
    for (const occurrence of occurrences(window, addDays(today, -1), horizonDays + 1)) {
      if (occurrence.endMs > fromMs) all.push(occurrence);
    }
  }
  all.sort((a, b) => a.startMs - b.startMs);
  const merged: Interval[] = [];
  for (const interval of all) {
    const last = merged[merged.length - 1];
    if (last !== undefined && interval.startMs <= last.endMs) {
      merged[merged.length - 1] = { startMs: last.startMs, endMs: Math.max(last.endMs, interval.endMs) };
    } else merged.push(interval);
  }
  return merged;
}

/** The open window interval containing `atMs`, if any. */
export function windowContaining(windows: readonly MaintenanceWindow[], atMs: number): Interval | undefined {
  // Three days ahead, so that back-to-back daily windows merge far enough for any start margin (24 h at most).
  return windowIntervals(windows, atMs, 3).find((w) => w.startMs <= atMs && atMs < w.endMs);
}
