/**
 * The scheduled predictive trigger over the whole registry: reads every in-service host's recent series in
 * as few GetMetricData calls as the service's limits allow, judges each host (predictive-decision.ts), and
 * starts a rejuvenation with trigger `predictive` for each host whose conservative projection reaches a
 * limit within the horizon, once per host per dedupe window. One host's bad data, failed call or refused
 * start is reported with its reason and never stops the others.
 */
import type { Clock } from '../domain/clock.js';
import type { AgingMetrics, QueryAnswer } from '../ports/aging-metrics.js';
import type { HostRepository } from '../ports/host-repository.js';
import type { ReloadLevel } from '../workflow/rejuvenation-request.js';
import { AGING_RESOURCES, type AgingResource } from './aging-resources.js';
import { startFromPrediction, type TriggerDeps, type TriggerResult } from '../workflow/start-rejuvenation.js';
import { hostQueries, type PlannedQuery } from './fleet-queries.js';
import { predictHost, type PredictionConfig, type PredictionEvidence } from './predictive-decision.js';

/**
 * Where each resource runs out, per host. The collector publishes MemTotal but not a QEMU process's
 * cgroup limit, so a process's ceiling is a share of its host's memory.
 */
export interface ExhaustionLimits {
  /** MemAvailable's floor as a share of MemTotal. */
  readonly memAvailableFloorOfTotal: number;
  /** SUnreclaim's ceiling as a share of MemTotal. */
  readonly sUnreclaimCeilingOfTotal: number;
  /** The order-9 unusable free space index at which huge pages can no longer be had. */
  readonly fragmentationCeiling: number;
  /** A QEMU process's RSS ceiling as a share of MemTotal. */
  readonly qemuRssCeilingOfTotal: number;
}

/** As the bench's host model (bench/aging-traces.ts); QEMU: the host's memory, lacking the cgroup's. */
export const DEFAULT_EXHAUSTION_LIMITS: ExhaustionLimits = {
  memAvailableFloorOfTotal: 0.02,
  sUnreclaimCeilingOfTotal: 0.08,
  fragmentationCeiling: 0.95,
  qemuRssCeilingOfTotal: 1,
};

export interface FleetPredictionSettings {
  readonly config: PredictionConfig;
  /** The period of the points read (GetMetricData's Period, statistic Average). */
  readonly periodSeconds: number;
  readonly limits: ExhaustionLimits;
  readonly level: ReloadLevel;
  /** The resources judged: a resource left out never fires (e.g. lab hosts sharing one kernel). Default: all. */
  readonly resources?: readonly AgingResource[] | undefined;
}

export interface FleetPredictionDeps {
  readonly hosts: Pick<HostRepository, 'list'>;
  readonly metrics: Pick<AgingMetrics, 'readQueries' | 'listQemuProcesses'>;
  readonly trigger: TriggerDeps;
  readonly clock: Clock;
}

export interface FleetPredictionResult {
  readonly evaluated: number;
  /** Hosts not in service (in maintenance, quarantined, unavailable): not judged this round. */
  readonly skipped: string[];
  readonly started: { hostId: string; executionName: string; reason: string }[];
  /** Fired, but this window's execution was already claimed. */
  readonly duplicates: { hostId: string; executionName: string }[];
  /** Hosts that could not be judged or started, each with why. */
  readonly failed: { hostId: string; reason: string }[];
  readonly getMetricDataCalls: number;
}

export async function predictFleet(
  deps: FleetPredictionDeps,
  settings: FleetPredictionSettings,
): Promise<FleetPredictionResult> {
  const now = deps.clock.nowMs();
  const registry = await deps.hosts.list();
  const hosts = registry.filter((h) => h.state === 'IN_SERVICE' && h.unavailable === undefined);
  const result: FleetPredictionResult = {
    evaluated: hosts.length,
    skipped: registry.filter((h) => !hosts.includes(h)).map((h) => h.hostId),
    started: [],
    duplicates: [],
    failed: [],
    getMetricDataCalls: 0,
  };
  if (hosts.length === 0) return result;
  // Without the list of processes every host is still judged on its own series.
  const processes = await deps.metrics.listQemuProcesses().catch((error: unknown) => {
    for (const host of hosts)
      result.failed.push({ hostId: host.hostId, reason: `QEMU processes not listed: ${message(error)}` });
    return new Map<string, string[]>();
  });
  const window = { windowMs: settings.config.windowMs, periodSeconds: settings.periodSeconds };
  const planned = hosts.map((host) => hostQueries(host, processes.get(host.hostId) ?? [], window));
  const { answers, calls } = await deps.metrics.readQueries(planned.flat(), {
    start: new Date(now - settings.config.windowMs),
    end: new Date(now),
  });
  (result as { getMetricDataCalls: number }).getMetricDataCalls = calls;

  let offset = 0;
  for (const [i, host] of hosts.entries()) {
    const queries = planned[i] as PlannedQuery[];
    const hostAnswers = answers.slice(offset, offset + queries.length);
    offset += queries.length;
    try {
      const input = seriesOf(queries, hostAnswers, settings.limits, now);
      if (typeof input === 'string') {
        result.failed.push({ hostId: host.hostId, reason: input });
        continue;
      }
      // Every series built here has its resource: seriesOf writes them.
      const series = input.series.filter((s) =>
        (settings.resources ?? AGING_RESOURCES).includes((s as { resource: AgingResource }).resource),
      );
      const prediction = predictHost({ hostId: host.hostId, now, ...input, series }, settings.config);
      if (!prediction.fire) continue;
      const reason = evidenceReason(prediction.series, prediction.evidence, settings.config);
      const started: TriggerResult = await startFromPrediction(
        deps.trigger,
        { hostId: host.hostId, dedupeKey: prediction.dedupeKey, reason },
        settings.level,
      );
      if (started.status === 'started')
        result.started.push({ hostId: host.hostId, executionName: started.executionName, reason });
      else result.duplicates.push({ hostId: host.hostId, executionName: started.executionName });
    } catch (error) {
      result.failed.push({ hostId: host.hostId, reason: message(error) });
    }
  }
  return result;
}

/** The host's series as predictHost takes them, or why there are none to judge. */
function seriesOf(
  queries: readonly PlannedQuery[],
  answers: readonly (QueryAnswer | undefined)[],
  limits: ExhaustionLimits,
  now: number,
): { series: unknown[]; guestRss: unknown } | string {
  const failedCall = answers.find((a): a is Error => a instanceof Error);
  if (failedCall !== undefined) return `series not read: ${failedCall.message}`;
  const pointsOf = (j: number) => (answers[j] ?? []) as readonly { t: number; v: number }[];
  const memTotalAt = queries.findIndex((q) => q.role.kind === 'memTotal');
  const memTotal = pointsOf(memTotalAt).at(-1)?.v;
  if (memTotal === undefined || !(memTotal > 0))
    return 'no MemTotal in the window: the limits are shares of it';
  const series: unknown[] = [];
  let guestRss: unknown;
  queries.forEach((q, j) => {
    const points = pointsOf(j);
    switch (q.role.kind) {
      case 'memAvailable':
        series.push({ resource: 'memAvailable', limit: limits.memAvailableFloorOfTotal * memTotal, points });
        return;
      case 'sUnreclaim':
        series.push({ resource: 'sUnreclaim', limit: limits.sUnreclaimCeilingOfTotal * memTotal, points });
        return;
      case 'fragmentation':
        series.push({ resource: 'fragmentation', limit: limits.fragmentationCeiling, points });
        return;
      case 'guestRss':
        // No guest RSS at all (no VMs reported): MemAvailable is judged as it is.
        guestRss = points.length === 0 ? undefined : points;
        return;
      case 'qemuRss': {
        const vm = q.role.vm;
        const uptimeAt = queries.findIndex((u) => u.role.kind === 'qemuUptime' && u.role.vm === vm);
        const uptime = pointsOf(uptimeAt).at(-1)?.v;
        // The latest uptime was measured at the latest before now: the start it implies is never earlier
        // than the real one, so the warm-up is, if anything, skipped for longer.
        const startedAt =
          uptime === undefined || !Number.isFinite(uptime) ? undefined : Math.round(now - uptime * 1000);
        series.push({
          resource: 'qemuRss',
          name: vm,
          limit: limits.qemuRssCeilingOfTotal * memTotal,
          ...(startedAt === undefined ? {} : { startedAt }),
          points,
        });
        return;
      }
      case 'memTotal':
      case 'qemuUptime':
        return;
    }
  });
  return { series, guestRss };
}

/** The evidence as a request's reason: what fired, how sure, how fast, and when it runs out. */
export function evidenceReason(series: string, e: PredictionEvidence, config: PredictionConfig): string {
  const n = (x: number) => Number(x.toPrecision(4));
  const bound = 100 * (1 - config.boundAlpha);
  return (
    `predicted exhaustion of ${series} at ${e.projectedExhaustionAt} (horizon ${n(config.horizonMs / 86_400_000)} d): ` +
    `Mann-Kendall S ${e.s}, Z ${n(e.z)}, p ${e.p.toExponential(2)} (Hamed-Rao n/n* ${n(e.varianceInflation)}); ` +
    `Sen's slope ${n(e.slopePerDay)}/day, ${bound}% bound ${n(e.slopeBoundPerDay)}/day; ` +
    `level ${n(e.level)}, limit ${n(e.limit)}; ${e.points} points ` +
    (e.judged === 'regime' ? `since the series changed behaviour at ${e.since}` : `over the window`)
  ).slice(0, 1024);
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
