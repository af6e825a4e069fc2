import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { projectExhaustion } from '../../../shared/aging/exhaustion-projection.js';
import { predictionDedupeKey } from '../../../shared/aging/prediction-key.js';
import {
  DEFAULT_PREDICTION_CONFIG,
  PredictionConfigSchema,
  predictHost,
  type HostPrediction,
} from '../../../shared/aging/predictive-decision.js';
import { IdempotencyKeySchema } from '../../../shared/domain/idempotency-key.js';

const GIB = 2 ** 30;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 11, 8, 13, 0);
const config = DEFAULT_PREDICTION_CONFIG;

/** Deterministic noise in [-1, 1): the fractional part of a scaled sine, the classic shader hash. */
const noise = (i: number) => 2 * ((((Math.sin(i * 12.9898) * 43758.5453) % 1) + 1) % 1) - 1;

/** A point every 2 hours over the 7 days before NOW: value(days before NOW, index). */
function points(value: (daysAgo: number, i: number) => number): { t: number; v: number }[] {
  return Array.from({ length: 84 }, (_, i) => {
    const t = NOW - (83 - i) * 2 * HOUR;
    return { t, v: value((NOW - t) / DAY, i) };
  });
}

/** 100 GiB free, falling `perDay` GiB a day, ±0.5 GiB of noise; runs out at 5 GiB. */
const memAvailable = (perDay: number) => ({
  resource: 'memAvailable',
  limit: 5 * GIB,
  points: points((daysAgo, i) => (100 + perDay * daysAgo + 0.5 * noise(i)) * GIB),
});
const flatFragmentation = {
  resource: 'fragmentation',
  limit: 0.95,
  points: points((_, i) => 0.4 + 0.02 * noise(i + 1000)),
};

function fired(prediction: HostPrediction) {
  if (!prediction.fire) throw new Error(`expected a prediction, got: ${prediction.reason}`);
  return prediction;
}

describe('Function: predictHost', () => {
  it('fires on a leak that runs out within the horizon, with the evidence and a dedupe key', () => {
    // 95 GiB of headroom at 10 GiB a day: about 9.5 days, inside the 14-day horizon.
    const prediction = fired(
      predictHost({ hostId: 'host-1', series: [memAvailable(10), flatFragmentation], now: NOW }, config),
    );
    expect(prediction.resource).toBe('memAvailable');
    const { evidence } = prediction;
    expect(evidence.s).toBeLessThan(0);
    expect(evidence.z).toBeLessThan(-5);
    expect(evidence.p).toBeLessThan(1e-6);
    expect(evidence.slopePerDay / GIB).toBeCloseTo(-10, 0);
    // The conservative bound is steeper than the estimate, so the projection comes earlier.
    expect(evidence.slopeBoundPerDay).toBeLessThan(evidence.slopePerDay);
    const projected = Date.parse(evidence.projectedExhaustionAt);
    expect(projected).toBeGreaterThan(NOW + 8 * DAY);
    expect(projected).toBeLessThan(NOW + 9.5 * DAY);
    expect(prediction.dedupeKey).toBe('prediction#host-1#2026-12-08T00:00:00.000Z');
    expect(IdempotencyKeySchema.safeParse(prediction.dedupeKey).success).toBe(true);
    expect(prediction.verdicts.map((v) => [v.series, v.status])).toEqual([
      ['memAvailable', 'fire'],
      ['fragmentation', 'no-trend'],
    ]);
  });

  it('does not fire on a significant trend whose projection lies beyond the horizon', () => {
    // 95 GiB at 2 GiB a day: some 47 days away.
    const prediction = predictHost({ hostId: 'host-1', series: [memAvailable(2)], now: NOW }, config);
    expect(prediction.fire).toBe(false);
    expect(prediction.verdicts[0]).toMatchObject({ status: 'beyond-horizon' });
  });

  it('does not fire on noise, nor on a resource moving away from its limit', () => {
    for (const series of [memAvailable(0), memAvailable(-10), flatFragmentation]) {
      const prediction = predictHost({ hostId: 'h', series: [series], now: NOW }, config);
      expect(prediction.fire).toBe(false);
      expect(prediction.verdicts[0]).toMatchObject({ status: 'no-trend' });
    }
  });

  it('refuses a broken series with its reason and still judges the others', () => {
    const broken = [
      [{ ...flatFragmentation, points: [{ t: NOW, v: Number.NaN }] }, /points\.0\.v: .*received NaN/],
      [
        { ...flatFragmentation, points: [{ t: NOW, v: 1.5 }] },
        /1\.5 is not a possible unusable free space index/,
      ],
      [{ ...memAvailable(0), points: [{ t: NOW, v: -1 }] }, /-1 is not a possible MemAvailable/],
      [
        { ...memAvailable(0), points: [{ t: NOW, v: Number.POSITIVE_INFINITY }] },
        /points\.0\.v: .*received Infinity/,
      ],
      [{ ...memAvailable(0), points: [{ t: NOW, v: 2 ** 60 }] }, /is not a possible MemAvailable/],
      [{ ...memAvailable(0), limit: Number.NaN }, /limit: .*received NaN/],
      [{ ...memAvailable(0), points: [{ t: NOW / 1000, v: GIB }] }, /seconds where milliseconds were meant/],
      [{ ...flatFragmentation, limit: 2 }, /limit 2 outside \[0, 1\] for fragmentation/],
      [{ resource: 'cpu', limit: 1, points: [] }, /resource/],
      ['not a series', /expected object/],
    ] as const;
    for (const [series, reason] of broken) {
      const prediction = fired(
        predictHost({ hostId: 'host-1', series: [series, memAvailable(10)], now: NOW }, config),
      );
      expect(prediction.verdicts[0]).toMatchObject({
        status: 'refused',
        reason: expect.stringMatching(reason),
      });
      expect(prediction.verdicts[1]).toMatchObject({ series: 'memAvailable', status: 'fire' });
    }
  });

  it('refuses a host id that is not one, without throwing', () => {
    const prediction = predictHost(
      { hostId: 'host 1; rm -rf', series: [memAvailable(10)], now: NOW },
      config,
    );
    expect(prediction).toMatchObject({ fire: false, reason: expect.stringMatching(/^refused: .*host id/) });
  });

  it('gives the same verdict whatever the order of the points and however many duplicates they have', () => {
    const series = memAvailable(10);
    const expected = predictHost({ hostId: 'h', series: [series], now: NOW }, config);
    fc.assert(
      fc.property(
        fc.shuffledSubarray(series.points, { minLength: series.points.length }),
        fc.array(fc.nat(series.points.length - 1), { maxLength: 30 }),
        (shuffled, duplicated) => {
          const withDuplicates = [
            ...shuffled,
            ...duplicated.map((i) => series.points[i] as { t: number; v: number }),
          ];
          const prediction = predictHost(
            { hostId: 'h', series: [{ ...series, points: withDuplicates }], now: NOW },
            config,
          );
          expect(prediction).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('does not judge a series with too few points, or too short a span, in the window', () => {
    const series = memAvailable(10);
    const sparse = { ...series, points: series.points.filter((_, i) => i % 3 === 0) };
    const recent = { ...series, points: series.points.slice(-40) };
    const prediction = predictHost({ hostId: 'h', series: [sparse, recent], now: NOW }, config);
    expect(prediction.fire).toBe(false);
    expect(prediction.verdicts).toEqual([
      { series: 'memAvailable', status: 'insufficient', reason: '28 points in the window, 48 needed' },
      { series: 'memAvailable', status: 'insufficient', reason: '40 points in the window, 48 needed' },
    ]);
    // A gap is fine as long as enough points remain: every sixth point missing still fires.
    const gappy = { ...series, points: series.points.filter((_, i) => i % 6 !== 0) };
    expect(predictHost({ hostId: 'h', series: [gappy], now: NOW }, config).fire).toBe(true);
  });

  it("judges MemAvailable net of its guests' growth: a VM filling its RAM is not a leak", () => {
    // A guest touching 10 GiB a day takes it from MemAvailable; the host's own memory does not move.
    const guestRss = points((daysAgo) => (150 - 10 * daysAgo) * GIB);
    const raw = predictHost({ hostId: 'h', series: [memAvailable(10)], now: NOW }, config);
    expect(raw.fire).toBe(true);
    const adjusted = predictHost({ hostId: 'h', series: [memAvailable(10)], guestRss, now: NOW }, config);
    expect(adjusted.fire).toBe(false);
    // A leak of the host's own on top of the guest's growth still fires, projected from today's level.
    const leaking = predictHost({ hostId: 'h', series: [memAvailable(20)], guestRss, now: NOW }, config);
    expect(fired(leaking).evidence.level / GIB).toBeCloseTo(100, 0);
    expect(fired(leaking).evidence.slopePerDay / GIB).toBeCloseTo(-10, 0);
  });

  it('refuses MemAvailable when its guest adjustment is broken, rather than judge it raw', () => {
    const guestRss = [{ t: NOW, v: -5 }];
    const prediction = predictHost(
      { hostId: 'h', series: [memAvailable(10), flatFragmentation], guestRss, now: NOW },
      config,
    );
    expect(prediction.fire).toBe(false);
    expect(prediction.verdicts[0]).toMatchObject({
      status: 'refused',
      reason: expect.stringMatching(/guest RSS: .*-5 is not a possible resident memory/),
    });
    expect(prediction.verdicts[1]).toMatchObject({ status: 'no-trend' });
  });

  it("skips a QEMU process's warm-up, when its guest is still touching its RAM", () => {
    const rising = {
      resource: 'qemuRss',
      name: 'vm1',
      limit: 10 * GIB,
      points: points((daysAgo, i) => (9 - 0.5 * daysAgo + 0.01 * noise(i)) * GIB),
    };
    expect(predictHost({ hostId: 'h', series: [rising], now: NOW }, config).fire).toBe(true);
    const young = { ...rising, startedAt: NOW - 6 * DAY };
    expect(predictHost({ hostId: 'h', series: [young], now: NOW }, config).verdicts[0]).toMatchObject({
      series: 'qemuRss:vm1',
      status: 'insufficient',
    });
  });
});

describe('Function: predictHost on a change of regime', () => {
  // The shapes of bench:aging's late leaks and level changes, on MemAvailable: 100 GiB free, ±0.5 GiB.
  const shaped = (value: (daysAgo: number) => number) => ({
    resource: 'memAvailable',
    limit: 5 * GIB,
    points: points((daysAgo, i) => (value(daysAgo) + 0.5 * noise(i)) * GIB),
  });
  const windowOnly = { ...config, regimeMinPoints: Number.MAX_SAFE_INTEGER };

  it('fires on a leak that started late, judged on the regime since it started', () => {
    // Flat for 5.5 days, then 40 GiB a day for the last 1.5: 35 GiB left, under a day, inside the 1.5 days
    // a regime of 1.5 days may be extrapolated (no further than it is long).
    const late = shaped((daysAgo) => 100 - 40 * Math.max(0, 1.5 - daysAgo));
    const prediction = fired(predictHost({ hostId: 'h', series: [late], now: NOW }, config));
    expect(prediction.evidence.judged).toBe('regime');
    const since = Date.parse(prediction.evidence.since);
    expect(since).toBeGreaterThan(NOW - 2 * DAY);
    expect(since).toBeLessThan(NOW - DAY);
    expect(prediction.evidence.slopePerDay / GIB).toBeCloseTo(-40, 0);
    expect(Date.parse(prediction.evidence.projectedExhaustionAt)).toBeLessThan(NOW + DAY);
    // The whole window alone reads the flat days as most of the story and does not fire.
    expect(predictHost({ hostId: 'h', series: [late], now: NOW }, windowOnly).fire).toBe(false);
  });

  it('does not judge a regime shorter than its minimum, however steep', () => {
    // The last 12 hours: 6 points, fewer than regimeMinPoints; the window alone says no trend.
    const young = shaped((daysAgo) => 100 - 40 * Math.max(0, 0.5 - daysAgo));
    const prediction = predictHost({ hostId: 'h', series: [young], now: NOW }, config);
    expect(prediction.fire).toBe(false);
  });

  it('does not fire on a step (a VM started) nor on a plateau after a dip', () => {
    const step = shaped((daysAgo) => (daysAgo > 3 ? 100 : 75));
    const dip = shaped((daysAgo) => 100 - 25 * Math.min(1, Math.max(0, (4 - daysAgo) / 0.4)));
    for (const series of [step, dip]) {
      const prediction = predictHost({ hostId: 'h', series: [series], now: NOW }, config);
      expect(prediction.fire).toBe(false);
      expect(prediction.verdicts[0]).toMatchObject({ status: 'no-trend' });
    }
  });

  it('keeps the window verdict for a leak that ran all along, when it is the more urgent', () => {
    const prediction = fired(predictHost({ hostId: 'h', series: [memAvailable(10)], now: NOW }, config));
    expect(prediction.evidence.judged).toBe('window');
    expect(prediction.evidence.since).toBe(new Date(NOW - 83 * 2 * HOUR).toISOString());
  });
});

describe('Function: predictionDedupeKey', () => {
  it('is one key per host per window, whatever the time inside it', () => {
    const a = predictionDedupeKey('host-1', Date.UTC(2026, 11, 8, 0, 0), DAY);
    expect(predictionDedupeKey('host-1', Date.UTC(2026, 11, 8, 23, 59), DAY)).toBe(a);
    expect(predictionDedupeKey('host-1', Date.UTC(2026, 11, 9, 0, 0), DAY)).not.toBe(a);
    expect(predictionDedupeKey('host-2', Date.UTC(2026, 11, 8, 0, 0), DAY)).not.toBe(a);
    expect(() => predictionDedupeKey('host-1', 0, 0)).toThrow(/positive whole number/);
  });
});

describe('Function: projectExhaustion', () => {
  const at = 1_000;
  it('projects the headroom over the slope toward the limit, in either direction', () => {
    expect(projectExhaustion({ exhaustsWhen: 'falling', limit: 10, level: 30, slope: -2, at })).toBe(1_010);
    expect(projectExhaustion({ exhaustsWhen: 'rising', limit: 1, level: 0.5, slope: 0.1, at })).toBe(1_005);
  });
  it('says now when already past the limit, and never when moving away', () => {
    expect(projectExhaustion({ exhaustsWhen: 'falling', limit: 10, level: 9, slope: 5, at })).toBe(at);
    expect(projectExhaustion({ exhaustsWhen: 'rising', limit: 1, level: 0.5, slope: 0, at })).toBeUndefined();
    expect(
      projectExhaustion({ exhaustsWhen: 'falling', limit: 10, level: 30, slope: 1, at }),
    ).toBeUndefined();
  });
});

describe('Schema: PredictionConfigSchema', () => {
  it('accepts the defaults and refuses a span longer than the window', () => {
    expect(PredictionConfigSchema.parse(DEFAULT_PREDICTION_CONFIG)).toEqual(DEFAULT_PREDICTION_CONFIG);
    expect(
      PredictionConfigSchema.safeParse({ ...DEFAULT_PREDICTION_CONFIG, minSpanMs: 8 * DAY }).success,
    ).toBe(false);
  });
});
