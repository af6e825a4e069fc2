/**
 * The discrete-event simulation of a fleet campaign. Time jumps from event to event (a host's execution
 * ends, a timer the planner asked for, an alarm, an approval, a deregistration); after each instant's
 * events the real planner (shared/campaign) and the real policy gate (shared/policy) decide what starts,
 * exactly as the campaign controller will. Aging alarms go through the real pending-request queue: those
 * for hosts the campaign has yet to reach are put first in its order; the others run on their own, under
 * the same limits and policy.
 *
 * The simulation records what happened (runs, decisions, request outcomes, writes per DynamoDB key) and
 * judges none of it: sim/fleet-checker.ts does, independently.
 */
import type {
  Campaign,
  CampaignHost,
  CampaignHostState,
  CampaignStatus,
} from '../shared/campaign/campaign.js';
import { planCampaign, type CampaignPlan, type InMaintenance } from '../shared/campaign/plan-campaign.js';
import {
  dropQueued,
  EMPTY_PENDING_REQUESTS,
  enqueueRequest,
  markRan,
  type PendingRequests,
  type RequestOutcome,
} from '../shared/campaign/pending-requests.js';
import { decide, type PolicyDecision } from '../shared/policy/decide.js';
import { parsePolicyConfig, policyForPool, type ResolvedPoolPolicy } from '../shared/policy/policy-config.js';
import { EventQueue } from './event-queue.js';
import type { Scenario, ScenarioHost, ScenarioRequest } from './fleet-scenario.js';

export interface SimRun {
  readonly runId: string;
  readonly hostId: string;
  readonly pool: string;
  readonly availabilityZone: string;
  readonly cause: 'campaign' | 'alarm';
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  /** The pool semaphore slot it held (the DynamoDB item `pool#<pool>#slot#<n>`). */
  readonly slot: number;
}

export interface SimResult {
  readonly runs: readonly SimRun[];
  readonly outcomes: readonly RequestOutcome[];
  /** Requests still queued when nothing was left to happen: lost, unless the checker finds otherwise. */
  readonly stillQueued: readonly string[];
  readonly campaignStatus: CampaignStatus;
  readonly campaignStatusReason?: string | undefined;
  readonly campaignEndMs: number;
  readonly plannerPasses: number;
  readonly decisionsRecorded: number;
  readonly refusalsByRule: Readonly<Record<string, number>>;
  /** Instants at which the campaign item was written (one conditional update per pass that changed it). */
  readonly campaignItemWrites: readonly number[];
  readonly events: number;
}

type SimEvent =
  | { kind: 'end'; runId: string }
  | { kind: 'wake' }
  | { kind: 'request'; request: ScenarioRequest }
  | { kind: 'blocker'; alarmName: string; raised: boolean }
  | { kind: 'approve'; pool: string }
  | { kind: 'deregister'; hostId: string };

interface MutableHost {
  hostId: string;
  pool: string;
  availabilityZone: string;
  state: CampaignHostState;
  lastRejuvenatedAtMs?: number | undefined;
}

export function simulateFleet(scenario: Scenario): SimResult {
  const config = parsePolicyConfig(scenario.policy);
  const pools = new Map<string, ResolvedPoolPolicy>();
  const poolPolicy = (pool: string): ResolvedPoolPolicy => {
    let resolved = pools.get(pool);
    if (resolved === undefined) pools.set(pool, (resolved = policyForPool(config, pool)));
    return resolved;
  };
  const scenarioHosts = new Map<string, ScenarioHost>(scenario.hosts.map((h) => [h.hostId, h]));
  const hosts: MutableHost[] = scenario.hosts.map((h) => ({
    hostId: h.hostId,
    pool: h.pool,
    availabilityZone: h.availabilityZone,
    state: 'pending',
    lastRejuvenatedAtMs: h.lastRejuvenatedAtMs,
  }));
  const hostById = new Map(hosts.map((h) => [h.hostId, h]));

  const events = new EventQueue<SimEvent>();
  for (const r of scenario.requests) events.push(r.receivedAtMs, { kind: 'request', request: r });
  for (const b of scenario.blockerAlarms) {
    events.push(b.startMs, { kind: 'blocker', alarmName: b.alarmName, raised: true });
    events.push(b.endMs, { kind: 'blocker', alarmName: b.alarmName, raised: false });
  }
  for (const a of scenario.approvals) events.push(a.atMs, { kind: 'approve', pool: a.pool });
  for (const d of scenario.deregistrations) events.push(d.atMs, { kind: 'deregister', hostId: d.hostId });
  events.push(scenario.startMs, { kind: 'wake' });

  let status: CampaignStatus = 'running';
  let statusReason: string | undefined;
  let queue: PendingRequests = EMPTY_PENDING_REQUESTS;
  const alarms = new Set<string>();
  const approved = new Set<string>();
  const deregistered = new Map<string, number>();
  const deregisterAfterRun = new Set<string>();
  const running = new Map<string, SimRun>();
  const runs: SimRun[] = [];
  const slots = new Map<string, boolean[]>();
  const wakes = new Set<number>();
  const campaignItemWrites: number[] = [];
  const refusalsByRule: Record<string, number> = {};
  let decisionsRecorded = 0;
  let plannerPasses = 0;
  let eventCount = 0;
  let runSeq = 0;

  const takeSlot = (pool: string): number => {
    let used = slots.get(pool);
    if (used === undefined) slots.set(pool, (used = []));
    let slot = used.indexOf(false);
    if (slot < 0) slot = used.length;
    used[slot] = true;
    return slot;
  };

  const startRun = (host: MutableHost, cause: SimRun['cause'], nowMs: number): void => {
    const spec = scenarioHosts.get(host.hostId);
    if (spec === undefined) throw new Error(`no host ${host.hostId}`);
    const run: SimRun = {
      runId: `run-${++runSeq}`,
      hostId: host.hostId,
      pool: host.pool,
      availabilityZone: host.availabilityZone,
      cause,
      startMs: nowMs,
      endMs: nowMs + spec.durationMs,
      // A host's second run (an alarm after the campaign) is taken to succeed.
      ok: cause === 'alarm' || !spec.fails,
      slot: takeSlot(host.pool),
    };
    runs.push(run);
    running.set(run.runId, run);
    if (cause === 'campaign') host.state = 'running';
    queue = markRan(queue, host.hostId, run.runId, nowMs);
    events.push(run.endMs, { kind: 'end', runId: run.runId });
  };

  const deregister = (hostId: string, nowMs: number): void => {
    const host = hostById.get(hostId);
    if (host === undefined) return;
    if ([...running.values()].some((r) => r.hostId === hostId)) {
      // Deregistration refuses a host an execution owns: it is done once the run ends.
      deregisterAfterRun.add(hostId);
      return;
    }
    deregistered.set(hostId, nowMs);
    if (host.state === 'pending') host.state = 'skipped';
  };

  const record = (plan: CampaignPlan): void => {
    decisionsRecorded += plan.start.length + plan.refusals.length;
    for (const refusal of plan.refusals) {
      const rule = refusal.verdict === 'allow' ? 'allow' : refusal.rule;
      refusalsByRule[rule] = (refusalsByRule[rule] ?? 0) + 1;
    }
  };

  const pass = (nowMs: number, somethingEnded: boolean): void => {
    plannerPasses++;
    const gate = (host: CampaignHost): PolicyDecision =>
      decide(host, poolPolicy(host.pool), nowMs, {
        alarmsInAlarm: [...alarms],
        approved: approved.has(host.pool),
      });
    // Requests for deregistered hosts are dropped, saying so.
    for (const hostId of [...queue.queued.keys()]) {
      const at = deregistered.get(hostId);
      if (at !== undefined)
        queue = dropQueued(
          queue,
          hostId,
          `host ${hostId} was deregistered at ${new Date(at).toISOString()}`,
          nowMs,
        );
    }
    const runningHosts = new Set([...running.values()].map((r) => r.hostId));
    const campaignTakes = (h: MutableHost) => status === 'running' && h.state === 'pending';
    // Queued hosts the campaign will not reach: planned on their own, under the same limits.
    const onTheirOwn = [...queue.queued.keys()]
      .map((id) => hostById.get(id))
      .filter((h): h is MutableHost => h !== undefined && !campaignTakes(h) && !runningHosts.has(h.hostId));
    let wakeAtMs: number | undefined;
    const inMaintenance = (cause: SimRun['cause']): InMaintenance[] =>
      [...running.values()].filter((r) => r.cause === cause);
    if (onTheirOwn.length > 0) {
      const alarmCampaign: Campaign = {
        campaignId: 'alarms',
        status: 'running',
        limits: scenario.limits,
        failureTolerance: { kind: 'percent', max: 100 },
        hosts: onTheirOwn.map((h) => ({ ...h, state: 'pending' })),
      };
      const plan = planCampaign({
        campaign: alarmCampaign,
        decide: gate,
        alsoInMaintenance: [...running.values()],
      });
      record(plan);
      for (const { host } of plan.start) {
        const mutable = hostById.get(host.hostId);
        if (mutable !== undefined) startRun(mutable, 'alarm', nowMs);
      }
      wakeAtMs = plan.wakeAtMs;
    }
    const before = status;
    const plan = planCampaign({
      campaign: {
        campaignId: 'fleet',
        status,
        statusReason,
        limits: scenario.limits,
        failureTolerance: scenario.failureTolerance,
        hosts,
      },
      decide: gate,
      alsoInMaintenance: inMaintenance('alarm'),
      priorityHostIds: new Set(queue.queued.keys()),
    });
    record(plan);
    status = plan.status;
    statusReason = plan.statusReason;
    for (const { host } of plan.start) {
      const mutable = hostById.get(host.hostId);
      if (mutable !== undefined) startRun(mutable, 'campaign', nowMs);
    }
    if (plan.start.length > 0 || somethingEnded || status !== before) campaignItemWrites.push(nowMs);
    for (const at of [wakeAtMs, plan.wakeAtMs]) {
      if (at !== undefined && at > nowMs && !wakes.has(at)) {
        wakes.add(at);
        events.push(at, { kind: 'wake' });
      }
    }
  };

  for (let nowMs = events.peekTime(); nowMs !== undefined; nowMs = events.peekTime()) {
    let somethingEnded = false;
    while (events.peekTime() === nowMs) {
      const next = events.pop();
      if (next === undefined) break;
      eventCount++;
      const event = next.event;
      switch (event.kind) {
        case 'end': {
          const run = running.get(event.runId);
          if (run === undefined) break;
          running.delete(event.runId);
          somethingEnded = true;
          const used = slots.get(run.pool);
          if (used !== undefined) used[run.slot] = false;
          const host = hostById.get(run.hostId);
          if (host !== undefined) {
            if (run.ok) host.lastRejuvenatedAtMs = nowMs;
            if (run.cause === 'campaign') host.state = run.ok ? 'done' : 'failed';
          }
          if (deregisterAfterRun.delete(run.hostId)) deregister(run.hostId, nowMs);
          break;
        }
        case 'request':
          queue = enqueueRequest(
            queue,
            { ...event.request, source: 'alarm' },
            'waiting for the next slot the policy and limits allow',
          );
          break;
        case 'blocker':
          if (event.raised) alarms.add(event.alarmName);
          else alarms.delete(event.alarmName);
          break;
        case 'approve':
          approved.add(event.pool);
          break;
        case 'deregister':
          deregister(event.hostId, nowMs);
          break;
        case 'wake':
          wakes.delete(nowMs);
          break;
      }
    }
    pass(nowMs, somethingEnded);
  }

  const campaignRuns = runs.filter((r) => r.cause === 'campaign');
  return {
    runs,
    outcomes: queue.outcomes,
    stillQueued: [...queue.queued.values()].flatMap((q) => q.requests.map((r) => r.requestId)),
    campaignStatus: status,
    campaignStatusReason: statusReason,
    campaignEndMs: Math.max(scenario.startMs, ...campaignRuns.map((r) => r.endMs)),
    plannerPasses,
    decisionsRecorded,
    refusalsByRule,
    campaignItemWrites,
    events: eventCount,
  };
}
