/**
 * One host's series of one resource as the trigger receives it, validated at the boundary, and put in
 * the shape the statistics need: sorted, one value per timestamp. Each series is validated on its own so
 * that one broken series is refused with its reason while the host's other series are still evaluated.
 */
import { z } from 'zod';
import { describeIssues } from '../domain/validation.js';
import {
  AGING_RESOURCES,
  MAX_PLAUSIBLE_BYTES,
  RESOURCE_TRAITS,
  type AgingResource,
} from './aging-resources.js';

/** 2000-01-01 .. 2100-01-01 in ms: a timestamp outside is a unit error (seconds for ms) or garbage. */
const MIN_TIMESTAMP_MS = Date.UTC(2000, 0, 1);
const MAX_TIMESTAMP_MS = Date.UTC(2100, 0, 1);
/** GetMetricData returns at most 100,800 datapoints per call; more in one series is not ours. */
export const MAX_POINTS_PER_SERIES = 100_800;

const TimestampSchema = z
  .number()
  .int('whole milliseconds since the epoch')
  .min(MIN_TIMESTAMP_MS, 'before 2000 (seconds where milliseconds were meant?)')
  .max(MAX_TIMESTAMP_MS, 'after 2100');

const PointSchema = z.object({ t: TimestampSchema, v: z.number() });

/**
 * The host's guests' resident memory, summed over its QEMU processes, at the times of its MemAvailable:
 * not a resource of its own but what MemAvailable is corrected by (see `guest-adjustment.ts`).
 */
export const GuestRssSchema = z
  .array(PointSchema)
  .max(MAX_POINTS_PER_SERIES)
  .superRefine((points, ctx) => {
    const bad = points.findIndex((p) => !(Number.isFinite(p.v) && p.v >= 0 && p.v <= MAX_PLAUSIBLE_BYTES));
    if (bad >= 0)
      ctx.addIssue({
        code: 'custom',
        path: [bad, 'v'],
        message: `${points[bad]?.v} is not a possible resident memory in bytes`,
      });
  });

export const AgingSeriesSchema = z
  .object({
    resource: z.enum(AGING_RESOURCES),
    /** Tells apart series of one resource on one host, e.g. the VM of a QEMU process. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'name: 1-63 chars of A-Z a-z 0-9 . _ -')
      .optional(),
    /**
     * When the process a series belongs to started (QEMU processes): its resident memory grows while its
     * guest first touches its RAM, which is not aging, so the trigger skips the process's first days.
     */
    startedAt: TimestampSchema.optional(),
    /** The floor (falling resources) or ceiling (rising ones) at which the resource is exhausted. */
    limit: z.number(),
    points: z.array(PointSchema).max(MAX_POINTS_PER_SERIES),
  })
  .superRefine((series, ctx) => {
    const traits = RESOURCE_TRAITS[series.resource];
    const inRange = (x: number) => Number.isFinite(x) && x >= traits.min && x <= traits.max;
    if (!inRange(series.limit))
      ctx.addIssue({
        code: 'custom',
        path: ['limit'],
        message: `limit ${series.limit} outside [${traits.min}, ${traits.max}] for ${series.resource}`,
      });
    // The first bad point is enough to refuse the series; naming every one would flood the reason.
    const bad = series.points.findIndex((p) => !inRange(p.v));
    if (bad >= 0)
      ctx.addIssue({
        code: 'custom',
        path: ['points', bad, 'v'],
        message: `${series.points[bad]?.v} is not a possible ${traits.describe}`,
      });
  });

export type AgingSeries = z.output<typeof AgingSeriesSchema>;

/** Sorted by time, one value per timestamp. */
export interface CleanSeries {
  readonly resource: AgingResource;
  readonly name: string | undefined;
  readonly startedAt?: number | undefined;
  readonly limit: number;
  /** For MemAvailable adjusted for its guests: their resident memory at each time (guest-adjustment.ts). */
  readonly guestRss?: readonly number[] | undefined;
  readonly times: number[];
  readonly values: number[];
  /** How many points were merged away as duplicates of a timestamp. */
  readonly duplicatesMerged: number;
}

export type SeriesParse = { ok: true; series: AgingSeries } | { ok: false; label: string; reason: string };

/** Never throws: a refused series comes back with its reason. */
export function parseAgingSeries(input: unknown): SeriesParse {
  const parsed = AgingSeriesSchema.safeParse(input);
  if (parsed.success) return { ok: true, series: parsed.data };
  return { ok: false, label: labelOfUnknown(input), reason: describeIssues(parsed.error).join('; ') };
}

export function seriesLabel(series: { resource: string; name?: string | undefined }): string {
  return series.name === undefined ? series.resource : `${series.resource}:${series.name}`;
}

/**
 * Sorts and merges duplicate timestamps into their mean. Duplicates come from a collector's retry or two
 * writers of one period; neither copy is more right than the other, and the mean of two readings of one
 * quantity is the better estimate of it.
 */
export function cleanSeries(series: AgingSeries): CleanSeries {
  const { times, values, duplicatesMerged } = cleanPoints(series.points);
  return {
    resource: series.resource,
    name: series.name,
    startedAt: series.startedAt,
    limit: series.limit,
    times,
    values,
    duplicatesMerged,
  };
}

/** Sorted, one value per timestamp (the mean of its duplicates). */
export function cleanPoints(points: readonly { t: number; v: number }[]): {
  times: number[];
  values: number[];
  duplicatesMerged: number;
} {
  const sorted = [...points].sort((a, b) => a.t - b.t);
  const times: number[] = [];
  const values: number[] = [];
  let duplicatesMerged = 0;
  for (let i = 0; i < sorted.length;) {
    const t = (sorted[i] as { t: number }).t;
    // The mean taken around the first value: duplicates of one value (a datapoint published twice) give
    // back that value exactly, where sum / count does not (0.1 three times averages 0.10000000000000002),
    // so the verdict does not depend on how many copies arrived.
    const first = (sorted[i] as { v: number }).v;
    let deviations = 0;
    let count = 0;
    for (; i < sorted.length && (sorted[i] as { t: number }).t === t; i++, count++)
      deviations += (sorted[i] as { v: number }).v - first;
    times.push(t);
    values.push(first + deviations / count);
    duplicatesMerged += count - 1;
  }
  return { times, values, duplicatesMerged };
}

function labelOfUnknown(input: unknown): string {
  if (typeof input !== 'object' || input === null) return '(not an object)';
  const { resource, name } = input as { resource?: unknown; name?: unknown };
  const r = typeof resource === 'string' ? resource.slice(0, 40) : '(no resource)';
  return typeof name === 'string' ? `${r}:${name.slice(0, 63)}` : r;
}
