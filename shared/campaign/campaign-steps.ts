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
import { approvalOf, type CampaignHost, type CampaignStatus } from './campaign.js';
import { planCampaign } from './plan-campaign.js';

export interface CampaignStepDeps {
  readonly campaigns: CampaignStore;
  readonly idempotency: Pick<IdempotencyStore, 'claim'>;
  readonly dedupeTtlSeconds: number;
  readonly clock: Clock;
}

/** The most hosts one pass starts: the inline Map that runs them stays small whatever the fleet. */
export const MAX_HOSTS_PER_PASS = 40;

export const CampaignIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/,
    'campaign id: 1-40 chars of A-Z a-z 0-9 _ -, starting alphanumeric',
  );

const PlanInputSchema = z.strictObject({ campaignId: CampaignIdSchema });

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
}

/** The execution a campaign starts for a host: the same name on every retry of the plan. */
export function campaignExecutionName(campaignId: string, hostId: string): string {
  const digest = createHash('sha256').update(`${campaignId}\n${hostId}`).digest('hex').slice(0, 16);
  return `cmp-${hostId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 56)}-${digest}`;
}

export async function planCampaignPass(deps: CampaignStepDeps, input: unknown): Promise<CampaignPassPlan> {
  const { campaignId } = parseWith(PlanInputSchema, 'campaign plan input', input);
  const record = await deps.campaigns.get(campaignId);
  const { campaign } = record;
  // Approval first: a pool that requires it starts no host before someone approved, whatever the limits.
  const approval = approvalOf(campaign);
  if (approval.required && approval.state !== 'approved') {
    if (approval.state === 'pending' && (campaign.status === 'running' || campaign.status === 'paused'))
      return { action: 'await-approval', status: campaign.status, hosts: [] };
    if (campaign.status === 'running' || campaign.status === 'paused')
      // A rejection moves the status with it; a record that says otherwise starts nothing either.
      return { action: 'end', status: 'rejected', statusReason: approval.reason, hosts: [] };
  }
  // The policy gate is not configured in the stack yet: every host the limits let through may start.
  const nowMs = deps.clock.nowMs();
  const plan = planCampaign({
    campaign,
    decide: (host) => ({ verdict: 'allow', hostId: host.hostId, pool: host.pool, atMs: nowMs }),
  });
  if (plan.status !== campaign.status) {
    // Lost to an operator's move (pause, cancel): plan again from what they wrote.
    const moved = await deps.campaigns.setStatus(campaignId, campaign.status, plan.status, plan.statusReason);
    if (!moved) return { action: 'wait', status: campaign.status, hosts: [] };
  }
  if (
    plan.status === 'completed' ||
    plan.status === 'cancelled' ||
    plan.status === 'halted' ||
    plan.status === 'rejected'
  )
    return { action: 'end', status: plan.status, statusReason: plan.statusReason, hosts: [] };
  const hosts: HostToStart[] = [];
  for (const { host } of plan.start.slice(0, MAX_HOSTS_PER_PASS)) {
    const started = await startHost(deps, record.startedBy, record.reason, record.level, campaignId, host);
    if (started !== undefined) hosts.push(started);
  }
  return {
    action: hosts.length > 0 ? 'start' : 'wait',
    status: plan.status,
    statusReason: plan.statusReason,
    hosts,
  };
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
  readonly state: 'done' | 'failed';
  readonly outcome?: string | undefined;
}

/** A host's execution ended: done when it succeeded, failed (with the child's error) otherwise. */
export async function recordCampaignHost(deps: CampaignStepDeps, input: unknown): Promise<RecordedOutcome> {
  const parsed = parseWith(RecordInputSchema, 'campaign record input', input);
  const succeeded = parsed.error === undefined && parsed.result?.Status === 'SUCCEEDED';
  const outcome = succeeded ? undefined : childError(parsed.error);
  await deps.campaigns.setHostState(
    parsed.campaignId,
    parsed.hostId,
    'running',
    succeeded ? 'done' : 'failed',
    {
      endedAtMs: deps.clock.nowMs(),
      ...(outcome === undefined ? {} : { outcome }),
    },
  );
  return { hostId: parsed.hostId, state: succeeded ? 'done' : 'failed', outcome };
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
