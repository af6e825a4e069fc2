/**
 * MemAvailable with the guests' own growth taken out. A VM starting takes gigabytes from MemAvailable in
 * hours as its guest touches its RAM, and a VM stopping gives them back: steps and ramps a trend test
 * would take for a leak, or that would hide one. What ages is the host's own memory, so the trigger
 * judges MemAvailable(t) + guestRss(t) − guestRss(now): how much would be available had the guests used
 * then what they use now. Its projection to the floor is when MemAvailable runs out if the guests stay as
 * they are. A leak inside a QEMU process is taken out too; its own series, against its process's
 * limit, is what catches it.
 */
import type { CleanSeries } from './aging-series.js';

export interface GuestRss {
  readonly times: readonly number[];
  readonly values: readonly number[];
}

/**
 * Only the timestamps both series have are kept: an adjustment guessed for a missing guest reading
 * would be noise of the very size it removes. The values become MemAvailable + guestRss, which has the
 * trend of the adjusted series (they differ by a constant); `guestRss` is kept beside them so that the
 * judge takes the constant, guestRss at the last point of whatever window it looks at, off the level.
 */
export function adjustForGuests(memAvailable: CleanSeries, guests: GuestRss): CleanSeries {
  const guestAt = new Map<number, number>();
  guests.times.forEach((t, i) => guestAt.set(t, guests.values[i] as number));
  const times: number[] = [];
  const values: number[] = [];
  memAvailable.times.forEach((t, i) => {
    const rss = guestAt.get(t);
    if (rss === undefined) return;
    times.push(t);
    values.push((memAvailable.values[i] as number) + rss);
  });
  const guestRss = times.map((t) => guestAt.get(t) as number);
  return { ...memAvailable, times, values, guestRss };
}
