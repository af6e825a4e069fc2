import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadRecordedHosts } from '../../../bench/aging-recorded.js';

const T0 = Date.UTC(2026, 11, 1, 9);
let dir: string | undefined;

/** Writes one recorded file into this test's directory, and returns the directory. */
function write(name: string, value: unknown): string {
  dir ??= mkdtempSync(join(tmpdir(), 'recorded-'));
  writeFileSync(join(dir, name), JSON.stringify(value));
  return dir;
}

afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('Function: loadRecordedHosts', () => {
  it('stretches a short-period recording around its first sample, startedAt included, and leaves broken series to the trigger', () => {
    const recorded = write('lab-1.json', {
      hostId: 'lab-1',
      leakFree: true,
      periodMs: 10_000,
      timeScale: 720,
      series: [
        {
          resource: 'qemuRss',
          name: 'vm1',
          limit: 1e9,
          startedAt: T0 - 5_000,
          points: [
            { t: T0, v: 1e8 },
            { t: T0 + 10_000, v: 1e8 },
          ],
        },
        { resource: 'memAvailable', limit: 1e7, points: 'garbage' },
      ],
    });
    const [host] = loadRecordedHosts(recorded);
    expect(host?.series).toEqual([
      {
        resource: 'qemuRss',
        name: 'vm1',
        limit: 1e9,
        startedAt: T0 - 3_600_000,
        points: [
          { t: T0, v: 1e8 },
          { t: T0 + 7_200_000, v: 1e8 },
        ],
      },
      { resource: 'memAvailable', limit: 1e7, points: 'garbage' },
    ]);
  });

  it('refuses a file that is not a recorded host, naming it', () => {
    const recorded = write('broken.json', { series: [], timeScale: 0 });
    expect(() => loadRecordedHosts(recorded)).toThrow(/broken\.json/);
  });
});
