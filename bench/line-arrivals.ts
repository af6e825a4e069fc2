/**
 * Lines of a growing file (a serial log, a console), each stamped with this machine's clock when it
 * reached the file: how the benches time what a guest or a host prints, from outside.
 */
import { closeSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface LineArrival {
  /** performance.now() when the line was read. */
  readonly atMs: number;
  readonly line: string;
}

export class LineArrivals {
  private readonly fd: number;
  private offset: number;
  private partial = '';
  private readonly watcher: FSWatcher;
  private stopped = false;
  readonly lines: LineArrival[] = [];

  /** Watches `path` from its current end: lines already there are not stamped. */
  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.offset = statSync(path).size;
    this.watcher = watch(path, () => this.readNew());
  }

  stop(): void {
    if (this.stopped) return;
    this.readNew();
    this.stopped = true;
    this.watcher.close();
    closeSync(this.fd);
  }

  /** The first line since watching began that matches `pattern`, at or after `fromMs`. */
  first(pattern: RegExp, fromMs = -Infinity): LineArrival | undefined {
    this.readNew();
    return this.lines.find((l) => l.atMs >= fromMs && pattern.test(l.line));
  }

  private readNew(): void {
    if (this.stopped) return;
    const buffer = Buffer.alloc(65536);
    for (;;) {
      const read = readSync(this.fd, buffer, 0, buffer.length, this.offset);
      if (read <= 0) return;
      const atMs = performance.now();
      this.offset += read;
      const lines = (this.partial + buffer.toString('utf8', 0, read)).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.lines.push({ atMs, line: line.replace(/\r$/, '') });
    }
  }
}
