/**
 * A lower bound on the campaign's makespan that any schedule obeying the limits and the policy meets,
 * given the hosts' actual durations. Relaxations (each can only lower the bound): work may be split
 * across slots at will, and a pool's slots may be busy anywhere in its "usable time": from each window's
 * opening until its closing minus the start margin plus the pool's longest host (a host started at the
 * last moment runs that long), less blackouts, less each blocker alarm after its first longest-host
 * stretch (hosts in flight may still finish), and nothing before the pool's approval or the start.
 *
 * Bound = the largest of: per pool, when its slots could have absorbed its work; per zone, its work over
 * its limit; per host, its earliest usable instant after its cooldown plus its duration.
 */
import { windowIntervals, type Interval } from '../shared/policy/maintenance-window.js';
import { parsePolicyConfig } from '../shared/policy/policy-config.js';
import { alarmMatches } from '../shared/policy/decide.js';
import type { Scenario, ScenarioHost } from './fleet-scenario.js';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

function subtract(intervals: Interval[], cut: Interval): Interval[] {
  return intervals.flatMap((i) => {
    if (cut.endMs <= i.startMs || cut.startMs >= i.endMs) return [i];
    const parts: Interval[] = [];
    if (cut.startMs > i.startMs) parts.push({ startMs: i.startMs, endMs: cut.startMs });
    if (cut.endMs < i.endMs) parts.push({ startMs: cut.endMs, endMs: i.endMs });
    return parts;
  });
}

function merge(intervals: Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.startMs - b.startMs);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && i.startMs <= last.endMs)
      out[out.length - 1] = { ...last, endMs: Math.max(last.endMs, i.endMs) };
    else out.push(i);
  }
  return out;
}

export interface LowerBound {
  readonly lowerBoundMs: number;
  /** Which constraint set it: `pool web`, `zone eu-west-1a`, `host db-00001`. */
  readonly boundBy: string;
  /** Per pool, the bound on when its last host can end (its work and its hosts' own bounds). */
  readonly byPoolMs: Readonly<Record<string, number>>;
}

export function makespanLowerBound(
  scenario: Scenario,
  ranHosts: readonly ScenarioHost[],
  horizonDays = 30,
): LowerBound {
  const config = parsePolicyConfig(scenario.policy);
  const t0 = scenario.startMs;
  const end = t0 + horizonDays * DAY_MS;
  let best = { lowerBoundMs: 0, boundBy: 'nothing' };
  const byPoolMs: Record<string, number> = {};
  const consider = (lowerBoundMs: number, boundBy: string, pool?: string) => {
    if (lowerBoundMs > best.lowerBoundMs) best = { lowerBoundMs, boundBy };
    if (pool !== undefined) byPoolMs[pool] = Math.max(byPoolMs[pool] ?? 0, lowerBoundMs);
  };

  const byPool = new Map<string, ScenarioHost[]>();
  for (const h of ranHosts) byPool.set(h.pool, [...(byPool.get(h.pool) ?? []), h]);
  for (const [pool, own] of byPool) {
    const policy = config.pools[pool];
    if (policy === undefined) continue;
    const longest = Math.max(...own.map((h) => h.durationMs));
    const marginMs = policy.startMarginMinutes * MINUTE_MS;
    let usable: Interval[] =
      policy.windows === undefined
        ? [{ startMs: t0, endMs: end }]
        : merge(
            // windowIntervals looks 8 days ahead: step a week at a time.
            Array.from({ length: Math.ceil(horizonDays / 7) }, (_, w) =>
              windowIntervals(policy.windows ?? [], t0 + w * 7 * DAY_MS, 8),
            )
              .flat()
              .map((i) => ({ startMs: i.startMs, endMs: i.endMs - marginMs + longest })),
          );
    usable = subtract(usable, { startMs: -Infinity, endMs: t0 });
    for (const b of policy.blackouts) usable = subtract(usable, { startMs: b.startMs, endMs: b.endMs });
    for (const alarm of scenario.blockerAlarms) {
      if (policy.blockerAlarmPatterns.some((p) => alarmMatches(p, alarm.alarmName)))
        usable = subtract(usable, { startMs: alarm.startMs + longest, endMs: alarm.endMs });
    }
    if (policy.requiresApproval) {
      const approval = scenario.approvals.find((a) => a.pool === pool)?.atMs ?? Infinity;
      usable = subtract(usable, { startMs: -Infinity, endMs: approval });
    }
    const slots =
      scenario.limits.maxInMaintenancePerPool[pool] ?? scenario.limits.defaultMaxInMaintenancePerPool;
    let work = own.reduce((sum, h) => sum + h.durationMs, 0) / slots;
    for (const i of usable) {
      const length = i.endMs - i.startMs;
      if (work <= length) {
        consider(i.startMs + work - t0, `pool ${pool}`, pool);
        break;
      }
      work -= length;
    }
    // Per host: not before its cooldown ends and the pool can be busy.
    const cooldownMs = policy.cooldownMinutes * MINUTE_MS;
    for (const h of own) {
      const from =
        h.lastRejuvenatedAtMs === undefined ? t0 : Math.max(t0, h.lastRejuvenatedAtMs + cooldownMs);
      const first = usable.find((i) => i.endMs > from);
      if (first !== undefined)
        consider(Math.max(from, first.startMs) + h.durationMs - t0, `host ${h.hostId}`, pool);
    }
  }
  const byAz = new Map<string, number>();
  for (const h of ranHosts) byAz.set(h.availabilityZone, (byAz.get(h.availabilityZone) ?? 0) + h.durationMs);
  for (const [az, work] of byAz) {
    const limit = scenario.limits.maxInMaintenancePerAz[az] ?? scenario.limits.defaultMaxInMaintenancePerAz;
    if (limit !== undefined) consider(work / limit, `zone ${az}`);
  }
  return { ...best, byPoolMs };
}
