/**
 * The guest's view of a pause, seen from outside: each heartbeat line is stamped when it reaches the
 * serial log. The guest prints one every 10 ms of its own time, and its clock stands still while it is
 * paused, so the longest gap between two consecutive lines is the pause plus at most one tick.
 */
import { LineArrivals } from './line-arrivals.js';

export interface Arrival {
  readonly atMs: number;
  readonly counter: number;
}

export class HeartbeatArrivals {
  private readonly lines: LineArrivals;

  constructor(path: string) {
    this.lines = new LineArrivals(path);
  }

  get arrivals(): Arrival[] {
    return this.lines.lines.flatMap(({ atMs, line }) => {
      const match = /^HB ([0-9]+)$/.exec(line);
      return match?.[1] === undefined ? [] : [{ atMs, counter: Number(match[1]) }];
    });
  }

  stop(): void {
    this.lines.stop();
  }

  /** The longest wait between two consecutive heartbeats, with the counters on either side. */
  longestGap(): { gapMs: number; from: number; to: number } | undefined {
    let longest: { gapMs: number; from: number; to: number } | undefined;
    const arrivals = this.arrivals;
    for (let i = 1; i < arrivals.length; i++) {
      const before = arrivals[i - 1];
      const after = arrivals[i];
      if (before === undefined || after === undefined) continue;
      const gapMs = after.atMs - before.atMs;
      if (longest === undefined || gapMs > longest.gapMs)
        longest = { gapMs, from: before.counter, to: after.counter };
    }
    return longest;
  }
}
