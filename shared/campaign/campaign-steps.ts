/**
 * The campaign state machine's two steps. Plan: load the campaign, run the planner, store the status it
 * reaches, and for every host it starts claim the host's execution (as the triggers do: Admit admits
 * nothing unclaimed) and mark the host running, in that order, so a retried plan starts nothing twice.
 * Record: a host's execution ended; its outcome moves it to done or failed. Pure of AWS: ports only.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../domain/clock.js';
import { parseWith } from '../domain/validation.js';
import type { CampaignStore } from '../ports/campaign-store.js';
import type { IdempotencyStore } from '../ports/idempotency-store.js';
import { requestDigest, type RejuvenationRequest } from '../workflow/rejuvenation-request.js';
import { HostNotFoundError } from '../domain/errors.js';
import { decide, POOL_WIDE_RULES } from '../policy/decide.js';
import { policyForPool } from '../policy/policy-config.js';
import { alarmsForPools, type PolicyGate } from '../policy/policy-gate.js';
import type { PolicyRefusedError } from '../policy/policy-errors.js';
import type { CampaignRecord } from '../ports/campaign-store.js';
import type { HostRepository } from '../ports/host-repository.js';
import { approvalOf, withHostState, type CampaignHost, type CampaignStatus } from './campaign.js';
import { planCampaign, type CampaignPlan } from './plan-campaign.js';

export interface CampaignStepDeps {
  readonly campaigns: CampaignStore;
  readonly idempotency: Pick<IdempotencyStore, 'claim'>;
  readonly dedupeTtlSeconds: number;
  readonly clock: Clock;
  /**
   * The policy gate, and the registry it reads each host's last rejuvenation from (the cooldown counts
   * every trigger's runs, not only this campaign's). @default - no gate: the limits alone decide
   */
  readonly policy?: CampaignPolicy | undefined;
}

export interface CampaignPolicy {
  readonly gate: PolicyGate;
  readonly hosts: Pick<HostRepository, 'get'>;
}

/** The most hosts one pass starts: the inline Map that runs them stays small whatever the fleet. */
export const MAX_HOSTS_PER_PASS = 40;

export const CampaignIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/,
    'campaign id: 1-40 chars of A-Z a-z 0-9 _ -, starting alphanumeric',
  );

const PlanInputSchema = z.strictObject({
  campaignId: CampaignIdSchema,
  /** The machine's own pause between passes (its `replanInterval`): the shortest wait a plan asks for. */
  replanSeconds: z.number().int().min(1).max(3600).optional(),
});

/**
 * The longest a waiting campaign sleeps before planning again, however far its next window is: an
 * operator's pause, resume or cancel, or a blocker raised meanwhile, is seen within this long.
 */
export const MAX_IDLE_WAIT_SECONDS = 300;
const DEFAULT_REPLAN_SECONDS = 10;

export interface HostToStart {
  readonly hostId: string;
  readonly executionName: string;
  readonly request: RejuvenationRequest;
}

export interface CampaignPassPlan {
  /**
   * `start`: run `hosts` now; `wait`: nothing to start now, plan again later; `await-approval`: no host may
   * start before a person approves (the machine waits on a task token); `end`: the campaign is over.
   */
  readonly action: 'start' | 'wait' | 'await-approval' | 'end';
  readonly status: CampaignStatus;
  readonly statusReason?: string | undefined;
  readonly hosts: readonly HostToStart[];
  /**
   * How long the machine waits before the next pass when the action is `wait`: the replan interval, or
   * longer (up to MAX_IDLE_WAIT_SECONDS) when every pending host waits for a window or a blackout's end,
   * so a campaign idling for days costs a pass every few minutes rather than every few seconds.
   */
  readonly waitSeconds: number;
}

/** The execution a campaign starts for a host: the same name on every retry of the plan. */
export function campaignExecutionName(campaignId: string, hostId: string): string {
  const digest = createHash('sha256').update(`${campaignId}\n${hostId}`).digest('hex').slice(0, 16);
  return `cmp-${hostId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56)}-${digest}`;
}

export async function planCampaignPass(deps: CampaignStepDeps, input: unknown): Promise<CampaignPassPlan> {
  const { campaignId, replanSeconds = DEFAULT_REPLAN_SECONDS } = parseWith(
    PlanInputSchema,
    'campaign plan input',
    input,
  );
  const waitSeconds = replanSeconds;
  const record = await deps.campaigns.get(campaignId);
  const { campaign } = record;
  // Approval first: a pool that requires it starts no host before someone approved, whatever the limits.
  const approval = approvalOf(campaign);
  if (approval.required && approval.state !== 'approved') {
    if (approval.state === 'pending' && (campaign.status === 'running' || campaign.status === 'paused'))
      return { action: 'await-approval', status: campaign.status, hosts: [], waitSeconds };
    if (campaign.status === 'running' || campaign.status === 'paused')
      // A rejection moves the status with it; a record that says otherwise starts nothing either.
      return { action: 'end', status: 'rejected', statusReason: approval.reason, hosts: [], waitSeconds };
  }
  const plan = await planUnderPolicy(deps, record);
  const statusReason = plan.status === 'running' ? waitingReason(plan) : plan.statusReason;
  if (plan.status !== campaign.status || statusReason !== campaign.statusReason) {
    // Lost to an operator's move (pause, cancel): plan again from what they wrote.
    const moved = await deps.campaigns.setStatus(campaignId, campaign.status, plan.status, statusReason);
    if (!moved) return { action: 'wait', status: campaign.status, hosts: [], waitSeconds };
  }
  if (
    plan.status === 'completed' ||
    plan.status === 'cancelled' ||
    plan.status === 'halted' ||
    plan.status === 'rejected'
  )
    return { action: 'end', status: plan.status, statusReason: plan.statusReason, hosts: [], waitSeconds };
  const hosts: HostToStart[] = [];
  for (const { host } of plan.start.slice(0, MAX_HOSTS_PER_PASS)) {
    const started = await startHost(deps, record.startedBy, record.reason, record.level, campaignId, host);
    if (started !== undefined) hosts.push(started);
  }
  return {
    action: hosts.length > 0 ? 'start' : 'wait',
    status: plan.status,
    statusReason,
    hosts,
    waitSeconds:
      hosts.length === 0 && plan.status === 'running'
        ? idleWaitSeconds(plan, record.campaign.hosts, deps.clock.nowMs(), replanSeconds)
        : replanSeconds,
  };
}

/** Time rules hold a pool until a known instant; anything else (a slot, an alarm) may clear any moment. */
const TIME_RULES: ReadonlySet<string> = new Set(['window', 'blackout']);

/**
 * The wait before the next pass when nothing started: until the earliest instant a time rule lets a pool
 * go, within [replanSeconds, MAX_IDLE_WAIT_SECONDS], if every pool with a pending host is held by such a
 * rule; otherwise the replan interval (a slot may free up, an alarm may clear, an operator may resume).
 */
function idleWaitSeconds(
  plan: CampaignPlan,
  hosts: readonly CampaignHost[],
  nowMs: number,
  replanSeconds: number,
): number {
  const pendingPools = new Set(hosts.filter((h) => h.state === 'pending').map((h) => h.pool));
  const heldUntil = new Map<string, number>();
  for (const r of plan.refusals)
    if (r.verdict === 'wait-until' && TIME_RULES.has(r.rule))
      heldUntil.set(r.pool, Math.min(heldUntil.get(r.pool) ?? Infinity, r.untilMs));
  if (pendingPools.size === 0 || [...pendingPools].some((p) => !heldUntil.has(p))) return replanSeconds;
  const earliest = Math.min(...heldUntil.values());
  const seconds = Math.ceil((earliest - nowMs) / 1000);
  return Math.max(replanSeconds, Math.min(MAX_IDLE_WAIT_SECONDS, seconds));
}

/** How many times one pass may replan after learning hosts' cooldowns or skipping hosts in one. */
const MAX_REPLANS = 8;

/**
 * The plan with the policy gate judging each host: the facts gathered once (alarms only when a pool of
 * the campaign has blockers), each host about to start read from the registry for its last rejuvenation
 * (and judged again with it), and every host in cooldown skipped with the reason, which frees its slot
 * for the next host of the pool. Pool-wide refusals (window, blackout, blocker, approval) hold the pool's
 * hosts pending: they are not failures, and the campaign's status reason says what it waits for.
 */
async function planUnderPolicy(deps: CampaignStepDeps, record: CampaignRecord): Promise<CampaignPlan> {
  const nowMs = deps.clock.nowMs();
  const policy = deps.policy;
  if (policy === undefined)
    return planCampaign({
      campaign: record.campaign,
      decide: (host) => ({ verdict: 'allow', hostId: host.hostId, pool: host.pool, atMs: nowMs }),
    });
  const pending = record.campaign.hosts.filter((h) => h.state === 'pending');
  const alarmsInAlarm = await alarmsForPools(
    policy.gate,
    pending.map((h) => h.pool),
  );
  const facts = { alarmsInAlarm, approved: approvalOf(record.campaign).state === 'approved' };
  const lastRejuvenated = new Map<string, number | undefined>();
  let campaign = record.campaign;
  for (let pass = 0; ; pass++) {
    const plan = planCampaign({
      campaign,
      decide: (host) =>
        decide(
          {
            ...host,
            lastRejuvenatedAtMs: lastRejuvenated.has(host.hostId)
              ? lastRejuvenated.get(host.hostId)
              : host.lastRejuvenatedAtMs,
          },
          policyForPool(policy.gate.config, host.pool),
          nowMs,
          facts,
        ),
    });
    const unread = plan.start.filter((s) => !lastRejuvenated.has(s.host.hostId));
    for (const { host } of unread)
      lastRejuvenated.set(host.hostId, await registryLastRejuvenation(policy, host));
    const cooling = plan.refusals.filter((r) => r.verdict !== 'allow' && r.rule === 'cooldown');
    for (const refusal of cooling) {
      if (refusal.verdict === 'allow') continue;
      await deps.campaigns.setHostState(campaign.campaignId, refusal.hostId, 'pending', 'skipped', {
        outcome: `skipped: ${refusal.reason}`.slice(0, 1024),
      });
      campaign = withHostState(campaign, refusal.hostId, 'skipped');
    }
    if ((unread.length === 0 && cooling.length === 0) || pass >= MAX_REPLANS)
      // Out of replans: start only hosts whose cooldown was read (Admit judges every start again anyway).
      return { ...plan, start: plan.start.filter((s) => lastRejuvenated.has(s.host.hostId)) };
  }
}

/** The registry's end of the host's last rejuvenation, or the campaign's when the registry has none. */
async function registryLastRejuvenation(
  policy: CampaignPolicy,
  host: CampaignHost,
): Promise<number | undefined> {
  try {
    const registered = await policy.hosts.get(host.hostId);
    const ends = [registered.lastRejuvenatedAt, host.lastRejuvenatedAtMs]
      .map((at) => (typeof at === 'string' ? Date.parse(at) : at))
      .filter((at): at is number => at !== undefined);
    return ends.length === 0 ? undefined : Math.max(...ends);
  } catch (error) {
    // Deregistered since the campaign started: Admit refuses it, and the campaign counts that.
    if (error instanceof HostNotFoundError) return host.lastRejuvenatedAtMs;
    throw error;
  }
}

/** What a running campaign waits for, pool by pool, in words an operator reads; undefined when nothing. */
export function waitingReason(plan: CampaignPlan): string | undefined {
  const reasons = plan.refusals
    .filter((r) => r.verdict !== 'allow' && POOL_WIDE_RULES.has(r.rule))
    .map((r) => {
      if (r.verdict === 'allow') return '';
      if (r.verdict === 'deny') return `blocked: ${r.reason}`;
      const at = new Date(r.untilMs).toISOString();
      return r.rule === 'window'
        ? `waiting: pool ${r.pool}'s window opens at ${at}`
        : `waiting until ${at}: ${r.reason}`;
    });
  return reasons.length === 0 ? undefined : reasons.join('; ').slice(0, 1024);
}

async function startHost(
  deps: CampaignStepDeps,
  principal: string,
  reason: string,
  level: RejuvenationRequest['level'],
  campaignId: string,
  host: CampaignHost,
): Promise<HostToStart | undefined> {
  const executionName = campaignExecutionName(campaignId, host.hostId);
  const request: RejuvenationRequest = {
    hostId: host.hostId,
    trigger: 'campaign',
    principal,
    reason: `campaign ${campaignId}: ${reason}`.slice(0, 1024),
    level,
    dryRun: false,
    allowSilentGuests: false,
  };
  // Claim before marking: a plan that dies between the two leaves a claim and a pending host, and the
  // retried plan claims the same name with the same digest and goes on.
  const claim = await deps.idempotency.claim(
    { executionName, requestDigest: requestDigest(request) },
    deps.dedupeTtlSeconds,
  );
  if (!claim.claimed && claim.existing.requestDigest !== requestDigest(request)) return undefined;
  const marked = await deps.campaigns.setHostState(campaignId, host.hostId, 'pending', 'running', {
    executionName,
  });
  return marked ? { hostId: host.hostId, executionName, request } : undefined;
}

const RecordInputSchema = z.strictObject({
  campaignId: CampaignIdSchema,
  hostId: z.string().min(1).max(63),
  /** The child execution's description when it succeeded. */
  result: z.looseObject({ Status: z.string() }).optional(),
  /** The Catch's error when it did not: `Cause` is the child's description as JSON. */
  error: z.looseObject({ Error: z.string(), Cause: z.string().optional() }).optional(),
});

export interface RecordedOutcome {
  readonly hostId: string;
  readonly state: 'done' | 'failed' | 'skipped';
  readonly outcome?: string | undefined;
}

/** A host's execution ended: done when it succeeded, failed (with the child's error) otherwise. */
export async function recordCampaignHost(deps: CampaignStepDeps, input: unknown): Promise<RecordedOutcome> {
  const parsed = parseWith(RecordInputSchema, 'campaign record input', input);
  const succeeded = parsed.error === undefined && parsed.result?.Status === 'SUCCEEDED';
  const policyRefusal = succeeded ? undefined : refusedByPolicy(parsed.error);
  const outcome = succeeded ? undefined : (policyRefusal ?? childError(parsed.error));
  // Refused by the policy at Admit (a blocker raised between the plan and the start): nothing was done
  // to the host, so it is no failure of the campaign's to count.
  const state = succeeded ? 'done' : policyRefusal !== undefined ? 'skipped' : 'failed';
  await deps.campaigns.setHostState(parsed.campaignId, parsed.hostId, 'running', state, {
    endedAtMs: deps.clock.nowMs(),
    ...(outcome === undefined ? {} : { outcome }),
  });
  return { hostId: parsed.hostId, state, outcome };
}

/** The child's refusal reason when the policy gate refused it at Admit. */
function refusedByPolicy(
  error: { Error: string; Cause?: string | undefined } | undefined,
): string | undefined {
  try {
    const cause = JSON.parse(error?.Cause ?? '') as { Error?: unknown; Cause?: unknown };
    const prefix = `${'PolicyRefusedError' satisfies PolicyRefusedError['name']}: `;
    if (cause.Error === 'Refused' && typeof cause.Cause === 'string' && cause.Cause.startsWith(prefix))
      return `skipped: ${cause.Cause.slice(prefix.length)}`.slice(0, 1024);
  } catch {
    // Not the child's description: the integration itself failed.
  }
  return undefined;
}

/** The child's own error (Quarantined, Refused, Recovered, …) out of the integration's States.TaskFailed. */
function childError(error: { Error: string; Cause?: string | undefined } | undefined): string {
  if (error === undefined) return 'unknown';
  try {
    const cause = JSON.parse(error.Cause ?? '') as { Error?: unknown; Status?: unknown };
    if (typeof cause.Error === 'string') return `${cause.Error} (${String(cause.Status)})`;
  } catch {
    // Not the child's description: the integration itself failed (refused, throttled).
  }
  return error.Error;
}
