/**
 * What the predictive trigger asks CloudWatch for, per host, and how those queries are packed into
 * GetMetricData calls. Shared by the trigger and `npm run bench:aging`, so that the bench's count of calls
 * per 10,000 hosts is the count the trigger really makes.
 *
 * Per host: the three host series the decision judges (MemAvailable, SUnreclaim, the order-9 unusable
 * free space index), the guests' RSS summed (what MemAvailable is adjusted by), one RSS series per QEMU
 * process; and two kinds of one-value queries: MemTotal (the limits are fractions of it) and each
 * process's uptime (when it started, for the warm-up). A one-value query costs a query, not datapoints.
 */
import { HOST_METRICS, QEMU_METRICS, QEMU_RSS_TOTAL_METRIC, unusableFreeIndexMetric } from './metric-data.js';

/** GetMetricData's limits per call (API reference): 500 queries, 100,800 datapoints returned. */
export const GMD_MAX_QUERIES = 500;
export const GMD_MAX_DATAPOINTS = 100_800;

export type SeriesRole =
  | { readonly kind: 'memAvailable' }
  | { readonly kind: 'sUnreclaim' }
  | { readonly kind: 'fragmentation' }
  | { readonly kind: 'guestRss' }
  | { readonly kind: 'memTotal' }
  | { readonly kind: 'qemuRss'; readonly vm: string }
  | { readonly kind: 'qemuUptime'; readonly vm: string };

export interface PlannedQuery {
  readonly hostId: string;
  readonly pool: string;
  readonly role: SeriesRole;
  readonly metricName: string;
  readonly vm: string | undefined;
  readonly periodSeconds: number;
  readonly stat: 'Average' | 'Maximum';
  /** The most datapoints it can return in the window: what a call's datapoint limit is counted in. */
  readonly maxPoints: number;
}

export interface QueryWindow {
  readonly windowMs: number;
  readonly periodSeconds: number;
}

/** One host's queries, in a fixed order. */
export function hostQueries(
  host: { readonly hostId: string; readonly pool: string },
  vms: readonly string[],
  window: QueryWindow,
): PlannedQuery[] {
  const seriesPoints = Math.ceil(window.windowMs / (window.periodSeconds * 1000)) + 1;
  // A one-value query: one period spanning the window (a multiple of 60 s, as CloudWatch requires); the
  // window may straddle two such periods, so up to two values come back and the last is taken.
  const wholeWindow = Math.ceil(window.windowMs / 60_000) * 60;
  const series = (role: SeriesRole, metricName: string, vm?: string): PlannedQuery => ({
    ...host,
    role,
    metricName,
    vm,
    periodSeconds: window.periodSeconds,
    stat: 'Average',
    maxPoints: seriesPoints,
  });
  const single = (role: SeriesRole, metricName: string, vm?: string): PlannedQuery => ({
    ...host,
    role,
    metricName,
    vm,
    periodSeconds: wholeWindow,
    stat: 'Maximum',
    maxPoints: 2,
  });
  return [
    series({ kind: 'memAvailable' }, HOST_METRICS.memAvailableBytes.name),
    series({ kind: 'sUnreclaim' }, HOST_METRICS.sUnreclaimBytes.name),
    series({ kind: 'fragmentation' }, unusableFreeIndexMetric(9)),
    series({ kind: 'guestRss' }, QEMU_RSS_TOTAL_METRIC),
    single({ kind: 'memTotal' }, HOST_METRICS.memTotalBytes.name),
    ...vms.flatMap((vm) => [
      series({ kind: 'qemuRss', vm }, QEMU_METRICS.rssBytes.name, vm),
      single({ kind: 'qemuUptime', vm }, QEMU_METRICS.uptimeSeconds.name, vm),
    ]),
  ];
}

/**
 * Packs queries into calls within both limits, in order, keeping a host's queries in one call when they
 * fit: a failed call then fails whole hosts, never half of one (whose MemAvailable would be judged without
 * its guests' RSS).
 */
export function packQueries<Q extends { readonly hostId: string; readonly maxPoints: number }>(
  queries: readonly Q[],
  limits: { readonly maxQueries?: number; readonly maxPoints?: number } = {},
): Q[][] {
  const maxQueries = limits.maxQueries ?? GMD_MAX_QUERIES;
  const maxPoints = limits.maxPoints ?? GMD_MAX_DATAPOINTS;
  const calls: Q[][] = [];
  let current: Q[] = [];
  let points = 0;
  const flush = () => {
    if (current.length > 0) calls.push(current);
    current = [];
    points = 0;
  };
  const groups: Q[][] = [];
  for (const query of queries) {
    const last = groups[groups.length - 1];
    if (last !== undefined && last[0]?.hostId === query.hostId) last.push(query);
    else groups.push([query]);
  }
  for (const group of groups) {
    const groupPoints = group.reduce((sum, q) => sum + q.maxPoints, 0);
    if (current.length + group.length > maxQueries || points + groupPoints > maxPoints) flush();
    for (const query of group) {
      if (current.length + 1 > maxQueries || points + query.maxPoints > maxPoints) flush();
      current.push(query);
      points += query.maxPoints;
    }
  }
  flush();
  return calls;
}
