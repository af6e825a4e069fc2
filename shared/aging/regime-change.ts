/**
 * Where a series changed behaviour: the break of a two-phase linear regression, each phase with its own
 * level and slope (R. Lund and J. Reeves (2002), "Detection of undocumented changepoints: a revision of
 * the two-phase regression model", Journal of Climate 15(17), 2547–2554), the break kept only when the
 * Schwarz criterion prefers two phases to one line (Y.-C. Yao (1988), "Estimating the number of
 * change-points via Schwarz' criterion", Statistics & Probability Letters 6(3), 181–189; the criterion
 * Bai and Perron recommend for choosing the number of breaks).
 *
 * Why this model: a leak that starts partway through the window is a change of slope (flat, then falling)
 * and a VM starting is a change of level (flat, a drop, flat again); a model whose phases have their own
 * level and slope sees both and tells them apart by what comes after the break, where a continuous
 * (hinge) model would read a step as a steep slope and a mean-shift test (Pettitt, CUSUM, PELT on the
 * mean) would read a leak as a drift of the mean with no single point where it changed. One break, not
 * several (Bai-Perron's dynamic programme): the decision only needs the last regime, and a short dip
 * before a plateau is taken as one step by two phases of a few points each. Why the Schwarz criterion
 * and not Lund and Reeves' F_max percentiles: these assume independent noise, which aging metrics are
 * not, and so does the criterion; neither is trusted as a guard. The break only chooses which points
 * to judge: the recent regime is then tested like the window, by Mann-Kendall with Hamed and Rao's
 * correction and a minimum length (predictive-decision.ts), which is the guard against noise.
 *
 * Least squares on prefix sums: every candidate break costs O(1), the search O(n).
 */

export interface LineFit {
  readonly points: number;
  readonly slope: number;
  readonly intercept: number;
  readonly rss: number;
}

export interface RegimeChange {
  /** The index of the first point of the recent regime (the phase after the break). */
  readonly index: number;
  /** Schwarz criterion of one line minus that of the two phases: > 0, the larger the surer. */
  readonly bicGain: number;
  readonly before: LineFit;
  readonly after: LineFit;
}

/**
 * The most likely break of `values` (in the order of `times`, strictly increasing; days keep the sums well
 * scaled) with at least `minPhasePoints` on each side, or undefined when one line describes the series
 * as well (by the Schwarz criterion) or it is too short to hold two phases.
 */
export function findRegimeChange(
  times: readonly number[],
  values: readonly number[],
  minPhasePoints = 4,
): RegimeChange | undefined {
  const n = values.length;
  if (times.length !== n) throw new RangeError(`times and values differ in length (${times.length}, ${n})`);
  if (!(Number.isInteger(minPhasePoints) && minPhasePoints >= 3))
    throw new RangeError(`a phase needs three or more points to have a residual (got ${minPhasePoints})`);
  if (n < 2 * minPhasePoints) return undefined;
  const sums = new PrefixSums(times, values);
  const whole = sums.fit(0, n);
  let best: { index: number; rss: number } | undefined;
  for (let k = minPhasePoints; k <= n - minPhasePoints; k++) {
    const rss = sums.fit(0, k).rss + sums.fit(k, n).rss;
    if (best === undefined || rss < best.rss) best = { index: k, rss };
  }
  if (best === undefined) return undefined;
  // BIC = n·ln(RSS/n) + p·ln n: one line has 3 parameters (level, slope, variance), two phases 6 (two
  // levels, two slopes, the break, the variance).
  const bicGain = schwarzGain(n, whole.rss, best.rss, 3, sums.roundingFloor(n));
  if (!(bicGain > 0)) return undefined;
  return { index: best.index, bicGain, before: sums.fit(0, best.index), after: sums.fit(best.index, n) };
}

/**
 * n·ln(RSS₀/RSS₁) − extra·ln n; residuals under `floor` are rounding, so a perfect fit of an imperfect
 * line is an infinite gain and a perfect line none.
 */
function schwarzGain(
  n: number,
  rssLine: number,
  rssPhases: number,
  extraParameters: number,
  floor: number,
): number {
  if (rssPhases <= floor) return rssLine <= floor ? 0 : Number.POSITIVE_INFINITY;
  return n * Math.log(rssLine / rssPhases) - extraParameters * Math.log(n);
}

/** Running sums of t, v, t², tv, v² (values centred on their first, so v² does not swamp the residuals). */
class PrefixSums {
  private readonly t0: number;
  private readonly v0: number;
  private readonly scale: number;
  private readonly t: Float64Array;
  private readonly v: Float64Array;
  private readonly tt: Float64Array;
  private readonly tv: Float64Array;
  private readonly vv: Float64Array;

  constructor(times: readonly number[], values: readonly number[]) {
    const n = values.length;
    const t0 = times[0] ?? 0;
    const v0 = values[0] ?? 0;
    // The scale too: bytes of memory squared would lose the residuals of a flat series to rounding.
    let scale = 0;
    for (const v of values) scale = Math.max(scale, Math.abs(v - v0));
    this.t0 = t0;
    this.v0 = v0;
    this.scale = scale > 0 ? scale : 1;
    this.t = new Float64Array(n + 1);
    this.v = new Float64Array(n + 1);
    this.tt = new Float64Array(n + 1);
    this.tv = new Float64Array(n + 1);
    this.vv = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const t = (times[i] as number) - t0;
      const v = ((values[i] as number) - v0) / this.scale;
      this.t[i + 1] = (this.t[i] as number) + t;
      this.v[i + 1] = (this.v[i] as number) + v;
      this.tt[i + 1] = (this.tt[i] as number) + t * t;
      this.tv[i + 1] = (this.tv[i] as number) + t * v;
      this.vv[i + 1] = (this.vv[i] as number) + v * v;
    }
  }

  /** A residual sum of squares this small, over `points`, is rounding (the values scaled to [-1, 1]). */
  roundingFloor(points: number): number {
    return points * 1e-12 * this.scale * this.scale;
  }

  /** Least squares over the points [from, to), in the caller's units. */
  fit(from: number, to: number): LineFit {
    const m = to - from;
    const d = (a: Float64Array) => (a[to] as number) - (a[from] as number);
    const st = d(this.t);
    const sv = d(this.v);
    const stt = d(this.tt) - (st * st) / m;
    const stv = d(this.tv) - (st * sv) / m;
    const svv = d(this.vv) - (sv * sv) / m;
    const slope = stt > 0 ? stv / stt : 0;
    const rss = Math.max(0, svv - slope * stv);
    const interceptAtT0 = sv / m - (slope * st) / m;
    return {
      points: m,
      slope: slope * this.scale,
      intercept: this.v0 + this.scale * interceptAtT0 - slope * this.scale * this.t0,
      rss: rss * this.scale * this.scale,
    };
  }
}
