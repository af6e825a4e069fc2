/** The local CloudWatch's stored datapoints and the statistics it computes over a period's points. */

export const STATS = ['Average', 'Minimum', 'Maximum', 'Sum', 'SampleCount'] as const;
export type Stat = (typeof STATS)[number];

export interface Datapoint {
  /** Epoch milliseconds. */
  readonly t: number;
  readonly v: number;
  /** How many samples the value stands for (`Counts`), 1 for a `Value`. */
  readonly n: number;
  readonly unit: string;
}

export function aggregate(stat: Stat, points: readonly Datapoint[]): number {
  const samples = points.reduce((s, p) => s + p.n, 0);
  switch (stat) {
    case 'SampleCount':
      return samples;
    case 'Sum':
      return points.reduce((s, p) => s + p.v * p.n, 0);
    case 'Average':
      return points.reduce((s, p) => s + p.v * p.n, 0) / samples;
    case 'Minimum':
      return Math.min(...points.map((p) => p.v));
    case 'Maximum':
      return Math.max(...points.map((p) => p.v));
  }
}

/** The points in [start, end), one statistic per period (aligned to the epoch), by period start. */
export function periodValues(
  points: readonly Datapoint[],
  stat: Stat,
  periodSeconds: number,
  start: number,
  end: number,
  unit?: string,
): Map<number, number> {
  const buckets = new Map<number, Datapoint[]>();
  for (const point of points) {
    if (point.t < start || point.t >= end || (unit !== undefined && point.unit !== unit)) continue;
    const bucket = Math.floor(point.t / (periodSeconds * 1000)) * periodSeconds * 1000;
    const inBucket = buckets.get(bucket);
    if (inBucket === undefined) buckets.set(bucket, [point]);
    else inBucket.push(point);
  }
  return new Map([...buckets].map(([t, ps]) => [t, aggregate(stat, ps)]));
}
