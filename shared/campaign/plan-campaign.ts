/**
 * The campaign planner: given where every host stands, which hosts start now. Pure; the caller runs it
 * whenever something changes (an execution ended, a window opened, an operator acted, a timer it was
 * asked for fired) and carries out the plan: starts the hosts, records every decision, stores the status.
 *
 * Order of concerns: the status (only a running campaign starts hosts) → the failure tolerance (halts,
 * naming the failed hosts) → per host in campaign order: the pool's limit, the zone's limit, then the
 * policy gate. Limits count every host in maintenance, this campaign's and anyone else's
 * (`alsoInMaintenance`: alarm-triggered runs, another campaign), as the pool semaphore does.
 */
import type { PolicyDecision } from '../policy/decide.js';
import { POOL_WIDE_RULES } from '../policy/decide.js';
import {
  azLimit,
  poolLimit,
  type Campaign,
  type CampaignHost,
  type CampaignStatus,
  type FailureTolerance,
} from './campaign.js';

export interface InMaintenance {
  readonly pool: string;
  readonly availabilityZone: string;
}

export interface PlanInput {
  readonly campaign: Campaign;
  /** The policy gate for one host now (the caller closes over the pool's policy, the facts, the clock). */
  readonly decide: (host: CampaignHost) => PolicyDecision;
  readonly alsoInMaintenance?: readonly InMaintenance[];
  /** Hosts to consider before the others, e.g. those a queued alarm asks for. */
  readonly priorityHostIds?: ReadonlySet<string>;
}

export interface CampaignPlan {
  readonly status: CampaignStatus;
  readonly statusReason?: string | undefined;
  /** Hosts to start now, each with the `allow` decision to record with it. */
  readonly start: readonly { readonly host: CampaignHost; readonly decision: PolicyDecision }[];
  /** Every refusal taken in this pass; a pool-wide refusal is taken once for its pool. */
  readonly refusals: readonly PolicyDecision[];
  /** When to plan again at the latest: the earliest `wait-until` among the refusals. */
  readonly wakeAtMs?: number | undefined;
}

function toleranceExceeded(tolerance: FailureTolerance, failed: number, total: number): boolean {
  return tolerance.kind === 'count'
    ? failed > tolerance.max
    : total > 0 && (failed * 100) / total > tolerance.max;
}

function describeTolerance(tolerance: FailureTolerance): string {
  return tolerance.kind === 'count' ? `${tolerance.max} failed host(s)` : `${tolerance.max}% of hosts failed`;
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function planCampaign(input: PlanInput): CampaignPlan {
  const { campaign } = input;
  const byPool = new Map<string, number>();
  const byAz = new Map<string, number>();
  for (const other of input.alsoInMaintenance ?? []) {
    increment(byPool, other.pool);
    increment(byAz, other.availabilityZone);
  }
  const failed: string[] = [];
  let running = 0;
  let pending = 0;
  for (const host of campaign.hosts) {
    if (host.state === 'running') {
      running++;
      increment(byPool, host.pool);
      increment(byAz, host.availabilityZone);
    } else if (host.state === 'failed') failed.push(host.hostId);
    else if (host.state === 'pending') pending++;
  }
  const idle = (status: CampaignStatus, statusReason = campaign.statusReason): CampaignPlan => ({
    status,
    statusReason,
    start: [],
    refusals: [],
  });

  switch (campaign.status) {
    case 'cancelled':
    case 'halted':
    case 'completed':
    case 'rejected':
      return idle(campaign.status);
    case 'cancelling':
      return running === 0 ? idle('cancelled') : idle('cancelling');
    case 'running':
    case 'paused':
      break;
  }
  if (toleranceExceeded(campaign.failureTolerance, failed.length, campaign.hosts.length)) {
    const named =
      failed.slice(0, 10).join(', ') + (failed.length > 10 ? `, and ${failed.length - 10} more` : '');
    return idle(
      'halted',
      `halted: ${failed.length} of ${campaign.hosts.length} hosts failed (${named}), more than the ${describeTolerance(campaign.failureTolerance)} tolerated` +
        (running > 0 ? `; ${running} host(s) in flight finish` : ''),
    );
  }
  if (campaign.status === 'paused') return idle('paused');
  if (pending === 0 && running === 0) return idle('completed', undefined);

  const start: { host: CampaignHost; decision: PolicyDecision }[] = [];
  const refusals: PolicyDecision[] = [];
  const blockedPools = new Set<string>();
  // A priority host is met twice (first among the priority ones, then in campaign order): once is enough.
  const considered = new Set<string>();
  let wakeAtMs: number | undefined;
  const consider = (host: CampaignHost): void => {
    if (host.state !== 'pending' || blockedPools.has(host.pool) || considered.has(host.hostId)) return;
    if ((byPool.get(host.pool) ?? 0) >= poolLimit(campaign.limits, host.pool)) return;
    if ((byAz.get(host.availabilityZone) ?? 0) >= azLimit(campaign.limits, host.availabilityZone)) return;
    considered.add(host.hostId);
    const decision = input.decide(host);
    if (decision.verdict === 'allow') {
      start.push({ host, decision });
      increment(byPool, host.pool);
      increment(byAz, host.availabilityZone);
      return;
    }
    refusals.push(decision);
    if (decision.verdict === 'wait-until') wakeAtMs = Math.min(wakeAtMs ?? Infinity, decision.untilMs);
    // The other hosts of the pool would hear the same: no need to ask for each.
    if (POOL_WIDE_RULES.has(decision.rule)) blockedPools.add(host.pool);
  };
  const priority = input.priorityHostIds;
  if (priority !== undefined && priority.size > 0) {
    for (const host of campaign.hosts) if (priority.has(host.hostId)) consider(host);
  }
  for (const host of campaign.hosts) consider(host);
  return { status: 'running', statusReason: undefined, start, refusals, wakeAtMs };
}
