/**
 * The predictive trigger's decision for one host: does any of its resources trend toward exhaustion
 * significantly, and does the conservative projection of that trend reach the limit within the horizon?
 * Pure: the caller reads the series (GetMetricData) and acts on the verdict (starts a rejuvenation with
 * trigger `prediction` under the dedupe key). Never throws for bad data: a broken series is refused with
 * its reason and the others are still judged.
 */
import { z } from 'zod';
import { HostIdSchema } from '../domain/identifiers.js';
import { describeIssues } from '../domain/validation.js';
import { RESOURCE_TRAITS, type AgingResource } from './aging-resources.js';
import {
  cleanPoints,
  cleanSeries,
  GuestRssSchema,
  parseAgingSeries,
  seriesLabel,
  type CleanSeries,
} from './aging-series.js';
import { adjustForGuests } from './guest-adjustment.js';
import { hamedRaoInflation } from './autocorrelation-correction.js';
import { projectExhaustion } from './exhaustion-projection.js';
import { mannKendallFromS, mannKendallS } from './mann-kendall.js';
import { predictionDedupeKey } from './prediction-key.js';
import { findRegimeChange } from './regime-change.js';
import { senInterval, senSlope } from './sen-slope.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const PredictionConfigSchema = z
  .object({
    /** Fire when the conservative projection reaches the limit within this long. */
    horizonMs: z.number().int().positive(),
    /** How much recent history each evaluation looks at. */
    windowMs: z.number().int().positive(),
    /** One-sided significance level of the Mann-Kendall test (corrected for autocorrelation). */
    alpha: z.number().gt(0).lt(0.5),
    /** One-sided level of the slope's conservative bound: the bound is exceeded with this probability. */
    boundAlpha: z.number().gt(0).lt(0.5),
    /** Fewer points than this in the window and the series is not judged. */
    minPoints: z.number().int().min(10),
    /** A window spanning less than this is not judged: a few hours say nothing of a trend over days. */
    minSpanMs: z.number().int().positive(),
    /** One prediction per host per this long (see `prediction-key.ts`). */
    dedupeWindowMs: z.number().int().positive(),
    /**
     * A process's first this-long is not judged: its guest is still touching its RAM, a rise that stops by
     * itself (how long depends on the guests; days for a guest that fills its page cache slowly).
     */
    processWarmupMs: z.number().int().nonnegative(),
    /**
     * The recent regime (the points since the series last changed behaviour, regime-change.ts) is judged
     * too, when it holds this many points over this long: fewer, and a short noisy tail could fire.
     */
    regimeMinPoints: z.number().int().min(10),
    regimeMinSpanMs: z.number().int().positive(),
    /** The one-sided level of the recent regime's test (the window's is `alpha`). */
    regimeAlpha: z.number().gt(0).lt(0.5),
  })
  .refine((c) => c.minSpanMs <= c.windowMs, { message: 'minSpanMs must not exceed windowMs' });

export type PredictionConfig = z.output<typeof PredictionConfigSchema>;

/**
 * Defaults for series of 2-hour means, evaluated every 6 hours, chosen on the synthetic traces of
 * `npm run bench:aging` (see `bench/aging-traces.ts` for their parameters) and checked on a second seed.
 * The window is what mattered: 3 days of slowly wandering noise (fragmentation above all) extrapolated
 * over a 14-day horizon fired on 57% of 200 leak-free hosts; 7 days fired on 0.1-0.2% of 1,000, on both
 * seeds, and still caught every leak but one. The lead time follows the horizon. Alpha and the bound's
 * level were left at these conventional values, not tuned.
 */
export const DEFAULT_PREDICTION_CONFIG: PredictionConfig = {
  horizonMs: 14 * DAY_MS,
  windowMs: 7 * DAY_MS,
  alpha: 0.001,
  boundAlpha: 0.05,
  minPoints: 48,
  minSpanMs: 5 * DAY_MS,
  dedupeWindowMs: DAY_MS,
  processWarmupMs: 3 * DAY_MS,
  regimeMinPoints: 12,
  regimeMinSpanMs: DAY_MS,
  regimeAlpha: 0.001,
};

export interface PredictionEvidence {
  readonly s: number;
  readonly z: number;
  /** One-sided p in the direction of exhaustion, after the autocorrelation correction. */
  readonly p: number;
  /** n/n* of the Hamed-Rao correction. */
  readonly varianceInflation: number;
  /** Sen's slope, units per day. */
  readonly slopePerDay: number;
  /** The conservative bound of the slope, units per day. */
  readonly slopeBoundPerDay: number;
  /** The fitted level at the last point. */
  readonly level: number;
  readonly limit: number;
  /** ISO 8601. */
  readonly projectedExhaustionAt: string;
  readonly points: number;
  /**
   * What was judged: the whole window, or the regime since the series last changed behaviour (a leak
   * that started partway through the window; see regime-change.ts).
   */
  readonly judged: 'window' | 'regime';
  /** ISO 8601: the first point judged. */
  readonly since: string;
}

export type SeriesVerdict =
  | { readonly series: string; readonly status: 'refused'; readonly reason: string }
  | { readonly series: string; readonly status: 'insufficient'; readonly reason: string }
  | { readonly series: string; readonly status: 'no-trend'; readonly z: number; readonly p: number }
  | TrendVerdict;

/** A significant trend toward exhaustion, projected: within the horizon (`fire`) or not. */
export interface TrendVerdict {
  readonly series: string;
  readonly status: 'beyond-horizon' | 'fire';
  readonly evidence: PredictionEvidence;
  readonly projectedExhaustionMs: number | undefined;
}

export type HostPrediction =
  | {
      readonly fire: true;
      readonly hostId: string;
      readonly resource: AgingResource;
      readonly series: string;
      readonly evidence: PredictionEvidence;
      readonly dedupeKey: string;
      readonly verdicts: readonly SeriesVerdict[];
    }
  | {
      readonly fire: false;
      readonly hostId: string;
      readonly reason: string;
      readonly verdicts: readonly SeriesVerdict[];
    };

export interface HostSeriesInput {
  readonly hostId: unknown;
  readonly series: readonly unknown[];
  /** The guests' resident memory summed per time (GuestRssSchema); MemAvailable is judged adjusted by it. */
  readonly guestRss?: unknown;
  /** Epoch ms of the evaluation. */
  readonly now: number;
}

/** The verdict for one host; `config` is trusted (parse it once with PredictionConfigSchema). */
export function predictHost(input: HostSeriesInput, config: PredictionConfig): HostPrediction {
  const host = HostIdSchema.safeParse(input.hostId);
  const hostId = host.success ? host.data : String(input.hostId).slice(0, 63);
  if (!host.success)
    return { fire: false, hostId, reason: `refused: ${describeIssues(host.error).join('; ')}`, verdicts: [] };
  const guests = input.guestRss === undefined ? undefined : GuestRssSchema.safeParse(input.guestRss);
  const verdicts = input.series.map((raw): SeriesVerdict => {
    const parsed = parseAgingSeries(raw);
    if (!parsed.ok) return { series: parsed.label, status: 'refused', reason: parsed.reason };
    const clean = cleanSeries(parsed.series);
    if (clean.resource !== 'memAvailable' || guests === undefined)
      return judgeSeries(clean, input.now, config);
    // Judging MemAvailable raw when its adjustment is broken would bring back the false alarms of VMs
    // starting that the adjustment exists to remove.
    if (!guests.success)
      return {
        series: seriesLabel(clean),
        status: 'refused',
        reason: `guest RSS: ${describeIssues(guests.error).join('; ')}`,
      };
    return judgeSeries(adjustForGuests(clean, cleanPoints(guests.data)), input.now, config);
  });
  const firing = verdicts.filter((v): v is TrendVerdict => v.status === 'fire');
  const first = firing.sort(
    (a, b) => (a.projectedExhaustionMs ?? input.now) - (b.projectedExhaustionMs ?? input.now),
  )[0];
  if (first === undefined) {
    const refused = verdicts.filter((v) => v.status === 'refused').length;
    return {
      fire: false,
      hostId,
      reason: refused > 0 ? `no resource to fire on (${refused} series refused)` : 'no resource to fire on',
      verdicts,
    };
  }
  return {
    fire: true,
    hostId,
    resource: first.series.split(':')[0] as AgingResource,
    series: first.series,
    evidence: first.evidence,
    dedupeKey: predictionDedupeKey(hostId, input.now, config.dedupeWindowMs),
    verdicts,
  };
}

/** The verdict on one clean series at `now`: the window's, or its recent regime's when that is worse. */
export function judgeSeries(series: CleanSeries, now: number, config: PredictionConfig): SeriesVerdict {
  const label = seriesLabel(series);
  const warmedUp = series.startedAt === undefined ? -Infinity : series.startedAt + config.processWarmupMs;
  const from = Math.max(now - config.windowMs, warmedUp);
  const start = firstIndexPast(series.times, from, false);
  const end = firstIndexPast(series.times, now, true);
  const n = end - start;
  if (n < config.minPoints)
    return {
      series: label,
      status: 'insufficient',
      reason: `${n} points in the window, ${config.minPoints} needed`,
    };
  const firstT = series.times[start] as number;
  const lastT = series.times[end - 1] as number;
  if (lastT - firstT < config.minSpanMs)
    return {
      series: label,
      status: 'insufficient',
      reason: `the window's points span ${((lastT - firstT) / HOUR_MS).toFixed(1)} h, ${(config.minSpanMs / HOUR_MS).toFixed(1)} h needed`,
    };
  const window = judgeSegment(series, start, end, now, config, {
    alpha: config.alpha,
    horizonMs: config.horizonMs,
    judged: 'window',
  });
  const since = recentRegimeStart(series, start, end, config);
  if (since === undefined) return window;
  // The regime is extrapolated no further than it is long: a day of points says little of the next two
  // weeks, and projecting a day's wander that far is what fires on noise (bench:aging: 3-4% of leak-free
  // hosts fired on 2-4 days of fragmentation extrapolated twice as far; none at once as far).
  const regime = judgeSegment(series, since, end, now, config, {
    alpha: config.regimeAlpha,
    horizonMs: Math.min(config.horizonMs, lastT - (series.times[since] as number)),
    judged: 'regime',
  });
  // Flat before the break and flat since: the window's trend is the change of level itself (a VM started,
  // a workload settled on a plateau), which Hamed-Rao's correction does not always absorb. Flat before at a
  // lax level (one-sided 0.05), so that a leak running all along, which a break may split, is never
  // read as flat.
  if (window.status !== 'no-trend' && regime.status === 'no-trend') {
    const before = judgeSegment(series, start, since, now, config, {
      alpha: FLAT_BEFORE_ALPHA,
      horizonMs: config.horizonMs,
      judged: 'window',
    });
    if (before.status === 'no-trend') return regime;
  }
  return moreUrgent(window, regime);
}

/**
 * Where the recent regime starts (an index into the series), if the window's points changed behaviour
 * (regime-change.ts) and enough of them, over long enough, came after: a short tail is not judged, so a
 * VM that started or a workload that dipped an hour ago cannot pass for a leak.
 */
function recentRegimeStart(
  series: CleanSeries,
  start: number,
  end: number,
  config: PredictionConfig,
): number | undefined {
  const firstT = series.times[start] as number;
  const days = series.times.slice(start, end).map((t) => (t - firstT) / DAY_MS);
  const change = findRegimeChange(days, series.values.slice(start, end), REGIME_MIN_PHASE_POINTS);
  if (change === undefined) return undefined;
  const since = start + change.index;
  if (end - since < config.regimeMinPoints) return undefined;
  if ((series.times[end - 1] as number) - (series.times[since] as number) < config.regimeMinSpanMs)
    return undefined;
  return since;
}

/**
 * A phase of the break search needs this many points (8 hours of 2-hour means): few enough that a dip of
 * some hours before a plateau is one step between two phases, not a phase of its own.
 */
const REGIME_MIN_PHASE_POINTS = 4;

/** The level at which the phase before a break counts as trending (see judgeSeries). */
const FLAT_BEFORE_ALPHA = 0.05;

type SegmentVerdict = Extract<SeriesVerdict, { status: 'no-trend' }> | TrendVerdict;

const URGENCY: Record<SegmentVerdict['status'], number> = { 'no-trend': 0, 'beyond-horizon': 1, fire: 2 };

/** The verdict that says more: firing over a trend beyond the horizon over none; the earlier exhaustion. */
function moreUrgent(a: SegmentVerdict, b: SegmentVerdict): SegmentVerdict {
  if (URGENCY[a.status] !== URGENCY[b.status]) return URGENCY[a.status] > URGENCY[b.status] ? a : b;
  if (a.status === 'no-trend' || b.status === 'no-trend') return a;
  const at = (v: TrendVerdict) => v.projectedExhaustionMs ?? Number.POSITIVE_INFINITY;
  return at(b) < at(a) ? b : a;
}

/** The trend of the points [start, end) of `series`, tested at `alpha`, and its projection. */
function judgeSegment(
  series: CleanSeries,
  start: number,
  end: number,
  now: number,
  config: PredictionConfig,
  test: { readonly alpha: number; readonly horizonMs: number; readonly judged: PredictionEvidence['judged'] },
): SegmentVerdict {
  const { alpha, horizonMs, judged } = test;
  const label = seriesLabel(series);
  const values = series.values.slice(start, end);
  const n = values.length;
  const firstT = series.times[start] as number;
  const lastT = series.times[end - 1] as number;
  const traits = RESOURCE_TRAITS[series.resource];
  const falling = traits.exhaustsWhen === 'falling';
  const s = mannKendallS(values);
  // The plain test first: the correction only ever widens the variance (n/n* ≥ 1), so a series the plain
  // test does not find trending toward exhaustion cannot be found so after it, and most series are such.
  const plain = mannKendallFromS(values, s, 1);
  const plainP = falling ? plain.pDecreasing : plain.pIncreasing;
  if (plainP > alpha) return { series: label, status: 'no-trend', z: plain.z, p: plainP };
  // Days since the segment's start keep the slopes in human units and the arithmetic well scaled.
  const days = series.times.slice(start, end).map((t) => (t - firstT) / DAY_MS);
  const sen = senSlope(days, values);
  const inflation = hamedRaoInflation(days, values, sen.slope);
  const corrected = mannKendallFromS(values, s, inflation);
  const p = falling ? corrected.pDecreasing : corrected.pIncreasing;
  if (p > alpha) return { series: label, status: 'no-trend', z: corrected.z, p };
  const interval = senInterval(sen.slopes, corrected.varianceS, 1 - 2 * config.boundAlpha);
  const bound = falling ? interval.lower : interval.upper;
  const lastDay = (lastT - firstT) / DAY_MS;
  // The adjusted MemAvailable's values carry the guests' RSS (guest-adjustment.ts): take off the part that
  // is theirs at the window's end, so the level is MemAvailable's own there.
  const guestShift = series.guestRss === undefined ? 0 : (series.guestRss[end - 1] as number);
  const level = sen.intercept + sen.slope * lastDay - guestShift;
  const projected = projectExhaustion({
    exhaustsWhen: traits.exhaustsWhen,
    limit: series.limit,
    level,
    slope: bound / DAY_MS,
    at: lastT,
  });
  const evidence: PredictionEvidence = {
    s,
    z: corrected.z,
    p,
    varianceInflation: inflation,
    slopePerDay: sen.slope,
    slopeBoundPerDay: bound,
    level,
    limit: series.limit,
    projectedExhaustionAt: projected === undefined ? 'never' : new Date(projected).toISOString(),
    points: n,
    judged,
    since: new Date(firstT).toISOString(),
  };
  const fire = projected !== undefined && projected - now <= horizonMs;
  return {
    series: label,
    status: fire ? 'fire' : 'beyond-horizon',
    evidence,
    projectedExhaustionMs: projected,
  };
}

/**
 * The first index whose time is after `t` (or at it, unless `pastIncluded`): a binary search, since the
 * evaluation slides along long series.
 */
function firstIndexPast(times: readonly number[], t: number, pastIncluded: boolean): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const time = times[mid] as number;
    if (time < t || (pastIncluded && time === t)) low = mid + 1;
    else high = mid;
  }
  return low;
}
