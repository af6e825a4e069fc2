/**
 * The expected values were computed independently with plain Python 3 (no scipy), from the textbook
 * formulas, with `statistics.NormalDist` for Φ and Φ⁻¹. The reference, for re-running:
 *
 *   from statistics import NormalDist; from collections import Counter; import math
 *   N = NormalDist()
 *   def mk(x, infl=1.0):
 *       n = len(x); s = sum((x[j] > x[i]) - (x[j] < x[i]) for i in range(n) for j in range(i + 1, n))
 *       ties = sum(t * (t - 1) * (2 * t + 5) for t in Counter(x).values() if t > 1)
 *       var = (n * (n - 1) * (2 * n + 5) - ties) / 18 * infl
 *       z = 0 if s == 0 else (s - 1 if s > 0 else s + 1) / math.sqrt(var)
 *       return s, var, z, 2 * (1 - N.cdf(abs(z)))
 *   def sen(t, x, var, conf):
 *       n = len(x); sl = sorted((x[j] - x[i]) / (t[j] - t[i]) for i in range(n) for j in range(i + 1, n))
 *       m = len(sl); med = sl[m // 2] if m % 2 else (sl[m // 2 - 1] + sl[m // 2]) / 2
 *       C = N.inv_cdf(1 - (1 - conf) / 2) * math.sqrt(var); r = lambda v: min(m, max(1, round(v)))
 *       return med, sl[r((m - C) / 2) - 1], sl[r((m + C) / 2 + 1) - 1]
 *   def hr(t, x, slope, la=0.05):   # Hamed & Rao 1998, eq. 18, significant lags only
 *       n = len(x); d = [x[i] - slope * t[i] for i in range(n)]; r = average_ranks(d); m = sum(r) / n
 *       c = [v - m for v in r]; den = sum(v * v for v in c); b = N.inv_cdf(1 - la / 2) / math.sqrt(n); s = 0
 *       for k in range(1, n - 2):
 *           rho = sum(c[i] * c[i + k] for i in range(n - k)) / den
 *           if abs(rho) > b: s += (n - k) * (n - k - 1) * (n - k - 2) * rho
 *       return max(1, 1 + 2 / (n * (n - 1) * (n - 2)) * s)
 */
import fc from 'fast-check';
import { cleanPoints } from '../../../shared/aging/aging-series.js';
import { describe, expect, it } from 'vitest';
import { averageRanks, hamedRaoInflation } from '../../../shared/aging/autocorrelation-correction.js';
import { mannKendall, mannKendallVariance } from '../../../shared/aging/mann-kendall.js';
import { normalCdf, normalQuantile, normalUpperTail } from '../../../shared/aging/normal-distribution.js';
import { select, senInterval, senSlope } from '../../../shared/aging/sen-slope.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('Module: normal-distribution', () => {
  it('matches NormalDist().cdf and .inv_cdf, tails included', () => {
    // python3: NormalDist().cdf(z), 1 - cdf(z), and 0.5*math.erfc(6/math.sqrt(2)) for the far tail.
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301035, 8);
    expect(normalCdf(0.5)).toBeCloseTo(0.6914624612740131, 7);
    expect(normalUpperTail(2)).toBeCloseTo(0.02275013194817921, 8);
    expect(normalUpperTail(4) / 3.167124183311998e-5).toBeCloseTo(1, 6);
    expect(normalUpperTail(6) / 9.865876450377012e-10).toBeCloseTo(1, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.9599639845400536, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 8);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424308822899, 7);
    expect(normalQuantile(0.9)).toBeCloseTo(1.2815515655446008, 8);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1.5)).toBeNaN();
  });

  it('inverts the distribution function across (0, 1)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-9, max: 1 - 1e-9, noNaN: true }), (p) => {
        expect(Math.abs(normalCdf(normalQuantile(p)) - p)).toBeLessThan(1e-7 + 1e-6 * p);
      }),
    );
  });
});

describe('Function: mannKendall', () => {
  it('gives S, the tie-corrected variance, Z and p of a rising series with ties', () => {
    // python3: mk([10,12,11,14,14,13,15,17,16,16,18,20]) = (54, 210.6667, 3.65156, 0.00026066)
    const test = mannKendall([10, 12, 11, 14, 14, 13, 15, 17, 16, 16, 18, 20]);
    expect(test.s).toBe(54);
    expect(test.varianceS).toBeCloseTo(210.66666666666666, 9);
    expect(test.z).toBeCloseTo(3.6515559367882715, 9);
    expect(test.p).toBeCloseTo(0.0002606563091740455, 8);
    expect(test.pIncreasing).toBeCloseTo(0.00013032815458702274, 8);
    expect(test.pDecreasing).toBeCloseTo(0.999869671845413, 7);
  });

  it('gives a negative S and a small decreasing p for a falling series with a tie of three', () => {
    // python3: mk([5.0,4.8,4.8,4.5,4.1,4.1,4.1,3.9,3.6,3.7]) = (-39, 120.3333, -3.46410, 0.00053201)
    const test = mannKendall([5.0, 4.8, 4.8, 4.5, 4.1, 4.1, 4.1, 3.9, 3.6, 3.7]);
    expect(test.s).toBe(-39);
    expect(test.varianceS).toBeCloseTo(120.33333333333333, 9);
    expect(test.z).toBeCloseTo(-3.464101615137755, 9);
    expect(test.p).toBeCloseTo(0.0005320055051392103, 8);
    expect(test.pDecreasing).toBeCloseTo(0.00026600275256960515, 8);
  });

  it('subtracts every tie group from the variance, and has none to subtract without ties', () => {
    expect(mannKendallVariance([1, 2, 3, 4])).toBeCloseTo((4 * 3 * 13) / 18, 12);
    // Two pairs of ties: 2·1·9 each.
    expect(mannKendallVariance([1, 1, 2, 2])).toBeCloseTo((4 * 3 * 13 - 36) / 18, 12);
    expect(mannKendall([3, 3, 3, 3]).z).toBe(0);
  });

  it('mirrors: reversing the series negates S and Z and keeps p', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 3, maxLength: 40 }), (xs) => {
        const forward = mannKendall(xs);
        const backward = mannKendall([...xs].reverse());
        expect(backward.s + forward.s).toBe(0);
        expect(backward.z).toBeCloseTo(-forward.z, 12);
        expect(backward.p).toBeCloseTo(forward.p, 12);
        expect(Math.abs(forward.s)).toBeLessThanOrEqual((xs.length * (xs.length - 1)) / 2);
      }),
    );
  });

  it('is unchanged by a strictly increasing transform of the values (it is rank-based)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 3, maxLength: 30 }), (xs) => {
        const a = mannKendall(xs);
        // Exact in doubles for these integers: no two values merge, no tie appears.
        const b = mannKendall(xs.map((x) => x ** 3 + 2 * x));
        expect(b.s).toBe(a.s);
        expect(b.z).toBeCloseTo(a.z, 9);
      }),
    );
  });
});

describe('Function: senSlope and senInterval', () => {
  it('gives the median pairwise slope, the intercept and the 95% interval of a rising series', () => {
    // python3: sen(range(12), x, 210.6667, 0.95) = (0.75, 0.5, 1.0); intercept median(x - 0.75 t) = 10.5
    const values = [10, 12, 11, 14, 14, 13, 15, 17, 16, 16, 18, 20];
    const sen = senSlope(range(12), values);
    expect(sen.slope).toBe(0.75);
    expect(sen.intercept).toBe(10.5);
    expect(senInterval(sen.slopes, 210.66666666666666, 0.95)).toEqual({ lower: 0.5, upper: 1 });
  });

  it('uses the timestamps, so a gap does not distort the slope', () => {
    // python3: sen([0,1,2,3,7,8,9,10,11,12], x, 120.3333, 0.90) = (-0.108333, -0.127273, -0.1)
    const sen = senSlope(
      [0, 1, 2, 3, 7, 8, 9, 10, 11, 12],
      [5.0, 4.8, 4.8, 4.5, 4.1, 4.1, 4.1, 3.9, 3.6, 3.7],
    );
    expect(sen.slope).toBeCloseTo(-0.10833333333333332, 12);
    const interval = senInterval(sen.slopes, 120.33333333333333, 0.9);
    expect(interval.lower).toBeCloseTo(-0.12727272727272726, 12);
    expect(interval.upper).toBeCloseTo(-0.1, 12);
  });

  it('recovers the slope of a line exactly, and its interval is that slope', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.double({ min: -1e3, max: 1e3, noNaN: true }),
        fc.integer({ min: 3, max: 40 }),
        (slope, intercept, n) => {
          const times = range(n).map((i) => i * 0.5);
          const sen = senSlope(
            times,
            times.map((t) => intercept + slope * t),
          );
          expect(sen.slope).toBeCloseTo(slope, 6);
          const interval = senInterval(sen.slopes, mannKendallVariance(range(n)), 0.95);
          expect(interval.lower).toBeCloseTo(slope, 6);
          expect(interval.upper).toBeCloseTo(slope, 6);
        },
      ),
    );
  });

  it('widens the interval as the variance grows, always around the slope', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 5, maxLength: 30 }),
        (xs) => {
          const sen = senSlope(range(xs.length), xs);
          const variance = mannKendallVariance(xs);
          const narrow = senInterval(sen.slopes, variance, 0.9);
          const wide = senInterval(sen.slopes, variance * 4, 0.9);
          expect(wide.lower).toBeLessThanOrEqual(narrow.lower);
          expect(wide.upper).toBeGreaterThanOrEqual(narrow.upper);
          expect(narrow.lower).toBeLessThanOrEqual(sen.slope);
          expect(narrow.upper).toBeGreaterThanOrEqual(sen.slope);
        },
      ),
    );
  });

  it('selects the k-th smallest as sorting would, duplicates included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 60 }),
        fc.nat(),
        (xs, k) => {
          const index = k % xs.length;
          const sorted = [...xs].sort((a, b) => a - b);
          expect(select(Float64Array.from(xs), index)).toBe(sorted[index]);
        },
      ),
    );
  });

  it('refuses a series of fewer than two points', () => {
    expect(() => senSlope([1], [1])).toThrow(/two or more points/);
  });
});

describe('Function: hamedRaoInflation', () => {
  // A trend under a slow oscillation: neighbouring points are strongly correlated.
  const times = range(40);
  const oscillating = times.map((i) => Math.sin(i / 3) * 3 + 0.3 * i);

  it('inflates the variance of an autocorrelated series as the independent reference does', () => {
    // python3: for x = [sin(i/3)*3 + 0.3*i for i in range(40)]: S = 428, Sen 0.24366092058916,
    // hr(...) = 1.3731716337133784, corrected Z = 4.24551083747096, p = 2.18095966648679e-05, and the 90%
    // interval with the corrected variance (0.1755764153112323, 0.3032261277109305).
    const sen = senSlope(times, oscillating);
    expect(sen.slope).toBeCloseTo(0.2436609205891606, 12);
    const inflation = hamedRaoInflation(times, oscillating, sen.slope);
    expect(inflation).toBeCloseTo(1.3731716337133784, 10);
    const corrected = mannKendall(oscillating, inflation);
    expect(corrected.s).toBe(428);
    expect(corrected.z).toBeCloseTo(4.2455108374709605, 9);
    expect(corrected.p).toBeCloseTo(2.1809596664867925e-5, 9);
    expect(mannKendall(oscillating).z).toBeCloseTo(4.9749917574228535, 9);
    const interval = senInterval(sen.slopes, corrected.varianceS, 0.9);
    expect(interval.lower).toBeCloseTo(0.1755764153112323, 12);
    expect(interval.upper).toBeCloseTo(0.3032261277109305, 12);
  });

  it('leaves a series without autocorrelation nearly alone, and never deflates', () => {
    // Alternating residuals: negative lag-1 correlation, which the clamp refuses to reward.
    const alternating = range(30).map((i) => (i % 2 === 0 ? 1 : -1) + 0.01 * i);
    expect(hamedRaoInflation(range(30), alternating, 0.01)).toBe(1);
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 3, maxLength: 40 }),
        (xs) => {
          expect(hamedRaoInflation(range(xs.length), xs, 0)).toBeGreaterThanOrEqual(1);
        },
      ),
    );
  });

  it('ranks ties with the mean of the ranks they span', () => {
    expect(averageRanks([30, 10, 20, 10])).toEqual([4, 1.5, 3, 1.5]);
  });
});

describe('Function: cleanPoints', () => {
  it('sorts by time and merges the duplicates of a timestamp into their mean', () => {
    const cleaned = cleanPoints([
      { t: 3, v: 30 },
      { t: 1, v: 10 },
      { t: 3, v: 34 },
    ]);
    expect(cleaned).toEqual({ times: [1, 3], values: [10, 32], duplicatesMerged: 1 });
  });

  it('gives back exactly the value of a datapoint that arrived several times', () => {
    // By sum / count, three copies of 0.1 average 0.10000000000000002, and a verdict would then depend on
    // how many copies CloudWatch returned.
    for (let copies = 1; copies <= 9; copies++) {
      const cleaned = cleanPoints(Array.from({ length: copies }, () => ({ t: 1, v: 0.1 })));
      expect(cleaned.values).toEqual([0.1]);
    }
  });
});
