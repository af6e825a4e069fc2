/**
 * Wall-clock time in an IANA time zone, with Intl alone (Node ships full ICU): the local fields of an
 * instant, and the instant of a local date and time. Daylight-saving changes are resolved the way
 * Temporal's `compatible` disambiguation does: a local time that occurs twice (clocks going back) is
 * its earlier occurrence; a local time that never occurs (clocks going forward) is moved forward by
 * the length of the gap, so a window starting at 02:30 on the spring-forward night starts at 03:30.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalDate {
  readonly year: number;
  /** 1-12 */
  readonly month: number;
  readonly day: number;
}

export interface LocalParts extends LocalDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly weekday: Weekday;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

// One formatter per zone: constructing an Intl.DateTimeFormat costs far more than using one.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when Intl knows the zone (an IANA name such as `Europe/Berlin`, or `UTC`). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The local fields of `instantMs` in `timeZone`. */
export function localParts(instantMs: number, timeZone: string): LocalParts {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instantMs)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const year = fields['year'] ?? NaN;
  const month = fields['month'] ?? NaN;
  const day = fields['day'] ?? NaN;
  const weekday = WEEKDAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()];
  if (weekday === undefined) throw new RangeError(`cannot read local time of ${instantMs} in ${timeZone}`);
  return {
    year,
    month,
    day,
    hour: fields['hour'] ?? NaN,
    minute: fields['minute'] ?? NaN,
    second: fields['second'] ?? NaN,
    weekday,
  };
}

/** The zone's offset from UTC at `instantMs`, in ms (Berlin in summer: +7,200,000). */
function offsetAt(instantMs: number, timeZone: string): number {
  const p = localParts(instantMs, timeZone);
  const wallAsUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  // formatToParts drops milliseconds; offsets are whole seconds, so compare at whole seconds.
  return wallAsUtc - Math.floor(instantMs / 1000) * 1000;
}

/** The weekday of a local date (no zone involved: a calendar date has one weekday). */
export function weekdayOf(date: LocalDate): Weekday {
  const weekday = WEEKDAYS[new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay()];
  if (weekday === undefined) throw new RangeError(`invalid date ${JSON.stringify(date)}`);
  return weekday;
}

export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

const instantCache = new Map<string, number>();

/**
 * The instant at which the wall clock in `timeZone` reads `minuteOfDay` (0-1440) on `date`.
 * 1440 is midnight at the end of the day, i.e. 00:00 of the next date.
 */
export function zonedInstant(date: LocalDate, minuteOfDay: number, timeZone: string): number {
  const key = `${timeZone}|${date.year}-${date.month}-${date.day}|${minuteOfDay}`;
  const cached = instantCache.get(key);
  if (cached !== undefined) return cached;
  const wallAsUtc = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * MINUTE_MS;
  // No zone changes its offset twice within a day, so the offsets half a day either side are the only
  // candidates: one when nothing changes nearby, two around a change.
  const before = offsetAt(wallAsUtc - DAY_MS / 2, timeZone);
  const after = offsetAt(wallAsUtc + DAY_MS / 2, timeZone);
  const valid = [before, after]
    .map((offset) => wallAsUtc - offset)
    .filter((instant) => offsetAt(instant, timeZone) === wallAsUtc - instant)
    .sort((a, b) => a - b);
  // Repeated hour: the earlier occurrence. Skipped hour: read the wall time with the offset in force
  // before the change, which lands after the gap.
  const instant = valid[0] ?? wallAsUtc - before;
  if (instantCache.size > 100_000) instantCache.clear();
  instantCache.set(key, instant);
  return instant;
}
