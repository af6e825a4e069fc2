/**
 * The fleet the simulation rejuvenates: pools with their policies and limits, hosts spread over three
 * availability zones, what happens around the campaign (a blocker alarm, an approval, aging alarms,
 * deregistrations), and each host's duration and outcome, all drawn from one seed.
 *
 * Durations: the lab's demo rejuvenates a host with two VMs in about 11 s end to end with the workflow's
 * waits shortened to 100 ms (docs/demo.md: the two rejuvenations take about 11 s). Deployed, each
 * of the three host commands (Preflight, WarmReboot, Verify) waits at least one `pollInterval` (10 s by
 * default, cdk/rejuvenation-coordinator.ts) before its first poll, so a host takes about 40 s: ~30 s of
 * waits and ~10 s of work. Drawn log-normal around 40 s (sigma 0.2), within 25-120 s. Guest pause is not
 * simulated: it is milliseconds (docs/benches.md: 8-11 ms per 256 MiB-2 GiB VM, 22 ms on a Linux
 * guest) and happens inside a host's duration.
 */
import { Prng } from '../bench/aging-prng.js';
import type { CampaignLimits, FailureTolerance } from '../shared/campaign/campaign.js';

export interface ScenarioHost {
  readonly hostId: string;
  readonly pool: string;
  readonly availabilityZone: string;
  readonly durationMs: number;
  readonly fails: boolean;
  readonly lastRejuvenatedAtMs?: number | undefined;
}

export interface ScenarioRequest {
  readonly requestId: string;
  readonly hostId: string;
  readonly receivedAtMs: number;
}

export interface Scenario {
  readonly startMs: number;
  /** The policy as an operator writes it (parsed by the code under test, read raw by the checker). */
  readonly policy: RawPolicy;
  readonly limits: CampaignLimits;
  readonly failureTolerance: FailureTolerance;
  readonly hosts: readonly ScenarioHost[];
  readonly blockerAlarms: readonly {
    readonly alarmName: string;
    readonly startMs: number;
    readonly endMs: number;
  }[];
  readonly approvals: readonly { readonly pool: string; readonly atMs: number }[];
  readonly deregistrations: readonly { readonly hostId: string; readonly atMs: number }[];
  /** Every delivery of an aging alarm, duplicates included (EventBridge delivers at least once). */
  readonly requests: readonly ScenarioRequest[];
}

export interface RawWindow {
  readonly days: readonly string[];
  readonly start: string;
  readonly end: string;
  readonly timeZone: string;
}

export interface RawPool {
  readonly windows?: readonly RawWindow[];
  readonly blackouts?: readonly { readonly start: string; readonly end: string; readonly reason?: string }[];
  readonly cooldownMinutes?: number;
  readonly startMarginMinutes?: number;
  readonly blockerAlarmPatterns?: readonly string[];
  readonly requiresApproval?: boolean;
}

export interface RawPolicy {
  readonly pools: Readonly<Record<string, RawPool>>;
  readonly breakGlassPrincipals: readonly string[];
}

const HOUR_MS = 3_600_000;
const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** Friday noon UTC, two days before Europe leaves summer time (25 October 2026): the campaign spans it. */
const START = Date.parse('2026-10-23T12:00:00Z');

const POOLS: readonly { id: string; share: number; limit: number; policy: RawPool }[] = [
  {
    id: 'web',
    share: 0.3,
    limit: 60,
    policy: {
      windows: [{ days: EVERY_DAY, start: '22:00', end: '06:00', timeZone: 'America/New_York' }],
      cooldownMinutes: 24 * 60,
      startMarginMinutes: 10,
      blockerAlarmPatterns: ['web-*-5xx'],
    },
  },
  {
    id: 'api',
    share: 0.3,
    limit: 40,
    policy: {
      windows: [{ days: EVERY_DAY, start: '00:00', end: '06:00', timeZone: 'Europe/Berlin' }],
      blackouts: [{ start: '2026-10-23T22:30:00Z', end: '2026-10-23T23:30:00Z', reason: 'release freeze' }],
      cooldownMinutes: 24 * 60,
      startMarginMinutes: 10,
    },
  },
  {
    id: 'batch',
    share: 0.3,
    limit: 30,
    policy: { cooldownMinutes: 12 * 60, startMarginMinutes: 10 },
  },
  {
    id: 'db',
    share: 0.1,
    limit: 2,
    policy: {
      windows: [{ days: ['sat', 'sun'], start: '01:00', end: '05:00', timeZone: 'Europe/Berlin' }],
      cooldownMinutes: 7 * 24 * 60,
      startMarginMinutes: 10,
      requiresApproval: true,
    },
  },
];

export const AVAILABILITY_ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] as const;

export interface ScenarioOptions {
  readonly hosts: number;
  readonly seed: number;
  readonly failureRate?: number;
}

export function buildScenario(options: ScenarioOptions): Scenario {
  const rng = new Prng(options.seed);
  const failureRate = options.failureRate ?? 0.01;
  const hosts: ScenarioHost[] = [];
  let index = 0;
  for (const pool of POOLS) {
    const count =
      pool === POOLS[POOLS.length - 1]
        ? options.hosts - hosts.length
        : Math.round(options.hosts * pool.share);
    for (let i = 0; i < count; i++) {
      const durationMs = Math.round(1000 * Math.min(120, Math.max(25, 40 * Math.exp(0.2 * rng.normal()))));
      // 3% of hosts were rejuvenated recently: their cooldown ends within the campaign's first 12 hours.
      const recent = rng.uniform() < 0.03;
      const cooldownMs = (pool.policy.cooldownMinutes ?? 0) * 60_000;
      hosts.push({
        hostId: `${pool.id}-${String(i + 1).padStart(5, '0')}`,
        pool: pool.id,
        availabilityZone: AVAILABILITY_ZONES[index++ % AVAILABILITY_ZONES.length] ?? 'eu-west-1a',
        durationMs,
        fails: rng.uniform() < failureRate,
        lastRejuvenatedAtMs: recent
          ? START - cooldownMs + Math.round(rng.between(0, 12) * HOUR_MS)
          : undefined,
      });
    }
  }
  const byId = new Map(hosts.map((h) => [h.hostId, h]));
  const deregistrations = Array.from({ length: Math.max(1, Math.round(options.hosts / 2000)) }, () => ({
    hostId: rng.pick(hosts).hostId,
    atMs: START + Math.round(rng.between(2, 12) * HOUR_MS),
  })).filter((d, i, all) => all.findIndex((o) => o.hostId === d.hostId) === i);
  const requests: ScenarioRequest[] = [];
  const alarmCount = Math.max(10, Math.round(options.hosts / 80));
  for (let i = 0; i < alarmCount; i++) {
    // A few aging alarms name a host that is about to be deregistered: those must be dropped, with a reason.
    const deregistered = i < deregistrations.length ? deregistrations[i] : undefined;
    const hostId = deregistered?.hostId ?? rng.pick(hosts).hostId;
    const receivedAtMs =
      deregistered !== undefined
        ? Math.max(START + 60_000, deregistered.atMs - Math.round(rng.between(0.1, 2) * HOUR_MS))
        : START + Math.round(rng.between(0, 40) * HOUR_MS);
    const request = { requestId: `alarm-${i + 1}`, hostId, receivedAtMs };
    requests.push(request);
    // One in ten is delivered twice.
    if (rng.uniform() < 0.1) requests.push({ ...request, receivedAtMs: receivedAtMs + 30_000 });
  }
  if (!requests.every((r) => byId.has(r.hostId))) throw new Error('a request names no host');

  return {
    startMs: START,
    policy: {
      pools: Object.fromEntries(POOLS.map((p) => [p.id, p.policy])),
      breakGlassPrincipals: ['arn:aws:iam::123456789012:role/FleetOnCall'],
    },
    limits: {
      maxInMaintenancePerPool: Object.fromEntries(POOLS.map((p) => [p.id, p.limit])),
      defaultMaxInMaintenancePerPool: 1,
      maxInMaintenancePerAz: {},
      defaultMaxInMaintenancePerAz: 40,
    },
    failureTolerance: { kind: 'percent', max: 2 },
    hosts,
    // Raised during web's first night, for 20 minutes: web's hosts in flight finish, no new ones start.
    blockerAlarms: [
      {
        alarmName: 'web-us-east-5xx',
        startMs: Date.parse('2026-10-24T02:20:00Z'),
        endMs: Date.parse('2026-10-24T02:40:00Z'),
      },
    ],
    approvals: [{ pool: 'db', atMs: START + 2 * HOUR_MS }],
    deregistrations,
    requests: requests.sort((a, b) => a.receivedAtMs - b.receivedAtMs),
  };
}
