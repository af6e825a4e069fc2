import { describe, expect, it } from 'vitest';
import { findRegimeChange } from '../../../shared/aging/regime-change.js';

/** Deterministic noise in [-1, 1): the fractional part of a scaled sine, the classic shader hash. */
const noise = (i: number) => 2 * ((((Math.sin(i * 12.9898) * 43758.5453) % 1) + 1) % 1) - 1;

/** 84 points 2 hours apart (7 days), in days: the trigger's window. */
const DAYS = Array.from({ length: 84 }, (_, i) => i / 12);
const series = (value: (day: number, i: number) => number) => DAYS.map((d, i) => value(d, i));

describe('Function: findRegimeChange', () => {
  it('finds the onset of a leak after a flat history, and the slopes on each side', () => {
    // 100 GiB free for 5 days, then falling 10 GiB a day, ±0.5 GiB of noise.
    const values = series((d, i) => 100 - 10 * Math.max(0, d - 5) + 0.5 * noise(i));
    const change = findRegimeChange(DAYS, values);
    expect(change).toBeDefined();
    expect(DAYS[change?.index ?? 0]).toBeGreaterThan(4.5);
    expect(DAYS[change?.index ?? 0]).toBeLessThan(5.5);
    expect(change?.before.slope).toBeCloseTo(0, 0);
    expect(change?.after.slope).toBeCloseTo(-10, 0);
    expect(change?.after.points).toBe(84 - (change?.index ?? 0));
  });

  it('finds a step at the point it happened, the regime after it flat', () => {
    // A VM started on day 3: 20 GiB less free memory at once, then flat.
    const values = series((d, i) => (d < 3 ? 100 : 80) + 0.5 * noise(i));
    const change = findRegimeChange(DAYS, values);
    expect(change?.index).toBe(36);
    expect(Math.abs(change?.after.slope ?? 1)).toBeLessThan(0.3);
    // In bytes, as the trigger gives them: the same break, the same slopes in bytes.
    const bytes = findRegimeChange(
      DAYS,
      values.map((v) => v * 2 ** 30),
    );
    expect(bytes?.index).toBe(36);
    expect((bytes?.after.slope ?? 0) / 2 ** 30).toBeCloseTo(change?.after.slope ?? 1, 6);
  });

  it('finds no break in a straight trend, in noise, or in a flat line', () => {
    expect(
      findRegimeChange(
        DAYS,
        series((d, i) => 100 - 5 * d + 0.5 * noise(i)),
      ),
    ).toBeUndefined();
    expect(
      findRegimeChange(
        DAYS,
        series((_, i) => 100 + noise(i)),
      ),
    ).toBeUndefined();
    expect(
      findRegimeChange(
        DAYS,
        series(() => 7),
      ),
    ).toBeUndefined();
    expect(
      findRegimeChange(
        DAYS,
        series((d) => 3 * d),
      ),
    ).toBeUndefined();
  });

  it('keeps each phase at its minimum length, and says nothing of a series too short for two', () => {
    // The step is two points from the end: the break cannot be put after it with phases of 4 points.
    const late = series((_, i) => (i < 82 ? 100 : 80) + 0.5 * noise(i));
    const change = findRegimeChange(DAYS, late, 4);
    expect(change === undefined || change.index <= 80).toBe(true);
    expect(findRegimeChange(DAYS.slice(0, 7), late.slice(0, 7), 4)).toBeUndefined();
    expect(() => findRegimeChange(DAYS, late, 2)).toThrow(/three or more points/);
    expect(() => findRegimeChange(DAYS, late.slice(1))).toThrow(/differ in length/);
  });
});
