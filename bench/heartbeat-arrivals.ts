/**
 * The guest's view of a pause, seen from outside: each heartbeat line is stamped when it reaches the
 * serial log. The guest prints one every 10 ms of its own time, and its clock stands still while it is
 * paused, so the longest gap between two consecutive lines is the pause plus at most one tick.
 */
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface Arrival {
  readonly atMs: number;
  readonly counter: number;
}

export class HeartbeatArrivals {
  private readonly fd: number;
  private offset: number;
  private partial = '';
  private readonly watcher: FSWatcher;
  readonly arrivals: Arrival[] = [];

  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.offset = statSync(path).size;
    this.watcher = watch(path, () => this.readNew());
  }

  stop(): void {
    this.readNew();
    this.watcher.close();
    closeSync(this.fd);
  }

  /** The longest wait between two consecutive heartbeats, with the counters on either side. */
  longestGap(): { gapMs: number; from: number; to: number } | undefined {
    let longest: { gapMs: number; from: number; to: number } | undefined;
    for (let i = 1; i < this.arrivals.length; i++) {
      const before = this.arrivals[i - 1];
      const after = this.arrivals[i];
      if (before === undefined || after === undefined) continue;
      const gapMs = after.atMs - before.atMs;
      if (longest === undefined || gapMs > longest.gapMs)
        longest = { gapMs, from: before.counter, to: after.counter };
    }
    return longest;
  }

  private readNew(): void {
    const buffer = Buffer.alloc(65536);
    for (;;) {
      const read = readSync(this.fd, buffer, 0, buffer.length, this.offset);
      if (read <= 0) return;
      const atMs = performance.now();
      this.offset += read;
      const lines = (this.partial + buffer.toString('utf8', 0, read)).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^HB ([0-9]+)$/.exec(line);
        if (match?.[1] !== undefined) this.arrivals.push({ atMs, counter: Number(match[1]) });
      }
    }
  }
}
